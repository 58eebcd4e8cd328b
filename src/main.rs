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
    /// The shelter registry.
    Shelters {
        #[command(subcommand)]
        command: SheltersCommand,
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

#[derive(Subcommand)]
enum SheltersCommand {
    /// Import a shelter file (standard open-data CSV, GSI CSV or GeoJSON; UTF-8 or Shift_JIS)
    /// into an organisation's registry. Re-importing updates and never duplicates.
    Import {
        /// The file.
        file: std::path::PathBuf,
        /// The organisation: short id or 全国地方公共団体コード.
        #[arg(long)]
        org: String,
        /// Only read and check the file; change nothing.
        #[arg(long)]
        check: bool,
        /// Import the good rows even when some rows have problems.
        #[arg(long)]
        skip_invalid: bool,
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
        Some(Command::Shelters {
            command:
                SheltersCommand::Import {
                    file,
                    org,
                    check,
                    skip_invalid,
                },
        }) => shelters_import(&cli.db, &file, &org, check, skip_invalid).await,
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

async fn shelters_import(
    db: &DbArgs,
    file: &std::path::Path,
    org: &str,
    check: bool,
    skip_invalid: bool,
) -> anyhow::Result<()> {
    use sonae::import::{decode_text, parse_shelters, read_table};
    let t = sonae::i18n::Tr::new(sonae::domain::Lang::Ja, time::UtcOffset::UTC);
    let bytes = std::fs::read(file)?;
    let explain = |p: &sonae::import::Problem| {
        format!(
            "{}{}{}",
            p.column
                .as_ref()
                .map(|c| format!("{c}: "))
                .unwrap_or_default(),
            t.t(p.key),
            p.value
                .as_ref()
                .map(|v| format!(" ({v})"))
                .unwrap_or_default()
        )
    };
    let parsed = decode_text(&bytes)
        .and_then(|text| read_table(&text))
        .and_then(|table| parse_shelters(&table))
        .map_err(|p| anyhow::anyhow!("{}", explain(&p)))?;
    let mut rows = Vec::new();
    let mut bad = 0;
    for r in parsed.rows {
        match r {
            Ok(row) => rows.push(row),
            Err(problems) => {
                bad += 1;
                for p in &problems {
                    eprintln!("line {}: {}", p.line, explain(p));
                }
            }
        }
    }
    println!("{} rows readable, {bad} with problems", rows.len());
    if !parsed.unused_columns.is_empty() {
        println!("columns not used: {}", parsed.unused_columns.join(", "));
    }
    if bad > 0 && !skip_invalid {
        anyhow::bail!("nothing imported: fix the rows above, or pass --skip-invalid");
    }
    if check {
        return Ok(());
    }
    let store = sonae::store::open(&db.url()).await?;
    store.migrate().await?;
    let org = store
        .org_by_ref(org)
        .await
        .map_err(|_| anyhow::anyhow!("no organisation {org:?} (short id or code)"))?;
    let now = sonae::store::millis(sonae::clock::Clock::now(&sonae::clock::SystemClock));
    let audit = sonae::store::AuditRecord {
        at: now,
        org_id: Some(org.id),
        action: "shelter.import".into(),
        object: format!("org:{}", org.id),
        result: "ok".into(),
        detail: format!("cli {}", file.display()),
        ..Default::default()
    };
    let outcome = store.import_shelters(org.id, rows, now, audit).await?;
    println!(
        "{}: added {}, updated {}, unchanged {}",
        org.name, outcome.added, outcome.updated, outcome.unchanged
    );
    store.close().await;
    Ok(())
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
