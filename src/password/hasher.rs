//! bcrypt on a small pool of dedicated threads, so that hashing never blocks the async
//! runtime and a burst of logins waits in a bounded queue.

use std::{
    sync::{
        Arc, Mutex, PoisonError,
        mpsc::{self, Receiver, SyncSender, TrySendError},
    },
    thread,
};

use tokio::sync::oneshot;

use super::check_hashable;
use crate::error::{AuthError, PasswordError};

/// The outcome of checking a password against a stored hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Verified {
    /// The password matches.
    pub(crate) ok: bool,
    /// The hash is of a lower cost than configured: re-hash it now that the password is known.
    pub(crate) rehash: Option<String>,
}

type Job = Box<dyn FnOnce() + Send>;

/// bcrypt on a fixed pool of threads with a bounded queue: at most `threads` hashes run at
/// once, at most `queue` wait, and the rest are refused with [`AuthError::Overloaded`].
#[derive(Debug)]
pub(crate) struct PasswordHasher {
    jobs: SyncSender<Job>,
    cost: u32,
    dummy_hash: String,
}

impl PasswordHasher {
    pub(crate) fn new(cost: u32, threads: usize, queue: usize) -> Self {
        let (jobs, receiver) = mpsc::sync_channel::<Job>(queue);
        let receiver = Arc::new(Mutex::new(receiver));
        for i in 0..threads.max(1) {
            let receiver = Arc::clone(&receiver);
            thread::Builder::new()
                .name(format!("user-auth-bcrypt-{i}"))
                .spawn(move || {
                    lower_priority();
                    worker(&receiver);
                })
                .expect("spawning a bcrypt worker thread");
        }
        // A hash to verify against when the email is unknown, so that the failure costs as
        // much as a wrong password.
        let dummy_hash = bcrypt::hash(uuid::Uuid::new_v4().to_string(), cost)
            .expect("bcrypt cost was validated by the configuration");
        Self {
            jobs,
            cost,
            dummy_hash,
        }
    }

    async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, AuthError> {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = tx.send(job());
        });
        match self.jobs.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => return Err(AuthError::Overloaded),
            Err(TrySendError::Disconnected(_)) => return Err(AuthError::Overloaded),
        }
        rx.await.map_err(|_| AuthError::Overloaded)
    }

    /// Hashes a password that passed [`check_hashable`] with a fresh salt.
    pub(crate) async fn hash(&self, password: String) -> Result<String, AuthError> {
        let cost = self.cost;
        self.run(move || bcrypt::hash(password, cost))
            .await?
            .map_err(|_| AuthError::InvalidPassword(PasswordError::ContainsNul))
    }

    /// Verifies `password` against `hash`, or against a dummy hash when there is no account,
    /// so that both failures take one bcrypt verify.
    pub(crate) async fn verify(
        &self,
        password: String,
        hash: Option<String>,
    ) -> Result<Verified, AuthError> {
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| self.dummy_hash.clone());
        let cost = self.cost;
        let stored_cost = hash
            .parse::<bcrypt::HashParts>()
            .ok()
            .map(|parts| parts.get_cost());
        // A hash of a lower cost than configured is re-hashed at the next successful login. A
        // higher one is kept (never downgraded: instances rolled out with different costs
        // would otherwise undo each other's work).
        let stale = stored_cost.is_some_and(|c| c < cost);
        // A hash of a lower cost than configured (or an unreadable one) is checked faster than
        // the dummy: when it fails, the dummy is verified too, so that a wrong password takes
        // as long as an unknown email. A hash of a higher cost (the configured cost was
        // lowered) takes longer, and nothing can make it faster: such an account can be told
        // from an unknown email by timing (SECURITY.md's known limits).
        let pad = (stored_cost.is_none_or(|c| c < cost)).then(|| self.dummy_hash.clone());
        self.run(move || {
            // A password we would refuse to hash can match no stored hash; verify the dummy
            // all the same so that the answer takes as long.
            let faithful = check_hashable(&password).is_ok();
            let candidate = if faithful { password.as_str() } else { "" };
            let ok = bcrypt::verify(candidate, &hash).unwrap_or(false) && faithful && known;
            if let Some(pad) = pad.filter(|_| !ok) {
                let _ = bcrypt::verify(candidate, &pad);
            }
            let rehash = if ok && stale {
                bcrypt::hash(&password, cost).ok()
            } else {
                None
            };
            Verified { ok, rehash }
        })
        .await
    }
}

/// Puts the calling thread at the lowest scheduling priority (`SCHED_IDLE` on Linux), so
/// that request handling always preempts hashing: a login storm uses the CPU only when
/// nothing else wants it.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        use thread_priority::{
            ThreadPriority,
            unix::{
                NormalThreadSchedulePolicy, ThreadSchedulePolicy, set_thread_priority_and_policy,
                thread_native_id,
            },
        };
        let idle = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle);
        if let Err(e) =
            set_thread_priority_and_policy(thread_native_id(), ThreadPriority::Min, idle)
        {
            tracing::warn!(error = ?e, "could not lower the bcrypt threads' priority");
        }
    }
}

fn worker(receiver: &Mutex<Receiver<Job>>) {
    loop {
        let job = {
            let receiver = receiver.lock().unwrap_or_else(PoisonError::into_inner);
            receiver.recv()
        };
        match job {
            Ok(job) => job(),
            Err(_) => return,
        }
    }
}
