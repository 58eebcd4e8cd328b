//! `sonae copy-db`: moves a deployment between databases (SQLite ⇄ PostgreSQL), table by table
//! in dependency order, into an empty target that has been migrated first.

use super::{Backend, SqlStore, Store, StoreError, StoreResult};
use sqlx::Row;
use sqlx::any::AnyRow;

/// Every table, in an order that satisfies the foreign keys, with the column to order rows by.
pub const TABLES: [(&str, &str); 28] = [
    ("orgs", "id"),
    ("users", "id"),
    ("api_tokens", "id"),
    ("link_tokens", "token_hash"),
    ("sessions", "id_hash"),
    ("login_failures", "scope, at"),
    ("rooms", "id"),
    ("room_orgs", "room_id, org_id"),
    ("room_members", "room_id, user_id"),
    ("messages", "pos"),
    ("entries", "pos"),
    ("incidents", "room_id"),
    ("shelters", "id"),
    ("shelter_keys", "org_id, key"),
    ("shelter_reports", "id"),
    ("shelter_latest", "incident_id, shelter_id"),
    ("photos", "id"),
    ("confirm_requests", "message_id"),
    ("confirm_targets", "message_id, target_kind, target_id"),
    ("open_items", "id"),
    ("duty", "incident_id, org_id"),
    ("positions", "id"),
    ("handoffs", "id"),
    ("handoff_items", "handoff_id, item_id"),
    ("incident_events", "pos"),
    ("inbox", "id"),
    ("idempotency", "user_id, key"),
    ("audit", "id"),
];

/// One stored value, as read generically.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Null,
    Int(i64),
    Text(String),
}

fn values(row: &AnyRow) -> Vec<Value> {
    (0..row.len())
        .map(|i| {
            if let Ok(v) = row.try_get::<Option<i64>, _>(i) {
                return v.map(Value::Int).unwrap_or(Value::Null);
            }
            match row.try_get::<Option<String>, _>(i) {
                Ok(Some(s)) => Value::Text(s),
                _ => Value::Null,
            }
        })
        .collect()
}

/// The column names and rows of a table, in a stable order.
pub async fn dump<'e, E>(
    ex: E,
    table: &str,
    order: &str,
) -> StoreResult<(Vec<String>, Vec<Vec<Value>>)>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let sql = format!("SELECT * FROM {table} ORDER BY {order}");
    let rows = sqlx::query(&sql).fetch_all(ex).await?;
    let columns = rows
        .first()
        .map(|r| {
            r.columns()
                .iter()
                .map(|c| sqlx::Column::name(c).to_string())
                .collect()
        })
        .unwrap_or_default();
    Ok((columns, rows.iter().map(values).collect()))
}

/// The integer columns of a table on a PostgreSQL target (SQLite takes any NULL).
async fn integer_columns(target: &SqlStore, table: &str) -> StoreResult<Vec<String>> {
    if target.backend() != Backend::Postgres {
        return Ok(Vec::new());
    }
    Ok(sqlx::query_scalar(
        "SELECT column_name::text FROM information_schema.columns WHERE table_name = $1 AND data_type = 'bigint'",
    )
    .bind(table)
    .fetch_all(target.pool())
    .await?)
}

/// Rows copied per table.
#[derive(Debug, Default)]
pub struct CopyReport {
    pub tables: Vec<(String, usize)>,
}

/// Copies everything from `from` into `to`, which must be empty; both are migrated first.
pub async fn copy_db(from: &str, to: &str) -> StoreResult<CopyReport> {
    let source = SqlStore::open(from).await?;
    let target = SqlStore::open(to).await?;
    source.migrate().await?;
    target.migrate().await?;
    for (table, _) in TABLES {
        let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(target.pool())
            .await?;
        if n > 0 {
            return Err(StoreError::Refused("the target database is not empty"));
        }
    }
    let mut report = CopyReport::default();
    // Every table is read in one snapshot, so a copy taken while the server writes is consistent.
    let mut snap = source.read_pool().acquire().await?;
    let begin = match source.backend() {
        Backend::Postgres => "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
        Backend::Sqlite => "BEGIN",
    };
    sqlx::Executor::execute(&mut *snap, sqlx::raw_sql(begin)).await?;
    let mut tx = target.pool().begin().await?;
    for (table, order) in TABLES {
        let (columns, rows) = dump(&mut *snap, table, order).await?;
        let int_columns = integer_columns(&target, table).await?;
        for row in &rows {
            let placeholders: Vec<String> = (1..=columns.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "INSERT INTO {table} ({}) VALUES ({})",
                columns.join(", "),
                placeholders.join(", ")
            );
            let mut q = sqlx::query(&sql);
            for (v, col) in row.iter().zip(&columns) {
                q = match v {
                    // PostgreSQL wants a NULL of the column's type.
                    Value::Null if int_columns.contains(col) => q.bind(None::<i64>),
                    Value::Null => q.bind(None::<String>),
                    Value::Int(i) => q.bind(*i),
                    Value::Text(s) => q.bind(s.as_str()),
                };
            }
            q.execute(&mut *tx).await?;
        }
        report.tables.push((table.to_string(), rows.len()));
    }
    if target.backend() == Backend::Postgres {
        // Positions continue after the copied ones.
        sqlx::query("SELECT setval(pg_get_serial_sequence('entries', 'pos'), COALESCE((SELECT MAX(pos) FROM entries), 0) + 1, false)")
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    sqlx::Executor::execute(&mut *snap, sqlx::raw_sql("COMMIT")).await?;
    drop(snap);
    source.close().await;
    target.close().await;
    Ok(report)
}
