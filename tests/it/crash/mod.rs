//! Endurance: the demo binary over long runs, in one binary so that its two tests run side
//! by side (cargo runs test binaries one after another, and a binary's tests in parallel):
//!
//! - [`crash`]: SIGKILL at random moments under load; every acknowledged write survives
//!   (`CRASH_CYCLES`, 20 by default; `CRASH_SEED` replays a run);
//! - [`soak`]: a mixed workload with lifetimes of seconds; memory and database size level off
//!   (`SOAK_SECONDS`, 60 by default).
//!
//! Neither checks latencies, so their load skews nothing here; the suites that do (overload,
//! the security timing tests) are in other binaries.

mod sigkill;
mod soak;
