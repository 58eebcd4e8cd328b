//! `sonae-bench`: load figures for the chat core, measured over real HTTP on this machine.
//!
//! ```text
//! cargo run --release --bin sonae-bench -- [--postgres URL] [--instances N] post   [--posters 16] [--seconds 10]
//! cargo run --release --bin sonae-bench -- [--postgres URL] [--instances N] fanout [--subscribers 1000] [--posts 50] [--interval-ms 100]
//! cargo run --release --bin sonae-bench -- [--postgres URL] handoff [--entries 10000] [--items 300] [--handoffs 200]
//! ```
//! Each run starts N servers on 127.0.0.1 sharing a fresh database: SQLite in a temporary folder
//! (WAL, synchronous=FULL), or, with `--postgres` (a superuser URL), a new PostgreSQL database
//! that is dropped afterwards. Users and sessions are created directly; then HTTP clients drive
//! the servers, spread evenly over the instances.

use clap::{Parser, Subcommand};
use futures_util::StreamExt;
use sonae::app::{App, token_hash};
use sonae::clock::{Clock, SystemClock};
use sonae::config::Config;
use sonae::domain::*;
use sonae::store::{AuditRecord, Idem, NewOrg, NewRoom, NewSession, NewUser, millis};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(about = "Load figures for Sonae's chat core")]
struct Cli {
    /// Run on PostgreSQL: a superuser URL of the server to create the bench database on.
    #[arg(long, global = true)]
    postgres: Option<String>,
    /// Servers sharing the database (more than one needs --postgres).
    #[arg(long, global = true, default_value_t = 1)]
    instances: usize,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Post throughput: concurrent posters in one room.
    Post {
        #[arg(long, default_value_t = 16)]
        posters: usize,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
    /// Fan-out latency: many live subscribers in one room, posts at an interval.
    Fanout {
        #[arg(long, default_value_t = 1000)]
        subscribers: usize,
        #[arg(long, default_value_t = 50)]
        posts: usize,
        #[arg(long, default_value_t = 100)]
        interval_ms: u64,
    },
    /// Room page time: the page of a room with 50 messages, requested one after another.
    Page {
        #[arg(long, default_value_t = 2000)]
        requests: usize,
    },
    /// Supported users: each holds a live stream, posts every 5 s and reads a room every 30 s,
    /// in rooms of 50; users are added in steps until a limit is crossed.
    Users {
        #[arg(long, default_value_t = 4000)]
        max: usize,
        #[arg(long, default_value_t = 250)]
        step: usize,
        #[arg(long, default_value_t = 20)]
        step_seconds: u64,
    },
    /// Shelter board: page time with many shelters and reports, a report reaching many live
    /// boards, and the import of a large registry file.
    Board {
        #[arg(long, default_value_t = 500)]
        shelters: usize,
        #[arg(long, default_value_t = 20000)]
        reports: usize,
        #[arg(long, default_value_t = 200)]
        boards: usize,
        #[arg(long, default_value_t = 50)]
        live_reports: usize,
        #[arg(long, default_value_t = 300)]
        requests: usize,
        #[arg(long, default_value_t = 5000)]
        import_rows: usize,
    },
    /// Photo pipeline: a 12-megapixel JPEG to display image and thumbnail, on one core.
    Photo {
        #[arg(long, default_value_t = 20)]
        runs: usize,
    },
    /// Photo uploads under chat: concurrent 12-megapixel uploads to a separate `sonae serve`
    /// while a member posts messages; chat latency and the server's peak memory.
    Uploads {
        #[arg(long, default_value_t = 20)]
        photos: usize,
    },
    /// 要確認 and 既読: the matrix of a broadcast to 30 rooms of 10 members each, and post
    /// latency while 1,000 members of one room move their read positions.
    Confirm {
        #[arg(long, default_value_t = 30)]
        rooms: usize,
        #[arg(long, default_value_t = 10)]
        members: usize,
        #[arg(long, default_value_t = 500)]
        requests: usize,
        #[arg(long, default_value_t = 1000)]
        readers: usize,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
    /// Handoffs: drafting in an incident with 10,000 timeline entries and 300 items, and the
    /// handoff timeline of an incident with 200 handoffs.
    Handoff {
        #[arg(long, default_value_t = 10_000)]
        entries: usize,
        #[arg(long, default_value_t = 300)]
        items: usize,
        #[arg(long, default_value_t = 200)]
        handoffs: usize,
        #[arg(long, default_value_t = 300)]
        requests: usize,
    },
    /// Memory: the resident size of a `sonae serve` process holding idle live connections.
    Idle {
        #[arg(long, default_value_t = 1000)]
        connections: usize,
    },
}

struct Bench {
    bases: Vec<String>,
    app: App,
    room: RoomId,
    ids: Vec<UserId>,
    tokens: Vec<String>,
    /// The database URL the servers share.
    url: String,
    _dir: tempfile_dir::Dir,
    /// The PostgreSQL database to drop at the end: (admin URL, name).
    pg: Option<(String, String)>,
}

impl Bench {
    /// The server that client `i` talks to.
    fn base(&self, i: usize) -> &str {
        &self.bases[i % self.bases.len()]
    }

    async fn finish(&self) {
        if let Some((admin, name)) = &self.pg {
            use sqlx::{Connection, Executor};
            if let Ok(mut c) = sqlx::PgConnection::connect(admin).await {
                let _ = c
                    .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
                    .await;
            }
        }
    }
}

/// A temporary folder removed on drop (no extra crate needed for a bench).
mod tempfile_dir {
    pub struct Dir(pub std::path::PathBuf);
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn audit(now: i64) -> AuditRecord {
    AuditRecord {
        at: now,
        action: "bench.seed".into(),
        result: "ok".into(),
        ..Default::default()
    }
}

fn v<T>(r: Result<T, Invalid>) -> anyhow::Result<T> {
    r.map_err(|e| anyhow::anyhow!("{e}"))
}

/// An organisation for a bench.
async fn bench_org(
    store: &dyn sonae::store::Store,
    slug: &str,
    name: &str,
    kind: OrgKind,
    now: i64,
) -> anyhow::Result<sonae::store::Org> {
    Ok(store
        .create_org(
            NewOrg {
                slug: v(OrgSlug::parse(slug))?,
                name: v(DisplayName::parse(name))?,
                kind,
                lg_code: None,
            },
            now,
            audit(now),
        )
        .await?)
}

/// A member (no password: benches log in by session rows) of `org`.
async fn bench_user(
    store: &dyn sonae::store::Store,
    org: OrgId,
    login: &str,
    name: &str,
    now: i64,
) -> anyhow::Result<sonae::store::User> {
    Ok(store
        .create_user(
            NewUser {
                org_id: org,
                login: v(LoginId::parse(login))?,
                display_name: v(DisplayName::parse(name))?,
                email: None,
                role: Role::Member,
                lang: None,
                password_hash: None,
            },
            None,
            now,
            audit(now),
        )
        .await?)
}

async fn setup(users: usize, postgres: Option<&str>, instances: usize) -> anyhow::Result<Bench> {
    let dir = std::env::temp_dir().join(format!("sonae-bench-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir)?;
    let (url, pg) = match postgres {
        None => {
            if instances > 1 {
                anyhow::bail!("several instances share a PostgreSQL database: add --postgres URL");
            }
            (format!("sqlite://{}", dir.join("sonae.db").display()), None)
        }
        Some(admin) => {
            use sqlx::{Connection, Executor};
            let name = format!("sonae_bench_{}", uuid::Uuid::new_v4().simple());
            let mut c = sqlx::PgConnection::connect(admin).await?;
            c.execute(format!("CREATE DATABASE {name}").as_str())
                .await?;
            let (base, query) = admin
                .split_once('?')
                .map(|(b, q)| (b.to_string(), format!("?{q}")))
                .unwrap_or((admin.to_string(), String::new()));
            let base = base
                .rsplit_once('/')
                .map(|(b, _)| b.to_string())
                .unwrap_or(base);
            (
                format!("{base}/{name}{query}"),
                Some((admin.to_string(), name)),
            )
        }
    };
    let store = sonae::store::open(&url).await?;
    store.migrate().await?;
    let app = App::new(store.clone(), Arc::new(SystemClock), Config::default()).await;
    let now = millis(SystemClock.now());
    let org = bench_org(store.as_ref(), "bench-org", "負荷試験", OrgKind::Other, now).await?;
    let mut ids = Vec::new();
    let mut tokens = Vec::new();
    for i in 0..users {
        let u = bench_user(
            store.as_ref(),
            org.id,
            &format!("bench{i:05}"),
            &format!("試験ユーザー{i}"),
            now,
        )
        .await?;
        let token = sonae::app::random_token();
        store
            .create_session(
                NewSession {
                    id_hash: token_hash(&token),
                    user_id: u.id,
                    csrf: format!("csrf{i}"),
                    user_agent: "bench".into(),
                    address: "127.0.0.1".into(),
                },
                now,
                audit(now),
            )
            .await?;
        ids.push(u.id);
        tokens.push(token);
    }
    let room = store
        .create_room(
            NewRoom {
                owner: ids[0],
                name: v(RoomName::parse("負荷試験ルーム"))?,
                description: v(Description::parse(""))?,
                invite: ids[1..].to_vec(),
            },
            Idem {
                user_id: ids[0],
                key: v(IdemKey::parse("bench-room-key"))?,
            },
            now,
            audit(now),
        )
        .await?
        .value;
    let mut bases = Vec::new();
    for i in 0..instances {
        let serve_app = if i == 0 {
            app.clone()
        } else {
            let other = sonae::store::open(&url).await?;
            App::new(other, Arc::new(SystemClock), Config::default()).await
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        bases.push(format!("http://{}", listener.local_addr()?));
        tokio::spawn(async move {
            let _ = sonae::server::serve_on(serve_app, listener, std::future::pending()).await;
        });
    }
    Ok(Bench {
        bases,
        app,
        room,
        ids,
        tokens,
        url: url.clone(),
        _dir: tempfile_dir::Dir(dir),
        pg,
    })
}

/// Prints the p50, p99 and maximum of sorted client-measured latencies.
fn print_latency(sorted: &[f64]) {
    println!(
        "  ms (client-measured, includes loopback): p50 {:.2}  p99 {:.2}  max {:.2}",
        pct(sorted, 0.5),
        pct(sorted, 0.99),
        pct(sorted, 1.0)
    );
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

async fn post_one(
    client: &reqwest::Client,
    b: &Bench,
    i: usize,
    body: &str,
) -> anyhow::Result<reqwest::StatusCode> {
    let key = uuid::Uuid::new_v4().simple().to_string();
    let res = client
        .post(format!("{}/rooms/{}/messages", b.base(i), b.room))
        .header("cookie", format!("sonae_session={}", b.tokens[i]))
        .header("accept", "application/json")
        .form(&[
            ("csrf", format!("csrf{i}")),
            ("idem", key),
            ("body", body.to_string()),
        ])
        .send()
        .await?;
    Ok(res.status())
}

async fn bench_post(
    posters: usize,
    seconds: u64,
    pg: Option<&str>,
    instances: usize,
) -> anyhow::Result<()> {
    let b = Arc::new(setup(posters, pg, instances).await?);
    let db = if pg.is_some() {
        "PostgreSQL synchronous_commit=on"
    } else {
        "SQLite WAL synchronous=FULL"
    };
    println!(
        "post throughput: {posters} concurrent posters, one room, {seconds} s, {db}, {instances} instance(s)"
    );
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for i in 0..posters {
        let b = b.clone();
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut lat = Vec::new();
            let mut errors = 0usize;
            let mut n = 0usize;
            while Instant::now() < deadline {
                let t0 = Instant::now();
                match post_one(&client, &b, i, &format!("負荷試験メッセージ {i}-{n}")).await
                {
                    Ok(s) if s.is_success() => lat.push(t0.elapsed().as_secs_f64() * 1000.0),
                    _ => errors += 1,
                }
                n += 1;
            }
            (lat, errors)
        }));
    }
    let started = Instant::now();
    let mut lat = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await?;
        lat.extend(l);
        errors += e;
    }
    let secs = started.elapsed().as_secs_f64();
    lat.sort_by(|a, b| a.total_cmp(b));
    let stored = b
        .app
        .store
        .messages_before(b.room, None, 10_000_000)
        .await?
        .len();
    println!(
        "  acknowledged: {} messages in {secs:.1} s = {:.0} messages/s (errors: {errors})",
        lat.len(),
        lat.len() as f64 / secs
    );
    println!("  stored: {stored}");
    println!(
        "  latency ms: p50 {:.2}  p99 {:.2}  max {:.2}",
        pct(&lat, 0.5),
        pct(&lat, 0.99),
        pct(&lat, 1.0)
    );
    b.finish().await;
    Ok(())
}

/// Opens the live streams of clients `1..=n`; each reports when an event naming a tag that
/// starts with `prefix` arrives. Returns once all are connected, with a task collecting
/// (tag, arrival) pairs until five quiet seconds.
async fn listen(
    b: &Bench,
    n: usize,
    prefix: &'static str,
) -> anyhow::Result<tokio::task::JoinHandle<Vec<(String, Instant)>>> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(String, Instant)>();
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()?;
    for i in 1..=n {
        let url = format!("{}/events", b.base(i));
        let cookie = format!("sonae_session={}", b.tokens[i]);
        let (tx, ready, client) = (tx.clone(), ready_tx.clone(), client.clone());
        tokio::spawn(async move {
            let Ok(res) = client.get(url).header("cookie", cookie).send().await else {
                return;
            };
            let _ = ready.send(());
            let mut s = res.bytes_stream();
            let mut buf = String::new();
            while let Some(Ok(chunk)) = s.next().await {
                let at = Instant::now();
                buf.push_str(&String::from_utf8_lossy(&chunk));
                while let Some(end) = buf.find("\n\n") {
                    let block: String = buf.drain(..end + 2).collect();
                    if let Some(p) = block.find(prefix) {
                        let tag: String = block[p..]
                            .chars()
                            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                            .collect();
                        let _ = tx.send((tag, at));
                    }
                }
            }
        });
    }
    drop(tx);
    for _ in 0..n {
        if tokio::time::timeout(Duration::from_secs(60), ready_rx.recv())
            .await
            .is_err()
        {
            anyhow::bail!("live streams did not connect in time");
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    Ok(tokio::spawn(async move {
        let mut got = Vec::new();
        while let Ok(Some(x)) = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await {
            got.push(x);
        }
        got
    }))
}

/// Delivery times (ms, sorted) of the tagged events against when each tag was sent.
fn delivery_ms(
    sent: &std::collections::HashMap<String, Instant>,
    got: &[(String, Instant)],
) -> Vec<f64> {
    let mut lat: Vec<f64> = got
        .iter()
        .filter_map(|(tag, at)| {
            sent.get(tag)
                .map(|s0| at.duration_since(*s0).as_secs_f64() * 1000.0)
        })
        .collect();
    lat.sort_by(|x, y| x.total_cmp(y));
    lat
}

async fn bench_fanout(
    subscribers: usize,
    posts: usize,
    interval_ms: u64,
    pg: Option<&str>,
    instances: usize,
) -> anyhow::Result<()> {
    let b = Arc::new(setup(subscribers + 1, pg, instances).await?);
    println!(
        "fan-out: {subscribers} live subscribers in one room over {instances} instance(s), {posts} posts {interval_ms} ms apart, posted to the first"
    );
    let collector = listen(&b, subscribers, "bench-post-").await?;
    println!(
        "  connected: {} streams open on the server",
        b.app.live.subscribers()
    );
    let poster = reqwest::Client::new();
    let mut sent = std::collections::HashMap::new();
    for p in 0..posts {
        let tag = format!("bench-post-{p}");
        sent.insert(tag.clone(), Instant::now());
        let status = post_one(&poster, &b, 0, &tag).await?;
        if !status.is_success() {
            eprintln!("  post {p} failed: {status}");
        }
        tokio::time::sleep(Duration::from_millis(interval_ms)).await;
    }
    let lat = delivery_ms(&sent, &collector.await?);
    let expected = subscribers * posts;
    println!(
        "  delivered: {} of {expected} ({:.2} %)",
        lat.len(),
        lat.len() as f64 * 100.0 / expected as f64
    );
    println!(
        "  post→delivery ms: p50 {:.1}  p99 {:.1}  max {:.1}",
        pct(&lat, 0.5),
        pct(&lat, 0.99),
        pct(&lat, 1.0)
    );
    b.finish().await;
    Ok(())
}

async fn bench_page(requests: usize, pg: Option<&str>) -> anyhow::Result<()> {
    let b = setup(1, pg, 1).await?;
    let client = reqwest::Client::new();
    for i in 0..50 {
        post_one(
            &client,
            &b,
            0,
            &format!("ページ計測用のメッセージ {i}。避難所の開設状況を共有します。"),
        )
        .await?;
    }
    let url = format!("{}/rooms/{}", b.base(0), b.room);
    let cookie = format!("sonae_session={}", b.tokens[0]);
    let mut lat = Vec::with_capacity(requests);
    for _ in 0..requests {
        let t0 = Instant::now();
        let res = client.get(&url).header("cookie", &cookie).send().await?;
        let ok = res.status().is_success();
        let _ = res.bytes().await?;
        if ok {
            lat.push(t0.elapsed().as_secs_f64() * 1000.0);
        }
    }
    lat.sort_by(|a, b| a.total_cmp(b));
    println!(
        "room page with 50 messages, {requests} sequential requests over loopback ({})",
        if pg.is_some() { "PostgreSQL" } else { "SQLite" }
    );
    print_latency(&lat);
    b.finish().await;
    Ok(())
}

/// The matrix of a broadcast: the sender broadcasts to `rooms` rooms, each with `members` people
/// of another organisation, half of whom confirm; then the matrix is requested sequentially.
async fn bench_matrix(
    rooms: usize,
    members: usize,
    requests: usize,
    pg: Option<&str>,
) -> anyhow::Result<()> {
    let b = setup(1, pg, 1).await?;
    let store = &b.app.store;
    let now = millis(SystemClock.now());
    let sender = b.ids[0];
    let mut room_ids = Vec::new();
    let mut first_members = Vec::new();
    for r in 0..rooms {
        let org = bench_org(
            store.as_ref(),
            &format!("bench-town-{r:03}"),
            &format!("試験町{r:03}"),
            OrgKind::Municipality,
            now,
        )
        .await?;
        let mut people = Vec::new();
        for m in 0..members {
            let u = bench_user(
                store.as_ref(),
                org.id,
                &format!("town{r:03}.m{m:03}"),
                &format!("町{r}の職員{m}"),
                now,
            )
            .await?;
            people.push(u.id);
        }
        first_members.push(people[0]);
        let room = store
            .create_room(
                NewRoom {
                    owner: sender,
                    name: v(RoomName::parse(&format!("試験町{r:03} 連絡")))?,
                    description: v(Description::parse(""))?,
                    invite: people,
                },
                Idem {
                    user_id: sender,
                    key: v(IdemKey::parse(&format!("bench-confirm-room-{r:03}")))?,
                },
                now,
                audit(now),
            )
            .await?
            .value;
        room_ids.push(room);
    }
    let client = reqwest::Client::new();
    let cookie = format!("sonae_session={}", b.tokens[0]);
    let res = client
        .post(format!("{}/api/v1/broadcasts", b.base(0)))
        .header("cookie", &cookie)
        .header("x-csrf-token", "csrf0")
        .header("idempotency-key", "bench-broadcast-0001")
        .json(&serde_json::json!({
            "body": "【要確認】負荷試験の一斉送信",
            "rooms": room_ids.iter().map(|r| r.to_string()).collect::<Vec<_>>(),
            "confirm": true,
        }))
        .send()
        .await?;
    if !res.status().is_success() {
        anyhow::bail!("broadcast refused: {}", res.text().await?);
    }
    let sent: serde_json::Value = res.json().await?;
    let bid = sent["broadcast_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    // Half the towns confirm.
    for (k, copy) in sent["copies"].as_array().into_iter().flatten().enumerate() {
        if k % 2 == 0 {
            let mid: MessageId = copy["message_id"].as_str().unwrap_or_default().parse()?;
            let org = store.user(first_members[k]).await?.org_id;
            store
                .confirm(
                    mid,
                    &[sonae::store::ConfirmTarget::Org(org)],
                    first_members[k],
                    now,
                )
                .await?;
        }
    }
    let url = format!("{}/api/v1/broadcasts/{bid}", b.base(0));
    let mut lat = Vec::with_capacity(requests);
    let mut total = 0;
    for _ in 0..requests {
        let t0 = Instant::now();
        let res = client.get(&url).header("cookie", &cookie).send().await?;
        let ok = res.status().is_success();
        let body: serde_json::Value = res.json().await?;
        if ok {
            lat.push(t0.elapsed().as_secs_f64() * 1000.0);
            total = body["total"].as_u64().unwrap_or_default();
        }
    }
    lat.sort_by(|a, b| a.total_cmp(b));
    println!(
        "broadcast matrix: {rooms} rooms × {members} members ({} members), {total} addressees, {requests} sequential GET /api/v1/broadcasts/{{id}} ({})",
        rooms * (members + 1),
        if pg.is_some() { "PostgreSQL" } else { "SQLite" }
    );
    print_latency(&lat);
    b.finish().await;
    Ok(())
}

/// Sequential GETs of `url`, the milliseconds of each success (sorted).
async fn timed_gets(
    client: &reqwest::Client,
    url: &str,
    cookie: &str,
    accept: &str,
    requests: usize,
) -> anyhow::Result<Vec<f64>> {
    let mut lat = Vec::with_capacity(requests);
    for _ in 0..requests {
        let t0 = Instant::now();
        let res = client
            .get(url)
            .header("cookie", cookie)
            .header("accept", accept)
            .send()
            .await?;
        let ok = res.status().is_success();
        let _ = res.bytes().await?;
        if !ok {
            anyhow::bail!("GET {url} refused");
        }
        lat.push(t0.elapsed().as_secs_f64() * 1000.0);
    }
    lat.sort_by(|a, b| a.total_cmp(b));
    Ok(lat)
}

/// Opens an incident of the bench organisation (its members join through it).
async fn bench_incident(b: &Bench, name: &str, opener: UserId, at: i64) -> anyhow::Result<RoomId> {
    let org = b.app.store.user(opener).await?.org_id;
    Ok(b.app
        .store
        .open_incident(
            sonae::store::NewIncident {
                name: v(RoomName::parse(name))?,
                kind: IncidentKind::StormFlood,
                level: v(IncidentLevel::new(3))?,
                opened_at: at,
                opener,
                orgs: vec![org],
            },
            Idem {
                user_id: opener,
                key: v(IdemKey::parse(&format!(
                    "bench-incident-{}",
                    uuid::Uuid::new_v4().simple()
                )))?,
            },
            at,
            audit(at),
        )
        .await?
        .value)
}

/// Adds an open item.
async fn bench_item(
    b: &Bench,
    incident: RoomId,
    by: UserId,
    n: usize,
    at: i64,
) -> anyhow::Result<ItemId> {
    Ok(b.app
        .store
        .create_item(
            sonae::store::NewItem {
                incident,
                title: v(ItemTitle::parse(&format!("試験の対応項目 {n}")))?,
                details: v(ItemText::parse("負荷試験", "details"))?,
                assignee: None,
                due_at: None,
                message: None,
                by,
            },
            Idem {
                user_id: by,
                key: v(IdemKey::parse(&format!(
                    "bench-item-{}",
                    uuid::Uuid::new_v4().simple()
                )))?,
            },
            at,
            audit(at),
        )
        .await?
        .value)
}

/// Drafting a handoff in a busy incident, and the managers' timeline of a long one.
async fn bench_handoff(
    entries: usize,
    items: usize,
    handoffs: usize,
    requests: usize,
    pg: Option<&str>,
) -> anyhow::Result<()> {
    use sonae::store::{DraftFacts, ItemAct, NewHandoff};
    let b = setup(2, pg, 1).await?;
    let store = &b.app.store;
    let (out, inc) = (b.ids[0], b.ids[1]);
    let now = millis(SystemClock.now());
    let engine = if pg.is_some() { "PostgreSQL" } else { "SQLite" };
    let client = reqwest::Client::new();
    let cookie = format!("sonae_session={}", b.tokens[0]);

    // A busy incident: messages up to `entries` timeline entries, then the items.
    let busy = bench_incident(&b, "試験 多忙な災害", out, now - 3_600_000).await?;
    let posts = entries.saturating_sub(items);
    for chunk in (0..posts).collect::<Vec<_>>().chunks(200) {
        let mut set = tokio::task::JoinSet::new();
        for &i in chunk {
            let store = store.clone();
            set.spawn(async move {
                store
                    .post_message(
                        sonae::store::NewMessage {
                            room_id: busy,
                            author_id: out,
                            body: v(MessageBody::parse(&format!("試験の報告 {i}")))?,
                            reply_to: None,
                            mentions: Vec::new(),
                            confirm: None,
                        },
                        Idem {
                            user_id: out,
                            key: v(IdemKey::parse(&format!("bench-handoff-post-{i:06}")))?,
                        },
                        now,
                        audit(now),
                    )
                    .await
                    .map_err(anyhow::Error::from)
            });
        }
        while let Some(r) = set.join_next().await {
            r??;
        }
    }
    for n in 0..items {
        bench_item(&b, busy, out, n, now).await?;
    }
    let url = format!("{}/api/v1/incidents/{busy}/handoffs/draft", b.base(0));
    let lat = timed_gets(&client, &url, &cookie, "application/json", requests).await?;
    println!(
        "handoff draft: {entries} timeline entries, {items} open items, {requests} sequential GET …/handoffs/draft ({engine})"
    );
    print_latency(&lat);

    // A long incident: `handoffs` completed handoffs of five items each.
    let long = bench_incident(&b, "試験 長期の災害", out, now - 3_600_000).await?;
    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(bench_item(&b, long, out, n, now).await?);
    }
    for k in 0..handoffs {
        let (from, to) = if k % 2 == 0 { (out, inc) } else { (inc, out) };
        let at = now + k as i64 * 1000;
        let hid = store
            .create_handoff(
                NewHandoff {
                    incident: long,
                    position: None,
                    org: store.user(from).await?.org_id,
                    from,
                    to,
                    summary: v(ItemText::parse(&format!("試験の引継ぎ {k}"), "summary"))?,
                    risks: v(ItemText::parse("", "risks"))?,
                    notes: v(ItemText::parse("", "notes"))?,
                    facts: DraftFacts::default(),
                    period_from: at - 1000,
                    items: ids
                        .iter()
                        .map(|i| (*i, "試験の対応項目".to_string(), CarriedAs::Carried))
                        .collect(),
                },
                Idem {
                    user_id: from,
                    key: v(IdemKey::parse(&format!("bench-handoff-{k:05}")))?,
                },
                at,
                audit(at),
            )
            .await?
            .value;
        for i in &ids {
            store
                .act_on_item(hid, *i, ItemAct::Acknowledge, to, at + 100)
                .await?;
        }
        if let Err(r) = store
            .complete_handoff(hid, None, at + 500, audit(at))
            .await?
        {
            anyhow::bail!("bench handoff not completed: {r:?}");
        }
    }
    for (what, url, accept) in [
        (
            "page",
            format!("{}/incidents/{long}/handoffs", b.base(0)),
            "text/html",
        ),
        (
            "JSON",
            format!("{}/api/v1/incidents/{long}/handoffs", b.base(0)),
            "application/json",
        ),
    ] {
        let lat = timed_gets(&client, &url, &cookie, accept, requests).await?;
        println!(
            "handoff timeline {what}: {handoffs} handoffs, {requests} sequential GETs ({engine})"
        );
        print_latency(&lat);
    }
    b.finish().await;
    Ok(())
}

/// Post latency in a room of `readers + 1` members, first alone, then while every member moves
/// their read position (each three times, spread over the run), as a room does after a
/// broadcast everyone opens.
async fn bench_reads(readers: usize, seconds: u64, pg: Option<&str>) -> anyhow::Result<()> {
    let b = Arc::new(setup(readers + 1, pg, 1).await?);
    println!(
        "read positions: one poster (a post every 20 ms) in a room of {} members, {seconds} s each phase ({})",
        readers + 1,
        if pg.is_some() { "PostgreSQL" } else { "SQLite" }
    );
    let poster = |b: Arc<Bench>| async move {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(seconds);
        let mut lat = Vec::new();
        let mut n = 0;
        while Instant::now() < deadline {
            let t0 = Instant::now();
            if let Ok(s) = post_one(&client, &b, 0, &format!("既読試験 {n}")).await {
                if s.is_success() {
                    lat.push(t0.elapsed().as_secs_f64() * 1000.0);
                }
            }
            n += 1;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        lat.sort_by(|a, b| a.total_cmp(b));
        lat
    };
    let alone = poster(b.clone()).await;
    let read_ok = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    // One pooled client for all readers (building a client loads the system's root
    // certificates, which would stall the shared runtime a thousand times over).
    let client = reqwest::Client::new();
    let mut tasks = Vec::new();
    for i in 1..=readers {
        let b = b.clone();
        let read_ok = read_ok.clone();
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            // Spread over the run: each reader at its own moment in each third of it.
            let period = (seconds * 1000 / 3).max(1);
            let offset = (i as u64 * 7919) % period;
            for round in 0..3u64 {
                let wait = if round == 0 { offset } else { period };
                tokio::time::sleep(Duration::from_millis(wait)).await;
                let res = client
                    .post(format!("{}/rooms/{}/read", b.base(i), b.room))
                    .header("cookie", format!("sonae_session={}", b.tokens[i]))
                    .header("accept", "application/json")
                    .form(&[
                        ("csrf", format!("csrf{i}")),
                        ("pos", format!("{}", (round + 1) * 1_000_000)),
                    ])
                    .send()
                    .await;
                if res.is_ok_and(|r| r.status().is_success()) {
                    read_ok.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            }
        }));
    }
    let with_readers = poster(b.clone()).await;
    for t in tasks {
        t.await?;
    }
    for (name, lat) in [("alone", &alone), ("with readers", &with_readers)] {
        println!(
            "  post ms {name:>12}: p50 {:.2}  p99 {:.2}  max {:.2}  ({} posts)",
            pct(lat, 0.5),
            pct(lat, 0.99),
            pct(lat, 1.0),
            lat.len()
        );
    }
    println!(
        "  read-position updates acknowledged: {}",
        read_ok.load(std::sync::atomic::Ordering::Relaxed)
    );
    b.finish().await;
    Ok(())
}

/// A 4000×3000 JPEG of about 4 MB at quality 90: gradients with fine noise, like a photo.
fn camera_jpeg() -> anyhow::Result<Vec<u8>> {
    let (w, h) = (4000u32, 3000u32);
    let mut rgb = Vec::with_capacity((w * h * 3) as usize);
    let mut seed = 0x2545_f491_u32;
    for y in 0..h {
        for x in 0..w {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            let noise = seed % 22;
            rgb.push(((x * 255 / w + noise) % 256) as u8);
            rgb.push(((y * 255 / h + noise / 2) % 256) as u8);
            rgb.push((((x + y) * 255 / (w + h) + noise) % 256) as u8);
        }
    }
    let mut out = Vec::new();
    jpeg_encoder::Encoder::new(&mut out, 90).encode(
        &rgb,
        w as u16,
        h as u16,
        jpeg_encoder::ColorType::Rgb,
    )?;
    Ok(out)
}

fn bench_photo(runs: usize) -> anyhow::Result<()> {
    let jpeg = camera_jpeg()?;
    println!(
        "photo pipeline: a 4000×3000 JPEG of {:.1} MB to a {}-px display image and a {}-px thumbnail, one thread",
        jpeg.len() as f64 / 1_048_576.0,
        sonae::media::DISPLAY_EDGE,
        sonae::media::THUMB_EDGE
    );
    let mut lat = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        let p = sonae::media::process(&jpeg, &sonae::media::Limits::default())
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        lat.push(t.elapsed().as_secs_f64() * 1000.0);
        anyhow::ensure!(p.display.width == 1600 && p.thumb.width == 320, "sizes");
    }
    let t = Instant::now();
    for _ in 0..5 {
        image::load_from_memory(&jpeg)?;
    }
    println!(
        "  (decoding alone: {:.1} ms)",
        t.elapsed().as_secs_f64() * 1000.0 / 5.0
    );
    lat.sort_by(|x, y| x.total_cmp(y));
    println!(
        "  ms: p50 {:.1}  p90 {:.1}  max {:.1}",
        pct(&lat, 0.5),
        pct(&lat, 0.9),
        pct(&lat, 1.0)
    );
    Ok(())
}

struct BoardArgs {
    shelters: usize,
    reports: usize,
    boards: usize,
    live_reports: usize,
    requests: usize,
    import_rows: usize,
}

/// A standard open-data CSV (newer column set) of `n` made-up shelters of one municipality.
fn registry_csv(n: usize, prefix: &str) -> String {
    let mut out = String::from(
        "ID,名称,名称_カナ,所在地_連結表記,緯度,経度,災害種別_洪水,災害種別_地震,災害種別_津波,指定避難所との重複,想定収容人数,備考\r\n",
    );
    for i in 0..n {
        out.push_str(&format!(
            "{prefix}{i:06},{prefix}地区 第{i}避難所,ダイ{i}ヒナンジョ,\"三重県鳥羽市鳥羽{}丁目{}\",{:.6},{:.6},1,1,{},1,{}人,\"訓練用, 番号{i}\"\r\n",
            i / 100 + 1,
            i % 100 + 1,
            34.3 + (i as f64) * 0.0001,
            136.8 + (i as f64) * 0.0001,
            if i % 3 == 0 { "1" } else { "" },
            50 + i % 400
        ));
    }
    out
}

async fn bench_board(a: BoardArgs, pg: Option<&str>) -> anyhow::Result<()> {
    use sonae::import::snapshot::Observation;
    use sonae::import::{SnapshotRow, parse_shelters, read_table};
    use sonae::store::NewIncident;
    let b = Arc::new(setup(a.boards + 1, pg, 1).await?);
    let db = if pg.is_some() { "PostgreSQL" } else { "SQLite" };
    let store = &b.app.store;
    let org = store.user(b.ids[0]).await?.org_id;
    let now = millis(SystemClock.now());

    // Import: a large registry file, parsed and stored as an import does.
    let csv = registry_csv(a.import_rows, "IMP");
    let t0 = Instant::now();
    let table = read_table(&csv).map_err(|p| anyhow::anyhow!(p.key))?;
    let rows: Vec<_> = parse_shelters(&table)
        .map_err(|p| anyhow::anyhow!(p.key))?
        .rows
        .into_iter()
        .flatten()
        .collect();
    let parsed_ms = t0.elapsed().as_secs_f64() * 1000.0;
    let imported_org = bench_org(
        store.as_ref(),
        "import-bench",
        "取込計測市",
        OrgKind::Municipality,
        now,
    )
    .await?;
    let outcome = store
        .import_shelters(imported_org.id, rows, now, audit(now))
        .await?;
    let import_ms = t0.elapsed().as_secs_f64() * 1000.0;
    println!(
        "import of a {}-row registry CSV ({db}): parse {parsed_ms:.0} ms, parse + store {import_ms:.0} ms ({} added)",
        a.import_rows, outcome.added
    );
    let t1 = Instant::now();
    let table = read_table(&csv).map_err(|p| anyhow::anyhow!(p.key))?;
    let rows: Vec<_> = parse_shelters(&table)
        .map_err(|p| anyhow::anyhow!(p.key))?
        .rows
        .into_iter()
        .flatten()
        .collect();
    let again = store
        .import_shelters(imported_org.id, rows, now, audit(now))
        .await?;
    println!(
        "  the same file again: {:.0} ms ({} unchanged)",
        t1.elapsed().as_secs_f64() * 1000.0,
        again.unchanged
    );

    // The incident: its board has `shelters` shelters and `reports` reports.
    let table = read_table(&registry_csv(a.shelters, "B")).map_err(|p| anyhow::anyhow!(p.key))?;
    let rows: Vec<_> = parse_shelters(&table)
        .map_err(|p| anyhow::anyhow!(p.key))?
        .rows
        .into_iter()
        .flatten()
        .collect();
    store
        .import_shelters(org, rows.clone(), now, audit(now))
        .await?;
    let started = now - 3 * 24 * 3_600_000;
    let room = store
        .open_incident(
            NewIncident {
                name: v(RoomName::parse("計測用の災害"))?,
                kind: IncidentKind::StormFlood,
                level: v(IncidentLevel::new(4))?,
                opened_at: started,
                opener: b.ids[0],
                orgs: vec![org],
            },
            Idem {
                user_id: b.ids[0],
                key: v(IdemKey::parse("bench-incident-1"))?,
            },
            now,
            audit(now),
        )
        .await?
        .value;
    let per = a.reports.div_ceil(a.shelters.max(1));
    let t2 = Instant::now();
    let mut snapshot: Vec<SnapshotRow> = Vec::with_capacity(rows.len());
    for shelter in rows {
        let mut observations = Vec::with_capacity(per);
        for k in 0..per {
            observations.push(Observation {
                observed_at: started + (k as i64) * 600_000,
                status: ShelterStatus::Open,
                headcount: v(Headcount::new(Some(10 + k as i64), Some(4)))?,
            });
        }
        snapshot.push(SnapshotRow {
            shelter,
            observations,
        });
    }
    let stored = store
        .import_snapshot(room, org, snapshot, b.ids[0], now, audit(now))
        .await?;
    println!(
        "board: {} shelters, {} reports stored in {:.1} s",
        a.shelters,
        stored.reports,
        t2.elapsed().as_secs_f64()
    );

    let t3 = Instant::now();
    for _ in 0..20 {
        store.board(room).await?;
    }
    println!(
        "  the board query alone: {:.2} ms",
        t3.elapsed().as_secs_f64() * 1000.0 / 20.0
    );
    let client = reqwest::Client::new();
    let url = format!("{}/incidents/{room}/board", b.base(0));
    let cookie = format!("sonae_session={}", b.tokens[0]);
    let mut lat = Vec::with_capacity(a.requests);
    for _ in 0..a.requests {
        let t = Instant::now();
        let res = client.get(&url).header("cookie", &cookie).send().await?;
        let ok = res.status().is_success();
        let _ = res.bytes().await?;
        if ok {
            lat.push(t.elapsed().as_secs_f64() * 1000.0);
        }
    }
    lat.sort_by(|x, y| x.total_cmp(y));
    println!(
        "  board page ({db}), {} sequential requests, board unchanged: p50 {:.2} ms  p99 {:.2} ms  ({} ok)",
        a.requests,
        pct(&lat, 0.5),
        pct(&lat, 0.99),
        lat.len()
    );
    // The same page right after a new report each time: the rows are read again.
    let shelters_now = store.board(room).await?;
    let mut lat = Vec::with_capacity(100);
    for k in 0..100 {
        store
            .report_shelter(
                sonae::store::NewReport {
                    incident: room,
                    shelter: shelters_now[k % shelters_now.len()].shelter.id,
                    status: ShelterStatus::Open,
                    headcount: v(Headcount::new(Some(200 + k as i64), None))?,
                    needs: String::new(),
                    note: String::new(),
                    observed_at: millis(SystemClock.now()),
                    reporter: b.ids[0],
                },
                Idem {
                    user_id: b.ids[0],
                    key: v(IdemKey::parse(&format!("bench-uncached-{k}")))?,
                },
                millis(SystemClock.now()),
                audit(now),
            )
            .await?;
        let t = Instant::now();
        let res = client.get(&url).header("cookie", &cookie).send().await?;
        let ok = res.status().is_success();
        let _ = res.bytes().await?;
        if ok {
            lat.push(t.elapsed().as_secs_f64() * 1000.0);
        }
    }
    lat.sort_by(|x, y| x.total_cmp(y));
    println!(
        "  board page ({db}) right after a new report (its shelter read again): p50 {:.2} ms  p99 {:.2} ms  ({} ok)",
        pct(&lat, 0.5),
        pct(&lat, 0.99),
        lat.len()
    );

    // Live: `boards` subscribers; reports posted over HTTP; time until each board has it.
    let collector = listen(&b, a.boards, "bench-report-").await?;
    let board = store.board(room).await?;
    let mut sent = std::collections::HashMap::new();
    for k in 0..a.live_reports {
        let tag = format!("bench-report-{k}");
        let shelter = board[k % board.len()].shelter.id.to_string();
        sent.insert(tag.clone(), Instant::now());
        let res = client
            .post(format!("{}/incidents/{room}/reports", b.base(0)))
            .header("cookie", &cookie)
            .header("accept", "application/json")
            .form(&[
                ("csrf", "csrf0".to_string()),
                ("idem", uuid::Uuid::new_v4().simple().to_string()),
                ("shelter", shelter),
                ("status", "open".into()),
                ("evacuees", (100 + k).to_string()),
                ("note", tag.clone()),
            ])
            .send()
            .await?;
        if !res.status().is_success() {
            eprintln!("  report {k} failed: {}", res.status());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let lat = delivery_ms(&sent, &collector.await?);
    println!(
        "  a report reaching {} live boards ({db}): {} of {} deliveries, p50 {:.1} ms  p99 {:.1} ms  max {:.1} ms",
        a.boards,
        lat.len(),
        a.boards * a.live_reports,
        pct(&lat, 0.5),
        pct(&lat, 0.99),
        pct(&lat, 1.0)
    );
    b.finish().await;
    Ok(())
}

#[derive(Default)]
struct Window {
    requests: u64,
    server_errors: u64,
    latencies: Vec<f64>,
}

async fn bench_users(
    max: usize,
    step: usize,
    step_seconds: u64,
    pg: Option<&str>,
) -> anyhow::Result<()> {
    let b = Arc::new(setup(max, pg, 1).await?);
    // Rooms of 50 consecutive users.
    let now = millis(SystemClock.now());
    let mut room_of = vec![b.room; max];
    for (k, chunk) in b.ids.chunks(50).enumerate() {
        let r = b
            .app
            .store
            .create_room(
                NewRoom {
                    owner: chunk[0],
                    name: v(RoomName::parse(&format!("班 {k}")))?,
                    description: v(Description::parse(""))?,
                    invite: chunk[1..].to_vec(),
                },
                Idem {
                    user_id: chunk[0],
                    key: v(IdemKey::parse(&format!("bench-users-room-{k}")))?,
                },
                now,
                audit(now),
            )
            .await?
            .value;
        for i in 0..chunk.len() {
            room_of[k * 50 + i] = r;
        }
    }
    let room_of = Arc::new(room_of);
    let window = Arc::new(std::sync::Mutex::new(Window::default()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    println!(
        "supported users ({}): each holds a live stream, posts every 5 s, reads its room every 30 s; rooms of 50; +{step} users every {step_seconds} s",
        if pg.is_some() { "PostgreSQL" } else { "SQLite" }
    );
    let mut running = 0;
    let mut supported = 0;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()?;
    while running < max {
        for i in running..(running + step).min(max) {
            let (b, room_of, window, stop, client) = (
                b.clone(),
                room_of.clone(),
                window.clone(),
                stop.clone(),
                client.clone(),
            );
            tokio::spawn(async move {
                let cookie = format!("sonae_session={}", b.tokens[i]);
                // The live stream, read and discarded.
                let events = client
                    .get(format!("{}/events", b.base(i)))
                    .header("cookie", &cookie)
                    .send()
                    .await;
                if let Ok(res) = events {
                    tokio::spawn(async move {
                        let mut s = res.bytes_stream();
                        while let Some(Ok(_)) = s.next().await {}
                    });
                }
                let room = room_of[i];
                let start = Duration::from_millis((i as u64 * 37) % 5000);
                tokio::time::sleep(start).await;
                let mut n = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let t0 = Instant::now();
                    let status = if n % 6 == 5 {
                        client
                            .get(format!("{}/rooms/{room}", b.base(i)))
                            .header("cookie", &cookie)
                            .send()
                            .await
                            .map(|r| r.status())
                    } else {
                        let key = uuid::Uuid::new_v4().simple().to_string();
                        client
                            .post(format!("{}/rooms/{room}/messages", b.base(i)))
                            .header("cookie", &cookie)
                            .header("accept", "application/json")
                            .form(&[
                                ("csrf", format!("csrf{i}")),
                                ("idem", key),
                                ("body", format!("定時報告 {i}-{n}")),
                            ])
                            .send()
                            .await
                            .map(|r| r.status())
                    };
                    let ms = t0.elapsed().as_secs_f64() * 1000.0;
                    if let Ok(mut w) = window.lock() {
                        w.requests += 1;
                        if status.map(|s| s.is_server_error()).unwrap_or(true) {
                            w.server_errors += 1;
                        }
                        w.latencies.push(ms);
                    }
                    n += 1;
                    tokio::time::sleep(Duration::from_secs(5).saturating_sub(t0.elapsed())).await;
                }
            });
        }
        running = (running + step).min(max);
        tokio::time::sleep(Duration::from_secs(step_seconds)).await;
        let w = std::mem::take(&mut *window.lock().map_err(|_| anyhow::anyhow!("lock"))?);
        let mut lat = w.latencies;
        lat.sort_by(|a, b| a.total_cmp(b));
        let avg = if lat.is_empty() {
            0.0
        } else {
            lat.iter().sum::<f64>() / lat.len() as f64
        };
        let err = if w.requests == 0 {
            0.0
        } else {
            w.server_errors as f64 * 100.0 / w.requests as f64
        };
        let p99 = pct(&lat, 0.99);
        let ok = err <= 0.025 && avg <= 100.0 && p99 <= 2000.0;
        println!(
            "  {running:>5} users: {} requests, 5xx {err:.3} %, avg {avg:.1} ms, p99 {p99:.1} ms {}",
            w.requests,
            if ok { "ok" } else { "LIMIT" }
        );
        if !ok {
            break;
        }
        supported = running;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    println!("  supported users: {supported}");
    b.finish().await;
    Ok(())
}

/// Resident memory of a process, from /proc.
/// Peak resident memory of a process (VmHWM), in KB.
fn peak_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
}

/// Chat post latencies (ms) from one member posting every 25 ms until `stop`.
async fn chat_probe(
    client: reqwest::Client,
    base: String,
    room: RoomId,
    token: String,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> Vec<f64> {
    let mut lat = Vec::new();
    let mut n = 0;
    while !stop.load(std::sync::atomic::Ordering::SeqCst) {
        let t = Instant::now();
        let res = client
            .post(format!("{base}/rooms/{room}/messages"))
            .header("cookie", format!("sonae_session={token}"))
            .header("accept", "application/json")
            .form(&[
                ("csrf", "csrf1".to_string()),
                ("idem", uuid::Uuid::new_v4().simple().to_string()),
                ("body", format!("写真送信中の連絡 {n}")),
            ])
            .send()
            .await;
        if matches!(&res, Ok(r) if r.status().is_success()) {
            lat.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        n += 1;
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    lat
}

async fn bench_uploads(photos: usize, pg: Option<&str>) -> anyhow::Result<()> {
    use sonae::store::NewIncident;
    let b = setup(2, pg, 1).await?;
    let org = b.app.store.user(b.ids[0]).await?.org_id;
    let now = millis(SystemClock.now());
    let incident = b
        .app
        .store
        .open_incident(
            NewIncident {
                name: v(RoomName::parse("写真計測"))?,
                kind: IncidentKind::Other,
                level: v(IncidentLevel::new(3))?,
                opened_at: now,
                opener: b.ids[0],
                orgs: vec![org],
            },
            Idem {
                user_id: b.ids[0],
                key: v(IdemKey::parse("bench-uploads-incident"))?,
            },
            now,
            audit(now),
        )
        .await?
        .value;
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0")?;
        l.local_addr()?.port()
    };
    let exe = std::env::current_exe()?.with_file_name("sonae");
    let mut child = tokio::process::Command::new(&exe)
        .arg("--data-dir")
        .arg(&b._dir.0)
        .arg("--database-url")
        .arg(&b.url)
        .arg("--bind")
        .arg(format!("127.0.0.1:{port}"))
        .env("RUST_LOG", "warn")
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| anyhow::anyhow!("start {}: {e}", exe.display()))?;
    let pid = child.id().unwrap_or(0);
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    for _ in 0..100 {
        if client.get(format!("{base}/healthz")).send().await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Chat alone first, for comparison.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let probe = tokio::spawn(chat_probe(
        client.clone(),
        base.clone(),
        b.room,
        b.tokens[1].clone(),
        stop.clone(),
    ));
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut quiet = probe.await?;
    quiet.sort_by(|x, y| x.total_cmp(y));
    let before_kb = rss_kb(pid).unwrap_or(0);

    let jpeg = Arc::new(camera_jpeg()?);
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let probe = tokio::spawn(chat_probe(
        client.clone(),
        base.clone(),
        b.room,
        b.tokens[1].clone(),
        stop.clone(),
    ));
    let t0 = Instant::now();
    let mut uploads = Vec::new();
    for k in 0..photos {
        let (client, base, jpeg, token) = (
            client.clone(),
            base.clone(),
            jpeg.clone(),
            b.tokens[0].clone(),
        );
        // Each photo differs in its last bytes (after the image), so none is a duplicate.
        uploads.push(tokio::spawn(async move {
            let boundary = "----sonae-bench-boundary";
            let mut body = Vec::with_capacity(jpeg.len() + 1024);
            for (name, value) in [("csrf", "csrf0".to_string()), ("idem", format!("bench-upload-{k:04}-{}", uuid::Uuid::new_v4().simple()))] {
                body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes());
            }
            body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"p{k}.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n").as_bytes());
            body.extend_from_slice(&jpeg);
            body.extend_from_slice(format!("{k:08}").as_bytes());
            body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
            let t = Instant::now();
            let res = client
                .post(format!("{base}/incidents/{incident}/photos"))
                .header("cookie", format!("sonae_session={token}"))
                .header("accept", "application/json")
                .header("content-type", format!("multipart/form-data; boundary={boundary}"))
                .body(body)
                .send()
                .await;
            let ok = matches!(&res, Ok(r) if r.status().is_success());
            (ok, t.elapsed().as_secs_f64() * 1000.0)
        }));
    }
    let mut done = Vec::new();
    for u in uploads {
        done.push(u.await?);
    }
    let total = t0.elapsed().as_secs_f64();
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut busy = probe.await?;
    busy.sort_by(|x, y| x.total_cmp(y));
    let peak = peak_kb(pid).unwrap_or(0);
    let ok = done.iter().filter(|(ok, _)| *ok).count();
    println!(
        "{photos} concurrent uploads of a {:.1} MB 12-megapixel JPEG to `sonae serve` ({}): {ok} stored in {total:.1} s",
        jpeg.len() as f64 / 1_048_576.0,
        if pg.is_some() { "PostgreSQL" } else { "SQLite" }
    );
    println!(
        "  chat post while uploading: p50 {:.1} ms  p99 {:.1} ms  ({} posts); alone: p50 {:.1} ms  p99 {:.1} ms",
        pct(&busy, 0.5),
        pct(&busy, 0.99),
        busy.len(),
        pct(&quiet, 0.5),
        pct(&quiet, 0.99)
    );
    println!(
        "  server memory: {:.1} MB before, peak {:.1} MB",
        before_kb as f64 / 1024.0,
        peak as f64 / 1024.0
    );
    let _ = child.kill().await;
    b.finish().await;
    Ok(())
}

fn rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
}

async fn bench_idle(connections: usize, pg: Option<&str>) -> anyhow::Result<()> {
    // Users and sessions go into a database the separate server process then opens.
    let b = setup(connections, pg, 1).await?;
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0")?;
        l.local_addr()?.port()
    };
    let exe = std::env::current_exe()?.with_file_name("sonae");
    let mut child = tokio::process::Command::new(&exe)
        .arg("--database-url")
        .arg(&b.url)
        .arg("--bind")
        .arg(format!("127.0.0.1:{port}"))
        .env("RUST_LOG", "warn")
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| anyhow::anyhow!("start {}: {e}", exe.display()))?;
    let pid = child.id().unwrap_or(0);
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    for _ in 0..100 {
        if client.get(format!("{base}/healthz")).send().await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let before = rss_kb(pid).unwrap_or(0);
    let mut streams = Vec::new();
    for i in 0..connections {
        let res = client
            .get(format!("{base}/events"))
            .header("cookie", format!("sonae_session={}", b.tokens[i]))
            .send()
            .await?;
        streams.push(res);
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = rss_kb(pid).unwrap_or(0);
    println!(
        "memory of `sonae serve` ({}): {} KB before, {} KB with {} idle live connections ({:.1} MB)",
        if pg.is_some() { "PostgreSQL" } else { "SQLite" },
        before,
        after,
        streams.len(),
        after as f64 / 1024.0
    );
    drop(streams);
    let _ = child.kill().await;
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Page { requests } => bench_page(requests, cli.postgres.as_deref()).await,
        Cmd::Idle { connections } => bench_idle(connections, cli.postgres.as_deref()).await,
        Cmd::Users {
            max,
            step,
            step_seconds,
        } => bench_users(max, step, step_seconds, cli.postgres.as_deref()).await,
        Cmd::Board {
            shelters,
            reports,
            boards,
            live_reports,
            requests,
            import_rows,
        } => {
            bench_board(
                BoardArgs {
                    shelters,
                    reports,
                    boards,
                    live_reports,
                    requests,
                    import_rows,
                },
                cli.postgres.as_deref(),
            )
            .await
        }
        Cmd::Photo { runs } => bench_photo(runs),
        Cmd::Confirm {
            rooms,
            members,
            requests,
            readers,
            seconds,
        } => {
            bench_matrix(rooms, members, requests, cli.postgres.as_deref()).await?;
            bench_reads(readers, seconds, cli.postgres.as_deref()).await
        }
        Cmd::Handoff {
            entries,
            items,
            handoffs,
            requests,
        } => bench_handoff(entries, items, handoffs, requests, cli.postgres.as_deref()).await,
        Cmd::Uploads { photos } => bench_uploads(photos, cli.postgres.as_deref()).await,
        Cmd::Post { posters, seconds } => {
            bench_post(posters, seconds, cli.postgres.as_deref(), cli.instances).await
        }
        Cmd::Fanout {
            subscribers,
            posts,
            interval_ms,
        } => {
            bench_fanout(
                subscribers,
                posts,
                interval_ms,
                cli.postgres.as_deref(),
                cli.instances,
            )
            .await
        }
    }
}
