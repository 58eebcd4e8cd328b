-- Named positions of an incident (情報班長…), defined by its managers and held by one person at a
-- time whatever their organisation: taken when vacant, moved by a completed handoff.
CREATE TABLE positions (
    id          TEXT PRIMARY KEY,
    incident_id TEXT NOT NULL REFERENCES incidents(room_id),
    name        TEXT NOT NULL,
    created_by  TEXT NOT NULL REFERENCES users(id),
    created_at  BIGINT NOT NULL,
    holder_id   TEXT REFERENCES users(id),
    since       BIGINT
);
CREATE UNIQUE INDEX positions_name ON positions(incident_id, name);

-- A handoff of a position rather than of the organisation's duty.
ALTER TABLE handoffs ADD COLUMN position_id TEXT REFERENCES positions(id);
-- One waiting handoff per incident, organisation and position (or none).
DROP INDEX handoffs_one_waiting;
CREATE UNIQUE INDEX handoffs_one_waiting_for ON handoffs(incident_id, org_id, COALESCE(position_id, ''))
    WHERE acknowledged_at IS NULL;
