//! `/api/v1` for incidents, shelter registries, shelter reports and the board.

use super::api::{ApiJson, Caller, CreatedOut, IdemHeader, OkOut, ProblemOut};
use super::parse_id;
use crate::app::{App, BoardQuery, IncidentForm, ReportForm, ShelterForm};
use crate::domain::{Invalid, OrgId, RoomId, ShelterId};
use crate::error::{AppError, AppResult};
use crate::store::{Incident, IncidentSummary, Shelter, ShelterReport, rfc3339};
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

fn parse_rfc3339(s: &str, field: &'static str) -> AppResult<i64> {
    time::OffsetDateTime::parse(s.trim(), &time::format_description::well_known::Rfc3339)
        .map(crate::store::millis)
        .map_err(|_| Invalid::new(field, "err-datetime").into())
}

/// An incident.
#[derive(Serialize, ToSchema)]
pub struct IncidentOut {
    #[schema(value_type = String, format = Uuid, max_length = 36)]
    pub id: RoomId,
    #[schema(max_length = 80)]
    pub name: String,
    /// earthquake, storm_flood, landslide, snow, tsunami, fire, other.
    #[schema(max_length = 20)]
    pub kind: String,
    pub level: i64,
    /// When it began (RFC 3339).
    #[schema(max_length = 40)]
    pub started_at: String,
    #[schema(max_length = 40, nullable)]
    pub closed_at: Option<String>,
    #[schema(max_length = 100)]
    pub opened_by: String,
}

impl From<&Incident> for IncidentOut {
    fn from(i: &Incident) -> Self {
        Self {
            id: i.room_id,
            name: i.name.clone(),
            kind: i.kind.as_str().into(),
            level: i.level,
            started_at: rfc3339(i.opened_at),
            closed_at: i.closed_at.map(rfc3339),
            opened_by: i.opened_by_name.clone(),
        }
    }
}

/// An incident in the caller's list, with its headline figures.
#[derive(Serialize, ToSchema)]
pub struct IncidentSummaryOut {
    #[serde(flatten)]
    pub incident: IncidentOut,
    /// False for incidents the deployment admin sees without being in them.
    pub member: bool,
    pub open_shelters: i64,
    pub evacuees: i64,
}

impl From<IncidentSummary> for IncidentSummaryOut {
    fn from(s: IncidentSummary) -> Self {
        Self {
            incident: IncidentOut::from(&s.incident),
            member: s.member,
            open_shelters: s.open_shelters,
            evacuees: s.evacuees,
        }
    }
}

/// A new incident.
#[derive(Deserialize, ToSchema)]
pub struct IncidentIn {
    #[schema(max_length = 80)]
    pub name: String,
    /// earthquake, storm_flood, landslide, snow, tsunami, fire, other.
    #[schema(max_length = 20)]
    pub kind: String,
    /// 1 to 5.
    pub level: i64,
    /// When it began (RFC 3339); now when absent.
    #[serde(default)]
    #[schema(max_length = 40, nullable)]
    pub started_at: Option<String>,
    /// Organisations involved, by short id, 全国地方公共団体コード or id.
    #[serde(default)]
    #[schema(max_items = 500)]
    pub orgs: Vec<String>,
}

/// The caller's incidents (every incident for the deployment admin), active first.
#[utoipa::path(get, path = "/api/v1/incidents", responses((status = 200, body = Vec<IncidentSummaryOut>), (status = 400), (status = 401)))]
pub async fn incidents(
    State(app): State<App>,
    c: Caller,
) -> AppResult<Json<Vec<IncidentSummaryOut>>> {
    Ok(Json(
        app.incidents(&c.s.actor)
            .await?
            .into_iter()
            .map(IncidentSummaryOut::from)
            .collect(),
    ))
}

/// Opens an incident: a room with the organisations involved; the caller manages it.
#[utoipa::path(post, path = "/api/v1/incidents", request_body = IncidentIn, params(IdemHeader),
    responses((status = 200, body = CreatedOut), (status = 400), (status = 401), (status = 413), (status = 422)))]
pub async fn open_incident(
    State(app): State<App>,
    c: Caller,
    headers: HeaderMap,
    ApiJson(body): ApiJson<IncidentIn>,
) -> AppResult<Json<CreatedOut>> {
    let key = c.write(&headers)?;
    let started_at_utc = match body.started_at.as_deref().filter(|s| !s.trim().is_empty()) {
        None => None,
        Some(s) => Some(parse_rfc3339(s, "started_at")?),
    };
    let form = IncidentForm {
        name: body.name,
        kind: body.kind,
        level: body.level.to_string(),
        started_at: String::new(),
        started_at_utc,
        orgs: body.orgs,
    };
    let w = app.open_incident(&c.s.actor, form, key).await?;
    Ok(Json(CreatedOut {
        id: w.value.0,
        replayed: w.replayed,
    }))
}

/// One incident.
#[utoipa::path(get, path = "/api/v1/incidents/{incident}", params(("incident" = String, Path)),
    responses((status = 200, body = IncidentOut), (status = 400), (status = 401), (status = 404)))]
pub async fn incident(
    State(app): State<App>,
    c: Caller,
    Path(room): Path<String>,
) -> AppResult<Json<IncidentOut>> {
    let (i, _) = app.incident(&c.s.actor, parse_id(&room)?).await?;
    Ok(Json(IncidentOut::from(&i)))
}

/// Closes an incident (its managers only); its room becomes read-only.
#[utoipa::path(post, path = "/api/v1/incidents/{incident}/close", params(("incident" = String, Path), IdemHeader),
    responses((status = 200, body = OkOut), (status = 400), (status = 401), (status = 403), (status = 404), (status = 409)))]
pub async fn close_incident(
    State(app): State<App>,
    c: Caller,
    headers: HeaderMap,
    Path(room): Path<String>,
) -> AppResult<Json<OkOut>> {
    c.write(&headers)?;
    let room: RoomId = parse_id(&room)?;
    match app.close_incident(&c.s.actor, room).await {
        Ok(()) => {}
        // Closing a closed incident again is what the caller wanted.
        Err(AppError::Conflict("err-incident-closed")) => {}
        Err(e) => return Err(e),
    }
    Ok(Json(OkOut { ok: true }))
}

/// A shelter.
#[derive(Serialize, ToSchema)]
pub struct ShelterOut {
    #[schema(value_type = String, format = Uuid, max_length = 36)]
    pub id: ShelterId,
    #[schema(value_type = String, format = Uuid, max_length = 36)]
    pub org_id: OrgId,
    #[schema(max_length = 100)]
    pub organisation: String,
    #[schema(max_length = 200)]
    pub name: String,
    #[schema(max_length = 200)]
    pub kana: String,
    #[schema(max_length = 300)]
    pub address: String,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    /// emergency, shelter, both, ad_hoc.
    #[schema(max_length = 20)]
    pub designation: String,
    #[schema(max_items = 8)]
    pub hazards: Vec<String>,
    pub capacity: Option<i64>,
    #[schema(max_length = 200)]
    pub capacity_text: String,
    #[schema(max_length = 60, nullable)]
    pub local_id: Option<String>,
    #[schema(max_length = 60, nullable)]
    pub common_id: Option<String>,
    #[schema(max_length = 40)]
    pub phone: String,
    #[schema(max_length = 1000)]
    pub note: String,
}

impl From<&Shelter> for ShelterOut {
    fn from(s: &Shelter) -> Self {
        Self {
            id: s.id,
            org_id: s.org_id,
            organisation: s.org_name.clone(),
            name: s.name.clone(),
            kana: s.kana.clone(),
            address: s.address.clone(),
            lat: s.position.map(|p| p.lat),
            lon: s.position.map(|p| p.lon),
            designation: s.designation.as_str().into(),
            hazards: s.hazards.words().into_iter().map(String::from).collect(),
            capacity: s.capacity,
            capacity_text: s.capacity_text.clone(),
            local_id: s.local_id.clone(),
            common_id: s.common_id.clone(),
            phone: s.phone.clone(),
            note: s.note.clone(),
        }
    }
}

/// A shelter to add or change.
#[derive(Deserialize, ToSchema)]
pub struct ShelterIn {
    #[schema(max_length = 200)]
    pub name: String,
    #[serde(default)]
    #[schema(max_length = 200)]
    pub kana: String,
    #[serde(default)]
    #[schema(max_length = 300)]
    pub address: String,
    #[serde(default)]
    pub lat: Option<f64>,
    #[serde(default)]
    pub lon: Option<f64>,
    /// emergency, shelter (default), both, ad_hoc.
    #[serde(default)]
    #[schema(max_length = 20)]
    pub designation: String,
    /// As written: `120人`.
    #[serde(default)]
    #[schema(max_length = 200)]
    pub capacity: String,
    #[serde(default)]
    #[schema(max_items = 8)]
    pub hazards: Vec<String>,
    #[serde(default)]
    #[schema(max_length = 40)]
    pub phone: String,
    #[serde(default)]
    #[schema(max_length = 1000)]
    pub note: String,
    #[serde(default)]
    #[schema(max_length = 60)]
    pub local_id: String,
    #[serde(default)]
    #[schema(max_length = 60)]
    pub common_id: String,
}

impl From<ShelterIn> for ShelterForm {
    fn from(s: ShelterIn) -> Self {
        let num = |v: Option<f64>| v.map(|x| x.to_string()).unwrap_or_default();
        ShelterForm {
            name: s.name,
            kana: s.kana,
            address: s.address,
            lat: num(s.lat),
            lon: num(s.lon),
            designation: s.designation,
            capacity: s.capacity,
            phone: s.phone,
            note: s.note,
            local_id: s.local_id,
            common_id: s.common_id,
            hazards: s.hazards,
        }
    }
}

/// An organisation's shelter registry.
#[utoipa::path(get, path = "/api/v1/orgs/{org}/shelters", params(("org" = String, Path)),
    responses((status = 200, body = Vec<ShelterOut>), (status = 400), (status = 401), (status = 404)))]
pub async fn shelters(
    State(app): State<App>,
    _c: Caller,
    Path(org): Path<String>,
) -> AppResult<Json<Vec<ShelterOut>>> {
    let org: OrgId = parse_id(&org)?;
    app.store.org(org).await?;
    Ok(Json(
        app.registry(org)
            .await?
            .iter()
            .map(ShelterOut::from)
            .collect(),
    ))
}

/// Adds a shelter to an organisation's registry (its admins).
#[utoipa::path(post, path = "/api/v1/orgs/{org}/shelters", request_body = ShelterIn, params(("org" = String, Path), IdemHeader),
    responses((status = 200, body = CreatedOut), (status = 400), (status = 401), (status = 403), (status = 404), (status = 409), (status = 413), (status = 422)))]
pub async fn add_shelter(
    State(app): State<App>,
    c: Caller,
    headers: HeaderMap,
    Path(org): Path<String>,
    ApiJson(body): ApiJson<ShelterIn>,
) -> AppResult<Json<CreatedOut>> {
    c.write(&headers)?;
    let org: OrgId = parse_id(&org)?;
    app.store.org(org).await?;
    let sid = app.save_shelter(&c.s.actor, org, None, body.into()).await?;
    Ok(Json(CreatedOut {
        id: sid.0,
        replayed: false,
    }))
}

/// Changes a shelter of an organisation's registry (its admins).
#[utoipa::path(put, path = "/api/v1/orgs/{org}/shelters/{shelter}", request_body = ShelterIn,
    params(("org" = String, Path), ("shelter" = String, Path), IdemHeader),
    responses((status = 200, body = OkOut), (status = 400), (status = 401), (status = 403), (status = 404), (status = 409), (status = 413), (status = 422)))]
pub async fn change_shelter(
    State(app): State<App>,
    c: Caller,
    headers: HeaderMap,
    Path((org, shelter)): Path<(String, String)>,
    ApiJson(body): ApiJson<ShelterIn>,
) -> AppResult<Json<OkOut>> {
    c.write(&headers)?;
    let (org, sid): (OrgId, ShelterId) = (parse_id(&org)?, parse_id(&shelter)?);
    if app.store.shelter(sid).await?.org_id != org {
        return Err(AppError::NotFound);
    }
    app.save_shelter(&c.s.actor, org, Some(sid), body.into())
        .await?;
    Ok(Json(OkOut { ok: true }))
}

/// A shelter file to check (and import with `apply`).
#[derive(Deserialize, ToSchema)]
pub struct ShelterImportIn {
    /// The file as text (CSV or GeoJSON; decode Shift_JIS before sending).
    #[schema(max_length = 8388608)]
    pub text: String,
    #[serde(default)]
    pub apply: bool,
    /// Import the good rows even when some have problems.
    #[serde(default)]
    pub skip_invalid: bool,
}

/// A row with problems.
#[derive(Serialize, ToSchema)]
pub struct RowProblemsOut {
    pub line: i64,
    #[schema(max_items = 50)]
    pub problems: Vec<ColumnProblemOut>,
}

/// One problem of a row.
#[derive(Serialize, ToSchema)]
pub struct ColumnProblemOut {
    #[schema(max_length = 200, nullable)]
    pub column: Option<String>,
    #[serde(flatten)]
    pub problem: ProblemOut,
}

/// What a shelter file would do (or did).
#[derive(Serialize, ToSchema)]
pub struct ShelterImportOut {
    pub adds: i64,
    pub updates: i64,
    pub unchanged: i64,
    #[schema(max_items = 20000)]
    pub rows_with_problems: Vec<RowProblemsOut>,
    #[schema(max_items = 200)]
    pub unused_columns: Vec<String>,
    pub applied: bool,
}

fn row_problems(
    t: &crate::i18n::Tr,
    line: usize,
    problems: &[crate::import::Problem],
) -> RowProblemsOut {
    RowProblemsOut {
        line: line as i64,
        problems: problems
            .iter()
            .map(|p| ColumnProblemOut {
                column: p.column.clone(),
                problem: ProblemOut {
                    code: p.key.to_string(),
                    message: t.t(p.key),
                },
            })
            .collect(),
    }
}

/// Checks a shelter file row by row; with `apply`, imports it (all good rows or nothing).
#[utoipa::path(post, path = "/api/v1/orgs/{org}/shelters/import", request_body = ShelterImportIn,
    params(("org" = String, Path), IdemHeader),
    responses((status = 200, body = ShelterImportOut), (status = 400), (status = 401), (status = 403), (status = 404), (status = 413), (status = 422)))]
pub async fn import_shelters(
    State(app): State<App>,
    c: Caller,
    headers: HeaderMap,
    Path(org): Path<String>,
    ApiJson(body): ApiJson<ShelterImportIn>,
) -> AppResult<Json<ShelterImportOut>> {
    c.write(&headers)?;
    let org: OrgId = parse_id(&org)?;
    app.store.org(org).await?;
    let t = c.s.tr;
    if body.apply {
        let done = app
            .import_shelters(&c.s.actor, org, body.text, body.skip_invalid)
            .await?;
        return Ok(Json(ShelterImportOut {
            adds: done.outcome.added,
            updates: done.outcome.updated,
            unchanged: done.outcome.unchanged,
            rows_with_problems: done
                .skipped
                .iter()
                .map(|p| row_problems(&t, p.first().map(|x| x.line).unwrap_or(0), p))
                .collect(),
            unused_columns: done.unused_columns,
            applied: true,
        }));
    }
    let preview = app.preview_shelters(&c.s.actor, org, body.text).await?;
    if let Some(fp) = &preview.file_problem {
        return Err(Invalid::new("text", fp.key).into());
    }
    let rows_with_problems = preview
        .preview
        .rows
        .iter()
        .filter(|r| !r.problems.is_empty())
        .map(|r| row_problems(&t, r.line, &r.problems))
        .collect();
    Ok(Json(ShelterImportOut {
        adds: preview.preview.adds(),
        updates: preview.preview.updates(),
        unchanged: preview.unchanged(),
        rows_with_problems,
        unused_columns: preview.unused_columns,
        applied: false,
    }))
}

/// An as-of shelter report.
#[derive(Serialize, ToSchema)]
pub struct ReportOut {
    #[schema(value_type = String, format = Uuid, max_length = 36)]
    pub id: crate::domain::ReportId,
    #[schema(value_type = String, format = Uuid, max_length = 36)]
    pub shelter_id: ShelterId,
    #[schema(max_length = 200)]
    pub shelter: String,
    /// not_open, open, full, closed.
    #[schema(max_length = 20)]
    pub status: String,
    pub evacuees: Option<i64>,
    pub households: Option<i64>,
    #[schema(max_length = 1000)]
    pub needs: String,
    #[schema(max_length = 2000)]
    pub note: String,
    /// When it was observed (RFC 3339).
    #[schema(max_length = 40)]
    pub observed_at: String,
    #[schema(max_length = 40)]
    pub received_at: String,
    #[schema(max_length = 100)]
    pub reporter: String,
    #[schema(max_length = 100)]
    pub reporter_organisation: String,
    /// form or snapshot.
    #[schema(max_length = 20)]
    pub source: String,
}

impl From<&ShelterReport> for ReportOut {
    fn from(r: &ShelterReport) -> Self {
        Self {
            id: r.id,
            shelter_id: r.shelter_id,
            shelter: r.shelter_name.clone(),
            status: r.status.as_str().into(),
            evacuees: r.evacuees,
            households: r.households,
            needs: r.needs.clone(),
            note: r.note.clone(),
            observed_at: rfc3339(r.observed_at),
            received_at: rfc3339(r.received_at),
            reporter: r.reporter_name.clone(),
            reporter_organisation: r.reporter_org.clone(),
            source: r.source.clone(),
        }
    }
}

/// A report to store.
#[derive(Deserialize, ToSchema)]
pub struct ReportIn {
    #[schema(value_type = String, format = Uuid, max_length = 36)]
    pub shelter: String,
    /// not_open, open, full, closed.
    #[schema(max_length = 20)]
    pub status: String,
    #[serde(default)]
    pub evacuees: Option<i64>,
    #[serde(default)]
    pub households: Option<i64>,
    #[serde(default)]
    #[schema(max_length = 1000)]
    pub needs: String,
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub note: String,
    /// When it was observed (RFC 3339); the time received when absent.
    #[serde(default)]
    #[schema(max_length = 40, nullable)]
    pub observed_at: Option<String>,
}

#[derive(Deserialize, IntoParams)]
pub struct ReportsQuery {
    /// Only this shelter's reports.
    #[param(max_length = 36)]
    pub shelter: Option<String>,
}

/// An incident's reports, newest observation first (at most 1,000).
#[utoipa::path(get, path = "/api/v1/incidents/{incident}/reports", params(("incident" = String, Path), ReportsQuery),
    responses((status = 200, body = Vec<ReportOut>), (status = 400), (status = 401), (status = 404)))]
pub async fn reports(
    State(app): State<App>,
    c: Caller,
    Path(room): Path<String>,
    Query(q): Query<ReportsQuery>,
) -> AppResult<Json<Vec<ReportOut>>> {
    let room: RoomId = parse_id(&room)?;
    app.incident(&c.s.actor, room).await?;
    let shelter = match q.shelter.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(parse_id::<ShelterId>(s)?),
    };
    Ok(Json(
        app.store
            .reports(room, shelter, 1000)
            .await?
            .iter()
            .map(ReportOut::from)
            .collect(),
    ))
}

/// Reports a shelter's status as observed at a time.
#[utoipa::path(post, path = "/api/v1/incidents/{incident}/reports", request_body = ReportIn,
    params(("incident" = String, Path), IdemHeader),
    responses((status = 200, body = CreatedOut), (status = 400), (status = 401), (status = 403), (status = 404), (status = 409), (status = 413), (status = 422)))]
pub async fn report(
    State(app): State<App>,
    c: Caller,
    headers: HeaderMap,
    Path(room): Path<String>,
    ApiJson(body): ApiJson<ReportIn>,
) -> AppResult<Json<CreatedOut>> {
    let key = c.write(&headers)?;
    let room: RoomId = parse_id(&room)?;
    let observed_at = match body.observed_at.as_deref().filter(|s| !s.trim().is_empty()) {
        None => String::new(),
        Some(s) => parse_rfc3339(s, "observed_at")?.to_string(),
    };
    let n = |v: Option<i64>| v.map(|x| x.to_string()).unwrap_or_default();
    let form = ReportForm {
        shelter: body.shelter,
        status: body.status,
        evacuees: n(body.evacuees),
        households: n(body.households),
        needs: body.needs,
        note: body.note,
        observed_at,
    };
    let w = app.report_shelter(&c.s.actor, room, form, key).await?;
    Ok(Json(CreatedOut {
        id: w.value.0,
        replayed: w.replayed,
    }))
}

/// Adds a shelter that is not in any registry during the incident (ad hoc).
#[utoipa::path(post, path = "/api/v1/incidents/{incident}/shelters", request_body = ShelterIn,
    params(("incident" = String, Path), IdemHeader),
    responses((status = 200, body = CreatedOut), (status = 400), (status = 401), (status = 403), (status = 404), (status = 409), (status = 413), (status = 422)))]
pub async fn add_adhoc(
    State(app): State<App>,
    c: Caller,
    headers: HeaderMap,
    Path(room): Path<String>,
    ApiJson(body): ApiJson<ShelterIn>,
) -> AppResult<Json<CreatedOut>> {
    c.write(&headers)?;
    let room: RoomId = parse_id(&room)?;
    let sid = app.add_adhoc_shelter(&c.s.actor, room, body.into()).await?;
    Ok(Json(CreatedOut {
        id: sid.0,
        replayed: false,
    }))
}

#[derive(Deserialize, IntoParams)]
pub struct BoardParams {
    /// Only this organisation's shelters (its id).
    #[param(max_length = 36)]
    pub org: Option<String>,
    /// not_open, open, full, closed or unreported.
    #[param(max_length = 20)]
    pub status: Option<String>,
    /// status (default), org, name, evacuees, fill, reported.
    #[param(max_length = 20)]
    pub sort: Option<String>,
}

/// Totals of shelters shown.
#[derive(Serialize, ToSchema)]
pub struct TotalsOut {
    /// Empty for the overall totals.
    #[schema(max_length = 100)]
    pub organisation: String,
    pub shelters: i64,
    pub open: i64,
    pub evacuees: i64,
    pub households: i64,
}

impl From<&crate::app::Totals> for TotalsOut {
    fn from(t: &crate::app::Totals) -> Self {
        Self {
            organisation: t.org_name.clone(),
            shelters: t.shelters,
            open: t.open,
            evacuees: t.evacuees,
            households: t.households,
        }
    }
}

/// One board row.
#[derive(Serialize, ToSchema)]
pub struct BoardRowOut {
    pub shelter: ShelterOut,
    #[schema(nullable)]
    pub latest: Option<ReportOut>,
    /// Hours since the last report when the shelter is open and that is too long.
    pub stale_hours: Option<i64>,
    pub fill_percent: Option<i64>,
}

/// The shelter board of an incident.
#[derive(Serialize, ToSchema)]
pub struct BoardOut {
    pub incident: IncidentOut,
    pub overall: TotalsOut,
    #[schema(max_items = 1000)]
    pub per_organisation: Vec<TotalsOut>,
    #[schema(max_items = 100000)]
    pub rows: Vec<BoardRowOut>,
}

/// The shelter board: every shelter with its newest observation, totals, staleness.
#[utoipa::path(get, path = "/api/v1/incidents/{incident}/board", params(("incident" = String, Path), BoardParams),
    responses((status = 200, body = BoardOut), (status = 400), (status = 401), (status = 404), (status = 422)))]
pub async fn board(
    State(app): State<App>,
    c: Caller,
    Path(room): Path<String>,
    Query(q): Query<BoardParams>,
) -> AppResult<Json<BoardOut>> {
    let room: RoomId = parse_id(&room)?;
    let b = app
        .board(
            &c.s.actor,
            room,
            &BoardQuery {
                org: q.org,
                status: q.status,
                sort: q.sort,
            },
        )
        .await?;
    Ok(Json(BoardOut {
        incident: IncidentOut::from(&b.incident),
        overall: TotalsOut::from(&b.overall),
        per_organisation: b.per_org.iter().map(TotalsOut::from).collect(),
        rows: b
            .lines
            .iter()
            .map(|l| BoardRowOut {
                shelter: ShelterOut::from(&l.row.shelter),
                latest: l.row.latest.as_ref().map(ReportOut::from),
                stale_hours: l.stale_hours,
                fill_percent: l.fill_percent,
            })
            .collect(),
    }))
}

/// A status snapshot to check (and store with `apply`).
#[derive(Deserialize, ToSchema)]
pub struct SnapshotIn {
    /// The published CSV as text.
    #[schema(max_length = 8388608)]
    pub text: String,
    /// Whose shelters (an organisation of the incident; the caller's by default).
    #[serde(default)]
    #[schema(max_length = 36, nullable)]
    pub org: Option<String>,
    #[serde(default)]
    pub apply: bool,
}

/// What a snapshot would store (or stored).
#[derive(Serialize, ToSchema)]
pub struct SnapshotOut {
    pub rows: i64,
    pub observations: i64,
    #[schema(max_items = 20000)]
    pub rows_with_problems: Vec<RowProblemsOut>,
    pub applied: bool,
    /// Reports stored and ad hoc shelters created (when applied).
    pub reports_stored: i64,
    pub shelters_added: i64,
}

/// Checks a published status CSV against the incident; with `apply`, stores its as-of reports.
#[utoipa::path(post, path = "/api/v1/incidents/{incident}/snapshot", request_body = SnapshotIn,
    params(("incident" = String, Path), IdemHeader),
    responses((status = 200, body = SnapshotOut), (status = 400), (status = 401), (status = 403), (status = 404), (status = 409), (status = 413), (status = 422)))]
pub async fn snapshot(
    State(app): State<App>,
    c: Caller,
    headers: HeaderMap,
    Path(room): Path<String>,
    ApiJson(body): ApiJson<SnapshotIn>,
) -> AppResult<Json<SnapshotOut>> {
    c.write(&headers)?;
    let room: RoomId = parse_id(&room)?;
    let t = c.s.tr;
    let (rows, _) = app.preview_snapshot(&c.s.actor, room, &body.text).await?;
    let rows_with_problems: Vec<RowProblemsOut> = rows
        .iter()
        .filter_map(|r| r.as_ref().err())
        .map(|p| row_problems(&t, p.first().map(|x| x.line).unwrap_or(0), p))
        .collect();
    let observations = rows
        .iter()
        .flatten()
        .map(|r| r.observations.len() as i64)
        .sum();
    let mut out = SnapshotOut {
        rows: rows.len() as i64,
        observations,
        rows_with_problems,
        applied: false,
        reports_stored: 0,
        shelters_added: 0,
    };
    if body.apply {
        let org = match body.org.as_deref().filter(|s| !s.is_empty()) {
            None => None,
            Some(s) => Some(
                s.parse::<OrgId>()
                    .map_err(|_| Invalid::new("org", "err-org-not-in-incident"))?,
            ),
        };
        let o = app
            .import_snapshot(&c.s.actor, room, org, &body.text)
            .await?;
        out.applied = true;
        out.reports_stored = o.reports;
        out.shelters_added = o.added;
    }
    Ok(Json(out))
}
