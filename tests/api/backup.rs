//! `sonae backup` under a posting load, then `sonae restore` into an empty deployment.

use crate::support::*;
use sonae::config::DbArgs;
use sonae::store::copy::{TABLES, Value, dump};
use sonae::store::{Backend, SqlStore};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

async fn tables(url: &str) -> Vec<(String, Vec<Vec<Value>>)> {
    let store = SqlStore::open(url).await.expect("open");
    let mut out = Vec::new();
    for (table, order) in TABLES {
        let (_, rows) = dump(store.pool(), table, order).await.expect("dump");
        out.push((table.to_string(), rows));
    }
    out
}

#[tokio::test]
async fn a_backup_taken_under_load_restores_to_the_same_tables_and_files() {
    let w = World::new().await;
    let data_dir = w.t.dir.path().to_path_buf();
    // A real photo in an incident: its original, display image and thumbnail are files.
    let mut manager = w.t.login("tsu.admin").await;
    let incident = crate::shelters::open_incident(&mut manager, "バックアップ試験", &[], "").await;
    let jpeg = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/photos/DSCN0010.jpg"),
    )
    .expect("photo");
    let r = manager
        .post_multipart(
            &format!("/incidents/{incident}/photos"),
            &[("idem", "backup-photo-0001")],
            Some(("d.jpg", &jpeg)),
        )
        .await;
    assert_eq!(r.status, axum::http::StatusCode::OK, "{}", r.body);
    let photo =
        w.t.app
            .store
            .photos(incident, 1)
            .await
            .expect("photos")
            .remove(0);
    let mut owner = w.t.login("tsu.info").await;
    let room = owner.room("バックアップ", "toba.info").await;
    // Post continuously while the backup runs.
    let stop = Arc::new(AtomicBool::new(false));
    let mut load = Vec::new();
    for login in ["tsu.info", "toba.info"] {
        let mut c = w.t.login(login).await;
        let stop = stop.clone();
        load.push(tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(Ordering::SeqCst) {
                c.say(&room, &format!("負荷 {n}")).await;
                n += 1;
            }
            n
        }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let out = tempfile::tempdir().expect("out");
    let backup_dir = out.path().join("backup");
    let db = DbArgs {
        data_dir: data_dir.clone(),
        database_url: Some(w.t.url.clone()),
        ..DbArgs::default()
    };
    let manifest = sonae::backup::backup(&db, &backup_dir)
        .await
        .expect("backup");
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    stop.store(true, Ordering::SeqCst);
    let mut posted = 0;
    for l in load {
        posted += l.await.expect("poster");
    }
    assert!(posted > 0);
    assert_eq!(
        manifest.files.len(),
        3,
        "original, display image, thumbnail"
    );
    // The snapshot is consistent: every message has its entry at the same position, its key
    // and its audit row.
    let backup_url = format!("sqlite://{}", backup_dir.join("sonae.db").display());
    let snap = tables(&backup_url).await;
    let get = |name: &str| {
        snap.iter()
            .find(|(t, _)| t == name)
            .map(|(_, r)| r.clone())
            .unwrap_or_default()
    };
    let messages = get("messages");
    let entries = get("entries");
    assert!(messages.len() > 1);
    let entry_msgs: std::collections::HashSet<String> = entries
        .iter()
        .filter_map(|r| match &r[3] {
            Value::Text(s) => Some(s.clone()),
            _ => None,
        })
        .collect();
    for m in &messages {
        let Value::Text(id) = &m[0] else {
            panic!("message id")
        };
        assert!(entry_msgs.contains(id), "message {id} has its entry");
    }
    let keys = get("idempotency")
        .iter()
        .filter(|r| matches!(&r[2], Value::Text(s) if s.starts_with("message:")))
        .count();
    assert_eq!(keys, messages.len(), "one key per message");

    // Restore into an empty deployment on the backend under test.
    let target_dir = tempfile::tempdir().expect("target");
    let target_url = match test_backend() {
        Backend::Postgres => fresh_pg_database().await,
        Backend::Sqlite => format!("sqlite://{}", target_dir.path().join("sonae.db").display()),
    };
    let target = DbArgs {
        data_dir: target_dir.path().to_path_buf(),
        database_url: Some(target_url.clone()),
        ..DbArgs::default()
    };
    sonae::backup::restore(&target, &backup_dir)
        .await
        .expect("restore");
    assert_eq!(
        tables(&target_url).await,
        snap,
        "every table as in the backup"
    );
    let restored_original = target_dir
        .path()
        .join("files/photos")
        .join(&photo.sha256[..2])
        .join(format!("{}.orig", photo.sha256));
    assert_eq!(
        std::fs::read(restored_original).expect("restored original"),
        jpeg
    );
    // The restored deployment serves the photo to the incident's members.
    let restored = TestApp::open(
        target_dir,
        target_url.clone(),
        sonae::config::Config::default(),
    )
    .await;
    let mut member = restored.login("tsu.admin").await;
    let thumb = member.get(&format!("/photos/{}/thumb", photo.id)).await;
    assert_eq!(thumb.status, axum::http::StatusCode::OK);
    assert_eq!(
        thumb.headers[axum::http::header::CONTENT_TYPE],
        "image/jpeg"
    );
    let _keep_until_the_end = restored.dir;
    // Restoring again over a deployment that has data is refused.
    let err = sonae::backup::restore(&target, &backup_dir)
        .await
        .expect_err("refused");
    assert!(err.to_string().contains("not empty"), "{err}");
    // A backup into a folder that has something in it is refused too.
    assert!(sonae::backup::backup(&db, &backup_dir).await.is_err());
}
