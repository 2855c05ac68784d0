//! Bad requests to the admin API: each answers with its documented status
//! and stable error code, and writes nothing but the failure events the
//! audit log promises. Also the OpenAPI document against the router.

use std::collections::{BTreeMap, BTreeSet};

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{ADMIN_TOKEN, Reply, Server, TestDb};

const JSON: &str = "application/json";

/// Text that would show an internal cause leaking into a response.
const LEAKS: &[&str] = &[
    "INSERT",
    "SELECT",
    "constraint",
    "sqlx",
    "panicked",
    "backtrace",
    "RUST_BACKTRACE",
    ".rs:",
];

/// Checks the status, the `{"error": {"code", "message"}}` shape, the
/// `WWW-Authenticate` challenge on 401 and that nothing internal shows.
fn assert_error(reply: &Reply, status: u16, code: &str, case: &str) {
    assert_eq!(reply.status, status, "{case}: {}", reply.text);
    assert_eq!(reply.header("content-type"), Some(JSON), "{case}");
    let body = reply.json();
    let error = body["error"]
        .as_object()
        .unwrap_or_else(|| panic!("{case}: {body}"));
    assert_eq!(error["code"], code, "{case}: {body}");
    let message = error["message"].as_str().unwrap_or_default();
    assert!(!message.is_empty(), "{case}: {body}");
    let keys: BTreeSet<&str> = error.keys().map(String::as_str).collect();
    assert!(
        keys.is_subset(&BTreeSet::from(["code", "message", "field"])),
        "{case}: {body}"
    );
    assert_eq!(body.as_object().unwrap().len(), 1, "{case}: {body}");
    for leak in LEAKS {
        assert!(
            !reply.text.contains(leak),
            "{case}: {leak:?} in {}",
            reply.text
        );
    }
    let challenge = reply.header("www-authenticate");
    if status == 401 {
        assert!(challenge.is_some_and(|c| c.starts_with("Bearer")), "{case}");
    } else {
        assert!(challenge.is_none(), "{case}");
    }
}

/// Requests the admin API refuses without writing anything, one a line:
/// case | caller | method and path under `/api/v1` | content type | body |
/// status | code.
/// `-` means none, `json` is `application/json`; `{me}`, `{admin_group}`,
/// `{unknown}` and `{big}` (a body over the 1 KiB limit) are filled in.
const REFUSED: &str = r#"
malformed JSON | admin | POST /users | json | {"username": | 400 | invalid_request
wrong field type | admin | POST /users | json | {"username": 42} | 400 | invalid_request
flag type | admin | POST /users | json | {"username":"x","active":"yes"} | 400 | invalid_request
unknown field | admin | POST /users | json | {"username":"x","bogus":1} | 400 | invalid_request
missing field | admin | POST /users | json | {"email":"x@example.org"} | 400 | invalid_request
not an object | admin | POST /users | json | [] | 400 | invalid_request
invalid email | admin | POST /users | json | {"username":"x","email":"nope"} | 400 | invalid_request
empty username | admin | POST /users | json | {"username":""} | 400 | invalid_request
non-UUID id | admin | GET /users/not-a-uuid | - | - | 400 | invalid_request
non-UUID id on PATCH | admin | PATCH /users/42 | json | {} | 400 | invalid_request
bad query value | admin | GET /users?limit=many | - | - | 400 | invalid_request
unknown query key | admin | GET /users?bogus=1 | - | - | 400 | invalid_request
token expiry | admin | POST /tokens | json | {"name":"t","expires_at":"x"} | 400 | invalid_request
deleting the admin group | admin | DELETE /groups/{admin_group} | - | - | 400 | invalid_request
deleting yourself | admin | DELETE /users/{me} | - | - | 400 | invalid_request
body over the limit | admin | POST /users | json | {big} | 413 | payload_too_large
text body | admin | POST /users | text/plain | {"username":"x"} | 415 | unsupported_media_type
no content type | admin | POST /users | - | {"username":"x"} | 415 | unsupported_media_type
unknown user | admin | GET /users/{unknown} | - | - | 404 | not_found
unknown group | admin | GET /groups/{unknown} | - | - | 404 | not_found
unknown group's members | admin | GET /groups/{unknown}/members | - | - | 404 | not_found
unknown token | admin | DELETE /tokens/{unknown} | - | - | 404 | not_found
unknown endpoint | admin | GET /nothing-here | - | - | 404 | not_found
missing token | none | GET /users | - | - | 401 | unauthorized
wrong token | wrong | GET /users | - | - | 401 | unauthorized
basic credentials | basic | GET /users | - | - | 401 | unauthorized
user token listing users | user | GET /users | - | - | 403 | forbidden
user token creating a user | user | POST /users | json | {"username":"x"} | 403 | forbidden
user token reading events | user | GET /events | - | - | 403 | forbidden
user admin token | user | POST /tokens | json | {"name":"x","scope":"admin"} | 403 | forbidden
"#;

/// What the refused cases refer to.
struct Fixture {
    me: String,
    admin_group: String,
    unknown: String,
    user_token: String,
}

impl Fixture {
    /// The request of one `REFUSED` line.
    fn request(
        &self,
        server: &Server,
        who: &str,
        call: &str,
        content_type: &str,
        body: &str,
    ) -> reqwest::RequestBuilder {
        let (method, path) = call.split_once(' ').unwrap();
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let path = format!("/api/v1{path}")
            .replace("{me}", &self.me)
            .replace("{admin_group}", &self.admin_group)
            .replace("{unknown}", &self.unknown);
        let token = match who {
            "admin" => Some(ADMIN_TOKEN),
            "user" => Some(self.user_token.as_str()),
            "wrong" => Some("wrong-token"),
            _ => None,
        };
        let mut request = server.request(method, &path, token);
        if who == "basic" {
            request = request.basic_auth("admin", Some("x"));
        }
        match content_type {
            "-" => {}
            "json" => request = request.header("content-type", JSON),
            other => request = request.header("content-type", other),
        }
        if body == "{big}" {
            let big = json!({"username": "big", "display_name": "x".repeat(2048)});
            request = request.body(big.to_string());
        } else if body != "-" {
            request = request.body(body.to_owned());
        }
        request
    }
}

fn id_of(reply: &Reply) -> String {
    reply.json()["id"].as_str().unwrap().to_owned()
}

/// The newest audit event.
async fn newest_event(server: &Server) -> Value {
    let events = server.get("/api/v1/events?limit=1", ADMIN_TOKEN).await;
    events.json()["items"][0].clone()
}

#[tokio::test]
async fn refused_requests_answer_with_stable_codes_and_write_nothing() {
    for db in TestDb::all().await {
        let backend = db.backend;
        let server = Server::with_admin(&db, &[("CASTELLAN_HTTP__MAX_BODY_BYTES", "1024")]);
        let me = server.get("/api/v1/me", ADMIN_TOKEN).await;
        let admins = server
            .get("/api/v1/groups?name=castellan-admins", ADMIN_TOKEN)
            .await;
        let admin_group = admins.json()["items"][0]["id"].as_str().unwrap().to_owned();
        let ada = server
            .create_user(ADMIN_TOKEN, json!({"username": "ada"}))
            .await;
        let token = json!({"name": "t", "user": ada});
        let user_token = server.post("/api/v1/tokens", ADMIN_TOKEN, &token).await;
        let user_token = user_token.json()["secret"].as_str().unwrap().to_owned();
        let before = server.counts(ADMIN_TOKEN).await;

        let fixture = Fixture {
            me: id_of(&me),
            admin_group: admin_group.clone(),
            unknown: uuid::Uuid::new_v4().to_string(),
            user_token,
        };
        for line in REFUSED.lines().filter(|line| !line.trim().is_empty()) {
            let fields: Vec<&str> = line.split(" | ").map(str::trim).collect();
            let [case, who, call, content_type, body, status, code] = fields[..] else {
                panic!("bad case line: {line}");
            };
            let request = fixture.request(&server, who, call, content_type, body);
            let case = format!("{backend}: {case}");
            let reply = Reply::of(request).await;
            assert_error(&reply, status.parse().unwrap(), code, &case);
            let after = server.counts(ADMIN_TOKEN).await;
            assert_eq!(after, before, "{case} wrote something");
        }

        let post = |body: &str| {
            let request = server.request(Method::POST, "/api/v1/users", Some(ADMIN_TOKEN));
            request.header("content-type", JSON).body(body.to_owned())
        };
        // The field at fault is named where there is one.
        let reply = Reply::of(post(r#"{"username":"x","email":"nope"}"#)).await;
        assert_eq!(reply.json()["error"]["field"], "email", "{backend}");
        let reply = server
            .delete(&format!("/api/v1/groups/{admin_group}"), ADMIN_TOKEN)
            .await;
        assert_eq!(reply.json()["error"]["field"], "group", "{backend}");
        let me = server.get("/api/v1/me", ADMIN_TOKEN).await;
        assert_eq!(me.status, 200, "{backend}: the admin was deleted");
    }
}

#[tokio::test]
async fn refused_duplicates_write_only_a_failure_event() {
    for db in TestDb::all().await {
        let backend = db.backend;
        let server = Server::with_admin(&db, &[]);
        let ada = json!({"username": "ada", "email": "Ada@Example.org"});
        let ada = server.create_user(ADMIN_TOKEN, ada).await;
        let staff = json!({"name": "staff"});
        assert_eq!(
            server
                .post("/api/v1/groups", ADMIN_TOKEN, &staff)
                .await
                .status,
            201
        );

        let cases = [
            (
                "/api/v1/users",
                json!({"username": "ADA"}),
                "username",
                "user.create",
            ),
            (
                "/api/v1/users",
                json!({"username": "bea", "email": "ada@example.ORG", "password": "pw-for-bea"}),
                "email",
                "user.create",
            ),
            (
                "/api/v1/groups",
                json!({"name": "Staff"}),
                "name",
                "group.create",
            ),
        ];
        for (path, body, field, action) in cases {
            let case = format!("{backend}: duplicate {field}");
            let (users, events) = server.counts(ADMIN_TOKEN).await;
            let reply = server.post(path, ADMIN_TOKEN, &body).await;
            assert_error(&reply, 409, "conflict", &case);
            assert_eq!(reply.json()["error"]["field"], field, "{case}");
            assert_eq!(
                server.counts(ADMIN_TOKEN).await,
                (users, events + 1),
                "{case}"
            );
            let event = newest_event(&server).await;
            assert_eq!(event["action"], action, "{case}: {event}");
            assert_eq!(event["outcome"], "failure", "{case}: {event}");
            assert_eq!(event["detail"]["error"], "conflict", "{case}: {event}");
        }

        // Renaming into a taken name is refused the same way.
        let (users, events) = server.counts(ADMIN_TOKEN).await;
        server
            .create_user(ADMIN_TOKEN, json!({"username": "cyd"}))
            .await;
        let rename = json!({"username": "Cyd"});
        let reply = server
            .patch(&format!("/api/v1/users/{ada}"), ADMIN_TOKEN, &rename)
            .await;
        assert_error(&reply, 409, "conflict", &format!("{backend}: rename"));
        assert_eq!(server.counts(ADMIN_TOKEN).await, (users + 1, events + 2));
        let event = newest_event(&server).await;
        assert_eq!(event["action"], "user.update", "{backend}: {event}");
        assert_eq!(event["outcome"], "failure", "{backend}: {event}");
        let kept = server
            .get(&format!("/api/v1/users/{ada}"), ADMIN_TOKEN)
            .await;
        assert_eq!(kept.json()["username"], "ada", "{backend}");
    }
}

#[tokio::test]
async fn deleting_what_does_not_exist_is_not_found() {
    for db in TestDb::all().await {
        let backend = db.backend;
        let server = Server::with_admin(&db, &[]);
        let ada = server
            .create_user(ADMIN_TOKEN, json!({"username": "ada"}))
            .await;
        let staff = server
            .post("/api/v1/groups", ADMIN_TOKEN, &json!({"name": "staff"}))
            .await;
        let staff = id_of(&staff);
        let unknown = uuid::Uuid::new_v4();

        // Unknown groups and tokens are looked up first: nothing is written.
        let (users, events) = server.counts(ADMIN_TOKEN).await;
        for path in [
            format!("/api/v1/groups/{unknown}"),
            format!("/api/v1/tokens/{unknown}"),
        ] {
            let reply = server.delete(&path, ADMIN_TOKEN).await;
            assert_error(&reply, 404, "not_found", &format!("{backend}: {path}"));
        }
        assert_eq!(
            server.counts(ADMIN_TOKEN).await,
            (users, events),
            "{backend}"
        );

        // A user or membership that is not there is a refused change: one
        // failure event, with the same code as the answer.
        let cases = [
            (format!("/api/v1/users/{unknown}"), "user.delete"),
            (
                format!("/api/v1/groups/{staff}/members/{ada}"),
                "group.member.remove",
            ),
        ];
        for (offset, (path, action)) in cases.into_iter().enumerate() {
            let reply = server.delete(&path, ADMIN_TOKEN).await;
            assert_error(&reply, 404, "not_found", &format!("{backend}: {path}"));
            let counts = (users, events + offset + 1);
            assert_eq!(
                server.counts(ADMIN_TOKEN).await,
                counts,
                "{backend}: {path}"
            );
            let event = newest_event(&server).await;
            assert_eq!(event["action"], action, "{backend}: {event}");
            assert_eq!(event["outcome"], "failure", "{backend}: {event}");
            assert_eq!(event["detail"]["error"], "not_found", "{backend}: {event}");
        }
    }
}

/// The admin routes under `/api/v1` with their methods, as the router
/// serves them.
fn routes() -> BTreeMap<&'static str, BTreeSet<&'static str>> {
    [
        ("/api/v1/users", &["get", "post"][..]),
        ("/api/v1/users/{id}", &["get", "patch", "delete"]),
        ("/api/v1/users/{id}/groups", &["get"]),
        ("/api/v1/me", &["get"]),
        ("/api/v1/groups", &["get", "post"]),
        ("/api/v1/groups/{id}", &["get", "patch", "delete"]),
        ("/api/v1/groups/{id}/members", &["get", "post"]),
        ("/api/v1/groups/{id}/members/{user}", &["delete"]),
        ("/api/v1/tokens", &["get", "post"]),
        ("/api/v1/tokens/{id}", &["get", "delete"]),
        ("/api/v1/events", &["get"]),
    ]
    .into_iter()
    .map(|(path, methods)| (path, methods.iter().copied().collect()))
    .collect()
}

/// The OpenAPI document does not touch the database; SQLite suffices.
#[tokio::test]
async fn openapi_document_lists_every_route() {
    let db = TestDb::sqlite();
    let server = Server::with_admin(&db, &[]);
    let reply = server.get_open("/api/v1/openapi.json").await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let document = reply.json();
    let version = document["openapi"].as_str().unwrap_or_default();
    assert!(version.starts_with("3."), "{version}");
    let scheme = &document["components"]["securitySchemes"]["bearer"];
    assert_eq!(scheme["scheme"], "bearer", "{scheme}");

    let documented: BTreeMap<&str, BTreeSet<&str>> = document["paths"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(path, item)| {
            let methods = item.as_object().unwrap().keys();
            let methods = methods.map(String::as_str).filter(|key| is_method(key));
            (path.as_str(), methods.collect())
        })
        .collect();
    for (path, methods) in routes() {
        assert_eq!(documented.get(path), Some(&methods), "{path}");
    }

    // The router serves each documented operation, and no other method on
    // those paths. Admin routes want a token first.
    let id = uuid::Uuid::new_v4().to_string();
    for (path, methods) in &documented {
        let concrete = path
            .replace("{id}", &id)
            .replace("{user}", &id)
            .replace("{slug}", "default-authentication");
        for method in ["get", "post", "patch", "delete", "put"] {
            let verb = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let reply = Reply::of(server.request(verb, &concrete, None)).await;
            let case = format!("{method} {concrete}: {} {}", reply.status, reply.text);
            if !methods.contains(method) {
                assert_eq!(reply.status, 405, "{case}");
            } else if routes().contains_key(path) {
                assert_eq!(reply.status, 401, "{case}");
            } else {
                assert_ne!(reply.status, 405, "{case}");
                assert!(!reply.text.contains("endpoint not found"), "{case}");
            }
        }
    }
}

fn is_method(key: &str) -> bool {
    [
        "get", "put", "post", "delete", "options", "head", "patch", "trace",
    ]
    .contains(&key)
}
