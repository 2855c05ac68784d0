//! The one-time setup page for the first admin. It works without
//! JavaScript; the link's secret is its only credential, so no other CSRF
//! token is needed.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::{Form, Router};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::{ApiPath, AppState};
use crate::bootstrap::{self, SetupError};
use crate::identity::IdentityError;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/setup/{secret}", get(form).post(submit))
}

#[derive(Deserialize)]
struct SetupForm {
    username: String,
    password: SecretString,
    confirm: SecretString,
}

async fn form(State(state): State<AppState>, ApiPath(secret): ApiPath<String>) -> Response {
    match bootstrap::setup_link_is_live(&state.directory, &secret).await {
        Ok(true) => form_page(&state, StatusCode::OK, "admin", None),
        Ok(false) => invalid_link(&state),
        Err(_) => unavailable(&state),
    }
}

async fn submit(
    State(state): State<AppState>,
    axum::Extension(client): axum::Extension<super::ClientIp>,
    ApiPath(secret): ApiPath<String>,
    Form(input): Form<SetupForm>,
) -> Response {
    if !matches!(
        bootstrap::setup_link_is_live(&state.directory, &secret).await,
        Ok(true)
    ) {
        return invalid_link(&state);
    }
    if input.password.expose_secret() != input.confirm.expose_secret() {
        let error = Some("The passwords do not match.");
        return form_page(&state, StatusCode::BAD_REQUEST, &input.username, error);
    }
    let ip = client.0.map(|ip| ip.to_string());
    let done = bootstrap::complete_setup(
        &state.directory,
        &secret,
        &input.username,
        &input.password,
        ip,
    )
    .await;
    match done {
        Ok((user, token)) => {
            let context = minijinja::context! {
                username => user.username,
                token => token.expose_secret(),
                public_url => state.public_url.as_ref(),
            };
            state
                .pages
                .render(StatusCode::OK, "setup_done.html", context)
        }
        Err(SetupError::LinkInvalid) => invalid_link(&state),
        Err(SetupError::Identity(IdentityError::Store(error))) => {
            tracing::error!(error = %error, "setup failed");
            unavailable(&state)
        }
        Err(SetupError::Identity(error)) => {
            let message = error.to_string();
            form_page(
                &state,
                StatusCode::BAD_REQUEST,
                &input.username,
                Some(&message),
            )
        }
    }
}

fn form_page(
    state: &AppState,
    status: StatusCode,
    username: &str,
    error: Option<&str>,
) -> Response {
    let context = minijinja::context! { username => username, error => error };
    state.pages.render(status, "setup.html", context)
}

fn invalid_link(state: &AppState) -> Response {
    state.pages.message(
        StatusCode::NOT_FOUND,
        "Link not valid",
        "This setup link was used, has expired, or an admin exists. Restart Castellan \
         to print a new one while no admin exists.",
    )
}

fn unavailable(state: &AppState) -> Response {
    state.pages.message(
        StatusCode::SERVICE_UNAVAILABLE,
        "Try again",
        "Try again in a moment.",
    )
}
