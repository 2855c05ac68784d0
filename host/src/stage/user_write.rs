//! The user write stage: creates the pending user from the prompt answers
//! (enrollment) or updates them (recovery sets a new password). A taken
//! username or email sends the user back to the prompt with the error.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{StageEnv, StageOutcome, StageStep};
use crate::api::{CreateUser, UpdateUser};
use crate::event::AuditContext;
use crate::flow::FlowError;
use crate::flow::challenge::FieldError;
use crate::flow::context::FlowContext;
use crate::identity::IdentityError;
use crate::identity::user::UserType;
use crate::store::Taken;

/// Whether the stage may create users.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum WriteMode {
    /// Create a user when there is no pending user, else update it.
    #[default]
    CreateOrUpdate,
    /// Always create; fail if a user is pending.
    Create,
    /// Only update the pending user.
    Update,
}

/// Settings of a user write stage.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserWriteConfig {
    /// Create, update or either.
    #[serde(default)]
    pub mode: WriteMode,
    /// Type of created users.
    #[serde(default)]
    pub user_type: Option<UserType>,
    /// Groups (by name) new users join.
    #[serde(default)]
    pub groups: Vec<String>,
}

/// Prompt names with a meaning of their own; other answers become
/// attributes.
const RESERVED: &[&str] = &[
    "username",
    "email",
    "name",
    "password",
    "identifier",
    "remember_me",
];

pub(super) async fn show(
    config: &UserWriteConfig,
    env: &StageEnv<'_>,
    context: &mut FlowContext,
) -> Result<StageStep, FlowError> {
    let actor = match context.pending_user {
        Some(user) => format!("user:{user}"),
        None => "enrollment".to_owned(),
    };
    let audit = AuditContext {
        actor,
        client_ip: env.request.client_ip.map(|ip| ip.to_string()),
    };
    let prompt = context.prompt.clone();
    let text = |name: &str| prompt.get(name).and_then(Value::as_str).map(str::to_owned);
    let password = text("password").map(secrecy::SecretString::from);

    let result = match (config.mode, context.pending_user_id()) {
        (WriteMode::Update, None) => {
            return Ok(StageStep::Done(StageOutcome::Deny(
                "There is no account to update.".to_owned(),
            )));
        }
        (WriteMode::Create, Some(_)) => {
            return Ok(StageStep::Done(StageOutcome::Deny(
                "You have an account already.".to_owned(),
            )));
        }
        (_, Some(user)) => {
            let update = UpdateUser {
                email: text("email").map(Some),
                display_name: text("name"),
                password,
                attributes: attributes(&prompt, env, user).await?,
                ..UpdateUser::default()
            };
            env.directory.update_user(&audit, user, update).await
        }
        (_, None) => {
            let Some(username) = text("username") else {
                return Err(FlowError::Misconfigured(
                    "user write needs a username prompt".to_owned(),
                ));
            };
            let input = CreateUser {
                email: text("email"),
                display_name: text("name"),
                user_type: config.user_type,
                attributes: Some(extra(&prompt)),
                password,
                ..CreateUser::named(&username)
            };
            env.directory.create_user(&audit, input).await
        }
    };
    // The password is stored now, or the prompt asks for it again: either
    // way the flow forgets it, so it never rests in the saved execution.
    context.prompt.remove("password");
    context.prompt.retain(|name, _| !name.ends_with("_confirm"));
    let user = match result {
        Ok(user) => user,
        Err(IdentityError::Conflict(taken)) => {
            let field = match taken {
                Taken::Email => "email",
                _ => "username",
            };
            let message = IdentityError::Conflict(taken).to_string();
            let message = message
                .split_once(": ")
                .map_or(message.as_str(), |(_, text)| text)
                .to_owned();
            return Ok(StageStep::Done(StageOutcome::RetryPrevious(vec![
                FieldError::on(field, message),
            ])));
        }
        Err(IdentityError::Invalid { field, message }) => {
            return Ok(StageStep::Done(StageOutcome::RetryPrevious(vec![
                FieldError::on(field, message),
            ])));
        }
        Err(error) => return Err(error.into()),
    };
    for name in &config.groups {
        let Some(group) = env.directory.group_named(name).await? else {
            return Err(FlowError::Misconfigured(format!(
                "user write group {name:?} does not exist"
            )));
        };
        env.directory.add_member(&audit, group.id, user.id).await?;
    }
    context.pending_user = Some(user.id.0);
    Ok(StageStep::Done(StageOutcome::next()))
}

fn extra(prompt: &Map<String, Value>) -> Map<String, Value> {
    prompt
        .iter()
        .filter(|(name, _)| !RESERVED.contains(&name.as_str()) && !name.ends_with("_confirm"))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect()
}

/// The user's attributes with the prompt's extra answers merged in, or
/// `None` when there are none to add.
async fn attributes(
    prompt: &Map<String, Value>,
    env: &StageEnv<'_>,
    user: crate::identity::user::UserId,
) -> Result<Option<Map<String, Value>>, FlowError> {
    let extra = extra(prompt);
    if extra.is_empty() {
        return Ok(None);
    }
    let mut attributes = env.directory.user(user).await?.attributes;
    attributes.extend(extra);
    Ok(Some(attributes))
}
