//! The Raft log and the state machine, both in the mon's RocksDB.
//!
//! Keys under `raft/` hold the log (`raft/log/<index>`), the vote, the committed
//! and purged log ids, the last applied log id and membership. `local/` is this
//! mon's own (never replicated). Every other key is replicated state: what an
//! applied [`Write`] put there, and what a snapshot carries.

use crate::{Applied, Change, TypeConfig, Write, VERSION_KEY};
use openraft::storage::{LogFlushed, RaftLogStorage, RaftStateMachine};
use openraft::{AnyError, Entry, EntryPayload, LogId, LogState, RaftLogReader, RaftSnapshotBuilder, Snapshot, SnapshotMeta, StorageError, StorageIOError, StoredMembership};
use openraft::{BasicNode, OptionalSend};
use rocksdb::{WriteBatch, WriteOptions, DB};
use std::fmt::Debug;
use std::io::Cursor;
use std::ops::{Bound, RangeBounds};
use std::sync::{Arc, Mutex};

type SErr = StorageError<u64>;

fn read_err(e: impl ToString) -> SErr {
    StorageIOError::read(AnyError::error(e.to_string())).into()
}
fn write_err(e: impl ToString) -> SErr {
    StorageIOError::write(AnyError::error(e.to_string())).into()
}

fn log_key(i: u64) -> String {
    format!("raft/log/{i:020}")
}

pub(crate) fn is_state_key(k: &[u8]) -> bool {
    !k.starts_with(b"raft/") && !k.starts_with(b"local/")
}

fn get_json<T: serde::de::DeserializeOwned>(db: &DB, k: &str) -> Result<Option<T>, SErr> {
    match db.get(k.as_bytes()).map_err(read_err)? {
        None => Ok(None),
        Some(v) => serde_json::from_slice(&v).map(Some).map_err(read_err),
    }
}

fn synced() -> WriteOptions {
    let mut o = WriteOptions::default();
    o.set_sync(true);
    o
}

static SNAPSHOTS_INSTALLED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// How many snapshots this process has installed (members that caught up
/// from a snapshot rather than the log).
pub fn snapshots_installed() -> u64 {
    SNAPSHOTS_INSTALLED.load(std::sync::atomic::Ordering::Relaxed)
}

/// The replicated state's version: the log index of the last applied write
/// that changed it (0 before the first).
pub fn state_version(db: &DB) -> u64 {
    db.get(VERSION_KEY.as_bytes()).ok().flatten().and_then(|v| String::from_utf8_lossy(&v).parse().ok()).unwrap_or(0)
}

#[derive(Clone)]
pub struct LogStore {
    pub(crate) db: Arc<DB>,
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(&mut self, range: RB) -> Result<Vec<Entry<TypeConfig>>, SErr> {
        let start = match range.start_bound() {
            Bound::Included(&i) => i,
            Bound::Excluded(&i) => i + 1,
            Bound::Unbounded => 0,
        };
        let mut out = Vec::new();
        let it = self.db.iterator(rocksdb::IteratorMode::From(log_key(start).as_bytes(), rocksdb::Direction::Forward));
        for item in it {
            let (k, v) = item.map_err(read_err)?;
            if !k.starts_with(b"raft/log/") {
                break;
            }
            let e: Entry<TypeConfig> = serde_json::from_slice(&v).map_err(read_err)?;
            if !range.contains(&e.log_id.index) {
                break;
            }
            out.push(e);
        }
        Ok(out)
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, SErr> {
        let purged: Option<LogId<u64>> = get_json(&self.db, "raft/purged")?;
        let mut it = self.db.iterator(rocksdb::IteratorMode::From(b"raft/log/\xff", rocksdb::Direction::Reverse));
        let mut last = purged;
        if let Some(item) = it.next() {
            let (k, v) = item.map_err(read_err)?;
            if k.starts_with(b"raft/log/") {
                let e: Entry<TypeConfig> = serde_json::from_slice(&v).map_err(read_err)?;
                last = Some(e.log_id);
            }
        }
        Ok(LogState { last_purged_log_id: purged, last_log_id: last })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &openraft::Vote<u64>) -> Result<(), SErr> {
        let v = serde_json::to_vec(vote).map_err(write_err)?;
        self.db.put_opt(b"raft/vote", v, &synced()).map_err(write_err)
    }

    async fn read_vote(&mut self) -> Result<Option<openraft::Vote<u64>>, SErr> {
        get_json(&self.db, "raft/vote")
    }

    async fn save_committed(&mut self, committed: Option<LogId<u64>>) -> Result<(), SErr> {
        let v = serde_json::to_vec(&committed).map_err(write_err)?;
        self.db.put(b"raft/committed", v).map_err(write_err)
    }

    async fn read_committed(&mut self) -> Result<Option<LogId<u64>>, SErr> {
        Ok(get_json::<Option<LogId<u64>>>(&self.db, "raft/committed")?.flatten())
    }

    async fn append<I>(&mut self, entries: I, callback: LogFlushed<TypeConfig>) -> Result<(), SErr>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut b = WriteBatch::default();
        for e in entries {
            b.put(log_key(e.log_id.index).as_bytes(), serde_json::to_vec(&e).map_err(write_err)?);
        }
        // Synced: an entry a follower acknowledges must survive its crash.
        let r = self.db.write_opt(b, &synced());
        callback.log_io_completed(r.as_ref().map(|_| ()).map_err(|e| std::io::Error::other(e.to_string())));
        r.map_err(write_err)
    }

    async fn truncate(&mut self, log_id: LogId<u64>) -> Result<(), SErr> {
        let mut b = WriteBatch::default();
        b.delete_range(log_key(log_id.index).as_bytes(), b"raft/log/\xff");
        self.db.write_opt(b, &synced()).map_err(write_err)
    }

    async fn purge(&mut self, log_id: LogId<u64>) -> Result<(), SErr> {
        let mut b = WriteBatch::default();
        b.put(b"raft/purged", serde_json::to_vec(&log_id).map_err(write_err)?);
        // One range tombstone, however far behind a new member starts.
        b.delete_range(log_key(0).as_bytes(), log_key(log_id.index + 1).as_bytes());
        self.db.write_opt(b, &synced()).map_err(write_err)
    }
}

/// Applies committed writes to the store and tells the mon what changed.
pub struct StateMachine {
    pub(crate) db: Arc<DB>,
    pub(crate) changes: Arc<Mutex<Vec<Change>>>,
    pub(crate) notify: tokio::sync::watch::Sender<u64>,
    pub(crate) snapshot_idx: u64,
}

impl StateMachine {
    fn publish(&self, c: Change) {
        let v = c.version;
        self.changes.lock().unwrap_or_else(|p| p.into_inner()).push(c);
        self.notify.send_modify(|x| *x = (*x).max(v));
    }
}

/// The replicated state as one blob: `[u32 klen][key][u32 vlen][value]...`,
/// with the applied log id and membership it corresponds to, all read from
/// one RocksDB snapshot (applies go on meanwhile).
fn dump_state(db: &DB) -> Result<(Vec<u8>, Option<LogId<u64>>, StoredMembership<u64, BasicNode>), SErr> {
    let snap = db.snapshot();
    let json = |k: &[u8]| -> Result<Option<Vec<u8>>, SErr> { snap.get(k).map_err(read_err) };
    let applied: Option<LogId<u64>> = match json(b"raft/applied")? {
        Some(v) => serde_json::from_slice(&v).map_err(read_err)?,
        None => None,
    };
    let mem: StoredMembership<u64, BasicNode> = match json(b"raft/membership")? {
        Some(v) => serde_json::from_slice(&v).map_err(read_err)?,
        None => StoredMembership::default(),
    };
    let mut out = Vec::new();
    for item in snap.iterator(rocksdb::IteratorMode::Start) {
        let (k, v) = item.map_err(read_err)?;
        if !is_state_key(&k) {
            continue;
        }
        out.extend_from_slice(&(k.len() as u32).to_le_bytes());
        out.extend_from_slice(&k);
        out.extend_from_slice(&(v.len() as u32).to_le_bytes());
        out.extend_from_slice(&v);
    }
    Ok((out, applied, mem))
}

/// Parses [`dump_state`]'s blob; a truncated or hostile blob is an error.
pub fn parse_state(mut b: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>, String> {
    let mut out = Vec::new();
    let take = |b: &mut &[u8]| -> Result<Vec<u8>, String> {
        if b.len() < 4 {
            return Err("snapshot truncated".into());
        }
        let n = u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize;
        if b.len() < 4 + n {
            return Err("snapshot truncated".into());
        }
        let v = b[4..4 + n].to_vec();
        *b = &b[4 + n..];
        Ok(v)
    };
    while !b.is_empty() {
        let k = take(&mut b)?;
        let v = take(&mut b)?;
        if !is_state_key(&k) {
            return Err("snapshot holds a non-state key".into());
        }
        out.push((k, v));
    }
    Ok(out)
}

fn applied_meta(db: &DB) -> Result<(Option<LogId<u64>>, StoredMembership<u64, BasicNode>), SErr> {
    let applied: Option<LogId<u64>> = get_json(db, "raft/applied")?;
    let mem: StoredMembership<u64, BasicNode> = get_json(db, "raft/membership")?.unwrap_or_default();
    Ok((applied, mem))
}

pub struct SnapshotBuilder {
    db: Arc<DB>,
    idx: u64,
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, SErr> {
        build(&self.db, self.idx)
    }
}

fn build(db: &DB, idx: u64) -> Result<Snapshot<TypeConfig>, SErr> {
    let (data, applied, mem) = dump_state(db)?;
    let meta = SnapshotMeta {
        last_log_id: applied,
        last_membership: mem,
        snapshot_id: format!("{}-{idx}", applied.map(|l| l.index).unwrap_or(0)),
    };
    Ok(Snapshot { meta, snapshot: Box::new(Cursor::new(data)) })
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = SnapshotBuilder;

    async fn applied_state(&mut self) -> Result<(Option<LogId<u64>>, StoredMembership<u64, BasicNode>), SErr> {
        applied_meta(&self.db)
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<Applied>, SErr>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut out = Vec::new();
        for e in entries {
            let mut b = WriteBatch::default();
            let mut change = None;
            let reply = match &e.payload {
                EntryPayload::Blank => Applied::Nothing,
                EntryPayload::Membership(m) => {
                    let sm = StoredMembership::new(Some(e.log_id), m.clone());
                    b.put(b"raft/membership", serde_json::to_vec(&sm).map_err(write_err)?);
                    Applied::Nothing
                }
                EntryPayload::Normal(Write::Txn { base, puts, dels }) => {
                    let version = state_version(&self.db);
                    if *base != version {
                        // Computed from a state someone else has changed since.
                        Applied::Conflict { version }
                    } else {
                        let v = e.log_id.index;
                        let mut keys = Vec::new();
                        for (k, val) in puts {
                            if is_state_key(k.as_bytes()) {
                                b.put(k.as_bytes(), &val.0);
                                keys.push(k.clone());
                            }
                        }
                        for k in dels {
                            if is_state_key(k.as_bytes()) {
                                b.delete(k.as_bytes());
                                keys.push(k.clone());
                            }
                        }
                        b.put(VERSION_KEY.as_bytes(), v.to_string().as_bytes());
                        change = Some(Change { version: v, keys: Some(keys) });
                        Applied::Done { version: v }
                    }
                }
                EntryPayload::Normal(Write::Reserve { key, count }) => {
                    let start: u64 = self.db.get(key.as_bytes()).map_err(read_err)?.and_then(|v| String::from_utf8_lossy(&v).trim().parse().ok()).unwrap_or(0);
                    if is_state_key(key.as_bytes()) {
                        b.put(key.as_bytes(), start.saturating_add(*count).to_string().as_bytes());
                    }
                    Applied::Reserved { start }
                }
            };
            b.put(b"raft/applied", serde_json::to_vec(&Some(e.log_id)).map_err(write_err)?);
            // Not synced: the log entry is, and is applied again after a crash.
            self.db.write(b).map_err(write_err)?;
            if let Some(c) = change {
                self.publish(c);
            }
            out.push(reply);
        }
        Ok(out)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.snapshot_idx += 1;
        SnapshotBuilder { db: self.db.clone(), idx: self.snapshot_idx }
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<Cursor<Vec<u8>>>, SErr> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(&mut self, meta: &SnapshotMeta<u64, BasicNode>, snapshot: Box<Cursor<Vec<u8>>>) -> Result<(), SErr> {
        let kv = parse_state(snapshot.get_ref()).map_err(write_err)?;
        let mut b = WriteBatch::default();
        for item in self.db.iterator(rocksdb::IteratorMode::Start) {
            let (k, _) = item.map_err(read_err)?;
            if is_state_key(&k) {
                b.delete(&k);
            }
        }
        for (k, v) in kv {
            b.put(&k, &v);
        }
        b.put(b"raft/applied", serde_json::to_vec(&meta.last_log_id).map_err(write_err)?);
        b.put(b"raft/membership", serde_json::to_vec(&meta.last_membership).map_err(write_err)?);
        self.db.write_opt(b, &synced()).map_err(write_err)?;
        let version = state_version(&self.db);
        SNAPSHOTS_INSTALLED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tracing::info!(version, "installed a snapshot of the state");
        self.publish(Change { version, keys: None });
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<TypeConfig>>, SErr> {
        // The state is its own snapshot: whatever is applied now.
        if applied_meta(&self.db)?.0.is_none() {
            return Ok(None);
        }
        self.snapshot_idx += 1;
        build(&self.db, self.snapshot_idx).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// A snapshot blob from a peer is parsed totally: hostile bytes give an
        /// error, never a panic or a key outside the replicated state.
        #[test]
        fn snapshot_blobs_parse_totally(b in proptest::collection::vec(any::<u8>(), 0..512)) {
            if let Ok(kv) = parse_state(&b) {
                prop_assert!(kv.iter().all(|(k, _)| is_state_key(k)));
            }
        }

        /// What a snapshot holds comes back exactly.
        #[test]
        fn snapshot_blobs_round_trip(kv in proptest::collection::btree_map("[a-z]{1,8}/[a-z0-9]{0,8}", proptest::collection::vec(any::<u8>(), 0..64), 0..20)) {
            let kv: Vec<(Vec<u8>, Vec<u8>)> = kv.into_iter().filter(|(k, _)| is_state_key(k.as_bytes())).map(|(k, v)| (k.into_bytes(), v)).collect();
            let mut blob = Vec::new();
            for (k, v) in &kv {
                blob.extend_from_slice(&(k.len() as u32).to_le_bytes());
                blob.extend_from_slice(k);
                blob.extend_from_slice(&(v.len() as u32).to_le_bytes());
                blob.extend_from_slice(v);
            }
            prop_assert_eq!(parse_state(&blob).unwrap(), kv);
            if !blob.is_empty() {
                prop_assert!(parse_state(&blob[..blob.len() - 1]).is_err());
            }
        }
    }

    #[test]
    fn a_snapshot_cannot_carry_raft_or_local_keys() {
        let mut blob = Vec::new();
        for k in [&b"raft/vote"[..], b"local/mkfs/initial"] {
            blob.clear();
            blob.extend_from_slice(&(k.len() as u32).to_le_bytes());
            blob.extend_from_slice(k);
            blob.extend_from_slice(&1u32.to_le_bytes());
            blob.push(b'x');
            assert!(parse_state(&blob).is_err());
        }
    }
}
