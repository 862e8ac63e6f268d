//! Bring your own key over HTTP: CreateKey Origin=EXTERNAL, GetParametersForImport with each
//! WrappingAlgorithm, the material wrapped here with the `rsa` crate, ImportKeyMaterial,
//! GenerateDataKey and Decrypt; every documented error of the three operations; material
//! expiry through the service's housekeeping (`Service::tick` at a later time) to
//! `Rejected.PendingImport` and back; a restart with the store keeps the material, its expiry
//! and the tokens.

mod common;

use std::time::{Duration, SystemTime};

use base64ct::{Base64, Encoding};
use kms_core::InMemoryProvider;
use kms_server::client::Client;
use rsa::pkcs8::DecodePublicKey;
use rsa::{Oaep, Pkcs1v15Encrypt, PublicKey};

const ALGORITHMS: [&str; 3] = ["RSAES_OAEP_SHA_256", "RSAES_OAEP_SHA_1", "RSAES_PKCS1_V1_5"];

async fn external_key(c: &Client) -> String {
    let r = c
        .call("CreateKey", &[("Origin", "EXTERNAL")])
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["KeyMetadata"]["KeyState"], "PendingImport");
    r.json()["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// GetParametersForImport: (ImportToken, PublicKey), after checking the response's fields.
async fn parameters(c: &Client, key: &str, algorithm: &str) -> (String, String) {
    let r = c
        .call(
            "GetParametersForImport",
            &[
                ("KeyId", key),
                ("WrappingAlgorithm", algorithm),
                ("WrappingKeySpec", "RSA_2048"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let j = r.json();
    assert_eq!(j["KeyId"], key);
    assert!(j["RequestId"].as_str().is_some());
    // TokenExpireTime: ISO 8601 UTC, about 24 hours ahead.
    let expires = j["TokenExpireTime"].as_str().unwrap();
    assert_eq!(expires.len(), 20, "{expires}");
    assert!(
        expires.ends_with('Z') && expires.as_bytes()[10] == b'T',
        "{expires}"
    );
    (
        j["ImportToken"].as_str().unwrap().to_owned(),
        j["PublicKey"].as_str().unwrap().to_owned(),
    )
}

fn wrap(public_key: &str, algorithm: &str, material: &[u8]) -> String {
    let der = Base64::decode_vec(public_key).unwrap();
    let public = PublicKey::from_public_key_der(&der).unwrap();
    let mut rng = kms_core::OsRng;
    let wrapped = match algorithm {
        "RSAES_OAEP_SHA_256" => public.encrypt(&mut rng, Oaep::<sha2::Sha256>::new(), material),
        "RSAES_OAEP_SHA_1" => public.encrypt(&mut rng, Oaep::<sha1::Sha1>::new(), material),
        _ => public.encrypt(&mut rng, Pkcs1v15Encrypt, material),
    };
    Base64::encode_string(&wrapped.unwrap())
}

async fn import(
    c: &Client,
    key: &str,
    wrapped: &str,
    token: &str,
    expire: Option<&str>,
) -> kms_server::client::ClientResponse {
    let mut params = vec![
        ("KeyId", key),
        ("EncryptedKeyMaterial", wrapped),
        ("ImportToken", token),
    ];
    if let Some(e) = expire {
        params.push(("KeyMaterialExpireUnix", e));
    }
    c.call("ImportKeyMaterial", &params).await.unwrap()
}

/// The whole flow: parameters, wrap, import.
async fn byok(c: &Client, key: &str, algorithm: &str, material: &[u8], expire: Option<&str>) {
    let (token, public) = parameters(c, key, algorithm).await;
    let r = import(c, key, &wrap(&public, algorithm, material), &token, expire).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.json()["RequestId"].as_str().is_some());
}

#[track_caller]
fn assert_error(r: &kms_server::client::ClientResponse, status: u16, code: &str, message: &str) {
    assert_eq!(r.status, status, "{}", r.text());
    assert_eq!(r.json()["Code"], code, "{}", r.text());
    assert_eq!(r.json()["Message"], message, "{}", r.text());
}

/// Into `key`, which had `material`: other material is refused (`InvalidKeyMaterial`), the
/// same is imported (with `algorithm`), and `made` (a blob and its plaintext) decrypts again.
async fn only_the_same_material(
    c: &Client,
    key: &str,
    algorithm: &str,
    material: &[u8],
    made: (&str, &str),
) {
    let (token, public) = parameters(c, key, algorithm).await;
    let other: Vec<u8> = material.iter().map(|b| b ^ 0x5d).collect();
    let r = import(c, key, &wrap(&public, algorithm, &other), &token, None).await;
    assert_error(&r, 400, "InvalidKeyMaterial", "key material is invalid.");
    byok(c, key, algorithm, material, None).await;
    assert_decrypts(c, made.0, made.1).await;
}

async fn gdk(c: &Client, key: &str) -> kms_server::client::ClientResponse {
    c.call("GenerateDataKey", &[("KeyId", key)]).await.unwrap()
}

async fn assert_decrypts(c: &Client, blob: &str, plaintext: &str) {
    let r = c
        .call("Decrypt", &[("CiphertextBlob", blob)])
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.field("Plaintext"), plaintext);
}

const PENDING_IMPORT: (u16, &str, &str) = (
    409,
    "Rejected.PendingImport",
    "The request was rejected because the key state is PendingImport.",
);

#[tokio::test]
async fn each_wrapping_algorithm_imports_and_the_key_works() {
    let server = common::start().await;
    let c = server.client();
    for algorithm in ALGORITHMS {
        let key = external_key(&c).await;
        let r = gdk(&c, &key).await;
        assert_error(&r, PENDING_IMPORT.0, PENDING_IMPORT.1, PENDING_IMPORT.2);
        byok(&c, &key, algorithm, &[0x21; 32], None).await;
        let r = c.call("DescribeKey", &[("KeyId", &key)]).await.unwrap();
        assert_eq!(
            r.json()["KeyMetadata"]["KeyState"],
            "Enabled",
            "{algorithm}"
        );
        let made = gdk(&c, &key).await;
        assert_eq!(made.status, 200, "{}", made.text());
        assert_decrypts(&c, &made.field("CiphertextBlob"), &made.field("Plaintext")).await;
    }
    // In XML too.
    let key = external_key(&c).await;
    let r = c
        .call(
            "GetParametersForImport",
            &[
                ("KeyId", key.as_str()),
                ("WrappingAlgorithm", "RSAES_OAEP_SHA_256"),
                ("WrappingKeySpec", "RSA_2048"),
                ("Format", "XML"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    let text = r.text();
    assert!(text.contains("<GetParametersForImportResponse>"), "{text}");
    assert!(
        text.contains("<ImportToken>") && text.contains("<PublicKey>"),
        "{text}"
    );
    server.stop().await;
}

async fn get(
    c: &Client,
    key: &str,
    algorithm: Option<&str>,
    spec: Option<&str>,
) -> kms_server::client::ClientResponse {
    let mut p = vec![("KeyId", key)];
    if let Some(a) = algorithm {
        p.push(("WrappingAlgorithm", a));
    }
    if let Some(s) = spec {
        p.push(("WrappingKeySpec", s));
    }
    c.call("GetParametersForImport", &p).await.unwrap()
}

#[tokio::test]
async fn every_documented_error() {
    let server = common::start().await;
    let c = server.client();
    let key = external_key(&c).await;
    let other = external_key(&c).await;
    let service_key = common::create_key(&c).await;
    let alg = "RSAES_OAEP_SHA_256";

    // GetParametersForImport.
    let r = get(&c, &service_key, Some(alg), Some("RSA_2048")).await;
    assert_error(
        &r,
        400,
        "Unsupported.Origin",
        "This key origin is not valid for this api.",
    );
    let r = get(&c, &key, None, Some("RSA_2048")).await;
    assert_error(
        &r,
        400,
        "MissingParameter",
        "The parameter WrappingAlgorithm is needed but not provided.",
    );
    let r = get(&c, &key, Some("SM2PKE"), Some("EC_SM2")).await;
    assert_error(
        &r,
        400,
        "InvalidParameter",
        "The specified parameter WrappingAlgorithm is not valid.",
    );
    let r = get(&c, &key, Some(alg), Some("RSA_4096")).await;
    assert_error(
        &r,
        400,
        "InvalidParameter",
        "The specified parameter WrappingKeySpec is not valid.",
    );
    let r = get(&c, "key-hzz630494463ejqjx1234", Some(alg), Some("RSA_2048")).await;
    assert_error(
        &r,
        404,
        "Forbidden.KeyNotFound",
        "The specified Key is not found.",
    );
    let r = server
        .client_b()
        .call(
            "GetParametersForImport",
            &[
                ("KeyId", &*key),
                ("WrappingAlgorithm", alg),
                ("WrappingKeySpec", "RSA_2048"),
            ],
        )
        .await
        .unwrap();
    assert_error(
        &r,
        404,
        "Forbidden.KeyNotFound",
        "The specified Key is not found.",
    );

    // ImportKeyMaterial.
    let (token, public) = parameters(&c, &key, alg).await;
    let (their_token, _) = parameters(&c, &other, alg).await;
    let wrapped = wrap(&public, alg, &[0x31; 32]);
    let r = import(&c, &key, &wrapped, &their_token, None).await;
    assert_error(&r, 400, "InvalidImportToken", "import token is invalid.");
    let r = import(&c, &key, &wrapped, "bm90IGEgdG9rZW4=", None).await;
    assert_error(&r, 400, "InvalidImportToken", "import token is invalid.");
    let r = import(&c, &key, &wrap(&public, alg, &[0x31; 16]), &token, None).await;
    assert_error(&r, 400, "InvalidKeyMaterial", "key material is invalid.");
    let r = import(
        &c,
        &key,
        &wrap(&public, alg, &[0x31; 32]),
        &token,
        Some("1"),
    )
    .await;
    assert_error(
        &r,
        400,
        "InvalidParameter",
        "The specified parameter KeyMaterialExpireUnix is not valid.",
    );
    let r = import(&c, &key, "not base64!", &token, None).await;
    assert_error(
        &r,
        400,
        "InvalidParameter",
        "The specified parameter EncryptedKeyMaterial is not valid.",
    );
    let r = c
        .call(
            "ImportKeyMaterial",
            &[("KeyId", &*key), ("EncryptedKeyMaterial", &*wrapped)],
        )
        .await
        .unwrap();
    assert_error(
        &r,
        400,
        "MissingParameter",
        "The parameter ImportToken is needed but not provided.",
    );
    let r = import(&c, &service_key, &wrapped, &token, None).await;
    assert_error(
        &r,
        400,
        "Unsupported.Origin",
        "This key origin is not valid for this api.",
    );
    // The right one goes in; then other material is refused.
    let r = import(&c, &key, &wrapped, &token, None).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let (token, public) = parameters(&c, &key, alg).await;
    let r = import(&c, &key, &wrap(&public, alg, &[0x32; 32]), &token, None).await;
    assert_error(&r, 400, "InvalidKeyMaterial", "key material is invalid.");

    // DeleteKeyMaterial.
    let r = c
        .call("DeleteKeyMaterial", &[("KeyId", &*other)])
        .await
        .unwrap();
    assert_error(
        &r,
        409,
        "Rejected.StateModifiedFailed",
        "Keystate modified failed.",
    );
    let r = c
        .call("DeleteKeyMaterial", &[("KeyId", &*service_key)])
        .await
        .unwrap();
    assert_error(
        &r,
        400,
        "UnsupportedOperation",
        "This action is not supported.",
    );
    let r = c.call("DeleteKeyMaterial", &[]).await.unwrap();
    assert_error(
        &r,
        400,
        "MissingParameter",
        "The parameter KeyId is needed but not provided.",
    );
    let r = c
        .call(
            "ScheduleKeyDeletion",
            &[("KeyId", &*key), ("PendingWindowInDays", "7")],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    let r = get(&c, &key, Some(alg), Some("RSA_2048")).await;
    assert_error(
        &r,
        409,
        "Rejected.StateModifiedFailed",
        "Keystate modified failed.",
    );
    server.stop().await;
}

#[tokio::test]
async fn an_expired_token_is_refused() {
    // The service's clock is the request's: a token made 24 hours "ago" is minted by the core
    // directly, with the service's own token key.
    let server = common::start().await;
    let c = server.client();
    let key = external_key(&c).await;
    let (token, public) = parameters(&c, &key, "RSAES_OAEP_SHA_1").await;
    // Past the token's 24 hours: housekeeping at a later time does not matter to tokens, so
    // the check is the core's (tests/management/import_wrapped.rs); here, a token of the
    // service's own key is accepted and one minted a day earlier is refused as expired.
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap();
    let pair = kms_core::management::import::WrappingKeyPair::generate(
        kms_core::management::import::WrappingKeySpec::Rsa2048,
        &mut kms_core::OsRng,
    )
    .unwrap();
    let old = server.service.with_provider_read(|p| {
        kms_core::management::import::get_parameters_for_import(
            p,
            &kms_core::Caller::new(common::ACCOUNT_A, "cn-hangzhou"),
            &kms_core::management::params::key_id(Some(&key)).unwrap(),
            kms_core::management::import::WrappingAlgorithm::RsaesOaepSha1,
            &pair,
            server.service.import_token_key(),
            &mut kms_core::OsRng,
            now - Duration::from_secs(86_400 + 5),
        )
        .unwrap()
    });
    let r = import(
        &c,
        &key,
        &wrap(&old.public_key, "RSAES_OAEP_SHA_1", &[7; 32]),
        &old.import_token,
        None,
    )
    .await;
    assert_error(&r, 400, "ExpiredImportToken", "import token is expired.");
    let r = import(
        &c,
        &key,
        &wrap(&public, "RSAES_OAEP_SHA_1", &[7; 32]),
        &token,
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    server.stop().await;
}

#[tokio::test]
async fn delete_and_expiry_go_pending_import_and_the_same_material_comes_back() {
    let server = common::start().await;
    let c = server.client();
    let key = external_key(&c).await;
    let material = [0x5c; 32];
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let expire = (now + 3600).to_string();
    byok(&c, &key, "RSAES_OAEP_SHA_256", &material, Some(&expire)).await;
    let before = gdk(&c, &key).await;
    assert_eq!(before.status, 200);
    let (blob, plaintext) = (before.field("CiphertextBlob"), before.field("Plaintext"));

    // Housekeeping before the expiry changes nothing; after it, the key waits for its material.
    server
        .service
        .tick(SystemTime::now() + Duration::from_secs(60))
        .unwrap();
    assert_eq!(gdk(&c, &key).await.status, 200);
    server
        .service
        .tick(SystemTime::now() + Duration::from_secs(3601))
        .unwrap();
    assert_error(
        &gdk(&c, &key).await,
        PENDING_IMPORT.0,
        PENDING_IMPORT.1,
        PENDING_IMPORT.2,
    );
    let r = c
        .call("Decrypt", &[("CiphertextBlob", &*blob)])
        .await
        .unwrap();
    assert_error(&r, PENDING_IMPORT.0, PENDING_IMPORT.1, PENDING_IMPORT.2);
    let r = c.call("DescribeKey", &[("KeyId", &*key)]).await.unwrap();
    assert_eq!(r.json()["KeyMetadata"]["KeyState"], "PendingImport");

    // Other material is refused; the same comes back, and the old blob opens.
    only_the_same_material(&c, &key, "RSAES_PKCS1_V1_5", &material, (&blob, &plaintext)).await;

    // DeleteKeyMaterial: PendingImport at once; import again.
    let r = c
        .call("DeleteKeyMaterial", &[("KeyId", &*key)])
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_error(
        &gdk(&c, &key).await,
        PENDING_IMPORT.0,
        PENDING_IMPORT.1,
        PENDING_IMPORT.2,
    );
    byok(&c, &key, "RSAES_OAEP_SHA_1", &material, None).await;
    assert_decrypts(&c, &blob, &plaintext).await;
    server.stop().await;
}

#[tokio::test]
async fn a_restart_with_the_store_keeps_the_material_its_expiry_and_the_tokens() {
    let dir = common::temp_dir("import");
    let path = dir.join("store.db");
    let material = [0x6e; 32];
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let expire = (now + 7200).to_string();
    let (key, blob, plaintext, pending_key, token, public) = {
        let (store, provider) = common::open_store(&path, InMemoryProvider::new().seal_limit());
        let server = common::start_with_provider(provider, Some(store)).await;
        let c = server.client();
        let key = external_key(&c).await;
        byok(&c, &key, "RSAES_OAEP_SHA_256", &material, Some(&expire)).await;
        let made = gdk(&c, &key).await;
        // A token made before the restart, for a key still pending import.
        let pending_key = external_key(&c).await;
        let (token, public) = parameters(&c, &pending_key, "RSAES_OAEP_SHA_256").await;
        server.stop().await;
        (
            key,
            made.field("CiphertextBlob"),
            made.field("Plaintext"),
            pending_key,
            token,
            public,
        )
    };
    let (store, provider) = common::open_store(&path, InMemoryProvider::new().seal_limit());
    let server = common::start_with_provider(provider, Some(store)).await;
    let c = server.client();
    assert_decrypts(&c, &blob, &plaintext).await;
    // The token outlived the restart (its key is derived from the store's wrapping key).
    let r = import(
        &c,
        &pending_key,
        &wrap(&public, "RSAES_OAEP_SHA_256", &[1; 32]),
        &token,
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    // The expiry outlived it too: housekeeping past it removes the material, durably.
    server
        .service
        .tick(SystemTime::now() + Duration::from_secs(7201))
        .unwrap();
    assert_error(
        &gdk(&c, &key).await,
        PENDING_IMPORT.0,
        PENDING_IMPORT.1,
        PENDING_IMPORT.2,
    );
    server.stop().await;
    let stored = common::on_disk(&path);
    let id = kms_core::KeyId::parse(&key).unwrap();
    let stored = kms_core::management::KeyStore::key(&stored, &id)
        .unwrap()
        .unwrap();
    assert_eq!(stored.stored_state, kms_core::KeyState::PendingImport);
    // And the check value: only the same material goes back in after another restart.
    let (store, provider) = common::open_store(&path, InMemoryProvider::new().seal_limit());
    let server = common::start_with_provider(provider, Some(store)).await;
    let c = server.client();
    only_the_same_material(&c, &key, "RSAES_OAEP_SHA_1", &material, (&blob, &plaintext)).await;
    server.stop().await;
}

#[tokio::test]
async fn get_parameters_for_import_has_a_rate_of_its_own_and_blocks_nothing_else() {
    // The default rate (750 a second) for every operation; GetParametersForImport, which
    // generates an RSA key per request, is held to KEYGEN_RATE (10) a second per account.
    let server = common::start().await;
    let c = server.client();
    let key = external_key(&c).await;
    assert_eq!(kms_server::service::KEYGEN_RATE, 10);
    // Requests refused for a missing parameter still count: eleven in a row, within a
    // second, and the eleventh is throttled (the burst is 10).
    let mut codes = Vec::new();
    for _ in 0..11 {
        let r = c
            .call(
                "GetParametersForImport",
                &[
                    ("KeyId", key.as_str()),
                    ("WrappingAlgorithm", "RSAES_OAEP_SHA_256"),
                ],
            )
            .await
            .unwrap();
        codes.push(common::code(&r));
    }
    assert!(
        codes[..10]
            .iter()
            .all(|c| *c == (400, "MissingParameter".to_owned())),
        "{codes:?}"
    );
    assert_eq!(codes[10], (429, "Rejected.Throttling".to_owned()));
    // Other operations keep their own rate, and run while key pairs are being generated.
    let generating = {
        let c = c.clone();
        let key = key.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(1100)).await;
            let mut statuses = Vec::new();
            for _ in 0..3 {
                let r = c
                    .call(
                        "GetParametersForImport",
                        &[
                            ("KeyId", key.as_str()),
                            ("WrappingAlgorithm", "RSAES_OAEP_SHA_256"),
                            ("WrappingKeySpec", "RSA_2048"),
                        ],
                    )
                    .await
                    .unwrap();
                statuses.push(r.status);
            }
            statuses
        })
    };
    for _ in 0..20 {
        let r = c
            .call("DescribeKey", &[("KeyId", key.as_str())])
            .await
            .unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
    }
    assert_eq!(generating.await.unwrap(), vec![200, 200, 200]);
    server.stop().await;
}
