//! The deny stage: stops the flow with a message.

use serde::{Deserialize, Serialize};

use super::{StageEnv, StageOutcome, StageStep};
use crate::flow::FlowError;
use crate::flow::context::FlowContext;

/// Settings of a deny stage.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DenyConfig {
    /// Message shown.
    #[serde(default = "default_message")]
    pub message: String,
}

fn default_message() -> String {
    "Access denied.".to_owned()
}

pub(super) async fn show(
    config: &DenyConfig,
    _env: &StageEnv<'_>,
    _context: &mut FlowContext,
) -> Result<StageStep, FlowError> {
    Ok(StageStep::Done(StageOutcome::Deny(config.message.clone())))
}
