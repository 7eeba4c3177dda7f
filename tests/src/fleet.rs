//! A fleet of `paliadin-worker` processes on one private tmux rig, for the fault suite: start,
//! SIGKILL, SIGTERM and replace workers by index; plus a small seeded random source so that a
//! failing trial can be replayed (`PALIADIN_FAULT_SEED`).

use crate::fault::signal;
use crate::procs::TmuxRig;
use tokio::process::Child;

pub struct Fleet {
    pub rig: TmuxRig,
    db_url: String,
    env: Vec<(String, String)>,
    /// `(worker id, process)`; a replaced worker gets a new id (`<base>-<generation>`).
    pub workers: Vec<(String, Child)>,
    spawned: usize,
}

impl Fleet {
    /// `n` workers with the given settings over the rig's defaults.
    pub fn start(db_url: &str, n: usize, env: &[(&str, &str)]) -> Fleet {
        let mut f = Fleet {
            rig: TmuxRig::new(),
            db_url: db_url.to_owned(),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            workers: Vec::new(),
            spawned: 0,
        };
        for _ in 0..n {
            let w = f.spawn();
            f.workers.push(w);
        }
        f
    }

    fn spawn(&mut self) -> (String, Child) {
        self.spawned += 1;
        let id = format!("fw-{}", self.spawned);
        let env: Vec<(&str, &str)> = self
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let child = self.rig.worker_with(&self.db_url, &id, &env);
        (id, child)
    }

    /// The index of the worker with this id, if it is in the fleet.
    pub fn index_of(&self, id: &str) -> Option<usize> {
        self.workers.iter().position(|(w, _)| w == id)
    }

    /// SIGKILLs worker `i` and starts a replacement in its place.
    pub async fn kill_and_replace(&mut self, i: usize) {
        signal(&self.workers[i].1, "-KILL");
        self.workers[i].1.wait().await.expect("reaped");
        self.workers[i] = self.spawn();
    }

    /// SIGTERMs worker `i`, waits for it to exit cleanly, starts a replacement in its place.
    pub async fn stop_and_replace(&mut self, i: usize) {
        signal(&self.workers[i].1, "-TERM");
        let status = self.workers[i].1.wait().await.expect("reaped");
        assert!(status.success(), "worker exited with {status}");
        self.workers[i] = self.spawn();
    }
}

/// xorshift64*: enough randomness for kill points, seeded and printed for replay.
pub struct Rng(u64);

impl Rng {
    pub fn from_env() -> Rng {
        let seed = std::env::var("PALIADIN_FAULT_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64)
                    .unwrap_or(1)
            });
        eprintln!("PALIADIN_FAULT_SEED={seed}");
        Rng(seed.max(1))
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n.max(1)
    }
}
