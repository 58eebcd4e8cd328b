//! Several instances sharing one PostgreSQL database (skipped on the SQLite pass, where one
//! process owns the file).

use crate::live::{Server, Stream};
use crate::support::*;
use sonae::config::Config;
use sonae::store::Backend;
use std::time::{Duration, Instant};

fn postgres_only(test: &str) -> bool {
    if test_backend() == Backend::Postgres {
        return true;
    }
    eprintln!("NOTE: {test} runs in the PostgreSQL pass only");
    false
}

/// A second instance on the same database as `t`.
async fn second_instance(t: &TestApp) -> TestApp {
    let dir = tempfile::tempdir().expect("dir");
    TestApp::open(dir, t.url.clone(), Config::default()).await
}

fn body_of(ev: &crate::live::Ev) -> String {
    ev.data["html"].as_str().unwrap_or("").to_string()
}

#[tokio::test]
async fn a_post_on_one_instance_reaches_a_client_of_the_other_quickly() {
    if !postgres_only("instances") {
        return;
    }
    let w = World::new().await;
    let b_app = second_instance(&w.t).await;
    let server_a = Server::start(&w.t).await;
    let server_b = Server::start(&b_app).await;
    let mut poster = w.t.login("tsu.info").await;
    let reader = w.t.login("toba.info").await;
    let room = poster.room("二台構成", "toba.info").await;
    let mut s = Stream::open(&server_b.base, &reader, None).await;
    let started = Instant::now();
    poster.say(&room, "instance-a").await;
    let got = s.messages(1).await;
    assert!(body_of(&got[0]).contains("instance-a"));
    assert!(
        started.elapsed() < Duration::from_millis(900),
        "woken by NOTIFY, not by the 1 s poll: {:?}",
        started.elapsed()
    );
    // Reconnect to the other instance with Last-Event-ID: no gap.
    let last = got[0].id.expect("id");
    s.close();
    for i in 0..3 {
        poster.say(&room, &format!("gap-{i}")).await;
    }
    let mut s = Stream::open(&server_a.base, &reader, Some(last)).await;
    let got = s.messages(3).await;
    for (i, ev) in got.iter().enumerate() {
        assert!(body_of(ev).contains(&format!("gap-{i}")));
    }
    server_a.stop().await;
    server_b.stop().await;
}

#[tokio::test]
async fn posters_on_both_instances_never_make_a_client_skip_repeat_or_reorder() {
    if !postgres_only("instances") {
        return;
    }
    let w = World::new().await;
    let b_app = second_instance(&w.t).await;
    let server_a = Server::start(&w.t).await;
    let server_b = Server::start(&b_app).await;
    let mut owner = w.t.login("tsu.info").await;
    let room = owner
        .room("二台負荷", "toba.info, toba.admin, tsu.admin")
        .await;
    let start = w.t.app.store.head().await.expect("head");
    let mut posters = Vec::new();
    for (i, login) in ["tsu.info", "toba.admin", "tsu.admin", "toba.info"]
        .iter()
        .enumerate()
    {
        let mut c = w.t.login(login).await;
        if i % 2 == 1 {
            c.router = b_app.router.clone();
        }
        posters.push(c);
    }
    let per = 30;
    let total = posters.len() * per;
    let reader = w.t.login("toba.info").await;
    let mut readers = Vec::new();
    for r in 0..3 {
        let reader = reader.clone();
        let bases = [server_a.base.clone(), server_b.base.clone()];
        readers.push(tokio::spawn(async move {
            let mut seen = Vec::new();
            let mut last = start;
            let mut which = r % 2;
            let mut s = Stream::open(&bases[which], &reader, Some(last)).await;
            while seen.len() < total {
                let ev = s.next().await;
                if ev.event == "entry" && ev.data["kind"] == "message_new" {
                    last = ev.id.expect("id");
                    seen.push((
                        last,
                        ev.data["message_id"].as_str().unwrap_or("").to_string(),
                    ));
                    if seen.len() % (5 + r) == 0 {
                        s.close();
                        which = 1 - which;
                        s = Stream::open(&bases[which], &reader, Some(last)).await;
                    }
                }
            }
            seen
        }));
    }
    // Every third post mentions toba.admin (poster 1): batches mix plain posts (written in one
    // statement) with posts that also write inbox items (written in a transaction).
    let mentions = |p: usize, i: usize| p != 1 && i % 3 == 0;
    let mut tasks = Vec::new();
    for (p, mut c) in posters.into_iter().enumerate() {
        tasks.push(tokio::spawn(async move {
            for i in 0..per {
                let text = if mentions(p, i) {
                    format!("p{p}-{i} @toba.admin")
                } else {
                    format!("p{p}-{i}")
                };
                c.say(&room, &text).await;
            }
        }));
    }
    for t in tasks {
        t.await.expect("poster");
    }
    let expected = (0..4)
        .flat_map(|p| (0..per).map(move |i| (p, i)))
        .filter(|&(p, i)| mentions(p, i))
        .count();
    let inbox =
        w.t.app
            .store
            .inbox(w.toba_admin.id, 1000)
            .await
            .expect("inbox");
    assert_eq!(
        inbox.iter().filter(|i| i.kind == "mention").count(),
        expected,
        "one mention notice per mentioning post"
    );
    let stored: Vec<String> =
        w.t.app
            .store
            .messages_before(room, None, 10_000)
            .await
            .expect("messages")
            .iter()
            .map(|m| m.id.to_string())
            .collect();
    assert_eq!(stored.len(), total);
    for r in readers {
        let seen = tokio::time::timeout(Duration::from_secs(60), r)
            .await
            .expect("reader done")
            .expect("reader");
        let ids: Vec<String> = seen.iter().map(|(_, m)| m.clone()).collect();
        assert_eq!(
            ids, stored,
            "every entry once, in commit order, across instances"
        );
    }
    server_a.stop().await;
    server_b.stop().await;
}

#[tokio::test]
async fn a_late_commit_is_never_skipped() {
    if !postgres_only("instances") {
        return;
    }
    use sqlx::Connection;
    let w = World::new().await;
    let server = Server::start(&w.t).await;
    let mut poster = w.t.login("tsu.info").await;
    let reader = w.t.login("toba.info").await;
    let room = poster.room("遅いコミット", "toba.info").await;
    let mut s = Stream::open(&server.base, &reader, None).await;
    // Another writer holds its transaction open after taking its position.
    let mut raw = sqlx::PgConnection::connect(&w.t.url)
        .await
        .expect("connect");
    let mut held = raw.begin().await.expect("begin");
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(0x736f_6e61_6501_i64)
        .execute(&mut *held)
        .await
        .expect("lock");
    let held_pos: i64 = sqlx::query_scalar(
        "INSERT INTO entries (kind, room_id, at) VALUES ('room_updated', $1, 0) RETURNING pos",
    )
    .bind(room.to_string())
    .fetch_one(&mut *held)
    .await
    .expect("entry");
    // Others post meanwhile; they wait for the held one instead of overtaking it.
    let mut posts = Vec::new();
    for i in 0..5 {
        let mut c = poster.clone();
        posts.push(tokio::spawn(async move {
            c.say(&room, &format!("after-held-{i}")).await
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        s.quiet_for(200).await,
        "nothing is published past an uncommitted position"
    );
    held.commit().await.expect("commit");
    for p in posts {
        p.await.expect("post");
    }
    let first = s.next().await;
    assert_eq!(first.data["kind"], "room_updated");
    assert_eq!(first.id, Some(held_pos));
    let rest = s.messages(5).await;
    assert!(rest.iter().all(|e| e.id.expect("id") > held_pos));
    server.stop().await;
}

#[tokio::test]
async fn instances_starting_together_migrate_once() {
    if !postgres_only("instances") {
        return;
    }
    let url = fresh_pg_database().await;
    let mut starts = Vec::new();
    for _ in 0..4 {
        let url = url.clone();
        starts.push(tokio::spawn(async move {
            let store = sonae::store::open(&url).await.expect("open");
            store.migrate().await
        }));
    }
    for s in starts {
        s.await.expect("task").expect("migrated without error");
    }
    let store = sonae::store::open(&url).await.expect("open");
    assert_eq!(store.user_count().await.expect("count"), 0);
}

#[tokio::test]
async fn an_instance_that_loses_its_listen_connection_catches_up() {
    if !postgres_only("instances") {
        return;
    }
    use sqlx::Connection;
    let w = World::new().await;
    let b_app = second_instance(&w.t).await;
    let server_b = Server::start(&b_app).await;
    let mut poster = w.t.login("tsu.info").await;
    let reader = w.t.login("toba.info").await;
    let room = poster.room("LISTEN切断", "toba.info").await;
    let mut s = Stream::open(&server_b.base, &reader, None).await;
    poster.say(&room, "before-cut").await;
    assert!(body_of(&s.messages(1).await[0]).contains("before-cut"));
    // Cut every LISTEN connection to this database (both instances').
    let db =
        w.t.url
            .split('?')
            .next()
            .and_then(|u| u.rsplit('/').next())
            .expect("db")
            .to_string();
    let mut admin = sqlx::PgConnection::connect(&pg_admin_url())
        .await
        .expect("admin");
    let cut: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND query ILIKE 'LISTEN%'",
    )
    .bind(&db)
    .fetch_all(&mut admin)
    .await
    .expect("terminate");
    assert!(!cut.is_empty(), "there were LISTEN connections to cut");
    // Posted while instance B is not listening: it still arrives, from the database.
    poster.say(&room, "after-cut").await;
    assert!(body_of(&s.messages(1).await[0]).contains("after-cut"));
    // And once B listens again, delivery is quick again.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let started = Instant::now();
    poster.say(&room, "relistened").await;
    assert!(body_of(&s.messages(1).await[0]).contains("relistened"));
    assert!(
        started.elapsed() < Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
    server_b.stop().await;
}
