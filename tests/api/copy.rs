//! `sonae copy-db`: the demo database copied to the backend under test and back, every table equal.

use crate::support::*;
use sonae::store::copy::{TABLES, copy_db, dump};
use sonae::store::{Backend, SqlStore};

async fn dump_all(url: &str) -> Vec<(String, Vec<String>, Vec<Vec<sonae::store::copy::Value>>)> {
    let store = SqlStore::open(url).await.expect("open");
    let mut out = Vec::new();
    for (table, order) in TABLES {
        let (cols, rows) = dump(store.pool(), table, order).await.expect("dump");
        out.push((table.to_string(), cols, rows));
    }
    out
}

#[tokio::test]
async fn the_demo_copies_there_and_back_with_every_table_equal() {
    let dir = tempfile::tempdir().expect("dir");
    let a = format!("sqlite://{}", dir.path().join("a.db").display());
    let c = format!("sqlite://{}", dir.path().join("c.db").display());
    let b = match test_backend() {
        Backend::Postgres => fresh_pg_database().await,
        Backend::Sqlite => format!("sqlite://{}", dir.path().join("b.db").display()),
    };
    // The demo, in SQLite.
    let src = TestApp::open(
        tempfile::tempdir().expect("dir"),
        a.clone(),
        sonae::config::Config::default(),
    )
    .await;
    sonae::demo::load(&src.app).await.expect("demo");
    src.app.store.close().await;

    let report = copy_db(&a, &b)
        .await
        .expect("copy to the backend under test");
    assert!(
        report
            .tables
            .iter()
            .any(|(t, n)| t == "messages" && *n > 20)
    );
    copy_db(&b, &c).await.expect("copy back");
    let (da, db, dc) = (dump_all(&a).await, dump_all(&b).await, dump_all(&c).await);
    for ((ta, ca, ra), ((_, cb, rb), (_, cc, rc))) in da.iter().zip(db.iter().zip(dc.iter())) {
        // Tables the demo leaves empty (no logins, tokens or photos).
        let optional = [
            "login_failures",
            "link_tokens",
            "sessions",
            "api_tokens",
            "photos",
        ];
        assert!(
            !ra.is_empty() || optional.contains(&ta.as_str()),
            "{ta} has rows in the demo"
        );
        if !ra.is_empty() {
            assert_eq!(ca, cb, "{ta}: columns");
            assert_eq!(ca, cc, "{ta}: columns");
        }
        assert_eq!(ra, rb, "{ta}: rows there");
        assert_eq!(ra, rc, "{ta}: rows back");
    }
    // A non-empty target is refused and left alone.
    let err = copy_db(&a, &b).await.expect_err("refused");
    assert!(err.to_string().contains("not empty"), "{err}");
    assert_eq!(dump_all(&b).await, db);
    // The copy is a working deployment: new entries continue after the copied positions.
    let moved = TestApp::open(
        tempfile::tempdir().expect("dir"),
        b.clone(),
        sonae::config::Config::default(),
    )
    .await;
    let head = moved.app.store.head().await.expect("head");
    let mut c1 = moved.client();
    assert_eq!(
        c1.login("tsu.info", sonae::demo::DEMO_PASSWORD)
            .await
            .status,
        axum::http::StatusCode::SEE_OTHER
    );
    let room = moved
        .app
        .store
        .org_by_ref("tsu")
        .await
        .expect("org")
        .inbox_room_id
        .expect("room");
    c1.say(&room, "移行後の投稿").await;
    assert!(moved.app.store.head().await.expect("head") > head);
}
