//! `POST /profile/totp`, `POST /profile/totp/confirm`, `DELETE /profile/totp`: every answer
//! and every refusal.

use crate::support::FormSite as _;
use http::{Method, StatusCode};
use percent_encoding::percent_decode_str;
use tower_user_auth::{AuthConfig, config::SecretKey, token::TokenDigest};

use crate::second_factor::{
    site::{KEY, Site, assert_refused, code, config},
    support::{GOOD_PW, OTHER_PW, hardened_config, seed_config, unthrottled},
};

fn is_base32(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b))
}

#[tokio::test]
async fn setting_up_gives_a_secret_and_its_uri_and_enforces_nothing_yet() {
    let site = Site::new(config().with_totp_issuer("Acme: Co")).await;
    let email = "bob@example.com";
    site.register(email).await;
    let cookie = site.session(email).await;
    let a = site
        .send(
            Method::POST,
            "/profile/totp",
            &cookie,
            &[("current_password", GOOD_PW)],
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let body = a.json();
    let secret = body["secret"].as_str().expect("secret");
    assert_eq!(secret.len(), 32, "160 bits in base32: {secret}");
    assert!(
        is_base32(secret),
        "upper-case base32 without padding: {secret}"
    );
    let uri = body["otpauth_uri"].as_str().expect("uri");
    let expected = format!(
        "otpauth://totp/Acme%3A%20Co:bob%40example.com?secret={secret}&issuer=Acme%3A%20Co\
         &algorithm=SHA1&digits=6&period=30"
    );
    assert_eq!(uri, expected);
    let label = uri
        .strip_prefix("otpauth://totp/")
        .and_then(|rest| rest.split('?').next())
        .expect("label");
    let (issuer, account) = label.split_once(':').expect("issuer:account");
    assert_eq!(
        percent_decode_str(issuer).decode_utf8().expect("utf-8"),
        "Acme: Co"
    );
    assert_eq!(
        percent_decode_str(account).decode_utf8().expect("utf-8"),
        email
    );

    let pending = site.factor(email).await.expect("stored");
    assert!(!pending.enabled);
    assert!(pending.recovery_codes.is_empty());
    // Pending: the password alone still logs in.
    assert_eq!(site.log_in(email, &[]).await.status, StatusCode::OK);

    // Setting up again replaces the pending secret: the old one's code no longer confirms.
    let second = site.begin(&cookie).await;
    assert_ne!(second, secret);
    let stale = site.confirm(&cookie, &code(secret, site.step())).await;
    assert_refused(&stale, StatusCode::BAD_REQUEST, None);
    let a = site.confirm(&cookie, &code(&second, site.step())).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
}

#[tokio::test]
async fn setting_up_is_refused_without_a_session_the_password_or_while_enabled() {
    let site = Site::hardened().await;
    let email = "refused@example.com";
    site.register(email).await;
    let cookie = site.session(email).await;
    let pw = [("current_password", GOOD_PW)];
    let a = site.send(Method::POST, "/profile/totp", "", &pw).await;
    assert_refused(&a, StatusCode::FORBIDDEN, None);
    let a = site
        .send(
            Method::POST,
            "/profile/totp",
            "session_id=00000000-0000-4000-8000-000000000000",
            &pw,
        )
        .await;
    assert_refused(&a, StatusCode::FORBIDDEN, None);
    let a = site.send(Method::POST, "/profile/totp", &cookie, &[]).await;
    assert_refused(&a, StatusCode::BAD_REQUEST, None);
    let wrong = [("current_password", OTHER_PW)];
    let a = site
        .send(Method::POST, "/profile/totp", &cookie, &wrong)
        .await;
    assert_refused(&a, StatusCode::FORBIDDEN, None);
    assert!(site.factor(email).await.is_none(), "nothing stored");

    // Confirming with nothing pending.
    let a = site.confirm(&cookie, "123456").await;
    assert_refused(&a, StatusCode::CONFLICT, None);

    let secret = site.begin(&cookie).await;
    let a = site.confirm(&cookie, &code(&secret, site.step())).await;
    assert_eq!(a.status, StatusCode::OK);
    // Enabled: neither set up again nor confirmed again.
    let a = site.send(Method::POST, "/profile/totp", &cookie, &pw).await;
    assert_refused(&a, StatusCode::CONFLICT, None);
    site.advance_steps(1);
    let a = site.confirm(&cookie, &code(&secret, site.step())).await;
    assert_refused(&a, StatusCode::CONFLICT, None);
    assert!(site.factor(email).await.expect("factor").enabled);
}

#[tokio::test]
async fn confirming_gives_ten_distinct_recovery_codes_stored_as_digests() {
    let site = Site::hardened().await;
    let email = "confirm@example.com";
    site.register(email).await;
    let cookie = site.session(email).await;
    let secret = site.begin(&cookie).await;

    // Wrong codes: 400, still pending, the password alone still logs in.
    let now = site.step();
    for wrong in [
        code(&secret, now + 2),
        code(&secret, now - 2),
        "12345".into(),
        "abcdef".into(),
    ] {
        let a = site.confirm(&cookie, &wrong).await;
        assert_refused(&a, StatusCode::BAD_REQUEST, None);
    }
    let a = site
        .send(Method::POST, "/profile/totp/confirm", &cookie, &[])
        .await;
    assert_refused(&a, StatusCode::BAD_REQUEST, None);
    assert!(!site.factor(email).await.expect("pending").enabled);
    assert_eq!(site.log_in(email, &[]).await.status, StatusCode::OK);

    let a = site.confirm(&cookie, &code(&secret, now)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let body = a.json();
    assert_eq!(body["message"], "second factor enabled");
    let codes: Vec<String> = body["recovery_codes"]
        .as_array()
        .expect("codes")
        .iter()
        .map(|c| c.as_str().expect("string").to_owned())
        .collect();
    assert_eq!(codes.len(), 10);
    let mut distinct = codes.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 10, "distinct: {codes:?}");
    let factor = site.factor(email).await.expect("factor");
    assert!(factor.enabled);
    assert_eq!(factor.last_step, now, "the confirming code is used up");
    for c in &codes {
        let plain = c.replace('-', "");
        // 16 base32 characters: 80 bits.
        assert_eq!(plain.len(), 16, "{c}");
        assert!(is_base32(&plain), "{c}");
        assert!(factor.recovery_codes.contains(&TokenDigest::of(&plain)));
    }
    // The code that confirmed is not accepted again at login.
    let a = site.log_in(email, &[("otp", &code(&secret, now))]).await;
    assert_refused(&a, StatusCode::UNAUTHORIZED, None);
}

#[tokio::test]
async fn removing_needs_the_password_and_a_code_or_a_recovery_code() {
    let site = Site::hardened().await;
    let email = "remove@example.com";
    let enabled = site.enabled(email).await;
    let cookie = enabled.cookie.as_str();
    site.advance_steps(1);
    let otp = code(&enabled.secret, site.step());
    let delete = |fields: Vec<(&'static str, String)>| {
        let site = &site;
        async move {
            let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            site.send(Method::DELETE, "/profile/totp", cookie, &fields)
                .await
        }
    };
    let a = delete(vec![("current_password", GOOD_PW.into())]).await;
    assert_refused(&a, StatusCode::UNAUTHORIZED, Some("second factor required"));
    let a = delete(vec![
        ("current_password", OTHER_PW.into()),
        ("otp", otp.clone()),
    ])
    .await;
    assert_refused(&a, StatusCode::FORBIDDEN, None);
    let a = delete(vec![("otp", otp.clone())]).await;
    assert_refused(&a, StatusCode::BAD_REQUEST, None);
    let wrong = code(&enabled.secret, site.step() + 2);
    let a = delete(vec![("current_password", GOOD_PW.into()), ("otp", wrong)]).await;
    assert_refused(&a, StatusCode::UNAUTHORIZED, None);
    let a = delete(vec![
        ("current_password", GOOD_PW.into()),
        ("recovery_code", "AAAA-BBBB-CCCC-DDDD".into()),
    ])
    .await;
    assert_refused(&a, StatusCode::UNAUTHORIZED, None);
    let a = delete(vec![
        ("current_password", GOOD_PW.into()),
        ("otp", otp.clone()),
        ("recovery_code", enabled.recovery_codes[0].clone()),
    ])
    .await;
    assert_refused(&a, StatusCode::BAD_REQUEST, None);
    assert!(site.factor(email).await.expect("kept").enabled);

    let a = delete(vec![
        ("current_password", GOOD_PW.into()),
        ("otp", otp.clone()),
    ])
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.json()["message"], "second factor removed");
    assert!(site.factor(email).await.is_none(), "factor removed");
    assert_eq!(site.log_in(email, &[]).await.status, StatusCode::OK);
    let a = delete(vec![("current_password", GOOD_PW.into())]).await;
    assert_refused(&a, StatusCode::CONFLICT, None);

    // With a recovery code; a pending factor goes with the password alone.
    let other = site.enabled("remove-recovery@example.com").await;
    let fields = [
        ("current_password", GOOD_PW),
        ("recovery_code", other.recovery_codes[3].as_str()),
    ];
    let a = site
        .send(Method::DELETE, "/profile/totp", &other.cookie, &fields)
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    site.begin(&other.cookie).await;
    let pw = [("current_password", GOOD_PW)];
    let a = site
        .send(Method::DELETE, "/profile/totp", &other.cookie, &pw)
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert!(site.factor("remove-recovery@example.com").await.is_none());
}

#[tokio::test]
async fn an_html_form_removes_it_with_method_override() {
    let site = Site::hardened().await;
    let email = "form@example.com";
    let enabled = site.enabled(email).await;
    site.advance_steps(1);
    let otp = code(&enabled.secret, site.step());
    let fields = [
        ("_method", "DELETE"),
        ("current_password", GOOD_PW),
        ("otp", otp.as_str()),
    ];
    let a = site
        .send(Method::POST, "/profile/totp", &enabled.cookie, &fields)
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert!(site.factor(email).await.is_none());
}

/// Without TOTP, or without a key, the paths are not the layer's: they reach the app.
#[tokio::test]
async fn the_routes_are_served_only_with_totp_on_and_a_key() {
    let key = SecretKey::from_bytes(KEY);
    let configs: [(&str, AuthConfig); 3] = [
        ("seed", seed_config().with_secret_key(key.clone())),
        ("no key", unthrottled(hardened_config())),
        ("totp off", config().with_totp(false)),
    ];
    for (name, config) in configs {
        let site = Site::new(config).await;
        site.register("off@example.com").await;
        let cookie = site.session("off@example.com").await;
        let pw = [("current_password", GOOD_PW)];
        for path in ["/profile/totp", "/profile/totp/confirm"] {
            let a = site.send(Method::POST, path, &cookie, &pw).await;
            assert_eq!(a.status, StatusCode::OK, "{name} {path}: {}", a.body);
            assert_eq!(a.json()["app"], true, "{name} {path}: the app answered");
        }
        assert!(site.factor("off@example.com").await.is_none(), "{name}");
    }
}
