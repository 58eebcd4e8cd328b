//! SQL for handoffs and incident events.

use super::*;

/// Records an item or handoff event at a new timeline entry of the incident.
#[allow(clippy::too_many_arguments)]
pub(super) async fn insert_event(
    tx: &mut Tx<'_>,
    entry: EntryKind,
    incident: RoomId,
    kind: EventKind,
    ref_id: &str,
    title: &str,
    detail: &str,
    user: Option<UserId>,
    at: Millis,
) -> StoreResult<i64> {
    let pos = insert_record_entry(tx, entry, incident, ref_id, at).await?;
    sqlx::query(
        "INSERT INTO incident_events (pos, incident_id, kind, ref_id, title, detail, user_id, at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(pos)
    .bind(incident.to_string())
    .bind(kind.as_str())
    .bind(ref_id)
    .bind(title)
    .bind(detail)
    .bind(user.map(|u| u.to_string()))
    .bind(at)
    .execute(&mut **tx)
    .await?;
    Ok(pos)
}

const HANDOFF_COLS: &str = "h.id, h.incident_id, r.name AS incident_name, h.org_id, o.name AS org_name, \
    h.position_id, p.name AS position_name, \
    h.from_user, fu.display_name AS from_name, h.to_user, tu.display_name AS to_name, h.summary, h.risks, \
    h.notes, h.facts, h.period_from, h.items_carried, h.items_added, h.items_closed, h.version, \
    h.created_at, h.updated_at, h.acknowledged_at, h.escalated_at, \
    (SELECT COUNT(*) FROM handoff_items q WHERE q.handoff_id = h.id AND q.question IS NOT NULL) AS questions, \
    (SELECT COUNT(*) FROM handoff_items a WHERE a.handoff_id = h.id AND a.acknowledged_at IS NOT NULL) AS acked";

const HANDOFF_JOINS: &str = "JOIN rooms r ON r.id = h.incident_id JOIN orgs o ON o.id = h.org_id \
    JOIN users fu ON fu.id = h.from_user JOIN users tu ON tu.id = h.to_user \
    LEFT JOIN positions p ON p.id = h.position_id";

fn handoff_row(r: &AnyRow) -> StoreResult<Handoff> {
    let facts: String = r.try_get("facts")?;
    Ok(Handoff {
        id: id(r, "id")?,
        incident: id(r, "incident_id")?,
        incident_name: r.try_get("incident_name")?,
        org_id: id(r, "org_id")?,
        org_name: r.try_get("org_name")?,
        position_id: opt_id(r, "position_id")?,
        position_name: r.try_get("position_name")?,
        from_user: id(r, "from_user")?,
        from_name: r.try_get("from_name")?,
        to_user: id(r, "to_user")?,
        to_name: r.try_get("to_name")?,
        summary: r.try_get("summary")?,
        risks: r.try_get("risks")?,
        notes: r.try_get("notes")?,
        facts: serde_json::from_str(&facts)
            .map_err(|e| StoreError::Corrupt(format!("handoff facts: {e}")))?,
        period_from: r.try_get("period_from")?,
        items_carried: r.try_get("items_carried")?,
        items_added: r.try_get("items_added")?,
        items_closed: r.try_get("items_closed")?,
        questions: r.try_get("questions")?,
        items_acknowledged: r.try_get("acked")?,
        version: r.try_get("version")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        acknowledged_at: r.try_get("acknowledged_at")?,
        escalated_at: r.try_get("escalated_at")?,
        items: Vec::new(),
    })
}

const POSITION_SELECT: &str = "SELECT p.id, p.incident_id, p.name, p.holder_id, \
    u.display_name AS holder_name, p.since FROM positions p LEFT JOIN users u ON u.id = p.holder_id";

fn position_row(r: &AnyRow) -> StoreResult<Position> {
    Ok(Position {
        id: id(r, "id")?,
        incident: id(r, "incident_id")?,
        name: r.try_get("name")?,
        holder_id: opt_id(r, "holder_id")?,
        holder_name: r.try_get("holder_name")?,
        since: r.try_get("since")?,
    })
}

fn event_row(r: &AnyRow) -> StoreResult<IncidentEvent> {
    Ok(IncidentEvent {
        pos: r.try_get("pos")?,
        incident: id(r, "incident_id")?,
        kind: EventKind::parse(&r.try_get::<String, _>("kind")?).map_err(corrupt)?,
        ref_id: r.try_get("ref_id")?,
        title: r.try_get("title")?,
        detail: r.try_get("detail")?,
        user_name: r.try_get("user_name")?,
        at: r.try_get("at")?,
    })
}

const EVENT_SELECT: &str = "SELECT e.pos, e.incident_id, e.kind, e.ref_id, e.title, e.detail, \
    u.display_name AS user_name, e.at FROM incident_events e LEFT JOIN users u ON u.id = e.user_id";

/// What the writes of a handoff need to know of it, read in their transaction.
struct HandoffHead {
    id: HandoffId,
    incident: RoomId,
    org: OrgId,
    position: Option<PositionId>,
    from: UserId,
    to: UserId,
    /// "from → to", the title of its timeline events.
    title: String,
    acknowledged: bool,
}

async fn handoff_head(tx: &mut Tx<'_>, hid: HandoffId) -> StoreResult<HandoffHead> {
    let row = sqlx::query(
        "SELECT h.incident_id, h.org_id, h.position_id, h.from_user, h.to_user, \
         fu.display_name || ' → ' || tu.display_name AS title, h.acknowledged_at \
         FROM handoffs h JOIN users fu ON fu.id = h.from_user JOIN users tu ON tu.id = h.to_user \
         WHERE h.id = $1",
    )
    .bind(hid.to_string())
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(StoreError::NotFound)?;
    Ok(HandoffHead {
        id: hid,
        incident: id(&row, "incident_id")?,
        org: id(&row, "org_id")?,
        position: opt_id(&row, "position_id")?,
        from: id(&row, "from_user")?,
        to: id(&row, "to_user")?,
        title: row.try_get("title")?,
        acknowledged: row.try_get::<Option<i64>, _>("acknowledged_at")?.is_some(),
    })
}

/// An inbox item about a handoff (the incoming person's, or a manager's when it is overdue).
async fn inbox_about(
    tx: &mut Tx<'_>,
    user: UserId,
    kind: &str,
    head: &HandoffHead,
    actor: UserId,
    now: Millis,
) -> StoreResult<()> {
    let record = head.id.to_string();
    insert_inbox_about(
        tx,
        user,
        kind,
        Some(head.incident),
        None,
        Some(&record),
        Some(actor),
        now,
    )
    .await
}

/// The title of an item of a handoff, read in `tx`.
async fn handoff_item_title(tx: &mut Tx<'_>, hid: HandoffId, item: ItemId) -> StoreResult<String> {
    sqlx::query_scalar("SELECT title FROM handoff_items WHERE handoff_id = $1 AND item_id = $2")
        .bind(hid.to_string())
        .bind(item.to_string())
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(StoreError::NotFound)
}

#[async_trait]
impl HandoffStore for SqlStore {
    async fn last_handoff_at(
        &self,
        incident: RoomId,
        org: OrgId,
        position: Option<PositionId>,
    ) -> StoreResult<Option<Millis>> {
        let mut q = Built::new("SELECT MAX(acknowledged_at) FROM handoffs WHERE incident_id = ");
        q.bind_str(incident.to_string());
        match position {
            Some(p) => q.push(" AND position_id = ").bind_str(p.to_string()),
            None => q
                .push(" AND position_id IS NULL AND org_id = ")
                .bind_str(org.to_string()),
        };
        let row = q.query().fetch_one(&self.reader).await?;
        Ok(row.try_get::<Option<i64>, _>(0)?)
    }

    async fn positions(&self, incident: RoomId) -> StoreResult<Vec<Position>> {
        let rows = sqlx::query(&format!(
            "{POSITION_SELECT} WHERE p.incident_id = $1 ORDER BY p.name"
        ))
        .bind(incident.to_string())
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(position_row).collect()
    }

    async fn position(&self, pid: PositionId) -> StoreResult<Position> {
        let row = sqlx::query(&format!("{POSITION_SELECT} WHERE p.id = $1"))
            .bind(pid.to_string())
            .fetch_optional(&self.reader)
            .await?
            .ok_or(StoreError::NotFound)?;
        position_row(&row)
    }

    async fn create_position(
        &self,
        incident: RoomId,
        name: PositionName,
        by: UserId,
        now: Millis,
        audit: AuditRecord,
    ) -> StoreResult<PositionId> {
        let mut tx = begin_write(&self.writer, self.backend).await?;
        let pid = PositionId::new();
        sqlx::query(
            "INSERT INTO positions (id, incident_id, name, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(pid.to_string())
        .bind(incident.to_string())
        .bind(name.as_str())
        .bind(by.to_string())
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(unique("name"))?;
        insert_record_entry(&mut tx, EntryKind::Duty, incident, &pid.to_string(), now).await?;
        commit_audited(
            tx,
            AuditRecord {
                object: format!("position:{pid}"),
                ..audit
            },
        )
        .await?;
        Ok(pid)
    }

    async fn take_position(
        &self,
        pid: PositionId,
        user: UserId,
        now: Millis,
        audit: AuditRecord,
    ) -> StoreResult<bool> {
        let mut tx = begin_write(&self.writer, self.backend).await?;
        let incident: String =
            sqlx::query_scalar("SELECT incident_id FROM positions WHERE id = $1")
                .bind(pid.to_string())
                .fetch_optional(&mut *tx)
                .await?
                .ok_or(StoreError::NotFound)?;
        let took = sqlx::query(
            "UPDATE positions SET holder_id = $1, since = $2 WHERE id = $3 AND holder_id IS NULL",
        )
        .bind(user.to_string())
        .bind(now)
        .bind(pid.to_string())
        .execute(&mut *tx)
        .await?
        .rows_affected()
            > 0;
        if !took {
            tx.rollback().await?;
            return Ok(false);
        }
        let incident: RoomId = incident
            .parse()
            .map_err(|_| StoreError::Corrupt("bad incident id of a position".into()))?;
        insert_record_entry(&mut tx, EntryKind::Duty, incident, &pid.to_string(), now).await?;
        commit_audited(tx, audit).await?;
        Ok(true)
    }

    async fn unconfirmed_asks(&self, room: RoomId) -> StoreResult<Vec<AskFact>> {
        let rows = sqlx::query(
            "SELECT cr.message_id, m.body, cr.due_at, COUNT(*) AS total, \
             SUM(CASE WHEN t.confirmed_at IS NULL THEN 1 ELSE 0 END) AS pending \
             FROM confirm_requests cr JOIN messages m ON m.id = cr.message_id \
             JOIN confirm_targets t ON t.message_id = cr.message_id \
             WHERE cr.room_id = $1 AND m.deleted_at IS NULL \
             GROUP BY cr.message_id, m.body, cr.due_at, cr.created_at \
             HAVING SUM(CASE WHEN t.confirmed_at IS NULL THEN 1 ELSE 0 END) > 0 \
             ORDER BY cr.created_at",
        )
        .bind(room.to_string())
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(AskFact {
                    message_id: id(r, "message_id")?,
                    excerpt: excerpt(&r.try_get::<String, _>("body")?, 120),
                    pending: r.try_get("pending")?,
                    total: r.try_get("total")?,
                    due_at: r.try_get("due_at")?,
                })
            })
            .collect()
    }

    async fn photos_since(&self, incident: RoomId, since: Millis) -> StoreResult<i64> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM photos WHERE incident_id = $1 AND uploaded_at >= $2 \
             AND withdrawn_at IS NULL",
        )
        .bind(incident.to_string())
        .bind(since)
        .fetch_one(&self.reader)
        .await?)
    }

    async fn create_handoff(
        &self,
        h: NewHandoff,
        idem: Idem,
        now: Millis,
        audit: AuditRecord,
    ) -> StoreResult<Written<HandoffId>> {
        let mut tx = begin_write(&self.writer, self.backend).await?;
        if let Some(prev) = idem_lookup(&mut *tx, &idem).await? {
            return Ok(Written {
                value: idem_result(&prev, "handoff")?,
                replayed: true,
            });
        }
        let hid = HandoffId::new();
        let count = |c: CarriedAs| h.items.iter().filter(|(_, _, x)| *x == c).count() as i64;
        let facts = serde_json::to_string(&h.facts)
            .map_err(|e| StoreError::Corrupt(format!("handoff facts: {e}")))?;
        sqlx::query(
            "INSERT INTO handoffs (id, incident_id, org_id, from_user, to_user, summary, risks, notes, \
             facts, period_from, items_carried, items_added, items_closed, created_at, updated_at, \
             position_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
        )
        .bind(hid.to_string())
        .bind(h.incident.to_string())
        .bind(h.org.to_string())
        .bind(h.from.to_string())
        .bind(h.to.to_string())
        .bind(h.summary.as_str())
        .bind(h.risks.as_str())
        .bind(h.notes.as_str())
        .bind(facts)
        .bind(h.period_from)
        .bind(count(CarriedAs::Carried) + count(CarriedAs::Changed))
        .bind(count(CarriedAs::New))
        .bind(h.facts.items_closed.len() as i64)
        .bind(now)
        .bind(now)
        .bind(h.position.map(|p| p.to_string()))
        .execute(&mut *tx)
        .await
        .map_err(unique("handoff"))?;
        // Its items in one statement (a busy incident carries hundreds).
        if !h.items.is_empty() {
            let mut q = Built::new(
                "INSERT INTO handoff_items (handoff_id, item_id, title, change) VALUES ",
            );
            for (k, (item, title, change)) in h.items.iter().enumerate() {
                q.push(if k == 0 { "(" } else { ", (" })
                    .bind_str(hid.to_string())
                    .push(", ")
                    .bind_str(item.to_string())
                    .push(", ")
                    .bind_str(title.as_str())
                    .push(", ")
                    .bind_str(change.as_str())
                    .push(")");
            }
            q.query().execute(&mut *tx).await?;
        }
        let head = handoff_head(&mut tx, hid).await?;
        insert_event(
            &mut tx,
            EntryKind::Handoff,
            h.incident,
            EventKind::Handoff,
            &hid.to_string(),
            &head.title,
            h.summary.as_str(),
            Some(h.from),
            now,
        )
        .await?;
        inbox_about(&mut tx, h.to, "handoff", &head, h.from, now).await?;
        idem_store(&mut tx, &idem, &format!("handoff:{hid}"), now).await?;
        commit_audited(
            tx,
            AuditRecord {
                object: format!("handoff:{hid}"),
                ..audit
            },
        )
        .await?;
        Ok(Written {
            value: hid,
            replayed: false,
        })
    }

    async fn handoff_by_key(&self, idem: &Idem) -> StoreResult<Option<HandoffId>> {
        match idem_lookup(&self.reader, idem).await? {
            Some(prev) => Ok(Some(idem_result(&prev, "handoff")?)),
            None => Ok(None),
        }
    }

    async fn handoff(&self, hid: HandoffId) -> StoreResult<Handoff> {
        let row = sqlx::query(&format!(
            "SELECT {HANDOFF_COLS} FROM handoffs h {HANDOFF_JOINS} WHERE h.id = $1"
        ))
        .bind(hid.to_string())
        .fetch_optional(&self.reader)
        .await?
        .ok_or(StoreError::NotFound)?;
        let mut h = handoff_row(&row)?;
        let rows = sqlx::query(
            "SELECT hi.item_id, hi.title, hi.change, i.status, hi.acknowledged_at, hi.question, \
             hi.asked_at, hi.answer, hi.answered_at FROM handoff_items hi \
             JOIN open_items i ON i.id = hi.item_id WHERE hi.handoff_id = $1 \
             ORDER BY CASE hi.change WHEN 'new' THEN 0 WHEN 'changed' THEN 1 ELSE 2 END, \
             COALESCE(i.due_at, 9223372036854775807), hi.item_id",
        )
        .bind(hid.to_string())
        .fetch_all(&self.reader)
        .await?;
        h.items = rows
            .iter()
            .map(|r| {
                Ok(HandoffItem {
                    item_id: id(r, "item_id")?,
                    title: r.try_get("title")?,
                    change: CarriedAs::parse(&r.try_get::<String, _>("change")?)
                        .map_err(corrupt)?,
                    status: ItemStatus::parse(&r.try_get::<String, _>("status")?)
                        .map_err(corrupt)?,
                    acknowledged_at: r.try_get("acknowledged_at")?,
                    question: r.try_get("question")?,
                    asked_at: r.try_get("asked_at")?,
                    answer: r.try_get("answer")?,
                    answered_at: r.try_get("answered_at")?,
                })
            })
            .collect::<StoreResult<_>>()?;
        Ok(h)
    }

    async fn waiting_count(&self, user: UserId) -> StoreResult<i64> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM handoffs WHERE to_user = $1 AND acknowledged_at IS NULL",
        )
        .bind(user.to_string())
        .fetch_one(&self.reader)
        .await?)
    }

    async fn handoffs(&self, f: &HandoffFilter) -> StoreResult<Vec<Handoff>> {
        let mut q = Built::new(&format!(
            "SELECT {HANDOFF_COLS} FROM handoffs h {HANDOFF_JOINS} JOIN incidents inc ON inc.room_id = h.incident_id \
             WHERE 1 = 1"
        ));
        if let Some(i) = f.incident {
            q.push(" AND h.incident_id = ").bind_str(i.to_string());
        }
        if let Some(u) = f.member {
            q.push(" AND h.incident_id IN (SELECT room_id FROM room_members WHERE user_id = ")
                .bind_str(u.to_string())
                .push(")");
        }
        if f.active {
            q.push(" AND inc.closed_at IS NULL");
        }
        if f.waiting {
            q.push(" AND h.acknowledged_at IS NULL");
        }
        if let Some(u) = f.to_user {
            q.push(" AND h.to_user = ").bind_str(u.to_string());
        }
        q.push(" ORDER BY h.created_at DESC, h.id DESC LIMIT ")
            .bind_int(f.limit.clamp(1, 10_000));
        let rows = q.query().fetch_all(&self.reader).await?;
        rows.iter().map(handoff_row).collect()
    }

    async fn edit_handoff(
        &self,
        hid: HandoffId,
        edit: HandoffEdit,
        now: Millis,
        audit: AuditRecord,
    ) -> StoreResult<()> {
        let mut tx = begin_write(&self.writer, self.backend).await?;
        let mut q = Built::new("UPDATE handoffs SET version = version + 1, updated_at = ");
        q.bind_int(now);
        if let Some(to) = edit.to {
            q.push(", to_user = ").bind_str(to.to_string());
        }
        if let Some(s) = &edit.summary {
            q.push(", summary = ").bind_str(s.as_str());
        }
        if let Some(s) = &edit.risks {
            q.push(", risks = ").bind_str(s.as_str());
        }
        if let Some(s) = &edit.notes {
            q.push(", notes = ").bind_str(s.as_str());
        }
        q.push(" WHERE acknowledged_at IS NULL AND id = ")
            .bind_str(hid.to_string());
        if q.query().execute(&mut *tx).await?.rows_affected() == 0 {
            handoff_head(&mut tx, hid).await?;
            return Err(StoreError::Conflict("acknowledged"));
        }
        let head = handoff_head(&mut tx, hid).await?;
        if let Some(to) = edit.to {
            inbox_about(&mut tx, to, "handoff", &head, head.from, now).await?;
        }
        insert_event(
            &mut tx,
            EntryKind::Handoff,
            head.incident,
            EventKind::HandoffEdited,
            &hid.to_string(),
            &head.title,
            "",
            audit.user_id,
            now,
        )
        .await?;
        commit_audited(tx, audit).await
    }

    async fn act_on_item(
        &self,
        hid: HandoffId,
        item: ItemId,
        act: ItemAct,
        user: UserId,
        now: Millis,
    ) -> StoreResult<()> {
        let mut tx = begin_write(&self.writer, self.backend).await?;
        let head = handoff_head(&mut tx, hid).await?;
        let title = handoff_item_title(&mut tx, hid, item).await?;
        if head.acknowledged {
            return Err(StoreError::Conflict("acknowledged"));
        }
        let (sql, text, refusal, kind) = match &act {
            ItemAct::Acknowledge => (
                "UPDATE handoff_items SET acknowledged_at = $1 \
                 WHERE handoff_id = $2 AND item_id = $3 AND acknowledged_at IS NULL",
                None,
                "acknowledged",
                EventKind::HandoffItemAcknowledged,
            ),
            // A new question replaces an earlier one and its answer.
            ItemAct::Ask(q) => (
                "UPDATE handoff_items SET asked_at = $1, answer = NULL, answered_at = NULL, \
                 question = $4 WHERE handoff_id = $2 AND item_id = $3",
                Some(q),
                "acknowledged",
                EventKind::HandoffQuestion,
            ),
            ItemAct::Answer(a) => (
                "UPDATE handoff_items SET answered_at = $1, answer = $4 \
                 WHERE handoff_id = $2 AND item_id = $3 AND question IS NOT NULL",
                Some(a),
                "no_question",
                EventKind::HandoffAnswer,
            ),
        };
        let mut q = sqlx::query(sql)
            .bind(now)
            .bind(hid.to_string())
            .bind(item.to_string());
        if let Some(t) = text {
            q = q.bind(t.as_str());
        }
        if q.execute(&mut *tx).await?.rows_affected() == 0 {
            return Err(StoreError::Conflict(refusal));
        }
        if matches!(act, ItemAct::Answer(_)) {
            // The incoming person acknowledges what they read: an answer is a new version.
            sqlx::query("UPDATE handoffs SET version = version + 1, updated_at = $1 WHERE id = $2")
                .bind(now)
                .bind(hid.to_string())
                .execute(&mut *tx)
                .await?;
        }
        insert_event(
            &mut tx,
            EntryKind::Handoff,
            head.incident,
            kind,
            &hid.to_string(),
            &title,
            text.map(ItemText::as_str).unwrap_or(""),
            Some(user),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn complete_handoff(
        &self,
        hid: HandoffId,
        version: Option<i64>,
        now: Millis,
        audit: AuditRecord,
    ) -> StoreResult<Result<(), CompleteRefusal>> {
        let mut tx = begin_write(&self.writer, self.backend).await?;
        let mut q = Built::new("UPDATE handoffs SET acknowledged_at = ");
        q.bind_int(now)
            .push(" WHERE acknowledged_at IS NULL AND id = ")
            .bind_str(hid.to_string())
            .push(
                " AND NOT EXISTS (SELECT 1 FROM handoff_items hi WHERE hi.handoff_id = handoffs.id \
                 AND hi.acknowledged_at IS NULL)",
            );
        if let Some(v) = version {
            q.push(" AND version = ").bind_int(v);
        }
        if q.query().execute(&mut *tx).await?.rows_affected() == 0 {
            let row = sqlx::query(
                "SELECT acknowledged_at, version, (SELECT COUNT(*) FROM handoff_items hi \
                 WHERE hi.handoff_id = h.id AND hi.acknowledged_at IS NULL) AS left_items \
                 FROM handoffs h WHERE h.id = $1",
            )
            .bind(hid.to_string())
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound)?;
            let refusal = if row.try_get::<Option<i64>, _>("acknowledged_at")?.is_some() {
                CompleteRefusal::AlreadyAcknowledged
            } else if row.try_get::<i64, _>("left_items")? > 0 {
                CompleteRefusal::ItemsLeft
            } else {
                CompleteRefusal::Changed
            };
            tx.rollback().await?;
            return Ok(Err(refusal));
        }
        let head = handoff_head(&mut tx, hid).await?;
        let (incident, to) = (head.incident, head.to);
        // Duty (or the position) moves to the incoming person now, and only now.
        let held = match head.position {
            Some(p) => {
                sqlx::query("UPDATE positions SET holder_id = $1, since = $2 WHERE id = $3")
                    .bind(to.to_string())
                    .bind(now)
                    .bind(p.to_string())
                    .execute(&mut *tx)
                    .await?;
                p.to_string()
            }
            None => {
                sqlx::query(
                    "INSERT INTO duty (incident_id, org_id, user_id, since) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (incident_id, org_id) DO UPDATE SET user_id = excluded.user_id, since = excluded.since",
                )
                .bind(incident.to_string())
                .bind(head.org.to_string())
                .bind(to.to_string())
                .bind(now)
                .execute(&mut *tx)
                .await?;
                head.org.to_string()
            }
        };
        insert_record_entry(&mut tx, EntryKind::Duty, incident, &held, now).await?;
        insert_event(
            &mut tx,
            EntryKind::Handoff,
            incident,
            EventKind::HandoffAcknowledged,
            &hid.to_string(),
            &head.title,
            "",
            Some(to),
            now,
        )
        .await?;
        commit_audited(tx, audit).await?;
        Ok(Ok(()))
    }

    async fn escalate_handoffs(&self, before: Millis, now: Millis) -> StoreResult<Vec<HandoffId>> {
        let due: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM handoffs WHERE acknowledged_at IS NULL AND escalated_at IS NULL \
             AND created_at <= $1 ORDER BY created_at LIMIT 100",
        )
        .bind(before)
        .fetch_all(&self.reader)
        .await?;
        let mut escalated = Vec::new();
        for hid in due {
            let Ok(hid) = hid.parse::<HandoffId>() else {
                continue;
            };
            let mut tx = begin_write(&self.writer, self.backend).await?;
            // The claim: whichever instance sets it first notifies; the others see 0 rows.
            let n = sqlx::query(
                "UPDATE handoffs SET escalated_at = $1 WHERE id = $2 \
                 AND escalated_at IS NULL AND acknowledged_at IS NULL",
            )
            .bind(now)
            .bind(hid.to_string())
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n == 0 {
                tx.rollback().await?;
                continue;
            }
            let head = handoff_head(&mut tx, hid).await?;
            let managers: Vec<String> = sqlx::query_scalar(
                "SELECT rm.user_id FROM room_members rm JOIN users u ON u.id = rm.user_id \
                 WHERE rm.room_id = $1 AND rm.role IN ('manager', 'owner') AND u.active = 1 \
                 ORDER BY rm.user_id",
            )
            .bind(head.incident.to_string())
            .fetch_all(&mut *tx)
            .await?;
            for m in &managers {
                let Ok(uid) = m.parse::<UserId>() else {
                    continue;
                };
                inbox_about(&mut tx, uid, "handoff_overdue", &head, head.from, now).await?;
            }
            insert_event(
                &mut tx,
                EntryKind::Handoff,
                head.incident,
                EventKind::HandoffEscalated,
                &hid.to_string(),
                &head.title,
                "",
                None,
                now,
            )
            .await?;
            tx.commit().await?;
            escalated.push(hid);
        }
        Ok(escalated)
    }

    async fn events_in_range(
        &self,
        incident: RoomId,
        from: i64,
        to: i64,
        limit: i64,
    ) -> StoreResult<Vec<IncidentEvent>> {
        let rows = sqlx::query(&format!(
            "SELECT * FROM ({EVENT_SELECT} WHERE e.incident_id = $1 AND e.pos >= $2 AND e.pos < $3 \
             ORDER BY e.pos DESC LIMIT $4) x ORDER BY pos"
        ))
        .bind(incident.to_string())
        .bind(from)
        .bind(to)
        .bind(limit)
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(event_row).collect()
    }

    async fn item_events(&self, item: ItemId) -> StoreResult<Vec<IncidentEvent>> {
        let rows = sqlx::query(&format!(
            "{EVENT_SELECT} WHERE e.ref_id = $1 ORDER BY e.pos"
        ))
        .bind(item.to_string())
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(event_row).collect()
    }

    async fn item_shifts(&self, item: ItemId) -> StoreResult<Vec<ItemShift>> {
        let rows = sqlx::query(
            "SELECT h.id, fu.display_name AS from_name, tu.display_name AS to_name, hi.change, \
             h.created_at, h.acknowledged_at FROM handoff_items hi JOIN handoffs h ON h.id = hi.handoff_id \
             JOIN users fu ON fu.id = h.from_user JOIN users tu ON tu.id = h.to_user \
             WHERE hi.item_id = $1 ORDER BY h.created_at, h.id",
        )
        .bind(item.to_string())
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ItemShift {
                    handoff: id(r, "id")?,
                    from_name: r.try_get("from_name")?,
                    to_name: r.try_get("to_name")?,
                    change: CarriedAs::parse(&r.try_get::<String, _>("change")?)
                        .map_err(corrupt)?,
                    handed_at: r.try_get("created_at")?,
                    acknowledged_at: r.try_get("acknowledged_at")?,
                })
            })
            .collect()
    }
}
