//! The live stream with a real HTTP client against a real server on a random port.

use crate::support::*;
use futures_util::StreamExt;
use sonae::config::Config;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// A server on 127.0.0.1:0 serving a test app.
pub struct Server {
    pub base: String,
    stop: Option<oneshot::Sender<()>>,
    handle: tokio::task::JoinHandle<()>,
}

impl Server {
    pub async fn start(t: &TestApp) -> Self {
        Self::start_at(t, "127.0.0.1:0").await
    }

    /// Starts on a given address (a restart on the same port).
    pub async fn start_at(t: &TestApp, addr: &str) -> Self {
        let mut tries = 0;
        let listener = loop {
            match tokio::net::TcpListener::bind(addr).await {
                Ok(l) => break l,
                Err(_) if tries < 50 => {
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("bind {addr}: {e}"),
            }
        };
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let (tx, rx) = oneshot::channel::<()>();
        let app = t.app.clone();
        let handle = tokio::spawn(async move {
            let _ = sonae::server::serve_on(app, listener, async move {
                let _ = rx.await;
            })
            .await;
        });
        Server {
            base,
            stop: Some(tx),
            handle,
        }
    }

    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        let _ = tokio::time::timeout(Duration::from_secs(10), self.handle).await;
    }
}

/// One parsed SSE event.
#[derive(Debug, Clone)]
pub struct Ev {
    pub event: String,
    pub id: Option<i64>,
    pub data: serde_json::Value,
}

/// A live-stream connection; events arrive on a channel until it closes.
pub struct Stream {
    pub rx: mpsc::UnboundedReceiver<Ev>,
    task: tokio::task::JoinHandle<()>,
}

impl Stream {
    pub async fn open(base: &str, client: &Client, last_event_id: Option<i64>) -> Self {
        let cookie = client
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let mut req = reqwest::Client::new()
            .get(format!("{base}/events"))
            .header("cookie", cookie)
            .header("accept", "text/event-stream");
        if let Some(id) = last_event_id {
            req = req.header("last-event-id", id.to_string());
        }
        let res = req.send().await.expect("connect");
        assert_eq!(res.status(), 200);
        let (tx, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            let mut bytes = res.bytes_stream();
            let mut buf = String::new();
            while let Some(Ok(chunk)) = bytes.next().await {
                buf.push_str(&String::from_utf8_lossy(&chunk));
                while let Some(end) = buf.find("\n\n") {
                    let block: String = buf.drain(..end + 2).collect();
                    let mut ev = Ev {
                        event: "message".into(),
                        id: None,
                        data: serde_json::Value::Null,
                    };
                    let mut data = String::new();
                    let mut comment_only = true;
                    for line in block.lines() {
                        if let Some(v) = line.strip_prefix("event:") {
                            ev.event = v.trim().to_string();
                            comment_only = false;
                        } else if let Some(v) = line.strip_prefix("id:") {
                            ev.id = v.trim().parse().ok();
                        } else if let Some(v) = line.strip_prefix("data:") {
                            data.push_str(v.trim_start());
                            comment_only = false;
                        } else if line.starts_with(':') {
                            ev.event = "comment".into();
                        }
                    }
                    if comment_only {
                        ev.event = "comment".into();
                    }
                    ev.data = serde_json::from_str(&data).unwrap_or(serde_json::Value::Null);
                    if tx.send(ev).is_err() {
                        return;
                    }
                }
            }
            let _ = tx.send(Ev {
                event: "closed".into(),
                id: None,
                data: serde_json::Value::Null,
            });
        });
        Stream { rx, task }
    }

    /// The next event that is not a keep-alive comment or greeting.
    pub async fn next(&mut self) -> Ev {
        loop {
            let ev = tokio::time::timeout(Duration::from_secs(10), self.rx.recv())
                .await
                .expect("an event within 10 s")
                .expect("stream open");
            if ev.event != "comment" && ev.event != "hello" {
                return ev;
            }
        }
    }

    /// Entries for messages, collected until `n` have arrived.
    pub async fn messages(&mut self, n: usize) -> Vec<Ev> {
        let mut out = Vec::new();
        while out.len() < n {
            let ev = self.next().await;
            if ev.event == "entry" && ev.data["kind"] == "message_new" {
                out.push(ev);
            }
        }
        out
    }

    /// Whether anything but keep-alives arrives within `ms`.
    pub async fn quiet_for(&mut self, ms: u64) -> bool {
        let deadline = tokio::time::Instant::now() + Duration::from_millis(ms);
        loop {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Err(_) => return true,
                Ok(Some(ev)) if ev.event == "comment" || ev.event == "hello" => continue,
                Ok(_) => return false,
            }
        }
    }

    pub fn close(self) {
        self.task.abort();
    }
}

fn body_of(ev: &Ev) -> String {
    ev.data["html"].as_str().unwrap_or("").to_string()
}

#[tokio::test]
async fn reconnecting_with_last_event_id_replays_exactly_what_was_missed() {
    let w = World::new().await;
    let server = Server::start(&w.t).await;
    let mut a = w.t.login("tsu.info").await;
    let b = w.t.login("toba.info").await;
    let room = a.room("再接続", "toba.info").await;
    let mut s = Stream::open(&server.base, &b, None).await;
    a.say(&room, "live-1").await;
    let got = s.messages(1).await;
    assert!(body_of(&got[0]).contains("live-1"));
    let last = got[0].id.expect("id");
    s.close();
    for i in 2..=6 {
        a.say(&room, &format!("missed-{i}")).await;
    }
    let mut s = Stream::open(&server.base, &b, Some(last)).await;
    let got = s.messages(5).await;
    let texts: Vec<String> = got.iter().map(body_of).collect();
    for (i, t) in texts.iter().enumerate() {
        assert!(
            t.contains(&format!("missed-{}", i + 2)),
            "in order: {texts:?}"
        );
    }
    let ids: Vec<i64> = got.iter().filter_map(|e| e.id).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]));
    assert!(s.quiet_for(300).await, "no duplicates after the replay");
    a.say(&room, "live-7").await;
    assert!(body_of(&s.messages(1).await[0]).contains("live-7"));
    server.stop().await;
}

#[tokio::test]
async fn removal_stops_events_and_joining_starts_them_without_reconnecting() {
    let w = World::new().await;
    let server = Server::start(&w.t).await;
    let mut a = w.t.login("tsu.info").await;
    let b = w.t.login("toba.info").await;
    let room = a.room("出入り", "").await;
    let mut s = Stream::open(&server.base, &b, None).await;
    a.say(&room, "before-join").await;
    a.post(
        &format!("/rooms/{room}/members"),
        &[("logins", "toba.info")],
    )
    .await;
    // The join itself arrives, then the room's messages.
    loop {
        let ev = s.next().await;
        if ev.data["kind"] == "member_added" && ev.data["user_id"] == w.toba_member.id.to_string() {
            break;
        }
        assert_ne!(body_of(&ev), "before-join", "nothing from before the join");
    }
    a.say(&room, "after-join").await;
    assert!(body_of(&s.messages(1).await[0]).contains("after-join"));
    a.post(
        &format!("/rooms/{room}/members/{}/remove", w.toba_member.id),
        &[],
    )
    .await;
    loop {
        let ev = s.next().await;
        if ev.data["kind"] == "member_removed" {
            break;
        }
    }
    a.say(&room, "after-removal").await;
    assert!(
        s.quiet_for(500).await,
        "nothing more from a room one was removed from"
    );
    // Nor on replay.
    let mut replay = Stream::open(&server.base, &b, Some(0)).await;
    let mut replayed = Vec::new();
    while let Ok(Some(ev)) =
        tokio::time::timeout(Duration::from_millis(500), replay.rx.recv()).await
    {
        replayed.push(body_of(&ev));
    }
    assert!(
        !replayed.iter().any(|b| b.contains("after-removal")),
        "{replayed:?}"
    );
    server.stop().await;
}

#[tokio::test]
async fn many_posters_and_reconnecting_clients_see_every_entry_once_in_order() {
    let w = World::new().await;
    let server = Server::start(&w.t).await;
    let mut owner = w.t.login("tsu.info").await;
    let room = owner
        .room("負荷", "toba.info, toba.admin, tsu.admin, mie.info")
        .await;
    let posters: Vec<Client> = vec![
        owner.clone(),
        w.t.login("toba.admin").await,
        w.t.login("tsu.admin").await,
        w.t.login("mie.info").await,
    ];
    let readers = 4;
    let per_poster = 40;
    let total = posters.len() * per_poster;
    let start = w.t.app.store.head().await.expect("head");
    // Readers reconnect at random moments, resuming with Last-Event-ID.
    let mut reader_tasks = Vec::new();
    for r in 0..readers {
        let c = w.t.login("toba.info").await;
        let base = server.base.clone();
        reader_tasks.push(tokio::spawn(async move {
            let mut seen: Vec<(i64, String)> = Vec::new();
            let mut last = start;
            let mut s = Stream::open(&base, &c, Some(last)).await;
            let mut n = 0;
            while seen.len() < total {
                let ev = s.next().await;
                if ev.event == "entry" && ev.data["kind"] == "message_new" {
                    last = ev.id.expect("id");
                    seen.push((
                        last,
                        ev.data["message_id"].as_str().unwrap_or("").to_string(),
                    ));
                    n += 1;
                    if n % (7 + r) == 0 {
                        s.close();
                        s = Stream::open(&base, &c, Some(last)).await;
                    }
                }
            }
            seen
        }));
    }
    let mut poster_tasks = Vec::new();
    for (p, mut c) in posters.into_iter().enumerate() {
        poster_tasks.push(tokio::spawn(async move {
            for i in 0..per_poster {
                c.say(&room, &format!("p{p}-{i}")).await;
            }
        }));
    }
    for t in poster_tasks {
        t.await.expect("poster");
    }
    let stored: Vec<String> =
        w.t.app
            .store
            .messages_before(room, None, 10_000)
            .await
            .expect("messages")
            .iter()
            .map(|m| m.id.to_string())
            .collect();
    assert_eq!(stored.len(), total);
    for t in reader_tasks {
        let seen = tokio::time::timeout(Duration::from_secs(60), t)
            .await
            .expect("reader finished")
            .expect("reader");
        let ids: Vec<String> = seen.iter().map(|(_, m)| m.clone()).collect();
        assert_eq!(ids, stored, "every entry once, in order");
        assert!(seen.windows(2).all(|w| w[0].0 < w[1].0));
    }
    server.stop().await;
}

#[tokio::test]
async fn a_server_restart_in_between_loses_nothing() {
    let w = World::new().await;
    let mut a = w.t.login("tsu.info").await;
    let b = w.t.login("toba.info").await;
    let room = a.room("再起動", "toba.info").await;
    let server = Server::start(&w.t).await;
    let mut s = Stream::open(&server.base, &b, None).await;
    a.say(&room, "before-restart").await;
    let last = s.messages(1).await[0].id.expect("id");
    // Shutting down closes the stream.
    server.stop().await;
    loop {
        let ev = tokio::time::timeout(Duration::from_secs(10), s.rx.recv())
            .await
            .expect("closed in time")
            .expect("event");
        if ev.event == "shutdown" || ev.event == "closed" {
            break;
        }
    }
    // Write while down, directly through the store (as another instance would).
    let World { t, .. } = w;
    let TestApp { dir, url, .. } = t;
    let t2 = TestApp::open(dir, url, Config::default()).await;
    let mut a2 = a.clone();
    a2.router = t2.router.clone();
    a2.say(&room, "while-restarting").await;
    let server2 = Server::start(&t2).await;
    a2.say(&room, "after-restart").await;
    let mut s2 = Stream::open(&server2.base, &b, Some(last)).await;
    let got = s2.messages(2).await;
    assert!(body_of(&got[0]).contains("while-restarting"));
    assert!(body_of(&got[1]).contains("after-restart"));
    server2.stop().await;
}

#[tokio::test]
async fn far_behind_clients_resync_and_ended_sessions_close_the_stream() {
    let config = Config {
        keepalive: Duration::from_millis(200),
        ..Config::default()
    };
    let w = World::with(TestApp::with_config(config).await).await;
    let server = Server::start(&w.t).await;
    let mut a = w.t.login("tsu.info").await;
    let b = w.t.login("toba.info").await;
    let room = a.room("大量", "toba.info").await;
    let start = w.t.app.store.head().await.expect("head");
    for i in 0..1001 {
        a.say(&room, &format!("m{i}")).await;
    }
    let mut s = Stream::open(&server.base, &b, Some(start)).await;
    assert_eq!(s.next().await.event, "resync");
    // Keep-alives flow.
    let ev = tokio::time::timeout(Duration::from_secs(5), s.rx.recv())
        .await
        .expect("keep-alive")
        .expect("open");
    assert_eq!(ev.event, "comment");
    // A week-old cursor also resyncs.
    let recent = w.t.app.store.head().await.expect("head");
    w.t.clock.advance(time::Duration::days(8));
    let b2 = w.t.login("toba.info").await;
    let mut old = Stream::open(&server.base, &b2, Some(recent - 1)).await;
    assert_eq!(old.next().await.event, "resync");
    // Deactivation closes an open stream at once.
    let mut live = Stream::open(&server.base, &b2, None).await;
    let mut admin = w.t.login("toba.admin").await;
    admin
        .post(
            &format!("/admin/users/{}/active", w.toba_member.id),
            &[("active", "0")],
        )
        .await;
    let ev = live.next().await;
    assert_eq!(ev.event, "logout");
    server.stop().await;
}
