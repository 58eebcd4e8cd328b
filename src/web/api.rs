//! The JSON API under `/api/v1`, described by an OpenAPI document generated from this code
//! (`/api/v1/openapi.json`). Callers authenticate with a personal token
//! (`Authorization: Bearer …`, made in the settings page) or the browser session (writes then
//! need `X-CSRF-Token`). Every write needs an `Idempotency-Key`; errors are
//! `{"error": {"code", "message", "field"}}`.

use super::parse_id;
use super::session::{Session, idem_key, request_lang};
use crate::app::{Actor, App};
use crate::domain::{MessageId, RoomId};
use crate::error::{AppError, AppResult};
use crate::i18n::Tr;
use crate::store::{Message, RoomSummary};
use axum::Json;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request, State};
use axum::http::{HeaderMap, header, request::Parts};
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

/// An API caller: a token holder, or a browser session.
pub struct Caller {
    pub s: Session,
    bearer: bool,
    /// The bearer token, for streams that must end when it is revoked.
    token: Option<String>,
}

impl Caller {
    /// Checks what a write needs: an idempotency key, and the CSRF token for browser sessions.
    pub(super) fn write(&self, headers: &HeaderMap) -> AppResult<crate::domain::IdemKey> {
        self.check_csrf(headers)?;
        idem_key(headers, None)
    }

    /// Checks the CSRF token of a write by a browser session (token holders need none).
    pub(super) fn check_csrf(&self, headers: &HeaderMap) -> AppResult<()> {
        if !self.bearer {
            let token = headers
                .get("x-csrf-token")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            self.s.check_csrf(token)?;
        }
        Ok(())
    }
}

impl FromRequestParts<App> for Caller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        let bearer = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(|t| t.trim().to_string());
        let Some(token) = bearer else {
            let s = Session::from_request_parts(parts, app).await?;
            return Ok(Caller {
                s,
                bearer: false,
                token: None,
            });
        };
        let Some(user) = app.token_user(&token).await? else {
            return Err(AppError::Unauthorized);
        };
        let lang = user.lang.unwrap_or_else(|| request_lang(&parts.headers));
        Ok(Caller {
            s: Session {
                csrf: String::new(),
                tr: Tr::new(lang, app.config.tz),
                actor: Actor {
                    user,
                    session_hash: String::new(),
                    address: String::new(),
                },
            },
            bearer: true,
            token: Some(token),
        })
    }
}

/// A JSON body whose rejection is a clear 400 in our error format.
pub struct ApiJson<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(ApiJson(v)),
            Err(axum::extract::rejection::JsonRejection::BytesRejection(_)) => {
                Err(AppError::TooLarge)
            }
            Err(_) => Err(AppError::BadRequest("err-bad-json")),
        }
    }
}

/// The calling user.
#[derive(Serialize, ToSchema)]
pub struct MeOut {
    #[schema(value_type = String, format = Uuid, max_length = 36)]
    pub id: crate::domain::UserId,
    #[schema(max_length = 64)]
    pub login: String,
    #[schema(max_length = 100)]
    pub display_name: String,
    #[schema(max_length = 100)]
    pub organisation: String,
    /// `member`, `org_admin` or `deployment_admin`.
    #[schema(max_length = 20)]
    pub role: String,
}

/// A room as listed to the caller.
#[derive(Serialize, ToSchema)]
pub struct RoomOut {
    #[schema(value_type = String, format = Uuid, max_length = 36)]
    pub id: RoomId,
    /// `group`, `direct` or `org_inbox`.
    #[schema(max_length = 20)]
    pub kind: String,
    #[schema(max_length = 100)]
    pub name: String,
    #[schema(max_length = 500)]
    pub description: String,
    pub archived: bool,
    /// Unread messages.
    pub unread: i64,
    /// Milliseconds since the Unix epoch (UTC).
    pub last_activity_at: i64,
}

impl From<RoomSummary> for RoomOut {
    fn from(r: RoomSummary) -> Self {
        RoomOut {
            id: r.room.id,
            kind: r.room.kind.as_str().to_string(),
            name: r.peer_name.unwrap_or(r.room.name),
            description: r.room.description,
            archived: r.room.archived,
            unread: r.unread,
            last_activity_at: r.room.last_activity_at,
        }
    }
}

/// A message.
#[derive(Serialize, ToSchema)]
pub struct MessageOut {
    #[schema(value_type = String, format = Uuid, max_length = 36)]
    pub id: MessageId,
    #[schema(value_type = String, format = Uuid, max_length = 36)]
    pub room_id: RoomId,
    /// The timeline position (the live stream's event id).
    pub pos: i64,
    #[schema(max_length = 64)]
    pub author_login: String,
    #[schema(max_length = 100)]
    pub author_name: String,
    /// Empty once deleted.
    #[schema(max_length = 10000)]
    pub body: String,
    #[schema(value_type = Option<String>, format = Uuid, max_length = 36)]
    pub reply_to: Option<MessageId>,
    pub created_at: i64,
    pub edited_at: Option<i64>,
    pub deleted: bool,
    /// What it asks to confirm (要確認), if anything.
    #[schema(nullable)]
    pub confirm: Option<super::api_confirm::AskSummaryOut>,
}

impl From<Message> for MessageOut {
    fn from(m: Message) -> Self {
        MessageOut {
            id: m.id,
            room_id: m.room_id,
            pos: m.pos,
            author_login: m.author_login,
            author_name: m.author_name,
            body: m.body,
            reply_to: m.reply_to.map(|r| r.id),
            created_at: m.created_at,
            edited_at: m.edited_at,
            deleted: m.deleted,
            confirm: m.ask.as_ref().map(super::api_confirm::AskSummaryOut::from),
        }
    }
}

/// A new group room.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRoomIn {
    #[schema(min_length = 1, max_length = 80)]
    pub name: String,
    #[serde(default)]
    #[schema(max_length = 500)]
    pub description: String,
    /// Login ids to invite, separated by commas.
    #[serde(default)]
    #[schema(max_length = 5000)]
    pub invite: String,
}

/// A new message.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMessageIn {
    #[schema(min_length = 1, max_length = 10000)]
    pub body: String,
    #[schema(value_type = Option<String>, format = Uuid, max_length = 36)]
    #[serde(default)]
    pub reply_to: Option<MessageId>,
    /// 要確認: ask organisations or people to confirm they have taken it in.
    #[serde(default)]
    pub confirm: Option<super::api_confirm::AskIn>,
}

/// The result of a write.
#[derive(Serialize, ToSchema)]
pub struct CreatedOut {
    #[schema(value_type = String, format = Uuid, max_length = 36)]
    pub id: uuid::Uuid,
    /// True when the idempotency key had been used: this is the first result, nothing new was made.
    pub replayed: bool,
}

/// A page of messages, oldest first.
#[derive(Serialize, ToSchema)]
pub struct MessagesOut {
    pub messages: Vec<MessageOut>,
    /// Pass as `before` for the page before this one; absent on the first page.
    pub older: Option<i64>,
}

/// The idempotency key every write carries (documentation only; `Caller::write` reads it).
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)]
pub struct IdemHeader {
    /// Any new value for a new write; repeat it to retry the same write.
    #[serde(rename = "Idempotency-Key")]
    #[param(min_length = 8, max_length = 100, pattern = "^[A-Za-z0-9:_-]{8,100}$")]
    key: String,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Messages before this position (for paging back).
    #[param(minimum = 0)]
    pub before: Option<i64>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// Words to find (up to 200 characters).
    #[param(max_length = 200)]
    pub q: String,
}

/// The calling user.
#[utoipa::path(get, path = "/api/v1/me", responses((status = 200, body = MeOut), (status = 400), (status = 401)))]
pub async fn me(c: Caller) -> Json<MeOut> {
    let u = &c.s.actor.user;
    Json(MeOut {
        id: u.id,
        login: u.login.clone(),
        display_name: u.display_name.clone(),
        organisation: u.org_name.clone(),
        role: u.role.as_str().to_string(),
    })
}

/// The caller's rooms, most recent activity first.
#[utoipa::path(get, path = "/api/v1/rooms", responses((status = 200, body = Vec<RoomOut>), (status = 400), (status = 401)))]
pub async fn rooms(State(app): State<App>, c: Caller) -> AppResult<Json<Vec<RoomOut>>> {
    Ok(Json(
        app.rooms(&c.s.actor)
            .await?
            .into_iter()
            .map(RoomOut::from)
            .collect(),
    ))
}

/// Creates a group room.
#[utoipa::path(post, path = "/api/v1/rooms", request_body = NewRoomIn,
    params(IdemHeader),
    responses((status = 200, body = CreatedOut), (status = 400), (status = 401), (status = 413), (status = 422)))]
pub async fn create_room(
    State(app): State<App>,
    c: Caller,
    headers: HeaderMap,
    ApiJson(body): ApiJson<NewRoomIn>,
) -> AppResult<Json<CreatedOut>> {
    let key = c.write(&headers)?;
    if body.invite.len() > 5000 {
        return Err(crate::domain::Invalid::new("invite", "err-too-long").into());
    }
    let w = app
        .create_room(&c.s.actor, &body.name, &body.description, &body.invite, key)
        .await?;
    Ok(Json(CreatedOut {
        id: w.value.0,
        replayed: w.replayed,
    }))
}

/// Messages of a room, newest page first; page back with `before`.
#[utoipa::path(get, path = "/api/v1/rooms/{room}/messages", params(("room" = String, Path), PageQuery),
    responses((status = 200, body = MessagesOut), (status = 400), (status = 401), (status = 404), (status = 422)))]
pub async fn messages(
    State(app): State<App>,
    c: Caller,
    Path(room): Path<String>,
    Query(q): Query<PageQuery>,
) -> AppResult<Json<MessagesOut>> {
    if q.before.is_some_and(|b| b < 0) {
        return Err(crate::domain::Invalid::new("before", "err-bad-form").into());
    }
    let p = app
        .room_page(&c.s.actor, parse_id(&room)?, q.before)
        .await?;
    Ok(Json(MessagesOut {
        messages: p.messages.into_iter().map(MessageOut::from).collect(),
        older: p.older,
    }))
}

/// Posts a message.
#[utoipa::path(post, path = "/api/v1/rooms/{room}/messages", request_body = NewMessageIn,
    params(("room" = String, Path), IdemHeader),
    responses((status = 200, body = CreatedOut), (status = 400), (status = 401), (status = 404), (status = 409), (status = 413), (status = 422)))]
pub async fn post_message(
    State(app): State<App>,
    c: Caller,
    headers: HeaderMap,
    Path(room): Path<String>,
    ApiJson(body): ApiJson<NewMessageIn>,
) -> AppResult<Json<CreatedOut>> {
    let key = c.write(&headers)?;
    let ask = body
        .confirm
        .map(super::api_confirm::AskIn::ask)
        .transpose()?;
    let w = app
        .post_asking(
            &c.s.actor,
            parse_id(&room)?,
            &body.body,
            body.reply_to,
            key,
            ask.as_ref(),
        )
        .await?;
    Ok(Json(CreatedOut {
        id: w.value.0,
        replayed: w.replayed,
    }))
}

/// Messages matching words, in the caller's rooms, newest first.
#[utoipa::path(get, path = "/api/v1/search", params(SearchQuery),
    responses((status = 200, body = Vec<MessageOut>), (status = 400), (status = 401), (status = 422)))]
pub async fn search(
    State(app): State<App>,
    c: Caller,
    Query(q): Query<SearchQuery>,
) -> AppResult<Json<Vec<MessageOut>>> {
    Ok(Json(
        app.search(&c.s.actor, &q.q)
            .await?
            .into_iter()
            .map(|h| MessageOut::from(h.message))
            .collect(),
    ))
}

/// A member of a room.
#[derive(Serialize, ToSchema)]
pub struct MemberOut {
    #[schema(value_type = String, format = Uuid, max_length = 36)]
    pub user_id: crate::domain::UserId,
    #[schema(max_length = 64)]
    pub login: String,
    #[schema(max_length = 100)]
    pub display_name: String,
    #[schema(max_length = 100)]
    pub organisation: String,
    /// `owner`, `manager` or `member`.
    #[schema(max_length = 10)]
    pub role: String,
}

/// A room with its members, grouped by organisation.
#[derive(Serialize, ToSchema)]
pub struct RoomDetailOut {
    #[schema(value_type = String, format = Uuid, max_length = 36)]
    pub id: RoomId,
    #[schema(max_length = 20)]
    pub kind: String,
    #[schema(max_length = 100)]
    pub name: String,
    #[schema(max_length = 500)]
    pub description: String,
    pub archived: bool,
    /// The caller's role in the room.
    #[schema(max_length = 10)]
    pub my_role: String,
    pub members: Vec<MemberOut>,
}

/// People to add to a room.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddMembersIn {
    /// Login ids separated by commas.
    #[schema(min_length = 1, max_length = 5000)]
    pub logins: String,
}

/// New text for a message.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EditMessageIn {
    #[schema(min_length = 1, max_length = 10000)]
    pub body: String,
}

/// An inbox item.
#[derive(Serialize, ToSchema)]
pub struct InboxOut {
    #[schema(value_type = String, format = Uuid, max_length = 36)]
    pub id: crate::domain::InboxId,
    /// `mention`, `dm` or `invite`.
    #[schema(max_length = 20)]
    pub kind: String,
    #[schema(value_type = Option<String>, format = Uuid, max_length = 36)]
    pub room_id: Option<RoomId>,
    #[schema(value_type = Option<String>, format = Uuid, max_length = 36)]
    pub message_id: Option<MessageId>,
    #[schema(max_length = 200)]
    pub excerpt: Option<String>,
    #[schema(max_length = 100)]
    pub actor_name: Option<String>,
    pub created_at: i64,
    pub read: bool,
}

/// Which inbox items to mark read.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InboxReadIn {
    /// One item; absent for all.
    #[schema(value_type = Option<String>, format = Uuid, max_length = 36)]
    #[serde(default)]
    pub item: Option<crate::domain::InboxId>,
}

/// Done.
#[derive(Serialize, ToSchema)]
pub struct OkOut {
    pub ok: bool,
}

/// A room and its members.
#[utoipa::path(get, path = "/api/v1/rooms/{room}", params(("room" = String, Path)),
    responses((status = 200, body = RoomDetailOut), (status = 400), (status = 401), (status = 404)))]
pub async fn room(
    State(app): State<App>,
    c: Caller,
    Path(room): Path<String>,
) -> AppResult<Json<RoomDetailOut>> {
    let p = app.room_page(&c.s.actor, parse_id(&room)?, Some(0)).await?;
    Ok(Json(RoomDetailOut {
        id: p.room.id,
        kind: p.room.kind.as_str().to_string(),
        name: p.peer_name.unwrap_or(p.room.name),
        description: p.room.description,
        archived: p.room.archived,
        my_role: p.my_role.as_str().to_string(),
        members: p
            .members
            .into_iter()
            .map(|m| MemberOut {
                user_id: m.user_id,
                login: m.login,
                display_name: m.display_name,
                organisation: m.org_name,
                role: m.role.as_str().to_string(),
            })
            .collect(),
    }))
}

/// Adds people to a room (managers).
#[utoipa::path(post, path = "/api/v1/rooms/{room}/members", request_body = AddMembersIn,
    params(("room" = String, Path), IdemHeader),
    responses((status = 200, body = OkOut), (status = 400), (status = 401), (status = 403), (status = 404), (status = 409), (status = 413), (status = 422)))]
pub async fn add_members(
    State(app): State<App>,
    c: Caller,
    headers: HeaderMap,
    Path(room): Path<String>,
    ApiJson(body): ApiJson<AddMembersIn>,
) -> AppResult<Json<OkOut>> {
    c.write(&headers)?;
    app.invite(&c.s.actor, parse_id(&room)?, &body.logins)
        .await?;
    Ok(Json(OkOut { ok: true }))
}

/// Edits one's own message.
#[utoipa::path(patch, path = "/api/v1/rooms/{room}/messages/{message}", request_body = EditMessageIn,
    params(("room" = String, Path), ("message" = String, Path), IdemHeader),
    responses((status = 200, body = OkOut), (status = 400), (status = 401), (status = 403), (status = 404), (status = 409), (status = 413), (status = 422)))]
pub async fn edit_message(
    State(app): State<App>,
    c: Caller,
    headers: HeaderMap,
    Path((room, message)): Path<(String, String)>,
    ApiJson(body): ApiJson<EditMessageIn>,
) -> AppResult<Json<OkOut>> {
    c.write(&headers)?;
    app.edit(
        &c.s.actor,
        parse_id(&room)?,
        parse_id(&message)?,
        &body.body,
    )
    .await?;
    Ok(Json(OkOut { ok: true }))
}

/// Deletes one's own message (its text stays in the audit log).
#[utoipa::path(delete, path = "/api/v1/rooms/{room}/messages/{message}",
    params(("room" = String, Path), ("message" = String, Path), IdemHeader),
    responses((status = 200, body = OkOut), (status = 400), (status = 401), (status = 403), (status = 404), (status = 409)))]
pub async fn delete_message(
    State(app): State<App>,
    c: Caller,
    headers: HeaderMap,
    Path((room, message)): Path<(String, String)>,
) -> AppResult<Json<OkOut>> {
    c.write(&headers)?;
    app.delete(&c.s.actor, parse_id(&room)?, parse_id(&message)?)
        .await?;
    Ok(Json(OkOut { ok: true }))
}

/// The caller's inbox, newest first.
#[utoipa::path(get, path = "/api/v1/inbox", responses((status = 200, body = Vec<InboxOut>), (status = 400), (status = 401)))]
pub async fn inbox(State(app): State<App>, c: Caller) -> AppResult<Json<Vec<InboxOut>>> {
    Ok(Json(
        app.inbox(&c.s.actor)
            .await?
            .into_iter()
            .map(|i| InboxOut {
                id: i.id,
                kind: i.kind,
                room_id: i.room_id,
                message_id: i.message_id,
                excerpt: i.excerpt,
                actor_name: i.actor_name,
                created_at: i.created_at,
                read: i.read,
            })
            .collect(),
    ))
}

/// Marks inbox items read.
#[utoipa::path(post, path = "/api/v1/inbox/read", request_body = InboxReadIn,
    params(IdemHeader),
    responses((status = 200, body = OkOut), (status = 400), (status = 401), (status = 413)))]
pub async fn inbox_read(
    State(app): State<App>,
    c: Caller,
    headers: HeaderMap,
    ApiJson(body): ApiJson<InboxReadIn>,
) -> AppResult<Json<OkOut>> {
    c.write(&headers)?;
    app.mark_inbox_read(&c.s.actor, body.item).await?;
    Ok(Json(OkOut { ok: true }))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// Resume after this position (or send `Last-Event-ID`).
    #[param(minimum = 0)]
    pub after: Option<i64>,
}

/// The live stream (Server-Sent Events): every timeline entry the caller may see, each with its
/// position as `id:`; resumable with `Last-Event-ID`; `event: resync` when too far behind.
#[utoipa::path(get, path = "/api/v1/events", params(EventsQuery),
    responses((status = 200, description = "text/event-stream", content_type = "text/event-stream"), (status = 400), (status = 401)))]
pub async fn events(
    State(app): State<App>,
    c: Caller,
    headers: HeaderMap,
    Query(q): Query<EventsQuery>,
) -> AppResult<axum::response::Response> {
    let cred = match &c.token {
        Some(t) => super::sse::Credential::Token(t.clone()),
        None => super::sse::Credential::Session(c.s.actor.session_hash.clone()),
    };
    super::sse::stream(app, c.s, cred, &headers, q.after.map(|a| a.max(0))).await
}

/// A change to a room's name, description or archiving (managers).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoomChangeIn {
    #[schema(min_length = 1, max_length = 80)]
    #[serde(default)]
    pub name: Option<String>,
    #[schema(max_length = 500)]
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub archived: Option<bool>,
}

/// Someone to talk to directly.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DirectIn {
    #[schema(min_length = 3, max_length = 64)]
    pub login: String,
}

/// An organisation to add to a room, by short id or 全国地方公共団体コード.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrgIn {
    #[schema(min_length = 2, max_length = 40)]
    pub org: String,
}

/// Renames, describes, archives or unarchives a room (managers).
#[utoipa::path(patch, path = "/api/v1/rooms/{room}", request_body = RoomChangeIn,
    params(("room" = String, Path), IdemHeader),
    responses((status = 200, body = OkOut), (status = 400), (status = 401), (status = 403), (status = 404), (status = 409), (status = 413), (status = 422)))]
pub async fn change_room(
    State(app): State<App>,
    c: Caller,
    headers: HeaderMap,
    Path(room): Path<String>,
    ApiJson(body): ApiJson<RoomChangeIn>,
) -> AppResult<Json<OkOut>> {
    use crate::domain::{Description, RoomName};
    use crate::store::RoomChange;
    c.write(&headers)?;
    let room = parse_id(&room)?;
    if body.name.is_some() || body.description.is_some() {
        let (current, _) = app.room(&c.s.actor, room).await?;
        let name = RoomName::parse(body.name.as_deref().unwrap_or(&current.name))?;
        let desc = Description::parse(body.description.as_deref().unwrap_or(&current.description))?;
        app.change_room(&c.s.actor, room, RoomChange::Rename(name, desc))
            .await?;
    }
    if let Some(a) = body.archived {
        app.change_room(&c.s.actor, room, RoomChange::Archive(a))
            .await?;
    }
    Ok(Json(OkOut { ok: true }))
}

/// Removes someone from a room (managers), or the caller themself (leaving).
#[utoipa::path(delete, path = "/api/v1/rooms/{room}/members/{user}",
    params(("room" = String, Path), ("user" = String, Path), IdemHeader),
    responses((status = 200, body = OkOut), (status = 400), (status = 401), (status = 403), (status = 404), (status = 409)))]
pub async fn remove_member(
    State(app): State<App>,
    c: Caller,
    headers: HeaderMap,
    Path((room, user)): Path<(String, String)>,
) -> AppResult<Json<OkOut>> {
    c.write(&headers)?;
    let user = parse_id(&user)?;
    app.change_room(
        &c.s.actor,
        parse_id(&room)?,
        crate::store::RoomChange::RemoveUser(user),
    )
    .await?;
    Ok(Json(OkOut { ok: true }))
}

/// Adds a whole organisation to a room (managers); its future members join too.
#[utoipa::path(post, path = "/api/v1/rooms/{room}/orgs", request_body = OrgIn,
    params(("room" = String, Path), IdemHeader),
    responses((status = 200, body = OkOut), (status = 400), (status = 401), (status = 403), (status = 404), (status = 409), (status = 413), (status = 422)))]
pub async fn add_org(
    State(app): State<App>,
    c: Caller,
    headers: HeaderMap,
    Path(room): Path<String>,
    ApiJson(body): ApiJson<OrgIn>,
) -> AppResult<Json<OkOut>> {
    c.write(&headers)?;
    app.add_org(&c.s.actor, parse_id(&room)?, &body.org).await?;
    Ok(Json(OkOut { ok: true }))
}

/// The direct conversation with someone, opened if needed.
#[utoipa::path(post, path = "/api/v1/direct", request_body = DirectIn,
    params(IdemHeader),
    responses((status = 200, body = CreatedOut), (status = 400), (status = 401), (status = 413), (status = 422)))]
pub async fn direct(
    State(app): State<App>,
    c: Caller,
    headers: HeaderMap,
    ApiJson(body): ApiJson<DirectIn>,
) -> AppResult<Json<CreatedOut>> {
    c.write(&headers)?;
    let room = app.open_direct(&c.s.actor, &body.login).await?;
    Ok(Json(CreatedOut {
        id: room.0,
        replayed: false,
    }))
}

/// Kind of organisation.
#[derive(Deserialize, Serialize, ToSchema, Clone, Copy)]
#[serde(rename_all = "snake_case")]
pub enum KindIn {
    Prefecture,
    Municipality,
    Fire,
    Other,
}

/// A deployment role that an API caller may give.
#[derive(Deserialize, Serialize, ToSchema, Clone, Copy)]
#[serde(rename_all = "snake_case")]
pub enum RoleIn {
    Member,
    OrgAdmin,
    DeploymentAdmin,
}

/// A UI language.
#[derive(Deserialize, Serialize, ToSchema, Clone, Copy)]
#[serde(rename_all = "snake_case")]
pub enum LangIn {
    Ja,
    En,
}

/// An organisation.
#[derive(Serialize, ToSchema)]
pub struct OrgOut {
    #[schema(value_type = String, format = Uuid, max_length = 36)]
    pub id: crate::domain::OrgId,
    #[schema(max_length = 40)]
    pub slug: String,
    #[schema(max_length = 100)]
    pub name: String,
    #[schema(max_length = 20)]
    pub kind: String,
    #[schema(max_length = 6)]
    pub code: Option<String>,
    pub members: i64,
}

/// A new organisation (deployment admin).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOrgIn {
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    #[schema(min_length = 2, max_length = 40)]
    pub slug: String,
    pub kind: KindIn,
    /// 全国地方公共団体コード (5 or 6 digits).
    #[serde(default)]
    #[schema(max_length = 6)]
    pub code: Option<String>,
}

/// A user account as administrators see it.
#[derive(Serialize, ToSchema)]
pub struct UserOut {
    #[schema(value_type = String, format = Uuid, max_length = 36)]
    pub id: crate::domain::UserId,
    #[schema(max_length = 64)]
    pub login: String,
    #[schema(max_length = 100)]
    pub display_name: String,
    #[schema(max_length = 100)]
    pub organisation: String,
    #[schema(max_length = 20)]
    pub role: String,
    pub active: bool,
    pub activated: bool,
}

/// A new user account; an activation link comes back.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUserIn {
    /// Short id or 全国地方公共団体コード of the organisation.
    #[schema(min_length = 2, max_length = 40)]
    pub org: String,
    #[schema(min_length = 3, max_length = 64)]
    pub login: String,
    #[schema(min_length = 1, max_length = 100)]
    pub display_name: String,
    #[serde(default)]
    #[schema(max_length = 200)]
    pub email: Option<String>,
    #[serde(default)]
    pub role: Option<RoleIn>,
    #[serde(default)]
    pub lang: Option<LangIn>,
}

/// A one-time link to hand over.
#[derive(Serialize, ToSchema)]
pub struct LinkOut {
    #[schema(value_type = String, format = Uuid, max_length = 36)]
    pub user_id: crate::domain::UserId,
    #[schema(max_length = 300)]
    pub url: String,
    pub expires_at: i64,
}

/// A change to an account (administrators).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserChangeIn {
    #[serde(default)]
    pub active: Option<bool>,
    /// Deployment admin only.
    #[serde(default)]
    pub role: Option<RoleIn>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UsersQuery {
    /// Only this organisation (its id).
    #[param(max_length = 36)]
    pub org: Option<String>,
}

/// One audit-log row.
#[derive(Serialize, ToSchema)]
pub struct AuditOut {
    pub at: i64,
    #[schema(max_length = 64)]
    pub login: Option<String>,
    #[schema(max_length = 60)]
    pub action: String,
    #[schema(max_length = 200)]
    pub object: String,
    #[schema(max_length = 100)]
    pub address: String,
    #[schema(max_length = 100)]
    pub result: String,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Actions starting with this, e.g. `message.`.
    #[param(max_length = 60)]
    pub action: Option<String>,
    /// Only this login id.
    #[param(max_length = 64)]
    pub login: Option<String>,
    /// Rows before this time (ms), for paging.
    #[param(minimum = 0)]
    pub before: Option<i64>,
}

fn org_out(o: crate::store::Org) -> OrgOut {
    OrgOut {
        id: o.id,
        slug: o.slug,
        name: o.name,
        kind: o.kind.as_str().to_string(),
        code: o.lg_code,
        members: o.member_count,
    }
}

fn role_str(r: RoleIn) -> &'static str {
    match r {
        RoleIn::Member => "member",
        RoleIn::OrgAdmin => "org_admin",
        RoleIn::DeploymentAdmin => "deployment_admin",
    }
}

/// Organisations the caller administers (all, for the deployment admin).
#[utoipa::path(get, path = "/api/v1/orgs", responses((status = 200, body = Vec<OrgOut>), (status = 400), (status = 401), (status = 403)))]
pub async fn orgs(State(app): State<App>, c: Caller) -> AppResult<Json<Vec<OrgOut>>> {
    Ok(Json(
        app.admin_orgs(&c.s.actor)
            .await?
            .into_iter()
            .map(org_out)
            .collect(),
    ))
}

/// Creates an organisation with its 受信窓口 room (deployment admin).
#[utoipa::path(post, path = "/api/v1/orgs", request_body = NewOrgIn,
    params(IdemHeader),
    responses((status = 200, body = OrgOut), (status = 400), (status = 401), (status = 403), (status = 409), (status = 413), (status = 422)))]
pub async fn create_org(
    State(app): State<App>,
    c: Caller,
    headers: HeaderMap,
    ApiJson(body): ApiJson<NewOrgIn>,
) -> AppResult<Json<OrgOut>> {
    c.write(&headers)?;
    let kind = match body.kind {
        KindIn::Prefecture => "prefecture",
        KindIn::Municipality => "municipality",
        KindIn::Fire => "fire",
        KindIn::Other => "other",
    };
    let org = app
        .create_org(
            &c.s.actor,
            &body.name,
            &body.slug,
            kind,
            body.code.as_deref().unwrap_or(""),
        )
        .await?;
    Ok(Json(org_out(org)))
}

/// Accounts the caller administers.
#[utoipa::path(get, path = "/api/v1/users", params(UsersQuery), responses((status = 200, body = Vec<UserOut>), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn users(
    State(app): State<App>,
    c: Caller,
    Query(q): Query<UsersQuery>,
) -> AppResult<Json<Vec<UserOut>>> {
    let org = match q.org.as_deref().filter(|o| !o.is_empty()) {
        Some(o) => Some(parse_id(o)?),
        None => None,
    };
    Ok(Json(
        app.users_of(&c.s.actor, org)
            .await?
            .into_iter()
            .map(|u| UserOut {
                id: u.id,
                login: u.login,
                display_name: u.display_name,
                organisation: u.org_name,
                role: u.role.as_str().to_string(),
                active: u.active,
                activated: u.activated,
            })
            .collect(),
    ))
}

/// Creates an account and returns its activation link.
#[utoipa::path(post, path = "/api/v1/users", request_body = NewUserIn,
    params(IdemHeader),
    responses((status = 200, body = LinkOut), (status = 400), (status = 401), (status = 403), (status = 409), (status = 413), (status = 422)))]
pub async fn create_user(
    State(app): State<App>,
    c: Caller,
    headers: HeaderMap,
    ApiJson(body): ApiJson<NewUserIn>,
) -> AppResult<Json<LinkOut>> {
    c.write(&headers)?;
    let input = crate::app::NewUserInput {
        org: body.org,
        login: body.login,
        display_name: body.display_name,
        email: body.email.unwrap_or_default(),
        role: body.role.map(role_str).unwrap_or("member").to_string(),
        lang: match body.lang {
            Some(LangIn::Ja) => "ja".into(),
            Some(LangIn::En) => "en".into(),
            None => String::new(),
        },
    };
    let link = app.create_user(&c.s.actor, input).await?;
    Ok(Json(LinkOut {
        user_id: link.user.id,
        url: link.url,
        expires_at: link.expires_at,
    }))
}

/// Issues a new password-reset link.
#[utoipa::path(post, path = "/api/v1/users/{user}/reset",
    params(("user" = String, Path), IdemHeader),
    responses((status = 200, body = LinkOut), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn reset_user(
    State(app): State<App>,
    c: Caller,
    headers: HeaderMap,
    Path(user): Path<String>,
) -> AppResult<Json<LinkOut>> {
    c.write(&headers)?;
    let link = app.reset_password(&c.s.actor, parse_id(&user)?).await?;
    Ok(Json(LinkOut {
        user_id: link.user.id,
        url: link.url,
        expires_at: link.expires_at,
    }))
}

/// Deactivates or reactivates an account, or changes its role.
#[utoipa::path(patch, path = "/api/v1/users/{user}", request_body = UserChangeIn,
    params(("user" = String, Path), IdemHeader),
    responses((status = 200, body = OkOut), (status = 400), (status = 401), (status = 403), (status = 404), (status = 409), (status = 413), (status = 422)))]
pub async fn change_user(
    State(app): State<App>,
    c: Caller,
    headers: HeaderMap,
    Path(user): Path<String>,
    ApiJson(body): ApiJson<UserChangeIn>,
) -> AppResult<Json<OkOut>> {
    c.write(&headers)?;
    let user = parse_id(&user)?;
    if let Some(r) = body.role {
        app.set_user_role(&c.s.actor, user, role_str(r)).await?;
    }
    if let Some(a) = body.active {
        app.set_user_active(&c.s.actor, user, a).await?;
    }
    Ok(Json(OkOut { ok: true }))
}

/// Ends every session of an account.
#[utoipa::path(post, path = "/api/v1/users/{user}/end-sessions",
    params(("user" = String, Path), IdemHeader),
    responses((status = 200, body = OkOut), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn end_user_sessions(
    State(app): State<App>,
    c: Caller,
    headers: HeaderMap,
    Path(user): Path<String>,
) -> AppResult<Json<OkOut>> {
    c.write(&headers)?;
    app.end_user_sessions(&c.s.actor, parse_id(&user)?).await?;
    Ok(Json(OkOut { ok: true }))
}

/// The audit log (administrators; an org admin sees their organisation's).
#[utoipa::path(get, path = "/api/v1/audit", params(AuditQuery), responses((status = 200, body = Vec<AuditOut>), (status = 400), (status = 401), (status = 403), (status = 422)))]
pub async fn audit(
    State(app): State<App>,
    c: Caller,
    Query(q): Query<AuditQuery>,
) -> AppResult<Json<Vec<AuditOut>>> {
    if q.before.is_some_and(|b| b < 0) {
        return Err(crate::domain::Invalid::new("before", "err-bad-form").into());
    }
    let filter = crate::store::AuditFilter {
        org_id: None,
        action: q.action,
        user_login: q.login,
        before: q.before,
        limit: 100,
    };
    Ok(Json(
        app.audit_log(&c.s.actor, filter)
            .await?
            .into_iter()
            .map(|r| AuditOut {
                at: r.at,
                login: r.user_login,
                action: r.action,
                object: r.object,
                address: r.address,
                result: r.result,
            })
            .collect(),
    ))
}

/// A change to the caller's own settings.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MeChangeIn {
    #[serde(default)]
    pub lang: Option<LangIn>,
    /// An empty string removes the address.
    #[serde(default)]
    #[schema(max_length = 200)]
    pub email: Option<String>,
}

/// One of the caller's sessions.
#[derive(Serialize, ToSchema)]
pub struct SessionInfoOut {
    #[schema(max_length = 64)]
    pub id: String,
    pub created_at: i64,
    pub last_seen_at: i64,
    #[schema(max_length = 200)]
    pub user_agent: String,
    #[schema(max_length = 100)]
    pub address: String,
}

/// A member's new role in a room (the owner).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberRoleIn {
    pub role: RoomRoleIn,
}

/// A role in a room.
#[derive(Deserialize, Serialize, ToSchema, Clone, Copy)]
#[serde(rename_all = "snake_case")]
pub enum RoomRoleIn {
    Member,
    Manager,
    Owner,
}

/// Changes the caller's language or e-mail address.
#[utoipa::path(patch, path = "/api/v1/me", request_body = MeChangeIn,
    params(IdemHeader),
    responses((status = 200, body = OkOut), (status = 400), (status = 401), (status = 413), (status = 422)))]
pub async fn change_me(
    State(app): State<App>,
    c: Caller,
    headers: HeaderMap,
    ApiJson(body): ApiJson<MeChangeIn>,
) -> AppResult<Json<OkOut>> {
    c.write(&headers)?;
    if let Some(l) = body.lang {
        app.set_language(
            &c.s.actor,
            match l {
                LangIn::Ja => "ja",
                LangIn::En => "en",
            },
        )
        .await?;
    }
    if let Some(e) = body.email {
        app.set_email(&c.s.actor, &e).await?;
    }
    Ok(Json(OkOut { ok: true }))
}

/// The caller's active sessions (browsers and tablets).
#[utoipa::path(get, path = "/api/v1/me/sessions", responses((status = 200, body = Vec<SessionInfoOut>), (status = 400), (status = 401)))]
pub async fn my_sessions(
    State(app): State<App>,
    c: Caller,
) -> AppResult<Json<Vec<SessionInfoOut>>> {
    Ok(Json(
        app.my_sessions(&c.s.actor)
            .await?
            .into_iter()
            .map(|s| SessionInfoOut {
                id: s.id_hash,
                created_at: s.created_at,
                last_seen_at: s.last_seen_at,
                user_agent: s.user_agent,
                address: s.address,
            })
            .collect(),
    ))
}

/// Ends one of the caller's sessions.
#[utoipa::path(delete, path = "/api/v1/me/sessions/{id}",
    params(("id" = String, Path), IdemHeader),
    responses((status = 200, body = OkOut), (status = 400), (status = 401), (status = 404)))]
pub async fn end_my_session(
    State(app): State<App>,
    c: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> AppResult<Json<OkOut>> {
    c.write(&headers)?;
    app.end_my_session(&c.s.actor, &id).await?;
    Ok(Json(OkOut { ok: true }))
}

/// Sets a member's role in a room (the owner).
#[utoipa::path(patch, path = "/api/v1/rooms/{room}/members/{user}", request_body = MemberRoleIn,
    params(("room" = String, Path), ("user" = String, Path), IdemHeader),
    responses((status = 200, body = OkOut), (status = 400), (status = 401), (status = 403), (status = 404), (status = 409), (status = 413)))]
pub async fn set_member_role(
    State(app): State<App>,
    c: Caller,
    headers: HeaderMap,
    Path((room, user)): Path<(String, String)>,
    ApiJson(body): ApiJson<MemberRoleIn>,
) -> AppResult<Json<OkOut>> {
    use crate::domain::RoomRole;
    c.write(&headers)?;
    let role = match body.role {
        RoomRoleIn::Member => RoomRole::Member,
        RoomRoleIn::Manager => RoomRole::Manager,
        RoomRoleIn::Owner => RoomRole::Owner,
    };
    app.change_room(
        &c.s.actor,
        parse_id(&room)?,
        crate::store::RoomChange::SetRole(parse_id(&user)?, role),
    )
    .await?;
    Ok(Json(OkOut { ok: true }))
}

/// Removes an organisation from a room (managers): those who came with it leave.
#[utoipa::path(delete, path = "/api/v1/rooms/{room}/orgs/{org}",
    params(("room" = String, Path), ("org" = String, Path), IdemHeader),
    responses((status = 200, body = OkOut), (status = 400), (status = 401), (status = 403), (status = 404), (status = 409)))]
pub async fn remove_org(
    State(app): State<App>,
    c: Caller,
    headers: HeaderMap,
    Path((room, org)): Path<(String, String)>,
) -> AppResult<Json<OkOut>> {
    c.write(&headers)?;
    let org = parse_id(&org)?;
    app.change_room(
        &c.s.actor,
        parse_id(&room)?,
        crate::store::RoomChange::RemoveOrg(org),
    )
    .await?;
    Ok(Json(OkOut { ok: true }))
}

/// A users CSV to check, or to import.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportIn {
    /// The CSV text (columns as on the import page).
    #[schema(max_length = 4000000)]
    pub csv: String,
    /// False: only check and report (nothing is saved). True: import all rows or none.
    #[serde(default)]
    pub apply: bool,
}

/// One checked row.
#[derive(Serialize, ToSchema)]
pub struct ImportRowOut {
    pub line: i64,
    #[schema(max_length = 64)]
    pub login: String,
    /// `add` or `update`.
    #[schema(max_length = 10)]
    pub action: String,
    /// What is wrong with the row, in the caller's language.
    pub problems: Vec<ProblemOut>,
}

/// A problem with a row.
#[derive(Serialize, ToSchema)]
pub struct ProblemOut {
    #[schema(max_length = 60)]
    pub code: String,
    #[schema(max_length = 300)]
    pub message: String,
}

/// The result of a check or an import.
#[derive(Serialize, ToSchema)]
pub struct ImportOut {
    pub rows: Vec<ImportRowOut>,
    /// Whether it was saved.
    pub applied: bool,
    /// Activation links of the accounts created (when applied).
    pub created: Vec<LinkOut>,
}

/// Checks a users CSV row by row, and with `apply` imports it (all rows or none).
#[utoipa::path(post, path = "/api/v1/users/import", request_body = ImportIn,
    params(IdemHeader),
    responses((status = 200, body = ImportOut), (status = 400), (status = 401), (status = 403), (status = 413), (status = 422)))]
pub async fn import_users(
    State(app): State<App>,
    c: Caller,
    headers: HeaderMap,
    ApiJson(body): ApiJson<ImportIn>,
) -> AppResult<Json<ImportOut>> {
    c.write(&headers)?;
    let t = c.s.tr;
    let preview = app.preview_users(&c.s.actor, body.csv.clone()).await?;
    if let Some(p) = preview.file_problem {
        return Err(crate::domain::Invalid::new("csv", p).into());
    }
    let rows = preview
        .rows
        .iter()
        .map(|r| ImportRowOut {
            line: r.line as i64,
            login: r.login.clone(),
            action: r.action.to_string(),
            problems: r
                .problems
                .iter()
                .map(|k| ProblemOut {
                    code: k.to_string(),
                    message: t.t(k),
                })
                .collect(),
        })
        .collect();
    if !body.apply {
        return Ok(Json(ImportOut {
            rows,
            applied: false,
            created: Vec::new(),
        }));
    }
    let links = app.apply_users(&c.s.actor, body.csv).await?;
    Ok(Json(ImportOut {
        rows,
        applied: true,
        created: links
            .into_iter()
            .map(|l| LinkOut {
                user_id: l.user.id,
                url: l.url,
                expires_at: l.expires_at,
            })
            .collect(),
    }))
}

/// Every route under `/api/v1` (the document itself aside), so the router and the
/// documentation test read one list.
pub fn routes() -> Vec<(&'static str, axum::routing::MethodRouter<App>)> {
    use super::api_incidents as inc;
    use super::api_photos as ph;
    use axum::routing::{get, patch, post};
    vec![
        ("/api/v1/me", get(me).patch(change_me)),
        ("/api/v1/me/sessions", get(my_sessions)),
        (
            "/api/v1/me/sessions/{id}",
            axum::routing::delete(end_my_session),
        ),
        ("/api/v1/rooms", get(rooms).post(create_room)),
        ("/api/v1/rooms/{room}", get(room).patch(change_room)),
        ("/api/v1/rooms/{room}/members", post(add_members)),
        (
            "/api/v1/rooms/{room}/members/{user}",
            patch(set_member_role).delete(remove_member),
        ),
        ("/api/v1/rooms/{room}/orgs", post(add_org)),
        (
            "/api/v1/rooms/{room}/orgs/{org}",
            axum::routing::delete(remove_org),
        ),
        ("/api/v1/direct", post(direct)),
        ("/api/v1/orgs", get(orgs).post(create_org)),
        ("/api/v1/users", get(users).post(create_user)),
        (
            "/api/v1/users/import",
            post(import_users).layer(axum::extract::DefaultBodyLimit::max(super::MAX_IMPORT)),
        ),
        ("/api/v1/users/{user}", patch(change_user)),
        ("/api/v1/users/{user}/reset", post(reset_user)),
        ("/api/v1/users/{user}/end-sessions", post(end_user_sessions)),
        ("/api/v1/audit", get(audit)),
        (
            "/api/v1/rooms/{room}/messages",
            get(messages).post(post_message),
        ),
        (
            "/api/v1/rooms/{room}/messages/{message}",
            patch(edit_message).delete(delete_message),
        ),
        (
            "/api/v1/rooms/{room}/messages/{message}/confirm",
            post(super::api_confirm::confirm),
        ),
        (
            "/api/v1/rooms/{room}/messages/{message}/confirmations",
            get(super::api_confirm::matrix),
        ),
        (
            "/api/v1/rooms/{room}/messages/{message}/confirmations/remind",
            post(super::api_confirm::remind),
        ),
        (
            "/api/v1/rooms/{room}/messages/{message}/confirmations/pending.csv",
            get(super::api_confirm::pending_csv),
        ),
        (
            "/api/v1/rooms/{room}/messages/{message}/reads",
            get(super::api_confirm::reads),
        ),
        ("/api/v1/broadcasts", post(super::api_confirm::broadcast)),
        (
            "/api/v1/incidents/{incident}/items",
            get(super::api_items::items).post(super::api_items::create_item),
        ),
        (
            "/api/v1/incidents/{incident}/items/{item}",
            patch(super::api_items::change_item),
        ),
        (
            "/api/v1/incidents/{incident}/duty",
            get(super::api_items::duty).post(super::api_items::take_duty),
        ),
        (
            "/api/v1/incidents/{incident}/items/{item}/history",
            get(super::api_handoffs::item_history),
        ),
        (
            "/api/v1/incidents/{incident}/handoffs",
            get(super::api_handoffs::incident_handoffs).post(super::api_handoffs::hand_over),
        ),
        (
            "/api/v1/incidents/{incident}/handoffs.csv",
            get(super::api_handoffs::incident_handoffs_csv),
        ),
        (
            "/api/v1/incidents/{incident}/handoffs/draft",
            get(super::api_handoffs::draft),
        ),
        (
            "/api/v1/incidents/{incident}/positions",
            get(super::api_handoffs::positions).post(super::api_handoffs::define_position),
        ),
        (
            "/api/v1/incidents/{incident}/positions/{position}/take",
            post(super::api_handoffs::take_position),
        ),
        ("/api/v1/handoffs", get(super::api_handoffs::all_handoffs)),
        (
            "/api/v1/handoffs.csv",
            get(super::api_handoffs::all_handoffs_csv),
        ),
        (
            "/api/v1/handoffs/{handoff}",
            get(super::api_handoffs::handoff).patch(super::api_handoffs::edit_handoff),
        ),
        (
            "/api/v1/handoffs/{handoff}/items/{item}/acknowledge",
            post(super::api_handoffs::acknowledge_item),
        ),
        (
            "/api/v1/handoffs/{handoff}/items/{item}/question",
            post(super::api_handoffs::ask_item),
        ),
        (
            "/api/v1/handoffs/{handoff}/items/{item}/answer",
            post(super::api_handoffs::answer_item),
        ),
        (
            "/api/v1/handoffs/{handoff}/acknowledge",
            post(super::api_handoffs::complete),
        ),
        (
            "/api/v1/broadcasts/{broadcast}",
            get(super::api_confirm::broadcast_matrix),
        ),
        (
            "/api/v1/broadcasts/{broadcast}/remind",
            post(super::api_confirm::broadcast_remind),
        ),
        (
            "/api/v1/broadcasts/{broadcast}/pending.csv",
            get(super::api_confirm::broadcast_pending_csv),
        ),
        ("/api/v1/inbox", get(inbox)),
        ("/api/v1/inbox/read", post(inbox_read)),
        ("/api/v1/events", get(events)),
        ("/api/v1/search", get(search)),
        ("/api/v1/session", get(session)),
        ("/api/v1/counts", get(counts)),
        (
            "/api/v1/incidents",
            get(inc::incidents).post(inc::open_incident),
        ),
        ("/api/v1/incidents/{incident}", get(inc::incident)),
        (
            "/api/v1/incidents/{incident}/close",
            post(inc::close_incident),
        ),
        ("/api/v1/incidents/{incident}/board", get(inc::board)),
        (
            "/api/v1/incidents/{incident}/reports",
            get(inc::reports).post(inc::report),
        ),
        (
            "/api/v1/incidents/{incident}/shelters",
            post(inc::add_adhoc),
        ),
        (
            "/api/v1/incidents/{incident}/snapshot",
            post(inc::snapshot).layer(axum::extract::DefaultBodyLimit::max(
                super::MAX_SHELTER_FILE,
            )),
        ),
        (
            "/api/v1/orgs/{org}/shelters",
            get(inc::shelters).post(inc::add_shelter),
        ),
        (
            "/api/v1/orgs/{org}/shelters/import",
            post(inc::import_shelters).layer(axum::extract::DefaultBodyLimit::max(
                super::MAX_SHELTER_FILE,
            )),
        ),
        (
            "/api/v1/orgs/{org}/shelters/{shelter}",
            axum::routing::put(inc::change_shelter),
        ),
        (
            "/api/v1/incidents/{incident}/photos",
            get(ph::photos)
                .post(ph::upload_photo)
                .layer(axum::extract::DefaultBodyLimit::max(
                    super::MAX_PHOTO_UPLOAD,
                )),
        ),
        (
            "/api/v1/incidents/{incident}/uploads/{key}",
            get(ph::upload_state).put(ph::upload_chunk).layer(
                axum::extract::DefaultBodyLimit::max(crate::app::MAX_CHUNK + 1024),
            ),
        ),
        (
            "/api/v1/incidents/{incident}/uploads/{key}/finish",
            post(ph::finish_upload),
        ),
        ("/api/v1/photos/{photo}", get(ph::photo)),
        ("/api/v1/photos/{photo}/withdraw", post(ph::withdraw_photo)),
    ]
}

/// The session's CSRF token (the page script fetches it after logging in again).
#[derive(Serialize, ToSchema)]
pub struct SessionOut {
    #[schema(value_type = String, format = Uuid, max_length = 36)]
    pub user_id: crate::domain::UserId,
    #[schema(max_length = 64)]
    pub login: String,
    /// Send as `X-CSRF-Token` with writes made with the browser session.
    #[schema(max_length = 64)]
    pub csrf: String,
}

/// The caller's session and its CSRF token.
#[utoipa::path(get, path = "/api/v1/session", responses((status = 200, body = SessionOut), (status = 400), (status = 401)))]
pub async fn session(c: Caller) -> Json<SessionOut> {
    let s = c.s;
    Json(SessionOut {
        user_id: s.actor.user.id,
        login: s.actor.user.login.clone(),
        csrf: s.csrf.clone(),
    })
}

/// Unread counts: the inbox, and each room by id.
#[derive(Serialize, ToSchema)]
pub struct CountsOut {
    pub inbox: i64,
    /// Handoffs waiting for the caller to acknowledge them.
    pub handoffs: i64,
    /// Room id → unread messages.
    pub rooms: std::collections::BTreeMap<String, i64>,
}

/// Unread inbox items and unread messages per room.
#[utoipa::path(get, path = "/api/v1/counts", responses((status = 200, body = CountsOut), (status = 400), (status = 401)))]
pub async fn counts(State(app): State<App>, c: Caller) -> AppResult<Json<CountsOut>> {
    let inbox = app.inbox_unread(c.s.actor.user.id).await?;
    let rooms = app
        .rooms(&c.s.actor)
        .await?
        .into_iter()
        .map(|r| (r.room.id.to_string(), r.unread))
        .collect();
    let handoffs = app.handoffs_waiting_count(c.s.actor.user.id).await?;
    Ok(Json(CountsOut {
        inbox,
        handoffs,
        rooms,
    }))
}

/// The OpenAPI document of this API.
#[derive(OpenApi)]
#[openapi(
    info(title = "Sonae API", description = "Disaster-response incident board: the chat core, incidents and shelters."),
    paths(super::api_incidents::incidents, super::api_incidents::open_incident, super::api_incidents::incident,
        super::api_incidents::close_incident, super::api_incidents::board, super::api_incidents::reports,
        super::api_incidents::report, super::api_incidents::add_adhoc, super::api_incidents::snapshot,
        super::api_incidents::shelters, super::api_incidents::add_shelter, super::api_incidents::import_shelters,
        super::api_incidents::change_shelter, super::api_photos::photos, super::api_photos::photo,
        super::api_photos::withdraw_photo, super::api_photos::upload_photo, super::api_photos::upload_state,
        super::api_photos::upload_chunk, super::api_photos::finish_upload,
        super::api_confirm::confirm, super::api_confirm::matrix, super::api_confirm::remind, super::api_confirm::pending_csv, super::api_confirm::reads, super::api_confirm::broadcast, super::api_confirm::broadcast_matrix, super::api_confirm::broadcast_remind, super::api_confirm::broadcast_pending_csv, super::api_items::items, super::api_items::create_item, super::api_items::change_item, super::api_items::duty, super::api_items::take_duty,
        super::api_handoffs::draft, super::api_handoffs::hand_over, super::api_handoffs::incident_handoffs, super::api_handoffs::incident_handoffs_csv, super::api_handoffs::all_handoffs, super::api_handoffs::all_handoffs_csv, super::api_handoffs::handoff, super::api_handoffs::edit_handoff, super::api_handoffs::acknowledge_item, super::api_handoffs::ask_item, super::api_handoffs::answer_item, super::api_handoffs::complete, super::api_handoffs::item_history, super::api_handoffs::positions, super::api_handoffs::define_position, super::api_handoffs::take_position, import_users, me, change_me, my_sessions, end_my_session, set_member_role, remove_org, rooms, create_room, room, change_room, add_members, remove_member, add_org, direct,
        orgs, create_org, users, create_user, change_user, reset_user, end_user_sessions, audit, messages, post_message, edit_message, delete_message, inbox, inbox_read, events, search, session, counts),
    components(schemas(MeOut, RoomOut, MessageOut, NewRoomIn, NewMessageIn, CreatedOut, MessagesOut, SessionOut, CountsOut, MemberOut, RoomDetailOut, AddMembersIn, EditMessageIn, InboxOut, InboxReadIn, OkOut, RoomChangeIn, DirectIn, OrgIn,
        ImportIn, ImportRowOut, ProblemOut, ImportOut, MeChangeIn, SessionInfoOut, MemberRoleIn, RoomRoleIn, KindIn, RoleIn, LangIn, OrgOut, NewOrgIn, UserOut, NewUserIn, LinkOut, UserChangeIn, AuditOut)),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{
            HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
        };
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "token",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        openapi.security = Some(vec![SecurityRequirement::new(
            "token",
            Vec::<String>::new(),
        )]);
    }
}

/// `GET /api/v1/openapi.json`.
pub async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
