//! A bad environment stops the demo with a message, never a panic: an unknown profile, a
//! database in a missing directory, other bad settings, the database URL and pool, a port in
//! use, settings that cannot work together.

use super::*;

#[test]
fn an_unknown_profile_stops_the_demo_with_a_message() {
    assert_refused_to_start(&[("AUTH_PROFILE", "bogus")], &["bogus", "profile"]);
}

#[test]
fn a_database_in_a_missing_directory_stops_the_demo_with_a_message() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("no/such/dir/auth.redb");
    let db = db.to_str().expect("utf-8 path");
    assert_refused_to_start(&[("AUTH_DB", db)], &["cannot open the database", db]);
    assert!(!dir.path().join("no").exists(), "nothing was created");
}

#[test]
fn other_bad_settings_stop_the_demo_with_a_message() {
    for (env, expect) in [
        (("BCRYPT_COST", "99"), "bcrypt cost"),
        (("BCRYPT_COST", "twelve"), "BCRYPT_COST"),
        (("PORT", "99999"), "PORT"),
        (("AUTH_SESSION_LIFETIME", "soon"), "AUTH_SESSION_LIFETIME"),
        (("AUTH_COOKIE_SECURE", "maybe"), "AUTH_COOKIE_SECURE"),
        (("AUTH_TRUSTED_PROXIES", "not-an-ip"), "not-an-ip"),
        (("AUTH_BODY_TIMEOUT", "0"), "body timeout"),
        (
            ("AUTH_HEADER_READ_TIMEOUT", "0"),
            "AUTH_HEADER_READ_TIMEOUT",
        ),
        (("AUTH_IDLE_TIMEOUT", "-1"), "AUTH_IDLE_TIMEOUT"),
        (("AUTH_MAX_CONNECTIONS", "0"), "AUTH_MAX_CONNECTIONS"),
        (
            ("AUTH_MAX_CONNECTIONS_PER_CLIENT", "many"),
            "AUTH_MAX_CONNECTIONS_PER_CLIENT",
        ),
    ] {
        assert_refused_to_start(&[env], &[expect]);
    }
}

/// `AUTH_DATABASE_URL` must be PostgreSQL's, and `AUTH_DATABASE_POOL` a positive number
/// that goes with it; a PostgreSQL URL in a demo built without the feature `postgres` stops
/// it with a message naming the feature; with the feature, a server it cannot reach stops it
/// before it listens, without the URL's password in the message.
#[test]
fn the_database_url_and_pool_are_checked_before_the_demo_listens() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("never.redb");
    let db = db.to_str().expect("utf-8 path");
    assert_refused_to_start(
        &[("AUTH_DB", db), ("AUTH_DATABASE_URL", "mysql://db/auth")],
        &["AUTH_DATABASE_URL", "postgres://"],
    );
    assert_refused_to_start(&[("AUTH_DATABASE_POOL", "4")], &["AUTH_DATABASE_POOL"]);
    // Port 1 on loopback: nothing listens there.
    let unreachable = "postgres://auth:s3cret-pw@127.0.0.1:1/auth";
    assert_refused_to_start(
        &[
            ("AUTH_DB", db),
            ("AUTH_DATABASE_URL", unreachable),
            ("AUTH_DATABASE_POOL", "none"),
        ],
        &["AUTH_DATABASE_POOL"],
    );
    // The demo binary may have been built with or without the feature (`cargo test --test`
    // runs the one built last): either answer, never the password.
    let stderr =
        assert_refused_to_start(&[("AUTH_DB", db), ("AUTH_DATABASE_URL", unreachable)], &[]);
    assert!(
        stderr.contains("build it with `--features postgres`")
            || (stderr.contains("cannot use the database")
                && stderr.contains("postgres://auth:***@127.0.0.1:1/auth")),
        "{stderr}"
    );
    assert!(
        !stderr.contains("s3cret-pw"),
        "no password in the message: {stderr}"
    );
    assert!(!Path::new(db).exists(), "no redb file opened");
}

#[test]
fn a_port_in_use_stops_the_demo_with_a_message() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port().to_string();
    assert_refused_to_start(&[("PORT", &port)], &["cannot listen", &port]);
}

/// Settings that cannot work together stop the demo before it listens, every one reported:
/// a `__Host-` cookie without `Secure` (the demo's default profile has none), a renewal
/// interval longer than the idle timeout, an after-logout target that is an auth route, and
/// a trusted network of every address.
#[test]
fn settings_that_cannot_work_together_stop_the_demo_with_every_message() {
    assert_refused_to_start(
        &[
            ("AUTH_COOKIE_NAME", "__Host-sid"),
            ("AUTH_SESSION_IDLE_TIMEOUT", "600"),
            ("AUTH_SESSION_RENEWAL", "3600"),
            ("AUTH_ROUTE_AFTER_LOGOUT", "/sessions"),
            ("AUTH_TRUSTED_PROXIES", "0.0.0.0/0"),
        ],
        &["__Host-sid", "renewal", "\"/sessions\"", "0.0.0.0/0"],
    );
    assert_refused_to_start(
        &[
            ("AUTH_PROFILE", "hardened"),
            ("AUTH_COOKIE_SECURE", "false"),
            ("AUTH_COOKIE_NAME", "__Secure-sid"),
        ],
        &["__Secure-sid", "Secure"],
    );
}
