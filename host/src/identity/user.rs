//! Users: the record, its validation, and the directory operations on it.

use std::fmt;

use serde_json::{Map, Value};
use uuid::Uuid;

use super::{Directory, IdentityError, spawn_hash};
use crate::api::{CreateUser, UpdateUser, UserFilterQuery};
use crate::clock::Millis;
use crate::event::{AuditContext, Event, Outcome};
use crate::identity::password::{self, Verified};
use crate::store::{self, Tx};

/// A user's id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct UserId(pub Uuid);

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// What kind of account a user is.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
    utoipa::ToSchema,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum UserType {
    /// A person managed here.
    Internal,
    /// A person from an upstream source (social login, directory sync).
    External,
    /// A machine (CI job, service).
    ServiceAccount,
}

impl UserType {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            UserType::Internal => "internal",
            UserType::External => "external",
            UserType::ServiceAccount => "service_account",
        }
    }

    /// Parses a stored name.
    pub fn parse(text: &str) -> Option<UserType> {
        match text {
            "internal" => Some(UserType::Internal),
            "external" => Some(UserType::External),
            "service_account" => Some(UserType::ServiceAccount),
            _ => None,
        }
    }
}

/// A user account.
#[derive(Clone, Debug)]
pub struct User {
    /// Stable id.
    pub id: UserId,
    /// Unique (case-insensitively) sign-in name.
    pub username: String,
    /// Unique (case-insensitively) email, if any.
    pub email: Option<String>,
    /// Whether the email was proven to belong to the user.
    pub email_verified: bool,
    /// Name shown to people.
    pub display_name: String,
    /// Kind of account.
    pub user_type: UserType,
    /// Inactive users cannot sign in or use tokens.
    pub active: bool,
    /// Free-form attributes.
    pub attributes: Map<String, Value>,
    /// Whether a password is set.
    pub has_password: bool,
    /// Creation time.
    pub created_at: Millis,
    /// Last change.
    pub updated_at: Millis,
    /// Last successful sign-in.
    pub last_login_at: Option<Millis>,
}

/// Filter and page for listing users, ordered by username.
#[derive(Clone, Debug, Default)]
pub struct UserFilter {
    /// Case-insensitive substring of the username.
    pub username: Option<String>,
    /// Case-insensitive substring of the email.
    pub email: Option<String>,
    /// Only users whose username sorts after this key (the page cursor).
    pub after: Option<String>,
    /// Page size.
    pub limit: u32,
}

/// The key uniqueness and look-ups use for usernames, emails and group
/// names: trimmed and lower-cased, so `Ada` and `ada` are one account.
pub fn lookup_key(text: &str) -> String {
    use unicode_normalization::UnicodeNormalization as _;
    // NFKC folds compatibility forms (fullwidth `ａｄａ` is `ada`).
    text.trim().nfkc().collect::<String>().to_lowercase()
}

/// Invisible formatting characters (zero-width spaces and joiners, bidi
/// controls) that make two names look alike; refused in names.
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
        | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}' | '\u{FFA0}')
}

const MAX_NAME: usize = 150;
const MAX_EMAIL: usize = 254;
const MAX_DISPLAY_NAME: usize = 255;
const MAX_ATTRIBUTES_BYTES: usize = 64 * 1024;

pub(crate) fn check_name(field: &'static str, name: &str) -> Result<(), IdentityError> {
    let invalid = |message: &str| IdentityError::invalid(field, message);
    if name.is_empty() {
        return Err(invalid("must not be empty"));
    }
    if name.chars().count() > MAX_NAME {
        return Err(invalid("must be at most 150 characters"));
    }
    if name.trim() != name {
        return Err(invalid("must not start or end with whitespace"));
    }
    if name.chars().any(char::is_control) {
        return Err(invalid("must not contain control characters"));
    }
    if name.chars().any(is_invisible) {
        return Err(invalid("must not contain invisible formatting characters"));
    }
    Ok(())
}

fn check_email(email: &str) -> Result<(), IdentityError> {
    let invalid = |message: &str| IdentityError::invalid("email", message);
    if email.len() > MAX_EMAIL {
        return Err(invalid("must be at most 254 bytes"));
    }
    let Some((local, domain)) = email.split_once('@') else {
        return Err(invalid("must be an address like name@example.org"));
    };
    let well_formed = !local.is_empty()
        && !domain.is_empty()
        && !domain.contains('@')
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if !well_formed {
        return Err(invalid("must be an address like name@example.org"));
    }
    Ok(())
}

pub(super) fn check_attributes(attributes: &Map<String, Value>) -> Result<(), IdentityError> {
    if Value::Object(attributes.clone()).to_string().len() > MAX_ATTRIBUTES_BYTES {
        return Err(IdentityError::invalid(
            "attributes",
            "must be at most 64 KiB of JSON",
        ));
    }
    Ok(())
}

fn check_display_name(name: &str) -> Result<(), IdentityError> {
    if name.chars().count() > MAX_DISPLAY_NAME || name.chars().any(char::is_control) {
        return Err(IdentityError::invalid(
            "display_name",
            "must be at most 255 characters without control characters",
        ));
    }
    Ok(())
}

/// How a password is being set.
enum NewPassword {
    None,
    Plain(String),
    Imported(String),
}

fn new_password(
    password: Option<&secrecy::SecretString>,
    hash: Option<password::ImportedHash>,
) -> Result<NewPassword, IdentityError> {
    use secrecy::ExposeSecret;
    match (password, hash) {
        (Some(_), Some(_)) => Err(IdentityError::invalid(
            "password_hash",
            "give either password or password_hash, not both",
        )),
        (Some(password), None) => {
            if password.expose_secret().is_empty() {
                return Err(IdentityError::invalid("password", "must not be empty"));
            }
            Ok(NewPassword::Plain(password.expose_secret().to_owned()))
        }
        (None, Some(hash)) => Ok(NewPassword::Imported(
            password::import(hash).map_err(IdentityError::PasswordHash)?,
        )),
        (None, None) => Ok(NewPassword::None),
    }
}

async fn resolve_password(password: NewPassword) -> Result<Option<String>, IdentityError> {
    match password {
        NewPassword::None => Ok(None),
        NewPassword::Imported(stored) => Ok(Some(stored)),
        NewPassword::Plain(plain) => spawn_hash(plain).await.map(Some),
    }
}

impl Directory {
    /// Creates a user, with a password or an imported hash, and records
    /// `user.create`.
    ///
    /// # Errors
    /// Invalid fields, a taken username or email, an unusable hash, or a
    /// database failure; nothing is written then.
    pub async fn create_user(
        &self,
        context: &AuditContext,
        input: CreateUser,
    ) -> Result<User, IdentityError> {
        check_name("username", &input.username)?;
        if let Some(email) = &input.email {
            check_email(email)?;
        }
        check_display_name(input.display_name.as_deref().unwrap_or_default())?;
        let attributes = input.attributes.unwrap_or_default();
        check_attributes(&attributes)?;
        let password =
            resolve_password(new_password(input.password.as_ref(), input.password_hash)?).await?;

        let now = self.clock.now();
        let user = User {
            id: UserId(Uuid::new_v4()),
            username: input.username,
            email: input.email,
            email_verified: input.email_verified.unwrap_or(false),
            display_name: input.display_name.unwrap_or_default(),
            user_type: input.user_type.unwrap_or(UserType::Internal),
            active: input.active.unwrap_or(true),
            attributes,
            has_password: password.is_some(),
            created_at: now,
            updated_at: now,
            last_login_at: None,
        };
        let event = Event::new(context, now, "user.create", Outcome::Success)
            .target("user", user.id)
            .detail("password", if password.is_some() { "set" } else { "unset" });
        self.write(context, event, async |tx: &mut Tx| {
            store::users::insert(tx.conn(), &user, password.as_deref()).await
        })
        .await?;
        Ok(user)
    }

    /// Changes the given fields of a user and records `user.update` with the
    /// names of the fields changed.
    ///
    /// # Errors
    /// Unknown user, invalid fields, a taken username or email, or a
    /// database failure; nothing is written then.
    pub async fn update_user(
        &self,
        context: &AuditContext,
        id: UserId,
        input: UpdateUser,
    ) -> Result<User, IdentityError> {
        let mut user = self.user(id).await?;
        let mut changed = Vec::new();
        if let Some(username) = input.username {
            check_name("username", &username)?;
            user.username = username;
            changed.push("username");
        }
        if let Some(email) = input.email {
            if let Some(email) = &email {
                check_email(email)?;
            }
            // A new address is unproven until said otherwise.
            if email.as_deref().map(lookup_key) != user.email.as_deref().map(lookup_key) {
                user.email_verified = false;
            }
            user.email = email;
            changed.push("email");
        }
        if let Some(verified) = input.email_verified {
            user.email_verified = verified;
            changed.push("email_verified");
        }
        if let Some(name) = input.display_name {
            check_display_name(&name)?;
            user.display_name = name;
            changed.push("display_name");
        }
        if let Some(user_type) = input.user_type {
            user.user_type = user_type;
            changed.push("user_type");
        }
        if let Some(active) = input.active {
            if user.active && !active {
                self.keep_an_admin(user.id).await?;
            }
            user.active = active;
            changed.push("active");
        }
        if let Some(attributes) = input.attributes {
            check_attributes(&attributes)?;
            user.attributes = attributes;
            changed.push("attributes");
        }
        let password =
            resolve_password(new_password(input.password.as_ref(), input.password_hash)?).await?;
        if password.is_some() {
            user.has_password = true;
            changed.push("password");
        }

        user.updated_at = self.clock.now();
        let event = Event::new(context, user.updated_at, "user.update", Outcome::Success)
            .target("user", user.id)
            .detail("changed", changed);
        self.write(context, event, async |tx: &mut Tx| {
            store::users::update(tx.conn(), &user).await?;
            if let Some(hash) = &password {
                store::users::set_password_hash(tx.conn(), user.id, hash).await?;
            }
            Ok(())
        })
        .await?;
        Ok(user)
    }

    /// Deletes a user, their memberships and tokens, and records
    /// `user.delete`.
    ///
    /// # Errors
    /// Unknown user or a database failure.
    pub async fn delete_user(
        &self,
        context: &AuditContext,
        id: UserId,
    ) -> Result<(), IdentityError> {
        self.keep_an_admin(id).await?;
        let event = Event::new(context, self.clock.now(), "user.delete", Outcome::Success)
            .target("user", id);
        self.write(
            context,
            event,
            async |tx: &mut Tx| match store::users::delete(tx.conn(), id).await? {
                true => Ok(()),
                false => Err(store::StoreError::MissingReference),
            },
        )
        .await
        .map_err(|error| match error {
            IdentityError::Store(store::StoreError::MissingReference) => {
                IdentityError::NotFound("user")
            }
            other => other,
        })
    }

    /// One user by id.
    ///
    /// # Errors
    /// Unknown user or a database failure.
    pub async fn user(&self, id: UserId) -> Result<User, IdentityError> {
        let mut conn = self.store.conn().await?;
        store::users::get(&mut conn, id)
            .await?
            .ok_or(IdentityError::NotFound("user"))
    }

    /// A page of users matching `query`.
    ///
    /// # Errors
    /// A database failure.
    pub async fn users(&self, query: &UserFilterQuery) -> Result<Vec<User>, IdentityError> {
        let filter = UserFilter {
            username: query.username.clone(),
            email: query.email.clone(),
            after: query.after.clone(),
            limit: query.limit(),
        };
        let mut conn = self.store.conn().await?;
        Ok(store::users::list(&mut conn, &filter).await?)
    }

    /// Checks a password for a username or email. Unknown users and users
    /// without a password cost one argon2id verification, like known ones.
    /// Inactive users never pass.
    ///
    /// # Errors
    /// A database failure or an unusable stored hash.
    pub async fn check_password(
        &self,
        login: &str,
        password: &str,
    ) -> Result<Option<User>, IdentityError> {
        let mut conn = self.store.conn().await?;
        let found = store::users::find_with_hash(&mut conn, &lookup_key(login)).await?;
        drop(conn);
        let Some((user, _)) = found else {
            self.verify_unknown_password(password).await?;
            return Ok(None);
        };
        Ok(self
            .verify_password(user.id, password)
            .await?
            .then_some(user))
    }

    /// Checks a user's password. A correct password stored in a foreign or
    /// weaker format is rehashed with the current parameters. A user without
    /// a password costs the same as one with. Inactive users never pass.
    ///
    /// # Errors
    /// A database failure or an unusable stored hash.
    pub async fn verify_password(&self, id: UserId, password: &str) -> Result<bool, IdentityError> {
        let mut conn = self.store.conn().await?;
        let user = store::users::get(&mut conn, id).await?;
        let stored = store::users::password_hash(&mut conn, id).await?;
        drop(conn);
        let (Some(user), Some(stored)) = (user, stored) else {
            self.verify_unknown_password(password).await?;
            return Ok(false);
        };
        let check = password.to_owned();
        let verified = spawn_blocking(move || password::verify(&check, &stored)).await?;
        match verified.map_err(IdentityError::PasswordHash)? {
            Verified::Mismatch => Ok(false),
            Verified::Match { .. } if !user.active => Ok(false),
            Verified::Match { upgrade } => {
                if upgrade {
                    let fresh = spawn_hash(password.to_owned()).await?;
                    let mut tx = self.store.begin().await?;
                    store::users::set_password_hash(tx.conn(), user.id, &fresh).await?;
                    tx.commit().await?;
                }
                Ok(true)
            }
        }
    }

    /// Spends one argon2id verification, so that a sign-in for an unknown
    /// user takes as long as one for a known user.
    ///
    /// # Errors
    /// The hashing worker crashed.
    pub async fn verify_unknown_password(&self, password: &str) -> Result<(), IdentityError> {
        let password = password.to_owned();
        spawn_blocking(move || password::verify_unknown_user(&password)).await
    }
}

async fn spawn_blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, IdentityError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|_| IdentityError::Internal("hashing task failed"))
}
