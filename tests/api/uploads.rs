//! Photo uploads through `/api/v1`: in one piece (multipart) and resumable in chunks, with a
//! network cut in the middle, repeated and concurrent finishing, and bad chunks.

use crate::json_api::{call, token_for};
use crate::shelters::open_incident;
use crate::support::*;
use axum::body::Body;
use axum::http::{Request, StatusCode};

fn photo(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/photos")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"))
}

/// Sends a multipart photo with a bearer token.
async fn api_upload(
    c: &Client,
    room: &sonae::domain::RoomId,
    token: &str,
    key: &str,
    bytes: &[u8],
    caption: &str,
) -> Resp {
    let boundary = "----sonae-api-upload";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"caption\"\r\n\r\n{caption}\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"p.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let req = Request::builder()
        .method("POST")
        .uri(format!("/api/v1/incidents/{room}/photos"))
        .header("authorization", format!("Bearer {token}"))
        .header("idempotency-key", key)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(Body::from(body))
        .expect("request");
    c.clone().send(req).await
}

async fn put_chunk(
    c: &Client,
    room: &sonae::domain::RoomId,
    token: &str,
    key: &str,
    offset: usize,
    total: usize,
    bytes: &[u8],
) -> Resp {
    let req = Request::builder()
        .method("PUT")
        .uri(format!(
            "/api/v1/incidents/{room}/uploads/{key}?offset={offset}&total={total}"
        ))
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/octet-stream")
        .body(Body::from(bytes.to_vec()))
        .expect("request");
    c.clone().send(req).await
}

#[tokio::test]
async fn a_photo_in_one_piece_through_the_api_is_stored_once() {
    let w = World::new().await;
    let mut manager = w.t.login("toba.admin").await;
    let room = open_incident(&mut manager, "API 写真", &["tsu"], "").await;
    let token = token_for(&w.t, "toba.admin").await;
    let c = w.t.client();
    let jpeg = photo("DSCN0010.jpg");
    let r = api_upload(&c, &room, &token, "api-photo-0001", &jpeg, "県道の冠水").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let out = r.json();
    assert_eq!(out["already_uploaded"], false);
    assert_eq!(out["photo"]["caption"], "県道の冠水");
    assert_eq!(out["photo"]["location_source"], "exif");
    let id = out["photo"]["id"].as_str().expect("id").to_string();
    // The same key again is a retry: the same answer.
    let again = api_upload(&c, &room, &token, "api-photo-0001", &jpeg, "県道の冠水").await;
    assert_eq!(again.json()["photo"]["id"], id.as_str());
    // The same picture by someone else: nothing stored, and they learn who sent it first.
    let other = token_for(&w.t, "tsu.info").await;
    let dup = api_upload(&c, &room, &other, "api-photo-0002", &jpeg, "同じ写真").await;
    assert_eq!(dup.status, StatusCode::OK, "{}", dup.body);
    assert_eq!(dup.json()["already_uploaded"], true);
    assert_eq!(dup.json()["photo"]["id"], id.as_str());
    assert_eq!(dup.json()["photo"]["uploader"], "toba.admin さん");
    assert_eq!(
        w.t.app.store.photos(room, 10).await.expect("photos").len(),
        1
    );
    // Refused clearly: no key, not a picture, not a member, no file.
    let mut bare = w.t.client();
    let r = call(
        &mut bare,
        "POST",
        &format!("/api/v1/incidents/{room}/photos"),
        &token,
        None,
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    let r = api_upload(&c, &room, &token, "api-photo-0003", b"<svg></svg>", "x").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.json()["error"]["field"], "file");
    let outsider = token_for(&w.t, "mie.info").await;
    let r = api_upload(&c, &room, &outsider, "api-photo-0004", &jpeg, "x").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    assert_eq!(
        w.t.app.store.photos(room, 10).await.expect("photos").len(),
        1
    );
}

#[tokio::test]
async fn a_chunked_upload_resumes_after_a_cut_and_finishes_once() {
    let w = World::new().await;
    let mut manager = w.t.login("toba.admin").await;
    let room = open_incident(&mut manager, "分割送信", &[], "").await;
    let token = token_for(&w.t, "toba.admin").await;
    let c = w.t.client();
    let jpeg = photo("DSCN0010.jpg");
    let total = jpeg.len();
    let chunk = total / 6 + 1;
    let key = "resume-photo-0001";
    let state_path = format!("/api/v1/incidents/{room}/uploads/{key}");
    let state = |c: Client| {
        let token = token.clone();
        let path = state_path.clone();
        async move {
            let mut c = c;
            call(&mut c, "GET", &path, &token, None, None).await.json()
        }
    };
    let s = state(c.clone()).await;
    assert_eq!(s["received"], 0);
    assert_eq!(s["finished"], false);

    let r = put_chunk(&c, &room, &token, key, 0, total, &jpeg[..chunk]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["received"], chunk);
    // The answer to the next chunk is lost in a cut: the device sends it again.
    for _ in 0..2 {
        let r = put_chunk(
            &c,
            &room,
            &token,
            key,
            chunk,
            total,
            &jpeg[chunk..2 * chunk],
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(r.json()["received"], 2 * chunk);
    }
    // A chunk that would leave a gap is refused; the device asks and goes on from there.
    let r = put_chunk(
        &c,
        &room,
        &token,
        key,
        3 * chunk,
        total,
        &jpeg[3 * chunk..4 * chunk],
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    let s = state(c.clone()).await;
    assert_eq!(s["received"], 2 * chunk);
    assert_eq!(s["total"], total);
    // Finishing early is refused; nothing is stored.
    let mut bare = w.t.client();
    let finish_path = format!("/api/v1/incidents/{room}/uploads/{key}/finish");
    let details =
        serde_json::json!({"caption": "堤防の亀裂", "queued_at": 1_700_000_000_000i64}).to_string();
    let r = call(
        &mut bare,
        "POST",
        &finish_path,
        &token,
        None,
        Some(&details),
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert!(
        w.t.app
            .store
            .photos(room, 10)
            .await
            .expect("photos")
            .is_empty()
    );
    let mut at = 2 * chunk;
    while at < total {
        let end = (at + chunk).min(total);
        let r = put_chunk(&c, &room, &token, key, at, total, &jpeg[at..end]).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        at = end;
    }
    assert_eq!(state(c.clone()).await["received"], total);
    // Two finishes at once (a retry racing the first): one photo, the same answer.
    let (a, b) = tokio::join!(
        {
            let mut c = w.t.client();
            let (p, t, d) = (finish_path.clone(), token.clone(), details.clone());
            async move { call(&mut c, "POST", &p, &t, None, Some(&d)).await }
        },
        {
            let mut c = w.t.client();
            let (p, t, d) = (finish_path.clone(), token.clone(), details.clone());
            async move { call(&mut c, "POST", &p, &t, None, Some(&d)).await }
        }
    );
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(b.status, StatusCode::OK, "{}", b.body);
    assert_eq!(a.json()["photo"]["id"], b.json()["photo"]["id"]);
    let photos = w.t.app.store.photos(room, 10).await.expect("photos");
    assert_eq!(photos.len(), 1);
    assert_eq!(photos[0].caption, "堤防の亀裂");
    assert_eq!(photos[0].sha256, {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(&jpeg))
    });
    // The original is whole, and the chunks are gone.
    let mut member = w.t.login("toba.admin").await;
    let original = member
        .get(&format!("/photos/{}/original", photos[0].id))
        .await;
    assert_eq!(original.bytes, jpeg);
    let left =
        w.t.app
            .config
            .files
            .list_under(sonae::files::UPLOADS)
            .await
            .expect("list");
    assert!(left.is_empty(), "{left:?}");
    // Later calls see the finished upload.
    let s = state(c.clone()).await;
    assert_eq!(s["finished"], true);
    let r = call(
        &mut bare,
        "POST",
        &finish_path,
        &token,
        None,
        Some(&details),
    )
    .await;
    assert_eq!(r.json()["photo"]["id"], a.json()["photo"]["id"]);
}

#[tokio::test]
async fn bad_chunks_are_refused_and_abandoned_uploads_are_removed() {
    let w = World::new().await;
    let mut manager = w.t.login("toba.admin").await;
    let room = open_incident(&mut manager, "不正な分割", &[], "").await;
    let token = token_for(&w.t, "toba.admin").await;
    let c = w.t.client();
    // Larger than a photo may be; past the announced size; empty; a malformed key.
    let r = put_chunk(&c, &room, &token, "bad-chunk-0001", 0, 41 << 20, b"abc").await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.body);
    let r = put_chunk(&c, &room, &token, "bad-chunk-0001", 2, 4, b"abc").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    let r = put_chunk(&c, &room, &token, "bad-chunk-0001", 0, 4, b"").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let r = put_chunk(&c, &room, &token, "bad%20key!", 0, 4, b"abc").await;
    assert!(r.status.is_client_error(), "{}", r.status);
    // Someone outside the incident.
    let outsider = token_for(&w.t, "tsu.info").await;
    let r = put_chunk(&c, &room, &outsider, "bad-chunk-0002", 0, 4, b"abc").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    // A finished upload of a file that is not a picture: refused, chunks dropped.
    let r = put_chunk(&c, &room, &token, "not-a-photo-01", 0, 11, b"hello world").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let mut bare = w.t.client();
    let r = call(
        &mut bare,
        "POST",
        &format!("/api/v1/incidents/{room}/uploads/not-a-photo-01/finish"),
        &token,
        None,
        Some("{}"),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let files = &w.t.app.config.files;
    assert!(
        files
            .list_under(sonae::files::UPLOADS)
            .await
            .expect("list")
            .is_empty()
    );
    // An upload left half-way is removed after three days, not before.
    let r = put_chunk(&c, &room, &token, "abandoned-0001", 0, 10, b"abcde").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(w.t.app.remove_abandoned_uploads().await.expect("sweep"), 0);
    w.t.clock.advance(time::Duration::days(4));
    assert_eq!(w.t.app.remove_abandoned_uploads().await.expect("sweep"), 1);
    let s = call(
        &mut bare,
        "GET",
        &format!("/api/v1/incidents/{room}/uploads/abandoned-0001"),
        &token,
        None,
        None,
    )
    .await;
    assert_eq!(s.json()["received"], 0);
}
