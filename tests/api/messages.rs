//! Posting, replies, edits, deletes, mentions and paging.

use crate::support::*;
use axum::http::StatusCode;

#[tokio::test]
async fn messages_keep_line_breaks_link_urls_and_escape_the_rest() {
    let w = World::new().await;
    let mut a = w.t.login("tsu.info").await;
    let room = a.room("表示テスト", "").await;
    a.say(
        &room,
        "一行目\n<script>alert(1)</script>\n詳細 https://www.jma.go.jp/bosai/ を参照",
    )
    .await;
    let page = a.get(&format!("/rooms/{room}")).await;
    assert!(page.body.contains("一行目<br>&lt;script&gt;alert(1)&lt;/script&gt;<br>詳細 <a href=\"https://www.jma.go.jp/bosai/\""), "{}", page.body);
    assert!(!page.body.contains("<script>alert"));
}

#[tokio::test]
async fn replies_edits_deletes_and_the_audit_trail() {
    let w = World::new().await;
    let mut a = w.t.login("tsu.info").await;
    let mut b = w.t.login("toba.info").await;
    let room = a.room("返信テスト", "toba.info").await;
    let q = a.say(&room, "避難所の開設状況を教えてください").await;
    let key = uuid::Uuid::new_v4().to_string();
    let r = b
        .post_json(
            &format!("/rooms/{room}/messages"),
            &[
                ("body", "3か所開設済みです"),
                ("reply_to", &q),
                ("idem", &key),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let page = a.get(&format!("/rooms/{room}")).await;
    assert!(
        page.body.contains("tsu.info さん への返信"),
        "{}",
        page.body
    );
    assert!(page.body.contains("class=\"reply-ref\" href=\"/rooms/"));
    // Edit: shown as edited; the earlier text stays in the audit log.
    let e = a
        .post(
            &format!("/rooms/{room}/messages/{q}/edit"),
            &[("body", "避難所の開設状況（最新）を教えてください")],
        )
        .await;
    assert_eq!(e.status, StatusCode::SEE_OTHER);
    let page = b.get(&format!("/rooms/{room}")).await;
    assert!(page.body.contains("（最新）"));
    assert!(page.body.contains("編集済み"));
    // Delete: shown as deleted, text gone from the page, kept in the audit log.
    assert_eq!(
        a.post(&format!("/rooms/{room}/messages/{q}/delete"), &[])
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    let page = b.get(&format!("/rooms/{room}")).await;
    assert!(page.body.contains("このメッセージは削除されました"));
    assert!(!page.body.contains("（最新）"));
    // Editing a deleted message is refused.
    assert_eq!(
        a.post_json(
            &format!("/rooms/{room}/messages/{q}/edit"),
            &[("body", "復活")]
        )
        .await
        .status,
        StatusCode::CONFLICT
    );
    let mut admin = w.t.login("admin").await;
    let audit = admin.get("/admin/audit?action=message.").await;
    assert!(
        audit
            .body
            .contains("before: 避難所の開設状況を教えてください")
    );
    assert!(
        audit
            .body
            .contains("before: 避難所の開設状況（最新）を教えてください")
    );
    assert!(audit.body.contains("message.delete"));
}

#[tokio::test]
async fn mentions_notify_members_only() {
    let w = World::new().await;
    let mut a = w.t.login("tsu.info").await;
    let room = a.room("メンション", "toba.info").await;
    a.say(&room, "@toba.info 確認お願いします。@mie.info さんも")
        .await;
    let mut b = w.t.login("toba.info").await;
    let inbox = b.get("/inbox").await;
    assert!(inbox.body.contains("メンション"));
    assert!(inbox.body.contains("確認お願いします"));
    // Not a member: no notification leaks the message.
    let mut c = w.t.login("mie.info").await;
    assert!(!c.get("/inbox").await.body.contains("確認お願いします"));
    // Marking read clears the bell.
    assert_eq!(b.get_json("/api/v1/counts").await.json()["inbox"], 2);
    b.post("/inbox/read", &[]).await;
    assert_eq!(b.get_json("/api/v1/counts").await.json()["inbox"], 0);
}

#[tokio::test]
async fn long_rooms_page_back_in_time() {
    let w = World::new().await;
    let mut a = w.t.login("tsu.info").await;
    let room = a.room("長いルーム", "").await;
    for i in 0..120 {
        a.say(&room, &format!("報告 第{i:03}号")).await;
    }
    let page = a.get(&format!("/rooms/{room}")).await;
    assert!(page.body.contains("報告 第119号"));
    assert!(!page.body.contains("報告 第069号"));
    let older = page
        .body
        .split("?before=")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("older link")
        .to_string();
    let page2 = a.get(&format!("/rooms/{room}?before={older}")).await;
    assert!(page2.body.contains("報告 第069号"));
    assert!(page2.body.contains("報告 第020号"));
    assert!(!page2.body.contains("報告 第070号"));
    let older2 = page2
        .body
        .split("?before=")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("older link")
        .to_string();
    let page3 = a.get(&format!("/rooms/{room}?before={older2}")).await;
    assert!(page3.body.contains("報告 第000号"));
    assert!(
        !page3.body.contains("?before="),
        "no older page after the first message"
    );
    // A link to an old message lands on a page that shows it.
    let old =
        w.t.app
            .store
            .messages_before(room, None, 1000)
            .await
            .expect("messages")[5]
            .clone();
    let to = a.get(&format!("/rooms/{room}/messages/{}", old.id)).await;
    assert_eq!(to.status, StatusCode::SEE_OTHER);
    let page = a.get(to.location().split('#').next().unwrap_or("")).await;
    assert!(
        page.body.contains(&format!("id=\"m-{}\"", old.id)),
        "the linked message is on the page"
    );
}
