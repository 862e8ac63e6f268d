//! Key management (spec: `src/management`): every management operation, one module per
//! operation, over the in-memory provider, with the state table of `src/lifecycle.rs`, keyring
//! snapshots, and master key material left in freed memory.

#[path = "../testkit/mod.rs"]
mod testkit;

mod aliases;
mod create_key;
mod cross_cutting;
mod deletion;
mod describe_and_list;
mod enable_disable;
mod import;
#[cfg(feature = "rsa")]
mod import_wrapped;
mod key_policy;
mod key_versions;
mod lifecycle;
mod metadata;
mod records;
mod rotation;
mod snapshot;
mod support;
mod versions;
mod zeroize;
