//! `/api/v1` for field photos: one-piece multipart uploads, resumable uploads in chunks for bad
//! networks, the gallery, one photo, withdrawal.

use super::api::{ApiJson, Caller, IdemHeader, OkOut};
use super::parse_id;
use crate::app::{App, PhotoUpload, UploadState, Uploaded};
use crate::domain::{IdemKey, RoomId, ShelterId};
use crate::error::{AppError, AppResult};
use crate::store::rfc3339;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::HeaderMap;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// A field photo (its files at `/photos/{id}/thumb`, `/display` and `/original`).
#[derive(Serialize, ToSchema)]
pub struct PhotoOut {
    #[schema(value_type = String, format = Uuid, max_length = 36)]
    pub id: crate::domain::PhotoId,
    #[schema(value_type = Option<String>, format = Uuid, max_length = 36)]
    pub shelter_id: Option<ShelterId>,
    #[schema(max_length = 200, nullable)]
    pub shelter: Option<String>,
    #[schema(max_length = 500)]
    pub caption: String,
    #[schema(max_length = 64)]
    pub sha256: String,
    #[schema(max_length = 20)]
    pub mime: String,
    pub bytes: i64,
    pub width: i64,
    pub height: i64,
    /// Capture time as the camera wrote it (local to the camera).
    #[schema(max_length = 19, nullable)]
    pub taken_local: Option<String>,
    /// Capture time (RFC 3339) when the camera wrote its offset.
    #[schema(max_length = 40, nullable)]
    pub taken_at: Option<String>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    /// exif, device or none.
    #[schema(max_length = 10)]
    pub location_source: String,
    #[schema(max_length = 100, nullable)]
    pub camera: Option<String>,
    #[schema(max_length = 40)]
    pub uploaded_at: String,
    #[schema(max_length = 100)]
    pub uploader: String,
    #[schema(max_length = 100)]
    pub uploader_organisation: String,
    #[schema(max_length = 60)]
    pub thumb_url: String,
    #[schema(max_length = 60)]
    pub display_url: String,
    #[schema(max_length = 60)]
    pub original_url: String,
}

impl From<&crate::store::Photo> for PhotoOut {
    fn from(p: &crate::store::Photo) -> Self {
        Self {
            id: p.id,
            shelter_id: p.shelter_id,
            shelter: p.shelter_name.clone(),
            caption: p.caption.clone(),
            sha256: p.sha256.clone(),
            mime: p.mime.clone(),
            bytes: p.bytes,
            width: p.width,
            height: p.height,
            taken_local: p.taken_local.clone(),
            taken_at: p.taken_at.map(rfc3339),
            lat: p.position.map(|x| x.lat),
            lon: p.position.map(|x| x.lon),
            location_source: p.location_source.clone(),
            camera: p.camera.clone(),
            uploaded_at: rfc3339(p.uploaded_at),
            uploader: p.uploader_name.clone(),
            uploader_organisation: p.uploader_org.clone(),
            thumb_url: format!("/photos/{}/thumb", p.id),
            display_url: format!("/photos/{}/display", p.id),
            original_url: format!("/photos/{}/original", p.id),
        }
    }
}

#[derive(Deserialize, IntoParams)]
pub struct PhotosQuery {
    /// Only photos of this organisation's members (its id).
    #[param(max_length = 36)]
    pub org: Option<String>,
    /// Only photos about this shelter (its id).
    #[param(max_length = 36)]
    pub shelter: Option<String>,
    /// Only photos of this day (`YYYY-MM-DD`, capture day, else upload day).
    #[param(max_length = 10)]
    pub day: Option<String>,
    /// uploaded (default) or taken.
    #[param(max_length = 10)]
    pub sort: Option<String>,
}

/// An incident's photos (not withdrawn), newest first, filtered.
#[utoipa::path(get, path = "/api/v1/incidents/{incident}/photos", params(("incident" = String, Path), PhotosQuery),
    responses((status = 200, body = Vec<PhotoOut>), (status = 400), (status = 401), (status = 404)))]
pub async fn photos(
    State(app): State<App>,
    c: Caller,
    Path(room): Path<String>,
    Query(q): Query<PhotosQuery>,
) -> AppResult<Json<Vec<PhotoOut>>> {
    let room: RoomId = parse_id(&room)?;
    let filter = crate::app::GalleryFilter {
        by_taken: q.sort.as_deref() == Some("taken"),
        org: q.org,
        shelter: q.shelter,
        day: q.day,
    };
    let g = app.gallery(&c.s.actor, room, &filter).await?;
    Ok(Json(g.photos.iter().map(PhotoOut::from).collect()))
}

/// One photo.
#[utoipa::path(get, path = "/api/v1/photos/{photo}", params(("photo" = String, Path)),
    responses((status = 200, body = PhotoOut), (status = 400), (status = 401), (status = 404)))]
pub async fn photo(
    State(app): State<App>,
    c: Caller,
    Path(pid): Path<String>,
) -> AppResult<Json<PhotoOut>> {
    let (p, _) = app.photo_for(&c.s.actor, parse_id(&pid)?).await?;
    Ok(Json(PhotoOut::from(&p)))
}

/// Why a photo is withdrawn.
#[derive(Deserialize, ToSchema)]
pub struct WithdrawIn {
    #[schema(max_length = 500)]
    pub reason: String,
}

/// Withdraws a photo with a reason (its uploader or an incident manager).
#[utoipa::path(post, path = "/api/v1/photos/{photo}/withdraw", request_body = WithdrawIn,
    params(("photo" = String, Path), IdemHeader),
    responses((status = 200, body = OkOut), (status = 400), (status = 401), (status = 403), (status = 404), (status = 409), (status = 413), (status = 422)))]
pub async fn withdraw_photo(
    State(app): State<App>,
    c: Caller,
    headers: HeaderMap,
    Path(pid): Path<String>,
    ApiJson(body): ApiJson<WithdrawIn>,
) -> AppResult<Json<OkOut>> {
    c.write(&headers)?;
    app.withdraw_photo(&c.s.actor, parse_id(&pid)?, &body.reason)
        .await?;
    Ok(Json(OkOut { ok: true }))
}

/// A photo sent in one piece, as `multipart/form-data`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct PhotoUploadIn {
    /// The picture: JPEG, PNG or WebP, at most 40 MB.
    #[schema(value_type = String, format = Binary, max_length = 41943040)]
    file: Vec<u8>,
    #[schema(max_length = 500)]
    caption: Option<String>,
    /// A shelter of the incident it concerns (its id).
    #[schema(max_length = 36)]
    shelter: Option<String>,
    /// The device's position (used only when the photo has no GPS).
    #[schema(max_length = 30)]
    lat: Option<String>,
    #[schema(max_length = 30)]
    lon: Option<String>,
    /// When the device queued it (milliseconds since 1970).
    #[schema(max_length = 20)]
    queued_at: Option<String>,
}

/// The details of a photo whose bytes came in chunks.
#[derive(Deserialize, ToSchema, Default)]
pub struct PhotoDetailsIn {
    #[schema(max_length = 500)]
    #[serde(default)]
    pub caption: String,
    /// A shelter of the incident it concerns (its id).
    #[schema(max_length = 36)]
    #[serde(default)]
    pub shelter: String,
    /// The device's position (used only when the photo has no GPS).
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    /// When the device queued it (milliseconds since 1970).
    pub queued_at: Option<i64>,
}

/// What an upload did: the photo, and whether the same picture was in the incident already
/// (then nothing new was stored, and the photo is the earlier one, uploaded by someone at a
/// time given in it).
#[derive(Serialize, ToSchema)]
pub struct UploadedOut {
    pub photo: PhotoOut,
    pub already_uploaded: bool,
}

impl From<&Uploaded> for UploadedOut {
    fn from(u: &Uploaded) -> Self {
        Self {
            photo: PhotoOut::from(u.photo()),
            already_uploaded: matches!(u, Uploaded::Existing(_)),
        }
    }
}

/// How much of a resumable upload the server holds.
#[derive(Serialize, ToSchema)]
pub struct UploadStateOut {
    /// Bytes held from the start: send the rest from here.
    pub received: u64,
    /// The size announced with the first chunk.
    pub total: Option<u64>,
    /// The upload was finished: its photo is stored.
    pub finished: bool,
}

impl From<UploadState> for UploadStateOut {
    fn from(s: UploadState) -> Self {
        Self {
            received: s.received,
            total: s.total,
            finished: s.finished,
        }
    }
}

/// Stores one photo sent in one piece (fields `file`, `caption`, `shelter`, `lat`, `lon`,
/// `queued_at`). The same picture again in the incident stores nothing and answers with the
/// earlier photo.
#[utoipa::path(post, path = "/api/v1/incidents/{incident}/photos",
    request_body(content = PhotoUploadIn, content_type = "multipart/form-data"),
    params(("incident" = String, Path), IdemHeader),
    responses((status = 200, body = UploadedOut), (status = 400), (status = 401), (status = 403), (status = 404), (status = 409), (status = 413), (status = 422)))]
pub async fn upload_photo(
    State(app): State<App>,
    c: Caller,
    headers: HeaderMap,
    Path(room): Path<String>,
    req: Request,
) -> AppResult<Json<UploadedOut>> {
    let key = c.write(&headers)?;
    let room: RoomId = parse_id(&room)?;
    let (mut files, fields) = super::session::read_multipart(req, &app).await?;
    if files.len() > 1 {
        return Err(AppError::BadRequest("err-one-file"));
    }
    let up = PhotoUpload {
        bytes: files
            .pop()
            .ok_or(crate::domain::Invalid::new("file", "err-photo-empty"))?,
        ..PhotoUpload::from_fields(&fields)
    };
    let w = app.upload_photo(&c.s.actor, room, up, key).await?;
    Ok(Json(UploadedOut::from(&w.value)))
}

fn details(d: PhotoDetailsIn) -> PhotoUpload {
    PhotoUpload {
        bytes: Vec::new(),
        caption: d.caption,
        shelter: d.shelter,
        lat: d.lat.map(|v| v.to_string()).unwrap_or_default(),
        lon: d.lon.map(|v| v.to_string()).unwrap_or_default(),
        queued_at: d.queued_at.map(|v| v.to_string()).unwrap_or_default(),
    }
}

fn upload_key(key: &str) -> AppResult<IdemKey> {
    IdemKey::parse(key).map_err(|_| AppError::BadRequest("err-idem-key"))
}

/// Where a chunk goes in the file.
#[derive(Deserialize, IntoParams)]
pub struct ChunkQuery {
    /// Where this chunk starts (the `received` the server last answered).
    #[param(minimum = 0)]
    pub offset: u64,
    /// The whole file's size.
    #[param(minimum = 1)]
    pub total: u64,
}

/// How much of the resumable upload under this key (the photo's idempotency key) the server
/// holds: after a network cut, send the rest from `received`.
#[utoipa::path(get, path = "/api/v1/incidents/{incident}/uploads/{key}",
    params(("incident" = String, Path),
        ("key" = String, Path, min_length = 8, max_length = 100, pattern = "^[A-Za-z0-9:_-]{8,100}$")),
    responses((status = 200, body = UploadStateOut), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn upload_state(
    State(app): State<App>,
    c: Caller,
    Path((room, key)): Path<(String, String)>,
) -> AppResult<Json<UploadStateOut>> {
    let room: RoomId = parse_id(&room)?;
    let state = app
        .upload_state(&c.s.actor, room, &upload_key(&key)?)
        .await?;
    Ok(Json(state.into()))
}

/// Stores one chunk (`application/octet-stream`, at most 8 MB) of a resumable upload. A chunk
/// that would leave a gap is refused with 409: ask how much arrived, then go on from there.
#[utoipa::path(put, path = "/api/v1/incidents/{incident}/uploads/{key}",
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    params(("incident" = String, Path),
        ("key" = String, Path, min_length = 8, max_length = 100, pattern = "^[A-Za-z0-9:_-]{8,100}$"),
        ChunkQuery),
    responses((status = 200, body = UploadStateOut), (status = 400), (status = 401), (status = 403), (status = 404), (status = 409), (status = 413), (status = 422)))]
pub async fn upload_chunk(
    State(app): State<App>,
    c: Caller,
    headers: HeaderMap,
    Path((room, key)): Path<(String, String)>,
    Query(q): Query<ChunkQuery>,
    body: Bytes,
) -> AppResult<Json<UploadStateOut>> {
    c.check_csrf(&headers)?;
    let room: RoomId = parse_id(&room)?;
    let key = upload_key(&key)?;
    let state = app
        .upload_chunk(&c.s.actor, room, &key, q.offset, q.total, body.to_vec())
        .await?;
    Ok(Json(state.into()))
}

/// Finishes a resumable upload once every byte arrived: the photo is processed and stored
/// under the upload's key, with these details. Finishing again answers with the same photo.
#[utoipa::path(post, path = "/api/v1/incidents/{incident}/uploads/{key}/finish",
    request_body = PhotoDetailsIn,
    params(("incident" = String, Path),
        ("key" = String, Path, min_length = 8, max_length = 100, pattern = "^[A-Za-z0-9:_-]{8,100}$")),
    responses((status = 200, body = UploadedOut), (status = 400), (status = 401), (status = 403), (status = 404), (status = 409), (status = 413), (status = 422)))]
pub async fn finish_upload(
    State(app): State<App>,
    c: Caller,
    headers: HeaderMap,
    Path((room, key)): Path<(String, String)>,
    ApiJson(body): ApiJson<PhotoDetailsIn>,
) -> AppResult<Json<UploadedOut>> {
    c.check_csrf(&headers)?;
    let room: RoomId = parse_id(&room)?;
    let key = upload_key(&key)?;
    let w = app
        .finish_upload(&c.s.actor, room, key, details(body))
        .await?;
    Ok(Json(UploadedOut::from(&w.value)))
}
