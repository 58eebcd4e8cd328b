-- Incidents, the shelter registry and as-of shelter reports.
-- Coordinates are stored as integers: degrees × 10^7 (about 1 cm), exact on both backends.

-- An incident is a room (kind 'incident') with these facts attached.
CREATE TABLE incidents (
    room_id    TEXT PRIMARY KEY REFERENCES rooms(id),
    name       TEXT NOT NULL,
    kind       TEXT NOT NULL,
    level      BIGINT NOT NULL,
    -- When the incident began; observations before it are refused.
    opened_at  BIGINT NOT NULL,
    opened_by  TEXT NOT NULL REFERENCES users(id),
    created_at BIGINT NOT NULL,
    closed_at  BIGINT,
    closed_by  TEXT
);

-- A shelter of an organisation's registry; ad hoc shelters name the incident they were added in.
CREATE TABLE shelters (
    id            TEXT PRIMARY KEY,
    org_id        TEXT NOT NULL REFERENCES orgs(id),
    incident_id   TEXT REFERENCES incidents(room_id),
    name          TEXT NOT NULL,
    kana          TEXT NOT NULL DEFAULT '',
    address       TEXT NOT NULL DEFAULT '',
    lat_e7        BIGINT,
    lon_e7        BIGINT,
    designation   TEXT NOT NULL,
    hazards       BIGINT NOT NULL DEFAULT 0,
    capacity      BIGINT,
    capacity_text TEXT NOT NULL DEFAULT '',
    local_id      TEXT,
    common_id     TEXT,
    phone         TEXT NOT NULL DEFAULT '',
    note          TEXT NOT NULL DEFAULT '',
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
CREATE INDEX shelters_org ON shelters(org_id, name);
CREATE INDEX shelters_incident ON shelters(incident_id);

-- Every key a shelter is known by in its organisation (共通ID, ID, name + address), so a
-- re-import, the other GSI list or a status snapshot finds the same place.
CREATE TABLE shelter_keys (
    org_id     TEXT NOT NULL REFERENCES orgs(id),
    key        TEXT NOT NULL,
    shelter_id TEXT NOT NULL REFERENCES shelters(id),
    PRIMARY KEY (org_id, key)
);

-- As-of reports: never updated, never deleted.
CREATE TABLE shelter_reports (
    id          TEXT PRIMARY KEY,
    incident_id TEXT NOT NULL REFERENCES incidents(room_id),
    shelter_id  TEXT NOT NULL REFERENCES shelters(id),
    status      TEXT NOT NULL,
    evacuees    BIGINT,
    households  BIGINT,
    needs       TEXT NOT NULL DEFAULT '',
    note        TEXT NOT NULL DEFAULT '',
    observed_at BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    reporter_id TEXT NOT NULL REFERENCES users(id),
    -- 'form' (a person) or 'snapshot' (an imported status file).
    source      TEXT NOT NULL,
    pos         BIGINT NOT NULL
);
CREATE INDEX shelter_reports_incident ON shelter_reports(incident_id, pos);
CREATE INDEX shelter_reports_shelter ON shelter_reports(incident_id, shelter_id, observed_at);

-- The newest observation of each shelter in each incident (by observation time, not arrival),
-- with the report's facts copied, so the board reads one row per shelter and never the reports.
CREATE TABLE shelter_latest (
    incident_id TEXT NOT NULL REFERENCES incidents(room_id),
    shelter_id  TEXT NOT NULL REFERENCES shelters(id),
    report_id   TEXT NOT NULL REFERENCES shelter_reports(id),
    observed_at BIGINT NOT NULL,
    status      TEXT NOT NULL,
    evacuees    BIGINT,
    households  BIGINT,
    needs       TEXT NOT NULL,
    note        TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    reporter_id TEXT NOT NULL,
    source      TEXT NOT NULL,
    pos         BIGINT NOT NULL,
    PRIMARY KEY (incident_id, shelter_id)
);

-- Structured timeline entries point at their record (a shelter report…).
ALTER TABLE entries ADD COLUMN ref_id TEXT;
