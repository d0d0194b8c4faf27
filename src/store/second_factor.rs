//! The TOTP second factor with its recovery codes: the [`SecondFactorStore`] trait, the
//! stored [`SecondFactorRecord`] and the changes to it ([`SecondFactorChange`]).

use std::{fmt, future::Future};

use super::VerifiedSession;
use crate::{error::StoreError, token::TokenDigest, user::UserId};

/// A user's second factor: part of [`Store`](super::Store).
///
/// - **Every change is a compare-and-set** in one transaction ([`SecondFactorChange`]): it
///   applies only if the stored factor is in the state the change requires, `Ok(false)` and
///   nothing changed otherwise, so that a code or a recovery code is accepted once however
///   many requests present it at the same time.
/// - **Turning the factor on or off is a change of credentials** (see
///   [`UserStore`](super::UserStore)): the generation advances and the user's sessions move
///   to it in the same transaction.
pub trait SecondFactorStore: Send + Sync + 'static {
    /// The second factor of user `id`, pending or enabled; `None` if they have none.
    /// [`StoreError::NotFound`] for an unknown user.
    fn second_factor(
        &self,
        id: UserId,
    ) -> impl Future<Output = Result<Option<SecondFactorRecord>, StoreError>> + Send;

    /// Applies `change` to the second factor of user `id` in one transaction, as a
    /// compare-and-set (see [`SecondFactorChange`]): `Ok(false)` and nothing changed when
    /// the factor is not in the state the change requires. [`StoreError::NotFound`] for an
    /// unknown user. Turning the factor on or off is a change of credentials (the generation
    /// advanced, every session moved to it, reset and email tokens revoked, in the same
    /// transaction; a cached session of the user is refreshed on every instance).
    fn update_second_factor(
        &self,
        id: UserId,
        change: SecondFactorChange,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

/// A user's TOTP second factor (RFC 6238) as stored: the shared secret sealed under the
/// application's key (a copy of the store alone does not give the factor), whether it is
/// enabled or still pending confirmation, the last time step a code was accepted at (a code
/// is never accepted twice), and the digests of the recovery codes not used yet.
///
/// `Debug` shows the sealed secret's length only.
#[derive(Clone, PartialEq, Eq)]
pub struct SecondFactorRecord {
    /// The secret, sealed (nonce and AEAD ciphertext): opaque to the store.
    pub sealed_secret: Vec<u8>,
    /// `false` while pending: set up, never confirmed with a code, not enforced.
    pub enabled: bool,
    /// The last RFC 6238 time step at which a code was accepted (0: none).
    pub last_step: u64,
    /// The SHA-256 digests of the recovery codes still unused.
    pub recovery_codes: Vec<TokenDigest>,
}

impl fmt::Debug for SecondFactorRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecondFactorRecord")
            .field(
                "sealed_secret",
                &format_args!("<{} bytes>", self.sealed_secret.len()),
            )
            .field("enabled", &self.enabled)
            .field("last_step", &self.last_step)
            .field("recovery_codes", &self.recovery_codes.len())
            .finish()
    }
}

/// A change to a user's second factor, applied by [`SecondFactorStore::update_second_factor`] in one
/// transaction as a compare-and-set: `Ok(true)` if it applied, `Ok(false)` (nothing changed)
/// if the stored factor was not in the state the change requires.
///
/// Turning the factor on ([`Enable`](Self::Enable)) or off (removing an enabled one) is a
/// change of credentials: in the same transaction the user's generation advances, every
/// session of theirs is moved to it (all are kept), and their reset token and email tokens
/// are revoked, as a change of password does.
#[derive(Clone, PartialEq, Eq)]
pub enum SecondFactorChange {
    /// Stores a pending factor with this sealed secret, replacing a pending one. Refused
    /// (`false`) while a factor is enabled.
    Begin {
        /// The new secret, sealed.
        sealed_secret: Vec<u8>,
    },
    /// Enables the pending factor if its secret is still `sealed_secret` (the one whose code
    /// was checked), recording `step` as used and storing the recovery code digests.
    Enable {
        /// The pending secret the code was checked against.
        sealed_secret: Vec<u8>,
        /// The time step of the code that confirmed it.
        step: u64,
        /// The digests of the new recovery codes.
        recovery_codes: Vec<TokenDigest>,
    },
    /// Accepts a code of the enabled factor at time step `step` if `step` is after the last
    /// step accepted (RFC 6238 §5.2: a code is used once), and records it; `false` for a
    /// replay or when no factor is enabled.
    UseStep(u64),
    /// Consumes one recovery code of the enabled factor; `false` if it is not (or no longer)
    /// among the unused ones.
    UseRecoveryCode(TokenDigest),
    /// Removes the factor, pending or enabled, with its recovery codes; `false` if there was
    /// none. Unconditional: an administrator's removal.
    Remove,
    /// As [`Remove`](Self::Remove), by the holder of a session, as a compare-and-set against
    /// what the request verified ([`VerifiedSession`]): [`StoreError::NotFound`] if that
    /// session is no longer the user's, [`StoreError::Conflict`] if the user's generation
    /// is no longer the one verified, and nothing changed.
    RemoveVerified(VerifiedSession),
}

impl fmt::Debug for SecondFactorChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Begin { .. } => f.write_str("Begin"),
            Self::Enable { step, .. } => f.debug_struct("Enable").field("step", step).finish(),
            Self::UseStep(step) => f.debug_tuple("UseStep").field(step).finish(),
            Self::UseRecoveryCode(_) => f.write_str("UseRecoveryCode"),
            Self::Remove => f.write_str("Remove"),
            Self::RemoveVerified(_) => f.write_str("RemoveVerified"),
        }
    }
}
