//! API tokens: bearer secrets for the admin API and for users' own calls.
//!
//! A token's secret is `cst_` followed by 32 random bytes in base64url. Only
//! its SHA-256 is stored: the secret has full entropy, so a fast hash is as
//! safe as a slow one and costs nothing per request. The secret is shown
//! once, when the token is created.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest as _, Sha256};
use uuid::Uuid;

use crate::clock::Millis;
use crate::event::{AuditContext, Event, Outcome};
use crate::identity::user::{User, UserId};
use crate::identity::{Directory, IdentityError};
use crate::store::{self, StoreError, Tx};

/// Prefix of every token secret, so leaked tokens are easy to scan for.
pub const SECRET_PREFIX: &str = "cst_";

/// How often, at most, a token's last use is written back.
const LAST_USED_RESOLUTION: Millis = 60_000;

/// A token's id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TokenId(pub Uuid);

impl fmt::Display for TokenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// What a token may do.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum TokenScope {
    /// The whole admin API, while its owner is an admin.
    Admin,
    /// Only the owner's own resources (`/api/v1/me`).
    User,
}

impl TokenScope {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenScope::Admin => "admin",
            TokenScope::User => "user",
        }
    }

    /// Parses a stored name.
    pub fn parse(text: &str) -> Option<TokenScope> {
        match text {
            "admin" => Some(TokenScope::Admin),
            "user" => Some(TokenScope::User),
            _ => None,
        }
    }
}

/// An API token without its secret.
#[derive(Clone, Debug)]
pub struct ApiToken {
    /// Stable id.
    pub id: TokenId,
    /// Owner.
    pub user_id: UserId,
    /// What the owner called it.
    pub name: String,
    /// What it may do.
    pub scope: TokenScope,
    /// Creation time.
    pub created_at: Millis,
    /// After this it no longer works.
    pub expires_at: Option<Millis>,
    /// When it was revoked.
    pub revoked_at: Option<Millis>,
    /// Last use, to the minute.
    pub last_used_at: Option<Millis>,
}

/// A caller authenticated by a token.
#[derive(Clone, Debug)]
pub struct Principal {
    /// The token used.
    pub token: ApiToken,
    /// Its owner.
    pub user: User,
    /// Whether the call may use the admin API.
    pub admin: bool,
}

impl Principal {
    /// The audit context of calls made with this token.
    pub fn audit_context(&self, client_ip: Option<String>) -> AuditContext {
        AuditContext {
            actor: format!("user:{}", self.user.id),
            client_ip,
        }
    }
}

/// A fresh random token secret.
pub fn generate_secret() -> SecretString {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    SecretString::from(format!("{SECRET_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes)))
}

/// The stored form of a secret: lowercase hex SHA-256.
pub fn secret_hash(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    digest.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Parameters of a new token.
#[derive(Clone, Debug)]
pub struct NewToken {
    /// Owner.
    pub user_id: UserId,
    /// Label.
    pub name: String,
    /// What it may do.
    pub scope: TokenScope,
    /// Expiry, if any.
    pub expires_at: Option<Millis>,
    /// A secret chosen by the operator (bootstrap); random otherwise.
    pub secret: Option<SecretString>,
}

impl Directory {
    /// Creates a token and records `token.create`. Returns the token and its
    /// secret, which is never shown again.
    ///
    /// # Errors
    /// Unknown owner, an admin scope for an owner who is not an admin, a
    /// past expiry, or a database failure.
    pub async fn issue_token(
        &self,
        context: &AuditContext,
        input: NewToken,
    ) -> Result<(ApiToken, SecretString), IdentityError> {
        let owner = self.user(input.user_id).await?;
        let bad_name = input.name.trim().is_empty()
            || input.name.chars().count() > 100
            || input.name.chars().any(char::is_control);
        if bad_name {
            return Err(IdentityError::invalid(
                "name",
                "must be 1 to 100 characters without control characters",
            ));
        }
        let now = self.clock().now();
        if input.expires_at.is_some_and(|at| at <= now) {
            return Err(IdentityError::invalid(
                "expires_at",
                "must be in the future",
            ));
        }
        if input.scope == TokenScope::Admin && !self.is_admin(&owner).await? {
            return Err(IdentityError::invalid(
                "scope",
                "admin tokens need an admin owner",
            ));
        }
        let secret = input.secret.unwrap_or_else(generate_secret);
        let token = ApiToken {
            id: TokenId(Uuid::new_v4()),
            user_id: owner.id,
            name: input.name,
            scope: input.scope,
            created_at: now,
            expires_at: input.expires_at,
            revoked_at: None,
            last_used_at: None,
        };
        let hash = secret_hash(secret.expose_secret());
        let event = Event::new(context, now, "token.create", Outcome::Success)
            .target("token", token.id)
            .detail("user", owner.id.to_string())
            .detail("scope", token.scope.as_str());
        self.write(context, event, async |tx: &mut Tx| {
            store::tokens::insert(tx.conn(), &token, &hash).await
        })
        .await?;
        Ok((token, secret))
    }

    /// Revokes a token and records `token.revoke`. Revoking a revoked token
    /// changes nothing.
    ///
    /// # Errors
    /// Unknown token or a database failure.
    pub async fn revoke_token(
        &self,
        context: &AuditContext,
        id: TokenId,
    ) -> Result<(), IdentityError> {
        let now = self.clock().now();
        let event = Event::new(context, now, "token.revoke", Outcome::Success).target("token", id);
        self.write(
            context,
            event,
            async |tx: &mut Tx| match store::tokens::revoke(tx.conn(), id, now).await? {
                true => Ok(()),
                false => Err(StoreError::MissingReference),
            },
        )
        .await
        .map_err(|error| match error {
            IdentityError::Store(StoreError::MissingReference) => IdentityError::NotFound("token"),
            other => other,
        })
    }

    /// One token by id.
    ///
    /// # Errors
    /// Unknown token or a database failure.
    pub async fn token(&self, id: TokenId) -> Result<ApiToken, IdentityError> {
        let mut conn = self.store().conn().await?;
        store::tokens::get(&mut conn, id)
            .await?
            .ok_or(IdentityError::NotFound("token"))
    }

    /// Tokens, all or one user's, newest first.
    ///
    /// # Errors
    /// A database failure.
    pub async fn tokens(&self, user: Option<UserId>) -> Result<Vec<ApiToken>, IdentityError> {
        let mut conn = self.store().conn().await?;
        Ok(store::tokens::list(&mut conn, user).await?)
    }

    /// The caller behind a bearer secret, if the token exists, is neither
    /// expired nor revoked, and its owner is active.
    ///
    /// # Errors
    /// A database failure.
    pub async fn authenticate_token(
        &self,
        secret: &str,
    ) -> Result<Option<Principal>, IdentityError> {
        if secret.is_empty() {
            return Ok(None);
        }
        let mut conn = self.store().conn().await?;
        let Some(token) = store::tokens::find_by_hash(&mut conn, &secret_hash(secret)).await?
        else {
            return Ok(None);
        };
        drop(conn);
        let now = self.clock().now();
        if token.revoked_at.is_some() || token.expires_at.is_some_and(|at| at <= now) {
            return Ok(None);
        }
        let user = self.user(token.user_id).await?;
        if !user.active {
            return Ok(None);
        }
        let admin = token.scope == TokenScope::Admin && self.is_admin(&user).await?;
        if token
            .last_used_at
            .is_none_or(|at| now - at >= LAST_USED_RESOLUTION)
        {
            let mut conn = self.store().conn().await?;
            store::tokens::touch(&mut conn, token.id, now).await?;
        }
        Ok(Some(Principal { token, user, admin }))
    }
}
