//! The HTTP edge: the axum router, request ids, metrics, limits, and the
//! extractors that turn bad input into the API's own errors.

mod auth;
mod blueprints;
mod error;
mod events;
mod flows;
mod groups;
mod health;
mod openapi;
mod page;
mod setup;
mod tokens;
mod users;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{
    ConnectInfo, DefaultBodyLimit, FromRequest, FromRequestParts, MatchedPath, Request,
};
use axum::http::{HeaderName, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::PrometheusHandle;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

pub use auth::{Admin, Caller};
pub use error::ApiError;
pub use page::Pages;

use crate::identity::Directory;

/// The request id header, set on every request and response.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// Identity operations.
    pub directory: Directory,
    /// Renders `/metrics`.
    pub metrics: Option<PrometheusHandle>,
    /// The external base URL.
    pub public_url: Arc<str>,
    /// HTML page templates.
    pub pages: Pages,
    /// The flow executor.
    pub flows: crate::flow::executor::Flows,
}

/// A JSON body whose rejections answer in the API's error shape.
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

/// A query string whose rejections answer in the API's error shape.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

/// A path parameter whose rejections answer in the API's error shape.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct ApiPath<T>(pub T);

/// The client address as the server saw it.
pub fn client_ip(connect: Option<&ConnectInfo<SocketAddr>>) -> Option<String> {
    connect.map(|ConnectInfo(address)| address.ip().to_string())
}

/// Limits applied to every request.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Largest body in bytes.
    pub max_body_bytes: usize,
    /// Time a request may take.
    pub request_timeout: Duration,
}

/// The whole application router.
pub fn router(state: AppState, limits: Limits) -> Router {
    let api = Router::new()
        .merge(users::routes())
        .merge(groups::routes())
        .merge(tokens::routes())
        .merge(events::routes())
        .merge(blueprints::routes())
        .merge(flows::api())
        .route("/openapi.json", get(openapi::document))
        .fallback(|| async { ApiError::not_found("endpoint") })
        .method_not_allowed_fallback(|| async { ApiError::method_not_allowed() });

    let layers = ServiceBuilder::new()
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .layer(TraceLayer::new_for_http().make_span_with(|request: &Request| {
            let id = request
                .headers()
                .get(REQUEST_ID)
                .and_then(|value| value.to_str().ok())
                .unwrap_or_default();
            tracing::info_span!("request", request_id = %id, method = %request.method(), path = %logged_path(request.uri().path()))
        }))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::internal(&"handler panicked").into_response()
        }))
        .layer(TimeoutLayer::with_status_code(StatusCode::SERVICE_UNAVAILABLE, limits.request_timeout))
        .layer(DefaultBodyLimit::max(limits.max_body_bytes));

    Router::new()
        .nest("/api/v1", api)
        .merge(health::routes())
        .merge(setup::routes())
        .merge(flows::pages())
        .layer(middleware::from_fn(record_metrics))
        .layer(layers)
        .with_state(state)
}

/// The path as logs show it: a setup link's secret is a credential and
/// stays out of them.
/// The path as logged: one-time secrets in paths (setup links, flow links)
/// are replaced by a placeholder.
fn logged_path(path: &str) -> &str {
    if path.starts_with("/setup/") {
        "/setup/{secret}"
    } else if path.starts_with("/if/flow/resume/") {
        "/if/flow/resume/{link}"
    } else {
        path
    }
}

/// Counts requests by route and status and records their latency.
async fn record_metrics(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = request.method().to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    let labels = [("route", route), ("method", method), ("status", status)];
    metrics::counter!("http_requests_total", &labels).increment(1);
    metrics::histogram!("http_request_duration_seconds", &labels[..2])
        .record(started.elapsed().as_secs_f64());
    response
}
