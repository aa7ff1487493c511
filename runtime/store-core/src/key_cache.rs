//! Subject keys kept briefly for sealing.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use steward_events::SubjectId;

use crate::seal::SecretKey;

/// Unwrapped subject keys recently used to *seal*, so that a busy writer does
/// not ask the vault on every append. They are never used to open: reads
/// always ask the vault, so an erasure anywhere takes effect on the next read.
/// The price of the time-to-live: for up to `ttl` after another process
/// erases a subject, an append about them may still be sealed (under the
/// destroyed key, so it reads as erased) instead of refused. An erasure in
/// this process forgets the key at once.
#[derive(Debug)]
pub(crate) struct WriteKeyCache {
    ttl: Duration,
    entries: Mutex<HashMap<SubjectId, (SecretKey, Instant)>>,
}

/// Most keys kept; past it the cache starts over.
const MAX_ENTRIES: usize = 10_000;

impl WriteKeyCache {
    pub(crate) fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn entries(&self) -> MutexGuard<'_, HashMap<SubjectId, (SecretKey, Instant)>> {
        // A panic while holding the lock leaves a map that is still valid.
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The cached key, if it is fresh.
    pub(crate) fn get(&self, subject: &SubjectId) -> Option<SecretKey> {
        let entries = self.entries();
        let (key, since) = entries.get(subject)?;
        (since.elapsed() < self.ttl).then(|| key.clone())
    }

    pub(crate) fn insert(&self, subject: SubjectId, key: SecretKey) {
        if self.ttl.is_zero() {
            return;
        }
        let mut entries = self.entries();
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(subject, (key, Instant::now()));
    }

    pub(crate) fn forget(&self, subject: &SubjectId) {
        self.entries().remove(subject);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_expire_and_can_be_forgotten() {
        let subject = SubjectId::parse("person-1").expect("valid");
        let key = SecretKey::generate().expect("key");
        let cache = WriteKeyCache::new(Duration::from_secs(60));
        cache.insert(subject.clone(), key.clone());
        assert_eq!(
            cache.get(&subject).map(|k| *k.expose()),
            Some(*key.expose())
        );
        cache.forget(&subject);
        assert!(cache.get(&subject).is_none());

        let expired = WriteKeyCache::new(Duration::from_millis(1));
        expired.insert(subject.clone(), key);
        std::thread::sleep(Duration::from_millis(5));
        assert!(expired.get(&subject).is_none());
    }
}
