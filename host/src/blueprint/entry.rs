//! The entries of a blueprint, one struct per kind. Every entry has an `id`
//! (unique in its file, used by other entries to refer to it) and a
//! `state`; the rest are the kind's attributes.
//!
//! Attributes that only matter when an object is written (a flow's
//! designation, a stage's config) are optional in the format, so that an
//! `absent` entry needs no more than the object's key; they are required for
//! `present` and `created` entries when the blueprint is checked.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::brand::{DEFAULT_BACKGROUND_COLOR, DEFAULT_PRIMARY_COLOR};
use crate::flow::{Access, Designation, InvalidResponse};
use crate::policy::{PolicyConfig, PolicyMode};
use crate::stage::StageConfig;

/// The state an entry asks for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Create the object, or update it to match the entry.
    #[default]
    Present,
    /// Create the object when it is missing; never change an existing one.
    Created,
    /// Delete the object when it exists.
    Absent,
}

/// The kinds of entry.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    JsonSchema,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// A flow.
    Flow,
    /// A stage.
    Stage,
    /// A stage placed in a flow.
    FlowBinding,
    /// A policy.
    Policy,
    /// A policy bound to a flow or a flow binding.
    PolicyBinding,
    /// A group of users.
    Group,
    /// A brand.
    Brand,
}

impl EntryKind {
    /// The name used in blueprints (`flow_binding`).
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Flow => "flow",
            EntryKind::Stage => "stage",
            EntryKind::FlowBinding => "flow_binding",
            EntryKind::Policy => "policy",
            EntryKind::PolicyBinding => "policy_binding",
            EntryKind::Group => "group",
            EntryKind::Brand => "brand",
        }
    }
}

impl fmt::Display for EntryKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One entry: its `kind` and that kind's fields.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Entry {
    /// A flow, keyed by slug.
    Flow(FlowEntry),
    /// A stage, keyed by name.
    Stage(StageEntry),
    /// A stage placed in a flow, keyed by flow and stage (or flow and
    /// order).
    FlowBinding(FlowBindingEntry),
    /// A policy, keyed by name.
    Policy(PolicyEntry),
    /// A policy bound to a flow or a flow binding, keyed by both.
    PolicyBinding(PolicyBindingEntry),
    /// A group, keyed by name (regardless of case).
    Group(GroupEntry),
    /// A brand, keyed by name.
    Brand(BrandEntry),
}

impl Entry {
    /// The entry's kind, identifier and state.
    pub fn header(&self) -> (EntryKind, &str, State) {
        match self {
            Entry::Flow(entry) => (EntryKind::Flow, &entry.id, entry.state),
            Entry::Stage(entry) => (EntryKind::Stage, &entry.id, entry.state),
            Entry::FlowBinding(entry) => (EntryKind::FlowBinding, &entry.id, entry.state),
            Entry::Policy(entry) => (EntryKind::Policy, &entry.id, entry.state),
            Entry::PolicyBinding(entry) => (EntryKind::PolicyBinding, &entry.id, entry.state),
            Entry::Group(entry) => (EntryKind::Group, &entry.id, entry.state),
            Entry::Brand(entry) => (EntryKind::Brand, &entry.id, entry.state),
        }
    }
}

/// A flow.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FlowEntry {
    /// Identifier of the entry within the file.
    pub id: String,
    /// Desired state.
    #[serde(default)]
    pub state: State,
    /// URL name (`/if/flow/<slug>/`): lower-case letters, digits, `-` and
    /// `_`.
    pub slug: String,
    /// Heading shown on the flow's pages; the slug when omitted.
    #[serde(default)]
    pub title: Option<String>,
    /// What the flow is for; required unless `state` is `absent`.
    #[serde(default)]
    pub designation: Option<Designation>,
    /// Who may start it.
    #[serde(default)]
    pub access: Access,
    /// Whether all or any of the flow's policies must pass.
    #[serde(default)]
    pub policy_mode: PolicyMode,
}

/// A stage: a built-in type with its settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StageEntry {
    /// Identifier of the entry within the file.
    pub id: String,
    /// Desired state.
    #[serde(default)]
    pub state: State,
    /// Unique name of the stage.
    pub name: String,
    /// The stage type (`config.kind`) and its settings; required unless
    /// `state` is `absent`.
    #[serde(default)]
    pub config: Option<StageConfig>,
}

/// A stage placed in a flow.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FlowBindingEntry {
    /// Identifier of the entry within the file.
    pub id: String,
    /// Desired state.
    #[serde(default)]
    pub state: State,
    /// The flow: the id of a flow entry, or the slug of an existing flow.
    pub flow: String,
    /// The stage: the id of a stage entry, or the name of an existing
    /// stage; required unless `state` is `absent`.
    #[serde(default)]
    pub stage: Option<String>,
    /// Position in the flow, ascending and unique within it; required
    /// unless `state` is `absent`.
    #[serde(default)]
    pub order: Option<i64>,
    /// Check the binding's policies when the flow starts.
    #[serde(default = "default_true")]
    pub evaluate_on_plan: bool,
    /// Check them again just before the stage shows.
    #[serde(default)]
    pub re_evaluate: bool,
    /// What a wrong answer does.
    #[serde(default)]
    pub invalid_response: InvalidResponse,
    /// Whether all or any of the binding's policies must pass.
    #[serde(default)]
    pub policy_mode: PolicyMode,
}

/// A policy: a built-in type with its settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyEntry {
    /// Identifier of the entry within the file.
    pub id: String,
    /// Desired state.
    #[serde(default)]
    pub state: State,
    /// Unique name of the policy.
    pub name: String,
    /// The policy type (`config.kind`) and its settings; required unless
    /// `state` is `absent`.
    #[serde(default)]
    pub config: Option<PolicyConfig>,
}

/// A policy bound to a flow or to a flow binding.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyBindingEntry {
    /// Identifier of the entry within the file.
    pub id: String,
    /// Desired state.
    #[serde(default)]
    pub state: State,
    /// The policy: the id of a policy entry, or the name of an existing
    /// policy.
    pub policy: String,
    /// What it guards: the id of a flow or flow binding entry, or the slug
    /// of an existing flow.
    pub target: String,
    /// Order among the target's policy bindings.
    #[serde(default)]
    pub order: i64,
    /// Invert the policy's result.
    #[serde(default)]
    pub negate: bool,
    /// Milliseconds the policy may run before it counts as errored.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: i64,
    /// Result used when the policy errors or times out.
    #[serde(default)]
    pub failure_result: bool,
    /// Disabled bindings are skipped.
    #[serde(default = "default_true")]
    pub enabled: bool,
}

/// A group of users.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupEntry {
    /// Identifier of the entry within the file.
    pub id: String,
    /// Desired state.
    #[serde(default)]
    pub state: State,
    /// Unique name (regardless of case).
    pub name: String,
    /// The group it is nested in: the id of a group entry, or the name of
    /// an existing group; top level when omitted.
    #[serde(default)]
    pub parent: Option<String>,
    /// Free-form attributes.
    #[serde(default)]
    pub attributes: Map<String, Value>,
}

/// A brand: title, colours and default flows for a host name.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BrandEntry {
    /// Identifier of the entry within the file.
    pub id: String,
    /// Desired state.
    #[serde(default)]
    pub state: State,
    /// Unique name of the brand.
    pub name: String,
    /// Host name the brand answers for (`id.example.org`, no scheme or
    /// port); empty for a brand that is only used as the default.
    #[serde(default)]
    pub domain: String,
    /// Used for hosts no brand names; setting it takes the role from the
    /// brand that had it.
    #[serde(default)]
    pub is_default: bool,
    /// Name shown in page titles and headings.
    #[serde(default = "default_title")]
    pub title: String,
    /// Logo: an `https://` or `http://` URL, or a local path.
    #[serde(default)]
    pub logo_url: Option<String>,
    /// Colour of buttons and links (`#rrggbb`).
    #[serde(default = "default_primary_color")]
    pub primary_color: String,
    /// Page background colour (`#rrggbb`).
    #[serde(default = "default_background_color")]
    pub background_color: String,
    /// Sign-in flow: the id of a flow entry or the slug of an existing flow.
    #[serde(default)]
    pub flow_authentication: Option<String>,
    /// Enrollment flow (id of a flow entry or slug of an existing flow).
    #[serde(default)]
    pub flow_enrollment: Option<String>,
    /// Recovery flow (id of a flow entry or slug of an existing flow).
    #[serde(default)]
    pub flow_recovery: Option<String>,
    /// Sign-out flow (id of a flow entry or slug of an existing flow).
    #[serde(default)]
    pub flow_invalidation: Option<String>,
}

fn default_true() -> bool {
    true
}
fn default_timeout_ms() -> i64 {
    30_000
}
fn default_title() -> String {
    "Castellan".to_owned()
}
fn default_primary_color() -> String {
    DEFAULT_PRIMARY_COLOR.to_owned()
}
fn default_background_color() -> String {
    DEFAULT_BACKGROUND_COLOR.to_owned()
}
