//! `/api/v1/blueprints`: applying a blueprint sent as YAML or JSON.

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;
use axum::http::header::CONTENT_TYPE;
use axum::routing::post;
use axum::{Json, Router};

use super::{Admin, ApiError, AppState};
use crate::api::ErrorBody;
use crate::blueprint::{self, Blueprint, BlueprintError, Report};

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/blueprints/apply", post(apply))
}

/// Applies a blueprint in one transaction and answers what changed. The
/// body is the YAML text (`application/yaml` or `text/plain`) or the same
/// structure as `application/json`. A wrong blueprint answers 400
/// `invalid_request` naming the entry, and nothing is written.
#[utoipa::path(post, path = "/api/v1/blueprints/apply", tag = "blueprints",
    request_body(description = "The blueprint; see docs/blueprints.md", content(
        (String = "application/yaml"), (String = "text/plain"), (Object = "application/json"))),
    responses((status = 200, body = Report), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn apply(
    Admin(caller): Admin,
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Report>, ApiError> {
    let body = body.map_err(ApiError::from)?;
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::invalid("body", "the blueprint must be UTF-8 text"))?;
    let blueprint = parse(&headers, text)?;
    let directory = &state.directory;
    let report = blueprint::apply(
        directory.store(),
        directory.clock(),
        &caller.context,
        &blueprint,
    )
    .await
    .map_err(api_error)?;
    Ok(Json(report))
}

/// Parses the body by its media type; YAML when none is given.
fn parse(headers: &HeaderMap, text: &str) -> Result<Blueprint, ApiError> {
    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    let media_type = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let parsed = match media_type.as_str() {
        "application/json" => blueprint::parse_json(text),
        "" | "application/yaml" | "application/x-yaml" | "text/yaml" | "text/x-yaml"
        | "text/plain" => blueprint::parse(text),
        other => {
            return Err(ApiError::invalid(
                "content-type",
                format!(
                    "send the blueprint as application/yaml, text/plain or \
                     application/json, not {other}"
                ),
            ));
        }
    };
    parsed.map_err(api_error)
}

fn api_error(error: BlueprintError) -> ApiError {
    match error {
        BlueprintError::Store(store) => store.into(),
        BlueprintError::Entry { .. } => ApiError::invalid("entries", error.to_string()),
        error if error.is_invalid_blueprint() => ApiError::invalid("blueprint", error.to_string()),
        other => ApiError::internal(&other),
    }
}
