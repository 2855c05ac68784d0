//! The redirect stage: ends the flow by sending the browser to a local path
//! or another flow.

use serde::{Deserialize, Serialize};

use super::{StageEnv, StageOutcome, StageStep};
use crate::flow::FlowError;
use crate::flow::context::FlowContext;

/// Settings of a redirect stage.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RedirectConfig {
    /// A local path (`/if/user/`) or `flow:<slug>` to start another flow.
    pub to: String,
}

pub(super) async fn show(
    config: &RedirectConfig,
    _env: &StageEnv<'_>,
    _context: &mut FlowContext,
) -> Result<StageStep, FlowError> {
    let target = match config.to.strip_prefix("flow:") {
        Some(slug) => format!("/if/flow/{slug}/"),
        None => config.to.clone(),
    };
    if !crate::flow::is_local_path(&target) {
        return Err(FlowError::Misconfigured(format!(
            "redirect target {:?} is not a local path",
            config.to
        )));
    }
    Ok(StageStep::Done(StageOutcome::Redirect(target)))
}
