//! The rate limit (spec §9): a pure token bucket per account and operation, 750 per second with
//! a burst of 750 by default, fed simulated time. Counts are exact, so the tests count exactly.
//! The limiter is generic over how a frontend names operations: here a small enum of its own,
//! and once a `&'static str`.

use core::time::Duration;

use kms_core::{Error, RateLimit, RateLimiter};

use crate::testkit::{ACCOUNT, MSG_THROTTLING, OTHER_ACCOUNT, assert_wire};

/// The operations a frontend serves, as it names them to the limiter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Action {
    GenerateDataKey,
    GenerateDataKeyWithoutPlaintext,
    Encrypt,
    Decrypt,
    ReEncrypt,
    ListKeys,
    DescribeKey,
}

const GDK: Action = Action::GenerateDataKey;

type Limiter = RateLimiter<Action>;

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
fn drain<K: Copy + Eq + core::hash::Hash>(
    limiter: &mut RateLimiter<K>,
    account: &str,
    op: K,
    now: Duration,
) -> (u64, u64) {
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

fn admits(limiter: &mut Limiter, account: &str, op: Action, now: Duration) -> bool {
    match limiter.check(account, op, now) {
        Ok(()) => true,
        Err(Error::Throttling { .. }) => false,
        Err(other) => panic!("unexpected {other:?}"),
    }
}

/// The hint of a refusal at `now`, which must be a refusal.
#[track_caller]
fn hint(limiter: &mut Limiter, account: &str, op: Action, now: Duration) -> u64 {
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

/// The default limit is 750 per second with a burst of 750, for every operation, and a new
/// limiter holds no bucket.
#[test]
fn the_default_is_750_per_second_burst_750_for_every_operation() {
    assert_eq!(RateLimit::DEFAULT, limit(750, 750));
    assert_eq!(RateLimit::default(), limit(750, 750));
    let limiter = Limiter::new();
    for op in [
        Action::GenerateDataKey,
        Action::GenerateDataKeyWithoutPlaintext,
        Action::Encrypt,
        Action::Decrypt,
        Action::ReEncrypt,
        Action::ListKeys,
    ] {
        assert_eq!(limiter.limit(op), limit(750, 750), "{op:?}");
    }
    assert_eq!(limiter.buckets(), 0);
}

/// A full bucket admits exactly 750 requests at one instant; the 751st is `Rejected.Throttling`
/// (429, spec §8) with a 2 ms hint, and refusals take nothing.
#[test]
fn exactly_750_at_once_then_throttled() {
    let mut limiter = Limiter::new();
    for _ in 0..750 {
        limiter
            .check(ACCOUNT, GDK, Duration::ZERO)
            .expect("within the burst");
    }
    let refused = limiter.check(ACCOUNT, GDK, Duration::ZERO).unwrap_err();
    // One token every 4/3 ms: the hint rounds 1.333... ms up to 2.
    assert_eq!(refused, Error::Throttling { retry_after_ms: 2 });
    assert_wire(&refused, 429, "Rejected.Throttling", MSG_THROTTLING);
    // Refusals cost nothing and change nothing.
    for _ in 0..100 {
        assert!(!admits(&mut limiter, ACCOUNT, GDK, Duration::ZERO));
    }
    assert_eq!(limiter.buckets(), 1);
}

/// Each further second refills exactly 750 tokens, half a second 375, and a long idle no more
/// than the burst.
#[test]
fn each_further_second_admits_exactly_750() {
    let mut limiter = Limiter::new();
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

/// A client asking as much as it can every millisecond gets exactly floor(0.75 t) requests
/// after t ms: no drift.
#[test]
fn a_greedy_client_gets_exactly_the_rate() {
    let mut limiter = Limiter::new();
    assert_eq!(drain(&mut limiter, ACCOUNT, GDK, Duration::ZERO).0, 750);
    // Asking as much as possible every millisecond: after T ms, exactly floor(0.75 T) more.
    let mut total = 0;
    for t in 1..=2000u64 {
        total += drain(&mut limiter, ACCOUNT, GDK, ms(t)).0;
        assert_eq!(total, t * 3 / 4, "after {t} ms");
    }
    assert_eq!(total, 1500);
}

/// Requests spread at exactly 750 per second are all admitted, and from an empty bucket the
/// n-th token is there at ceil(n / 750) s, not a nanosecond before.
#[test]
fn requests_spread_evenly_at_750_per_second_are_all_admitted() {
    // From a full bucket: 7500 requests over 10 seconds, all admitted.
    let mut limiter = Limiter::new();
    for n in 0..7500u64 {
        let t = (n * 1_000_000_000).div_ceil(750);
        assert!(admits(&mut limiter, ACCOUNT, GDK, ns(t)), "request {n}");
    }
    // From an empty bucket: the n-th token is there at exactly ceil(n / 750 s), not 1 ns before.
    let mut limiter = Limiter::new();
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

/// A burst smaller than the rate caps what an idle bucket holds (3), whatever the rate (10 per
/// second).
#[test]
fn a_burst_smaller_than_the_rate() {
    let mut limiter = Limiter::new().with_default(limit(10, 3));
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

/// A burst larger than the rate: 10 at once, then 2 per second, and 10 again after a long idle.
#[test]
fn a_burst_larger_than_the_rate() {
    let mut limiter = Limiter::new().with_default(limit(2, 10));
    assert_eq!(drain(&mut limiter, ACCOUNT, GDK, Duration::ZERO).0, 10);
    assert_eq!(drain(&mut limiter, ACCOUNT, GDK, secs(1)).0, 2);
    assert_eq!(drain(&mut limiter, ACCOUNT, GDK, secs(3)).0, 4);
    assert_eq!(drain(&mut limiter, ACCOUNT, GDK, secs(100)).0, 10);
}

/// A burst of one spaces requests exactly one slot apart.
#[test]
fn a_burst_of_one_spaces_requests() {
    let mut limiter = Limiter::new().with_default(limit(100, 1));
    for i in 0..200u64 {
        assert!(admits(&mut limiter, ACCOUNT, GDK, ms(10 * i)), "slot {i}");
        assert!(
            !admits(&mut limiter, ACCOUNT, GDK, ms(10 * i + 5)),
            "between slots {i}"
        );
    }
}

/// A rate of zero admits the burst and then nothing, ever; a burst of zero admits nothing.
#[test]
fn no_rate_or_no_burst_admits_nothing_more() {
    let mut limiter = Limiter::new().with_default(limit(0, 2));
    assert_eq!(drain(&mut limiter, ACCOUNT, GDK, Duration::ZERO).0, 2);
    assert_eq!(drain(&mut limiter, ACCOUNT, GDK, secs(1_000_000)).0, 0);

    let mut limiter = Limiter::new().with_default(limit(5, 0));
    for t in [0, 1, 60, 1_000_000] {
        assert_eq!(drain(&mut limiter, ACCOUNT, GDK, secs(t)).0, 0);
    }
}

// ---------------------------------------------------------------------------------------------
// Isolation

/// Each account has its own bucket, also accounts whose IDs share a prefix.
#[test]
fn accounts_are_isolated() {
    let mut limiter = Limiter::new();
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

/// Each operation has its own bucket in one account.
#[test]
fn operations_are_isolated() {
    let mut limiter = Limiter::new();
    let ops = [
        Action::GenerateDataKey,
        Action::GenerateDataKeyWithoutPlaintext,
        Action::Encrypt,
        Action::Decrypt,
        Action::ReEncrypt,
        Action::ListKeys,
        Action::DescribeKey,
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

/// Limits set per operation override the default (the last setting wins) and refill at their
/// own rates.
#[test]
fn per_operation_limits() {
    let mut limiter = Limiter::new()
        .with_default(limit(100, 100))
        .with_limit(Action::Encrypt, limit(1, 1))
        .with_limit(Action::Encrypt, limit(5, 5))
        .with_limit(GDK, limit(750, 750))
        .with_limit(Action::ListKeys, limit(2, 4));
    assert_eq!(
        limiter.limit(Action::Encrypt),
        limit(5, 5),
        "the last setting wins"
    );
    assert_eq!(limiter.limit(GDK), limit(750, 750));
    assert_eq!(limiter.limit(Action::Decrypt), limit(100, 100));
    assert_eq!(limiter.limit(Action::ListKeys), limit(2, 4));
    assert_eq!(limiter.limit(Action::DescribeKey), limit(100, 100));

    assert_eq!(
        drain(&mut limiter, ACCOUNT, Action::Encrypt, Duration::ZERO).0,
        5
    );
    assert_eq!(drain(&mut limiter, ACCOUNT, GDK, Duration::ZERO).0, 750);
    assert_eq!(
        drain(&mut limiter, ACCOUNT, Action::Decrypt, Duration::ZERO).0,
        100
    );
    assert_eq!(
        drain(&mut limiter, ACCOUNT, Action::ListKeys, Duration::ZERO).0,
        4
    );
    assert_eq!(
        drain(&mut limiter, ACCOUNT, Action::DescribeKey, Duration::ZERO).0,
        100
    );
    // And each refills at its own rate.
    assert_eq!(drain(&mut limiter, ACCOUNT, Action::Encrypt, secs(1)).0, 5);
    assert_eq!(drain(&mut limiter, ACCOUNT, GDK, secs(1)).0, 750);
    assert_eq!(
        drain(&mut limiter, ACCOUNT, Action::Decrypt, secs(1)).0,
        100
    );
    assert_eq!(drain(&mut limiter, ACCOUNT, Action::ListKeys, secs(1)).0, 2);
}

/// A limit set after a bucket was made applies to buckets made from then on; the bucket already
/// there keeps the limit it was made with until it is dropped.
#[test]
fn a_new_limit_applies_to_new_buckets() {
    let mut limiter = Limiter::new().with_default(limit(10, 10));
    assert_eq!(drain(&mut limiter, ACCOUNT, GDK, Duration::ZERO).0, 10);
    let mut limiter = limiter.with_limit(GDK, limit(2, 2));
    assert_eq!(limiter.limit(GDK), limit(2, 2));
    // The old bucket refills at 10 per second, up to 10.
    assert_eq!(drain(&mut limiter, ACCOUNT, GDK, secs(5)).0, 10);
    // A new account's bucket has the new limit.
    assert_eq!(drain(&mut limiter, OTHER_ACCOUNT, GDK, secs(5)).0, 2);
}

// ---------------------------------------------------------------------------------------------
// The retry hint

/// The hint is ceil(10^9 / rate) ns rounded up to whole ms, and the token arrives exactly at
/// ceil(10^9 / rate) ns.
#[test]
fn the_hint_is_exact_for_whole_rates() {
    // ceil(10^9 / rate) ns until the next token; the hint is that, rounded up to whole ms.
    for (i, rate) in [1u32, 3, 7, 10, 333, 750, 1000, 1001, 65_537, 1_000_000]
        .into_iter()
        .enumerate()
    {
        let account = format!("acct{i}");
        let mut limiter = Limiter::new().with_default(limit(rate, 1));
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

/// Waiting the hint is enough and one millisecond less is not, for several rates and bursts.
#[test]
fn waiting_the_hint_admits_and_one_ms_less_does_not() {
    for (rate, burst, expected) in [
        (750, 750, 2),
        (3, 1, 334),
        (1, 1, 1000),
        (1000, 1, 1),
        (4, 2, 250),
    ] {
        let mut limiter = Limiter::new().with_default(limit(rate, burst));
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

/// The hint counts what is already refilled of the next token, and is never below 1 ms.
#[test]
fn the_hint_counts_a_partly_refilled_token() {
    let mut limiter = Limiter::new().with_default(limit(1, 1));
    assert!(admits(&mut limiter, ACCOUNT, GDK, Duration::ZERO));
    assert_eq!(hint(&mut limiter, ACCOUNT, GDK, ms(400)), 600);
    assert_eq!(hint(&mut limiter, ACCOUNT, GDK, ms(999)), 1);
    // Under a millisecond to go still says at least 1.
    assert_eq!(hint(&mut limiter, ACCOUNT, GDK, ms(999) + ns(999_999)), 1);
    assert!(admits(&mut limiter, ACCOUNT, GDK, ms(1000)));

    // At the default rate, after 1 ms: 0.75 of a token, a quarter missing: 1/3 ms, so 1.
    let mut limiter = Limiter::new();
    drain(&mut limiter, ACCOUNT, GDK, Duration::ZERO);
    assert_eq!(hint(&mut limiter, ACCOUNT, GDK, ms(1)), 1);
    assert!(admits(&mut limiter, ACCOUNT, GDK, ms(2)));
}

/// A rate of u32::MAX per second still hints at least 1 ms.
#[test]
fn a_very_fast_rate_still_hints_at_least_one_ms() {
    let mut limiter = Limiter::new().with_default(limit(u32::MAX, 1));
    assert!(admits(&mut limiter, ACCOUNT, GDK, secs(1)));
    assert_eq!(hint(&mut limiter, ACCOUNT, GDK, secs(1)), 1);
    assert!(admits(&mut limiter, ACCOUNT, GDK, secs(1) + ns(1)));
}

// ---------------------------------------------------------------------------------------------
// A clock that goes backwards

/// A clock that goes back refills nothing, and the refill resumes from the latest time seen.
#[test]
fn going_back_in_time_mints_no_tokens() {
    let mut limiter = Limiter::new();
    assert_eq!(drain(&mut limiter, ACCOUNT, GDK, secs(10)).0, 750);
    for t in [secs(5), Duration::ZERO, ms(9_999), secs(10)] {
        assert_eq!(drain(&mut limiter, ACCOUNT, GDK, t).0, 0, "at {t:?}");
    }
    // Forward again: the refill counts from 10 s, the latest time seen, not from 0 or 5 s.
    assert_eq!(drain(&mut limiter, ACCOUNT, GDK, ms(10_500)).0, 375);
    assert_eq!(drain(&mut limiter, ACCOUNT, GDK, ms(10_500)).0, 0);
}

/// A clock that jitters back and forth gets no more than the forward steps allow.
#[test]
fn a_jittery_clock_gets_no_more_than_the_rate() {
    let mut limiter = Limiter::new();
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

/// After the clock went back, the retry hint is counted from the `now` the caller passed, not
/// from the bucket's latest time: drained at 10 s and asked at 5 s, the next token is there at
/// 10 s + 4/3 ms on the caller's clock, 5001.33 ms away, so waiting the hint (5002 ms) from
/// 5 s is admitted, and waiting one millisecond less is not.
#[test]
fn the_hint_after_the_clock_went_back_is_measured_from_now() {
    let mut limiter = Limiter::new();
    assert_eq!(drain(&mut limiter, ACCOUNT, GDK, secs(10)).0, 750);
    let h = hint(&mut limiter, ACCOUNT, GDK, secs(5));
    assert_eq!(h, 5002);
    assert!(
        !admits(&mut limiter, ACCOUNT, GDK, secs(5) + ms(h - 1)),
        "the hint of {h} ms is longer than needed"
    );
    assert!(
        admits(&mut limiter, ACCOUNT, GDK, secs(5) + ms(h)),
        "waited the hint of {h} ms from 5 s and was refused"
    );
}

/// A bucket first seen late and then early holds one burst in all, not one per time.
#[test]
fn a_new_bucket_seen_first_late_then_early() {
    let mut limiter = Limiter::new();
    assert!(admits(&mut limiter, ACCOUNT, GDK, secs(10)));
    // Earlier requests spend the rest of the burst, and no more.
    assert_eq!(drain(&mut limiter, ACCOUNT, GDK, secs(1)).0, 749);
    assert_eq!(drain(&mut limiter, ACCOUNT, GDK, secs(10)).0, 0);
    assert_eq!(drain(&mut limiter, ACCOUNT, GDK, secs(11)).0, 750);
}

/// Times at Duration::MAX and extreme limits neither panic nor overflow.
#[test]
fn extreme_times_do_not_panic() {
    let mut limiter = Limiter::new();
    assert_eq!(drain(&mut limiter, ACCOUNT, GDK, Duration::ZERO).0, 750);
    assert_eq!(drain(&mut limiter, ACCOUNT, GDK, Duration::MAX).0, 750);
    assert_eq!(drain(&mut limiter, ACCOUNT, GDK, Duration::MAX).0, 0);
    assert_eq!(drain(&mut limiter, ACCOUNT, GDK, Duration::ZERO).0, 0);
    let mut limiter = Limiter::new().with_default(limit(u32::MAX, u32::MAX));
    assert!(admits(&mut limiter, ACCOUNT, GDK, Duration::MAX));
}

// ---------------------------------------------------------------------------------------------
// Memory: eviction

/// A hundred thousand accounts stay within max_buckets, and a recently used, drained bucket is
/// never evicted (which would hand it a fresh burst).
#[test]
fn a_hundred_thousand_accounts_stay_within_max_buckets() {
    let mut limiter = Limiter::new().with_max_buckets(1000);
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

/// Refilled buckets are evicted before busy ones, and an evicted account loses nothing.
#[test]
fn refilled_buckets_are_evicted_first() {
    let mut limiter = Limiter::new().with_max_buckets(4);
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

/// max_buckets is at least one; the default is 65,536.
#[test]
fn at_least_one_bucket() {
    let mut limiter = Limiter::new().with_max_buckets(0);
    for i in 0..10 {
        assert!(admits(&mut limiter, &format!("a{i}"), GDK, secs(i)));
        assert_eq!(limiter.buckets(), 1);
    }
    assert_eq!(Limiter::DEFAULT_MAX_BUCKETS, 65_536);
}

// ---------------------------------------------------------------------------------------------
// Any operation type

#[test]
fn operations_named_by_static_strings() {
    let mut limiter: RateLimiter<&'static str> = RateLimiter::new()
        .with_default(limit(10, 10))
        .with_limit("GenerateDataKey", limit(2, 2));
    assert_eq!(limiter.limit("GenerateDataKey"), limit(2, 2));
    assert_eq!(limiter.limit("Decrypt"), limit(10, 10));
    assert_eq!(
        drain(&mut limiter, ACCOUNT, "GenerateDataKey", Duration::ZERO).0,
        2
    );
    assert_eq!(
        drain(&mut limiter, ACCOUNT, "Decrypt", Duration::ZERO).0,
        10
    );
    // Names that differ only in case are different operations.
    assert_eq!(
        drain(&mut limiter, ACCOUNT, "decrypt", Duration::ZERO).0,
        10
    );
    assert_eq!(limiter.buckets(), 3);
    assert_eq!(
        drain(&mut limiter, ACCOUNT, "GenerateDataKey", secs(1)).0,
        2
    );
}
