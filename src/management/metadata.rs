//! Metadata and housekeeping: UpdateKeyDescription, SetDeletionProtection, the tag operations
//! (TagResource, UntagResource, ListResourceTags and the plural TagResources, UntagResources,
//! ListTagResources), ListAliasesByKeyId and GetRandomPassword. Every change is one
//! [`Mutation::UpdateKey`](super::Mutation::UpdateKey) of one key, staged as the rest of [`management`](super) is.
//!
//! Where Alibaba is silent the choices are marked **\[decided\]**; `docs/metadata.md` lists
//! them with their sources.

use alloc::string::String;
use alloc::vec::Vec;
use core::time::Duration;

use rand_core::TryCryptoRng;
use zeroize::Zeroizing;

use super::{
    AliasEntry, KeySettings, KeyStore, Listing, MAX_DESCRIPTION_CHARS, Page, Staged, Tag, owned,
    page_of, stage, update,
};
use crate::{Caller, Error, KeyId, KeyReference, KeyState, Parameter, RngError};

/// The most tags a key holds (Alibaba's TagResources takes up to 20 in one request)
/// **\[decided\]**.
pub const MAX_TAGS: usize = 20;

/// The most characters of a tag key or value (Alibaba: 128).
pub const MAX_TAG_CHARS: usize = 128;

/// The most characters of a deletion protection description **\[decided\]**: as a key
/// description.
pub const MAX_PROTECTION_DESCRIPTION_CHARS: usize = MAX_DESCRIPTION_CHARS;

/// UpdateKeyDescription: the key's description becomes `description` (at most 8192
/// characters; empty clears it). **\[decided\]** Allowed in every state: it is metadata.
///
/// # Errors
/// `InvalidParameter Description`; key resolution errors.
pub fn update_key_description<S: KeyStore + ?Sized>(
    store: &S,
    caller: &Caller<'_>,
    key: &KeyReference<'_>,
    description: &str,
    now: Duration,
) -> Result<Staged<()>, Error> {
    if description.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(Error::InvalidParameter(Parameter::Description));
    }
    let key = owned(store, caller, key, now)?;
    Ok(stage(
        store,
        update(key.key_id, description.into(), key.settings),
        (),
    ))
}

/// SetDeletionProtection: `Some(description)` turns deletion protection on (the description
/// may be empty), `None` turns it off. While it is on, [`schedule_key_deletion`] is refused
/// with `Forbidden.ResourceProtected`.
///
/// [`schedule_key_deletion`]: super::schedule_key_deletion
///
/// # Errors
/// `InvalidParameter DeletionProtectionDescription` (over 8192 characters); key resolution
/// errors; `Rejected.StateModifiedFailed` for a key pending deletion (Alibaba: "make sure the
/// key is not in the PendingDeletion state").
pub fn set_deletion_protection<S: KeyStore + ?Sized>(
    store: &S,
    caller: &Caller<'_>,
    key: &KeyReference<'_>,
    protection: Option<&str>,
    now: Duration,
) -> Result<Staged<()>, Error> {
    if protection.is_some_and(|d| d.chars().count() > MAX_PROTECTION_DESCRIPTION_CHARS) {
        return Err(Error::InvalidParameter(
            Parameter::DeletionProtectionDescription,
        ));
    }
    let key = owned(store, caller, key, now)?;
    if key.stored_state == KeyState::PendingDeletion {
        return Err(Error::StateModifiedFailed);
    }
    let settings = KeySettings {
        deletion_protection: protection.map(String::from),
        ..key.settings
    };
    Ok(stage(
        store,
        update(key.key_id, key.description, settings),
        (),
    ))
}

/// Whether `text` is a valid tag key (`key`) or value: at most 128 characters of letters,
/// digits and `/ \ _ - . + = : @` (Alibaba's documented set); a key is not empty and does
/// not start with `aliyun` or `acs:` (Alibaba's reserved prefixes; **\[decided\]** compared
/// as written, case-sensitively). A value may be empty.
pub fn is_valid_tag_text(text: &str, key: bool) -> bool {
    let count = text.chars().count();
    let allowed = |c: char| c.is_ascii_alphanumeric() || "/\\_-.+=:@".contains(c);
    count <= MAX_TAG_CHARS
        && (!key || (count > 0 && !text.starts_with("aliyun") && !text.starts_with("acs:")))
        && text.chars().all(allowed)
}

/// TagResource / TagResources for one key: `tags` are added to the key's tags; a tag whose key
/// the key already has replaces its value. `parameter` names the request's tag parameter in
/// errors (`Tags`, or `Tag` for TagResources). **\[decided\]** Allowed in every state.
///
/// # Errors
/// `InvalidParameter {parameter}`: no tags, a tag key or value that is not valid
/// ([`is_valid_tag_text`]), a tag key given twice, or more than [`MAX_TAGS`] tags on the key
/// afterwards; key resolution errors.
pub fn tag_key<S: KeyStore + ?Sized>(
    store: &S,
    caller: &Caller<'_>,
    key: &KeyReference<'_>,
    tags: &[Tag],
    parameter: Parameter,
    now: Duration,
) -> Result<Staged<()>, Error> {
    let invalid = Error::InvalidParameter(parameter);
    let well_formed = tags
        .iter()
        .all(|t| is_valid_tag_text(&t.key, true) && is_valid_tag_text(&t.value, false));
    if tags.is_empty() || !well_formed {
        return Err(invalid);
    }
    for (i, tag) in tags.iter().enumerate() {
        if tags[..i].iter().any(|t| t.key == tag.key) {
            return Err(invalid);
        }
    }
    let key = owned(store, caller, key, now)?;
    let mut settings = key.settings;
    for tag in tags {
        match settings.tags.binary_search_by(|t| t.key.cmp(&tag.key)) {
            Ok(i) => settings.tags[i].value.clone_from(&tag.value),
            Err(i) => settings.tags.insert(i, tag.clone()),
        }
    }
    if settings.tags.len() > MAX_TAGS {
        return Err(invalid);
    }
    Ok(stage(
        store,
        update(key.key_id, key.description, settings),
        (),
    ))
}

/// UntagResource / UntagResources for one key: the tags with these keys are removed
/// (**\[decided\]** a key the key has no tag for is ignored); `None` removes every tag
/// (UntagResources with `All=true`). `parameter` names the request's parameter in errors
/// (`TagKeys`, or `TagKey` for UntagResources).
///
/// # Errors
/// `InvalidParameter {parameter}`: an empty list, or a tag key that is not valid; key
/// resolution errors.
pub fn untag_key<S: KeyStore + ?Sized>(
    store: &S,
    caller: &Caller<'_>,
    key: &KeyReference<'_>,
    tag_keys: Option<&[String]>,
    parameter: Parameter,
    now: Duration,
) -> Result<Staged<()>, Error> {
    if let Some(keys) = tag_keys
        && (keys.is_empty() || !keys.iter().all(|k| is_valid_tag_text(k, true)))
    {
        return Err(Error::InvalidParameter(parameter));
    }
    let key = owned(store, caller, key, now)?;
    let mut settings = key.settings;
    match tag_keys {
        Some(keys) => settings.tags.retain(|t| !keys.contains(&t.key)),
        None => settings.tags.clear(),
    }
    Ok(stage(
        store,
        update(key.key_id, key.description, settings),
        (),
    ))
}

/// ListResourceTags: the tags of a key the caller owns, sorted by tag key, with the key's
/// canonical ID.
///
/// # Errors
/// Key resolution errors.
pub fn list_key_tags<S: KeyStore + ?Sized>(
    store: &S,
    caller: &Caller<'_>,
    key: &KeyReference<'_>,
    now: Duration,
) -> Result<(KeyId, Vec<Tag>), Error> {
    let key = owned(store, caller, key, now)?;
    Ok((key.key_id, key.settings.tags))
}

/// A tag filter of ListTagResources (`Tag.N.Key`, `Tag.N.Value`): a tag matches when its key
/// is `key` and, if `value` is given, its value is `value`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TagFilter {
    /// The tag key.
    pub key: String,
    /// The tag value, if the filter names one.
    pub value: Option<String>,
}

/// One row of ListTagResources: a key and one of its tags.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TagRow {
    /// The key.
    pub key_id: KeyId,
    /// The tag.
    pub tag: Tag,
}

/// One page of ListTagResources and where the next starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TagRows {
    /// The page's rows.
    pub rows: Vec<TagRow>,
    /// The index of the first row of the next page; `None` on the last page.
    pub next: Option<usize>,
}

/// The rows of a ListTagResources page.
pub const TAG_ROWS_PER_PAGE: usize = 200;

/// ListTagResources: one row per (key, tag) of the keys named (`Some`, in the order named) or,
/// with `None`, of every key the caller has in its region (oldest first); each key's tags
/// sorted by tag key. With `filters`, only the tags that match one of them
/// **\[decided\]**. Rows from `start` on, [`TAG_ROWS_PER_PAGE`] at a time.
///
/// # Errors
/// Key resolution errors for a named key; a store failure.
pub fn list_tag_resources<S: KeyStore + ?Sized>(
    store: &S,
    caller: &Caller<'_>,
    keys: Option<&[KeyReference<'_>]>,
    filters: &[TagFilter],
    start: usize,
    now: Duration,
) -> Result<TagRows, Error> {
    let key_ids = match keys {
        Some(keys) => keys
            .iter()
            .map(|k| owned(store, caller, k, now).map(|m| m.key_id))
            .collect::<Result<Vec<_>, _>>()?,
        None => {
            let mut ids = Vec::new();
            store.visit_keys(caller.account, caller.region, &mut |key_id, delete_at| {
                if delete_at.is_none_or(|at| at > now) {
                    ids.push(*key_id);
                }
            })?;
            ids
        }
    };
    let matches = |tag: &Tag| {
        filters.is_empty()
            || filters
                .iter()
                .any(|f| f.key == tag.key && f.value.as_ref().is_none_or(|v| *v == tag.value))
    };
    let mut rows = Vec::new();
    let mut index = 0;
    for key_id in key_ids {
        let Some(key) = store.key(&key_id)? else {
            continue;
        };
        for tag in key.settings.tags.iter().filter(|t| matches(t)) {
            if index >= start {
                if rows.len() == TAG_ROWS_PER_PAGE {
                    return Ok(TagRows {
                        rows,
                        next: Some(index),
                    });
                }
                rows.push(TagRow {
                    key_id,
                    tag: tag.clone(),
                });
            }
            index += 1;
        }
    }
    Ok(TagRows { rows, next: None })
}

/// ListAliasesByKeyId: the aliases that name a key the caller owns, sorted by name, a page at
/// a time.
///
/// # Errors
/// `InvalidParameter PageNumber` or `PageSize`; key resolution errors; a store failure.
pub fn list_aliases_by_key_id<S: KeyStore + ?Sized>(
    store: &S,
    caller: &Caller<'_>,
    key: &KeyReference<'_>,
    page: Page,
    now: Duration,
) -> Result<Listing<AliasEntry>, Error> {
    page.check()?;
    let key = owned(store, caller, key, now)?;
    page_of(page, |push| {
        store.visit_aliases(caller.account, caller.region, &mut |alias, key_id| {
            if *key_id == key.key_id {
                push(AliasEntry {
                    alias: alias.into(),
                    key_id: *key_id,
                });
            }
        })
    })
}

/// The password lengths GetRandomPassword allows (Alibaba: 8 to 128; default 32).
pub const PASSWORD_LENGTH: core::ops::RangeInclusive<usize> = 8..=128;

/// The punctuation GetRandomPassword draws from: the 32 ASCII punctuation characters
/// (Alibaba's list of valid characters).
pub const PUNCTUATION: &str = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

/// What GetRandomPassword makes: build it with [`PasswordRequest::new`] and set the fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PasswordRequest<'a> {
    /// The length in characters, within [`PASSWORD_LENGTH`]; 32 by default.
    pub length: usize,
    /// Characters never to use.
    pub exclude_characters: &'a str,
    /// No lowercase letters.
    pub exclude_lowercase: bool,
    /// No uppercase letters.
    pub exclude_uppercase: bool,
    /// No digits.
    pub exclude_numbers: bool,
    /// No punctuation.
    pub exclude_punctuation: bool,
    /// At least one character of every class not excluded (**\[decided\]** `true` by
    /// default, as AWS's GetRandomPassword, whose parameters Alibaba's repeat).
    pub require_each_included_type: bool,
}

impl Default for PasswordRequest<'_> {
    fn default() -> Self {
        Self::new()
    }
}

impl PasswordRequest<'_> {
    /// 32 characters of every class, at least one of each.
    pub const fn new() -> Self {
        Self {
            length: 32,
            exclude_characters: "",
            exclude_lowercase: false,
            exclude_uppercase: false,
            exclude_numbers: false,
            exclude_punctuation: false,
            require_each_included_type: true,
        }
    }
}

/// A uniform index below `n` (1..=256), by rejection: no modulo bias.
fn below<R: TryCryptoRng + ?Sized>(rng: &mut R, n: usize) -> Result<usize, RngError> {
    let limit = 256 - 256 % n;
    loop {
        let mut b = [0u8; 1];
        rng.try_fill_bytes(&mut b).map_err(|_| RngError)?;
        if usize::from(b[0]) < limit {
            return Ok(usize::from(b[0]) % n);
        }
    }
}

/// GetRandomPassword: a password of `request.length` characters drawn uniformly (rejection
/// sampling, no modulo bias) from `rng` out of the classes not excluded, less
/// `exclude_characters`. With `require_each_included_type`, one character of each class that
/// has characters left is drawn from that class, the rest from all of them, and the whole is
/// shuffled (Fisher–Yates, same unbiased draws).
///
/// # Errors
/// `InvalidParameter PasswordLength` outside [`PASSWORD_LENGTH`]; **\[decided\]**
/// `InvalidParameter ExcludeCharacters` when nothing is left to draw from (every class
/// excluded, by the flags or by `exclude_characters`); `InternalFailure` when the RNG fails.
pub fn random_password<R: TryCryptoRng + ?Sized>(
    request: &PasswordRequest<'_>,
    rng: &mut R,
) -> Result<Zeroizing<String>, Error> {
    if !PASSWORD_LENGTH.contains(&request.length) {
        return Err(Error::InvalidParameter(Parameter::PasswordLength));
    }
    let keep = |c: &u8| !request.exclude_characters.contains(char::from(*c));
    let class = |chars: &[u8], excluded: bool| -> Vec<u8> {
        if excluded {
            Vec::new()
        } else {
            chars.iter().copied().filter(keep).collect()
        }
    };
    let classes = [
        class(b"abcdefghijklmnopqrstuvwxyz", request.exclude_lowercase),
        class(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", request.exclude_uppercase),
        class(b"0123456789", request.exclude_numbers),
        class(PUNCTUATION.as_bytes(), request.exclude_punctuation),
    ];
    let all: Vec<u8> = classes.concat();
    if all.is_empty() {
        return Err(Error::InvalidParameter(Parameter::ExcludeCharacters));
    }
    let mut password = Zeroizing::new(Vec::with_capacity(request.length));
    if request.require_each_included_type {
        for class in classes.iter().filter(|c| !c.is_empty()) {
            password.push(class[below(rng, class.len())?]);
        }
    }
    while password.len() < request.length {
        password.push(all[below(rng, all.len())?]);
    }
    for i in (1..password.len()).rev() {
        let j = below(rng, i + 1)?;
        password.swap(i, j);
    }
    let text: String = password.iter().map(|b| char::from(*b)).collect();
    Ok(Zeroizing::new(text))
}
