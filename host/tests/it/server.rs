//! The `castellan serve` process: first start, restarts, health, metrics,
//! logs, losing the database and shutting down, on every configured engine.

use std::net::ToSocketAddrs as _;
use std::time::{Duration, Instant};

use castellan::api::UserFilterQuery;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::support::{
    ADMIN_TOKEN, Forwarder, Reply, Server, TestDb, castellan, eventually, foreign_hashes,
    json_lines,
};

/// Bootstrap values that look like numbers: they must be taken as written,
/// leading zeros and all.
const FIRST_TOKEN: &str = "0012345678901234";
const FIRST_PASSWORD: &str = "0020250101";
const OTHER_TOKEN: &str = "it-other-bootstrap-token";

/// The secret of the `/setup/<secret>` link printed on standard output.
fn setup_secret(stdout: &str) -> Option<String> {
    let (_, rest) = stdout.split_once("/setup/")?;
    let secret: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    Some(secret)
}

/// The first `cst_` token secret in `text`.
fn token_in(text: &str) -> Option<String> {
    let at = text.find("cst_")?;
    let token: String = text[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    Some(token)
}

#[tokio::test]
async fn bootstrap_from_environment_then_restart_keeps_data() {
    for db in TestDb::all().await {
        let backend = db.backend;
        let bootstrap = [
            ("CASTELLAN_BOOTSTRAP_TOKEN", FIRST_TOKEN),
            ("CASTELLAN_BOOTSTRAP_ADMIN_PASSWORD", FIRST_PASSWORD),
        ];
        let mut server = Server::start(&db, &bootstrap);
        let me = server.get("/api/v1/me", FIRST_TOKEN).await;
        assert_eq!(me.status, 200, "{backend}: {}", me.text);
        assert_eq!(me.json()["username"], "admin", "{backend}");
        assert_eq!(me.json()["has_password"], true, "{backend}");

        let ada = server
            .create_user(
                FIRST_TOKEN,
                json!({"username": "ada", "email": "ada@example.org"}),
            )
            .await;
        server
            .create_user(FIRST_TOKEN, json!({"username": "bo"}))
            .await;
        let staff = server
            .post("/api/v1/groups", FIRST_TOKEN, &json!({"name": "staff"}))
            .await;
        assert_eq!(staff.status, 201, "{backend}: {}", staff.text);
        let staff = staff.json()["id"].as_str().unwrap().to_owned();
        let nested = json!({"name": "engineering", "parent": staff});
        let engineering = server.post("/api/v1/groups", FIRST_TOKEN, &nested).await;
        assert_eq!(engineering.status, 201, "{backend}: {}", engineering.text);
        let engineering = engineering.json()["id"].as_str().unwrap().to_owned();
        let member = json!({"user": ada});
        let added = server
            .post(
                &format!("/api/v1/groups/{engineering}/members"),
                FIRST_TOKEN,
                &member,
            )
            .await;
        assert_eq!(added.status, 204, "{backend}: {}", added.text);

        let status = server.stop();
        assert!(status.success(), "{backend}: {status}\n{}", server.logs());
        assert!(server.logs().contains("stopped"), "{backend}");

        // Same database, no bootstrap variables: everything is still there.
        let mut server = Server::start(&db, &[]);
        let me = server.get("/api/v1/me", FIRST_TOKEN).await;
        assert_eq!(me.status, 200, "{backend}: {}", me.text);
        assert_eq!(me.json()["username"], "admin", "{backend}");
        let effective = server
            .get(
                &format!("/api/v1/groups/{staff}/members?effective=true"),
                FIRST_TOKEN,
            )
            .await;
        let names: Vec<Value> = effective
            .json()
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["username"].clone())
            .collect();
        assert_eq!(names, [json!("ada")], "{backend}");
        let found = server.get("/api/v1/users?username=ada", FIRST_TOKEN).await;
        assert_eq!(
            found.json()["items"][0]["email"],
            "ada@example.org",
            "{backend}"
        );
        assert!(!server.stdout_text().contains("/setup/"), "{backend}");
        assert!(server.stop().success(), "{backend}");

        // New bootstrap values do nothing once an admin exists.
        let other = [
            ("CASTELLAN_BOOTSTRAP_TOKEN", OTHER_TOKEN),
            ("CASTELLAN_BOOTSTRAP_ADMIN_PASSWORD", "other-admin-password"),
        ];
        let mut server = Server::start(&db, &other);
        let refused = server.get("/api/v1/me", OTHER_TOKEN).await;
        assert_eq!(refused.status, 401, "{backend}: {}", refused.text);
        let (users, _) = server.counts(FIRST_TOKEN).await;
        assert_eq!(users, 3, "{backend}");
        assert!(server.stop().success(), "{backend}");

        let directory = db.directory().await;
        let first = directory.check_password("admin", FIRST_PASSWORD).await;
        assert!(first.unwrap().is_some(), "{backend}");
        let second = directory
            .check_password("admin", "other-admin-password")
            .await;
        assert!(second.unwrap().is_none(), "{backend}");
    }
}

#[tokio::test]
async fn setup_link_creates_first_admin_once() {
    for db in TestDb::all().await {
        let backend = db.backend;
        let mut server = Server::start(&db, &[]);
        let secret = setup_secret(&server.stdout_text())
            .unwrap_or_else(|| panic!("{backend}: no setup link:\n{}", server.logs()));
        assert!(secret.len() >= 40, "{backend}: {secret}");
        let link = format!("/setup/{secret}");

        let form = server.get_open(&link).await;
        assert_eq!(form.status, 200, "{backend}: {}", form.text);
        assert!(
            form.header("content-type")
                .unwrap()
                .starts_with("text/html")
        );
        assert!(form.text.contains("<form method=\"post\""), "{}", form.text);
        let policy = form.header("content-security-policy").unwrap_or_default();
        assert!(policy.contains("default-src 'none'"), "{backend}: {policy}");
        assert!(
            policy.contains("frame-ancestors 'none'"),
            "{backend}: {policy}"
        );
        assert_eq!(form.header("cache-control"), Some("no-store"), "{backend}");
        let wrong = server.get_open("/setup/not-the-secret").await;
        assert_eq!(wrong.status, 404, "{backend}");

        let submit = |fields: [(&'static str, &'static str); 3]| {
            Reply::of(
                server
                    .request(reqwest::Method::POST, &link, None)
                    .form(&fields),
            )
        };
        let mismatch = submit([
            ("username", "root"),
            ("password", "setup-password-1"),
            ("confirm", "setup-password-2"),
        ])
        .await;
        assert_eq!(mismatch.status, 400, "{backend}: {}", mismatch.text);
        assert!(mismatch.text.contains("do not match"), "{}", mismatch.text);
        let directory = db.directory().await;
        let nobody = directory.users(&UserFilterQuery::default()).await.unwrap();
        assert!(nobody.is_empty(), "{backend}");

        let valid = [
            ("username", "root"),
            ("password", "setup-password-1"),
            ("confirm", "setup-password-1"),
        ];
        let done = submit(valid).await;
        assert_eq!(done.status, 200, "{backend}: {}", done.text);
        assert!(
            done.header("content-security-policy").is_some(),
            "{backend}"
        );
        let token =
            token_in(&done.text).unwrap_or_else(|| panic!("{backend}: no token in {}", done.text));
        let me = server.get("/api/v1/me", &token).await;
        assert_eq!(me.status, 200, "{backend}: {}", me.text);
        assert_eq!(me.json()["username"], "root", "{backend}");
        let users = server.get("/api/v1/users", &token).await;
        assert_eq!(users.status, 200, "{backend}: {}", users.text);
        let events = server
            .get("/api/v1/events?action=setup.complete", &token)
            .await;
        assert_eq!(
            events.json()["items"].as_array().unwrap().len(),
            1,
            "{backend}"
        );

        let again = submit(valid).await;
        assert_eq!(again.status, 404, "{backend}: {}", again.text);
        assert_eq!(server.get_open(&link).await.status, 404, "{backend}");
        let admins = directory.users(&UserFilterQuery::default()).await.unwrap();
        assert_eq!(admins.len(), 1, "{backend}");

        // The link is a credential: it goes to standard output only.
        assert!(server.stop().success(), "{backend}");
        assert!(
            !server.stderr_text().contains(&secret),
            "{backend}: the setup secret reached the logs:\n{}",
            server.stderr_text()
        );

        let mut server = Server::start(&db, &[]);
        assert!(!server.stdout_text().contains("/setup/"), "{backend}");
        assert_eq!(server.get("/api/v1/me", &token).await.status, 200);
        assert!(server.stop().success(), "{backend}");
    }
}

/// Lines `/metrics` holds after the calls of the test below: counts by route
/// template, method and status.
const METRIC_LINES: &str = r#"
http_requests_total{route="/api/v1/users",method="GET",status="200"} 3
http_requests_total{route="/api/v1/users",method="GET",status="401"} 2
http_requests_total{route="/api/v1/users/{id}",method="GET",status="200"} 1
http_requests_total{route="/health/ready",method="GET",status="200"} 1
http_request_duration_seconds_count{route="/api/v1/users",method="GET"} 5
"#;

/// Names and labels of lines `/metrics` holds, whatever their values.
const METRIC_PREFIXES: &str = r#"
http_request_duration_seconds_bucket{route="/api/v1/users",method="GET",le="0.005"}
http_request_duration_seconds_sum{route="/api/v1/users",method="GET"}
db_pool_connections
db_pool_idle_connections
"#;

#[tokio::test]
async fn health_metrics_and_request_ids() {
    for db in TestDb::all().await {
        let backend = db.backend;
        let server = Server::with_admin(&db, &[("CASTELLAN_LOG_FORMAT", "json")]);
        let live = server.get_open("/health/live").await;
        assert_eq!(live.status, 200, "{backend}");
        let ready = server.get_open("/health/ready").await;
        assert_eq!(ready.status, 200, "{backend}: {}", ready.text);
        assert_eq!(ready.json()["status"], "ok", "{backend}");
        let generated = ready.header("x-request-id").unwrap().to_owned();
        assert!(uuid::Uuid::parse_str(&generated).is_ok(), "{generated}");

        let mut ids = Vec::new();
        for _ in 0..3 {
            let users = server.get("/api/v1/users", ADMIN_TOKEN).await;
            assert_eq!(users.status, 200, "{backend}: {}", users.text);
            ids.push(users.header("x-request-id").unwrap().to_owned());
        }
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 3, "{backend}: request ids repeat");
        let me = server.get("/api/v1/me", ADMIN_TOKEN).await;
        let admin = me.json()["id"].as_str().unwrap().to_owned();
        let one = server
            .get(&format!("/api/v1/users/{admin}"), ADMIN_TOKEN)
            .await;
        assert_eq!(one.status, 200, "{backend}");

        // A refused token is logged inside its request's span; a request id
        // sent by the client is kept.
        let kept = Reply::of(
            server
                .request(reqwest::Method::GET, "/api/v1/users", Some("wrong-token"))
                .header("x-request-id", "it-request-0001"),
        )
        .await;
        assert_eq!(kept.status, 401, "{backend}");
        assert_eq!(kept.header("x-request-id"), Some("it-request-0001"));
        let fresh = server.get("/api/v1/users", "wrong-token").await;
        assert_eq!(fresh.status, 401, "{backend}");
        let fresh_id = fresh.header("x-request-id").unwrap().to_owned();

        let lines = json_lines(&server.stderr_text());
        let rejected: Vec<&Value> = lines
            .iter()
            .filter(|line| line["message"] == "rejected bearer token")
            .collect();
        assert_eq!(rejected.len(), 2, "{backend}: {}", server.stderr_text());
        for (line, id) in rejected.iter().zip(["it-request-0001", fresh_id.as_str()]) {
            assert_eq!(line["span"]["request_id"], id, "{backend}: {line}");
            assert_eq!(line["spans"][0]["request_id"], id, "{backend}: {line}");
            assert_eq!(line["span"]["path"], "/api/v1/users", "{backend}: {line}");
        }

        let metrics = server.get_open("/metrics").await;
        assert_eq!(metrics.status, 200, "{backend}");
        let text = metrics.text;
        for expected in METRIC_LINES.lines().filter(|line| !line.is_empty()) {
            let found = text.lines().any(|line| line == expected);
            assert!(found, "{backend}: no {expected:?} in\n{text}");
        }
        for expected in METRIC_PREFIXES.lines().filter(|line| !line.is_empty()) {
            let found = text.lines().any(|line| {
                line.strip_prefix(expected)
                    .is_some_and(|value| value.starts_with(' '))
            });
            assert!(found, "{backend}: no {expected:?}... in\n{text}");
        }
        // Routes are labelled by template, never by id.
        assert!(!text.contains(&admin), "{backend}: an id is a label");
    }
}

#[tokio::test]
async fn secrets_never_reach_logs_or_events() {
    let hash = foreign_hashes()[0]["stored"].as_str().unwrap().to_owned();
    assert!(hash.starts_with("$2b$"), "{hash}");
    let password = "canary-password-Zq81";
    let new_password = "canary-new-password-Pw62";
    let admin_password = "canary-admin-password-Lm42";
    let bad_hash = "canary-not-a-hash-Hx07";
    let wrong_token = "cst_canary-wrong-token-Tk55";

    for db in TestDb::all().await {
        let backend = db.backend;
        let mut server = Server::with_admin(
            &db,
            &[
                ("CASTELLAN_BOOTSTRAP_ADMIN_PASSWORD", admin_password),
                ("CASTELLAN_LOG_LEVEL", "debug"),
            ],
        );
        let pat = server
            .create_user(
                ADMIN_TOKEN,
                json!({"username": "pat", "password": password}),
            )
            .await;
        server
            .create_user(
                ADMIN_TOKEN,
                json!({"username": "imp", "password_hash": hash}),
            )
            .await;
        let change = json!({"password": new_password});
        let changed = server
            .patch(&format!("/api/v1/users/{pat}"), ADMIN_TOKEN, &change)
            .await;
        assert_eq!(changed.status, 200, "{backend}: {}", changed.text);
        let refused = server
            .post(
                "/api/v1/users",
                ADMIN_TOKEN,
                &json!({"username": "bad", "password_hash": bad_hash}),
            )
            .await;
        assert_eq!(refused.status, 400, "{backend}: {}", refused.text);
        assert!(
            !refused.text.contains(bad_hash),
            "{backend}: {}",
            refused.text
        );
        let duplicate = json!({"username": "PAT", "password": password});
        let duplicate = server.post("/api/v1/users", ADMIN_TOKEN, &duplicate).await;
        assert_eq!(duplicate.status, 409, "{backend}: {}", duplicate.text);

        let token = json!({"name": "laptop", "user": pat});
        let token = server.post("/api/v1/tokens", ADMIN_TOKEN, &token).await;
        assert_eq!(token.status, 201, "{backend}: {}", token.text);
        let token = token.json()["secret"].as_str().unwrap().to_owned();
        assert_eq!(server.get("/api/v1/me", &token).await.status, 200);
        assert_eq!(server.get("/api/v1/me", wrong_token).await.status, 401);
        let listed = server.get("/api/v1/tokens", ADMIN_TOKEN).await;
        assert!(!listed.text.contains(&token), "{backend}: {}", listed.text);

        let events = server.get("/api/v1/events?limit=500", ADMIN_TOKEN).await;
        assert_eq!(events.status, 200, "{backend}");
        assert!(server.stop().success(), "{backend}");
        let logs = server.logs();
        assert!(logs.contains("DEBUG"), "{backend}: debug logs are off");
        let secrets = [
            password,
            new_password,
            admin_password,
            &hash,
            bad_hash,
            &token,
            wrong_token,
            ADMIN_TOKEN,
        ];
        for secret in secrets {
            assert!(
                !logs.contains(secret),
                "{backend}: {secret} in the logs:\n{logs}"
            );
            assert!(
                !events.text.contains(secret),
                "{backend}: {secret} in the events:\n{}",
                events.text
            );
        }
    }

    // `check-config` shows what is set, never the values; values that look
    // like numbers or booleans are secrets too.
    let database = "postgres://castellan:canary-db-password-Db93@db.invalid:5432/idp";
    for (token, admin) in [
        ("canary-token-Cc11", admin_password),
        ("20250101123456789", "true"),
    ] {
        let shown = castellan(
            &["check-config"],
            &[
                ("CASTELLAN_BOOTSTRAP_TOKEN", token),
                ("CASTELLAN_BOOTSTRAP_ADMIN_PASSWORD", admin),
                ("CASTELLAN_DATABASE_URL", database),
            ],
        );
        let output = format!("{}\n{}", shown.stdout, shown.stderr);
        assert!(shown.success, "{output}");
        assert!(
            output.contains("castellan:***@db.invalid:5432/idp"),
            "{output}"
        );
        assert_eq!(output.matches("(set, hidden)").count(), 2, "{output}");
        // (`true` as such may well appear in the configuration.)
        for secret in [token, admin, "canary-db-password-Db93"] {
            let shown = secret != "true" && output.contains(secret);
            assert!(!shown, "{secret} shown:\n{output}");
        }
    }
    let unusable = castellan(
        &["check-config"],
        &[(
            "CASTELLAN_DATABASE_URL",
            "mysql://castellan:canary-db-Db94@db.invalid/idp",
        )],
    );
    assert!(!unusable.success, "{}", unusable.stdout);
    assert!(
        unusable.stderr.contains("mysql://castellan:***@"),
        "{}",
        unusable.stderr
    );
    assert!(
        !unusable.stderr.contains("canary-db-Db94"),
        "{}",
        unusable.stderr
    );
}

#[tokio::test]
async fn ready_goes_503_when_postgres_goes_away_and_recovers() {
    let Some(db) = TestDb::postgres().await else {
        eprintln!("SKIPPED ready_goes_503_when_postgres_goes_away_and_recovers: needs PostgreSQL");
        return;
    };
    let mut url = reqwest::Url::parse(&db.url).unwrap();
    let host = url.host_str().unwrap().to_owned();
    let target = (host.as_str(), url.port().unwrap_or(5432))
        .to_socket_addrs()
        .unwrap()
        .next()
        .unwrap();
    let mut forwarder = Forwarder::start(target);
    url.set_port(Some(forwarder.port)).unwrap();
    let server = Server::with_admin(
        &db,
        &[
            ("CASTELLAN_DATABASE_URL", url.as_str()),
            ("CASTELLAN_DATABASE__ACQUIRE_TIMEOUT_SECS", "2"),
        ],
    );
    assert_eq!(server.get_open("/health/ready").await.status, 200);
    assert_eq!(server.get("/api/v1/users", ADMIN_TOKEN).await.status, 200);

    forwarder.stop().await;
    let down = eventually(Duration::from_secs(15), async || {
        server.get_open("/health/ready").await.status == 503
    })
    .await;
    assert!(
        down,
        "ready stayed 200 without a database:\n{}",
        server.logs()
    );
    let ready = server.get_open("/health/ready").await;
    assert_eq!(ready.json()["status"], "unavailable", "{}", ready.text);
    let started = Instant::now();
    let users = server.get("/api/v1/users", ADMIN_TOKEN).await;
    assert_eq!(users.status, 503, "{}", users.text);
    assert_eq!(
        users.json()["error"]["code"],
        "unavailable",
        "{}",
        users.text
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert!(
        live_is_ok(&server).await,
        "liveness must not depend on the database"
    );

    forwarder.resume();
    let up = eventually(Duration::from_secs(15), async || {
        server.get_open("/health/ready").await.status == 200
    })
    .await;
    assert!(up, "ready did not recover:\n{}", server.logs());
    let users = server.get("/api/v1/users", ADMIN_TOKEN).await;
    assert_eq!(users.status, 200, "{}", users.text);
    server
        .create_user(ADMIN_TOKEN, json!({"username": "after-outage"}))
        .await;
}

async fn live_is_ok(server: &Server) -> bool {
    server.get_open("/health/live").await.status == 200
}

#[tokio::test]
async fn sigterm_finishes_in_flight_request() {
    for db in TestDb::all().await {
        let backend = db.backend;
        let mut server = Server::with_admin(
            &db,
            &[
                ("CASTELLAN_LOG_FORMAT", "json"),
                ("CASTELLAN_LOG_LEVEL", "info,tower_http=debug"),
            ],
        );
        // Send the headers and half the body, so the request is certainly in
        // flight (its handler waits for the rest) when SIGTERM arrives.
        let body = json!({"username": "late", "password": "in-flight-password"}).to_string();
        let (first, rest) = body.split_at(body.len() / 2);
        let head = format!(
            "POST /api/v1/users HTTP/1.1\r\nHost: 127.0.0.1\r\n\
             Authorization: Bearer {ADMIN_TOKEN}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n{first}",
            body.len()
        );
        let mut stream = TcpStream::connect(("127.0.0.1", server.port))
            .await
            .unwrap();
        stream.write_all(head.as_bytes()).await.unwrap();
        server
            .wait_for_log("for the POST", |line| {
                line["message"] == "started processing request" && line["span"]["method"] == "POST"
            })
            .await;

        server.terminate();
        server
            .wait_for_log("about shutting down", |line| {
                line["message"] == "shutting down; finishing requests in flight"
            })
            .await;
        let closed = eventually(Duration::from_secs(10), async || {
            TcpStream::connect(("127.0.0.1", server.port))
                .await
                .is_err()
        })
        .await;
        assert!(closed, "{backend}: still accepting after SIGTERM");

        stream.write_all(rest.as_bytes()).await.unwrap();
        let mut answer = Vec::new();
        tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut answer))
            .await
            .expect("the response within the grace period")
            .unwrap();
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with("HTTP/1.1 201"), "{backend}: {answer}");
        assert!(
            answer.contains("\"username\":\"late\""),
            "{backend}: {answer}"
        );

        let status = server.wait_exit();
        assert!(status.success(), "{backend}: {status}\n{}", server.logs());
        let lines = json_lines(&server.stderr_text());
        assert_eq!(lines.last().unwrap()["message"], "stopped", "{backend}");
        let users = db
            .directory()
            .await
            .users(&UserFilterQuery::default())
            .await;
        assert!(
            users.unwrap().iter().any(|user| user.username == "late"),
            "{backend}"
        );
    }
}

/// Behind a trusted reverse proxy the audit log records the client from
/// `X-Forwarded-For`; from anywhere else the header is ignored, so a client
/// cannot claim an internal address.
#[tokio::test]
async fn forwarded_for_is_believed_only_from_trusted_proxies() {
    let db = TestDb::sqlite();
    let env = [("CASTELLAN_HTTP__TRUSTED_PROXIES", r#"["127.0.0.1/32"]"#)];
    let server = Server::with_admin(&db, &env);
    let from = |source: [u8; 4]| {
        reqwest::Client::builder()
            .local_address(std::net::IpAddr::from(source))
            .build()
            .unwrap()
    };
    for (source, group, expected) in [
        ([127, 0, 0, 1], "via-proxy", "203.0.113.7"),
        ([127, 0, 0, 2], "direct", "127.0.0.2"),
    ] {
        let reply = from(source)
            .post(format!("{}/api/v1/groups", server.url))
            .bearer_auth(ADMIN_TOKEN)
            .header("x-forwarded-for", "10.0.0.1, 203.0.113.7")
            .json(&serde_json::json!({ "name": group }))
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 201);
        let id = reply.json::<serde_json::Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let events = server
            .get(&format!("/api/v1/events?target={id}"), ADMIN_TOKEN)
            .await;
        let events: serde_json::Value = serde_json::from_str(&events.text).unwrap();
        assert_eq!(
            events["items"][0]["client_ip"], expected,
            "{group}: {events}"
        );
    }
}

/// A request that outlives `http.request_timeout_secs` is answered 503 with
/// the API's JSON error, not an empty body, and writes nothing.
#[tokio::test]
async fn a_request_that_times_out_gets_a_json_error() {
    let db = TestDb::sqlite();
    let server = Server::with_admin(&db, &[("CASTELLAN_HTTP__REQUEST_TIMEOUT_SECS", "1")]);
    let body = json!({"username": "slow"}).to_string();
    let (first, _) = body.split_at(body.len() / 2);
    let head = format!(
        "POST /api/v1/users HTTP/1.1\r\nHost: 127.0.0.1\r\n\
         Authorization: Bearer {ADMIN_TOKEN}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{first}",
        body.len()
    );
    let mut stream = TcpStream::connect(("127.0.0.1", server.port))
        .await
        .unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer)).await;
    assert!(read.is_ok(), "no answer within 10 s");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(
        answer
            .to_ascii_lowercase()
            .contains("content-type: application/json"),
        "{answer}"
    );
    assert!(answer.contains("\"code\":\"unavailable\""), "{answer}");
    let users = server.get("/api/v1/users?username=slow", ADMIN_TOKEN).await;
    assert!(!users.text.contains("\"slow\""), "{}", users.text);
}
