//! Field photos over HTTP: multipart uploads, the pipeline's results, duplicates, bad files,
//! members-only files. (The rest of the photos issue is still to come.)

use crate::live::{Server, Stream};
use crate::shelters::open_incident;
use crate::support::*;
use axum::http::{StatusCode, header};

fn hex_sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

fn photo(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/photos")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"))
}

async fn upload(
    c: &mut Client,
    room: &sonae::domain::RoomId,
    name: &str,
    bytes: &[u8],
    key: &str,
) -> Resp {
    c.post_multipart(
        &format!("/incidents/{room}/photos"),
        &[("idem", key), ("caption", "国道の崩落")],
        Some((name, bytes)),
    )
    .await
}

#[tokio::test]
async fn photos_upload_once_and_only_members_see_them() {
    let w = World::new().await;
    let server = Server::start(&w.t).await;
    let mut admin = w.t.login("toba.admin").await;
    let room = open_incident(&mut admin, "土砂災害", &["tsu"], "").await;
    let watcher = w.t.login("tsu.info").await;
    let mut stream = Stream::open(&server.base, &watcher, None).await;

    let r = upload(
        &mut admin,
        &room,
        "DSCN0010.jpg",
        &photo("DSCN0010.jpg"),
        "photo-key-0001",
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("写真を保存しました"), "{}", r.body);
    let photos = w.t.app.store.photos(room, 10).await.expect("photos");
    assert_eq!(photos.len(), 1);
    let p = &photos[0];
    assert_eq!(p.location_source, "exif");
    let pos = p.position.expect("GPS");
    assert!((pos.lat - 43.467448).abs() < 1e-5 && (pos.lon - 11.885127).abs() < 1e-5);
    assert_eq!(p.taken_local.as_deref(), Some("2008-10-22T16:28:39"));
    assert_eq!(p.caption, "国道の崩落");
    assert_eq!((p.width, p.height), (640, 480));

    // It reaches a live client as a timeline entry with its thumbnail.
    let ev = loop {
        let ev = stream.next().await;
        if ev.event == "entry" && ev.data["kind"] == "photo" {
            break ev;
        }
    };
    assert!(
        ev.data["html"]
            .as_str()
            .unwrap_or("")
            .contains(&format!("/photos/{}/thumb", p.id))
    );

    // The same form sent again stores nothing; the same bytes under another key say who sent them.
    let again = upload(
        &mut admin,
        &room,
        "DSCN0010.jpg",
        &photo("DSCN0010.jpg"),
        "photo-key-0001",
    )
    .await;
    assert_eq!(again.status, StatusCode::OK);
    let mut other = w.t.login("toba.info").await;
    let dup = upload(
        &mut other,
        &room,
        "copy.jpg",
        &photo("DSCN0010.jpg"),
        "photo-key-0002",
    )
    .await;
    assert!(
        dup.body.contains("この写真は既に送られています"),
        "{}",
        dup.body
    );
    assert_eq!(
        w.t.app.store.photos(room, 10).await.expect("photos").len(),
        1
    );

    // Files: members get them with the right type, nosniff and private caching.
    let mut member = w.t.login("tsu.info").await;
    for (file, mime) in [
        ("thumb", "image/jpeg"),
        ("display", "image/jpeg"),
        ("original", "image/jpeg"),
    ] {
        let r = member.get(&format!("/photos/{}/{file}", p.id)).await;
        assert_eq!(r.status, StatusCode::OK, "{file}");
        assert_eq!(r.headers[header::CONTENT_TYPE], mime);
        assert_eq!(r.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert!(
            r.headers[header::CACHE_CONTROL]
                .to_str()
                .unwrap_or("")
                .starts_with("private")
        );
    }
    let original = admin.get(&format!("/photos/{}/original", p.id)).await;
    assert_eq!(
        original.headers[header::CONTENT_LENGTH]
            .to_str()
            .unwrap_or(""),
        photo("DSCN0010.jpg").len().to_string(),
        "the original, whole"
    );
    assert_eq!(p.sha256, hex_sha256(&photo("DSCN0010.jpg")));
    let stored = std::fs::read(
        w.t.dir
            .path()
            .join("files/photos")
            .join(&p.sha256[..2])
            .join(format!("{}.orig", p.sha256)),
    )
    .expect("stored original");
    assert_eq!(stored, photo("DSCN0010.jpg"), "byte for byte");
    let mut outsider = w.t.login("mie.info").await;
    assert_eq!(
        outsider
            .get(&format!("/photos/{}/thumb", p.id))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        outsider
            .get(&format!("/incidents/{room}/photos"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let page = member.get(&format!("/photos/{}", p.id)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("2008-10-22T16:28:39"), "capture time");
    assert!(page.body.contains("43.467448, 11.885127"), "coordinates");
    assert!(
        page.body
            .contains("https://maps.gsi.go.jp/#17/43.467448/11.885127/"),
        "map link from the setting"
    );
    assert!(page.body.contains(&p.sha256));
    assert!(page.body.contains("写真に記録された位置"));
    assert_eq!(
        outsider.get(&format!("/photos/{}", p.id)).await.status,
        StatusCode::NOT_FOUND
    );
    let gallery = member.get(&format!("/incidents/{room}/photos")).await;
    assert!(gallery.body.contains(&format!("/photos/{}/thumb", p.id)));
    assert!(gallery.body.contains("写真 1枚"));
    let timeline = member.get(&format!("/rooms/{room}")).await;
    assert!(timeline.body.contains(&format!("/photos/{}/thumb", p.id)));
    stream.close();
    server.stop().await;
}

#[tokio::test]
async fn bad_files_are_refused_with_a_reason_and_nothing_is_stored() {
    let w = World::new().await;
    let mut admin = w.t.login("toba.admin").await;
    let room = open_incident(&mut admin, "雪害", &[], "").await;
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "truncated.png",
            photo("truncated_image.png"),
            "壊れているか",
        ),
        (
            "bomb.gif",
            photo("decompression_bomb.gif"),
            "JPEG・PNG・WebP の写真ではありません",
        ),
        ("photo.heif", photo("samplefilehub.heif"), "HEIC形式"),
        (
            "text.jpg",
            b"just some text, renamed".to_vec(),
            "JPEG・PNG・WebP の写真ではありません",
        ),
        (
            "x.svg",
            b"<svg xmlns=\"http://www.w3.org/2000/svg\"></svg>".to_vec(),
            "JPEG・PNG・WebP",
        ),
        (
            "x.html",
            b"<!doctype html><p>hi".to_vec(),
            "JPEG・PNG・WebP",
        ),
        ("empty.jpg", Vec::new(), "ファイルが空です"),
    ];
    for (i, (name, bytes, message)) in cases.into_iter().enumerate() {
        let r = upload(
            &mut admin,
            &room,
            name,
            &bytes,
            &format!("bad-photo-key-{i:04}"),
        )
        .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{name}");
        assert!(
            r.body.contains(message),
            "{name}: {}",
            r.body.split("class=\"error\"").nth(1).unwrap_or("")
        );
    }
    // A 200 MB body is refused before it is read.
    let huge = vec![0xFFu8; 200 * 1024 * 1024];
    let r = upload(&mut admin, &room, "huge.jpg", &huge, "bad-photo-key-huge").await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        w.t.app
            .store
            .photos(room, 10)
            .await
            .expect("photos")
            .is_empty()
    );
}

#[tokio::test]
async fn a_photo_without_gps_takes_the_device_position_when_given() {
    let w = World::new().await;
    let mut admin = w.t.login("toba.admin").await;
    let room = open_incident(&mut admin, "高潮", &[], "").await;
    let path = format!("/incidents/{room}/photos");
    // Canon's GPS block has no coordinates: the device's position (the user allowed it) is used.
    let r = admin
        .post_multipart(
            &path,
            &[
                ("idem", "device-pos-0001"),
                ("lat", "34.4813"),
                ("lon", "136.8434"),
            ],
            Some(("canon.jpg", &photo("Canon_40D.jpg"))),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // Without either: no location, said plainly.
    let r = admin
        .post_multipart(
            &path,
            &[("idem", "device-pos-0002")],
            Some(("p.jpg", &photo("app13-multiple.jpg"))),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let photos = w.t.app.store.photos(room, 10).await.expect("photos");
    let canon = photos
        .iter()
        .find(|p| p.camera.as_deref() == Some("Canon EOS 40D"))
        .expect("canon");
    assert_eq!(canon.location_source, "device");
    assert!((canon.position.expect("pos").lat - 34.4813).abs() < 1e-6);
    let none = photos.iter().find(|p| p.id != canon.id).expect("other");
    assert_eq!(
        (none.location_source.as_str(), none.position),
        ("none", None)
    );
    let page = admin.get(&format!("/photos/{}", none.id)).await;
    assert!(page.body.contains("位置情報なし"));
    // A position out of range is refused.
    let r = admin
        .post_multipart(
            &path,
            &[("idem", "device-pos-0003"), ("lat", "134"), ("lon", "36")],
            Some(("t.png", &photo("transparent.png"))),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn the_gallery_filters_by_organisation_shelter_and_day() {
    let w = World::new().await;
    let mut admin = w.t.login("toba.admin").await;
    let base = format!("/orgs/{}/shelters", w.toba.id);
    let r = admin
        .post(&base, &[("name", "鳥羽小学校"), ("address", "鳥羽市")])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let shelter = w.t.app.store.shelters(w.toba.id).await.expect("shelters")[0]
        .id
        .to_string();
    let room = open_incident(&mut admin, "大雪", &["tsu"], "").await;
    let path = format!("/incidents/{room}/photos");
    let r = admin
        .post_multipart(
            &path,
            &[("idem", "gallery-0001"), ("shelter", &shelter)],
            Some(("c.jpg", &photo("Canon_40D.jpg"))),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let mut tsu = w.t.login("tsu.info").await;
    let r = tsu
        .post_multipart(
            &path,
            &[("idem", "gallery-0002")],
            Some(("d.jpg", &photo("DSCN0010.jpg"))),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let count = |body: &str| {
        body.split("写真 ")
            .nth(1)
            .and_then(|s| s.split('枚').next())
            .unwrap_or("")
            .to_string()
    };
    assert_eq!(count(&admin.get(&path).await.body), "2");
    let by_org = admin.get(&format!("{path}?org={}", w.tsu.id)).await;
    assert_eq!(count(&by_org.body), "1");
    let all = w.t.app.store.photos(room, 10).await.expect("photos");
    let from_tsu = all
        .iter()
        .find(|p| p.shelter_id.is_none())
        .expect("tsu's photo");
    let from_toba = all
        .iter()
        .find(|p| p.shelter_id.is_some())
        .expect("toba's photo");
    assert!(
        by_org
            .body
            .contains(&format!("/photos/{}/thumb", from_tsu.id))
    );
    assert!(
        !by_org
            .body
            .contains(&format!("/photos/{}/thumb", from_toba.id))
    );
    let by_shelter = admin.get(&format!("{path}?shelter={shelter}")).await;
    assert_eq!(count(&by_shelter.body), "1");
    let by_day = admin.get(&format!("{path}?day=2008-10-22")).await;
    assert_eq!(count(&by_day.body), "1");
    assert!(by_day.body.contains("2008-10-22T16:28:39"));
    let none = admin.get(&format!("{path}?day=2001-01-01")).await;
    assert_eq!(count(&none.body), "0");
    let canon =
        w.t.app
            .store
            .photos(room, 10)
            .await
            .expect("photos")
            .into_iter()
            .find(|p| p.shelter_id.is_some())
            .expect("canon");
    assert_eq!(canon.shelter_name.as_deref(), Some("鳥羽小学校"));
}

#[tokio::test]
async fn a_photo_is_withdrawn_with_a_reason_and_purged_by_the_deployment_admin() {
    let w = World::new().await;
    let mut uploader = w.t.login("toba.info").await;
    let mut manager = w.t.login("toba.admin").await;
    let room = open_incident(&mut manager, "地震", &["tsu"], "").await;
    let r = upload(
        &mut uploader,
        &room,
        "d.jpg",
        &photo("DSCN0010.jpg"),
        "withdraw-0001",
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let p =
        w.t.app
            .store
            .photos(room, 10)
            .await
            .expect("photos")
            .remove(0);
    let path = format!("/photos/{}/withdraw", p.id);
    // Neither uploader nor manager: refused. No reason: refused.
    let mut other = w.t.login("tsu.info").await;
    assert_eq!(
        other.post(&path, &[("reason", "x")]).await.status,
        StatusCode::FORBIDDEN
    );
    let r = uploader.post(&path, &[("reason", " ")]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = uploader
        .post(&path, &[("reason", "避難者の顔が写っている")])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(
        manager.post(&path, &[("reason", "again")]).await.status,
        StatusCode::NOT_FOUND,
        "gone for members"
    );
    // Gone for members: gallery, timeline, files, page.
    let gallery = other.get(&format!("/incidents/{room}/photos")).await;
    assert!(!gallery.body.contains(&p.id.to_string()));
    assert!(
        !other
            .get(&format!("/rooms/{room}"))
            .await
            .body
            .contains(&p.id.to_string())
    );
    for f in ["", "/thumb", "/original"] {
        assert_eq!(
            other.get(&format!("/photos/{}{f}", p.id)).await.status,
            StatusCode::NOT_FOUND
        );
    }
    // The reason is in the audit log; the deployment admin still has the original, then purges it.
    let audit =
        w.t.app
            .store
            .audit_list(sonae::store::AuditFilter {
                action: Some("photo.withdraw".into()),
                limit: 10,
                ..Default::default()
            })
            .await
            .expect("audit");
    assert!(
        audit
            .iter()
            .any(|a| a.detail.contains("避難者の顔が写っている") && a.result == "ok")
    );
    let mut admin = w.t.login("admin").await;
    let page = admin.get(&format!("/photos/{}", p.id)).await;
    assert!(page.body.contains("取り下げ済み") && page.body.contains("避難者の顔が写っている"));
    assert_eq!(
        admin
            .get(&format!("/photos/{}/original", p.id))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        manager
            .post(&format!("/photos/{}/purge", p.id), &[])
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let r = admin.post(&format!("/photos/{}/purge", p.id), &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let orig =
        w.t.dir
            .path()
            .join("files/photos")
            .join(&p.sha256[..2])
            .join(format!("{}.orig", p.sha256));
    assert!(!orig.exists(), "the files are gone");
    assert_eq!(
        admin
            .get(&format!("/photos/{}/original", p.id))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn photos_over_the_json_api() {
    use crate::json_api::{call, token_for};
    let w = World::new().await;
    let mut admin = w.t.login("toba.admin").await;
    let room = open_incident(&mut admin, "API写真", &[], "").await;
    let r = upload(
        &mut admin,
        &room,
        "d.jpg",
        &photo("DSCN0010.jpg"),
        "api-photo-0001",
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let token = token_for(&w.t, "toba.info").await;
    let mut c = w.t.client();
    let list = call(
        &mut c,
        "GET",
        &format!("/api/v1/incidents/{room}/photos"),
        &token,
        None,
        None,
    )
    .await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    let photos = list.json();
    assert_eq!(photos.as_array().map(|a| a.len()), Some(1));
    let id = photos[0]["id"].as_str().expect("id").to_string();
    assert_eq!(photos[0]["location_source"], "exif");
    assert_eq!(photos[0]["taken_local"], "2008-10-22T16:28:39");
    assert_eq!(photos[0]["thumb_url"], format!("/photos/{id}/thumb"));
    let one = call(
        &mut c,
        "GET",
        &format!("/api/v1/photos/{id}"),
        &token,
        None,
        None,
    )
    .await;
    assert_eq!(one.json()["caption"], "国道の崩落");
    // toba.info neither uploaded it nor manages the incident.
    let body = serde_json::json!({"reason": "間違い"}).to_string();
    let r = call(
        &mut c,
        "POST",
        &format!("/api/v1/photos/{id}/withdraw"),
        &token,
        Some("api-withdraw-0001"),
        Some(&body),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let manager = token_for(&w.t, "toba.admin").await;
    let r = call(
        &mut c,
        "POST",
        &format!("/api/v1/photos/{id}/withdraw"),
        &manager,
        Some("api-withdraw-0002"),
        Some(&body),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let list = call(
        &mut c,
        "GET",
        &format!("/api/v1/incidents/{room}/photos"),
        &token,
        None,
        None,
    )
    .await;
    assert_eq!(list.json().as_array().map(|a| a.len()), Some(0));
}
