//! ScheduleKeyDeletion, CancelKeyDeletion and the deletions themselves (`delete_due_keys`,
//! `delete_key`): the window and the deletion date, a key gone for management from its date on
//! and gone from the provider once housekeeping commits its deletion, cancellation, and keys
//! pending import.

use core::time::Duration;

use kms_core::management::{self, CommitError, CreateKey, KeyStore, Page, params};
use kms_core::time::Timestamp;
use kms_core::{KeyId, KeyState, MasterKeySpec};

use crate::support::*;
use crate::testkit::*;

// ---------------------------------------------------------------------------------------------
// The window and the date

#[test]
fn schedule_key_deletion_window_parameter() {
    let mut k = Kms::new(40);
    let key = k.key();
    let text = key.to_string();
    assert_row(
        k.schedule_text(&text, None),
        Row::missing("PendingWindowInDays"),
    );
    let invalid = [
        "6",
        "0",
        "367",
        "1000",
        "",
        "x",
        "-7",
        "+7",
        "7.0",
        " 7",
        "7 ",
        "07a",
        "١٠",
        "1e1",
        "99999999999999999999",
    ];
    for days in invalid {
        assert_row(
            k.schedule_text(&text, Some(days)),
            Row::invalid("PendingWindowInDays"),
        );
        let m = k.describe(&text).unwrap();
        assert_eq!(
            (m.state, m.delete_at),
            (KeyState::Enabled, None),
            "{days:?}"
        );
    }
    // The typed window is checked too, before the key is looked up.
    for days in [0, 6, 367, u16::MAX] {
        assert_row(k.schedule(&text, days), Row::invalid("PendingWindowInDays"));
        assert_row(
            k.schedule(UNKNOWN_KEY_ID, days),
            Row::invalid("PendingWindowInDays"),
        );
    }
    for (days, n) in [("7", 7), ("30", 30), ("366", 366)] {
        assert_eq!(params::pending_window_in_days(Some(days)), Ok(n));
        k.schedule_text(&text, Some(days)).unwrap();
        assert_eq!(k.state(&key), KeyState::PendingDeletion);
        k.cancel(&text).unwrap();
    }
}

#[test]
fn a_date_past_the_end_of_time_is_an_invalid_window() {
    let mut k = Kms::new(41);
    let key = k.key();
    k.now = Duration::new(u64::MAX - DAY_SECS, 0);
    assert_row(
        k.schedule(key.as_str(), 7),
        Row::invalid("PendingWindowInDays"),
    );
    assert_eq!(k.stored(&key).unwrap().state, KeyState::Enabled);
}

#[test]
fn pending_window_bounds_and_delete_dates() {
    // (window, DeleteDate), from T0 = 2024-05-14T08:24:13Z (`date -u -d @SECS`).
    let valid = [
        (7, "2024-05-21T08:24:13Z"),
        (30, "2024-06-13T08:24:13Z"),
        (365, "2025-05-14T08:24:13Z"),
        (366, "2025-05-15T08:24:13Z"),
    ];
    for (days, date) in valid {
        let mut k = Kms::new(300);
        let key = k.key();
        let answer = k.schedule(key.as_str(), days).unwrap();
        let m = k.describe(key.as_str()).unwrap();
        assert_eq!(answer, m);
        assert_eq!(m.state, KeyState::PendingDeletion);
        assert_eq!(m.delete_at, Some(T0 + secs(u64::from(days) * DAY_SECS)));
        assert_eq!(Timestamp(m.delete_at.unwrap()).to_string(), date, "{days}");
    }
}

#[test]
fn delete_dates_across_leap_days_and_centuries() {
    // (now, window, DeleteDate), each worked out with `date -u -d @SECS +%FT%TZ`.
    let cases = [
        (1_709_251_199, 7, "2024-03-07T23:59:59Z"), // from 2024-02-29T23:59:59Z
        (1_709_251_199, 366, "2025-03-01T23:59:59Z"),
        (946_684_799, 7, "2000-01-07T23:59:59Z"), // from 1999-12-31T23:59:59Z
        (946_684_799, 366, "2000-12-31T23:59:59Z"), // 2000 is a leap year
        (4_101_926_399, 7, "2100-01-01T23:59:59Z"), // from 2099-12-25T23:59:59Z
        (4_107_499_200, 7, "2100-03-07T12:00:00Z"), // 2100 is not a leap year
        (4_107_499_200, 366, "2101-03-01T12:00:00Z"),
    ];
    for (now, days, date) in cases {
        let mut k = Kms::new(302);
        k.now = secs(now);
        let key = k.key();
        k.schedule(key.as_str(), days).unwrap();
        let delete_at = k.describe(key.as_str()).unwrap().delete_at.unwrap();
        assert_eq!(Timestamp(delete_at).to_string(), date, "{now} + {days}");
    }
}

#[test]
fn schedule_and_cancel_accept_every_key_id_form() {
    let mut k = Kms::new(42);
    let key = k.key();
    k.create_alias("alias/x", key.as_str()).unwrap();
    let forms = [
        key.to_string(),
        "alias/x".to_string(),
        key_arn(REGION, ACCOUNT, &key),
        alias_arn(REGION, ACCOUNT, "alias/x"),
    ];
    for form in &forms {
        k.schedule(form, 7).unwrap();
        assert_eq!(k.state(&key), KeyState::PendingDeletion, "{form}");
        k.cancel(form).unwrap();
        assert_eq!(k.state(&key), KeyState::Enabled, "{form}");
    }
}

// ---------------------------------------------------------------------------------------------
// Deletion at the date

/// A world with a key (two aliases, a blob sealed under it) scheduled for deletion at
/// T0 + `days`, and an untouched key with an alias and a blob of its own.
struct Doomed {
    k: Kms,
    key: KeyId,
    keeper: KeyId,
    blob: String,
    keeper_blob: String,
    delete_at: Duration,
}

fn doomed(days: u16, seed: u64) -> Doomed {
    let mut k = Kms::new(seed);
    let key = k.key();
    let keeper = k.key();
    k.create_alias("alias/doomed", key.as_str()).unwrap();
    k.create_alias("alias/doomed-too", key.as_str()).unwrap();
    k.create_alias("alias/keeper", keeper.as_str()).unwrap();
    let blob = k.gdk(key.as_str()).unwrap().ciphertext_blob;
    let keeper_blob = k.gdk(keeper.as_str()).unwrap().ciphertext_blob;
    k.schedule(key.as_str(), days).unwrap();
    Doomed {
        delete_at: T0 + secs(u64::from(days) * DAY_SECS),
        k,
        key,
        keeper,
        blob,
        keeper_blob,
    }
}

fn assert_still_pending(d: &mut Doomed) {
    let m = d.k.describe(d.key.as_str()).unwrap();
    assert_eq!(m.state, KeyState::PendingDeletion);
    assert_row(d.k.decrypt(&d.blob), Row::rejected("PendingDeletion"));
    assert_row(d.k.gdk("alias/doomed"), Row::rejected("PendingDeletion"));
    assert_eq!(d.k.all_keys_of(&owner()), [d.key, d.keeper]);
    assert_eq!(d.k.all_aliases_of(&owner()).len(), 3);
    assert!(
        management::delete_due_keys(&d.k.provider, d.k.now)
            .unwrap()
            .is_none()
    );
}

/// What management shows of the doomed key from its date on, whether or not housekeeping has
/// deleted it yet.
fn assert_gone_for_management(d: &mut Doomed) {
    let key = d.key;
    assert_row(d.k.describe(key.as_str()), Row::key_not_found());
    assert_row(
        d.k.describe(&key_arn(REGION, ACCOUNT, &key)),
        Row::key_not_found(),
    );
    assert_row(d.k.describe("alias/doomed"), Row::alias_not_found());
    assert_row(
        d.k.describe(&alias_arn(REGION, ACCOUNT, "alias/doomed-too")),
        Row::alias_not_found(),
    );
    assert_eq!(d.k.all_keys_of(&owner()), [d.keeper]);
    assert_eq!(
        d.k.all_aliases_of(&owner()),
        [("alias/keeper".to_string(), d.keeper)]
    );
    // Every management operation on the key: KeyNotFound, and nothing staged.
    for op in KeyOp::ALL {
        let r = op.run(&mut d.k, &owner(), key.as_str());
        assert_row(r, Row::key_not_found());
    }
    // The other key is untouched.
    assert_eq!(d.k.state(&d.keeper), KeyState::Enabled);
    d.k.decrypt(&d.keeper_blob).unwrap();
}

/// What everyone shows of the doomed key once its deletion is committed.
fn assert_deleted(d: &mut Doomed) {
    let key = d.key;
    assert_gone_for_management(d);
    assert_row(d.k.decrypt(&d.blob), Row::key_not_found());
    assert_row(d.k.gdk(key.as_str()), Row::key_not_found());
    assert_row(d.k.gdk("alias/doomed"), Row::alias_not_found());
    assert!(d.k.stored(&key).is_none());
    assert_eq!(d.k.provider.len(), 1);
    assert_eq!(d.k.provider.keys_of(ACCOUNT, REGION), [d.keeper]);
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
        // At the date (due "at or before now") and well after.
        for late in [
            Duration::ZERO,
            Duration::from_secs(1),
            Duration::from_secs(400 * DAY_SECS),
        ] {
            let mut d = doomed(days, 311);
            d.k.now = d.delete_at + late;
            // Gone for management at once; the data-key operations still see the key, pending
            // deletion, until housekeeping commits the deletion.
            assert_gone_for_management(&mut d);
            assert_row(d.k.decrypt(&d.blob), Row::rejected("PendingDeletion"));
            assert_row(d.k.gdk(d.key.as_str()), Row::rejected("PendingDeletion"));
            assert_row(d.k.gdk("alias/doomed"), Row::rejected("PendingDeletion"));
            assert_eq!(d.k.provider.len(), 2);
            assert_eq!(d.k.delete_due(), [d.key]);
            assert_deleted(&mut d);
        }
    }
}

#[test]
fn the_delete_date_is_when_the_key_goes() {
    // DescribeKey's date, read back as a time, is the first instant the key is gone.
    let mut d = doomed(7, 312);
    let date = d.k.describe(d.key.as_str()).unwrap().delete_at.unwrap();
    assert_eq!(Timestamp(date).to_string(), "2024-05-21T08:24:13Z");
    d.k.now = secs(1_716_279_853 - 1); // `date -u -d 2024-05-21T08:24:13Z +%s` - 1
    assert_still_pending(&mut d);
    d.k.now = secs(1_716_279_853);
    assert_gone_for_management(&mut d);
    assert_eq!(d.k.delete_due(), [d.key]);
    assert_deleted(&mut d);
}

/// A management operation at the date, on the other key or none. Returns its name.
fn other_operation(k: &mut Kms, which: usize, keeper: &KeyId) -> &'static str {
    let text = keeper.as_str();
    match which {
        0 => {
            k.describe(text).unwrap();
            "DescribeKey"
        }
        1 => {
            k.list_keys_as(&owner(), Page::default());
            "ListKeys"
        }
        2 => {
            k.list_aliases_as(&owner(), Page::default());
            "ListAliases"
        }
        3 => {
            k.create(&CreateKey::new()).unwrap();
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
            k.schedule(text, 7).unwrap();
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
            assert_row(k.delete_alias("alias/nothing"), Row::alias_not_found());
            "DeleteAlias"
        }
        11 => {
            let ext = k.external_key(MasterKeySpec::Aes128);
            k.import(ext.as_str(), &[2; 16]).unwrap();
            "ImportKeyMaterial"
        }
        12 => {
            assert_row(k.describe(UNKNOWN_KEY_ID), Row::key_not_found());
            "DescribeKey (failing)"
        }
        _ => unreachable!(),
    }
}

#[test]
fn only_housekeeping_deletes_a_due_key() {
    // No other management operation deletes a key whose date has come (a past version deleted
    // due keys as a side effect of whichever operation ran next): the key stays in the
    // provider, pending deletion for the data-key operations, until `delete_due_keys` is
    // committed.
    for which in 0..13 {
        let mut d = doomed(7, 320 + which as u64);
        d.k.now = d.delete_at;
        let name = other_operation(&mut d.k, which, &d.keeper);
        assert!(d.k.stored(&d.key).is_some(), "{name}");
        assert_eq!(
            d.k.provider.describe(&d.key).unwrap().state,
            KeyState::PendingDeletion,
            "{name}"
        );
        assert_row(d.k.decrypt(&d.blob), Row::rejected("PendingDeletion"));
        assert_row(d.k.describe(d.key.as_str()), Row::key_not_found());
        assert_eq!(d.k.delete_due(), [d.key], "{name}");
        assert_row(d.k.decrypt(&d.blob), Row::key_not_found());
        assert!(d.k.provider.describe(&d.key).is_err(), "{name}");
    }
}

#[test]
fn several_keys_go_each_at_its_own_date() {
    let mut k = Kms::new(330);
    let windows = [30u16, 7, 366, 7, 100];
    let keys: Vec<KeyId> = windows
        .iter()
        .map(|&days| {
            let key = k.key();
            k.schedule(key.as_str(), days).unwrap();
            key
        })
        .collect();
    let survivor = k.key();
    let mut checkpoints: Vec<u16> = windows.to_vec();
    checkpoints.sort_unstable();
    checkpoints.dedup();
    for day in checkpoints {
        let at = T0 + secs(u64::from(day) * DAY_SECS);
        let with_window = |keep: &dyn Fn(u16) -> bool| -> Vec<KeyId> {
            keys.iter()
                .zip(windows)
                .filter(|&(_, w)| keep(w))
                .map(|(key, _)| *key)
                .collect()
        };
        // A second before the day, the keys of this and later windows are listed, and nothing
        // is due.
        k.now = at - secs(1);
        let mut expected = with_window(&|w| w >= day);
        expected.push(survivor);
        assert_eq!(k.all_keys_of(&owner()), expected, "day {day} - 1s");
        assert_eq!(k.delete_due(), Vec::<KeyId>::new(), "day {day} - 1s");
        // On the day, this window's keys go, in the order they were made.
        k.now = at;
        let mut expected = with_window(&|w| w > day);
        expected.push(survivor);
        assert_eq!(k.all_keys_of(&owner()), expected, "day {day}");
        assert_eq!(k.delete_due(), with_window(&|w| w == day), "day {day}");
        assert_eq!(k.provider.len(), expected.len());
    }
    assert_eq!(k.provider.keys_of(ACCOUNT, REGION), [survivor]);
}

#[test]
fn nothing_due_stages_nothing() {
    let mut k = Kms::new(331);
    assert!(
        management::delete_due_keys(&k.provider, k.now)
            .unwrap()
            .is_none()
    );
    let key = k.key();
    k.schedule(key.as_str(), 7).unwrap();
    assert!(
        management::delete_due_keys(&k.provider, T0 + secs(7 * DAY_SECS) - secs(1))
            .unwrap()
            .is_none()
    );
    let staged = management::delete_due_keys(&k.provider, T0 + secs(7 * DAY_SECS))
        .unwrap()
        .unwrap();
    assert_eq!(staged.output(), &[key]);
}

#[test]
fn a_staged_housekeeping_is_invisible_until_committed_and_conflicts_once_stale() {
    let mut d = doomed(7, 332);
    d.k.now = d.delete_at;
    let staged = management::delete_due_keys(&d.k.provider, d.k.now)
        .unwrap()
        .unwrap();
    // Not committed: the key is still there for the data-key operations.
    assert_row(d.k.decrypt(&d.blob), Row::rejected("PendingDeletion"));
    // Something else commits first: the staged deletion is stale.
    d.k.key();
    let before = fingerprint(&d.k.provider);
    assert_eq!(
        d.k.provider.commit(staged.into_change()),
        Err(CommitError::Conflict)
    );
    assert_eq!(fingerprint(&d.k.provider), before);
    assert_row(d.k.decrypt(&d.blob), Row::rejected("PendingDeletion"));
    // Staged again, it goes through.
    assert_eq!(d.k.delete_due(), [d.key]);
    assert_row(d.k.decrypt(&d.blob), Row::key_not_found());
}

// ---------------------------------------------------------------------------------------------
// Cancellation and explicit deletion

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
        k.schedule(&text, 7).unwrap();
        k.now = T0 + secs(7 * DAY_SECS - 1);
        let answer = k.cancel(&text).unwrap();
        let m = k.describe(&text).unwrap();
        assert_eq!(answer, m);
        assert_eq!(m.state, KeyState::Enabled);
        assert_eq!(m.delete_at, None);
        // Long after the old date, the key is still there and works.
        k.now = T0 + secs(1000 * DAY_SECS);
        assert_eq!(k.delete_due(), Vec::<KeyId>::new());
        assert_eq!(k.state(&key), KeyState::Enabled);
        let opened = k.decrypt(&made.ciphertext_blob).unwrap();
        assert_eq!(opened.plaintext.expose(), made.plaintext.expose());
        assert_eq!(k.describe("alias/saved").unwrap().key_id, key);
        // A new schedule counts from the new now.
        k.schedule(&text, 7).unwrap();
        let delete_at = k.describe(&text).unwrap().delete_at.unwrap();
        // T0 + 1007 days (`date -u -d @...`).
        assert_eq!(Timestamp(delete_at).to_string(), "2027-02-15T08:24:13Z");
        k.now += secs(7 * DAY_SECS);
        assert_row(k.describe(&text), Row::key_not_found());
    }
}

#[test]
fn cancel_is_refused_unless_pending_deletion() {
    let mut k = Kms::new(341);
    let enabled = k.key();
    let disabled = k.key();
    k.disable(disabled.as_str()).unwrap();
    let importing = k.external_key(MasterKeySpec::Aes256);
    for key in [enabled, disabled, importing] {
        let before = k.describe(key.as_str()).unwrap();
        assert_row(k.cancel(key.as_str()), Row::state_modified_failed());
        assert_eq!(k.describe(key.as_str()).unwrap(), before);
    }
}

#[test]
fn cancel_at_the_date_is_too_late() {
    let mut d = doomed(7, 350);
    d.k.now = d.delete_at;
    assert_row(d.k.cancel(d.key.as_str()), Row::key_not_found());
    assert_row(d.k.cancel("alias/doomed"), Row::alias_not_found());
    assert_gone_for_management(&mut d);
    assert_eq!(d.k.delete_due(), [d.key]);
    assert_deleted(&mut d);
}

#[test]
fn scheduling_again_is_refused_and_keeps_the_first_date() {
    let mut d = doomed(30, 351);
    d.k.advance(Duration::from_secs(DAY_SECS));
    for days in [7, 366] {
        assert_row(
            d.k.schedule(d.key.as_str(), days),
            Row::state_modified_failed(),
        );
    }
    let delete_at = d.k.describe(d.key.as_str()).unwrap().delete_at.unwrap();
    assert_eq!(Timestamp(delete_at).to_string(), "2024-06-13T08:24:13Z");
    // Still deleted at the first date, not at a later one.
    d.k.now = d.delete_at;
    assert_gone_for_management(&mut d);
    assert_eq!(d.k.delete_due(), [d.key]);
    assert_deleted(&mut d);
}

#[test]
fn pending_import_key_can_be_scheduled_and_deleted() {
    let mut k = Kms::new(352);
    let key = k.external_key(MasterKeySpec::Aes256);
    k.schedule(key.as_str(), 7).unwrap();
    assert_eq!(k.state(&key), KeyState::PendingDeletion);
    k.now += secs(7 * DAY_SECS);
    assert_row(k.describe(key.as_str()), Row::key_not_found());
    assert_eq!(k.delete_due(), [key]);
    assert!(k.provider.is_empty());
}

#[test]
fn delete_key_deletes_a_key_pending_deletion_before_its_date() {
    let mut k = Kms::new(353);
    let key = k.key();
    let keeper = k.key();
    k.create_alias("alias/gone", key.as_str()).unwrap();
    let blob = k.gdk(key.as_str()).unwrap().ciphertext_blob;
    // Only a key pending deletion, and only its owner.
    assert_row(
        k.commit(management::delete_key(
            &k.provider,
            &owner(),
            &key.into(),
            k.now,
        )),
        Row::state_modified_failed(),
    );
    k.schedule(key.as_str(), 30).unwrap();
    k.provider.allow_account(&key, OTHER_ACCOUNT).unwrap();
    let arn = key_arn(REGION, ACCOUNT, &key);
    let r = management::delete_key(&k.provider, &other(), &reference(&arn), k.now);
    assert_row(r, Row::no_permission());
    // By alias, a day after scheduling: gone at once.
    k.advance(secs(DAY_SECS));
    let staged = management::delete_key(&k.provider, &owner(), &reference("alias/gone"), k.now);
    assert_row(k.gdk("alias/gone"), Row::rejected("PendingDeletion"));
    k.commit(staged).unwrap();
    assert_row(k.describe(key.as_str()), Row::key_not_found());
    assert_row(k.decrypt(&blob), Row::key_not_found());
    assert_row(k.gdk("alias/gone"), Row::alias_not_found());
    assert_eq!(k.all_keys_of(&owner()), [keeper]);
    // Nothing is left for housekeeping at the old date.
    k.now = T0 + secs(30 * DAY_SECS);
    assert_eq!(k.delete_due(), Vec::<KeyId>::new());
}

#[test]
fn a_staged_schedule_is_invisible_until_committed() {
    let mut k = Kms::new(354);
    let key = k.key();
    let staged =
        management::schedule_key_deletion(&k.provider, &owner(), &key.into(), 7, k.now).unwrap();
    assert_eq!(staged.output().state, KeyState::PendingDeletion);
    assert_eq!(staged.output().delete_at, Some(T0 + secs(7 * DAY_SECS)));
    let m = k.describe(key.as_str()).unwrap();
    assert_eq!((m.state, m.delete_at), (KeyState::Enabled, None));
    k.assert_round_trip(key.as_str());
    // Not even at the date it names.
    assert!(
        management::delete_due_keys(&k.provider, T0 + secs(7 * DAY_SECS))
            .unwrap()
            .is_none()
    );
    k.provider.apply(staged).unwrap();
    assert_eq!(k.state(&key), KeyState::PendingDeletion);
    assert_row(k.gdk(key.as_str()), Row::rejected("PendingDeletion"));
}

#[test]
fn a_due_key_whose_material_is_unavailable_does_not_block_housekeeping() {
    // `due_deletions` goes by the stored state (PendingDeletion) and finds the key, but
    // `KeyMeta::lifecycle()` hands `transition` the reported state, Unavailable, which refuses
    // Delete: the whole batch fails, and no due key is ever deleted while the outage lasts.
    let mut d = doomed(7, 355);
    let second = d.k.key();
    d.k.schedule(second.as_str(), 7).unwrap();
    d.k.provider.set_unavailable(&d.key, true).unwrap();
    d.k.now = d.delete_at;
    let staged = management::delete_due_keys(&d.k.provider, d.k.now);
    let deleted = d.k.commit(staged.map(Option::unwrap));
    assert_eq!(deleted, Ok(vec![d.key, second]));
    assert_eq!(d.k.provider.keys_of(ACCOUNT, REGION), [d.keeper]);
}

#[test]
fn a_due_key_whose_material_is_unavailable_is_gone_for_management() {
    // ListKeys and ListAliases go by the stored state; DescribeKey and the alias operations
    // (`KeyMeta::due_at`) by the reported one, Unavailable, which is never due.
    let mut d = doomed(7, 356);
    d.k.provider.set_unavailable(&d.key, true).unwrap();
    d.k.now = d.delete_at;
    assert_eq!(d.k.all_keys_of(&owner()), [d.keeper]);
    assert_eq!(
        d.k.all_aliases_of(&owner()),
        [("alias/keeper".to_string(), d.keeper)]
    );
    assert_row(d.k.describe(d.key.as_str()), Row::key_not_found());
    assert_row(d.k.describe("alias/doomed"), Row::alias_not_found());
    // The alias name is free, as for any due key.
    d.k.create_alias("alias/doomed", d.keeper.as_str()).unwrap();
}
