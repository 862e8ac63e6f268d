//! The metadata operations over real HTTP, signed as the SDKs sign: UpdateKeyDescription,
//! SetDeletionProtection (and ScheduleKeyDeletion refused while it is on), the six tag
//! operations, ListAliasesByKeyId, DescribeRegions and GetRandomPassword, in the shapes the V3
//! SDK's models parse, with their error codes; and their changes survive a restart with a store.

mod common;

use common::*;
use serde_json::Value;

fn code(r: &kms_server::client::ClientResponse) -> (u16, String) {
    (r.status, r.field("Code"))
}

async fn ok(c: &kms_server::client::Client, action: &str, params: &[(&str, &str)]) -> Value {
    let r = c.call(action, params).await.unwrap();
    assert_eq!(r.status, 200, "{action}: {}", r.text());
    let v = r.json();
    assert!(v["RequestId"].is_string(), "{v}");
    v
}

async fn err(
    c: &kms_server::client::Client,
    action: &str,
    params: &[(&str, &str)],
) -> (u16, String) {
    let r = c.call(action, params).await.unwrap();
    code(&r)
}

fn tags_of(v: &Value) -> Vec<(String, String)> {
    v["Tags"]["Tag"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["TagKey"].as_str().unwrap().to_owned(),
                t["TagValue"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn call(p: &[(String, String)]) -> Vec<(&str, &str)> {
    p.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| ((*k).into(), (*v).into()))
        .collect()
}

#[tokio::test]
async fn update_key_description_and_deletion_protection() {
    let server = start().await;
    let c = server.client();
    let key = create_key(&c).await;
    ok(
        &c,
        "UpdateKeyDescription",
        &[("KeyId", &key), ("Description", "orders")],
    )
    .await;
    let v = ok(&c, "DescribeKey", &[("KeyId", &key)]).await;
    assert_eq!(v["KeyMetadata"]["Description"], "orders");
    assert_eq!(
        err(&c, "UpdateKeyDescription", &[("KeyId", &key)]).await,
        (400, "MissingParameter".into())
    );
    let long = "d".repeat(8193);
    assert_eq!(
        err(
            &c,
            "UpdateKeyDescription",
            &[("KeyId", &key), ("Description", &long)]
        )
        .await,
        (400, "InvalidParameter".into())
    );
    assert_eq!(
        err(
            &c,
            "UpdateKeyDescription",
            &[("KeyId", "key-hzz630494463ejqjx1234"), ("Description", "x")]
        )
        .await,
        (404, "Forbidden.KeyNotFound".into())
    );

    // Protected (the SDKs send Python booleans as `True`): ScheduleKeyDeletion is refused.
    ok(
        &c,
        "SetDeletionProtection",
        &[
            ("KeyId", &key),
            ("EnableDeletionProtection", "True"),
            ("DeletionProtectionDescription", "billing"),
        ],
    )
    .await;
    let schedule = [("KeyId", key.as_str()), ("PendingWindowInDays", "7")];
    assert_eq!(
        err(&c, "ScheduleKeyDeletion", &schedule).await,
        (403, "Forbidden.ResourceProtected".into())
    );
    // By ARN, as ProtectedResourceArn.
    let arn = format!("acs:kms:cn-hangzhou:{ACCOUNT_A}:key/{key}");
    ok(
        &c,
        "SetDeletionProtection",
        &[
            ("ProtectedResourceArn", &arn),
            ("EnableDeletionProtection", "false"),
        ],
    )
    .await;
    ok(&c, "ScheduleKeyDeletion", &schedule).await;
    assert_eq!(
        err(
            &c,
            "SetDeletionProtection",
            &[("KeyId", &key), ("EnableDeletionProtection", "true")]
        )
        .await,
        (409, "Rejected.StateModifiedFailed".into())
    );
    assert_eq!(
        err(&c, "SetDeletionProtection", &[("KeyId", &key)]).await,
        (400, "MissingParameter".into())
    );
    assert_eq!(
        err(
            &c,
            "SetDeletionProtection",
            &[("KeyId", &key), ("EnableDeletionProtection", "yes")]
        )
        .await,
        (400, "InvalidParameter".into())
    );
    // Another account's key, by ARN.
    assert_eq!(
        err(
            &server.client_b(),
            "SetDeletionProtection",
            &[("KeyId", &arn), ("EnableDeletionProtection", "true")]
        )
        .await,
        (403, "Forbidden.NoPermission".into())
    );
    server.stop().await;
}

#[tokio::test]
async fn tag_resource_untag_resource_list_resource_tags() {
    let server = start().await;
    let c = server.client();
    let key = create_key(&c).await;
    let v = ok(&c, "ListResourceTags", &[("KeyId", &key)]).await;
    assert!(tags_of(&v).is_empty(), "{v}");
    ok(
        &c,
        "TagResource",
        &[
            ("KeyId", &key),
            (
                "Tags",
                r#"[{"TagKey":"team","TagValue":"pay"},{"TagKey":"env","TagValue":"prod"}]"#,
            ),
        ],
    )
    .await;
    let v = ok(&c, "ListResourceTags", &[("KeyId", &key)]).await;
    assert_eq!(tags_of(&v), pairs(&[("env", "prod"), ("team", "pay")]));
    assert_eq!(v["Tags"]["Tag"][0]["KeyId"], key.as_str());
    ok(
        &c,
        "UntagResource",
        &[("KeyId", &key), ("TagKeys", r#"["team"]"#)],
    )
    .await;
    let v = ok(&c, "ListResourceTags", &[("KeyId", &key)]).await;
    assert_eq!(tags_of(&v), pairs(&[("env", "prod")]));
    // Comma-separated keys too.
    ok(
        &c,
        "UntagResource",
        &[("KeyId", &key), ("TagKeys", "env,nothing")],
    )
    .await;
    assert!(tags_of(&ok(&c, "ListResourceTags", &[("KeyId", &key)]).await).is_empty());

    for (params, expected) in [
        (vec![("KeyId", key.as_str())], (400, "MissingParameter")),
        (
            vec![("KeyId", key.as_str()), ("Tags", "not json")],
            (400, "InvalidParameter"),
        ),
        (
            vec![
                ("KeyId", key.as_str()),
                ("Tags", r#"[{"TagKey":"acs:x","TagValue":"v"}]"#),
            ],
            (400, "InvalidParameter"),
        ),
        (
            vec![("Tags", r#"[{"TagKey":"a","TagValue":"b"}]"#)],
            (400, "MissingParameter"),
        ),
        (
            vec![
                ("SecretName", "db"),
                ("Tags", r#"[{"TagKey":"a","TagValue":"b"}]"#),
            ],
            (400, "UnsupportedOperation"),
        ),
        (
            vec![
                ("KeyId", "alias/none"),
                ("Tags", r#"[{"TagKey":"a","TagValue":"b"}]"#),
            ],
            (404, "Forbidden.AliasNotFound"),
        ),
    ] {
        assert_eq!(
            err(&c, "TagResource", &params).await,
            (expected.0, expected.1.to_owned()),
            "{params:?}"
        );
    }
    assert_eq!(
        err(&c, "UntagResource", &[("KeyId", &key), ("TagKeys", "[1]")]).await,
        (400, "InvalidParameter".into())
    );
    assert_eq!(
        err(&c, "UntagResource", &[("KeyId", &key)]).await,
        (400, "MissingParameter".into())
    );
    assert_eq!(
        err(&c, "ListResourceTags", &[]).await,
        (400, "MissingParameter".into())
    );
    server.stop().await;
}

#[tokio::test]
async fn plural_tag_operations() {
    let server = start().await;
    let c = server.client();
    let a = create_key(&c).await;
    let b = create_key(&c).await;
    let base = [("RegionId", "cn-hangzhou"), ("ResourceType", "key")];
    let with = |extra: &[(&'static str, &str)]| -> Vec<(String, String)> {
        base.iter()
            .chain(extra.iter())
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    };
    let tag = with(&[
        ("ResourceId.1", &a),
        ("ResourceId.2", &b),
        ("Tag.1.Key", "env"),
        ("Tag.1.Value", "prod"),
        ("Tag.2.Key", "team"),
        ("Tag.2.Value", "pay"),
    ]);
    ok(&c, "TagResources", &call(&tag)).await;
    let v = ok(&c, "ListTagResources", &call(&with(&[]))).await;
    let rows = v["TagResources"]["TagResource"].as_array().unwrap();
    assert_eq!(rows.len(), 4, "{v}");
    assert_eq!(v["NextToken"], "");
    assert_eq!(rows[0]["ResourceId"], a.as_str());
    assert_eq!(rows[0]["ResourceType"], "key");
    assert_eq!(rows[0]["TagKey"], "env");
    assert_eq!(rows[0]["TagValue"], "prod");
    // Filtered, and by resource.
    let v = ok(
        &c,
        "ListTagResources",
        &call(&with(&[("ResourceId.1", &b), ("Tag.1.Key", "team")])),
    )
    .await;
    let rows = v["TagResources"]["TagResource"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{v}");
    assert_eq!(rows[0]["ResourceId"], b.as_str());

    ok(
        &c,
        "UntagResources",
        &call(&with(&[("ResourceId.1", &a), ("TagKey.1", "env")])),
    )
    .await;
    let v = ok(&c, "ListResourceTags", &[("KeyId", &a)]).await;
    assert_eq!(tags_of(&v), pairs(&[("team", "pay")]));
    ok(
        &c,
        "UntagResources",
        &call(&with(&[
            ("ResourceId.1", &a),
            ("ResourceId.2", &b),
            ("All", "True"),
        ])),
    )
    .await;
    let v = ok(&c, "ListTagResources", &call(&with(&[]))).await;
    assert!(
        v["TagResources"]["TagResource"]
            .as_array()
            .unwrap()
            .is_empty(),
        "{v}"
    );

    // A bad key among good ones changes none.
    let bad = with(&[
        ("ResourceId.1", &a),
        ("ResourceId.2", "key-hzz630494463ejqjx1234"),
        ("Tag.1.Key", "env"),
        ("Tag.1.Value", "x"),
    ]);
    assert_eq!(
        err(&c, "TagResources", &call(&bad)).await,
        (404, "Forbidden.KeyNotFound".into())
    );
    assert!(tags_of(&ok(&c, "ListResourceTags", &[("KeyId", &a)]).await).is_empty());

    let tag_a = [("Tag.1.Key", "k"), ("Tag.1.Value", "v")];
    for (params, expected) in [
        (
            vec![("ResourceType", "key"), ("ResourceId.1", a.as_str())],
            (400, "MissingParameter"),
        ),
        (
            vec![
                ("RegionId", "cn-shanghai"),
                ("ResourceType", "key"),
                ("ResourceId.1", a.as_str()),
            ],
            (400, "InvalidParameter"),
        ),
        (
            vec![
                ("RegionId", "cn-hangzhou"),
                ("ResourceType", "disk"),
                ("ResourceId.1", a.as_str()),
            ],
            (400, "InvalidParameter"),
        ),
        (
            vec![
                ("RegionId", "cn-hangzhou"),
                ("ResourceType", "secret"),
                ("ResourceId.1", "db"),
            ],
            (400, "UnsupportedOperation"),
        ),
        (
            vec![("RegionId", "cn-hangzhou"), ("ResourceType", "key")],
            (400, "MissingParameter"),
        ),
        (
            vec![
                ("RegionId", "cn-hangzhou"),
                ("ResourceType", "key"),
                ("ResourceId.1", a.as_str()),
                ("Tag.1.Value", "v"),
            ],
            (400, "InvalidParameter"),
        ),
    ] {
        let mut p = params.clone();
        if !p.iter().any(|(k, _)| k.starts_with("Tag.")) {
            p.extend(tag_a);
        }
        assert_eq!(
            err(&c, "TagResources", &p).await,
            (expected.0, expected.1.to_owned()),
            "{p:?}"
        );
    }
    // No tag at all, and more than 50 resources.
    assert_eq!(
        err(&c, "TagResources", &call(&with(&[("ResourceId.1", &a)]))).await,
        (400, "MissingParameter".into())
    );
    let many: Vec<(String, String)> = (1..=51)
        .map(|i| (format!("ResourceId.{i}"), a.clone()))
        .chain(tag_a.iter().map(|(k, v)| ((*k).into(), (*v).into())))
        .collect();
    let base_params = with(&[]);
    let mut p = call(&base_params);
    p.extend(many.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    assert_eq!(
        err(&c, "TagResources", &p).await,
        (400, "InvalidParameter".into())
    );
    // UntagResources without TagKey or All.
    assert_eq!(
        err(&c, "UntagResources", &call(&with(&[("ResourceId.1", &a)]))).await,
        (400, "MissingParameter".into())
    );
    assert_eq!(
        err(&c, "ListTagResources", &call(&with(&[("NextToken", "x")]))).await,
        (400, "InvalidParameter".into())
    );
    server.stop().await;
}

#[tokio::test]
async fn list_aliases_by_key_id_describe_regions_get_random_password() {
    let server = start().await;
    let c = server.client();
    let key = create_key(&c).await;
    let other = create_key(&c).await;
    for alias in ["alias/b", "alias/a"] {
        ok(&c, "CreateAlias", &[("AliasName", alias), ("KeyId", &key)]).await;
    }
    ok(
        &c,
        "CreateAlias",
        &[("AliasName", "alias/z"), ("KeyId", &other)],
    )
    .await;
    let v = ok(&c, "ListAliasesByKeyId", &[("KeyId", &key)]).await;
    assert_eq!(v["TotalCount"], 2, "{v}");
    assert_eq!(v["PageNumber"], 1);
    assert_eq!(v["PageSize"], 10);
    let aliases = v["Aliases"]["Alias"].as_array().unwrap();
    assert_eq!(aliases[0]["AliasName"], "alias/a");
    assert_eq!(aliases[0]["KeyId"], key.as_str());
    assert_eq!(
        aliases[0]["AliasArn"],
        format!("acs:kms:cn-hangzhou:{ACCOUNT_A}:alias/a").as_str()
    );
    assert_eq!(
        err(
            &c,
            "ListAliasesByKeyId",
            &[("KeyId", &key), ("PageSize", "101")]
        )
        .await,
        (400, "InvalidParameter".into())
    );
    assert_eq!(
        err(&c, "ListAliasesByKeyId", &[]).await,
        (400, "MissingParameter".into())
    );

    let v = ok(&c, "DescribeRegions", &[]).await;
    assert_eq!(v["Regions"]["Region"][0]["RegionId"], "cn-hangzhou", "{v}");
    assert_eq!(v["Regions"]["Region"].as_array().unwrap().len(), 1);

    let v = ok(&c, "GetRandomPassword", &[]).await;
    let p = v["RandomPassword"].as_str().unwrap();
    assert_eq!(p.chars().count(), 32);
    let v = ok(
        &c,
        "GetRandomPassword",
        &[
            ("PasswordLength", "12"),
            ("ExcludePunctuation", "True"),
            ("ExcludeCharacters", "abc"),
        ],
    )
    .await;
    let p = v["RandomPassword"].as_str().unwrap();
    assert_eq!(p.len(), 12);
    assert!(
        p.chars()
            .all(|c| c.is_ascii_alphanumeric() && !"abc".contains(c)),
        "{p}"
    );
    assert_eq!(
        err(&c, "GetRandomPassword", &[("PasswordLength", "7")]).await,
        (400, "InvalidParameter".into())
    );
    // XML.
    let r = c
        .call("GetRandomPassword", &[("Format", "XML")])
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    assert!(
        r.text()
            .contains("<GetRandomPasswordResponse><RandomPassword>"),
        "{}",
        r.text()
    );
    server.stop().await;
}

#[tokio::test]
async fn metadata_survives_a_restart() {
    let dir = temp_dir("metadata-restart");
    let path = dir.join("kms.db");
    let key = {
        let (store, provider) = open_store(&path, 1 << 32);
        let server = start_with_provider(provider, Some(store)).await;
        let c = server.client();
        let key = create_key(&c).await;
        ok(
            &c,
            "UpdateKeyDescription",
            &[("KeyId", &key), ("Description", "kept")],
        )
        .await;
        ok(
            &c,
            "SetDeletionProtection",
            &[("KeyId", &key), ("EnableDeletionProtection", "true")],
        )
        .await;
        ok(
            &c,
            "TagResource",
            &[
                ("KeyId", &key),
                ("Tags", r#"[{"TagKey":"a","TagValue":"1"}]"#),
            ],
        )
        .await;
        server.stop().await;
        key
    };
    let (store, provider) = open_store(&path, 1 << 32);
    let server = start_with_provider(provider, Some(store)).await;
    let c = server.client();
    let v = ok(&c, "DescribeKey", &[("KeyId", &key)]).await;
    assert_eq!(v["KeyMetadata"]["Description"], "kept");
    assert_eq!(
        tags_of(&ok(&c, "ListResourceTags", &[("KeyId", &key)]).await),
        pairs(&[("a", "1")])
    );
    assert_eq!(
        err(
            &c,
            "ScheduleKeyDeletion",
            &[("KeyId", &key), ("PendingWindowInDays", "7")]
        )
        .await,
        (403, "Forbidden.ResourceProtected".into())
    );
    server.stop().await;
    let _ = std::fs::remove_dir_all(dir);
}
