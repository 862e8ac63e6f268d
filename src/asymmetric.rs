//! Asymmetric keys (with the `asymmetric` feature): the key pairs, signatures and public-key
//! encryption of Alibaba Cloud KMS's asymmetric keys, as pure functions. Nothing here reads a
//! clock, a file or the operating system's RNG: randomness comes from the caller's
//! [`TryCryptoRng`].
//!
//! | spec | signing | encryption |
//! |---|---|---|
//! | `RSA_2048`, `RSA_3072` | `RSA_PSS_SHA_256`, `RSA_PKCS1_SHA_256` | `RSAES_OAEP_SHA_256`, `RSAES_OAEP_SHA_1` |
//! | `EC_P256` (secp256r1), `EC_P256K` (secp256k1) | `ECDSA_SHA_256` | — |
//! | `EC_SM2` (sm2p256v1) | `SM2DSA` | `SM2PKE` |
//!
//! The encodings, as Alibaba and OpenSSL use them:
//!
//! - **Digests.** Signing and verification take the digest the caller computed, exactly
//!   [`DIGEST_LEN`] (32) bytes, and never hash it again: SHA-256 of the message for the RSA and
//!   ECDSA algorithms; for `SM2DSA` the SM3 digest `e = SM3(Z_A || M)` of GB/T 32918, where
//!   `Z_A` is computed with the default user ID [`SM2_DEFAULT_USER_ID`]
//!   (`"1234567812345678"`). [`PublicKey::message_digest`] computes either from a message.
//! - **Signatures.** `RSA_PSS_SHA_256`: RSASSA-PSS, MGF1 with SHA-256, a 32-byte salt (the
//!   digest's length); `RSA_PKCS1_SHA_256`: RSASSA-PKCS1-v1_5 with the SHA-256 `DigestInfo`;
//!   both as long as the modulus. `ECDSA_SHA_256` and `SM2DSA`: DER, the ASN.1
//!   `SEQUENCE { r INTEGER, s INTEGER }`. Verification accepts an ECDSA signature with a
//!   high `s` (as OpenSSL does), though signing on secp256k1 produces low-`s` ones.
//! - **Ciphertexts.** `RSAES_OAEP_SHA_256`: RSAES-OAEP with SHA-256 and MGF1-SHA-256, empty
//!   label; `RSAES_OAEP_SHA_1`: SHA-1 and MGF1-SHA-1; both as long as the modulus. `SM2PKE`
//!   (GB/T 32918.4 with SM3): the raw `C1 || C3 || C2` of GM/T 0003-2012 and later, C1 an
//!   uncompressed point (`0x04 || x || y`, 65 bytes), C3 the 32-byte SM3 hash, C2 as long as
//!   the plaintext: 97 bytes more than the plaintext. Alibaba does not document the layout;
//!   its limits (6047-byte plaintexts, 6144-byte ciphertexts, 97 apart) point at this one
//!   (`docs/asymmetric.md` §3). Decryption also takes GM/T 0009's DER `SM2Cipher`,
//!   `SEQUENCE { XCoordinate INTEGER, YCoordinate INTEGER, HASH OCTET STRING, CipherText OCTET
//!   STRING }` (OpenSSL's and GmSSL's form), told apart by its first byte (`0x30`, not `0x04`).
//! - **Plaintext limits** ([`EncryptionAlgorithm::max_plaintext_len`]): RSA-OAEP
//!   `k - 2·hLen - 2` (190 and 214 bytes under `RSA_2048` with SHA-256 and SHA-1, 318 and 342
//!   under `RSA_3072`); `SM2PKE` [`SM2PKE_MAX_PLAINTEXT_LEN`] (6047, Alibaba's limit), and
//!   not empty (SM2 cannot encrypt zero bytes).
//! - **Keys.** Private keys as PKCS#8 `PrivateKeyInfo` DER (RSA `rsaEncryption`; EC
//!   `id-ecPublicKey` with the curve's named OID inside a SEC1 `ECPrivateKey`); public keys
//!   as a DER `SubjectPublicKeyInfo` (EC points uncompressed), or its PEM
//!   (`-----BEGIN PUBLIC KEY-----`, lines of 64 characters, LF line endings, a final LF).
//!
//! RSA-OAEP decryption does not check the first octet of the encoded message (the `rsa`
//! crate's choice, which keeps the padding check free of a Manger-style timing oracle): a
//! ciphertext crafted with the public key to decode with a non-zero first octet decrypts
//! (Wycheproof's "First byte is 1"), where RFC 8017 would refuse it.
//!
//! RNG draws: key generation (RSA primes, EC scalars); `RSA_PSS_SHA_256` the salt and the
//! blinding of the private operation; `RSA_PKCS1_SHA_256` the blinding; ECDSA and SM2DSA 32
//! bytes of added entropy for the RFC 6979 nonce (hedged signatures); RSA-OAEP the seed;
//! SM2PKE the ephemeral scalar. Decryption draws nothing (the `rsa` crate's private operation
//! is constant-time; without its `getrandom` feature, which this crate does not enable, it is
//! unblinded).
//!
//! A [`PrivateKey`] zeroizes its material on drop (each inner key of the RustCrypto crates
//! does) and its `Debug` shows only the spec. Nothing here panics on any input: every
//! malformed key, signature or ciphertext is an [`AsymmetricError`] or `Ok(false)`.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use base64ct::{Base64, Encoding};
use rand_core::TryCryptoRng;
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use rsa::traits::PublicKeyParts;
use sha2::Digest;
use sm2::elliptic_curve::Generate;
use sm2::elliptic_curve::sec1::ToSec1Point;
use zeroize::{ZeroizeOnDrop, Zeroizing};

use p256::ecdsa::signature::hazmat::{PrehashVerifier, RandomizedPrehashSigner};

/// The length of every digest that signing and verification take: 32 bytes (SHA-256 or SM3).
pub const DIGEST_LEN: usize = 32;

/// The SM2 user ID (distinguishing identifier) that `Z_A` is computed with for `SM2DSA`: the
/// default of GB/T 35276 and GM/T 0009, which Alibaba uses.
pub const SM2_DEFAULT_USER_ID: &str = "1234567812345678";

/// The longest plaintext `SM2PKE` encrypts (Alibaba's AsymmetricEncrypt limit).
pub const SM2PKE_MAX_PLAINTEXT_LEN: usize = 6047;

/// How much longer than its plaintext an `SM2PKE` ciphertext is: C1 (`0x04 || x || y`, 65
/// bytes) and C3 (32 bytes).
pub const SM2PKE_OVERHEAD: usize = 97;

/// The most a GM/T 0009 DER `SM2Cipher` adds to its plaintext (of at most
/// [`SM2PKE_MAX_PLAINTEXT_LEN`] bytes): the SEQUENCE's header (4), two INTEGERs of 33
/// content bytes (35 each), the 32-byte HASH (34) and the CipherText's header (4).
const SM2_DER_OVERHEAD_MAX: usize = 4 + 35 + 35 + 34 + 4;

/// An asymmetric key's spec (`KeySpec`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AsymmetricSpec {
    /// `RSA_2048`: an RSA key with a 2048-bit modulus (public exponent 65537 when generated).
    Rsa2048,
    /// `RSA_3072`: an RSA key with a 3072-bit modulus (public exponent 65537 when generated).
    Rsa3072,
    /// `EC_P256`: an elliptic-curve key on NIST P-256 (secp256r1, prime256v1).
    EcP256,
    /// `EC_P256K`: an elliptic-curve key on secp256k1.
    EcP256K,
    /// `EC_SM2`: an elliptic-curve key on SM2's curve (sm2p256v1, GB/T 32918).
    EcSm2,
}

impl AsymmetricSpec {
    /// Every spec, in the order of the wire's documentation.
    pub const ALL: [Self; 5] = [
        Self::Rsa2048,
        Self::Rsa3072,
        Self::EcP256,
        Self::EcP256K,
        Self::EcSm2,
    ];

    /// The wire name: `RSA_2048`, `RSA_3072`, `EC_P256`, `EC_P256K` or `EC_SM2`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Rsa2048 => "RSA_2048",
            Self::Rsa3072 => "RSA_3072",
            Self::EcP256 => "EC_P256",
            Self::EcP256K => "EC_P256K",
            Self::EcSm2 => "EC_SM2",
        }
    }

    /// The spec `name` names, exactly (case-sensitive).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|spec| spec.name() == name)
    }

    /// The modulus size in bits for the RSA specs.
    const fn rsa_bits(self) -> Option<usize> {
        match self {
            Self::Rsa2048 => Some(2048),
            Self::Rsa3072 => Some(3072),
            Self::EcP256 | Self::EcP256K | Self::EcSm2 => None,
        }
    }
}

impl fmt::Display for AsymmetricSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A signing algorithm (`Algorithm` of AsymmetricSign and AsymmetricVerify).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SigningAlgorithm {
    /// `RSA_PSS_SHA_256`: RSASSA-PSS with SHA-256, MGF1-SHA-256 and a 32-byte salt.
    RsaPssSha256,
    /// `RSA_PKCS1_SHA_256`: RSASSA-PKCS1-v1_5 with SHA-256.
    RsaPkcs1Sha256,
    /// `ECDSA_SHA_256`: ECDSA over a SHA-256 digest, the signature DER-encoded.
    EcdsaSha256,
    /// `SM2DSA`: the SM2 signature over `SM3(Z_A || M)`, the signature DER-encoded.
    Sm2Dsa,
}

impl SigningAlgorithm {
    /// Every signing algorithm.
    pub const ALL: [Self; 4] = [
        Self::RsaPssSha256,
        Self::RsaPkcs1Sha256,
        Self::EcdsaSha256,
        Self::Sm2Dsa,
    ];

    /// The wire name: `RSA_PSS_SHA_256`, `RSA_PKCS1_SHA_256`, `ECDSA_SHA_256` or `SM2DSA`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::RsaPssSha256 => "RSA_PSS_SHA_256",
            Self::RsaPkcs1Sha256 => "RSA_PKCS1_SHA_256",
            Self::EcdsaSha256 => "ECDSA_SHA_256",
            Self::Sm2Dsa => "SM2DSA",
        }
    }

    /// The algorithm `name` names, exactly (case-sensitive).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|algorithm| algorithm.name() == name)
    }

    /// Whether a key of `spec` signs with this algorithm: the RSA specs with the two RSA
    /// algorithms, `EC_P256` and `EC_P256K` with `ECDSA_SHA_256`, `EC_SM2` with `SM2DSA`.
    pub const fn allowed(self, spec: AsymmetricSpec) -> bool {
        use AsymmetricSpec as S;
        matches!(
            (self, spec),
            (
                Self::RsaPssSha256 | Self::RsaPkcs1Sha256,
                S::Rsa2048 | S::Rsa3072
            ) | (Self::EcdsaSha256, S::EcP256 | S::EcP256K)
                | (Self::Sm2Dsa, S::EcSm2)
        )
    }
}

impl fmt::Display for SigningAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A public-key encryption algorithm (`Algorithm` of AsymmetricEncrypt and
/// AsymmetricDecrypt).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EncryptionAlgorithm {
    /// `RSAES_OAEP_SHA_256`: RSAES-OAEP with SHA-256 and MGF1-SHA-256, empty label.
    RsaesOaepSha256,
    /// `RSAES_OAEP_SHA_1`: RSAES-OAEP with SHA-1 and MGF1-SHA-1, empty label.
    RsaesOaepSha1,
    /// `SM2PKE`: SM2 public-key encryption (GB/T 32918.4, SM3), the ciphertext the raw
    /// `C1 || C3 || C2` (C1 uncompressed); decryption also takes GM/T 0009's DER `SM2Cipher`.
    Sm2Pke,
}

impl EncryptionAlgorithm {
    /// Every encryption algorithm.
    pub const ALL: [Self; 3] = [Self::RsaesOaepSha256, Self::RsaesOaepSha1, Self::Sm2Pke];

    /// The wire name: `RSAES_OAEP_SHA_256`, `RSAES_OAEP_SHA_1` or `SM2PKE`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::RsaesOaepSha256 => "RSAES_OAEP_SHA_256",
            Self::RsaesOaepSha1 => "RSAES_OAEP_SHA_1",
            Self::Sm2Pke => "SM2PKE",
        }
    }

    /// The algorithm `name` names, exactly (case-sensitive).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|algorithm| algorithm.name() == name)
    }

    /// Whether a key of `spec` encrypts with this algorithm: the RSA specs with the two OAEP
    /// algorithms, `EC_SM2` with `SM2PKE`; the other EC specs with none.
    pub const fn allowed(self, spec: AsymmetricSpec) -> bool {
        use AsymmetricSpec as S;
        matches!(
            (self, spec),
            (
                Self::RsaesOaepSha256 | Self::RsaesOaepSha1,
                S::Rsa2048 | S::Rsa3072
            ) | (Self::Sm2Pke, S::EcSm2)
        )
    }

    /// The longest plaintext this algorithm encrypts under a key of `spec` (`None` when it is
    /// not [allowed](Self::allowed)): RSA-OAEP's `k - 2·hLen - 2` (190 or 214 bytes for
    /// `RSA_2048`, 318 or 342 for `RSA_3072`, with SHA-256 or SHA-1); `SM2PKE`
    /// [`SM2PKE_MAX_PLAINTEXT_LEN`].
    pub const fn max_plaintext_len(self, spec: AsymmetricSpec) -> Option<usize> {
        if !self.allowed(spec) {
            return None;
        }
        let hash_len = match self {
            Self::RsaesOaepSha256 => 32,
            Self::RsaesOaepSha1 => 20,
            Self::Sm2Pke => return Some(SM2PKE_MAX_PLAINTEXT_LEN),
        };
        match spec.rsa_bits() {
            Some(bits) => Some(bits / 8 - 2 * hash_len - 2),
            None => None,
        }
    }
}

impl fmt::Display for EncryptionAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why an asymmetric operation did not run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AsymmetricError {
    /// The algorithm is not one the key's spec takes (see [`SigningAlgorithm::allowed`] and
    /// [`EncryptionAlgorithm::allowed`]). Checked before anything else.
    AlgorithmNotAllowed,
    /// The digest is not [`DIGEST_LEN`] bytes long.
    InvalidDigest,
    /// The plaintext's length is not one the algorithm takes under the key: longer than
    /// [`EncryptionAlgorithm::max_plaintext_len`], or empty with `SM2PKE` (SM2 cannot encrypt
    /// zero bytes).
    PlaintextTooLong,
    /// The ciphertext does not decrypt under the key and algorithm: not of the key's length or
    /// encoding, tampered with, or made under another key or algorithm. Nothing tells which.
    DecryptionFailed,
    /// The DER is not a key of the five specs (for a private key: not one of the spec asked
    /// for), or has bytes after it; or, never expected, a key could not be encoded.
    Malformed,
    /// The caller's RNG failed.
    Rng,
}

impl fmt::Display for AsymmetricError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::AlgorithmNotAllowed => "the algorithm is not allowed for the key's spec",
            Self::InvalidDigest => "the digest is not 32 bytes long",
            Self::PlaintextTooLong => "the plaintext's length is not one the algorithm takes",
            Self::DecryptionFailed => "the ciphertext does not decrypt under the key",
            Self::Malformed => "the key is malformed or not of the expected spec",
            Self::Rng => "the random number generator failed",
        })
    }
}

impl core::error::Error for AsymmetricError {}

/// The secret half, one variant per curve or RSA (both RSA sizes in one). Each zeroizes itself
/// on drop.
enum Secret {
    Rsa(rsa::PrivateKey),
    P256(p256::ecdsa::SigningKey),
    K256(k256::ecdsa::SigningKey),
    Sm2(sm2::SecretKey),
}

/// A private key of one of the five specs. Opaque: its material leaves only as PKCS#8
/// ([`PrivateKey::to_pkcs8_der`], in a zeroizing buffer). Zeroized on drop; `Debug` shows the
/// spec and `[REDACTED]`.
pub struct PrivateKey {
    spec: AsymmetricSpec,
    secret: Secret,
}

// Every variant of `Secret` zeroizes its material on drop (`rsa::PrivateKey`,
// `ecdsa::SigningKey` and `elliptic_curve::SecretKey` all implement `ZeroizeOnDrop`).
impl ZeroizeOnDrop for PrivateKey {}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateKey")
            .field("spec", &self.spec)
            .field("key", &"[REDACTED]")
            .finish()
    }
}

impl PrivateKey {
    /// A fresh key of `spec` from `rng`: RSA with public exponent 65537 and a modulus of
    /// exactly the spec's size; EC a uniformly random non-zero scalar.
    ///
    /// # Errors
    /// [`AsymmetricError::Rng`] when `rng` fails.
    pub fn generate<R: TryCryptoRng + ?Sized>(
        spec: AsymmetricSpec,
        rng: &mut R,
    ) -> Result<Self, AsymmetricError> {
        let secret = match spec {
            AsymmetricSpec::Rsa2048 | AsymmetricSpec::Rsa3072 => {
                let bits = spec.rsa_bits().ok_or(AsymmetricError::Malformed)?;
                Secret::Rsa(rsa::PrivateKey::new(rng, bits).map_err(rng_failed)?)
            }
            AsymmetricSpec::EcP256 => Secret::P256(
                p256::ecdsa::SigningKey::try_generate_from_rng(rng).map_err(rng_failed)?,
            ),
            AsymmetricSpec::EcP256K => Secret::K256(
                k256::ecdsa::SigningKey::try_generate_from_rng(rng).map_err(rng_failed)?,
            ),
            AsymmetricSpec::EcSm2 => {
                Secret::Sm2(sm2::SecretKey::try_generate_from_rng(rng).map_err(rng_failed)?)
            }
        };
        Ok(Self { spec, secret })
    }

    /// The key a DER PKCS#8 `PrivateKeyInfo` holds, which must be a key of `spec` (for RSA, a
    /// modulus of exactly the spec's size; the key's consistency is checked).
    ///
    /// # Errors
    /// [`AsymmetricError::Malformed`] for anything else, a key of another spec included.
    pub fn from_pkcs8_der(spec: AsymmetricSpec, der: &[u8]) -> Result<Self, AsymmetricError> {
        let secret = match spec {
            AsymmetricSpec::Rsa2048 | AsymmetricSpec::Rsa3072 => {
                let key = rsa::PrivateKey::from_pkcs8_der(der).map_err(malformed)?;
                if Some(key.n().bit_width_vartime() as usize) != spec.rsa_bits() {
                    return Err(AsymmetricError::Malformed);
                }
                Secret::Rsa(key)
            }
            AsymmetricSpec::EcP256 => {
                let key = p256::SecretKey::from_pkcs8_der(der).map_err(malformed)?;
                Secret::P256(p256::ecdsa::SigningKey::from(&key))
            }
            AsymmetricSpec::EcP256K => {
                let key = k256::SecretKey::from_pkcs8_der(der).map_err(malformed)?;
                Secret::K256(k256::ecdsa::SigningKey::from(&key))
            }
            AsymmetricSpec::EcSm2 => {
                Secret::Sm2(sm2::SecretKey::from_pkcs8_der(der).map_err(malformed)?)
            }
        };
        Ok(Self { spec, secret })
    }

    /// The key as DER PKCS#8 `PrivateKeyInfo` (for EC keys a SEC1 `ECPrivateKey` inside,
    /// with the curve's OID and the public key), in a buffer zeroized on drop.
    ///
    /// # Errors
    /// [`AsymmetricError::Malformed`] if the encoder fails (not expected).
    pub fn to_pkcs8_der(&self) -> Result<Zeroizing<Vec<u8>>, AsymmetricError> {
        let document = match &self.secret {
            Secret::Rsa(key) => key.to_pkcs8_der(),
            Secret::P256(key) => p256::SecretKey::from(key).to_pkcs8_der(),
            Secret::K256(key) => k256::SecretKey::from(key).to_pkcs8_der(),
            Secret::Sm2(key) => key.to_pkcs8_der(),
        }
        .map_err(malformed)?;
        Ok(Zeroizing::new(document.as_bytes().to_vec()))
    }

    /// The key's spec.
    pub fn spec(&self) -> AsymmetricSpec {
        self.spec
    }

    /// The key's public half.
    pub fn public_key(&self) -> PublicKey {
        let key = match &self.secret {
            Secret::Rsa(key) => Public::Rsa(key.to_public_key()),
            Secret::P256(key) => Public::P256(p256::PublicKey::from(key.verifying_key())),
            Secret::K256(key) => Public::K256(k256::PublicKey::from(key.verifying_key())),
            Secret::Sm2(key) => Public::Sm2(key.public_key()),
        };
        PublicKey {
            spec: self.spec,
            key,
        }
    }

    /// Signs `digest` (the [`DIGEST_LEN`]-byte digest the caller computed, see the module
    /// documentation; it is not hashed again) with `algorithm`, drawing from `rng` (the PSS
    /// salt, the RSA blinding, or the ECDSA and SM2 nonce's added entropy). The signature is
    /// as long as the modulus for RSA, DER for ECDSA and SM2DSA.
    ///
    /// # Errors
    /// [`AsymmetricError::AlgorithmNotAllowed`] for an algorithm the spec does not take, then
    /// [`AsymmetricError::InvalidDigest`] for a digest of another length;
    /// [`AsymmetricError::Rng`] when `rng` fails.
    pub fn sign<R: TryCryptoRng + ?Sized>(
        &self,
        algorithm: SigningAlgorithm,
        digest: &[u8],
        rng: &mut R,
    ) -> Result<Vec<u8>, AsymmetricError> {
        if !algorithm.allowed(self.spec) {
            return Err(AsymmetricError::AlgorithmNotAllowed);
        }
        if digest.len() != DIGEST_LEN {
            return Err(AsymmetricError::InvalidDigest);
        }
        match (&self.secret, algorithm) {
            (Secret::Rsa(key), SigningAlgorithm::RsaPssSha256) => key
                .pss_sign_prehash_with_rng::<sha2::Sha256, R>(rng, digest)
                .map_err(rng_failed),
            (Secret::Rsa(key), SigningAlgorithm::RsaPkcs1Sha256) => key
                .pkcs1v15_sign_prehash_with_rng::<sha2::Sha256, R>(rng, digest)
                .map_err(rng_failed),
            (Secret::P256(key), SigningAlgorithm::EcdsaSha256) => {
                let signature: p256::ecdsa::DerSignature =
                    key.sign_prehash_with_rng(rng, digest).map_err(rng_failed)?;
                Ok(signature.as_bytes().to_vec())
            }
            (Secret::K256(key), SigningAlgorithm::EcdsaSha256) => {
                let signature: k256::ecdsa::DerSignature =
                    key.sign_prehash_with_rng(rng, digest).map_err(rng_failed)?;
                Ok(signature.as_bytes().to_vec())
            }
            (Secret::Sm2(key), SigningAlgorithm::Sm2Dsa) => {
                let key =
                    sm2::dsa::SigningKey::new(SM2_DEFAULT_USER_ID, key).map_err(rng_failed)?;
                let signature: sm2::dsa::Signature =
                    key.sign_prehash_with_rng(rng, digest).map_err(rng_failed)?;
                Ok(signature.to_der().to_vec())
            }
            _ => Err(AsymmetricError::AlgorithmNotAllowed),
        }
    }

    /// Decrypts `ciphertext` (as [`PublicKey::encrypt`] makes it; for `SM2PKE` also GM/T
    /// 0009's DER form) with `algorithm`. Draws no randomness.
    ///
    /// # Errors
    /// [`AsymmetricError::AlgorithmNotAllowed`] for an algorithm the spec does not take;
    /// [`AsymmetricError::DecryptionFailed`] for any ciphertext that does not decrypt.
    pub fn decrypt(
        &self,
        algorithm: EncryptionAlgorithm,
        ciphertext: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, AsymmetricError> {
        if !algorithm.allowed(self.spec) {
            return Err(AsymmetricError::AlgorithmNotAllowed);
        }
        let plaintext = match (&self.secret, algorithm) {
            (Secret::Rsa(key), EncryptionAlgorithm::RsaesOaepSha256) => key
                .oaep_decrypt::<sha2::Sha256>(ciphertext)
                .map_err(decryption_failed)?,
            (Secret::Rsa(key), EncryptionAlgorithm::RsaesOaepSha1) => key
                .oaep_decrypt::<sha1::Sha1>(ciphertext)
                .map_err(decryption_failed)?,
            (Secret::Sm2(key), EncryptionAlgorithm::Sm2Pke) => {
                // At most the longest plaintext plus the DER form's overhead (the raw form's is
                // 97 bytes): anything longer is refused unread.
                if ciphertext.len() > SM2PKE_MAX_PLAINTEXT_LEN + SM2_DER_OVERHEAD_MAX {
                    return Err(AsymmetricError::DecryptionFailed);
                }
                let key = sm2::pke::DecryptingKey::new_with_mode(
                    key.to_nonzero_scalar(),
                    sm2::pke::Mode::C1C3C2,
                );
                let plaintext = match ciphertext.first() {
                    Some(0x04) => key.decrypt(ciphertext),
                    Some(0x30) => key.decrypt_der(ciphertext),
                    _ => return Err(AsymmetricError::DecryptionFailed),
                }
                .map_err(decryption_failed)?;
                // SM2 encrypts no empty plaintext (its key stream would be empty), nor one
                // longer than the limit: a ciphertext of either is not one of ours.
                if plaintext.is_empty() || plaintext.len() > SM2PKE_MAX_PLAINTEXT_LEN {
                    return Err(AsymmetricError::DecryptionFailed);
                }
                plaintext
            }
            _ => return Err(AsymmetricError::AlgorithmNotAllowed),
        };
        Ok(Zeroizing::new(plaintext))
    }
}

/// The public half, one variant per curve or RSA.
#[derive(Clone, PartialEq, Eq)]
enum Public {
    Rsa(rsa::PublicKey),
    P256(p256::PublicKey),
    K256(k256::PublicKey),
    Sm2(sm2::PublicKey),
}

/// A public key of one of the five specs, as a DER `SubjectPublicKeyInfo` names it. Two are
/// equal when they are the same key.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    spec: AsymmetricSpec,
    key: Public,
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicKey")
            .field("spec", &self.spec)
            .finish_non_exhaustive()
    }
}

impl PublicKey {
    /// The key a DER `SubjectPublicKeyInfo` holds, its spec read from it: `rsaEncryption`
    /// with a modulus of exactly 2048 or 3072 bits, or `id-ecPublicKey` with the named curve
    /// prime256v1, secp256k1 or sm2p256v1 (a point on the curve, compressed or not).
    ///
    /// # Errors
    /// [`AsymmetricError::Malformed`] for anything else (another algorithm, curve or key
    /// size, an invalid point or exponent, bytes after the structure).
    pub fn from_spki_der(der: &[u8]) -> Result<Self, AsymmetricError> {
        if let Ok(key) = rsa::PublicKey::from_public_key_der(der) {
            let spec = match key.n().bit_width_vartime() {
                2048 => AsymmetricSpec::Rsa2048,
                3072 => AsymmetricSpec::Rsa3072,
                _ => return Err(AsymmetricError::Malformed),
            };
            return Ok(Self {
                spec,
                key: Public::Rsa(key),
            });
        }
        let (spec, key) = if let Ok(key) = p256::PublicKey::from_public_key_der(der) {
            (AsymmetricSpec::EcP256, Public::P256(key))
        } else if let Ok(key) = k256::PublicKey::from_public_key_der(der) {
            (AsymmetricSpec::EcP256K, Public::K256(key))
        } else if let Ok(key) = sm2::PublicKey::from_public_key_der(der) {
            (AsymmetricSpec::EcSm2, Public::Sm2(key))
        } else {
            return Err(AsymmetricError::Malformed);
        };
        Ok(Self { spec, key })
    }

    /// The key's spec.
    pub fn spec(&self) -> AsymmetricSpec {
        self.spec
    }

    /// The key as a DER `SubjectPublicKeyInfo` (EC points uncompressed).
    ///
    /// # Errors
    /// [`AsymmetricError::Malformed`] if the encoder fails (not expected).
    pub fn to_spki_der(&self) -> Result<Vec<u8>, AsymmetricError> {
        match &self.key {
            Public::Rsa(key) => key.to_public_key_der(),
            Public::P256(key) => key.to_public_key_der(),
            Public::K256(key) => key.to_public_key_der(),
            Public::Sm2(key) => key.to_public_key_der(),
        }
        .map(|document| document.into_vec())
        .map_err(malformed)
    }

    /// The key as PEM: the `SubjectPublicKeyInfo` of [`to_spki_der`](Self::to_spki_der)
    /// between `-----BEGIN PUBLIC KEY-----` and `-----END PUBLIC KEY-----`, Base64 in lines of
    /// 64 characters, LF line endings, ending with a LF.
    ///
    /// # Errors
    /// As [`to_spki_der`](Self::to_spki_der).
    pub fn to_pem(&self) -> Result<String, AsymmetricError> {
        const BEGIN: &str = "-----BEGIN PUBLIC KEY-----\n";
        const END: &str = "-----END PUBLIC KEY-----\n";
        let base64 = Base64::encode_string(&self.to_spki_der()?);
        let mut pem = String::with_capacity(BEGIN.len() + base64.len() * 65 / 64 + 1 + END.len());
        pem.push_str(BEGIN);
        for line in base64.as_bytes().chunks(64) {
            pem.extend(line.iter().copied().map(char::from));
            pem.push('\n');
        }
        pem.push_str(END);
        Ok(pem)
    }

    /// The digest [`PrivateKey::sign`] and [`verify`](Self::verify) take for `message` under
    /// `algorithm`: SHA-256 of the message for the RSA and ECDSA algorithms; for `SM2DSA`
    /// `SM3(Z_A || message)`, `Z_A` from this key and [`SM2_DEFAULT_USER_ID`].
    ///
    /// # Errors
    /// [`AsymmetricError::AlgorithmNotAllowed`] for an algorithm the spec does not take.
    pub fn message_digest(
        &self,
        algorithm: SigningAlgorithm,
        message: &[u8],
    ) -> Result<[u8; DIGEST_LEN], AsymmetricError> {
        if !algorithm.allowed(self.spec) {
            return Err(AsymmetricError::AlgorithmNotAllowed);
        }
        match &self.key {
            Public::Sm2(key) => {
                let mut sm3 = sm3::Sm3::new();
                sm3.update(sm2_z(key));
                sm3.update(message);
                Ok(sm3.finalize().into())
            }
            _ => Ok(sha2::Sha256::digest(message).into()),
        }
    }

    /// Whether `signature` is a valid signature by this key of `digest` (the
    /// [`DIGEST_LEN`]-byte digest, not hashed again) under `algorithm`: `Ok(false)` for any
    /// signature that is not, however malformed. ECDSA signatures with a high `s` are
    /// accepted. Draws no randomness.
    ///
    /// # Errors
    /// [`AsymmetricError::AlgorithmNotAllowed`] for an algorithm the spec does not take, then
    /// [`AsymmetricError::InvalidDigest`] for a digest of another length.
    pub fn verify(
        &self,
        algorithm: SigningAlgorithm,
        digest: &[u8],
        signature: &[u8],
    ) -> Result<bool, AsymmetricError> {
        if !algorithm.allowed(self.spec) {
            return Err(AsymmetricError::AlgorithmNotAllowed);
        }
        if digest.len() != DIGEST_LEN {
            return Err(AsymmetricError::InvalidDigest);
        }
        let valid = match (&self.key, algorithm) {
            (Public::Rsa(key), SigningAlgorithm::RsaPssSha256) => key
                .pss_verify_prehash::<sha2::Sha256>(digest, signature)
                .is_ok(),
            (Public::Rsa(key), SigningAlgorithm::RsaPkcs1Sha256) => key
                .pkcs1v15_verify_prehash::<sha2::Sha256>(digest, signature)
                .is_ok(),
            (Public::P256(key), SigningAlgorithm::EcdsaSha256) => {
                p256::ecdsa::Signature::from_der(signature).is_ok_and(|signature| {
                    p256::ecdsa::VerifyingKey::from(key)
                        .verify_prehash(digest, &signature.normalize_s())
                        .is_ok()
                })
            }
            (Public::K256(key), SigningAlgorithm::EcdsaSha256) => {
                k256::ecdsa::Signature::from_der(signature).is_ok_and(|signature| {
                    k256::ecdsa::VerifyingKey::from(key)
                        .verify_prehash(digest, &signature.normalize_s())
                        .is_ok()
                })
            }
            (Public::Sm2(key), SigningAlgorithm::Sm2Dsa) => {
                let parsed = sm2::dsa::Signature::from_der(signature);
                let key = sm2::dsa::VerifyingKey::new(SM2_DEFAULT_USER_ID, *key);
                match (parsed, key) {
                    (Ok(signature), Ok(key)) => key.verify_prehash(digest, &signature).is_ok(),
                    _ => false,
                }
            }
            _ => return Err(AsymmetricError::AlgorithmNotAllowed),
        };
        Ok(valid)
    }

    /// Encrypts `plaintext` under this key with `algorithm`, drawing from `rng` (the OAEP
    /// seed, or SM2's ephemeral scalar): as long as the modulus for RSA-OAEP, the raw
    /// `C1 || C3 || C2` for `SM2PKE` (the plaintext's length plus 97 bytes).
    ///
    /// # Errors
    /// [`AsymmetricError::AlgorithmNotAllowed`] for an algorithm the spec does not take;
    /// [`AsymmetricError::PlaintextTooLong`] for a plaintext longer than
    /// [`EncryptionAlgorithm::max_plaintext_len`] (or empty, with `SM2PKE`);
    /// [`AsymmetricError::Rng`] when `rng` fails.
    pub fn encrypt<R: TryCryptoRng + ?Sized>(
        &self,
        algorithm: EncryptionAlgorithm,
        plaintext: &[u8],
        rng: &mut R,
    ) -> Result<Vec<u8>, AsymmetricError> {
        let Some(max) = algorithm.max_plaintext_len(self.spec) else {
            return Err(AsymmetricError::AlgorithmNotAllowed);
        };
        if plaintext.len() > max
            || (algorithm == EncryptionAlgorithm::Sm2Pke && plaintext.is_empty())
        {
            return Err(AsymmetricError::PlaintextTooLong);
        }
        match (&self.key, algorithm) {
            (Public::Rsa(key), EncryptionAlgorithm::RsaesOaepSha256) => key
                .oaep_encrypt_with_rng::<sha2::Sha256, R>(rng, plaintext)
                .map_err(rng_failed),
            (Public::Rsa(key), EncryptionAlgorithm::RsaesOaepSha1) => key
                .oaep_encrypt_with_rng::<sha1::Sha1, R>(rng, plaintext)
                .map_err(rng_failed),
            (Public::Sm2(key), EncryptionAlgorithm::Sm2Pke) => {
                sm2::pke::EncryptingKey::new_with_mode(*key, sm2::pke::Mode::C1C3C2)
                    .encrypt(&mut &mut *rng, plaintext)
                    .map_err(rng_failed)
            }
            _ => Err(AsymmetricError::AlgorithmNotAllowed),
        }
    }
}

/// Any error of the RNG's (or, never expected, of the arithmetic around its draws).
fn rng_failed<E>(_: E) -> AsymmetricError {
    AsymmetricError::Rng
}

/// Any error of a decoder's.
fn malformed<E>(_: E) -> AsymmetricError {
    AsymmetricError::Malformed
}

/// Any error of a decryption's.
fn decryption_failed<E>(_: E) -> AsymmetricError {
    AsymmetricError::DecryptionFailed
}

/// SM2's curve coefficients and base point (GB/T 32918.5), as `Z_A` hashes them.
const SM2_A: [u8; 32] = hex32(b"FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC");
const SM2_B: [u8; 32] = hex32(b"28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93");
const SM2_GX: [u8; 32] = hex32(b"32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7");
const SM2_GY: [u8; 32] = hex32(b"BC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0");

/// 32 bytes from 64 upper-case hex digits, at compile time.
const fn hex32(hex: &[u8; 64]) -> [u8; 32] {
    const fn nibble(c: u8) -> u8 {
        match c {
            b'0'..=b'9' => c - b'0',
            b'A'..=b'F' => c - b'A' + 10,
            _ => panic!("not an upper-case hex digit"),
        }
    }
    let mut out = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        out[i] = nibble(hex[2 * i]) << 4 | nibble(hex[2 * i + 1]);
        i += 1;
    }
    out
}

/// `Z_A = SM3(ENTL_A || ID_A || a || b || x_G || y_G || x_A || y_A)` (GB/T 32918.2 §5.5) for
/// `key` and [`SM2_DEFAULT_USER_ID`].
fn sm2_z(key: &sm2::PublicKey) -> [u8; DIGEST_LEN] {
    // 16 bytes of ID: 128 bits, well within ENTL's two bytes.
    const ENTL: [u8; 2] = ((SM2_DEFAULT_USER_ID.len() * 8) as u16).to_be_bytes();
    let point = key.to_sec1_point(false);
    let mut sm3 = sm3::Sm3::new();
    sm3.update(ENTL);
    sm3.update(SM2_DEFAULT_USER_ID.as_bytes());
    sm3.update(SM2_A);
    sm3.update(SM2_B);
    sm3.update(SM2_GX);
    sm3.update(SM2_GY);
    // The uncompressed SEC1 point is 0x04 || x || y.
    sm3.update(point.as_bytes().get(1..).unwrap_or_default());
    sm3.finalize().into()
}
