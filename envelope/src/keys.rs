//! The per-file key and the header tag (HKDF-SHA256), and the segment cipher (AES-256-GCM with
//! STREAM nonces).

use core::fmt;

use aes_gcm::aead::inout::InOutBuf;
use aes_gcm::{AeadInOut, Aes256Gcm, KeyInit};
use hkdf::Hkdf;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::{DataKey, EnvelopeError, HEADER_TAG_LEN, SALT_LEN, SEGMENT_TAG_LEN};

/// HKDF info label of the file key; the header hash follows it.
const KEY_INFO: &[u8] = b"kms-core envelope v1 segment key";
/// HKDF info label of the header tag; the header hash follows it.
const TAG_INFO: &[u8] = b"kms-core envelope v1 header tag";

/// The key of one file, derived from the data key, the file's salt and its header, with the
/// segment size the header gives. Seals and opens segments; its AES key schedule is zeroized
/// on drop and never printed.
pub struct FileKey {
    cipher: Aes256Gcm,
    segment_size: usize,
}

impl fmt::Debug for FileKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileKey")
            .field("segment_size", &self.segment_size)
            .field("key", &"[REDACTED]")
            .finish()
    }
}

/// Derives the file key and the header tag from the data key, the salt and the header bytes
/// that precede the tag.
pub(crate) fn derive(
    data_key: &DataKey,
    salt: &[u8; SALT_LEN],
    header_body: &[u8],
    segment_size: usize,
) -> Result<(FileKey, [u8; HEADER_TAG_LEN]), EnvelopeError> {
    let hash = Sha256::digest(header_body);
    let prk = Hkdf::<Sha256>::new(Some(salt), data_key.expose());
    let mut key = Zeroizing::new([0u8; 32]);
    prk.expand_multi_info(&[KEY_INFO, &hash], &mut key[..])
        .map_err(|_| EnvelopeError::MalformedHeader)?;
    let mut tag = [0u8; HEADER_TAG_LEN];
    prk.expand_multi_info(&[TAG_INFO, &hash], &mut tag)
        .map_err(|_| EnvelopeError::MalformedHeader)?;
    let cipher = Aes256Gcm::new((&*key).into());
    Ok((
        FileKey {
            cipher,
            segment_size,
        },
        tag,
    ))
}

/// The nonce of segment `index`: an 11-byte big-endian counter and the final-segment flag.
fn nonce(index: u64, last: bool) -> [u8; 12] {
    let mut nonce = [0u8; 12];
    nonce[3..11].copy_from_slice(&index.to_be_bytes());
    nonce[11] = u8::from(last);
    nonce
}

impl FileKey {
    /// The segment size this key seals and opens, in bytes.
    pub fn segment_size(&self) -> usize {
        self.segment_size
    }

    /// Seals `plaintext` as segment `index` into `out`, which must be exactly as long as
    /// `plaintext`, and returns the tag. `plaintext` may be `out` itself (`None`).
    pub(crate) fn seal(
        &self,
        index: u64,
        last: bool,
        plaintext: Option<&[u8]>,
        out: &mut [u8],
    ) -> Result<[u8; SEGMENT_TAG_LEN], EnvelopeError> {
        let nonce = nonce(index, last);
        let buffer = match plaintext {
            Some(p) => InOutBuf::new(p, out).map_err(|_| EnvelopeError::TooLong)?,
            None => InOutBuf::from(out),
        };
        let tag = self
            .cipher
            .encrypt_inout_detached((&nonce).into(), &[], buffer)
            .map_err(|_| EnvelopeError::TooLong)?;
        Ok(tag.into())
    }

    /// Opens segment `index` (its ciphertext, or `out` itself when `None`) into `out`, checking
    /// `tag`. On failure `out` is left as it was: no plaintext reaches it.
    pub(crate) fn open(
        &self,
        index: u64,
        last: bool,
        ciphertext: Option<&[u8]>,
        out: &mut [u8],
        tag: &[u8; SEGMENT_TAG_LEN],
    ) -> Result<(), EnvelopeError> {
        let failed = EnvelopeError::SegmentAuthenticationFailed { index };
        let nonce = nonce(index, last);
        let buffer = match ciphertext {
            Some(c) => InOutBuf::new(c, out).map_err(|_| failed)?,
            None => InOutBuf::from(out),
        };
        self.cipher
            .decrypt_inout_detached((&nonce).into(), &[], buffer, tag.into())
            .map_err(|_| failed)
    }
}

#[cfg(test)]
mod tests {
    use super::nonce;

    #[test]
    fn nonce_layout() {
        assert_eq!(nonce(0, false), [0; 12]);
        assert_eq!(nonce(0, true), [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        assert_eq!(
            nonce(0x0102_0304_0506_0708, false),
            [0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0]
        );
    }
}
