//! `/api/v1` for 要確認: asking when posting, confirming, and the matrix.

use super::api::{ApiJson, Caller, IdemHeader};
use super::parse_id;
use crate::app::{App, Ask, Broadcast, Matrix, Reads};
use crate::domain::{BroadcastId, Invalid, MessageId, RoomId};
use crate::error::AppResult;
use crate::store::{AskState, ConfirmTarget, rfc3339};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Whom a new message asks to confirm.
#[derive(Deserialize, ToSchema, Default)]
pub struct AskIn {
    /// Every organisation with members in the room (besides the poster's).
    #[serde(default)]
    pub all_orgs: bool,
    /// Organisations by id (anyone of one may confirm for it).
    #[serde(default)]
    #[schema(max_items = 500)]
    pub orgs: Vec<String>,
    /// People by id.
    #[serde(default)]
    #[schema(max_items = 500)]
    pub users: Vec<String>,
    /// When confirmations are due (RFC 3339).
    #[schema(max_length = 40)]
    pub due_at: Option<String>,
}

/// Parses an optional RFC 3339 time.
pub(super) fn due_time(s: Option<&str>) -> AppResult<Option<crate::store::Millis>> {
    match s.map(str::trim) {
        None | Some("") => Ok(None),
        Some(s) => Ok(Some(
            time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
                .map(crate::store::millis)
                .map_err(|_| Invalid::new("due_at", "err-datetime"))?,
        )),
    }
}

/// Ids from strings, or a clear error naming the field.
fn ids<T: std::str::FromStr>(v: &[String], field: &'static str) -> AppResult<Vec<T>> {
    Ok(v.iter()
        .map(|o| o.parse())
        .collect::<Result<_, _>>()
        .map_err(|_| Invalid::new(field, "err-confirm-target"))?)
}

impl AskIn {
    /// Checks the ids and the time.
    pub fn ask(self) -> AppResult<Ask> {
        let orgs = ids(&self.orgs, "confirm_orgs")?;
        let users = ids(&self.users, "confirm_users")?;
        let due_at = due_time(self.due_at.as_deref())?;
        Ok(Ask {
            all_orgs: self.all_orgs,
            orgs,
            users,
            due_at,
            broadcast: None,
        })
    }
}

/// What a message asks, in short.
#[derive(Serialize, ToSchema)]
pub struct AskSummaryOut {
    pub total: usize,
    pub confirmed: usize,
    #[schema(max_length = 40, nullable)]
    pub due_at: Option<String>,
}

impl From<&AskState> for AskSummaryOut {
    fn from(a: &AskState) -> Self {
        Self {
            total: a.total(),
            confirmed: a.done(),
            due_at: a.due_at.map(rfc3339),
        }
    }
}

/// One addressee of a request.
#[derive(Serialize, ToSchema)]
pub struct ConfirmRowOut {
    /// org or user.
    #[schema(max_length = 4)]
    pub kind: String,
    #[schema(max_length = 36)]
    pub id: String,
    #[schema(max_length = 200)]
    pub name: String,
    /// confirmed, pending or overdue.
    #[schema(max_length = 10)]
    pub state: String,
    #[schema(max_length = 200, nullable)]
    pub confirmed_by: Option<String>,
    #[schema(max_length = 40, nullable)]
    pub confirmed_at: Option<String>,
    /// The reply that counted as confirming.
    #[schema(value_type = Option<String>, format = Uuid, max_length = 36)]
    pub reply_id: Option<MessageId>,
    /// The copy asking, and its room.
    #[schema(value_type = String, format = Uuid, max_length = 36)]
    pub message_id: MessageId,
    #[schema(value_type = String, format = Uuid, max_length = 36)]
    pub room_id: RoomId,
    #[schema(max_length = 200)]
    pub room_name: String,
}

/// A request's confirmations: who confirmed (by whom, when), who has not, who is overdue.
#[derive(Serialize, ToSchema)]
pub struct MatrixOut {
    #[schema(value_type = String, format = Uuid, max_length = 36)]
    pub message_id: MessageId,
    /// The broadcast the message is a copy of.
    #[schema(value_type = Option<String>, format = Uuid, max_length = 36)]
    pub broadcast_id: Option<BroadcastId>,
    pub total: usize,
    pub confirmed: usize,
    pub overdue: usize,
    #[schema(max_length = 40, nullable)]
    pub due_at: Option<String>,
    pub rows: Vec<ConfirmRowOut>,
}

impl From<&Matrix> for MatrixOut {
    fn from(m: &Matrix) -> Self {
        let r = &m.request;
        Self {
            message_id: r.message_id,
            broadcast_id: r.broadcast,
            total: r.rows.len(),
            confirmed: m.confirmed,
            overdue: m.overdue,
            due_at: r.due_at.map(rfc3339),
            rows: r
                .rows
                .iter()
                .map(|row| ConfirmRowOut {
                    kind: row.target.kind().into(),
                    id: row.target.id_string(),
                    name: row.name.clone(),
                    state: m.state(row).into(),
                    confirmed_by: row.confirmed_by_name.clone(),
                    confirmed_at: row.confirmed_at.map(rfc3339),
                    reply_id: row.reply_id,
                    message_id: row.message_id,
                    room_id: row.room_id,
                    room_name: row.room_name.clone(),
                })
                .collect(),
        }
    }
}

/// What confirming did.
#[derive(Serialize, ToSchema)]
pub struct ConfirmedOut {
    /// The caller's addressees (themselves, their organisation) and their confirmations; a
    /// second confirmation changes nothing and shows the first.
    pub rows: Vec<ConfirmRowOut>,
}

/// Confirms a 要確認 message for the caller and their organisation, where asked.
#[utoipa::path(post, path = "/api/v1/rooms/{room}/messages/{message}/confirm",
    params(("room" = String, Path), ("message" = String, Path), IdemHeader),
    responses((status = 200, body = ConfirmedOut), (status = 400), (status = 401), (status = 403), (status = 404), (status = 409)))]
pub async fn confirm(
    State(app): State<App>,
    c: Caller,
    headers: HeaderMap,
    Path((room, message)): Path<(String, String)>,
) -> AppResult<Json<ConfirmedOut>> {
    c.write(&headers)?;
    let room: RoomId = parse_id(&room)?;
    let message: MessageId = parse_id(&message)?;
    let mine = app.confirm(&c.s.actor, room, message).await?;
    let out = MatrixOut::from(&mine);
    Ok(Json(ConfirmedOut { rows: out.rows }))
}

/// The confirmations of a 要確認 message (its sender and the room's managers).
#[utoipa::path(get, path = "/api/v1/rooms/{room}/messages/{message}/confirmations",
    params(("room" = String, Path), ("message" = String, Path)),
    responses((status = 200, body = MatrixOut), (status = 401), (status = 403), (status = 404), (status = 409)))]
pub async fn matrix(
    State(app): State<App>,
    c: Caller,
    Path((room, message)): Path<(String, String)>,
) -> AppResult<Json<MatrixOut>> {
    let room: RoomId = parse_id(&room)?;
    let message: MessageId = parse_id(&message)?;
    let m = app.confirm_matrix(&c.s.actor, room, message).await?;
    Ok(Json(MatrixOut::from(&m)))
}

/// How many people a reminder reached.
#[derive(Serialize, ToSchema)]
pub struct RemindedOut {
    pub reminded: usize,
}

/// Reminds everyone who has not confirmed (inbox, and e-mail where a relay is configured): the
/// sender and the room's managers.
#[utoipa::path(post, path = "/api/v1/rooms/{room}/messages/{message}/confirmations/remind",
    params(("room" = String, Path), ("message" = String, Path)),
    responses((status = 200, body = RemindedOut), (status = 400), (status = 401), (status = 403), (status = 404), (status = 409)))]
pub async fn remind(
    State(app): State<App>,
    c: Caller,
    headers: HeaderMap,
    Path((room, message)): Path<(String, String)>,
) -> AppResult<Json<RemindedOut>> {
    c.check_csrf(&headers)?;
    let reminded = app
        .remind(&c.s.actor, parse_id(&room)?, parse_id(&message)?)
        .await?;
    Ok(Json(RemindedOut { reminded }))
}

/// The not-yet list as CSV (UTF-8 with a byte-order mark, so spreadsheet software in
/// Japan opens it right): name, kind, room, state, due time.
fn not_confirmed_csv(m: &Matrix, t: &crate::i18n::Tr) -> AppResult<Vec<u8>> {
    let mut w = csv::Writer::from_writer(vec![0xEF, 0xBB, 0xBF]);
    let head = [
        t.t("ui-confirm-addressee"),
        t.t("ui-confirm-kind"),
        t.t("ui-room"),
        t.t("ui-status"),
        t.t("ui-confirm-due"),
    ];
    w.write_record(&head)
        .map_err(|e| crate::error::AppError::Internal(e.to_string()))?;
    for r in m.pending() {
        let kind = match r.target {
            ConfirmTarget::Org(_) => t.t("ui-organisation"),
            ConfirmTarget::User(_) => t.t("ui-person"),
        };
        let state = t.t(if m.is_overdue(r) {
            "ui-confirm-overdue"
        } else {
            "ui-confirm-pending"
        });
        let due = r.due_at.map(|d| t.time(d)).unwrap_or_default();
        w.write_record([r.name.as_str(), &kind, &r.room_name, &state, &due])
            .map_err(|e| crate::error::AppError::Internal(e.to_string()))?;
    }
    w.into_inner()
        .map_err(|e| crate::error::AppError::Internal(e.to_string()))
}

/// Those who have not confirmed, as CSV (for the phone calls that remain).
#[utoipa::path(get, path = "/api/v1/rooms/{room}/messages/{message}/confirmations/pending.csv",
    params(("room" = String, Path), ("message" = String, Path)),
    responses((status = 200, content_type = "text/csv", body = String), (status = 401), (status = 403), (status = 404), (status = 409)))]
pub async fn pending_csv(
    State(app): State<App>,
    c: Caller,
    Path((room, message)): Path<(String, String)>,
) -> AppResult<Response> {
    let m = app
        .confirm_matrix(&c.s.actor, parse_id(&room)?, parse_id(&message)?)
        .await?;
    Ok(super::csv_file(
        not_confirmed_csv(&m, &c.s.tr)?,
        "not-confirmed.csv",
    ))
}

/// One message to many organisations (their 受信窓口 rooms) and rooms.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BroadcastIn {
    #[schema(min_length = 1, max_length = 10000)]
    pub body: String,
    /// Organisations by id.
    #[serde(default)]
    #[schema(max_items = 500)]
    pub orgs: Vec<String>,
    /// Rooms by id (the caller must be a member of each).
    #[serde(default)]
    #[schema(max_items = 500)]
    pub rooms: Vec<String>,
    /// Ask each addressed organisation (in a room: every other organisation) to confirm.
    #[serde(default)]
    pub confirm: bool,
    /// When confirmations are due (RFC 3339).
    #[schema(max_length = 40)]
    pub due_at: Option<String>,
}

/// One copy of a broadcast.
#[derive(Serialize, ToSchema)]
pub struct CopyOut {
    #[schema(value_type = String, format = Uuid, max_length = 36)]
    pub room_id: RoomId,
    #[schema(value_type = String, format = Uuid, max_length = 36)]
    pub message_id: MessageId,
}

/// What a broadcast posted.
#[derive(Serialize, ToSchema)]
pub struct BroadcastOut {
    #[schema(value_type = String, format = Uuid, max_length = 36)]
    pub broadcast_id: BroadcastId,
    pub copies: Vec<CopyOut>,
    /// True when this answers a retry of an earlier request with the same key.
    pub replayed: bool,
}

/// Posts one message to many organisations and rooms at once (needs an Idempotency-Key).
#[utoipa::path(post, path = "/api/v1/broadcasts", request_body = BroadcastIn, params(IdemHeader),
    responses((status = 200, body = BroadcastOut), (status = 400), (status = 401), (status = 403), (status = 404), (status = 409), (status = 413), (status = 422)))]
pub async fn broadcast(
    State(app): State<App>,
    c: Caller,
    headers: HeaderMap,
    ApiJson(b): ApiJson<BroadcastIn>,
) -> AppResult<Json<BroadcastOut>> {
    let key = c.write(&headers)?;
    let plan = Broadcast {
        body: b.body,
        orgs: ids(&b.orgs, "orgs")?,
        rooms: ids(&b.rooms, "rooms")?,
        confirm: b.confirm,
        due_at: due_time(b.due_at.as_deref())?,
    };
    let done = app.broadcast(&c.s.actor, &plan, key).await?;
    Ok(Json(BroadcastOut {
        broadcast_id: done.id,
        copies: done
            .copies
            .into_iter()
            .map(|(room_id, message_id)| CopyOut {
                room_id,
                message_id,
            })
            .collect(),
        replayed: done.replayed,
    }))
}

/// The confirmations of every copy of a broadcast, as one matrix (its sender and the
/// administrators of the sender's organisation).
#[utoipa::path(get, path = "/api/v1/broadcasts/{broadcast}",
    params(("broadcast" = String, Path)),
    responses((status = 200, body = MatrixOut), (status = 400), (status = 401), (status = 404)))]
pub async fn broadcast_matrix(
    State(app): State<App>,
    c: Caller,
    Path(id): Path<String>,
) -> AppResult<Json<MatrixOut>> {
    let m = app.broadcast_matrix(&c.s.actor, parse_id(&id)?).await?;
    Ok(Json(MatrixOut::from(&m)))
}

/// Reminds everyone who has not confirmed any copy of a broadcast (its sender and the
/// administrators of the sender's organisation).
#[utoipa::path(post, path = "/api/v1/broadcasts/{broadcast}/remind",
    params(("broadcast" = String, Path)),
    responses((status = 200, body = RemindedOut), (status = 400), (status = 401), (status = 403), (status = 404), (status = 409)))]
pub async fn broadcast_remind(
    State(app): State<App>,
    c: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> AppResult<Json<RemindedOut>> {
    c.check_csrf(&headers)?;
    let reminded = app.remind_broadcast(&c.s.actor, parse_id(&id)?).await?;
    Ok(Json(RemindedOut { reminded }))
}

/// Not confirmed in any copy of a broadcast, as CSV (its sender and the administrators of the
/// sender's organisation).
#[utoipa::path(get, path = "/api/v1/broadcasts/{broadcast}/pending.csv",
    params(("broadcast" = String, Path)),
    responses((status = 200, content_type = "text/csv", body = String), (status = 400), (status = 401), (status = 404)))]
pub async fn broadcast_pending_csv(
    State(app): State<App>,
    c: Caller,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let m = app.broadcast_matrix(&c.s.actor, parse_id(&id)?).await?;
    Ok(super::csv_file(
        not_confirmed_csv(&m, &c.s.tr)?,
        "not-confirmed.csv",
    ))
}

/// A member who has or has not read a message.
#[derive(Serialize, ToSchema)]
pub struct ReaderOut {
    #[schema(max_length = 64)]
    pub login: String,
    #[schema(max_length = 100)]
    pub name: String,
    #[schema(max_length = 200)]
    pub org_name: String,
    pub read: bool,
}

/// Who has read a message (既読): counts for members, names for its sender.
#[derive(Serialize, ToSchema)]
pub struct ReadsOut {
    pub read: usize,
    /// Members of the room besides the author.
    pub members: usize,
    /// Each member and whether they have read it: for the sender only.
    #[schema(nullable)]
    pub who: Option<Vec<ReaderOut>>,
}

impl From<Reads> for ReadsOut {
    fn from(r: Reads) -> Self {
        Self {
            read: r.read,
            members: r.members,
            who: r.who.map(|v| {
                v.into_iter()
                    .map(|(m, read)| ReaderOut {
                        login: m.login,
                        name: m.display_name,
                        org_name: m.org_name,
                        read,
                    })
                    .collect()
            }),
        }
    }
}

/// How many members have read a message; who, for its sender.
#[utoipa::path(get, path = "/api/v1/rooms/{room}/messages/{message}/reads",
    params(("room" = String, Path), ("message" = String, Path)),
    responses((status = 200, body = ReadsOut), (status = 400), (status = 401), (status = 404)))]
pub async fn reads(
    State(app): State<App>,
    c: Caller,
    Path((room, message)): Path<(String, String)>,
) -> AppResult<Json<ReadsOut>> {
    let r = app
        .reads(&c.s.actor, parse_id(&room)?, parse_id(&message)?)
        .await?;
    Ok(Json(r.into()))
}
