//! Lowercase hex, the one codec of the workspace: for key files, the serialized forms of
//! wrapped keys, hashes and signatures, and public values anyone prints.
//!
//! ```
//! use steward_logs::hex;
//!
//! assert_eq!(hex::encode(&[0x00, 0x7f, 0xff]), "007fff");
//! assert_eq!(hex::decode::<3>("007FFF", "example")?, [0x00, 0x7f, 0xff]);
//! assert!(hex::decode::<3>("007ff", "example").is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Master keys and audit keys pass through here as well as public values, so neither direction
//! branches on, or indexes a table by, the value of a digit: each nibble is mapped with
//! arithmetic masks (the technique of the `base16ct` crate), and decoding looks at its
//! accumulated validity flag only once, after the last digit. Only the length, which is
//! public, ends decoding early. The arithmetic is wrapping on purpose: overflow checks would be
//! branches, and every value stays within a few hundred of zero anyway.

use zeroize::Zeroize;

use crate::{KeyError, LogsError};

/// Lowercase hex of `bytes`.
///
/// For secret bytes, hold the result in a `Zeroizing<String>` (as
/// [`KeyMaterial::expose_hex`](crate::KeyMaterial::expose_hex) does).
#[must_use]
pub fn encode(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len().saturating_mul(2));
    for &byte in bytes {
        // Every digit is ASCII, so `push` always takes its one-byte path, whatever the digit.
        text.push(char::from(encode_nibble(byte >> 4)));
        text.push(char::from(encode_nibble(byte & 0x0f)));
    }
    text
}

/// Exactly `N` bytes from hex text (either case, no surrounding whitespace), in time that
/// depends only on the text's length. `field` names the value in the error.
///
/// For secret bytes, hold the result in a `Zeroizing` (as [`KeyMaterial`](crate::KeyMaterial)
/// does); on failure, what was decoded is wiped before returning.
///
/// # Errors
///
/// [`KeyError::InvalidHex`] unless the text is exactly `2 * N` hex digits.
pub fn decode<const N: usize>(text: &str, field: &'static str) -> Result<[u8; N], LogsError> {
    decode_digits(text.as_bytes())
        .map_err(|reason| LogsError::Key(KeyError::InvalidHex { field, reason }))
}

/// [`decode`] over raw bytes, so the tests can feed it what no `&str` holds.
fn decode_digits<const N: usize>(digits: &[u8]) -> Result<[u8; N], &'static str> {
    // The length is public (fixed by `N`), so it may end decoding early.
    if digits.len() != N.saturating_mul(2) {
        return Err("wrong length");
    }
    let (pairs, _) = digits.as_chunks::<2>();
    let mut out = [0u8; N];
    // Negative once any digit was invalid; read only after the last digit.
    let mut flags: i16 = 0;
    for (slot, &[high, low]) in out.iter_mut().zip(pairs) {
        let high = decode_nibble(high);
        let low = decode_nibble(low);
        flags |= high | low;
        let [byte, _] = ((high << 4) | low).to_le_bytes();
        *slot = byte;
    }
    // black_box keeps the optimizer from turning the accumulated flag back into an early exit.
    if std::hint::black_box(flags) < 0 {
        // What was decoded may be most of a key.
        out.zeroize();
        return Err("not a hex digit");
    }
    Ok(out)
}

/// The lowercase digit of `nibble` (below 16).
fn encode_nibble(nibble: u8) -> u8 {
    // `9 - nibble` wraps to 0xfa..=0xff exactly when the nibble is above 9: its top bit, spread
    // over the byte, selects the jump from after `9` to `a`.
    let above_nine = 0u8.wrapping_sub(9u8.wrapping_sub(nibble) >> 7);
    b'0'.wrapping_add(nibble)
        .wrapping_add(above_nine & (b'a' - b'0' - 10))
}

/// The value (0 to 15) of the hex digit `digit`, either case, or -1 if it is not one.
fn decode_nibble(digit: u8) -> i16 {
    let c = i16::from(digit);
    // Start from -1 and add `value + 1` for the one range `c` lies in, if any.
    let decimal = in_range(c, b'0', b'9') & c.wrapping_sub(i16::from(b'0') - 1);
    let lower = in_range(c, b'a', b'f') & c.wrapping_sub(i16::from(b'a') - 11);
    let upper = in_range(c, b'A', b'F') & c.wrapping_sub(i16::from(b'A') - 11);
    (-1i16)
        .wrapping_add(decimal)
        .wrapping_add(lower)
        .wrapping_add(upper)
}

/// -1 (every bit set) if `low <= c <= high`, else 0, for `c` in 0..=255.
fn in_range(c: i16, low: u8, high: u8) -> i16 {
    // `low - 1 - c` and `c - (high + 1)` are both negative (both in -256..0) exactly when `c` is
    // in range; their AND then keeps the high byte set, and the arithmetic shift spreads it.
    let below = (i16::from(low) - 1).wrapping_sub(c);
    let above = c.wrapping_sub(i16::from(high) + 1);
    (below & above) >> 8
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// The decoder this module had before it was made constant-time.
    fn reference_nibble(digit: u8) -> Option<u8> {
        match digit {
            b'0'..=b'9' => Some(digit - b'0'),
            b'a'..=b'f' => Some(digit - b'a' + 10),
            b'A'..=b'F' => Some(digit - b'A' + 10),
            _ => None,
        }
    }

    #[test]
    fn round_trips_and_rejects_bad_input() {
        let bytes = [0x00, 0x7f, 0xab, 0xff];
        assert_eq!(encode(&bytes), "007fabff");
        assert_eq!(decode::<4>("007FABff", "t").unwrap(), bytes);
        assert!(matches!(
            decode::<4>("007fab", "t"),
            Err(LogsError::Key(KeyError::InvalidHex {
                field: "t",
                reason: "wrong length"
            }))
        ));
        assert!(matches!(
            decode::<4>("007fabfg", "t"),
            Err(LogsError::Key(KeyError::InvalidHex {
                field: "t",
                reason: "not a hex digit"
            }))
        ));
        assert!(decode::<2>("é1", "t").is_err());
        assert_eq!(decode::<0>("", "t").unwrap(), [0u8; 0]);
    }

    #[test]
    fn every_byte_value_decodes_as_the_reference_does() {
        for digit in 0..=u8::MAX {
            let nibble = decode_nibble(digit);
            match reference_nibble(digit) {
                Some(value) => assert_eq!(nibble, i16::from(value), "digit {digit:#04x}"),
                None => assert_eq!(nibble, -1, "digit {digit:#04x}"),
            }
        }
    }

    #[test]
    fn every_pair_of_bytes_decodes_as_the_reference_does() {
        for high in 0..=u8::MAX {
            for low in 0..=u8::MAX {
                let pair = [high, low];
                let expected = reference_nibble(high)
                    .zip(reference_nibble(low))
                    .map(|(h, l)| [(h << 4) | l]);
                let decoded = decode_digits::<1>(&pair);
                assert_eq!(decoded.ok(), expected, "pair {pair:02x?}");
                if let Err(reason) = decoded {
                    assert_eq!(reason, "not a hex digit");
                }
                // The same through the `&str` entry point, for the pairs that are text.
                if let Ok(text) = std::str::from_utf8(&pair) {
                    assert_eq!(decode::<1>(text, "t").ok(), expected, "pair {pair:02x?}");
                }
            }
        }
    }

    #[test]
    fn every_byte_value_encodes_as_format_does() {
        for byte in 0..=u8::MAX {
            assert_eq!(encode(&[byte]), format!("{byte:02x}"));
        }
    }

    #[test]
    fn a_bad_digit_at_any_position_is_refused() {
        let good = encode(&[0x5a; 32]);
        for position in 0..good.len() {
            let mut bad = good.clone().into_bytes();
            bad[position] = b'g';
            assert_eq!(
                decode_digits::<32>(&bad),
                Err("not a hex digit"),
                "position {position}"
            );
        }
    }

    proptest! {
        #[test]
        fn encode_then_decode_is_the_identity(bytes in any::<[u8; 32]>()) {
            let text = encode(&bytes);
            prop_assert_eq!(text.len(), 64);
            prop_assert!(text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
            prop_assert_eq!(decode::<32>(&text, "t").unwrap(), bytes);
            prop_assert_eq!(decode::<32>(&text.to_uppercase(), "t").unwrap(), bytes);
        }
    }
}
