//! Flow pages and the flow executor API. Both run the same executions: the
//! HTML pages render each challenge as a form that works without
//! JavaScript, and `/api/v1/flows/executor/{slug}` serves the same challenge
//! as JSON for SPAs and native apps.
//!
//! A browser is identified by the `castellan_flow` cookie (a random secret
//! the execution is bound to); forms carry a CSRF token derived from it.
//! The JSON API needs `Content-Type: application/json`, which a cross-site
//! form cannot send.

use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Json, Router};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use rand::RngCore as _;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::Sha256;
use subtle::ConstantTimeEq as _;
use utoipa::ToSchema;

use super::page::BrandView;
use super::{ApiError, ApiJson, ApiPath, AppState};
use crate::brand::{Brand, host_name};
use crate::flow::FlowError;
use crate::flow::challenge::{Answer, Challenge};
use crate::flow::context::FlowRequest;
use crate::flow::executor::{FlowStep, StepResult};
use crate::identity::user::User;
use crate::stage::Effect;

/// The cookie binding flow executions to a browser.
pub const FLOW_COOKIE: &str = "castellan_flow";
/// The session cookie.
pub const SESSION_COOKIE: &str = "castellan_session";

pub(super) fn pages() -> Router<AppState> {
    Router::new()
        .route("/", get(root))
        .route("/if/flow/{slug}/", get(page).post(submit))
        .route("/if/flow/{slug}/restart", get(restart))
        .route("/if/flow/resume/{link}", get(resume))
        .route("/if/user/", get(account))
}

pub(super) fn api() -> Router<AppState> {
    Router::new().route("/flows/executor/{slug}", get(api_current).post(api_answer))
}

/// The browser (or API client) behind a request.
pub(super) struct Visitor {
    request: FlowRequest,
    user: Option<User>,
    jar: CookieJar,
    secure: bool,
    brand: Brand,
}

impl Visitor {
    fn authentication_flow(&self) -> String {
        flow_path(
            self.brand
                .flow_authentication
                .as_deref()
                .unwrap_or("default-authentication"),
        )
    }

    fn invalidation_flow(&self) -> String {
        flow_path(
            self.brand
                .flow_invalidation
                .as_deref()
                .unwrap_or("default-invalidation"),
        )
    }
}

impl FromRequestParts<AppState> for Visitor {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let jar = CookieJar::from_headers(&parts.headers);
        let secure = state.public_url.starts_with("https://");
        let (browser, jar) = match jar.get(FLOW_COOKIE).map(|cookie| cookie.value().to_owned()) {
            Some(value) if value.len() >= 32 => (value, jar),
            _ => {
                let value = random_secret();
                let cookie = cookie(FLOW_COOKIE, value.clone(), secure, None);
                (value, jar.add(cookie))
            }
        };
        let client_ip = super::request_ip(&parts.extensions);
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let found = match jar.get(SESSION_COOKIE) {
            Some(cookie) => state
                .flows
                .directory()
                .session(cookie.value())
                .await
                .map_err(|error| ApiError::from(error).into_response())?,
            None => None,
        };
        let (session, user) = match found {
            Some((session, user)) => (Some(session.id), Some(user)),
            None => (None, None),
        };
        let host = parts
            .headers
            .get(header::HOST)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default();
        let brand = brand_for(state, host).await;
        let request = FlowRequest {
            browser,
            user: user.as_ref().map(|user| user.id),
            session,
            client_ip,
            user_agent,
        };
        Ok(Visitor {
            request,
            user,
            jar,
            secure,
            brand,
        })
    }
}

/// The brand for a host; the built-in one when none matches or the
/// database cannot say (pages still render).
async fn brand_for(state: &AppState, host: &str) -> Brand {
    let found = async {
        let mut conn = state.flows.directory().store().conn().await?;
        crate::store::brands::for_host(&mut conn, &host_name(host)).await
    };
    match found.await {
        Ok(Some(brand)) => brand,
        Ok(None) => Brand::builtin(),
        Err(error) => {
            tracing::warn!(error = %error, "cannot load the brand");
            Brand::builtin()
        }
    }
}

fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

fn cookie(
    name: &'static str,
    value: String,
    secure: bool,
    max_age: Option<i64>,
) -> Cookie<'static> {
    let mut cookie = Cookie::build((name, value))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure);
    if let Some(seconds) = max_age {
        cookie = cookie.max_age(time::Duration::seconds(seconds));
    }
    cookie.build()
}

/// The CSRF token of a browser: an HMAC keyed by its flow cookie, so only a
/// page that could read the cookie's browser can produce it.
fn csrf_token(browser: &str) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(browser.as_bytes()) else {
        return String::new();
    };
    mac.update(b"castellan csrf v1");
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

fn csrf_matches(browser: &str, token: &str) -> bool {
    let expected = csrf_token(browser);
    !expected.is_empty() && bool::from(expected.as_bytes().ct_eq(token.as_bytes()))
}

/// Applies a step's effects to the cookie jar.
fn apply(mut jar: CookieJar, effects: Vec<Effect>, secure: bool) -> CookieJar {
    for effect in effects {
        jar = match effect {
            Effect::StartSession { secret, max_age } => jar.add(cookie(
                SESSION_COOKIE,
                secret.expose_secret().to_owned(),
                secure,
                max_age,
            )),
            Effect::EndSession => jar.remove(Cookie::build(SESSION_COOKIE).path("/")),
        };
    }
    jar
}

#[derive(Deserialize)]
pub(super) struct NextQuery {
    pub(super) next: Option<String>,
}

fn flow_path(slug: &str) -> String {
    format!("/if/flow/{slug}/")
}

fn with_next(path: &str, next: &str) -> String {
    let encoded: String = next
        .bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (byte as char).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect();
    format!("{path}?next={encoded}")
}

async fn root(visitor: Visitor) -> Response {
    let target = if visitor.user.is_some() {
        "/if/user/".to_owned()
    } else {
        visitor.authentication_flow()
    };
    (visitor.jar, Redirect::to(&target)).into_response()
}

async fn account(State(state): State<AppState>, visitor: Visitor) -> Response {
    let Some(user) = &visitor.user else {
        let target = with_next(&visitor.authentication_flow(), "/if/user/");
        return (visitor.jar, Redirect::to(&target)).into_response();
    };
    let context = minijinja::context! {
        brand => minijinja::Value::from(minijinja::value::Serde(BrandView::from(&visitor.brand))),
        user => minijinja::Value::from(minijinja::value::Serde(crate::api::UserView::from(user))),
        logout => visitor.invalidation_flow(),
    };
    (
        visitor.jar,
        state.pages.render(StatusCode::OK, "user.html", context),
    )
        .into_response()
}

async fn page(
    State(state): State<AppState>,
    visitor: Visitor,
    ApiPath(slug): ApiPath<String>,
    Query(query): Query<NextQuery>,
) -> Response {
    let result = state
        .flows
        .current(&slug, &visitor.request, query.next.as_deref())
        .await;
    render(&state, visitor, &slug, result)
}

async fn restart(
    State(state): State<AppState>,
    visitor: Visitor,
    ApiPath(slug): ApiPath<String>,
    Query(query): Query<NextQuery>,
) -> Response {
    let result = state
        .flows
        .restart(&slug, &visitor.request, query.next.as_deref())
        .await;
    render(&state, visitor, &slug, result)
}

async fn resume(
    State(state): State<AppState>,
    visitor: Visitor,
    ApiPath(link): ApiPath<String>,
) -> Response {
    match state.flows.resume(&link, &visitor.request).await {
        Ok(slug) => (visitor.jar, Redirect::to(&flow_path(&slug))).into_response(),
        Err(FlowError::ExecutionGone) => {
            let page = state.pages.message(
                StatusCode::NOT_FOUND,
                "Link not valid",
                "This link was used already or has expired. Start again to get a new one.",
            );
            (visitor.jar, page).into_response()
        }
        Err(error) => {
            let page = error_page(&state, &error);
            (visitor.jar, page).into_response()
        }
    }
}

async fn submit(
    State(state): State<AppState>,
    visitor: Visitor,
    ApiPath(slug): ApiPath<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let mut values = Map::new();
    let (mut stage, mut version, mut csrf) = (None, None, None);
    for (name, value) in pairs {
        match name.as_str() {
            "_stage" => stage = value.parse().ok(),
            "_version" => version = value.parse().ok(),
            "_csrf" => csrf = Some(value),
            _ => {
                values.insert(name, Value::String(value));
            }
        }
    }
    if !csrf.is_some_and(|token| csrf_matches(&visitor.request.browser, &token)) {
        return render(&state, visitor, &slug, Err(FlowError::Csrf));
    }
    let (Some(stage), Some(version)) = (stage, version) else {
        return render(
            &state,
            visitor,
            &slug,
            Err(FlowError::BadAnswer(
                "missing or invalid _stage or _version".to_owned(),
            )),
        );
    };
    let answer = Answer {
        stage,
        version,
        values,
    };
    let result = state.flows.answer(&slug, &visitor.request, &answer).await;
    // Post/redirect/get: an accepted answer that leads to the next step
    // redirects to it, so Back and reload never resubmit a form.
    if let Ok(StepResult {
        step: FlowStep::Challenge(next),
        ..
    }) = &result
        && next.stage != answer.stage
        && let Ok(result) = result
    {
        let jar = apply(visitor.jar, result.effects, visitor.secure);
        return (jar, Redirect::to(&flow_path(&slug))).into_response();
    }
    render(&state, visitor, &slug, result)
}

/// Turns a step (or a flow error) into a page.
fn render(
    state: &AppState,
    visitor: Visitor,
    slug: &str,
    result: Result<StepResult, FlowError>,
) -> Response {
    let authentication = visitor.authentication_flow();
    let Visitor {
        request,
        jar,
        secure,
        brand,
        ..
    } = visitor;
    let brand = BrandView::from(&brand);
    let result = match result {
        Ok(result) => result,
        Err(FlowError::Stale) => {
            // Show the current step instead, with a note.
            return (jar, Redirect::to(&flow_path(slug))).into_response();
        }
        Err(FlowError::ExecutionGone) => {
            return (jar, Redirect::to(&flow_path(slug))).into_response();
        }
        Err(FlowError::NotAllowed(_)) if request.user.is_some() => {
            return (jar, Redirect::to("/if/user/")).into_response();
        }
        Err(FlowError::NotAllowed(_)) => {
            let target = with_next(&authentication, &flow_path(slug));
            return (jar, Redirect::to(&target)).into_response();
        }
        Err(FlowError::Csrf) => {
            let page = state.pages.message_with_link(
                StatusCode::BAD_REQUEST,
                &brand,
                "Please try again",
                &FlowError::Csrf.to_string(),
                ("Start again", &flow_path(slug)),
            );
            return (jar, page).into_response();
        }
        Err(error) => return (jar, error_page(state, &error)).into_response(),
    };
    let jar = apply(jar, result.effects, secure);
    match result.step {
        FlowStep::Redirect(to) => (jar, Redirect::to(&to)).into_response(),
        FlowStep::Denied(message) => {
            let page = state.pages.message_with_link(
                StatusCode::FORBIDDEN,
                &brand,
                "Access denied",
                &message,
                ("Start again", &format!("/if/flow/{slug}/restart")),
            );
            (jar, page).into_response()
        }
        FlowStep::Challenge(challenge) => {
            let focus = focus_field(&challenge);
            let context = minijinja::context! {
                brand => minijinja::Value::from(minijinja::value::Serde(&brand)),
                challenge => minijinja::Value::from(minijinja::value::Serde(&challenge)),
                csrf => csrf_token(&request.browser),
                action => flow_path(slug),
                focus => focus,
            };
            (
                jar,
                state.pages.render(StatusCode::OK, "flow.html", context),
            )
                .into_response()
        }
    }
}

/// The field to focus: the first with an error, else the first visible.
fn focus_field(challenge: &Challenge) -> Option<String> {
    let visible = |field: &&crate::flow::challenge::Field| {
        !matches!(
            field.kind,
            crate::flow::challenge::FieldKind::Hidden | crate::flow::challenge::FieldKind::Static
        )
    };
    challenge
        .fields
        .iter()
        .filter(visible)
        .find(|field| !field.errors.is_empty())
        .or_else(|| challenge.fields.iter().find(visible))
        .map(|field| field.name.clone())
}

fn error_page(state: &AppState, error: &FlowError) -> Response {
    let (status, heading, message) = match error {
        FlowError::UnknownFlow(_) => (StatusCode::NOT_FOUND, "Not found", error.to_string()),
        FlowError::BadAnswer(_) => (
            StatusCode::BAD_REQUEST,
            "Invalid request",
            error.to_string(),
        ),
        FlowError::Mail(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "Try again later",
            error.to_string(),
        ),
        FlowError::Store(crate::store::StoreError::Unavailable(_))
        | FlowError::Identity(crate::identity::IdentityError::Store(
            crate::store::StoreError::Unavailable(_),
        )) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "Try again later",
            "The service is busy. Try again in a moment.".to_owned(),
        ),
        other => {
            tracing::error!(error = %other, "flow failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                "Try again later.".to_owned(),
            )
        }
    };
    state.pages.message(status, heading, &message)
}

/// One step of a flow as the executor API returns it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FlowStepView {
    /// Answer this challenge with `POST` and an `Answer`.
    Challenge {
        /// The challenge.
        challenge: Challenge,
    },
    /// The flow is over; send the user here.
    Redirect {
        /// Target path.
        to: String,
    },
    /// The flow stopped.
    Denied {
        /// Why.
        message: String,
    },
}

fn api_response(result: Result<StepResult, FlowError>, jar: CookieJar, secure: bool) -> Response {
    match result {
        Ok(result) => {
            let jar = apply(jar, result.effects, secure);
            let view = match result.step {
                FlowStep::Challenge(challenge) => FlowStepView::Challenge { challenge },
                FlowStep::Redirect(to) => FlowStepView::Redirect { to },
                FlowStep::Denied(message) => FlowStepView::Denied { message },
            };
            (jar, Json(view)).into_response()
        }
        Err(error) => (jar, ApiError::from(error)).into_response(),
    }
}

/// The current step of this client's run of a flow, starting one if needed.
#[utoipa::path(get, path = "/api/v1/flows/executor/{slug}", tag = "flows",
    params(("slug" = String, Path, description = "flow slug"),
        ("next" = Option<String>, Query, description = "local path to go to at the end")),
    responses((status = 200, body = FlowStepView), (status = 404, body = crate::api::ErrorBody)))]
pub(super) async fn api_current(
    State(state): State<AppState>,
    visitor: Visitor,
    ApiPath(slug): ApiPath<String>,
    Query(query): Query<NextQuery>,
) -> Response {
    let result = state
        .flows
        .current(&slug, &visitor.request, query.next.as_deref())
        .await;
    api_response(result, visitor.jar, visitor.secure)
}

/// Answers the current challenge.
#[utoipa::path(post, path = "/api/v1/flows/executor/{slug}", tag = "flows", request_body = Answer,
    params(("slug" = String, Path, description = "flow slug")),
    responses((status = 200, body = FlowStepView), (status = 400, body = crate::api::ErrorBody),
        (status = 409, body = crate::api::ErrorBody), (status = 410, body = crate::api::ErrorBody)))]
pub(super) async fn api_answer(
    State(state): State<AppState>,
    visitor: Visitor,
    ApiPath(slug): ApiPath<String>,
    ApiJson(answer): ApiJson<Answer>,
) -> Response {
    let result = state.flows.answer(&slug, &visitor.request, &answer).await;
    api_response(result, visitor.jar, visitor.secure)
}
