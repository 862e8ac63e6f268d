//! Push-style sealing and opening in a caller's buffer, and the one-shot forms (with `alloc`).

use rand_core::TryCryptoRng;
use zeroize::Zeroize;

use super::header::write_header;
use super::keys::FileKey;
use super::{DataKey, EnvelopeError, MAX_PLAINTEXT_LEN, MAX_SEGMENTS, SEGMENT_TAG_LEN, SealParams};

/// Counts one more segment of `len` plaintext bytes against the limits.
fn count(index: u64, total: &mut u64, len: usize) -> Result<(), EnvelopeError> {
    let len = u64::try_from(len).map_err(|_| EnvelopeError::TooLong)?;
    let new_total = total.checked_add(len).ok_or(EnvelopeError::TooLong)?;
    if index >= MAX_SEGMENTS || new_total > MAX_PLAINTEXT_LEN {
        return Err(EnvelopeError::TooLong);
    }
    *total = new_total;
    Ok(())
}

/// Seals a stream pushed in pieces of any size, in one caller buffer (no allocator).
///
/// Each call hands the envelope's bytes, header first, to an `emit` closure as they are
/// made: whole sealed segments, `segment_size + 16` bytes each, and the final one at
/// [`finish`](Self::finish). The last full segment of what was pushed is held back until
/// more data or `finish` says whether it is the final one. Plaintext left in the buffer is
/// zeroized when the sealer drops.
///
/// The module documentation shows one in use without an allocator.
pub struct Sealer<B: AsMut<[u8]>> {
    key: FileKey,
    buffer: B,
    /// Header bytes at the start of the buffer, not emitted yet.
    header_len: usize,
    filled: usize,
    index: u64,
    total: u64,
    poisoned: bool,
}

impl<B: AsMut<[u8]>> Sealer<B> {
    /// Starts an envelope: draws the salt from `rng`, derives the file key and writes the
    /// header into `buffer`, which needs [`SealParams::buffer_len`] bytes. The header is
    /// emitted by the first [`push`](Self::push) or [`finish`](Self::finish).
    ///
    /// # Errors
    /// [`EnvelopeError::InvalidSegmentSize`], [`EnvelopeError::InvalidBlob`],
    /// [`EnvelopeError::InvalidContext`], [`EnvelopeError::BufferTooSmall`],
    /// [`EnvelopeError::Rng`].
    pub fn new<R: TryCryptoRng + ?Sized>(
        data_key: &DataKey,
        params: &SealParams<'_>,
        rng: &mut R,
        mut buffer: B,
    ) -> Result<Self, EnvelopeError> {
        let needed = params.buffer_len(data_key.key_len())?;
        if buffer.as_mut().len() < needed {
            return Err(EnvelopeError::BufferTooSmall { needed });
        }
        let (key, header_len) = write_header(data_key, params, rng, buffer.as_mut())?;
        Ok(Self {
            key,
            buffer,
            header_len,
            filled: 0,
            index: 0,
            total: 0,
            poisoned: false,
        })
    }

    /// The segment size in bytes.
    pub fn segment_size(&self) -> usize {
        self.key.segment_size()
    }

    /// Plaintext bytes sealed or buffered so far.
    pub fn plaintext_len(&self) -> u64 {
        self.total + self.filled as u64
    }

    /// Seals what `input` completes and hands it to `emit`; keeps the rest (at most one
    /// segment) for later. After an error (of the sealer or of `emit`) the sealer is poisoned.
    ///
    /// # Errors
    /// [`EnvelopeError::TooLong`] past the limits, [`EnvelopeError::Poisoned`], or what `emit`
    /// returns.
    pub fn push<E, F>(&mut self, input: &[u8], mut emit: F) -> Result<(), E>
    where
        E: From<EnvelopeError>,
        F: FnMut(&[u8]) -> Result<(), E>,
    {
        if self.poisoned {
            return Err(EnvelopeError::Poisoned.into());
        }
        self.poisoned = true;
        self.push_inner(input, &mut emit)?;
        self.poisoned = false;
        Ok(())
    }

    /// Seals what is held as the final segment, emits it, and ends the envelope.
    ///
    /// # Errors
    /// [`EnvelopeError::TooLong`], [`EnvelopeError::Poisoned`], or what `emit` returns.
    pub fn finish<E, F>(mut self, mut emit: F) -> Result<(), E>
    where
        E: From<EnvelopeError>,
        F: FnMut(&[u8]) -> Result<(), E>,
    {
        // Only an empty plaintext ends in an empty segment; the push logic never leaves the
        // buffer empty once a segment has been sealed.
        if self.poisoned || (self.filled == 0 && self.index > 0) {
            return Err(EnvelopeError::Poisoned.into());
        }
        self.poisoned = true;
        self.emit_header(&mut emit)?;
        self.seal_buffered(true, &mut emit)
    }

    fn emit_header<E, F>(&mut self, emit: &mut F) -> Result<(), E>
    where
        E: From<EnvelopeError>,
        F: FnMut(&[u8]) -> Result<(), E>,
    {
        if self.header_len > 0 {
            let len = core::mem::take(&mut self.header_len);
            emit(&self.buffer.as_mut()[..len])?;
        }
        Ok(())
    }

    /// Seals the held plaintext in place as segment `index` and emits it.
    fn seal_buffered<E, F>(&mut self, last: bool, emit: &mut F) -> Result<(), E>
    where
        E: From<EnvelopeError>,
        F: FnMut(&[u8]) -> Result<(), E>,
    {
        let len = self.filled;
        count(self.index, &mut self.total, len)?;
        let buffer = self.buffer.as_mut();
        let tag = self.key.seal(self.index, last, None, &mut buffer[..len])?;
        buffer[len..len + SEGMENT_TAG_LEN].copy_from_slice(&tag);
        self.index += 1;
        self.filled = 0;
        emit(&buffer[..len + SEGMENT_TAG_LEN])
    }

    fn push_inner<E, F>(&mut self, mut input: &[u8], emit: &mut F) -> Result<(), E>
    where
        E: From<EnvelopeError>,
        F: FnMut(&[u8]) -> Result<(), E>,
    {
        let size = self.key.segment_size();
        self.emit_header(emit)?;
        if self.filled > 0 {
            let take = (size - self.filled).min(input.len());
            self.buffer.as_mut()[self.filled..self.filled + take].copy_from_slice(&input[..take]);
            self.filled += take;
            input = &input[take..];
            if self.filled < size || input.is_empty() {
                return Ok(());
            }
            // A full segment with more data after it: not the final one.
            self.seal_buffered(false, emit)?;
        }
        // Whole segments straight from the input into the buffer, while more data follows.
        while input.len() > size {
            let (segment, rest) = input.split_at(size);
            count(self.index, &mut self.total, size)?;
            let buffer = self.buffer.as_mut();
            let tag = self
                .key
                .seal(self.index, false, Some(segment), &mut buffer[..size])?;
            buffer[size..size + SEGMENT_TAG_LEN].copy_from_slice(&tag);
            self.index += 1;
            emit(&buffer[..size + SEGMENT_TAG_LEN])?;
            input = rest;
        }
        self.buffer.as_mut()[..input.len()].copy_from_slice(input);
        self.filled = input.len();
        Ok(())
    }
}

impl<B: AsMut<[u8]>> Drop for Sealer<B> {
    fn drop(&mut self) {
        self.buffer.as_mut().zeroize();
    }
}

impl<B: AsMut<[u8]>> core::fmt::Debug for Sealer<B> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Sealer")
            .field("segment_size", &self.key.segment_size())
            .field("segments_sealed", &self.index)
            .field("poisoned", &self.poisoned)
            .finish_non_exhaustive()
    }
}

/// Opens the segments of an envelope pushed in pieces of any size, in one caller buffer of
/// `segment_size + 16` bytes (no allocator).
///
/// Each segment's plaintext goes to `emit` once its tag has verified, never before. The last
/// full segment pushed is held back until more data or [`finish`](Self::finish) tells whether
/// it is the final one; only `finish` can tell a complete envelope from a truncated one, so
/// treat what `emit` received as complete only once `finish` returns `Ok`. Plaintext left in
/// the buffer is zeroized when the opener drops.
pub struct Opener<B: AsMut<[u8]>> {
    key: FileKey,
    buffer: B,
    filled: usize,
    index: u64,
    total: u64,
    poisoned: bool,
}

impl<B: AsMut<[u8]>> Opener<B> {
    /// An opener of the segments that follow the header `key` was unlocked from, working in
    /// `buffer` ([`buffer_len`](Self::buffer_len) bytes at least).
    ///
    /// # Errors
    /// [`EnvelopeError::BufferTooSmall`].
    pub fn new(key: FileKey, mut buffer: B) -> Result<Self, EnvelopeError> {
        let needed = Self::buffer_len(&key);
        if buffer.as_mut().len() < needed {
            return Err(EnvelopeError::BufferTooSmall { needed });
        }
        Ok(Self {
            key,
            buffer,
            filled: 0,
            index: 0,
            total: 0,
            poisoned: false,
        })
    }

    /// The buffer an opener of `key` needs: a sealed segment, `segment_size + 16` bytes.
    pub fn buffer_len(key: &FileKey) -> usize {
        key.segment_size() + SEGMENT_TAG_LEN
    }

    /// Plaintext bytes released so far.
    pub fn plaintext_len(&self) -> u64 {
        self.total
    }

    /// Opens the segments that `input` completes and hands their plaintext to `emit`; keeps
    /// the rest (at most one sealed segment) for later. After an error (of the opener or of
    /// `emit`) the opener is poisoned: nothing more is opened.
    ///
    /// # Errors
    /// [`EnvelopeError::SegmentAuthenticationFailed`], [`EnvelopeError::TooLong`],
    /// [`EnvelopeError::Poisoned`], or what `emit` returns.
    pub fn push<E, F>(&mut self, input: &[u8], mut emit: F) -> Result<(), E>
    where
        E: From<EnvelopeError>,
        F: FnMut(&[u8]) -> Result<(), E>,
    {
        if self.poisoned {
            return Err(EnvelopeError::Poisoned.into());
        }
        self.poisoned = true;
        self.push_inner(input, &mut emit)?;
        self.poisoned = false;
        Ok(())
    }

    /// Opens what is held as the final segment and emits its plaintext. `Ok` means the whole
    /// envelope was authentic and complete.
    ///
    /// # Errors
    /// [`EnvelopeError::Truncated`] when less than a tag is held (the input ended early),
    /// [`EnvelopeError::EmptyFinalSegment`] when a tag alone is held after a full segment (no
    /// sealer writes that), [`EnvelopeError::TooLong`] past the limits,
    /// [`EnvelopeError::SegmentAuthenticationFailed`] when the held segment is not a final
    /// one (the file was cut, or had data appended), [`EnvelopeError::Poisoned`], or what `emit`
    /// returns.
    pub fn finish<E, F>(mut self, mut emit: F) -> Result<(), E>
    where
        E: From<EnvelopeError>,
        F: FnMut(&[u8]) -> Result<(), E>,
    {
        if self.poisoned {
            return Err(EnvelopeError::Poisoned.into());
        }
        self.poisoned = true;
        self.open_buffered(true, &mut emit)
    }

    /// Opens the held segment in place as segment `index` and emits its plaintext.
    fn open_buffered<E, F>(&mut self, last: bool, emit: &mut F) -> Result<(), E>
    where
        E: From<EnvelopeError>,
        F: FnMut(&[u8]) -> Result<(), E>,
    {
        let held = self.filled;
        let len = held
            .checked_sub(SEGMENT_TAG_LEN)
            .ok_or(EnvelopeError::Truncated)?;
        if last && len == 0 && self.index > 0 {
            // Segmentation is canonical: only an empty plaintext ends in an empty segment.
            return Err(EnvelopeError::EmptyFinalSegment { index: self.index }.into());
        }
        count(self.index, &mut self.total, len)?;
        let buffer = self.buffer.as_mut();
        let mut tag = [0u8; SEGMENT_TAG_LEN];
        tag.copy_from_slice(&buffer[len..held]);
        self.key
            .open(self.index, last, None, &mut buffer[..len], &tag)?;
        self.index += 1;
        self.filled = 0;
        emit(&buffer[..len])
    }

    fn push_inner<E, F>(&mut self, mut input: &[u8], emit: &mut F) -> Result<(), E>
    where
        E: From<EnvelopeError>,
        F: FnMut(&[u8]) -> Result<(), E>,
    {
        let size = self.key.segment_size();
        let sealed = size + SEGMENT_TAG_LEN;
        if self.filled > 0 {
            let take = (sealed - self.filled).min(input.len());
            self.buffer.as_mut()[self.filled..self.filled + take].copy_from_slice(&input[..take]);
            self.filled += take;
            input = &input[take..];
            if self.filled < sealed || input.is_empty() {
                return Ok(());
            }
            // A full segment with more data after it: it must be a non-final one.
            self.open_buffered(false, emit)?;
        }
        // Whole segments straight from the input, while more data follows.
        while input.len() > sealed {
            let (segment, rest) = input.split_at(sealed);
            let (ciphertext, tag) = segment.split_at(size);
            let mut tag_bytes = [0u8; SEGMENT_TAG_LEN];
            tag_bytes.copy_from_slice(tag);
            count(self.index, &mut self.total, size)?;
            let buffer = self.buffer.as_mut();
            self.key.open(
                self.index,
                false,
                Some(ciphertext),
                &mut buffer[..size],
                &tag_bytes,
            )?;
            self.index += 1;
            emit(&buffer[..size])?;
            input = rest;
        }
        self.buffer.as_mut()[..input.len()].copy_from_slice(input);
        self.filled = input.len();
        Ok(())
    }
}

impl<B: AsMut<[u8]>> Drop for Opener<B> {
    fn drop(&mut self) {
        self.buffer.as_mut().zeroize();
    }
}

impl<B: AsMut<[u8]>> core::fmt::Debug for Opener<B> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Opener")
            .field("segment_size", &self.key.segment_size())
            .field("segments_opened", &self.index)
            .field("poisoned", &self.poisoned)
            .finish_non_exhaustive()
    }
}

/// Checks a whole file against the limits: at most [`MAX_SEGMENTS`] segments and at most
/// [`MAX_PLAINTEXT_LEN`] plaintext bytes, both inclusive.
fn within_limits(segments: u64, plaintext_len: u64) -> Result<(), EnvelopeError> {
    if segments > MAX_SEGMENTS || plaintext_len > MAX_PLAINTEXT_LEN {
        return Err(EnvelopeError::TooLong);
    }
    Ok(())
}

/// The number of segments of `len` plaintext bytes, checked against the limits.
fn segment_count(len: usize, size: usize) -> Result<usize, EnvelopeError> {
    let segments = len.div_ceil(size).max(1);
    within_limits(segments as u64, len as u64)?;
    Ok(segments)
}

/// Seals `plaintext` into a new envelope written to the start of `out`, which needs
/// [`super::envelope_len`] bytes, and returns the envelope's length (no allocator). Each
/// segment is sealed straight from `plaintext` into `out`: no copies.
///
/// # Errors
/// [`EnvelopeError::BufferTooSmall`], [`EnvelopeError::TooLong`], and as [`Sealer::new`].
pub fn seal_into<R: TryCryptoRng + ?Sized>(
    data_key: &DataKey,
    params: &SealParams<'_>,
    plaintext: &[u8],
    rng: &mut R,
    out: &mut [u8],
) -> Result<usize, EnvelopeError> {
    let size = super::segment_size(params.segment_size)?;
    let header_len = params.header_len(data_key.key_len())?;
    let segments = segment_count(plaintext.len(), size)?;
    let needed = super::envelope_len(header_len, params.segment_size, plaintext.len() as u64)
        .and_then(|n| usize::try_from(n).ok())
        .ok_or(EnvelopeError::TooLong)?;
    let out = out
        .get_mut(..needed)
        .ok_or(EnvelopeError::BufferTooSmall { needed })?;
    let (key, header_len) = write_header(data_key, params, rng, out)?;
    let mut at = header_len;
    for index in 0..segments {
        let start = index * size;
        let segment = &plaintext[start..(start + size).min(plaintext.len())];
        let (ciphertext, rest) = out[at..].split_at_mut(segment.len());
        let last = index + 1 == segments;
        let tag = key.seal(index as u64, last, Some(segment), ciphertext)?;
        rest[..SEGMENT_TAG_LEN].copy_from_slice(&tag);
        at += segment.len() + SEGMENT_TAG_LEN;
    }
    Ok(at)
}

/// The plaintext length of an envelope body of `body_len` bytes in segments of `size`;
/// [`EnvelopeError::Truncated`] when the last segment is too short to hold a tag.
fn plaintext_len(body_len: usize, size: usize) -> Result<usize, EnvelopeError> {
    let sealed = size + SEGMENT_TAG_LEN;
    let segments = body_len.div_ceil(sealed).max(1);
    let last = body_len.saturating_sub((segments - 1) * sealed);
    if last < SEGMENT_TAG_LEN {
        return Err(EnvelopeError::Truncated);
    }
    Ok(body_len - segments * SEGMENT_TAG_LEN)
}

/// Opens a whole envelope into the start of `out` and returns the plaintext's length (no
/// allocator). `unlock` gets the parsed header and returns its data key, usually by calling
/// Decrypt with the header's blob and context ([`super::Header::decrypt`] does that, with
/// `alloc`); it is the place to check the context is the one expected. Each segment is opened
/// straight from `envelope` into `out` once its tag verifies; if any segment fails, what was
/// written is zeroized: the plaintext is returned only if the whole envelope is authentic and
/// complete. `out` needs the envelope's length less the header and 16 bytes per segment
/// (the envelope's length is always enough).
///
/// The checks are those of a streaming opener (the crate documentation lists them in order),
/// except that the length of the last piece ([`EnvelopeError::Truncated`]) and the limits
/// ([`EnvelopeError::TooLong`]) are checked for the whole input before any segment is opened,
/// and then the length of `out`.
///
/// # Errors
/// What `unlock` returns; as [`super::Header::parse`] and [`super::Header::unlock`];
/// [`EnvelopeError::Truncated`], [`EnvelopeError::TooLong`],
/// [`EnvelopeError::BufferTooSmall`], [`EnvelopeError::EmptyFinalSegment`] and
/// [`EnvelopeError::SegmentAuthenticationFailed`].
pub fn open_into<F, E>(envelope: &[u8], unlock: F, out: &mut [u8]) -> Result<usize, E>
where
    F: FnOnce(&super::Header<'_>) -> Result<DataKey, E>,
    E: From<EnvelopeError>,
{
    let header = super::Header::parse(envelope)?;
    let key = {
        let data_key = unlock(&header)?;
        header.unlock(&data_key)?
    };
    let body = &envelope[header.encoded_len()..];
    let size = key.segment_size();
    let needed = plaintext_len(body.len(), size)?;
    let segments = body.len().div_ceil(size + SEGMENT_TAG_LEN);
    within_limits(segments as u64, needed as u64)?;
    let out = out
        .get_mut(..needed)
        .ok_or(EnvelopeError::BufferTooSmall { needed })?;
    let mut at = 0;
    let result = body
        .chunks(size + SEGMENT_TAG_LEN)
        .enumerate()
        .try_for_each(|(index, segment)| {
            let last = index + 1 == segments;
            let len = segment
                .len()
                .checked_sub(SEGMENT_TAG_LEN)
                .ok_or(EnvelopeError::Truncated)?;
            if last && len == 0 && index > 0 {
                // Segmentation is canonical: only an empty plaintext ends in an empty segment.
                return Err(EnvelopeError::EmptyFinalSegment {
                    index: index as u64,
                });
            }
            let (ciphertext, tag) = segment.split_at(len);
            let mut tag_bytes = [0u8; SEGMENT_TAG_LEN];
            tag_bytes.copy_from_slice(tag);
            let plaintext = out.get_mut(at..at + len).ok_or(EnvelopeError::Truncated)?;
            key.open(index as u64, last, Some(ciphertext), plaintext, &tag_bytes)?;
            at += len;
            Ok(())
        });
    if let Err(e) = result {
        out[..at].zeroize();
        return Err(e.into());
    }
    Ok(at)
}

/// Seals `plaintext` into a new envelope (with `alloc`): [`seal_into`] a vector of the right
/// length.
///
/// # Errors
/// As [`seal_into`].
#[cfg(feature = "alloc")]
pub fn seal<R: TryCryptoRng + ?Sized>(
    data_key: &DataKey,
    params: &SealParams<'_>,
    plaintext: &[u8],
    rng: &mut R,
) -> Result<alloc::vec::Vec<u8>, EnvelopeError> {
    super::segment_size(params.segment_size)?;
    let header_len = params.header_len(data_key.key_len())?;
    segment_count(plaintext.len(), params.segment_size as usize)?;
    let len = super::envelope_len(header_len, params.segment_size, plaintext.len() as u64)
        .and_then(|n| usize::try_from(n).ok())
        .ok_or(EnvelopeError::TooLong)?;
    let mut out = alloc::vec![0u8; len];
    let written = seal_into(data_key, params, plaintext, rng, &mut out)?;
    out.truncate(written);
    Ok(out)
}

/// Opens a whole envelope (with `alloc`): [`open_into`] a vector, returned only if the whole
/// envelope is authentic and complete.
///
/// # Errors
/// As [`open_into`].
#[cfg(feature = "alloc")]
pub fn open<F, E>(envelope: &[u8], unlock: F) -> Result<alloc::vec::Vec<u8>, E>
where
    F: FnOnce(&super::Header<'_>) -> Result<DataKey, E>,
    E: From<EnvelopeError>,
{
    // The plaintext is shorter than the envelope: this bounds the allocation by the input.
    let mut out = zeroize::Zeroizing::new(alloc::vec![0u8; envelope.len()]);
    let len = open_into(envelope, unlock, &mut out)?;
    out.truncate(len);
    Ok(core::mem::take(&mut *out))
}

#[cfg(test)]
mod tests {
    use super::{
        EnvelopeError, MAX_PLAINTEXT_LEN, MAX_SEGMENTS, Opener, SEGMENT_TAG_LEN, Sealer, count,
        segment_count, within_limits,
    };
    use crate::DataKey;
    use crate::keys::{FileKey, derive};

    extern crate std;
    use std::vec::Vec;

    #[test]
    fn limits_of_a_file() {
        let mut total = 0;
        assert_eq!(count(0, &mut total, 10), Ok(()));
        assert_eq!(total, 10);
        // The last segment index a file may use, and the one after it.
        assert_eq!(count(MAX_SEGMENTS - 1, &mut total, 10), Ok(()));
        assert_eq!(
            count(MAX_SEGMENTS, &mut total, 0),
            Err(EnvelopeError::TooLong)
        );
        assert_eq!(total, 20);
        // Up to 2^48 plaintext bytes, not one more.
        let mut total = MAX_PLAINTEXT_LEN - 5;
        assert_eq!(count(7, &mut total, 5), Ok(()));
        assert_eq!(total, MAX_PLAINTEXT_LEN);
        assert_eq!(count(8, &mut total, 1), Err(EnvelopeError::TooLong));
        assert_eq!(total, MAX_PLAINTEXT_LEN);
        let mut total = u64::MAX;
        assert_eq!(count(0, &mut total, 1), Err(EnvelopeError::TooLong));
    }

    #[test]
    fn whole_file_limits_are_inclusive() {
        assert_eq!(within_limits(MAX_SEGMENTS, MAX_PLAINTEXT_LEN), Ok(()));
        assert_eq!(
            within_limits(MAX_SEGMENTS + 1, 0),
            Err(EnvelopeError::TooLong)
        );
        assert_eq!(
            within_limits(1, MAX_PLAINTEXT_LEN + 1),
            Err(EnvelopeError::TooLong)
        );
    }

    /// `seal_into` and `seal` size a file with `segment_count` before touching any buffer, so
    /// its boundaries are checked here without 2^32-byte plaintexts.
    #[cfg(target_pointer_width = "64")]
    #[test]
    fn segment_count_at_the_limits() {
        const FOUR_GIB: usize = 1 << 32;
        // At S = 1 byte: 2^32 segments of one byte is the largest file.
        assert_eq!(segment_count(FOUR_GIB, 1), Ok(FOUR_GIB));
        assert_eq!(segment_count(FOUR_GIB + 1, 1), Err(EnvelopeError::TooLong));
        // At S = 64 KiB both limits meet at 2^48 bytes.
        assert_eq!(segment_count(1 << 48, 1 << 16), Ok(FOUR_GIB));
        assert_eq!(
            segment_count((1 << 48) + 1, 1 << 16),
            Err(EnvelopeError::TooLong)
        );
        // At S = 16 MiB only the byte limit binds.
        assert_eq!(segment_count(1 << 48, 1 << 24), Ok(1 << 24));
        assert_eq!(
            segment_count((1 << 48) + 1, 1 << 24),
            Err(EnvelopeError::TooLong)
        );
        assert_eq!(segment_count(0, 1), Ok(1));
    }

    fn file_key(segment_size: usize) -> FileKey {
        let data_key = DataKey::new(&[7; 32]).unwrap();
        derive(&data_key, &[9; 32], b"any header bytes", segment_size)
            .unwrap()
            .0
    }

    /// A sealer that has sealed `index` segments and `total` bytes already.
    fn sealer_at(index: u64, total: u64, buffer: &mut [u8]) -> Sealer<&mut [u8]> {
        Sealer {
            key: file_key(4),
            buffer,
            header_len: 0,
            filled: 0,
            index,
            total,
            poisoned: false,
        }
    }

    /// An opener that has opened `index` segments and `total` bytes already.
    fn opener_at(index: u64, total: u64, buffer: &mut [u8]) -> Opener<&mut [u8]> {
        Opener {
            key: file_key(4),
            buffer,
            filled: 0,
            index,
            total,
            poisoned: false,
        }
    }

    /// Segment `index` of `plaintext`, sealed under [`file_key`].
    fn segment(index: u64, last: bool, plaintext: &[u8]) -> Vec<u8> {
        let mut out = plaintext.to_vec();
        let tag = file_key(4).seal(index, last, None, &mut out).unwrap();
        out.extend_from_slice(&tag);
        out
    }

    fn seal_pushed(
        mut sealer: Sealer<&mut [u8]>,
        input: &[u8],
    ) -> (Vec<u8>, Result<(), EnvelopeError>) {
        let mut out = Vec::new();
        let mut emit = |b: &[u8]| {
            out.extend_from_slice(b);
            Ok::<(), EnvelopeError>(())
        };
        let result = sealer
            .push(input, &mut emit)
            .and_then(|()| sealer.finish(&mut emit));
        (out, result)
    }

    fn open_pushed(
        mut opener: Opener<&mut [u8]>,
        input: &[u8],
    ) -> (Vec<u8>, Result<(), EnvelopeError>) {
        let mut out = Vec::new();
        let mut emit = |b: &[u8]| {
            out.extend_from_slice(b);
            Ok::<(), EnvelopeError>(())
        };
        let result = opener
            .push(input, &mut emit)
            .and_then(|()| opener.finish(&mut emit));
        (out, result)
    }

    #[test]
    fn the_last_segment_index_a_file_may_use_seals_and_opens() {
        // The 2^32nd segment (index 2^32 - 1) as the final one: within the limit.
        let mut buffer = [0u8; 20];
        let (sealed, result) = seal_pushed(sealer_at(MAX_SEGMENTS - 1, 0, &mut buffer), b"abc");
        assert_eq!(result, Ok(()));
        assert_eq!(sealed, segment(MAX_SEGMENTS - 1, true, b"abc"));
        let mut buffer = [0u8; 20];
        let (opened, result) = open_pushed(opener_at(MAX_SEGMENTS - 1, 0, &mut buffer), &sealed);
        assert_eq!((opened.as_slice(), result), (&b"abc"[..], Ok(())));
    }

    #[test]
    fn a_segment_past_the_last_index_is_refused() {
        // Five bytes in 4-byte segments from index 2^32 - 1: the full segment goes out as the
        // 2^32nd, and the final one would be the 2^32 + 1st.
        let mut buffer = [0u8; 20];
        let (sealed, result) = seal_pushed(sealer_at(MAX_SEGMENTS - 1, 0, &mut buffer), b"abcde");
        assert_eq!(result, Err(EnvelopeError::TooLong));
        assert_eq!(sealed, segment(MAX_SEGMENTS - 1, false, b"abcd"));

        // An opener refuses the same segment before looking at its tag.
        let mut input = segment(MAX_SEGMENTS - 1, false, b"abcd");
        input.extend_from_slice(&segment(MAX_SEGMENTS, true, b"e"));
        let mut buffer = [0u8; 20];
        let (opened, result) = open_pushed(opener_at(MAX_SEGMENTS - 1, 0, &mut buffer), &input);
        assert_eq!(result, Err(EnvelopeError::TooLong));
        assert_eq!(opened, b"abcd");
    }

    #[test]
    fn exactly_the_byte_limit_seals_and_opens_and_one_more_byte_does_not() {
        let mut buffer = [0u8; 20];
        let (sealed, result) =
            seal_pushed(sealer_at(9, MAX_PLAINTEXT_LEN - 3, &mut buffer), b"xyz");
        assert_eq!(result, Ok(()));
        assert_eq!(sealed, segment(9, true, b"xyz"));
        let mut buffer = [0u8; 20];
        let opener = opener_at(9, MAX_PLAINTEXT_LEN - 3, &mut buffer);
        let (opened, result) = open_pushed(opener, &sealed);
        assert_eq!((opened.as_slice(), result), (&b"xyz"[..], Ok(())));

        let mut buffer = [0u8; 20];
        let (sealed, result) =
            seal_pushed(sealer_at(9, MAX_PLAINTEXT_LEN - 2, &mut buffer), b"xyz");
        assert_eq!((sealed.len(), result), (0, Err(EnvelopeError::TooLong)));
        let mut buffer = [0u8; 20];
        let opener = opener_at(9, MAX_PLAINTEXT_LEN - 2, &mut buffer);
        let (opened, result) = open_pushed(opener, &segment(9, true, b"xyz"));
        assert_eq!((opened.len(), result), (0, Err(EnvelopeError::TooLong)));
    }

    #[test]
    fn an_empty_final_segment_is_refused_before_its_tag() {
        // A full segment, then a final segment of a tag alone: refused as not canonical, even
        // with a tag that verifies.
        let mut input = segment(0, false, b"abcd");
        input.extend_from_slice(&segment(1, true, b""));
        assert_eq!(input.len(), 4 + 2 * SEGMENT_TAG_LEN);
        let mut buffer = [0u8; 20];
        let (opened, result) = open_pushed(opener_at(0, 0, &mut buffer), &input);
        assert_eq!(result, Err(EnvelopeError::EmptyFinalSegment { index: 1 }));
        assert_eq!(opened, b"abcd");
        // The only empty final segment there is: the whole plaintext empty.
        let mut buffer = [0u8; 20];
        let (opened, result) = open_pushed(opener_at(0, 0, &mut buffer), &segment(0, true, b""));
        assert_eq!((opened.len(), result), (0, Ok(())));
    }
}
