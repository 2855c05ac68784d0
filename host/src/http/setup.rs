//! The one-time setup page for the first admin. It works without
//! JavaScript; the link's secret is its only credential, so no other CSRF
//! token is needed.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Form, Router};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::{ApiPath, AppState, client_ip};
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
        Ok(true) => page(StatusCode::OK, &form_body("admin", None)),
        Ok(false) => page(StatusCode::NOT_FOUND, &invalid_link()),
        Err(_) => page(
            StatusCode::SERVICE_UNAVAILABLE,
            "<p>Try again in a moment.</p>",
        ),
    }
}

async fn submit(
    State(state): State<AppState>,
    connect: ConnectInfo<SocketAddr>,
    ApiPath(secret): ApiPath<String>,
    Form(input): Form<SetupForm>,
) -> Response {
    if input.password.expose_secret() != input.confirm.expose_secret() {
        return page(
            StatusCode::BAD_REQUEST,
            &form_body(&input.username, Some("The passwords do not match.")),
        );
    }
    let ip = client_ip(Some(&connect));
    let done = bootstrap::complete_setup(
        &state.directory,
        &secret,
        &input.username,
        &input.password,
        ip,
    )
    .await;
    match done {
        Ok((user, token)) => page(
            StatusCode::OK,
            &done_body(&user.username, token.expose_secret(), &state.public_url),
        ),
        Err(SetupError::LinkInvalid) => page(StatusCode::NOT_FOUND, &invalid_link()),
        Err(SetupError::Identity(IdentityError::Store(error))) => {
            tracing::error!(error = %error, "setup failed");
            page(
                StatusCode::SERVICE_UNAVAILABLE,
                "<p>Try again in a moment.</p>",
            )
        }
        Err(SetupError::Identity(error)) => page(
            StatusCode::BAD_REQUEST,
            &form_body(&input.username, Some(&error.to_string())),
        ),
    }
}

fn invalid_link() -> String {
    "<h1>Link not valid</h1><p>This setup link was used, has expired, or an admin exists. \
     Restart Castellan to print a new one while no admin exists.</p>"
        .to_owned()
}

fn form_body(username: &str, error: Option<&str>) -> String {
    let error = error
        .map(|message| {
            format!(
                "<p id=\"form-error\" role=\"alert\" class=\"error\">{}</p>",
                escape(message)
            )
        })
        .unwrap_or_default();
    let described = if error.is_empty() {
        ""
    } else {
        " aria-describedby=\"form-error\""
    };
    format!(
        "<h1>Create the first admin</h1>{error}\
         <form method=\"post\"{described}>\
         <label for=\"username\">Username</label>\
         <input id=\"username\" name=\"username\" autocomplete=\"username\" required value=\"{}\">\
         <label for=\"password\">Password (at least 8 characters)</label>\
         <input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"new-password\" minlength=\"8\" required>\
         <label for=\"confirm\">Repeat the password</label>\
         <input id=\"confirm\" name=\"confirm\" type=\"password\" autocomplete=\"new-password\" minlength=\"8\" required>\
         <button type=\"submit\">Create admin</button></form>",
        escape(username)
    )
}

fn done_body(username: &str, token: &str, public_url: &str) -> String {
    format!(
        "<h1>Admin created</h1><p>The admin <strong>{}</strong> exists now.</p>\
         <p>This admin API token is shown only once. Keep it somewhere safe:</p>\
         <pre><code>{}</code></pre>\
         <p>Use it with the command line:</p>\
         <pre><code>castellan admin --url {} --token &lt;token&gt; users list</code></pre>",
        escape(username),
        escape(token),
        escape(public_url)
    )
}

fn page(status: StatusCode, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Castellan setup</title><style>\
         body{{font-family:system-ui,sans-serif;max-width:32rem;margin:2rem auto;padding:0 1rem}}\
         label{{display:block;margin-top:1rem}}input{{width:100%;padding:.5rem;font-size:1rem}}\
         button{{margin-top:1.5rem;padding:.6rem 1.2rem;font-size:1rem}}\
         .error{{color:#a00}}pre{{background:#eee;padding:.5rem;overflow-x:auto}}\
         </style></head><body><main>{body}</main></body></html>"
    );
    let mut response = (status, Html(html)).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// Escapes text for HTML element content and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }
}
