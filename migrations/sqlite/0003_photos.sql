-- Field photos of incidents. The files (original, display image, thumbnail) live in the file
-- store under their SHA-256; this table is what is known about each upload.
CREATE TABLE photos (
    id              TEXT PRIMARY KEY,
    incident_id     TEXT NOT NULL REFERENCES incidents(room_id),
    uploader_id     TEXT NOT NULL REFERENCES users(id),
    shelter_id      TEXT REFERENCES shelters(id),
    caption         TEXT NOT NULL DEFAULT '',
    sha256          TEXT NOT NULL,
    mime            TEXT NOT NULL,
    bytes           BIGINT NOT NULL,
    width           BIGINT NOT NULL,
    height          BIGINT NOT NULL,
    display_width   BIGINT NOT NULL,
    display_height  BIGINT NOT NULL,
    thumb_width     BIGINT NOT NULL,
    thumb_height    BIGINT NOT NULL,
    -- Capture time as the camera wrote it, and in UTC when it wrote its offset too.
    taken_local     TEXT,
    taken_at        BIGINT,
    taken_offset    TEXT,
    lat_e7          BIGINT,
    lon_e7          BIGINT,
    -- 'exif', 'device' (the browser's position, with the user's consent) or 'none'.
    location_source TEXT NOT NULL,
    camera          TEXT,
    -- When the device queued it (the outbox), if it said.
    queued_at       BIGINT,
    uploaded_at     BIGINT NOT NULL,
    pos             BIGINT NOT NULL,
    withdrawn_at    BIGINT,
    withdrawn_by    TEXT,
    withdraw_reason TEXT,
    -- The deployment admin removed the files for good.
    purged_at       BIGINT
);
CREATE UNIQUE INDEX photos_incident_sha ON photos(incident_id, sha256);
CREATE INDEX photos_incident ON photos(incident_id, pos);
