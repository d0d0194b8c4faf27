//! The layer in a plain tower stack, and the guards.

mod guard;
mod stack;
