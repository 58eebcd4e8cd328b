//! 要確認: confirmation requests on messages, their addressees and confirmations.

use super::*;

/// Who a confirmation request asks: an organisation (anyone of it may confirm for it) or one
/// person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ConfirmTarget {
    Org(OrgId),
    User(UserId),
}

impl ConfirmTarget {
    /// `org` or `user`.
    pub fn kind(self) -> &'static str {
        match self {
            ConfirmTarget::Org(_) => "org",
            ConfirmTarget::User(_) => "user",
        }
    }

    /// From its kind (`org`, `user`) and id; `None` when either is not one.
    pub fn parse(kind: &str, id: &str) -> Option<Self> {
        match kind {
            "org" => id.parse().ok().map(ConfirmTarget::Org),
            "user" => id.parse().ok().map(ConfirmTarget::User),
            _ => None,
        }
    }

    /// The organisation's or person's id.
    pub fn id_string(self) -> String {
        match self {
            ConfirmTarget::Org(o) => o.to_string(),
            ConfirmTarget::User(u) => u.to_string(),
        }
    }
}

/// What a new message asks of its readers (checked by the use case: the targets are in the
/// room, and there is at least one).
#[derive(Debug, Clone, Default)]
pub struct ConfirmSpec {
    pub targets: Vec<ConfirmTarget>,
    pub due_at: Option<Millis>,
    /// Shared by the copies of one broadcast.
    pub broadcast: Option<BroadcastId>,
}

/// What a message asks, as shown on it: each addressee and whether it has confirmed.
#[derive(Debug, Clone, Default)]
pub struct AskState {
    pub due_at: Option<Millis>,
    /// The broadcast the message is a copy of.
    pub broadcast: Option<BroadcastId>,
    pub targets: Vec<(ConfirmTarget, bool)>,
}

impl AskState {
    /// How many addressees there are.
    pub fn total(&self) -> usize {
        self.targets.len()
    }

    /// How many have confirmed.
    pub fn done(&self) -> usize {
        self.targets.iter().filter(|(_, d)| *d).count()
    }

    /// Whether `user` (of `org`) is asked, and if so whether everything asked of them is
    /// confirmed: `None` when not asked.
    pub fn mine(
        &self,
        user: impl std::borrow::Borrow<UserId>,
        org: impl std::borrow::Borrow<OrgId>,
    ) -> Option<bool> {
        let (user, org) = (*user.borrow(), *org.borrow());
        let mut asked = false;
        let mut all_done = true;
        for (t, done) in &self.targets {
            if *t == ConfirmTarget::User(user) || *t == ConfirmTarget::Org(org) {
                asked = true;
                all_done &= *done;
            }
        }
        asked.then_some(all_done)
    }
}

/// One addressee of a request with its confirmation, if given.
#[derive(Debug, Clone, Serialize)]
pub struct ConfirmRow {
    #[serde(skip)]
    pub target: ConfirmTarget,
    /// The message (copy) asking, and its room.
    pub message_id: MessageId,
    pub room_id: RoomId,
    pub room_name: String,
    /// When its copy asked confirmations by.
    pub due_at: Option<Millis>,
    /// The organisation's or person's name.
    pub name: String,
    pub confirmed_by: Option<UserId>,
    pub confirmed_by_name: Option<String>,
    pub confirmed_at: Option<Millis>,
    /// The reply that counted as confirming.
    pub reply_id: Option<MessageId>,
}

/// A request with every addressee, in name order. For a broadcast seen as a whole, the head
/// is its first copy and the rows are those of every copy.
#[derive(Debug, Clone)]
pub struct ConfirmRequest {
    pub message_id: MessageId,
    pub room_id: RoomId,
    pub requester_id: UserId,
    pub broadcast: Option<BroadcastId>,
    pub due_at: Option<Millis>,
    pub created_at: Millis,
    pub rows: Vec<ConfirmRow>,
}

/// A broadcast that asked to confirm, as listed for its organisation.
#[derive(Debug, Clone, Serialize)]
pub struct BroadcastSummary {
    pub id: BroadcastId,
    pub sender_name: String,
    pub created_at: Millis,
    /// The start of its text (every copy has the same).
    pub excerpt: String,
    /// Addressees asked in all its copies, and how many of them have confirmed.
    pub total: i64,
    pub confirmed: i64,
}

/// Confirmation requests.
#[async_trait]
pub trait ConfirmStore {
    /// The request a message makes, if any.
    async fn confirm_request(&self, message: MessageId) -> StoreResult<Option<ConfirmRequest>>;
    /// Every copy of a broadcast that asked to confirm, as one request.
    async fn broadcast_request(
        &self,
        broadcast: BroadcastId,
    ) -> StoreResult<Option<ConfirmRequest>>;
    /// Broadcasts that asked to confirm, sent by members of `org` (by `sender` only, when
    /// given), newest first.
    async fn broadcasts(
        &self,
        org: OrgId,
        sender: Option<UserId>,
        limit: i64,
    ) -> StoreResult<Vec<BroadcastSummary>>;
    /// Puts a reminder in the inbox of everyone still asked by `messages` (for an
    /// organisation: its members in the room), skipping requests reminded after `quiet_since`
    /// (a conditional update, so two presses at once remind once). Returns how many people were
    /// reminded, or `Conflict("reminded")` when every request was reminded too recently.
    async fn remind(
        &self,
        messages: &[MessageId],
        actor: UserId,
        now: Millis,
        quiet_since: Millis,
        audit: AuditRecord,
    ) -> StoreResult<usize>;
    /// Records `user`'s confirmation for each of `targets` not confirmed yet (the first stays);
    /// returns how many were newly confirmed. Adds a timeline entry when any was.
    async fn confirm(
        &self,
        message: MessageId,
        targets: &[ConfirmTarget],
        user: UserId,
        now: Millis,
    ) -> StoreResult<usize>;
}
