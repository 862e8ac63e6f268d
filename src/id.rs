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

/// Eight lanes of one byte, for the word-at-a-time check below.
const LANES: u64 = 0x0101_0101_0101_0101;
/// The high bit of every lane.
const HIGH: u64 = LANES * 0x80;

/// The lanes of `w` (bytes below 0x80) whose byte is in `lo..=hi`, as their high bits.
const fn lanes_in(w: u64, lo: u8, hi: u8) -> u64 {
    // Below 0x80, adding 0x80 - lo (or 0x7f - hi) never carries out of a lane: the high bit says
    // whether the byte reached `lo` (or passed `hi`).
    let reached = w.wrapping_add(LANES * (0x80 - lo as u64));
    let passed = w.wrapping_add(LANES * (0x7f - hi as u64));
    reached & !passed & HIGH
}

/// The high bit of lane `i`.
const fn lane(i: u32) -> u64 {
    0x80 << (8 * i)
}

/// Whether the eight bytes of `s` from `at` are lowercase hex digits, except the lanes in
/// `hyphens` (high bits), which the caller checks.
const fn hex_word(s: &[u8], at: usize, hyphens: u64) -> bool {
    let w = u64::from_le_bytes([
        s[at],
        s[at + 1],
        s[at + 2],
        s[at + 3],
        s[at + 4],
        s[at + 5],
        s[at + 6],
        s[at + 7],
    ]);
    let hex = lanes_in(w, b'0', b'9') | lanes_in(w, b'a', b'f');
    w & HIGH == 0 && (hex | hyphens) == HIGH
}

/// Whether `s` is a UUID in lowercase text form (`8-4-4-4-12` lowercase hex digits).
/// The version and variant nibbles are not checked: any such text is accepted.
#[inline]
pub const fn is_lowercase_uuid(s: &[u8]) -> bool {
    if s.len() != UUID_TEXT_LEN || s[8] != b'-' || s[13] != b'-' || s[18] != b'-' || s[23] != b'-' {
        return false;
    }
    // Five words of eight bytes (the last overlaps the fourth); the hyphens at 8 and 13 are
    // lanes 0 and 5 of the second word, those at 18 and 23 lanes 2 and 7 of the third.
    hex_word(s, 0, 0)
        & hex_word(s, 8, lane(0) | lane(5))
        & hex_word(s, 16, lane(2) | lane(7))
        & hex_word(s, 24, 0)
        & hex_word(s, 28, 0)
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

/// Whether `a` and `b` hold the same bytes, compared a word at a time: a derived comparison of
/// an ID's 36 bytes calls `memcmp`. Not constant time: IDs are not secret.
#[inline]
fn same_bytes<const N: usize>(a: &[u8; N], b: &[u8; N]) -> bool {
    let (a_words, a_rest) = a.as_chunks::<8>();
    let (b_words, b_rest) = b.as_chunks::<8>();
    let words = a_words.iter().zip(b_words).fold(0, |d, (x, y)| {
        d | (u64::from_ne_bytes(*x) ^ u64::from_ne_bytes(*y))
    });
    let rest = a_rest
        .iter()
        .zip(b_rest)
        .fold(0, |d, (x, y)| d | u64::from(x ^ y));
    words | rest == 0
}

// The IDs are aligned to eight bytes: they are copied between the operations' results many
// times, and copies at matching word boundaries avoid store-forwarding stalls.
macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Eq, PartialOrd, Ord)]
        #[repr(align(8))]
        pub struct $name([u8; UUID_TEXT_LEN]);

        impl PartialEq for $name {
            #[inline]
            fn eq(&self, other: &Self) -> bool {
                same_bytes(&self.0, &other.0)
            }
        }

        impl core::hash::Hash for $name {
            fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
                self.0.hash(state);
            }
        }

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

impl KeyVersionId {
    /// The ID in `bytes`, which were checked to be a lowercase UUID (a blob's prefix, checked
    /// when the blob was).
    #[inline]
    pub(crate) fn from_checked(bytes: &[u8; UUID_TEXT_LEN]) -> Self {
        debug_assert!(is_lowercase_uuid(bytes));
        Self(*bytes)
    }
}

/// The ID of one request: a UUID v4, drawn from the caller's RNG unless the frontend supplies
/// one (spec §1). Held as its 16 bytes; written (`Display`, [`encode`](Self::encode), `serde`)
/// as lowercase hyphenated text, when it is written.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(align(8))]
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

/// The length of a key ID of the `key-` form: `key-` and 21 lowercase letters and digits.
const SHORT_KEY_ID_LEN: usize = 25;

/// The canonical ID of a master key: a lowercase UUID (`1234abcd-12ab-34cd-56ef-123456789012`)
/// or `key-` followed by 21 lowercase letters and digits (`key-hzz630494463ejqjx1234`).
#[derive(Clone, Copy, Eq, PartialOrd, Ord)]
#[repr(align(8))]
pub struct KeyId {
    len: u8,
    // Zero past `len`: equal IDs have equal arrays.
    bytes: [u8; KEY_ID_MAX_LEN],
}

impl PartialEq for KeyId {
    #[inline]
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len && same_bytes(&self.bytes, &other.bytes)
    }
}

impl core::hash::Hash for KeyId {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        self.len.hash(state);
        self.bytes.hash(state);
    }
}

impl KeyId {
    /// Parses a key ID in either form; `None` for anything else.
    #[inline(always)]
    pub fn parse(text: &str) -> Option<Self> {
        let b = text.as_bytes();
        // Both forms are copied at a fixed length (a copy of a variable length goes through
        // `memcpy`, and reading the ID back then stalls on store forwarding).
        if let Ok(uuid) = <[u8; UUID_TEXT_LEN]>::try_from(b) {
            return is_lowercase_uuid(&uuid).then_some(Self {
                len: UUID_TEXT_LEN as u8,
                bytes: uuid,
            });
        }
        let short: &[u8; SHORT_KEY_ID_LEN] = b.try_into().ok()?;
        let valid = short.starts_with(b"key-")
            && short[4..]
                .iter()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        if !valid {
            return None;
        }
        let mut bytes = [0u8; KEY_ID_MAX_LEN];
        let (head, _) = bytes.split_first_chunk_mut::<SHORT_KEY_ID_LEN>()?;
        *head = *short;
        Some(Self {
            len: SHORT_KEY_ID_LEN as u8,
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

/// The longest instance ID: `kst-` and 28 lowercase letters and digits.
pub const INSTANCE_ID_MAX_LEN: usize = 32;

/// The length of the instance IDs [`InstanceId::random`] draws: `kst-` and 21 characters, as
/// Alibaba's (`kst-hzz62ee6a5bd7sqd8w1rq`).
const DRAWN_INSTANCE_ID_LEN: usize = 25;

/// The ID of a KMS instance: `kst-` followed by 1 to 28 lowercase letters and digits
/// (`kst-hzz62ee6a5bd7sqd8w1rq`). A key created in an instance carries it
/// ([`KeyRecord::instance`](crate::KeyRecord::instance)); the KMS-instance API
/// ([`crate::instance`]) serves only the keys of its own instance.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InstanceId {
    // Never zero (`kst-` alone is not an ID): `Option<InstanceId>` takes no more room.
    len: core::num::NonZeroU8,
    // Zero past `len`: equal IDs have equal arrays.
    bytes: [u8; INSTANCE_ID_MAX_LEN],
}

impl InstanceId {
    /// Parses an instance ID; `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        let b = text.as_bytes();
        let rest = b.strip_prefix(b"kst-")?;
        if rest.is_empty()
            || b.len() > INSTANCE_ID_MAX_LEN
            || !rest
                .iter()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        {
            return None;
        }
        let mut bytes = [0u8; INSTANCE_ID_MAX_LEN];
        bytes[..b.len()].copy_from_slice(b);
        Some(Self {
            len: core::num::NonZeroU8::new(b.len() as u8)?,
            bytes,
        })
    }

    /// Draws a fresh instance ID (`kst-` and 21 lowercase letters and digits) from `rng`.
    ///
    /// # Errors
    /// [`RngError`] when the RNG fails.
    pub fn random<R: TryCryptoRng + ?Sized>(rng: &mut R) -> Result<Self, RngError> {
        const ALPHABET: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        let mut bytes = [0u8; INSTANCE_ID_MAX_LEN];
        bytes[..4].copy_from_slice(b"kst-");
        let mut filled = 4;
        while filled < DRAWN_INSTANCE_ID_LEN {
            let mut draw = [0u8; 32];
            rng.try_fill_bytes(&mut draw).map_err(|_| RngError)?;
            // 252 = 7 * 36: bytes at or above it are dropped, so every character is equally
            // likely.
            for &b in draw.iter().filter(|&&b| b < 252) {
                if filled == DRAWN_INSTANCE_ID_LEN {
                    break;
                }
                bytes[filled] = ALPHABET[usize::from(b % 36)];
                filled += 1;
            }
        }
        Ok(Self {
            len: core::num::NonZeroU8::MIN.saturating_add(DRAWN_INSTANCE_ID_LEN as u8 - 1),
            bytes,
        })
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        ascii_str(&self.bytes[..usize::from(self.len.get())])
    }
}

impl fmt::Debug for InstanceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "InstanceId({})", self.as_str())
    }
}

impl fmt::Display for InstanceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl AsRef<str> for InstanceId {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for InstanceId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The check as its definition reads, one byte at a time.
    fn is_lowercase_uuid_bytewise(s: &[u8]) -> bool {
        s.len() == UUID_TEXT_LEN
            && s.iter().enumerate().all(|(i, &c)| match i {
                8 | 13 | 18 | 23 => c == b'-',
                _ => matches!(c, b'0'..=b'9' | b'a'..=b'f'),
            })
    }

    #[test]
    fn uuid_check_agrees_with_the_bytewise_one_for_every_byte_at_every_position() {
        let valid = *b"0123abcd-ef45-6789-abcd-ef0123456789";
        assert!(is_lowercase_uuid(&valid));
        for at in 0..UUID_TEXT_LEN {
            for c in 0..=255u8 {
                let mut s = valid;
                s[at] = c;
                assert_eq!(
                    is_lowercase_uuid(&s),
                    is_lowercase_uuid_bytewise(&s),
                    "byte {c:#04x} at {at}"
                );
            }
        }
        for len in [0, 35, 37] {
            let s = [b'a'; 37];
            assert!(!is_lowercase_uuid(&s[..len]));
        }
    }

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
    fn instance_ids_are_kst_and_lowercase_alphanumerics() {
        let id = InstanceId::parse("kst-hzz62ee6a5bd7sqd8w1rq").unwrap();
        assert_eq!(id.as_str(), "kst-hzz62ee6a5bd7sqd8w1rq");
        assert_eq!(InstanceId::parse("kst-a").unwrap().as_str(), "kst-a");
        let longest = "kst-abcdefghijklmnopqrstuvwxyz01";
        assert_eq!(longest.len(), INSTANCE_ID_MAX_LEN);
        assert!(InstanceId::parse(longest).is_some());
        for bad in [
            "kst-",
            "kst-Hzz",
            "kst-hzz_1",
            "kts-hzz",
            "hzz",
            "",
            "kst-abcdefghijklmnopqrstuvwxyz012",
        ] {
            assert_eq!(InstanceId::parse(bad), None, "{bad}");
        }
        assert_eq!(core::mem::size_of::<Option<InstanceId>>(), 33);
    }

    #[test]
    fn random_instance_ids_parse_and_differ() {
        let mut rng = Counting(0);
        let a = InstanceId::random(&mut rng).unwrap();
        let b = InstanceId::random(&mut rng).unwrap();
        assert_eq!(a.as_str().len(), DRAWN_INSTANCE_ID_LEN);
        assert_eq!(InstanceId::parse(a.as_str()), Some(a));
        assert_ne!(a, b);
        // Bytes 0, 1, 2, ... map to a, b, c, ...: worked out from the alphabet by hand.
        assert_eq!(a.as_str(), "kst-abcdefghijklmnopqrstu");
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
