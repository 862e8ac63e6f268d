//! GetKeyPolicy and SetKeyPolicy (`src/management/policy.rs`): a policy set by the owner is
//! what the data-key operations enforce for another account naming the key by ARN, until it
//! is replaced or revoked; the owner keeps every permission whatever the policy says; only the
//! owner reads or sets it; it survives a snapshot and a rebuild from records.

use kms_core::management::{self, KeyPolicy, KeyStore};
use kms_core::ops::{self, GenerateDataKeyRequest};
use kms_core::{Caller, Error, KeyId, KeyReference, KeyState, Permission};

use crate::support::*;
use crate::testkit::*;

impl Kms {
    fn set_policy_as(
        &mut self,
        caller: &Caller<'_>,
        key: &str,
        policy: KeyPolicy,
    ) -> Result<(), Error> {
        let reference = reference(key);
        let staged =
            management::set_key_policy(&self.provider, caller, &reference, policy, self.now);
        self.commit(staged)
    }

    fn grant(&mut self, key: &KeyId, permissions: &[Permission]) {
        let policy = KeyPolicy::from_grants([(OTHER_ACCOUNT, permissions)]);
        self.set_policy_as(&owner(), key.as_str(), policy)
            .expect("set policy");
    }

    fn policy(&self, key: &KeyId) -> KeyPolicy {
        management::get_key_policy(&self.provider, &owner(), &reference(key.as_str()), self.now)
            .expect("get policy")
            .2
    }

    /// GenerateDataKey as `caller` with the key named by `name`.
    fn generate_as(&mut self, caller: &Caller<'_>, name: &str) -> Result<(), Error> {
        let request = GenerateDataKeyRequest::new(reference(name));
        ops::generate_data_key(&self.provider, caller, &request, &mut self.rng).map(|_| ())
    }
}

#[test]
fn a_grant_lets_the_other_account_use_the_key_by_arn_until_revoked() {
    let mut k = Kms::new(1);
    let key = k.key();
    let arn = key_arn(REGION, ACCOUNT, &key);
    assert_eq!(k.generate_as(&other(), &arn), Err(Error::NoPermission));
    assert!(k.policy(&key).is_empty());

    k.grant(&key, &[Permission::GenerateDataKey]);
    assert_eq!(k.generate_as(&other(), &arn), Ok(()));
    // Only what was granted.
    let blob = {
        let request = GenerateDataKeyRequest::new(reference(&arn));
        match ops::generate_data_key(&k.provider, &other(), &request, &mut k.rng).unwrap() {
            ops::Outcome::Done(out) => out.ciphertext_blob,
            ops::Outcome::DryRun(_) => unreachable!(),
        }
    };
    let decrypt = |k: &mut Kms| {
        let request = ops::DecryptRequest::new(&blob);
        ops::decrypt(&k.provider, &other(), &request, &mut k.rng).map(|_| ())
    };
    assert_eq!(decrypt(&mut k), Err(Error::NoPermission));
    k.grant(&key, &[Permission::GenerateDataKey, Permission::Decrypt]);
    assert_eq!(decrypt(&mut k), Ok(()));

    // Revoked: an empty policy.
    k.set_policy_as(&owner(), key.as_str(), KeyPolicy::new())
        .unwrap();
    assert_eq!(k.generate_as(&other(), &arn), Err(Error::NoPermission));
    assert_eq!(decrypt(&mut k), Err(Error::NoPermission));
    // The owner never lost anything.
    assert_eq!(k.generate_as(&owner(), key.as_str()), Ok(()));
}

#[test]
fn the_owner_keeps_every_permission_and_is_never_a_grant() {
    let mut k = Kms::new(2);
    let key = k.key();
    let policy = KeyPolicy::from_grants([
        (ACCOUNT, &[Permission::Decrypt][..]),
        (OTHER_ACCOUNT, &[Permission::Encrypt][..]),
    ]);
    k.set_policy_as(&owner(), key.as_str(), policy).unwrap();
    let kept = k.policy(&key);
    assert_eq!(
        kept,
        KeyPolicy::from_grants([(OTHER_ACCOUNT, &[Permission::Encrypt][..])])
    );
    assert_eq!(k.generate_as(&owner(), key.as_str()), Ok(()));
}

#[test]
fn only_the_owner_reads_or_sets_the_policy() {
    let mut k = Kms::new(3);
    let key = k.key();
    k.grant(&key, &Permission::ALL);
    let arn = key_arn(REGION, ACCOUNT, &key);
    // Even with every data-key permission, the other account manages nothing.
    let theirs = management::get_key_policy(&k.provider, &other(), &reference(&arn), k.now);
    assert_eq!(theirs.map(|_| ()), Err(Error::NoPermission));
    let set = k.set_policy_as(&other(), &arn, KeyPolicy::new());
    assert_eq!(set, Err(Error::NoPermission));
    // Unknown keys and aliases.
    let unknown = "key-hzz630494463ejqjx1234";
    assert_eq!(
        management::get_key_policy(&k.provider, &owner(), &reference(unknown), k.now).map(|_| ()),
        Err(Error::KeyNotFound)
    );
    assert_eq!(
        k.set_policy_as(&owner(), "alias/none", KeyPolicy::new()),
        Err(Error::AliasNotFound)
    );
    // By alias and ARN, the owner.
    k.create_alias("alias/p", key.as_str()).unwrap();
    let (id, account, _) =
        management::get_key_policy(&k.provider, &owner(), &reference("alias/p"), k.now).unwrap();
    assert_eq!((id, account.as_str()), (key, ACCOUNT));
    k.set_policy_as(&owner(), &arn, KeyPolicy::new()).unwrap();
    assert!(k.policy(&key).is_empty());
}

#[test]
fn the_policy_can_be_set_in_every_state() {
    let mut k = Kms::new(4);
    let disabled = k.key();
    k.disable(disabled.as_str()).unwrap();
    let pending = k.key();
    k.schedule(pending.as_str(), 7).unwrap();
    for key in [disabled, pending] {
        k.grant(&key, &[Permission::Decrypt]);
        assert!(k.policy(&key).permits(OTHER_ACCOUNT, Permission::Decrypt));
    }
    assert_eq!(k.state(&pending), KeyState::PendingDeletion);
}

#[test]
fn a_staged_policy_is_invisible_until_committed() {
    let mut k = Kms::new(5);
    let key = k.key();
    let policy = KeyPolicy::from_grants([(OTHER_ACCOUNT, &Permission::ALL[..])]);
    let staged = management::set_key_policy(
        &k.provider,
        &owner(),
        &KeyReference::Id(key),
        policy.clone(),
        k.now,
    )
    .unwrap();
    assert!(k.policy(&key).is_empty());
    k.provider.commit(staged.into_change()).unwrap();
    assert_eq!(k.policy(&key), policy);
}

#[test]
fn the_policy_survives_a_snapshot() {
    let mut k = Kms::new(6);
    let key = k.key();
    let granted = [Permission::GenerateDataKey, Permission::ReEncryptTo];
    k.grant(&key, &granted);
    let bytes = k.provider.export_snapshot(&WRAP, &mut rng(9)).unwrap();
    let restored = kms_core::InMemoryProvider::import_snapshot(&bytes, &WRAP).unwrap();
    let mut r = Kms::with_provider(restored, 7);
    assert_eq!(r.policy(&key), k.policy(&key));
    let arn = key_arn(REGION, ACCOUNT, &key);
    assert_eq!(r.generate_as(&other(), &arn), Ok(()));
    // And a rebuild from the records.
    let records = k.provider.records().unwrap();
    let stored = records
        .iter()
        .map(|rec| kms_core::in_memory::records::StoredRecord {
            kind: rec.kind,
            body: &rec.body,
            seals: 0,
        });
    let rebuilt =
        kms_core::InMemoryProvider::from_records(k.provider.seal_limit(), stored).unwrap();
    assert_eq!(
        rebuilt.key(&key).unwrap().unwrap().policy,
        KeyPolicy::from_grants([(OTHER_ACCOUNT, &granted[..])])
    );
}
