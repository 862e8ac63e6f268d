//! Shared helpers of the envelope tests (`tests/envelope*.rs`).
#![allow(dead_code)] // each test crate uses its own part of this module

use kms_core::envelope::{self, DataKey, EnvelopeError, Header, Opener, SealParams};
use kms_core::rand_core::SeedableRng;
use kms_core::{Caller, GenerateDataKeyRequest, InMemoryProvider, KeyId, KeyOptions};
use rand_chacha::ChaCha8Rng;

pub const ACCOUNT: &str = "1234567890123456";
pub const REGION: &str = "cn-hangzhou";
pub const CONTEXT: &str = r#"{"file":"report.pdf","tenant":"42"}"#;

pub fn caller() -> Caller<'static> {
    Caller::new(ACCOUNT, REGION)
}

/// A deterministic RNG for a test case; a test RNG, not a secret one.
pub fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

/// A provider with one AES-256 master key.
pub fn provider() -> (InMemoryProvider, KeyId) {
    let mut rng = rng(0xe7e1);
    let mut p = InMemoryProvider::new();
    let key = p
        .create_key(&mut rng, &KeyOptions::new(ACCOUNT, REGION))
        .expect("create_key");
    (p, key)
}

/// A data key of `len` bytes bound to `context`: its plaintext and its CiphertextBlob.
pub struct Made {
    pub data_key: DataKey,
    pub blob: String,
    pub context: Option<String>,
}

pub fn data_key(
    provider: &mut InMemoryProvider,
    key: &KeyId,
    len: usize,
    context: Option<&str>,
    seed: u64,
) -> Made {
    let n = len.to_string();
    let request = GenerateDataKeyRequest {
        number_of_bytes: Some(&n),
        encryption_context: context,
        ..GenerateDataKeyRequest::new(key.as_str())
    };
    let response = kms_core::generate_data_key(provider, &caller(), &request, &mut rng(seed))
        .expect("GenerateDataKey");
    Made {
        data_key: DataKey::try_from(&response).expect("data key"),
        blob: response.ciphertext_blob.clone(),
        context: context.map(str::to_string),
    }
}

impl Made {
    pub fn params(&self, segment_size: u32) -> SealParams<'_> {
        SealParams {
            encryption_context: self.context.as_deref(),
            segment_size,
            ..SealParams::new(&self.blob)
        }
    }

    pub fn seal(&self, segment_size: u32, plaintext: &[u8], seed: u64) -> Vec<u8> {
        envelope::seal(
            &self.data_key,
            &self.params(segment_size),
            plaintext,
            &mut rng(seed),
        )
        .expect("seal")
    }
}

/// Opens `file` through the push API, in pieces of `chunk` bytes, with Decrypt against
/// `provider`: what the opener released, and how it ended.
pub fn open_observed(
    provider: &InMemoryProvider,
    file: &[u8],
    chunk: usize,
) -> (Vec<u8>, Result<(), EnvelopeError>) {
    let mut released = Vec::new();
    let result = (|| {
        let header = Header::parse(file)?;
        let data_key = header.decrypt(provider, &caller(), &mut rng(9))?;
        let key = header.unlock(&data_key)?;
        let buffer = vec![0u8; key.segment_size() + 16];
        let mut opener = Opener::new(key, buffer)?;
        let mut emit = |bytes: &[u8]| {
            released.extend_from_slice(bytes);
            Ok::<(), EnvelopeError>(())
        };
        for piece in file[header.encoded_len()..].chunks(chunk.max(1)) {
            opener.push(piece, &mut emit)?;
        }
        opener.finish(&mut emit)
    })();
    (released, result)
}

/// Where segment `i` starts in an envelope with a header of `header_len` bytes.
pub fn segment_at(header_len: usize, segment_size: usize, i: usize) -> usize {
    header_len + i * (segment_size + 16)
}

/// The number of segments of `len` plaintext bytes.
pub fn segment_count(len: usize, segment_size: usize) -> usize {
    len.div_ceil(segment_size).max(1)
}

/// The error of [`FailingRng`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RngFailure;

impl std::fmt::Display for RngFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("rng failure")
    }
}

impl core::error::Error for RngFailure {}

/// An RNG whose every draw fails.
#[derive(Debug, Default)]
pub struct FailingRng;

impl kms_core::rand_core::TryRng for FailingRng {
    type Error = RngFailure;

    fn try_next_u32(&mut self) -> Result<u32, RngFailure> {
        Err(RngFailure)
    }

    fn try_next_u64(&mut self) -> Result<u64, RngFailure> {
        Err(RngFailure)
    }

    fn try_fill_bytes(&mut self, _dst: &mut [u8]) -> Result<(), RngFailure> {
        Err(RngFailure)
    }
}

impl kms_core::rand_core::TryCryptoRng for FailingRng {}

/// Checks what an opener released from a damaged envelope: whole segments from the start of
/// the plaintext, and exactly `segments` of them.
pub fn assert_released(released: &[u8], plaintext: &[u8], segment_size: usize, segments: usize) {
    let expected = (segments * segment_size).min(plaintext.len());
    assert_eq!(
        released.len(),
        expected,
        "released {} bytes, expected {segments} segments",
        released.len()
    );
    assert_eq!(released, &plaintext[..expected]);
}
