//! Export lineage (issue 20): the store remembers which export jobs included which customers'
//! records, ids and counts only, durably, and names the exports holding a customer's records.

use steward::{
    logs::ExportJobId,
    vocabulary::{Timestamp, TrainingScope},
};
use steward_store::{CustomerRecords, ExportLineage, LineageStore};

use super::Db;
use crate::{backend::Backend, common::*};

pub(crate) fn export_lineage_survives_reopen_and_names_the_exports_holding_a_customer() {
    let db = Db::fresh("lineage");
    let (ada, ben, cyd) = (customer(1), customer(2), customer(3));
    let first_at = Timestamp::from_unix_nanos(1_750_000_000_000_000_000);
    let second_at = Timestamp::from_unix_nanos(1_750_000_100_000_000_000);
    let first = ExportLineage::new(
        ExportJobId::generate_at(first_at),
        TrainingScope::Private { owner: ada },
        first_at,
        Vec::new(),
        [ada, ada],
    );
    let second = ExportLineage::new(
        ExportJobId::generate_at(second_at),
        TrainingScope::Shared,
        second_at,
        vec!["age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p".to_owned()],
        [ben, ada, ben, ben],
    );
    assert_eq!(
        first.customers,
        [CustomerRecords {
            customer: ada,
            records: 2
        }]
    );
    {
        let store = db.store();
        assert!(store.exports().unwrap().is_empty());
        // Recorded newest first: listed oldest first all the same.
        store.record_export(&second).unwrap();
        store.record_export(&first).unwrap();
        // A job recorded again keeps its first record.
        let mut changed = first.clone();
        changed.customers.clear();
        store.record_export(&changed).unwrap();
    }
    let store = db.store();
    assert_eq!(store.exports().unwrap(), [first.clone(), second.clone()]);
    assert_eq!(store.exports_holding(ada).unwrap(), [first.job, second.job]);
    assert_eq!(store.exports_holding(ben).unwrap(), [second.job]);
    assert!(store.exports_holding(cyd).unwrap().is_empty());
}
