-- Who is on duty in an incident for each organisation, and since when. Whoever opens the
-- incident, or first takes duty for their organisation, holds it; a completed handoff moves it.
CREATE TABLE duty (
    incident_id TEXT NOT NULL REFERENCES incidents(room_id),
    org_id      TEXT NOT NULL REFERENCES orgs(id),
    user_id     TEXT NOT NULL REFERENCES users(id),
    since       BIGINT NOT NULL,
    PRIMARY KEY (incident_id, org_id)
);
