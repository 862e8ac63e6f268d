//! Replay protection over HTTP: a nonce is spent only by an admitted request (a throttled
//! request sent again unchanged is admitted once the limiter refills), a request captured
//! before a restart is refused after it, and a full replay cache refuses only its own
//! AccessKey.

mod common;

use std::time::{Duration, SystemTime};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, Request, Uri};
use common::*;
use http_body_util::{BodyExt, Full};
use kms_server::client::{CallOptions, Client, ClientResponse, Credentials, signed_request};
use kms_server::{AccessKey, auth};

/// A signed request kept as sent, to be sent again byte for byte: same nonce, same
/// timestamp, same signature.
struct Captured {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
}

impl Captured {
    /// Signs `action` with `params` as `credentials`, as `options` say, for `client`'s server.
    async fn sign(
        client: &Client,
        credentials: &Credentials,
        action: &str,
        params: &[(&str, &str)],
        options: &CallOptions,
    ) -> Self {
        let request = signed_request(
            &client.addr().to_string(),
            credentials,
            action,
            params,
            options,
        )
        .unwrap();
        let (parts, body) = request.into_parts();
        Self {
            method: parts.method,
            uri: parts.uri,
            headers: parts.headers,
            body: body.collect().await.unwrap().to_bytes(),
        }
    }

    /// Sends it (again) through `client`, to whatever server that is.
    async fn send(&self, client: &Client) -> ClientResponse {
        let mut request = Request::builder()
            .method(self.method.clone())
            .uri(self.uri.clone())
            .body(Full::new(self.body.clone()))
            .unwrap();
        *request.headers_mut() = self.headers.clone();
        client.send(request).await.unwrap()
    }

    /// The signed timestamp.
    fn timestamp(&self) -> SystemTime {
        let text = self.headers.get("x-acs-date").map_or_else(
            || {
                let query = self.uri.query().unwrap_or_default();
                form_value(query, "Timestamp")
            },
            |v| v.to_str().unwrap().to_owned(),
        );
        auth::parse_timestamp(&text).unwrap()
    }
}

fn form_value(query: &str, name: &str) -> String {
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

fn credentials_a() -> Credentials {
    Credentials {
        access_key_id: AK_A.into(),
        access_key_secret: SK_A.into(),
    }
}

fn both() -> [CallOptions; 2] {
    [CallOptions::v1(), CallOptions::default()]
}

fn retry_after_ms(r: &ClientResponse) -> u64 {
    r.headers["x-acs-retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn a_throttled_request_sent_again_unchanged_is_admitted_after_the_refill() {
    let mut config = config();
    // One per second, burst one.
    config.rate_limit = 1;
    let server = start_with(config).await;
    let c = server.client();
    for options in both() {
        let tag = format!("{:?}", options.signature);
        // Another action each round: each has its own bucket.
        let action = match options.signature {
            kms_server::client::SignatureVersion::V1 => "ListKeys",
            kms_server::client::SignatureVersion::V3 => "ListAliases",
        };
        // The burst of one is spent.
        let r = c.call_with(action, &[], &options).await.unwrap();
        assert_eq!(r.status, 200, "{tag}: {}", r.text());
        let request = Captured::sign(
            &c,
            &credentials_a(),
            action,
            &[],
            &CallOptions {
                nonce: Some(format!("throttled-{tag}")),
                ..options.clone()
            },
        )
        .await;
        // Throttled, again and again: never refused as a replay, since it spent no nonce.
        let mut hint = 0;
        for _ in 0..3 {
            let r = request.send(&c).await;
            assert_eq!(code(&r), (429, "Rejected.Throttling".into()), "{tag}");
            hint = retry_after_ms(&r);
            assert!((1..=1000).contains(&hint), "{tag}: {hint}");
        }
        // After the hinted wait: admitted, unchanged.
        tokio::time::sleep(Duration::from_millis(hint + 20)).await;
        let r = request.send(&c).await;
        assert_eq!(r.status, 200, "{tag}: {}", r.text());
        // Now it is a replay, refused before the rate limit is asked: it spends no token,
        // so a fresh request after the next refill is admitted.
        tokio::time::sleep(Duration::from_millis(1020)).await;
        let r = request.send(&c).await;
        assert_eq!(code(&r), (400, "SignatureNonceUsed".into()), "{tag}");
        let r = c.call_with(action, &[], &options).await.unwrap();
        assert_eq!(r.status, 200, "{tag}: {}", r.text());
    }
    server.stop().await;
}

#[tokio::test]
async fn requests_refused_after_authentication_spend_no_nonce() {
    let server = start().await;
    let c = server.client();
    for options in both() {
        let tag = format!("{:?}", options.signature);
        let nonce = format!("refused-first-{tag}");
        let with_nonce = |version: &str| CallOptions {
            nonce: Some(nonce.clone()),
            version: version.into(),
            ..options.clone()
        };
        // Signed right, refused for its version, then for its action.
        let r = c
            .call_with("ListKeys", &[], &with_nonce("2014-05-26"))
            .await
            .unwrap();
        assert_eq!(code(&r), (400, "InvalidVersion".into()), "{tag}");
        let r = c
            .call_with("NoSuchAction", &[], &with_nonce("2016-01-20"))
            .await
            .unwrap();
        assert_eq!(code(&r), (404, "InvalidAction.NotFound".into()), "{tag}");
        // The nonce is still unspent.
        let r = c
            .call_with("ListKeys", &[], &with_nonce("2016-01-20"))
            .await
            .unwrap();
        assert_eq!(r.status, 200, "{tag}: {}", r.text());
        let r = c
            .call_with("ListKeys", &[], &with_nonce("2016-01-20"))
            .await
            .unwrap();
        assert_eq!(code(&r), (400, "SignatureNonceUsed".into()), "{tag}");
    }
    server.stop().await;
}

#[tokio::test]
async fn a_request_captured_before_a_restart_is_refused_after_it() {
    let first = start().await;
    let c = first.client();
    let mut captured = Vec::new();
    for options in both() {
        let tag = format!("{:?}", options.signature);
        let request = Captured::sign(&c, &credentials_a(), "ListKeys", &[], &options).await;
        let r = request.send(&c).await;
        assert_eq!(r.status, 200, "{tag}: {}", r.text());
        // Before the restart, the same request is a replay.
        let r = request.send(&c).await;
        assert_eq!(code(&r), (400, "SignatureNonceUsed".into()), "{tag}");
        captured.push((tag, request));
    }
    let first_from = first.service.serving_from();
    first.stop().await;

    // A new service over the same configuration: its replay caches are empty.
    let second = start().await;
    let c = second.client();
    assert!(second.service.serving_from() >= first_from + Duration::from_secs(1));
    for (tag, request) in &captured {
        assert!(request.timestamp() < second.service.serving_from(), "{tag}");
        let r = request.send(&c).await;
        assert_eq!(
            code(&r),
            (400, "IllegalTimestamp".into()),
            "{tag}: {}",
            r.text()
        );
        assert!(
            r.field("Message")
                .contains("earlier than the time the server started"),
            "{tag}: {}",
            r.text()
        );
    }
    // Requests signed now are served.
    for options in both() {
        let r = c.call_with("ListKeys", &[], &options).await.unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
    }
    second.stop().await;
}

#[tokio::test]
async fn a_full_replay_cache_refuses_only_its_own_access_key() {
    // A second AccessKey of account A, and account B's.
    const AK_A2: &str = "LTAItestaccountA000002";
    let mut config = config();
    config
        .access_keys
        .push(AccessKey::new(AK_A2, "secret-a2", ACCOUNT_A));
    config.nonce_capacity_per_key = Some(20);
    let server = start_with(config).await;
    let a = server.client();
    let a2 = a.with_credentials(Credentials {
        access_key_id: AK_A2.into(),
        access_key_secret: "secret-a2".into(),
    });
    let b = server.client_b();

    let mut admitted = Vec::new();
    for i in 0..20 {
        let options = if i % 2 == 0 {
            CallOptions::default()
        } else {
            CallOptions::v1()
        };
        let request = Captured::sign(&a, &credentials_a(), "ListKeys", &[], &options).await;
        let r = request.send(&a).await;
        assert_eq!(r.status, 200, "{i}: {}", r.text());
        admitted.push(request);
    }
    // A's cache is full: its new requests are refused, with a hint of when its oldest
    // minute of nonces goes (15 to 16 minutes from its first request).
    let refused = Captured::sign(
        &a,
        &credentials_a(),
        "ListKeys",
        &[],
        &CallOptions::default(),
    )
    .await;
    for _ in 0..2 {
        let r = refused.send(&a).await;
        assert_eq!(
            code(&r),
            (429, "Rejected.Throttling".into()),
            "{}",
            r.text()
        );
        assert!(r.field("Message").contains("replay window"), "{}", r.text());
        let hint = retry_after_ms(&r);
        assert!((840_000..=960_000).contains(&hint), "{hint}");
    }
    // Its replays are still told apart.
    let r = admitted[0].send(&a).await;
    assert_eq!(code(&r), (400, "SignatureNonceUsed".into()));

    // The other AccessKeys, of another account and of the same one, are served.
    for client in [&b, &a2] {
        for options in both() {
            for _ in 0..5 {
                let r = client.call_with("ListKeys", &[], &options).await.unwrap();
                assert_eq!(r.status, 200, "{}", r.text());
            }
        }
    }
    let r = a.call("ListKeys", &[]).await.unwrap();
    assert_eq!(code(&r), (429, "Rejected.Throttling".into()));
    server.stop().await;
}

/// A request signed ahead of the server's clock (the window allows 15 minutes) is still in
/// the window after a restart, when the nonces are gone: the AccessKey's replay floor, written
/// to the store before such a request is admitted, refuses it then. Requests signed with the
/// current time after the restart are served, and a server without a store has no floor to
/// write.
#[tokio::test]
async fn a_request_signed_ahead_of_the_clock_is_refused_after_a_restart() {
    let dir = temp_dir("replay-ahead");
    let path = dir.join("kms.db");
    let (store, provider) = open_store(&path, kms_core::InMemoryProvider::new().seal_limit());
    let first = start_with_provider(provider, Some(store)).await;
    let c = first.client();
    let ahead = SystemTime::now() + Duration::from_secs(120);
    let mut captured = Vec::new();
    for mut options in both() {
        options.timestamp = Some(ahead);
        let tag = format!("{:?}", options.signature);
        let request = Captured::sign(&c, &credentials_a(), "ListKeys", &[], &options).await;
        let r = request.send(&c).await;
        assert_eq!(r.status, 200, "{tag}: {}", r.text());
        captured.push((tag, request));
    }
    first.stop().await;

    let (store, provider) = open_store(&path, kms_core::InMemoryProvider::new().seal_limit());
    let second = start_with_provider(provider, Some(store)).await;
    let c = second.client();
    for (tag, request) in &captured {
        // Later than the serving second: only the floor catches it.
        assert!(request.timestamp() > second.service.serving_from(), "{tag}");
        let r = request.send(&c).await;
        assert_eq!(
            code(&r),
            (400, "IllegalTimestamp".into()),
            "{tag}: {}",
            r.text()
        );
    }
    // Account B never signed ahead: no floor, served.
    let r = second.client_b().call("ListKeys", &[]).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    // A, whose clock ran ahead, is served past its floor (the latest timestamp admitted ahead
    // of the clock plus the 10-second margin) and refused at or before it, until the server's
    // clock passes it (server/README.md).
    let past_floor = CallOptions {
        timestamp: Some(ahead + Duration::from_secs(11)),
        ..CallOptions::default()
    };
    let r = c.call_with("ListKeys", &[], &past_floor).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let at_floor = CallOptions {
        timestamp: Some(ahead + Duration::from_secs(10)),
        ..CallOptions::default()
    };
    let r = c.call_with("ListKeys", &[], &at_floor).await.unwrap();
    assert_eq!(code(&r), (400, "IllegalTimestamp".into()), "{}", r.text());
    second.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}
