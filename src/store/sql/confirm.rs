//! SQL for 要確認: requests written with their message (in the posting transaction), replies
//! that count as confirming, explicit confirmations, and the matrix.

use super::*;
use std::collections::HashMap;

/// Records the request a just-inserted message makes, its addressees, and an inbox item for
/// each person asked (for an organisation: its members in the room).
pub(super) async fn insert_request(
    tx: &mut Tx<'_>,
    mid: MessageId,
    m: &NewMessage,
    spec: &ConfirmSpec,
    now: Millis,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO confirm_requests (message_id, room_id, requester_id, broadcast_id, due_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(mid.to_string())
    .bind(m.room_id.to_string())
    .bind(m.author_id.to_string())
    .bind(spec.broadcast.map(|b| b.to_string()))
    .bind(spec.due_at)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    let mut asked: Vec<UserId> = Vec::new();
    for t in &spec.targets {
        sqlx::query(
            "INSERT INTO confirm_targets (message_id, target_kind, target_id) VALUES ($1, $2, $3)",
        )
        .bind(mid.to_string())
        .bind(t.kind())
        .bind(t.id_string())
        .execute(&mut **tx)
        .await?;
        let people: Vec<String> = match t {
            ConfirmTarget::User(u) => vec![u.to_string()],
            ConfirmTarget::Org(o) => {
                sqlx::query_scalar(
                    "SELECT rm.user_id FROM room_members rm JOIN users u ON u.id = rm.user_id \
                     WHERE rm.room_id = $1 AND u.org_id = $2 AND u.active = 1",
                )
                .bind(m.room_id.to_string())
                .bind(o.to_string())
                .fetch_all(&mut **tx)
                .await?
            }
        };
        for p in people {
            let Ok(uid) = p.parse::<UserId>() else {
                continue;
            };
            if uid != m.author_id && !asked.contains(&uid) {
                insert_inbox(
                    tx,
                    uid,
                    "confirm",
                    Some(m.room_id),
                    Some(mid),
                    Some(m.author_id),
                    now,
                )
                .await?;
                asked.push(uid);
            }
        }
    }
    Ok(())
}

/// The addressees `user` may confirm for: themselves, and their organisation.
async fn own_targets<'e, E>(ex: E, user: UserId) -> StoreResult<Vec<ConfirmTarget>>
where
    E: Executor<'e, Database = Any>,
{
    let org: Option<String> = sqlx::query_scalar("SELECT org_id FROM users WHERE id = $1")
        .bind(user.to_string())
        .fetch_optional(ex)
        .await?;
    let mut out = vec![ConfirmTarget::User(user)];
    if let Some(o) = org.and_then(|o| o.parse().ok()) {
        out.push(ConfirmTarget::Org(o));
    }
    Ok(out)
}

/// Marks `targets` of `message` confirmed by `user` where not confirmed yet.
async fn mark(
    tx: &mut Tx<'_>,
    message: MessageId,
    targets: &[ConfirmTarget],
    user: UserId,
    reply: Option<MessageId>,
    now: Millis,
) -> StoreResult<usize> {
    let mut n = 0;
    for t in targets {
        let r = sqlx::query(
            "UPDATE confirm_targets SET confirmed_by = $1, confirmed_at = $2, reply_id = $3 \
             WHERE message_id = $4 AND target_kind = $5 AND target_id = $6 AND confirmed_at IS NULL",
        )
        .bind(user.to_string())
        .bind(now)
        .bind(reply.map(|r| r.to_string()))
        .bind(message.to_string())
        .bind(t.kind())
        .bind(t.id_string())
        .execute(&mut **tx)
        .await?;
        n += r.rows_affected() as usize;
    }
    if n > 0 {
        let room: Option<String> =
            sqlx::query_scalar("SELECT room_id FROM confirm_requests WHERE message_id = $1")
                .bind(message.to_string())
                .fetch_optional(&mut **tx)
                .await?;
        let room = room.and_then(|r| r.parse().ok());
        insert_entry(tx, EntryKind::Confirmed, room, Some(message), None, now).await?;
    }
    Ok(n)
}

/// A reply to a request counts as its author confirming (for themselves and their
/// organisation, where asked).
pub(super) async fn confirm_by_reply(
    tx: &mut Tx<'_>,
    reply_to: MessageId,
    author: UserId,
    reply: MessageId,
    now: Millis,
) -> StoreResult<()> {
    let asks: Option<String> =
        sqlx::query_scalar("SELECT message_id FROM confirm_requests WHERE message_id = $1")
            .bind(reply_to.to_string())
            .fetch_optional(&mut **tx)
            .await?;
    if asks.is_some() {
        let targets = own_targets(&mut **tx, author).await?;
        mark(tx, reply_to, &targets, author, Some(reply), now).await?;
    }
    Ok(())
}

/// Columns of an addressee row with its names (table `t`, joined as in [`ROW_JOINS`]).
const ROW_COLS: &str = "t.message_id, cr.room_id, rr.name AS room_name, cr.due_at, t.target_kind, t.target_id, \
    t.confirmed_by, t.confirmed_at, t.reply_id, COALESCE(o.name, u.display_name, '') AS name, \
    cu.display_name AS by_name";

const ROW_JOINS: &str = "JOIN confirm_requests cr ON cr.message_id = t.message_id \
    JOIN rooms rr ON rr.id = cr.room_id \
    LEFT JOIN orgs o ON t.target_kind = 'org' AND o.id = t.target_id \
    LEFT JOIN users u ON t.target_kind = 'user' AND u.id = t.target_id \
    LEFT JOIN users cu ON cu.id = t.confirmed_by";

/// The addressee in columns `<prefix>_kind` and `<prefix>_id` (both NULL: none).
pub(super) fn target_cols(r: &AnyRow, prefix: &str) -> StoreResult<Option<ConfirmTarget>> {
    let kind: Option<String> = r.try_get(format!("{prefix}_kind").as_str())?;
    let tid: Option<String> = r.try_get(format!("{prefix}_id").as_str())?;
    match (kind, tid) {
        (Some(k), Some(i)) => ConfirmTarget::parse(&k, &i)
            .map(Some)
            .ok_or_else(|| StoreError::Corrupt(format!("bad {prefix}: {k} {i}"))),
        _ => Ok(None),
    }
}

fn target_of(r: &AnyRow) -> StoreResult<ConfirmTarget> {
    target_cols(r, "target")?.ok_or_else(|| StoreError::Corrupt("addressee missing".into()))
}

fn confirm_row(r: &AnyRow) -> StoreResult<ConfirmRow> {
    Ok(ConfirmRow {
        target: target_of(r)?,
        message_id: id(r, "message_id")?,
        room_id: id(r, "room_id")?,
        room_name: r.try_get("room_name")?,
        due_at: r.try_get("due_at")?,
        name: r.try_get("name")?,
        confirmed_by: opt_id(r, "confirmed_by")?,
        confirmed_by_name: r.try_get("by_name")?,
        confirmed_at: r.try_get("confirmed_at")?,
        reply_id: opt_id(r, "reply_id")?,
    })
}

impl SqlStore {
    /// What each of `messages` asks, for those that ask anything.
    pub(super) async fn asks(
        &self,
        messages: &[MessageId],
    ) -> StoreResult<HashMap<MessageId, AskState>> {
        let mut out: HashMap<MessageId, AskState> = HashMap::new();
        if messages.is_empty() {
            return Ok(out);
        }
        let mut q = Built::new(
            "SELECT t.message_id, t.target_kind, t.target_id, t.confirmed_at, cr.due_at, cr.broadcast_id \
             FROM confirm_targets t JOIN confirm_requests cr ON cr.message_id = t.message_id \
             WHERE t.message_id IN (",
        );
        for (n, m) in messages.iter().enumerate() {
            if n > 0 {
                q.push(", ");
            }
            q.bind_str(m.to_string());
        }
        q.push(") ORDER BY t.target_kind, t.target_id");
        for r in q.query().fetch_all(&self.reader).await? {
            let mid: MessageId = id(&r, "message_id")?;
            let a = out.entry(mid).or_default();
            a.due_at = r.try_get("due_at")?;
            a.broadcast = opt_id(&r, "broadcast_id")?;
            let done = r.try_get::<Option<i64>, _>("confirmed_at")?.is_some();
            a.targets.push((target_of(&r)?, done));
        }
        Ok(out)
    }

    /// Fills in what each message asks (those whose row said it asks something).
    pub(super) async fn attach_asks(&self, messages: &mut [&mut Message]) -> StoreResult<()> {
        let asking: Vec<MessageId> = messages
            .iter()
            .filter(|m| m.ask.is_some())
            .map(|m| m.id)
            .collect();
        let mut asks = self.asks(&asking).await?;
        for m in messages.iter_mut() {
            if m.ask.is_some() {
                m.ask = asks.remove(&m.id);
            }
        }
        Ok(())
    }

    /// The request(s) matching `filter` (on `cr`), as one.
    async fn request_where(
        &self,
        filter: &str,
        value: String,
    ) -> StoreResult<Option<ConfirmRequest>> {
        let Some(head) = sqlx::query(&format!(
            "SELECT cr.message_id, cr.room_id, cr.requester_id, cr.broadcast_id, cr.due_at, cr.created_at \
             FROM confirm_requests cr WHERE {filter} ORDER BY cr.message_id LIMIT 1"
        ))
        .bind(value.clone())
        .fetch_optional(&self.reader)
        .await?
        else {
            return Ok(None);
        };
        let rows = sqlx::query(&format!(
            "SELECT {ROW_COLS} FROM confirm_targets t {ROW_JOINS} WHERE {filter} ORDER BY name, t.target_id, rr.name"
        ))
        .bind(value)
        .fetch_all(&self.reader)
        .await?;
        Ok(Some(ConfirmRequest {
            message_id: id(&head, "message_id")?,
            room_id: id(&head, "room_id")?,
            requester_id: id(&head, "requester_id")?,
            broadcast: opt_id(&head, "broadcast_id")?,
            due_at: head.try_get("due_at")?,
            created_at: head.try_get("created_at")?,
            rows: rows.iter().map(confirm_row).collect::<StoreResult<_>>()?,
        }))
    }
}

#[async_trait]
impl ConfirmStore for SqlStore {
    async fn confirm_request(&self, message: MessageId) -> StoreResult<Option<ConfirmRequest>> {
        self.request_where("cr.message_id = $1", message.to_string())
            .await
    }

    async fn broadcast_request(
        &self,
        broadcast: BroadcastId,
    ) -> StoreResult<Option<ConfirmRequest>> {
        self.request_where("cr.broadcast_id = $1", broadcast.to_string())
            .await
    }

    async fn broadcasts(
        &self,
        org: OrgId,
        sender: Option<UserId>,
        limit: i64,
    ) -> StoreResult<Vec<BroadcastSummary>> {
        let mut q = Built::new(
            "SELECT cr.broadcast_id AS id, MIN(u.display_name) AS sender_name, \
             MIN(cr.created_at) AS created_at, MIN(m.body) AS body, \
             COUNT(t.target_id) AS total, COUNT(t.confirmed_at) AS confirmed \
             FROM confirm_requests cr JOIN users u ON u.id = cr.requester_id \
             JOIN messages m ON m.id = cr.message_id \
             LEFT JOIN confirm_targets t ON t.message_id = cr.message_id \
             WHERE cr.broadcast_id IS NOT NULL AND u.org_id = ",
        );
        q.bind_str(org.to_string());
        if let Some(u) = sender {
            q.push(" AND cr.requester_id = ").bind_str(u.to_string());
        }
        q.push(
            " GROUP BY cr.broadcast_id ORDER BY MIN(cr.created_at) DESC, cr.broadcast_id LIMIT ",
        )
        .bind_int(limit);
        let rows = q.query().fetch_all(&self.reader).await?;
        rows.iter()
            .map(|r| {
                Ok(BroadcastSummary {
                    id: id(r, "id")?,
                    sender_name: r.try_get("sender_name")?,
                    created_at: r.try_get("created_at")?,
                    excerpt: excerpt(&r.try_get::<String, _>("body")?, 60),
                    total: r.try_get("total")?,
                    confirmed: r.try_get("confirmed")?,
                })
            })
            .collect()
    }

    async fn remind(
        &self,
        messages: &[MessageId],
        actor: UserId,
        now: Millis,
        quiet_since: Millis,
        audit: AuditRecord,
    ) -> StoreResult<usize> {
        let mut tx = begin_write(&self.writer, self.backend).await?;
        let mut reminded = 0;
        let mut due = 0;
        for mid in messages {
            let claimed = sqlx::query(
                "UPDATE confirm_requests SET reminded_at = $1 WHERE message_id = $2 \
                 AND (reminded_at IS NULL OR reminded_at <= $3)",
            )
            .bind(now)
            .bind(mid.to_string())
            .bind(quiet_since)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if claimed == 0 {
                continue;
            }
            due += 1;
            // The people behind every addressee not confirmed yet.
            let people: Vec<(String, String)> = sqlx::query_as(
                "SELECT DISTINCT rm.user_id, cr.room_id FROM confirm_targets t \
                 JOIN confirm_requests cr ON cr.message_id = t.message_id \
                 JOIN room_members rm ON rm.room_id = cr.room_id \
                 JOIN users u ON u.id = rm.user_id \
                 WHERE t.message_id = $1 AND t.confirmed_at IS NULL AND u.active = 1 \
                 AND ((t.target_kind = 'user' AND t.target_id = rm.user_id) \
                   OR (t.target_kind = 'org' AND t.target_id = u.org_id))",
            )
            .bind(mid.to_string())
            .fetch_all(&mut *tx)
            .await?;
            for (user, room) in people {
                let (Ok(uid), Ok(rid)) = (user.parse::<UserId>(), room.parse::<RoomId>()) else {
                    continue;
                };
                if uid == actor {
                    continue;
                }
                insert_inbox(
                    &mut tx,
                    uid,
                    "confirm_reminder",
                    Some(rid),
                    Some(*mid),
                    Some(actor),
                    now,
                )
                .await?;
                reminded += 1;
            }
        }
        if due == 0 && !messages.is_empty() {
            tx.rollback().await?;
            return Err(StoreError::Conflict("reminded"));
        }
        commit_audited(tx, audit).await?;
        Ok(reminded)
    }

    async fn confirm(
        &self,
        message: MessageId,
        targets: &[ConfirmTarget],
        user: UserId,
        now: Millis,
    ) -> StoreResult<usize> {
        let mut tx = begin_write(&self.writer, self.backend).await?;
        let n = mark(&mut tx, message, targets, user, None, now).await?;
        tx.commit().await?;
        Ok(n)
    }
}
