//! ListKeyVersions and DescribeKeyVersion over real HTTP, signed as the SDKs sign: the JSON and
//! XML shapes the V3 SDK's models parse, paging, every KeyId form, and each error code.

mod common;

use common::*;
use serde_json::Value;

/// A well-formed version ID that names no version.
const UNKNOWN_VERSION: &str = "2ab1a983-7072-4bbc-a582-584b5bd80000";

fn is_iso8601_utc(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 20
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            19 => *c == b'Z',
            _ => c.is_ascii_digit(),
        })
}

/// A key of `c` with `n` versions; its ID and the versions oldest first.
async fn key_with_versions(c: &kms_server::client::Client, n: usize) -> (String, Vec<String>) {
    let r = c.call("CreateKey", &[]).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let meta = r.json()["KeyMetadata"].clone();
    let key = meta["KeyId"].as_str().unwrap().to_owned();
    let mut versions = vec![meta["PrimaryKeyVersion"].as_str().unwrap().to_owned()];
    for _ in 1..n {
        versions.push(create_key_version(c, &key).await);
    }
    (key, versions)
}

#[tokio::test]
async fn list_key_versions_oldest_first_paged() {
    let server = start().await;
    let c = server.client();
    let (key, versions) = key_with_versions(&c, 3).await;
    let _other = key_with_versions(&c, 2).await;

    let r = c.call("ListKeyVersions", &[("KeyId", &key)]).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let v: Value = r.json();
    assert_eq!(v["TotalCount"], 3, "{v}");
    assert_eq!(v["PageNumber"], 1);
    assert_eq!(v["PageSize"], 10);
    assert!(v["RequestId"].is_string());
    let listed = v["KeyVersions"]["KeyVersion"].as_array().unwrap();
    let ids: Vec<&str> = listed
        .iter()
        .map(|e| e["KeyVersionId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, versions, "oldest first");
    for e in listed {
        assert_eq!(e["KeyId"], key.as_str());
        assert!(is_iso8601_utc(e["CreationDate"].as_str().unwrap()), "{e}");
    }
    // The last listed is DescribeKey's primary.
    let r = c.call("DescribeKey", &[("KeyId", &key)]).await.unwrap();
    assert_eq!(
        r.json()["KeyMetadata"]["PrimaryKeyVersion"],
        versions[2].as_str()
    );

    // Pages of 2: [v1, v2], [v3], [].
    let mut seen = Vec::new();
    for (number, len) in [("1", 2), ("2", 1), ("3", 0)] {
        let r = c
            .call(
                "ListKeyVersions",
                &[("KeyId", &key), ("PageNumber", number), ("PageSize", "2")],
            )
            .await
            .unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
        let v: Value = r.json();
        assert_eq!(v["TotalCount"], 3);
        assert_eq!(v["PageSize"], 2);
        assert_eq!(v["PageNumber"].to_string(), number);
        let page = v["KeyVersions"]["KeyVersion"].as_array().unwrap();
        assert_eq!(page.len(), len, "page {number}: {v}");
        seen.extend(
            page.iter()
                .map(|e| e["KeyVersionId"].as_str().unwrap().to_owned()),
        );
    }
    assert_eq!(seen, versions);
    server.stop().await;
}

#[tokio::test]
async fn describe_key_version_by_every_key_id_form() {
    let server = start().await;
    let c = server.client();
    let (key, versions) = key_with_versions(&c, 2).await;
    let r = c
        .call("CreateAlias", &[("AliasName", "alias/v"), ("KeyId", &key)])
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let forms = [
        key.clone(),
        "alias/v".to_owned(),
        format!("acs:kms:cn-hangzhou:{ACCOUNT_A}:key/{key}"),
        format!("acs:kms:cn-hangzhou:{ACCOUNT_A}:alias/v"),
    ];
    let listed = c
        .call("ListKeyVersions", &[("KeyId", &key)])
        .await
        .unwrap()
        .json()["KeyVersions"]["KeyVersion"]
        .clone();
    for form in &forms {
        for (i, version) in versions.iter().enumerate() {
            let r = c
                .call(
                    "DescribeKeyVersion",
                    &[("KeyId", form), ("KeyVersionId", version)],
                )
                .await
                .unwrap();
            assert_eq!(r.status, 200, "{form}: {}", r.text());
            let v: Value = r.json();
            assert!(v["RequestId"].is_string());
            // The key by its ID, whatever the form named; the same entry ListKeyVersions has.
            assert_eq!(v["KeyVersion"], listed[i], "{form}");
            assert_eq!(v["KeyVersion"]["KeyId"], key.as_str());
        }
        let r = c.call("ListKeyVersions", &[("KeyId", form)]).await.unwrap();
        assert_eq!(r.json()["KeyVersions"]["KeyVersion"], listed);
    }
    server.stop().await;
}

#[tokio::test]
async fn xml_shapes() {
    let server = start().await;
    let c = server.client();
    let (key, versions) = key_with_versions(&c, 2).await;
    let options = kms_server::client::CallOptions {
        format: Some("XML"),
        ..Default::default()
    };
    let r = c
        .call_with("ListKeyVersions", &[("KeyId", &key)], &options)
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let text = r.text();
    assert!(
        text.starts_with(&format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListKeyVersionsResponse><KeyVersions><KeyVersion><KeyId>{key}</KeyId><KeyVersionId>{}</KeyVersionId><CreationDate>",
            versions[0]
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "</KeyVersion><KeyVersion><KeyId>{key}</KeyId><KeyVersionId>{}</KeyVersionId>",
            versions[1]
        )),
        "{text}"
    );
    assert!(
        text.contains("</KeyVersions><TotalCount>2</TotalCount><PageNumber>1</PageNumber><PageSize>10</PageSize><RequestId>"),
        "{text}"
    );
    assert!(text.ends_with("</ListKeyVersionsResponse>"), "{text}");

    let r = c
        .call_with(
            "DescribeKeyVersion",
            &[("KeyId", &key), ("KeyVersionId", &versions[1])],
            &options,
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let text = r.text();
    assert!(
        text.contains(&format!(
            "<DescribeKeyVersionResponse><KeyVersion><KeyId>{key}</KeyId><KeyVersionId>{}</KeyVersionId><CreationDate>",
            versions[1]
        )),
        "{text}"
    );
    assert!(
        text.contains("</CreationDate></KeyVersion><RequestId>"),
        "{text}"
    );
    assert!(
        text.ends_with("</RequestId></DescribeKeyVersionResponse>"),
        "{text}"
    );
    server.stop().await;
}

/// A call and the error it should get: the client, the action, the parameters, the status
/// and code.
type Case<'a> = (
    &'a kms_server::client::Client,
    &'a str,
    Vec<(&'a str, &'a str)>,
    (u16, &'a str),
);

#[tokio::test]
async fn errors() {
    let server = start().await;
    let (a, b) = (server.client(), server.client_b());
    let (key, versions) = key_with_versions(&a, 2).await;
    let (sibling, sibling_versions) = key_with_versions(&a, 1).await;
    let (theirs, theirs_versions) = key_with_versions(&b, 1).await;
    let arn = format!("acs:kms:cn-hangzhou:{ACCOUNT_A}:key/{key}");
    let upper = versions[0].to_ascii_uppercase();

    let cases: Vec<Case<'_>> = vec![
        // Parameters.
        (&a, "ListKeyVersions", vec![], (400, "MissingParameter")),
        (
            &a,
            "DescribeKeyVersion",
            vec![("KeyId", &key)],
            (400, "MissingParameter"),
        ),
        (
            &a,
            "DescribeKeyVersion",
            vec![("KeyVersionId", &versions[0])],
            (400, "MissingParameter"),
        ),
        (
            &a,
            "ListKeyVersions",
            vec![("KeyId", &key), ("PageSize", "101")],
            (400, "InvalidParameter"),
        ),
        (
            &a,
            "ListKeyVersions",
            vec![("KeyId", &key), ("PageNumber", "0")],
            (400, "InvalidParameter"),
        ),
        (
            &a,
            "DescribeKeyVersion",
            vec![("KeyId", &key), ("KeyVersionId", "v1")],
            (400, "InvalidParameter"),
        ),
        (
            &a,
            "DescribeKeyVersion",
            vec![("KeyId", &key), ("KeyVersionId", &upper)],
            (400, "InvalidParameter"),
        ),
        // The key.
        (
            &a,
            "ListKeyVersions",
            vec![("KeyId", "alias/none")],
            (404, "Forbidden.AliasNotFound"),
        ),
        (
            &a,
            "ListKeyVersions",
            vec![("KeyId", &theirs)],
            (404, "Forbidden.KeyNotFound"),
        ),
        (
            &b,
            "ListKeyVersions",
            vec![("KeyId", &arn)],
            (403, "Forbidden.NoPermission"),
        ),
        (
            &b,
            "DescribeKeyVersion",
            vec![("KeyId", &arn), ("KeyVersionId", &versions[0])],
            (403, "Forbidden.NoPermission"),
        ),
        // The version: unknown, another key's of the caller, another account's.
        (
            &a,
            "DescribeKeyVersion",
            vec![("KeyId", &key), ("KeyVersionId", UNKNOWN_VERSION)],
            (404, "Forbidden.KeyNotFound"),
        ),
        (
            &a,
            "DescribeKeyVersion",
            vec![("KeyId", &key), ("KeyVersionId", &sibling_versions[0])],
            (404, "Forbidden.KeyNotFound"),
        ),
        (
            &a,
            "DescribeKeyVersion",
            vec![("KeyId", &key), ("KeyVersionId", &theirs_versions[0])],
            (404, "Forbidden.KeyNotFound"),
        ),
    ];
    for (client, action, params, (status, expected)) in cases {
        let r = client.call(action, &params).await.unwrap();
        assert_eq!(
            code(&r),
            (status, expected.to_owned()),
            "{action} {params:?}: {}",
            r.text()
        );
    }
    // The parameter the messages name.
    let r = a
        .call(
            "DescribeKeyVersion",
            &[("KeyId", &key), ("KeyVersionId", "v1")],
        )
        .await
        .unwrap();
    assert_eq!(
        r.field("Message"),
        "The specified parameter KeyVersionId is not valid."
    );
    let r = a
        .call("DescribeKeyVersion", &[("KeyId", &key)])
        .await
        .unwrap();
    assert_eq!(
        r.field("Message"),
        "The parameter KeyVersionId is needed but not provided."
    );
    // Each version still describes under its own key.
    let r = a
        .call(
            "DescribeKeyVersion",
            &[("KeyId", &sibling), ("KeyVersionId", &sibling_versions[0])],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["KeyVersion"]["KeyId"], sibling.as_str());
    server.stop().await;
}

#[tokio::test]
async fn a_key_pending_deletion_still_lists_its_versions() {
    let server = start().await;
    let c = server.client();
    let (key, versions) = key_with_versions(&c, 2).await;
    let r = c
        .call(
            "ScheduleKeyDeletion",
            &[("KeyId", &key), ("PendingWindowInDays", "7")],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let r = c.call("ListKeyVersions", &[("KeyId", &key)]).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["TotalCount"], 2);
    let r = c
        .call(
            "DescribeKeyVersion",
            &[("KeyId", &key), ("KeyVersionId", &versions[1])],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    server.stop().await;
}

#[tokio::test]
async fn versions_list_the_same_after_a_restart_on_the_store() {
    let dir = temp_dir("key-versions");
    let path = dir.join("kms.db");
    let (store, provider) = open_store(&path, kms_core::InMemoryProvider::new().seal_limit());
    let server = start_with_provider(provider, Some(store)).await;
    let c = server.client();
    let (key, versions) = key_with_versions(&c, 3).await;
    let before = c
        .call("ListKeyVersions", &[("KeyId", &key)])
        .await
        .unwrap()
        .json()["KeyVersions"]
        .clone();
    server.stop().await;

    let (store, provider) = open_store(&path, kms_core::InMemoryProvider::new().seal_limit());
    let server = start_with_provider(provider, Some(store)).await;
    let c = server.client();
    let r = c.call("ListKeyVersions", &[("KeyId", &key)]).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["KeyVersions"], before);
    assert_eq!(r.json()["TotalCount"], 3);
    let r = c
        .call(
            "DescribeKeyVersion",
            &[("KeyId", &key), ("KeyVersionId", &versions[2])],
        )
        .await
        .unwrap();
    assert_eq!(r.json()["KeyVersion"], before["KeyVersion"][2]);
    server.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn each_operation_has_its_own_rate_limit_bucket() {
    let mut config = config();
    // One per second, burst one: the quick run below stays inside one refill.
    config.rate_limit = 1;
    let server = start_with(config).await;
    let c = server.client();
    let key = create_key(&c).await;
    let version = c
        .call("DescribeKey", &[("KeyId", &key)])
        .await
        .unwrap()
        .json()["KeyMetadata"]["PrimaryKeyVersion"]
        .as_str()
        .unwrap()
        .to_owned();
    let list = [("KeyId", key.as_str())];
    let describe = [("KeyId", key.as_str()), ("KeyVersionId", version.as_str())];
    for (action, params) in [
        ("ListKeyVersions", &list[..]),
        ("DescribeKeyVersion", &describe[..]),
    ] {
        let first = c.call(action, params).await.unwrap();
        assert_eq!(first.status, 200, "{action}: {}", first.text());
        let second = c.call(action, params).await.unwrap();
        assert_eq!(
            code(&second),
            (429, "Rejected.Throttling".to_owned()),
            "{action}"
        );
    }
    server.stop().await;
}
