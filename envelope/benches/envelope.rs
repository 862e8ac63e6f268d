//! Envelope sealing and opening of 64 MiB against a bare `aes-gcm` seal (and open) of the same
//! bytes, measured in the same run.
//!
//! The floor is one AES-256-GCM call over the whole 64 MiB in place, with a cached cipher: no
//! key derivation, no segments, no copies; `aes_gcm_seal_64KiB_pieces` is the same in 64 KiB
//! messages, which stay in cache between the CTR and GHASH passes.
//!
//! Every envelope run derives the file key (HKDF) and writes or checks the header, then goes
//! through 1024 segments of 64 KiB. `seal_into` and `open_into` work between whole buffers,
//! each segment straight from input to output. The push API (`push_*`) hands each sealed
//! segment or plaintext to an `emit` closure: `to_vec` copies it into a preallocated output (as
//! a file writer would), `sink` discards it (the cost of the format alone).
//!
//! The benchmark names are those the bench had in `kms-core` (group `envelope_64MiB`), so
//! results compare across the move. Report each as a ratio to `aes_gcm_seal` (or, for the
//! opening forms, `aes_gcm_open`) of the same run.
//!
//! Run with `cargo bench -p kms-envelope --bench envelope`.

use std::hint::black_box;

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kms_core::ops::{self, GenerateDataKeyRequest};
use kms_core::rand_core::SeedableRng;
use kms_core::{Caller, InMemoryProvider, KeyOptions};
use kms_envelope::{
    DataKey, EnvelopeError, Header, Opener, SealParams, Sealer, envelope_len, open_into, seal_into,
};
use rand_chacha::ChaCha20Rng;

const LEN: usize = 64 << 20;

fn envelope(c: &mut Criterion) {
    let mut rng = ChaCha20Rng::seed_from_u64(0x656e76);
    let caller = Caller::new("1234567890123456", "cn-hangzhou");
    let mut provider = InMemoryProvider::new();
    let key = provider
        .create_key(&mut rng, &KeyOptions::new(caller.account, caller.region))
        .unwrap();
    let generated = ops::generate_data_key(
        &provider,
        &caller,
        &GenerateDataKeyRequest::new(key),
        &mut rng,
    )
    .unwrap()
    .done()
    .unwrap();
    let data_key = DataKey::try_from(&generated).unwrap();
    let params = SealParams::new(&generated.ciphertext_blob);
    let data: Vec<u8> = (0..LEN).map(|i| (i % 251) as u8).collect();

    let mut g = c.benchmark_group("envelope_64MiB");
    g.throughput(Throughput::Bytes(LEN as u64));
    g.sample_size(10);

    // The floor: one bare AES-256-GCM seal (and open) of the same bytes, in place.
    let cipher = Aes256Gcm::new(&[7u8; 32].into());
    let nonce = Nonce::from([1u8; 12]);
    let mut buffer = data.clone();
    g.bench_function("aes_gcm_seal", |b| {
        b.iter(|| {
            cipher
                .encrypt_inout_detached(&nonce, b"", black_box(buffer.as_mut_slice()).into())
                .unwrap()
        })
    });
    // The same seal in 64 KiB pieces, each its own AES-GCM message: what the segments cost
    // without the format (no key derivation, no header, no copies).
    g.bench_function("aes_gcm_seal_64KiB_pieces", |b| {
        b.iter(|| {
            for piece in black_box(buffer.as_mut_slice()).chunks_mut(64 * 1024) {
                cipher
                    .encrypt_inout_detached(&nonce, b"", piece.into())
                    .unwrap();
            }
        })
    });
    let mut sealed_bare = data.clone();
    let tag = cipher
        .encrypt_inout_detached(&nonce, b"", sealed_bare.as_mut_slice().into())
        .unwrap();
    g.bench_function("aes_gcm_open", |b| {
        b.iter(|| {
            buffer.copy_from_slice(&sealed_bare);
            cipher
                .decrypt_inout_detached(&nonce, b"", black_box(buffer.as_mut_slice()).into(), &tag)
                .unwrap()
        })
    });
    drop(sealed_bare);

    // Whole buffers: each segment sealed or opened straight between the caller's buffers.
    let header_len = params.header_len(32).unwrap();
    let sealed_len = envelope_len(header_len, params.segment_size, LEN as u64).unwrap() as usize;
    let mut sealed = vec![0u8; sealed_len];
    g.bench_function("seal_into", |b| {
        b.iter(|| seal_into(&data_key, &params, black_box(&data), &mut rng, &mut sealed).unwrap())
    });
    // Sealed here too, so that `open_into` runs alone under a filter that skips `seal_into`.
    seal_into(&data_key, &params, &data, &mut rng, &mut sealed).unwrap();
    let mut opened = vec![0u8; LEN];
    g.bench_function("open_into", |b| {
        b.iter(|| {
            open_into(
                black_box(&sealed),
                |_: &Header<'_>| DataKey::new(data_key.expose()),
                &mut opened,
            )
            .unwrap()
        })
    });
    assert_eq!(opened, data);
    drop(opened);
    drop(sealed);

    // The push API: a fresh salt and file key per run, the header, 1024 segments.
    let mut out: Vec<u8> = Vec::with_capacity(LEN + LEN / 4096 + 4096);
    let mut seal_buffer = vec![0u8; params.buffer_len(32).unwrap()];
    g.bench_function("push_seal/to_vec", |b| {
        b.iter(|| {
            out.clear();
            let mut sealer =
                Sealer::new(&data_key, &params, &mut rng, &mut seal_buffer[..]).unwrap();
            let mut emit = |bytes: &[u8]| {
                out.extend_from_slice(bytes);
                Ok::<(), EnvelopeError>(())
            };
            sealer.push(black_box(&data), &mut emit).unwrap();
            sealer.finish(&mut emit).unwrap();
            out.len()
        })
    });
    g.bench_function("push_seal/sink", |b| {
        b.iter(|| {
            let mut sealer =
                Sealer::new(&data_key, &params, &mut rng, &mut seal_buffer[..]).unwrap();
            let mut emit = |bytes: &[u8]| {
                black_box(bytes);
                Ok::<(), EnvelopeError>(())
            };
            sealer.push(black_box(&data), &mut emit).unwrap();
            sealer.finish(&mut emit).unwrap();
        })
    });

    // Opening: parse the header, check its tag, 1024 segments.
    let envelope = {
        let mut sealer = Sealer::new(&data_key, &params, &mut rng, &mut seal_buffer[..]).unwrap();
        let mut file = Vec::with_capacity(LEN + LEN / 4096 + 4096);
        let mut emit = |bytes: &[u8]| {
            file.extend_from_slice(bytes);
            Ok::<(), EnvelopeError>(())
        };
        sealer.push(&data, &mut emit).unwrap();
        sealer.finish(&mut emit).unwrap();
        file
    };
    let mut open_buffer = vec![0u8; 64 * 1024 + 16];
    let mut open = |emit: &mut dyn FnMut(&[u8]) -> Result<(), EnvelopeError>| {
        let header = Header::parse(black_box(&envelope)).unwrap();
        let key = header.unlock(&data_key).unwrap();
        let mut opener = Opener::new(key, &mut open_buffer[..]).unwrap();
        opener
            .push(&envelope[header.encoded_len()..], &mut *emit)
            .unwrap();
        opener.finish(emit).unwrap();
    };
    g.bench_function("push_open/to_vec", |b| {
        b.iter(|| {
            out.clear();
            open(&mut |bytes: &[u8]| {
                out.extend_from_slice(bytes);
                Ok(())
            });
            out.len()
        })
    });
    g.bench_function("push_open/sink", |b| {
        b.iter(|| {
            open(&mut |bytes: &[u8]| {
                black_box(bytes);
                Ok(())
            })
        })
    });
    assert_eq!(out, data);
    g.finish();
}

criterion_group!(benches, envelope);
criterion_main!(benches);
