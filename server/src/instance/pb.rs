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
    fn debug_never_shows_a_plaintext() {
        let r = DecryptResponse {
            plaintext: b"top secret".to_vec(),
            ..Default::default()
        };
        let shown = format!("{r:?}");
        assert!(!shown.contains("116"), "{shown}"); // 't' as a number
        assert!(shown.contains("<10 bytes>"), "{shown}");
    }
}
