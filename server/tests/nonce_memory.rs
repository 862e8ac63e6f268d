//! The replay cache's memory per remembered nonce, counted by a global allocator that tallies
//! the bytes each thread has allocated and not freed, and their peak: the worst point of
//! growth is while a minute's hash set doubles, when its old and new tables are both
//! allocated. The figure is written down in `server/README.md`.
//!
//! The allocator is this binary's alone; counting is per thread, and the test reads only its
//! own thread's counts.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use kms_server::auth::{NonceCache, TIMESTAMP_WINDOW};

struct Counting;

thread_local! {
    /// Bytes allocated by this thread and not freed.
    static LIVE: Cell<usize> = const { Cell::new(0) };
    /// The most `LIVE` has been since the last reset.
    static PEAK: Cell<usize> = const { Cell::new(0) };
}

fn grow(by: usize) {
    // `try_with`: a thread being torn down has no counters left, and is not counted.
    let _ = LIVE.try_with(|live| {
        live.set(live.get() + by);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(live.get())));
    });
}

fn shrink(by: usize) {
    let _ = LIVE.try_with(|live| live.set(live.get().saturating_sub(by)));
}

// SAFETY: every method forwards to the system allocator unchanged; the thread-local counters
// are const-initialised and have no destructor, so touching them never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        grow(layout.size());
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        grow(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // Counted as a move: the new block is allocated before the old one is freed.
        grow(new_size);
        shrink(layout.size());
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        shrink(layout.size());
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// What filling a cache showed: the worst bytes per nonce, at the peak of each insertion (the
/// worst point of growth) and after it, over the fills of at least `from` nonces.
#[derive(Debug, Default)]
struct Measured {
    worst_peak_per_nonce: f64,
    worst_at: usize,
    worst_settled_per_nonce: f64,
    final_per_nonce: f64,
}

/// Fills a cache with `n` nonces, their timestamps `timestamp(i)` at the clock `now`, and
/// measures its memory per nonce from `from` nonces on.
fn fill(
    n: usize,
    from: usize,
    now: SystemTime,
    timestamp: impl Fn(usize) -> SystemTime,
) -> Measured {
    let mut nonce = String::with_capacity(32);
    let base = LIVE.with(Cell::get);
    let mut cache = NonceCache::new(n);
    let mut m = Measured::default();
    for i in 0..n {
        nonce.clear();
        write!(nonce, "{i:032x}").unwrap();
        PEAK.with(|p| p.set(LIVE.with(Cell::get)));
        cache.reserve(&nonce, timestamp(i), now).unwrap().insert();
        let count = i + 1;
        if count >= from {
            let peak = (PEAK.with(Cell::get) - base) as f64 / count as f64;
            let settled = (LIVE.with(Cell::get) - base) as f64 / count as f64;
            if peak > m.worst_peak_per_nonce {
                m.worst_peak_per_nonce = peak;
                m.worst_at = count;
            }
            m.worst_settled_per_nonce = m.worst_settled_per_nonce.max(settled);
        }
    }
    assert_eq!(cache.len(), n);
    m.final_per_nonce = (LIVE.with(Cell::get) - base) as f64 / n as f64;
    drop(cache);
    m
}

#[test]
fn at_most_32_bytes_per_nonce_at_the_worst_point_of_growth() {
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_040);
    // The ratios repeat at every doubling: half a million nonces show them.
    let n = 1 << 19;
    // Every request stamped in the same minute: one set, through 17 doublings.
    let one_minute = fill(n, 1024, now, |_| now);
    // Timestamps spread over the whole window, behind and ahead of the clock: 31 sets.
    let window = TIMESTAMP_WINDOW.as_secs();
    let spread = fill(n, 1024, now, |i| {
        now - TIMESTAMP_WINDOW + Duration::from_secs(i as u64 % (2 * window + 1))
    });
    eprintln!("one minute's set, {n} nonces: {one_minute:?}");
    eprintln!("spread over the window, {n} nonces: {spread:?}");
    for m in [&one_minute, &spread] {
        assert!(m.worst_peak_per_nonce <= 32.0, "{m:?}");
        assert!(m.worst_settled_per_nonce <= 32.0, "{m:?}");
    }
}
