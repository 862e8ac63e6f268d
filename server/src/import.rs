//! Bring your own key over the API: GetParametersForImport, ImportKeyMaterial (material
//! wrapped under the RSA public key of GetParametersForImport) and DeleteKeyMaterial, on the
//! core's `management::import` and `management::delete_key_material`.
//!
//! The ImportToken is stateless: the wrapping private key travels in it, sealed under the
//! service's token key ([`Service::import_token_key`]), so GetParametersForImport stores and
//! writes nothing, and a token made before a restart of a server with a store still imports
//! after it (the token key is derived from the store's wrapping key).

use kms_core::management::{self, import, params as mparams};

use crate::dto::GetParametersForImportResponse;
use crate::error::ApiError;
use crate::service::{Manage, Service, lock, read};

/// GetParametersForImport: `KeyId`, `WrappingAlgorithm`, `WrappingKeySpec`. It changes nothing,
/// so it runs without the management lock ([`Service`]'s dispatch calls it directly), and the
/// RSA-2048 key generation (milliseconds of one core) runs before the provider's read lock is
/// taken, one generation at a time server-wide ([`Service`]'s `keygen` lock), at most
/// [`crate::service::KEYGEN_RATE`] a second per account: a burst of these requests delays no
/// other request's lock and takes at most one core.
pub(crate) fn get_parameters_for_import(s: &Service, m: &Manage<'_>) -> Result<Vec<u8>, ApiError> {
    let key = mparams::key_id(m.get("KeyId"))?;
    let (algorithm, spec) =
        import::wrapping_params(m.get("WrappingAlgorithm"), m.get("WrappingKeySpec"))?;
    let pair = {
        let _one_at_a_time = lock(&s.keygen);
        import::WrappingKeyPair::generate(spec, &mut kms_core::OsRng)?
    };
    let parameters = import::get_parameters_for_import(
        &*read(&s.provider),
        m.caller,
        &key,
        algorithm,
        &pair,
        &s.import_token_key,
        &mut kms_core::OsRng,
        m.now,
    )?;
    m.render(&GetParametersForImportResponse::new(
        parameters,
        m.request_id,
    ))
}

/// ImportKeyMaterial: `KeyId`, `EncryptedKeyMaterial`, `ImportToken`,
/// `KeyMaterialExpireUnix`.
pub(crate) fn import_key_material(s: &Service, m: &Manage<'_>) -> Result<Vec<u8>, ApiError> {
    let key = mparams::key_id(m.get("KeyId"))?;
    let wrapped = import::encrypted_key_material(m.get("EncryptedKeyMaterial"))?;
    let token = import::import_token(m.get("ImportToken"))?;
    let expires = import::key_material_expire_unix(m.get("KeyMaterialExpireUnix"), m.now)?;
    let staged = import::import_wrapped_key_material(
        &*read(&s.provider),
        m.caller,
        &key,
        &wrapped,
        token,
        expires,
        &s.import_token_key,
        &mut kms_core::OsRng,
        m.now,
    )?;
    s.commit(staged)?;
    m.done()
}

/// DeleteKeyMaterial: `KeyId`.
pub(crate) fn delete_key_material(s: &Service, m: &Manage<'_>) -> Result<Vec<u8>, ApiError> {
    let key = mparams::key_id(m.get("KeyId"))?;
    let staged = management::delete_key_material(&*read(&s.provider), m.caller, &key, m.now)?;
    s.commit(staged)?;
    m.done()
}
