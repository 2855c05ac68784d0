//! Unit tests of blueprint parsing, checks, references and the schema.

#![allow(clippy::unwrap_used, clippy::panic, reason = "tests fail loudly")]

use std::path::Path;

use super::entry::{Entry, EntryKind, State};
use super::{BlueprintError, DEFAULTS, EntryError, external_references, json_schema, parse};
use crate::stage::StageConfig;

const EXAMPLE: &str = include_str!("../../../examples/blueprints/internal-network-skips-mfa.yaml");

fn error_of(text: &str) -> BlueprintError {
    match parse(text) {
        Ok(blueprint) => panic!("parsed: {blueprint:?}"),
        Err(error) => error,
    }
}

fn with_entries(entries: &str) -> String {
    format!("version: 1\nname: test\nentries:\n{entries}")
}

#[test]
fn defaults_and_example_parse() {
    for (file, text) in DEFAULTS {
        let blueprint = parse(text).unwrap_or_else(|error| panic!("{file}: {error}"));
        for entry in &blueprint.entries {
            assert_eq!(entry.header().2, State::Created, "{file}: {entry:?}");
        }
    }
    let example = parse(EXAMPLE).unwrap();
    assert_eq!(example.name, "internal-network-skips-mfa");
}

#[test]
fn stage_entries_carry_a_typed_config() {
    let blueprint = parse(&with_entries(
        "  - kind: stage\n    id: pw\n    name: default-password\n    \
         config: {kind: password, max_failures_per_user: 5}\n",
    ))
    .unwrap();
    let Some(Entry::Stage(stage)) = blueprint.entries.first() else {
        panic!("{blueprint:?}");
    };
    assert_eq!(stage.state, State::Present);
    let Some(StageConfig::Password(config)) = &stage.config else {
        panic!("{stage:?}");
    };
    assert_eq!(config.max_failures_per_user, 5);
    assert_eq!(config.max_failures_per_ip, 20);
}

#[test]
fn json_parses_like_yaml() {
    let json = r#"{"version": 1, "name": "j", "entries": [
        {"kind": "flow", "id": "f", "slug": "my-flow", "designation": "authentication"}]}"#;
    let from_json = super::parse_json(json).unwrap();
    let from_yaml = parse(json).unwrap();
    assert_eq!(from_json, from_yaml);
}

#[test]
fn errors_name_the_entry() {
    let cases = [
        // Unknown field inside a stage config.
        (
            "  - kind: flow\n    id: f\n    slug: f\n    designation: authentication\n  \
             - kind: stage\n    id: pw\n    name: p\n    config: {kind: password, tries: 3}\n",
            "entry 2 (id \"pw\"): unknown field `tries`",
        ),
        // Unknown kind.
        (
            "  - kind: flwo\n    id: f\n",
            "entry 1 (id \"f\"): unknown variant `flwo`",
        ),
        // Unknown attribute of an entry.
        (
            "  - kind: flow\n    id: f\n    slug: f\n    designation: authentication\n    \
             colour: red\n",
            "entry 1 (id \"f\"): unknown field `colour`",
        ),
        // No id at all.
        (
            "  - kind: flow\n    slug: f\n",
            "entry 1: missing field `id`",
        ),
        // A flow that is written needs a designation.
        (
            "  - kind: flow\n    id: f\n    slug: f\n",
            "entry 1 (id \"f\"): a flow needs `designation`",
        ),
        // Slugs go into URLs.
        (
            "  - kind: flow\n    id: f\n    slug: My Flow\n    designation: recovery\n",
            "entry 1 (id \"f\"): slug: must be",
        ),
    ];
    for (entries, expected) in cases {
        let message = error_of(&with_entries(entries)).to_string();
        assert!(
            message.starts_with(expected),
            "{message:?} should start with {expected:?}"
        );
    }
}

#[test]
fn duplicate_and_conflicting_entries_are_refused() {
    let duplicate_id = error_of(&with_entries(
        "  - {kind: policy, id: p, name: a, config: {kind: static, pass: true}}\n  \
         - {kind: policy, id: p, name: b, config: {kind: static, pass: true}}\n",
    ));
    assert_eq!(
        duplicate_id.to_string(),
        "entry 2 (id \"p\"): the id is already used by entry 1"
    );
    let same_object = error_of(&with_entries(
        "  - {kind: policy, id: a, name: same, config: {kind: static, pass: true}}\n  \
         - {kind: policy, id: b, name: same, state: absent}\n",
    ));
    assert_eq!(
        same_object.to_string(),
        "entry 2 (id \"b\"): policy \"same\" is already defined by entry 1"
    );
    let same_position = error_of(&with_entries(
        "  - {kind: flow_binding, id: a, flow: f, stage: s1, order: 10}\n  \
         - {kind: flow_binding, id: b, flow: f, stage: s2, order: 10}\n",
    ));
    assert_eq!(
        same_position.to_string(),
        "entry 2 (id \"b\"): order 10 of flow \"f\" is already defined by entry 1"
    );
}

#[test]
fn references_resolve_to_entries_by_kind() {
    let blueprint = parse(&with_entries(
        "  - {kind: flow_binding, id: b, flow: f, stage: s, order: 10}\n  \
         - {kind: stage, id: s, name: my-stage, config: {kind: deny}}\n  \
         - {kind: flow, id: f, slug: my-flow, designation: authentication}\n  \
         - {kind: policy_binding, id: pb, policy: existing-policy, target: b}\n  \
         - {kind: policy_binding, id: pf, policy: existing-policy, target: other-flow}\n",
    ))
    .unwrap();
    let external = external_references(&blueprint).unwrap();
    assert_eq!(
        external,
        vec![
            (EntryKind::Flow, "other-flow".to_owned()),
            (EntryKind::Policy, "existing-policy".to_owned()),
        ]
    );

    let wrong_kind = error_of(&with_entries(
        "  - {kind: stage, id: s, name: my-stage, config: {kind: deny}}\n  \
         - {kind: flow_binding, id: b, flow: s, stage: s, order: 10}\n",
    ));
    assert_eq!(
        wrong_kind.to_string(),
        "entry 2 (id \"b\"): \"s\" is a stage entry, not a flow"
    );

    let to_absent = error_of(&with_entries(
        "  - {kind: stage, id: s, name: gone, state: absent}\n  \
         - {kind: flow_binding, id: b, flow: f, stage: s, order: 10}\n",
    ));
    assert!(matches!(
        to_absent,
        BlueprintError::Entry {
            index: 2,
            error: EntryError::RefersToAbsent(_),
            ..
        }
    ));

    // Deleting a binding together with its stage is fine.
    parse(&with_entries(
        "  - {kind: stage, id: s, name: gone, state: absent}\n  \
         - {kind: flow_binding, id: b, flow: f, stage: s, state: absent}\n",
    ))
    .unwrap();
}

#[test]
fn groups_may_not_nest_in_a_loop() {
    let error = error_of(&with_entries(
        "  - {kind: group, id: a, name: A, parent: b}\n  \
         - {kind: group, id: b, name: B, parent: c}\n  \
         - {kind: group, id: c, name: C, parent: a}\n",
    ));
    assert!(matches!(
        error,
        BlueprintError::Entry {
            error: EntryError::GroupCycle,
            ..
        }
    ));
}

#[test]
fn outer_shape_and_version_are_checked() {
    assert!(matches!(
        error_of("version: 2\nname: x\n"),
        BlueprintError::Version(2)
    ));
    assert!(matches!(
        error_of("version: 1\nname: x\nentires: []\n"),
        BlueprintError::Syntax(message) if message.contains("entires")
    ));
    assert!(matches!(
        error_of("version: 1\nname: [unclosed\n"),
        BlueprintError::Syntax(_)
    ));
}

#[test]
fn brand_values_that_reach_pages_are_checked() {
    for (field, value) in [
        ("primary_color", "\"red;}\""),
        ("logo_url", "\"javascript:alert(1)\""),
        ("domain", "\"https://id.example.org\""),
    ] {
        let error = error_of(&with_entries(&format!(
            "  - {{kind: brand, id: b, name: b, {field}: {value}}}\n"
        )));
        let message = error.to_string();
        assert!(message.contains(field), "{message}");
    }
}

#[test]
fn schema_matches_the_checked_in_file() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/blueprint.schema.json");
    let generated = format!(
        "{}\n",
        serde_json::to_string_pretty(&json_schema()).unwrap()
    );
    if std::env::var("CASTELLAN_UPDATE_GOLDEN").as_deref() == Ok("1") {
        std::fs::write(&path, &generated).unwrap();
        return;
    }
    let stored = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        stored == generated,
        "docs/blueprint.schema.json is out of date; run the test with CASTELLAN_UPDATE_GOLDEN=1"
    );
}
