//! Open items of an incident: tasks and things to watch, carried from shift to shift.

use super::*;
use crate::store::confirm::ConfirmTarget;

/// A new open item (validated by the use case: the assignee is in the incident).
#[derive(Debug, Clone)]
pub struct NewItem {
    pub incident: RoomId,
    pub title: ItemTitle,
    pub details: ItemText,
    pub assignee: Option<ConfirmTarget>,
    pub due_at: Option<Millis>,
    /// The message it was made from.
    pub message: Option<MessageId>,
    pub by: UserId,
}

/// What changes on an item; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ItemChange {
    pub title: Option<ItemTitle>,
    pub details: Option<ItemText>,
    /// `Some(None)` clears the assignee.
    pub assignee: Option<Option<ConfirmTarget>>,
    pub due_at: Option<Option<Millis>>,
    /// A new status with its reason (required when dropping).
    pub status: Option<(ItemStatus, ItemText)>,
}

/// An open item as shown.
#[derive(Debug, Clone)]
pub struct Item {
    pub id: ItemId,
    pub incident: RoomId,
    pub title: String,
    pub details: String,
    pub assignee: Option<ConfirmTarget>,
    /// The assignee's name (organisation or person).
    pub assignee_name: Option<String>,
    pub due_at: Option<Millis>,
    pub status: ItemStatus,
    pub reason: String,
    pub message: Option<MessageId>,
    pub created_by_name: String,
    pub created_at: Millis,
    pub updated_by_name: String,
    pub updated_at: Millis,
}

/// Who is on duty for an organisation in an incident.
#[derive(Debug, Clone)]
pub struct Duty {
    pub org_id: OrgId,
    pub org_name: String,
    pub user_id: UserId,
    pub user_name: String,
    pub since: Millis,
}

/// Open items and duty.
#[async_trait]
pub trait ItemStore {
    /// Who is on duty in an incident, by organisation name.
    async fn duty(&self, incident: RoomId) -> StoreResult<Vec<Duty>>;
    /// Makes `user` the one on duty for `org` unless someone already is; returns whether they
    /// took it. Writes a `duty` entry when they did.
    async fn take_duty(
        &self,
        incident: RoomId,
        org: OrgId,
        user: UserId,
        now: Millis,
        audit: AuditRecord,
    ) -> StoreResult<bool>;
    /// Adds an item, with an `item` entry in the incident's timeline.
    async fn create_item(
        &self,
        item: NewItem,
        idem: Idem,
        now: Millis,
        audit: AuditRecord,
    ) -> StoreResult<Written<ItemId>>;
    async fn item(&self, id: ItemId) -> StoreResult<Item>;
    /// An incident's items: open ones first (by due time), then the rest, newest first.
    async fn items(&self, incident: RoomId) -> StoreResult<Vec<Item>>;
    /// Changes an item, with an `item` entry in the incident's timeline.
    async fn change_item(
        &self,
        id: ItemId,
        change: ItemChange,
        by: UserId,
        now: Millis,
        audit: AuditRecord,
    ) -> StoreResult<()>;
}
