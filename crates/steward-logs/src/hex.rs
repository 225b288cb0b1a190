//! Lowercase hex for the serialized forms of wrapped keys, hashes and signatures.

use crate::LogsError;

const DIGITS: &[u8; 16] = b"0123456789abcdef";

/// Lowercase hex of `bytes`.
pub(crate) fn encode(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len().saturating_mul(2));
    for byte in bytes {
        for nibble in [byte >> 4, byte & 0x0f] {
            // INVARIANT: a nibble is below 16, the length of DIGITS.
            let digit = DIGITS.get(usize::from(nibble)).copied().unwrap_or(b'0');
            text.push(char::from(digit));
        }
    }
    text
}

/// Exactly `N` bytes from hex text (either case).
pub(crate) fn decode<const N: usize>(
    text: &str,
    field: &'static str,
) -> Result<[u8; N], LogsError> {
    let invalid = |reason| LogsError::InvalidHex { field, reason };
    if text.len() != N.saturating_mul(2) {
        return Err(invalid("wrong length"));
    }
    let mut out = [0u8; N];
    for (slot, pair) in out.iter_mut().zip(text.as_bytes().chunks_exact(2)) {
        let mut value = 0u8;
        for &digit in pair {
            let nibble = match digit {
                b'0'..=b'9' => digit - b'0',
                b'a'..=b'f' => digit - b'a' + 10,
                b'A'..=b'F' => digit - b'A' + 10,
                _ => return Err(invalid("not a hex digit")),
            };
            value = (value << 4) | nibble;
        }
        *slot = value;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_bad_input() {
        let bytes = [0x00, 0x7f, 0xab, 0xff];
        assert_eq!(encode(&bytes), "007fabff");
        assert_eq!(decode::<4>("007FABff", "t").unwrap(), bytes);
        assert!(decode::<4>("007fab", "t").is_err());
        assert!(decode::<4>("007fabfg", "t").is_err());
        assert!(decode::<2>("é1", "t").is_err());
    }
}
