//! G. Audit: the parts of items 29 to 31 that need no global log subscriber. The log itself
//! (items 29 and 30) is checked in `tests/it/audit/log.rs`.

use std::path::{Path, PathBuf};

use tower_user_auth::{
    BoxError,
    hook::Mail,
    token::{ResetToken, SessionToken},
};

use crate::{
    security::{HOUR, post_from},
    support::{Harness, hardened_config},
};

/// Item 30: the types that could reach a log redact their secrets in `Debug`: the user (its
/// hash), session and reset tokens, digests, the configuration (its hook), the `Auth`, and
/// what `Auth::authenticate` returns.
#[tokio::test]
async fn item_30_debug_output_never_shows_tokens_or_hashes() {
    let h = Harness::seed();
    h.registered("dbg@example.com", "pw").await;
    let user = h.user("dbg@example.com").await;
    assert!(!format!("{user:?}").contains(&user.hashed_password));
    let s = SessionToken::generate();
    assert!(!format!("{s:?}").contains(s.expose()));
    let r = ResetToken::generate();
    assert!(!format!("{r:?}").contains(r.expose()));
    let digest = s.digest();
    assert!(!format!("{digest:?}").contains(s.expose()));
    let config = hardened_config().with_mailer(|_: &str, _: &Mail| Ok::<(), BoxError>(()));
    assert!(format!("{config:?}").contains("<hook>"));
    assert!(!format!("{:?}", h.auth).contains("$2b$"));

    let cookie = h.session("dbg@example.com", "pw").await;
    let token = SessionToken::parse(&cookie).unwrap();
    let authenticated = h.auth.authenticate(&token).await.unwrap();
    assert!(authenticated.is_some());
    let shown = format!("{authenticated:?}");
    assert!(
        !shown.contains(&cookie) && !shown.contains("$2b$"),
        "{shown}"
    );
}

/// Item 31: registration tells whether an email is taken (400 "email already registered",
/// without regard to case or surrounding space).
#[tokio::test]
async fn item_31_registration_reveals_taken_email_with_400() {
    let h = Harness::seed();
    let res = h.register(" Bob@Bob.com ", "pw").await;
    assert_eq!(res.status, 200);
    assert_eq!(
        res.json(),
        serde_json::json!({"email": "Bob@Bob.com", "message": "user created"})
    );
    for again in ["bob@bob.com", "BOB@BOB.COM", "  bob@bob.com"] {
        let res = h.register(again, "other").await;
        assert_eq!(res.status, 400, "{again}");
        assert_eq!(
            res.json(),
            serde_json::json!({"message": "email already registered"})
        );
    }
    assert_eq!(h.login("bob@bob.com", "pw").await.status, 200);
}

/// Item 31: POST /users is throttled per client (20 per hour), taken-email probes included;
/// other clients are not affected.
#[tokio::test]
async fn item_31_registration_throttled_per_client() {
    let h = Harness::seed();
    h.registered("taken@example.com", "pw").await; // from DEFAULT_PEER
    let register = |email: &str, peer: &str| {
        h.send(post_from(
            "/users",
            &[("email", email), ("password", "pw")],
            peer,
        ))
    };
    let prober = "198.51.100.31";
    for i in 0..20 {
        let email = if i % 2 == 0 {
            "taken@example.com".to_owned()
        } else {
            format!("new{i}@example.com")
        };
        let res = register(&email, prober).await;
        assert!(
            res.status == 200 || res.status == 400,
            "{i}: {}",
            res.status
        );
    }
    let res = register("taken@example.com", prober).await;
    assert_eq!(res.status, 429);
    let wait = res.retry_after().unwrap();
    assert!((1..=3600).contains(&wait));
    let res = register("fresh@example.com", prober).await;
    assert_eq!(res.status, 429);
    assert!(!h.user_exists("fresh@example.com").await);
    let res = register("fresh@example.com", "203.0.113.31").await;
    assert_eq!(res.status, 200, "other clients are unaffected");
    h.advance(HOUR);
    let res = register("fresh2@example.com", prober).await;
    assert_eq!(res.status, 200);
}

/// The `.rs` files under `dir`, recursively.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The paragraphs of the doc comments (`//!`, `///`) of `text`, lowercased.
fn doc_paragraphs(text: &str) -> Vec<String> {
    let mut paragraphs = Vec::new();
    let mut para = String::new();
    for line in text.lines() {
        let line = line.trim_start();
        match line
            .strip_prefix("//!")
            .or_else(|| line.strip_prefix("///"))
        {
            Some(doc) if !doc.trim().is_empty() => {
                para.push_str(&doc.to_lowercase());
                para.push(' ');
            }
            _ => paragraphs.push(std::mem::take(&mut para)),
        }
    }
    paragraphs.push(para);
    paragraphs
}

/// Item 31: the documentation (README.md, SECURITY.md or the crate's doc comments) says
/// that registration reveals whether an email is taken.
#[test]
fn item_31_docs_say_registration_reveals_taken_emails() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // Paragraphs of prose: the Markdown documents', and the doc comments'.
    let mut paragraphs: Vec<String> = ["README.md", "SECURITY.md"]
        .iter()
        .flat_map(|doc| {
            let text = std::fs::read_to_string(root.join(doc)).unwrap_or_default();
            let paragraphs: Vec<String> = text.split("\n\n").map(str::to_lowercase).collect();
            paragraphs
        })
        .collect();
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    for file in files {
        paragraphs.extend(doc_paragraphs(&std::fs::read_to_string(&file).unwrap()));
    }
    let says_so = paragraphs.iter().any(|p| {
        p.contains("regist")
            && (p.contains("taken") || p.contains("already registered") || p.contains("enumerat"))
            && (p.contains("reveal") || p.contains("tell") || p.contains("enumerat"))
    });
    assert!(
        says_so,
        "neither README.md, SECURITY.md nor the crate docs say that POST /users reveals \
         whether an email is taken (SECURITY.md item 31)"
    );
}
