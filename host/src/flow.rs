//! Flows: ordered stages guarded by policies, planned when a flow starts and
//! executed one challenge at a time.
//!
//! A [`Flow`] has a slug, a designation and [`StageBinding`]s. When a flow
//! starts, the [`plan`] module checks the flow's policies and keeps the
//! bindings whose policies pass (or defers that check to just before the
//! stage shows). The [`execution`] module stores the plan and the
//! [`context::FlowContext`] server-side, bound to the browser, and the
//! [`executor`] turns each stage into a [`challenge::Challenge`] and consumes
//! the answer.

pub mod challenge;
pub mod context;
pub mod execution;
pub mod executor;
pub mod plan;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::policy::PolicyMode;
use crate::stage::Stage;

/// What a flow is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Designation {
    /// Signs a user in.
    Authentication,
    /// Creates an account.
    Enrollment,
    /// Resets a forgotten credential.
    Recovery,
    /// Asks consent for an application.
    Authorization,
    /// Signs a user out.
    Invalidation,
    /// Sets up a credential (TOTP, passkey) for a signed-in user.
    StageConfiguration,
}

/// Who may start a flow.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    /// Anyone.
    #[default]
    Anyone,
    /// Only a signed-in user.
    SignedIn,
    /// Only someone not signed in.
    SignedOut,
}

/// What a wrong answer to a stage does.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum InvalidResponse {
    /// Show the same stage again with the errors.
    #[default]
    Retry,
    /// Start the whole flow again.
    Restart,
}

/// A stage placed in a flow.
#[derive(Clone, Debug)]
pub struct StageBinding {
    /// Stable id.
    pub id: Uuid,
    /// Order in the flow, ascending.
    pub position: i64,
    /// The stage (type and config).
    pub stage: Stage,
    /// Check the binding's policies when the flow is planned.
    pub evaluate_on_plan: bool,
    /// Check them again just before the stage shows.
    pub re_evaluate: bool,
    /// What a wrong answer does.
    pub invalid_response: InvalidResponse,
    /// Whether any or all of the binding's policies must pass.
    pub policy_mode: PolicyMode,
}

/// A flow with its bindings in order.
#[derive(Clone, Debug)]
pub struct Flow {
    /// Stable id.
    pub id: Uuid,
    /// URL name.
    pub slug: String,
    /// Heading shown on its pages.
    pub title: String,
    /// What it is for.
    pub designation: Designation,
    /// Who may start it.
    pub access: Access,
    /// Whether any or all of the flow's policies must pass.
    pub policy_mode: PolicyMode,
    /// Its stages in order.
    pub bindings: Vec<StageBinding>,
}

/// Why a flow could not go on.
#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    /// No flow with that slug.
    #[error("no flow named {0:?}")]
    UnknownFlow(String),
    /// The caller may not start this flow (signed in or out).
    #[error("{0}")]
    NotAllowed(&'static str),
    /// The flow's policies deny this request.
    #[error("{0}")]
    Denied(String),
    /// The execution expired, belongs to another browser or is unknown.
    #[error("this sign-in attempt expired; start again")]
    ExecutionGone,
    /// The answer is for another stage or an older state of the flow
    /// (a replay, a second tab, or a skipped stage).
    #[error("this page is out of date; the current step is shown again")]
    Stale,
    /// The CSRF token does not match the browser.
    #[error("the form could not be verified; reload the page and try again")]
    Csrf,
    /// The answer cannot be read.
    #[error("invalid answer: {0}")]
    BadAnswer(String),
    /// A stage or policy is misconfigured.
    #[error("configuration error: {0}")]
    Misconfigured(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// An identity operation failed.
    #[error(transparent)]
    Identity(#[from] crate::identity::IdentityError),
    /// Sending a message failed.
    #[error("cannot send the email; try again later")]
    Mail(String),
}

/// Whether `target` is a path on this server: it starts with one `/`, and
/// holds no backslash or control character a browser could read as another
/// host (RFC 3986 §4.2: `//host` is a network-path reference).
pub fn is_local_path(target: &str) -> bool {
    target.starts_with('/')
        && !target.starts_with("//")
        && !target.contains('\\')
        && !target.chars().any(char::is_control)
}

#[cfg(test)]
mod tests {
    use super::is_local_path;

    #[test]
    fn only_local_paths_pass() {
        for good in ["/", "/if/user/", "/a?b=c#d"] {
            assert!(is_local_path(good), "{good}");
        }
        for bad in [
            "",
            "//evil.example/",
            "/\\evil.example",
            "https://evil.example/",
            "javascript:x",
            "/a\nb",
        ] {
            assert!(!is_local_path(bad), "{bad:?}");
        }
    }
}
