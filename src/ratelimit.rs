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
    /// When the last sweep ran: a full map is swept at most every
    /// [`FULL_SWEEP_EVERY`], not on every call.
    swept: Option<Instant>,
}

const FULL_SWEEP_EVERY: Duration = Duration::from_secs(10);

struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    /// Its tokens at `now`: refilled at capacity/60 per second since `at`.
    fn refilled(&self, capacity: f64, now: Instant) -> f64 {
        (self.tokens + now.duration_since(self.at).as_secs_f64() * capacity / 60.0).min(capacity)
    }
}

/// Whole seconds until a bucket holding `tokens` has one again.
fn wait_secs(tokens: f64, capacity: f64) -> u64 {
    ((1.0 - tokens) / (capacity / 60.0)).ceil().max(1.0) as u64
}

/// Buckets idle this long are forgotten (they would be full anyway).
const IDLE: Duration = Duration::from_secs(600);
/// Buckets kept at most; past it (addresses or emails without number), a
/// client not yet known is refused until idle buckets can be swept out.
const MAX_BUCKETS: usize = 100_000;
const MIN_SWEEP_AT: usize = 10_000;

impl RateLimiter {
    pub fn new(default_per_min: u32) -> RateLimiter {
        RateLimiter {
            default_per_min: default_per_min.max(1),
            buckets: Mutex::new(Buckets {
                map: HashMap::new(),
                sweep_at: MIN_SWEEP_AT,
                swept: None,
            }),
        }
    }

    /// Takes one token for `client`; `Err(seconds)` to wait when none is left.
    pub fn check(&self, client: &str, per_min: Option<i64>) -> Result<(), u64> {
        self.check_at(client, per_min, Instant::now())
    }

    /// Gives back a token [`RateLimiter::check`] took from `client` (what
    /// it paid for turned out free), up to the bucket's capacity.
    pub fn refund(&self, client: &str, per_min: Option<i64>) {
        let capacity = self.capacity(per_min);
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(b) = buckets.map.get_mut(client) {
            b.tokens = (b.tokens + 1.0).min(capacity);
        }
    }

    /// `Some(seconds)` to wait when `client` has no token left; takes none.
    pub fn exhausted(&self, client: &str, per_min: Option<i64>) -> Option<u64> {
        self.exhausted_at(client, per_min, Instant::now())
    }

    fn exhausted_at(&self, client: &str, per_min: Option<i64>, now: Instant) -> Option<u64> {
        let capacity = self.capacity(per_min);
        let buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let tokens = buckets.map.get(client)?.refilled(capacity, now);
        (tokens < 1.0).then(|| wait_secs(tokens, capacity))
    }

    fn capacity(&self, per_min: Option<i64>) -> f64 {
        per_min
            .filter(|&n| n > 0)
            .map_or(self.default_per_min as f64, |n| n as f64)
    }

    fn check_at(&self, client: &str, per_min: Option<i64>, now: Instant) -> Result<(), u64> {
        self.check_all_at(&[(client, per_min)], now)
    }

    /// Takes one token from each of `buckets` (a client and its limit), or
    /// none when any of them has none left: `Err(seconds)` until all of them
    /// have one again. One lock for all, so concurrent callers never each
    /// hold a token of a bucket the other needed.
    pub fn check_all(&self, buckets: &[(&str, Option<i64>)]) -> Result<(), u64> {
        self.check_all_at(buckets, Instant::now())
    }

    /// Gives back the tokens [`RateLimiter::check_all`] took.
    pub fn refund_all(&self, buckets: &[(&str, Option<i64>)]) {
        for (client, per_min) in buckets {
            self.refund(client, *per_min);
        }
    }

    fn check_all_at(&self, wanted: &[(&str, Option<i64>)], now: Instant) -> Result<(), u64> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let due = buckets.map.len() < MAX_BUCKETS
            || buckets
                .swept
                .is_none_or(|t| now.saturating_duration_since(t) >= FULL_SWEEP_EVERY);
        if buckets.map.len() >= buckets.sweep_at && due {
            buckets.swept = Some(now);
            buckets.map.retain(|_, b| now.duration_since(b.at) < IDLE);
            buckets.sweep_at = (buckets.map.len() * 2).clamp(MIN_SWEEP_AT, MAX_BUCKETS);
        }
        // Full of clients seen in the last minutes: a new one waits (known
        // ones keep their buckets; forgetting them would refill them all).
        let unknown = wanted
            .iter()
            .filter(|(c, _)| !buckets.map.contains_key(*c))
            .count();
        if unknown > 0 && buckets.map.len() + unknown > MAX_BUCKETS {
            return Err(60);
        }
        let mut wait = None;
        for &(client, per_min) in wanted {
            let capacity = self.capacity(per_min);
            let b = buckets.map.entry(client.to_string()).or_insert(Bucket {
                tokens: capacity,
                at: now,
            });
            b.tokens = b.refilled(capacity, now);
            b.at = now;
            if b.tokens < 1.0 {
                wait = wait.max(Some(wait_secs(b.tokens, capacity)));
            }
        }
        if let Some(wait) = wait {
            return Err(wait);
        }
        for (client, _) in wanted {
            if let Some(b) = buckets.map.get_mut(*client) {
                b.tokens -= 1.0;
            }
        }
        Ok(())
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
        let later = t0 + IDLE + Duration::from_secs(1);
        for i in 0..6_000 {
            assert!(rl.check_at(&format!("old{i}"), None, t0).is_ok());
        }
        for i in 0..4_000 {
            assert!(rl.check_at(&format!("new{i}"), None, later).is_ok());
        }
        let state = || {
            let b = rl.buckets.lock().expect("lock");
            (b.map.len(), b.sweep_at)
        };
        assert_eq!(state(), (10_000, MIN_SWEEP_AT));
        // The next new client sweeps the idle ones out; the next sweep waits
        // for twice what is left, at least the floor.
        assert!(rl.check_at("fresh", None, later).is_ok());
        assert_eq!(state(), (4_001, MIN_SWEEP_AT));
        for i in 0..7_000 {
            assert!(rl.check_at(&format!("more{i}"), None, later).is_ok());
        }
        assert_eq!(state(), (11_001, 2 * 10_000), "sweep at 10k kept all (none idle)");
    }

    #[test]
    fn a_full_map_refuses_new_clients_and_keeps_known_ones() {
        let rl = RateLimiter::new(60);
        let t0 = Instant::now();
        for i in 0..MAX_BUCKETS - 1 {
            let _ = rl.check_at(&format!("c{i}"), Some(2), t0);
        }
        // One place left: two newcomers together take none of it (and no
        // token of a known bucket they came with).
        assert_eq!(
            rl.check_all_at(&[("c0", Some(2)), ("n1", Some(2)), ("n2", Some(2))], t0),
            Err(60)
        );
        assert_eq!(rl.buckets.lock().expect("lock").map.len(), MAX_BUCKETS - 1);
        let _ = rl.check_at(&format!("c{}", MAX_BUCKETS - 1), Some(2), t0);
        assert_eq!(rl.buckets.lock().expect("lock").map.len(), MAX_BUCKETS);
        assert_eq!(rl.check_at("newcomer", Some(2), t0), Err(60));
        // A known client keeps its (partly spent) bucket: nothing refilled.
        assert!(rl.check_at("c0", Some(2), t0).is_ok());
        assert!(
            rl.check_at("c0", Some(2), t0).is_err(),
            "c0's bucket was refilled"
        );
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

    #[test]
    fn check_all_takes_from_every_bucket_or_from_none() {
        let rl = RateLimiter::new(60);
        let t0 = Instant::now();
        let both = [("narrow", Some(1)), ("wide", Some(3))];
        assert!(rl.check_all_at(&both, t0).is_ok());
        // The narrow bucket is empty: nothing is taken from the wide one.
        assert_eq!(rl.check_all_at(&both, t0), Err(60));
        assert_eq!(rl.check_all_at(&both, t0), Err(60));
        assert!(rl.check_at("wide", Some(3), t0).is_ok());
        assert!(rl.check_at("wide", Some(3), t0).is_ok());
        assert!(
            rl.check_at("wide", Some(3), t0).is_err(),
            "two refusals took none of its 3"
        );
        // The longest wait of the empty buckets.
        assert_eq!(rl.check_all_at(&both, t0 + Duration::from_secs(30)), Err(30));
        rl.refund_all(&both);
        assert!(rl.check_all_at(&both, t0 + Duration::from_secs(30)).is_ok());
    }

    #[test]
    fn a_refund_gives_one_token_back_up_to_the_capacity() {
        let rl = RateLimiter::new(60);
        let t0 = Instant::now();
        assert!(rl.check_at("r", Some(2), t0).is_ok());
        assert!(rl.check_at("r", Some(2), t0).is_ok());
        assert!(rl.check_at("r", Some(2), t0).is_err());
        rl.refund("r", Some(2));
        assert!(rl.check_at("r", Some(2), t0).is_ok(), "the refund came back");
        assert!(rl.check_at("r", Some(2), t0).is_err());
        for _ in 0..5 {
            rl.refund("r", Some(2));
        }
        assert!(rl.check_at("r", Some(2), t0).is_ok());
        assert!(rl.check_at("r", Some(2), t0).is_ok());
        assert!(rl.check_at("r", Some(2), t0).is_err(), "never past the capacity");
        rl.refund("unknown", Some(2));
        assert!(!rl.buckets.lock().expect("lock").map.contains_key("unknown"));
    }
}
