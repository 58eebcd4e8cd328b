//! The JSON API under /api/v1: tokens, writes with idempotency keys, errors, and its OpenAPI document.

use crate::support::*;
use axum::body::Body;
use axum::http::{Request, StatusCode};

/// Sends a JSON request with a bearer token.
pub async fn call(
    c: &mut Client,
    method: &str,
    path: &str,
    token: &str,
    key: Option<&str>,
    body: Option<&str>,
) -> Resp {
    let mut b = Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {token}"));
    if let Some(k) = key {
        b = b.header("idempotency-key", k);
    }
    let req = match body {
        Some(j) => b
            .header("content-type", "application/json")
            .body(Body::from(j.to_string())),
        None => b.body(Body::empty()),
    }
    .expect("request");
    // No cookies: the token alone authenticates.
    let mut bare = Client {
        cookies: Default::default(),
        ..c.clone()
    };
    bare.send(req).await
}

pub async fn token_for(t: &TestApp, login: &str) -> String {
    let mut c = t.login(login).await;
    let r = c
        .post("/settings/tokens", &[("name", "連携システム")])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body
        .split("id=\"new-token\">")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .expect("token shown once")
        .to_string()
}

#[tokio::test]
async fn tokens_rooms_and_messages_over_json() {
    let w = World::new().await;
    let token = token_for(&w.t, "tsu.info").await;
    let mut c = w.t.client();
    let me = call(&mut c, "GET", "/api/v1/me", &token, None, None).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    assert_eq!(me.json()["login"], "tsu.info");
    // A write without a key is refused.
    let r = call(
        &mut c,
        "POST",
        "/api/v1/rooms",
        &token,
        None,
        Some(r#"{"name":"API ルーム","invite":"toba.info"}"#),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json()["error"]["code"], "bad_request");
    let r = call(
        &mut c,
        "POST",
        "/api/v1/rooms",
        &token,
        Some("api-room-0001"),
        Some(r#"{"name":"API ルーム","invite":"toba.info"}"#),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let room = r.json()["id"].as_str().expect("id").to_string();
    let again = call(
        &mut c,
        "POST",
        "/api/v1/rooms",
        &token,
        Some("api-room-0001"),
        Some(r#"{"name":"別名"}"#),
    )
    .await;
    assert_eq!(again.json()["id"], room.as_str());
    assert_eq!(again.json()["replayed"], true);
    // Messages.
    let path = format!("/api/v1/rooms/{room}/messages");
    let r = call(
        &mut c,
        "POST",
        &path,
        &token,
        Some("api-msg-0001"),
        Some(r#"{"body":"API からの報告"}"#),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let list = call(&mut c, "GET", &path, &token, None, None).await;
    assert_eq!(list.json()["messages"][0]["body"], "API からの報告");
    let found = call(
        &mut c,
        "GET",
        "/api/v1/search?q=%E5%A0%B1%E5%91%8A",
        &token,
        None,
        None,
    )
    .await;
    assert_eq!(found.json().as_array().map(|a| a.len()), Some(1));
    // Bad input: a clear 4xx with a stable code, nothing stored.
    for (body, status, code) in [
        ("{not json", StatusCode::BAD_REQUEST, "bad_request"),
        (r#"{"body": 5}"#, StatusCode::BAD_REQUEST, "bad_request"),
        (r#"{"text": "x"}"#, StatusCode::BAD_REQUEST, "bad_request"),
        (
            r#"{"body": "x", "extra": 1}"#,
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            r#"{"body": "   "}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
        ),
        (
            r#"{"body": "x", "reply_to": "not-a-uuid"}"#,
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
    ] {
        let r = call(
            &mut c,
            "POST",
            &path,
            &token,
            Some(&format!("bad-{}", uuid::Uuid::new_v4().simple())),
            Some(body),
        )
        .await;
        assert_eq!(r.status, status, "{body}: {}", r.body);
        assert_eq!(r.json()["error"]["code"], code, "{body}");
        assert!(
            r.json()["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }
    let long = format!(r#"{{"body": "{}"}}"#, "あ".repeat(10_001));
    let r = call(
        &mut c,
        "POST",
        &path,
        &token,
        Some("api-long-0001"),
        Some(&long),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        call(&mut c, "GET", &path, &token, None, None).await.json()["messages"]
            .as_array()
            .map(|a| a.len()),
        Some(1)
    );
    // Another user's token sees the room only as a member; an outsider gets 404.
    let outsider = token_for(&w.t, "mie.info").await;
    assert_eq!(
        call(&mut c, "GET", &path, &outsider, None, None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let member = token_for(&w.t, "toba.info").await;
    assert_eq!(
        call(&mut c, "GET", &path, &member, None, None).await.status,
        StatusCode::OK
    );
    // A revoked or unknown token is refused.
    let mut owner = w.t.login("tsu.info").await;
    let settings = owner.get("/settings").await;
    let id = settings
        .body
        .split("/settings/tokens/")
        .nth(1)
        .and_then(|s| s.split('/').next())
        .expect("token id")
        .to_string();
    assert_eq!(
        owner
            .post(&format!("/settings/tokens/{id}/revoke"), &[])
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    let r = call(&mut c, "GET", "/api/v1/me", &token, None, None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.json()["error"]["code"], "unauthorized");
    assert_eq!(
        call(&mut c, "GET", "/api/v1/me", "sonae_nonsense", None, None)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    // Someone else cannot revoke a token that is not theirs.
    let mut other = w.t.login("mie.info").await;
    assert_eq!(
        other
            .post(&format!("/settings/tokens/{id}/revoke"), &[])
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn browser_sessions_need_the_csrf_header_for_api_writes() {
    let w = World::new().await;
    let mut c = w.t.login("tsu.info").await;
    let room = w.tsu.inbox_room_id.expect("room");
    let send = |csrf: Option<String>| {
        let mut b = Request::builder()
            .method("POST")
            .uri(format!("/api/v1/rooms/{room}/messages"))
            .header("content-type", "application/json")
            .header("idempotency-key", uuid::Uuid::new_v4().to_string())
            .header(
                "cookie",
                c.cookies
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join("; "),
            );
        if let Some(t) = csrf {
            b = b.header("x-csrf-token", t);
        }
        b.body(Body::from(r#"{"body":"セッションから"}"#))
            .expect("request")
    };
    let without = send(None);
    let with = send(Some(c.csrf.clone()));
    assert_eq!(c.send(without).await.status, StatusCode::FORBIDDEN);
    assert_eq!(c.send(with).await.status, StatusCode::OK);
}

#[tokio::test]
async fn the_openapi_document_covers_every_route_and_bounds_every_string() {
    let t = TestApp::new().await;
    let mut c = t.client();
    let r = c.get("/api/v1/openapi.json").await;
    assert_eq!(r.status, StatusCode::OK);
    let doc = r.json();
    for (path, _) in sonae::web::api_routes() {
        assert!(
            doc["paths"][path].is_object(),
            "{path} is missing from the OpenAPI document"
        );
    }
    let mut unbounded = Vec::new();
    for (name, schema) in doc["components"]["schemas"].as_object().expect("schemas") {
        for (field, p) in schema["properties"].as_object().into_iter().flatten() {
            let is_string = p["type"] == "string"
                || p["type"]
                    .as_array()
                    .is_some_and(|t| t.iter().any(|x| x == "string"));
            if is_string && p.get("maxLength").is_none() {
                unbounded.push(format!("{name}.{field}"));
            }
        }
    }
    assert!(
        unbounded.is_empty(),
        "string fields without maxLength: {unbounded:?}"
    );
}

#[tokio::test]
async fn members_edits_inbox_and_the_live_stream_over_the_api() {
    use futures_util::StreamExt;
    let w = World::new().await;
    let token = token_for(&w.t, "tsu.info").await;
    let toba = token_for(&w.t, "toba.info").await;
    let mut c = w.t.client();
    let r = call(
        &mut c,
        "POST",
        "/api/v1/rooms",
        &token,
        Some("api-room-0002"),
        Some(r#"{"name":"API 管理"}"#),
    )
    .await;
    let room = r.json()["id"].as_str().expect("id").to_string();
    let r = call(
        &mut c,
        "POST",
        &format!("/api/v1/rooms/{room}/members"),
        &token,
        Some("api-add-0001"),
        Some(r#"{"logins":"toba.info"}"#),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let detail = call(
        &mut c,
        "GET",
        &format!("/api/v1/rooms/{room}"),
        &toba,
        None,
        None,
    )
    .await;
    assert_eq!(detail.status, StatusCode::OK);
    assert_eq!(
        detail.json()["members"].as_array().map(|m| m.len()),
        Some(2)
    );
    assert_eq!(detail.json()["my_role"], "member");
    // The invitation is in toba.info's inbox; marking it read clears it.
    let inbox = call(&mut c, "GET", "/api/v1/inbox", &toba, None, None).await;
    assert_eq!(inbox.json()[0]["kind"], "invite");
    let r = call(
        &mut c,
        "POST",
        "/api/v1/inbox/read",
        &toba,
        Some("api-read-0001"),
        Some("{}"),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        call(&mut c, "GET", "/api/v1/inbox", &toba, None, None)
            .await
            .json()[0]["read"],
        true
    );
    // The live stream with a token.
    let server = crate::live::Server::start(&w.t).await;
    let res = reqwest::Client::new()
        .get(format!("{}/api/v1/events", server.base))
        .header("authorization", format!("Bearer {toba}"))
        .send()
        .await
        .expect("stream");
    assert_eq!(res.status(), 200);
    let mut stream = res.bytes_stream();
    let post = call(
        &mut c,
        "POST",
        &format!("/api/v1/rooms/{room}/messages"),
        &token,
        Some("api-msg-0002"),
        Some(r#"{"body":"ストリーム確認"}"#),
    )
    .await;
    let mid = post.json()["id"].as_str().expect("id").to_string();
    let mut seen = String::new();
    while !seen.contains(&mid) {
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(10), stream.next())
            .await
            .expect("event in time")
            .expect("open")
            .expect("bytes");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    // Edit and delete: only the author.
    let path = format!("/api/v1/rooms/{room}/messages/{mid}");
    assert_eq!(
        call(
            &mut c,
            "PATCH",
            &path,
            &toba,
            Some("api-edit-0001"),
            Some(r#"{"body":"改ざん"}"#)
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        call(
            &mut c,
            "PATCH",
            &path,
            &token,
            Some("api-edit-0002"),
            Some(r#"{"body":"訂正済み"}"#)
        )
        .await
        .status,
        StatusCode::OK
    );
    assert_eq!(
        call(&mut c, "DELETE", &path, &token, Some("api-del-0001"), None)
            .await
            .status,
        StatusCode::OK
    );
    let list = call(
        &mut c,
        "GET",
        &format!("/api/v1/rooms/{room}/messages"),
        &token,
        None,
        None,
    )
    .await;
    assert_eq!(list.json()["messages"][0]["deleted"], true);
    server.stop().await;
}

#[tokio::test]
async fn rooms_are_managed_and_direct_messages_opened_over_the_api() {
    let w = World::new().await;
    let token = token_for(&w.t, "tsu.info").await;
    let toba = token_for(&w.t, "toba.info").await;
    let mut c = w.t.client();
    let room = call(
        &mut c,
        "POST",
        "/api/v1/rooms",
        &token,
        Some("api-room-0003"),
        Some(r#"{"name":"管理用"}"#),
    )
    .await
    .json()["id"]
        .as_str()
        .expect("id")
        .to_string();
    let r = call(
        &mut c,
        "PATCH",
        &format!("/api/v1/rooms/{room}"),
        &token,
        Some("api-patch-0001"),
        Some(r#"{"name":"改名済み","archived":true}"#),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let detail = call(
        &mut c,
        "GET",
        &format!("/api/v1/rooms/{room}"),
        &token,
        None,
        None,
    )
    .await
    .json();
    assert_eq!(detail["name"], "改名済み");
    assert_eq!(detail["archived"], true);
    call(
        &mut c,
        "PATCH",
        &format!("/api/v1/rooms/{room}"),
        &token,
        Some("api-patch-0002"),
        Some(r#"{"archived":false}"#),
    )
    .await;
    let r = call(
        &mut c,
        "POST",
        &format!("/api/v1/rooms/{room}/orgs"),
        &token,
        Some("api-org-0001"),
        Some(r#"{"org":"242110"}"#),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        call(
            &mut c,
            "GET",
            &format!("/api/v1/rooms/{room}"),
            &toba,
            None,
            None
        )
        .await
        .status,
        StatusCode::OK
    );
    // A member cannot rename; removing a member takes them out.
    assert_eq!(
        call(
            &mut c,
            "PATCH",
            &format!("/api/v1/rooms/{room}"),
            &toba,
            Some("api-patch-0003"),
            Some(r#"{"name":"x"}"#)
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );
    let r = call(
        &mut c,
        "DELETE",
        &format!("/api/v1/rooms/{room}/members/{}", w.toba_member.id),
        &token,
        Some("api-remove-0001"),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        call(
            &mut c,
            "GET",
            &format!("/api/v1/rooms/{room}"),
            &toba,
            None,
            None
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
    // Direct messages.
    let dm = call(
        &mut c,
        "POST",
        "/api/v1/direct",
        &token,
        Some("api-dm-0001"),
        Some(r#"{"login":"toba.info"}"#),
    )
    .await;
    assert_eq!(dm.status, StatusCode::OK);
    let dm2 = call(
        &mut c,
        "POST",
        "/api/v1/direct",
        &toba,
        Some("api-dm-0002"),
        Some(r#"{"login":"tsu.info"}"#),
    )
    .await;
    assert_eq!(dm.json()["id"], dm2.json()["id"]);
}

#[tokio::test]
async fn administration_over_the_api() {
    let w = World::new().await;
    let admin = token_for(&w.t, "admin").await;
    let org_admin = token_for(&w.t, "tsu.admin").await;
    let member = token_for(&w.t, "tsu.info").await;
    let mut c = w.t.client();
    // Organisations: the deployment admin creates; unknown enum values are a clear 400.
    let bad = call(
        &mut c,
        "POST",
        "/api/v1/orgs",
        &admin,
        Some("api-org-bad-01"),
        Some(r#"{"name":"X","slug":"x-org","kind":"castle"}"#),
    )
    .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let r = call(
        &mut c,
        "POST",
        "/api/v1/orgs",
        &admin,
        Some("api-org-new-01"),
        Some(r#"{"name":"鳥羽市消防本部","slug":"toba-fire","kind":"fire"}"#),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        call(
            &mut c,
            "POST",
            "/api/v1/orgs",
            &org_admin,
            Some("api-org-new-02"),
            Some(r#"{"name":"Y","slug":"y-org","kind":"other"}"#)
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        call(&mut c, "GET", "/api/v1/orgs", &member, None, None)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    // Users: an org admin creates members of their own organisation only.
    let r = call(
        &mut c,
        "POST",
        "/api/v1/users",
        &org_admin,
        Some("api-user-new-01"),
        Some(r#"{"org":"tsu","login":"tsu.api","display_name":"津市 API","lang":"ja"}"#),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(
        r.json()["url"]
            .as_str()
            .is_some_and(|u| u.contains("/activate/"))
    );
    let uid = r.json()["user_id"].as_str().expect("id").to_string();
    assert_eq!(
        call(
            &mut c,
            "POST",
            "/api/v1/users",
            &org_admin,
            Some("api-user-new-02"),
            Some(r#"{"org":"toba","login":"toba.api","display_name":"x"}"#)
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );
    let list = call(&mut c, "GET", "/api/v1/users", &org_admin, None, None).await;
    assert!(
        list.json()
            .as_array()
            .is_some_and(|a| a.iter().all(|u| u["organisation"] == "津市"))
    );
    assert_eq!(
        call(
            &mut c,
            "POST",
            &format!("/api/v1/users/{uid}/reset"),
            &org_admin,
            Some("api-reset-01"),
            None
        )
        .await
        .status,
        StatusCode::OK
    );
    assert_eq!(
        call(
            &mut c,
            "PATCH",
            &format!("/api/v1/users/{uid}"),
            &org_admin,
            Some("api-deact-01"),
            Some(r#"{"active":false}"#)
        )
        .await
        .status,
        StatusCode::OK
    );
    assert_eq!(
        call(
            &mut c,
            "PATCH",
            &format!("/api/v1/users/{uid}"),
            &org_admin,
            Some("api-role-01"),
            Some(r#"{"role":"org_admin"}"#)
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        call(
            &mut c,
            "POST",
            &format!("/api/v1/users/{}/end-sessions", w.tsu_member.id),
            &org_admin,
            Some("api-end-01"),
            None
        )
        .await
        .status,
        StatusCode::OK
    );
    // The audit log shows it all, to administrators.
    let audit = call(
        &mut c,
        "GET",
        "/api/v1/audit?action=user.",
        &admin,
        None,
        None,
    )
    .await;
    assert!(
        audit
            .json()
            .as_array()
            .is_some_and(|a| a.iter().any(|r| r["action"] == "user.deactivate"))
    );
    assert_eq!(
        call(&mut c, "GET", "/api/v1/audit", &member, None, None)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn own_settings_and_room_roles_over_the_api() {
    let w = World::new().await;
    let token = token_for(&w.t, "tsu.info").await;
    let mut c = w.t.client();
    assert_eq!(
        call(
            &mut c,
            "PATCH",
            "/api/v1/me",
            &token,
            Some("api-me-0001"),
            Some(r#"{"lang":"en","email":"tsu@example.jp"}"#)
        )
        .await
        .status,
        StatusCode::OK
    );
    assert_eq!(
        call(
            &mut c,
            "PATCH",
            "/api/v1/me",
            &token,
            Some("api-me-0002"),
            Some(r#"{"lang":"fr"}"#)
        )
        .await
        .status,
        StatusCode::BAD_REQUEST
    );
    let me =
        w.t.app
            .store
            .users_by_logins(&["tsu.info".into()])
            .await
            .expect("user");
    assert_eq!(me[0].lang, Some(sonae::domain::Lang::En));
    let sessions = call(&mut c, "GET", "/api/v1/me/sessions", &token, None, None).await;
    let id = sessions.json()[0]["id"]
        .as_str()
        .expect("a session (token_for logged in)")
        .to_string();
    assert_eq!(
        call(
            &mut c,
            "DELETE",
            &format!("/api/v1/me/sessions/{id}"),
            &token,
            Some("api-sess-0001"),
            None
        )
        .await
        .status,
        StatusCode::OK
    );
    // Room roles and organisations.
    let room = call(
        &mut c,
        "POST",
        "/api/v1/rooms",
        &token,
        Some("api-room-0004"),
        Some(r#"{"name":"役割"}"#),
    )
    .await
    .json()["id"]
        .as_str()
        .expect("id")
        .to_string();
    call(
        &mut c,
        "POST",
        &format!("/api/v1/rooms/{room}/orgs"),
        &token,
        Some("api-org-0002"),
        Some(r#"{"org":"toba"}"#),
    )
    .await;
    let r = call(
        &mut c,
        "PATCH",
        &format!("/api/v1/rooms/{room}/members/{}", w.toba_member.id),
        &token,
        Some("api-role-0001"),
        Some(r#"{"role":"manager"}"#),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        call(
            &mut c,
            "PATCH",
            &format!("/api/v1/rooms/{room}/members/{}", w.toba_member.id),
            &token,
            Some("api-role-0002"),
            Some(r#"{"role":"king"}"#)
        )
        .await
        .status,
        StatusCode::BAD_REQUEST
    );
    let r = call(
        &mut c,
        "DELETE",
        &format!("/api/v1/rooms/{room}/orgs/{}", w.toba.id),
        &token,
        Some("api-org-0003"),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

#[tokio::test]
async fn users_are_imported_over_the_api_after_a_check() {
    let w = World::new().await;
    let token = token_for(&w.t, "tsu.admin").await;
    let mut c = w.t.client();
    let bad = serde_json::json!({"csv": "login,display_name,org\nBad Login,x,tsu\n"}).to_string();
    let r = call(
        &mut c,
        "POST",
        "/api/v1/users/import",
        &token,
        Some("api-imp-0001"),
        Some(&bad),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["applied"], false);
    assert!(
        r.json()["rows"][0]["problems"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("ログインID"))
    );
    let bad_apply =
        serde_json::json!({"csv": "login,display_name,org\nBad Login,x,tsu\n", "apply": true})
            .to_string();
    assert_eq!(
        call(
            &mut c,
            "POST",
            "/api/v1/users/import",
            &token,
            Some("api-imp-0002"),
            Some(&bad_apply)
        )
        .await
        .status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let good = serde_json::json!({"csv": "login,display_name,org\ntsu.imp1,津市 取込,tsu\n", "apply": true}).to_string();
    let r = call(
        &mut c,
        "POST",
        "/api/v1/users/import",
        &token,
        Some("api-imp-0003"),
        Some(&good),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["applied"], true);
    assert_eq!(r.json()["created"].as_array().map(|a| a.len()), Some(1));
    let no_columns = serde_json::json!({"csv": "a,b\n1,2\n"}).to_string();
    assert_eq!(
        call(
            &mut c,
            "POST",
            "/api/v1/users/import",
            &token,
            Some("api-imp-0004"),
            Some(&no_columns)
        )
        .await
        .status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
}
