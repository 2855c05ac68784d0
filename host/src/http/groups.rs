//! `/api/v1/groups` and memberships.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::{Json, Router};
use uuid::Uuid;

use super::{Admin, ApiError, ApiJson, ApiPath, ApiQuery, AppState};
use crate::api::{
    AddMember, CreateGroup, ErrorBody, GroupFilterQuery, GroupView, MembershipQuery, Page,
    UpdateGroup, UserView,
};
use crate::identity::group::GroupId;
use crate::identity::user::{UserId, lookup_key};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/groups", get(list).post(create))
        .route("/groups/{id}", get(show).patch(update).delete(remove))
        .route("/groups/{id}/members", get(members).post(add_member))
        .route("/groups/{id}/members/{user}", delete(remove_member))
}

/// Lists groups by name.
#[utoipa::path(get, path = "/api/v1/groups", tag = "groups", params(GroupFilterQuery),
    responses((status = 200, body = Page<GroupView>), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn list(
    _admin: Admin,
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<GroupFilterQuery>,
) -> Result<Json<Page<GroupView>>, ApiError> {
    let groups = state.directory.groups(&query).await?;
    let full = groups.len() == query.limit() as usize;
    let next = full
        .then(|| groups.last().map(|group| lookup_key(&group.name)))
        .flatten();
    Ok(Json(Page {
        items: groups.iter().map(GroupView::from).collect(),
        next,
    }))
}

/// Creates a group, optionally nested in another.
#[utoipa::path(post, path = "/api/v1/groups", tag = "groups", request_body = CreateGroup,
    responses((status = 201, body = GroupView), (status = 400, body = ErrorBody),
        (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn create(
    Admin(caller): Admin,
    State(state): State<AppState>,
    ApiJson(input): ApiJson<CreateGroup>,
) -> Result<(StatusCode, Json<GroupView>), ApiError> {
    let group = state.directory.create_group(&caller.context, input).await?;
    Ok((StatusCode::CREATED, Json(GroupView::from(&group))))
}

/// One group.
#[utoipa::path(get, path = "/api/v1/groups/{id}", tag = "groups",
    params(("id" = Uuid, Path, description = "group id")),
    responses((status = 200, body = GroupView), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn show(
    _admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<GroupView>, ApiError> {
    Ok(Json(GroupView::from(
        &state.directory.group(GroupId(id)).await?,
    )))
}

/// Renames, moves or re-attributes a group.
#[utoipa::path(patch, path = "/api/v1/groups/{id}", tag = "groups", request_body = UpdateGroup,
    params(("id" = Uuid, Path, description = "group id")),
    responses((status = 200, body = GroupView), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn update(
    Admin(caller): Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(input): ApiJson<UpdateGroup>,
) -> Result<Json<GroupView>, ApiError> {
    let group = state
        .directory
        .update_group(&caller.context, GroupId(id), input)
        .await?;
    Ok(Json(GroupView::from(&group)))
}

/// Deletes a group; its subgroups move to the top level.
#[utoipa::path(delete, path = "/api/v1/groups/{id}", tag = "groups",
    params(("id" = Uuid, Path, description = "group id")),
    responses((status = 204), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn remove(
    Admin(caller): Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<StatusCode, ApiError> {
    state
        .directory
        .delete_group(&caller.context, GroupId(id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Members of a group, directly or (`effective=true`) through nesting.
#[utoipa::path(get, path = "/api/v1/groups/{id}/members", tag = "groups",
    params(("id" = Uuid, Path, description = "group id"), MembershipQuery),
    responses((status = 200, body = [UserView]), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn members(
    _admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(query): ApiQuery<MembershipQuery>,
) -> Result<Json<Vec<UserView>>, ApiError> {
    let users = state
        .directory
        .members(GroupId(id), query.effective)
        .await?;
    Ok(Json(users.iter().map(UserView::from).collect()))
}

/// Adds a user to a group.
#[utoipa::path(post, path = "/api/v1/groups/{id}/members", tag = "groups", request_body = AddMember,
    params(("id" = Uuid, Path, description = "group id")),
    responses((status = 204), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn add_member(
    Admin(caller): Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(input): ApiJson<AddMember>,
) -> Result<StatusCode, ApiError> {
    state
        .directory
        .add_member(&caller.context, GroupId(id), UserId(input.user))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Removes a user from a group.
#[utoipa::path(delete, path = "/api/v1/groups/{id}/members/{user}", tag = "groups",
    params(("id" = Uuid, Path, description = "group id"),
        ("user" = Uuid, Path, description = "user id")),
    responses((status = 204), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn remove_member(
    Admin(caller): Admin,
    State(state): State<AppState>,
    ApiPath((id, user)): ApiPath<(Uuid, Uuid)>,
) -> Result<StatusCode, ApiError> {
    state
        .directory
        .remove_member(&caller.context, GroupId(id), UserId(user))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
