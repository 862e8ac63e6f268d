//! The wire shapes of the key management responses, built from the core's typed answers
//! ([`KeyMeta`], [`Listing`], [`VersionMeta`]). Fields serialize with their PascalCase wire
//! names, in the order below, in JSON and in XML (where the root element is named after the
//! operation and lists nest as `<Keys><Key>…</Key></Keys>`).
//!
//! Times are ISO 8601 UTC ([`Timestamp`]); ARNs are the core's [`KeyArn`] and [`AliasArn`].
//! (The data-key operations' responses are the core's own `kms_core::wire` types.)

use kms_core::management::{self, AliasEntry, KeyMeta, KeyVersionMeta, Listing, VersionMeta};
use kms_core::reference::{AliasArn, KeyArn};
use kms_core::time::Timestamp;
use kms_core::{Caller, KeyId, KeyState, KeyVersionId, RequestId};
use serde::Serialize;

/// What DescribeKey reports about a key (and CreateKey about the key it made).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyMetadata {
    /// The key ID.
    pub key_id: KeyId,
    /// The key's ARN, `acs:kms:{region}:{account}:key/{key id}`.
    pub arn: String,
    /// `Enabled`, `Disabled`, `PendingDeletion`, `PendingImport` (or `Unavailable` while the
    /// material cannot be reached).
    pub key_state: &'static str,
    /// `Aliyun_AES_256`, `Aliyun_AES_128`, `RSA_2048`, `EC_P256`.
    pub key_spec: &'static str,
    /// `ENCRYPT/DECRYPT` or `SIGN/VERIFY`.
    pub key_usage: &'static str,
    /// `Aliyun_KMS` or `EXTERNAL`.
    pub origin: &'static str,
    /// The primary version's ID.
    pub primary_key_version: KeyVersionId,
    /// When the key was made, ISO 8601 UTC.
    pub creation_date: String,
    /// When a scheduled deletion happens, ISO 8601 UTC; absent when none is scheduled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delete_date: Option<String>,
    /// The description.
    pub description: String,
    /// The owning account.
    pub creator: String,
    /// The KMS instance that holds the key (`kst-…`); absent for a key outside any instance.
    /// The V3 SDK's `KeyMetadata` reads it as `DKMSInstanceId`.
    #[serde(rename = "DKMSInstanceId", skip_serializing_if = "Option::is_none")]
    pub dkms_instance_id: Option<String>,
    /// `Enabled` (a rotation policy and an Enabled key), `Suspended` (a rotation policy and a
    /// key in another state: it rotates once enabled again) or `Disabled`.
    pub automatic_rotation: &'static str,
    /// The automatic rotation interval in seconds, `2592000s`; absent without a policy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rotation_interval: Option<String>,
    /// When the primary version was made (the key's creation until its first rotation), ISO
    /// 8601 UTC.
    pub last_rotation_date: String,
    /// When automatic rotation next falls due, ISO 8601 UTC; absent without a policy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_rotation_date: Option<String>,
    /// `SOFTWARE` or `HSM`.
    pub protection_level: &'static str,
    /// `Enabled` or `Disabled`.
    pub deletion_protection: &'static str,
    /// The description given with deletion protection; absent while it is off.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deletion_protection_description: Option<String>,
    /// When the imported material expires, ISO 8601 UTC; absent when it never does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub material_expire_time: Option<String>,
}

impl KeyMetadata {
    /// The metadata of `key`.
    pub fn new(key: &KeyMeta) -> Self {
        Self {
            key_id: key.key_id,
            arn: KeyArn::new(&key.region, &key.account, &key.key_id).to_string(),
            key_state: key.state.name(),
            key_spec: key.spec.name(),
            key_usage: key.usage.name(),
            origin: key.origin.name(),
            primary_key_version: key.primary,
            creation_date: Timestamp(key.created).to_string(),
            delete_date: key.delete_at.map(|at| Timestamp(at).to_string()),
            description: key.description.clone(),
            creator: key.account.clone(),
            dkms_instance_id: key.instance.map(|id| id.as_str().to_owned()),
            automatic_rotation: match key.settings.rotation_interval {
                None => "Disabled",
                Some(_) if key.stored_state == KeyState::Enabled => "Enabled",
                Some(_) => "Suspended",
            },
            rotation_interval: key
                .settings
                .rotation_interval
                .map(|i| format!("{}s", i.as_secs())),
            last_rotation_date: Timestamp(management::last_rotation(key)).to_string(),
            next_rotation_date: management::next_rotation(key).map(|at| Timestamp(at).to_string()),
            protection_level: key.settings.protection_level.name(),
            deletion_protection: if key.settings.deletion_protection.is_some() {
                "Enabled"
            } else {
                "Disabled"
            },
            deletion_protection_description: key.settings.deletion_protection.clone(),
            material_expire_time: key
                .settings
                .material_expires
                .map(|at| Timestamp(at).to_string()),
        }
    }
}

/// A response that carries only the request ID (the alias operations, EnableKey, DisableKey,
/// ScheduleKeyDeletion, CancelKeyDeletion).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct EmptyResponse {
    /// The request ID.
    pub request_id: RequestId,
}

/// A response that carries a key's metadata (CreateKey, DescribeKey).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyMetadataResponse {
    /// The key's metadata.
    pub key_metadata: KeyMetadata,
    /// The request ID.
    pub request_id: RequestId,
}

impl KeyMetadataResponse {
    /// The response about `key`.
    pub fn new(key: &KeyMeta, request_id: RequestId) -> Self {
        Self {
            key_metadata: KeyMetadata::new(key),
            request_id,
        }
    }
}

/// One key of a ListKeys page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyListEntry {
    /// The key ID.
    pub key_id: KeyId,
    /// The key's ARN.
    pub key_arn: String,
}

/// The `Keys` of a ListKeys response: `{"Key": [...]}` on the wire.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize)]
pub struct KeyList {
    /// The keys of the page.
    #[serde(rename = "Key")]
    pub key: Vec<KeyListEntry>,
}

/// A ListKeys response.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListKeysResponse {
    /// The page's keys, oldest first.
    pub keys: KeyList,
    /// How many keys the caller has in the region.
    pub total_count: usize,
    /// The page number.
    pub page_number: usize,
    /// The page size.
    pub page_size: usize,
    /// The request ID.
    pub request_id: RequestId,
}

impl ListKeysResponse {
    /// The page `listing` of `caller`'s keys (ARNs in the caller's account and region, where
    /// the listed keys live).
    pub fn new(caller: &Caller<'_>, listing: &Listing<KeyId>, request_id: RequestId) -> Self {
        let key = listing
            .items
            .iter()
            .map(|key_id| KeyListEntry {
                key_id: *key_id,
                key_arn: KeyArn::new(caller.region, caller.account, key_id).to_string(),
            })
            .collect();
        Self {
            keys: KeyList { key },
            total_count: listing.total,
            page_number: listing.page.number,
            page_size: listing.page.size,
            request_id,
        }
    }
}

/// One alias of a ListAliases page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AliasListEntry {
    /// The alias, `alias/...` in full.
    pub alias_name: String,
    /// The alias's ARN, `acs:kms:{region}:{account}:alias/{name}`.
    pub alias_arn: String,
    /// The key it names.
    pub key_id: KeyId,
}

/// The `Aliases` of a ListAliases response: `{"Alias": [...]}` on the wire.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize)]
pub struct AliasList {
    /// The aliases of the page.
    #[serde(rename = "Alias")]
    pub alias: Vec<AliasListEntry>,
}

/// A ListAliases response.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListAliasesResponse {
    /// The page's aliases, sorted by name.
    pub aliases: AliasList,
    /// How many aliases the caller has in the region.
    pub total_count: usize,
    /// The page number.
    pub page_number: usize,
    /// The page size.
    pub page_size: usize,
    /// The request ID.
    pub request_id: RequestId,
}

impl ListAliasesResponse {
    /// The page `listing` of `caller`'s aliases.
    pub fn new(caller: &Caller<'_>, listing: &Listing<AliasEntry>, request_id: RequestId) -> Self {
        let alias = listing
            .items
            .iter()
            .map(|entry| AliasListEntry {
                alias_name: entry.alias.clone(),
                alias_arn: AliasArn::new(caller.region, caller.account, &entry.alias).to_string(),
                key_id: entry.key_id,
            })
            .collect();
        Self {
            aliases: AliasList { alias },
            total_count: listing.total,
            page_number: listing.page.number,
            page_size: listing.page.size,
            request_id,
        }
    }
}

/// A key version: what CreateKeyVersion made, DescribeKeyVersion reports, and each entry of a
/// ListKeyVersions page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyVersion {
    /// The key ID.
    pub key_id: KeyId,
    /// The version (for CreateKeyVersion, the new one, now primary).
    pub key_version_id: KeyVersionId,
    /// When it was made, ISO 8601 UTC.
    pub creation_date: String,
}

/// A CreateKeyVersion response.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateKeyVersionResponse {
    /// The new version.
    pub key_version: KeyVersion,
    /// The request ID.
    pub request_id: RequestId,
}

impl CreateKeyVersionResponse {
    /// The response for `version`, made for key `key_id`.
    pub fn new(key_id: KeyId, version: &VersionMeta, request_id: RequestId) -> Self {
        Self {
            key_version: KeyVersion {
                key_id,
                key_version_id: version.key_version_id,
                creation_date: Timestamp(version.created).to_string(),
            },
            request_id,
        }
    }
}

impl KeyVersion {
    /// The wire form of `version` (the key by its canonical ID).
    pub fn new(version: &KeyVersionMeta) -> Self {
        Self {
            key_id: version.key_id,
            key_version_id: version.version.key_version_id,
            creation_date: Timestamp(version.version.created).to_string(),
        }
    }
}

/// A DescribeKeyVersion response.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeKeyVersionResponse {
    /// The version.
    pub key_version: KeyVersion,
    /// The request ID.
    pub request_id: RequestId,
}

impl DescribeKeyVersionResponse {
    /// The response about `version`.
    pub fn new(version: &KeyVersionMeta, request_id: RequestId) -> Self {
        Self {
            key_version: KeyVersion::new(version),
            request_id,
        }
    }
}

/// The `KeyVersions` of a ListKeyVersions response: `{"KeyVersion": [...]}` on the wire.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize)]
pub struct KeyVersionList {
    /// The versions of the page.
    #[serde(rename = "KeyVersion")]
    pub key_version: Vec<KeyVersion>,
}

/// A ListKeyVersions response.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListKeyVersionsResponse {
    /// The page's versions, oldest first.
    pub key_versions: KeyVersionList,
    /// How many versions the key has.
    pub total_count: usize,
    /// The page number.
    pub page_number: usize,
    /// The page size.
    pub page_size: usize,
    /// The request ID.
    pub request_id: RequestId,
}

impl ListKeyVersionsResponse {
    /// The page `listing` of a key's versions.
    pub fn new(listing: &Listing<KeyVersionMeta>, request_id: RequestId) -> Self {
        Self {
            key_versions: KeyVersionList {
                key_version: listing.items.iter().map(KeyVersion::new).collect(),
            },
            total_count: listing.total,
            page_number: listing.page.number,
            page_size: listing.page.size,
            request_id,
        }
    }
}

/// A GetParametersForImport response.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetParametersForImportResponse {
    /// The key's canonical ID.
    pub key_id: KeyId,
    /// The token ImportKeyMaterial takes (Base64).
    pub import_token: String,
    /// The wrapping public key: Base64 of its DER SubjectPublicKeyInfo.
    pub public_key: String,
    /// When the token and the public key expire (ISO 8601 UTC).
    pub token_expire_time: String,
    /// The request ID.
    pub request_id: RequestId,
}

impl GetParametersForImportResponse {
    /// The response for `parameters`.
    pub fn new(
        parameters: kms_core::management::import::ImportParameters,
        request_id: RequestId,
    ) -> Self {
        Self {
            key_id: parameters.key_id,
            token_expire_time: Timestamp(parameters.token_expires).to_string(),
            import_token: parameters.import_token,
            public_key: parameters.public_key,
            request_id,
        }
    }
}
