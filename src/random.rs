//! Randomness that is not a secret (token ids, etags, request ids) comes in through a
//! [`Random`] handle, as time comes through [`crate::clock::Clock`], so tests can make
//! it deterministic. Client ids and secrets always come from the OS generator
//! ([`crate::secrets`]), never through this handle.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::cell::RefCell;
use std::sync::Mutex;

/// Source of unique, unpredictable identifiers.
pub trait Random: Send + Sync + 'static {
    /// Fills `buf` with random bytes.
    fn fill(&self, buf: &mut [u8]);

    /// `bytes` random bytes, URL-safe base64 without padding: one allocation, the string
    /// (up to 64 bytes are drawn on the stack).
    fn token(&self, bytes: usize) -> String {
        let mut stack = [0u8; 64];
        let mut heap = Vec::new();
        let buf = if bytes <= stack.len() {
            &mut stack[..bytes]
        } else {
            heap.resize(bytes, 0);
            &mut heap[..]
        };
        self.fill(buf);
        URL_SAFE_NO_PAD.encode(buf)
    }
}

/// The OS-seeded generator of aws-lc, drawn in blocks of [`BLOCK`] bytes per thread: a
/// token id costs a copy, not a generator call (each of which mixes in fresh hardware
/// randomness and runs AES). The bytes are as unpredictable as the generator's; a block
/// handed out is zeroed in the buffer.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemRandom;

/// Bytes drawn from the generator at once.
pub const BLOCK: usize = 4096;

struct Block {
    bytes: [u8; BLOCK],
    next: usize,
}

thread_local! {
    static BLOCKS: RefCell<Block> = const {
        RefCell::new(Block {
            bytes: [0; BLOCK],
            next: BLOCK,
        })
    };
}

fn generate(buf: &mut [u8]) {
    // aws-lc's RNG is seeded from the OS; failure means the OS has no entropy source.
    aws_lc_rs::rand::fill(buf).expect("OS random number generator unavailable");
}

impl Random for SystemRandom {
    fn fill(&self, buf: &mut [u8]) {
        if buf.len() > BLOCK / 8 {
            return generate(buf);
        }
        let drawn = BLOCKS.try_with(|block| {
            let mut block = block.borrow_mut();
            if block.next + buf.len() > BLOCK {
                generate(&mut block.bytes);
                block.next = 0;
            }
            let range = block.next..block.next + buf.len();
            buf.copy_from_slice(&block.bytes[range.clone()]);
            block.bytes[range].fill(0);
            block.next += buf.len();
        });
        // A thread being torn down has no buffer: draw directly.
        if drawn.is_err() {
            generate(buf);
        }
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
        // Across several blocks (and their refills), no 16-byte id repeats, and every
        // byte value turns up: not a block of zeros handed out twice.
        let mut seen = std::collections::HashSet::new();
        let mut values = [false; 256];
        for _ in 0..3 * BLOCK / 16 {
            let mut id = [0u8; 16];
            SystemRandom.fill(&mut id);
            assert!(seen.insert(id), "an id repeated");
            for b in id {
                values[usize::from(b)] = true;
            }
        }
        assert!(values.iter().all(|v| *v));
        // Larger draws bypass the buffer.
        assert_eq!(SystemRandom.token(100).len(), 134);
    }
}
