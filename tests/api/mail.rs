//! E-mail copies of inbox items through an SMTP relay (a tiny fake relay on 127.0.0.1).

use crate::support::*;
use axum::http::StatusCode;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// Accepts SMTP sessions and keeps each message's DATA.
pub async fn fake_relay() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("smtp://{}", listener.local_addr().expect("addr"));
    let got: Arc<Mutex<Vec<String>>> = Arc::default();
    let keep = got.clone();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            let keep = keep.clone();
            tokio::spawn(async move {
                let (r, mut w) = sock.into_split();
                let mut lines = BufReader::new(r).lines();
                let _ = w.write_all(b"220 fake relay\r\n").await;
                let mut data: Option<String> = None;
                while let Ok(Some(line)) = lines.next_line().await {
                    if let Some(d) = data.as_mut() {
                        if line == "." {
                            if let Ok(mut g) = keep.lock() {
                                g.push(data.take().unwrap_or_default());
                            }
                            let _ = w.write_all(b"250 queued\r\n").await;
                        } else {
                            d.push_str(&line);
                            d.push('\n');
                        }
                        continue;
                    }
                    let reply: &[u8] =
                        match line.get(..4).map(|s| s.to_ascii_uppercase()).as_deref() {
                            Some("EHLO") | Some("HELO") => b"250 fake\r\n",
                            Some("DATA") => {
                                data = Some(String::new());
                                b"354 go ahead\r\n"
                            }
                            Some("QUIT") => {
                                let _ = w.write_all(b"221 bye\r\n").await;
                                return;
                            }
                            _ => b"250 ok\r\n",
                        };
                    let _ = w.write_all(reply).await;
                }
            });
        }
    });
    (url, got)
}

#[tokio::test]
async fn mentions_are_mailed_once_to_members_with_an_address() {
    let w = World::new().await;
    let (url, got) = fake_relay().await;
    let mailer = sonae::mail::Mailer::new(&url, "Sonae <sonae@example.jp>").expect("mailer");
    // An org admin creates a member with an e-mail address.
    let mut admin = w.t.login("toba.admin").await;
    let r = admin
        .post_json(
            "/admin/users",
            &[
                ("org", "toba"),
                ("login", "toba.mail"),
                ("display_name", "鳥羽 メール"),
                ("email", "toba.mail@example.jp"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let uid = r.json()["user_id"].as_str().expect("id").to_string();
    // Activate through the link so they can be mentioned as a real member.
    let link = r.json()["activation_url"]
        .as_str()
        .expect("url")
        .split("127.0.0.1:8080")
        .nth(1)
        .expect("path")
        .to_string();
    let mut c = w.t.client();
    c.post(
        &link,
        &[
            ("password", "mail user password"),
            ("password2", "mail user password"),
        ],
    )
    .await;
    let mut a = w.t.login("tsu.info").await;
    let room = a.room("メール通知", "toba.mail, toba.info").await;
    a.say(&room, "@toba.mail 道路状況を教えてください").await;
    let sent = mailer.send_pending(&w.t.app).await;
    assert_eq!(
        sent, 2,
        "the invitation and the mention; toba.info has no address"
    );
    assert_eq!(
        mailer.send_pending(&w.t.app).await,
        0,
        "nothing is sent twice"
    );
    let mails = got.lock().expect("lock").clone();
    assert_eq!(mails.len(), 2);
    let decoded: Vec<String> = mails.iter().map(|m| decode_body(m)).collect();
    let mention = decoded
        .iter()
        .find(|b| b.contains("道路状況を教えてください"))
        .expect("the mention mail");
    assert!(
        mention.starts_with("メンション: tsu.info さん (メール通知)"),
        "{mention}"
    );
    assert!(mention.contains("/messages/"), "links to the message");
    assert!(decoded.iter().any(|b| b.starts_with("ルームへの招待")));
    assert!(mails.iter().all(|m| m.contains("To: toba.mail@example.jp")));
    let _ = uid;
    // toba.info adds an address in the settings; a bad one is refused clearly.
    let mut b = w.t.login("toba.info").await;
    assert_eq!(
        b.post("/settings/email", &[("email", "not an address")])
            .await
            .status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        b.post("/settings/email", &[("email", "toba.info@example.jp")])
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    assert!(
        b.get("/settings")
            .await
            .body
            .contains("value=\"toba.info@example.jp\"")
    );
    a.say(&room, "@toba.info 届きますか").await;
    assert_eq!(mailer.send_pending(&w.t.app).await, 1);
    // A relay that is down: the item is kept and sent later.
    let mailer_down =
        sonae::mail::Mailer::new("smtp://127.0.0.1:9", "sonae@example.jp").expect("mailer");
    a.say(&room, "@toba.mail 二通目").await;
    assert_eq!(mailer_down.send_pending(&w.t.app).await, 0);
    assert_eq!(mailer.send_pending(&w.t.app).await, 1);
}

/// The text of a base64 body.
pub fn decode_body(mail: &str) -> String {
    use base64::Engine;
    let body: String = mail
        .split("\n\n")
        .nth(1)
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap_or_default();
    String::from_utf8_lossy(&bytes).replace("\r\n", "\n")
}

#[tokio::test]
async fn activation_links_are_mailed_when_a_relay_is_set() {
    let (url, got) = fake_relay().await;
    let mut t = TestApp::new().await;
    t.app.mailer = Some(sonae::mail::Mailer::new(&url, "sonae@example.jp").expect("mailer"));
    t.router = sonae::web::router(t.app.clone());
    let w = World::with(t).await;
    let mut admin = w.t.login("toba.admin").await;
    let r = admin
        .post_json(
            "/admin/users",
            &[
                ("org", "toba"),
                ("login", "toba.new"),
                ("display_name", "鳥羽 新任"),
                ("email", "toba.new@example.jp"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let link = r.json()["activation_url"]
        .as_str()
        .expect("url")
        .to_string();
    // Without an address, nothing is mailed (the page still shows the link).
    admin
        .post_json(
            "/admin/users",
            &[
                ("org", "toba"),
                ("login", "toba.nomail"),
                ("display_name", "鳥羽 無"),
            ],
        )
        .await;
    for _ in 0..50 {
        if !got.lock().expect("lock").is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let mails = got.lock().expect("lock").clone();
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert!(mails[0].contains("To: toba.new@example.jp"));
    let body = decode_body(&mails[0]);
    assert!(body.contains(&link), "{body}");
    assert!(body.contains("鳥羽 新任"));
}
