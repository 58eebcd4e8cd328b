-- 要確認: a message that asks organisations (anyone of them may confirm for it) or people to
-- confirm they have taken it in. Copies of one broadcast share broadcast_id.
CREATE TABLE confirm_requests (
    message_id   TEXT PRIMARY KEY REFERENCES messages(id),
    room_id      TEXT NOT NULL REFERENCES rooms(id),
    requester_id TEXT NOT NULL REFERENCES users(id),
    broadcast_id TEXT,
    due_at       BIGINT,
    created_at   BIGINT NOT NULL
);
CREATE INDEX confirm_requests_broadcast ON confirm_requests(broadcast_id);

-- Each addressee of a request, and its confirmation once given (the first one stays).
CREATE TABLE confirm_targets (
    message_id   TEXT NOT NULL REFERENCES confirm_requests(message_id),
    target_kind  TEXT NOT NULL CHECK (target_kind IN ('org', 'user')),
    target_id    TEXT NOT NULL,
    confirmed_by TEXT REFERENCES users(id),
    confirmed_at BIGINT,
    reply_id     TEXT REFERENCES messages(id),
    PRIMARY KEY (message_id, target_kind, target_id)
);
