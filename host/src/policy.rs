//! Policies: rules that pass or fail a request, bound to flows and to stage
//! bindings. A binding can negate its policy, bound its run time and choose
//! the result used when the policy errors. A target with several bindings
//! passes when all (or any, per target) pass. Every decision is recorded
//! with its reason, so an admin can ask why a user was denied.

pub mod builtin;

use std::net::IpAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::identity::Directory;
use crate::identity::user::User;

/// Whether all or any of a target's policies must pass.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum PolicyMode {
    /// Every binding must pass.
    #[default]
    All,
    /// One passing binding is enough.
    Any,
}

impl PolicyMode {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyMode::All => "all",
            PolicyMode::Any => "any",
        }
    }

    /// Parses a stored name.
    pub fn parse(text: &str) -> Option<PolicyMode> {
        match text {
            "all" => Some(PolicyMode::All),
            "any" => Some(PolicyMode::Any),
            _ => None,
        }
    }
}

/// A policy type with its settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum PolicyConfig {
    /// Always passes or always fails (for tests and placeholders).
    Static {
        /// The result.
        pass: bool,
        /// Message shown when it fails.
        #[serde(default)]
        message: Option<String>,
    },
    /// Passes when the client address is in one of the networks.
    ClientNetwork {
        /// CIDR ranges such as `10.0.0.0/8` or `::1/128`.
        #[schemars(with = "Vec<String>")]
        networks: Vec<ipnet::IpNet>,
    },
    /// Passes when the user is an effective member of the group.
    GroupMembership {
        /// Group name.
        group: String,
    },
    /// Checks a password in the prompt data: length and a zxcvbn score.
    PasswordStrength {
        /// Prompt field holding the password.
        #[serde(default = "default_password_field")]
        field: String,
        /// Fewest characters.
        #[serde(default = "default_min_length")]
        min_length: usize,
        /// Lowest zxcvbn score, 0 (any) to 4 (very strong).
        #[serde(default = "default_min_score")]
        min_score: u8,
    },
    /// Fails when the failed sign-ins of the user or of the client address
    /// score above a threshold.
    Reputation {
        /// Highest tolerated score.
        #[serde(default = "default_threshold")]
        threshold: i64,
        /// Score the pending user.
        #[serde(default = "default_true")]
        check_user: bool,
        /// Score the client address.
        #[serde(default = "default_true")]
        check_ip: bool,
    },
}

fn default_password_field() -> String {
    "password".to_owned()
}
fn default_min_length() -> usize {
    10
}
fn default_min_score() -> u8 {
    3
}
fn default_threshold() -> i64 {
    5
}
fn default_true() -> bool {
    true
}

/// A named policy.
#[derive(Clone, Debug)]
pub struct Policy {
    /// Stable id.
    pub id: Uuid,
    /// Unique name.
    pub name: String,
    /// Type and settings.
    pub config: PolicyConfig,
}

/// A policy bound to a flow or a stage binding.
#[derive(Clone, Debug)]
pub struct PolicyBinding {
    /// Stable id.
    pub id: Uuid,
    /// The policy.
    pub policy: Policy,
    /// Order among the target's bindings.
    pub position: i64,
    /// Invert the result.
    pub negate: bool,
    /// Longest run before the policy counts as errored.
    pub timeout: Duration,
    /// Result used when the policy errors or times out.
    pub failure_result: bool,
    /// Disabled bindings are skipped.
    pub enabled: bool,
}

/// What a policy looks at.
#[derive(Clone, Debug, Default)]
pub struct PolicyRequest {
    /// The (pending) user.
    pub user: Option<User>,
    /// Client address.
    pub client_ip: Option<IpAddr>,
    /// The flow being run.
    pub flow: String,
    /// Prompt answers so far.
    pub prompt: Map<String, Value>,
}

/// A policy's own verdict.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyResult {
    /// Whether it passed.
    pub passed: bool,
    /// Messages for the user (why it failed).
    pub messages: Vec<String>,
}

impl PolicyResult {
    /// A pass.
    pub fn pass() -> Self {
        PolicyResult {
            passed: true,
            messages: Vec::new(),
        }
    }

    /// A failure with one message.
    pub fn fail(message: impl Into<String>) -> Self {
        PolicyResult {
            passed: false,
            messages: vec![message.into()],
        }
    }
}

/// Why a policy could not decide.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The policy's settings cannot work.
    #[error("misconfigured: {0}")]
    Misconfigured(String),
    /// Something it reads failed.
    #[error("lookup failed: {0}")]
    Lookup(String),
}

/// One binding's decision, kept for the audit log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyDecision {
    /// Policy name.
    pub policy: String,
    /// The result after negation and error handling.
    pub passed: bool,
    /// Why: the policy's messages, `negated`, `error: ...` or `timeout`.
    pub reason: String,
}

/// The combined result of a target's bindings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// Whether the target passes.
    pub passed: bool,
    /// Messages of failing policies, for the user.
    pub messages: Vec<String>,
    /// Every binding's decision, in order.
    pub decisions: Vec<PolicyDecision>,
}

/// Evaluates `bindings` for `request` under `mode`. No bindings pass.
pub async fn evaluate(
    directory: &Directory,
    bindings: &[PolicyBinding],
    mode: PolicyMode,
    request: &PolicyRequest,
) -> Verdict {
    let mut decisions = Vec::new();
    let mut messages = Vec::new();
    for binding in bindings.iter().filter(|binding| binding.enabled) {
        let (passed, reason, shown) = decide(directory, binding, request).await;
        tracing::debug!(policy = %binding.policy.name, passed, reason = %reason, "policy decision");
        if !passed {
            messages.extend(shown);
        }
        decisions.push(PolicyDecision {
            policy: binding.policy.name.clone(),
            passed,
            reason,
        });
    }
    let passed = match mode {
        _ if decisions.is_empty() => true,
        PolicyMode::All => decisions.iter().all(|decision| decision.passed),
        PolicyMode::Any => decisions.iter().any(|decision| decision.passed),
    };
    Verdict {
        passed,
        messages: if passed { Vec::new() } else { messages },
        decisions,
    }
}

async fn decide(
    directory: &Directory,
    binding: &PolicyBinding,
    request: &PolicyRequest,
) -> (bool, String, Vec<String>) {
    let run = builtin::run(directory, &binding.policy.config, request);
    let (result, reason) = match tokio::time::timeout(binding.timeout, run).await {
        Ok(Ok(result)) => {
            let reason = if result.messages.is_empty() {
                if result.passed { "passed" } else { "failed" }.to_owned()
            } else {
                result.messages.join("; ")
            };
            (result, reason)
        }
        Ok(Err(error)) => {
            tracing::warn!(policy = %binding.policy.name, error = %error, "policy errored");
            let result = PolicyResult {
                passed: binding.failure_result,
                messages: Vec::new(),
            };
            (result, format!("error: {error}"))
        }
        Err(_) => {
            tracing::warn!(policy = %binding.policy.name, "policy timed out");
            (
                PolicyResult {
                    passed: binding.failure_result,
                    messages: Vec::new(),
                },
                "timeout".to_owned(),
            )
        }
    };
    if binding.negate {
        let messages = if result.passed {
            vec![format!("denied by policy {}", binding.policy.name)]
        } else {
            Vec::new()
        };
        return (!result.passed, format!("negated ({reason})"), messages);
    }
    (result.passed, reason, result.messages)
}
