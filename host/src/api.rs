//! Wire types of the admin API, shared by the server, the CLI and the
//! tests. Times are RFC 3339 strings in UTC.

use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::clock::{Millis, to_datetime};
use crate::event::Event;
use crate::identity::group::Group;
use crate::identity::password::ImportedHash;
use crate::identity::user::{User, UserType};
use crate::token::{ApiToken, TokenScope};

/// Default and largest page sizes.
pub const DEFAULT_PAGE: u32 = 50;
/// Largest page size a client may ask for.
pub const MAX_PAGE: u32 = 500;

fn page_size(limit: Option<u32>) -> u32 {
    limit.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE)
}

fn rfc3339(at: Millis) -> String {
    to_datetime(at)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Parses an RFC 3339 time to Unix milliseconds.
pub fn parse_time(text: &str) -> Option<Millis> {
    OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(crate::clock::unix_millis)
}

/// The body of every error response.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// A stable code and a human message.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, matchable code: `invalid_request`, `unauthorized`,
    /// `forbidden`, `not_found`, `conflict`, `payload_too_large`,
    /// `unsupported_media_type`, `unavailable`, `internal_error`.
    pub code: String,
    /// Explanation for people.
    pub message: String,
    /// The request field at fault, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// A page of results with the cursor for the next one.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Page<T> {
    /// This page.
    pub items: Vec<T>,
    /// Pass as `after` (users, groups) or `before` (events) for the next
    /// page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// A user as the API shows it.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct UserView {
    /// Stable id.
    pub id: Uuid,
    /// Sign-in name.
    pub username: String,
    /// Email address.
    pub email: Option<String>,
    /// Whether the email is verified.
    pub email_verified: bool,
    /// Name shown to people.
    pub display_name: String,
    /// Kind of account.
    pub user_type: UserType,
    /// Whether the user may sign in.
    pub active: bool,
    /// Free-form attributes.
    #[schema(value_type = Object)]
    pub attributes: Map<String, Value>,
    /// Whether a password is set.
    pub has_password: bool,
    /// Creation time.
    pub created_at: String,
    /// Last change.
    pub updated_at: String,
    /// Last sign-in.
    pub last_login_at: Option<String>,
}

impl From<&User> for UserView {
    fn from(user: &User) -> Self {
        UserView {
            id: user.id.0,
            username: user.username.clone(),
            email: user.email.clone(),
            email_verified: user.email_verified,
            display_name: user.display_name.clone(),
            user_type: user.user_type,
            active: user.active,
            attributes: user.attributes.clone(),
            has_password: user.has_password,
            created_at: rfc3339(user.created_at),
            updated_at: rfc3339(user.updated_at),
            last_login_at: user.last_login_at.map(rfc3339),
        }
    }
}

/// A new user. Give `password` or `password_hash`, or neither for an
/// account that cannot sign in with a password.
#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    /// Sign-in name, unique regardless of case.
    pub username: String,
    /// Email, unique regardless of case.
    #[serde(default)]
    pub email: Option<String>,
    /// Whether the email is already verified.
    #[serde(default)]
    pub email_verified: Option<bool>,
    /// Name shown to people.
    #[serde(default)]
    pub display_name: Option<String>,
    /// Kind of account; `internal` by default.
    #[serde(default)]
    pub user_type: Option<UserType>,
    /// Whether the user may sign in; true by default.
    #[serde(default)]
    pub active: Option<bool>,
    /// Free-form attributes (a JSON object).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub attributes: Option<Map<String, Value>>,
    /// A password to hash and store.
    #[serde(
        default,
        serialize_with = "expose",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>, format = Password)]
    pub password: Option<SecretString>,
    /// A hash from another system, stored as it is: a PHC argon2 or bcrypt
    /// string, a Django hash, or a Keycloak credential object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<serde_json::Value>)]
    pub password_hash: Option<ImportedHash>,
}

impl CreateUser {
    /// A user with only a username.
    pub fn named(username: &str) -> Self {
        CreateUser {
            username: username.to_owned(),
            ..Default::default()
        }
    }
}

/// Changes to a user; absent fields stay as they are. `email: null` removes
/// the email.
#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUser {
    /// New username.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// New email, or null to remove it.
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>)]
    pub email: Option<Option<String>>,
    /// Whether the email is verified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
    /// New display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// New kind of account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_type: Option<UserType>,
    /// Activate or deactivate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
    /// Replaces all attributes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub attributes: Option<Map<String, Value>>,
    /// A new password.
    #[serde(
        default,
        serialize_with = "expose",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>, format = Password)]
    pub password: Option<SecretString>,
    /// A new imported hash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<serde_json::Value>)]
    pub password_hash: Option<ImportedHash>,
}

/// Writes a secret into a request body (the CLI sends passwords this way);
/// `Debug` of the same value stays redacted.
fn expose<S: serde::Serializer>(
    secret: &Option<SecretString>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    use secrecy::ExposeSecret as _;
    match secret {
        Some(secret) => serializer.serialize_some(secret.expose_secret()),
        None => serializer.serialize_none(),
    }
}

/// Tells an explicit `null` (Some(None)) from an absent field (None).
fn double_option<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// Filters and page for listing users.
#[derive(Debug, Default, Deserialize, Serialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct UserFilterQuery {
    /// Case-insensitive part of the username.
    pub username: Option<String>,
    /// Case-insensitive part of the email.
    pub email: Option<String>,
    /// Cursor: the `next` of the previous page.
    pub after: Option<String>,
    /// Page size, 1 to 500; 50 by default.
    pub limit: Option<u32>,
}

impl UserFilterQuery {
    /// The page size in effect.
    pub fn limit(&self) -> u32 {
        page_size(self.limit)
    }
}

/// A group as the API shows it.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct GroupView {
    /// Stable id.
    pub id: Uuid,
    /// Unique name.
    pub name: String,
    /// Id of the group this one is nested in.
    pub parent: Option<Uuid>,
    /// Free-form attributes.
    #[schema(value_type = Object)]
    pub attributes: Map<String, Value>,
    /// Creation time.
    pub created_at: String,
    /// Last change.
    pub updated_at: String,
}

impl From<&Group> for GroupView {
    fn from(group: &Group) -> Self {
        GroupView {
            id: group.id.0,
            name: group.name.clone(),
            parent: group.parent.map(|id| id.0),
            attributes: group.attributes.clone(),
            created_at: rfc3339(group.created_at),
            updated_at: rfc3339(group.updated_at),
        }
    }
}

/// A new group.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateGroup {
    /// Unique name.
    pub name: String,
    /// Id of the group to nest this one in.
    #[serde(default)]
    pub parent: Option<Uuid>,
    /// Free-form attributes.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub attributes: Option<Map<String, Value>>,
}

/// Changes to a group; `parent: null` moves it to the top level.
#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateGroup {
    /// New name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// New parent id, or null for none.
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<Uuid>)]
    pub parent: Option<Option<Uuid>>,
    /// Replaces all attributes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub attributes: Option<Map<String, Value>>,
}

/// Filters and page for listing groups.
#[derive(Debug, Default, Deserialize, Serialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct GroupFilterQuery {
    /// Case-insensitive part of the name.
    pub name: Option<String>,
    /// Cursor: the `next` of the previous page.
    pub after: Option<String>,
    /// Page size, 1 to 500; 50 by default.
    pub limit: Option<u32>,
}

impl GroupFilterQuery {
    /// The page size in effect.
    pub fn limit(&self) -> u32 {
        page_size(self.limit)
    }
}

/// Whether to include nested memberships.
#[derive(Debug, Default, Deserialize, Serialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct MembershipQuery {
    /// Include members of nested groups (for a group's members) or the
    /// groups above (for a user's groups).
    #[serde(default)]
    pub effective: bool,
}

/// A user to add to a group.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddMember {
    /// The user's id.
    pub user: Uuid,
}

/// An API token as the API shows it (never its secret).
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct TokenView {
    /// Stable id.
    pub id: Uuid,
    /// Owner.
    pub user: Uuid,
    /// Label.
    pub name: String,
    /// What it may do.
    pub scope: TokenScope,
    /// Creation time.
    pub created_at: String,
    /// Expiry.
    pub expires_at: Option<String>,
    /// Revocation time.
    pub revoked_at: Option<String>,
    /// Last use, to the minute.
    pub last_used_at: Option<String>,
}

impl From<&ApiToken> for TokenView {
    fn from(token: &ApiToken) -> Self {
        TokenView {
            id: token.id.0,
            user: token.user_id.0,
            name: token.name.clone(),
            scope: token.scope,
            created_at: rfc3339(token.created_at),
            expires_at: token.expires_at.map(rfc3339),
            revoked_at: token.revoked_at.map(rfc3339),
            last_used_at: token.last_used_at.map(rfc3339),
        }
    }
}

/// A new token.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    /// Owner; the caller when absent.
    #[serde(default)]
    pub user: Option<Uuid>,
    /// Label.
    pub name: String,
    /// What it may do; `user` by default.
    #[serde(default)]
    pub scope: Option<TokenScope>,
    /// Expiry as an RFC 3339 time; never when absent.
    #[serde(default)]
    pub expires_at: Option<String>,
}

/// A created token with its secret, shown this once.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CreatedToken {
    /// The token.
    pub token: TokenView,
    /// The bearer secret; store it now, it cannot be shown again.
    pub secret: String,
}

/// Which tokens to list.
#[derive(Debug, Default, Deserialize, Serialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct TokenQuery {
    /// Only this user's tokens.
    pub user: Option<Uuid>,
}

/// An audit event as the API shows it.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct EventView {
    /// Time-ordered id.
    pub id: Uuid,
    /// When it happened.
    pub created_at: String,
    /// Who acted: `user:<id>` or `system`.
    pub actor: String,
    /// What was done (`user.create`).
    pub action: String,
    /// Kind of target.
    pub target_kind: Option<String>,
    /// Target id.
    pub target_id: Option<String>,
    /// `success`, `failure` or `denied`.
    pub outcome: String,
    /// Client address.
    pub client_ip: Option<String>,
    /// Non-secret details.
    #[schema(value_type = Object)]
    pub detail: Map<String, Value>,
}

impl From<&Event> for EventView {
    fn from(event: &Event) -> Self {
        EventView {
            id: event.id,
            created_at: rfc3339(event.created_at),
            actor: event.actor.clone(),
            action: event.action.clone(),
            target_kind: event.target_kind.clone(),
            target_id: event.target_id.clone(),
            outcome: event.outcome.clone(),
            client_ip: event.client_ip.clone(),
            detail: event.detail.clone(),
        }
    }
}

/// Filters and page for listing events.
#[derive(Debug, Default, Deserialize, Serialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct EventQuery {
    /// Only this action.
    pub action: Option<String>,
    /// Only events about this target id.
    pub target: Option<String>,
    /// Only events by this actor.
    pub actor: Option<String>,
    /// Cursor: the `next` of the previous page.
    pub before: Option<Uuid>,
    /// Page size, 1 to 500; 50 by default.
    pub limit: Option<u32>,
}

impl EventQuery {
    /// The page size in effect.
    pub fn limit(&self) -> u32 {
        page_size(self.limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_in_requests_do_not_show_in_debug_but_reach_the_wire() {
        let input = CreateUser {
            password: Some(SecretString::from("hunter2-canary")),
            ..CreateUser::named("ada")
        };
        let shown = format!("{input:?}");
        assert!(!shown.contains("hunter2-canary"), "{shown}");
        assert!(shown.contains("ada"));
        // The CLI sends this struct: the password must be in the body.
        let wire = serde_json::to_value(&input).unwrap_or_default();
        assert_eq!(wire["password"], "hunter2-canary");
        let update: Result<UpdateUser, _> =
            serde_json::from_str(r#"{"password": "hunter2-canary", "email": null}"#);
        let shown = format!("{update:?}");
        assert!(
            update.is_ok() && !shown.contains("hunter2-canary"),
            "{shown}"
        );
    }
}
