//! The persisted form of a keyring: wrapped data keys and the tombstones of shreds.

use serde::{Deserialize, Serialize};
use steward_core::CustomerId;

use super::{Tombstone, WrappedDataKey};
use crate::{KeyError, LogsError};

/// Everything a store persists to rebuild a [`Keyring`](super::Keyring): the wrapped data keys and,
/// for every customer ever crypto-shredded, their [`Tombstone`] (so their old records keep failing
/// with [`OpenError::Shredded`](crate::OpenError::Shredded) after a restart, not with a missing
/// key, and a returning customer's new key generation continues above it).
///
/// Serialized (serde) as `{"data_keys": [...], "shredded": [{"customer": id, "through": n}]}`,
/// where `through` is the newest version destroyed, 0 if the customer had none. Deserializing
/// checks consistency: no customer and version twice, no customer shredded twice, no data key
/// at or below its customer's tombstone.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "SnapshotRepr", into = "SnapshotRepr")]
pub struct KeyringSnapshot {
    pub(super) data_keys: Vec<WrappedDataKey>,
    pub(super) shredded: Vec<(CustomerId, Tombstone)>,
}

impl KeyringSnapshot {
    /// A snapshot from its parts, put in order: data keys by customer and version, shredded
    /// customers by id (parts read in that order cost one pass to check).
    ///
    /// # Errors
    ///
    /// [`KeyError::InvalidSnapshot`] if a customer and version appear twice, a customer has
    /// two tombstones, or a data key's version is at or below its customer's tombstone.
    pub fn new(
        mut data_keys: Vec<WrappedDataKey>,
        mut shredded: Vec<(CustomerId, Tombstone)>,
    ) -> Result<Self, LogsError> {
        // A stable sort finds parts already in order (as stores read them) in one pass.
        data_keys.sort_by_key(|key| (key.customer, key.version));
        shredded.sort_by_key(|&(customer, _)| customer);
        if data_keys.windows(2).any(
            |pair| matches!(pair, [a, b] if (a.customer, a.version) == (b.customer, b.version)),
        ) {
            return Err(LogsError::Key(KeyError::InvalidSnapshot {
                reason: "a customer's key version appears twice",
            }));
        }
        if shredded
            .windows(2)
            .any(|pair| matches!(pair, [(a, _), (b, _)] if a == b))
        {
            return Err(LogsError::Key(KeyError::InvalidSnapshot {
                reason: "a customer is listed as shredded twice",
            }));
        }
        // A customer's oldest key comes first in their run: it alone can be covered.
        if shredded.iter().any(|&(customer, tombstone)| {
            let first = data_keys.partition_point(|key| key.customer < customer);
            data_keys
                .get(first)
                .is_some_and(|key| key.customer == customer && tombstone.covers(key.version))
        }) {
            return Err(LogsError::Key(KeyError::InvalidSnapshot {
                reason: "a data key has a version its customer was already shredded through",
            }));
        }
        Ok(Self {
            data_keys,
            shredded,
        })
    }

    /// The wrapped data keys, by customer and version.
    #[must_use]
    pub fn data_keys(&self) -> &[WrappedDataKey] {
        &self.data_keys
    }

    /// Every customer ever crypto-shredded, with what their last shred destroyed, by customer.
    #[must_use]
    pub fn shredded(&self) -> &[(CustomerId, Tombstone)] {
        &self.shredded
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SnapshotRepr {
    data_keys: Vec<WrappedDataKey>,
    shredded: Vec<ShreddedRepr>,
}

#[derive(Serialize, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a shredded customer: `customer` and `through`, the newest key version destroyed"
)]
struct ShreddedRepr {
    customer: CustomerId,
    through: u32,
}

impl TryFrom<SnapshotRepr> for KeyringSnapshot {
    type Error = LogsError;

    fn try_from(repr: SnapshotRepr) -> Result<Self, Self::Error> {
        let shredded = repr
            .shredded
            .into_iter()
            .map(|entry| (entry.customer, Tombstone::from_number(entry.through)))
            .collect();
        Self::new(repr.data_keys, shredded)
    }
}

impl From<KeyringSnapshot> for SnapshotRepr {
    fn from(snapshot: KeyringSnapshot) -> Self {
        Self {
            data_keys: snapshot.data_keys,
            shredded: snapshot
                .shredded
                .into_iter()
                .map(|(customer, tombstone)| ShreddedRepr {
                    customer,
                    through: tombstone.number(),
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        KeyVersion, Keyring, OpenError, hex,
        keys::test_support::{customer, master},
    };

    #[test]
    fn snapshot_round_trips_through_json_and_restore() {
        let mut keyring = Keyring::new(master("kek-1", 1));
        keyring.ensure_data_key(customer(1)).unwrap();
        keyring.rotate_data_key(customer(2)).unwrap();
        keyring.shred(customer(3));
        let key = *keyring
            .data_key(customer(2), KeyVersion::FIRST)
            .unwrap()
            .as_bytes();
        let json = serde_json::to_string(&keyring.snapshot()).unwrap();
        assert!(!json.contains(&hex::encode(&key)));
        let snapshot: KeyringSnapshot = serde_json::from_str(&json).unwrap();
        let restored = Keyring::restore(master("kek-1", 1), [], snapshot).unwrap();
        assert_eq!(
            restored
                .data_key(customer(2), KeyVersion::FIRST)
                .unwrap()
                .as_bytes(),
            &key
        );
        assert!(restored.is_shredded(customer(3)));
    }

    #[test]
    fn inconsistent_snapshot_is_rejected_on_deserialize() {
        let mut keyring = Keyring::new(master("kek-1", 1));
        keyring.ensure_data_key(customer(1)).unwrap();
        let mut value = serde_json::to_value(keyring.snapshot()).unwrap();
        value["shredded"] = serde_json::json!([
            {"customer": customer(2).to_string(), "through": 1},
            {"customer": customer(2).to_string(), "through": 3},
        ]);
        let error = serde_json::from_value::<KeyringSnapshot>(value.clone()).unwrap_err();
        assert!(error.to_string().contains("shredded twice"), "{error}");
        // The format before key epochs listed bare customer ids: refused, naming what is due.
        value["shredded"] = serde_json::json!([customer(2).to_string()]);
        let error = serde_json::from_value::<KeyringSnapshot>(value.clone()).unwrap_err();
        assert!(error.to_string().contains("`through`"), "{error}");
        value["shredded"] = serde_json::json!([
            {"customer": customer(2).to_string(), "through": 1, "reason": "x"},
        ]);
        assert!(serde_json::from_value::<KeyringSnapshot>(value).is_err());
        let bad_nonce = serde_json::json!({
            "master_key": "kek-1", "customer": customer(1).to_string(), "version": 1,
            "nonce": "00", "ciphertext": "00"
        });
        assert!(serde_json::from_value::<WrappedDataKey>(bad_nonce).is_err());
    }

    #[test]
    fn snapshot_with_a_live_key_at_or_below_the_tombstone_is_refused() {
        let mut keyring = Keyring::new(master("kek-1", 1));
        keyring.ensure_data_key(customer(1)).unwrap();
        keyring.rotate_data_key(customer(1)).unwrap();
        let data_keys = keyring.snapshot().data_keys().to_vec();
        let tombstone = |through: u32| Tombstone::new(KeyVersion::new(through).ok());
        // v1 and v2 are live: a tombstone through v1 or v2 (or above) covers a live key.
        for through in [1, 2, 5] {
            assert!(
                matches!(
                    KeyringSnapshot::new(
                        data_keys.clone(),
                        vec![(customer(1), tombstone(through))]
                    ),
                    Err(LogsError::Key(KeyError::InvalidSnapshot { .. }))
                ),
                "through v{through}"
            );
            let mut value = serde_json::to_value(keyring.snapshot()).unwrap();
            value["shredded"] =
                serde_json::json!([{"customer": customer(1).to_string(), "through": through}]);
            let error = serde_json::from_value::<KeyringSnapshot>(value).unwrap_err();
            assert!(
                error.to_string().contains("already shredded through"),
                "{error}"
            );
        }
        // A tombstone below every live key is a customer who came back: consistent.
        let snapshot = KeyringSnapshot::new(data_keys.clone(), vec![(customer(1), tombstone(0))]);
        assert!(snapshot.is_ok());
        // Another customer's tombstone says nothing about these keys.
        assert!(KeyringSnapshot::new(data_keys, vec![(customer(2), tombstone(9))]).is_ok());
    }

    #[test]
    fn snapshot_round_trip_preserves_tombstones() {
        let mut keyring = Keyring::new(master("kek-1", 1));
        // 1: live only. 2: shredded through v2, back with v3. 3: shredded before any key.
        // 4: shredded through v1, not back.
        keyring.ensure_data_key(customer(1)).unwrap();
        keyring.rotate_data_key(customer(2)).unwrap();
        keyring.rotate_data_key(customer(2)).unwrap();
        keyring.shred(customer(2));
        let v3 = keyring.ensure_data_key(customer(2)).unwrap();
        let key = *keyring.data_key(customer(2), v3).unwrap().as_bytes();
        keyring.shred(customer(3));
        keyring.ensure_data_key(customer(4)).unwrap();
        keyring.shred(customer(4));

        let json = serde_json::to_string(&keyring.snapshot()).unwrap();
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(
            value["shredded"],
            serde_json::json!([
                {"customer": customer(2).to_string(), "through": 2},
                {"customer": customer(3).to_string(), "through": 0},
                {"customer": customer(4).to_string(), "through": 1},
            ])
        );
        let snapshot: KeyringSnapshot = serde_json::from_str(&json).unwrap();
        assert_eq!(snapshot, keyring.snapshot());
        let mut restored = Keyring::restore(master("kek-1", 1), [], snapshot).unwrap();

        assert_eq!(restored.shredded_through(customer(1)), None);
        let through = |n| Some(Tombstone::new(KeyVersion::new(n).ok()));
        assert_eq!(restored.shredded_through(customer(2)), through(2));
        assert_eq!(restored.shredded_through(customer(3)), through(0));
        assert_eq!(restored.shredded_through(customer(4)), through(1));
        assert!(!restored.is_shredded(customer(2)));
        assert!(restored.is_shredded(customer(3)) && restored.is_shredded(customer(4)));
        assert_eq!(restored.data_key(customer(2), v3).unwrap().as_bytes(), &key);
        assert!(matches!(
            restored.data_key(customer(2), KeyVersion::new(2).unwrap()),
            Err(LogsError::Open(OpenError::Shredded))
        ));
        assert_eq!(
            restored.ensure_data_key(customer(3)).unwrap(),
            KeyVersion::FIRST
        );
        assert_eq!(restored.ensure_data_key(customer(4)).unwrap().get(), 2);
    }

    // Stores read keys in the table's own order: the snapshot puts them in order, and still
    // finds a duplicate or a key under its tombstone wherever it sits.
    #[test]
    fn parts_in_any_order_make_the_same_snapshot() {
        let mut keyring = Keyring::new(master("kek-1", 1));
        for n in 1..=5 {
            keyring.rotate_data_key(customer(n)).unwrap();
            keyring.rotate_data_key(customer(n)).unwrap();
        }
        keyring.shred(customer(6));
        keyring.shred(customer(7));
        let sorted = keyring.snapshot();
        let mut keys = sorted.data_keys().to_vec();
        let mut shredded = sorted.shredded().to_vec();
        keys.reverse();
        shredded.reverse();
        assert_eq!(
            KeyringSnapshot::new(keys.clone(), shredded.clone()).unwrap(),
            sorted
        );
        let mut twice = keys.clone();
        twice.push(keys[3].clone());
        assert!(matches!(
            KeyringSnapshot::new(twice, shredded.clone()),
            Err(LogsError::Key(KeyError::InvalidSnapshot { .. }))
        ));
        let covered = (keys[4].customer(), Tombstone::new(Some(keys[4].version())));
        shredded.insert(0, covered);
        assert!(matches!(
            KeyringSnapshot::new(keys, shredded),
            Err(LogsError::Key(KeyError::InvalidSnapshot { .. }))
        ));
    }
}
