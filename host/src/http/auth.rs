//! Bearer-token callers of the admin API.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use super::{ApiError, AppState, client_ip};
use crate::event::AuditContext;
use crate::token::Principal;

/// Any caller with a valid token.
pub struct Caller {
    /// Who the token belongs to.
    pub principal: Principal,
    /// Actor and address for audit events.
    pub context: AuditContext,
}

/// A caller allowed to use the admin API.
pub struct Admin(pub Caller);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let secret = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            // RFC 7235 §2.1: the scheme name is case-insensitive.
            .and_then(|value| value.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token)
            .map(str::trim)
            .ok_or_else(ApiError::unauthorized)?;
        let ip = client_ip(&parts.extensions);
        let Some(principal) = state.directory.authenticate_token(secret).await? else {
            tracing::info!(
                client_ip = ip.as_deref().unwrap_or(""),
                "rejected bearer token"
            );
            return Err(ApiError::unauthorized());
        };
        let context = principal.audit_context(ip);
        Ok(Caller { principal, context })
    }
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let caller = Caller::from_request_parts(parts, state).await?;
        if !caller.principal.admin {
            return Err(ApiError::forbidden());
        }
        Ok(Admin(caller))
    }
}
