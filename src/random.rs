//! Randomness that is not a secret (token ids, etags, request ids) comes in through a
//! [`Random`] handle, as time comes through [`crate::clock::Clock`], so tests can make
//! it deterministic. Client ids and secrets always come from the OS generator
//! ([`crate::secrets`]), never through this handle.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::sync::Mutex;

/// Source of unique, unpredictable identifiers.
pub trait Random: Send + Sync + 'static {
    /// Fills `buf` with random bytes.
    fn fill(&self, buf: &mut [u8]);

    /// `bytes` random bytes, URL-safe base64 without padding.
    fn token(&self, bytes: usize) -> String {
        let mut buf = vec![0u8; bytes];
        self.fill(&mut buf);
        URL_SAFE_NO_PAD.encode(&buf)
    }
}

/// The OS generator (through aws-lc).
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemRandom;

impl Random for SystemRandom {
    fn fill(&self, buf: &mut [u8]) {
        // aws-lc's RNG is seeded from the OS; failure means the OS has no entropy source.
        aws_lc_rs::rand::fill(buf).expect("OS random number generator unavailable");
    }
}

/// A repeatable sequence (SplitMix64) for tests: the same seed gives the same ids.
#[derive(Debug)]
pub struct SeededRandom(Mutex<u64>);

impl SeededRandom {
    /// A sequence starting from `seed`.
    pub fn new(seed: u64) -> Self {
        Self(Mutex::new(seed))
    }
}

impl Random for SeededRandom {
    fn fill(&self, buf: &mut [u8]) {
        let mut state = self.0.lock().unwrap_or_else(|e| e.into_inner());
        for chunk in buf.chunks_mut(8) {
            *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = *state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^= z >> 31;
            chunk.copy_from_slice(&z.to_le_bytes()[..chunk.len()]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_repeats_and_different_seeds_differ() {
        let (a, b, c) = (
            SeededRandom::new(7),
            SeededRandom::new(7),
            SeededRandom::new(8),
        );
        let first = a.token(16);
        assert_eq!(first, b.token(16));
        assert_ne!(first, c.token(16));
        assert_ne!(first, a.token(16), "a sequence moves on");
        assert_eq!(first.len(), 22);
    }

    #[test]
    fn the_system_generator_does_not_repeat() {
        assert_ne!(SystemRandom.token(16), SystemRandom.token(16));
    }
}
