//! Property tests of the data-key round trip and of context binding (spec §3, §4, §5):
//! Decrypt gives back what GenerateDataKey (or Encrypt) sealed, for every length and context;
//! every text of the same context opens the blob; any other context does not.

mod prop_support;

use std::collections::BTreeMap;

use base64ct::{Base64, Encoding};
use kms_core::{
    DecryptRequest, EncryptRequest, Error, GenerateDataKeyRequest, Parameter, decrypt, encrypt,
    generate_data_key,
};
use prop_support::*;
use proptest::prelude::*;

const BLOB_INVALID: Error = Error::InvalidParameter(Parameter::CiphertextBlob);

fn gdk(
    len: usize,
    context: Option<&str>,
    seed: u64,
) -> (kms_core::InMemoryProvider, String, String) {
    let (mut provider, key) = provider();
    let n = len.to_string();
    let request = GenerateDataKeyRequest {
        number_of_bytes: Some(&n),
        encryption_context: context,
        ..GenerateDataKeyRequest::new(key.as_str())
    };
    let r = generate_data_key(&mut provider, &caller(), &request, &mut rng(seed))
        .expect("GenerateDataKey");
    (
        provider,
        r.ciphertext_blob.clone(),
        r.plaintext.expose().to_string(),
    )
}

fn open(
    provider: &kms_core::InMemoryProvider,
    blob: &str,
    context: Option<&str>,
) -> Result<String, Error> {
    let request = DecryptRequest {
        encryption_context: context,
        ..DecryptRequest::new(blob)
    };
    decrypt(provider, &caller(), &request, &mut rng(1)).map(|r| r.plaintext.expose().to_string())
}

/// The context text for a map: `None` or `""` for the empty one sometimes, else JSON.
fn text_for(map: &BTreeMap<String, String>, absent: bool) -> Option<String> {
    match (map.is_empty(), absent) {
        (true, true) => None,
        _ => Some(plain_json(map)),
    }
}

/// One way to change a context into another.
#[derive(Clone, Debug)]
enum Change {
    Value(prop::sample::Index, String),
    Key(prop::sample::Index, String),
    Add(String, String),
    Remove(prop::sample::Index),
}

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        (any::<prop::sample::Index>(), json_string(0, 4)).prop_map(|(i, s)| Change::Value(i, s)),
        (any::<prop::sample::Index>(), json_string(1, 4)).prop_map(|(i, s)| Change::Key(i, s)),
        (json_string(1, 6), json_string(0, 6)).prop_map(|(k, v)| Change::Add(k, v)),
        any::<prop::sample::Index>().prop_map(Change::Remove),
    ]
}

/// Applies a change; `None` when it would leave the context as it was.
fn apply(map: &BTreeMap<String, String>, change: &Change) -> Option<BTreeMap<String, String>> {
    let mut out = map.clone();
    let keys: Vec<String> = map.keys().cloned().collect();
    match change {
        Change::Value(i, s) => {
            let k = keys.get(i.index(keys.len().max(1)))?;
            let v = out.get_mut(k)?;
            v.push_str(s);
            if s.is_empty() {
                v.push('x');
            }
        }
        Change::Key(i, s) => {
            let k = keys.get(i.index(keys.len().max(1)))?;
            let v = out.remove(k)?;
            let new_key = format!("{k}{s}");
            out.insert(new_key, v);
        }
        Change::Add(k, v) => {
            if out.contains_key(k) {
                return None;
            }
            out.insert(k.clone(), v.clone());
        }
        Change::Remove(i) => {
            let k = keys.get(i.index(keys.len().max(1)))?;
            out.remove(k);
        }
    }
    (out != *map).then_some(out)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// GenerateDataKey then Decrypt returns the data key, for every length 1..=1024 and any
    /// context.
    #[test]
    fn decrypt_returns_the_generated_key(
        len in 1usize..=1024,
        map in context_map(4),
        absent in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let context = text_for(&map, absent);
        let (provider, blob, plaintext) = gdk(len, context.as_deref(), seed);
        let raw = Base64::decode_vec(&plaintext).expect("Plaintext is Base64");
        prop_assert_eq!(raw.len(), len);
        let bytes = Base64::decode_vec(&blob).expect("blob is Base64");
        prop_assert_eq!(bytes.len(), 36 + 12 + plaintext.len() + 16);
        prop_assert_eq!(open(&provider, &blob, context.as_deref()), Ok(plaintext));
    }

    /// Encrypt then Decrypt returns the Plaintext string exactly, for any text of 1..=6144
    /// bytes.
    #[test]
    fn decrypt_returns_the_encrypted_text(
        text in prop_oneof![
            json_string(1, 64),
            ".{1,200}",
            (1usize..=6144).prop_map(|n| "é".repeat(n / 2) + &"a".repeat(n % 2)),
        ],
        map in context_map(3),
        seed in any::<u64>(),
    ) {
        prop_assume!(!text.is_empty() && text.len() <= 6144);
        let (mut provider, key) = provider();
        let context = plain_json(&map);
        let request = EncryptRequest {
            encryption_context: Some(&context),
            ..EncryptRequest::new(key.as_str(), &text)
        };
        let r = encrypt(&mut provider, &caller(), &request, &mut rng(seed)).expect("Encrypt");
        prop_assert_eq!(open(&provider, &r.ciphertext_blob, Some(&context)), Ok(text));
    }

    /// Any re-serialisation of the context (order, white space, escapes) opens the blob.
    #[test]
    fn any_text_of_the_same_context_opens(
        map in context_map(5),
        seeds in prop::collection::vec(any::<u64>(), 1..4),
        len in 1usize..=48,
    ) {
        let (provider, blob, plaintext) = gdk(len, Some(&plain_json(&map)), 7);
        for seed in seeds {
            let text = reserialise(&map, seed);
            let parsed: BTreeMap<String, String> =
                serde_json::from_str(&text).expect("serde_json reads the re-serialised text");
            prop_assert_eq!(&parsed, &map, "the re-serialiser changed the context: {}", text);
            prop_assert_eq!(open(&provider, &blob, Some(&text)), Ok(plaintext.clone()), "{}", text);
        }
    }

    /// Any change to the context (a value, a key, a pair added or removed) fails with
    /// InvalidParameter CiphertextBlob, whatever text spells the changed context.
    #[test]
    fn any_other_context_fails(
        map in context_map(4),
        change in change(),
        seed in any::<u64>(),
        len in 1usize..=48,
    ) {
        let other = apply(&map, &change);
        prop_assume!(other.is_some());
        let other = other.expect("assumed");
        let (provider, blob, _) = gdk(len, Some(&reserialise(&map, seed)), seed);
        let text = reserialise(&other, seed.rotate_left(17));
        prop_assert_eq!(open(&provider, &blob, Some(&text)), Err(BLOB_INVALID), "{}", text);
        if other.is_empty() {
            prop_assert_eq!(open(&provider, &blob, None), Err(BLOB_INVALID));
            prop_assert_eq!(open(&provider, &blob, Some("")), Err(BLOB_INVALID));
        }
    }
}

/// The same holds for an AES-128 master key and the caller-buffer (`*_in`) forms.
#[test]
fn aes128_master_key_round_trip_in_caller_buffers() {
    use kms_core::{decrypt_in, generate_data_key_in};
    let (mut provider, key) = provider_aes128();
    for (i, len) in [1usize, 2, 3, 15, 16, 17, 32, 100, 1023, 1024]
        .into_iter()
        .enumerate()
    {
        let n = len.to_string();
        let request = GenerateDataKeyRequest {
            number_of_bytes: Some(&n),
            encryption_context: Some(r#"{"n":"x"}"#),
            ..GenerateDataKeyRequest::new(key.as_str())
        };
        let mut ws = vec![0u8; request.workspace_len()];
        let out = generate_data_key_in(
            &mut provider,
            &caller(),
            &request,
            &mut rng(i as u64),
            &mut ws,
        )
        .expect("GenerateDataKey");
        assert_eq!(out.data_key.expose().len(), len);
        let blob = out.ciphertext_blob.to_string();
        let plaintext = out.plaintext.expose().to_string();
        drop(out);
        let request = DecryptRequest {
            encryption_context: Some(r#" { "\u006e" : "x" } "#),
            ..DecryptRequest::new(&blob)
        };
        let mut ws = vec![0u8; request.workspace_len()];
        let opened =
            decrypt_in(&provider, &caller(), &request, &mut rng(0), &mut ws).expect("Decrypt");
        assert_eq!(opened.plaintext.expose(), plaintext);
    }
}
