//! Holders of secrets: plaintext data keys, decrypted plaintexts and master key material.
//!
//! Each one zeroizes its bytes when dropped, prints as `[REDACTED]` in `Debug`, is not
//! `Clone`, and compares in constant time ([`subtle::ConstantTimeEq`]). Borrowed holders
//! ([`SecretText`], [`SecretBytes`]) wipe the caller's workspace they point into; owned ones
//! ([`SecretTextBuf`], [`SecretBytesBuf`]) wipe their own allocation.

use core::fmt;

use subtle::ConstantTimeEq;
use zeroize::{Zeroize, Zeroizing};

use crate::key::MasterKeySpec;

pub(crate) mod base64;

/// Secret text borrowed from a caller's workspace: the Base64 plaintext of a data key, or a
/// decrypted `Plaintext`. The borrowed bytes are zeroized when this value is dropped.
///
/// The bytes are UTF-8 by construction (Base64 the crate wrote, or text checked when it was
/// opened); safe code can only turn them into a `&str` by checking again, which
/// [`expose`](Self::expose) does, so a caller that never looks at the text never pays for it,
/// and [`expose_bytes`](Self::expose_bytes) never checks.
pub struct SecretText<'w>(&'w mut [u8]);

impl<'w> SecretText<'w> {
    /// Holds `bytes`, which the caller has made sure are ASCII (Base64 it wrote).
    pub(crate) fn from_ascii(bytes: &'w mut [u8]) -> Self {
        debug_assert!(bytes.is_ascii());
        Self(bytes)
    }

    /// Holds `bytes` if they are UTF-8; wipes them otherwise.
    pub(crate) fn checked(bytes: &'w mut [u8]) -> Option<Self> {
        if core::str::from_utf8(bytes).is_ok() {
            Some(Self(bytes))
        } else {
            bytes.zeroize();
            None
        }
    }

    /// The secret text. Handle with care: copies are not zeroized for you.
    pub fn expose(&self) -> &str {
        // Every constructor made sure of UTF-8.
        core::str::from_utf8(self.0).unwrap_or_default()
    }

    /// The secret text's bytes, without checking them again. Handle with care: copies are not
    /// zeroized for you.
    pub fn expose_bytes(&self) -> &[u8] {
        self.0
    }

    /// The length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the text is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Drop for SecretText<'_> {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for SecretText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretText([REDACTED])")
    }
}

impl ConstantTimeEq for SecretText<'_> {
    fn ct_eq(&self, other: &Self) -> subtle::Choice {
        self.0.ct_eq(other.0)
    }
}

/// Secret bytes borrowed from a caller's workspace, such as a raw data key. The borrowed bytes
/// are zeroized when this value is dropped.
pub struct SecretBytes<'w>(&'w mut [u8]);

impl<'w> SecretBytes<'w> {
    pub(crate) fn new(bytes: &'w mut [u8]) -> Self {
        Self(bytes)
    }

    /// The secret bytes. Handle with care: copies are not zeroized for you.
    pub fn expose(&self) -> &[u8] {
        self.0
    }

    pub(crate) fn expose_mut(&mut self) -> &mut [u8] {
        self.0
    }

    /// The length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no bytes.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Drop for SecretBytes<'_> {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for SecretBytes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretBytes([REDACTED])")
    }
}

impl ConstantTimeEq for SecretBytes<'_> {
    fn ct_eq(&self, other: &Self) -> subtle::Choice {
        self.0.ct_eq(other.0)
    }
}

/// An owned secret string (with `alloc`): the Base64 plaintext of a data key or a decrypted
/// `Plaintext`. Zeroized on drop.
///
/// Like [`SecretText`], it holds bytes that are UTF-8 by construction and checks them again
/// only when [`expose`](Self::expose) makes them a `&str`; [`expose_bytes`](Self::expose_bytes)
/// never checks.
#[cfg(feature = "alloc")]
pub struct SecretTextBuf(
    // Boxed bytes: no spare capacity to wipe, and `zeroize` wipes a byte slice in one fill
    // (where it wipes a `String` one byte at a time).
    alloc::boxed::Box<[u8]>,
);

#[cfg(feature = "alloc")]
impl SecretTextBuf {
    /// Copies `text` into a new holder.
    pub fn new(text: &str) -> Self {
        Self(text.as_bytes().into())
    }

    /// Copies a borrowed secret text into a new holder, without checking it again.
    pub(crate) fn copy_of(text: &SecretText<'_>) -> Self {
        Self(text.expose_bytes().into())
    }

    /// The secret text. Handle with care: copies are not zeroized for you.
    pub fn expose(&self) -> &str {
        // Every constructor made sure of UTF-8.
        core::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The secret text's bytes, without checking them again. Handle with care: copies are not
    /// zeroized for you.
    pub fn expose_bytes(&self) -> &[u8] {
        &self.0
    }
}

#[cfg(feature = "alloc")]
impl Drop for SecretTextBuf {
    fn drop(&mut self) {
        // The slice's wipe (one fill), not `Box<[u8]>`'s (one byte at a time).
        Zeroize::zeroize(&mut *self.0);
    }
}

#[cfg(feature = "alloc")]
impl fmt::Debug for SecretTextBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretTextBuf([REDACTED])")
    }
}

#[cfg(feature = "alloc")]
impl ConstantTimeEq for SecretTextBuf {
    fn ct_eq(&self, other: &Self) -> subtle::Choice {
        self.0.ct_eq(&other.0)
    }
}

#[cfg(feature = "alloc")]
impl PartialEq for SecretTextBuf {
    /// Constant time in the contents (the lengths are not secret).
    fn eq(&self, other: &Self) -> bool {
        self.ct_eq(other).into()
    }
}

#[cfg(feature = "alloc")]
impl Eq for SecretTextBuf {}

#[cfg(feature = "serde")]
impl serde::Serialize for SecretTextBuf {
    /// Serializes the secret text itself: this is how a response's `Plaintext` goes on the wire.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.expose())
    }
}

/// Owned secret bytes (with `alloc`), for instance a data key decoded from its Base64 text.
#[cfg(feature = "alloc")]
pub struct SecretBytesBuf(alloc::vec::Vec<u8>);

#[cfg(feature = "alloc")]
impl SecretBytesBuf {
    /// Takes ownership of `bytes`; they are zeroized when this value drops.
    pub fn new(bytes: alloc::vec::Vec<u8>) -> Self {
        Self(bytes)
    }

    /// The secret bytes.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// The secret bytes, to fill or open in place.
    pub(crate) fn expose_mut(&mut self) -> &mut [u8] {
        &mut self.0
    }
}

#[cfg(feature = "alloc")]
impl Drop for SecretBytesBuf {
    fn drop(&mut self) {
        // The bytes and the spare capacity, each in one fill (`Zeroizing<Vec<u8>>` wipes the
        // bytes one at a time).
        self.0.as_mut_slice().zeroize();
        self.0.spare_capacity_mut().zeroize();
    }
}

#[cfg(feature = "alloc")]
impl fmt::Debug for SecretBytesBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretBytesBuf([REDACTED])")
    }
}

#[cfg(feature = "alloc")]
impl ConstantTimeEq for SecretBytesBuf {
    fn ct_eq(&self, other: &Self) -> subtle::Choice {
        self.0.as_slice().ct_eq(other.0.as_slice())
    }
}

#[cfg(feature = "alloc")]
impl PartialEq for SecretBytesBuf {
    /// Constant time in the contents (the lengths are not secret).
    fn eq(&self, other: &Self) -> bool {
        self.ct_eq(other).into()
    }
}

#[cfg(feature = "alloc")]
impl Eq for SecretBytesBuf {}

/// Raw AES material of one master key version: 16 bytes (`Aliyun_AES_128`) or 32 bytes
/// (`Aliyun_AES_256`). Zeroized on drop; never printed.
pub enum MasterKeyMaterial {
    /// 128-bit AES material.
    Aes128(Zeroizing<[u8; 16]>),
    /// 256-bit AES material.
    Aes256(Zeroizing<[u8; 32]>),
    /// An asymmetric key version's private key (feature `asymmetric`), with its PKCS#8 form.
    #[cfg(feature = "asymmetric")]
    Asymmetric(alloc::boxed::Box<AsymmetricMaterial>),
}

/// An asymmetric private key as a key version's material: the key, and its PKCS#8 DER (what
/// [`MasterKeyMaterial::expose`] shows and stores keep), both zeroized on drop.
#[cfg(feature = "asymmetric")]
pub struct AsymmetricMaterial {
    key: crate::asymmetric::PrivateKey,
    der: Zeroizing<alloc::vec::Vec<u8>>,
}

#[cfg(feature = "asymmetric")]
impl AsymmetricMaterial {
    /// The private key.
    pub fn key(&self) -> &crate::asymmetric::PrivateKey {
        &self.key
    }
}

impl MasterKeyMaterial {
    /// Takes material from a slice: 16 bytes make AES-128, 32 bytes AES-256; `None` otherwise.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        match bytes.len() {
            16 => {
                let mut k = Zeroizing::new([0u8; 16]);
                k.copy_from_slice(bytes);
                Some(Self::Aes128(k))
            }
            32 => {
                let mut k = Zeroizing::new([0u8; 32]);
                k.copy_from_slice(bytes);
                Some(Self::Aes256(k))
            }
            _ => None,
        }
    }

    /// An asymmetric private key as material (feature `asymmetric`).
    ///
    /// # Errors
    /// `InternalFailure` when the key cannot be encoded (never for a key this crate made).
    #[cfg(feature = "asymmetric")]
    pub fn asymmetric(key: crate::asymmetric::PrivateKey) -> Result<Self, crate::Error> {
        let der = key
            .to_pkcs8_der()
            .map_err(|_| crate::Error::InternalFailure(crate::Internal::Provider))?;
        Ok(Self::Asymmetric(alloc::boxed::Box::new(
            AsymmetricMaterial { key, der },
        )))
    }

    /// Reads an asymmetric private key from its PKCS#8 DER (feature `asymmetric`), of whichever
    /// of the asymmetric specs it is; `None` for anything else.
    #[cfg(feature = "asymmetric")]
    pub fn from_pkcs8(der: &[u8]) -> Option<Self> {
        use crate::asymmetric::{AsymmetricSpec, PrivateKey};
        [
            AsymmetricSpec::Rsa2048,
            AsymmetricSpec::Rsa3072,
            AsymmetricSpec::EcP256,
            AsymmetricSpec::EcP256K,
            AsymmetricSpec::EcSm2,
        ]
        .into_iter()
        .find_map(|spec| PrivateKey::from_pkcs8_der(spec, der).ok())
        .and_then(|key| Self::asymmetric(key).ok())
    }

    /// The private key, for asymmetric material.
    #[cfg(feature = "asymmetric")]
    pub fn private_key(&self) -> Option<&crate::asymmetric::PrivateKey> {
        match self {
            Self::Asymmetric(m) => Some(&m.key),
            _ => None,
        }
    }

    /// Draws fresh material for `spec` from `rng`: AES bytes, or (feature `asymmetric`) a new
    /// private key.
    ///
    /// # Errors
    /// [`crate::Error::UnsupportedOperation`] for a spec this build cannot make material for,
    /// `InternalFailure` ([`crate::RngError`]) when the RNG fails.
    pub fn random<R: rand_core::TryCryptoRng + ?Sized>(
        spec: MasterKeySpec,
        rng: &mut R,
    ) -> Result<Self, crate::Error> {
        #[cfg(feature = "asymmetric")]
        if let Some(asymmetric) = spec.asymmetric() {
            let key = crate::asymmetric::PrivateKey::generate(asymmetric, rng)
                .map_err(|_| crate::RngError)?;
            return Self::asymmetric(key);
        }
        let len = spec
            .material_len()
            .ok_or(crate::Error::UnsupportedOperation)?;
        let mut buf = Zeroizing::new([0u8; 32]);
        rng.try_fill_bytes(&mut buf[..len])
            .map_err(|_| crate::RngError)?;
        Self::from_slice(&buf[..len]).ok_or(crate::Error::UnsupportedOperation)
    }

    /// The spec this material serves.
    pub fn spec(&self) -> MasterKeySpec {
        match self {
            Self::Aes128(_) => MasterKeySpec::Aes128,
            Self::Aes256(_) => MasterKeySpec::Aes256,
            #[cfg(feature = "asymmetric")]
            Self::Asymmetric(m) => MasterKeySpec::of_asymmetric(m.key.spec()),
        }
    }

    /// The raw bytes (an asymmetric key's PKCS#8 DER). Handle with care.
    pub fn expose(&self) -> &[u8] {
        match self {
            Self::Aes128(k) => &k[..],
            Self::Aes256(k) => &k[..],
            #[cfg(feature = "asymmetric")]
            Self::Asymmetric(m) => &m.der[..],
        }
    }
}

impl fmt::Debug for MasterKeyMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MasterKeyMaterial({:?}, [REDACTED])", self.spec())
    }
}

impl ConstantTimeEq for MasterKeyMaterial {
    fn ct_eq(&self, other: &Self) -> subtle::Choice {
        self.expose().ct_eq(other.expose())
    }
}
