//! Brands: the look and the default flows a request gets, chosen by the host
//! name it was sent to. Internal staff and external customers can meet
//! different titles, colours and sign-in flows on one instance.
//!
//! A brand whose domain equals the request host wins; otherwise the default
//! brand applies, and [`Brand::builtin`] when the database holds none.

use uuid::Uuid;

/// Primary colour of a brand that sets none.
pub const DEFAULT_PRIMARY_COLOR: &str = "#1f4fd1";

/// Background colour of a brand that sets none.
pub const DEFAULT_BACKGROUND_COLOR: &str = "#f5f6f8";

/// A brand as stored in the `brands` table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Brand {
    /// Stable id; the nil UUID for [`Brand::builtin`].
    pub id: Uuid,
    /// Unique name, the brand's key in blueprints.
    pub name: String,
    /// Host name it answers for, in lower case without a port; empty for a
    /// brand that is only ever the default.
    pub domain: String,
    /// Used when no brand's domain matches the request host.
    pub is_default: bool,
    /// Name shown in page titles and headings.
    pub title: String,
    /// Logo image: an `https://` or `http://` URL or a local path.
    pub logo_url: Option<String>,
    /// Colour of buttons and links, as `#rrggbb`.
    pub primary_color: String,
    /// Page background colour, as `#rrggbb`.
    pub background_color: String,
    /// Slug of the flow that signs users in.
    pub flow_authentication: Option<String>,
    /// Slug of the flow that creates accounts.
    pub flow_enrollment: Option<String>,
    /// Slug of the flow that resets a forgotten password.
    pub flow_recovery: Option<String>,
    /// Slug of the flow that signs users out.
    pub flow_invalidation: Option<String>,
}

impl Brand {
    /// The brand used while the database holds none: Castellan's own title
    /// and colours and the default flows.
    pub fn builtin() -> Brand {
        Brand {
            id: Uuid::nil(),
            name: "default".to_owned(),
            domain: String::new(),
            is_default: true,
            title: "Castellan".to_owned(),
            logo_url: None,
            primary_color: DEFAULT_PRIMARY_COLOR.to_owned(),
            background_color: DEFAULT_BACKGROUND_COLOR.to_owned(),
            flow_authentication: Some("default-authentication".to_owned()),
            flow_enrollment: Some("default-enrollment".to_owned()),
            flow_recovery: Some("default-recovery".to_owned()),
            flow_invalidation: Some("default-invalidation".to_owned()),
        }
    }
}

/// The host name of a `Host` header value, lower-cased and without a port:
/// `ID.Example.org:8443` gives `id.example.org`, `[::1]:9000` gives `[::1]`.
pub fn host_name(host: &str) -> String {
    let host = host.trim();
    let name = match host.strip_prefix('[') {
        // An IPv6 literal keeps its brackets; the port follows them.
        Some(rest) => match rest.find(']') {
            Some(end) => &host[..end + 2],
            None => host,
        },
        None => host.split(':').next().unwrap_or(host),
    };
    name.to_ascii_lowercase()
}

/// Whether `color` is a CSS hex colour (`#rgb`, `#rrggbb` or `#rrggbbaa`),
/// the only form a brand colour may take, since it is written into styles.
pub fn is_hex_color(color: &str) -> bool {
    let Some(digits) = color.strip_prefix('#') else {
        return false;
    };
    matches!(digits.len(), 3 | 6 | 8) && digits.chars().all(|c| c.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_lose_port_and_case() {
        assert_eq!(host_name("ID.Example.org:8443"), "id.example.org");
        assert_eq!(host_name("id.example.org"), "id.example.org");
        assert_eq!(host_name("[::1]:9000"), "[::1]");
        assert_eq!(host_name("[::1]"), "[::1]");
        assert_eq!(host_name(" 127.0.0.1:9000 "), "127.0.0.1");
    }

    #[test]
    fn only_hex_colours_pass() {
        for good in ["#fff", "#1f4fd1", "#1F4FD1cc"] {
            assert!(is_hex_color(good), "{good}");
        }
        for bad in ["", "red", "#12", "1f4fd1", "#1f4fd1;}", "#ggg"] {
            assert!(!is_hex_color(bad), "{bad}");
        }
    }

    #[test]
    fn builtin_brand_points_at_the_default_flows() {
        let brand = Brand::builtin();
        assert!(brand.is_default);
        assert_eq!(brand.title, "Castellan");
        assert_eq!(
            brand.flow_authentication.as_deref(),
            Some("default-authentication")
        );
        assert!(is_hex_color(&brand.primary_color));
    }
}
