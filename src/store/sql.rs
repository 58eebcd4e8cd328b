//! The SQL store, one implementation for both backends through sqlx's `Any` driver.
//!
//! - **SQLite** (the embedded default): one writer connection, so read-then-write transactions
//!   never race and positions are in commit order; a pool of readers; WAL with
//!   `synchronous=FULL`, so an acknowledged write is durable.
//! - **PostgreSQL**: one pool. Timeline positions come from a sequence, and sequences commit out
//!   of order, so every transaction that writes entries first takes one transaction-scoped
//!   advisory lock: positions are then handed out and committed in the same order, and "every
//!   entry after N" is well defined for all instances. The post writer takes it late (after its
//!   reads and audit rows) and runs twice, so one batch is read while another commits. Each entry write also `NOTIFY`s the other
//!   instances (delivered at commit; a wake-up, never the data).
//!
//! The SQL is written once: `$1`-style placeholders (which SQLite accepts too), integers for
//! flags, `ON CONFLICT DO NOTHING` and `RETURNING`, which both understand.

use super::*;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions, AnyRow};
use sqlx::{Any, AnyPool, Executor, Row, Transaction};
use std::str::FromStr;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

type Tx<'a> = Transaction<'a, Any>;

mod confirm;
mod handoffs;
mod items;
mod shelters;

/// Which database is behind the pools.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The SQL implementation of [`Store`].
pub struct SqlStore {
    backend: Backend,
    url: String,
    writer: AnyPool,
    reader: AnyPool,
    posts: mpsc::Sender<PostJob>,
    reads: mpsc::Sender<ReadJob>,
}

/// Waits for the next job, then takes whatever else is already waiting, up to `max` in all
/// (`None` once every sender is gone).
async fn next_batch<T>(rx: &mut mpsc::Receiver<T>, max: usize) -> Option<Vec<T>> {
    let first = rx.recv().await?;
    let mut batch = vec![first];
    while batch.len() < max {
        match rx.try_recv() {
            Ok(job) => batch.push(job),
            Err(_) => break,
        }
    }
    Some(batch)
}

/// A read position waiting for the read writer.
struct ReadJob {
    room: RoomId,
    user: UserId,
    pos: i64,
    now: Millis,
    reply: oneshot::Sender<StoreResult<()>>,
}

/// Most read positions written together.
const READ_BATCH_MAX: usize = 1024;

/// Read positions arrive in bursts (everyone opens the room after a broadcast): each batch is
/// one transaction, keeping the highest position per member, so readers never queue behind
/// one another or hold up posts.
async fn read_writer(writer: AnyPool, backend: Backend, mut rx: mpsc::Receiver<ReadJob>) {
    while let Some(batch) = next_batch(&mut rx, READ_BATCH_MAX).await {
        let mut highest: std::collections::HashMap<(RoomId, UserId), i64> =
            std::collections::HashMap::new();
        for j in &batch {
            let p = highest.entry((j.room, j.user)).or_insert(j.pos);
            *p = (*p).max(j.pos);
        }
        let result = async {
            let mut tx = begin_write(&writer, backend).await?;
            let now = batch.iter().map(|j| j.now).max().unwrap_or_default();
            for ((room, user), pos) in &highest {
                let r = sqlx::query(
                    "UPDATE room_members SET last_read_pos = $1 WHERE room_id = $2 AND user_id = $3 AND last_read_pos < $4",
                )
                .bind(*pos)
                .bind(room.to_string())
                .bind(user.to_string())
                .bind(*pos)
                .execute(&mut *tx)
                .await?;
                if r.rows_affected() > 0 {
                    // Members of the room follow read counts live.
                    sqlx::query(
                        "INSERT INTO entries (kind, room_id, user_id, ref_id, at) VALUES ($1, $2, $3, $4, $5)",
                    )
                    .bind(EntryKind::Read.as_str())
                    .bind(room.to_string())
                    .bind(user.to_string())
                    .bind(pos.to_string())
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                }
            }
            tx.commit().await
        }
        .await;
        let msg = result.err().map(|e| e.to_string());
        for j in batch {
            let _ = j.reply.send(match &msg {
                None => Ok(()),
                Some(m) => Err(StoreError::Unavailable(m.clone())),
            });
        }
    }
}

/// The advisory-lock key that orders timeline positions on PostgreSQL.
const POSITION_LOCK: i64 = 0x736f_6e61_6501;
/// The channel other instances listen on.
pub const NOTIFY_CHANNEL: &str = "sonae_entries";

/// A message waiting for the group-commit writer.
struct PostJob {
    m: NewMessage,
    idem: Idem,
    now: Millis,
    audit: AuditRecord,
    reply: oneshot::Sender<StoreResult<Written<MessageId>>>,
}

/// Begins a writing transaction. On PostgreSQL it first takes the position lock (held until
/// commit, so positions are handed out and committed in one order across all instances) and
/// queues a NOTIFY for the other instances (delivered at commit).
async fn begin_write(pool: &AnyPool, backend: Backend) -> Result<Tx<'static>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    lock_positions(&mut tx, backend).await?;
    Ok(tx)
}

/// On PostgreSQL, takes the position lock (held to the end of the transaction) and queues the
/// wake-up for other instances; a transaction must do this before it writes any entry.
async fn lock_positions(tx: &mut Tx<'_>, backend: Backend) -> Result<(), sqlx::Error> {
    if backend == Backend::Postgres {
        sqlx::query("SELECT pg_advisory_xact_lock($1), pg_notify($2, '')")
            .bind(POSITION_LOCK)
            .bind(NOTIFY_CHANNEL)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Most posts committed together in one transaction.
const GROUP_COMMIT_MAX: usize = 128;

/// Group commit: posts that arrive while the previous transaction is being made durable are
/// written together and acknowledged after one fsync. A post is acknowledged only once committed.
async fn post_writer(writer: AnyPool, backend: Backend, mut rx: mpsc::Receiver<PostJob>) {
    loop {
        let Some(batch) = next_batch(&mut rx, GROUP_COMMIT_MAX).await else {
            return;
        };
        let mut conn = match writer.acquire().await {
            Ok(c) => c,
            Err(e) => {
                let msg = e.to_string();
                for job in batch {
                    let _ = job.reply.send(Err(StoreError::Unavailable(msg.clone())));
                }
                continue;
            }
        };
        // Refusals (not a member, archived, bad reply) are decided before anything is written; a
        // database error aborts the whole batch, and every poster is told to retry (their keys
        // make the retry safe). `post_batch` answers only once its writes are committed.
        match post_batch(&mut conn, backend, &batch).await {
            Ok(results) => {
                for (job, result) in batch.into_iter().zip(results) {
                    let _ = job.reply.send(result);
                }
            }
            Err(e) => {
                let msg = e.to_string();
                for job in batch {
                    let _ = job.reply.send(Err(StoreError::Unavailable(msg.clone())));
                }
            }
        }
    }
}

impl SqlStore {
    /// Opens a `sqlite://` or `postgres://` URL (a SQLite file is created if missing).
    pub async fn open(url: &str) -> StoreResult<Self> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(StoreError::Refused("unknown database URL scheme"));
        };
        let (writer, reader) = match backend {
            Backend::Sqlite => {
                let path = url
                    .trim_start_matches("sqlite://")
                    .trim_start_matches("sqlite:")
                    .split('?')
                    .next()
                    .unwrap_or("");
                if let Some(parent) = std::path::Path::new(path).parent() {
                    if !parent.as_os_str().is_empty() {
                        std::fs::create_dir_all(parent).map_err(|e| {
                            StoreError::Unavailable(format!("cannot create {parent:?}: {e}"))
                        })?;
                    }
                }
                let full = if url.contains('?') {
                    url.to_string()
                } else {
                    format!("{url}?mode=rwc")
                };
                let opts = AnyConnectOptions::from_str(&full)?;
                let pragmas = |pool: AnyPoolOptions| {
                    pool.after_connect(|conn, _| {
                        Box::pin(async move {
                            conn.execute(
                                "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
                                 PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON; \
                                 PRAGMA temp_store = MEMORY; PRAGMA cache_size = -16000;",
                            )
                            .await
                            .map(|_| ())
                        })
                    })
                };
                let writer = pragmas(AnyPoolOptions::new().max_connections(1))
                    .acquire_timeout(Duration::from_secs(30))
                    .connect_with(opts.clone())
                    .await?;
                let reader = pragmas(AnyPoolOptions::new().max_connections(8))
                    .acquire_timeout(Duration::from_secs(30))
                    .connect_with(opts)
                    .await?;
                (writer, reader)
            }
            Backend::Postgres => {
                let opts = AnyConnectOptions::from_str(url)?;
                let pool = AnyPoolOptions::new()
                    .max_connections(16)
                    .min_connections(0)
                    .acquire_timeout(Duration::from_secs(3))
                    .connect_with(opts)
                    .await
                    .map_err(|e| StoreError::Unavailable(e.to_string()))?;
                (pool.clone(), pool)
            }
        };
        let (posts, rx) = mpsc::channel(4096);
        // One writer per process: posts that arrive while it commits wait for the next batch.
        // (Two writers sharing the queue made smaller batches and, with several instances,
        // more turns at the position lock: measured slower once a batch's writes became one
        // statement.)
        tokio::spawn(post_writer(writer.clone(), backend, rx));
        let (reads, rx) = mpsc::channel(8192);
        tokio::spawn(read_writer(writer.clone(), backend, rx));
        Ok(Self {
            backend,
            url: url.to_string(),
            writer,
            reader,
            reads,
            posts,
        })
    }

    /// The database behind this store.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The pool that writes (on SQLite, the single writer connection).
    pub fn pool(&self) -> &AnyPool {
        &self.writer
    }

    /// Edits a message (`Some` body) or deletes it (`None`); the earlier text goes to the audit log.
    async fn rewrite_message(
        &self,
        mid: MessageId,
        body: Option<MessageBody>,
        now: Millis,
        audit: AuditRecord,
    ) -> StoreResult<()> {
        let mut tx = begin_write(&self.writer, self.backend).await?;
        let prev: Option<(String, String)> = sqlx::query_as(
            "SELECT body, room_id FROM messages WHERE id = $1 AND deleted_at IS NULL",
        )
        .bind(mid.to_string())
        .fetch_optional(&mut *tx)
        .await?;
        let Some((old, room)) = prev else {
            return Err(StoreError::NotFound);
        };
        let kind = match &body {
            Some(b) => {
                sqlx::query(
                    "UPDATE messages SET body = $1, search_text = $2, edited_at = $3 WHERE id = $4",
                )
                .bind(b.as_str())
                .bind(search_fold(b.as_str()))
                .bind(now)
                .bind(mid.to_string())
                .execute(&mut *tx)
                .await?;
                EntryKind::MessageEdited
            }
            None => {
                sqlx::query("UPDATE messages SET body = '', search_text = '', deleted_at = $1 WHERE id = $2")
                    .bind(now)
                    .bind(mid.to_string())
                    .execute(&mut *tx)
                    .await?;
                EntryKind::MessageDeleted
            }
        };
        let rid = room
            .parse()
            .map_err(|_| StoreError::Corrupt("room id".into()))?;
        insert_entry(&mut tx, kind, Some(rid), Some(mid), None, now).await?;
        let audit = AuditRecord {
            detail: format!("before: {old}"),
            ..audit
        };
        commit_audited(tx, audit).await?;
        Ok(())
    }

    /// The pool that reads (on PostgreSQL the same as [`Self::pool`]).
    pub fn read_pool(&self) -> &AnyPool {
        &self.reader
    }

    /// The URL this store was opened with.
    pub fn url(&self) -> &str {
        &self.url
    }
}

/// A query assembled from parts, numbering its `$n` placeholders as values are pushed.
struct Built {
    text: String,
    args: Vec<Arg>,
}

enum Arg {
    Str(String),
    Int(i64),
}

impl Built {
    fn new(text: &str) -> Self {
        Self {
            text: text.to_string(),
            args: Vec::new(),
        }
    }
    fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }
    fn bind_str(&mut self, v: impl Into<String>) -> &mut Self {
        self.args.push(Arg::Str(v.into()));
        self.text.push_str(&format!("${}", self.args.len()));
        self
    }
    fn bind_int(&mut self, v: i64) -> &mut Self {
        self.args.push(Arg::Int(v));
        self.text.push_str(&format!("${}", self.args.len()));
        self
    }
    fn query(&self) -> sqlx::query::Query<'_, Any, sqlx::any::AnyArguments<'_>> {
        let mut q = sqlx::query(&self.text);
        for a in &self.args {
            q = match a {
                Arg::Str(s) => q.bind(s.as_str()),
                Arg::Int(i) => q.bind(*i),
            };
        }
        q
    }
}

fn id<T: FromStr>(row: &AnyRow, col: &str) -> StoreResult<T> {
    let s: String = row.try_get(col)?;
    s.parse()
        .map_err(|_| StoreError::Corrupt(format!("bad id in {col}: {s}")))
}

fn opt_id<T: FromStr>(row: &AnyRow, col: &str) -> StoreResult<Option<T>> {
    let s: Option<String> = row.try_get(col)?;
    match s {
        None => Ok(None),
        Some(s) => s
            .parse()
            .map(Some)
            .map_err(|_| StoreError::Corrupt(format!("bad id in {col}: {s}"))),
    }
}

fn corrupt(e: crate::domain::Invalid) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

/// Maps a unique-constraint violation to a conflict on `field`.
fn unique(field: &'static str) -> impl Fn(sqlx::Error) -> StoreError {
    move |e| match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Conflict(field),
        _ => StoreError::Db(e),
    }
}

const USER_SELECT: &str = "SELECT u.id, u.org_id, o.name AS org_name, u.login, u.display_name, \
    u.email, u.role, u.lang, u.active, CASE WHEN u.password_hash IS NULL THEN 0 ELSE 1 END AS activated \
    FROM users u JOIN orgs o ON o.id = u.org_id";

fn user_row(row: &AnyRow) -> StoreResult<User> {
    let lang: Option<String> = row.try_get("lang")?;
    Ok(User {
        id: id(row, "id")?,
        org_id: id(row, "org_id")?,
        org_name: row.try_get("org_name")?,
        login: row.try_get("login")?,
        display_name: row.try_get("display_name")?,
        email: row.try_get("email")?,
        role: Role::parse(&row.try_get::<String, _>("role")?).map_err(corrupt)?,
        lang: lang.as_deref().and_then(|l| Lang::parse(l).ok()),
        active: row.try_get::<i64, _>("active")? != 0,
        activated: row.try_get::<i64, _>("activated")? != 0,
    })
}

const ORG_SELECT: &str = "SELECT o.id, o.slug, o.name, o.kind, o.lg_code, o.is_deployment, \
    o.inbox_room_id, (SELECT COUNT(*) FROM users u WHERE u.org_id = o.id AND u.active = 1) AS member_count \
    FROM orgs o";

fn org_row(row: &AnyRow) -> StoreResult<Org> {
    Ok(Org {
        id: id(row, "id")?,
        slug: row.try_get("slug")?,
        name: row.try_get("name")?,
        kind: OrgKind::parse(&row.try_get::<String, _>("kind")?).map_err(corrupt)?,
        lg_code: row.try_get("lg_code")?,
        is_deployment: row.try_get::<i64, _>("is_deployment")? != 0,
        inbox_room_id: opt_id(row, "inbox_room_id")?,
        member_count: row.try_get("member_count")?,
    })
}

const ROOM_COLS: &str = "r.id, r.kind, r.name, r.description, r.org_id, r.archived_at, \
     COALESCE((SELECT lm.created_at FROM messages lm WHERE lm.room_id = r.id ORDER BY lm.pos DESC LIMIT 1), \
     r.last_activity_at) AS last_activity_at";

fn room_row(row: &AnyRow) -> StoreResult<Room> {
    Ok(Room {
        id: id(row, "id")?,
        kind: RoomKind::parse(&row.try_get::<String, _>("kind")?).map_err(corrupt)?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        org_id: opt_id(row, "org_id")?,
        archived: row.try_get::<Option<i64>, _>("archived_at")?.is_some(),
        last_activity_at: row.try_get("last_activity_at")?,
    })
}

/// Columns of a message with its author and what it replies to (prefix `m_`).
const MSG_COLS: &str = "m.id AS m_id, m.room_id AS m_room, m.author_id AS m_author, \
    mu.login AS m_login, mu.display_name AS m_name, mo.name AS m_org, m.body AS m_body, \
    m.created_at AS m_created, m.edited_at AS m_edited, m.deleted_at AS m_deleted, m.pos AS m_pos, \
    rp.id AS rp_id, rpu.display_name AS rp_name, rp.body AS rp_body, rp.deleted_at AS rp_deleted, \
    (SELECT COUNT(*) FROM confirm_requests cq WHERE cq.message_id = m.id) AS m_asks";

const MSG_JOINS: &str = "LEFT JOIN users mu ON mu.id = m.author_id \
    LEFT JOIN orgs mo ON mo.id = mu.org_id \
    LEFT JOIN messages rp ON rp.id = m.reply_to \
    LEFT JOIN users rpu ON rpu.id = rp.author_id";

fn excerpt(s: &str, n: usize) -> String {
    let mut out: String = s.chars().take(n).collect();
    if s.chars().count() > n {
        out.push('…');
    }
    out
}

fn message_row(row: &AnyRow) -> StoreResult<Option<Message>> {
    let Some(mid) = opt_id::<MessageId>(row, "m_id")? else {
        return Ok(None);
    };
    let deleted = row.try_get::<Option<i64>, _>("m_deleted")?.is_some();
    let reply_to = match opt_id::<MessageId>(row, "rp_id")? {
        None => None,
        Some(rid) => {
            let rdeleted = row.try_get::<Option<i64>, _>("rp_deleted")?.is_some();
            let body: String = row.try_get("rp_body")?;
            Some(ReplyRef {
                id: rid,
                author_name: row
                    .try_get::<Option<String>, _>("rp_name")?
                    .unwrap_or_default(),
                excerpt: if rdeleted {
                    String::new()
                } else {
                    excerpt(&body, 80)
                },
                deleted: rdeleted,
            })
        }
    };
    Ok(Some(Message {
        id: mid,
        room_id: id(row, "m_room")?,
        author_id: id(row, "m_author")?,
        author_login: row
            .try_get::<Option<String>, _>("m_login")?
            .unwrap_or_default(),
        author_name: row
            .try_get::<Option<String>, _>("m_name")?
            .unwrap_or_default(),
        author_org: row
            .try_get::<Option<String>, _>("m_org")?
            .unwrap_or_default(),
        body: if deleted {
            String::new()
        } else {
            row.try_get("m_body")?
        },
        reply_to,
        created_at: row.try_get("m_created")?,
        edited_at: row.try_get("m_edited")?,
        deleted,
        pos: row.try_get("m_pos")?,
        // A marker until `attach_asks` reads what it asks.
        ask: (row.try_get::<i64, _>("m_asks")? > 0).then(AskState::default),
    }))
}

fn entry_row(row: &AnyRow) -> StoreResult<Entry> {
    let kind: String = row.try_get("e_kind")?;
    Ok(Entry {
        pos: row.try_get("e_pos")?,
        kind: EntryKind::parse(&kind)
            .ok_or_else(|| StoreError::Corrupt(format!("entry kind {kind}")))?,
        room_id: opt_id(row, "e_room")?,
        user_id: opt_id(row, "e_user")?,
        message: message_row(row)?,
        report: None,
        photo: None,
        record_id: row.try_get("e_ref")?,
        at: row.try_get("e_at")?,
    })
}

fn entry_select() -> String {
    format!(
        "SELECT e.pos AS e_pos, e.kind AS e_kind, e.room_id AS e_room, e.user_id AS e_user, \
         e.at AS e_at, e.ref_id AS e_ref, {MSG_COLS} FROM entries e LEFT JOIN messages m ON m.id = e.message_id {MSG_JOINS}"
    )
}

async fn insert_entry(
    tx: &mut Tx<'_>,
    kind: EntryKind,
    room: Option<RoomId>,
    message: Option<MessageId>,
    user: Option<UserId>,
    at: Millis,
) -> StoreResult<i64> {
    let pos: i64 = sqlx::query_scalar(
        "INSERT INTO entries (kind, room_id, message_id, user_id, at) VALUES ($1, $2, $3, $4, $5) RETURNING pos",
    )
    .bind(kind.as_str())
    .bind(room.map(|r| r.to_string()))
    .bind(message.map(|m| m.to_string()))
    .bind(user.map(|u| u.to_string()))
    .bind(at)
    .fetch_one(&mut **tx)
    .await?;
    Ok(pos)
}

/// Records a structured entry of a room that points at its record (a shelter report…).
async fn insert_record_entry(
    tx: &mut Tx<'_>,
    kind: EntryKind,
    room: RoomId,
    record: &str,
    at: Millis,
) -> StoreResult<i64> {
    let pos: i64 = sqlx::query_scalar(
        "INSERT INTO entries (kind, room_id, ref_id, at) VALUES ($1, $2, $3, $4) RETURNING pos",
    )
    .bind(kind.as_str())
    .bind(room.to_string())
    .bind(record)
    .bind(at)
    .fetch_one(&mut **tx)
    .await?;
    Ok(pos)
}

/// The columns of an audit row, in the order [`bind_audit`] binds them.
const AUDIT_COLS: &str = "id, at, user_id, org_id, action, object, address, result, detail";

async fn insert_audit(tx: &mut Tx<'_>, a: &AuditRecord) -> StoreResult<()> {
    let mut q = Built::new(&format!("INSERT INTO audit ({AUDIT_COLS}) VALUES ("));
    bind_audit(&mut q, a, a.object.clone());
    q.push(")").query().execute(&mut **tx).await?;
    Ok(())
}

/// Records the audit row of a write and commits it: the audit log and the change land together.
async fn commit_audited(mut tx: Tx<'_>, audit: AuditRecord) -> StoreResult<()> {
    insert_audit(&mut tx, &audit).await?;
    tx.commit().await?;
    Ok(())
}

async fn insert_inbox(
    tx: &mut Tx<'_>,
    user: UserId,
    kind: &str,
    room: Option<RoomId>,
    message: Option<MessageId>,
    actor: Option<UserId>,
    now: Millis,
) -> StoreResult<()> {
    insert_inbox_about(tx, user, kind, room, message, None, actor, now).await
}

/// An inbox item, with the id of the record it is about when that is not a message (a
/// handoff's), and its entry for the user's live streams.
#[allow(clippy::too_many_arguments)]
async fn insert_inbox_about(
    tx: &mut Tx<'_>,
    user: UserId,
    kind: &str,
    room: Option<RoomId>,
    message: Option<MessageId>,
    record: Option<&str>,
    actor: Option<UserId>,
    now: Millis,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO inbox (id, user_id, kind, room_id, message_id, ref_id, actor_id, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(InboxId::new().to_string())
    .bind(user.to_string())
    .bind(kind)
    .bind(room.map(|r| r.to_string()))
    .bind(message.map(|m| m.to_string()))
    .bind(record)
    .bind(actor.map(|a| a.to_string()))
    .bind(now)
    .execute(&mut **tx)
    .await?;
    insert_entry(tx, EntryKind::Inbox, None, None, Some(user), now).await?;
    Ok(())
}

/// Adds a member unless present; records the entry. Returns whether they were added.
async fn add_member(
    tx: &mut Tx<'_>,
    room: RoomId,
    user: UserId,
    role: RoomRole,
    via_org: bool,
    now: Millis,
) -> StoreResult<bool> {
    let head: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(pos), 0) FROM entries")
        .fetch_one(&mut **tx)
        .await?;
    let added = sqlx::query(
        "INSERT INTO room_members (room_id, user_id, role, via_org, last_read_pos, joined_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
    )
    .bind(room.to_string())
    .bind(user.to_string())
    .bind(role.as_str())
    .bind(i64::from(via_org))
    .bind(head)
    .bind(now)
    .execute(&mut **tx)
    .await?
    .rows_affected()
        == 1;
    if added {
        insert_entry(
            tx,
            EntryKind::MemberAdded,
            Some(room),
            None,
            Some(user),
            now,
        )
        .await?;
    }
    Ok(added)
}

/// Looks up a stored idempotent result.
async fn idem_lookup<'e, E>(ex: E, idem: &Idem) -> StoreResult<Option<String>>
where
    E: Executor<'e, Database = Any>,
{
    Ok(
        sqlx::query_scalar("SELECT result FROM idempotency WHERE user_id = $1 AND key = $2")
            .bind(idem.user_id.to_string())
            .bind(idem.key.as_str())
            .fetch_optional(ex)
            .await?,
    )
}

/// The id stored for a key, which must be of the same kind of write.
fn idem_result<T: FromStr>(stored: &str, kind: &str) -> StoreResult<T> {
    stored
        .strip_prefix(kind)
        .and_then(|r| r.strip_prefix(':'))
        .and_then(|id| id.parse().ok())
        .ok_or(StoreError::Refused(
            "idempotency key used for another kind of write",
        ))
}

async fn idem_store(tx: &mut Tx<'_>, idem: &Idem, result: &str, now: Millis) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO idempotency (user_id, key, result, created_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(idem.user_id.to_string())
    .bind(idem.key.as_str())
    .bind(result)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn deployment_org(tx: &mut Tx<'_>) -> StoreResult<Option<OrgId>> {
    let s: Option<String> =
        sqlx::query_scalar("SELECT id FROM orgs WHERE is_deployment = 1 LIMIT 1")
            .fetch_optional(&mut **tx)
            .await?;
    Ok(s.and_then(|s| s.parse().ok()))
}

/// Adds an organisation to a room: its active users become members.
async fn add_org_to_room(
    tx: &mut Tx<'_>,
    room: RoomId,
    org: OrgId,
    now: Millis,
) -> StoreResult<()> {
    sqlx::query("INSERT INTO room_orgs (room_id, org_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
        .bind(room.to_string())
        .bind(org.to_string())
        .execute(&mut **tx)
        .await?;
    let users: Vec<String> =
        sqlx::query_scalar("SELECT id FROM users WHERE org_id = $1 AND active = 1")
            .bind(org.to_string())
            .fetch_all(&mut **tx)
            .await?;
    for u in users {
        if let Ok(uid) = u.parse() {
            add_member(tx, room, uid, RoomRole::Member, true, now).await?;
        }
    }
    Ok(())
}

async fn insert_org(
    tx: &mut Tx<'_>,
    org: &NewOrg,
    deployment: bool,
    now: Millis,
) -> StoreResult<OrgId> {
    let oid = OrgId::new();
    sqlx::query(
        "INSERT INTO orgs (id, slug, name, kind, lg_code, is_deployment, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(oid.to_string())
    .bind(org.slug.as_str())
    .bind(org.name.as_str())
    .bind(org.kind.as_str())
    .bind(org.lg_code.as_ref().map(|c| c.as_str().to_string()))
    .bind(i64::from(deployment))
    .bind(now)
    .execute(&mut **tx)
    .await
    .map_err(|e| {
        let msg = e.to_string();
        match &e {
            sqlx::Error::Database(d) if d.is_unique_violation() => {
                StoreError::Conflict(if msg.contains("lg_code") { "lg_code" } else { "slug" })
            }
            _ => StoreError::Db(e),
        }
    })?;
    // Its 受信窓口 room, addressed by the deployment admin's organisation too.
    let rid = RoomId::new();
    sqlx::query(
        "INSERT INTO rooms (id, kind, name, description, org_id, created_at, last_activity_at) VALUES ($1, 'org_inbox', $2, '', $3, $4, $5)",
    )
    .bind(rid.to_string())
    .bind(org.name.as_str())
    .bind(oid.to_string())
    .bind(now)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    sqlx::query("UPDATE orgs SET inbox_room_id = $1 WHERE id = $2")
        .bind(rid.to_string())
        .bind(oid.to_string())
        .execute(&mut **tx)
        .await?;
    add_org_to_room(tx, rid, oid, now).await?;
    if let Some(dep) = deployment_org(tx).await? {
        if dep != oid {
            add_org_to_room(tx, rid, dep, now).await?;
        }
    }
    Ok(oid)
}

async fn insert_user(tx: &mut Tx<'_>, u: &NewUser, now: Millis) -> StoreResult<UserId> {
    let uid = UserId::new();
    sqlx::query(
        "INSERT INTO users (id, org_id, login, display_name, email, password_hash, role, lang, active, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1, $9)",
    )
    .bind(uid.to_string())
    .bind(u.org_id.to_string())
    .bind(u.login.as_str())
    .bind(u.display_name.as_str())
    .bind(&u.email)
    .bind(&u.password_hash)
    .bind(u.role.as_str())
    .bind(u.lang.map(|l| l.as_str()))
    .bind(now)
    .execute(&mut **tx)
    .await
    .map_err(unique("login"))?;
    // Rooms the organisation belongs to take in their new member.
    let rooms: Vec<String> = sqlx::query_scalar("SELECT room_id FROM room_orgs WHERE org_id = $1")
        .bind(u.org_id.to_string())
        .fetch_all(&mut **tx)
        .await?;
    for r in rooms {
        if let Ok(rid) = r.parse() {
            add_member(tx, rid, uid, RoomRole::Member, true, now).await?;
        }
    }
    Ok(uid)
}

async fn insert_link(
    tx: &mut Tx<'_>,
    user: Option<UserId>,
    link: &NewLink,
    now: Millis,
) -> StoreResult<()> {
    if let Some(u) = user {
        // A new link replaces any unused one of the same purpose.
        sqlx::query("UPDATE link_tokens SET used_at = $1 WHERE user_id = $2 AND used_at IS NULL")
            .bind(now)
            .bind(u.to_string())
            .execute(&mut **tx)
            .await?;
    }
    sqlx::query(
        "INSERT INTO link_tokens (token_hash, user_id, purpose, expires_at, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&link.token_hash)
    .bind(user.map(|u| u.to_string()))
    .bind(link.purpose)
    .bind(link.expires_at)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn end_sessions_tx(
    tx: &mut Tx<'_>,
    user: UserId,
    id_hash: Option<&str>,
    now: Millis,
) -> StoreResult<u64> {
    let mut q = Built::new("UPDATE sessions SET ended_at = ");
    q.bind_int(now)
        .push(" WHERE ended_at IS NULL AND user_id = ")
        .bind_str(user.to_string());
    if let Some(h) = id_hash {
        q.push(" AND id_hash = ").bind_str(h);
    }
    let n = q.query().execute(&mut **tx).await?.rows_affected();
    if n > 0 {
        insert_entry(tx, EntryKind::SessionsEnded, None, None, Some(user), now).await?;
    }
    Ok(n)
}

/// The answer to a post whose key an earlier post stored (`prev`: what that post stored).
fn replayed_post(prev: &str) -> StoreResult<Written<MessageId>> {
    idem_result(prev, "message").map(|mid| Written {
        value: mid,
        replayed: true,
    })
}

/// The result for a post whose idempotency key repeats an earlier post of the same batch.
fn repeat_of(first: &StoreResult<Written<MessageId>>) -> StoreResult<Written<MessageId>> {
    match first {
        Ok(w) => Ok(Written {
            value: w.value,
            replayed: true,
        }),
        Err(StoreError::NotFound) => Err(StoreError::NotFound),
        Err(StoreError::Refused(r)) => Err(StoreError::Refused(r)),
        Err(e) => Err(StoreError::Unavailable(e.to_string())),
    }
}

/// Binds `values` as a comma-separated list of placeholders.
fn bind_list<'a>(q: &mut Built, values: impl IntoIterator<Item = &'a String>) {
    for (i, v) in values.into_iter().enumerate() {
        if i > 0 {
            q.push(", ");
        }
        q.bind_str(v.as_str());
    }
}

/// The results stored under some (user, key) pairs. Each pair is looked up exactly, so both
/// databases search the primary key instead of reading every key of the users (or, by key
/// alone, every stored key — once most of PostgreSQL's work under load, growing with the table).
async fn stored_keys<'k>(
    conn: &mut sqlx::AnyConnection,
    pairs: impl IntoIterator<Item = (UserId, &'k str)>,
) -> StoreResult<std::collections::HashMap<(String, String), String>> {
    let mut q = Built::new("SELECT user_id, key, result FROM idempotency WHERE ");
    let mut any = false;
    for (k, (user, key)) in pairs.into_iter().enumerate() {
        q.push(if k == 0 {
            "(user_id = "
        } else {
            " OR (user_id = "
        })
        .bind_str(user.to_string())
        .push(" AND key = ")
        .bind_str(key)
        .push(")");
        any = true;
    }
    let mut out = std::collections::HashMap::new();
    if !any {
        return Ok(out);
    }
    for r in q.query().fetch_all(&mut *conn).await? {
        out.insert(
            (r.try_get("user_id")?, r.try_get("key")?),
            r.try_get("result")?,
        );
    }
    Ok(out)
}

/// Binds an audit row's values (see [`AUDIT_COLS`]), comma-separated; `object` stands for the
/// record's own (a post batch names each message).
fn bind_audit(q: &mut Built, a: &AuditRecord, object: String) {
    q.bind_str(uuid::Uuid::now_v7().to_string())
        .push(", ")
        .bind_int(a.at)
        .push(", ");
    match a.user_id {
        Some(u) => q.bind_str(u.to_string()),
        None => q.push("NULL"),
    };
    q.push(", ");
    match a.org_id {
        Some(o) => q.bind_str(o.to_string()),
        None => q.push("NULL"),
    };
    q.push(", ")
        .bind_str(a.action.as_str())
        .push(", ")
        .bind_str(object)
        .push(", ")
        .bind_str(a.address.as_str())
        .push(", ")
        .bind_str(if a.result.is_empty() {
            "ok"
        } else {
            a.result.as_str()
        })
        .push(", ")
        .bind_str(a.detail.as_str());
}

/// The columns of a new message but its position, in the order [`bind_message`] binds them.
const MESSAGE_COLS: &str = "id, room_id, author_id, body, search_text, reply_to, created_at";

/// Binds a new message's values (see [`MESSAGE_COLS`]), comma-separated.
fn bind_message(q: &mut Built, mid: MessageId, m: &NewMessage, now: Millis) {
    q.bind_str(mid.to_string())
        .push(", ")
        .bind_str(m.room_id.to_string())
        .push(", ")
        .bind_str(m.author_id.to_string())
        .push(", ")
        .bind_str(m.body.as_str())
        .push(", ")
        .bind_str(search_fold(m.body.as_str()))
        .push(", ");
    match m.reply_to {
        Some(r) => q.bind_str(r.to_string()),
        None => q.push("NULL"),
    };
    q.push(", ").bind_int(now);
}

/// PostgreSQL: the writes of a batch are one statement, so the position lock is held for one
/// round trip and the commit. It takes the lock (and queues the wake-up), stores the keys
/// (skipping a key another batch stored meanwhile), then writes entries in batch order,
/// messages at those positions and audit rows for the posts whose key it stored. Data flows
/// lock → keys → entries → messages and audit, which fixes the order PostgreSQL runs them in.
/// Returns the ids of the messages written.
async fn write_posts_pg(
    conn: &mut sqlx::AnyConnection,
    jobs: &[PostJob],
    accepted: &[(usize, MessageId, bool)],
) -> StoreResult<std::collections::HashSet<String>> {
    let mut q = Built::new(
        "WITH v (ord, user_id, key, id, room_id, author_id, body, search_text, reply_to, at, \
         audit_id, audit_at, audit_user, audit_org, action, object, address, result, detail) AS (VALUES ",
    );
    for (k, (i, mid, _)) in accepted.iter().enumerate() {
        let j = &jobs[*i];
        q.push(if k == 0 { "(" } else { ", (" })
            .bind_int(k as i64)
            .push(", ")
            .bind_str(j.idem.user_id.to_string())
            .push(", ")
            .bind_str(j.idem.key.as_str())
            .push(", ");
        bind_message(&mut q, *mid, &j.m, j.now);
        q.push(", ");
        bind_audit(&mut q, &j.audit, format!("message:{mid}"));
        q.push(")");
    }
    q.push("), lk AS (SELECT pg_advisory_xact_lock(")
        .bind_int(POSITION_LOCK)
        .push("), pg_notify(")
        .bind_str(NOTIFY_CHANNEL)
        .push(", '')), ");
    q.push(&format!(
        "k AS (INSERT INTO idempotency (user_id, key, result, created_at) \
           SELECT v.user_id, v.key, 'message:' || v.id, v.at FROM v, lk ORDER BY v.ord \
           ON CONFLICT DO NOTHING RETURNING user_id, key), \
         e AS (INSERT INTO entries (kind, room_id, message_id, at) \
           SELECT 'message_new', v.room_id, v.id, v.at FROM v JOIN k USING (user_id, key) \
           ORDER BY v.ord RETURNING pos, message_id), \
         m AS (INSERT INTO messages ({MESSAGE_COLS}, pos) \
           SELECT v.id, v.room_id, v.author_id, v.body, v.search_text, v.reply_to, v.at, e.pos \
           FROM v JOIN e ON e.message_id = v.id), \
         a AS (INSERT INTO audit ({AUDIT_COLS}) \
           SELECT v.audit_id, v.audit_at, v.audit_user, v.audit_org, v.action, v.object, v.address, v.result, v.detail \
           FROM v JOIN e ON e.message_id = v.id) \
         SELECT message_id FROM e"
    ));
    let mut written = std::collections::HashSet::new();
    for r in q.query().fetch_all(&mut *conn).await? {
        written.insert(r.try_get::<String, _>("message_id")?);
    }
    Ok(written)
}

/// SQLite: one writer at a time, so the statements need no lock. Stores the keys (skipping one
/// stored meanwhile), then entries in batch order, messages at those positions and audit rows.
/// Returns the ids of the messages written.
async fn write_posts_sqlite(
    conn: &mut sqlx::AnyConnection,
    jobs: &[PostJob],
    accepted: &[(usize, MessageId, bool)],
) -> StoreResult<std::collections::HashSet<String>> {
    use std::collections::{HashMap, HashSet};
    let mut q = Built::new("INSERT INTO idempotency (user_id, key, result, created_at) VALUES ");
    for (k, (i, mid, _)) in accepted.iter().enumerate() {
        let j = &jobs[*i];
        q.push(if k == 0 { "(" } else { ", (" })
            .bind_str(j.idem.user_id.to_string())
            .push(", ")
            .bind_str(j.idem.key.as_str())
            .push(", ")
            .bind_str(format!("message:{mid}"))
            .push(", ")
            .bind_int(j.now)
            .push(")");
    }
    q.push(" ON CONFLICT DO NOTHING RETURNING user_id, key");
    let mut stored: HashSet<(String, String)> = HashSet::new();
    for r in q.query().fetch_all(&mut *conn).await? {
        stored.insert((r.try_get("user_id")?, r.try_get("key")?));
    }
    let mine: Vec<&(usize, MessageId, bool)> = accepted
        .iter()
        .filter(|(i, _, _)| {
            let j = &jobs[*i];
            stored.contains(&(j.idem.user_id.to_string(), j.idem.key.as_str().to_string()))
        })
        .collect();
    if mine.is_empty() {
        return Ok(HashSet::new());
    }
    // Entries first: their positions, in this order, are the messages' positions.
    let mut q = Built::new("INSERT INTO entries (kind, room_id, message_id, user_id, at) VALUES ");
    for (k, (i, mid, _)) in mine.iter().enumerate() {
        q.push(if k == 0 {
            "('message_new', "
        } else {
            ", ('message_new', "
        })
        .bind_str(jobs[*i].m.room_id.to_string())
        .push(", ")
        .bind_str(mid.to_string())
        .push(", NULL, ")
        .bind_int(jobs[*i].now)
        .push(")");
    }
    q.push(" RETURNING pos, message_id");
    let mut pos_of: HashMap<String, i64> = HashMap::new();
    for r in q.query().fetch_all(&mut *conn).await? {
        pos_of.insert(r.try_get("message_id")?, r.try_get("pos")?);
    }
    let mut q = Built::new(&format!(
        "INSERT INTO messages ({MESSAGE_COLS}, pos) VALUES "
    ));
    for (k, (i, mid, _)) in mine.iter().enumerate() {
        let p = pos_of
            .get(&mid.to_string())
            .copied()
            .ok_or_else(|| StoreError::Corrupt("entry position missing".into()))?;
        q.push(if k == 0 { "(" } else { ", (" });
        bind_message(&mut q, *mid, &jobs[*i].m, jobs[*i].now);
        q.push(", ").bind_int(p).push(")");
    }
    q.query().execute(&mut *conn).await?;
    let mut q = Built::new(&format!("INSERT INTO audit ({AUDIT_COLS}) VALUES "));
    for (k, (i, mid, _)) in mine.iter().enumerate() {
        q.push(if k == 0 { "(" } else { ", (" });
        bind_audit(&mut q, &jobs[*i].audit, format!("message:{mid}"));
        q.push(")");
    }
    q.query().execute(&mut *conn).await?;
    Ok(pos_of.into_keys().collect())
}

/// The inbox items and 要確認 rows that come with posts: mentions, the other side of a direct
/// conversation, a confirmation request, and a reply that confirms one.
async fn notify_posts(
    tx: &mut Tx<'_>,
    jobs: &[PostJob],
    written: &[(usize, MessageId, bool)],
) -> StoreResult<()> {
    // Notifications: mentions, and the other side of a direct conversation.
    for (i, mid, direct) in written {
        let m = &jobs[*i].m;
        let now = jobs[*i].now;
        let mut notified = Vec::new();
        for u in &m.mentions {
            if *u != m.author_id && !notified.contains(u) {
                insert_inbox(
                    tx,
                    *u,
                    "mention",
                    Some(m.room_id),
                    Some(*mid),
                    Some(m.author_id),
                    now,
                )
                .await?;
                notified.push(*u);
            }
        }
        // 要確認: the request and its addressees' inbox items; a reply to one confirms it.
        if let Some(spec) = &m.confirm {
            confirm::insert_request(tx, *mid, m, spec, now).await?;
        }
        if let Some(r) = m.reply_to {
            confirm::confirm_by_reply(tx, r, m.author_id, *mid, now).await?;
        }
        if *direct {
            let others: Vec<String> = sqlx::query_scalar(
                "SELECT user_id FROM room_members WHERE room_id = $1 AND user_id <> $2",
            )
            .bind(m.room_id.to_string())
            .bind(m.author_id.to_string())
            .fetch_all(&mut **tx)
            .await?;
            for o in others {
                if let Ok(uid) = o.parse::<UserId>() {
                    if !notified.contains(&uid) {
                        insert_inbox(
                            tx,
                            uid,
                            "dm",
                            Some(m.room_id),
                            Some(*mid),
                            Some(m.author_id),
                            now,
                        )
                        .await?;
                    }
                }
            }
        }
    }
    Ok(())
}

/// Writes a batch of posts with a handful of statements for the whole batch, so a batch costs
/// about as many round trips as one post: look up stored keys, check membership and replies
/// (every refusal is decided before the first write), then write (`write_posts_pg` /
/// `write_posts_sqlite`, plus `notify_posts` in the same transaction when a post needs them).
/// Answers once the writes are committed.
async fn post_batch(
    conn: &mut sqlx::AnyConnection,
    backend: Backend,
    jobs: &[PostJob],
) -> StoreResult<Vec<StoreResult<Written<MessageId>>>> {
    use std::collections::{HashMap, HashSet};
    let n = jobs.len();
    let mut results: Vec<Option<StoreResult<Written<MessageId>>>> = (0..n).map(|_| None).collect();
    // The same key twice in one batch: the later one repeats the first.
    let mut first_of: HashMap<(UserId, &str), usize> = HashMap::new();
    let mut repeat: Vec<Option<usize>> = vec![None; n];
    for (i, j) in jobs.iter().enumerate() {
        let k = (j.idem.user_id, j.idem.key.as_str());
        match first_of.get(&k) {
            Some(&f) => repeat[i] = Some(f),
            None => {
                first_of.insert(k, i);
            }
        }
    }
    // Keys stored by earlier transactions.
    let stored = stored_keys(conn, first_of.keys().map(|(u, k)| (*u, *k))).await?;
    for (i, j) in jobs.iter().enumerate() {
        if repeat[i].is_none() {
            let k = (j.idem.user_id.to_string(), j.idem.key.as_str().to_string());
            if let Some(prev) = stored.get(&k) {
                results[i] = Some(replayed_post(prev));
            }
        }
    }
    let pending = |results: &Vec<Option<_>>, i: usize| repeat[i].is_none() && results[i].is_none();
    // Membership, archiving and kind of every (room, author) pair still pending.
    let rooms: HashSet<String> = (0..n)
        .filter(|&i| pending(&results, i))
        .map(|i| jobs[i].m.room_id.to_string())
        .collect();
    let authors: HashSet<String> = (0..n)
        .filter(|&i| pending(&results, i))
        .map(|i| jobs[i].m.author_id.to_string())
        .collect();
    let mut state: HashMap<(String, String), (Option<i64>, String)> = HashMap::new();
    if !rooms.is_empty() {
        let mut q = Built::new(
            "SELECT r.id, rm.user_id, r.archived_at, r.kind FROM rooms r JOIN room_members rm ON rm.room_id = r.id WHERE r.id IN (",
        );
        bind_list(&mut q, &rooms);
        q.push(") AND rm.user_id IN (");
        bind_list(&mut q, &authors);
        q.push(")");
        for r in q.query().fetch_all(&mut *conn).await? {
            state.insert(
                (r.try_get("id")?, r.try_get("user_id")?),
                (r.try_get("archived_at")?, r.try_get("kind")?),
            );
        }
    }
    // Rooms of the messages replied to.
    let replies: HashSet<String> = (0..n)
        .filter(|&i| pending(&results, i))
        .filter_map(|i| jobs[i].m.reply_to.map(|r| r.to_string()))
        .collect();
    let mut reply_room: HashMap<String, String> = HashMap::new();
    if !replies.is_empty() {
        let mut q = Built::new("SELECT id, room_id FROM messages WHERE id IN (");
        bind_list(&mut q, &replies);
        q.push(")");
        for r in q.query().fetch_all(&mut *conn).await? {
            reply_room.insert(r.try_get("id")?, r.try_get("room_id")?);
        }
    }
    // Decide; the accepted get their ids.
    let mut accepted: Vec<(usize, MessageId, bool)> = Vec::new();
    for (i, j) in jobs.iter().enumerate() {
        if !pending(&results, i) {
            continue;
        }
        let room = j.m.room_id.to_string();
        match state.get(&(room.clone(), j.m.author_id.to_string())) {
            None => results[i] = Some(Err(StoreError::NotFound)),
            Some((Some(_), _)) => results[i] = Some(Err(StoreError::Refused("archived"))),
            Some((None, kind)) => {
                let reply_ok =
                    j.m.reply_to
                        .is_none_or(|r| reply_room.get(&r.to_string()) == Some(&room));
                if reply_ok {
                    accepted.push((i, MessageId::new(), kind == "direct"));
                } else {
                    results[i] = Some(Err(StoreError::Refused("reply_to")));
                }
            }
        }
    }
    if !accepted.is_empty() {
        // Plain posts (no mention, 要確認 or reply, not a direct conversation) need no other
        // writes: on PostgreSQL their batch is one statement in its own transaction, so the
        // position lock is held for no round trip to this process.
        let plain = accepted.iter().all(|(i, _, direct)| {
            let m = &jobs[*i].m;
            !direct && m.mentions.is_empty() && m.confirm.is_none() && m.reply_to.is_none()
        });
        let written = if backend == Backend::Postgres && plain {
            write_posts_pg(conn, jobs, &accepted).await?
        } else {
            let mut tx = sqlx::Connection::begin(&mut *conn).await?;
            let written = match backend {
                Backend::Postgres => write_posts_pg(&mut tx, jobs, &accepted).await?,
                Backend::Sqlite => write_posts_sqlite(&mut tx, jobs, &accepted).await?,
            };
            let mine: Vec<(usize, MessageId, bool)> = accepted
                .iter()
                .filter(|(_, mid, _)| written.contains(&mid.to_string()))
                .copied()
                .collect();
            notify_posts(&mut tx, jobs, &mine).await?;
            tx.commit().await?;
            written
        };
        // A key another batch stored meanwhile (a retry racing its first try) was taken: that
        // post is a replay, written nothing here.
        let taken: Vec<usize> = accepted
            .iter()
            .filter(|(_, mid, _)| !written.contains(&mid.to_string()))
            .map(|(i, _, _)| *i)
            .collect();
        if !taken.is_empty() {
            let theirs = stored_keys(
                conn,
                taken
                    .iter()
                    .map(|&i| (jobs[i].idem.user_id, jobs[i].idem.key.as_str())),
            )
            .await?;
            for &i in &taken {
                let j = &jobs[i];
                let k = (j.idem.user_id.to_string(), j.idem.key.as_str().to_string());
                results[i] = Some(match theirs.get(&k) {
                    Some(prev) => replayed_post(prev),
                    None => Err(StoreError::Unavailable("idempotency key in flight".into())),
                });
            }
            accepted.retain(|(i, _, _)| !taken.contains(i));
        }
        for (i, mid, _) in &accepted {
            results[*i] = Some(Ok(Written {
                value: *mid,
                replayed: false,
            }));
        }
    }
    // Repeats first (they read their first post's result), then the rest.
    let repeats: Vec<Option<StoreResult<Written<MessageId>>>> = repeat
        .iter()
        .map(|r| {
            r.map(|f| match &results[f] {
                Some(first) => repeat_of(first),
                None => Err(StoreError::Corrupt("batch result missing".into())),
            })
        })
        .collect();
    let mut out = Vec::with_capacity(n);
    for (i, rep) in repeats.into_iter().enumerate() {
        out.push(match rep {
            Some(r) => r,
            None => results[i]
                .take()
                .unwrap_or_else(|| Err(StoreError::Corrupt("batch result missing".into()))),
        });
    }
    Ok(out)
}

#[async_trait]
impl Store for SqlStore {
    async fn migrate(&self) -> StoreResult<()> {
        // On PostgreSQL the migrator holds an advisory lock, so instances starting together
        // apply each migration once.
        match self.backend {
            Backend::Sqlite => {
                sqlx::migrate!("./migrations/sqlite")
                    .run(&self.writer)
                    .await?
            }
            Backend::Postgres => {
                sqlx::migrate!("./migrations/postgres")
                    .run(&self.writer)
                    .await?
            }
        }
        Ok(())
    }

    async fn wake_on_change(&self, bell: Arc<tokio::sync::Notify>) {
        if self.backend != Backend::Postgres {
            return;
        }
        let url = self.url.clone();
        tokio::spawn(async move {
            loop {
                match sqlx::postgres::PgListener::connect(&url).await {
                    Ok(mut listener) => {
                        if listener.listen(NOTIFY_CHANNEL).await.is_ok() {
                            // Whatever was committed while we were not listening.
                            bell.notify_one();
                            while listener.try_recv().await.ok().flatten().is_some() {
                                bell.notify_one();
                            }
                        }
                        tracing::warn!("lost the LISTEN connection; reconnecting");
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot LISTEN for other instances' writes")
                    }
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.reader).await?;
        Ok(())
    }

    async fn close(&self) {
        self.writer.close().await;
        self.reader.close().await;
    }

    async fn user_count(&self) -> StoreResult<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(&self.reader)
            .await?)
    }

    async fn create_setup_link(&self, link: NewLink, now: Millis) -> StoreResult<()> {
        let mut tx = begin_write(&self.writer, self.backend).await?;
        sqlx::query(
            "UPDATE link_tokens SET used_at = $1 WHERE purpose = 'setup' AND used_at IS NULL",
        )
        .bind(now)
        .execute(&mut *tx)
        .await?;
        insert_link(&mut tx, None, &link, now).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn setup_link_valid(&self, token_hash: &str, now: Millis) -> StoreResult<bool> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM link_tokens WHERE token_hash = $1 AND purpose = 'setup' \
             AND used_at IS NULL AND expires_at > $2 AND NOT EXISTS (SELECT 1 FROM users)",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_one(&self.reader)
        .await?;
        Ok(n > 0)
    }

    async fn complete_setup(
        &self,
        token_hash: &str,
        org: NewOrg,
        admin: NewUser,
        now: Millis,
    ) -> StoreResult<UserId> {
        let mut tx = begin_write(&self.writer, self.backend).await?;
        let users: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(&mut *tx)
            .await?;
        let used = sqlx::query(
            "UPDATE link_tokens SET used_at = $1 WHERE token_hash = $2 AND purpose = 'setup' AND used_at IS NULL AND expires_at > $3",
        )
        .bind(now)
        .bind(token_hash)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if users > 0 || used != 1 {
            return Err(StoreError::Refused("setup"));
        }
        let oid = insert_org(&mut tx, &org, true, now).await?;
        let admin = NewUser {
            org_id: oid,
            ..admin
        };
        let uid = insert_user(&mut tx, &admin, now).await?;
        insert_audit(
            &mut tx,
            &AuditRecord {
                at: now,
                user_id: Some(uid),
                org_id: Some(oid),
                action: "setup".into(),
                object: format!("org:{oid}"),
                result: "ok".into(),
                ..Default::default()
            },
        )
        .await?;
        tx.commit().await?;
        Ok(uid)
    }

    async fn create_org(&self, org: NewOrg, now: Millis, audit: AuditRecord) -> StoreResult<Org> {
        let mut tx = begin_write(&self.writer, self.backend).await?;
        let oid = insert_org(&mut tx, &org, false, now).await?;
        commit_audited(
            tx,
            AuditRecord {
                object: format!("org:{oid}"),
                ..audit
            },
        )
        .await?;
        self.org(oid).await
    }

    async fn import_orgs(
        &self,
        orgs: Vec<NewOrg>,
        now: Millis,
        audit: AuditRecord,
    ) -> StoreResult<()> {
        let mut tx = begin_write(&self.writer, self.backend).await?;
        for o in &orgs {
            let updated = sqlx::query("UPDATE orgs SET name = $1, kind = $2, lg_code = COALESCE($3, lg_code) WHERE slug = $4")
                .bind(o.name.as_str())
                .bind(o.kind.as_str())
                .bind(o.lg_code.as_ref().map(|c| c.as_str().to_string()))
                .bind(o.slug.as_str())
                .execute(&mut *tx)
                .await
                .map_err(unique("lg_code"))?
                .rows_affected();
            if updated == 0 {
                insert_org(&mut tx, o, false, now).await?;
            }
        }
        commit_audited(tx, audit).await?;
        Ok(())
    }

    async fn list_orgs(&self) -> StoreResult<Vec<Org>> {
        let rows = sqlx::query(&format!(
            "{ORG_SELECT} ORDER BY o.is_deployment DESC, COALESCE(o.lg_code, '999999'), o.slug"
        ))
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(org_row).collect()
    }

    async fn org(&self, oid: OrgId) -> StoreResult<Org> {
        let row = sqlx::query(&format!("{ORG_SELECT} WHERE o.id = $1"))
            .bind(oid.to_string())
            .fetch_optional(&self.reader)
            .await?
            .ok_or(StoreError::NotFound)?;
        org_row(&row)
    }

    async fn org_by_ref(&self, reference: &str) -> StoreResult<Org> {
        let r = reference.trim().to_ascii_lowercase();
        let code = LgCode::parse(&r)
            .map(|c| c.into_inner())
            .unwrap_or_default();
        let row = sqlx::query(&format!("{ORG_SELECT} WHERE o.slug = $1 OR o.lg_code = $2"))
            .bind(&r)
            .bind(code)
            .fetch_optional(&self.reader)
            .await?
            .ok_or(StoreError::NotFound)?;
        org_row(&row)
    }

    async fn create_user(
        &self,
        user: NewUser,
        link: Option<NewLink>,
        now: Millis,
        audit: AuditRecord,
    ) -> StoreResult<User> {
        let mut tx = begin_write(&self.writer, self.backend).await?;
        let uid = insert_user(&mut tx, &user, now).await?;
        if let Some(link) = link {
            insert_link(&mut tx, Some(uid), &link, now).await?;
        }
        commit_audited(
            tx,
            AuditRecord {
                object: format!("user:{uid}"),
                ..audit
            },
        )
        .await?;
        self.user(uid).await
    }

    async fn import_users(
        &self,
        rows: Vec<ImportUser>,
        now: Millis,
        audit: AuditRecord,
    ) -> StoreResult<Vec<(usize, UserId)>> {
        let mut tx = begin_write(&self.writer, self.backend).await?;
        let mut created = Vec::new();
        for (i, r) in rows.into_iter().enumerate() {
            let u = &r.user;
            let updated = sqlx::query(
                "UPDATE users SET display_name = $1, role = $2, lang = $3, email = $4 WHERE login = $5 AND org_id = $6",
            )
            .bind(u.display_name.as_str())
            .bind(u.role.as_str())
            .bind(u.lang.map(|l| l.as_str()))
            .bind(&u.email)
            .bind(u.login.as_str())
            .bind(u.org_id.to_string())
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if updated == 0 {
                let uid = insert_user(&mut tx, u, now).await?;
                insert_link(&mut tx, Some(uid), &r.link, now).await?;
                created.push((i, uid));
            }
        }
        commit_audited(tx, audit).await?;
        Ok(created)
    }

    async fn user(&self, uid: UserId) -> StoreResult<User> {
        let row = sqlx::query(&format!("{USER_SELECT} WHERE u.id = $1"))
            .bind(uid.to_string())
            .fetch_optional(&self.reader)
            .await?
            .ok_or(StoreError::NotFound)?;
        user_row(&row)
    }

    async fn users_by_logins(&self, logins: &[String]) -> StoreResult<Vec<User>> {
        if logins.is_empty() {
            return Ok(Vec::new());
        }
        let mut q = Built::new(USER_SELECT);
        q.push(" WHERE u.login IN (");
        for (i, l) in logins.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.bind_str(l.as_str());
        }
        q.push(")");
        let rows = q.query().fetch_all(&self.reader).await?;
        rows.iter().map(user_row).collect()
    }

    async fn list_users(&self, org: Option<OrgId>) -> StoreResult<Vec<User>> {
        let mut q = Built::new(USER_SELECT);
        if let Some(o) = org {
            q.push(" WHERE u.org_id = ").bind_str(o.to_string());
        }
        q.push(" ORDER BY o.is_deployment DESC, COALESCE(o.lg_code, '999999'), u.display_name");
        let rows = q.query().fetch_all(&self.reader).await?;
        rows.iter().map(user_row).collect()
    }

    async fn set_user_role(
        &self,
        uid: UserId,
        role: Role,
        _now: Millis,
        audit: AuditRecord,
    ) -> StoreResult<()> {
        let mut tx = begin_write(&self.writer, self.backend).await?;
        let n = sqlx::query("UPDATE users SET role = $1 WHERE id = $2")
            .bind(role.as_str())
            .bind(uid.to_string())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        commit_audited(tx, audit).await?;
        Ok(())
    }

    async fn set_user_active(
        &self,
        uid: UserId,
        active: bool,
        now: Millis,
        audit: AuditRecord,
    ) -> StoreResult<()> {
        let mut tx = begin_write(&self.writer, self.backend).await?;
        let n = sqlx::query("UPDATE users SET active = $1 WHERE id = $2")
            .bind(i64::from(active))
            .bind(uid.to_string())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        if !active {
            end_sessions_tx(&mut tx, uid, None, now).await?;
        }
        commit_audited(tx, audit).await?;
        Ok(())
    }

    async fn issue_link(
        &self,
        user: UserId,
        link: NewLink,
        now: Millis,
        audit: AuditRecord,
    ) -> StoreResult<()> {
        let mut tx = begin_write(&self.writer, self.backend).await?;
        insert_link(&mut tx, Some(user), &link, now).await?;
        commit_audited(tx, audit).await?;
        Ok(())
    }

    async fn link_user(&self, token_hash: &str, now: Millis) -> StoreResult<User> {
        let uid: Option<String> = sqlx::query_scalar(
            "SELECT user_id FROM link_tokens WHERE token_hash = $1 AND user_id IS NOT NULL AND used_at IS NULL AND expires_at > $2",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.reader)
        .await?
        .flatten();
        let uid: UserId = uid
            .and_then(|s| s.parse().ok())
            .ok_or(StoreError::NotFound)?;
        let user = self.user(uid).await?;
        if !user.active {
            return Err(StoreError::NotFound);
        }
        Ok(user)
    }

    async fn redeem_link(
        &self,
        token_hash: &str,
        password_hash: String,
        now: Millis,
    ) -> StoreResult<UserId> {
        let mut tx = begin_write(&self.writer, self.backend).await?;
        let uid: Option<String> = sqlx::query_scalar(
            "UPDATE link_tokens SET used_at = $1 WHERE token_hash = $2 AND user_id IS NOT NULL AND used_at IS NULL AND expires_at > $3 RETURNING user_id",
        )
        .bind(now)
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?
        .flatten();
        let uid: UserId = uid
            .and_then(|s| s.parse().ok())
            .ok_or(StoreError::NotFound)?;
        let n = sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2 AND active = 1")
            .bind(&password_hash)
            .bind(uid.to_string())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        end_sessions_tx(&mut tx, uid, None, now).await?;
        insert_audit(
            &mut tx,
            &AuditRecord {
                at: now,
                user_id: Some(uid),
                action: "password.set_by_link".into(),
                object: format!("user:{uid}"),
                result: "ok".into(),
                ..Default::default()
            },
        )
        .await?;
        tx.commit().await?;
        Ok(uid)
    }

    async fn credentials(&self, login: &str) -> StoreResult<Option<(User, Option<String>)>> {
        let row = sqlx::query(&format!(
            "SELECT u.password_hash AS password_hash, x.* FROM ({USER_SELECT} WHERE u.login = $1) x JOIN users u ON u.id = x.id"
        ))
        .bind(login)
        .fetch_optional(&self.reader)
        .await?;
        match row {
            None => Ok(None),
            Some(r) => Ok(Some((user_row(&r)?, r.try_get("password_hash")?))),
        }
    }

    async fn set_password(
        &self,
        uid: UserId,
        password_hash: String,
        _now: Millis,
        audit: AuditRecord,
    ) -> StoreResult<()> {
        let mut tx = begin_write(&self.writer, self.backend).await?;
        sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
            .bind(password_hash)
            .bind(uid.to_string())
            .execute(&mut *tx)
            .await?;
        commit_audited(tx, audit).await?;
        Ok(())
    }

    async fn set_email(
        &self,
        uid: UserId,
        email: Option<String>,
        audit: AuditRecord,
    ) -> StoreResult<()> {
        let mut tx = begin_write(&self.writer, self.backend).await?;
        sqlx::query("UPDATE users SET email = $1 WHERE id = $2")
            .bind(email)
            .bind(uid.to_string())
            .execute(&mut *tx)
            .await?;
        // Copies start from now: what was already in the inbox is not mailed afterwards.
        sqlx::query("UPDATE inbox SET mailed_at = $1 WHERE user_id = $2 AND mailed_at IS NULL")
            .bind(audit.at)
            .bind(uid.to_string())
            .execute(&mut *tx)
            .await?;
        commit_audited(tx, audit).await?;
        Ok(())
    }

    async fn set_lang(
        &self,
        uid: UserId,
        lang: Lang,
        _now: Millis,
        audit: AuditRecord,
    ) -> StoreResult<()> {
        let mut tx = begin_write(&self.writer, self.backend).await?;
        sqlx::query("UPDATE users SET lang = $1 WHERE id = $2")
            .bind(lang.as_str())
            .bind(uid.to_string())
            .execute(&mut *tx)
            .await?;
        commit_audited(tx, audit).await?;
        Ok(())
    }

    async fn record_login_failure(&self, scopes: &[String], now: Millis) -> StoreResult<()> {
        let mut tx = begin_write(&self.writer, self.backend).await?;
        for s in scopes {
            sqlx::query("INSERT INTO login_failures (scope, at) VALUES ($1, $2)")
                .bind(s)
                .bind(now)
                .execute(&mut *tx)
                .await?;
        }
        // Old failures no longer count; forget them.
        sqlx::query("DELETE FROM login_failures WHERE at < $1")
            .bind(now - 24 * 3600 * 1000)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn login_failures_since(&self, scope: &str, since: Millis) -> StoreResult<i64> {
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM login_failures WHERE scope = $1 AND at >= $2")
                .bind(scope)
                .bind(since)
                .fetch_one(&self.reader)
                .await?,
        )
    }

    async fn create_session(
        &self,
        s: NewSession,
        now: Millis,
        audit: AuditRecord,
    ) -> StoreResult<()> {
        let mut tx = begin_write(&self.writer, self.backend).await?;
        sqlx::query(
            "INSERT INTO sessions (id_hash, user_id, csrf, created_at, last_seen_at, user_agent, address) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&s.id_hash)
        .bind(s.user_id.to_string())
        .bind(&s.csrf)
        .bind(now)
        .bind(now)
        .bind(excerpt(&s.user_agent, 200))
        .bind(&s.address)
        .execute(&mut *tx)
        .await?;
        commit_audited(tx, audit).await?;
        Ok(())
    }

    async fn session(
        &self,
        id_hash: &str,
        now: Millis,
        idle_ms: i64,
        max_ms: i64,
    ) -> StoreResult<Option<SessionUser>> {
        let row = sqlx::query(&format!(
            "SELECT s.csrf AS s_csrf, s.created_at AS s_created, s.last_seen_at AS s_seen, x.* \
             FROM sessions s JOIN ({USER_SELECT}) x ON x.id = s.user_id \
             WHERE s.id_hash = $1 AND s.ended_at IS NULL AND x.active = 1 \
             AND s.last_seen_at > $2 AND s.created_at > $3"
        ))
        .bind(id_hash)
        .bind(now - idle_ms)
        .bind(now - max_ms)
        .fetch_optional(&self.reader)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let su = SessionUser {
            user: user_row(&row)?,
            session_hash: id_hash.to_string(),
            csrf: row.try_get("s_csrf")?,
            created_at: row.try_get("s_created")?,
            last_seen_at: row.try_get("s_seen")?,
        };
        // Refresh the idle timer at most once a minute: a write per request would be wasteful.
        if now - su.last_seen_at > 60_000 {
            sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE id_hash = $2")
                .bind(now)
                .bind(id_hash)
                .execute(&self.writer)
                .await?;
        }
        Ok(Some(su))
    }

    async fn list_sessions(
        &self,
        user: UserId,
        now: Millis,
        idle_ms: i64,
        max_ms: i64,
    ) -> StoreResult<Vec<SessionInfo>> {
        let rows = sqlx::query(
            "SELECT id_hash, created_at, last_seen_at, user_agent, address FROM sessions \
             WHERE user_id = $1 AND ended_at IS NULL AND last_seen_at > $2 AND created_at > $3 ORDER BY last_seen_at DESC",
        )
        .bind(user.to_string())
        .bind(now - idle_ms)
        .bind(now - max_ms)
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(SessionInfo {
                    id_hash: r.try_get("id_hash")?,
                    created_at: r.try_get("created_at")?,
                    last_seen_at: r.try_get("last_seen_at")?,
                    user_agent: r.try_get("user_agent")?,
                    address: r.try_get("address")?,
                })
            })
            .collect()
    }

    async fn end_sessions(
        &self,
        user: UserId,
        id_hash: Option<&str>,
        now: Millis,
        audit: AuditRecord,
    ) -> StoreResult<u64> {
        let mut tx = begin_write(&self.writer, self.backend).await?;
        let n = end_sessions_tx(&mut tx, user, id_hash, now).await?;
        commit_audited(tx, audit).await?;
        Ok(n)
    }

    async fn create_room(
        &self,
        room: NewRoom,
        idem: Idem,
        now: Millis,
        audit: AuditRecord,
    ) -> StoreResult<Written<RoomId>> {
        let NewRoom {
            owner,
            name,
            description,
            invite,
        } = room;
        let mut tx = begin_write(&self.writer, self.backend).await?;
        if let Some(prev) = idem_lookup(&mut *tx, &idem).await? {
            let rid = idem_result(&prev, "room")?;
            return Ok(Written {
                value: rid,
                replayed: true,
            });
        }
        let rid = RoomId::new();
        sqlx::query(
            "INSERT INTO rooms (id, kind, name, description, created_by, created_at, last_activity_at) VALUES ($1, 'group', $2, $3, $4, $5, $6)",
        )
        .bind(rid.to_string())
        .bind(name.as_str())
        .bind(description.as_str())
        .bind(owner.to_string())
        .bind(now)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        add_member(&mut tx, rid, owner, RoomRole::Owner, false, now).await?;
        for u in invite {
            if u != owner && add_member(&mut tx, rid, u, RoomRole::Member, false, now).await? {
                insert_inbox(&mut tx, u, "invite", Some(rid), None, Some(owner), now).await?;
            }
        }
        idem_store(&mut tx, &idem, &format!("room:{rid}"), now).await?;
        commit_audited(
            tx,
            AuditRecord {
                object: format!("room:{rid}"),
                ..audit
            },
        )
        .await?;
        Ok(Written {
            value: rid,
            replayed: false,
        })
    }

    async fn open_direct(
        &self,
        a: UserId,
        b: UserId,
        now: Millis,
        audit: AuditRecord,
    ) -> StoreResult<RoomId> {
        let (x, y) = if a <= b { (a, b) } else { (b, a) };
        let key = format!("{x}:{y}");
        let mut tx = begin_write(&self.writer, self.backend).await?;
        let existing: Option<String> = sqlx::query_scalar("SELECT id FROM rooms WHERE dm_key = $1")
            .bind(&key)
            .fetch_optional(&mut *tx)
            .await?;
        if let Some(e) = existing.and_then(|s| s.parse().ok()) {
            // Someone who left the conversation comes back to it.
            add_member(&mut tx, e, a, RoomRole::Member, false, now).await?;
            add_member(&mut tx, e, b, RoomRole::Member, false, now).await?;
            tx.commit().await?;
            return Ok(e);
        }
        let rid = RoomId::new();
        sqlx::query(
            "INSERT INTO rooms (id, kind, name, description, dm_key, created_by, created_at, last_activity_at) VALUES ($1, 'direct', '', '', $2, $3, $4, $5)",
        )
        .bind(rid.to_string())
        .bind(&key)
        .bind(a.to_string())
        .bind(now)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        add_member(&mut tx, rid, a, RoomRole::Member, false, now).await?;
        add_member(&mut tx, rid, b, RoomRole::Member, false, now).await?;
        commit_audited(
            tx,
            AuditRecord {
                object: format!("room:{rid}"),
                ..audit
            },
        )
        .await?;
        Ok(rid)
    }

    async fn create_token(
        &self,
        user: UserId,
        name: &str,
        token_hash: &str,
        now: Millis,
        audit: AuditRecord,
    ) -> StoreResult<String> {
        let id = uuid::Uuid::now_v7().to_string();
        let mut tx = begin_write(&self.writer, self.backend).await?;
        sqlx::query("INSERT INTO api_tokens (id, user_id, name, token_hash, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(&id)
            .bind(user.to_string())
            .bind(name)
            .bind(token_hash)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        commit_audited(
            tx,
            AuditRecord {
                object: format!("token:{id}"),
                ..audit
            },
        )
        .await?;
        Ok(id)
    }

    async fn list_tokens(&self, user: UserId) -> StoreResult<Vec<ApiToken>> {
        let rows = sqlx::query(
            "SELECT id, name, created_at, last_used_at, revoked_at FROM api_tokens WHERE user_id = $1 ORDER BY created_at DESC",
        )
        .bind(user.to_string())
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ApiToken {
                    id: r.try_get("id")?,
                    name: r.try_get("name")?,
                    created_at: r.try_get("created_at")?,
                    last_used_at: r.try_get("last_used_at")?,
                    revoked: r.try_get::<Option<i64>, _>("revoked_at")?.is_some(),
                })
            })
            .collect()
    }

    async fn revoke_token(
        &self,
        user: UserId,
        id: &str,
        now: Millis,
        audit: AuditRecord,
    ) -> StoreResult<()> {
        let mut tx = begin_write(&self.writer, self.backend).await?;
        let n = sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND user_id = $3 AND revoked_at IS NULL")
            .bind(now)
            .bind(id)
            .bind(user.to_string())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        commit_audited(tx, audit).await?;
        Ok(())
    }

    async fn token_user(&self, token_hash: &str, now: Millis) -> StoreResult<Option<User>> {
        let row = sqlx::query(&format!(
            "SELECT t.id AS t_id, t.last_used_at AS t_used, x.* FROM api_tokens t JOIN ({USER_SELECT}) x ON x.id = t.user_id \
             WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND x.active = 1"
        ))
        .bind(token_hash)
        .fetch_optional(&self.reader)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let used: Option<i64> = row.try_get("t_used")?;
        if used.is_none_or(|u| now - u > 60_000) {
            sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2")
                .bind(now)
                .bind(row.try_get::<String, _>("t_id")?)
                .execute(&self.writer)
                .await?;
        }
        Ok(Some(user_row(&row)?))
    }

    async fn rooms_for_user(&self, user: UserId) -> StoreResult<Vec<RoomSummary>> {
        let rows = sqlx::query(&format!(
            "SELECT {ROOM_COLS}, rm.role AS my_role, \
             (SELECT COUNT(*) FROM messages m WHERE m.room_id = r.id AND m.pos > rm.last_read_pos \
               AND m.author_id <> rm.user_id AND m.deleted_at IS NULL) AS unread, \
             (CASE WHEN r.kind = 'direct' THEN (SELECT u.display_name FROM room_members o JOIN users u ON u.id = o.user_id \
               WHERE o.room_id = r.id AND o.user_id <> rm.user_id LIMIT 1) END) AS peer_name \
             FROM room_members rm JOIN rooms r ON r.id = rm.room_id WHERE rm.user_id = $1 \
             ORDER BY (r.archived_at IS NOT NULL), last_activity_at DESC"
        ))
        .bind(user.to_string())
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(RoomSummary {
                    room: room_row(r)?,
                    my_role: RoomRole::parse(&r.try_get::<String, _>("my_role")?)
                        .map_err(corrupt)?,
                    unread: r.try_get("unread")?,
                    peer_name: r.try_get("peer_name")?,
                })
            })
            .collect()
    }

    async fn room_for_member(&self, room: RoomId, user: UserId) -> StoreResult<(Room, RoomRole)> {
        let row = sqlx::query(&format!(
            "SELECT {ROOM_COLS}, rm.role AS my_role FROM rooms r JOIN room_members rm ON rm.room_id = r.id \
             WHERE r.id = $1 AND rm.user_id = $2"
        ))
        .bind(room.to_string())
        .bind(user.to_string())
        .fetch_optional(&self.reader)
        .await?
        .ok_or(StoreError::NotFound)?;
        Ok((
            room_row(&row)?,
            RoomRole::parse(&row.try_get::<String, _>("my_role")?).map_err(corrupt)?,
        ))
    }

    async fn members(&self, room: RoomId) -> StoreResult<Vec<Member>> {
        let rows = sqlx::query(
            "SELECT rm.user_id, u.login, u.display_name, u.org_id, o.name AS org_name, rm.role, rm.via_org, rm.last_read_pos \
             FROM room_members rm JOIN users u ON u.id = rm.user_id JOIN orgs o ON o.id = u.org_id \
             WHERE rm.room_id = $1 ORDER BY o.is_deployment DESC, COALESCE(o.lg_code, '999999'), o.name, u.display_name",
        )
        .bind(room.to_string())
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Member {
                    user_id: id(r, "user_id")?,
                    login: r.try_get("login")?,
                    display_name: r.try_get("display_name")?,
                    org_id: id(r, "org_id")?,
                    org_name: r.try_get("org_name")?,
                    role: RoomRole::parse(&r.try_get::<String, _>("role")?).map_err(corrupt)?,
                    via_org: r.try_get::<i64, _>("via_org")? != 0,
                    last_read_pos: r.try_get("last_read_pos")?,
                })
            })
            .collect()
    }

    async fn room_orgs(&self, room: RoomId) -> StoreResult<Vec<Org>> {
        let rows = sqlx::query(&format!(
            "{ORG_SELECT} JOIN room_orgs ro ON ro.org_id = o.id WHERE ro.room_id = $1 ORDER BY o.name"
        ))
        .bind(room.to_string())
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(org_row).collect()
    }

    async fn change_room(
        &self,
        room: RoomId,
        actor: UserId,
        change: RoomChange,
        now: Millis,
        audit: AuditRecord,
    ) -> StoreResult<()> {
        let mut tx = begin_write(&self.writer, self.backend).await?;
        let r = room.to_string();
        match change {
            RoomChange::AddUsers(users) => {
                for u in users {
                    if add_member(&mut tx, room, u, RoomRole::Member, false, now).await? {
                        insert_inbox(&mut tx, u, "invite", Some(room), None, Some(actor), now)
                            .await?;
                    }
                }
            }
            RoomChange::AddOrg(org) => add_org_to_room(&mut tx, room, org, now).await?,
            RoomChange::RemoveUser(u) => {
                let n = sqlx::query("DELETE FROM room_members WHERE room_id = $1 AND user_id = $2")
                    .bind(&r)
                    .bind(u.to_string())
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if n == 0 {
                    return Err(StoreError::NotFound);
                }
                insert_entry(
                    &mut tx,
                    EntryKind::MemberRemoved,
                    Some(room),
                    None,
                    Some(u),
                    now,
                )
                .await?;
            }
            RoomChange::RemoveOrg(org) => {
                sqlx::query("DELETE FROM room_orgs WHERE room_id = $1 AND org_id = $2")
                    .bind(&r)
                    .bind(org.to_string())
                    .execute(&mut *tx)
                    .await?;
                let gone: Vec<String> = sqlx::query_scalar(
                    "DELETE FROM room_members WHERE room_id = $1 AND via_org = 1 AND role = 'member' \
                     AND user_id IN (SELECT id FROM users WHERE org_id = $2) RETURNING user_id",
                )
                .bind(&r)
                .bind(org.to_string())
                .fetch_all(&mut *tx)
                .await?;
                for g in gone {
                    if let Ok(uid) = g.parse() {
                        insert_entry(
                            &mut tx,
                            EntryKind::MemberRemoved,
                            Some(room),
                            None,
                            Some(uid),
                            now,
                        )
                        .await?;
                    }
                }
            }
            RoomChange::SetRole(u, role) => {
                let n = sqlx::query(
                    "UPDATE room_members SET role = $1 WHERE room_id = $2 AND user_id = $3",
                )
                .bind(role.as_str())
                .bind(&r)
                .bind(u.to_string())
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if n == 0 {
                    return Err(StoreError::NotFound);
                }
                insert_entry(
                    &mut tx,
                    EntryKind::RoomUpdated,
                    Some(room),
                    None,
                    Some(u),
                    now,
                )
                .await?;
            }
            RoomChange::Rename(name, desc) => {
                sqlx::query("UPDATE rooms SET name = $1, description = $2 WHERE id = $3")
                    .bind(name.as_str())
                    .bind(desc.as_str())
                    .bind(&r)
                    .execute(&mut *tx)
                    .await?;
                insert_entry(&mut tx, EntryKind::RoomUpdated, Some(room), None, None, now).await?;
            }
            RoomChange::Archive(on) => {
                sqlx::query("UPDATE rooms SET archived_at = $1 WHERE id = $2")
                    .bind(if on { Some(now) } else { None })
                    .bind(&r)
                    .execute(&mut *tx)
                    .await?;
                insert_entry(&mut tx, EntryKind::RoomUpdated, Some(room), None, None, now).await?;
            }
        }
        commit_audited(tx, audit).await?;
        Ok(())
    }

    async fn mark_read(
        &self,
        room: RoomId,
        user: UserId,
        pos: i64,
        now: Millis,
    ) -> StoreResult<()> {
        let (reply, answer) = oneshot::channel();
        self.reads
            .send(ReadJob {
                room,
                user,
                pos,
                now,
                reply,
            })
            .await
            .map_err(|_| StoreError::Unavailable("the read writer stopped".into()))?;
        answer
            .await
            .map_err(|_| StoreError::Unavailable("the read writer stopped".into()))?
    }

    async fn post_message(
        &self,
        m: NewMessage,
        idem: Idem,
        now: Millis,
        audit: AuditRecord,
    ) -> StoreResult<Written<MessageId>> {
        let (reply, answer) = oneshot::channel();
        self.posts
            .send(PostJob {
                m,
                idem,
                now,
                audit,
                reply,
            })
            .await
            .map_err(|_| StoreError::Unavailable("the writer has stopped".into()))?;
        answer
            .await
            .map_err(|_| StoreError::Unavailable("the writer has stopped".into()))?
    }

    async fn edit_message(
        &self,
        mid: MessageId,
        body: MessageBody,
        now: Millis,
        audit: AuditRecord,
    ) -> StoreResult<()> {
        self.rewrite_message(mid, Some(body), now, audit).await
    }

    async fn delete_message(
        &self,
        mid: MessageId,
        now: Millis,
        audit: AuditRecord,
    ) -> StoreResult<()> {
        self.rewrite_message(mid, None, now, audit).await
    }

    async fn message(&self, room: RoomId, mid: MessageId) -> StoreResult<Message> {
        let row = sqlx::query(&format!(
            "SELECT {MSG_COLS} FROM messages m {MSG_JOINS} WHERE m.id = $1 AND m.room_id = $2"
        ))
        .bind(mid.to_string())
        .bind(room.to_string())
        .fetch_optional(&self.reader)
        .await?
        .ok_or(StoreError::NotFound)?;
        let mut m = message_row(&row)?.ok_or(StoreError::NotFound)?;
        self.attach_asks(&mut [&mut m]).await?;
        Ok(m)
    }

    async fn messages_before(
        &self,
        room: RoomId,
        before: Option<i64>,
        limit: i64,
    ) -> StoreResult<Vec<Message>> {
        let rows = sqlx::query(&format!(
            "SELECT {MSG_COLS} FROM messages m {MSG_JOINS} WHERE m.room_id = $1 AND m.pos < $2 ORDER BY m.pos DESC LIMIT $3"
        ))
        .bind(room.to_string())
        .bind(before.unwrap_or(i64::MAX))
        .bind(limit)
        .fetch_all(&self.reader)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows.iter().rev() {
            if let Some(m) = message_row(r)? {
                out.push(m);
            }
        }
        self.attach_asks(&mut out.iter_mut().collect::<Vec<_>>())
            .await?;
        Ok(out)
    }

    async fn search(
        &self,
        user: UserId,
        folded_query: &str,
        limit: i64,
    ) -> StoreResult<Vec<SearchHit>> {
        let pattern = format!(
            "%{}%",
            folded_query
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        let rows = sqlx::query(&format!(
            "SELECT {MSG_COLS}, rr.name AS room_name, rr.kind AS room_kind FROM messages m {MSG_JOINS} JOIN rooms rr ON rr.id = m.room_id \
             WHERE m.room_id IN (SELECT room_id FROM room_members WHERE user_id = $1) AND m.deleted_at IS NULL \
             AND m.search_text LIKE $2 ESCAPE '\\' ORDER BY m.pos DESC LIMIT $3"
        ))
        .bind(user.to_string())
        .bind(pattern)
        .bind(limit)
        .fetch_all(&self.reader)
        .await?;
        let mut out = Vec::new();
        for r in &rows {
            if let Some(m) = message_row(r)? {
                out.push(SearchHit {
                    message: m,
                    room_name: r.try_get("room_name")?,
                });
            }
        }
        Ok(out)
    }

    async fn head(&self) -> StoreResult<i64> {
        Ok(
            sqlx::query_scalar("SELECT COALESCE(MAX(pos), 0) FROM entries")
                .fetch_one(&self.reader)
                .await?,
        )
    }

    async fn entries_after(&self, after: i64, limit: i64) -> StoreResult<Vec<Entry>> {
        let rows = sqlx::query(&format!(
            "{} WHERE e.pos > $1 ORDER BY e.pos LIMIT $2",
            entry_select()
        ))
        .bind(after)
        .bind(limit)
        .fetch_all(&self.reader)
        .await?;
        self.with_records(&rows).await
    }

    async fn visible_entries_after(
        &self,
        user: UserId,
        after: i64,
        limit: i64,
    ) -> StoreResult<Vec<Entry>> {
        let u = user.to_string();
        let rows = sqlx::query(&format!(
            "{} WHERE e.pos > $1 AND (e.user_id = $2 OR e.room_id IN (SELECT room_id FROM room_members WHERE user_id = $3)) \
             ORDER BY e.pos LIMIT $4",
            entry_select()
        ))
        .bind(after)
        .bind(&u)
        .bind(&u)
        .bind(limit)
        .fetch_all(&self.reader)
        .await?;
        self.with_records(&rows).await
    }

    async fn count_visible_after(&self, user: UserId, after: i64, cap: i64) -> StoreResult<i64> {
        let u = user.to_string();
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM (SELECT 1 FROM entries e WHERE e.pos > $1 AND (e.user_id = $2 OR \
             e.room_id IN (SELECT room_id FROM room_members WHERE user_id = $3)) LIMIT $4) x",
        )
        .bind(after)
        .bind(&u)
        .bind(&u)
        .bind(cap)
        .fetch_one(&self.reader)
        .await?)
    }

    async fn entry_time(&self, pos: i64) -> StoreResult<Option<Millis>> {
        Ok(sqlx::query_scalar("SELECT at FROM entries WHERE pos = $1")
            .bind(pos)
            .fetch_optional(&self.reader)
            .await?)
    }

    async fn inbox(&self, user: UserId, limit: i64) -> StoreResult<Vec<InboxItem>> {
        let rows = sqlx::query(
            "SELECT i.id, i.kind, i.room_id, r.name AS room_name, r.kind AS room_kind, i.message_id, i.ref_id, m.body AS body, \
             m.deleted_at AS deleted, a.display_name AS actor_name, i.created_at, i.read_at \
             FROM inbox i LEFT JOIN rooms r ON r.id = i.room_id LEFT JOIN messages m ON m.id = i.message_id \
             LEFT JOIN users a ON a.id = i.actor_id WHERE i.user_id = $1 ORDER BY i.created_at DESC, i.id DESC LIMIT $2",
        )
        .bind(user.to_string())
        .bind(limit)
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|r| {
                let body: Option<String> = r.try_get("body")?;
                let deleted = r.try_get::<Option<i64>, _>("deleted")?.is_some();
                let room_kind: Option<String> = r.try_get("room_kind")?;
                let room_name: Option<String> = r.try_get("room_name")?;
                Ok(InboxItem {
                    id: id(r, "id")?,
                    kind: r.try_get("kind")?,
                    room_id: opt_id(r, "room_id")?,
                    room_name: if room_kind.as_deref() == Some("direct") {
                        None
                    } else {
                        room_name
                    },
                    message_id: opt_id(r, "message_id")?,
                    ref_id: r.try_get("ref_id")?,
                    excerpt: body.filter(|_| !deleted).map(|b| excerpt(&b, 120)),
                    actor_name: r.try_get("actor_name")?,
                    created_at: r.try_get("created_at")?,
                    read: r.try_get::<Option<i64>, _>("read_at")?.is_some(),
                })
            })
            .collect()
    }

    async fn inbox_unread(&self, user: UserId) -> StoreResult<i64> {
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM inbox WHERE user_id = $1 AND read_at IS NULL")
                .bind(user.to_string())
                .fetch_one(&self.reader)
                .await?,
        )
    }

    async fn mark_inbox_read(
        &self,
        user: UserId,
        item: Option<InboxId>,
        now: Millis,
    ) -> StoreResult<()> {
        let mut tx = begin_write(&self.writer, self.backend).await?;
        let mut q = Built::new("UPDATE inbox SET read_at = ");
        q.bind_int(now)
            .push(" WHERE read_at IS NULL AND user_id = ")
            .bind_str(user.to_string());
        if let Some(i) = item {
            q.push(" AND id = ").bind_str(i.to_string());
        }
        let n = q.query().execute(&mut *tx).await?.rows_affected();
        if n > 0 {
            insert_entry(&mut tx, EntryKind::Inbox, None, None, Some(user), now).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn claim_mail(
        &self,
        since: Millis,
        now: Millis,
        limit: i64,
    ) -> StoreResult<Vec<MailItem>> {
        let rows = sqlx::query(
            "SELECT i.id, u.email, u.lang, i.kind, a.display_name AS actor_name, i.room_id, r.name AS room_name, \
             r.kind AS room_kind, i.message_id, i.ref_id, m.body AS body, m.deleted_at AS deleted \
             FROM inbox i JOIN users u ON u.id = i.user_id LEFT JOIN users a ON a.id = i.actor_id \
             LEFT JOIN rooms r ON r.id = i.room_id LEFT JOIN messages m ON m.id = i.message_id \
             WHERE i.mailed_at IS NULL AND i.created_at >= $1 AND i.read_at IS NULL \
             AND u.email IS NOT NULL AND u.active = 1 ORDER BY i.created_at LIMIT $2",
        )
        .bind(since)
        .bind(limit)
        .fetch_all(&self.reader)
        .await?;
        let mut out = Vec::new();
        for r in &rows {
            let id: InboxId = id(r, "id")?;
            let claimed =
                sqlx::query("UPDATE inbox SET mailed_at = $1 WHERE id = $2 AND mailed_at IS NULL")
                    .bind(now)
                    .bind(id.to_string())
                    .execute(&self.writer)
                    .await?
                    .rows_affected()
                    == 1;
            if !claimed {
                continue;
            }
            let lang: Option<String> = r.try_get("lang")?;
            let body: Option<String> = r.try_get("body")?;
            let deleted = r.try_get::<Option<i64>, _>("deleted")?.is_some();
            let room_kind: Option<String> = r.try_get("room_kind")?;
            out.push(MailItem {
                id,
                email: r.try_get("email")?,
                lang: lang.as_deref().and_then(|l| Lang::parse(l).ok()),
                kind: r.try_get("kind")?,
                actor_name: r.try_get("actor_name")?,
                room_id: opt_id(r, "room_id")?,
                room_name: if room_kind.as_deref() == Some("direct") {
                    None
                } else {
                    r.try_get("room_name")?
                },
                message_id: opt_id(r, "message_id")?,
                ref_id: r.try_get("ref_id")?,
                excerpt: body.filter(|_| !deleted).map(|b| excerpt(&b, 400)),
            });
        }
        Ok(out)
    }

    async fn unclaim_mail(&self, item: InboxId) -> StoreResult<()> {
        sqlx::query("UPDATE inbox SET mailed_at = NULL WHERE id = $1")
            .bind(item.to_string())
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn audit(&self, record: AuditRecord) -> StoreResult<()> {
        let tx = begin_write(&self.writer, self.backend).await?;
        commit_audited(tx, record).await
    }

    async fn audit_list(&self, f: AuditFilter) -> StoreResult<Vec<AuditRecord>> {
        let mut q = Built::new(
            "SELECT a.at, a.user_id, u.login AS user_login, a.org_id, a.action, a.object, a.address, a.result, a.detail \
             FROM audit a LEFT JOIN users u ON u.id = a.user_id WHERE 1 = 1",
        );
        if let Some(o) = f.org_id {
            q.push(" AND a.org_id = ").bind_str(o.to_string());
        }
        if let Some(a) = f.action.filter(|s| !s.is_empty()) {
            q.push(" AND a.action LIKE ").bind_str(format!("{a}%"));
        }
        if let Some(l) = f.user_login.filter(|s| !s.is_empty()) {
            q.push(" AND u.login = ").bind_str(l);
        }
        if let Some(b) = f.before {
            q.push(" AND a.at < ").bind_int(b);
        }
        q.push(" ORDER BY a.at DESC, a.id DESC LIMIT ")
            .bind_int(f.limit.clamp(1, 500));
        let rows = q.query().fetch_all(&self.reader).await?;
        rows.iter()
            .map(|r| {
                Ok(AuditRecord {
                    at: r.try_get("at")?,
                    user_id: opt_id(r, "user_id")?,
                    user_login: r.try_get("user_login")?,
                    org_id: opt_id(r, "org_id")?,
                    action: r.try_get("action")?,
                    object: r.try_get("object")?,
                    address: r.try_get("address")?,
                    result: r.try_get("result")?,
                    detail: r.try_get("detail")?,
                })
            })
            .collect()
    }

    async fn purge_idempotency(&self, before: Millis) -> StoreResult<u64> {
        Ok(sqlx::query("DELETE FROM idempotency WHERE created_at < $1")
            .bind(before)
            .execute(&self.writer)
            .await?
            .rows_affected())
    }
}
