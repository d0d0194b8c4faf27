//! The README's axum snippet is an excerpt of `examples/axum.rs`.

/// The README is a front page (at most ~200 lines) that leads with its axum section, whose
/// Rust snippet is an exact excerpt of `examples/axum.rs`, which the other `axum` tests drive: the
/// snippet a reader copies is the tested one. It shows the extractor, the optional extractor
/// and the guard on a group of routes; the login form and serving with `ConnectInfo` are on
/// the guide's axum page (`docs/axum.md`, whose snippets are doctests). The plain tower/hyper
/// section that follows is an excerpt of `examples/readme.rs`.
#[test]
fn the_readme_axum_snippet_is_an_excerpt_of_the_example() {
    let root = env!("CARGO_MANIFEST_DIR");
    let read = |path: &str| {
        std::fs::read_to_string(format!("{root}/{path}")).unwrap_or_else(|e| panic!("{path}: {e}"))
    };
    let readme = read("README.md");
    assert!(
        readme.lines().count() <= 200,
        "the README is a front page: {} lines",
        readme.lines().count()
    );
    let axum_at = readme
        .find("\n## Use it with axum\n")
        .expect("a section \"Use it with axum\"");
    let tower_at = readme
        .find("\n## Use it with tower or hyper\n")
        .expect("a section \"Use it with tower or hyper\"");
    assert!(axum_at < tower_at, "the axum section comes first");
    assert!(
        readme.find("```rust\n").expect("a rust snippet") > axum_at,
        "the README's first Rust snippet is the axum one"
    );

    let example = read("examples/axum.rs");
    let axum = snippets(section(&readme, axum_at));
    assert!(!axum.is_empty(), "no rust snippet in the axum section");
    for snippet in &axum {
        assert!(
            example.contains(snippet),
            "the README's axum snippet is not an excerpt of examples/axum.rs:\n{snippet}"
        );
    }
    assert!((15..=30).contains(&axum[0].lines().count()), "{}", axum[0]);
    for shown in [
        "Option<AuthenticatedUser>",
        "user: AuthenticatedUser",
        ".route_layer(RequireAuth::new().with_login_page(\"/login\"))",
        ".layer(AuthLayer::new(auth))",
    ] {
        assert!(
            axum[0].contains(shown),
            "the axum snippet does not show {shown}"
        );
    }
    let guide = read("docs/axum.md");
    for shown in [
        "into_make_service_with_connect_info::<SocketAddr>()",
        "safe_next",
    ] {
        assert!(
            guide.contains(shown),
            "the guide's axum page does not show {shown}"
        );
    }

    let tower_example = read("examples/readme.rs");
    let tower = snippets(section(&readme, tower_at));
    assert!(
        (10..=25).contains(&tower[0].lines().count()),
        "{}",
        tower[0]
    );
    assert!(
        tower_example.contains(tower[0]),
        "the README's tower snippet is not an excerpt of examples/readme.rs:\n{}",
        tower[0]
    );
}

/// The Markdown section of `text` whose heading starts at `at`, up to the next `## `.
fn section(text: &str, at: usize) -> &str {
    let rest = &text[at + 1..];
    &rest[..rest.find("\n## ").unwrap_or(rest.len())]
}

/// The bodies of the ```rust blocks of `text`.
fn snippets(text: &str) -> Vec<&str> {
    (text.split("```rust\n").skip(1))
        .filter_map(|rest| rest.split("\n```").next())
        .collect()
}
