//! `kms-envelope`: envelope encryption of local data under a data key from
//! [`kms_core`]: a streaming, versioned file format that seals data of any size and carries the
//! data key's blob and encryption context in its header, so a file opens with nothing but
//! itself and the KMS.
//!
//! The recommended flow of the API page is: get a data key, encrypt the data locally with it,
//! store the ciphertext together with the data key's CiphertextBlob, and later Decrypt the blob
//! to open the data. This crate is that flow's file format, so that nobody has to invent the
//! framing, the nonces and the key handling again. It stands on `kms-core`'s typed layer: the
//! header holds the blob and the context as the core's types hold them (raw blob bytes, the
//! canonical context), and opening calls the typed Decrypt with them, with no text between.
//!
//! - **Sealing**: [`Sealer`] (push-style, no allocator), [`seal_into`] (a whole buffer, no
//!   allocator), [`seal`] (one shot, with `alloc`) or [`EncryptWriter`] (a `std::io::Write`,
//!   with `std`). They take the data key ([`DataKey`], from a GenerateDataKey result) and
//!   [`SealParams`]: the blob, the encryption context it was bound to, and the segment size.
//! - **Opening**: parse the [`Header`] (or feed a [`HeaderReader`]), call Decrypt with the
//!   blob and context it carries ([`Header::decrypt_in`], or [`Header::decrypt`] with `alloc`,
//!   against a provider), check the resulting [`DataKey`] with [`Header::unlock`], and stream
//!   the segments through an [`Opener`]. [`open_into`] (a whole buffer, no allocator), [`open`]
//!   (with `alloc`) and [`DecryptReader`] (a `std::io::Read`, with `std`) take a closure that
//!   calls Decrypt and do the rest. A KMS reached over the wire takes the header's blob as
//!   Base64 ([`Header::write_ciphertext_blob`]) and its context as JSON
//!   ([`Header::write_encryption_context`], written by `kms-core`'s context module).
//!
//! Memory is bounded by the segment size, whatever the size of the data: a [`Sealer`] or an
//! [`Opener`] works in one buffer of `segment_size + 16` bytes (a sealer's buffer must also hold
//! the header), so a 10 GiB file goes through 64 KiB at a time. Nothing unauthenticated is
//! ever released: each segment's plaintext is handed out only after its tag verifies, and the
//! whole-buffer forms return plaintext only when the whole envelope is authentic (they wipe
//! what they wrote otherwise). The whole-buffer forms seal and open each segment straight
//! between the caller's buffers, without copies.
//!
//! ```
//! # #[cfg(feature = "alloc")]
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use kms_core::context::ContextBuf;
//! use kms_core::ops::{self, GenerateDataKeyRequest};
//! use kms_core::rand_core::SeedableRng;
//! use kms_core::{Caller, InMemoryProvider, KeyOptions};
//! use kms_envelope::{self as envelope, DataKey, SealParams};
//!
//! let mut rng = rand_chacha::ChaCha20Rng::from_seed([7; 32]); // or kms_core::OsRng
//! let caller = Caller::new("1234567890123456", "cn-hangzhou");
//! let mut provider = InMemoryProvider::new();
//! let key_id = provider.create_key(&mut rng, &KeyOptions::new(caller.account, caller.region))?;
//!
//! // Seal: a data key bound to a context, then the data under it.
//! let context = ContextBuf::from_pairs([("file", "orders.csv")])?;
//! let request = GenerateDataKeyRequest::new(key_id).with_context(&context);
//! let data_key = ops::generate_data_key(&provider, &caller, &request, &mut rng)?
//!     .done()
//!     .expect("not a dry run");
//! let params = SealParams::new(data_key.ciphertext_blob.as_blob()).with_context(&context);
//! let data = vec![42u8; 200_000];
//! let sealed = envelope::seal(&DataKey::try_from(&data_key)?, &params, &data, &mut rng)?;
//! drop(data_key); // the plaintext data key is not kept
//!
//! // Open: the header names the blob and context; Decrypt gives the data key back.
//! let opened = envelope::open(&sealed, |header| {
//!     assert_eq!(header.context(), context.as_context());
//!     header.decrypt(&provider, &caller, &mut rng)
//! })?;
//! assert_eq!(opened, data);
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "alloc"))]
//! # fn main() {}
//! ```
//!
//! Without an allocator, the same flow goes through the `*_in` operations, a
//! [`FixedCapacityProvider`](kms_core::FixedCapacityProvider) and caller buffers:
//!
//! ```
//! # fn main() -> Result<(), Box<dyn core::error::Error>> {
//! use kms_core::context::Context;
//! use kms_core::ops::{self, GenerateDataKeyRequest};
//! use kms_core::rand_core::SeedableRng;
//! use kms_core::{Caller, FixedCapacityProvider, MasterKeySpec};
//! use kms_envelope::{DataKey, EnvelopeError, HeaderReader, Opener, SealParams, Sealer};
//!
//! let mut rng = rand_chacha::ChaCha20Rng::from_seed([1; 32]);
//! let caller = Caller::new("1234567890123456", "cn-shanghai");
//! let mut provider: FixedCapacityProvider<1> =
//!     FixedCapacityProvider::new(caller.account, caller.region).unwrap();
//! let key_id = provider.create_key(&mut rng, MasterKeySpec::Aes256)?;
//!
//! // Seal 10 000 bytes in 4 KiB segments into `file`.
//! let mut file = [0u8; 10_400];
//! let mut file_len = 0;
//! {
//!     let mut context_buf = [0u8; 32];
//!     let context = Context::encode_pairs(&[("sensor", "7")], &mut context_buf)?;
//!     let request = GenerateDataKeyRequest::new(key_id).with_context(context);
//!     let mut workspace = [0u8; 512];
//!     let out = ops::generate_data_key_in(&provider, &caller, &request, &mut rng, &mut workspace)?
//!         .done()
//!         .expect("not a dry run");
//!     let params = SealParams::new(out.ciphertext_blob)
//!         .with_context(context)
//!         .with_segment_size(4096);
//!     let mut buffer = [0u8; 4096 + 16];
//!     assert_eq!(params.buffer_len(32)?, buffer.len());
//!     let data_key = DataKey::try_from(&out)?;
//!     let mut sealer = Sealer::new(&data_key, &params, &mut rng, &mut buffer[..])?;
//!     let mut emit = |bytes: &[u8]| {
//!         file[file_len..file_len + bytes.len()].copy_from_slice(bytes);
//!         file_len += bytes.len();
//!         Ok::<(), EnvelopeError>(())
//!     };
//!     sealer.push(b"reading: ", &mut emit)?;
//!     sealer.push(&[0x42; 9_991], &mut emit)?;
//!     sealer.finish(&mut emit)?;
//! } // the data key, its text and the plaintext in the buffer are zeroized here
//! assert_eq!(file_len, 201 + 10_000 + 3 * 16);
//!
//! // Open: read the header, Decrypt its blob with its context, open the segments.
//! let mut reader = HeaderReader::new([0u8; 256]);
//! let header_len = reader.push(&file[..file_len])?;
//! let header = reader.header()?;
//! let mut workspace = [0u8; 256];
//! let key = header.unlock(&header.decrypt_in(&provider, &caller, &mut rng, &mut workspace)?)?;
//!
//! let mut buffer = [0u8; 4096 + 16];
//! let mut opener = Opener::new(key, &mut buffer[..])?;
//! let (mut plaintext, mut n) = ([0u8; 10_000], 0);
//! let mut emit = |bytes: &[u8]| {
//!     plaintext[n..n + bytes.len()].copy_from_slice(bytes);
//!     n += bytes.len();
//!     Ok::<(), EnvelopeError>(())
//! };
//! for piece in file[header_len..file_len].chunks(1000) {
//!     opener.push(piece, &mut emit)?;
//! }
//! opener.finish(&mut emit)?; // only now is the whole file known to be authentic
//! assert_eq!((&plaintext[..9], n), (&b"reading: "[..], 10_000));
//! # Ok(())
//! # }
//! ```
//!
//! # Format, version 1
//!
//! This section is the whole specification: an implementation written from it (and from spec
//! §4 and §5 for the blob, repeated below) reads and writes the files of this crate and of
//! `examples/envelope_file.rs`, and refuses every altered file this crate refuses, with the same
//! error. The golden vectors (`tests/vectors/*.json`, described [below](#golden-vectors)) check
//! that an implementation does.
//!
//! All integers are unsigned and big-endian. An envelope is a header followed by one or more
//! segments.
//!
//! ```text
//! offset      size  field
//! 0           6     magic: "KMSENV" (4b 4d 53 45 4e 56)
//! 6           1     format version: 0x01
//! 7           1     L, the data key's length: 16 or 32
//! 8           4     S, the segment size, u32: 1..=16_777_216 (default 65_536)
//! 12          2     B, the blob's length, u16: 88 when L = 16, 108 when L = 32
//! 14          2     C, the context's length, u16: 2..=32_768
//! 16          32    salt: 32 random bytes, fresh for every file
//! 48          B     the data key's blob (CiphertextBlob), raw bytes, not Base64
//! 48+B        C     the encryption context the blob is bound to, canonically encoded
//! 48+B+C      32    header tag
//!                   (header length H = 80 + B + C; 190 bytes for a 32-byte key, empty context)
//! H           ...   segment 0, segment 1, ..., segment n-1   (n >= 1)
//!
//! segment i = ciphertext_i (as long as plaintext_i) || tag_i (16 bytes)
//!           = AES-256-GCM(key = file key, nonce = nonce_i, associated data = empty, plaintext_i)
//! plaintext_i: exactly S bytes for i < n-1; the final one has 1..=S bytes, or 0 bytes when
//!              the whole plaintext is empty (then n = 1)
//! nonce_i   = u88(i) || 0x00 for i < n-1,   u88(n-1) || 0x01 for the final segment
//!
//! prk        = HKDF-Extract(salt = the salt field, IKM = the raw data key)      (HKDF-SHA256)
//! h          = SHA-256(header[0 .. H-32])              (every header byte before the tag)
//! file key   = HKDF-Expand(prk, info = "kms-core envelope v1 segment key" || h, 32 bytes)
//! header tag = HKDF-Expand(prk, info = "kms-core envelope v1 header tag" || h, 32 bytes)
//! ```
//!
//! The envelope of `N` plaintext bytes is `H + N + 16 * max(1, ceil(N / S))` bytes long.
//!
//! ## The blob, and what it seals
//!
//! The blob field holds the data key's blob exactly as GenerateDataKey made it (spec §5), the
//! bytes whose standard Base64 is the wire's `CiphertextBlob`:
//!
//! ```text
//! blob = key version ID   36 bytes: lowercase UUID text, 8-4-4-4-12 hex digits and hyphens
//!     || IV               12 bytes
//!     || ciphertext       as long as the sealed text: 44 bytes when L = 32, 24 when L = 16
//!     || tag              16 bytes
//! ciphertext || tag = AES-GCM(key = the master key version's material (AES-256 for 32 bytes
//!                             of material, AES-128 for 16), nonce = IV,
//!                             associated data = key version ID || the canonical context,
//!                             plaintext = the sealed text)
//! the sealed text   = the data key's Base64: the standard alphabet (A-Z a-z 0-9 + /), padded
//!                     with "=" to a multiple of 4 characters, the unused bits of the last
//!                     character zero (the canonical, padded form of RFC 4648 §4)
//! ```
//!
//! So `B = 36 + 12 + 4 * ceil(L / 3) + 16`: 108 for a 32-byte data key, 88 for a 16-byte one.
//! The associated data's context is the very bytes of the header's context field. The envelope
//! itself uses the raw data key, never its text: HKDF-Extract takes the `L` raw bytes. Opening,
//! the text that Decrypt returns is decoded back to raw bytes, and their length must be the
//! header's `L` (checks 12 and 13 below).
//!
//! ## The canonical context
//!
//! ```text
//! context = u16(pair count)
//!        || for each pair, in ascending order of the key's UTF-8 bytes:
//!             u16(length of key) || key (UTF-8) || u16(length of value) || value (UTF-8)
//! ```
//!
//! Keys are ordered by comparing their UTF-8 bytes as unsigned bytes, a key that is a prefix of
//! another first (so `"z"` (7a) comes before `"é"` (c3 a9), and UTF-16 order does not matter).
//! The empty context is the two bytes `00 00`. A reader accepts the field only if it is valid
//! (`Context::from_canonical` in kms-core): every pair is complete within the field (no
//! length runs past its end), the number of pairs read up to the field's end equals the count
//! (so nothing follows the last pair), every key is non-empty, keys and values are well-formed
//! UTF-8 (no overlong forms, no surrogates), every key is strictly greater than the one before
//! it (so no key repeats), and the context's JSON text is at most 8192 characters:
//!
//! - **The JSON text counted** is the shortest JSON of the context, as kms-core's
//!   `Context::write_json` writes it (and `Header::write_encryption_context` hands to a KMS
//!   reached over the wire): `{` and `}` around the pairs in the canonical order, joined by
//!   `,`, each `"key":"value"`, no white space; in keys and values `"` and `\` are written `\"`
//!   and `\\`, U+0008, U+0009, U+000A, U+000C and U+000D are written `\b`, `\t`, `\n`, `\f` and
//!   `\r`, every other character below U+0020 is written `\u00xx` with two lowercase hex
//!   digits, and every other character (`/`, U+007F and everything outside ASCII included) is
//!   written as itself. The empty context is `{}`.
//! - **A character** is a Unicode scalar value: `"😀"` counts 1 although it is 4 UTF-8 bytes,
//!   and an escape counts its written length (U+0001 counts 6, `"` counts 2).
//! - **Who applies it**: the opener, to the header's context field (check 10 below), whatever
//!   JSON text the context was first given in; kms-core applies the same limit when a context
//!   is made, so every context a sealer is given already meets it. A context within the limit
//!   is at most 32 746 canonical bytes, within `C`'s bound of 32 768.
//!
//! ## The header tag and the file key
//!
//! HKDF is HKDF-SHA256 (RFC 5869). Its salt is the 32 bytes of the salt field and its input
//! key material the `L` raw bytes of the data key. `h` is the SHA-256 hash of the header's
//! first `H - 32` bytes: the magic, the version, `L`, `S`, `B`, `C`, the salt, the blob and the
//! context, exactly as they are in the file. The two `info` strings are the ASCII bytes of
//! their labels, without a terminator (`"kms-core envelope v1 segment key"`, 32 bytes, and
//! `"kms-core envelope v1 header tag"`, 31 bytes), each directly followed by the 32 bytes of
//! `h`. Each Expand gives 32 bytes: the file key is an AES-256 key, and the header tag is
//! compared with the stored one in constant time.
//!
//! ## Segments and nonces
//!
//! A nonce is 12 bytes: the segment's index as an 88-bit big-endian number in bytes 0..11
//! (indices are below 2^32, so bytes 0..7 are zero and bytes 7..11 hold the index), then one
//! byte, 0x01 for the final segment and 0x00 for every other. Segment tags are AES-GCM's full
//! 16 bytes. A sealer writes `max(1, ceil(N / S))` segments, all of `S` bytes of plaintext but
//! the final one, which is never empty unless the whole plaintext is: each plaintext has
//! exactly one envelope.
//!
//! An opener cannot see where the segments end but by counting: after the header, while more
//! than `S + 16` bytes remain, the next `S + 16` bytes are a non-final segment; the bytes that
//! remain at the end of the input (at most `S + 16`) are the final segment. A streaming opener
//! therefore holds each `S + 16` bytes back until it knows whether more follow.
//!
//! ## Opening, check by check
//!
//! An opener makes these checks in this order and reports the first that fails (the names are
//! the variants of [`EnvelopeError`]); the golden vectors hold a case for each.
//!
//! The header ([`Header::parse`], [`HeaderReader`], and checks 1 to 7 in [`peek_header_len`]):
//!
//! 1. The bytes present among the first 6 differ from `KMSENV`: `NotAnEnvelope` (also for
//!    input shorter than 6 bytes).
//! 2. Byte 6 is present and is not 1: `UnsupportedVersion(byte 6)`.
//! 3. Fewer than 16 bytes: `Truncated`.
//! 4. `L` is not 16 or 32: `UnsupportedDataKeyLength(L)`.
//! 5. `S` is not in `1..=16_777_216`: `MalformedHeader`.
//! 6. `B` is not 88 (when `L` = 16) or 108 (when `L` = 32): `MalformedHeader`.
//! 7. `C` is not in `2..=32_768`: `MalformedHeader`.
//! 8. Fewer than `H = 80 + B + C` bytes: `Truncated`.
//! 9. The blob's first 36 bytes are not lowercase UUID text (the characters `0-9a-f`, with `-`
//!    at offsets 8, 13, 18 and 23; the version and variant digits are not checked):
//!    `MalformedHeader`.
//! 10. The context field is not a valid canonical context, as above: `MalformedHeader`.
//!
//! The data key (the closure [`open`], [`open_into`] and [`DecryptReader`] take, usually
//! [`Header::decrypt`] or [`Header::decrypt_in`], then [`Header::unlock`]):
//!
//! 11. Decrypt of the blob, with the header's canonical context, fails: `Kms(error)`: for
//!     instance `Kms(KeyNotFound)` when the KMS has no key version of the blob's ID, and
//!     `Kms(InvalidParameter(CiphertextBlob))` when the blob's tag does not verify under that
//!     context or the sealed text is not UTF-8. (Decrypt draws nothing from the RNG.)
//! 12. The text Decrypt returns is not a data key: its length is not a multiple of 4:
//!     `InvalidDataKey`; the length it would decode to, `3 * len / 4` less the number of `=` among
//!     its last two characters, is not 16 or 32: `UnsupportedDataKeyLength(that length)`; it is
//!     not canonical, padded, standard Base64: `InvalidDataKey`.
//! 13. The data key is not `L` bytes long: `DataKeyLengthMismatch`. (With `B` tied to `L`, a
//!     data key from the header's own blob always is; only a closure that returns another key
//!     gets this.)
//! 14. The header tag does not verify: `HeaderAuthenticationFailed` (the data key is not the
//!     one the blob holds, or a header byte was changed).
//!
//! The segments, each in order, `i` from 0 ([`Opener`]):
//!
//! 15. The final segment is shorter than a tag (16 bytes), or the input ends right after the
//!     header: `Truncated`.
//! 16. The final segment is a tag alone (no plaintext) and `i > 0`: `EmptyFinalSegment { index:
//!     i }`, before its tag is looked at; no sealer writes it.
//! 17. `i` is `2^32` or more, or the plaintext so far with this segment's would pass `2^48`
//!     bytes: `TooLong`.
//! 18. AES-GCM does not open segment `i` under `nonce_i` (final or not, as above):
//!     `SegmentAuthenticationFailed { index: i }`. This is what a file cut at a segment boundary
//!     (its last segment was sealed as non-final), data after the final segment (which is then
//!     opened as non-final), a moved, duplicated or foreign segment, or a changed byte gives.
//!
//! A streaming opener ([`Opener`], [`DecryptReader`]) releases each segment's plaintext once
//! its tag verifies: when one of checks 15 to 18 fails, the segments before it have been
//! released (a file cut short is known only at its end). The whole-buffer forms ([`open_into`],
//! [`open`]) release nothing unless all is well; they make checks 15 and 17 for the whole input
//! first, before opening any segment (then [`EnvelopeError::BufferTooSmall`] if the output is too
//! short), and checks 16 and 18 segment by segment. So the two kinds differ only on input that
//! fails two checks: one byte appended after a full final segment is `Truncated` for the
//! whole-buffer forms (the last piece is too short for a tag) and `SegmentAuthenticationFailed`
//! of the final segment for a streaming opener (it opened that segment as non-final first).
//!
//! Sealing draws 32 bytes from the RNG, the salt, and nothing else ([`Sealer::new`],
//! [`seal_into`], [`seal`], [`EncryptWriter::new`]). GenerateDataKey draws the data key, then
//! the blob's IV.
//!
//! ## The example's master key
//!
//! `examples/envelope_file.rs` holds one master key in a `FixedCapacityProvider`, with fixed
//! IDs so that any run with the same material opens another's files: key ID
//! `9a3b0c52-6d1e-4f7a-8b2c-3d4e5f60718a`, key version ID
//! `1f2e3d4c-5b6a-4978-8695-a4b3c2d1e0f9` (the first 36 bytes of every blob it makes), account
//! `1234567890123456`, region `cn-hangzhou`. Its material is the hex text of
//! `KMS_ENVELOPE_MASTER_KEY` (or `--master-key`), white space around it removed, either case: 64
//! hex digits are 32 bytes of AES-256 material, 32 digits 16 bytes of AES-128 material, used as
//! they are (no key derivation). It seals a 32-byte data key. To write a file it opens: draw a
//! 32-byte data key and a 12-byte IV, seal the key's Base64 text into a blob as above (with
//! that version ID, that material and the file's canonical context), and write the envelope;
//! to open one of its files: check the blob's version ID, open the blob the same way, decode
//! the text, and follow the checks above.
//!
//! ## Golden vectors
//!
//! `tests/vectors/*.json` (generated by `tests/envelope/vectors.rs`, which checks them byte for
//! byte and again with an implementation of this section that shares no code with this crate)
//! each hold one envelope under the example's key IDs: the master key's material, the RNG
//! bytes in the order they are drawn (data key, blob IV, salt), the context's pairs, the
//! segment size and the plaintext; the values derived on the way (the data key's Base64, the
//! canonical context and its JSON, the blob's associated data, `h`, `prk`, the file key, the
//! header tag, the nonces); the blob, the header and the envelope; and cases named by their
//! outcome (`segment_authentication_failed.truncated_after_segment_0`, ...), each an envelope
//! with the outcome an opener must give: the plaintext, or the error (as `Debug` and
//! `Display` write it) and the plaintext a streaming opener releases before it.
//!
//! # Why it is built this way
//!
//! - **A key per file.** The data key never keys AES-GCM itself. Each file draws a 32-byte salt
//!   and derives its own AES-256 key with HKDF, so one data key can seal any number of files:
//!   nonces only need to be unique within a file, which the segment counter guarantees, and no
//!   nonce is random. Two of `q` files share a salt with probability at most `q² / 2^257`
//!   (`2^-129` for `q = 2^64` files). The file key is 256 bits even under a 16-byte data key, so
//!   a search for one of many file keys at once is no easier than a search for the data key.
//! - **STREAM nonces.** The nonce of a segment is its position and whether it is the last one
//!   (the STREAM construction of Hoang, Reyhanitabar, Rogaway and Vizár, as in age and Tink).
//!   A segment moved, duplicated or taken from another file fails its tag; a file cut at a
//!   segment boundary ends in a segment sealed as non-final, which fails when opened as the
//!   final one; data appended after the final segment makes it fail as a non-final one.
//! - **Canonical segmentation.** Each plaintext has exactly one envelope layout (only the final
//!   segment is short, and it is empty only for an empty plaintext), so an opener holds one
//!   segment back until it knows whether more data follows.
//! - **An authenticated, key-committing header.** The header tag is an HMAC-SHA256 output
//!   (HKDF-Expand) over the hash of every other header byte, keyed from the data key: a changed
//!   field, or a data key that is not the one the blob holds, is refused before any segment is
//!   opened. Unlike a GCM tag, it commits to the key: two data keys that give a header the same
//!   tag would be a SHA-256 collision, so an envelope opens under one data key only (AES-GCM
//!   alone does not promise that). The hash is also part of the file key's derivation, so every
//!   segment is bound to its header too.
//! - **The blob and context travel with the data.** The header holds the blob raw (108 bytes
//!   for a 32-byte data key instead of 144 in Base64) and the context in the canonical encoding
//!   the KMS binds, so Decrypt can be called with nothing but the file. The context is
//!   authenticated, not secret.
//!
//! # Limits
//!
//! | limit | value | why |
//! |---|---|---|
//! | segments per file | at most 2^32, inclusive | counters stay 64-bit with room; the nonce has space for 2^88 |
//! | plaintext per file | at most 2^48 bytes (256 TiB), inclusive | keeps AES-GCM's bound under one key near `σ²/2^129 ≈ 2^-41` (`σ ≤ 2^44 + 2^32` blocks) |
//! | largest file | `min(2^32 × S, 2^48)` bytes: 256 TiB at the default S, 4 GiB at S = 1 | both limits above; at 64 KiB they coincide |
//! | segment size | 1 ..= 16 MiB | an opener allocates `S + 16` bytes on the header's word: 16 MiB caps what a hostile header can ask for |
//! | files per data key | no fixed limit | per-file keys; salts collide with probability `q²/2^257`; GCM's bounds add up per file key, e.g. 2^32 files of 1 GiB: `2^32 × 2^52 / 2^129 = 2^-45` |
//! | header | at most 80 + 108 + 32 768 bytes | the blob of a 32-byte key, and a context of 8192 characters of up to 4 UTF-8 bytes |
//! | data key | 16 or 32 bytes | AES-128 / AES-256 data keys (`KeySpec` `AES_128` / `AES_256`, or `NumberOfBytes` 16 / 32); others are refused with [`EnvelopeError::UnsupportedDataKeyLength`] |
//!
//! Both limits are inclusive: a file may have 2^32 segments (indices `0..=2^32 - 1`) and 2^48
//! plaintext bytes, and one segment or byte more is [`EnvelopeError::TooLong`]. At the default
//! 64 KiB segments the two meet: 2^32 full segments are exactly 2^48 bytes. Sealing more than
//! a file may hold fails before anything over the limit is sealed (the whole-buffer forms before
//! anything at all); an opener refuses the same (check 17).
//!
//! # Caveats
//!
//! - An opener releases each segment's plaintext as soon as that segment authenticates, before
//!   it can know whether the file goes on: a file cut short is reported only by
//!   [`Opener::finish`] (or the `Read` adapter's end of file). Treat output as complete only
//!   when that returns `Ok`; write it somewhere temporary until then.
//! - Dropping a [`Sealer`] or [`EncryptWriter`] without `finish` leaves an envelope without its
//!   final segment, which no opener accepts.
//! - The sealer cannot check that the data key is the one the blob holds (only Decrypt can):
//!   pass the data key and blob of the same GenerateDataKey result, and the context it was
//!   called with, or the file will not open.

#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[cfg(feature = "alloc")]
extern crate alloc;

mod header;
#[cfg(feature = "std")]
mod io;
mod keys;
mod stream;

use core::fmt;

use base64ct::{Base64, Encoding};
use kms_core::blob::Blob;
use kms_core::context::Context;
use zeroize::Zeroizing;

pub use header::{Header, HeaderReader, peek_header_len};
#[cfg(feature = "std")]
pub use io::{DecryptReader, EncryptWriter};
pub use keys::FileKey;
pub use stream::{Opener, Sealer, open_into, seal_into};
#[cfg(feature = "alloc")]
pub use stream::{open, seal};

/// The magic bytes every envelope starts with: ASCII `KMSENV`.
pub const MAGIC: [u8; 6] = *b"KMSENV";
/// The format version this module writes and reads.
pub const VERSION: u8 = 1;
/// The fixed part of the header that gives its full length: magic, version, data key
/// length, segment size, blob length and context length.
pub const HEADER_PREFIX_LEN: usize = 16;
/// Length of the per-file salt.
pub const SALT_LEN: usize = 32;
/// Length of the header tag.
pub const HEADER_TAG_LEN: usize = 32;
/// Header bytes besides the blob and the context: prefix, salt and tag.
pub const HEADER_FIXED_LEN: usize = HEADER_PREFIX_LEN + SALT_LEN + HEADER_TAG_LEN;
/// The longest canonical context a header may carry: 8192 characters of up to 4 UTF-8 bytes.
pub const MAX_CONTEXT_LEN: usize = 4 * kms_core::context::MAX_CONTEXT_CHARS;
/// The longest blob a header carries: the blob of a 32-byte data key.
pub const MAX_DATA_KEY_BLOB_LEN: usize = blob_len_for(32);
/// The longest header.
pub const MAX_HEADER_LEN: usize = HEADER_FIXED_LEN + MAX_DATA_KEY_BLOB_LEN + MAX_CONTEXT_LEN;
/// Length of each segment's AES-GCM tag.
pub const SEGMENT_TAG_LEN: usize = 16;
/// The default segment size: 64 KiB.
pub const DEFAULT_SEGMENT_SIZE: u32 = 64 * 1024;
/// The largest segment size: 16 MiB.
pub const MAX_SEGMENT_SIZE: u32 = 16 * 1024 * 1024;
/// The most segments a file may have.
pub const MAX_SEGMENTS: u64 = 1 << 32;
/// The most plaintext bytes a file may hold: 256 TiB.
pub const MAX_PLAINTEXT_LEN: u64 = 1 << 48;

/// The length of the blob of a data key of `key_len` bytes: the key version ID, the IV, the
/// Base64 of the key and the tag.
pub const fn blob_len_for(key_len: usize) -> usize {
    kms_core::blob::OVERHEAD + kms_core::blob::base64_len(key_len)
}

/// The length of the envelope of `plaintext_len` bytes under a header of `header_len` bytes
/// and segments of `segment_size` bytes; `None` if `segment_size` is 0 or the length overflows.
pub const fn envelope_len(header_len: usize, segment_size: u32, plaintext_len: u64) -> Option<u64> {
    if segment_size == 0 {
        return None;
    }
    let mut segments = plaintext_len.div_ceil(segment_size as u64);
    if segments == 0 {
        segments = 1;
    }
    match (segments as u128) * (SEGMENT_TAG_LEN as u128)
        + (plaintext_len as u128)
        + (header_len as u128)
    {
        n if n <= u64::MAX as u128 => Some(n as u64),
        _ => None,
    }
}

/// What can go wrong when sealing or opening an envelope.
///
/// This is a local error, not one of the wire errors of spec §8. Opening reports what it
/// found (a truncated file, a failed segment, a wrong key): the party that altered a file
/// learns nothing from that which it did not already know.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EnvelopeError {
    /// A data key, the text of one, or a header's `L` gives a length other than 16 or 32 bytes
    /// (that length).
    UnsupportedDataKeyLength(usize),
    /// The data key text is not canonical, padded, standard Base64.
    InvalidDataKey,
    /// The segment size is outside `1..=16 MiB`.
    InvalidSegmentSize,
    /// The blob given to seal is not the blob of a data key of this length.
    InvalidBlob,
    /// The encryption context given to seal does not fit a header.
    InvalidContext,
    /// A buffer the caller gave is shorter than `needed` bytes.
    BufferTooSmall {
        /// The bytes needed.
        needed: usize,
    },
    /// The RNG failed to give the salt.
    Rng,
    /// The input does not start with the envelope magic.
    NotAnEnvelope,
    /// The format version is not one this module reads.
    UnsupportedVersion(u8),
    /// A header field is out of range or malformed: the segment size, the blob's or the
    /// context's length, a blob that does not start with a lowercase UUID, or a context that is
    /// not a valid canonical encoding of at most 8192 characters as JSON.
    MalformedHeader,
    /// The data key's length is not the one the header names.
    DataKeyLengthMismatch,
    /// The header tag does not verify: the data key is not the one the header's blob holds, or
    /// the header was altered.
    HeaderAuthenticationFailed,
    /// Segment `index` does not authenticate: altered, moved, duplicated, taken from another
    /// file, followed by data it should not be, or the file was cut there.
    SegmentAuthenticationFailed {
        /// The position of the segment.
        index: u64,
    },
    /// The input ends before the header does, or before a final segment.
    Truncated,
    /// Segment `index` is an empty final segment after a full one. Segmentation is canonical:
    /// only an empty plaintext ends in an empty segment, so no sealer writes this; it is
    /// refused before its tag is looked at.
    EmptyFinalSegment {
        /// The position of the segment.
        index: u64,
    },
    /// More than [`MAX_SEGMENTS`] segments or [`MAX_PLAINTEXT_LEN`] bytes.
    TooLong,
    /// An earlier call on this sealer or opener failed; it cannot go on.
    Poisoned,
    /// Decrypt (called by [`Header::decrypt`] or [`Header::decrypt_in`]) failed, or was a dry
    /// run.
    Kms(kms_core::Error),
}

impl fmt::Display for EnvelopeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnsupportedDataKeyLength(n) => {
                write!(f, "unsupported data key length {n} (16 or 32 bytes needed)")
            }
            Self::InvalidDataKey => f.write_str("the data key text is not Base64"),
            Self::InvalidSegmentSize => f.write_str("segment size outside 1..=16 MiB"),
            Self::InvalidBlob => f.write_str("invalid ciphertext blob for this data key"),
            Self::InvalidContext => f.write_str("invalid encryption context"),
            Self::BufferTooSmall { needed } => write!(f, "buffer too small: {needed} bytes needed"),
            Self::Rng => f.write_str("the RNG failed"),
            Self::NotAnEnvelope => f.write_str("not an envelope (bad magic)"),
            Self::UnsupportedVersion(v) => write!(f, "unsupported envelope version {v}"),
            Self::MalformedHeader => f.write_str("malformed envelope header"),
            Self::DataKeyLengthMismatch => {
                f.write_str("the data key's length differs from the header's")
            }
            Self::HeaderAuthenticationFailed => f.write_str(
                "envelope header authentication failed (wrong data key or altered header)",
            ),
            Self::SegmentAuthenticationFailed { index } => {
                write!(f, "envelope segment {index} failed authentication")
            }
            Self::Truncated => f.write_str("envelope truncated"),
            Self::EmptyFinalSegment { index } => write!(
                f,
                "envelope segment {index} is an empty final segment after a full one (not canonical)"
            ),
            Self::TooLong => f.write_str("envelope too long"),
            Self::Poisoned => f.write_str("an earlier envelope operation failed"),
            Self::Kms(e) => write!(f, "Decrypt failed ({}): {e}", e.code()),
        }
    }
}

impl core::error::Error for EnvelopeError {}

/// A plaintext data key of 16 or 32 bytes, the input of every file key. Zeroized on drop,
/// redacted in `Debug`, not `Clone`, compared in constant time.
///
/// Make one from a GenerateDataKey result when sealing, from a Decrypt result when opening
/// (both `TryFrom`), or from raw bytes or their Base64 text.
pub struct DataKey {
    bytes: Zeroizing<[u8; 32]>,
    len: usize,
}

impl DataKey {
    /// Takes raw key bytes: 16 or 32 of them.
    ///
    /// # Errors
    /// [`EnvelopeError::UnsupportedDataKeyLength`] for any other length.
    pub fn new(bytes: &[u8]) -> Result<Self, EnvelopeError> {
        if bytes.len() != 16 && bytes.len() != 32 {
            return Err(EnvelopeError::UnsupportedDataKeyLength(bytes.len()));
        }
        let mut key = Zeroizing::new([0u8; 32]);
        key[..bytes.len()].copy_from_slice(bytes);
        Ok(Self {
            bytes: key,
            len: bytes.len(),
        })
    }

    /// Decodes the Base64 text of a key, as GenerateDataKey and Decrypt return it in
    /// `Plaintext`.
    ///
    /// # Errors
    /// [`EnvelopeError::InvalidDataKey`] for text that is not padded standard Base64,
    /// [`EnvelopeError::UnsupportedDataKeyLength`] for a key that is not 16 or 32 bytes.
    pub fn from_base64(text: &str) -> Result<Self, EnvelopeError> {
        let bytes = text.as_bytes();
        if !bytes.len().is_multiple_of(4) {
            return Err(EnvelopeError::InvalidDataKey);
        }
        let pad = bytes.iter().rev().take(2).filter(|&&b| b == b'=').count();
        let len = (bytes.len() / 4 * 3).saturating_sub(pad);
        if len != 16 && len != 32 {
            return Err(EnvelopeError::UnsupportedDataKeyLength(len));
        }
        let mut key = Zeroizing::new([0u8; 32]);
        let decoded = Base64::decode(text, &mut key[..len])
            .map_err(|_| EnvelopeError::InvalidDataKey)?
            .len();
        if decoded != len {
            return Err(EnvelopeError::InvalidDataKey);
        }
        Ok(Self { bytes: key, len })
    }

    /// The key's length in bytes: 16 or 32.
    pub fn key_len(&self) -> usize {
        self.len
    }

    /// The raw key bytes. Handle with care: copies are not zeroized for you.
    pub fn expose(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DataKey({} bytes, [REDACTED])", self.len)
    }
}

impl subtle::ConstantTimeEq for DataKey {
    fn ct_eq(&self, other: &Self) -> subtle::Choice {
        self.expose().ct_eq(other.expose())
    }
}

impl PartialEq for DataKey {
    /// Constant time in the contents (the lengths are not secret).
    fn eq(&self, other: &Self) -> bool {
        subtle::ConstantTimeEq::ct_eq(self, other).into()
    }
}

impl Eq for DataKey {}

impl TryFrom<&kms_core::ops::GeneratedDataKey<'_>> for DataKey {
    type Error = EnvelopeError;
    fn try_from(out: &kms_core::ops::GeneratedDataKey<'_>) -> Result<Self, EnvelopeError> {
        Self::new(out.data_key.expose())
    }
}

impl TryFrom<&kms_core::ops::Opened<'_>> for DataKey {
    type Error = EnvelopeError;
    fn try_from(out: &kms_core::ops::Opened<'_>) -> Result<Self, EnvelopeError> {
        Self::from_base64(out.plaintext.expose())
    }
}

#[cfg(feature = "alloc")]
impl TryFrom<&kms_core::ops::GeneratedDataKeyBuf> for DataKey {
    type Error = EnvelopeError;
    fn try_from(out: &kms_core::ops::GeneratedDataKeyBuf) -> Result<Self, EnvelopeError> {
        Self::new(out.data_key.expose())
    }
}

#[cfg(feature = "alloc")]
impl TryFrom<&kms_core::ops::OpenedBuf> for DataKey {
    type Error = EnvelopeError;
    fn try_from(out: &kms_core::ops::OpenedBuf) -> Result<Self, EnvelopeError> {
        Self::from_base64(out.plaintext.expose())
    }
}

/// What a sealer writes into the header besides the salt: the data key's blob, the context it
/// was bound to, and the segment size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SealParams<'a> {
    /// The blob of the data key, as GenerateDataKey returned it.
    pub ciphertext_blob: Blob<'a>,
    /// The encryption context GenerateDataKey bound it to.
    pub context: Context<'a>,
    /// The segment size, `1..=16 MiB`; [`DEFAULT_SEGMENT_SIZE`] unless set.
    pub segment_size: u32,
}

impl<'a> SealParams<'a> {
    /// Parameters for `ciphertext_blob` with the empty context and 64 KiB segments.
    pub fn new(ciphertext_blob: impl Into<Blob<'a>>) -> Self {
        Self {
            ciphertext_blob: ciphertext_blob.into(),
            context: Context::EMPTY,
            segment_size: DEFAULT_SEGMENT_SIZE,
        }
    }

    /// The same parameters with the context the blob is bound to.
    #[must_use]
    pub fn with_context(self, context: impl Into<Context<'a>>) -> Self {
        Self {
            context: context.into(),
            ..self
        }
    }

    /// The same parameters with another segment size.
    #[must_use]
    pub fn with_segment_size(self, segment_size: u32) -> Self {
        Self {
            segment_size,
            ..self
        }
    }

    /// The length of the header these parameters make, for a data key of `key_len` bytes.
    ///
    /// # Errors
    /// [`EnvelopeError::UnsupportedDataKeyLength`], [`EnvelopeError::InvalidBlob`] when the
    /// blob is not as long as such a key's blob, [`EnvelopeError::InvalidContext`] when the
    /// context is longer than a header holds.
    pub fn header_len(&self, key_len: usize) -> Result<usize, EnvelopeError> {
        if key_len != 16 && key_len != 32 {
            return Err(EnvelopeError::UnsupportedDataKeyLength(key_len));
        }
        if self.ciphertext_blob.as_bytes().len() != blob_len_for(key_len) {
            return Err(EnvelopeError::InvalidBlob);
        }
        let context = self.context.canonical().len();
        if context > MAX_CONTEXT_LEN {
            return Err(EnvelopeError::InvalidContext);
        }
        Ok(HEADER_FIXED_LEN + blob_len_for(key_len) + context)
    }

    /// The buffer a [`Sealer`] needs: the larger of the header and a sealed segment.
    ///
    /// # Errors
    /// As [`header_len`](Self::header_len), and [`EnvelopeError::InvalidSegmentSize`].
    pub fn buffer_len(&self, key_len: usize) -> Result<usize, EnvelopeError> {
        let segment = segment_size(self.segment_size)?;
        Ok(self.header_len(key_len)?.max(segment + SEGMENT_TAG_LEN))
    }
}

/// Checks a segment size and returns it as a `usize`.
pub(crate) fn segment_size(size: u32) -> Result<usize, EnvelopeError> {
    if (1..=MAX_SEGMENT_SIZE).contains(&size) {
        usize::try_from(size).map_err(|_| EnvelopeError::InvalidSegmentSize)
    } else {
        Err(EnvelopeError::InvalidSegmentSize)
    }
}
