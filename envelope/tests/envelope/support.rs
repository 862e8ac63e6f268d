//! Shared helpers: a provider, data keys bound to contexts, sealing, and an observed open.

use kms_core::blob::BlobBuf;
use kms_core::context::ContextBuf;
use kms_core::ops::{self, GenerateDataKeyRequest};
use kms_core::rand_core::SeedableRng;
use kms_core::{
    Caller, DataKeyLength, FixedCapacityProvider, InMemoryProvider, KeyId, KeyOptions, KeyProvider,
    KeyVersionId, MasterKeyMaterial,
};
use kms_envelope::{self as envelope, DataKey, EnvelopeError, Header, Opener, SealParams};
use rand_chacha::ChaCha8Rng;

pub const ACCOUNT: &str = "1234567890123456";
pub const REGION: &str = "cn-hangzhou";
/// The context most tests bind.
pub const CONTEXT: &[(&str, &str)] = &[("file", "report.pdf"), ("tenant", "42")];

pub fn caller() -> Caller<'static> {
    Caller::new(ACCOUNT, REGION)
}

/// A deterministic RNG for a test case; a test RNG, not a secret one.
pub fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

pub fn context(pairs: &[(&str, &str)]) -> ContextBuf {
    ContextBuf::from_pairs(pairs.iter().copied()).expect("a valid context")
}

/// A provider with one AES-256 master key.
pub fn provider() -> (InMemoryProvider, KeyId) {
    let mut p = InMemoryProvider::new();
    let key = p
        .create_key(&mut rng(0xe7e1), &KeyOptions::new(ACCOUNT, REGION))
        .expect("create_key");
    (p, key)
}

/// The IDs and material of [`fixed_provider`]'s key: known, so that `independent` can open
/// what it seals.
pub const FIXED_KEY_ID: &str = "0f1e2d3c-4b5a-4697-8879-6a5b4c3d2e1f";
pub const FIXED_VERSION_ID: &[u8; 36] = b"5e4d3c2b-1a09-4f8e-9d7c-6b5a49382716";
pub const FIXED_MATERIAL: [u8; 32] = [0x42; 32];

/// A provider with one AES-256 master key of known IDs and material.
pub fn fixed_provider() -> (FixedCapacityProvider<1>, KeyId) {
    let mut p = FixedCapacityProvider::new(ACCOUNT, REGION).unwrap();
    let key = KeyId::parse(FIXED_KEY_ID).unwrap();
    let material = MasterKeyMaterial::from_slice(&FIXED_MATERIAL).unwrap();
    p.add_key(
        key,
        KeyVersionId::parse(FIXED_VERSION_ID).unwrap(),
        material,
    )
    .unwrap();
    (p, key)
}

/// [`fixed_provider`]'s key, as `independent` takes it.
pub fn fixed_master() -> crate::independent::MasterKey<'static> {
    crate::independent::MasterKey {
        version_id: FIXED_VERSION_ID,
        material: &FIXED_MATERIAL,
    }
}

/// A data key from GenerateDataKey, its blob, and the context it is bound to.
pub struct Made {
    pub data_key: DataKey,
    pub blob: BlobBuf,
    pub context: ContextBuf,
}

/// GenerateDataKey for a key of `len` bytes bound to `pairs`.
pub fn data_key<P: KeyProvider + ?Sized>(
    provider: &P,
    key: &KeyId,
    len: usize,
    pairs: &[(&str, &str)],
    seed: u64,
) -> Made {
    let context = context(pairs);
    let request = GenerateDataKeyRequest::new(key)
        .with_length(DataKeyLength::new(len).expect("a length"))
        .with_context(&context);
    let generated = ops::generate_data_key(provider, &caller(), &request, &mut rng(seed))
        .expect("GenerateDataKey")
        .done()
        .expect("not a dry run");
    Made {
        data_key: DataKey::try_from(&generated).expect("data key"),
        blob: generated.ciphertext_blob,
        context,
    }
}

impl Made {
    pub fn params(&self, segment_size: u32) -> SealParams<'_> {
        SealParams::new(&self.blob)
            .with_context(&self.context)
            .with_segment_size(segment_size)
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

/// The closure the whole-buffer openers take: Decrypt against `provider`.
pub fn unlock<P: KeyProvider + ?Sized>(
    provider: &P,
) -> impl Fn(&Header<'_>) -> Result<DataKey, EnvelopeError> + '_ {
    move |h| h.decrypt(provider, &caller(), &mut rng(9))
}

/// Opens `file` through the push API, in pieces of `chunk` bytes, with Decrypt against
/// `provider`: what the opener released, and how it ended.
pub fn open_observed<P: KeyProvider + ?Sized>(
    provider: &P,
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

/// The sealed segments of a file, after its header.
pub fn segments(file: &[u8], header_len: usize, segment_size: usize) -> Vec<Vec<u8>> {
    file[header_len..]
        .chunks(segment_size + 16)
        .map(<[u8]>::to_vec)
        .collect()
}

pub fn assemble(header: &[u8], segments: &[Vec<u8>]) -> Vec<u8> {
    let mut out = header.to_vec();
    for s in segments {
        out.extend_from_slice(s);
    }
    out
}

/// A copy of `file` with `value` written at `at`.
pub fn with_bytes(file: &[u8], at: usize, value: &[u8]) -> Vec<u8> {
    let mut out = file.to_vec();
    out[at..at + value.len()].copy_from_slice(value);
    out
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
