//! `castellan admin` against a running server, as someone following the
//! README would use it, on every configured engine.

use serde_json::Value;

use crate::support::{ADMIN_TOKEN, CliOutput, Server, TestDb, cli, foreign_hashes};

fn ok(output: CliOutput, what: &str) -> CliOutput {
    assert!(
        output.success,
        "{what} failed:\n{}\n{}",
        output.stdout, output.stderr
    );
    output
}

fn json_of(output: &CliOutput) -> Value {
    serde_json::from_str(&output.stdout)
        .unwrap_or_else(|error| panic!("not JSON ({error}):\n{}", output.stdout))
}

fn usernames(value: &Value) -> Vec<&str> {
    let users = value.as_array().unwrap();
    users
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn users_and_nested_groups_by_name() {
    for db in TestDb::all().await {
        let backend = db.backend;
        let server = Server::with_admin(&db, &[]);
        let admin = |args: &[&str]| server.admin(ADMIN_TOKEN, args);
        let create = [
            "users",
            "create",
            "ada",
            "--email",
            "ada@example.org",
            "--name",
            "Ada Lovelace",
            "--password-stdin",
        ];
        let created = cli(
            &server.url,
            ADMIN_TOKEN,
            &create,
            Some("ada-cli-password\n"),
        );
        let created = ok(created, "users create");
        assert!(
            created.stdout.contains("Ada Lovelace"),
            "{}",
            created.stdout
        );
        ok(admin(&["groups", "create", "staff"]), "groups create");
        let nested = ["groups", "create", "engineering", "--parent", "staff"];
        ok(admin(&nested), "nested groups create");
        ok(
            admin(&["groups", "add-member", "engineering", "ada"]),
            "add-member",
        );

        let direct = ok(admin(&["groups", "members", "staff"]), "members");
        assert!(
            !direct.stdout.contains("ada"),
            "{backend}: {}",
            direct.stdout
        );
        let effective = ["groups", "members", "staff", "--effective"];
        let effective = ok(admin(&effective), "members --effective");
        assert!(
            effective.stdout.contains("ada"),
            "{backend}: {}",
            effective.stdout
        );
        let as_json = [
            "--output",
            "json",
            "groups",
            "members",
            "staff",
            "--effective",
        ];
        let as_json = json_of(&ok(admin(&as_json), "members --output json"));
        assert_eq!(usernames(&as_json), ["ada"], "{backend}");

        let got = json_of(&ok(admin(&["-o", "json", "users", "get", "ADA"]), "get"));
        assert_eq!(got["username"], "ada", "{backend}");
        assert_eq!(got["email"], "ada@example.org", "{backend}");
        assert_eq!(got["display_name"], "Ada Lovelace", "{backend}");
        assert_eq!(got["user_type"], "internal", "{backend}");
        assert_eq!(got["active"], true, "{backend}");
        assert_eq!(got["has_password"], true, "{backend}");
        assert!(uuid::Uuid::parse_str(got["id"].as_str().unwrap()).is_ok());
        let table = ok(admin(&["users", "get", "ada"]), "users get");
        assert!(table.stdout.contains("USERNAME"), "{}", table.stdout);
        assert!(table.stdout.contains(got["id"].as_str().unwrap()));

        let groups = ["-o", "json", "users", "groups", "ada", "--effective"];
        let groups = json_of(&ok(admin(&groups), "users groups"));
        let mut names: Vec<&str> = groups
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["name"].as_str().unwrap())
            .collect();
        names.sort_unstable();
        assert_eq!(names, ["engineering", "staff"], "{backend}");

        let inactive = ok(
            admin(&["users", "set-active", "ada", "false"]),
            "set-active",
        );
        assert!(inactive.stdout.contains("false"), "{}", inactive.stdout);
        let got = json_of(&ok(admin(&["-o", "json", "users", "get", "ada"]), "get"));
        assert_eq!(got["active"], false, "{backend}");

        // The password read from standard input is the one stored, without
        // its line end; `users update` changes it the same way.
        let directory = db.directory().await;
        let active = ok(admin(&["users", "set-active", "ada", "true"]), "set-active");
        assert!(active.stdout.contains("true"));
        let checked = directory.check_password("ada", "ada-cli-password").await;
        assert!(checked.unwrap().is_some(), "{backend}");
        let update = ["users", "update", "ada", "--password-stdin"];
        let updated = cli(
            &server.url,
            ADMIN_TOKEN,
            &update,
            Some("ada-new-password\n"),
        );
        ok(updated, "users update --password-stdin");
        let checked = directory.check_password("ada", "ada-new-password").await;
        assert!(checked.unwrap().is_some(), "{backend}");
        let events = ["-o", "json", "events", "list", "--action", "user.update"];
        let events = json_of(&ok(admin(&events), "events list"));
        assert_eq!(
            events["items"][0]["detail"]["changed"],
            serde_json::json!(["password"])
        );
    }
}

#[tokio::test]
async fn tokens_are_shown_once_scoped_and_revocable() {
    for db in TestDb::all().await {
        let backend = db.backend;
        let server = Server::with_admin(&db, &[]);
        let admin = |args: &[&str]| server.admin(ADMIN_TOKEN, args);
        ok(admin(&["users", "create", "ada"]), "users create");

        let created = ok(
            admin(&["tokens", "create", "laptop", "--user", "ada"]),
            "tokens create",
        );
        let line = created
            .stdout
            .lines()
            .find(|line| line.starts_with("secret (shown once): "))
            .unwrap_or_else(|| panic!("{backend}: no secret line:\n{}", created.stdout));
        let secret = line.trim_start_matches("secret (shown once): ").trim();
        assert!(secret.starts_with("cst_"), "{backend}: {secret}");
        assert_eq!(created.stdout.matches(secret).count(), 1, "{backend}");

        let me = server.get("/api/v1/me", secret).await;
        assert_eq!(me.status, 200, "{backend}: {}", me.text);
        assert_eq!(me.json()["username"], "ada", "{backend}");
        let users = server.get("/api/v1/users", secret).await;
        assert_eq!(users.status, 403, "{backend}: {}", users.text);
        assert_eq!(users.json()["error"]["code"], "forbidden", "{backend}");
        let as_user = cli(&server.url, secret, &["users", "list"], None);
        assert!(!as_user.success, "{backend}");
        assert!(as_user.stderr.contains("forbidden"), "{}", as_user.stderr);

        let listed = ok(admin(&["tokens", "list", "--user", "ada"]), "tokens list");
        assert!(listed.stdout.contains("laptop"), "{}", listed.stdout);
        assert!(!listed.stdout.contains(secret), "{backend}: secret listed");
        let listed = ["-o", "json", "tokens", "list", "--user", "ada"];
        let listed = json_of(&ok(admin(&listed), "tokens list json"));
        assert_eq!(listed.as_array().unwrap().len(), 1, "{backend}");
        assert_eq!(listed[0]["scope"], "user", "{backend}");
        let id = listed[0]["id"].as_str().unwrap();

        let revoked = ok(admin(&["tokens", "revoke", id]), "tokens revoke");
        assert!(revoked.stderr.contains(id), "{}", revoked.stderr);
        let me = server.get("/api/v1/me", secret).await;
        assert_eq!(me.status, 401, "{backend}: {}", me.text);

        // A deactivated user's tokens stop working too.
        let phone = ["-o", "json", "tokens", "create", "phone", "--user", "ada"];
        let phone = json_of(&ok(admin(&phone), "tokens create json"));
        let phone = phone["secret"].as_str().unwrap();
        assert_eq!(server.get("/api/v1/me", phone).await.status, 200);
        ok(
            admin(&["users", "set-active", "ada", "false"]),
            "set-active",
        );
        assert_eq!(server.get("/api/v1/me", phone).await.status, 401);
    }
}

#[tokio::test]
async fn imported_hashes_and_refusals() {
    let fixture = &foreign_hashes()[1];
    let (stored, password) = (
        fixture["stored"].as_str().unwrap(),
        fixture["password"].as_str().unwrap(),
    );
    assert!(stored.starts_with("$2a$"), "{stored}");
    for db in TestDb::all().await {
        let backend = db.backend;
        let server = Server::with_admin(&db, &[]);
        let admin = |args: &[&str]| server.admin(ADMIN_TOKEN, args);

        let imported = ["users", "create", "bea", "--password-hash", stored];
        let imported = ok(admin(&imported), "create with a bcrypt hash");
        assert!(!imported.stdout.contains(stored), "{backend}: hash echoed");
        let directory = db.directory().await;
        let checked = directory.check_password("bea", password).await.unwrap();
        assert!(checked.is_some(), "{backend}");

        let garbage = "garbage-hash-value-0042";
        let refused = admin(&["users", "create", "gus", "--password-hash", garbage]);
        assert!(!refused.success, "{backend}: {}", refused.stdout);
        assert!(
            refused.stderr.contains("invalid_request")
                && refused.stderr.contains("unrecognised hash format"),
            "{backend}: {}",
            refused.stderr
        );
        assert!(!refused.stderr.contains(garbage), "{}", refused.stderr);
        assert!(!refused.stdout.contains(garbage), "{}", refused.stdout);
        let missing = admin(&["users", "get", "gus"]);
        assert!(!missing.success, "{backend}: gus was created");

        let duplicate = admin(&["users", "create", "BEA"]);
        assert!(!duplicate.success, "{backend}");
        assert!(
            duplicate.stderr.contains("conflict"),
            "{}",
            duplicate.stderr
        );

        let wrong = cli(&server.url, "wrong-token-0042", &["users", "list"], None);
        assert!(!wrong.success, "{backend}");
        assert!(wrong.stderr.contains("unauthorized"), "{}", wrong.stderr);
        assert!(
            !wrong.stderr.contains("wrong-token-0042"),
            "{}",
            wrong.stderr
        );
    }
}

#[tokio::test]
async fn events_list_shows_changes() {
    for db in TestDb::all().await {
        let backend = db.backend;
        let server = Server::with_admin(&db, &[]);
        let admin = |args: &[&str]| server.admin(ADMIN_TOKEN, args);
        ok(admin(&["users", "create", "ada"]), "users create");
        ok(admin(&["groups", "create", "staff"]), "groups create");
        ok(
            admin(&["groups", "add-member", "staff", "ada"]),
            "add-member",
        );
        assert!(!admin(&["users", "create", "ada"]).success, "{backend}");

        let table = ok(admin(&["events", "list"]), "events list");
        for action in ["user.create", "group.create", "group.member.add"] {
            assert!(table.stdout.contains(action), "{backend}: {}", table.stdout);
        }
        let creates = ["-o", "json", "events", "list", "--action", "user.create"];
        let creates = json_of(&ok(admin(&creates), "events list json"));
        let items = creates["items"].as_array().unwrap();
        // Newest first: the refused duplicate, ada, then the bootstrap admin.
        let outcomes: Vec<&str> = items
            .iter()
            .map(|e| e["outcome"].as_str().unwrap())
            .collect();
        assert_eq!(outcomes, ["failure", "success", "success"], "{backend}");
        assert_eq!(items[0]["detail"]["error"], "conflict", "{backend}");
        assert!(items[1]["actor"].as_str().unwrap().starts_with("user:"));
        assert_eq!(items[1]["client_ip"], "127.0.0.1", "{backend}");
        assert_eq!(items[2]["actor"], "system", "{backend}");
    }
}
