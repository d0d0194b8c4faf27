//! Sessions: insert, look up, touch, evict, delete; and their races with changes of
//! credentials, email and account.

mod races;
mod records;

pub use races::*;
pub use records::*;
