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

use crate::backend::{Directory, Lookup};
use crate::key::{KeyHandle, MasterKeySpec};
use crate::{Caller, Error, KeyId, KeyRecord, KeyReference, KeyVersionId, Permission};

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
/// let _ = record.check_usable();
/// ```
///
#[derive(Debug, PartialEq, Eq)]
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

/// What step 2 asks the directory for a key named in a request, and the error a miss is.
#[inline]
fn key_lookup<'a>(caller: &Caller<'a>, reference: &'a KeyReference<'a>) -> (Lookup<'a>, Error) {
    let not_found = if reference.is_alias() {
        Error::AliasNotFound
    } else {
        Error::KeyNotFound
    };
    let (account, region) = reference.scope(caller);
    if region != caller.region {
        return (Lookup::Nothing, not_found);
    }
    let lookup = match reference {
        KeyReference::Id(key_id) | KeyReference::KeyArn { key_id, .. } => Lookup::Key {
            account,
            region,
            key_id,
        },
        KeyReference::Alias(alias) | KeyReference::AliasArn { alias, .. } => Lookup::Alias {
            account,
            region,
            alias,
        },
        KeyReference::UnknownId(_) => Lookup::Nothing,
    };
    (lookup, not_found)
}

/// What step 2 asks the directory for the version a blob names.
#[inline]
fn version_lookup<'a>(caller: &Caller<'a>, version: &'a KeyVersionId) -> Lookup<'a> {
    Lookup::Version {
        region: caller.region,
        version,
    }
}

impl Resolved {
    /// Step 2 for a key named in a request; the version is its primary.
    pub(crate) async fn key<B: Directory>(
        backend: &B,
        caller: &Caller<'_>,
        reference: &KeyReference<'_>,
    ) -> Result<Self, Error> {
        let (lookup, not_found) = key_lookup(caller, reference);
        let record = backend.lookup(lookup).await?.ok_or(not_found)?;
        Ok(Self {
            record,
            version: record.primary_version,
        })
    }

    /// Step 2 for the version a blob names, in the caller's region.
    pub(crate) async fn version<B: Directory>(
        backend: &B,
        caller: &Caller<'_>,
        version: &KeyVersionId,
    ) -> Result<Self, Error> {
        let lookup = version_lookup(caller, version);
        let record = backend.lookup(lookup).await?.ok_or(Error::KeyNotFound)?;
        Ok(Self {
            record,
            version: *version,
        })
    }

    /// Step 3.
    pub(crate) async fn permit<B: Directory>(
        self,
        backend: &B,
        caller: &Caller<'_>,
        permission: Permission,
    ) -> Result<Permitted, Error> {
        if backend.permits(&self.record, caller, permission).await? {
            Ok(Permitted {
                resolved: self,
                permission,
            })
        } else {
            Err(Error::NoPermission)
        }
    }

    /// The key's record, as the directory reported it.
    pub(crate) fn record(&self) -> KeyRecord {
        self.record
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

/// Step 4 for a record that passed steps 2 and 3 for `permission`: the only place a witness is
/// made. (Borrowed, so the record is not moved again on the sealing path.)
#[inline]
fn mint(
    record: &KeyRecord,
    version: KeyVersionId,
    permission: Permission,
) -> Result<AuthorizedKey, Error> {
    record.check_usable()?;
    Ok(AuthorizedKey {
        handle: record.handle,
        key_id: record.key_id,
        version,
        spec: record.spec,
        permission,
    })
}

/// Steps 2 to 4 for a key named in a request: the witness names the key's primary version.
/// (One future, not a chain of them: this is every sealing operation's path.)
pub(crate) async fn authorize_key<B: Directory>(
    backend: &B,
    caller: &Caller<'_>,
    reference: &KeyReference<'_>,
    permission: Permission,
) -> Result<AuthorizedKey, Error> {
    let (lookup, not_found) = key_lookup(caller, reference);
    let Some(record) = backend.lookup(lookup).await? else {
        return Err(not_found);
    };
    if !backend.permits(&record, caller, permission).await? {
        return Err(Error::NoPermission);
    }
    mint(&record, record.primary_version, permission)
}

/// Steps 2 to 4 for the key version a blob names: the witness names that version.
pub(crate) async fn authorize_version<B: Directory>(
    backend: &B,
    caller: &Caller<'_>,
    version: &KeyVersionId,
    permission: Permission,
) -> Result<AuthorizedKey, Error> {
    let Some(record) = backend.lookup(version_lookup(caller, version)).await? else {
        return Err(Error::KeyNotFound);
    };
    if !backend.permits(&record, caller, permission).await? {
        return Err(Error::NoPermission);
    }
    mint(&record, *version, permission)
}
