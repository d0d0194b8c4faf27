//! The store's records as the tests make them: sessions, reset, email and device tokens, at a
//! time to the whole second (what every store keeps exactly).
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tower_user_auth::{
    User, UserId,
    store::{DeviceRecord, EmailTokenPurpose, EmailTokenRecord, ResetRecord, SessionRecord},
};

/// Now, to the whole second (what every store keeps exactly).
pub fn now() -> SystemTime {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    UNIX_EPOCH + Duration::from_secs(secs)
}

/// A session of `user` at generation 0, created and seen at `at`, ending `secs` later.
pub fn session(user: UserId, at: SystemTime, secs: u64) -> SessionRecord {
    SessionRecord {
        user_id: user,
        created: at,
        last_seen: at,
        expires: at + Duration::from_secs(secs),
        generation: 0,
    }
}

/// A reset token record of `user` issued at `at`, living `secs`.
pub fn reset(user: UserId, at: SystemTime, secs: u64) -> ResetRecord {
    ResetRecord {
        user_id: user,
        created: at,
        expires: at + Duration::from_secs(secs),
        generation: 0,
    }
}

/// An email token record of `user` for `purpose`, issued at `at`, living `secs`.
pub fn email_token(
    user: UserId,
    purpose: EmailTokenPurpose,
    at: SystemTime,
    secs: u64,
) -> EmailTokenRecord {
    EmailTokenRecord {
        user_id: user,
        purpose,
        created: at,
        expires: at + Duration::from_secs(secs),
        generation: 0,
    }
}

/// The email-change token record of `user` (at its current generation) to `new_email`,
/// issued at `at`, living 600 s.
pub fn email_change(user: &User, new_email: &str, at: SystemTime) -> EmailTokenRecord {
    let purpose = EmailTokenPurpose::ChangeEmail {
        new_email: new_email.to_owned(),
    };
    EmailTokenRecord {
        generation: user.generation,
        ..email_token(user.id, purpose, at, 600)
    }
}

/// A device token record of `user` issued `age_secs` before `at`, living 90 days.
pub fn device(user: UserId, at: SystemTime, age_secs: u64) -> DeviceRecord {
    let created = at - Duration::from_secs(age_secs);
    DeviceRecord {
        user_id: user,
        created,
        expires: created + Duration::from_secs(90 * 24 * 3600),
        failures: 0,
    }
}

/// A session of `user` at `generation`, made now, living an hour.
pub fn live_session(user: UserId, generation: u64) -> SessionRecord {
    SessionRecord {
        generation,
        ..session(user, now(), 3600)
    }
}
