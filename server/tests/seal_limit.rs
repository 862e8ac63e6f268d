//! A key version that has sealed as often as it may (spec §10) refuses to seal; the server then
//! rotates the key, writes the new version to the store, and answers the request under the new version. Tested
//! with a provider whose versions seal three times each.

mod common;

use std::collections::HashSet;

use common::*;
use kms_core::{InMemoryProvider, KeyId, KeyVersionId};

#[tokio::test]
async fn the_fourth_generate_data_key_rotates_and_old_blobs_still_decrypt() {
    let dir = temp_dir("seal-limit");
    let path = dir.join("store.db");
    let (store, provider) = open_store(&path, 3);
    let server = start_with_provider(provider, Some(store)).await;
    let c = server.client();
    let key = create_key(&c).await;

    let mut sealed = Vec::new();
    for _ in 0..4 {
        let r = c.call("GenerateDataKey", &[("KeyId", &key)]).await.unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.field("KeyId"), key);
        sealed.push((
            r.field("KeyVersionId"),
            r.field("CiphertextBlob"),
            r.field("Plaintext"),
        ));
    }
    let first = sealed[0].0.clone();
    assert!(
        sealed[..3].iter().all(|(v, _, _)| *v == first),
        "{sealed:?}"
    );
    let second = sealed[3].0.clone();
    assert_ne!(second, first, "the fourth seal is under a new version");

    // The new version is the key's primary, in memory and (written before the reply) on disk.
    let r = c.call("DescribeKey", &[("KeyId", &key)]).await.unwrap();
    assert_eq!(
        r.json()["KeyMetadata"]["PrimaryKeyVersion"],
        second.as_str()
    );
    let key_id = KeyId::parse(&key).unwrap();
    let on_disk = on_disk(&path);
    assert_eq!(
        on_disk.describe(&key_id).unwrap().primary_version.as_str(),
        second
    );

    // Every blob opens, under the version that sealed it.
    for (version, blob, plaintext) in &sealed {
        let r = c
            .call("Decrypt", &[("CiphertextBlob", blob)])
            .await
            .unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.field("KeyVersionId"), *version);
        assert_eq!(r.field("Plaintext"), *plaintext);
    }
    let counts = server.service.with_provider_read(|p| {
        [&first, &second].map(|v| {
            p.seal_count(&KeyVersionId::parse(v.as_bytes()).unwrap())
                .unwrap()
        })
    });
    assert_eq!(counts, [3, 1]);
    server.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn every_sealing_operation_rotates_however_it_names_the_key() {
    let server = start_with_provider(InMemoryProvider::new().with_seal_limit(3), None).await;
    let c = server.client();
    let key = create_key(&c).await;
    let r = c
        .call(
            "CreateAlias",
            &[("AliasName", "alias/busy"), ("KeyId", &key)],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let key_arn = format!("acs:kms:cn-hangzhou:{ACCOUNT_A}:key/{key}");
    let alias_arn = format!("acs:kms:cn-hangzhou:{ACCOUNT_A}:alias/busy");

    // A blob of another key, to move with ReEncrypt.
    let other = create_key(&c).await;
    let r = c
        .call("Encrypt", &[("KeyId", &other), ("Plaintext", "moved")])
        .await
        .unwrap();
    let foreign_blob = r.field("CiphertextBlob");

    // Each operation fills a version (three seals); the next one, which names the key
    // another way, finds it spent and rotates.
    let context = r#"{"k":"v"}"#;
    let rounds: [(&str, Vec<(&str, &str)>); 4] = [
        ("GenerateDataKey", vec![("KeyId", &key)]),
        ("Encrypt", vec![("KeyId", &key_arn), ("Plaintext", "text")]),
        (
            "GenerateDataKeyWithoutPlaintext",
            vec![("KeyId", &alias_arn), ("EncryptionContext", context)],
        ),
        (
            "ReEncrypt",
            vec![
                ("CiphertextBlob", &foreign_blob),
                ("DestinationKeyId", "alias/busy"),
            ],
        ),
    ];
    let mut versions: Vec<String> = Vec::new();
    let mut blobs = Vec::new();
    for (round, (action, params)) in rounds.iter().enumerate() {
        // The first seal of each round but the first rotates; the next two fill the version.
        for i in 0..3 {
            let r = c.call(action, params).await.unwrap();
            assert_eq!(r.status, 200, "{action} #{i}: {}", r.text());
            assert_eq!(r.field("KeyId"), key);
            let version = r.field("KeyVersionId");
            if i == 0 {
                if round > 0 {
                    assert_ne!(
                        versions.last(),
                        Some(&version),
                        "{action} rotated the spent version"
                    );
                }
                versions.push(version);
            } else {
                assert_eq!(versions.last(), Some(&version), "{action} #{i}");
            }
            let ctx = params.iter().find(|(k, _)| *k == "EncryptionContext");
            blobs.push((r.field("CiphertextBlob"), ctx.map(|(_, v)| *v)));
        }
    }
    assert_eq!(versions.iter().collect::<HashSet<_>>().len(), 4);

    // One new version per spent one, no more, and each sealed exactly three times.
    let key_id = KeyId::parse(&key).unwrap();
    server.service.with_provider_read(|p| {
        for v in &versions {
            let v = KeyVersionId::parse(v.as_bytes()).unwrap();
            assert_eq!(p.seal_count(&v), Ok(3));
        }
        assert_eq!(
            p.describe(&key_id).unwrap().primary_version.as_str(),
            versions[3]
        );
    });
    let r = c.call("DescribeKey", &[("KeyId", &key)]).await.unwrap();
    assert_eq!(
        r.json()["KeyMetadata"]["PrimaryKeyVersion"],
        versions[3].as_str()
    );

    // Every blob still opens.
    for (blob, ctx) in &blobs {
        let mut params = vec![("CiphertextBlob", blob.as_str())];
        if let Some(ctx) = ctx {
            params.push(("EncryptionContext", ctx));
        }
        let r = c.call("Decrypt", &params).await.unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.field("KeyId"), key);
    }

    // A dry run seals nothing, so it needs no rotation.
    let r = c
        .call("GenerateDataKey", &[("KeyId", &key), ("DryRun", "true")])
        .await
        .unwrap();
    assert_eq!(r.field("Code"), "DryRunOperationError");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_on_a_spent_version_rotate_it_once() {
    let server = start_with_provider(InMemoryProvider::new().with_seal_limit(3), None).await;
    let c = server.client();
    let key = create_key(&c).await;
    for _ in 0..3 {
        let r = c.call("GenerateDataKey", &[("KeyId", &key)]).await.unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
    }
    // Three requests at once find the version spent; whichever rotates first, the others
    // find the key rotated and seal under the new version, which has room for all three.
    let tasks: Vec<_> = (0..3)
        .map(|_| {
            let (c, key) = (c.clone(), key.clone());
            tokio::spawn(async move { c.call("GenerateDataKey", &[("KeyId", &key)]).await })
        })
        .collect();
    let mut versions = HashSet::new();
    for task in tasks {
        let r = task.await.unwrap().unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
        versions.insert(r.field("KeyVersionId"));
    }
    assert_eq!(versions.len(), 1, "{versions:?}");
    let key_id = KeyId::parse(&key).unwrap();
    let meta = server.service.with_provider_read(|p| {
        use kms_core::management::KeyStore;
        p.key(&key_id).unwrap().unwrap()
    });
    assert_eq!(meta.versions.len(), 2, "one rotation: {:?}", meta.versions);
    assert!(versions.contains(meta.primary.as_str()));
    server.stop().await;
}
