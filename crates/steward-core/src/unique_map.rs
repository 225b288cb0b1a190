//! A map that refuses repeated keys when deserialized.

use std::{collections::BTreeMap, fmt, marker::PhantomData};

use serde::{
    Deserialize, Deserializer, Serialize, Serializer,
    de::{self, MapAccess, Visitor},
};

/// A map read from a configuration file that refuses a repeated key.
///
/// TOML parsers refuse repeated keys themselves; JSON parsers keep the last value, which would
/// silently drop what the first entry said (a purpose list, a retention minimum). Policy and
/// schedule files deserialize their per-category maps through this type.
///
/// ```
/// use std::collections::BTreeMap;
/// use steward_core::UniqueMap;
///
/// let map: UniqueMap<String, u32> = serde_json::from_str(r#"{"a": 1, "b": 2}"#)?;
/// assert_eq!(map.as_map().len(), 2);
/// let repeated = serde_json::from_str::<UniqueMap<String, u32>>(r#"{"a": 1, "a": 2}"#);
/// assert!(repeated.unwrap_err().to_string().contains("duplicate key `a`"));
/// # let _: BTreeMap<String, u32> = map.into_map();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// **This is NOT part of steward-core's public API.** It is public only so that the other
/// Steward crates can share it; it may change or go away in any release.
#[doc(hidden)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UniqueMap<K, V>(BTreeMap<K, V>);

impl<K, V> UniqueMap<K, V> {
    /// The entries, by key.
    #[must_use]
    pub const fn as_map(&self) -> &BTreeMap<K, V> {
        &self.0
    }

    /// The entries, by key, owned.
    #[must_use]
    pub fn into_map(self) -> BTreeMap<K, V> {
        self.0
    }
}

impl<K, V> From<BTreeMap<K, V>> for UniqueMap<K, V> {
    /// A `BTreeMap`'s keys are unique by construction.
    fn from(map: BTreeMap<K, V>) -> Self {
        Self(map)
    }
}

impl<K: Serialize, V: Serialize> Serialize for UniqueMap<K, V> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<K, V> Default for UniqueMap<K, V> {
    fn default() -> Self {
        Self(BTreeMap::new())
    }
}

impl<'de, K, V> Deserialize<'de> for UniqueMap<K, V>
where
    K: Deserialize<'de> + Ord + fmt::Display,
    V: Deserialize<'de>,
{
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct UniqueVisitor<K, V>(PhantomData<(K, V)>);

        impl<'de, K, V> Visitor<'de> for UniqueVisitor<K, V>
        where
            K: Deserialize<'de> + Ord + fmt::Display,
            V: Deserialize<'de>,
        {
            type Value = UniqueMap<K, V>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map without repeated keys")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
                let mut map = BTreeMap::new();
                while let Some((key, value)) = access.next_entry::<K, V>()? {
                    if map.contains_key(&key) {
                        return Err(de::Error::custom(format!("duplicate key `{key}`")));
                    }
                    map.insert(key, value);
                }
                Ok(UniqueMap(map))
            }
        }

        deserializer.deserialize_map(UniqueVisitor(PhantomData))
    }
}
