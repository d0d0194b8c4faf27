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

mod driver;
pub mod pages;
pub mod totp;

use self::driver::Driver;
pub use self::driver::{CHROMIUM_FLAGS, Programs, browser_required};

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
        let turn = ONE_AT_A_TIME.lock().await;
        let mut driver = Driver::start(&programs).await;
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
        let webdriver = format!("http://{}", driver.addr);
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

    /// Fills the demo's form `form#{name}-form` with `fields` ([`fill`](Self::fill)) and
    /// clicks its `button#{name}-submit` (no wait for the page it loads).
    pub async fn submit(&self, name: &str, fields: &[(&str, &str)]) {
        self.fill(&format!("form#{name}-form"), fields).await;
        self.click(&format!("button#{name}-submit")).await;
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

    /// Waits ([`WAIT`]) until the element `css` has a non-empty text outside any `[hidden]`
    /// (shown by the page's script); that text, trimmed.
    pub async fn wait_for_text(&self, css: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let text = self
                .script(
                    "var e = document.querySelector(arguments[0]); \
                     return e && !e.closest('[hidden]') ? e.textContent : '';",
                    vec![json!(css)],
                )
                .await;
            if let Some(text) = text.as_str().filter(|t| !t.trim().is_empty()) {
                return text.trim().to_owned();
            }
            if Instant::now() >= deadline {
                self.fail(&format!("no text in {css:?} within {WAIT:?}"))
                    .await;
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// `document.cookie`: the cookies a page's scripts can read (no HttpOnly ones).
    pub async fn document_cookie(&self) -> String {
        match self.script("return document.cookie;", vec![]).await {
            Value::String(s) => s,
            v => self.fail(&format!("document.cookie is {v}")).await,
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
