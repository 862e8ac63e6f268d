//! The data-key operations of spec §1 (GenerateDataKey, GenerateDataKeyWithoutPlaintext,
//! Encrypt, Decrypt, ReEncrypt), one module per operation, with the spec's cross-cutting rows
//! as tables every operation runs, and the formats, vectors, properties and providers they
//! stand on.

#[path = "../testkit/mod.rs"]
mod testkit;

#[cfg(feature = "asymmetric")]
mod asymmetric;
#[cfg(feature = "asymmetric")]
mod asymmetric_wycheproof;
mod cross_cutting;
mod decrypt;
mod encrypt;
#[cfg(feature = "rsa")]
mod export_vectors;
mod formats;
mod generate_data_key;
mod instance;
#[cfg(feature = "asymmetric")]
mod instance_asymmetric;
mod instance_vectors;
mod no_alloc;
mod properties;
mod providers;
mod rate_limit;
mod re_encrypt;
mod seal_budget;
mod secrets;
mod strategies;
mod vectors;
mod without_plaintext;
mod wycheproof;
