//! Server configuration: defaults, an optional TOML file and `CASTELLAN_*`
//! environment variables, in that order of precedence.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

/// Top-level keys that `CASTELLAN_*` variables may set. Other variables with
/// the prefix (such as `CASTELLAN_TEST_POSTGRES_URL` or the CLI's
/// `CASTELLAN_URL`) are not configuration and are ignored here.
const ENV_KEYS: &[&str] = &[
    "listen",
    "data_dir",
    "database_url",
    "public_url",
    "log_format",
    "log_level",
    "bootstrap_admin_password",
    "bootstrap_token",
    "database",
    "http",
    "email",
    "blueprints_dir",
];

/// Top-level keys whose variables are secrets, taken as they are: parsed
/// like the others, `12345678` or `true` would become a number or a boolean,
/// be refused, and be quoted back in the error message.
const SECRET_ENV_KEYS: &[&str] = &["bootstrap_admin_password", "bootstrap_token"];

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A source could not be read or a value has the wrong type.
    #[error("invalid configuration: {0}")]
    Invalid(String),
    /// The configuration file named on the command line does not exist.
    #[error("configuration file {0} does not exist")]
    MissingFile(PathBuf),
}

/// Log line format.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// The effective configuration of a Castellan server.
#[derive(Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address and port to listen on.
    pub listen: SocketAddr,
    /// Folder for the embedded SQLite database and other local state.
    pub data_dir: PathBuf,
    /// `sqlite:` or `postgres://` URL; SQLite in `data_dir` when unset.
    pub database_url: Option<SecretString>,
    /// External base URL, used in links Castellan prints or sends.
    pub public_url: Option<String>,
    /// Log line format.
    pub log_format: LogFormat,
    /// `tracing` filter directives, such as `info` or `castellan=debug`.
    pub log_level: String,
    /// Password for the user `admin`, created when no admin exists yet.
    pub bootstrap_admin_password: Option<SecretString>,
    /// Value of an admin API token, created when no admin exists yet.
    pub bootstrap_token: Option<SecretString>,
    /// Connection pool settings.
    pub database: DatabaseConfig,
    /// HTTP server limits.
    pub http: HttpConfig,
    /// Outgoing email.
    pub email: EmailConfig,
    /// Folder of blueprint files (`*.yaml`, `*.yml`) applied in name order
    /// at every start, after the default blueprints.
    pub blueprints_dir: Option<PathBuf>,
}

/// Outgoing email settings.
#[derive(Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmailConfig {
    /// SMTP server URL: `smtp://host:25`, `smtp://user:pass@host:587?tls=required`
    /// or `smtps://user:pass@host`. Email stages fail while it is unset.
    pub smtp_url: Option<SecretString>,
    /// Sender address.
    pub from: String,
}

impl Default for EmailConfig {
    fn default() -> Self {
        EmailConfig {
            smtp_url: None,
            from: "Castellan <castellan@localhost>".to_owned(),
        }
    }
}

/// Connection pool settings.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// Largest number of open connections.
    pub max_connections: u32,
    /// Seconds to wait for a free connection before answering 503.
    pub acquire_timeout_secs: u64,
    /// Milliseconds SQLite waits on a locked database before giving up.
    pub sqlite_busy_timeout_ms: u64,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            max_connections: 10,
            acquire_timeout_secs: 5,
            sqlite_busy_timeout_ms: 5_000,
        }
    }
}

/// HTTP server limits.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    /// Seconds a request may take before it is answered with 503.
    pub request_timeout_secs: u64,
    /// Seconds to let in-flight requests finish after SIGTERM.
    pub shutdown_grace_secs: u64,
    /// Reverse proxies (CIDR ranges) whose `X-Forwarded-For` is believed.
    /// Requests from elsewhere are attributed to their socket address.
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            max_body_bytes: 1024 * 1024,
            request_timeout_secs: 30,
            shutdown_grace_secs: 30,
            trusted_proxies: Vec::new(),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 9000)),
            data_dir: PathBuf::from("./data"),
            database_url: None,
            public_url: None,
            log_format: LogFormat::Text,
            log_level: "info,sqlx=warn".to_owned(),
            bootstrap_admin_password: None,
            bootstrap_token: None,
            database: DatabaseConfig::default(),
            http: HttpConfig::default(),
            email: EmailConfig::default(),
            blueprints_dir: None,
        }
    }
}

impl Config {
    /// Loads defaults, then `file` if given, then the environment.
    ///
    /// # Errors
    /// A missing file, a syntax error or a value of the wrong type.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        let mut figment = Figment::new();
        if let Some(file) = file {
            if !file.exists() {
                return Err(ConfigError::MissingFile(file.to_owned()));
            }
            if !file.is_file() {
                return Err(ConfigError::Invalid(format!(
                    "{} is not a file",
                    file.display()
                )));
            }
            figment = figment.merge(Toml::file(file));
        }
        let env = Env::prefixed("CASTELLAN_").split("__").filter(|key| {
            let top = key.as_str().split('.').next().unwrap_or_default();
            let is = |keys: &[&str]| keys.iter().any(|known| known.eq_ignore_ascii_case(top));
            is(ENV_KEYS) && !is(SECRET_ENV_KEYS)
        });
        figment = figment.merge(env);
        for (key, value) in Env::prefixed("CASTELLAN_").only(SECRET_ENV_KEYS).iter() {
            figment = figment.merge(Serialized::default(key.as_str(), value));
        }
        let config = figment
            .extract::<Config>()
            .map_err(|error| ConfigError::Invalid(error.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// Checks values that parse but cannot work.
    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |message: String| Err(ConfigError::Invalid(message));
        let url = self.database_url();
        let url = url.expose_secret();
        let known = ["sqlite:", "postgres://", "postgresql://"];
        if !known.iter().any(|scheme| url.starts_with(scheme)) {
            return invalid(format!(
                "database_url {} is neither a sqlite: nor a postgres:// URL",
                redact_url(url)
            ));
        }
        if let Some(public) = &self.public_url {
            let host = public
                .split_once("://")
                .map_or("", |(_, rest)| rest.trim_end_matches('/'));
            let scheme_ok = public.starts_with("http://") || public.starts_with("https://");
            if !scheme_ok || host.is_empty() || public.contains(['?', '#', ' ']) {
                return invalid(format!(
                    "public_url {public:?} must be an http:// or https:// URL without query or fragment"
                ));
            }
        }
        if tracing_subscriber::EnvFilter::try_new(&self.log_level).is_err() {
            return invalid(format!(
                "log_level {:?} is not a valid filter",
                self.log_level
            ));
        }
        if let Some(dir) = &self.blueprints_dir
            && !dir.is_dir()
        {
            return invalid(format!("blueprints_dir {} is not a folder", dir.display()));
        }
        if self.database.acquire_timeout_secs == 0 || self.http.request_timeout_secs == 0 {
            return invalid(
                "database.acquire_timeout_secs and http.request_timeout_secs must be at least 1"
                    .to_owned(),
            );
        }
        if self.database.max_connections == 0 {
            return invalid("database.max_connections must be at least 1".to_owned());
        }
        if self.http.max_body_bytes < 1024 {
            return invalid("http.max_body_bytes must be at least 1024".to_owned());
        }
        Ok(())
    }

    /// `CASTELLAN_*` variables that are neither settings nor known to the
    /// command line: most likely misspelt settings, worth a warning.
    pub fn unknown_env_vars() -> Vec<String> {
        const OTHERS: &[&str] = &[
            "config",
            "url",
            "token",
            "test_postgres_url",
            "update_golden",
        ];
        std::env::vars()
            .filter_map(|(name, _)| name.strip_prefix("CASTELLAN_").map(str::to_ascii_lowercase))
            .filter(|key| {
                let top = key.split("__").next().unwrap_or_default();
                !ENV_KEYS.contains(&top) && !OTHERS.contains(&key.as_str())
            })
            .map(|key| format!("CASTELLAN_{}", key.to_ascii_uppercase()))
            .collect()
    }

    /// The database URL in effect: the configured one, or SQLite in the data
    /// folder.
    pub fn database_url(&self) -> SecretString {
        match &self.database_url {
            Some(url) => url.clone(),
            None => {
                let path = self.data_dir.join("castellan.db");
                SecretString::from(format!("sqlite://{}?mode=rwc", path.display()))
            }
        }
    }

    /// The external base URL without a trailing slash.
    pub fn public_url(&self) -> String {
        match &self.public_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => format!("http://{}", self.listen),
        }
    }

    /// A TOML rendering of the effective configuration with every secret
    /// hidden, for `castellan check-config`.
    pub fn redacted(&self) -> String {
        let view = RedactedConfig {
            listen: self.listen.to_string(),
            data_dir: self.data_dir.display().to_string(),
            database_url: redact_url(self.database_url().expose_secret()),
            public_url: self.public_url(),
            log_format: self.log_format,
            log_level: self.log_level.clone(),
            blueprints_dir: self
                .blueprints_dir
                .as_ref()
                .map(|dir| dir.display().to_string()),
            database: self.database.clone(),
            http: self.http.clone(),
            email: RedactedEmail {
                smtp_url: self
                    .email
                    .smtp_url
                    .as_ref()
                    .map(|url| redact_url(url.expose_secret())),
                from: self.email.from.clone(),
            },
        };
        // Secrets appear as comments, so the output can be saved as a
        // configuration file without turning a placeholder into a secret.
        let secrets = format!(
            "# bootstrap_admin_password: {}\n# bootstrap_token: {}\n",
            set_or_unset(&self.bootstrap_admin_password),
            set_or_unset(&self.bootstrap_token)
        );
        match toml::to_string_pretty(&view) {
            Ok(text) => format!("{secrets}{text}"),
            Err(error) => format!("# cannot render: {error}"),
        }
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

#[derive(Serialize)]
struct RedactedConfig {
    listen: String,
    data_dir: String,
    database_url: String,
    public_url: String,
    log_format: LogFormat,
    log_level: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    blueprints_dir: Option<String>,
    database: DatabaseConfig,
    http: HttpConfig,
    email: RedactedEmail,
}

#[derive(Serialize)]
struct RedactedEmail {
    #[serde(skip_serializing_if = "Option::is_none")]
    smtp_url: Option<String>,
    from: String,
}

fn set_or_unset(value: &Option<SecretString>) -> &'static str {
    if value.is_some() {
        "(set, hidden)"
    } else {
        "(unset)"
    }
}

/// Replaces the password in a URL's user-info with `***`; anything after a
/// `password=` query key is hidden too.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    // The user-info ends at the last `@`: a password may hold `/`, `?` or
    // `@` unescaped. (An `@` in the query over-redacts, which is safe.)
    let (authority, tail) = match rest.rfind('@') {
        Some(at) => {
            let user = rest[..at]
                .split_once(':')
                .map_or(&rest[..at], |(user, _)| user);
            let masked = if rest[..at].contains(':') {
                format!("{user}:***@")
            } else {
                format!("{user}@")
            };
            (masked, &rest[at + 1..])
        }
        None => (String::new(), rest),
    };
    let tail = match tail.find("password=") {
        Some(at) => format!("{}password=***", &tail[..at]),
        None => tail.to_owned(),
    };
    format!("{scheme}://{authority}{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_password_is_hidden() {
        let url = "postgres://castellan:hunter2@db.internal:5432/idp?sslmode=require";
        let redacted = redact_url(url);
        assert_eq!(
            redacted,
            "postgres://castellan:***@db.internal:5432/idp?sslmode=require"
        );
        assert_eq!(
            redact_url("postgres://h/db?password=hunter2"),
            "postgres://h/db?password=***"
        );
        assert_eq!(
            redact_url("sqlite://./data/c.db?mode=rwc"),
            "sqlite://./data/c.db?mode=rwc"
        );
    }

    fn load_toml(text: &str) -> Result<Config, ConfigError> {
        let dir = tempfile::TempDir::new().map_err(|e| ConfigError::Invalid(e.to_string()))?;
        let path = dir.path().join("castellan.toml");
        std::fs::write(&path, text).map_err(|e| ConfigError::Invalid(e.to_string()))?;
        Config::load(Some(&path))
    }

    #[test]
    fn file_values_load_and_unknown_keys_are_refused() {
        let config = load_toml("listen = \"127.0.0.1:9123\"\n[database]\nmax_connections = 3\n");
        let config = config.unwrap_or_else(|error| unreachable!("{error}"));
        assert_eq!(config.listen.port(), 9123);
        assert_eq!(config.database.max_connections, 3);
        let typo = load_toml("lisen = \"127.0.0.1:9123\"\n")
            .err()
            .map(|e| e.to_string());
        assert!(typo.is_some_and(|message| message.contains("lisen")));
        let missing = Config::load(Some(Path::new("/nonexistent/castellan.toml")));
        assert!(matches!(missing, Err(ConfigError::MissingFile(_))));
    }

    #[test]
    fn unusable_values_are_refused() {
        for text in [
            "database_url = \"mysql://h/db\"",
            "public_url = \"id.example.org\"",
            "log_level = \"castellan=loud\"",
            "[database]\nmax_connections = 0",
            "listen = \"not an address\"",
        ] {
            assert!(load_toml(text).is_err(), "{text}");
        }
    }

    #[test]
    fn redacted_config_hides_bootstrap_secrets() {
        let config = Config {
            bootstrap_admin_password: Some(SecretString::from("hunter2-pw")),
            bootstrap_token: Some(SecretString::from("tok-hunter2")),
            database_url: Some(SecretString::from("postgres://u:pw-hunter2@h/db")),
            ..Config::default()
        };
        let shown = format!("{} {:?}", config.redacted(), config);
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("(set, hidden)"));
    }
}
