//! The rate limit (spec §9): a pure token bucket per account and operation, 750 per second with
//! a burst of 750 by default, fed simulated time. Counts are exact, so the tests count exactly.

mod support_ops;

use core::time::Duration;

use kms_core::{Error, Operation, RateLimit, RateLimiter};
use support_ops::*;

const GDK: Operation = Operation::GenerateDataKey;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn ns(n: u64) -> Duration {
    Duration::from_nanos(n)
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// Sends requests at `now` until the first refusal; returns how many were admitted and the
/// refusal's retry hint.
fn drain(limiter: &mut RateLimiter, account: &str, op: Operation, now: Duration) -> (u64, u64) {
    let mut admitted = 0;
    loop {
        match limiter.check(account, op, now) {
            Ok(()) => admitted += 1,
            Err(Error::Throttling { retry_after_ms }) => return (admitted, retry_after_ms),
            Err(other) => panic!("unexpected {other:?}"),
        }
        assert!(admitted <= 10_000_000, "no refusal in sight");
    }
}

fn admits(limiter: &mut RateLimiter, account: &str, op: Operation, now: Duration) -> bool {
    match limiter.check(account, op, now) {
        Ok(()) => true,
        Err(Error::Throttling { .. }) => false,
        Err(other) => panic!("unexpected {other:?}"),
    }
}

/// The hint of a refusal at `now`, which must be a refusal.
#[track_caller]
fn hint(limiter: &mut RateLimiter, account: &str, op: Operation, now: Duration) -> u64 {
    match limiter.check(account, op, now) {
        Err(Error::Throttling { retry_after_ms }) => retry_after_ms,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn limit(per_second: u32, burst: u32) -> RateLimit {
    RateLimit { per_second, burst }
}

// ---------------------------------------------------------------------------------------------
// The default: 750 per second, burst 750

#[test]
fn the_default_is_750_per_second_burst_750_for_every_operation() {
    assert_eq!(RateLimit::DEFAULT, limit(750, 750));
    assert_eq!(RateLimit::default(), limit(750, 750));
    let limiter = RateLimiter::new();
    for op in [
        Operation::GenerateDataKey,
        Operation::GenerateDataKeyWithoutPlaintext,
        Operation::Encrypt,
        Operation::Decrypt,
        Operation::ReEncrypt,
        Operation::Other("ListKeys"),
    ] {
        assert_eq!(limiter.limit(op), limit(750, 750), "{op:?}");
    }
    assert_eq!(limiter.buckets(), 0);
}

#[test]
fn exactly_750_at_once_then_throttled() {
    let mut limiter = RateLimiter::new();
    for _ in 0..750 {
        limiter
            .check(ACCOUNT, GDK, Duration::ZERO)
            .expect("within the burst");
    }
    let refused = limiter.check(ACCOUNT, GDK, Duration::ZERO);
    // One token every 4/3 ms: the hint rounds 1.333... ms up to 2.
    assert_error(
        refused,
        Error::Throttling { retry_after_ms: 2 },
        429,
        "Rejected.Throttling",
        MSG_THROTTLING,
    );
    // Refusals cost nothing and change nothing.
    for _ in 0..100 {
        assert!(!admits(&mut limiter, ACCOUNT, GDK, Duration::ZERO));
    }
    assert_eq!(limiter.buckets(), 1);
}

#[test]
fn each_further_second_admits_exactly_750() {
    let mut limiter = RateLimiter::new();
    assert_eq!(drain(&mut limiter, ACCOUNT, GDK, Duration::ZERO).0, 750);
    for s in 1..=10 {
        assert_eq!(
            drain(&mut limiter, ACCOUNT, GDK, secs(s)).0,
            750,
            "second {s}"
        );
    }
    // Half a second refills half the bucket.
    assert_eq!(
        drain(&mut limiter, ACCOUNT, GDK, ms(10_500)).0,
        375,
        "half a second"
    );
    // A long idle refills no more than the burst.
    assert_eq!(drain(&mut limiter, ACCOUNT, GDK, secs(3600)).0, 750);
}

#[test]
fn a_greedy_client_gets_exactly_the_rate() {
    let mut limiter = RateLimiter::new();
    assert_eq!(drain(&mut limiter, ACCOUNT, GDK, Duration::ZERO).0, 750);
    // Asking as much as possible every millisecond: after T ms, exactly floor(0.75 T) more.
    let mut total = 0;
    for t in 1..=2000u64 {
        total += drain(&mut limiter, ACCOUNT, GDK, ms(t)).0;
        assert_eq!(total, t * 3 / 4, "after {t} ms");
    }
    assert_eq!(total, 1500);
}

#[test]
fn requests_spread_evenly_at_750_per_second_are_all_admitted() {
    // From a full bucket: 7500 requests over 10 seconds, all admitted.
    let mut limiter = RateLimiter::new();
    for n in 0..7500u64 {
        let t = (n * 1_000_000_000).div_ceil(750);
        assert!(admits(&mut limiter, ACCOUNT, GDK, ns(t)), "request {n}");
    }
    // From an empty bucket: the n-th token is there at exactly ceil(n / 750 s), not 1 ns before.
    let mut limiter = RateLimiter::new();
    assert_eq!(drain(&mut limiter, ACCOUNT, GDK, Duration::ZERO).0, 750);
    for n in 1..=3000u64 {
        let t = (n * 1_000_000_000).div_ceil(750);
        assert!(
            !admits(&mut limiter, ACCOUNT, GDK, ns(t - 1)),
            "token {n} early"
        );
        assert!(
            admits(&mut limiter, ACCOUNT, GDK, ns(t)),
            "token {n} on time"
        );
        assert!(
            !admits(&mut limiter, ACCOUNT, GDK, ns(t)),
            "token {n} twice"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Burst

#[test]
fn a_burst_smaller_than_the_rate() {
    let mut limiter = RateLimiter::new().with_default(limit(10, 3));
    assert_eq!(drain(&mut limiter, ACCOUNT, GDK, Duration::ZERO).0, 3);
    // One token every 100 ms.
    assert!(!admits(&mut limiter, ACCOUNT, GDK, ms(99)));
    assert!(admits(&mut limiter, ACCOUNT, GDK, ms(100)));
    assert!(!admits(&mut limiter, ACCOUNT, GDK, ms(150)));
    assert!(admits(&mut limiter, ACCOUNT, GDK, ms(200)));
    // Ten seconds idle still hold only 3.
    assert_eq!(drain(&mut limiter, ACCOUNT, GDK, secs(10)).0, 3);
    // A full second after draining holds 3, not 10.
    assert_eq!(drain(&mut limiter, ACCOUNT, GDK, secs(11)).0, 3);
}

#[test]
fn a_burst_larger_than_the_rate() {
    let mut limiter = RateLimiter::new().with_default(limit(2, 10));
    assert_eq!(drain(&mut limiter, ACCOUNT, GDK, Duration::ZERO).0, 10);
    assert_eq!(drain(&mut limiter, ACCOUNT, GDK, secs(1)).0, 2);
    assert_eq!(drain(&mut limiter, ACCOUNT, GDK, secs(3)).0, 4);
    assert_eq!(drain(&mut limiter, ACCOUNT, GDK, secs(100)).0, 10);
}

#[test]
fn a_burst_of_one_spaces_requests() {
    let mut limiter = RateLimiter::new().with_default(limit(100, 1));
    for i in 0..200u64 {
        assert!(admits(&mut limiter, ACCOUNT, GDK, ms(10 * i)), "slot {i}");
        assert!(
            !admits(&mut limiter, ACCOUNT, GDK, ms(10 * i + 5)),
            "between slots {i}"
        );
    }
}

#[test]
fn no_rate_or_no_burst_admits_nothing_more() {
    let mut limiter = RateLimiter::new().with_default(limit(0, 2));
    assert_eq!(drain(&mut limiter, ACCOUNT, GDK, Duration::ZERO).0, 2);
    assert_eq!(drain(&mut limiter, ACCOUNT, GDK, secs(1_000_000)).0, 0);

    let mut limiter = RateLimiter::new().with_default(limit(5, 0));
    for t in [0, 1, 60, 1_000_000] {
        assert_eq!(drain(&mut limiter, ACCOUNT, GDK, secs(t)).0, 0);
    }
}

// ---------------------------------------------------------------------------------------------
// Isolation

#[test]
fn accounts_are_isolated() {
    let mut limiter = RateLimiter::new();
    assert_eq!(drain(&mut limiter, ACCOUNT, GDK, Duration::ZERO).0, 750);
    assert_eq!(
        drain(&mut limiter, OTHER_ACCOUNT, GDK, Duration::ZERO).0,
        750
    );
    // Accounts whose names share a prefix are distinct.
    for account in ["1", "12", "123", "1234567890123456 ", ""] {
        assert_eq!(
            drain(&mut limiter, account, GDK, Duration::ZERO).0,
            750,
            "{account:?}"
        );
    }
    assert!(!admits(&mut limiter, ACCOUNT, GDK, Duration::ZERO));
    assert_eq!(limiter.buckets(), 7);
}

#[test]
fn operations_are_isolated() {
    let mut limiter = RateLimiter::new();
    let ops = [
        Operation::GenerateDataKey,
        Operation::GenerateDataKeyWithoutPlaintext,
        Operation::Encrypt,
        Operation::Decrypt,
        Operation::ReEncrypt,
        Operation::Other("ListKeys"),
        Operation::Other("DescribeKey"),
    ];
    for op in ops {
        assert_eq!(
            drain(&mut limiter, ACCOUNT, op, Duration::ZERO).0,
            750,
            "{op:?}"
        );
    }
    for op in ops {
        assert!(!admits(&mut limiter, ACCOUNT, op, Duration::ZERO), "{op:?}");
    }
    assert_eq!(limiter.buckets(), ops.len());
}

#[test]
fn per_operation_limits() {
    let mut limiter = RateLimiter::new()
        .with_default(limit(100, 100))
        .with_limit(Operation::Encrypt, limit(1, 1))
        .with_limit(Operation::Encrypt, limit(5, 5))
        .with_limit(GDK, limit(750, 750))
        .with_limit(Operation::Other("ListKeys"), limit(2, 4));
    assert_eq!(
        limiter.limit(Operation::Encrypt),
        limit(5, 5),
        "the last setting wins"
    );
    assert_eq!(limiter.limit(GDK), limit(750, 750));
    assert_eq!(limiter.limit(Operation::Decrypt), limit(100, 100));
    assert_eq!(limiter.limit(Operation::Other("ListKeys")), limit(2, 4));
    assert_eq!(
        limiter.limit(Operation::Other("DescribeKey")),
        limit(100, 100)
    );

    assert_eq!(
        drain(&mut limiter, ACCOUNT, Operation::Encrypt, Duration::ZERO).0,
        5
    );
    assert_eq!(drain(&mut limiter, ACCOUNT, GDK, Duration::ZERO).0, 750);
    assert_eq!(
        drain(&mut limiter, ACCOUNT, Operation::Decrypt, Duration::ZERO).0,
        100
    );
    assert_eq!(
        drain(
            &mut limiter,
            ACCOUNT,
            Operation::Other("ListKeys"),
            Duration::ZERO
        )
        .0,
        4
    );
    assert_eq!(
        drain(
            &mut limiter,
            ACCOUNT,
            Operation::Other("DescribeKey"),
            Duration::ZERO
        )
        .0,
        100
    );
    // And each refills at its own rate.
    assert_eq!(
        drain(&mut limiter, ACCOUNT, Operation::Encrypt, secs(1)).0,
        5
    );
    assert_eq!(drain(&mut limiter, ACCOUNT, GDK, secs(1)).0, 750);
    assert_eq!(
        drain(&mut limiter, ACCOUNT, Operation::Decrypt, secs(1)).0,
        100
    );
    assert_eq!(
        drain(&mut limiter, ACCOUNT, Operation::Other("ListKeys"), secs(1)).0,
        2
    );
}

// ---------------------------------------------------------------------------------------------
// The retry hint

#[test]
fn the_hint_is_exact_for_whole_rates() {
    // ceil(10^9 / rate) ns until the next token; the hint is that, rounded up to whole ms.
    for (i, rate) in [1u32, 3, 7, 10, 333, 750, 1000, 1001, 65_537, 1_000_000]
        .into_iter()
        .enumerate()
    {
        let account = format!("acct{i}");
        let mut limiter = RateLimiter::new().with_default(limit(rate, 1));
        let start = secs(5);
        assert!(admits(&mut limiter, &account, GDK, start));
        let wait_ns = 1_000_000_000u64.div_ceil(u64::from(rate));
        let expected = wait_ns.div_ceil(1_000_000).max(1);
        assert_eq!(
            hint(&mut limiter, &account, GDK, start),
            expected,
            "rate {rate}"
        );
        // One nanosecond before the token: refused; on it: admitted.
        assert!(
            !admits(&mut limiter, &account, GDK, start + ns(wait_ns - 1)),
            "rate {rate}"
        );
        assert!(
            admits(&mut limiter, &account, GDK, start + ns(wait_ns)),
            "rate {rate}"
        );
    }
}

#[test]
fn waiting_the_hint_admits_and_one_ms_less_does_not() {
    for (rate, burst, expected) in [
        (750, 750, 2),
        (3, 1, 334),
        (1, 1, 1000),
        (1000, 1, 1),
        (4, 2, 250),
    ] {
        let mut limiter = RateLimiter::new().with_default(limit(rate, burst));
        let (_, h) = drain(&mut limiter, ACCOUNT, GDK, secs(1));
        assert_eq!(h, expected, "rate {rate}");
        if h > 1 {
            assert!(
                !admits(&mut limiter, ACCOUNT, GDK, secs(1) + ms(h - 1)),
                "rate {rate}"
            );
        }
        assert!(
            admits(&mut limiter, ACCOUNT, GDK, secs(1) + ms(h)),
            "rate {rate}"
        );
    }
}

#[test]
fn the_hint_counts_a_partly_refilled_token() {
    let mut limiter = RateLimiter::new().with_default(limit(1, 1));
    assert!(admits(&mut limiter, ACCOUNT, GDK, Duration::ZERO));
    assert_eq!(hint(&mut limiter, ACCOUNT, GDK, ms(400)), 600);
    assert_eq!(hint(&mut limiter, ACCOUNT, GDK, ms(999)), 1);
    // Under a millisecond to go still says at least 1.
    assert_eq!(hint(&mut limiter, ACCOUNT, GDK, ms(999) + ns(999_999)), 1);
    assert!(admits(&mut limiter, ACCOUNT, GDK, ms(1000)));

    // At the default rate, after 1 ms: 0.75 of a token, a quarter missing: 1/3 ms, so 1.
    let mut limiter = RateLimiter::new();
    drain(&mut limiter, ACCOUNT, GDK, Duration::ZERO);
    assert_eq!(hint(&mut limiter, ACCOUNT, GDK, ms(1)), 1);
    assert!(admits(&mut limiter, ACCOUNT, GDK, ms(2)));
}

#[test]
fn a_very_fast_rate_still_hints_at_least_one_ms() {
    let mut limiter = RateLimiter::new().with_default(limit(u32::MAX, 1));
    assert!(admits(&mut limiter, ACCOUNT, GDK, secs(1)));
    assert_eq!(hint(&mut limiter, ACCOUNT, GDK, secs(1)), 1);
    assert!(admits(&mut limiter, ACCOUNT, GDK, secs(1) + ns(1)));
}

// ---------------------------------------------------------------------------------------------
// A clock that goes backwards

#[test]
fn going_back_in_time_mints_no_tokens() {
    let mut limiter = RateLimiter::new();
    assert_eq!(drain(&mut limiter, ACCOUNT, GDK, secs(10)).0, 750);
    for t in [secs(5), Duration::ZERO, ms(9_999), secs(10)] {
        assert_eq!(drain(&mut limiter, ACCOUNT, GDK, t).0, 0, "at {t:?}");
    }
    // Forward again: the refill counts from 10 s, the latest time seen, not from 0 or 5 s.
    assert_eq!(drain(&mut limiter, ACCOUNT, GDK, ms(10_500)).0, 375);
    assert_eq!(drain(&mut limiter, ACCOUNT, GDK, ms(10_500)).0, 0);
}

#[test]
fn a_jittery_clock_gets_no_more_than_the_rate() {
    let mut limiter = RateLimiter::new();
    assert_eq!(drain(&mut limiter, ACCOUNT, GDK, secs(10)).0, 750);
    // Alternate a little forward and a lot back; the forward steps alone decide.
    let mut total = 0;
    for k in 1..=1000u64 {
        total += drain(&mut limiter, ACCOUNT, GDK, secs(10) + ms(k)).0;
        total += drain(&mut limiter, ACCOUNT, GDK, secs(10) - ms(k)).0;
        total += drain(&mut limiter, ACCOUNT, GDK, Duration::ZERO).0;
    }
    assert_eq!(total, 750);
}

/// BUG (src/rate_limit.rs, `Bucket::take`): after the clock went back, the retry hint is
/// measured from the bucket's latest time instead of from the `now` the caller passed, so a
/// client that waits as told is refused again and again until its clock catches up.
///
/// Drained at 10 s, asked at 5 s: the next token is there at 10 s + 4/3 ms on the caller's
/// clock, 5001.33 ms away, so the hint should be 5002 ms; `take` says 2 ms
/// (`missing.div_ceil(per_second)` ignores `last_ns - now_ns`). Expected to fail until fixed.
#[test]
fn bug_the_hint_after_the_clock_went_back_is_measured_from_now() {
    let mut limiter = RateLimiter::new();
    assert_eq!(drain(&mut limiter, ACCOUNT, GDK, secs(10)).0, 750);
    let h = hint(&mut limiter, ACCOUNT, GDK, secs(5));
    assert!(
        h == 1 || !admits(&mut limiter, ACCOUNT, GDK, secs(5) + ms(h - 1)),
        "the hint of {h} ms is longer than needed"
    );
    assert!(
        admits(&mut limiter, ACCOUNT, GDK, secs(5) + ms(h)),
        "waited the hint of {h} ms from 5 s and was refused"
    );
}

#[test]
fn a_new_bucket_seen_first_late_then_early() {
    let mut limiter = RateLimiter::new();
    assert!(admits(&mut limiter, ACCOUNT, GDK, secs(10)));
    // Earlier requests spend the rest of the burst, and no more.
    assert_eq!(drain(&mut limiter, ACCOUNT, GDK, secs(1)).0, 749);
    assert_eq!(drain(&mut limiter, ACCOUNT, GDK, secs(10)).0, 0);
    assert_eq!(drain(&mut limiter, ACCOUNT, GDK, secs(11)).0, 750);
}

#[test]
fn extreme_times_do_not_panic() {
    let mut limiter = RateLimiter::new();
    assert_eq!(drain(&mut limiter, ACCOUNT, GDK, Duration::ZERO).0, 750);
    assert_eq!(drain(&mut limiter, ACCOUNT, GDK, Duration::MAX).0, 750);
    assert_eq!(drain(&mut limiter, ACCOUNT, GDK, Duration::MAX).0, 0);
    assert_eq!(drain(&mut limiter, ACCOUNT, GDK, Duration::ZERO).0, 0);
    let mut limiter = RateLimiter::new().with_default(limit(u32::MAX, u32::MAX));
    assert!(admits(&mut limiter, ACCOUNT, GDK, Duration::MAX));
}

// ---------------------------------------------------------------------------------------------
// Memory: eviction

#[test]
fn a_hundred_thousand_accounts_stay_within_max_buckets() {
    let mut limiter = RateLimiter::new().with_max_buckets(1000);
    // A busy account, drained at the start and asking again every 100 new accounts.
    let victim = "victim";
    assert_eq!(drain(&mut limiter, victim, GDK, Duration::ZERO).0, 750);
    let mut most = 0;
    for i in 0..100_000u64 {
        // One nanosecond apart: no bucket refills a whole token meanwhile (0.1 ms in all).
        let now = ns(i + 1);
        let account = format!("account-{i}");
        assert!(
            admits(&mut limiter, &account, GDK, now),
            "a new account's first request"
        );
        most = most.max(limiter.buckets());
        assert!(limiter.buckets() <= 1000, "{} buckets", limiter.buckets());
        if i % 100 == 0 {
            // Recently used, so never evicted: still throttled.
            assert!(
                !admits(&mut limiter, victim, GDK, now),
                "victim admitted at {i}"
            );
        }
    }
    assert!(
        most >= 500,
        "eviction freed too much: at most {most} buckets"
    );
}

#[test]
fn refilled_buckets_are_evicted_first() {
    let mut limiter = RateLimiter::new().with_max_buckets(4);
    // Two idle accounts and two busy ones.
    assert!(admits(&mut limiter, "idle-1", GDK, Duration::ZERO));
    assert!(admits(&mut limiter, "idle-2", GDK, Duration::ZERO));
    assert_eq!(drain(&mut limiter, "busy-1", GDK, Duration::ZERO).0, 750);
    assert_eq!(drain(&mut limiter, "busy-2", GDK, Duration::ZERO).0, 750);
    // Later, the busy ones are drained again and a fifth account arrives.
    assert_eq!(drain(&mut limiter, "busy-1", GDK, secs(5)).0, 750);
    assert_eq!(drain(&mut limiter, "busy-2", GDK, secs(5)).0, 750);
    assert_eq!(limiter.buckets(), 4);
    assert!(admits(&mut limiter, "new", GDK, secs(5)));
    // The idle buckets, refilled, went; the busy ones stayed, still empty.
    assert_eq!(limiter.buckets(), 3);
    assert!(!admits(&mut limiter, "busy-1", GDK, secs(5)));
    assert!(!admits(&mut limiter, "busy-2", GDK, secs(5)));
    // An evicted idle account loses nothing: a full bucket is a fresh one.
    assert_eq!(drain(&mut limiter, "idle-1", GDK, secs(5)).0, 750);
}

#[test]
fn at_least_one_bucket() {
    let mut limiter = RateLimiter::new().with_max_buckets(0);
    for i in 0..10 {
        assert!(admits(&mut limiter, &format!("a{i}"), GDK, secs(i)));
        assert_eq!(limiter.buckets(), 1);
    }
    assert_eq!(RateLimiter::DEFAULT_MAX_BUCKETS, 65_536);
}
