//! What a flow execution knows as it goes: the pending user, prompt answers,
//! where to go at the end, and per-stage state.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::identity::user::UserId;

/// The state a flow carries from stage to stage. Stored server-side only.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct FlowContext {
    /// The user the flow is about (identified, or being enrolled).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_user: Option<Uuid>,
    /// Answers of prompt stages, by field name. Passwords are kept only
    /// until a user write stage stores them.
    #[serde(default)]
    pub prompt: Map<String, Value>,
    /// Where to send the browser when the flow completes (a local path).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    /// The application being signed in to, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application: Option<String>,
    /// How the pending user proved who they are (`password`, `email`).
    #[serde(default)]
    pub methods: Vec<String>,
    /// Whether the user asked to be remembered.
    #[serde(default)]
    pub remember_me: bool,
    /// State a stage keeps for this execution, by binding id.
    #[serde(default)]
    pub stages: Map<String, Value>,
}

impl FlowContext {
    /// The pending user's id.
    pub fn pending_user_id(&self) -> Option<UserId> {
        self.pending_user.map(UserId)
    }

    /// A stage's state (`Null` when it has none).
    pub fn stage_state(&self, binding: Uuid) -> &Value {
        self.stages
            .get(&binding.to_string())
            .unwrap_or(&Value::Null)
    }

    /// Replaces a stage's state.
    pub fn set_stage_state(&mut self, binding: Uuid, value: Value) {
        self.stages.insert(binding.to_string(), value);
    }
}

/// Facts about the request a flow step runs in.
#[derive(Clone, Debug)]
pub struct FlowRequest {
    /// The browser's flow cookie secret (or the API client's), which the
    /// execution is bound to.
    pub browser: String,
    /// The signed-in user, if any.
    pub user: Option<UserId>,
    /// The id of the current browser session, if any.
    pub session: Option<Uuid>,
    /// Client address.
    pub client_ip: Option<IpAddr>,
    /// Client's `User-Agent`.
    pub user_agent: Option<String>,
}
