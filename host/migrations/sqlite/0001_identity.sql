-- Identity core: users, groups, memberships, credentials, API tokens, audit
-- events and one-time setup links. Times are Unix milliseconds (UTC); flags
-- are 0/1 integers so that SQLite and PostgreSQL read the same way.

CREATE TABLE users (
    id              TEXT PRIMARY KEY,
    username        TEXT NOT NULL,
    username_key    TEXT NOT NULL UNIQUE,
    email           TEXT,
    email_key       TEXT UNIQUE,
    email_verified  INTEGER NOT NULL DEFAULT 0,
    display_name    TEXT NOT NULL DEFAULT '',
    user_type       TEXT NOT NULL,
    active          INTEGER NOT NULL DEFAULT 1,
    attributes      TEXT NOT NULL DEFAULT '{}',
    password_hash   TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    last_login_at   INTEGER
);

CREATE TABLE user_groups (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    name_key    TEXT NOT NULL UNIQUE,
    parent_id   TEXT REFERENCES user_groups (id) ON DELETE SET NULL,
    attributes  TEXT NOT NULL DEFAULT '{}',
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX groups_parent ON user_groups (parent_id);

CREATE TABLE group_members (
    group_id    TEXT NOT NULL REFERENCES user_groups (id) ON DELETE CASCADE,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_user ON group_members (user_id);

CREATE TABLE api_tokens (
    id            TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    scope         TEXT NOT NULL,
    secret_hash   TEXT NOT NULL UNIQUE,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER,
    revoked_at    INTEGER,
    last_used_at  INTEGER
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

CREATE TABLE events (
    id           TEXT PRIMARY KEY,
    created_at   INTEGER NOT NULL,
    actor        TEXT NOT NULL,
    action       TEXT NOT NULL,
    target_kind  TEXT,
    target_id    TEXT,
    outcome      TEXT NOT NULL,
    client_ip    TEXT,
    detail       TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX events_action ON events (action);
CREATE INDEX events_target ON events (target_id);

CREATE TABLE setup_links (
    id           TEXT PRIMARY KEY,
    secret_hash  TEXT NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
);
