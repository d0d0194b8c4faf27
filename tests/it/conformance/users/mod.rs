//! Users and credentials: accounts (add, find, update, delete, list, import), the compare-and-
//! sets on the hash and the generation, unconfirmed accounts against pre-hijacking, their races,
//! and `Auth` over the store.

mod accounts;
mod credentials;
mod generations;
mod races;
mod through_auth;
mod unconfirmed;

pub use accounts::*;
pub use credentials::*;
pub use generations::*;
pub use races::*;
pub use through_auth::*;
pub use unconfirmed::*;
