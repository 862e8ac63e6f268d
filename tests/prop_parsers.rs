//! Property tests that no input makes a parser or an operation panic (spec §5: "Nothing on
//! this path may panic ... whatever the input"), and that what they answer is consistent:
//! parsers accept exactly their spec'd language, and operations only ever give spec §8 errors.

mod prop_support;

use base64ct::{Base64, Encoding};
use kms_core::blob::{self, Blob, OwnedBlob};
use kms_core::key_id::KeyReference;
use kms_core::ops::parse_dry_run;
use kms_core::{
    DataKeyLength, DecryptRequest, EncryptRequest, Error, GenerateDataKeyRequest, InMemoryProvider,
    KeyOptions, Parameter, ReEncryptRequest, RequestId, decrypt, decrypt_in, encrypt, encrypt_in,
    generate_data_key, generate_data_key_in, generate_data_key_without_plaintext,
    generate_data_key_without_plaintext_in, re_encrypt, re_encrypt_in,
};
use prop_support::*;
use proptest::prelude::*;

/// A fixed world: an enabled key with an alias, a disabled key, a key of another account, and
/// real blobs, all from fixed seeds so that every case sees the same IDs.
struct World {
    provider: InMemoryProvider,
    names: Vec<String>,
    blobs: Vec<(String, Option<String>, String)>,
}

fn world() -> World {
    let (mut provider, key) = provider();
    let mut r = rng(42);
    let disabled = provider
        .create_key(&mut r, &KeyOptions::new(ACCOUNT, REGION))
        .expect("key");
    provider.disable_key(&disabled).expect("disable");
    let foreign = provider
        .create_key(&mut r, &KeyOptions::new("999", REGION))
        .expect("key");
    let mut blobs = Vec::new();
    for (context, n) in [(None, "32"), (Some(r#"{"a":"b"}"#), "1")] {
        let request = GenerateDataKeyRequest {
            encryption_context: context,
            number_of_bytes: Some(n),
            ..GenerateDataKeyRequest::new(key.as_str())
        };
        let g = generate_data_key(&mut provider, &caller(), &request, &mut r).expect("GDK");
        blobs.push((
            g.ciphertext_blob.clone(),
            context.map(String::from),
            g.plaintext.expose().to_string(),
        ));
    }
    provider.rotate_key(&key, &mut r).expect("rotate");
    let names = vec![
        key.to_string(),
        "alias/prop".into(),
        format!("acs:kms:{REGION}:{ACCOUNT}:key/{key}"),
        format!("acs:kms:{REGION}:{ACCOUNT}:alias/prop"),
        format!("acs:kms:cn-shanghai:{ACCOUNT}:key/{key}"),
        disabled.to_string(),
        foreign.to_string(),
        format!("acs:kms:{REGION}:999:key/{foreign}"),
        "alias/none".into(),
        "key-hzz630494463ejqjx1234".into(),
    ];
    World {
        provider,
        names,
        blobs,
    }
}

/// Arbitrary text: any string, JSON-ish and Base64-ish noise, and edits of meaningful values.
fn noise() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[A-Za-z0-9+/=]{0,160}",
        "[{}\":,\\\\ a-z0-9]{0,40}",
        "acs:[a-z0-9:/-]{0,60}",
        "alias/[A-Za-z0-9_/-]{0,8}",
        "[0-9]{0,6}",
        Just(String::new()),
        Just("true".to_string()),
        Just("false".to_string()),
        Just("AES_256".to_string()),
        Just("AES_128".to_string()),
        Just("1024".to_string()),
        Just("1025".to_string()),
        Just("0".to_string()),
        Just("a".repeat(2049)),
        Just("{}".to_string()),
        Just(r#"{"a":"b"}"#.to_string()),
    ]
}

/// A string edited at a few places: characters inserted, removed or replaced.
fn edited(base: String) -> impl Strategy<Value = String> {
    prop::collection::vec(
        (
            any::<prop::sample::Index>(),
            0u8..3,
            prop::sample::select(vec!['A', '=', '/', '+', '\\', '"', 'é', '\0', ' ', '-']),
        ),
        1..4,
    )
    .prop_map(move |edits| {
        let mut s = base.clone();
        for (at, kind, c) in edits {
            let mut i = at.index(s.len() + 1);
            while !s.is_char_boundary(i) {
                i -= 1;
            }
            match kind {
                0 => s.insert(i, c),
                1 if i < s.len() => {
                    s.remove(i);
                }
                _ if i < s.len() => {
                    s.remove(i);
                    s.insert(i, c);
                }
                _ => s.push(c),
            }
        }
        s
    })
}

/// A field value: absent, a meaningful value from the world, an edited one, or noise.
fn field(meaningful: Vec<String>) -> impl Strategy<Value = Option<String>> {
    let pick = prop::sample::select(meaningful);
    prop_oneof![
        3 => Just(None),
        12 => pick.clone().prop_map(Some),
        1 => pick.prop_flat_map(edited).prop_map(Some),
        1 => noise().prop_map(Some),
    ]
}

#[derive(Clone, Debug)]
struct Fields {
    key_id: Option<String>,
    key_spec: Option<String>,
    number_of_bytes: Option<String>,
    context: Option<String>,
    context2: Option<String>,
    plaintext: Option<String>,
    blob: Option<String>,
    dry_run: Option<String>,
    request_id: bool,
}

fn fields() -> impl Strategy<Value = Fields> {
    let w = world();
    let blobs: Vec<String> = w.blobs.iter().map(|b| b.0.clone()).collect();
    let contexts = vec![
        r#"{"a":"b"}"#.to_string(),
        r#"{ "a" : "\u0062" }"#.to_string(),
        "{}".to_string(),
        String::new(),
    ];
    (
        (
            field(w.names.clone()),
            field(vec!["AES_256".into(), "AES_128".into(), "aes_256".into()]),
            field(vec!["1".into(), "32".into(), "1024".into(), "0".into()]),
            field(contexts.clone()),
            field(contexts),
        ),
        (
            field(vec!["hello".into(), "x".repeat(6144), "x".repeat(6145)]),
            field(blobs),
            prop_oneof![
                6 => Just(None),
                1 => field(vec!["true".into(), "false".into()]),
            ],
            any::<bool>(),
        ),
    )
        .prop_map(
            |(
                (key_id, key_spec, number_of_bytes, context, context2),
                (plaintext, blob, dry_run, request_id),
            )| Fields {
                key_id,
                key_spec,
                number_of_bytes,
                context,
                context2,
                plaintext,
                blob,
                dry_run,
                request_id,
            },
        )
}

/// The errors spec §8 lets the five operations give, with no rate limiter and a provider that
/// never fails.
fn assert_spec_error(e: &Error, f: &Fields) -> Result<(), TestCaseError> {
    prop_assert!(
        matches!(
            e,
            Error::MissingParameter(_)
                | Error::InvalidParameter(_)
                | Error::UnsupportedOperation
                | Error::ValidationError(_)
                | Error::NoPermission
                | Error::AccessDenied
                | Error::AliasNotFound
                | Error::KeyNotFound
                | Error::Disabled
                | Error::PendingDeletion
                | Error::PendingImport
                | Error::Unavailable
                | Error::DryRunOperation
        ),
        "unexpected error {:?} for {:?}",
        e,
        f
    );
    match f.dry_run.as_deref() {
        None | Some("false") => prop_assert!(
            !matches!(
                e,
                Error::ValidationError(_) | Error::AccessDenied | Error::DryRunOperation
            ),
            "a dry-run error outside a dry run: {:?}",
            e
        ),
        Some("true") => prop_assert!(
            !matches!(e, Error::MissingParameter(_) | Error::NoPermission)
                && !matches!(e, Error::InvalidParameter(p) if *p != Parameter::DryRun),
            "a real-run error in a dry run: {:?}",
            e
        ),
        Some(_) => prop_assert_eq!(*e, Error::InvalidParameter(Parameter::DryRun)),
    }
    Ok(())
}

fn check<T>(result: &Result<T, Error>, f: &Fields) -> Result<(), TestCaseError> {
    match result {
        Ok(_) => {
            prop_assert!(
                matches!(f.dry_run.as_deref(), None | Some("false")),
                "a dry run succeeded: {:?}",
                f
            );
            Ok(())
        }
        Err(e) => assert_spec_error(e, f),
    }
}

/// A workspace of `needed` bytes, or of a random shorter length.
fn workspace(needed: usize, cut: Option<prop::sample::Index>) -> Vec<u8> {
    vec![0u8; cut.map_or(needed, |c| c.index(needed.max(1)))]
}

/// A `*_in` result against a cut workspace: the same outcome as with a full one, or
/// `WorkspaceTooSmall` (or, for checks that come before the workspace check, their error).
fn check_in<T>(
    full: &Result<(), Error>,
    cut: &Result<T, Error>,
    f: &Fields,
) -> Result<(), TestCaseError> {
    match cut {
        Err(Error::WorkspaceTooSmall { .. }) => Ok(()),
        Ok(_) => {
            prop_assert!(
                full.is_ok(),
                "a cut workspace succeeded where a full one failed"
            );
            Ok(())
        }
        Err(e) => {
            prop_assert_eq!(full.as_ref().err(), Some(e), "{:?}", f);
            Ok(())
        }
    }
}

const FIXED_REQUEST_ID: &[u8; 36] = b"7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Blob decoding: never panics; accepts exactly canonical padded Base64 of 65..=6208 bytes
    /// starting with lowercase UUID text.
    #[test]
    fn blob_decoders_never_panic(
        text in prop_oneof![noise(), prop::sample::select(world().blobs.iter().map(|b| b.0.clone()).collect::<Vec<_>>()).prop_flat_map(edited)],
        cut in any::<prop::sample::Index>(),
    ) {
        let owned = OwnedBlob::from_base64(&text);
        let mut buf = vec![0u8; blob::decoded_len_bound(text.len())];
        let borrowed = Blob::decode_base64(&text, &mut buf).map(|b| b.as_bytes().to_vec());
        prop_assert_eq!(owned.as_ref().map(|b| b.as_bytes().to_vec()).ok(), borrowed.clone().ok());
        let reference = Base64::decode_vec(&text).ok().filter(|b| {
            (blob::MIN_BLOB_LEN..=blob::MAX_BLOB_LEN).contains(&b.len())
                && kms_core::is_lowercase_uuid(&b[..36])
        });
        prop_assert_eq!(borrowed.ok(), reference, "{:?}", text);
        // A short buffer: an error or the same blob, never a panic.
        let mut short = vec![0u8; cut.index(buf.len().max(1))];
        if let Ok(b) = Blob::decode_base64(&text, &mut short) {
            prop_assert_eq!(Some(b.as_bytes()), owned.as_ref().ok().map(|o| o.as_bytes()));
        }
        let _ = Blob::from_bytes(text.as_bytes());
        let _ = OwnedBlob::from_bytes(text.as_bytes());
    }

    /// Context parsing never panics, whatever the text and the output buffer.
    #[test]
    fn context_parsers_never_panic(text in noise(), cut in any::<prop::sample::Index>()) {
        let len = kms_core::context::canonical_len(Some(&text));
        let parsed = kms_core::context::EncryptionContext::parse(Some(&text));
        let mut out = vec![0u8; len.unwrap_or(64)];
        let full = kms_core::context::write_canonical(Some(&text), &mut out);
        prop_assert_eq!(full.is_ok(), parsed.is_ok());
        let mut short = vec![0u8; cut.index(out.len().max(1))];
        let _ = kms_core::context::write_canonical(Some(&text), &mut short);
    }

    /// KeyReference::parse never panics, and classifies as spec §2 says.
    #[test]
    fn key_reference_parser_never_panics(
        text in prop_oneof![noise(), field(world().names).prop_map(Option::unwrap_or_default)],
    ) {
        match KeyReference::parse(&text, Parameter::KeyId) {
            Ok(r) => {
                prop_assert!(!text.is_empty() && text.len() <= 2048 && text.is_ascii());
                match r {
                    KeyReference::Id(id) => {
                        prop_assert_eq!(id, text.as_str());
                        prop_assert!(!text.starts_with("acs:") && !text.starts_with("alias/"));
                    }
                    KeyReference::Alias(a) => {
                        prop_assert_eq!(a, text.as_str());
                        prop_assert!(text.starts_with("alias/"));
                    }
                    KeyReference::KeyArn { region, account, key_id } => {
                        prop_assert_eq!(text.clone(), format!("acs:kms:{region}:{account}:key/{key_id}"));
                    }
                    KeyReference::AliasArn { region, account, alias } => {
                        prop_assert_eq!(text.clone(), format!("acs:kms:{region}:{account}:{alias}"));
                        prop_assert!(kms_core::key_id::is_valid_alias(alias));
                    }
                }
            }
            Err(e) => {
                prop_assert_eq!(e, Error::InvalidParameter(Parameter::KeyId));
                prop_assert!(text.is_empty() || text.len() > 2048 || !text.is_ascii() || text.starts_with("acs:"));
            }
        }
        prop_assert_eq!(
            KeyReference::parse(&text, Parameter::DestinationKeyId).is_ok(),
            KeyReference::parse(&text, Parameter::KeyId).is_ok()
        );
    }

    /// DataKeyLength::resolve never panics and follows spec §3 exactly.
    #[test]
    fn data_key_length_never_panics(key_spec in prop::option::of(noise()), number in prop::option::of(noise())) {
        let got = DataKeyLength::resolve(key_spec.as_deref(), number.as_deref());
        let expected = match (number.as_deref(), key_spec.as_deref()) {
            (Some(n), _) => {
                let digits = !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit());
                let trimmed = n.trim_start_matches('0');
                match trimmed.parse::<usize>() {
                    Ok(v) if digits && trimmed.len() <= 4 && (1..=1024).contains(&v) => Ok(v),
                    _ => Err(Error::InvalidParameter(Parameter::NumberOfBytes)),
                }
            }
            (None, None | Some("AES_256")) => Ok(32),
            (None, Some("AES_128")) => Ok(16),
            (None, Some(_)) => Err(Error::InvalidParameter(Parameter::KeySpec)),
        };
        prop_assert_eq!(got.map(DataKeyLength::bytes), expected);
    }

    /// parse_dry_run never panics: `true` and `false` only.
    #[test]
    fn dry_run_parser_never_panics(text in prop::option::of(noise())) {
        let expected = match text.as_deref() {
            None | Some("false") => Ok(false),
            Some("true") => Ok(true),
            Some(_) => Err(Error::InvalidParameter(Parameter::DryRun)),
        };
        prop_assert_eq!(parse_dry_run(text.as_deref()), expected);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// All five operations, with arbitrary text in every request field, in both forms (owned
    /// and caller-buffer, the latter also with too-short workspaces): no panic, only spec §8
    /// errors, dry runs never succeed, and what succeeds is right.
    #[test]
    fn operations_never_panic(
        f in fields(),
        seed in any::<u64>(),
        cut in prop::option::of(any::<prop::sample::Index>()),
    ) {
        let mut w = world();
        let c = caller();
        let request_id = f.request_id.then(|| RequestId::parse(FIXED_REQUEST_ID).expect("UUID"));

        // GenerateDataKey and GenerateDataKeyWithoutPlaintext.
        let request = GenerateDataKeyRequest {
            key_id: f.key_id.as_deref(),
            key_spec: f.key_spec.as_deref(),
            number_of_bytes: f.number_of_bytes.as_deref(),
            encryption_context: f.context.as_deref(),
            dry_run: f.dry_run.as_deref(),
            request_id,
        };
        let gdk = generate_data_key(&mut w.provider, &c, &request, &mut rng(seed));
        check(&gdk, &f)?;
        if let Ok(g) = &gdk {
            let len = DataKeyLength::resolve(f.key_spec.as_deref(), f.number_of_bytes.as_deref());
            prop_assert_eq!(Ok(g.data_key().expose().len()), len.map(DataKeyLength::bytes));
            let back = DecryptRequest {
                encryption_context: f.context.as_deref(),
                ..DecryptRequest::new(&g.ciphertext_blob)
            };
            let opened = decrypt(&w.provider, &c, &back, &mut rng(seed)).expect("round trip");
            prop_assert_eq!(opened.plaintext.expose(), g.plaintext.expose());
        }
        let mut ws = workspace(request.workspace_len(), cut);
        let gdk_in = generate_data_key_in(&mut w.provider, &c, &request, &mut rng(seed), &mut ws)
            .map(|_| ());
        check_in(&gdk.as_ref().map(|_| ()).map_err(|e| *e), &gdk_in, &f)?;
        let wp = generate_data_key_without_plaintext(&mut w.provider, &c, &request, &mut rng(seed));
        check(&wp, &f)?;
        prop_assert_eq!(wp.is_ok(), gdk.is_ok());
        let mut ws = workspace(request.workspace_len(), cut);
        let wp_in = generate_data_key_without_plaintext_in(&mut w.provider, &c, &request, &mut rng(seed), &mut ws)
            .map(|_| ());
        check_in(&wp.as_ref().map(|_| ()).map_err(|e| *e), &wp_in, &f)?;

        // Encrypt.
        let request = EncryptRequest {
            key_id: f.key_id.as_deref(),
            plaintext: f.plaintext.as_deref(),
            encryption_context: f.context.as_deref(),
            dry_run: f.dry_run.as_deref(),
            request_id,
        };
        let enc = encrypt(&mut w.provider, &c, &request, &mut rng(seed));
        check(&enc, &f)?;
        if let Ok(e) = &enc {
            let back = DecryptRequest {
                encryption_context: f.context.as_deref(),
                ..DecryptRequest::new(&e.ciphertext_blob)
            };
            let opened = decrypt(&w.provider, &c, &back, &mut rng(seed)).expect("round trip");
            prop_assert_eq!(Some(opened.plaintext.expose()), f.plaintext.as_deref());
        }
        let mut ws = workspace(request.workspace_len(), cut);
        let enc_in = encrypt_in(&mut w.provider, &c, &request, &mut rng(seed), &mut ws).map(|_| ());
        check_in(&enc.as_ref().map(|_| ()).map_err(|e| *e), &enc_in, &f)?;

        // Decrypt.
        let request = DecryptRequest {
            ciphertext_blob: f.blob.as_deref(),
            encryption_context: f.context.as_deref(),
            dry_run: f.dry_run.as_deref(),
            request_id,
        };
        let dec = decrypt(&w.provider, &c, &request, &mut rng(seed));
        check(&dec, &f)?;
        if let Ok(d) = &dec {
            let known = w.blobs.iter().find(|b| Some(&b.0) == f.blob.as_ref());
            prop_assert_eq!(known.map(|b| b.2.as_str()), Some(d.plaintext.expose()));
        }
        let mut ws = workspace(request.workspace_len(), cut);
        let dec_in = decrypt_in(&w.provider, &c, &request, &mut rng(seed), &mut ws).map(|_| ());
        check_in(&dec.as_ref().map(|_| ()).map_err(|e| *e), &dec_in, &f)?;

        // ReEncrypt: the blob and the first context as the source, the key and the second
        // context as the destination.
        let request = ReEncryptRequest {
            ciphertext_blob: f.blob.as_deref(),
            destination_key_id: f.key_id.as_deref(),
            source_encryption_context: f.context.as_deref(),
            destination_encryption_context: f.context2.as_deref(),
            dry_run: f.dry_run.as_deref(),
            request_id,
        };
        let re = re_encrypt(&mut w.provider, &c, &request, &mut rng(seed));
        check(&re, &f)?;
        if let Ok(r) = &re {
            let back = DecryptRequest {
                encryption_context: f.context2.as_deref(),
                ..DecryptRequest::new(&r.ciphertext_blob)
            };
            let opened = decrypt(&w.provider, &c, &back, &mut rng(seed)).expect("round trip");
            let known = w.blobs.iter().find(|b| Some(&b.0) == f.blob.as_ref());
            prop_assert_eq!(known.map(|b| b.2.as_str()), Some(opened.plaintext.expose()));
        }
        let mut ws = workspace(request.workspace_len(), cut);
        let re_in = re_encrypt_in(&mut w.provider, &c, &request, &mut rng(seed), &mut ws).map(|_| ());
        check_in(&re.as_ref().map(|_| ()).map_err(|e| *e), &re_in, &f)?;
    }
}
