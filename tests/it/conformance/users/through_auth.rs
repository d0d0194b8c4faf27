//! `Auth` over the store: the seed's API end to end (bcrypt at cost 4).

use tower_user_auth::{Auth, AuthError, compat::SeedApi, store::prelude::*};

use crate::conformance::support;

/// Register, log in, a session, a reset, logging out: `Auth::new(store, config)` works on
/// the store as on any other.
pub async fn auth_works_on_the_store<S: Store>(store: S) {
    let auth = Auth::new(store, support::seed_config()).expect("valid configuration");
    auth.register_user("a@b.io", "pw1").await.unwrap();
    let again = auth.register_user("A@B.io", "pw1").await;
    assert!(matches!(again, Err(AuthError::EmailTaken(_))), "{again:?}");
    assert!(auth.valid_login("A@B.io", "pw1").await.unwrap());
    assert!(!auth.valid_login("a@b.io", "wrong").await.unwrap());
    let token = auth.create_session("a@b.io").await.unwrap().unwrap();
    let user = auth
        .get_user_from_session_id(Some(token.expose()))
        .await
        .unwrap()
        .expect("a valid session");
    assert_eq!(user.email, "a@b.io");
    let reset = auth.get_reset_password_token("a@b.io").await.unwrap();
    auth.update_password(reset.expose(), "pw2").await.unwrap();
    assert!(auth.valid_login("a@b.io", "pw2").await.unwrap());
    let token = auth.create_session("a@b.io").await.unwrap().unwrap();
    assert!(auth.log_out(&token, None).await.unwrap());
    let gone = auth.get_user_from_session_id(Some(token.expose())).await;
    assert!(gone.unwrap().is_none());
}
