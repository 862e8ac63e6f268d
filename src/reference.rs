//! Naming a master key: key IDs, aliases, key ARNs and alias ARNs (spec §2), and who asks.

use core::fmt;

use crate::{Error, KeyId, Parameter};

/// The longest `KeyId` text accepted, in bytes.
pub const MAX_KEY_REFERENCE_LEN: usize = 2048;

/// The longest alias name after `alias/`.
pub const MAX_ALIAS_NAME_LEN: usize = 255;

/// Who makes a request: the account and the region it is made in. Key IDs and aliases resolve
/// in this account and region; a key of another account can only be named by ARN.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Caller<'a> {
    /// The caller's account ID, for example `1234567890123456`.
    pub account: &'a str,
    /// The region the request is served in, for example `cn-hangzhou`.
    pub region: &'a str,
}

impl<'a> Caller<'a> {
    /// A caller of `account` in `region`.
    pub const fn new(account: &'a str, region: &'a str) -> Self {
        Self { account, region }
    }
}

/// One of the ways spec §2 names a key: what a `KeyId` parameter holds once parsed, and what a
/// Rust caller passes to the typed operations (`KeyId` converts into one).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyReference<'a> {
    /// A key ID, looked up in the caller's account and region.
    Id(KeyId),
    /// An alias, `alias/...` in full, looked up in the caller's account and region. Text that
    /// is not a valid alias name is kept as it is: it names no key (`Forbidden.AliasNotFound`).
    Alias(&'a str),
    /// `acs:kms:{region}:{account}:key/{key id}`.
    KeyArn {
        /// The ARN's region.
        region: &'a str,
        /// The ARN's account.
        account: &'a str,
        /// The key ID.
        key_id: KeyId,
    },
    /// `acs:kms:{region}:{account}:alias/{name}` **\[decided: accepted\]**.
    AliasArn {
        /// The ARN's region.
        region: &'a str,
        /// The ARN's account.
        account: &'a str,
        /// The alias, `alias/...` in full.
        alias: &'a str,
    },
    /// Text that is none of the above and no key ID either: spec §2's "well-formed string that
    /// names no key". It resolves to `Forbidden.KeyNotFound`.
    UnknownId(&'a str),
}

impl From<KeyId> for KeyReference<'_> {
    fn from(key_id: KeyId) -> Self {
        KeyReference::Id(key_id)
    }
}

impl From<&KeyId> for KeyReference<'_> {
    fn from(key_id: &KeyId) -> Self {
        KeyReference::Id(*key_id)
    }
}

impl fmt::Display for KeyReference<'_> {
    /// The reference as a `KeyId` parameter writes it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyReference::Id(id) => id.fmt(f),
            KeyReference::Alias(text) | KeyReference::UnknownId(text) => f.write_str(text),
            KeyReference::KeyArn {
                region,
                account,
                key_id,
            } => KeyArn::new(region, account, key_id).fmt(f),
            KeyReference::AliasArn {
                region,
                account,
                alias,
            } => AliasArn::new(region, account, alias).fmt(f),
        }
    }
}

/// The ARN of a key, `acs:kms:{region}:{account}:key/{key id}`, written by `Display`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyArn<'a> {
    region: &'a str,
    account: &'a str,
    key_id: KeyId,
}

impl<'a> KeyArn<'a> {
    /// The ARN of `key_id`, a key of `account` in `region`.
    pub fn new(region: &'a str, account: &'a str, key_id: &KeyId) -> Self {
        Self {
            region,
            account,
            key_id: *key_id,
        }
    }
}

impl fmt::Display for KeyArn<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "acs:kms:{}:{}:key/{}",
            self.region, self.account, self.key_id
        )
    }
}

/// The ARN of an alias, `acs:kms:{region}:{account}:alias/{name}`, written by `Display`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AliasArn<'a> {
    region: &'a str,
    account: &'a str,
    alias: &'a str,
}

impl<'a> AliasArn<'a> {
    /// The ARN of `alias` (`alias/...` in full) of `account` in `region`.
    pub fn new(region: &'a str, account: &'a str, alias: &'a str) -> Self {
        Self {
            region,
            account,
            alias,
        }
    }
}

impl fmt::Display for AliasArn<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "acs:kms:{}:{}:{}", self.region, self.account, self.alias)
    }
}

/// Whether `alias` is a well-formed alias: `alias/` then 1..=255 of `A-Za-z0-9_-/`.
pub fn is_valid_alias(alias: &str) -> bool {
    alias.strip_prefix("alias/").is_some_and(|name| {
        (1..=MAX_ALIAS_NAME_LEN).contains(&name.len())
            && name
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'/'))
    })
}

/// Whether `alias` is reserved for the service's own keys: `alias/acs` and everything under
/// `alias/acs/`. Such aliases can be looked up but not created.
pub fn is_reserved_alias(alias: &str) -> bool {
    alias == "alias/acs" || alias.starts_with("alias/acs/")
}

fn is_region(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
}

fn is_account(s: &str) -> bool {
    (1..=64).contains(&s.len()) && s.bytes().all(|c| c.is_ascii_digit())
}

impl<'a> KeyReference<'a> {
    /// Parses a `KeyId` (or `DestinationKeyId`) value; `parameter` names it in errors.
    ///
    /// Rules **\[decided\]**: empty, over 2048 bytes or non-ASCII text, and any text that starts
    /// with `acs:` but is not a well-formed key or alias ARN, is `InvalidParameter`. A
    /// well-formed ARN has a region of 1..=64 of `a-z0-9-`, an account of 1..=64 digits, and a
    /// resource `key/{key ID}` or `alias/{name}` that is itself well-formed. Text that starts with
    /// `alias/` is an alias (an ill-formed one simply names no key, `Forbidden.AliasNotFound`);
    /// all other text is a key ID, or [`KeyReference::UnknownId`] when it is not one
    /// (`Forbidden.KeyNotFound`).
    ///
    /// # Errors
    /// `InvalidParameter {parameter}`.
    #[inline(always)]
    pub fn parse(text: &'a str, parameter: Parameter) -> Result<Self, Error> {
        let invalid = Error::InvalidParameter(parameter);
        if text.is_empty() || text.len() > MAX_KEY_REFERENCE_LEN || !text.is_ascii() {
            return Err(invalid);
        }
        if let Some(rest) = text.strip_prefix("acs:") {
            return Self::parse_arn(rest).ok_or(invalid);
        }
        if text.starts_with("alias/") {
            Ok(Self::Alias(text))
        } else {
            Ok(KeyId::parse(text).map_or(Self::UnknownId(text), Self::Id))
        }
    }

    fn parse_arn(rest: &'a str) -> Option<Self> {
        let rest = rest.strip_prefix("kms:")?;
        let (region, rest) = rest.split_once(':')?;
        let (account, resource) = rest.split_once(':')?;
        if !is_region(region) || !is_account(account) {
            return None;
        }
        if let Some(id) = resource.strip_prefix("key/") {
            let key_id = KeyId::parse(id)?;
            Some(Self::KeyArn {
                region,
                account,
                key_id,
            })
        } else if is_valid_alias(resource) {
            Some(Self::AliasArn {
                region,
                account,
                alias: resource,
            })
        } else {
            None
        }
    }

    /// The account and region the reference points into, given who asks: the caller's own for
    /// an ID or an alias, the ARN's for an ARN.
    #[inline]
    pub fn scope(&self, caller: &Caller<'a>) -> (&'a str, &'a str) {
        match *self {
            Self::Id(_) | Self::Alias(_) | Self::UnknownId(_) => (caller.account, caller.region),
            Self::KeyArn {
                region, account, ..
            }
            | Self::AliasArn {
                region, account, ..
            } => (account, region),
        }
    }

    /// Whether this reference names the key through an alias (so a miss is
    /// `Forbidden.AliasNotFound` rather than `Forbidden.KeyNotFound`).
    #[inline]
    pub fn is_alias(&self) -> bool {
        matches!(self, Self::Alias(_) | Self::AliasArn { .. })
    }
}
