//! Login rate limits: a generic cell rate (GCRA, the `governor` crate)
//! per client address and per username, so neither one address trying many
//! names nor many addresses trying one name get far.

use std::net::IpAddr;
use std::num::NonZeroU32;

use actix_web::HttpRequest;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::problem::ApiError;

/// Attempts allowed per address and per username: a burst, then one per
/// interval.
#[derive(Debug, Clone, Copy)]
pub struct LoginLimitsConfig {
    /// Attempts from one address in a burst.
    pub per_address_burst: u32,
    /// Attempts at one username in a burst.
    pub per_username_burst: u32,
    /// How often one more attempt is allowed after a burst, in seconds.
    pub refill_seconds: u64,
}

impl Default for LoginLimitsConfig {
    fn default() -> Self {
        Self {
            per_address_burst: 20,
            per_username_burst: 5,
            refill_seconds: 12,
        }
    }
}

/// Keys a limiter holds before it forgets those back at full allowance.
const PRUNE_ABOVE: usize = 10_000;

/// Password hashes computed at once (each takes about 19 MiB and a core
/// for tens of milliseconds): a flood of logins waits instead of
/// exhausting memory.
const CONCURRENT_HASHES: usize = 2;

/// The limiters, and the gate in front of password hashing.
pub struct LoginLimits {
    by_address: DefaultKeyedRateLimiter<IpAddr>,
    by_username: DefaultKeyedRateLimiter<String>,
    hashing: tokio::sync::Semaphore,
}

impl std::fmt::Debug for LoginLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginLimits").finish_non_exhaustive()
    }
}

fn quota(burst: u32, refill_seconds: u64) -> Quota {
    let burst = NonZeroU32::new(burst.max(1)).unwrap_or(NonZeroU32::MIN);
    Quota::with_period(std::time::Duration::from_secs(refill_seconds.max(1)))
        .unwrap_or_else(|| Quota::per_minute(NonZeroU32::MIN))
        .allow_burst(burst)
}

impl LoginLimits {
    /// Limiters with `config`'s quotas.
    pub fn new(config: LoginLimitsConfig) -> Self {
        Self {
            by_address: RateLimiter::keyed(quota(config.per_address_burst, config.refill_seconds)),
            by_username: RateLimiter::keyed(quota(
                config.per_username_burst,
                config.refill_seconds,
            )),
            hashing: tokio::sync::Semaphore::new(CONCURRENT_HASHES),
        }
    }

    /// Waits for a turn to hash a password; the turn ends with the permit.
    pub async fn hashing_turn(&self) -> Result<tokio::sync::SemaphorePermit<'_>, ApiError> {
        self.hashing.acquire().await.map_err(ApiError::internal)
    }

    /// Forgets keys back at full allowance once a limiter holds many, so
    /// that rotating addresses and names cannot grow it without bound.
    fn prune(&self) {
        if self.by_address.len() > PRUNE_ABOVE {
            self.by_address.retain_recent();
        }
        if self.by_username.len() > PRUNE_ABOVE {
            self.by_username.retain_recent();
        }
    }

    /// Keys held now (addresses, usernames).
    pub fn keys(&self) -> (usize, usize) {
        (self.by_address.len(), self.by_username.len())
    }

    /// Counts an attempt from the request's address.
    pub fn check_address(&self, request: &HttpRequest) -> Result<(), ApiError> {
        let Some(address) = request.peer_addr().map(|peer| peer.ip()) else {
            return Ok(());
        };
        self.by_address
            .check_key(&address)
            .map_err(|not_until| too_many(&not_until))
    }

    /// Counts an attempt at `username`.
    pub fn check_username(&self, username: &str) -> Result<(), ApiError> {
        self.prune();
        self.by_username
            .check_key(&username.trim().to_lowercase())
            .map_err(|not_until| too_many(&not_until))
    }
}

fn too_many(not_until: &governor::NotUntil<<DefaultClock as Clock>::Instant>) -> ApiError {
    let wait = not_until.wait_time_from(DefaultClock::default().now());
    ApiError::TooManyRequests {
        retry_after: wait.as_secs().max(1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_username_gets_its_burst_then_waits() {
        let limits = LoginLimits::new(LoginLimitsConfig {
            per_address_burst: 100,
            per_username_burst: 3,
            refill_seconds: 60,
        });
        for attempt in 1..=3 {
            assert!(limits.check_username("Alex").is_ok(), "attempt {attempt}");
        }
        match limits.check_username(" alex ") {
            Err(ApiError::TooManyRequests { retry_after }) => assert!(retry_after >= 1),
            other => panic!("the fourth attempt is refused, not {other:?}"),
        }
        assert!(
            limits.check_username("sam").is_ok(),
            "other names are not held up"
        );
    }

    #[tokio::test]
    async fn at_most_two_passwords_are_hashed_at_once() {
        let limits = LoginLimits::new(LoginLimitsConfig::default());
        let one = limits.hashing_turn().await.expect("a turn");
        let two = limits.hashing_turn().await.expect("a turn");
        let third =
            tokio::time::timeout(std::time::Duration::from_millis(50), limits.hashing_turn());
        assert!(third.await.is_err(), "a third hash waits for a turn");
        drop(one);
        let third = tokio::time::timeout(std::time::Duration::from_secs(5), limits.hashing_turn());
        assert!(third.await.is_ok(), "and gets one when a turn ends");
        drop(two);
    }

    #[test]
    fn many_names_are_forgotten_once_back_at_full_allowance() {
        let limits = LoginLimits::new(LoginLimitsConfig {
            per_address_burst: 100,
            per_username_burst: 3,
            refill_seconds: 1,
        });
        for n in 0..=PRUNE_ABOVE {
            assert!(limits.check_username(&format!("name-{n}")).is_ok());
        }
        assert!(limits.keys().1 > PRUNE_ABOVE);
        // governor forgets a key one period after it is back to full: here
        // two seconds after its one attempt.
        std::thread::sleep(std::time::Duration::from_millis(2_200));
        assert!(limits.check_username("one-more").is_ok());
        assert!(
            limits.keys().1 < 10,
            "the map was pruned, not left to grow: {:?}",
            limits.keys()
        );
    }
}
