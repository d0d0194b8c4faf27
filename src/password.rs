//! Passwords: the policy that accepts or refuses them, and bcrypt, which runs on a small pool
//! of dedicated threads so that hashing never blocks the async runtime.

use std::{
    sync::{
        Arc, Mutex, PoisonError,
        mpsc::{self, Receiver, SyncSender, TrySendError},
    },
    thread,
};

use tokio::sync::oneshot;

use crate::error::{AuthError, PasswordError};

/// bcrypt reads at most this many bytes of a password.
pub const BCRYPT_MAX_BYTES: usize = 72;

/// Which passwords are accepted. The same rules apply on every route that sets a password.
///
/// Whatever the policy, a password bcrypt cannot hash faithfully (over 72 bytes, or with a NUL
/// character) is refused rather than truncated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PasswordPolicy {
    /// Minimum length in characters (Unicode scalar values).
    pub min_chars: usize,
    /// Refuse a password equal to the account's email (compared without regard to case).
    pub reject_email: bool,
}

impl PasswordPolicy {
    /// The seed's policy: anything non-empty that bcrypt can hash faithfully.
    #[must_use]
    pub fn seed() -> Self {
        Self {
            min_chars: 1,
            reject_email: false,
        }
    }

    /// NIST SP 800-63B / OWASP ASVS 2.1: at least 12 characters, no composition rules, not
    /// the email.
    #[must_use]
    pub fn hardened() -> Self {
        Self {
            min_chars: 12,
            reject_email: true,
        }
    }

    /// Checks a new password for the account `email`.
    ///
    /// # Errors
    /// The first rule the password breaks.
    pub fn check(&self, password: &str, email: &str) -> Result<(), PasswordError> {
        check_hashable(password)?;
        if password.chars().count() < self.min_chars {
            return Err(PasswordError::TooShort {
                min: self.min_chars,
            });
        }
        if self.reject_email && password.trim().eq_ignore_ascii_case(email.trim()) {
            return Err(PasswordError::SameAsEmail);
        }
        Ok(())
    }
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self::hardened()
    }
}

/// Whether bcrypt can hash `password` without losing any of it.
///
/// # Errors
/// [`PasswordError::Empty`], [`PasswordError::TooLong`] or [`PasswordError::ContainsNul`].
pub fn check_hashable(password: &str) -> Result<(), PasswordError> {
    if password.is_empty() {
        Err(PasswordError::Empty)
    } else if password.len() > BCRYPT_MAX_BYTES {
        Err(PasswordError::TooLong {
            bytes: password.len(),
        })
    } else if password.contains('\0') {
        Err(PasswordError::ContainsNul)
    } else {
        Ok(())
    }
}

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
                .spawn(move || worker(&receiver))
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
        self.run(move || {
            // A password we would refuse to hash can match no stored hash; verify the dummy
            // all the same so that the answer takes as long.
            let faithful = check_hashable(&password).is_ok();
            let candidate = if faithful { password.as_str() } else { "" };
            let ok = bcrypt::verify(candidate, &hash).unwrap_or(false) && faithful && known;
            let stale = hash
                .parse::<bcrypt::HashParts>()
                .is_ok_and(|parts| parts.get_cost() < cost);
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
