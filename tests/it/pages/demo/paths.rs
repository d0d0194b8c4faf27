//! Where the pages are: the route prefix moves the form actions, the `AUTH_PAGE_*` paths come
//! from the environment, a page path that is not a path stops the demo.

use super::every_page::{assert_logged_in_pages, assert_logged_out_pages};
use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_route_prefix_moves_the_form_actions() {
    for profile in PROFILES {
        let dir = tempfile::tempdir().expect("temp dir");
        let env = [("AUTH_ROUTE_PREFIX", "/auth")];
        let demo = start(&dir.path().join("a.redb"), profile, &env);
        assert_logged_out_pages(&demo, "/auth").await;
        let cookie = log_in(&demo, "/auth", "bob@example.com").await;
        assert_logged_in_pages(&demo, "/auth", "bob@example.com", &cookie).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_paths_come_from_the_environment() {
    let dir = tempfile::tempdir().expect("temp dir");
    let env = [
        ("AUTH_PAGE_LOGIN", "/signin"),
        ("AUTH_PAGE_REGISTER", "/signup"),
        ("AUTH_PAGE_AFTER_LOGIN", "/dashboard"),
        ("AUTH_PAGE_SESSIONS", "/my/sessions"),
        ("AUTH_PAGE_CHANGE_PASSWORD", "/my/password"),
        ("AUTH_PAGE_FORGOT_PASSWORD", "/lost"),
        ("AUTH_PAGE_NEW_PASSWORD", "/found"),
    ];
    let demo = start(&dir.path().join("a.redb"), "hardened", &env);
    for (path, form_id) in [
        ("/signin", "login-form"),
        ("/signup", "register-form"),
        ("/lost", "forgot-form"),
        ("/found", "new-password-form"),
    ] {
        let a = browse(&demo, path, "").await;
        assert_page(&a);
        form(&a.body, form_id);
    }
    let a = browse(&demo, "/", "").await;
    assert!(a.body.contains("href=\"/signin\"") && a.body.contains("href=\"/signup\""));
    let a = browse(&demo, "/signin", "").await;
    assert!(a.body.contains("href=\"/lost\""), "{}", a.body);
    for old in [
        "/login",
        "/register",
        "/forgot_password",
        "/new_password",
        "/account/sessions",
    ] {
        let a = browse(&demo, old, "").await;
        assert_eq!(a.status, StatusCode::NOT_FOUND, "{old}");
        assert_secure(&a);
    }
    let a = browse(&demo, "/my/sessions", "").await;
    assert_eq!(a.header("location"), Some("/signin?next=%2Fmy%2Fsessions"));
    let cookie = log_in(&demo, "", "cy@example.com").await;
    for (path, form_id) in [
        ("/my/sessions", "end-all-form"),
        ("/my/password", "password-form"),
    ] {
        let a = browse(&demo, path, &cookie).await;
        assert_page(&a);
        form(&a.body, form_id);
    }
    let a = browse(&demo, "/dashboard", &cookie).await;
    assert_page(&a);
    assert!(a.body.contains("href=\"/my/sessions\""), "{}", a.body);
    assert!(a.body.contains("Logged in as"), "{}", a.body);
}

#[test]
fn a_page_path_that_is_not_a_path_stops_the_demo() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut child = demo::command(&dir.path().join("x.redb"), &[("AUTH_PAGE_LOGIN", "login")])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the demo");
    let stderr = demo::read_to_end(child.stderr.take().expect("stderr"));
    let status = demo::wait_for(&mut child, Duration::from_secs(20)).expect("it stops");
    let stderr = stderr.join().unwrap_or_default();
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("\"login\""), "{stderr}");
}
