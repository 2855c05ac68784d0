//! Enrollment: the prompt's checks and policies, a taken username, the new
//! account signed in, out, and in again.

use super::*;

#[tokio::test]
async fn enrollment_validates_then_signs_in() {
    for db in TestDb::all().await {
        enrollment_on(&db).await;
    }
}

/// An enrollment form for `username`, always with Grace's address (so a
/// taken username is the only conflict).
fn enrollment_answer(username: &str, password: &str, confirm: &str) -> Value {
    json!({
        "username": username,
        "email": "grace@example.org",
        "name": "Grace Hopper",
        "password": password,
        "password_confirm": confirm,
    })
}

async fn enrollment_on(db: &TestDb) {
    let backend = db.backend;
    let (server, _) = server_with_ada(db, &[]).await;
    let browser = Browser::new(&server);

    let step = browser.step(ENROLLMENT).await;
    challenge(&step, "prompt");
    let names = field_names(&step);
    for name in ["username", "email", "name", "password", "password_confirm"] {
        assert!(
            names.contains(&name.to_owned()),
            "{backend}: no {name} in {step}"
        );
    }

    // A weak password: the strength policy's message on the password field.
    let weak = browser
        .next(
            ENROLLMENT,
            &step,
            enrollment_answer("grace", "password123", "password123"),
        )
        .await;
    challenge(&weak, "prompt");
    let errors = field_errors(&weak, "password");
    assert!(
        errors
            .iter()
            .any(|error| error == "this password is too easy to guess"),
        "{backend}: {weak}"
    );
    let short = browser
        .next(
            ENROLLMENT,
            &weak,
            enrollment_answer("grace", "Zq8#", "Zq8#"),
        )
        .await;
    assert_eq!(
        field_errors(&short, "password"),
        ["use at least 10 characters"],
        "{backend}"
    );

    // Mismatched confirmation.
    let mismatch = browser
        .next(
            ENROLLMENT,
            &short,
            enrollment_answer("grace", STRONG_PASSWORD, OTHER_STRONG_PASSWORD),
        )
        .await;
    challenge(&mismatch, "prompt");
    assert_eq!(
        field_errors(&mismatch, "password_confirm"),
        ["The passwords do not match."],
        "{backend}"
    );
    // What was typed stays in the form shown again; passwords do not.
    let fields = &challenge(&mismatch, "prompt")["fields"];
    let value = |name: &str| {
        fields
            .as_array()
            .unwrap()
            .iter()
            .find(|field| field["name"] == name)
            .unwrap()["value"]
            .clone()
    };
    assert_eq!(value("username"), json!("grace"), "{backend}");
    assert_eq!(value("password"), Value::Null, "{backend}");
    assert!(user_named(&server, "grace").await.is_none(), "{backend}");

    // A taken username: back to the prompt with the error on the username,
    // the other answers kept (never the password).
    let taken = browser
        .next(
            ENROLLMENT,
            &mismatch,
            enrollment_answer("ada", STRONG_PASSWORD, STRONG_PASSWORD),
        )
        .await;
    challenge(&taken, "prompt");
    assert_eq!(
        field_errors(&taken, "username"),
        ["a user with this username exists"],
        "{backend}: {taken}"
    );
    assert!(
        !taken.to_string().contains(STRONG_PASSWORD),
        "{backend}: {taken}"
    );
    // Nor does the server keep it: the password is asked again, so the
    // stored run must not hold it in clear.
    for state in stored_executions(db).await {
        assert!(
            !state.contains(STRONG_PASSWORD),
            "{backend}: stored {state}"
        );
    }
    assert!(!browser.signed_in().await, "{backend}");

    let done = browser
        .next(
            ENROLLMENT,
            &taken,
            enrollment_answer("grace", STRONG_PASSWORD, STRONG_PASSWORD),
        )
        .await;
    assert_redirect(&done, "/if/user/");
    let account = browser.account().await;
    assert!(account.contains("<dd>grace</dd>"), "{backend}: {account}");
    // Enrollment is for signed-out visitors only.
    let reply = browser.get(&executor(ENROLLMENT)).await;
    assert_error(&reply, 403, "forbidden");
    let reply = browser.get(&page(ENROLLMENT)).await;
    assert_eq!(reply.status, 303, "{backend}: {}", reply.text);
    assert_eq!(reply.header("location"), Some("/if/user/"), "{backend}");
    let grace = user_named(&server, "grace").await.expect("grace exists");
    assert_eq!(grace["email"], "grace@example.org", "{backend}");
    assert_eq!(grace["display_name"], "Grace Hopper", "{backend}");
    assert_eq!(grace["has_password"], true, "{backend}");
    let ada = user_named(&server, "ada").await.unwrap();
    assert_eq!(ada["email"], "ada@example.org", "{backend}: ada unchanged");

    // Sign out (the session ends on the server, not only in the browser),
    // then in again with the new password.
    let session = browser
        .cookie("castellan_session")
        .expect("a session cookie");
    let reply = sign_out(&browser).await;
    assert_eq!(reply.status, 303, "{backend}: {}", reply.text);
    assert!(!browser.signed_in().await, "{backend}");
    assert_eq!(
        account_status_with(&server, &session).await,
        303,
        "{backend}"
    );
    let done = sign_in(&browser, "grace", STRONG_PASSWORD).await;
    assert_redirect(&done, "/if/user/");
    assert!(
        browser.account().await.contains("<dd>grace</dd>"),
        "{backend}"
    );
}

/// Every stored flow execution state, as the database holds it.
async fn stored_executions(db: &TestDb) -> Vec<String> {
    use sqlx::Row as _;
    let store = db.store().await;
    let mut conn = store.conn().await.unwrap();
    let rows = sqlx::query("SELECT state FROM flow_executions")
        .fetch_all(&mut *conn)
        .await
        .unwrap();
    drop(conn);
    store.close().await;
    rows.iter()
        .map(|row| row.get::<String, _>("state"))
        .collect()
}
