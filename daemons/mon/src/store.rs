//! The monitor's store: RocksDB under `mon_data/store.db`, replicated among
//! the mons by the `quorum` crate. Every change the mon acknowledges is one
//! write committed by a majority of the mons (synced in their logs) and
//! applied here before the reply goes out, so `kill -9` of any mon, or of a
//! minority of them, loses nothing that a client saw succeed.
//!
//! Keys under `local/` are this mon's own (what `--mkfs` was given); `raft/`
//! is the quorum's log; everything else is the replicated cluster state.

use quorum::{Applied, Quorum, Write, B64};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

pub struct Store {
    db: Arc<rocksdb::DB>,
    quorum: OnceLock<Quorum>,
    /// The state version the mon's in-memory state reflects; writes are
    /// computed from it and refused by the quorum if the state moved on.
    version: AtomicU64,
}

thread_local! {
    /// Set when a write made on this thread was refused as stale. Handlers
    /// run synchronously on one thread, so this is per request.
    static CONFLICTED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// A set of changes committed atomically.
#[derive(Default)]
pub struct Txn {
    pub puts: Vec<(String, Vec<u8>)>,
    pub dels: Vec<String>,
}

impl Txn {
    pub fn put(&mut self, k: impl Into<String>, v: impl Into<Vec<u8>>) {
        self.puts.push((k.into(), v.into()));
    }
    pub fn del(&mut self, k: impl Into<String>) {
        self.dels.push(k.into());
    }
    pub fn is_empty(&self) -> bool {
        self.puts.is_empty() && self.dels.is_empty()
    }
}

/// How long a write waits for a quorum before the mon gives up on it.
const COMMIT_TIMEOUT: Duration = Duration::from_secs(30);

impl Store {
    pub fn open(dir: &Path, create: bool) -> Result<Store, String> {
        let path = dir.join("store.db");
        if !create && !path.exists() {
            return Err(format!(
                "no monitor store at {} (run ceph-mon --mkfs first, or check mon_data)",
                path.display()
            ));
        }
        let mut o = rocksdb::Options::default();
        o.create_if_missing(create);
        let db = rocksdb::DB::open(&o, &path).map_err(|e| format!("opening {}: {e}", path.display()))?;
        let db = Arc::new(db);
        let version = quorum::store::state_version(&db);
        Ok(Store { db, quorum: OnceLock::new(), version: AtomicU64::new(version) })
    }

    pub fn db(&self) -> Arc<rocksdb::DB> {
        self.db.clone()
    }

    /// From now on, writes go through the quorum.
    pub fn attach(&self, q: Quorum) {
        let _ = self.quorum.set(q);
    }

    pub fn quorum(&self) -> Option<&Quorum> {
        self.quorum.get()
    }

    pub fn version(&self) -> u64 {
        self.version.load(Ordering::SeqCst)
    }

    pub fn set_version(&self, v: u64) {
        self.version.store(v, Ordering::SeqCst);
    }

    /// Whether a write made on this thread was refused as stale since the
    /// flag was last taken.
    pub fn take_conflicted() -> bool {
        CONFLICTED.with(|c| c.replace(false))
    }

    pub fn get(&self, k: &str) -> Option<Vec<u8>> {
        self.db.get(k.as_bytes()).ok().flatten()
    }

    /// This mon's own keys (`local/...`), written directly and synced.
    pub fn put_local(&self, k: &str, v: &[u8]) -> Result<(), String> {
        debug_assert!(k.starts_with("local/"));
        let mut wo = rocksdb::WriteOptions::default();
        wo.set_sync(true);
        self.db.put_opt(k.as_bytes(), v, &wo).map_err(|e| format!("store write failed: {e}"))
    }

    /// Commits `t` through the quorum; returns once it is applied here.
    pub fn commit(&self, t: Txn) -> Result<(), String> {
        if t.is_empty() {
            return Ok(());
        }
        let q = self.quorum.get().ok_or("the store is not attached to the quorum")?;
        let w = Write::Txn { base: self.version(), puts: t.puts.into_iter().map(|(k, v)| (k, B64(v))).collect(), dels: t.dels };
        match q.propose(w, COMMIT_TIMEOUT)? {
            Applied::Done { version } => {
                self.set_version(version);
                Ok(())
            }
            Applied::Conflict { version } => {
                CONFLICTED.with(|c| c.set(true));
                Err(format!("the cluster state changed meanwhile (now at version {version}); try again"))
            }
            other => Err(format!("unexpected quorum answer {other:?}")),
        }
    }

    /// Reserves `count` values of the replicated counter `key`; returns the first.
    pub fn reserve(&self, key: &str, count: u64) -> Result<u64, String> {
        let q = self.quorum.get().ok_or("the store is not attached to the quorum")?;
        match q.propose(Write::Reserve { key: key.into(), count }, COMMIT_TIMEOUT)? {
            Applied::Reserved { start } => Ok(start),
            other => Err(format!("unexpected quorum answer {other:?}")),
        }
    }

    /// All keys under `prefix`, in order.
    pub fn scan(&self, prefix: &str) -> Vec<(String, Vec<u8>)> {
        let mut out = Vec::new();
        let it = self.db.iterator(rocksdb::IteratorMode::From(prefix.as_bytes(), rocksdb::Direction::Forward));
        for item in it {
            let Ok((k, v)) = item else { break };
            if !k.starts_with(prefix.as_bytes()) {
                break;
            }
            out.push((String::from_utf8_lossy(&k).into_owned(), v.to_vec()));
        }
        out
    }
}
