//! `/api/v1/tokens`: admins manage every token; other callers manage their
//! own user-scope tokens.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use secrecy::ExposeSecret;
use uuid::Uuid;

use super::{ApiError, ApiJson, ApiPath, ApiQuery, AppState, Caller};
use crate::api::{CreateToken, CreatedToken, ErrorBody, TokenQuery, TokenView, parse_time};
use crate::identity::user::UserId;
use crate::token::{NewToken, TokenId, TokenScope};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/tokens", get(list).post(create))
        .route("/tokens/{id}", get(show).delete(revoke))
}

/// Lists tokens: all (admins) or the caller's own.
#[utoipa::path(get, path = "/api/v1/tokens", tag = "tokens", params(TokenQuery),
    responses((status = 200, body = [TokenView]), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn list(
    caller: Caller,
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<TokenQuery>,
) -> Result<Json<Vec<TokenView>>, ApiError> {
    let user = match (caller.principal.admin, query.user) {
        (true, user) => user.map(UserId),
        (false, None) => Some(caller.principal.user.id),
        (false, Some(user)) if UserId(user) == caller.principal.user.id => Some(UserId(user)),
        (false, Some(_)) => return Err(ApiError::forbidden()),
    };
    let tokens = state.directory.tokens(user).await?;
    Ok(Json(tokens.iter().map(TokenView::from).collect()))
}

/// Creates a token; the response holds its secret, shown only this once.
#[utoipa::path(post, path = "/api/v1/tokens", tag = "tokens", request_body = CreateToken,
    responses((status = 201, body = CreatedToken), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn create(
    caller: Caller,
    State(state): State<AppState>,
    ApiJson(input): ApiJson<CreateToken>,
) -> Result<(StatusCode, Json<CreatedToken>), ApiError> {
    let owner = input.user.map(UserId).unwrap_or(caller.principal.user.id);
    let scope = input.scope.unwrap_or(TokenScope::User);
    let own_user_token = owner == caller.principal.user.id && scope == TokenScope::User;
    if !caller.principal.admin && !own_user_token {
        return Err(ApiError::forbidden());
    }
    let expires_at = match input.expires_at.as_deref() {
        Some(text) => Some(
            parse_time(text)
                .ok_or_else(|| ApiError::invalid("expires_at", "must be an RFC 3339 time"))?,
        ),
        None => None,
    };
    let new = NewToken {
        user_id: owner,
        name: input.name,
        scope,
        expires_at,
        secret: None,
    };
    let (token, secret) = state.directory.issue_token(&caller.context, new).await?;
    let created = CreatedToken {
        token: TokenView::from(&token),
        secret: secret.expose_secret().to_owned(),
    };
    Ok((StatusCode::CREATED, Json(created)))
}

/// One token (admins, or its owner).
#[utoipa::path(get, path = "/api/v1/tokens/{id}", tag = "tokens",
    params(("id" = Uuid, Path, description = "token id")),
    responses((status = 200, body = TokenView), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn show(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<TokenView>, ApiError> {
    let token = state.directory.token(TokenId(id)).await?;
    if !caller.principal.admin && token.user_id != caller.principal.user.id {
        return Err(ApiError::not_found("token"));
    }
    Ok(Json(TokenView::from(&token)))
}

/// Revokes a token (admins, or its owner). It stops working at once.
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "tokens",
    params(("id" = Uuid, Path, description = "token id")),
    responses((status = 204), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn revoke(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<StatusCode, ApiError> {
    let token = state.directory.token(TokenId(id)).await?;
    if !caller.principal.admin && token.user_id != caller.principal.user.id {
        return Err(ApiError::not_found("token"));
    }
    state
        .directory
        .revoke_token(&caller.context, token.id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
