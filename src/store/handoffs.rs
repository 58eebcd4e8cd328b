//! Shift handoffs: drafted from the shift's timeline, acknowledged item by item by the incoming
//! person; and the incident events (item and handoff changes) the timeline and histories show.

use super::*;
use serde::Deserialize;

/// What a handoff tells beyond its items, as drafted when it was handed over.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct DraftFacts {
    /// Shelters reported during the shift, with their newest status.
    pub shelters_changed: Vec<ShelterFact>,
    /// Open shelters whose newest report is older than the stale limit.
    pub shelters_stale: Vec<ShelterFact>,
    /// 要確認 requests of the incident room still waiting for someone.
    pub unconfirmed: Vec<AskFact>,
    /// Photos uploaded during the shift.
    pub photos_new: i64,
    /// Items done or dropped during the shift.
    pub items_closed: Vec<ClosedFact>,
}

/// A shelter as a handoff mentions it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ShelterFact {
    pub shelter_id: ShelterId,
    pub name: String,
    pub org_name: String,
    pub status: ShelterStatus,
    pub evacuees: Option<i64>,
    pub observed_at: Millis,
}

/// A 要確認 request still waiting, as a handoff mentions it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AskFact {
    pub message_id: MessageId,
    pub excerpt: String,
    pub pending: i64,
    pub total: i64,
    pub due_at: Option<Millis>,
}

/// An item closed during the shift.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ClosedFact {
    pub item_id: ItemId,
    pub title: String,
    pub status: ItemStatus,
    pub reason: String,
}

/// A new handoff (checked by the use case: the incoming person is in the incident and the
/// organisation, the outgoing one holds duty or nobody does).
#[derive(Debug, Clone)]
pub struct NewHandoff {
    pub incident: RoomId,
    pub org: OrgId,
    /// The named position handed over, instead of the organisation's duty.
    pub position: Option<PositionId>,
    pub from: UserId,
    pub to: UserId,
    pub summary: ItemText,
    pub risks: ItemText,
    pub notes: ItemText,
    pub facts: DraftFacts,
    pub period_from: Millis,
    /// The open items carried, with how each came to the handoff.
    pub items: Vec<(ItemId, String, CarriedAs)>,
}

/// What the outgoing person may change before it is acknowledged; `None` keeps a field.
#[derive(Debug, Clone, Default)]
pub struct HandoffEdit {
    /// Another incoming person (checked by the use case), who is notified.
    pub to: Option<UserId>,
    pub summary: Option<ItemText>,
    pub risks: Option<ItemText>,
    pub notes: Option<ItemText>,
}

/// One carried item of a handoff.
#[derive(Debug, Clone)]
pub struct HandoffItem {
    pub item_id: ItemId,
    /// Its title when handed over.
    pub title: String,
    pub change: CarriedAs,
    /// Where the item stands now.
    pub status: ItemStatus,
    pub acknowledged_at: Option<Millis>,
    pub question: Option<String>,
    pub asked_at: Option<Millis>,
    pub answer: Option<String>,
    pub answered_at: Option<Millis>,
}

/// A handoff as shown; `items` is filled only when one handoff is read.
#[derive(Debug, Clone)]
pub struct Handoff {
    pub id: HandoffId,
    pub incident: RoomId,
    pub incident_name: String,
    pub org_id: OrgId,
    pub org_name: String,
    /// The named position handed over (else the organisation's duty).
    pub position_id: Option<PositionId>,
    pub position_name: Option<String>,
    pub from_user: UserId,
    pub from_name: String,
    pub to_user: UserId,
    pub to_name: String,
    pub summary: String,
    pub risks: String,
    pub notes: String,
    pub facts: DraftFacts,
    pub period_from: Millis,
    pub items_carried: i64,
    pub items_added: i64,
    pub items_closed: i64,
    /// How many of its items were asked about.
    pub questions: i64,
    /// How many of its items are acknowledged.
    pub items_acknowledged: i64,
    pub version: i64,
    pub created_at: Millis,
    pub updated_at: Millis,
    pub acknowledged_at: Option<Millis>,
    pub escalated_at: Option<Millis>,
    pub items: Vec<HandoffItem>,
}

impl Handoff {
    /// Whether it still waits for the incoming person.
    pub fn is_waiting(&self) -> bool {
        self.acknowledged_at.is_none()
    }

    /// Every item it carries (carried over, changed and new).
    pub fn items_total(&self) -> i64 {
        self.items_carried + self.items_added
    }

    /// Milliseconds from handing over to acknowledgement (or to `now` while waiting).
    pub fn waited(&self, now: Millis) -> Millis {
        self.acknowledged_at.unwrap_or(now).max(self.created_at) - self.created_at
    }
}

/// A named position of an incident and who holds it.
#[derive(Debug, Clone)]
pub struct Position {
    pub id: PositionId,
    pub incident: RoomId,
    pub name: String,
    pub holder_id: Option<UserId>,
    pub holder_name: Option<String>,
    pub since: Option<Millis>,
}

/// Which handoffs to list.
#[derive(Debug, Clone, Default)]
pub struct HandoffFilter {
    /// One incident's.
    pub incident: Option<RoomId>,
    /// Only those in incidents this user is a member of.
    pub member: Option<UserId>,
    /// Only those of incidents not closed.
    pub active: bool,
    /// Only those waiting for acknowledgement.
    pub waiting: bool,
    /// Only those handed to this user.
    pub to_user: Option<UserId>,
    pub limit: i64,
}

/// What the incoming or outgoing person does on one item of a handoff.
#[derive(Debug, Clone)]
pub enum ItemAct {
    /// The incoming person accepts it.
    Acknowledge,
    /// The incoming person asks about it (replacing an earlier question and its answer).
    Ask(ItemText),
    /// The outgoing person answers the question.
    Answer(ItemText),
}

/// Why completing a handoff was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompleteRefusal {
    AlreadyAcknowledged,
    /// It was edited or answered since the incoming person read it.
    Changed,
    ItemsLeft,
}

/// An item or handoff change in an incident's timeline.
#[derive(Debug, Clone, Serialize)]
pub struct IncidentEvent {
    pub pos: i64,
    pub incident: RoomId,
    pub kind: EventKind,
    /// The item's or handoff's id.
    pub ref_id: String,
    pub title: String,
    pub detail: String,
    pub user_name: Option<String>,
    pub at: Millis,
}

/// A shift that held an item: the handoff that carried it.
#[derive(Debug, Clone)]
pub struct ItemShift {
    pub handoff: HandoffId,
    pub from_name: String,
    pub to_name: String,
    pub change: CarriedAs,
    pub handed_at: Millis,
    pub acknowledged_at: Option<Millis>,
}

/// Handoffs and incident events.
#[async_trait]
pub trait HandoffStore {
    /// When the last completed handoff of an organisation's duty (or of a position) in an
    /// incident was acknowledged.
    async fn last_handoff_at(
        &self,
        incident: RoomId,
        org: OrgId,
        position: Option<PositionId>,
    ) -> StoreResult<Option<Millis>>;
    /// An incident's named positions, by name.
    async fn positions(&self, incident: RoomId) -> StoreResult<Vec<Position>>;
    async fn position(&self, id: PositionId) -> StoreResult<Position>;
    /// Defines a named position; `Conflict("name")` when the incident has one of that name.
    async fn create_position(
        &self,
        incident: RoomId,
        name: PositionName,
        by: UserId,
        now: Millis,
        audit: AuditRecord,
    ) -> StoreResult<PositionId>;
    /// Makes `user` the holder of a vacant position; whether they took it.
    async fn take_position(
        &self,
        id: PositionId,
        user: UserId,
        now: Millis,
        audit: AuditRecord,
    ) -> StoreResult<bool>;
    /// 要確認 requests of a room that someone has not confirmed yet, oldest first.
    async fn unconfirmed_asks(&self, room: RoomId) -> StoreResult<Vec<AskFact>>;
    /// How many photos (not withdrawn) were uploaded to an incident from `since` on.
    async fn photos_since(&self, incident: RoomId, since: Millis) -> StoreResult<i64>;
    /// Stores a handoff with its items, a timeline entry and the incoming person's inbox item.
    /// `Conflict("handoff")` while another one of the organisation waits.
    async fn create_handoff(
        &self,
        h: NewHandoff,
        idem: Idem,
        now: Millis,
        audit: AuditRecord,
    ) -> StoreResult<Written<HandoffId>>;
    /// The handoff an idempotency key already made, if any (a retry after the first try
    /// succeeded, even once duty has moved).
    async fn handoff_by_key(&self, idem: &Idem) -> StoreResult<Option<HandoffId>>;
    async fn handoff(&self, id: HandoffId) -> StoreResult<Handoff>;
    /// How many handoffs wait for `user` to acknowledge them (the top bar's badge).
    async fn waiting_count(&self, user: UserId) -> StoreResult<i64>;
    /// Handoffs, newest first.
    async fn handoffs(&self, filter: &HandoffFilter) -> StoreResult<Vec<Handoff>>;
    /// Changes the text of a handoff not acknowledged yet; `Conflict("acknowledged")` after.
    async fn edit_handoff(
        &self,
        id: HandoffId,
        edit: HandoffEdit,
        now: Millis,
        audit: AuditRecord,
    ) -> StoreResult<()>;
    /// Acknowledges, asks about or answers on one item of a handoff not acknowledged yet:
    /// `Conflict("acknowledged")` when it (or the item, for acknowledging) already is,
    /// `Conflict("no_question")` for an answer nobody asked for.
    async fn act_on_item(
        &self,
        id: HandoffId,
        item: ItemId,
        act: ItemAct,
        user: UserId,
        now: Millis,
    ) -> StoreResult<()>;
    /// Completes a handoff when every item is acknowledged and (when given) it is still at
    /// `version`; duty moves to the incoming person in the same transaction.
    async fn complete_handoff(
        &self,
        id: HandoffId,
        version: Option<i64>,
        now: Millis,
        audit: AuditRecord,
    ) -> StoreResult<Result<(), CompleteRefusal>>;
    /// Claims every handoff waiting since before `before` that nobody escalated yet and tells
    /// the incident's managers (an inbox item each); several instances never claim one twice.
    /// Returns the handoffs this call escalated.
    async fn escalate_handoffs(&self, before: Millis, now: Millis) -> StoreResult<Vec<HandoffId>>;
    /// Item and handoff events at timeline positions `from..to` of an incident.
    async fn events_in_range(
        &self,
        incident: RoomId,
        from: i64,
        to: i64,
        limit: i64,
    ) -> StoreResult<Vec<IncidentEvent>>;
    /// Everything that happened to one item, oldest first.
    async fn item_events(&self, item: ItemId) -> StoreResult<Vec<IncidentEvent>>;
    /// The handoffs that carried an item, oldest first.
    async fn item_shifts(&self, item: ItemId) -> StoreResult<Vec<ItemShift>>;
}
