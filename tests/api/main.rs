//! The one integration-test binary: HTTP tests against the real router on temporary databases.

mod support;

mod accounts;
mod bad_input;

mod browser;
mod idempotency;
mod live;
mod mail;
mod messages;
mod roles;
mod rooms;
mod search;
