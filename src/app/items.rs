//! Open items of an incident: anyone in it adds, assigns, closes or drops them (with a reason).

use super::*;
use crate::store::{ConfirmTarget, Duty, Item, ItemChange, NewItem, Written};

/// A new item as typed (checked here).
#[derive(Debug, Clone, Default)]
pub struct ItemInput {
    pub title: String,
    pub details: String,
    pub assignee: Option<ConfirmTarget>,
    pub due_at: Option<Millis>,
    /// The message it is made from ("make this an item").
    pub message: Option<MessageId>,
}

/// A change as typed: `None` leaves a field alone.
#[derive(Debug, Clone, Default)]
pub struct ItemEdit {
    pub title: Option<String>,
    pub details: Option<String>,
    pub assignee: Option<Option<ConfirmTarget>>,
    pub due_at: Option<Option<Millis>>,
    pub status: Option<ItemStatus>,
    pub reason: Option<String>,
}

impl App {
    /// Checks that an assignee is in the incident: a member, or an organisation with members.
    async fn check_assignee(&self, incident: RoomId, a: Option<ConfirmTarget>) -> AppResult<()> {
        let Some(a) = a else { return Ok(()) };
        let members = self.store.members(incident).await?;
        let ok = match a {
            ConfirmTarget::Org(o) => members.iter().any(|m| m.org_id == o),
            ConfirmTarget::User(u) => members.iter().any(|m| m.user_id == u),
        };
        if ok {
            Ok(())
        } else {
            Err(Invalid::new("assignee", "err-item-assignee").into())
        }
    }

    /// Who is on duty in an incident, per organisation.
    pub async fn duty(&self, actor: &Actor, incident: RoomId) -> AppResult<Vec<Duty>> {
        self.incident(actor, incident).await?;
        Ok(self.store.duty(incident).await?)
    }

    /// Takes duty for the actor's organisation when nobody holds it (taking it again is a
    /// no-op); while someone else holds it, only a handoff moves it (409).
    pub async fn take_duty(&self, actor: &Actor, incident: RoomId) -> AppResult<Vec<Duty>> {
        self.writable_incident(actor, incident, "duty.take", Access::is_member)
            .await?;
        let audit = self.audit_for(actor, "duty.take", format!("room:{incident}"));
        let took = self
            .store
            .take_duty(
                incident,
                actor.user.org_id,
                actor.user.id,
                self.now(),
                audit,
            )
            .await?;
        let duty = self.store.duty(incident).await?;
        if took {
            self.live.ring();
        } else if duty
            .iter()
            .any(|d| d.org_id == actor.user.org_id && d.user_id != actor.user.id)
        {
            return Err(AppError::Conflict("err-duty-held"));
        }
        Ok(duty)
    }

    /// An incident's items (its members and the deployment admin).
    pub async fn items(&self, actor: &Actor, incident: RoomId) -> AppResult<Vec<Item>> {
        self.incident(actor, incident).await?;
        Ok(self.store.items(incident).await?)
    }

    /// One item of an incident.
    pub async fn item(&self, actor: &Actor, incident: RoomId, id: ItemId) -> AppResult<Item> {
        Ok(self.item_in(actor, incident, id).await?.0)
    }

    /// One item of an incident, with the incident.
    pub(super) async fn item_in(
        &self,
        actor: &Actor,
        incident: RoomId,
        id: ItemId,
    ) -> AppResult<(Item, crate::store::Incident)> {
        let (inc, _) = self.incident(actor, incident).await?;
        match self.store.item(id).await? {
            i if i.incident == incident => Ok((i, inc)),
            _ => Err(AppError::NotFound),
        }
    }

    /// Adds an open item to an incident the actor is in.
    pub async fn create_item(
        &self,
        actor: &Actor,
        incident: RoomId,
        input: ItemInput,
        key: IdemKey,
    ) -> AppResult<Written<ItemId>> {
        self.writable_incident(actor, incident, "item.create", Access::is_member)
            .await?;
        let title = ItemTitle::parse(&input.title)?;
        let details = ItemText::parse(&input.details, "details")?;
        self.check_assignee(incident, input.assignee).await?;
        if let Some(m) = input.message {
            // Only a message of this incident's room.
            self.store.message(incident, m).await?;
        }
        let audit = self.audit_for(actor, "item.create", format!("room:{incident}"));
        let w = self
            .store
            .create_item(
                NewItem {
                    incident,
                    title,
                    details,
                    assignee: input.assignee,
                    due_at: input.due_at,
                    message: input.message,
                    by: actor.user.id,
                },
                crate::store::Idem {
                    user_id: actor.user.id,
                    key,
                },
                self.now(),
                audit,
            )
            .await?;
        if !w.replayed {
            self.live.ring();
        }
        Ok(w)
    }

    /// Changes an item: its text, assignee, due time or status (dropping needs a reason).
    pub async fn change_item(
        &self,
        actor: &Actor,
        incident: RoomId,
        id: ItemId,
        edit: ItemEdit,
    ) -> AppResult<Item> {
        self.writable_incident(actor, incident, "item.change", Access::is_member)
            .await?;
        self.item(actor, incident, id).await?;
        let mut change = ItemChange {
            title: edit.title.as_deref().map(ItemTitle::parse).transpose()?,
            details: edit
                .details
                .as_deref()
                .map(|d| ItemText::parse(d, "details"))
                .transpose()?,
            assignee: edit.assignee,
            due_at: edit.due_at,
            status: None,
        };
        if let Some(a) = edit.assignee {
            self.check_assignee(incident, a).await?;
        }
        if let Some(status) = edit.status {
            let reason = ItemText::parse(edit.reason.as_deref().unwrap_or(""), "reason")?;
            if status == ItemStatus::Dropped && reason.as_str().is_empty() {
                return Err(Invalid::new("reason", "err-item-reason").into());
            }
            change.status = Some((status, reason));
        }
        let audit = self.audit_for(actor, "item.change", format!("item:{id}"));
        self.store
            .change_item(id, change, actor.user.id, self.now(), audit)
            .await?;
        self.live.ring();
        self.item(actor, incident, id).await
    }
}
