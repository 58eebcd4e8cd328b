//! Search in Japanese and English, short words and width variants included.

use crate::support::*;

#[tokio::test]
async fn search_finds_short_japanese_words_and_width_variants_in_my_rooms_only() {
    let w = World::new().await;
    let mut a = w.t.login("tsu.info").await;
    let room = a.room("検索テスト", "").await;
    a.say(&room, "第1避難所を開設しました。").await;
    a.say(&room, "ＡＢＣ中学校の体育館").await;
    a.say(&room, "ｶﾀｶﾅの報告").await;
    a.say(&room, "Road closed near Toba station").await;
    let secret_room = w.t.login("toba.info").await.room("鳥羽だけ", "").await;
    let mut b = w.t.login("toba.info").await;
    b.say(&secret_room, "鳥羽の避難所は非公開").await;

    let hits = |body: &str| body.matches("class=\"snippet\"").count();
    let r = a
        .get(&format!("/search?q={}", urlencoding::encode("避難")))
        .await;
    assert_eq!(
        hits(&r.body),
        1,
        "two characters, my rooms only: {}",
        r.body
    );
    assert!(r.body.contains("第1<mark>避難</mark>所を開設しました。"));
    let r = a
        .get(&format!("/search?q={}", urlencoding::encode("開設")))
        .await;
    assert_eq!(hits(&r.body), 1);
    let r = a
        .get(&format!("/search?q={}", urlencoding::encode("避")))
        .await;
    assert_eq!(hits(&r.body), 1, "one character");
    let r = a.get("/search?q=abc").await;
    assert!(r.body.contains("<mark>ＡＢＣ</mark>中学校"), "{}", r.body);
    let r = a
        .get(&format!("/search?q={}", urlencoding::encode("カタカナ")))
        .await;
    assert!(r.body.contains("<mark>ｶﾀｶﾅ</mark>の報告"), "{}", r.body);
    let r = a.get("/search?q=ROAD%20closed").await;
    assert_eq!(hits(&r.body), 1);
    // Results name room and author and link to the message in context.
    let r = a.get("/search?q=toba").await;
    assert!(r.body.contains("検索テスト") && r.body.contains("tsu.info さん"));
    let link = r
        .body
        .split("href=\"/rooms/")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("link")
        .to_string();
    let to = a.get(&format!("/rooms/{link}")).await;
    assert_eq!(to.status, axum::http::StatusCode::SEE_OTHER);
    assert!(to.location().contains("#m-"));
    // Wildcards are literal.
    let r = a.get("/search?q=%25").await;
    assert_eq!(hits(&r.body), 0);
}
