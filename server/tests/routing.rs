//! The router's answers to methods and paths it does not serve, in the service's error body;
//! the body limit before them, as before the router routed.

mod common;

use axum::body::Bytes;
use axum::http::{Method, Request};
use common::*;
use http_body_util::Full;

fn request(method: Method, uri: &str, body: &str) -> Request<Full<Bytes>> {
    Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Full::new(Bytes::from(body.to_owned())))
        .unwrap()
}

#[tokio::test]
async fn methods_and_paths_not_served() {
    let server = start().await;
    let c = server.client();
    let cases = [
        (Method::PUT, "/", 405, "MethodNotAllowed"),
        (Method::DELETE, "/", 405, "MethodNotAllowed"),
        (Method::OPTIONS, "/", 405, "MethodNotAllowed"),
        (Method::PATCH, "/?Action=ListKeys", 405, "MethodNotAllowed"),
        // The method is checked before the path, as the service does.
        (Method::PUT, "/v1/keys", 405, "MethodNotAllowed"),
        (Method::GET, "/v1/keys", 404, "InvalidAction.NotFound"),
        (Method::POST, "//", 404, "InvalidAction.NotFound"),
        (
            Method::GET,
            "/index.html?Action=ListKeys",
            404,
            "InvalidAction.NotFound",
        ),
    ];
    for (method, uri, status, code) in cases {
        let r = c.send(request(method.clone(), uri, "")).await.unwrap();
        assert_eq!(
            (r.status, r.field("Code")),
            (status, code.to_owned()),
            "{method} {uri}: {}",
            r.text()
        );
        assert_eq!(r.field("HostId"), "kms.cn-hangzhou.aliyuncs.com");
        assert_eq!(
            r.headers["x-acs-request-id"].to_str().unwrap(),
            r.field("RequestId")
        );
        if status == 405 {
            assert_eq!(r.headers["allow"], "GET, POST", "{method} {uri}");
        } else {
            assert!(!r.headers.contains_key("allow"), "{method} {uri}");
        }
    }
    // HEAD is not GET here: 405, without a body.
    let r = c.send(request(Method::HEAD, "/", "")).await.unwrap();
    assert_eq!(r.status, 405);
    assert!(r.body.is_empty());

    // A body over the limit is refused before the method or the path is looked at.
    let big = "a=".to_owned() + &"x".repeat(64 * 1024);
    for (method, uri) in [(Method::PUT, "/"), (Method::POST, "/v1/keys")] {
        let r = c.send(request(method.clone(), uri, &big)).await.unwrap();
        assert_eq!(
            (r.status, r.field("Code")),
            (413, "RequestEntityTooLarge".to_owned()),
            "{method} {uri}"
        );
    }
    // GET and POST on / reach the service (here: unsigned).
    for method in [Method::GET, Method::POST] {
        let r = c.send(request(method.clone(), "/", "")).await.unwrap();
        assert_eq!(
            (r.status, r.field("Code")),
            (400, "IncompleteSignature".to_owned()),
            "{method}"
        );
    }
    server.stop().await;
}
