//! Test harness: a real app on a temporary SQLite database, driven over HTTP.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use sonae::app::App;
use sonae::clock::OffsetClock;
use sonae::config::Config;
use sonae::domain::*;
use sonae::store::{AuditRecord, Backend, NewOrg, NewUser, Org, User};
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use tower::ServiceExt;

pub const PASSWORD: &str = "correct horse battery";

/// One app with its own database folder.
pub struct TestApp {
    pub app: App,
    pub router: Router,
    pub clock: OffsetClock,
    pub dir: tempfile::TempDir,
    pub url: String,
}

/// Which backend this run of the suite tests: `SONAE_TEST_DATABASE=postgres` for PostgreSQL.
pub fn test_backend() -> Backend {
    match std::env::var("SONAE_TEST_DATABASE").as_deref() {
        Ok("postgres") => Backend::Postgres,
        _ => Backend::Sqlite,
    }
}

/// The PostgreSQL server used for tests (a superuser connection to its `postgres` database).
pub fn pg_admin_url() -> String {
    std::env::var("SONAE_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://root@localhost/postgres?host=/var/run/postgresql".into())
}

/// A new, empty database of its own for one test.
pub async fn fresh_pg_database() -> String {
    use sqlx::Executor;
    let admin = pg_admin_url();
    let name = format!("sonae_t_{}", uuid::Uuid::new_v4().simple());
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&admin)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL for tests at {admin}: {e}"));
    conn.execute(format!("CREATE DATABASE {name}").as_str())
        .await
        .expect("create database");
    let (base, query) = admin
        .split_once('?')
        .map(|(b, q)| (b.to_string(), format!("?{q}")))
        .unwrap_or((admin.clone(), String::new()));
    let base = base
        .rsplit_once('/')
        .map(|(b, _)| b.to_string())
        .unwrap_or(base);
    format!("{base}/{name}{query}")
}

/// A deployment with a prefecture, two municipalities and users of every role.
#[allow(dead_code)]
pub struct World {
    pub t: TestApp,
    pub pref: Org,
    pub tsu: Org,
    pub toba: Org,
    /// Deployment admin (prefecture).
    pub admin: User,
    /// Prefecture member.
    pub pref_member: User,
    /// 津市 org admin and member.
    pub tsu_admin: User,
    pub tsu_member: User,
    /// 鳥羽市 org admin and member.
    pub toba_admin: User,
    pub toba_member: User,
}

static HASH: OnceLock<String> = OnceLock::new();

fn password_hash() -> String {
    HASH.get_or_init(|| {
        use argon2::password_hash::{PasswordHasher, SaltString, rand_core::OsRng};
        let salt = SaltString::generate(&mut OsRng);
        argon2::Argon2::default()
            .hash_password(PASSWORD.as_bytes(), &salt)
            .expect("hash")
            .to_string()
    })
    .clone()
}

fn sys(at: i64) -> AuditRecord {
    AuditRecord {
        at,
        action: "test.seed".into(),
        result: "ok".into(),
        ..Default::default()
    }
}

impl TestApp {
    pub async fn new() -> Self {
        Self::with_config(Config::default()).await
    }

    pub async fn with_config(config: Config) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = match test_backend() {
            Backend::Sqlite => format!("sqlite://{}", dir.path().join("sonae.db").display()),
            Backend::Postgres => fresh_pg_database().await,
        };
        Self::open(dir, url, config).await
    }

    /// Opens (again) the database in `dir`, as a restarted server would.
    pub async fn open(dir: tempfile::TempDir, url: String, mut config: Config) -> Self {
        if matches!(config.files, sonae::files::Files::Local(_)) {
            config.files = sonae::files::Files::Local(dir.path().join("files"));
        }
        let store = sonae::store::open(&url).await.expect("open store");
        store.migrate().await.expect("migrate");
        let clock = OffsetClock::default();
        let app = App::new(store, Arc::new(clock.clone()), config).await;
        let router = sonae::web::router(app.clone());
        TestApp {
            app,
            router,
            clock,
            dir,
            url,
        }
    }

    pub fn client(&self) -> Client {
        Client {
            router: self.router.clone(),
            cookies: HashMap::new(),
            csrf: String::new(),
            lang: None,
            forwarded_for: None,
        }
    }

    pub async fn org(&self, slug: &str, name: &str, kind: OrgKind, code: Option<&str>) -> Org {
        let now = self.app.now();
        self.app
            .store
            .create_org(
                NewOrg {
                    slug: OrgSlug::parse(slug).expect("slug"),
                    name: DisplayName::parse(name).expect("name"),
                    kind,
                    lg_code: code.map(|c| LgCode::parse(c).expect("code")),
                },
                now,
                sys(now),
            )
            .await
            .expect("org")
    }

    pub async fn user(&self, org: &Org, login: &str, role: Role) -> User {
        let now = self.app.now();
        self.app
            .store
            .create_user(
                NewUser {
                    org_id: org.id,
                    login: LoginId::parse(login).expect("login"),
                    display_name: DisplayName::parse(&format!("{login} さん")).expect("name"),
                    email: None,
                    role,
                    lang: None,
                    password_hash: Some(password_hash()),
                },
                None,
                now,
                sys(now),
            )
            .await
            .expect("user")
    }

    /// A logged-in client for `login`.
    pub async fn login(&self, login: &str) -> Client {
        let mut c = self.client();
        c.login(login, PASSWORD).await;
        c
    }
}

impl World {
    pub async fn new() -> Self {
        Self::with(TestApp::new().await).await
    }

    pub async fn with(t: TestApp) -> Self {
        let now = t.app.now();
        // The deployment organisation comes from setup, as in production.
        let token = "setup-token-for-tests";
        t.app
            .store
            .create_setup_link(
                sonae::store::NewLink {
                    token_hash: sonae::app::token_hash(token),
                    purpose: "setup",
                    expires_at: now + 3_600_000,
                },
                now,
            )
            .await
            .expect("setup link");
        t.app
            .store
            .complete_setup(
                &sonae::app::token_hash(token),
                NewOrg {
                    slug: OrgSlug::parse("mie-pref").expect("slug"),
                    name: DisplayName::parse("三重県").expect("name"),
                    kind: OrgKind::Prefecture,
                    lg_code: Some(LgCode::parse("240001").expect("code")),
                },
                NewUser {
                    org_id: OrgId::new(),
                    login: LoginId::parse("admin").expect("login"),
                    display_name: DisplayName::parse("県 管理者").expect("name"),
                    email: None,
                    role: Role::DeploymentAdmin,
                    lang: None,
                    password_hash: Some(password_hash()),
                },
                now,
            )
            .await
            .expect("setup");
        let pref = t.app.store.org_by_ref("mie-pref").await.expect("pref");
        let admin = t
            .app
            .store
            .credentials("admin")
            .await
            .expect("admin")
            .expect("admin")
            .0;
        let tsu = t
            .org("tsu", "津市", OrgKind::Municipality, Some("242012"))
            .await;
        let toba = t
            .org("toba", "鳥羽市", OrgKind::Municipality, Some("242110"))
            .await;
        let pref_member = t.user(&pref, "mie.info", Role::Member).await;
        let tsu_admin = t.user(&tsu, "tsu.admin", Role::OrgAdmin).await;
        let tsu_member = t.user(&tsu, "tsu.info", Role::Member).await;
        let toba_admin = t.user(&toba, "toba.admin", Role::OrgAdmin).await;
        let toba_member = t.user(&toba, "toba.info", Role::Member).await;
        World {
            t,
            pref,
            tsu,
            toba,
            admin,
            pref_member,
            tsu_admin,
            tsu_member,
            toba_admin,
            toba_member,
        }
    }
}

/// An HTTP response, read whole.
#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: String,
    /// The body as sent (for files).
    pub bytes: Vec<u8>,
}

impl Resp {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
    pub fn location(&self) -> String {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    }
    /// The value of a hidden input named `name` (the first one).
    pub fn hidden(&self, name: &str) -> String {
        let needle = format!("name=\"{name}\" value=\"");
        let at = self
            .body
            .find(&needle)
            .unwrap_or_else(|| panic!("no input {name}"));
        let rest = &self.body[at + needle.len()..];
        rest[..rest.find('"').unwrap_or(0)].to_string()
    }
}

/// A browser-like client: keeps cookies and the CSRF token.
#[derive(Clone)]
pub struct Client {
    pub router: Router,
    pub cookies: HashMap<String, String>,
    pub csrf: String,
    pub lang: Option<&'static str>,
    /// Sent as `X-Forwarded-For` (as a reverse proxy would).
    pub forwarded_for: Option<String>,
}

impl Client {
    pub async fn send(&mut self, req: Request<Body>) -> Resp {
        let res = self.router.clone().oneshot(req).await.expect("infallible");
        for v in res.headers().get_all(header::SET_COOKIE) {
            if let Some((kv, _)) = v
                .to_str()
                .unwrap_or("")
                .split_once(';')
                .or(Some((v.to_str().unwrap_or(""), "")))
            {
                if let Some((k, val)) = kv.split_once('=') {
                    if val.is_empty() {
                        self.cookies.remove(k.trim());
                    } else {
                        self.cookies.insert(k.trim().to_string(), val.to_string());
                    }
                }
            }
        }
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = axum::body::to_bytes(res.into_body(), 32 << 20)
            .await
            .expect("body");
        Resp {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).to_string(),
            bytes: bytes.to_vec(),
        }
    }

    fn builder(&self, method: &str, path: &str) -> axum::http::request::Builder {
        let cookie = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let mut b = Request::builder().method(method).uri(path);
        if !cookie.is_empty() {
            b = b.header(header::COOKIE, cookie);
        }
        if let Some(l) = self.lang {
            b = b.header(header::ACCEPT_LANGUAGE, l);
        }
        if let Some(f) = &self.forwarded_for {
            b = b.header("x-forwarded-for", f.as_str());
        }
        b
    }

    pub async fn get(&mut self, path: &str) -> Resp {
        let req = self
            .builder("GET", path)
            .body(Body::empty())
            .expect("request");
        self.send(req).await
    }

    pub async fn get_json(&mut self, path: &str) -> Resp {
        let req = self
            .builder("GET", path)
            .header(header::ACCEPT, "application/json")
            .body(Body::empty())
            .expect("request");
        self.send(req).await
    }

    /// Posts a form as a browser without JavaScript would (adds the CSRF token unless given).
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Resp {
        let body = self.encode(fields);
        let req = self
            .builder("POST", path)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .expect("request");
        self.send(req).await
    }

    /// Posts a form as the page script does: asking for JSON.
    pub async fn post_json(&mut self, path: &str, fields: &[(&str, &str)]) -> Resp {
        let body = self.encode(fields);
        let req = self
            .builder("POST", path)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT, "application/json")
            .body(Body::from(body))
            .expect("request");
        self.send(req).await
    }

    /// Posts raw bytes.
    pub async fn post_raw(&mut self, path: &str, content_type: &str, body: Vec<u8>) -> Resp {
        let req = self
            .builder("POST", path)
            .header(header::CONTENT_TYPE, content_type)
            .header(header::ACCEPT, "application/json")
            .body(Body::from(body))
            .expect("request");
        self.send(req).await
    }

    /// Posts a multipart form (as a browser uploads a file), the CSRF token added.
    pub async fn post_multipart(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
        file: Option<(&str, &[u8])>,
    ) -> Resp {
        let boundary = "----sonae-test-boundary-7d1c";
        let mut body: Vec<u8> = Vec::new();
        let csrf = self.csrf.clone();
        let mut all: Vec<(&str, &str)> = fields.to_vec();
        if !fields.iter().any(|(k, _)| *k == "csrf") {
            all.push(("csrf", &csrf));
        }
        for (k, v) in all {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
                )
                .as_bytes(),
            );
        }
        if let Some((name, bytes)) = file {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
                )
                .as_bytes(),
            );
            body.extend_from_slice(bytes);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        let req = self
            .builder("POST", path)
            .header(
                header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(Body::from(body))
            .expect("request");
        self.send(req).await
    }

    fn encode(&self, fields: &[(&str, &str)]) -> String {
        let mut pairs: Vec<(String, String)> = fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        if !fields.iter().any(|(k, _)| *k == "csrf") && !self.csrf.is_empty() {
            pairs.push(("csrf".into(), self.csrf.clone()));
        }
        pairs
            .iter()
            .map(|(k, v)| format!("{}={}", urlencoding::encode(k), urlencoding::encode(v)))
            .collect::<Vec<_>>()
            .join("&")
    }

    pub async fn login(&mut self, login: &str, password: &str) -> Resp {
        let page = self.get("/login").await;
        let pre = page.hidden("pre");
        let res = self
            .post(
                "/login",
                &[
                    ("login", login),
                    ("password", password),
                    ("next", "/"),
                    ("pre", &pre),
                ],
            )
            .await;
        if res.status == StatusCode::SEE_OTHER {
            let s = self.get_json("/api/v1/session").await;
            assert_eq!(s.status, StatusCode::OK, "session after login: {}", s.body);
            self.csrf = s.json()["csrf"].as_str().unwrap_or_default().to_string();
        }
        res
    }

    /// Posts a message with a fresh key; returns the message id.
    pub async fn say(&mut self, room: &RoomId, text: &str) -> String {
        let key = uuid::Uuid::new_v4().to_string();
        let r = self
            .post_json(
                &format!("/rooms/{room}/messages"),
                &[("body", text), ("idem", &key)],
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "post failed: {}", r.body);
        r.json()["message_id"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Creates a group room inviting `logins`; returns its id.
    pub async fn room(&mut self, name: &str, logins: &str) -> RoomId {
        let key = uuid::Uuid::new_v4().to_string();
        let r = self
            .post_json(
                "/rooms",
                &[("name", name), ("invite", logins), ("idem", &key)],
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "create room failed: {}", r.body);
        r.json()["room_id"]
            .as_str()
            .unwrap_or_default()
            .parse()
            .expect("room id")
    }
}
