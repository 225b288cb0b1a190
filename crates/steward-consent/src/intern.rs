//! Small tables of distinct values referred to by index, so that a stored change holds a few
//! bytes instead of a string of its own.

use std::{collections::HashMap, hash::Hash};

use crate::ConsentError;

/// Heap bytes of a std `HashMap` (hashbrown) with this capacity and slot size: one slot and
/// one control byte per bucket, plus a group of trailing control bytes.
pub(crate) fn hash_table_bytes(capacity: usize, slot: usize) -> usize {
    if capacity == 0 {
        return 0;
    }
    // hashbrown keeps buckets a power of two, filled to at most 7/8 (all but one below 8).
    let buckets = if capacity < 8 {
        capacity.saturating_add(1).next_power_of_two()
    } else {
        (capacity.saturating_mul(8) / 7).next_power_of_two()
    };
    buckets
        .saturating_mul(slot.saturating_add(1))
        .saturating_add(16)
}

/// A table of distinct values, each stored once and referred to by a small index.
#[derive(Debug, Clone)]
pub(crate) struct Interner<T> {
    pub(crate) values: Vec<T>,
    index: HashMap<T, u32>,
}

impl<T> Default for Interner<T> {
    fn default() -> Self {
        Self {
            values: Vec::new(),
            index: HashMap::new(),
        }
    }
}

/// Where a value is or will be in an [`Interner`], found before anything changes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Slot {
    pub(crate) index: u32,
    is_new: bool,
}

impl<T: Clone + Eq + Hash> Interner<T> {
    /// A table holding `value` alone, at index 0.
    pub(crate) fn single(value: T) -> Self {
        let mut index = HashMap::with_capacity(1);
        index.insert(value.clone(), 0);
        Self {
            values: vec![value],
            index,
        }
    }

    /// Finds `value`, or the index it would get, without changing the table.
    pub(crate) fn prepare(
        &self,
        value: &T,
        limit: usize,
        what: &'static str,
    ) -> Result<Slot, ConsentError> {
        if let Some(&index) = self.index.get(value) {
            return Ok(Slot {
                index,
                is_new: false,
            });
        }
        let full = || ConsentError::TableFull {
            what,
            limit: limit as u64,
        };
        if self.values.len() >= limit {
            return Err(full());
        }
        let index = u32::try_from(self.values.len()).map_err(|_| full())?;
        Ok(Slot {
            index,
            is_new: true,
        })
    }

    /// The index of `value`, if the table holds it.
    pub(crate) fn get(&self, value: &T) -> Option<u32> {
        self.index.get(value).copied()
    }

    /// Adds `value` if [`prepare`](Self::prepare) found it new.
    pub(crate) fn commit(&mut self, slot: Slot, value: &T) {
        if slot.is_new {
            self.values.push(value.clone());
            self.index.insert(value.clone(), slot.index);
        }
    }

    /// Finds or adds `value` (import only: there the ledger is discarded on any error).
    pub(crate) fn intern(
        &mut self,
        value: &T,
        limit: usize,
        what: &'static str,
    ) -> Result<u32, ConsentError> {
        let slot = self.prepare(value, limit, what)?;
        self.commit(slot, value);
        Ok(slot.index)
    }

    pub(crate) fn approximate_heap_bytes(&self, text_len: impl Fn(&T) -> usize) -> usize {
        // Each value is held twice (list and index), each with its own text buffer.
        let texts = self
            .values
            .iter()
            .map(|value| text_len(value).saturating_mul(2))
            .fold(0_usize, usize::saturating_add);
        self.values
            .capacity()
            .saturating_mul(size_of::<T>())
            .saturating_add(hash_table_bytes(
                self.index.capacity(),
                size_of::<(T, u32)>(),
            ))
            .saturating_add(texts)
    }
}
