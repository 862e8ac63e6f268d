//! The data-key operations hold no write lock: every one of them (the four that seal and
//! Decrypt) completes over HTTP while another thread holds a read lock of the provider, which
//! a write lock would have to wait for.

mod common;

use std::sync::mpsc;
use std::time::Duration;

use common::*;

/// How long a request may take while the read lock is held; far more than it needs.
const PATIENCE: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_key_operations_run_under_a_held_read_lock() {
    let server = start().await;
    let c = server.client();
    let key = create_key(&c).await;
    let key2 = create_key(&c).await;
    let r = c.call("GenerateDataKey", &[("KeyId", &key)]).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let blob = r.field("CiphertextBlob");
    let plaintext = r.field("Plaintext");
    let seals_before = seal_count(&server, &key);

    // Another thread takes the provider's read lock and keeps it until the requests below are
    // answered, or until it gives up waiting (then the test fails).
    let (held_tx, held_rx) = mpsc::channel::<()>();
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let service = std::sync::Arc::clone(&server.service);
    let holder = std::thread::spawn(move || {
        service.with_provider_read(|_provider| {
            held_tx.send(()).unwrap();
            // Twice the client's patience, so that a request blocked behind a write lock
            // times out on the client's side first.
            done_rx.recv_timeout(2 * PATIENCE).is_ok()
        })
    });
    tokio::task::spawn_blocking(move || held_rx.recv().unwrap())
        .await
        .unwrap();

    let calls: [(&str, Vec<(&str, &str)>); 5] = [
        ("GenerateDataKey", vec![("KeyId", &key)]),
        ("GenerateDataKeyWithoutPlaintext", vec![("KeyId", &key)]),
        (
            "Encrypt",
            vec![("KeyId", &key), ("Plaintext", "under a read lock")],
        ),
        (
            "ReEncrypt",
            vec![("CiphertextBlob", &blob), ("DestinationKeyId", &key2)],
        ),
        ("Decrypt", vec![("CiphertextBlob", &blob)]),
    ];
    let mut answers = Vec::new();
    for (action, params) in &calls {
        let answer = tokio::time::timeout(PATIENCE, c.call(action, params)).await;
        answers.push((*action, answer));
    }
    // Release the holder whatever happened, then judge.
    let _ = done_tx.send(());
    let held_throughout = tokio::task::spawn_blocking(move || holder.join().unwrap())
        .await
        .unwrap();
    for (action, answer) in answers {
        let r = answer
            .unwrap_or_else(|_| panic!("{action} did not complete while a read lock was held"))
            .unwrap();
        assert_eq!(r.status, 200, "{action}: {}", r.text());
        if action == "Decrypt" {
            assert_eq!(r.field("Plaintext"), plaintext);
        }
    }
    assert!(
        held_throughout,
        "the read lock was released before the requests were answered"
    );
    // GenerateDataKey, GenerateDataKeyWithoutPlaintext and Encrypt sealed with the key (the
    // ReEncrypt sealed with the destination key).
    assert_eq!(seal_count(&server, &key), seals_before + 3);
    assert_eq!(seal_count(&server, &key2), 1);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_management_waits_for_a_held_read_lock() {
    // The other side of the same lock: a change to keys needs the write lock, so it waits
    // for the reader (and then completes).
    let server = start().await;
    let c = server.client();
    let key = create_key(&c).await;
    let (held_tx, held_rx) = mpsc::channel::<()>();
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let service = std::sync::Arc::clone(&server.service);
    let holder = std::thread::spawn(move || {
        service.with_provider_read(|_provider| {
            held_tx.send(()).unwrap();
            done_rx.recv_timeout(2 * PATIENCE).is_ok()
        })
    });
    tokio::task::spawn_blocking(move || held_rx.recv().unwrap())
        .await
        .unwrap();
    let call = {
        let c = c.clone();
        let key = key.clone();
        tokio::spawn(async move { c.call("DisableKey", &[("KeyId", &key)]).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !call.is_finished(),
        "DisableKey committed under a read lock"
    );
    done_tx.send(()).unwrap();
    assert!(
        tokio::task::spawn_blocking(move || holder.join().unwrap())
            .await
            .unwrap()
    );
    let r = tokio::time::timeout(PATIENCE, call)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let r = c.call("DescribeKey", &[("KeyId", &key)]).await.unwrap();
    assert_eq!(r.json()["KeyMetadata"]["KeyState"], "Disabled");
    server.stop().await;
}

/// How many times the primary version of `key` has sealed.
fn seal_count(server: &TestServer, key: &str) -> u64 {
    let key_id = kms_core::KeyId::parse(key).unwrap();
    server.service.with_provider_read(|p| {
        let version = p.describe(&key_id).unwrap().primary_version;
        p.seal_count(&version).unwrap()
    })
}
