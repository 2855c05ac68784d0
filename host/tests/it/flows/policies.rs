//! Policies applied through blueprints: a stage that only runs outside the
//! internal network, and a flow closed by a flow-level policy.

use super::*;

/// Applies a blueprint through the admin API.
async fn apply_blueprint(server: &Server, yaml: &str) -> Value {
    let request = server
        .request(
            reqwest::Method::POST,
            "/api/v1/blueprints/apply",
            Some(ADMIN_TOKEN),
        )
        .header("content-type", "application/yaml")
        .body(yaml.to_owned());
    let reply = Reply::of(request).await;
    assert_eq!(reply.status, 200, "apply blueprint: {}", reply.text);
    reply.json()
}

/// A deny stage standing in for MFA, placed between the password (order
/// 20) and the session (order 30) of the default sign-in flow, and left out
/// of the plan for clients on 127.0.0.1 by a negated network policy.
const MFA_OUTSIDE_BLUEPRINT: &str = "\
version: 1
name: it-mfa-outside-internal-network
entries:
  - kind: policy
    id: internal
    name: it-internal-network
    config:
      kind: client_network
      networks: [127.0.0.1/32]
  - kind: stage
    id: mfa
    name: it-mfa-stand-in
    config:
      kind: deny
      message: MFA required outside the internal network
  - kind: flow_binding
    id: mfa-binding
    flow: default-authentication
    stage: mfa
    order: 25
  - kind: policy_binding
    id: mfa-outside
    policy: internal
    target: mfa-binding
    negate: true
";

/// A flow that a failing static policy closes to everyone.
const CLOSED_FLOW_BLUEPRINT: &str = "\
version: 1
name: it-closed-flow
entries:
  - kind: flow
    id: flow
    slug: it-closed
    title: Closed
    designation: authentication
  - kind: stage
    id: identification
    name: it-closed-identification
    config:
      kind: identification
  - kind: flow_binding
    id: identification-binding
    flow: flow
    stage: identification
    order: 10
  - kind: policy
    id: closed
    name: it-always-closed
    config:
      kind: static
      pass: false
      message: This flow is closed for maintenance
  - kind: policy_binding
    id: closed-binding
    policy: closed
    target: flow
";

#[tokio::test]
async fn policies_deny_by_client_network_and_by_flow() {
    for db in TestDb::all().await {
        client_network_on(&db).await;
        flow_policy_on(&db).await;
    }
}

async fn client_network_on(db: &TestDb) {
    let backend = db.backend;
    let (server, ada) = server_with_ada(db, &[]).await;
    apply_blueprint(&server, MFA_OUTSIDE_BLUEPRINT).await;

    let inside = Browser::from_address(&server, IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)));
    let done = sign_in(&inside, "ada", ADA_PASSWORD).await;
    assert_redirect(&done, "/if/user/");
    assert!(inside.signed_in().await, "{backend}");

    let outside = Browser::from_address(&server, IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)));
    let denied = sign_in(&outside, "ada", ADA_PASSWORD).await;
    assert_eq!(denied["type"], "denied", "{backend}: {denied}");
    assert_eq!(denied["message"], MFA_MESSAGE, "{backend}");
    assert!(!outside.signed_in().await, "{backend}");
    // The run is over: a new one starts at identification.
    let again = outside.step(AUTHENTICATION).await;
    challenge(&again, "identification");

    let success = events(&server, &format!("action=login.success&target={ada}")).await;
    assert_eq!(success.len(), 1, "{backend}: {success:?}");
    assert_eq!(success[0]["client_ip"], "127.0.0.1", "{backend}");
    let denials = events(&server, "action=flow.denied").await;
    assert_eq!(denials.len(), 1, "{backend}: {denials:?}");
    let denial = &denials[0];
    assert_eq!(denial["outcome"], "denied", "{backend}");
    assert_eq!(denial["client_ip"], "127.0.0.2", "{backend}");
    assert_eq!(denial["target_id"], AUTHENTICATION, "{backend}");
    assert_eq!(denial["detail"]["message"], MFA_MESSAGE, "{backend}");
    assert_eq!(denial["detail"]["stage"], "it-mfa-stand-in", "{backend}");
}

async fn flow_policy_on(db: &TestDb) {
    let backend = db.backend;
    let server = Server::start(db, &[]);
    apply_blueprint(&server, CLOSED_FLOW_BLUEPRINT).await;
    let before = events(&server, "action=flow.denied&target=it-closed")
        .await
        .len();

    let browser = Browser::new(&server);
    let step = browser.step("it-closed").await;
    assert_eq!(step["type"], "denied", "{backend}: {step}");
    assert_eq!(
        step["message"], "This flow is closed for maintenance",
        "{backend}"
    );
    let reply = browser.get(&page("it-closed")).await;
    assert_eq!(reply.status, 403, "{backend}: {}", reply.text);
    assert_secure_page(&reply);
    assert!(
        reply.text.contains("This flow is closed for maintenance"),
        "{backend}: {}",
        reply.text
    );

    let denials = events(&server, "action=flow.denied&target=it-closed").await;
    assert_eq!(denials.len(), before + 2, "{backend}: {denials:?}");
    let decisions = &denials[0]["detail"]["decisions"];
    assert_eq!(
        decisions,
        &json!([{
            "policy": "it-always-closed",
            "passed": false,
            "reason": "This flow is closed for maintenance",
        }]),
        "{backend}: {}",
        denials[0]
    );
    assert!(denials[0]["detail"].get("stage").is_none(), "{backend}");
}
