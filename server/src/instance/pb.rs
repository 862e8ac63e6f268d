//! The KMS-instance API's protobuf messages (package `protobuf` of the instance SDK), written
//! with `prost`'s derive macros from the field table of `KMS-INSTANCE.md` §3: no `.proto` file,
//! no `protoc` at build time. Field numbers are the wire contract; `tests/instance.rs` pins
//! them against bytes the official SDK writes.
//!
//! proto3: a field equal to its default (empty string or bytes, zero) is not written, and one
//! that is absent decodes as the default. The server treats absent and empty alike, as the SDK
//! does (it drops empty fields).
//!
//! The `Debug` of every message that carries a plaintext is written by hand and shows only
//! its length.

use prost::Message;
use zeroize::Zeroize;

/// Shows a byte field as its length only (plaintexts, data keys, random bytes).
struct Len(usize);

impl std::fmt::Debug for Len {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<{} bytes>", self.0)
    }
}

/// `Encrypt` and `AdvanceEncrypt` requests.
#[derive(Clone, PartialEq, Message)]
#[prost(skip_debug)]
pub struct EncryptRequest {
    /// The key: ID, alias or ARN.
    #[prost(string, tag = "1")]
    pub key_id: String,
    /// What to encrypt.
    #[prost(bytes = "vec", tag = "2")]
    pub plaintext: Vec<u8>,
    /// `AES_GCM` (the default when empty).
    #[prost(string, tag = "3")]
    pub algorithm: String,
    /// The GCM associated data.
    #[prost(bytes = "vec", tag = "4")]
    pub aad: Vec<u8>,
    /// A caller-chosen IV (12 bytes); drawn when empty.
    #[prost(bytes = "vec", tag = "5")]
    pub iv: Vec<u8>,
    /// Ignored for AES_GCM.
    #[prost(string, tag = "6")]
    pub padding_mode: String,
}

impl std::fmt::Debug for EncryptRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EncryptRequest")
            .field("key_id", &self.key_id)
            .field("plaintext", &Len(self.plaintext.len()))
            .field("algorithm", &self.algorithm)
            .field("aad", &Len(self.aad.len()))
            .field("iv", &self.iv)
            .field("padding_mode", &self.padding_mode)
            .finish()
    }
}

/// `Encrypt` response.
#[derive(Clone, PartialEq, Message)]
pub struct EncryptResponse {
    /// The key's ID.
    #[prost(string, tag = "1")]
    pub key_id: String,
    /// `ciphertext ‖ tag`.
    #[prost(bytes = "vec", tag = "2")]
    pub ciphertext_blob: Vec<u8>,
    /// The IV used.
    #[prost(bytes = "vec", tag = "3")]
    pub iv: Vec<u8>,
    /// The request ID.
    #[prost(string, tag = "4")]
    pub request_id: String,
    /// `AES_GCM`.
    #[prost(string, tag = "5")]
    pub algorithm: String,
    /// Empty for AES_GCM.
    #[prost(string, tag = "6")]
    pub padding_mode: String,
}

/// `AdvanceEncrypt` response: [`EncryptResponse`]'s fields and the key version.
#[derive(Clone, PartialEq, Message)]
pub struct AdvanceEncryptResponse {
    /// The key's ID.
    #[prost(string, tag = "1")]
    pub key_id: String,
    /// The Advance blob.
    #[prost(bytes = "vec", tag = "2")]
    pub ciphertext_blob: Vec<u8>,
    /// The IV used.
    #[prost(bytes = "vec", tag = "3")]
    pub iv: Vec<u8>,
    /// The request ID.
    #[prost(string, tag = "4")]
    pub request_id: String,
    /// `AES_GCM`.
    #[prost(string, tag = "5")]
    pub algorithm: String,
    /// Empty for AES_GCM.
    #[prost(string, tag = "6")]
    pub padding_mode: String,
    /// The version that sealed.
    #[prost(string, tag = "7")]
    pub key_version_id: String,
}

/// `Decrypt` and `AdvanceDecrypt` requests.
#[derive(Clone, PartialEq, Message)]
pub struct DecryptRequest {
    /// The blob.
    #[prost(bytes = "vec", tag = "1")]
    pub ciphertext_blob: Vec<u8>,
    /// The key: ID, alias or ARN (optional for AdvanceDecrypt).
    #[prost(string, tag = "2")]
    pub key_id: String,
    /// `AES_GCM` (the default when empty).
    #[prost(string, tag = "3")]
    pub algorithm: String,
    /// The GCM associated data given at encryption.
    #[prost(bytes = "vec", tag = "4")]
    pub aad: Vec<u8>,
    /// The IV (required by Decrypt; AdvanceDecrypt reads it from the blob).
    #[prost(bytes = "vec", tag = "5")]
    pub iv: Vec<u8>,
    /// Ignored for AES_GCM.
    #[prost(string, tag = "6")]
    pub padding_mode: String,
}

/// `Decrypt` response.
#[derive(Clone, PartialEq, Message)]
#[prost(skip_debug)]
pub struct DecryptResponse {
    /// The key's ID.
    #[prost(string, tag = "1")]
    pub key_id: String,
    /// The plaintext.
    #[prost(bytes = "vec", tag = "2")]
    pub plaintext: Vec<u8>,
    /// The request ID.
    #[prost(string, tag = "3")]
    pub request_id: String,
    /// `AES_GCM`.
    #[prost(string, tag = "4")]
    pub algorithm: String,
    /// Empty for AES_GCM.
    #[prost(string, tag = "5")]
    pub padding_mode: String,
}

impl std::fmt::Debug for DecryptResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DecryptResponse")
            .field("key_id", &self.key_id)
            .field("plaintext", &Len(self.plaintext.len()))
            .field("request_id", &self.request_id)
            .finish_non_exhaustive()
    }
}

/// `AdvanceDecrypt` response: [`DecryptResponse`]'s fields and the key version.
#[derive(Clone, PartialEq, Message)]
#[prost(skip_debug)]
pub struct AdvanceDecryptResponse {
    /// The key's ID (the blob's).
    #[prost(string, tag = "1")]
    pub key_id: String,
    /// The plaintext.
    #[prost(bytes = "vec", tag = "2")]
    pub plaintext: Vec<u8>,
    /// The request ID.
    #[prost(string, tag = "3")]
    pub request_id: String,
    /// `AES_GCM`.
    #[prost(string, tag = "4")]
    pub algorithm: String,
    /// Empty for AES_GCM.
    #[prost(string, tag = "5")]
    pub padding_mode: String,
    /// The version named in the blob.
    #[prost(string, tag = "6")]
    pub key_version_id: String,
}

impl std::fmt::Debug for AdvanceDecryptResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdvanceDecryptResponse")
            .field("key_id", &self.key_id)
            .field("plaintext", &Len(self.plaintext.len()))
            .field("request_id", &self.request_id)
            .field("key_version_id", &self.key_version_id)
            .finish_non_exhaustive()
    }
}

/// `GenerateDataKey` request.
#[derive(Clone, PartialEq, Message)]
pub struct GenerateDataKeyRequest {
    /// The key: ID, alias or ARN.
    #[prost(string, tag = "1")]
    pub key_id: String,
    /// `AES_GCM` (the default when empty).
    #[prost(string, tag = "2")]
    pub algorithm: String,
    /// 1..=1024; 32 when absent.
    #[prost(int32, tag = "3")]
    pub number_of_bytes: i32,
    /// The GCM associated data.
    #[prost(bytes = "vec", tag = "4")]
    pub aad: Vec<u8>,
}

/// `AdvanceGenerateDataKey` request (no Algorithm field).
#[derive(Clone, PartialEq, Message)]
pub struct AdvanceGenerateDataKeyRequest {
    /// The key: ID, alias or ARN.
    #[prost(string, tag = "1")]
    pub key_id: String,
    /// 1..=1024; 32 when absent.
    #[prost(int32, tag = "2")]
    pub number_of_bytes: i32,
    /// The GCM associated data.
    #[prost(bytes = "vec", tag = "3")]
    pub aad: Vec<u8>,
}

/// `GenerateDataKey` response.
#[derive(Clone, PartialEq, Message)]
#[prost(skip_debug)]
pub struct GenerateDataKeyResponse {
    /// The key's ID.
    #[prost(string, tag = "1")]
    pub key_id: String,
    /// The IV of the seal.
    #[prost(bytes = "vec", tag = "2")]
    pub iv: Vec<u8>,
    /// The data key, raw.
    #[prost(bytes = "vec", tag = "3")]
    pub plaintext: Vec<u8>,
    /// The sealed data key.
    #[prost(bytes = "vec", tag = "4")]
    pub ciphertext_blob: Vec<u8>,
    /// The request ID.
    #[prost(string, tag = "5")]
    pub request_id: String,
    /// `AES_GCM`.
    #[prost(string, tag = "6")]
    pub algorithm: String,
}

impl std::fmt::Debug for GenerateDataKeyResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GenerateDataKeyResponse")
            .field("key_id", &self.key_id)
            .field("plaintext", &Len(self.plaintext.len()))
            .field("ciphertext_blob", &Len(self.ciphertext_blob.len()))
            .field("request_id", &self.request_id)
            .finish_non_exhaustive()
    }
}

/// `AdvanceGenerateDataKey` response: [`GenerateDataKeyResponse`]'s fields and the version.
#[derive(Clone, PartialEq, Message)]
#[prost(skip_debug)]
pub struct AdvanceGenerateDataKeyResponse {
    /// The key's ID.
    #[prost(string, tag = "1")]
    pub key_id: String,
    /// The IV of the seal.
    #[prost(bytes = "vec", tag = "2")]
    pub iv: Vec<u8>,
    /// The data key, raw.
    #[prost(bytes = "vec", tag = "3")]
    pub plaintext: Vec<u8>,
    /// The Advance blob of the data key.
    #[prost(bytes = "vec", tag = "4")]
    pub ciphertext_blob: Vec<u8>,
    /// The request ID.
    #[prost(string, tag = "5")]
    pub request_id: String,
    /// `AES_GCM`.
    #[prost(string, tag = "6")]
    pub algorithm: String,
    /// The version that sealed.
    #[prost(string, tag = "7")]
    pub key_version_id: String,
}

impl std::fmt::Debug for AdvanceGenerateDataKeyResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdvanceGenerateDataKeyResponse")
            .field("key_id", &self.key_id)
            .field("plaintext", &Len(self.plaintext.len()))
            .field("ciphertext_blob", &Len(self.ciphertext_blob.len()))
            .field("request_id", &self.request_id)
            .field("key_version_id", &self.key_version_id)
            .finish_non_exhaustive()
    }
}

/// `GenerateRandom` request.
#[derive(Clone, PartialEq, Message)]
pub struct GenerateRandomRequest {
    /// 1..=1024.
    #[prost(int32, tag = "1")]
    pub length: i32,
}

/// `GenerateRandom` response.
#[derive(Clone, PartialEq, Message)]
#[prost(skip_debug)]
pub struct GenerateRandomResponse {
    /// The random bytes.
    #[prost(bytes = "vec", tag = "1")]
    pub random: Vec<u8>,
    /// The request ID.
    #[prost(string, tag = "2")]
    pub request_id: String,
}

impl std::fmt::Debug for GenerateRandomResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GenerateRandomResponse")
            .field("random", &Len(self.random.len()))
            .field("request_id", &self.request_id)
            .finish()
    }
}

/// `GetPublicKey` request (no version: the key's primary version is used).
#[derive(Clone, PartialEq, Message)]
pub struct GetPublicKeyRequest {
    /// The key: ID, alias or ARN.
    #[prost(string, tag = "1")]
    pub key_id: String,
}

/// `GetPublicKey` response.
#[derive(Clone, PartialEq, Message)]
pub struct GetPublicKeyResponse {
    /// The key's ID.
    #[prost(string, tag = "1")]
    pub key_id: String,
    /// The public key: PEM `SubjectPublicKeyInfo` (a string here, unlike the data key pairs').
    #[prost(string, tag = "2")]
    pub public_key: String,
    /// The request ID.
    #[prost(string, tag = "3")]
    pub request_id: String,
}

/// `Sign` request. SDK 1.0.2 sends `Message` and `MessageType`, never `Digest`.
#[derive(Clone, PartialEq, Message)]
#[prost(skip_debug)]
pub struct SignRequest {
    /// The key: ID, alias or ARN.
    #[prost(string, tag = "1")]
    pub key_id: String,
    /// A 32-byte digest (means `MessageType` `DIGEST`).
    #[prost(bytes = "vec", tag = "2")]
    pub digest: Vec<u8>,
    /// The signing algorithm; the key spec's default when empty.
    #[prost(string, tag = "3")]
    pub algorithm: String,
    /// The message (`RAW`) or its digest (`DIGEST`).
    #[prost(bytes = "vec", tag = "4")]
    pub message: Vec<u8>,
    /// `RAW` (the default when empty) or `DIGEST`.
    #[prost(string, tag = "5")]
    pub message_type: String,
}

impl std::fmt::Debug for SignRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignRequest")
            .field("key_id", &self.key_id)
            .field("digest", &Len(self.digest.len()))
            .field("algorithm", &self.algorithm)
            .field("message", &Len(self.message.len()))
            .field("message_type", &self.message_type)
            .finish()
    }
}

/// `Sign` response.
#[derive(Clone, PartialEq, Message)]
pub struct SignResponse {
    /// The key's ID.
    #[prost(string, tag = "1")]
    pub key_id: String,
    /// The signature: raw for RSA, DER for ECDSA and SM2DSA.
    #[prost(bytes = "vec", tag = "2")]
    pub signature: Vec<u8>,
    /// The request ID.
    #[prost(string, tag = "3")]
    pub request_id: String,
    /// The algorithm used.
    #[prost(string, tag = "4")]
    pub algorithm: String,
    /// The message type used.
    #[prost(string, tag = "5")]
    pub message_type: String,
}

/// `Verify` request.
#[derive(Clone, PartialEq, Message)]
#[prost(skip_debug)]
pub struct VerifyRequest {
    /// The key: ID, alias or ARN.
    #[prost(string, tag = "1")]
    pub key_id: String,
    /// A 32-byte digest (means `MessageType` `DIGEST`).
    #[prost(bytes = "vec", tag = "2")]
    pub digest: Vec<u8>,
    /// The signature to check.
    #[prost(bytes = "vec", tag = "3")]
    pub signature: Vec<u8>,
    /// The signing algorithm; the key spec's default when empty.
    #[prost(string, tag = "4")]
    pub algorithm: String,
    /// The message (`RAW`) or its digest (`DIGEST`).
    #[prost(bytes = "vec", tag = "5")]
    pub message: Vec<u8>,
    /// `RAW` (the default when empty) or `DIGEST`.
    #[prost(string, tag = "6")]
    pub message_type: String,
}

impl std::fmt::Debug for VerifyRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyRequest")
            .field("key_id", &self.key_id)
            .field("digest", &Len(self.digest.len()))
            .field("signature", &Len(self.signature.len()))
            .field("algorithm", &self.algorithm)
            .field("message", &Len(self.message.len()))
            .field("message_type", &self.message_type)
            .finish()
    }
}

/// `Verify` response.
#[derive(Clone, PartialEq, Message)]
pub struct VerifyResponse {
    /// The key's ID.
    #[prost(string, tag = "1")]
    pub key_id: String,
    /// Whether the signature verified.
    #[prost(bool, tag = "2")]
    pub value: bool,
    /// The request ID.
    #[prost(string, tag = "3")]
    pub request_id: String,
    /// The algorithm used.
    #[prost(string, tag = "4")]
    pub algorithm: String,
    /// The message type used.
    #[prost(string, tag = "5")]
    pub message_type: String,
}

/// `GenerateDataKeyPair` and `GenerateDataKeyPairWithoutPlaintext` requests.
#[derive(Clone, PartialEq, Message)]
pub struct GenerateDataKeyPairRequest {
    /// The symmetric key that seals the private key: ID, alias or ARN.
    #[prost(string, tag = "1")]
    pub key_id: String,
    /// `AES_GCM` (the default when empty).
    #[prost(string, tag = "2")]
    pub algorithm: String,
    /// `RSA_2048`, `RSA_3072`, `EC_P256`, `EC_P256K` or `EC_SM2`.
    #[prost(string, tag = "3")]
    pub key_pair_spec: String,
    /// `PEM` (the default when empty) or `DER`.
    #[prost(string, tag = "4")]
    pub key_format: String,
    /// The GCM associated data.
    #[prost(bytes = "vec", tag = "5")]
    pub aad: Vec<u8>,
}

/// `AdvanceGenerateDataKeyPair` and `AdvanceGenerateDataKeyPairWithoutPlaintext` requests
/// (no `Algorithm`).
#[derive(Clone, PartialEq, Message)]
pub struct AdvanceGenerateDataKeyPairRequest {
    /// The symmetric key that seals the private key: ID, alias or ARN.
    #[prost(string, tag = "1")]
    pub key_id: String,
    /// `RSA_2048`, `RSA_3072`, `EC_P256`, `EC_P256K` or `EC_SM2`.
    #[prost(string, tag = "2")]
    pub key_pair_spec: String,
    /// `PEM` (the default when empty) or `DER`.
    #[prost(string, tag = "3")]
    pub key_format: String,
    /// The GCM associated data.
    #[prost(bytes = "vec", tag = "4")]
    pub aad: Vec<u8>,
}

/// `GenerateDataKeyPair` response.
#[derive(Clone, PartialEq, Message)]
#[prost(skip_debug)]
pub struct GenerateDataKeyPairResponse {
    /// The sealing key's ID.
    #[prost(string, tag = "1")]
    pub key_id: String,
    /// The IV of the seal.
    #[prost(bytes = "vec", tag = "2")]
    pub iv: Vec<u8>,
    /// The key pair's spec.
    #[prost(string, tag = "3")]
    pub key_pair_spec: String,
    /// The private key (PKCS#8, PEM or DER).
    #[prost(bytes = "vec", tag = "4")]
    pub private_key_plaintext: Vec<u8>,
    /// The sealed private key: `ciphertext ‖ tag`.
    #[prost(bytes = "vec", tag = "5")]
    pub private_key_ciphertext_blob: Vec<u8>,
    /// The public key (SPKI, PEM or DER).
    #[prost(bytes = "vec", tag = "6")]
    pub public_key: Vec<u8>,
    /// The request ID.
    #[prost(string, tag = "7")]
    pub request_id: String,
    /// `AES_GCM`.
    #[prost(string, tag = "8")]
    pub algorithm: String,
}

/// `GenerateDataKeyPairWithoutPlaintext` response.
#[derive(Clone, PartialEq, Message)]
pub struct GenerateDataKeyPairWithoutPlaintextResponse {
    /// The sealing key's ID.
    #[prost(string, tag = "1")]
    pub key_id: String,
    /// The IV of the seal.
    #[prost(bytes = "vec", tag = "2")]
    pub iv: Vec<u8>,
    /// The key pair's spec.
    #[prost(string, tag = "3")]
    pub key_pair_spec: String,
    /// The sealed private key: `ciphertext ‖ tag`.
    #[prost(bytes = "vec", tag = "4")]
    pub private_key_ciphertext_blob: Vec<u8>,
    /// The public key (SPKI, PEM or DER).
    #[prost(bytes = "vec", tag = "5")]
    pub public_key: Vec<u8>,
    /// The request ID.
    #[prost(string, tag = "6")]
    pub request_id: String,
    /// `AES_GCM`.
    #[prost(string, tag = "7")]
    pub algorithm: String,
}

/// `AdvanceGenerateDataKeyPair` response: [`GenerateDataKeyPairResponse`]'s fields and the
/// version.
#[derive(Clone, PartialEq, Message)]
#[prost(skip_debug)]
pub struct AdvanceGenerateDataKeyPairResponse {
    /// The sealing key's ID.
    #[prost(string, tag = "1")]
    pub key_id: String,
    /// The IV of the seal (also in the blob).
    #[prost(bytes = "vec", tag = "2")]
    pub iv: Vec<u8>,
    /// The key pair's spec.
    #[prost(string, tag = "3")]
    pub key_pair_spec: String,
    /// The private key (PKCS#8, PEM or DER).
    #[prost(bytes = "vec", tag = "4")]
    pub private_key_plaintext: Vec<u8>,
    /// The sealed private key: the Advance blob.
    #[prost(bytes = "vec", tag = "5")]
    pub private_key_ciphertext_blob: Vec<u8>,
    /// The public key (SPKI, PEM or DER).
    #[prost(bytes = "vec", tag = "6")]
    pub public_key: Vec<u8>,
    /// The request ID.
    #[prost(string, tag = "7")]
    pub request_id: String,
    /// `AES_GCM`.
    #[prost(string, tag = "8")]
    pub algorithm: String,
    /// The version that sealed.
    #[prost(string, tag = "9")]
    pub key_version_id: String,
}

/// `AdvanceGenerateDataKeyPairWithoutPlaintext` response.
#[derive(Clone, PartialEq, Message)]
pub struct AdvanceGenerateDataKeyPairWithoutPlaintextResponse {
    /// The sealing key's ID.
    #[prost(string, tag = "1")]
    pub key_id: String,
    /// The IV of the seal (also in the blob).
    #[prost(bytes = "vec", tag = "2")]
    pub iv: Vec<u8>,
    /// The key pair's spec.
    #[prost(string, tag = "3")]
    pub key_pair_spec: String,
    /// The sealed private key: the Advance blob.
    #[prost(bytes = "vec", tag = "4")]
    pub private_key_ciphertext_blob: Vec<u8>,
    /// The public key (SPKI, PEM or DER).
    #[prost(bytes = "vec", tag = "5")]
    pub public_key: Vec<u8>,
    /// The request ID.
    #[prost(string, tag = "6")]
    pub request_id: String,
    /// `AES_GCM`.
    #[prost(string, tag = "7")]
    pub algorithm: String,
    /// The version that sealed.
    #[prost(string, tag = "8")]
    pub key_version_id: String,
}

/// Shows a data key pair response without its private key.
macro_rules! pair_debug {
    ($($message:ident),+) => {
        $(
            impl std::fmt::Debug for $message {
                fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.debug_struct(stringify!($message))
                        .field("key_id", &self.key_id)
                        .field("key_pair_spec", &self.key_pair_spec)
                        .field("private_key_plaintext", &Len(self.private_key_plaintext.len()))
                        .field(
                            "private_key_ciphertext_blob",
                            &Len(self.private_key_ciphertext_blob.len()),
                        )
                        .field("request_id", &self.request_id)
                        .finish_non_exhaustive()
                }
            }
        )+
    };
}

pair_debug!(
    GenerateDataKeyPairResponse,
    AdvanceGenerateDataKeyPairResponse
);

/// Every error's body: `StatusCode` equals the HTTP status.
#[derive(Clone, PartialEq, Message)]
pub struct Error {
    /// The HTTP status.
    #[prost(int32, tag = "1")]
    pub status_code: i32,
    /// The code (`InvalidParam`, `Forbidden.KeyNotFound`, ...).
    #[prost(string, tag = "2")]
    pub error_code: String,
    /// The message.
    #[prost(string, tag = "3")]
    pub error_message: String,
    /// The request ID.
    #[prost(string, tag = "4")]
    pub request_id: String,
}

/// Wipes the plaintext fields of the messages that carry one.
macro_rules! zeroize_fields {
    ($($message:ident { $($field:ident),+ }),+ $(,)?) => {
        $(
            impl Zeroize for $message {
                fn zeroize(&mut self) {
                    $( self.$field.zeroize(); )+
                }
            }
        )+
    };
}

zeroize_fields! {
    EncryptRequest { plaintext },
    DecryptResponse { plaintext },
    AdvanceDecryptResponse { plaintext },
    GenerateDataKeyResponse { plaintext },
    AdvanceGenerateDataKeyResponse { plaintext },
    GenerateRandomResponse { random },
    SignRequest { message, digest },
    VerifyRequest { message, digest },
    GenerateDataKeyPairResponse { private_key_plaintext },
    AdvanceGenerateDataKeyPairResponse { private_key_plaintext },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_numbers_are_the_sdks() {
        // Error { StatusCode = 1 (varint), ErrorCode = 2, ErrorMessage = 3, RequestId = 4 }
        let e = Error {
            status_code: 404,
            error_code: "A".into(),
            error_message: "B".into(),
            request_id: "C".into(),
        };
        assert_eq!(
            e.encode_to_vec(),
            [
                0x08, 0x94, 0x03, 0x12, 1, b'A', 0x1a, 1, b'B', 0x22, 1, b'C'
            ]
        );
        // AdvanceGenerateDataKey: KeyId = 1, NumberOfBytes = 2, Aad = 3.
        let r = AdvanceGenerateDataKeyRequest {
            key_id: "k".into(),
            number_of_bytes: 16,
            aad: vec![7],
        };
        assert_eq!(r.encode_to_vec(), [0x0a, 1, b'k', 0x10, 16, 0x1a, 1, 7]);
        // An empty message is empty on the wire (every field at its default).
        assert!(EncryptRequest::default().encode_to_vec().is_empty());
    }

    #[test]
    fn asymmetric_field_numbers_are_the_sdks() {
        // docs/asymmetric.md §11: the bytes SDK 1.0.2 writes for SignRequest(KeyId="k",
        // Algorithm="ECDSA_SHA_256", Message=32 x 0x01, MessageType="DIGEST").
        let mut sdk = vec![0x0a, 1, b'k', 0x1a, 13];
        sdk.extend_from_slice(b"ECDSA_SHA_256");
        sdk.extend_from_slice(&[0x22, 32]);
        sdk.extend_from_slice(&[1; 32]);
        sdk.extend_from_slice(&[0x2a, 6]);
        sdk.extend_from_slice(b"DIGEST");
        let r = SignRequest::decode(sdk.as_slice()).unwrap();
        assert_eq!(
            (
                r.key_id.as_str(),
                r.algorithm.as_str(),
                r.message_type.as_str()
            ),
            ("k", "ECDSA_SHA_256", "DIGEST")
        );
        assert_eq!((r.message, r.digest.len()), (vec![1; 32], 0));
        // Sign: Digest = 2. Verify: Digest = 2, Signature = 3, Algorithm = 4, Message = 5,
        // MessageType = 6; its response's Value = 2 is a bool.
        let s = SignRequest {
            digest: vec![9],
            ..Default::default()
        };
        assert_eq!(s.encode_to_vec(), [0x12, 1, 9]);
        let v = VerifyRequest {
            key_id: "k".into(),
            digest: vec![1],
            signature: vec![2],
            algorithm: "a".into(),
            message: vec![3],
            message_type: "t".into(),
        };
        assert_eq!(
            v.encode_to_vec(),
            [
                0x0a, 1, b'k', 0x12, 1, 1, 0x1a, 1, 2, 0x22, 1, b'a', 0x2a, 1, 3, 0x32, 1, b't'
            ]
        );
        let v = VerifyResponse {
            value: true,
            ..Default::default()
        };
        assert_eq!(v.encode_to_vec(), [0x10, 1]);
        // GetPublicKeyResponse: PublicKey = 2 is a string.
        let g = GetPublicKeyResponse {
            public_key: "P".into(),
            ..Default::default()
        };
        assert_eq!(g.encode_to_vec(), [0x12, 1, b'P']);
        // GenerateDataKeyPair: KeyId 1, Algorithm 2, KeyPairSpec 3, KeyFormat 4, Aad 5; the
        // Advance request has no Algorithm: KeyPairSpec 2, KeyFormat 3, Aad 4.
        let r = GenerateDataKeyPairRequest {
            key_id: "k".into(),
            algorithm: "A".into(),
            key_pair_spec: "S".into(),
            key_format: "F".into(),
            aad: vec![5],
        };
        assert_eq!(
            r.encode_to_vec(),
            [
                0x0a, 1, b'k', 0x12, 1, b'A', 0x1a, 1, b'S', 0x22, 1, b'F', 0x2a, 1, 5
            ]
        );
        let r = AdvanceGenerateDataKeyPairRequest {
            key_id: "k".into(),
            key_pair_spec: "S".into(),
            key_format: "F".into(),
            aad: vec![5],
        };
        assert_eq!(
            r.encode_to_vec(),
            [0x0a, 1, b'k', 0x12, 1, b'S', 0x1a, 1, b'F', 0x22, 1, 5]
        );
        // The responses: PrivateKeyPlaintext 4, blob 5, PublicKey 6, RequestId 7, Algorithm 8,
        // KeyVersionId 9 (Advance); without plaintext: blob 4, PublicKey 5, RequestId 6,
        // Algorithm 7, KeyVersionId 8 (Advance).
        let r = AdvanceGenerateDataKeyPairResponse {
            private_key_plaintext: vec![4],
            private_key_ciphertext_blob: vec![5],
            public_key: vec![6],
            request_id: "7".into(),
            algorithm: "8".into(),
            key_version_id: "9".into(),
            ..Default::default()
        };
        assert_eq!(
            r.encode_to_vec(),
            [
                0x22, 1, 4, 0x2a, 1, 5, 0x32, 1, 6, 0x3a, 1, b'7', 0x42, 1, b'8', 0x4a, 1, b'9'
            ]
        );
        let r = AdvanceGenerateDataKeyPairWithoutPlaintextResponse {
            key_pair_spec: "3".into(),
            private_key_ciphertext_blob: vec![4],
            public_key: vec![5],
            request_id: "6".into(),
            algorithm: "7".into(),
            key_version_id: "8".into(),
            ..Default::default()
        };
        assert_eq!(
            r.encode_to_vec(),
            [
                0x1a, 1, b'3', 0x22, 1, 4, 0x2a, 1, 5, 0x32, 1, b'6', 0x3a, 1, b'7', 0x42, 1, b'8'
            ]
        );
        let basic = GenerateDataKeyPairResponse {
            private_key_plaintext: vec![4],
            algorithm: "8".into(),
            ..Default::default()
        };
        assert_eq!(basic.encode_to_vec(), [0x22, 1, 4, 0x42, 1, b'8']);
        let basic = GenerateDataKeyPairWithoutPlaintextResponse {
            private_key_ciphertext_blob: vec![4],
            algorithm: "7".into(),
            ..Default::default()
        };
        assert_eq!(basic.encode_to_vec(), [0x22, 1, 4, 0x3a, 1, b'7']);
    }

    #[test]
    fn debug_never_shows_a_plaintext() {
        let r = DecryptResponse {
            plaintext: b"top secret".to_vec(),
            ..Default::default()
        };
        let shown = format!("{r:?}");
        assert!(!shown.contains("116"), "{shown}"); // 't' as a number
        assert!(shown.contains("<10 bytes>"), "{shown}");
        let r = GenerateDataKeyPairResponse {
            private_key_plaintext: b"-----BEGIN PRIVATE KEY-----".to_vec(),
            ..Default::default()
        };
        let shown = format!("{r:?}");
        assert!(!shown.contains("45"), "{shown}"); // '-' as a number
        assert!(shown.contains("<27 bytes>"), "{shown}");
    }
}
