//! Headless Chromium driven over WebDriver: chromedriver as a child process on a free
//! loopback port, one browser session, everything killed on drop (a panic included).
//!
//! The client is [`fantoccini`] (jonhoo's, on crates.io since 2017 and kept up to date): it
//! speaks W3C WebDriver over hyper 1 and `hyper-util`, which the crate's tests already build,
//! and with its default features off it needs no TLS stack at all (chromedriver listens on
//! plain `http://127.0.0.1`). `thirtyfour`, the other maintained client, brings `reqwest` and
//! rustls by default and a driver manager that downloads chromedriver, which this machine's
//! closed network cannot do anyway; its extras (components, CDP) are not needed here.
//!
//! Finding the programs: `CHROMEDRIVER` and `CHROMIUM` (paths) when set, else `chromedriver`
//! and `chromium` (or `chromium-browser`) on `PATH`, else in `/usr/bin`. When one is missing,
//! [`Browser::start_or_skip`] prints `skipped: <reason>` and gives `None` (the test returns
//! and passes), unless `REQUIRE_BROWSER=1`, where it panics naming what is missing (CI).
//!
//! Every wait is bounded by [`WAIT`]; a wait that runs out panics with the page's URL and
//! text. The WebDriver session's page-load and script timeouts are [`WAIT`] too, so a
//! navigation or a click that loads a page cannot hang either.

use std::{
    io::{Read, Write},
    net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use fantoccini::{Client, ClientBuilder, Locator, elements::Element};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};

/// The bound of every wait: for chromedriver to listen, for an element, for a URL.
pub const WAIT: Duration = Duration::from_secs(30);

/// The bound of a whole browser test: a WebDriver command that never answers (a hung
/// chromedriver) fails the test by then instead of hanging it.
pub const TEST_LIMIT: Duration = Duration::from_secs(240);

/// Runs `test` ([`TEST_LIMIT`] at most).
pub async fn bounded<F: std::future::Future>(test: F) -> F::Output {
    tokio::time::timeout(TEST_LIMIT, test)
        .await
        .unwrap_or_else(|_| panic!("the test did not finish within {TEST_LIMIT:?}"))
}

/// How often a wait looks again.
const POLL: Duration = Duration::from_millis(50);

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

/// The directory for the tests' artefacts: `$CARGO_TARGET_DIR/browser`, else
/// `<crate>/target/browser`; created.
pub fn artefacts_dir() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .filter(|v| !v.is_empty())
        .map_or_else(|| manifest.join("target"), |t| manifest.join(t));
    let dir = target.join("browser");
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    dir
}

/// chromedriver, run in its own process group so that dropping it ends Chromium too.
struct Driver {
    child: Child,
    /// Its working directory, Chromium's user-data-dir and its log.
    dir: tempfile::TempDir,
    addr: SocketAddr,
    /// The WebDriver session to end before killing anything, if still open.
    session: Option<String>,
    /// Killed and reaped already: its process id may belong to another process now.
    killed: bool,
}

impl Driver {
    fn log(&self) -> String {
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
    fn kill(&mut self) {
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

/// One browser at a time in a test binary: on two cores, Chromiums side by side (each beside
/// its demo) would only slow each other towards the waits' bounds.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A headless Chromium session; chromedriver and Chromium are killed when it is dropped.
pub struct Browser {
    pub client: Client,
    driver: Driver,
    pub programs: Programs,
    /// Released last, once chromedriver and Chromium are gone.
    _turn: tokio::sync::MutexGuard<'static, ()>,
}

impl Browser {
    /// A browser, or `None` after printing `skipped: <reason>` when chromedriver or Chromium
    /// is missing; with `REQUIRE_BROWSER=1` a missing program panics instead.
    pub async fn start_or_skip() -> Option<Browser> {
        match Programs::find() {
            Ok(programs) => Some(Browser::start(programs).await),
            Err(reason) if browser_required() => {
                panic!("REQUIRE_BROWSER=1 but the browser is missing: {reason}")
            }
            Err(reason) => {
                println!("skipped: {reason}");
                None
            }
        }
    }

    /// Starts chromedriver on a free loopback port, waits for it ([`WAIT`]) and opens a
    /// headless session with [`CHROMIUM_FLAGS`] and a new empty user-data-dir.
    /// Waits for its turn first: one browser at a time per test binary.
    pub async fn start(programs: Programs) -> Browser {
        use std::os::unix::process::CommandExt;
        let turn = ONE_AT_A_TIME.lock().await;
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

        let user_data = driver.dir.path().join("profile");
        std::fs::create_dir_all(&user_data).expect("user-data-dir");
        let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|s| (*s).to_owned()).collect();
        args.push(format!("--user-data-dir={}", user_data.display()));
        let millis = u64::try_from(WAIT.as_millis()).expect("WAIT in ms");
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": programs.chromium,
                "args": args,
            },
            "timeouts": {"pageLoad": millis, "script": millis, "implicit": 0},
        });
        let Value::Object(caps) = caps else {
            unreachable!()
        };
        let mut builder = ClientBuilder::new(HttpConnector::new());
        builder.capabilities(caps);
        let webdriver = format!("http://{addr}");
        let client = match tokio::time::timeout(WAIT, builder.connect(&webdriver)).await {
            Ok(Ok(client)) => client,
            Ok(Err(e)) => panic!(
                "no WebDriver session ({e}); chromedriver's log:\n{}",
                driver.log()
            ),
            Err(_) => panic!(
                "no WebDriver session within {WAIT:?}; chromedriver's log:\n{}",
                driver.log()
            ),
        };
        driver.session = client.session_id().await.ok().flatten();
        Browser {
            client,
            driver,
            programs,
            _turn: turn,
        }
    }

    /// Ends the WebDriver session (Chromium quits), then chromedriver.
    pub async fn close(mut self) {
        let client = self.client.clone();
        if let Ok(Ok(())) = tokio::time::timeout(Duration::from_secs(10), client.close()).await {
            self.driver.session = None;
        }
        self.driver.kill();
    }

    /// Panics with `what`, the current URL and the page's text.
    pub async fn fail(&self, what: &str) -> ! {
        let url = self
            .client
            .current_url()
            .await
            .map_or_else(|e| format!("<no URL: {e}>"), |u| u.to_string());
        let text = self.body_text().await;
        panic!("{what}\n  at {url}\n  page text:\n{text}\n  (end of page text)");
    }

    /// The text of the page's body (`innerText`), or a note saying why there is none.
    pub async fn body_text(&self) -> String {
        match self
            .client
            .execute(
                "return document.body ? document.body.innerText : document.documentElement.outerHTML;",
                vec![],
            )
            .await
        {
            Ok(Value::String(s)) => s,
            Ok(v) => v.to_string(),
            Err(e) => format!("<no page text: {e}>"),
        }
    }

    /// Opens `url` (the page load is bounded by [`WAIT`]).
    pub async fn goto(&self, url: &str) {
        if let Err(e) = self.client.goto(url).await {
            self.fail(&format!("could not open {url}: {e}")).await;
        }
    }

    /// The current URL.
    pub async fn url(&self) -> url::Url {
        self.client.current_url().await.expect("current URL")
    }

    /// The current URL's path and query (`/login?error=wrong_credentials`).
    pub async fn path_and_query(&self) -> String {
        let url = self.url().await;
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        }
    }

    /// Waits ([`WAIT`]) for an element matching `css`.
    pub async fn wait_for(&self, css: &str) -> Element {
        match self
            .client
            .wait()
            .at_most(WAIT)
            .every(POLL)
            .for_element(Locator::Css(css))
            .await
        {
            Ok(e) => e,
            Err(e) => {
                self.fail(&format!("no element {css:?} within {WAIT:?} ({e})"))
                    .await
            }
        }
    }

    /// Waits ([`WAIT`]) until the current path and query satisfy `ok`; `what` describes it.
    pub async fn wait_for_path(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Ok(url) = self.client.current_url().await {
                let pq = match url.query() {
                    Some(q) => format!("{}?{q}", url.path()),
                    None => url.path().to_owned(),
                };
                if ok(&pq) {
                    return pq;
                }
            }
            if Instant::now() >= deadline {
                self.fail(&format!("not at {what} within {WAIT:?}")).await;
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits ([`WAIT`]) for the page at exactly `path_and_query`.
    pub async fn wait_for_page(&self, path_and_query: &str) {
        self.wait_for_path(path_and_query, |pq| pq == path_and_query)
            .await;
    }

    /// Waits ([`WAIT`]) until the text of `css` satisfies `ok`; returns the text.
    pub async fn wait_for_text(&self, css: &str, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let text = match self.client.find(Locator::Css(css)).await {
                Ok(e) => e.text().await.ok(),
                Err(_) => None,
            };
            if let Some(text) = text.filter(|t| ok(t)) {
                return text;
            }
            if Instant::now() >= deadline {
                self.fail(&format!("{css:?} is not {what} within {WAIT:?}"))
                    .await;
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// The text of the element `css`, waited for.
    pub async fn text(&self, css: &str) -> String {
        let e = self.wait_for(css).await;
        match e.text().await {
            Ok(t) => t,
            Err(e) => self.fail(&format!("no text for {css:?}: {e}")).await,
        }
    }

    /// Fills the fields of the form `form` (a CSS selector), by name: each is cleared then
    /// typed into, as a user would.
    pub async fn fill(&self, form: &str, fields: &[(&str, &str)]) {
        self.wait_for(form).await;
        for (name, value) in fields {
            let css = format!("{form} [name=\"{name}\"]");
            let input = self.wait_for(&css).await;
            if let Err(e) = input.clear().await {
                self.fail(&format!("could not clear {css:?}: {e}")).await;
            }
            if let Err(e) = input.send_keys(value).await {
                self.fail(&format!("could not type into {css:?}: {e}"))
                    .await;
            }
        }
    }

    /// Clicks the element `css`, waited for (a click that loads a page waits for it,
    /// [`WAIT`] at most).
    pub async fn click(&self, css: &str) {
        let e = self.wait_for(css).await;
        if let Err(e) = e.click().await {
            self.fail(&format!("could not click {css:?}: {e}")).await;
        }
    }

    /// The value of attribute `name` of `css`, waited for.
    pub async fn attr(&self, css: &str, name: &str) -> Option<String> {
        let e = self.wait_for(css).await;
        match e.attr(name).await {
            Ok(v) => v,
            Err(e) => {
                self.fail(&format!("no attribute {name} of {css:?}: {e}"))
                    .await
            }
        }
    }

    /// Runs `script` in the page; its return value.
    pub async fn script(&self, script: &str, args: Vec<Value>) -> Value {
        match self.client.execute(script, args).await {
            Ok(v) => v,
            Err(e) => self.fail(&format!("script failed ({e}): {script}")).await,
        }
    }

    /// Runs `script` in the page as the body of an async function of `args` (an array:
    /// `args[0]`, ...); the value its promise gives.
    pub async fn script_async(&self, script: &str, args: Vec<Value>) -> Value {
        let wrapped = format!(
            "const done = arguments[arguments.length - 1];\
             const args = Array.from(arguments).slice(0, -1);\
             (async (args) => {{ {script} }})(args)\
             .then(done, e => done({{__error: String(e)}}));"
        );
        match self.client.execute_async(&wrapped, args).await {
            Ok(v) if v.get("__error").is_some() => {
                self.fail(&format!("script failed ({}): {script}", v["__error"]))
                    .await
            }
            Ok(v) => v,
            Err(e) => self.fail(&format!("script failed ({e}): {script}")).await,
        }
    }

    /// `document.cookie`: the cookies a page's scripts can read (no HttpOnly ones).
    pub async fn document_cookie(&self) -> String {
        match self.script("return document.cookie;", vec![]).await {
            Value::String(s) => s,
            v => self.fail(&format!("document.cookie is {v}")).await,
        }
    }

    /// Adds cookie `name=value` for the current page's site, host-only and HttpOnly as the
    /// layer's is.
    pub async fn add_cookie(&self, name: &str, value: &str) {
        let cmd = AddCookie(json!({
            "cookie": {"name": name, "value": value, "path": "/", "httpOnly": true},
        }));
        if let Err(e) = self.client.issue_cmd(cmd).await {
            self.fail(&format!("could not add cookie {name}: {e}"))
                .await;
        }
    }

    /// The value of the browser's cookie `name` for the current site (HttpOnly ones too: the
    /// WebDriver view, not the page's).
    pub async fn cookie(&self, name: &str) -> Option<String> {
        match self.client.get_named_cookie(name).await {
            Ok(c) => Some(c.value().to_owned()),
            Err(_) => None,
        }
    }

    /// Saves a PNG screenshot of the page at `path`.
    pub async fn screenshot(&self, path: &Path) {
        let png = match self.client.screenshot().await {
            Ok(png) => png,
            Err(e) => self.fail(&format!("no screenshot: {e}")).await,
        };
        assert!(png.starts_with(b"\x89PNG"), "not a PNG");
        std::fs::write(path, png).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    }
}

/// WebDriver's Add Cookie without a `domain` (a host-only cookie): fantoccini's own
/// `add_cookie` sends `"domain": null`, which chromedriver refuses, and a domain of
/// `127.0.0.1` is refused by Chromium.
#[derive(Debug)]
struct AddCookie(Value);

impl fantoccini::wd::WebDriverCompatibleCommand for AddCookie {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/cookie",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(self.0.to_string()))
    }
}
