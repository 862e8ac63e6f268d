//! The CiphertextBlob (spec §5): `key_version_id (36) || iv (12) || ciphertext || tag (16)`,
//! carried on the wire as standard, padded Base64.
//!
//! This module is the one owner of the layout: [`Blob`] reads it (strictly: every malformed
//! blob is [`InvalidBlob`], reported as `InvalidParameter CiphertextBlob`), [`BlobMut`] writes
//! it, splitting a buffer once into the version, the IV, the body and the tag.

use core::fmt;

use crate::KeyVersionId;
use crate::id::{UUID_TEXT_LEN, is_lowercase_uuid};

mod base64;

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

/// An upper bound on the bytes Base64 text of `text_len` characters decodes to.
pub const fn decoded_len_bound(text_len: usize) -> usize {
    text_len / 4 * 3 + 3
}

/// A 96-bit AES-GCM IV.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(align(4))]
pub struct Iv(pub [u8; IV_LEN]);

/// A 128-bit AES-GCM tag.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(align(8))]
pub struct Tag(pub [u8; TAG_LEN]);

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
    // Checked when made: the version ID is read from here when asked for (so a blob is one
    // slice wherever it is passed).
    bytes: &'b [u8],
}

impl<'b> Blob<'b> {
    /// Checks the layout of raw blob bytes.
    ///
    /// # Errors
    /// [`InvalidBlob`] when the length is outside `65..=6208` or the prefix is not a lowercase
    /// UUID.
    #[inline]
    pub fn from_bytes(bytes: &'b [u8]) -> Result<Self, InvalidBlob> {
        if !(MIN_BLOB_LEN..=MAX_BLOB_LEN).contains(&bytes.len()) {
            return Err(InvalidBlob);
        }
        if !is_lowercase_uuid(&bytes[..VERSION_ID_LEN]) {
            return Err(InvalidBlob);
        }
        Ok(Self { bytes })
    }

    /// Decodes strict, canonical, padded standard Base64 into `buf` and checks the layout.
    /// `buf` needs [`decoded_len_bound`] bytes for `text`.
    ///
    /// # Errors
    /// [`InvalidBlob`] for text that is too short or too long, not canonical Base64, or does not
    /// decode to a well-formed blob; also when `buf` is too short.
    #[inline]
    pub fn decode_base64(text: &str, buf: &'b mut [u8]) -> Result<Self, InvalidBlob> {
        if !(base64_len(MIN_BLOB_LEN)..=MAX_BLOB_BASE64_LEN).contains(&text.len()) {
            return Err(InvalidBlob);
        }
        let bytes = base64::decode(text.as_bytes(), buf).map_err(|_| InvalidBlob)?;
        Self::from_bytes(bytes)
    }

    /// The key version that sealed this blob.
    #[inline]
    pub fn version(&self) -> KeyVersionId {
        match self.bytes.first_chunk() {
            Some(prefix) => KeyVersionId::from_checked(prefix),
            // Unreachable: a blob is longer than its prefix. (Still a well-formed ID.)
            None => KeyVersionId::from_checked(b"00000000-0000-0000-0000-000000000000"),
        }
    }

    /// The IV.
    #[inline]
    pub fn iv(&self) -> Iv {
        let mut iv = [0; IV_LEN];
        iv.copy_from_slice(&self.bytes[VERSION_ID_LEN..VERSION_ID_LEN + IV_LEN]);
        Iv(iv)
    }

    /// The ciphertext, as long as the sealed text.
    #[inline]
    pub fn ciphertext(&self) -> &'b [u8] {
        &self.bytes[VERSION_ID_LEN + IV_LEN..self.bytes.len() - TAG_LEN]
    }

    /// The tag.
    #[inline]
    pub fn tag(&self) -> Tag {
        let mut tag = [0; TAG_LEN];
        tag.copy_from_slice(&self.bytes[self.bytes.len() - TAG_LEN..]);
        Tag(tag)
    }

    /// The whole blob.
    pub fn as_bytes(&self) -> &'b [u8] {
        self.bytes
    }

    /// The length of the sealed text.
    #[inline]
    pub fn sealed_len(&self) -> usize {
        self.bytes.len() - OVERHEAD
    }

    /// The length of the blob's Base64 text.
    #[inline]
    pub fn base64_len(&self) -> usize {
        base64_len(self.bytes.len())
    }

    /// Writes the blob's Base64 text (the CiphertextBlob) to the start of `out`, which needs
    /// [`base64_len`](Self::base64_len) bytes.
    ///
    /// # Errors
    /// [`InvalidBlob`] when `out` is too short.
    #[inline]
    pub fn encode_base64<'o>(&self, out: &'o mut [u8]) -> Result<&'o str, InvalidBlob> {
        base64::encode(self.bytes, out).map_err(|_| InvalidBlob)
    }

    /// The blob's Base64 text, the CiphertextBlob (with `alloc`).
    #[cfg(feature = "alloc")]
    pub fn to_base64(&self) -> alloc::string::String {
        let mut text = alloc::vec![0u8; self.base64_len()];
        match base64::encode(self.bytes, &mut text) {
            Ok(_) => alloc::string::String::from_utf8(text).unwrap_or_default(),
            // Unreachable: the buffer has the exact length.
            Err(_) => alloc::string::String::new(),
        }
    }

    /// An owned copy (with `alloc`).
    #[cfg(feature = "alloc")]
    pub fn to_owned(&self) -> BlobBuf {
        BlobBuf {
            version: self.version(),
            bytes: self.bytes.to_vec(),
        }
    }
}

impl fmt::Debug for Blob<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Blob")
            .field("version", &self.version())
            .field("sealed_len", &self.sealed_len())
            .finish()
    }
}

/// A blob being written, in a buffer of exactly `OVERHEAD + sealed_len` bytes: the version ID
/// goes in when it is made, the text to seal into [`body`](Self::body) (sealed there in place),
/// and the IV and tag the seal produced with [`finish`](Self::finish), which gives the [`Blob`].
pub struct BlobMut<'b> {
    bytes: &'b mut [u8],
}

impl<'b> BlobMut<'b> {
    /// Takes the first `OVERHEAD + sealed_len` bytes of `out` for a blob of `version` and writes
    /// the version ID.
    ///
    /// # Errors
    /// [`InvalidBlob`] when `sealed_len` is outside `1..=6144` or `out` is too short.
    #[inline]
    pub fn new(
        out: &'b mut [u8],
        version: &KeyVersionId,
        sealed_len: usize,
    ) -> Result<Self, InvalidBlob> {
        if !(MIN_SEALED_LEN..=MAX_SEALED_LEN).contains(&sealed_len) {
            return Err(InvalidBlob);
        }
        let bytes = out.get_mut(..OVERHEAD + sealed_len).ok_or(InvalidBlob)?;
        bytes[..VERSION_ID_LEN].copy_from_slice(version.as_bytes());
        Ok(Self { bytes })
    }

    /// The body: where the text to seal goes, as long as the sealed text will be.
    #[inline]
    pub fn body(&mut self) -> &mut [u8] {
        let end = self.bytes.len() - TAG_LEN;
        &mut self.bytes[VERSION_ID_LEN + IV_LEN..end]
    }

    /// Writes the IV and the tag of the seal and gives the finished blob.
    #[inline]
    pub fn finish(self, iv: &Iv, tag: &Tag) -> Blob<'b> {
        let end = self.bytes.len() - TAG_LEN;
        self.bytes[VERSION_ID_LEN..VERSION_ID_LEN + IV_LEN].copy_from_slice(&iv.0);
        self.bytes[end..].copy_from_slice(&tag.0);
        Blob { bytes: self.bytes }
    }
}

/// An owned, well-formed blob (with `alloc`).
#[cfg(feature = "alloc")]
#[derive(Clone, PartialEq, Eq)]
pub struct BlobBuf {
    version: KeyVersionId,
    bytes: alloc::vec::Vec<u8>,
}

#[cfg(feature = "alloc")]
impl BlobBuf {
    /// Builds a blob from its parts.
    ///
    /// # Errors
    /// [`InvalidBlob`] when the ciphertext length is out of range.
    pub fn from_parts(
        version: &KeyVersionId,
        iv: &Iv,
        ciphertext: &[u8],
        tag: &Tag,
    ) -> Result<Self, InvalidBlob> {
        let mut bytes = alloc::vec![0u8; OVERHEAD + ciphertext.len()];
        let mut blob = BlobMut::new(&mut bytes, version, ciphertext.len())?;
        blob.body().copy_from_slice(ciphertext);
        blob.finish(iv, tag);
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
        let mut buf = alloc::vec![0u8; decoded_len_bound(text.len().min(MAX_BLOB_BASE64_LEN))];
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
        Blob::from_bytes(bytes).map(|b| b.to_owned())
    }

    /// The borrowed view.
    pub fn as_blob(&self) -> Blob<'_> {
        // Every constructor checked the layout.
        Blob { bytes: &self.bytes }
    }

    /// The key version that sealed this blob.
    pub fn version(&self) -> KeyVersionId {
        self.version
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The CiphertextBlob text: standard Base64 with padding.
    pub fn to_base64(&self) -> alloc::string::String {
        self.as_blob().to_base64()
    }
}

#[cfg(feature = "alloc")]
impl fmt::Debug for BlobBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.as_blob().fmt(f)
    }
}

#[cfg(feature = "alloc")]
impl<'b> From<&'b BlobBuf> for Blob<'b> {
    fn from(blob: &'b BlobBuf) -> Self {
        blob.as_blob()
    }
}
