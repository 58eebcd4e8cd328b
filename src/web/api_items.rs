//! `/api/v1` for open items of an incident.

use super::api::{ApiJson, Caller, IdemHeader};
use super::api_confirm::due_time;
use super::parse_id;
use crate::app::{App, ItemEdit, ItemInput};
use crate::domain::{Invalid, ItemId, ItemStatus, MessageId, RoomId};
use crate::error::AppResult;
use crate::store::{ConfirmTarget, Duty, Item, rfc3339};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Whom an item is assigned to.
#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssigneeIn {
    /// org or user.
    #[schema(max_length = 4)]
    pub kind: String,
    #[schema(max_length = 36)]
    pub id: String,
}

impl AssigneeIn {
    fn target(&self) -> AppResult<ConfirmTarget> {
        ConfirmTarget::parse(&self.kind, &self.id)
            .ok_or_else(|| Invalid::new("assignee", "err-item-assignee").into())
    }
}

/// A new open item.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemIn {
    #[schema(min_length = 1, max_length = 200)]
    pub title: String,
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub details: String,
    pub assignee: Option<AssigneeIn>,
    /// RFC 3339.
    #[schema(max_length = 40)]
    pub due_at: Option<String>,
    /// The message it is made from.
    #[schema(value_type = Option<String>, format = Uuid, max_length = 36)]
    pub message_id: Option<MessageId>,
}

/// A change to an item: only the fields given change.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemPatchIn {
    #[schema(min_length = 1, max_length = 200)]
    pub title: Option<String>,
    #[schema(max_length = 2000)]
    pub details: Option<String>,
    pub assignee: Option<AssigneeIn>,
    /// Removes the assignee.
    #[serde(default)]
    pub clear_assignee: bool,
    /// RFC 3339.
    #[schema(max_length = 40)]
    pub due_at: Option<String>,
    /// Removes the due time.
    #[serde(default)]
    pub clear_due: bool,
    /// open, done or dropped (dropping needs a reason).
    #[schema(max_length = 10)]
    pub status: Option<String>,
    #[schema(max_length = 2000)]
    pub reason: Option<String>,
}

/// An open item.
#[derive(Serialize, ToSchema)]
pub struct ItemOut {
    #[schema(value_type = String, format = Uuid, max_length = 36)]
    pub id: ItemId,
    #[schema(value_type = String, format = Uuid, max_length = 36)]
    pub incident_id: RoomId,
    #[schema(max_length = 200)]
    pub title: String,
    #[schema(max_length = 2000)]
    pub details: String,
    #[schema(nullable)]
    pub assignee: Option<AssigneeIn>,
    #[schema(nullable, max_length = 200)]
    pub assignee_name: Option<String>,
    #[schema(nullable, max_length = 40)]
    pub due_at: Option<String>,
    /// open, done or dropped.
    #[schema(max_length = 10)]
    pub status: String,
    /// Why it was dropped (or a note on closing).
    #[schema(max_length = 2000)]
    pub reason: String,
    #[schema(value_type = Option<String>, format = Uuid, max_length = 36)]
    pub message_id: Option<MessageId>,
    #[schema(max_length = 100)]
    pub created_by: String,
    #[schema(max_length = 40)]
    pub created_at: String,
    #[schema(max_length = 100)]
    pub updated_by: String,
    #[schema(max_length = 40)]
    pub updated_at: String,
}

impl From<Item> for ItemOut {
    fn from(i: Item) -> Self {
        Self {
            id: i.id,
            incident_id: i.incident,
            title: i.title,
            details: i.details,
            assignee: i.assignee.map(|a| AssigneeIn {
                kind: a.kind().into(),
                id: a.id_string(),
            }),
            assignee_name: i.assignee_name,
            due_at: i.due_at.map(rfc3339),
            status: i.status.as_str().into(),
            reason: i.reason,
            message_id: i.message,
            created_by: i.created_by_name,
            created_at: rfc3339(i.created_at),
            updated_by: i.updated_by_name,
            updated_at: rfc3339(i.updated_at),
        }
    }
}

/// What adding an item did.
#[derive(Serialize, ToSchema)]
pub struct ItemCreatedOut {
    pub item: ItemOut,
    /// True when this answers a retry with the same key.
    pub replayed: bool,
}

/// An incident's open items: open ones first (by due time), then done and dropped.
#[utoipa::path(get, path = "/api/v1/incidents/{incident}/items",
    params(("incident" = String, Path)),
    responses((status = 200, body = Vec<ItemOut>), (status = 400), (status = 401), (status = 404)))]
pub async fn items(
    State(app): State<App>,
    c: Caller,
    Path(incident): Path<String>,
) -> AppResult<Json<Vec<ItemOut>>> {
    let items = app.items(&c.s.actor, parse_id(&incident)?).await?;
    Ok(Json(items.into_iter().map(ItemOut::from).collect()))
}

/// Adds an open item (needs an Idempotency-Key).
#[utoipa::path(post, path = "/api/v1/incidents/{incident}/items", request_body = ItemIn,
    params(("incident" = String, Path), IdemHeader),
    responses((status = 200, body = ItemCreatedOut), (status = 400), (status = 401), (status = 403), (status = 404), (status = 409), (status = 413), (status = 422)))]
pub async fn create_item(
    State(app): State<App>,
    c: Caller,
    headers: HeaderMap,
    Path(incident): Path<String>,
    ApiJson(b): ApiJson<ItemIn>,
) -> AppResult<Json<ItemCreatedOut>> {
    let key = c.write(&headers)?;
    let incident: RoomId = parse_id(&incident)?;
    let input = ItemInput {
        title: b.title,
        details: b.details,
        assignee: b.assignee.as_ref().map(AssigneeIn::target).transpose()?,
        due_at: due_time(b.due_at.as_deref())?,
        message: b.message_id,
    };
    let w = app.create_item(&c.s.actor, incident, input, key).await?;
    let item = app.item(&c.s.actor, incident, w.value).await?;
    Ok(Json(ItemCreatedOut {
        item: item.into(),
        replayed: w.replayed,
    }))
}

/// Changes an item: title, details, assignee, due time, status (dropping needs a reason).
#[utoipa::path(patch, path = "/api/v1/incidents/{incident}/items/{item}", request_body = ItemPatchIn,
    params(("incident" = String, Path), ("item" = String, Path)),
    responses((status = 200, body = ItemOut), (status = 400), (status = 401), (status = 403), (status = 404), (status = 409), (status = 413), (status = 422)))]
pub async fn change_item(
    State(app): State<App>,
    c: Caller,
    headers: HeaderMap,
    Path((incident, item)): Path<(String, String)>,
    ApiJson(b): ApiJson<ItemPatchIn>,
) -> AppResult<Json<ItemOut>> {
    c.check_csrf(&headers)?;
    let assignee = if b.clear_assignee {
        Some(None)
    } else {
        b.assignee
            .as_ref()
            .map(|a| a.target().map(Some))
            .transpose()?
    };
    let due_at = if b.clear_due {
        Some(None)
    } else {
        due_time(b.due_at.as_deref())?.map(Some)
    };
    let edit = ItemEdit {
        title: b.title,
        details: b.details,
        assignee,
        due_at,
        status: b.status.as_deref().map(ItemStatus::parse).transpose()?,
        reason: b.reason,
    };
    let out = app
        .change_item(&c.s.actor, parse_id(&incident)?, parse_id(&item)?, edit)
        .await?;
    Ok(Json(out.into()))
}

/// Who is on duty for an organisation.
#[derive(Serialize, ToSchema)]
pub struct DutyOut {
    #[schema(value_type = String, format = Uuid, max_length = 36)]
    pub org_id: crate::domain::OrgId,
    #[schema(max_length = 100)]
    pub org_name: String,
    #[schema(value_type = String, format = Uuid, max_length = 36)]
    pub user_id: crate::domain::UserId,
    #[schema(max_length = 100)]
    pub user_name: String,
    #[schema(max_length = 40)]
    pub since: String,
}

impl From<Duty> for DutyOut {
    fn from(d: Duty) -> Self {
        Self {
            org_id: d.org_id,
            org_name: d.org_name,
            user_id: d.user_id,
            user_name: d.user_name,
            since: rfc3339(d.since),
        }
    }
}

/// Who is on duty in an incident, per organisation.
#[utoipa::path(get, path = "/api/v1/incidents/{incident}/duty",
    params(("incident" = String, Path)),
    responses((status = 200, body = Vec<DutyOut>), (status = 400), (status = 401), (status = 404)))]
pub async fn duty(
    State(app): State<App>,
    c: Caller,
    Path(incident): Path<String>,
) -> AppResult<Json<Vec<DutyOut>>> {
    let d = app.duty(&c.s.actor, parse_id(&incident)?).await?;
    Ok(Json(d.into_iter().map(DutyOut::from).collect()))
}

/// Takes duty for the caller's organisation when nobody holds it (409 while someone else does:
/// a handoff moves it).
#[utoipa::path(post, path = "/api/v1/incidents/{incident}/duty",
    params(("incident" = String, Path)),
    responses((status = 200, body = Vec<DutyOut>), (status = 400), (status = 401), (status = 403), (status = 404), (status = 409)))]
pub async fn take_duty(
    State(app): State<App>,
    c: Caller,
    headers: HeaderMap,
    Path(incident): Path<String>,
) -> AppResult<Json<Vec<DutyOut>>> {
    c.check_csrf(&headers)?;
    let d = app.take_duty(&c.s.actor, parse_id(&incident)?).await?;
    Ok(Json(d.into_iter().map(DutyOut::from).collect()))
}
