//! First start: the admin group, and a first admin from the environment or
//! through a one-time setup link.
//!
//! Nothing here acts once an admin exists: the bootstrap variables can stay
//! set in a deployment without resetting anything on later starts.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Map;
use uuid::Uuid;

use crate::api::{CreateGroup, CreateUser};
use crate::clock::Millis;
use crate::config::Config;
use crate::event::{AuditContext, Event, Outcome};
use crate::identity::group::{ADMIN_GROUP, Group};
use crate::identity::user::{User, UserId, UserType, lookup_key};
use crate::identity::{Directory, IdentityError, spawn_hash};
use crate::store::{self, Taken};
use crate::token::{self, ApiToken, NewToken, TokenId, TokenScope};

/// Name of the user the bootstrap variables create.
pub const BOOTSTRAP_USERNAME: &str = "admin";

/// How long a setup link stays valid.
const SETUP_LINK_LIFETIME: Millis = 24 * 60 * 60 * 1000;

/// What the start-up bootstrap did.
#[derive(Debug)]
pub enum Bootstrap {
    /// An admin exists; nothing was done.
    AdminExists,
    /// The bootstrap variables created the first admin and/or token.
    FromEnvironment,
    /// No admin and no bootstrap variables: here is a one-time setup link.
    SetupLink(SecretString),
}

/// Makes sure the admin group exists and, when no admin exists yet, creates
/// one from the bootstrap settings or a fresh setup link.
///
/// # Errors
/// A database failure or an unusable bootstrap value.
pub async fn run(directory: &Directory, config: &Config) -> Result<Bootstrap, IdentityError> {
    let system = AuditContext::system();
    let admin_group = ensure_admin_group(directory, &system).await?;
    if !directory
        .members(admin_group.id, true)
        .await?
        .iter()
        .all(|user| !user.active)
    {
        return Ok(Bootstrap::AdminExists);
    }
    let password = config.bootstrap_admin_password.as_ref();
    let token = config.bootstrap_token.as_ref();
    if password.is_none() && token.is_none() {
        let secret = new_setup_link(directory).await?;
        let url = format!("{}/setup/{}", config.public_url(), secret.expose_secret());
        return Ok(Bootstrap::SetupLink(SecretString::from(url)));
    }

    let admin = match directory.store_user_named(BOOTSTRAP_USERNAME).await? {
        Some(user) => user,
        None => {
            let input = CreateUser::named(BOOTSTRAP_USERNAME);
            directory.create_user(&system, input).await?
        }
    };
    // A deactivated `admin` is no admin: the bootstrap brings it back.
    let update = crate::api::UpdateUser {
        password: password.cloned(),
        active: (!admin.active).then_some(true),
        ..Default::default()
    };
    if update.password.is_some() || update.active.is_some() {
        directory.update_user(&system, admin.id, update).await?;
    }
    directory
        .add_member(&system, admin_group.id, admin.id)
        .await?;
    if let Some(secret) = token {
        if secret.expose_secret().chars().count() < 16 {
            tracing::warn!(
                "CASTELLAN_BOOTSTRAP_TOKEN is shorter than 16 characters; use a long random value"
            );
        }
        let new = NewToken {
            user_id: admin.id,
            name: "bootstrap".to_owned(),
            scope: TokenScope::Admin,
            expires_at: None,
            secret: Some(secret.clone()),
        };
        match directory.issue_token(&system, new).await {
            Ok(_) | Err(IdentityError::Conflict(Taken::Row)) => {}
            Err(error) => return Err(error),
        }
    }
    let mut tx = directory.store().begin().await?;
    store::setup::clear(tx.conn()).await?;
    tx.commit().await?;
    Ok(Bootstrap::FromEnvironment)
}

async fn ensure_admin_group(
    directory: &Directory,
    system: &AuditContext,
) -> Result<Group, IdentityError> {
    if let Some(group) = directory.group_named(ADMIN_GROUP).await? {
        return Ok(group);
    }
    let input = CreateGroup {
        name: ADMIN_GROUP.to_owned(),
        parent: None,
        attributes: None,
    };
    match directory.create_group(system, input).await {
        Ok(group) => Ok(group),
        // Another replica created it at the same moment.
        Err(IdentityError::Conflict(Taken::GroupName)) => directory
            .group_named(ADMIN_GROUP)
            .await?
            .ok_or(IdentityError::Internal("admin group vanished")),
        Err(error) => Err(error),
    }
}

async fn new_setup_link(directory: &Directory) -> Result<SecretString, IdentityError> {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let secret = URL_SAFE_NO_PAD.encode(bytes);
    let now = directory.clock().now();
    let mut tx = directory.store().begin().await?;
    let id = Uuid::new_v4().to_string();
    store::setup::replace(
        tx.conn(),
        &id,
        &token::secret_hash(&secret),
        now,
        now + SETUP_LINK_LIFETIME,
    )
    .await?;
    tx.commit().await?;
    Ok(SecretString::from(secret))
}

/// Whether `secret` is a live setup link.
///
/// # Errors
/// A database failure.
pub async fn setup_link_is_live(
    directory: &Directory,
    secret: &str,
) -> Result<bool, IdentityError> {
    let mut conn = directory.store().conn().await?;
    let now = directory.clock().now();
    Ok(store::setup::is_live(&mut conn, &token::secret_hash(secret), now).await?)
}

/// Why completing the setup failed.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The link is unknown, used or expired.
    #[error("this setup link is not valid any more; restart Castellan for a new one")]
    LinkInvalid,
    /// The form was filled in wrongly.
    #[error(transparent)]
    Identity(#[from] IdentityError),
}

/// Uses a setup link: creates the first admin with `password`, puts them in
/// the admin group and gives them an admin API token, all in one
/// transaction with the link's consumption.
///
/// # Errors
/// An invalid link, an unusable username or password, or a database
/// failure; nothing is written then.
pub async fn complete_setup(
    directory: &Directory,
    link: &str,
    username: &str,
    password: &SecretString,
    client_ip: Option<String>,
) -> Result<(User, SecretString), SetupError> {
    if !setup_link_is_live(directory, link).await? {
        return Err(SetupError::LinkInvalid);
    }
    crate::identity::user::check_name("username", username)?;
    if password.expose_secret().chars().count() < 8 {
        return Err(IdentityError::invalid("password", "must be at least 8 characters").into());
    }
    let hash = spawn_hash(password.expose_secret().to_owned()).await?;
    let Some(group) = directory.group_named(ADMIN_GROUP).await? else {
        return Err(IdentityError::Internal("admin group missing").into());
    };

    let now = directory.clock().now();
    let user = first_admin(username, now);
    let secret = token::generate_secret();
    let token = ApiToken {
        id: TokenId(Uuid::new_v4()),
        user_id: user.id,
        name: "setup".to_owned(),
        scope: TokenScope::Admin,
        created_at: now,
        expires_at: None,
        revoked_at: None,
        last_used_at: None,
    };
    let context = AuditContext {
        actor: format!("user:{}", user.id),
        client_ip,
    };
    let mut tx = directory.store().begin().await?;
    if !store::setup::consume(tx.conn(), &token::secret_hash(link), now).await? {
        return Err(SetupError::LinkInvalid);
    }
    store::users::insert(tx.conn(), &user, Some(&hash))
        .await
        .map_err(conflict)?;
    store::groups::add_member(tx.conn(), group.id, user.id, now)
        .await
        .map_err(conflict)?;
    store::tokens::insert(
        tx.conn(),
        &token,
        &token::secret_hash(secret.expose_secret()),
    )
    .await
    .map_err(conflict)?;
    let event =
        Event::new(&context, now, "setup.complete", Outcome::Success).target("user", user.id);
    store::events::insert(tx.conn(), &event)
        .await
        .map_err(conflict)?;
    tx.commit().await.map_err(conflict)?;
    Ok((user, secret))
}

impl From<store::StoreError> for SetupError {
    fn from(error: store::StoreError) -> Self {
        conflict(error)
    }
}

fn conflict(error: store::StoreError) -> SetupError {
    match error {
        store::StoreError::Conflict(taken) => IdentityError::Conflict(taken).into(),
        other => IdentityError::Store(other).into(),
    }
}

fn first_admin(username: &str, now: Millis) -> User {
    User {
        id: UserId(Uuid::new_v4()),
        username: username.to_owned(),
        email: None,
        email_verified: false,
        display_name: String::new(),
        user_type: UserType::Internal,
        active: true,
        attributes: Map::new(),
        has_password: true,
        created_at: now,
        updated_at: now,
        last_login_at: None,
    }
}

impl Directory {
    /// One user by exact username, for bootstrap.
    async fn store_user_named(&self, username: &str) -> Result<Option<User>, IdentityError> {
        let mut conn = self.store().conn().await?;
        Ok(store::users::find_by_username(&mut conn, &lookup_key(username)).await?)
    }
}
