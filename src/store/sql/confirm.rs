//! SQL for 要確認: requests written with their message (in the posting transaction), replies
//! that count as confirming, explicit confirmations, and the matrix.

use super::*;

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
    .bind(spec.broadcast.clone())
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

#[async_trait]
impl ConfirmStore for SqlStore {
    async fn confirm_request(&self, message: MessageId) -> StoreResult<Option<ConfirmRequest>> {
        let Some(head) = sqlx::query(
            "SELECT message_id, room_id, requester_id, broadcast_id, due_at, created_at \
             FROM confirm_requests WHERE message_id = $1",
        )
        .bind(message.to_string())
        .fetch_optional(&self.reader)
        .await?
        else {
            return Ok(None);
        };
        let rows = sqlx::query(
            "SELECT t.target_kind, t.target_id, t.confirmed_by, t.confirmed_at, t.reply_id, \
             COALESCE(o.name, u.display_name, '') AS name, cu.display_name AS by_name \
             FROM confirm_targets t \
             LEFT JOIN orgs o ON t.target_kind = 'org' AND o.id = t.target_id \
             LEFT JOIN users u ON t.target_kind = 'user' AND u.id = t.target_id \
             LEFT JOIN users cu ON cu.id = t.confirmed_by \
             WHERE t.message_id = $1 ORDER BY name, t.target_id",
        )
        .bind(message.to_string())
        .fetch_all(&self.reader)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let kind: String = r.try_get("target_kind")?;
            let target = match kind.as_str() {
                "org" => ConfirmTarget::Org(id(r, "target_id")?),
                _ => ConfirmTarget::User(id(r, "target_id")?),
            };
            out.push(ConfirmRow {
                target,
                name: r.try_get("name")?,
                confirmed_by: opt_id(r, "confirmed_by")?,
                confirmed_by_name: r.try_get("by_name")?,
                confirmed_at: r.try_get("confirmed_at")?,
                reply_id: opt_id(r, "reply_id")?,
            });
        }
        Ok(Some(ConfirmRequest {
            message_id: id(&head, "message_id")?,
            room_id: id(&head, "room_id")?,
            requester_id: id(&head, "requester_id")?,
            broadcast: head.try_get("broadcast_id")?,
            due_at: head.try_get("due_at")?,
            created_at: head.try_get("created_at")?,
            rows: out,
        }))
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
