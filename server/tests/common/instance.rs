//! The KMS-instance API in tests: a client that signs requests as the instance SDK does
//! (RSASSA-PKCS1-v1_5/SHA-256 over the canonical string, `KMS-INSTANCE.md` §2), an in-process
//! server with the instance listener beside the gateway, and the reading of an issued
//! client-key file (PKCS#12) back into a private key.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use axum::body::Bytes;
use base64ct::{Base64, Encoding};
use der::{Decode, Encode, Tagged};
use http_body_util::Full;
use kms_server::client::{Client, ClientResponse, Credentials};
use kms_server::http::ServeOptions;
use kms_server::instance::client_key::ClientKey;
use kms_server::instance::{InstanceApi, pb};
use prost::Message;
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::{DecodePrivateKey, EncodePublicKey};
use rsa::signature::{SignatureEncoding, Signer};
use sha2::{Digest, Sha256};
use tokio::sync::oneshot;

use super::TestServer;

/// Two RSA 2048 key pairs, made once per test binary: `[0]` is issued to the server, `[1]`
/// is not (a client key the server never saw) unless a test issues it.
pub fn rsa_keys() -> &'static [rsa::PrivateKey; 2] {
    static KEYS: OnceLock<[rsa::PrivateKey; 2]> = OnceLock::new();
    KEYS.get_or_init(|| {
        let mut rng = kms_core::OsRng;
        [
            rsa::PrivateKey::new(&mut rng, 2048).unwrap(),
            rsa::PrivateKey::new(&mut rng, 2048).unwrap(),
        ]
    })
}

/// The client key the server keeps for `private` (its public half and scope).
pub fn client_key_of(
    key_id: &str,
    private: &rsa::PrivateKey,
    account: &str,
    region: &str,
    instance: &str,
) -> ClientKey {
    let der = private.to_public_key().to_public_key_der().unwrap();
    ClientKey::new(
        key_id.into(),
        der.as_bytes().to_vec(),
        account.into(),
        region.into(),
        instance.into(),
    )
    .unwrap()
}

/// A request as the SDK builds it, before and after signing.
#[derive(Clone, Debug)]
pub struct SignedRequest {
    /// The headers, lowercase names.
    pub headers: BTreeMap<String, String>,
    /// The body.
    pub body: Vec<u8>,
}

/// The date header the SDK writes, for `at`.
pub fn date(at: SystemTime) -> String {
    httpdate::fmt_http_date(at)
}

/// The SDK's string to sign of `headers`.
pub fn string_to_sign(headers: &BTreeMap<String, String>) -> String {
    let get = |n: &str| headers.get(n).cloned().unwrap_or_default();
    let mut s = format!(
        "POST\n{}\n{}\n{}\n",
        get("content-sha256"),
        get("content-type"),
        get("date")
    );
    for (name, value) in headers {
        if name.starts_with("x-kms-") {
            s.push_str(&format!("{name}:{}\n", value.trim()));
        }
    }
    s.push('/');
    s
}

/// Signs `headers` with `key` (the `authorization` header).
pub fn sign(headers: &mut BTreeMap<String, String>, key: &rsa::PrivateKey) {
    let signer = SigningKey::<Sha256>::new(key.clone());
    let signature = signer.sign(string_to_sign(headers).as_bytes());
    headers.insert(
        "authorization".into(),
        format!("Bearer {}", Base64::encode_string(&signature.to_bytes())),
    );
}

/// The request for operation `api` with `body`, signed by `key` as client key `key_id` at
/// time `at`, as the SDK signs it.
pub fn request(
    key_id: &str,
    key: &rsa::PrivateKey,
    api: &str,
    body: Vec<u8>,
    at: SystemTime,
) -> SignedRequest {
    let mut headers = BTreeMap::new();
    for (k, v) in [
        ("accept", "application/x-protobuf"),
        ("content-type", "application/x-protobuf"),
        ("x-kms-apiversion", "dkms-gcs-0.2"),
        ("x-kms-signaturemethod", "RSA_PKCS1_SHA_256"),
        ("user-agent", "kms-server-tests"),
    ] {
        headers.insert(k.to_owned(), v.to_owned());
    }
    headers.insert("x-kms-apiname".into(), api.into());
    headers.insert("x-kms-acccesskeyid".into(), key_id.into());
    headers.insert("date".into(), date(at));
    headers.insert(
        "content-sha256".into(),
        base16ct::upper::encode_string(&Sha256::digest(&body)),
    );
    sign(&mut headers, key);
    SignedRequest { headers, body }
}

/// A reply of the instance API.
#[derive(Debug)]
pub struct Reply {
    /// The HTTP status.
    pub status: u16,
    /// The response headers.
    pub headers: axum::http::HeaderMap,
    /// The body.
    pub body: Bytes,
}

impl Reply {
    /// The body as an `Error` (asserting it is one, with `StatusCode` = the status).
    pub fn error(&self) -> pb::Error {
        let e = pb::Error::decode(self.body.as_ref())
            .unwrap_or_else(|_| panic!("not an Error body: {:?}", self.body));
        assert_eq!(e.status_code, i32::from(self.status), "{e:?}");
        assert!(!e.request_id.is_empty(), "{e:?}");
        e
    }

    /// Asserts an error with `status`, `code` and `message`.
    pub fn assert_error(&self, status: u16, code: &str, message: &str) {
        assert_eq!(self.status, status, "{:?}", self.error());
        let e = self.error();
        assert_eq!(e.error_code, code, "{e:?}");
        if !message.is_empty() {
            assert_eq!(e.error_message, message, "{e:?}");
        }
        assert_eq!(
            self.headers
                .get("content-type")
                .and_then(|v| v.to_str().ok()),
            Some("application/x-protobuf")
        );
    }

    /// The body as `M`, asserting status 200.
    pub fn ok<M: Message + Default>(&self) -> M {
        assert_eq!(self.status, 200, "{:?}", self.error());
        M::decode(self.body.as_ref()).unwrap()
    }

    /// The `x-kms-migrationkeyversionid` header.
    pub fn version_header(&self) -> Option<String> {
        self.headers
            .get("x-kms-migrationkeyversionid")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }
}

/// Sends `request` to the instance API at `addr` (plain HTTP), as `POST /`.
pub async fn send(http: &Client, request: &SignedRequest) -> Reply {
    send_raw(http, "POST", "/", request).await
}

/// Sends `request` with `method` and `path`.
pub async fn send_raw(http: &Client, method: &str, path: &str, request: &SignedRequest) -> Reply {
    let mut builder = axum::http::Request::builder().method(method).uri(path);
    for (k, v) in &request.headers {
        builder = builder.header(k, v);
    }
    let r: ClientResponse = http
        .send(
            builder
                .body(Full::new(Bytes::from(request.body.clone())))
                .unwrap(),
        )
        .await
        .unwrap();
    Reply {
        status: r.status,
        headers: r.headers,
        body: r.body,
    }
}

/// The ID of the client key issued in [`start`].
pub const CLIENT_KEY_ID: &str = "KAAP.00000000-0000-4000-8000-000000000001";
/// A second client key issued in [`start`] (also account A).
pub const CLIENT_KEY_ID_2: &str = "KAAP.00000000-0000-4000-8000-000000000002";

/// A gateway and an instance listener over one service.
pub struct InstanceServer {
    /// The gateway.
    pub gateway: TestServer,
    /// The instance API.
    pub api: Arc<InstanceApi>,
    /// The instance listener.
    pub addr: SocketAddr,
    /// A client of the instance listener (plain HTTP; its credentials are unused).
    pub http: Client,
    stop: Option<oneshot::Sender<()>>,
}

impl InstanceServer {
    /// Calls `api` with `message`, signed by the first issued client key, now.
    pub async fn call<M: Message>(&self, api: &str, message: &M) -> Reply {
        let r = request(
            CLIENT_KEY_ID,
            &rsa_keys()[0],
            api,
            message.encode_to_vec(),
            SystemTime::now(),
        );
        send(&self.http, &r).await
    }

    /// The instance ID.
    pub fn instance(&self) -> &str {
        self.api.instance()
    }

    /// Stops both listeners.
    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        self.gateway.stop().await;
    }
}

/// Starts a gateway (accounts A and B, `config`) and an instance listener beside it over the
/// same service, with two client keys issued to account A ([`CLIENT_KEY_ID`], signed by
/// `rsa_keys()[0]`, and [`CLIENT_KEY_ID_2`], signed by `rsa_keys()[1]`).
pub async fn start_with(config: kms_server::Config) -> InstanceServer {
    start_on(super::start_with(config).await).await
}

/// An instance listener beside `gateway`, over its service (as [`start_with`]).
pub async fn start_on(gateway: TestServer) -> InstanceServer {
    start_on_with(gateway, ServeOptions::default()).await
}

/// [`start_on`], the instance listener served with `options`.
pub async fn start_on_with(gateway: TestServer, options: ServeOptions) -> InstanceServer {
    let instance = kms_server::instance::new_instance_id().unwrap();
    let region = gateway.service.region().to_owned();
    let keys = vec![
        client_key_of(
            CLIENT_KEY_ID,
            &rsa_keys()[0],
            super::ACCOUNT_A,
            &region,
            instance.as_str(),
        ),
        client_key_of(
            CLIENT_KEY_ID_2,
            &rsa_keys()[1],
            super::ACCOUNT_A,
            &region,
            instance.as_str(),
        ),
    ];
    let api = Arc::new(InstanceApi::new(
        Arc::clone(&gateway.service),
        instance,
        keys,
        gateway.service.rate_limit(),
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(kms_server::instance::http::serve(
        listener,
        Arc::clone(&api),
        options,
        async move {
            let _ = rx.await;
        },
    ));
    let http = Client::new(
        addr,
        Credentials {
            access_key_id: String::new(),
            access_key_secret: String::new(),
        },
    );
    InstanceServer {
        gateway,
        api,
        addr,
        http,
        stop: Some(tx),
    }
}

/// [`start_with`] the default configuration.
pub async fn start() -> InstanceServer {
    start_with(super::config()).await
}

/// The private key in an issued client-key file: the PKCS#12 container opened with the
/// password (MAC checked, shrouded key bag decrypted), as the SDK's loader does.
pub fn private_key_of_files(
    json_path: &std::path::Path,
    password_path: &std::path::Path,
) -> (String, rsa::PrivateKey) {
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(json_path).unwrap()).unwrap();
    let key_id = json["KeyId"].as_str().unwrap().to_owned();
    let p12 = Base64::decode_vec(json["PrivateKeyData"].as_str().unwrap()).unwrap();
    let password = std::fs::read_to_string(password_path).unwrap();
    (key_id, open_pkcs12(&p12, &password))
}

/// The private key of a PKCS#12 container as the server writes it, its MAC checked.
pub fn open_pkcs12(p12: &[u8], password: &str) -> rsa::PrivateKey {
    use hmac::{KeyInit, Mac};
    let pfx = pkcs12::Pfx::from_der(p12).unwrap();
    assert_eq!(pfx.version, pkcs12::pfx::Version::V3);
    let auth_safe = der::asn1::OctetString::from_der(&pfx.auth_safe.content.to_der().unwrap())
        .unwrap()
        .into_bytes();
    let mac = pfx.mac_data.expect("a MAC");
    let key = pkcs12::kdf::derive_key_utf8::<Sha256>(
        password,
        mac.mac_salt.as_bytes(),
        pkcs12::kdf::Pkcs12KeyType::Mac,
        mac.iterations,
        32,
    )
    .unwrap();
    let mut hmac = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(&key).unwrap();
    hmac.update(&auth_safe);
    hmac.verify_slice(mac.mac.digest.as_bytes())
        .expect("the PKCS#12 MAC verifies");
    let safes = Vec::<pkcs12::cms::content_info::ContentInfo>::from_der(&auth_safe).unwrap();
    assert_eq!(safes.len(), 1);
    let contents = der::asn1::OctetString::from_der(&safes[0].content.to_der().unwrap())
        .unwrap()
        .into_bytes();
    let bags = Vec::<pkcs12::SafeBag>::from_der(&contents).unwrap();
    assert_eq!(bags.len(), 1);
    assert_eq!(bags[0].bag_id, pkcs12::PKCS_12_PKCS8_KEY_BAG_OID);
    // The decoder keeps the bag value's `[0] EXPLICIT` wrapper.
    let wrapped = der::Any::from_der(&bags[0].bag_value).unwrap();
    assert_eq!(
        wrapped.tag(),
        der::Tag::ContextSpecific {
            constructed: true,
            number: der::TagNumber(0)
        }
    );
    let encrypted = rsa::pkcs8::EncryptedPrivateKeyInfoRef::from_der(wrapped.value()).unwrap();
    let pkcs8 = encrypted.decrypt(password.as_bytes()).unwrap();
    rsa::PrivateKey::from_pkcs8_der(pkcs8.as_bytes()).unwrap()
}

/// How long the tests wait for a server at most.
pub const PATIENCE: Duration = Duration::from_secs(10);
