//! Load a custom policy file, show what it changes, and show the error for a broken one.
//!
//! Run: `cargo run -p steward-examples --example policy_file`

use std::error::Error;

use steward::{vocabulary::*, *};

fn main() -> Result<(), Box<dyn Error>> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"));
    let custom = Policy::load(format!("{dir}/custom-policy.toml"))?;
    println!(
        "Loaded custom-policy.toml: version `{}`, at most {} stewards, consent mode `{}`, \
         deletion window {}.",
        custom.version(),
        custom.max_stewards().get(),
        custom.consent_mode(),
        custom.retention().window(),
    );
    let known: Vec<&str> = custom
        .known_versions()
        .iter()
        .map(PolicyVersion::as_str)
        .collect();
    println!(
        "  consent records may name the versions {}",
        known.join(", ")
    );
    for (category, purpose) in [
        (DataCategory::Email, Purpose::NotifyChanges),
        (DataCategory::Name, Purpose::NotifyChanges),
        (DataCategory::LlmRequestLog, Purpose::Reliability),
    ] {
        println!(
            "  may `{category}` serve `{purpose}`? bundled: {}, custom: {}",
            Policy::coder_model().allows_purpose(category, purpose),
            custom.allows_purpose(category, purpose),
        );
    }
    let ip_rule = custom.retention().rule(DataCategory::IpAddress)?;
    println!(
        "  ip-address rule: anchored at {:?}, maximum {}, window {}",
        ip_rule.anchor(),
        ip_rule.maximum(),
        ip_rule.window()
    );

    println!("\nLoading broken-policy.toml:");
    match Policy::load(format!("{dir}/broken-policy.toml")) {
        Ok(_) => println!("  UNEXPECTED: the broken file loaded"),
        Err(error) => println!("  refused, nothing loaded: {error}"),
    }
    Ok(())
}
