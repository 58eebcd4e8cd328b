//! Resumable photo uploads for bad networks. A device sends a photo in chunks under the photo's
//! idempotency key; after a cut it asks how much arrived and sends only the rest; then it
//! finishes the upload with the photo's details. Chunks live in the file store, so every
//! instance behind a load balancer sees them, until the upload is finished or abandoned.

use super::*;
use crate::files::{FileKey, UPLOADS};
use crate::media::Limits;
use crate::store::Written;

/// The largest chunk accepted (a device sends smaller ones on a bad network).
pub const MAX_CHUNK: usize = 8 * 1024 * 1024;

/// Unfinished uploads older than this are removed.
pub const ABANDONED_AFTER_SECS: i64 = 3 * 24 * 3600;

/// How much of an upload the server holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadState {
    /// Bytes held from the start, without gaps: the next chunk starts here.
    pub received: u64,
    /// The size the device announced (none before the first chunk).
    pub total: Option<u64>,
    /// Whether the upload was finished (the photo is stored).
    pub finished: bool,
}

/// One stored chunk, as its name records it: `<offset>-<len>-<total>`.
#[derive(Debug, Clone)]
struct Chunk {
    key: FileKey,
    offset: u64,
    len: u64,
    total: u64,
}

/// The folder of one user's upload (the key is hashed, so any key makes a safe name).
fn folder(user: UserId, key: &IdemKey) -> String {
    let h = hex::encode(Sha256::digest(format!("{user}:{}", key.as_str())));
    format!("{UPLOADS}{h}/")
}

fn parse_chunk(key: FileKey, folder: &str) -> Option<Chunk> {
    let name = key.as_str().strip_prefix(folder)?;
    let mut parts = name.split('-').map(|p| p.parse::<u64>().ok());
    let (Some(Some(offset)), Some(Some(len)), Some(Some(total)), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    Some(Chunk {
        key,
        offset,
        len,
        total,
    })
}

/// The contiguous bytes from 0 held by `chunks`, and the announced total.
fn held(chunks: &[Chunk]) -> (u64, Option<u64>) {
    let total = chunks.first().map(|c| c.total);
    let mut received = 0;
    for c in chunks {
        if c.offset == received && Some(c.total) == total {
            received += c.len;
        }
    }
    (received, total)
}

fn storage(e: std::io::Error) -> AppError {
    AppError::Internal(format!("upload chunks: {e}"))
}

impl App {
    async fn chunks(&self, folder: &str) -> AppResult<Vec<Chunk>> {
        let listed = self
            .config
            .files
            .list_under(folder)
            .await
            .map_err(storage)?;
        let mut chunks: Vec<Chunk> = listed
            .into_iter()
            .filter_map(|l| parse_chunk(l.key, folder))
            .collect();
        chunks.sort_by_key(|c| (c.offset, std::cmp::Reverse(c.len)));
        Ok(chunks)
    }

    async fn drop_chunks(&self, chunks: &[Chunk]) {
        for c in chunks {
            if let Err(e) = self.config.files.delete(&c.key).await {
                tracing::warn!(error = %e, key = %c.key, "upload chunk not removed");
            }
        }
    }

    /// Whether the upload under `key` was finished already (its photo is stored).
    async fn finished_upload(
        &self,
        actor: &Actor,
        room: RoomId,
        key: &IdemKey,
    ) -> AppResult<Option<Written<crate::store::PhotoSaved>>> {
        let idem = crate::store::Idem {
            user_id: actor.user.id,
            key: key.clone(),
        };
        Ok(self.store.known_photo(&idem, room, None).await?)
    }

    /// How much of the upload under `key` the server holds.
    pub async fn upload_state(
        &self,
        actor: &Actor,
        room: RoomId,
        key: &IdemKey,
    ) -> AppResult<UploadState> {
        self.writable_incident(actor, room, "photo.upload", Access::is_member)
            .await?;
        if self.finished_upload(actor, room, key).await?.is_some() {
            return Ok(UploadState {
                received: 0,
                total: None,
                finished: true,
            });
        }
        let (received, total) = held(&self.chunks(&folder(actor.user.id, key)).await?);
        Ok(UploadState {
            received,
            total,
            finished: false,
        })
    }

    /// Stores one chunk of the upload under `key`: bytes `offset..offset+len` of a file of
    /// `total` bytes. A chunk sent again is accepted once; one that would leave a gap is
    /// refused with 409 (the device then asks how much arrived).
    pub async fn upload_chunk(
        &self,
        actor: &Actor,
        room: RoomId,
        key: &IdemKey,
        offset: u64,
        total: u64,
        bytes: Vec<u8>,
    ) -> AppResult<UploadState> {
        self.writable_incident(actor, room, "photo.upload", Access::is_member)
            .await?;
        if total > Limits::default().max_bytes as u64 {
            return Err(AppError::TooLarge);
        }
        if bytes.len() > MAX_CHUNK {
            return Err(AppError::TooLarge);
        }
        let len = bytes.len() as u64;
        if total == 0 || len == 0 {
            return Err(Invalid::new("file", "err-photo-empty").into());
        }
        if offset.checked_add(len).is_none_or(|end| end > total) {
            return Err(AppError::BadRequest("err-upload-range"));
        }
        if self.finished_upload(actor, room, key).await?.is_some() {
            return Ok(UploadState {
                received: total,
                total: Some(total),
                finished: true,
            });
        }
        let folder = folder(actor.user.id, key);
        let mut chunks = self.chunks(&folder).await?;
        if chunks.iter().any(|c| c.total != total) {
            // The device started over with another file under the same key.
            if offset != 0 {
                return Err(AppError::Conflict("err-upload-offset"));
            }
            self.drop_chunks(&chunks).await;
            chunks.clear();
        }
        let (received, _) = held(&chunks);
        if offset > received {
            return Err(AppError::Conflict("err-upload-offset"));
        }
        if offset < received {
            // A chunk whose answer was lost on the way: already held.
            if chunks.iter().any(|c| c.offset == offset && c.len == len) {
                return Ok(UploadState {
                    received,
                    total: Some(total),
                    finished: false,
                });
            }
            return Err(AppError::Conflict("err-upload-offset"));
        }
        let name = FileKey::parse(&format!("{folder}{offset}-{len}-{total}"))
            .ok_or_else(|| AppError::Internal("bad chunk name".into()))?;
        self.config.files.put(&name, bytes).await.map_err(storage)?;
        Ok(UploadState {
            received: received + len,
            total: Some(total),
            finished: false,
        })
    }

    /// Finishes the upload under `key`: the chunks become the photo (as a one-piece upload
    /// with `details`), then are removed. Finishing again answers with the same photo.
    pub async fn finish_upload(
        &self,
        actor: &Actor,
        room: RoomId,
        key: IdemKey,
        details: PhotoUpload,
    ) -> AppResult<Written<Uploaded>> {
        self.writable_incident(actor, room, "photo.upload", Access::is_member)
            .await?;
        if let Some(w) = self.finished_upload(actor, room, &key).await? {
            let photo = match w.value {
                crate::store::PhotoSaved::New(id) => Uploaded::New(self.store.photo(id).await?),
                crate::store::PhotoSaved::Existing(id) => {
                    Uploaded::Existing(self.store.photo(id).await?)
                }
            };
            return Ok(Written {
                value: photo,
                replayed: true,
            });
        }
        let folder = folder(actor.user.id, &key);
        let chunks = self.chunks(&folder).await?;
        let (received, total) = held(&chunks);
        if total.is_none_or(|t| received != t) {
            return Err(AppError::Conflict("err-upload-incomplete"));
        }
        let mut bytes = Vec::with_capacity(received as usize);
        let mut at = 0;
        for c in &chunks {
            if c.offset != at {
                continue;
            }
            match self.config.files.get(&c.key).await {
                Ok(b) => bytes.extend(b),
                // Another request finishing the same upload removed it: answer as it did.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Box::pin(self.finish_upload(actor, room, key, details)).await;
                }
                Err(e) => return Err(storage(e)),
            }
            at += c.len;
        }
        if bytes.len() as u64 != received {
            return Err(AppError::Conflict("err-upload-incomplete"));
        }
        let result = self
            .upload_photo(actor, room, PhotoUpload { bytes, ..details }, key)
            .await;
        // Stored, or refused for what the file is: the chunks are no longer needed. Kept when
        // the server failed, so that finishing again can succeed.
        if matches!(
            result,
            Ok(_) | Err(AppError::Invalid(_) | AppError::TooLarge)
        ) {
            self.drop_chunks(&chunks).await;
        }
        result
    }

    /// Removes the chunks of uploads abandoned for longer than `ABANDONED_AFTER_SECS`.
    pub async fn remove_abandoned_uploads(&self) -> AppResult<usize> {
        let now = self.now() / 1000;
        let old: Vec<FileKey> = self
            .config
            .files
            .list_under(UPLOADS)
            .await
            .map_err(storage)?
            .into_iter()
            .filter(|l| l.modified.is_some_and(|m| now - m > ABANDONED_AFTER_SECS))
            .map(|l| l.key)
            .collect();
        for k in &old {
            if let Err(e) = self.config.files.delete(k).await {
                tracing::warn!(error = %e, key = %k, "abandoned upload not removed");
            }
        }
        Ok(old.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(offset: u64, len: u64, total: u64) -> Chunk {
        Chunk {
            key: FileKey::parse(&format!("uploads/x/{offset}-{len}-{total}")).unwrap(),
            offset,
            len,
            total,
        }
    }

    #[test]
    fn only_bytes_without_a_gap_count_as_received() {
        assert_eq!(held(&[]), (0, None));
        assert_eq!(held(&[chunk(0, 10, 30), chunk(10, 10, 30)]), (20, Some(30)));
        assert_eq!(held(&[chunk(0, 10, 30), chunk(20, 10, 30)]), (10, Some(30)));
        let name = FileKey::parse("uploads/x/5-6-7").unwrap();
        let c = parse_chunk(name, "uploads/x/").unwrap();
        assert_eq!((c.offset, c.len, c.total), (5, 6, 7));
        assert!(parse_chunk(FileKey::parse("uploads/x/5-6").unwrap(), "uploads/x/").is_none());
        assert!(parse_chunk(FileKey::parse("uploads/x/5-6-7-8").unwrap(), "uploads/x/").is_none());
    }
}
