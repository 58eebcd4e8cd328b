//! Request context: the logged-in user, the language, CSRF checks, forms that fail politely.

use crate::app::{Actor, App};
use crate::domain::{IdemKey, Lang, Role};
use crate::error::AppError;
use crate::i18n::Tr;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::{HeaderMap, header, request::Parts};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use serde::de::DeserializeOwned;
use std::net::SocketAddr;

pub const SESSION_COOKIE: &str = "sonae_session";
pub const LANG_COOKIE: &str = "sonae_lang";
pub const PRE_CSRF_COOKIE: &str = "sonae_pre";

/// The language for a request without a user: the cookie, then `Accept-Language`, then Japanese.
pub fn request_lang(headers: &HeaderMap) -> Lang {
    let jar = CookieJar::from_headers(headers);
    if let Some(l) = jar
        .get(LANG_COOKIE)
        .and_then(|c| Lang::parse(c.value()).ok())
    {
        return l;
    }
    headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(Lang::from_accept_language)
        .unwrap_or_default()
}

/// Whether the client wants JSON rather than a page.
pub fn wants_json(parts_headers: &HeaderMap, path: &str) -> bool {
    if path.starts_with("/api/") {
        return true;
    }
    parts_headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/json") && !a.contains("text/html"))
}

/// The client's address: the peer, or behind a trusted reverse proxy (`--trust-proxy`) the
/// last address that proxy appended to `X-Forwarded-For`.
fn client_address(parts: &Parts, trust_proxy: bool) -> String {
    if trust_proxy {
        let forwarded = parts
            .headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .map(str::trim)
            .and_then(|a| a.parse::<std::net::IpAddr>().ok());
        if let Some(ip) = forwarded {
            return ip.to_string();
        }
    }
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_else(|| "local".into())
}

/// The logged-in user of a request; rejects with 401 otherwise.
#[derive(Debug, Clone)]
pub struct Session {
    pub actor: Actor,
    pub csrf: String,
    pub tr: Tr,
}

impl Session {
    pub fn is_admin(&self) -> bool {
        self.actor.user.role >= Role::OrgAdmin
    }
    /// Checks the CSRF token of a state-changing request.
    pub fn check_csrf(&self, token: &str) -> Result<(), AppError> {
        use subtle_eq::eq;
        if eq(token.as_bytes(), self.csrf.as_bytes()) {
            Ok(())
        } else {
            Err(AppError::Forbidden)
        }
    }
}

/// Constant-time comparison of secrets.
mod subtle_eq {
    pub fn eq(a: &[u8], b: &[u8]) -> bool {
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

impl FromRequestParts<App> for Session {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        let jar = CookieJar::from_headers(&parts.headers);
        let Some(token) = jar.get(SESSION_COOKIE).map(|c| c.value().to_string()) else {
            return Err(AppError::Unauthorized);
        };
        let Some(su) = app.session(&token).await? else {
            return Err(AppError::Unauthorized);
        };
        let lang = su.user.lang.unwrap_or_else(|| request_lang(&parts.headers));
        Ok(Session {
            csrf: su.csrf.clone(),
            tr: Tr::new(lang, app.config.tz),
            actor: Actor {
                address: client_address(parts, app.config.trust_proxy),
                session_hash: su.session_hash,
                user: su.user,
            },
        })
    }
}

/// A session if there is one, for pages that also serve visitors.
pub struct MaybeSession(pub Option<Session>);

impl FromRequestParts<App> for MaybeSession {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        match Session::from_request_parts(parts, app).await {
            Ok(s) => Ok(MaybeSession(Some(s))),
            Err(AppError::Unauthorized) => Ok(MaybeSession(None)),
            Err(e) => Err(e),
        }
    }
}

/// Language and address for pages without a session.
pub struct Visitor {
    pub tr: Tr,
    pub address: String,
    pub user_agent: String,
}

impl FromRequestParts<App> for Visitor {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        Ok(Visitor {
            tr: Tr::new(request_lang(&parts.headers), app.config.tz),
            address: client_address(parts, app.config.trust_proxy),
            user_agent: parts
                .headers
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string(),
        })
    }
}

/// A urlencoded form whose rejection is a clear 400, not axum's plain text.
pub struct Form<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Form<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_form = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
        if !is_form {
            return Err(AppError::BadRequest("err-bad-form"));
        }
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|_| AppError::TooLarge)?;
        if !form_is_utf8(&bytes) {
            return Err(AppError::BadRequest("err-bad-utf8"));
        }
        serde_urlencoded::from_bytes::<T>(&bytes)
            .map(Form)
            .map_err(|_| AppError::BadRequest("err-bad-form"))
    }
}

/// Whether every name and value of a urlencoded body is valid UTF-8 once decoded
/// (the standard decoder would silently replace bad bytes).
fn form_is_utf8(body: &[u8]) -> bool {
    body.split(|b| *b == b'&').all(|pair| {
        pair.split(|b| *b == b'=').all(|part| {
            let plus: Vec<u8> = part
                .iter()
                .map(|b| if *b == b'+' { b' ' } else { *b })
                .collect();
            std::str::from_utf8(&urlencoding::decode_binary(&plus)).is_ok()
        })
    })
}

/// A state-changing request from a logged-in user: the session, the form, and the headers,
/// with the CSRF token (form field `csrf` or header `X-CSRF-Token`) already checked.
pub struct Write<T> {
    pub s: Session,
    pub form: T,
    pub headers: HeaderMap,
}

#[derive(serde::Deserialize)]
struct WithCsrf<T> {
    #[serde(default)]
    csrf: String,
    #[serde(flatten)]
    inner: T,
}

impl<T: DeserializeOwned> FromRequest<App> for Write<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, app: &App) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let s = Session::from_request_parts(&mut parts, app).await?;
        let headers = parts.headers.clone();
        let Form(f) =
            Form::<WithCsrf<T>>::from_request(Request::from_parts(parts, body), app).await?;
        s.check_csrf(csrf_of(&headers, Some(&f.csrf)))?;
        Ok(Write {
            s,
            form: f.inner,
            headers,
        })
    }
}

/// A multipart upload from a logged-in user: the files sent as `file` (any number), the other
/// fields, the headers, with the CSRF token (field `csrf` or header) already checked. A body
/// over the route's limit is a 413.
pub struct Upload {
    pub s: Session,
    pub headers: HeaderMap,
    pub files: Vec<Vec<u8>>,
    pub fields: std::collections::HashMap<String, String>,
}

impl Upload {
    /// A text field, empty when absent.
    pub fn field(&self, name: &str) -> String {
        self.fields.get(name).cloned().unwrap_or_default()
    }
}

impl FromRequest<App> for Upload {
    type Rejection = AppError;

    async fn from_request(req: Request, app: &App) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let s = Session::from_request_parts(&mut parts, app).await?;
        let headers = parts.headers.clone();
        let (files, fields) = read_multipart(Request::from_parts(parts, body), app).await?;
        s.check_csrf(csrf_of(&headers, fields.get("csrf").map(String::as_str)))?;
        Ok(Upload {
            s,
            headers,
            files,
            fields,
        })
    }
}

/// Reads a `multipart/form-data` body: the files sent as `file` (any number) and the other
/// fields as text. A body over the route's limit is a 413; one that cannot be read, a 400.
pub async fn read_multipart(
    req: Request,
    app: &App,
) -> Result<(Vec<Vec<u8>>, std::collections::HashMap<String, String>), AppError> {
    let mut form = axum::extract::Multipart::from_request(req, app)
        .await
        .map_err(|_| AppError::BadRequest("err-bad-form"))?;
    let (mut files, mut fields) = (Vec::new(), std::collections::HashMap::new());
    while let Some(field) = form.next_field().await.map_err(multipart_error)? {
        let name = field.name().unwrap_or("").to_string();
        if name == "file" {
            files.push(field.bytes().await.map_err(multipart_error)?.to_vec());
        } else {
            fields.insert(name, field.text().await.map_err(multipart_error)?);
        }
    }
    Ok((files, fields))
}

/// A multipart body that cannot be read: 413 when over the route's limit, else 400.
fn multipart_error(e: axum::extract::multipart::MultipartError) -> AppError {
    if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        AppError::TooLarge
    } else {
        AppError::BadRequest("err-bad-form")
    }
}

/// The idempotency key of a write: the form's hidden field, else the `Idempotency-Key` header.
pub fn idem_key(headers: &HeaderMap, field: Option<&str>) -> Result<IdemKey, AppError> {
    let raw = field
        .filter(|s| !s.is_empty())
        .or_else(|| headers.get("idempotency-key").and_then(|v| v.to_str().ok()));
    match raw {
        None => Err(AppError::BadRequest("err-idem-missing")),
        Some(k) => IdemKey::parse(k).map_err(|_| AppError::BadRequest("err-idem-key")),
    }
}

/// The CSRF token of a request: the form field, else the `X-CSRF-Token` header.
pub fn csrf_of<'a>(headers: &'a HeaderMap, field: Option<&'a str>) -> &'a str {
    field
        .filter(|s| !s.is_empty())
        .or_else(|| headers.get("x-csrf-token").and_then(|v| v.to_str().ok()))
        .unwrap_or("")
}

/// The session cookie.
pub fn session_cookie(token: String, secure: bool) -> Cookie<'static> {
    Cookie::build((SESSION_COOKIE, token))
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .path("/")
        .build()
}

/// The language cookie, so pages before login and error pages speak the user's language.
pub fn lang_cookie(lang: Lang) -> Cookie<'static> {
    Cookie::build((LANG_COOKIE, lang.as_str()))
        .same_site(SameSite::Lax)
        .path("/")
        .max_age(time::Duration::days(365))
        .build()
}
