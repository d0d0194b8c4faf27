//! Tests that must not share the one test process as the others do (`cargo test --test it`
//! runs every concern in one process, two tests at a time on two cores):
//!
//! - [`in_own_process`]: a test that changes what is process-wide (a global `tracing`
//!   subscriber) runs in a child process of this binary, alone;
//! - [`measuring`]: a test whose assertions are timings (medians, latency bounds) holds the
//!   machine against the heavy loads and the other timings for as long as it measures;
//! - [`loading`]: a heavy load that checks no latency (the crash and soak runs) may run beside
//!   another load, never beside a measurement.

use std::process::Command;

use tokio::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

/// The variable that tells a child of [`in_own_process`] it is the child.
const CHILD: &str = "TOWER_USER_AUTH_TEST_ALONE";

/// Held for reading by the loads, for writing by the measurements. Fair (FIFO): a waiting
/// measurement is not starved by loads arriving after it.
static MACHINE: RwLock<()> = RwLock::const_new(());

/// Runs the test `path` (its `module_path!()` and name, as in
/// `concat!(module_path!(), "::name")`) alone in a child process of this test binary, and
/// asserts that it ran and passed. Returns `true` in the parent, which then returns; `false`
/// in the child, which then runs the test's body.
///
/// ```ignore
/// #[tokio::test]
/// async fn installs_a_global_subscriber() {
///     if support::alone::in_own_process(concat!(module_path!(), "::installs_a_global_subscriber")) {
///         return;
///     }
///     // The body, alone in its process.
/// }
/// ```
pub fn in_own_process(path: &str) -> bool {
    if std::env::var_os(CHILD).is_some() {
        return false;
    }
    // `module_path!()` starts with the crate's name; libtest names tests without it.
    let name = path.split_once("::").map_or(path, |(_, rest)| rest);
    let exe = std::env::current_exe().expect("the test executable");
    let out = Command::new(exe)
        .args([name, "--exact", "--test-threads=1", "--nocapture"])
        .env(CHILD, "1")
        .output()
        .expect("run the test binary");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "{name} in its own process: {}\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
    true
}

/// Waits until no load and no other measurement runs, and keeps them out until dropped.
pub async fn measuring() -> RwLockWriteGuard<'static, ()> {
    MACHINE.write().await
}

/// Waits until no measurement runs, and keeps measurements out until dropped (other loads
/// may run beside it).
pub async fn loading() -> RwLockReadGuard<'static, ()> {
    MACHINE.read().await
}
