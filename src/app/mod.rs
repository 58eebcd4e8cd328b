//! Use cases. Each public method checks rights, validates, calls the store once, and rings the
//! live hub; handlers only parse, call and render.

mod accounts;
mod confirm;
mod handoffs;
mod incidents;
mod items;
mod onboarding;
mod photos;
mod rooms;
mod uploads;

pub use accounts::*;
pub use confirm::*;
pub use handoffs::*;
pub use incidents::*;
pub use items::*;
pub use onboarding::*;
pub use photos::*;
pub use rooms::*;
pub use uploads::*;

use crate::clock::Clock;
use crate::config::Config;
use crate::domain::*;
use crate::error::{AppError, AppResult};
use crate::live::LiveHub;
use crate::store::{AuditRecord, Millis, Store, User, millis};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use tokio::sync::Semaphore;

/// Everything a request needs: the store, the live hub, the clock and the settings.
#[derive(Clone)]
pub struct App {
    pub store: Arc<dyn Store>,
    pub live: LiveHub,
    pub clock: Arc<dyn Clock>,
    pub config: Arc<Config>,
    /// Bounds CPU-heavy work (password hashing) so a burst cannot starve the chat.
    cpu: Arc<Semaphore>,
    /// Bounds photo decoding to all cores but one, so uploads never take the whole machine.
    photo_cpu: Arc<Semaphore>,
    /// The SMTP relay, when one is configured.
    pub mailer: Option<crate::mail::Mailer>,
    /// Shelter boards as last read, with the version they were read at (see `board_rows`).
    boards: Arc<std::sync::Mutex<BoardCache>>,
}

/// Shelter boards by incident, as last read.
type BoardCache = std::collections::HashMap<RoomId, CachedBoard>;

/// A shelter board as last read (see `board_rows`).
#[derive(Clone)]
struct CachedBoard {
    /// The store's board version when it was read.
    version: (i64, i64, i64),
    rows: Arc<Vec<crate::store::BoardRow>>,
    /// When the whole board was last read; names (organisations, reporters) are as of then.
    read_at: crate::store::Millis,
}

/// Who is acting, from where.
#[derive(Debug, Clone)]
pub struct Actor {
    pub user: User,
    pub session_hash: String,
    pub address: String,
}

impl App {
    pub async fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, config: Config) -> Self {
        let live = LiveHub::start(store.clone()).await;
        Self {
            store,
            live,
            clock,
            config: Arc::new(config),
            cpu: Arc::new(Semaphore::new(2)),
            photo_cpu: Arc::new(Semaphore::new(
                std::thread::available_parallelism()
                    .map(|n| n.get().saturating_sub(1))
                    .unwrap_or(1)
                    .max(1),
            )),
            mailer: None,
            boards: Arc::default(),
        }
    }

    /// E-mails a one-time link to its user in the background, when a relay is set and the user
    /// has an address; the page shows the link either way.
    pub fn mail_link(&self, link: &IssuedLink) {
        let (Some(mailer), Some(to)) = (self.mailer.clone(), link.user.email.clone()) else {
            return;
        };
        let (app, link) = (self.clone(), link.clone());
        tokio::spawn(async move {
            if let Err(e) = mailer.send_link(&app, &to, &link).await {
                tracing::warn!(error = %e, user = %link.user.login, "activation e-mail not sent");
            }
        });
    }

    /// Now, as stored milliseconds.
    pub fn now(&self) -> Millis {
        millis(self.clock.now())
    }

    /// An audit record for `actor` doing `action` on `object`.
    pub fn audit_for(&self, actor: &Actor, action: &str, object: impl Into<String>) -> AuditRecord {
        AuditRecord {
            at: self.now(),
            user_id: Some(actor.user.id),
            user_login: Some(actor.user.login.clone()),
            org_id: Some(actor.user.org_id),
            action: action.to_string(),
            object: object.into(),
            address: actor.address.clone(),
            result: "ok".into(),
            detail: String::new(),
        }
    }

    /// Records a refused write (the change itself did not happen) and returns the error.
    pub async fn refuse(
        &self,
        actor: &Actor,
        action: &str,
        object: impl Into<String>,
        err: AppError,
    ) -> AppError {
        let mut rec = self.audit_for(actor, action, object);
        rec.result = format!("refused:{}", err.info().code);
        if let Err(e) = self.store.audit(rec).await {
            tracing::warn!(error = %e, "could not write audit record");
        }
        err
    }

    /// Hashes a password off the async runtime.
    pub async fn hash_password(&self, pw: Password) -> AppResult<String> {
        let _permit = self
            .cpu
            .acquire()
            .await
            .map_err(|_| AppError::Unavailable)?;
        tokio::task::spawn_blocking(move || {
            use argon2::password_hash::{PasswordHasher, SaltString, rand_core::OsRng};
            let salt = SaltString::generate(&mut OsRng);
            argon2::Argon2::default()
                .hash_password(pw.as_str().as_bytes(), &salt)
                .map(|h| h.to_string())
                .map_err(|e| AppError::Internal(format!("hash: {e}")))
        })
        .await
        .map_err(|e| AppError::Internal(format!("join: {e}")))?
    }

    /// Checks a password off the async runtime.
    pub async fn verify_password(&self, pw: String, hash: Option<String>) -> AppResult<bool> {
        let _permit = self
            .cpu
            .acquire()
            .await
            .map_err(|_| AppError::Unavailable)?;
        tokio::task::spawn_blocking(move || {
            use argon2::password_hash::{
                PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng,
            };
            // Without a hash, verify against a real one anyway so timing does not reveal accounts.
            static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
            let dummy = DUMMY.get_or_init(|| {
                argon2::Argon2::default()
                    .hash_password(b"no such account", &SaltString::generate(&mut OsRng))
                    .map(|h| h.to_string())
                    .unwrap_or_default()
            });
            let h = hash.as_deref().unwrap_or(dummy);
            let Ok(parsed) = PasswordHash::new(h) else {
                return false;
            };
            argon2::Argon2::default()
                .verify_password(pw.as_bytes(), &parsed)
                .is_ok()
                && hash.is_some()
        })
        .await
        .map_err(|e| AppError::Internal(format!("join: {e}")))
    }
}

/// A fresh random token (256 bits, hex).
pub fn random_token() -> String {
    let mut buf = [0u8; 32];
    if getrandom::fill(&mut buf).is_err() {
        // The OS generator failing is not recoverable; uuid v4 draws from the same source.
        let a = uuid::Uuid::new_v4();
        let b = uuid::Uuid::new_v4();
        return format!("{}{}", a.simple(), b.simple());
    }
    hex::encode(buf)
}

/// The stored form of a token: its SHA-256, hex.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}
