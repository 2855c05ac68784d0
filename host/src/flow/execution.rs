//! A flow execution: one run of a flow in one browser, stored server-side
//! so it survives a restart and a hop to another replica, and bound to the
//! browser's flow cookie so that nobody else can continue it.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::context::FlowContext;

/// How long an execution lives after its last step.
pub const LIFETIME_MS: i64 = 30 * 60 * 1000;

/// One stage kept in the plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedStage {
    /// The flow binding.
    pub binding: Uuid,
    /// Check the binding's policies again just before the stage shows.
    pub check_before_show: bool,
}

/// The stored state of an execution.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ExecutionState {
    /// The flow's id when it was planned.
    pub flow: Uuid,
    /// The stages to run, in order.
    pub plan: Vec<PlannedStage>,
    /// Index of the current stage in `plan`.
    pub position: usize,
    /// What the flow knows so far.
    pub context: FlowContext,
}

/// An execution as loaded from the store.
#[derive(Clone, Debug)]
pub struct Execution {
    /// Stable id.
    pub id: Uuid,
    /// The flow's slug.
    pub slug: String,
    /// Plan, position and context.
    pub state: ExecutionState,
    /// Rises with every accepted step; an answer must name the current one.
    pub version: i64,
}
