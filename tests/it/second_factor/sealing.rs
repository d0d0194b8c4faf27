//! The shared secret is sealed under the configured key from the moment it is created: the
//! database file alone does not hold it, and an instance without the key (or with another)
//! logs such an account in only with a recovery code.

use http::StatusCode;
use totp_rs::Secret;
use tower_user_auth::config::SecretKey;

use crate::second_factor::{
    site::{OTHER_KEY, Site, assert_refused, code, config, log_in_at},
    support::{hardened_config, unthrottled},
};

/// Whether `needle` occurs in `haystack`.
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Every form of `secret` (base32) that would give it away: the base32 text (upper and lower
/// case) and the raw bytes.
fn forms(secret: &str) -> Vec<Vec<u8>> {
    let raw = Secret::Encoded(secret.to_owned())
        .to_bytes()
        .expect("base32");
    assert_eq!(raw.len(), 20, "160 bits");
    vec![
        secret.as_bytes().to_vec(),
        secret.to_lowercase().into_bytes(),
        raw,
    ]
}

#[tokio::test]
async fn the_database_file_does_not_hold_the_secret_nor_the_recovery_codes() {
    let site = Site::hardened().await;
    let email = "file@example.com";
    site.register(email).await;
    let cookie = site.session(email).await;
    let pending = site.begin(&cookie).await;

    // Pending: sealed already.
    let sealed = site.factor(email).await.expect("pending").sealed_secret;
    assert_eq!(sealed.len(), 24 + 20 + 16, "nonce, ciphertext, tag");
    let file = std::fs::read(&site.path).expect("read the database file");
    assert!(contains(&file, &sealed), "the sealed record is in the file");
    for form in forms(&pending) {
        assert!(!contains(&file, &form), "the pending secret is in the file");
    }

    let a = site.confirm(&cookie, &code(&pending, site.step())).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let recovery: Vec<String> = a.json()["recovery_codes"]
        .as_array()
        .expect("codes")
        .iter()
        .map(|c| c.as_str().expect("string").to_owned())
        .collect();
    let file = std::fs::read(&site.path).expect("read the database file");
    for form in forms(&pending) {
        assert!(!contains(&file, &form), "the secret is in the file");
    }
    for c in &recovery {
        for form in [c.clone(), c.replace('-', ""), c.to_lowercase()] {
            assert!(
                !contains(&file, form.as_bytes()),
                "a recovery code is in the file"
            );
        }
    }
}

#[tokio::test]
async fn without_the_key_or_with_another_only_recovery_codes_log_in() {
    let site = Site::hardened().await;
    let email = "keys@example.com";
    let enabled = site.enabled(email).await;
    let instances = [
        (
            "no key",
            site.instance(unthrottled(hardened_config())).await,
        ),
        (
            "another key",
            site.instance(config().with_secret_key(SecretKey::from_bytes(OTHER_KEY)))
                .await,
        ),
    ];
    for (round, (name, server)) in instances.iter().enumerate() {
        site.advance_steps(1);
        let otp = code(&enabled.secret, site.step());
        let a = log_in_at(&server.http, email, &[]).await;
        assert_refused(&a, StatusCode::UNAUTHORIZED, Some("second factor required"));
        let a = log_in_at(&server.http, email, &[("otp", &otp)]).await;
        assert_refused(
            &a,
            StatusCode::UNAUTHORIZED,
            Some("wrong second factor code"),
        );
        let recovery = enabled.recovery_codes[round].as_str();
        let a = log_in_at(&server.http, email, &[("recovery_code", recovery)]).await;
        assert_eq!(a.status, StatusCode::OK, "{name}: {}", a.body);
        let a = log_in_at(&server.http, email, &[("recovery_code", recovery)]).await;
        assert_refused(&a, StatusCode::UNAUTHORIZED, None);
        // The code refused there was not spent: the instance with the key takes it.
        let a = site.log_in(email, &[("otp", &otp)]).await;
        assert_eq!(a.status, StatusCode::OK, "{name}, with the key: {}", a.body);
    }
}
