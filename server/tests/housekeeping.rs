//! The store as the service writes it: key changes before their replies, seal counts and due
//! deletions at housekeeping ticks, and nothing at a tick when nothing changed.

mod common;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use common::on_disk;
use kms_core::{InMemoryProvider, KeyId, KeyVersionId};
use kms_server::Service;
use tokio::sync::oneshot;

#[tokio::test]
async fn ticks_write_seal_counts_and_due_deletions() {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let dir = std::env::temp_dir().join(format!("kms-server-tick-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("store.db");
    let (store, provider) = common::open_store(&path, InMemoryProvider::new().seal_limit());
    let service = Arc::new(Service::new(common::config(), provider, Some(store)));
    // As the binary does: accept requests from the second the service serves from.
    tokio::time::sleep(service.until_serving(SystemTime::now())).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(kms_server::http::serve(
        listener,
        Arc::clone(&service),
        Duration::from_secs(3600),
        async move {
            let _ = rx.await;
        },
    ));
    let c = kms_server::client::Client::new(
        addr,
        kms_server::client::Credentials {
            access_key_id: common::AK_A.into(),
            access_key_secret: common::SK_A.into(),
        },
    );

    // CreateKey is on disk when its reply arrives.
    let key = common::create_key(&c).await;
    let key_id = KeyId::parse(&key).unwrap();
    let stored = on_disk(&path);
    assert!(stored.describe(&key_id).is_ok());

    // Seals are counted in memory and written at the next tick, not per request.
    let mut version = String::new();
    for _ in 0..3 {
        let r = c.call("GenerateDataKey", &[("KeyId", &key)]).await.unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
        version = r.field("KeyVersionId");
    }
    let version = KeyVersionId::parse(version.as_bytes()).unwrap();
    assert_eq!(on_disk(&path).seal_count(&version), Ok(0));
    let now = SystemTime::now();
    assert!(service.tick(now).unwrap());
    assert_eq!(on_disk(&path).seal_count(&version), Ok(3));
    // Nothing changed since: no write.
    assert!(!service.tick(now).unwrap());
    // Decrypt seals nothing.
    let r = c
        .call("GenerateDataKeyWithoutPlaintext", &[("KeyId", &key)])
        .await
        .unwrap();
    let blob = r.field("CiphertextBlob");
    assert!(service.tick(now).unwrap());
    let r = c
        .call("Decrypt", &[("CiphertextBlob", &blob)])
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    assert!(!service.tick(now).unwrap());

    // A scheduled deletion is written at once; the deletion itself at the first tick past its date.
    let r = c
        .call(
            "ScheduleKeyDeletion",
            &[("KeyId", &key), ("PendingWindowInDays", "7")],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let stored = on_disk(&path);
    assert!(stored.describe(&key_id).is_ok());
    assert!(!service.tick(now + Duration::from_secs(6 * 86_400)).unwrap());
    assert!(service.tick(now + Duration::from_secs(8 * 86_400)).unwrap());
    let stored = on_disk(&path);
    assert!(stored.describe(&key_id).is_err());
    let r = c
        .call("Decrypt", &[("CiphertextBlob", &blob)])
        .await
        .unwrap();
    assert_eq!(r.field("Code"), "Forbidden.KeyNotFound");

    let _ = tx.send(());
    task.await.unwrap().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
