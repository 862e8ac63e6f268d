//! The encryption context (spec §4): strict parsing of its JSON text, equivalence, and the
//! canonical, injective encoding that is bound as AES-GCM associated data. This module is the
//! one owner of that encoding and of the associated data built from it.
//!
//! The canonical encoding of a context is
//!
//! ```text
//! u16be(pair_count) || for each pair, sorted by the UTF-8 bytes of the key, ascending:
//!                        u16be(len(key)) || key || u16be(len(value)) || value
//! ```
//!
//! and the associated data of a seal is the sealing key version's 36-byte ID followed by it
//! ([`write_aad`]). Two texts are the same context exactly when their canonical encodings are
//! equal. Keys sort by their UTF-8 bytes, not by UTF-16 code units (which would put
//! U+E000..U+FFFF after astral characters).
//!
//! A [`Context`] is a validated canonical encoding, borrowed; [`ContextBuf`] owns one (with
//! `alloc`). Both come from JSON text ([`Context::parse_json`]), from pairs
//! ([`Context::encode_pairs`], [`ContextBuf::from_pairs`]: a Rust caller never writes JSON), or
//! from canonical bytes that are checked ([`Context::from_canonical`]); [`Context::write_json`]
//! writes the shortest JSON text of one, for a peer that takes JSON.

use core::fmt;

use crate::KeyVersionId;

/// The most characters (Unicode scalar values) of JSON text a context may have.
pub const MAX_CONTEXT_CHARS: usize = 8192;

/// The canonical encoding of the empty context: zero pairs.
pub const EMPTY_CANONICAL: [u8; 2] = [0, 0];

/// The text is not a valid encryption context. Operations report it as
/// `InvalidParameter EncryptionContext` (or the ReEncrypt parameter that carried it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct InvalidContext;

impl fmt::Display for InvalidContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid encryption context")
    }
}

impl core::error::Error for InvalidContext {}

/// Where unescaped string bytes go: nowhere (a measuring pass) or into a buffer.
struct Sink<'o> {
    out: Option<&'o mut [u8]>,
    pos: usize,
}

impl Sink<'_> {
    fn push(&mut self, bytes: &[u8]) -> Result<(), InvalidContext> {
        if let Some(out) = self.out.as_deref_mut() {
            out.get_mut(self.pos..self.pos + bytes.len())
                .ok_or(InvalidContext)?
                .copy_from_slice(bytes);
        }
        self.pos += bytes.len();
        Ok(())
    }

    /// Reserves a u16 length prefix and returns where it is.
    fn reserve_len(&mut self) -> Result<usize, InvalidContext> {
        let at = self.pos;
        self.push(&[0, 0])?;
        Ok(at)
    }

    fn fill_len(&mut self, at: usize) -> Result<(), InvalidContext> {
        let len = u16::try_from(self.pos - at - 2).map_err(|_| InvalidContext)?;
        if let Some(out) = self.out.as_deref_mut() {
            out[at..at + 2].copy_from_slice(&len.to_be_bytes());
        }
        Ok(())
    }
}

struct Parser<'t> {
    s: &'t [u8],
    i: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    fn expect(&mut self, c: u8) -> Result<(), InvalidContext> {
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(InvalidContext)
        }
    }

    fn hex4(&mut self) -> Result<u32, InvalidContext> {
        let digits = self.s.get(self.i..self.i + 4).ok_or(InvalidContext)?;
        let mut v = 0u32;
        for &d in digits {
            v = v * 16 + char::from(d).to_digit(16).ok_or(InvalidContext)?;
        }
        self.i += 4;
        Ok(v)
    }

    /// Reads one JSON string at the cursor, writing its unescaped UTF-8 bytes to `sink`.
    fn string(&mut self, sink: &mut Sink<'_>) -> Result<(), InvalidContext> {
        self.expect(b'"')?;
        loop {
            let start = self.i;
            let rest = self.s.get(start..).unwrap_or_default();
            self.i += rest
                .iter()
                .position(|&c| c == b'"' || c == b'\\' || c < 0x20)
                .unwrap_or(rest.len());
            sink.push(&self.s[start..self.i])?;
            match self.peek() {
                Some(b'"') => {
                    self.i += 1;
                    return Ok(());
                }
                Some(b'\\') => {
                    self.i += 1;
                    let e = self.peek().ok_or(InvalidContext)?;
                    self.i += 1;
                    let c = match e {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => self.unicode_escape()?,
                        _ => return Err(InvalidContext),
                    };
                    sink.push(c.encode_utf8(&mut [0u8; 4]).as_bytes())?;
                }
                // A control character or the end of the text.
                _ => return Err(InvalidContext),
            }
        }
    }

    /// After `\u`: one code point, or a surrogate pair written as two escapes. A lone
    /// surrogate cannot be UTF-8, so it is invalid.
    fn unicode_escape(&mut self) -> Result<char, InvalidContext> {
        let first = self.hex4()?;
        let cp = match first {
            0xD800..=0xDBFF => {
                if self.s.get(self.i..self.i + 2) != Some(b"\\u") {
                    return Err(InvalidContext);
                }
                self.i += 2;
                let low = self.hex4()?;
                if !(0xDC00..=0xDFFF).contains(&low) {
                    return Err(InvalidContext);
                }
                0x10000 + ((first - 0xD800) << 10) + (low - 0xDC00)
            }
            0xDC00..=0xDFFF => return Err(InvalidContext),
            cp => cp,
        };
        char::from_u32(cp).ok_or(InvalidContext)
    }

    /// One `"key" : "value"` pair at the cursor, written to `sink` as two length-prefixed
    /// strings.
    fn pair(&mut self, sink: &mut Sink<'_>) -> Result<(), InvalidContext> {
        let key_at = sink.reserve_len()?;
        self.string(sink)?;
        if sink.pos == key_at + 2 {
            return Err(InvalidContext); // empty key [decided]
        }
        sink.fill_len(key_at)?;
        self.skip_ws();
        self.expect(b':')?;
        self.skip_ws();
        let value_at = sink.reserve_len()?;
        self.string(sink)?;
        sink.fill_len(value_at)
    }

    /// The whole text: one object of string values. Writes `u16be(count)` and the pairs, in
    /// text order, to `sink`, noting in `index` where each pair starts in the output and in the
    /// text; returns the pair count.
    fn object(
        &mut self,
        sink: &mut Sink<'_>,
        mut index: Option<&mut PairIndex>,
    ) -> Result<u16, InvalidContext> {
        let count_at = sink.reserve_len()?;
        let mut count: u16 = 0;
        self.skip_ws();
        self.expect(b'{')?;
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.i += 1;
        } else {
            loop {
                if let Some(index) = index.as_deref_mut() {
                    index.push(sink.pos, self.i);
                }
                self.pair(sink)?;
                count = count.checked_add(1).ok_or(InvalidContext)?;
                self.skip_ws();
                match self.peek() {
                    Some(b',') => {
                        self.i += 1;
                        self.skip_ws();
                    }
                    Some(b'}') => {
                        self.i += 1;
                        break;
                    }
                    _ => return Err(InvalidContext),
                }
            }
        }
        self.skip_ws();
        if self.i != self.s.len() {
            return Err(InvalidContext);
        }
        if let Some(out) = sink.out.as_deref_mut() {
            out[count_at..count_at + 2].copy_from_slice(&count.to_be_bytes());
        }
        Ok(count)
    }
}

/// How many pairs the sort indexes on the stack; larger contexts use the heap (with `alloc`) or
/// an in-place insertion sort (without).
const STACK_PAIRS: usize = 64;

/// Where each pair starts: in the output (for comparing keys) and in the text (for writing the
/// pair again, in order).
struct PairIndex {
    stack: [(u32, u32); STACK_PAIRS],
    len: usize,
    #[cfg(feature = "alloc")]
    heap: alloc::vec::Vec<(u32, u32)>,
    overflowed: bool,
}

impl PairIndex {
    fn new() -> Self {
        Self {
            stack: [(0, 0); STACK_PAIRS],
            len: 0,
            #[cfg(feature = "alloc")]
            heap: alloc::vec::Vec::new(),
            overflowed: false,
        }
    }

    fn push(&mut self, out_at: usize, text_at: usize) {
        // Contexts are at most 8192 characters (32 KiB of text), so offsets fit in u32.
        let entry = (out_at as u32, text_at as u32);
        if self.len < STACK_PAIRS {
            self.stack[self.len] = entry;
            self.len += 1;
            return;
        }
        #[cfg(feature = "alloc")]
        {
            if self.heap.is_empty() {
                self.heap.extend_from_slice(&self.stack);
            }
            self.heap.push(entry);
        }
        #[cfg(not(feature = "alloc"))]
        {
            self.overflowed = true;
        }
    }

    fn entries(&mut self) -> Option<&mut [(u32, u32)]> {
        if self.overflowed {
            return None;
        }
        #[cfg(feature = "alloc")]
        if !self.heap.is_empty() {
            return Some(&mut self.heap);
        }
        Some(&mut self.stack[..self.len])
    }
}

/// Checks the length limit, and that the text is the empty context (absent, `""`).
fn precheck(text: &str) -> Result<bool, InvalidContext> {
    // Characters are counted as Unicode scalar values: every byte that does not continue one.
    let chars = text.bytes().filter(|b| (b & 0xC0) != 0x80).count();
    if chars > MAX_CONTEXT_CHARS {
        return Err(InvalidContext);
    }
    Ok(text.is_empty())
}

/// Writes the canonical encoding of `text` (`None`: absent) to the start of `out` and returns
/// its length, never more than [`canonical_len_bound`]. Fails on every invalid text, duplicate
/// keys (compared after unescaping) included.
///
/// # Errors
/// [`InvalidContext`] when the text is invalid or `out` is too short.
fn write_canonical(text: Option<&str>, out: &mut [u8]) -> Result<usize, InvalidContext> {
    let text = text.unwrap_or("");
    if precheck(text)? {
        out.get_mut(..2)
            .ok_or(InvalidContext)?
            .copy_from_slice(&EMPTY_CANONICAL);
        return Ok(EMPTY_CANONICAL.len());
    }
    let bytes = text.as_bytes();
    let mut index = PairIndex::new();
    let mut sink = Sink {
        out: Some(&mut *out),
        pos: 0,
    };
    Parser { s: bytes, i: 0 }.object(&mut sink, Some(&mut index))?;
    let len = sink.pos;
    let Some(entries) = index.entries() else {
        // Many pairs and no allocator: sort the written records in place.
        sort_pairs(&mut out[2..len])?;
        return Ok(len);
    };
    // Sort by the unescaped keys just written, reject equal neighbours, then write the pairs
    // again from the text in that order, over the unsorted ones.
    let key = |entry: &(u32, u32)| field(out, entry.0 as usize);
    if entries.windows(2).all(|w| key(&w[0]) < key(&w[1])) {
        // Already in order, as many serialisers write maps: the pairs written are final.
        return Ok(len);
    }
    entries.sort_unstable_by(|a, b| key(a).cmp(key(b)));
    if entries.windows(2).any(|w| key(&w[0]) == key(&w[1])) {
        return Err(InvalidContext);
    }
    let mut sink = Sink {
        out: Some(&mut *out),
        pos: 2,
    };
    for &(_, text_at) in entries.iter() {
        let mut parser = Parser {
            s: bytes,
            i: text_at as usize,
        };
        parser.pair(&mut sink)?;
    }
    debug_assert_eq!(sink.pos, len);
    Ok(len)
}

fn field(buf: &[u8], at: usize) -> &[u8] {
    let len = usize::from(u16::from_be_bytes([buf[at], buf[at + 1]]));
    &buf[at + 2..at + 2 + len]
}

fn record_len(buf: &[u8], at: usize) -> usize {
    let key = field(buf, at).len();
    let value = field(buf, at + 2 + key).len();
    4 + key + value
}

/// Sorts the length-prefixed pairs in `records` by key bytes, in place (an insertion sort that
/// rotates each record into place; a record greater than the last sorted one stays where it is,
/// so pairs already in order cost one comparison each), and rejects two equal keys.
fn sort_pairs(records: &mut [u8]) -> Result<(), InvalidContext> {
    let mut sorted_end = 0;
    let mut last_at = None;
    while sorted_end < records.len() {
        let len = record_len(records, sorted_end);
        let (sorted, rest) = records.split_at(sorted_end);
        let key = field(rest, 0);
        let after_last = last_at.is_none_or(|at| key > field(sorted, at));
        if !after_last {
            let mut at = 0;
            while at < sorted_end {
                match key.cmp(field(sorted, at)) {
                    core::cmp::Ordering::Less => break,
                    core::cmp::Ordering::Equal => return Err(InvalidContext),
                    core::cmp::Ordering::Greater => at += record_len(sorted, at),
                }
            }
            records[at..sorted_end + len].rotate_right(len);
            // The last record moved up by `len` if it was at or after the insertion point.
            last_at = last_at.map(|last| if last >= at { last + len } else { last });
        } else {
            last_at = Some(sorted_end);
        }
        sorted_end += len;
    }
    Ok(())
}

/// The pairs of a canonical encoding, in order: `(key, value)` as UTF-8 bytes. Anything shorter
/// than it claims ends the iteration early.
fn pairs_of(canonical: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    let mut at = 2;
    core::iter::from_fn(move || {
        let key_len = usize::from(u16::from_be_bytes(
            canonical.get(at..at + 2)?.try_into().ok()?,
        ));
        let key = canonical.get(at + 2..at + 2 + key_len)?;
        let v_at = at + 2 + key_len;
        let value_len = usize::from(u16::from_be_bytes(
            canonical.get(v_at..v_at + 2)?.try_into().ok()?,
        ));
        let value = canonical.get(v_at + 2..v_at + 2 + value_len)?;
        at = v_at + 2 + value_len;
        Some((key, value))
    })
}

/// An upper bound on the length of the canonical encoding of JSON text, without parsing it:
/// canonical encodings are never longer than their JSON text (every pair's quotes and colon
/// outweigh its length prefixes, and escapes only shrink), and the empty context takes two
/// bytes.
#[inline]
pub const fn canonical_len_bound(text: Option<&str>) -> usize {
    let len = match text {
        Some(t) => t.len(),
        None => 0,
    };
    if len > EMPTY_CANONICAL.len() {
        len
    } else {
        EMPTY_CANONICAL.len()
    }
}

/// A valid encryption context in its canonical encoding, borrowed: what the typed operations
/// take. Equality is equivalence of contexts.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Context<'a> {
    canonical: &'a [u8],
}

impl Default for Context<'_> {
    fn default() -> Self {
        Self::EMPTY
    }
}

impl<'a> Context<'a> {
    /// The empty context (absent, `""` or `{}` on the wire).
    pub const EMPTY: Context<'static> = Context {
        canonical: &EMPTY_CANONICAL,
    };

    /// Parses the JSON text of a context (`None`: absent) into its canonical encoding in `buf`,
    /// which needs [`canonical_len_bound`] bytes.
    ///
    /// # Errors
    /// [`InvalidContext`] on anything spec §4 rejects, or when `buf` is too short.
    #[inline]
    pub fn parse_json(text: Option<&str>, buf: &'a mut [u8]) -> Result<Self, InvalidContext> {
        if text.is_none() {
            // Absent: nothing to parse or write.
            return Ok(Context::EMPTY);
        }
        let len = write_canonical(text, buf)?;
        Ok(Self {
            canonical: &buf[..len],
        })
    }

    /// Encodes `pairs` (in any order) into `buf`, which needs `2 + Σ (4 + key + value)` bytes.
    /// Sorts them in place, without an allocator.
    ///
    /// # Errors
    /// [`InvalidContext`] for an empty or repeated key, a context of more than 8192 characters
    /// as JSON, or a `buf` too short.
    pub fn encode_pairs(pairs: &[(&str, &str)], buf: &'a mut [u8]) -> Result<Self, InvalidContext> {
        let count = u16::try_from(pairs.len()).map_err(|_| InvalidContext)?;
        let mut sink = Sink {
            out: Some(&mut *buf),
            pos: 0,
        };
        sink.push(&count.to_be_bytes())?;
        for (key, value) in pairs {
            for text in [key, value] {
                let at = sink.reserve_len()?;
                sink.push(text.as_bytes())?;
                sink.fill_len(at)?;
            }
        }
        let len = sink.pos;
        sort_pairs(&mut buf[2..len])?;
        Self::from_canonical(&buf[..len])
    }

    /// Checks that `canonical` is the canonical encoding of a valid context: the pair count,
    /// pairs sorted by key bytes with no two equal, non-empty UTF-8 keys, UTF-8 values, nothing
    /// after the last pair, and at most 8192 characters as the JSON text
    /// [`write_json`](Self::write_json) writes for it.
    ///
    /// # Errors
    /// [`InvalidContext`].
    pub fn from_canonical(canonical: &'a [u8]) -> Result<Self, InvalidContext> {
        let count = canonical.get(..2).ok_or(InvalidContext)?;
        let count = usize::from(u16::from_be_bytes([count[0], count[1]]));
        let mut at = 2;
        let mut seen = 0usize;
        let mut previous: Option<&[u8]> = None;
        while at < canonical.len() {
            let (key, next) = checked_field(canonical, at).ok_or(InvalidContext)?;
            let (value, next) = checked_field(canonical, next).ok_or(InvalidContext)?;
            if key.is_empty()
                || core::str::from_utf8(key).is_err()
                || core::str::from_utf8(value).is_err()
                || previous.is_some_and(|p| p >= key)
            {
                return Err(InvalidContext);
            }
            previous = Some(key);
            seen += 1;
            at = next;
        }
        let context = Self { canonical };
        if seen != count || context.json_chars() > MAX_CONTEXT_CHARS {
            return Err(InvalidContext);
        }
        Ok(context)
    }

    /// The canonical encoding (without the key version ID that precedes it in the associated
    /// data).
    pub fn canonical(&self) -> &'a [u8] {
        self.canonical
    }

    /// The number of pairs.
    pub fn len(&self) -> usize {
        usize::from(u16::from_be_bytes([self.canonical[0], self.canonical[1]]))
    }

    /// Whether the context has no pairs.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The pairs, sorted by the UTF-8 bytes of their keys.
    pub fn pairs(&self) -> impl Iterator<Item = (&'a str, &'a str)> + use<'a> {
        pairs_of(self.canonical).map(|(k, v)| {
            // Every constructor checked that keys and values are UTF-8.
            (
                core::str::from_utf8(k).unwrap_or_default(),
                core::str::from_utf8(v).unwrap_or_default(),
            )
        })
    }

    /// The length of the JSON text [`write_json`](Self::write_json) writes.
    pub fn json_len(&self) -> usize {
        let mut out = JsonOut { out: None, len: 0 };
        match self.json(&mut out) {
            Ok(()) => out.len,
            Err(_) => usize::MAX,
        }
    }

    /// Writes the shortest JSON text of the context to the start of `out` (which needs
    /// [`json_len`](Self::json_len) bytes): pairs sorted by key, no white space, only the
    /// escapes JSON requires, `{}` for the empty context. Parsing it gives this context back.
    ///
    /// # Errors
    /// [`InvalidContext`] when `out` is too short.
    pub fn write_json<'o>(&self, out: &'o mut [u8]) -> Result<&'o str, InvalidContext> {
        let mut sink = JsonOut {
            out: Some(&mut *out),
            len: 0,
        };
        self.json(&mut sink)?;
        let len = sink.len;
        core::str::from_utf8(&out[..len]).map_err(|_| InvalidContext)
    }

    /// The context as JSON text, as [`write_json`](Self::write_json) writes it (with `alloc`).
    #[cfg(feature = "alloc")]
    pub fn to_json(&self) -> alloc::string::String {
        let mut out = alloc::vec![0u8; self.json_len()];
        let len = self.write_json(&mut out).map_or(0, str::len);
        out.truncate(len);
        alloc::string::String::from_utf8(out).unwrap_or_default()
    }

    /// An owned copy (with `alloc`).
    #[cfg(feature = "alloc")]
    pub fn to_owned(&self) -> ContextBuf {
        ContextBuf {
            canonical: self.canonical.to_vec(),
        }
    }

    fn json(&self, out: &mut JsonOut<'_>) -> Result<(), InvalidContext> {
        out.push(b"{")?;
        for (i, (key, value)) in pairs_of(self.canonical).enumerate() {
            if i > 0 {
                out.push(b",")?;
            }
            out.string(key)?;
            out.push(b":")?;
            out.string(value)?;
        }
        out.push(b"}")
    }

    /// The JSON text's length in characters: escapes are ASCII, so only the UTF-8 continuation
    /// bytes of keys and values are not characters of their own.
    fn json_chars(&self) -> usize {
        let continuation = pairs_of(self.canonical)
            .flat_map(|(k, v)| k.iter().chain(v))
            .filter(|&&b| b & 0xC0 == 0x80)
            .count();
        self.json_len().saturating_sub(continuation)
    }
}

impl fmt::Debug for Context<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.pairs()).finish()
    }
}

/// The length of the associated data of a seal under `context`: the key version ID and the
/// canonical encoding.
#[inline]
pub fn aad_len(context: &Context<'_>) -> usize {
    crate::blob::VERSION_ID_LEN + context.canonical.len()
}

/// Writes the associated data of spec §4, `key_version_id || canonical context`, to the start of
/// `out` (which needs [`aad_len`] bytes) and returns it.
///
/// # Errors
/// [`InvalidContext`] when `out` is too short.
#[inline]
pub fn write_aad<'o>(
    version: &KeyVersionId,
    context: &Context<'_>,
    out: &'o mut [u8],
) -> Result<&'o [u8], InvalidContext> {
    let out = out.get_mut(..aad_len(context)).ok_or(InvalidContext)?;
    let (prefix, rest) = out.split_at_mut(crate::blob::VERSION_ID_LEN);
    prefix.copy_from_slice(version.as_bytes());
    rest.copy_from_slice(context.canonical);
    Ok(out)
}

/// The length-prefixed field at `at` and where the next one starts; `None` past the end.
fn checked_field(buf: &[u8], at: usize) -> Option<(&[u8], usize)> {
    let len = buf.get(at..at + 2)?;
    let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
    let start = at + 2;
    Some((buf.get(start..start + len)?, start + len))
}

/// Where JSON text goes: nowhere (measuring) or into a buffer.
struct JsonOut<'o> {
    out: Option<&'o mut [u8]>,
    len: usize,
}

impl JsonOut<'_> {
    fn push(&mut self, bytes: &[u8]) -> Result<(), InvalidContext> {
        if let Some(out) = self.out.as_deref_mut() {
            out.get_mut(self.len..self.len + bytes.len())
                .ok_or(InvalidContext)?
                .copy_from_slice(bytes);
        }
        self.len += bytes.len();
        Ok(())
    }

    /// A JSON string: `"` and `\` escaped, control characters as `\b \f \n \r \t` or `\u00XX`.
    fn string(&mut self, s: &[u8]) -> Result<(), InvalidContext> {
        self.push(b"\"")?;
        let mut run = 0;
        for (i, &b) in s.iter().enumerate() {
            let short: &[u8] = match b {
                b'"' => b"\\\"",
                b'\\' => b"\\\\",
                b'\n' => b"\\n",
                b'\r' => b"\\r",
                b'\t' => b"\\t",
                0x08 => b"\\b",
                0x0c => b"\\f",
                0..=0x1f => b"",
                _ => continue,
            };
            self.push(&s[run..i])?;
            run = i + 1;
            if short.is_empty() {
                let mut escape = *b"\\u0000";
                // Cannot fail: two hex digits for one byte.
                let _ = base16ct::lower::encode(&[b], &mut escape[4..]);
                self.push(&escape)?;
            } else {
                self.push(short)?;
            }
        }
        self.push(&s[run..])?;
        self.push(b"\"")
    }
}

/// A valid encryption context in its canonical encoding, owned (with `alloc`). Equality is
/// equivalence of contexts: `{"a":"1","b":"2"}` equals `{ "b" : "2", "a":"\u0031" }`.
#[cfg(feature = "alloc")]
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ContextBuf {
    canonical: alloc::vec::Vec<u8>,
}

#[cfg(feature = "alloc")]
impl Default for ContextBuf {
    fn default() -> Self {
        Self::empty()
    }
}

#[cfg(feature = "alloc")]
impl ContextBuf {
    /// The empty context.
    pub fn empty() -> Self {
        Self {
            canonical: EMPTY_CANONICAL.to_vec(),
        }
    }

    /// Parses the JSON text of a context; `None` is the absent (empty) context.
    ///
    /// # Errors
    /// [`InvalidContext`] on anything spec §4 rejects.
    pub fn parse_json(text: Option<&str>) -> Result<Self, InvalidContext> {
        let mut canonical = alloc::vec![0u8; canonical_len_bound(text)];
        let len = Context::parse_json(text, &mut canonical)?.canonical.len();
        canonical.truncate(len);
        Ok(Self { canonical })
    }

    /// A context of `pairs`, in any order.
    ///
    /// # Errors
    /// [`InvalidContext`] for an empty or repeated key, or a context of more than 8192
    /// characters as JSON.
    pub fn from_pairs<'p, I>(pairs: I) -> Result<Self, InvalidContext>
    where
        I: IntoIterator<Item = (&'p str, &'p str)>,
    {
        let mut pairs: alloc::vec::Vec<(&str, &str)> = pairs.into_iter().collect();
        pairs.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        let len = 2 + pairs
            .iter()
            .map(|(k, v)| 4 + k.len() + v.len())
            .sum::<usize>();
        let mut canonical = alloc::vec![0u8; len];
        Context::encode_pairs(&pairs, &mut canonical)?;
        Ok(Self { canonical })
    }

    /// The borrowed view, as the typed operations take it.
    pub fn as_context(&self) -> Context<'_> {
        // Every constructor validated the encoding.
        Context {
            canonical: &self.canonical,
        }
    }

    /// The canonical encoding.
    pub fn canonical(&self) -> &[u8] {
        &self.canonical
    }

    /// The pairs, sorted by the UTF-8 bytes of their keys.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.as_context().pairs()
    }

    /// The shortest JSON text of the context.
    pub fn to_json(&self) -> alloc::string::String {
        self.as_context().to_json()
    }
}

#[cfg(feature = "alloc")]
impl fmt::Debug for ContextBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.as_context().fmt(f)
    }
}

#[cfg(feature = "alloc")]
impl<'a> From<&'a ContextBuf> for Context<'a> {
    fn from(context: &'a ContextBuf) -> Self {
        context.as_context()
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::format;
    use std::string::String;
    use std::vec;
    use std::vec::Vec;

    /// A context of `n` pairs whose keys arrive out of order (a fixed permutation), some
    /// escaped; and, when `dup`, with the first key repeated (escaped) as the last.
    fn context(n: usize, dup: bool) -> String {
        let mut pairs: Vec<String> = (0..n)
            .map(|i| (i * 37) % n)
            .map(|k| {
                let key = if k % 3 == 0 {
                    format!("k\\u00{:02x}{k:03}", 0x41 + (k % 26))
                } else {
                    format!("k{}{k:03}", char::from(b'A' + (k % 26) as u8))
                };
                format!("\"{key}\":\"v{k}\"")
            })
            .collect();
        if dup {
            pairs.push(String::from("\"k\\u0041000\":\"again\""));
        }
        format!("{{{}}}", pairs.join(","))
    }

    /// The canonical bytes through the in-place insertion sort, the path without an allocator.
    fn insertion_sorted(text: &str) -> Result<Vec<u8>, InvalidContext> {
        let mut out = vec![0u8; canonical_len_bound(Some(text))];
        let mut sink = Sink {
            out: Some(&mut out),
            pos: 0,
        };
        Parser {
            s: text.as_bytes(),
            i: 0,
        }
        .object(&mut sink, None)?;
        let len = sink.pos;
        out.truncate(len);
        sort_pairs(&mut out[2..])?;
        Ok(out)
    }

    #[test]
    fn both_sorts_agree_below_and_above_the_stack_index() {
        for n in [1, 2, 10, STACK_PAIRS - 1, STACK_PAIRS, STACK_PAIRS + 1, 300] {
            let text = context(n, false);
            let fast = ContextBuf::parse_json(Some(&text)).unwrap();
            assert_eq!(
                fast.canonical(),
                insertion_sorted(&text).unwrap().as_slice(),
                "{n} pairs"
            );
            let keys: Vec<&str> = fast.pairs().map(|(k, _)| k).collect();
            assert!(
                keys.windows(2).all(|w| w[0] < w[1]),
                "{n} pairs: not sorted"
            );
            assert_eq!(keys.len(), n);
        }
    }

    #[test]
    fn both_sorts_refuse_a_key_repeated_after_unescaping() {
        for n in [1, 10, STACK_PAIRS, 300] {
            let text = context(n, true);
            assert_eq!(ContextBuf::parse_json(Some(&text)), Err(InvalidContext));
            assert_eq!(insertion_sorted(&text), Err(InvalidContext), "{n} pairs");
        }
    }
}
