-- Shift handoffs: the outgoing person hands an incident's duty for their organisation to the
-- incoming one, who acknowledges each carried item and the handoff as a whole; only then does
-- duty move. `facts` is the drafted snapshot (shelters, unconfirmed requests, photos, closed
-- items) as JSON, kept as it was handed over.
CREATE TABLE handoffs (
    id              TEXT PRIMARY KEY,
    incident_id     TEXT NOT NULL REFERENCES incidents(room_id),
    org_id          TEXT NOT NULL REFERENCES orgs(id),
    from_user       TEXT NOT NULL REFERENCES users(id),
    to_user         TEXT NOT NULL REFERENCES users(id),
    summary         TEXT NOT NULL,
    risks           TEXT NOT NULL DEFAULT '',
    notes           TEXT NOT NULL DEFAULT '',
    facts           TEXT NOT NULL,
    -- The shift it covers began here (the previous handoff's acknowledgement, or the opening).
    period_from     BIGINT NOT NULL,
    items_carried   BIGINT NOT NULL,
    items_added     BIGINT NOT NULL,
    items_closed    BIGINT NOT NULL,
    -- Bumped by every edit and answer: acknowledging a version the incoming person did not
    -- see is refused.
    version         BIGINT NOT NULL DEFAULT 1,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    acknowledged_at BIGINT,
    -- Set once by the instance that notified the incident's managers.
    escalated_at    BIGINT
);
CREATE INDEX handoffs_incident ON handoffs(incident_id, created_at);
CREATE INDEX handoffs_to ON handoffs(to_user, acknowledged_at);
-- At most one handoff waits per incident and organisation.
CREATE UNIQUE INDEX handoffs_one_waiting ON handoffs(incident_id, org_id) WHERE acknowledged_at IS NULL;

-- The open items a handoff carries, as they were handed over, each acknowledged (or asked
-- about and answered) on its own.
CREATE TABLE handoff_items (
    handoff_id      TEXT NOT NULL REFERENCES handoffs(id),
    item_id         TEXT NOT NULL REFERENCES open_items(id),
    title           TEXT NOT NULL,
    -- 'new' (added this shift), 'changed' or 'carried' (unchanged).
    change          TEXT NOT NULL CHECK (change IN ('new', 'changed', 'carried')),
    acknowledged_at BIGINT,
    question        TEXT,
    asked_at        BIGINT,
    answer          TEXT,
    answered_at     BIGINT,
    PRIMARY KEY (handoff_id, item_id)
);
CREATE INDEX handoff_items_item ON handoff_items(item_id);

-- What happened to items and handoffs, for the room's timeline and each item's history.
CREATE TABLE incident_events (
    pos         BIGINT PRIMARY KEY,
    incident_id TEXT NOT NULL REFERENCES incidents(room_id),
    kind        TEXT NOT NULL,
    ref_id      TEXT NOT NULL,
    title       TEXT NOT NULL,
    detail      TEXT NOT NULL DEFAULT '',
    user_id     TEXT REFERENCES users(id),
    at          BIGINT NOT NULL
);
CREATE INDEX incident_events_incident ON incident_events(incident_id, pos);
CREATE INDEX incident_events_ref ON incident_events(ref_id, pos);

-- An inbox notification about a record other than a message (a handoff).
ALTER TABLE inbox ADD COLUMN ref_id TEXT;
