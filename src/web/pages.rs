//! Page handlers: parse the request, call one use case, render or redirect (303).

use super::format::{highlight, message_html};
use super::session::{
    Form, MaybeSession, PRE_CSRF_COOKIE, Session, Upload, Visitor, Write, idem_key, lang_cookie,
    session_cookie, wants_json,
};
use crate::app::{App, Ask, IssuedLink, NewUserInput, RoomPage, SetupInput, random_token};
use crate::domain::*;
use crate::error::{AppError, AppResult};
use crate::i18n::Tr;
use crate::store::{
    AuditFilter, AuditRecord, InboxItem, Message, Org, RoomChange, RoomSummary, SearchHit,
    SessionInfo, User,
};
use askama::Template;
use askama_web::WebTemplate;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar};
use serde::Deserialize;
use std::collections::HashMap;

/// What every page's frame needs.
pub struct Ctx {
    pub t: Tr,
    pub me: Option<User>,
    pub csrf: String,
    pub inbox: i64,
    /// Handoffs waiting for the viewer to acknowledge them (the nav badge).
    pub handoffs: i64,
    pub title: String,
    pub head_pos: i64,
    pub is_admin: bool,
}

impl Ctx {
    pub(super) async fn new(app: &App, s: &Session, title: String) -> AppResult<Self> {
        Ok(Ctx {
            t: s.tr,
            me: Some(s.actor.user.clone()),
            csrf: s.csrf.clone(),
            inbox: app.inbox_unread(s.actor.user.id).await?,
            handoffs: app.handoffs_waiting_count(s.actor.user.id).await?,
            title,
            head_pos: app.live.head(),
            is_admin: s.is_admin(),
        })
    }

    fn visitor(t: Tr, title: String) -> Self {
        Ctx {
            t,
            me: None,
            csrf: String::new(),
            inbox: 0,
            handoffs: 0,
            title,
            head_pos: 0,
            is_admin: false,
        }
    }

    /// A fresh idempotency key for a rendered form.
    pub fn key(&self) -> String {
        uuid::Uuid::new_v4().simple().to_string()
    }

    pub fn me_uid(&self) -> UserId {
        self.me.as_ref().map(|u| u.id).unwrap_or_default()
    }

    pub fn me_id(&self) -> String {
        self.me
            .as_ref()
            .map(|u| u.id.to_string())
            .unwrap_or_default()
    }
}

pub(super) use super::parse_id;

/// A relative path to return to after login; anything else goes home.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_string(),
        _ => "/".to_string(),
    }
}

/// Translates a validation failure for a form page.
pub(super) fn problem(t: &Tr, e: &AppError) -> String {
    t.t(e.info().key)
}

// ---------- health ----------

pub async fn healthz(State(app): State<App>) -> Response {
    match app.store.ping().await {
        Ok(()) => (StatusCode::OK, Json(serde_json::json!({"status": "ok"}))).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "health check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(serde_json::json!({"status": "database unreachable"})),
            )
                .into_response()
        }
    }
}

// ---------- setup ----------

#[derive(Template, WebTemplate)]
#[template(path = "setup.html")]
struct SetupPage {
    ctx: Ctx,
    token: String,
    error: Option<String>,
    form: SetupForm,
    kinds: [OrgKind; 4],
}

#[derive(Deserialize, Default, Clone)]
pub struct SetupForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    org_name: String,
    #[serde(default)]
    org_slug: String,
    #[serde(default)]
    org_kind: String,
    #[serde(default)]
    org_code: String,
    #[serde(default)]
    login: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    password: String,
}

#[derive(Deserialize)]
pub struct TokenQuery {
    token: Option<String>,
}

pub async fn setup_form(
    State(app): State<App>,
    v: Visitor,
    Query(q): Query<TokenQuery>,
) -> AppResult<Response> {
    let token = q.token.unwrap_or_default();
    if !app.setup_token_valid(&token).await? {
        return Err(AppError::NotFound);
    }
    let form = SetupForm {
        org_kind: "prefecture".into(),
        ..Default::default()
    };
    Ok(SetupPage {
        ctx: Ctx::visitor(v.tr, v.tr.t("ui-setup-title")),
        token,
        error: None,
        form,
        kinds: OrgKind::ALL,
    }
    .into_response())
}

pub async fn setup_submit(
    State(app): State<App>,
    v: Visitor,
    Form(f): Form<SetupForm>,
) -> AppResult<Response> {
    let input = SetupInput {
        org_name: f.org_name.clone(),
        org_slug: f.org_slug.clone(),
        org_kind: f.org_kind.clone(),
        org_code: f.org_code.clone(),
        login: f.login.clone(),
        display_name: f.display_name.clone(),
        password: f.password.clone(),
    };
    match app.complete_setup(&f.token, input).await {
        Ok(_) => Ok(Redirect::to("/login?setup=done").into_response()),
        Err(e @ (AppError::Invalid(_) | AppError::Conflict(_))) => {
            let page = SetupPage {
                ctx: Ctx::visitor(v.tr, v.tr.t("ui-setup-title")),
                token: f.token.clone(),
                error: Some(problem(&v.tr, &e)),
                form: SetupForm {
                    password: String::new(),
                    ..f
                },
                kinds: OrgKind::ALL,
            };
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(e) => Err(e),
    }
}

// ---------- login ----------

#[derive(Template, WebTemplate)]
#[template(path = "login.html")]
struct LoginPage {
    ctx: Ctx,
    next: String,
    login: String,
    error: Option<String>,
    notice: Option<String>,
    pre: String,
}

#[derive(Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
    setup: Option<String>,
    activated: Option<String>,
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    login: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
    #[serde(default)]
    pre: String,
}

fn pre_token(jar: &CookieJar) -> (String, Option<Cookie<'static>>) {
    match jar.get(PRE_CSRF_COOKIE) {
        Some(c) if c.value().len() == 64 => (c.value().to_string(), None),
        _ => {
            let t = random_token();
            let c = Cookie::build((PRE_CSRF_COOKIE, t.clone()))
                .http_only(true)
                .same_site(axum_extra::extract::cookie::SameSite::Strict)
                .path("/")
                .build();
            (t, Some(c))
        }
    }
}

pub async fn login_form(
    v: Visitor,
    jar: CookieJar,
    MaybeSession(s): MaybeSession,
    Query(q): Query<LoginQuery>,
) -> Response {
    let next = safe_next(q.next.as_deref());
    if s.is_some() {
        return Redirect::to(&next).into_response();
    }
    let notice = if q.setup.is_some() {
        Some(v.tr.t("ui-setup-done"))
    } else if q.activated.is_some() {
        Some(v.tr.t("ui-activated"))
    } else {
        None
    };
    let (pre, cookie) = pre_token(&jar);
    let page = LoginPage {
        ctx: Ctx::visitor(v.tr, v.tr.t("ui-login")),
        next,
        login: String::new(),
        error: None,
        notice,
        pre,
    };
    match cookie {
        Some(c) => (jar.add(c), page).into_response(),
        None => page.into_response(),
    }
}

pub async fn login_submit(
    State(app): State<App>,
    v: Visitor,
    jar: CookieJar,
    Form(f): Form<LoginForm>,
) -> AppResult<Response> {
    let next = safe_next(Some(&f.next));
    let (pre, cookie) = pre_token(&jar);
    if cookie.is_some() || f.pre != pre {
        // A login form from another site, or cookies are off.
        let page = LoginPage {
            ctx: Ctx::visitor(v.tr, v.tr.t("ui-login")),
            next,
            login: f.login,
            error: Some(v.tr.t("err-csrf-login")),
            notice: None,
            pre,
        };
        let jar = match cookie {
            Some(c) => jar.add(c),
            None => jar,
        };
        return Ok((StatusCode::FORBIDDEN, jar, page).into_response());
    }
    match app
        .login(&f.login, f.password, &v.address, &v.user_agent)
        .await
    {
        Ok(done) => {
            let mut jar = jar.add(session_cookie(done.token, app.config.secure_cookies));
            if let Some(l) = done.user.lang {
                jar = jar.add(lang_cookie(l));
            }
            Ok((jar, Redirect::to(&next)).into_response())
        }
        Err(e @ (AppError::Invalid(_) | AppError::TooManyRequests)) => {
            let status = e.status();
            let page = LoginPage {
                ctx: Ctx::visitor(v.tr, v.tr.t("ui-login")),
                next,
                login: f.login,
                error: Some(problem(&v.tr, &e)),
                notice: None,
                pre,
            };
            Ok((status, page).into_response())
        }
        Err(e) => Err(e),
    }
}

/// A form with nothing but its CSRF token.
#[derive(Deserialize)]
pub struct CsrfForm {}

pub async fn logout(
    State(app): State<App>,
    jar: CookieJar,
    w: Write<CsrfForm>,
) -> AppResult<Response> {
    let Write { s, .. } = w;
    app.logout(&s.actor).await?;
    Ok((
        jar.remove(Cookie::build(super::SESSION_COOKIE).path("/")),
        Redirect::to("/login"),
    )
        .into_response())
}

// ---------- activation ----------

#[derive(Template, WebTemplate)]
#[template(path = "activate.html")]
struct ActivatePage {
    ctx: Ctx,
    user: User,
    token: String,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct ActivateForm {
    #[serde(default)]
    password: String,
    #[serde(default)]
    password2: String,
}

pub async fn activate_form(
    State(app): State<App>,
    v: Visitor,
    Path(token): Path<String>,
) -> AppResult<Response> {
    let user = app.link_user(&token).await?;
    Ok(ActivatePage {
        ctx: Ctx::visitor(v.tr, v.tr.t("ui-activate-title")),
        user,
        token,
        error: None,
    }
    .into_response())
}

pub async fn activate_submit(
    State(app): State<App>,
    v: Visitor,
    Path(token): Path<String>,
    Form(f): Form<ActivateForm>,
) -> AppResult<Response> {
    let user = app.link_user(&token).await?;
    let result = if f.password != f.password2 {
        Err(AppError::Invalid(Invalid::new(
            "password2",
            "err-password-mismatch",
        )))
    } else {
        app.redeem_link(&token, &f.password).await
    };
    match result {
        Ok(_) => Ok(Redirect::to("/login?activated=1").into_response()),
        Err(e @ AppError::Invalid(_)) => {
            let page = ActivatePage {
                ctx: Ctx::visitor(v.tr, v.tr.t("ui-activate-title")),
                user,
                token,
                error: Some(problem(&v.tr, &e)),
            };
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(e) => Err(e),
    }
}

// ---------- home: the room list ----------

#[derive(Template, WebTemplate)]
#[template(path = "home.html")]
struct HomePage {
    ctx: Ctx,
    rooms: Vec<RoomSummary>,
    incidents: Vec<crate::store::IncidentSummary>,
}

pub async fn home(State(app): State<App>, MaybeSession(s): MaybeSession) -> AppResult<Response> {
    let Some(s) = s else {
        return Ok(Redirect::to("/login").into_response());
    };
    let rooms = app.rooms(&s.actor).await?;
    let incidents = app.incidents(&s.actor).await?;
    Ok(HomePage {
        ctx: Ctx::new(&app, &s, s.tr.t("ui-rooms")).await?,
        rooms,
        incidents,
    }
    .into_response())
}

#[derive(Deserialize)]
pub struct RoomCreateForm {
    #[serde(default)]
    idem: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    invite: String,
}

/// Replies to a write: JSON for scripts, a 303 to `to` for forms.
/// A redirect for forms, JSON for the page script.
pub(super) fn written(headers: &HeaderMap, to: String, json: serde_json::Value) -> Response {
    if wants_json(headers, "") {
        (StatusCode::OK, Json(json)).into_response()
    } else {
        Redirect::to(&to).into_response()
    }
}

pub async fn room_create(State(app): State<App>, w: Write<RoomCreateForm>) -> AppResult<Response> {
    let Write {
        s,
        form: f,
        headers,
    } = w;
    let key = idem_key(&headers, Some(&f.idem))?;
    let w = app
        .create_room(&s.actor, &f.name, &f.description, &f.invite, key)
        .await?;
    Ok(written(
        &headers,
        format!("/rooms/{}", w.value),
        serde_json::json!({"room_id": w.value, "replayed": w.replayed}),
    ))
}

#[derive(Deserialize)]
pub struct DirectForm {
    #[serde(default)]
    login: String,
}

pub async fn direct_open(State(app): State<App>, w: Write<DirectForm>) -> AppResult<Response> {
    let Write {
        s,
        form: f,
        headers,
    } = w;
    let rid = app.open_direct(&s.actor, &f.login).await?;
    Ok(written(
        &headers,
        format!("/rooms/{rid}"),
        serde_json::json!({"room_id": rid}),
    ))
}

// ---------- a room ----------

#[derive(Template, WebTemplate)]
#[template(path = "room.html")]
struct RoomTemplate {
    ctx: Ctx,
    p: RoomPage,
    reply: Option<Message>,
    /// The message an open item is being made from.
    item_from: Option<Message>,
    title: String,
    now: i64,
}

impl RoomTemplate {
    fn body(&self, m: &Message) -> String {
        message_html(&m.body)
    }
    /// Messages and structured entries in timeline order.
    fn timeline(&self) -> Vec<TimelineItem<'_>> {
        let mut items: Vec<(i64, TimelineItem<'_>)> = self
            .p
            .messages
            .iter()
            .map(|m| (m.pos, TimelineItem::Message(m)))
            .chain(
                self.p
                    .reports
                    .iter()
                    .map(|r| (r.pos, TimelineItem::Report(r))),
            )
            .chain(
                self.p
                    .photos
                    .iter()
                    .map(|p| (p.pos, TimelineItem::Photo(p))),
            )
            .chain(
                self.p
                    .events
                    .iter()
                    .map(|e| (e.pos, TimelineItem::Event(e))),
            )
            .collect();
        items.sort_by_key(|(pos, _)| *pos);
        items.into_iter().map(|(_, i)| i).collect()
    }
    fn member_count(&self) -> i64 {
        self.p.members.len() as i64
    }
    /// How many members besides its author have read `m` (既読).
    fn read_count(&self, m: &Message) -> Option<usize> {
        Some(
            self.p
                .members
                .iter()
                .filter(|x| x.user_id != m.author_id && x.last_read_pos >= m.pos)
                .count(),
        )
    }
    /// Organisations of the room's members other than the viewer's, for 要確認.
    fn other_orgs(&self) -> Vec<(OrgId, &str)> {
        let mine = self.my_org();
        let mut out = self.room_orgs();
        out.retain(|(o, _)| *o != mine);
        out
    }
    /// Members other than the viewer, for 要確認 of a person.
    fn other_members(&self) -> Vec<&crate::store::Member> {
        let me = self.ctx.me_uid();
        self.p.members.iter().filter(|m| m.user_id != me).collect()
    }
    /// Organisations with members in the room (assignees of open items).
    fn room_orgs(&self) -> Vec<(OrgId, &str)> {
        let mut out: Vec<(OrgId, &str)> = Vec::new();
        for m in &self.p.members {
            if out.iter().all(|(o, _)| *o != m.org_id) {
                out.push((m.org_id, m.org_name.as_str()));
            }
        }
        out
    }
    /// Whether nobody of the viewer's organisation is on duty (they may take it).
    /// Minutes a handoff has waited for acknowledgement.
    fn waited(&self, h: &crate::store::Handoff) -> i64 {
        h.waited(self.now) / 60_000
    }
    /// Whether a handoff of the viewer's organisation's duty already waits.
    fn org_handoff_waiting(&self) -> bool {
        let org = self.my_org();
        self.p
            .waiting
            .iter()
            .any(|h| h.org_id == org && h.position_id.is_none())
    }
    /// Whether the viewer holds duty for their organisation (and may hand it over).
    fn on_duty(&self) -> bool {
        let me = self.ctx.me_uid();
        self.p.duty.iter().any(|d| d.user_id == me)
    }
    fn duty_free(&self) -> bool {
        let org = self.my_org();
        self.p.duty.iter().all(|d| d.org_id != org)
    }
    /// How many items are still open.
    fn open_items(&self) -> i64 {
        self.p
            .items
            .iter()
            .filter(|i| i.status == ItemStatus::Open)
            .count() as i64
    }
    /// The start of a message, as an item's title.
    fn title_from(&self, m: &Message) -> String {
        let line = m.body.lines().next().unwrap_or("");
        line.chars().take(100).collect()
    }
    /// Whether the viewer manages the room (sees every matrix).
    fn manages(&self) -> bool {
        self.p.my_role >= RoomRole::Manager
    }
    fn my_org(&self) -> OrgId {
        self.ctx.me.as_ref().map(|u| u.org_id).unwrap_or_default()
    }
    /// Whether member `i` is the first of their organisation in the list.
    fn org_starts(&self, i: impl std::borrow::Borrow<usize>) -> bool {
        let i = *i.borrow();
        i == 0
            || self.p.members.get(i - 1).map(|m| m.org_id)
                != self.p.members.get(i).map(|m| m.org_id)
    }
}

/// One message as HTML, for the page and for live events.
#[derive(Template)]
#[template(path = "_message.html")]
pub struct MessageFragment<'a> {
    pub t: &'a Tr,
    pub m: &'a Message,
    pub me: UserId,
    pub my_org: OrgId,
    pub csrf: &'a str,
    pub archived: bool,
    /// 既読 count, when known (the page script fills it in otherwise).
    pub reads: Option<usize>,
    /// Whether the viewer manages the room.
    pub manages: bool,
    /// Whether the room is an incident's (messages can become open items).
    pub incident: bool,
}

/// One shelter report as a timeline entry, for the page and for live events.
#[derive(Template)]
#[template(path = "_report_entry.html")]
pub struct ReportFragment<'a> {
    pub t: &'a Tr,
    pub r: &'a crate::store::ShelterReport,
}

/// One photo as a timeline entry, for the page and for live events.
#[derive(Template)]
#[template(path = "_photo_entry.html")]
pub struct PhotoFragment<'a> {
    pub t: &'a Tr,
    pub p: &'a crate::store::Photo,
}

/// An item of a room's timeline.
pub enum TimelineItem<'a> {
    Message(&'a Message),
    Report(&'a crate::store::ShelterReport),
    Photo(&'a crate::store::Photo),
    /// An item or handoff change.
    Event(&'a crate::store::IncidentEvent),
}

/// How the timeline words an item or handoff event (its title goes in `title`), and where it
/// links to.
pub fn event_text(e: &crate::store::IncidentEvent) -> (&'static str, String) {
    let link = if e.kind.is_item() {
        format!("/incidents/{}/items/{}", e.incident, e.ref_id)
    } else {
        format!("/handoffs/{}", e.ref_id)
    };
    (e.kind.ui_key(), link)
}

impl MessageFragment<'_> {
    fn body(&self, m: &Message) -> String {
        message_html(&m.body)
    }
}

#[derive(Deserialize)]
pub struct RoomQuery {
    before: Option<i64>,
    reply: Option<String>,
    item_from: Option<String>,
}

fn room_title(t: &Tr, room: &crate::store::Room, peer: Option<&str>) -> String {
    match room.kind {
        RoomKind::Direct => peer
            .map(|p| t.t1("ui-dm-with", "name", p))
            .unwrap_or_else(|| t.t("ui-dm")),
        RoomKind::OrgInbox => t.t1("ui-org-inbox-of", "name", &room.name),
        RoomKind::Group | RoomKind::Incident => room.name.clone(),
    }
}

pub async fn room_page(
    State(app): State<App>,
    s: Session,
    Path(room): Path<String>,
    Query(q): Query<RoomQuery>,
) -> AppResult<Response> {
    let room: RoomId = parse_id(&room)?;
    let ctx_head = app.live.head();
    let p = app.room_page(&s.actor, room, q.before).await?;
    let reply = match q.reply.as_deref().map(parse_id::<MessageId>) {
        Some(Ok(mid)) => app.message(&s.actor, room, mid).await.ok(),
        _ => None,
    };
    let item_from = match q.item_from.as_deref().map(parse_id::<MessageId>) {
        Some(Ok(mid)) => app.message(&s.actor, room, mid).await.ok(),
        _ => None,
    };
    let title = room_title(&s.tr, &p.room, p.peer_name.as_deref());
    let mut ctx = Ctx::new(&app, &s, title.clone()).await?;
    ctx.head_pos = ctx_head;
    Ok(RoomTemplate {
        ctx,
        p,
        reply,
        item_from,
        title,
        now: app.now(),
    }
    .into_response())
}

pub async fn message_link(
    State(app): State<App>,
    s: Session,
    Path((room, msg)): Path<(String, String)>,
) -> AppResult<Response> {
    let room: RoomId = parse_id(&room)?;
    let msg: MessageId = parse_id(&msg)?;
    let to = match app.message_page(&s.actor, room, msg).await? {
        None => format!("/rooms/{room}#m-{msg}"),
        Some(before) => format!("/rooms/{room}?before={before}#m-{msg}"),
    };
    Ok(Redirect::to(&to).into_response())
}

#[derive(Deserialize)]
pub struct PostForm {
    #[serde(default)]
    idem: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    reply_to: String,
    /// 要確認: `confirm_all`, `confirm_org.<id>`, `confirm_user.<id>` (checkboxes) and
    /// `confirm_due` (a local time).
    #[serde(flatten)]
    rest: HashMap<String, String>,
}

/// The ids of checkboxes named `<prefix><id>`, in order; `bad` when one is not an id.
pub(super) fn checked_ids<T: std::str::FromStr + Ord>(
    fields: &HashMap<String, String>,
    prefix: &str,
    bad: Invalid,
) -> Result<Vec<T>, Invalid> {
    let mut out = fields
        .keys()
        .filter_map(|k| k.strip_prefix(prefix))
        .map(|id| id.parse().map_err(|_| bad.clone()))
        .collect::<Result<Vec<T>, Invalid>>()?;
    out.sort();
    Ok(out)
}

/// What the composer's 要確認 options ask, if anything.
fn ask_of(app: &App, fields: &HashMap<String, String>) -> AppResult<Option<Ask>> {
    let mut ask = Ask {
        all_orgs: fields.get("confirm_all").is_some_and(|v| !v.is_empty()),
        ..Ask::default()
    };
    ask.orgs = checked_ids(
        fields,
        "confirm_org.",
        Invalid::new("confirm_orgs", "err-confirm-target"),
    )?;
    ask.users = checked_ids(
        fields,
        "confirm_user.",
        Invalid::new("confirm_users", "err-confirm-target"),
    )?;
    let due = fields.get("confirm_due").map(String::as_str).unwrap_or("");
    ask.due_at = app.local_time(due, "due_at")?;
    let asks = ask.all_orgs || !ask.orgs.is_empty() || !ask.users.is_empty();
    if !asks && ask.due_at.is_some() {
        return Err(Invalid::new("confirm_orgs", "err-confirm-nobody").into());
    }
    Ok(asks.then_some(ask))
}

pub async fn message_post(
    State(app): State<App>,
    Path(room): Path<String>,
    w: Write<PostForm>,
) -> AppResult<Response> {
    let Write {
        s,
        form: f,
        headers,
    } = w;
    let room: RoomId = parse_id(&room)?;
    let key = idem_key(&headers, Some(&f.idem))?;
    let reply_to = if f.reply_to.is_empty() {
        None
    } else {
        Some(
            f.reply_to
                .parse::<MessageId>()
                .map_err(|_| AppError::BadRequest("err-reply-other-room"))?,
        )
    };
    let ask = ask_of(&app, &f.rest)?;
    let w = app
        .post_asking(&s.actor, room, &f.body, reply_to, key, ask.as_ref())
        .await?;
    Ok(written(
        &headers,
        format!("/rooms/{room}#m-{}", w.value),
        serde_json::json!({"message_id": w.value, "room_id": room, "replayed": w.replayed}),
    ))
}

#[derive(Template, WebTemplate)]
#[template(path = "message_edit.html")]
struct EditPage {
    ctx: Ctx,
    room: RoomId,
    m: Message,
}

pub async fn message_edit_form(
    State(app): State<App>,
    s: Session,
    Path((room, msg)): Path<(String, String)>,
) -> AppResult<Response> {
    let room: RoomId = parse_id(&room)?;
    let m = app.message(&s.actor, room, parse_id(&msg)?).await?;
    if m.author_id != s.actor.user.id || m.deleted {
        return Err(AppError::Forbidden);
    }
    Ok(EditPage {
        ctx: Ctx::new(&app, &s, s.tr.t("ui-edit-message")).await?,
        room,
        m,
    }
    .into_response())
}

#[derive(Deserialize)]
pub struct EditForm {
    #[serde(default)]
    body: String,
}

pub async fn message_edit(
    State(app): State<App>,
    Path((room, msg)): Path<(String, String)>,
    w: Write<EditForm>,
) -> AppResult<Response> {
    let Write {
        s,
        form: f,
        headers,
    } = w;
    let room: RoomId = parse_id(&room)?;
    let msg: MessageId = parse_id(&msg)?;
    app.edit(&s.actor, room, msg, &f.body).await?;
    Ok(written(
        &headers,
        format!("/rooms/{room}#m-{msg}"),
        serde_json::json!({"message_id": msg}),
    ))
}

pub async fn message_delete(
    State(app): State<App>,
    Path((room, msg)): Path<(String, String)>,
    w: Write<CsrfForm>,
) -> AppResult<Response> {
    let Write { s, headers, .. } = w;
    let room: RoomId = parse_id(&room)?;
    let msg: MessageId = parse_id(&msg)?;
    app.delete(&s.actor, room, msg).await?;
    Ok(written(
        &headers,
        format!("/rooms/{room}"),
        serde_json::json!({"message_id": msg, "deleted": true}),
    ))
}

#[derive(Deserialize)]
pub struct ReadForm {
    #[serde(default)]
    pos: String,
}

pub async fn room_read(
    State(app): State<App>,
    Path(room): Path<String>,
    w: Write<ReadForm>,
) -> AppResult<Response> {
    let Write { s, form: f, .. } = w;
    let room: RoomId = parse_id(&room)?;
    let pos = f
        .pos
        .parse::<i64>()
        .map_err(|_| AppError::BadRequest("err-bad-form"))?;
    app.mark_read(&s.actor, room, pos).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

// ---------- room settings ----------

#[derive(Template, WebTemplate)]
#[template(path = "room_settings.html")]
struct RoomSettingsPage {
    ctx: Ctx,
    p: RoomPage,
    all_orgs: Vec<Org>,
    title: String,
}

impl RoomSettingsPage {
    fn member_count(&self) -> i64 {
        self.p.members.len() as i64
    }
}

pub async fn room_settings(
    State(app): State<App>,
    s: Session,
    Path(room): Path<String>,
) -> AppResult<Response> {
    let room: RoomId = parse_id(&room)?;
    let p = app.room_page(&s.actor, room, Some(0)).await?;
    let all_orgs = app.all_orgs().await?;
    let title = room_title(&s.tr, &p.room, p.peer_name.as_deref());
    Ok(RoomSettingsPage {
        ctx: Ctx::new(&app, &s, s.tr.t1("ui-room-settings-of", "name", &title)).await?,
        p,
        all_orgs,
        title,
    }
    .into_response())
}

#[derive(Deserialize)]
pub struct RenameForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
}

pub async fn room_rename(
    State(app): State<App>,
    Path(room): Path<String>,
    w: Write<RenameForm>,
) -> AppResult<Response> {
    let Write {
        s,
        form: f,
        headers,
    } = w;
    let room: RoomId = parse_id(&room)?;
    let change = RoomChange::Rename(
        RoomName::parse(&f.name)?,
        Description::parse(&f.description)?,
    );
    app.change_room(&s.actor, room, change).await?;
    Ok(written(
        &headers,
        format!("/rooms/{room}/settings"),
        serde_json::json!({"ok": true}),
    ))
}

#[derive(Deserialize)]
pub struct ArchiveForm {
    #[serde(default)]
    archived: String,
}

pub async fn room_archive(
    State(app): State<App>,
    Path(room): Path<String>,
    w: Write<ArchiveForm>,
) -> AppResult<Response> {
    let Write {
        s,
        form: f,
        headers,
    } = w;
    let room: RoomId = parse_id(&room)?;
    app.change_room(
        &s.actor,
        room,
        RoomChange::Archive(f.archived == "1" || f.archived == "true"),
    )
    .await?;
    Ok(written(
        &headers,
        format!("/rooms/{room}/settings"),
        serde_json::json!({"ok": true}),
    ))
}

#[derive(Deserialize)]
pub struct InviteForm {
    #[serde(default)]
    logins: String,
}

pub async fn room_invite(
    State(app): State<App>,
    Path(room): Path<String>,
    w: Write<InviteForm>,
) -> AppResult<Response> {
    let Write {
        s,
        form: f,
        headers,
    } = w;
    let room: RoomId = parse_id(&room)?;
    app.invite(&s.actor, room, &f.logins).await?;
    Ok(written(
        &headers,
        format!("/rooms/{room}/settings"),
        serde_json::json!({"ok": true}),
    ))
}

pub async fn room_remove_member(
    State(app): State<App>,
    Path((room, user)): Path<(String, String)>,
    w: Write<CsrfForm>,
) -> AppResult<Response> {
    let Write { s, headers, .. } = w;
    let room: RoomId = parse_id(&room)?;
    let user: UserId = parse_id(&user)?;
    app.change_room(&s.actor, room, RoomChange::RemoveUser(user))
        .await?;
    Ok(written(
        &headers,
        format!("/rooms/{room}/settings"),
        serde_json::json!({"ok": true}),
    ))
}

#[derive(Deserialize)]
pub struct RoleForm {
    #[serde(default)]
    role: String,
}

pub async fn room_set_role(
    State(app): State<App>,
    Path((room, user)): Path<(String, String)>,
    w: Write<RoleForm>,
) -> AppResult<Response> {
    let Write {
        s,
        form: f,
        headers,
    } = w;
    let room: RoomId = parse_id(&room)?;
    let user: UserId = parse_id(&user)?;
    let role = RoomRole::parse(&f.role)?;
    app.change_room(&s.actor, room, RoomChange::SetRole(user, role))
        .await?;
    Ok(written(
        &headers,
        format!("/rooms/{room}/settings"),
        serde_json::json!({"ok": true}),
    ))
}

#[derive(Deserialize)]
pub struct OrgForm {
    #[serde(default)]
    org: String,
}

pub async fn room_add_org(
    State(app): State<App>,
    Path(room): Path<String>,
    w: Write<OrgForm>,
) -> AppResult<Response> {
    let Write {
        s,
        form: f,
        headers,
    } = w;
    let room: RoomId = parse_id(&room)?;
    app.add_org(&s.actor, room, &f.org).await?;
    Ok(written(
        &headers,
        format!("/rooms/{room}/settings"),
        serde_json::json!({"ok": true}),
    ))
}

pub async fn room_remove_org(
    State(app): State<App>,
    Path((room, org)): Path<(String, String)>,
    w: Write<CsrfForm>,
) -> AppResult<Response> {
    let Write { s, headers, .. } = w;
    let room: RoomId = parse_id(&room)?;
    let org: OrgId = parse_id(&org)?;
    app.change_room(&s.actor, room, RoomChange::RemoveOrg(org))
        .await?;
    Ok(written(
        &headers,
        format!("/rooms/{room}/settings"),
        serde_json::json!({"ok": true}),
    ))
}

pub async fn room_leave(
    State(app): State<App>,
    Path(room): Path<String>,
    w: Write<CsrfForm>,
) -> AppResult<Response> {
    let Write { s, headers, .. } = w;
    let room: RoomId = parse_id(&room)?;
    app.change_room(&s.actor, room, RoomChange::RemoveUser(s.actor.user.id))
        .await?;
    Ok(written(
        &headers,
        "/".into(),
        serde_json::json!({"ok": true}),
    ))
}

// ---------- inbox and search ----------

#[derive(Template, WebTemplate)]
#[template(path = "inbox.html")]
struct InboxPage {
    ctx: Ctx,
    items: Vec<InboxItem>,
}

impl InboxPage {
    fn kind_key(&self, i: &InboxItem) -> &'static str {
        crate::i18n::inbox_kind_key(&i.kind)
    }
}

pub async fn inbox(State(app): State<App>, s: Session) -> AppResult<Response> {
    let items = app.inbox(&s.actor).await?;
    Ok(InboxPage {
        ctx: Ctx::new(&app, &s, s.tr.t("ui-inbox")).await?,
        items,
    }
    .into_response())
}

#[derive(Deserialize)]
pub struct InboxReadForm {
    #[serde(default)]
    item: String,
}

pub async fn inbox_read(State(app): State<App>, w: Write<InboxReadForm>) -> AppResult<Response> {
    let Write {
        s,
        form: f,
        headers,
    } = w;
    let item = if f.item.is_empty() {
        None
    } else {
        Some(parse_id::<InboxId>(&f.item)?)
    };
    app.mark_inbox_read(&s.actor, item).await?;
    Ok(written(
        &headers,
        "/inbox".into(),
        serde_json::json!({"ok": true}),
    ))
}

#[derive(Template, WebTemplate)]
#[template(path = "search.html")]
struct SearchPage {
    ctx: Ctx,
    q: String,
    hits: Vec<SearchHit>,
    folded: String,
}

impl SearchPage {
    fn hit_count(&self) -> i64 {
        self.hits.len() as i64
    }

    fn snippet(&self, h: &SearchHit) -> String {
        highlight(&h.message.body, &self.folded)
    }
}

#[derive(Deserialize)]
pub struct SearchQuery {
    #[serde(default)]
    q: String,
}

pub async fn search(
    State(app): State<App>,
    s: Session,
    Query(q): Query<SearchQuery>,
) -> AppResult<Response> {
    let hits = app.search(&s.actor, &q.q).await?;
    let folded = search_fold(q.q.trim());
    Ok(SearchPage {
        ctx: Ctx::new(&app, &s, s.tr.t("ui-search")).await?,
        q: q.q,
        hits,
        folded,
    }
    .into_response())
}

// ---------- settings ----------

#[derive(Template, WebTemplate)]
#[template(path = "settings.html")]
struct SettingsPage {
    ctx: Ctx,
    sessions: Vec<SessionInfo>,
    tokens: Vec<crate::store::ApiToken>,
    new_token: Option<String>,
    current: String,
    notice: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct NoticeQuery {
    done: Option<String>,
}

async fn settings_page(
    app: &App,
    s: &Session,
    notice: Option<String>,
    error: Option<String>,
) -> AppResult<SettingsPage> {
    let sessions = app.my_sessions(&s.actor).await?;
    let tokens = app.my_tokens(&s.actor).await?;
    Ok(SettingsPage {
        ctx: Ctx::new(app, s, s.tr.t("ui-settings")).await?,
        sessions,
        tokens,
        new_token: None,
        current: s.actor.session_hash.clone(),
        notice,
        error,
    })
}

#[derive(Deserialize)]
pub struct TokenForm {
    #[serde(default)]
    name: String,
}

/// Creates an API token and shows it once.
pub async fn settings_token_create(
    State(app): State<App>,
    w: Write<TokenForm>,
) -> AppResult<Response> {
    let Write {
        s,
        form: f,
        headers,
    } = w;
    match app.create_token(&s.actor, &f.name).await {
        Ok(token) if wants_json(&headers, "") => {
            Ok(Json(serde_json::json!({"token": token})).into_response())
        }
        Ok(token) => {
            let mut page = settings_page(&app, &s, Some(s.tr.t("ui-token-created")), None).await?;
            page.new_token = Some(token);
            Ok(page.into_response())
        }
        Err(e @ AppError::Invalid(_)) => {
            let page = settings_page(&app, &s, None, Some(problem(&s.tr, &e))).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(e) => Err(e),
    }
}

pub async fn settings_token_revoke(
    State(app): State<App>,
    Path(id): Path<String>,
    w: Write<CsrfForm>,
) -> AppResult<Response> {
    let Write { s, headers, .. } = w;
    app.revoke_token(&s.actor, &id).await?;
    Ok(written(
        &headers,
        "/settings?done=1".into(),
        serde_json::json!({"ok": true}),
    ))
}

pub async fn settings(
    State(app): State<App>,
    s: Session,
    Query(q): Query<NoticeQuery>,
) -> AppResult<Response> {
    let notice = q.done.map(|_| s.tr.t("ui-saved"));
    Ok(settings_page(&app, &s, notice, None).await?.into_response())
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    current: String,
    #[serde(default)]
    new: String,
    #[serde(default)]
    new2: String,
}

pub async fn settings_password(
    State(app): State<App>,
    w: Write<PasswordForm>,
) -> AppResult<Response> {
    let Write { s, form: f, .. } = w;
    let result = if f.new != f.new2 {
        Err(AppError::Invalid(Invalid::new(
            "new2",
            "err-password-mismatch",
        )))
    } else {
        app.change_password(&s.actor, f.current, &f.new).await
    };
    match result {
        Ok(()) => Ok(Redirect::to("/settings?done=1").into_response()),
        Err(e @ AppError::Invalid(_)) => {
            let page = settings_page(&app, &s, None, Some(problem(&s.tr, &e))).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(e) => Err(e),
    }
}

#[derive(Deserialize)]
pub struct EmailForm {
    #[serde(default)]
    email: String,
}

pub async fn settings_email(State(app): State<App>, w: Write<EmailForm>) -> AppResult<Response> {
    let Write { s, form: f, .. } = w;
    match app.set_email(&s.actor, &f.email).await {
        Ok(()) => Ok(Redirect::to("/settings?done=1").into_response()),
        Err(e @ AppError::Invalid(_)) => {
            let page = settings_page(&app, &s, None, Some(problem(&s.tr, &e))).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(e) => Err(e),
    }
}

#[derive(Deserialize)]
pub struct LangForm {
    #[serde(default)]
    lang: String,
}

pub async fn settings_language(
    State(app): State<App>,
    jar: CookieJar,
    w: Write<LangForm>,
) -> AppResult<Response> {
    let Write { s, form: f, .. } = w;
    app.set_language(&s.actor, &f.lang).await?;
    let lang = Lang::parse(&f.lang)?;
    Ok((jar.add(lang_cookie(lang)), Redirect::to("/settings?done=1")).into_response())
}

pub async fn settings_end_session(
    State(app): State<App>,
    Path(id): Path<String>,
    w: Write<CsrfForm>,
) -> AppResult<Response> {
    let Write { s, headers, .. } = w;
    app.end_my_session(&s.actor, &id).await?;
    Ok(written(
        &headers,
        "/settings?done=1".into(),
        serde_json::json!({"ok": true}),
    ))
}

// ---------- administration ----------

pub async fn admin_home(s: Session) -> AppResult<Response> {
    if !s.is_admin() {
        return Err(AppError::Forbidden);
    }
    Ok(Redirect::to("/admin/users").into_response())
}

#[derive(Template, WebTemplate)]
#[template(path = "admin_orgs.html")]
struct AdminOrgsPage {
    ctx: Ctx,
    orgs: Vec<Org>,
    can_create: bool,
    kinds: [OrgKind; 4],
    error: Option<String>,
}

pub async fn admin_orgs(State(app): State<App>, s: Session) -> AppResult<Response> {
    let orgs = app.admin_orgs(&s.actor).await?;
    let can_create = s.actor.user.role == Role::DeploymentAdmin;
    Ok(AdminOrgsPage {
        ctx: Ctx::new(&app, &s, s.tr.t("ui-organisations")).await?,
        orgs,
        can_create,
        kinds: OrgKind::ALL,
        error: None,
    }
    .into_response())
}

#[derive(Deserialize)]
pub struct OrgCreateForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    slug: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    code: String,
}

pub async fn admin_org_create(
    State(app): State<App>,
    w: Write<OrgCreateForm>,
) -> AppResult<Response> {
    let Write {
        s,
        form: f,
        headers,
    } = w;
    match app
        .create_org(&s.actor, &f.name, &f.slug, &f.kind, &f.code)
        .await
    {
        Ok(org) => Ok(written(
            &headers,
            "/admin/orgs".into(),
            serde_json::json!({"org_id": org.id}),
        )),
        Err(e @ (AppError::Invalid(_) | AppError::Conflict(_))) if !wants_json(&headers, "") => {
            let orgs = app.admin_orgs(&s.actor).await?;
            let page = AdminOrgsPage {
                ctx: Ctx::new(&app, &s, s.tr.t("ui-organisations")).await?,
                orgs,
                can_create: true,
                kinds: OrgKind::ALL,
                error: Some(problem(&s.tr, &e)),
            };
            Ok((e.status(), page).into_response())
        }
        Err(e) => Err(e),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "admin_users.html")]
struct AdminUsersPage {
    ctx: Ctx,
    orgs: Vec<Org>,
    users: Vec<User>,
    org_filter: String,
    deployment_admin: bool,
    error: Option<String>,
    link: Option<IssuedLink>,
}

#[derive(Deserialize)]
pub struct UsersQuery {
    #[serde(default)]
    org: String,
}

async fn users_page(
    app: &App,
    s: &Session,
    org: &str,
    error: Option<String>,
    link: Option<IssuedLink>,
) -> AppResult<AdminUsersPage> {
    let orgs = app.admin_orgs(&s.actor).await?;
    let filter = if org.is_empty() {
        None
    } else {
        Some(parse_id::<OrgId>(org)?)
    };
    let users = app.users_of(&s.actor, filter).await?;
    Ok(AdminUsersPage {
        ctx: Ctx::new(app, s, s.tr.t("ui-users")).await?,
        orgs,
        users,
        org_filter: org.to_string(),
        deployment_admin: s.actor.user.role == Role::DeploymentAdmin,
        error,
        link,
    })
}

pub async fn admin_users(
    State(app): State<App>,
    s: Session,
    Query(q): Query<UsersQuery>,
) -> AppResult<Response> {
    Ok(users_page(&app, &s, &q.org, None, None)
        .await?
        .into_response())
}

#[derive(Deserialize)]
pub struct UserCreateForm {
    #[serde(default)]
    org: String,
    #[serde(default)]
    login: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    lang: String,
}

pub async fn admin_user_create(
    State(app): State<App>,
    w: Write<UserCreateForm>,
) -> AppResult<Response> {
    let Write {
        s,
        form: f,
        headers,
    } = w;
    let input = NewUserInput {
        org: f.org.clone(),
        login: f.login,
        display_name: f.display_name,
        email: f.email,
        role: f.role,
        lang: f.lang,
    };
    match app.create_user(&s.actor, input).await {
        Ok(link) if wants_json(&headers, "") => Ok(Json(
            serde_json::json!({"user_id": link.user.id, "activation_url": link.url}),
        )
        .into_response()),
        Ok(link) => Ok(users_page(&app, &s, "", None, Some(link))
            .await?
            .into_response()),
        Err(e @ (AppError::Invalid(_) | AppError::Conflict(_))) if !wants_json(&headers, "") => {
            let page = users_page(&app, &s, "", Some(problem(&s.tr, &e)), None).await?;
            Ok((e.status(), page).into_response())
        }
        Err(e) => Err(e),
    }
}

pub async fn admin_user_reset(
    State(app): State<App>,
    Path(user): Path<String>,
    w: Write<CsrfForm>,
) -> AppResult<Response> {
    let Write { s, headers, .. } = w;
    let link = app.reset_password(&s.actor, parse_id(&user)?).await?;
    if wants_json(&headers, "") {
        return Ok(
            Json(serde_json::json!({"user_id": link.user.id, "reset_url": link.url}))
                .into_response(),
        );
    }
    Ok(users_page(&app, &s, "", None, Some(link))
        .await?
        .into_response())
}

#[derive(Deserialize)]
pub struct ActiveForm {
    #[serde(default)]
    active: String,
}

pub async fn admin_user_active(
    State(app): State<App>,
    Path(user): Path<String>,
    w: Write<ActiveForm>,
) -> AppResult<Response> {
    let Write {
        s,
        form: f,
        headers,
    } = w;
    app.set_user_active(
        &s.actor,
        parse_id(&user)?,
        f.active == "1" || f.active == "true",
    )
    .await?;
    Ok(written(
        &headers,
        "/admin/users".into(),
        serde_json::json!({"ok": true}),
    ))
}

pub async fn admin_user_role(
    State(app): State<App>,
    Path(user): Path<String>,
    w: Write<RoleForm>,
) -> AppResult<Response> {
    let Write {
        s,
        form: f,
        headers,
    } = w;
    app.set_user_role(&s.actor, parse_id(&user)?, &f.role)
        .await?;
    Ok(written(
        &headers,
        "/admin/users".into(),
        serde_json::json!({"ok": true}),
    ))
}

pub async fn admin_user_end_sessions(
    State(app): State<App>,
    Path(user): Path<String>,
    w: Write<CsrfForm>,
) -> AppResult<Response> {
    let Write { s, headers, .. } = w;
    let n = app.end_user_sessions(&s.actor, parse_id(&user)?).await?;
    Ok(written(
        &headers,
        "/admin/users".into(),
        serde_json::json!({"ended": n}),
    ))
}

#[derive(Template, WebTemplate)]
#[template(path = "admin_audit.html")]
struct AuditPage {
    ctx: Ctx,
    rows: Vec<AuditRecord>,
    action: String,
    login: String,
    next_before: Option<i64>,
}

#[derive(Deserialize)]
pub struct AuditQuery {
    #[serde(default)]
    action: String,
    #[serde(default)]
    login: String,
    before: Option<i64>,
}

pub async fn admin_audit(
    State(app): State<App>,
    s: Session,
    Query(q): Query<AuditQuery>,
) -> AppResult<Response> {
    let rows = app
        .audit_log(
            &s.actor,
            AuditFilter {
                org_id: None,
                action: Some(q.action.clone()),
                user_login: Some(q.login.clone()),
                before: q.before,
                limit: 100,
            },
        )
        .await?;
    let next_before = (rows.len() == 100)
        .then(|| rows.last().map(|r| r.at))
        .flatten();
    Ok(AuditPage {
        ctx: Ctx::new(&app, &s, s.tr.t("ui-audit")).await?,
        rows,
        action: q.action,
        login: q.login,
        next_before,
    }
    .into_response())
}

// ---------- bulk onboarding ----------

#[derive(Template, WebTemplate)]
#[template(path = "admin_import.html")]
struct ImportPage {
    ctx: Ctx,
    preview: Option<crate::app::ImportPreview>,
    links: Vec<IssuedLink>,
    org_preview: Option<crate::app::OrgImportPreview>,
    orgs_imported: Option<i64>,
    can_import_orgs: bool,
    error: Option<String>,
}

impl ImportPage {
    fn orgs_count(&self) -> i64 {
        self.orgs_imported.unwrap_or(0)
    }

    async fn new(app: &App, s: &Session) -> AppResult<Self> {
        Ok(ImportPage {
            ctx: Ctx::new(app, s, s.tr.t("ui-import-users")).await?,
            preview: None,
            links: Vec::new(),
            org_preview: None,
            orgs_imported: None,
            can_import_orgs: s.actor.user.role == Role::DeploymentAdmin,
            error: None,
        })
    }
}

pub async fn admin_import(State(app): State<App>, s: Session) -> AppResult<Response> {
    if !s.is_admin() {
        return Err(AppError::Forbidden);
    }
    Ok(ImportPage::new(&app, &s).await?.into_response())
}

/// The CSV of an upload form: the file, else the pasted text.
fn csv_upload(u: &Upload) -> String {
    match u.files.iter().find(|f| !f.is_empty()) {
        Some(file) => crate::app::decode_csv(file),
        None => u.field("csv"),
    }
}

/// Checks an uploaded (or pasted) users CSV and shows what importing it would do.
pub async fn admin_import_preview(State(app): State<App>, u: Upload) -> AppResult<Response> {
    let text = csv_upload(&u);
    let s = u.s;
    let preview = app.preview_users(&s.actor, text).await?;
    let status = if preview.ok() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = ImportPage {
        preview: Some(preview),
        ..ImportPage::new(&app, &s).await?
    };
    Ok((status, page).into_response())
}

#[derive(Deserialize)]
pub struct ImportApplyForm {
    #[serde(default)]
    csv: String,
}

/// Imports a checked users CSV: all rows or none.
pub async fn admin_import_apply(
    State(app): State<App>,
    w: Write<ImportApplyForm>,
) -> AppResult<Response> {
    let Write {
        s,
        form: f,
        headers,
    } = w;
    match app.apply_users(&s.actor, f.csv.clone()).await {
        Ok(links) if wants_json(&headers, "") => Ok(Json(serde_json::json!({
            "created": links.iter().map(|l| serde_json::json!({"login": l.user.login, "activation_url": l.url})).collect::<Vec<_>>()
        }))
        .into_response()),
        Ok(links) => Ok(ImportPage { links, ..ImportPage::new(&app, &s).await? }.into_response()),
        Err(e @ AppError::Invalid(_)) if !wants_json(&headers, "") => {
            let preview = app.preview_users(&s.actor, f.csv).await?;
            let page = ImportPage { preview: Some(preview), error: Some(problem(&s.tr, &e)), ..ImportPage::new(&app, &s).await? };
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(e) => Err(e),
    }
}

/// Checks an organisations CSV.
pub async fn admin_import_orgs_preview(State(app): State<App>, u: Upload) -> AppResult<Response> {
    let text = csv_upload(&u);
    let s = u.s;
    let preview = app.preview_orgs(&s.actor, text).await?;
    let status = if preview.ok() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = ImportPage {
        org_preview: Some(preview),
        ..ImportPage::new(&app, &s).await?
    };
    Ok((status, page).into_response())
}

/// Imports a checked organisations CSV: all rows or none.
pub async fn admin_import_orgs_apply(
    State(app): State<App>,
    w: Write<ImportApplyForm>,
) -> AppResult<Response> {
    let Write {
        s,
        form: f,
        headers,
    } = w;
    match app.apply_orgs(&s.actor, f.csv.clone()).await {
        Ok(n) if wants_json(&headers, "") => {
            Ok(Json(serde_json::json!({"imported": n})).into_response())
        }
        Ok(n) => Ok(ImportPage {
            orgs_imported: Some(n as i64),
            ..ImportPage::new(&app, &s).await?
        }
        .into_response()),
        Err(e @ AppError::Invalid(_)) if !wants_json(&headers, "") => {
            let preview = app.preview_orgs(&s.actor, f.csv).await?;
            let page = ImportPage {
                org_preview: Some(preview),
                error: Some(problem(&s.tr, &e)),
                ..ImportPage::new(&app, &s).await?
            };
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(e) => Err(e),
    }
}
