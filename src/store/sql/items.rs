//! SQL for open items.

use super::*;

const ITEM_COLS: &str = "i.id, i.incident_id, i.title, i.details, i.assignee_kind, i.assignee_id, \
    COALESCE(ao.name, au.display_name) AS assignee_name, i.due_at, i.status, i.reason, i.message_id, \
    cu.display_name AS created_by_name, i.created_at, uu.display_name AS updated_by_name, i.updated_at";

const ITEM_JOINS: &str = "LEFT JOIN orgs ao ON i.assignee_kind = 'org' AND ao.id = i.assignee_id \
    LEFT JOIN users au ON i.assignee_kind = 'user' AND au.id = i.assignee_id \
    LEFT JOIN users cu ON cu.id = i.created_by \
    LEFT JOIN users uu ON uu.id = i.updated_by";

fn item_row(r: &AnyRow) -> StoreResult<Item> {
    Ok(Item {
        id: id(r, "id")?,
        incident: id(r, "incident_id")?,
        title: r.try_get("title")?,
        details: r.try_get("details")?,
        assignee: super::confirm::target_cols(r, "assignee")?,
        assignee_name: r.try_get("assignee_name")?,
        due_at: r.try_get("due_at")?,
        status: ItemStatus::parse(&r.try_get::<String, _>("status")?).map_err(corrupt)?,
        reason: r.try_get("reason")?,
        message: opt_id(r, "message_id")?,
        created_by_name: r
            .try_get::<Option<String>, _>("created_by_name")?
            .unwrap_or_default(),
        created_at: r.try_get("created_at")?,
        updated_by_name: r
            .try_get::<Option<String>, _>("updated_by_name")?
            .unwrap_or_default(),
        updated_at: r.try_get("updated_at")?,
    })
}

/// Makes `user` the one on duty for `org` unless someone is; whether they took it.
pub(super) async fn take_duty_in(
    tx: &mut Tx<'_>,
    incident: RoomId,
    org: OrgId,
    user: UserId,
    now: Millis,
) -> StoreResult<bool> {
    let r = sqlx::query(
        "INSERT INTO duty (incident_id, org_id, user_id, since) VALUES ($1, $2, $3, $4) \
         ON CONFLICT DO NOTHING",
    )
    .bind(incident.to_string())
    .bind(org.to_string())
    .bind(user.to_string())
    .bind(now)
    .execute(&mut **tx)
    .await?;
    let took = r.rows_affected() > 0;
    if took {
        insert_record_entry(tx, EntryKind::Duty, incident, &org.to_string(), now).await?;
    }
    Ok(took)
}

#[async_trait]
impl ItemStore for SqlStore {
    async fn duty(&self, incident: RoomId) -> StoreResult<Vec<Duty>> {
        let rows = sqlx::query(
            "SELECT d.org_id, o.name AS org_name, d.user_id, u.display_name AS user_name, d.since \
             FROM duty d JOIN orgs o ON o.id = d.org_id JOIN users u ON u.id = d.user_id \
             WHERE d.incident_id = $1 ORDER BY o.name",
        )
        .bind(incident.to_string())
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Duty {
                    org_id: id(r, "org_id")?,
                    org_name: r.try_get("org_name")?,
                    user_id: id(r, "user_id")?,
                    user_name: r.try_get("user_name")?,
                    since: r.try_get("since")?,
                })
            })
            .collect()
    }

    async fn take_duty(
        &self,
        incident: RoomId,
        org: OrgId,
        user: UserId,
        now: Millis,
        audit: AuditRecord,
    ) -> StoreResult<bool> {
        let mut tx = begin_write(&self.writer, self.backend).await?;
        let took = take_duty_in(&mut tx, incident, org, user, now).await?;
        if took {
            commit_audited(tx, audit).await?;
        } else {
            tx.rollback().await?;
        }
        Ok(took)
    }

    async fn create_item(
        &self,
        item: NewItem,
        idem: Idem,
        now: Millis,
        audit: AuditRecord,
    ) -> StoreResult<Written<ItemId>> {
        let mut tx = begin_write(&self.writer, self.backend).await?;
        if let Some(prev) = idem_lookup(&mut *tx, &idem).await? {
            return Ok(Written {
                value: idem_result(&prev, "item")?,
                replayed: true,
            });
        }
        let iid = ItemId::new();
        sqlx::query(
            "INSERT INTO open_items (id, incident_id, title, details, assignee_kind, assignee_id, due_at, \
             status, message_id, created_by, created_at, updated_by, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'open', $8, $9, $10, $11, $12)",
        )
        .bind(iid.to_string())
        .bind(item.incident.to_string())
        .bind(item.title.as_str())
        .bind(item.details.as_str())
        .bind(item.assignee.map(|a| a.kind()))
        .bind(item.assignee.map(|a| a.id_string()))
        .bind(item.due_at)
        .bind(item.message.map(|m| m.to_string()))
        .bind(item.by.to_string())
        .bind(now)
        .bind(item.by.to_string())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        super::handoffs::insert_event(
            &mut tx,
            EntryKind::Item,
            item.incident,
            EventKind::ItemAdded,
            &iid.to_string(),
            item.title.as_str(),
            "",
            Some(item.by),
            now,
        )
        .await?;
        idem_store(&mut tx, &idem, &format!("item:{iid}"), now).await?;
        commit_audited(
            tx,
            AuditRecord {
                object: format!("item:{iid}"),
                ..audit
            },
        )
        .await?;
        Ok(Written {
            value: iid,
            replayed: false,
        })
    }

    async fn item(&self, iid: ItemId) -> StoreResult<Item> {
        let row = sqlx::query(&format!(
            "SELECT {ITEM_COLS} FROM open_items i {ITEM_JOINS} WHERE i.id = $1"
        ))
        .bind(iid.to_string())
        .fetch_optional(&self.reader)
        .await?
        .ok_or(StoreError::NotFound)?;
        item_row(&row)
    }

    async fn items(&self, incident: RoomId) -> StoreResult<Vec<Item>> {
        let rows = sqlx::query(&format!(
            "SELECT {ITEM_COLS} FROM open_items i {ITEM_JOINS} WHERE i.incident_id = $1 \
             ORDER BY CASE WHEN i.status = 'open' THEN 0 ELSE 1 END, \
             CASE WHEN i.status = 'open' THEN COALESCE(i.due_at, 9223372036854775807) ELSE -i.updated_at END, i.id"
        ))
        .bind(incident.to_string())
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(item_row).collect()
    }

    async fn change_item(
        &self,
        iid: ItemId,
        change: ItemChange,
        by: UserId,
        now: Millis,
        audit: AuditRecord,
    ) -> StoreResult<()> {
        let mut tx = begin_write(&self.writer, self.backend).await?;
        let before = sqlx::query("SELECT incident_id, title, status FROM open_items WHERE id = $1")
            .bind(iid.to_string())
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound)?;
        let incident: RoomId = id(&before, "incident_id")?;
        let was: String = before.try_get("status")?;
        let title = match &change.title {
            Some(t) => t.as_str().to_string(),
            None => before.try_get("title")?,
        };
        // What the timeline says happened: a status change, or some other change.
        let (kind, detail) = match &change.status {
            Some((s, reason)) if s.as_str() != was => (
                match s {
                    ItemStatus::Open => EventKind::ItemReopened,
                    ItemStatus::Done => EventKind::ItemDone,
                    ItemStatus::Dropped => EventKind::ItemDropped,
                },
                reason.as_str(),
            ),
            _ => (EventKind::ItemChanged, ""),
        };
        // Each field is set only when given; unchanged ones keep their value.
        let mut q = Built::new("UPDATE open_items SET updated_by = ");
        q.bind_str(by.to_string());
        q.push(", updated_at = ");
        q.bind_int(now);
        if let Some(t) = &change.title {
            q.push(", title = ").bind_str(t.as_str());
        }
        if let Some(d) = &change.details {
            q.push(", details = ").bind_str(d.as_str());
        }
        match change.assignee {
            Some(Some(a)) => {
                q.push(", assignee_kind = ").bind_str(a.kind());
                q.push(", assignee_id = ").bind_str(a.id_string());
            }
            Some(None) => {
                q.push(", assignee_kind = NULL, assignee_id = NULL");
            }
            None => {}
        }
        match change.due_at {
            Some(Some(d)) => {
                q.push(", due_at = ").bind_int(d);
            }
            Some(None) => {
                q.push(", due_at = NULL");
            }
            None => {}
        }
        if let Some((status, reason)) = &change.status {
            q.push(", status = ").bind_str(status.as_str());
            q.push(", reason = ").bind_str(reason.as_str());
        }
        q.push(" WHERE id = ").bind_str(iid.to_string());
        q.query().execute(&mut *tx).await?;
        super::handoffs::insert_event(
            &mut tx,
            EntryKind::Item,
            incident,
            kind,
            &iid.to_string(),
            &title,
            detail,
            Some(by),
            now,
        )
        .await?;
        commit_audited(tx, audit).await?;
        Ok(())
    }
}
