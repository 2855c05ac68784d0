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
    ("flow.html", include_str!("../../templates/flow.html")),
    ("user.html", include_str!("../../templates/user.html")),
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

    /// Renders `name` with `context` as a complete response. A context
    /// without a `brand` gets the built-in look.
    pub fn render(&self, status: StatusCode, name: &str, context: minijinja::Value) -> Response {
        let nonce = csp_nonce();
        let fallback = minijinja::context! {
            brand => minijinja::Value::from(minijinja::value::Serde(BrandView::default())),
            csp_nonce => nonce.clone(),
        };
        let context = minijinja::value::merge_maps([context, fallback]);
        let rendered = self
            .0
            .get_template(name)
            .and_then(|template| template.render(context));
        match rendered {
            Ok(html) => secure(status, html, &nonce),
            Err(error) => {
                tracing::error!(error = %error, template = name, "cannot render page");
                let html = "<h1>Internal error</h1>".to_owned();
                secure(StatusCode::INTERNAL_SERVER_ERROR, html, &nonce)
            }
        }
    }

    /// A page with a heading and one message.
    pub fn message(&self, status: StatusCode, heading: &str, message: &str) -> Response {
        let context = minijinja::context! { heading => heading, message => message };
        self.render(status, "message.html", context)
    }

    /// A page with a heading, one message and a link onwards.
    pub fn message_with_link(
        &self,
        status: StatusCode,
        brand: &BrandView,
        heading: &str,
        message: &str,
        link: (&str, &str),
    ) -> Response {
        let context = minijinja::context! {
            brand => minijinja::Value::from(minijinja::value::Serde(brand)),
            heading => heading,
            message => message,
            link => minijinja::context! { label => link.0, href => link.1 },
        };
        self.render(status, "message.html", context)
    }
}

/// What pages show of a brand.
#[derive(Clone, Debug, serde::Serialize)]
pub struct BrandView {
    /// Name shown in the header and titles.
    pub title: String,
    /// Logo URL.
    pub logo_url: Option<String>,
    /// Buttons and links.
    pub primary_color: String,
    /// Page background.
    pub background_color: String,
}

impl From<&crate::brand::Brand> for BrandView {
    fn from(brand: &crate::brand::Brand) -> Self {
        let fallback = BrandView::default();
        let color = |color: &str, fallback: String| {
            if crate::brand::is_hex_color(color) {
                color.to_owned()
            } else {
                fallback
            }
        };
        // Only https (or local) logos: the policy allows no other images.
        let logo_url = brand
            .logo_url
            .clone()
            .filter(|url| url.starts_with("https://") || crate::flow::is_local_path(url));
        BrandView {
            title: brand.title.clone(),
            logo_url,
            primary_color: color(&brand.primary_color, fallback.primary_color),
            background_color: color(&brand.background_color, fallback.background_color),
        }
    }
}

impl Default for BrandView {
    fn default() -> Self {
        BrandView {
            title: "Castellan".to_owned(),
            logo_url: None,
            primary_color: "#1f4fd1".to_owned(),
            background_color: "#f5f6f8".to_owned(),
        }
    }
}

/// A fresh nonce for the page's one `<style>` element, so the policy needs
/// no `'unsafe-inline'`.
fn csp_nonce() -> String {
    use base64::Engine as _;
    use rand::RngCore as _;
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(bytes)
}

fn secure(status: StatusCode, html: String, nonce: &str) -> Response {
    let mut response = (status, Html(html)).into_response();
    let headers = response.headers_mut();
    // No script at all; styles only from the nonce'd element; images from
    // this origin, https logos and data: URLs (QR codes).
    let policy = format!(
        "default-src 'none'; style-src 'nonce-{nonce}'; img-src 'self' https: data:; \
         form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    );
    if let Ok(value) = HeaderValue::from_str(&policy) {
        headers.insert(header::CONTENT_SECURITY_POLICY, value);
    }
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
