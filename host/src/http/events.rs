//! `/api/v1/events`: the audit log, newest first.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};

use super::{Admin, ApiError, ApiQuery, AppState};
use crate::api::{ErrorBody, EventQuery, EventView, Page};
use crate::event::EventFilter;
use crate::store;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/events", get(list))
}

/// Lists audit events, newest first, filtered by action, target or actor.
#[utoipa::path(get, path = "/api/v1/events", tag = "events", params(EventQuery),
    responses((status = 200, body = Page<EventView>), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn list(
    _admin: Admin,
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<EventQuery>,
) -> Result<Json<Page<EventView>>, ApiError> {
    let filter = EventFilter {
        action: query.action.clone(),
        target_id: query.target.clone(),
        actor: query.actor.clone(),
        before: query.before,
        limit: query.limit(),
    };
    let mut conn = state.directory.store().conn().await?;
    let events = store::events::list(&mut conn, &filter).await?;
    let full = events.len() == filter.limit as usize;
    let next = full
        .then(|| events.last().map(|event| event.id.to_string()))
        .flatten();
    Ok(Json(Page {
        items: events.iter().map(EventView::from).collect(),
        next,
    }))
}
