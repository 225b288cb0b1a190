//! Refusing trivially weak master and audit keys: placeholders such as all zeros, a repeated
//! byte, a repeated short pattern or a counting sequence, which a configuration template or a
//! careless script leaves behind and an attacker tries first.
//!
//! The rule, for key bytes `b[0..n]` (n >= 32):
//!
//! 1. fewer than [`MIN_DISTINCT_BYTES`] (16) distinct byte values: this covers all zeros, one
//!    repeated byte and any pattern built from a few bytes;
//! 2. periodic: `b[i] == b[i + p]` for every `i`, for some period `p <= n / 2` (a pattern of
//!    up to half the key, repeated);
//! 3. a counting sequence: the same difference (mod 256) between every two neighbouring bytes,
//!    such as `00 01 02 .. 1f` or `ff fe fd ..`.
//!
//! A key drawn from a random source trips none of them in practice: 32 random bytes hold
//! about 30 distinct values, and rules 2 and 3 each match with a probability below 2^-128.

/// Fewest distinct byte values a key may hold.
pub(crate) const MIN_DISTINCT_BYTES: usize = 16;

/// Which rule `bytes` break, if any, as a message naming it.
pub(crate) fn weakness(bytes: &[u8]) -> Option<&'static str> {
    let mut seen = [false; 256];
    for byte in bytes {
        if let Some(slot) = seen.get_mut(usize::from(*byte)) {
            *slot = true;
        }
    }
    if seen.iter().filter(|seen| **seen).count() < MIN_DISTINCT_BYTES {
        return Some(
            "fewer than 16 distinct byte values (all zeros, a repeated byte or a placeholder)",
        );
    }
    let half = bytes.len() / 2;
    let periodic = (1..=half).any(|period| {
        bytes
            .iter()
            .zip(bytes.iter().skip(period))
            .all(|(a, b)| a == b)
    });
    if periodic {
        return Some("a short pattern repeated");
    }
    let mut steps = bytes.windows(2).map(|pair| match pair {
        [a, b] => b.wrapping_sub(*a),
        _ => 0,
    });
    if let Some(first) = steps.next()
        && steps.all(|step| step == first)
    {
        return Some("a counting sequence (every byte the one before it plus a constant)");
    }
    None
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn placeholders_are_weak() {
        assert!(weakness(&[0; 32]).is_some());
        assert!(weakness(&[0x42; 32]).is_some());
        assert!(weakness(&[0xff; 64]).is_some());
        let two: Vec<u8> = (0..32)
            .map(|i| if i % 2 == 0 { 0xde } else { 0xad })
            .collect();
        assert!(weakness(&two).is_some());
        // Sixteen distinct bytes, repeated: passes rule 1, fails rule 2.
        let sixteen: Vec<u8> = (0..32_u8).map(|i| (i % 16).wrapping_mul(17)).collect();
        assert_eq!(weakness(&sixteen), Some("a short pattern repeated"));
        let counting: Vec<u8> = (0..32).collect();
        assert!(weakness(&counting).unwrap().contains("counting"));
        let down: Vec<u8> = (0..32_u8).map(|i| 0xff - i.wrapping_mul(3)).collect();
        assert!(weakness(&down).unwrap().contains("counting"));
    }

    #[test]
    fn a_fixed_random_looking_key_is_not_weak() {
        assert_eq!(weakness(b"steward test key 42, not secret!"), None);
        assert_eq!(
            weakness(
                &crate::hex::decode::<32>(
                    "3f9c1be07a5d24e86b0f93c7512ad4e8907c6b3e15f2a8d94c0b7e61a3d5f208",
                    "key",
                )
                .unwrap()
            ),
            None
        );
    }

    proptest! {
        /// Random keys pass (rules 2 and 3 practically never match; rule 1 would need 17
        /// repeats among 32 bytes).
        #[test]
        fn random_keys_are_not_weak(bytes in any::<[u8; 32]>()) {
            prop_assume!(bytes.iter().collect::<std::collections::BTreeSet<_>>().len() >= 16);
            prop_assert_eq!(weakness(&bytes), None);
        }

        /// Any key made of one pattern of up to 16 bytes, repeated, is weak.
        #[test]
        fn repeated_patterns_are_weak(pattern in prop::collection::vec(any::<u8>(), 1..=16)) {
            let key: Vec<u8> = pattern.iter().copied().cycle().take(32).collect();
            prop_assert!(weakness(&key).is_some());
        }
    }
}
