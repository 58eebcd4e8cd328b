//! 要確認 over the API: asking organisations and people, confirming by button or by reply,
//! once only, by those asked only, and the sender's matrix (both databases).

use crate::json_api::{call, token_for};
use crate::support::*;
use axum::http::StatusCode;

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
