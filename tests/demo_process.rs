//! The demo as its users run it: a child process on a real redb file, stopped with SIGTERM
//! and restarted on the same file.

mod common;

use std::{
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use common::{Body, Http};
use http::{Method, StatusCode};

/// The demo binary `cargo test` built beside this test.
fn demo_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>");
    let demo = profile_dir
        .join("examples")
        .join(format!("demo{}", std::env::consts::EXE_SUFFIX));
    assert!(
        demo.exists(),
        "{} is missing: run the tests with cargo test",
        demo.display()
    );
    demo
}

struct Demo {
    child: Child,
    base: String,
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(db: &Path, extra: &[(&str, &str)]) -> Demo {
    let mut cmd = Command::new(demo_binary());
    cmd.env("PORT", "0")
        .env("AUTH_DB", db)
        .env("BCRYPT_COST", "4")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for (k, v) in extra {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("start the demo");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let line = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the demo prints its address");
    let base = line
        .strip_prefix("listening on ")
        .expect("address line")
        .to_owned();
    Demo { child, base }
}

fn stop(mut demo: Demo) -> std::process::ExitStatus {
    let status = Command::new("kill")
        .args(["-TERM", &demo.child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = demo.child.try_wait().expect("wait") {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "the demo did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_serves_stops_on_sigterm_and_keeps_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("demo.redb");
    let http = Http::new();
    let creds = [("email", "demo@example.com"), ("password", "abcde")];

    let demo = start(&db, &[]);
    let a = http
        .send(Method::GET, &format!("{}/", demo.base), &[], Body::Empty)
        .await;
    assert_eq!(a.json(), serde_json::json!({"message": "Bienvenue"}));
    let a = http
        .send(
            Method::POST,
            &format!("{}/users", demo.base),
            &[],
            Body::Form(&creds),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK);
    let a = http
        .send(
            Method::POST,
            &format!("{}/sessions", demo.base),
            &[],
            Body::Form(&creds),
        )
        .await;
    let cookie = format!("session_id={}", a.cookie("session_id").expect("cookie"));
    let a = http
        .send(
            Method::GET,
            &format!("{}/me", demo.base),
            &[("cookie", &cookie)],
            Body::Empty,
        )
        .await;
    assert_eq!(a.json()["email"], "demo@example.com");
    assert!(stop(demo).success(), "exit 0 on SIGTERM");

    let demo = start(&db, &[]);
    let a = http
        .send(
            Method::GET,
            &format!("{}/profile", demo.base),
            &[("cookie", &cookie)],
            Body::Empty,
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "the session survived the restart");
    let a = http
        .send(
            Method::POST,
            &format!("{}/sessions", demo.base),
            &[],
            Body::Form(&creds),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "so did the account");
    assert!(stop(demo).success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hardened_demo_prints_the_reset_token_on_stdout_only() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("demo.redb");
    let mut cmd = Command::new(demo_binary());
    cmd.env("PORT", "0")
        .env("AUTH_DB", &db)
        .env("BCRYPT_COST", "4")
        .env("AUTH_PROFILE", "hardened")
        .env("AUTH_COOKIE_SECURE", "false")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let err_log = std::thread::spawn(move || {
        let mut s = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            s.push_str(&line);
            s.push('\n');
        }
        s
    });
    let base = rx
        .recv_timeout(Duration::from_secs(30))
        .unwrap()
        .replace("listening on ", "");
    let demo = Demo { child, base };
    let http = Http::new();
    let creds = [
        ("email", "h@example.com"),
        ("password", "a long enough passphrase"),
    ];
    let a = http
        .send(
            Method::POST,
            &format!("{}/users", demo.base),
            &[],
            Body::Form(&creds),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let a = http
        .send(
            Method::POST,
            &format!("{}/reset_password", demo.base),
            &[],
            Body::Form(&[("email", "h@example.com")]),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(a.json().get("reset_token").is_none(), "never in the answer");
    let line = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the hook prints the token");
    let token = line
        .strip_prefix("reset token for h@example.com: ")
        .expect("mailer line")
        .to_owned();
    let a = http
        .send(
            Method::PUT,
            &format!("{}/reset_password", demo.base),
            &[],
            Body::Form(&[
                ("email", "h@example.com"),
                ("reset_token", &token),
                ("new_password", "another long passphrase"),
            ]),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(stop(demo).success());
    let log = err_log.join().unwrap();
    assert!(
        log.contains("reset_requested"),
        "the audit log has the event"
    );
    assert!(!log.contains(&token), "the token is never logged");
    assert!(!log.contains("a long enough passphrase"));
}

#[test]
fn bad_configuration_stops_the_demo_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    for (env, expect) in [
        (vec![("AUTH_PROFILE", "bogus")], "bogus"),
        (
            vec![("AUTH_DB", "/nonexistent/dir/x.redb")],
            "cannot open the database",
        ),
        (vec![("BCRYPT_COST", "99")], "bcrypt cost"),
        (
            vec![("AUTH_SESSION_LIFETIME", "soon")],
            "AUTH_SESSION_LIFETIME",
        ),
        (vec![("AUTH_TRUSTED_PROXIES", "not-an-ip")], "not-an-ip"),
    ] {
        let mut cmd = Command::new(demo_binary());
        cmd.env("PORT", "0")
            .env("AUTH_DB", dir.path().join("x.redb"));
        for (k, v) in &env {
            cmd.env(k, v);
        }
        let out = cmd.output().expect("run the demo");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{env:?}");
        assert!(stderr.contains(expect), "{env:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}
