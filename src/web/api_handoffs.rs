//! `/api/v1` for shift handoffs: the draft, handing over, per-item acknowledgement, questions
//! and answers, completing, the managers' timeline (JSON and CSV) and an item's history.

use super::api::{ApiJson, Caller, IdemHeader};
use super::parse_id;
use crate::app::{App, Draft, HandoffEditInput, HandoffInput, ItemHistory};
use crate::domain::{HandoffId, ItemId, OrgId, PositionId, RoomId, UserId};
use crate::error::{AppError, AppResult};
use crate::i18n::Tr;
use crate::store::{DraftFacts, Handoff, HandoffItem, IncidentEvent, Position, rfc3339};
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A new handoff: the incoming person and what the outgoing one tells them.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HandoffIn {
    /// The incoming person (a member of the incident from the caller's organisation).
    #[schema(max_length = 36)]
    pub to: String,
    #[schema(min_length = 1, max_length = 2000)]
    pub summary: String,
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub risks: String,
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub notes: String,
    /// A named position to hand over instead of the organisation's duty (any member of the
    /// incident may take it over).
    #[schema(value_type = Option<String>, format = Uuid, max_length = 36)]
    pub position: Option<String>,
}

/// A change to a handoff not acknowledged yet: only the fields given change.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HandoffPatchIn {
    /// Another incoming person (when the one named cannot come); they are notified.
    #[schema(max_length = 36)]
    pub to: Option<String>,
    #[schema(min_length = 1, max_length = 2000)]
    pub summary: Option<String>,
    #[schema(max_length = 2000)]
    pub risks: Option<String>,
    #[schema(max_length = 2000)]
    pub notes: Option<String>,
}

/// A question on an item.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuestionIn {
    #[schema(min_length = 1, max_length = 2000)]
    pub question: String,
}

/// The answer to the question on an item.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswerIn {
    #[schema(min_length = 1, max_length = 2000)]
    pub answer: String,
}

/// Acknowledging the handoff as a whole.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompleteIn {
    /// The version read; refused (409) when it changed since.
    pub version: Option<i64>,
}

/// One item a handoff carries.
#[derive(Serialize, ToSchema)]
pub struct HandoffItemOut {
    #[schema(value_type = String, format = Uuid, max_length = 36)]
    pub item_id: ItemId,
    #[schema(max_length = 200)]
    pub title: String,
    /// new, changed or carried.
    #[schema(max_length = 10)]
    pub change: String,
    /// Where the item stands now: open, done or dropped.
    #[schema(max_length = 10)]
    pub status: String,
    #[schema(nullable, max_length = 40)]
    pub acknowledged_at: Option<String>,
    #[schema(nullable, max_length = 2000)]
    pub question: Option<String>,
    #[schema(nullable, max_length = 2000)]
    pub answer: Option<String>,
}

impl From<HandoffItem> for HandoffItemOut {
    fn from(i: HandoffItem) -> Self {
        Self {
            item_id: i.item_id,
            title: i.title,
            change: i.change.as_str().into(),
            status: i.status.as_str().into(),
            acknowledged_at: i.acknowledged_at.map(rfc3339),
            question: i.question,
            answer: i.answer,
        }
    }
}

/// A shelter in a handoff.
#[derive(Serialize, ToSchema)]
pub struct ShelterFactOut {
    #[schema(max_length = 36)]
    pub shelter_id: String,
    #[schema(max_length = 200)]
    pub name: String,
    #[schema(max_length = 100)]
    pub org_name: String,
    #[schema(max_length = 20)]
    pub status: String,
    pub evacuees: Option<i64>,
    #[schema(max_length = 40)]
    pub observed_at: String,
}

/// A 要確認 request still waiting.
#[derive(Serialize, ToSchema)]
pub struct AskFactOut {
    #[schema(max_length = 36)]
    pub message_id: String,
    #[schema(max_length = 200)]
    pub excerpt: String,
    pub pending: i64,
    pub total: i64,
}

/// An item closed during the shift.
#[derive(Serialize, ToSchema)]
pub struct ClosedFactOut {
    #[schema(max_length = 36)]
    pub item_id: String,
    #[schema(max_length = 200)]
    pub title: String,
    #[schema(max_length = 10)]
    pub status: String,
    #[schema(max_length = 2000)]
    pub reason: String,
}

/// What a handoff tells beyond its items.
#[derive(Serialize, ToSchema)]
pub struct FactsOut {
    pub shelters_changed: Vec<ShelterFactOut>,
    pub shelters_stale: Vec<ShelterFactOut>,
    pub unconfirmed: Vec<AskFactOut>,
    pub photos_new: i64,
    pub items_closed: Vec<ClosedFactOut>,
}

impl From<DraftFacts> for FactsOut {
    fn from(f: DraftFacts) -> Self {
        let shelter = |s: crate::store::ShelterFact| ShelterFactOut {
            shelter_id: s.shelter_id.to_string(),
            name: s.name,
            org_name: s.org_name,
            status: s.status.as_str().into(),
            evacuees: s.evacuees,
            observed_at: rfc3339(s.observed_at),
        };
        Self {
            shelters_changed: f.shelters_changed.into_iter().map(shelter).collect(),
            shelters_stale: f.shelters_stale.into_iter().map(shelter).collect(),
            unconfirmed: f
                .unconfirmed
                .into_iter()
                .map(|a| AskFactOut {
                    message_id: a.message_id.to_string(),
                    excerpt: a.excerpt,
                    pending: a.pending,
                    total: a.total,
                })
                .collect(),
            photos_new: f.photos_new,
            items_closed: f
                .items_closed
                .into_iter()
                .map(|c| ClosedFactOut {
                    item_id: c.item_id.to_string(),
                    title: c.title,
                    status: c.status.as_str().into(),
                    reason: c.reason,
                })
                .collect(),
        }
    }
}

/// A handoff.
#[derive(Serialize, ToSchema)]
pub struct HandoffOut {
    #[schema(value_type = String, format = Uuid, max_length = 36)]
    pub id: HandoffId,
    #[schema(value_type = String, format = Uuid, max_length = 36)]
    pub incident_id: RoomId,
    #[schema(max_length = 200)]
    pub incident_name: String,
    #[schema(value_type = String, format = Uuid, max_length = 36)]
    pub org_id: OrgId,
    #[schema(max_length = 100)]
    pub org_name: String,
    /// The named position handed over (else the organisation's duty).
    #[schema(value_type = Option<String>, format = Uuid, max_length = 36)]
    pub position_id: Option<PositionId>,
    #[schema(nullable, max_length = 50)]
    pub position_name: Option<String>,
    #[schema(value_type = String, format = Uuid, max_length = 36)]
    pub from_user: UserId,
    #[schema(max_length = 100)]
    pub from_name: String,
    #[schema(value_type = String, format = Uuid, max_length = 36)]
    pub to_user: UserId,
    #[schema(max_length = 100)]
    pub to_name: String,
    #[schema(max_length = 2000)]
    pub summary: String,
    #[schema(max_length = 2000)]
    pub risks: String,
    #[schema(max_length = 2000)]
    pub notes: String,
    /// waiting or acknowledged.
    #[schema(max_length = 20)]
    pub state: String,
    #[schema(max_length = 40)]
    pub period_from: String,
    #[schema(max_length = 40)]
    pub handed_over_at: String,
    #[schema(nullable, max_length = 40)]
    pub acknowledged_at: Option<String>,
    /// Minutes from handing over to acknowledgement (so far, while waiting).
    pub minutes_to_acknowledge: i64,
    #[schema(nullable, max_length = 40)]
    pub escalated_at: Option<String>,
    pub items_carried: i64,
    pub items_added: i64,
    pub items_closed: i64,
    pub items_acknowledged: i64,
    pub questions: i64,
    /// Changes with every edit and answer; acknowledge the one you read.
    pub version: i64,
    pub facts: FactsOut,
    /// The carried items (only when one handoff is read).
    pub items: Vec<HandoffItemOut>,
}

impl HandoffOut {
    fn new(h: Handoff, now: i64) -> Self {
        let minutes = h.waited(now) / 60_000;
        Self {
            id: h.id,
            incident_id: h.incident,
            incident_name: h.incident_name,
            org_id: h.org_id,
            org_name: h.org_name,
            position_id: h.position_id,
            position_name: h.position_name,
            from_user: h.from_user,
            from_name: h.from_name,
            to_user: h.to_user,
            to_name: h.to_name,
            summary: h.summary,
            risks: h.risks,
            notes: h.notes,
            state: if h.acknowledged_at.is_some() {
                "acknowledged"
            } else {
                "waiting"
            }
            .into(),
            period_from: rfc3339(h.period_from),
            handed_over_at: rfc3339(h.created_at),
            acknowledged_at: h.acknowledged_at.map(rfc3339),
            minutes_to_acknowledge: minutes,
            escalated_at: h.escalated_at.map(rfc3339),
            items_carried: h.items_carried,
            items_added: h.items_added,
            items_closed: h.items_closed,
            items_acknowledged: h.items_acknowledged,
            questions: h.questions,
            version: h.version,
            facts: h.facts.into(),
            items: h.items.into_iter().map(HandoffItemOut::from).collect(),
        }
    }
}

/// A handoff just made.
#[derive(Serialize, ToSchema)]
pub struct HandoffCreatedOut {
    pub handoff: HandoffOut,
    /// True when this answers a retry with the same key.
    pub replayed: bool,
}

/// A draft item: an open item and how it comes to the handoff.
#[derive(Serialize, ToSchema)]
pub struct DraftItemOut {
    pub item: super::api_items::ItemOut,
    /// new, changed or carried.
    #[schema(max_length = 10)]
    pub change: String,
}

/// Someone who can take over.
#[derive(Serialize, ToSchema)]
pub struct CandidateOut {
    #[schema(value_type = String, format = Uuid, max_length = 36)]
    pub user_id: UserId,
    #[schema(max_length = 100)]
    pub name: String,
}

/// What a handoff made now would carry.
#[derive(Serialize, ToSchema)]
pub struct DraftOut {
    #[schema(max_length = 40)]
    pub period_from: String,
    pub on_duty: Option<super::api_items::DutyOut>,
    pub items: Vec<DraftItemOut>,
    pub facts: FactsOut,
    pub candidates: Vec<CandidateOut>,
    /// A handoff of the caller's organisation (or of the position) already waiting.
    #[schema(value_type = Option<String>, format = Uuid, max_length = 36)]
    pub waiting: Option<HandoffId>,
    /// The position drafted for, if any.
    pub position: Option<PositionOut>,
}

/// A named position of an incident and who holds it.
#[derive(Serialize, ToSchema)]
pub struct PositionOut {
    #[schema(value_type = String, format = Uuid, max_length = 36)]
    pub id: PositionId,
    #[schema(max_length = 50)]
    pub name: String,
    #[schema(value_type = Option<String>, format = Uuid, max_length = 36)]
    pub holder_id: Option<UserId>,
    #[schema(nullable, max_length = 100)]
    pub holder_name: Option<String>,
    #[schema(nullable, max_length = 40)]
    pub since: Option<String>,
}

impl From<Position> for PositionOut {
    fn from(p: Position) -> Self {
        Self {
            id: p.id,
            name: p.name,
            holder_id: p.holder_id,
            holder_name: p.holder_name,
            since: p.since.map(rfc3339),
        }
    }
}

/// A new named position.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PositionIn {
    #[schema(min_length = 1, max_length = 50)]
    pub name: String,
}

/// `?position=ID`: draft the handoff of a named position.
#[derive(Deserialize, utoipa::IntoParams)]
pub struct DraftQuery {
    /// A named position of the incident.
    pub position: Option<String>,
}

fn position_param(p: Option<&str>) -> AppResult<Option<PositionId>> {
    match p.map(str::trim) {
        None | Some("") => Ok(None),
        Some(p) => p
            .parse()
            .map(Some)
            .map_err(|_| crate::domain::Invalid::new("position", "err-position").into()),
    }
}

impl From<Draft> for DraftOut {
    fn from(d: Draft) -> Self {
        Self {
            period_from: rfc3339(d.period_from),
            on_duty: d.on_duty.map(Into::into),
            items: d
                .items
                .into_iter()
                .map(|(i, c)| DraftItemOut {
                    item: i.into(),
                    change: c.as_str().into(),
                })
                .collect(),
            facts: d.facts.into(),
            candidates: d
                .candidates
                .into_iter()
                .map(|m| CandidateOut {
                    user_id: m.user_id,
                    name: m.display_name,
                })
                .collect(),
            waiting: d.waiting.map(|h| h.id),
            position: d.position.map(Into::into),
        }
    }
}

/// Something that happened to an item or a handoff.
#[derive(Serialize, ToSchema)]
pub struct EventOut {
    /// item_added, item_changed, item_done, item_dropped, item_reopened, handoff, …
    #[schema(max_length = 40)]
    pub kind: String,
    #[schema(max_length = 200)]
    pub title: String,
    #[schema(max_length = 2000)]
    pub detail: String,
    #[schema(nullable, max_length = 100)]
    pub by: Option<String>,
    #[schema(max_length = 40)]
    pub at: String,
}

impl From<IncidentEvent> for EventOut {
    fn from(e: IncidentEvent) -> Self {
        Self {
            kind: e.kind.as_str().into(),
            title: e.title,
            detail: e.detail,
            by: e.user_name,
            at: rfc3339(e.at),
        }
    }
}

/// A shift that held an item.
#[derive(Serialize, ToSchema)]
pub struct ShiftOut {
    #[schema(value_type = String, format = Uuid, max_length = 36)]
    pub handoff_id: HandoffId,
    #[schema(max_length = 100)]
    pub from_name: String,
    #[schema(max_length = 100)]
    pub to_name: String,
    #[schema(max_length = 10)]
    pub change: String,
    #[schema(max_length = 40)]
    pub handed_over_at: String,
    #[schema(nullable, max_length = 40)]
    pub acknowledged_at: Option<String>,
}

/// An item with its history across shifts.
#[derive(Serialize, ToSchema)]
pub struct ItemHistoryOut {
    pub item: super::api_items::ItemOut,
    pub events: Vec<EventOut>,
    pub shifts: Vec<ShiftOut>,
}

impl From<ItemHistory> for ItemHistoryOut {
    fn from(h: ItemHistory) -> Self {
        Self {
            item: h.item.into(),
            events: h.events.into_iter().map(EventOut::from).collect(),
            shifts: h
                .shifts
                .into_iter()
                .map(|s| ShiftOut {
                    handoff_id: s.handoff,
                    from_name: s.from_name,
                    to_name: s.to_name,
                    change: s.change.as_str().into(),
                    handed_over_at: rfc3339(s.handed_at),
                    acknowledged_at: s.acknowledged_at.map(rfc3339),
                })
                .collect(),
        }
    }
}

/// The handoff timeline as CSV (UTF-8 with a byte-order mark, for spreadsheets).
pub(super) fn handoffs_csv(list: &[Handoff], t: &Tr, now: i64) -> AppResult<Vec<u8>> {
    let mut w = csv::Writer::from_writer(vec![0xEF, 0xBB, 0xBF]);
    let err = |e: csv::Error| AppError::Internal(e.to_string());
    w.write_record([
        t.t("ui-incident"),
        t.t("ui-organisation"),
        t.t("ui-handoff-from"),
        t.t("ui-handoff-to"),
        t.t("ui-handoff-handed-at"),
        t.t("ui-handoff-acknowledged-at"),
        t.t("ui-handoff-minutes"),
        t.t("ui-handoff-carried"),
        t.t("ui-handoff-closed"),
        t.t("ui-handoff-added"),
        t.t("ui-handoff-questions"),
        t.t("ui-handoff-summary"),
    ])
    .map_err(err)?;
    for h in list {
        w.write_record([
            h.incident_name.clone(),
            h.org_name.clone(),
            h.from_name.clone(),
            h.to_name.clone(),
            t.time(h.created_at),
            h.acknowledged_at.map(|a| t.time(a)).unwrap_or_default(),
            (h.waited(now) / 60_000).to_string(),
            h.items_carried.to_string(),
            h.items_closed.to_string(),
            h.items_added.to_string(),
            h.questions.to_string(),
            h.summary.clone(),
        ])
        .map_err(err)?;
    }
    w.into_inner()
        .map_err(|e| AppError::Internal(e.to_string()))
}

/// What a handoff of the caller's organisation made now would carry.
#[utoipa::path(get, path = "/api/v1/incidents/{incident}/handoffs/draft",
    params(("incident" = String, Path), DraftQuery),
    responses((status = 200, body = DraftOut), (status = 400), (status = 401), (status = 403), (status = 404), (status = 409), (status = 422)))]
pub async fn draft(
    State(app): State<App>,
    c: Caller,
    Path(incident): Path<String>,
    Query(q): Query<DraftQuery>,
) -> AppResult<Json<DraftOut>> {
    let position = position_param(q.position.as_deref())?;
    let d = app
        .handoff_draft(&c.s.actor, parse_id(&incident)?, position)
        .await?;
    Ok(Json(d.into()))
}

/// Hands the caller's duty over (needs an Idempotency-Key). Duty moves when the incoming
/// person acknowledges every item and the whole.
#[utoipa::path(post, path = "/api/v1/incidents/{incident}/handoffs", request_body = HandoffIn,
    params(("incident" = String, Path), IdemHeader),
    responses((status = 200, body = HandoffCreatedOut), (status = 400), (status = 401), (status = 403), (status = 404), (status = 409), (status = 413), (status = 422)))]
pub async fn hand_over(
    State(app): State<App>,
    c: Caller,
    headers: HeaderMap,
    Path(incident): Path<String>,
    ApiJson(b): ApiJson<HandoffIn>,
) -> AppResult<Json<HandoffCreatedOut>> {
    let key = c.write(&headers)?;
    let input = HandoffInput {
        to: b.to,
        summary: b.summary,
        risks: b.risks,
        notes: b.notes,
        position: position_param(b.position.as_deref())?,
    };
    let w = app
        .hand_over(&c.s.actor, parse_id(&incident)?, input, key)
        .await?;
    let h = app.handoff(&c.s.actor, w.value).await?;
    Ok(Json(HandoffCreatedOut {
        handoff: HandoffOut::new(h, app.now()),
        replayed: w.replayed,
    }))
}

/// An incident's handoffs, newest first.
#[utoipa::path(get, path = "/api/v1/incidents/{incident}/handoffs",
    params(("incident" = String, Path)),
    responses((status = 200, body = Vec<HandoffOut>), (status = 400), (status = 401), (status = 404)))]
pub async fn incident_handoffs(
    State(app): State<App>,
    c: Caller,
    Path(incident): Path<String>,
) -> AppResult<Json<Vec<HandoffOut>>> {
    let list = app
        .handoff_timeline(&c.s.actor, Some(parse_id(&incident)?))
        .await?
        .handoffs;
    let now = app.now();
    Ok(Json(
        list.into_iter().map(|h| HandoffOut::new(h, now)).collect(),
    ))
}

/// An incident's handoffs as CSV.
#[utoipa::path(get, path = "/api/v1/incidents/{incident}/handoffs.csv",
    params(("incident" = String, Path)),
    responses((status = 200, content_type = "text/csv", body = String), (status = 400), (status = 401), (status = 404)))]
pub async fn incident_handoffs_csv(
    State(app): State<App>,
    c: Caller,
    Path(incident): Path<String>,
) -> AppResult<Response> {
    let list = app
        .handoff_timeline(&c.s.actor, Some(parse_id(&incident)?))
        .await?
        .handoffs;
    Ok(super::csv_file(
        handoffs_csv(&list, &c.s.tr, app.now())?,
        "handoffs.csv",
    ))
}

/// Handoffs of every active incident the caller is in, newest first.
#[utoipa::path(get, path = "/api/v1/handoffs",
    responses((status = 200, body = Vec<HandoffOut>), (status = 401)))]
pub async fn all_handoffs(State(app): State<App>, c: Caller) -> AppResult<Json<Vec<HandoffOut>>> {
    let list = app.handoff_timeline(&c.s.actor, None).await?.handoffs;
    let now = app.now();
    Ok(Json(
        list.into_iter().map(|h| HandoffOut::new(h, now)).collect(),
    ))
}

/// Handoffs of every active incident the caller is in, as CSV.
#[utoipa::path(get, path = "/api/v1/handoffs.csv",
    responses((status = 200, content_type = "text/csv", body = String), (status = 401)))]
pub async fn all_handoffs_csv(State(app): State<App>, c: Caller) -> AppResult<Response> {
    let list = app.handoff_timeline(&c.s.actor, None).await?.handoffs;
    Ok(super::csv_file(
        handoffs_csv(&list, &c.s.tr, app.now())?,
        "handoffs.csv",
    ))
}

/// One handoff with its items.
#[utoipa::path(get, path = "/api/v1/handoffs/{handoff}",
    params(("handoff" = String, Path)),
    responses((status = 200, body = HandoffOut), (status = 400), (status = 401), (status = 404)))]
pub async fn handoff(
    State(app): State<App>,
    c: Caller,
    Path(handoff): Path<String>,
) -> AppResult<Json<HandoffOut>> {
    let h = app.handoff(&c.s.actor, parse_id(&handoff)?).await?;
    Ok(Json(HandoffOut::new(h, app.now())))
}

/// Changes the summary, risks or notes (the outgoing person, before acknowledgement).
#[utoipa::path(patch, path = "/api/v1/handoffs/{handoff}", request_body = HandoffPatchIn,
    params(("handoff" = String, Path)),
    responses((status = 200, body = HandoffOut), (status = 400), (status = 401), (status = 403), (status = 404), (status = 409), (status = 413), (status = 422)))]
pub async fn edit_handoff(
    State(app): State<App>,
    c: Caller,
    headers: HeaderMap,
    Path(handoff): Path<String>,
    ApiJson(b): ApiJson<HandoffPatchIn>,
) -> AppResult<Json<HandoffOut>> {
    c.check_csrf(&headers)?;
    let edit = HandoffEditInput {
        to: b.to,
        summary: b.summary,
        risks: b.risks,
        notes: b.notes,
    };
    let h = app
        .edit_handoff(&c.s.actor, parse_id(&handoff)?, edit)
        .await?;
    Ok(Json(HandoffOut::new(h, app.now())))
}

/// The incoming person acknowledges one item.
#[utoipa::path(post, path = "/api/v1/handoffs/{handoff}/items/{item}/acknowledge",
    params(("handoff" = String, Path), ("item" = String, Path)),
    responses((status = 200, body = HandoffOut), (status = 400), (status = 401), (status = 403), (status = 404), (status = 409)))]
pub async fn acknowledge_item(
    State(app): State<App>,
    c: Caller,
    headers: HeaderMap,
    Path((handoff, item)): Path<(String, String)>,
) -> AppResult<Json<HandoffOut>> {
    c.check_csrf(&headers)?;
    let h = app
        .acknowledge_item(&c.s.actor, parse_id(&handoff)?, parse_id(&item)?)
        .await?;
    Ok(Json(HandoffOut::new(h, app.now())))
}

/// The incoming person asks about one item.
#[utoipa::path(post, path = "/api/v1/handoffs/{handoff}/items/{item}/question", request_body = QuestionIn,
    params(("handoff" = String, Path), ("item" = String, Path)),
    responses((status = 200, body = HandoffOut), (status = 400), (status = 401), (status = 403), (status = 404), (status = 409), (status = 413), (status = 422)))]
pub async fn ask_item(
    State(app): State<App>,
    c: Caller,
    headers: HeaderMap,
    Path((handoff, item)): Path<(String, String)>,
    ApiJson(b): ApiJson<QuestionIn>,
) -> AppResult<Json<HandoffOut>> {
    c.check_csrf(&headers)?;
    let h = app
        .ask_item(
            &c.s.actor,
            parse_id(&handoff)?,
            parse_id(&item)?,
            &b.question,
        )
        .await?;
    Ok(Json(HandoffOut::new(h, app.now())))
}

/// The outgoing person answers the question on one item.
#[utoipa::path(post, path = "/api/v1/handoffs/{handoff}/items/{item}/answer", request_body = AnswerIn,
    params(("handoff" = String, Path), ("item" = String, Path)),
    responses((status = 200, body = HandoffOut), (status = 400), (status = 401), (status = 403), (status = 404), (status = 409), (status = 413), (status = 422)))]
pub async fn answer_item(
    State(app): State<App>,
    c: Caller,
    headers: HeaderMap,
    Path((handoff, item)): Path<(String, String)>,
    ApiJson(b): ApiJson<AnswerIn>,
) -> AppResult<Json<HandoffOut>> {
    c.check_csrf(&headers)?;
    let h = app
        .answer_item(&c.s.actor, parse_id(&handoff)?, parse_id(&item)?, &b.answer)
        .await?;
    Ok(Json(HandoffOut::new(h, app.now())))
}

/// The incoming person acknowledges the handoff as a whole (every item first); duty moves.
#[utoipa::path(post, path = "/api/v1/handoffs/{handoff}/acknowledge", request_body = CompleteIn,
    params(("handoff" = String, Path)),
    responses((status = 200, body = HandoffOut), (status = 400), (status = 401), (status = 403), (status = 404), (status = 409), (status = 413), (status = 422)))]
pub async fn complete(
    State(app): State<App>,
    c: Caller,
    headers: HeaderMap,
    Path(handoff): Path<String>,
    ApiJson(b): ApiJson<CompleteIn>,
) -> AppResult<Json<HandoffOut>> {
    c.check_csrf(&headers)?;
    let h = app
        .complete_handoff(&c.s.actor, parse_id(&handoff)?, b.version)
        .await?;
    Ok(Json(HandoffOut::new(h, app.now())))
}

/// An item's changes and the shifts that held it.
#[utoipa::path(get, path = "/api/v1/incidents/{incident}/items/{item}/history",
    params(("incident" = String, Path), ("item" = String, Path)),
    responses((status = 200, body = ItemHistoryOut), (status = 400), (status = 401), (status = 404)))]
pub async fn item_history(
    State(app): State<App>,
    c: Caller,
    Path((incident, item)): Path<(String, String)>,
) -> AppResult<Json<ItemHistoryOut>> {
    let h = app
        .item_history(&c.s.actor, parse_id(&incident)?, parse_id(&item)?)
        .await?;
    Ok(Json(h.into()))
}

/// An incident's named positions and who holds them.
#[utoipa::path(get, path = "/api/v1/incidents/{incident}/positions",
    params(("incident" = String, Path)),
    responses((status = 200, body = Vec<PositionOut>), (status = 400), (status = 401), (status = 404)))]
pub async fn positions(
    State(app): State<App>,
    c: Caller,
    Path(incident): Path<String>,
) -> AppResult<Json<Vec<PositionOut>>> {
    let list = app.positions(&c.s.actor, parse_id(&incident)?).await?;
    Ok(Json(list.into_iter().map(PositionOut::from).collect()))
}

/// Defines a named position such as 情報班長 (the incident's managers; 409 for a name in use).
#[utoipa::path(post, path = "/api/v1/incidents/{incident}/positions", request_body = PositionIn,
    params(("incident" = String, Path)),
    responses((status = 200, body = Vec<PositionOut>), (status = 400), (status = 401), (status = 403), (status = 404), (status = 409), (status = 413), (status = 422)))]
pub async fn define_position(
    State(app): State<App>,
    c: Caller,
    headers: HeaderMap,
    Path(incident): Path<String>,
    ApiJson(b): ApiJson<PositionIn>,
) -> AppResult<Json<Vec<PositionOut>>> {
    c.check_csrf(&headers)?;
    let list = app
        .define_position(&c.s.actor, parse_id(&incident)?, &b.name)
        .await?;
    Ok(Json(list.into_iter().map(PositionOut::from).collect()))
}

/// Takes a vacant position (409 while someone else holds it: a handoff moves it).
#[utoipa::path(post, path = "/api/v1/incidents/{incident}/positions/{position}/take",
    params(("incident" = String, Path), ("position" = String, Path)),
    responses((status = 200, body = Vec<PositionOut>), (status = 400), (status = 401), (status = 403), (status = 404), (status = 409)))]
pub async fn take_position(
    State(app): State<App>,
    c: Caller,
    headers: HeaderMap,
    Path((incident, position)): Path<(String, String)>,
) -> AppResult<Json<Vec<PositionOut>>> {
    c.check_csrf(&headers)?;
    let list = app
        .take_position(&c.s.actor, parse_id(&incident)?, parse_id(&position)?)
        .await?;
    Ok(Json(list.into_iter().map(PositionOut::from).collect()))
}
