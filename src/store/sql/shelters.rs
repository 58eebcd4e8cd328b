//! SQL for incidents, the shelter registry and shelter reports.

use super::*;
use crate::import::shelters::{Action, Target, plan};
use crate::import::{ShelterRow, SnapshotRow};
use std::collections::HashMap;

const INCIDENT_COLS: &str = "i.room_id AS i_room, i.name AS i_name, i.kind AS i_kind, i.level AS i_level, \
    i.opened_at AS i_opened, i.opened_by AS i_by, iu.display_name AS i_by_name, i.closed_at AS i_closed";

fn incident_row(row: &AnyRow) -> StoreResult<Incident> {
    Ok(Incident {
        room_id: id(row, "i_room")?,
        name: row.try_get("i_name")?,
        kind: IncidentKind::parse(&row.try_get::<String, _>("i_kind")?).map_err(corrupt)?,
        level: row.try_get("i_level")?,
        opened_at: row.try_get("i_opened")?,
        opened_by: id(row, "i_by")?,
        opened_by_name: row
            .try_get::<Option<String>, _>("i_by_name")?
            .unwrap_or_default(),
        closed_at: row.try_get("i_closed")?,
    })
}

const SHELTER_COLS: &str = "s.id AS s_id, s.org_id AS s_org, so.name AS s_org_name, s.incident_id AS s_incident, \
    s.name AS s_name, s.kana AS s_kana, s.address AS s_address, s.lat_e7 AS s_lat, s.lon_e7 AS s_lon, \
    s.designation AS s_designation, s.hazards AS s_hazards, s.capacity AS s_capacity, \
    s.capacity_text AS s_capacity_text, s.local_id AS s_local_id, s.common_id AS s_common_id, \
    s.phone AS s_phone, s.note AS s_note, s.updated_at AS s_updated";

const E7: f64 = 10_000_000.0;

fn e7(v: f64) -> i64 {
    (v * E7).round() as i64
}

fn shelter_row(row: &AnyRow) -> StoreResult<Shelter> {
    let lat: Option<i64> = row.try_get("s_lat")?;
    let lon: Option<i64> = row.try_get("s_lon")?;
    let position = match (lat, lon) {
        (Some(a), Some(b)) => LatLon::new(a as f64 / E7, b as f64 / E7).ok(),
        _ => None,
    };
    Ok(Shelter {
        id: id(row, "s_id")?,
        org_id: id(row, "s_org")?,
        org_name: row.try_get("s_org_name")?,
        incident_id: opt_id(row, "s_incident")?,
        name: row.try_get("s_name")?,
        kana: row.try_get("s_kana")?,
        address: row.try_get("s_address")?,
        position,
        designation: Designation::parse(&row.try_get::<String, _>("s_designation")?)
            .map_err(corrupt)?,
        hazards: Hazards::from_bits(row.try_get("s_hazards")?),
        capacity: row.try_get("s_capacity")?,
        capacity_text: row.try_get("s_capacity_text")?,
        local_id: row.try_get("s_local_id")?,
        common_id: row.try_get("s_common_id")?,
        phone: row.try_get("s_phone")?,
        note: row.try_get("s_note")?,
        updated_at: row.try_get("s_updated")?,
    })
}

const REPORT_COLS: &str = "r.id AS r_id, r.incident_id AS r_incident, r.shelter_id AS r_shelter, \
    rs.name AS r_shelter_name, r.status AS r_status, r.evacuees AS r_evacuees, r.households AS r_households, \
    r.needs AS r_needs, r.note AS r_note, r.observed_at AS r_observed, r.received_at AS r_received, \
    r.reporter_id AS r_reporter, ru.display_name AS r_reporter_name, ro.name AS r_reporter_org, \
    r.source AS r_source, r.pos AS r_pos";
const REPORT_JOINS: &str = "LEFT JOIN shelters rs ON rs.id = r.shelter_id \
    LEFT JOIN users ru ON ru.id = r.reporter_id LEFT JOIN orgs ro ON ro.id = ru.org_id";

fn report_row(row: &AnyRow) -> StoreResult<Option<ShelterReport>> {
    let Some(rid) = opt_id::<ReportId>(row, "r_id")? else {
        return Ok(None);
    };
    Ok(Some(ShelterReport {
        id: rid,
        incident_id: id(row, "r_incident")?,
        shelter_id: id(row, "r_shelter")?,
        shelter_name: row
            .try_get::<Option<String>, _>("r_shelter_name")?
            .unwrap_or_default(),
        status: ShelterStatus::parse(&row.try_get::<String, _>("r_status")?).map_err(corrupt)?,
        evacuees: row.try_get("r_evacuees")?,
        households: row.try_get("r_households")?,
        needs: row.try_get("r_needs")?,
        note: row.try_get("r_note")?,
        observed_at: row.try_get("r_observed")?,
        received_at: row.try_get("r_received")?,
        reporter_id: id(row, "r_reporter")?,
        reporter_name: row
            .try_get::<Option<String>, _>("r_reporter_name")?
            .unwrap_or_default(),
        reporter_org: row
            .try_get::<Option<String>, _>("r_reporter_org")?
            .unwrap_or_default(),
        source: row.try_get("r_source")?,
        pos: row.try_get("r_pos")?,
    }))
}

/// The board's columns: JSON member name and expression (the names of [`BoardJson`]).
const BOARD_COLS: [(&str, &str); 31] = [
    ("id", "s.id"),
    ("org_id", "s.org_id"),
    ("org_name", "so.name"),
    ("incident_id", "s.incident_id"),
    ("name", "s.name"),
    ("kana", "s.kana"),
    ("address", "s.address"),
    ("lat", "s.lat_e7"),
    ("lon", "s.lon_e7"),
    ("designation", "s.designation"),
    ("hazards", "s.hazards"),
    ("capacity", "s.capacity"),
    ("capacity_text", "s.capacity_text"),
    ("local_id", "s.local_id"),
    ("common_id", "s.common_id"),
    ("phone", "s.phone"),
    ("note", "s.note"),
    ("updated_at", "s.updated_at"),
    ("r_id", "l.report_id"),
    ("r_status", "l.status"),
    ("r_evacuees", "l.evacuees"),
    ("r_households", "l.households"),
    ("r_needs", "l.needs"),
    ("r_note", "l.note"),
    ("r_observed", "l.observed_at"),
    ("r_received", "l.received_at"),
    ("r_reporter", "l.reporter_id"),
    ("r_reporter_name", "ru.display_name"),
    ("r_reporter_org", "ro.name"),
    ("r_source", "l.source"),
    ("r_pos", "l.pos"),
];

/// Which shelters a board query reads.
enum BoardPart {
    /// The whole board (binds: the incident four times).
    All,
    /// Shelters reported after a position (binds: incident, position, incident).
    ReportedAfter,
}

/// The board query: its rows as one JSON array (in no particular order; sorted in Rust).
fn board_sql(backend: Backend, part: BoardPart) -> String {
    let cols: Vec<String> = BOARD_COLS
        .iter()
        .map(|(name, expr)| format!("{expr} AS {name}"))
        .collect();
    let (ids, incident) = match part {
        BoardPart::All => (
            "SELECT s.id FROM room_orgs ro JOIN shelters s ON s.org_id = ro.org_id \
               WHERE ro.room_id = $1 AND s.incident_id IS NULL \
             UNION SELECT id FROM shelters WHERE incident_id = $2 \
             UNION SELECT shelter_id FROM shelter_latest WHERE incident_id = $3",
            "$4",
        ),
        BoardPart::ReportedAfter => (
            "SELECT shelter_id AS id FROM shelter_latest WHERE incident_id = $1 AND pos > $2",
            "$3",
        ),
    };
    let inner = format!(
        "WITH ids AS ({ids}) \
         SELECT {} FROM ids JOIN shelters s ON s.id = ids.id \
         JOIN orgs so ON so.id = s.org_id \
         LEFT JOIN shelter_latest l ON l.incident_id = {incident} AND l.shelter_id = s.id \
         LEFT JOIN users ru ON ru.id = l.reporter_id LEFT JOIN orgs ro ON ro.id = ru.org_id",
        cols.join(", ")
    );
    match backend {
        // A whole row to JSON at once is much cheaper on PostgreSQL than building objects.
        Backend::Postgres => format!("SELECT COALESCE(json_agg(t)::text, '[]') FROM ({inner}) t"),
        Backend::Sqlite => {
            let members: Vec<String> = BOARD_COLS
                .iter()
                .map(|(name, _)| format!("'{name}', t.{name}"))
                .collect();
            format!(
                "SELECT COALESCE(json_group_array(json_object({})), '[]') FROM ({inner}) t",
                members.join(", ")
            )
        }
    }
}

/// One board row as the database writes it in JSON.
#[derive(serde::Deserialize)]
struct BoardJson {
    id: String,
    org_id: String,
    org_name: String,
    incident_id: Option<String>,
    name: String,
    kana: String,
    address: String,
    lat: Option<i64>,
    lon: Option<i64>,
    designation: String,
    hazards: i64,
    capacity: Option<i64>,
    capacity_text: String,
    local_id: Option<String>,
    common_id: Option<String>,
    phone: String,
    note: String,
    updated_at: i64,
    r_id: Option<String>,
    r_status: Option<String>,
    r_evacuees: Option<i64>,
    r_households: Option<i64>,
    r_needs: Option<String>,
    r_note: Option<String>,
    r_observed: Option<i64>,
    r_received: Option<i64>,
    r_reporter: Option<String>,
    r_reporter_name: Option<String>,
    r_reporter_org: Option<String>,
    r_source: Option<String>,
    r_pos: Option<i64>,
}

/// Board rows from the JSON array the board query returns.
fn board_rows(json: &str, incident: RoomId) -> StoreResult<Vec<BoardRow>> {
    let rows: Vec<BoardJson> =
        serde_json::from_str(json).map_err(|e| StoreError::Corrupt(format!("board rows: {e}")))?;
    rows.into_iter().map(|r| r.into_row(incident)).collect()
}

fn parse_id<T: FromStr>(s: &str) -> StoreResult<T> {
    s.parse()
        .map_err(|_| StoreError::Corrupt(format!("bad id {s}")))
}

impl BoardJson {
    fn into_row(self, incident: RoomId) -> StoreResult<BoardRow> {
        let position = match (self.lat, self.lon) {
            (Some(a), Some(b)) => LatLon::new(a as f64 / E7, b as f64 / E7).ok(),
            _ => None,
        };
        let shelter = Shelter {
            id: parse_id(&self.id)?,
            org_id: parse_id(&self.org_id)?,
            org_name: self.org_name,
            incident_id: self.incident_id.as_deref().map(parse_id).transpose()?,
            name: self.name,
            kana: self.kana,
            address: self.address,
            position,
            designation: Designation::parse(&self.designation).map_err(corrupt)?,
            hazards: Hazards::from_bits(self.hazards),
            capacity: self.capacity,
            capacity_text: self.capacity_text,
            local_id: self.local_id,
            common_id: self.common_id,
            phone: self.phone,
            note: self.note,
            updated_at: self.updated_at,
        };
        let latest = match (self.r_id, self.r_status, self.r_reporter) {
            (Some(rid), Some(status), Some(reporter)) => Some(ShelterReport {
                id: parse_id(&rid)?,
                incident_id: incident,
                shelter_id: shelter.id,
                shelter_name: shelter.name.clone(),
                status: ShelterStatus::parse(&status).map_err(corrupt)?,
                evacuees: self.r_evacuees,
                households: self.r_households,
                needs: self.r_needs.unwrap_or_default(),
                note: self.r_note.unwrap_or_default(),
                observed_at: self.r_observed.unwrap_or_default(),
                received_at: self.r_received.unwrap_or_default(),
                reporter_id: parse_id(&reporter)?,
                reporter_name: self.r_reporter_name.unwrap_or_default(),
                reporter_org: self.r_reporter_org.unwrap_or_default(),
                source: self.r_source.unwrap_or_default(),
                pos: self.r_pos.unwrap_or_default(),
            }),
            _ => None,
        };
        Ok(BoardRow { shelter, latest })
    }
}

const PHOTO_COLS: &str = "p.id AS p_id, p.incident_id AS p_incident, p.uploader_id AS p_uploader, \
    pu.display_name AS p_uploader_name, pu.org_id AS p_uploader_org_id, po.name AS p_uploader_org, \
    p.shelter_id AS p_shelter, \
    ps.name AS p_shelter_name, p.caption AS p_caption, p.sha256 AS p_sha, p.mime AS p_mime, p.bytes AS p_bytes, \
    p.width AS p_w, p.height AS p_h, p.display_width AS p_dw, p.display_height AS p_dh, \
    p.thumb_width AS p_tw, p.thumb_height AS p_th, p.taken_local AS p_taken_local, p.taken_at AS p_taken_at, \
    p.taken_offset AS p_taken_offset, p.lat_e7 AS p_lat, p.lon_e7 AS p_lon, p.location_source AS p_loc, \
    p.camera AS p_camera, p.queued_at AS p_queued, p.uploaded_at AS p_uploaded, p.pos AS p_pos, \
    p.withdrawn_at AS p_withdrawn, p.withdraw_reason AS p_withdraw_reason, p.purged_at AS p_purged";
const PHOTO_JOINS: &str = "LEFT JOIN users pu ON pu.id = p.uploader_id LEFT JOIN orgs po ON po.id = pu.org_id \
    LEFT JOIN shelters ps ON ps.id = p.shelter_id";

fn photo_row(row: &AnyRow) -> StoreResult<Photo> {
    let lat: Option<i64> = row.try_get("p_lat")?;
    let lon: Option<i64> = row.try_get("p_lon")?;
    Ok(Photo {
        id: id(row, "p_id")?,
        incident_id: id(row, "p_incident")?,
        uploader_id: id(row, "p_uploader")?,
        uploader_name: row
            .try_get::<Option<String>, _>("p_uploader_name")?
            .unwrap_or_default(),
        uploader_org_id: opt_id(row, "p_uploader_org_id")?,
        uploader_org: row
            .try_get::<Option<String>, _>("p_uploader_org")?
            .unwrap_or_default(),
        shelter_id: opt_id(row, "p_shelter")?,
        shelter_name: row.try_get("p_shelter_name")?,
        caption: row.try_get("p_caption")?,
        sha256: row.try_get("p_sha")?,
        mime: row.try_get("p_mime")?,
        bytes: row.try_get("p_bytes")?,
        width: row.try_get("p_w")?,
        height: row.try_get("p_h")?,
        display_width: row.try_get("p_dw")?,
        display_height: row.try_get("p_dh")?,
        thumb_width: row.try_get("p_tw")?,
        thumb_height: row.try_get("p_th")?,
        taken_local: row.try_get("p_taken_local")?,
        taken_at: row.try_get("p_taken_at")?,
        taken_offset: row.try_get("p_taken_offset")?,
        position: match (lat, lon) {
            (Some(a), Some(b)) => LatLon::new(a as f64 / E7, b as f64 / E7).ok(),
            _ => None,
        },
        location_source: row.try_get("p_loc")?,
        camera: row.try_get("p_camera")?,
        queued_at: row.try_get("p_queued")?,
        uploaded_at: row.try_get("p_uploaded")?,
        pos: row.try_get("p_pos")?,
        withdrawn: row.try_get::<Option<i64>, _>("p_withdrawn")?.is_some(),
        withdraw_reason: row.try_get("p_withdraw_reason")?,
        purged: row.try_get::<Option<i64>, _>("p_purged")?.is_some(),
    })
}

/// What a photo upload already has: the result stored under its key (a replay), or the photo
/// with the same bytes in the incident (`Existing`, not a replay).
async fn photo_known(
    conn: &mut sqlx::AnyConnection,
    idem: &Idem,
    incident: RoomId,
    sha256: Option<&str>,
) -> StoreResult<Option<Written<PhotoSaved>>> {
    if let Some(prev) = idem_lookup(&mut *conn, idem).await? {
        let saved = match prev.strip_prefix("photo-existing:") {
            Some(rest) => PhotoSaved::Existing(parse_id(rest)?),
            None => PhotoSaved::New(idem_result(&prev, "photo")?),
        };
        return Ok(Some(Written {
            value: saved,
            replayed: true,
        }));
    }
    let Some(sha256) = sha256 else {
        return Ok(None);
    };
    let existing: Option<String> =
        sqlx::query_scalar("SELECT id FROM photos WHERE incident_id = $1 AND sha256 = $2")
            .bind(incident.to_string())
            .bind(sha256)
            .fetch_optional(&mut *conn)
            .await?;
    existing
        .map(|e| {
            Ok(Written {
                value: PhotoSaved::Existing(parse_id(&e)?),
                replayed: false,
            })
        })
        .transpose()
}

/// Inserts a report, its timeline entry, and moves the shelter's newest observation when this
/// one is newer (a late-arriving older observation never hides a newer one).
async fn insert_report(
    tx: &mut Tx<'_>,
    r: &NewReport,
    source: &str,
    now: Millis,
) -> StoreResult<ReportId> {
    let rid = ReportId::new();
    let pos = insert_record_entry(
        tx,
        EntryKind::ShelterReport,
        r.incident,
        &rid.to_string(),
        now,
    )
    .await?;
    sqlx::query(
        "INSERT INTO shelter_reports (id, incident_id, shelter_id, status, evacuees, households, needs, note, \
         observed_at, received_at, reporter_id, source, pos) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(rid.to_string())
    .bind(r.incident.to_string())
    .bind(r.shelter.to_string())
    .bind(r.status.as_str())
    .bind(r.headcount.evacuees)
    .bind(r.headcount.households)
    .bind(&r.needs)
    .bind(&r.note)
    .bind(r.observed_at)
    .bind(now)
    .bind(r.reporter.to_string())
    .bind(source)
    .bind(pos)
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "INSERT INTO shelter_latest (incident_id, shelter_id, report_id, observed_at, status, evacuees, households, \
         needs, note, received_at, reporter_id, source, pos) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
         ON CONFLICT (incident_id, shelter_id) DO UPDATE SET report_id = excluded.report_id, \
         observed_at = excluded.observed_at, status = excluded.status, evacuees = excluded.evacuees, \
         households = excluded.households, needs = excluded.needs, note = excluded.note, \
         received_at = excluded.received_at, reporter_id = excluded.reporter_id, source = excluded.source, \
         pos = excluded.pos WHERE shelter_latest.observed_at <= excluded.observed_at",
    )
    .bind(r.incident.to_string())
    .bind(r.shelter.to_string())
    .bind(rid.to_string())
    .bind(r.observed_at)
    .bind(r.status.as_str())
    .bind(r.headcount.evacuees)
    .bind(r.headcount.households)
    .bind(&r.needs)
    .bind(&r.note)
    .bind(now)
    .bind(r.reporter.to_string())
    .bind(source)
    .bind(pos)
    .execute(&mut **tx)
    .await?;
    Ok(rid)
}

/// A shelter's registry fields, in the order [`bind_fields`] binds them as `$1`–`$13`.
const SHELTER_FIELDS: &str = "name, kana, address, lat_e7, lon_e7, designation, hazards, capacity, \
    capacity_text, local_id, common_id, phone, note";

/// Binds a shelter's registry fields (see [`SHELTER_FIELDS`]).
fn bind_fields<'q>(
    q: sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>>,
    row: &'q ShelterRow,
) -> sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>> {
    q.bind(&row.name)
        .bind(&row.kana)
        .bind(&row.address)
        .bind(row.position.map(|p| e7(p.lat)))
        .bind(row.position.map(|p| e7(p.lon)))
        .bind(row.designation.as_str())
        .bind(i64::from(row.hazards.bits()))
        .bind(row.capacity)
        .bind(&row.capacity_text)
        .bind(row.local_id.as_deref())
        .bind(row.common_id.as_deref())
        .bind(&row.phone)
        .bind(&row.note)
}

/// Inserts a new shelter with its keys.
async fn insert_shelter(
    tx: &mut Tx<'_>,
    org: OrgId,
    row: &ShelterRow,
    incident: Option<RoomId>,
    now: Millis,
) -> StoreResult<ShelterId> {
    let sid = ShelterId::new();
    let sql = format!(
        "INSERT INTO shelters ({SHELTER_FIELDS}, id, org_id, incident_id, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)"
    );
    bind_fields(sqlx::query(&sql), row)
        .bind(sid.to_string())
        .bind(org.to_string())
        .bind(incident.map(|i| i.to_string()))
        .bind(now)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(sid)
}

async fn update_shelter(
    tx: &mut Tx<'_>,
    sid: ShelterId,
    row: &ShelterRow,
    now: Millis,
) -> StoreResult<()> {
    let sql = format!(
        "UPDATE shelters SET ({SHELTER_FIELDS}, updated_at) = \
         ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) WHERE id = $15"
    );
    bind_fields(sqlx::query(&sql), row)
        .bind(now)
        .bind(sid.to_string())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Every key the organisation's shelters are known by.
async fn keys_of<'e, E>(ex: E, org: OrgId) -> StoreResult<HashMap<String, ShelterId>>
where
    E: Executor<'e, Database = Any>,
{
    let rows = sqlx::query("SELECT key, shelter_id FROM shelter_keys WHERE org_id = $1")
        .bind(org.to_string())
        .fetch_all(ex)
        .await?;
    let mut map = HashMap::with_capacity(rows.len());
    for r in &rows {
        map.insert(r.try_get::<String, _>("key")?, id(r, "shelter_id")?);
    }
    Ok(map)
}

/// The facts of every shelter of the organisation (ad hoc ones included: keys find them too).
async fn org_shelters<'e, E>(ex: E, org: OrgId) -> StoreResult<HashMap<ShelterId, ShelterRow>>
where
    E: Executor<'e, Database = Any>,
{
    let rows = sqlx::query(&format!(
        "SELECT {SHELTER_COLS} FROM shelters s JOIN orgs so ON so.id = s.org_id WHERE s.org_id = $1"
    ))
    .bind(org.to_string())
    .fetch_all(ex)
    .await?;
    let mut map = HashMap::with_capacity(rows.len());
    for r in &rows {
        let s = shelter_row(r)?;
        map.insert(s.id, s.as_row());
    }
    Ok(map)
}

/// Remembers `row_keys` for `sid` (keys already taken stay with their shelter).
async fn remember_keys(
    tx: &mut Tx<'_>,
    keys: &mut HashMap<String, ShelterId>,
    org: OrgId,
    row_keys: &[String],
    sid: ShelterId,
) -> StoreResult<()> {
    for k in row_keys {
        if keys.contains_key(k) {
            continue;
        }
        sqlx::query(
            "INSERT INTO shelter_keys (org_id, key, shelter_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )
        .bind(org.to_string())
        .bind(k)
        .bind(sid.to_string())
        .execute(&mut **tx)
        .await?;
        keys.insert(k.clone(), sid);
    }
    Ok(())
}

/// One shelter, from a pool or inside a transaction.
async fn shelter_by_id<'e, E>(ex: E, sid: ShelterId) -> StoreResult<Shelter>
where
    E: Executor<'e, Database = Any>,
{
    let row = sqlx::query(&format!(
        "SELECT {SHELTER_COLS} FROM shelters s JOIN orgs so ON so.id = s.org_id WHERE s.id = $1"
    ))
    .bind(sid.to_string())
    .fetch_optional(ex)
    .await?
    .ok_or(StoreError::NotFound)?;
    shelter_row(&row)
}

/// `NotFound` unless `user` is a member of the incident's room (checked in the writing
/// transaction, so a member removed meanwhile cannot write).
async fn member_in(tx: &mut Tx<'_>, incident: RoomId, user: UserId) -> StoreResult<()> {
    let member: Option<i64> =
        sqlx::query_scalar("SELECT 1 FROM room_members WHERE room_id = $1 AND user_id = $2")
            .bind(incident.to_string())
            .bind(user.to_string())
            .fetch_optional(&mut **tx)
            .await?;
    member.map(|_| ()).ok_or(StoreError::NotFound)
}

/// Whether the incident's room is open for writing.
async fn incident_open(tx: &mut Tx<'_>, incident: RoomId) -> StoreResult<()> {
    let closed: Option<Option<i64>> =
        sqlx::query_scalar("SELECT closed_at FROM incidents WHERE room_id = $1")
            .bind(incident.to_string())
            .fetch_optional(&mut **tx)
            .await?;
    match closed {
        None => Err(StoreError::NotFound),
        Some(Some(_)) => Err(StoreError::Refused("archived")),
        Some(None) => Ok(()),
    }
}

/// The condition "shelter `s` belongs to the incident bound at `$n`, `$n+1` and `$n+2`": ad hoc
/// in it, in the registry of one of its organisations, or reported in it.
fn in_incident(n: usize) -> String {
    format!(
        "(s.incident_id = ${} OR (s.incident_id IS NULL AND s.org_id IN \
         (SELECT org_id FROM room_orgs WHERE room_id = ${})) OR EXISTS (SELECT 1 FROM shelter_latest l2 \
         WHERE l2.incident_id = ${} AND l2.shelter_id = s.id))",
        n,
        n + 1,
        n + 2
    )
}

impl SqlStore {
    /// Attaches the records of structured entries (shelter reports, photos) to entries read
    /// from rows.
    pub(super) async fn with_records(&self, rows: &[AnyRow]) -> StoreResult<Vec<Entry>> {
        let mut entries: Vec<Entry> = rows.iter().map(entry_row).collect::<StoreResult<_>>()?;
        let photos = records_of(&entries, rows, EntryKind::Photo);
        for (i, p) in self
            .records(
                &photos,
                &format!("SELECT {PHOTO_COLS} FROM photos p {PHOTO_JOINS} WHERE p.id IN ("),
                |r| photo_row(r).map(|p| (!p.withdrawn).then_some(p)),
            )
            .await?
        {
            entries[i].photo = Some(p);
        }
        let reports = records_of(&entries, rows, EntryKind::ShelterReport);
        for (i, r) in self
            .records(
                &reports,
                &format!(
                    "SELECT {REPORT_COLS} FROM shelter_reports r {REPORT_JOINS} WHERE r.id IN ("
                ),
                report_row,
            )
            .await?
        {
            entries[i].report = Some(r);
        }
        self.attach_asks(
            &mut entries
                .iter_mut()
                .filter_map(|e| e.message.as_mut())
                .collect::<Vec<_>>(),
        )
        .await?;
        Ok(entries)
    }

    /// Reads the records `wanted` (entry index, record id) with `select` (ending in `IN (`),
    /// returning each found with its entry index.
    async fn records<T>(
        &self,
        wanted: &[(usize, String)],
        select: &str,
        read: impl Fn(&AnyRow) -> StoreResult<Option<T>>,
    ) -> StoreResult<Vec<(usize, T)>>
    where
        T: HasId,
    {
        if wanted.is_empty() {
            return Ok(Vec::new());
        }
        let mut q = Built::new(select);
        for (n, (_, rid)) in wanted.iter().enumerate() {
            if n > 0 {
                q.push(", ");
            }
            q.bind_str(rid.clone());
        }
        q.push(")");
        let found = q.query().fetch_all(&self.reader).await?;
        let mut by_id = HashMap::new();
        for r in &found {
            if let Some(rec) = read(r)? {
                by_id.insert(rec.id_string(), rec);
            }
        }
        Ok(wanted
            .iter()
            .filter_map(|(i, rid)| by_id.remove(rid).map(|rec| (*i, rec)))
            .collect())
    }
}

/// A record with a text id.
trait HasId {
    fn id_string(&self) -> String;
}

impl HasId for Photo {
    fn id_string(&self) -> String {
        self.id.to_string()
    }
}

impl HasId for ShelterReport {
    fn id_string(&self) -> String {
        self.id.to_string()
    }
}

/// The entries of `kind` with the id of the record they point at.
fn records_of(entries: &[Entry], rows: &[AnyRow], kind: EntryKind) -> Vec<(usize, String)> {
    entries
        .iter()
        .zip(rows)
        .enumerate()
        .filter(|(_, (e, _))| e.kind == kind)
        .filter_map(|(i, (_, r))| {
            r.try_get::<Option<String>, _>("e_ref")
                .ok()
                .flatten()
                .map(|s| (i, s))
        })
        .collect()
}

#[async_trait]
impl IncidentStore for SqlStore {
    async fn open_incident(
        &self,
        inc: NewIncident,
        idem: Idem,
        now: Millis,
        audit: AuditRecord,
    ) -> StoreResult<Written<RoomId>> {
        let mut tx = begin_write(&self.writer, self.backend).await?;
        if let Some(prev) = idem_lookup(&mut *tx, &idem).await? {
            return Ok(Written {
                value: idem_result(&prev, "incident")?,
                replayed: true,
            });
        }
        let rid = RoomId::new();
        sqlx::query(
            "INSERT INTO rooms (id, kind, name, description, created_by, created_at, last_activity_at) \
             VALUES ($1, 'incident', $2, '', $3, $4, $5)",
        )
        .bind(rid.to_string())
        .bind(inc.name.as_str())
        .bind(inc.opener.to_string())
        .bind(now)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO incidents (room_id, name, kind, level, opened_at, opened_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(rid.to_string())
        .bind(inc.name.as_str())
        .bind(inc.kind.as_str())
        .bind(inc.level.get())
        .bind(inc.opened_at)
        .bind(inc.opener.to_string())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        add_member(&mut tx, rid, inc.opener, RoomRole::Owner, false, now).await?;
        // Whoever opens the incident is on duty for their organisation.
        let opener_org: Option<String> =
            sqlx::query_scalar("SELECT org_id FROM users WHERE id = $1")
                .bind(inc.opener.to_string())
                .fetch_optional(&mut *tx)
                .await?;
        if let Some(org) = opener_org.and_then(|o| o.parse().ok()) {
            super::items::take_duty_in(&mut tx, rid, org, inc.opener, now).await?;
        }
        for org in &inc.orgs {
            add_org_to_room(&mut tx, rid, *org, now).await?;
        }
        let members: Vec<String> = sqlx::query_scalar(
            "SELECT user_id FROM room_members WHERE room_id = $1 AND user_id <> $2",
        )
        .bind(rid.to_string())
        .bind(inc.opener.to_string())
        .fetch_all(&mut *tx)
        .await?;
        for m in members {
            if let Ok(uid) = m.parse() {
                insert_inbox(
                    &mut tx,
                    uid,
                    "incident",
                    Some(rid),
                    None,
                    Some(inc.opener),
                    now,
                )
                .await?;
            }
        }
        idem_store(&mut tx, &idem, &format!("incident:{rid}"), now).await?;
        commit_audited(
            tx,
            AuditRecord {
                object: format!("room:{rid}"),
                ..audit
            },
        )
        .await?;
        Ok(Written {
            value: rid,
            replayed: false,
        })
    }

    async fn incident(&self, room: RoomId) -> StoreResult<Incident> {
        let row = sqlx::query(&format!(
            "SELECT {INCIDENT_COLS} FROM incidents i LEFT JOIN users iu ON iu.id = i.opened_by WHERE i.room_id = $1"
        ))
        .bind(room.to_string())
        .fetch_optional(&self.reader)
        .await?
        .ok_or(StoreError::NotFound)?;
        incident_row(&row)
    }

    async fn incidents_for_user(
        &self,
        user: UserId,
        all: bool,
    ) -> StoreResult<Vec<IncidentSummary>> {
        let rows = sqlx::query(&format!(
            "SELECT {INCIDENT_COLS}, CASE WHEN rm.user_id IS NULL THEN 0 ELSE 1 END AS member, \
             (SELECT COUNT(*) FROM shelter_latest l \
               WHERE l.incident_id = i.room_id AND l.status IN ('open', 'full')) AS open_shelters, \
             (SELECT CAST(COALESCE(SUM(l.evacuees), 0) AS BIGINT) FROM shelter_latest l \
               WHERE l.incident_id = i.room_id AND l.status IN ('open', 'full')) AS evacuees \
             FROM incidents i LEFT JOIN users iu ON iu.id = i.opened_by \
             LEFT JOIN room_members rm ON rm.room_id = i.room_id AND rm.user_id = $1 \
             WHERE ($2 = 1 OR rm.user_id IS NOT NULL) \
             ORDER BY CASE WHEN i.closed_at IS NULL THEN 0 ELSE 1 END, i.opened_at DESC"
        ))
        .bind(user.to_string())
        .bind(i64::from(all))
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(IncidentSummary {
                    incident: incident_row(r)?,
                    member: r.try_get::<i64, _>("member")? == 1,
                    open_shelters: r.try_get("open_shelters")?,
                    evacuees: r.try_get("evacuees")?,
                })
            })
            .collect()
    }

    async fn close_incident(
        &self,
        room: RoomId,
        now: Millis,
        audit: AuditRecord,
    ) -> StoreResult<()> {
        let mut tx = begin_write(&self.writer, self.backend).await?;
        incident_open(&mut tx, room).await?;
        sqlx::query("UPDATE incidents SET closed_at = $1, closed_by = $2 WHERE room_id = $3")
            .bind(now)
            .bind(audit.user_id.map(|u| u.to_string()))
            .bind(room.to_string())
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE rooms SET archived_at = $1 WHERE id = $2")
            .bind(now)
            .bind(room.to_string())
            .execute(&mut *tx)
            .await?;
        insert_entry(&mut tx, EntryKind::RoomUpdated, Some(room), None, None, now).await?;
        commit_audited(tx, audit).await?;
        Ok(())
    }

    async fn shelters(&self, org: OrgId) -> StoreResult<Vec<Shelter>> {
        let rows = sqlx::query(&format!(
            "SELECT {SHELTER_COLS} FROM shelters s JOIN orgs so ON so.id = s.org_id \
             WHERE s.org_id = $1 AND s.incident_id IS NULL ORDER BY s.name, s.id"
        ))
        .bind(org.to_string())
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(shelter_row).collect()
    }

    async fn shelter(&self, sid: ShelterId) -> StoreResult<Shelter> {
        shelter_by_id(&self.reader, sid).await
    }

    async fn shelter_index(&self, org: OrgId) -> StoreResult<ShelterIndex> {
        Ok(ShelterIndex {
            keys: keys_of(&self.reader, org).await?,
            facts: org_shelters(&self.reader, org).await?,
        })
    }

    async fn import_shelters(
        &self,
        org: OrgId,
        rows: Vec<ShelterRow>,
        now: Millis,
        audit: AuditRecord,
    ) -> StoreResult<ImportOutcome> {
        let mut tx = begin_write(&self.writer, self.backend).await?;
        let mut keys = keys_of(&mut *tx, org).await?;
        let current = org_shelters(&mut *tx, org).await?;
        let steps = plan(rows, &keys, &current);
        let mut added: Vec<Option<ShelterId>> = vec![None; steps.len()];
        let mut out = ImportOutcome::default();
        for (i, step) in steps.iter().enumerate() {
            let sid = match (step.action, step.target) {
                (Action::Add, _) => {
                    let sid = insert_shelter(&mut tx, org, &step.facts, None, now).await?;
                    added[i] = Some(sid);
                    out.added += 1;
                    sid
                }
                (_, Target::Existing(sid)) => sid,
                (_, Target::Added(j)) => added[j]
                    .ok_or_else(|| StoreError::Corrupt("import plan out of order".into()))?,
            };
            match step.action {
                Action::Update => {
                    update_shelter(&mut tx, sid, &step.facts, now).await?;
                    out.updated += 1;
                }
                Action::Unchanged => out.unchanged += 1,
                Action::Add => {}
            }
            remember_keys(&mut tx, &mut keys, org, &step.keys, sid).await?;
        }
        insert_audit(
            &mut tx,
            &AuditRecord {
                detail: format!(
                    "added {} updated {} unchanged {}",
                    out.added, out.updated, out.unchanged
                ),
                ..audit
            },
        )
        .await?;
        tx.commit().await?;
        Ok(out)
    }

    async fn save_shelter(
        &self,
        org: OrgId,
        sid: Option<ShelterId>,
        row: ShelterRow,
        incident: Option<RoomId>,
        now: Millis,
        audit: AuditRecord,
    ) -> StoreResult<ShelterId> {
        let mut tx = begin_write(&self.writer, self.backend).await?;
        let mut keys = keys_of(&mut *tx, org).await?;
        let sid = match sid {
            Some(sid) => {
                let old = shelter_by_id(&mut *tx, sid).await?;
                if old.org_id != org {
                    return Err(StoreError::NotFound);
                }
                update_shelter(&mut tx, sid, &row, now).await?;
                sid
            }
            None => {
                if let Some(incident) = incident {
                    incident_open(&mut tx, incident).await?;
                }
                if row.keys().iter().any(|k| keys.contains_key(k)) {
                    return Err(StoreError::Conflict("shelter"));
                }
                insert_shelter(&mut tx, org, &row, incident, now).await?
            }
        };
        remember_keys(&mut tx, &mut keys, org, &row.keys(), sid).await?;
        commit_audited(
            tx,
            AuditRecord {
                object: format!("shelter:{sid}"),
                ..audit
            },
        )
        .await?;
        Ok(sid)
    }

    async fn report_shelter(
        &self,
        report: NewReport,
        idem: Idem,
        now: Millis,
        audit: AuditRecord,
    ) -> StoreResult<Written<ReportId>> {
        let mut tx = begin_write(&self.writer, self.backend).await?;
        if let Some(prev) = idem_lookup(&mut *tx, &idem).await? {
            return Ok(Written {
                value: idem_result(&prev, "report")?,
                replayed: true,
            });
        }
        incident_open(&mut tx, report.incident).await?;
        member_in(&mut tx, report.incident, report.reporter).await?;
        let rid = insert_report(&mut tx, &report, "form", now).await?;
        idem_store(&mut tx, &idem, &format!("report:{rid}"), now).await?;
        commit_audited(
            tx,
            AuditRecord {
                object: format!("report:{rid}"),
                detail: format!("shelter:{} {}", report.shelter, report.status),
                ..audit
            },
        )
        .await?;
        Ok(Written {
            value: rid,
            replayed: false,
        })
    }

    async fn import_snapshot(
        &self,
        incident: RoomId,
        org: OrgId,
        rows: Vec<SnapshotRow>,
        reporter: UserId,
        now: Millis,
        audit: AuditRecord,
    ) -> StoreResult<ImportOutcome> {
        let mut tx = begin_write(&self.writer, self.backend).await?;
        incident_open(&mut tx, incident).await?;
        let mut keys = keys_of(&mut *tx, org).await?;
        let mut out = ImportOutcome::default();
        for row in rows {
            let sid = match row.shelter.keys().iter().find_map(|k| keys.get(k).copied()) {
                Some(sid) => {
                    out.unchanged += 1;
                    sid
                }
                None => {
                    let adhoc = ShelterRow {
                        designation: Designation::AdHoc,
                        ..row.shelter.clone()
                    };
                    let sid = insert_shelter(&mut tx, org, &adhoc, Some(incident), now).await?;
                    out.added += 1;
                    sid
                }
            };
            remember_keys(&mut tx, &mut keys, org, &row.shelter.keys(), sid).await?;
            for obs in &row.observations {
                // The same observation imported again is not a second report.
                let seen: Option<i64> = sqlx::query_scalar(
                    "SELECT 1 FROM shelter_reports WHERE incident_id = $1 AND shelter_id = $2 AND observed_at = $3 \
                     AND source = 'snapshot' AND status = $4 AND COALESCE(evacuees, -1) = $5 LIMIT 1",
                )
                .bind(incident.to_string())
                .bind(sid.to_string())
                .bind(obs.observed_at)
                .bind(obs.status.as_str())
                .bind(obs.headcount.evacuees.unwrap_or(-1))
                .fetch_optional(&mut *tx)
                .await?;
                if seen.is_some() {
                    continue;
                }
                let r = NewReport {
                    incident,
                    shelter: sid,
                    status: obs.status,
                    headcount: obs.headcount,
                    needs: String::new(),
                    note: String::new(),
                    observed_at: obs.observed_at,
                    reporter,
                };
                insert_report(&mut tx, &r, "snapshot", now).await?;
                out.reports += 1;
            }
        }
        commit_audited(
            tx,
            AuditRecord {
                object: format!("room:{incident}"),
                detail: format!("shelters added {} reports {}", out.added, out.reports),
                ..audit
            },
        )
        .await?;
        Ok(out)
    }

    async fn shelter_in_incident(&self, incident: RoomId, sid: ShelterId) -> StoreResult<bool> {
        let found: Option<i64> = sqlx::query_scalar(&format!(
            "SELECT 1 FROM shelters s WHERE s.id = $1 AND {}",
            in_incident(2)
        ))
        .bind(sid.to_string())
        .bind(incident.to_string())
        .bind(incident.to_string())
        .bind(incident.to_string())
        .fetch_optional(&self.reader)
        .await?;
        Ok(found.is_some())
    }

    async fn board(&self, incident: RoomId) -> StoreResult<Vec<BoardRow>> {
        // The incident's shelters from three indexed sources, then one join for their rows,
        // returned as one JSON document: converting hundreds of rows value by value through the
        // `Any` driver cost more than the query itself.
        let sql = board_sql(self.backend, BoardPart::All);
        let json: String = sqlx::query_scalar(&sql)
            .bind(incident.to_string())
            .bind(incident.to_string())
            .bind(incident.to_string())
            .bind(incident.to_string())
            .fetch_one(&self.reader)
            .await?;
        let mut rows = board_rows(&json, incident)?;
        sort_board(&mut rows);
        Ok(rows)
    }

    async fn board_reported_after(
        &self,
        incident: RoomId,
        after: i64,
    ) -> StoreResult<Vec<BoardRow>> {
        let sql = board_sql(self.backend, BoardPart::ReportedAfter);
        let json: String = sqlx::query_scalar(&sql)
            .bind(incident.to_string())
            .bind(after)
            .bind(incident.to_string())
            .fetch_one(&self.reader)
            .await?;
        board_rows(&json, incident)
    }

    async fn add_photo(
        &self,
        p: NewPhoto,
        idem: Idem,
        now: Millis,
        audit: AuditRecord,
    ) -> StoreResult<Written<PhotoSaved>> {
        let mut tx = begin_write(&self.writer, self.backend).await?;
        let known = photo_known(&mut tx, &idem, p.incident, Some(&p.sha256)).await?;
        if let Some(w) = known.as_ref().filter(|w| w.replayed) {
            return Ok(w.clone());
        }
        incident_open(&mut tx, p.incident).await?;
        member_in(&mut tx, p.incident, p.uploader).await?;
        if let Some(w) = known {
            // Same bytes, new key: remember the answer under the key too.
            if let PhotoSaved::Existing(e) = w.value {
                idem_store(&mut tx, &idem, &format!("photo-existing:{e}"), now).await?;
                tx.commit().await?;
            }
            return Ok(w);
        }
        let pid = PhotoId::new();
        let pos = insert_record_entry(&mut tx, EntryKind::Photo, p.incident, &pid.to_string(), now)
            .await?;
        sqlx::query(
            "INSERT INTO photos (id, incident_id, uploader_id, shelter_id, caption, sha256, mime, bytes, width, height, \
             display_width, display_height, thumb_width, thumb_height, taken_local, taken_at, taken_offset, lat_e7, lon_e7, \
             location_source, camera, queued_at, uploaded_at, pos) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, \
             $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24)",
        )
        .bind(pid.to_string())
        .bind(p.incident.to_string())
        .bind(p.uploader.to_string())
        .bind(p.shelter.map(|s| s.to_string()))
        .bind(&p.caption)
        .bind(&p.sha256)
        .bind(&p.mime)
        .bind(p.bytes)
        .bind(p.size.0)
        .bind(p.size.1)
        .bind(p.display.0)
        .bind(p.display.1)
        .bind(p.thumb.0)
        .bind(p.thumb.1)
        .bind(p.taken_local.as_deref())
        .bind(p.taken_at)
        .bind(p.taken_offset.as_deref())
        .bind(p.position.map(|x| e7(x.lat)))
        .bind(p.position.map(|x| e7(x.lon)))
        .bind(p.location_source)
        .bind(p.camera.as_deref())
        .bind(p.queued_at)
        .bind(now)
        .bind(pos)
        .execute(&mut *tx)
        .await?;
        idem_store(&mut tx, &idem, &format!("photo:{pid}"), now).await?;
        commit_audited(
            tx,
            AuditRecord {
                object: format!("photo:{pid}"),
                detail: format!("sha256:{}", p.sha256),
                ..audit
            },
        )
        .await?;
        Ok(Written {
            value: PhotoSaved::New(pid),
            replayed: false,
        })
    }

    async fn known_photo(
        &self,
        idem: &Idem,
        incident: RoomId,
        sha256: Option<&str>,
    ) -> StoreResult<Option<Written<PhotoSaved>>> {
        let mut conn = self.reader.acquire().await?;
        photo_known(&mut conn, idem, incident, sha256).await
    }

    async fn photo(&self, pid: PhotoId) -> StoreResult<Photo> {
        let row = sqlx::query(&format!(
            "SELECT {PHOTO_COLS} FROM photos p {PHOTO_JOINS} WHERE p.id = $1"
        ))
        .bind(pid.to_string())
        .fetch_optional(&self.reader)
        .await?
        .ok_or(StoreError::NotFound)?;
        photo_row(&row)
    }

    async fn withdraw_photo(
        &self,
        pid: PhotoId,
        reason: String,
        now: Millis,
        audit: AuditRecord,
    ) -> StoreResult<()> {
        let mut tx = begin_write(&self.writer, self.backend).await?;
        let room: Option<String> = sqlx::query_scalar(
            "UPDATE photos SET withdrawn_at = $1, withdrawn_by = $2, withdraw_reason = $3 \
             WHERE id = $4 AND withdrawn_at IS NULL RETURNING incident_id",
        )
        .bind(now)
        .bind(audit.user_id.map(|u| u.to_string()))
        .bind(&reason)
        .bind(pid.to_string())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(room) = room else {
            return Err(StoreError::Refused("photo already withdrawn"));
        };
        let room: RoomId = parse_id(&room)?;
        insert_record_entry(
            &mut tx,
            EntryKind::PhotoWithdrawn,
            room,
            &pid.to_string(),
            now,
        )
        .await?;
        commit_audited(
            tx,
            AuditRecord {
                object: format!("photo:{pid}"),
                detail: format!("reason: {reason}"),
                ..audit
            },
        )
        .await?;
        Ok(())
    }

    async fn purge_photo(
        &self,
        pid: PhotoId,
        now: Millis,
        audit: AuditRecord,
    ) -> StoreResult<bool> {
        let mut tx = begin_write(&self.writer, self.backend).await?;
        let sha: Option<String> = sqlx::query_scalar(
            "UPDATE photos SET purged_at = $1 WHERE id = $2 AND withdrawn_at IS NOT NULL AND purged_at IS NULL \
             RETURNING sha256",
        )
        .bind(now)
        .bind(pid.to_string())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(sha) = sha else {
            return Err(StoreError::Refused("photo not withdrawn"));
        };
        let others: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM photos WHERE sha256 = $1 AND purged_at IS NULL",
        )
        .bind(&sha)
        .fetch_one(&mut *tx)
        .await?;
        commit_audited(
            tx,
            AuditRecord {
                object: format!("photo:{pid}"),
                detail: format!("sha256:{sha}"),
                ..audit
            },
        )
        .await?;
        Ok(others > 0)
    }

    async fn photos(&self, incident: RoomId, limit: i64) -> StoreResult<Vec<Photo>> {
        let rows = sqlx::query(&format!(
            "SELECT {PHOTO_COLS} FROM photos p {PHOTO_JOINS} \
             WHERE p.incident_id = $1 AND p.withdrawn_at IS NULL ORDER BY p.pos DESC LIMIT $2"
        ))
        .bind(incident.to_string())
        .bind(limit)
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(photo_row).collect()
    }

    async fn photos_in_range(
        &self,
        incident: RoomId,
        from: i64,
        to: i64,
        limit: i64,
    ) -> StoreResult<Vec<Photo>> {
        let rows = sqlx::query(&format!(
            "SELECT {PHOTO_COLS} FROM photos p {PHOTO_JOINS} WHERE p.incident_id = $1 \
             AND p.withdrawn_at IS NULL AND p.pos >= $2 AND p.pos < $3 ORDER BY p.pos DESC LIMIT $4"
        ))
        .bind(incident.to_string())
        .bind(from)
        .bind(to)
        .bind(limit)
        .fetch_all(&self.reader)
        .await?;
        let mut v: Vec<Photo> = rows.iter().map(photo_row).collect::<StoreResult<_>>()?;
        v.reverse();
        Ok(v)
    }

    async fn board_version(&self, incident: RoomId) -> StoreResult<(i64, i64, i64)> {
        let row = sqlx::query(
            "SELECT (SELECT COALESCE(MAX(pos), 0) FROM entries WHERE room_id = $1) AS pos, \
             (SELECT CAST(COALESCE(SUM(s.updated_at), 0) AS BIGINT) FROM room_orgs ro \
               JOIN shelters s ON s.org_id = ro.org_id WHERE ro.room_id = $2) AS registry, \
             (SELECT COUNT(*) FROM room_orgs ro JOIN shelters s ON s.org_id = ro.org_id WHERE ro.room_id = $3) \
             + (SELECT COUNT(*) FROM shelters WHERE incident_id = $4) AS shelters",
        )
        .bind(incident.to_string())
        .bind(incident.to_string())
        .bind(incident.to_string())
        .bind(incident.to_string())
        .fetch_one(&self.reader)
        .await?;
        Ok((
            row.try_get("pos")?,
            row.try_get("registry")?,
            row.try_get("shelters")?,
        ))
    }

    async fn reports(
        &self,
        incident: RoomId,
        shelter: Option<ShelterId>,
        limit: i64,
    ) -> StoreResult<Vec<ShelterReport>> {
        let mut q = Built::new(&format!(
            "SELECT {REPORT_COLS} FROM shelter_reports r {REPORT_JOINS} WHERE r.incident_id = "
        ));
        q.bind_str(incident.to_string());
        if let Some(s) = shelter {
            q.push(" AND r.shelter_id = ").bind_str(s.to_string());
        }
        q.push(" ORDER BY r.observed_at DESC, r.pos DESC LIMIT ")
            .bind_int(limit);
        let rows = q.query().fetch_all(&self.reader).await?;
        rows.iter()
            .filter_map(|r| report_row(r).transpose())
            .collect()
    }

    async fn reports_in_range(
        &self,
        incident: RoomId,
        from: i64,
        to: i64,
        limit: i64,
    ) -> StoreResult<Vec<ShelterReport>> {
        let rows = sqlx::query(&format!(
            "SELECT {REPORT_COLS} FROM shelter_reports r {REPORT_JOINS} \
             WHERE r.incident_id = $1 AND r.pos >= $2 AND r.pos < $3 ORDER BY r.pos DESC LIMIT $4"
        ))
        .bind(incident.to_string())
        .bind(from)
        .bind(to)
        .bind(limit)
        .fetch_all(&self.reader)
        .await?;
        let mut v: Vec<ShelterReport> = rows
            .iter()
            .filter_map(|r| report_row(r).transpose())
            .collect::<StoreResult<_>>()?;
        v.reverse();
        Ok(v)
    }
}
