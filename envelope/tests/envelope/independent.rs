//! A second implementation of the envelope format, written from the documentation alone (the
//! format section of the crate docs, and spec §4 and §5 for the blob and its associated data):
//! `sha2`, `hkdf`, `aes-gcm` and `base64ct` directly, and no code of `kms-envelope` or
//! `kms-core`. The vector tests check that it opens every vector's envelope, refuses every
//! tampered one with the same error, and seals the same bytes from the same inputs.
//!
//! Its errors are the names (the `Debug` text) of the `EnvelopeError` the documentation says
//! each check gives, so that they compare with what the crate reports.

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes128Gcm, Aes256Gcm, Nonce};
use base64ct::{Base64, Encoding};
use hkdf::Hkdf;
use sha2::{Digest, Sha256};

pub const MAGIC: &[u8; 6] = b"KMSENV";
pub const VERSION: u8 = 1;
const PREFIX_LEN: usize = 16;
const SALT_LEN: usize = 32;
const TAG_LEN: usize = 16;
const HEADER_TAG_LEN: usize = 32;
const MAX_SEGMENT_SIZE: u64 = 1 << 24;
const MAX_CONTEXT_BYTES: usize = 32_768;
const MAX_CONTEXT_CHARS: usize = 8192;
const MAX_SEGMENTS: u64 = 1 << 32;
const MAX_PLAINTEXT: u64 = 1 << 48;
const KEY_LABEL: &[u8] = b"kms-core envelope v1 segment key";
const TAG_LABEL: &[u8] = b"kms-core envelope v1 header tag";

/// The KMS's side: one master key version, as the example holds it.
pub struct MasterKey<'a> {
    /// The key version ID: 36 bytes of lowercase UUID text.
    pub version_id: &'a [u8],
    /// AES-128 (16 bytes) or AES-256 (32 bytes) material.
    pub material: &'a [u8],
}

/// The blob's length for a data key of `key_len` bytes: version ID, IV, Base64 text, tag.
pub fn blob_len(key_len: usize) -> usize {
    36 + 12 + key_len.div_ceil(3) * 4 + 16
}

/// The canonical encoding of a context (spec §4): the pair count, then the pairs sorted by the
/// bytes of their keys, each as `u16 len, key, u16 len, value`.
pub fn canonical_context(pairs: &[(&str, &str)]) -> Vec<u8> {
    let mut sorted = pairs.to_vec();
    sorted.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let mut out = (sorted.len() as u16).to_be_bytes().to_vec();
    for (k, v) in sorted {
        for s in [k, v] {
            out.extend_from_slice(&(s.len() as u16).to_be_bytes());
            out.extend_from_slice(s.as_bytes());
        }
    }
    out
}

/// A JSON string as the shortest JSON writes it: `"` and `\` escaped, the controls `\b \f \n
/// \r \t` as such, other controls below U+0020 as `\u00xx` (lowercase), everything else raw.
fn json_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// The shortest JSON text of sorted pairs: no white space, `{}` when empty.
pub fn shortest_json(pairs: &[(String, String)]) -> String {
    let mut out = String::from("{");
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        json_string(k, &mut out);
        out.push(':');
        json_string(v, &mut out);
    }
    out.push('}');
    out
}

/// Reads a canonical context and applies the documented validity rules; the pairs, or `None`.
pub fn parse_canonical(canonical: &[u8]) -> Option<Vec<(String, String)>> {
    let count = usize::from(u16::from_be_bytes(canonical.get(..2)?.try_into().ok()?));
    let mut at = 2;
    let field = |at: &mut usize| -> Option<Vec<u8>> {
        let len = usize::from(u16::from_be_bytes(
            canonical.get(*at..*at + 2)?.try_into().ok()?,
        ));
        let bytes = canonical.get(*at + 2..*at + 2 + len)?.to_vec();
        *at += 2 + len;
        Some(bytes)
    };
    let mut pairs: Vec<(String, String)> = Vec::new();
    while at < canonical.len() {
        let key = String::from_utf8(field(&mut at)?).ok()?;
        let value = String::from_utf8(field(&mut at)?).ok()?;
        if key.is_empty()
            || pairs
                .last()
                .is_some_and(|(p, _)| p.as_bytes() >= key.as_bytes())
        {
            return None;
        }
        pairs.push((key, value));
    }
    if pairs.len() != count || shortest_json(&pairs).chars().count() > MAX_CONTEXT_CHARS {
        return None;
    }
    Some(pairs)
}

fn is_lowercase_uuid(s: &[u8]) -> bool {
    s.len() == 36
        && s.iter().enumerate().all(|(i, &c)| match i {
            8 | 13 | 18 | 23 => c == b'-',
            _ => c.is_ascii_digit() || (b'a'..=b'f').contains(&c),
        })
}

/// AES-GCM under the master key's material, 128 or 256 by its length.
fn master_gcm(
    material: &[u8],
    iv: &[u8; 12],
    aad: &[u8],
    data: &mut [u8],
    tag: Option<&[u8; 16]>,
) -> Result<[u8; 16], ()> {
    let nonce = Nonce::from(*iv);
    macro_rules! run {
        ($cipher:ty) => {{
            let cipher = <$cipher>::new_from_slice(material).map_err(|_| ())?;
            match tag {
                None => cipher
                    .encrypt_inout_detached(&nonce, aad, data.into())
                    .map(Into::into)
                    .map_err(|_| ()),
                Some(tag) => cipher
                    .decrypt_inout_detached(&nonce, aad, data.into(), tag.into())
                    .map(|()| *tag)
                    .map_err(|_| ()),
            }
        }};
    }
    match material.len() {
        16 => run!(Aes128Gcm),
        32 => run!(Aes256Gcm),
        _ => Err(()),
    }
}

/// GenerateDataKey's blob (spec §5): the version ID, the IV, and AES-GCM under the master key
/// of the data key's standard, padded Base64 text, with the version ID and the canonical
/// context as associated data.
pub fn seal_blob(
    master: &MasterKey<'_>,
    iv: &[u8; 12],
    sealed_text: &[u8],
    canonical: &[u8],
) -> Vec<u8> {
    let mut aad = master.version_id.to_vec();
    aad.extend_from_slice(canonical);
    let mut body = sealed_text.to_vec();
    let tag = master_gcm(master.material, iv, &aad, &mut body, None).expect("master key");
    let mut blob = master.version_id.to_vec();
    blob.extend_from_slice(iv);
    blob.extend_from_slice(&body);
    blob.extend_from_slice(&tag);
    blob
}

/// The data key's text for [`seal_blob`].
pub fn data_key_text(data_key: &[u8]) -> Vec<u8> {
    Base64::encode_string(data_key).into_bytes()
}

/// The values the format derives from the data key, the salt and the header.
pub struct Derived {
    pub prk: [u8; 32],
    pub header_hash: [u8; 32],
    pub file_key: [u8; 32],
    pub header_tag: [u8; 32],
}

/// `prk = HKDF-Extract(salt, data key)`, `h = SHA-256(header before the tag)`, and the file key
/// and header tag by HKDF-Expand with the labels followed by `h`.
pub fn derive(data_key: &[u8], salt: &[u8], header_body: &[u8]) -> Derived {
    let header_hash: [u8; 32] = Sha256::digest(header_body).into();
    let (prk, hk) = Hkdf::<Sha256>::extract(Some(salt), data_key);
    let mut file_key = [0u8; 32];
    let mut info = KEY_LABEL.to_vec();
    info.extend_from_slice(&header_hash);
    hk.expand(&info, &mut file_key).expect("32 bytes");
    let mut header_tag = [0u8; 32];
    let mut info = TAG_LABEL.to_vec();
    info.extend_from_slice(&header_hash);
    hk.expand(&info, &mut header_tag).expect("32 bytes");
    Derived {
        prk: prk.into(),
        header_hash,
        file_key,
        header_tag,
    }
}

/// The nonce of segment `index`: an 11-byte big-endian counter, then 1 for the final segment.
pub fn nonce(index: u64, last: bool) -> [u8; 12] {
    let mut n = [0u8; 12];
    n[3..11].copy_from_slice(&index.to_be_bytes());
    n[11] = u8::from(last);
    n
}

/// One sealed segment: AES-256-GCM under the file key, no associated data.
pub fn seal_segment(file_key: &[u8; 32], index: u64, last: bool, plaintext: &[u8]) -> Vec<u8> {
    let cipher = Aes256Gcm::new(file_key.into());
    let mut out = plaintext.to_vec();
    let tag = cipher
        .encrypt_inout_detached(
            &Nonce::from(nonce(index, last)),
            b"",
            out.as_mut_slice().into(),
        )
        .expect("segment");
    out.extend_from_slice(&tag);
    out
}

/// The header before its tag.
pub fn header_body(
    key_len: usize,
    segment_size: u32,
    salt: &[u8],
    blob: &[u8],
    canonical: &[u8],
) -> Vec<u8> {
    let mut h = MAGIC.to_vec();
    h.push(VERSION);
    h.push(key_len as u8);
    h.extend_from_slice(&segment_size.to_be_bytes());
    h.extend_from_slice(&(blob.len() as u16).to_be_bytes());
    h.extend_from_slice(&(canonical.len() as u16).to_be_bytes());
    h.extend_from_slice(salt);
    h.extend_from_slice(blob);
    h.extend_from_slice(canonical);
    h
}

/// A whole envelope: the header and the plaintext in segments of `segment_size` bytes (one
/// empty segment for an empty plaintext).
pub fn seal(
    data_key: &[u8],
    salt: &[u8],
    segment_size: u32,
    blob: &[u8],
    canonical: &[u8],
    plaintext: &[u8],
) -> Vec<u8> {
    let mut out = header_body(data_key.len(), segment_size, salt, blob, canonical);
    let derived = derive(data_key, salt, &out);
    out.extend_from_slice(&derived.header_tag);
    let pieces: Vec<&[u8]> = if plaintext.is_empty() {
        vec![&[]]
    } else {
        plaintext.chunks(segment_size as usize).collect()
    };
    for (i, piece) in pieces.iter().enumerate() {
        let last = i + 1 == pieces.len();
        out.extend_from_slice(&seal_segment(&derived.file_key, i as u64, last, piece));
    }
    out
}

/// How opening failed: the error's name and what a streaming opener released before it.
#[derive(Debug, PartialEq, Eq)]
pub struct Failure {
    pub error: String,
    pub released: Vec<u8>,
}

fn fail<T>(error: impl Into<String>) -> Result<T, Failure> {
    Err(Failure {
        error: error.into(),
        released: Vec::new(),
    })
}

/// Decodes the data key's text as `Header::decrypt` does: strict standard Base64 with padding,
/// 16 or 32 bytes.
fn decode_data_key(text: &[u8]) -> Result<Vec<u8>, String> {
    if !text.len().is_multiple_of(4) {
        return Err("InvalidDataKey".into());
    }
    let pad = text.iter().rev().take(2).filter(|&&b| b == b'=').count();
    let len = (text.len() / 4 * 3).saturating_sub(pad);
    if len != 16 && len != 32 {
        return Err(format!("UnsupportedDataKeyLength({len})"));
    }
    let text = std::str::from_utf8(text).map_err(|_| "InvalidDataKey")?;
    Base64::decode_vec(text).map_err(|_| "InvalidDataKey".into())
}

/// Opens `file` with the data key Decrypt gives for the header's blob under `master`, making the
/// documented checks in the documented order, and releasing each segment's plaintext once it
/// authenticates, as a streaming opener that is given the whole file does.
pub fn open(master: &MasterKey<'_>, file: &[u8]) -> Result<Vec<u8>, Failure> {
    // The prefix.
    let n = file.len().min(6);
    if file[..n] != MAGIC[..n] {
        return fail("NotAnEnvelope");
    }
    if let Some(&v) = file.get(6)
        && v != VERSION
    {
        return fail(format!("UnsupportedVersion({v})"));
    }
    if file.len() < PREFIX_LEN {
        return fail("Truncated");
    }
    let key_len = usize::from(file[7]);
    if key_len != 16 && key_len != 32 {
        return fail(format!("UnsupportedDataKeyLength({key_len})"));
    }
    let segment_size = u32::from_be_bytes(file[8..12].try_into().unwrap());
    if !(1..=MAX_SEGMENT_SIZE).contains(&u64::from(segment_size)) {
        return fail("MalformedHeader");
    }
    let b = usize::from(u16::from_be_bytes([file[12], file[13]]));
    if b != blob_len(key_len) {
        return fail("MalformedHeader");
    }
    let c = usize::from(u16::from_be_bytes([file[14], file[15]]));
    if !(2..=MAX_CONTEXT_BYTES).contains(&c) {
        return fail("MalformedHeader");
    }
    let h = PREFIX_LEN + SALT_LEN + b + c + HEADER_TAG_LEN;
    if file.len() < h {
        return fail("Truncated");
    }
    let salt = &file[16..48];
    let blob = &file[48..48 + b];
    let canonical = &file[48 + b..48 + b + c];
    let tag = &file[48 + b + c..h];
    if !is_lowercase_uuid(&blob[..36]) {
        return fail("MalformedHeader");
    }
    if parse_canonical(canonical).is_none() {
        return fail("MalformedHeader");
    }

    // Decrypt, as the KMS does it, then the data key's text.
    if blob[..36] != *master.version_id {
        return fail("Kms(KeyNotFound)");
    }
    let mut aad = blob[..36].to_vec();
    aad.extend_from_slice(canonical);
    let iv: [u8; 12] = blob[36..48].try_into().unwrap();
    let blob_tag: [u8; 16] = blob[b - 16..].try_into().unwrap();
    let mut text = blob[48..b - 16].to_vec();
    let blob_failed = "Kms(InvalidParameter(CiphertextBlob))";
    if master_gcm(master.material, &iv, &aad, &mut text, Some(&blob_tag)).is_err()
        || std::str::from_utf8(&text).is_err()
    {
        return fail(blob_failed);
    }
    let data_key = match decode_data_key(&text) {
        Ok(key) => key,
        Err(e) => return fail(e),
    };
    if data_key.len() != key_len {
        return fail("DataKeyLengthMismatch");
    }
    let derived = derive(&data_key, salt, &file[..h - HEADER_TAG_LEN]);
    if derived.header_tag[..] != *tag {
        return fail("HeaderAuthenticationFailed");
    }

    // The segments.
    let cipher = Aes256Gcm::new((&derived.file_key).into());
    let sealed = segment_size as usize + TAG_LEN;
    let body = &file[h..];
    let mut released = Vec::new();
    let (mut at, mut index, mut total) = (0usize, 0u64, 0u64);
    loop {
        let rest = body.len() - at;
        let last = rest <= sealed;
        let len = if last { rest } else { sealed };
        let failure = |error: String, released: Vec<u8>| Err(Failure { error, released });
        if last && len < TAG_LEN {
            return failure("Truncated".into(), released);
        }
        let plaintext_len = len - TAG_LEN;
        if last && plaintext_len == 0 && index > 0 {
            return failure(format!("EmptyFinalSegment {{ index: {index} }}"), released);
        }
        total += plaintext_len as u64;
        if index >= MAX_SEGMENTS || total > MAX_PLAINTEXT {
            return failure("TooLong".into(), released);
        }
        let mut data = body[at..at + plaintext_len].to_vec();
        let segment_tag: [u8; 16] = body[at + plaintext_len..at + len].try_into().unwrap();
        if cipher
            .decrypt_inout_detached(
                &Nonce::from(nonce(index, last)),
                b"",
                data.as_mut_slice().into(),
                (&segment_tag).into(),
            )
            .is_err()
        {
            return failure(
                format!("SegmentAuthenticationFailed {{ index: {index} }}"),
                released,
            );
        }
        released.extend_from_slice(&data);
        if last {
            return Ok(released);
        }
        at += len;
        index += 1;
    }
}
