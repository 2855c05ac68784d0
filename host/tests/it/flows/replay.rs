//! The order of stages and the versions of an execution: no skipping, no
//! replay, no answering another browser's run; runs that survive a restart
//! and a hop between servers on one database.

use super::*;

// Order and replay.

#[tokio::test]
async fn answers_must_follow_the_plan_and_cannot_be_replayed() {
    for db in TestDb::all().await {
        order_and_replay_on(&db).await;
    }
}

async fn order_and_replay_on(db: &TestDb) {
    let backend = db.backend;
    let (server, _) = server_with_ada(db, &[]).await;

    // Another browser learns the password stage's binding id (the same for
    // every run of the flow).
    let scout = Browser::new(&server);
    let step = scout.step(AUTHENTICATION).await;
    let scout_password = scout
        .next(AUTHENTICATION, &step, json!({ "identifier": "ada" }))
        .await;
    let password_stage = challenge(&scout_password, "password")["stage"].clone();

    // Skipping identification: an answer for the password stage while the
    // run is at identification is stale, whatever the version.
    let browser = Browser::new(&server);
    let first = browser.step(AUTHENTICATION).await;
    let version = challenge(&first, "identification")["version"]
        .as_i64()
        .unwrap();
    // Loading the step again (a reload, a second tab) keeps its version,
    // so an open form does not go stale by being viewed twice.
    let reload = browser.step(AUTHENTICATION).await;
    assert_eq!(
        challenge(&reload, "identification")["version"],
        json!(version),
        "{backend}"
    );
    for version in [version, version + 1] {
        let skip = json!({
            "stage": password_stage,
            "version": version,
            "values": { "password": ADA_PASSWORD },
        });
        let reply = browser.post_json(&executor(AUTHENTICATION), &skip).await;
        assert_error(&reply, 409, "stale_answer");
    }
    assert!(!browser.signed_in().await, "{backend}");

    // An accepted answer sent again is stale.
    let second = browser
        .next(AUTHENTICATION, &first, json!({ "identifier": "ada" }))
        .await;
    challenge(&second, "password");
    let reply = browser
        .answer(AUTHENTICATION, &first, json!({ "identifier": "ada" }))
        .await;
    assert_error(&reply, 409, "stale_answer");

    // A browser without a run of the flow cannot answer at all; one with
    // its own run cannot answer with another browser's stage and version:
    // the run it answers is its own, which is still at identification.
    let intruder = Browser::new(&server);
    let reply = intruder
        .answer(AUTHENTICATION, &second, json!({ "password": ADA_PASSWORD }))
        .await;
    assert_error(&reply, 410, "flow_expired");
    let own = intruder.step(AUTHENTICATION).await;
    challenge(&own, "identification");
    let reply = intruder
        .answer(AUTHENTICATION, &second, json!({ "password": ADA_PASSWORD }))
        .await;
    assert_error(&reply, 409, "stale_answer");
    assert!(!intruder.signed_in().await, "{backend}");
    let still = intruder.step(AUTHENTICATION).await;
    challenge(&still, "identification");

    // The first browser's run is untouched by all this.
    let done = browser
        .next(AUTHENTICATION, &second, json!({ "password": ADA_PASSWORD }))
        .await;
    assert_redirect(&done, "/if/user/");
    assert!(browser.signed_in().await, "{backend}");

    // After the flow completed its execution is deleted, so the browser has
    // no run of this flow any more: the old answer gets 410 flow_expired
    // (not 409, which needs a run to be stale against).
    let reply = browser
        .answer(AUTHENTICATION, &second, json!({ "password": ADA_PASSWORD }))
        .await;
    assert_error(&reply, 410, "flow_expired");
    let success = events(&server, "action=login.success").await;
    assert_eq!(success.len(), 1, "{backend}: {success:?}");
}

#[tokio::test]
async fn the_same_answer_sent_twice_at_once_is_accepted_once() {
    for db in TestDb::all().await {
        concurrent_replay_on(&db).await;
    }
}

/// Two copies of the right password answer, sent together (a double click,
/// or a replay racing the original), must not both sign in.
async fn concurrent_replay_on(db: &TestDb) {
    let backend = db.backend;
    let (server, ada) = server_with_ada(db, &[]).await;
    for round in 0..3 {
        let browser = Browser::new(&server);
        let step = browser.step(AUTHENTICATION).await;
        let step = browser
            .next(AUTHENTICATION, &step, json!({ "identifier": "ada" }))
            .await;
        let (one, two) = tokio::join!(
            browser.answer(AUTHENTICATION, &step, json!({ "password": ADA_PASSWORD })),
            browser.answer(AUTHENTICATION, &step, json!({ "password": ADA_PASSWORD })),
        );
        let mut statuses = [one.status, two.status];
        statuses.sort_unstable();
        assert_eq!(
            statuses[0], 200,
            "{backend} round {round}: {} / {}",
            one.text, two.text
        );
        assert!(
            [409, 410].contains(&statuses[1]),
            "{backend} round {round}: both accepted: {} / {}",
            one.text,
            two.text
        );
        let success = events(&server, &format!("action=login.success&target={ada}")).await;
        assert_eq!(success.len(), round + 1, "{backend} round {round}");
    }
}

// Executions survive a restart and a hop between servers.

#[tokio::test]
async fn an_execution_survives_a_restart() {
    for db in TestDb::all().await {
        let backend = db.backend;
        let (mut first, _) = server_with_ada(&db, &[]).await;
        let browser = Browser::new(&first);
        // Where to go at the end is part of the stored run, too.
        let reply = browser
            .get(&format!(
                "{}?next=%2Fif%2Fuser%2F%3Ffrom%3Drestart",
                executor(AUTHENTICATION)
            ))
            .await;
        assert_eq!(reply.status, 200, "{backend}: {}", reply.text);
        let step = reply.json();
        let step = browser
            .next(AUTHENTICATION, &step, json!({ "identifier": "ada" }))
            .await;
        challenge(&step, "password");
        assert!(first.stop().success(), "{backend}: {}", first.logs());

        let second = Server::start(&db, &[]);
        let browser = browser.at(&second);
        let done = browser
            .next(AUTHENTICATION, &step, json!({ "password": ADA_PASSWORD }))
            .await;
        assert_redirect(&done, "/if/user/?from=restart");
        let account = browser.account().await;
        assert!(account.contains("<dd>ada</dd>"), "{backend}: {account}");
    }
}

#[tokio::test]
async fn two_servers_on_one_database_share_executions_and_sessions() {
    for db in TestDb::all().await {
        let backend = db.backend;
        let (one, _) = server_with_ada(&db, &[]).await;
        let two = Server::start(&db, &[]);
        let on_one = Browser::new(&one);
        let on_two = on_one.at(&two);

        let step = on_one.step(AUTHENTICATION).await;
        let step = on_two
            .next(AUTHENTICATION, &step, json!({ "identifier": "ada" }))
            .await;
        challenge(&step, "password");
        // The current step read from either server is the same stage.
        let seen = on_one.step(AUTHENTICATION).await;
        assert_eq!(
            seen["challenge"]["stage"], step["challenge"]["stage"],
            "{backend}"
        );
        let retry = on_two
            .next(
                AUTHENTICATION,
                &seen,
                json!({ "password": "not-her-password" }),
            )
            .await;
        assert_eq!(
            field_errors(&retry, "password"),
            [WRONG_PASSWORD],
            "{backend}"
        );
        // The version the first server handed out is stale on the second.
        let reply = on_two
            .answer(AUTHENTICATION, &seen, json!({ "password": ADA_PASSWORD }))
            .await;
        assert_error(&reply, 409, "stale_answer");
        let done = on_one
            .next(AUTHENTICATION, &retry, json!({ "password": ADA_PASSWORD }))
            .await;
        assert_redirect(&done, "/if/user/");

        // The session is good on both.
        assert!(on_two.account().await.contains("<dd>ada</dd>"), "{backend}");
        assert!(on_one.account().await.contains("<dd>ada</dd>"), "{backend}");
        // Signing out on one ends the session on both, not only the cookie.
        let session = on_one
            .cookie("castellan_session")
            .expect("a session cookie");
        assert_eq!(account_status_with(&one, &session).await, 200, "{backend}");
        let reply = sign_out(&on_two).await;
        assert_eq!(reply.status, 303, "{backend}: {}", reply.text);
        assert!(!on_one.signed_in().await, "{backend}");
        assert!(!on_two.signed_in().await, "{backend}");
        assert_eq!(account_status_with(&one, &session).await, 303, "{backend}");
        assert_eq!(account_status_with(&two, &session).await, 303, "{backend}");
    }
}
