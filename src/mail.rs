//! Optional e-mail copies of inbox items through an SMTP relay (no external push service).
//!
//! A background task claims unsent inbox items of users who have an e-mail address and hands
//! them to the relay. Claiming is a conditional update, so several instances never send twice;
//! an item whose sending failed is released and tried again.

use crate::app::App;
use crate::i18n::Tr;
use crate::store::MailItem;
use lettre::message::{Mailbox, header::ContentType};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::time::Duration;

/// How often the sender looks for new items.
const POLL: Duration = Duration::from_secs(3);
/// Items older than this are not mailed any more (a relay that was down for a day).
const MAX_AGE_MS: i64 = 24 * 3600 * 1000;

/// An SMTP relay and the sender address.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl Mailer {
    /// From `smtp://host[:port]` (a relay that accepts mail without TLS or login, as on LGWAN).
    pub fn new(url: &str, from: &str) -> anyhow::Result<Self> {
        let rest = url
            .strip_prefix("smtp://")
            .ok_or_else(|| anyhow::anyhow!("the SMTP relay must be given as smtp://host[:port]"))?;
        let (host, port) = match rest.trim_end_matches('/').rsplit_once(':') {
            Some((h, p)) => (h.to_string(), p.parse::<u16>()?),
            None => (rest.trim_end_matches('/').to_string(), 25),
        };
        let transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
            .port(port)
            .timeout(Some(Duration::from_secs(20)))
            .build();
        Ok(Self {
            transport,
            from: from.parse()?,
        })
    }

    fn compose(&self, app: &App, item: &MailItem) -> anyhow::Result<Message> {
        let t = Tr::new(item.lang.unwrap_or_default(), app.config.tz);
        let kind = t.t(crate::i18n::inbox_kind_key(&item.kind));
        let place = item.room_name.clone().unwrap_or_else(|| t.t("ui-dm"));
        let actor = item.actor_name.clone().unwrap_or_default();
        // An item about a record (a handoff) links to it; the rest to their message or room.
        let base = &app.config.base_url;
        let link = match (item.ref_id.as_deref(), item.room_id, item.message_id) {
            (Some(h), _, _) => format!("{base}/handoffs/{h}"),
            (None, Some(r), Some(m)) => format!("{base}/rooms/{r}/messages/{m}"),
            (None, Some(r), None) => format!("{base}/rooms/{r}"),
            _ => format!("{base}/inbox"),
        };
        let mut body = format!("{kind}: {actor} ({place})\n\n");
        if let Some(e) = &item.excerpt {
            body.push_str(e);
            body.push_str("\n\n");
        }
        body.push_str(&link);
        body.push('\n');
        Ok(Message::builder()
            .from(self.from.clone())
            .to(item.email.parse()?)
            .subject(format!("[Sonae] {kind}: {place}"))
            .header(ContentType::TEXT_PLAIN)
            .body(body)?)
    }

    /// Sends a one-time activation or reset link.
    pub async fn send_link(
        &self,
        app: &App,
        to: &str,
        link: &crate::app::IssuedLink,
    ) -> anyhow::Result<()> {
        let t = Tr::new(link.user.lang.unwrap_or_default(), app.config.tz);
        let body = format!(
            "{}\n\n{}\n\n{}\n",
            t.t1("ui-activate-intro", "name", &link.user.display_name),
            link.url,
            t.t1("ui-link-expires", "time", t.time(link.expires_at)),
        );
        let msg = Message::builder()
            .from(self.from.clone())
            .to(to.parse()?)
            .subject(format!("[Sonae] {}", t.t("ui-activate-title")))
            .header(ContentType::TEXT_PLAIN)
            .body(body)?;
        self.transport.send(msg).await?;
        Ok(())
    }

    /// Sends what is waiting, once; returns how many were sent.
    pub async fn send_pending(&self, app: &App) -> usize {
        let now = app.now();
        let items = match app.store.claim_mail(now - MAX_AGE_MS, now, 50).await {
            Ok(items) => items,
            Err(e) => {
                tracing::warn!(error = %e, "could not read the mail queue");
                return 0;
            }
        };
        let mut sent = 0;
        for item in items {
            let result = match self.compose(app, &item) {
                Ok(msg) => self
                    .transport
                    .send(msg)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            match result {
                Ok(()) => sent += 1,
                Err(e) => {
                    tracing::warn!(error = %e, inbox = %item.id, "e-mail not sent; will retry");
                    let _ = app.store.unclaim_mail(item.id).await;
                }
            }
        }
        sent
    }

    /// Runs until the server shuts down.
    pub async fn run(self, app: App) {
        let mut stop = app.live.shutdown_signal();
        loop {
            self.send_pending(&app).await;
            tokio::select! {
                _ = tokio::time::sleep(POLL) => {}
                _ = stop.changed() => return,
            }
        }
    }
}
