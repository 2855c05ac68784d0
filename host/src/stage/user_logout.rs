//! The user logout stage: ends the browser's session.

use serde::{Deserialize, Serialize};

use super::{Effect, StageEnv, StageOutcome, StageStep};
use crate::event::{AuditContext, Event, Outcome};
use crate::flow::FlowError;
use crate::flow::context::FlowContext;
use crate::store;

/// Settings of a user logout stage (none yet).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserLogoutConfig {}

pub(super) async fn show(
    _config: &UserLogoutConfig,
    env: &StageEnv<'_>,
    _context: &mut FlowContext,
) -> Result<StageStep, FlowError> {
    if let Some(session) = env.request.session {
        env.directory.end_session(session).await?;
        let actor = env
            .request
            .user
            .map_or_else(|| "anonymous".to_owned(), |user| format!("user:{user}"));
        let audit = AuditContext {
            actor,
            client_ip: env.request.client_ip.map(|ip| ip.to_string()),
        };
        let mut event = Event::new(
            &audit,
            env.directory.clock().now(),
            "logout",
            Outcome::Success,
        )
        .detail("session", session.to_string());
        if let Some(user) = env.request.user {
            event = event.target("user", user);
        }
        let mut tx = env.directory.store().begin().await?;
        store::events::insert(tx.conn(), &event).await?;
        tx.commit().await?;
    }
    Ok(StageStep::Done(StageOutcome::Continue(vec![
        Effect::EndSession,
    ])))
}
