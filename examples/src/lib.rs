//! Runnable examples of Steward: `cargo run -p steward-examples --example <name>`.

#![forbid(unsafe_code)]
