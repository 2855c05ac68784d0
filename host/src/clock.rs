//! Injected time, so that expiry and lockout are testable exactly.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use time::OffsetDateTime;

/// A point in time as Unix milliseconds (UTC), the unit stored in the
/// database.
pub type Millis = i64;

/// Source of the current time.
#[derive(Clone, Debug)]
pub enum Clock {
    /// The system clock.
    System,
    /// A fixed time that tests move by hand.
    Manual(Arc<AtomicI64>),
}

impl Clock {
    /// A manual clock starting at `start` milliseconds.
    pub fn manual(start: Millis) -> Self {
        Clock::Manual(Arc::new(AtomicI64::new(start)))
    }

    /// The current time in Unix milliseconds.
    pub fn now(&self) -> Millis {
        match self {
            Clock::System => unix_millis(OffsetDateTime::now_utc()),
            Clock::Manual(at) => at.load(Ordering::SeqCst),
        }
    }

    /// Moves a manual clock forward; does nothing on the system clock.
    pub fn advance(&self, by: Millis) {
        if let Clock::Manual(at) = self {
            at.fetch_add(by, Ordering::SeqCst);
        }
    }
}

/// Converts a date-time to Unix milliseconds.
pub fn unix_millis(at: OffsetDateTime) -> Millis {
    // i128 nanoseconds / 1e6 always fits an i64 for any representable date.
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// Converts Unix milliseconds to a date-time, saturating at the ends of the
/// representable range.
pub fn to_datetime(at: Millis) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(at) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}
