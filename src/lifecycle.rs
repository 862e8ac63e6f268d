//! Every change of a key's state, decided by one pure function: [`transition`].
//!
//! Given what a key is now ([`Lifecycle`]) and what a management request asks ([`Change`]), it
//! returns what the key becomes and what changed ([`Transition`]), or the spec's error. It reads
//! nothing and writes nothing; key stores apply its result (see [`crate::management`]).
//!
//! The table of Alibaba's key states (a change the state does not allow is
//! `Rejected.StateModifiedFailed`, 409, `Keystate modified failed.`):
//!
//! | change | Enabled | Disabled | PendingDeletion | PendingImport |
//! |---|---|---|---|---|
//! | EnableKey | Enabled | Enabled | refused | refused |
//! | DisableKey | Disabled | Disabled | refused | refused |
//! | ScheduleKeyDeletion | PendingDeletion | PendingDeletion | refused | PendingDeletion |
//! | CancelKeyDeletion | refused | refused | Enabled (PendingImport without material) | refused |
//! | CreateAlias / UpdateAlias to the key | allowed | allowed | refused | allowed |
//! | CreateKeyVersion | new primary version | refused | refused | refused |
//! | ImportKeyMaterial | the same material again (its expiry reset) | the same material again | refused | Enabled |
//! | DeleteKeyMaterial, material expiry | PendingImport | PendingImport | PendingDeletion, without material | refused |
//! | deletion | refused | refused | deleted | refused |
//!
//! and, once the state allows the change: CreateKeyVersion of a key without material of its own
//! (`EXTERNAL` origin, or an asymmetric spec) is `UnsupportedOperation`; ImportKeyMaterial into
//! a key that is not `EXTERNAL` is refused, and material of the wrong length for the key's spec
//! is `InvalidParameter KeyMaterial`; DeleteKeyMaterial of a key that is not `EXTERNAL` is
//! `UnsupportedOperation`. ImportKeyMaterial into an Enabled or Disabled key (one that has
//! material) is a re-import: the table allows it and changes nothing; management then checks
//! that the material is the one the key has ([`crate::management`], `InvalidKeyMaterial`
//! otherwise) and resets its expiry (Alibaba: "You can reimport the key material and reset the
//! expiration time ... at any time, but the same key material must be imported").
//!
//! `Unavailable` is not a stored state but a provider's condition (its material cannot be
//! reached); the table is about the stored state.

use core::time::Duration;

use crate::{Error, KeyOrigin, KeyState, MasterKeySpec, Parameter};

/// What the state table looks at in a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Lifecycle {
    /// The stored state: Enabled, Disabled, PendingDeletion or PendingImport.
    pub state: KeyState,
    /// Where the material comes from.
    pub origin: KeyOrigin,
    /// The key's spec.
    pub spec: MasterKeySpec,
    /// Whether the primary version has material (an `EXTERNAL` key before its import has none).
    pub has_material: bool,
    /// When a scheduled deletion happens, if one is scheduled with a date.
    pub delete_at: Option<Duration>,
}

/// A change a management request asks of a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Change {
    /// EnableKey.
    Enable,
    /// DisableKey.
    Disable,
    /// ScheduleKeyDeletion: the key is deleted at `delete_at` (or, with `None`, when deleted
    /// explicitly).
    ScheduleDeletion {
        /// When the deletion happens.
        delete_at: Option<Duration>,
    },
    /// CancelKeyDeletion.
    CancelDeletion,
    /// CreateKeyVersion (rotation): a new primary version with fresh material.
    AddVersion,
    /// ImportKeyMaterial, with material of this spec.
    ImportMaterial {
        /// The spec the material serves (its length).
        spec: MasterKeySpec,
    },
    /// DeleteKeyMaterial, or the expiry of imported material: the primary version loses its
    /// material.
    DeleteMaterial,
    /// CreateAlias or UpdateAlias naming the key: allowed unless pending deletion.
    BindAlias,
    /// The deletion of a key pending deletion (its date has come, or it is deleted explicitly).
    Delete,
}

/// What a change did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Effect {
    /// Nothing about the key itself changed (for instance, disabling a Disabled key, or binding
    /// an alias).
    Unchanged,
    /// The state or the deletion date changed.
    StateChanged,
    /// A new version becomes primary.
    VersionAdded,
    /// The primary version gets its material.
    MaterialImported,
    /// The primary version loses its material.
    MaterialDeleted,
    /// The key and everything it has (versions, aliases) go.
    Deleted,
}

/// The outcome of a change that the key's state allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Transition {
    /// What the key becomes.
    pub next: Lifecycle,
    /// What changed.
    pub effect: Effect,
}

/// Decides `change` for a key that is `current` (the table in the module docs).
///
/// # Errors
/// `Rejected.StateModifiedFailed` when the state does not allow the change;
/// `UnsupportedOperation` for a new version of a key without material of its own;
/// `InvalidParameter KeyMaterial` for imported material of the wrong spec.
pub fn transition(current: &Lifecycle, change: Change) -> Result<Transition, Error> {
    use KeyState::{Disabled, Enabled, PendingDeletion, PendingImport};
    let refused = Err(Error::StateModifiedFailed);
    let to = |next: Lifecycle, effect: Effect| {
        let effect = if effect == Effect::StateChanged && next == *current {
            Effect::Unchanged
        } else {
            effect
        };
        Ok(Transition { next, effect })
    };
    let state = current.state;
    match change {
        Change::Enable | Change::Disable => {
            if !matches!(state, Enabled | Disabled) {
                return refused;
            }
            let state = if change == Change::Enable {
                Enabled
            } else {
                Disabled
            };
            to(Lifecycle { state, ..*current }, Effect::StateChanged)
        }
        Change::ScheduleDeletion { delete_at } => {
            if state == PendingDeletion || state == KeyState::Unavailable {
                return refused;
            }
            let next = Lifecycle {
                state: PendingDeletion,
                delete_at,
                ..*current
            };
            to(next, Effect::StateChanged)
        }
        Change::CancelDeletion => {
            if state != PendingDeletion {
                return refused;
            }
            let has_material = current.has_material || !current.spec.is_symmetric();
            let state = if has_material { Enabled } else { PendingImport };
            let next = Lifecycle {
                state,
                delete_at: None,
                ..*current
            };
            to(next, Effect::StateChanged)
        }
        Change::AddVersion => {
            if state != Enabled {
                return refused;
            }
            if !current.spec.is_symmetric() || current.origin == KeyOrigin::External {
                return Err(Error::UnsupportedOperation);
            }
            to(*current, Effect::VersionAdded)
        }
        Change::ImportMaterial { spec } => {
            let reimport = matches!(state, Enabled | Disabled) && current.has_material;
            if current.origin != KeyOrigin::External || !(state == PendingImport || reimport) {
                return refused;
            }
            if spec != current.spec {
                return Err(Error::InvalidParameter(Parameter::KeyMaterial));
            }
            if reimport {
                return to(*current, Effect::Unchanged);
            }
            let next = Lifecycle {
                state: Enabled,
                has_material: true,
                ..*current
            };
            to(next, Effect::MaterialImported)
        }
        Change::DeleteMaterial => {
            if !current.has_material || !matches!(state, Enabled | Disabled | PendingDeletion) {
                return refused;
            }
            if current.origin != KeyOrigin::External {
                return Err(Error::UnsupportedOperation);
            }
            let state = if state == PendingDeletion {
                PendingDeletion
            } else {
                PendingImport
            };
            let next = Lifecycle {
                state,
                has_material: false,
                ..*current
            };
            to(next, Effect::MaterialDeleted)
        }
        Change::BindAlias => {
            if state == PendingDeletion {
                return refused;
            }
            to(*current, Effect::Unchanged)
        }
        Change::Delete => {
            if state != PendingDeletion {
                return refused;
            }
            to(*current, Effect::Deleted)
        }
    }
}
