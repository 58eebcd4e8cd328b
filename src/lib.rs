//! Sonae (備え): a disaster-response incident board for local governments.
//!
//! Layers, dependencies pointing down: `web` → `app` → `store`/`live` → `domain`.

pub mod app;
pub mod backup;
pub mod clock;
pub mod config;
pub mod demo;
pub mod domain;
pub mod error;
pub mod files;
pub mod i18n;
pub mod import;
pub mod live;
pub mod mail;
pub mod media;
pub mod server;
pub mod store;
pub mod web;
