//! Per-client request rate limits (SPEC §7): a token bucket per credential.
//!
//! Each client may burst up to its per-minute limit and refills at
//! limit/60 tokens per second. A refused request learns how many seconds
//! until one token is back (`Retry-After`).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct RateLimiter {
    default_per_min: u32,
    buckets: Mutex<Buckets>,
}

struct Buckets {
    map: HashMap<String, Bucket>,
    /// The size at which idle buckets are next swept out: twice what a
    /// sweep left, so sweeping costs O(1) per bucket created.
    sweep_at: usize,
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Buckets idle this long are forgotten (they would be full anyway).
const IDLE: Duration = Duration::from_secs(600);
/// Buckets kept at most; past it (addresses without number) all are
/// forgotten, which at worst refills everyone's allowance.
const MAX_BUCKETS: usize = 100_000;

impl RateLimiter {
    pub fn new(default_per_min: u32) -> RateLimiter {
        RateLimiter {
            default_per_min: default_per_min.max(1),
            buckets: Mutex::new(Buckets {
                map: HashMap::new(),
                sweep_at: 10_000,
            }),
        }
    }

    /// Takes one token for `client`; `Err(seconds)` to wait when none is left.
    pub fn check(&self, client: &str, per_min: Option<i64>) -> Result<(), u64> {
        self.check_at(client, per_min, Instant::now())
    }

    fn capacity(&self, per_min: Option<i64>) -> f64 {
        per_min
            .filter(|&n| n > 0)
            .map_or(self.default_per_min as f64, |n| n as f64)
    }

    fn check_at(&self, client: &str, per_min: Option<i64>, now: Instant) -> Result<(), u64> {
        let capacity = self.capacity(per_min);
        let rate = capacity / 60.0;
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.map.len() >= buckets.sweep_at {
            buckets.map.retain(|_, b| now.duration_since(b.at) < IDLE);
            if buckets.map.len() >= MAX_BUCKETS {
                buckets.map.clear();
            }
            buckets.sweep_at = (buckets.map.len() * 2).max(10_000);
        }
        let b = buckets.map.entry(client.to_string()).or_insert(Bucket {
            tokens: capacity,
            at: now,
        });
        b.tokens = (b.tokens + now.duration_since(b.at).as_secs_f64() * rate).min(capacity);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - b.tokens) / rate).ceil().max(1.0) as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bursts_to_the_limit_then_refills() {
        let rl = RateLimiter::new(60);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(rl.check_at("k", Some(3), t0).is_ok());
        }
        assert_eq!(rl.check_at("k", Some(3), t0), Err(20));
        // Another client has its own bucket.
        assert!(rl.check_at("other", Some(3), t0).is_ok());
        // 3/min refills one token every 20 s.
        assert!(rl.check_at("k", Some(3), t0 + Duration::from_secs(20)).is_ok());
        assert!(rl.check_at("k", Some(3), t0 + Duration::from_secs(21)).is_err());
        // Without a per-key limit the default applies.
        for _ in 0..60 {
            assert!(rl.check_at("d", None, t0).is_ok());
        }
        assert_eq!(rl.check_at("d", None, t0), Err(1));
    }

    #[test]
    fn idle_buckets_are_swept_when_the_map_has_doubled() {
        let rl = RateLimiter::new(60);
        let t0 = Instant::now();
        for i in 0..10_000 {
            assert!(rl.check_at(&format!("peer{i}"), None, t0).is_ok());
        }
        let size = || rl.buckets.lock().expect("lock").map.len();
        assert_eq!(size(), 10_000);
        // The next new client, past the idle time, sweeps the idle ones out.
        let later = t0 + IDLE + Duration::from_secs(1);
        assert!(rl.check_at("fresh", None, later).is_ok());
        assert_eq!(size(), 1);
        // The next sweep waits until the map reaches its floor again.
        assert_eq!(rl.buckets.lock().expect("lock").sweep_at, 10_000);
    }
}
