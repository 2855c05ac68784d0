//! The identification stage: asks for a username or email and makes the
//! user it names the flow's pending user. By default it never reveals
//! whether an account exists: an unknown name goes on to the next stage as
//! if it were known, and fails there like a wrong password.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{StageEnv, StageOutcome, StageStep};
use crate::flow::FlowError;
use crate::flow::challenge::{Answer, Challenge, Field, FieldError, FieldKind, Link};
use crate::flow::context::FlowContext;
use crate::identity::user::lookup_key;
use crate::store;

/// What users may identify with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Identifier {
    /// The username.
    Username,
    /// The email address.
    Email,
}

/// Settings of an identification stage.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IdentificationConfig {
    /// Heading of the page.
    #[serde(default = "default_title")]
    pub title: String,
    /// Accepted identifiers; both by default.
    #[serde(default = "default_identifiers")]
    pub identifiers: Vec<Identifier>,
    /// Say "no such user" for unknown names (reveals which accounts exist).
    #[serde(default)]
    pub reveal_unknown_users: bool,
    /// Slug of an enrollment flow to link to ("Sign up").
    #[serde(default)]
    pub enrollment_flow: Option<String>,
    /// Slug of a recovery flow to link to ("Forgot password?").
    #[serde(default)]
    pub recovery_flow: Option<String>,
}

fn default_title() -> String {
    "Sign in".to_owned()
}

fn default_identifiers() -> Vec<Identifier> {
    vec![Identifier::Username, Identifier::Email]
}

/// The answer field.
pub const FIELD: &str = "identifier";

pub(super) async fn show(
    config: &IdentificationConfig,
    _env: &StageEnv<'_>,
    context: &mut FlowContext,
) -> Result<StageStep, FlowError> {
    let label = match config.identifiers.as_slice() {
        [Identifier::Username] => "Username",
        [Identifier::Email] => "Email",
        _ => "Username or email",
    };
    let mut links = Vec::new();
    if let Some(flow) = &config.recovery_flow {
        links.push(Link {
            label: "Forgot your password?".to_owned(),
            href: format!("/if/flow/{flow}/"),
        });
    }
    if let Some(flow) = &config.enrollment_flow {
        links.push(Link {
            label: "Create an account".to_owned(),
            href: format!("/if/flow/{flow}/"),
        });
    }
    let field = Field {
        name: FIELD.to_owned(),
        label: label.to_owned(),
        kind: FieldKind::Username,
        required: true,
        autocomplete: Some("username".to_owned()),
        value: context
            .prompt
            .get(FIELD)
            .and_then(|value| value.as_str())
            .map(str::to_owned),
        ..Field::default()
    };
    Ok(StageStep::Show(Challenge {
        component: "identification".to_owned(),
        title: config.title.clone(),
        fields: vec![field],
        submit: Some("Continue".to_owned()),
        links,
        ..Challenge::default()
    }))
}

pub(super) async fn answer(
    config: &IdentificationConfig,
    env: &StageEnv<'_>,
    context: &mut FlowContext,
    answer: &Answer,
) -> Result<StageOutcome, FlowError> {
    let identifier = answer
        .text(FIELD)
        .map(|text| text.trim().to_owned())
        .unwrap_or_default();
    if identifier.is_empty() {
        return Ok(StageOutcome::Retry(vec![FieldError::on(
            FIELD,
            "Enter your username or email.",
        )]));
    }
    if identifier.chars().count() > 254 {
        return Ok(StageOutcome::Retry(vec![FieldError::on(
            FIELD,
            "This is too long.",
        )]));
    }
    let key = lookup_key(&identifier);
    let mut conn = env.directory.store().conn().await?;
    let mut found = None;
    if config.identifiers.contains(&Identifier::Username) {
        found = store::users::find_by_username(&mut conn, &key).await?;
    }
    if found.is_none() && config.identifiers.contains(&Identifier::Email) {
        found = store::users::find_with_hash(&mut conn, &key)
            .await?
            .map(|(user, _)| user)
            .filter(|user| user.email.as_deref().map(lookup_key) == Some(key.clone()));
    }
    let found = found.filter(|user| user.active);
    if found.is_none() && config.reveal_unknown_users {
        return Ok(StageOutcome::Retry(vec![FieldError::on(
            FIELD,
            "No account has this name.",
        )]));
    }
    context.pending_user = found.map(|user| user.id.0);
    context.prompt.insert(FIELD.to_owned(), json!(identifier));
    Ok(StageOutcome::next())
}
