//! Benchmarks of every operation against a floor measured in the same run.
//!
//! The floor of a sealing operation is what no implementation of the contract can avoid: an RNG
//! fill of the data-key and IV bytes, a bare `aes-gcm` seal of the same text with a cached
//! cipher, and Base64 of the plaintext and the blob. The floor of Decrypt is Base64 decoding of
//! the blob and a bare open. `scripts/bench_table.py` turns criterion's medians into the ratio
//! table of BENCHMARKS.md.

use std::hint::black_box;

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64ct::{Base64, Encoding};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use kms_core::blob::Iv;
use kms_core::rand_core::{SeedableRng, TryCryptoRng, TryRng};
use kms_core::wire::{
    DecryptParams, EncryptParams, GenerateDataKeyParams, ReEncryptParams, decrypt, decrypt_in,
    encrypt_in, generate_data_key, generate_data_key_in, generate_data_key_without_plaintext_in,
    re_encrypt_in,
};
use kms_core::{
    AeadEngine, Caller, DefaultRng, InMemoryProvider, KeyDirectory, KeyId, KeyOptions,
    MasterKeyMaterial, OsRng, VersionCipher, ops,
};
use rand_chacha::ChaCha20Rng;

const ACCOUNT: &str = "1234567890123456";
const REGION: &str = "cn-hangzhou";

fn caller() -> Caller<'static> {
    Caller::new(ACCOUNT, REGION)
}

fn rng() -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(0x6b6d73)
}

/// A provider with `n` keys; returns it and the ID of the last key made.
fn provider_with(n: usize, rng: &mut ChaCha20Rng) -> (InMemoryProvider, String) {
    let mut provider = InMemoryProvider::new();
    let mut last = String::new();
    for _ in 0..n {
        last = provider
            .create_key(rng, &KeyOptions::new(ACCOUNT, REGION))
            .unwrap()
            .to_string();
    }
    (provider, last)
}

/// A context of `pairs` pairs, as JSON text.
fn context(pairs: usize) -> Option<String> {
    (pairs > 0).then(|| {
        let body: Vec<String> = (0..pairs)
            .map(|i| format!("\"key-{i:03}\":\"value number {i}\""))
            .collect();
        format!("{{{}}}", body.join(","))
    })
}

/// The floor of a seal of `text_len` bytes made from `raw_len` random bytes: RNG fill of the
/// raw bytes and the IV, Base64 of the raw bytes, an `aes-gcm` seal with a cached cipher, and
/// Base64 of the blob.
struct SealFloor {
    cipher: Aes256Gcm,
    raw: Vec<u8>,
    text: Vec<u8>,
    blob: Vec<u8>,
    blob_text: Vec<u8>,
}

impl SealFloor {
    fn new(raw_len: usize) -> Self {
        let text_len = raw_len.div_ceil(3) * 4;
        Self {
            cipher: Aes256Gcm::new(&[7u8; 32].into()),
            raw: vec![0; raw_len],
            text: vec![0; text_len],
            blob: vec![0; 64 + text_len],
            blob_text: vec![0; (64 + text_len).div_ceil(3) * 4],
        }
    }

    /// The GenerateDataKey floor: draw the raw key, encode it, seal the text.
    fn run<R: TryRng>(&mut self, rng: &mut R, aad: &[u8]) -> usize {
        rng.try_fill_bytes(&mut self.raw).ok().unwrap();
        let n = Base64::encode(&self.raw, &mut self.text).unwrap().len();
        let text = &self.text[..n];
        seal_text(
            &self.cipher,
            rng,
            aad,
            text,
            &mut self.blob,
            &mut self.blob_text,
        )
    }
}

/// The Encrypt floor, and the end of every sealing floor: draw the IV, seal `text` into `blob`
/// with a cached cipher, Base64 the blob into `blob_text`.
fn seal_text<R: TryRng>(
    cipher: &Aes256Gcm,
    rng: &mut R,
    aad: &[u8],
    text: &[u8],
    blob: &mut [u8],
    blob_text: &mut [u8],
) -> usize {
    let (head, rest) = blob.split_at_mut(48);
    rng.try_fill_bytes(&mut head[36..48]).ok().unwrap();
    let (body, tag_out) = rest.split_at_mut(text.len());
    body.copy_from_slice(text);
    let iv: [u8; 12] = head[36..48].try_into().unwrap();
    let tag = cipher
        .encrypt_inout_detached(&Nonce::from(iv), aad, body.into())
        .unwrap();
    tag_out.copy_from_slice(&tag);
    Base64::encode(blob, blob_text).unwrap().len()
}

/// One GenerateDataKey through the caller-buffer form; returns the blob's length, so nothing is
/// optimised away.
fn generate_once<R: TryCryptoRng>(
    provider: &InMemoryProvider,
    caller: &Caller<'_>,
    request: &GenerateDataKeyParams<'_>,
    rng: &mut R,
    workspace: &mut [u8],
) -> usize {
    generate_data_key_in(provider, caller, black_box(request), rng, workspace)
        .unwrap()
        .ciphertext_blob
        .len()
}

fn generate(c: &mut Criterion) {
    let mut rng = rng();
    let (provider, key) = provider_with(1, &mut rng);
    let caller = caller();
    let ctx10 = context(10);
    let empty_aad = [0u8; 38];
    let ctx10_len = kms_core::context::ContextBuf::parse_json(ctx10.as_deref())
        .unwrap()
        .canonical()
        .len();
    let ctx10_aad = vec![1u8; 36 + ctx10_len];

    let mut g = c.benchmark_group("generate_data_key");
    let mut floor = SealFloor::new(32);
    g.bench_function("floor/chacha", |b| {
        b.iter(|| floor.run(&mut rng, black_box(&empty_aad)))
    });
    g.bench_function("floor/chacha/ctx10", |b| {
        b.iter(|| floor.run(&mut rng, black_box(&ctx10_aad)))
    });
    g.bench_function("floor/os", |b| {
        b.iter(|| floor.run(&mut OsRng, black_box(&empty_aad)))
    });

    let request = GenerateDataKeyParams::new().key_id(&key);
    let mut workspace = vec![0u8; request.workspace_len()];
    g.bench_function("in/chacha", |b| {
        b.iter(|| generate_once(&provider, &caller, &request, &mut rng, &mut workspace))
    });
    g.bench_function("owned/chacha", |b| {
        b.iter(|| generate_data_key(&provider, &caller, black_box(&request), &mut rng).unwrap())
    });
    g.bench_function("owned/os", |b| {
        b.iter(|| generate_data_key(&provider, &caller, black_box(&request), &mut OsRng).unwrap())
    });
    // What the quickstart and kms-server use.
    let mut default_rng = DefaultRng::new().unwrap();
    g.bench_function("owned/default", |b| {
        b.iter(|| {
            generate_data_key(&provider, &caller, black_box(&request), &mut default_rng).unwrap()
        })
    });
    // The same provider with `ring`'s AES-GCM behind the seam.
    #[cfg(feature = "ring")]
    {
        let mut ring_provider = provider_with(0, &mut rng).0;
        let ring_key = ring_provider
            .create_key(&mut rng, &KeyOptions::new(ACCOUNT, REGION))
            .unwrap()
            .to_string();
        ring_provider.set_engine(AeadEngine::Ring);
        let request = GenerateDataKeyParams::new().key_id(&ring_key);
        g.bench_function("in/chacha/ring_engine", |b| {
            b.iter(|| generate_once(&ring_provider, &caller, &request, &mut rng, &mut workspace))
        });
        g.bench_function("owned/default/ring_engine", |b| {
            b.iter(|| {
                generate_data_key(
                    &ring_provider,
                    &caller,
                    black_box(&request),
                    &mut default_rng,
                )
                .unwrap()
            })
        });
    }
    let request10 = GenerateDataKeyParams::new()
        .key_id(&key)
        .encryption_context(ctx10.as_deref().unwrap());
    let mut workspace10 = vec![0u8; request10.workspace_len()];
    g.bench_function("in/chacha/ctx10", |b| {
        b.iter(|| generate_once(&provider, &caller, &request10, &mut rng, &mut workspace10))
    });

    // The typed layer: no text to parse, the raw blob out.
    let key_id = KeyId::parse(&key).unwrap();
    let typed = ops::GenerateDataKeyRequest::new(key_id);
    let mut typed_workspace = vec![0u8; typed.workspace_len()];
    g.bench_function("typed/chacha", |b| {
        b.iter(|| {
            ops::generate_data_key_in(
                &provider,
                &caller,
                black_box(&typed),
                &mut rng,
                &mut typed_workspace,
            )
            .unwrap()
            .done()
            .unwrap()
            .ciphertext_blob
            .as_bytes()
            .len()
        })
    });

    // What a Rust user would otherwise write: ring, a cached master key, random data key and
    // nonce, seal the raw key bytes.
    let ring_rng = ring::rand::SystemRandom::new();
    let ring_key = ring::aead::LessSafeKey::new(
        ring::aead::UnboundKey::new(&ring::aead::AES_256_GCM, &[7u8; 32]).unwrap(),
    );
    g.bench_function("ring/os", |b| {
        b.iter(|| {
            let mut data_key = [0u8; 32];
            let mut nonce = [0u8; 12];
            ring::rand::SecureRandom::fill(&ring_rng, &mut data_key).unwrap();
            ring::rand::SecureRandom::fill(&ring_rng, &mut nonce).unwrap();
            let mut sealed = data_key;
            let tag = ring_key
                .seal_in_place_separate_tag(
                    ring::aead::Nonce::assume_unique_for_key(nonce),
                    ring::aead::Aad::from(black_box(&empty_aad)),
                    &mut sealed,
                )
                .unwrap();
            (sealed, tag.as_ref()[0])
        })
    });
    g.finish();
}

fn others(c: &mut Criterion) {
    let mut rng = rng();
    let (mut provider, key) = provider_with(1, &mut rng);
    let dest = provider
        .create_key(&mut rng, &KeyOptions::new(ACCOUNT, REGION))
        .unwrap()
        .to_string();
    let provider = provider;
    let caller = caller();
    let made = generate_data_key(
        &provider,
        &caller,
        &GenerateDataKeyParams::new().key_id(&key),
        &mut rng,
    )
    .unwrap();
    let blob = made.ciphertext_blob.clone();
    let aad = [0u8; 38];

    // Decrypt and its floor: Base64 decoding of the blob and a bare open.
    let mut g = c.benchmark_group("decrypt");
    let cipher = Aes256Gcm::new(&[7u8; 32].into());
    let mut sealed = [0u8; 44];
    let floor_tag = cipher
        .encrypt_inout_detached(&Nonce::from([1u8; 12]), &aad, (&mut sealed[..]).into())
        .unwrap();
    let mut floor_blob = [0u8; 108];
    floor_blob[36..48].copy_from_slice(&[1u8; 12]);
    floor_blob[48..92].copy_from_slice(&sealed);
    floor_blob[92..].copy_from_slice(&floor_tag);
    let floor_text = Base64::encode_string(&floor_blob);
    let mut buf = [0u8; 111];
    g.bench_function("floor", |b| {
        b.iter(|| {
            let decoded = Base64::decode(black_box(&floor_text), &mut buf).unwrap();
            let mut body = [0u8; 44];
            body.copy_from_slice(&decoded[48..92]);
            let tag: [u8; 16] = decoded[92..108].try_into().unwrap();
            cipher
                .decrypt_inout_detached(
                    &Nonce::from([1u8; 12]),
                    &aad,
                    (&mut body[..]).into(),
                    &tag.into(),
                )
                .unwrap();
            body[0]
        })
    });
    let request = DecryptParams::new().ciphertext_blob(&blob);
    let mut workspace = vec![0u8; request.workspace_len()];
    g.bench_function("in/chacha", |b| {
        b.iter(|| {
            let out = decrypt_in(
                &provider,
                &caller,
                black_box(&request),
                &mut rng,
                &mut workspace,
            )
            .unwrap();
            out.plaintext.len()
        })
    });
    g.bench_function("owned/chacha", |b| {
        b.iter(|| decrypt(&provider, &caller, black_box(&request), &mut rng).unwrap())
    });
    let ring_key = ring::aead::LessSafeKey::new(
        ring::aead::UnboundKey::new(&ring::aead::AES_256_GCM, &[7u8; 32]).unwrap(),
    );
    let mut ring_sealed = [9u8; 32].to_vec();
    ring_key
        .seal_in_place_append_tag(
            ring::aead::Nonce::assume_unique_for_key([1; 12]),
            ring::aead::Aad::from(&aad),
            &mut ring_sealed,
        )
        .unwrap();
    g.bench_function("ring", |b| {
        b.iter(|| {
            let mut in_out = ring_sealed.clone();
            let plain = ring_key
                .open_in_place(
                    ring::aead::Nonce::assume_unique_for_key([1; 12]),
                    ring::aead::Aad::from(black_box(&aad)),
                    &mut in_out,
                )
                .unwrap();
            plain[0]
        })
    });
    g.finish();

    let mut g = c.benchmark_group("without_plaintext");
    let mut floor = SealFloor::new(32);
    g.bench_function("floor/chacha", |b| {
        b.iter(|| floor.run(&mut rng, black_box(&aad)))
    });
    let request = GenerateDataKeyParams::new().key_id(&key);
    let mut workspace = vec![0u8; request.workspace_len()];
    g.bench_function("in/chacha", |b| {
        b.iter(|| {
            generate_data_key_without_plaintext_in(
                &provider,
                &caller,
                black_box(&request),
                &mut rng,
                &mut workspace,
            )
            .unwrap()
            .ciphertext_blob
            .len()
        })
    });
    g.finish();

    // Encrypt of 44 bytes of text: the floor has no data-key draw, only the IV.
    let mut g = c.benchmark_group("encrypt");
    let text = "a message of forty-four bytes, for the bench";
    let enc_cipher = Aes256Gcm::new(&[7u8; 32].into());
    let mut enc_blob = vec![0u8; 64 + text.len()];
    let mut enc_text = vec![0u8; (64 + text.len()).div_ceil(3) * 4];
    g.bench_function("floor/chacha", |b| {
        b.iter(|| {
            let text = black_box(text).as_bytes();
            seal_text(
                &enc_cipher,
                &mut rng,
                &aad,
                text,
                &mut enc_blob,
                &mut enc_text,
            )
        })
    });
    let request = EncryptParams::new().key_id(&key).plaintext(text);
    let mut workspace = vec![0u8; request.workspace_len()];
    g.bench_function("in/chacha", |b| {
        b.iter(|| {
            encrypt_in(
                &provider,
                &caller,
                black_box(&request),
                &mut rng,
                &mut workspace,
            )
            .unwrap()
            .ciphertext_blob
            .len()
        })
    });
    g.finish();

    // ReEncrypt: the floor is the decrypt floor plus the encrypt floor.
    let mut g = c.benchmark_group("re_encrypt");
    let request = ReEncryptParams::new()
        .ciphertext_blob(&blob)
        .destination_key_id(&dest);
    let mut workspace = vec![0u8; request.workspace_len()];
    g.bench_function("in/chacha", |b| {
        b.iter(|| {
            re_encrypt_in(
                &provider,
                &caller,
                black_box(&request),
                &mut rng,
                &mut workspace,
            )
            .unwrap()
            .ciphertext_blob
            .len()
        })
    });
    g.finish();
}

fn scaling(c: &mut Criterion) {
    let mut rng = rng();
    let caller = caller();

    let mut g = c.benchmark_group("scaling_bytes");
    let (provider, key) = provider_with(1, &mut rng);
    for n in [1usize, 32, 256, 1024] {
        let n_text = n.to_string();
        let request = GenerateDataKeyParams::new()
            .key_id(&key)
            .number_of_bytes(&n_text);
        let mut workspace = vec![0u8; request.workspace_len()];
        g.throughput(Throughput::Bytes(n as u64));
        g.bench_with_input(BenchmarkId::new("in", n), &n, |b, _| {
            b.iter(|| generate_once(&provider, &caller, &request, &mut rng, &mut workspace))
        });
        let mut floor = SealFloor::new(n);
        g.bench_with_input(BenchmarkId::new("floor", n), &n, |b, _| {
            b.iter(|| floor.run(&mut rng, black_box(&[0u8; 38])))
        });
    }
    g.finish();

    let mut g = c.benchmark_group("scaling_context");
    for pairs in [0usize, 1, 10, 100] {
        let ctx = context(pairs);
        let mut request = GenerateDataKeyParams::new().key_id(&key);
        if let Some(ctx) = ctx.as_deref() {
            request = request.encryption_context(ctx);
        }
        let mut workspace = vec![0u8; request.workspace_len()];
        g.bench_with_input(BenchmarkId::new("in", pairs), &pairs, |b, _| {
            b.iter(|| generate_once(&provider, &caller, &request, &mut rng, &mut workspace))
        });
    }
    g.finish();

    let mut g = c.benchmark_group("scaling_keys");
    for n in [1usize, 1_000, 1_000_000] {
        // Built as a server that loads keys one by one would: each key's ID text allocated
        // beside the key (the lookups below start from it).
        let mut provider = InMemoryProvider::new();
        let mut texts = Vec::with_capacity(n);
        for _ in 0..n {
            texts.push(
                provider
                    .create_key(&mut rng, &KeyOptions::new(ACCOUNT, REGION))
                    .unwrap()
                    .to_string(),
            );
        }
        let provider = provider;
        // One hot key among n: the cost a steady caller sees.
        let hot_text = texts[n / 2].clone();
        let request = GenerateDataKeyParams::new().key_id(&hot_text);
        let mut workspace = vec![0u8; request.workspace_len()];
        g.bench_with_input(BenchmarkId::new("generate_hot", n), &n, |b, _| {
            b.iter(|| generate_once(&provider, &caller, &request, &mut rng, &mut workspace))
        });
        // Lookup alone, from the request's text as before the typed layer (parse the KeyId,
        // then ask the directory), for a hot key and for a different key every time (cold
        // caches at a million).
        let lookup = |text: &str| {
            let id = KeyId::parse(text).unwrap();
            provider
                .find_key(ACCOUNT, REGION, &id)
                .unwrap()
                .unwrap()
                .state
        };
        g.bench_with_input(BenchmarkId::new("lookup_hot", n), &n, |b, _| {
            b.iter(|| lookup(black_box(&hot_text)))
        });
        let mut i = 0usize;
        g.bench_with_input(BenchmarkId::new("lookup_spread", n), &n, |b, _| {
            b.iter(|| {
                i = (i + 7919) % n;
                lookup(black_box(&texts[i]))
            })
        });
    }
    g.finish();
}

/// GenerateDataKey from 1 and from 2 threads against one provider: the time for `iters` calls in
/// all, split evenly between the threads (each with its own RNG and workspace). With no lock on
/// the seal path two threads take about half the time of one on two cores.
fn threads(c: &mut Criterion) {
    let mut seed = rng();
    let (provider, key) = provider_with(1, &mut seed);
    let caller = caller();
    let request = GenerateDataKeyParams::new().key_id(&key);
    let mut g = c.benchmark_group("threads");
    for threads in [1u64, 2] {
        // The floor from the same threads: no shared state at all, so its ratio is what the
        // machine's two cores give (shared caches, turbo, the hypervisor).
        g.bench_with_input(BenchmarkId::new("floor", threads), &threads, |b, &n| {
            b.iter_custom(|iters| {
                let start = std::time::Instant::now();
                std::thread::scope(|s| {
                    for t in 0..n {
                        s.spawn(move || {
                            let mut rng = ChaCha20Rng::seed_from_u64(t);
                            let mut floor = SealFloor::new(32);
                            for _ in 0..iters / n {
                                floor.run(&mut rng, black_box(&[0u8; 38]));
                            }
                        });
                    }
                });
                start.elapsed()
            })
        });
        g.bench_with_input(BenchmarkId::new("generate", threads), &threads, |b, &n| {
            b.iter_custom(|iters| {
                let start = std::time::Instant::now();
                std::thread::scope(|s| {
                    for t in 0..n {
                        let (provider, caller, request) = (&provider, &caller, &request);
                        s.spawn(move || {
                            let mut rng = ChaCha20Rng::seed_from_u64(t);
                            let mut workspace = vec![0u8; request.workspace_len()];
                            for _ in 0..iters / n {
                                generate_once(provider, caller, request, &mut rng, &mut workspace);
                            }
                        });
                    }
                });
                start.elapsed()
            })
        });
    }
    g.finish();
}

/// The AES-GCM engines this build has, by name.
fn engines() -> Vec<(&'static str, AeadEngine)> {
    vec![
        ("aes_gcm", AeadEngine::RustCrypto),
        #[cfg(feature = "ring")]
        ("ring", AeadEngine::Ring),
    ]
}

/// AES-256-GCM alone, with a cached key: `aes-gcm` as the core builds it, against `ring` and
/// `aws-lc-rs`, for a data key's 32 bytes and for 1 MiB.
fn aead(c: &mut Criterion) {
    let key = [7u8; 32];
    let iv = [1u8; 12];
    let aad = [0u8; 38];
    let rust_crypto = Aes256Gcm::new(&key.into());
    let ring_key = ring::aead::LessSafeKey::new(
        ring::aead::UnboundKey::new(&ring::aead::AES_256_GCM, &key).unwrap(),
    );
    let aws_key = aws_lc_rs::aead::LessSafeKey::new(
        aws_lc_rs::aead::UnboundKey::new(&aws_lc_rs::aead::AES_256_GCM, &key).unwrap(),
    );
    for len in [32usize, 1 << 20] {
        let mut g = c.benchmark_group(format!("aes_gcm_{len}"));
        g.throughput(Throughput::Bytes(len as u64));
        let mut buf = vec![3u8; len];
        g.bench_function("aes_gcm", |b| {
            b.iter(|| {
                rust_crypto
                    .encrypt_inout_detached(
                        &Nonce::from(iv),
                        black_box(&aad),
                        (&mut buf[..]).into(),
                    )
                    .unwrap()[0]
            })
        });
        g.bench_function("ring", |b| {
            b.iter(|| {
                ring_key
                    .seal_in_place_separate_tag(
                        ring::aead::Nonce::assume_unique_for_key(iv),
                        ring::aead::Aad::from(black_box(&aad)),
                        &mut buf,
                    )
                    .unwrap()
                    .as_ref()[0]
            })
        });
        // The provider seam's engine, `VersionCipher`, on each AES-GCM implementation it has.
        for (name, engine) in engines() {
            let cipher =
                VersionCipher::with_engine(MasterKeyMaterial::from_slice(&key).unwrap(), engine);
            g.bench_function(format!("version_cipher/{name}"), |b| {
                b.iter(|| cipher.seal(&Iv(iv), black_box(&aad), &mut buf).unwrap().0[0])
            });
        }
        g.bench_function("aws_lc_rs", |b| {
            b.iter(|| {
                aws_key
                    .seal_in_place_separate_tag(
                        aws_lc_rs::aead::Nonce::assume_unique_for_key(iv),
                        aws_lc_rs::aead::Aad::from(black_box(&aad)),
                        &mut buf,
                    )
                    .unwrap()
                    .as_ref()[0]
            })
        });
        g.finish();
    }
}

/// AsymmetricSign through the provider seam (the typed operation: resolution, permission, state
/// and usage checks, the version's private key in the in-memory provider) against the bare
/// crate call a user would make with the key in hand: `p256`'s prehash ECDSA signing (DER out)
/// and `rsa`'s PKCS#1 v1.5 signing of a SHA-256 digest. Same digest, same RNG.
fn asymmetric(c: &mut Criterion) {
    use kms_core::asymmetric::SigningAlgorithm;
    use kms_core::ops::asymmetric::{AsymmetricTarget, asymmetric_sign};
    use kms_core::{KeyReference, KeyUsage, KeyVersionId, MasterKeySpec};
    use p256::ecdsa::signature::hazmat::RandomizedPrehashSigner;
    use rsa::signature::hazmat::PrehashSigner;

    let mut rng = rng();
    let digest = [0x42u8; 32];
    let mut g = c.benchmark_group("asymmetric_sign");
    let mut provider = InMemoryProvider::new();
    let mut key_of = |spec| {
        let options = KeyOptions::new(ACCOUNT, REGION)
            .spec(spec)
            .usage(KeyUsage::SignVerify);
        let key = provider.create_key(&mut self::rng(), &options).unwrap();
        let version: KeyVersionId = provider.describe(&key).unwrap().primary_version;
        (key, version)
    };
    let (ec_key, ec_version) = key_of(MasterKeySpec::EcP256);
    let (rsa_key, rsa_version) = key_of(MasterKeySpec::Rsa2048);
    let target = |key: KeyId, version| AsymmetricTarget {
        key: KeyReference::Id(key),
        version,
        dry_run: false,
    };
    let ec_target = target(ec_key, ec_version);
    let rsa_target = target(rsa_key, rsa_version);
    g.bench_function("ecdsa_p256/ops", |b| {
        b.iter(|| {
            asymmetric_sign(
                &provider,
                &caller(),
                &ec_target,
                SigningAlgorithm::EcdsaSha256,
                black_box(&digest),
                &mut rng,
            )
            .unwrap()
        })
    });
    let ec_bare = p256::ecdsa::SigningKey::from_slice(&[7u8; 32]).unwrap();
    g.bench_function("ecdsa_p256/bare", |b| {
        b.iter(|| {
            let signature: p256::ecdsa::DerSignature = ec_bare
                .sign_prehash_with_rng(&mut rng, black_box(&digest))
                .unwrap();
            signature.as_bytes().len()
        })
    });
    g.bench_function("rsa2048_pkcs1/ops", |b| {
        b.iter(|| {
            asymmetric_sign(
                &provider,
                &caller(),
                &rsa_target,
                SigningAlgorithm::RsaPkcs1Sha256,
                black_box(&digest),
                &mut rng,
            )
            .unwrap()
        })
    });
    let rsa_private = rsa::PrivateKey::new(&mut rng, 2048).unwrap();
    let rsa_bare = rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(rsa_private.clone());
    g.bench_function("rsa2048_pkcs1/bare", |b| {
        b.iter(|| {
            let signature: rsa::pkcs1v15::Signature =
                rsa_bare.sign_prehash(black_box(&digest)).unwrap();
            signature
        })
    });
    // The same call with an RNG: `rsa` then blinds the private-key operation (what the
    // provider does, against timing side channels).
    g.bench_function("rsa2048_pkcs1/bare_blinded", |b| {
        b.iter(|| {
            let signature: Vec<u8> = rsa_private
                .pkcs1v15_sign_prehash_with_rng::<sha2::Sha256, _>(&mut rng, black_box(&digest))
                .unwrap();
            signature
        })
    });
    g.finish();
}

criterion_group!(
    benches, generate, others, scaling, threads, aead, asymmetric
);
criterion_main!(benches);
