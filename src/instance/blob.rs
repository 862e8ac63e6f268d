//! The KMS-instance API's two ciphertext forms (`KMS-INSTANCE.md` §3), the one owner of their
//! bytes:
//!
//! ```text
//! basic   = ciphertext || tag (16)                        (Encrypt, GenerateDataKey; the Iv
//!                                                          travels beside it)
//! advance = 0x24 '$' || 0x00 (cipher version 0, padding 0) || 0x02 (AES_GCM)
//!        || key version ID (36 ASCII bytes) || IV (12) || ciphertext || tag (16)
//! ```
//!
//! The ciphertext is 1 to [`MAX_CIPHERTEXT_LEN`] bytes (the longest plaintext this API seals is
//! 6144 bytes). Decoding checks the length, the header and the version ID's form; whether the
//! tag verifies is the provider's to say.

use crate::KeyVersionId;
use crate::blob::{IV_LEN, Iv, TAG_LEN, Tag};
use crate::id::UUID_TEXT_LEN;

/// The longest ciphertext either form holds: the longest plaintext, 6144 bytes.
pub const MAX_CIPHERTEXT_LEN: usize = 6144;

/// The three bytes that start an Advance blob: `$`, cipher version 0 with padding 0, AES_GCM.
pub const ADVANCE_HEADER: [u8; 3] = [b'$', 0x00, 0x02];

/// The bytes an Advance blob adds to its ciphertext: header, version ID, IV and tag.
pub const ADVANCE_OVERHEAD: usize = ADVANCE_HEADER.len() + UUID_TEXT_LEN + IV_LEN + TAG_LEN;

/// Where an Advance blob's ciphertext starts: after the header, the version ID and the IV.
pub const ADVANCE_CIPHERTEXT_OFFSET: usize = ADVANCE_HEADER.len() + UUID_TEXT_LEN + IV_LEN;

/// Bytes that are not a blob of the expected form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvalidBlob;

/// A basic blob, `ciphertext || tag`, borrowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BasicBlob<'a> {
    /// The ciphertext.
    pub ciphertext: &'a [u8],
    /// The tag.
    pub tag: Tag,
}

impl<'a> BasicBlob<'a> {
    /// Splits `bytes` into ciphertext and tag.
    ///
    /// # Errors
    /// [`InvalidBlob`] when the ciphertext would be empty or longer than
    /// [`MAX_CIPHERTEXT_LEN`].
    pub fn decode(bytes: &'a [u8]) -> Result<Self, InvalidBlob> {
        let (ciphertext, tag) = bytes.split_last_chunk::<TAG_LEN>().ok_or(InvalidBlob)?;
        if ciphertext.is_empty() || ciphertext.len() > MAX_CIPHERTEXT_LEN {
            return Err(InvalidBlob);
        }
        Ok(Self {
            ciphertext,
            tag: Tag(*tag),
        })
    }
}

/// An Advance blob, borrowed: which version sealed it, with which IV, and the sealed bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AdvanceBlob<'a> {
    /// The key version that sealed.
    pub version: KeyVersionId,
    /// The IV.
    pub iv: Iv,
    /// The ciphertext.
    pub ciphertext: &'a [u8],
    /// The tag.
    pub tag: Tag,
}

impl<'a> AdvanceBlob<'a> {
    /// Parses an Advance blob.
    ///
    /// # Errors
    /// [`InvalidBlob`] for a wrong header, a version ID that is not a lowercase UUID, or a
    /// ciphertext that would be empty or longer than [`MAX_CIPHERTEXT_LEN`].
    pub fn decode(bytes: &'a [u8]) -> Result<Self, InvalidBlob> {
        if bytes.len() <= ADVANCE_OVERHEAD || bytes.len() > ADVANCE_OVERHEAD + MAX_CIPHERTEXT_LEN {
            return Err(InvalidBlob);
        }
        let (header, rest) = bytes.split_first_chunk::<3>().ok_or(InvalidBlob)?;
        if *header != ADVANCE_HEADER {
            return Err(InvalidBlob);
        }
        let (version, rest) = rest
            .split_first_chunk::<UUID_TEXT_LEN>()
            .ok_or(InvalidBlob)?;
        let version = KeyVersionId::parse(version).ok_or(InvalidBlob)?;
        let (iv, rest) = rest.split_first_chunk::<IV_LEN>().ok_or(InvalidBlob)?;
        let (ciphertext, tag) = rest.split_last_chunk::<TAG_LEN>().ok_or(InvalidBlob)?;
        Ok(Self {
            version,
            iv: Iv(*iv),
            ciphertext,
            tag: Tag(*tag),
        })
    }

    /// The blob's length for a ciphertext of `ciphertext_len` bytes.
    pub const fn len_for(ciphertext_len: usize) -> usize {
        ADVANCE_OVERHEAD + ciphertext_len
    }

    /// Writes the blob to the start of `out` and returns its length.
    ///
    /// # Errors
    /// [`InvalidBlob`] when `out` is too short or the ciphertext is empty or too long.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, InvalidBlob> {
        let n = self.ciphertext.len();
        if n == 0 || n > MAX_CIPHERTEXT_LEN {
            return Err(InvalidBlob);
        }
        let len = Self::len_for(n);
        let out = out.get_mut(..len).ok_or(InvalidBlob)?;
        out[ADVANCE_CIPHERTEXT_OFFSET..len - TAG_LEN].copy_from_slice(self.ciphertext);
        frame_advance(out, &self.version, &self.iv, &self.tag)?;
        Ok(len)
    }

    /// The blob as a new vector (with `alloc`).
    #[cfg(feature = "alloc")]
    pub fn to_vec(&self) -> alloc::vec::Vec<u8> {
        let mut out = alloc::vec![0u8; Self::len_for(self.ciphertext.len())];
        match self.encode(&mut out) {
            Ok(len) => out.truncate(len),
            Err(InvalidBlob) => out.clear(),
        }
        out
    }
}

/// Makes `blob` an Advance blob around the ciphertext already in place: writes the header, the
/// version ID and the IV before it (from [`ADVANCE_CIPHERTEXT_OFFSET`] back) and the tag after
/// it (the last 16 bytes). How a seal in place writes its blob without a copy.
///
/// # Errors
/// [`InvalidBlob`] when `blob` is too short or too long for a 1- to 6144-byte ciphertext.
pub fn frame_advance(
    blob: &mut [u8],
    version: &KeyVersionId,
    iv: &Iv,
    tag: &Tag,
) -> Result<(), InvalidBlob> {
    if blob.len() <= ADVANCE_OVERHEAD || blob.len() > ADVANCE_OVERHEAD + MAX_CIPHERTEXT_LEN {
        return Err(InvalidBlob);
    }
    let (head, rest) = blob.split_at_mut(ADVANCE_CIPHERTEXT_OFFSET);
    let (header, head) = head.split_at_mut(ADVANCE_HEADER.len());
    header.copy_from_slice(&ADVANCE_HEADER);
    let (version_out, iv_out) = head.split_at_mut(UUID_TEXT_LEN);
    version_out.copy_from_slice(version.as_bytes());
    iv_out.copy_from_slice(&iv.0);
    let tag_at = rest.len() - TAG_LEN;
    rest[tag_at..].copy_from_slice(&tag.0);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const VERSION: &[u8; 36] = b"9d1c7e52-04b3-4a8f-b6e1-27c5d0f3a948";

    fn blob(ciphertext: &[u8]) -> alloc::vec::Vec<u8> {
        AdvanceBlob {
            version: KeyVersionId::parse(VERSION).unwrap(),
            iv: Iv([7; 12]),
            ciphertext,
            tag: Tag([9; 16]),
        }
        .to_vec()
    }

    #[test]
    fn the_layout_is_header_version_iv_ciphertext_tag() {
        let bytes = blob(b"abc");
        // Written out by hand from KMS-INSTANCE.md §3.
        let mut expected = alloc::vec![0x24, 0x00, 0x02];
        expected.extend_from_slice(VERSION);
        expected.extend_from_slice(&[7; 12]);
        expected.extend_from_slice(b"abc");
        expected.extend_from_slice(&[9; 16]);
        assert_eq!(bytes, expected);
        let parsed = AdvanceBlob::decode(&bytes).unwrap();
        assert_eq!(parsed.ciphertext, b"abc");
        assert_eq!(parsed.version.as_bytes(), VERSION);
    }

    #[test]
    fn lengths_headers_and_versions_are_checked() {
        let good = blob(&[1; 5]);
        assert!(AdvanceBlob::decode(&good).is_ok());
        assert_eq!(
            AdvanceBlob::decode(&good[..ADVANCE_OVERHEAD]),
            Err(InvalidBlob)
        );
        for at in 0..3 {
            let mut bad = good.clone();
            bad[at] ^= 1;
            assert_eq!(
                AdvanceBlob::decode(&bad),
                Err(InvalidBlob),
                "header byte {at}"
            );
        }
        let mut upper = good.clone();
        upper[3] = b'D';
        assert_eq!(AdvanceBlob::decode(&upper), Err(InvalidBlob));
        let longest = blob(&[0; MAX_CIPHERTEXT_LEN]);
        assert!(AdvanceBlob::decode(&longest).is_ok());
        let mut too_long = longest;
        too_long.push(0);
        assert_eq!(AdvanceBlob::decode(&too_long), Err(InvalidBlob));
        assert!(blob(&[0; MAX_CIPHERTEXT_LEN + 1]).is_empty());
    }

    #[test]
    fn basic_blobs_need_one_to_6144_bytes_before_the_tag() {
        assert_eq!(BasicBlob::decode(&[0; 16]), Err(InvalidBlob));
        let one = BasicBlob::decode(&[5; 17]).unwrap();
        assert_eq!(one.ciphertext, &[5]);
        assert!(BasicBlob::decode(&[0; MAX_CIPHERTEXT_LEN + 16]).is_ok());
        assert_eq!(
            BasicBlob::decode(&[0; MAX_CIPHERTEXT_LEN + 17]),
            Err(InvalidBlob)
        );
    }
}
