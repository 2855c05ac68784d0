//! Flows end to end against the real binary, on every configured engine:
//! sign-in through the JSON executor API and through the HTML pages, the
//! order and replay rules, executions that survive a restart and a hop
//! between servers, enrollment, recovery with a real email through an SMTP
//! server, policies that deny by client address, the password rate limit,
//! and a real browser.
//!
//! This file holds what the tests share: a cookie-jar browser, readers of
//! challenges and pages, and the admin calls they check with.

mod browser;
mod enrollment;
mod policies;
mod recovery;
mod replay;
mod sign_in;

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{ADMIN_TOKEN, Reply, Server, TestDb, free_port};

const AUTHENTICATION: &str = "default-authentication";
const ENROLLMENT: &str = "default-enrollment";
const RECOVERY: &str = "default-recovery";
const INVALIDATION: &str = "default-invalidation";

/// Ada's password, set through the admin API (which checks no strength).
const ADA_PASSWORD: &str = "it-ada-password-1";
/// Passwords strong enough for the enrollment and recovery prompts
/// (zxcvbn score 3 or more, 10 characters or more).
const STRONG_PASSWORD: &str = "Wobbly-Tangerine-Orbit-42";
const OTHER_STRONG_PASSWORD: &str = "Velvet-Glacier-Parsnip-77";

const WRONG_PASSWORD: &str = "Invalid username or password.";
const LOCKED: &str = "Too many failed attempts";
const MFA_MESSAGE: &str = "MFA required outside the internal network";

fn executor(slug: &str) -> String {
    format!("/api/v1/flows/executor/{slug}")
}

fn page(slug: &str) -> String {
    format!("/if/flow/{slug}/")
}

/// A browser or app: one cookie jar, one client address, no automatic
/// redirects (tests look at each one).
struct Browser {
    client: reqwest::Client,
    jar: Arc<reqwest::cookie::Jar>,
    base: String,
    /// The server's log files, shown when it cannot be reached.
    logs: (PathBuf, PathBuf),
}

impl Browser {
    fn new(server: &Server) -> Browser {
        Browser::from_address(server, IpAddr::V4(Ipv4Addr::LOCALHOST))
    }

    /// A browser whose connections come from `address` (any 127/8 address
    /// works on Linux loopback).
    fn from_address(server: &Server, address: IpAddr) -> Browser {
        let jar = Arc::new(reqwest::cookie::Jar::default());
        let client = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .redirect(reqwest::redirect::Policy::none())
            .local_address(address)
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        Browser {
            client,
            jar,
            base: server.url.clone(),
            logs: (server.stdout.clone(), server.stderr.clone()),
        }
    }

    /// The same browser (same cookie jar) talking to another server.
    /// Cookies do not depend on the port, so both servers see them.
    fn at(&self, server: &Server) -> Browser {
        Browser {
            client: self.client.clone(),
            jar: self.jar.clone(),
            base: server.url.clone(),
            logs: (server.stdout.clone(), server.stderr.clone()),
        }
    }

    /// The value of a cookie this browser holds for the server.
    fn cookie(&self, name: &str) -> Option<String> {
        use reqwest::cookie::CookieStore as _;
        let url = self.base.parse().unwrap();
        let header = self.jar.cookies(&url)?;
        let header = header.to_str().unwrap().to_owned();
        header.split("; ").find_map(|pair| {
            let (key, value) = pair.split_once('=')?;
            (key == name).then(|| value.to_owned())
        })
    }

    async fn get(&self, path: &str) -> Reply {
        self.send(self.client.get(format!("{}{path}", self.base)))
            .await
    }

    async fn post_form(&self, path: &str, form: &[(&str, &str)]) -> Reply {
        self.send(self.client.post(format!("{}{path}", self.base)).form(form))
            .await
    }

    async fn post_json(&self, path: &str, body: &Value) -> Reply {
        self.send(self.client.post(format!("{}{path}", self.base)).json(body))
            .await
    }

    /// Sends a request; when the server cannot be reached, fails with its
    /// logs (a crashed server says why there).
    async fn send(&self, request: reqwest::RequestBuilder) -> Reply {
        let response = match request.send().await {
            Ok(response) => response,
            Err(error) => {
                let stdout = std::fs::read_to_string(&self.logs.0).unwrap_or_default();
                let stderr = std::fs::read_to_string(&self.logs.1).unwrap_or_default();
                panic!("{error}\nserver stdout:\n{stdout}\nserver stderr:\n{stderr}");
            }
        };
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.expect("read body");
        Reply {
            status,
            headers,
            text,
        }
    }

    /// The current step of this browser's run of `slug` (JSON API).
    async fn step(&self, slug: &str) -> Value {
        let reply = self.get(&executor(slug)).await;
        assert_eq!(reply.status, 200, "GET executor {slug}: {}", reply.text);
        reply.json()
    }

    /// Answers the challenge of `step` (JSON API) and returns the reply.
    async fn answer(&self, slug: &str, step: &Value, values: Value) -> Reply {
        let challenge = &step["challenge"];
        let body = json!({
            "stage": challenge["stage"],
            "version": challenge["version"],
            "values": values,
        });
        self.post_json(&executor(slug), &body).await
    }

    /// Answers the challenge of `step` and expects a next step.
    async fn next(&self, slug: &str, step: &Value, values: Value) -> Value {
        let reply = self.answer(slug, step, values).await;
        assert_eq!(reply.status, 200, "answer {slug}: {}", reply.text);
        reply.json()
    }

    /// The account page's HTML, or a failure when not signed in.
    async fn account(&self) -> String {
        let reply = self.get("/if/user/").await;
        assert_eq!(reply.status, 200, "account page: {}", reply.text);
        reply.text
    }

    /// Whether this browser has a live session.
    async fn signed_in(&self) -> bool {
        let reply = self.get("/if/user/").await;
        match reply.status {
            200 => true,
            303 => {
                let to = reply.header("location").unwrap_or_default();
                assert_eq!(to, "/if/flow/default-authentication/?next=/if/user/");
                false
            }
            other => panic!("account page answered {other}: {}", reply.text),
        }
    }
}

/// The status of the account page for a request carrying only this
/// session cookie: 200 while the session lives, 303 after it ended.
async fn account_status_with(server: &Server, session: &str) -> u16 {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let request = client
        .get(format!("{}/if/user/", server.url))
        .header("cookie", format!("castellan_session={session}"));
    Reply::of(request).await.status
}

/// The challenge of a step, checking its component.
fn challenge<'a>(step: &'a Value, component: &str) -> &'a Value {
    assert_eq!(step["type"], "challenge", "expected a challenge: {step}");
    let challenge = &step["challenge"];
    assert_eq!(challenge["component"], component, "{step}");
    challenge
}

/// The errors on one field of a step's challenge.
fn field_errors(step: &Value, field: &str) -> Vec<String> {
    let fields = step["challenge"]["fields"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let found = fields
        .iter()
        .find(|candidate| candidate["name"] == field)
        .unwrap_or_else(|| panic!("no field {field} in {step}"));
    strings(&found["errors"])
}

/// The names of a step's fields.
fn field_names(step: &Value) -> Vec<String> {
    let fields = step["challenge"]["fields"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    fields
        .iter()
        .map(|field| field["name"].as_str().unwrap().to_owned())
        .collect()
}

/// The texts of a step's messages.
fn messages(step: &Value) -> Vec<String> {
    let messages = step["challenge"]["messages"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    messages
        .iter()
        .map(|message| message["text"].as_str().unwrap().to_owned())
        .collect()
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|item| item.as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn assert_redirect(step: &Value, to: &str) {
    assert_eq!(step["type"], "redirect", "expected a redirect: {step}");
    assert_eq!(step["to"], to, "{step}");
}

/// The error code of an API error reply with `status`.
fn assert_error(reply: &Reply, status: u16, code: &str) {
    assert_eq!(reply.status, status, "{}", reply.text);
    assert_eq!(reply.json()["error"]["code"], code, "{}", reply.text);
}

/// Runs the authentication flow through the JSON API up to the answer to
/// the password stage, and returns the step that answer gives.
async fn sign_in(browser: &Browser, identifier: &str, password: &str) -> Value {
    let step = browser.step(AUTHENTICATION).await;
    challenge(&step, "identification");
    let step = browser
        .next(AUTHENTICATION, &step, json!({ "identifier": identifier }))
        .await;
    challenge(&step, "password");
    browser
        .next(AUTHENTICATION, &step, json!({ "password": password }))
        .await
}

/// Audit events matching `query` (`action=...&target=...`), newest first.
/// Signs out through the pages: the confirmation form, then its answer. A
/// GET alone must not end the session (checked here on every sign-out).
async fn sign_out(browser: &Browser) -> Reply {
    let confirm = browser.get(&page(INVALIDATION)).await;
    assert_eq!(confirm.status, 200, "{}", confirm.text);
    assert!(confirm.text.contains("Sign out?"), "{}", confirm.text);
    assert!(
        browser.signed_in().await,
        "a GET of the sign-out page signed the user out"
    );
    let (stage, version, csrf) = sign_in::form_state(&confirm.text);
    let form = [
        ("_stage", stage.as_str()),
        ("_version", version.as_str()),
        ("_csrf", csrf.as_str()),
    ];
    browser.post_form(&page(INVALIDATION), &form).await
}

async fn events(server: &Server, query: &str) -> Vec<Value> {
    let reply = server
        .get(&format!("/api/v1/events?limit=500&{query}"), ADMIN_TOKEN)
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.json()["items"].as_array().unwrap().clone()
}

/// A server with the admin token and the user ada (password and email).
async fn server_with_ada(db: &TestDb, env: &[(&str, &str)]) -> (Server, String) {
    let server = Server::with_admin(db, env);
    let ada = create_ada(&server).await;
    (server, ada)
}

async fn create_ada(server: &Server) -> String {
    let body = json!({
        "username": "ada",
        "email": "ada@example.org",
        "display_name": "Ada Lovelace",
        "password": ADA_PASSWORD,
    });
    server.create_user(ADMIN_TOKEN, body).await
}

/// The user with this exact username, through the admin API.
async fn user_named(server: &Server, username: &str) -> Option<Value> {
    let reply = server
        .get(&format!("/api/v1/users?username={username}"), ADMIN_TOKEN)
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let items = reply.json()["items"].as_array().unwrap().clone();
    items.into_iter().find(|user| user["username"] == username)
}

/// The value of the form input named `name` in a page.
fn form_value(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no input {name} in:\n{html}"))
        + marker.len();
    let end = html[start..].find('"').unwrap();
    html[start..start + end].to_owned()
}

/// Undoes the HTML escaping the page templates apply (they escape `/` too).
fn unescape(html: &str) -> String {
    html.replace("&#x2f;", "/")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The `<input>` element named `name` in a page.
fn input_tag(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\"");
    let at = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no input {name} in:\n{html}"));
    let start = html[..at].rfind('<').unwrap();
    let end = at + html[at..].find('>').unwrap();
    html[start..=end].to_owned()
}

fn assert_secure_page(reply: &Reply) {
    let policy = reply
        .header("content-security-policy")
        .unwrap_or_else(|| panic!("no Content-Security-Policy: {:?}", reply.headers));
    assert!(policy.contains("default-src 'none'"), "{policy}");
    assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
}
