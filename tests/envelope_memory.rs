//! Envelope encryption in bounded memory: the push API allocates nothing, and the `std::io`
//! adapters hold a few segments whatever the size of the data.
//!
//! One test, so that no other test's allocations run in parallel with the measurements.
#![cfg(all(feature = "envelope", feature = "std"))]

mod envelope_support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{self, Read};
use std::sync::atomic::{AtomicUsize, Ordering};

use envelope_support::*;
use kms_core::envelope::{
    DEFAULT_SEGMENT_SIZE, DecryptReader, EncryptWriter, EnvelopeError, Header, Opener, Sealer,
};

/// Counts allocations and tracks the peak of live bytes.
struct PeakAlloc;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
static CALLS: AtomicUsize = AtomicUsize::new(0);

fn grew(n: usize) {
    let live = LIVE.fetch_add(n, Ordering::SeqCst) + n;
    PEAK.fetch_max(live, Ordering::SeqCst);
    CALLS.fetch_add(1, Ordering::SeqCst);
}

unsafe impl GlobalAlloc for PeakAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        grew(layout.size());
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        grew(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_sub(layout.size(), Ordering::SeqCst);
        grew(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::SeqCst);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: PeakAlloc = PeakAlloc;

/// Runs `f` and returns its result, the most bytes it held live at once beyond what was live
/// before, and how many allocations it made.
fn measure<T>(f: impl FnOnce() -> T) -> (T, usize, usize) {
    let base = LIVE.load(Ordering::SeqCst);
    PEAK.store(base, Ordering::SeqCst);
    let calls = CALLS.load(Ordering::SeqCst);
    let out = f();
    let peak = PEAK.load(Ordering::SeqCst) - base;
    (out, peak, CALLS.load(Ordering::SeqCst) - calls)
}

/// Plaintext made on the fly: `len` bytes of a counter pattern, never all in memory.
struct Pattern {
    left: usize,
    next: u8,
}

impl Read for Pattern {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf.len().min(self.left);
        for b in &mut buf[..n] {
            *b = self.next;
            self.next = self.next.wrapping_add(1);
        }
        self.left -= n;
        Ok(n)
    }
}

/// Checks each byte read against the pattern, keeping nothing.
struct PatternCheck {
    next: u8,
    seen: usize,
}

impl io::Write for PatternCheck {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        for &b in buf {
            assert_eq!(b, self.next, "byte {} differs", self.seen);
            self.next = self.next.wrapping_add(1);
            self.seen += 1;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn memory_is_bounded_by_the_segment_size() {
    let (mut provider, key) = provider();
    let made = data_key(&mut provider, &key, 32, Some(CONTEXT), 1);
    let segment = DEFAULT_SEGMENT_SIZE as usize;

    // The push API in caller buffers allocates nothing at all, sealing or opening.
    let params = made.params(DEFAULT_SEGMENT_SIZE);
    let mut seal_buffer = vec![0u8; params.buffer_len(32).unwrap()];
    let data = vec![0x33u8; 3 * segment + 5];
    let mut file = vec![0u8; 4 * (segment + 16) + 1024];
    let ((), _, calls) = measure(|| {
        let mut sealer =
            Sealer::new(&made.data_key, &params, &mut rng(2), &mut seal_buffer[..]).unwrap();
        let mut at = 0;
        let mut emit = |b: &[u8]| {
            file[at..at + b.len()].copy_from_slice(b);
            at += b.len();
            Ok::<(), EnvelopeError>(())
        };
        for piece in data.chunks(1000) {
            sealer.push(piece, &mut emit).unwrap();
        }
        sealer.finish(&mut emit).unwrap();
    });
    assert_eq!(calls, 0, "sealing allocated");
    let header = Header::parse(&file).unwrap();
    let body_len = data.len() + 4 * 16;
    let body = &file[header.encoded_len()..header.encoded_len() + body_len];
    let file_key = header.unlock(&made.data_key).unwrap();
    let mut open_buffer = vec![0u8; segment + 16];
    let mut plain = vec![0u8; data.len()];
    let ((), _, calls) = measure(|| {
        let mut opener = Opener::new(file_key, &mut open_buffer[..]).unwrap();
        let mut at = 0;
        let mut emit = |b: &[u8]| {
            plain[at..at + b.len()].copy_from_slice(b);
            at += b.len();
            Ok::<(), EnvelopeError>(())
        };
        for piece in body.chunks(777) {
            opener.push(piece, &mut emit).unwrap();
        }
        opener.finish(&mut emit).unwrap();
    });
    assert_eq!(calls, 0, "opening allocated");
    assert_eq!(plain, data);

    // The io adapters: the same peak for 1 MiB and for 3 MiB, a few segments either way.
    let mut peaks = Vec::new();
    for len in [1 << 20, 3 << 20] {
        let mut sealed = Vec::with_capacity(len + len / segment * 16 + 4096);
        let (_, seal_peak, _) = measure(|| {
            let mut writer =
                EncryptWriter::new(&mut sealed, &made.data_key, &params, &mut rng(3)).unwrap();
            io::copy(&mut Pattern { left: len, next: 0 }, &mut writer).unwrap();
            writer.finish().unwrap();
        });
        let (seen, open_peak, _) = measure(|| {
            let mut reader = DecryptReader::new(&sealed[..], |h: &Header<'_>| {
                Ok::<_, io::Error>(h.decrypt(&provider, &caller(), &mut rng(4))?)
            })
            .unwrap();
            let mut check = PatternCheck { next: 0, seen: 0 };
            io::copy(&mut reader, &mut check).unwrap();
            check.seen
        });
        assert_eq!(seen, len);
        assert!(
            seal_peak <= segment + 16 + 8192,
            "sealing {len} bytes held {seal_peak} bytes"
        );
        assert!(
            open_peak <= 3 * (segment + 16) + 16384,
            "opening {len} bytes held {open_peak} bytes"
        );
        eprintln!("{len} bytes: sealing held {seal_peak} bytes, opening {open_peak}");
        peaks.push((seal_peak, open_peak));
    }
    assert_eq!(peaks[0], peaks[1], "memory grew with the size of the data");
}
