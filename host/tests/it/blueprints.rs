//! Blueprints on every configured engine: the default blueprints apply once
//! and then change nothing, a wrong entry rolls the whole blueprint back and
//! is named, `absent` deletes, `created` never overwrites an admin's edit,
//! the example blueprint applies, and the CLI and the admin API apply and
//! refuse blueprints.

use castellan::blueprint::{self, BlueprintError, Change, EntryKind, Report};
use castellan::clock::Clock;
use castellan::event::{AuditContext, EventFilter};
use castellan::flow::{Access, Designation};
use castellan::policy::PolicyConfig;
use castellan::stage::StageConfig;
use castellan::store::{self, Store};

use crate::support::{ADMIN_TOKEN, Reply, Server, TestDb, castellan};

const EXAMPLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../examples/blueprints/internal-network-skips-mfa.yaml"
);

fn clock() -> Clock {
    Clock::manual(1_800_000_000_000)
}

async fn apply(store: &Store, yaml: &str) -> Result<Report, BlueprintError> {
    let blueprint = blueprint::parse(yaml)?;
    blueprint::apply(store, &clock(), &AuditContext::system(), &blueprint).await
}

async fn apply_ok(store: &Store, yaml: &str) -> Report {
    apply(store, yaml)
        .await
        .unwrap_or_else(|error| panic!("apply failed: {error}"))
}

async fn blueprint_events(store: &Store) -> usize {
    let mut conn = store.conn().await.unwrap();
    let filter = EventFilter {
        action: Some("blueprint.apply".to_owned()),
        limit: 500,
        ..EventFilter::default()
    };
    store::events::list(&mut conn, &filter).await.unwrap().len()
}

fn changes(report: &Report) -> Vec<(String, Change)> {
    report
        .entries
        .iter()
        .map(|entry| (entry.id.clone(), entry.change))
        .collect()
}

#[tokio::test]
async fn defaults_apply_once_and_then_change_nothing() {
    for db in TestDb::all().await {
        let backend = db.backend;
        let store = db.store().await;

        let first = blueprint::apply_defaults(&store, &clock()).await.unwrap();
        assert_eq!(first.len(), blueprint::DEFAULTS.len(), "{backend}");
        for report in &first {
            // Recovery finds the strength policy that enrollment created.
            let totals = report.totals();
            assert!(totals.created > 0, "{backend}: {report:?}");
            assert_eq!((totals.updated, totals.deleted), (0, 0), "{backend}");
        }
        assert_eq!(blueprint_events(&store).await, first.len(), "{backend}");

        let second = blueprint::apply_defaults(&store, &clock()).await.unwrap();
        for report in &second {
            assert!(!report.changed(), "{backend}: {report:?}");
            let totals = report.totals();
            assert_eq!(totals.unchanged as usize, report.entries.len(), "{backend}");
        }
        // An apply that changes nothing leaves no trace either.
        assert_eq!(blueprint_events(&store).await, first.len(), "{backend}");

        let mut conn = store.conn().await.unwrap();
        let flow = store::flows::load(&mut conn, "default-authentication")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(flow.designation, Designation::Authentication, "{backend}");
        assert_eq!(flow.access, Access::Anyone, "{backend}");
        let positions: Vec<i64> = flow.bindings.iter().map(|b| b.position).collect();
        assert_eq!(positions, [10, 20, 30], "{backend}");
        let [identification, password, login] = &flow.bindings[..] else {
            panic!("{backend}: {flow:?}");
        };
        let StageConfig::Identification(config) = &identification.stage.config else {
            panic!("{backend}: {identification:?}");
        };
        assert_eq!(
            config.enrollment_flow.as_deref(),
            Some("default-enrollment")
        );
        assert_eq!(config.recovery_flow.as_deref(), Some("default-recovery"));
        assert!(
            matches!(password.stage.config, StageConfig::Password(_)),
            "{backend}"
        );
        assert!(
            matches!(login.stage.config, StageConfig::UserLogin(_)),
            "{backend}"
        );

        for (slug, stages) in [
            ("default-enrollment", 3),
            ("default-recovery", 5),
            ("default-invalidation", 2),
        ] {
            let flow = store::flows::load(&mut conn, slug).await.unwrap().unwrap();
            assert_eq!(flow.bindings.len(), stages, "{backend}: {slug}");
        }
        let strength = store::flows::policy_named(&mut conn, "default-password-strength")
            .await
            .unwrap()
            .unwrap();
        assert!(matches!(
            strength.config,
            PolicyConfig::PasswordStrength { .. }
        ));

        let brand = store::brands::for_host(&mut conn, "id.example.org:9000")
            .await
            .unwrap()
            .unwrap();
        assert!(brand.is_default, "{backend}");
        assert_eq!(brand.title, "Castellan", "{backend}");
        assert_eq!(
            brand.flow_authentication.as_deref(),
            Some("default-authentication")
        );
        drop(conn);
        // Settle every connection before the database is dropped.
        store.close().await;
    }
}

/// A new flow whose binding names a stage that exists nowhere.
const DANGLING: &str = "\
version: 1
name: it-dangling
entries:
  - kind: flow
    id: flow
    slug: it-dangling
    designation: authentication
  - kind: stage
    id: deny
    name: it-dangling-deny
    config: {kind: deny}
  - kind: flow_binding
    id: pw-binding
    flow: flow
    stage: it-no-such-stage
    order: 10
";

#[tokio::test]
async fn a_dangling_reference_writes_nothing_and_names_the_entry() {
    for db in TestDb::all().await {
        let backend = db.backend;
        let store = db.store().await;
        let error = apply(&store, DANGLING).await.unwrap_err();
        assert_eq!(
            error.to_string(),
            "entry 3 (id \"pw-binding\"): unknown stage \"it-no-such-stage\"",
            "{backend}"
        );

        let mut conn = store.conn().await.unwrap();
        let flow = store::flows::load(&mut conn, "it-dangling").await.unwrap();
        assert!(flow.is_none(), "{backend}: the flow was written");
        let stage = store::definitions::stage(&mut conn, "it-dangling-deny")
            .await
            .unwrap();
        assert!(stage.is_none(), "{backend}: the stage was written");
        drop(conn);
        assert_eq!(blueprint_events(&store).await, 0, "{backend}");
        // Settle every connection before the database is dropped.
        store.close().await;
    }
}

const GATED_FLOW: &str = "\
version: 1
name: it-gated
entries:
  - {kind: flow, id: flow, slug: it-gated, designation: authentication}
  - {kind: stage, id: deny, name: it-gated-deny, config: {kind: deny, message: No}}
  - {kind: stage, id: login, name: it-gated-login, config: {kind: user_login}}
  - {kind: flow_binding, id: deny-binding, flow: flow, stage: deny, order: 10}
  - {kind: flow_binding, id: login-binding, flow: flow, stage: login, order: 20}
  - {kind: policy, id: never, name: it-never, config: {kind: static, pass: false}}
  - {kind: policy_binding, id: gate, policy: never, target: deny-binding, negate: true}
  - {kind: group, id: staff, name: it-staff}
  - {kind: group, id: admins, name: it-staff-admins, parent: staff}
";

/// The same objects' removal; the flow and the login stage stay.
const GATED_REMOVAL: &str = "\
version: 1
name: it-gated-removal
entries:
  - {kind: flow_binding, id: deny-binding, state: absent, flow: it-gated, stage: deny}
  - {kind: stage, id: deny, state: absent, name: it-gated-deny}
  - {kind: policy, id: never, state: absent, name: it-never}
  - {kind: group, id: admins, state: absent, name: it-staff-admins}
  - {kind: group, id: missing, state: absent, name: it-never-was}
";

#[tokio::test]
async fn absent_entries_delete() {
    for db in TestDb::all().await {
        let backend = db.backend;
        let store = db.store().await;
        let created = apply_ok(&store, GATED_FLOW).await;
        assert_eq!(created.totals().created, 9, "{backend}: {created:?}");
        let mut conn = store.conn().await.unwrap();
        let flow = store::flows::load(&mut conn, "it-gated")
            .await
            .unwrap()
            .unwrap();
        let deny_binding = flow.bindings[0].id;
        let policies = store::flows::policy_bindings(&mut conn, "binding", deny_binding)
            .await
            .unwrap();
        assert_eq!(policies.len(), 1, "{backend}");
        assert!(policies[0].negate, "{backend}");
        drop(conn);

        let removed = apply_ok(&store, GATED_REMOVAL).await;
        assert_eq!(
            changes(&removed),
            [
                ("deny-binding".to_owned(), Change::Deleted),
                ("deny".to_owned(), Change::Deleted),
                ("never".to_owned(), Change::Deleted),
                ("admins".to_owned(), Change::Deleted),
                ("missing".to_owned(), Change::Unchanged),
            ],
            "{backend}"
        );
        let counts = removed.kinds[&EntryKind::Group];
        assert_eq!((counts.deleted, counts.unchanged), (1, 1), "{backend}");

        let mut conn = store.conn().await.unwrap();
        let flow = store::flows::load(&mut conn, "it-gated")
            .await
            .unwrap()
            .unwrap();
        let names: Vec<&str> = flow
            .bindings
            .iter()
            .map(|b| b.stage.name.as_str())
            .collect();
        assert_eq!(names, ["it-gated-login"], "{backend}");
        let orphans = store::flows::policy_bindings(&mut conn, "binding", deny_binding)
            .await
            .unwrap();
        assert!(orphans.is_empty(), "{backend}");
        let staff = store::groups::find_by_name(&mut conn, "it-staff")
            .await
            .unwrap();
        assert!(staff.is_some(), "{backend}");
        let admins = store::groups::find_by_name(&mut conn, "it-staff-admins")
            .await
            .unwrap();
        assert!(admins.is_none(), "{backend}");
        drop(conn);

        // Applying the removal again finds nothing to do.
        let again = apply_ok(&store, GATED_REMOVAL).await;
        assert!(!again.changed(), "{backend}: {again:?}");
        // Settle every connection before the database is dropped.
        store.close().await;
    }
}

/// An admin's edit of a default stage, flow title and brand.
const ADMIN_EDIT: &str = "\
version: 1
name: it-admin-edit
entries:
  - kind: stage
    id: password
    name: default-authentication-password
    config: {kind: password, max_failures_per_user: 3}
  - kind: flow
    id: flow
    slug: default-authentication
    title: Sign in to Example
    designation: authentication
  - kind: brand
    id: brand
    name: default
    is_default: true
    title: Example
    primary_color: '#003366'
    flow_authentication: default-authentication
";

#[tokio::test]
async fn created_entries_never_overwrite_an_edit() {
    for db in TestDb::all().await {
        let backend = db.backend;
        let store = db.store().await;
        blueprint::apply_defaults(&store, &clock()).await.unwrap();
        let edit = apply_ok(&store, ADMIN_EDIT).await;
        assert_eq!(edit.totals().updated, 3, "{backend}: {edit:?}");

        let again = blueprint::apply_defaults(&store, &clock()).await.unwrap();
        assert!(
            again.iter().all(|report| !report.changed()),
            "{backend}: {again:?}"
        );

        let mut conn = store.conn().await.unwrap();
        let flow = store::flows::load(&mut conn, "default-authentication")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(flow.title, "Sign in to Example", "{backend}");
        let StageConfig::Password(config) = &flow.bindings[1].stage.config else {
            panic!("{backend}: {flow:?}");
        };
        assert_eq!(config.max_failures_per_user, 3, "{backend}");
        let brand = store::brands::for_host(&mut conn, "localhost")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(brand.title, "Example", "{backend}");
        assert_eq!(brand.flow_enrollment, None, "{backend}");
        drop(conn);

        // A `present` entry puts back what it says, once.
        let restored = apply_ok(
            &store,
            &ADMIN_EDIT.replace(", max_failures_per_user: 3", ""),
        )
        .await;
        assert_eq!(restored.totals().updated, 1, "{backend}: {restored:?}");
        let repeat = apply_ok(
            &store,
            &ADMIN_EDIT.replace(", max_failures_per_user: 3", ""),
        )
        .await;
        assert!(!repeat.changed(), "{backend}: {repeat:?}");
        // Settle every connection before the database is dropped.
        store.close().await;
    }
}

#[tokio::test]
async fn the_example_blueprint_applies() {
    for db in TestDb::all().await {
        let backend = db.backend;
        let store = db.store().await;
        blueprint::apply_defaults(&store, &clock()).await.unwrap();
        let example = blueprint::load(std::path::Path::new(EXAMPLE)).unwrap();
        let context = AuditContext::system();
        let report = blueprint::apply(&store, &clock(), &context, &example)
            .await
            .unwrap();
        assert_eq!(report.totals().created, 4, "{backend}: {report:?}");

        let mut conn = store.conn().await.unwrap();
        let flow = store::flows::load(&mut conn, "default-authentication")
            .await
            .unwrap()
            .unwrap();
        let positions: Vec<i64> = flow.bindings.iter().map(|b| b.position).collect();
        assert_eq!(positions, [10, 20, 25, 30], "{backend}");
        let mfa = &flow.bindings[2];
        let StageConfig::Deny(config) = &mfa.stage.config else {
            panic!("{backend}: {mfa:?}");
        };
        assert_eq!(config.message, "MFA required from outside the network");
        let policies = store::flows::policy_bindings(&mut conn, "binding", mfa.id)
            .await
            .unwrap();
        assert_eq!(policies.len(), 1, "{backend}");
        assert!(policies[0].negate, "{backend}");
        let PolicyConfig::ClientNetwork { networks } = &policies[0].policy.config else {
            panic!("{backend}: {policies:?}");
        };
        assert_eq!(networks.len(), 3, "{backend}");
        drop(conn);

        let again = blueprint::apply(&store, &clock(), &context, &example)
            .await
            .unwrap();
        assert!(!again.changed(), "{backend}: {again:?}");
        // Settle every connection before the database is dropped.
        store.close().await;
    }
}

#[tokio::test]
async fn the_cli_checks_and_applies_files() {
    for db in TestDb::all().await {
        let backend = db.backend;
        let env = [("CASTELLAN_DATABASE_URL", db.url.as_str())];

        let check = castellan(&["blueprint", "check", EXAMPLE], &[]);
        assert!(check.success, "{backend}: {}", check.stderr);
        assert!(
            check.stdout.contains("flow \"default-authentication\""),
            "{}",
            check.stdout
        );

        // On an empty database the flow the example extends is missing.
        let refused = castellan(&["blueprint", "apply", EXAMPLE], &env);
        assert!(!refused.success, "{backend}: {}", refused.stdout);
        assert!(
            refused
                .stderr
                .contains("entry 3 (id \"mfa-binding\"): unknown flow \"default-authentication\""),
            "{backend}: {}",
            refused.stderr
        );

        let store = db.store().await;
        blueprint::apply_defaults(&store, &clock()).await.unwrap();
        store.close().await;
        let applied = castellan(&["blueprint", "apply", EXAMPLE, "-o", "json"], &env);
        assert!(applied.success, "{backend}: {}", applied.stderr);
        let report: Report = serde_json::from_str(&applied.stdout).unwrap();
        assert_eq!(report.totals().created, 4, "{backend}: {report:?}");
    }
}

#[tokio::test]
async fn the_admin_api_applies_and_names_the_wrong_entry() {
    for db in TestDb::all().await {
        let backend = db.backend;
        let server = Server::with_admin(&db, &[]);
        let post = |content_type: &'static str, body: String, token: Option<&str>| {
            let request = server
                .request(reqwest::Method::POST, "/api/v1/blueprints/apply", token)
                .header("content-type", content_type)
                .body(body);
            Reply::of(request)
        };

        let wrong = post("application/yaml", DANGLING.to_owned(), Some(ADMIN_TOKEN)).await;
        assert_eq!(wrong.status, 400, "{backend}: {}", wrong.text);
        let error = &wrong.json()["error"];
        assert_eq!(error["code"], "invalid_request", "{backend}");
        assert_eq!(
            error["message"], "entry 3 (id \"pw-binding\"): unknown stage \"it-no-such-stage\"",
            "{backend}"
        );

        let json = serde_json::json!({
            "version": 1,
            "name": "it-api",
            "entries": [{"kind": "group", "id": "g", "name": "it-api-group"}],
        });
        let applied = post("application/json", json.to_string(), Some(ADMIN_TOKEN)).await;
        assert_eq!(applied.status, 200, "{backend}: {}", applied.text);
        let report = applied.json();
        assert_eq!(
            report["kinds"]["group"]["created"], 1,
            "{backend}: {report}"
        );

        let unauthorized = post("text/plain", DANGLING.to_owned(), None).await;
        assert_eq!(unauthorized.status, 401, "{backend}");
        let form = post(
            "application/x-www-form-urlencoded",
            "a=b".to_owned(),
            Some(ADMIN_TOKEN),
        )
        .await;
        assert_eq!(form.status, 400, "{backend}: {}", form.text);
    }
}
