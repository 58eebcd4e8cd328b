//! Bad input gets a clear 4xx, never a 500, and changes nothing.

use crate::support::*;
use axum::http::StatusCode;

#[tokio::test]
async fn bad_messages_are_refused_clearly_and_change_nothing() {
    let w = World::new().await;
    let mut a = w.t.login("tsu.info").await;
    let room = a.room("入力チェック", "").await;
    let mid = a.say(&room, "元の文").await;
    let head = w.t.app.store.head().await.expect("head");
    let path = format!("/rooms/{room}/messages");
    // Empty and overlong messages.
    let r = a
        .post_json(&path, &[("body", "   \n "), ("idem", "key-empty-1")])
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.json()["error"]["message"], "メッセージが空です。");
    let long = "あ".repeat(10_001);
    let r = a
        .post_json(&path, &[("body", &long), ("idem", "key-long-1")])
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("10,000")
    );
    // The same as a plain form gets a page in the user's language.
    let r = a
        .post(&path, &[("body", ""), ("idem", "key-empty-2")])
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("<html lang=\"ja\">") && r.body.contains("メッセージが空です。"));
    // Missing or malformed idempotency key.
    assert_eq!(
        a.post_json(&path, &[("body", "キーなし")]).await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        a.post_json(&path, &[("body", "変なキー"), ("idem", "<>")])
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    // Missing and wrong CSRF token.
    let mut no_csrf = a.clone();
    no_csrf.csrf.clear();
    assert_eq!(
        no_csrf
            .post_json(&path, &[("body", "x"), ("idem", "key-csrf-1")])
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        a.post_json(
            &path,
            &[("body", "x"), ("idem", "key-csrf-2"), ("csrf", "wrong")]
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );
    // Malformed and unknown ids.
    assert_eq!(
        a.get("/rooms/not-a-uuid").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        a.post_json(
            "/rooms/not-a-uuid/messages",
            &[("body", "x"), ("idem", "key-id-1")]
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        a.post_json(
            &format!("/rooms/{room}/messages/zzz/edit"),
            &[("body", "x")]
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
    // Another room's message id.
    let other = a.room("別ルーム", "").await;
    let foreign = a.say(&other, "別の部屋").await;
    assert_eq!(
        a.post_json(
            &format!("/rooms/{room}/messages/{foreign}/edit"),
            &[("body", "x")]
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        a.post_json(
            &path,
            &[
                ("body", "返信"),
                ("reply_to", &foreign),
                ("idem", "key-reply-1")
            ]
        )
        .await
        .status,
        StatusCode::BAD_REQUEST
    );
    // Invalid UTF-8 and oversize bodies.
    let mut raw = format!("csrf={}&idem=key-utf8-1&body=", a.csrf).into_bytes();
    raw.extend_from_slice(b"\xff\xfe");
    let r = a
        .post_raw(&path, "application/x-www-form-urlencoded", raw)
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("UTF-8")
    );
    let r = a
        .post_raw(
            &path,
            "application/x-www-form-urlencoded",
            format!("csrf={}&idem=key-utf8-2&body=%FF%FE", a.csrf).into_bytes(),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    let huge = format!("body={}&idem=key-huge-1", "a".repeat(400_000));
    let r = a
        .post_raw(
            &path,
            "application/x-www-form-urlencoded",
            huge.into_bytes(),
        )
        .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(r.json()["error"]["message"].as_str().is_some());
    // A wrong content type.
    let r = a
        .post_raw(&path, "application/json", b"{\"body\":\"x\"}".to_vec())
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // Nothing changed.
    assert_eq!(
        w.t.app.store.head().await.expect("head"),
        head + 2,
        "only the second room and its message were added"
    );
    assert!(
        a.get(&format!("/rooms/{room}"))
            .await
            .body
            .contains("元の文")
    );
    let _ = mid;
}

#[tokio::test]
async fn expired_sessions_and_unknown_paths() {
    let w = World::new().await;
    let mut a = w.t.login("tsu.info").await;
    let room = a.room("期限切れ", "").await;
    a.post("/logout", &[]).await;
    // A page asks to log in again and comes back; a script gets a 401 in JSON.
    let r = a.get(&format!("/rooms/{room}")).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(r.location().starts_with("/login?next=%2Frooms%2F"));
    let r = a
        .post_json(
            &format!("/rooms/{room}/messages"),
            &[("body", "x"), ("idem", "key-expired-1")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.json()["error"]["code"], "unauthorized");
    // A plain form after logout gets a page with a login link.
    let r = a
        .post(
            &format!("/rooms/{room}/messages"),
            &[("body", "x"), ("idem", "key-expired-2")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.body.contains("href=\"/login\""));
    // Unknown paths and methods.
    let mut c = w.t.client();
    assert_eq!(c.get("/no/such/page").await.status, StatusCode::NOT_FOUND);
    let r = c.get("/api/v1/nothing").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.json()["error"]["code"], "not_found");
    let r = c.post("/healthz", &[]).await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    // The login redirect only goes to local paths.
    let mut d = w.t.client();
    let page = d.get("/login?next=https://evil.example/").await;
    assert!(page.body.contains("name=\"next\" value=\"/\""));
}
