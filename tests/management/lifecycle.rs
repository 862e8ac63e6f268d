//! The state table (`kms_core::lifecycle::transition`): every stored state by every change as a
//! pure table written out by hand from the table in `src/lifecycle.rs`'s docs (the same table
//! the old management module documented and the old state tests checked), the origin and spec
//! rules; then the management operations run on keys in every state, against the same table
//! written out again and against `transition`'s own verdict.

use core::time::Duration;

use kms_core::lifecycle::{Change, Effect, Lifecycle, Transition, transition};
use kms_core::time::Timestamp;
use kms_core::{Error, KeyId, KeyOrigin, KeyState, MasterKeySpec};

use crate::support::*;
use crate::testkit::*;

use KeyOrigin::{External, Kms as Service};
use KeyState::{Disabled, Enabled, PendingDeletion, PendingImport};
use MasterKeySpec::{Aes128, Aes256, EcP256, Rsa2048};

// ---------------------------------------------------------------------------------------------
// The pure table

/// A date a key already pending deletion is deleted at.
const SCHEDULED: Duration = Duration::from_secs(1_716_279_853);
/// The date a ScheduleDeletion in the table asks for.
const NEW_DATE: Duration = Duration::from_secs(1_800_000_000);

fn life(
    state: KeyState,
    origin: KeyOrigin,
    spec: MasterKeySpec,
    has_material: bool,
    delete_at: Option<Duration>,
) -> Lifecycle {
    Lifecycle {
        state,
        origin,
        spec,
        has_material,
        delete_at,
    }
}

/// The four stored states, each as the key that is usually in it: a service AES-256 key
/// (Enabled, Disabled, PendingDeletion with a date) and an EXTERNAL AES-256 key without
/// material (PendingImport).
fn column(state: KeyState) -> Lifecycle {
    match state {
        PendingDeletion => life(state, Service, Aes256, true, Some(SCHEDULED)),
        PendingImport => life(state, External, Aes256, false, None),
        _ => life(state, Service, Aes256, true, None),
    }
}

const STATES: [KeyState; 4] = [Enabled, Disabled, PendingDeletion, PendingImport];

const CHANGES: [Change; 10] = [
    Change::Enable,
    Change::Disable,
    Change::ScheduleDeletion {
        delete_at: Some(NEW_DATE),
    },
    Change::ScheduleDeletion { delete_at: None },
    Change::CancelDeletion,
    Change::AddVersion,
    Change::ImportMaterial { spec: Aes256 },
    Change::DeleteMaterial,
    Change::BindAlias,
    Change::Delete,
];

fn ok(next: Lifecycle, effect: Effect) -> Result<Transition, Error> {
    Ok(Transition { next, effect })
}

const REFUSED: Result<Transition, Error> = Err(Error::StateModifiedFailed);

/// The table of `src/lifecycle.rs`, row by row, written out here.
fn expected(state: KeyState, change: Change) -> Result<Transition, Error> {
    let current = column(state);
    let with = |state: KeyState| Lifecycle { state, ..current };
    match (change, state) {
        // EnableKey: Enabled | Enabled | refused | refused
        (Change::Enable, Enabled) => ok(current, Effect::Unchanged),
        (Change::Enable, Disabled) => ok(with(Enabled), Effect::StateChanged),
        (Change::Enable, _) => REFUSED,
        // DisableKey: Disabled | Disabled | refused | refused
        (Change::Disable, Enabled) => ok(with(Disabled), Effect::StateChanged),
        (Change::Disable, Disabled) => ok(current, Effect::Unchanged),
        (Change::Disable, _) => REFUSED,
        // ScheduleKeyDeletion: PendingDeletion | PendingDeletion | refused | PendingDeletion
        (Change::ScheduleDeletion { .. }, PendingDeletion) => REFUSED,
        (Change::ScheduleDeletion { delete_at }, _) => ok(
            Lifecycle {
                state: PendingDeletion,
                delete_at,
                ..current
            },
            Effect::StateChanged,
        ),
        // CancelKeyDeletion: refused | refused | Enabled | refused
        (Change::CancelDeletion, PendingDeletion) => ok(
            Lifecycle {
                state: Enabled,
                delete_at: None,
                ..current
            },
            Effect::StateChanged,
        ),
        (Change::CancelDeletion, _) => REFUSED,
        // CreateKeyVersion: new primary version | refused | refused | refused
        (Change::AddVersion, Enabled) => ok(current, Effect::VersionAdded),
        (Change::AddVersion, _) => REFUSED,
        // ImportKeyMaterial: these columns' Enabled and Disabled keys are the service's own
        // (refused; EXTERNAL keys with material are re-imports, in the test below) | refused | Enabled
        (Change::ImportMaterial { .. }, PendingImport) => ok(
            Lifecycle {
                state: Enabled,
                has_material: true,
                ..current
            },
            Effect::MaterialImported,
        ),
        (Change::ImportMaterial { .. }, _) => REFUSED,
        // DeleteKeyMaterial: these columns' keys are the service's own (UnsupportedOperation
        // once the state allows it), the PendingImport one has no material (refused); the
        // EXTERNAL keys are in `deleting_material_of_an_external_key`.
        (Change::DeleteMaterial, PendingImport) => REFUSED,
        (Change::DeleteMaterial, _) => Err(Error::UnsupportedOperation),
        // CreateAlias / UpdateAlias to the key: allowed | allowed | refused | allowed
        (Change::BindAlias, PendingDeletion) => REFUSED,
        (Change::BindAlias, _) => ok(current, Effect::Unchanged),
        // deletion: refused | refused | deleted | refused
        (Change::Delete, PendingDeletion) => ok(current, Effect::Deleted),
        (Change::Delete, _) => REFUSED,
    }
}

#[test]
fn every_stored_state_by_every_change() {
    let mut cells = 0;
    for state in STATES {
        for change in CHANGES {
            let current = column(state);
            assert_eq!(
                transition(&current, change),
                expected(state, change),
                "{change:?} in {state:?}"
            );
            cells += 1;
        }
    }
    assert_eq!(cells, 4 * 10);
}

#[test]
fn deleting_material_of_an_external_key() {
    // With material: Enabled and Disabled go PendingImport, PendingDeletion stays; the key has
    // no material after. Without material (PendingImport, or PendingDeletion after an expiry):
    // refused.
    for (state, after) in [
        (Enabled, Some(PendingImport)),
        (Disabled, Some(PendingImport)),
        (PendingDeletion, Some(PendingDeletion)),
        (PendingImport, None),
    ] {
        let has_material = state != PendingImport;
        let current = life(state, External, Aes256, has_material, None);
        let got = transition(&current, Change::DeleteMaterial);
        match after {
            Some(next) => assert_eq!(
                got,
                ok(
                    Lifecycle {
                        state: next,
                        has_material: false,
                        ..current
                    },
                    Effect::MaterialDeleted
                ),
                "{state:?}"
            ),
            None => assert_eq!(got, REFUSED, "{state:?}"),
        }
        let without = life(state, External, Aes256, false, None);
        assert_eq!(transition(&without, Change::DeleteMaterial), REFUSED);
    }
}

#[test]
fn refusals_are_state_modified_failed_on_the_wire() {
    let err = expect_err(transition(&column(PendingDeletion), Change::Enable));
    assert_eq!(Row::of(&err), Row::state_modified_failed());
}

#[test]
fn a_new_version_only_of_a_key_with_material_of_its_own() {
    // Once the state allows it: an EXTERNAL key (even with its material imported) or an
    // asymmetric key is UnsupportedOperation; a service AES key of either length rotates. In
    // another state, the state's refusal comes first.
    let cases = [
        (life(Enabled, Service, Aes128, true, None), Ok(())),
        (
            life(Enabled, External, Aes256, true, None),
            Err(Row::unsupported()),
        ),
        (
            life(Enabled, External, Aes128, true, None),
            Err(Row::unsupported()),
        ),
        (
            life(Enabled, Service, Rsa2048, false, None),
            Err(Row::unsupported()),
        ),
        (
            life(Enabled, Service, EcP256, false, None),
            Err(Row::unsupported()),
        ),
        (
            life(Disabled, External, Aes256, true, None),
            Err(Row::state_modified_failed()),
        ),
        (
            life(Disabled, Service, Rsa2048, false, None),
            Err(Row::state_modified_failed()),
        ),
        (
            life(PendingImport, External, Aes256, false, None),
            Err(Row::state_modified_failed()),
        ),
    ];
    for (current, verdict) in cases {
        let result = transition(&current, Change::AddVersion);
        match verdict {
            Ok(()) => assert_eq!(result, ok(current, Effect::VersionAdded), "{current:?}"),
            Err(row) => assert_eq!(Row::of(&expect_err(result)), row, "{current:?}"),
        }
    }
}

#[test]
fn material_only_of_the_key_s_spec_and_only_into_an_external_key_pending_import_or_again() {
    let pending = |spec| life(PendingImport, External, spec, false, None);
    let cases = [
        (pending(Aes128), Aes128, Ok(())),
        (pending(Aes256), Aes128, Err(Row::invalid("KeyMaterial"))),
        (pending(Aes128), Aes256, Err(Row::invalid("KeyMaterial"))),
        // A key with material takes the same material again (a re-import, which changes
        // nothing here: management checks that the material is the key's); of its length only.
        (
            life(Enabled, External, Aes256, true, None),
            Aes128,
            Err(Row::invalid("KeyMaterial")),
        ),
        (life(Enabled, External, Aes256, true, None), Aes256, Ok(())),
        (life(Disabled, External, Aes256, true, None), Aes256, Ok(())),
        // The state and origin come before the material's length.
        (
            life(PendingDeletion, External, Aes256, true, Some(SCHEDULED)),
            Aes128,
            Err(Row::state_modified_failed()),
        ),
        (
            life(PendingDeletion, External, Aes256, false, Some(SCHEDULED)),
            Aes256,
            Err(Row::state_modified_failed()),
        ),
        // A service key never takes material, whatever its state says.
        (
            life(PendingImport, Service, Aes256, false, None),
            Aes256,
            Err(Row::state_modified_failed()),
        ),
    ];
    for (current, spec, verdict) in cases {
        let result = transition(&current, Change::ImportMaterial { spec });
        match verdict {
            Ok(()) if current.has_material => {
                assert_eq!(result, ok(current, Effect::Unchanged), "{current:?}");
            }
            Ok(()) => {
                let next = Lifecycle {
                    state: Enabled,
                    has_material: true,
                    ..current
                };
                assert_eq!(result, ok(next, Effect::MaterialImported), "{current:?}");
            }
            Err(row) => assert_eq!(Row::of(&expect_err(result)), row, "{current:?} {spec:?}"),
        }
    }
}

#[test]
fn a_cancelled_deletion_returns_to_pending_import_only_without_material() {
    let cases = [
        // An EXTERNAL key scheduled before its material came goes back to waiting for it.
        (
            life(PendingDeletion, External, Aes256, false, Some(SCHEDULED)),
            PendingImport,
        ),
        (
            life(PendingDeletion, External, Aes256, true, Some(SCHEDULED)),
            Enabled,
        ),
        // An asymmetric key has no AES material and never waits for any.
        (
            life(PendingDeletion, Service, Rsa2048, false, Some(SCHEDULED)),
            Enabled,
        ),
        (life(PendingDeletion, Service, Aes256, true, None), Enabled),
    ];
    for (current, state) in cases {
        let next = Lifecycle {
            state,
            delete_at: None,
            ..current
        };
        assert_eq!(
            transition(&current, Change::CancelDeletion),
            ok(next, Effect::StateChanged),
            "{current:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The management operations on keys in every state

/// How a key under test is made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Setup {
    KmsEnabled,
    KmsDisabled,
    /// Scheduled from Enabled.
    KmsPendingDeletion,
    /// Scheduled from Disabled.
    KmsDisabledPendingDeletion,
    ExternalPendingImport,
    ExternalEnabled,
    ExternalDisabled,
    /// Imported, then scheduled.
    ExternalPendingDeletion,
    /// Scheduled before any material arrived.
    ExternalPendingDeletionWithoutMaterial,
}

use Setup::*;

const SETUPS: [Setup; 9] = [
    KmsEnabled,
    KmsDisabled,
    KmsPendingDeletion,
    KmsDisabledPendingDeletion,
    ExternalPendingImport,
    ExternalEnabled,
    ExternalDisabled,
    ExternalPendingDeletion,
    ExternalPendingDeletionWithoutMaterial,
];

impl Setup {
    /// The state DescribeKey reports after the setup: one of the table's four columns.
    fn state(self) -> KeyState {
        match self {
            KmsEnabled | ExternalEnabled => Enabled,
            KmsDisabled | ExternalDisabled => Disabled,
            KmsPendingDeletion
            | KmsDisabledPendingDeletion
            | ExternalPendingDeletion
            | ExternalPendingDeletionWithoutMaterial => PendingDeletion,
            ExternalPendingImport => PendingImport,
        }
    }

    fn external(self) -> bool {
        matches!(
            self,
            ExternalPendingImport
                | ExternalEnabled
                | ExternalDisabled
                | ExternalPendingDeletion
                | ExternalPendingDeletionWithoutMaterial
        )
    }

    fn make(self, k: &mut Kms) -> KeyId {
        let key = if self.external() {
            k.external_key(Aes256)
        } else {
            k.key()
        };
        let text = key.to_string();
        if matches!(
            self,
            ExternalEnabled | ExternalDisabled | ExternalPendingDeletion
        ) {
            k.import(&text, &[0x42; 32]).unwrap();
        }
        if matches!(
            self,
            KmsDisabled | KmsDisabledPendingDeletion | ExternalDisabled
        ) {
            k.disable(&text).unwrap();
        }
        if matches!(
            self,
            KmsPendingDeletion
                | KmsDisabledPendingDeletion
                | ExternalPendingDeletion
                | ExternalPendingDeletionWithoutMaterial
        ) {
            k.schedule(&text, 30).unwrap();
        }
        assert_eq!(k.state(&key), self.state(), "{self:?}");
        key
    }
}

/// The operations of the table, by what they ask of the key.
const OPS: [KeyOp; 9] = [
    KeyOp::EnableKey,
    KeyOp::DisableKey,
    KeyOp::ScheduleKeyDeletion,
    KeyOp::CancelKeyDeletion,
    KeyOp::CreateAlias,
    KeyOp::UpdateAlias,
    KeyOp::CreateKeyVersion,
    KeyOp::ImportKeyMaterial,
    KeyOp::DeleteKey,
];

/// The change each operation asks of the table, at `now` (ScheduleKeyDeletion: 7 days;
/// ImportKeyMaterial: 32 bytes).
fn change_of(op: KeyOp, now: Duration) -> Change {
    match op {
        KeyOp::EnableKey => Change::Enable,
        KeyOp::DisableKey => Change::Disable,
        KeyOp::ScheduleKeyDeletion => Change::ScheduleDeletion {
            delete_at: Some(now + secs(7 * DAY_SECS)),
        },
        KeyOp::CancelKeyDeletion => Change::CancelDeletion,
        KeyOp::CreateAlias | KeyOp::UpdateAlias => Change::BindAlias,
        KeyOp::CreateKeyVersion => Change::AddVersion,
        KeyOp::ImportKeyMaterial => Change::ImportMaterial { spec: Aes256 },
        KeyOp::DeleteKey => Change::Delete,
        KeyOp::DescribeKey => unreachable!("DescribeKey changes nothing"),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    /// Succeeds; the key is then in this state.
    To(KeyState),
    /// Succeeds; the key is gone.
    Deleted,
    /// `Rejected.StateModifiedFailed`, nothing changes.
    Refused,
    /// `UnsupportedOperation`, nothing changes.
    Unsupported,
}

use Outcome::*;

/// The table once more, column by the four states; the footnotes (a cancelled deletion of a key
/// without material goes back to PendingImport; CreateKeyVersion of an external key is
/// unsupported) decided by the setup.
fn outcome(op: KeyOp, setup: Setup) -> Outcome {
    let state = setup.state();
    match (op, state) {
        (KeyOp::EnableKey, Enabled | Disabled) => To(Enabled),
        (KeyOp::DisableKey, Enabled | Disabled) => To(Disabled),
        (KeyOp::ScheduleKeyDeletion, Enabled | Disabled | PendingImport) => To(PendingDeletion),
        (KeyOp::CancelKeyDeletion, PendingDeletion) => {
            if setup == ExternalPendingDeletionWithoutMaterial {
                To(PendingImport)
            } else {
                To(Enabled)
            }
        }
        (KeyOp::CreateAlias | KeyOp::UpdateAlias, PendingDeletion) => Refused,
        (KeyOp::CreateAlias | KeyOp::UpdateAlias, s) => To(s),
        (KeyOp::CreateKeyVersion, Enabled) => {
            if setup.external() {
                Unsupported
            } else {
                To(Enabled)
            }
        }
        (KeyOp::ImportKeyMaterial, PendingImport) => To(Enabled),
        // The same material again into an external key that has it: a re-import.
        (KeyOp::ImportKeyMaterial, Enabled | Disabled) if setup.external() => To(state),
        (KeyOp::DeleteKey, PendingDeletion) => Deleted,
        _ => Refused,
    }
}

/// What a data-key operation gets from a key in `state` (spec §6).
fn check_data_path(k: &mut Kms, key: &KeyId, state: KeyState) {
    let r = k.gdk(key.as_str());
    if state == Enabled {
        let made = r.unwrap();
        assert_eq!(made.key_id, *key);
        k.decrypt(&made.ciphertext_blob).unwrap();
    } else {
        assert_row(r, Row::rejected(state_name(state)));
    }
}

/// A world with a bystander key (which [`EXISTING_ALIAS`] names) and a key made by `setup`,
/// an hour later.
fn world(setup: Setup, seed: u64) -> (Kms, KeyId, KeyId) {
    let mut k = Kms::new(seed);
    let bystander = k.key();
    k.create_alias(EXISTING_ALIAS, bystander.as_str()).unwrap();
    let key = setup.make(&mut k);
    k.advance(secs(3600));
    (k, key, bystander)
}

#[test]
fn every_operation_in_every_state() {
    let mut checked = 0;
    for setup in SETUPS {
        for op in OPS {
            let (mut k, key, bystander) = world(setup, 100 + checked);
            let before = k.stored(&key).unwrap();
            let fingerprint_before = fingerprint(&k.provider);
            let result = op.run(&mut k, &owner(), key.as_str());
            let after = k.stored(&key);
            let ctx = format!("{op:?} on {setup:?}");

            match outcome(op, setup) {
                To(state) => {
                    assert_eq!(result, Ok(()), "{ctx}");
                    let after = after.unwrap();
                    assert_eq!(after.state, state, "{ctx}");
                    if op == KeyOp::CreateKeyVersion {
                        assert_eq!(after.versions.len(), 2, "{ctx}");
                        assert_eq!(after.versions[0], before.versions[0], "{ctx}");
                        assert_eq!(after.primary, after.versions[1].key_version_id, "{ctx}");
                    } else {
                        assert_eq!(after.versions, before.versions, "{ctx}");
                        assert_eq!(after.primary, before.primary, "{ctx}");
                    }
                    match op {
                        KeyOp::CreateAlias => {
                            assert_eq!(k.describe(UNUSED_ALIAS).unwrap().key_id, key, "{ctx}")
                        }
                        KeyOp::UpdateAlias => {
                            assert_eq!(k.describe(EXISTING_ALIAS).unwrap().key_id, key, "{ctx}")
                        }
                        _ => {}
                    }
                    match op {
                        KeyOp::ScheduleKeyDeletion => {
                            // Scheduled at T0 + 1 h, 7 days later.
                            let date = Timestamp(after.delete_at.unwrap()).to_string();
                            assert_eq!(date, "2024-05-21T09:24:13Z", "{ctx}");
                        }
                        KeyOp::CancelKeyDeletion => assert_eq!(after.delete_at, None, "{ctx}"),
                        _ => assert_eq!(after.delete_at, before.delete_at, "{ctx}"),
                    }
                    check_data_path(&mut k, &key, state);
                }
                Deleted => {
                    assert_eq!(result, Ok(()), "{ctx}");
                    assert_eq!(after, None, "{ctx}");
                    assert_row(k.gdk(key.as_str()), Row::key_not_found());
                }
                Refused | Unsupported => {
                    let row = if outcome(op, setup) == Refused {
                        Row::state_modified_failed()
                    } else {
                        Row::unsupported()
                    };
                    assert_row(result, row);
                    // Nothing changed: not the key, not its versions, not the aliases.
                    assert_eq!(fingerprint(&k.provider), fingerprint_before, "{ctx}");
                    assert_row(k.describe(UNUSED_ALIAS), Row::alias_not_found());
                    assert_eq!(k.describe(EXISTING_ALIAS).unwrap().key_id, bystander);
                    check_data_path(&mut k, &key, setup.state());
                }
            }
            // The bystander is untouched whatever happened.
            assert_eq!(k.state(&bystander), Enabled, "{ctx}");
            checked += 1;
        }
    }
    assert_eq!(checked, 81);
}

#[test]
fn the_setups_cover_every_column() {
    // The setups reach all four states of the table, for both origins where they exist.
    let mut seen: Vec<(&str, bool)> = SETUPS
        .iter()
        .map(|s| (state_name(s.state()), s.external()))
        .collect();
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(
        seen,
        [
            ("Disabled", false),
            ("Disabled", true),
            ("Enabled", false),
            ("Enabled", true),
            ("PendingDeletion", false),
            ("PendingDeletion", true),
            ("PendingImport", true),
        ]
    );
}

#[test]
fn every_operation_does_what_transition_decides() {
    // Whatever `transition` says of the key as the store holds it, the operation does: the same
    // error and no change, or the change to exactly the next lifecycle.
    let mut checked = 0;
    for setup in SETUPS {
        for op in OPS {
            let (mut k, key, _) = world(setup, 500 + checked);
            let before = k.stored(&key).unwrap();
            let fingerprint_before = fingerprint(&k.provider);
            let verdict = transition(&before.lifecycle(), change_of(op, k.now));
            let result = op.run(&mut k, &owner(), key.as_str());
            let ctx = format!("{op:?} on {setup:?}: {verdict:?}");
            match verdict {
                Err(e) => {
                    assert_eq!(result, Err(e), "{ctx}");
                    assert_eq!(fingerprint(&k.provider), fingerprint_before, "{ctx}");
                }
                Ok(t) => {
                    assert_eq!(result, Ok(()), "{ctx}");
                    let after = k.stored(&key);
                    if t.effect == Effect::Deleted {
                        assert_eq!(after, None, "{ctx}");
                    } else {
                        let after = after.unwrap();
                        assert_eq!(after.lifecycle(), t.next, "{ctx}");
                        let added = usize::from(t.effect == Effect::VersionAdded);
                        assert_eq!(after.versions.len(), before.versions.len() + added);
                    }
                }
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 81);
}

#[test]
fn the_answer_of_a_state_change_is_the_key_as_transition_leaves_it() {
    for setup in SETUPS {
        for (op, change) in [
            (KeyOp::EnableKey, Change::Enable),
            (KeyOp::DisableKey, Change::Disable),
            (KeyOp::CancelKeyDeletion, Change::CancelDeletion),
        ] {
            let (k, key, _) = world(setup, 900);
            let before = k.stored(&key).unwrap();
            let staged = match op {
                KeyOp::EnableKey => {
                    kms_core::management::enable_key(&k.provider, &owner(), &key.into(), k.now)
                }
                KeyOp::DisableKey => {
                    kms_core::management::disable_key(&k.provider, &owner(), &key.into(), k.now)
                }
                _ => kms_core::management::cancel_key_deletion(
                    &k.provider,
                    &owner(),
                    &key.into(),
                    k.now,
                ),
            };
            match transition(&before.lifecycle(), change) {
                Ok(t) => {
                    let answer = staged.unwrap().output().clone();
                    assert_eq!(answer.lifecycle(), t.next, "{op:?} on {setup:?}");
                    assert_eq!(answer.key_id, key);
                }
                Err(e) => assert_eq!(staged.map(|_| ()), Err(e)),
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// A key whose material is unavailable

#[test]
fn an_unavailable_key_is_managed_by_its_stored_state() {
    // `KeyMeta::lifecycle` documents: "A key reported Unavailable is given to the table with
    // the state it has when its material is back"; `src/lifecycle.rs`: "Unavailable is not a
    // stored state but a provider's condition; the table is about the stored state". The
    // management operations of the old core went by the stored state.
    let mut k = Kms::new(950);
    let key = k.key();
    k.provider.set_unavailable(&key, true).unwrap();
    assert_eq!(k.state(&key), KeyState::Unavailable);
    // DisableKey during an outage: the stored Enabled allows it.
    k.disable(key.as_str()).unwrap();
    k.provider.set_unavailable(&key, false).unwrap();
    assert_eq!(k.state(&key), Disabled);
}

#[test]
fn an_unavailable_key_pending_deletion_takes_no_alias() {
    let mut k = Kms::new(951);
    let key = k.key();
    k.schedule(key.as_str(), 7).unwrap();
    k.provider.set_unavailable(&key, true).unwrap();
    assert_row(
        k.create_alias("alias/late", key.as_str()),
        Row::state_modified_failed(),
    );
    assert_eq!(k.all_aliases_of(&owner()), []);
}
