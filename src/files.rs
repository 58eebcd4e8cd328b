//! Uploaded files: a local folder (`<data-dir>/files`, the default) or an S3-compatible bucket
//! for deployments with several instances.
//!
//! Names are content hashes, so the same bytes are stored once and a write can be repeated
//! safely. In the folder a file is written under a temporary name, flushed and renamed into
//! place; in a bucket an object appears only once it is complete. Either way a crash never
//! leaves half a file under a real name.

use crate::config::DbArgs;
use anyhow::Context;
use rusty_s3::{Bucket, Credentials, S3Action, UrlStyle};
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The folder of unfinished resumable uploads.
pub const UPLOADS: &str = "uploads/";

/// How long a signed request stays valid (it is sent at once).
const SIGNED_FOR: Duration = Duration::from_secs(600);

/// The three files of a photo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhotoFile {
    Original,
    Display,
    Thumb,
}

impl PhotoFile {
    fn suffix(self) -> &'static str {
        match self {
            PhotoFile::Original => "orig",
            PhotoFile::Display => "display.jpg",
            PhotoFile::Thumb => "thumb.jpg",
        }
    }

    /// All three, in the order they are written.
    pub const ALL: [PhotoFile; 3] = [PhotoFile::Original, PhotoFile::Display, PhotoFile::Thumb];
}

/// A file's name in the store, such as `photos/ab/<sha256>.thumb.jpg`: `/`-separated parts of
/// letters, digits, `.`, `_` and `-`, none starting with a dot (so no `..`, no hidden or
/// temporary files, no absolute paths).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FileKey(String);

impl FileKey {
    /// The key of one of a photo's files; `None` unless `sha256` is 64 hex digits.
    pub fn photo(sha256: &str, file: PhotoFile) -> Option<Self> {
        if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        Some(Self(format!(
            "photos/{}/{sha256}.{}",
            &sha256[..2],
            file.suffix()
        )))
    }

    /// Checks a name read from a listing or a backup manifest.
    pub fn parse(s: &str) -> Option<Self> {
        let ok = !s.is_empty()
            && s.split('/').all(|part| {
                !part.is_empty()
                    && !part.starts_with('.')
                    && part
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
            });
        ok.then(|| Self(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for FileKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A stored file as a listing gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub key: FileKey,
    /// When it was written, in seconds since 1970 (when the store says).
    pub modified: Option<i64>,
}

/// Where a deployment keeps its uploaded files.
#[derive(Debug, Clone)]
pub enum Files {
    /// A local folder.
    Local(PathBuf),
    /// An S3-compatible bucket.
    S3(Arc<S3Files>),
}

/// A bucket (and a key prefix inside it) with the credentials to use it.
#[derive(Debug)]
pub struct S3Files {
    bucket: Bucket,
    credentials: Credentials,
    /// Prepended to every key (empty, or ending in `/`).
    prefix: String,
    http: reqwest::Client,
    /// The address without credentials, for messages.
    shown: String,
}

/// The object store settings of `DbArgs`, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Settings {
    /// Endpoint with bucket and optional prefix: `https://s3.example.lg.jp/bucket[/prefix]`.
    pub url: String,
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    /// Address buckets as `bucket.host` instead of `host/bucket`.
    pub virtual_host: bool,
}

fn other(msg: impl Into<String>) -> io::Error {
    io::Error::other(msg.into())
}

impl Files {
    /// The store `db` describes: its object store when one is configured, else `<data-dir>/files`.
    pub fn open(db: &DbArgs) -> anyhow::Result<Self> {
        match db.object_store()? {
            Some(s) => Ok(Files::S3(Arc::new(S3Files::new(&s)?))),
            None => Ok(Files::Local(db.data_dir.join("files"))),
        }
    }

    /// Where the files are, for messages (no credentials).
    pub fn describe(&self) -> String {
        match self {
            Files::Local(root) => root.display().to_string(),
            Files::S3(s) => s.shown.clone(),
        }
    }

    /// Checks the store can be used: the folder can be created, or the bucket answers a listing.
    pub async fn check(&self) -> anyhow::Result<()> {
        match self {
            Files::Local(root) => std::fs::create_dir_all(root)
                .with_context(|| format!("cannot create {}", root.display())),
            Files::S3(s) => s
                .list_page("", None, 1)
                .await
                .map(|_| ())
                .with_context(|| format!("the object store {} does not answer", s.shown)),
        }
    }

    /// Stores `bytes` under `key` (nothing happens if the folder already has it).
    pub async fn put(&self, key: &FileKey, bytes: Vec<u8>) -> io::Result<()> {
        match self {
            Files::Local(root) => {
                let path = root.join(key.as_str());
                tokio::task::spawn_blocking(move || write_atomically(&path, &bytes))
                    .await
                    .map_err(|e| other(format!("join: {e}")))?
            }
            Files::S3(s) => s.put(key, bytes).await,
        }
    }

    /// The bytes under `key` (`NotFound` when there are none).
    pub async fn get(&self, key: &FileKey) -> io::Result<Vec<u8>> {
        match self {
            Files::Local(root) => tokio::fs::read(root.join(key.as_str())).await,
            Files::S3(s) => s.get(key).await,
        }
    }

    /// Removes `key` (no error when it is already gone).
    pub async fn delete(&self, key: &FileKey) -> io::Result<()> {
        match self {
            Files::Local(root) => match tokio::fs::remove_file(root.join(key.as_str())).await {
                Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            },
            Files::S3(s) => s.delete(key).await,
        }
    }

    /// Every stored file, sorted (temporary files are not listed).
    pub async fn list(&self) -> io::Result<Vec<FileKey>> {
        Ok(self
            .list_under("")
            .await?
            .into_iter()
            .map(|l| l.key)
            .collect())
    }

    /// The stored files whose keys start with `prefix` (a folder such as `uploads/ab/`, or
    /// empty for all), sorted by key.
    pub async fn list_under(&self, prefix: &str) -> io::Result<Vec<Listed>> {
        let mut found = match self {
            Files::Local(root) => {
                let root = root.clone();
                let prefix = prefix.to_string();
                tokio::task::spawn_blocking(move || list_folder(&root, &prefix))
                    .await
                    .map_err(|e| other(format!("join: {e}")))??
            }
            Files::S3(s) => s.list(prefix).await?,
        };
        found.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(found)
    }
}

/// Writes `bytes` to `path` atomically (temporary name, fsync, rename), unless it exists.
fn write_atomically(path: &std::path::Path, bytes: &[u8]) -> io::Result<()> {
    if path.exists() {
        return Ok(());
    }
    let dir = path
        .parent()
        .ok_or_else(|| other("a file key has no folder"))?;
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".tmp-{}", uuid::Uuid::new_v4().simple()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn list_folder(root: &std::path::Path, prefix: &str) -> io::Result<Vec<Listed>> {
    let mut out = Vec::new();
    // Start at the prefix's folder; keys are still checked against the whole prefix.
    let start = match prefix.rfind('/') {
        Some(i) => root.join(&prefix[..i]),
        None => root.to_path_buf(),
    };
    let mut stack = vec![start];
    while let Some(d) = stack.pop() {
        let entries = match std::fs::read_dir(&d) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        for e in entries {
            let p = e?.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(rel) = p.strip_prefix(root) {
                let rel = rel.to_string_lossy().replace('\\', "/");
                // Temporary files of an interrupted write are skipped.
                if let Some(key) = FileKey::parse(&rel).filter(|k| k.0.starts_with(prefix)) {
                    let modified = std::fs::metadata(&p)
                        .and_then(|m| m.modified())
                        .ok()
                        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                        .map(|d| d.as_secs() as i64);
                    out.push(Listed { key, modified });
                }
            }
        }
    }
    Ok(out)
}

impl S3Files {
    /// A client for the bucket in `s.url` (nothing is sent yet).
    pub fn new(s: &S3Settings) -> anyhow::Result<Self> {
        let url: reqwest::Url = s
            .url
            .parse()
            .with_context(|| format!("the object store address {} is not a URL", s.url))?;
        let mut parts = url
            .path_segments()
            .map(|p| p.filter(|s| !s.is_empty()).collect::<Vec<_>>())
            .unwrap_or_default()
            .into_iter();
        let name = parts
            .next()
            .with_context(|| format!("the object store address {} names no bucket", s.url))?
            .to_string();
        let prefix: String = parts.map(|p| format!("{p}/")).collect();
        let mut endpoint = url.clone();
        endpoint.set_path("/");
        endpoint.set_query(None);
        let style = if s.virtual_host {
            UrlStyle::VirtualHost
        } else {
            UrlStyle::Path
        };
        let bucket = Bucket::new(endpoint, style, name, s.region.clone())
            .with_context(|| format!("the object store address {} is not usable", s.url))?;
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(120))
            .build()
            .context("building the object store client")?;
        let mut shown = url;
        let _ = shown.set_password(None);
        let _ = shown.set_username("");
        Ok(Self {
            bucket,
            credentials: Credentials::new(s.access_key_id.clone(), s.secret_access_key.clone()),
            prefix,
            http,
            shown: shown.to_string(),
        })
    }

    fn object(&self, key: &FileKey) -> String {
        format!("{}{}", self.prefix, key.as_str())
    }

    /// The response when it is a success, else an error naming `what` was done.
    async fn ensure_ok(resp: reqwest::Response, what: &str) -> io::Result<reqwest::Response> {
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let body = resp.text().await.unwrap_or_default();
        let kind = if status == reqwest::StatusCode::NOT_FOUND {
            io::ErrorKind::NotFound
        } else {
            io::ErrorKind::Other
        };
        let detail: String = body.chars().take(300).collect();
        Err(io::Error::new(
            kind,
            format!("object store: {what} answered {status}: {detail}"),
        ))
    }

    fn net(e: reqwest::Error) -> io::Error {
        other(format!("object store unreachable: {e}"))
    }

    async fn put(&self, key: &FileKey, bytes: Vec<u8>) -> io::Result<()> {
        let object = self.object(key);
        let url = self
            .bucket
            .put_object(Some(&self.credentials), &object)
            .sign(SIGNED_FOR);
        let resp = self
            .http
            .put(url)
            .body(bytes)
            .send()
            .await
            .map_err(Self::net)?;
        Self::ensure_ok(resp, "storing a file").await.map(|_| ())
    }

    async fn get(&self, key: &FileKey) -> io::Result<Vec<u8>> {
        let object = self.object(key);
        let url = self
            .bucket
            .get_object(Some(&self.credentials), &object)
            .sign(SIGNED_FOR);
        let resp = self.http.get(url).send().await.map_err(Self::net)?;
        let resp = Self::ensure_ok(resp, "reading a file").await?;
        Ok(resp.bytes().await.map_err(Self::net)?.to_vec())
    }

    async fn delete(&self, key: &FileKey) -> io::Result<()> {
        let object = self.object(key);
        let url = self
            .bucket
            .delete_object(Some(&self.credentials), &object)
            .sign(SIGNED_FOR);
        let resp = self.http.delete(url).send().await.map_err(Self::net)?;
        match Self::ensure_ok(resp, "removing a file").await {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// One page of the listing under the prefix (ours, then `under`): keys with their time
    /// (seconds), and the token of the next page.
    async fn list_page(
        &self,
        under: &str,
        token: Option<&str>,
        max: usize,
    ) -> io::Result<(Vec<(String, Option<i64>)>, Option<String>)> {
        let mut action = self.bucket.list_objects_v2(Some(&self.credentials));
        let prefix = format!("{}{under}", self.prefix);
        if !prefix.is_empty() {
            action.with_prefix(prefix);
        }
        if let Some(t) = token {
            action.with_continuation_token(t);
        }
        action.with_max_keys(max);
        let url = action.sign(SIGNED_FOR);
        let resp = self.http.get(url).send().await.map_err(Self::net)?;
        let text = Self::ensure_ok(resp, "listing files")
            .await?
            .text()
            .await
            .map_err(Self::net)?;
        let parsed = rusty_s3::actions::ListObjectsV2::parse_response(&text)
            .map_err(|e| other(format!("object store: unreadable listing: {e}")))?;
        let rfc3339 = &time::format_description::well_known::Rfc3339;
        Ok((
            parsed
                .contents
                .into_iter()
                .map(|c| {
                    let t = time::OffsetDateTime::parse(&c.last_modified, rfc3339).ok();
                    (c.key, t.map(|t| t.unix_timestamp()))
                })
                .collect(),
            parsed.next_continuation_token,
        ))
    }

    async fn list(&self, under: &str) -> io::Result<Vec<Listed>> {
        let mut out = Vec::new();
        let mut token = None;
        loop {
            let (keys, next) = self.list_page(under, token.as_deref(), 1000).await?;
            for (k, modified) in keys {
                if let Some(key) = k.strip_prefix(&self.prefix).and_then(FileKey::parse) {
                    out.push(Listed { key, modified });
                }
            }
            match next {
                Some(t) => token = Some(t),
                None => return Ok(out),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_folder_is_written_atomically_and_refuses_odd_names() {
        let dir = std::env::temp_dir().join(format!("sonae-files-{}", uuid::Uuid::new_v4()));
        let files = Files::Local(dir.clone());
        let sha = "ab".repeat(32);
        let key = FileKey::photo(&sha, PhotoFile::Thumb).unwrap();
        assert_eq!(key.as_str(), format!("photos/ab/{sha}.thumb.jpg"));
        files.put(&key, b"jpeg".to_vec()).await.unwrap();
        // A second write of the same name keeps the first (names are content hashes).
        files.put(&key, b"other".to_vec()).await.unwrap();
        assert_eq!(files.get(&key).await.unwrap(), b"jpeg");
        // A temporary file left by a crash is not listed.
        std::fs::write(dir.join("photos/ab/.tmp-crashed"), b"half").unwrap();
        assert_eq!(files.list().await.unwrap(), vec![key.clone()]);
        files.delete(&key).await.unwrap();
        files.delete(&key).await.unwrap();
        assert_eq!(
            files.get(&key).await.unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
        assert!(FileKey::photo("../../etc/passwd", PhotoFile::Original).is_none());
        for bad in [
            "",
            "/etc/passwd",
            "photos/../x",
            "a//b",
            "photos/.tmp-1",
            "a b",
        ] {
            assert!(FileKey::parse(bad).is_none(), "{bad}");
        }
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn an_object_store_address_gives_bucket_and_prefix() {
        let s = S3Files::new(&S3Settings {
            url: "http://user:pw@127.0.0.1:9000/sonae/prod/a".into(),
            region: "us-east-1".into(),
            access_key_id: "k".into(),
            secret_access_key: "s".into(),
            virtual_host: false,
        })
        .unwrap();
        assert_eq!(s.bucket.name(), "sonae");
        assert_eq!(s.prefix, "prod/a/");
        assert!(!s.shown.contains("pw"), "{}", s.shown);
        let no_bucket = S3Settings {
            url: "http://127.0.0.1:9000/".into(),
            region: "r".into(),
            access_key_id: "k".into(),
            secret_access_key: "s".into(),
            virtual_host: false,
        };
        assert!(S3Files::new(&no_bucket).is_err());
    }
}
