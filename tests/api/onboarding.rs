//! Bulk onboarding from a CSV: preview with problems per row, then all or nothing, re-import updates.

use crate::support::*;
use axum::http::StatusCode;

fn multipart(csrf: &str, file: &[u8]) -> (String, Vec<u8>) {
    let boundary = "----sonae-test-boundary";
    let mut body = Vec::new();
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n")
            .as_bytes(),
    );
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"users.csv\"\r\nContent-Type: text/csv\r\n\r\n").as_bytes(),
    );
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn preview(c: &mut Client, file: &[u8]) -> Resp {
    let (ct, body) = multipart(&c.csrf.clone(), file);
    let req = axum::http::Request::builder()
        .method("POST")
        .uri("/admin/import/users/preview")
        .header("content-type", ct)
        .header(
            "cookie",
            c.cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; "),
        )
        .body(axum::body::Body::from(body))
        .expect("request");
    c.send(req).await
}

#[tokio::test]
async fn a_csv_is_previewed_then_imported_all_or_nothing_and_reimported_without_duplicates() {
    let w = World::new().await;
    let mut admin = w.t.login("tsu.admin").await;
    // Problems are shown per row and nothing is saved.
    let bad = "login,display_name,org,role,lang,email\n\
               tsu.a1,津市 一郎,tsu,member,ja,a1@example.jp\n\
               Bad Login,津市 二郎,tsu,member,,\n\
               tsu.a3,津市 三郎,999999,member,,\n\
               tsu.a1,重複,tsu,member,,\n\
               tsu.a5,津市 五郎,tsu,org_admin,,\n\
               tsu.a6,津市 六郎,toba,member,,\n\
               tsu.a7,津市 七郎,tsu,member,fr,\n";
    let r = preview(&mut admin, bad.as_bytes()).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    for msg in [
        "ログインIDは3〜64文字",
        "その組織は見つかりません",
        "同じログインIDがファイル内に2回あります",
        "この操作を行う権限がありません",
        "言語は日本語か英語",
    ] {
        assert!(r.body.contains(msg), "shows {msg}");
    }
    assert!(r.body.contains("問題 6 件"), "{}", r.body);
    assert!(
        !r.body.contains("この内容で登録する"),
        "no import button while rows have problems"
    );
    let applied = admin
        .post("/admin/import/users/apply", &[("csv", bad)])
        .await;
    assert_eq!(applied.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        w.t.app
            .store
            .users_by_logins(&["tsu.a1".into()])
            .await
            .expect("users")
            .is_empty(),
        "nothing half-saved"
    );

    // A good file with Japanese headers and a BOM.
    let good = "\u{feff}ログインID,表示名,組織,役割,言語,メール\r\ntsu.b1,津市 防災 一,242012,メンバー,日本語,b1@example.jp\r\ntsu.b2,津市 防災 二,tsu,,en,\r\n";
    let r = preview(&mut admin, good.as_bytes()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("追加 2 件"));
    let csv = r
        .body
        .split("name=\"csv\" hidden aria-hidden=\"true\">")
        .nth(1)
        .and_then(|s| s.split("</textarea>").next())
        .expect("carried csv");
    let csv = csv
        .replace("&#39;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    let done = admin
        .post("/admin/import/users/apply", &[("csv", &csv)])
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert_eq!(
        done.body.matches("/activate/").count(),
        2,
        "a link per new account"
    );
    let users =
        w.t.app
            .store
            .users_by_logins(&["tsu.b1".into(), "tsu.b2".into()])
            .await
            .expect("users");
    assert_eq!(users.len(), 2);
    assert!(
        users
            .iter()
            .any(|u| u.email.as_deref() == Some("b1@example.jp")
                && u.lang == Some(sonae::domain::Lang::Ja))
    );

    // Re-importing updates and never duplicates; Shift_JIS as Excel writes it.
    let again = "login,display_name,org\ntsu.b1,津市 防災 一（改）,tsu\n";
    let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode(again);
    let r = preview(&mut admin, &sjis).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(
        r.body.contains("更新 1 件") && r.body.contains("津市 防災 一（改）"),
        "{}",
        r.body
    );
    let done = admin
        .post_json("/admin/import/users/apply", &[("csv", again)])
        .await;
    assert_eq!(done.status, StatusCode::OK);
    assert_eq!(done.json()["created"].as_array().map(|a| a.len()), Some(0));
    let b1 =
        w.t.app
            .store
            .users_by_logins(&["tsu.b1".into()])
            .await
            .expect("users");
    assert_eq!(b1.len(), 1);
    assert_eq!(b1[0].display_name, "津市 防災 一（改）");

    // Members cannot import; a file without the needed columns is a clear error.
    let mut member = w.t.login("tsu.info").await;
    assert_eq!(
        preview(&mut member, good.as_bytes()).await.status,
        StatusCode::FORBIDDEN
    );
    let r = preview(&mut admin, b"name,email\nx,y\n").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("必要な列"));
    let r = admin
        .post_json(
            "/admin/import/users/apply",
            &[("csv", "login,display_name,org\n")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.json()["error"]["code"], "invalid");
}

#[tokio::test]
async fn organisations_are_imported_by_the_deployment_admin_and_updated_by_short_id() {
    let w = World::new().await;
    let mut admin = w.t.login("admin").await;
    let csv = "name,slug,kind,code\n伊勢市,ise,市区町村,242039\n鳥羽市消防本部,toba-fire,消防,\n鳥羽市（改称）,toba,市区町村,242110\n";
    let (ct, body) = multipart(&admin.csrf.clone(), csv.as_bytes());
    let req = axum::http::Request::builder()
        .method("POST")
        .uri("/admin/import/orgs/preview")
        .header("content-type", ct)
        .header(
            "cookie",
            admin
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; "),
        )
        .body(axum::body::Body::from(body))
        .expect("request");
    let r = admin.send(req).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(
        r.body.contains("追加 2 件") && r.body.contains("更新 1 件"),
        "{}",
        r.body
    );
    let done = admin
        .post_json("/admin/import/orgs/apply", &[("csv", csv)])
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert_eq!(done.json()["imported"], 3);
    let ise = w.t.app.store.org_by_ref("242039").await.expect("ise");
    assert_eq!(ise.slug, "ise");
    assert!(
        ise.inbox_room_id.is_some(),
        "a new organisation gets its room"
    );
    assert_eq!(
        w.t.app.store.org_by_ref("toba").await.expect("toba").name,
        "鳥羽市（改称）"
    );
    // Again: nothing duplicated.
    admin
        .post_json("/admin/import/orgs/apply", &[("csv", csv)])
        .await;
    assert_eq!(w.t.app.store.list_orgs().await.expect("orgs").len(), 5);
    // A code already used by another organisation, and an org admin trying: refused.
    let clash = "name,slug,kind,code\n別の市,other-city,市区町村,242012\n";
    assert_eq!(
        admin
            .post_json("/admin/import/orgs/apply", &[("csv", clash)])
            .await
            .status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let mut org_admin = w.t.login("tsu.admin").await;
    assert_eq!(
        org_admin
            .post_json("/admin/import/orgs/apply", &[("csv", csv)])
            .await
            .status,
        StatusCode::FORBIDDEN
    );
}
