//! A fast hasher for the in-memory maps keyed by customer id.

use std::hash::{BuildHasherDefault, Hasher};

use crate::CustomerId;

/// A hash map keyed by customer id with [`IdHasher`]: what the consent ledger, the
/// relationship book and the hold register look customers up in on the `check()` hot path.
///
/// **This is NOT part of steward-core's public API.** It is public only so that the other
/// Steward crates can share it; it may change or go away in any release.
#[doc(hidden)]
pub type CustomerMap<V> = std::collections::HashMap<CustomerId, V, BuildHasherDefault<IdHasher>>;

/// A multiply-fold hasher (FxHash style, with a final avalanche) for UUID keys.
///
/// The standard SipHash costs about as much per lookup as a whole retention disposition, and
/// `check()` looks a customer up in several maps. Customer ids are UUIDs issued by the
/// service (v4, v7 or v5 over the service's own key), already spread over their bits and not
/// chosen by an adversary, so resistance to crafted collisions is not needed here. Do not use
/// it for keys an adversary chooses.
///
/// **This is NOT part of steward-core's public API.** It is public only so that the other
/// Steward crates can share it; it may change or go away in any release.
#[doc(hidden)]
#[derive(Debug, Default, Clone, Copy)]
pub struct IdHasher(u64);

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl IdHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for IdHasher {
    #[inline]
    fn finish(&self) -> u64 {
        // The multiply only carries bits upwards, and hashbrown picks buckets from the low
        // bits: ids that differ only in their last bytes (sequential ids) would all collide.
        // A final avalanche (MurmurHash3's fmix64) spreads every input bit over the output.
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
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

    #[inline]
    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }

    #[inline]
    fn write_u128(&mut self, n: u128) {
        let [low, high] = [n, n >> 64].map(|word| word as u64);
        self.add(low);
        self.add(high);
    }

    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }
}

#[cfg(test)]
mod tests {
    use std::hash::BuildHasher;

    use super::*;

    #[test]
    fn sequential_ids_spread_over_the_low_bits() {
        // Regression: without a final mix, ids differing only in their last bytes share all
        // low hash bits and pile into one bucket.
        let build = BuildHasherDefault::<IdHasher>::default();
        let buckets: std::collections::HashSet<u64> = (1..=1_000_u32)
            .map(|n| {
                let id: CustomerId = format!("0192f1f0-6b2a-7cc3-9a4e-{n:012x}").parse().unwrap();
                build.hash_one(id) & 0x3ff
            })
            .collect();
        assert!(
            buckets.len() > 500,
            "only {} of 1024 buckets used",
            buckets.len()
        );
    }

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
