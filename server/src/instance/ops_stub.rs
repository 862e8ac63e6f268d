//! Until `kms_core::instance` lands: every operation answers `UnsupportedOperation`.

use std::time::SystemTime;

use super::client_key::ClientKey;
use super::{InstanceApi, InstanceOperation, unsupported};
use crate::error::ApiError;

/// A verified, admitted request.
#[allow(dead_code)]
pub(crate) struct Request<'a> {
    pub operation: InstanceOperation,
    pub client_key: &'a ClientKey,
    pub migration_key_version_id: Option<&'a str>,
    pub body: &'a [u8],
    pub now: SystemTime,
}

/// What an operation answers.
pub(crate) struct Done {
    pub body: Vec<u8>,
    pub key_version_id: Option<String>,
}

/// Runs `request` on `api`.
pub(crate) fn run(_api: &InstanceApi, _request: &Request<'_>) -> Result<Done, ApiError> {
    Err(unsupported())
}
