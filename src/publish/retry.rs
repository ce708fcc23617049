//! Exponential backoff with jitter, for requests that failed in a way worth
//! repeating (throttling, 5xx, timeouts, dropped connections).
//!
//! Pure arithmetic plus a cheap random source; the S3 target decides which
//! failures are retryable and sleeps. "Equal jitter": the wait before retry
//! `r` is uniformly random in `[d/2, d]` with `d = min(cap, base·2^(r-1))`,
//! so concurrent uploads that failed together do not retry together, and no
//! wait is ever near zero (a throttled store gets real relief).

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

/// How often and how patiently to retry one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Attempts in all, the first one included (at least 1).
    pub attempts: u32,
    /// The nominal wait before the first retry.
    pub base: Duration,
    /// The longest nominal wait.
    pub cap: Duration,
}

impl Backoff {
    /// The default: 6 attempts, waits of about 0.2, 0.4, 0.8, 1.6 and 3.2 s
    /// (at most ~6 s in all), so a store that restarts or a short outage is
    /// ridden out and an unreachable endpoint is reported within seconds.
    pub const DEFAULT: Backoff = Backoff {
        attempts: 6,
        base: Duration::from_millis(200),
        cap: Duration::from_secs(5),
    };

    /// The wait before retry number `retry` (1 = the first retry), jittered
    /// by `random`.
    pub fn delay(&self, retry: u32, random: u64) -> Duration {
        let shift = retry.saturating_sub(1).min(20);
        let nominal = self
            .base
            .checked_mul(1u32 << shift)
            .unwrap_or(self.cap)
            .min(self.cap);
        let nominal_ms = u64::try_from(nominal.as_millis()).unwrap_or(u64::MAX);
        let half = nominal_ms / 2;
        let spread = nominal_ms - half;
        Duration::from_millis(half + random % (spread + 1))
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff::DEFAULT
    }
}

/// A random number for jitter (not for cryptography): std's per-process
/// random hash keys, mixed with a counter so successive calls differ.
pub fn jitter_seed() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_grow_exponentially_within_jitter_bounds_and_cap() {
        let b = Backoff::DEFAULT;
        for retry in 1..=10u32 {
            let nominal = (200u64 << (retry - 1)).min(5000);
            for r in [0, 1, 7, u64::MAX, jitter_seed()] {
                let d = b.delay(retry, r).as_millis() as u64;
                assert!(
                    d >= nominal / 2 && d <= nominal,
                    "retry {retry}: {d} ms not in [{}, {nominal}]",
                    nominal / 2
                );
            }
        }
        assert_eq!(b.delay(1000, 0), Duration::from_millis(2500));
    }

    #[test]
    fn jitter_differs_between_calls() {
        let a: Vec<u64> = (0..8).map(|_| jitter_seed()).collect();
        let distinct: std::collections::BTreeSet<_> = a.iter().collect();
        assert!(distinct.len() > 4, "{a:?}");
    }
}
