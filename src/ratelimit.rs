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
    buckets: Mutex<HashMap<String, Bucket>>,
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Buckets idle this long are forgotten (they would be full anyway).
const IDLE: Duration = Duration::from_secs(600);

impl RateLimiter {
    pub fn new(default_per_min: u32) -> RateLimiter {
        RateLimiter {
            default_per_min: default_per_min.max(1),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `client`; `Err(seconds)` to wait when none is left.
    pub fn check(&self, client: &str, per_min: Option<i64>) -> Result<(), u64> {
        self.check_at(client, per_min, Instant::now())
    }

    /// `Some(seconds)` to wait when `client` has no token left; takes none.
    pub fn exhausted(&self, client: &str, per_min: Option<i64>) -> Option<u64> {
        self.exhausted_at(client, per_min, Instant::now())
    }

    fn exhausted_at(&self, client: &str, per_min: Option<i64>, now: Instant) -> Option<u64> {
        let capacity = self.capacity(per_min);
        let rate = capacity / 60.0;
        let buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let b = buckets.get(client)?;
        let tokens = (b.tokens + now.duration_since(b.at).as_secs_f64() * rate).min(capacity);
        (tokens < 1.0).then(|| ((1.0 - tokens) / rate).ceil().max(1.0) as u64)
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
        if buckets.len() > 10_000 {
            buckets.retain(|_, b| now.duration_since(b.at) < IDLE);
        }
        let b = buckets.entry(client.to_string()).or_insert(Bucket {
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
    fn exhausted_looks_without_taking() {
        let rl = RateLimiter::new(60);
        let t0 = Instant::now();
        assert_eq!(
            rl.exhausted_at("f", Some(2), t0),
            None,
            "an unknown client is not exhausted"
        );
        assert!(rl.check_at("f", Some(2), t0).is_ok());
        assert_eq!(rl.exhausted_at("f", Some(2), t0), None);
        assert_eq!(rl.exhausted_at("f", Some(2), t0), None, "looking took nothing");
        assert!(rl.check_at("f", Some(2), t0).is_ok());
        assert_eq!(rl.exhausted_at("f", Some(2), t0), Some(30));
        assert_eq!(rl.exhausted_at("f", Some(2), t0 + Duration::from_secs(30)), None);
    }
}
