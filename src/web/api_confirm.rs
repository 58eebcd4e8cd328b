//! `/api/v1` for 要確認: asking when posting, confirming, and the matrix.

use super::api::{Caller, IdemHeader};
use super::parse_id;
use crate::app::{App, Ask, Matrix};
use crate::domain::{Invalid, MessageId, RoomId};
use crate::error::AppResult;
use crate::store::rfc3339;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
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

impl AskIn {
    /// Checks the ids and the time.
    pub fn ask(self) -> AppResult<Ask> {
        let orgs = self
            .orgs
            .iter()
            .map(|o| o.parse())
            .collect::<Result<_, _>>()
            .map_err(|_| Invalid::new("confirm_orgs", "err-confirm-target"))?;
        let users = self
            .users
            .iter()
            .map(|u| u.parse())
            .collect::<Result<_, _>>()
            .map_err(|_| Invalid::new("confirm_users", "err-confirm-target"))?;
        let due_at = match self.due_at.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(s) => Some(
                time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
                    .map(crate::store::millis)
                    .map_err(|_| Invalid::new("due_at", "err-datetime"))?,
            ),
        };
        Ok(Ask {
            all_orgs: self.all_orgs,
            orgs,
            users,
            due_at,
        })
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
}

/// A request's confirmations: who confirmed (by whom, when), who has not, who is overdue.
#[derive(Serialize, ToSchema)]
pub struct MatrixOut {
    #[schema(value_type = String, format = Uuid, max_length = 36)]
    pub message_id: MessageId,
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
                    state: if row.confirmed_at.is_some() {
                        "confirmed"
                    } else if m.is_overdue(row) {
                        "overdue"
                    } else {
                        "pending"
                    }
                    .into(),
                    confirmed_by: row.confirmed_by_name.clone(),
                    confirmed_at: row.confirmed_at.map(rfc3339),
                    reply_id: row.reply_id,
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
