//! The CiphertextBlob (spec §5): `key_version_id (36) || iv (12) || ciphertext || tag (16)`,
//! carried as standard, padded Base64.
//!
//! Decoding is strict and says nothing about why a blob was refused: every malformed blob is
//! [`InvalidBlob`], reported as `InvalidParameter CiphertextBlob`.

use core::fmt;

use base64ct::{Base64, Encoding};

use crate::KeyVersionId;
use crate::ids::UUID_TEXT_LEN;

/// Length of the key version ID prefix.
pub const VERSION_ID_LEN: usize = UUID_TEXT_LEN;
/// Length of the AES-GCM IV.
pub const IV_LEN: usize = 12;
/// Length of the AES-GCM tag.
pub const TAG_LEN: usize = 16;
/// Bytes a blob adds to its sealed text.
pub const OVERHEAD: usize = VERSION_ID_LEN + IV_LEN + TAG_LEN;
/// The shortest sealed text.
pub const MIN_SEALED_LEN: usize = 1;
/// The longest sealed text: Encrypt's 6144-byte limit.
pub const MAX_SEALED_LEN: usize = 6144;
/// The shortest blob, in bytes.
pub const MIN_BLOB_LEN: usize = OVERHEAD + MIN_SEALED_LEN;
/// The longest blob, in bytes.
pub const MAX_BLOB_LEN: usize = OVERHEAD + MAX_SEALED_LEN;
/// The longest blob, in Base64 characters.
pub const MAX_BLOB_BASE64_LEN: usize = base64_len(MAX_BLOB_LEN);

/// The length of the padded Base64 text of `n` bytes.
pub const fn base64_len(n: usize) -> usize {
    n.div_ceil(3) * 4
}

/// A blob that is not well-formed. Reported as `InvalidParameter CiphertextBlob`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct InvalidBlob;

impl fmt::Display for InvalidBlob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid ciphertext blob")
    }
}

impl core::error::Error for InvalidBlob {}

/// A well-formed blob, borrowed: the prefix is a lowercase UUID and the length is in range.
/// Whether it opens is for the key provider to find out.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Blob<'b> {
    version: KeyVersionId,
    bytes: &'b [u8],
}

impl<'b> Blob<'b> {
    /// Checks the layout of raw blob bytes.
    ///
    /// # Errors
    /// [`InvalidBlob`] when the length is outside `65..=6208` or the prefix is not a lowercase
    /// UUID.
    pub fn from_bytes(bytes: &'b [u8]) -> Result<Self, InvalidBlob> {
        if !(MIN_BLOB_LEN..=MAX_BLOB_LEN).contains(&bytes.len()) {
            return Err(InvalidBlob);
        }
        let version = KeyVersionId::parse(&bytes[..VERSION_ID_LEN]).ok_or(InvalidBlob)?;
        Ok(Self { version, bytes })
    }

    /// Decodes strict, canonical, padded standard Base64 into `buf` and checks the layout.
    /// `buf` needs [`decoded_len_bound`] bytes for `text`.
    ///
    /// # Errors
    /// [`InvalidBlob`] for text that is too short or too long, not canonical Base64, or does not
    /// decode to a well-formed blob; also when `buf` is too short.
    pub fn decode_base64(text: &str, buf: &'b mut [u8]) -> Result<Self, InvalidBlob> {
        if !(base64_len(MIN_BLOB_LEN)..=MAX_BLOB_BASE64_LEN).contains(&text.len()) {
            return Err(InvalidBlob);
        }
        let bytes = Base64::decode(text, buf).map_err(|_| InvalidBlob)?;
        Self::from_bytes(bytes)
    }

    /// The key version that sealed this blob.
    pub fn version(&self) -> KeyVersionId {
        self.version
    }

    /// The IV.
    pub fn iv(&self) -> &'b [u8; IV_LEN] {
        self.bytes[VERSION_ID_LEN..VERSION_ID_LEN + IV_LEN]
            .try_into()
            .unwrap_or(&[0; IV_LEN])
    }

    /// The ciphertext, as long as the sealed text.
    pub fn ciphertext(&self) -> &'b [u8] {
        &self.bytes[VERSION_ID_LEN + IV_LEN..self.bytes.len() - TAG_LEN]
    }

    /// The tag.
    pub fn tag(&self) -> &'b [u8; TAG_LEN] {
        self.bytes[self.bytes.len() - TAG_LEN..]
            .try_into()
            .unwrap_or(&[0; TAG_LEN])
    }

    /// The whole blob.
    pub fn as_bytes(&self) -> &'b [u8] {
        self.bytes
    }

    /// The length of the sealed text.
    pub fn sealed_len(&self) -> usize {
        self.bytes.len() - OVERHEAD
    }
}

impl fmt::Debug for Blob<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Blob")
            .field("version", &self.version)
            .field("sealed_len", &self.sealed_len())
            .finish()
    }
}

/// An upper bound on the bytes `text` decodes to, never over [`MAX_BLOB_LEN`] + 3 for text
/// [`Blob::decode_base64`] accepts.
pub const fn decoded_len_bound(text_len: usize) -> usize {
    text_len / 4 * 3 + 3
}

/// Writes a blob's layout into `out` (`OVERHEAD + ciphertext.len()` bytes) and returns the
/// blob's length.
///
/// # Errors
/// [`InvalidBlob`] when `out` is too short or the ciphertext length is out of range.
pub fn encode_into(
    version: &KeyVersionId,
    iv: &[u8; IV_LEN],
    ciphertext: &[u8],
    tag: &[u8; TAG_LEN],
    out: &mut [u8],
) -> Result<usize, InvalidBlob> {
    if !(MIN_SEALED_LEN..=MAX_SEALED_LEN).contains(&ciphertext.len()) {
        return Err(InvalidBlob);
    }
    let len = OVERHEAD + ciphertext.len();
    let out = out.get_mut(..len).ok_or(InvalidBlob)?;
    let (v, rest) = out.split_at_mut(VERSION_ID_LEN);
    let (i, rest) = rest.split_at_mut(IV_LEN);
    let (c, t) = rest.split_at_mut(ciphertext.len());
    v.copy_from_slice(version.as_bytes());
    i.copy_from_slice(iv);
    c.copy_from_slice(ciphertext);
    t.copy_from_slice(tag);
    Ok(len)
}

/// An owned blob (with `alloc`).
#[cfg(feature = "alloc")]
#[derive(Clone, PartialEq, Eq)]
pub struct OwnedBlob {
    version: KeyVersionId,
    bytes: alloc::vec::Vec<u8>,
}

#[cfg(feature = "alloc")]
impl OwnedBlob {
    /// Builds a blob from its parts.
    ///
    /// # Errors
    /// [`InvalidBlob`] when the ciphertext length is out of range.
    pub fn new(
        version: &KeyVersionId,
        iv: &[u8; IV_LEN],
        ciphertext: &[u8],
        tag: &[u8; TAG_LEN],
    ) -> Result<Self, InvalidBlob> {
        let mut bytes = alloc::vec![0u8; OVERHEAD + ciphertext.len()];
        encode_into(version, iv, ciphertext, tag, &mut bytes)?;
        Ok(Self {
            version: *version,
            bytes,
        })
    }

    /// Decodes and checks Base64 text, as [`Blob::decode_base64`].
    ///
    /// # Errors
    /// [`InvalidBlob`].
    pub fn from_base64(text: &str) -> Result<Self, InvalidBlob> {
        let mut buf = alloc::vec![0u8; decoded_len_bound(text.len())];
        let blob = Blob::decode_base64(text, &mut buf)?;
        let (version, len) = (blob.version(), blob.as_bytes().len());
        buf.truncate(len);
        Ok(Self {
            version,
            bytes: buf,
        })
    }

    /// Checks raw bytes, as [`Blob::from_bytes`].
    ///
    /// # Errors
    /// [`InvalidBlob`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, InvalidBlob> {
        Blob::from_bytes(bytes).map(|b| Self {
            version: b.version(),
            bytes: b.as_bytes().to_vec(),
        })
    }

    /// The borrowed view.
    pub fn as_blob(&self) -> Blob<'_> {
        // Every constructor checked the layout.
        Blob {
            version: self.version,
            bytes: &self.bytes,
        }
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The CiphertextBlob text: standard Base64 with padding.
    pub fn to_base64(&self) -> alloc::string::String {
        Base64::encode_string(&self.bytes)
    }
}
