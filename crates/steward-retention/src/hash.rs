//! A fast hasher for the in-memory maps keyed by customer id.

use std::hash::{BuildHasherDefault, Hasher};

/// The maps the sweep consults once per record, keyed by customer id.
pub(crate) type CustomerMap<V> =
    std::collections::HashMap<steward_core::CustomerId, V, BuildHasherDefault<IdHasher>>;

/// A multiply-fold hasher (FxHash style) for UUID keys.
///
/// The standard SipHash costs about as much per lookup as the whole disposition, and the
/// sweep looks up every record's customer. Customer ids are UUIDs issued by the service (v4,
/// v7 or v5 over the service's own key), already spread over their bits and not chosen by
/// an adversary, so resistance to crafted collisions is not needed here.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct IdHasher(u64);

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl IdHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0_u8; 8];
            word.iter_mut()
                .zip(chunk)
                .for_each(|(slot, byte)| *slot = *byte);
            self.add(u64::from_le_bytes(word));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }

    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }
}

#[cfg(test)]
mod tests {
    use std::hash::BuildHasher;

    use steward_core::CustomerId;

    use super::*;

    #[test]
    fn ids_differing_in_one_byte_hash_apart() {
        let build = BuildHasherDefault::<IdHasher>::default();
        let a: CustomerId = "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a10".parse().unwrap();
        let b: CustomerId = "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a11".parse().unwrap();
        let c: CustomerId = "0192f1f0-6b2a-7cc3-9a4f-2f1d5c3b8a10".parse().unwrap();
        let (ha, hb, hc) = (build.hash_one(a), build.hash_one(b), build.hash_one(c));
        assert!(ha != hb && ha != hc && hb != hc);
        assert_eq!(ha, build.hash_one(a));
    }
}
