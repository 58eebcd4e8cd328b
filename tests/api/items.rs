//! Open items of an incident over the API: added (from a message too), assigned, closed and
//! dropped with a reason, refused clearly when wrong, in the timeline (both databases).

use crate::json_api::{call, token_for};
use crate::shelters::open_incident;
use crate::support::*;
use axum::http::StatusCode;

#[tokio::test]
async fn items_are_added_assigned_closed_and_dropped_with_a_reason() {
    let w = World::new().await;
    let mut pref = w.t.login("mie.info").await;
    let incident = open_incident(&mut pref, "台風第10号", &["toba"], "").await;
    let token = token_for(&w.t, "mie.info").await;
    let mut c = w.t.client();
    let path = format!("/api/v1/incidents/{incident}/items");
    let msg = pref.say(&incident, "答志島の給水車の手配が必要").await;
    let body = serde_json::json!({
        "title": "答志島へ給水車を手配",
        "details": "定期船の運航再開を確認してから",
        "assignee": {"kind": "org", "id": w.toba.id.to_string()},
        "due_at": "2099-01-01T12:00:00+09:00",
        "message_id": msg,
    })
    .to_string();
    let r = call(
        &mut c,
        "POST",
        &path,
        &token,
        Some("item-0001"),
        Some(&body),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let item = r.json()["item"].clone();
    assert_eq!(item["status"], "open");
    assert_eq!(item["assignee_name"], "鳥羽市");
    assert_eq!(item["message_id"], serde_json::json!(msg));
    let id = item["id"].as_str().expect("id").to_string();
    // The same key again adds nothing.
    let again = call(
        &mut c,
        "POST",
        &path,
        &token,
        Some("item-0001"),
        Some(&body),
    )
    .await;
    assert_eq!(again.json()["replayed"], true);
    assert_eq!(again.json()["item"]["id"], item["id"]);
    let second = serde_json::json!({"title": "避難所の毛布の在庫確認"}).to_string();
    let r = call(
        &mut c,
        "POST",
        &path,
        &token,
        Some("item-0002"),
        Some(&second),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let list = call(&mut c, "GET", &path, &token, None, None).await.json();
    assert_eq!(list.as_array().map(Vec::len), Some(2), "{list}");
    assert_eq!(
        list[0]["title"], "答志島へ給水車を手配",
        "due first: {list}"
    );

    // A 鳥羽市 member closes it; dropping the other needs a reason.
    let toba = token_for(&w.t, "toba.info").await;
    let item_path = format!("{path}/{id}");
    let r = call(
        &mut c,
        "PATCH",
        &item_path,
        &toba,
        None,
        Some(r#"{"status": "done"}"#),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["status"], "done");
    assert_eq!(r.json()["updated_by"], "toba.info さん");
    let other = list[1]["id"].as_str().expect("id").to_string();
    let other_path = format!("{path}/{other}");
    let r = call(
        &mut c,
        "PATCH",
        &other_path,
        &token,
        None,
        Some(r#"{"status": "dropped"}"#),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let r = call(
        &mut c,
        "PATCH",
        &other_path,
        &token,
        None,
        Some(r#"{"status": "dropped", "reason": "県の備蓄で足りた"}"#),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["reason"], "県の備蓄で足りた");
    let list = call(&mut c, "GET", &path, &token, None, None).await.json();
    assert!(
        list.as_array()
            .is_some_and(|v| v.iter().all(|i| i["status"] != "open")),
        "{list}"
    );

    // Each change is a timeline entry of the incident.
    let entries =
        w.t.app
            .store
            .entries_after(0, 10_000)
            .await
            .expect("entries");
    let item_entries = entries
        .iter()
        .filter(|e| e.kind == sonae::store::EntryKind::Item && e.room_id == Some(incident))
        .count();
    assert_eq!(item_entries, 4, "two added, two changed");

    // Refused clearly, nothing changed: an assignee outside the incident, an unknown status,
    // a message of another room, someone outside the incident, an empty title.
    let tsu_member = w.tsu_member.id.to_string();
    let outside = serde_json::json!({"title": "x", "assignee": {"kind": "user", "id": tsu_member}})
        .to_string();
    let r = call(
        &mut c,
        "POST",
        &path,
        &token,
        Some("item-0003"),
        Some(&outside),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let r = call(
        &mut c,
        "PATCH",
        &item_path,
        &token,
        None,
        Some(r#"{"status": "lost"}"#),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let room = pref.room("別の部屋", "toba.info").await;
    let elsewhere = pref.say(&room, "別件").await;
    let wrong = serde_json::json!({"title": "x", "message_id": elsewhere}).to_string();
    let r = call(
        &mut c,
        "POST",
        &path,
        &token,
        Some("item-0004"),
        Some(&wrong),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    let tsu = token_for(&w.t, "tsu.info").await;
    let r = call(&mut c, "GET", &path, &tsu, None, None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    let r = call(
        &mut c,
        "PATCH",
        &item_path,
        &tsu,
        None,
        Some(r#"{"status": "open"}"#),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    let r = call(
        &mut c,
        "POST",
        &path,
        &token,
        Some("item-0005"),
        Some(r#"{"title": "  "}"#),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let list = call(&mut c, "GET", &path, &token, None, None).await.json();
    assert_eq!(list.as_array().map(Vec::len), Some(2));
    let first = list
        .as_array()
        .and_then(|v| v.iter().find(|i| i["id"] == serde_json::json!(id)))
        .expect("the first item");
    assert_eq!(
        first["status"], "done",
        "unchanged by the refused change: {list}"
    );
}

#[tokio::test]
async fn the_room_sidebar_adds_an_item_from_a_message_and_closes_it_without_javascript() {
    let w = World::new().await;
    let mut pref = w.t.login("mie.info").await;
    let incident = open_incident(&mut pref, "大雪", &["toba"], "").await;
    let mid = pref
        .say(
            &incident,
            "国道167号 通行止め\n除雪車の手配を県土整備事務所へ依頼",
        )
        .await;
    let page = pref.get(&format!("/rooms/{incident}")).await;
    assert!(
        page.body.contains("対応項目（対応中 0 件）"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains(&format!("?item_from={mid}")),
        "make-an-item link"
    );
    // "Make this an item": the form comes pre-filled with the message.
    let page = pref
        .get(&format!("/rooms/{incident}?item_from={mid}"))
        .await;
    assert!(
        page.body
            .contains(&format!("name=\"message\" value=\"{mid}\""))
    );
    assert!(
        page.body.contains("value=\"国道167号 通行止め\""),
        "{}",
        page.body
    );
    let idem = page.hidden("idem");
    let r = pref
        .post(
            &format!("/incidents/{incident}/items"),
            &[
                ("idem", &idem),
                ("title", "国道167号 除雪の手配"),
                ("details", ""),
                ("assignee", &format!("org:{}", w.toba.id)),
                ("due", "2099-01-01T09:00"),
                ("message", &mid),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert!(r.location().ends_with("#items"));
    // Sending the same form twice adds one item.
    let again = pref
        .post(
            &format!("/incidents/{incident}/items"),
            &[("idem", &idem), ("title", "国道167号 除雪の手配")],
        )
        .await;
    assert_eq!(again.status, StatusCode::SEE_OTHER);
    let mut toba = w.t.login("toba.info").await;
    let page = toba.get(&format!("/rooms/{incident}")).await;
    assert!(
        page.body.contains("対応項目（対応中 1 件）"),
        "{}",
        page.body
    );
    assert!(page.body.contains("担当: 鳥羽市"));
    let items = w.t.app.store.items(incident).await.expect("items");
    assert_eq!(items.len(), 1);
    let id = items[0].id;
    // Dropping needs a reason; marking done does not.
    let r = toba
        .post(
            &format!("/incidents/{incident}/items/{id}/status"),
            &[("status", "dropped"), ("reason", "")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(
        r.body.contains("取りやめる理由を書いてください"),
        "{}",
        r.body
    );
    let r = toba
        .post(
            &format!("/incidents/{incident}/items/{id}/status"),
            &[("status", "done")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let page = toba.get(&format!("/rooms/{incident}")).await;
    assert!(page.body.contains("対応項目（対応中 0 件）"));
    assert!(page.body.contains("✓ 完了"), "{}", page.body);
    // A plain room has no items and no make-an-item links.
    let room = pref.room("連絡", "toba.info").await;
    pref.say(&room, "連絡事項").await;
    let page = pref.get(&format!("/rooms/{room}")).await;
    assert!(!page.body.contains("item_from=") && !page.body.contains("id=\"items\""));
}

#[tokio::test]
async fn the_opener_holds_duty_others_take_it_once_per_organisation() {
    let w = World::new().await;
    let mut pref = w.t.login("mie.info").await;
    let incident = open_incident(&mut pref, "高潮", &["toba"], "").await;
    let path = format!("/api/v1/incidents/{incident}/duty");
    let token = token_for(&w.t, "mie.info").await;
    let mut c = w.t.client();
    let d = call(&mut c, "GET", &path, &token, None, None).await.json();
    assert_eq!(d.as_array().map(Vec::len), Some(1), "{d}");
    assert_eq!(d[0]["org_name"], "三重県");
    assert_eq!(d[0]["user_name"], "mie.info さん");
    // 鳥羽市 has nobody on duty: its member sees the button and takes it through the form.
    let mut toba = w.t.login("toba.info").await;
    let page = toba.get(&format!("/rooms/{incident}")).await;
    assert!(
        page.body.contains("自分の組織の当番を引き受ける"),
        "{}",
        page.body
    );
    let r = toba.post(&format!("/incidents/{incident}/duty"), &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let page = toba.get(&format!("/rooms/{incident}")).await;
    assert!(!page.body.contains("自分の組織の当番を引き受ける"));
    assert!(
        page.body.contains("<strong>toba.info さん</strong>"),
        "{}",
        page.body
    );
    // Taking it again is a no-op; someone else of 鳥羽市 is refused until a handoff.
    let toba_token = token_for(&w.t, "toba.info").await;
    let r = call(&mut c, "POST", &path, &toba_token, None, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let other = token_for(&w.t, "toba.admin").await;
    let r = call(&mut c, "POST", &path, &other, None, None).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert!(r.body.contains("引継ぎ"), "{}", r.body);
    // Someone outside the incident learns nothing; another of the prefecture is refused too.
    let tsu = token_for(&w.t, "tsu.info").await;
    assert_eq!(
        call(&mut c, "GET", &path, &tsu, None, None).await.status,
        StatusCode::NOT_FOUND
    );
    let admin = token_for(&w.t, "admin").await;
    assert_eq!(
        call(&mut c, "POST", &path, &admin, None, None).await.status,
        StatusCode::CONFLICT
    );
    let d = call(&mut c, "GET", &path, &token, None, None).await.json();
    let holders: Vec<_> = d
        .as_array()
        .expect("list")
        .iter()
        .map(|x| (x["org_name"].clone(), x["user_name"].clone()))
        .collect();
    assert_eq!(
        holders,
        vec![
            (
                serde_json::json!("三重県"),
                serde_json::json!("mie.info さん")
            ),
            (
                serde_json::json!("鳥羽市"),
                serde_json::json!("toba.info さん")
            ),
        ]
    );
}

#[tokio::test]
async fn two_of_one_organisation_taking_duty_at_once_leave_exactly_one_on_duty() {
    let w = World::new().await;
    let mut pref = w.t.login("mie.info").await;
    let incident = open_incident(&mut pref, "土砂災害警戒", &["toba"], "").await;
    let path = format!("/api/v1/incidents/{incident}/duty");
    let (a, b) = (
        token_for(&w.t, "toba.info").await,
        token_for(&w.t, "toba.admin").await,
    );
    let (ra, rb) = tokio::join!(
        {
            let mut c = w.t.client();
            let (p, t) = (path.clone(), a.clone());
            async move { call(&mut c, "POST", &p, &t, None, None).await.status }
        },
        {
            let mut c = w.t.client();
            let (p, t) = (path.clone(), b.clone());
            async move { call(&mut c, "POST", &p, &t, None, None).await.status }
        }
    );
    let mut got = [ra, rb];
    got.sort();
    assert_eq!(got, [StatusCode::OK, StatusCode::CONFLICT]);
    let mut c = w.t.client();
    let d = call(&mut c, "GET", &path, &a, None, None).await.json();
    let toba: Vec<_> = d
        .as_array()
        .expect("list")
        .iter()
        .filter(|x| x["org_name"] == "鳥羽市")
        .collect();
    assert_eq!(toba.len(), 1, "{d}");
    let winner = if ra == StatusCode::OK {
        "toba.info さん"
    } else {
        "toba.admin さん"
    };
    assert_eq!(toba[0]["user_name"], winner);
}
