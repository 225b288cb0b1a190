//! Comparison without an early exit, for tags, commitments and anything else secret-adjacent.

/// Whether `a` and `b` are equal, in time that depends only on their lengths.
///
/// `black_box` keeps the optimizer from turning the fold into an early-exit loop.
pub(crate) fn bytes_equal(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let a = std::hint::black_box(a);
    let b = std::hint::black_box(b);
    let difference = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(difference) == 0
}

#[cfg(test)]
mod tests {
    use super::bytes_equal;

    #[test]
    fn equal_only_when_every_byte_and_the_length_match() {
        assert!(bytes_equal(b"abc", b"abc"));
        assert!(!bytes_equal(b"abc", b"abd"));
        assert!(!bytes_equal(b"abc", b"ab"));
        assert!(bytes_equal(b"", b""));
    }
}
