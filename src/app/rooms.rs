//! Rooms, messages, search and the inbox.

use super::*;
use crate::store::{
    Entry, Idem, InboxItem, Member, Message, NewMessage, NewRoom, Room, RoomChange, RoomSummary,
    SearchHit, Written,
};
use std::collections::HashSet;

/// Messages shown per page of a room.
pub const PAGE: i64 = 50;
/// A client further behind than this many entries (or 7 days) reloads instead of replaying.
pub const RESYNC_ENTRIES: i64 = 1000;
pub const RESYNC_AGE_MS: i64 = 7 * 24 * 3600 * 1000;

/// Everything the room page shows.
#[derive(Debug, Clone)]
pub struct RoomPage {
    pub room: Room,
    pub my_role: RoomRole,
    pub members: Vec<Member>,
    pub orgs: Vec<crate::store::Org>,
    pub messages: Vec<Message>,
    /// Position to page back from, when older messages exist.
    pub older: Option<i64>,
    pub peer_name: Option<String>,
    /// The incident, for an incident room.
    pub incident: Option<crate::store::Incident>,
    /// Shelter reports among the messages shown (incident rooms).
    pub reports: Vec<crate::store::ShelterReport>,
    /// Photos among the messages shown (incident rooms).
    pub photos: Vec<crate::store::Photo>,
    /// The incident's open items (incident rooms).
    pub items: Vec<crate::store::Item>,
    /// Who is on duty per organisation (incident rooms).
    pub duty: Vec<crate::store::Duty>,
    /// Item and handoff events among the messages shown (incident rooms).
    pub events: Vec<crate::store::IncidentEvent>,
    /// Handoffs waiting for acknowledgement (incident rooms).
    pub waiting: Vec<crate::store::Handoff>,
    /// Named positions and their holders (incident rooms).
    pub positions: Vec<crate::store::Position>,
}

/// How a reconnecting stream resumes.
#[derive(Debug)]
pub enum Resume {
    /// Replay these entries, then follow live.
    Replay(Vec<Entry>),
    /// Too far behind: the client must reload its state.
    Resync,
}

impl App {
    /// A room the actor belongs to; the same 404 as a missing room otherwise.
    pub async fn room(&self, actor: &Actor, room: RoomId) -> AppResult<(Room, RoomRole)> {
        Ok(self.store.room_for_member(room, actor.user.id).await?)
    }

    pub async fn rooms(&self, actor: &Actor) -> AppResult<Vec<RoomSummary>> {
        Ok(self.store.rooms_for_user(actor.user.id).await?)
    }

    /// Ids of the rooms a user belongs to now.
    pub async fn room_ids(&self, user: UserId) -> AppResult<HashSet<RoomId>> {
        Ok(self
            .store
            .rooms_for_user(user)
            .await?
            .into_iter()
            .map(|r| r.room.id)
            .collect())
    }

    /// Users named by login, each of whom must exist and be active.
    async fn users_named(&self, logins: &str) -> AppResult<Vec<User>> {
        let wanted: Vec<String> = logins
            .split(|c: char| c == ',' || c.is_whitespace() || c == '、')
            .map(|s| s.trim().trim_start_matches('@').to_ascii_lowercase())
            .filter(|s| !s.is_empty())
            .collect();
        if wanted.len() > 500 {
            return Err(Invalid::new("invite", "err-too-many").into());
        }
        let found = self.store.users_by_logins(&wanted).await?;
        if let Some(missing) = wanted
            .iter()
            .find(|w| !found.iter().any(|u| &u.login == *w && u.active))
        {
            tracing::debug!(%missing, "unknown login");
            return Err(Invalid::new("invite", "err-unknown-login").into());
        }
        Ok(found)
    }

    pub async fn create_room(
        &self,
        actor: &Actor,
        name: &str,
        description: &str,
        invite: &str,
        key: IdemKey,
    ) -> AppResult<Written<RoomId>> {
        let name = RoomName::parse(name)?;
        let description = Description::parse(description)?;
        let invitees = self.users_named(invite).await?;
        let audit = self.audit_for(actor, "room.create", "");
        let idem = Idem {
            user_id: actor.user.id,
            key,
        };
        let w = self
            .store
            .create_room(
                NewRoom {
                    owner: actor.user.id,
                    name,
                    description,
                    invite: invitees.iter().map(|u| u.id).collect(),
                },
                idem,
                self.now(),
                audit,
            )
            .await?;
        self.live.ring();
        Ok(w)
    }

    /// The direct conversation with the user named `login`.
    pub async fn open_direct(&self, actor: &Actor, login: &str) -> AppResult<RoomId> {
        let other = self.users_named(login).await?;
        let Some(other) = other.into_iter().next() else {
            return Err(Invalid::new("login", "err-required").into());
        };
        if other.id == actor.user.id {
            return Err(Invalid::new("login", "err-dm-self").into());
        }
        let audit = self.audit_for(actor, "room.direct", format!("user:{}", other.id));
        let rid = self
            .store
            .open_direct(actor.user.id, other.id, self.now(), audit)
            .await?;
        self.live.ring();
        Ok(rid)
    }

    /// The room page: messages before `before` (or the newest), members by organisation.
    pub async fn room_page(
        &self,
        actor: &Actor,
        room: RoomId,
        before: Option<i64>,
    ) -> AppResult<RoomPage> {
        let (room, my_role) = self.room(actor, room).await?;
        let mut messages = self
            .store
            .messages_before(room.id, before, PAGE + 1)
            .await?;
        let older = if messages.len() as i64 > PAGE {
            messages.remove(0);
            messages.first().map(|m| m.pos)
        } else {
            None
        };
        let members = self.store.members(room.id).await?;
        let orgs = self.store.room_orgs(room.id).await?;
        let peer_name = (room.kind == RoomKind::Direct)
            .then(|| {
                members
                    .iter()
                    .find(|m| m.user_id != actor.user.id)
                    .map(|m| m.display_name.clone())
            })
            .flatten();
        let (items, duty, positions) = if room.kind == RoomKind::Incident {
            (
                self.store.items(room.id).await?,
                self.store.duty(room.id).await?,
                self.store.positions(room.id).await?,
            )
        } else {
            (Vec::new(), Vec::new(), Vec::new())
        };
        let (incident, reports, photos, events, waiting) = if room.kind == RoomKind::Incident {
            let from = if older.is_some() {
                messages.first().map(|m| m.pos).unwrap_or(0)
            } else {
                0
            };
            let to = before.unwrap_or(i64::MAX);
            (
                Some(self.store.incident(room.id).await?),
                self.store.reports_in_range(room.id, from, to, PAGE).await?,
                self.store.photos_in_range(room.id, from, to, PAGE).await?,
                self.store.events_in_range(room.id, from, to, PAGE).await?,
                self.waiting_handoffs(room.id).await?,
            )
        } else {
            (None, Vec::new(), Vec::new(), Vec::new(), Vec::new())
        };
        if let Some(last) = messages.last() {
            if before.is_none() {
                self.store
                    .mark_read(room.id, actor.user.id, last.pos, self.now())
                    .await?;
                self.live.ring();
            }
        }
        Ok(RoomPage {
            room,
            my_role,
            members,
            orgs,
            messages,
            older,
            peer_name,
            incident,
            reports,
            photos,
            items,
            duty,
            events,
            waiting,
            positions,
        })
    }

    /// Applies a membership or settings change; managers only, except leaving.
    pub async fn change_room(
        &self,
        actor: &Actor,
        room: RoomId,
        change: RoomChange,
    ) -> AppResult<()> {
        let (r, role) = self.room(actor, room).await?;
        let action = match &change {
            RoomChange::AddUsers(_) => "room.add_users",
            RoomChange::AddOrg(_) => "room.add_org",
            RoomChange::RemoveUser(u) if *u == actor.user.id => "room.leave",
            RoomChange::RemoveUser(_) => "room.remove_user",
            RoomChange::RemoveOrg(_) => "room.remove_org",
            RoomChange::SetRole(..) => "room.set_role",
            RoomChange::Rename(..) => "room.rename",
            RoomChange::Archive(_) => "room.archive",
        };
        let leaving = action == "room.leave";
        let direct = r.kind == RoomKind::Direct;
        let allowed = if leaving {
            r.kind != RoomKind::OrgInbox
        } else if direct {
            false
        } else if matches!(change, RoomChange::SetRole(..)) {
            role == RoomRole::Owner
        } else {
            role.can_manage()
        };
        if !allowed {
            return Err(self
                .refuse(actor, action, format!("room:{room}"), AppError::Forbidden)
                .await);
        }
        if r.archived
            && !matches!(
                change,
                RoomChange::Archive(false) | RoomChange::RemoveUser(_)
            )
        {
            return Err(self
                .refuse(
                    actor,
                    action,
                    format!("room:{room}"),
                    AppError::Conflict("err-room-archived"),
                )
                .await);
        }
        if let RoomChange::RemoveUser(u) = &change {
            // Owners are not removed by managers.
            if !leaving {
                let target = self.store.room_for_member(room, *u).await?.1;
                if target == RoomRole::Owner {
                    return Err(self
                        .refuse(actor, action, format!("room:{room}"), AppError::Forbidden)
                        .await);
                }
            }
        }
        let audit = self.audit_for(actor, action, format!("room:{room}"));
        self.store
            .change_room(room, actor.user.id, change, self.now(), audit)
            .await?;
        self.live.ring();
        Ok(())
    }

    /// Adds users named by login.
    pub async fn invite(&self, actor: &Actor, room: RoomId, logins: &str) -> AppResult<()> {
        self.room(actor, room).await?;
        let users = self.users_named(logins).await?;
        if users.is_empty() {
            return Err(Invalid::new("invite", "err-required").into());
        }
        self.change_room(
            actor,
            room,
            RoomChange::AddUsers(users.iter().map(|u| u.id).collect()),
        )
        .await
    }

    /// Adds an organisation named by short id or code.
    pub async fn add_org(&self, actor: &Actor, room: RoomId, org_ref: &str) -> AppResult<()> {
        self.room(actor, room).await?;
        let org = self
            .store
            .org_by_ref(org_ref)
            .await
            .map_err(|_| AppError::Invalid(Invalid::new("org", "err-org-unknown")))?;
        self.change_room(actor, room, RoomChange::AddOrg(org.id))
            .await
    }

    pub async fn post(
        &self,
        actor: &Actor,
        room: RoomId,
        body: &str,
        reply_to: Option<MessageId>,
        key: IdemKey,
    ) -> AppResult<Written<MessageId>> {
        self.post_asking(actor, room, body, reply_to, key, None)
            .await
    }

    /// Posts a message that may ask its readers to confirm (要確認).
    pub async fn post_asking(
        &self,
        actor: &Actor,
        room: RoomId,
        body: &str,
        reply_to: Option<MessageId>,
        key: IdemKey,
        ask: Option<&Ask>,
    ) -> AppResult<Written<MessageId>> {
        let confirm = match ask {
            Some(a) => {
                self.room(actor, room).await?;
                Some(self.confirm_spec(actor, room, a).await?)
            }
            None => None,
        };
        self.post_with(actor, room, body, reply_to, key, confirm)
            .await
    }

    /// Posts a message with its addressees already checked (see `confirm_spec`).
    pub(super) async fn post_with(
        &self,
        actor: &Actor,
        room: RoomId,
        body: &str,
        reply_to: Option<MessageId>,
        key: IdemKey,
        confirm: Option<crate::store::ConfirmSpec>,
    ) -> AppResult<Written<MessageId>> {
        let idem = Idem {
            user_id: actor.user.id,
            key,
        };
        let body = match MessageBody::parse(body) {
            Ok(b) => b,
            Err(e) => {
                // A non-member learns nothing, not even that the text was wrong.
                self.room(actor, room).await?;
                return Err(self
                    .refuse(actor, "message.post", format!("room:{room}"), e.into())
                    .await);
            }
        };
        let named = body.mentions();
        let mut mentions = Vec::new();
        if !named.is_empty() {
            for u in self.store.users_by_logins(&named).await? {
                if self.store.room_for_member(room, u.id).await.is_ok() {
                    mentions.push(u.id);
                }
            }
        }
        let audit = self.audit_for(actor, "message.post", "");
        // The store checks membership and archiving in the writing transaction.
        let w = match self
            .store
            .post_message(
                NewMessage {
                    room_id: room,
                    author_id: actor.user.id,
                    body,
                    reply_to,
                    mentions,
                    confirm,
                },
                idem,
                self.now(),
                audit,
            )
            .await
        {
            Ok(w) => w,
            Err(e) => {
                let err = AppError::from(e);
                if matches!(
                    err,
                    AppError::NotFound | AppError::Conflict(_) | AppError::BadRequest(_)
                ) {
                    return Err(self
                        .refuse(actor, "message.post", format!("room:{room}"), err)
                        .await);
                }
                return Err(err);
            }
        };
        if !w.replayed {
            self.live.ring();
        }
        Ok(w)
    }

    /// A message of a room the actor belongs to.
    pub async fn message(&self, actor: &Actor, room: RoomId, id: MessageId) -> AppResult<Message> {
        self.room(actor, room).await?;
        Ok(self.store.message(room, id).await?)
    }

    /// Where a message is shown in context: `None` when it is on the newest page, else the
    /// `before` position of the page that ends with it.
    pub async fn message_page(
        &self,
        actor: &Actor,
        room: RoomId,
        id: MessageId,
    ) -> AppResult<Option<i64>> {
        let m = self.message(actor, room, id).await?;
        let newest = self.store.messages_before(room, None, PAGE).await?;
        Ok(if newest.first().is_some_and(|f| f.pos <= m.pos) {
            None
        } else {
            Some(m.pos + 1)
        })
    }

    async fn own_message(
        &self,
        actor: &Actor,
        room: RoomId,
        id: MessageId,
        action: &str,
    ) -> AppResult<Message> {
        let (r, _) = self.room(actor, room).await?;
        let m = self.store.message(room, id).await?;
        if m.author_id != actor.user.id {
            return Err(self
                .refuse(actor, action, format!("message:{id}"), AppError::Forbidden)
                .await);
        }
        if m.deleted {
            return Err(AppError::Conflict("err-message-deleted"));
        }
        if r.archived {
            return Err(self
                .refuse(
                    actor,
                    action,
                    format!("message:{id}"),
                    AppError::Conflict("err-room-archived"),
                )
                .await);
        }
        Ok(m)
    }

    pub async fn edit(
        &self,
        actor: &Actor,
        room: RoomId,
        id: MessageId,
        body: &str,
    ) -> AppResult<()> {
        let body = MessageBody::parse(body)?;
        let m = self.own_message(actor, room, id, "message.edit").await?;
        if m.body == body.as_str() {
            return Ok(());
        }
        let audit = self.audit_for(actor, "message.edit", format!("message:{id}"));
        self.store.edit_message(id, body, self.now(), audit).await?;
        self.live.ring();
        Ok(())
    }

    pub async fn delete(&self, actor: &Actor, room: RoomId, id: MessageId) -> AppResult<()> {
        self.own_message(actor, room, id, "message.delete").await?;
        let audit = self.audit_for(actor, "message.delete", format!("message:{id}"));
        self.store.delete_message(id, self.now(), audit).await?;
        self.live.ring();
        Ok(())
    }

    /// Moves the actor's read position forward (never past what has been written).
    pub async fn mark_read(&self, actor: &Actor, room: RoomId, pos: i64) -> AppResult<()> {
        self.room(actor, room).await?;
        let pos = pos.min(self.live.head());
        self.store
            .mark_read(room, actor.user.id, pos, self.now())
            .await?;
        self.live.ring();
        Ok(())
    }

    /// Messages matching `q` in the actor's rooms, newest first.
    pub async fn search(&self, actor: &Actor, q: &str) -> AppResult<Vec<SearchHit>> {
        let folded = search_fold(q.trim());
        if folded.is_empty() {
            return Ok(Vec::new());
        }
        if folded.chars().count() > 200 {
            return Err(Invalid::new("q", "err-too-long").into());
        }
        Ok(self.store.search(actor.user.id, &folded, 50).await?)
    }

    pub async fn inbox(&self, actor: &Actor) -> AppResult<Vec<InboxItem>> {
        Ok(self.store.inbox(actor.user.id, 100).await?)
    }

    pub async fn inbox_unread(&self, user: UserId) -> AppResult<i64> {
        Ok(self.store.inbox_unread(user).await?)
    }

    pub async fn mark_inbox_read(&self, actor: &Actor, item: Option<InboxId>) -> AppResult<()> {
        self.store
            .mark_inbox_read(actor.user.id, item, self.now())
            .await?;
        self.live.ring();
        Ok(())
    }

    /// How a stream that last saw `after` resumes.
    pub async fn resume(&self, user: UserId, after: i64) -> AppResult<Resume> {
        let head = self.store.head().await?;
        if after > head {
            return Ok(Resume::Resync);
        }
        if after > 0 {
            match self.store.entry_time(after).await? {
                Some(at) if at >= self.now() - RESYNC_AGE_MS => {}
                _ => return Ok(Resume::Resync),
            }
        }
        if self
            .store
            .count_visible_after(user, after, RESYNC_ENTRIES + 1)
            .await?
            > RESYNC_ENTRIES
        {
            return Ok(Resume::Resync);
        }
        Ok(Resume::Replay(
            self.store
                .visible_entries_after(user, after, RESYNC_ENTRIES + 1)
                .await?,
        ))
    }
}
