//! Incidents, the shelter registry, shelter reports and the shelter board.

use super::*;
use crate::import::{self, Problem, ShelterRow, SnapshotRow};
use crate::store::{
    BoardRow, Idem, ImportOutcome, Incident, IncidentSummary, NewIncident, NewReport, Shelter,
    ShelterReport, Written,
};
use serde::Serialize;
use std::collections::HashMap;

/// How far ahead of the server a device's clock may be (tablet clocks drift).
pub const CLOCK_SKEW_MS: i64 = 5 * 60 * 1000;

/// How the actor may see an incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// A member of its room, with their role.
    Member(RoomRole),
    /// The deployment admin, who sees every incident without being in it.
    Observer,
}

impl Access {
    pub fn can_manage(self) -> bool {
        matches!(self, Access::Member(r) if r.can_manage())
    }
    pub fn is_member(self) -> bool {
        matches!(self, Access::Member(_))
    }
}

/// What the incident form carries.
#[derive(Debug, Clone, Default)]
pub struct IncidentForm {
    pub name: String,
    pub kind: String,
    pub level: String,
    /// When it began, `YYYY-MM-DDTHH:MM` in the deployment's time zone (blank: now).
    pub started_at: String,
    /// When it began, already known in UTC (the API); used instead of `started_at`.
    pub started_at_utc: Option<Millis>,
    /// Organisations by short id, code or id.
    pub orgs: Vec<String>,
}

/// What a shelter report form carries.
#[derive(Debug, Clone, Default)]
pub struct ReportForm {
    pub shelter: String,
    pub status: String,
    pub evacuees: String,
    pub households: String,
    pub needs: String,
    pub note: String,
    /// The device's time when 送信 was pressed, in milliseconds (blank: the time received).
    pub observed_at: String,
}

/// What the hand-edit form of a shelter carries.
#[derive(Debug, Clone, Default)]
pub struct ShelterForm {
    pub name: String,
    pub kana: String,
    pub address: String,
    pub lat: String,
    pub lon: String,
    pub designation: String,
    pub capacity: String,
    pub phone: String,
    pub note: String,
    pub local_id: String,
    pub common_id: String,
    pub hazards: Vec<String>,
}

impl ShelterForm {
    /// The form filled from a stored shelter.
    pub fn from_shelter(s: &Shelter) -> Self {
        Self {
            name: s.name.clone(),
            kana: s.kana.clone(),
            address: s.address.clone(),
            lat: s.position.map(|p| p.lat.to_string()).unwrap_or_default(),
            lon: s.position.map(|p| p.lon.to_string()).unwrap_or_default(),
            designation: s.designation.as_str().into(),
            capacity: s.capacity_text.clone(),
            phone: s.phone.clone(),
            note: s.note.clone(),
            local_id: s.local_id.clone().unwrap_or_default(),
            common_id: s.common_id.clone().unwrap_or_default(),
            hazards: s.hazards.words().into_iter().map(String::from).collect(),
        }
    }

    fn parse(&self, default: Designation) -> Result<ShelterRow, Invalid> {
        let name = line(&self.name, 200, "name")?;
        if name.is_empty() {
            return Err(Invalid::new("name", "err-required"));
        }
        let position = match (self.lat.trim(), self.lon.trim()) {
            ("", "") => None,
            (a, b) => {
                let a = a
                    .parse::<f64>()
                    .map_err(|_| Invalid::new("lat", "err-coordinates"))?;
                let b = b
                    .parse::<f64>()
                    .map_err(|_| Invalid::new("lon", "err-coordinates"))?;
                Some(LatLon::new(a, b)?)
            }
        };
        let designation = if self.designation.trim().is_empty() {
            default
        } else {
            Designation::parse(&self.designation)?
        };
        let capacity_text = line(&self.capacity, 200, "capacity")?;
        let opt = |s: String| (!s.is_empty()).then_some(s);
        Ok(ShelterRow {
            line: 0,
            local_id: opt(line(&self.local_id, 60, "local_id")?),
            common_id: opt(line(&self.common_id, 60, "common_id")?),
            name,
            kana: line(&self.kana, 200, "kana")?,
            address: line(&self.address, 300, "address")?,
            position,
            designation,
            hazards: Hazards::from_words(self.hazards.iter().map(String::as_str))?,
            capacity: import::shelters::capacity_number(&capacity_text),
            capacity_text,
            phone: line(&self.phone, 40, "phone")?,
            note: note(&self.note, 1000, "note")?,
            list: Designation::AdHoc,
        })
    }
}

/// Board filters and order, as the page's query string gives them.
#[derive(Debug, Clone, Default)]
pub struct BoardQuery {
    pub org: Option<String>,
    /// A status word, or `unreported`.
    pub status: Option<String>,
    /// `status` (default: full, open, not open, closed, unreported; each by organisation and
    /// name), `org`, `name`, `evacuees`, `fill`, `reported`.
    pub sort: Option<String>,
}

/// One board line: the row, and what is derived from it now.
#[derive(Debug, Clone, Serialize)]
pub struct BoardLine {
    #[serde(flatten)]
    pub row: BoardRow,
    /// Whole hours since the last report, when the shelter is open and that is too long.
    pub stale_hours: Option<i64>,
    /// Evacuees as a percentage of capacity, when both are known.
    pub fill_percent: Option<i64>,
}

/// Totals of shelters shown: per organisation, or overall (`org_name` empty).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Totals {
    pub org_name: String,
    pub shelters: i64,
    pub open: i64,
    pub evacuees: i64,
    pub households: i64,
}

impl Totals {
    fn add(&mut self, line: &BoardLine) {
        self.shelters += 1;
        if let Some(r) = &line.row.latest {
            if r.status.is_open() {
                self.open += 1;
                self.evacuees += r.evacuees.unwrap_or(0);
                self.households += r.households.unwrap_or(0);
            }
        }
    }
}

/// The shelter board of an incident, filtered and sorted.
#[derive(Debug, Clone, Serialize)]
pub struct Board {
    pub incident: Incident,
    #[serde(skip)]
    pub access: Access,
    pub lines: Vec<BoardLine>,
    pub per_org: Vec<Totals>,
    pub overall: Totals,
    /// Organisations of the incident, for the filter.
    pub orgs: Vec<(OrgId, String)>,
    pub now: Millis,
    pub stale_after_hours: i64,
}

/// A row of a shelter-file preview.
#[derive(Debug, Clone)]
pub struct ShelterPreviewRow {
    pub line: usize,
    pub shelter: Option<ShelterRow>,
    /// `add`, `update` or `unchanged`.
    pub action: &'static str,
    pub problems: Vec<Problem>,
}

impl PreviewRow for ShelterPreviewRow {
    fn action(&self) -> &'static str {
        self.action
    }
    fn has_problems(&self) -> bool {
        !self.problems.is_empty()
    }
}

/// A shelter registry preview, with the columns the file had that were not used.
#[derive(Debug, Clone)]
pub struct ShelterPreview {
    pub preview: Preview<ShelterPreviewRow>,
    pub unused_columns: Vec<String>,
    pub file_problem: Option<Problem>,
}

impl ShelterPreview {
    pub fn unchanged(&self) -> i64 {
        self.preview
            .rows
            .iter()
            .filter(|r| r.action == "unchanged" && r.problems.is_empty())
            .count() as i64
    }
    /// Whether it can be applied (`skip_invalid`: rows with problems are left out).
    pub fn ok(&self, skip_invalid: bool) -> bool {
        self.file_problem.is_none()
            && self.preview.rows.iter().any(|r| r.problems.is_empty())
            && (skip_invalid || self.preview.with_problems() == 0)
    }
}

/// What an applied shelter import did and left out.
#[derive(Debug, Clone)]
pub struct ShelterImport {
    /// The problems of each row left out.
    pub skipped: Vec<Vec<Problem>>,
    pub unused_columns: Vec<String>,
    pub outcome: ImportOutcome,
}

fn file_error(p: Problem) -> AppError {
    AppError::Invalid(Invalid::new("file", p.key))
}

impl App {
    /// Whether the actor is the deployment admin.
    pub(super) fn is_deployment_admin(actor: &Actor) -> bool {
        actor.user.role == Role::DeploymentAdmin
    }

    /// The incident and how the actor may see it; 404 for anyone else.
    pub async fn incident(&self, actor: &Actor, room: RoomId) -> AppResult<(Incident, Access)> {
        let incident = self.store.incident(room).await?;
        match self.store.room_for_member(room, actor.user.id).await {
            Ok((_, role)) => Ok((incident, Access::Member(role))),
            Err(crate::store::StoreError::NotFound) if Self::is_deployment_admin(actor) => {
                Ok((incident, Access::Observer))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Incidents the actor is in (all of them for the deployment admin), active first.
    pub async fn incidents(&self, actor: &Actor) -> AppResult<Vec<IncidentSummary>> {
        Ok(self
            .store
            .incidents_for_user(actor.user.id, Self::is_deployment_admin(actor))
            .await?)
    }

    /// Parses `YYYY-MM-DDTHH:MM` (the datetime-local input) in the deployment's time zone.
    pub fn local_time(&self, s: &str, field: &'static str) -> AppResult<Option<Millis>> {
        let s = s.trim();
        if s.is_empty() {
            return Ok(None);
        }
        let fmt = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]");
        let fmt_s =
            time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
        let t = time::PrimitiveDateTime::parse(s, fmt)
            .or_else(|_| time::PrimitiveDateTime::parse(s, fmt_s))
            .map_err(|_| Invalid::new(field, "err-datetime"))?;
        Ok(Some(crate::store::millis(t.assume_offset(self.config.tz))))
    }

    /// Opens an incident with the organisations involved; the opener manages it.
    pub async fn open_incident(
        &self,
        actor: &Actor,
        form: IncidentForm,
        key: IdemKey,
    ) -> AppResult<Written<RoomId>> {
        let name = RoomName::parse(&form.name)?;
        let kind = IncidentKind::parse(&form.kind)?;
        let level = IncidentLevel::new(
            form.level
                .trim()
                .parse()
                .map_err(|_| Invalid::new("level", "err-incident-level"))?,
        )?;
        let now = self.now();
        let opened_at = match form.started_at_utc {
            Some(ms) => ms,
            None => self
                .local_time(&form.started_at, "started_at")?
                .unwrap_or(now),
        };
        if opened_at > now + CLOCK_SKEW_MS {
            return Err(Invalid::new("started_at", "err-started-future").into());
        }
        let mut orgs = vec![actor.user.org_id];
        for r in form.orgs.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
            let org = match r.parse::<OrgId>() {
                Ok(id) => self.store.org(id).await,
                Err(_) => self.store.org_by_ref(r).await,
            }
            .map_err(|_| AppError::Invalid(Invalid::new("orgs", "err-org-unknown")))?;
            if !orgs.contains(&org.id) {
                orgs.push(org.id);
            }
        }
        if orgs.len() > 500 {
            return Err(Invalid::new("orgs", "err-too-many").into());
        }
        let audit = self.audit_for(actor, "incident.open", "");
        let w = self
            .store
            .open_incident(
                NewIncident {
                    name,
                    kind,
                    level,
                    opened_at,
                    opener: actor.user.id,
                    orgs,
                },
                Idem {
                    user_id: actor.user.id,
                    key,
                },
                now,
                audit,
            )
            .await?;
        if !w.replayed {
            self.live.ring();
        }
        Ok(w)
    }

    /// The incident, for a write `action` that needs `allowed` access to it while it is open;
    /// a refusal by rights is audited.
    pub(super) async fn writable_incident(
        &self,
        actor: &Actor,
        room: RoomId,
        action: &str,
        allowed: impl Fn(Access) -> bool,
    ) -> AppResult<Incident> {
        let (incident, access) = self.incident(actor, room).await?;
        if !allowed(access) {
            return Err(self
                .refuse(actor, action, format!("room:{room}"), AppError::Forbidden)
                .await);
        }
        if incident.is_closed() {
            return Err(AppError::Conflict("err-incident-closed"));
        }
        Ok(incident)
    }

    /// Closes an incident (its managers only); the room becomes read-only.
    pub async fn close_incident(&self, actor: &Actor, room: RoomId) -> AppResult<()> {
        self.writable_incident(actor, room, "incident.close", Access::can_manage)
            .await?;
        let audit = self.audit_for(actor, "incident.close", format!("room:{room}"));
        self.store.close_incident(room, self.now(), audit).await?;
        self.live.ring();
        Ok(())
    }

    /// The deployment admin joins an incident's room they observe.
    pub async fn join_incident(&self, actor: &Actor, room: RoomId) -> AppResult<()> {
        let (_, access) = self.incident(actor, room).await?;
        if access.is_member() {
            return Ok(());
        }
        let audit = self.audit_for(actor, "incident.join", format!("room:{room}"));
        self.store
            .change_room(
                room,
                actor.user.id,
                crate::store::RoomChange::AddUsers(vec![actor.user.id]),
                self.now(),
                audit,
            )
            .await?;
        self.live.ring();
        Ok(())
    }

    /// The board's rows, read again only when its version changed. When a report arrives, every
    /// open board asks at once: one of them reads the rows, the others get the same copy. The
    /// version is read before the rows, so a copy is never labelled newer than it is.
    ///
    /// When only the room moved on (reports, messages) and the registry did not, only the
    /// shelters reported since the copy's position are read and merged into it: a report
    /// re-reads one row, not the whole board. A report's position only grows (the newest
    /// observation replaces an older one only with its own, later position), so nothing newer
    /// than the copy can be missed.
    pub(super) async fn board_rows(&self, room: RoomId) -> AppResult<Arc<Vec<BoardRow>>> {
        let version = self.store.board_version(room).await?;
        let now = self.now();
        let cached = match self.boards.lock() {
            Ok(cache) => cache.get(&room).cloned(),
            Err(_) => None,
        };
        let fresh = match cached {
            Some(c) if c.version == version => return Ok(c.rows),
            Some(c)
                if (c.version.1, c.version.2) == (version.1, version.2)
                    && c.version.0 < version.0
                    && now - c.read_at < BOARD_FULL_READ_MS =>
            {
                let changed = self.store.board_reported_after(room, c.version.0).await?;
                CachedBoard {
                    version,
                    rows: Arc::new(merge_board(&c.rows, changed)),
                    read_at: c.read_at,
                }
            }
            _ => CachedBoard {
                version,
                rows: Arc::new(self.store.board(room).await?),
                read_at: now,
            },
        };
        let rows = fresh.rows.clone();
        if let Ok(mut cache) = self.boards.lock() {
            if cache.len() >= 256 {
                cache.clear();
            }
            cache.insert(room, fresh);
        }
        Ok(rows)
    }

    /// The shelter board, filtered and sorted.
    pub async fn board(&self, actor: &Actor, room: RoomId, q: &BoardQuery) -> AppResult<Board> {
        let (incident, access) = self.incident(actor, room).await?;
        let rows = self.board_rows(room).await?;
        let now = self.now();
        let stale_ms = self.config.stale_after.whole_milliseconds() as i64;
        let mut orgs: Vec<(OrgId, String)> = Vec::new();
        for r in rows.iter() {
            if !orgs.iter().any(|(id, _)| *id == r.shelter.org_id) {
                orgs.push((r.shelter.org_id, r.shelter.org_name.clone()));
            }
        }
        let org_filter = q.org.as_deref().filter(|s| !s.is_empty());
        let status_filter = q.status.as_deref().filter(|s| !s.is_empty());
        if let Some(s) = status_filter {
            if s != "unreported" {
                ShelterStatus::parse(s)?;
            }
        }
        let mut lines: Vec<BoardLine> = rows
            .iter()
            .filter(|r| org_filter.is_none_or(|o| r.shelter.org_id.to_string() == o))
            .filter(|r| match status_filter {
                None => true,
                Some("unreported") => r.latest.is_none(),
                Some(s) => r.latest.as_ref().is_some_and(|l| l.status.as_str() == s),
            })
            .cloned()
            .map(|row| {
                let stale_hours = row.latest.as_ref().and_then(|l| {
                    (l.status.is_open() && now - l.observed_at > stale_ms)
                        .then_some((now - l.observed_at) / 3_600_000)
                });
                let fill_percent = match (
                    row.shelter.capacity,
                    row.latest.as_ref().and_then(|l| l.evacuees),
                ) {
                    (Some(c), Some(e)) if c > 0 => Some(e * 100 / c),
                    _ => None,
                };
                BoardLine {
                    row,
                    stale_hours,
                    fill_percent,
                }
            })
            .collect();
        let evacuees = |l: &BoardLine| l.row.latest.as_ref().and_then(|r| r.evacuees);
        match q
            .sort
            .as_deref()
            .filter(|s| !s.is_empty())
            .unwrap_or("status")
        {
            "name" => lines.sort_by(|a, b| a.row.shelter.kana.cmp(&b.row.shelter.kana)),
            "evacuees" => lines.sort_by_key(|l| std::cmp::Reverse(evacuees(l))),
            "fill" => lines.sort_by_key(|l| std::cmp::Reverse(l.fill_percent)),
            "reported" => lines.sort_by_key(|l| l.row.latest.as_ref().map(|r| r.observed_at)),
            "status" => lines.sort_by_key(|l| {
                l.row.latest.as_ref().map_or(9, |r| match r.status {
                    ShelterStatus::Full => 0,
                    ShelterStatus::Open => 1,
                    ShelterStatus::NotOpen => 2,
                    ShelterStatus::Closed => 3,
                })
            }),
            "org" => {}
            _ => return Err(Invalid::new("sort", "err-sort").into()),
        }
        let mut per_org: Vec<Totals> = Vec::new();
        let mut index: HashMap<OrgId, usize> = HashMap::new();
        let mut overall = Totals::default();
        for l in &lines {
            let i = *index.entry(l.row.shelter.org_id).or_insert_with(|| {
                per_org.push(Totals {
                    org_name: l.row.shelter.org_name.clone(),
                    ..Totals::default()
                });
                per_org.len() - 1
            });
            per_org[i].add(l);
            overall.add(l);
        }
        Ok(Board {
            incident,
            access,
            lines,
            per_org,
            overall,
            orgs,
            now,
            stale_after_hours: (stale_ms / 3_600_000).max(1),
        })
    }

    /// A shelter as it concerns an incident (404 unless it belongs to it).
    pub async fn incident_shelter(
        &self,
        actor: &Actor,
        room: RoomId,
        shelter: ShelterId,
    ) -> AppResult<(Incident, Access, Shelter, Vec<ShelterReport>)> {
        let (incident, access) = self.incident(actor, room).await?;
        if !self.store.shelter_in_incident(room, shelter).await? {
            return Err(AppError::NotFound);
        }
        let s = self.store.shelter(shelter).await?;
        let history = self.store.reports(room, Some(shelter), 200).await?;
        Ok((incident, access, s, history))
    }

    /// Stores an as-of shelter report from a member of the incident.
    pub async fn report_shelter(
        &self,
        actor: &Actor,
        room: RoomId,
        form: ReportForm,
        key: IdemKey,
    ) -> AppResult<Written<crate::domain::ReportId>> {
        let (incident, access) = self.incident(actor, room).await?;
        let object = format!("room:{room}");
        if !access.is_member() {
            return Err(self
                .refuse(actor, "shelter.report", object, AppError::Forbidden)
                .await);
        }
        let report = match self.check_report(&incident, &form, actor.user.id) {
            Ok(r) => r,
            Err(e) => return Err(self.refuse(actor, "shelter.report", object, e).await),
        };
        if !self.store.shelter_in_incident(room, report.shelter).await? {
            return Err(self
                .refuse(
                    actor,
                    "shelter.report",
                    object,
                    AppError::Invalid(Invalid::new("shelter", "err-shelter-not-in-incident")),
                )
                .await);
        }
        let audit = self.audit_for(actor, "shelter.report", object);
        let w = self
            .store
            .report_shelter(
                report,
                Idem {
                    user_id: actor.user.id,
                    key,
                },
                self.now(),
                audit,
            )
            .await?;
        if !w.replayed {
            self.live.ring();
        }
        Ok(w)
    }

    /// The report a form describes, checked (the shelter's place in the incident aside).
    fn check_report(
        &self,
        incident: &Incident,
        form: &ReportForm,
        reporter: UserId,
    ) -> AppResult<NewReport> {
        if incident.is_closed() {
            return Err(AppError::Conflict("err-incident-closed"));
        }
        let shelter: ShelterId = form
            .shelter
            .trim()
            .parse()
            .map_err(|_| Invalid::new("shelter", "err-shelter-not-in-incident"))?;
        let status = ShelterStatus::parse(&form.status)?;
        let headcount = Headcount::new(
            parse_count(&form.evacuees, "evacuees")?,
            parse_count(&form.households, "households")?,
        )?;
        let needs = note(&form.needs, 1000, "needs")?;
        let note_text = note(&form.note, 2000, "note")?;
        let now = self.now();
        let observed_at = match form.observed_at.trim() {
            "" => now,
            s => s
                .parse::<i64>()
                .map_err(|_| Invalid::new("observed_at", "err-datetime"))?,
        };
        self.check_observed(incident, observed_at, now)?;
        Ok(NewReport {
            incident: incident.room_id,
            shelter,
            status,
            headcount,
            needs,
            note: note_text,
            observed_at,
            reporter,
        })
    }

    fn check_observed(&self, incident: &Incident, at: Millis, now: Millis) -> AppResult<()> {
        if at > now + CLOCK_SKEW_MS {
            return Err(Invalid::new("observed_at", "err-observed-future").into());
        }
        if at < incident.opened_at {
            return Err(Invalid::new("observed_at", "err-observed-before-incident").into());
        }
        Ok(())
    }

    /// Adds a shelter that is not in any registry during an incident (ad hoc), in the actor's
    /// organisation.
    pub async fn add_adhoc_shelter(
        &self,
        actor: &Actor,
        room: RoomId,
        form: ShelterForm,
    ) -> AppResult<ShelterId> {
        let (incident, access) = self.incident(actor, room).await?;
        if !access.is_member() {
            return Err(AppError::Forbidden);
        }
        if incident.is_closed() {
            return Err(AppError::Conflict("err-incident-closed"));
        }
        let row = form.parse(Designation::AdHoc)?;
        let audit = self.audit_for(actor, "shelter.add_adhoc", format!("room:{room}"));
        let sid = self
            .store
            .save_shelter(actor.user.org_id, None, row, Some(room), self.now(), audit)
            .await
            .map_err(|e| match e {
                crate::store::StoreError::Conflict(_) => AppError::Conflict("err-shelter-exists"),
                other => other.into(),
            })?;
        Ok(sid)
    }

    // --- the registry ---

    fn require_registry_admin(&self, actor: &Actor, org: OrgId) -> AppResult<()> {
        if Self::can_admin_org(actor, org) {
            Ok(())
        } else {
            Err(AppError::Forbidden)
        }
    }

    /// An organisation's registry: anyone signed in may read it.
    pub async fn registry(&self, org: OrgId) -> AppResult<Vec<Shelter>> {
        Ok(self.store.shelters(org).await?)
    }

    /// Adds or edits a shelter of the registry by hand (the organisation's admins).
    pub async fn save_shelter(
        &self,
        actor: &Actor,
        org: OrgId,
        id: Option<ShelterId>,
        form: ShelterForm,
    ) -> AppResult<ShelterId> {
        let object = format!("org:{org}");
        if let Err(e) = self.require_registry_admin(actor, org) {
            return Err(self.refuse(actor, "shelter.save", object, e).await);
        }
        let row = form.parse(Designation::Shelter)?;
        let audit = self.audit_for(actor, "shelter.save", object);
        self.store
            .save_shelter(org, id, row, None, self.now(), audit)
            .await
            .map_err(|e| match e {
                crate::store::StoreError::Conflict(_) => AppError::Conflict("err-shelter-exists"),
                other => other.into(),
            })
    }

    /// Reads a shelter file and says what importing it would do; saves nothing.
    pub async fn preview_shelters(
        &self,
        actor: &Actor,
        org: OrgId,
        text: String,
    ) -> AppResult<ShelterPreview> {
        self.require_registry_admin(actor, org)?;
        let mut preview = Preview::new(text);
        let parsed =
            match import::read_table(&preview.text).and_then(|t| import::parse_shelters(&t)) {
                Ok(p) => p,
                Err(p) => {
                    preview.file_problem = Some(p.key);
                    return Ok(ShelterPreview {
                        preview,
                        unused_columns: Vec::new(),
                        file_problem: Some(p),
                    });
                }
            };
        let index = self.store.shelter_index(org).await?;
        let mut good = Vec::new();
        let mut order = Vec::new();
        for r in parsed.rows {
            match r {
                Ok(row) => {
                    order.push(None);
                    good.push(row);
                }
                Err(problems) => order.push(Some(problems)),
            }
        }
        let actions: Vec<&'static str> =
            import::shelters::plan(good.clone(), &index.keys, &index.facts)
                .iter()
                .map(|step| step.action.as_str())
                .collect();
        // The file's own rows (before merging) are what the preview shows.
        let mut planned = good.into_iter().zip(actions);
        for slot in order {
            match slot {
                None => {
                    let Some((row, action)) = planned.next() else {
                        break;
                    };
                    preview.rows.push(ShelterPreviewRow {
                        line: row.line,
                        shelter: Some(row),
                        action,
                        problems: Vec::new(),
                    });
                }
                Some(problems) => preview.rows.push(ShelterPreviewRow {
                    line: problems.first().map(|p| p.line).unwrap_or(0),
                    shelter: None,
                    action: "add",
                    problems,
                }),
            }
        }
        if preview.rows.is_empty() {
            preview.file_problem = Some("err-import-empty");
        }
        let file_problem = preview.file_problem.map(Problem::file);
        Ok(ShelterPreview {
            preview,
            unused_columns: parsed.unused_columns,
            file_problem,
        })
    }

    /// Imports a shelter file into an organisation's registry. Refused with problems in the file
    /// unless `skip_invalid` (then rows with problems are left out); all or nothing. The file is
    /// read again here, but not classified: the store plans and applies in one transaction.
    pub async fn import_shelters(
        &self,
        actor: &Actor,
        org: OrgId,
        text: String,
        skip_invalid: bool,
    ) -> AppResult<ShelterImport> {
        let object = format!("org:{org}");
        if let Err(e) = self.require_registry_admin(actor, org) {
            return Err(self.refuse(actor, "shelter.import", object, e).await);
        }
        let parsed = match import::read_table(&text).and_then(|t| import::parse_shelters(&t)) {
            Ok(p) if p.rows.is_empty() => Err(Problem::file("err-import-empty")),
            other => other,
        };
        let parsed = match parsed {
            Ok(p) => p,
            Err(p) => {
                return Err(self
                    .refuse(actor, "shelter.import", object, file_error(p))
                    .await);
            }
        };
        let (mut rows, mut skipped) = (Vec::new(), Vec::new());
        for r in parsed.rows {
            match r {
                Ok(row) => rows.push(row),
                Err(problems) => skipped.push(problems),
            }
        }
        if rows.is_empty() || (!skipped.is_empty() && !skip_invalid) {
            return Err(self
                .refuse(
                    actor,
                    "shelter.import",
                    object,
                    AppError::Invalid(Invalid::new("file", "err-csv-has-problems")),
                )
                .await);
        }
        let audit = self.audit_for(actor, "shelter.import", object);
        let outcome = self
            .store
            .import_shelters(org, rows, self.now(), audit)
            .await?;
        Ok(ShelterImport {
            skipped,
            unused_columns: parsed.unused_columns,
            outcome,
        })
    }

    /// Reads a status snapshot for an incident; saves nothing. Rows with observations outside
    /// the incident's time are problems.
    pub async fn preview_snapshot(
        &self,
        actor: &Actor,
        room: RoomId,
        text: &str,
    ) -> AppResult<(Vec<Result<SnapshotRow, Vec<Problem>>>, Incident)> {
        let (incident, access) = self.incident(actor, room).await?;
        if !access.is_member() {
            return Err(AppError::Forbidden);
        }
        let table = import::read_table(text).map_err(file_error)?;
        let mut rows = import::parse_snapshot(&table).map_err(file_error)?;
        let now = self.now();
        for r in rows.iter_mut() {
            if let Ok(row) = r {
                if let Some(obs) = row
                    .observations
                    .iter()
                    .find(|o| self.check_observed(&incident, o.observed_at, now).is_err())
                {
                    let key = if obs.observed_at > now {
                        "err-observed-future"
                    } else {
                        "err-observed-before-incident"
                    };
                    *r = Err(vec![Problem::row(row.shelter.line, None, key, None)]);
                }
            }
        }
        Ok((rows, incident))
    }

    /// Imports a status snapshot into an incident as as-of reports, for the actor's
    /// organisation (or `org`, which must be one of the incident's). All or nothing.
    pub async fn import_snapshot(
        &self,
        actor: &Actor,
        room: RoomId,
        org: Option<OrgId>,
        text: &str,
    ) -> AppResult<ImportOutcome> {
        let object = format!("room:{room}");
        let (rows, incident) = match self.preview_snapshot(actor, room, text).await {
            Ok(v) => v,
            Err(e) => return Err(self.refuse(actor, "shelter.snapshot", object, e).await),
        };
        if incident.is_closed() {
            return Err(AppError::Conflict("err-incident-closed"));
        }
        let org = org.unwrap_or(actor.user.org_id);
        if !self
            .store
            .room_orgs(room)
            .await?
            .iter()
            .any(|o| o.id == org)
        {
            return Err(Invalid::new("org", "err-org-not-in-incident").into());
        }
        let mut good = Vec::new();
        for r in rows {
            match r {
                Ok(row) => good.push(row),
                Err(_) => {
                    return Err(self
                        .refuse(
                            actor,
                            "shelter.snapshot",
                            object,
                            AppError::Invalid(Invalid::new("file", "err-csv-has-problems")),
                        )
                        .await);
                }
            }
        }
        if good.is_empty() {
            return Err(Invalid::new("file", "err-import-empty").into());
        }
        let audit = self.audit_for(actor, "shelter.snapshot", object);
        let outcome = self
            .store
            .import_snapshot(room, org, good, actor.user.id, self.now(), audit)
            .await?;
        self.live.ring();
        Ok(outcome)
    }
}

/// How long a board is kept up to date from new reports alone before it is read whole again
/// (which also refreshes renamed organisations and reporters).
const BOARD_FULL_READ_MS: i64 = 60_000;

/// A copy of `rows` with `changed` rows replacing those of the same shelter or added, in board
/// order.
fn merge_board(rows: &[BoardRow], changed: Vec<BoardRow>) -> Vec<BoardRow> {
    let mut out = rows.to_vec();
    let mut added = false;
    for row in changed {
        match out.iter_mut().find(|r| r.shelter.id == row.shelter.id) {
            Some(r) => *r = row,
            None => {
                out.push(row);
                added = true;
            }
        }
    }
    if added {
        crate::store::sort_board(&mut out);
    }
    out
}
