//! 要確認 over the API: asking organisations and people, confirming by button or by reply,
//! once only, by those asked only, and the sender's matrix (both databases).

use crate::json_api::{call, token_for};
use crate::support::*;
use axum::http::StatusCode;
use sonae::domain::{OrgKind, Role};

#[tokio::test]
async fn organisations_confirm_once_by_button_or_reply_and_the_sender_sees_the_matrix() {
    let w = World::new().await;
    let mut pref = w.t.login("mie.info").await;
    let room = pref
        .room("台風対応 連絡", "tsu.info toba.info toba.admin")
        .await;
    let sender = token_for(&w.t, "mie.info").await;
    let mut c = w.t.client();
    let path = format!("/api/v1/rooms/{room}/messages");
    let body = serde_json::json!({
        "body": "各市町は避難所の開設状況を確認してください",
        "confirm": {"all_orgs": true, "due_at": "2099-01-01T09:00:00+09:00"}
    })
    .to_string();
    let r = call(
        &mut c,
        "POST",
        &path,
        &sender,
        Some("ask-0001"),
        Some(&body),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let mid = r.json()["id"].as_str().expect("id").to_string();
    let matrix_path = format!("/api/v1/rooms/{room}/messages/{mid}/confirmations");
    let m = call(&mut c, "GET", &matrix_path, &sender, None, None).await;
    assert_eq!(m.status, StatusCode::OK, "{}", m.body);
    let m = m.json();
    assert_eq!(m["total"], 2, "津市 and 鳥羽市, not the sender's own: {m}");
    assert_eq!(m["confirmed"], 0);
    // The addressees have it in their inbox.
    let tsu = token_for(&w.t, "tsu.info").await;
    let inbox = call(&mut c, "GET", "/api/v1/inbox", &tsu, None, None).await;
    assert!(inbox.body.contains("confirm"), "{}", inbox.body);

    // 津市 confirms with the button, twice: the second changes nothing.
    let confirm_path = format!("/api/v1/rooms/{room}/messages/{mid}/confirm");
    let first = call(
        &mut c,
        "POST",
        &confirm_path,
        &tsu,
        Some("confirm-0001"),
        None,
    )
    .await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    assert_eq!(first.json()["rows"][0]["state"], "confirmed");
    let at = first.json()["rows"][0]["confirmed_at"].clone();
    let again = call(
        &mut c,
        "POST",
        &confirm_path,
        &tsu,
        Some("confirm-0002"),
        None,
    )
    .await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    assert_eq!(again.json()["rows"][0]["confirmed_at"], at);
    // 鳥羽市 confirms by replying, two of its people at once: one confirmation.
    let toba1 = token_for(&w.t, "toba.info").await;
    let toba2 = token_for(&w.t, "toba.admin").await;
    let reply = serde_json::json!({"body": "鳥羽市 了解しました", "reply_to": mid}).to_string();
    let (a, b) = tokio::join!(
        {
            let mut c = w.t.client();
            let (p, t, r) = (path.clone(), toba1.clone(), reply.clone());
            async move { call(&mut c, "POST", &p, &t, Some("reply-0001"), Some(&r)).await }
        },
        {
            let mut c = w.t.client();
            let (p, t, r) = (path.clone(), toba2.clone(), reply.clone());
            async move { call(&mut c, "POST", &p, &t, Some("reply-0002"), Some(&r)).await }
        }
    );
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(b.status, StatusCode::OK, "{}", b.body);
    let m = call(&mut c, "GET", &matrix_path, &sender, None, None)
        .await
        .json();
    assert_eq!(m["confirmed"], 2, "{m}");
    let toba_row = m["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .find(|r| r["name"] == "鳥羽市")
        .expect("鳥羽市")
        .clone();
    assert_eq!(toba_row["state"], "confirmed");
    assert!(toba_row["reply_id"].is_string(), "{toba_row}");

    // Refused clearly, nothing changed: the matrix for someone neither sender nor manager;
    // confirming as someone not asked; confirming a message that asked nothing; asking
    // someone outside the room.
    let r = call(&mut c, "GET", &matrix_path, &tsu, None, None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let r = call(
        &mut c,
        "POST",
        &confirm_path,
        &sender,
        Some("confirm-0003"),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let plain = call(
        &mut c,
        "POST",
        &path,
        &sender,
        Some("plain-0001"),
        Some(r#"{"body": "連絡のみ"}"#),
    )
    .await;
    let plain_id = plain.json()["id"].as_str().expect("id").to_string();
    let r = call(
        &mut c,
        "POST",
        &format!("/api/v1/rooms/{room}/messages/{plain_id}/confirm"),
        &tsu,
        Some("confirm-0004"),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    let outside = serde_json::json!({
        "body": "x", "confirm": {"users": [w.admin.id.to_string()]}
    })
    .to_string();
    let r = call(
        &mut c,
        "POST",
        &path,
        &sender,
        Some("ask-0002"),
        Some(&outside),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let nobody = r#"{"body": "x", "confirm": {}}"#;
    let r = call(
        &mut c,
        "POST",
        &path,
        &sender,
        Some("ask-0003"),
        Some(nobody),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let m = call(&mut c, "GET", &matrix_path, &sender, None, None)
        .await
        .json();
    assert_eq!(m["confirmed"], 2);
}

/// The message id a page's composer form posted (JSON answer of the page script's form post).
fn posted_id(r: &Resp) -> String {
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.json()["message_id"]
        .as_str()
        .expect("message_id")
        .to_string()
}

#[tokio::test]
async fn the_pages_ask_confirm_show_the_matrix_remind_and_export_those_not_confirmed() {
    let w = World::new().await;
    let mut pref = w.t.login("mie.info").await;
    let room = pref
        .room("大雨 連絡", "tsu.info tsu.admin toba.info toba.admin")
        .await;
    // Without JavaScript: the composer's 要確認 options are plain form fields.
    let page = pref.get(&format!("/rooms/{room}")).await;
    assert!(page.body.contains("name=\"confirm_all\""), "{}", page.body);
    assert!(
        page.body
            .contains(&format!("name=\"confirm_org.{}\"", w.tsu.id)),
        "the room's other organisations are offered"
    );
    let due = "2099-01-01T17:00";
    let mid = posted_id(
        &pref
            .post_json(
                &format!("/rooms/{room}/messages"),
                &[
                    ("body", "土砂災害警戒情報: 避難所の開設を確認してください"),
                    ("idem", "ask-page-0001"),
                    ("confirm_all", "1"),
                    ("confirm_due", due),
                ],
            )
            .await,
    );
    // A due time that has passed, or a due time with nobody asked: clear 4xx, nothing posted.
    let r = pref
        .post_json(
            &format!("/rooms/{room}/messages"),
            &[
                ("body", "x"),
                ("idem", "ask-page-0002"),
                ("confirm_all", "1"),
                ("confirm_due", "2001-01-01T09:00"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let r = pref
        .post_json(
            &format!("/rooms/{room}/messages"),
            &[
                ("body", "x"),
                ("idem", "ask-page-0003"),
                ("confirm_due", due),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);

    // 津市 sees the request with its 確認 button; the sender does not.
    let mut tsu = w.t.login("tsu.info").await;
    let page = tsu.get(&format!("/rooms/{room}")).await;
    assert!(page.body.contains("確認 0 / 2"), "{}", page.body);
    assert!(page.body.contains("確認しました"), "{}", page.body);
    let mine = pref.get(&format!("/rooms/{room}")).await;
    assert!(!mine.body.contains("確認しました"));
    assert!(mine.body.contains("確認状況を見る"));
    let r = tsu
        .post(&format!("/rooms/{room}/messages/{mid}/confirm"), &[])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let page = tsu.get(&format!("/rooms/{room}")).await;
    assert!(page.body.contains("確認 1 / 2"), "{}", page.body);
    assert!(page.body.contains("✓ 確認済み"));

    // The matrix: the sender's, not 津市's.
    let matrix = format!("/rooms/{room}/messages/{mid}/confirmations");
    let m = pref.get(&matrix).await;
    assert_eq!(m.status, StatusCode::OK, "{}", m.body);
    assert!(m.body.contains("1 / 2 確認済"), "{}", m.body);
    assert!(
        m.body.contains("tsu.info さん"),
        "who confirmed: {}",
        m.body
    );
    assert_eq!(tsu.get(&matrix).await.status, StatusCode::FORBIDDEN);

    // Reminders: by the sender only; they reach 鳥羽市's two people, not 津市's.
    let r = tsu.post(&format!("{matrix}/remind"), &[]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let r = pref.post(&format!("{matrix}/remind"), &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert!(r.location().ends_with("?reminded=2"), "{}", r.location());
    // A second press within ten minutes reminds nobody again; later it does.
    let r = pref.post(&format!("{matrix}/remind"), &[]).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert!(r.body.contains("10分以内に催促したばかり"), "{}", r.body);
    w.t.clock.advance(time::Duration::minutes(11));
    let r = pref.post(&format!("{matrix}/remind"), &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let mut toba = w.t.login("toba.info").await;
    let inbox = toba.get("/inbox").await;
    assert!(inbox.body.contains("確認の催促"), "{}", inbox.body);
    let inbox = tsu.get("/inbox").await;
    assert!(!inbox.body.contains("確認の催促"));

    // Those not confirmed, as CSV and as a printable page.
    let csv = pref
        .get(&format!(
            "/api/v1/rooms/{room}/messages/{mid}/confirmations/pending.csv"
        ))
        .await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(csv.body.contains("鳥羽市"), "{}", csv.body);
    assert!(!csv.body.contains("津市"), "{}", csv.body);
    let print = pref.get(&format!("{matrix}?print=1")).await;
    assert!(print.body.contains("鳥羽市") && !print.body.contains("<nav"));
    let forbidden = tsu
        .get(&format!(
            "/api/v1/rooms/{room}/messages/{mid}/confirmations/pending.csv"
        ))
        .await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);

    // 鳥羽市 confirms by replying; then there is nobody left to remind.
    let r = toba
        .post_json(
            &format!("/rooms/{room}/messages"),
            &[
                ("body", "鳥羽市 了解"),
                ("idem", "reply-page-0001"),
                ("reply_to", &mid),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let m = pref.get(&matrix).await;
    assert!(m.body.contains("2 / 2 確認済"), "{}", m.body);
    assert!(m.body.contains("返信で確認"));
    let r = pref.post(&format!("{matrix}/remind"), &[]).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
}

#[tokio::test]
async fn read_counts_for_members_names_for_the_sender_never_for_outsiders() {
    let w = World::new().await;
    let mut pref = w.t.login("mie.info").await;
    let room = pref.room("既読 確認", "tsu.info toba.info").await;
    let mid = pref.say(&room, "本日17時に会議").await;
    let token = token_for(&w.t, "mie.info").await;
    let mut c = w.t.client();
    let reads = format!("/api/v1/rooms/{room}/messages/{mid}/reads");
    let r = call(&mut c, "GET", &reads, &token, None, None).await.json();
    assert_eq!(
        (r["read"].as_u64(), r["members"].as_u64()),
        (Some(0), Some(2))
    );
    // Many readers at once (each also opens the room page): every position is kept.
    let logins = ["tsu.info", "toba.info"];
    let mut tasks = Vec::new();
    for l in logins {
        let mut cl = w.t.login(l).await;
        let path = format!("/rooms/{room}");
        tasks.push(tokio::spawn(async move {
            for _ in 0..5 {
                cl.get(&path).await;
            }
        }));
    }
    for t in tasks {
        t.await.expect("reader");
    }
    let r = call(&mut c, "GET", &reads, &token, None, None).await.json();
    assert_eq!(r["read"], 2, "{r}");
    // One member's positions arriving out of order, all at once: the highest is kept.
    let mut clients = Vec::new();
    for _ in 0..45 {
        clients.push(w.t.login("tsu.info").await);
    }
    let head = w.t.app.live.head();
    let mut tasks = Vec::new();
    for (pos, mut cl) in (head - 39..=head + 5).rev().zip(clients) {
        let path = format!("/rooms/{room}/read");
        tasks.push(tokio::spawn(async move {
            cl.post_json(&path, &[("pos", &pos.to_string())])
                .await
                .status
        }));
    }
    for t in tasks {
        assert_eq!(t.await.expect("read"), StatusCode::NO_CONTENT);
    }
    let members = w.t.app.store.members(room).await.expect("members");
    let tsu = members
        .iter()
        .find(|m| m.user_id == w.tsu_member.id)
        .expect("tsu.info");
    // The highest wins over the 39 lower ones sent at the same time; and no position is past
    // what was written (read entries themselves move the head while this runs).
    assert!(
        tsu.last_read_pos >= head && tsu.last_read_pos <= w.t.app.live.head(),
        "kept {}, head {head}",
        tsu.last_read_pos
    );
    assert!(tsu.last_read_pos <= head + 5);
    let who = r["who"].as_array().expect("the sender sees who");
    assert!(who.iter().all(|x| x["read"] == true), "{r}");
    // A member sees the count, not the names; someone outside the room sees nothing.
    let tsu = token_for(&w.t, "tsu.info").await;
    let r = call(&mut c, "GET", &reads, &tsu, None, None).await.json();
    assert_eq!(r["read"], 2);
    assert!(r["who"].is_null(), "{r}");
    let outsider = token_for(&w.t, "tsu.admin").await;
    let r = call(&mut c, "GET", &reads, &outsider, None, None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    // The page shows the count on the message and the names to the sender.
    let page = pref.get(&format!("/rooms/{room}")).await;
    assert!(
        page.body.contains("既読 <span class=\"read-n\">2</span>"),
        "{}",
        page.body
    );
    let names = pref
        .get(&format!("/rooms/{room}/messages/{mid}/reads"))
        .await;
    assert!(names.body.contains("tsu.info さん") && names.body.contains("2 人中 2 人が既読"));
}

#[tokio::test]
async fn a_broadcast_to_thirty_organisations_is_one_matrix_and_no_confirmation_is_lost() {
    let w = World::new().await;
    let mut towns = Vec::new();
    for i in 0..30 {
        let org =
            w.t.org(
                &format!("town{i:02}"),
                &format!("町{i:02}"),
                OrgKind::Municipality,
                None,
            )
            .await;
        w.t.user(&org, &format!("town{i:02}.info"), Role::Member)
            .await;
        towns.push(w.t.app.store.org(org.id).await.expect("org"));
    }
    let sender = token_for(&w.t, "mie.info").await;
    let mut c = w.t.client();
    let mut pref = w.t.login("mie.info").await;
    let group = pref.room("県 市町 連絡", "tsu.info").await;
    let body = serde_json::json!({
        "body": "【要確認】県防災ネットワークの障害について",
        "orgs": towns.iter().map(|o| o.id.to_string()).collect::<Vec<_>>(),
        "rooms": [group.to_string()],
        "confirm": true,
        "due_at": "2099-01-01T12:00:00+09:00",
    })
    .to_string();
    let sent = call(
        &mut c,
        "POST",
        "/api/v1/broadcasts",
        &sender,
        Some("bcast-0001"),
        Some(&body),
    )
    .await;
    assert_eq!(sent.status, StatusCode::OK, "{}", sent.body);
    let sent = sent.json();
    assert_eq!(sent["copies"].as_array().map(Vec::len), Some(31));
    // Retrying with the same key posts nothing twice.
    let again = call(
        &mut c,
        "POST",
        "/api/v1/broadcasts",
        &sender,
        Some("bcast-0001"),
        Some(&body),
    )
    .await;
    let again = again.json();
    assert_eq!(again["replayed"], true);
    assert_eq!(again["copies"], sent["copies"]);
    let bid = sent["broadcast_id"].as_str().expect("id").to_string();
    let matrix = format!("/api/v1/broadcasts/{bid}");
    let m = call(&mut c, "GET", &matrix, &sender, None, None)
        .await
        .json();
    assert_eq!(m["total"], 31, "30 towns and 津市 in the group room: {m}");
    assert_eq!(m["confirmed"], 0);

    // Every town confirms at the same moment, each in its own 受信窓口 room.
    let mut tasks = Vec::new();
    for (i, town) in towns.iter().enumerate() {
        let inbox = town.inbox_room_id.expect("inbox room");
        let copy = sent["copies"]
            .as_array()
            .and_then(|v| v.iter().find(|c| c["room_id"] == inbox.to_string()))
            .expect("a copy in the town's inbox room")["message_id"]
            .as_str()
            .expect("id")
            .to_string();
        let mut cl = w.t.login(&format!("town{i:02}.info")).await;
        tasks.push(tokio::spawn(async move {
            cl.post_json(&format!("/rooms/{inbox}/messages/{copy}/confirm"), &[])
                .await
                .status
        }));
    }
    for t in tasks {
        assert_eq!(t.await.expect("confirm"), StatusCode::OK);
    }
    let m = call(&mut c, "GET", &matrix, &sender, None, None)
        .await
        .json();
    assert_eq!(m["confirmed"], 30, "none lost: {m}");
    let pending: Vec<_> = m["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .filter(|r| r["state"] != "confirmed")
        .map(|r| r["name"].clone())
        .collect();
    assert_eq!(pending, vec![serde_json::json!("津市")]);
    // The sender's page shows it as one table; a reminder reaches only 津市's person.
    let page = pref.get(&format!("/broadcasts/{bid}")).await;
    assert!(page.body.contains("30 / 31 確認済"), "{}", page.body);
    let r = call(
        &mut c,
        "POST",
        &format!("{matrix}/remind"),
        &sender,
        None,
        None,
    )
    .await;
    assert_eq!(r.json()["reminded"], 1, "{}", r.body);
    // Someone else's broadcast is not found.
    let tsu = token_for(&w.t, "tsu.info").await;
    let r = call(&mut c, "GET", &matrix, &tsu, None, None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_broadcast_where_the_sender_may_not_post_is_refused_and_posts_nothing() {
    let w = World::new().await;
    let mut tsu = w.t.login("tsu.info").await;
    let tsu_room = tsu.room("津市 内部", "tsu.admin").await;
    let mut pref = w.t.login("mie.info").await;
    let pref_room = pref.room("県 内部", "admin").await;
    let token = token_for(&w.t, "tsu.info").await;
    let mut c = w.t.client();
    let send = |body: serde_json::Value| body.to_string();
    // A room the sender is not in.
    let r = call(
        &mut c,
        "POST",
        "/api/v1/broadcasts",
        &token,
        Some("bc-bad-0001"),
        Some(&send(serde_json::json!({"body": "x", "rooms": [tsu_room.to_string(), pref_room.to_string()]}))),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    // An organisation whose 受信窓口 the sender is not in (only the prefecture's people are).
    let r = call(
        &mut c,
        "POST",
        "/api/v1/broadcasts",
        &token,
        Some("bc-bad-0002"),
        Some(&send(serde_json::json!({"body": "x", "rooms": [tsu_room.to_string()], "orgs": [w.toba.id.to_string()]}))),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    // Nowhere, or an id that is not one.
    for (key, body) in [
        ("bc-bad-0003", serde_json::json!({"body": "x"})),
        (
            "bc-bad-0004",
            serde_json::json!({"body": "x", "orgs": ["nope"]}),
        ),
    ] {
        let r = call(
            &mut c,
            "POST",
            "/api/v1/broadcasts",
            &token,
            Some(key),
            Some(&send(body)),
        )
        .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    }
    // Nothing was posted in the room the sender is in.
    let msgs = tsu
        .get_json(&format!("/api/v1/rooms/{tsu_room}/messages"))
        .await;
    assert!(!msgs.body.contains("\"body\":\"x\""), "{}", msgs.body);
    // The form says why, keeping the text.
    let r = tsu
        .post(
            "/broadcasts",
            &[("body", "残したい本文"), ("idem", "bc-form-0001")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.body.contains("残したい本文") && r.body.contains("role=\"alert\""),
        "{}",
        r.body
    );
}

#[tokio::test]
async fn the_demo_has_a_broadcast_to_the_29_towns_with_23_confirmed_and_two_overdue() {
    let t = TestApp::new().await;
    sonae::demo::load(&t.app).await.expect("demo");
    let mut c = t.client();
    c.login("mie.info", "sonae-demo-2026").await;
    let toba = t.app.store.org_by_ref("toba").await.expect("toba");
    let inbox = toba.inbox_room_id.expect("inbox room");
    let msgs = c
        .get_json(&format!("/api/v1/rooms/{inbox}/messages"))
        .await
        .json();
    let asking = msgs["messages"]
        .as_array()
        .and_then(|v| v.iter().find(|m| m["confirm"].is_object()))
        .expect("the broadcast's copy in 鳥羽市's 受信窓口")
        .clone();
    let mid = asking["id"].as_str().expect("id");
    let m = c
        .get_json(&format!(
            "/api/v1/rooms/{inbox}/messages/{mid}/confirmations"
        ))
        .await
        .json();
    let bid = m["broadcast_id"].as_str().expect("a broadcast").to_string();
    let all = c
        .get_json(&format!("/api/v1/broadcasts/{bid}"))
        .await
        .json();
    assert_eq!(
        (
            all["total"].as_u64(),
            all["confirmed"].as_u64(),
            all["overdue"].as_u64()
        ),
        (Some(29), Some(23), Some(2)),
        "{all}"
    );
    let page = c.get(&format!("/broadcasts/{bid}")).await;
    assert!(page.body.contains("23 / 29 確認済"), "{}", page.body);
}

#[tokio::test]
async fn the_sender_sees_reads_and_confirmations_live_and_outsiders_see_neither() {
    use crate::live::{Server, Stream};
    let w = World::new().await;
    let server = Server::start(&w.t).await;
    let mut pref = w.t.login("mie.info").await;
    let room = pref.room("既読 ライブ", "tsu.info").await;
    let token = token_for(&w.t, "mie.info").await;
    let mut c = w.t.client();
    let body =
        serde_json::json!({"body": "確認してください", "confirm": {"all_orgs": true}}).to_string();
    let r = call(
        &mut c,
        "POST",
        &format!("/api/v1/rooms/{room}/messages"),
        &token,
        Some("live-ask-0001"),
        Some(&body),
    )
    .await;
    let mid = r.json()["id"].as_str().expect("id").to_string();
    let mut sender = Stream::open(&server.base, &pref, None).await;
    let outsider_client = w.t.login("toba.info").await;
    let mut outsider = Stream::open(&server.base, &outsider_client, None).await;
    // 津市 opens the room (its read position moves) and confirms.
    let mut tsu = w.t.login("tsu.info").await;
    tsu.get(&format!("/rooms/{room}")).await;
    let r = tsu
        .post_json(&format!("/rooms/{room}/messages/{mid}/confirm"), &[])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let mut saw_read = false;
    let mut saw_confirmed = false;
    while !(saw_read && saw_confirmed) {
        let ev = sender.next().await;
        if ev.data["kind"] == "read" {
            assert_eq!(ev.data["user_id"], serde_json::json!(w.tsu_member.id));
            saw_read = true;
        }
        if ev.data["kind"] == "confirmed" {
            assert_eq!(ev.data["message_id"], serde_json::json!(mid));
            let html = ev.data["html"].as_str().unwrap_or_default();
            assert!(html.contains("確認 1 / 1"), "{html}");
            saw_confirmed = true;
        }
    }
    assert!(
        outsider.quiet_for(500).await,
        "nothing of the room reaches outsiders"
    );
    sender.close();
    outsider.close();
    server.stop().await;
}

#[tokio::test]
async fn the_senders_organisation_administrators_follow_a_broadcast_when_the_shift_changes() {
    let w = World::new().await;
    let other_member = w.t.user(&w.pref, "mie.night", Role::Member).await;
    let sender = token_for(&w.t, "mie.info").await;
    let mut c = w.t.client();
    let body = serde_json::json!({
        "body": "【要確認】夜間の連絡体制について、各市町の当番者を確認してください",
        "orgs": [w.tsu.id.to_string(), w.toba.id.to_string()],
        "confirm": true,
    })
    .to_string();
    let sent = call(
        &mut c,
        "POST",
        "/api/v1/broadcasts",
        &sender,
        Some("bcast-follow-0001"),
        Some(&body),
    )
    .await;
    assert_eq!(sent.status, StatusCode::OK, "{}", sent.body);
    let bid = sent.json()["broadcast_id"]
        .as_str()
        .expect("id")
        .to_string();
    let matrix = format!("/api/v1/broadcasts/{bid}");

    // The prefecture's administrator takes over: the matrix, a reminder, the list and the page.
    let admin = token_for(&w.t, "admin").await;
    let m = call(&mut c, "GET", &matrix, &admin, None, None).await;
    assert_eq!(m.status, StatusCode::OK, "{}", m.body);
    assert_eq!(m.json()["total"], 2);
    assert_eq!(m.json()["confirmed"], 0);
    let r = call(
        &mut c,
        "POST",
        &format!("{matrix}/remind"),
        &admin,
        None,
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.json()["reminded"].as_u64().unwrap_or(0) > 0, "{}", r.body);
    let mut page = w.t.login("admin").await;
    let list = page.get("/broadcasts/new").await;
    assert!(list.body.contains(&format!("href=\"/broadcasts/{bid}\"")));
    assert!(list.body.contains("夜間の連絡体制について"));
    assert!(list.body.contains("0 / 2 確認済"), "{}", list.body);
    let view = page.get(&format!("/broadcasts/{bid}")).await;
    assert_eq!(view.status, StatusCode::OK);
    assert!(view.body.contains("夜間の連絡体制について"));
    // The sender lists it too.
    let mut own = w.t.login("mie.info").await;
    assert!(
        own.get("/broadcasts/new")
            .await
            .body
            .contains(&format!("href=\"/broadcasts/{bid}\""))
    );

    // Not an administrator of another organisation, nor a member of the sender's who did not
    // send it: for them it does not exist.
    for login in ["tsu.admin", other_member.login.as_str()] {
        let token = token_for(&w.t, login).await;
        let r = call(&mut c, "GET", &matrix, &token, None, None).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{login}");
        let mut p = w.t.login(login).await;
        assert_eq!(
            p.get(&format!("/broadcasts/{bid}")).await.status,
            StatusCode::NOT_FOUND,
            "{login}"
        );
        assert!(
            !p.get("/broadcasts/new")
                .await
                .body
                .contains(&format!("/broadcasts/{bid}")),
            "{login}"
        );
    }
}
