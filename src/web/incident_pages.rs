//! Pages of incidents: opening one, the shelter board, shelter reports, status snapshots, and
//! the shelter registry of an organisation.

use super::pages::{Ctx, parse_id, problem};
use super::session::{Session, Upload, Write, idem_key, wants_json};
use crate::app::{
    Access, App, Board, BoardQuery, IncidentForm, ReportForm, ShelterForm, ShelterPreview,
};
use crate::domain::*;
use crate::error::{AppError, AppResult};
use crate::import::SnapshotRow;
use crate::store::{ImportOutcome, Incident, Org, Shelter, ShelterReport};
use askama::Template;
use askama_web::WebTemplate;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use std::collections::HashMap;

// ---------- opening an incident ----------

#[derive(Template, WebTemplate)]
#[template(path = "incident_new.html")]
struct NewIncidentPage {
    ctx: Ctx,
    orgs: Vec<Org>,
    kinds: &'static [IncidentKind],
    error: Option<String>,
    form: IncidentForm,
}

impl NewIncidentPage {
    fn checked(&self, org: &Org) -> bool {
        self.form.orgs.contains(&org.slug)
    }
}

pub async fn incident_new(State(app): State<App>, s: Session) -> AppResult<Response> {
    let ctx = Ctx::new(&app, &s, s.tr.t("ui-incident-open")).await?;
    Ok(NewIncidentPage {
        ctx,
        orgs: app.store.list_orgs().await?,
        kinds: IncidentKind::ALL,
        error: None,
        form: IncidentForm {
            level: "3".into(),
            ..IncidentForm::default()
        },
    }
    .into_response())
}

/// Opens an incident. The organisations come as checkboxes named `org:<short id>`.
pub async fn incident_create(
    State(app): State<App>,
    w: Write<HashMap<String, String>>,
) -> AppResult<Response> {
    let Write { s, form, headers } = w;
    let get = |k: &str| form.get(k).cloned().unwrap_or_default();
    let mut orgs: Vec<String> = form
        .keys()
        .filter_map(|k| k.strip_prefix("org:").map(str::to_string))
        .collect();
    orgs.sort();
    let input = IncidentForm {
        name: get("name"),
        kind: get("kind"),
        level: get("level"),
        started_at: get("started_at"),
        started_at_utc: None,
        orgs,
    };
    let key = idem_key(&headers, form.get("idem").map(String::as_str))?;
    match app.open_incident(&s.actor, input.clone(), key).await {
        Ok(w) => Ok(Redirect::to(&format!("/incidents/{}/board", w.value)).into_response()),
        Err(e @ AppError::Invalid(_)) => {
            let ctx = Ctx::new(&app, &s, s.tr.t("ui-incident-open")).await?;
            let page = NewIncidentPage {
                error: Some(problem(&s.tr, &e)),
                ctx,
                orgs: app.store.list_orgs().await?,
                kinds: IncidentKind::ALL,
                form: input,
            };
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(e) => Err(e),
    }
}

pub async fn incident_close(
    State(app): State<App>,
    Path(room): Path<String>,
    w: Write<HashMap<String, String>>,
) -> AppResult<Response> {
    let room = parse_id(&room)?;
    app.close_incident(&w.s.actor, room).await?;
    Ok(Redirect::to(&format!("/incidents/{room}/board")).into_response())
}

pub async fn incident_join(
    State(app): State<App>,
    Path(room): Path<String>,
    w: Write<HashMap<String, String>>,
) -> AppResult<Response> {
    let room = parse_id(&room)?;
    app.join_incident(&w.s.actor, room).await?;
    Ok(Redirect::to(&format!("/rooms/{room}")).into_response())
}

// ---------- the board ----------

#[derive(Deserialize, Default)]
pub struct BoardParams {
    org: Option<String>,
    status: Option<String>,
    sort: Option<String>,
    /// `1`: only the board section (live refresh).
    partial: Option<String>,
}

impl BoardParams {
    fn query(&self) -> BoardQuery {
        BoardQuery {
            org: self.org.clone(),
            status: self.status.clone(),
            sort: self.sort.clone(),
        }
    }
    /// The filter part of the query string, for the CSV link.
    fn query_string(&self) -> String {
        let mut parts = Vec::new();
        for (k, v) in [
            ("org", &self.org),
            ("status", &self.status),
            ("sort", &self.sort),
        ] {
            if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
                parts.push(format!("{k}={}", urlencoding::encode(v)));
            }
        }
        parts.join("&")
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "board.html")]
struct BoardPage {
    ctx: Ctx,
    b: Board,
    org: String,
    status: String,
    sort: String,
    csv_query: String,
    statuses: &'static [ShelterStatus],
    adhoc_error: Option<String>,
}

#[derive(Template)]
#[template(path = "_board.html")]
struct BoardPartial<'a> {
    ctx: &'a Ctx,
    b: &'a Board,
}

/// Helpers the board templates share.
trait BoardView {
    fn b(&self) -> &Board;
    fn is_manager(&self) -> bool {
        self.b().access.can_manage()
    }
    fn is_member(&self) -> bool {
        self.b().access.is_member()
    }
}

impl BoardView for BoardPage {
    fn b(&self) -> &Board {
        &self.b
    }
}
impl BoardView for BoardPartial<'_> {
    fn b(&self) -> &Board {
        self.b
    }
}

pub async fn board(
    State(app): State<App>,
    s: Session,
    Path(room): Path<String>,
    Query(q): Query<BoardParams>,
) -> AppResult<Response> {
    let room = parse_id(&room)?;
    let b = app.board(&s.actor, room, &q.query()).await?;
    let ctx = Ctx::new(&app, &s, b.incident.name.clone()).await?;
    if q.partial.as_deref() == Some("1") {
        let html = BoardPartial { ctx: &ctx, b: &b }
            .render()
            .map_err(|e| AppError::Internal(e.to_string()))?;
        return Ok(Html(html).into_response());
    }
    Ok(BoardPage {
        ctx,
        org: q.org.clone().unwrap_or_default(),
        status: q.status.clone().unwrap_or_default(),
        sort: q.sort.clone().unwrap_or_default(),
        csv_query: q.query_string(),
        b,
        statuses: ShelterStatus::ALL,
        adhoc_error: None,
    }
    .into_response())
}

/// A cell that a spreadsheet would run as a formula is written with a leading `'`.
fn defuse(s: String) -> String {
    if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s
    }
}

/// The board as CSV (CRLF, with a BOM so Excel reads it as UTF-8).
fn board_csv_bytes(t: &crate::i18n::Tr, b: &Board) -> AppResult<Vec<u8>> {
    let mut out = "\u{feff}".as_bytes().to_vec();
    {
        let mut w = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .from_writer(&mut out);
        let fail = |e: csv::Error| AppError::Internal(format!("board CSV: {e}"));
        let header = [
            "ui-organisation",
            "ui-shelter",
            "ui-shelter-address",
            "ui-designation",
            "ui-status",
            "ui-evacuees",
            "ui-households",
            "ui-capacity",
            "ui-observed-at",
            "ui-reporter",
            "ui-needs",
            "ui-note",
        ];
        w.write_record(header.iter().map(|k| t.t(k)))
            .map_err(fail)?;
        for l in &b.lines {
            let sh = &l.row.shelter;
            let r = l.row.latest.as_ref();
            let n = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
            let fields = [
                sh.org_name.clone(),
                sh.name.clone(),
                sh.address.clone(),
                t.t(sh.designation.ui_key()),
                r.map(|r| t.t(r.status.ui_key()))
                    .unwrap_or_else(|| t.t("ui-unreported")),
                n(r.and_then(|r| r.evacuees)),
                n(r.and_then(|r| r.households)),
                sh.capacity_text.clone(),
                r.map(|r| t.time(r.observed_at)).unwrap_or_default(),
                r.map(|r| r.reporter_name.clone()).unwrap_or_default(),
                r.map(|r| r.needs.clone()).unwrap_or_default(),
                r.map(|r| r.note.clone()).unwrap_or_default(),
            ];
            w.write_record(fields.into_iter().map(defuse))
                .map_err(fail)?;
        }
        w.flush()
            .map_err(|e| AppError::Internal(format!("board CSV: {e}")))?;
    }
    Ok(out)
}

/// The board as shown (same filters and order), as CSV.
pub async fn board_csv(
    State(app): State<App>,
    s: Session,
    Path(room): Path<String>,
    Query(q): Query<BoardParams>,
) -> AppResult<Response> {
    let room = parse_id(&room)?;
    let b = app.board(&s.actor, room, &q.query()).await?;
    let out = board_csv_bytes(&s.tr, &b)?;
    Ok(super::csv_file(out, &format!("shelters-{room}.csv")))
}

/// Adds an ad hoc shelter from the board; then its report form.
pub async fn adhoc_create(
    State(app): State<App>,
    Path(room): Path<String>,
    w: Write<ShelterFields>,
) -> AppResult<Response> {
    let room = parse_id(&room)?;
    let Write { s, form, headers } = w;
    match app.add_adhoc_shelter(&s.actor, room, form.into()).await {
        Ok(sid) if wants_json(&headers, "") => {
            Ok((StatusCode::CREATED, Json(serde_json::json!({"id": sid}))).into_response())
        }
        Ok(sid) => Ok(Redirect::to(&format!("/incidents/{room}/shelters/{sid}")).into_response()),
        Err(e @ (AppError::Invalid(_) | AppError::Conflict(_))) if !wants_json(&headers, "") => {
            let b = app.board(&s.actor, room, &BoardQuery::default()).await?;
            let ctx = Ctx::new(&app, &s, b.incident.name.clone()).await?;
            let page = BoardPage {
                adhoc_error: Some(problem(&s.tr, &e)),
                ctx,
                b,
                org: String::new(),
                status: String::new(),
                sort: String::new(),
                csv_query: String::new(),
                statuses: ShelterStatus::ALL,
            };
            Ok((e.status(), page).into_response())
        }
        Err(e) => Err(e),
    }
}

// ---------- a shelter in an incident: the report form and history ----------

#[derive(Template, WebTemplate)]
#[template(path = "shelter_report.html")]
struct ReportPage {
    ctx: Ctx,
    incident: Incident,
    access: Access,
    shelter: Shelter,
    history: Vec<ShelterReport>,
    statuses: &'static [ShelterStatus],
    error: Option<String>,
    form: ReportForm,
    done: bool,
}

impl ReportPage {
    fn current(&self) -> String {
        self.history
            .first()
            .map(|r| r.status.as_str().to_string())
            .unwrap_or_default()
    }
    fn checked(&self, st: &ShelterStatus) -> bool {
        if self.form.status.is_empty() {
            self.current() == st.as_str()
        } else {
            self.form.status == st.as_str()
        }
    }
    fn can_report(&self) -> bool {
        self.access.is_member() && !self.incident.is_closed()
    }
    fn coords(&self) -> String {
        self.shelter
            .position
            .map(|p| format!("{:.6}, {:.6}", p.lat, p.lon))
            .unwrap_or_default()
    }
}

#[derive(Deserialize)]
pub struct ReportQuery {
    done: Option<String>,
}

pub async fn shelter_page(
    State(app): State<App>,
    s: Session,
    Path((room, shelter)): Path<(String, String)>,
    Query(q): Query<ReportQuery>,
) -> AppResult<Response> {
    let (room, shelter) = (parse_id(&room)?, parse_id(&shelter)?);
    let (incident, access, shelter, history) =
        app.incident_shelter(&s.actor, room, shelter).await?;
    let ctx = Ctx::new(&app, &s, shelter.name.clone()).await?;
    Ok(ReportPage {
        ctx,
        incident,
        access,
        shelter,
        history,
        statuses: ShelterStatus::ALL,
        error: None,
        form: ReportForm::default(),
        done: q.done.is_some(),
    }
    .into_response())
}

#[derive(Deserialize, Default)]
pub struct ReportFields {
    #[serde(default)]
    shelter: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    evacuees: String,
    #[serde(default)]
    households: String,
    #[serde(default)]
    needs: String,
    #[serde(default)]
    note: String,
    #[serde(default)]
    observed_at: String,
    #[serde(default)]
    idem: String,
}

impl From<&ReportFields> for ReportForm {
    fn from(f: &ReportFields) -> Self {
        ReportForm {
            shelter: f.shelter.clone(),
            status: f.status.clone(),
            evacuees: f.evacuees.clone(),
            households: f.households.clone(),
            needs: f.needs.clone(),
            note: f.note.clone(),
            observed_at: f.observed_at.clone(),
        }
    }
}

/// Stores a shelter report (from the form, or the outbox with an idempotency key).
pub async fn report_create(
    State(app): State<App>,
    Path(room): Path<String>,
    w: Write<ReportFields>,
) -> AppResult<Response> {
    let room = parse_id(&room)?;
    let Write { s, form, headers } = w;
    let key = idem_key(&headers, Some(&form.idem))?;
    let input = ReportForm::from(&form);
    match app.report_shelter(&s.actor, room, input.clone(), key).await {
        Ok(w) if wants_json(&headers, "") => {
            let status = if w.replayed {
                StatusCode::OK
            } else {
                StatusCode::CREATED
            };
            Ok((
                status,
                Json(serde_json::json!({"id": w.value, "replayed": w.replayed})),
            )
                .into_response())
        }
        Ok(_) => Ok(Redirect::to(&format!(
            "/incidents/{room}/shelters/{}?done=1",
            form.shelter.trim()
        ))
        .into_response()),
        Err(e @ (AppError::Invalid(_) | AppError::Conflict(_))) if !wants_json(&headers, "") => {
            let Ok(sid) = form.shelter.trim().parse::<ShelterId>() else {
                return Err(e);
            };
            let (incident, access, shelter, history) =
                app.incident_shelter(&s.actor, room, sid).await?;
            let ctx = Ctx::new(&app, &s, shelter.name.clone()).await?;
            let page = ReportPage {
                ctx,
                incident,
                access,
                shelter,
                history,
                statuses: ShelterStatus::ALL,
                error: Some(problem(&s.tr, &e)),
                form: input,
                done: false,
            };
            Ok((e.status(), page).into_response())
        }
        Err(e) => Err(e),
    }
}

// ---------- status snapshots ----------

#[derive(Template, WebTemplate)]
#[template(path = "snapshot.html")]
struct SnapshotPage {
    ctx: Ctx,
    incident: Incident,
    orgs: Vec<Org>,
    org: String,
    rows: Vec<Result<SnapshotRow, Vec<crate::import::Problem>>>,
    text: String,
    error: Option<String>,
    done: Option<ImportOutcome>,
}

impl SnapshotPage {
    fn ok(&self) -> bool {
        !self.rows.is_empty() && self.rows.iter().all(|r| r.is_ok())
    }
    fn problem_count(&self) -> i64 {
        self.rows.iter().filter(|r| r.is_err()).count() as i64
    }
    fn row_count(&self) -> i64 {
        self.rows.len() as i64
    }
}

async fn snapshot_page(app: &App, s: &Session, room: RoomId) -> AppResult<SnapshotPage> {
    let (incident, access) = app.incident(&s.actor, room).await?;
    if !access.is_member() {
        return Err(AppError::Forbidden);
    }
    let ctx = Ctx::new(app, s, s.tr.t("ui-snapshot-import")).await?;
    Ok(SnapshotPage {
        ctx,
        incident,
        orgs: app.store.room_orgs(room).await?,
        org: s.actor.user.org_id.to_string(),
        rows: Vec::new(),
        text: String::new(),
        error: None,
        done: None,
    })
}

pub async fn snapshot_form(
    State(app): State<App>,
    s: Session,
    Path(room): Path<String>,
) -> AppResult<Response> {
    let room = parse_id(&room)?;
    Ok(snapshot_page(&app, &s, room).await?.into_response())
}

/// The text of an upload form: the file decoded (UTF-8, UTF-16 or Shift_JIS), else the text
/// carried from the preview.
fn upload_text(u: &Upload) -> AppResult<String> {
    match u.files.iter().find(|f| !f.is_empty()) {
        Some(file) => crate::import::decode_text(file)
            .map_err(|p| AppError::Invalid(Invalid::new("file", p.key))),
        None => Ok(u.field("text")),
    }
}

/// Checks an uploaded snapshot and shows what it would store; with `confirm`, stores it.
pub async fn snapshot_submit(
    State(app): State<App>,
    Path(room): Path<String>,
    u: Upload,
) -> AppResult<Response> {
    let room = parse_id(&room)?;
    let s = &u.s;
    let fields = &u.fields;
    let mut page = snapshot_page(&app, s, room).await?;
    let text = match upload_text(&u) {
        Ok(v) => v,
        Err(e @ AppError::Invalid(_)) => {
            page.error = Some(problem(&s.tr, &e));
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
        }
        Err(e) => return Err(e),
    };
    if let Some(o) = fields.get("org").filter(|o| !o.is_empty()) {
        page.org = o.clone();
    }
    let org: Option<OrgId> = page.org.parse().ok();
    if fields.contains_key("confirm") {
        match app.import_snapshot(&s.actor, room, org, &text).await {
            Ok(outcome) => {
                page.done = Some(outcome);
                return Ok(page.into_response());
            }
            Err(e @ AppError::Invalid(_)) => page.error = Some(problem(&s.tr, &e)),
            Err(e) => return Err(e),
        }
    }
    match app.preview_snapshot(&s.actor, room, &text).await {
        Ok((rows, _)) => {
            page.rows = rows;
            page.text = text;
        }
        Err(e @ AppError::Invalid(_)) => page.error = Some(problem(&s.tr, &e)),
        Err(e) => return Err(e),
    }
    let status = if page.ok() && page.error.is_none() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok((status, page).into_response())
}

// ---------- the registry ----------

#[derive(Deserialize, Default)]
pub struct ShelterFields {
    #[serde(default)]
    name: String,
    #[serde(default)]
    kana: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    lat: String,
    #[serde(default)]
    lon: String,
    #[serde(default)]
    designation: String,
    #[serde(default)]
    capacity: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    note: String,
    #[serde(default)]
    local_id: String,
    #[serde(default)]
    common_id: String,
    /// Hazards as comma-separated words (the form's checkboxes are joined by the page script;
    /// without it, each checkbox is a field `hazard_<word>`).
    #[serde(default)]
    hazards: String,
    #[serde(flatten)]
    rest: HashMap<String, String>,
}

impl From<ShelterFields> for ShelterForm {
    fn from(f: ShelterFields) -> Self {
        let mut hazards: Vec<String> = f
            .hazards
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        for k in f.rest.keys() {
            if let Some(w) = k.strip_prefix("hazard_") {
                hazards.push(w.to_string());
            }
        }
        ShelterForm {
            name: f.name,
            kana: f.kana,
            address: f.address,
            lat: f.lat,
            lon: f.lon,
            designation: f.designation,
            capacity: f.capacity,
            phone: f.phone,
            note: f.note,
            local_id: f.local_id,
            common_id: f.common_id,
            hazards,
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "registry.html")]
struct RegistryPage {
    ctx: Ctx,
    org: Org,
    shelters: Vec<Shelter>,
    can_edit: bool,
    preview: Option<ShelterPreview>,
    skip_invalid: bool,
    done: Option<ImportOutcome>,
    error: Option<String>,
    form: ShelterForm,
    designations: &'static [Designation],
}

impl RegistryPage {
    fn hazard_names(&self, s: &Shelter) -> String {
        s.hazards
            .words()
            .iter()
            .map(|w| self.ctx.t.t(&format!("ui-hazard-{w}")))
            .collect::<Vec<_>>()
            .join("・")
    }
    fn count(&self) -> i64 {
        self.shelters.len() as i64
    }
    fn has_hazard(&self, w: &&str) -> bool {
        self.form.hazards.iter().any(|h| h == w)
    }
    fn hazard_words(&self) -> Vec<&'static str> {
        Hazards::TABLE.iter().map(|(_, w, ..)| *w).collect()
    }
    fn hazard_label(&self, w: &&str) -> String {
        self.ctx.t.t(&format!("ui-hazard-{w}"))
    }
}

async fn registry_page(app: &App, s: &Session, org: OrgId) -> AppResult<RegistryPage> {
    let o = app.store.org(org).await?;
    let ctx = Ctx::new(app, s, s.tr.t1("ui-registry-of", "name", &o.name)).await?;
    Ok(RegistryPage {
        ctx,
        shelters: app.registry(org).await?,
        can_edit: App::can_admin_org(&s.actor, org),
        org: o,
        preview: None,
        skip_invalid: false,
        done: None,
        error: None,
        form: ShelterForm {
            designation: "shelter".into(),
            ..ShelterForm::default()
        },
        designations: Designation::ALL,
    })
}

/// The actor's own organisation's registry.
pub async fn registry_mine(s: Session) -> Response {
    Redirect::to(&format!("/orgs/{}/shelters", s.actor.user.org_id)).into_response()
}

pub async fn registry(
    State(app): State<App>,
    s: Session,
    Path(org): Path<String>,
) -> AppResult<Response> {
    let org = parse_id(&org)?;
    Ok(registry_page(&app, &s, org).await?.into_response())
}

/// Adds a shelter by hand.
pub async fn registry_add(
    State(app): State<App>,
    Path(org): Path<String>,
    w: Write<ShelterFields>,
) -> AppResult<Response> {
    let org = parse_id(&org)?;
    let Write { s, form, .. } = w;
    let input: ShelterForm = form.into();
    match app.save_shelter(&s.actor, org, None, input.clone()).await {
        Ok(_) => Ok(Redirect::to(&format!("/orgs/{org}/shelters")).into_response()),
        Err(e @ (AppError::Invalid(_) | AppError::Conflict(_))) => {
            let mut page = registry_page(&app, &s, org).await?;
            page.error = Some(problem(&s.tr, &e));
            page.form = input;
            Ok((e.status(), page).into_response())
        }
        Err(e) => Err(e),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "shelter_edit.html")]
struct ShelterEditPage {
    ctx: Ctx,
    org: Org,
    shelter: Shelter,
    form: ShelterForm,
    error: Option<String>,
    designations: &'static [Designation],
}

impl ShelterEditPage {
    fn has_hazard(&self, w: &&str) -> bool {
        self.form.hazards.iter().any(|h| h == w)
    }
    fn hazard_words(&self) -> Vec<&'static str> {
        Hazards::TABLE.iter().map(|(_, w, ..)| *w).collect()
    }
    fn hazard_label(&self, w: &&str) -> String {
        self.ctx.t.t(&format!("ui-hazard-{w}"))
    }
}

async fn own_shelter(app: &App, org: OrgId, sid: ShelterId) -> AppResult<(Org, Shelter)> {
    let shelter = app.store.shelter(sid).await?;
    if shelter.org_id != org {
        return Err(AppError::NotFound);
    }
    Ok((app.store.org(org).await?, shelter))
}

pub async fn shelter_edit_form(
    State(app): State<App>,
    s: Session,
    Path((org, sid)): Path<(String, String)>,
) -> AppResult<Response> {
    let (org, sid) = (parse_id(&org)?, parse_id(&sid)?);
    if !App::can_admin_org(&s.actor, org) {
        return Err(AppError::Forbidden);
    }
    let (org, shelter) = own_shelter(&app, org, sid).await?;
    let ctx = Ctx::new(&app, &s, shelter.name.clone()).await?;
    Ok(ShelterEditPage {
        ctx,
        form: ShelterForm::from_shelter(&shelter),
        org,
        shelter,
        error: None,
        designations: Designation::ALL,
    }
    .into_response())
}

pub async fn shelter_edit(
    State(app): State<App>,
    Path((org, sid)): Path<(String, String)>,
    w: Write<ShelterFields>,
) -> AppResult<Response> {
    let (org, sid) = (parse_id(&org)?, parse_id(&sid)?);
    let Write { s, form, .. } = w;
    let input: ShelterForm = form.into();
    own_shelter(&app, org, sid).await?;
    match app
        .save_shelter(&s.actor, org, Some(sid), input.clone())
        .await
    {
        Ok(_) => Ok(Redirect::to(&format!("/orgs/{org}/shelters")).into_response()),
        Err(e @ AppError::Invalid(_)) => {
            let (org, shelter) = own_shelter(&app, org, sid).await?;
            let ctx = Ctx::new(&app, &s, shelter.name.clone()).await?;
            let page = ShelterEditPage {
                ctx,
                form: input,
                org,
                shelter,
                error: Some(problem(&s.tr, &e)),
                designations: Designation::ALL,
            };
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(e) => Err(e),
    }
}

/// Uploads a shelter file: shows the preview; with `confirm`, imports it.
pub async fn registry_import(
    State(app): State<App>,
    Path(org): Path<String>,
    u: Upload,
) -> AppResult<Response> {
    let org = parse_id(&org)?;
    let s = &u.s;
    let fields = &u.fields;
    let mut page = registry_page(&app, s, org).await?;
    if !page.can_edit {
        return Err(AppError::Forbidden);
    }
    let text = match upload_text(&u) {
        Ok(v) => v,
        Err(e @ AppError::Invalid(_)) => {
            page.error = Some(problem(&s.tr, &e));
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
        }
        Err(e) => return Err(e),
    };
    page.skip_invalid = fields.contains_key("skip_invalid");
    if fields.contains_key("confirm") {
        match app
            .import_shelters(&s.actor, org, text.clone(), page.skip_invalid)
            .await
        {
            Ok(done) => {
                let mut page = registry_page(&app, s, org).await?;
                page.done = Some(done.outcome);
                return Ok(page.into_response());
            }
            Err(e @ AppError::Invalid(_)) => page.error = Some(problem(&s.tr, &e)),
            Err(e) => return Err(e),
        }
    }
    let preview = app.preview_shelters(&s.actor, org, text).await?;
    let status = if preview.ok(page.skip_invalid) && page.error.is_none() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    page.preview = Some(preview);
    Ok((status, page).into_response())
}

// ---------- photos ----------

#[derive(Template, WebTemplate)]
#[template(path = "gallery.html")]
struct GalleryPage {
    ctx: Ctx,
    incident: Incident,
    access: Access,
    photos: Vec<crate::store::Photo>,
    shelters: Vec<(ShelterId, String)>,
    orgs: Vec<(OrgId, String)>,
    days: Vec<String>,
    filter: crate::app::GalleryFilter,
    notice: Option<String>,
    error: Option<String>,
}

impl GalleryPage {
    fn count(&self) -> i64 {
        self.photos.len() as i64
    }
    fn is(&self, v: &Option<String>, want: &str) -> bool {
        v.as_deref() == Some(want)
    }
}

#[derive(Deserialize)]
pub struct GalleryQuery {
    sort: Option<String>,
    org: Option<String>,
    shelter: Option<String>,
    day: Option<String>,
}

impl GalleryQuery {
    fn filter(&self) -> crate::app::GalleryFilter {
        crate::app::GalleryFilter {
            by_taken: self.sort.as_deref() == Some("taken"),
            org: self.org.clone(),
            shelter: self.shelter.clone(),
            day: self.day.clone(),
        }
    }
}

async fn gallery_page(
    app: &App,
    s: &Session,
    room: RoomId,
    filter: crate::app::GalleryFilter,
) -> AppResult<GalleryPage> {
    let g = app.gallery(&s.actor, room, &filter).await?;
    let ctx = Ctx::new(app, s, g.incident.name.clone()).await?;
    Ok(GalleryPage {
        ctx,
        incident: g.incident,
        access: g.access,
        photos: g.photos,
        shelters: g.shelters,
        orgs: g.orgs,
        days: g.days,
        filter,
        notice: None,
        error: None,
    })
}

pub async fn gallery(
    State(app): State<App>,
    s: Session,
    Path(room): Path<String>,
    Query(q): Query<GalleryQuery>,
) -> AppResult<Response> {
    let room = parse_id(&room)?;
    Ok(gallery_page(&app, &s, room, q.filter())
        .await?
        .into_response())
}

/// Uploads one or many photos (a plain multipart form; each file gets its own key derived from
/// the form's, so a resent form stores nothing twice).
pub async fn photo_upload(
    State(app): State<App>,
    Path(room): Path<String>,
    u: Upload,
) -> AppResult<Response> {
    let room: RoomId = parse_id(&room)?;
    let Upload {
        s,
        headers,
        files,
        fields,
    } = u;
    let base = idem_key(&headers, fields.get("idem").map(String::as_str))?;
    let details = crate::app::PhotoUpload::from_fields(&fields);
    let results = match app
        .upload_photos(&s.actor, room, files, details, base)
        .await
    {
        Ok(r) => r,
        Err(e @ AppError::Invalid(_)) if !wants_json(&headers, "") => {
            let mut page = gallery_page(&app, &s, room, Default::default()).await?;
            page.error = Some(problem(&s.tr, &e));
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
        }
        Err(e) => return Err(e),
    };
    let t = &s.tr;
    let notes: Vec<String> = results
        .iter()
        .map(|r| match r {
            crate::app::Uploaded::New(_) => t.t("ui-photo-saved"),
            crate::app::Uploaded::Existing(p) => format!(
                "{} {} ({})",
                t.t("ui-photo-already"),
                p.uploader_name,
                t.time(p.uploaded_at)
            ),
        })
        .collect();
    if wants_json(&headers, "") {
        let body: Vec<serde_json::Value> = results
            .iter()
            .map(|r| {
                let p = r.photo();
                serde_json::json!({
                    "id": p.id,
                    "existing": matches!(r, crate::app::Uploaded::Existing(_)),
                    "uploaded_by": p.uploader_name,
                    "uploaded_at": p.uploaded_at,
                    "url": format!("/photos/{}/display", p.id),
                })
            })
            .collect();
        return Ok((
            StatusCode::CREATED,
            Json(serde_json::json!({ "photos": body })),
        )
            .into_response());
    }
    let mut page = gallery_page(&app, &s, room, Default::default()).await?;
    page.notice = Some(notes.join(" "));
    Ok(page.into_response())
}

/// A photo's file, for members of its incident only; never cached by shared caches.
pub async fn photo_file(
    State(app): State<App>,
    s: Session,
    Path((id, file)): Path<(String, String)>,
) -> AppResult<Response> {
    let id: PhotoId = parse_id(&id)?;
    let which = match file.as_str() {
        "thumb" => crate::files::PhotoFile::Thumb,
        "display" => crate::files::PhotoFile::Display,
        "original" => crate::files::PhotoFile::Original,
        _ => return Err(AppError::NotFound),
    };
    let (photo, bytes) = app.photo_file(&s.actor, id, which).await?;
    let mime = if which == crate::files::PhotoFile::Original {
        photo.mime.clone()
    } else {
        "image/jpeg".to_string()
    };
    let mut res = (
        [
            (header::CONTENT_TYPE, mime),
            (
                header::CACHE_CONTROL,
                "private, max-age=31536000, immutable".to_string(),
            ),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
        ],
        bytes,
    )
        .into_response();
    if which == crate::files::PhotoFile::Original {
        if let Ok(v) = axum::http::HeaderValue::from_str(&format!(
            "attachment; filename=\"{}.{}\"",
            photo.sha256,
            photo.mime.trim_start_matches("image/")
        )) {
            res.headers_mut().insert(header::CONTENT_DISPOSITION, v);
        }
    }
    Ok(res)
}

#[derive(Template, WebTemplate)]
#[template(path = "photo.html")]
struct PhotoPage {
    ctx: Ctx,
    incident: Incident,
    p: crate::store::Photo,
    map_url: String,
    can_withdraw: bool,
    error: Option<String>,
}

impl PhotoPage {
    fn coords(&self) -> String {
        self.p
            .position
            .map(|x| format!("{:.6}, {:.6}", x.lat, x.lon))
            .unwrap_or_default()
    }
    /// The configured map's address for the photo's place (none without a map setting).
    fn map_link(&self) -> Option<String> {
        let pos = self.p.position?;
        (!self.map_url.is_empty()).then(|| {
            self.map_url
                .replace("{lat}", &format!("{:.6}", pos.lat))
                .replace("{lon}", &format!("{:.6}", pos.lon))
        })
    }
}

/// A photo's page: the display image and what is known about it.
pub async fn photo_page(
    State(app): State<App>,
    s: Session,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let id: PhotoId = parse_id(&id)?;
    Ok(photo_view(&app, &s, id).await?.into_response())
}

async fn photo_view(app: &App, s: &Session, id: PhotoId) -> AppResult<PhotoPage> {
    let (p, incident) = app.photo_for(&s.actor, id).await?;
    let ctx = Ctx::new(app, s, incident.name.clone()).await?;
    Ok(PhotoPage {
        can_withdraw: !p.withdrawn && app.can_withdraw(&s.actor, &p).await?,
        ctx,
        incident,
        p,
        map_url: app.config.map_url.clone(),
        error: None,
    })
}

#[derive(Deserialize)]
pub struct WithdrawForm {
    #[serde(default)]
    reason: String,
}

/// Withdraws a photo (its uploader or an incident manager), with a reason.
pub async fn photo_withdraw(
    State(app): State<App>,
    Path(id): Path<String>,
    w: Write<WithdrawForm>,
) -> AppResult<Response> {
    let id: PhotoId = parse_id(&id)?;
    match app.withdraw_photo(&w.s.actor, id, &w.form.reason).await {
        Ok(()) => {
            let photo = app.store.photo(id).await?;
            Ok(Redirect::to(&format!("/incidents/{}/photos", photo.incident_id)).into_response())
        }
        Err(e @ AppError::Invalid(_)) => {
            let mut page = photo_view(&app, &w.s, id).await?;
            page.error = Some(problem(&w.s.tr, &e));
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(e) => Err(e),
    }
}

/// Removes a withdrawn photo's files for good (the deployment admin).
pub async fn photo_purge(
    State(app): State<App>,
    Path(id): Path<String>,
    w: Write<HashMap<String, String>>,
) -> AppResult<Response> {
    let id: PhotoId = parse_id(&id)?;
    let photo = app.store.photo(id).await?;
    app.purge_photo(&w.s.actor, id).await?;
    Ok(Redirect::to(&format!("/incidents/{}/photos", photo.incident_id)).into_response())
}

// ---------- open items ----------

/// A new item from the room's form: `title`, `details`, `assignee` (`org:<id>`, `user:<id>` or
/// empty), `due` (a local time), `message` (the message it is made from) and `idem`.
#[derive(Deserialize)]
pub struct ItemFields {
    #[serde(default)]
    idem: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    details: String,
    #[serde(default)]
    assignee: String,
    #[serde(default)]
    due: String,
    #[serde(default)]
    message: String,
}

/// `org:<id>` or `user:<id>` (empty: nobody).
fn assignee_field(s: &str) -> AppResult<Option<crate::store::ConfirmTarget>> {
    if s.trim().is_empty() {
        return Ok(None);
    }
    s.trim()
        .split_once(':')
        .and_then(|(kind, id)| crate::store::ConfirmTarget::parse(kind, id))
        .map(Some)
        .ok_or_else(|| Invalid::new("assignee", "err-item-assignee").into())
}

/// Adds an open item from the room's sidebar form.
pub async fn item_create(
    State(app): State<App>,
    Path(room): Path<String>,
    w: Write<ItemFields>,
) -> AppResult<Response> {
    let room: RoomId = parse_id(&room)?;
    let Write { s, form, headers } = w;
    let key = idem_key(&headers, Some(&form.idem))?;
    let message = match form.message.trim() {
        "" => None,
        m => Some(parse_id::<MessageId>(m)?),
    };
    let input = crate::app::ItemInput {
        title: form.title,
        details: form.details,
        assignee: assignee_field(&form.assignee)?,
        due_at: app.local_time(&form.due, "due_at")?,
        message,
    };
    let w = app.create_item(&s.actor, room, input, key).await?;
    Ok(super::pages::written(
        &headers,
        format!("/rooms/{room}#items"),
        serde_json::json!({"id": w.value, "replayed": w.replayed}),
    ))
}

/// A status change from the sidebar: `status` and, for dropping, `reason`.
#[derive(Deserialize)]
pub struct ItemStatusFields {
    #[serde(default)]
    status: String,
    #[serde(default)]
    reason: String,
}

/// Marks an item done, drops it (with a reason) or opens it again.
pub async fn item_status(
    State(app): State<App>,
    Path((room, item)): Path<(String, String)>,
    w: Write<ItemStatusFields>,
) -> AppResult<Response> {
    let room: RoomId = parse_id(&room)?;
    let item: ItemId = parse_id(&item)?;
    let Write { s, form, headers } = w;
    let edit = crate::app::ItemEdit {
        status: Some(ItemStatus::parse(&form.status)?),
        reason: Some(form.reason),
        ..Default::default()
    };
    app.change_item(&s.actor, room, item, edit).await?;
    Ok(super::pages::written(
        &headers,
        format!("/rooms/{room}#items"),
        serde_json::json!({"id": item}),
    ))
}

/// Takes duty for one's organisation in an incident (the room header's button).
pub async fn duty_take(
    State(app): State<App>,
    Path(room): Path<String>,
    w: Write<super::pages::CsrfForm>,
) -> AppResult<Response> {
    let room: RoomId = parse_id(&room)?;
    let Write { s, headers, .. } = w;
    app.take_duty(&s.actor, room).await?;
    Ok(super::pages::written(
        &headers,
        format!("/rooms/{room}#duty"),
        serde_json::json!({"ok": true}),
    ))
}
