//! Shift handoffs over HTTP with an injected clock (both databases): the draft's contents,
//! per-item acknowledgement, questions answered in place, the waiting time in the room header,
//! duty moving only on completion, escalation once across two instances, the managers'
//! timeline (JSON, CSV, print) and every refusal.

use crate::json_api::{call, token_for};
use crate::shelters::{open_incident, report, toba_with_shelters};
use crate::support::*;
use axum::http::StatusCode;
use sonae::config::Config;
use sonae::domain::RoomId;

/// An incident of the prefecture with 鳥羽市, toba.info on duty, and two items: one open (made
/// from a message) and one done.
async fn shift(w: &World) -> (RoomId, String, String) {
    let mut pref = w.t.login("mie.info").await;
    let incident = open_incident(&mut pref, "台風第10号", &["toba"], "").await;
    let toba = token_for(&w.t, "toba.info").await;
    let mut c = w.t.client();
    let r = call(
        &mut c,
        "POST",
        &format!("/api/v1/incidents/{incident}/duty"),
        &toba,
        None,
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let items = format!("/api/v1/incidents/{incident}/items");
    let open = call(
        &mut c,
        "POST",
        &items,
        &toba,
        Some("h-item-1"),
        Some(r#"{"title": "答志島へ給水車を手配"}"#),
    )
    .await
    .json()["item"]["id"]
        .as_str()
        .expect("id")
        .to_string();
    let done = call(
        &mut c,
        "POST",
        &items,
        &toba,
        Some("h-item-2"),
        Some(r#"{"title": "毛布の在庫確認"}"#),
    )
    .await
    .json()["item"]["id"]
        .as_str()
        .expect("id")
        .to_string();
    let r = call(
        &mut c,
        "PATCH",
        &format!("{items}/{done}"),
        &toba,
        None,
        Some(r#"{"status": "done"}"#),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    (incident, open, toba)
}

#[tokio::test]
async fn a_shift_is_handed_over_item_by_item_and_duty_moves_on_acknowledgement() {
    let w = World::new().await;
    let mut toba_admin_page = toba_with_shelters(&w).await;
    let (incident, item, toba) = shift(&w).await;
    let admin = token_for(&w.t, "toba.admin").await;
    let mut c = w.t.client();
    // A shelter report and a 要確認 still unconfirmed during the shift.
    let shelters = w.t.app.store.shelters(w.toba.id).await.expect("shelters");
    let shelter = shelters[0].id.to_string();
    let r = report(
        &mut toba_admin_page,
        &incident,
        &shelter,
        "open",
        "12",
        "",
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let mut pref = w.t.login("mie.info").await;
    let r = pref
        .post_json(
            &format!("/rooms/{incident}/messages"),
            &[
                ("body", "避難所の開設状況を確認してください"),
                ("idem", "h-ask-0001"),
                ("confirm_all", "1"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);

    // The draft carries the open item (new this shift), the closed one, the report, the
    // request and who can take over.
    let draft = call(
        &mut c,
        "GET",
        &format!("/api/v1/incidents/{incident}/handoffs/draft"),
        &toba,
        None,
        None,
    )
    .await;
    assert_eq!(draft.status, StatusCode::OK, "{}", draft.body);
    let d = draft.json();
    assert_eq!(d["items"].as_array().map(Vec::len), Some(1), "{d}");
    assert_eq!(d["items"][0]["change"], "new");
    assert_eq!(d["items"][0]["item"]["id"], serde_json::json!(item));
    assert_eq!(d["facts"]["items_closed"][0]["title"], "毛布の在庫確認");
    assert_eq!(d["facts"]["shelters_changed"][0]["evacuees"], 12);
    assert_eq!(
        d["facts"]["unconfirmed"][0]["pending"], 1,
        "鳥羽市 has not confirmed: {d}"
    );
    assert_eq!(d["on_duty"]["user_name"], "toba.info さん");
    let to = w.toba_admin.id.to_string();
    assert!(
        d["candidates"]
            .as_array()
            .is_some_and(|v| v.iter().any(|m| m["user_id"] == serde_json::json!(to))),
        "{d}"
    );

    // Refused: to oneself, to someone outside the organisation, without a summary, by someone
    // not on duty.
    let path = format!("/api/v1/incidents/{incident}/handoffs");
    let me = w.toba_member.id.to_string();
    let tsu = w.tsu_member.id.to_string();
    for (body, status) in [
        (
            serde_json::json!({"to": me, "summary": "x"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            serde_json::json!({"to": tsu, "summary": "x"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            serde_json::json!({"to": to, "summary": "  "}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ] {
        let r = call(
            &mut c,
            "POST",
            &path,
            &toba,
            Some(&uuid::Uuid::new_v4().to_string()),
            Some(&body.to_string()),
        )
        .await;
        assert_eq!(r.status, status, "{body}: {}", r.body);
    }
    let not_on_duty = serde_json::json!({"to": me, "summary": "交代します"}).to_string();
    let r = call(
        &mut c,
        "POST",
        &path,
        &admin,
        Some("h-wrong-0001"),
        Some(&not_on_duty),
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert!(r.body.contains("当番"), "{}", r.body);

    // Handed over.
    let body = serde_json::json!({
        "to": to,
        "summary": "答志島の給水が最優先。夜間は定期船が止まる。",
        "risks": "22時以降の高潮",
    })
    .to_string();
    let r = call(
        &mut c,
        "POST",
        &path,
        &toba,
        Some("handoff-0001"),
        Some(&body),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let h = r.json()["handoff"].clone();
    assert_eq!(h["state"], "waiting");
    assert_eq!(h["items"][0]["title"], "答志島へ給水車を手配");
    assert_eq!(h["items_added"], 1);
    assert_eq!(h["items_closed"], 1);
    let hid = h["id"].as_str().expect("id").to_string();
    // A retry with the same key is the same handoff; another one while it waits is refused.
    let again = call(
        &mut c,
        "POST",
        &path,
        &toba,
        Some("handoff-0001"),
        Some(&body),
    )
    .await;
    assert_eq!(again.json()["replayed"], true);
    assert_eq!(again.json()["handoff"]["id"], h["id"]);
    let r = call(
        &mut c,
        "POST",
        &path,
        &toba,
        Some("handoff-0002"),
        Some(&body),
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);

    // 25 minutes later the room header says so; the outgoing person is still on duty; the
    // incoming person has it in the inbox and a badge.
    w.t.clock.advance(time::Duration::minutes(25));
    let mut incoming = w.t.login("toba.admin").await;
    let room = incoming.get(&format!("/rooms/{incident}")).await;
    assert!(room.body.contains("引継ぎ承認待ち 25 分"), "{}", room.body);
    assert!(room.body.contains("承認待ち 1 件"), "badge: {}", room.body);
    let duty = call(
        &mut c,
        "GET",
        &format!("/api/v1/incidents/{incident}/duty"),
        &toba,
        None,
        None,
    )
    .await
    .json();
    assert!(
        duty.as_array()
            .is_some_and(|v| v.iter().any(|d| d["user_name"] == "toba.info さん")),
        "{duty}"
    );
    let inbox = incoming.get("/inbox").await;
    assert!(
        inbox.body.contains(&format!("/handoffs/{hid}")),
        "{}",
        inbox.body
    );

    // Only the incoming person acknowledges; not before every item; not a version they did
    // not read.
    let hpath = format!("/api/v1/handoffs/{hid}");
    let r = call(
        &mut c,
        "POST",
        &format!("{hpath}/acknowledge"),
        &toba,
        None,
        Some("{}"),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert!(r.body.contains("引き継ぐ人だけ"), "{}", r.body);
    let r = call(
        &mut c,
        "POST",
        &format!("{hpath}/acknowledge"),
        &admin,
        None,
        Some("{}"),
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    let r = call(
        &mut c,
        "POST",
        &format!("{hpath}/items/{item}/question"),
        &admin,
        None,
        Some(r#"{"question": "給水車は何台？"}"#),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let read_version = r.json()["version"].as_i64().expect("version");
    let r = call(
        &mut c,
        "POST",
        &format!("{hpath}/items/{item}/answer"),
        &admin,
        None,
        Some(r#"{"answer": "x"}"#),
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::FORBIDDEN,
        "only the outgoing person answers"
    );
    let r = call(
        &mut c,
        "POST",
        &format!("{hpath}/items/{item}/answer"),
        &toba,
        None,
        Some(r#"{"answer": "2台。県の備蓄から。"}"#),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["items"][0]["answer"], "2台。県の備蓄から。");
    let r = call(
        &mut c,
        "POST",
        &format!("{hpath}/items/{item}/acknowledge"),
        &admin,
        None,
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = call(
        &mut c,
        "POST",
        &format!("{hpath}/items/{item}/acknowledge"),
        &admin,
        None,
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "twice: {}", r.body);
    let stale = serde_json::json!({"version": read_version}).to_string();
    let r = call(
        &mut c,
        "POST",
        &format!("{hpath}/acknowledge"),
        &admin,
        None,
        Some(&stale),
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "answered since: {}", r.body);
    w.t.clock.advance(time::Duration::minutes(5));
    let current = call(&mut c, "GET", &hpath, &admin, None, None).await.json()["version"].clone();
    let r = call(
        &mut c,
        "POST",
        &format!("{hpath}/acknowledge"),
        &admin,
        None,
        Some(&serde_json::json!({ "version": current }).to_string()),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let done = r.json();
    assert_eq!(done["state"], "acknowledged");
    assert_eq!(done["minutes_to_acknowledge"], 30);

    // Duty moved; nothing changes any more.
    let duty = call(
        &mut c,
        "GET",
        &format!("/api/v1/incidents/{incident}/duty"),
        &toba,
        None,
        None,
    )
    .await
    .json();
    assert!(
        duty.as_array()
            .is_some_and(|v| v.iter().any(|d| d["user_name"] == "toba.admin さん")
                && !v.iter().any(|d| d["user_name"] == "toba.info さん")),
        "{duty}"
    );
    for (method, p, b) in [
        ("POST", format!("{hpath}/acknowledge"), Some("{}")),
        ("PATCH", hpath.clone(), Some(r#"{"summary": "書き換え"}"#)),
    ] {
        let token = if method == "PATCH" { &toba } else { &admin };
        let r = call(&mut c, method, &p, token, None, b).await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{method} {p}: {}", r.body);
    }
    // A late retry of the first request, after duty moved, still answers with that handoff.
    let late = call(
        &mut c,
        "POST",
        &path,
        &toba,
        Some("handoff-0001"),
        Some(&body),
    )
    .await;
    assert_eq!(late.status, StatusCode::OK, "{}", late.body);
    assert_eq!(late.json()["replayed"], true);
    assert_eq!(late.json()["handoff"]["id"], h["id"]);
    let after = call(&mut c, "GET", &hpath, &admin, None, None).await.json();
    assert_eq!(
        after["summary"],
        "答志島の給水が最優先。夜間は定期船が止まる。"
    );

    // The managers' timeline: from → to, time to acknowledge, counts, questions; as CSV too.
    let list = call(
        &mut c,
        "GET",
        &format!("/api/v1/incidents/{incident}/handoffs"),
        &admin,
        None,
        None,
    )
    .await
    .json();
    assert_eq!(list[0]["from_name"], "toba.info さん");
    assert_eq!(list[0]["to_name"], "toba.admin さん");
    assert_eq!(list[0]["questions"], 1);
    let all = call(&mut c, "GET", "/api/v1/handoffs", &toba, None, None)
        .await
        .json();
    assert_eq!(all.as_array().map(Vec::len), Some(1));
    let csv = call(&mut c, "GET", "/api/v1/handoffs.csv", &toba, None, None).await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(
        csv.body.contains("toba.info さん") && csv.body.contains(",30,"),
        "{}",
        csv.body
    );
    let mut manager = w.t.login("mie.info").await;
    let page = manager
        .get(&format!("/incidents/{incident}/handoffs"))
        .await;
    assert!(page.body.contains("30 分"), "{}", page.body);
    let print = manager.get("/handoffs?print=1").await;
    assert_eq!(print.status, StatusCode::OK);
    assert!(print.body.contains("print-page"), "{}", print.body);

    // The item's history names the shift that held it; the timeline shows what happened.
    let hist = call(
        &mut c,
        "GET",
        &format!("/api/v1/incidents/{incident}/items/{item}/history"),
        &toba,
        None,
        None,
    )
    .await
    .json();
    assert_eq!(hist["shifts"][0]["to_name"], "toba.admin さん", "{hist}");
    assert_eq!(hist["events"][0]["kind"], "item_added");
    let room = manager.get(&format!("/rooms/{incident}")).await;
    for text in [
        "対応項目が完了: 毛布の在庫確認",
        "引継ぎ承認、当番交代",
        "質問: 答志島へ給水車を手配",
    ] {
        assert!(room.body.contains(text), "{text}: {}", room.body);
    }
    assert!(!room.body.contains("引継ぎ承認待ち"));
}

#[tokio::test]
async fn a_quiet_shift_still_needs_acknowledging_and_overdue_handoffs_reach_managers_once() {
    let w = World::new().await;
    let mut pref = w.t.login("mie.info").await;
    let incident = open_incident(&mut pref, "大雪", &["toba"], "").await;
    let mut toba = w.t.login("toba.info").await;
    // Without JavaScript: the 引継ぎ form, then the handoff page.
    let form = toba
        .get(&format!("/incidents/{incident}/handoff/new"))
        .await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.body);
    assert!(
        form.body.contains("動きのない勤務でも承認が必要"),
        "{}",
        form.body
    );
    let to = w.toba_admin.id.to_string();
    let r = toba
        .post(
            &format!("/incidents/{incident}/handoffs"),
            &[
                ("to", to.as_str()),
                ("summary", "特になし"),
                ("idem", &form.hidden("idem")),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let page_path = r.location();
    let hid = page_path.trim_start_matches("/handoffs/").to_string();

    // 31 minutes on, two instances look for overdue handoffs at once: the managers (the
    // opener) get one notice, e-mailed where they have an address.
    let r = pref
        .post("/settings/email", &[("email", "mie.info@example.jp")])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let (relay, mails) = crate::mail::fake_relay().await;
    let mailer = sonae::mail::Mailer::new(&relay, "Sonae <sonae@example.jp>").expect("mailer");
    w.t.clock.advance(time::Duration::minutes(31));
    let dir = tempfile::tempdir().expect("tempdir");
    let other = TestApp::open(dir, w.t.url.clone(), Config::default()).await;
    other.clock.advance(time::Duration::minutes(31));
    let (a, b) = tokio::join!(w.t.app.escalate_handoffs(), other.app.escalate_handoffs());
    assert_eq!(a.expect("a") + b.expect("b"), 1);
    assert_eq!(w.t.app.escalate_handoffs().await.expect("again"), 0);
    let inbox = pref.get("/inbox").await;
    assert_eq!(
        inbox.body.matches("引継ぎが未承認").count(),
        1,
        "{}",
        inbox.body
    );
    let room = pref.get(&format!("/rooms/{incident}")).await;
    assert!(room.body.contains("管理者に通知済み"), "{}", room.body);
    mailer.send_pending(&w.t.app).await;
    let mails = mails.lock().expect("mails").clone();
    let subject = |m: &str| {
        use base64::Engine;
        let enc = m.split("=?utf-8?b?").nth(1)?.split("?=").next()?;
        let bytes = base64::engine::general_purpose::STANDARD.decode(enc).ok()?;
        String::from_utf8(bytes).ok()
    };
    assert_eq!(
        mails
            .iter()
            .filter(|m| m.contains(&format!("/handoffs/{hid}"))
                && m.contains("To: mie.info@example.jp")
                && subject(m).is_some_and(|s| s.starts_with("引継ぎが未承認")))
            .count(),
        1,
        "{mails:?}"
    );

    // The incoming person's page: no items, one button; the outgoing person cannot press it.
    let mut incoming = w.t.login("toba.admin").await;
    let page = incoming.get(&page_path).await;
    assert!(
        page.body.contains("引継ぎを承認して当番を引き受ける"),
        "{}",
        page.body
    );
    let version = page.hidden("version");
    let r = toba
        .post(
            &format!("/handoffs/{hid}/acknowledge"),
            &[("version", version.as_str())],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    // Two presses at once (two tabs): one completes, the other is told it already is.
    let mut second = w.t.login("toba.admin").await;
    let path = format!("/handoffs/{hid}/acknowledge");
    let fields = [("version", version.as_str())];
    let (x, y) = tokio::join!(incoming.post(&path, &fields), second.post(&path, &fields));
    let mut statuses = [x.status, y.status];
    statuses.sort();
    assert_eq!(
        statuses,
        [StatusCode::SEE_OTHER, StatusCode::CONFLICT],
        "{} / {}",
        x.body,
        y.body
    );
    let duty = w.t.app.store.duty(incident).await.expect("duty");
    let toba_duty: Vec<_> = duty.iter().filter(|d| d.org_id == w.toba.id).collect();
    assert_eq!(toba_duty.len(), 1);
    assert_eq!(toba_duty[0].user_id, w.toba_admin.id, "duty moved");
}

#[tokio::test]
async fn concurrent_item_acknowledgements_and_edits_are_all_kept() {
    let w = World::new().await;
    let (incident, first, toba) = shift(&w).await;
    let mut c = w.t.client();
    let second = call(
        &mut c,
        "POST",
        &format!("/api/v1/incidents/{incident}/items"),
        &toba,
        Some("h-item-3"),
        Some(r#"{"title": "道路の通行止め情報を更新"}"#),
    )
    .await
    .json()["item"]["id"]
        .as_str()
        .expect("id")
        .to_string();
    let to = w.toba_admin.id.to_string();
    let r = call(
        &mut c,
        "POST",
        &format!("/api/v1/incidents/{incident}/handoffs"),
        &toba,
        Some("h-c-0001"),
        Some(&serde_json::json!({"to": to, "summary": "二件あり"}).to_string()),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let hid = r.json()["handoff"]["id"].as_str().expect("id").to_string();
    let admin = token_for(&w.t, "toba.admin").await;
    let hpath = format!("/api/v1/handoffs/{hid}");
    let (mut c1, mut c2, mut c3) = (w.t.client(), w.t.client(), w.t.client());
    let (ack1, ack2) = (
        format!("{hpath}/items/{first}/acknowledge"),
        format!("{hpath}/items/{second}/acknowledge"),
    );
    let (a, b, e) = tokio::join!(
        call(&mut c1, "POST", &ack1, &admin, None, None),
        call(&mut c2, "POST", &ack2, &admin, None, None),
        call(
            &mut c3,
            "PATCH",
            &hpath,
            &toba,
            None,
            Some(r#"{"notes": "夜間の連絡先は災害対策本部"}"#)
        ),
    );
    for r in [&a, &b, &e] {
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    }
    let h = call(&mut c, "GET", &hpath, &admin, None, None).await.json();
    assert_eq!(h["items_acknowledged"], 2, "{h}");
    assert_eq!(h["notes"], "夜間の連絡先は災害対策本部");
    // Unknown or someone else's: 404 for strangers, never a 500.
    let tsu = token_for(&w.t, "tsu.info").await;
    let r = call(&mut c, "GET", &hpath, &tsu, None, None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    let r = call(
        &mut c,
        "POST",
        &format!("{hpath}/items/{}/acknowledge", uuid::Uuid::nil()),
        &admin,
        None,
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    let r = call(
        &mut c,
        "GET",
        "/api/v1/handoffs/not-an-id",
        &admin,
        None,
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
}

#[tokio::test]
async fn a_named_position_is_defined_by_a_manager_taken_and_handed_across_organisations() {
    let w = World::new().await;
    let mut pref = w.t.login("mie.info").await;
    let incident = open_incident(&mut pref, "地震 情報班", &["toba"], "").await;
    let (manager, toba) = (
        token_for(&w.t, "mie.info").await,
        token_for(&w.t, "toba.info").await,
    );
    let mut c = w.t.client();
    let path = format!("/api/v1/incidents/{incident}/positions");
    let body = r#"{"name": "情報班長"}"#;
    let r = call(&mut c, "POST", &path, &toba, None, Some(body)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "not a manager: {}", r.body);
    let r = call(&mut c, "POST", &path, &manager, None, Some(body)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let pid = r.json()[0]["id"].as_str().expect("id").to_string();
    assert!(r.json()[0]["holder_id"].is_null());
    let r = call(&mut c, "POST", &path, &manager, None, Some(body)).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "same name: {}", r.body);
    let r = call(
        &mut c,
        "POST",
        &path,
        &manager,
        None,
        Some(r#"{"name": " "}"#),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);

    // The first to take it holds it; the second is told a handoff moves it.
    let take = format!("{path}/{pid}/take");
    let r = call(&mut c, "POST", &take, &toba, None, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()[0]["holder_name"], "toba.info さん");
    let r = call(&mut c, "POST", &take, &manager, None, None).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    let room = pref.get(&format!("/rooms/{incident}")).await;
    assert!(
        room.body.contains("情報班長") && room.body.contains("toba.info さん"),
        "{}",
        room.body
    );

    // Handed to someone of another organisation, then acknowledged: the position moves.
    let draft = call(
        &mut c,
        "GET",
        &format!("/api/v1/incidents/{incident}/handoffs/draft?position={pid}"),
        &toba,
        None,
        None,
    )
    .await
    .json();
    let to = w.pref_member.id.to_string();
    assert!(
        draft["candidates"]
            .as_array()
            .is_some_and(|v| v.iter().any(|m| m["user_id"] == serde_json::json!(to))),
        "{draft}"
    );
    assert_eq!(draft["position"]["name"], "情報班長");
    let r = call(
        &mut c,
        "POST",
        &format!("/api/v1/incidents/{incident}/handoffs"),
        &toba,
        Some("position-handoff-1"),
        Some(
            &serde_json::json!({"to": to, "summary": "県との調整は継続中", "position": pid})
                .to_string(),
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let h = r.json()["handoff"].clone();
    assert_eq!(h["position_name"], "情報班長");
    // The organisation's own duty can be handed over at the same time.
    let r = call(
        &mut c,
        "POST",
        &format!("/api/v1/incidents/{incident}/handoffs"),
        &toba,
        Some("org-handoff-0001"),
        Some(
            &serde_json::json!({"to": w.toba_admin.id.to_string(), "summary": "鳥羽市の当番"})
                .to_string(),
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let hid = h["id"].as_str().expect("id");
    // The person named cannot come: the outgoing person names another, who is notified; the
    // first can no longer acknowledge.
    let admin = token_for(&w.t, "toba.admin").await;
    let other = w.toba_admin.id.to_string();
    let r = call(
        &mut c,
        "PATCH",
        &format!("/api/v1/handoffs/{hid}"),
        &toba,
        None,
        Some(&serde_json::json!({ "to": w.toba_member.id.to_string() }).to_string()),
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "to oneself: {}",
        r.body
    );
    let r = call(
        &mut c,
        "PATCH",
        &format!("/api/v1/handoffs/{hid}"),
        &toba,
        None,
        Some(&serde_json::json!({ "to": other }).to_string()),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["to_name"], "toba.admin さん");
    let r = call(
        &mut c,
        "POST",
        &format!("/api/v1/handoffs/{hid}/acknowledge"),
        &manager,
        None,
        Some("{}"),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let r = call(
        &mut c,
        "POST",
        &format!("/api/v1/handoffs/{hid}/acknowledge"),
        &admin,
        None,
        Some("{}"),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let list = call(&mut c, "GET", &path, &toba, None, None).await.json();
    assert_eq!(list[0]["holder_name"], "toba.admin さん", "{list}");
    // Toba's duty did not move with it.
    let duty = w.t.app.store.duty(incident).await.expect("duty");
    assert!(
        duty.iter()
            .all(|d| d.user_id != w.pref_member.id || d.org_id == w.pref.id)
    );
    let r = call(
        &mut c,
        "GET",
        &format!("/api/v1/incidents/{incident}/handoffs/draft?position=nonsense"),
        &toba,
        None,
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
}

#[tokio::test]
async fn the_pages_work_without_javascript_from_draft_to_acknowledgement() {
    let w = World::new().await;
    let (incident, item, _) = shift(&w).await;
    let mut out = w.t.login("toba.info").await;
    let mut inc = w.t.login("toba.admin").await;
    let room = out.get(&format!("/rooms/{incident}")).await;
    assert!(room.body.contains("引継ぎを始める"), "{}", room.body);
    let form = out.get(&format!("/incidents/{incident}/handoff/new")).await;
    assert!(form.body.contains("答志島へ給水車を手配"), "{}", form.body);
    assert!(form.body.contains("この勤務で追加"), "{}", form.body);
    // A bad form is refused with the reason on the page, and stores nothing.
    let to = w.toba_admin.id.to_string();
    let r = out
        .post(
            &format!("/incidents/{incident}/handoffs"),
            &[
                ("to", to.as_str()),
                ("summary", ""),
                ("idem", &form.hidden("idem")),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(
        r.body.contains("勤務のまとめを書いてください"),
        "{}",
        r.body
    );
    let r = out
        .post(
            &format!("/incidents/{incident}/handoffs"),
            &[
                ("to", to.as_str()),
                ("summary", "夜間は港の見回りを継続"),
                ("idem", &form.hidden("idem")),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let page = r.location();
    let hid = page.trim_start_matches("/handoffs/").to_string();
    let room = out.get(&format!("/rooms/{incident}")).await;
    assert!(!room.body.contains("引継ぎを始める"), "one waits already");

    // The incoming person asks; the outgoing person answers and edits; the incoming person
    // acknowledges the item and the whole with the version on the page.
    let r = inc
        .post(
            &format!("/handoffs/{hid}/items/{item}/question"),
            &[("question", "見回りは何時から？")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let r = out
        .post(
            &format!("/handoffs/{hid}/items/{item}/answer"),
            &[("answer", "22時と2時")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let r = out
        .post(
            &format!("/handoffs/{hid}/edit"),
            &[
                ("summary", "夜間は港の見回りを継続（22時・2時）"),
                ("notes", "無線はチャンネル3"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let view = inc.get(&page).await;
    for text in [
        "見回りは何時から？",
        "22時と2時",
        "無線はチャンネル3",
        "未承認の項目が 1 件",
    ] {
        assert!(view.body.contains(text), "{text}: {}", view.body);
    }
    let r = inc
        .post(&format!("/handoffs/{hid}/items/{item}/acknowledge"), &[])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let view = inc.get(&page).await;
    let r = inc
        .post(
            &format!("/handoffs/{hid}/acknowledge"),
            &[("version", view.hidden("version").as_str())],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location(), format!("/rooms/{incident}#duty"));
    let done = out.get(&page).await;
    assert!(done.body.contains("承認済み"), "{}", done.body);
    assert!(
        !done.body.contains("引継ぎを保存"),
        "no edit form after acknowledgement"
    );

    // The item's history page and the CSV of the incident's timeline.
    let hist = out
        .get(&format!("/incidents/{incident}/items/{item}"))
        .await;
    assert!(
        hist.body.contains("この項目を持った勤務 (1)") && hist.body.contains("対応項目を追加"),
        "{}",
        hist.body
    );
    let csv = out
        .get(&format!("/incidents/{incident}/handoffs.csv"))
        .await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(
        csv.body.contains("夜間は港の見回りを継続（22時・2時）"),
        "{}",
        csv.body
    );
}
