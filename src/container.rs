//! The sealed container the project's files share (with `alloc`): a magic, a format version,
//! and a body sealed with AES-256-GCM under a 256-bit wrapping key, the magic and version bound
//! as associated data. Keyring snapshots use it, and so can a frontend's own files.
//!
//! ```text
//! container = magic (8 bytes) || u16be version || iv (12 bytes)
//!          || body sealed with AES-256-GCM, aad = magic || version
//!          || tag (16 bytes)
//! ```
//!
//! A truncated, altered, reordered or wrong-key container is refused before any of its body is
//! looked at. Bodies are built and opened in zeroized buffers.

use alloc::vec::Vec;
use core::fmt;

use aes_gcm::{AeadInOut, Aes256Gcm, KeyInit};
use rand_core::TryCryptoRng;
use zeroize::Zeroizing;

use crate::RngError;

/// Bytes before the body: magic, version and IV.
pub const HEADER_LEN: usize = 8 + 2 + 12;
/// Bytes after the body: the tag.
pub const TAG_LEN: usize = 16;

/// Why a container was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ContainerError {
    /// Too short to be a container, or the magic is not the expected one.
    WrongMagic,
    /// A format version the reader does not read.
    UnsupportedVersion(u16),
    /// The body did not authenticate: wrong wrapping key, or the bytes were truncated, altered
    /// or reordered.
    Authentication,
}

impl fmt::Display for ContainerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ContainerError::WrongMagic => f.write_str("not a container of this kind"),
            ContainerError::UnsupportedVersion(v) => write!(f, "unsupported format version {v}"),
            ContainerError::Authentication => {
                f.write_str("does not authenticate: wrong wrapping key, or truncated or altered")
            }
        }
    }
}

impl core::error::Error for ContainerError {}

/// A zeroized buffer for a body of `body_len` bytes, with room before it for the header and
/// after it for the tag, so that [`seal`] never grows it (a reallocation would free an unwiped
/// copy of the body). Write the body after the first [`HEADER_LEN`] bytes.
pub fn buffer(body_len: usize) -> Zeroizing<Vec<u8>> {
    let mut buf = Zeroizing::new(Vec::with_capacity(HEADER_LEN + body_len + TAG_LEN));
    buf.resize(HEADER_LEN, 0);
    buf
}

/// Seals the body in `buf` (made by [`buffer`]) in place: writes the header with an IV from
/// `rng`, seals, appends the tag, and returns the container (ciphertext only, so no longer
/// zeroized).
///
/// # Errors
/// [`RngError`] when the RNG fails.
pub fn seal<R: TryCryptoRng + ?Sized>(
    magic: &[u8; 8],
    version: u16,
    wrapping_key: &[u8; 32],
    rng: &mut R,
    mut buf: Zeroizing<Vec<u8>>,
) -> Result<Vec<u8>, RngError> {
    let mut iv = [0u8; 12];
    rng.try_fill_bytes(&mut iv).map_err(|_| RngError)?;
    let (header, body) = buf.split_at_mut(HEADER_LEN);
    header[..8].copy_from_slice(magic);
    header[8..10].copy_from_slice(&version.to_be_bytes());
    header[10..].copy_from_slice(&iv);
    let tag = Aes256Gcm::new(wrapping_key.into())
        .encrypt_inout_detached(&iv.into(), &header[..10], body.into())
        .map_err(|_| RngError)?;
    buf.extend_from_slice(&tag);
    Ok(core::mem::take(&mut *buf))
}

/// Opens a container of `magic` and `version` and returns its body, in a zeroized buffer.
///
/// # Errors
/// [`ContainerError`].
pub fn open(
    magic: &[u8; 8],
    version: u16,
    wrapping_key: &[u8; 32],
    container: &[u8],
) -> Result<Zeroizing<Vec<u8>>, ContainerError> {
    if container.len() < HEADER_LEN + TAG_LEN || &container[..8] != magic {
        return Err(ContainerError::WrongMagic);
    }
    let found = u16::from_be_bytes([container[8], container[9]]);
    if found != version {
        return Err(ContainerError::UnsupportedVersion(found));
    }
    let mut iv = [0u8; 12];
    iv.copy_from_slice(&container[10..HEADER_LEN]);
    let (sealed, tag) = container[HEADER_LEN..].split_at(container.len() - HEADER_LEN - TAG_LEN);
    let mut tag_bytes = [0u8; TAG_LEN];
    tag_bytes.copy_from_slice(tag);
    let mut body = Zeroizing::new(sealed.to_vec());
    Aes256Gcm::new(wrapping_key.into())
        .decrypt_inout_detached(
            &iv.into(),
            &container[..10],
            body.as_mut_slice().into(),
            &tag_bytes.into(),
        )
        .map_err(|_| ContainerError::Authentication)?;
    Ok(body)
}
