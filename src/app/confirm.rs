//! 要確認: messages that ask organisations or people to confirm, confirming (by button or by
//! replying), and the matrix the sender and the room's managers follow.

use super::*;
use crate::store::{ConfirmRequest, ConfirmSpec, ConfirmTarget, Member};

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
    pub fn new(request: ConfirmRequest, now: Millis) -> Self {
        let confirmed = request
            .rows
            .iter()
            .filter(|r| r.confirmed_at.is_some())
            .count();
        let overdue = request
            .rows
            .iter()
            .filter(|r| r.confirmed_at.is_none() && request.due_at.is_some_and(|d| now > d))
            .count();
        Self {
            request,
            confirmed,
            overdue,
            now,
        }
    }

    /// Addressees not confirmed yet (for the phone calls that remain).
    pub fn pending(&self) -> impl Iterator<Item = &crate::store::ConfirmRow> {
        self.request
            .rows
            .iter()
            .filter(|r| r.confirmed_at.is_none())
    }
    /// Whether an unconfirmed addressee is past the due time.
    pub fn is_overdue(&self, row: &crate::store::ConfirmRow) -> bool {
        row.confirmed_at.is_none() && self.request.due_at.is_some_and(|d| self.now > d)
    }
}

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
            broadcast: None,
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
