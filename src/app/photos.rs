//! Field photos of incidents: upload (the pipeline off the async runtime, bounded), the gallery,
//! and serving the files to members only.

use super::*;
use crate::files::{FileKey, PhotoFile};
use crate::media::{Limits, MediaError, process};
use crate::store::{Idem, NewPhoto, Photo, PhotoSaved};
use sha2::{Digest, Sha256};

/// One uploaded file with what the form said about it.
#[derive(Debug, Clone, Default)]
pub struct PhotoUpload {
    pub bytes: Vec<u8>,
    pub caption: String,
    /// A shelter of the incident it concerns (blank: none).
    pub shelter: String,
    /// The device's position, when the user allowed it (used only without EXIF GPS).
    pub lat: String,
    pub lon: String,
    /// When the device queued it, in milliseconds (the outbox).
    pub queued_at: String,
}

impl PhotoUpload {
    /// The details a form or a multipart API call gives (fields `caption`, `shelter`, `lat`,
    /// `lon`, `queued_at`; absent ones empty), without the bytes.
    pub fn from_fields(fields: &std::collections::HashMap<String, String>) -> Self {
        let get = |k: &str| fields.get(k).cloned().unwrap_or_default();
        Self {
            bytes: Vec::new(),
            caption: get("caption"),
            shelter: get("shelter"),
            lat: get("lat"),
            lon: get("lon"),
            queued_at: get("queued_at"),
        }
    }
}

/// An incident's gallery, with the shelters a new photo may concern.
#[derive(Debug, Clone)]
pub struct Gallery {
    pub incident: crate::store::Incident,
    pub access: Access,
    pub photos: Vec<Photo>,
    pub shelters: Vec<(ShelterId, String)>,
    /// Organisations and days that have photos, for the filters.
    pub orgs: Vec<(OrgId, String)>,
    pub days: Vec<String>,
}

/// Gallery filters and order, as the page's query string gives them.
#[derive(Debug, Clone, Default)]
pub struct GalleryFilter {
    /// Newest capture first (else newest upload first).
    pub by_taken: bool,
    pub org: Option<String>,
    pub shelter: Option<String>,
    /// `YYYY-MM-DD`.
    pub day: Option<String>,
}

/// What an upload did.
#[derive(Debug, Clone)]
pub enum Uploaded {
    New(Photo),
    /// The same bytes were uploaded in this incident already: that photo (nothing stored).
    Existing(Photo),
}

impl Uploaded {
    pub fn photo(&self) -> &Photo {
        match self {
            Uploaded::New(p) | Uploaded::Existing(p) => p,
        }
    }
}

fn media_error(e: MediaError) -> AppError {
    match e {
        MediaError::TooLarge => AppError::TooLarge,
        other => AppError::Invalid(Invalid::new("file", other.key())),
    }
}

impl App {
    /// Stores the photos of one form, each with the form's details and its own idempotency key
    /// (the form's key, then `key-1`, `key-2`…, so a resent form stores nothing twice). Stops
    /// at the first photo refused.
    pub async fn upload_photos(
        &self,
        actor: &Actor,
        room: RoomId,
        files: Vec<Vec<u8>>,
        details: PhotoUpload,
        key: IdemKey,
    ) -> AppResult<Vec<Uploaded>> {
        if files.is_empty() {
            return Err(Invalid::new("file", "err-photo-empty").into());
        }
        let mut done = Vec::with_capacity(files.len());
        for (i, bytes) in files.into_iter().enumerate() {
            let key = if i == 0 {
                key.clone()
            } else {
                IdemKey::parse(&format!("{}-{i}", key.as_str()))
                    .map_err(|_| AppError::BadRequest("err-idem-key"))?
            };
            let up = PhotoUpload {
                bytes,
                ..details.clone()
            };
            done.push(self.upload_photo(actor, room, up, key).await?.value);
        }
        Ok(done)
    }

    /// Stores one photo in an incident: checked, processed, its files written, then recorded.
    pub async fn upload_photo(
        &self,
        actor: &Actor,
        room: RoomId,
        up: PhotoUpload,
        key: IdemKey,
    ) -> AppResult<crate::store::Written<Uploaded>> {
        self.writable_incident(actor, room, "photo.upload", Access::is_member)
            .await?;
        let object = format!("room:{room}");
        let caption = note(&up.caption, 500, "caption")?;
        let shelter = match up.shelter.trim() {
            "" => None,
            s => {
                let sid: ShelterId = s
                    .parse()
                    .map_err(|_| Invalid::new("shelter", "err-shelter-not-in-incident"))?;
                if !self.store.shelter_in_incident(room, sid).await? {
                    return Err(Invalid::new("shelter", "err-shelter-not-in-incident").into());
                }
                Some(sid)
            }
        };
        let device = match (up.lat.trim(), up.lon.trim()) {
            ("", "") => None,
            (a, b) => match (a.parse::<f64>(), b.parse::<f64>()) {
                (Ok(a), Ok(b)) => Some(LatLon::new(a, b)?),
                _ => return Err(Invalid::new("lat", "err-coordinates").into()),
            },
        };
        let queued_at = up.queued_at.trim().parse::<i64>().ok();
        let idem = Idem {
            user_id: actor.user.id,
            key,
        };
        // A retry (same key) or the same photo again is answered before anything is decoded:
        // on a bad network the same upload arrives more than once.
        if up.bytes.is_empty() {
            return Err(self
                .refuse(
                    actor,
                    "photo.upload",
                    object,
                    media_error(MediaError::Empty),
                )
                .await);
        }
        let bytes = up.bytes;
        let (bytes, sha256) = tokio::task::spawn_blocking(move || {
            let sha = hex::encode(Sha256::digest(&bytes));
            (bytes, sha)
        })
        .await
        .map_err(|e| AppError::Internal(format!("join: {e}")))?;
        if let Some(w) = self.store.known_photo(&idem, room, Some(&sha256)).await? {
            let photo = match w.value {
                PhotoSaved::New(id) => Uploaded::New(self.store.photo(id).await?),
                PhotoSaved::Existing(id) => Uploaded::Existing(self.store.photo(id).await?),
            };
            return Ok(crate::store::Written {
                value: photo,
                replayed: w.replayed,
            });
        }
        // Decoding is CPU work: off the runtime, on all cores but one at most, so a burst of
        // uploads does not slow the chat.
        let permit = self
            .photo_cpu
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| AppError::Unavailable)?;
        let processed = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let p = process(&bytes, &Limits::default()).map_err(media_error);
            (bytes, p)
        })
        .await
        .map_err(|e| AppError::Internal(format!("join: {e}")))?;
        let (bytes, mut p) = match processed {
            (bytes, Ok(p)) => (bytes, p),
            (_, Err(e)) => return Err(self.refuse(actor, "photo.upload", object, e).await),
        };
        // The files first, then the record: a record never points at a missing file.
        let display = std::mem::take(&mut p.display.jpeg);
        let thumb = std::mem::take(&mut p.thumb.jpeg);
        for (file, data) in PhotoFile::ALL.into_iter().zip([bytes, display, thumb]) {
            let key = FileKey::photo(&sha256, file)
                .ok_or_else(|| AppError::Internal("bad hash".into()))?;
            self.config
                .files
                .put(&key, data)
                .await
                .map_err(|e| AppError::Internal(format!("writing a photo: {e}")))?;
        }
        let (position, source) = match (p.meta.position, device) {
            (Some(pos), _) => (Some(pos), "exif"),
            (None, Some(pos)) => (Some(pos), "device"),
            (None, None) => (None, "none"),
        };
        let audit = self.audit_for(actor, "photo.upload", object);
        let w = self
            .store
            .add_photo(
                NewPhoto {
                    incident: room,
                    uploader: actor.user.id,
                    shelter,
                    caption,
                    sha256,
                    mime: p.kind.mime().to_string(),
                    bytes: p.original_bytes as i64,
                    size: (i64::from(p.width), i64::from(p.height)),
                    display: (i64::from(p.display.width), i64::from(p.display.height)),
                    thumb: (i64::from(p.thumb.width), i64::from(p.thumb.height)),
                    taken_local: p.meta.taken_local.clone(),
                    taken_at: p.meta.taken_at,
                    taken_offset: p.meta.offset.clone(),
                    position,
                    location_source: source,
                    camera: p.meta.camera.clone(),
                    queued_at,
                },
                idem,
                self.now(),
                audit,
            )
            .await?;
        let value = match w.value {
            PhotoSaved::New(id) => Uploaded::New(self.store.photo(id).await?),
            PhotoSaved::Existing(id) => Uploaded::Existing(self.store.photo(id).await?),
        };
        if matches!(w.value, PhotoSaved::New(_)) && !w.replayed {
            self.live.ring();
        }
        Ok(crate::store::Written {
            value,
            replayed: w.replayed,
        })
    }

    /// The day a photo belongs to, `YYYY-MM-DD` in the deployment's time zone: its capture
    /// time (the camera's own date when it wrote no offset), else its upload time.
    pub fn photo_day(&self, p: &Photo) -> String {
        let day = |ms: Millis| {
            let t = crate::store::from_millis(ms).to_offset(self.config.tz);
            format!("{:04}-{:02}-{:02}", t.year(), u8::from(t.month()), t.day())
        };
        match (p.taken_at, &p.taken_local) {
            (Some(ms), _) => day(ms),
            (None, Some(local)) => local.chars().take(10).collect(),
            (None, None) => day(p.uploaded_at),
        }
    }

    /// An incident's gallery, newest upload first (or newest capture first), filtered.
    pub async fn gallery(
        &self,
        actor: &Actor,
        room: RoomId,
        filter: &GalleryFilter,
    ) -> AppResult<Gallery> {
        let (incident, access) = self.incident(actor, room).await?;
        let all = self.store.photos(room, 1000).await?;
        let mut orgs: Vec<(OrgId, String)> = Vec::new();
        let mut days: Vec<String> = Vec::new();
        for p in &all {
            if let Some(o) = p.uploader_org_id {
                if !orgs.iter().any(|(id, _)| *id == o) {
                    orgs.push((o, p.uploader_org.clone()));
                }
            }
            let d = self.photo_day(p);
            if !days.contains(&d) {
                days.push(d);
            }
        }
        days.sort_unstable_by(|a, b| b.cmp(a));
        let want = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let (org, shelter, day) = (want(&filter.org), want(&filter.shelter), want(&filter.day));
        let mut photos: Vec<Photo> = all
            .into_iter()
            .filter(|p| {
                org.as_deref()
                    .is_none_or(|o| p.uploader_org_id.is_some_and(|id| id.to_string() == o))
            })
            .filter(|p| {
                shelter
                    .as_deref()
                    .is_none_or(|s| p.shelter_id.is_some_and(|id| id.to_string() == s))
            })
            .filter(|p| day.as_deref().is_none_or(|d| self.photo_day(p) == d))
            .collect();
        if filter.by_taken {
            photos.sort_by_key(|p| std::cmp::Reverse(p.taken_at.or(p.queued_at)));
        }
        // The incident's shelters (the board's cached rows), by reading of the name.
        let rows = self.board_rows(room).await?;
        let mut by_kana: Vec<&crate::store::Shelter> = rows.iter().map(|r| &r.shelter).collect();
        by_kana.sort_by(|a, b| a.kana.cmp(&b.kana));
        let shelters = by_kana
            .into_iter()
            .map(|s| (s.id, s.name.clone()))
            .collect();
        Ok(Gallery {
            incident,
            access,
            photos,
            shelters,
            orgs,
            days,
        })
    }

    /// A photo and its incident, for someone who may see the incident. Withdrawn photos are
    /// seen by the deployment admin only; purged ones by nobody.
    pub async fn photo_for(
        &self,
        actor: &Actor,
        id: PhotoId,
    ) -> AppResult<(Photo, crate::store::Incident)> {
        let photo = self.store.photo(id).await?;
        let (incident, _) = self.incident(actor, photo.incident_id).await?;
        if photo.purged || (photo.withdrawn && actor.user.role != Role::DeploymentAdmin) {
            return Err(AppError::NotFound);
        }
        Ok((photo, incident))
    }

    /// Whether the actor may withdraw the photo: its uploader, or a manager of the incident.
    pub async fn can_withdraw(&self, actor: &Actor, photo: &Photo) -> AppResult<bool> {
        let (_, access) = self.incident(actor, photo.incident_id).await?;
        Ok(photo.uploader_id == actor.user.id
            || access.can_manage()
            || actor.user.role == Role::DeploymentAdmin)
    }

    /// Withdraws a photo with a reason: it leaves the timeline and gallery; the original stays
    /// for admins, the reason goes to the audit log.
    pub async fn withdraw_photo(&self, actor: &Actor, id: PhotoId, reason: &str) -> AppResult<()> {
        let (photo, _) = self.photo_for(actor, id).await?;
        let object = format!("photo:{id}");
        if !self.can_withdraw(actor, &photo).await? {
            return Err(self
                .refuse(actor, "photo.withdraw", object, AppError::Forbidden)
                .await);
        }
        let reason = note(reason, 500, "reason")?;
        if reason.is_empty() {
            return Err(Invalid::new("reason", "err-required").into());
        }
        let audit = self.audit_for(actor, "photo.withdraw", object);
        self.store
            .withdraw_photo(id, reason, self.now(), audit)
            .await?;
        self.live.ring();
        Ok(())
    }

    /// Removes a withdrawn photo's files for good (the deployment admin only); files another
    /// photo still uses stay.
    pub async fn purge_photo(&self, actor: &Actor, id: PhotoId) -> AppResult<()> {
        let object = format!("photo:{id}");
        if actor.user.role != Role::DeploymentAdmin {
            return Err(self
                .refuse(actor, "photo.purge", object, AppError::Forbidden)
                .await);
        }
        let (photo, _) = self.photo_for(actor, id).await?;
        let audit = self.audit_for(actor, "photo.purge", object);
        let shared = self.store.purge_photo(id, self.now(), audit).await?;
        if !shared {
            for f in PhotoFile::ALL {
                if let Some(key) = FileKey::photo(&photo.sha256, f) {
                    if let Err(e) = self.config.files.delete(&key).await {
                        tracing::warn!(error = %e, %key, "purge: file not removed");
                    }
                }
            }
        }
        Ok(())
    }

    /// One file of a photo, for someone who may see the incident.
    pub async fn photo_file(
        &self,
        actor: &Actor,
        id: PhotoId,
        file: PhotoFile,
    ) -> AppResult<(Photo, Vec<u8>)> {
        let (photo, _) = self.photo_for(actor, id).await?;
        let key = FileKey::photo(&photo.sha256, file).ok_or(AppError::NotFound)?;
        let bytes = match self.config.files.get(&key).await {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(AppError::NotFound),
            Err(e) => return Err(AppError::Internal(format!("reading a photo: {e}"))),
        };
        Ok((photo, bytes))
    }
}
