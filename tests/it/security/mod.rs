//! The security suite: one or more tests per item of the 31-item checklist in `SECURITY.md`,
//! named `item_NN_...` and grouped by the checklist's sections, one module each. The
//! checklist table in `SECURITY.md` names every test of every item, and [`map`] checks that
//! table against this source: every item has a test, every test named there exists, and
//! every `item_NN_...` test is named under item NN.
//!
//! Items 29 and 30 (the audit log itself) are in `tests/audit_log.rs`: it installs a global
//! `tracing` subscriber, so it runs in its own test binary.
//!
//! Everything runs against a real redb file in a temporary directory, at bcrypt cost 4, with
//! a `ManualClock` for expiry and backoff (no sleeps), through `AuthLayer` around an echo app
//! or over a real TCP socket with hyper. The two timing tests (items 6 and 17) are
//! statistical: medians of interleaved samples, within the bound `SECURITY.md` states.

use crate::support;

mod a_passwords;
mod b_login;
mod c_cookies;
mod c_sessions;
mod d_reset;
mod e_requests;
mod f_storage;
mod map;

use std::{
    future::Future,
    time::{Duration, Instant},
};

use support::{Answer, from_peer, median, ratio};

pub(crate) const SEC: Duration = Duration::from_secs(1);
pub(crate) const MIN: Duration = Duration::from_secs(60);
pub(crate) const HOUR: Duration = Duration::from_secs(3600);

/// The widest ratio of two medians the timing tests accept (`SECURITY.md`, items 6 and 17).
pub(crate) const TIMING_RATIO: std::ops::RangeInclusive<f64> = 0.5..=2.0;

/// The `message` of a JSON error answer.
pub(crate) fn message(res: &Answer) -> String {
    res.json()["message"]
        .as_str()
        .unwrap_or_else(|| panic!("no message in {}", res.text()))
        .to_owned()
}

/// The `reset_token` of a seed-profile answer to `POST /reset_password` (asserts 200).
pub(crate) fn seed_token(res: &Answer) -> String {
    assert_eq!(res.status, 200, "{}", res.text());
    res.json()["reset_token"].as_str().unwrap().to_owned()
}

/// `POST path` with a form body, from the client address `peer`.
pub(crate) fn post_from(
    path: &str,
    fields: &[(&str, &str)],
    peer: &str,
) -> http::Request<support::FullBody> {
    from_peer(support::form(http::Method::POST, path, fields), peer)
}

/// Where `needle` first stands in `haystack`.
pub(crate) fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Runs `a` and `b` alternately, `2 + samples` times each, and returns the medians of their
/// durations without the first two (warm-up) rounds.
pub(crate) async fn paired_medians<A, FA, B, FB>(
    samples: usize,
    mut a: A,
    mut b: B,
) -> (Duration, Duration)
where
    A: FnMut(usize) -> FA,
    FA: Future<Output = ()>,
    B: FnMut(usize) -> FB,
    FB: Future<Output = ()>,
{
    // Timings: no heavy load (crash, soak, overload) and no other measurement meanwhile.
    let _alone = crate::support::alone::measuring().await;
    let (mut times_a, mut times_b) = (Vec::new(), Vec::new());
    for i in 0..samples + 2 {
        let t = Instant::now();
        a(i).await;
        let ta = t.elapsed();
        let t = Instant::now();
        b(i).await;
        let tb = t.elapsed();
        if i >= 2 {
            times_a.push(ta);
            times_b.push(tb);
        }
    }
    (median(times_a), median(times_b))
}

/// Asserts that two medians are within [`TIMING_RATIO`] of each other, printing them.
#[track_caller]
pub(crate) fn assert_alike(what: &str, a: (&str, Duration), b: (&str, Duration)) {
    let r = ratio(a.1, b.1);
    eprintln!(
        "{what}: {} median {:?}, {} median {:?}, ratio {r:.2}",
        a.0, a.1, b.0, b.1
    );
    assert!(
        TIMING_RATIO.contains(&r),
        "{what}: {} median {:?}, {} median {:?}, ratio {r:.2}",
        a.0,
        a.1,
        b.0,
        b.1
    );
}
