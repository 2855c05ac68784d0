//! The consent stage: asks a user to let an application use their account,
//! always, once, or until a consent expires. Without an application in the
//! flow there is nothing to consent to and the stage passes.

use serde::{Deserialize, Serialize};

use super::{StageEnv, StageOutcome, StageStep};
use crate::event::{AuditContext, Event, Outcome};
use crate::flow::FlowError;
use crate::flow::challenge::{Answer, Challenge, FieldError, Message};
use crate::flow::context::FlowContext;
use crate::store;

/// How long a consent lasts.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case", tag = "mode")]
pub enum ConsentMode {
    /// Ask every time.
    Always,
    /// Ask once per user and application.
    #[default]
    Once,
    /// Ask again after this many seconds.
    Expiring {
        /// Lifetime of a consent.
        seconds: i64,
    },
}

/// Settings of a consent stage.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentConfig {
    /// How long a consent lasts.
    #[serde(default, flatten)]
    pub mode: ConsentMode,
}

pub(super) async fn show(
    config: &ConsentConfig,
    env: &StageEnv<'_>,
    context: &mut FlowContext,
) -> Result<StageStep, FlowError> {
    let (Some(application), Some(user)) = (
        context.application.clone(),
        context.pending_user_id().or(env.request.user),
    ) else {
        return Ok(StageStep::Done(StageOutcome::next()));
    };
    if config.mode != ConsentMode::Always {
        let now = env.directory.clock().now();
        let mut conn = env.directory.store().conn().await?;
        if store::consents::is_given(&mut conn, user, &application, now).await? {
            return Ok(StageStep::Done(StageOutcome::next()));
        }
    }
    Ok(StageStep::Show(Challenge {
        component: "consent".to_owned(),
        title: format!("Allow {application}?"),
        messages: vec![Message::info(format!(
            "{application} asks to use your account. Continue only if you trust it."
        ))],
        submit: Some("Allow".to_owned()),
        ..Challenge::default()
    }))
}

pub(super) async fn answer(
    config: &ConsentConfig,
    env: &StageEnv<'_>,
    context: &mut FlowContext,
    _answer: &Answer,
) -> Result<StageOutcome, FlowError> {
    let (Some(application), Some(user)) = (
        context.application.clone(),
        context.pending_user_id().or(env.request.user),
    ) else {
        return Ok(StageOutcome::Retry(vec![FieldError::form(
            "Nothing to consent to.",
        )]));
    };
    let now = env.directory.clock().now();
    let expires_at = match config.mode {
        ConsentMode::Always => return Ok(StageOutcome::next()),
        ConsentMode::Once => None,
        ConsentMode::Expiring { seconds } => Some(now + seconds * 1000),
    };
    let audit = AuditContext {
        actor: format!("user:{user}"),
        client_ip: env.request.client_ip.map(|ip| ip.to_string()),
    };
    let event = Event::new(&audit, now, "consent.given", Outcome::Success)
        .target("user", user)
        .detail("application", application.clone());
    let mut tx = env.directory.store().begin().await?;
    store::consents::give(tx.conn(), user, &application, now, expires_at).await?;
    store::events::insert(tx.conn(), &event).await?;
    tx.commit().await?;
    Ok(StageOutcome::next())
}
