//! The decrypted body of a record.

use std::fmt;

use zeroize::Zeroize;

use crate::RecordHeader;

/// The decrypted body of a record, with the header it authenticated. Zeroized on drop;
/// `Debug` shows only its length.
pub struct Plaintext {
    bytes: Vec<u8>,
    header: RecordHeader,
}

impl Plaintext {
    pub(crate) fn with_capacity(capacity: usize, header: RecordHeader) -> Self {
        Self {
            bytes: Vec::with_capacity(capacity),
            header,
        }
    }

    /// The record's header, authenticated by the decryption that produced this body: unlike
    /// [`SealedRecord::header`](crate::SealedRecord::header), its fields (the consent level at collection above all) are
    /// known to be the ones sealed.
    #[must_use]
    pub const fn header(&self) -> &RecordHeader {
        &self.header
    }

    pub(crate) fn buffer_mut(&mut self) -> &mut Vec<u8> {
        &mut self.bytes
    }

    /// The body.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The length of the body in bytes.
    #[must_use]
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether the body is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
}

impl Drop for Plaintext {
    fn drop(&mut self) {
        // The slice impls zeroize in bulk (a fill plus an optimization barrier); zeroize's
        // `Vec` impl would write byte by byte, which costs more than decrypting.
        self.bytes.as_mut_slice().zeroize();
        self.bytes.spare_capacity_mut().zeroize();
    }
}

impl fmt::Debug for Plaintext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Plaintext")
            .field("len", &self.bytes.len())
            .finish_non_exhaustive()
    }
}
