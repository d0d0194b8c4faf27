//! Log capture: a `tracing` subscriber writing into memory ([`Captured`]), installed for
//! this thread ([`capture`]) or process-wide (`Captured::subscriber().init()`), and
//! [`lines`], the captured lines of one audit event.

use std::{
    io,
    sync::{Arc, Mutex},
};

use tracing::subscriber::DefaultGuard;
use tracing_subscriber::util::SubscriberInitExt;

/// What the subscriber writes.
#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().expect("not poisoned").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Captured {
    /// Everything written so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("not poisoned")).into_owned()
    }

    /// A subscriber writing every event (all levels, no colours, no timestamps: a timestamp's
    /// digits could pass for a code the log must not hold) into this capture.
    pub fn subscriber(&self) -> impl tracing::Subscriber + Send + Sync + 'static {
        let writer = self.clone();
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .without_time()
            .with_writer(move || writer.clone())
            .finish()
    }
}

/// Keeps a [`capture`] going: drop it to stop.
pub type Capturing = (tracing::Dispatch, DefaultGuard);

/// Captures every event of this thread (and of the current-thread runtime's tasks, which
/// run on it) until the guard is dropped.
pub fn capture() -> (Captured, Capturing) {
    // A second dispatcher, kept alive: with one only, tracing computes a callsite's interest
    // with the default of whichever thread first reaches it, and other tests' threads (no
    // subscriber) would turn events off for this one. With two, every event asks this
    // thread's subscriber.
    let second = tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default());
    let captured = Captured::default();
    let guard = captured.subscriber().set_default();
    // Callsites other tests' threads reached before: their interest computed again.
    tracing::callsite::rebuild_interest_cache();
    (captured, (second, guard))
}

/// The lines of `text` with the audit event `event`.
pub fn lines<'a>(text: &'a str, event: &str) -> Vec<&'a str> {
    let marker = format!("event=\"{event}\"");
    text.lines().filter(|l| l.contains(&marker)).collect()
}
