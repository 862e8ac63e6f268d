//! `std::io` adapters (with `std`): a `Write` that seals and a `Read` that opens.

extern crate std;

use alloc::vec::Vec;
use std::io::{self, Read, Write};

use rand_core::TryCryptoRng;
use zeroize::{Zeroize, Zeroizing};

use super::{
    DataKey, EnvelopeError, HEADER_PREFIX_LEN, Header, Opener, SEGMENT_TAG_LEN, SealParams, Sealer,
    peek_header_len,
};

impl From<EnvelopeError> for io::Error {
    /// Problems of the envelope's bytes are `InvalidData`, of the caller's parameters
    /// `InvalidInput`, anything else `Other`; the `EnvelopeError` is the inner error.
    ///
    /// An unsupported data key length or data key text is `InvalidData`: a [`DataKey`] always
    /// has a supported length, so in the adapters these come from the data, a header's `L` or
    /// the text Decrypt found in the header's blob.
    fn from(e: EnvelopeError) -> Self {
        let kind = match e {
            EnvelopeError::NotAnEnvelope
            | EnvelopeError::UnsupportedVersion(_)
            | EnvelopeError::UnsupportedDataKeyLength(_)
            | EnvelopeError::InvalidDataKey
            | EnvelopeError::MalformedHeader
            | EnvelopeError::HeaderAuthenticationFailed
            | EnvelopeError::SegmentAuthenticationFailed { .. }
            | EnvelopeError::Truncated
            | EnvelopeError::EmptyFinalSegment { .. }
            | EnvelopeError::TooLong => io::ErrorKind::InvalidData,
            EnvelopeError::InvalidSegmentSize
            | EnvelopeError::InvalidBlob
            | EnvelopeError::InvalidContext
            | EnvelopeError::DataKeyLengthMismatch
            | EnvelopeError::BufferTooSmall { .. } => io::ErrorKind::InvalidInput,
            EnvelopeError::Rng | EnvelopeError::Poisoned | EnvelopeError::Kms(_) => {
                io::ErrorKind::Other
            }
        };
        io::Error::new(kind, e)
    }
}

/// A `Write` that seals what is written to it into an envelope on the inner writer (with
/// `std`). Holds at most one segment; [`finish`](Self::finish) writes the final segment and
/// returns the inner writer.
///
/// Dropped without `finish`, it leaves an envelope without its final segment, which no opener
/// accepts. `flush` flushes the inner writer but cannot seal a partial segment early.
pub struct EncryptWriter<W: Write> {
    inner: W,
    sealer: Sealer<Vec<u8>>,
}

impl<W: Write> EncryptWriter<W> {
    /// Starts an envelope on `inner` (the header is written with the first data, or by
    /// `finish`).
    ///
    /// # Errors
    /// As [`Sealer::new`].
    pub fn new<R: TryCryptoRng + ?Sized>(
        inner: W,
        data_key: &DataKey,
        params: &SealParams<'_>,
        rng: &mut R,
    ) -> Result<Self, EnvelopeError> {
        let buffer = alloc::vec![0u8; params.buffer_len(data_key.key_len())?];
        Ok(Self {
            inner,
            sealer: Sealer::new(data_key, params, rng, buffer)?,
        })
    }

    /// The inner writer.
    pub fn get_ref(&self) -> &W {
        &self.inner
    }

    /// Seals and writes the final segment, flushes, and returns the inner writer.
    ///
    /// # Errors
    /// The inner writer's errors, and as [`Sealer::finish`].
    pub fn finish(self) -> io::Result<W> {
        let Self { mut inner, sealer } = self;
        sealer.finish(|bytes| inner.write_all(bytes))?;
        inner.flush()?;
        Ok(inner)
    }
}

impl<W: Write> Write for EncryptWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let inner = &mut self.inner;
        self.sealer.push(buf, |bytes| inner.write_all(bytes))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl<W: Write> core::fmt::Debug for EncryptWriter<W> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("EncryptWriter")
            .field("sealer", &self.sealer)
            .finish_non_exhaustive()
    }
}

/// Reads until `buf` is full or the reader ends; returns how many bytes it read.
fn read_full<R: Read>(reader: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// A `Read` that opens the envelope read from the inner reader (with `std`), in memory of
/// about three segments.
///
/// It releases each segment's plaintext once its tag verifies. Whether the envelope was
/// complete is known only at its end: a read that returns `Ok(0)` means everything read was
/// authentic and complete; an envelope that was cut short, or had data appended, ends in an
/// `InvalidData` error instead (after the plaintext of the segments that did authenticate).
/// Treat the output as valid only after `Ok(0)`.
pub struct DecryptReader<R: Read> {
    inner: R,
    opener: Option<Opener<Vec<u8>>>,
    input: Vec<u8>,
    plaintext: Zeroizing<Vec<u8>>,
    position: usize,
    failed: Option<EnvelopeError>,
}

impl<R: Read> DecryptReader<R> {
    /// Reads the header from `inner`, asks `unlock` for the data key (usually by calling
    /// Decrypt with the header's blob and context: [`Header::decrypt`]), and checks it against
    /// the header.
    ///
    /// # Errors
    /// The inner reader's errors; what `unlock` returns; as [`Header::parse`] and
    /// [`Header::unlock`].
    pub fn new<F, E>(mut inner: R, unlock: F) -> Result<Self, E>
    where
        F: FnOnce(&Header<'_>) -> Result<DataKey, E>,
        E: From<EnvelopeError> + From<io::Error>,
    {
        let mut prefix = [0u8; HEADER_PREFIX_LEN];
        let got = read_full(&mut inner, &mut prefix)?;
        let header_len = peek_header_len(&prefix[..got])?;
        let mut header_bytes = alloc::vec![0u8; header_len];
        header_bytes[..HEADER_PREFIX_LEN].copy_from_slice(&prefix);
        let got = read_full(&mut inner, &mut header_bytes[HEADER_PREFIX_LEN..])?;
        if got < header_len - HEADER_PREFIX_LEN {
            return Err(EnvelopeError::Truncated.into());
        }
        let header = Header::parse(&header_bytes)?;
        let key = {
            let data_key = unlock(&header)?;
            header.unlock(&data_key)?
        };
        let sealed = key.segment_size() + SEGMENT_TAG_LEN;
        let opener = Opener::new(key, alloc::vec![0u8; sealed])?;
        Ok(Self {
            inner,
            opener: Some(opener),
            input: alloc::vec![0u8; sealed],
            plaintext: Zeroizing::new(Vec::with_capacity(sealed)),
            position: 0,
            failed: None,
        })
    }

    /// The inner reader.
    pub fn get_ref(&self) -> &R {
        &self.inner
    }

    /// Reads and opens more input until some plaintext is ready or the envelope ends.
    fn fill(&mut self) -> Result<(), io::Error> {
        while self.position == self.plaintext.len() {
            self.plaintext.zeroize();
            self.plaintext.clear();
            self.position = 0;
            if self.opener.is_none() {
                return Ok(());
            }
            let n = loop {
                match self.inner.read(&mut self.input) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    other => break other?,
                }
            };
            let plaintext = &mut self.plaintext;
            let mut emit = |bytes: &[u8]| {
                plaintext.extend_from_slice(bytes);
                Ok::<(), EnvelopeError>(())
            };
            let result = match (n, self.opener.take()) {
                (_, None) => Ok(()),
                (0, Some(opener)) => opener.finish(&mut emit),
                (n, Some(mut opener)) => {
                    let pushed = opener.push(&self.input[..n], &mut emit);
                    self.opener = Some(opener);
                    pushed
                }
            };
            if let Err(e) = result {
                self.failed = Some(e);
                return Err(e.into());
            }
        }
        Ok(())
    }
}

impl<R: Read> Read for DecryptReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(e) = self.failed {
            return Err(e.into());
        }
        if buf.is_empty() {
            return Ok(0);
        }
        self.fill()?;
        let ready = &self.plaintext[self.position..];
        let n = ready.len().min(buf.len());
        buf[..n].copy_from_slice(&ready[..n]);
        self.position += n;
        Ok(n)
    }
}

impl<R: Read> core::fmt::Debug for DecryptReader<R> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("DecryptReader")
            .field("opener", &self.opener)
            .field("failed", &self.failed)
            .finish_non_exhaustive()
    }
}
