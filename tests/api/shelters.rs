//! Incidents, the shelter registry and shelter reports, over HTTP, with the real shelter files
//! in `tests/fixtures/shelters/`.

use crate::live::{Server, Stream};
use crate::support::*;
use axum::http::StatusCode;
use sonae::domain::{Designation, RoomId, ShelterStatus};
use sonae::store::Shelter;

pub fn fixture(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/shelters")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"))
}

/// Uploads a shelter file: the preview, then the import (the same file with `confirm`).
pub async fn import(c: &mut Client, org: &str, name: &str, bytes: &[u8]) -> (Resp, Resp) {
    let path = format!("/orgs/{org}/shelters/import");
    let preview = c.post_multipart(&path, &[], Some((name, bytes))).await;
    let applied = c
        .post_multipart(&path, &[("confirm", "1")], Some((name, bytes)))
        .await;
    (preview, applied)
}

/// Opens an incident through the form; returns its room id.
pub async fn open_incident(c: &mut Client, name: &str, orgs: &[&str], started: &str) -> RoomId {
    let key = uuid::Uuid::new_v4().to_string();
    let mut fields = vec![
        ("name", name),
        ("kind", "storm_flood"),
        ("level", "4"),
        ("started_at", started),
        ("idem", key.as_str()),
    ];
    let names: Vec<String> = orgs.iter().map(|o| format!("org:{o}")).collect();
    for n in &names {
        fields.push((n.as_str(), "1"));
    }
    let r = c.post("/incidents", &fields).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "open incident: {}", r.body);
    r.location()
        .trim_start_matches("/incidents/")
        .trim_end_matches("/board")
        .parse()
        .expect("incident id")
}

/// Posts a report as the page script does; returns the response.
pub async fn report(
    c: &mut Client,
    room: &RoomId,
    shelter: &str,
    status: &str,
    evacuees: &str,
    households: &str,
    observed_at: Option<i64>,
) -> Resp {
    let key = uuid::Uuid::new_v4().to_string();
    let at = observed_at.map(|t| t.to_string()).unwrap_or_default();
    c.post_json(
        &format!("/incidents/{room}/reports"),
        &[
            ("shelter", shelter),
            ("status", status),
            ("evacuees", evacuees),
            ("households", households),
            ("observed_at", &at),
            ("idem", &key),
        ],
    )
    .await
}

/// 鳥羽市's admin, logged in, with the GSI shelter list (57 shelters) in its registry.
pub async fn toba_with_shelters(w: &World) -> Client {
    let mut admin = w.t.login("toba.admin").await;
    let (_, applied) = import(
        &mut admin,
        &w.toba.id.to_string(),
        "gsi_evacuation_242110.json",
        &fixture("gsi_evacuation_242110.json"),
    )
    .await;
    assert_eq!(applied.status, StatusCode::OK, "{}", applied.body);
    admin
}

async fn registry(w: &World, org: &sonae::store::Org) -> Vec<Shelter> {
    w.t.app.store.shelters(org.id).await.expect("shelters")
}

#[tokio::test]
async fn toba_gsi_lists_make_one_registry_and_reimporting_changes_nothing() {
    let w = World::new().await;
    let mut admin = w.t.login("toba.admin").await;
    let toba = w.toba.id.to_string();

    let (preview, applied) = import(
        &mut admin,
        &toba,
        "gsi_emergency_242110.json",
        &fixture("gsi_emergency_242110.json"),
    )
    .await;
    assert_eq!(preview.status, StatusCode::OK, "{}", preview.body);
    assert!(
        preview.body.contains("追加 126 件"),
        "preview counts: {}",
        preview.body
    );
    assert_eq!(applied.status, StatusCode::OK, "{}", applied.body);
    assert_eq!(registry(&w, &w.toba).await.len(), 126);

    // The shelter list: 55 of its 57 places are emergency sites already (same name and address).
    let (preview, applied) = import(
        &mut admin,
        &toba,
        "gsi_evacuation_242110.json",
        &fixture("gsi_evacuation_242110.json"),
    )
    .await;
    assert!(preview.body.contains("追加 2 件"), "{}", preview.body);
    assert_eq!(applied.status, StatusCode::OK, "{}", applied.body);
    let all = registry(&w, &w.toba).await;
    assert_eq!(all.len(), 128, "one shelter per place");
    let hotel = all
        .iter()
        .find(|s| s.name == "鳥羽シーサイドホテル")
        .expect("hotel");
    assert_eq!(hotel.designation, Designation::Both);
    assert_eq!(hotel.common_id.as_deref(), Some("E2421100001201"));
    let p = hotel.position.expect("coordinates");
    assert!((p.lat - 34.478911).abs() < 1e-6 && (p.lon - 136.851643).abs() < 1e-6);
    assert_eq!(
        hotel.hazards.words(),
        vec!["flood", "landslide", "storm_surge", "fire", "inland_flood"]
    );
    assert!(all.iter().any(|s| s.designation == Designation::Shelter));
    assert!(all.iter().any(|s| s.name == "亀の井ホテル　鳥羽"));

    // Again, both files: nothing added, nothing changed.
    for f in ["gsi_emergency_242110.json", "gsi_evacuation_242110.json"] {
        let (preview, applied) = import(&mut admin, &toba, f, &fixture(f)).await;
        assert!(preview.body.contains("追加 0 件"), "{f}: {}", preview.body);
        assert!(preview.body.contains("更新 0 件"), "{f}: {}", preview.body);
        assert_eq!(applied.status, StatusCode::OK);
    }
    assert_eq!(registry(&w, &w.toba).await.len(), 128);
    let again = registry(&w, &w.toba).await;
    let hotel2 = again.iter().find(|s| s.id == hotel.id).expect("same id");
    assert_eq!(hotel2.updated_at, hotel.updated_at, "not rewritten");
}

#[tokio::test]
async fn standard_csv_files_import_with_their_values() {
    let w = World::new().await;
    let mut admin = w.t.login("tsu.admin").await;
    let tsu = w.tsu.id.to_string();
    for (file, n) in [
        ("172014_evacuation_space.csv", 506),
        ("473022_evacuation_space.csv", 19),
    ] {
        let (preview, applied) = import(&mut admin, &tsu, file, &fixture(file)).await;
        assert_eq!(preview.status, StatusCode::OK, "{file}: {}", preview.body);
        assert!(preview.body.contains(&format!("追加 {n} 件")), "{file}");
        assert_eq!(applied.status, StatusCode::OK, "{file}");
    }
    let all = registry(&w, &w.tsu).await;
    assert_eq!(all.len(), 525);
    let mitani = all
        .iter()
        .find(|s| s.name == "三谷公民館（指定避難場所）")
        .expect("Kanazawa row");
    assert_eq!(mitani.capacity, Some(138));
    assert_eq!(mitani.capacity_text, "138人");
    assert_eq!(mitani.local_id.as_deref(), Some("AA0000001280"));
    assert_eq!(mitani.designation, Designation::Both);
    let p = mitani.position.expect("coordinates");
    assert!((p.lat - 36.59672393).abs() < 1e-6);
    let ogimi = all
        .iter()
        .find(|s| s.name == "大宜味村役場")
        .expect("Ōgimi row");
    assert_eq!(ogimi.local_id.as_deref(), Some("0000000101"));
    assert!(ogimi.position.is_some(), "lat/lon columns");

    // Re-import: nothing new.
    let (preview, _) = import(
        &mut admin,
        &tsu,
        "473022_evacuation_space.csv",
        &fixture("473022_evacuation_space.csv"),
    )
    .await;
    assert!(
        preview.body.contains("追加 0 件") && preview.body.contains("更新 0 件"),
        "{}",
        preview
            .body
            .split("<tbody>")
            .nth(1)
            .unwrap_or_default()
            .chars()
            .take(1500)
            .collect::<String>()
    );
    assert_eq!(registry(&w, &w.tsu).await.len(), 525);
}

/// Full-width katakana to half-width (the few this test needs), as old Windows exports write.
fn half_width(s: &str) -> String {
    let table = [
        ("ギ", "ｷﾞ"),
        ("バ", "ﾊﾞ"),
        ("オ", "ｵ"),
        ("ミ", "ﾐ"),
        ("ソ", "ｿ"),
        ("ン", "ﾝ"),
        ("ヤ", "ﾔ"),
        ("ク", "ｸ"),
    ];
    let mut out = s.to_string();
    for (f, h) in table {
        out = out.replace(f, h);
    }
    out
}

#[tokio::test]
async fn a_shift_jis_file_with_half_width_kana_imports() {
    let w = World::new().await;
    let mut admin = w.t.login("tsu.admin").await;
    let text = String::from_utf8(fixture("473022_evacuation_space.csv")).expect("utf-8");
    let text = text.trim_start_matches('\u{feff}').replace(
        "\"オオギミソンヤクバ\"",
        &format!("\"{}\"", half_width("オオギミソンヤクバ")),
    );
    assert!(text.contains("ｵｵｷﾞﾐｿﾝﾔｸﾊﾞ"));
    let (bytes, _, unmappable) = encoding_rs::SHIFT_JIS.encode(&text);
    assert!(!unmappable);
    assert!(std::str::from_utf8(&bytes).is_err(), "really not UTF-8");
    let (preview, applied) = import(&mut admin, &w.tsu.id.to_string(), "sjis.csv", &bytes).await;
    assert_eq!(preview.status, StatusCode::OK, "{}", preview.body);
    assert_eq!(applied.status, StatusCode::OK);
    let all = registry(&w, &w.tsu).await;
    assert_eq!(all.len(), 19);
    let office = all
        .iter()
        .find(|s| s.name == "大宜味村役場")
        .expect("name decoded");
    assert_eq!(office.kana, "オオギミソンヤクバ", "half-width kana widened");
}

#[tokio::test]
async fn bad_files_get_clear_messages_and_change_nothing() {
    let w = World::new().await;
    let mut admin = w.t.login("toba.admin").await;
    let toba = w.toba.id.to_string();
    import(
        &mut admin,
        &toba,
        "gsi_emergency_242110.json",
        &fixture("gsi_emergency_242110.json"),
    )
    .await;
    let before = registry(&w, &w.toba).await.len();
    let garbage: Vec<u8> = (0..200_000u32).map(|i| (i * 7919 % 251) as u8).collect();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "no name column",
            "ID,住所\n1,鳥羽市\n".as_bytes().to_vec(),
            "「名称」の列が見つかりません",
        ),
        (
            "unknown columns only",
            b"foo,bar\n1,2\n".to_vec(),
            "「名称」の列が見つかりません",
        ),
        (
            "broken quoting",
            "名称,住所\n\"鳥羽公民館,鳥羽市\n".as_bytes().to_vec(),
            "列の数が見出し行と違います",
        ),
        ("garbage", garbage, "文字コードが分かりません"),
        (
            "negative flag",
            "名称,災害種別_洪水\nA,yes\n".as_bytes().to_vec(),
            "「1」か空欄で入力してください",
        ),
        ("not geojson", b"{\"hello\": 1}".to_vec(), "GeoJSON"),
    ];
    for (what, bytes, message) in cases {
        let (preview, applied) = import(&mut admin, &toba, "bad.csv", &bytes).await;
        assert!(
            preview.status.is_client_error(),
            "{what}: {}",
            preview.status
        );
        assert!(
            preview.body.contains(message),
            "{what}: {}",
            preview
                .body
                .split("class=\"error\"")
                .nth(1)
                .unwrap_or(&preview.body)
        );
        assert!(
            applied.status.is_client_error(),
            "{what}: applied {}",
            applied.status
        );
    }
    // 10 MB of garbage: refused before it is read.
    let big = vec![b'x'; 10 * 1024 * 1024 + 10];
    let (preview, _) = import(&mut admin, &toba, "big.csv", &big).await;
    assert_eq!(preview.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        registry(&w, &w.toba).await.len(),
        before,
        "nothing imported"
    );

    // Someone else's organisation: refused.
    let mut other = w.t.login("tsu.admin").await;
    let (preview, _) = import(
        &mut other,
        &toba,
        "gsi_emergency_242110.json",
        &fixture("gsi_emergency_242110.json"),
    )
    .await;
    assert_eq!(preview.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn reports_build_the_board_and_bad_reports_are_refused() {
    let w = World::new().await;
    let mut admin = toba_with_shelters(&w).await;
    let mut tsu = w.t.login("tsu.admin").await;
    let (_, tsu_applied) = import(
        &mut tsu,
        &w.tsu.id.to_string(),
        "473022_evacuation_space.csv",
        &fixture("473022_evacuation_space.csv"),
    )
    .await;
    assert_eq!(tsu_applied.status, StatusCode::OK);
    let tsu_shelter = registry(&w, &w.tsu).await[0].id.to_string();

    let room = open_incident(&mut admin, "台風第10号", &["toba"], "").await;
    let shelters = registry(&w, &w.toba).await;
    let a = shelters[0].id.to_string();
    let b = shelters[1].id.to_string();

    let mut field = w.t.login("toba.info").await;
    let r = report(&mut field, &room, &a, "open", "120", "45", None).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let r = report(&mut field, &room, &b, "full", "３００人", "", None).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);

    let board = field.get(&format!("/incidents/{room}/board")).await;
    assert_eq!(board.status, StatusCode::OK);
    assert!(board.body.contains("開設中 2か所"), "{}", board.body);
    assert!(board.body.contains("避難者 420人"));
    assert!(board.body.contains("45世帯"));
    assert_eq!(
        board.body.matches("status status-full").count(),
        1,
        "one shelter shown as full"
    );
    assert_eq!(
        board.body.matches("class=\"shelter-row\"").count(),
        shelters.len(),
        "every shelter listed"
    );

    // Filters and the CSV of what is shown.
    let full = field
        .get(&format!("/incidents/{room}/board?status=full"))
        .await;
    assert!(full.body.contains("表示中の避難所 1か所"), "{}", full.body);
    let csv = field
        .get(&format!("/incidents/{room}/board.csv?status=full"))
        .await;
    assert_eq!(csv.status, StatusCode::OK);
    assert_eq!(
        csv.body.lines().count(),
        2,
        "header and one row: {}",
        csv.body
    );
    assert!(csv.body.contains("300"));
    let bad_sort = field
        .get(&format!("/incidents/{room}/board?sort=nope"))
        .await;
    assert_eq!(bad_sort.status, StatusCode::UNPROCESSABLE_ENTITY);

    // Bad reports: a clear 4xx, nothing stored.
    let now = w.t.app.now();
    let cases = [
        (a.as_str(), "open", "-5", "", None, "マイナス"),
        (a.as_str(), "open", "1000000", "", None, "大きすぎます"),
        (
            a.as_str(),
            "open",
            "10",
            "20",
            None,
            "世帯数が避難者数より多く",
        ),
        (a.as_str(), "maybe", "10", "", None, "状況は"),
        (
            a.as_str(),
            "open",
            "10",
            "",
            Some(now + 10 * 60_000),
            "5分以上先",
        ),
        (
            a.as_str(),
            "open",
            "10",
            "",
            Some(now - 24 * 3_600_000),
            "災害の発生より前",
        ),
        (
            tsu_shelter.as_str(),
            "open",
            "10",
            "",
            None,
            "この災害の避難所ではありません",
        ),
        (
            "not-an-id",
            "open",
            "10",
            "",
            None,
            "この災害の避難所ではありません",
        ),
    ];
    for (shelter, status, ev, hh, at, msg) in cases {
        let r = report(&mut field, &room, shelter, status, ev, hh, at).await;
        assert!(r.status.is_client_error(), "{msg}: {}", r.status);
        assert!(r.body.contains(msg), "{msg}: {}", r.body);
    }
    // A device clock 4 minutes ahead is fine.
    let r = report(
        &mut field,
        &room,
        &a,
        "open",
        "121",
        "45",
        Some(now + 4 * 60_000),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let history =
        w.t.app
            .store
            .reports(room, None, 100)
            .await
            .expect("reports");
    assert_eq!(history.len(), 3, "only the good reports");

    // Someone outside the incident sees nothing of it.
    let mut outsider = w.t.login("tsu.info").await;
    for path in [
        format!("/incidents/{room}/board"),
        format!("/incidents/{room}/board.csv"),
        format!("/incidents/{room}/shelters/{a}"),
    ] {
        let r = outsider.get(&path).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
    }
    let r = report(&mut outsider, &room, &a, "open", "1", "", None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // The prefecture's deployment admin sees every incident.
    let mut pref = w.t.login("admin").await;
    let r = pref.get(&format!("/incidents/{room}/board")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("参加する"));
    let home = pref.get("/").await;
    assert!(home.body.contains("台風第10号"));

    field.say(&room, "避難所の巡回を開始します").await;
    // Closing: managers only; afterwards reports are refused and the board stays readable.
    let r = field.post(&format!("/incidents/{room}/close"), &[]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = admin.post(&format!("/incidents/{room}/close"), &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let r = report(&mut field, &room, &a, "closed", "0", "", None).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    let r = field.get(&format!("/incidents/{room}/board")).await;
    assert!(r.body.contains("終了"));
    let r = field
        .post_json(
            &format!("/rooms/{room}/messages"),
            &[("body", "追記"), ("idem", "closed-room-post-1")],
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "read-only after closing");
    let found = field
        .get(&format!("/search?q={}", urlencoding::encode("巡回")))
        .await;
    assert!(
        found.body.contains("<mark>巡回</mark>を開始します"),
        "still searchable: {}",
        found.body
    );
}

#[tokio::test]
async fn a_report_sent_twice_is_stored_once_and_an_older_observation_does_not_hide_a_newer_one() {
    let w = World::new().await;
    let mut admin = toba_with_shelters(&w).await;
    let room = open_incident(&mut admin, "大雨", &[], "2020-01-01T00:00").await;
    let shelter = registry(&w, &w.toba).await[3].id.to_string();
    let now = w.t.app.now();
    let key = "outbox-key-0001";
    for _ in 0..3 {
        let r = admin
            .post_json(
                &format!("/incidents/{room}/reports"),
                &[
                    ("shelter", &shelter),
                    ("status", "open"),
                    ("evacuees", "30"),
                    ("observed_at", &now.to_string()),
                    ("idem", key),
                ],
            )
            .await;
        assert!(r.status.is_success(), "{}", r.body);
    }
    // A tablet that was offline sends an observation from an hour ago after the newer one.
    let r = report(
        &mut admin,
        &room,
        &shelter,
        "open",
        "5",
        "",
        Some(now - 3_600_000),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let reports =
        w.t.app
            .store
            .reports(room, None, 10)
            .await
            .expect("reports");
    assert_eq!(reports.len(), 2, "the repeated key stored once");
    let board = w.t.app.store.board(room).await.expect("board");
    let row = board
        .iter()
        .find(|r| r.shelter.id.to_string() == shelter)
        .expect("row");
    let latest = row.latest.as_ref().expect("latest");
    assert_eq!(latest.evacuees, Some(30), "the newest observation wins");
    assert_eq!(latest.status, ShelterStatus::Open);
}

#[tokio::test]
async fn the_board_marks_open_shelters_unreported_for_too_long() {
    let w = World::new().await;
    let mut admin = toba_with_shelters(&w).await;
    let room = open_incident(&mut admin, "地震", &[], "").await;
    let shelters = registry(&w, &w.toba).await;
    let (a, b) = (shelters[0].id.to_string(), shelters[1].id.to_string());
    assert_eq!(
        report(&mut admin, &room, &a, "open", "10", "", None)
            .await
            .status,
        StatusCode::CREATED
    );
    assert_eq!(
        report(&mut admin, &room, &b, "closed", "0", "", None)
            .await
            .status,
        StatusCode::CREATED
    );
    let page = admin.get(&format!("/incidents/{room}/board")).await;
    assert!(!page.body.contains("最終報告から"), "fresh");
    // Four hours later (the default limit is three): the open one is stale, the closed one not.
    w.t.clock.advance(time::Duration::hours(4));
    let page = admin.get(&format!("/incidents/{room}/board")).await;
    assert_eq!(
        page.body.matches("最終報告から4時間").count(),
        1,
        "{}",
        page.body
    );
    let sorted = admin
        .get(&format!(
            "/incidents/{room}/board?sort=reported&status=open"
        ))
        .await;
    assert!(sorted.body.contains("最終報告から4時間"));
}

#[tokio::test]
async fn nanao_status_snapshots_become_as_of_reports() {
    let w = World::new().await;
    let mut admin = w.t.login("toba.admin").await;
    // The Noto earthquake began on 1 January 2024.
    let room = open_incident(&mut admin, "令和6年能登半島地震", &[], "2024-01-01T16:10").await;
    let path = format!("/incidents/{room}/snapshot");
    let jan = fixture("open_shelter_Nanao-shi_2024-01-14-1800.csv");
    let preview = admin
        .post_multipart(&path, &[], Some(("jan.csv", &jan)))
        .await;
    assert_eq!(preview.status, StatusCode::OK, "{}", preview.body);
    assert!(preview.body.contains("28行"));
    assert!(preview.body.contains("2024-01-14 18:00"), "JST shown");
    let done = admin
        .post_multipart(&path, &[("confirm", "1")], Some(("jan.csv", &jan)))
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert!(done.body.contains("28件の報告"), "{}", done.body);
    let reports =
        w.t.app
            .store
            .reports(room, None, 100)
            .await
            .expect("reports");
    assert_eq!(reports.len(), 28);
    let jst_6pm = 1_705_222_800_000; // 2024-01-14T09:00:00Z
    assert!(reports.iter().all(|r| r.observed_at == jst_6pm));
    assert!(reports.iter().all(|r| r.source == "snapshot"));
    let total: i64 = reports.iter().filter_map(|r| r.evacuees).sum();
    assert_eq!(total, 1736);
    let board = w.t.app.store.board(room).await.expect("board");
    assert_eq!(board.len(), 28);
    assert!(
        board
            .iter()
            .any(|r| r.shelter.name == "寄合い処みそぎ"
                && r.shelter.designation == Designation::AdHoc)
    );

    // The same file again: no second report.
    let again = admin
        .post_multipart(&path, &[("confirm", "1")], Some(("jan.csv", &jan)))
        .await;
    assert!(again.body.contains("0件の報告"), "{}", again.body);
    // The September snapshot: its one shelter is known, its report is newer.
    let sep = fixture("open_shelter_Nanao-shi_2024-09-02-1800.csv");
    let done = admin
        .post_multipart(&path, &[("confirm", "1")], Some(("sep.csv", &sep)))
        .await;
    assert!(done.body.contains("1件の報告"), "{}", done.body);
    let board = w.t.app.store.board(room).await.expect("board");
    assert_eq!(board.len(), 28, "matched, not added");
    let yatago = board
        .iter()
        .find(|r| r.shelter.name == "矢田郷地区コミュニティセンター")
        .expect("row");
    assert_eq!(yatago.latest.as_ref().and_then(|r| r.evacuees), Some(40));

    // An incident opened after the snapshot's time refuses it, row by row.
    let late = open_incident(&mut admin, "別の災害", &[], "").await;
    let r = admin
        .post_multipart(
            &format!("/incidents/{late}/snapshot"),
            &[("confirm", "1")],
            Some(("jan.csv", &jan)),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("災害の発生より前"), "{}", r.body);
    assert!(
        w.t.app
            .store
            .reports(late, None, 10)
            .await
            .expect("none")
            .is_empty()
    );
}

#[tokio::test]
async fn a_report_reaches_a_live_board_and_the_timeline() {
    let w = World::new().await;
    let server = Server::start(&w.t).await;
    let mut admin = toba_with_shelters(&w).await;
    let room = open_incident(&mut admin, "高潮", &["tsu"], "").await;
    let hq = w.t.login("tsu.info").await;
    let mut stream = Stream::open(&server.base, &hq, None).await;
    let shelter = registry(&w, &w.toba).await[2].clone();
    let r = report(
        &mut admin,
        &room,
        &shelter.id.to_string(),
        "open",
        "77",
        "30",
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let ev = loop {
        let ev = stream.next().await;
        if ev.event == "entry" && ev.data["kind"] == "shelter_report" {
            break ev;
        }
    };
    assert_eq!(ev.data["room_id"], room.to_string());
    assert_eq!(ev.data["report"]["evacuees"], 77);
    let html = ev.data["html"].as_str().unwrap_or_default();
    assert!(
        html.contains(&shelter.name) && html.contains("開設"),
        "{html}"
    );
    // The board's fragment (what the page script swaps in) shows it.
    let mut hq = hq;
    let part = hq.get(&format!("/incidents/{room}/board?partial=1")).await;
    assert!(part.body.contains("避難者 77人"), "{}", part.body);
    assert!(!part.body.contains("<html"), "only the fragment");
    // And the room's timeline lists the report among the messages.
    let page = hq.get(&format!("/rooms/{room}")).await;
    assert!(page.body.contains("避難所報告") && page.body.contains(&shelter.name));
    stream.close();
    server.stop().await;
}

#[tokio::test]
async fn shelters_are_added_and_edited_by_hand() {
    let w = World::new().await;
    let mut admin = w.t.login("toba.admin").await;
    let base = format!("/orgs/{}/shelters", w.toba.id);
    let r = admin
        .post(
            &base,
            &[
                ("name", "答志島 臨時集会所"),
                ("address", "三重県鳥羽市答志町"),
                ("lat", "34.52"),
                ("lon", "136.93"),
                ("designation", "shelter"),
                ("capacity", "80人"),
                ("hazard_tsunami", "1"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let s = registry(&w, &w.toba).await.remove(0);
    assert_eq!(s.capacity, Some(80));
    assert_eq!(s.hazards.words(), vec!["tsunami"]);
    // The same place again is refused; bad coordinates are refused.
    let r = admin
        .post(
            &base,
            &[
                ("name", "答志島 臨時集会所"),
                ("address", "三重県鳥羽市答志町"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    let r = admin
        .post(&base, &[("name", "X"), ("lat", "134.5"), ("lon", "36")])
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("緯度・経度が範囲外"));
    // Edit.
    let r = admin
        .post(
            &format!("{base}/{}", s.id),
            &[
                ("name", "答志島 集会所"),
                ("address", "三重県鳥羽市答志町"),
                ("capacity", "90人"),
                ("designation", "both"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let s2 = w.t.app.store.shelter(s.id).await.expect("shelter");
    assert_eq!((s2.name.as_str(), s2.capacity), ("答志島 集会所", Some(90)));
    // A member of the organisation may read the registry but not change it.
    let mut member = w.t.login("toba.info").await;
    assert_eq!(member.get(&base).await.status, StatusCode::OK);
    let r = member.post(&base, &[("name", "Y")]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    // An ad hoc shelter during an incident, then reported.
    let room = open_incident(&mut admin, "津波注意報", &[], "").await;
    let mut field = w.t.login("toba.info").await;
    let r = field
        .post(
            &format!("/incidents/{room}/shelters"),
            &[("name", "鳥羽駅前 臨時避難所"), ("address", "鳥羽1丁目")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let page = field.get(&r.location()).await;
    assert!(page.body.contains("臨時"), "{}", page.body);
    let sid = r
        .location()
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_string();
    let rep = report(&mut field, &room, &sid, "open", "12", "", None).await;
    assert_eq!(rep.status, StatusCode::CREATED);
    assert_eq!(
        registry(&w, &w.toba).await.len(),
        1,
        "ad hoc shelters stay out of the registry"
    );
}

#[tokio::test]
async fn incidents_shelters_and_reports_over_the_json_api() {
    use crate::json_api::{call, token_for};
    let w = World::new().await;
    let token = token_for(&w.t, "toba.admin").await;
    let mut c = w.t.client();
    let toba = w.toba.id;
    let text = String::from_utf8(fixture("gsi_evacuation_242110.json")).expect("utf-8");
    let body = serde_json::json!({ "text": text }).to_string();
    let path = format!("/api/v1/orgs/{toba}/shelters/import");
    let r = call(
        &mut c,
        "POST",
        &path,
        &token,
        Some("key-imp-check-1-0000"),
        Some(&body),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["adds"], 57);
    assert_eq!(r.json()["applied"], false);
    let body = serde_json::json!({ "text": text, "apply": true }).to_string();
    let r = call(
        &mut c,
        "POST",
        &path,
        &token,
        Some("key-imp-apply-1-0000"),
        Some(&body),
    )
    .await;
    assert_eq!(r.json()["applied"], true, "{}", r.body);
    let list = call(
        &mut c,
        "GET",
        &format!("/api/v1/orgs/{toba}/shelters"),
        &token,
        None,
        None,
    )
    .await;
    let shelters = list.json();
    assert_eq!(shelters.as_array().map(|a| a.len()), Some(57));
    let sid = shelters[0]["id"].as_str().expect("id").to_string();
    // A file without a name column: 422 with the reason.
    let body = serde_json::json!({ "text": "a,b\n1,2\n" }).to_string();
    let r = call(
        &mut c,
        "POST",
        &path,
        &token,
        Some("key-imp-bad-1-0000"),
        Some(&body),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("名称")
    );

    let body = serde_json::json!({
        "name": "豪雨", "kind": "storm_flood", "level": 3,
        "started_at": "2026-01-01T00:00:00+09:00", "orgs": ["tsu"]
    })
    .to_string();
    let r = call(
        &mut c,
        "POST",
        "/api/v1/incidents",
        &token,
        Some("key-inc-1-0000"),
        Some(&body),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let room = r.json()["id"].as_str().expect("id").to_string();
    let bad = serde_json::json!({"name": "x", "kind": "meteor", "level": 3}).to_string();
    let r = call(
        &mut c,
        "POST",
        "/api/v1/incidents",
        &token,
        Some("key-inc-2-0000"),
        Some(&bad),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);

    let observed =
        w.t.app
            .clock
            .now()
            .format(&time::format_description::well_known::Rfc3339)
            .expect("time");
    let body = serde_json::json!({
        "shelter": sid, "status": "open", "evacuees": 42, "households": 17,
        "needs": "毛布", "observed_at": observed
    })
    .to_string();
    let rpath = format!("/api/v1/incidents/{room}/reports");
    let r = call(
        &mut c,
        "POST",
        &rpath,
        &token,
        Some("key-rep-1-0000"),
        Some(&body),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let again = call(
        &mut c,
        "POST",
        &rpath,
        &token,
        Some("key-rep-1-0000"),
        Some(&body),
    )
    .await;
    assert_eq!(again.json()["replayed"], true);
    let neg = serde_json::json!({"shelter": sid, "status": "open", "evacuees": -1}).to_string();
    let r = call(
        &mut c,
        "POST",
        &rpath,
        &token,
        Some("key-rep-2-0000"),
        Some(&neg),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.json()["error"]["field"], "evacuees");

    let board = call(
        &mut c,
        "GET",
        &format!("/api/v1/incidents/{room}/board?status=open"),
        &token,
        None,
        None,
    )
    .await;
    assert_eq!(board.status, StatusCode::OK, "{}", board.body);
    let b = board.json();
    assert_eq!(b["overall"]["evacuees"], 42);
    assert_eq!(b["overall"]["households"], 17);
    assert_eq!(b["rows"].as_array().map(|a| a.len()), Some(1));
    assert_eq!(b["rows"][0]["latest"]["needs"], "毛布");
    let reports = call(&mut c, "GET", &rpath, &token, None, None).await;
    assert_eq!(reports.json().as_array().map(|a| a.len()), Some(1));
    let list = call(&mut c, "GET", "/api/v1/incidents", &token, None, None).await;
    assert_eq!(list.json()[0]["open_shelters"], 1);
    assert_eq!(list.json()[0]["name"], "豪雨");

    // A snapshot with a bad time is refused row by row; nothing stored.
    let body =
        serde_json::json!({"text": "名称,人数,時点\n臨時A,10,いつか\n", "apply": true}).to_string();
    let r = call(
        &mut c,
        "POST",
        &format!("/api/v1/incidents/{room}/snapshot"),
        &token,
        Some("key-snap-1-0000"),
        Some(&body),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let body = serde_json::json!({"text": "名称,人数,時点\n臨時A,10,令和8年1月2日午前9時\n", "apply": true}).to_string();
    let r = call(
        &mut c,
        "POST",
        &format!("/api/v1/incidents/{room}/snapshot"),
        &token,
        Some("key-snap-2-0000"),
        Some(&body),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["reports_stored"], 1);
    assert_eq!(r.json()["shelters_added"], 1);

    // Edit a shelter; close the incident (twice is fine).
    let body = serde_json::json!({"name": "鳥羽 避難所A", "address": "鳥羽市", "capacity": "50人", "hazards": ["tsunami"]}).to_string();
    let r = call(
        &mut c,
        "PUT",
        &format!("/api/v1/orgs/{toba}/shelters/{sid}"),
        &token,
        Some("key-edit-1-0000"),
        Some(&body),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let bad = serde_json::json!({"name": "x", "hazards": ["meteor"]}).to_string();
    let r = call(
        &mut c,
        "PUT",
        &format!("/api/v1/orgs/{toba}/shelters/{sid}"),
        &token,
        Some("key-edit-2-0000"),
        Some(&bad),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    for k in ["key-close-1-0000", "key-close-2-0000"] {
        let r = call(
            &mut c,
            "POST",
            &format!("/api/v1/incidents/{room}/close"),
            &token,
            Some(k),
            None,
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    }
    let r = call(
        &mut c,
        "POST",
        &rpath,
        &token,
        Some("key-rep-3-0000"),
        Some(&body),
    )
    .await;
    assert!(r.status.is_client_error());
    // Someone outside sees nothing.
    let other = token_for(&w.t, "tsu.admin").await;
    let r = call(
        &mut c,
        "GET",
        &format!("/api/v1/incidents/{room}/board"),
        &other,
        None,
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "tsu was involved");
    let outsider = token_for(&w.t, "mie.info").await;
    let r = call(
        &mut c,
        "GET",
        &format!("/api/v1/incidents/{room}/board"),
        &outsider,
        None,
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_command_line_imports_a_registry() {
    if test_backend() != sonae::store::Backend::Sqlite {
        return; // the command runs on the embedded default; the store code is the same
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let bin = env!("CARGO_BIN_EXE_sonae");
    let run = |args: &[&str]| {
        std::process::Command::new(bin)
            .arg("--data-dir")
            .arg(dir.path())
            .args(args)
            .output()
            .expect("run sonae")
    };
    assert!(run(&["demo"]).status.success());
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/shelters");
    let file = |f: &str| fixtures.join(f).display().to_string();
    // The demo embeds Toba's GSI data: importing it again changes nothing.
    let out = run(&[
        "shelters",
        "import",
        &file("gsi_emergency_242110.json"),
        "--org",
        "242110",
    ]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("added 0, updated 0, unchanged 126"), "{text}");
    let out = run(&[
        "shelters",
        "import",
        &file("473022_evacuation_space.csv"),
        "--org",
        "tsu",
    ]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("added 19"));
    // A file without a name column: a clear message, a failure, nothing imported.
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "ID,住所\n1,津市\n").expect("write");
    let out = run(&[
        "shelters",
        "import",
        &bad.display().to_string(),
        "--org",
        "tsu",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("「名称」の列が見つかりません"));
    let out = run(&[
        "shelters",
        "import",
        &file("473022_evacuation_space.csv"),
        "--org",
        "nowhere",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no organisation"));
}

#[tokio::test]
async fn the_board_shows_registry_changes_made_after_it_was_read() {
    let w = World::new().await;
    let mut admin = w.t.login("toba.admin").await;
    let base = format!("/orgs/{}/shelters", w.toba.id);
    let add = |name: &'static str| [("name", name), ("address", "鳥羽市")];
    assert_eq!(
        admin.post(&base, &add("第一集会所")).await.status,
        StatusCode::SEE_OTHER
    );
    let room = open_incident(&mut admin, "高波", &[], "").await;
    let board = format!("/incidents/{room}/board");
    assert!(admin.get(&board).await.body.contains("第一集会所"));
    // A shelter added and one renamed after the board was read: both show at once.
    assert_eq!(
        admin.post(&base, &add("第二集会所")).await.status,
        StatusCode::SEE_OTHER
    );
    let first = registry(&w, &w.toba)
        .await
        .into_iter()
        .find(|s| s.name == "第一集会所")
        .expect("first");
    let r = admin
        .post(
            &format!("{base}/{}", first.id),
            &[("name", "第一集会所（改称）"), ("address", "鳥羽市")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let page = admin.get(&board).await;
    assert!(page.body.contains("第二集会所"), "added");
    assert!(page.body.contains("第一集会所（改称）"), "renamed");
    // And a report after that, too.
    let r = report(
        &mut admin,
        &room,
        &first.id.to_string(),
        "full",
        "80",
        "",
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert!(admin.get(&board).await.body.contains("満員"));
}

#[tokio::test]
async fn after_a_report_the_board_reads_only_what_changed_and_stays_exact() {
    use crate::json_api::{call, token_for};
    use sqlx::Connection;
    let w = World::new().await;
    let mut admin = toba_with_shelters(&w).await;
    let room = open_incident(&mut admin, "大雨", &[], "2020-01-01T00:00").await;
    let shelters = registry(&w, &w.toba).await;
    let token = token_for(&w.t, "toba.admin").await;
    let mut api = w.t.client();
    let path = format!("/api/v1/incidents/{room}/board");
    // The board as served (cached, kept up to date) against a fresh read of the store: each
    // shelter with its note and its newest report.
    let mut check = async |what: &str| {
        let served = call(&mut api, "GET", &path, &token, None, None).await;
        assert_eq!(served.status, StatusCode::OK, "{}", served.body);
        let served: Vec<(String, String, String, String)> = served.json()["rows"]
            .as_array()
            .expect("rows")
            .iter()
            .map(|r| {
                let text = |v: &serde_json::Value| v.as_str().unwrap_or("").to_string();
                (
                    text(&r["shelter"]["id"]),
                    text(&r["shelter"]["note"]),
                    text(&r["latest"]["status"]),
                    r["latest"]["evacuees"].to_string(),
                )
            })
            .collect();
        let fresh: Vec<(String, String, String, String)> =
            w.t.app
                .store
                .board(room)
                .await
                .expect("board")
                .into_iter()
                .map(|r| {
                    (
                        r.shelter.id.to_string(),
                        r.shelter.note,
                        r.latest
                            .as_ref()
                            .map(|l| l.status.as_str().to_string())
                            .unwrap_or_default(),
                        r.latest
                            .and_then(|l| l.evacuees)
                            .map(|n| n.to_string())
                            .unwrap_or_else(|| "null".into()),
                    )
                })
                .collect();
        // The page orders rows its own way (reported first); compare them by shelter.
        let (mut served, mut fresh) = (served, fresh);
        served.sort();
        fresh.sort();
        assert_eq!(served, fresh, "{what}");
        served
    };
    check("first read").await;
    let at = w.t.app.now();
    for (k, (i, status, people)) in [(3, "open", "30"), (5, "full", "120"), (3, "open", "45")]
        .into_iter()
        .enumerate()
    {
        let shelter = shelters[i].id.to_string();
        let r = report(
            &mut admin,
            &room,
            &shelter,
            status,
            people,
            "",
            Some(at + k as i64),
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        check(&format!("after report {k}")).await;
    }
    // An older observation changes nothing; a message moves the room on without a report.
    let r = report(
        &mut admin,
        &room,
        &shelters[5].id.to_string(),
        "closed",
        "0",
        "",
        Some(at - 60_000),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED);
    check("after an older observation").await;
    admin.say(&room, "避難所の状況を更新しました").await;
    let rows = check("after a message").await;
    let row = |id: &sonae::domain::ShelterId| {
        rows.iter()
            .find(|r| r.0 == id.to_string())
            .map(|r| (r.2.clone(), r.3.clone()))
    };
    assert_eq!(row(&shelters[3].id), Some(("open".into(), "45".into())));
    assert_eq!(row(&shelters[5].id), Some(("full".into(), "120".into())));

    // Proof that a report re-reads only its own shelter: a change made behind the app's back
    // (not through the registry, so the board's version does not see it) to another shelter
    // shows only when the board is read whole again: on the first change a minute or more
    // after the last whole read.
    let other = shelters
        .iter()
        .find(|s| s.id != shelters[3].id)
        .expect("another shelter");
    sqlx::any::install_default_drivers();
    let mut raw = sqlx::AnyConnection::connect(&w.t.url)
        .await
        .expect("connect");
    sqlx::query("UPDATE shelters SET note = 'behind the back' WHERE id = $1")
        .bind(other.id.to_string())
        .execute(&mut raw)
        .await
        .expect("update");
    raw.close().await.expect("close");
    let r = report(
        &mut admin,
        &room,
        &shelters[3].id.to_string(),
        "open",
        "50",
        "",
        Some(at + 10),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let board = format!("/incidents/{room}/board");
    let page = admin.get(&board).await;
    assert!(page.body.contains("50"), "the reported shelter is current");
    let served = call(&mut api, "GET", &path, &token, None, None)
        .await
        .json();
    let note_of = |b: &serde_json::Value| {
        b["rows"]
            .as_array()
            .and_then(|rows| {
                rows.iter()
                    .find(|r| r["shelter"]["id"] == other.id.to_string())
                    .map(|r| r["shelter"]["note"].clone())
            })
            .unwrap_or_default()
    };
    assert_ne!(
        note_of(&served),
        "behind the back",
        "only the reported row was read"
    );
    w.t.clock.advance(time::Duration::seconds(61));
    let r = report(
        &mut admin,
        &room,
        &shelters[3].id.to_string(),
        "open",
        "55",
        "",
        Some(at + 20),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let served = call(&mut api, "GET", &path, &token, None, None)
        .await
        .json();
    assert_eq!(
        note_of(&served),
        "behind the back",
        "a change more than a minute after the last whole read reads it whole"
    );
}
