//! `Auth` over the store: the seed's API end to end (bcrypt at cost 4), and the
//! re-authentication window: a session is fresh for it after its login or step-up, and
//! step-ups at once with one session leave exactly one new session.

use std::{sync::Arc, time::Duration};

use futures_util::future::join_all;
use tokio::sync::Barrier;
use tower_user_auth::{
    Auth, AuthError, ManualClock,
    auth::{Login, Reauthentication},
    compat::SeedApi,
    store::prelude::*,
};

use crate::conformance::{now, support};

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

/// Step-ups released together in a round.
const AT_ONCE: usize = 8;

/// A session is fresh for the window after its login, then needs the factors; step-ups at
/// once with one session: one gets a new, fresh session, the others find the session ended,
/// and the user has as many sessions as before. Round after round.
pub async fn step_ups_at_once_leave_one_fresh_session<S: Store>(store: S) {
    let clock = ManualClock::new(now());
    let config = support::unthrottled(support::hardened_config());
    let auth = Auth::with_clock(store, config, clock.clone()).expect("valid configuration");
    let pw = "correct horse battery staple";
    auth.register("step@b.io", pw, None).await.unwrap();
    let mut token = auth
        .log_in(Login::new("step@b.io", pw))
        .await
        .unwrap()
        .expect("logged in")
        .token;
    let user = auth
        .require_recent_authentication(&token, None, None)
        .await
        .unwrap();
    for round in 0..4 {
        clock.advance(Duration::from_secs(301));
        let stale = auth.require_recent_authentication(&token, None, None).await;
        assert!(
            matches!(stale, Err(AuthError::ReauthenticationRequired)),
            "round {round}: {stale:?}"
        );
        let before = auth.sessions_of(user.id).await.unwrap().len();
        let barrier = Arc::new(Barrier::new(AT_ONCE));
        let tasks: Vec<_> = (0..AT_ONCE)
            .map(|_| {
                let (auth, token, barrier) = (auth.clone(), token.clone(), Arc::clone(&barrier));
                tokio::spawn(async move {
                    barrier.wait().await;
                    auth.step_up(&token, Reauthentication::new(pw), None).await
                })
            })
            .collect();
        let mut renewed = Vec::new();
        for result in join_all(tasks).await {
            match result.expect("the task panicked") {
                Ok(stepped_up) => renewed.push(stepped_up.token),
                Err(AuthError::InvalidSession) => {}
                Err(e) => panic!("round {round}: {e:?}"),
            }
        }
        assert_eq!(renewed.len(), 1, "round {round}: one new session");
        assert_eq!(
            auth.sessions_of(user.id).await.unwrap().len(),
            before,
            "round {round}"
        );
        assert!(
            auth.authenticate(&token).await.unwrap().is_none(),
            "round {round}: the old one"
        );
        let new = renewed.pop().expect("one");
        let (seen, _) = auth.authenticate(&new).await.unwrap().expect("the new one");
        assert_eq!(seen.authenticated_at, auth.now(), "round {round}");
        assert!(auth.is_recently_authenticated(&seen));
        auth.require_recent_authentication(&new, None, None)
            .await
            .unwrap();
        token = new;
    }
}
