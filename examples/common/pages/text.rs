//! What the pages say: the messages for the error and notice codes of the form flow, and
//! dates in a readable UTC form.

use std::time::{SystemTime, UNIX_EPOCH};

/// The message for an error code of the form flow; a generic one for a code it does not know
/// (the code itself is never shown).
pub fn error_message(code: &str) -> &'static str {
    match code {
        "missing_field" => "Please fill in every field.",
        "invalid_email" => "That does not look like an email address.",
        "weak_password" => {
            "That password is too weak: choose a longer one that is not a common password \
             nor your email address."
        }
        "email_taken" => "An account with that email address already exists: log in instead.",
        "wrong_credentials" => "Wrong email or password.",
        "wrong_password" => "Your current password is not right.",
        "registration_closed" => "Registration is closed: no new accounts can be created.",
        "unknown_email" => "There is no account with that email address.",
        "invalid_token" => {
            "That reset link or code is not valid, or has expired. Ask for a new one."
        }
        "no_such_session" => "That session has already ended.",
        "conflict" => {
            "Your password was changed in the meantime, so nothing was done. Please try again."
        }
        "throttled" => "Too many attempts. Please wait a little, then try again.",
        "bad_request" => "The form could not be read. Please try again.",
        "too_large" => "What you sent is too long.",
        "unsupported" => "The form was sent in a way this site does not understand.",
        "timeout" => "The form took too long to arrive. Please try again.",
        "busy" => "The site is very busy right now. Please try again in a moment.",
        "error" => "Something went wrong on our side. Please try again later.",
        "email_not_confirmed" => {
            "Your email address is not confirmed yet: enter the confirmation code we sent you, \
             or ask for a new one."
        }
        "new_password_required" => {
            "Someone else also tried to register an account with this email address: to \
             confirm it, choose a new password (enter the confirmation code again)."
        }
        "second_factor_required" => {
            "Your account has a second factor: enter the one-time code from your \
             authenticator app, or one of your recovery codes."
        }
        "wrong_code" => {
            "That code is not right, or was used already. Wait for the next one-time code, \
             or use a recovery code you have not used."
        }
        "reauthentication_required" => {
            "Please confirm it is you: enter your password again (and a code, if you set up \
             a second factor)."
        }
        _ => GENERIC_ERROR,
    }
}

/// The message for an error code the pages do not know.
pub const GENERIC_ERROR: &str = "Something went wrong. Please try again.";

/// The message for a notice code of the form flow (`confirmation`: whether a new account
/// must confirm its email before it logs in); `None` for a code it does not know (nothing is
/// shown then).
pub fn notice_message(code: &str, confirmation: bool) -> Option<&'static str> {
    Some(match code {
        "registered" if confirmation => {
            "Your account is created. Confirm your email address with the code we sent you, \
             then log in."
        }
        "registered" => "Your account is ready. You can log in now.",
        "email_confirmed" => "Your email address is confirmed. You can log in now.",
        "confirmation_sent" => {
            "If an account with that email address is waiting for confirmation, a new code \
             is on its way."
        }
        "second_factor_removed" => "Your second factor has been removed.",
        "email_changed" => "Your email address has been changed.",
        "email_change_sent" => {
            "We sent a code to the new address: enter it below to make the change."
        }
        "password_changed" => "Your password has been changed. Your other sessions were ended.",
        "session_ended" => "The session has been ended.",
        "reset_sent" => {
            "If an account exists for that email address, a password reset code is on its way."
        }
        "password_reset" => "Your password has been reset. You can log in with it now.",
        _ => return None,
    })
}

/// `time` as `2026-11-30 15:42 UTC`, and as the `datetime` of a `<time>` element
/// (`2026-11-30T15:42:07Z`).
pub fn utc(time: SystemTime) -> (String, String) {
    let secs = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rest = secs % 86_400;
    let (h, m, s) = (rest / 3600, rest % 3600 / 60, rest % 60);
    let (y, mo, d) = civil_from_days(days);
    (
        format!("{y:04}-{mo:02}-{d:02} {h:02}:{m:02} UTC"),
        format!("{y:04}-{mo:02}-{d:02}T{h:02}:{m:02}:{s:02}Z"),
    )
}

/// The proleptic Gregorian date of a count of days since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (
        y,
        u32::try_from(m).unwrap_or(1),
        u32::try_from(d).unwrap_or(1),
    )
}
