#![doc = include_str!("../README.md")]
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
// The README and the docs link to the `async` feature's items; without the feature those links
// have no target. `cargo doc --all-features` (in `.ci/run`) checks every link.
#![cfg_attr(not(feature = "async"), allow(rustdoc::broken_intra_doc_links))]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

#[cfg(feature = "asymmetric")]
pub mod asymmetric;
mod authorize;
mod backend;
pub mod blob;
#[cfg(feature = "alloc")]
pub mod container;
pub mod context;
pub mod data_key;
mod error;
#[cfg(feature = "rsa")]
pub mod export;
pub mod fixed;
mod id;
#[cfg(feature = "alloc")]
pub mod in_memory;
#[cfg(feature = "alloc")]
pub mod instance;
pub mod key;
pub mod lifecycle;
#[cfg(feature = "alloc")]
pub mod management;
pub mod ops;
pub mod provider;
#[cfg(feature = "alloc")]
pub mod rate_limit;
pub mod reference;
#[cfg(feature = "getrandom")]
pub mod rng;
mod secret;
pub mod time;
pub mod wire;

pub use authorize::AuthorizedKey;
pub use data_key::DataKeyLength;
pub use error::{
    Error, Internal, Message, Parameter, ParameterProblem, RngError, WorkspaceTooSmall,
};
pub use fixed::{FixedCapacityProvider, ProvisionError};
pub use id::{InstanceId, KeyId, KeyVersionId, RequestId, is_lowercase_uuid};
#[cfg(feature = "alloc")]
pub use in_memory::snapshot;
#[cfg(feature = "alloc")]
pub use in_memory::{InMemoryProvider, KeyOptions};
pub use key::{KeyHandle, KeyOrigin, KeyRecord, KeyState, KeyUsage, MasterKeySpec, Permission};
pub use provider::{
    AeadEngine, KeyCipher, KeyDirectory, KeyProvider, ProviderError, VersionCipher,
};
#[cfg(feature = "alloc")]
pub use rate_limit::{RateLimit, RateLimiter};
pub use reference::{Caller, KeyReference};
pub use secret::{MasterKeyMaterial, SecretBytes, SecretText};
#[cfg(feature = "alloc")]
pub use secret::{SecretBytesBuf, SecretTextBuf};

/// The operating system's RNG (with `getrandom`): a convenience for callers that have one. The
/// core itself never reaches for it; every operation takes its RNG as an argument.
#[cfg(feature = "getrandom")]
pub use getrandom::SysRng as OsRng;
#[cfg(feature = "getrandom")]
pub use rng::DefaultRng;

/// The RNG traits the operations take, re-exported so callers need not depend on `rand_core`.
pub use rand_core;
