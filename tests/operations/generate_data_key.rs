//! GenerateDataKey (spec §1, §3, §5): the data key's length from `NumberOfBytes` and `KeySpec`
//! and the order of the parameters (rules GenerateDataKeyWithoutPlaintext shares: they are
//! written here once, as [`Generate`] runs, and both modules run them), the blob that seals the
//! key's Base64 text, where the randomness comes from and in which order, the RequestId, what
//! a workspace keeps, the fixed-capacity provider, and the typed layer.

use kms_core::ops::{self, DryRunPassed, GenerateDataKeyRequest, Outcome};
use kms_core::rand_core::{Infallible, SeedableRng, TryCryptoRng, TryRng};
use kms_core::wire::{self, DecryptParams, GenerateDataKeyParams};
use kms_core::{
    Caller, DataKeyLength, Error, FixedCapacityProvider, InMemoryProvider, Internal, KeyId,
    KeyOptions, KeyOrigin, KeyProvider, KeyReference, KeyState, KeyVersionId, MasterKeyMaterial,
    MasterKeySpec, Parameter, RequestId, WorkspaceTooSmall,
};
use rand_chacha::ChaCha20Rng;

use crate::testkit::*;

// ---------------------------------------------------------------------------------------------
// The two operations that take a GenerateDataKey request

/// GenerateDataKey or GenerateDataKeyWithoutPlaintext, over the wire layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Generate {
    WithPlaintext,
    WithoutPlaintext,
}

/// What either operation answered. `plaintext` is GenerateDataKey's only.
#[derive(Debug)]
pub(crate) struct Generated {
    pub key_id: KeyId,
    pub key_version_id: KeyVersionId,
    pub blob: String,
    pub plaintext: Option<String>,
    pub request_id: RequestId,
}

impl Generate {
    /// Runs the operation as `caller` with `rng`.
    pub(crate) fn run_with<P, R>(
        self,
        provider: &P,
        caller: &Caller<'_>,
        params: &GenerateDataKeyParams<'_>,
        rng: &mut R,
    ) -> Result<Generated, Error>
    where
        P: KeyProvider + ?Sized,
        R: TryCryptoRng + ?Sized,
    {
        match self {
            Generate::WithPlaintext => {
                wire::generate_data_key(provider, caller, params, rng).map(|r| Generated {
                    key_id: r.key_id,
                    key_version_id: r.key_version_id,
                    blob: r.ciphertext_blob,
                    plaintext: Some(r.plaintext.expose().to_string()),
                    request_id: r.request_id,
                })
            }
            Generate::WithoutPlaintext => {
                wire::generate_data_key_without_plaintext(provider, caller, params, rng).map(|r| {
                    Generated {
                        key_id: r.key_id,
                        key_version_id: r.key_version_id,
                        blob: r.ciphertext_blob,
                        plaintext: None,
                        request_id: r.request_id,
                    }
                })
            }
        }
    }

    /// Runs the operation as the owner with the world's RNG.
    pub(crate) fn run(
        self,
        world: &mut World,
        params: &GenerateDataKeyParams<'_>,
    ) -> Result<Generated, Error> {
        self.run_with(&world.provider, &owner(), params, &mut world.rng)
    }
}

/// GenerateDataKey's parameters, each given (`Some`) or absent.
pub(crate) fn params<'a>(
    key_id: Option<&'a str>,
    key_spec: Option<&'a str>,
    number_of_bytes: Option<&'a str>,
    context: Option<&'a str>,
    dry_run: Option<&'a str>,
) -> GenerateDataKeyParams<'a> {
    let mut p = GenerateDataKeyParams::new();
    p.key_id = key_id;
    p.key_spec = key_spec;
    p.number_of_bytes = number_of_bytes;
    p.encryption_context = context;
    p.dry_run = dry_run;
    p
}

/// The padded Base64 length of `n` bytes: 4 characters per started group of 3.
pub(crate) fn base64_len(n: usize) -> usize {
    n.div_ceil(3) * 4
}

/// Opens `blob` as the owner under `context` and returns the raw data key, checking on the way
/// that the blob and the text are the sizes a key of `len` bytes makes (spec §5).
#[track_caller]
pub(crate) fn open_data_key(
    world: &mut World,
    blob: &str,
    context: Option<&str>,
    len: usize,
) -> Vec<u8> {
    let text_len = base64_len(len);
    assert_eq!(unb64(blob).len(), 36 + 12 + text_len + 16, "blob size");
    assert_eq!(blob.len(), base64_len(36 + 12 + text_len + 16), "blob text");
    let opened = world.open(blob, context).expect("Decrypt of a fresh blob");
    let text = opened.plaintext.expose();
    assert_eq!(text.len(), text_len, "the sealed Base64 text");
    let key = unb64(text);
    assert_eq!(key.len(), len, "data key length");
    assert_eq!(b64(&key), text, "canonical Base64");
    key
}

// ---------------------------------------------------------------------------------------------
// Spec §3: the data key's length, the same rules for both operations

/// `KeySpec`, `NumberOfBytes` and the length they give.
const LENGTHS: &[(Option<&str>, Option<&str>, usize)] = &[
    (None, None, 32),
    (Some("AES_256"), None, 32),
    (Some("AES_128"), None, 16),
    (None, Some("1"), 1),
    (None, Some("2"), 2),
    (None, Some("3"), 3),
    (None, Some("16"), 16),
    (None, Some("31"), 31),
    (None, Some("32"), 32),
    (None, Some("33"), 33),
    (None, Some("100"), 100),
    (None, Some("1023"), 1023),
    (None, Some("1024"), 1024),
    // Leading zeros are still a decimal integer [decided].
    (None, Some("032"), 32),
    (None, Some("0001"), 1),
    // NumberOfBytes wins, and KeySpec is not even looked at.
    (Some("AES_128"), Some("32"), 32),
    (Some("AES_256"), Some("16"), 16),
    (Some("AES_128"), Some("64"), 64),
    (Some("aes_256"), Some("7"), 7),
    (Some("AES_512"), Some("24"), 24),
    (Some("bogus"), Some("1024"), 1024),
    (Some(""), Some("7"), 7),
];

/// Values of `NumberOfBytes` that are not a decimal integer in 1..=1024.
const BAD_NUMBERS: &[&str] = &[
    "0",
    "1025",
    "2000",
    "-1",
    "abc",
    "1.5",
    "",
    "+5",
    "+32",
    " 5",
    "5 ",
    " 32",
    "32 ",
    "1e2",
    "1e3",
    "0x10",
    "٣٢",
    "99999999999999999999",
    "99999999999999999999999999999999",
];

/// Values of `KeySpec` that are neither `AES_256` nor `AES_128` (case-sensitive).
const BAD_SPECS: &[&str] = &[
    "aes_256",
    "Aes_128",
    "AES_512",
    "AES_64",
    "AES256",
    "",
    " AES_256",
    "AES_256 ",
    " AES_128",
    "Aliyun_AES_256",
];

/// Every rule of spec §3 through `variant`, for real and in dry runs.
pub(crate) fn length_rules(variant: Generate, seed: u64) {
    let mut world = World::new(seed);
    let key = world.key_text();
    for &(key_spec, number_of_bytes, len) in LENGTHS {
        let p = params(Some(&key), key_spec, number_of_bytes, None, None);
        let out = variant
            .run(&mut world, &p)
            .unwrap_or_else(|e| panic!("{variant:?} {key_spec:?} {number_of_bytes:?}: {e:?}"));
        let data_key = open_data_key(&mut world, &out.blob, None, len);
        if let Some(plaintext) = &out.plaintext {
            assert_eq!(
                *plaintext,
                b64(&data_key),
                "{key_spec:?} {number_of_bytes:?}"
            );
        }
        // The same request as a dry run passes.
        let p = params(Some(&key), key_spec, number_of_bytes, None, Some("true"));
        assert_row(variant.run(&mut world, &p), Row::dry_run_passed());
    }
    for &bad in BAD_NUMBERS {
        // Whatever KeySpec says: absent, valid, or invalid itself.
        for key_spec in [None, Some("AES_256"), Some("AES_128"), Some("bogus")] {
            let p = params(Some(&key), key_spec, Some(bad), None, None);
            let result = variant.run(&mut world, &p);
            assert_eq!(
                Row::of(&expect_err(result)),
                Row::invalid("NumberOfBytes"),
                "{variant:?} {bad:?} {key_spec:?}"
            );
            let p = params(Some(&key), key_spec, Some(bad), None, Some("true"));
            let result = variant.run(&mut world, &p);
            assert_eq!(
                Row::of(&expect_err(result)),
                Row::validation_invalid("NumberOfBytes"),
                "{variant:?} {bad:?} {key_spec:?} dry"
            );
        }
    }
    for &bad in BAD_SPECS {
        let p = params(Some(&key), Some(bad), None, None, None);
        let result = variant.run(&mut world, &p);
        assert_eq!(
            Row::of(&expect_err(result)),
            Row::invalid("KeySpec"),
            "{variant:?} {bad:?}"
        );
        let p = params(Some(&key), Some(bad), None, None, Some("true"));
        let result = variant.run(&mut world, &p);
        assert_eq!(
            Row::of(&expect_err(result)),
            Row::validation_invalid("KeySpec"),
            "{variant:?} {bad:?} dry"
        );
    }
    // No refused request sealed: one seal per successful run.
    let version = world.primary(&world.key);
    assert_eq!(world.seals(&version), LENGTHS.len() as u64);
}

/// The parameters in their order [decided]: `KeyId`, then the length (`NumberOfBytes`, or
/// `KeySpec` when it is absent), then `EncryptionContext`; all of them before key resolution.
pub(crate) fn parameter_order(variant: Generate, seed: u64) {
    let mut world = World::new(seed);
    let key = world.key_text();
    let cases: &[(GenerateDataKeyParams<'_>, Row)] = &[
        (
            params(None, Some("bogus"), Some("0"), Some("["), None),
            Row::missing("KeyId"),
        ),
        (
            params(Some(""), Some("bogus"), Some("0"), Some("["), None),
            Row::invalid("KeyId"),
        ),
        (
            params(Some(&key), Some("bogus"), Some("0"), Some("["), None),
            Row::invalid("NumberOfBytes"),
        ),
        (
            params(Some(&key), Some("bogus"), None, Some("["), None),
            Row::invalid("KeySpec"),
        ),
        (
            params(Some(&key), Some("AES_128"), Some("16"), Some("["), None),
            Row::invalid("EncryptionContext"),
        ),
        // Before resolution: keys that name nothing.
        (
            params(Some(UNKNOWN_KEY_ID), None, Some("0"), None, None),
            Row::invalid("NumberOfBytes"),
        ),
        (
            params(Some("alias/missing"), None, None, Some("[]"), None),
            Row::invalid("EncryptionContext"),
        ),
        // The same in dry runs.
        (
            params(None, None, Some("0"), None, Some("true")),
            Row::validation_missing("KeyId"),
        ),
        (
            params(Some(&key), Some("x"), None, Some("["), Some("true")),
            Row::validation_invalid("KeySpec"),
        ),
        (
            params(
                Some("alias/nothing"),
                None,
                Some("2000"),
                None,
                Some("true"),
            ),
            Row::validation_invalid("NumberOfBytes"),
        ),
        (
            params(
                Some(UNKNOWN_KEY_ID),
                None,
                None,
                Some(r#"{"a":null}"#),
                Some("true"),
            ),
            Row::validation_invalid("EncryptionContext"),
        ),
    ];
    for (p, row) in cases {
        let result = variant.run(&mut world, p);
        assert_eq!(Row::of(&expect_err(result)), *row, "{variant:?} {p:?}");
    }
}

#[test]
fn the_data_key_length_rules() {
    length_rules(Generate::WithPlaintext, 1);
}

#[test]
fn the_parameters_are_checked_in_order() {
    parameter_order(Generate::WithPlaintext, 2);
}

/// A dry run passes whichever way the length is given (an invalid `KeySpec` under a valid
/// `NumberOfBytes` included), with a context, and draws nothing; `DryRun=false` is a real run.
#[test]
fn passing_dry_runs_with_every_kind_of_length() {
    let mut world = World::new(3);
    for (key_spec, number_of_bytes, context) in [
        (Some("AES_128"), None, Some(r#"{"a":"1"}"#)),
        (Some("ignored"), Some("1024"), None),
        (None, None, Some(r#"{"a":"b"}"#)),
    ] {
        let p = params(
            Some(ALIAS),
            key_spec,
            number_of_bytes,
            context,
            Some("true"),
        );
        let mut rng = CountingRng::new(rng(3));
        let result = Generate::WithPlaintext.run_with(&world.provider, &owner(), &p, &mut rng);
        assert_row(result, Row::dry_run_passed());
        assert_eq!(rng.calls, 0, "a dry run drew");
    }
    // `DryRun=false` is a real run.
    let p = params(Some(ALIAS), None, None, None, Some("false"));
    let out = Generate::WithPlaintext.run(&mut world, &p).unwrap();
    assert_eq!(out.key_id, world.key);
    assert_eq!(world.seals(&world.primary(&world.key)), 1);
}

// ---------------------------------------------------------------------------------------------
// The blob (spec §5)

#[test]
fn a_32_byte_key_seals_its_44_character_text_into_108_bytes() {
    let mut world = World::new(10);
    let key = world.key_text();
    let out = Generate::WithPlaintext
        .run(&mut world, &params(Some(&key), None, None, None, None))
        .unwrap();
    let plaintext = out.plaintext.unwrap();
    assert_eq!(plaintext.len(), 44);
    assert_eq!(out.blob.len(), 144);
    let raw = unb64(&out.blob);
    assert_eq!(raw.len(), 108);
    // It names the key's primary version, which the response names too.
    assert_eq!(out.key_version_id, world.primary(&world.key));
    assert_eq!(&raw[..36], out.key_version_id.as_str().as_bytes());
    // The ciphertext is not the text.
    assert_ne!(&raw[48..92], plaintext.as_bytes());
}

/// The blob checked with the testkit's own AES-GCM: under imported material (AES-256 and
/// AES-128) it opens with the associated data of spec §4 to the Base64 text of the data key.
#[test]
fn the_blob_opens_by_the_spec_under_the_imported_material() {
    let mut world = World::new(11);
    for material in [&known_material_256()[..], &known_material_128()[..]] {
        let spec = if material.len() == 32 {
            MasterKeySpec::Aes256
        } else {
            MasterKeySpec::Aes128
        };
        let key = world.create(
            KeyOptions::new(ACCOUNT, REGION)
                .spec(spec)
                .origin(KeyOrigin::External),
        );
        world.import(&key, material);
        let version = world.primary(&key);
        let id = key.to_string();
        // Out of order, escaped, with an empty value: the associated data sorts the pairs by
        // their keys' bytes and unescapes them.
        let context = r#"{"imported":"yes","b":"\u0032","Z":""}"#;
        let out = Generate::WithPlaintext
            .run(
                &mut world,
                &params(Some(&id), None, None, Some(context), None),
            )
            .unwrap();
        assert_eq!(out.key_version_id, version);
        let raw = unb64(&out.blob);
        let aad = spec_aad(
            version.as_str(),
            &[("imported", "yes"), ("b", "2"), ("Z", "")],
        );
        let opened = open_blob(material, &raw, &aad).expect("opens by the spec");
        assert_eq!(opened, out.plaintext.unwrap().as_bytes());
        // Without the context, or under other material, it does not.
        assert!(open_blob(material, &raw, &spec_aad(version.as_str(), &[])).is_none());
        let mut wrong = material.to_vec();
        wrong[0] ^= 1;
        assert!(open_blob(&wrong, &raw, &aad).is_none());
        // The empty context is the version and two zero bytes.
        let out = Generate::WithPlaintext
            .run(&mut world, &params(Some(&id), None, Some("5"), None, None))
            .unwrap();
        let mut aad = version.as_str().as_bytes().to_vec();
        aad.extend_from_slice(&[0, 0]);
        let opened = open_blob(material, &unb64(&out.blob), &aad).expect("empty context");
        assert_eq!(opened, out.plaintext.unwrap().as_bytes());
    }
}

/// The data key never shows in `Debug` output (spec §10), on the wire's response or the
/// typed output.
#[test]
fn debug_output_shows_no_data_key() {
    let mut world = World::new(15);
    let out = world
        .gdk(&params(Some(ALIAS), None, None, None, None))
        .unwrap();
    let text = out.plaintext.expose().to_string();
    let shown = format!("{out:?}");
    assert!(!shown.contains(&text), "{shown}");
    assert!(shown.contains(&out.ciphertext_blob), "{shown}");
    let typed = ops::generate_data_key(
        &world.provider,
        &owner(),
        &GenerateDataKeyRequest::new(world.key),
        &mut rng(15),
    )
    .unwrap()
    .done()
    .unwrap();
    let shown = format!("{typed:?}");
    let key = typed.data_key.expose();
    assert!(!shown.contains(&b64(key)), "{shown}");
    assert!(!shown.contains(&format!("{key:?}")), "{shown}");
    assert!(shown.contains("REDACTED"), "{shown}");
}

#[test]
fn every_call_draws_a_fresh_key_and_iv() {
    let mut world = World::new(12);
    let key = world.key_text();
    let p = params(Some(&key), None, None, None, None);
    let a = Generate::WithPlaintext.run(&mut world, &p).unwrap();
    let b = Generate::WithPlaintext.run(&mut world, &p).unwrap();
    assert_ne!(a.plaintext, b.plaintext);
    assert_ne!(a.blob, b.blob);
    assert_ne!(unb64(&a.blob)[36..48], unb64(&b.blob)[36..48], "IVs repeat");
    assert_ne!(a.request_id, b.request_id);
}

#[test]
fn the_key_seals_under_its_primary_version_after_a_rotation() {
    let mut world = World::new(13);
    let key = world.key;
    let id = world.key_text();
    let v1 = world.primary(&key);
    let p = params(Some(&id), None, None, None, None);
    let old = Generate::WithPlaintext.run(&mut world, &p).unwrap();
    let v2 = world.rotate(&key);
    assert_ne!(v1, v2);
    let new = Generate::WithPlaintext.run(&mut world, &p).unwrap();
    assert_eq!((old.key_version_id, new.key_version_id), (v1, v2));
    assert_eq!(blob_version(&new.blob), v2.as_str());
    for (out, version) in [(&old, v1), (&new, v2)] {
        let opened = world.open(&out.blob, None).unwrap();
        assert_eq!(opened.key_version_id, version);
        assert_eq!(Some(opened.plaintext.expose()), out.plaintext.as_deref());
    }
}

/// An `Aliyun_AES_128` master key wraps data keys of any length (spec §5).
#[test]
fn aes_128_master_keys_make_data_keys_of_any_length() {
    let mut world = World::new(14);
    let key = world.create(KeyOptions::new(ACCOUNT, REGION).spec(MasterKeySpec::Aes128));
    let id = key.to_string();
    for n in ["1", "32", "1024"] {
        let out = Generate::WithPlaintext
            .run(&mut world, &params(Some(&id), None, Some(n), None, None))
            .unwrap();
        assert_eq!(out.key_id, key);
        let data_key = open_data_key(&mut world, &out.blob, None, n.parse().unwrap());
        assert_eq!(out.plaintext.unwrap(), b64(&data_key));
    }
}

// ---------------------------------------------------------------------------------------------
// Where the randomness comes from

/// Draws `sizes` from a ChaCha20 seeded with `seed`, one draw each, as the operation would.
pub(crate) fn mirror(seed: u64, sizes: &[usize]) -> Vec<Vec<u8>> {
    let mut r = rng(seed);
    sizes
        .iter()
        .map(|&n| {
            let mut out = vec![0u8; n];
            r.try_fill_bytes(&mut out).unwrap();
            out
        })
        .collect()
}

/// The request ID 16 random bytes make: their hex, with the version nibble set to 4 and the
/// variant bits to `10` (RFC 9562), written out here.
pub(crate) fn uuid_v4_of(bytes: &[u8]) -> String {
    let mut v4: [u8; 16] = bytes.try_into().unwrap();
    v4[6] = (v4[6] & 0x0f) | 0x40;
    v4[8] = (v4[8] & 0x3f) | 0x80;
    let hex: String = v4.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// The wire draws, in this order: the data key, the IV, the RequestId (spec §3: nothing derives
/// the key from the master key).
#[test]
fn the_data_key_the_iv_and_the_request_id_are_the_rngs_output_in_that_order() {
    let world = World::new(20);
    for n in [1usize, 16, 32, 100, 1024] {
        let seed = 7_000 + n as u64;
        let drawn = mirror(seed, &[n, 12, 16]);
        let number = n.to_string();
        let p = params(Some(ALIAS), None, Some(&number), None, None);
        let mut r = CountingRng::new(rng(seed));
        let out = Generate::WithPlaintext
            .run_with(&world.provider, &owner(), &p, &mut r)
            .unwrap();
        assert_eq!(out.plaintext.unwrap(), b64(&drawn[0]), "the data key");
        assert_eq!(unb64(&out.blob)[36..48], drawn[1], "the IV");
        assert_eq!(
            out.request_id.to_string(),
            uuid_v4_of(&drawn[2]),
            "the RequestId"
        );
        assert_eq!(
            (r.calls, r.bytes),
            (3, n + 12 + 16),
            "nothing else is drawn"
        );
    }
}

/// An RNG that fails at the data key or at the IV leaves nothing sealed; one that fails only at
/// the RequestId fails the request after the seal.
#[test]
fn an_rng_that_runs_dry_at_each_draw() {
    for variant in [Generate::WithPlaintext, Generate::WithoutPlaintext] {
        let world = World::new(21);
        let version = world.primary(&world.key);
        let key = world.key_text();
        let p = params(Some(&key), None, None, None, None);
        for (budget, seals) in [(0, 0), (31, 0), (32, 0), (32 + 11, 0), (32 + 12, 1)] {
            let before = world.seals(&version);
            let mut limited = LimitedRng::new(1, budget);
            let result = variant.run_with(&world.provider, &owner(), &p, &mut limited);
            let err = expect_err(result);
            assert_eq!(Row::of(&err), Row::internal(), "{variant:?} {budget}");
            assert_eq!(err, Error::InternalFailure(Internal::Rng));
            assert_eq!(
                world.seals(&version),
                before + seals,
                "{variant:?} {budget}"
            );
        }
        // With the RequestId supplied, 44 bytes are enough.
        let supplied = RequestId::parse(b"00000000-1111-2222-3333-444444444444").unwrap();
        let mut limited = LimitedRng::new(1, 32 + 12);
        variant
            .run_with(
                &world.provider,
                &owner(),
                &p.request_id(supplied),
                &mut limited,
            )
            .expect("no RequestId to draw");
        assert_eq!(limited.budget, 0);
    }
}

#[test]
fn the_same_seed_on_the_same_provider_gives_the_same_response() {
    let world = World::new(22);
    let p = params(Some(ALIAS), None, None, None, None);
    let run = |seed| {
        Generate::WithPlaintext
            .run_with(&world.provider, &owner(), &p, &mut rng(seed))
            .unwrap()
    };
    let (a, b, c) = (run(5), run(5), run(6));
    assert_eq!(a.blob, b.blob);
    assert_eq!(a.plaintext, b.plaintext);
    assert_eq!(a.request_id, b.request_id);
    assert_ne!(a.plaintext, c.plaintext);
    assert_ne!(a.blob, c.blob);
    assert_ne!(a.request_id, c.request_id);
}

#[test]
fn request_ids_drawn_are_lowercase_uuid_v4_and_do_not_repeat() {
    let mut world = World::new(23);
    let mut seen = std::collections::HashSet::new();
    for _ in 0..32 {
        let out = Generate::WithPlaintext
            .run(&mut world, &params(Some(ALIAS), None, None, None, None))
            .unwrap();
        let id = out.request_id.to_string();
        assert!(is_uuid_v4(&id), "{id}");
        assert!(seen.insert(id), "a request ID repeated");
    }
}

/// A frontend's own RequestId is echoed as it is (even one that is not v4), and then none is
/// drawn. `RequestId::parse` takes lowercase UUID text only.
#[test]
fn a_supplied_request_id_is_echoed_and_not_drawn() {
    let world = World::new(24);
    let supplied = RequestId::parse(b"00000000-1111-2222-3333-444444444444").unwrap();
    let p = params(Some(ALIAS), None, None, None, None);

    let mut counting = CountingRng::new(rng(1));
    let out = Generate::WithPlaintext
        .run_with(
            &world.provider,
            &owner(),
            &p.request_id(supplied),
            &mut counting,
        )
        .unwrap();
    assert_eq!(out.request_id, supplied);
    assert_eq!(counting.bytes, 32 + 12);

    let mut counting = CountingRng::new(rng(1));
    let drawn = Generate::WithPlaintext
        .run_with(&world.provider, &owner(), &p, &mut counting)
        .unwrap();
    assert_ne!(drawn.request_id, supplied);
    assert_eq!(counting.bytes, 32 + 12 + 16);
    // The same RNG bytes made the same blob either way.
    assert_eq!(drawn.blob, out.blob);

    assert!(RequestId::parse(b"2ab1a983-7072-4bbc-a582-584b5bd8beef").is_some());
    for bad in [
        &b"2AB1A983-7072-4BBC-A582-584B5BD8BEEF"[..],
        b"2ab1a983-7072-4bbc-a582-584b5bd8bee",
        b"2ab1a983-7072-4bbc-a582-584b5bd8beef0",
        b"2ab1a9837-072-4bbc-a582-584b5bd8beef",
        b"2ab1a983x7072-4bbc-a582-584b5bd8beef",
        b"2ab1a983-7072-4bbc-a582-584b5bd8beeg",
        b"",
    ] {
        assert!(RequestId::parse(bad).is_none(), "{bad:?}");
    }
}

fn accepts<R: TryCryptoRng + ?Sized>(_: &R) {}

/// ChaCha20Rng is seeded through kms_core's re-export of rand_core: the two crates agree on the
/// traits, or this would not compile. The operations take `?Sized` RNGs, so a trait object
/// works too.
#[test]
fn rand_chacha_works_through_the_reexported_rand_core_and_as_a_trait_object() {
    let mut r: ChaCha20Rng = SeedableRng::seed_from_u64(42);
    accepts(&r);
    let mut provider = InMemoryProvider::new();
    let key = provider
        .create_key(&mut r, &KeyOptions::new(ACCOUNT, REGION))
        .unwrap();
    let id = key.to_string();
    let dyn_rng: &mut dyn TryCryptoRng<Error = Infallible> = &mut r;
    let out = Generate::WithPlaintext
        .run_with(
            &provider,
            &owner(),
            &params(Some(&id), None, None, None, None),
            dyn_rng,
        )
        .unwrap();
    assert_eq!(unb64(&out.plaintext.unwrap()).len(), 32);
    let typed = ops::generate_data_key(
        &provider,
        &owner(),
        &GenerateDataKeyRequest::new(key),
        &mut r as &mut dyn TryCryptoRng<Error = Infallible>,
    )
    .unwrap()
    .done()
    .unwrap();
    assert_eq!(typed.data_key.expose().len(), 32);
}

#[cfg(feature = "getrandom")]
#[test]
fn the_os_rng_works() {
    let mut os = kms_core::OsRng;
    let mut provider = InMemoryProvider::new();
    let key = provider
        .create_key(&mut os, &KeyOptions::new(ACCOUNT, REGION))
        .unwrap();
    let id = key.to_string();
    let out = Generate::WithPlaintext
        .run_with(
            &provider,
            &owner(),
            &params(Some(&id), None, None, None, None),
            &mut os,
        )
        .unwrap();
    let opened = wire::decrypt(
        &provider,
        &owner(),
        &DecryptParams::new().ciphertext_blob(&out.blob),
        &mut os,
    )
    .unwrap();
    assert_eq!(Some(opened.plaintext.expose()), out.plaintext.as_deref());
    assert!(is_uuid_v4(&out.request_id.to_string()));
}

// ---------------------------------------------------------------------------------------------
// The no-alloc form and what a workspace keeps

/// Whether `haystack` holds `needle` anywhere.
pub(crate) fn holds(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// `generate_data_key_in` answers as `generate_data_key` does, from the same RNG.
#[test]
fn the_in_form_matches_the_owned_form() {
    let world = World::new(30);
    for (key_spec, number_of_bytes, context) in [
        (None, None, None),
        (Some("AES_128"), None, Some(r#"{"x":"y"}"#)),
        (None, Some("1"), None),
        (
            Some("bogus"),
            Some("1024"),
            Some(r#"{ "k" : "\u00e9", "a":"" }"#),
        ),
    ] {
        let p = params(Some(ALIAS), key_spec, number_of_bytes, context, None);
        let a = Generate::WithPlaintext
            .run_with(&world.provider, &owner(), &p, &mut rng(9))
            .unwrap();
        let mut workspace = vec![0u8; p.workspace_len()];
        let b =
            wire::generate_data_key_in(&world.provider, &owner(), &p, &mut rng(9), &mut workspace)
                .unwrap();
        assert_eq!(b.key_id, a.key_id);
        assert_eq!(b.key_version_id, a.key_version_id);
        assert_eq!(b.ciphertext_blob, a.blob);
        assert_eq!(Some(b.plaintext.expose()), a.plaintext.as_deref());
        assert_eq!(b.request_id, a.request_id);
    }
}

#[test]
fn a_workspace_keeps_no_data_key_once_the_response_is_dropped() {
    let world = World::new(32);
    let p = params(Some(ALIAS), None, Some("64"), None, None);
    let mut workspace = vec![0u8; p.workspace_len()];
    let out =
        wire::generate_data_key_in(&world.provider, &owner(), &p, &mut rng(32), &mut workspace)
            .unwrap();
    let text = out.plaintext.expose().to_string();
    let data_key = unb64(&text);
    let blob = out.ciphertext_blob.to_string();
    drop(out);
    assert!(!holds(&workspace, &data_key), "the raw data key is left");
    assert!(
        !holds(&workspace, text.as_bytes()),
        "its Base64 text is left"
    );
    // The blob is still there: only the secrets were wiped.
    assert!(holds(&workspace, blob.as_bytes()));

    // Nor when the RequestId cannot be drawn after the seal.
    let drawn = mirror(33, &[64]);
    let mut workspace = vec![0u8; p.workspace_len()];
    let mut limited = LimitedRng::new(33, 64 + 12);
    let result =
        wire::generate_data_key_in(&world.provider, &owner(), &p, &mut limited, &mut workspace);
    assert_row(result, Row::internal());
    assert!(!holds(&workspace, &drawn[0]));
    assert!(!holds(&workspace, b64(&drawn[0]).as_bytes()));
}

#[test]
fn too_small_a_workspace_is_an_internal_failure_and_seals_nothing() {
    let world = World::new(34);
    let version = world.primary(&world.key);
    for n in ["1", "32", "1024"] {
        let p = params(Some(ALIAS), None, Some(n), Some(r#"{"a":"b"}"#), None);
        let needed = p.workspace_len();
        for len in [0, needed / 2, needed - 1] {
            let mut workspace = vec![0u8; len];
            let result = wire::generate_data_key_in(
                &world.provider,
                &owner(),
                &p,
                &mut rng(1),
                &mut workspace,
            );
            let err = expect_err(result);
            assert_eq!(Row::of(&err), Row::internal());
            assert_eq!(
                err,
                Error::InternalFailure(Internal::WorkspaceTooSmall(WorkspaceTooSmall { needed }))
            );
        }
    }
    assert_eq!(world.seals(&version), 0);
}

// ---------------------------------------------------------------------------------------------
// The fixed-capacity provider

const FIXED_KEY_ID: &str = "key-hzz630494463ejqjx1234";
const FIXED_VERSION: &str = "2ab1a983-7072-4bbc-a582-584b5bd8beef";

fn fixed_provider() -> FixedCapacityProvider<4, 3> {
    let mut provider = FixedCapacityProvider::new(ACCOUNT, REGION).unwrap();
    provider
        .add_key(
            KeyId::parse(FIXED_KEY_ID).unwrap(),
            version(FIXED_VERSION),
            MasterKeyMaterial::from_slice(&known_material_256()).unwrap(),
        )
        .unwrap();
    provider
}

/// A `key-` form key ID (spec §2), which only a provisioned key has, resolves bare and in an
/// ARN; it is case-sensitive.
#[test]
fn a_key_dash_key_id_resolves() {
    let provider = fixed_provider();
    let mut r = rng(40);
    let arn = format!("acs:kms:{REGION}:{ACCOUNT}:key/{FIXED_KEY_ID}");
    for name in [FIXED_KEY_ID, arn.as_str()] {
        let p = params(Some(name), None, None, None, None);
        let out = Generate::WithPlaintext
            .run_with(&provider, &owner(), &p, &mut r)
            .unwrap();
        assert_eq!(out.key_id.as_str(), FIXED_KEY_ID, "{name}");
        assert_eq!(out.key_version_id.as_str(), FIXED_VERSION);
        // The provisioned material seals.
        let aad = spec_aad(FIXED_VERSION, &[]);
        let opened = open_blob(&known_material_256(), &unb64(&out.blob), &aad).unwrap();
        assert_eq!(opened, out.plaintext.as_deref().unwrap().as_bytes());
        let opened = wire::decrypt(
            &provider,
            &owner(),
            &DecryptParams::new().ciphertext_blob(&out.blob),
            &mut r,
        )
        .unwrap();
        assert_eq!(opened.key_id.as_str(), FIXED_KEY_ID);
    }
    // Uppercase: bare, well-formed text that names no key; in an ARN, a malformed ARN.
    let p = params(Some("key-HZZ630494463EJQJX1234"), None, None, None, None);
    let result = Generate::WithPlaintext.run_with(&provider, &owner(), &p, &mut r);
    assert_row(result, Row::key_not_found());
    let arn = format!("acs:kms:{REGION}:{ACCOUNT}:key/key-HZZ630494463EJQJX1234");
    let p = params(Some(&arn), None, None, None, None);
    let result = Generate::WithPlaintext.run_with(&provider, &owner(), &p, &mut r);
    assert_row(result, Row::invalid("KeyId"));
}

#[test]
fn the_fixed_providers_states_reject_and_recover() {
    let mut provider = fixed_provider();
    let key = KeyId::parse(FIXED_KEY_ID).unwrap();
    let mut r = rng(41);
    let p = params(Some(FIXED_KEY_ID), None, None, None, None);
    let out = Generate::WithPlaintext
        .run_with(&provider, &owner(), &p, &mut r)
        .unwrap();
    let decrypt = DecryptParams::new().ciphertext_blob(&out.blob);
    for state in REJECTED_STATES {
        provider.set_state(&key, state).unwrap();
        let row = Row::rejected(state_name(state));
        let result = Generate::WithPlaintext.run_with(&provider, &owner(), &p, &mut r);
        assert_row(result, row.clone());
        assert_row(wire::decrypt(&provider, &owner(), &decrypt, &mut r), row);
    }
    provider.set_state(&key, KeyState::Enabled).unwrap();
    let opened = wire::decrypt(&provider, &owner(), &decrypt, &mut r).unwrap();
    assert_eq!(Some(opened.plaintext.expose()), out.plaintext.as_deref());
}

// ---------------------------------------------------------------------------------------------
// The typed layer

/// The typed operation draws the data key and the IV, as the wire does before its RequestId:
/// the same RNG bytes make the same data key and the same blob.
#[test]
fn the_typed_layer_makes_the_wires_blob_from_the_same_rng_bytes() {
    let world = World::new(50);
    let json = r#"{"b":"2","a":"1"}"#;
    let context = kms_core::context::ContextBuf::from_pairs([("a", "1"), ("b", "2")]).unwrap();
    for n in [1usize, 16, 32, 1024] {
        let seed = 500 + n as u64;
        let length = DataKeyLength::new(n).unwrap();
        let request = GenerateDataKeyRequest::new(world.key)
            .with_length(length)
            .with_context(&context);
        let mut r = CountingRng::new(rng(seed));
        let typed = ops::generate_data_key(&world.provider, &owner(), &request, &mut r)
            .unwrap()
            .done()
            .unwrap();
        assert_eq!(
            (r.calls, r.bytes),
            (2, n + 12),
            "the data key and the IV only"
        );

        let number = n.to_string();
        let p = params(Some(ALIAS), None, Some(&number), Some(json), None);
        let wire = Generate::WithPlaintext
            .run_with(&world.provider, &owner(), &p, &mut rng(seed))
            .unwrap();
        assert_eq!(typed.key_id, wire.key_id);
        assert_eq!(typed.key_version_id, wire.key_version_id);
        assert_eq!(typed.ciphertext_blob.to_base64(), wire.blob);
        assert_eq!(typed.ciphertext_blob.as_bytes(), unb64(&wire.blob));
        assert_eq!(b64(typed.data_key.expose()), wire.plaintext.unwrap());
        assert_eq!(typed.data_key.expose(), mirror(seed, &[n])[0]);
    }
}

#[test]
fn typed_lengths_are_1_to_1024_bytes() {
    assert_eq!(DataKeyLength::new(0), None);
    assert_eq!(DataKeyLength::new(1025), None);
    assert_eq!(DataKeyLength::new(1).map(DataKeyLength::bytes), Some(1));
    assert_eq!(
        DataKeyLength::new(1024).map(DataKeyLength::bytes),
        Some(1024)
    );
    // A request is for 32 bytes unless told otherwise.
    let world = World::new(51);
    let out = ops::generate_data_key(
        &world.provider,
        &owner(),
        &GenerateDataKeyRequest::new(world.key),
        &mut rng(1),
    )
    .unwrap()
    .done()
    .unwrap();
    assert_eq!(out.data_key.expose().len(), 32);
    assert_eq!(out.ciphertext_blob.as_bytes().len(), 108);
}

/// A passing typed dry run is an outcome, not an error: it names the key and the version that
/// would have sealed, draws nothing and seals nothing.
#[test]
fn a_typed_dry_run_passes_with_the_key_and_version() {
    let mut world = World::new(52);
    let key = world.key;
    let v1 = world.primary(&key);
    let v2 = world.rotate(&key);
    assert_ne!(v1, v2);
    let alias = KeyReference::parse(ALIAS, Parameter::KeyId).unwrap();
    for reference in [KeyReference::from(key), alias] {
        let request = GenerateDataKeyRequest::new(reference).with_dry_run(true);
        let mut failing = FailingRng::default();
        let result = ops::generate_data_key(&world.provider, &owner(), &request, &mut failing);
        assert_eq!(
            result.map(|o| o.map(drop)),
            Ok(Outcome::DryRun(DryRunPassed {
                key_id: key,
                key_version_id: v2,
            }))
        );
        assert_eq!(failing.attempts, 0);
    }
    assert_eq!(world.seals(&v2), 0);
}

/// The typed layer's errors are the plain ones in a dry run too: no ValidationError (its
/// requests cannot be invalid) and no AccessDeniedError.
#[test]
fn a_typed_dry_run_fails_with_the_plain_errors() {
    let mut world = World::new(53);
    let theirs = world.create_in(OTHER_ACCOUNT, REGION);
    let disabled = world.key_in_state(KeyState::Disabled);
    let arn = key_arn(REGION, OTHER_ACCOUNT, &theirs);
    let cases = [
        (
            KeyReference::parse(&arn, Parameter::KeyId).unwrap(),
            Error::NoPermission,
        ),
        (
            KeyReference::parse(UNKNOWN_KEY_ID, Parameter::KeyId).unwrap(),
            Error::KeyNotFound,
        ),
        (
            KeyReference::parse("alias/none", Parameter::KeyId).unwrap(),
            Error::AliasNotFound,
        ),
        (KeyReference::from(disabled), Error::Disabled),
    ];
    for (reference, expected) in cases {
        for dry_run in [false, true] {
            let request = GenerateDataKeyRequest::new(reference).with_dry_run(dry_run);
            let result = ops::generate_data_key(&world.provider, &owner(), &request, &mut rng(1));
            assert_eq!(expect_err(result), expected, "{reference} dry {dry_run}");
        }
    }
}

/// Contexts built from pairs bind as the wire's JSON does; pairs that are no context are
/// refused when built.
#[test]
fn typed_contexts_from_pairs() {
    use kms_core::context::ContextBuf;
    let mut world = World::new(54);
    let context = ContextBuf::from_pairs([("tenant", "Zürich"), ("app", "")]).unwrap();
    let request = GenerateDataKeyRequest::new(world.key).with_context(&context);
    let out = ops::generate_data_key(&world.provider, &owner(), &request, &mut rng(2))
        .unwrap()
        .done()
        .unwrap();
    let blob = out.ciphertext_blob.to_base64();
    let json = r#"{"app":"","tenant":"Z\u00fcrich"}"#;
    let opened = world.open(&blob, Some(json)).unwrap();
    assert_eq!(opened.plaintext.expose(), b64(out.data_key.expose()));
    assert_row(world.open(&blob, None), Row::invalid("CiphertextBlob"));
    assert_eq!(ContextBuf::parse_json(Some(json)).unwrap(), context);
    assert!(ContextBuf::from_pairs([("", "x")]).is_err());
    assert!(ContextBuf::from_pairs([("a", "1"), ("a", "2")]).is_err());
}

#[test]
fn a_typed_workspace_too_small_is_an_internal_failure() {
    let world = World::new(55);
    let request = GenerateDataKeyRequest::new(world.key).with_length(DataKeyLength::MAX);
    let needed = request.workspace_len();
    let mut workspace = vec![0u8; needed - 1];
    let result = ops::generate_data_key_in(
        &world.provider,
        &owner(),
        &request,
        &mut rng(1),
        &mut workspace,
    );
    assert_eq!(
        expect_err(result),
        Error::InternalFailure(Internal::WorkspaceTooSmall(WorkspaceTooSmall { needed }))
    );
    assert_eq!(world.seals(&world.primary(&world.key)), 0);
}

/// A typed output's secrets are wiped from the workspace when they are dropped.
#[test]
fn a_typed_workspace_keeps_no_data_key_once_the_output_is_dropped() {
    let world = World::new(56);
    let request =
        GenerateDataKeyRequest::new(world.key).with_length(DataKeyLength::new(48).unwrap());
    let mut workspace = vec![0u8; request.workspace_len()];
    let out = ops::generate_data_key_in(
        &world.provider,
        &owner(),
        &request,
        &mut rng(56),
        &mut workspace,
    )
    .unwrap()
    .done()
    .unwrap();
    let data_key = out.data_key.expose().to_vec();
    let text = out.data_key_base64.expose().to_string();
    assert_eq!(text, b64(&data_key));
    drop(out);
    assert!(!holds(&workspace, &data_key));
    assert!(!holds(&workspace, text.as_bytes()));
}
