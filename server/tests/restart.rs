//! The `kms-server` binary: first start (demo key, alias and AccessKey printed), a crash and
//! a restart with `--store` that keeps keys, aliases, states and AccessKeys and decrypts old
//! blobs; a wrong wrapping key is refused at start; `--export` and `--import` carry the keys
//! to another store through the sealed snapshot format, a damaged snapshot is refused, and a
//! keyring file from before the store (`--keyring`) is imported on first start.

mod common;

use std::path::Path;
use std::process::Command;

use common::binary::{run_to_exit, start, value_after};
use common::temp_dir;
use kms_server::client::{Client, Credentials};

const WRAPPING_KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

fn store_args(path: &Path) -> Vec<String> {
    vec!["--store".into(), path.display().to_string()]
}

#[tokio::test]
async fn restart_with_store_keeps_keys_and_decrypts_old_blobs() {
    let dir = temp_dir("restart");
    let store = dir.join("kms.db");
    let args = store_args(&store);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let env = [("KMS_KEYRING_KEY", WRAPPING_KEY)];

    // Without a wrapping key, --store refuses to start.
    let (ok, err) = run_to_exit(&args, &[]);
    assert!(!ok);
    assert!(err.contains("KMS_KEYRING_KEY"), "{err}");

    // First start: a demo pair and a demo key with its alias, printed.
    let first = start(&args, &env);
    let id = value_after(&first.lines, "kms-server: demo AccessKeyId: ");
    let secret = value_after(&first.lines, "kms-server: demo AccessKeySecret: ");
    let demo = value_after(&first.lines, "kms-server: demo key: ");
    assert!(demo.contains("(alias/demo)"), "{demo}");
    let credentials = Credentials {
        access_key_id: id.clone(),
        access_key_secret: secret.clone(),
    };
    let c = Client::new(first.addr, credentials.clone());

    let r = c
        .call(
            "GenerateDataKey",
            &[
                ("KeyId", "alias/demo"),
                ("EncryptionContext", r#"{"a":"b"}"#),
            ],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let (plain1, blob1) = (r.field("Plaintext"), r.field("CiphertextBlob"));
    let demo_key = r.field("KeyId");

    // Rotation, a second key with an alias, a disabled third key.
    let r = c
        .call("CreateKeyVersion", &[("KeyId", "alias/demo")])
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let r = c
        .call("CreateKey", &[("Description", "second")])
        .await
        .unwrap();
    let key2 = r.json()["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = c
        .call(
            "CreateAlias",
            &[("AliasName", "alias/second"), ("KeyId", &key2)],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let r = c
        .call(
            "Encrypt",
            &[
                ("KeyId", "alias/second"),
                ("Plaintext", "kept across restarts"),
            ],
        )
        .await
        .unwrap();
    let blob2 = r.field("CiphertextBlob");
    let r = c
        .call("GenerateDataKey", &[("KeyId", "alias/demo")])
        .await
        .unwrap();
    let (plain3, blob3) = (r.field("Plaintext"), r.field("CiphertextBlob"));
    let r = c.call("CreateKey", &[]).await.unwrap();
    let key3 = r.json()["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = c.call("DisableKey", &[("KeyId", &key3)]).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text());

    // A crash: SIGKILL, no shutdown path. Every change was written before its reply.
    drop(first);
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // Restart: no new demo key or pair; the saved pair authenticates.
    let second = start(&args, &env);
    assert!(
        !second.lines.iter().any(|l| l.contains("demo key")),
        "{:?}",
        second.lines
    );
    assert!(
        second
            .lines
            .iter()
            .any(|l| l.contains(&format!("AccessKeyId {id}"))),
        "{:?}",
        second.lines
    );
    assert!(
        !second.lines.iter().any(|l| l.contains(&secret)),
        "the secret is printed only once"
    );
    let c = Client::new(second.addr, credentials.clone());
    let r = c
        .call(
            "Decrypt",
            &[
                ("CiphertextBlob", &blob1),
                ("EncryptionContext", r#"{"a":"b"}"#),
            ],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.field("Plaintext"), plain1);
    let r = c
        .call("Decrypt", &[("CiphertextBlob", &blob2)])
        .await
        .unwrap();
    assert_eq!(r.field("Plaintext"), "kept across restarts");
    let r = c
        .call("Decrypt", &[("CiphertextBlob", &blob3)])
        .await
        .unwrap();
    assert_eq!(r.field("Plaintext"), plain3);
    let r = c.call("ListKeys", &[]).await.unwrap();
    assert_eq!(r.json()["TotalCount"], 3, "{}", r.text());
    let r = c.call("ListAliases", &[]).await.unwrap();
    assert_eq!(r.json()["TotalCount"], 2, "{}", r.text());
    let r = c.call("DescribeKey", &[("KeyId", &key3)]).await.unwrap();
    assert_eq!(r.json()["KeyMetadata"]["KeyState"], "Disabled");
    let r = c
        .call("GenerateDataKey", &[("KeyId", "alias/demo")])
        .await
        .unwrap();
    assert_eq!(r.field("KeyId"), demo_key);

    // A graceful stop (SIGTERM) exits cleanly.
    let mut second = second;
    let status = Command::new("kill")
        .args(["-TERM", &second.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = second.child.wait().unwrap();
    assert!(exit.success(), "{exit:?}");

    // The wrong wrapping key, from a file: refused.
    let key_file = dir.join("wrong.key");
    std::fs::write(&key_file, format!("{}\n", "ab".repeat(32))).unwrap();
    let mut wrong_args = args.clone();
    let key_file_text = key_file.display().to_string();
    wrong_args.extend(["--keyring-key-file", key_file_text.as_str()]);
    let (ok, err) = run_to_exit(&wrong_args, &[]);
    assert!(!ok);
    assert!(err.contains("wrapping key"), "{err}");

    // The store's files are the owner's alone.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for name in ["kms.db", "kms.db.generation"] {
            let mode = std::fs::metadata(dir.join(name))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "{name}: {mode:o}");
        }
    }

    // --export writes the sealed snapshot (and the AccessKeys beside it) and exits.
    let export = dir.join("backup.keyring");
    let export_text = export.display().to_string();
    let mut export_args = args.clone();
    export_args.extend(["--export", export_text.as_str()]);
    let (ok, err) = run_to_exit(&export_args, &env);
    assert!(ok, "{err}");
    assert_eq!(&std::fs::read(&export).unwrap()[..8], b"KMSKRING");

    // A truncated snapshot is refused by --import, and the store made for it stays empty.
    let good = std::fs::read(&export).unwrap();
    let damaged = dir.join("damaged.keyring");
    std::fs::write(&damaged, &good[..good.len() - 1]).unwrap();
    let damaged_text = damaged.display().to_string();
    let other_store = dir.join("other.db");
    let other_text = other_store.display().to_string();
    let (ok, err) = run_to_exit(&["--store", &other_text, "--import", &damaged_text], &env);
    assert!(!ok);
    assert!(err.contains("keyring"), "{err}");
    // The good one imports into that store; into a store that holds keys it is refused.
    let (ok, err) = run_to_exit(&["--store", &other_text, "--import", &export_text], &env);
    assert!(ok, "{err}");
    let (ok, err) = run_to_exit(&["--store", &other_text, "--import", &export_text], &env);
    assert!(!ok);
    assert!(err.contains("already holds keys"), "{err}");
    // A server on the imported store opens the old blobs with the old AccessKey.
    let imported = start(&["--store", &other_text], &env);
    let c = Client::new(imported.addr, credentials.clone());
    let r = c
        .call("Decrypt", &[("CiphertextBlob", &blob2)])
        .await
        .unwrap();
    assert_eq!(r.field("Plaintext"), "kept across restarts");
    drop(imported);

    // A keyring file from before the store: --keyring imports it on first start, into
    // `{keyring}.db`.
    let legacy = start(&["--keyring", &export_text], &env);
    assert!(
        legacy
            .lines
            .iter()
            .any(|l| l.contains("imported the keyring")),
        "{:?}",
        legacy.lines
    );
    let c = Client::new(legacy.addr, credentials.clone());
    let r = c
        .call("Decrypt", &[("CiphertextBlob", &blob3)])
        .await
        .unwrap();
    assert_eq!(r.field("Plaintext"), plain3);
    drop(legacy);
    assert!(dir.join("backup.keyring.db").exists());

    // The right key from a file works.
    let good_key_file = dir.join("good.key");
    std::fs::write(&good_key_file, WRAPPING_KEY).unwrap();
    let good_key_text = good_key_file.display().to_string();
    let mut file_args = args.clone();
    file_args.extend(["--keyring-key-file", good_key_text.as_str()]);
    let third = start(&file_args, &[]);
    let c = Client::new(third.addr, credentials);
    let r = c
        .call("Decrypt", &[("CiphertextBlob", &blob2)])
        .await
        .unwrap();
    assert_eq!(r.field("Plaintext"), "kept across restarts");
    drop(third);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn configured_access_keys_and_region() {
    let pair = "LTAIconfigured0000001:configured-secret:5555555555555555";
    let running = start(
        &["--region", "cn-shanghai"],
        &[("KMS_SERVER_ACCESS_KEYS", pair)],
    );
    assert!(
        !running
            .lines
            .iter()
            .any(|l| l.contains("demo AccessKeySecret")),
        "{:?}",
        running.lines
    );
    assert!(
        running
            .lines
            .iter()
            .any(|l| l.contains("account 5555555555555555")),
        "{:?}",
        running.lines
    );
    let c = Client::new(
        running.addr,
        Credentials {
            access_key_id: "LTAIconfigured0000001".into(),
            access_key_secret: "configured-secret".into(),
        },
    );
    let r = c
        .call("DescribeKey", &[("KeyId", "alias/demo")])
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let arn = r.json()["KeyMetadata"]["Arn"].as_str().unwrap().to_owned();
    assert!(
        arn.starts_with("acs:kms:cn-shanghai:5555555555555555:key/"),
        "{arn}"
    );
    // An ARN naming another region does not resolve here.
    let other_region = arn.replace("cn-shanghai", "cn-hangzhou");
    let r = c
        .call("GenerateDataKey", &[("KeyId", &other_region)])
        .await
        .unwrap();
    assert_eq!(r.field("Code"), "Forbidden.KeyNotFound");
    drop(running);

    // A malformed list is refused at start, without echoing the secret.
    let (ok, err) = run_to_exit(&[], &[("KMS_SERVER_ACCESS_KEYS", "LTAIx:topsecret")]);
    assert!(!ok);
    assert!(!err.contains("topsecret"), "{err}");
}
