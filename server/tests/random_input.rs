//! Random and mutated requests straight into `Service::handle`: never a panic, always an
//! error status for a request that was not signed as it is.

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use kms_core::InMemoryProvider;
use kms_server::client::{CallOptions, Credentials, SignatureVersion, signed_request};
use kms_server::service::RawRequest;
use kms_server::{AccessKey, Config, Service};

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const PIECES: &[&str] = &[
    "Action",
    "GenerateDataKey",
    "Decrypt",
    "Version",
    "2016-01-20",
    "Format",
    "XML",
    "json",
    "AccessKeyId",
    "LTAIfuzz",
    "Signature",
    "SignatureMethod",
    "HMAC-SHA1",
    "SignatureVersion",
    "1.0",
    "SignatureNonce",
    "Timestamp",
    "2026-01-01T00:00:00Z",
    "9999-12-31T23:59:60Z",
    "KeyId",
    "alias/demo",
    "acs:kms:cn-hangzhou:1:key/",
    "EncryptionContext",
    "{\"a\":\"b\"}",
    "CiphertextBlob",
    "NumberOfBytes",
    "DryRun",
    "true",
    "=",
    "&",
    "%",
    "%FF",
    "%00",
    "+",
    "%2",
    "é",
    "\u{0}",
    "%E2%82",
    "[",
    "{",
    "\"",
    "PageSize",
    "999999999999999999999",
];

fn random_text(rng: &mut Rng) -> String {
    (0..rng.below(12)).map(|_| rng.pick(PIECES)).collect()
}

#[test]
fn random_and_mutated_requests_never_panic() {
    let service = Service::new(
        Config::new(vec![AccessKey::new("LTAIfuzz", "fuzz-secret", "1111")]),
        InMemoryProvider::new(),
        None,
    );
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let header_names = [
        "authorization",
        "content-type",
        "x-acs-action",
        "x-acs-date",
        "x-acs-signature-nonce",
        "x-acs-content-sha256",
        "x-acs-version",
    ];
    // The service's clock: the second it serves from, the earliest timestamp it accepts (the
    // signed requests below carry it, so that only their mutations can refuse them).
    let now = service.serving_from();
    for _ in 0..3000 {
        let method = rng.pick(&["GET", "POST", "PUT", "DELETE", "get"]);
        let query = random_text(&mut rng);
        let mut headers = HeaderMap::new();
        for _ in 0..rng.below(5) {
            let name = HeaderName::from_static(header_names[rng.below(header_names.len())]);
            let value = match rng.below(4) {
                0 => "ACS3-HMAC-SHA256 Credential=LTAIfuzz,SignedHeaders=x-acs-action;x-acs-date;x-acs-signature-nonce;x-acs-content-sha256,Signature=00".to_owned(),
                1 => "application/x-www-form-urlencoded".to_owned(),
                _ => random_text(&mut rng),
            };
            if let Ok(v) = HeaderValue::from_bytes(value.as_bytes()) {
                headers.append(name, v);
            }
        }
        let body = random_text(&mut rng).into_bytes();
        let path = rng.pick(&["/", "/", "/x", ""]);
        let request = RawRequest {
            method,
            path,
            query: Some(&query),
            headers: &headers,
            body: &body,
        };
        let reply = service.handle(&request, now);
        assert!(
            (400..500).contains(&reply.status) || reply.status == 503,
            "{reply:?}"
        );
    }

    // Properly signed requests with one byte changed somewhere: refused, never a panic.
    let credentials = Credentials {
        access_key_id: "LTAIfuzz".into(),
        access_key_secret: "fuzz-secret".into(),
    };
    // Unchanged, such a request is admitted.
    for signature in [SignatureVersion::V1, SignatureVersion::V3] {
        let options = CallOptions {
            signature,
            timestamp: Some(now),
            ..CallOptions::default()
        };
        let request = signed_request(
            "127.0.0.1:8089",
            &credentials,
            "ListKeys",
            &[("PageSize", "10")],
            &options,
        )
        .unwrap();
        let (parts, body) = request.into_parts();
        let body = futures_body(body);
        let request = RawRequest {
            method: parts.method.as_str(),
            path: "/",
            query: parts.uri.query(),
            headers: &parts.headers,
            body: &body,
        };
        let reply = service.handle(&request, now);
        assert_eq!(reply.status, 200, "{signature:?}: {reply:?}");
    }
    for signature in [SignatureVersion::V1, SignatureVersion::V3] {
        for i in 0..400 {
            let options = CallOptions {
                signature,
                post: i % 2 == 0,
                params_in_body: i % 4 == 0,
                timestamp: Some(now),
                ..CallOptions::default()
            };
            let request = signed_request(
                "127.0.0.1:8089",
                &credentials,
                "ListKeys",
                &[
                    ("PageSize", "10"),
                    ("EncryptionContext", "{\"k\": \"v w\"}"),
                ],
                &options,
            )
            .unwrap();
            let (parts, body) = request.into_parts();
            let body = futures_body(body);
            let mut query = parts.uri.query().unwrap_or_default().to_owned();
            let mut headers = parts.headers.clone();
            let mut body = body;
            match rng.below(3) {
                0 if !query.is_empty() => {
                    let at = rng.below(query.len());
                    let mut bytes = query.into_bytes();
                    bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
                    query = String::from_utf8(bytes).unwrap();
                }
                1 if !body.is_empty() => {
                    let at = rng.below(body.len());
                    body[at] ^= 0x01;
                }
                _ => {
                    let name = if matches!(signature, SignatureVersion::V3) {
                        "x-acs-signature-nonce"
                    } else {
                        "x-unsigned"
                    };
                    headers.insert(name, HeaderValue::from_static("changed"));
                    if matches!(signature, SignatureVersion::V1) {
                        // V1 does not sign headers: change the signature itself instead,
                        // wherever it travels.
                        if query.contains("Signature=") {
                            query = query.replacen("Signature=", "Signature=A", 1);
                        } else {
                            let text = String::from_utf8(body).unwrap();
                            body = text.replacen("Signature=", "Signature=A", 1).into_bytes();
                        }
                    }
                }
            }
            let request = RawRequest {
                method: parts.method.as_str(),
                path: "/",
                query: Some(&query),
                headers: &headers,
                body: &body,
            };
            let reply = service.handle(&request, now);
            assert!(
                (400..500).contains(&reply.status),
                "{signature:?} {i}: {reply:?}"
            );
        }
    }
}

fn futures_body(body: http_body_util::Full<axum::body::Bytes>) -> Vec<u8> {
    use http_body_util::BodyExt;
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async move { body.collect().await.unwrap().to_bytes().to_vec() })
}
