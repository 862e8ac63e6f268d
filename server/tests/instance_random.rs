//! Random requests straight into `InstanceApi::handle`, signed as they are (so that they reach
//! the body's decoding and the core), and signed requests mutated after signing: never a
//! panic; every answer a protobuf message, every error an `Error` whose `StatusCode` is the
//! HTTP status; nothing mutated after signing is ever answered 200.

mod common;

use std::sync::Arc;
use std::time::SystemTime;

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use common::instance::{CLIENT_KEY_ID, client_key_of, request, rsa_keys};
use kms_core::{InMemoryProvider, KeyOptions};
use kms_server::instance::{InstanceApi, InstanceOperation, pb};
use kms_server::{Service, instance};
use prost::Message;

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn bytes(&mut self, max: usize) -> Vec<u8> {
        let n = self.below(max + 1);
        (0..n).map(|_| self.next() as u8).collect()
    }
}

fn header_map(headers: &std::collections::BTreeMap<String, String>) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (k, v) in headers {
        if let (Ok(k), Ok(v)) = (
            HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_bytes(v.as_bytes()),
        ) {
            map.append(k, v);
        }
    }
    map
}

/// Asserts `reply` is a well-formed answer: 200 with a body, or an `Error` body.
fn assert_well_formed(reply: &instance::InstanceReply) {
    if reply.status == 200 {
        return;
    }
    let e = pb::Error::decode(reply.body.as_slice()).expect("an Error body");
    assert_eq!(e.status_code, i32::from(reply.status), "{e:?}");
    assert_eq!(e.request_id, reply.request_id, "{e:?}");
    assert!(
        !e.error_code.is_empty() && !e.error_message.is_empty(),
        "{e:?}"
    );
}

fn api() -> (InstanceApi, String) {
    let (api, key, _) = api_with_asymmetric_key();
    (api, key)
}

/// The API over a provider with a symmetric key and an EC_P256 SIGN/VERIFY key in the
/// instance: (api, symmetric key, asymmetric key).
fn api_with_asymmetric_key() -> (InstanceApi, String, String) {
    let instance_id = instance::new_instance_id().unwrap();
    let mut provider = InMemoryProvider::new();
    let options = KeyOptions::new(common::ACCOUNT_A, "cn-hangzhou").instance(instance_id);
    let key = provider.create_key(&mut kms_core::OsRng, &options).unwrap();
    let signing = provider
        .create_key(
            &mut kms_core::OsRng,
            &options
                .spec(kms_core::MasterKeySpec::EcP256)
                .usage(kms_core::KeyUsage::SignVerify),
        )
        .unwrap();
    let service = Arc::new(Service::new(common::config(), provider, None));
    let keys = vec![client_key_of(
        CLIENT_KEY_ID,
        &rsa_keys()[0],
        common::ACCOUNT_A,
        service.region(),
        instance_id.as_str(),
    )];
    let mut config_rate = service.rate_limit();
    config_rate.per_second = 1_000_000;
    config_rate.burst = 1_000_000;
    (
        InstanceApi::new(service, instance_id, keys, config_rate),
        key.to_string(),
        signing.to_string(),
    )
}

/// A message of `op`'s own type with random field values (keys, algorithms and names from
/// short lists, so that some requests pass the checks), for the operations whose request is
/// not a `DecryptRequest`'s shape.
fn message_of(op: InstanceOperation, rng: &mut Rng, key: &str, signing: &str) -> Option<Vec<u8>> {
    let pick = |rng: &mut Rng, options: &[&str]| options[rng.below(options.len())].to_owned();
    let keys = [key, signing, ""];
    Some(match op {
        InstanceOperation::GetPublicKey => pb::GetPublicKeyRequest {
            key_id: pick(rng, &keys),
        }
        .encode_to_vec(),
        InstanceOperation::Sign => pb::SignRequest {
            key_id: pick(rng, &keys),
            digest: if rng.below(4) == 0 {
                rng.bytes(33)
            } else {
                Vec::new()
            },
            algorithm: pick(rng, &["", "ECDSA_SHA_256", "SM2DSA", "x"]),
            message: rng.bytes(40),
            message_type: pick(rng, &["", "RAW", "DIGEST", "raw"]),
        }
        .encode_to_vec(),
        InstanceOperation::Verify => pb::VerifyRequest {
            key_id: pick(rng, &keys),
            digest: if rng.below(4) == 0 {
                rng.bytes(33)
            } else {
                Vec::new()
            },
            signature: rng.bytes(72),
            algorithm: pick(rng, &["", "ECDSA_SHA_256", "RSA_PSS_SHA_256"]),
            message: rng.bytes(40),
            message_type: pick(rng, &["", "RAW", "DIGEST"]),
        }
        .encode_to_vec(),
        // Elliptic-curve pairs only: RSA key generation would make the test slow.
        InstanceOperation::GenerateDataKeyPair
        | InstanceOperation::GenerateDataKeyPairWithoutPlaintext => {
            pb::GenerateDataKeyPairRequest {
                key_id: pick(rng, &keys),
                algorithm: pick(rng, &["", "AES_GCM", "SM4"]),
                key_pair_spec: pick(rng, &["EC_P256", "EC_SM2", "", "RSA_1024"]),
                key_format: pick(rng, &["", "PEM", "DER", "JWK"]),
                aad: rng.bytes(16),
            }
            .encode_to_vec()
        }
        InstanceOperation::AdvanceGenerateDataKeyPair
        | InstanceOperation::AdvanceGenerateDataKeyPairWithoutPlaintext => {
            pb::AdvanceGenerateDataKeyPairRequest {
                key_id: pick(rng, &keys),
                key_pair_spec: pick(rng, &["EC_P256K", "", "EC_X"]),
                key_format: pick(rng, &["", "DER"]),
                aad: rng.bytes(16),
            }
            .encode_to_vec()
        }
        _ => return None,
    })
}

#[test]
fn random_bodies_signed_as_sent_never_panic() {
    let (api, key, signing) = api_with_asymmetric_key();
    let mut rng = Rng(0x1234_5678_9abc_def1);
    let now = SystemTime::now();
    let ops = InstanceOperation::ALL;
    let (mut ok, mut decoded) = (0, 0);
    for i in 0..600 {
        let op = ops[i % ops.len()];
        // Half: random bytes; half: a real message with random field values.
        let body = if op == InstanceOperation::GenerateRandom && i % 3 == 0 {
            // Lengths in and out of range.
            pb::GenerateRandomRequest {
                length: i32::try_from(rng.below(1100)).unwrap() - 10,
            }
            .encode_to_vec()
        } else if i % 2 == 0 {
            rng.bytes(64)
        } else if let Some(body) = message_of(op, &mut rng, &key, &signing) {
            body
        } else {
            pb::DecryptRequest {
                ciphertext_blob: rng.bytes(80),
                key_id: if rng.below(2) == 0 {
                    key.clone()
                } else {
                    String::new()
                },
                algorithm: if rng.below(3) == 0 {
                    "AES_GCM".into()
                } else {
                    String::new()
                },
                aad: rng.bytes(8),
                iv: rng.bytes(13),
                padding_mode: String::new(),
            }
            .encode_to_vec()
        };
        let r = request(CLIENT_KEY_ID, &rsa_keys()[0], op.name(), body.clone(), now);
        let reply = api.handle("POST", "/", &header_map(&r.headers), &body, now);
        assert_well_formed(&reply);
        ok += usize::from(reply.status == 200);
        let body_refused = pb::Error::decode(reply.body.as_slice())
            .is_ok_and(|e| e.error_message == "The specified parameter Body is not valid.");
        decoded += usize::from(!body_refused);
    }
    // A sixth or more reached the core (decoded; the seed is fixed), some were answered.
    assert!(ok > 0 && decoded > 100, "{ok} answered, {decoded} decoded");
}

#[test]
fn signed_requests_mutated_after_signing_are_never_answered() {
    let (api, key) = api();
    let mut rng = Rng(0x0bad_5eed_0bad_5eed);
    let now = SystemTime::now();
    let body = pb::EncryptRequest {
        key_id: key,
        plaintext: b"payload".to_vec(),
        ..Default::default()
    }
    .encode_to_vec();
    let signed = request(CLIENT_KEY_ID, &rsa_keys()[0], "Encrypt", body.clone(), now);
    // Unmutated: answered.
    let reply = api.handle("POST", "/", &header_map(&signed.headers), &body, now);
    assert_eq!(reply.status, 200);
    // The reply's request ID is the one its body carries.
    let answered = pb::EncryptResponse::decode(reply.body.as_slice()).expect("a response");
    assert_eq!(reply.request_id, answered.request_id);
    let names: Vec<String> = signed.headers.keys().cloned().collect();
    for _ in 0..400 {
        let mut headers = signed.headers.clone();
        let mut body = body.clone();
        match rng.below(4) {
            // A byte of a signed header's value changed (accept and user-agent are not signed).
            0 | 1 => {
                let name = &names[rng.below(names.len())];
                if name == "accept" || name == "user-agent" {
                    continue;
                }
                let mut value = headers[name].clone().into_bytes();
                let at = rng.below(value.len());
                value[at] = b"0123456789abcdefXYZ:- "[rng.below(22)];
                if value == headers[name].as_bytes() {
                    continue;
                }
                headers.insert(name.clone(), String::from_utf8_lossy(&value).into_owned());
            }
            // A byte of the body changed.
            2 => {
                let at = rng.below(body.len());
                body[at] ^= 1 << rng.below(8);
            }
            // A signed header removed, or an x-kms- header added.
            _ => {
                if rng.below(2) == 0 {
                    let name = &names[rng.below(names.len())];
                    if name == "accept" || name == "user-agent" {
                        continue;
                    }
                    headers.remove(name);
                } else {
                    headers.insert("x-kms-added".into(), format!("{}", rng.next()));
                }
            }
        }
        let reply = api.handle("POST", "/", &header_map(&headers), &body, now);
        assert_well_formed(&reply);
        assert_ne!(reply.status, 200, "{headers:?}");
    }
}
