//! PostgreSQL for the tests (feature `postgres`): a server, and a fresh database per test.
//!
//! The server is `TEST_DATABASE_URL` when it is set (a `postgres://` URL of a role that may
//! create databases; CI's `.ci/run` sets it to its throwaway cluster). Otherwise the first
//! test of a binary starts a throwaway cluster of its own: `initdb` and `pg_ctl` from `PATH`
//! or `/usr/lib/postgresql/*/bin`, in a temp dir, on a free loopback port, run as the
//! `postgres` user when the tests run as root (PostgreSQL refuses to run as root); a watchdog
//! stops it and removes the dir when the test process exits.
//!
//! Each test gets its own database, `t_<random>` ([`database`]), left for the throwaway
//! cluster to take with it. Without a server, [`database`] prints `skipped: <reason>` and
//! answers `None` (the test returns), or, under `REQUIRE_POSTGRES=1`, fails the test naming
//! what is missing.

use std::{
    env,
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::OnceLock,
};

use tokio_postgres::NoTls;
use tower_user_auth::store::PgStore;

/// A fresh, empty database on the test server.
pub struct TestDatabase {
    url: String,
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
    Ok(TestDatabase { url: url.into() })
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
        _ => start_cluster(),
    })
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

/// `program` of `bin` with `args`, as the `postgres` user when running as root.
fn pg_command(bin: &Path, program: &str, args: &[&str], as_postgres: bool) -> Command {
    let path = bin.join(program);
    let mut command = if as_postgres {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(path);
        c
    } else {
        Command::new(path)
    };
    command.args(args).stdin(Stdio::null());
    command
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

/// Starts a throwaway cluster; the URL of its `postgres` database.
fn start_cluster() -> Result<String, String> {
    let bin = binaries()?;
    let as_postgres = is_root();
    let dir = tempfile::Builder::new()
        .prefix("tua-pg-")
        .tempdir()
        .map_err(|e| format!("temp dir: {e}"))?
        .keep();
    let dir_str = dir.to_str().ok_or("temp dir path is not UTF-8")?.to_owned();
    if as_postgres {
        let mut chown = Command::new("chown");
        chown.args(["postgres:", &dir_str]);
        run(chown, "chown postgres (the tests run as root)")?;
    }
    let data = format!("{dir_str}/data");
    let init = pg_command(
        &bin,
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
        as_postgres,
    );
    run(init, "initdb")?;
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("no free port: {e}"))?
        .port();
    let options = format!(
        "-p {port} -k {dir_str} -c listen_addresses=127.0.0.1 -c fsync=off \
         -c max_connections=300"
    );
    // The watchdog first, so that the cluster goes even if starting it half fails.
    let pg_ctl = bin.join("pg_ctl");
    let stop = if as_postgres {
        format!(
            "runuser -u postgres -- {} -D {data} stop -m immediate",
            pg_ctl.display()
        )
    } else {
        format!("{} -D {data} stop -m immediate", pg_ctl.display())
    };
    Command::new("sh")
        .arg("-c")
        .arg(format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {stop} >/dev/null 2>&1; \
             rm -rf {dir_str}",
            pid = std::process::id()
        ))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start the cluster's watchdog: {e}"))?;
    let start = pg_command(
        &bin,
        "pg_ctl",
        &[
            "-D",
            &data,
            "-l",
            &format!("{dir_str}/log"),
            "-w",
            "-t",
            "60",
            "-o",
            &options,
            "start",
        ],
        as_postgres,
    );
    run(start, "pg_ctl start").map_err(|e| {
        let log = std::fs::read_to_string(dir.join("log")).unwrap_or_default();
        format!("{e}\n{log}")
    })?;
    Ok(format!("postgres://postgres@127.0.0.1:{port}/postgres"))
}
