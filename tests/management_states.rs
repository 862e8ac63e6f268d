//! The state-transition table of src/management.rs's module docs, every operation in every
//! state, and dated deletion: ScheduleKeyDeletion's window and DeleteDate, deletion exactly at
//! the date by whichever management operation comes next, and CancelKeyDeletion.

mod support_mgmt;

use core::time::Duration;

use kms_core::KeyId;
use kms_core::management::{CreateKeyRequest, KeyMetadata};
use support_mgmt::*;

// ---------------------------------------------------------------------------------------------
// The table

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
    fn state(self) -> &'static str {
        match self {
            KmsEnabled | ExternalEnabled => "Enabled",
            KmsDisabled | ExternalDisabled => "Disabled",
            KmsPendingDeletion
            | KmsDisabledPendingDeletion
            | ExternalPendingDeletion
            | ExternalPendingDeletionWithoutMaterial => "PendingDeletion",
            ExternalPendingImport => "PendingImport",
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
            k.external_key("Aliyun_AES_256")
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
            k.schedule(&text, "30").unwrap();
        }
        assert_eq!(k.state(&key), self.state(), "{self:?}");
        key
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    EnableKey,
    DisableKey,
    ScheduleKeyDeletion,
    CancelKeyDeletion,
    CreateAlias,
    UpdateAlias,
    CreateKeyVersion,
    ImportKeyMaterial,
}

use Op::*;

const OPS: [Op; 8] = [
    EnableKey,
    DisableKey,
    ScheduleKeyDeletion,
    CancelKeyDeletion,
    CreateAlias,
    UpdateAlias,
    CreateKeyVersion,
    ImportKeyMaterial,
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    /// Succeeds; the key is then in this state.
    To(&'static str),
    /// `Rejected.StateModifiedFailed`, nothing changes.
    Refused,
    /// `UnsupportedOperation`, nothing changes.
    Unsupported,
}

use Outcome::*;

/// The table of src/management.rs, column by the four states; the two footnotes (a cancelled
/// deletion of a key without material goes back to PendingImport; CreateKeyVersion of an
/// external key is unsupported) decided by the setup.
fn expected(op: Op, setup: Setup) -> Outcome {
    let state = setup.state();
    match (op, state) {
        (EnableKey, "Enabled" | "Disabled") => To("Enabled"),
        (EnableKey, _) => Refused,
        (DisableKey, "Enabled" | "Disabled") => To("Disabled"),
        (DisableKey, _) => Refused,
        (ScheduleKeyDeletion, "Enabled" | "Disabled" | "PendingImport") => To("PendingDeletion"),
        (ScheduleKeyDeletion, _) => Refused,
        (CancelKeyDeletion, "PendingDeletion") => {
            if setup == ExternalPendingDeletionWithoutMaterial {
                To("PendingImport")
            } else {
                To("Enabled")
            }
        }
        (CancelKeyDeletion, _) => Refused,
        (CreateAlias | UpdateAlias, "PendingDeletion") => Refused,
        (CreateAlias | UpdateAlias, s) => To(s),
        (CreateKeyVersion, "Enabled") => {
            if setup.external() {
                Unsupported
            } else {
                To("Enabled")
            }
        }
        (CreateKeyVersion, _) => Refused,
        (ImportKeyMaterial, "PendingImport") => To("Enabled"),
        (ImportKeyMaterial, _) => Refused,
    }
}

/// What a data-key operation gets from a key in `state` (spec §6).
fn check_data_path(k: &mut Kms, key: &KeyId, state: &str) {
    let r = k.gdk(key.as_str());
    if state == "Enabled" {
        let made = r.unwrap();
        assert_eq!(made.key_id, *key);
        k.decrypt(&made.ciphertext_blob).unwrap();
    } else {
        assert_rejected(r, state);
    }
}

const ALIAS: &str = "alias/under-test";

fn run(k: &mut Kms, op: Op, key: &KeyId) -> Result<(), kms_core::Error> {
    let text = key.as_str();
    match op {
        EnableKey => k.enable(text),
        DisableKey => k.disable(text),
        ScheduleKeyDeletion => k.schedule(text, "7"),
        CancelKeyDeletion => k.cancel(text),
        CreateAlias => k.create_alias(ALIAS, text),
        UpdateAlias => k.update_alias(ALIAS, text),
        CreateKeyVersion => k.rotate(text).map(drop),
        ImportKeyMaterial => k.import(text, &[0x77; 32]),
    }
}

#[test]
fn every_operation_in_every_state() {
    let mut checked = 0;
    for setup in SETUPS {
        for op in OPS {
            let mut k = Kms::new(100 + checked);
            // A key that UpdateAlias moves the alias away from.
            let bystander = k.key();
            if op == UpdateAlias {
                k.create_alias(ALIAS, bystander.as_str()).unwrap();
            }
            let key = setup.make(&mut k);
            k.advance(Duration::from_secs(3600));
            let before: KeyMetadata = k.describe(key.as_str()).unwrap();
            let versions_before: Vec<_> = k.provider.versions(&key).unwrap().collect();
            let result = run(&mut k, op, &key);
            let after = k.describe(key.as_str()).unwrap();
            let versions_after: Vec<_> = k.provider.versions(&key).unwrap().collect();
            let alias_target = k.describe(ALIAS).map(|m| m.key_id);
            let ctx = format!("{op:?} on {setup:?}");

            match expected(op, setup) {
                To(state) => {
                    assert_eq!(result, Ok(()), "{ctx}");
                    assert_eq!(after.key_state, state, "{ctx}");
                    if op == CreateKeyVersion {
                        assert_eq!(versions_after.len(), 2, "{ctx}");
                        assert_eq!(versions_after[0], versions_before[0], "{ctx}");
                        assert_eq!(after.primary_key_version, versions_after[1], "{ctx}");
                    } else {
                        assert_eq!(versions_after, versions_before, "{ctx}");
                        assert_eq!(after.primary_key_version, before.primary_key_version);
                    }
                    if matches!(op, CreateAlias | UpdateAlias) {
                        assert_eq!(alias_target, Ok(key), "{ctx}");
                    }
                    match op {
                        ScheduleKeyDeletion => {
                            // Scheduled at T0 + 1 h, 7 days later.
                            assert_eq!(
                                after.delete_date.as_deref(),
                                Some("2024-05-21T09:24:13Z"),
                                "{ctx}"
                            );
                        }
                        CancelKeyDeletion => assert_eq!(after.delete_date, None, "{ctx}"),
                        _ => assert_eq!(after.delete_date, before.delete_date, "{ctx}"),
                    }
                    check_data_path(&mut k, &key, state);
                }
                Refused | Unsupported => {
                    let err = expect_err(result);
                    if expected(op, setup) == Refused {
                        assert_state_refused::<()>(Err(err));
                    } else {
                        assert_unsupported::<()>(Err(err));
                    }
                    // Nothing changed: metadata (state, primary version, DeleteDate), versions,
                    // aliases.
                    assert_eq!(after, before, "{ctx}");
                    assert_eq!(versions_after, versions_before, "{ctx}");
                    match op {
                        CreateAlias => assert_alias_not_found(alias_target),
                        UpdateAlias => assert_eq!(alias_target, Ok(bystander), "{ctx}"),
                        _ => {}
                    }
                    check_data_path(&mut k, &key, setup.state());
                }
            }
            // The bystander is untouched whatever happened.
            assert_eq!(k.state(&bystander), "Enabled", "{ctx}");
            checked += 1;
        }
    }
    assert_eq!(checked, 72);
}

#[test]
fn the_table_has_every_column_covered() {
    // The setups reach all four states of the table, for both origins where they exist.
    let mut seen: Vec<(&str, bool)> = SETUPS.iter().map(|s| (s.state(), s.external())).collect();
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
fn repeated_enable_and_disable_are_idempotent() {
    let mut k = Kms::new(200);
    let key = k.key();
    let text = key.to_string();
    for _ in 0..2 {
        k.disable(&text).unwrap();
        assert_eq!(k.state(&key), "Disabled");
    }
    for _ in 0..2 {
        k.enable(&text).unwrap();
        assert_eq!(k.state(&key), "Enabled");
    }
    k.assert_round_trip(&text);
}

#[test]
fn disabled_key_blobs_decrypt_again_once_enabled() {
    let mut k = Kms::new(201);
    let key = k.key();
    let text = key.to_string();
    let made = k.gdk(&text).unwrap();
    k.disable(&text).unwrap();
    assert_rejected(k.decrypt(&made.ciphertext_blob), "Disabled");
    k.enable(&text).unwrap();
    let opened = k.decrypt(&made.ciphertext_blob).unwrap();
    assert_eq!(opened.plaintext.expose(), made.plaintext.expose());
}

#[test]
fn cancelled_external_key_without_material_can_still_be_imported() {
    let mut k = Kms::new(202);
    let key = ExternalPendingDeletionWithoutMaterial.make(&mut k);
    let text = key.to_string();
    assert_state_refused(k.import(&text, &[1; 32]));
    k.cancel(&text).unwrap();
    assert_eq!(k.state(&key), "PendingImport");
    k.import(&text, &[1; 32]).unwrap();
    assert_eq!(k.state(&key), "Enabled");
    let made = k.assert_round_trip(&text);
    assert!(open_with_material(&[1; 32], &made.ciphertext_blob).is_some());
}

#[test]
fn a_rotated_key_keeps_its_versions_through_disable_and_deletion_cancel() {
    let mut k = Kms::new(203);
    let key = k.key();
    let text = key.to_string();
    let old = k.gdk(&text).unwrap();
    let v2 = k.rotate(&text).unwrap().key_version_id;
    k.disable(&text).unwrap();
    assert_state_refused(k.rotate(&text));
    k.schedule(&text, "7").unwrap();
    k.cancel(&text).unwrap();
    assert_eq!(k.state(&key), "Enabled");
    assert_eq!(k.describe(&text).unwrap().primary_key_version, v2);
    assert_eq!(k.gdk(&text).unwrap().key_version_id, v2);
    k.decrypt(&old.ciphertext_blob).unwrap();
}

// ---------------------------------------------------------------------------------------------
// ScheduleKeyDeletion and the DeleteDate

#[test]
fn pending_window_bounds_and_delete_dates() {
    // (window, DeleteDate), from T0 = 2024-05-14T08:24:13Z (`date -u -d @SECS`).
    let valid = [
        ("7", "2024-05-21T08:24:13Z"),
        ("30", "2024-06-13T08:24:13Z"),
        ("365", "2025-05-14T08:24:13Z"),
        ("366", "2025-05-15T08:24:13Z"),
    ];
    for (days, date) in valid {
        let mut k = Kms::new(300);
        let key = k.key();
        k.schedule(key.as_str(), days).unwrap();
        let m = k.describe(key.as_str()).unwrap();
        assert_eq!(m.key_state, "PendingDeletion");
        assert_eq!(m.delete_date.as_deref(), Some(date), "{days}");
    }
    for days in ["6", "367"] {
        let mut k = Kms::new(301);
        let key = k.key();
        assert_invalid(k.schedule(key.as_str(), days), "PendingWindowInDays");
        let m = k.describe(key.as_str()).unwrap();
        assert_eq!((m.key_state.as_str(), m.delete_date), ("Enabled", None));
    }
}

#[test]
fn delete_dates_across_leap_days_and_centuries() {
    // (now, window, DeleteDate), each worked out with `date -u -d @SECS +%FT%TZ`.
    let cases = [
        (1_709_251_199, "7", "2024-03-07T23:59:59Z"), // from 2024-02-29T23:59:59Z
        (1_709_251_199, "366", "2025-03-01T23:59:59Z"),
        (946_684_799, "7", "2000-01-07T23:59:59Z"), // from 1999-12-31T23:59:59Z
        (946_684_799, "366", "2000-12-31T23:59:59Z"), // 2000 is a leap year
        (4_101_926_399, "7", "2100-01-01T23:59:59Z"), // from 2099-12-25T23:59:59Z
        (4_107_499_200, "7", "2100-03-07T12:00:00Z"), // 2100 is not a leap year
        (4_107_499_200, "366", "2101-03-01T12:00:00Z"),
    ];
    for (now, days, date) in cases {
        let mut k = Kms::new(302);
        k.now = secs(now);
        let key = k.key();
        k.schedule(key.as_str(), days).unwrap();
        assert_eq!(
            k.describe(key.as_str()).unwrap().delete_date.as_deref(),
            Some(date),
            "{now} + {days}"
        );
    }
}

/// A world with a key (and an alias, and a blob sealed under it) scheduled for deletion at
/// T0 + `days`, plus an untouched key.
struct Doomed {
    k: Kms,
    key: KeyId,
    keeper: KeyId,
    blob: String,
    keeper_blob: String,
    delete_at: Duration,
}

fn doomed(days: u64, seed: u64) -> Doomed {
    let mut k = Kms::new(seed);
    let key = k.key();
    let keeper = k.key();
    k.create_alias("alias/doomed", key.as_str()).unwrap();
    k.create_alias("alias/doomed-too", key.as_str()).unwrap();
    k.create_alias("alias/keeper", keeper.as_str()).unwrap();
    let blob = k.gdk(key.as_str()).unwrap().ciphertext_blob;
    let keeper_blob = k.gdk(keeper.as_str()).unwrap().ciphertext_blob;
    k.schedule(key.as_str(), &days.to_string()).unwrap();
    Doomed {
        delete_at: secs(T0_SECS + days * DAY_SECS),
        k,
        key,
        keeper,
        blob,
        keeper_blob,
    }
}

fn assert_still_pending(d: &mut Doomed) {
    let m = d.k.describe(d.key.as_str()).unwrap();
    assert_eq!(m.key_state, "PendingDeletion");
    assert_rejected(d.k.decrypt(&d.blob), "PendingDeletion");
    assert_rejected(d.k.gdk("alias/doomed"), "PendingDeletion");
    assert_eq!(d.k.all_keys_of(&owner()), [d.key, d.keeper]);
    assert_eq!(d.k.all_aliases_of(&owner()).len(), 3);
}

fn assert_gone(d: &mut Doomed) {
    let key = d.key;
    assert_key_not_found(d.k.describe(key.as_str()));
    assert_key_not_found(d.k.describe(&key_arn(REGION, ACCOUNT, &key)));
    assert_alias_not_found(d.k.describe("alias/doomed"));
    assert_alias_not_found(d.k.describe(&alias_arn(REGION, ACCOUNT, "alias/doomed-too")));
    assert_key_not_found(d.k.decrypt(&d.blob));
    assert_key_not_found(d.k.gdk(key.as_str()));
    assert_alias_not_found(d.k.gdk("alias/doomed"));
    let keys = d.k.all_keys_of(&owner());
    assert!(!keys.contains(&key) && keys.contains(&d.keeper), "{keys:?}");
    let aliases = d.k.all_aliases_of(&owner());
    assert!(aliases.contains(&("alias/keeper".to_string(), d.keeper)));
    assert!(
        aliases
            .iter()
            .all(|(name, target)| *target != key && !name.starts_with("alias/doomed")),
        "{aliases:?}"
    );
    // The other key is untouched.
    assert_eq!(d.k.state(&d.keeper), "Enabled");
    d.k.decrypt(&d.keeper_blob).unwrap();
    // Every management operation on the deleted key: KeyNotFound.
    assert_key_not_found(d.k.enable(key.as_str()));
    assert_key_not_found(d.k.cancel(key.as_str()));
    assert_key_not_found(d.k.schedule(key.as_str(), "7"));
    assert_key_not_found(d.k.rotate(key.as_str()));
    assert_key_not_found(d.k.create_alias("alias/new", key.as_str()));
    // The alias names are free again.
    d.k.create_alias("alias/doomed", d.keeper.as_str()).unwrap();
    assert_eq!(d.k.describe("alias/doomed").unwrap().key_id, d.keeper);
}

#[test]
fn key_is_deleted_at_its_delete_date_and_not_before() {
    for days in [7, 366] {
        // Just before: one second, and one nanosecond.
        for early in [Duration::from_secs(1), Duration::from_nanos(1)] {
            let mut d = doomed(days, 310);
            d.k.now = d.delete_at - early;
            assert_still_pending(&mut d);
        }
        // At the date (deleted "at or before now", src/in_memory.rs), and well after.
        for late in [
            Duration::ZERO,
            Duration::from_secs(1),
            Duration::from_secs(400 * DAY_SECS),
        ] {
            let mut d = doomed(days, 311);
            d.k.now = d.delete_at + late;
            assert_gone(&mut d);
        }
    }
}

#[test]
fn delete_date_text_is_when_the_key_goes() {
    // DescribeKey's DeleteDate, read back as a time, is the first second the key is gone.
    let mut d = doomed(7, 312);
    let date = d.k.describe(d.key.as_str()).unwrap().delete_date.unwrap();
    assert_eq!(date, "2024-05-21T08:24:13Z");
    d.k.now = secs(1_716_279_853 - 1); // `date -u -d 2024-05-21T08:24:13Z +%s` - 1
    assert_still_pending(&mut d);
    d.k.now = secs(1_716_279_853);
    assert_gone(&mut d);
}

/// Each management operation, at a time past the date, deletes the key before doing its own
/// work. Returns the operation's name.
fn trigger(k: &mut Kms, which: usize, keeper: &KeyId) -> &'static str {
    let text = keeper.as_str();
    match which {
        0 => {
            k.describe(text).unwrap();
            "DescribeKey"
        }
        1 => {
            k.list_keys_as(&owner(), None, None).unwrap();
            "ListKeys"
        }
        2 => {
            k.list_aliases_as(&owner(), None, None).unwrap();
            "ListAliases"
        }
        3 => {
            k.create(&CreateKeyRequest::default()).unwrap();
            "CreateKey"
        }
        4 => {
            k.enable(text).unwrap();
            "EnableKey"
        }
        5 => {
            k.disable(text).unwrap();
            k.enable(text).unwrap();
            "DisableKey"
        }
        6 => {
            k.schedule(text, "7").unwrap();
            k.cancel(text).unwrap();
            "ScheduleKeyDeletion"
        }
        7 => {
            k.rotate(text).unwrap();
            "CreateKeyVersion"
        }
        8 => {
            k.create_alias("alias/trigger", text).unwrap();
            "CreateAlias"
        }
        9 => {
            k.update_alias("alias/keeper", text).unwrap();
            "UpdateAlias"
        }
        10 => {
            assert_alias_not_found(k.delete_alias("alias/nothing"));
            "DeleteAlias"
        }
        11 => {
            let ext = k.external_key("Aliyun_AES_128");
            k.import(ext.as_str(), &[2; 16]).unwrap();
            "ImportKeyMaterial"
        }
        12 => {
            // A failing operation deletes too.
            assert_key_not_found(k.describe(UNKNOWN_KEY_ID));
            "DescribeKey (failing)"
        }
        _ => unreachable!(),
    }
}

#[test]
fn any_management_operation_past_the_date_deletes_the_key() {
    for which in 0..13 {
        let mut d = doomed(7, 320 + which as u64);
        d.k.now = d.delete_at;
        // Data-key operations take no time: until a management operation runs, the key is
        // still there, pending deletion.
        assert_rejected(d.k.decrypt(&d.blob), "PendingDeletion");
        assert_eq!(d.k.provider.len(), 2);
        let name = trigger(&mut d.k, which, &d.keeper);
        assert_key_not_found(d.k.decrypt(&d.blob));
        assert!(d.k.provider.describe(&d.key).is_err(), "{name}");
        assert_gone(&mut d);
    }
}

#[test]
fn several_keys_go_each_at_its_own_date() {
    let mut k = Kms::new(330);
    let windows = [30u64, 7, 366, 7, 100];
    let keys: Vec<KeyId> = windows
        .iter()
        .map(|days| {
            let key = k.key();
            k.schedule(key.as_str(), &days.to_string()).unwrap();
            key
        })
        .collect();
    let survivor = k.key();
    let mut checkpoints: Vec<u64> = windows.to_vec();
    checkpoints.sort_unstable();
    checkpoints.dedup();
    for day in checkpoints {
        // A second before the day, exactly the keys of earlier windows are gone.
        k.now = secs(T0_SECS + day * DAY_SECS - 1);
        let expected: Vec<KeyId> = keys
            .iter()
            .zip(windows)
            .filter(|&(_, w)| w >= day)
            .map(|(key, _)| *key)
            .chain([survivor])
            .collect();
        assert_eq!(k.all_keys_of(&owner()), expected, "day {day} - 1s");
        k.now = secs(T0_SECS + day * DAY_SECS);
        let expected: Vec<KeyId> = keys
            .iter()
            .zip(windows)
            .filter(|&(_, w)| w > day)
            .map(|(key, _)| *key)
            .chain([survivor])
            .collect();
        assert_eq!(k.all_keys_of(&owner()), expected, "day {day}");
    }
    assert_eq!(k.provider.len(), 1);
}

#[test]
fn cancel_key_deletion_restores_the_key_and_drops_the_date() {
    for start_disabled in [false, true] {
        let mut k = Kms::new(340);
        let key = k.key();
        let text = key.to_string();
        k.create_alias("alias/saved", &text).unwrap();
        let made = k.gdk(&text).unwrap();
        if start_disabled {
            k.disable(&text).unwrap();
        }
        k.schedule(&text, "7").unwrap();
        k.now = secs(T0_SECS + 7 * DAY_SECS - 1);
        k.cancel(&text).unwrap();
        let m = k.describe(&text).unwrap();
        assert_eq!(m.key_state, "Enabled");
        assert_eq!(m.delete_date, None);
        // Long after the old date, the key is still there and works.
        k.now = secs(T0_SECS + 1000 * DAY_SECS);
        k.list_keys_as(&owner(), None, None).unwrap();
        assert_eq!(k.state(&key), "Enabled");
        let opened = k.decrypt(&made.ciphertext_blob).unwrap();
        assert_eq!(opened.plaintext.expose(), made.plaintext.expose());
        assert_eq!(k.describe("alias/saved").unwrap().key_id, key);
        // A new schedule counts from the new now.
        k.schedule(&text, "7").unwrap();
        assert_eq!(
            k.describe(&text).unwrap().delete_date.as_deref(),
            Some("2027-02-15T08:24:13Z") // T0 + 1007 days (`date -u -d @...`)
        );
        k.now += secs(7 * DAY_SECS);
        assert_key_not_found(k.describe(&text));
    }
}

#[test]
fn cancel_at_the_date_is_too_late() {
    let mut d = doomed(7, 350);
    d.k.now = d.delete_at;
    assert_key_not_found(d.k.cancel(d.key.as_str()));
    assert_gone(&mut d);
}

#[test]
fn scheduling_again_is_refused_and_keeps_the_first_date() {
    let mut d = doomed(30, 351);
    d.k.advance(Duration::from_secs(DAY_SECS));
    for days in ["7", "366"] {
        assert_state_refused(d.k.schedule(d.key.as_str(), days));
    }
    assert_eq!(
        d.k.describe(d.key.as_str()).unwrap().delete_date.as_deref(),
        Some("2024-06-13T08:24:13Z")
    );
    // Still deleted at the first date, not at a later one.
    d.k.now = d.delete_at;
    assert_gone(&mut d);
}

#[test]
fn pending_import_key_can_be_scheduled_and_deleted() {
    let mut k = Kms::new(352);
    let key = k.external_key("Aliyun_AES_256");
    k.schedule(key.as_str(), "7").unwrap();
    assert_eq!(k.state(&key), "PendingDeletion");
    k.now += secs(7 * DAY_SECS);
    assert_key_not_found(k.describe(key.as_str()));
    assert!(k.provider.is_empty());
}
