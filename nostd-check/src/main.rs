//! kms-core for real without `std` and without an allocator: a `#![no_std]`, `#![no_main]`
//! binary for the host (x86_64 Linux), started by the C runtime's `main` and linked against libc
//! only for `write` and `exit`. It runs GenerateDataKey, Encrypt and Decrypt through
//! `FixedCapacityProvider` and the caller-buffer (`*_in`) functions of both layers (the wire's
//! text parameters, and the typed requests with a context made from pairs), on stack
//! workspaces, and checks the round trips. It prints one line per check and exits 0 only when all pass; a
//! failed check or a panic exits non-zero.
//!
//! kms-core forbids `unsafe`; this test binary needs it for the two libc calls.

#![no_std]
#![no_main]

use core::fmt::{self, Write};

use kms_core::blob::Blob;
use kms_core::context::Context;
use kms_core::ops::{self, Outcome};
use kms_core::rand_core::{TryCryptoRng, TryRng};
use kms_core::wire::{
    DecryptParams, EncryptParams, GenerateDataKeyParams, decrypt_in, encrypt_in,
    generate_data_key_in,
};
use kms_core::{
    Caller, DataKeyLength, Error, FixedCapacityProvider, Internal, KeyId, KeyReference,
    KeyVersionId, MasterKeyMaterial, Parameter, WorkspaceTooSmall,
};

#[link(name = "c")]
unsafe extern "C" {
    fn write(fd: i32, buf: *const u8, count: usize) -> isize;
    fn exit(code: i32) -> !;
}

/// Standard output through the raw `write` call.
struct Stdout;

impl Write for Stdout {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let mut bytes = s.as_bytes();
        while !bytes.is_empty() {
            // SAFETY: `bytes` is a valid, initialised slice for the length passed.
            let n = unsafe { write(1, bytes.as_ptr(), bytes.len()) };
            if n <= 0 {
                return Err(fmt::Error);
            }
            bytes = &bytes[n as usize..];
        }
        Ok(())
    }
}

fn quit(code: i32) -> ! {
    // SAFETY: ends the process; nothing is left to unwind or drop.
    unsafe { exit(code) }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    let _ = writeln!(Stdout, "nostd-check: PANIC: {info}");
    quit(101)
}

/// The precompiled `core` for this target is built for unwinding and names this symbol; with
/// `panic = "abort"` nothing ever calls it.
#[unsafe(no_mangle)]
extern "C" fn rust_eh_personality() {}

/// A deterministic xorshift64* generator. Not a cryptographic RNG: it stands in for one so
/// that this test binary needs no OS and no entropy source. Never use it for real keys.
struct XorShift(u64);

impl TryRng for XorShift {
    type Error = core::convert::Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok((self.try_next_u64()? >> 32) as u32)
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        Ok(x.wrapping_mul(0x2545_f491_4f6c_dd1d))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        for chunk in dst.chunks_mut(8) {
            let v = self.try_next_u64()?.to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
        Ok(())
    }
}

// For this test binary only: see the type's documentation.
impl TryCryptoRng for XorShift {}

struct Checks {
    passed: u32,
}

impl Checks {
    fn check(&mut self, what: &str, ok: bool) {
        if ok {
            self.passed += 1;
            let _ = writeln!(Stdout, "ok   {what}");
        } else {
            let _ = writeln!(Stdout, "FAIL {what}");
            quit(1);
        }
    }
}

/// A fixed-size copy of a short text, so results can outlive their workspace.
struct Text<const N: usize> {
    buf: [u8; N],
    len: usize,
}

impl<const N: usize> Text<N> {
    fn of(s: &str) -> Self {
        let mut buf = [0u8; N];
        let len = s.len().min(N);
        buf[..len].copy_from_slice(&s.as_bytes()[..len]);
        assert!(len == s.len(), "text longer than its buffer");
        Self { buf, len }
    }

    fn as_str(&self) -> &str {
        core::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }
}

const ACCOUNT: &str = "1234567890123456";
const REGION: &str = "cn-hangzhou";

fn key_id() -> KeyId {
    KeyId::parse("1234abcd-12ab-34cd-56ef-123456789012").expect("key ID")
}

fn version(text: &[u8; 36]) -> KeyVersionId {
    KeyVersionId::parse(text).expect("version ID")
}

/// GenerateDataKey of `n` bytes under `key`, then Decrypt with `open_context`; returns the
/// sealing version and whether the plaintext came back.
fn round_trip(
    provider: &FixedCapacityProvider<2, 2>,
    rng: &mut XorShift,
    key: &str,
    n: &str,
    seal_context: Option<&str>,
    open_context: Option<&str>,
) -> Result<(KeyVersionId, usize, bool), Error> {
    let caller = Caller::new(ACCOUNT, REGION);
    let mut request = GenerateDataKeyParams::new().key_id(key).number_of_bytes(n);
    if let Some(context) = seal_context {
        request = request.encryption_context(context);
    }
    let mut ws = [0u8; 8192];
    if request.workspace_len() > ws.len() {
        let needed = request.workspace_len();
        return Err(WorkspaceTooSmall { needed }.into());
    }
    let out = generate_data_key_in(provider, &caller, &request, rng, &mut ws)?;
    let blob: Text<2048> = Text::of(out.ciphertext_blob);
    let plaintext: Text<1400> = Text::of(out.plaintext.expose());
    let key_len = plaintext.len / 4 * 3 - plaintext.as_str().bytes().filter(|&b| b == b'=').count();
    let sealed_by = out.key_version_id;
    drop(out);

    let mut request = DecryptParams::new().ciphertext_blob(blob.as_str());
    if let Some(context) = open_context {
        request = request.encryption_context(context);
    }
    let mut ws2 = [0u8; 4096];
    let opened = decrypt_in(provider, &caller, &request, rng, &mut ws2)?;
    let same =
        opened.plaintext.expose() == plaintext.as_str() && opened.key_version_id == sealed_by;
    Ok((sealed_by, key_len, same))
}

/// Decodes the padded Base64 text of 16 bytes (24 characters) into `out`.
fn base64_decode_16(text: &[u8], out: &mut [u8; 16]) -> bool {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    if text.len() != 24 || &text[22..] != b"==" {
        return false;
    }
    let mut bits: u32 = 0;
    let mut n = 0;
    let mut at = 0;
    for &c in &text[..22] {
        let Some(v) = ALPHABET.iter().position(|&a| a == c) else {
            return false;
        };
        bits = (bits << 6) | v as u32;
        n += 6;
        if n >= 8 {
            n -= 8;
            out[at] = (bits >> n) as u8;
            at += 1;
        }
    }
    at == 16
}

#[unsafe(no_mangle)]
extern "C" fn main(_argc: i32, _argv: *const *const u8) -> i32 {
    let mut c = Checks { passed: 0 };
    let caller = Caller::new(ACCOUNT, REGION);
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let v1 = version(b"3f4e2c1a-8b7d-4e6f-9a0b-1c2d3e4f5a6b");
    let v2 = version(b"9d1c7e52-04b3-4a8f-b6e1-27c5d0f3a948");

    let mut provider = FixedCapacityProvider::<2, 2>::new(ACCOUNT, REGION).expect("provider");
    let material = MasterKeyMaterial::from_slice(&[7u8; 32]).expect("AES-256 material");
    c.check("add_key", provider.add_key(key_id(), v1, material).is_ok());
    c.check(
        "set_alias",
        provider.set_alias(&key_id(), "alias/nostd").is_ok(),
    );

    // GenerateDataKey by alias with a context; Decrypt with the context reordered and escaped.
    let r = round_trip(
        &provider,
        &mut rng,
        "alias/nostd",
        "32",
        Some(r#"{"app":"nostd","env":"qemu-free"}"#),
        Some(r#"{ "env" : "qemu-free", "\u0061pp" : "nostd" }"#),
    );
    c.check(
        "GenerateDataKey (32 bytes, by alias) then Decrypt with an equivalent context",
        r == Ok((v1, 32, true)),
    );

    // The smallest and largest data keys.
    for (n, len, what) in [
        (
            "1",
            1,
            "GenerateDataKey (1 byte) then Decrypt, context absent then {}",
        ),
        (
            "1024",
            1024,
            "GenerateDataKey (1024 bytes) then Decrypt, context absent then {}",
        ),
    ] {
        let r = round_trip(&provider, &mut rng, key_id().as_str(), n, None, Some("{}"));
        c.check(what, r == Ok((v1, len, true)));
    }

    // A different context is refused.
    let r = round_trip(
        &provider,
        &mut rng,
        "alias/nostd",
        "16",
        Some(r#"{"a":"b"}"#),
        Some(r#"{"a":"c"}"#),
    );
    c.check(
        "Decrypt with another context is InvalidParameter CiphertextBlob",
        r == Err(Error::InvalidParameter(Parameter::CiphertextBlob)),
    );

    // Encrypt, then Decrypt the text back.
    let message = "no_std, no allocator: 😀";
    let id = key_id();
    let id_text: Text<36> = Text::of(id.as_str());
    let request = EncryptParams::new()
        .key_id(id_text.as_str())
        .plaintext(message);
    let mut ws = [0u8; 1024];
    let blob: Text<512> = match encrypt_in(&provider, &caller, &request, &mut rng, &mut ws) {
        Ok(out) => Text::of(out.ciphertext_blob),
        Err(_) => Text::of(""),
    };
    c.check("Encrypt", blob.len > 0);
    let request = DecryptParams::new().ciphertext_blob(blob.as_str());
    let mut ws2 = [0u8; 1024];
    let opened = decrypt_in(&provider, &caller, &request, &mut rng, &mut ws2);
    c.check(
        "Decrypt of the Encrypt blob gives the text back",
        opened.is_ok_and(|o| o.plaintext.expose() == message),
    );

    // Rotation: the old blob still opens with its version; new seals use the new one.
    let material2 = MasterKeyMaterial::from_slice(&[9u8; 32]).expect("material");
    c.check(
        "add_version (rotation)",
        provider.add_version(&key_id(), v2, material2).is_ok(),
    );
    let mut ws2 = [0u8; 1024];
    let opened = decrypt_in(&provider, &caller, &request, &mut rng, &mut ws2);
    c.check(
        "after rotation the old blob opens, naming the old version",
        opened.is_ok_and(|o| o.plaintext.expose() == message && o.key_version_id == v1),
    );
    let r = round_trip(&provider, &mut rng, "alias/nostd", "32", None, None);
    c.check(
        "after rotation new data keys seal under the new version",
        r == Ok((v2, 32, true)),
    );

    // DryRun never produces key material.
    let request = GenerateDataKeyParams::new()
        .key_id("alias/nostd")
        .dry_run("true");
    let mut ws = [0u8; 1024];
    let r = generate_data_key_in(&provider, &caller, &request, &mut rng, &mut ws);
    c.check(
        "DryRun ends in DryRunOperationError",
        matches!(r, Err(Error::DryRunOperation)),
    );

    // A workspace too small is reported, not overrun.
    let request = GenerateDataKeyParams::new().key_id("alias/nostd");
    let mut tiny = [0u8; 16];
    let r = generate_data_key_in(&provider, &caller, &request, &mut rng, &mut tiny);
    c.check(
        "a short workspace is WorkspaceTooSmall",
        matches!(
            r,
            Err(Error::InternalFailure(Internal::WorkspaceTooSmall(_)))
        ),
    );

    // The typed layer: a context made from pairs in a stack buffer, the raw blob, no text.
    let mut context_buf = [0u8; 64];
    let context = Context::encode_pairs(&[("device", "7"), ("app", "nostd")], &mut context_buf);
    c.check(
        "a context from pairs, without an allocator",
        context.is_ok(),
    );
    let context = context.unwrap_or(Context::EMPTY);
    let request = ops::GenerateDataKeyRequest::new(KeyReference::Alias("alias/nostd"))
        .with_length(DataKeyLength::AES_128)
        .with_context(context);
    let mut ws = [0u8; 512];
    let mut blob_bytes = [0u8; 128];
    let mut blob_len = 0;
    let mut data_key = [0u8; 16];
    if let Ok(Outcome::Done(out)) =
        ops::generate_data_key_in(&provider, &caller, &request, &mut rng, &mut ws)
    {
        blob_len = out.ciphertext_blob.as_bytes().len();
        blob_bytes[..blob_len].copy_from_slice(out.ciphertext_blob.as_bytes());
        data_key.copy_from_slice(out.data_key.expose());
    }
    c.check("typed GenerateDataKey (16 bytes)", blob_len == 64 + 24);
    let opened = Blob::from_bytes(&blob_bytes[..blob_len])
        .ok()
        .and_then(|blob| {
            let request = ops::DecryptRequest::new(blob).with_context(context);
            let mut ws = [0u8; 256];
            match ops::decrypt_in(&provider, &caller, &request, &mut rng, &mut ws) {
                Ok(Outcome::Done(o)) => {
                    let mut decoded = [0u8; 16];
                    let text = o.plaintext.expose().as_bytes();
                    base64_decode_16(text, &mut decoded).then_some(decoded)
                }
                _ => None,
            }
        });
    c.check(
        "typed Decrypt gives the data key back",
        opened == Some(data_key),
    );
    let request =
        ops::GenerateDataKeyRequest::new(KeyReference::Alias("alias/nostd")).with_dry_run(true);
    let mut ws = [0u8; 256];
    let r = ops::generate_data_key_in(&provider, &caller, &request, &mut rng, &mut ws);
    c.check(
        "a typed dry run that passes is an outcome, not an error",
        matches!(r, Ok(Outcome::DryRun(p)) if p.key_version_id == v2),
    );

    let _ = writeln!(
        Stdout,
        "nostd-check: all {} checks passed (no_std, no allocator)",
        c.passed
    );
    0
}
