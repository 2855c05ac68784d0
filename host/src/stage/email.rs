//! The email stage: sends a one-time link to the pending user's address and
//! waits until it is opened, in this browser or another. Used to verify an
//! address and to prove ownership before a password reset. For an unknown
//! user nothing is sent, but the page reads the same, so the stage does not
//! reveal which accounts exist.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{StageEnv, StageOutcome, StageStep};
use crate::api::UpdateUser;
use crate::event::{AuditContext, Event, Outcome};
use crate::flow::FlowError;
use crate::flow::challenge::{Answer, Challenge, FieldError, Message};
use crate::flow::context::FlowContext;
use crate::store;
use crate::token::secret_hash;

/// Settings of an email stage.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailConfig {
    /// Subject line.
    #[serde(default = "default_subject")]
    pub subject: String,
    /// First paragraph of the message, before the link.
    #[serde(default = "default_intro")]
    pub intro: String,
    /// Minutes the link stays valid.
    #[serde(default = "default_minutes")]
    pub link_minutes: i64,
    /// Mark the address verified when the link is opened.
    #[serde(default = "default_true")]
    pub verify_address: bool,
}

fn default_subject() -> String {
    "Your sign-in link".to_owned()
}
fn default_intro() -> String {
    "Open this link to continue:".to_owned()
}
fn default_minutes() -> i64 {
    30
}
fn default_true() -> bool {
    true
}

pub(super) async fn show(
    config: &EmailConfig,
    env: &StageEnv<'_>,
    context: &mut FlowContext,
) -> Result<StageStep, FlowError> {
    let state = context.stage_state(env.binding).clone();
    if state.get("confirmed").and_then(Value::as_bool) == Some(true) {
        confirmed(config, env, context).await?;
        return Ok(StageStep::Done(StageOutcome::next()));
    }
    if state.get("sent").and_then(Value::as_bool) != Some(true) {
        send(config, env, context).await?;
        context.set_stage_state(env.binding, json!({ "sent": true }));
    }
    Ok(StageStep::Show(waiting()))
}

pub(super) async fn answer(
    _config: &EmailConfig,
    _env: &StageEnv<'_>,
    _context: &mut FlowContext,
    _answer: &Answer,
) -> Result<StageOutcome, FlowError> {
    Ok(StageOutcome::Retry(vec![FieldError::form(
        "Open the link in the email we sent to continue.",
    )]))
}

fn waiting() -> Challenge {
    Challenge {
        component: "email".to_owned(),
        title: "Check your email".to_owned(),
        messages: vec![Message::info(
            "If an account with this name exists, we sent it an email with a link. \
             Open the link to continue; you can close this page.",
        )],
        submit: Some("I opened the link".to_owned()),
        ..Challenge::default()
    }
}

async fn send(
    config: &EmailConfig,
    env: &StageEnv<'_>,
    context: &FlowContext,
) -> Result<(), FlowError> {
    let Some(user_id) = context.pending_user_id() else {
        return Ok(());
    };
    let user = env.directory.user(user_id).await?;
    let Some(address) = user.email.clone() else {
        tracing::info!(user = %user.id, "email stage: the user has no address; nothing sent");
        return Ok(());
    };
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let link = URL_SAFE_NO_PAD.encode(bytes);
    let now = env.directory.clock().now();
    let mut tx = env.directory.store().begin().await?;
    store::executions::insert_token(
        tx.conn(),
        env.execution,
        &secret_hash(&link),
        now,
        now + config.link_minutes * 60_000,
    )
    .await?;
    tx.commit().await?;

    let url = format!("{}/if/flow/resume/{link}", env.public_url);
    let body = format!(
        "Hello {},\n\n{}\n\n{url}\n\nThe link works once, for {} minutes. If you did not ask for it, \
         ignore this email.\n",
        if user.display_name.is_empty() {
            &user.username
        } else {
            &user.display_name
        },
        config.intro,
        config.link_minutes
    );
    env.mailer
        .send(&address, &config.subject, body)
        .await
        .map_err(|error| FlowError::Mail(error.to_string()))?;
    let audit = AuditContext {
        actor: format!("user:{}", user.id),
        client_ip: env.request.client_ip.map(|ip| ip.to_string()),
    };
    let event = Event::new(&audit, now, "email.link_sent", Outcome::Success)
        .target("user", user.id)
        .detail("flow", env.flow);
    let mut tx = env.directory.store().begin().await?;
    store::events::insert(tx.conn(), &event).await?;
    tx.commit().await?;
    Ok(())
}

async fn confirmed(
    config: &EmailConfig,
    env: &StageEnv<'_>,
    context: &mut FlowContext,
) -> Result<(), FlowError> {
    context.methods.push("email".to_owned());
    let Some(user_id) = context.pending_user_id() else {
        return Ok(());
    };
    if config.verify_address {
        let user = env.directory.user(user_id).await?;
        if !user.email_verified {
            let audit = AuditContext {
                actor: format!("user:{user_id}"),
                client_ip: env.request.client_ip.map(|ip| ip.to_string()),
            };
            let update = UpdateUser {
                email_verified: Some(true),
                ..UpdateUser::default()
            };
            env.directory.update_user(&audit, user_id, update).await?;
        }
    }
    Ok(())
}
