//! Records (`kms_core::in_memory::records`): what `record_changes` says a staged change does
//! to the records, applied to a plain model of a row store, always rebuilds (with
//! `from_records`) the provider the commits made: the same records, the same order of keys,
//! the same seal counts, and blobs sealed before still open. Bodies that break the format, and
//! record sets that do not hang together, are refused. A follower that applies, now and then,
//! the rows changed since it last looked (`apply_records`, as a replica of a shared store does)
//! ends with the same records and opens the same blobs.

use std::time::Duration;

use base64ct::Encoding;
use std::collections::{BTreeSet, HashSet};

use kms_core::in_memory::records::{Record, RecordChange, RecordKind, StoredChange, StoredRecord};
use kms_core::management::{self, CommitError, CreateKey, KeyPolicy, KeyStore, Staged};
use kms_core::ops::{self, DecryptRequest, GenerateDataKeyRequest};
use kms_core::snapshot::SnapshotError;
use kms_core::{Caller, InMemoryProvider, KeyId, KeyOrigin, KeyReference, Permission};
use proptest::prelude::*;

use crate::support::*;
use crate::testkit::*;

/// A row store as a frontend would keep it: keys in creation order (a rewritten key keeps its
/// place), versions in the order written, aliases by name.
#[derive(Default)]
struct Rows {
    keys: Vec<(String, Vec<u8>)>,
    versions: Vec<(String, KeyId, Vec<u8>)>,
    aliases: Vec<(String, KeyId, Vec<u8>)>,
}

impl Rows {
    fn put(&mut self, record: &Record) {
        let body = record.body.to_vec();
        let (name, key_id) = (record.name.clone(), record.key_id);
        match record.kind {
            RecordKind::Key => match self.keys.iter_mut().find(|(n, _)| *n == name) {
                Some(row) => row.1 = body,
                None => self.keys.push((name, body)),
            },
            RecordKind::Version => match self.versions.iter_mut().find(|(n, ..)| *n == name) {
                Some(row) => row.2 = body,
                None => self.versions.push((name, key_id, body)),
            },
            RecordKind::Alias => match self.aliases.iter_mut().find(|(n, ..)| *n == name) {
                Some(row) => *row = (name, key_id, body),
                None => self.aliases.push((name, key_id, body)),
            },
        }
    }

    fn apply(&mut self, changes: &[RecordChange]) {
        for change in changes {
            match change {
                RecordChange::Put(record) => self.put(record),
                RecordChange::DeleteAlias { name } => self.aliases.retain(|(n, ..)| n != name),
                RecordChange::DeleteKey { key_id } => {
                    self.keys.retain(|(n, _)| n != key_id.as_str());
                    self.versions.retain(|(_, k, _)| k != key_id);
                    self.aliases.retain(|(_, k, _)| k != key_id);
                }
            }
        }
    }

    fn load(&self, provider: &InMemoryProvider) -> Result<InMemoryProvider, SnapshotError> {
        let seals = |name: &str| {
            kms_core::KeyVersionId::parse(name.as_bytes())
                .and_then(|v| provider.seal_count(&v).ok())
                .unwrap_or(0)
        };
        let records = self
            .aliases
            .iter()
            .map(|(_, _, b)| StoredRecord {
                kind: RecordKind::Alias,
                body: b,
                seals: 0,
            })
            .chain(self.keys.iter().map(|(_, b)| StoredRecord {
                kind: RecordKind::Key,
                body: b,
                seals: 0,
            }))
            .chain(self.versions.iter().map(|(n, _, b)| StoredRecord {
                kind: RecordKind::Version,
                body: b,
                seals: seals(n),
            }));
        InMemoryProvider::from_records(provider.seal_limit(), records)
    }
}

/// The records of a provider and its seal counts, aliases sorted (their order carries no
/// meaning).
fn fingerprint(p: &InMemoryProvider) -> Vec<(RecordKind, String, Vec<u8>)> {
    let mut out = bodies(p);
    let mut seals = Vec::new();
    p.visit_seal_counts(&mut |v, n| seals.push((v.as_str().to_owned(), n)));
    out.extend(
        seals
            .into_iter()
            .map(|(v, n)| (RecordKind::Version, v, n.to_be_bytes().to_vec())),
    );
    out
}

/// The records of a provider, aliases sorted.
fn bodies(p: &InMemoryProvider) -> Vec<(RecordKind, String, Vec<u8>)> {
    let records = p.records().expect("records");
    let mut aliases: Vec<_> = records
        .iter()
        .filter(|r| r.kind == RecordKind::Alias)
        .map(|r| (r.kind, r.name.clone(), r.body.to_vec()))
        .collect();
    aliases.sort();
    let mut out: Vec<_> = records
        .iter()
        .filter(|r| r.kind != RecordKind::Alias)
        .map(|r| (r.kind, r.name.clone(), r.body.to_vec()))
        .collect();
    out.extend(aliases);
    out
}

#[derive(Clone, Debug)]
enum Op {
    Create,
    CreateExternal,
    Version(usize),
    Disable(usize),
    Enable(usize),
    Schedule(usize),
    Cancel(usize),
    Import(usize),
    Alias(usize, u8),
    Repoint(usize, u8),
    Unalias(u8),
    Seal(usize),
    Pass(u8),
    /// UpdateRotationPolicy: every 7 + n days, or off for `None`.
    Policy(usize, Option<u8>),
    /// ImportKeyMaterial with material that expires in 1 + n days.
    ImportUntil(usize, u8),
    DeleteMaterial(usize),
    /// SetKeyPolicy: the other account gets the permissions of this bit set over
    /// `Permission::ALL` (0 revokes), the owner too (a grant the policy drops).
    Grant(usize, u8),
    /// The follower catches up.
    Sync,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => Just(Op::Create),
        1 => Just(Op::CreateExternal),
        2 => any::<usize>().prop_map(Op::Version),
        1 => any::<usize>().prop_map(Op::Disable),
        1 => any::<usize>().prop_map(Op::Enable),
        1 => any::<usize>().prop_map(Op::Schedule),
        1 => any::<usize>().prop_map(Op::Cancel),
        1 => any::<usize>().prop_map(Op::Import),
        2 => (any::<usize>(), 0u8..4).prop_map(|(k, a)| Op::Alias(k, a)),
        1 => (any::<usize>(), 0u8..4).prop_map(|(k, a)| Op::Repoint(k, a)),
        1 => (0u8..4).prop_map(Op::Unalias),
        3 => any::<usize>().prop_map(Op::Seal),
        1 => (1u8..10).prop_map(Op::Pass),
        1 => (any::<usize>(), proptest::option::of(0u8..10)).prop_map(|(k, d)| Op::Policy(k, d)),
        1 => (any::<usize>(), 0u8..10).prop_map(|(k, d)| Op::ImportUntil(k, d)),
        1 => any::<usize>().prop_map(Op::DeleteMaterial),
        2 => (any::<usize>(), 0u8..64).prop_map(|(k, m)| Op::Grant(k, m)),
        2 => Just(Op::Sync),
    ]
}

struct World {
    provider: InMemoryProvider,
    rows: Rows,
    keys: Vec<KeyId>,
    now: Duration,
    rng: rand_chacha::ChaCha20Rng,
    /// (blob, plaintext) sealed along the way.
    blobs: Vec<(Vec<u8>, Vec<u8>)>,
    /// A provider that follows the rows, as a replica of a shared store does.
    follower: InMemoryProvider,
    /// What changed since the follower last caught up: rows by kind and name, and keys gone.
    touched: BTreeSet<(RecordKind, String)>,
    gone: HashSet<KeyId>,
}

impl World {
    /// Writes the staged change's records, then commits it: the order a durable store uses.
    fn commit<T>(&mut self, staged: Result<Staged<T>, kms_core::Error>) {
        let Ok(staged) = staged else { return };
        let changes = self
            .provider
            .record_changes(staged.change())
            .expect("a change staged against the current generation has records");
        self.rows.apply(&changes);
        for change in &changes {
            match change {
                RecordChange::Put(r) => {
                    self.touched.insert((r.kind, r.name.clone()));
                }
                RecordChange::DeleteAlias { name } => {
                    self.touched.insert((RecordKind::Alias, name.clone()));
                }
                RecordChange::DeleteKey { key_id } => {
                    self.gone.insert(*key_id);
                }
            }
        }
        self.provider.apply(staged).expect("commit");
    }

    /// What a replica reads back from a shared store: the keys and aliases gone since it last
    /// looked, and every row changed since, as it is now (keys and versions in row order).
    fn sync(&mut self) {
        let touched = std::mem::take(&mut self.touched);
        let gone = std::mem::take(&mut self.gone);
        let is = |kind: RecordKind, name: &str| touched.contains(&(kind, name.to_owned()));
        let mut changes: Vec<StoredChange<'_>> =
            gone.iter().copied().map(StoredChange::DeleteKey).collect();
        for (kind, name) in &touched {
            let present = match kind {
                RecordKind::Key => self.rows.keys.iter().any(|(n, _)| n == name),
                RecordKind::Alias => self.rows.aliases.iter().any(|(n, ..)| n == name),
                RecordKind::Version => true,
            };
            if !present {
                changes.push(match kind {
                    RecordKind::Alias => StoredChange::DeleteAlias(name),
                    _ => StoredChange::DeleteKey(KeyId::parse(name).expect("a key ID")),
                });
            }
        }
        let put = |kind, body| {
            StoredChange::Put(StoredRecord {
                kind,
                body,
                seals: 0,
            })
        };
        changes.extend(
            self.rows
                .keys
                .iter()
                .filter(|(n, _)| is(RecordKind::Key, n))
                .map(|(_, b)| put(RecordKind::Key, b)),
        );
        changes.extend(
            self.rows
                .versions
                .iter()
                .filter(|(n, ..)| is(RecordKind::Version, n))
                .map(|(_, _, b)| put(RecordKind::Version, b)),
        );
        changes.extend(
            self.rows
                .aliases
                .iter()
                .filter(|(n, ..)| is(RecordKind::Alias, n))
                .map(|(_, _, b)| put(RecordKind::Alias, b)),
        );
        self.follower
            .apply_records(changes)
            .expect("the follower catches up");
    }

    fn pick(&self, i: usize) -> Option<KeyId> {
        (!self.keys.is_empty()).then(|| self.keys[i % self.keys.len()])
    }

    fn run(&mut self, op: &Op) {
        let caller = Caller::new(ACCOUNT, REGION);
        let now = self.now;
        let alias = |a: u8| format!("alias/records-{a}");
        match *op {
            Op::Create | Op::CreateExternal => {
                let mut request = CreateKey::new().with_description("records");
                if matches!(op, Op::CreateExternal) {
                    request = request.with_origin(KeyOrigin::External);
                }
                let staged =
                    management::create_key(&self.provider, &caller, &request, &mut self.rng, now);
                if let Ok(s) = &staged {
                    self.keys.push(s.output().key_id);
                }
                self.commit(staged);
            }
            Op::Version(i) => {
                if let Some(k) = self.pick(i) {
                    let r = KeyReference::Id(k);
                    let staged = management::create_key_version(
                        &self.provider,
                        &caller,
                        &r,
                        &mut self.rng,
                        now,
                    );
                    self.commit(staged);
                }
            }
            Op::Disable(i) | Op::Enable(i) | Op::Schedule(i) | Op::Cancel(i) | Op::Import(i) => {
                let Some(k) = self.pick(i) else { return };
                let r = KeyReference::Id(k);
                let p = &self.provider;
                match op {
                    Op::Disable(_) => self.commit(management::disable_key(p, &caller, &r, now)),
                    Op::Enable(_) => self.commit(management::enable_key(p, &caller, &r, now)),
                    Op::Schedule(_) => {
                        self.commit(management::schedule_key_deletion(p, &caller, &r, 7, now))
                    }
                    Op::Cancel(_) => {
                        self.commit(management::cancel_key_deletion(p, &caller, &r, now))
                    }
                    _ => {
                        let m = material(&[7; 32]);
                        self.commit(management::import_key_material(p, &caller, &r, m, now))
                    }
                }
            }
            Op::Alias(i, a) | Op::Repoint(i, a) => {
                let Some(k) = self.pick(i) else { return };
                let r = KeyReference::Id(k);
                let name = alias(a);
                let p = &self.provider;
                if matches!(op, Op::Alias(..)) {
                    self.commit(management::create_alias(p, &caller, &name, &r, now));
                } else {
                    self.commit(management::update_alias(p, &caller, &name, &r, now));
                }
            }
            Op::Unalias(a) => {
                let name = alias(a);
                self.commit(management::delete_alias(
                    &self.provider,
                    &caller,
                    &name,
                    now,
                ));
            }
            Op::Seal(i) => {
                let Some(k) = self.pick(i) else { return };
                let request = GenerateDataKeyRequest::new(KeyReference::Id(k));
                if let Ok(ops::Outcome::Done(out)) =
                    ops::generate_data_key(&self.provider, &caller, &request, &mut self.rng)
                {
                    let key = out.data_key.expose().to_vec();
                    self.blobs
                        .push((out.ciphertext_blob.as_bytes().to_vec(), key));
                }
            }
            Op::Pass(days) => {
                // Housekeeping, as a frontend runs it: every change due, one at a time
                // (deletions, expired material, automatic rotations).
                self.now += secs(u64::from(days) * DAY_SECS);
                while let Ok(Some(staged)) =
                    management::next_due(&self.provider, self.now, &mut self.rng)
                {
                    self.commit(Ok(staged));
                }
            }
            Op::Policy(i, days) => {
                let Some(k) = self.pick(i) else { return };
                let interval = days.map(|d| secs((7 + u64::from(d)) * DAY_SECS));
                let staged = management::update_rotation_policy(
                    &self.provider,
                    &caller,
                    &KeyReference::Id(k),
                    interval,
                    now,
                );
                self.commit(staged);
            }
            Op::ImportUntil(i, days) => {
                let Some(k) = self.pick(i) else { return };
                let expires = now + secs((1 + u64::from(days)) * DAY_SECS);
                let staged = management::import_key_material_until(
                    &self.provider,
                    &caller,
                    &KeyReference::Id(k),
                    material(&[9; 32]),
                    expires,
                    now,
                );
                self.commit(staged);
            }
            Op::DeleteMaterial(i) => {
                let Some(k) = self.pick(i) else { return };
                let staged = management::delete_key_material(
                    &self.provider,
                    &caller,
                    &KeyReference::Id(k),
                    now,
                );
                self.commit(staged);
            }
            Op::Sync => self.sync(),
            Op::Grant(i, mask) => {
                let Some(k) = self.pick(i) else { return };
                let permissions: Vec<Permission> = Permission::ALL
                    .into_iter()
                    .enumerate()
                    .filter(|(b, _)| mask & (1 << b) != 0)
                    .map(|(_, p)| p)
                    .collect();
                let policy = KeyPolicy::from_grants([
                    (OTHER_ACCOUNT, permissions.as_slice()),
                    (ACCOUNT, &Permission::ALL[..]),
                ]);
                let staged = management::set_key_policy(
                    &self.provider,
                    &caller,
                    &KeyReference::Id(k),
                    policy,
                    now,
                );
                self.commit(staged);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn record_changes_rebuild_what_the_commits_made(ops in proptest::collection::vec(op(), 1..60)) {
        let mut w = World {
            provider: InMemoryProvider::new(),
            rows: Rows::default(),
            keys: Vec::new(),
            now: T0,
            rng: rng(7),
            blobs: Vec::new(),
            follower: InMemoryProvider::new(),
            touched: BTreeSet::new(),
            gone: HashSet::new(),
        };
        for op in &ops {
            w.run(op);
        }
        w.sync();
        prop_assert_eq!(bodies(&w.follower), bodies(&w.provider));
        prop_assert_eq!(w.follower.len(), w.provider.len());
        let rebuilt = w.rows.load(&w.provider).expect("the rows load");
        prop_assert_eq!(fingerprint(&rebuilt), fingerprint(&w.provider));
        // The grants come back as SetKeyPolicy left them, the owner's never among them.
        for k in &w.keys {
            let policy = |p: &InMemoryProvider| p.key(k).ok().flatten().map(|m| m.policy);
            prop_assert_eq!(policy(&rebuilt), policy(&w.provider));
            if let Some(p) = policy(&w.provider) {
                prop_assert!(p.grants().iter().all(|g| g.account != ACCOUNT));
            }
        }
        prop_assert_eq!(rebuilt.generation().0, 0);
        // Every blob that the original still opens, the rebuilt provider opens too.
        let caller = Caller::new(ACCOUNT, REGION);
        for (blob, plaintext) in &w.blobs {
            let original = decrypt(&w.provider, &caller, blob);
            prop_assert_eq!(&decrypt(&rebuilt, &caller, blob), &original);
            prop_assert_eq!(&decrypt(&w.follower, &caller, blob), &original);
            if let Some(opened) = original {
                prop_assert_eq!(&opened, plaintext);
            }
        }
    }
}

fn decrypt(p: &InMemoryProvider, caller: &Caller<'_>, blob: &[u8]) -> Option<Vec<u8>> {
    let blob = kms_core::blob::BlobBuf::from_bytes(blob).ok()?;
    match ops::decrypt(p, caller, &DecryptRequest::new(&blob), &mut rng(1)).ok()? {
        ops::Outcome::Done(out) => base64ct::Base64::decode_vec(out.plaintext.expose()).ok(),
        ops::Outcome::DryRun(_) => None,
    }
}

#[test]
fn a_change_staged_against_another_generation_has_no_records() {
    let mut p = InMemoryProvider::new();
    let caller = Caller::new(ACCOUNT, REGION);
    let staged =
        management::create_key(&p, &caller, &CreateKey::new(), &mut rng(1), T0).expect("stage");
    let other =
        management::create_key(&p, &caller, &CreateKey::new(), &mut rng(2), T0).expect("stage");
    p.apply(other).expect("commit");
    assert_eq!(
        p.record_changes(staged.change()).map(|_| ()),
        Err(CommitError::Conflict)
    );
}

#[test]
fn records_that_do_not_hang_together_are_refused() {
    let mut p = InMemoryProvider::new();
    let caller = Caller::new(ACCOUNT, REGION);
    let staged =
        management::create_key(&p, &caller, &CreateKey::new(), &mut rng(1), T0).expect("stage");
    let key_id = staged.output().key_id;
    p.apply(staged).expect("commit");
    let alias = management::create_alias(&p, &caller, "alias/r", &KeyReference::Id(key_id), T0)
        .expect("stage");
    p.apply(alias).expect("commit");
    let records = p.records().expect("records");
    let all: Vec<StoredRecord<'_>> = records
        .iter()
        .map(|r| StoredRecord {
            kind: r.kind,
            body: &r.body,
            seals: 3,
        })
        .collect();
    let ok = InMemoryProvider::from_records(p.seal_limit(), all.iter().copied()).expect("loads");
    assert_eq!(ok.len(), 1);
    let load = |set: Vec<StoredRecord<'_>>| {
        InMemoryProvider::from_records(p.seal_limit(), set).map(|_| ())
    };
    let of = |kind| all.iter().copied().filter(move |r| r.kind == kind);
    // Without its key, a version (and an alias) is an orphan.
    assert_eq!(
        load(
            of(RecordKind::Version)
                .chain(of(RecordKind::Alias))
                .collect()
        ),
        Err(SnapshotError::Malformed)
    );
    // A key without its primary version.
    assert_eq!(
        load(of(RecordKind::Key).collect()),
        Err(SnapshotError::Malformed)
    );
    // A duplicate key, a duplicate version, a duplicate alias.
    for kind in [RecordKind::Key, RecordKind::Version, RecordKind::Alias] {
        let twice: Vec<_> = all.iter().copied().chain(of(kind)).collect();
        assert_eq!(load(twice), Err(SnapshotError::Malformed), "{kind:?}");
    }
    // Every truncation of every body, and a byte too many. Two cuts are records of earlier
    // formats: a key record that ends before its settings (here the defaults, 10 bytes) reads
    // as the same key with default settings, and one that also ends before the instance flag
    // (here `0`, no instance) as the same key held in no instance.
    const DEFAULT_SETTINGS: usize = 4 + 1 + 1 + 1 + 1 + 2;
    for (i, record) in records.iter().enumerate() {
        for len in 0..record.body.len() {
            let mut set = all.clone();
            set[i].body = &record.body[..len];
            let from_end = record.body.len() - len;
            if record.kind == RecordKind::Key
                && (from_end == DEFAULT_SETTINGS || from_end == DEFAULT_SETTINGS + 1)
            {
                assert!(
                    record.body[record.body.len() - DEFAULT_SETTINGS..]
                        .iter()
                        .all(|&b| b == 0),
                    "default settings are all zero"
                );
                assert_eq!(
                    record.body[record.body.len() - DEFAULT_SETTINGS - 1],
                    0,
                    "the instance flag of a key in no instance"
                );
                assert!(load(set).is_ok(), "a key record of an earlier format");
                continue;
            }
            assert_eq!(
                load(set),
                Err(SnapshotError::Malformed),
                "{:?} cut to {len}",
                record.kind
            );
        }
        let mut longer = record.body.to_vec();
        longer.push(0);
        let mut set = all.clone();
        set[i].body = &longer;
        assert_eq!(
            load(set),
            Err(SnapshotError::Malformed),
            "{:?} + 1",
            record.kind
        );
    }
    // Debug never shows a body.
    let version = records
        .iter()
        .find(|r| r.kind == RecordKind::Version)
        .expect("a version");
    assert!(format!("{version:?}").contains("bytes>"));
}

#[test]
fn a_follower_refuses_a_batch_that_does_not_hang_together_and_changes_nothing() {
    let mut p = InMemoryProvider::new();
    let caller = Caller::new(ACCOUNT, REGION);
    let staged =
        management::create_key(&p, &caller, &CreateKey::new(), &mut rng(1), T0).expect("stage");
    let key_id = staged.output().key_id;
    p.apply(staged).expect("commit");
    let alias = management::create_alias(&p, &caller, "alias/f", &KeyReference::Id(key_id), T0)
        .expect("stage");
    p.apply(alias).expect("commit");
    let records = p.records().expect("records");
    let put = |kind: RecordKind| {
        let r = records.iter().find(|r| r.kind == kind).expect("a record");
        StoredChange::Put(StoredRecord {
            kind,
            body: &r.body,
            seals: 0,
        })
    };
    let mut follower = InMemoryProvider::new();
    // A version or an alias whose key is neither in the batch nor in the follower.
    for change in [put(RecordKind::Version), put(RecordKind::Alias)] {
        assert_eq!(
            follower.apply_records([change]),
            Err(SnapshotError::Malformed)
        );
    }
    // A key without its primary version.
    assert_eq!(
        follower.apply_records([put(RecordKind::Key)]),
        Err(SnapshotError::Malformed)
    );
    // The alias of a key deleted in the same batch.
    assert_eq!(
        follower.apply_records([
            StoredChange::DeleteKey(key_id),
            put(RecordKind::Key),
            put(RecordKind::Version),
            put(RecordKind::Alias),
        ]),
        Ok(()),
        "a key deleted and put again in one batch is the key as put"
    );
    assert_eq!(bodies(&follower), bodies(&p));
    let before = bodies(&follower);
    // A truncated body: refused, and the follower is as it was.
    let cut = &records[0].body[..records[0].body.len() - 3];
    assert_eq!(
        follower.apply_records([
            StoredChange::DeleteAlias("x:y:alias/f"),
            StoredChange::DeleteKey(key_id),
            StoredChange::Put(StoredRecord {
                kind: records[0].kind,
                body: cut,
                seals: 0,
            }),
        ]),
        Err(SnapshotError::Malformed)
    );
    assert_eq!(bodies(&follower), before);
    // A deletion applies.
    follower
        .apply_records([StoredChange::DeleteKey(key_id)])
        .expect("deleted");
    assert!(follower.is_empty());
    assert!(follower.records().expect("records").is_empty());
}

#[test]
fn with_seal_windows_a_version_seals_only_what_was_granted() {
    let mut p = InMemoryProvider::new();
    let caller = Caller::new(ACCOUNT, REGION);
    let staged =
        management::create_key(&p, &caller, &CreateKey::new(), &mut rng(1), T0).expect("stage");
    let (key_id, version) = (staged.output().key_id, staged.output().primary);
    p.apply(staged).expect("commit");
    let seal = |p: &InMemoryProvider| {
        let request = GenerateDataKeyRequest::new(KeyReference::Id(key_id));
        ops::generate_data_key(p, &caller, &request, &mut rng(3)).map(|_| ())
    };
    seal(&p).expect("no window: the seal limit only");
    p.use_seal_windows();
    assert_eq!(p.seals_remaining(&version), Ok(0));
    assert!(seal(&p).is_err(), "nothing granted yet");
    assert_eq!(p.grant_seals(&version, 3), Ok(3));
    for _ in 0..3 {
        seal(&p).expect("granted");
    }
    assert!(seal(&p).is_err(), "the grant is spent");
    assert_eq!(p.seals_remaining(&version), Ok(0));
    assert_eq!(p.grant_seals(&version, 1), Ok(1));
    seal(&p).expect("granted again");
    // A version made after windows are on starts with nothing too.
    let rotated =
        management::create_key_version(&p, &caller, &KeyReference::Id(key_id), &mut rng(4), T0)
            .expect("stage");
    let new_version = rotated.output().key_version_id;
    p.apply(rotated).expect("commit");
    assert_eq!(p.seals_remaining(&new_version), Ok(0));
    assert!(seal(&p).is_err());
    let unknown =
        kms_core::KeyVersionId::parse(b"00000000-0000-4000-8000-000000000000").expect("an ID");
    assert!(p.grant_seals(&unknown, 1).is_err());
}
