//! The demo binary as a child process: the one place that finds it, starts it and stops it.

use std::{
    io::{BufRead, BufReader, Read},
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    sync::mpsc::Receiver,
    thread::JoinHandle,
    time::{Duration, Instant},
};

use super::Client;

/// How long a demo may take to print its address, or to exit once signalled.
pub const DEMO_LIMIT: Duration = Duration::from_secs(30);

/// The demo binary `cargo test` built beside the running test: the test executable is
/// `target/<profile>/deps/<name>`, the demo `target/<profile>/examples/demo`.
pub fn binary() -> PathBuf {
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

/// The demo's command: `PORT=0`, `AUTH_DB=db`, `BCRYPT_COST=4`, `RUST_LOG=warn`, no
/// `AUTH_PROFILE`, `HOST`, `AUTH_DATABASE_URL` or `AUTH_DATABASE_POOL` from the test's
/// environment (a test on PostgreSQL passes them in `env`), then `env`.
pub fn command(db: &Path, env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(binary());
    cmd.env("PORT", "0")
        .env("AUTH_DB", db)
        .env("BCRYPT_COST", "4")
        .env("RUST_LOG", "warn")
        .env_remove("AUTH_PROFILE")
        .env_remove("HOST")
        .env_remove("AUTH_DATABASE_URL")
        .env_remove("AUTH_DATABASE_POOL")
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// Reads a pipe to its end on a thread.
pub fn read_to_end(pipe: impl Read + Send + 'static) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut s = String::new();
        let _ = BufReader::new(pipe).read_to_string(&mut s);
        s
    })
}

/// Waits for `child` to exit, at most `limit`; `None` (and the child killed) if it did not.
pub fn wait_for(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return Some(status);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A running demo; killed when dropped (for a test that failed half-way).
pub struct Demo {
    pub child: Child,
    /// `http://ADDR`, from its first line.
    pub base: String,
    /// A client of the demo.
    pub http: Client,
    /// Its standard output, line by line, after the address line.
    pub stdout: Receiver<String>,
    stderr: Option<JoinHandle<String>>,
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Demo {
    /// Starts the demo on `db` with [`command`]'s environment and `env`, and waits
    /// ([`DEMO_LIMIT`]) for its `listening on http://ADDR` line: a loopback address (`HOST`
    /// defaults to 127.0.0.1) with the port `PORT=0` picked.
    pub fn start(db: &Path, env: &[(&str, &str)]) -> Demo {
        let mut child = command(db, env)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the demo");
        let stdout = child.stdout.take().expect("stdout");
        let stderr = read_to_end(child.stderr.take().expect("stderr"));
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut demo = Demo {
            child,
            base: String::new(),
            http: Client::new(""),
            stdout: rx,
            stderr: Some(stderr),
        };
        let line = match demo.stdout.recv_timeout(DEMO_LIMIT) {
            Ok(line) => line,
            Err(e) => {
                let _ = demo.child.kill();
                let _ = demo.child.wait();
                panic!(
                    "the demo printed no address ({e}); stderr: {:?}",
                    demo.stderr()
                );
            }
        };
        let base = line
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("not the address line: {line:?}"))
            .to_owned();
        let addr: std::net::SocketAddr = base
            .strip_prefix("http://")
            .unwrap_or_else(|| panic!("not an http URL: {base:?}"))
            .parse()
            .unwrap_or_else(|e| panic!("not an address ({e}): {base:?}"));
        assert!(
            addr.ip().is_loopback(),
            "HOST defaults to 127.0.0.1: {addr}"
        );
        assert_ne!(addr.port(), 0, "PORT=0 prints the port it picked");
        demo.http = Client::new(&base);
        demo.base = base;
        demo
    }

    /// The token the development mailer printed for `email`: the next
    /// `reset token for <email>: <token>` line on standard output within 10 s (other lines
    /// are skipped). Blocks the thread while it waits.
    pub fn printed_reset_token(&self, email: &str) -> String {
        self.printed_token("reset", email)
    }

    /// The next `<kind> token for <email>: <token>` line's token on standard output within
    /// 10 s (`kind`: `reset`, `confirmation`, `email change`; other lines are skipped).
    /// Blocks the thread while it waits.
    pub fn printed_token(&self, kind: &str, email: &str) -> String {
        let prefix = format!("{kind} token for {email}: ");
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self.stdout.recv_timeout(left).unwrap_or_else(|e| {
                panic!("no {prefix:?} line on the demo's stdout ({e}); it printed: {seen:?}")
            });
            if let Some(token) = line.strip_prefix(&prefix) {
                return token.trim().to_owned();
            }
            seen.push(line);
        }
    }

    /// The URL of `path`.
    pub fn url(&self, path: &str) -> String {
        self.http.url(path)
    }

    /// Sends `signal` (`TERM`, `KILL`) to the demo.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{signal} failed");
    }

    /// Waits ([`DEMO_LIMIT`] at most) for the demo to exit.
    pub fn wait(&mut self) -> ExitStatus {
        wait_for(&mut self.child, DEMO_LIMIT)
            .unwrap_or_else(|| panic!("the demo did not exit within {DEMO_LIMIT:?}"))
    }

    /// Its standard error so far, once it has exited (empty if already taken).
    fn stderr(&mut self) -> String {
        self.stderr
            .take()
            .map(|h| h.join().unwrap_or_default())
            .unwrap_or_default()
    }

    /// Sends SIGTERM, waits for the exit; returns the status and standard error.
    pub fn terminate(self) -> (ExitStatus, String) {
        self.signal("TERM");
        self.terminated()
    }

    /// Waits for a demo that was already sent SIGTERM; returns the status and standard error.
    pub fn terminated(mut self) -> (ExitStatus, String) {
        let status = self.wait();
        let stderr = self.stderr();
        (status, stderr)
    }

    /// The resident memory of the demo, in KiB (Linux).
    pub fn rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    }
}
