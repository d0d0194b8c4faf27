//! What keeps the session caches in front of a [`PgStore`](super::PgStore) coherent across
//! instances: `NOTIFY` from every writing transaction, one `LISTEN` connection per store, and
//! a lease that bypasses the cache whenever that connection cannot vouch for it.
//!
//! Unlike `RedbStore`, a `PgStore` keeps no filter of live session digests: other instances
//! create sessions this one has not seen, so an unknown digest costs one indexed read.
//!
//! # Sending
//!
//! Every transaction that ends or changes sessions, or changes a user, sends
//! `pg_notify('tower_user_auth_sessions', payload)` before it commits (PostgreSQL delivers
//! it at commit, and not at all on rollback). A payload is items separated by spaces: the
//! 64-hex SHA-256 digest of a session, `user:<id>` (every session of that user), or `all`.
//! Payloads stay under PostgreSQL's 8000-byte limit ([`MAX_PAYLOAD`]): longer lists are
//! split, and more than [`MAX_CHUNKS`] chunks become `all`. The writing instance also
//! invalidates its own cache right after its commit, without waiting for its notification.
//!
//! # Listening
//!
//! [`run`] keeps one connection of its own (not from the pool) subscribed to the channel and
//! drops what each notification names; an item it does not understand drops everything. When
//! the connection is lost it reconnects every [`RETRY`], and clears the cache once `LISTEN`
//! is in place again (what was sent meanwhile was lost).
//!
//! # The lease: never stale
//!
//! The cache answers only while its lease is fresh. Every [`PING_EVERY`] the listener sends a
//! notification to itself on a channel of its own; PostgreSQL delivers a connection's
//! notifications in commit order, so when the ping sent at time `t` comes back, every
//! notification committed before `t` has been applied. The lease then runs until
//! `t + LEASE`. A lost connection ends the lease at once; a connection that dies silently
//! (no error, no end: a network partition), a stalled listener or a busy server let it lapse
//! within [`LEASE`]. So a session ended anywhere is refused everywhere at most [`LEASE`]
//! after the end committed, whatever happens to the notification connection, and usually
//! within a millisecond or two (the notification's delivery). Without a fresh lease, reads
//! go to the database and nothing is cached.
//!
//! The caches themselves are [`CachedSessions`](crate::store::CachedSessions) with
//! [`Coherence::Leased`](crate::store::Coherence::Leased), fed through [`Caches`]: a fill loads
//! the epoch before reading the database and inserts only if no invalidation (local,
//! notified, or the clear of a resubscription) happened meanwhile.

use std::{
    collections::VecDeque,
    fmt::Write as _,
    future::poll_fn,
    sync::{Arc, Mutex, PoisonError, Weak},
    time::{Duration, Instant},
};

use deadpool_postgres::Transaction;
use tokio::{runtime::Handle, sync::mpsc};
use tokio_postgres::{AsyncMessage, Config, NoTls, Notification};

use crate::{
    error::StoreError,
    store::{
        PgStore,
        cache::{CachePolicy, CacheSubscriber, ChangeNotifications, Coherence, Dirty, Subscribers},
    },
};

/// The channel of session invalidations, shared by every instance on a database.
pub(super) const CHANNEL: &str = "tower_user_auth_sessions";
/// The longest payload sent (PostgreSQL refuses 8000 bytes and more).
pub(super) const MAX_PAYLOAD: usize = 7_900;
/// The most notifications one transaction sends; beyond, it sends `all`.
pub(super) const MAX_CHUNKS: usize = 8;
/// How long the listener waits before connecting again after losing its connection.
pub(super) const RETRY: Duration = Duration::from_millis(250);
/// How often the listener pings itself through the server.
pub(super) const PING_EVERY: Duration = Duration::from_millis(50);
/// How long a returned ping vouches for the cache, from when it was sent.
pub(super) const LEASE: Duration = Duration::from_millis(200);
/// Without any ping returned for this long, the listener's connection is taken as dead
/// (a silent network partition) and replaced.
const DEAD_AFTER: Duration = Duration::from_secs(2);

/// The payloads that tell every instance to drop what `dirty` names.
pub(super) fn payloads(dirty: &Dirty) -> Vec<String> {
    if dirty.all {
        return vec!["all".to_owned()];
    }
    let items = dirty
        .users
        .iter()
        .map(|id| format!("user:{id}"))
        .chain(dirty.sessions.iter().map(hex));
    let mut chunks = Vec::new();
    let mut chunk = String::new();
    for item in items {
        if !chunk.is_empty() && chunk.len() + 1 + item.len() > MAX_PAYLOAD {
            chunks.push(std::mem::take(&mut chunk));
        }
        if !chunk.is_empty() {
            chunk.push(' ');
        }
        chunk.push_str(&item);
    }
    if !chunk.is_empty() {
        chunks.push(chunk);
    }
    if chunks.len() > MAX_CHUNKS {
        return vec!["all".to_owned()];
    }
    chunks
}

/// Sends the notifications of `dirty` in `tx` (delivered when it commits).
pub(super) async fn send(tx: &Transaction<'_>, dirty: &Dirty) -> Result<(), StoreError> {
    if dirty.is_empty() {
        return Ok(());
    }
    let stmt = tx.prepare_cached("SELECT pg_notify($1, $2)").await?;
    for payload in payloads(dirty) {
        tx.execute(&stmt, &[&CHANNEL, &payload]).await?;
    }
    Ok(())
}

/// A digest in lowercase hex (what `encode(digest, 'hex')` gives in SQL).
pub(super) fn hex(digest: &[u8; 32]) -> String {
    let mut out = String::with_capacity(64);
    for byte in digest {
        let _ = write!(out, "{byte:02x}");
    }
    out
}

/// The digest of 64 hex digits; `None` for anything else.
fn unhex(text: &str) -> Option<[u8; 32]> {
    let bytes = text.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut digest = [0u8; 32];
    for (out, pair) in digest.iter_mut().zip(bytes.chunks_exact(2)) {
        let pair = std::str::from_utf8(pair).ok()?;
        *out = u8::from_str_radix(pair, 16).ok()?;
    }
    Some(digest)
}

/// What a payload names, for the cache; everything when an item is not understood.
fn parse(payload: &str) -> Dirty {
    let mut dirty = Dirty::default();
    for item in payload.split(' ').filter(|item| !item.is_empty()) {
        if item == "all" {
            dirty.all = true;
        } else if let Some(id) = item.strip_prefix("user:") {
            match id.parse() {
                Ok(id) => {
                    dirty.users.insert(id);
                }
                Err(_) => dirty.all = true,
            }
        } else if let Some(digest) = unhex(item) {
            dirty.sessions.insert(digest);
        } else {
            dirty.all = true;
        }
    }
    dirty
}

/// The session caches in front of a [`PgStore`](super::PgStore), and what feeds them: the
/// listener, started when the first cache subscribes.
#[derive(Debug)]
pub(super) struct Caches {
    subscribers: Subscribers,
    /// The memory budget of each cache.
    pub(super) budget_bytes: usize,
    /// What the listener connects with and the runtime it runs on, until the first
    /// subscription starts it.
    listener: Mutex<Option<(Config, Handle)>>,
}

impl Caches {
    /// Caches of `budget_bytes` each, whose listener will connect with `config` (on the
    /// current runtime: the store is built in one).
    pub(super) fn new(budget_bytes: usize, config: Config) -> Self {
        Self {
            subscribers: Subscribers::default(),
            budget_bytes,
            listener: Mutex::new(Handle::try_current().ok().map(|handle| (config, handle))),
        }
    }

    /// Feeds `subscriber` from now on; the first subscription starts the listener. A cache
    /// answers only once a ping of the listener is back (its lease starts at nothing).
    pub(super) fn subscribe(self: &Arc<Self>, subscriber: CacheSubscriber) {
        self.subscribers.add(subscriber);
        let listener = self
            .listener
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some((config, handle)) = listener {
            handle.spawn(run(config, Arc::downgrade(self)));
        }
    }

    /// Drops what `dirty` names from every cache (after a local commit, or a notification).
    pub(super) fn invalidate(&self, dirty: &Dirty) {
        self.subscribers.invalidate(dirty);
    }

    /// Drops everything from every cache (a commit of unknown outcome, a (re)subscription).
    pub(super) fn clear(&self) {
        self.subscribers.clear();
    }

    /// Whether a cache would answer `digest` now.
    pub(super) fn serves(&self, digest: &[u8; 32]) -> bool {
        self.subscribers.serve(digest)
    }

    /// How many sessions the caches hold.
    pub(super) fn len(&self) -> usize {
        self.subscribers.size().0
    }

    /// The notifications are lost: every cache stops answering and forgets everything.
    fn end_lease(&self) {
        self.subscribers.each(CacheSubscriber::end_lease);
    }

    /// A ping sent at `sent` came back: every cache may answer until `sent + LEASE`.
    fn extend_lease(&self, sent: Instant) {
        self.subscribers.each(|s| s.extend_lease(sent, LEASE));
    }
}

/// Keeps a subscription up, reconnecting every [`RETRY`] after a loss.
async fn run(config: Config, cache: Weak<Caches>) {
    let ping_channel = format!("tower_user_auth_ping_{}", uuid::Uuid::new_v4().simple());
    let mut lost_since: Option<Instant> = None;
    loop {
        let result = subscribed(&config, &cache, &ping_channel, &mut lost_since).await;
        let Some(live) = cache.upgrade() else {
            return;
        };
        live.end_lease();
        drop(live);
        match result {
            Ok(()) => return,
            Err(reason) => {
                if lost_since.is_none() {
                    tracing::warn!(
                        reason = %reason,
                        "session cache: the notification connection is down; \
                         sessions are read from the database until it is back"
                    );
                    lost_since = Some(Instant::now());
                }
            }
        }
        tokio::time::sleep(RETRY).await;
    }
}

/// What the connection's driver passes on: a notification, or why the connection ended.
type Event = Result<Notification, String>;

/// One subscription: connects, `LISTEN`s, clears the cache, then applies notifications and
/// pings until the connection is lost (`Err`) or the store is dropped (`Ok`).
async fn subscribed(
    config: &Config,
    cache: &Weak<Caches>,
    ping_channel: &str,
    lost_since: &mut Option<Instant>,
) -> Result<(), String> {
    let (client, mut connection) = config
        .connect(NoTls)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let (events_tx, mut events) = mpsc::unbounded_channel::<Event>();
    let driver = tokio::spawn(async move {
        loop {
            let end = match poll_fn(|cx| connection.poll_message(cx)).await {
                Some(Ok(AsyncMessage::Notification(n))) => {
                    if events_tx.send(Ok(n)).is_err() {
                        return;
                    }
                    continue;
                }
                Some(Ok(_)) => continue,
                Some(Err(e)) => e.to_string(),
                None => "the server closed the connection".to_owned(),
            };
            let _ = events_tx.send(Err(end));
            return;
        }
    });
    let _driver = AbortOnDrop(driver);
    client
        .batch_execute(&format!("LISTEN {CHANNEL}; LISTEN {ping_channel}"))
        .await
        .map_err(|e| format!("LISTEN: {e}"))?;
    // Subscribed: what was sent before is lost to this instance, so nothing cached before
    // can be vouched for.
    match cache.upgrade() {
        Some(cache) => cache.clear(),
        None => return Ok(()),
    }
    if let Some(since) = lost_since.take() {
        tracing::info!(
            down_ms = since.elapsed().as_millis(),
            "session cache: resubscribed to notifications, cache cleared"
        );
    }
    let client = Arc::new(client);
    let mut sent: VecDeque<(u64, Instant)> = VecDeque::new();
    let mut seq = 0u64;
    let mut answered = Instant::now();
    let mut next_ping = Instant::now();
    loop {
        let now = Instant::now();
        if now >= next_ping {
            if cache.strong_count() == 0 {
                return Ok(());
            }
            if now.saturating_duration_since(answered) > DEAD_AFTER {
                return Err(format!("no ping answered for {DEAD_AFTER:?}"));
            }
            seq += 1;
            sent.push_back((seq, now));
            if sent.len() > 256 {
                sent.pop_front();
            }
            let client = Arc::clone(&client);
            let sql = format!("NOTIFY {ping_channel}, '{seq}'");
            tokio::spawn(async move {
                let _ = client.batch_execute(&sql).await;
            });
            next_ping = now + PING_EVERY;
        }
        let event = match tokio::time::timeout_at(next_ping.into(), events.recv()).await {
            Err(_) => continue,
            Ok(None) => return Err("the connection's driver ended".to_owned()),
            Ok(Some(Err(reason))) => return Err(reason),
            Ok(Some(Ok(event))) => event,
        };
        let Some(cache) = cache.upgrade() else {
            return Ok(());
        };
        if event.channel() == CHANNEL {
            cache.invalidate(&parse(event.payload()));
        } else if event.channel() == ping_channel {
            let Ok(back) = event.payload().parse::<u64>() else {
                continue;
            };
            while let Some(&(seq, at)) = sent.front() {
                if seq > back {
                    break;
                }
                sent.pop_front();
                if seq == back {
                    answered = Instant::now();
                    cache.extend_lease(at);
                }
            }
        }
    }
}

/// Aborts a task when dropped: the connection's driver ends with its subscription.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Every writing transaction notifies what it changed (`pg_notify`, delivered at its commit)
/// and, right after its commit, tells this instance's caches; the listener tells them what
/// other instances changed, and keeps their lease (see the `notify` module).
impl ChangeNotifications for PgStore {
    fn cache_policy(&self) -> Option<CachePolicy> {
        Some(CachePolicy {
            coherence: Coherence::Leased,
            budget_bytes: self.caches.budget_bytes,
        })
    }

    fn subscribe(&self, subscriber: CacheSubscriber) {
        self.caches.subscribe(subscriber);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(i: u32) -> [u8; 32] {
        let mut d = [0u8; 32];
        d[..4].copy_from_slice(&i.to_be_bytes());
        d[31] = 0xab;
        d
    }

    #[test]
    fn payloads_round_trip_and_stay_under_the_limit() {
        let mut dirty = Dirty::default();
        dirty.users.insert(7);
        dirty.sessions.extend((0..150).map(digest));
        let payloads = payloads(&dirty);
        assert_eq!(payloads.len(), 2, "150 digests and a user: two payloads");
        let mut back = Dirty::default();
        for p in &payloads {
            assert!(p.len() <= MAX_PAYLOAD && p.len() < 8000);
            let part = parse(p);
            assert!(!part.all);
            back.users.extend(part.users);
            back.sessions.extend(part.sessions);
        }
        assert_eq!(back.users, dirty.users);
        assert_eq!(back.sessions, dirty.sessions);
    }

    #[test]
    fn too_many_items_become_all() {
        let mut dirty = Dirty::default();
        dirty.sessions.extend((0..1_200).map(digest));
        assert_eq!(payloads(&dirty), ["all"]);
        let all = Dirty {
            all: true,
            ..Dirty::default()
        };
        assert_eq!(payloads(&all), ["all"]);
        assert!(payloads(&Dirty::default()).is_empty());
    }

    #[test]
    fn what_is_not_understood_clears_everything() {
        assert!(parse("all").all);
        assert!(parse("user:x").all);
        assert!(parse("user:-1").all);
        assert!(parse(&"zz".repeat(32)).all);
        assert!(parse(&"a".repeat(63)).all);
        assert!(parse("é").all);
        assert!(parse("").is_empty());
        let d = digest(3);
        let parsed = parse(&format!("{}  user:12", hex(&d)));
        assert!(!parsed.all);
        assert!(parsed.sessions.contains(&d));
        assert!(parsed.users.contains(&12));
    }
}
