//! The user login stage: signs the pending user in by starting a browser
//! session, optionally remembered across browser restarts.

use serde::{Deserialize, Serialize};

use super::{Effect, StageEnv, StageOutcome, StageStep};
use crate::event::{AuditContext, Event, Outcome};
use crate::flow::FlowError;
use crate::flow::context::FlowContext;
use crate::session::SessionOrigin;
use crate::store;

/// Settings of a user login stage.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserLoginConfig {
    /// Session length in seconds when not remembered.
    #[serde(default = "default_session")]
    pub session_seconds: i64,
    /// Session length in seconds when the user asked to be remembered
    /// (a prompt checkbox named `remember_me`).
    #[serde(default = "default_remember")]
    pub remember_seconds: i64,
}

impl Default for UserLoginConfig {
    fn default() -> Self {
        UserLoginConfig {
            session_seconds: default_session(),
            remember_seconds: default_remember(),
        }
    }
}

fn default_session() -> i64 {
    8 * 60 * 60
}
fn default_remember() -> i64 {
    30 * 24 * 60 * 60
}

pub(super) async fn show(
    config: &UserLoginConfig,
    env: &StageEnv<'_>,
    context: &mut FlowContext,
) -> Result<StageStep, FlowError> {
    let Some(user) = context.pending_user_id() else {
        return Ok(StageStep::Done(StageOutcome::Deny(
            "There is no account to sign in.".to_owned(),
        )));
    };
    let remember = context.remember_me
        || context
            .prompt
            .get("remember_me")
            .is_some_and(|value| value.as_bool() == Some(true));
    let seconds = if remember {
        config.remember_seconds
    } else {
        config.session_seconds
    };
    let origin = SessionOrigin {
        client_ip: env.request.client_ip.map(|ip| ip.to_string()),
        user_agent: env.request.user_agent.clone(),
    };
    // A new sign-in replaces the browser's old session (no fixation).
    if let Some(old) = env.request.session {
        env.directory.end_session(old).await?;
    }
    let (session, secret) = env
        .directory
        .start_session(user, seconds * 1000, &origin)
        .await?;

    let audit = AuditContext {
        actor: format!("user:{user}"),
        client_ip: origin.client_ip.clone(),
    };
    let event = Event::new(
        &audit,
        env.directory.clock().now(),
        "login.success",
        Outcome::Success,
    )
    .target("user", user)
    .detail("flow", env.flow)
    .detail("methods", context.methods.clone())
    .detail("session", session.id.to_string());
    let mut tx = env.directory.store().begin().await?;
    store::events::insert(tx.conn(), &event).await?;
    tx.commit().await?;

    let max_age = remember.then_some(seconds);
    Ok(StageStep::Done(StageOutcome::Continue(vec![
        Effect::StartSession { secret, max_age },
    ])))
}
