//! 要確認: messages that ask organisations or people to confirm, confirming (by button or by
//! replying), and the matrix the sender and the room's managers follow.

use super::*;
use crate::store::{
    BroadcastSummary, ConfirmRequest, ConfirmRow, ConfirmSpec, ConfirmTarget, Member, Written,
};

/// What a poster asks of a message's readers.
#[derive(Debug, Clone, Default)]
pub struct Ask {
    /// Every organisation with members in the room (besides the poster's own).
    pub all_orgs: bool,
    /// Organisations by id.
    pub orgs: Vec<OrgId>,
    /// People by id.
    pub users: Vec<UserId>,
    pub due_at: Option<Millis>,
    /// Set on the copies of one broadcast.
    pub broadcast: Option<BroadcastId>,
}

/// A message for many rooms at once: organisations' 受信窓口 rooms and rooms by id.
#[derive(Debug, Clone, Default)]
pub struct Broadcast {
    pub body: String,
    pub orgs: Vec<OrgId>,
    pub rooms: Vec<RoomId>,
    /// Ask every addressed organisation (in a room: every other organisation) to confirm.
    pub confirm: bool,
    pub due_at: Option<Millis>,
}

/// What a broadcast posted: its id and each copy.
#[derive(Debug, Clone)]
pub struct Broadcasted {
    pub id: BroadcastId,
    pub copies: Vec<(RoomId, MessageId)>,
    pub replayed: bool,
}

/// Who has read a message: counts for every member, names for its sender.
#[derive(Debug, Clone)]
pub struct Reads {
    pub message: crate::store::Message,
    pub read: usize,
    /// Members besides the author.
    pub members: usize,
    /// `(member, has read)`, for the sender only.
    pub who: Option<Vec<(Member, bool)>>,
}

/// A request's matrix as the sender sees it, with counts.
#[derive(Debug, Clone)]
pub struct Matrix {
    pub request: ConfirmRequest,
    pub confirmed: usize,
    pub overdue: usize,
    pub now: Millis,
}

impl Matrix {
    /// Counts what `request` holds at `now`.
    /// Rows come overdue first, then not yet, then confirmed (the ones to chase on top).
    pub fn new(mut request: ConfirmRequest, now: Millis) -> Self {
        let rank = |r: &ConfirmRow| match (r.confirmed_at, r.due_at) {
            (Some(_), _) => 2,
            (None, Some(d)) if now > d => 0,
            (None, _) => 1,
        };
        request.rows.sort_by_key(rank);
        let confirmed = request
            .rows
            .iter()
            .filter(|r| r.confirmed_at.is_some())
            .count();
        let overdue = request
            .rows
            .iter()
            .filter(|r| r.confirmed_at.is_none() && r.due_at.is_some_and(|d| now > d))
            .count();
        Self {
            request,
            confirmed,
            overdue,
            now,
        }
    }

    /// Addressees not confirmed yet (for the phone calls that remain).
    pub fn pending(&self) -> impl Iterator<Item = &ConfirmRow> {
        self.request
            .rows
            .iter()
            .filter(|r| r.confirmed_at.is_none())
    }
    /// Whether an unconfirmed addressee is past the due time.
    pub fn is_overdue(&self, row: &ConfirmRow) -> bool {
        row.confirmed_at.is_none() && row.due_at.is_some_and(|d| self.now > d)
    }

    /// `confirmed`, `overdue` or `pending`.
    pub fn state(&self, row: &ConfirmRow) -> &'static str {
        if row.confirmed_at.is_some() {
            "confirmed"
        } else if self.is_overdue(row) {
            "overdue"
        } else {
            "pending"
        }
    }

    /// The due time, when every row has the same one.
    pub fn due(&self) -> Option<Millis> {
        let first = self.request.rows.first().and_then(|r| r.due_at);
        self.request
            .rows
            .iter()
            .all(|r| r.due_at == first)
            .then_some(first)
            .flatten()
    }

    /// Whether the rows come from several rooms (a broadcast).
    pub fn many_rooms(&self) -> bool {
        self.request
            .rows
            .iter()
            .any(|r| r.room_id != self.request.room_id)
    }

    /// The messages (copies) the matrix covers.
    pub fn messages(&self) -> Vec<MessageId> {
        let mut out: Vec<MessageId> = self.request.rows.iter().map(|r| r.message_id).collect();
        out.push(self.request.message_id);
        out.sort();
        out.dedup();
        out
    }
}

/// A request's addressees are reminded at most once in this many milliseconds (10 minutes).
const REMIND_QUIET_MS: i64 = 10 * 60 * 1000;

/// Most broadcasts listed on the broadcast page.
const BROADCASTS_LISTED: i64 = 30;

impl App {
    /// Turns what the poster asked into addressees, checked against the room's members.
    pub(super) async fn confirm_spec(
        &self,
        actor: &Actor,
        room: RoomId,
        ask: &Ask,
    ) -> AppResult<ConfirmSpec> {
        let members: Vec<Member> = self.store.members(room).await?;
        let mut targets = Vec::new();
        if ask.all_orgs {
            for m in &members {
                let t = ConfirmTarget::Org(m.org_id);
                if m.org_id != actor.user.org_id && !targets.contains(&t) {
                    targets.push(t);
                }
            }
        }
        for o in &ask.orgs {
            if !members.iter().any(|m| m.org_id == *o) {
                return Err(Invalid::new("confirm_orgs", "err-confirm-target").into());
            }
            let t = ConfirmTarget::Org(*o);
            if !targets.contains(&t) {
                targets.push(t);
            }
        }
        for u in &ask.users {
            if !members.iter().any(|m| m.user_id == *u) || *u == actor.user.id {
                return Err(Invalid::new("confirm_users", "err-confirm-target").into());
            }
            let t = ConfirmTarget::User(*u);
            if !targets.contains(&t) {
                targets.push(t);
            }
        }
        if targets.is_empty() {
            return Err(Invalid::new("confirm_orgs", "err-confirm-nobody").into());
        }
        if ask.due_at.is_some_and(|d| d <= self.now()) {
            return Err(Invalid::new("due_at", "err-confirm-due-past").into());
        }
        Ok(ConfirmSpec {
            targets,
            due_at: ask.due_at,
            broadcast: ask.broadcast,
        })
    }

    /// The request of a message in a room the actor belongs to.
    async fn request_in(
        &self,
        actor: &Actor,
        room: RoomId,
        message: MessageId,
    ) -> AppResult<(ConfirmRequest, RoomRole)> {
        let (_, role) = self.room(actor, room).await?;
        match self.store.confirm_request(message).await? {
            Some(r) if r.room_id == room => Ok((r, role)),
            _ => {
                // No such message here is a 404; a message that asked nothing, a 409.
                self.store.message(room, message).await?;
                Err(AppError::Conflict("err-confirm-nothing"))
            }
        }
    }

    /// Confirms a request for the actor and their organisation, where asked. Confirming again
    /// changes nothing. Answers with the actor's own rows (the first confirmation of each).
    pub async fn confirm(
        &self,
        actor: &Actor,
        room: RoomId,
        message: MessageId,
    ) -> AppResult<Matrix> {
        let (request, _) = self.request_in(actor, room, message).await?;
        let mine: Vec<ConfirmTarget> = request
            .rows
            .iter()
            .map(|r| r.target)
            .filter(|t| {
                *t == ConfirmTarget::User(actor.user.id)
                    || *t == ConfirmTarget::Org(actor.user.org_id)
            })
            .collect();
        if mine.is_empty() {
            return Err(self
                .refuse(
                    actor,
                    "message.confirm",
                    format!("message:{message}"),
                    AppError::Forbidden,
                )
                .await);
        }
        let n = self
            .store
            .confirm(message, &mine, actor.user.id, self.now())
            .await?;
        if n > 0 {
            self.live.ring();
        }
        let mut request = self
            .store
            .confirm_request(message)
            .await?
            .ok_or(AppError::NotFound)?;
        request.rows.retain(|r| mine.contains(&r.target));
        Ok(Matrix::new(request, self.now()))
    }

    /// Reminds everyone not confirmed yet (inbox, and e-mail where a relay is configured): for
    /// the sender and the room's managers. Answers how many people were reminded.
    pub async fn remind(
        &self,
        actor: &Actor,
        room: RoomId,
        message: MessageId,
    ) -> AppResult<usize> {
        let m = self.confirm_matrix(actor, room, message).await?;
        self.send_reminders(actor, &m, format!("message:{message}"))
            .await
    }

    /// Reminds everyone not confirmed yet in every copy of a broadcast (for those who may
    /// follow it: see `broadcast_matrix`).
    pub async fn remind_broadcast(&self, actor: &Actor, id: BroadcastId) -> AppResult<usize> {
        let m = self.broadcast_matrix(actor, id).await?;
        self.send_reminders(actor, &m, format!("broadcast:{id}"))
            .await
    }

    async fn send_reminders(&self, actor: &Actor, m: &Matrix, object: String) -> AppResult<usize> {
        let pending: Vec<MessageId> = {
            let mut v: Vec<MessageId> = m.pending().map(|r| r.message_id).collect();
            v.sort();
            v.dedup();
            v
        };
        if pending.is_empty() {
            return Err(AppError::Conflict("err-confirm-all-done"));
        }
        let audit = self.audit_for(actor, "confirm.remind", object);
        let now = self.now();
        let n = self
            .store
            .remind(&pending, actor.user.id, now, now - REMIND_QUIET_MS, audit)
            .await
            .map_err(|e| match e {
                crate::store::StoreError::Conflict(_) => {
                    AppError::Conflict("err-confirm-reminded-recently")
                }
                e => e.into(),
            })?;
        self.live.ring();
        Ok(n)
    }

    /// All copies of a broadcast as one matrix: for its sender and the administrators of the
    /// sender's organisation (whoever takes over the shift follows it up).
    pub async fn broadcast_matrix(&self, actor: &Actor, id: BroadcastId) -> AppResult<Matrix> {
        let request = self.store.broadcast_request(id).await?;
        match request {
            Some(r) if self.follows_broadcast(actor, r.requester_id).await? => {
                Ok(Matrix::new(r, self.now()))
            }
            // Someone else's broadcast is as unknown as none.
            _ => Err(AppError::NotFound),
        }
    }

    /// A broadcast's matrix and its message (as posted in its first copy; every copy has the
    /// same text), for those who may follow it, whether or not they are in that copy's room.
    pub async fn broadcast_view(
        &self,
        actor: &Actor,
        id: BroadcastId,
    ) -> AppResult<(Matrix, crate::store::Message)> {
        let m = self.broadcast_matrix(actor, id).await?;
        let message = self
            .store
            .message(m.request.room_id, m.request.message_id)
            .await?;
        Ok((m, message))
    }

    /// Broadcasts that asked to confirm which the actor may follow, newest first: an
    /// administrator sees every one of their organisation, anyone else their own.
    pub async fn broadcasts(&self, actor: &Actor) -> AppResult<Vec<BroadcastSummary>> {
        let sender = (actor.user.role < Role::OrgAdmin).then_some(actor.user.id);
        Ok(self
            .store
            .broadcasts(actor.user.org_id, sender, BROADCASTS_LISTED)
            .await?)
    }

    /// Whether the actor may follow a broadcast sent by `sender`: the sender, and the
    /// administrators of the sender's organisation.
    async fn follows_broadcast(&self, actor: &Actor, sender: UserId) -> AppResult<bool> {
        if sender == actor.user.id {
            return Ok(true);
        }
        if actor.user.role < Role::OrgAdmin {
            return Ok(false);
        }
        Ok(self.store.user(sender).await?.org_id == actor.user.org_id)
    }

    /// Posts one message to many rooms: an organisation's copy lands in its 受信窓口 room
    /// (members of the deployment's organisation belong to every one), a room's only if the
    /// actor is a member. Everything is checked before anything is posted; retrying with the
    /// same key posts nothing twice (each copy's key derives from it).
    pub async fn broadcast(
        &self,
        actor: &Actor,
        b: &Broadcast,
        key: IdemKey,
    ) -> AppResult<Broadcasted> {
        if b.orgs.is_empty() && b.rooms.is_empty() {
            return Err(Invalid::new("orgs", "err-broadcast-nowhere").into());
        }
        if let Err(e) = MessageBody::parse(&b.body) {
            return Err(e.into());
        }
        if b.due_at.is_some_and(|d| d <= self.now()) {
            return Err(Invalid::new("due_at", "err-confirm-due-past").into());
        }
        let digest = Sha256::digest(format!("{}:{}", actor.user.id, key.as_str()));
        let mut raw = [0u8; 16];
        raw.copy_from_slice(&digest[..16]);
        let id = BroadcastId(uuid::Uuid::from_bytes(raw));
        // Where each copy goes, and whom it asks.
        let mut plan: Vec<(RoomId, Ask)> = Vec::new();
        for o in &b.orgs {
            let org = match self.store.org(*o).await {
                Ok(org) => org,
                Err(crate::store::StoreError::NotFound) => {
                    return Err(Invalid::new("orgs", "err-broadcast-org").into());
                }
                Err(e) => return Err(e.into()),
            };
            let Some(room) = org.inbox_room_id else {
                return Err(Invalid::new("orgs", "err-broadcast-org").into());
            };
            if self.room(actor, room).await.is_err() {
                return Err(self
                    .refuse(
                        actor,
                        "broadcast",
                        format!("org:{o}"),
                        Invalid::new("orgs", "err-broadcast-org").into(),
                    )
                    .await);
            }
            if plan.iter().all(|(r, _)| *r != room) {
                let ask = Ask {
                    orgs: if *o == actor.user.org_id {
                        Vec::new()
                    } else {
                        vec![*o]
                    },
                    all_orgs: *o == actor.user.org_id,
                    ..Ask::default()
                };
                plan.push((room, ask));
            }
        }
        for room in &b.rooms {
            match self.room(actor, *room).await {
                Ok((r, _)) if !r.archived => {}
                _ => {
                    return Err(self
                        .refuse(
                            actor,
                            "broadcast",
                            format!("room:{room}"),
                            Invalid::new("rooms", "err-broadcast-room").into(),
                        )
                        .await);
                }
            }
            if plan.iter().all(|(r, _)| r != room) {
                plan.push((
                    *room,
                    Ask {
                        all_orgs: true,
                        ..Ask::default()
                    },
                ));
            }
        }
        // With confirmation asked, each copy must have someone to ask: check them all first.
        let mut specs = Vec::with_capacity(plan.len());
        for (room, ask) in plan.iter_mut() {
            specs.push(if b.confirm {
                ask.due_at = b.due_at;
                ask.broadcast = Some(id);
                Some(self.confirm_spec(actor, *room, ask).await?)
            } else {
                None
            });
        }
        let short = hex::encode(&digest[..12]);
        let mut copies = Vec::with_capacity(plan.len());
        let mut replayed = true;
        for ((room, _), spec) in plan.iter().zip(specs) {
            let copy_key = IdemKey::parse(&format!("bc:{short}:{room}"))?;
            let Written { value, replayed: r } = self
                .post_with(actor, *room, &b.body, None, copy_key, spec)
                .await?;
            replayed &= r;
            copies.push((*room, value));
        }
        Ok(Broadcasted {
            id,
            copies,
            replayed,
        })
    }

    /// Where the actor may broadcast: organisations whose 受信窓口 room they belong to, and
    /// their group and incident rooms that are not archived.
    pub async fn broadcast_targets(
        &self,
        actor: &Actor,
    ) -> AppResult<(Vec<crate::store::Org>, Vec<crate::store::RoomSummary>)> {
        let rooms = self.store.rooms_for_user(actor.user.id).await?;
        let orgs = self
            .store
            .list_orgs()
            .await?
            .into_iter()
            .filter(|o| {
                o.inbox_room_id
                    .is_some_and(|r| rooms.iter().any(|x| x.room.id == r))
            })
            .collect();
        let rooms = rooms
            .into_iter()
            .filter(|r| {
                !r.room.archived && matches!(r.room.kind, RoomKind::Group | RoomKind::Incident)
            })
            .collect();
        Ok((orgs, rooms))
    }

    /// How many members have read a message (besides its author); who, for its sender.
    pub async fn reads(&self, actor: &Actor, room: RoomId, message: MessageId) -> AppResult<Reads> {
        self.room(actor, room).await?;
        let m = self.store.message(room, message).await?;
        let members: Vec<Member> = self
            .store
            .members(room)
            .await?
            .into_iter()
            .filter(|x| x.user_id != m.author_id)
            .collect();
        let read = members.iter().filter(|x| x.last_read_pos >= m.pos).count();
        let total = members.len();
        let who = (m.author_id == actor.user.id).then(|| {
            members
                .into_iter()
                .map(|x| {
                    let r = x.last_read_pos >= m.pos;
                    (x, r)
                })
                .collect()
        });
        Ok(Reads {
            message: m,
            read,
            members: total,
            who,
        })
    }

    /// The matrix of a request: for its sender and the room's managers.
    pub async fn confirm_matrix(
        &self,
        actor: &Actor,
        room: RoomId,
        message: MessageId,
    ) -> AppResult<Matrix> {
        let (request, role) = self.request_in(actor, room, message).await?;
        if request.requester_id != actor.user.id && role < RoomRole::Manager {
            return Err(AppError::Forbidden);
        }
        Ok(Matrix::new(request, self.now()))
    }
}
