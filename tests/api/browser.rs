//! User journeys in real headless Chromium (Debian's chromium + chromium-driver).
//! Skipped with a message when the browser is missing, unless SONAE_REQUIRE_BROWSER or CI is set.

use crate::live::Server;
use crate::support::*;
use fantoccini::{Client as Browser, ClientBuilder, Locator};
use sonae::config::Config;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A chromedriver process and one browser session (its own profile).
struct Chrome {
    driver: Child,
    pub b: Browser,
    _profile: tempfile::TempDir,
}

fn browser_required() -> bool {
    std::env::var("SONAE_REQUIRE_BROWSER").is_ok_and(|v| v == "1")
        || std::env::var("CI").is_ok_and(|v| v == "true")
}

fn find_driver() -> Option<String> {
    ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .map(String::from)
}

impl Chrome {
    /// Starts a browser, or returns None (test skipped) when none is installed here.
    async fn start() -> Option<Chrome> {
        // Two TLS back ends are linked into the tests (see Cargo.toml): name the one to use.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let Some(driver_path) = find_driver() else {
            if browser_required() {
                panic!("chromium-driver is required (SONAE_REQUIRE_BROWSER/CI) but missing");
            }
            eprintln!(
                "SKIPPED: browser test needs Debian's chromium and chromium-driver (bash .ci/test-all.sh installs them)"
            );
            return None;
        };
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
            l.local_addr().expect("addr").port()
        };
        let driver = Command::new(driver_path)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let profile = tempfile::tempdir().expect("profile dir");
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({
                "binary": "/usr/bin/chromium",
                "prefs": { "intl.accept_languages": "ja" },
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                    "--disable-dev-shm-usage", "--no-first-run", "--disable-component-update", "--disable-sync",
                    "--window-size=1280,900", "--lang=ja", format!("--user-data-dir={}", profile.path().display())
                ]
            }),
        );
        let mut last_err = String::new();
        for _ in 0..50 {
            match ClientBuilder::rustls()
                .expect("tls")
                .capabilities(caps.clone())
                .connect(&format!("http://127.0.0.1:{port}"))
                .await
            {
                Ok(b) => {
                    return Some(Chrome {
                        driver,
                        b,
                        _profile: profile,
                    });
                }
                Err(e) => {
                    last_err = e.to_string();
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
        panic!("could not start a browser session: {last_err}");
    }

    async fn stop(mut self) {
        let _ = self.b.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// The control labelled `label` (a visible `<label for>`).
async fn field(b: &Browser, label: &str) -> fantoccini::elements::Element {
    let l = b
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::XPath(&format!(
            "//label[normalize-space()='{label}']"
        )))
        .await
        .unwrap_or_else(|e| panic!("label {label}: {e}"));
    let id = l.attr("for").await.expect("attr").expect("label has for");
    b.find(Locator::Id(&id)).await.expect("labelled control")
}

/// The button whose text is `text`.
async fn button(b: &Browser, text: &str) -> fantoccini::elements::Element {
    b.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::XPath(&format!(
            "//button[normalize-space()='{text}']"
        )))
        .await
        .unwrap_or_else(|e| panic!("button {text}: {e}"))
}

async fn login(b: &Browser, base: &str, user: &str) {
    b.goto(&format!("{base}/login")).await.expect("goto login");
    field(b, "ログインID")
        .await
        .send_keys(user)
        .await
        .expect("type login");
    field(b, "パスワード")
        .await
        .send_keys(PASSWORD)
        .await
        .expect("type password");
    button(b, "ログイン").await.click().await.expect("click");
    b.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::XPath("//a[normalize-space()='ルーム']"))
        .await
        .expect("logged in");
}

/// Waits until the page shows `text`.
async fn sees(b: &Browser, text: &str, secs: u64) {
    let xp = format!("//*[contains(normalize-space(.), '{text}')]");
    b.wait()
        .at_most(Duration::from_secs(secs))
        .for_element(Locator::XPath(&xp))
        .await
        .unwrap_or_else(|e| panic!("expected to see {text:?}: {e}"));
}

async fn post_via_ui(b: &Browser, text: &str) {
    field(b, "メッセージ")
        .await
        .send_keys(text)
        .await
        .expect("type message");
    button(b, "送信").await.click().await.expect("send");
}

#[tokio::test]
async fn two_users_chat_live_reply_and_search() {
    let Some(chrome_a) = Chrome::start().await else {
        return;
    };
    let Some(chrome_b) = Chrome::start().await else {
        return;
    };
    let w = World::new().await;
    let server = Server::start(&w.t).await;
    let mut api = w.t.login("tsu.info").await;
    let room = api.room("ブラウザ試験", "toba.info").await;
    let (a, b) = (&chrome_a.b, &chrome_b.b);
    login(a, &server.base, "tsu.info").await;
    login(b, &server.base, "toba.info").await;
    // Both open the room from the room list.
    for br in [a, b] {
        br.find(Locator::XPath(
            "//a[contains(normalize-space(.), 'ブラウザ試験')]",
        ))
        .await
        .expect("room link")
        .click()
        .await
        .expect("open room");
        sees(br, "まだメッセージはありません", 10).await;
    }
    post_via_ui(a, "第2避難所を開設しました").await;
    // It appears live in the other user's page, without reloading.
    sees(b, "第2避難所を開設しました", 10).await;
    // B replies through the UI.
    b.find(Locator::XPath("//a[normalize-space()='返信']"))
        .await
        .expect("reply link")
        .click()
        .await
        .expect("reply");
    post_via_ui(b, "了解しました").await;
    sees(a, "了解しました", 10).await;
    sees(a, "tsu.info さん への返信", 10).await;
    // Search through the UI finds a two-character word.
    let q = field(a, "検索").await;
    q.send_keys("避難").await.expect("type query");
    button(a, "検索する").await.click().await.expect("search");
    sees(a, "1件見つかりました", 10).await;
    let mark = a
        .find(Locator::Css(".snippet mark"))
        .await
        .expect("highlight");
    assert_eq!(mark.text().await.expect("text"), "避難");
    let _ = room;
    chrome_a.stop().await;
    chrome_b.stop().await;
    server.stop().await;
}

#[tokio::test]
async fn eight_tabs_share_one_stream() {
    let Some(chrome) = Chrome::start().await else {
        return;
    };
    let w = World::new().await;
    let server = Server::start(&w.t).await;
    let mut api = w.t.login("tsu.info").await;
    let room = api.room("八つのタブ", "").await;
    let b = &chrome.b;
    login(b, &server.base, "tsu.info").await;
    let url = format!("{}/rooms/{room}", server.base);
    let mut tabs = Vec::new();
    b.goto(&url).await.expect("first tab");
    tabs.push(b.window().await.expect("window"));
    for _ in 1..8 {
        let t = b.new_window(true).await.expect("new tab");
        b.switch_to_window(t.handle.clone()).await.expect("switch");
        b.goto(&url).await.expect("open room");
        tabs.push(t.handle);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        w.t.app.live.subscribers(),
        1,
        "one live stream for eight tabs"
    );
    // Post from the eighth tab; every tab shows it.
    post_via_ui(b, "八番目のタブから").await;
    for t in &tabs {
        b.switch_to_window(t.clone()).await.expect("switch");
        sees(b, "八番目のタブから", 10).await;
    }
    chrome.stop().await;
    server.stop().await;
}

async fn stored_bodies(t: &TestApp, room: &sonae::domain::RoomId) -> Vec<String> {
    t.app
        .store
        .messages_before(*room, None, 100)
        .await
        .expect("messages")
        .into_iter()
        .map(|m| m.body)
        .collect()
}

#[tokio::test]
async fn the_outbox_keeps_a_message_through_an_outage_and_a_reload() {
    let Some(chrome) = Chrome::start().await else {
        return;
    };
    let w = World::new().await;
    let server = Server::start(&w.t).await;
    let addr = server.base.trim_start_matches("http://").to_string();
    let mut api = w.t.login("tsu.info").await;
    let room = api.room("停電試験", "").await;
    let b = &chrome.b;
    login(b, &server.base, "tsu.info").await;
    let url = format!("{}/rooms/{room}", server.base);
    // Visit twice so the service worker holds the page.
    b.goto(&url).await.expect("room");
    tokio::time::sleep(Duration::from_secs(1)).await;
    b.goto(&url).await.expect("room again");
    sees(b, "まだメッセージはありません", 10).await;
    server.stop().await;
    post_via_ui(b, "停電中に書いた報告").await;
    sees(b, "送信待ち 1件", 10).await;
    // The page opens offline and still shows the waiting message.
    b.refresh().await.expect("reload offline");
    sees(b, "送信待ち 1件", 10).await;
    sees(b, "停電中に書いた報告", 10).await;
    // The server comes back (same database, same address): sent exactly once.
    let World { t, .. } = w;
    let TestApp { dir, url: db, .. } = t;
    let t2 = TestApp::open(dir, db, Config::default()).await;
    let server2 = Server::start_at(&t2, &addr).await;
    let mut sent = false;
    for _ in 0..60 {
        if !stored_bodies(&t2, &room).await.is_empty() {
            sent = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(sent, "the outbox sent the message after the outage");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        stored_bodies(&t2, &room).await,
        vec!["停電中に書いた報告".to_string()]
    );
    b.refresh().await.expect("reload");
    sees(b, "停電中に書いた報告", 10).await;
    let outbox_hidden = b
        .find(Locator::Id("outbox"))
        .await
        .expect("outbox")
        .attr("hidden")
        .await
        .expect("attr");
    assert!(outbox_hidden.is_some(), "the outbox is empty again");
    chrome.stop().await;
    server2.stop().await;
}

#[tokio::test]
async fn a_message_written_offline_is_sent_once_after_logging_in_again() {
    let Some(chrome) = Chrome::start().await else {
        return;
    };
    let w = World::new().await;
    let server = Server::start(&w.t).await;
    let addr = server.base.trim_start_matches("http://").to_string();
    let mut api = w.t.login("tsu.info").await;
    let room = api.room("再ログイン試験", "").await;
    let b = &chrome.b;
    login(b, &server.base, "tsu.info").await;
    let url = format!("{}/rooms/{room}", server.base);
    b.goto(&url).await.expect("room");
    sees(b, "まだメッセージはありません", 10).await;
    server.stop().await;
    post_via_ui(b, "期限切れの間に書いた").await;
    sees(b, "送信待ち 1件", 10).await;
    // While offline the session expires.
    let World { t, tsu_member, .. } = w;
    let TestApp { dir, url: db, .. } = t;
    let t2 = TestApp::open(dir, db, Config::default()).await;
    let now = t2.app.now();
    t2.app
        .store
        .end_sessions(
            tsu_member.id,
            None,
            now,
            sonae::store::AuditRecord {
                at: now,
                action: "test".into(),
                result: "ok".into(),
                ..Default::default()
            },
        )
        .await
        .expect("end sessions");
    let server2 = Server::start_at(&t2, &addr).await;
    // The outbox asks to log in again and keeps the message.
    sees(b, "ログインし直すと自動で送信します", 40).await;
    assert!(stored_bodies(&t2, &room).await.is_empty());
    let room_tab = b.window().await.expect("window");
    let tab = b.new_window(true).await.expect("tab");
    b.switch_to_window(tab.handle).await.expect("switch");
    login(b, &format!("http://{addr}"), "tsu.info").await;
    b.switch_to_window(room_tab).await.expect("back");
    let mut sent = false;
    for _ in 0..40 {
        if !stored_bodies(&t2, &room).await.is_empty() {
            sent = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(sent, "sent after logging in again");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        stored_bodies(&t2, &room).await,
        vec!["期限切れの間に書いた".to_string()]
    );
    chrome.stop().await;
    server2.stop().await;
}

#[tokio::test]
async fn a_field_report_on_a_tablet_updates_the_hq_board_without_a_reload() {
    let Some(field_chrome) = Chrome::start().await else {
        return;
    };
    let Some(hq_chrome) = Chrome::start().await else {
        return;
    };
    let w = World::new().await;
    let server = Server::start(&w.t).await;
    let mut admin = crate::shelters::toba_with_shelters(&w).await;
    let room = crate::shelters::open_incident(&mut admin, "台風 ブラウザ試験", &["tsu"], "").await;
    let shelter = w.t.app.store.shelters(w.toba.id).await.expect("shelters")[0].clone();

    let (f, hq) = (&field_chrome.b, &hq_chrome.b);
    // The field user is on a tablet.
    f.set_window_size(1024, 768).await.expect("tablet size");
    hq.set_window_size(1024, 768).await.expect("tablet size");
    login(f, &server.base, "toba.info").await;
    login(hq, &server.base, "tsu.info").await;
    // HQ opens the board from the home page.
    hq.find(Locator::XPath(
        "//a[contains(normalize-space(.), '台風 ブラウザ試験')]",
    ))
    .await
    .expect("incident link")
    .click()
    .await
    .expect("open board");
    sees(hq, "開設中 0か所", 10).await;
    hq.execute("window.__sameDocument = true;", vec![])
        .await
        .expect("mark the document");

    // The field user opens the shelter's report form from the board and reports.
    f.goto(&format!("{}/incidents/{room}/board", server.base))
        .await
        .expect("board");
    f.find(Locator::LinkText(&shelter.name))
        .await
        .expect("shelter link")
        .click()
        .await
        .expect("open shelter");
    f.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::XPath("//label[normalize-space()='開設']"))
        .await
        .expect("status choice")
        .click()
        .await
        .expect("choose open");
    field(f, "避難者数")
        .await
        .send_keys("35")
        .await
        .expect("type evacuees");
    field(f, "世帯数")
        .await
        .send_keys("12")
        .await
        .expect("type households");
    button(f, "送信").await.click().await.expect("send");
    sees(f, "報告を保存しました。", 10).await;

    // HQ's board changes by itself.
    sees(hq, "開設中 1か所", 10).await;
    sees(hq, "避難者 35人", 10).await;
    let same = hq
        .execute("return window.__sameDocument === true;", vec![])
        .await
        .expect("check");
    assert_eq!(same, serde_json::json!(true), "the board was not reloaded");
    let stored =
        w.t.app
            .store
            .reports(room, None, 10)
            .await
            .expect("reports");
    assert_eq!(stored.len(), 1, "sent once");
    assert_eq!(stored[0].evacuees, Some(35));
    assert!(
        (stored[0].received_at - stored[0].observed_at).abs() < 60_000,
        "observed when 送信 was pressed"
    );
    field_chrome.stop().await;
    hq_chrome.stop().await;
    server.stop().await;
}

#[tokio::test]
async fn a_report_made_without_signal_is_kept_and_sent_once_when_the_server_returns() {
    let Some(chrome) = Chrome::start().await else {
        return;
    };
    let w = World::new().await;
    let server = Server::start(&w.t).await;
    let addr = server.base.trim_start_matches("http://").to_string();
    let mut admin = crate::shelters::toba_with_shelters(&w).await;
    let room = crate::shelters::open_incident(&mut admin, "圏外試験", &[], "").await;
    let shelter = w.t.app.store.shelters(w.toba.id).await.expect("shelters")[0].clone();
    let b = &chrome.b;
    b.set_window_size(1024, 768).await.expect("tablet size");
    login(b, &server.base, "toba.info").await;
    let url = format!("{}/incidents/{room}/shelters/{}", server.base, shelter.id);
    b.goto(&url).await.expect("report page");
    tokio::time::sleep(Duration::from_secs(1)).await;
    b.goto(&url).await.expect("report page again");
    sees(b, "まだ報告はありません", 10).await;
    // No signal: the report waits on the tablet, through a reload too.
    server.stop().await;
    b.find(Locator::XPath("//label[normalize-space()='満員']"))
        .await
        .expect("status")
        .click()
        .await
        .expect("choose full");
    field(b, "避難者数")
        .await
        .send_keys("140")
        .await
        .expect("type");
    button(b, "送信").await.click().await.expect("send");
    sees(b, "送信待ち 1件", 10).await;
    b.refresh().await.expect("reload offline");
    sees(b, "送信待ち 1件", 10).await;
    // Back online a few seconds later (same database, same address): stored exactly once, with
    // the time 送信 was pressed, not the time it arrived.
    let pressed = w.t.app.now();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let World { t, .. } = w;
    let TestApp { dir, url: db, .. } = t;
    let t2 = TestApp::open(dir, db, Config::default()).await;
    let server2 = Server::start_at(&t2, &addr).await;
    let mut stored = Vec::new();
    for _ in 0..60 {
        stored = t2.app.store.reports(room, None, 10).await.expect("reports");
        if !stored.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(stored.len(), 1, "sent after the outage");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let stored = t2.app.store.reports(room, None, 10).await.expect("reports");
    assert_eq!(stored.len(), 1, "exactly once");
    assert_eq!(stored[0].evacuees, Some(140));
    assert_eq!(stored[0].status, sonae::domain::ShelterStatus::Full);
    assert!(
        (stored[0].observed_at - pressed).abs() < 30_000,
        "observed when 送信 was pressed, not when it arrived"
    );
    assert!(
        stored[0].received_at - stored[0].observed_at >= 2_500,
        "received after the outage, observed before it"
    );
    chrome.stop().await;
    server2.stop().await;
}

#[tokio::test]
async fn the_gallery_opens_a_photo_in_a_lightbox_and_closes_it() {
    let Some(chrome) = Chrome::start().await else {
        return;
    };
    let w = World::new().await;
    let server = Server::start(&w.t).await;
    let mut admin = w.t.login("toba.admin").await;
    let room = crate::shelters::open_incident(&mut admin, "写真試験", &[], "").await;
    let jpeg = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/photos/DSCN0010.jpg"),
    )
    .expect("photo");
    let r = admin
        .post_multipart(
            &format!("/incidents/{room}/photos"),
            &[("idem", "lightbox-0001"), ("caption", "橋の損傷")],
            Some(("d.jpg", &jpeg)),
        )
        .await;
    assert_eq!(r.status, axum::http::StatusCode::OK);
    let b = &chrome.b;
    b.set_window_size(1024, 768).await.expect("tablet size");
    login(b, &server.base, "toba.info").await;
    b.goto(&format!("{}/incidents/{room}/photos", server.base))
        .await
        .expect("gallery");
    b.find(Locator::Css("img[alt='橋の損傷']"))
        .await
        .expect("thumbnail by its caption")
        .click()
        .await
        .expect("open");
    let open = b
        .execute(
            "const d = document.getElementById('lightbox'); return [d.open, document.getElementById('lightbox-img').getAttribute('src')];",
            vec![],
        )
        .await
        .expect("state");
    assert_eq!(open[0], serde_json::json!(true), "the lightbox is open");
    assert!(
        open[1]
            .as_str()
            .is_some_and(|src| src.ends_with("/display")),
        "it shows the display image: {open:?}"
    );
    sees(b, "橋の損傷", 5).await;
    button(b, "閉じる").await.click().await.expect("close");
    let open = b
        .execute("return document.getElementById('lightbox').open;", vec![])
        .await
        .expect("state");
    assert_eq!(open, serde_json::json!(false));
    assert!(
        b.current_url()
            .await
            .expect("url")
            .path()
            .ends_with("/photos"),
        "still on the gallery"
    );
    chrome.stop().await;
    server.stop().await;
}

/// A noisy picture (so that it stays large as a JPEG), different for each `seed`.
fn big_jpeg(seed: u32, w: u16, h: u16) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).max(1);
    let mut rgb = Vec::with_capacity(usize::from(w) * usize::from(h) * 3);
    for _ in 0..usize::from(w) * usize::from(h) * 3 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        rgb.push((x & 0xff) as u8);
    }
    let exif = sonae::media::MadeExif {
        taken_local: "2026:11:20 09:00:00",
        offset: "+09:00",
        position: sonae::domain::LatLon::new(34.48, 136.84).expect("position"),
        camera: "Test tablet",
    };
    sonae::media::jpeg_with_exif(&rgb, w, h, &exif).expect("jpeg")
}

async fn photo_count(t: &TestApp, room: sonae::domain::RoomId) -> usize {
    t.app.store.photos(room, 100).await.expect("photos").len()
}

#[tokio::test]
async fn twenty_photos_queued_without_signal_survive_a_reload_and_arrive_once_through_cuts() {
    let Some(chrome) = Chrome::start().await else {
        return;
    };
    let w = World::new().await;
    let server = Server::start(&w.t).await;
    let addr = server.base.trim_start_matches("http://").to_string();
    let mut admin = w.t.login("toba.admin").await;
    let room = crate::shelters::open_incident(&mut admin, "写真圏外試験", &[], "").await;
    // Twenty different photos of about 5 MB each, as a tablet camera makes them.
    let dir = tempfile::tempdir().expect("photos dir");
    let mut paths = Vec::new();
    let mut sizes = 0;
    for i in 0..20u32 {
        let jpeg = big_jpeg(i + 1, 2800, 2100);
        sizes += jpeg.len();
        let p = dir.path().join(format!("IMG_{i:04}.jpg"));
        std::fs::write(&p, jpeg).expect("write photo");
        paths.push(p.display().to_string());
    }
    assert!(sizes / 20 > 4_000_000, "about 5 MB each: {}", sizes / 20);
    let b = &chrome.b;
    b.set_window_size(768, 1024).await.expect("tablet size");
    login(b, &server.base, "toba.admin").await;
    let url = format!("{}/incidents/{room}/photos", server.base);
    b.goto(&url).await.expect("gallery");
    // The offline shell (service worker) keeps the page once it controls it.
    tokio::time::sleep(Duration::from_secs(1)).await;
    b.goto(&url).await.expect("gallery again");
    sees(b, "写真を送る", 10).await;
    // No signal: the photos are chosen and wait on the tablet, through a reload too.
    server.stop().await;
    field(b, "写真を選ぶ（複数可）")
        .await
        .send_keys(&paths.join("\n"))
        .await
        .expect("choose photos");
    field(b, "説明")
        .await
        .send_keys("倒木で道路が通れない")
        .await
        .expect("caption");
    button(b, "写真を送る").await.click().await.expect("send");
    sees(b, "送信待ちの写真", 20).await;
    let waiting = "return document.querySelectorAll('#photo-queue-list progress').length;";
    for _ in 0..60 {
        if b.execute(waiting, vec![]).await.expect("count") == serde_json::json!(20) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(b.execute(waiting, vec![]).await.expect("count"), 20);
    b.refresh().await.expect("reload offline");
    sees(b, "IMG_0019.jpg", 20).await;
    assert_eq!(
        b.execute(waiting, vec![]).await.expect("count"),
        20,
        "every photo is still waiting after the reload"
    );
    // Each has its own labelled progress bar.
    b.find(Locator::Css(
        "progress[aria-label='送信の進み具合: IMG_0007.jpg']",
    ))
    .await
    .expect("a progress bar per photo");

    // The network returns; a few photos in, it is cut again, then comes back for good.
    let World { t, .. } = w;
    let TestApp {
        dir: data, url: db, ..
    } = t;
    let t2 = TestApp::open(data, db, Config::default()).await;
    let server2 = Server::start_at(&t2, &addr).await;
    for _ in 0..240 {
        if photo_count(&t2, room).await >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(
        photo_count(&t2, room).await >= 3,
        "sending after the first cut"
    );
    server2.stop().await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    // Stopping closed the database, as a real restart would: open it again.
    let TestApp {
        dir: data, url: db, ..
    } = t2;
    let t2 = TestApp::open(data, db, Config::default()).await;
    let server3 = Server::start_at(&t2, &addr).await;
    let mut n = 0;
    for _ in 0..480 {
        n = photo_count(&t2, room).await;
        if n >= 20 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(n, 20, "every photo arrived");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let stored = t2.app.store.photos(room, 100).await.expect("photos");
    assert_eq!(stored.len(), 20, "exactly once each");
    let mut hashes: Vec<&str> = stored.iter().map(|p| p.sha256.as_str()).collect();
    hashes.sort();
    hashes.dedup();
    assert_eq!(hashes.len(), 20);
    assert!(stored.iter().all(|p| p.caption == "倒木で道路が通れない"));
    assert!(
        stored.iter().all(|p| p.queued_at.is_some()),
        "the time each was queued is kept"
    );
    // The queue is empty and says what happened; no chunk is left behind.
    for _ in 0..40 {
        if b.execute(waiting, vec![]).await.expect("count") == serde_json::json!(0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(b.execute(waiting, vec![]).await.expect("count"), 0);
    sees(b, "写真を保存しました", 10).await;
    let left = t2
        .app
        .config
        .files
        .list_under(sonae::files::UPLOADS)
        .await
        .expect("list");
    assert!(left.is_empty(), "{left:?}");
    chrome.stop().await;
    server3.stop().await;
}

/// Opens the room named `name` from the room list.
async fn open_room(b: &Browser, base: &str, name: &str) {
    b.goto(&format!("{base}/")).await.expect("home");
    b.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::XPath(&format!(
            "//a[contains(normalize-space(.), '{name}')]"
        )))
        .await
        .expect("room link")
        .click()
        .await
        .expect("open room");
}

#[tokio::test]
async fn the_prefecture_asks_two_towns_to_confirm_and_watches_its_matrix_fill_live() {
    let Some(pref_chrome) = Chrome::start().await else {
        return;
    };
    let Some(tsu_chrome) = Chrome::start().await else {
        return;
    };
    let Some(toba_chrome) = Chrome::start().await else {
        return;
    };
    let w = World::new().await;
    let server = Server::start(&w.t).await;
    let mut api = w.t.login("mie.info").await;
    api.room("県 市町 要確認", "tsu.info toba.info toba.admin")
        .await;
    let (a, b, c) = (&pref_chrome.b, &tsu_chrome.b, &toba_chrome.b);
    login(a, &server.base, "mie.info").await;
    open_room(a, &server.base, "県 市町 要確認").await;
    // The prefecture asks every other organisation in the room, through the composer.
    a.find(Locator::XPath(
        "//summary[normalize-space()='要確認にする（確認を求める）']",
    ))
    .await
    .expect("要確認 option")
    .click()
    .await
    .expect("open options");
    a.find(Locator::XPath(
        "//label[contains(normalize-space(.), 'このルームの他の組織すべて')]/input",
    ))
    .await
    .expect("all organisations checkbox")
    .click()
    .await
    .expect("check");
    post_via_ui(
        a,
        "【要確認】明朝の情報伝達訓練の開始時刻を 9:30 に変更します",
    )
    .await;
    sees(a, "確認 0 / 2", 10).await;
    a.find(Locator::XPath("//a[normalize-space()='確認状況を見る']"))
        .await
        .expect("matrix link")
        .click()
        .await
        .expect("open matrix");
    sees(a, "0 / 2 確認済", 10).await;

    // Two towns confirm, each in their own browser.
    for (br, login_id) in [(b, "tsu.info"), (c, "toba.info")] {
        login(br, &server.base, login_id).await;
        open_room(br, &server.base, "県 市町 要確認").await;
        sees(br, "訓練の開始時刻", 10).await;
        button(br, "確認しました")
            .await
            .click()
            .await
            .expect("confirm");
        sees(br, "確認済み", 10).await;
    }
    // The sender's matrix filled in without a reload, naming who confirmed.
    sees(a, "2 / 2 確認済", 10).await;
    sees(a, "tsu.info さん", 10).await;
    sees(a, "toba.info さん", 10).await;
    pref_chrome.stop().await;
    tsu_chrome.stop().await;
    toba_chrome.stop().await;
    server.stop().await;
}

#[tokio::test]
async fn a_shift_is_handed_over_acknowledged_in_another_browser_and_timed_on_the_managers_timeline()
{
    let Some(out_chrome) = Chrome::start().await else {
        return;
    };
    let Some(in_chrome) = Chrome::start().await else {
        return;
    };
    let Some(mgr_chrome) = Chrome::start().await else {
        return;
    };
    let w = World::new().await;
    let server = Server::start(&w.t).await;
    let mut pref = w.t.login("mie.info").await;
    let incident = crate::shelters::open_incident(&mut pref, "台風第10号", &["toba"], "").await;
    let mut toba = w.t.login("toba.info").await;
    let r = toba
        .post(
            &format!("/incidents/{incident}/items"),
            &[
                ("title", "答志島へ給水車を手配"),
                ("idem", "browser-item-0001"),
            ],
        )
        .await;
    assert_eq!(r.status, axum::http::StatusCode::SEE_OTHER, "{}", r.body);
    let (a, b, m) = (&out_chrome.b, &in_chrome.b, &mgr_chrome.b);

    // The outgoing person drafts from the room and hands over.
    login(a, &server.base, "toba.info").await;
    a.goto(&format!("{}/rooms/{incident}", server.base))
        .await
        .expect("room");
    a.find(Locator::XPath("//a[normalize-space()='引継ぎを始める']"))
        .await
        .expect("start a handoff")
        .click()
        .await
        .expect("open draft");
    sees(a, "引き継ぐ対応項目 (1)", 10).await;
    field(a, "引き継ぐ人")
        .await
        .select_by_label("toba.admin さん")
        .await
        .expect("choose incoming");
    field(a, "勤務のまとめ")
        .await
        .send_keys("答志島の給水が最優先。")
        .await
        .expect("summary");
    button(a, "引き継ぐ")
        .await
        .click()
        .await
        .expect("hand over");
    sees(a, "引継ぎ承認待ち 0 分", 10).await;

    // Twelve minutes later the incoming person, in another browser, acknowledges.
    w.t.clock.advance(time::Duration::minutes(12));
    login(b, &server.base, "toba.admin").await;
    sees(b, "承認待ち 1 件", 10).await;
    b.find(Locator::Id("handoffs-link"))
        .await
        .expect("handoffs link")
        .click()
        .await
        .expect("open handoffs");
    b.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::XPath(
            "//section[@id='handoffs-mine']//a[contains(normalize-space(.), 'toba.info さん')]",
        ))
        .await
        .expect("waiting for me")
        .click()
        .await
        .expect("open handoff");
    button(b, "「答志島へ給水車を手配」を了解")
        .await
        .click()
        .await
        .expect("acknowledge item");
    sees(b, "了解済み", 10).await;
    // The outgoing person's page follows live.
    sees(a, "了解済み", 10).await;
    button(b, "引継ぎを承認して当番を引き受ける")
        .await
        .click()
        .await
        .expect("acknowledge handoff");
    b.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::XPath(
            "//ul[@class='duty-list']//strong[normalize-space()='toba.admin さん']",
        ))
        .await
        .expect("on duty now");

    // The manager's timeline shows from → to and the time to acknowledge.
    login(m, &server.base, "mie.info").await;
    m.goto(&format!("{}/incidents/{incident}/handoffs", server.base))
        .await
        .expect("timeline");
    m.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::XPath(
            "//table//th[contains(., 'toba.info さん →') and contains(., 'toba.admin さん')]",
        ))
        .await
        .expect("from → to on the timeline");
    sees(m, "12 分", 10).await;
    out_chrome.stop().await;
    in_chrome.stop().await;
    mgr_chrome.stop().await;
    server.stop().await;
}
