//! The envelope opener on arbitrary input: nothing panics or allocates without bound, and
//! nothing unauthenticated is released.
//!
//! The first byte picks what the rest is:
//! - 0: a whole envelope, opened three ways (one shot with Decrypt against a provider, the push
//!   API behind a `HeaderReader` in pieces, and the `Read` adapter); they must agree.
//! - 1: the segments after a valid header (the data key is known), pushed in pieces: an
//!   opener that succeeds has released whole segments; one that fails released whole
//!   segments too, never a partial one.
//! - 2: plaintext sealed, then one byte changed: opening must fail and release only the
//!   segments before the change; unchanged, it must give the plaintext back.
#![no_main]

use std::io::Read;
use std::sync::OnceLock;

use kms_core::blob::BlobBuf;
use kms_core::context::ContextBuf;
use kms_core::ops::{self, GenerateDataKeyRequest};
use kms_core::rand_core::SeedableRng;
use kms_core::{Caller, InMemoryProvider, KeyOptions};
use kms_envelope::{
    self as envelope, DataKey, DecryptReader, EnvelopeError, Header, HeaderReader, MAX_HEADER_LEN,
    Opener, SealParams,
};
use libfuzzer_sys::fuzz_target;
use rand_chacha::ChaCha8Rng;

const CALLER: Caller<'static> = Caller::new("1234567890123456", "cn-hangzhou");
struct World {
    provider: InMemoryProvider,
    data_key: DataKey,
    blob: BlobBuf,
    context: ContextBuf,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let mut rng = ChaCha8Rng::seed_from_u64(0xe4e1);
        let mut provider = InMemoryProvider::new();
        let key = provider
            .create_key(&mut rng, &KeyOptions::new(CALLER.account, CALLER.region))
            .unwrap();
        let context = ContextBuf::from_pairs([("fuzz", "envelope")]).unwrap();
        let request = GenerateDataKeyRequest::new(key).with_context(&context);
        let generated = ops::generate_data_key(&provider, &CALLER, &request, &mut rng)
            .unwrap()
            .done()
            .unwrap();
        World {
            provider,
            data_key: DataKey::try_from(&generated).unwrap(),
            blob: generated.ciphertext_blob,
            context,
        }
    })
}

fn params(w: &World, segment_size: u32) -> SealParams<'_> {
    SealParams::new(&w.blob)
        .with_context(&w.context)
        .with_segment_size(segment_size)
}

fn unlock(w: &'static World) -> impl FnOnce(&Header<'_>) -> Result<DataKey, EnvelopeError> {
    |h| h.decrypt(&w.provider, &CALLER, &mut ChaCha8Rng::seed_from_u64(1))
}

/// Opens the segments in `body` under `header`'s key, in pieces of `piece` bytes: what was
/// released, and how it ended.
fn push_open(
    header: &Header<'_>,
    body: &[u8],
    piece: usize,
) -> (Vec<u8>, Result<(), EnvelopeError>) {
    let mut released = Vec::new();
    let result = (|| {
        let key = header.unlock(&world().data_key)?;
        let mut opener = Opener::new(key, vec![0u8; header.segment_size() as usize + 16])?;
        let mut emit = |b: &[u8]| {
            released.extend_from_slice(b);
            Ok::<(), EnvelopeError>(())
        };
        for chunk in body.chunks(piece.max(1)) {
            opener.push(chunk, &mut emit)?;
        }
        opener.finish(&mut emit)
    })();
    (released, result)
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let w = world();
    match mode % 3 {
        0 => {
            let one_shot = envelope::open(rest, unlock(w));

            let mut reader = HeaderReader::new(vec![0u8; MAX_HEADER_LEN]);
            let piece = usize::from(mode / 3) + 1;
            let mut used = 0;
            let mut header_result = Ok(());
            for chunk in rest.chunks(piece) {
                match reader.push(chunk) {
                    Ok(n) => used += n,
                    Err(e) => {
                        header_result = Err(e);
                        break;
                    }
                }
                if reader.is_complete() {
                    break;
                }
            }
            let pushed = header_result.and_then(|()| {
                let header = reader.header()?;
                assert_eq!(header.encoded_len(), used);
                let key = unlock(w)(&header)?;
                let key = header.unlock(&key)?;
                let mut out = Vec::new();
                let mut opener = Opener::new(key, vec![0u8; header.segment_size() as usize + 16])?;
                let mut emit = |b: &[u8]| {
                    out.extend_from_slice(b);
                    Ok::<(), EnvelopeError>(())
                };
                opener.push(&rest[used..], &mut emit)?;
                opener.finish(&mut emit)?;
                Ok(out)
            });
            assert_eq!(one_shot.is_ok(), pushed.is_ok());
            if let (Ok(a), Ok(b)) = (&one_shot, &pushed) {
                assert_eq!(a, b);
            }

            let read = DecryptReader::new(rest, |h: &Header<'_>| {
                Ok::<_, std::io::Error>(unlock(w)(h)?)
            })
            .and_then(|mut r| {
                let mut out = Vec::new();
                r.read_to_end(&mut out).map(|_| out)
            });
            assert_eq!(one_shot.is_ok(), read.is_ok());
            if let (Ok(a), Ok(b)) = (&one_shot, &read) {
                assert_eq!(a, b);
            }
        }
        1 => {
            let Some((&size, body)) = rest.split_first() else {
                return;
            };
            let segment_size = u32::from(size % 64) + 1;
            let file = envelope::seal(
                &w.data_key,
                &params(w, segment_size),
                b"",
                &mut ChaCha8Rng::seed_from_u64(2),
            )
            .unwrap();
            let header = Header::parse(&file).unwrap();
            let (released, result) = push_open(&header, body, usize::from(mode / 3) + 1);
            if result.is_err() {
                assert_eq!(
                    released.len() % segment_size as usize,
                    0,
                    "a partial segment was released"
                );
            }
        }
        _ => {
            let Some((&[size, at_hi, at_lo, flip], plaintext)) = rest.split_first_chunk::<4>()
            else {
                return;
            };
            let segment_size = u32::from(size % 64) + 1;
            let file = envelope::seal(
                &w.data_key,
                &params(w, segment_size),
                plaintext,
                &mut ChaCha8Rng::seed_from_u64(3),
            )
            .unwrap();
            let header = Header::parse(&file).unwrap();
            let header_len = header.encoded_len();
            let piece = usize::from(mode / 3) + 1;
            if flip == 0 {
                let (released, result) = push_open(&header, &file[header_len..], piece);
                assert_eq!(result, Ok(()));
                assert_eq!(released, plaintext);
                return;
            }
            let at = (usize::from(at_hi) << 8 | usize::from(at_lo)) % (file.len() - header_len)
                + header_len;
            let mut damaged = file.clone();
            damaged[at] ^= flip;
            let (released, result) = push_open(&header, &damaged[header_len..], piece);
            assert!(result.is_err(), "a changed segment opened");
            let segment = (at - header_len) / (segment_size as usize + 16);
            let expected = (segment * segment_size as usize).min(plaintext.len());
            assert_eq!(released, &plaintext[..expected]);
        }
    }
});
