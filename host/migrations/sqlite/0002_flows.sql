-- Flows, stages, policies, brands, flow executions and browser sessions.

CREATE TABLE brands (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL UNIQUE,
    domain          TEXT NOT NULL UNIQUE,
    is_default      INTEGER NOT NULL DEFAULT 0,
    title           TEXT NOT NULL,
    logo_url        TEXT,
    primary_color   TEXT NOT NULL DEFAULT '#1f4fd1',
    background_color TEXT NOT NULL DEFAULT '#f5f6f8',
    flow_authentication TEXT,
    flow_enrollment     TEXT,
    flow_recovery       TEXT,
    flow_invalidation   TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);

CREATE TABLE flows (
    id              TEXT PRIMARY KEY,
    slug            TEXT NOT NULL UNIQUE,
    title           TEXT NOT NULL,
    designation     TEXT NOT NULL,
    access          TEXT NOT NULL,
    policy_mode     TEXT NOT NULL DEFAULT 'all',
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);

CREATE TABLE stages (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL UNIQUE,
    kind            TEXT NOT NULL,
    config          TEXT NOT NULL DEFAULT '{}',
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);

CREATE TABLE flow_bindings (
    id               TEXT PRIMARY KEY,
    flow_id          TEXT NOT NULL REFERENCES flows (id) ON DELETE CASCADE,
    stage_id         TEXT NOT NULL REFERENCES stages (id) ON DELETE CASCADE,
    position         INTEGER NOT NULL,
    evaluate_on_plan INTEGER NOT NULL DEFAULT 1,
    re_evaluate      INTEGER NOT NULL DEFAULT 0,
    invalid_response TEXT NOT NULL DEFAULT 'retry',
    policy_mode      TEXT NOT NULL DEFAULT 'all',
    UNIQUE (flow_id, position)
);
CREATE INDEX flow_bindings_flow ON flow_bindings (flow_id);

CREATE TABLE policies (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL UNIQUE,
    kind            TEXT NOT NULL,
    config          TEXT NOT NULL DEFAULT '{}',
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);

-- target_kind is 'flow' or 'binding' (a flow binding); applications come
-- with the providers.
CREATE TABLE policy_bindings (
    id              TEXT PRIMARY KEY,
    policy_id       TEXT NOT NULL REFERENCES policies (id) ON DELETE CASCADE,
    target_kind     TEXT NOT NULL,
    target_id       TEXT NOT NULL,
    position        INTEGER NOT NULL,
    negate          INTEGER NOT NULL DEFAULT 0,
    timeout_ms      INTEGER NOT NULL DEFAULT 30000,
    failure_result  INTEGER NOT NULL DEFAULT 0,
    enabled         INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX policy_bindings_target ON policy_bindings (target_kind, target_id);

-- One flow run in one browser. `state` is the plan and context as JSON;
-- `version` rises with each accepted answer, so a replayed or parallel
-- answer is detected.
CREATE TABLE flow_executions (
    id              TEXT PRIMARY KEY,
    browser_hash    TEXT NOT NULL,
    flow_slug       TEXT NOT NULL,
    state           TEXT NOT NULL,
    version         INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL
);
CREATE INDEX flow_executions_browser ON flow_executions (browser_hash, flow_slug);

-- One-time links that resume a flow execution (email verification,
-- recovery).
CREATE TABLE flow_tokens (
    id              TEXT PRIMARY KEY,
    secret_hash     TEXT NOT NULL UNIQUE,
    execution_id    TEXT NOT NULL REFERENCES flow_executions (id) ON DELETE CASCADE,
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL
);

CREATE TABLE sessions (
    id              TEXT PRIMARY KEY,
    secret_hash     TEXT NOT NULL UNIQUE,
    user_id         TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    last_seen_at    INTEGER NOT NULL,
    client_ip       TEXT,
    user_agent      TEXT
);
CREATE INDEX sessions_user ON sessions (user_id);

-- Failed sign-in scores per user and per client address, for the
-- reputation policy and the password stage's rate limit.
CREATE TABLE reputation (
    key_kind        TEXT NOT NULL,
    key_value       TEXT NOT NULL,
    score           INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    PRIMARY KEY (key_kind, key_value)
);

-- Consent a user gave an application (the consent stage).
CREATE TABLE consents (
    user_id         TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    application     TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER,
    PRIMARY KEY (user_id, application)
);
