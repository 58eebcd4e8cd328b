//! Run-time configuration, from flags and `SONAE_*` environment variables.

use clap::Args;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Where a deployment keeps its data: the database and the uploaded files. Shared by every
/// command that opens them.
#[derive(Debug, Clone, Default, Args)]
pub struct DbArgs {
    /// Folder for the database and uploaded files.
    #[arg(long, env = "SONAE_DATA_DIR", default_value = "./data", global = true)]
    pub data_dir: PathBuf,
    /// Database URL; defaults to `sqlite://<data-dir>/sonae.db`.
    #[arg(long, env = "SONAE_DATABASE_URL", global = true)]
    pub database_url: Option<String>,
    /// S3-compatible bucket for uploaded files instead of `<data-dir>/files`, as
    /// `https://host[:port]/bucket[/prefix]` (for several instances).
    #[arg(long, env = "SONAE_OBJECT_STORE", global = true)]
    pub object_store: Option<String>,
    /// Region of the object store.
    #[arg(
        long,
        env = "SONAE_OBJECT_STORE_REGION",
        default_value = "us-east-1",
        global = true
    )]
    pub object_store_region: String,
    /// Access key id of the object store (else `AWS_ACCESS_KEY_ID`).
    #[arg(
        long,
        env = "SONAE_OBJECT_STORE_KEY_ID",
        global = true,
        hide_env_values = true
    )]
    pub object_store_key_id: Option<String>,
    /// Secret access key of the object store (else `AWS_SECRET_ACCESS_KEY`).
    #[arg(
        long,
        env = "SONAE_OBJECT_STORE_SECRET",
        global = true,
        hide_env_values = true
    )]
    pub object_store_secret: Option<String>,
    /// Address the bucket as `bucket.host` rather than `host/bucket`.
    #[arg(long, env = "SONAE_OBJECT_STORE_VIRTUAL_HOST", global = true)]
    pub object_store_virtual_host: bool,
}

impl DbArgs {
    /// The database URL in force.
    pub fn url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("sonae.db").display()))
    }

    /// The object store settings, when one is configured (credentials are required then).
    pub fn object_store(&self) -> anyhow::Result<Option<crate::files::S3Settings>> {
        let Some(url) = self.object_store.as_deref().map(str::trim) else {
            return Ok(None);
        };
        if url.is_empty() {
            return Ok(None);
        }
        let from_env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let key = self
            .object_store_key_id
            .clone()
            .or_else(|| from_env("AWS_ACCESS_KEY_ID"));
        let secret = self
            .object_store_secret
            .clone()
            .or_else(|| from_env("AWS_SECRET_ACCESS_KEY"));
        let (Some(access_key_id), Some(secret_access_key)) = (key, secret) else {
            anyhow::bail!(
                "the object store needs credentials: set SONAE_OBJECT_STORE_KEY_ID and SONAE_OBJECT_STORE_SECRET"
            );
        };
        Ok(Some(crate::files::S3Settings {
            url: url.to_string(),
            region: match self.object_store_region.trim() {
                "" => "us-east-1".to_string(),
                r => r.to_string(),
            },
            access_key_id,
            secret_access_key,
            virtual_host: self.object_store_virtual_host,
        }))
    }
}

/// Settings of `sonae serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(
        long,
        global = true,
        env = "SONAE_BIND",
        default_value = "127.0.0.1:8080"
    )]
    pub bind: SocketAddr,
    /// Public address of the site, used in printed links (defaults to http://<bind>).
    #[arg(long, global = true, env = "SONAE_BASE_URL")]
    pub base_url: Option<String>,
    /// Set the `Secure` flag on cookies (when served behind TLS).
    #[arg(
        long,
        global = true,
        env = "SONAE_SECURE_COOKIES",
        default_value_t = false
    )]
    pub secure_cookies: bool,
    /// Take the client address from `X-Forwarded-For` (only behind your own reverse proxy).
    #[arg(
        long,
        global = true,
        env = "SONAE_TRUST_PROXY",
        default_value_t = false
    )]
    pub trust_proxy: bool,
    /// Days an activation or reset link stays valid.
    #[arg(
        long,
        global = true,
        env = "SONAE_ACTIVATION_DAYS",
        default_value_t = 7
    )]
    pub activation_days: i64,
    /// Minutes of inactivity after which a session ends.
    #[arg(long, global = true, env = "SONAE_SESSION_IDLE_MINUTES", default_value_t = 12 * 60)]
    pub session_idle_minutes: i64,
    /// Hours after which a session ends regardless of activity.
    #[arg(long, global = true, env = "SONAE_SESSION_MAX_HOURS", default_value_t = 7 * 24)]
    pub session_max_hours: i64,
    /// SMTP relay for e-mail copies of inbox items, as smtp://host[:port] (none: no e-mail).
    #[arg(long, global = true, env = "SONAE_SMTP_URL")]
    pub smtp_url: Option<String>,
    /// Sender address of those e-mails.
    #[arg(
        long,
        global = true,
        env = "SONAE_MAIL_FROM",
        default_value = "Sonae <sonae@localhost>"
    )]
    pub mail_from: String,
    /// Time zone offset used to show times, in hours from UTC (Asia/Tokyo is +9).
    #[arg(
        long,
        global = true,
        env = "SONAE_TZ_OFFSET_HOURS",
        default_value_t = 9
    )]
    pub tz_offset_hours: i8,
    /// An open shelter without a report for this many minutes is marked as stale on the board.
    #[arg(
        long,
        global = true,
        env = "SONAE_STALE_REPORT_MINUTES",
        default_value_t = 180
    )]
    pub stale_report_minutes: i64,
    /// A handoff not acknowledged for this many minutes is escalated to the incident's
    /// managers (inbox, and e-mail where a relay is configured).
    #[arg(
        long,
        global = true,
        env = "SONAE_HANDOFF_ESCALATE_MINUTES",
        default_value_t = 30
    )]
    pub handoff_escalate_minutes: i64,
    /// Map address for coordinates, with `{lat}` and `{lon}` (empty: no map links). Closed
    /// networks point it at a map server they can reach.
    #[arg(
        long,
        global = true,
        env = "SONAE_MAP_URL",
        default_value = "https://maps.gsi.go.jp/#17/{lat}/{lon}/"
    )]
    pub map_url: String,
}

/// The settings the running application reads.
#[derive(Debug, Clone)]
pub struct Config {
    pub base_url: String,
    pub secure_cookies: bool,
    /// Whether `X-Forwarded-For` names the client (behind a trusted reverse proxy).
    pub trust_proxy: bool,
    pub activation_days: i64,
    pub session_idle: time::Duration,
    pub session_max: time::Duration,
    pub tz: time::UtcOffset,
    /// Keep-alive interval of live streams.
    pub keepalive: std::time::Duration,
    /// An open shelter unreported for longer than this is stale.
    pub stale_after: time::Duration,
    /// A handoff waiting longer than this is escalated to the incident's managers.
    pub handoff_escalate_after: time::Duration,
    /// Where uploaded files live (`<data-dir>/files` or a bucket).
    pub files: crate::files::Files,
    /// Map address template for coordinates (`{lat}`, `{lon}`); empty: no links.
    pub map_url: String,
}

impl Config {
    pub fn from_serve(args: &ServeArgs) -> Self {
        Self {
            base_url: args
                .base_url
                .clone()
                .unwrap_or_else(|| format!("http://{}", args.bind))
                .trim_end_matches('/')
                .to_string(),
            secure_cookies: args.secure_cookies,
            trust_proxy: args.trust_proxy,
            activation_days: args.activation_days.max(1),
            session_idle: time::Duration::minutes(args.session_idle_minutes.max(1)),
            session_max: time::Duration::hours(args.session_max_hours.max(1)),
            tz: time::UtcOffset::from_hms(args.tz_offset_hours, 0, 0)
                .unwrap_or(time::UtcOffset::UTC),
            keepalive: std::time::Duration::from_secs(15),
            stale_after: time::Duration::minutes(args.stale_report_minutes.max(1)),
            handoff_escalate_after: time::Duration::minutes(args.handoff_escalate_minutes.max(1)),
            files: crate::files::Files::Local(PathBuf::from("data/files")),
            map_url: args.map_url.trim().to_string(),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            base_url: "http://127.0.0.1:8080".into(),
            secure_cookies: false,
            trust_proxy: false,
            activation_days: 7,
            session_idle: time::Duration::hours(12),
            session_max: time::Duration::days(7),
            tz: time::UtcOffset::from_hms(9, 0, 0).unwrap_or(time::UtcOffset::UTC),
            keepalive: std::time::Duration::from_secs(15),
            stale_after: time::Duration::hours(3),
            handoff_escalate_after: time::Duration::minutes(30),
            files: crate::files::Files::Local(std::env::temp_dir().join("sonae-files")),
            map_url: "https://maps.gsi.go.jp/#17/{lat}/{lon}/".into(),
        }
    }
}
