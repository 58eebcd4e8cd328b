//! What the store keeps about incidents, shelters and shelter reports.

use super::{AuditRecord, Idem, Millis, StoreResult, Written};
use crate::domain::*;
use crate::import::{ShelterRow, SnapshotRow};
use async_trait::async_trait;
use serde::Serialize;

/// An incident: a room with a disaster attached.
#[derive(Debug, Clone, Serialize)]
pub struct Incident {
    pub room_id: RoomId,
    pub name: String,
    pub kind: IncidentKind,
    pub level: i64,
    /// When it began (observations before it are refused).
    pub opened_at: Millis,
    pub opened_by: UserId,
    pub opened_by_name: String,
    pub closed_at: Option<Millis>,
}

impl Incident {
    pub fn is_closed(&self) -> bool {
        self.closed_at.is_some()
    }
}

/// An incident in a list, with its headline figures.
#[derive(Debug, Clone, Serialize)]
pub struct IncidentSummary {
    pub incident: Incident,
    /// Whether the user is a member of its room (deployment admins see others too).
    pub member: bool,
    pub open_shelters: i64,
    pub evacuees: i64,
}

/// A new incident.
#[derive(Debug, Clone)]
pub struct NewIncident {
    pub name: RoomName,
    pub kind: IncidentKind,
    pub level: IncidentLevel,
    pub opened_at: Millis,
    pub opener: UserId,
    /// Organisations involved (their members join the room); the opener's is always one.
    pub orgs: Vec<OrgId>,
}

/// A shelter of a registry (or an ad hoc one).
#[derive(Debug, Clone, Serialize)]
pub struct Shelter {
    pub id: ShelterId,
    pub org_id: OrgId,
    pub org_name: String,
    /// For an ad hoc shelter: the incident it was added in.
    pub incident_id: Option<RoomId>,
    pub name: String,
    pub kana: String,
    pub address: String,
    pub position: Option<LatLon>,
    pub designation: Designation,
    pub hazards: Hazards,
    pub capacity: Option<i64>,
    pub capacity_text: String,
    pub local_id: Option<String>,
    pub common_id: Option<String>,
    pub phone: String,
    pub note: String,
    pub updated_at: Millis,
}

impl Shelter {
    /// The shelter's facts in the form files describe them, to compare and merge.
    pub fn as_row(&self) -> ShelterRow {
        ShelterRow {
            line: 0,
            local_id: self.local_id.clone(),
            common_id: self.common_id.clone(),
            name: self.name.clone(),
            kana: self.kana.clone(),
            address: self.address.clone(),
            position: self.position,
            designation: self.designation,
            hazards: self.hazards,
            capacity: self.capacity,
            capacity_text: self.capacity_text.clone(),
            phone: self.phone.clone(),
            note: self.note.clone(),
            list: Designation::AdHoc,
        }
    }
}

/// One as-of shelter report, with the names needed to show it.
#[derive(Debug, Clone, Serialize)]
pub struct ShelterReport {
    pub id: ReportId,
    pub incident_id: RoomId,
    pub shelter_id: ShelterId,
    pub shelter_name: String,
    pub status: ShelterStatus,
    pub evacuees: Option<i64>,
    pub households: Option<i64>,
    pub needs: String,
    pub note: String,
    /// When it was observed (the device's time when 送信 was pressed, or the snapshot's 時点).
    pub observed_at: Millis,
    /// When the server stored it.
    pub received_at: Millis,
    pub reporter_id: UserId,
    pub reporter_name: String,
    pub reporter_org: String,
    /// `form` or `snapshot`.
    pub source: String,
    pub pos: i64,
}

/// A row of the shelter board: the shelter and its newest observation in the incident.
#[derive(Debug, Clone, Serialize)]
pub struct BoardRow {
    pub shelter: Shelter,
    pub latest: Option<ShelterReport>,
}

/// Puts board rows in board order: by organisation and name, in code-point order (the same on
/// both backends).
pub fn sort_board(rows: &mut [BoardRow]) {
    rows.sort_by(|a, b| {
        (&a.shelter.org_name, &a.shelter.name, a.shelter.id).cmp(&(
            &b.shelter.org_name,
            &b.shelter.name,
            b.shelter.id,
        ))
    });
}

/// A new shelter report.
#[derive(Debug, Clone)]
pub struct NewReport {
    pub incident: RoomId,
    pub shelter: ShelterId,
    pub status: ShelterStatus,
    pub headcount: Headcount,
    pub needs: String,
    pub note: String,
    pub observed_at: Millis,
    pub reporter: UserId,
}

/// A field photo as it is shown.
#[derive(Debug, Clone, Serialize)]
pub struct Photo {
    pub id: PhotoId,
    pub incident_id: RoomId,
    pub uploader_id: UserId,
    pub uploader_name: String,
    pub uploader_org_id: Option<OrgId>,
    pub uploader_org: String,
    pub shelter_id: Option<ShelterId>,
    pub shelter_name: Option<String>,
    pub caption: String,
    pub sha256: String,
    pub mime: String,
    pub bytes: i64,
    pub width: i64,
    pub height: i64,
    pub display_width: i64,
    pub display_height: i64,
    pub thumb_width: i64,
    pub thumb_height: i64,
    pub taken_local: Option<String>,
    pub taken_at: Option<Millis>,
    pub taken_offset: Option<String>,
    pub position: Option<LatLon>,
    /// `exif`, `device` or `none`.
    pub location_source: String,
    pub camera: Option<String>,
    pub queued_at: Option<Millis>,
    pub uploaded_at: Millis,
    pub pos: i64,
    pub withdrawn: bool,
    pub withdraw_reason: Option<String>,
    pub purged: bool,
}

/// A photo to store (its files are already in the file store).
#[derive(Debug, Clone)]
pub struct NewPhoto {
    pub incident: RoomId,
    pub uploader: UserId,
    pub shelter: Option<ShelterId>,
    pub caption: String,
    pub sha256: String,
    pub mime: String,
    pub bytes: i64,
    pub size: (i64, i64),
    pub display: (i64, i64),
    pub thumb: (i64, i64),
    pub taken_local: Option<String>,
    pub taken_at: Option<Millis>,
    pub taken_offset: Option<String>,
    pub position: Option<LatLon>,
    pub location_source: &'static str,
    pub camera: Option<String>,
    pub queued_at: Option<Millis>,
}

/// What storing a photo did: a new photo, or the one already uploaded in the incident with the
/// same bytes (nothing stored).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhotoSaved {
    New(PhotoId),
    Existing(PhotoId),
}

/// What an import plan needs of an organisation's shelters: every key they are known by, and
/// the facts of each (ad hoc shelters included).
#[derive(Debug, Clone, Default)]
pub struct ShelterIndex {
    pub keys: std::collections::HashMap<String, ShelterId>,
    pub facts: std::collections::HashMap<ShelterId, ShelterRow>,
}

/// What an import changed.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct ImportOutcome {
    pub added: i64,
    pub updated: i64,
    pub unchanged: i64,
    /// Reports stored (status snapshots only).
    pub reports: i64,
}

/// Incidents, shelters and reports.
#[async_trait]
pub trait IncidentStore {
    /// Opens an incident: its room, the opener as owner, the organisations as members.
    async fn open_incident(
        &self,
        incident: NewIncident,
        idem: Idem,
        now: Millis,
        audit: AuditRecord,
    ) -> StoreResult<Written<RoomId>>;
    async fn incident(&self, room: RoomId) -> StoreResult<Incident>;
    /// The incidents `user` belongs to (every incident when `all`), active first.
    async fn incidents_for_user(
        &self,
        user: UserId,
        all: bool,
    ) -> StoreResult<Vec<IncidentSummary>>;
    /// Closes an incident and makes its room read-only.
    async fn close_incident(
        &self,
        room: RoomId,
        now: Millis,
        audit: AuditRecord,
    ) -> StoreResult<()>;

    /// An organisation's registry (no ad hoc shelters), by name.
    async fn shelters(&self, org: OrgId) -> StoreResult<Vec<Shelter>>;
    async fn shelter(&self, id: ShelterId) -> StoreResult<Shelter>;
    /// What planning an import needs: the keys and facts of the organisation's shelters.
    async fn shelter_index(&self, org: OrgId) -> StoreResult<ShelterIndex>;
    /// Adds or updates (matching by key) every row, in one transaction.
    async fn import_shelters(
        &self,
        org: OrgId,
        rows: Vec<ShelterRow>,
        now: Millis,
        audit: AuditRecord,
    ) -> StoreResult<ImportOutcome>;
    /// Adds (`id` none) or edits one shelter by hand; `incident` makes a new one ad hoc.
    async fn save_shelter(
        &self,
        org: OrgId,
        id: Option<ShelterId>,
        row: ShelterRow,
        incident: Option<RoomId>,
        now: Millis,
        audit: AuditRecord,
    ) -> StoreResult<ShelterId>;

    /// Stores an as-of report (checked: the shelter belongs to the incident, the room is open).
    async fn report_shelter(
        &self,
        report: NewReport,
        idem: Idem,
        now: Millis,
        audit: AuditRecord,
    ) -> StoreResult<Written<ReportId>>;
    /// Stores a status snapshot: rows matched to `org`'s registry (unmatched ones become ad hoc
    /// shelters of the incident), each observation an as-of report. One transaction.
    async fn import_snapshot(
        &self,
        incident: RoomId,
        org: OrgId,
        rows: Vec<SnapshotRow>,
        reporter: UserId,
        now: Millis,
        audit: AuditRecord,
    ) -> StoreResult<ImportOutcome>;
    /// Whether a shelter may be reported in the incident: one of its organisations' registry,
    /// or ad hoc in it.
    async fn shelter_in_incident(&self, incident: RoomId, shelter: ShelterId) -> StoreResult<bool>;
    /// The board: every shelter of the incident's organisations, its ad hoc shelters and any
    /// shelter reported in it, each with its newest observation.
    async fn board(&self, incident: RoomId) -> StoreResult<Vec<BoardRow>>;
    /// The board rows of the shelters whose newest observation in the incident was reported
    /// after timeline position `after` (a report's position only grows), in no order.
    async fn board_reported_after(
        &self,
        incident: RoomId,
        after: i64,
    ) -> StoreResult<Vec<BoardRow>>;
    /// A value that changes whenever the board of the incident may have changed (a timeline
    /// entry of its room, a shelter of its organisations or of itself added or changed).
    async fn board_version(&self, incident: RoomId) -> StoreResult<(i64, i64, i64)>;
    /// Reports of an incident (of one shelter when given), newest observation first.
    async fn reports(
        &self,
        incident: RoomId,
        shelter: Option<ShelterId>,
        limit: i64,
    ) -> StoreResult<Vec<ShelterReport>>;
    /// Stores a photo of an incident, unless the same bytes were uploaded there already.
    async fn add_photo(
        &self,
        photo: NewPhoto,
        idem: Idem,
        now: Millis,
        audit: AuditRecord,
    ) -> StoreResult<Written<PhotoSaved>>;
    /// What is already known of an upload, read before any decoding: the result stored under
    /// its idempotency key, or (given the hash) the photo with the same bytes in the incident.
    async fn known_photo(
        &self,
        idem: &Idem,
        incident: RoomId,
        sha256: Option<&str>,
    ) -> StoreResult<Option<Written<PhotoSaved>>>;
    async fn photo(&self, id: PhotoId) -> StoreResult<Photo>;
    /// Withdraws a photo with a reason (kept; shown to nobody but admins).
    async fn withdraw_photo(
        &self,
        id: PhotoId,
        reason: String,
        now: Millis,
        audit: AuditRecord,
    ) -> StoreResult<()>;
    /// Marks a withdrawn photo purged; returns whether another photo still uses its files.
    async fn purge_photo(&self, id: PhotoId, now: Millis, audit: AuditRecord) -> StoreResult<bool>;
    /// An incident's photos (not withdrawn), newest upload first.
    async fn photos(&self, incident: RoomId, limit: i64) -> StoreResult<Vec<Photo>>;
    /// The newest `limit` photos at timeline positions in `from..to`, in timeline order.
    async fn photos_in_range(
        &self,
        incident: RoomId,
        from: i64,
        to: i64,
        limit: i64,
    ) -> StoreResult<Vec<Photo>>;
    /// The newest `limit` reports stored at timeline positions in `from..to` of a room, in
    /// timeline order.
    async fn reports_in_range(
        &self,
        incident: RoomId,
        from: i64,
        to: i64,
        limit: i64,
    ) -> StoreResult<Vec<ShelterReport>>;
}
