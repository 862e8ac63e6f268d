//! The metadata and housekeeping operations: UpdateKeyDescription, SetDeletionProtection, the
//! tag operations (TagResource, UntagResource, ListResourceTags, TagResources, UntagResources,
//! ListTagResources), ListAliasesByKeyId, DescribeRegions and GetRandomPassword. Each parses
//! its parameters, runs the core's operation ([`kms_core::management::metadata`]) and, for a
//! change, writes it to the store before it commits it, as every management operation does.
//! Their wire shapes are here too (the shapes the official SDK's models parse).
//!
//! **The plural tag operations** change several keys. Every key is checked first (staged
//! against the store as it is, and thrown away), so a request with one bad key changes none;
//! then each key's change is staged, written and committed in turn, under the management lock.
//! A store that fails part-way leaves the keys before the failure changed and answers
//! `InternalFailure`; the request can be sent again as it is (tagging and untagging are
//! idempotent).

use kms_core::management::{self, TagFilter, TagRows, params as mparams};
use kms_core::{Error, KeyId, KeyReference, Parameter, RequestId};
use serde::{Deserialize, Serialize};

use super::{Handler, Manage, Service, read};
use crate::dto::ListAliasesResponse;
use crate::error::ApiError;
use crate::operation::Operation;

/// The most resources one plural tag request names (Alibaba: 50).
pub const MAX_RESOURCES: usize = 50;

/// The most tags (or tag keys) one plural tag request names (Alibaba: 20).
pub const MAX_REQUEST_TAGS: usize = 20;

/// The metadata operations and their handlers.
pub(super) const MANAGEMENT: [(Operation, Handler); 11] = [
    (
        Operation::UpdateKeyDescription,
        Service::update_key_description,
    ),
    (
        Operation::SetDeletionProtection,
        Service::set_deletion_protection,
    ),
    (Operation::TagResource, Service::tag_resource),
    (Operation::UntagResource, Service::untag_resource),
    (Operation::ListResourceTags, Service::list_resource_tags),
    (Operation::TagResources, Service::tag_resources),
    (Operation::UntagResources, Service::untag_resources),
    (Operation::ListTagResources, Service::list_tag_resources),
    (
        Operation::ListAliasesByKeyId,
        Service::list_aliases_by_key_id,
    ),
    (Operation::DescribeRegions, Service::describe_regions),
    (Operation::GetRandomPassword, Service::get_random_password),
];

fn required<'a>(m: &'a Manage<'_>, p: Parameter) -> Result<&'a str, Error> {
    m.get(p.name()).ok_or(Error::MissingParameter(p))
}

/// One tag of TagResource's `Tags` JSON: `{"TagKey": ..., "TagValue": ...}`.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TagJson {
    tag_key: String,
    #[serde(default)]
    tag_value: String,
}

/// TagResource's `Tags`: a JSON array of `{"TagKey","TagValue"}` objects (a missing
/// `TagValue` is empty).
fn tags_json(text: &str) -> Result<Vec<management::Tag>, Error> {
    let tags: Vec<TagJson> =
        serde_json::from_str(text).map_err(|_| Error::InvalidParameter(Parameter::Tags))?;
    Ok(tags
        .into_iter()
        .map(|t| management::Tag {
            key: t.tag_key,
            value: t.tag_value,
        })
        .collect())
}

/// UntagResource's `TagKeys`: a JSON array of strings (`["k1","k2"]`, Alibaba's example) or,
/// **\[decided\]**, keys separated by commas (the SDK's docstring).
fn tag_keys_text(text: &str) -> Result<Vec<String>, Error> {
    if text.trim_start().starts_with('[') {
        serde_json::from_str(text).map_err(|_| Error::InvalidParameter(Parameter::TagKeys))
    } else {
        Ok(text.split(',').map(String::from).collect())
    }
}

/// The values of `Name.N` (N from 1, in order of N), or of `Name.N.Field` when `field` is
/// given, as `(N, value)`.
fn indexed<'a>(m: &'a Manage<'_>, name: &str, field: Option<&str>) -> Vec<(usize, &'a str)> {
    let mut found: Vec<(usize, &str)> = m
        .params
        .all()
        .filter_map(|(k, v)| {
            let rest = k.strip_prefix(name)?.strip_prefix('.')?;
            let n = match field {
                None => rest,
                Some(f) => rest.strip_suffix(f)?.strip_suffix('.')?,
            };
            let n: usize = n.parse().ok().filter(|n| (1..=9999).contains(n))?;
            Some((n, v))
        })
        .collect();
    found.sort_by_key(|(n, _)| *n);
    found.dedup_by_key(|(n, _)| *n);
    found
}

/// The plural tag operations' `RegionId` (required: the server's region) and `ResourceType`
/// (required: `key`; `secret` is a type this server does not model: `UnsupportedOperation`).
fn region_and_type(m: &Manage<'_>) -> Result<(), Error> {
    if required(m, Parameter::RegionId)? != m.caller.region {
        return Err(Error::InvalidParameter(Parameter::RegionId));
    }
    match required(m, Parameter::ResourceType)? {
        "key" => Ok(()),
        "secret" => Err(Error::UnsupportedOperation),
        _ => Err(Error::InvalidParameter(Parameter::ResourceType)),
    }
}

/// `ResourceId.N`: 1 to 50 key IDs (an alias or ARN works too) when `needed`, else 0 to 50.
fn resource_ids<'a>(m: &'a Manage<'_>, needed: bool) -> Result<Vec<KeyReference<'a>>, Error> {
    let ids = indexed(m, "ResourceId", None);
    if ids.is_empty() && needed {
        return Err(Error::MissingParameter(Parameter::ResourceId));
    }
    if ids.len() > MAX_RESOURCES {
        return Err(Error::InvalidParameter(Parameter::ResourceId));
    }
    ids.into_iter()
        .map(|(_, id)| KeyReference::parse(id, Parameter::ResourceId))
        .collect()
}

/// `Tag.N.Key` / `Tag.N.Value`: 1 to 20 (0 to 20 unless `needed`); a value without a key is
/// `InvalidParameter Tag`.
fn tag_pairs<'a>(
    m: &'a Manage<'_>,
    needed: bool,
) -> Result<Vec<(&'a str, Option<&'a str>)>, Error> {
    let keys = indexed(m, "Tag", Some("Key"));
    let values = indexed(m, "Tag", Some("Value"));
    if keys.is_empty() && values.is_empty() && needed {
        return Err(Error::MissingParameter(Parameter::Tag));
    }
    if keys.len() > MAX_REQUEST_TAGS
        || values
            .iter()
            .any(|(n, _)| !keys.iter().any(|(k, _)| k == n))
    {
        return Err(Error::InvalidParameter(Parameter::Tag));
    }
    Ok(keys
        .into_iter()
        .map(|(n, key)| {
            let value = values.iter().find(|(v, _)| *v == n).map(|(_, v)| *v);
            (key, value)
        })
        .collect())
}

/// KeyId, for the singular tag operations: `SecretName` and `CertificateId` name resources
/// this server does not model (`UnsupportedOperation`).
fn tagged_key<'a>(m: &'a Manage<'_>) -> Result<KeyReference<'a>, Error> {
    if m.get("KeyId").is_none()
        && (m.get("SecretName").is_some() || m.get("CertificateId").is_some())
    {
        return Err(Error::UnsupportedOperation);
    }
    mparams::key_id(m.get("KeyId"))
}

impl Service {
    fn update_key_description(&self, m: &Manage<'_>) -> Result<Vec<u8>, ApiError> {
        let key = mparams::key_id(m.get("KeyId"))?;
        let description = required(m, Parameter::Description)?;
        let staged = management::update_key_description(
            &*read(&self.provider),
            m.caller,
            &key,
            description,
            m.now,
        )?;
        self.commit(staged)?;
        m.done()
    }

    fn set_deletion_protection(&self, m: &Manage<'_>) -> Result<Vec<u8>, ApiError> {
        // The key by `KeyId` or, as Alibaba's older reference has it, by
        // `ProtectedResourceArn`; `KeyId` wins when both are given.
        let key = match (m.get("KeyId"), m.get("ProtectedResourceArn")) {
            (Some(_), _) | (None, None) => mparams::key_id(m.get("KeyId"))?,
            (None, Some(arn)) => KeyReference::parse(arn, Parameter::ProtectedResourceArn)?,
        };
        let enable = mparams::boolean(
            Some(required(m, Parameter::EnableDeletionProtection)?),
            Parameter::EnableDeletionProtection,
        )?;
        let protection = enable
            .unwrap_or(false)
            .then(|| m.get("DeletionProtectionDescription").unwrap_or(""));
        let staged = management::set_deletion_protection(
            &*read(&self.provider),
            m.caller,
            &key,
            protection,
            m.now,
        )?;
        self.commit(staged)?;
        m.done()
    }

    fn tag_resource(&self, m: &Manage<'_>) -> Result<Vec<u8>, ApiError> {
        let key = tagged_key(m)?;
        let tags = tags_json(required(m, Parameter::Tags)?)?;
        let staged = management::tag_key(
            &*read(&self.provider),
            m.caller,
            &key,
            &tags,
            Parameter::Tags,
            m.now,
        )?;
        self.commit(staged)?;
        m.done()
    }

    fn untag_resource(&self, m: &Manage<'_>) -> Result<Vec<u8>, ApiError> {
        let key = tagged_key(m)?;
        let keys = tag_keys_text(required(m, Parameter::TagKeys)?)?;
        let staged = management::untag_key(
            &*read(&self.provider),
            m.caller,
            &key,
            Some(&keys),
            Parameter::TagKeys,
            m.now,
        )?;
        self.commit(staged)?;
        m.done()
    }

    fn list_resource_tags(&self, m: &Manage<'_>) -> Result<Vec<u8>, ApiError> {
        let key = mparams::key_id(m.get("KeyId"))?;
        let (key_id, tags) =
            management::list_key_tags(&*read(&self.provider), m.caller, &key, m.now)?;
        m.render(&ListResourceTagsResponse {
            tags: ResourceTagList {
                tag: tags
                    .into_iter()
                    .map(|t| ResourceTag {
                        key_id,
                        tag_key: t.key,
                        tag_value: t.value,
                    })
                    .collect(),
            },
            request_id: m.request_id,
        })
    }

    /// Runs `change` on every key in `keys`: first a check of them all (staged and dropped),
    /// then each one staged, written and committed in turn.
    fn each_key(
        &self,
        keys: &[KeyReference<'_>],
        change: impl Fn(
            &kms_core::InMemoryProvider,
            &KeyReference<'_>,
        ) -> Result<management::Staged<()>, Error>,
    ) -> Result<(), ApiError> {
        {
            let provider = read(&self.provider);
            for key in keys {
                drop(change(&provider, key)?);
            }
        }
        for key in keys {
            let staged = change(&read(&self.provider), key)?;
            self.commit(staged)?;
        }
        Ok(())
    }

    fn tag_resources(&self, m: &Manage<'_>) -> Result<Vec<u8>, ApiError> {
        region_and_type(m)?;
        let keys = resource_ids(m, true)?;
        let tags = tag_pairs(m, true)?
            .into_iter()
            .map(|(key, value)| management::Tag {
                key: key.into(),
                value: value.unwrap_or("").into(),
            })
            .collect::<Vec<_>>();
        self.each_key(&keys, |provider, key| {
            management::tag_key(provider, m.caller, key, &tags, Parameter::Tag, m.now)
        })?;
        m.done()
    }

    fn untag_resources(&self, m: &Manage<'_>) -> Result<Vec<u8>, ApiError> {
        region_and_type(m)?;
        let keys = resource_ids(m, true)?;
        let tag_keys: Vec<String> = indexed(m, "TagKey", None)
            .into_iter()
            .map(|(_, k)| k.into())
            .collect();
        if tag_keys.len() > MAX_REQUEST_TAGS {
            return Err(Error::InvalidParameter(Parameter::TagKey).into());
        }
        let all = mparams::boolean(m.get("All"), Parameter::All)?.unwrap_or(false);
        // `All` takes effect only without tag keys (Alibaba); without either, nothing names
        // what to remove.
        let tag_keys = match (tag_keys.is_empty(), all) {
            (false, _) => Some(tag_keys),
            (true, true) => None,
            (true, false) => return Err(Error::MissingParameter(Parameter::TagKey).into()),
        };
        self.each_key(&keys, |provider, key| {
            management::untag_key(
                provider,
                m.caller,
                key,
                tag_keys.as_deref(),
                Parameter::TagKey,
                m.now,
            )
        })?;
        m.done()
    }

    fn list_tag_resources(&self, m: &Manage<'_>) -> Result<Vec<u8>, ApiError> {
        region_and_type(m)?;
        let keys = resource_ids(m, false)?;
        let filters = tag_pairs(m, false)?
            .into_iter()
            .map(|(key, value)| TagFilter {
                key: key.into(),
                value: value.map(String::from),
            })
            .collect::<Vec<_>>();
        let start = mparams::next_token(m.get("NextToken"))?;
        let named = (!keys.is_empty()).then_some(keys.as_slice());
        let TagRows { rows, next } = management::list_tag_resources(
            &*read(&self.provider),
            m.caller,
            named,
            &filters,
            start,
            m.now,
        )?;
        m.render(&ListTagResourcesResponse {
            next_token: next.map(|n| n.to_string()).unwrap_or_default(),
            request_id: m.request_id,
            tag_resources: TagResourceList {
                tag_resource: rows
                    .into_iter()
                    .map(|row| TagResourceRow {
                        resource_id: row.key_id,
                        resource_type: "key",
                        tag_key: row.tag.key,
                        tag_value: row.tag.value,
                    })
                    .collect(),
            },
        })
    }

    fn list_aliases_by_key_id(&self, m: &Manage<'_>) -> Result<Vec<u8>, ApiError> {
        let key = mparams::key_id(m.get("KeyId"))?;
        let page = mparams::page(m.get("PageNumber"), m.get("PageSize"))?;
        let listing = management::list_aliases_by_key_id(
            &*read(&self.provider),
            m.caller,
            &key,
            page,
            m.now,
        )?;
        m.render(&ListAliasesResponse::new(m.caller, &listing, m.request_id))
    }

    fn describe_regions(&self, m: &Manage<'_>) -> Result<Vec<u8>, ApiError> {
        m.render(&DescribeRegionsResponse {
            regions: RegionList {
                region: vec![Region {
                    region_id: self.region.clone(),
                }],
            },
            request_id: m.request_id,
        })
    }

    fn get_random_password(&self, m: &Manage<'_>) -> Result<Vec<u8>, ApiError> {
        let request = mparams::password_request(|p| m.get(p.name()))?;
        // Drawn from the operating system's CSPRNG, as master key material is.
        let password = management::random_password(&request, &mut kms_core::OsRng)?;
        m.render(&GetRandomPasswordResponse {
            random_password: &password,
            request_id: m.request_id,
        })
    }
}

/// One tag of a ListResourceTags response.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ResourceTag {
    /// The key.
    pub key_id: KeyId,
    /// The tag key.
    pub tag_key: String,
    /// The tag value.
    pub tag_value: String,
}

/// `Tags` of ListResourceTags: `{"Tag": [...]}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ResourceTagList {
    /// The tags, sorted by tag key.
    #[serde(rename = "Tag")]
    pub tag: Vec<ResourceTag>,
}

/// A ListResourceTags response.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListResourceTagsResponse {
    /// The key's tags.
    pub tags: ResourceTagList,
    /// The request ID.
    pub request_id: RequestId,
}

/// One row of ListTagResources.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagResourceRow {
    /// The key's ID.
    pub resource_id: KeyId,
    /// `key`.
    pub resource_type: &'static str,
    /// The tag key.
    pub tag_key: String,
    /// The tag value.
    pub tag_value: String,
}

/// `TagResources` of ListTagResources: `{"TagResource": [...]}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TagResourceList {
    /// The rows of the page.
    #[serde(rename = "TagResource")]
    pub tag_resource: Vec<TagResourceRow>,
}

/// A ListTagResources response. `NextToken` is empty on the last page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListTagResourcesResponse {
    /// Where the next page starts; empty when there is none.
    pub next_token: String,
    /// The request ID.
    pub request_id: RequestId,
    /// The rows.
    pub tag_resources: TagResourceList,
}

/// One region of DescribeRegions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Region {
    /// The region's ID.
    pub region_id: String,
}

/// `Regions` of DescribeRegions: `{"Region": [...]}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RegionList {
    /// The regions: the one this server serves.
    #[serde(rename = "Region")]
    pub region: Vec<Region>,
}

/// A DescribeRegions response.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeRegionsResponse {
    /// The regions.
    pub regions: RegionList,
    /// The request ID.
    pub request_id: RequestId,
}

/// A GetRandomPassword response.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetRandomPasswordResponse<'a> {
    /// The password.
    pub random_password: &'a str,
    /// The request ID.
    pub request_id: RequestId,
}
