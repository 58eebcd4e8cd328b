//! Uploaded files on disk, under `<data-dir>/files` (which `sonae backup` copies). A file is
//! written under a temporary name, flushed, and renamed into place, so a crash never leaves half
//! a file under a real name. Names are content hashes: the same bytes are stored once.

use std::io::Write;
use std::path::{Path, PathBuf};

/// The file store of one deployment.
#[derive(Debug, Clone)]
pub struct FileStore {
    root: PathBuf,
}

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
}

impl FileStore {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// Where a photo's file lives (the hash is checked to be hex, so no path can be built from
    /// anything else).
    pub fn photo_path(&self, sha256: &str, file: PhotoFile) -> Option<PathBuf> {
        if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        Some(
            self.root
                .join("photos")
                .join(&sha256[..2])
                .join(format!("{sha256}.{}", file.suffix())),
        )
    }

    /// Writes `bytes` to `path` atomically (temporary name, fsync, rename), unless it exists.
    pub fn put(&self, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
        if path.exists() {
            return Ok(());
        }
        let dir = path.parent().unwrap_or(&self.root);
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

    pub fn get(&self, path: &Path) -> std::io::Result<Vec<u8>> {
        std::fs::read(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_atomically_and_refuses_odd_names() {
        let dir = std::env::temp_dir().join(format!("sonae-files-{}", uuid::Uuid::new_v4()));
        let fs = FileStore::new(&dir);
        let sha = "ab".repeat(32);
        let p = fs.photo_path(&sha, PhotoFile::Thumb).unwrap();
        fs.put(&p, b"jpeg").unwrap();
        assert_eq!(fs.get(&p).unwrap(), b"jpeg");
        let leftovers = std::fs::read_dir(p.parent().unwrap())
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with(".tmp-"))
            .count();
        assert_eq!(leftovers, 0);
        assert!(
            fs.photo_path("../../etc/passwd", PhotoFile::Original)
                .is_none()
        );
        let _ = std::fs::remove_dir_all(dir);
    }
}
