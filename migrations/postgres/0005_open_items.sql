-- Open items of an incident: tasks and things to watch, assigned to a person or an
-- organisation, carried from shift to shift until done or dropped (with a reason).
CREATE TABLE open_items (
    id            TEXT PRIMARY KEY,
    incident_id   TEXT NOT NULL REFERENCES incidents(room_id),
    title         TEXT NOT NULL,
    details       TEXT NOT NULL DEFAULT '',
    assignee_kind TEXT CHECK (assignee_kind IN ('org', 'user')),
    assignee_id   TEXT,
    due_at        BIGINT,
    status        TEXT NOT NULL CHECK (status IN ('open', 'done', 'dropped')),
    reason        TEXT NOT NULL DEFAULT '',
    message_id    TEXT REFERENCES messages(id),
    created_by    TEXT NOT NULL REFERENCES users(id),
    created_at    BIGINT NOT NULL,
    updated_by    TEXT NOT NULL REFERENCES users(id),
    updated_at    BIGINT NOT NULL
);
CREATE INDEX open_items_incident ON open_items(incident_id, status);
