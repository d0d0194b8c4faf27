//! Crash safety: the demo on a real redb file, killed with SIGKILL at random moments while
//! several clients register, log in, log out and reset passwords; restarted on the same file,
//! every write it acknowledged must be there and nothing half-applied may show.
//!
//! `CRASH_CYCLES` sets the number of kill/restart cycles (20 by default, for CI);
//! `CRASH_SEED` replays a run.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use crate::support::{Body, Demo, Http};
use http::{Method, StatusCode};

/// What the clients know was acknowledged, per user.
#[derive(Clone, Debug, Default)]
struct Account {
    /// The password of the last acknowledged registration or reset.
    password: String,
    /// A reset in flight at the kill: either password may hold, not both.
    pending: Option<String>,
    /// Sessions whose login was acknowledged and whose logout was not sent.
    live: Vec<String>,
    /// Sessions whose logout was acknowledged.
    dead: Vec<String>,
}

type Accounts = Arc<Mutex<HashMap<String, Account>>>;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// Distinct, well-mixed seeds for every (worker, cycle).
fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

const ENV: [(&str, &str); 2] = [("AUTH_THROTTLE", "false"), ("AUTH_PURGE_INTERVAL", "3600")];

/// One client: random operations on its own accounts until the server stops answering.
async fn client(base: String, accounts: Accounts, worker: usize, cycle: usize, seed: u64) {
    let http = Http::new();
    let mut rng = Rng(splitmix(seed ^ splitmix((worker as u64) << 32 | cycle as u64)) | 1);
    let mut n = 0;
    loop {
        n += 1;
        let mine: Vec<String> = accounts
            .lock()
            .unwrap()
            .iter()
            .filter(|(email, a)| email.starts_with(&format!("w{worker}-")) && a.pending.is_none())
            .map(|(e, _)| e.clone())
            .collect();
        let op = if mine.is_empty() { 0 } else { rng.below(4) };
        let ok = match op {
            0 => {
                let email = format!("w{worker}-c{cycle}-{n}@crash.test");
                let password = format!("pw-{}", rng.next());
                let body = [("email", email.as_str()), ("password", password.as_str())];
                match http
                    .try_send(
                        Method::POST,
                        &format!("{base}/users"),
                        &[],
                        Body::Form(&body),
                    )
                    .await
                {
                    Ok(a) if a.status == StatusCode::OK => {
                        accounts.lock().unwrap().insert(
                            email,
                            Account {
                                password,
                                ..Account::default()
                            },
                        );
                        true
                    }
                    Ok(a) => panic!("register answered {}: {}", a.status, a.body),
                    Err(_) => false,
                }
            }
            1 => {
                let email = &mine[rng.below(mine.len() as u64) as usize];
                let password = accounts.lock().unwrap()[email].password.clone();
                let body = [("email", email.as_str()), ("password", password.as_str())];
                match http
                    .try_send(
                        Method::POST,
                        &format!("{base}/sessions"),
                        &[],
                        Body::Form(&body),
                    )
                    .await
                {
                    Ok(a) if a.status == StatusCode::OK => {
                        let cookie = a.cookie("session_id").expect("cookie");
                        accounts
                            .lock()
                            .unwrap()
                            .get_mut(email)
                            .unwrap()
                            .live
                            .push(cookie);
                        true
                    }
                    Ok(a) => panic!("login answered {}: {}", a.status, a.body),
                    Err(_) => false,
                }
            }
            2 => {
                let email = &mine[rng.below(mine.len() as u64) as usize];
                let Some(cookie) = accounts.lock().unwrap().get_mut(email).unwrap().live.pop()
                else {
                    continue;
                };
                let header = format!("session_id={cookie}");
                match http
                    .try_send(
                        Method::DELETE,
                        &format!("{base}/sessions"),
                        &[("cookie", &header)],
                        Body::Empty,
                    )
                    .await
                {
                    Ok(a) if a.status == StatusCode::FOUND => {
                        accounts
                            .lock()
                            .unwrap()
                            .get_mut(email)
                            .unwrap()
                            .dead
                            .push(cookie);
                        true
                    }
                    Ok(a) => panic!("logout answered {}: {}", a.status, a.body),
                    // In flight at the kill: its outcome is unknown, so it is checked no more.
                    Err(_) => false,
                }
            }
            _ => {
                let email = &mine[rng.below(mine.len() as u64) as usize];
                let body = [("email", email.as_str())];
                let token = match http
                    .try_send(
                        Method::POST,
                        &format!("{base}/reset_password"),
                        &[],
                        Body::Form(&body),
                    )
                    .await
                {
                    Ok(a) if a.status == StatusCode::OK => {
                        a.json()["reset_token"].as_str().expect("token").to_owned()
                    }
                    Ok(a) => panic!("reset request answered {}: {}", a.status, a.body),
                    Err(_) => return,
                };
                let new = format!("pw-{}", rng.next());
                accounts.lock().unwrap().get_mut(email).unwrap().pending = Some(new.clone());
                let body = [
                    ("email", email.as_str()),
                    ("reset_token", token.as_str()),
                    ("new_password", new.as_str()),
                ];
                match http
                    .try_send(
                        Method::PUT,
                        &format!("{base}/reset_password"),
                        &[],
                        Body::Form(&body),
                    )
                    .await
                {
                    Ok(a) if a.status == StatusCode::OK => {
                        let mut accounts = accounts.lock().unwrap();
                        let account = accounts.get_mut(email).unwrap();
                        account.password = new;
                        account.pending = None;
                        true
                    }
                    Ok(a) => panic!("reset answered {}: {}", a.status, a.body),
                    Err(_) => false,
                }
            }
        };
        if !ok {
            return;
        }
    }
}

/// The status of a login to `demo`.
async fn login_status(demo: &Demo, email: &str, password: &str) -> StatusCode {
    let fields = [("email", email), ("password", password)];
    demo.http
        .post("/sessions", Body::Form(&fields))
        .await
        .status
}

/// Everything acknowledged is there; in-flight resets landed whole or not at all.
async fn verify(demo: &Demo, accounts: &Accounts) {
    let snapshot: Vec<(String, Account)> = accounts.lock().unwrap().clone().into_iter().collect();
    for (email, account) in snapshot {
        let with_old = login_status(demo, &email, &account.password).await;
        match &account.pending {
            None => assert_eq!(
                with_old,
                StatusCode::OK,
                "{email}: acknowledged password lost"
            ),
            Some(new) => {
                let with_new = login_status(demo, &email, new).await;
                assert!(
                    (with_old == StatusCode::OK) != (with_new == StatusCode::OK),
                    "{email}: exactly one of the old and new passwords must work ({with_old}, {with_new}): {account:?}"
                );
                let mut accounts = accounts.lock().unwrap();
                let a = accounts.get_mut(&email).unwrap();
                if with_new == StatusCode::OK {
                    a.password = new.clone();
                }
                a.pending = None;
            }
        }
        for (cookies, expected, what) in [
            (
                &account.live,
                StatusCode::OK,
                "an acknowledged session was lost",
            ),
            (
                &account.dead,
                StatusCode::FORBIDDEN,
                "an ended session came back",
            ),
        ] {
            for cookie in cookies {
                let cookie = format!("session_id={cookie}");
                let a = demo.http.get("/profile", &cookie).await;
                assert_eq!(a.status, expected, "{email}: {what}");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_sigkill() {
    // A heavy load: never beside a measurement.
    let _alone = crate::support::alone::loading().await;
    let cycles: usize = std::env::var("CRASH_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let seed: u64 = std::env::var("CRASH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    println!("CRASH_SEED={seed} CRASH_CYCLES={cycles}");
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("crash.redb");
    let accounts: Accounts = Arc::default();
    let mut rng = Rng(seed);
    for cycle in 0..cycles {
        let mut demo = Demo::start(&db, &ENV);
        verify(&demo, &accounts).await;
        let workers: Vec<_> = (0..4)
            .map(|w| {
                tokio::spawn(client(
                    demo.base.clone(),
                    Arc::clone(&accounts),
                    w,
                    cycle,
                    seed,
                ))
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(50 + rng.below(300))).await;
        demo.signal("KILL");
        demo.wait();
        for w in workers {
            w.await.expect("a client found a wrong answer");
        }
    }
    let demo = Demo::start(&db, &ENV);
    verify(&demo, &accounts).await;
    let total = accounts.lock().unwrap().len();
    println!("{cycles} SIGKILL cycles, {total} accounts verified");
    assert!(total > cycles, "the clients did work between the kills");
}
