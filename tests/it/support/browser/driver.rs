//! chromedriver as a child process: finding the programs, starting it on a free loopback
//! port in its own process group, and killing it with whatever it started.

use std::{
    io::{Read, Write},
    net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use super::{POLL, WAIT};

/// Chromium's flags: headless, and quiet on this machine's closed network (without the
/// background-networking flags its connections are refused many at a time).
pub const CHROMIUM_FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,900",
];

/// The two programs a browser test needs.
#[derive(Debug, Clone)]
pub struct Programs {
    pub chromedriver: PathBuf,
    pub chromium: PathBuf,
}

/// An executable file with one of `names`: the path in env `var` if set, else on `PATH`,
/// else in `/usr/bin`. `Err` says what is missing.
fn find(var: &str, names: &[&str]) -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os(var).filter(|v| !v.is_empty()) {
        let path = PathBuf::from(path);
        return if is_executable(&path) {
            Ok(path)
        } else {
            Err(format!(
                "{var}={} is not an executable file",
                path.display()
            ))
        };
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs = std::env::split_paths(&path).chain([PathBuf::from("/usr/bin")]);
    for dir in dirs {
        for name in names {
            let candidate = dir.join(name);
            if is_executable(&candidate) {
                return Ok(candidate);
            }
        }
    }
    Err(format!(
        "no {} on PATH nor in /usr/bin (Debian: apt-get install chromium chromium-driver; or set {var})",
        names.join(" or ")
    ))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

impl Programs {
    /// chromedriver and Chromium, or what is missing.
    pub fn find() -> Result<Self, String> {
        let chromedriver = find("CHROMEDRIVER", &["chromedriver"]);
        let chromium = find("CHROMIUM", &["chromium", "chromium-browser"]);
        match (chromedriver, chromium) {
            (Ok(chromedriver), Ok(chromium)) => Ok(Self {
                chromedriver,
                chromium,
            }),
            (a, b) => Err([a.err(), b.err()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join("; ")),
        }
    }
}

/// Whether env `REQUIRE_BROWSER` is `1` (or `true`): a missing browser fails the test.
pub fn browser_required() -> bool {
    std::env::var("REQUIRE_BROWSER")
        .is_ok_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes"))
}

/// chromedriver, run in its own process group so that dropping it ends Chromium too.
pub(super) struct Driver {
    child: Child,
    /// Its working directory, Chromium's user-data-dir and its log.
    pub(super) dir: tempfile::TempDir,
    pub(super) addr: SocketAddr,
    /// The WebDriver session to end before killing anything, if still open.
    pub(super) session: Option<String>,
    /// Killed and reaped already: its process id may belong to another process now.
    killed: bool,
}

impl Driver {
    /// Starts chromedriver on a free loopback port in a new temp dir and waits for it to
    /// listen ([`WAIT`]).
    pub(super) async fn start(programs: &Programs) -> Driver {
        use std::os::unix::process::CommandExt;
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let child = Command::new(&programs.chromedriver)
            .arg(format!("--port={port}"))
            .arg(format!(
                "--log-path={}",
                dir.path().join("chromedriver.log").display()
            ))
            .current_dir(dir.path())
            .env("HOME", dir.path())
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", programs.chromedriver.display()));
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let mut driver = Driver {
            child,
            dir,
            addr,
            session: None,
            killed: false,
        };
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = driver.child.try_wait().expect("wait") {
                panic!(
                    "chromedriver exited ({status}) before listening on {addr}; its log:\n{}",
                    driver.log()
                );
            }
            if TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not listen on {addr} within {WAIT:?}; its log:\n{}",
                driver.log()
            );
            tokio::time::sleep(POLL).await;
        }

        driver
    }

    pub(super) fn log(&self) -> String {
        let mut s = String::new();
        let _ = std::fs::File::open(self.dir.path().join("chromedriver.log"))
            .and_then(|mut f| f.read_to_string(&mut s));
        let tail: Vec<&str> = s.lines().rev().take(40).collect();
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    }

    /// Ends the WebDriver session with a blocking `DELETE /session/{id}` (usable in `drop`,
    /// on a panic): chromedriver quits Chromium and reaps it, which a plain kill cannot do
    /// (Chromium's processes would be orphans of a PID 1 that may never reap them).
    fn end_session(&mut self) {
        let Some(id) = self.session.take() else {
            return;
        };
        let Ok(mut stream) = TcpStream::connect_timeout(&self.addr, Duration::from_secs(2)) else {
            return;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
        let _ = stream.set_write_timeout(Some(Duration::from_secs(2)));
        let request = format!(
            "DELETE /session/{id} HTTP/1.1\r\nHost: {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.addr
        );
        if stream.write_all(request.as_bytes()).is_ok() {
            read_answer(&mut stream);
        }
    }

    /// Ends the session, kills the whole process group (chromedriver and whatever of
    /// Chromium is left), reaps chromedriver, then kills any straggler by process id.
    pub(super) fn kill(&mut self) {
        if self.killed {
            return;
        }
        self.killed = true;
        self.end_session();
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
        kill_stragglers(self.dir.path());
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Kills, by process id, any process whose command line names `user_data_dir` (a unique
/// temp dir of this test): a Chromium helper that left the process group.
fn kill_stragglers(user_data_dir: &Path) {
    let needle = user_data_dir.to_string_lossy().into_owned();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        if String::from_utf8_lossy(&cmdline).contains(&needle) {
            let _ = Command::new("kill")
                .args(["-KILL", pid])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// Reads one HTTP answer with a `Content-Length` (chromedriver keeps the connection open
/// whatever `Connection: close` says), or until the read times out.
fn read_answer(stream: &mut TcpStream) {
    let mut answer = Vec::new();
    let mut buf = [0; 4096];
    loop {
        let Ok(n) = stream.read(&mut buf) else {
            return;
        };
        if n == 0 {
            return;
        }
        answer.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&answer);
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if answer.len() >= end + 4 + length {
                return;
            }
        }
    }
}

/// A free loopback port (bound then released).
fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}
