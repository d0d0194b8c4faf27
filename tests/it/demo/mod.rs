//! The demo binary as a child process, and the seed's client against it.

mod process;
mod seed_client;
