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
    pub broadcast: Option<String>,
}

/// One addressee of a request with its confirmation, if given.
#[derive(Debug, Clone, Serialize)]
pub struct ConfirmRow {
    #[serde(skip)]
    pub target: ConfirmTarget,
    /// The organisation's or person's name.
    pub name: String,
    pub confirmed_by: Option<UserId>,
    pub confirmed_by_name: Option<String>,
    pub confirmed_at: Option<Millis>,
    /// The reply that counted as confirming.
    pub reply_id: Option<MessageId>,
}

/// A request with every addressee, in name order.
#[derive(Debug, Clone)]
pub struct ConfirmRequest {
    pub message_id: MessageId,
    pub room_id: RoomId,
    pub requester_id: UserId,
    pub broadcast: Option<String>,
    pub due_at: Option<Millis>,
    pub created_at: Millis,
    pub rows: Vec<ConfirmRow>,
}

/// Confirmation requests.
#[async_trait]
pub trait ConfirmStore {
    /// The request a message makes, if any.
    async fn confirm_request(&self, message: MessageId) -> StoreResult<Option<ConfirmRequest>>;
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
