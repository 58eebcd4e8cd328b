//! Persistence. The [`Store`] trait is shaped by use cases; SQL lives only in this folder.
//! The backend is chosen from the database URL's scheme.

mod confirm;
pub mod copy;
mod handoffs;
mod incidents;
mod items;
mod sql;

pub use confirm::*;
pub use handoffs::*;
pub use incidents::*;
pub use items::*;

use crate::domain::*;
use async_trait::async_trait;
use serde::Serialize;
pub use sql::{Backend, NOTIFY_CHANNEL, SqlStore};
use std::sync::Arc;

/// Milliseconds since the Unix epoch, UTC: how every time is stored.
pub type Millis = i64;

/// Converts a time to stored milliseconds.
pub fn millis(t: time::OffsetDateTime) -> Millis {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

/// Converts stored milliseconds back to a time.
pub fn from_millis(ms: Millis) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
}

/// Stored milliseconds as RFC 3339 (`2026-11-22T05:46:26Z`).
pub fn rfc3339(ms: Millis) -> String {
    from_millis(ms)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// What can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A unique value is taken; the field names which.
    #[error("already exists: {0}")]
    Conflict(&'static str),
    /// The request contradicts the stored state (e.g. setup already done).
    #[error("refused: {0}")]
    Refused(&'static str),
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("migration error: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("corrupt row: {0}")]
    Corrupt(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// An organisation.
#[derive(Debug, Clone, Serialize)]
pub struct Org {
    pub id: OrgId,
    pub slug: String,
    pub name: String,
    pub kind: OrgKind,
    pub lg_code: Option<String>,
    pub is_deployment: bool,
    pub inbox_room_id: Option<RoomId>,
    pub member_count: i64,
}

/// A user account, as shown to others and used for rights.
#[derive(Debug, Clone, Serialize)]
pub struct User {
    pub id: UserId,
    pub org_id: OrgId,
    pub org_name: String,
    pub login: String,
    pub display_name: String,
    pub email: Option<String>,
    pub role: Role,
    pub lang: Option<Lang>,
    pub active: bool,
    pub activated: bool,
}

/// A logged-in session, with its user.
#[derive(Debug, Clone)]
pub struct SessionUser {
    pub user: User,
    pub session_hash: String,
    pub csrf: String,
    pub created_at: Millis,
    pub last_seen_at: Millis,
}

/// One of a user's sessions, for the "my sessions" page.
#[derive(Debug, Clone, Serialize)]
pub struct SessionInfo {
    pub id_hash: String,
    pub created_at: Millis,
    pub last_seen_at: Millis,
    pub user_agent: String,
    pub address: String,
}

/// A personal API token, as its owner sees it (never the token itself).
#[derive(Debug, Clone, Serialize)]
pub struct ApiToken {
    pub id: String,
    pub name: String,
    pub created_at: Millis,
    pub last_used_at: Option<Millis>,
    pub revoked: bool,
}

/// A room.
#[derive(Debug, Clone, Serialize)]
pub struct Room {
    pub id: RoomId,
    pub kind: RoomKind,
    pub name: String,
    pub description: String,
    pub org_id: Option<OrgId>,
    pub archived: bool,
    pub last_activity_at: Millis,
}

/// A room as the room list shows it to one user.
#[derive(Debug, Clone, Serialize)]
pub struct RoomSummary {
    pub room: Room,
    pub my_role: RoomRole,
    pub unread: i64,
    /// For a direct message: the other person's name.
    pub peer_name: Option<String>,
}

/// A member of a room.
#[derive(Debug, Clone, Serialize)]
pub struct Member {
    pub user_id: UserId,
    pub login: String,
    pub display_name: String,
    pub org_id: OrgId,
    pub org_name: String,
    pub role: RoomRole,
    pub via_org: bool,
    pub last_read_pos: i64,
}

/// What a reply answers.
#[derive(Debug, Clone, Serialize)]
pub struct ReplyRef {
    pub id: MessageId,
    pub author_name: String,
    pub excerpt: String,
    pub deleted: bool,
}

/// A message with what is needed to show it.
#[derive(Debug, Clone, Serialize)]
pub struct Message {
    pub id: MessageId,
    pub room_id: RoomId,
    pub author_id: UserId,
    pub author_login: String,
    pub author_name: String,
    pub author_org: String,
    /// Empty once deleted.
    pub body: String,
    pub reply_to: Option<ReplyRef>,
    pub created_at: Millis,
    pub edited_at: Option<Millis>,
    pub deleted: bool,
    pub pos: i64,
    /// What it asks to confirm (要確認), if anything.
    #[serde(skip)]
    pub ask: Option<AskState>,
}

/// Kind of a timeline entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    MessageNew,
    MessageEdited,
    MessageDeleted,
    MemberAdded,
    MemberRemoved,
    RoomUpdated,
    Inbox,
    SessionsEnded,
    Read,
    /// A shelter report in an incident room.
    ShelterReport,
    /// A field photo in an incident room.
    Photo,
    /// A photo was withdrawn (its id is the entry's record).
    PhotoWithdrawn,
    /// A confirmation request (the entry's message) was confirmed by someone.
    Confirmed,
    /// An open item was added or changed (its id is the entry's record).
    Item,
    /// Someone took duty in an incident (the organisation's id is the entry's record).
    Duty,
    /// A handoff was handed over, asked about, answered, acknowledged or escalated (its id is
    /// the entry's record).
    Handoff,
}

impl EntryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::MessageNew => "message_new",
            EntryKind::MessageEdited => "message_edited",
            EntryKind::MessageDeleted => "message_deleted",
            EntryKind::MemberAdded => "member_added",
            EntryKind::MemberRemoved => "member_removed",
            EntryKind::RoomUpdated => "room_updated",
            EntryKind::Inbox => "inbox",
            EntryKind::SessionsEnded => "sessions_ended",
            EntryKind::Read => "read",
            EntryKind::ShelterReport => "shelter_report",
            EntryKind::Photo => "photo",
            EntryKind::PhotoWithdrawn => "photo_withdrawn",
            EntryKind::Confirmed => "confirmed",
            EntryKind::Item => "item",
            EntryKind::Duty => "duty",
            EntryKind::Handoff => "handoff",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "message_new" => EntryKind::MessageNew,
            "message_edited" => EntryKind::MessageEdited,
            "message_deleted" => EntryKind::MessageDeleted,
            "member_added" => EntryKind::MemberAdded,
            "member_removed" => EntryKind::MemberRemoved,
            "room_updated" => EntryKind::RoomUpdated,
            "inbox" => EntryKind::Inbox,
            "sessions_ended" => EntryKind::SessionsEnded,
            "read" => EntryKind::Read,
            "shelter_report" => EntryKind::ShelterReport,
            "photo" => EntryKind::Photo,
            "photo_withdrawn" => EntryKind::PhotoWithdrawn,
            "confirmed" => EntryKind::Confirmed,
            "item" => EntryKind::Item,
            "duty" => EntryKind::Duty,
            "handoff" => EntryKind::Handoff,
            _ => return None,
        })
    }
}

/// One timeline entry at its deployment-wide position.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub pos: i64,
    pub kind: EntryKind,
    pub room_id: Option<RoomId>,
    /// The user the entry is about (added, removed, notified), if any.
    pub user_id: Option<UserId>,
    pub message: Option<Message>,
    /// The shelter report of a `shelter_report` entry.
    pub report: Option<ShelterReport>,
    /// The photo of a `photo` entry.
    pub photo: Option<Photo>,
    /// The id of the record a structured entry points at.
    pub record_id: Option<String>,
    pub at: Millis,
}

/// An inbox notification.
#[derive(Debug, Clone, Serialize)]
pub struct InboxItem {
    pub id: InboxId,
    pub kind: String,
    pub room_id: Option<RoomId>,
    pub room_name: Option<String>,
    pub message_id: Option<MessageId>,
    /// The record it is about when that is not a message (a handoff's id).
    pub ref_id: Option<String>,
    pub excerpt: Option<String>,
    pub actor_name: Option<String>,
    pub created_at: Millis,
    pub read: bool,
}

/// An inbox item to send by e-mail, claimed by one sender.
#[derive(Debug, Clone)]
pub struct MailItem {
    pub id: InboxId,
    pub email: String,
    pub lang: Option<Lang>,
    pub kind: String,
    pub actor_name: Option<String>,
    pub room_id: Option<RoomId>,
    pub room_name: Option<String>,
    pub message_id: Option<MessageId>,
    /// The record it is about when that is not a message (a handoff's id).
    pub ref_id: Option<String>,
    pub excerpt: Option<String>,
}

/// A search hit.
#[derive(Debug, Clone, Serialize)]
pub struct SearchHit {
    pub message: Message,
    pub room_name: String,
}

/// One audit-log row.
#[derive(Debug, Clone, Serialize, Default)]
pub struct AuditRecord {
    pub at: Millis,
    pub user_id: Option<UserId>,
    pub user_login: Option<String>,
    pub org_id: Option<OrgId>,
    pub action: String,
    pub object: String,
    pub address: String,
    /// `ok`, or `refused:<reason>`.
    pub result: String,
    pub detail: String,
}

/// Filters for browsing the audit log.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub org_id: Option<OrgId>,
    pub action: Option<String>,
    pub user_login: Option<String>,
    pub before: Option<Millis>,
    pub limit: i64,
}

/// A new organisation.
#[derive(Debug, Clone)]
pub struct NewOrg {
    pub slug: OrgSlug,
    pub name: DisplayName,
    pub kind: OrgKind,
    pub lg_code: Option<LgCode>,
}

/// A new user account (without a password until the link is used, unless given).
#[derive(Debug, Clone)]
pub struct NewUser {
    pub org_id: OrgId,
    pub login: LoginId,
    pub display_name: DisplayName,
    pub email: Option<String>,
    pub role: Role,
    pub lang: Option<Lang>,
    pub password_hash: Option<String>,
}

/// A user to create or update by login in a bulk import, with the link for a new account.
#[derive(Debug, Clone)]
pub struct ImportUser {
    pub user: NewUser,
    pub link: NewLink,
}

/// A one-time link to issue with a write.
#[derive(Debug, Clone)]
pub struct NewLink {
    pub token_hash: String,
    pub purpose: &'static str,
    pub expires_at: Millis,
}

/// A new message.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub room_id: RoomId,
    pub author_id: UserId,
    pub body: MessageBody,
    pub reply_to: Option<MessageId>,
    /// Users mentioned (already checked to be members).
    pub mentions: Vec<UserId>,
    /// 要確認: what it asks its readers to confirm.
    pub confirm: Option<ConfirmSpec>,
}

/// A new group room.
#[derive(Debug, Clone)]
pub struct NewRoom {
    pub owner: UserId,
    pub name: RoomName,
    pub description: Description,
    pub invite: Vec<UserId>,
}

/// A new session.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub id_hash: String,
    pub user_id: UserId,
    pub csrf: String,
    pub user_agent: String,
    pub address: String,
}

/// A write's idempotency: the key, and the user it belongs to.
#[derive(Debug, Clone)]
pub struct Idem {
    pub user_id: UserId,
    pub key: IdemKey,
}

/// The outcome of an idempotent write: its stored result and whether it was a replay.
#[derive(Debug, Clone)]
pub struct Written<T> {
    pub value: T,
    pub replayed: bool,
}

/// A change of room membership or settings.
#[derive(Debug, Clone)]
pub enum RoomChange {
    AddUsers(Vec<UserId>),
    AddOrg(OrgId),
    RemoveUser(UserId),
    RemoveOrg(OrgId),
    SetRole(UserId, RoomRole),
    Rename(RoomName, Description),
    Archive(bool),
}

/// Persistence of everything Sonae keeps.
#[async_trait]
pub trait Store:
    IncidentStore + ConfirmStore + ItemStore + HandoffStore + Send + Sync + 'static
{
    /// Applies pending migrations.
    async fn migrate(&self) -> StoreResult<()>;
    /// Checks the database answers.
    async fn ping(&self) -> StoreResult<()>;
    /// Closes the pools.
    async fn close(&self);
    /// Rings `bell` whenever another process commits timeline entries (PostgreSQL LISTEN),
    /// and after a lost listening connection is back, so the caller catches up. SQLite: nothing
    /// to listen to; the caller polls.
    async fn wake_on_change(&self, bell: Arc<tokio::sync::Notify>);

    // --- setup, organisations, accounts ---
    async fn user_count(&self) -> StoreResult<i64>;
    /// Stores a first-run setup link (only while there are no users).
    async fn create_setup_link(&self, link: NewLink, now: Millis) -> StoreResult<()>;
    /// Checks a setup link is usable.
    async fn setup_link_valid(&self, token_hash: &str, now: Millis) -> StoreResult<bool>;
    /// Creates the deployment organisation and its admin, consuming the link.
    async fn complete_setup(
        &self,
        token_hash: &str,
        org: NewOrg,
        admin: NewUser,
        now: Millis,
    ) -> StoreResult<UserId>;
    /// Creates an organisation with its 受信窓口 room.
    async fn create_org(&self, org: NewOrg, now: Millis, audit: AuditRecord) -> StoreResult<Org>;
    async fn list_orgs(&self) -> StoreResult<Vec<Org>>;
    /// Creates or updates (by short id) every organisation, all in one transaction.
    async fn import_orgs(
        &self,
        orgs: Vec<NewOrg>,
        now: Millis,
        audit: AuditRecord,
    ) -> StoreResult<()>;
    async fn org(&self, id: OrgId) -> StoreResult<Org>;
    /// Finds an organisation by short id or 全国地方公共団体コード.
    async fn org_by_ref(&self, reference: &str) -> StoreResult<Org>;
    /// Creates a user, adds them to rooms their organisation belongs to, and stores an activation link.
    async fn create_user(
        &self,
        user: NewUser,
        link: Option<NewLink>,
        now: Millis,
        audit: AuditRecord,
    ) -> StoreResult<User>;
    async fn user(&self, id: UserId) -> StoreResult<User>;
    /// Creates or updates (by login) every user, all in one transaction; returns the index and
    /// id of each account created.
    async fn import_users(
        &self,
        rows: Vec<ImportUser>,
        now: Millis,
        audit: AuditRecord,
    ) -> StoreResult<Vec<(usize, UserId)>>;
    async fn users_by_logins(&self, logins: &[String]) -> StoreResult<Vec<User>>;
    async fn list_users(&self, org: Option<OrgId>) -> StoreResult<Vec<User>>;
    async fn set_user_role(
        &self,
        id: UserId,
        role: Role,
        now: Millis,
        audit: AuditRecord,
    ) -> StoreResult<()>;
    /// Deactivates (ending every session) or reactivates a user.
    async fn set_user_active(
        &self,
        id: UserId,
        active: bool,
        now: Millis,
        audit: AuditRecord,
    ) -> StoreResult<()>;
    /// Stores a password-reset link for a user.
    async fn issue_link(
        &self,
        user: UserId,
        link: NewLink,
        now: Millis,
        audit: AuditRecord,
    ) -> StoreResult<()>;
    /// The user a valid, unused link belongs to.
    async fn link_user(&self, token_hash: &str, now: Millis) -> StoreResult<User>;
    /// Sets the password from a link and consumes it; ends the user's other sessions.
    async fn redeem_link(
        &self,
        token_hash: &str,
        password_hash: String,
        now: Millis,
    ) -> StoreResult<UserId>;
    /// The user and password hash for a login id.
    async fn credentials(&self, login: &str) -> StoreResult<Option<(User, Option<String>)>>;
    async fn set_password(
        &self,
        id: UserId,
        password_hash: String,
        now: Millis,
        audit: AuditRecord,
    ) -> StoreResult<()>;
    async fn set_email(
        &self,
        id: UserId,
        email: Option<String>,
        audit: AuditRecord,
    ) -> StoreResult<()>;
    async fn set_lang(
        &self,
        id: UserId,
        lang: Lang,
        now: Millis,
        audit: AuditRecord,
    ) -> StoreResult<()>;
    async fn record_login_failure(&self, scopes: &[String], now: Millis) -> StoreResult<()>;
    async fn login_failures_since(&self, scope: &str, since: Millis) -> StoreResult<i64>;

    // --- sessions ---
    async fn create_session(
        &self,
        s: NewSession,
        now: Millis,
        audit: AuditRecord,
    ) -> StoreResult<()>;
    /// A live session: not ended, within both timeouts; refreshes its last-seen time.
    async fn session(
        &self,
        id_hash: &str,
        now: Millis,
        idle_ms: i64,
        max_ms: i64,
    ) -> StoreResult<Option<SessionUser>>;
    async fn list_sessions(
        &self,
        user: UserId,
        now: Millis,
        idle_ms: i64,
        max_ms: i64,
    ) -> StoreResult<Vec<SessionInfo>>;
    /// Ends one session of a user (`None`: all of them).
    async fn end_sessions(
        &self,
        user: UserId,
        id_hash: Option<&str>,
        now: Millis,
        audit: AuditRecord,
    ) -> StoreResult<u64>;

    // --- API tokens ---
    async fn create_token(
        &self,
        user: UserId,
        name: &str,
        token_hash: &str,
        now: Millis,
        audit: AuditRecord,
    ) -> StoreResult<String>;
    async fn list_tokens(&self, user: UserId) -> StoreResult<Vec<ApiToken>>;
    /// Revokes one of the user's own tokens; `NotFound` for anyone else's.
    async fn revoke_token(
        &self,
        user: UserId,
        id: &str,
        now: Millis,
        audit: AuditRecord,
    ) -> StoreResult<()>;
    /// The active user a live token belongs to.
    async fn token_user(&self, token_hash: &str, now: Millis) -> StoreResult<Option<User>>;

    // --- rooms ---
    /// Creates a group room; invited users get an inbox item.
    async fn create_room(
        &self,
        room: NewRoom,
        idem: Idem,
        now: Millis,
        audit: AuditRecord,
    ) -> StoreResult<Written<RoomId>>;
    /// The direct-message room of two users, created if missing.
    async fn open_direct(
        &self,
        a: UserId,
        b: UserId,
        now: Millis,
        audit: AuditRecord,
    ) -> StoreResult<RoomId>;
    async fn rooms_for_user(&self, user: UserId) -> StoreResult<Vec<RoomSummary>>;
    /// The room and the user's role in it; `NotFound` for non-members.
    async fn room_for_member(&self, room: RoomId, user: UserId) -> StoreResult<(Room, RoomRole)>;
    async fn members(&self, room: RoomId) -> StoreResult<Vec<Member>>;
    async fn room_orgs(&self, room: RoomId) -> StoreResult<Vec<Org>>;
    /// Applies a membership or settings change as `actor`.
    async fn change_room(
        &self,
        room: RoomId,
        actor: UserId,
        change: RoomChange,
        now: Millis,
        audit: AuditRecord,
    ) -> StoreResult<()>;
    /// Advances a member's read position (never backwards).
    /// Advances `user`'s read position in `room` (never backwards), with a `read` entry for
    /// the room's members when it moved.
    async fn mark_read(&self, room: RoomId, user: UserId, pos: i64, now: Millis)
    -> StoreResult<()>;

    // --- messages ---
    async fn post_message(
        &self,
        m: NewMessage,
        idem: Idem,
        now: Millis,
        audit: AuditRecord,
    ) -> StoreResult<Written<MessageId>>;
    async fn edit_message(
        &self,
        id: MessageId,
        body: MessageBody,
        now: Millis,
        audit: AuditRecord,
    ) -> StoreResult<()>;
    async fn delete_message(
        &self,
        id: MessageId,
        now: Millis,
        audit: AuditRecord,
    ) -> StoreResult<()>;
    /// A message in a room.
    async fn message(&self, room: RoomId, id: MessageId) -> StoreResult<Message>;
    /// Up to `limit` messages before position `before` (newest last).
    async fn messages_before(
        &self,
        room: RoomId,
        before: Option<i64>,
        limit: i64,
    ) -> StoreResult<Vec<Message>>;
    async fn search(
        &self,
        user: UserId,
        folded_query: &str,
        limit: i64,
    ) -> StoreResult<Vec<SearchHit>>;

    // --- timeline ---
    /// The highest committed position.
    async fn head(&self) -> StoreResult<i64>;
    /// Every entry after `after` (for the live hub).
    async fn entries_after(&self, after: i64, limit: i64) -> StoreResult<Vec<Entry>>;
    /// The entries after `after` that `user` may see now.
    async fn visible_entries_after(
        &self,
        user: UserId,
        after: i64,
        limit: i64,
    ) -> StoreResult<Vec<Entry>>;
    /// How many entries after `after` the user may see, counting up to `cap`.
    async fn count_visible_after(&self, user: UserId, after: i64, cap: i64) -> StoreResult<i64>;
    /// When the entry at `pos` was written.
    async fn entry_time(&self, pos: i64) -> StoreResult<Option<Millis>>;

    // --- inbox ---
    async fn inbox(&self, user: UserId, limit: i64) -> StoreResult<Vec<InboxItem>>;
    async fn inbox_unread(&self, user: UserId) -> StoreResult<i64>;
    async fn mark_inbox_read(
        &self,
        user: UserId,
        id: Option<InboxId>,
        now: Millis,
    ) -> StoreResult<()>;

    /// Claims up to `limit` unsent inbox items created since `since` for users with an e-mail
    /// address; each is claimed by exactly one caller, even across instances.
    async fn claim_mail(
        &self,
        since: Millis,
        now: Millis,
        limit: i64,
    ) -> StoreResult<Vec<MailItem>>;
    /// Releases a claimed item whose sending failed, so it is tried again.
    async fn unclaim_mail(&self, id: InboxId) -> StoreResult<()>;

    // --- audit and idempotency ---
    async fn audit(&self, record: AuditRecord) -> StoreResult<()>;
    async fn audit_list(&self, filter: AuditFilter) -> StoreResult<Vec<AuditRecord>>;
    /// Forgets idempotency keys older than `before`.
    async fn purge_idempotency(&self, before: Millis) -> StoreResult<u64>;
}

/// Opens the store named by a database URL: `sqlite://…` or `postgres://…`.
pub async fn open(url: &str) -> StoreResult<Arc<dyn Store>> {
    Ok(Arc::new(SqlStore::open(url).await?))
}

#[cfg(test)]
mod tests {
    fn names(dir: &str) -> Vec<String> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
        let mut v: Vec<String> = std::fs::read_dir(path)
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().to_string())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }

    #[test]
    fn both_backends_have_the_same_migrations() {
        let sqlite = names("migrations/sqlite");
        let postgres = names("migrations/postgres");
        assert!(!sqlite.is_empty());
        assert_eq!(
            sqlite, postgres,
            "same versions and names in migrations/sqlite and migrations/postgres"
        );
    }
}
