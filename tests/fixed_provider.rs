//! The fixed-capacity provider: GenerateDataKey and Decrypt round trips, its alias lookups,
//! its account and region scoping, and its capacity.

mod common;

use common::*;
use kms_core::{
    Caller, DecryptRequest, Error, FixedCapacityProvider, GenerateDataKeyRequest, KeyId,
    MasterKeyMaterial, MasterKeySpec, decrypt, generate_data_key,
};
use rand_chacha::ChaCha20Rng;

type Fixed = FixedCapacityProvider<4, 3>;

fn gdk(
    p: &mut Fixed,
    who: &Caller<'_>,
    name: &str,
    r: &mut ChaCha20Rng,
) -> Result<kms_core::GenerateDataKeyResponse, Error> {
    generate_data_key(p, who, &GenerateDataKeyRequest::new(name), r)
}

#[test]
fn round_trip_with_context() {
    let material = known_material_256();
    let mut provider = fixed_provider(&material);
    let mut r = rng(900);
    let response = generate_data_key(
        &mut provider,
        &caller(),
        &GenerateDataKeyRequest {
            encryption_context: Some(r#"{"device":"d-1"}"#),
            number_of_bytes: Some("48"),
            ..GenerateDataKeyRequest::new(FIXED_KEY_ID)
        },
        &mut r,
    )
    .unwrap();
    assert_eq!(response.key_id.as_str(), FIXED_KEY_ID);
    assert_eq!(response.key_version_id.as_str(), FIXED_VERSION);
    assert_eq!(response.data_key().expose().len(), 48);
    let opened = decrypt(
        &provider,
        &caller(),
        &DecryptRequest {
            encryption_context: Some(r#"{ "device" : "d-1" }"#),
            ..DecryptRequest::new(&response.ciphertext_blob)
        },
        &mut r,
    )
    .unwrap();
    assert_eq!(opened.plaintext.expose(), response.plaintext.expose());
    assert_eq!(opened.key_id.as_str(), FIXED_KEY_ID);
    let err = decrypt(
        &provider,
        &caller(),
        &DecryptRequest::new(&response.ciphertext_blob),
        &mut r,
    )
    .unwrap_err();
    assert_invalid(&err, "CiphertextBlob");
}

#[test]
fn created_keys_and_aes_128_material() {
    let mut provider: Fixed = FixedCapacityProvider::new(ACCOUNT, REGION).unwrap();
    let mut r = rng(901);
    let k256 = provider.create_key(&mut r, MasterKeySpec::Aes256).unwrap();
    let k128 = provider.create_key(&mut r, MasterKeySpec::Aes128).unwrap();
    assert_ne!(k256, k128);
    assert!(is_lowercase_uuid_v4(k256.as_str()));
    for key in [k256, k128] {
        let response = gdk(&mut provider, &caller(), key.as_str(), &mut r).unwrap();
        assert_eq!(response.key_id, key);
        let opened = decrypt(
            &provider,
            &caller(),
            &DecryptRequest::new(&response.ciphertext_blob),
            &mut r,
        )
        .unwrap();
        assert_eq!(opened.plaintext.expose(), response.plaintext.expose());
    }
    // Asymmetric specs have no material to make.
    let err = provider
        .create_key(&mut r, MasterKeySpec::EcP256)
        .unwrap_err();
    assert_unsupported(&err);
}

#[test]
fn alias_lookups() {
    let material = known_material_256();
    let mut provider = fixed_provider(&material);
    let key = KeyId::parse(FIXED_KEY_ID).unwrap();
    let mut r = rng(902);
    assert_alias_not_found(&gdk(&mut provider, &caller(), "alias/device", &mut r).unwrap_err());

    provider.set_alias(&key, "alias/device").unwrap();
    let alias_arn = format!("acs:kms:{REGION}:{ACCOUNT}:alias/device");
    let key_arn = format!("acs:kms:{REGION}:{ACCOUNT}:key/{FIXED_KEY_ID}");
    for name in [
        "alias/device",
        alias_arn.as_str(),
        key_arn.as_str(),
        FIXED_KEY_ID,
    ] {
        let response = gdk(&mut provider, &caller(), name, &mut r).unwrap();
        assert_eq!(response.key_id.as_str(), FIXED_KEY_ID, "{name}");
    }
    assert_alias_not_found(&gdk(&mut provider, &caller(), "alias/Device", &mut r).unwrap_err());
    assert_alias_not_found(&gdk(&mut provider, &caller(), "alias/devic", &mut r).unwrap_err());

    // A second alias replaces the first.
    provider.set_alias(&key, "alias/renamed").unwrap();
    assert_alias_not_found(&gdk(&mut provider, &caller(), "alias/device", &mut r).unwrap_err());
    assert!(gdk(&mut provider, &caller(), "alias/renamed", &mut r).is_ok());

    // Another key cannot take it; an ill-formed alias is refused.
    let other = KeyId::parse("key-000000000000000000001").unwrap();
    provider
        .add_key(
            other,
            version("00000000-0000-4000-8000-000000000001"),
            MasterKeyMaterial::from_slice(&known_material_128()).unwrap(),
        )
        .unwrap();
    assert_eq!(
        provider.set_alias(&other, "alias/renamed"),
        Err(Error::AliasAlreadyExists)
    );
    assert_invalid(
        &provider.set_alias(&other, "alias/").unwrap_err(),
        "AliasName",
    );
    assert_invalid(
        &provider.set_alias(&other, "no-prefix").unwrap_err(),
        "AliasName",
    );
    assert_invalid(
        &provider
            .set_alias(&other, &format!("alias/{}", "a".repeat(256)))
            .unwrap_err(),
        "AliasName",
    );
    provider
        .set_alias(&other, &format!("alias/{}", "a".repeat(255)))
        .unwrap();
    let response = gdk(
        &mut provider,
        &caller(),
        &format!("alias/{}", "a".repeat(255)),
        &mut r,
    )
    .unwrap();
    assert_eq!(response.key_id, other);
    assert_eq!(
        gdk(&mut provider, &caller(), "alias/renamed", &mut r)
            .unwrap()
            .key_id,
        key
    );
}

#[test]
fn one_account_one_region() {
    let material = known_material_256();
    let mut provider = fixed_provider(&material);
    let key = KeyId::parse(FIXED_KEY_ID).unwrap();
    provider.set_alias(&key, "alias/device").unwrap();
    let mut r = rng(903);
    let blob = gdk(&mut provider, &caller(), FIXED_KEY_ID, &mut r)
        .unwrap()
        .ciphertext_blob;

    let other_account = Caller::new(OTHER_ACCOUNT, REGION);
    assert_key_not_found(&gdk(&mut provider, &other_account, FIXED_KEY_ID, &mut r).unwrap_err());
    assert_alias_not_found(
        &gdk(&mut provider, &other_account, "alias/device", &mut r).unwrap_err(),
    );
    let arn = format!("acs:kms:{REGION}:{ACCOUNT}:key/{FIXED_KEY_ID}");
    assert_no_permission(&gdk(&mut provider, &other_account, &arn, &mut r).unwrap_err());
    let err = decrypt(
        &provider,
        &other_account,
        &DecryptRequest::new(&blob),
        &mut r,
    )
    .unwrap_err();
    assert_no_permission(&err);

    let other_region = Caller::new(ACCOUNT, OTHER_REGION);
    assert_key_not_found(&gdk(&mut provider, &other_region, FIXED_KEY_ID, &mut r).unwrap_err());
    let err = decrypt(
        &provider,
        &other_region,
        &DecryptRequest::new(&blob),
        &mut r,
    )
    .unwrap_err();
    assert_key_not_found(&err);
}

#[test]
fn capacity_and_duplicates() {
    let mut provider: FixedCapacityProvider<2, 2> =
        FixedCapacityProvider::new(ACCOUNT, REGION).unwrap();
    let m = || MasterKeyMaterial::from_slice(&known_material_256()).unwrap();
    let k1 = KeyId::parse("key-aaaaaaaaaaaaaaaaaaaa1").unwrap();
    let k2 = KeyId::parse("key-aaaaaaaaaaaaaaaaaaaa2").unwrap();
    let k3 = KeyId::parse("key-aaaaaaaaaaaaaaaaaaaa3").unwrap();
    let v = |n: u8| version(&format!("00000000-0000-4000-8000-00000000000{n}"));
    provider.add_key(k1, v(1), m()).unwrap();
    assert_eq!(
        provider.add_key(k1, v(2), m()),
        Err(Error::StateModifiedFailed)
    );
    assert_eq!(
        provider.add_key(k2, v(1), m()),
        Err(Error::StateModifiedFailed)
    );
    provider.add_key(k2, v(2), m()).unwrap();
    assert_internal(&provider.add_key(k3, v(3), m()).unwrap_err());
    provider.add_version(&k1, v(4), m()).unwrap();
    assert_internal(&provider.add_version(&k1, v(5), m()).unwrap_err());
    assert_eq!(
        provider.add_version(&k2, v(4), m()),
        Err(Error::StateModifiedFailed)
    );
    assert_key_not_found(&provider.add_version(&k3, v(6), m()).unwrap_err());

    let mut r = rng(904);
    let response = generate_data_key(
        &mut provider,
        &caller(),
        &GenerateDataKeyRequest::new(k1.as_str()),
        &mut r,
    )
    .unwrap();
    assert_eq!(response.key_version_id, v(4));
    // Too long an account or region.
    assert!(FixedCapacityProvider::<1>::new(&"1".repeat(65), REGION).is_none());
    assert!(FixedCapacityProvider::<1>::new(ACCOUNT, &"r".repeat(65)).is_none());
    assert!(FixedCapacityProvider::<1>::new(&"1".repeat(64), REGION).is_some());
}

#[test]
fn master_key_material_from_slice() {
    assert_eq!(
        MasterKeyMaterial::from_slice(&[1; 32]).unwrap().spec(),
        MasterKeySpec::Aes256
    );
    assert_eq!(
        MasterKeyMaterial::from_slice(&[1; 16]).unwrap().spec(),
        MasterKeySpec::Aes128
    );
    for n in [0, 15, 17, 24, 31, 33, 64] {
        assert!(MasterKeyMaterial::from_slice(&vec![1; n]).is_none(), "{n}");
    }
    assert_eq!(
        MasterKeyMaterial::from_slice(&known_material_256())
            .unwrap()
            .expose(),
        known_material_256()
    );
}
