//! Running the server: bind, serve, shut down gracefully.

use crate::app::App;
use crate::clock::SystemClock;
use crate::config::{Config, DbArgs, ServeArgs};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;

/// Opens the database, applies migrations, and builds the application.
pub async fn build_app(db: &DbArgs, mut config: Config) -> anyhow::Result<App> {
    std::fs::create_dir_all(&db.data_dir)?;
    config.files = crate::files::Files::open(db)?;
    config.files.check().await?;
    let store = crate::store::open(&db.url()).await?;
    store.migrate().await?;
    Ok(App::new(store, Arc::new(SystemClock), config).await)
}

/// Serves `app` on `listener` until `shutdown` resolves; streams close, in-flight requests finish.
pub async fn serve_on(
    app: App,
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let live = app.live.clone();
    let store = app.store.clone();
    let router = crate::web::router(app);
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown.await;
        tracing::info!("shutting down: closing live streams, finishing requests");
        live.shutdown();
    })
    .await?;
    store.close().await;
    Ok(())
}

/// `sonae serve`.
pub async fn serve(db: DbArgs, args: ServeArgs) -> anyhow::Result<()> {
    let config = Config::from_serve(&args);
    let mut app = build_app(&db, config).await?;
    // Forget idempotency keys after 8 days (they must live at least 7), and the chunks of
    // uploads abandoned for 3 days.
    {
        let app = app.clone();
        tokio::spawn(async move {
            loop {
                let cutoff = app.now() - 8 * 24 * 3600 * 1000;
                if let Err(e) = app.store.purge_idempotency(cutoff).await {
                    tracing::warn!(error = %e, "could not purge idempotency keys");
                }
                match app.remove_abandoned_uploads().await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(chunks = n, "removed abandoned upload chunks"),
                    Err(e) => tracing::warn!(error = %e, "could not remove abandoned uploads"),
                }
                tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
            }
        });
    }
    // Tell the managers about handoffs nobody acknowledged in time (claimed in the database,
    // so several instances notify once).
    {
        let app = app.clone();
        tokio::spawn(async move {
            loop {
                if let Err(e) = app.escalate_handoffs().await {
                    tracing::warn!(error = %e, "could not escalate waiting handoffs");
                }
                tokio::time::sleep(std::time::Duration::from_secs(30)).await;
            }
        });
    }
    if let Some(url) = &args.smtp_url {
        let mailer = crate::mail::Mailer::new(url, &args.mail_from)?;
        app.mailer = Some(mailer.clone());
        tokio::spawn(mailer.run(app.clone()));
        tracing::info!(relay = %url, "e-mail copies of inbox items are on");
    }
    let listener = TcpListener::bind(args.bind).await?;
    tracing::info!(address = %args.bind, database = %redact(&db.url()), "Sonae is listening");
    if let Some(link) = app.setup_link().await? {
        println!();
        println!("  No accounts yet. Open this one-time link to create the deployment admin:");
        println!("  {link}");
        println!();
    }
    serve_on(app, listener, shutdown_signal()).await
}

/// A database URL with its password hidden, for logs.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn redacts_passwords() {
        assert_eq!(
            super::redact("postgres://u:secret@h/db"),
            "postgres://u:***@h/db"
        );
        assert_eq!(
            super::redact("sqlite://data/sonae.db"),
            "sqlite://data/sonae.db"
        );
    }
}
