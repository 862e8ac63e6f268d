//! Memory in bounds: the caller-buffer forms allocate nothing, and the `std::io` adapters hold a
//! few segments whatever the size of the data.
//!
//! The binary's global allocator counts allocations per thread, so the other tests, which the
//! harness runs on other threads at the same time, do not disturb the measurements.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::{self, Read};

use kms_envelope::{
    self as envelope, DEFAULT_SEGMENT_SIZE, DecryptReader, EncryptWriter, EnvelopeError, Header,
    HeaderReader, Opener, Sealer,
};

use crate::support::*;

/// Counts this thread's allocations and tracks the peak of its live bytes.
struct PerThreadCount;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
    static CALLS: Cell<usize> = const { Cell::new(0) };
}

fn grew(n: usize) {
    // `try_with`: a thread being torn down no longer has its counters.
    let _ = LIVE.try_with(|live| {
        live.set(live.get() + n as isize);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(live.get())));
    });
    let _ = CALLS.try_with(|calls| calls.set(calls.get() + 1));
}

fn shrank(n: usize) {
    let _ = LIVE.try_with(|live| live.set(live.get() - n as isize));
}

// SAFETY: every call goes straight to the system allocator; the counting around it touches only
// thread-local `Cell`s with constant initialisers, which allocate nothing.
unsafe impl GlobalAlloc for PerThreadCount {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        grew(layout.size());
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        grew(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        shrank(layout.size());
        grew(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        shrank(layout.size());
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: PerThreadCount = PerThreadCount;

/// Runs `f` and returns its result, the most bytes this thread held live at once beyond what
/// was live before, and how many allocations it made.
fn measure<T>(f: impl FnOnce() -> T) -> (T, usize, usize) {
    let base = LIVE.with(Cell::get);
    PEAK.with(|p| p.set(base));
    let calls = CALLS.with(Cell::get);
    let out = f();
    let peak = PEAK.with(Cell::get) - base;
    (out, peak.max(0) as usize, CALLS.with(Cell::get) - calls)
}

#[test]
fn the_counter_counts() {
    let ((), peak, calls) = measure(|| {
        let v = vec![0u8; 5000];
        std::hint::black_box(&v);
    });
    assert_eq!((peak, calls), (5000, 1));
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
fn caller_buffer_forms_allocate_nothing() {
    let (provider, key) = fixed_provider();
    let made = data_key(&provider, &key, 32, CONTEXT, 1);
    let segment = DEFAULT_SEGMENT_SIZE as usize;
    let params = made.params(DEFAULT_SEGMENT_SIZE);
    let data = vec![0x33u8; 3 * segment + 5];

    // Push sealing.
    let mut seal_buffer = vec![0u8; params.buffer_len(32).unwrap()];
    let mut file = vec![0u8; 4 * (segment + 16) + 1024];
    let (file_len, _, calls) = measure(|| {
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
        at
    });
    assert_eq!(calls, 0, "sealing allocated");
    let file = &file[..file_len];

    // Header reading, Decrypt in a workspace, push opening.
    let mut header_buffer = [0u8; 512];
    let mut workspace = [0u8; 256];
    let mut open_buffer = vec![0u8; segment + 16];
    let mut plain = vec![0u8; data.len()];
    let ((), _, calls) = measure(|| {
        let mut reader = HeaderReader::new(&mut header_buffer[..]);
        let used = reader.push(file).unwrap();
        let header = reader.header().unwrap();
        let data_key = header
            .decrypt_in(&provider, &caller(), &mut rng(3), &mut workspace)
            .unwrap();
        let file_key = header.unlock(&data_key).unwrap();
        let mut opener = Opener::new(file_key, &mut open_buffer[..]).unwrap();
        let mut at = 0;
        let mut emit = |b: &[u8]| {
            plain[at..at + b.len()].copy_from_slice(b);
            at += b.len();
            Ok::<(), EnvelopeError>(())
        };
        for piece in file[used..].chunks(777) {
            opener.push(piece, &mut emit).unwrap();
        }
        opener.finish(&mut emit).unwrap();
    });
    assert_eq!(calls, 0, "opening allocated");
    assert_eq!(plain, data);

    // The whole-buffer forms.
    let mut sealed = vec![0u8; file.len()];
    let mut opened = vec![0u8; data.len()];
    let ((), _, calls) = measure(|| {
        let n =
            envelope::seal_into(&made.data_key, &params, &data, &mut rng(4), &mut sealed).unwrap();
        let got = envelope::open_into(
            &sealed[..n],
            |h: &Header<'_>| h.decrypt_in(&provider, &caller(), &mut rng(5), &mut workspace),
            &mut opened,
        )
        .unwrap();
        assert_eq!(got, data.len());
    });
    assert_eq!(calls, 0, "the whole-buffer forms allocated");
    assert_eq!(opened, data);
}

#[test]
fn io_adapters_hold_a_few_segments_whatever_the_size() {
    let (provider, key) = provider();
    let made = data_key(&provider, &key, 32, CONTEXT, 1);
    let segment = DEFAULT_SEGMENT_SIZE as usize;
    let params = made.params(DEFAULT_SEGMENT_SIZE);

    // The same peak for 1 MiB and for 3 MiB, a few segments either way.
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
        assert!(
            open_peak >= 2 * segment,
            "opening {len} bytes held only {open_peak} bytes: the counter missed the buffers"
        );
        peaks.push((seal_peak, open_peak));
    }
    assert_eq!(peaks[0], peaks[1], "memory grew with the size of the data");
}
