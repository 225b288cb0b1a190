//! Turns on `cfg(pg_tests)` when `STEWARD_POSTGRES` names a PostgreSQL server, so that
//! the tests needing one run; without it they report "ignored", never "passed".

fn main() {
    println!("cargo::rerun-if-env-changed=STEWARD_POSTGRES");
    println!("cargo::rustc-check-cfg=cfg(pg_tests)");
    if std::env::var_os("STEWARD_POSTGRES").is_some_and(|value| !value.is_empty()) {
        println!("cargo::rustc-cfg=pg_tests");
    }
}
