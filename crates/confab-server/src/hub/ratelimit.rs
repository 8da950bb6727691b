//! A token bucket: `rate` tokens a second up to `burst`. One per connection (all frames) and
//! one per user (messages, over all their sessions); [`Keyed`] holds one per key (an address,
//! a username) for the abuse limits.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    pub fn new(rate: f64, burst: f64) -> Self {
        Self {
            rate,
            burst,
            tokens: burst,
            last: Instant::now(),
        }
    }

    /// Takes a token if one is left.
    pub fn try_take(&mut self) -> bool {
        self.try_take_at(Instant::now())
    }

    /// Takes a token whether or not one is left, owing at most `burst`: for what was spent
    /// elsewhere (a message the same user sent through another node).
    pub fn charge(&mut self) {
        self.refill(Instant::now());
        self.tokens = (self.tokens - 1.0).max(-self.burst);
    }

    /// How long until a token is there (zero when one is).
    pub fn wait(&mut self) -> Duration {
        self.refill(Instant::now());
        if self.tokens >= 1.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64((1.0 - self.tokens) / self.rate)
        }
    }

    /// Whether the bucket is full (so it can be forgotten: a new one is the same).
    pub fn is_full(&mut self) -> bool {
        self.refill(Instant::now());
        self.tokens >= self.burst
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
    }

    fn try_take_at(&mut self, now: Instant) -> bool {
        self.refill(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// A bucket per key, made on first use. Full buckets are forgotten once the map grows, so it
/// stays as large as the keys that are actually being limited.
#[derive(Debug)]
pub struct Keyed<K> {
    buckets: Mutex<HashMap<K, TokenBucket>>,
    rate: f64,
    burst: f64,
}

/// Keys kept before full buckets are swept out.
const SWEEP_AT: usize = 4096;

impl<K: Hash + Eq + Clone> Keyed<K> {
    pub fn new(rate: f64, burst: f64) -> Self {
        Self {
            buckets: Mutex::new(HashMap::new()),
            rate,
            burst,
        }
    }

    /// Takes a token for `key`, or says how long until one is there.
    pub fn take(&self, key: &K) -> Result<(), Duration> {
        let mut buckets = self.buckets.lock().expect("buckets lock");
        if buckets.len() >= SWEEP_AT && !buckets.contains_key(key) {
            buckets.retain(|_, bucket| !bucket.is_full());
        }
        let bucket = buckets
            .entry(key.clone())
            .or_insert_with(|| TokenBucket::new(self.rate, self.burst));
        if bucket.try_take() {
            Ok(())
        } else {
            Err(bucket.wait())
        }
    }

    /// Ok when `key` has a token left (none is taken), else how long until it has.
    pub fn check(&self, key: &K) -> Result<(), Duration> {
        let mut buckets = self.buckets.lock().expect("buckets lock");
        match buckets.get_mut(key).map(TokenBucket::wait) {
            Some(wait) if !wait.is_zero() => Err(wait),
            _ => Ok(()),
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.buckets.lock().unwrap().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_buckets_are_apart_and_say_how_long_to_wait() {
        let keyed = Keyed::new(1.0, 2.0);
        assert!(keyed.check(&"a").is_ok());
        assert!(keyed.take(&"a").is_ok());
        assert!(keyed.take(&"a").is_ok());
        let wait = keyed.take(&"a").unwrap_err();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(1),
            "{wait:?}"
        );
        assert!(keyed.check(&"a").is_err());
        assert!(keyed.take(&"b").is_ok(), "another key has its own bucket");
    }

    #[test]
    fn full_buckets_are_swept_when_the_map_grows() {
        let keyed = Keyed::new(1000.0, 1.0);
        for i in 0..SWEEP_AT {
            keyed.take(&i).unwrap();
        }
        std::thread::sleep(Duration::from_millis(5));
        keyed.take(&usize::MAX).unwrap();
        assert!(keyed.len() < 10, "{}", keyed.len());
    }

    #[test]
    fn charges_owe_at_most_a_burst() {
        let mut bucket = TokenBucket::new(0.001, 3.0);
        bucket.charge();
        bucket.charge();
        assert!(bucket.try_take(), "one of three left");
        assert!(!bucket.try_take());
        for _ in 0..100 {
            bucket.charge();
        }
        assert!(bucket.tokens >= -3.0, "{}", bucket.tokens);
    }

    #[test]
    fn allows_burst_then_refills_at_rate() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(10.0, 3.0);
        bucket.last = start;
        assert!((0..3).all(|_| bucket.try_take_at(start)));
        assert!(!bucket.try_take_at(start));
        assert!(bucket.try_take_at(start + Duration::from_millis(100)));
        assert!(!bucket.try_take_at(start + Duration::from_millis(100)));
        let later = start + Duration::from_secs(10);
        assert_eq!((0..10).filter(|_| bucket.try_take_at(later)).count(), 3);
    }
}
