//! Pages of 要確認 and broadcasts: confirming, the matrix (live, printable), reminders, who has
//! read a message, and posting to many organisations and rooms at once.

use super::pages::{CsrfForm, Ctx, checked_ids, parse_id, written};
use super::session::{Session, Write, idem_key, wants_json};
use crate::app::{App, Broadcast, Matrix, Reads};
use crate::domain::*;
use crate::error::{AppError, AppResult};
use crate::store::{BroadcastSummary, Message, Org, RoomSummary};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;
use std::collections::HashMap;

/// Confirms a 要確認 message (the 確認 button).
pub async fn confirm(
    State(app): State<App>,
    Path((room, msg)): Path<(String, String)>,
    w: Write<CsrfForm>,
) -> AppResult<Response> {
    let Write { s, headers, .. } = w;
    let room: RoomId = parse_id(&room)?;
    let msg: MessageId = parse_id(&msg)?;
    let mine = app.confirm(&s.actor, room, msg).await?;
    Ok(written(
        &headers,
        format!("/rooms/{room}#m-{msg}"),
        serde_json::json!({"confirmed": mine.confirmed}),
    ))
}

/// The matrix and where it came from.
#[derive(Template)]
#[template(path = "_matrix.html")]
struct MatrixPart<'a> {
    t: &'a crate::i18n::Tr,
    m: &'a Matrix,
}

impl MatrixPart<'_> {
    /// The room a row's copy is in, when the matrix spans rooms.
    fn rooms(&self) -> bool {
        self.m.many_rooms()
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "confirm_matrix.html")]
struct MatrixPage {
    ctx: Ctx,
    m: Matrix,
    message: Message,
    /// Where the reminder and export actions go.
    base: String,
    csv: String,
    reminded: Option<usize>,
    matrix_html: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "confirm_print.html")]
struct PrintPage {
    ctx: Ctx,
    m: Matrix,
    message: Message,
}

#[derive(Deserialize)]
pub struct MatrixQuery {
    partial: Option<String>,
    print: Option<String>,
    reminded: Option<usize>,
}

/// Renders a matrix (of `message`) as a page, its live part, or the printable not-yet list.
async fn matrix_response(
    app: &App,
    s: &Session,
    (m, message): (Matrix, Message),
    q: MatrixQuery,
    base: String,
    csv: String,
) -> AppResult<Response> {
    let part = MatrixPart { t: &s.tr, m: &m }
        .render()
        .map_err(|e| AppError::Internal(e.to_string()))?;
    if q.partial.as_deref() == Some("1") {
        return Ok(Html(part).into_response());
    }
    let title = s.tr.t("ui-confirm-matrix");
    if q.print.as_deref() == Some("1") {
        return Ok(PrintPage {
            ctx: Ctx::new(app, s, title).await?,
            m,
            message,
        }
        .into_response());
    }
    Ok(MatrixPage {
        ctx: Ctx::new(app, s, title).await?,
        m,
        message,
        base,
        csv,
        reminded: q.reminded,
        matrix_html: part,
    }
    .into_response())
}

/// A message's matrix: for its sender and the room's managers.
pub async fn matrix(
    State(app): State<App>,
    s: Session,
    Path((room, msg)): Path<(String, String)>,
    Query(q): Query<MatrixQuery>,
) -> AppResult<Response> {
    let room: RoomId = parse_id(&room)?;
    let msg: MessageId = parse_id(&msg)?;
    let m = app.confirm_matrix(&s.actor, room, msg).await?;
    let message = app.message(&s.actor, room, msg).await?;
    let base = format!("/rooms/{room}/messages/{msg}/confirmations");
    let csv = format!("/api/v1/rooms/{room}/messages/{msg}/confirmations/pending.csv");
    matrix_response(&app, &s, (m, message), q, base, csv).await
}

/// Reminds those not confirmed yet, then shows the matrix with how many were reminded.
pub async fn remind(
    State(app): State<App>,
    Path((room, msg)): Path<(String, String)>,
    w: Write<CsrfForm>,
) -> AppResult<Response> {
    let Write { s, headers, .. } = w;
    let room: RoomId = parse_id(&room)?;
    let msg: MessageId = parse_id(&msg)?;
    let n = app.remind(&s.actor, room, msg).await?;
    Ok(written(
        &headers,
        format!("/rooms/{room}/messages/{msg}/confirmations?reminded={n}"),
        serde_json::json!({"reminded": n}),
    ))
}

/// Every copy of a broadcast as one matrix: for its sender and their organisation's
/// administrators.
pub async fn broadcast_page(
    State(app): State<App>,
    s: Session,
    Path(id): Path<String>,
    Query(q): Query<MatrixQuery>,
) -> AppResult<Response> {
    let id: BroadcastId = parse_id(&id)?;
    let view = app.broadcast_view(&s.actor, id).await?;
    let base = format!("/broadcasts/{id}");
    let csv = format!("/api/v1/broadcasts/{id}/pending.csv");
    matrix_response(&app, &s, view, q, base, csv).await
}

/// Reminds those not confirmed yet in any copy of a broadcast.
pub async fn broadcast_remind(
    State(app): State<App>,
    Path(id): Path<String>,
    w: Write<CsrfForm>,
) -> AppResult<Response> {
    let Write { s, headers, .. } = w;
    let id: BroadcastId = parse_id(&id)?;
    let n = app.remind_broadcast(&s.actor, id).await?;
    Ok(written(
        &headers,
        format!("/broadcasts/{id}?reminded={n}"),
        serde_json::json!({"reminded": n}),
    ))
}

#[derive(Template, WebTemplate)]
#[template(path = "reads.html")]
struct ReadsPage {
    ctx: Ctx,
    r: Reads,
}

/// Who has read a message: counts for members, names for its sender.
pub async fn reads(
    State(app): State<App>,
    s: Session,
    Path((room, msg)): Path<(String, String)>,
) -> AppResult<Response> {
    let room: RoomId = parse_id(&room)?;
    let msg: MessageId = parse_id(&msg)?;
    let r = app.reads(&s.actor, room, msg).await?;
    Ok(ReadsPage {
        ctx: Ctx::new(&app, &s, s.tr.t("ui-read-title")).await?,
        r,
    }
    .into_response())
}

#[derive(Template, WebTemplate)]
#[template(path = "broadcast_new.html")]
struct BroadcastForm {
    ctx: Ctx,
    orgs: Vec<Org>,
    rooms: Vec<RoomSummary>,
    error: Option<String>,
    body: String,
    /// Broadcasts the user may follow (their own; an administrator's organisation's).
    sent: Vec<BroadcastSummary>,
}

/// The broadcast form, with what was typed and why it was refused when it was.
async fn broadcast_form(
    app: &App,
    s: &Session,
    error: Option<String>,
    body: String,
) -> AppResult<BroadcastForm> {
    let (orgs, rooms) = app.broadcast_targets(&s.actor).await?;
    Ok(BroadcastForm {
        ctx: Ctx::new(app, s, s.tr.t("ui-broadcast")).await?,
        orgs,
        rooms,
        error,
        body,
        sent: app.broadcasts(&s.actor).await?,
    })
}

/// The form for posting to many organisations and rooms.
pub async fn broadcast_new(State(app): State<App>, s: Session) -> AppResult<Response> {
    Ok(broadcast_form(&app, &s, None, String::new())
        .await?
        .into_response())
}

/// A broadcast from the form's fields: `body`, `org.<id>` and `room.<id>` checkboxes,
/// `confirm` and `due` (a local time).
fn broadcast_of(app: &App, form: &HashMap<String, String>) -> AppResult<Broadcast> {
    Ok(Broadcast {
        body: form.get("body").cloned().unwrap_or_default(),
        orgs: checked_ids(form, "org.", Invalid::new("orgs", "err-broadcast-org"))?,
        rooms: checked_ids(form, "room.", Invalid::new("rooms", "err-broadcast-room"))?,
        confirm: form.get("confirm").is_some_and(|v| !v.is_empty()),
        due_at: app.local_time(form.get("due").map(String::as_str).unwrap_or(""), "due_at")?,
    })
}

/// Posts a broadcast from the form (with its `idem` key); a refused one shows the form again.
pub async fn broadcast_create(
    State(app): State<App>,
    w: Write<HashMap<String, String>>,
) -> AppResult<Response> {
    let Write { s, form, headers } = w;
    let key = idem_key(&headers, form.get("idem").map(String::as_str))?;
    let result = match broadcast_of(&app, &form) {
        Ok(b) => app.broadcast(&s.actor, &b, key).await.map(|sent| (b, sent)),
        Err(e) => Err(e),
    };
    match result {
        Ok((b, sent)) => {
            let to = if b.confirm {
                format!("/broadcasts/{}", sent.id)
            } else {
                sent.copies
                    .first()
                    .map(|(r, m)| format!("/rooms/{r}#m-{m}"))
                    .unwrap_or_else(|| "/".into())
            };
            Ok(written(
                &headers,
                to,
                serde_json::json!({"broadcast_id": sent.id, "copies": sent.copies.len()}),
            ))
        }
        Err(AppError::Invalid(e)) if !wants_json(&headers, "") => {
            let body = form.get("body").cloned().unwrap_or_default();
            let page = broadcast_form(&app, &s, Some(s.tr.t(e.key)), body).await?;
            Ok((axum::http::StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(e) => Err(e),
    }
}
