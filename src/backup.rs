//! `sonae backup DIR` and `sonae restore DIR`: a consistent copy of the database and of the
//! uploaded files, taken while the server keeps serving, and its return into an empty deployment.
//!
//! The database is copied in one read snapshot (SQLite WAL read transaction, or PostgreSQL
//! `REPEATABLE READ`) into `DIR/sonae.db`, a SQLite file whichever backend it came from, so a
//! backup of either can be restored into either. Files under `<data-dir>/files` are copied with
//! their SHA-256 in `DIR/manifest.json`, which restore checks.

use crate::clock::{Clock, SystemClock};
use crate::config::DbArgs;
use crate::store::copy::copy_db;
use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

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

fn files_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("files")
}

fn is_empty_dir(dir: &Path) -> bool {
    std::fs::read_dir(dir)
        .map(|mut d| d.next().is_none())
        .unwrap_or(true)
}

/// Every file below `root`, relative paths with `/`, sorted.
fn list_files(root: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries {
            let p = e?.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(root)?.to_path_buf());
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Copies the files of `from` into `to`, returning each with its digest.
fn copy_files(from: &Path, to: &Path) -> anyhow::Result<Vec<FileEntry>> {
    let mut out = Vec::new();
    for rel in list_files(from)? {
        let src = from.join(&rel);
        let dst = to.join(&rel);
        if let Some(parent) = dst.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let bytes = std::fs::read(&src).with_context(|| format!("reading {}", src.display()))?;
        // Write under a temporary name and rename: a crash leaves no half file.
        let tmp = dst.with_extension("partial");
        std::fs::write(&tmp, &bytes)?;
        std::fs::rename(&tmp, &dst)?;
        out.push(FileEntry {
            path: rel.to_string_lossy().replace('\\', "/"),
            bytes: bytes.len() as u64,
            sha256: hex::encode(Sha256::digest(&bytes)),
        });
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
    let files = copy_files(&files_dir(&db.data_dir), &dir.join("files"))?;
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
    let files = files_dir(&db.data_dir);
    if !is_empty_dir(&files) {
        bail!(
            "{} is not empty; restore into an empty data folder",
            files.display()
        );
    }
    std::fs::create_dir_all(&db.data_dir)?;
    copy_db(&format!("sqlite://{}", source.display()), &db.url()).await?;
    let restored = copy_files(&dir.join("files"), &files)?;
    if restored != manifest.files {
        bail!("the restored files do not match the backup's manifest");
    }
    Ok(manifest)
}
