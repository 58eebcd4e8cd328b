//! Fan-out of timeline entries to connected clients.
//!
//! The database is the record; this hub is only a doorbell plus a shared reader. After a write,
//! [`LiveHub::ring`] wakes one tail task, which reads the new entries from the store once and
//! broadcasts them to every open stream. Each stream filters by what its user may see and falls
//! back to reading the store itself whenever it is behind (on connect, or when it lagged).

use crate::store::{Entry, Store};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;
use tokio::sync::{Notify, broadcast, watch};

/// A batch of consecutive entries, in position order.
pub type Batch = Arc<Vec<Entry>>;

/// The in-process live hub.
#[derive(Clone)]
pub struct LiveHub {
    inner: Arc<Inner>,
}

struct Inner {
    tx: broadcast::Sender<Batch>,
    bell: Arc<Notify>,
    head: AtomicI64,
    shutdown: watch::Sender<bool>,
}

impl LiveHub {
    /// Starts the tail task from the store's current head.
    pub async fn start(store: Arc<dyn Store>) -> Self {
        let head = store.head().await.unwrap_or(0);
        let (tx, _) = broadcast::channel(4096);
        let (shutdown, _) = watch::channel(false);
        let hub = Self {
            inner: Arc::new(Inner {
                tx,
                bell: Arc::new(Notify::new()),
                head: AtomicI64::new(head),
                shutdown,
            }),
        };
        store.wake_on_change(hub.inner.bell.clone()).await;
        let inner = hub.inner.clone();
        tokio::spawn(async move { tail(inner, store).await });
        hub
    }

    /// Tells the hub new entries were committed.
    pub fn ring(&self) {
        self.inner.bell.notify_one();
    }

    /// Receives every batch broadcast from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Batch> {
        self.inner.tx.subscribe()
    }

    /// The highest position broadcast so far.
    pub fn head(&self) -> i64 {
        self.inner.head.load(Ordering::Acquire)
    }

    /// Number of open streams.
    pub fn subscribers(&self) -> usize {
        self.inner.tx.receiver_count()
    }

    /// Ends every stream (on shutdown).
    pub fn shutdown(&self) {
        let _ = self.inner.shutdown.send(true);
    }

    /// Resolves when the server shuts down.
    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.inner.shutdown.subscribe()
    }
}

/// Most entries the tail reads at once.
const TAIL_PAGE: i64 = 500;

/// Least time between the starts of two reads of the tail.
const TAIL_GAP: Duration = Duration::from_millis(5);

async fn tail(inner: Arc<Inner>, store: Arc<dyn Store>) {
    let mut stop = inner.shutdown.subscribe();
    let mut last_read = tokio::time::Instant::now();
    loop {
        // Also poll now and then: another process (the CLI; a second instance on SQLite, or one
        // whose NOTIFY was lost) may have written.
        tokio::select! {
            _ = inner.bell.notified() => {}
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = stop.changed() => return,
        }
        // Under load, wake-ups are coalesced: reads start at most every `TAIL_GAP`, so a burst
        // of commits (from this instance and others) is read in one query instead of one each.
        // A quiet room is read at once.
        tokio::time::sleep_until(last_read + TAIL_GAP).await;
        last_read = tokio::time::Instant::now();
        loop {
            let after = inner.head.load(Ordering::Acquire);
            match store.entries_after(after, TAIL_PAGE).await {
                Ok(batch) if batch.is_empty() => break,
                Ok(batch) => {
                    let last = batch.last().map(|e| e.pos).unwrap_or(after);
                    let more = batch.len() >= TAIL_PAGE as usize;
                    inner.head.store(last, Ordering::Release);
                    let _ = inner.tx.send(Arc::new(batch));
                    // A short page is everything committed when it was read; a commit since
                    // has rung the bell, so the next wake-up reads it (one query per wake-up
                    // instead of two).
                    if !more {
                        break;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "live hub could not read new entries");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    break;
                }
            }
        }
    }
}
