//! Pages of shift handoffs: drafting and handing over, the handoff the incoming person
//! acknowledges item by item, the managers' timeline (printable, CSV) and an item's history.

use super::pages::{CsrfForm, Ctx, parse_id, written};
use super::session::{Session, Write, idem_key};
use crate::app::{App, Draft, HandoffEditInput, HandoffInput, ItemHistory};
use crate::domain::*;
use crate::error::AppResult;
use crate::store::{Handoff, Incident};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

/// Minutes a handoff has waited (or waited until acknowledged).
fn minutes(h: &Handoff, now: i64) -> i64 {
    h.waited(now) / 60_000
}

#[derive(Template, WebTemplate)]
#[template(path = "handoff_new.html")]
struct NewPage {
    ctx: Ctx,
    incident: Incident,
    d: Draft,
}

/// `?position=ID` hands over a named position instead of the organisation's duty.
#[derive(Deserialize)]
pub struct DraftQuery {
    position: Option<String>,
}

/// An optional position id from a query or form (empty: none).
fn position_field(s: Option<&str>) -> AppResult<Option<PositionId>> {
    match s.map(str::trim) {
        None | Some("") => Ok(None),
        Some(p) => parse_id(p).map(Some),
    }
}

/// The draft of a handoff and the form to hand over (the 引継ぎを始める button).
pub async fn new_handoff(
    State(app): State<App>,
    s: Session,
    Path(room): Path<String>,
    Query(q): Query<DraftQuery>,
) -> AppResult<Response> {
    let room: RoomId = parse_id(&room)?;
    let position = position_field(q.position.as_deref())?;
    let d = app.handoff_draft(&s.actor, room, position).await?;
    let ctx = Ctx::new(&app, &s, s.tr.t("ui-handoff-new")).await?;
    Ok(NewPage {
        ctx,
        incident: d.incident.clone(),
        d,
    }
    .into_response())
}

/// The handoff form: `to`, `summary`, `risks`, `notes`, `idem`.
#[derive(Deserialize)]
pub struct HandoffFields {
    #[serde(default)]
    idem: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    summary: String,
    #[serde(default)]
    risks: String,
    #[serde(default)]
    notes: String,
    #[serde(default)]
    position: String,
}

/// Hands over; the incoming person is notified and sees it in the room header.
pub async fn hand_over(
    State(app): State<App>,
    Path(room): Path<String>,
    w: Write<HandoffFields>,
) -> AppResult<Response> {
    let room: RoomId = parse_id(&room)?;
    let Write { s, form, headers } = w;
    let key = idem_key(&headers, Some(&form.idem))?;
    let input = HandoffInput {
        to: form.to,
        summary: form.summary,
        risks: form.risks,
        notes: form.notes,
        position: position_field(Some(&form.position))?,
    };
    let w = app.hand_over(&s.actor, room, input, key).await?;
    Ok(written(
        &headers,
        format!("/handoffs/{}", w.value),
        serde_json::json!({"id": w.value, "replayed": w.replayed}),
    ))
}

#[derive(Template, WebTemplate)]
#[template(path = "handoff.html")]
struct HandoffPage {
    ctx: Ctx,
    incident: Incident,
    h: Handoff,
    now: i64,
    /// Who else could take over (for the outgoing person's edit form).
    candidates: Vec<crate::store::Member>,
}

impl HandoffPage {
    fn incoming(&self) -> bool {
        self.h.is_waiting() && self.ctx.me_uid() == self.h.to_user
    }
    fn outgoing(&self) -> bool {
        self.h.is_waiting() && self.ctx.me_uid() == self.h.from_user
    }
    fn waited(&self) -> i64 {
        minutes(&self.h, self.now)
    }
    /// How many items are still to acknowledge.
    fn items_left(&self) -> usize {
        self.h
            .items
            .iter()
            .filter(|i| i.acknowledged_at.is_none())
            .count()
    }
}

/// One handoff: what it carries, and the acknowledgement controls for the incoming person.
pub async fn handoff(
    State(app): State<App>,
    s: Session,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let v = app.handoff_view(&s.actor, parse_id(&id)?).await?;
    let ctx = Ctx::new(&app, &s, s.tr.t("ui-handoff")).await?;
    Ok(HandoffPage {
        ctx,
        incident: v.incident,
        h: v.handoff,
        now: app.now(),
        candidates: v.candidates,
    }
    .into_response())
}

/// Where a handoff action lands afterwards.
fn back(id: HandoffId, anchor: &str) -> String {
    format!("/handoffs/{id}#{anchor}")
}

/// The outgoing person's edit: `summary`, `risks`, `notes`.
#[derive(Deserialize)]
pub struct EditFields {
    to: Option<String>,
    summary: Option<String>,
    risks: Option<String>,
    notes: Option<String>,
}

/// Changes the text of a handoff before it is acknowledged.
pub async fn edit(
    State(app): State<App>,
    Path(id): Path<String>,
    w: Write<EditFields>,
) -> AppResult<Response> {
    let id: HandoffId = parse_id(&id)?;
    let Write { s, form, headers } = w;
    let edit = HandoffEditInput {
        to: form.to,
        summary: form.summary,
        risks: form.risks,
        notes: form.notes,
    };
    let h = app.edit_handoff(&s.actor, id, edit).await?;
    Ok(written(
        &headers,
        back(id, "handoff"),
        serde_json::json!({"version": h.version}),
    ))
}

/// Acknowledges one item.
pub async fn acknowledge_item(
    State(app): State<App>,
    Path((id, item)): Path<(String, String)>,
    w: Write<CsrfForm>,
) -> AppResult<Response> {
    let id: HandoffId = parse_id(&id)?;
    let item: ItemId = parse_id(&item)?;
    let Write { s, headers, .. } = w;
    let h = app.acknowledge_item(&s.actor, id, item).await?;
    Ok(written(
        &headers,
        back(id, &format!("hi-{item}")),
        serde_json::json!({"acknowledged": h.items_acknowledged}),
    ))
}

/// A question (`question`) or an answer (`answer`) on one item.
#[derive(Deserialize)]
pub struct TextFields {
    #[serde(default)]
    question: String,
    #[serde(default)]
    answer: String,
}

/// The incoming person asks about one item.
pub async fn ask(
    State(app): State<App>,
    Path((id, item)): Path<(String, String)>,
    w: Write<TextFields>,
) -> AppResult<Response> {
    let id: HandoffId = parse_id(&id)?;
    let item: ItemId = parse_id(&item)?;
    let Write { s, form, headers } = w;
    app.ask_item(&s.actor, id, item, &form.question).await?;
    Ok(written(
        &headers,
        back(id, &format!("hi-{item}")),
        serde_json::json!({"ok": true}),
    ))
}

/// The outgoing person answers in place.
pub async fn answer(
    State(app): State<App>,
    Path((id, item)): Path<(String, String)>,
    w: Write<TextFields>,
) -> AppResult<Response> {
    let id: HandoffId = parse_id(&id)?;
    let item: ItemId = parse_id(&item)?;
    let Write { s, form, headers } = w;
    app.answer_item(&s.actor, id, item, &form.answer).await?;
    Ok(written(
        &headers,
        back(id, &format!("hi-{item}")),
        serde_json::json!({"ok": true}),
    ))
}

/// The final acknowledgement: `version`, the one the page showed.
#[derive(Deserialize)]
pub struct CompleteFields {
    #[serde(default)]
    version: String,
}

/// The incoming person acknowledges the whole handoff and takes duty.
pub async fn complete(
    State(app): State<App>,
    Path(id): Path<String>,
    w: Write<CompleteFields>,
) -> AppResult<Response> {
    let id: HandoffId = parse_id(&id)?;
    let Write { s, form, headers } = w;
    let version = form.version.trim().parse::<i64>().ok();
    let h = app.complete_handoff(&s.actor, id, version).await?;
    Ok(written(
        &headers,
        format!("/rooms/{}#duty", h.incident),
        serde_json::json!({"acknowledged": true}),
    ))
}

#[derive(Template, WebTemplate)]
#[template(path = "handoffs.html")]
struct TimelinePage {
    ctx: Ctx,
    /// The incident, for one incident's timeline.
    incident: Option<Incident>,
    list: Vec<Handoff>,
    /// Handoffs waiting for the viewer.
    mine: Vec<Handoff>,
    now: i64,
    csv: String,
}

impl TimelinePage {
    fn minutes(&self, h: &Handoff) -> i64 {
        minutes(h, self.now)
    }
    fn waiting(&self) -> usize {
        self.list.iter().filter(|h| h.is_waiting()).count()
    }
}

/// The timeline laid out for paper.
#[derive(Template, WebTemplate)]
#[template(path = "handoffs_print.html")]
struct PrintPage {
    ctx: Ctx,
    incident: Option<Incident>,
    list: Vec<Handoff>,
    now: i64,
}

impl PrintPage {
    fn minutes(&self, h: &Handoff) -> i64 {
        minutes(h, self.now)
    }
}

/// `?print=1` gives the printable layout.
#[derive(Deserialize)]
pub struct PrintQuery {
    print: Option<String>,
}

async fn timeline(
    app: &App,
    s: &Session,
    incident: Option<RoomId>,
    q: PrintQuery,
) -> AppResult<Response> {
    let crate::app::Timeline {
        incident,
        handoffs: list,
    } = app.handoff_timeline(&s.actor, incident).await?;
    let ctx = Ctx::new(app, s, s.tr.t("ui-handoff-timeline")).await?;
    if q.print.is_some_and(|p| p == "1") {
        return Ok(PrintPage {
            ctx,
            incident,
            list,
            now: app.now(),
        }
        .into_response());
    }
    let mine = app.handoffs_for_me(&s.actor).await?;
    let csv = match &incident {
        Some(i) => format!("/incidents/{}/handoffs.csv", i.room_id),
        None => "/handoffs.csv".into(),
    };
    Ok(TimelinePage {
        ctx,
        incident,
        list,
        mine,
        now: app.now(),
        csv,
    }
    .into_response())
}

/// Every handoff of the active incidents the viewer is in, with those waiting for them first.
pub async fn all(
    State(app): State<App>,
    s: Session,
    Query(q): Query<PrintQuery>,
) -> AppResult<Response> {
    timeline(&app, &s, None, q).await
}

/// One incident's handoffs.
pub async fn of_incident(
    State(app): State<App>,
    s: Session,
    Path(room): Path<String>,
    Query(q): Query<PrintQuery>,
) -> AppResult<Response> {
    timeline(&app, &s, Some(parse_id(&room)?), q).await
}

/// Every handoff of the active incidents the viewer is in, as CSV.
pub async fn all_csv(State(app): State<App>, s: Session) -> AppResult<Response> {
    let list = app.handoff_timeline(&s.actor, None).await?.handoffs;
    Ok(super::csv_file(
        super::api_handoffs::handoffs_csv(&list, &s.tr, app.now())?,
        "handoffs.csv",
    ))
}

/// One incident's handoffs, as CSV.
pub async fn incident_csv(
    State(app): State<App>,
    s: Session,
    Path(room): Path<String>,
) -> AppResult<Response> {
    let list = app
        .handoff_timeline(&s.actor, Some(parse_id(&room)?))
        .await?
        .handoffs;
    Ok(super::csv_file(
        super::api_handoffs::handoffs_csv(&list, &s.tr, app.now())?,
        "handoffs.csv",
    ))
}

#[derive(Template, WebTemplate)]
#[template(path = "item_history.html")]
struct ItemPage {
    ctx: Ctx,
    hist: ItemHistory,
}

/// An item's history: every change and the shifts that held it.
pub async fn item_history(
    State(app): State<App>,
    s: Session,
    Path((room, item)): Path<(String, String)>,
) -> AppResult<Response> {
    let room: RoomId = parse_id(&room)?;
    let hist = app.item_history(&s.actor, room, parse_id(&item)?).await?;
    let ctx = Ctx::new(&app, &s, hist.item.title.clone()).await?;
    Ok(ItemPage { ctx, hist }.into_response())
}

/// A new position's name (`name`).
#[derive(Deserialize)]
pub struct PositionFields {
    #[serde(default)]
    name: String,
}

/// Defines a named position (the incident's managers).
pub async fn define_position(
    State(app): State<App>,
    Path(room): Path<String>,
    w: Write<PositionFields>,
) -> AppResult<Response> {
    let room: RoomId = parse_id(&room)?;
    let Write { s, form, headers } = w;
    app.define_position(&s.actor, room, &form.name).await?;
    Ok(written(
        &headers,
        format!("/rooms/{room}#duty"),
        serde_json::json!({"ok": true}),
    ))
}

/// Takes a vacant position.
pub async fn take_position(
    State(app): State<App>,
    Path((room, position)): Path<(String, String)>,
    w: Write<CsrfForm>,
) -> AppResult<Response> {
    let room: RoomId = parse_id(&room)?;
    let Write { s, headers, .. } = w;
    app.take_position(&s.actor, room, parse_id(&position)?)
        .await?;
    Ok(written(
        &headers,
        format!("/rooms/{room}#duty"),
        serde_json::json!({"ok": true}),
    ))
}
