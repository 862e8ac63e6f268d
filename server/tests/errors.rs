//! An error of each class over HTTP, throttling, malformed input (the server keeps serving),
//! and concurrent clients.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use axum::body::Bytes;
use axum::http::Request;
use common::*;
use http_body_util::Full;
use kms_server::client::{CallOptions, Credentials, signed_request};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Action, parameters, expected status, code and message.
type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, u16, &'a str, &'a str);

#[tokio::test]
async fn an_error_of_each_class() {
    let server = start().await;
    let c = server.client();
    let key = create_key(&c).await;
    let cases: Vec<Case<'_>> = vec![
        (
            "GenerateDataKey",
            vec![],
            400,
            "MissingParameter",
            "The parameter KeyId is needed but not provided.",
        ),
        (
            "GenerateDataKey",
            vec![("KeyId", &key), ("NumberOfBytes", "0")],
            400,
            "InvalidParameter",
            "The specified parameter NumberOfBytes is not valid.",
        ),
        (
            "GenerateDataKey",
            vec![("KeyId", &key), ("EncryptionContext", "{\"a\":1}")],
            400,
            "InvalidParameter",
            "The specified parameter EncryptionContext is not valid.",
        ),
        (
            "GenerateDataKey",
            vec![("KeyId", &key), ("DryRun", "true"), ("KeySpec", "AES_512")],
            400,
            "ValidationError",
            "The specified parameter KeySpec is not valid.",
        ),
        (
            "Decrypt",
            vec![("CiphertextBlob", "bm90IGEgYmxvYg==")],
            400,
            "InvalidParameter",
            "The specified parameter CiphertextBlob is not valid.",
        ),
        (
            "GenerateDataKey",
            vec![("KeyId", "1234abcd-12ab-34cd-56ef-123456789012")],
            404,
            "Forbidden.KeyNotFound",
            "The specified Key is not found.",
        ),
        (
            "GenerateDataKey",
            vec![("KeyId", "alias/missing")],
            404,
            "Forbidden.AliasNotFound",
            "The specified Alias is not found.",
        ),
        (
            "GenerateDataKey",
            vec![("KeyId", &key), ("DryRun", "true")],
            412,
            "DryRunOperationError",
            "The request would have succeeded, but the DryRun flag is set.",
        ),
        (
            "ScheduleKeyDeletion",
            vec![("KeyId", &key), ("PendingWindowInDays", "3")],
            400,
            "InvalidParameter",
            "The specified parameter PendingWindowInDays is not valid.",
        ),
        (
            "CancelKeyDeletion",
            vec![("KeyId", &key)],
            409,
            "Rejected.StateModifiedFailed",
            "Keystate modified failed.",
        ),
        (
            "NoSuchOperation",
            vec![],
            404,
            "InvalidAction.NotFound",
            "Specified api is not found, please check your url and method.",
        ),
        (
            "ImportKeyMaterial",
            vec![],
            400,
            "MissingParameter",
            "The parameter KeyId is needed but not provided.",
        ),
    ];
    for (action, params, status, expected_code, message) in cases {
        let r = c.call(action, &params).await.unwrap();
        let v = r.json();
        assert_eq!(
            code(&r),
            (status, expected_code.to_owned()),
            "{action} {params:?}: {v}"
        );
        assert_eq!(v["Message"], message, "{action}");
        assert_eq!(v["HostId"], "kms.cn-hangzhou.aliyuncs.com");
        assert_eq!(v["RequestId"].as_str().unwrap().len(), 36);
        assert_eq!(
            r.headers["x-acs-request-id"].to_str().unwrap(),
            v["RequestId"].as_str().unwrap()
        );
    }

    // A second alias with the same name; a disabled key.
    c.call("CreateAlias", &[("AliasName", "alias/x"), ("KeyId", &key)])
        .await
        .unwrap();
    let r = c
        .call("CreateAlias", &[("AliasName", "alias/x"), ("KeyId", &key)])
        .await
        .unwrap();
    assert_eq!(code(&r), (409, "AliasAlreadyExists".into()));
    c.call("DisableKey", &[("KeyId", &key)]).await.unwrap();
    let r = c
        .call("Encrypt", &[("KeyId", &key), ("Plaintext", "x")])
        .await
        .unwrap();
    assert_eq!(code(&r), (409, "Rejected.Disabled".into()));
    server.stop().await;
}

#[tokio::test]
async fn frontend_errors() {
    let server = start().await;
    let c = server.client();
    let creds = Credentials {
        access_key_id: AK_A.into(),
        access_key_secret: SK_A.into(),
    };
    let host = server.addr.to_string();

    // Format other than JSON or XML.
    let options = CallOptions {
        format: Some("YAML"),
        ..CallOptions::default()
    };
    let r = c.call_with("ListKeys", &[], &options).await.unwrap();
    assert_eq!(code(&r), (400, "InvalidParameter".into()));
    assert_eq!(
        r.field("Message"),
        "The specified parameter Format is not valid."
    );

    // A body over 64 KiB, with a Content-Length, and chunked (no length).
    let big = "a=".to_owned() + &"x".repeat(64 * 1024);
    let request = Request::post("/")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Full::new(Bytes::from(big.clone())))
        .unwrap();
    let r = c.send(request).await.unwrap();
    assert_eq!(code(&r), (413, "RequestEntityTooLarge".into()));
    let mut raw = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let head = format!(
        "POST / HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    raw.write_all(head.as_bytes()).await.unwrap();
    for chunk in big.as_bytes().chunks(8192) {
        let _ = raw
            .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
            .await;
        let _ = raw.write_all(chunk).await;
        let _ = raw.write_all(b"\r\n").await;
    }
    let _ = raw.write_all(b"0\r\n\r\n").await;
    let mut response = Vec::new();
    let _ = raw.read_to_end(&mut response).await;
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 413"), "{response}");
    assert!(response.contains("RequestEntityTooLarge"), "{response}");

    // A body that is not a form.
    let request = Request::post("/")
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from("{\"Action\":\"ListKeys\"}")))
        .unwrap();
    let r = c.send(request).await.unwrap();
    assert_eq!(code(&r), (415, "UnsupportedMediaType".into()));

    // Other methods and paths.
    let r = c
        .send(Request::put("/").body(Full::new(Bytes::new())).unwrap())
        .await
        .unwrap();
    assert_eq!(code(&r), (405, "MethodNotAllowed".into()));
    let r = c
        .send(
            Request::get("/v1/keys")
                .body(Full::new(Bytes::new()))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(code(&r), (404, "InvalidAction.NotFound".into()));

    // Undecodable and duplicated parameters.
    for query in ["/?Action=%FF%FE", "/?Action=ListKeys&Action=ListAliases"] {
        let r = c
            .send(Request::get(query).body(Full::new(Bytes::new())).unwrap())
            .await
            .unwrap();
        assert_eq!(code(&r), (400, "MalformedRequest".into()), "{query}");
    }

    // A correctly signed request whose parameter is given twice (query and body).
    let options = CallOptions {
        params_in_body: true,
        ..CallOptions::default()
    };
    let request =
        signed_request(&host, &creds, "ListKeys", &[("PageSize", "5")], &options).unwrap();
    let (mut parts, body) = request.into_parts();
    parts.uri = "/?PageSize=5".parse().unwrap();
    let r = c.send(Request::from_parts(parts, body)).await.unwrap();
    assert_eq!(code(&r), (400, "MalformedRequest".into()));
    server.stop().await;
}

#[tokio::test]
async fn garbage_never_stops_the_server() {
    let server = start().await;
    let inputs: Vec<Vec<u8>> = vec![
        b"\x00\x01\x02\xff\r\n\r\n".to_vec(),
        b"GET /?%%%%&&==&=&a=%G0 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec(),
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Type: application/x-www-form-urlencoded\r\nConnection: close\r\n\r\n\xff\xfe\xfd\xfc\xfb".to_vec(),
        b"GET / HTTP/1.1\r\nHost: x\r\nAuthorization: ACS3-HMAC-SHA256 \xff\r\nConnection: close\r\n\r\n".to_vec(),
        b"GET / HTTP/1.1\r\nHost: x\r\nAuthorization: ACS3-HMAC-SHA256 Credential=LTAItestaccountA000001,SignedHeaders=host;x-acs-action;x-acs-date;x-acs-signature-nonce;x-acs-content-sha256,Signature=00\r\nx-acs-action: ListKeys\r\nConnection: close\r\n\r\n".to_vec(),
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\nConnection: close\r\n\r\n".to_vec(),
        format!("GET /?{} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "a=b&".repeat(2000)).into_bytes(),
    ];
    for input in inputs {
        let mut s = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        let _ = s.write_all(&input).await;
        let mut out = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out)).await;
        let text = String::from_utf8_lossy(&out);
        assert!(
            text.is_empty() || text.starts_with("HTTP/1.1 4"),
            "{:?}: {text}",
            String::from_utf8_lossy(&input)
        );
    }
    // Still serving.
    let r = server.client().call("ListKeys", &[]).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    server.stop().await;
}

#[tokio::test]
async fn throttling_per_account_with_a_retry_hint() {
    let mut config = config();
    // One per second, burst one: the quick run below stays well inside one refill.
    config.rate_limit = 1;
    let server = start_with(config).await;
    let (a, b) = (server.client(), server.client_b());
    let key_a = create_key(&a).await;
    let key_b = create_key(&b).await;
    let mut statuses = Vec::new();
    let mut hint = None;
    for _ in 0..6 {
        let r = a
            .call("GenerateDataKey", &[("KeyId", &key_a)])
            .await
            .unwrap();
        if r.status == 429 {
            assert_eq!(r.field("Code"), "Rejected.Throttling");
            assert_eq!(r.field("Message"), "QPS Limit Exceeded");
            let ms: u64 = r.headers["x-acs-retry-after"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!((1..=1000).contains(&ms), "{ms}");
            assert!(r.headers.contains_key("retry-after"));
            hint = Some(ms);
        }
        statuses.push(r.status);
    }
    // The burst of one is admitted; the rest of the quick run is throttled.
    assert_eq!(statuses[0], 200, "{statuses:?}");
    assert!(statuses[1..].iter().all(|s| *s == 429), "{statuses:?}");
    // Another account and another operation have their own buckets.
    let r = b
        .call("GenerateDataKey", &[("KeyId", &key_b)])
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let r = a
        .call("Encrypt", &[("KeyId", &key_a), ("Plaintext", "x")])
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    // After the hinted wait, admitted again.
    tokio::time::sleep(Duration::from_millis(hint.unwrap() + 20)).await;
    let r = a
        .call("GenerateDataKey", &[("KeyId", &key_a)])
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_clients() {
    let server = start().await;
    let key = create_key(&server.client()).await;
    let mut tasks = Vec::new();
    for task in 0..32 {
        let c = server.client();
        let key = key.clone();
        tasks.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for i in 0..10 {
                let ctx = format!("{{\"task\":\"{task}\",\"i\":\"{i}\"}}");
                let r = c
                    .call(
                        "GenerateDataKey",
                        &[("KeyId", &key), ("EncryptionContext", &ctx)],
                    )
                    .await
                    .unwrap();
                assert_eq!(r.status, 200, "{}", r.text());
                let (plain, blob) = (r.field("Plaintext"), r.field("CiphertextBlob"));
                ids.push(r.field("RequestId"));
                let r = c
                    .call(
                        "Decrypt",
                        &[("CiphertextBlob", &blob), ("EncryptionContext", &ctx)],
                    )
                    .await
                    .unwrap();
                assert_eq!(r.field("Plaintext"), plain);
                ids.push(r.field("RequestId"));
            }
            ids
        }));
    }
    let mut all = HashSet::new();
    for t in tasks {
        for id in t.await.unwrap() {
            assert!(all.insert(id), "request IDs are unique");
        }
    }
    assert_eq!(all.len(), 32 * 10 * 2);
    server.stop().await;
}
