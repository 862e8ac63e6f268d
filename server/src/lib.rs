//! `kms-server`: a local, Alibaba-Cloud-KMS-compatible HTTP service (RPC style, API version
//! 2016-01-20) over the I/O-free `kms-core`.
//!
//! The pieces, one concern each:
//!
//! | module | what it owns |
//! |---|---|
//! | [`auth`] | signature V1 and V3: canonical forms, signing, verification, the nonce cache |
//! | [`params`] | query string and form body decoding |
//! | [`service`] | one request to one reply: authentication, rate limit, dispatch to the core, locking, rotation when a key version's seal budget is spent |
//! | [`operation`] | the operations served, by wire name |
//! | [`dto`] | the key management responses' wire shapes, built from the core's typed answers |
//! | [`wire`] | JSON and XML bodies, results and errors |
//! | [`error`] | the errors on the wire: the core's and the frontend's own |
//! | [`store`] | the embedded store: one SQLite row per key, version, alias and AccessKey, sealed; durable before visible |
//! | [`shared`] | the shared store: PostgreSQL for several replicas; one writer at a time decided by the database, catching up from generations and tombstones, seal budgets reserved in blocks |
//! | [`keyring`] | the keyring snapshot (export, backup, import) and AccessKey files, written atomically |
//! | [`config`] | AccessKey pairs, region, rate limit |
//! | [`http`] | the axum router and the accept loop |
//! | [`limits`] | the connection cap, the header, body and idle timeouts, the head size |
//! | [`tls`] | HTTPS: certificate files, or a local CA made and kept in a directory |
//! | [`client`] | a signing client (tests, load generator, scripts) |
//! | [`instance`] | the KMS-instance API: protobuf, client keys, RSA request signatures, its listener |
//!
//! See `server/README.md` for how to run it and point the official SDK at it.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod auth;
pub mod client;
pub mod config;
pub mod dto;
pub mod error;
pub mod http;
mod import;
pub mod instance;
pub mod keyring;
pub mod limits;
pub mod operation;
pub mod params;
pub mod random;
pub mod service;
pub mod shared;
pub mod store;
pub mod tls;
pub mod wire;

pub use config::{AccessKey, Config};
pub use error::ApiError;
pub use operation::Operation;
pub use service::Service;
