//! Rooms: group rooms, direct messages, organisation rooms, membership, the room list.

use crate::support::*;
use axum::http::StatusCode;
use sonae::domain::{OrgKind, Role};

#[tokio::test]
async fn every_organisation_has_an_inbox_room_addressed_by_the_prefecture() {
    let w = World::new().await;
    let tsu_room = w.tsu.inbox_room_id.expect("room");
    let mut pref = w.t.login("mie.info").await;
    let mut tsu = w.t.login("tsu.info").await;
    let mut toba = w.t.login("toba.info").await;
    pref.say(&tsu_room, "津市 受信窓口 御中：確認をお願いします")
        .await;
    assert!(
        tsu.get(&format!("/rooms/{tsu_room}"))
            .await
            .body
            .contains("確認をお願いします")
    );
    assert_eq!(
        toba.get(&format!("/rooms/{tsu_room}")).await.status,
        StatusCode::NOT_FOUND
    );
    // A user created later joins their organisation's room; the page lists members by organisation.
    let later = w.t.user(&w.tsu, "tsu.later", Role::Member).await;
    let page = tsu.get(&format!("/rooms/{tsu_room}")).await;
    assert!(page.body.contains(&later.login));
    let org_heads: Vec<_> = page.body.match_indices("class=\"org-head\"").collect();
    assert_eq!(org_heads.len(), 2, "三重県 and 津市");
    // An organisation created later gets its own room too.
    let fire =
        w.t.org("toba-fire", "鳥羽市消防本部", OrgKind::Fire, None)
            .await;
    assert!(fire.inbox_room_id.is_some());
    // Nobody leaves an organisation's room.
    assert_eq!(
        tsu.post_json(&format!("/rooms/{tsu_room}/leave"), &[])
            .await
            .status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn group_rooms_invitations_direct_messages_and_leaving() {
    let w = World::new().await;
    let mut a = w.t.login("tsu.info").await;
    let mut b = w.t.login("toba.info").await;
    let room = a.room("沿岸部 連絡", "toba.info").await;
    // The invitation lands in the inbox.
    let inbox = b.get("/inbox").await;
    assert!(inbox.body.contains("ルームへの招待"), "{}", inbox.body);
    assert!(inbox.body.contains("沿岸部 連絡"));
    assert_eq!(b.get_json("/api/v1/counts").await.json()["inbox"], 1);
    // Inviting an unknown login is a clear error and creates nothing.
    let bad = a
        .post_json(
            "/rooms",
            &[
                ("name", "x"),
                ("invite", "nobody.here"),
                ("idem", "bad-invite-key"),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        bad.json()["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("ログインID")
    );
    // Direct messages: the same room both ways; the message lands in the other's inbox.
    let dm1 = a
        .post_json("/direct", &[("login", "toba.info")])
        .await
        .json()["room_id"]
        .clone();
    let dm2 = b
        .post_json("/direct", &[("login", "tsu.info")])
        .await
        .json()["room_id"]
        .clone();
    assert_eq!(dm1, dm2);
    let dm: sonae::domain::RoomId = dm1.as_str().expect("id").parse().expect("id");
    a.say(&dm, "直接失礼します").await;
    let inbox = b.get("/inbox").await;
    assert!(inbox.body.contains("直接失礼します"));
    assert_eq!(
        a.post_json("/direct", &[("login", "tsu.info")])
            .await
            .status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    // The room list shows unread counts, newest activity first.
    a.say(&room, "一件目").await;
    a.say(&room, "二件目").await;
    let home = b.get("/").await;
    let first_room = home.body.find(&room.to_string()).expect("room listed");
    let dm_pos = home.body.find(&dm.to_string()).expect("dm listed");
    assert!(first_room < dm_pos, "most recent first");
    assert!(home.body.contains("未読 2"), "{}", home.body);
    let counts = b.get_json("/api/v1/counts").await.json();
    assert_eq!(counts["rooms"][room.to_string()], 2);
    // Reading the room clears its count.
    b.get(&format!("/rooms/{room}")).await;
    assert_eq!(
        b.get_json("/api/v1/counts").await.json()["rooms"][room.to_string()],
        0
    );
    // Leaving.
    assert_eq!(
        b.post(&format!("/rooms/{room}/leave"), &[]).await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        b.get(&format!("/rooms/{room}")).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn an_organisation_added_to_a_room_brings_its_future_members() {
    let w = World::new().await;
    let mut a = w.t.login("mie.info").await;
    let room = a.room("県・市町 情報担当", "").await;
    assert_eq!(
        a.post(&format!("/rooms/{room}/orgs"), &[("org", "242110")])
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    let mut toba = w.t.login("toba.info").await;
    assert_eq!(
        toba.get(&format!("/rooms/{room}")).await.status,
        StatusCode::OK
    );
    let newcomer = w.t.user(&w.toba, "toba.newcomer", Role::Member).await;
    let settings = a.get(&format!("/rooms/{room}/settings")).await;
    assert!(settings.body.contains(&newcomer.login));
    assert!(settings.body.contains("組織で参加"));
    // Unknown organisation: a clear error.
    assert_eq!(
        a.post_json(&format!("/rooms/{room}/orgs"), &[("org", "999999")])
            .await
            .status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    // Removing the organisation removes those who came with it.
    let r = a
        .post(&format!("/rooms/{room}/orgs/{}/remove", w.toba.id), &[])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(
        toba.get(&format!("/rooms/{room}")).await.status,
        StatusCode::NOT_FOUND
    );
    // Renaming and archiving show on the page.
    a.post(
        &format!("/rooms/{room}/rename"),
        &[("name", "情報担当（改）"), ("description", "説明文")],
    )
    .await;
    a.post(&format!("/rooms/{room}/archive"), &[("archived", "1")])
        .await;
    let page = a.get(&format!("/rooms/{room}")).await;
    assert!(page.body.contains("情報担当（改）"));
    assert!(page.body.contains("アーカイブ済み"));
    assert!(
        !page.body.contains("id=\"composer\""),
        "no message box in an archived room"
    );
}
