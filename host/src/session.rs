//! Browser sessions: created by the user login stage, found by the session
//! cookie, ended by logout or expiry. The cookie holds a random secret; only
//! its SHA-256 is stored.

use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

use crate::clock::Millis;
use crate::identity::user::{User, UserId};
use crate::identity::{Directory, IdentityError};
use crate::store;
use crate::token;

/// A signed-in browser.
#[derive(Clone, Debug)]
pub struct Session {
    /// Stable id.
    pub id: Uuid,
    /// Who is signed in.
    pub user_id: UserId,
    /// Start.
    pub created_at: Millis,
    /// End.
    pub expires_at: Millis,
    /// Last request seen, to the minute.
    pub last_seen_at: Millis,
}

/// Where a session was started from.
#[derive(Clone, Debug, Default)]
pub struct SessionOrigin {
    /// Client address.
    pub client_ip: Option<String>,
    /// Client `User-Agent`, cut to 256 characters.
    pub user_agent: Option<String>,
}

impl Directory {
    /// Starts a session for `user` lasting `lifetime` milliseconds and
    /// returns it with the cookie secret.
    ///
    /// # Errors
    /// A database failure.
    pub async fn start_session(
        &self,
        user: UserId,
        lifetime: Millis,
        origin: &SessionOrigin,
    ) -> Result<(Session, SecretString), IdentityError> {
        let now = self.clock().now();
        let session = Session {
            id: Uuid::new_v4(),
            user_id: user,
            created_at: now,
            expires_at: now + lifetime,
            last_seen_at: now,
        };
        let secret = token::generate_secret();
        let user_agent = origin
            .user_agent
            .as_deref()
            .map(|agent| agent.chars().take(256).collect::<String>());
        let mut tx = self.store().begin().await?;
        store::sessions::insert(
            tx.conn(),
            &session,
            &token::secret_hash(secret.expose_secret()),
            origin.client_ip.as_deref(),
            user_agent.as_deref(),
        )
        .await?;
        store::users::record_login(tx.conn(), user, now).await?;
        tx.commit().await?;
        Ok((session, secret))
    }

    /// The live session behind a cookie secret, with its active user.
    ///
    /// # Errors
    /// A database failure.
    pub async fn session(&self, secret: &str) -> Result<Option<(Session, User)>, IdentityError> {
        let now = self.clock().now();
        let mut conn = self.store().conn().await?;
        let Some(session) = store::sessions::find(&mut conn, &token::secret_hash(secret)).await?
        else {
            return Ok(None);
        };
        if session.expires_at <= now {
            return Ok(None);
        }
        let Some(user) = store::users::get(&mut conn, session.user_id).await? else {
            return Ok(None);
        };
        if !user.active {
            return Ok(None);
        }
        if now - session.last_seen_at >= 60_000 {
            store::sessions::touch(&mut conn, session.id, now).await?;
        }
        Ok(Some((session, user)))
    }

    /// Ends a session.
    ///
    /// # Errors
    /// A database failure.
    pub async fn end_session(&self, id: Uuid) -> Result<(), IdentityError> {
        let mut conn = self.store().conn().await?;
        store::sessions::delete(&mut conn, id).await?;
        Ok(())
    }
}
