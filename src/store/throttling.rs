//! Sharing the throttle between instances, an optional capability: [`SharedThrottling`].

#[cfg(doc)]
use crate::store::RedbStore;
use crate::throttle::SharedThrottle;

/// A store that can keep the throttle's counters where every instance of an app sees them
/// (part of [`Store`](super::Store), with a default: a store that does not share answers
/// `None`).
pub trait SharedThrottling: Send + Sync + 'static {
    /// The throttle counters this store shares between the instances of an app on its
    /// database, if it does: [`Auth::new`](crate::Auth::new) then counts failed attempts and
    /// request quotas there, so that every instance enforces the same limits. `None` (the
    /// default, and [`RedbStore`]'s: its file belongs to one process) keeps them in the
    /// process's memory. `PgStore` shares them.
    fn shared_throttle(&self) -> Option<SharedThrottle> {
        None
    }
}
