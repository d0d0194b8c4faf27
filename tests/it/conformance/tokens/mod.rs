//! Tokens: reset tokens, email tokens (confirmation and email change), device tokens, and
//! their compare-and-sets under concurrency.

mod devices;
mod email;
mod races;
mod resets;

pub use devices::*;
pub use email::*;
pub use races::*;
pub use resets::*;
