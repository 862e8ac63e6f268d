//! The envelope header: writing it when sealing, parsing and checking it when opening.

use core::fmt;

use rand_core::TryCryptoRng;
use subtle::ConstantTimeEq;

use kms_core::blob::Blob;
use kms_core::context::Context;
use kms_core::{Caller, KeyProvider, KeyVersionId};

use super::keys::{FileKey, derive};
use super::{
    DataKey, EnvelopeError, HEADER_FIXED_LEN, HEADER_PREFIX_LEN, HEADER_TAG_LEN, MAGIC,
    MAX_CONTEXT_LEN, SALT_LEN, SealParams, VERSION, blob_len_for, segment_size,
};

/// The fields of the first [`HEADER_PREFIX_LEN`] bytes, checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Prefix {
    key_len: usize,
    segment_size: u32,
    blob_len: usize,
    context_len: usize,
}

impl Prefix {
    /// Reads and checks the prefix at the start of `input`. Input too short to hold it is
    /// [`EnvelopeError::Truncated`], unless what there is already differs from the magic or
    /// names another version.
    fn parse(input: &[u8]) -> Result<Self, EnvelopeError> {
        let n = input.len().min(MAGIC.len());
        if input[..n] != MAGIC[..n] {
            return Err(EnvelopeError::NotAnEnvelope);
        }
        match input.get(MAGIC.len()) {
            Some(&version) if version != VERSION => {
                return Err(EnvelopeError::UnsupportedVersion(version));
            }
            _ => {}
        }
        let p: &[u8; HEADER_PREFIX_LEN] = input
            .get(..HEADER_PREFIX_LEN)
            .and_then(|p| p.try_into().ok())
            .ok_or(EnvelopeError::Truncated)?;
        let malformed = EnvelopeError::MalformedHeader;
        let key_len = usize::from(p[7]);
        if key_len != 16 && key_len != 32 {
            return Err(EnvelopeError::UnsupportedDataKeyLength(key_len));
        }
        let segment_size_field = u32::from_be_bytes([p[8], p[9], p[10], p[11]]);
        segment_size(segment_size_field).map_err(|_| malformed)?;
        let blob_len = usize::from(u16::from_be_bytes([p[12], p[13]]));
        if blob_len != blob_len_for(key_len) {
            return Err(malformed);
        }
        let context_len = usize::from(u16::from_be_bytes([p[14], p[15]]));
        if !(2..=MAX_CONTEXT_LEN).contains(&context_len) {
            return Err(malformed);
        }
        Ok(Self {
            key_len,
            segment_size: segment_size_field,
            blob_len,
            context_len,
        })
    }

    fn header_len(&self) -> usize {
        HEADER_FIXED_LEN + self.blob_len + self.context_len
    }

    fn blob_at(&self) -> usize {
        HEADER_PREFIX_LEN + SALT_LEN
    }

    fn context_at(&self) -> usize {
        self.blob_at() + self.blob_len
    }

    fn tag_at(&self) -> usize {
        self.context_at() + self.context_len
    }

    fn write(&self, out: &mut [u8]) -> Result<(), EnvelopeError> {
        let too_long = EnvelopeError::InvalidContext;
        let out = out
            .get_mut(..HEADER_PREFIX_LEN)
            .ok_or(EnvelopeError::BufferTooSmall {
                needed: HEADER_PREFIX_LEN,
            })?;
        out[..6].copy_from_slice(&MAGIC);
        out[6] = VERSION;
        out[7] = u8::try_from(self.key_len).map_err(|_| EnvelopeError::InvalidBlob)?;
        out[8..12].copy_from_slice(&self.segment_size.to_be_bytes());
        let blob_len = u16::try_from(self.blob_len).map_err(|_| EnvelopeError::InvalidBlob)?;
        out[12..14].copy_from_slice(&blob_len.to_be_bytes());
        let context_len = u16::try_from(self.context_len).map_err(|_| too_long)?;
        out[14..16].copy_from_slice(&context_len.to_be_bytes());
        Ok(())
    }
}

/// The length of the header that `input` starts with, from its first [`HEADER_PREFIX_LEN`]
/// bytes (more may follow; they are not looked at).
///
/// # Errors
/// [`EnvelopeError::Truncated`] when `input` is shorter than the prefix (and what there is
/// looks like one), [`EnvelopeError::NotAnEnvelope`], [`EnvelopeError::UnsupportedVersion`],
/// [`EnvelopeError::UnsupportedDataKeyLength`] for an `L` other than 16 or 32,
/// [`EnvelopeError::MalformedHeader`] for another field out of range: checks 1 to 7 of the
/// crate documentation's list, in its order.
pub fn peek_header_len(input: &[u8]) -> Result<usize, EnvelopeError> {
    Prefix::parse(input).map(|p| p.header_len())
}

/// Writes the header for `params` into the start of `out`, with a fresh salt from `rng`, and
/// returns the file key and the header's length.
pub(crate) fn write_header<R: TryCryptoRng + ?Sized>(
    data_key: &DataKey,
    params: &SealParams<'_>,
    rng: &mut R,
    out: &mut [u8],
) -> Result<(FileKey, usize), EnvelopeError> {
    let segment_size_bytes = segment_size(params.segment_size)?;
    let header_len = params.header_len(data_key.key_len())?;
    let prefix = Prefix {
        key_len: data_key.key_len(),
        segment_size: params.segment_size,
        blob_len: blob_len_for(data_key.key_len()),
        context_len: header_len - HEADER_FIXED_LEN - blob_len_for(data_key.key_len()),
    };
    let out = out
        .get_mut(..header_len)
        .ok_or(EnvelopeError::BufferTooSmall { needed: header_len })?;
    prefix.write(out)?;

    out[prefix.blob_at()..prefix.context_at()].copy_from_slice(params.ciphertext_blob.as_bytes());
    out[prefix.context_at()..prefix.tag_at()].copy_from_slice(params.context.canonical());

    let mut salt = [0u8; SALT_LEN];
    rng.try_fill_bytes(&mut salt)
        .map_err(|_| EnvelopeError::Rng)?;
    out[HEADER_PREFIX_LEN..prefix.blob_at()].copy_from_slice(&salt);
    let (body, tag_out) = out.split_at_mut(prefix.tag_at());
    let (key, tag) = derive(data_key, &salt, body, segment_size_bytes)?;
    tag_out.copy_from_slice(&tag);
    Ok((key, header_len))
}

/// A parsed, well-formed envelope header, borrowed from the bytes it was read from.
///
/// Parsing checks every field's range and layout, but not the header tag: that takes the data
/// key, and [`unlock`](Self::unlock) checks it. Until then, the blob and the context are what
/// the file claims; Decrypt checks them against the KMS.
#[derive(Clone, Copy)]
pub struct Header<'h> {
    bytes: &'h [u8],
    prefix: Prefix,
    blob: Blob<'h>,
    context: Context<'h>,
}

impl<'h> Header<'h> {
    /// Parses the header at the start of `input`; anything after it (the segments) is not
    /// looked at. [`encoded_len`](Self::encoded_len) tells where the segments start.
    ///
    /// # Errors
    /// [`EnvelopeError::Truncated`] when `input` ends inside the header,
    /// [`EnvelopeError::NotAnEnvelope`], [`EnvelopeError::UnsupportedVersion`],
    /// [`EnvelopeError::UnsupportedDataKeyLength`], [`EnvelopeError::MalformedHeader`]: checks 1
    /// to 10 of the crate documentation's list, in its order.
    pub fn parse(input: &'h [u8]) -> Result<Self, EnvelopeError> {
        let prefix = Prefix::parse(input)?;
        let bytes = input
            .get(..prefix.header_len())
            .ok_or(EnvelopeError::Truncated)?;
        let malformed = EnvelopeError::MalformedHeader;
        let blob = Blob::from_bytes(&bytes[prefix.blob_at()..prefix.context_at()])
            .map_err(|_| malformed)?;
        let context = Context::from_canonical(&bytes[prefix.context_at()..prefix.tag_at()])
            .map_err(|_| malformed)?;
        Ok(Self {
            bytes,
            prefix,
            blob,
            context,
        })
    }

    /// The header's length in bytes: where the first segment starts.
    pub fn encoded_len(&self) -> usize {
        self.bytes.len()
    }

    /// The header's bytes.
    pub fn as_bytes(&self) -> &'h [u8] {
        self.bytes
    }

    /// The data key's length: 16 or 32 bytes.
    pub fn data_key_len(&self) -> usize {
        self.prefix.key_len
    }

    /// The segment size in bytes.
    pub fn segment_size(&self) -> u32 {
        self.prefix.segment_size
    }

    /// The file's salt.
    pub fn salt(&self) -> &'h [u8] {
        &self.bytes[HEADER_PREFIX_LEN..self.prefix.blob_at()]
    }

    /// The data key's blob.
    pub fn blob(&self) -> Blob<'h> {
        self.blob
    }

    /// The key version that sealed the data key.
    pub fn key_version_id(&self) -> KeyVersionId {
        self.blob.version()
    }

    /// The length of the CiphertextBlob text (Base64 of the blob).
    pub fn ciphertext_blob_len(&self) -> usize {
        self.blob.base64_len()
    }

    /// Writes the CiphertextBlob (Base64 of the blob, as the wire's Decrypt takes it) into
    /// `out`, which needs [`ciphertext_blob_len`](Self::ciphertext_blob_len) bytes.
    ///
    /// # Errors
    /// [`EnvelopeError::BufferTooSmall`].
    pub fn write_ciphertext_blob<'o>(&self, out: &'o mut [u8]) -> Result<&'o str, EnvelopeError> {
        let needed = self.ciphertext_blob_len();
        self.blob
            .encode_base64(out)
            .map_err(|_| EnvelopeError::BufferTooSmall { needed })
    }

    /// The encryption context the blob is bound to.
    pub fn context(&self) -> Context<'h> {
        self.context
    }

    /// The length of the context's JSON text as [`write_encryption_context`] writes it.
    ///
    /// [`write_encryption_context`]: Self::write_encryption_context
    pub fn encryption_context_len(&self) -> usize {
        self.context.json_len()
    }

    /// Writes the context as JSON text, as the wire's Decrypt takes it in `EncryptionContext`
    /// ([`Context::write_json`]: pairs sorted by key, no white space, only the escapes JSON
    /// requires, `{}` for the empty context). `out` needs
    /// [`encryption_context_len`](Self::encryption_context_len) bytes.
    ///
    /// # Errors
    /// [`EnvelopeError::BufferTooSmall`].
    pub fn write_encryption_context<'o>(
        &self,
        out: &'o mut [u8],
    ) -> Result<&'o str, EnvelopeError> {
        let needed = self.encryption_context_len();
        self.context
            .write_json(out)
            .map_err(|_| EnvelopeError::BufferTooSmall { needed })
    }

    /// The workspace [`decrypt_in`](Self::decrypt_in) needs.
    pub fn decrypt_workspace_len(&self) -> usize {
        self.decrypt_request().workspace_len()
    }

    fn decrypt_request(&self) -> kms_core::ops::DecryptRequest<'h> {
        kms_core::ops::DecryptRequest::new(self.blob).with_context(self.context)
    }

    /// Calls the typed Decrypt on the header's blob with the header's context, in a caller's
    /// workspace of [`decrypt_workspace_len`](Self::decrypt_workspace_len) bytes (no
    /// allocator), and returns the data key.
    ///
    /// # Errors
    /// [`EnvelopeError::Kms`] with Decrypt's error; [`EnvelopeError::InvalidDataKey`] or
    /// [`EnvelopeError::UnsupportedDataKeyLength`] when the blob does not hold a data key.
    pub fn decrypt_in<P, R>(
        &self,
        provider: &P,
        caller: &Caller<'_>,
        rng: &mut R,
        workspace: &mut [u8],
    ) -> Result<DataKey, EnvelopeError>
    where
        P: KeyProvider + ?Sized,
        R: TryCryptoRng + ?Sized,
    {
        let request = self.decrypt_request();
        let opened = kms_core::ops::decrypt_in(provider, caller, &request, rng, workspace)
            .and_then(kms_core::ops::Outcome::into_result)
            .map_err(EnvelopeError::Kms)?;
        DataKey::try_from(&opened)
    }

    /// As [`decrypt_in`](Self::decrypt_in), in a workspace it allocates (with `alloc`): the
    /// usual body of the closure [`super::open`] and [`super::DecryptReader`] take.
    ///
    /// # Errors
    /// As [`decrypt_in`](Self::decrypt_in).
    #[cfg(feature = "alloc")]
    pub fn decrypt<P, R>(
        &self,
        provider: &P,
        caller: &Caller<'_>,
        rng: &mut R,
    ) -> Result<DataKey, EnvelopeError>
    where
        P: KeyProvider + ?Sized,
        R: TryCryptoRng + ?Sized,
    {
        let mut workspace = zeroize::Zeroizing::new(alloc::vec![0u8; self.decrypt_workspace_len()]);
        self.decrypt_in(provider, caller, rng, &mut workspace)
    }

    /// Checks the header tag with `data_key` (in constant time) and derives the file key.
    ///
    /// # Errors
    /// [`EnvelopeError::DataKeyLengthMismatch`] when the key's length is not the header's,
    /// [`EnvelopeError::HeaderAuthenticationFailed`] when the tag does not verify: the key is
    /// not the one the blob holds, or the header was altered.
    pub fn unlock(&self, data_key: &DataKey) -> Result<FileKey, EnvelopeError> {
        if data_key.key_len() != self.prefix.key_len {
            return Err(EnvelopeError::DataKeyLengthMismatch);
        }
        let tag_at = self.prefix.tag_at();
        let salt: &[u8; SALT_LEN] = self
            .salt()
            .try_into()
            .map_err(|_| EnvelopeError::MalformedHeader)?;
        let segment_size = segment_size(self.prefix.segment_size)?;
        let (key, tag) = derive(data_key, salt, &self.bytes[..tag_at], segment_size)?;
        let stored = &self.bytes[tag_at..tag_at + HEADER_TAG_LEN];
        if bool::from(tag.ct_eq(stored)) {
            Ok(key)
        } else {
            Err(EnvelopeError::HeaderAuthenticationFailed)
        }
    }
}

impl fmt::Debug for Header<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Header")
            .field("key_version_id", &self.key_version_id())
            .field("data_key_len", &self.prefix.key_len)
            .field("segment_size", &self.prefix.segment_size)
            .field("context_pairs", &self.context.len())
            .field("len", &self.bytes.len())
            .finish()
    }
}

/// Collects a header from a stream pushed in pieces, in a caller's buffer (no allocator):
/// [`HEADER_PREFIX_LEN`] bytes first, which give the header's length, then the rest.
///
/// The buffer needs the header's length (at most [`super::MAX_HEADER_LEN`]; 190 bytes for a
/// 32-byte data key and an empty context). [`push`](Self::push) takes no byte past the header,
/// so the rest of the input can go to an [`super::Opener`].
#[derive(Debug)]
pub struct HeaderReader<B> {
    buffer: B,
    filled: usize,
    needed: usize,
}

impl<B: AsRef<[u8]> + AsMut<[u8]>> HeaderReader<B> {
    /// A reader that collects into `buffer`.
    pub fn new(buffer: B) -> Self {
        Self {
            buffer,
            filled: 0,
            needed: HEADER_PREFIX_LEN,
        }
    }

    /// Takes header bytes from the start of `input` and returns how many it took: all of
    /// `input` until the header is complete, then none.
    ///
    /// # Errors
    /// [`EnvelopeError::NotAnEnvelope`], [`EnvelopeError::UnsupportedVersion`],
    /// [`EnvelopeError::UnsupportedDataKeyLength`], [`EnvelopeError::MalformedHeader`] as soon
    /// as the bytes show it;
    /// [`EnvelopeError::BufferTooSmall`] when the header does not fit the buffer.
    pub fn push(&mut self, input: &[u8]) -> Result<usize, EnvelopeError> {
        let mut used = 0;
        loop {
            if self.filled == self.needed {
                if self.needed != HEADER_PREFIX_LEN {
                    return Ok(used);
                }
                let prefix = Prefix::parse(&self.buffer.as_ref()[..self.filled])?;
                self.needed = prefix.header_len();
                continue;
            }
            let take = (self.needed - self.filled).min(input.len() - used);
            if take == 0 {
                return Ok(used);
            }
            let needed = self.needed;
            self.buffer
                .as_mut()
                .get_mut(self.filled..self.filled + take)
                .ok_or(EnvelopeError::BufferTooSmall { needed })?
                .copy_from_slice(&input[used..used + take]);
            self.filled += take;
            used += take;
            if self.filled < HEADER_PREFIX_LEN {
                // Refuse what is clearly not an envelope without waiting for more.
                match Prefix::parse(&self.buffer.as_ref()[..self.filled]) {
                    Err(EnvelopeError::Truncated) => {}
                    Err(e) => return Err(e),
                    Ok(_) => {}
                }
            }
        }
    }

    /// Whether the whole header has been pushed.
    pub fn is_complete(&self) -> bool {
        self.needed != HEADER_PREFIX_LEN && self.filled == self.needed
    }

    /// The header, once complete.
    ///
    /// # Errors
    /// [`EnvelopeError::Truncated`] before it is complete; as [`Header::parse`].
    pub fn header(&self) -> Result<Header<'_>, EnvelopeError> {
        if !self.is_complete() {
            return Err(EnvelopeError::Truncated);
        }
        Header::parse(&self.buffer.as_ref()[..self.filled])
    }

    /// The buffer back, for instance to give to an [`super::Opener`].
    pub fn into_inner(self) -> B {
        self.buffer
    }
}
