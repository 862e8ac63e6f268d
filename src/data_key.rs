//! The length of a data key, and how a request's `KeySpec` and `NumberOfBytes` give it (spec §3).

use crate::{Error, Parameter};

/// The largest data key GenerateDataKey makes, in bytes.
pub const MAX_DATA_KEY_LEN: usize = 1024;

/// The length of a data key to generate: 1..=1024 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DataKeyLength(u16);

impl DataKeyLength {
    /// 32 bytes: `AES_256`, and the default when neither parameter is given.
    pub const AES_256: Self = Self(32);
    /// 16 bytes: `AES_128`.
    pub const AES_128: Self = Self(16);
    /// The longest: [`MAX_DATA_KEY_LEN`] bytes.
    pub const MAX: Self = Self(MAX_DATA_KEY_LEN as u16);

    /// A length of `n` bytes, if `n` is in 1..=1024.
    pub const fn new(n: usize) -> Option<Self> {
        if n >= 1 && n <= MAX_DATA_KEY_LEN {
            Some(Self(n as u16))
        } else {
            None
        }
    }

    /// The length in bytes.
    pub const fn bytes(self) -> usize {
        self.0 as usize
    }

    /// The length of the key's Base64 text (standard alphabet, padded): what is sealed and what
    /// `Plaintext` holds.
    pub const fn base64_len(self) -> usize {
        crate::blob::base64_len(self.bytes())
    }

    /// Resolves the length from the request's `KeySpec` and `NumberOfBytes` texts (spec §3):
    /// `NumberOfBytes`, when given, wins and `KeySpec` is not looked at, even when invalid;
    /// else `KeySpec` (`AES_256`, `AES_128`, case-sensitive); else 32 bytes.
    ///
    /// `NumberOfBytes` is a decimal integer written with ASCII digits only **\[decided\]**: no
    /// sign, no white space, no fraction or exponent; leading zeros are allowed (`032` is 32).
    ///
    /// # Errors
    /// `InvalidParameter NumberOfBytes` or `InvalidParameter KeySpec`.
    #[inline]
    pub fn resolve(key_spec: Option<&str>, number_of_bytes: Option<&str>) -> Result<Self, Error> {
        match (number_of_bytes, key_spec) {
            (Some(n), _) => crate::wire::decimal_in(n, usize::MAX, 1..=MAX_DATA_KEY_LEN)
                .and_then(Self::new)
                .ok_or(Error::InvalidParameter(Parameter::NumberOfBytes)),
            (None, Some("AES_256")) | (None, None) => Ok(Self::AES_256),
            (None, Some("AES_128")) => Ok(Self::AES_128),
            (None, Some(_)) => Err(Error::InvalidParameter(Parameter::KeySpec)),
        }
    }
}

impl Default for DataKeyLength {
    fn default() -> Self {
        Self::AES_256
    }
}
