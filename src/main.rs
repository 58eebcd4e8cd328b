//! The `sonae` command.

use clap::{Parser, Subcommand};
use sonae::config::{DbArgs, ServeArgs};

#[derive(Parser)]
#[command(
    name = "sonae",
    version,
    about = "Sonae (備え): disaster-response incident board"
)]
struct Cli {
    #[command(flatten)]
    db: DbArgs,
    /// `serve` settings (also accepted without the subcommand).
    #[command(flatten)]
    serve: ServeArgs,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the web server (the default).
    Serve,
    /// Create the database if missing and apply migrations.
    Migrate,
    /// Load the demo (三重県 and its 29 市町) into an empty database.
    Demo,
    /// Take a consistent backup of the database and uploaded files into a new folder.
    Backup {
        /// The folder to create (or an empty one).
        dir: std::path::PathBuf,
    },
    /// Restore a backup into an empty database and data folder.
    Restore {
        /// The backup folder.
        dir: std::path::PathBuf,
    },
    /// Create a personal API token for a user (for scripts and tests); prints it once.
    Token {
        /// The user's login id.
        #[arg(long)]
        login: String,
        /// A name to recognise the token by.
        #[arg(long, default_value = "cli")]
        name: String,
    },
    /// Copy every table into another, empty database (SQLite ⇄ PostgreSQL).
    CopyDb {
        /// Source database URL.
        #[arg(long)]
        from: String,
        /// Target database URL; it must be empty.
        #[arg(long)]
        to: String,
    },
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,sqlx=warn,tower_http=info".into());
    if std::env::var("SONAE_LOG_JSON").is_ok_and(|v| v == "1") {
        tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .init();
    } else {
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_target(false)
            .init();
    }
    let cli = Cli::parse();
    let result = match cli.command {
        None | Some(Command::Serve) => sonae::server::serve(cli.db, cli.serve).await,
        Some(Command::Migrate) => migrate(&cli.db).await,
        Some(Command::Demo) => sonae::demo::run(&cli.db).await,
        Some(Command::CopyDb { from, to }) => copy_db(&from, &to).await,
        Some(Command::Token { login, name }) => token(&cli.db, &login, &name).await,
        Some(Command::Backup { dir }) => sonae::backup::backup(&cli.db, &dir).await.map(|m| {
            println!(
                "backed up {} tables and {} files into {}",
                m.tables.len(),
                m.files.len(),
                dir.display()
            );
        }),
        Some(Command::Restore { dir }) => sonae::backup::restore(&cli.db, &dir).await.map(|m| {
            println!(
                "restored the backup of {} taken at {}",
                m.source, m.created_at
            );
        }),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn migrate(db: &DbArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&db.data_dir)?;
    let store = sonae::store::open(&db.url()).await?;
    store.migrate().await?;
    println!("migrations applied to {}", sonae::server::redact(&db.url()));
    Ok(())
}

async fn copy_db(from: &str, to: &str) -> anyhow::Result<()> {
    let report = sonae::store::copy::copy_db(from, to).await?;
    for (table, n) in &report.tables {
        println!("{table:>16}: {n} rows");
    }
    println!(
        "copied {} to {}",
        sonae::server::redact(from),
        sonae::server::redact(to)
    );
    Ok(())
}

async fn token(db: &DbArgs, login: &str, name: &str) -> anyhow::Result<()> {
    let app = sonae::server::build_app(db, sonae::config::Config::default()).await?;
    let user = app
        .store
        .credentials(&login.to_ascii_lowercase())
        .await?
        .map(|(u, _)| u)
        .ok_or_else(|| anyhow::anyhow!("no user with login {login}"))?;
    let actor = sonae::app::Actor {
        user,
        session_hash: String::new(),
        address: "cli".into(),
    };
    let token = app
        .create_token(&actor, name)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!("{token}");
    Ok(())
}
