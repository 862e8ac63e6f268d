//! Steps 2 to 4 of spec §7, and their witness.
//!
//! An [`AuthorizedKey`] says that a key was resolved from what the request named (step 2), that
//! the caller holds the permission the operation needs (step 3), and that the key's state and
//! usage allow it (step 4). Only this module makes one, on that path, and a
//! [`KeyCipher`](crate::KeyCipher) seals and opens only with one, so code that skips the checks
//! does not compile (the type's documentation shows it).
//!
//! What the witness cannot vouch for is the directory itself: a provider that reports a key as
//! Enabled is believed.

use crate::backend::Lookup;
use crate::key::{KeyHandle, MasterKeySpec};
use crate::{Caller, Error, InstanceId, KeyId, KeyRecord, KeyReference, KeyVersionId, Permission};

/// The witness that one version of a key passed resolution, permission, state and usage for
/// one permission. Made only by the core's checks; required by every seal and open.
///
/// The fields are private and there is no constructor:
///
/// ```compile_fail,E0451
/// use kms_core::{AuthorizedKey, KeyHandle, KeyId, KeyVersionId, MasterKeySpec, Permission};
/// let version = KeyVersionId::parse(b"2ab1a983-7072-4bbc-a582-584b5bd80000").unwrap();
/// let key_id = KeyId::parse("key-hzz630494463ejqjx1234").unwrap();
/// // error[E0451]: the fields of AuthorizedKey are private.
/// let key = AuthorizedKey {
///     handle: KeyHandle(0),
///     key_id,
///     version,
///     spec: MasterKeySpec::Aes256,
///     permission: Permission::Encrypt,
/// };
/// ```
///
/// and a record made by hand (a Disabled key, say) cannot be turned into one either: the check
/// that would do it is private to the crate.
///
/// ```compile_fail,E0624
/// use kms_core::{KeyHandle, KeyId, KeyRecord, KeyState, KeyVersionId};
/// let version = KeyVersionId::parse(b"2ab1a983-7072-4bbc-a582-584b5bd80000").unwrap();
/// let key_id = KeyId::parse("key-hzz630494463ejqjx1234").unwrap();
/// let record = KeyRecord::new(KeyHandle(0), key_id, version).with_state(KeyState::Disabled);
/// // error[E0624]: method `check_usable` is private.
/// let _ = record.check_usable(kms_core::Permission::Encrypt);
/// ```
///
#[derive(Debug, PartialEq, Eq)]
#[repr(C)]
pub struct AuthorizedKey {
    handle: KeyHandle,
    key_id: KeyId,
    version: KeyVersionId,
    spec: MasterKeySpec,
    permission: Permission,
}

impl AuthorizedKey {
    /// The provider's handle of the key.
    pub fn handle(&self) -> KeyHandle {
        self.handle
    }

    /// The canonical key ID.
    pub fn key_id(&self) -> KeyId {
        self.key_id
    }

    /// The version to seal or open with: the key's primary version for a seal, the blob's for
    /// an open.
    pub fn version(&self) -> KeyVersionId {
        self.version
    }

    /// The key's spec.
    pub fn spec(&self) -> MasterKeySpec {
        self.spec
    }

    /// The permission that was granted: what the key may be used for now.
    pub fn permission(&self) -> Permission {
        self.permission
    }
}

/// Step 2 before the directory has answered: what to ask it, what a miss is, and which
/// version the operation will use. The steps are pure: an operation asks the directory itself
/// ([`authorize!`] shows how) and hands the answers to [`Resolving::found`] and
/// [`Resolved::permitted`]. (Nested `async fn`s would be simpler to call, but each one hands
/// its state and its result through memory on the blocking path: GenerateDataKey took 413 ns
/// with them and 391 ns without, in `benches/operations.rs`.)
#[derive(Clone, Copy, Debug)]
pub(crate) struct Resolving<'a> {
    lookup: Lookup<'a>,
    not_found: Error,
    /// The blob's version; `None` for the key's primary version.
    version: Option<&'a KeyVersionId>,
    /// The KMS instance the key must be held in (the KMS-instance API); `None` for any key.
    instance: Option<&'a InstanceId>,
}

/// A key resolved by step 2, with the version the operation would use.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Resolved {
    record: KeyRecord,
    version: KeyVersionId,
}

/// A key that passed step 3 for `permission`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Permitted {
    resolved: Resolved,
    permission: Permission,
}

impl<'a> Resolving<'a> {
    /// Step 2 for a key named in a request; the version is its primary.
    #[inline]
    pub(crate) fn key(caller: &Caller<'a>, reference: &'a KeyReference<'a>) -> Self {
        let not_found = if reference.is_alias() {
            Error::AliasNotFound
        } else {
            Error::KeyNotFound
        };
        let (account, region) = reference.scope(caller);
        let lookup = if region != caller.region {
            Lookup::Nothing
        } else {
            match reference {
                KeyReference::Id(key_id) | KeyReference::KeyArn { key_id, .. } => Lookup::Key {
                    account,
                    region,
                    key_id,
                },
                KeyReference::Alias(alias) | KeyReference::AliasArn { alias, .. } => {
                    Lookup::Alias {
                        account,
                        region,
                        alias,
                    }
                }
                KeyReference::UnknownId(_) => Lookup::Nothing,
            }
        };
        Self {
            lookup,
            not_found,
            version: None,
            instance: None,
        }
    }

    /// Step 2 for the version a blob names, in the caller's region.
    #[inline]
    pub(crate) fn version(caller: &Caller<'a>, version: &'a KeyVersionId) -> Self {
        Self {
            lookup: Lookup::Version {
                region: caller.region,
                version,
            },
            not_found: Error::KeyNotFound,
            version: Some(version),
            instance: None,
        }
    }

    /// The same step for the KMS-instance API: a key that `instance` does not hold is not
    /// found, as if it did not exist.
    #[inline]
    pub(crate) fn in_instance(self, instance: &'a InstanceId) -> Self {
        Self {
            instance: Some(instance),
            ..self
        }
    }

    /// What to ask the directory.
    #[inline]
    pub(crate) fn lookup(&self) -> Lookup<'a> {
        self.lookup
    }

    /// Step 2 done, given the directory's answer.
    #[inline]
    pub(crate) fn found(self, answer: Option<KeyRecord>) -> Result<Resolved, Error> {
        let record = answer
            .filter(|r| self.instance.is_none_or(|i| r.instance.as_ref() == Some(i)))
            .ok_or(self.not_found)?;
        Ok(Resolved {
            record,
            version: self.version.copied().unwrap_or(record.primary_version),
        })
    }

    /// Step 2 against a blocking directory, for the frontends' own lookups.
    pub(crate) fn ask<D: crate::KeyDirectory + ?Sized>(
        self,
        directory: &D,
    ) -> Result<Resolved, Error> {
        self.found(self.lookup.ask(directory)?)
    }
}

impl Resolved {
    /// The key's record, as the directory reported it.
    #[inline]
    pub(crate) fn record(&self) -> &KeyRecord {
        &self.record
    }

    /// Step 3 done, given the directory's answer to whether the caller may use the key for
    /// `permission`.
    #[inline]
    pub(crate) fn permitted(
        self,
        granted: bool,
        permission: Permission,
    ) -> Result<Permitted, Error> {
        if granted {
            Ok(Permitted {
                resolved: self,
                permission,
            })
        } else {
            Err(Error::NoPermission)
        }
    }
}

impl Permitted {
    /// Step 4, which mints the witness.
    #[inline]
    pub(crate) fn check_usable(self) -> Result<AuthorizedKey, Error> {
        let Resolved { record, version } = &self.resolved;
        mint(record, *version, self.permission)
    }
}

/// Steps 2 to 4 for an operation on one named version of a key (the asymmetric operations,
/// whose `KeyVersionId` is required), against a blocking directory: the key resolved from
/// `reference`; `version` must be one of its versions (else `Forbidden.KeyNotFound`, as for a
/// key that does not exist **\[decided\]**); then the permission, state and usage for
/// `permission`. The witness names `version`.
#[cfg(feature = "asymmetric")]
pub(crate) fn authorize_version<D: crate::KeyDirectory + ?Sized>(
    directory: &D,
    caller: &Caller<'_>,
    reference: &KeyReference<'_>,
    version: &KeyVersionId,
    permission: Permission,
) -> Result<AuthorizedKey, Error> {
    let resolved = Resolving::key(caller, reference).ask(directory)?;
    let holder = directory.find_version(caller.region, version)?;
    if holder.is_none_or(|h| h.key_id != resolved.record.key_id) {
        return Err(Error::KeyNotFound);
    }
    let resolved = Resolved {
        version: *version,
        ..resolved
    };
    let granted = directory.permits(&resolved.record, caller, permission)?;
    resolved.permitted(granted, permission)?.check_usable()
}

/// Steps 2 to 4 inside an operation's `async fn`: `$resolving` asked of `$backend`, the
/// permission asked, the witness minted; `?` returns the step's error. A macro, so that the
/// directory's futures are awaited in the operation's own future (see [`Resolving`]).
macro_rules! authorize {
    ($backend:expr, $caller:expr, $resolving:expr, $permission:expr) => {{
        let resolving: $crate::authorize::Resolving<'_> = $resolving;
        let resolved = resolving.found($backend.lookup(resolving.lookup()).await?)?;
        let granted = $backend
            .permits(resolved.record(), $caller, $permission)
            .await?;
        resolved.permitted(granted, $permission)?.check_usable()?
    }};
}
pub(crate) use authorize;

/// Step 4 for a record that passed steps 2 and 3 for `permission`: the only place a witness is
/// made. (Borrowed, so the record is not moved again on the sealing path.)
#[inline]
fn mint(
    record: &KeyRecord,
    version: KeyVersionId,
    permission: Permission,
) -> Result<AuthorizedKey, Error> {
    record.check_usable(permission)?;
    Ok(AuthorizedKey {
        handle: record.handle,
        key_id: record.key_id,
        version,
        spec: record.spec,
        permission,
    })
}
