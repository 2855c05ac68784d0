//! Recovery with a real email: aiosmtpd receives the one-time link, which
//! another browser opens to choose a new password.

use super::*;

/// aiosmtpd writing every message it receives to a maildir; killed when
/// dropped.
struct SmtpSink {
    child: Child,
    port: u16,
    maildir: PathBuf,
}

impl SmtpSink {
    fn start(dir: &Path) -> SmtpSink {
        let python = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv-e2e/bin/python");
        let ready = python.exists()
            && Command::new(&python)
                .args(["-c", "import aiosmtpd"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|status| status.success());
        assert!(
            ready,
            "{} with aiosmtpd is missing: run scripts/setup",
            python.display()
        );
        let port = free_port();
        let maildir = dir.join(format!("maildir-{port}"));
        let log = std::fs::File::create(dir.join(format!("smtp-{port}.log"))).unwrap();
        let child = Command::new(&python)
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start aiosmtpd");
        let mut sink = SmtpSink {
            child,
            port,
            maildir,
        };
        sink.wait_listening(dir);
        sink
    }

    fn wait_listening(&mut self, dir: &Path) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                let log = std::fs::read_to_string(dir.join(format!("smtp-{}.log", self.port)));
                panic!("aiosmtpd exited ({status}): {log:?}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("aiosmtpd did not listen on port {}", self.port);
    }

    fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every message received so far, as raw text.
    fn messages(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(self.maildir.join("new")) else {
            return Vec::new();
        };
        entries
            .map(|entry| std::fs::read_to_string(entry.unwrap().path()).unwrap())
            .collect()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The path of the one-time link in a message, undoing quoted-printable
/// soft line breaks should the mailer have used them.
fn resume_link(message: &str) -> String {
    let text = message
        .replace("=\r\n", "")
        .replace("=\n", "")
        .replace("=3D", "=");
    let at = text
        .find("/if/flow/resume/")
        .unwrap_or_else(|| panic!("no resume link in:\n{message}"));
    let link: String = text[at..]
        .chars()
        .skip("/if/flow/resume/".len())
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    assert!(link.len() >= 32, "short link {link:?} in:\n{message}");
    format!("/if/flow/resume/{link}")
}

#[tokio::test]
async fn recovery_by_email_link_in_another_browser() {
    for db in TestDb::all().await {
        recovery_on(&db).await;
    }
}

async fn recovery_on(db: &TestDb) {
    let backend = db.backend;
    let smtp = SmtpSink::start(db.dir.path());
    let smtp_url = smtp.url();
    let (server, ada) = server_with_ada(db, &[("CASTELLAN_EMAIL__SMTP_URL", &smtp_url)]).await;
    let user = server
        .get(&format!("/api/v1/users/{ada}"), ADMIN_TOKEN)
        .await;
    assert_eq!(
        user.json()["email_verified"],
        false,
        "{backend}: {}",
        user.text
    );

    // An unknown name gets the same page, and no email.
    let stranger = Browser::new(&server);
    let step = stranger.step(RECOVERY).await;
    challenge(&step, "identification");
    let unknown = stranger
        .next(RECOVERY, &step, json!({ "identifier": "nobody" }))
        .await;
    let unknown_challenge = challenge(&unknown, "email");
    assert_eq!(unknown_challenge["title"], "Check your email", "{backend}");
    assert!(
        smtp.messages().is_empty(),
        "{backend}: {:?}",
        smtp.messages()
    );

    // Ada asks in one browser.
    let asking = Browser::new(&server);
    let step = asking.step(RECOVERY).await;
    let waiting = asking
        .next(RECOVERY, &step, json!({ "identifier": "ada" }))
        .await;
    let waiting_challenge = challenge(&waiting, "email");
    for key in ["title", "messages", "fields", "submit", "links"] {
        assert_eq!(
            waiting_challenge[key], unknown_challenge[key],
            "{backend}: the page differs for a known user in {key}"
        );
    }
    let mail = smtp.messages();
    assert_eq!(mail.len(), 1, "{backend}: {mail:?}");
    assert!(
        mail[0].contains("ada@example.org"),
        "{backend}: {}",
        mail[0]
    );
    let link = resume_link(&mail[0]);
    let unfolded = mail[0].replace("=\r\n", "").replace("=\n", "");
    assert!(
        unfolded.contains(&format!("{}{link}", server.url)),
        "{backend}: the link is not under the public URL:\n{}",
        mail[0]
    );
    // Answering the email stage without the link goes nowhere.
    let nagging = asking.next(RECOVERY, &waiting, json!({})).await;
    challenge(&nagging, "email");
    let sent = events(&server, &format!("action=email.link_sent&target={ada}")).await;
    assert_eq!(sent.len(), 1, "{backend}: {sent:?}");

    // She opens the link in another browser, which carries on from there.
    let opening = Browser::new(&server);
    let reply = opening.get(&link).await;
    assert_eq!(reply.status, 303, "{backend}: {}", reply.text);
    assert_eq!(
        reply.header("location"),
        Some("/if/flow/default-recovery/"),
        "{backend}"
    );
    let prompt = opening.step(RECOVERY).await;
    challenge(&prompt, "prompt");
    let names = field_names(&prompt);
    for name in ["password", "password_confirm"] {
        assert!(
            names.contains(&name.to_owned()),
            "{backend}: no {name} in {prompt}"
        );
    }
    // The run moved: the first browser has none left to answer.
    let reply = asking.answer(RECOVERY, &nagging, json!({})).await;
    assert_error(&reply, 410, "flow_expired");

    let done = opening
        .next(
            RECOVERY,
            &prompt,
            json!({ "password": STRONG_PASSWORD, "password_confirm": STRONG_PASSWORD }),
        )
        .await;
    assert_redirect(&done, "/if/user/");
    assert!(
        opening.account().await.contains("<dd>ada</dd>"),
        "{backend}"
    );
    let user = server
        .get(&format!("/api/v1/users/{ada}"), ADMIN_TOKEN)
        .await;
    assert_eq!(
        user.json()["email_verified"],
        true,
        "{backend}: {}",
        user.text
    );

    // The old password is gone, the new one works.
    let old = sign_in(&Browser::new(&server), "ada", ADA_PASSWORD).await;
    assert_eq!(
        field_errors(&old, "password"),
        [WRONG_PASSWORD],
        "{backend}"
    );
    let new = sign_in(&Browser::new(&server), "ada", STRONG_PASSWORD).await;
    assert_redirect(&new, "/if/user/");

    // The link works once.
    let reply = Browser::new(&server).get(&link).await;
    assert_eq!(reply.status, 404, "{backend}: {}", reply.text);
    assert!(
        reply.text.contains("Link not valid"),
        "{backend}: {}",
        reply.text
    );
    assert_eq!(smtp.messages().len(), 1, "{backend}");
}
