//! [`Profile`]: the named sets of defaults.

use std::{fmt, str::FromStr};

use crate::error::{ConfigError, ConfigProblem};

/// A named set of defaults. See the crate docs for what differs between them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Profile {
    /// Secure defaults: the library's `Default`.
    #[default]
    Hardened,
    /// Compatibility with the service this crate re-creates (the "seed", a Flask user
    /// authentication service), for clients written for it: reset tokens in the response
    /// body, short passwords accepted, no `Secure` cookie attribute, sessions kept across a
    /// password reset. Its name in text (`AUTH_PROFILE`, [`FromStr`], [`Display`](fmt::Display))
    /// stays `seed`, the name its clients know.
    Compat,
}

impl Profile {
    /// The compatibility profile.
    #[deprecated(since = "0.2.0", note = "renamed to `Profile::Compat`")]
    #[allow(non_upper_case_globals)]
    pub const Seed: Self = Self::Compat;
}

impl FromStr for Profile {
    type Err = ConfigError;

    /// `hardened` or `seed`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "hardened" => Ok(Self::Hardened),
            "seed" => Ok(Self::Compat),
            other => Err(ConfigProblem::Profile(other.to_owned()).into()),
        }
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Hardened => "hardened",
            Self::Compat => "seed",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(deprecated)]
    fn the_compatibility_profile_keeps_its_names() {
        assert_eq!(Profile::Seed, Profile::Compat);
        assert!(matches!(Profile::Compat, Profile::Seed));
        assert_eq!("seed".parse::<Profile>(), Ok(Profile::Compat));
        assert_eq!(Profile::Compat.to_string(), "seed");
    }
}
