//! The one integration-test binary: HTTP tests against the real router on temporary databases.

mod support;

mod accounts;
mod backup;
mod bad_input;
mod confirm;
mod copy;
mod handoffs;

mod browser;
mod idempotency;
mod instances;
mod items;
mod json_api;
mod live;
mod mail;
mod messages;
mod object_store;
mod onboarding;
mod outage;
mod photos;
mod roles;
mod rooms;
mod search;
mod shelters;
mod uploads;

/// Says which backend this run covers, so a plain `cargo test` is clear about the other one.
#[test]
fn backend_under_test() {
    match support::test_backend() {
        sonae::store::Backend::Sqlite => eprintln!(
            "NOTE: this run tests SQLite; the PostgreSQL pass runs with SONAE_TEST_DATABASE=postgres (bash .ci/test-all.sh runs both)"
        ),
        sonae::store::Backend::Postgres => eprintln!(
            "NOTE: this run tests PostgreSQL at {}",
            support::pg_admin_url()
        ),
    }
}
