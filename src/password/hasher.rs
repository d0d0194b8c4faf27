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

/// How the bcrypt threads are scheduled against the rest of the process
/// ([`AuthConfig::with_hashing_priority`](crate::AuthConfig::with_hashing_priority)).
///
/// A login storm is a burst of CPU-bound hashes: the priority decides who waits, the logins
/// or everything else. On Linux; elsewhere every choice runs as [`Normal`](Self::Normal).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HashingPriority {
    /// `SCHED_IDLE`: hashing uses a core only when no other thread wants it. The app keeps
    /// its throughput during a login storm; logins slow down, and wait without limit while
    /// other work (the app's, or another process's) keeps every core busy. The default.
    #[default]
    Idle,
    /// The normal scheduler at the lowest priority (nice 19): the app's threads are preferred,
    /// but hashing still gets a small share of a busy core, so logins keep moving.
    Low,
    /// As the app's own threads: logins keep their speed, and a login storm slows every
    /// other request.
    Normal,
}

impl std::str::FromStr for HashingPriority {
    type Err = String;

    /// `idle`, `low` or `normal`, in any case.
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "idle" => Ok(Self::Idle),
            "low" => Ok(Self::Low),
            "normal" => Ok(Self::Normal),
            other => Err(format!(
                "unknown hashing priority {other:?}: expected idle, low or normal"
            )),
        }
    }
}

/// bcrypt on a fixed pool of threads with a bounded queue: at most `threads` hashes run at
/// once, at most `queue` wait, and the rest are refused with [`AuthError::Overloaded`].
#[derive(Debug)]
pub(crate) struct PasswordHasher {
    jobs: SyncSender<Job>,
    cost: u32,
    dummy_hash: String,
}

impl PasswordHasher {
    pub(crate) fn new(cost: u32, threads: usize, queue: usize, priority: HashingPriority) -> Self {
        let (jobs, receiver) = mpsc::sync_channel::<Job>(queue);
        let receiver = Arc::new(Mutex::new(receiver));
        for i in 0..threads.max(1) {
            let receiver = Arc::clone(&receiver);
            thread::Builder::new()
                .name(format!("user-auth-bcrypt-{i}"))
                .spawn(move || {
                    set_priority(priority);
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

/// Schedules the calling thread as `priority` says: `SCHED_IDLE` for
/// [`HashingPriority::Idle`], nice 19 for [`HashingPriority::Low`], unchanged for
/// [`HashingPriority::Normal`].
fn set_priority(priority: HashingPriority) {
    #[cfg(target_os = "linux")]
    {
        use thread_priority::{
            ThreadPriority,
            unix::{
                NormalThreadSchedulePolicy, ThreadSchedulePolicy, set_thread_priority_and_policy,
                thread_native_id,
            },
        };
        let policy = match priority {
            HashingPriority::Idle => NormalThreadSchedulePolicy::Idle,
            HashingPriority::Low => NormalThreadSchedulePolicy::Other,
            HashingPriority::Normal => return,
        };
        let policy = ThreadSchedulePolicy::Normal(policy);
        if let Err(e) =
            set_thread_priority_and_policy(thread_native_id(), ThreadPriority::Min, policy)
        {
            tracing::warn!(error = ?e, ?priority, "could not set the bcrypt threads' priority");
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = priority;
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

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// The calling thread's (scheduling policy, nice), from `/proc/thread-self/stat`.
    fn scheduling() -> (u32, i32) {
        let stat = std::fs::read_to_string("/proc/thread-self/stat").expect("stat");
        // The fields after the command name (in parentheses, which may hold spaces): the
        // 19th field of the line is the nice value, the 41st the policy.
        let after = &stat[stat.rfind(')').expect("comm") + 2..];
        let fields: Vec<&str> = after.split(' ').collect();
        let nice = fields[19 - 3].parse().expect("nice");
        let policy = fields[41 - 3].parse().expect("policy");
        (policy, nice)
    }

    #[tokio::test]
    async fn each_priority_schedules_the_hashing_threads_as_documented() {
        const SCHED_OTHER: u32 = 0;
        const SCHED_IDLE: u32 = 5;
        let here = scheduling();
        for (priority, expected) in [
            (HashingPriority::Idle, (SCHED_IDLE, here.1.max(19))),
            (HashingPriority::Low, (SCHED_OTHER, 19)),
            (HashingPriority::Normal, here),
        ] {
            let hasher = PasswordHasher::new(4, 1, 1, priority);
            let seen = hasher.run(scheduling).await.expect("ran");
            // SCHED_IDLE ignores the nice value; only its policy is checked.
            if priority == HashingPriority::Idle {
                assert_eq!(seen.0, expected.0, "{priority:?}");
            } else {
                assert_eq!(seen, expected, "{priority:?}");
            }
        }
    }

    #[test]
    fn priorities_parse_in_any_case() {
        assert_eq!("IDLE".parse(), Ok(HashingPriority::Idle));
        assert_eq!(" low ".parse(), Ok(HashingPriority::Low));
        assert_eq!("Normal".parse(), Ok(HashingPriority::Normal));
        assert!("high".parse::<HashingPriority>().is_err());
    }
}
