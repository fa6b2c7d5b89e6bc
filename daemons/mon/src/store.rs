//! The monitor's store: RocksDB under `mon_data/store.db`. Every change the mon
//! acknowledges is one synced write batch, so `kill -9` loses nothing that a
//! client saw succeed.

use std::path::Path;

pub struct Store {
    db: rocksdb::DB,
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
        Ok(Store { db })
    }

    pub fn get(&self, k: &str) -> Option<Vec<u8>> {
        self.db.get(k.as_bytes()).ok().flatten()
    }

    pub fn commit(&self, t: Txn) -> Result<(), String> {
        if t.is_empty() {
            return Ok(());
        }
        let mut b = rocksdb::WriteBatch::default();
        for (k, v) in t.puts {
            b.put(k.as_bytes(), v);
        }
        for k in t.dels {
            b.delete(k.as_bytes());
        }
        let mut wo = rocksdb::WriteOptions::default();
        wo.set_sync(true);
        self.db.write_opt(b, &wo).map_err(|e| format!("store write failed: {e}"))
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
