//! ListKeys' `Filters`: conditions on a key's properties, each with the values it accepts. A
//! key is listed when it meets every condition; it meets a condition when its property has
//! one of the condition's values (Alibaba: AND between conditions, OR within one).
//!
//! The frontend parses the wire's JSON (`[{"Key":"KeyState","Values":["Enabled"]}]`) into a
//! [`KeyFilter`] with [`KeyFilter::with`]; the matching is here.

use alloc::string::String;
use alloc::vec::Vec;

use super::KeyMeta;
use crate::{Error, Parameter};

/// A property of a key that a filter condition tests, by its wire name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyProperty {
    /// `KeyState`: `Enabled`, `Disabled`, `PendingDeletion`, `PendingImport`.
    KeyState,
    /// `KeySpec`: `Aliyun_AES_256`, `RSA_2048`, ...
    KeySpec,
    /// `KeyUsage`: `ENCRYPT/DECRYPT`, `SIGN/VERIFY`.
    KeyUsage,
    /// `ProtectionLevel`: `SOFTWARE`, `HSM`.
    ProtectionLevel,
    /// `CreatorType`: `User` (every key here: the account made it) or `Service` (keys other
    /// cloud services made for the account: none here).
    CreatorType,
    /// `DKMSInstanceId`: the KMS instance that holds the key.
    DkmsInstanceId,
    /// `KeyId`.
    KeyId,
    /// `AliasName`: one of the key's aliases, `alias/...` in full.
    AliasName,
    /// `Creator`: the owning account.
    Creator,
    /// `TagKey`: the key of one of the key's tags.
    TagKey,
    /// `TagValue`: the value of one of the key's tags.
    TagValue,
}

impl KeyProperty {
    /// Every property.
    pub const ALL: [KeyProperty; 11] = [
        KeyProperty::KeyState,
        KeyProperty::KeySpec,
        KeyProperty::KeyUsage,
        KeyProperty::ProtectionLevel,
        KeyProperty::CreatorType,
        KeyProperty::DkmsInstanceId,
        KeyProperty::KeyId,
        KeyProperty::AliasName,
        KeyProperty::Creator,
        KeyProperty::TagKey,
        KeyProperty::TagValue,
    ];

    /// The wire name.
    pub const fn name(self) -> &'static str {
        match self {
            KeyProperty::KeyState => "KeyState",
            KeyProperty::KeySpec => "KeySpec",
            KeyProperty::KeyUsage => "KeyUsage",
            KeyProperty::ProtectionLevel => "ProtectionLevel",
            KeyProperty::CreatorType => "CreatorType",
            KeyProperty::DkmsInstanceId => "DKMSInstanceId",
            KeyProperty::KeyId => "KeyId",
            KeyProperty::AliasName => "AliasName",
            KeyProperty::Creator => "Creator",
            KeyProperty::TagKey => "TagKey",
            KeyProperty::TagValue => "TagValue",
        }
    }

    /// The property named `name`. **\[decided\]** Case-sensitive, as the documented names,
    /// except that `keyId` (the spelling of one of Alibaba's pages) is also `KeyId`.
    pub fn from_name(name: &str) -> Option<Self> {
        if name == "keyId" {
            return Some(KeyProperty::KeyId);
        }
        Self::ALL.into_iter().find(|p| p.name() == name)
    }
}

/// ListKeys' `Filters`: at most [`KeyFilter::MAX_CONDITIONS`] conditions of at most
/// [`KeyFilter::MAX_VALUES`] values each. The empty filter lists every key.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyFilter {
    conditions: Vec<(KeyProperty, Vec<String>)>,
}

impl KeyFilter {
    /// The most conditions of a filter (Alibaba: "0 to 10 key-value pairs").
    pub const MAX_CONDITIONS: usize = 10;
    /// The most values of a condition.
    pub const MAX_VALUES: usize = 10;

    /// The empty filter.
    pub const fn new() -> Self {
        Self {
            conditions: Vec::new(),
        }
    }

    /// The filter with one more condition: `property` is one of `values`. **\[decided\]** A
    /// condition without values constrains nothing (Alibaba allows 0 values and says no
    /// more).
    ///
    /// # Errors
    /// `InvalidParameter Filters` beyond [`MAX_CONDITIONS`](Self::MAX_CONDITIONS) conditions
    /// or [`MAX_VALUES`](Self::MAX_VALUES) values.
    pub fn with<I, V>(mut self, property: KeyProperty, values: I) -> Result<Self, Error>
    where
        I: IntoIterator<Item = V>,
        V: Into<String>,
    {
        let invalid = Error::InvalidParameter(Parameter::Filters);
        if self.conditions.len() == Self::MAX_CONDITIONS {
            return Err(invalid);
        }
        let mut kept = Vec::new();
        for value in values {
            if kept.len() == Self::MAX_VALUES {
                return Err(invalid);
            }
            kept.push(value.into());
        }
        self.conditions.push((property, kept));
        Ok(self)
    }

    /// Whether the filter has no condition.
    pub fn is_empty(&self) -> bool {
        self.conditions.is_empty()
    }

    /// Whether the filter tests aliases (the caller then gives each key's aliases to
    /// [`matches`](Self::matches)).
    pub fn needs_aliases(&self) -> bool {
        self.conditions
            .iter()
            .any(|(p, _)| *p == KeyProperty::AliasName)
    }

    /// Whether `key`, which has `aliases`, meets every condition.
    pub fn matches(&self, key: &KeyMeta, aliases: &[&str]) -> bool {
        self.conditions.iter().all(|(property, values)| {
            if values.is_empty() {
                return true;
            }
            let any = |v: &str| values.iter().any(|w| w == v);
            match property {
                KeyProperty::KeyState => any(key.stored_state.name()),
                KeyProperty::KeySpec => any(key.spec.name()),
                KeyProperty::KeyUsage => any(key.usage.name()),
                KeyProperty::ProtectionLevel => any(key.settings.protection_level.name()),
                KeyProperty::CreatorType => any("User"),
                KeyProperty::DkmsInstanceId => key.instance.is_some_and(|i| any(i.as_str())),
                KeyProperty::KeyId => any(key.key_id.as_str()),
                KeyProperty::AliasName => aliases.iter().any(|a| any(a)),
                KeyProperty::Creator => any(&key.account),
                KeyProperty::TagKey => key.settings.tags.iter().any(|t| any(&t.key)),
                KeyProperty::TagValue => key.settings.tags.iter().any(|t| any(&t.value)),
            }
        })
    }
}
