//! The one live stream per browser: Server-Sent Events carrying every timeline entry the user
//! may see, each with its position as `id:`, resumable with `Last-Event-ID`.

use super::pages::{MessageFragment, PhotoFragment, ReportFragment};
use super::session::Session;
use crate::app::{App, RESYNC_ENTRIES, Resume};
use crate::domain::{OrgId, RoomId, UserId};
use crate::error::AppResult;
use crate::i18n::Tr;
use crate::store::{Entry, EntryKind};
use askama::Template;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::Stream;
use serde::Deserialize;
use std::collections::HashSet;
use std::convert::Infallible;
use tokio::sync::broadcast::error::RecvError;

#[derive(Deserialize)]
pub struct EventsQuery {
    /// The position the page was rendered at (EventSource cannot send a header on first connect).
    pub after: Option<i64>,
}

/// What keeps a stream open: a browser session (its stored hash) or an API token.
#[derive(Debug, Clone)]
pub enum Credential {
    Session(String),
    Token(String),
}

/// What one subscriber knows: whom it serves and which rooms they are in.
struct Subscriber {
    app: App,
    user: UserId,
    org: OrgId,
    cred: Credential,
    csrf: String,
    tr: Tr,
    rooms: HashSet<RoomId>,
    cursor: i64,
}

enum Step {
    Send(Event),
    Skip,
    /// The session ended: say so and close.
    Logout,
}

impl Subscriber {
    /// Whether the credential still holds (`None`: could not tell, keep the stream).
    async fn alive(&self) -> Option<bool> {
        match &self.cred {
            Credential::Session(hash) => self.app.session_alive(hash).await.ok(),
            Credential::Token(token) => self.app.token_user(token).await.ok().map(|u| u.is_some()),
        }
    }

    /// Decides what an entry means for this subscriber, updating its room set.
    async fn step(&mut self, e: &Entry) -> Step {
        let mine = e.user_id == Some(self.user);
        let visible = match e.kind {
            EntryKind::MemberAdded if mine => {
                if let Some(r) = e.room_id {
                    self.rooms.insert(r);
                }
                true
            }
            EntryKind::MemberRemoved if mine => {
                if let Some(r) = e.room_id {
                    self.rooms.remove(&r);
                }
                true
            }
            EntryKind::SessionsEnded if mine => {
                return match self.alive().await {
                    Some(false) => Step::Logout,
                    _ => Step::Skip,
                };
            }
            EntryKind::Inbox | EntryKind::SessionsEnded => mine,
            _ => e.room_id.is_some_and(|r| self.rooms.contains(&r)),
        };
        if visible {
            Step::Send(self.event(e))
        } else {
            Step::Skip
        }
    }

    fn event(&self, e: &Entry) -> Event {
        let html = e.message.as_ref().and_then(|m| {
            MessageFragment {
                t: &self.tr,
                m,
                me: self.user,
                my_org: self.org,
                csrf: &self.csrf,
                archived: false,
                reads: None,
                manages: false,
                incident: false,
            }
            .render()
            .ok()
        });
        let html = html.or_else(|| {
            e.report
                .as_ref()
                .and_then(|r| ReportFragment { t: &self.tr, r }.render().ok())
        });
        let html = html.or_else(|| {
            e.photo
                .as_ref()
                .and_then(|p| PhotoFragment { t: &self.tr, p }.render().ok())
        });
        let data = serde_json::json!({
            "pos": e.pos,
            "kind": e.kind,
            "room_id": e.room_id,
            "user_id": e.user_id,
            "message_id": e.message.as_ref().map(|m| m.id),
            "author_id": e.message.as_ref().map(|m| m.author_id),
            "report": e.report,
            "record_id": e.record_id,
            "html": html,
        });
        Event::default()
            .id(e.pos.to_string())
            .event("entry")
            .data(data.to_string())
    }
}

fn last_event_id(headers: &HeaderMap) -> Option<i64> {
    headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|s| s.trim().parse().ok())
}

pub async fn events(
    State(app): State<App>,
    s: Session,
    headers: HeaderMap,
    Query(q): Query<EventsQuery>,
) -> AppResult<Response> {
    let cred = Credential::Session(s.actor.session_hash.clone());
    stream(app, s, cred, &headers, q.after).await
}

/// The live stream of `s`'s user, resuming after `Last-Event-ID` or `after` when given.
pub async fn stream(
    app: App,
    s: Session,
    cred: Credential,
    headers: &HeaderMap,
    after: Option<i64>,
) -> AppResult<Response> {
    let user = s.actor.user.id;
    // Subscribe before reading the store, so nothing committed in between is missed.
    let mut rx = app.live.subscribe();
    let mut stop = app.live.shutdown_signal();
    let rooms = app.room_ids(user).await?;
    let resume_from = last_event_id(headers).or(after);
    let (replay, resync, start) = match resume_from {
        Some(after) => match app.resume(user, after.max(0)).await? {
            Resume::Replay(entries) => (entries, false, after.max(0)),
            Resume::Resync => (Vec::new(), true, app.store.head().await?),
        },
        None => (Vec::new(), false, app.store.head().await?),
    };
    let keepalive = app.config.keepalive;
    let mut sub = Subscriber {
        app: app.clone(),
        user,
        org: s.actor.user.org_id,
        cred,
        csrf: s.csrf.clone(),
        tr: s.tr,
        rooms,
        cursor: start,
    };

    let stream = async_stream::stream! {
        if resync {
            yield Ok::<Event, Infallible>(Event::default().event("resync").id(start.to_string()).data("{}"));
        } else {
            yield Ok(Event::default().event("hello").data(format!("{{\"pos\":{start}}}")));
        }
        for e in &replay {
            if e.pos <= sub.cursor { continue; }
            sub.cursor = e.pos;
            match sub.step(e).await {
                Step::Send(ev) => yield Ok(ev),
                Step::Skip => {}
                Step::Logout => { yield Ok(Event::default().event("logout").data("{}")); return; }
            }
        }
        let mut tick = tokio::time::interval(keepalive);
        tick.tick().await;
        loop {
            tokio::select! {
                _ = stop.changed() => { yield Ok(Event::default().event("shutdown").data("{}")); return; }
                _ = tick.tick() => {
                    match sub.alive().await {
                        Some(false) => { yield Ok(Event::default().event("logout").data("{}")); return; }
                        _ => yield Ok(Event::default().comment("keep-alive")),
                    }
                }
                got = rx.recv() => {
                    let batch = match got {
                        Ok(b) => b,
                        Err(RecvError::Lagged(_)) => {
                            // Fell behind the hub: catch up from the database.
                            match sub.app.store.visible_entries_after(sub.user, sub.cursor, RESYNC_ENTRIES + 1).await {
                                Ok(v) if (v.len() as i64) <= RESYNC_ENTRIES => std::sync::Arc::new(v),
                                _ => { yield Ok(Event::default().event("resync").data("{}")); return; }
                            }
                        }
                        Err(RecvError::Closed) => return,
                    };
                    for e in batch.iter() {
                        if e.pos <= sub.cursor { continue; }
                        sub.cursor = e.pos;
                        match sub.step(e).await {
                            Step::Send(ev) => yield Ok(ev),
                            Step::Skip => {}
                            Step::Logout => { yield Ok(Event::default().event("logout").data("{}")); return; }
                        }
                    }
                }
            }
        }
    };
    Ok(sse_response(stream))
}

fn sse_response<S>(stream: S) -> Response
where
    S: Stream<Item = Result<Event, Infallible>> + Send + 'static,
{
    let mut res = Sse::new(stream).into_response();
    res.headers_mut().insert(
        "x-accel-buffering",
        axum::http::HeaderValue::from_static("no"),
    );
    res
}
