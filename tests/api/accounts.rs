//! Setup, login, activation, sessions, language.

use crate::support::*;
use axum::http::StatusCode;
use sonae::config::Config;

#[tokio::test]
async fn first_run_setup_creates_the_deployment_admin_once() {
    let t = TestApp::new().await;
    let link = t
        .app
        .setup_link()
        .await
        .expect("link")
        .expect("no users yet");
    let token = link.split("token=").nth(1).expect("token").to_string();
    let mut c = t.client();
    assert_eq!(
        c.get("/setup?token=wrong").await.status,
        StatusCode::NOT_FOUND
    );
    let page = c.get(&format!("/setup?token={token}")).await;
    assert_eq!(page.status, StatusCode::OK);
    // A bad short id re-renders the form with a message and keeps what was typed.
    let bad = c
        .post(
            "/setup",
            &[
                ("token", &token),
                ("org_name", "三重県"),
                ("org_slug", "Mie Pref"),
                ("org_kind", "prefecture"),
                ("org_code", "240001"),
                ("login", "admin"),
                ("display_name", "管理者"),
                ("password", "long enough password"),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("短縮ID"), "{}", bad.body);
    assert!(bad.body.contains("value=\"三重県\""));
    let ok = c
        .post(
            "/setup",
            &[
                ("token", &token),
                ("org_name", "三重県"),
                ("org_slug", "mie-pref"),
                ("org_kind", "prefecture"),
                ("org_code", "240001"),
                ("login", "admin"),
                ("display_name", "管理者"),
                ("password", "long enough password"),
            ],
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
    // The link works once; no second admin can be made.
    assert_eq!(
        c.get(&format!("/setup?token={token}")).await.status,
        StatusCode::NOT_FOUND
    );
    let again = c
        .post(
            "/setup",
            &[
                ("token", &token),
                ("org_name", "X"),
                ("org_slug", "x-org"),
                ("org_kind", "other"),
                ("login", "evil"),
                ("display_name", "E"),
                ("password", "long enough password"),
            ],
        )
        .await;
    assert_eq!(again.status, StatusCode::FORBIDDEN);
    assert!(t.app.setup_link().await.expect("link").is_none());
    // The admin logs in; the prefecture has its 受信窓口 room.
    let mut admin = t.client();
    assert_eq!(
        admin.login("admin", "long enough password").await.status,
        StatusCode::SEE_OTHER
    );
    let home = admin.get("/").await;
    assert!(home.body.contains("受信窓口"), "{}", home.body);
}

#[tokio::test]
async fn login_failures_are_throttled_per_account() {
    let w = World::new().await;
    let mut c = w.t.client();
    for _ in 0..5 {
        let r = c.login("tsu.info", "wrong password!").await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.body.contains("ログインIDまたはパスワードが違います"));
    }
    // Even the right password is refused now.
    let r = c.login("tsu.info", PASSWORD).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    // Another account from the same place is not locked out.
    assert_eq!(
        c.login("toba.info", PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
    // After the window the account works again.
    w.t.clock.advance(time::Duration::minutes(16));
    let mut c2 = w.t.client();
    assert_eq!(
        c2.login("tsu.info", PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
    // Refused logins are in the audit log.
    let mut admin = w.t.login("admin").await;
    let audit = admin.get("/admin/audit?action=login").await;
    assert!(audit.body.contains("refused:bad_credentials"));
    assert!(audit.body.contains("refused:throttled"));
}

#[tokio::test]
async fn behind_a_trusted_proxy_failures_are_counted_per_client_address() {
    let config = Config {
        trust_proxy: true,
        ..Config::default()
    };
    let w = World::with(TestApp::with_config(config).await).await;
    // Thirty failures from one client, on accounts that do not exist.
    for i in 0..30 {
        let mut c = w.t.client();
        c.forwarded_for = Some("192.0.2.1, 10.0.0.7".into());
        let r = c.login(&format!("nobody{i}"), "wrong password!").await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let mut same = w.t.client();
    same.forwarded_for = Some("192.0.2.1, 10.0.0.7".into());
    assert_eq!(
        same.login("tsu.info", PASSWORD).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    // Another client behind the same proxy is not locked out.
    let mut other = w.t.client();
    other.forwarded_for = Some("10.0.0.8".into());
    assert_eq!(
        other.login("tsu.info", PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn login_form_from_elsewhere_is_refused() {
    let w = World::new().await;
    let mut c = w.t.client();
    let r = c
        .post(
            "/login",
            &[
                ("login", "tsu.info"),
                ("password", PASSWORD),
                ("pre", "forged"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(!c.cookies.contains_key("sonae_session"));
}

#[tokio::test]
async fn activation_link_sets_a_password_once_and_expires() {
    let w = World::new().await;
    let mut admin = w.t.login("tsu.admin").await;
    let r = admin
        .post_json(
            "/admin/users",
            &[
                ("org", "242012"),
                ("login", "tsu.new"),
                ("display_name", "津市 新人"),
                ("role", "member"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let url = r.json()["activation_url"]
        .as_str()
        .expect("url")
        .to_string();
    let path = url
        .split("127.0.0.1:8080")
        .nth(1)
        .expect("path")
        .to_string();
    let mut newbie = w.t.client();
    // Not usable before activation.
    assert_eq!(
        newbie.login("tsu.new", "whatever password").await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let page = newbie.get(&path).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("津市 新人"));
    let mismatch = newbie
        .post(
            &path,
            &[
                ("password", "new password 1"),
                ("password2", "new password 2"),
            ],
        )
        .await;
    assert_eq!(mismatch.status, StatusCode::UNPROCESSABLE_ENTITY);
    let short = newbie
        .post(&path, &[("password", "short"), ("password2", "short")])
        .await;
    assert_eq!(short.status, StatusCode::UNPROCESSABLE_ENTITY);
    let ok = newbie
        .post(
            &path,
            &[
                ("password", "new password 1"),
                ("password2", "new password 1"),
            ],
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
    assert_eq!(
        newbie.get(&path).await.status,
        StatusCode::NOT_FOUND,
        "a link works once"
    );
    assert_eq!(
        newbie.login("tsu.new", "new password 1").await.status,
        StatusCode::SEE_OTHER
    );
    // The new member is in their organisation's 受信窓口 room.
    assert!(newbie.get("/").await.body.contains("津市"));

    // A reset link expires after the configured days.
    let uid = r.json()["user_id"].as_str().expect("id").to_string();
    let reset = admin
        .post_json(&format!("/admin/users/{uid}/reset"), &[])
        .await;
    assert_eq!(reset.status, StatusCode::OK, "{}", reset.body);
    let rpath = reset.json()["reset_url"]
        .as_str()
        .expect("url")
        .split("127.0.0.1:8080")
        .nth(1)
        .expect("path")
        .to_string();
    w.t.clock.advance(time::Duration::days(8));
    assert_eq!(newbie.get(&rpath).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn deactivation_ends_sessions_and_keeps_history() {
    let w = World::new().await;
    let mut member = w.t.login("tsu.info").await;
    let inbox_room = w.tsu.inbox_room_id.expect("inbox room");
    member.say(&inbox_room, "津市から報告です").await;
    let mut admin = w.t.login("tsu.admin").await;
    let r = admin
        .post(
            &format!("/admin/users/{}/active", w.tsu_member.id),
            &[("active", "0")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    // The member's session is gone at once.
    assert_eq!(
        member.get_json("/api/v1/session").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(member.get("/").await.location(), "/login");
    // They cannot log in again; their message stays.
    assert_eq!(
        w.t.client().login("tsu.info", PASSWORD).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let page = admin.get(&format!("/rooms/{inbox_room}")).await;
    assert!(page.body.contains("津市から報告です"));
}

#[tokio::test]
async fn users_see_and_end_their_sessions() {
    let w = World::new().await;
    let mut tablet = w.t.login("toba.info").await;
    let mut office = w.t.login("toba.info").await;
    let page = office.get("/settings").await;
    assert_eq!(
        page.body.matches("/end\"").count(),
        2,
        "two sessions listed"
    );
    // The row that is not marked "this device" is the tablet's.
    let tablet_hash = page
        .body
        .split("<tr>")
        .filter(|row| {
            row.contains("/settings/sessions/") && !row.contains("class=\"tag\">この端末")
        })
        .filter_map(|row| {
            row.split("/settings/sessions/")
                .nth(1)
                .map(|s| s[..s.find('/').unwrap_or(0)].to_string())
        })
        .next()
        .unwrap_or_else(|| panic!("the other session: {}", page.body));
    let r = office
        .post(&format!("/settings/sessions/{tablet_hash}/end"), &[])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(
        tablet.get_json("/api/v1/session").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        office.get_json("/api/v1/session").await.status,
        StatusCode::OK
    );
    // Someone else's session id cannot be ended.
    let mut other = w.t.login("tsu.info").await;
    assert_eq!(
        other
            .post(&format!("/settings/sessions/{tablet_hash}/end"), &[])
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn sessions_have_idle_and_absolute_timeouts() {
    let config = Config {
        session_idle: time::Duration::hours(2),
        session_max: time::Duration::hours(5),
        ..Config::default()
    };
    let w = World::with(TestApp::with_config(config).await).await;
    let mut c = w.t.login("tsu.info").await;
    // Active use keeps the session past the idle limit…
    for _ in 0..3 {
        w.t.clock.advance(time::Duration::minutes(90));
        assert_eq!(c.get_json("/api/v1/session").await.status, StatusCode::OK);
    }
    // …but not past the absolute limit.
    w.t.clock.advance(time::Duration::minutes(91));
    assert_eq!(
        c.get_json("/api/v1/session").await.status,
        StatusCode::UNAUTHORIZED
    );
    // An idle session ends after the idle limit.
    let mut d = w.t.login("toba.info").await;
    w.t.clock.advance(time::Duration::minutes(121));
    assert_eq!(
        d.get_json("/api/v1/session").await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn language_follows_the_setting_then_the_browser() {
    let w = World::new().await;
    let mut c = w.t.login("tsu.info").await;
    assert!(c.get("/settings").await.body.contains("表示言語"));
    c.lang = Some("en-US,en;q=0.9");
    assert!(c.get("/settings").await.body.contains("Language"));
    // The user's own setting wins over the browser.
    c.lang = Some("en");
    let r = c.post("/settings/language", &[("lang", "ja")]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(c.get("/settings").await.body.contains("表示言語"));
    let bad = c.post("/settings/language", &[("lang", "fr")]).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    // Changing the password needs the current one.
    let wrong = c
        .post(
            "/settings/password",
            &[
                ("current", "nope nope nope"),
                ("new", "another password"),
                ("new2", "another password"),
            ],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    let ok = c
        .post(
            "/settings/password",
            &[
                ("current", PASSWORD),
                ("new", "another password"),
                ("new2", "another password"),
            ],
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
    assert_eq!(
        w.t.client()
            .login("tsu.info", "another password")
            .await
            .status,
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn health_check_reports_the_database() {
    let t = TestApp::new().await;
    let mut c = t.client();
    let r = c.get("/healthz").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["status"], "ok");
    t.app.store.close().await;
    let r = c.get("/healthz").await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
}
