//! The password stage: checks the pending user's password. Failed attempts
//! count against the user and the client address; past a limit the stage
//! refuses to check for a while, and says so without revealing whether the
//! account exists. Every failure and lock-out is an audit event.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{StageEnv, StageOutcome, StageStep};
use crate::event::{AuditContext, Event, Outcome};
use crate::flow::FlowError;
use crate::flow::challenge::{Answer, Challenge, Field, FieldError, FieldKind};
use crate::flow::context::FlowContext;
use crate::store;

/// Settings of a password stage.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordConfig {
    /// Failed attempts per account within 15 minutes before checks pause.
    #[serde(default = "default_user_limit")]
    pub max_failures_per_user: i64,
    /// Failed attempts per client address within 15 minutes before checks
    /// pause.
    #[serde(default = "default_ip_limit")]
    pub max_failures_per_ip: i64,
    /// Show a "Stay signed in" box; when ticked, the user login stage
    /// makes the session outlive the browser.
    #[serde(default)]
    pub offer_remember_me: bool,
}

impl Default for PasswordConfig {
    fn default() -> Self {
        PasswordConfig {
            max_failures_per_user: default_user_limit(),
            max_failures_per_ip: default_ip_limit(),
            offer_remember_me: false,
        }
    }
}

fn default_user_limit() -> i64 {
    5
}
fn default_ip_limit() -> i64 {
    20
}

/// The answer field.
pub const FIELD: &str = "password";
/// The "stay signed in" checkbox.
pub const REMEMBER: &str = "remember_me";

const WRONG: &str = "Invalid username or password.";
const LOCKED: &str = "Too many failed attempts. Wait 15 minutes and try again.";

pub(super) async fn show(
    config: &PasswordConfig,
    _env: &StageEnv<'_>,
    context: &mut FlowContext,
) -> Result<StageStep, FlowError> {
    // A hidden username lets password managers pair the two fields.
    let identifier = context
        .prompt
        .get(super::identification::FIELD)
        .and_then(|v| v.as_str())
        .map(str::to_owned);
    let mut fields = Vec::new();
    if let Some(identifier) = identifier {
        fields.push(Field {
            name: "username".to_owned(),
            label: "Username".to_owned(),
            kind: FieldKind::Hidden,
            autocomplete: Some("username".to_owned()),
            value: Some(identifier),
            ..Field::default()
        });
    }
    fields.push(Field {
        name: FIELD.to_owned(),
        label: "Password".to_owned(),
        kind: FieldKind::Password,
        required: true,
        autocomplete: Some("current-password".to_owned()),
        ..Field::default()
    });
    if config.offer_remember_me {
        fields.push(Field {
            name: REMEMBER.to_owned(),
            label: "Stay signed in on this device".to_owned(),
            kind: FieldKind::Checkbox,
            ..Field::default()
        });
    }
    Ok(StageStep::Show(Challenge {
        component: "password".to_owned(),
        title: "Enter your password".to_owned(),
        fields,
        submit: Some("Sign in".to_owned()),
        ..Challenge::default()
    }))
}

pub(super) async fn answer(
    config: &PasswordConfig,
    env: &StageEnv<'_>,
    context: &mut FlowContext,
    answer: &Answer,
) -> Result<StageOutcome, FlowError> {
    let password = answer.text(FIELD).unwrap_or_default();
    if password.is_empty() {
        return Ok(StageOutcome::Retry(vec![FieldError::on(
            FIELD,
            "Enter your password.",
        )]));
    }
    let directory = env.directory;
    let now = directory.clock().now();
    // An unknown name is scored like an account, under its lookup key, so
    // that a lock-out cannot tell existing accounts from unknown ones.
    let user_key = match (context.pending_user, identifier(context)) {
        (Some(id), _) => Some(id.to_string()),
        (None, Some(name)) => Some(format!(
            "unknown:{}",
            crate::identity::user::lookup_key(&name)
        )),
        (None, None) => None,
    };
    let ip_key = env.request.client_ip.map(|ip| ip.to_string());
    let audit = AuditContext {
        actor: context
            .pending_user
            .map_or_else(|| "anonymous".to_owned(), |id| format!("user:{id}")),
        client_ip: ip_key.clone(),
    };

    // Each attempt is counted before the password is checked, atomically,
    // so parallel guesses cannot all pass the limit at once; a correct
    // password takes its count back.
    let mut tx = directory.store().begin().await?;
    let user_score = match &user_key {
        Some(key) => store::reputation::record_attempt(tx.conn(), "user", key, now).await?,
        None => 0,
    };
    let ip_score = match &ip_key {
        Some(key) => store::reputation::record_attempt(tx.conn(), "ip", key, now).await?,
        None => 0,
    };
    tx.commit().await?;
    if user_score > config.max_failures_per_user || ip_score > config.max_failures_per_ip {
        let reason = if user_score > config.max_failures_per_user {
            "user_limit"
        } else {
            "ip_limit"
        };
        record(
            env,
            &audit,
            context,
            "login.password",
            Outcome::Denied,
            reason,
        )
        .await?;
        return Ok(StageOutcome::Retry(vec![FieldError::form(LOCKED)]));
    }

    let verified = match context.pending_user_id() {
        Some(user) => directory.verify_password(user, &password).await?,
        None => {
            directory.verify_unknown_password(&password).await?;
            false
        }
    };
    if !verified {
        record(
            env,
            &audit,
            context,
            "login.password",
            Outcome::Failure,
            "wrong_password",
        )
        .await?;
        return Ok(StageOutcome::Retry(vec![FieldError::on(FIELD, WRONG)]));
    }
    let mut tx = directory.store().begin().await?;
    if let Some(key) = &user_key {
        store::reputation::clear(tx.conn(), "user", key).await?;
    }
    if let Some(key) = &ip_key {
        store::reputation::release_attempt(tx.conn(), "ip", key).await?;
    }
    tx.commit().await?;
    context.methods.push("password".to_owned());
    context.remember_me = config.offer_remember_me && answer.flag(REMEMBER);
    Ok(StageOutcome::next())
}

fn identifier(context: &FlowContext) -> Option<String> {
    context
        .prompt
        .get(super::identification::FIELD)
        .and_then(|value| value.as_str())
        .map(str::to_owned)
}

async fn record(
    env: &StageEnv<'_>,
    audit: &AuditContext,
    context: &FlowContext,
    action: &str,
    outcome: Outcome,
    reason: &str,
) -> Result<(), FlowError> {
    let directory = env.directory;
    let mut event = Event::new(audit, directory.clock().now(), action, outcome)
        .detail("flow", env.flow)
        .detail("reason", reason);
    if let Some(user) = context.pending_user {
        event = event.target("user", user);
    }
    event = event.detail("execution", json!(env.execution.to_string()));
    let mut tx = directory.store().begin().await?;
    store::events::insert(tx.conn(), &event).await?;
    tx.commit().await?;
    Ok(())
}
