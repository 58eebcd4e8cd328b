//! Nothing a user writes is lost or doubled: idempotency keys.

use crate::support::*;
use axum::http::StatusCode;

async fn count_messages(t: &TestApp, room: &sonae::domain::RoomId) -> usize {
    t.app
        .store
        .messages_before(*room, None, 1000)
        .await
        .expect("messages")
        .len()
}

#[tokio::test]
async fn the_same_key_gives_one_message_even_concurrently_and_days_later() {
    let w = World::new().await;
    let mut a = w.t.login("tsu.info").await;
    let room = a.room("冪等性", "").await;
    let path = format!("/rooms/{room}/messages");
    let first = a
        .post_json(&path, &[("body", "一度だけ"), ("idem", "tablet-key-0001")])
        .await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(first.json()["replayed"], false);
    // A retry with a different body returns the first result and creates nothing.
    let again = a
        .post_json(&path, &[("body", "違う本文"), ("idem", "tablet-key-0001")])
        .await;
    assert_eq!(again.json()["message_id"], first.json()["message_id"]);
    assert_eq!(again.json()["replayed"], true);
    // Ten concurrent retries of a new key.
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let mut c = a.clone();
        let path = path.clone();
        tasks.push(tokio::spawn(async move {
            let r = c
                .post_json(&path, &[("body", "同時送信"), ("idem", "tablet-key-0002")])
                .await;
            assert_eq!(r.status, axum::http::StatusCode::OK, "{}", r.body);
            r.json()["message_id"].clone()
        }));
    }
    let mut ids = std::collections::HashSet::new();
    for t in tasks {
        let v = t.await.expect("task");
        assert!(v.is_string(), "{v}");
        ids.insert(v.to_string());
    }
    assert_eq!(ids.len(), 1, "every retry got the same message");
    assert_eq!(count_messages(&w.t, &room).await, 2);
    // Six days later the key still holds.
    w.t.clock.advance(time::Duration::days(6));
    let mut a = w.t.login("tsu.info").await;
    let late = a
        .post_json(&path, &[("body", "一度だけ"), ("idem", "tablet-key-0001")])
        .await;
    assert_eq!(late.json()["message_id"], first.json()["message_id"]);
    assert_eq!(count_messages(&w.t, &room).await, 2);
    // Keys belong to their user: another user's same key is a new message.
    let mut b = w.t.login("tsu.admin").await;
    b.post_json(
        &format!("/rooms/{}/messages", w.tsu.inbox_room_id.expect("room")),
        &[("body", "別人"), ("idem", "tablet-key-0001")],
    )
    .await;
    assert_eq!(
        count_messages(&w.t, &w.tsu.inbox_room_id.expect("room")).await,
        1
    );
}

#[tokio::test]
async fn a_double_submitted_plain_form_gives_one_message() {
    let w = World::new().await;
    let mut a = w.t.login("tsu.info").await;
    let room = a.room("二度押し", "").await;
    let page = a.get(&format!("/rooms/{room}")).await;
    let key = page
        .body
        .split("name=\"idem\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("key")
        .to_string();
    let csrf = page.hidden("csrf");
    let path = format!("/rooms/{room}/messages");
    let r1 = a
        .post(
            &path,
            &[
                ("csrf", &csrf),
                ("idem", &key),
                ("body", "二度押ししました"),
                ("reply_to", ""),
            ],
        )
        .await;
    let r2 = a
        .post(
            &path,
            &[
                ("csrf", &csrf),
                ("idem", &key),
                ("body", "二度押ししました"),
                ("reply_to", ""),
            ],
        )
        .await;
    assert_eq!(r1.status, StatusCode::SEE_OTHER);
    assert_eq!(r1.location(), r2.location());
    assert_eq!(count_messages(&w.t, &room).await, 1);
    // Every rendering carries a fresh key.
    let page2 = a.get(&format!("/rooms/{room}")).await;
    assert!(!page2.body.contains(&key));
    // Room creation is idempotent too.
    let r1 = a
        .post_json("/rooms", &[("name", "一つだけ"), ("idem", "room-key-0001")])
        .await;
    let r2 = a
        .post_json("/rooms", &[("name", "一つだけ"), ("idem", "room-key-0001")])
        .await;
    assert_eq!(r1.json()["room_id"], r2.json()["room_id"]);
    // A key used for a room cannot be replayed as a message.
    let r = a
        .post_json(&path, &[("body", "x"), ("idem", "room-key-0001")])
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
}
