//! Test support: databases on both engines, the real `castellan` binary
//! started on a free port, an HTTP client for it, and a TCP forwarder that
//! can cut a server off its database.

mod forwarder;

pub use forwarder::Forwarder;

use std::io::Read as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use castellan::clock::Clock;
use castellan::identity::Directory;
use castellan::store::{PoolSettings, Store};
use secrecy::SecretString;
use tempfile::TempDir;

/// The variable that names the PostgreSQL server for tests.
pub const POSTGRES_ENV: &str = "CASTELLAN_TEST_POSTGRES_URL";

/// The admin API token that `Server::with_admin` bootstraps.
pub const ADMIN_TOKEN: &str = "it-bootstrap-admin-token";

/// A database of its own for one test: a SQLite file in a temporary folder,
/// or a fresh schema on the test PostgreSQL server, dropped at the end.
pub struct TestDb {
    pub backend: &'static str,
    pub url: String,
    pub dir: TempDir,
    schema: Option<(String, String)>,
}

impl TestDb {
    pub fn sqlite() -> TestDb {
        let dir = TempDir::new().unwrap();
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("castellan.db").display()
        );
        TestDb {
            backend: "sqlite",
            url,
            dir,
            schema: None,
        }
    }

    /// A fresh schema on the test server, or `None` (with a loud note) when
    /// no server is configured.
    pub async fn postgres() -> Option<TestDb> {
        let Ok(base) = std::env::var(POSTGRES_ENV) else {
            eprintln!("SKIPPED on PostgreSQL: {POSTGRES_ENV} is not set");
            return None;
        };
        let schema = format!("castellan_test_{}", uuid::Uuid::new_v4().simple());
        run_admin_sql(&base, &format!("CREATE SCHEMA {schema}")).await;
        let separator = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{separator}options=-c%20search_path%3D{schema}");
        let dir = TempDir::new().unwrap();
        Some(TestDb {
            backend: "postgres",
            url,
            dir,
            schema: Some((base, schema)),
        })
    }

    /// SQLite, and PostgreSQL when configured.
    pub async fn all() -> Vec<TestDb> {
        let mut all = vec![TestDb::sqlite()];
        all.extend(TestDb::postgres().await);
        all
    }

    pub async fn store(&self) -> Store {
        let settings = PoolSettings {
            max_connections: 5,
            acquire_timeout: Duration::from_secs(5),
            sqlite_busy_timeout: Duration::from_secs(5),
        };
        Store::open(&SecretString::from(self.url.clone()), &settings)
            .await
            .unwrap()
    }

    pub async fn directory(&self) -> Directory {
        Directory::new(self.store().await, Clock::manual(1_800_000_000_000))
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((base, schema)) = self.schema.take() else {
            return;
        };
        // Drop runs outside any runtime; use a short-lived one on a thread.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(drop_schema(&base, &schema));
        })
        .join();
    }
}

/// Drops a test's schema. The test's own pool may still hold a session in a
/// transaction whose rollback waits for the runtime this drop blocks; such
/// sessions are ended rather than waited for, which would be forever.
async fn drop_schema(url: &str, schema: &str) {
    use sqlx::Connection as _;
    use sqlx::Executor as _;
    let mut conn = sqlx::PgConnection::connect(url)
        .await
        .expect("connect to the test PostgreSQL");
    conn.execute("SET lock_timeout = '1s'").await.unwrap();
    let drop = format!("DROP SCHEMA IF EXISTS {schema} CASCADE");
    let holders = format!(
        "SELECT pg_terminate_backend(l.pid) FROM pg_locks l \
         JOIN pg_class c ON c.oid = l.relation \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = '{schema}' AND l.pid <> pg_backend_pid()"
    );
    for _ in 0..10 {
        if conn.execute(drop.as_str()).await.is_ok() {
            return;
        }
        conn.execute(holders.as_str()).await.unwrap();
    }
    eprintln!("could not drop the test schema {schema}");
}

async fn run_admin_sql(url: &str, sql: &str) {
    use sqlx::Connection as _;
    use sqlx::Executor as _;
    let mut conn = sqlx::PgConnection::connect(url)
        .await
        .expect("connect to the test PostgreSQL");
    conn.execute(sql).await.unwrap();
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The `castellan` binary under test.
pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_castellan"))
}

/// A running `castellan serve`, stopped (SIGTERM, then kill) when dropped.
pub struct Server {
    child: Option<Child>,
    pub url: String,
    pub port: u16,
    pub stdout: PathBuf,
    pub stderr: PathBuf,
}

impl Server {
    /// Starts the binary on a free port with `db` and extra environment,
    /// in `db`'s folder as working directory, and waits until it is live.
    pub fn start(db: &TestDb, env: &[(&str, &str)]) -> Server {
        Server::start_on(db, free_port(), env)
    }

    /// Starts the binary with `ADMIN_TOKEN` bootstrapped for the user
    /// `admin`, and extra environment.
    pub fn with_admin(db: &TestDb, env: &[(&str, &str)]) -> Server {
        let mut all = vec![("CASTELLAN_BOOTSTRAP_TOKEN", ADMIN_TOKEN)];
        all.extend_from_slice(env);
        Server::start(db, &all)
    }

    pub fn start_on(db: &TestDb, port: u16, env: &[(&str, &str)]) -> Server {
        let run = uuid::Uuid::new_v4().simple().to_string();
        let stdout = db.dir.path().join(format!("stdout-{run}.log"));
        let stderr = db.dir.path().join(format!("stderr-{run}.log"));
        let mut command = Command::new(binary());
        command
            .arg("serve")
            .current_dir(db.dir.path())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("CASTELLAN_LISTEN", format!("127.0.0.1:{port}"))
            .env("CASTELLAN_DATABASE_URL", &db.url)
            .env("CASTELLAN_DATA_DIR", db.dir.path().join("data"))
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout).unwrap())
            .stderr(std::fs::File::create(&stderr).unwrap());
        for (key, value) in env {
            command.env(key, value);
        }
        let child = command.spawn().expect("start castellan");
        let server = Server {
            child: Some(child),
            url: format!("http://127.0.0.1:{port}"),
            port,
            stdout,
            stderr,
        };
        server.wait_live();
        server
    }

    fn wait_live(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if self.is_live() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("castellan did not start:\n{}", self.logs());
    }

    /// Whether `/health/live` answers 200, over a plain blocking socket.
    fn is_live(&self) -> bool {
        use std::io::Write as _;
        let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
        if stream
            .write_all(b"GET /health/live HTTP/1.0\r\nHost: localhost\r\n\r\n")
            .is_err()
        {
            return false;
        }
        let mut head = [0u8; 12];
        stream.read_exact(&mut head).is_ok() && head.ends_with(b"200")
    }

    /// Standard output and error so far.
    pub fn logs(&self) -> String {
        format!("{}\n{}", read(&self.stdout), read(&self.stderr))
    }

    /// Standard output so far (where the setup link goes).
    pub fn stdout_text(&self) -> String {
        read(&self.stdout)
    }

    /// Standard error so far (the structured logs).
    pub fn stderr_text(&self) -> String {
        read(&self.stderr)
    }

    /// Waits until the JSON logs hold a line matching `wanted`; fails the
    /// test after 20 s.
    pub async fn wait_for_log(&self, what: &str, wanted: impl Fn(&serde_json::Value) -> bool) {
        let found = eventually(Duration::from_secs(20), async || {
            // A line being written is not JSON yet; it is read next time.
            let text = self.stderr_text();
            let mut lines = text
                .lines()
                .filter_map(|line| serde_json::from_str(line).ok());
            lines.any(|line| wanted(&line))
        })
        .await;
        assert!(found, "no log line {what}:\n{}", self.logs());
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        self.terminate();
        self.wait_exit()
    }

    /// Sends SIGTERM without waiting.
    pub fn terminate(&self) {
        let child = self.child.as_ref().expect("running");
        let pid = child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
    }

    /// Waits up to 30 s for the process to exit, then kills it.
    pub fn wait_exit(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("running");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                return child.wait().unwrap();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// An HTTP client that gives up after 30 s rather than hang a test.
    pub fn client(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap()
    }

    /// Runs `castellan admin ...` against this server with `token`.
    pub fn admin(&self, token: &str, args: &[&str]) -> CliOutput {
        cli(&self.url, token, args, None)
    }

    /// A request to `path` on this server, with a bearer token if given.
    pub fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
    ) -> reqwest::RequestBuilder {
        let request = self.client().request(method, format!("{}{path}", self.url));
        match token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    /// `GET path` without a token.
    pub async fn get_open(&self, path: &str) -> Reply {
        Reply::of(self.request(reqwest::Method::GET, path, None)).await
    }

    /// `GET path` with a bearer token.
    pub async fn get(&self, path: &str, token: &str) -> Reply {
        Reply::of(self.request(reqwest::Method::GET, path, Some(token))).await
    }

    /// `POST path` with a JSON body and a bearer token.
    pub async fn post(&self, path: &str, token: &str, body: &serde_json::Value) -> Reply {
        Reply::of(
            self.request(reqwest::Method::POST, path, Some(token))
                .json(body),
        )
        .await
    }

    /// `PATCH path` with a JSON body and a bearer token.
    pub async fn patch(&self, path: &str, token: &str, body: &serde_json::Value) -> Reply {
        Reply::of(
            self.request(reqwest::Method::PATCH, path, Some(token))
                .json(body),
        )
        .await
    }

    /// `DELETE path` with a bearer token.
    pub async fn delete(&self, path: &str, token: &str) -> Reply {
        Reply::of(self.request(reqwest::Method::DELETE, path, Some(token))).await
    }

    /// Creates a user through the API and returns its id.
    pub async fn create_user(&self, token: &str, body: serde_json::Value) -> String {
        let reply = self.post("/api/v1/users", token, &body).await;
        assert_eq!(reply.status, 201, "create user {body}: {}", reply.text);
        reply.json()["id"].as_str().unwrap().to_owned()
    }

    /// How many users and audit events the server holds.
    pub async fn counts(&self, token: &str) -> (usize, usize) {
        let users = self.get("/api/v1/users?limit=500", token).await;
        let events = self.get("/api/v1/events?limit=500", token).await;
        assert_eq!(users.status, 200, "{}", users.text);
        assert_eq!(events.status, 200, "{}", events.text);
        let count = |reply: &Reply| reply.json()["items"].as_array().unwrap().len();
        (count(&users), count(&events))
    }
}

/// One HTTP answer, read whole.
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
}

impl Reply {
    /// Sends `request` and reads the answer.
    pub async fn of(request: reqwest::RequestBuilder) -> Reply {
        let response = request.send().await.expect("send request");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.expect("read body");
        Reply {
            status,
            headers,
            text,
        }
    }

    /// The body as JSON; fails the test when it is not.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|error| panic!("not JSON ({error}): {}", self.text))
    }

    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.child.is_some() {
            self.stop();
        }
    }
}

/// Output of one CLI run.
pub struct CliOutput {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `castellan admin --url URL ARGS` with `CASTELLAN_TOKEN=token`.
pub fn cli(url: &str, token: &str, args: &[&str], stdin: Option<&str>) -> CliOutput {
    use std::io::Write as _;
    let mut child = Command::new(binary())
        .arg("admin")
        .arg("--url")
        .arg(url)
        .args(args)
        .env_clear()
        .env("CASTELLAN_TOKEN", token)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).unwrap();
    }
    drop(input);
    let output = child.wait_with_output().unwrap();
    CliOutput {
        success: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Every line of `text` as JSON; fails on a line that is not.
pub fn json_lines(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|error| panic!("not JSON ({error}): {line}"))
        })
        .collect()
}

/// Polls `check` every 100 ms until it holds or `limit` passes.
pub async fn eventually<F: AsyncFnMut() -> bool>(limit: Duration, mut check: F) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// Runs `castellan ARGS` with only `env` (and `PATH`) set.
pub fn castellan(args: &[&str], env: &[(&str, &str)]) -> CliOutput {
    let mut command = Command::new(binary());
    command
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .stdin(Stdio::null());
    for (key, value) in env {
        command.env(key, value);
    }
    let output = command.output().unwrap();
    CliOutput {
        success: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn read(path: &Path) -> String {
    let mut text = String::new();
    if let Ok(mut file) = std::fs::File::open(path) {
        let _ = file.read_to_string(&mut text);
    }
    text
}

/// The foreign-hash fixtures shipped in `shared/cases`.
pub fn foreign_hashes() -> serde_json::Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/cases/foreign-password-hashes.json"
    );
    let text = std::fs::read_to_string(path).unwrap_or_else(|error| panic!("{path}: {error}"));
    serde_json::from_str(&text).unwrap()
}
