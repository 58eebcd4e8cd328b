//! Time is a parameter: everything that needs "now" asks a [`Clock`].

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use time::OffsetDateTime;

/// A source of the current time.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> OffsetDateTime;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)]
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// The system clock shifted by an adjustable offset, for tests ("six days later").
#[derive(Debug, Default, Clone)]
pub struct OffsetClock {
    offset_secs: Arc<AtomicI64>,
}

impl OffsetClock {
    pub fn advance(&self, d: time::Duration) {
        self.offset_secs
            .fetch_add(d.whole_seconds(), Ordering::SeqCst);
    }
}

impl Clock for OffsetClock {
    fn now(&self) -> OffsetDateTime {
        SystemClock.now() + time::Duration::seconds(self.offset_secs.load(Ordering::SeqCst))
    }
}
