//! Every row of the spec's error table (§8) that GenerateDataKey or Decrypt can produce,
//! reached through the public operations, with its status, code and exact message.
//! (`Rejected.Throttling` belongs to the rate limiter and is not produced by these operations.)

mod common;

use common::*;
use kms_core::{
    Action, Caller, DecryptRequest, Error, GenerateDataKeyRequest, KeyOptions, KeyOrigin,
    KeyProvider, KeyRecord, KeyVersionId, MasterKeySpec, ProviderError, UsableKey, decrypt,
    generate_data_key,
};

// ----- MissingParameter -----------------------------------------------------------------------

#[test]
fn generate_data_key_missing_key_id() {
    let mut w = World::new(1);
    let err = w.gdk(&GenerateDataKeyRequest::default()).unwrap_err();
    assert_missing(&err, "KeyId");
    assert_eq!(
        err.to_string(),
        "The parameter KeyId is needed but not provided."
    );
}

#[test]
fn decrypt_missing_ciphertext_blob() {
    let mut w = World::new(2);
    let err = w.decrypt(&DecryptRequest::default()).unwrap_err();
    assert_missing(&err, "CiphertextBlob");
    assert_eq!(
        err.to_string(),
        "The parameter CiphertextBlob is needed but not provided."
    );
}

// ----- InvalidParameter -----------------------------------------------------------------------

#[test]
fn generate_data_key_invalid_parameter_names_each_parameter() {
    let mut w = World::new(3);
    let key = w.key.to_string();
    let base = GenerateDataKeyRequest::new(&key);

    let err = w.gdk(&GenerateDataKeyRequest::new("")).unwrap_err();
    assert_invalid(&err, "KeyId");
    assert_eq!(
        err.to_string(),
        "The specified parameter KeyId is not valid."
    );

    let err = w
        .gdk(&GenerateDataKeyRequest {
            key_spec: Some("AES_512"),
            ..base
        })
        .unwrap_err();
    assert_invalid(&err, "KeySpec");

    let err = w
        .gdk(&GenerateDataKeyRequest {
            number_of_bytes: Some("0"),
            ..base
        })
        .unwrap_err();
    assert_invalid(&err, "NumberOfBytes");

    let err = w
        .gdk(&GenerateDataKeyRequest {
            encryption_context: Some("[]"),
            ..base
        })
        .unwrap_err();
    assert_invalid(&err, "EncryptionContext");

    let err = w
        .gdk(&GenerateDataKeyRequest {
            dry_run: Some("yes"),
            ..base
        })
        .unwrap_err();
    assert_invalid(&err, "DryRun");
}

#[test]
fn decrypt_invalid_parameter_names_each_parameter() {
    let mut w = World::new(4);
    let blob = w.blob(None).ciphertext_blob;

    let err = w.decrypt(&DecryptRequest::new("not a blob")).unwrap_err();
    assert_invalid(&err, "CiphertextBlob");
    assert_eq!(
        err.to_string(),
        "The specified parameter CiphertextBlob is not valid."
    );

    let err = w
        .decrypt(&DecryptRequest {
            encryption_context: Some("{\"a\":1}"),
            ..DecryptRequest::new(&blob)
        })
        .unwrap_err();
    assert_invalid(&err, "EncryptionContext");

    let err = w
        .decrypt(&DecryptRequest {
            dry_run: Some("TRUE"),
            ..DecryptRequest::new(&blob)
        })
        .unwrap_err();
    assert_invalid(&err, "DryRun");

    // A context that differs from the sealing one is reported on the blob.
    let err = w
        .decrypt(&DecryptRequest {
            encryption_context: Some("{\"a\":\"1\"}"),
            ..DecryptRequest::new(&blob)
        })
        .unwrap_err();
    assert_invalid(&err, "CiphertextBlob");
}

// ----- UnsupportedOperation -------------------------------------------------------------------

#[test]
fn generate_data_key_unsupported_operation() {
    let mut w = World::new(5);
    let ec = w.add_key(&KeyOptions::new(ACCOUNT, REGION).spec(MasterKeySpec::EcP256));
    let err = w
        .gdk(&GenerateDataKeyRequest::new(ec.as_str()))
        .unwrap_err();
    assert_unsupported(&err);
    assert_eq!(err.to_string(), "This action is not supported.");
}

#[test]
fn decrypt_unsupported_operation() {
    let mut w = World::new(6);
    let rsa = w.add_key(&KeyOptions::new(ACCOUNT, REGION).spec(MasterKeySpec::Rsa2048));
    // A well-formed blob naming the asymmetric key's version: the usage check comes before any
    // attempt to open it.
    let v = w.primary(&rsa);
    let blob = b64(&[v.as_bytes().as_slice(), &[0u8; 12 + 44 + 16]].concat());
    let err = w.decrypt(&DecryptRequest::new(&blob)).unwrap_err();
    assert_unsupported(&err);
}

// ----- ValidationError ------------------------------------------------------------------------

#[test]
fn generate_data_key_validation_error() {
    let mut w = World::new(7);
    let err = w
        .gdk(&GenerateDataKeyRequest {
            dry_run: Some("true"),
            ..GenerateDataKeyRequest::default()
        })
        .unwrap_err();
    assert_validation_missing(&err, "KeyId");
    assert_eq!(err.code(), "ValidationError");
    assert_eq!(
        err.to_string(),
        "The parameter KeyId is needed but not provided."
    );

    let key = w.key.to_string();
    let err = w
        .gdk(&GenerateDataKeyRequest {
            dry_run: Some("true"),
            number_of_bytes: Some("1025"),
            ..GenerateDataKeyRequest::new(&key)
        })
        .unwrap_err();
    assert_validation_invalid(&err, "NumberOfBytes");
}

#[test]
fn decrypt_validation_error() {
    let mut w = World::new(8);
    let err = w
        .decrypt(&DecryptRequest {
            dry_run: Some("true"),
            ..DecryptRequest::default()
        })
        .unwrap_err();
    assert_validation_missing(&err, "CiphertextBlob");

    let err = w
        .decrypt(&DecryptRequest {
            dry_run: Some("true"),
            ..DecryptRequest::new("AAAA")
        })
        .unwrap_err();
    assert_validation_invalid(&err, "CiphertextBlob");
}

// ----- Forbidden.NoPermission and AccessDeniedError -------------------------------------------

fn other_accounts_key(w: &mut World) -> String {
    let other = w.add_key(&KeyOptions::new(OTHER_ACCOUNT, REGION));
    format!("acs:kms:{REGION}:{OTHER_ACCOUNT}:key/{other}")
}

#[test]
fn generate_data_key_no_permission() {
    let mut w = World::new(9);
    let arn = other_accounts_key(&mut w);
    let err = w.gdk(&GenerateDataKeyRequest::new(&arn)).unwrap_err();
    assert_no_permission(&err);
    assert_eq!(
        err.to_string(),
        "This operation is forbidden by permission system."
    );
}

#[test]
fn generate_data_key_access_denied_in_dry_run() {
    let mut w = World::new(10);
    let arn = other_accounts_key(&mut w);
    let err = w
        .gdk(&GenerateDataKeyRequest {
            dry_run: Some("true"),
            ..GenerateDataKeyRequest::new(&arn)
        })
        .unwrap_err();
    assert_access_denied(&err);
}

fn foreign_blob(w: &mut World) -> String {
    let other = w.add_key(&KeyOptions::new(OTHER_ACCOUNT, REGION));
    let them = Caller::new(OTHER_ACCOUNT, REGION);
    w.gdk_as(&them, &GenerateDataKeyRequest::new(other.as_str()))
        .expect("the owner generates")
        .ciphertext_blob
}

#[test]
fn decrypt_no_permission() {
    let mut w = World::new(11);
    let blob = foreign_blob(&mut w);
    let err = w.decrypt(&DecryptRequest::new(&blob)).unwrap_err();
    assert_no_permission(&err);
}

#[test]
fn decrypt_access_denied_in_dry_run() {
    let mut w = World::new(12);
    let blob = foreign_blob(&mut w);
    let err = w
        .decrypt(&DecryptRequest {
            dry_run: Some("true"),
            ..DecryptRequest::new(&blob)
        })
        .unwrap_err();
    assert_access_denied(&err);
}

// ----- Forbidden.AliasNotFound and Forbidden.KeyNotFound --------------------------------------

#[test]
fn generate_data_key_alias_not_found() {
    let mut w = World::new(13);
    let err = w
        .gdk(&GenerateDataKeyRequest::new("alias/no-such-alias"))
        .unwrap_err();
    assert_alias_not_found(&err);
    assert_eq!(err.to_string(), "The specified Alias is not found.");
}

#[test]
fn generate_data_key_key_not_found() {
    let mut w = World::new(14);
    let err = w
        .gdk(&GenerateDataKeyRequest::new(
            "1234abcd-12ab-34cd-56ef-123456789012",
        ))
        .unwrap_err();
    assert_key_not_found(&err);
    assert_eq!(err.to_string(), "The specified Key is not found.");
}

#[test]
fn decrypt_key_not_found() {
    let mut w = World::new(15);
    let blob = w.blob(None).ciphertext_blob;
    let mut raw = unb64(&blob);
    raw[..36].copy_from_slice(b"1234abcd-12ab-34cd-56ef-123456789012");
    let err = w.decrypt(&DecryptRequest::new(&b64(&raw))).unwrap_err();
    assert_key_not_found(&err);
}

// ----- Rejected.* -----------------------------------------------------------------------------

#[test]
fn generate_data_key_and_decrypt_rejected_disabled() {
    let mut w = World::new(16);
    let blob = w.blob(None).ciphertext_blob;
    w.provider.disable_key(&w.key).unwrap();
    let key = w.key.to_string();
    let err = w.gdk(&GenerateDataKeyRequest::new(&key)).unwrap_err();
    assert_rejected(&err, "Disabled");
    assert_eq!(
        err.to_string(),
        "The request was rejected because the key state is Disabled."
    );
    let err = w.decrypt(&DecryptRequest::new(&blob)).unwrap_err();
    assert_rejected(&err, "Disabled");
}

#[test]
fn generate_data_key_and_decrypt_rejected_pending_deletion() {
    let mut w = World::new(17);
    let blob = w.blob(None).ciphertext_blob;
    w.provider.schedule_key_deletion(&w.key).unwrap();
    let key = w.key.to_string();
    let err = w.gdk(&GenerateDataKeyRequest::new(&key)).unwrap_err();
    assert_rejected(&err, "PendingDeletion");
    assert_eq!(
        err.to_string(),
        "The request was rejected because the key state is PendingDeletion."
    );
    let err = w.decrypt(&DecryptRequest::new(&blob)).unwrap_err();
    assert_rejected(&err, "PendingDeletion");
}

#[test]
fn generate_data_key_and_decrypt_rejected_pending_import() {
    let mut w = World::new(18);
    let external = w.add_key(&KeyOptions::new(ACCOUNT, REGION).origin(KeyOrigin::External));
    let err = w
        .gdk(&GenerateDataKeyRequest::new(external.as_str()))
        .unwrap_err();
    assert_rejected(&err, "PendingImport");
    assert_eq!(
        err.to_string(),
        "The request was rejected because the key state is PendingImport."
    );
    let v = w.primary(&external);
    let blob = b64(&[v.as_bytes().as_slice(), &[7u8; 12 + 44 + 16]].concat());
    let err = w.decrypt(&DecryptRequest::new(&blob)).unwrap_err();
    assert_rejected(&err, "PendingImport");
}

#[test]
fn generate_data_key_and_decrypt_rejected_unavailable() {
    let mut w = World::new(19);
    let blob = w.blob(None).ciphertext_blob;
    w.provider.set_unavailable(&w.key, true).unwrap();
    let key = w.key.to_string();
    let err = w.gdk(&GenerateDataKeyRequest::new(&key)).unwrap_err();
    assert_rejected(&err, "Unavailable");
    assert_eq!(
        err.to_string(),
        "The request was rejected because the key state is Unavailable."
    );
    let err = w.decrypt(&DecryptRequest::new(&blob)).unwrap_err();
    assert_rejected(&err, "Unavailable");
}

// ----- DryRunOperationError -------------------------------------------------------------------

#[test]
fn generate_data_key_dry_run_operation_error() {
    let mut w = World::new(20);
    let err = w
        .gdk(&GenerateDataKeyRequest {
            dry_run: Some("true"),
            ..GenerateDataKeyRequest::new(ALIAS)
        })
        .unwrap_err();
    assert_dry_run_passed(&err);
    assert_eq!(err.status(), 412);
}

#[test]
fn decrypt_dry_run_operation_error() {
    let mut w = World::new(21);
    let blob = w.blob(None).ciphertext_blob;
    let err = w
        .decrypt(&DecryptRequest {
            dry_run: Some("true"),
            ..DecryptRequest::new(&blob)
        })
        .unwrap_err();
    assert_dry_run_passed(&err);
}

// ----- InternalFailure ------------------------------------------------------------------------

#[test]
fn generate_data_key_internal_failure_when_rng_fails() {
    let mut w = World::new(22);
    let before = w.provider.seal_count(&w.primary(&w.key)).unwrap();
    let mut failing = FailingRng::default();
    let err = generate_data_key(
        &mut w.provider,
        &caller(),
        &GenerateDataKeyRequest::new(ALIAS),
        &mut failing,
    )
    .unwrap_err();
    assert_internal(&err);
    assert!(failing.attempts > 0, "the RNG was never asked");
    // Nothing was sealed.
    assert_eq!(w.provider.seal_count(&w.primary(&w.key)).unwrap(), before);
}

#[test]
fn decrypt_internal_failure_when_rng_fails() {
    let mut w = World::new(23);
    let blob = w.blob(None).ciphertext_blob;
    let mut failing = FailingRng::default();
    let err = decrypt(
        &w.provider,
        &caller(),
        &DecryptRequest::new(&blob),
        &mut failing,
    )
    .unwrap_err();
    assert_internal(&err);
}

#[test]
fn generate_data_key_internal_failure_when_rng_fails_at_the_iv() {
    // The data key (32 bytes) is drawn, then the IV draw fails.
    let mut w = World::new(24);
    let before = w.provider.seal_count(&w.primary(&w.key)).unwrap();
    let mut limited = LimitedRng::new(1, 32);
    let err = generate_data_key(
        &mut w.provider,
        &caller(),
        &GenerateDataKeyRequest::new(ALIAS),
        &mut limited,
    )
    .unwrap_err();
    assert_internal(&err);
    assert_eq!(w.provider.seal_count(&w.primary(&w.key)).unwrap(), before);
}

/// A provider that cannot answer at all.
struct BrokenProvider(ProviderError);

impl KeyProvider for BrokenProvider {
    fn find_key(&self, _: &str, _: &str, _: &str) -> Result<Option<KeyRecord>, ProviderError> {
        Err(self.0)
    }

    fn find_alias(&self, _: &str, _: &str, _: &str) -> Result<Option<KeyRecord>, ProviderError> {
        Err(self.0)
    }

    fn find_version(&self, _: &str, _: &KeyVersionId) -> Result<Option<KeyRecord>, ProviderError> {
        Err(self.0)
    }

    fn permits(&self, _: &KeyRecord, _: &Caller<'_>, _: Action) -> bool {
        true
    }

    fn seal<R: kms_core::rand_core::TryCryptoRng + ?Sized>(
        &mut self,
        _: &UsableKey,
        _: &[u8; 12],
        _: &[u8],
        _: &mut [u8],
        _: &mut R,
    ) -> Result<[u8; 16], ProviderError> {
        Err(self.0)
    }

    fn open(
        &self,
        _: &UsableKey,
        _: &[u8; 12],
        _: &[u8],
        _: &mut [u8],
        _: &[u8; 16],
    ) -> Result<(), ProviderError> {
        Err(self.0)
    }
}

#[test]
fn provider_failures_map_to_internal_failure_and_unavailable() {
    let mut w = World::new(25);
    let blob = w.blob(None).ciphertext_blob;
    let mut rng = rng(25);

    let mut broken = BrokenProvider(ProviderError::Internal);
    let err = generate_data_key(
        &mut broken,
        &caller(),
        &GenerateDataKeyRequest::new(ALIAS),
        &mut rng,
    )
    .unwrap_err();
    assert_internal(&err);
    let err = decrypt(&broken, &caller(), &DecryptRequest::new(&blob), &mut rng).unwrap_err();
    assert_internal(&err);

    let mut outage = BrokenProvider(ProviderError::Unavailable);
    let err = generate_data_key(
        &mut outage,
        &caller(),
        &GenerateDataKeyRequest::new("1234abcd-12ab-34cd-56ef-123456789012"),
        &mut rng,
    )
    .unwrap_err();
    assert_rejected(&err, "Unavailable");
    let err = decrypt(&outage, &caller(), &DecryptRequest::new(&blob), &mut rng).unwrap_err();
    assert_rejected(&err, "Unavailable");
}

#[test]
fn error_values_carry_their_row() {
    // The enum itself, for the rows reached above through the operations: the same triple.
    use kms_core::{Parameter, ParameterProblem};
    assert_missing(&Error::MissingParameter(Parameter::KeyId), "KeyId");
    assert_invalid(
        &Error::InvalidParameter(Parameter::EncryptionContext),
        "EncryptionContext",
    );
    assert_validation_invalid(
        &Error::ValidationError(ParameterProblem::Invalid(Parameter::DryRun)),
        "DryRun",
    );
    assert_internal(&Error::WorkspaceTooSmall { needed: 10 });
    assert_eq!(
        Error::InvalidParameter(Parameter::KeyId).in_dry_run(),
        Error::ValidationError(ParameterProblem::Invalid(Parameter::KeyId))
    );
    assert_eq!(Error::NoPermission.in_dry_run(), Error::AccessDenied);
    assert_eq!(Error::KeyNotFound.in_dry_run(), Error::KeyNotFound);
    assert_eq!(Error::Disabled.in_dry_run(), Error::Disabled);
}
