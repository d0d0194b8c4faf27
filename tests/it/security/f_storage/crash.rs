//! Item 28: a crash (SIGKILL of a process writing) at an arbitrary point leaves the old or the
//! new state of each multi-record change, and the file opens.

use super::*;

const CRASH_CHILD_ENV: &str = "TOWER_USER_AUTH_CRASH_CHILD_DB";

const CRASH_EMAIL: &str = "crash@example.com";

fn crash_password(i: u64) -> String {
    format!("crash test password {i:06}")
}

fn crash_config() -> AuthConfig {
    // Hardened: a reset ends the sessions, in the same transaction.
    unthrottled(hardened_config())
}

/// Not a test of its own: the child process of
/// `item_28_crash_at_any_point_leaves_old_or_new_state_and_the_file_opens`. It does nothing
/// unless that test starts it (with the database path in the environment). It loops: three
/// sessions, a reset token, a reset (new hash, token removed, sessions ended), printing
/// `committed <i>` after each reset, until it is killed.
#[test]
fn crash_child_process() {
    let Ok(path) = std::env::var(CRASH_CHILD_ENV) else {
        return;
    };
    let rt = current_thread_runtime();
    rt.block_on(async {
        let auth = Auth::open(&path, crash_config()).unwrap();
        for i in 1.. {
            for _ in 0..3 {
                auth.create_session(CRASH_EMAIL).await.unwrap().unwrap();
            }
            let token = auth.get_reset_password_token(CRASH_EMAIL).await.unwrap();
            auth.update_password(token.expose(), &crash_password(i))
                .await
                .unwrap();
            println!("committed {i}");
        }
    });
}

/// Item 28: after a crash at round `last`, exactly one of the passwords `last` and `last + 1`
/// works, the index agrees with the records, and the database is fully usable.
async fn assert_old_or_new_state(path: &std::path::Path, round: u64, last: u64) {
    let store = RedbStore::open(path).expect("the file opens after a crash");
    let auth = Auth::new(store.clone(), crash_config()).expect("valid configuration");
    let valid = |i| {
        let auth = auth.clone();
        async move { auth.valid_login(CRASH_EMAIL, &crash_password(i)).await }
    };
    let (old, new) = (valid(last).await.unwrap(), valid(last + 1).await.unwrap());
    assert!(
        old ^ new,
        "round {round}: neither or both of the passwords {last}/{} work",
        last + 1
    );
    let query = UserQuery::Email(CRASH_EMAIL.into());
    let uid = store.find_user_by(query).await.unwrap().id;
    let sessions = store.sessions_of(uid).await.unwrap();
    let (users, all_sessions, resets) = store.counts().unwrap();
    assert_eq!(users, 1);
    // A reset ends the sessions in its transaction: never more than one round's.
    let n = sessions.len();
    assert!(n <= 3, "round {round}: {n} sessions");
    assert_eq!(all_sessions as usize, n, "round {round}: index out of step");
    assert!(resets <= 1, "round {round}: {resets} reset tokens");
    // The database is fully usable.
    let token = auth.get_reset_password_token(CRASH_EMAIL).await.unwrap();
    auth.update_password(token.expose(), "after the crash 123")
        .await
        .unwrap();
    let works = auth.valid_login(CRASH_EMAIL, "after the crash 123");
    assert!(works.await.unwrap());
    assert_eq!(store.counts().unwrap(), (1, 0, 0));
}

/// Item 28: a crash (SIGKILL of a process writing) at an arbitrary point leaves either the
/// old or the new state of each multi-record change, and the file opens.
#[test]
fn item_28_crash_at_any_point_leaves_old_or_new_state_and_the_file_opens() {
    for round in 0..5u64 {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DB_FILE);
        let rt = current_thread_runtime();
        rt.block_on(async {
            let auth = Auth::open(&path, crash_config()).unwrap();
            let password = crash_password(0);
            auth.register_user(CRASH_EMAIL, &password).await.unwrap();
        });
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                // This module's path as libtest names it (without the crate's name).
                &format!("{}::crash_child_process", &module_path!()["it::".len()..]),
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CRASH_CHILD_ENV, &path)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut last = 0u64;
        let target = 2 + round * 3;
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap();
            if let Some(n) = line.strip_prefix("committed ") {
                last = n.trim().parse().unwrap();
                if last >= target {
                    break;
                }
            }
        }
        assert!(last >= target, "the child stopped early at {last}");
        // Land the kill at a different point of the next iteration each round (this is a
        // crash test: the delay only varies where the process dies).
        std::thread::sleep(Duration::from_micros(round * 900));
        child.kill().unwrap();
        child.wait().unwrap();
        rt.block_on(assert_old_or_new_state(&path, round, last));
    }
}
