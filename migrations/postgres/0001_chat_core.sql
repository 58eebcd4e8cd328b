-- Chat core (PostgreSQL; the same tables as migrations/sqlite): organisations, accounts, sessions, rooms, messages, the timeline, inbox, audit.
-- Times are UTC milliseconds since the Unix epoch (BIGINT); ids are UUIDv7 text.

CREATE TABLE orgs (
    id            TEXT PRIMARY KEY,
    slug          TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    kind          TEXT NOT NULL,
    lg_code       TEXT UNIQUE,
    is_deployment BIGINT NOT NULL DEFAULT 0,
    inbox_room_id TEXT,
    created_at    BIGINT NOT NULL
);

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    org_id        TEXT NOT NULL REFERENCES orgs(id),
    login         TEXT NOT NULL UNIQUE,
    display_name  TEXT NOT NULL,
    email         TEXT,
    password_hash TEXT,
    role          TEXT NOT NULL,
    lang          TEXT,
    active        BIGINT NOT NULL DEFAULT 1,
    created_at    BIGINT NOT NULL
);
CREATE INDEX users_org ON users(org_id);

-- One-time links: account activation, password reset, first-run setup (user_id NULL).
CREATE TABLE link_tokens (
    token_hash TEXT PRIMARY KEY,
    user_id    TEXT REFERENCES users(id),
    purpose    TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT,
    created_at BIGINT NOT NULL
);

CREATE TABLE sessions (
    id_hash      TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users(id),
    csrf         TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    user_agent   TEXT NOT NULL DEFAULT '',
    address      TEXT NOT NULL DEFAULT '',
    ended_at     BIGINT
);
CREATE INDEX sessions_user ON sessions(user_id);

CREATE TABLE login_failures (
    scope TEXT NOT NULL,
    at    BIGINT NOT NULL
);
CREATE INDEX login_failures_scope ON login_failures(scope, at);

CREATE TABLE rooms (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    name        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    org_id      TEXT REFERENCES orgs(id),
    dm_key      TEXT UNIQUE,
    archived_at BIGINT,
    created_by  TEXT,
    created_at  BIGINT NOT NULL,
    -- Creation time; the room list takes the newest message's time when there is one.
    last_activity_at BIGINT NOT NULL
);

-- Organisations added to a room: their present and future members belong to it.
CREATE TABLE room_orgs (
    room_id TEXT NOT NULL REFERENCES rooms(id),
    org_id  TEXT NOT NULL REFERENCES orgs(id),
    PRIMARY KEY (room_id, org_id)
);
CREATE INDEX room_orgs_org ON room_orgs(org_id);

CREATE TABLE room_members (
    room_id       TEXT NOT NULL REFERENCES rooms(id),
    user_id       TEXT NOT NULL REFERENCES users(id),
    role          TEXT NOT NULL,
    via_org       BIGINT NOT NULL DEFAULT 0,
    last_read_pos BIGINT NOT NULL DEFAULT 0,
    joined_at     BIGINT NOT NULL,
    PRIMARY KEY (room_id, user_id)
);
CREATE INDEX room_members_user ON room_members(user_id);

CREATE TABLE messages (
    id          TEXT PRIMARY KEY,
    room_id     TEXT NOT NULL REFERENCES rooms(id),
    author_id   TEXT NOT NULL REFERENCES users(id),
    body        TEXT NOT NULL,
    search_text TEXT NOT NULL,
    reply_to    TEXT REFERENCES messages(id),
    created_at  BIGINT NOT NULL,
    edited_at   BIGINT,
    deleted_at  BIGINT,
    pos         BIGINT NOT NULL
);
CREATE INDEX messages_room_pos ON messages(room_id, pos);

-- The timeline: every change a user should see, at one deployment-wide position.
CREATE TABLE entries (
    pos        BIGSERIAL PRIMARY KEY,
    kind       TEXT NOT NULL,
    room_id    TEXT,
    message_id TEXT,
    user_id    TEXT,
    at         BIGINT NOT NULL
);
CREATE INDEX entries_room ON entries(room_id, pos);
CREATE INDEX entries_user ON entries(user_id, pos);

CREATE TABLE inbox (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users(id),
    kind       TEXT NOT NULL,
    room_id    TEXT,
    message_id TEXT,
    actor_id   TEXT,
    created_at BIGINT NOT NULL,
    read_at    BIGINT,
    -- When the e-mail copy was handed to the SMTP relay (NULL: not yet, or no e-mail).
    mailed_at  BIGINT
);
CREATE INDEX inbox_user ON inbox(user_id, created_at);
CREATE INDEX inbox_unmailed ON inbox(created_at) WHERE mailed_at IS NULL;

-- Idempotency keys: the first result of a write, kept at least 7 days.
CREATE TABLE idempotency (
    user_id    TEXT NOT NULL,
    key        TEXT NOT NULL,
    result     TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, key)
);

CREATE TABLE audit (
    id        TEXT PRIMARY KEY,
    at        BIGINT NOT NULL,
    user_id   TEXT,
    org_id    TEXT,
    action    TEXT NOT NULL,
    object    TEXT NOT NULL DEFAULT '',
    address   TEXT NOT NULL DEFAULT '',
    result    TEXT NOT NULL,
    detail    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_at ON audit(at);

-- Search: a trigram index serves LIKE '%…%' for words of three or more characters; shorter
-- words (避難, 開設) fall back to a scan of the user's rooms, as on SQLite.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX messages_search_trgm ON messages USING gin (search_text gin_trgm_ops);

-- Personal API tokens: shown once, stored as SHA-256, revocable.
CREATE TABLE api_tokens (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users(id),
    name         TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at   BIGINT
);
CREATE INDEX api_tokens_user ON api_tokens(user_id);
