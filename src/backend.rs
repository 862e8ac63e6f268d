//! How the operations reach a provider: one implementation of every operation, written as an
//! `async fn` over [`Directory`] and [`Cipher`], serves both the blocking provider traits
//! (through [`Blocking`], whose futures are always ready, driven by [`run_ready`] without any
//! executor) and, with the `async` feature, the asynchronous ones (through [`Nonblocking`]).

use core::future::Future;
use core::pin::pin;
use core::task::{Context, Poll, Waker};

use crate::blob::{Iv, Tag};
use crate::provider::{KeyCipher, KeyDirectory, ProviderError, SecureRandom};
use crate::{AuthorizedKey, Caller, Error, Internal, KeyId, KeyRecord, KeyVersionId, Permission};

/// A key directory as the operations see it: the calls of [`KeyDirectory`], as futures.
pub(crate) trait Directory {
    /// One of the three lookups of [`KeyDirectory`], as the operation needs it.
    fn lookup(
        &self,
        lookup: Lookup<'_>,
    ) -> impl Future<Output = Result<Option<KeyRecord>, ProviderError>>;

    fn permits(
        &self,
        key: &KeyRecord,
        caller: &Caller<'_>,
        permission: Permission,
    ) -> impl Future<Output = Result<bool, ProviderError>>;
}

/// What step 2 asks a key directory.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Lookup<'a> {
    /// [`KeyDirectory::find_key`].
    Key {
        account: &'a str,
        region: &'a str,
        key_id: &'a KeyId,
    },
    /// [`KeyDirectory::find_alias`].
    Alias {
        account: &'a str,
        region: &'a str,
        alias: &'a str,
    },
    /// [`KeyDirectory::find_version`].
    Version {
        region: &'a str,
        version: &'a KeyVersionId,
    },
    /// A name that names no key: nothing to ask.
    Nothing,
}

impl Lookup<'_> {
    /// Asks a blocking directory.
    #[inline]
    pub(crate) fn ask<D: KeyDirectory + ?Sized>(
        self,
        d: &D,
    ) -> Result<Option<KeyRecord>, ProviderError> {
        match self {
            Lookup::Key {
                account,
                region,
                key_id,
            } => d.find_key(account, region, key_id),
            Lookup::Alias {
                account,
                region,
                alias,
            } => d.find_alias(account, region, alias),
            Lookup::Version { region, version } => d.find_version(region, version),
            Lookup::Nothing => Ok(None),
        }
    }
}

/// A key cipher as the operations see it: the calls of [`KeyCipher`], as futures. `G` is the
/// RNG handed to the cipher.
pub(crate) trait Cipher<G: SecureRandom> {
    fn seal(
        &self,
        key: &AuthorizedKey,
        aad: &[u8],
        in_out: &mut [u8],
        rng: &mut G,
    ) -> impl Future<Output = Result<(Iv, Tag), ProviderError>>;

    fn open(
        &self,
        key: &AuthorizedKey,
        iv: &Iv,
        aad: &[u8],
        in_out: &mut [u8],
        tag: &Tag,
    ) -> impl Future<Output = Result<(), ProviderError>>;
}

/// A blocking provider as a [`Directory`] and a [`Cipher`]: every call answers at once, in a
/// ready future.
pub(crate) struct Blocking<'p, P: ?Sized>(pub(crate) &'p P);

impl<P: KeyDirectory + ?Sized> Directory for Blocking<'_, P> {
    #[inline]
    fn lookup(
        &self,
        lookup: Lookup<'_>,
    ) -> impl Future<Output = Result<Option<KeyRecord>, ProviderError>> {
        core::future::ready(lookup.ask(self.0))
    }

    #[inline]
    fn permits(
        &self,
        key: &KeyRecord,
        caller: &Caller<'_>,
        permission: Permission,
    ) -> impl Future<Output = Result<bool, ProviderError>> {
        core::future::ready(self.0.permits(key, caller, permission))
    }
}

impl<P: KeyCipher + ?Sized, G: SecureRandom> Cipher<G> for Blocking<'_, P> {
    #[inline]
    fn seal(
        &self,
        key: &AuthorizedKey,
        aad: &[u8],
        in_out: &mut [u8],
        rng: &mut G,
    ) -> impl Future<Output = Result<(Iv, Tag), ProviderError>> {
        core::future::ready(self.0.seal(key, aad, in_out, rng))
    }

    #[inline]
    fn open(
        &self,
        key: &AuthorizedKey,
        iv: &Iv,
        aad: &[u8],
        in_out: &mut [u8],
        tag: &Tag,
    ) -> impl Future<Output = Result<(), ProviderError>> {
        core::future::ready(self.0.open(key, iv, aad, in_out, tag))
    }
}

/// Runs an operation over a [`Blocking`] backend to its end: it never waits, so one poll with a
/// waker that does nothing finishes it. (Were it ever to wait, that would be a provider
/// bug, reported as `InternalFailure`.)
#[inline(always)]
pub(crate) fn run_ready<T>(operation: impl Future<Output = Result<T, Error>>) -> Result<T, Error> {
    let operation = pin!(operation);
    match operation.poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(result) => result,
        Poll::Pending => Err(Error::InternalFailure(Internal::Provider)),
    }
}

/// An asynchronous provider as a [`Directory`] and a [`Cipher`] (with the `async` feature).
#[cfg(feature = "async")]
pub(crate) struct Nonblocking<'p, P: ?Sized>(pub(crate) &'p P);

#[cfg(feature = "async")]
impl<P: crate::provider::AsyncKeyDirectory + ?Sized> Directory for Nonblocking<'_, P> {
    async fn lookup(&self, lookup: Lookup<'_>) -> Result<Option<KeyRecord>, ProviderError> {
        match lookup {
            Lookup::Key {
                account,
                region,
                key_id,
            } => self.0.find_key(account, region, key_id).await,
            Lookup::Alias {
                account,
                region,
                alias,
            } => self.0.find_alias(account, region, alias).await,
            Lookup::Version { region, version } => self.0.find_version(region, version).await,
            Lookup::Nothing => Ok(None),
        }
    }

    async fn permits(
        &self,
        key: &KeyRecord,
        caller: &Caller<'_>,
        permission: Permission,
    ) -> Result<bool, ProviderError> {
        self.0.permits(key, caller, permission).await
    }
}

#[cfg(feature = "async")]
impl<P, G> Cipher<G> for Nonblocking<'_, P>
where
    P: crate::provider::AsyncKeyCipher + ?Sized,
    G: SecureRandom + Send,
{
    async fn seal(
        &self,
        key: &AuthorizedKey,
        aad: &[u8],
        in_out: &mut [u8],
        rng: &mut G,
    ) -> Result<(Iv, Tag), ProviderError> {
        self.0.seal(key, aad, in_out, rng).await
    }

    async fn open(
        &self,
        key: &AuthorizedKey,
        iv: &Iv,
        aad: &[u8],
        in_out: &mut [u8],
        tag: &Tag,
    ) -> Result<(), ProviderError> {
        self.0.open(key, iv, aad, in_out, tag).await
    }
}
