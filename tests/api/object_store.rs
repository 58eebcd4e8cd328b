//! Photos in an S3-compatible bucket: a real S3 server (moto, from PyPI) on a random port.
//! Skipped with a message when moto is missing, unless SONAE_REQUIRE_S3 or CI is set
//! (`bash .ci/test-all.sh` installs it and sets both).

use crate::support::*;
use axum::http::StatusCode;
use rusty_s3::{Bucket, Credentials, S3Action, UrlStyle};
use sonae::config::{Config, DbArgs};
use sonae::files::{FileKey, Files, PhotoFile, S3Files, S3Settings};
use std::sync::Arc;
use std::time::Duration;

const KEY_ID: &str = "sonae-test";
const SECRET: &str = "sonae-test-secret";

/// A moto S3 server, stopped when dropped.
struct Moto {
    child: std::process::Child,
    endpoint: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn s3_required() -> bool {
    std::env::var("SONAE_REQUIRE_S3").is_ok_and(|v| v == "1")
        || std::env::var("CI").is_ok_and(|v| v == "true")
}

impl Moto {
    async fn start() -> Option<Moto> {
        let program = std::env::var("SONAE_MOTO_SERVER").unwrap_or_else(|_| "moto_server".into());
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
            l.local_addr().expect("addr").port()
        };
        let child = match std::process::Command::new(&program)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
        {
            Ok(c) => c,
            Err(e) => {
                if s3_required() {
                    panic!("moto_server is required (SONAE_REQUIRE_S3/CI) but cannot start: {e}");
                }
                eprintln!(
                    "SKIPPED: object store test needs moto[server] from PyPI (bash .ci/test-all.sh installs it)"
                );
                return None;
            }
        };
        let moto = Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        for _ in 0..150 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return Some(moto);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("moto_server did not start on port {port}");
    }

    /// Creates a new bucket and returns its settings.
    async fn bucket(&self, name: &str) -> S3Settings {
        let bucket = Bucket::new(
            self.endpoint.parse().expect("url"),
            UrlStyle::Path,
            name.to_string(),
            "us-east-1",
        )
        .expect("bucket");
        let creds = Credentials::new(KEY_ID, SECRET);
        let url = bucket.create_bucket(&creds).sign(Duration::from_secs(60));
        let r = reqwest::Client::new()
            .put(url)
            .header("content-length", "0")
            .send()
            .await
            .expect("create bucket");
        assert!(r.status().is_success(), "create bucket: {}", r.status());
        S3Settings {
            url: format!("{}/{name}/sonae", self.endpoint),
            region: "us-east-1".into(),
            access_key_id: KEY_ID.into(),
            secret_access_key: SECRET.into(),
            virtual_host: false,
        }
    }
}

fn s3(settings: &S3Settings) -> Files {
    Files::S3(Arc::new(S3Files::new(settings).expect("s3 client")))
}

fn db_args(data_dir: &std::path::Path, url: &str, s: &S3Settings) -> DbArgs {
    DbArgs {
        data_dir: data_dir.to_path_buf(),
        database_url: Some(url.to_string()),
        object_store: Some(s.url.clone()),
        object_store_key_id: Some(s.access_key_id.clone()),
        object_store_secret: Some(s.secret_access_key.clone()),
        ..DbArgs::default()
    }
}

#[tokio::test]
async fn photos_live_in_the_bucket_and_back_up_and_restore_from_it() {
    let Some(moto) = Moto::start().await else {
        return;
    };
    let first = moto.bucket("sonae-first").await;
    let files = s3(&first);
    files.check().await.expect("bucket answers");
    let config = Config {
        files: files.clone(),
        ..Config::default()
    };
    let w = World::with(TestApp::with_config(config).await).await;
    let mut manager = w.t.login("tsu.admin").await;
    let incident = crate::shelters::open_incident(&mut manager, "S3 試験", &[], "").await;
    let jpeg = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/photos/DSCN0010.jpg"),
    )
    .expect("photo");
    let r = manager
        .post_multipart(
            &format!("/incidents/{incident}/photos"),
            &[("idem", "s3-photo-0001"), ("caption", "橋の被害")],
            Some(("d.jpg", &jpeg)),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let photo =
        w.t.app
            .store
            .photos(incident, 1)
            .await
            .expect("photos")
            .remove(0);
    // The three files are objects in the bucket, none in the data folder.
    let keys = files.list().await.expect("list");
    let expected: Vec<FileKey> = PhotoFile::ALL
        .into_iter()
        .map(|f| FileKey::photo(&photo.sha256, f).expect("key"))
        .collect();
    let mut sorted = expected.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
    assert!(!w.t.dir.path().join("files").exists());
    assert_eq!(
        files.get(&expected[0]).await.expect("original"),
        jpeg,
        "the original byte for byte"
    );
    // Served from the bucket to members; refused to others.
    let thumb = manager.get(&format!("/photos/{}/thumb", photo.id)).await;
    assert_eq!(thumb.status, StatusCode::OK);
    assert_eq!(thumb.headers["content-type"], "image/jpeg");
    let original = manager.get(&format!("/photos/{}/original", photo.id)).await;
    assert_eq!(original.status, StatusCode::OK);
    assert_eq!(original.bytes, jpeg);
    let mut outsider = w.t.login("toba.info").await;
    assert_eq!(
        outsider
            .get(&format!("/photos/{}/thumb", photo.id))
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    // Backup reads the files from the bucket into the backup folder.
    let out = tempfile::tempdir().expect("out");
    let backup_dir = out.path().join("backup");
    let source = db_args(w.t.dir.path(), &w.t.url, &first);
    let manifest = sonae::backup::backup(&source, &backup_dir)
        .await
        .expect("backup");
    assert_eq!(manifest.files.len(), 3);
    assert_eq!(
        std::fs::read(backup_dir.join("files").join(expected[0].as_str())).expect("backed up"),
        jpeg
    );

    // Restore writes them into another (empty) bucket, and the restored deployment serves them.
    let second = moto.bucket("sonae-second").await;
    let target_dir = tempfile::tempdir().expect("target");
    let target_url = match test_backend() {
        sonae::store::Backend::Postgres => fresh_pg_database().await,
        sonae::store::Backend::Sqlite => {
            format!("sqlite://{}", target_dir.path().join("sonae.db").display())
        }
    };
    let target = db_args(target_dir.path(), &target_url, &second);
    sonae::backup::restore(&target, &backup_dir)
        .await
        .expect("restore");
    assert_eq!(s3(&second).list().await.expect("list"), sorted);
    let restored = TestApp::open(
        target_dir,
        target_url,
        Config {
            files: s3(&second),
            ..Config::default()
        },
    )
    .await;
    let mut member = restored.login("tsu.admin").await;
    let thumb = member.get(&format!("/photos/{}/thumb", photo.id)).await;
    assert_eq!(thumb.status, StatusCode::OK);
    // A bucket that holds files is not restored into.
    let err = sonae::backup::restore(&target, &backup_dir)
        .await
        .expect_err("refused");
    assert!(err.to_string().contains("not empty"), "{err}");

    // Withdrawn, then purged by the deployment admin: the objects are gone.
    let r = member
        .post(
            &format!("/photos/{}/withdraw", photo.id),
            &[("reason", "避難者の顔が写っている")],
        )
        .await;
    assert!(
        r.status.is_redirection() || r.status.is_success(),
        "{}",
        r.body
    );
    let mut admin = restored.login("admin").await;
    let r = admin
        .post(&format!("/photos/{}/purge", photo.id), &[])
        .await;
    assert!(
        r.status.is_redirection() || r.status.is_success(),
        "{}",
        r.body
    );
    assert!(s3(&second).list().await.expect("list").is_empty());
    // The first deployment's bucket is untouched.
    assert_eq!(files.list().await.expect("list").len(), 3);
}

#[tokio::test]
async fn a_bucket_that_does_not_answer_is_a_clear_error_at_start() {
    let Some(moto) = Moto::start().await else {
        return;
    };
    let missing = S3Settings {
        url: format!("{}/no-such-bucket", moto.endpoint),
        region: "us-east-1".into(),
        access_key_id: KEY_ID.into(),
        secret_access_key: SECRET.into(),
        virtual_host: false,
    };
    let err = s3(&missing).check().await.expect_err("no bucket");
    assert!(format!("{err:#}").contains("does not answer"), "{err:#}");
    // Without credentials the settings are refused before anything is sent.
    let db = DbArgs {
        object_store: Some(missing.url.clone()),
        ..DbArgs::default()
    };
    if std::env::var("AWS_ACCESS_KEY_ID").is_err() {
        assert!(db.object_store().is_err());
    }
}
