//! Keyring snapshots: everything an [`InMemoryProvider`] holds, as bytes sealed under a
//! caller-provided 256-bit wrapping key, and back. The core does no I/O: the caller stores the
//! bytes where it likes.
//!
//! # Format, version 1
//!
//! ```text
//! snapshot = magic "KMSKRING" (8 bytes) || version u16be = 1 || iv (12 bytes)
//!         || body sealed with AES-256-GCM under the wrapping key, aad = magic || version
//!         || tag (16 bytes)                      (the crate's sealed container, [`crate::container`])
//! body     = u64 seal_limit || u8 0 (a former setting, written 0, read 0 or 1)
//!         || u32 key_count || key * key_count
//!         || u32 alias_count || alias * alias_count
//! key      = str8 key_id || str32 account || str32 region
//!         || u8 spec (0 Aliyun_AES_256, 1 Aliyun_AES_128, 2 RSA_2048, 3 EC_P256)
//!         || u8 usage (0 ENCRYPT/DECRYPT, 1 SIGN/VERIFY) || u8 origin (0 Aliyun_KMS, 1 EXTERNAL)
//!         || u8 state (0 Enabled, 1 Disabled, 2 PendingDeletion, 3 PendingImport)
//!         || u8 unavailable (0, 1) || str32 description || time created
//!         || u8 has_delete_date (0, 1) || [time delete_at]
//!         || u32 primary (index into the versions)
//!         || u16 policy_count || (str32 account || u8 actions) * policy_count
//!         || u32 version_count || version * version_count
//! version  = id (36 bytes) || material || u64 seals || time created
//!            (material: u8 0 for none, u8 16 or 32 || AES bytes, or u8 0xFF || u16 len ||
//!            PKCS#8 DER for an asymmetric private key, feature `asymmetric`)
//! ```
//!
//! ```text
//! alias    = str32 account || str32 region || str16 alias || str8 key_id
//! instances = u32 count || (str8 key_id || str8 instance_id) * count
//!            (after the aliases: the keys held in a KMS instance, in key order; snapshots
//!            written before instances existed end after the aliases and read as none)
//! settings = u32 count || (str8 key_id || key_settings) * count
//!            (after the instances: the keys whose settings are not the default, in key order;
//!            snapshots written before settings existed end after the instances and read as
//!            defaults)
//! key_settings = u32 rotation_interval_seconds (0: automatic rotation off)
//!         || u8 protection_level (0 SOFTWARE, 1 HSM)
//!         || u8 protected (0, 1) || [str32 deletion_protection_description]
//!         || u8 expires (0, 1) || [time material_expires]
//!         || u8 checked (0, 1) || [material_check (16 bytes)]
//!         || u16 tag_count || (str16 tag_key || str16 tag_value) * tag_count
//! time     = u64 seconds || u32 nanoseconds, since the Unix epoch
//! strN     = uN length || UTF-8 bytes
//! ```
//!
//! All integers are big-endian. Keys appear in creation order, so listings keep their order.
//! The whole body is one AES-GCM message: a truncated, altered, reordered or wrong-key snapshot
//! fails authentication before anything is parsed, and the import builds a fresh provider, so
//! a refused import leaves nothing behind. Every field is still checked as it is parsed
//! (lengths against the rest of the body, enumerations, material lengths, duplicate IDs).
//! The body holds master key material: it is built and opened in zeroized buffers.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::time::Duration;

use rand_core::TryCryptoRng;
use zeroize::Zeroizing;

use super::{InMemoryProvider, Key, PermissionSet, Version};
use crate::container::{self, ContainerError};
use crate::management::{KeySettings, ProtectionLevel, Tag};
use crate::provider::{SealBudget, VersionCipher};
use crate::{
    Error, InstanceId, Internal, KeyId, KeyOrigin, KeyState, KeyUsage, KeyVersionId,
    MasterKeyMaterial, MasterKeySpec,
};

/// The magic bytes that start a snapshot.
pub const MAGIC: &[u8; 8] = b"KMSKRING";
/// The format version this crate writes and reads.
pub const FORMAT_VERSION: u16 = 1;

/// Why a snapshot was refused. Nothing was imported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SnapshotError {
    /// Too short to be a snapshot, or the magic bytes are wrong.
    NotASnapshot,
    /// A format version this crate does not read.
    UnsupportedVersion(u16),
    /// The body did not authenticate: wrong wrapping key, or the bytes were truncated, altered
    /// or reordered.
    Authentication,
    /// The body authenticated but does not parse: written by a broken exporter.
    Malformed,
}

impl fmt::Display for SnapshotError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SnapshotError::NotASnapshot => f.write_str("not a keyring snapshot"),
            SnapshotError::UnsupportedVersion(v) => {
                write!(f, "unsupported keyring snapshot version {v}")
            }
            SnapshotError::Authentication => f.write_str(
                "keyring snapshot does not authenticate: wrong wrapping key, or truncated or altered",
            ),
            SnapshotError::Malformed => f.write_str("keyring snapshot is malformed"),
        }
    }
}

impl core::error::Error for SnapshotError {}

/// The byte that announces an asymmetric private key in a version's material.
const ASYMMETRIC_MATERIAL: u8 = 0xFF;

/// A version's material, in snapshots and records alike: `u8 0` for none, `u8 len (16, 32) ||
/// AES bytes`, or `u8 0xFF || u16 len || PKCS#8 DER` for an asymmetric private key (whose
/// spec the DER names).
pub(super) fn write_material(
    w: &mut Writer,
    material: Option<&MasterKeyMaterial>,
) -> Result<(), Error> {
    let bytes = material.map_or(&[][..], MasterKeyMaterial::expose);
    if material.is_some_and(|m| !m.spec().is_symmetric()) {
        w.u8(ASYMMETRIC_MATERIAL);
        w.len(bytes.len(), 2)?;
    } else {
        w.len(bytes.len(), 1)?;
    }
    w.bytes(bytes);
    Ok(())
}

/// Reads what [`write_material`] wrote.
pub(super) fn read_material(
    r: &mut Reader<'_>,
) -> Result<Option<MasterKeyMaterial>, SnapshotError> {
    let malformed = SnapshotError::Malformed;
    match r.u8()? {
        0 => Ok(None),
        ASYMMETRIC_MATERIAL => {
            let len = usize::from(r.u16()?);
            let der = r.take(len)?;
            #[cfg(feature = "asymmetric")]
            {
                MasterKeyMaterial::from_pkcs8(der)
                    .map(Some)
                    .ok_or(malformed)
            }
            #[cfg(not(feature = "asymmetric"))]
            {
                let _ = der;
                Err(malformed)
            }
        }
        len => MasterKeyMaterial::from_slice(r.take(usize::from(len))?)
            .map(Some)
            .ok_or(malformed),
    }
}

pub(super) fn spec_code(spec: MasterKeySpec) -> u8 {
    match spec {
        MasterKeySpec::Aes256 => 0,
        MasterKeySpec::Aes128 => 1,
        MasterKeySpec::Rsa2048 => 2,
        MasterKeySpec::EcP256 => 3,
        MasterKeySpec::Rsa3072 => 4,
        MasterKeySpec::EcP256K => 5,
        MasterKeySpec::EcSm2 => 6,
    }
}

pub(super) fn state_code(state: KeyState) -> u8 {
    match state {
        KeyState::Enabled => 0,
        KeyState::Disabled => 1,
        KeyState::PendingDeletion => 2,
        // Unavailable is a provider condition, not a stored state (see `unavailable`).
        KeyState::PendingImport | KeyState::Unavailable => 3,
    }
}

/// Writes the body, or (with no buffer) only counts its bytes: export counts first and then
/// writes into a buffer of exactly that size, which never grows, so no copy of the material is
/// ever freed without being zeroized.
pub(super) struct Writer {
    pub(super) buf: Option<Zeroizing<Vec<u8>>>,
    pub(super) len: usize,
}

impl Writer {
    pub(super) fn bytes(&mut self, b: &[u8]) {
        self.len += b.len();
        if let Some(buf) = &mut self.buf {
            buf.extend_from_slice(b);
        }
    }
    pub(super) fn u8(&mut self, v: u8) {
        self.bytes(&[v]);
    }
    pub(super) fn u16(&mut self, v: u16) {
        self.bytes(&v.to_be_bytes());
    }
    pub(super) fn u32(&mut self, v: u32) {
        self.bytes(&v.to_be_bytes());
    }
    pub(super) fn u64(&mut self, v: u64) {
        self.bytes(&v.to_be_bytes());
    }
    pub(super) fn len(&mut self, n: usize, width: usize) -> Result<(), Error> {
        let too_long = Error::InternalFailure(Internal::Provider);
        match width {
            1 => self.u8(u8::try_from(n).map_err(|_| too_long)?),
            2 => self.u16(u16::try_from(n).map_err(|_| too_long)?),
            _ => self.u32(u32::try_from(n).map_err(|_| too_long)?),
        }
        Ok(())
    }
    pub(super) fn str(&mut self, s: &str, width: usize) -> Result<(), Error> {
        self.len(s.len(), width)?;
        self.bytes(s.as_bytes());
        Ok(())
    }
    pub(super) fn time(&mut self, t: Duration) {
        self.u64(t.as_secs());
        self.u32(t.subsec_nanos());
    }
}

pub(super) struct Reader<'b> {
    pub(super) bytes: &'b [u8],
}

impl<'b> Reader<'b> {
    pub(super) fn take(&mut self, n: usize) -> Result<&'b [u8], SnapshotError> {
        if n > self.bytes.len() {
            return Err(SnapshotError::Malformed);
        }
        let (head, tail) = self.bytes.split_at(n);
        self.bytes = tail;
        Ok(head)
    }
    pub(super) fn array<const N: usize>(&mut self) -> Result<[u8; N], SnapshotError> {
        self.take(N)?
            .try_into()
            .map_err(|_| SnapshotError::Malformed)
    }
    pub(super) fn u8(&mut self) -> Result<u8, SnapshotError> {
        Ok(self.array::<1>()?[0])
    }
    pub(super) fn u16(&mut self) -> Result<u16, SnapshotError> {
        Ok(u16::from_be_bytes(self.array()?))
    }
    pub(super) fn u32(&mut self) -> Result<u32, SnapshotError> {
        Ok(u32::from_be_bytes(self.array()?))
    }
    pub(super) fn u64(&mut self) -> Result<u64, SnapshotError> {
        Ok(u64::from_be_bytes(self.array()?))
    }
    pub(super) fn str(&mut self, width: usize) -> Result<&'b str, SnapshotError> {
        let n = match width {
            1 => usize::from(self.u8()?),
            2 => usize::from(self.u16()?),
            _ => self.u32()? as usize,
        };
        core::str::from_utf8(self.take(n)?).map_err(|_| SnapshotError::Malformed)
    }
    pub(super) fn flag(&mut self) -> Result<bool, SnapshotError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(SnapshotError::Malformed),
        }
    }
    pub(super) fn time(&mut self) -> Result<Duration, SnapshotError> {
        let secs = self.u64()?;
        let nanos = self.u32()?;
        if nanos >= 1_000_000_000 {
            return Err(SnapshotError::Malformed);
        }
        Ok(Duration::new(secs, nanos))
    }
    /// A count of items that each take at least `min_size` bytes: refused when the rest of the
    /// body cannot hold them, so no count can make the import allocate beyond the input's size.
    pub(super) fn count(&mut self, wide: bool, min_size: usize) -> Result<usize, SnapshotError> {
        let n = if wide {
            self.u32()? as usize
        } else {
            usize::from(self.u16()?)
        };
        if n.saturating_mul(min_size) > self.bytes.len() {
            return Err(SnapshotError::Malformed);
        }
        Ok(n)
    }
}

impl InMemoryProvider {
    /// Exports every key (versions, material, states, policies, seal counters, deletion dates,
    /// descriptions), every alias and the seal-limit setting, sealed under `wrapping_key`. Draws
    /// the 12-byte IV from `rng`. The format is described in [`crate::in_memory::snapshot`].
    ///
    /// # Errors
    /// [`Error::InternalFailure`] when the RNG fails (or a field is too long for the format,
    /// which the provider's own checks prevent).
    pub fn export_snapshot<R: TryCryptoRng + ?Sized>(
        &self,
        wrapping_key: &[u8; 32],
        rng: &mut R,
    ) -> Result<Vec<u8>, Error> {
        let mut count = Writer { buf: None, len: 0 };
        self.write_body(&mut count)?;
        let mut w = Writer {
            buf: Some(container::buffer(count.len)),
            len: 0,
        };
        self.write_body(&mut w)?;
        let buf = w.buf.ok_or(Error::InternalFailure(Internal::Provider))?;
        Ok(container::seal(
            MAGIC,
            FORMAT_VERSION,
            wrapping_key,
            rng,
            buf,
        )?)
    }

    fn write_body(&self, w: &mut Writer) -> Result<(), Error> {
        w.u64(self.seal_limit);
        w.u8(0);
        w.len(self.live, 4)?;
        for key in self.keys.iter().flatten() {
            write_key(w, key)?;
        }
        w.len(self.aliases.len(), 4)?;
        for (alias, &index) in &self.aliases {
            let key = self.slot(index).ok_or(Error::KeyNotFound)?;
            w.str(&alias.account, 4)?;
            w.str(&alias.region, 4)?;
            w.str(&alias.alias, 2)?;
            w.str(key.key_id.as_str(), 1)?;
        }
        let held = || {
            self.keys
                .iter()
                .flatten()
                .filter_map(|k| Some((k.key_id, k.instance?)))
        };
        w.len(held().count(), 4)?;
        for (key_id, instance) in held() {
            w.str(key_id.as_str(), 1)?;
            w.str(instance.as_str(), 1)?;
        }
        let default = KeySettings::new();
        let set = || self.keys.iter().flatten().filter(|k| k.settings != default);
        w.len(set().count(), 4)?;
        for key in set() {
            w.str(key.key_id.as_str(), 1)?;
            write_settings(w, &key.settings)?;
        }
        Ok(())
    }

    /// Builds a provider from a snapshot made by [`export_snapshot`](Self::export_snapshot).
    /// All or nothing: on any error, nothing is built.
    ///
    /// # Errors
    /// [`SnapshotError`].
    pub fn import_snapshot(
        snapshot: &[u8],
        wrapping_key: &[u8; 32],
    ) -> Result<InMemoryProvider, SnapshotError> {
        let body =
            container::open(MAGIC, FORMAT_VERSION, wrapping_key, snapshot).map_err(
                |e| match e {
                    ContainerError::UnsupportedVersion(v) => SnapshotError::UnsupportedVersion(v),
                    ContainerError::Authentication => SnapshotError::Authentication,
                    _ => SnapshotError::NotASnapshot,
                },
            )?;
        parse_body(&body)
    }
}

/// Writes a key's fields from its ID to its deletion date: the head both formats share (the
/// snapshot's keys and [`super::records`]' key records).
#[allow(clippy::too_many_arguments)]
pub(super) fn write_key_head(
    w: &mut Writer,
    key_id: &KeyId,
    account: &str,
    region: &str,
    (spec, usage, origin, state): (MasterKeySpec, KeyUsage, KeyOrigin, KeyState),
    unavailable: bool,
    description: &str,
    created: Duration,
    delete_at: Option<Duration>,
) -> Result<(), Error> {
    w.str(key_id.as_str(), 1)?;
    w.str(account, 4)?;
    w.str(region, 4)?;
    write_kind(w, spec, usage, origin, state);
    w.u8(u8::from(unavailable));
    w.str(description, 4)?;
    w.time(created);
    match delete_at {
        Some(at) => {
            w.u8(1);
            w.time(at);
        }
        None => w.u8(0),
    }
    Ok(())
}

/// Writes a key's policy: both formats share it.
pub(super) fn write_policy(
    w: &mut Writer,
    policy: &[(Box<str>, PermissionSet)],
) -> Result<(), Error> {
    w.len(policy.len(), 2)?;
    for (account, permissions) in policy {
        w.str(account, 4)?;
        w.u8(permissions.0);
    }
    Ok(())
}

/// Reads what [`write_key_head`] writes, into a key with no versions and no policy yet.
pub(super) fn parse_key_head(r: &mut Reader<'_>) -> Result<Key, SnapshotError> {
    let key_id = KeyId::parse(r.str(1)?).ok_or(SnapshotError::Malformed)?;
    let account: Box<str> = r.str(4)?.into();
    let region: Box<str> = r.str(4)?.into();
    let (spec, usage, origin, state) = parse_kind(r)?;
    let unavailable = r.flag()?;
    let description: Box<str> = r.str(4)?.into();
    let created = r.time()?;
    let delete_at = if r.flag()? { Some(r.time()?) } else { None };
    Ok(Key {
        key_id,
        account,
        region,
        spec,
        usage,
        origin,
        state,
        unavailable,
        versions: Vec::new(),
        primary: 0,
        policy: Vec::new(),
        description,
        created,
        delete_at,
        instance: None,
        settings: KeySettings::new(),
    })
}

/// Writes the KMS instance that holds a key, if any: `u8 held (0, 1) || [str8 instance_id]`.
pub(super) fn write_instance(w: &mut Writer, instance: Option<InstanceId>) -> Result<(), Error> {
    match instance {
        Some(instance) => {
            w.u8(1);
            w.str(instance.as_str(), 1)
        }
        None => {
            w.u8(0);
            Ok(())
        }
    }
}

/// Writes a key's settings: both formats share it.
///
/// ```text
/// settings = u32 rotation_interval_seconds (0: automatic rotation off)
///         || u8 protection_level (0 SOFTWARE, 1 HSM)
///         || u8 protected (0, 1) || [str32 deletion_protection_description]
///         || u8 expires (0, 1) || [time material_expires]
///         || u8 checked (0, 1) || [material_check (16 bytes)]
///         || u16 tags || (str16 tag_key || str16 tag_value) * tags
/// ```
pub(super) fn write_settings(w: &mut Writer, settings: &KeySettings) -> Result<(), Error> {
    let interval = settings.rotation_interval.map_or(0, |d| d.as_secs());
    let interval =
        u32::try_from(interval).map_err(|_| Error::InternalFailure(Internal::Provider))?;
    w.u32(interval);
    w.u8(match settings.protection_level {
        ProtectionLevel::Software => 0,
        ProtectionLevel::Hsm => 1,
    });
    match &settings.deletion_protection {
        Some(description) => {
            w.u8(1);
            w.str(description, 4)?;
        }
        None => w.u8(0),
    }
    match settings.material_expires {
        Some(at) => {
            w.u8(1);
            w.time(at);
        }
        None => w.u8(0),
    }
    match &settings.material_check {
        Some(check) => {
            w.u8(1);
            w.bytes(check);
        }
        None => w.u8(0),
    }
    w.len(settings.tags.len(), 2)?;
    for tag in &settings.tags {
        w.str(&tag.key, 2)?;
        w.str(&tag.value, 2)?;
    }
    Ok(())
}

/// Reads what [`write_settings`] writes.
pub(super) fn parse_settings(r: &mut Reader<'_>) -> Result<KeySettings, SnapshotError> {
    let malformed = SnapshotError::Malformed;
    let interval = r.u32()?;
    let rotation_interval = (interval != 0).then(|| Duration::from_secs(interval.into()));
    let protection_level = match r.u8()? {
        0 => ProtectionLevel::Software,
        1 => ProtectionLevel::Hsm,
        _ => return Err(malformed),
    };
    let deletion_protection = if r.flag()? {
        Some(r.str(4)?.into())
    } else {
        None
    };
    let material_expires = if r.flag()? { Some(r.time()?) } else { None };
    let material_check = if r.flag()? { Some(r.array()?) } else { None };
    let count = r.count(false, 4)?;
    let mut tags: Vec<Tag> = Vec::with_capacity(count);
    for _ in 0..count {
        let key: String = r.str(2)?.into();
        let value: String = r.str(2)?.into();
        // Sorted by key, keys unique: the order the settings keep them in.
        if tags.last().is_some_and(|last| last.key >= key) {
            return Err(malformed);
        }
        tags.push(Tag { key, value });
    }
    Ok(KeySettings {
        rotation_interval,
        protection_level,
        deletion_protection,
        material_expires,
        material_check,
        tags,
    })
}

/// Reads what [`write_instance`] writes.
pub(super) fn parse_instance(r: &mut Reader<'_>) -> Result<Option<InstanceId>, SnapshotError> {
    if !r.flag()? {
        return Ok(None);
    }
    InstanceId::parse(r.str(1)?)
        .map(Some)
        .ok_or(SnapshotError::Malformed)
}

/// Reads what [`write_policy`] writes.
pub(super) fn parse_policy(
    r: &mut Reader<'_>,
) -> Result<Vec<(Box<str>, PermissionSet)>, SnapshotError> {
    let policies = r.count(false, 5)?;
    let mut policy = Vec::with_capacity(policies);
    for _ in 0..policies {
        let account: Box<str> = r.str(4)?.into();
        policy.push((account, PermissionSet(r.u8()?)));
    }
    Ok(policy)
}

fn write_key(w: &mut Writer, key: &Key) -> Result<(), Error> {
    write_key_head(
        w,
        &key.key_id,
        &key.account,
        &key.region,
        (key.spec, key.usage, key.origin, key.state),
        key.unavailable,
        &key.description,
        key.created,
        key.delete_at,
    )?;
    w.len(key.primary, 4)?;
    write_policy(w, &key.policy)?;
    w.len(key.versions.len(), 4)?;
    for version in &key.versions {
        w.bytes(version.id.as_bytes());
        write_material(w, version.cipher.as_ref().map(|c| c.material()))?;
        w.u64(version.budget.used());
        w.time(version.created);
    }
    Ok(())
}

fn parse_body(body: &[u8]) -> Result<InMemoryProvider, SnapshotError> {
    let mut r = Reader { bytes: body };
    let limit = r.u64()?;
    if r.u8()? > 1 {
        return Err(SnapshotError::Malformed);
    }
    let mut provider = InMemoryProvider::new().with_seal_limit(limit);
    if provider.seal_limit != limit {
        return Err(SnapshotError::Malformed);
    }
    let keys = r.count(true, 60)?;
    provider.reserve(keys);
    for _ in 0..keys {
        let key = parse_key(&mut r, limit)?;
        if provider.by_id.contains_key(&key.key_id)
            || key
                .versions
                .iter()
                .any(|v| provider.by_version.contains_key(&v.id))
        {
            return Err(SnapshotError::Malformed);
        }
        provider.insert_key(key);
    }
    let aliases = r.count(true, 12)?;
    for _ in 0..aliases {
        let account = r.str(4)?;
        let region = r.str(4)?;
        let alias = r.str(2)?;
        let key_id = KeyId::parse(r.str(1)?).ok_or(SnapshotError::Malformed)?;
        let index = *provider
            .by_id
            .get(&key_id)
            .ok_or(SnapshotError::Malformed)?;
        let key = provider.slot(index).ok_or(SnapshotError::Malformed)?;
        let taken = provider.aliases.contains_key(&super::AliasQuery {
            account,
            region,
            alias,
        });
        if *key.account != *account || *key.region != *region || taken {
            return Err(SnapshotError::Malformed);
        }
        if crate::management::check_alias_name(alias).is_err() {
            return Err(SnapshotError::Malformed);
        }
        provider.bind_alias(account.into(), region.into(), alias, index);
    }
    if !r.bytes.is_empty() {
        let held = r.count(true, 2)?;
        for _ in 0..held {
            let key_id = KeyId::parse(r.str(1)?).ok_or(SnapshotError::Malformed)?;
            let instance = InstanceId::parse(r.str(1)?).ok_or(SnapshotError::Malformed)?;
            let key = provider
                .key_mut(&key_id)
                .map_err(|_| SnapshotError::Malformed)?;
            if key.instance.replace(instance).is_some() {
                return Err(SnapshotError::Malformed);
            }
        }
    }
    if !r.bytes.is_empty() {
        let set = r.count(true, 14)?;
        let mut seen = hashbrown::HashSet::with_capacity(set);
        for _ in 0..set {
            let key_id = KeyId::parse(r.str(1)?).ok_or(SnapshotError::Malformed)?;
            let settings = parse_settings(&mut r)?;
            let key = provider
                .key_mut(&key_id)
                .map_err(|_| SnapshotError::Malformed)?;
            if !seen.insert(key_id) {
                return Err(SnapshotError::Malformed);
            }
            key.settings = settings;
        }
    }
    if !r.bytes.is_empty() {
        return Err(SnapshotError::Malformed);
    }
    Ok(provider)
}

/// The spec, usage, origin and stored state codes, as [`write_kind`] writes them.
pub(super) fn parse_kind(
    r: &mut Reader<'_>,
) -> Result<(MasterKeySpec, KeyUsage, KeyOrigin, KeyState), SnapshotError> {
    let malformed = SnapshotError::Malformed;
    let spec = match r.u8()? {
        0 => MasterKeySpec::Aes256,
        1 => MasterKeySpec::Aes128,
        2 => MasterKeySpec::Rsa2048,
        3 => MasterKeySpec::EcP256,
        4 => MasterKeySpec::Rsa3072,
        5 => MasterKeySpec::EcP256K,
        6 => MasterKeySpec::EcSm2,
        _ => return Err(malformed),
    };
    let usage = match r.u8()? {
        0 => KeyUsage::EncryptDecrypt,
        1 => KeyUsage::SignVerify,
        _ => return Err(malformed),
    };
    let origin = match r.u8()? {
        0 => KeyOrigin::Kms,
        1 => KeyOrigin::External,
        _ => return Err(malformed),
    };
    let state = match r.u8()? {
        0 => KeyState::Enabled,
        1 => KeyState::Disabled,
        2 => KeyState::PendingDeletion,
        3 => KeyState::PendingImport,
        _ => return Err(malformed),
    };
    Ok((spec, usage, origin, state))
}

/// Writes the spec, usage, origin and stored state codes.
pub(super) fn write_kind(
    w: &mut Writer,
    spec: MasterKeySpec,
    usage: KeyUsage,
    origin: KeyOrigin,
    state: KeyState,
) {
    w.u8(spec_code(spec));
    w.u8(match usage {
        KeyUsage::EncryptDecrypt => 0,
        KeyUsage::SignVerify => 1,
    });
    w.u8(match origin {
        KeyOrigin::Kms => 0,
        KeyOrigin::External => 1,
    });
    w.u8(state_code(state));
}

fn parse_key(r: &mut Reader<'_>, seal_limit: u64) -> Result<Key, SnapshotError> {
    let malformed = SnapshotError::Malformed;
    let mut key = parse_key_head(r)?;
    let primary = r.u32()? as usize;
    key.policy = parse_policy(r)?;
    let spec = key.spec;
    let count = r.count(true, 36 + 1 + 8 + 12)?;
    let mut versions = Vec::with_capacity(count);
    for _ in 0..count {
        let id = KeyVersionId::parse(r.take(36)?).ok_or(malformed)?;
        let cipher = match read_material(r)? {
            None => None,
            Some(material) => {
                if material.spec() != spec {
                    return Err(malformed);
                }
                Some(Box::new(VersionCipher::new(material)))
            }
        };
        let seals = r.u64()?;
        let created = r.time()?;
        if versions.iter().any(|v: &Version| v.id == id) {
            return Err(malformed);
        }
        versions.push(Version {
            id,
            cipher,
            budget: SealBudget::new(seal_limit, seals),
            created,
        });
    }
    if primary >= versions.len() {
        return Err(malformed);
    }
    key.versions = versions;
    key.primary = primary;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::management::KeyStore;
    use crate::ops::{self, DecryptRequest, GenerateDataKeyRequest};
    use crate::{Caller, KeyDirectory, KeyOptions, KeyReference};

    /// A deterministic RNG for unit tests (not cryptographic: splitmix64).
    struct TestRng(u64);

    impl rand_core::TryRng for TestRng {
        type Error = core::convert::Infallible;
        fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
            Ok(self.try_next_u64()? as u32)
        }
        fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            Ok(z ^ (z >> 31))
        }
        fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
            for chunk in dst.chunks_mut(8) {
                let v = self.try_next_u64()?.to_le_bytes();
                chunk.copy_from_slice(&v[..chunk.len()]);
            }
            Ok(())
        }
    }

    impl rand_core::TryCryptoRng for TestRng {}

    #[test]
    fn round_trip_keeps_blobs_aliases_and_counters_and_flips_are_refused() {
        let mut rng = TestRng(1);
        let caller = Caller::new("1", "r");
        let now = Duration::ZERO;
        let mut provider = InMemoryProvider::new();
        let key = provider
            .create_key(&mut rng, &KeyOptions::new("1", "r").description("d"))
            .unwrap();
        let staged =
            crate::management::create_alias(&provider, &caller, "alias/a", &key.into(), now);
        provider.apply(staged.unwrap()).unwrap();
        let alias = KeyReference::Alias("alias/a");
        let made = ops::generate_data_key(
            &provider,
            &caller,
            &GenerateDataKeyRequest::new(alias),
            &mut rng,
        )
        .unwrap()
        .done()
        .unwrap();
        let wrapping = [9u8; 32];
        let bytes = provider.export_snapshot(&wrapping, &mut rng).unwrap();

        let restored = InMemoryProvider::import_snapshot(&bytes, &wrapping).unwrap();
        let request = DecryptRequest::new(&made.ciphertext_blob);
        let opened = ops::decrypt(&restored, &caller, &request, &mut rng)
            .unwrap()
            .done()
            .unwrap();
        let data_key =
            <base64ct::Base64 as base64ct::Encoding>::encode_string(made.data_key.expose());
        assert_eq!(opened.plaintext.expose(), data_key);
        assert_eq!(restored.seal_count(&made.key_version_id).unwrap(), 1);
        assert_eq!(
            restored
                .find_alias("1", "r", "alias/a")
                .unwrap()
                .unwrap()
                .key_id,
            key
        );
        assert_eq!(restored.key(&key).unwrap().unwrap().description, "d");

        for i in 0..bytes.len() {
            let mut altered = bytes.clone();
            altered[i] ^= 0x01;
            assert!(InMemoryProvider::import_snapshot(&altered, &wrapping).is_err());
        }
        assert_eq!(
            InMemoryProvider::import_snapshot(&bytes, &[8u8; 32]).unwrap_err(),
            SnapshotError::Authentication
        );
    }
}
