//! `/api/v1/users` and `/api/v1/me`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use uuid::Uuid;

use super::{Admin, ApiError, ApiJson, ApiPath, ApiQuery, AppState, Caller};
use crate::api::{
    CreateUser, ErrorBody, GroupView, MembershipQuery, Page, UpdateUser, UserFilterQuery, UserView,
};
use crate::identity::user::{UserId, lookup_key};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/users", get(list).post(create))
        .route("/users/{id}", get(show).patch(update).delete(remove))
        .route("/users/{id}/groups", get(groups))
        .route("/me", get(me))
}

/// Lists users by username, filtered by parts of the username or email.
#[utoipa::path(get, path = "/api/v1/users", tag = "users", params(UserFilterQuery),
    responses((status = 200, body = Page<UserView>), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn list(
    _admin: Admin,
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<UserFilterQuery>,
) -> Result<Json<Page<UserView>>, ApiError> {
    let users = state.directory.users(&query).await?;
    let full = users.len() == query.limit() as usize;
    let next = full
        .then(|| users.last().map(|user| lookup_key(&user.username)))
        .flatten();
    Ok(Json(Page {
        items: users.iter().map(UserView::from).collect(),
        next,
    }))
}

/// Creates a user with a password, an imported hash, or neither.
#[utoipa::path(post, path = "/api/v1/users", tag = "users", request_body = CreateUser,
    responses((status = 201, body = UserView), (status = 400, body = ErrorBody),
        (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn create(
    Admin(caller): Admin,
    State(state): State<AppState>,
    ApiJson(input): ApiJson<CreateUser>,
) -> Result<(StatusCode, Json<UserView>), ApiError> {
    let user = state.directory.create_user(&caller.context, input).await?;
    Ok((StatusCode::CREATED, Json(UserView::from(&user))))
}

/// One user.
#[utoipa::path(get, path = "/api/v1/users/{id}", tag = "users",
    params(("id" = Uuid, Path, description = "user id")),
    responses((status = 200, body = UserView), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn show(
    _admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<UserView>, ApiError> {
    let user = state.directory.user(UserId(id)).await?;
    Ok(Json(UserView::from(&user)))
}

/// Changes the given fields of a user.
#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "users", request_body = UpdateUser,
    params(("id" = Uuid, Path, description = "user id")),
    responses((status = 200, body = UserView), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn update(
    Admin(caller): Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(input): ApiJson<UpdateUser>,
) -> Result<Json<UserView>, ApiError> {
    let user = state
        .directory
        .update_user(&caller.context, UserId(id), input)
        .await?;
    Ok(Json(UserView::from(&user)))
}

/// Deletes a user with their memberships and tokens.
#[utoipa::path(delete, path = "/api/v1/users/{id}", tag = "users",
    params(("id" = Uuid, Path, description = "user id")),
    responses((status = 204), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn remove(
    Admin(caller): Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<StatusCode, ApiError> {
    if caller.principal.user.id == UserId(id) {
        return Err(ApiError::invalid(
            "id",
            "you cannot delete your own account",
        ));
    }
    state
        .directory
        .delete_user(&caller.context, UserId(id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The groups a user is in, directly or (`effective=true`) through nesting.
#[utoipa::path(get, path = "/api/v1/users/{id}/groups", tag = "users",
    params(("id" = Uuid, Path, description = "user id"), MembershipQuery),
    responses((status = 200, body = [GroupView]), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn groups(
    _admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(query): ApiQuery<MembershipQuery>,
) -> Result<Json<Vec<GroupView>>, ApiError> {
    let groups = state
        .directory
        .groups_of(UserId(id), query.effective)
        .await?;
    Ok(Json(groups.iter().map(GroupView::from).collect()))
}

/// The owner of the token used.
#[utoipa::path(get, path = "/api/v1/me", tag = "users",
    responses((status = 200, body = UserView), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn me(caller: Caller) -> Json<UserView> {
    Json(UserView::from(&caller.principal.user))
}
