//! Identifiers that are not secret: key IDs, key version IDs and request IDs.
//!
//! Key IDs and key version IDs are short ASCII strings held inline (no allocation), validated
//! when made: they are compared and bound as text. A request ID is held as its 16 bytes and
//! written as text when a response is.

use core::fmt;

use rand_core::TryCryptoRng;

use crate::RngError;

/// Length of a UUID in its text form, `8-4-4-4-12` hex digits and hyphens.
pub const UUID_TEXT_LEN: usize = 36;

/// Which bytes are lowercase hex digits.
const LOWER_HEX: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 256 {
        t[c] = matches!(c as u8, b'0'..=b'9' | b'a'..=b'f');
        c += 1;
    }
    t
};

/// Whether `s` is a UUID in lowercase text form (`8-4-4-4-12` lowercase hex digits).
/// The version and variant nibbles are not checked: any such text is accepted.
pub const fn is_lowercase_uuid(s: &[u8]) -> bool {
    if s.len() != UUID_TEXT_LEN || s[8] != b'-' || s[13] != b'-' || s[18] != b'-' || s[23] != b'-' {
        return false;
    }
    let mut ok = true;
    let mut i = 0;
    while i < UUID_TEXT_LEN {
        // Non-short-circuit: one pass without branches on the data.
        ok &= LOWER_HEX[s[i] as usize] | matches!(i, 8 | 13 | 18 | 23);
        i += 1;
    }
    ok
}

/// Draws a random (version 4, RFC 9562 variant) UUID from `rng`, in lowercase text form.
#[inline]
pub(crate) fn random_uuid<R: TryCryptoRng + ?Sized>(
    rng: &mut R,
) -> Result<[u8; UUID_TEXT_LEN], RngError> {
    let mut raw = [0u8; 16];
    rng.try_fill_bytes(&mut raw).map_err(|_| RngError)?;
    let mut out = [0u8; UUID_TEXT_LEN];
    uuid::Builder::from_random_bytes(raw)
        .into_uuid()
        .hyphenated()
        .encode_lower(&mut out);
    Ok(out)
}

fn ascii_str(bytes: &[u8]) -> &str {
    // Every constructor of the types below checks that their bytes are ASCII.
    core::str::from_utf8(bytes).unwrap_or_default()
}

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name([u8; UUID_TEXT_LEN]);

        impl $name {
            /// Parses a lowercase UUID text (36 bytes); `None` for anything else.
            pub const fn parse(text: &[u8]) -> Option<Self> {
                if !is_lowercase_uuid(text) {
                    return None;
                }
                let mut out = [0u8; UUID_TEXT_LEN];
                let mut i = 0;
                while i < UUID_TEXT_LEN {
                    out[i] = text[i];
                    i += 1;
                }
                Some(Self(out))
            }

            /// Draws a fresh random UUID v4 from `rng`.
            ///
            /// # Errors
            /// [`RngError`] when the RNG fails.
            pub fn random<R: TryCryptoRng + ?Sized>(rng: &mut R) -> Result<Self, RngError> {
                random_uuid(rng).map(Self)
            }

            /// The text, 36 ASCII characters.
            pub fn as_str(&self) -> &str {
                ascii_str(&self.0)
            }

            /// The text as bytes.
            pub const fn as_bytes(&self) -> &[u8; UUID_TEXT_LEN] {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.as_str())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                self.as_str()
            }
        }

        #[cfg(feature = "serde")]
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
    };
}

uuid_id! {
    /// The ID of one version of a master key: a lowercase UUID, the first 36 bytes of every
    /// blob that version seals (spec §5).
    KeyVersionId
}

/// The ID of one request: a UUID v4, drawn from the caller's RNG unless the frontend supplies
/// one (spec §1). Held as its 16 bytes; written (`Display`, [`encode`](Self::encode), `serde`)
/// as lowercase hyphenated text, when it is written.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(uuid::Uuid);

impl RequestId {
    /// Parses a lowercase UUID text (36 bytes); `None` for anything else.
    pub fn parse(text: &[u8]) -> Option<Self> {
        if !is_lowercase_uuid(text) {
            return None;
        }
        uuid::Uuid::try_parse_ascii(text).ok().map(Self)
    }

    /// Draws a fresh random UUID v4 (RFC 9562 variant) from `rng`.
    ///
    /// # Errors
    /// [`RngError`] when the RNG fails.
    #[inline]
    pub fn random<R: TryCryptoRng + ?Sized>(rng: &mut R) -> Result<Self, RngError> {
        let mut raw = [0u8; 16];
        rng.try_fill_bytes(&mut raw).map_err(|_| RngError)?;
        Ok(Self(uuid::Builder::from_random_bytes(raw).into_uuid()))
    }

    /// Writes the lowercase hyphenated text into `out` and returns it.
    pub fn encode<'b>(&self, out: &'b mut [u8; UUID_TEXT_LEN]) -> &'b str {
        self.0.hyphenated().encode_lower(out)
    }

    /// The 16 bytes.
    pub fn as_bytes(&self) -> &[u8; 16] {
        self.0.as_bytes()
    }
}

impl fmt::Debug for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RequestId({self})")
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.encode(&mut [0; UUID_TEXT_LEN]))
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for RequestId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.encode(&mut [0; UUID_TEXT_LEN]))
    }
}

/// The longest key ID: a UUID.
pub const KEY_ID_MAX_LEN: usize = UUID_TEXT_LEN;

/// The canonical ID of a master key: a lowercase UUID (`1234abcd-12ab-34cd-56ef-123456789012`)
/// or `key-` followed by 21 lowercase letters and digits (`key-hzz630494463ejqjx1234`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId {
    len: u8,
    bytes: [u8; KEY_ID_MAX_LEN],
}

impl KeyId {
    /// Parses a key ID in either form; `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        let b = text.as_bytes();
        let valid = is_lowercase_uuid(b)
            || (b.len() == 25
                && b.starts_with(b"key-")
                && b[4..]
                    .iter()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()));
        if !valid {
            return None;
        }
        let mut bytes = [0u8; KEY_ID_MAX_LEN];
        bytes[..b.len()].copy_from_slice(b);
        Some(Self {
            len: b.len() as u8,
            bytes,
        })
    }

    /// Draws a fresh key ID in UUID form from `rng`.
    ///
    /// # Errors
    /// [`RngError`] when the RNG fails.
    pub fn random<R: TryCryptoRng + ?Sized>(rng: &mut R) -> Result<Self, RngError> {
        Ok(Self {
            len: UUID_TEXT_LEN as u8,
            bytes: random_uuid(rng)?,
        })
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        ascii_str(&self.bytes[..usize::from(self.len)])
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({})", self.as_str())
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl AsRef<str> for KeyId {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for KeyId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Yields 0, 1, 2, ... as bytes.
    struct Counting(u8);

    impl rand_core::TryRng for Counting {
        type Error = core::convert::Infallible;
        fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
            unimplemented_for_test()
        }
        fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
            unimplemented_for_test().map(u64::from)
        }
        fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
            for b in dst {
                *b = self.0;
                self.0 = self.0.wrapping_add(1);
            }
            Ok(())
        }
    }

    impl rand_core::TryCryptoRng for Counting {}

    fn unimplemented_for_test() -> Result<u32, core::convert::Infallible> {
        panic!("the UUID draw fills bytes")
    }

    #[test]
    fn random_uuid_sets_version_and_variant_and_formats_lowercase() {
        // Bytes 00..0f; byte 6 becomes 0x46 (version 4), byte 8 becomes 0x88 (variant 10xx),
        // worked out by hand from RFC 9562's layout.
        let id = random_uuid(&mut Counting(0)).unwrap();
        assert_eq!(&id, b"00010203-0405-4607-8809-0a0b0c0d0e0f");
        let id = random_uuid(&mut Counting(0xf0)).unwrap();
        assert_eq!(&id, b"f0f1f2f3-f4f5-46f7-b8f9-fafbfcfdfeff");
        assert!(is_lowercase_uuid(&id));
    }

    #[test]
    fn uuid_text_is_checked_strictly() {
        assert!(is_lowercase_uuid(b"2ab1a983-7072-4bbc-a582-584b5bd80000"));
        assert!(!is_lowercase_uuid(b"2AB1A983-7072-4bbc-a582-584b5bd80000"));
        assert!(!is_lowercase_uuid(b"2ab1a983x7072-4bbc-a582-584b5bd80000"));
        assert!(!is_lowercase_uuid(b"2ab1a983-7072-4bbc-a582-584b5bd8000"));
        assert!(!is_lowercase_uuid(b"2ab1a9837-072-4bbc-a582-584b5bd80000"));
        assert!(!is_lowercase_uuid(b"2ab1a983-7072-4bbc-a582-584b5bd8000g"));
    }
}
