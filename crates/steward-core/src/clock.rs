//! Where instants come from when Steward itself must know the time: audit entries, receipts.

use std::{
    fmt,
    sync::{
        Arc,
        atomic::{AtomicI64, Ordering},
    },
};

use crate::Timestamp;

/// A source of the current instant.
///
/// `check()` never reads a clock (the caller says when a request is made); the places that
/// must not trust a caller's instant, such as the audit trail, own a clock instead.
/// [`SystemClock`] is the one to deploy; [`ManualClock`] lets tests set the time.
pub trait Clock: Send + Sync {
    /// The current instant.
    fn now(&self) -> Timestamp;
}

/// The operating system's wall clock.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// A clock that shows whatever it was last set to: for tests and simulations.
///
/// Clones share one instant, so a test keeps a clone and moves the time of the component
/// that owns the other.
///
/// ```
/// use steward_core::{Clock, ManualClock, Timestamp};
///
/// let clock = ManualClock::new("2025-06-01T00:00:00Z".parse()?);
/// let handle = clock.clone();
/// handle.set("2025-06-02T00:00:00Z".parse()?);
/// assert_eq!(clock.now(), "2025-06-02T00:00:00Z".parse::<Timestamp>()?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    /// A clock showing `at`.
    #[must_use]
    pub fn new(at: Timestamp) -> Self {
        Self(Arc::new(AtomicI64::new(at.unix_nanos())))
    }

    /// Sets the instant every clone shows, forwards or backwards.
    pub fn set(&self, at: Timestamp) {
        self.0.store(at.unix_nanos(), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_unix_nanos(self.0.load(Ordering::SeqCst))
    }
}

impl fmt::Debug for ManualClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ManualClock").field(&self.now()).finish()
    }
}

impl<C: Clock + ?Sized> Clock for Arc<C> {
    fn now(&self) -> Timestamp {
        (**self).now()
    }
}
