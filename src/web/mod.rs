//! HTTP: the router, middleware, pages, the live stream and JSON endpoints.

mod api;
mod api_confirm;
mod api_handoffs;
mod api_incidents;
mod api_items;
mod api_photos;
mod assets;
mod confirm_pages;
mod format;
mod handoff_pages;
mod incident_pages;
mod pages;
mod session;
mod sse;

pub use api::{ApiDoc, routes as api_routes};
pub use format::{escape, highlight, message_html};
pub use session::{LANG_COOKIE, SESSION_COOKIE};

use crate::app::App;
use crate::error::ErrorInfo;
use crate::i18n::Tr;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

/// Largest request body accepted (a 10,000-character message is at most 40 KB).
pub const MAX_BODY: usize = 256 * 1024;

/// Largest shelter file upload (the file itself is refused above 8 MB with a clear message).
pub const MAX_SHELTER_FILE: usize = 10 * 1024 * 1024;

/// Largest photo upload request (several photos of up to 40 MB each).
pub const MAX_PHOTO_UPLOAD: usize = 100 * 1024 * 1024;

/// Largest CSV accepted for bulk onboarding.
pub const MAX_IMPORT: usize = 4 * 1024 * 1024;

/// An id from a path. A malformed id is a 404, like an id that does not exist: callers learn
/// nothing from its shape.
fn parse_id<T: std::str::FromStr>(s: &str) -> crate::error::AppResult<T> {
    s.parse().map_err(|_| crate::error::AppError::NotFound)
}

/// A CSV download named `name`.
fn csv_file(bytes: Vec<u8>, name: &str) -> axum::response::Response {
    use axum::http::header;
    use axum::response::IntoResponse;
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        bytes,
    )
        .into_response()
}

/// The whole application as a router; tests and `serve` use the same.
pub fn router(app: App) -> Router {
    let errors = middleware::from_fn_with_state(app.clone(), render_errors);
    let mut router = Router::new();
    for (path, route) in api::routes() {
        router = router.route(path, route);
    }
    let x_request_id = header::HeaderName::from_static("x-request-id");
    router
        .route("/", get(pages::home))
        .route("/healthz", get(pages::healthz))
        .route("/setup", get(pages::setup_form).post(pages::setup_submit))
        .route("/login", get(pages::login_form).post(pages::login_submit))
        .route("/logout", post(pages::logout))
        .route("/activate/{token}", get(pages::activate_form).post(pages::activate_submit))
        .route("/rooms", post(pages::room_create))
        .route("/rooms/{room}", get(pages::room_page))
        .route("/rooms/{room}/messages", post(pages::message_post))
        .route("/rooms/{room}/messages/{msg}", get(pages::message_link))
        .route("/rooms/{room}/messages/{msg}/edit", get(pages::message_edit_form).post(pages::message_edit))
        .route("/rooms/{room}/messages/{msg}/delete", post(pages::message_delete))
        .route("/rooms/{room}/read", post(pages::room_read))
        .route("/rooms/{room}/messages/{msg}/confirm", post(confirm_pages::confirm))
        .route("/rooms/{room}/messages/{msg}/confirmations", get(confirm_pages::matrix))
        .route("/rooms/{room}/messages/{msg}/confirmations/remind", post(confirm_pages::remind))
        .route("/rooms/{room}/messages/{msg}/reads", get(confirm_pages::reads))
        .route("/broadcasts", post(confirm_pages::broadcast_create))
        .route("/broadcasts/new", get(confirm_pages::broadcast_new))
        .route("/broadcasts/{id}", get(confirm_pages::broadcast_page))
        .route("/broadcasts/{id}/remind", post(confirm_pages::broadcast_remind))
        .route("/rooms/{room}/settings", get(pages::room_settings))
        .route("/rooms/{room}/rename", post(pages::room_rename))
        .route("/rooms/{room}/archive", post(pages::room_archive))
        .route("/rooms/{room}/members", post(pages::room_invite))
        .route("/rooms/{room}/members/{user}/remove", post(pages::room_remove_member))
        .route("/rooms/{room}/members/{user}/role", post(pages::room_set_role))
        .route("/rooms/{room}/orgs", post(pages::room_add_org))
        .route("/rooms/{room}/orgs/{org}/remove", post(pages::room_remove_org))
        .route("/rooms/{room}/leave", post(pages::room_leave))
        .route("/direct", post(pages::direct_open))
        .route("/inbox", get(pages::inbox))
        .route("/inbox/read", post(pages::inbox_read))
        .route("/search", get(pages::search))
        .route("/settings", get(pages::settings))
        .route("/settings/password", post(pages::settings_password))
        .route("/settings/language", post(pages::settings_language))
        .route("/settings/email", post(pages::settings_email))
        .route("/settings/tokens", post(pages::settings_token_create))
        .route("/settings/tokens/{id}/revoke", post(pages::settings_token_revoke))
        .route("/settings/sessions/{id}/end", post(pages::settings_end_session))
        .route("/admin", get(pages::admin_home))
        .route("/admin/orgs", get(pages::admin_orgs).post(pages::admin_org_create))
        .route("/admin/users", get(pages::admin_users).post(pages::admin_user_create))
        .route("/admin/users/{user}/reset", post(pages::admin_user_reset))
        .route("/admin/users/{user}/active", post(pages::admin_user_active))
        .route("/admin/users/{user}/role", post(pages::admin_user_role))
        .route("/admin/users/{user}/end-sessions", post(pages::admin_user_end_sessions))
        .route("/admin/audit", get(pages::admin_audit))
        .route("/admin/import", get(pages::admin_import))
        .route(
            "/admin/import/users/preview",
            post(pages::admin_import_preview).layer(DefaultBodyLimit::max(MAX_IMPORT)),
        )
        .route(
            "/admin/import/users/apply",
            post(pages::admin_import_apply).layer(DefaultBodyLimit::max(MAX_IMPORT)),
        )
        .route(
            "/admin/import/orgs/preview",
            post(pages::admin_import_orgs_preview).layer(DefaultBodyLimit::max(MAX_IMPORT)),
        )
        .route(
            "/admin/import/orgs/apply",
            post(pages::admin_import_orgs_apply).layer(DefaultBodyLimit::max(MAX_IMPORT)),
        )
        .route("/incidents", post(incident_pages::incident_create))
        .route("/incidents/new", get(incident_pages::incident_new))
        .route("/incidents/{room}/board", get(incident_pages::board))
        .route("/incidents/{room}/board.csv", get(incident_pages::board_csv))
        .route("/incidents/{room}/close", post(incident_pages::incident_close))
        .route("/incidents/{room}/join", post(incident_pages::incident_join))
        .route("/incidents/{room}/reports", post(incident_pages::report_create))
        .route("/incidents/{room}/items", post(incident_pages::item_create))
        .route("/incidents/{room}/duty", post(incident_pages::duty_take))
        .route("/incidents/{room}/handoff/new", get(handoff_pages::new_handoff))
        .route("/incidents/{room}/positions", post(handoff_pages::define_position))
        .route(
            "/incidents/{room}/positions/{position}/take",
            post(handoff_pages::take_position),
        )
        .route("/incidents/{room}/handoffs", get(handoff_pages::of_incident).post(handoff_pages::hand_over))
        .route("/incidents/{room}/handoffs.csv", get(handoff_pages::incident_csv))
        .route("/incidents/{room}/items/{item}", get(handoff_pages::item_history))
        .route("/handoffs", get(handoff_pages::all))
        .route("/handoffs.csv", get(handoff_pages::all_csv))
        .route("/handoffs/{id}", get(handoff_pages::handoff))
        .route("/handoffs/{id}/edit", post(handoff_pages::edit))
        .route("/handoffs/{id}/acknowledge", post(handoff_pages::complete))
        .route("/handoffs/{id}/items/{item}/acknowledge", post(handoff_pages::acknowledge_item))
        .route("/handoffs/{id}/items/{item}/question", post(handoff_pages::ask))
        .route("/handoffs/{id}/items/{item}/answer", post(handoff_pages::answer))
        .route("/incidents/{room}/items/{item}/status", post(incident_pages::item_status))
        .route("/incidents/{room}/shelters", post(incident_pages::adhoc_create))
        .route("/incidents/{room}/shelters/{shelter}", get(incident_pages::shelter_page))
        .route(
            "/incidents/{room}/snapshot",
            get(incident_pages::snapshot_form)
                .post(incident_pages::snapshot_submit)
                .layer(DefaultBodyLimit::max(MAX_SHELTER_FILE)),
        )
        .route(
            "/incidents/{room}/photos",
            get(incident_pages::gallery)
                .post(incident_pages::photo_upload)
                .layer(DefaultBodyLimit::max(MAX_PHOTO_UPLOAD)),
        )
        .route("/photos/{id}", get(incident_pages::photo_page))
        .route("/photos/{id}/withdraw", post(incident_pages::photo_withdraw))
        .route("/photos/{id}/purge", post(incident_pages::photo_purge))
        .route("/photos/{id}/{file}", get(incident_pages::photo_file))
        .route("/shelters", get(incident_pages::registry_mine))
        .route("/orgs/{org}/shelters", get(incident_pages::registry).post(incident_pages::registry_add))
        .route(
            "/orgs/{org}/shelters/import",
            post(incident_pages::registry_import).layer(DefaultBodyLimit::max(MAX_SHELTER_FILE)),
        )
        .route(
            "/orgs/{org}/shelters/{shelter}",
            get(incident_pages::shelter_edit_form).post(incident_pages::shelter_edit),
        )
        .route("/events", get(sse::events))
        .route("/api/v1/openapi.json", get(api::openapi))
        .route("/static/{file}", get(assets::file))
        .route("/sw.js", get(assets::service_worker))
        .fallback(fallback)
        .layer(errors)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'",
            ),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
        .layer(PropagateRequestIdLayer::new(x_request_id.clone()))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            let id = req
                .headers()
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-");
            tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
        }))
        .layer(SetRequestIdLayer::new(x_request_id, MakeRequestUuid))
        .with_state(app)
}

async fn fallback() -> crate::error::AppError {
    crate::error::AppError::NotFound
}

#[derive(askama::Template)]
#[template(path = "error.html")]
struct ErrorPage {
    t: Tr,
    status: u16,
    message: String,
    login: bool,
}

/// Renders every error response as a page or JSON in the user's language.
async fn render_errors(State(app): State<App>, req: Request, next: Next) -> Response {
    let headers = req.headers().clone();
    let path = req.uri().path().to_string();
    let method = req.method().clone();
    let query = req
        .uri()
        .query()
        .map(|q| format!("?{q}"))
        .unwrap_or_default();
    let res = next.run(req).await;
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return res;
    }
    let info = res.extensions().get::<ErrorInfo>().cloned();
    // Responses already carrying a body of ours (form pages re-rendered with 422) pass through.
    if info.is_none() && res.headers().contains_key(header::CONTENT_TYPE) {
        let ct = res
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if ct.starts_with("text/html") || ct.starts_with("application/json") {
            return res;
        }
    }
    let info = info.unwrap_or_else(|| {
        let (code, key) = match status {
            StatusCode::NOT_FOUND => ("not_found", "err-not-found"),
            StatusCode::METHOD_NOT_ALLOWED => ("method_not_allowed", "err-method"),
            StatusCode::PAYLOAD_TOO_LARGE => ("too_large", "err-too-large"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => ("bad_request", "err-bad-form"),
            StatusCode::REQUEST_TIMEOUT => ("timeout", "err-unavailable"),
            s if s.is_server_error() => ("internal", "err-internal"),
            _ => ("bad_request", "err-bad-form"),
        };
        ErrorInfo {
            code,
            key,
            field: None,
        }
    });
    let t = Tr::new(session::request_lang(&headers), app.config.tz);
    let message = t.t(info.key);
    let json = session::wants_json(&headers, &path);
    if status == StatusCode::UNAUTHORIZED && !json && method == Method::GET {
        let next = format!("{path}{query}");
        return Redirect::to(&format!("/login?next={}", urlencoding::encode(&next)))
            .into_response();
    }
    let mut out = if json {
        let body = serde_json::json!({
            "error": { "code": info.code, "message": message, "field": info.field }
        });
        (status, axum::Json(body)).into_response()
    } else {
        let page = ErrorPage {
            t,
            status: status.as_u16(),
            message,
            login: status == StatusCode::UNAUTHORIZED,
        };
        match askama::Template::render(&page) {
            Ok(html) => (status, Html(html)).into_response(),
            Err(_) => (status, info.code).into_response(),
        }
    };
    if status == StatusCode::TOO_MANY_REQUESTS {
        out.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("900"));
    }
    out
}
