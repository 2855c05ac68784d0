//! Server-rendered HTML pages: templates compiled into the binary, escaped
//! by the template engine, served with a strict Content-Security-Policy.

use std::sync::Arc;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use minijinja::Environment;

/// The compiled page templates.
#[derive(Clone)]
pub struct Pages(Arc<Environment<'static>>);

const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../../templates/base.html")),
    ("message.html", include_str!("../../templates/message.html")),
    ("setup.html", include_str!("../../templates/setup.html")),
    (
        "setup_done.html",
        include_str!("../../templates/setup_done.html"),
    ),
];

impl Pages {
    /// Compiles every template.
    ///
    /// # Errors
    /// A template has a syntax error (a bug caught by the tests).
    pub fn new() -> Result<Pages, minijinja::Error> {
        let mut environment = Environment::new();
        for (name, source) in TEMPLATES {
            environment.add_template(name, source)?;
        }
        Ok(Pages(Arc::new(environment)))
    }

    /// Renders `name` with `context` as a complete response.
    pub fn render(&self, status: StatusCode, name: &str, context: minijinja::Value) -> Response {
        let rendered = self
            .0
            .get_template(name)
            .and_then(|template| template.render(context));
        match rendered {
            Ok(html) => secure(status, html),
            Err(error) => {
                tracing::error!(error = %error, template = name, "cannot render page");
                secure(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "<h1>Internal error</h1>".to_owned(),
                )
            }
        }
    }

    /// A page with a heading and one message.
    pub fn message(&self, status: StatusCode, heading: &str, message: &str) -> Response {
        let context = minijinja::context! { heading => heading, message => message };
        self.render(status, "message.html", context)
    }
}

fn secure(status: StatusCode, html: String) -> Response {
    let mut response = (status, Html(html)).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; \
             form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
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
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_compile_and_escape() {
        let pages = Pages::new();
        assert!(pages.is_ok(), "{:?}", pages.err());
        let Ok(pages) = pages else { return };
        let context = minijinja::context! { username => "<script>x</script>\"", error => "" };
        let response = pages.render(StatusCode::OK, "setup.html", context);
        assert_eq!(response.status(), StatusCode::OK);
        assert!(
            response
                .headers()
                .contains_key(header::CONTENT_SECURITY_POLICY)
        );
    }
}
