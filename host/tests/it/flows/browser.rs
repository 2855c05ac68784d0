//! A real browser (Debian's Chromium through playwright-core) enrolls, signs
//! out and signs in again.

use super::*;

#[tokio::test]
async fn a_real_browser_enrolls_signs_out_and_signs_in() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let node_modules = root.join(".node-e2e/node_modules/playwright-core");
    let has_node = Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    assert!(has_node, "node is missing: run scripts/setup");
    assert!(
        Path::new("/usr/bin/chromium").exists(),
        "/usr/bin/chromium is missing: run scripts/setup"
    );
    assert!(
        node_modules.exists(),
        "{} is missing: run scripts/setup",
        node_modules.display()
    );
    for db in TestDb::all().await {
        let backend = db.backend;
        let server = Server::with_admin(&db, &[]);
        let shots = db.dir.path().join("screenshots");
        std::fs::create_dir_all(&shots).unwrap();
        let stdout = db.dir.path().join("browser-stdout.log");
        let stderr = db.dir.path().join("browser-stderr.log");
        let mut child = Command::new("node")
            .arg("tests/browser/login.mjs")
            .arg(&server.url)
            .arg(&shots)
            .current_dir(&root)
            .env("NODE_E2E", root.join(".node-e2e"))
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout).unwrap())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .expect("start node");
        let deadline = Instant::now() + Duration::from_secs(180);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break Some(status);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let out = std::fs::read_to_string(&stdout).unwrap_or_default();
        let err = std::fs::read_to_string(&stderr).unwrap_or_default();
        let report = format!(
            "{backend}: stdout:\n{out}\nstderr:\n{err}\nserver:\n{}",
            server.logs()
        );
        let status = status.unwrap_or_else(|| panic!("the browser test timed out; {report}"));
        assert!(status.success(), "{status}; {report}");
        assert!(
            out.lines()
                .any(|line| line.starts_with("browser: enrolled, signed out and signed in as ada")),
            "{report}"
        );
    }
}
