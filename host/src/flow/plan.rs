//! Planning: when a flow starts, check who may start it and its policies,
//! then keep the bindings whose policies pass, deferring the check of those
//! that ask for it to just before their stage shows.

use super::context::FlowRequest;
use super::execution::PlannedStage;
use super::{Access, Flow, FlowError};
use crate::identity::Directory;
use crate::policy::{self, PolicyDecision, PolicyRequest};
use crate::store;

/// A plan, or why there is none.
#[derive(Debug)]
pub enum Planned {
    /// The stages to run.
    Plan(Vec<PlannedStage>),
    /// The flow's policies deny the request.
    Denied {
        /// For the user.
        messages: Vec<String>,
        /// For the audit log.
        decisions: Vec<PolicyDecision>,
    },
}

/// Plans `flow` for `request`.
///
/// # Errors
/// The caller may not start this flow, or the store failed.
pub async fn plan(
    directory: &Directory,
    flow: &Flow,
    request: &FlowRequest,
) -> Result<Planned, FlowError> {
    match (flow.access, request.user) {
        (Access::SignedIn, None) => return Err(FlowError::NotAllowed("sign in first")),
        (Access::SignedOut, Some(_)) => {
            return Err(FlowError::NotAllowed("you are signed in already"));
        }
        _ => {}
    }
    let user = match request.user {
        Some(id) => Some(directory.user(id).await?),
        None => None,
    };
    let policy_request = PolicyRequest {
        user,
        client_ip: request.client_ip,
        flow: flow.slug.clone(),
        prompt: serde_json::Map::new(),
    };

    let mut conn = directory.store().conn().await?;
    let flow_policies = store::flows::policy_bindings(&mut conn, "flow", flow.id).await?;
    drop(conn);
    let verdict =
        policy::evaluate(directory, &flow_policies, flow.policy_mode, &policy_request).await;
    if !verdict.passed {
        return Ok(Planned::Denied {
            messages: verdict.messages,
            decisions: verdict.decisions,
        });
    }

    let mut plan = Vec::with_capacity(flow.bindings.len());
    for binding in &flow.bindings {
        if binding.evaluate_on_plan {
            let mut conn = directory.store().conn().await?;
            let policies = store::flows::policy_bindings(&mut conn, "binding", binding.id).await?;
            drop(conn);
            let verdict =
                policy::evaluate(directory, &policies, binding.policy_mode, &policy_request).await;
            if !verdict.passed {
                tracing::debug!(binding = %binding.id, stage = %binding.stage.name, "stage left out of the plan");
                continue;
            }
        }
        plan.push(PlannedStage {
            binding: binding.id,
            check_before_show: binding.re_evaluate || !binding.evaluate_on_plan,
        });
    }
    Ok(Planned::Plan(plan))
}
