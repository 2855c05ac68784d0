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

use std::net::{IpAddr, SocketAddr};
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
use ipnet::IpNet;
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

/// The client address of a request as text, for audit events.
pub fn client_ip(extensions: &axum::http::Extensions) -> Option<String> {
    request_ip(extensions).map(|ip| ip.to_string())
}

/// Limits applied to every request.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Largest body in bytes.
    pub max_body_bytes: usize,
    /// Time a request may take.
    pub request_timeout: Duration,
}

/// The client's address: the socket peer, or, when the peer is a trusted
/// proxy, the nearest address in `X-Forwarded-For` that is not one.
#[derive(Clone, Copy, Debug)]
pub struct ClientIp(pub Option<IpAddr>);

/// Puts the [`ClientIp`] of every request into its extensions.
async fn resolve_client_ip(
    axum::extract::State(trusted): axum::extract::State<Arc<Vec<IpNet>>>,
    mut request: Request,
    next: Next,
) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(address)| address.ip());
    let ip = peer.map(|peer| forwarded_client(peer, request.headers(), &trusted));
    request.extensions_mut().insert(ClientIp(ip));
    next.run(request).await
}

/// Walks `X-Forwarded-For` from the right while the hops are trusted
/// proxies; the first untrusted hop is the client. Entries left of it were
/// written by the client and are never believed. An unreadable entry stops
/// the walk.
fn forwarded_client(peer: IpAddr, headers: &axum::http::HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        let Ok(ip) = hop.parse::<IpAddr>() else {
            break;
        };
        client = ip;
        if !is_trusted(&ip) {
            break;
        }
    }
    client
}

/// The client address of a request, for audit events.
pub fn request_ip(extensions: &axum::http::Extensions) -> Option<IpAddr> {
    extensions.get::<ClientIp>().and_then(|ClientIp(ip)| *ip)
}

/// The whole application router.
pub fn router(state: AppState, limits: Limits, trusted_proxies: Vec<IpNet>) -> Router {
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
        .layer(middleware::map_response(explain_timeout))
        .layer(TimeoutLayer::with_status_code(StatusCode::SERVICE_UNAVAILABLE, limits.request_timeout))
        .layer(DefaultBodyLimit::max(limits.max_body_bytes));

    Router::new()
        .nest("/api/v1", api)
        .merge(health::routes())
        .merge(setup::routes())
        .merge(flows::pages())
        .layer(middleware::from_fn(record_metrics))
        .layer(middleware::from_fn_with_state(
            Arc::new(trusted_proxies),
            resolve_client_ip,
        ))
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

/// Gives the timeout layer's bare 503 the API's error body, so every error
/// is JSON with a stable code.
async fn explain_timeout(response: Response) -> Response {
    let bare = !response
        .headers()
        .contains_key(axum::http::header::CONTENT_TYPE);
    if response.status() == StatusCode::SERVICE_UNAVAILABLE && bare {
        return ApiError::unavailable().into_response();
    }
    response
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

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> axum::http::HeaderMap {
        let mut map = axum::http::HeaderMap::new();
        for value in values {
            if let Ok(value) = value.parse() {
                map.append("x-forwarded-for", value);
            }
        }
        map
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let trusted: Vec<IpNet> = ["127.0.0.1/32", "10.0.0.0/8"]
            .iter()
            .filter_map(|n| n.parse().ok())
            .collect();
        let spoofed = headers(&["6.6.6.6, 203.0.113.7"]);
        // An untrusted peer: its header is ignored.
        assert_eq!(
            forwarded_client(ip("198.51.100.1"), &spoofed, &trusted),
            ip("198.51.100.1")
        );
        // A trusted peer: the right-most untrusted hop is the client.
        assert_eq!(
            forwarded_client(ip("127.0.0.1"), &spoofed, &trusted),
            ip("203.0.113.7")
        );
        // A chain of trusted proxies is skipped.
        let chain = headers(&["6.6.6.6, 203.0.113.7, 10.1.1.1"]);
        assert_eq!(
            forwarded_client(ip("127.0.0.1"), &chain, &trusted),
            ip("203.0.113.7")
        );
        // Garbage stops the walk at the last readable hop.
        let garbage = headers(&["6.6.6.6, nonsense, 10.1.1.1"]);
        assert_eq!(
            forwarded_client(ip("127.0.0.1"), &garbage, &trusted),
            ip("10.1.1.1")
        );
        // No header: the proxy itself.
        assert_eq!(
            forwarded_client(ip("127.0.0.1"), &headers(&[]), &trusted),
            ip("127.0.0.1")
        );
        // Nothing trusted: the peer, always.
        assert_eq!(
            forwarded_client(ip("127.0.0.1"), &spoofed, &[]),
            ip("127.0.0.1")
        );
    }
}
