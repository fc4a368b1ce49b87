//! argon2id on a dedicated pool: one thread per core by default, never on the async
//! executor. Admission is bounded: when a job would wait longer than `max_wait` (from the
//! queue length and the measured cost of one job), or the queue is full, the caller gets
//! [`HashError::Overloaded`] at once instead of queueing without limit. Memory therefore
//! stays bounded (one argon2 working set of 19 MiB per thread plus a short queue) under
//! any flood.

use argon2::password_hash::{PasswordHash, PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use aws_lc_rs::constant_time;
use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

use super::ClientSecret;

/// OWASP's minimum for argon2id: m=19456 KiB, t=2, p=1.
const ARGON2_M_KIB: u32 = 19_456;
const ARGON2_T: u32 = 2;
const ARGON2_P: u32 = 1;
/// Hard cap on queued jobs per thread, whatever the measured cost.
const QUEUE_PER_THREAD: usize = 16;

/// The hashing pool could not do the job (never "wrong secret").
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// Too much queued work: answer 503 and let the client retry.
    #[error("secret verification is overloaded")]
    Overloaded,
    /// A worker died or the stored hash is unreadable.
    #[error("secret hashing failed: {0}")]
    Internal(&'static str),
}

type Job = Box<dyn FnOnce() + Send>;

/// Counters for `/metrics`.
#[derive(Debug, Default)]
pub struct HasherStats {
    /// Jobs waiting for a thread now.
    pub queued: AtomicUsize,
    /// Jobs run.
    pub completed: AtomicU64,
    /// Jobs refused because of overload.
    pub rejected: AtomicU64,
    /// Total microseconds jobs waited in the queue.
    pub wait_micros: AtomicU64,
}

/// argon2id hashing and verification with bounded admission.
pub struct SecretHasher {
    argon2: Arc<Argon2<'static>>,
    sender: SyncSender<Job>,
    threads: usize,
    max_wait: Duration,
    /// Running average of one job in microseconds (execution only).
    avg_job_micros: Arc<AtomicU64>,
    stats: Arc<HasherStats>,
}

impl SecretHasher {
    /// A pool of `threads` workers refusing work that would wait longer than `max_wait`.
    pub fn new(threads: usize, max_wait: Duration) -> Self {
        let threads = threads.max(1);
        let params = Params::new(ARGON2_M_KIB, ARGON2_T, ARGON2_P, None)
            .expect("static argon2 parameters are valid");
        let (sender, receiver) = sync_channel::<Job>(threads * QUEUE_PER_THREAD);
        let receiver = Arc::new(Mutex::new(receiver));
        for n in 0..threads {
            let receiver = Arc::clone(&receiver);
            let _ = std::thread::Builder::new()
                .name(format!("keymint-argon2-{n}"))
                .spawn(move || worker(&receiver));
        }
        Self {
            argon2: Arc::new(Argon2::new(Algorithm::Argon2id, Version::V0x13, params)),
            sender,
            threads,
            max_wait,
            avg_job_micros: Arc::new(AtomicU64::new(0)),
            stats: Arc::new(HasherStats::default()),
        }
    }

    /// One thread per available core, at most 250 ms of queueing.
    pub fn per_core() -> Self {
        Self::new(
            std::thread::available_parallelism().map_or(1, |n| n.get()),
            Duration::from_millis(250),
        )
    }

    /// Hashes `secret` into an argon2id PHC string.
    pub async fn hash(&self, secret: &ClientSecret) -> Result<String, HashError> {
        let mut salt = [0u8; 16];
        aws_lc_rs::rand::fill(&mut salt).map_err(|_| HashError::Internal("no randomness"))?;
        let secret = secret.clone();
        let argon2 = Arc::clone(&self.argon2);
        self.run(move || {
            let salt = SaltString::encode_b64(&salt).map_err(|_| HashError::Internal("salt"))?;
            argon2
                .hash_password(secret.expose().as_bytes(), &salt)
                .map(|h| h.to_string())
                .map_err(|_| HashError::Internal("hash"))
        })
        .await?
    }

    /// The secret as it is stored: its argon2id hash and its check tag.
    pub async fn stored(
        &self,
        secret: &ClientSecret,
    ) -> Result<crate::domain::StoredSecret, HashError> {
        Ok(crate::domain::StoredSecret {
            hash: self.hash(secret).await?,
            check: Some(super::check_tag(secret)),
        })
    }

    /// True when `secret` matches the PHC string `phc` (compared in constant time).
    pub async fn verify(&self, secret: &ClientSecret, phc: &str) -> Result<bool, HashError> {
        let secret = secret.clone();
        let phc = phc.to_owned();
        self.run(move || verify_phc(secret.expose().as_bytes(), &phc))
            .await?
    }

    /// How long a verification submitted now would take (queueing included), or
    /// `Overloaded` if it would be refused: the admission check every job goes through.
    pub fn estimate(&self) -> Result<Duration, HashError> {
        let wait = self.expected_wait();
        let queued = self.stats.queued.load(Ordering::Relaxed);
        if wait > self.max_wait || queued >= self.threads * QUEUE_PER_THREAD {
            self.stats.rejected.fetch_add(1, Ordering::Relaxed);
            return Err(HashError::Overloaded);
        }
        Ok(wait + self.job_time())
    }

    /// Measures one verification so estimates are meaningful from the start.
    pub async fn calibrate(&self) -> Result<(), HashError> {
        let secret = super::new_client_secret();
        let phc = self.hash(&secret).await?;
        self.verify(&secret, &phc).await.map(|_| ())
    }

    /// Worker threads.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Counters.
    pub fn stats(&self) -> &HasherStats {
        &self.stats
    }

    fn job_time(&self) -> Duration {
        Duration::from_micros(self.avg_job_micros.load(Ordering::Relaxed))
    }

    fn expected_wait(&self) -> Duration {
        let queued = self.stats.queued.load(Ordering::Relaxed) as u32;
        // Jobs ahead, spread over the threads; a full round if all threads are busy.
        self.job_time() * queued.div_ceil(self.threads as u32)
    }

    async fn run<T, F>(&self, job: F) -> Result<T, HashError>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        self.estimate()?;
        let (tx, rx) = oneshot::channel();
        let stats = Arc::clone(&self.stats);
        let avg = Arc::clone(&self.avg_job_micros);
        let submitted = Instant::now();
        stats.queued.fetch_add(1, Ordering::Relaxed);
        let boxed: Job = Box::new(move || {
            stats.queued.fetch_sub(1, Ordering::Relaxed);
            let waited = submitted.elapsed();
            stats
                .wait_micros
                .fetch_add(micros(waited), Ordering::Relaxed);
            let started = Instant::now();
            let result = job();
            record(&avg, started.elapsed());
            stats.completed.fetch_add(1, Ordering::Relaxed);
            let _ = tx.send(result);
        });
        match self.sender.try_send(boxed) {
            Ok(()) => rx
                .await
                .map_err(|_| HashError::Internal("hashing worker failed")),
            Err(TrySendError::Full(_)) => {
                self.stats.queued.fetch_sub(1, Ordering::Relaxed);
                self.stats.rejected.fetch_add(1, Ordering::Relaxed);
                Err(HashError::Overloaded)
            }
            Err(TrySendError::Disconnected(_)) => {
                self.stats.queued.fetch_sub(1, Ordering::Relaxed);
                Err(HashError::Internal("hashing pool stopped"))
            }
        }
    }
}

thread_local! {
    /// Each worker's argon2 working memory, allocated once and reused: no 19 MiB
    /// allocation and zeroing per verification, and a fixed footprint per thread.
    static BLOCKS: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// Verifies `secret` against an argon2id PHC string using this thread's working memory.
fn verify_phc(secret: &[u8], phc: &str) -> Result<bool, HashError> {
    let unreadable = |_| HashError::Internal("stored hash unreadable");
    let parsed = PasswordHash::new(phc).map_err(unreadable)?;
    if parsed.algorithm != argon2::ARGON2ID_IDENT {
        return Err(HashError::Internal("stored hash is not argon2id"));
    }
    let params = Params::try_from(&parsed)
        .map_err(|_| HashError::Internal("stored hash has invalid parameters"))?;
    let version = match parsed.version {
        Some(v) => Version::try_from(v)
            .map_err(|_| HashError::Internal("stored hash has an unknown version"))?,
        None => Version::V0x13,
    };
    let mut salt_buf = [0u8; 64];
    let salt = parsed
        .salt
        .ok_or(HashError::Internal("stored hash has no salt"))?
        .decode_b64(&mut salt_buf)
        .map_err(unreadable)?;
    let expected = parsed
        .hash
        .ok_or(HashError::Internal("stored hash has no output"))?;
    let expected = expected.as_bytes();
    let mut out = [0u8; 64];
    let out = out
        .get_mut(..expected.len())
        .ok_or(HashError::Internal("stored hash output too long"))?;
    let blocks = params.block_count();
    let argon2 = Argon2::new(Algorithm::Argon2id, version, params);
    BLOCKS
        .with(|memory| {
            let mut memory = memory.borrow_mut();
            if memory.len() < blocks {
                memory.resize(blocks, Block::default());
            }
            argon2.hash_password_into_with_memory(secret, salt, out, &mut memory[..])
        })
        .map_err(|_| HashError::Internal("argon2 failed"))?;
    Ok(constant_time::verify_slices_are_equal(out, expected).is_ok())
}

fn worker(receiver: &Mutex<Receiver<Job>>) {
    loop {
        let job = {
            let Ok(receiver) = receiver.lock() else {
                return;
            };
            receiver.recv()
        };
        match job {
            Ok(job) => job(),
            Err(_) => return,
        }
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// Exponential moving average with weight 1/8; racing updates only lose a sample.
fn record(avg: &AtomicU64, took: Duration) {
    let sample = micros(took);
    let old = avg.load(Ordering::Relaxed);
    let new = if old == 0 {
        sample
    } else {
        old - old / 8 + sample / 8
    };
    avg.store(new, Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hash_is_argon2id_with_owasp_parameters_and_verifies() {
        let hasher = SecretHasher::new(1, Duration::from_secs(5));
        let secret = super::super::new_client_secret();
        let phc = hasher.hash(&secret).await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(hasher.verify(&secret, &phc).await.unwrap());
        assert!(
            !hasher
                .verify(&super::super::new_client_secret(), &phc)
                .await
                .unwrap()
        );
        assert!(hasher.estimate().unwrap() > Duration::ZERO);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_flood_is_refused_at_once_instead_of_queued() {
        let hasher = Arc::new(SecretHasher::new(1, Duration::from_millis(50)));
        hasher.calibrate().await.unwrap();
        let secret = super::super::new_client_secret();
        let phc = hasher.hash(&secret).await.unwrap();
        let started = Instant::now();
        let jobs: Vec<_> = (0..40)
            .map(|_| {
                let (hasher, secret, phc) = (Arc::clone(&hasher), secret.clone(), phc.clone());
                tokio::spawn(async move { hasher.verify(&secret, &phc).await })
            })
            .collect();
        let mut overloaded = 0;
        let mut verified = 0;
        for job in jobs {
            match job.await.unwrap() {
                Ok(true) => verified += 1,
                Err(HashError::Overloaded) => overloaded += 1,
                other => panic!("unexpected {other:?}"),
            }
        }
        assert!(
            verified >= 1 && overloaded >= 20,
            "verified {verified}, overloaded {overloaded}"
        );
        // 40 verifications would take 40 job times; refusals came at once.
        assert!(
            started.elapsed() < hasher.job_time() * 20,
            "{:?}",
            started.elapsed()
        );
        assert_eq!(hasher.stats().rejected.load(Ordering::Relaxed), overloaded);
    }
}
