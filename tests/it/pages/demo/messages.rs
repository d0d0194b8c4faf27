//! Error and notice codes render messages a person understands; user data is escaped.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_and_notice_codes_render_messages_a_person_understands() {
    let dir = tempfile::tempdir().expect("temp dir");
    let demo = start(&dir.path().join("a.redb"), "seed", &[]);
    let hostile = "%3Cscript%3Ealert(1)%3C%2Fscript%3E";
    let a = browse(
        &demo,
        &format!("/login?error={hostile}&notice={hostile}"),
        "",
    )
    .await;
    assert_page(&a);
    let generic = paragraph(&a.body, "error", "alert").expect("a generic message");
    assert!(
        !generic.is_empty() && !generic.contains("script"),
        "{generic}"
    );
    assert!(
        !a.body.contains("alert(1)"),
        "never the raw code: {}",
        a.body
    );
    assert!(
        !a.body.contains("id=\"notice\""),
        "an unknown notice shows nothing"
    );

    let mut seen = Vec::new();
    for code in ERROR_CODES {
        let a = browse(&demo, &format!("/register?error={code}"), "").await;
        assert_page(&a);
        let message = paragraph(&a.body, "error", "alert").unwrap_or_else(|| panic!("{code}"));
        assert_ne!(message, generic, "{code} has a message of its own");
        assert!(
            !message.contains('_') && message.ends_with('.'),
            "{code}: {message}"
        );
        assert!(!seen.contains(&message), "{code}: {message} twice");
        seen.push(message);
    }
    for code in NOTICE_CODES {
        let a = browse(&demo, &format!("/login?notice={code}"), "").await;
        let message = paragraph(&a.body, "notice", "status").unwrap_or_else(|| panic!("{code}"));
        assert!(
            !message.contains('_') && message.ends_with('.'),
            "{code}: {message}"
        );
        assert!(!seen.contains(&message), "{code}: {message} twice");
        seen.push(message);
    }
    // Every page shows them.
    let cookie = log_in(&demo, "", "ann@example.com").await;
    for path in [
        "/",
        "/me",
        "/login",
        "/register",
        "/account/sessions",
        "/account/password",
        "/forgot_password",
        "/new_password",
    ] {
        let a = browse(
            &demo,
            &format!("{path}?error=throttled&notice=reset_sent"),
            &cookie,
        )
        .await;
        assert_page(&a);
        assert!(paragraph(&a.body, "error", "alert").is_some(), "{path}");
        assert!(paragraph(&a.body, "notice", "status").is_some(), "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_data_is_escaped_in_the_pages() {
    let dir = tempfile::tempdir().expect("temp dir");
    let demo = start(&dir.path().join("a.redb"), "seed", &[]);
    let email = "<i>\"x\"&'y</i>@example.com";
    let escaped = "&lt;i&gt;&quot;x&quot;&amp;'y&lt;/i&gt;@example.com";
    let cookie = log_in(&demo, "", email).await;
    for path in ["/", "/me"] {
        let a = browse(&demo, path, &cookie).await;
        assert_page(&a);
        assert!(a.body.contains(escaped), "{path}: {}", a.body);
        assert!(!a.body.contains("<i>"), "{path}: {}", a.body);
    }
    // Query parameters copied into the forms.
    let next = "/x?a=%22%3E%3Cscript%3Ealert(1)%3C/script%3E";
    let a = browse(
        &demo,
        &format!("/login?next={}", next.replace('%', "%25")),
        "",
    )
    .await;
    assert_page(&a);
    let hidden = tag(form(&a.body, "login-form"), "name=\"next\"");
    assert!(hidden.contains(&format!("value=\"{next}\"")), "{hidden}");
    let a = browse(
        &demo,
        "/new_password?email=%22%3E%3Cb%3E%40x.io&token=%22%3E%3Cscript%3E",
        "",
    )
    .await;
    assert_page(&a);
    let f = form(&a.body, "new-password-form");
    assert!(f.contains("value=\"&quot;&gt;&lt;b&gt;@x.io\""), "{f}");
    assert!(f.contains("value=\"&quot;&gt;&lt;script&gt;\""), "{f}");
    // A `next` that is not a path on this site is not kept.
    let a = browse(&demo, "/login?next=https%3A%2F%2Fevil.example", "").await;
    assert!(!a.body.contains("evil.example"), "{}", a.body);
}
