//! PostgreSQL for the tests (feature `postgres`): a server, and a fresh database per test.
//!
//! The server is `TEST_DATABASE_URL` when it is set (a `postgres://` URL of a role that may
//! create databases; CI's `.ci/run` sets it to its throwaway cluster). Otherwise the first
//! test of a binary starts a throwaway cluster of its own: `initdb` and `pg_ctl` from `PATH`
//! or `/usr/lib/postgresql/*/bin`, in a temp dir, on a free loopback port, run as the
//! `postgres` user when the tests run as root (PostgreSQL refuses to run as root); a watchdog
//! stops it and removes the dir when the test process exits. A test that needs a database
//! outage starts a cluster of its own ([`own_cluster`]), which it stops and starts again.
//!
//! Each test gets its own database, `t_<random>` ([`database`]), dropped when the test is
//! done with it. Without a server, [`database`] prints `skipped: <reason>` and
//! answers `None` (the test returns), or, under `REQUIRE_POSTGRES=1`, fails the test naming
//! what is missing.

use std::{
    env,
    net::TcpListener,
    path::PathBuf,
    process::{Command, Stdio},
    sync::OnceLock,
};

use tokio_postgres::NoTls;
use tower_user_auth::store::PgStore;

/// A fresh, empty database on the test server, dropped with it.
pub struct TestDatabase {
    url: String,
    admin_url: String,
    name: String,
}

impl Drop for TestDatabase {
    /// Drops the database (`WITH (FORCE)`: the store's pool may still hold connections), on a
    /// thread of its own, since the test's runtime may be gone or busy.
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                let admin = connect(&admin_url).await.ok()?;
                let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                admin.batch_execute(&sql).await.ok()
            })
        });
        let _ = dropped.join();
    }
}

impl TestDatabase {
    /// Its `postgres://` URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A [`PgStore`] on it (the first one applies the migrations).
    pub async fn store(&self) -> PgStore {
        PgStore::connect(&self.url)
            .await
            .unwrap_or_else(|e| panic!("PgStore::connect({}): {e}", self.url))
    }

    /// A plain connection to it, for looking under the store.
    pub async fn client(&self) -> tokio_postgres::Client {
        connect(&self.url)
            .await
            .unwrap_or_else(|e| panic!("connect to {}: {e}", self.url))
    }
}

/// A new database on the test server; `None` (after printing `skipped: <reason>`) when there
/// is no server, unless `REQUIRE_POSTGRES=1`, which fails the test instead.
pub async fn database() -> Option<TestDatabase> {
    let made = match server() {
        Ok(admin) => create_database(admin).await,
        Err(reason) => Err(reason.clone()),
    };
    match made {
        Ok(db) => Some(db),
        Err(reason) if required() => {
            panic!("REQUIRE_POSTGRES=1, but no PostgreSQL server for the tests: {reason}")
        }
        Err(reason) => {
            println!("skipped: {reason}");
            None
        }
    }
}

/// Whether `REQUIRE_POSTGRES=1`.
fn required() -> bool {
    env::var("REQUIRE_POSTGRES").is_ok_and(|v| v == "1")
}

/// Connects with tokio-postgres, driving the connection on the current runtime.
async fn connect(url: &str) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

/// Creates `t_<random>` on the server of `admin_url`; its URL.
async fn create_database(admin_url: &str) -> Result<TestDatabase, String> {
    let admin = connect(admin_url)
        .await
        .map_err(|e| format!("cannot connect to {}: {e}", redacted(admin_url)))?;
    let name = format!("t_{}", uuid::Uuid::new_v4().simple());
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .map_err(|e| format!("CREATE DATABASE on {}: {e}", redacted(admin_url)))?;
    let mut url =
        url::Url::parse(admin_url).map_err(|e| format!("TEST_DATABASE_URL is not a URL: {e}"))?;
    url.set_path(&format!("/{name}"));
    Ok(TestDatabase {
        url: url.into(),
        admin_url: admin_url.to_owned(),
        name,
    })
}

/// `url` without its password, for messages.
fn redacted(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            if u.password().is_some() {
                let _ = u.set_password(Some("***"));
            }
            u.into()
        }
        Err(_) => "the database URL".to_owned(),
    }
}

/// The URL of the test server's administrative database: `TEST_DATABASE_URL`, or a
/// throwaway cluster started once per test binary; why there is none otherwise.
fn server() -> &'static Result<String, String> {
    static SERVER: OnceLock<Result<String, String>> = OnceLock::new();
    SERVER.get_or_init(|| match env::var("TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => Ok(url),
        _ => Cluster::start().map(|cluster| {
            let url = cluster.url();
            // The binary's cluster lives as long as the process; its watchdog stops it.
            std::mem::forget(cluster);
            url
        }),
    })
}

/// A throwaway cluster of this test's own, which it may stop and start again (a database
/// outage); `None` after printing `skipped: <reason>` without PostgreSQL's binaries, or a
/// failure under `REQUIRE_POSTGRES=1`.
pub fn own_cluster() -> Option<Cluster> {
    match Cluster::start() {
        Ok(cluster) => Some(cluster),
        Err(reason) if required() => {
            panic!("REQUIRE_POSTGRES=1, but no PostgreSQL cluster for the test: {reason}")
        }
        Err(reason) => {
            println!("skipped: {reason}");
            None
        }
    }
}

/// The directory holding `initdb` and `pg_ctl`: on `PATH`, else the newest
/// `/usr/lib/postgresql/*/bin`.
fn binaries() -> Result<PathBuf, String> {
    let on_path = env::var_os("PATH")
        .into_iter()
        .flat_map(|p| env::split_paths(&p).collect::<Vec<_>>())
        .find(|dir| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file());
    if let Some(dir) = on_path {
        return Ok(dir);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            (bin.join("initdb").is_file() && bin.join("pg_ctl").is_file()).then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin).ok_or_else(|| {
        "TEST_DATABASE_URL is not set and no initdb/pg_ctl found on PATH or under \
         /usr/lib/postgresql/*/bin (install PostgreSQL, e.g. Debian's `postgresql` package)"
            .to_owned()
    })
}

/// Whether this process runs as root (then PostgreSQL must run as `postgres`).
fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

/// Runs `command`; its stderr as the error if it fails.
fn run(mut command: Command, what: &str) -> Result<(), String> {
    let out = command
        .output()
        .map_err(|e| format!("cannot run {what}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{what} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// A throwaway PostgreSQL cluster in a temp dir, on a loopback port, trusting local logins
/// as `postgres`. Dropping it stops it and removes the dir; so does its watchdog when the
/// test process exits without dropping it.
pub struct Cluster {
    bin: PathBuf,
    dir: String,
    port: u16,
    as_postgres: bool,
}

impl Cluster {
    /// `initdb`, then `pg_ctl start` on a free port.
    fn start() -> Result<Self, String> {
        let bin = binaries()?;
        let as_postgres = is_root();
        let dir = tempfile::Builder::new()
            .prefix("tua-pg-")
            .tempdir()
            .map_err(|e| format!("temp dir: {e}"))?
            .keep();
        let dir = dir.to_str().ok_or("temp dir path is not UTF-8")?.to_owned();
        if as_postgres {
            let mut chown = Command::new("chown");
            chown.args(["postgres:", &dir]);
            run(chown, "chown postgres (the tests run as root)")?;
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("no free port: {e}"))?
            .port();
        let cluster = Self {
            bin,
            dir,
            port,
            as_postgres,
        };
        cluster.watchdog()?;
        let data = cluster.data();
        let init = cluster.command(
            "initdb",
            &[
                "-D",
                &data,
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        );
        run(init, "initdb")?;
        cluster.start_again()?;
        Ok(cluster)
    }

    /// The URL of its `postgres` database.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Starts it (again, on the same port, after [`stop`](Self::stop)), waiting until it
    /// accepts connections.
    pub fn start_again(&self) -> Result<(), String> {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300",
            self.port, self.dir
        );
        let log = format!("{}/log", self.dir);
        let start = self.command(
            "pg_ctl",
            &[
                "-D",
                &self.data(),
                "-l",
                &log,
                "-w",
                "-t",
                "60",
                "-o",
                &options,
                "start",
            ],
        );
        run(start, "pg_ctl start").map_err(|e| {
            let log = std::fs::read_to_string(&log).unwrap_or_default();
            format!("{e}\n{log}")
        })
    }

    /// Stops it at once (`pg_ctl stop -m immediate`): a database outage.
    pub fn stop(&self) -> Result<(), String> {
        let stop = self.command("pg_ctl", &["-D", &self.data(), "stop", "-m", "immediate"]);
        run(stop, "pg_ctl stop")
    }

    /// Its data directory.
    fn data(&self) -> String {
        format!("{}/data", self.dir)
    }

    /// `program` of the binaries with `args`, as the `postgres` user when running as root.
    fn command(&self, program: &str, args: &[&str]) -> Command {
        let path = self.bin.join(program);
        let mut command = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            Command::new(path)
        };
        command.args(args).stdin(Stdio::null());
        command
    }

    /// A shell process that waits for this process to exit, then stops the cluster and
    /// removes its dir: the cleanup even when the test process ends without dropping it.
    fn watchdog(&self) -> Result<(), String> {
        let pg_ctl = self.bin.join("pg_ctl");
        let runuser = if self.as_postgres {
            "runuser -u postgres -- "
        } else {
            ""
        };
        Command::new("sh")
            .arg("-c")
            .arg(format!(
                "while kill -0 {pid} 2>/dev/null; do sleep 1; done; \
                 {runuser}{pg_ctl} -D {data} stop -m immediate >/dev/null 2>&1; rm -rf {dir}",
                pid = std::process::id(),
                pg_ctl = pg_ctl.display(),
                data = self.data(),
                dir = self.dir,
            ))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map(drop)
            .map_err(|e| format!("cannot start the cluster's watchdog: {e}"))
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
