//! `steward init`: a new store directory, its keys and its database.

use serde_json::json;

use crate::{
    Context,
    error::{CliError, Exit},
    output::{Table, note, render},
    store_dir::{
        AUDIT_KEY, CHECKPOINT_KEY, CHECKPOINT_PUBLIC_KEY, DATABASE, MASTER_KEY, RECEIPT_KEY,
        RECEIPT_PUBLIC_KEY,
    },
};

/// `steward init`
pub(crate) fn run(context: &Context) -> Result<Exit, CliError> {
    // A policy file that does not load is reported before anything is written.
    context.policy()?;
    let initialized = context.dir.init(context.master_key_id())?;
    let files: Vec<String> = initialized
        .files
        .iter()
        .map(|path| path.display().to_string())
        .collect();
    let value = json!({
        "store": context.dir.file(DATABASE),
        "files": files,
        "keys_from_environment": initialized.from_environment,
        "master_key_id": context.master_key_id().as_str(),
    });
    render(context.format, "the new store", &value, || {
        let mut table = Table::new(&["FILE", "HOLDS"]);
        for path in &initialized.files {
            let name = path
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_default();
            let holds = match name.as_str() {
                DATABASE => "the store: keys (wrapped), audit chain, records, fact log",
                MASTER_KEY => "the master key: back it up, keep it secret (mode 0600)",
                AUDIT_KEY => "the audit key: back it up, keep it secret (mode 0600)",
                CHECKPOINT_KEY => "the key that signs audit checkpoints (mode 0600)",
                CHECKPOINT_PUBLIC_KEY => "the key that verifies them: keep a copy elsewhere",
                RECEIPT_KEY => "the key that signs consent receipts (mode 0600)",
                RECEIPT_PUBLIC_KEY => "the key that verifies them: publish it",
                _ => "",
            };
            table.row(vec![path.display().to_string(), holds.to_owned()]);
        }
        table.print()?;
        for variable in &initialized.from_environment {
            note(format_args!(
                "took a key from `{variable}`: no file written for it"
            ));
        }
        Ok(())
    })?;
    Ok(Exit::Success)
}
