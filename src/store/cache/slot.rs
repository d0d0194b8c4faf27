//! One cached session, packed in two cache lines: the digest, the record's numbers and the
//! owner's email inline (a heap copy only for emails longer than [`INLINE_EMAIL`] bytes).

use std::{
    sync::atomic::{AtomicBool, Ordering},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use crate::{
    store::{SessionEntry, SessionRecord},
    user::UserId,
};

/// Emails up to this many bytes are kept inside the slot (`user123456@example.com` is 22).
pub(super) const INLINE_EMAIL: usize = 46;

/// The owner's email: inline when short, else on the heap.
#[derive(Debug)]
enum Email {
    Inline { len: u8, bytes: [u8; INLINE_EMAIL] },
    Heap(Box<str>),
}

impl Email {
    const EMPTY: Self = Self::Inline {
        len: 0,
        bytes: [0; INLINE_EMAIL],
    };

    fn new(email: &str) -> Self {
        match u8::try_from(email.len()) {
            Ok(len) if email.len() <= INLINE_EMAIL => {
                let mut bytes = [0; INLINE_EMAIL];
                bytes[..email.len()].copy_from_slice(email.as_bytes());
                Self::Inline { len, bytes }
            }
            _ => Self::Heap(email.into()),
        }
    }

    /// The email; `None` never happens (inline bytes are copied from a `&str`), but without
    /// `unsafe` the check stays, and a failed check is a miss.
    fn as_str(&self) -> Option<&str> {
        match self {
            Self::Inline { len, bytes } => std::str::from_utf8(&bytes[..usize::from(*len)]).ok(),
            Self::Heap(s) => Some(s),
        }
    }

    /// Bytes this email holds on the heap, as the allocator rounds them (glibc: 16-byte
    /// steps with an 8-byte header, 32 at least).
    fn heap_bytes(&self) -> usize {
        match self {
            Self::Inline { .. } => 0,
            Self::Heap(s) => heap_cost(s.len()),
        }
    }
}

/// What an email of `len` bytes costs on the heap once it does not fit inline.
pub(super) fn heap_cost(len: usize) -> usize {
    if len <= INLINE_EMAIL {
        0
    } else {
        (len + 8).div_ceil(16).max(2) * 16
    }
}

/// Nanoseconds since the Unix epoch, `None` if `t` is before it or past 2554: such a
/// session is not cached (it is read from the database each time).
fn nanos(t: SystemTime) -> Option<u64> {
    u64::try_from(t.duration_since(UNIX_EPOCH).ok()?.as_nanos()).ok()
}

fn time(nanos: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_nanos(nanos)
}

/// A slot of the cache: vacant, or one session. Times are kept in nanoseconds so that a
/// cached record equals the stored one whatever the store's precision (redb keeps
/// milliseconds, PostgreSQL microseconds).
#[derive(Debug)]
#[repr(align(128))]
pub(super) struct Slot {
    pub(super) digest: [u8; 32],
    user_id: u64,
    created: u64,
    last_seen: u64,
    expires: u64,
    generation: u64,
    /// CLOCK's reference bit: set by hits (under the read lock), cleared by the hand.
    referenced: AtomicBool,
    pub(super) live: bool,
    email: Email,
}

/// Two cache lines, aligned as a pair (which x86 fetches together): checked at compile time
/// so that a change of layout is noticed.
pub(super) const SLOT_BYTES: usize = 128;
const _: () = assert!(size_of::<Slot>() == SLOT_BYTES);

impl Slot {
    pub(super) const fn vacant() -> Self {
        Self {
            digest: [0; 32],
            user_id: 0,
            created: 0,
            last_seen: 0,
            expires: 0,
            generation: 0,
            referenced: AtomicBool::new(false),
            live: false,
            email: Email::EMPTY,
        }
    }

    /// The slot of `entry`, `None` if one of its times cannot be kept.
    pub(super) fn new(digest: [u8; 32], entry: &SessionEntry) -> Option<Self> {
        let record = &entry.record;
        Some(Self {
            digest,
            user_id: record.user_id.0,
            created: nanos(record.created)?,
            last_seen: nanos(record.last_seen)?,
            expires: nanos(record.expires)?,
            generation: record.generation,
            referenced: AtomicBool::new(false),
            live: true,
            email: Email::new(&entry.email),
        })
    }

    /// The session, copied out (one allocation: the email), and marks the slot as used.
    pub(super) fn hit(&self) -> Option<SessionEntry> {
        // A load first: no write to a shared line when the bit is already set.
        if !self.referenced.load(Ordering::Relaxed) {
            self.referenced.store(true, Ordering::Relaxed);
        }
        Some(SessionEntry {
            record: SessionRecord {
                user_id: UserId(self.user_id),
                created: time(self.created),
                last_seen: time(self.last_seen),
                expires: time(self.expires),
                generation: self.generation,
            },
            email: self.email.as_str()?.to_owned(),
        })
    }

    pub(super) fn user_id(&self) -> u64 {
        self.user_id
    }

    pub(super) fn heap_bytes(&self) -> usize {
        self.email.heap_bytes()
    }

    /// Moves the last activity to `last_seen_ms` (never back).
    pub(super) fn renew(&mut self, last_seen_ms: u64) {
        self.last_seen = self.last_seen.max(last_seen_ms.saturating_mul(1_000_000));
    }

    /// CLOCK: clears the reference bit, returning whether it was set.
    pub(super) fn second_chance(&mut self) -> bool {
        std::mem::replace(self.referenced.get_mut(), false)
    }
}
