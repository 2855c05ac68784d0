//! The audit log: one append-only record per change and per security
//! outcome. An event names who acted, what they did to which target, how it
//! ended and from where; it never holds a secret.

use serde_json::{Map, Value};
use uuid::Uuid;

use crate::clock::Millis;

/// Who is acting, and from where, for the events a change writes.
#[derive(Clone, Debug)]
pub struct AuditContext {
    /// `user:<uuid>`, `token:<uuid>` or `system`.
    pub actor: String,
    /// The client address as the server saw it.
    pub client_ip: Option<String>,
}

impl AuditContext {
    /// The server itself (bootstrap, migrations).
    pub fn system() -> Self {
        AuditContext {
            actor: "system".to_owned(),
            client_ip: None,
        }
    }
}

/// How an action ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Done as asked.
    Success,
    /// Refused because of the input or the state (a duplicate name, say).
    Failure,
    /// Refused because the actor may not do it.
    Denied,
}

impl Outcome {
    /// The stored and displayed name.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Denied => "denied",
        }
    }
}

/// One audit record.
#[derive(Clone, Debug)]
pub struct Event {
    /// Time-ordered id (UUIDv7).
    pub id: Uuid,
    /// When it happened.
    pub created_at: Millis,
    /// Who acted.
    pub actor: String,
    /// What was done, as `noun.verb` (`user.create`).
    pub action: String,
    /// Kind of the target (`user`, `group`, `token`).
    pub target_kind: Option<String>,
    /// Id of the target.
    pub target_id: Option<String>,
    /// How it ended.
    pub outcome: String,
    /// Client address.
    pub client_ip: Option<String>,
    /// Non-secret details (changed field names, error codes).
    pub detail: Map<String, Value>,
}

impl Event {
    /// A new event by `context` at `now`.
    pub fn new(context: &AuditContext, now: Millis, action: &str, outcome: Outcome) -> Event {
        Event {
            id: Uuid::now_v7(),
            created_at: now,
            actor: context.actor.clone(),
            action: action.to_owned(),
            target_kind: None,
            target_id: None,
            outcome: outcome.as_str().to_owned(),
            client_ip: context.client_ip.clone(),
            detail: Map::new(),
        }
    }

    /// Names the target.
    pub fn target(mut self, kind: &str, id: impl ToString) -> Event {
        self.target_kind = Some(kind.to_owned());
        self.target_id = Some(id.to_string());
        self
    }

    /// Adds a non-secret detail.
    pub fn detail(mut self, key: &str, value: impl Into<Value>) -> Event {
        self.detail.insert(key.to_owned(), value.into());
        self
    }

    /// Writes the event's one log line to the `audit` target.
    pub fn log(&self) {
        tracing::info!(
            target: "audit",
            event_id = %self.id,
            actor = %self.actor,
            action = %self.action,
            target_kind = self.target_kind.as_deref().unwrap_or(""),
            target_id = self.target_id.as_deref().unwrap_or(""),
            outcome = %self.outcome,
            client_ip = self.client_ip.as_deref().unwrap_or(""),
        );
    }
}

/// Filter for listing events, newest first.
#[derive(Clone, Debug, Default)]
pub struct EventFilter {
    /// Only this action.
    pub action: Option<String>,
    /// Only events about this target id.
    pub target_id: Option<String>,
    /// Only events by this actor.
    pub actor: Option<String>,
    /// Only events older than this event id (the page cursor).
    pub before: Option<Uuid>,
    /// Page size.
    pub limit: u32,
}
