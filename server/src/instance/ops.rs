//! The operations of the KMS-instance API: decode the request message, run the core's
//! operation (`kms_core::instance`) under the client key's scope, encode the response.
//!
//! The core validates every field (absent and empty alike, as this wire drops empty fields)
//! and enforces the scope: a key outside the client key's instance is `Forbidden.KeyNotFound`.
//! The sealing operations run through [`Service::run_sealing`](crate::Service::run_sealing)
//! (seal budget, rotation); Decrypt and AdvanceDecrypt under the provider's read lock.
//!
//! The asymmetric operations (`kms_core::instance::asymmetric`): GetPublicKey, Sign and Verify,
//! and Encrypt and Decrypt with an `RSAES_OAEP_*` or `SM2PKE` `Algorithm`, under the read lock;
//! the GenerateDataKeyPair family in three steps: the request and the sealing key checked under
//! the read lock, the key pair generated with no lock held, then the pair sealed through
//! `run_sealing` (which checks everything again).

use std::time::SystemTime;

use kms_core::instance::asymmetric::{
    self as asym, DataKeyPairOperation, GenerateDataKeyPairParams, SignParams, VerifyParams,
};
use kms_core::instance::{
    self as core, DecryptParams, EncryptParams, GenerateDataKeyParams, Scope,
};
use kms_core::{Caller, InMemoryProvider, KeyId, KeyReference, KeyVersionId, Parameter};
use prost::Message;
use zeroize::Zeroize;

use super::client_key::ClientKey;
use super::{InstanceApi, InstanceOperation, malformed_body, pb};
use crate::error::ApiError;
use crate::random::ThreadRng;

/// A verified, admitted request.
pub(crate) struct Request<'a> {
    /// The operation.
    pub operation: InstanceOperation,
    /// The client key that signed it.
    pub client_key: &'a ClientKey,
    /// The signed `x-kms-migrationkeyversionid` header.
    pub migration_key_version_id: Option<&'a str>,
    /// The body, not yet decoded.
    pub body: &'a [u8],
    /// When it arrived.
    pub now: SystemTime,
}

/// What an operation answers: the encoded response, the key version for the
/// `x-kms-migrationkeyversionid` header, and the request ID the response carries.
pub(crate) struct Done {
    pub body: Vec<u8>,
    pub key_version_id: Option<String>,
    pub request_id: String,
}

/// Decodes `body` as `M`, or refuses it.
fn decode<M: Message + Default>(body: &[u8]) -> Result<M, ApiError> {
    M::decode(body).map_err(|_| malformed_body())
}

/// Encodes `message`.
fn encode<M: Message>(message: &M) -> Vec<u8> {
    message.encode_to_vec()
}

/// Encodes `message`, then wipes it: it holds a plaintext.
fn encode_secret<M: Message + Zeroize>(mut message: M) -> Vec<u8> {
    let body = message.encode_to_vec();
    message.zeroize();
    body
}

/// The key a sealing request names and its primary version, as the core resolves it: for the
/// rotation when the primary version's seal budget is spent.
fn sealing_key(
    provider: &InMemoryProvider,
    caller: &Caller<'_>,
    key_id: &str,
) -> Option<(KeyId, KeyVersionId)> {
    let reference = KeyReference::parse(key_id, Parameter::KeyId).ok()?;
    let record = kms_core::ops::resolve_key(provider, caller, &reference).ok()?;
    Some((record.key_id, record.primary_version))
}

/// Runs `request` on `api`.
pub(crate) fn run(api: &InstanceApi, request: &Request<'_>) -> Result<Done, ApiError> {
    let key = request.client_key;
    // Every client key the API holds is of its instance (`InstanceApi::new`).
    let instance = api.instance_id();
    let caller = Caller::new(&key.account, &key.region);
    let scope = Scope::new(caller, instance);
    let service = api.service();
    // A replica too long out of touch with its shared store serves no key (as the gateway).
    service.check_current().map_err(ApiError::from)?;
    let rng = &mut ThreadRng;
    let done = match request.operation {
        InstanceOperation::Encrypt | InstanceOperation::AdvanceEncrypt => {
            let mut m: pb::EncryptRequest = decode(request.body)?;
            if request.operation == InstanceOperation::Encrypt
                && asym::is_asymmetric_algorithm(&m.algorithm)
            {
                let done = asymmetric_encrypt(api, &scope, &m);
                m.plaintext.zeroize();
                return done;
            }
            let params = EncryptParams {
                key_id: &m.key_id,
                plaintext: &m.plaintext,
                algorithm: &m.algorithm,
                aad: &m.aad,
                iv: &m.iv,
                padding_mode: &m.padding_mode,
            };
            let advance = request.operation == InstanceOperation::AdvanceEncrypt;
            let sealed = service.run_sealing(
                |p| {
                    if advance {
                        core::advance_encrypt(p, &scope, &params, &mut ThreadRng)
                    } else {
                        core::encrypt(p, &scope, &params, &mut ThreadRng)
                    }
                },
                |p| sealing_key(p, &scope.caller, params.key_id),
                request.now,
            );
            m.plaintext.zeroize();
            let r = sealed?;
            let version = r.key_version_id.to_string();
            let body = if advance {
                encode(&pb::AdvanceEncryptResponse {
                    key_id: r.key_id.to_string(),
                    ciphertext_blob: r.ciphertext_blob,
                    iv: r.iv.0.to_vec(),
                    request_id: r.request_id.to_string(),
                    algorithm: r.algorithm.to_owned(),
                    padding_mode: r.padding_mode.to_owned(),
                    key_version_id: version.clone(),
                })
            } else {
                encode(&pb::EncryptResponse {
                    key_id: r.key_id.to_string(),
                    ciphertext_blob: r.ciphertext_blob,
                    iv: r.iv.0.to_vec(),
                    request_id: r.request_id.to_string(),
                    algorithm: r.algorithm.to_owned(),
                    padding_mode: r.padding_mode.to_owned(),
                })
            };
            Done {
                request_id: r.request_id.to_string(),
                body,
                key_version_id: Some(version),
            }
        }
        InstanceOperation::Decrypt | InstanceOperation::AdvanceDecrypt => {
            let m: pb::DecryptRequest = decode(request.body)?;
            if request.operation == InstanceOperation::Decrypt
                && asym::is_asymmetric_algorithm(&m.algorithm)
            {
                return asymmetric_decrypt(api, &scope, &m, request.migration_key_version_id);
            }
            let params = DecryptParams {
                ciphertext_blob: &m.ciphertext_blob,
                key_id: &m.key_id,
                algorithm: &m.algorithm,
                aad: &m.aad,
                iv: &m.iv,
                padding_mode: &m.padding_mode,
                migration_key_version_id: request.migration_key_version_id,
            };
            let advance = request.operation == InstanceOperation::AdvanceDecrypt;
            let r = service.with_provider_read(|p| {
                if advance {
                    core::advance_decrypt(p, &scope, &params, rng)
                } else {
                    core::decrypt(p, &scope, &params, rng)
                }
            })?;
            let version = r.key_version_id.to_string();
            let plaintext = r.plaintext.expose().to_vec();
            if advance {
                Done {
                    request_id: r.request_id.to_string(),
                    body: encode_secret(pb::AdvanceDecryptResponse {
                        key_id: r.key_id.to_string(),
                        plaintext,
                        request_id: r.request_id.to_string(),
                        algorithm: r.algorithm.to_owned(),
                        padding_mode: r.padding_mode.to_owned(),
                        key_version_id: version.clone(),
                    }),
                    key_version_id: Some(version),
                }
            } else {
                Done {
                    request_id: r.request_id.to_string(),
                    body: encode_secret(pb::DecryptResponse {
                        key_id: r.key_id.to_string(),
                        plaintext,
                        request_id: r.request_id.to_string(),
                        algorithm: r.algorithm.to_owned(),
                        padding_mode: r.padding_mode.to_owned(),
                    }),
                    key_version_id: None,
                }
            }
        }
        InstanceOperation::GenerateDataKey | InstanceOperation::AdvanceGenerateDataKey => {
            let advance = request.operation == InstanceOperation::AdvanceGenerateDataKey;
            let (key_id, algorithm, number_of_bytes, aad) = if advance {
                let m: pb::AdvanceGenerateDataKeyRequest = decode(request.body)?;
                (m.key_id, String::new(), m.number_of_bytes, m.aad)
            } else {
                let m: pb::GenerateDataKeyRequest = decode(request.body)?;
                (m.key_id, m.algorithm, m.number_of_bytes, m.aad)
            };
            let params = GenerateDataKeyParams {
                key_id: &key_id,
                algorithm: &algorithm,
                number_of_bytes,
                aad: &aad,
            };
            let r = service.run_sealing(
                |p| {
                    if advance {
                        core::advance_generate_data_key(p, &scope, &params, &mut ThreadRng)
                    } else {
                        core::generate_data_key(p, &scope, &params, &mut ThreadRng)
                    }
                },
                |p| sealing_key(p, &scope.caller, params.key_id),
                request.now,
            )?;
            let version = r.key_version_id.to_string();
            let plaintext = r.plaintext.expose().to_vec();
            let body = if advance {
                encode_secret(pb::AdvanceGenerateDataKeyResponse {
                    key_id: r.key_id.to_string(),
                    iv: r.iv.0.to_vec(),
                    plaintext,
                    ciphertext_blob: r.ciphertext_blob,
                    request_id: r.request_id.to_string(),
                    algorithm: r.algorithm.to_owned(),
                    key_version_id: version.clone(),
                })
            } else {
                encode_secret(pb::GenerateDataKeyResponse {
                    key_id: r.key_id.to_string(),
                    iv: r.iv.0.to_vec(),
                    plaintext,
                    ciphertext_blob: r.ciphertext_blob,
                    request_id: r.request_id.to_string(),
                    algorithm: r.algorithm.to_owned(),
                })
            };
            Done {
                request_id: r.request_id.to_string(),
                body,
                key_version_id: Some(version),
            }
        }
        InstanceOperation::GenerateRandom => {
            let m: pb::GenerateRandomRequest = decode(request.body)?;
            let r = core::generate_random(m.length, rng)?;
            Done {
                request_id: r.request_id.to_string(),
                body: encode_secret(pb::GenerateRandomResponse {
                    random: r.random,
                    request_id: r.request_id.to_string(),
                }),
                key_version_id: None,
            }
        }
        InstanceOperation::GetPublicKey => {
            let m: pb::GetPublicKeyRequest = decode(request.body)?;
            let r =
                service.with_provider_read(|p| asym::get_public_key(p, &scope, &m.key_id, rng))?;
            Done {
                request_id: r.request_id.to_string(),
                body: encode(&pb::GetPublicKeyResponse {
                    key_id: r.key_id.to_string(),
                    public_key: r.public_key,
                    request_id: r.request_id.to_string(),
                }),
                key_version_id: Some(r.key_version_id.to_string()),
            }
        }
        InstanceOperation::Sign => {
            let mut m: pb::SignRequest = decode(request.body)?;
            let params = SignParams {
                key_id: &m.key_id,
                digest: &m.digest,
                algorithm: &m.algorithm,
                message: &m.message,
                message_type: &m.message_type,
            };
            let signed = service.with_provider_read(|p| asym::sign(p, &scope, &params, rng));
            m.zeroize();
            let r = signed?;
            Done {
                request_id: r.request_id.to_string(),
                body: encode(&pb::SignResponse {
                    key_id: r.key_id.to_string(),
                    signature: r.signature,
                    request_id: r.request_id.to_string(),
                    algorithm: r.algorithm.name().to_owned(),
                    message_type: r.message_type.name().to_owned(),
                }),
                key_version_id: Some(r.key_version_id.to_string()),
            }
        }
        InstanceOperation::Verify => {
            let mut m: pb::VerifyRequest = decode(request.body)?;
            let params = VerifyParams {
                key_id: &m.key_id,
                digest: &m.digest,
                signature: &m.signature,
                algorithm: &m.algorithm,
                message: &m.message,
                message_type: &m.message_type,
            };
            let verified = service.with_provider_read(|p| asym::verify(p, &scope, &params, rng));
            m.zeroize();
            let r = verified?;
            Done {
                request_id: r.request_id.to_string(),
                body: encode(&pb::VerifyResponse {
                    key_id: r.key_id.to_string(),
                    value: r.value,
                    request_id: r.request_id.to_string(),
                    algorithm: r.algorithm.name().to_owned(),
                    message_type: r.message_type.name().to_owned(),
                }),
                key_version_id: Some(r.key_version_id.to_string()),
            }
        }
        InstanceOperation::GenerateDataKeyPair => data_key_pair(
            api,
            &scope,
            request,
            DataKeyPairOperation::GenerateDataKeyPair,
        )?,
        InstanceOperation::GenerateDataKeyPairWithoutPlaintext => data_key_pair(
            api,
            &scope,
            request,
            DataKeyPairOperation::GenerateDataKeyPairWithoutPlaintext,
        )?,
        InstanceOperation::AdvanceGenerateDataKeyPair => data_key_pair(
            api,
            &scope,
            request,
            DataKeyPairOperation::AdvanceGenerateDataKeyPair,
        )?,
        InstanceOperation::AdvanceGenerateDataKeyPairWithoutPlaintext => data_key_pair(
            api,
            &scope,
            request,
            DataKeyPairOperation::AdvanceGenerateDataKeyPairWithoutPlaintext,
        )?,
    };
    Ok(done)
}

/// Encrypt with an asymmetric `Algorithm`: the raw ciphertext, no `Iv`, the version in the
/// header.
fn asymmetric_encrypt(
    api: &InstanceApi,
    scope: &Scope<'_>,
    m: &pb::EncryptRequest,
) -> Result<Done, ApiError> {
    let params = EncryptParams {
        key_id: &m.key_id,
        plaintext: &m.plaintext,
        algorithm: &m.algorithm,
        aad: &m.aad,
        iv: &m.iv,
        padding_mode: &m.padding_mode,
    };
    let r = api
        .service()
        .with_provider_read(|p| asym::encrypt(p, scope, &params, &mut ThreadRng))?;
    Ok(Done {
        request_id: r.request_id.to_string(),
        body: encode(&pb::EncryptResponse {
            key_id: r.key_id.to_string(),
            ciphertext_blob: r.ciphertext_blob,
            iv: Vec::new(),
            request_id: r.request_id.to_string(),
            algorithm: r.algorithm.name().to_owned(),
            padding_mode: String::new(),
        }),
        key_version_id: Some(r.key_version_id.to_string()),
    })
}

/// Decrypt with an asymmetric `Algorithm`: the version in the header (the routing SDK's
/// AsymmetricDecrypt reads it).
fn asymmetric_decrypt(
    api: &InstanceApi,
    scope: &Scope<'_>,
    m: &pb::DecryptRequest,
    migration_key_version_id: Option<&str>,
) -> Result<Done, ApiError> {
    let params = DecryptParams {
        ciphertext_blob: &m.ciphertext_blob,
        key_id: &m.key_id,
        algorithm: &m.algorithm,
        aad: &m.aad,
        iv: &m.iv,
        padding_mode: &m.padding_mode,
        migration_key_version_id,
    };
    let r = api
        .service()
        .with_provider_read(|p| asym::decrypt(p, scope, &params, &mut ThreadRng))?;
    Ok(Done {
        request_id: r.request_id.to_string(),
        body: encode_secret(pb::DecryptResponse {
            key_id: r.key_id.to_string(),
            plaintext: r.plaintext.expose().to_vec(),
            request_id: r.request_id.to_string(),
            algorithm: r.algorithm.name().to_owned(),
            padding_mode: String::new(),
        }),
        key_version_id: Some(r.key_version_id.to_string()),
    })
}

/// The GenerateDataKeyPair family: the request and the sealing key checked under the read
/// lock, the key pair generated with no lock held (RSA key generation takes a while), then
/// sealed on the data-key path (seal budget, rotation), which checks everything again.
fn data_key_pair(
    api: &InstanceApi,
    scope: &Scope<'_>,
    request: &Request<'_>,
    operation: DataKeyPairOperation,
) -> Result<Done, ApiError> {
    let m: pb::GenerateDataKeyPairRequest = if operation.advance() {
        let m: pb::AdvanceGenerateDataKeyPairRequest = decode(request.body)?;
        pb::GenerateDataKeyPairRequest {
            key_id: m.key_id,
            algorithm: String::new(),
            key_pair_spec: m.key_pair_spec,
            key_format: m.key_format,
            aad: m.aad,
        }
    } else {
        decode(request.body)?
    };
    let params = GenerateDataKeyPairParams {
        key_id: &m.key_id,
        algorithm: &m.algorithm,
        key_pair_spec: &m.key_pair_spec,
        key_format: &m.key_format,
        aad: &m.aad,
    };
    let service = api.service();
    let spec =
        service.with_provider_read(|p| asym::check_data_key_pair(p, scope, operation, &params))?;
    let key_pair = kms_core::asymmetric::PrivateKey::generate(spec, &mut ThreadRng)
        .map_err(|_| kms_core::Error::from(kms_core::RngError))?;
    let r = service.run_sealing(
        |p| asym::seal_data_key_pair(p, scope, operation, &params, &key_pair, &mut ThreadRng),
        |p| sealing_key(p, &scope.caller, params.key_id),
        request.now,
    )?;
    drop(key_pair);
    let version = r.key_version_id.to_string();
    let request_id = r.request_id.to_string();
    let key_id = r.key_id.to_string();
    let iv = r.iv.0.to_vec();
    let key_pair_spec = r.key_pair_spec.name().to_owned();
    let algorithm = r.algorithm.to_owned();
    // The WithoutPlaintext forms have none (`None` from the core).
    let private_key_plaintext = r
        .private_key_plaintext
        .as_ref()
        .map(|p| p.expose().to_vec())
        .unwrap_or_default();
    let private_key_ciphertext_blob = r.private_key_ciphertext_blob;
    let public_key = r.public_key;
    let body = match operation {
        DataKeyPairOperation::GenerateDataKeyPair => {
            encode_secret(pb::GenerateDataKeyPairResponse {
                key_id,
                iv,
                key_pair_spec,
                private_key_plaintext,
                private_key_ciphertext_blob,
                public_key,
                request_id: request_id.clone(),
                algorithm,
            })
        }
        DataKeyPairOperation::GenerateDataKeyPairWithoutPlaintext => {
            encode(&pb::GenerateDataKeyPairWithoutPlaintextResponse {
                key_id,
                iv,
                key_pair_spec,
                private_key_ciphertext_blob,
                public_key,
                request_id: request_id.clone(),
                algorithm,
            })
        }
        DataKeyPairOperation::AdvanceGenerateDataKeyPair => {
            encode_secret(pb::AdvanceGenerateDataKeyPairResponse {
                key_id,
                iv,
                key_pair_spec,
                private_key_plaintext,
                private_key_ciphertext_blob,
                public_key,
                request_id: request_id.clone(),
                algorithm,
                key_version_id: version.clone(),
            })
        }
        DataKeyPairOperation::AdvanceGenerateDataKeyPairWithoutPlaintext => {
            encode(&pb::AdvanceGenerateDataKeyPairWithoutPlaintextResponse {
                key_id,
                iv,
                key_pair_spec,
                private_key_ciphertext_blob,
                public_key,
                request_id: request_id.clone(),
                algorithm,
                key_version_id: version.clone(),
            })
        }
    };
    Ok(Done {
        request_id,
        body,
        key_version_id: Some(version),
    })
}
