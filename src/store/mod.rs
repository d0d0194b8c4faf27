//! Storage: the [`Store`] bound that `Auth` is written against, its embedded implementation,
//! [`RedbStore`], and (feature `postgres`) `PgStore` on PostgreSQL.
//!
//! [`Store`] is the sum of one trait per concern, each with its own guarantees:
//!
//! - [`UserStore`]: users and their credentials (the credential generation, compare-and-sets
//!   against what a caller verified, unconfirmed accounts);
//! - [`SessionStore`]: sessions, the look-up behind every authenticated request;
//! - [`TokenStore`]: reset, confirmation, email-change and device tokens;
//! - [`SecondFactorStore`]: the TOTP second factor and its recovery codes;
//! - [`SharedThrottling`]: the throttle shared between instances, if the store shares it;
//! - [`ChangeNotifications`]: what each commit changed, told to the session caches in front
//!   of the store ([`CachedSessions`], which [`Auth`](crate::Auth) puts in front of every
//!   store), if the store can tell them.
//!
//! An optional capability that not every caller needs is a bound of its own, not part of
//! [`Store`]: [`ExpiredDeletion`] (the purge). So is a later feature's own store concern
//! (such as sign-in providers' or passkeys'): its constructor requires it beside [`Store`],
//! never as a supertrait of [`Store`], so that features stay additive and a store written
//! for [`Store`] keeps compiling.
//!
//! The traits are asynchronous so that a networked backend (PostgreSQL) can implement them;
//! the redb store answers reads inline (a read transaction is a few microseconds and never
//! waits on I/O it has not already cached) and sends every write to one writer thread that
//! commits them in groups, each with immediate durability, and answers each caller only
//! after its commit.
//!
//! Code that calls the stores' methods on a concrete store ([`RedbStore`], `PgStore`)
//! imports the traits in one line: `use tower_user_auth::store::prelude::*;`.

#[cfg(doc)]
use crate::error::StoreError;

mod cache;
mod expired;
mod linear_probing;
#[cfg(feature = "postgres")]
mod postgres;
mod redb;
mod second_factor;
mod sessions;
mod throttling;
mod tokens;
mod users;

#[cfg(feature = "postgres")]
pub(crate) use self::postgres::throttle as postgres_throttle;
#[cfg(feature = "postgres")]
pub use self::postgres::{PgStore, PgStoreBuilder};
pub use self::{
    cache::{
        CachePolicy, CacheSubscriber, CachedSessions, ChangeNotifications, Coherence,
        SessionChanges,
    },
    expired::{ExpiredDeletion, Purged},
    redb::{RedbStore, RedbStoreBuilder, StoreStats},
    second_factor::{SecondFactorChange, SecondFactorRecord, SecondFactorStore},
    sessions::{EndSessions, SessionEntry, SessionRecord, SessionStore, VerifiedSession},
    throttling::SharedThrottling,
    tokens::{
        AccountVersion, DeviceRecord, EmailRedeemed, EmailTokenPurpose, EmailTokenRecord,
        PasswordReset, ResetRecord, TokenStore,
    },
    users::{ImportedUser, ListedUser, UnconfirmedUser, UserQuery, UserStore, UserUpdate},
};

/// The store traits in one import, for code that calls their methods on a concrete store:
///
/// ```
/// use tower_user_auth::store::{RedbStore, UserQuery, prelude::*};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = tempfile::tempdir()?;
/// let store = RedbStore::open(dir.path().join("auth.redb"))?;
/// let user = store.add_user("bob@example.com", "$2b$04$hash").await?;
/// assert_eq!(store.find_user_by(UserQuery::Id(user.id)).await?, user);
/// # Ok(())
/// # }
/// ```
pub mod prelude {
    pub use super::{
        ChangeNotifications, ExpiredDeletion, SecondFactorStore, SessionStore, SharedThrottling,
        Store, TokenStore, UserStore,
    };
}

/// Where accounts, sessions and tokens live: the one bound an application writes, the sum
/// of the concerns ([`UserStore`], [`SessionStore`], [`TokenStore`], [`SecondFactorStore`],
/// [`SharedThrottling`], [`ChangeNotifications`]), implemented for every type that implements them all (the embedded
/// [`RedbStore`]; `PgStore` on PostgreSQL with the feature `postgres`). The conformance
/// suite, `tests/it/conformance/`, is what an implementation must pass.
///
/// Common to every concern:
///
/// - **One transaction per method.** Every method that changes anything does all of it in
///   one transaction, serialisable with every other: either all of it is stored or none,
///   and a concurrent reader sees all or none. Every check a method makes (an email free, a
///   token live, a generation or hash still current) is made inside that transaction.
///   Methods return once the change is durable.
/// - **Compare-and-sets** fail with [`StoreError::Conflict`] (or [`StoreError::NotFound`]
///   for a token, or a session that ended) and change nothing; errors returned before
///   anything was written (`NotFound`, `EmailTaken`, `Conflict`) leave the store as it was.
///
/// Implementations decide where the work runs; callers on an async runtime expect that no
/// method blocks a worker thread on disk or network I/O for long.
///
/// An optional capability ([`ExpiredDeletion`]) or a feature's own store concern is a
/// bound beside `Store` (`S: Store + ExpiredDeletion`), never one of its supertraits: a
/// store written for `Store` keeps compiling when a feature lands.
///
/// [`Auth`](crate::Auth) runs over any store ([`Auth::new`](crate::Auth::new)); code written
/// against the trait works with each of them:
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use tower_user_auth::{
///     Auth, AuthConfig,
///     error::StoreError,
///     store::{RedbStore, Store},
/// };
///
/// /// Every account's email, a page at a time, in id order.
/// async fn emails<S: Store>(store: &S) -> Result<Vec<String>, StoreError> {
///     let (mut emails, mut after) = (Vec::new(), None);
///     loop {
///         let page = store.list_users(after, 100).await?;
///         let Some(last) = page.last() else { return Ok(emails) };
///         after = Some(last.user.id);
///         emails.extend(page.into_iter().map(|listed| listed.user.email));
///     }
/// }
///
/// let dir = tempfile::tempdir()?;
/// let store = RedbStore::open(dir.path().join("auth.redb"))?;
/// let auth = Auth::new(store, AuthConfig::hardened().with_bcrypt_cost(4))?;
/// auth.register("bob@example.com", "correct horse battery staple", None).await?;
/// assert_eq!(emails(auth.store()).await?, ["bob@example.com"]);
/// # Ok(())
/// # }
/// ```
pub trait Store:
    UserStore + SessionStore + TokenStore + SecondFactorStore + SharedThrottling + ChangeNotifications
{
}

impl<T> Store for T where
    T: UserStore
        + SessionStore
        + TokenStore
        + SecondFactorStore
        + SharedThrottling
        + ChangeNotifications
{
}
