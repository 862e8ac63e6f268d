#![doc = include_str!("../README.md")]
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[cfg(feature = "alloc")]
extern crate alloc;

pub mod blob;
pub mod context;
#[cfg(feature = "envelope")]
pub mod envelope;
mod error;
pub mod fixed;
mod ids;
#[cfg(feature = "alloc")]
pub mod in_memory;
pub mod key_id;
pub mod key_state;
#[cfg(feature = "alloc")]
pub mod management;
pub mod ops;
pub mod provider;
#[cfg(feature = "alloc")]
pub mod rate_limit;
mod rng;
mod secret;
pub mod spec;
pub mod time;

pub use error::{Error, Parameter, ParameterProblem};
pub use fixed::FixedCapacityProvider;
pub use ids::{KeyId, KeyVersionId, RequestId, is_lowercase_uuid};
#[cfg(feature = "alloc")]
pub use in_memory::snapshot;
#[cfg(feature = "alloc")]
pub use in_memory::{InMemoryProvider, KeyOptions, SealLimitAction};
pub use key_id::{Caller, KeyReference};
pub use key_state::{
    KeyHandle, KeyOrigin, KeyRecord, KeyState, KeyUsage, MasterKeySpec, UsableKey,
};
pub use ops::{
    CiphertextOutput, DecryptOutput, DecryptRequest, EncryptOutput, EncryptRequest,
    GenerateDataKeyOutput, GenerateDataKeyRequest, GenerateDataKeyWithoutPlaintextOutput,
    ReEncryptOutput, ReEncryptRequest, decrypt_in, encrypt_in, generate_data_key_in,
    generate_data_key_without_plaintext_in, re_encrypt_in,
};
#[cfg(feature = "alloc")]
pub use ops::{
    CiphertextResponse, DecryptResponse, EncryptResponse, GenerateDataKeyResponse,
    GenerateDataKeyWithoutPlaintextResponse, ReEncryptResponse, decrypt, encrypt,
    generate_data_key, generate_data_key_without_plaintext, re_encrypt,
};
pub use provider::{Action, KeyProvider, ProviderError, VersionCipher};
#[cfg(feature = "alloc")]
pub use rate_limit::{Operation, RateLimit, RateLimiter};
#[cfg(feature = "getrandom")]
pub use rng::OsRng;
pub use secret::{MasterKeyMaterial, SecretSlice, SecretText};
#[cfg(feature = "alloc")]
pub use secret::{SecretBytes, SecretString};
pub use spec::DataKeyLength;

/// The RNG traits the operations take, re-exported so callers need not depend on `rand_core`.
pub use rand_core;
