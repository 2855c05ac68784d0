//! Stages: the steps of a flow. Each stage type turns the flow context into a
//! challenge, or finishes without one, and consumes the user's answer.
//!
//! Stage types are a closed enum with typed settings, so a stored stage
//! whose settings do not fit its type is caught when it is loaded, not when
//! a user meets it.

pub mod consent;
pub mod deny;
pub mod email;
pub mod identification;
pub mod password;
pub mod prompt;
pub mod redirect;
pub mod user_login;
pub mod user_logout;
pub mod user_write;

use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::flow::FlowError;
use crate::flow::challenge::{Answer, Challenge, FieldError};
use crate::flow::context::{FlowContext, FlowRequest};
use crate::identity::Directory;
use crate::mail::Mailer;

/// A stage type with its settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum StageConfig {
    /// Asks for a username or email and finds the user.
    Identification(identification::IdentificationConfig),
    /// Checks the pending user's password, with rate limits.
    Password(password::PasswordConfig),
    /// Signs the pending user in (creates the browser session).
    UserLogin(user_login::UserLoginConfig),
    /// Signs the user out.
    UserLogout(user_logout::UserLogoutConfig),
    /// Asks typed questions and keeps the answers in the flow context.
    Prompt(prompt::PromptConfig),
    /// Creates or updates the pending user from the prompt answers.
    UserWrite(user_write::UserWriteConfig),
    /// Asks the user to consent to an application.
    Consent(consent::ConsentConfig),
    /// Stops the flow with a message.
    Deny(deny::DenyConfig),
    /// Ends the flow by sending the browser elsewhere.
    Redirect(redirect::RedirectConfig),
    /// Sends a one-time link by email and waits until it is opened.
    Email(email::EmailConfig),
}

impl StageConfig {
    /// The type name (`identification`, `password`, ...).
    pub fn kind(&self) -> &'static str {
        match self {
            StageConfig::Identification(_) => "identification",
            StageConfig::Password(_) => "password",
            StageConfig::UserLogin(_) => "user_login",
            StageConfig::UserLogout(_) => "user_logout",
            StageConfig::Prompt(_) => "prompt",
            StageConfig::UserWrite(_) => "user_write",
            StageConfig::Consent(_) => "consent",
            StageConfig::Deny(_) => "deny",
            StageConfig::Redirect(_) => "redirect",
            StageConfig::Email(_) => "email",
        }
    }
}

/// A named stage.
#[derive(Clone, Debug)]
pub struct Stage {
    /// Stable id.
    pub id: Uuid,
    /// Unique name.
    pub name: String,
    /// Type and settings.
    pub config: StageConfig,
}

/// What a stage can reach while it runs.
pub struct StageEnv<'a> {
    /// Identity operations (and the store and clock behind them).
    pub directory: &'a Directory,
    /// Outgoing email.
    pub mailer: &'a Mailer,
    /// External base URL, for links.
    pub public_url: &'a str,
    /// Slug of the flow running.
    pub flow: &'a str,
    /// Id of the flow execution.
    pub execution: Uuid,
    /// Id of the stage binding running.
    pub binding: Uuid,
    /// The request.
    pub request: &'a FlowRequest,
}

/// A side effect on the browser that the HTTP layer carries out.
#[derive(Debug)]
pub enum Effect {
    /// Set the session cookie; `max_age` in seconds, or a browser-session
    /// cookie when absent.
    StartSession {
        /// The cookie value.
        secret: SecretString,
        /// Cookie lifetime.
        max_age: Option<i64>,
    },
    /// Remove the session cookie.
    EndSession,
}

/// How a stage ended.
#[derive(Debug)]
pub enum StageOutcome {
    /// Go to the next stage.
    Continue(Vec<Effect>),
    /// Show the stage again with these errors.
    Retry(Vec<FieldError>),
    /// Stop the flow with this message.
    Deny(String),
    /// End the flow by sending the browser to this URL.
    Redirect(String),
    /// Show the previous stage again with these errors (a user write that
    /// found the username taken sends the user back to the prompt).
    RetryPrevious(Vec<FieldError>),
}

impl StageOutcome {
    /// Continue without effects.
    pub fn next() -> Self {
        StageOutcome::Continue(Vec::new())
    }
}

/// What showing a stage gives: a challenge, or an outcome at once (stages
/// that need no input, or are already satisfied).
#[derive(Debug)]
pub enum StageStep {
    /// Ask the user.
    Show(Challenge),
    /// Done without asking.
    Done(StageOutcome),
}

impl Stage {
    /// The challenge to show, or the outcome when nothing is to be asked.
    ///
    /// # Errors
    /// The store, mail or configuration failed.
    pub async fn show(
        &self,
        env: &StageEnv<'_>,
        context: &mut FlowContext,
    ) -> Result<StageStep, FlowError> {
        match &self.config {
            StageConfig::Identification(config) => identification::show(config, env, context).await,
            StageConfig::Password(config) => password::show(config, env, context).await,
            StageConfig::UserLogin(config) => user_login::show(config, env, context).await,
            StageConfig::UserLogout(config) => user_logout::show(config, env, context).await,
            StageConfig::Prompt(config) => prompt::show(config, env, context).await,
            StageConfig::UserWrite(config) => user_write::show(config, env, context).await,
            StageConfig::Consent(config) => consent::show(config, env, context).await,
            StageConfig::Deny(config) => deny::show(config, env, context).await,
            StageConfig::Redirect(config) => redirect::show(config, env, context).await,
            StageConfig::Email(config) => email::show(config, env, context).await,
        }
    }

    /// Consumes an answer to the challenge this stage showed.
    ///
    /// # Errors
    /// The store, mail or configuration failed.
    pub async fn answer(
        &self,
        env: &StageEnv<'_>,
        context: &mut FlowContext,
        answer: &Answer,
    ) -> Result<StageOutcome, FlowError> {
        match &self.config {
            StageConfig::Identification(config) => {
                identification::answer(config, env, context, answer).await
            }
            StageConfig::Password(config) => password::answer(config, env, context, answer).await,
            StageConfig::Prompt(config) => prompt::answer(config, env, context, answer).await,
            StageConfig::Consent(config) => consent::answer(config, env, context, answer).await,
            StageConfig::Email(config) => email::answer(config, env, context, answer).await,
            // These stages never show a challenge, so nothing can answer them.
            StageConfig::UserLogin(_)
            | StageConfig::UserLogout(_)
            | StageConfig::UserWrite(_)
            | StageConfig::Deny(_)
            | StageConfig::Redirect(_) => Err(FlowError::Stale),
        }
    }
}
