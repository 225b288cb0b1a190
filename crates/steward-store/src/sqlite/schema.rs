//! The schema and its migrations, recorded in `PRAGMA user_version`.
//!
//! A migration moves the file from one version to the next in one transaction, together with
//! the version number, so a file is always at exactly one known version: a crash during a
//! migration leaves it at the version before. To change the schema, append a migration; never
//! edit one that has shipped.

use std::path::Path;

use rusqlite::{Connection, TransactionBehavior};

use crate::{StoreError, error::Doing};

/// `PRAGMA application_id` of a Steward store ("STWD"), so that another application's SQLite
/// file is not mistaken for one.
pub(crate) const APPLICATION_ID: i32 = 0x5354_5744;

/// A check run before a migration's SQL: an error leaves the file at the version before.
type Refusal = fn(&Connection) -> Result<(), StoreError>;

/// One step of the schema.
struct Migration {
    /// The version the file has after this step.
    version: u32,
    sql: &'static str,
    /// Checked in the migration's transaction before `sql` runs: a file this step must not
    /// change is refused, and stays at the version before.
    refuse: Option<Refusal>,
}

/// Every migration, in order: `MIGRATIONS[i]` leads to version `i + 1`.
const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        sql: include_str!("schema/v1.sql"),
        refuse: None,
    },
    Migration {
        version: 2,
        sql: include_str!("schema/v2.sql"),
        refuse: Some(refuse_unproven_facts),
    },
    Migration {
        version: 3,
        sql: include_str!("schema/v3.sql"),
        refuse: None,
    },
    Migration {
        version: 4,
        sql: include_str!("schema/v4.sql"),
        refuse: None,
    },
];

/// The schema version this build migrates files to.
pub const SCHEMA_VERSION: u32 = 4;

/// The v1 fact tables held plain rows that nothing proves: turning them into chained entries
/// would bless whatever was edited into them. A v1 file with facts is left as it is.
fn refuse_unproven_facts(conn: &Connection) -> Result<(), StoreError> {
    for table in [
        "consent_changes",
        "relationships",
        "legal_holds",
        "hold_events",
        "roster",
    ] {
        // The table names are the constants above, never input.
        let any: bool = conn
            .query_row(
                &format!("SELECT EXISTS (SELECT 1 FROM {table})"),
                [],
                |row| row.get(0),
            )
            .doing("checking the v1 fact tables")?;
        if any {
            return Err(StoreError::UnprovenFacts { table });
        }
    }
    Ok(())
}

/// What a file holds before it is migrated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Found {
    /// No schema at all: a new file (version 0).
    Empty,
    /// A Steward store at this version.
    Store(u32),
}

/// Reads the version of the file and refuses what this build must not touch.
pub(crate) fn inspect(conn: &Connection, path: &Path) -> Result<Found, StoreError> {
    // The first reads of the file: a file that is no database at all fails here.
    let unreadable = |source| StoreError::Open {
        path: path.to_path_buf(),
        source,
    };
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(unreadable)?;
    let application: i32 = conn
        .query_row("PRAGMA application_id", [], |row| row.get(0))
        .map_err(unreadable)?;
    let objects: i64 = conn
        .query_row("SELECT count(*) FROM sqlite_schema", [], |row| row.get(0))
        .map_err(unreadable)?;
    let version = u32::try_from(version).map_err(|_| StoreError::OutOfRange {
        what: "the schema version",
    })?;
    match (application, version, objects) {
        (0, 0, 0) => Ok(Found::Empty),
        (APPLICATION_ID, found, _) if found > SCHEMA_VERSION => Err(StoreError::SchemaTooNew {
            found,
            supported: SCHEMA_VERSION,
        }),
        (APPLICATION_ID, found, _) => Ok(Found::Store(found)),
        _ => Err(StoreError::NotAStore {
            path: path.to_path_buf(),
            reason: "another application's database",
        }),
    }
}

/// Applies every migration above the file's version, each in its own transaction.
pub(crate) fn migrate(conn: &mut Connection) -> Result<u32, StoreError> {
    for migration in MIGRATIONS {
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .doing("starting a migration")?;
        // Read again inside the write transaction: another process may have migrated since.
        let current: i64 = tx
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .doing("reading the schema version")?;
        if current >= i64::from(migration.version) {
            continue;
        }
        let failed = |source| StoreError::Migration {
            version: migration.version,
            source,
        };
        if let Some(refuse) = migration.refuse {
            refuse(&tx)?;
        }
        tx.execute_batch(migration.sql).map_err(failed)?;
        // Header fields, written in the same transaction as the schema they describe.
        tx.pragma_update(None, "application_id", APPLICATION_ID)
            .map_err(failed)?;
        tx.pragma_update(None, "user_version", migration.version)
            .map_err(failed)?;
        tx.commit().map_err(failed)?;
    }
    Ok(SCHEMA_VERSION)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_numbered_one_after_another_up_to_the_schema_version() {
        for (index, migration) in MIGRATIONS.iter().enumerate() {
            assert_eq!(migration.version as usize, index + 1);
        }
        assert_eq!(MIGRATIONS.last().unwrap().version, SCHEMA_VERSION);
    }

    #[test]
    fn migrating_twice_changes_nothing() {
        let mut conn = Connection::open_in_memory().unwrap();
        assert_eq!(inspect(&conn, Path::new(":memory:")).unwrap(), Found::Empty);
        migrate(&mut conn).unwrap();
        migrate(&mut conn).unwrap();
        assert_eq!(
            inspect(&conn, Path::new(":memory:")).unwrap(),
            Found::Store(SCHEMA_VERSION)
        );
    }
}
