//! `sonae backup DIR` and `sonae restore DIR`: a consistent copy of the database and of the
//! uploaded files, taken while the server keeps serving, and its return into an empty deployment.
//!
//! The database is copied in one read snapshot (SQLite WAL read transaction, or PostgreSQL
//! `REPEATABLE READ`) into `DIR/sonae.db`, a SQLite file whichever backend it came from, so a
//! backup of either can be restored into either. The uploaded files (from `<data-dir>/files` or
//! the object store) are copied into `DIR/files` with their SHA-256 in `DIR/manifest.json`,
//! which restore checks; restore writes them into the folder or the object store configured.

use crate::clock::{Clock, SystemClock};
use crate::config::DbArgs;
use crate::files::{Files, UPLOADS};
use crate::store::copy::copy_db;
use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::Path;

/// What a backup holds.
#[derive(Debug, Serialize, Deserialize)]
pub struct Manifest {
    pub created_at: String,
    pub source: String,
    pub tables: Vec<(String, usize)>,
    pub files: Vec<FileEntry>,
}

/// One uploaded file in a backup.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FileEntry {
    pub path: String,
    pub bytes: u64,
    pub sha256: String,
}

fn is_empty_dir(dir: &Path) -> bool {
    std::fs::read_dir(dir)
        .map(|mut d| d.next().is_none())
        .unwrap_or(true)
}

/// Copies every file of `from` into `to`, returning each with its digest.
async fn copy_files(from: &Files, to: &Files) -> anyhow::Result<Vec<FileEntry>> {
    let mut out = Vec::new();
    // Unfinished resumable uploads are not part of a backup.
    let keys = from.list().await?;
    for key in keys
        .into_iter()
        .filter(|k| !k.as_str().starts_with(UPLOADS))
    {
        let bytes = from
            .get(&key)
            .await
            .with_context(|| format!("reading {key} from {}", from.describe()))?;
        let entry = FileEntry {
            path: key.to_string(),
            bytes: bytes.len() as u64,
            sha256: hex::encode(Sha256::digest(&bytes)),
        };
        to.put(&key, bytes)
            .await
            .with_context(|| format!("writing {key} to {}", to.describe()))?;
        out.push(entry);
    }
    Ok(out)
}

/// Takes a backup of the deployment described by `db` into `dir` (new or empty).
pub async fn backup(db: &DbArgs, dir: &Path) -> anyhow::Result<Manifest> {
    if !is_empty_dir(dir) {
        bail!("{} is not empty; back up into a new folder", dir.display());
    }
    std::fs::create_dir_all(dir)?;
    let target = format!("sqlite://{}", dir.join("sonae.db").display());
    let report = copy_db(&db.url(), &target).await?;
    let files = copy_files(&Files::open(db)?, &Files::Local(dir.join("files"))).await?;
    let manifest = Manifest {
        created_at: SystemClock
            .now()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        source: crate::server::redact(&db.url()),
        tables: report.tables,
        files,
    };
    std::fs::write(
        dir.join("manifest.json"),
        serde_json::to_vec_pretty(&manifest)?,
    )?;
    Ok(manifest)
}

/// Restores a backup into the empty deployment described by `db`.
pub async fn restore(db: &DbArgs, dir: &Path) -> anyhow::Result<Manifest> {
    let manifest: Manifest = serde_json::from_slice(
        &std::fs::read(dir.join("manifest.json"))
            .context("no manifest.json: is this a Sonae backup?")?,
    )?;
    let source = dir.join("sonae.db");
    if !source.exists() {
        bail!("{} is missing", source.display());
    }
    let files = Files::open(db)?;
    if !files.list().await?.is_empty() {
        bail!(
            "{} is not empty; restore into an empty data folder or bucket",
            files.describe()
        );
    }
    std::fs::create_dir_all(&db.data_dir)?;
    copy_db(&format!("sqlite://{}", source.display()), &db.url()).await?;
    let restored = copy_files(&Files::Local(dir.join("files")), &files).await?;
    if restored != manifest.files {
        bail!("the restored files do not match the backup's manifest");
    }
    Ok(manifest)
}
