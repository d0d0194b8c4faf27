//! The demo's HTML pages and forms, in process and in a real browser.

mod browser;
mod demo;
mod form_flow;
