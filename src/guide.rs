//! The guide: one page per topic, from the first route to running many instances.
//!
//! Each page is a Markdown file of the repository's `docs/` folder, pulled in here so that its
//! code blocks are doctests and its links are checked with the API they name.
//!
//! | page | what it covers |
//! | --- | --- |
//! | [`routes`] | every route the layer serves, its input and its answers; bodies, status codes, curl |
//! | [`profiles`] | the hardened profile and the compatibility profile, side by side |
//! | [`configuration`] | every option: its `AuthConfig` (or store, or server) method, its `AUTH_*` variable, its default |
//! | [`axum`] | the extractors, `RequireAuth` on a `Router`, serving with the client's address |
//! | [`tower`] | any tower or hyper service behind the layer, `RequireAuth`, `serve::Server`, a full tower stack, `Auth`'s methods |
//! | [`pages`] | the form flow for browsers: 303s, `next`, `_method`, the app's pages |
//! | [`account`] | the account lifecycle: email confirmation, email change, deletion, recovery and re-authentication |
//! | [`second_factor`] | the TOTP second factor and its recovery codes |
//! | [`postgres`] | `PgStore`, several instances on one database, replicas, what is not done |
//! | [`admin`] | the `tower-user-auth-admin` command line |
//! | [`operations`] | purging, export and import, statistics, durability, schema upgrades |
//! | [`security`] | the guarantees, the robustness tests, and the way to `SECURITY.md` |
//! | [`benchmarks`] | the figures at a million users, and the way to `BENCHMARKS.md` |
//! | [`testing`] | the test suites, what they need and how to run them |
//! | [`comparison`] | axum-login and tower-sessions, cell by cell |

pub mod routes {
    #![doc = include_str!("../docs/routes.md")]
}

pub mod profiles {
    #![doc = include_str!("../docs/profiles.md")]
}

pub mod configuration {
    #![doc = include_str!("../docs/configuration.md")]
}

pub mod axum {
    #![doc = include_str!("../docs/axum.md")]
}

pub mod tower {
    #![doc = include_str!("../docs/tower.md")]
}

pub mod pages {
    #![doc = include_str!("../docs/pages.md")]
}

pub mod account {
    #![doc = include_str!("../docs/account.md")]
}

pub mod second_factor {
    #![doc = include_str!("../docs/second_factor.md")]
}

pub mod postgres {
    #![doc = include_str!("../docs/postgres.md")]
}

pub mod admin {
    #![doc = include_str!("../docs/admin.md")]
}

pub mod operations {
    #![doc = include_str!("../docs/operations.md")]
}

pub mod security {
    #![doc = include_str!("../docs/security.md")]
}

pub mod benchmarks {
    #![doc = include_str!("../docs/benchmarks.md")]
}

pub mod testing {
    #![doc = include_str!("../docs/testing.md")]
}

pub mod comparison {
    #![doc = include_str!("../docs/comparison.md")]
}
