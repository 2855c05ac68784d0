//! Signing in: through the JSON executor API, through the HTML pages, and
//! the password stage's rate limit.

use super::*;

// Authentication through the JSON API.

#[tokio::test]
async fn sign_in_through_the_json_api() {
    for db in TestDb::all().await {
        sign_in_through_the_json_api_on(&db).await;
    }
}

async fn sign_in_through_the_json_api_on(db: &TestDb) {
    let backend = db.backend;
    let (server, ada) = server_with_ada(db, &[]).await;
    let browser = Browser::new(&server);
    assert!(!browser.signed_in().await, "{backend}");

    let first = browser.step(AUTHENTICATION).await;
    let identification = challenge(&first, "identification");
    assert_eq!(field_names(&first), ["identifier"], "{backend}");
    assert!(identification["stage"].is_string(), "{backend}: {first}");
    let step = browser
        .next(AUTHENTICATION, &first, json!({ "identifier": "ada" }))
        .await;
    let password = challenge(&step, "password");
    assert_ne!(password["stage"], identification["stage"], "{backend}");
    assert!(
        field_names(&step).contains(&"password".to_owned()),
        "{backend}: {step}"
    );

    // A wrong password: the same stage again, at a newer version, with the
    // error on the password field.
    let retry = browser
        .next(
            AUTHENTICATION,
            &step,
            json!({ "password": "not-her-password" }),
        )
        .await;
    let again = challenge(&retry, "password");
    assert_eq!(again["stage"], password["stage"], "{backend}");
    assert!(
        again["version"].as_i64() > password["version"].as_i64(),
        "{backend}: {retry}"
    );
    assert_eq!(
        field_errors(&retry, "password"),
        [WRONG_PASSWORD],
        "{backend}"
    );
    assert!(!browser.signed_in().await, "{backend}");

    let done = browser
        .next(AUTHENTICATION, &retry, json!({ "password": ADA_PASSWORD }))
        .await;
    assert_redirect(&done, "/if/user/");
    let account = browser.account().await;
    assert!(account.contains("<dd>ada</dd>"), "{backend}: {account}");
    assert!(
        !Browser::new(&server).signed_in().await,
        "{backend}: another cookie jar is not signed in"
    );

    // Signing in again in the same browser replaces its session: the old
    // one ends on the server (no session fixation, no stray sessions).
    let old_session = browser
        .cookie("castellan_session")
        .expect("a session cookie");
    let again = sign_in(&browser, "ada", ADA_PASSWORD).await;
    assert_redirect(&again, "/if/user/");
    let new_session = browser
        .cookie("castellan_session")
        .expect("a session cookie");
    assert_ne!(new_session, old_session, "{backend}");
    assert_eq!(
        account_status_with(&server, &old_session).await,
        303,
        "{backend}"
    );
    assert_eq!(
        account_status_with(&server, &new_session).await,
        200,
        "{backend}"
    );

    let success = events(&server, &format!("action=login.success&target={ada}")).await;
    assert_eq!(success.len(), 2, "{backend}: {success:?}");
    assert_eq!(success[0]["outcome"], "success", "{backend}");
    assert_eq!(success[0]["actor"], format!("user:{ada}"), "{backend}");
    assert_eq!(
        success[0]["detail"]["methods"],
        json!(["password"]),
        "{backend}"
    );
    let failures = events(&server, &format!("action=login.password&target={ada}")).await;
    assert_eq!(failures.len(), 1, "{backend}: {failures:?}");
    assert_eq!(failures[0]["outcome"], "failure", "{backend}");
    assert_eq!(
        failures[0]["detail"]["reason"], "wrong_password",
        "{backend}"
    );
    assert_eq!(failures[0]["client_ip"], "127.0.0.1", "{backend}");
}

// The same through the HTML pages.

#[tokio::test]
async fn sign_in_through_the_html_pages() {
    for db in TestDb::all().await {
        sign_in_through_the_html_pages_on(&db).await;
    }
}

/// The hidden fields of a flow form: stage, version, CSRF token.
pub(super) fn form_state(html: &str) -> (String, String, String) {
    (
        form_value(html, "_stage"),
        form_value(html, "_version"),
        form_value(html, "_csrf"),
    )
}

async fn sign_in_through_the_html_pages_on(db: &TestDb) {
    let backend = db.backend;
    let (server, ada) = server_with_ada(db, &[]).await;
    let browser = Browser::new(&server);
    let path = page(AUTHENTICATION);

    // A `next` that leads off the server is dropped: the flow ends on the
    // account page.
    let reply = browser
        .get(&format!("{path}?next=%2F%2Fevil.example%2F"))
        .await;
    assert_eq!(reply.status, 200, "{backend}: {}", reply.text);
    assert_secure_page(&reply);
    let identifier = input_tag(&reply.text, "identifier");
    assert!(
        identifier.contains("autocomplete=\"username\""),
        "{backend}: {identifier}"
    );
    let (stage, version, csrf) = form_state(&reply.text);
    assert!(!csrf.is_empty(), "{backend}");

    // A forged form (wrong or missing CSRF token) is refused and moves
    // nothing: the page still asks for the identifier.
    for forged in ["forged-token", ""] {
        let form = [
            ("_stage", stage.as_str()),
            ("_version", version.as_str()),
            ("_csrf", forged),
            ("identifier", "ada"),
        ];
        let reply = browser.post_form(&path, &form).await;
        assert_eq!(reply.status, 400, "{backend}: {}", reply.text);
        assert_secure_page(&reply);
    }
    let reply = browser.get(&path).await;
    assert_eq!(reply.status, 200, "{backend}");
    assert!(
        reply.text.contains("name=\"identifier\""),
        "{backend}: {}",
        reply.text
    );
    let (stage, version, csrf) = form_state(&reply.text);

    let form = [
        ("_stage", stage.as_str()),
        ("_version", version.as_str()),
        ("_csrf", csrf.as_str()),
        ("identifier", "ada"),
    ];
    // Post/redirect/get: an accepted answer redirects to the next step, so
    // Back and reload never resubmit the form.
    let reply = browser.post_form(&path, &form).await;
    assert_eq!(reply.status, 303, "{backend}: {}", reply.text);
    assert_eq!(reply.header("location"), Some(path.as_str()), "{backend}");
    // The same form again is out of date: back to the current page.
    let stale = browser.post_form(&path, &form).await;
    assert_eq!(stale.status, 303, "{backend}: {}", stale.text);
    assert_eq!(stale.header("location"), Some(path.as_str()), "{backend}");
    let reply = browser.get(&path).await;
    assert_eq!(reply.status, 200, "{backend}: {}", reply.text);
    let password = input_tag(&reply.text, "password");
    assert!(
        password.contains("type=\"password\""),
        "{backend}: {password}"
    );
    assert!(
        password.contains("autocomplete=\"current-password\""),
        "{backend}: {password}"
    );
    let hidden = input_tag(&reply.text, "username");
    assert!(
        hidden.contains("autocomplete=\"username\""),
        "{backend}: {hidden}"
    );
    assert!(hidden.contains("value=\"ada\""), "{backend}: {hidden}");
    let (stage, version, csrf) = form_state(&reply.text);

    // The right password with a wrong CSRF token signs nobody in.
    let form = [
        ("_stage", stage.as_str()),
        ("_version", version.as_str()),
        ("_csrf", "forged-token"),
        ("password", ADA_PASSWORD),
    ];
    let reply = browser.post_form(&path, &form).await;
    assert_eq!(reply.status, 400, "{backend}: {}", reply.text);
    assert!(!browser.signed_in().await, "{backend}");
    let success = events(&server, "action=login.success").await;
    assert!(success.is_empty(), "{backend}: {success:?}");

    let form = [
        ("_stage", stage.as_str()),
        ("_version", version.as_str()),
        ("_csrf", csrf.as_str()),
        ("password", "not-her-password"),
    ];
    let reply = browser.post_form(&path, &form).await;
    assert_eq!(reply.status, 200, "{backend}: {}", reply.text);
    assert!(
        reply.text.contains(WRONG_PASSWORD),
        "{backend}: {}",
        reply.text
    );
    let password = input_tag(&reply.text, "password");
    assert!(
        password.contains("aria-invalid=\"true\""),
        "{backend}: {password}"
    );
    let (stage, version, csrf) = form_state(&reply.text);

    let form = [
        ("_stage", stage.as_str()),
        ("_version", version.as_str()),
        ("_csrf", csrf.as_str()),
        ("password", ADA_PASSWORD),
    ];
    let reply = browser.post_form(&path, &form).await;
    assert_eq!(reply.status, 303, "{backend}: {}", reply.text);
    assert_eq!(reply.header("location"), Some("/if/user/"), "{backend}");

    let reply = browser.get("/if/user/").await;
    assert_eq!(reply.status, 200, "{backend}: {}", reply.text);
    assert_secure_page(&reply);
    assert!(
        reply.text.contains("<dd>ada</dd>"),
        "{backend}: {}",
        reply.text
    );
    assert!(
        unescape(&reply.text).contains("href=\"/if/flow/default-invalidation/\">Sign out</a>"),
        "{backend}: {}",
        reply.text
    );
    let success = events(&server, &format!("action=login.success&target={ada}")).await;
    assert_eq!(success.len(), 1, "{backend}: {success:?}");
}

// The password rate limit.

#[tokio::test]
async fn the_password_stage_locks_after_five_failures() {
    for db in TestDb::all().await {
        rate_limit_on(&db).await;
    }
}

/// Identifies as `identifier` and answers five wrong passwords, each
/// refused as wrong (not yet locked); returns the last password step.
async fn five_wrong_passwords(browser: &Browser, identifier: &str, backend: &str) -> Value {
    let step = browser.step(AUTHENTICATION).await;
    let mut step = browser
        .next(AUTHENTICATION, &step, json!({ "identifier": identifier }))
        .await;
    for attempt in 0..5 {
        step = browser
            .next(
                AUTHENTICATION,
                &step,
                json!({ "password": format!("guess-{attempt}") }),
            )
            .await;
        assert_eq!(
            field_errors(&step, "password"),
            [WRONG_PASSWORD],
            "{backend} {identifier} {attempt}"
        );
    }
    step
}

async fn rate_limit_on(db: &TestDb) {
    let backend = db.backend;
    let (server, ada) = server_with_ada(db, &[]).await;
    let browser = Browser::new(&server);
    let step = five_wrong_passwords(&browser, "ada", backend).await;
    let locked = browser
        .next(AUTHENTICATION, &step, json!({ "password": ADA_PASSWORD }))
        .await;
    challenge(&locked, "password");
    assert!(
        messages(&locked)
            .iter()
            .any(|text| text.starts_with(LOCKED)),
        "{backend}: {locked}"
    );
    assert!(!browser.signed_in().await, "{backend}");
    // A fresh run does not reset the count.
    let again = sign_in(&Browser::new(&server), "ada", ADA_PASSWORD).await;
    assert!(
        messages(&again).iter().any(|text| text.starts_with(LOCKED)),
        "{backend}: {again}"
    );

    let denied: Vec<Value> = events(&server, &format!("action=login.password&target={ada}"))
        .await
        .into_iter()
        .filter(|event| event["outcome"] == "denied")
        .collect();
    assert_eq!(denied.len(), 2, "{backend}: {denied:?}");
    assert_eq!(denied[0]["detail"]["reason"], "user_limit", "{backend}");
    assert!(
        events(&server, "action=login.success").await.is_empty(),
        "{backend}"
    );

    // The lock is per account: someone else signs in from the same address.
    let body = json!({ "username": "grace", "password": OTHER_STRONG_PASSWORD });
    server.create_user(ADMIN_TOKEN, body).await;
    let other = sign_in(&Browser::new(&server), "grace", OTHER_STRONG_PASSWORD).await;
    assert_redirect(&other, "/if/user/");

    // An unknown name locks the same way, so the lock-out message does not
    // tell existing accounts from unknown ones.
    let browser = Browser::new(&server);
    let step = five_wrong_passwords(&browser, "nobody", backend).await;
    let step = browser
        .next(AUTHENTICATION, &step, json!({ "password": "guess-5" }))
        .await;
    assert!(
        messages(&step).iter().any(|text| text.starts_with(LOCKED)),
        "{backend}: {step}"
    );
}

/// Guesses sent in parallel each count before their password is checked, so
/// a burst cannot slip more than the limit past the lock.
#[tokio::test]
async fn parallel_guesses_do_not_pass_the_limit() {
    for db in TestDb::all().await {
        let backend = db.backend;
        let (server, ada) = server_with_ada(&db, &[]).await;
        let mut runs = Vec::new();
        for _ in 0..12 {
            let browser = Browser::new(&server);
            let step = browser.step(AUTHENTICATION).await;
            let step = browser
                .next(AUTHENTICATION, &step, json!({ "identifier": "ada" }))
                .await;
            runs.push((browser, step));
        }
        let mut set = tokio::task::JoinSet::new();
        for (attempt, (browser, step)) in runs.into_iter().enumerate() {
            set.spawn(async move {
                browser
                    .next(
                        AUTHENTICATION,
                        &step,
                        json!({ "password": format!("guess-{attempt}") }),
                    )
                    .await
            });
        }
        let mut locked = 0;
        while let Some(step) = set.join_next().await {
            let step = step.unwrap();
            if messages(&step).iter().any(|text| text.starts_with(LOCKED)) {
                locked += 1;
            }
        }
        let checked: Vec<Value> = events(&server, &format!("action=login.password&target={ada}"))
            .await
            .into_iter()
            .filter(|event| event["outcome"] == "failure")
            .collect();
        assert!(
            checked.len() <= 5,
            "{backend}: {} passwords were checked",
            checked.len()
        );
        assert_eq!(locked + checked.len(), 12, "{backend}");
    }
}
