//! One placement group on this OSD: a task that owns the PG's state and
//! handles, in order, everything that concerns it: map changes, client ops
//! (as primary), replicated writes (as replica), peering and recovery.
//!
//! Peering, simplified from Ceph's: on every new interval (the acting set or
//! primary changed) the primary asks the OSDs of the past intervals that
//! may have accepted writes, and the current up and acting ones, what they
//! hold of the PG (info + log). If some such interval has no OSD up, the
//! PG is `down` until one comes back or is marked lost. The copy with the
//! newest `last_update` (epoch first) is authoritative; the primary pulls
//! from it if it is not itself, then brings each acting replica up to date:
//! from its log when the replica's `last_update` is still in it, otherwise
//! by backfill (a full copy). With at least `min_size` complete copies, and
//! once the mon has recorded the primary alive in this interval (up_thru),
//! the PG goes active. A write is acknowledged once the primary and every
//! acting replica have committed it. Copies left on OSDs outside the PG
//! (strays) are deleted once it is clean.

use crate::ops::{self, Ctx, Effect, ObjectInfo};
use crate::service::{ClientSession, Osd};
use crate::history;
use crate::snaps;
use bytes::Bytes;
use denc::{Decode, Encode, Encoder, Utime};
use maps::OsdMap;
use messages::osd::{flags, opcode, OsdOp, OsdOpMsg, OsdOpReply, WatchNotify};
use messages::osd_peer::*;
use messages::Message;
use msgr::Connection;
use objectstore::{ObjectId, Op, Transaction};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tracing::{debug, info, warn};
use types::features::PACIFIC_SUPPORTED;
use types::osd::{EVersion, PgId, ReqId};

pub enum PgEvent {
    Map(Arc<OsdMap>),
    ClientOp { msg: Box<OsdOpMsg>, tid: u64, conn: Connection, session: Arc<ClientSession> },
    RepOp { m: RepOp, conn: Connection },
    RepOpReply { from: i32, m: RepOpReply },
    Query { m: PgQuery, from: i32, conn: Connection },
    Notify(PgNotify),
    Pull { m: PgPull, from: i32 },
    Push { m: PgPush, from: i32, conn: Connection },
    PushAck(PgPushAck),
    /// A watcher's session closed.
    SessionReset { gid: u64 },
    Tick,
    /// A write this PG submitted to the local store is on disk (or failed).
    LocalCommitted { version: EVersion, ok: bool },
    /// `osd_recovery_sleep` has passed: push the next object to this peer.
    RecoveryWake { target: i32, interval: u32 },
    /// One of this OSD's `osd_max_backfills` slots for a backfill waiting on it.
    BackfillSlot { target: i32, interval: u32, slot: tokio::sync::OwnedSemaphorePermit },
    /// The primary says our (stray) copy is no longer needed.
    Remove { m: PgRemove, from: i32 },
}

/// (epoch, version): Ceph's eversion_t order.
fn ord(v: EVersion) -> (u32, u64) {
    (v.epoch, v.version)
}

fn log_key(v: EVersion) -> String {
    format!("log/{:010}.{:020}", v.epoch, v.version)
}

/// The newest last_epoch_started among our copy's (`own`) and those that answered.
fn newest_les(own: Option<u32>, notifies: &HashMap<i32, PgNotify>) -> u32 {
    notifies.values().filter(|n| n.exists).map(|n| n.info.last_epoch_started).chain(own).max().unwrap_or(0)
}

/// Whether a copy at `lu` can catch up from a log with this tail and
/// entries: `lu` is the tail or one of the entries.
fn log_covers<'a>(tail: EVersion, mut log: impl Iterator<Item = &'a LogEntry>, lu: EVersion) -> bool {
    lu == tail || log.any(|e| e.version == lu)
}

pub fn coll_name(pgid: PgId) -> String {
    format!("{}_head", pgid)
}

/// Decodes an encoded ObjectId from a log entry.
fn entry_oid(e: &LogEntry) -> Option<ObjectId> {
    ObjectId::from_bytes(e.oid.clone()).ok()
}

/// The PG collection's meta key holding its last_epoch_clean (u32 LE).
const LEC_KEY: &str = "last_epoch_clean";

struct InFlight {
    waiting: HashSet<i32>,
    reply: Option<PendingReply>,
    started: Instant,
    /// The client's object's hash (None: the PG's own write, a snap trim).
    hash: Option<u32>,
}

struct PendingReply {
    conn: Connection,
    tid: u64,
    reply: OsdOpReply,
}

struct QueuedOp {
    msg: Box<OsdOpMsg>,
    tid: u64,
    conn: Connection,
    session: Arc<ClientSession>,
}

enum Phase {
    /// Not primary: replica or stray.
    Follower,
    Peering { waiting: HashSet<i32>, notifies: HashMap<i32, PgNotify>, started: Instant },
    Pulling { from: i32, started: Instant, notifies: HashMap<i32, PgNotify> },
    Recovering { targets: HashSet<i32> },
    /// We lead by CRUSH but hold no usable copy: waiting for the mon to map
    /// the PG to OSDs with complete copies meanwhile (pg_temp).
    WaitPgTemp { started: Instant },
    /// Recovered, waiting for the mon to record us alive in this interval.
    WaitUpThru,
    /// Fewer acting copies than the pool's min_size: no I/O.
    Peered,
    /// An interval that may have accepted writes has no OSD up.
    Down { blocked_by: Vec<i32> },
    Active,
}

/// Pushes in progress to one peer: the objects still to send.
struct PushState {
    todo: VecDeque<ObjectId>,
    /// What `todo` holds (writes during recovery add objects once).
    queued: HashSet<ObjectId>,
    reset: bool,
    seq: u32,
    unacked: u32,
    done: bool,
    sent_objects: u64,
    /// Nothing could be sent: the objects left have writes committing.
    stalled: bool,
    /// All objects sent but writes are committing: client ops wait until
    /// they land, then the last push (with the log) goes.
    finishing: bool,
    /// Waiting out `osd_recovery_sleep`.
    sleeping: bool,
    /// This push's hold on one of the OSD's `osd_max_backfills` slots.
    slot: BackfillSlot,
    /// A full backfill outside the acting set: it runs in a slot.
    throttled: bool,
    /// Held back by the map's flags (norecover, nobackfill, norebalance),
    /// by a full OSD, or by a read error; only `resume_paused_pushes`
    /// lets it go on.
    paused: bool,
    /// The interval every push of this stream carries: ours, or for a pull
    /// we serve, the requester's (so it accepts them all).
    interval: u32,
    /// Paused by a full OSD: not tried again before this (Ceph's retry
    /// interval), even if room comes sooner.
    retry_at: Option<Instant>,
    /// An object sent in pieces (bigger than a push): it and the offset its
    /// next piece starts at.
    partial: Option<(ObjectId, u64)>,
    last_progress: Instant,
}

/// A throttled backfill waits for a slot, then holds it until its push
/// state goes (dropping the permit frees the slot); other pushes need none.
enum BackfillSlot {
    NotNeeded,
    Waiting,
    Held(#[allow(dead_code)] tokio::sync::OwnedSemaphorePermit),
}

impl BackfillSlot {
    fn waiting(&self) -> bool {
        matches!(self, BackfillSlot::Waiting)
    }
}

struct Watcher {
    conn: Connection,
    timeout: u32,
}

struct PendingNotify {
    notifier: Connection,
    notifier_cookie: u64,
    waiting: HashSet<(u64, u64)>,
    acks: BTreeMap<(u64, u64), Bytes>,
    deadline: Instant,
    ver: u64,
}

pub struct Pg {
    osd: Arc<Osd>,
    pgid: PgId,
    coll: String,
    map: Arc<OsdMap>,
    up: Vec<i32>,
    acting: Vec<i32>,
    primary: i32,
    /// First epoch of the current interval.
    interval: u32,
    exists: bool,
    info: PgInfo,
    log: VecDeque<LogEntry>,
    dups: HashMap<ReqId, (EVersion, u64, i32)>,
    /// Requests applied by PGs merged into this one (their log entries,
    /// kept as `dup/` keys): a write resent after the merge is known.
    merged_dups: HashMap<ReqId, (EVersion, u64, i32)>,
    phase: Phase,
    waiting: Vec<QueuedOp>,
    /// Client ops sent under a newer map than this PG has seen yet (the OSD
    /// routed them under it): run once that map reaches the PG, as Ceph's
    /// `op_must_wait_for_map`. Dropping them would lose them for good when
    /// the newer map keeps the same primary, since the client then does not
    /// resend.
    waiting_for_map: Vec<QueuedOp>,
    inflight: BTreeMap<(u32, u64), InFlight>,
    pushes: HashMap<i32, PushState>,
    /// Acting replicas being recovered while the PG serves I/O. Writes skip
    /// them (each object written is queued to be pushed again instead) until
    /// their last push, which carries the log; writes after it replicate
    /// to them as usual.
    recovering_peers: HashSet<i32>,
    num_objects: u64,
    num_bytes: u64,
    num_rd: u64,
    num_rd_kb: u64,
    num_wr: u64,
    num_wr_kb: u64,
    state_since: Utime,
    last_state: u64,
    /// The epoch in which this OSD, as primary, last saw the PG clean (its
    /// own meta key, apart from `info`, which only writes update).
    last_epoch_clean: u32,
    watchers: HashMap<ObjectId, BTreeMap<(u64, u64), Watcher>>,
    notifies: HashMap<u64, PendingNotify>,
    next_notify: u64,
    /// The pool's removed snaps as of the last complete trim pass.
    trimmed_snaps: Option<BTreeMap<u64, u64>>,
    /// This PG's own queue, for events it sends itself (local commits).
    me: mpsc::WeakUnboundedSender<PgEvent>,
    /// Writes submitted to the local store and not yet on disk, by version,
    /// with the (head) objects they touch. Writes are pipelined: the next op
    /// runs while earlier ones commit, except on an object with a write in
    /// flight, whose ops wait (the store shows only committed state).
    local: BTreeMap<(u32, u64), Vec<ObjectId>>,
    /// Replica writes (RepOps) submitted and not yet on disk. Their log
    /// entries are already in `info` and `log`, which peering answers with,
    /// while the store shows only committed data: so before answering a
    /// query, serving a pull, or taking a new map (we may lead next), these
    /// must land, or a pull could send an object older than the log it
    /// comes with.
    replica_commits: Arc<std::sync::atomic::AtomicUsize>,
    /// The push stream we are receiving: (sender, interval, next seq). A
    /// gap means a push was lost (a connection reset): the rest is refused
    /// and the sender peers again, rather than our copy taking a log that
    /// lists an object it never got.
    push_stream: Option<(i32, u32, u32)>,
    /// Heads with writes in `local`, and how many.
    pending: HashMap<ObjectId, u32>,
    /// Client ops waiting for their object's writes to commit, in arrival order.
    blocked: VecDeque<QueuedOp>,
    /// OSDs outside up and acting that said they hold a copy: deleted once
    /// the PG is clean.
    strays: HashSet<i32>,
    /// Up OSDs outside a pg_temp acting set that are complete (backfilled):
    /// writes replicate to them, and once all are, pg_temp can go.
    backfill_done: HashSet<i32>,
    /// When we last asked the mon to clear our pg_temp.
    pg_temp_clear_sent: Option<Instant>,
    /// When we last told the primary we are a stray.
    stray_notified: Option<Instant>,
    /// The pool's (size, min_size) in this interval.
    sizes: (u8, u8),
}

pub fn spawn(osd: Arc<Osd>, pgid: PgId, map: Arc<OsdMap>) -> mpsc::UnboundedSender<PgEvent> {
    let (tx, rx) = mpsc::unbounded_channel();
    spawn_with(osd, pgid, map, &tx, rx);
    tx
}

/// Starts the PG's task on a channel made earlier (a split child's, whose
/// events queued while its parent split).
pub fn spawn_with(osd: Arc<Osd>, pgid: PgId, map: Arc<OsdMap>, tx: &mpsc::UnboundedSender<PgEvent>, rx: mpsc::UnboundedReceiver<PgEvent>) {
    let coll = coll_name(pgid);
    let mut pg = Pg {
        osd,
        pgid,
        coll,
        map: map.clone(),
        up: vec![],
        acting: vec![],
        primary: -1,
        interval: 0,
        exists: false,
        info: PgInfo { pgid, ..Default::default() },
        log: VecDeque::new(),
        dups: HashMap::new(),
        merged_dups: HashMap::new(),
        phase: Phase::Follower,
        waiting: vec![],
        waiting_for_map: vec![],
        inflight: BTreeMap::new(),
        pushes: HashMap::new(),
        recovering_peers: HashSet::new(),
        num_objects: 0,
        num_bytes: 0,
        num_rd: 0,
        num_rd_kb: 0,
        num_wr: 0,
        num_wr_kb: 0,
        state_since: Utime::now(),
        last_state: 0,
        last_epoch_clean: 0,
        watchers: HashMap::new(),
        notifies: HashMap::new(),
        next_notify: 1,
        trimmed_snaps: None,
        me: tx.downgrade(),
        local: BTreeMap::new(),
        replica_commits: Default::default(),
        push_stream: None,
        pending: HashMap::new(),
        blocked: VecDeque::new(),
        strays: HashSet::new(),
        backfill_done: HashSet::new(),
        pg_temp_clear_sent: None,
        stray_notified: None,
        sizes: (0, 0),
    };
    if let Err(e) = pg.load() {
        warn!(pg = %pgid, "cannot load pg state: {e}");
    }
    tokio::spawn(pg.run(rx, map));
}

/// Merges our copies of `sources` into `target` for a pool shrunk to
/// `new_pg_num` PGs (Ceph's merge_collection and PG::merge_from): their
/// objects move into the target's collection (keys only), theirs go; the
/// target's info takes the newest last_update and user version of all,
/// and its log tail moves there (the copies were clean, so peering finds
/// them alike); their log entries stay as the target's `dup/` keys, for
/// resent writes. One atomic transaction.
pub fn merge_copies(store: &objectstore::Store, target: PgId, sources: &[PgId], new_pg_num: u32) -> Result<(), String> {
    let e = |e: objectstore::Error| e.to_string();
    let tcoll = coll_name(target);
    let mut t = Transaction::new();
    let existed = store.collection_exists(&tcoll).map_err(e)?;
    if !existed {
        t.push(Op::MkColl { coll: tcoll.clone() });
    }
    let mut info = read_info(store, &tcoll)?.unwrap_or(PgInfo { pgid: target, ..Default::default() });
    let mut merged = Vec::new();
    for s in sources {
        let scoll = coll_name(*s);
        if !store.collection_exists(&scoll).map_err(e)? {
            continue;
        }
        if let Some(si) = read_info(store, &scoll)? {
            if ord(si.last_update) > ord(info.last_update) {
                info.last_update = si.last_update;
            }
            info.last_user_version = info.last_user_version.max(si.last_user_version);
            info.last_epoch_started = info.last_epoch_started.max(si.last_epoch_started);
        }
        t.push(Op::SplitColl { coll: scoll.clone(), to: tcoll.clone(), bits: 0, seed: 0 });
        t.push(Op::RmColl { coll: scoll });
        merged.push(*s);
    }
    if merged.is_empty() {
        // Nothing to merge here, but our copy is now of a pool that size.
        if existed && info.pg_num != new_pg_num {
            info.pg_num = new_pg_num;
            let mut t = Transaction::new();
            t.push(Op::SetMeta { coll: tcoll, key: "info".into(), value: info.to_bytes(0) });
            store.apply(&t).map_err(e)?;
        }
        return Ok(());
    }
    // Every log entry, the sources' and ours, becomes a dup: a write one
    // applied and a client resends to us is known (Ceph merges the logs'
    // dups), and the merged log starts at the merged head, so no later
    // trim moves the tail back below it.
    for pg in merged.iter().chain([&target]) {
        for (k, v) in store.scan_meta(&coll_name(*pg), "log/").map_err(e)? {
            if *pg == target {
                t.push(Op::RmMeta { coll: tcoll.clone(), key: k.clone() });
            }
            t.push(Op::SetMeta { coll: tcoll.clone(), key: format!("dup/{}/{k}", pg.seed), value: Bytes::from(v) });
        }
    }
    info.log_tail = info.last_update;
    info.pg_num = new_pg_num;
    t.push(Op::SetMeta { coll: tcoll, key: "info".into(), value: info.to_bytes(0) });
    store.apply(&t).map_err(e)?;
    info!(pg = %target, sources = ?merged.iter().map(|s| s.to_string()).collect::<Vec<_>>(), to = new_pg_num, last_update = ?info.last_update, "merged");
    Ok(())
}

/// A PG copy's stored info, if it has one.
fn read_info(store: &objectstore::Store, coll: &str) -> Result<Option<PgInfo>, String> {
    match store.get_meta(coll, "info").map_err(|e| e.to_string())? {
        Some(b) => PgInfo::from_bytes(Bytes::from(b)).map(Some).map_err(|e| e.to_string()),
        None => Ok(None),
    }
}

/// Splits our copy of `pgid` for its pool grown to `new_pg_num` PGs (from
/// the pg_num its info names, or `from` when it names none), as Ceph's
/// split_collection and PG::split_into: each child gets a collection with
/// the objects whose hash now maps to it, the log entries of those
/// objects, and the parent's info (last_update, log tail, activation) as
/// its own, so every copy splits alike and the children peer like any PG.
/// One atomic transaction. Returns the children.
pub fn split_copy(store: &objectstore::Store, pgid: PgId, from: u32, new_pg_num: u32) -> Result<Vec<PgId>, String> {
    let parent = coll_name(pgid);
    let e = |e: objectstore::Error| e.to_string();
    let Some(mut info) = read_info(store, &parent)? else { return Ok(vec![]) };
    // The lower of the two: a copy's pg_num lags only where no PG split
    // off it meanwhile.
    let from = if info.pg_num != 0 { info.pg_num.min(from) } else { from };
    if from >= new_pg_num {
        return Ok(vec![]);
    }
    let children: Vec<u32> = maps::pool::split_children(pgid.seed, from, new_pg_num);
    let lec = store.get_meta(&parent, LEC_KEY).map_err(e)?;
    let mut t = Transaction::new();
    let children: Vec<u32> = children
        .into_iter()
        .filter(|c| {
            // A child copy already here is newer than what we would split
            // off (our pg_num lagged): leave it be.
            let exists = store.collection_exists(&coll_name(PgId { pool: pgid.pool, seed: *c })).unwrap_or(true);
            if exists {
                warn!(pg = %pgid, child = c, "not splitting into a child copy that exists");
            }
            !exists
        })
        .collect();
    for &c in &children {
        let child = PgId { pool: pgid.pool, seed: c };
        let coll = coll_name(child);
        t.push(Op::MkColl { coll: coll.clone() });
        t.push(Op::SplitColl { coll: parent.clone(), to: coll.clone(), bits: maps::pool::split_bits(c, new_pg_num), seed: c });
        let ci = PgInfo { pgid: child, pg_num: new_pg_num, ..info.clone() };
        t.push(Op::SetMeta { coll: coll.clone(), key: "info".into(), value: ci.to_bytes(0) });
        if let Some(l) = &lec {
            t.push(Op::SetMeta { coll, key: LEC_KEY.into(), value: Bytes::copy_from_slice(l) });
        }
    }
    let mut moved = 0;
    for (k, v) in store.scan_meta(&parent, "log/").map_err(e)? {
        let Ok(entry) = LogEntry::from_bytes(Bytes::from(v.clone())) else { continue };
        let Some(o) = entry_oid(&entry) else { continue };
        let home = maps::pool::fold_seed(o.hash, new_pg_num);
        if home != pgid.seed && children.contains(&home) {
            t.push(Op::RmMeta { coll: parent.clone(), key: k.clone() });
            t.push(Op::SetMeta { coll: coll_name(PgId { pool: pgid.pool, seed: home }), key: k, value: Bytes::from(v) });
            moved += 1;
        }
    }
    info.pg_num = new_pg_num;
    t.push(Op::SetMeta { coll: parent.clone(), key: "info".into(), value: info.to_bytes(0) });
    store.apply(&t).map_err(e)?;
    let children: Vec<PgId> = children.into_iter().map(|seed| PgId { pool: pgid.pool, seed }).collect();
    info!(pg = %pgid, from, to = new_pg_num, children = ?children.iter().map(|c| c.to_string()).collect::<Vec<_>>(), log_entries_moved = moved, "split");
    Ok(children)
}

impl Pg {
    fn whoami(&self) -> i32 {
        self.osd.whoami
    }

    fn load(&mut self) -> Result<(), String> {
        let st = &self.osd.store;
        self.exists = st.collection_exists(&self.coll).map_err(|e| e.to_string())?;
        if !self.exists {
            return Ok(());
        }
        if let Some(i) = read_info(st, &self.coll)? {
            self.info = i;
        }
        if let Some(b) = st.get_meta(&self.coll, LEC_KEY).map_err(|e| e.to_string())? {
            self.last_epoch_clean = b.get(..4).map(|x| u32::from_le_bytes([x[0], x[1], x[2], x[3]])).unwrap_or(0);
        }
        self.log.clear();
        for (_, v) in st.scan_meta(&self.coll, "log/").map_err(|e| e.to_string())? {
            self.log.push_back(LogEntry::from_bytes(Bytes::from(v)).map_err(|e| e.to_string())?);
        }
        self.merged_dups.clear();
        for (_, v) in st.scan_meta(&self.coll, "dup/").map_err(|e| e.to_string())? {
            if let Ok(e) = LogEntry::from_bytes(Bytes::from(v)) {
                self.merged_dups.insert(e.reqid, (e.version, e.user_version, e.result));
            }
        }
        self.rebuild_dups();
        self.recount();
        Ok(())
    }

    fn rebuild_dups(&mut self) {
        self.dups = self.merged_dups.clone();
        self.dups.extend(self.log.iter().map(|e| (e.reqid, (e.version, e.user_version, e.result))));
    }

    fn recount(&mut self) {
        let (mut n, mut b) = (0, 0);
        let mut start: Option<ObjectId> = None;
        loop {
            let Ok(batch) = self.osd.store.list(&self.coll, start.as_ref(), 1024) else { break };
            let full = batch.len() == 1024;
            for (i, (o, size)) in batch.iter().enumerate() {
                if full && i == batch.len() - 1 {
                    start = Some(o.clone());
                    break;
                }
                n += 1;
                b += size;
            }
            if !full {
                break;
            }
        }
        self.num_objects = n;
        self.num_bytes = b;
    }

    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<PgEvent>, map: Arc<OsdMap>) {
        self.on_map(map);
        while let Some(ev) = rx.recv().await {
            match ev {
                PgEvent::Map(m) => {
                    // We may lead from this map on: our store must hold
                    // what our log says before we peer, serve or push.
                    if self.replica_commits.load(std::sync::atomic::Ordering::SeqCst) > 0 {
                        self.drain_local().await;
                    }
                    if self.maybe_resize(&m).await {
                        // Merged into its target: this PG is no more.
                        return;
                    }
                    self.on_map(m);
                    self.osd.set_map_need(self.pgid, self.map_need());
                    self.retry_ops_waiting_for_map().await;
                }
                PgEvent::ClientOp { msg, tid, conn, session } => self.on_client_op(QueuedOp { msg, tid, conn, session }).await,
                PgEvent::RepOp { m, conn } => self.on_repop(m, conn).await,
                PgEvent::RepOpReply { from, m } => self.on_repop_reply(from, m),
                PgEvent::Query { m, from, conn } => {
                    self.drain_local().await;
                    self.on_query(m, from, conn)
                }
                PgEvent::Notify(n) => {
                    // peering may go on to recovery, which reads objects from the store
                    self.drain_local().await;
                    self.on_notify(n)
                }
                PgEvent::Pull { m, from } => {
                    self.drain_local().await;
                    self.on_pull(m, from)
                }
                PgEvent::Push { m, from, conn } => self.on_push(m, from, conn).await,
                PgEvent::PushAck(a) => {
                    self.on_push_ack(a);
                    // A finished backfill frees its slot: say so now, not at
                    // the next tick, so no two backfills of this OSD show at once.
                    if self.is_primary() && self.state() != self.last_state {
                        self.report_state();
                    }
                }
                PgEvent::SessionReset { gid } => self.on_session_reset(gid),
                PgEvent::Tick => self.on_tick(),
                PgEvent::LocalCommitted { version, ok } => self.on_local_committed(version, ok).await,
                PgEvent::Remove { m, from } => self.on_remove(m, from),
                PgEvent::RecoveryWake { target, interval } => {
                    if let Some(ps) = self.pushes.get_mut(&target) {
                        if interval == self.interval && ps.sleeping {
                            ps.sleeping = false;
                            self.push_next(target);
                        }
                    }
                }
                PgEvent::BackfillSlot { target, interval, slot } => {
                    // A slot for a backfill that is gone is dropped (freed).
                    let primary = self.is_primary();
                    if let Some(ps) = self.pushes.get_mut(&target).filter(|p| p.slot.waiting() && interval == self.interval && primary) {
                        ps.slot = BackfillSlot::Held(slot);
                        info!(pg = %self.pgid, target, "backfill slot reserved: backfilling");
                        self.push_next(target);
                        if self.osd.conf().recovery_sleep.is_zero() {
                            self.push_next(target);
                        }
                        self.report_state();
                    }
                }
            }
            if matches!(self.phase, Phase::Active) && self.is_primary() {
                let removed = self.map.osd.removed_snaps_queue.get(&(self.pgid.pool as i64));
                if removed != self.trimmed_snaps.as_ref() {
                    self.trim_snaps().await;
                }
            }
            // Ops held while a recovery finished, once nothing is committing.
            if matches!(self.phase, Phase::Active) && !self.blocked.is_empty() && self.local.is_empty() && !self.pushes.values().any(|p| p.finishing) {
                for q in std::mem::take(&mut self.blocked) {
                    self.on_client_op(q).await;
                }
            }
            if matches!(self.phase, Phase::Active) && !self.waiting.is_empty() {
                for q in std::mem::take(&mut self.waiting) {
                    self.on_client_op(q).await;
                }
            }
            if !self.strays.is_empty() && self.is_clean() {
                self.purge_strays();
            }
            self.maybe_clear_pg_temp();
        }
    }

    fn pool(&self) -> Option<&maps::PgPool> {
        self.map.pools.get(&(self.pgid.pool as i64))
    }

    // ---------------------------------------------------------------- maps

    /// A new pg_num: split ([`Pg::maybe_split`]) or merge. Returns true
    /// when this PG merged into another and its task ends.
    async fn maybe_resize(&mut self, new: &Arc<OsdMap>) -> bool {
        let pool = self.pgid.pool as i64;
        let (Some(old), Some(now)) = (self.map.pools.get(&pool), new.pools.get(&pool)) else { return false };
        let (old_n, new_n) = (old.pg_num, now.pg_num);
        if new_n > old_n {
            self.maybe_split(new, old_n, new_n).await;
        } else if new_n < old_n {
            if self.pgid.seed >= new_n {
                self.merge_away(new_n).await;
                return true;
            }
            let sources = maps::pool::split_children(self.pgid.seed, new_n, old_n);
            if !sources.is_empty() {
                self.absorb_sources(sources, new_n).await;
            }
        }
        false
    }

    /// This PG merges into its target (Ceph's merge source): its writes
    /// land, ops queued here go to the target, writes waiting for replicas
    /// and watches are dropped (clients resend and re-watch: their target
    /// PG changed), and the task ends. The target moves our objects.
    async fn merge_away(&mut self, new_n: u32) {
        self.drain_local().await;
        let target = maps::pool::fold_seed(self.pgid.seed, new_n);
        info!(pg = %self.pgid, into = %PgId { pool: self.pgid.pool, seed: target }, "merging");
        self.inflight.clear();
        self.watchers.clear();
        let mut queued: Vec<QueuedOp> = std::mem::take(&mut self.waiting);
        queued.extend(std::mem::take(&mut self.waiting_for_map));
        queued.extend(std::mem::take(&mut self.blocked));
        for q in queued.into_iter().filter(|q| !is_pg_op(&q.msg)) {
            self.forward_op(q, new_n);
        }
    }

    /// PGs merge into this one (Ceph's merge target): once their tasks here
    /// have stopped, one transaction moves their objects into our
    /// collection and drops theirs. Every copy is clean when the mon
    /// merges (it waits for active+clean), so each OSD merges alike: the
    /// merged copy's last_update is the newest of them, and its log starts
    /// there (see [`merge_copies`]).
    async fn absorb_sources(&mut self, sources: Vec<u32>, new_n: u32) {
        self.drain_local().await;
        let sources: Vec<PgId> = sources.into_iter().map(|seed| PgId { pool: self.pgid.pool, seed }).collect();
        let t0 = Instant::now();
        while sources.iter().any(|s| self.osd.pg_running(*s)) {
            if t0.elapsed() > Duration::from_secs(60) {
                warn!(pg = %self.pgid, "merge sources still running after 60 s: merging what they left");
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // Off the async threads: a big PG's merge takes seconds, which
        // must not hold up heartbeats.
        let (store, pgid) = (self.osd.store.clone(), self.pgid);
        match tokio::task::spawn_blocking(move || merge_copies(&store, pgid, &sources, new_n)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(pg = %self.pgid, "cannot merge: {e}"),
            Err(e) => tracing::error!(pg = %self.pgid, "merge task failed: {e}"),
        }
        if let Err(e) = self.load() {
            warn!(pg = %self.pgid, "cannot reload pg state after merge: {e}");
        }
    }

    /// The pool grew past PGs that split off this one: our copy splits
    /// (once its writes are on disk), then the children's tasks start.
    /// Ops queued here for objects that moved go to their new PG; writes
    /// of theirs still waiting for replicas are dropped unanswered (the
    /// client resends to the child, which knows them by reqid), and so
    /// are their watches (clients re-register them), as Ceph's split_ops.
    async fn maybe_split(&mut self, new: &Arc<OsdMap>, old_n: u32, new_n: u32) {
        let children = maps::pool::split_children(self.pgid.seed, old_n, new_n);
        if children.is_empty() {
            return;
        }
        if self.exists {
            self.drain_local().await;
            // Off the async threads, as a merge.
            let (store, pgid) = (self.osd.store.clone(), self.pgid);
            match tokio::task::spawn_blocking(move || split_copy(&store, pgid, old_n, new_n)).await {
                Ok(Ok(_)) => {}
                // Unrecoverable here: our copy keeps its objects and the
                // children start empty (peering fetches theirs elsewhere).
                Ok(Err(e)) => tracing::error!(pg = %self.pgid, "cannot split: {e}"),
                Err(e) => tracing::error!(pg = %self.pgid, "split task failed: {e}"),
            }
            if let Err(e) = self.load() {
                warn!(pg = %self.pgid, "cannot reload pg state after split: {e}");
            }
        }
        let pgid = self.pgid;
        let ours = |hash: u32| maps::pool::fold_seed(hash, new_n) == pgid.seed;
        self.inflight.retain(|_, f| f.hash.is_none_or(ours));
        self.watchers.retain(|o, _| ours(o.hash));
        for c in &children {
            self.osd.start_child(PgId { pool: pgid.pool, seed: *c }, new.clone());
        }
        let mut forward = Vec::new();
        for q in [&mut self.waiting, &mut self.waiting_for_map] {
            let (stay, go): (Vec<QueuedOp>, Vec<QueuedOp>) = std::mem::take(q).into_iter().partition(|q| is_pg_op(&q.msg) || ours(q.msg.hash));
            *q = stay;
            forward.extend(go);
        }
        let (stay, go): (VecDeque<QueuedOp>, VecDeque<QueuedOp>) = std::mem::take(&mut self.blocked).into_iter().partition(|q| ours(q.msg.hash));
        self.blocked = stay;
        forward.extend(go);
        for q in forward {
            self.forward_op(q, new_n);
        }
    }

    /// Hands a client op for an object this PG no longer holds (a split
    /// or merge moved it) to the PG that does.
    fn forward_op(&self, q: QueuedOp, pg_num: u32) {
        let to = PgId { pool: self.pgid.pool, seed: maps::pool::fold_seed(q.msg.hash, pg_num) };
        debug!(pg = %self.pgid, to = %to, oid = %q.msg.oid, "op for an object that moved to another pg: forwarded");
        self.osd.forward_to_pg(to, PgEvent::ClientOp { msg: q.msg, tid: q.tid, conn: q.conn, session: q.session });
    }

    fn on_map(&mut self, map: Arc<OsdMap>) {
        let prev_epoch = self.map.epoch;
        let pool = self.pgid.pool as i64;
        // A split off us or a merge into us starts an interval, by the
        // map history's rule (history::View), so that every OSD names it alike.
        let resized = match (self.map.pools.get(&pool), map.pools.get(&pool)) {
            (Some(a), Some(b)) => history::children_below(self.pgid.seed, a.pg_num) != history::children_below(self.pgid.seed, b.pg_num),
            _ => false,
        };
        self.map = map.clone();
        if self.pool().is_none() {
            // Pool deleted: drop our copy.
            if self.exists {
                info!(pg = %self.pgid, "pool gone; removing pg");
                let mut t = Transaction::new();
                t.push(Op::RmColl { coll: self.coll.clone() });
                let _ = self.osd.store.apply(&t);
                self.exists = false;
            }
            self.phase = Phase::Follower;
            self.primary = -1;
            // Pushes end with the pool (and free their backfill slots).
            self.pushes.clear();
            self.recovering_peers.clear();
            return;
        }
        let m = map.pg_to_up_acting(self.pgid);
        let (up, acting, primary) = (m.up, m.acting, m.acting_primary);
        let sizes = self.pool().map(|p| (p.size, p.min_size)).unwrap_or_default();
        // As Ceph's is_new_interval: a new acting or up set or primary, or new
        // pool sizes. Epochs we did not see (maps come in batches) may hold
        // a change that was undone since: then the history names the interval.
        let mapped_anew = acting != self.acting || primary != self.primary || up != self.up || sizes != self.sizes || self.interval == 0 || resized;
        let skipped = map.epoch > prev_epoch + 1;
        // Our copy's activation names an interval whose start was trimmed
        // only if we are in it (see MapHistory::interval_start).
        let activated = self.activation_naming(&up, &acting);
        let first = if mapped_anew || skipped { self.osd.history.interval_start(self.pgid, map.epoch, activated) } else { None };
        let changed = mapped_anew || first.is_some_and(|f| f != self.interval);
        if !changed {
            match self.phase {
                // An OSD may have come back, or been marked lost.
                Phase::Down { .. } => self.start_peering(),
                Phase::WaitUpThru if self.up_thru_ok() => self.go_active(),
                _ => {}
            }
            return;
        }
        let was_primary = self.primary == self.whoami();
        self.up = up;
        self.acting = acting;
        self.primary = primary;
        self.sizes = sizes;
        // Every OSD must name the interval alike (messages of other
        // intervals are dropped): its first epoch, from the map history.
        self.interval = first.unwrap_or(map.epoch);
        self.pushes.clear();
        debug!(pg = %self.pgid, epoch = map.epoch, acting = ?self.acting, primary, "new interval");
        if self.primary == self.whoami() {
            self.start_peering();
        } else {
            if was_primary {
                // Clients resend to the new primary; resent writes are
                // recognised there by their reqid if they made it.
                self.inflight.clear();
                self.waiting.clear();
                self.watchers.clear();
            }
            self.phase = Phase::Follower;
            self.notify_if_stray();
        }
    }

    /// A stray tells the primary it holds a copy (the primary deletes it
    /// once the PG is clean without us): on each new interval, and every
    /// 30 s in case that was missed.
    fn notify_if_stray(&mut self) {
        let me = self.whoami();
        if self.exists && self.primary >= 0 && self.primary != me && !self.up.contains(&me) && !self.acting.contains(&me) {
            let mut n = self.my_notify();
            n.interval = 0;
            n.log.clear();
            self.osd.send_osd(self.primary, n.to_raw(0, 0));
            self.stray_notified = Some(Instant::now());
        }
    }

    /// The oldest epoch this PG may still read from the map history: its
    /// interval's first (to name it again after a restart) and its copy's
    /// last activation (peering walks the intervals since). A copy active
    /// in its interval needs neither: its activation epoch is the
    /// interval's first, and the interval since then went active (see
    /// [`history::Walk`]). Nothing for a deleted pool's PG.
    fn map_need(&self) -> u32 {
        if self.pool().is_none() {
            return u32::MAX;
        }
        // Not ours (a stray or a PG that moved away): it peers for nothing
        // and names no interval (a new mapping here starts a new one).
        let me = self.whoami();
        if !self.up.contains(&me) && !self.acting.contains(&me) {
            return u32::MAX;
        }
        if self.interval == 0 {
            return 0;
        }
        let les = self.exists.then_some(self.info.last_epoch_started).filter(|e| *e > 0);
        match les {
            Some(les) if les == self.interval => u32::MAX,
            Some(les) => les.min(self.interval),
            None => self.interval,
        }
    }

    /// Our copy's activation epoch, which names an interval whose start
    /// was trimmed, if we are in the PG (`up`/`acting`; see
    /// MapHistory::interval_start).
    fn activation_naming(&self, up: &[i32], acting: &[i32]) -> Option<u32> {
        let me = self.whoami();
        (self.exists && (up.contains(&me) || acting.contains(&me))).then_some(self.info.last_epoch_started)
    }

    /// The interval's first epoch again, in case the maps to tell it were
    /// missing when it changed (a fresh OSD fills its history meanwhile).
    fn refresh_interval(&mut self) {
        let activated = self.activation_naming(&self.up, &self.acting);
        if let Some(first) = self.osd.history.interval_start(self.pgid, self.map.epoch, activated) {
            self.interval = first;
        }
    }

    fn is_primary(&self) -> bool {
        self.primary == self.whoami()
    }

    // ------------------------------------------------------------- peering

    fn start_peering(&mut self) {
        // Peering decides recovery afresh.
        self.recovering_peers.clear();
        self.backfill_done.clear();
        self.pg_temp_clear_sent = None;
        self.pushes.clear();
        let me = self.whoami();
        let map = self.map.clone();
        // Whom to ask: the up OSDs of every interval since our copy last went
        // active that may have accepted writes, plus the up and acting sets.
        // Without a copy (or the maps to tell), every up OSD.
        let prior = if self.exists { self.osd.history.past_intervals(self.pgid, map.epoch, self.info.last_epoch_started).ok() } else { None };
        let mut waiting: HashSet<i32> = match &prior {
            Some((intervals, _)) => {
                let p = history::prior_in(&map, intervals);
                p.probe.into_iter().chain(self.up.iter().copied()).chain(self.acting.iter().copied()).collect()
            }
            None => (0..map.max_osd).collect(),
        };
        waiting.retain(|o| *o != me && map.is_up(*o));
        for o in &waiting {
            self.osd.send_osd(*o, PgQuery { pgid: self.pgid, interval: self.interval }.to_raw(0, 0));
        }
        self.phase = Phase::Peering { waiting, notifies: HashMap::new(), started: Instant::now() };
        self.maybe_finish_peering();
    }

    fn my_notify(&self) -> PgNotify {
        PgNotify {
            pgid: self.pgid,
            interval: self.interval,
            from: self.whoami(),
            exists: self.exists,
            info: self.info.clone(),
            log: self.log.iter().cloned().collect(),
        }
    }

    fn on_query(&mut self, m: PgQuery, from: i32, conn: Connection) {
        // A primary peering anew pushes a new stream after this (on the
        // same ordered channel): what we expected of its old one is void.
        // (Another OSD's query leaves the stream we receive alone.)
        if self.push_stream.is_some_and(|(f, ..)| f == from) {
            self.push_stream = None;
        }
        let mut n = self.my_notify();
        n.interval = m.interval;
        let _ = conn.send(n.to_raw(0, 0));
    }

    fn on_notify(&mut self, n: PgNotify) {
        // A copy elsewhere (our map may not show its OSD out of the PG yet;
        // purge_strays checks again).
        if n.exists && n.from != self.whoami() {
            self.strays.insert(n.from);
        }
        if n.interval != self.interval {
            return;
        }
        if let Phase::Peering { waiting, notifies, .. } = &mut self.phase {
            waiting.remove(&n.from);
            notifies.insert(n.from, n);
        }
        self.maybe_finish_peering();
    }

    fn maybe_finish_peering(&mut self) {
        let Phase::Peering { waiting, notifies, .. } = &mut self.phase else { return };
        // OSDs that went down will not answer; a new map restarts peering anyway.
        let map = self.map.clone();
        waiting.retain(|o| map.is_up(*o));
        if !waiting.is_empty() {
            return;
        }
        // Every interval since the newest activation any copy knows of that
        // may have accepted writes must have an OSD here to tell what it
        // holds; otherwise the PG is down (Ceph's PriorSet).
        let les = newest_les(self.exists.then_some(self.info.last_epoch_started), notifies);
        let intervals = match self.osd.history.past_intervals(self.pgid, map.epoch, les) {
            Ok((iv, _)) => iv,
            Err(missing) => {
                // Peering goes on once the maps are in (next tick).
                debug!(pg = %self.pgid, missing, "waiting for past osdmaps");
                self.osd.want_maps(missing);
                return;
            }
        };
        let prior = history::prior_in(&map, &intervals);
        // An OSD of those intervals that came up since we asked around must
        // be heard too (its copy may be the newest).
        let me = self.whoami();
        let (pgid, interval) = (self.pgid, self.interval);
        if let Phase::Peering { waiting, notifies, .. } = &mut self.phase {
            let unheard: Vec<i32> = prior.probe.iter().copied().filter(|o| *o != me && !notifies.contains_key(o)).collect();
            if !unheard.is_empty() {
                for o in unheard {
                    waiting.insert(o);
                    self.osd.send_osd(o, PgQuery { pgid, interval }.to_raw(0, 0));
                }
                return;
            }
        }
        if prior.pg_down {
            let blocked_by: Vec<i32> = prior.blocked_by.into_iter().collect();
            warn!(pg = %self.pgid, ?blocked_by, "pg is down: an interval that may have accepted writes has no osd up; bring one back or mark it lost ('ceph osd lost')");
            self.phase = Phase::Down { blocked_by };
            return;
        }
        let Phase::Peering { notifies, .. } = &mut self.phase else { return };
        let notifies = std::mem::take(notifies);
        // The authoritative copy, as Ceph's find_best_info: among the copies
        // that went active most recently (newest last_epoch_started), the
        // newest last_update; ties prefer us, then the acting set. A copy
        // with an older start holds writes of an interval that a later one
        // superseded (say, after `ceph osd lost`), which are divergent.
        let mut best: Option<(i32, (u32, u64))> = if self.exists && self.info.last_epoch_started >= les { Some((me, ord(self.info.last_update))) } else { None };
        for (o, n) in &notifies {
            if !n.exists || n.info.last_epoch_started < les {
                continue;
            }
            let k = ord(n.info.last_update);
            let better = match best {
                None => true,
                Some((b, bk)) => k > bk || (k == bk && b != me && self.acting.contains(o) && !self.acting.contains(&b)),
            };
            if better {
                best = Some((*o, k));
            }
        }
        if let Some((auth, _)) = best.filter(|(a, _)| *a != me) {
            let n = &notifies[&auth];
            if let Some(want) = self.choose_acting(auth, &n.info, |lu| log_covers(n.info.log_tail, n.log.iter(), lu), les, &notifies) {
                self.request_pg_temp(want);
                return;
            }
        }
        match best {
            Some((auth, _)) if auth != me => {
                let since = self.log_recoverable_from(&notifies[&auth]);
                info!(pg = %self.pgid, from = auth, ?since, "pulling newer pg copy");
                self.osd.send_osd(auth, PgPull { pgid: self.pgid, interval: self.interval, since }.to_raw(0, 0));
                self.push_stream = None;
                self.phase = Phase::Pulling { from: auth, started: Instant::now(), notifies };
            }
            _ => {
                if !self.exists {
                    self.create_collection();
                }
                self.recover_replicas(notifies);
            }
        }
    }

    /// Ceph's `choose_acting`, simplified: when an up OSD (we included)
    /// would need a whole copy (backfill), the OSDs with complete copies
    /// should act for the PG meanwhile, the authoritative one first, so the
    /// PG keeps its redundancy and serves while the up ones backfill. The
    /// wanted acting set, if it differs from today's and helps.
    fn choose_acting(&self, auth: i32, auth_info: &PgInfo, in_auth_log: impl Fn(EVersion) -> bool, les: u32, notifies: &HashMap<i32, PgNotify>) -> Option<Vec<i32>> {
        let pool = self.pool()?;
        let (size, min_size) = (pool.size as usize, (pool.min_size as usize).max(1));
        let me = self.whoami();
        let info_of = |o: i32| -> Option<&PgInfo> {
            if o == me {
                self.exists.then_some(&self.info)
            } else {
                notifies.get(&o).filter(|n| n.exists).map(|n| &n.info)
            }
        };
        let complete = |o: i32| o == auth || (self.map.is_up(o) && info_of(o).is_some_and(|i| i.last_epoch_started >= les && i.last_update == auth_info.last_update));
        let by_log = |o: i32| info_of(o).is_some_and(|i| in_auth_log(i.last_update));
        let up: Vec<i32> = self.up.iter().copied().filter(|o| *o >= 0).collect();
        if !up.iter().any(|o| !complete(*o) && !by_log(*o)) {
            return None;
        }
        let mut want = vec![auth];
        let candidates: Vec<i32> = up.iter().chain(self.acting.iter()).copied().chain(notifies.keys().copied()).collect();
        for o in candidates {
            if want.len() >= size {
                break;
            }
            if o >= 0 && !want.contains(&o) && complete(o) {
                want.push(o);
            }
        }
        let up_complete = up.iter().filter(|o| complete(**o)).count();
        if want.len() < min_size || want.len() <= up_complete || want == self.acting || self.map.pg_temp.get(&self.pgid) == Some(&want) {
            return None;
        }
        Some(want)
    }

    /// Asks the mon for `want` as the PG's acting set (pg_temp) and waits for the map.
    fn request_pg_temp(&mut self, want: Vec<i32>) {
        info!(pg = %self.pgid, up = ?self.up, ?want, "up osds need backfill: asking for pg_temp so complete copies act meanwhile");
        self.send_pg_temp(want);
        self.phase = Phase::WaitPgTemp { started: Instant::now() };
    }

    /// MOSDPGTemp for this PG (an empty list clears it).
    fn send_pg_temp(&self, osds: Vec<i32>) {
        let m = messages::osd_mon::OsdPgTemp { version: self.map.epoch as u64, map_epoch: self.map.epoch, pg_temp: [(self.pgid, osds)].into_iter().collect(), forced: false };
        let _ = self.osd.monc.send_raw(m.to_raw(0, PACIFIC_SUPPORTED), None);
    }

    /// Once every up OSD outside a pg_temp acting set is backfilled (and
    /// the acting copies are complete), the pg_temp goes: the PG maps to its
    /// CRUSH OSDs again, which now hold everything.
    fn maybe_clear_pg_temp(&mut self) {
        if !self.is_primary() || !matches!(self.phase, Phase::Active) || !self.map.pg_temp.contains_key(&self.pgid) || !self.recovering_peers.is_empty() {
            return;
        }
        let me = self.whoami();
        let ready = self.up.iter().filter(|o| **o >= 0 && **o != me).all(|o| self.acting.contains(o) || self.backfill_done.contains(o));
        if !ready || self.pg_temp_clear_sent.is_some_and(|t| t.elapsed() < Duration::from_secs(5)) {
            return;
        }
        info!(pg = %self.pgid, up = ?self.up, "backfill done: clearing pg_temp");
        self.pg_temp_clear_sent = Some(Instant::now());
        self.send_pg_temp(vec![]);
    }

    /// Whether our copy can catch up with `auth` from its log: our
    /// last_update must be in its log (or be its tail). None means backfill.
    fn log_recoverable_from(&self, auth: &PgNotify) -> Option<EVersion> {
        if !self.exists {
            return None;
        }
        let lu = self.info.last_update;
        log_covers(auth.info.log_tail, auth.log.iter(), lu).then_some(lu)
    }

    fn create_collection(&mut self) {
        self.info.pg_num = self.pool().map(|p| p.pg_num).unwrap_or(0);
        let mut t = Transaction::new();
        t.push(Op::MkColl { coll: self.coll.clone() });
        t.push(Op::SetMeta { coll: self.coll.clone(), key: "info".into(), value: self.info.to_bytes(0) });
        if let Err(e) = self.osd.store.apply(&t) {
            warn!(pg = %self.pgid, "cannot create pg collection: {e}");
            return;
        }
        self.exists = true;
    }

    fn recover_replicas(&mut self, notifies: HashMap<i32, PgNotify>) {
        let me = self.whoami();
        let les = newest_les(self.exists.then_some(self.info.last_epoch_started), &notifies);
        let in_log = |lu: EVersion| log_covers(self.info.log_tail, self.log.iter(), lu);
        if let Some(want) = self.choose_acting(me, &self.info, in_log, les, &notifies) {
            self.request_pg_temp(want);
            return;
        }
        // What each peer needs: nothing (complete), the log since its
        // last_update, or a backfill (None).
        let needs = |r: i32| -> Option<Option<EVersion>> {
            match notifies.get(&r).filter(|n| n.exists).map(|n| n.info.last_update) {
                Some(lu) if lu == self.info.last_update => None,
                Some(lu) if ord(lu) < ord(self.info.last_update) && in_log(lu) => Some(Some(lu)),
                _ => Some(None),
            }
        };
        let targets: Vec<(i32, Option<EVersion>)> = self.acting.iter().copied().filter(|r| *r != me && *r >= 0).filter_map(|r| needs(r).map(|since| (r, since))).collect();
        // Up OSDs outside a pg_temp acting set: backfilled while the acting
        // ones serve; they never hold up activation.
        let mut backfill: Vec<(i32, Option<EVersion>)> = Vec::new();
        for r in self.up.iter().copied().filter(|r| *r != me && *r >= 0 && !self.acting.contains(r)) {
            match needs(r) {
                None => {
                    self.backfill_done.insert(r);
                }
                Some(since) => backfill.push((r, since)),
            }
        }
        for &(r, since) in &backfill {
            self.recovering_peers.insert(r);
            info!(pg = %self.pgid, target = r, ?since, "backfilling up osd outside the acting set");
            // Complete copies serve meanwhile, so a backfill may wait its
            // turn (catching up from the log does not).
            self.start_push(r, since, since.is_none());
        }
        if targets.is_empty() {
            self.activate();
            return;
        }
        // With enough complete copies the PG serves I/O while the others
        // catch up, as Ceph's active+recovering PGs do; otherwise it waits.
        let complete = self.acting.iter().filter(|o| **o >= 0 && !targets.iter().any(|(t, _)| t == *o)).count();
        let min_size = self.pool().map(|p| p.min_size as usize).unwrap_or(1).max(1);
        let serve = complete >= min_size;
        if serve {
            // Before the pushes start: a peer with nothing to catch up gets
            // its last push at once and leaves this set again.
            self.recovering_peers.extend(targets.iter().map(|(t, _)| *t));
        }
        for &(r, since) in &targets {
            info!(pg = %self.pgid, target = r, ?since, "recovering replica");
            self.start_push(r, since, false);
        }
        if serve {
            if !self.recovering_peers.is_empty() {
                info!(pg = %self.pgid, peers = ?self.recovering_peers, "active while recovering");
            }
            self.activate();
        } else {
            self.phase = Phase::Recovering { targets: targets.iter().map(|(t, _)| *t).collect() };
        }
    }

    /// Objects still to push (for the degraded count).
    fn recovering_objects(&self) -> u64 {
        self.pushes.iter().filter(|(t, _)| self.acting.contains(t)).map(|(_, p)| p.todo.len() as u64).sum()
    }

    /// Objects still to push to up OSDs outside the acting set (misplaced).
    fn misplaced_objects(&self) -> u64 {
        self.pushes.iter().filter(|(t, _)| !self.acting.contains(t) && self.up.contains(t)).map(|(_, p)| p.todo.len() as u64).sum()
    }

    /// The objects changed after `since` (by the log), or all of them.
    fn objects_since(&self, since: Option<EVersion>) -> VecDeque<ObjectId> {
        match since {
            Some(s) => {
                let mut seen = HashSet::new();
                let mut v = VecDeque::new();
                for e in self.log.iter().filter(|e| ord(e.version) > ord(s)) {
                    if let Some(o) = entry_oid(e) {
                        if seen.insert(o.clone()) {
                            v.push_back(o);
                        }
                    }
                }
                v
            }
            None => {
                let mut v = VecDeque::new();
                let mut start: Option<ObjectId> = None;
                loop {
                    let Ok(batch) = self.osd.store.list(&self.coll, start.as_ref(), 1025) else { break };
                    let more = batch.len() == 1025;
                    for (i, (o, _)) in batch.into_iter().enumerate() {
                        if more && i == 1024 {
                            start = Some(o);
                            break;
                        }
                        v.push_back(o);
                    }
                    if !more {
                        break;
                    }
                }
                v
            }
        }
    }

    /// Starts pushing to `target` what it misses since `since` (all, for a
    /// backfill). `throttled`: first take one of the OSD's backfill slots.
    fn start_push(&mut self, target: i32, since: Option<EVersion>, throttled: bool) {
        let todo = self.objects_since(since);
        let queued = todo.iter().cloned().collect();
        let ps = PushState {
            todo,
            queued,
            reset: since.is_none(),
            seq: 0,
            unacked: 0,
            done: false,
            sent_objects: 0,
            stalled: false,
            finishing: false,
            sleeping: false,
            slot: BackfillSlot::NotNeeded,
            throttled,
            paused: false,
            interval: self.interval,
            retry_at: None,
            partial: None,
            last_progress: Instant::now(),
        };
        self.pushes.insert(target, ps);
        if throttled && !self.reserve_backfill_slot(target) {
            return;
        }
        // Two batches in flight per target (one when pacing with osd_recovery_sleep).
        self.push_next(target);
        if self.osd.conf().recovery_sleep.is_zero() {
            self.push_next(target);
        }
    }

    /// Whether the map's flags hold back a push to a peer that recovers
    /// while the PG serves I/O, as Ceph's: `norecover` pauses all recovery,
    /// `nobackfill` defers backfills, and `norebalance` those of a PG that
    /// is not degraded (only misplaced). A PG that cannot serve until its
    /// peers catch up recovers regardless.
    fn push_held_by_flags(&self, target: i32, ps: &PushState) -> bool {
        use maps::osdmap::flags::*;
        // Only a primary's recovery waits; a pull we serve is peering.
        if !self.is_primary() || !self.recovering_peers.contains(&target) {
            return false;
        }
        if self.target_too_full(target, ps.reset) {
            return true;
        }
        let f = self.map.flags;
        f & NORECOVER != 0 || (ps.reset && (f & NOBACKFILL != 0 || (f & NOREBALANCE != 0 && !self.is_degraded())))
    }

    /// Whether a push to `target` must wait for room, by the OSDs' states
    /// in the map, and the PG in backfill_toofull / recovery_toofull: a
    /// backfill when the target is backfillfull or full (Ceph's remote
    /// reservation refuses then); a log recovery when any OSD of the PG is
    /// full, this primary too (Ceph's `check_full` over
    /// acting_recovery_backfill).
    fn target_too_full(&self, target: i32, backfill: bool) -> bool {
        use maps::osdmap::{OSD_BACKFILLFULL, OSD_FULL};
        let state = |o: i32| usize::try_from(o).ok().and_then(|i| self.map.osd_state.get(i)).copied().unwrap_or(0);
        if backfill {
            return state(target) & (OSD_BACKFILLFULL | OSD_FULL) != 0;
        }
        let mut osds = [self.osd.whoami, target].into_iter().chain(self.acting.iter().copied()).chain(self.recovering_peers.iter().copied());
        osds.any(|o| state(o) & OSD_FULL != 0)
    }

    /// Pushes the flags held back go on once the flags are gone.
    fn resume_paused_pushes(&mut self) {
        let now = Instant::now();
        let due: Vec<i32> = self.pushes.iter().filter(|(_, p)| p.paused && p.retry_at.is_none_or(|at| now >= at)).map(|(t, _)| *t).collect();
        for target in due {
            let Some(ps) = self.pushes.get(&target) else { continue };
            if self.push_held_by_flags(target, ps) {
                // Still too full at the retry: wait another interval.
                if ps.retry_at.is_some() {
                    let next = now + self.retry_interval(ps.reset);
                    if let Some(ps) = self.pushes.get_mut(&target) {
                        ps.retry_at = Some(next);
                    }
                }
                continue;
            }
            let Some(ps) = self.pushes.get_mut(&target) else { continue };
            ps.paused = false;
            ps.retry_at = None;
            ps.last_progress = Instant::now();
            info!(pg = %self.pgid, target, "recovery resumed");
            // A pause gave up the backfill slot: take one again.
            if ps.throttled && matches!(ps.slot, BackfillSlot::NotNeeded) && !self.reserve_backfill_slot(target) {
                continue;
            }
            self.push_next(target);
            if self.osd.conf().recovery_sleep.is_zero() {
                self.push_next(target);
            }
        }
    }

    fn retry_interval(&self, backfill: bool) -> Duration {
        if backfill { self.osd.conf().backfill_retry_interval } else { self.osd.conf().recovery_retry_interval }
    }

    /// Adds to `t` what recreates `o` on a peer from byte `from` on, with
    /// about `budget` bytes of data at most (at least one 64 KiB piece).
    /// The first piece removes the peer's old object; the last sets size,
    /// xattrs and omap. Returns the bytes added, and the offset to go on
    /// from when the object is not finished. A big object thus goes in
    /// several pushes, never whole in memory; if it changes meanwhile, the
    /// write queues it to be pushed again from the start.
    fn object_txn(&self, t: &mut Transaction, o: &ObjectId, from: u64, budget: u64) -> objectstore::Result<(u64, Option<u64>)> {
        const PIECE_MIN: u64 = 64 << 10;
        let st = &self.osd.store;
        let coll = self.coll.clone();
        // A read that fails fails the piece: never a hole or a missing
        // object on the peer in its place.
        let Some(size) = st.stat(&coll, o)? else {
            t.push(Op::Remove { coll: coll.clone(), oid: o.clone() });
            return Ok((0, None));
        };
        if from == 0 {
            t.push(Op::Remove { coll: coll.clone(), oid: o.clone() });
            t.push(Op::Touch { coll: coll.clone(), oid: o.clone() });
        }
        let mut bytes = 0u64;
        for (off, len) in st.data_extents(&coll, o, from, size.saturating_sub(from))? {
            let end = off + len;
            let mut pos = off.max(from);
            while pos < end {
                if bytes >= budget {
                    return Ok((bytes, Some(pos)));
                }
                let l = (end - pos).min((budget - bytes).max(PIECE_MIN));
                let data = st.read(&coll, o, pos, l)?;
                t.push(Op::Write { coll: coll.clone(), oid: o.clone(), off: pos, data });
                bytes += l;
                pos += l;
            }
        }
        t.push(Op::Truncate { coll: coll.clone(), oid: o.clone(), size });
        for (k, v) in st.getattrs(&coll, o)? {
            t.push(Op::SetAttr { coll: coll.clone(), oid: o.clone(), name: k, value: v });
        }
        let h = st.omap_header(&coll, o)?;
        if !h.is_empty() {
            t.push(Op::OmapHeader { coll: coll.clone(), oid: o.clone(), header: h });
        }
        let kv = st.omap_range(&coll, o, b"", false, usize::MAX)?;
        if !kv.is_empty() {
            t.push(Op::OmapSet { coll, oid: o.clone(), kv });
        }
        Ok((bytes, None))
    }

    /// Backfills to OSDs outside the acting set run at most
    /// `osd_max_backfills` at a time on this OSD, as Ceph's local backfill
    /// reservation does; the others wait (backfill_wait) in request order.
    /// Returns whether the slot is held now; if not, a `BackfillSlot` event
    /// brings it later.
    fn reserve_backfill_slot(&mut self, target: i32) -> bool {
        let Some(ps) = self.pushes.get_mut(&target) else { return false };
        match self.osd.backfill_slots.clone().try_acquire_owned() {
            Ok(slot) => {
                ps.slot = BackfillSlot::Held(slot);
                true
            }
            Err(_) => {
                ps.slot = BackfillSlot::Waiting;
                info!(pg = %self.pgid, target, "backfill waits for a slot (osd_max_backfills)");
                let (me, slots, interval) = (self.me.clone(), self.osd.backfill_slots.clone(), self.interval);
                tokio::spawn(async move {
                    let Ok(slot) = slots.acquire_owned().await else { return };
                    if let Some(tx) = me.upgrade() {
                        let _ = tx.send(PgEvent::BackfillSlot { target, interval, slot });
                    }
                });
                false
            }
        }
    }

    fn push_next(&mut self, target: i32) {
        const BATCH_BYTES: u64 = 8 << 20;
        let batch_objects = if self.osd.conf().recovery_sleep.is_zero() { 64 } else { 1 };
        let Some(mut ps) = self.pushes.remove(&target) else { return };
        if ps.done || ps.sleeping || ps.slot.waiting() || ps.paused {
            self.pushes.insert(target, ps);
            return;
        }
        if self.push_held_by_flags(target, &ps) {
            if !ps.paused {
                if self.target_too_full(target, ps.reset) {
                    let wait = self.retry_interval(ps.reset);
                    warn!(pg = %self.pgid, target, retry_in = ?wait, "recovery paused: an osd is too full (add storage, or raise 'ceph osd set-backfillfull-ratio' / 'set-full-ratio')");
                    ps.retry_at = Some(Instant::now() + wait);
                } else {
                    info!(pg = %self.pgid, target, flags = %maps::dump::osdmap_flag_names(self.map.flags).join(","), "recovery paused by the osdmap's flags");
                }
                // A deferred backfill gives its slot to others (Ceph's
                // DeferBackfill): a degraded PG may go on under norebalance.
                ps.slot = BackfillSlot::NotNeeded;
                ps.paused = true;
                // Client ops wait for a finishing push; not for a paused one.
                ps.finishing = false;
                ps.stalled = false;
            }
            self.pushes.insert(target, ps);
            return;
        }
        let mut t = Transaction::new();
        let (mut n, mut bytes) = (0u32, 0u64);
        // Objects with a write still committing are pushed after it lands
        // (the store shows only committed data).
        let mut later = Vec::new();
        let committing = |pg: &Self, o: &ObjectId| pg.pending.contains_key(&ObjectId { snap: objectstore::NOSNAP, ..o.clone() });
        let mut failed = None;
        loop {
            if n as usize >= batch_objects || bytes >= BATCH_BYTES {
                break;
            }
            let (o, from) = match ps.partial.take() {
                Some((o, _)) if committing(self, &o) => {
                    // Changed under us: the write queued it again, to go
                    // whole once it lands.
                    debug!(pg = %self.pgid, target, "object changed during a piecewise push");
                    continue;
                }
                Some(p) => p,
                None => {
                    let Some(o) = ps.todo.pop_front() else { break };
                    if committing(self, &o) {
                        later.push(o);
                        if ps.todo.is_empty() {
                            break;
                        }
                        continue;
                    }
                    ps.queued.remove(&o);
                    (o, 0)
                }
            };
            let mark = t.ops.len();
            let (b, next) = match self.object_txn(&mut t, &o, from, BATCH_BYTES - bytes) {
                Ok(x) => x,
                Err(e) => {
                    t.ops.truncate(mark);
                    failed = Some((o, from, e));
                    break;
                }
            };
            bytes += b;
            if let Some(next) = next {
                ps.partial = Some((o, next));
                break;
            }
            n += 1;
        }
        ps.todo.extend(later);
        if let Some((o, from, e)) = failed {
            // What reads back from here is sent; this object waits, as a
            // paused push, and goes again after the retry interval.
            let wait = self.retry_interval(ps.reset);
            tracing::error!(pg = %self.pgid, target, object = %o.name, "cannot read an object to recover it: {e}; trying again in {wait:?}");
            if from > 0 {
                ps.partial = Some((o, from));
            } else {
                ps.queued.insert(o.clone());
                ps.todo.push_front(o);
            }
            ps.paused = true;
            ps.retry_at = Some(Instant::now() + wait);
            ps.slot = BackfillSlot::NotNeeded;
            if t.ops.is_empty() {
                ps.finishing = false;
                ps.stalled = false;
                self.pushes.insert(target, ps);
                return;
            }
        }
        // The last push carries the log and info, so it must show every
        // write they list: it waits until none is committing.
        let last = ps.todo.is_empty() && ps.partial.is_none() && self.local.is_empty();
        if t.ops.is_empty() && !last {
            ps.stalled = true;
            ps.finishing = ps.todo.is_empty() && ps.partial.is_none();
            self.pushes.insert(target, ps);
            return;
        }
        ps.stalled = false;
        ps.finishing = false;
        let (txn, data) = t.to_wire();
        let m = PgPush {
            pgid: self.pgid,
            interval: ps.interval,
            seq: ps.seq,
            reset: ps.reset && ps.seq == 0,
            last,
            info: self.info.clone(),
            log: if last { self.log.iter().cloned().collect() } else { vec![] },
            objects: n,
            bytes,
            txn,
            data,
        };
        ps.seq += 1;
        ps.unacked += 1;
        ps.sent_objects += n as u64;
        ps.done = last;
        self.pushes.insert(target, ps);
        if self.osd.drop_push(m.seq) {
            warn!(pg = %self.pgid, target, seq = m.seq, "test hook osd_debug_drop_push_seq: dropping this push");
        } else {
            self.osd.send_osd(target, m.to_raw(0, 0));
        }
        if last && self.recovering_peers.remove(&target) {
            // It now holds everything up to our last_update: later writes
            // replicate to it (arriving after this push, in order).
            info!(pg = %self.pgid, target, "recovered; replicating to it again");
            if !self.acting.contains(&target) && self.up.contains(&target) {
                self.backfill_done.insert(target);
            }
        }
    }

    /// Pushes that waited for writes to commit go on.
    fn resume_stalled_pushes(&mut self) {
        let stalled: Vec<i32> = self.pushes.iter().filter(|(_, p)| p.stalled && p.unacked == 0).map(|(t, _)| *t).collect();
        for t in stalled {
            self.push_next(t);
        }
    }

    /// Objects written while `recovering_peers` miss them go (again) into
    /// their push queues.
    fn requeue_for_recovery(&mut self, entries: &[LogEntry]) {
        if self.recovering_peers.is_empty() {
            return;
        }
        for t in self.recovering_peers.clone() {
            let Some(ps) = self.pushes.get_mut(&t) else { continue };
            for o in entries.iter().filter_map(entry_oid) {
                if ps.queued.insert(o.clone()) {
                    ps.todo.push_back(o);
                }
            }
        }
    }

    fn on_pull(&mut self, m: PgPull, from: i32) {
        if !self.exists {
            return;
        }
        info!(pg = %self.pgid, to = from, since = ?m.since, "serving pull");
        let saved = self.interval;
        // Pushes carry the requester's interval so it accepts them.
        self.interval = m.interval;
        self.start_push(from, m.since, false);
        self.interval = saved;
        if let Some(ps) = self.pushes.get_mut(&from) {
            ps.reset = m.since.is_none();
        }
    }

    async fn on_push(&mut self, m: PgPush, from: i32, conn: Connection) {
        if m.interval < self.interval {
            self.refresh_interval();
        }
        if m.interval < self.interval {
            debug!(pg = %self.pgid, from, interval = m.interval, ours = self.interval, "push from an older interval dropped");
            return;
        }
        // A pull that keeps delivering is not stalled, however long it takes.
        if let Phase::Pulling { started, from: f, .. } = &mut self.phase {
            if *f == from {
                *started = Instant::now();
            }
        }
        let txn = match Transaction::from_wire(m.txn.clone(), m.data.clone()) {
            Ok(t) => t,
            Err(e) => {
                warn!(pg = %self.pgid, from, "bad push: {e}");
                return;
            }
        };
        let in_order = match self.push_stream {
            _ if m.seq == 0 => true,
            Some((f, i, next)) => f == from && i == m.interval && next == m.seq,
            None => false,
        };
        if !in_order {
            warn!(pg = %self.pgid, from, seq = m.seq, expected = ?self.push_stream, "push out of sequence (one was lost): refusing it, the sender starts over");
            // The stream it belongs to is broken; another sender's is not.
            if self.push_stream.is_some_and(|(f, i, _)| f == from && i == m.interval) {
                self.push_stream = None;
            }
            let _ = conn.send(PgPushAck { pgid: self.pgid, interval: m.interval, seq: m.seq, from: self.whoami(), result: -11 }.to_raw(0, 0));
            return;
        }
        self.push_stream = (!m.last).then_some((from, m.interval, m.seq + 1));
        let mut t = Transaction::new();
        if m.reset {
            t.push(Op::RmColl { coll: self.coll.clone() });
            // Until the last push lands this copy holds nothing it can
            // claim: an interrupted backfill must start over.
            self.log.clear();
            self.dups.clear();
            self.info = PgInfo { pgid: self.pgid, ..Default::default() };
        }
        if m.reset || !self.exists {
            t.push(Op::MkColl { coll: self.coll.clone() });
        }
        // Only ops on our own collection are accepted.
        for op in txn.ops {
            if op_coll(&op) == Some(self.coll.as_str()) {
                t.push(op);
            }
        }
        if m.last {
            // Adopt the sender's history.
            for (k, _) in self.osd.store.scan_meta(&self.coll, "log/").unwrap_or_default() {
                if !m.reset {
                    t.push(Op::RmMeta { coll: self.coll.clone(), key: k });
                }
            }
            for e in &m.log {
                t.push(Op::SetMeta { coll: self.coll.clone(), key: log_key(e.version), value: e.to_bytes(0) });
            }
            let mut info = m.info.clone();
            info.pgid = self.pgid;
            t.push(Op::SetMeta { coll: self.coll.clone(), key: "info".into(), value: info.to_bytes(0) });
        }
        let result = match self.osd.commits.commit(t).await {
            Ok(()) => 0,
            Err(e) => {
                warn!(pg = %self.pgid, "applying push: {e}");
                -5
            }
        };
        self.exists = true;
        if result != 0 {
            // Not applied: what follows must not be.
            self.push_stream = None;
        }
        if m.last && result == 0 {
            self.info = m.info.clone();
            self.info.pgid = self.pgid;
            self.log = m.log.iter().cloned().collect();
            self.rebuild_dups();
            self.recount();
        }
        let _ = conn.send(PgPushAck { pgid: self.pgid, interval: m.interval, seq: m.seq, from: self.whoami(), result }.to_raw(0, 0));
        if m.last && result == 0 {
            if let Phase::Pulling { from: f, notifies, .. } = &mut self.phase {
                if *f == from {
                    let notifies = std::mem::take(notifies);
                    info!(pg = %self.pgid, last_update = ?self.info.last_update, "pulled authoritative copy");
                    self.recover_replicas(notifies);
                }
            }
        }
    }

    fn on_push_ack(&mut self, a: PgPushAck) {
        let Some(ps) = self.pushes.get_mut(&a.from) else { return };
        // An ack of an older stream's push (a late refusal) is not this one's.
        if a.interval != ps.interval {
            return;
        }
        ps.unacked = ps.unacked.saturating_sub(1);
        ps.last_progress = Instant::now();
        if a.result != 0 {
            warn!(pg = %self.pgid, peer = a.from, result = a.result, "push refused; re-peering");
            self.pushes.remove(&a.from);
            if self.is_primary() {
                self.start_peering();
            }
            return;
        }
        if !ps.done {
            let pause = self.osd.conf().recovery_sleep;
            if pause.is_zero() {
                self.push_next(a.from);
            } else if !ps.sleeping {
                ps.sleeping = true;
                let (me, target, interval) = (self.me.clone(), a.from, self.interval);
                tokio::spawn(async move {
                    tokio::time::sleep(pause).await;
                    if let Some(tx) = me.upgrade() {
                        let _ = tx.send(PgEvent::RecoveryWake { target, interval });
                    }
                });
            }
            return;
        }
        if ps.unacked > 0 {
            return;
        }
        self.pushes.remove(&a.from);
        if let Phase::Recovering { targets, .. } = &mut self.phase {
            targets.remove(&a.from);
            if targets.is_empty() {
                self.activate();
            }
        }
    }

    fn up_thru_ok(&self) -> bool {
        let me = self.whoami();
        self.map.osd.osd_info.get(me as usize).map(|i| i.up_thru).unwrap_or(0) >= self.interval
    }

    /// Recovery (of the copies that must be complete first) is done: the PG
    /// serves I/O once it has min_size acting copies and the mon has us
    /// alive in this interval, so later peering knows it may have taken writes.
    fn activate(&mut self) {
        let acting = self.acting.iter().filter(|o| **o >= 0).count();
        let min_size = self.pool().map(|p| p.min_size as usize).unwrap_or(1).max(1);
        if acting < min_size {
            info!(pg = %self.pgid, acting = ?self.acting, min_size, "fewer acting copies than min_size: peered, no I/O");
            self.phase = Phase::Peered;
            return;
        }
        if !self.up_thru_ok() {
            self.osd.want_up_thru(self.interval);
            self.phase = Phase::WaitUpThru;
            return;
        }
        self.go_active();
    }

    fn go_active(&mut self) {
        self.info.last_epoch_started = self.interval;
        (self.info.num_objects, self.info.num_bytes) = (self.num_objects, self.num_bytes);
        let mut t = Transaction::new();
        t.push(Op::SetMeta { coll: self.coll.clone(), key: "info".into(), value: self.info.to_bytes(0) });
        if let Err(e) = self.osd.store.apply(&t) {
            warn!(pg = %self.pgid, "saving pg info: {e}");
        }
        // The complete replicas record the activation too (as Ceph's
        // activate message does), so a later peering among them knows this
        // interval's start: an info-only RepOp at our last_update.
        let me = self.whoami();
        let complete: Vec<i32> = self.acting.iter().copied().filter(|o| *o >= 0 && *o != me && !self.recovering_peers.contains(o)).chain(self.backfill_done.iter().copied()).collect();
        let lu = self.info.last_update;
        let (txn, data) = t.to_wire();
        for r in complete {
            self.osd.send_osd(r, RepOp { pgid: self.pgid, interval: self.interval, version: lu, prev: lu, txn: txn.clone(), data: data.clone() }.to_raw(0, 0));
        }
        self.phase = Phase::Active;
        debug!(pg = %self.pgid, acting = ?self.acting, "active");
        // Writes from before the interval change are now on every acting
        // copy; those still committing locally are answered when they land.
        let me = self.whoami();
        for (k, mut f) in std::mem::take(&mut self.inflight) {
            if self.local.contains_key(&k) {
                f.waiting = [me].into_iter().collect();
                self.inflight.insert(k, f);
            } else if let Some(p) = f.reply {
                let _ = p.conn.send(p.reply.to_raw(p.tid, PACIFIC_SUPPORTED));
            }
        }
    }

    /// We lead the PG, it is active+clean, and no push (a pull we serve) is under way.
    fn is_clean(&self) -> bool {
        self.is_primary() && self.pushes.is_empty() && self.state() & messages::osd_peer::pg_state::CLEAN != 0
    }

    /// Tells OSDs outside the PG that hold a copy to delete it (Ceph's
    /// `purge_strays`, once clean).
    fn purge_strays(&mut self) {
        for o in std::mem::take(&mut self.strays) {
            if self.up.contains(&o) || self.acting.contains(&o) || !self.map.is_up(o) {
                continue;
            }
            info!(pg = %self.pgid, stray = o, "clean: removing the stray copy");
            self.osd.send_osd(o, PgRemove { pgid: self.pgid, epoch: self.map.epoch }.to_raw(0, 0));
        }
    }

    /// A stray deletes its copy, unless its own map has it back in the PG.
    fn on_remove(&mut self, m: PgRemove, from: i32) {
        let me = self.whoami();
        if !self.exists || self.up.contains(&me) || self.acting.contains(&me) || m.epoch < self.interval {
            debug!(pg = %self.pgid, from, "keeping our copy: still in the pg, or the request is stale");
            return;
        }
        info!(pg = %self.pgid, primary = from, "deleting stray copy");
        let mut t = Transaction::new();
        t.push(Op::RmColl { coll: self.coll.clone() });
        if let Err(e) = self.osd.store.apply(&t) {
            warn!(pg = %self.pgid, "removing stray copy: {e}");
            return;
        }
        self.exists = false;
        self.info = PgInfo { pgid: self.pgid, ..Default::default() };
        self.log.clear();
        self.dups.clear();
        self.num_objects = 0;
        self.num_bytes = 0;
    }

    // ------------------------------------------------------------- replica

    async fn on_repop(&mut self, m: RepOp, conn: Connection) {
        let reply = |r: i32| RepOpReply { pgid: m.pgid, interval: m.interval, version: m.version, result: r };
        if m.interval < self.interval {
            self.refresh_interval();
        }
        if m.interval < self.interval || !self.exists || self.info.last_update != m.prev {
            debug!(pg = %self.pgid, have = ?self.info.last_update, prev = ?m.prev, "refusing repop");
            let _ = conn.send(reply(-116).to_raw(0, 0));
            return;
        }
        let mut txn = match Transaction::from_wire(m.txn.clone(), m.data.clone()) {
            Ok(t) if t.ops.iter().all(|o| op_coll(o) == Some(self.coll.as_str())) => t,
            _ => {
                let _ = conn.send(reply(-22).to_raw(0, 0));
                return;
            }
        };
        // The pg_num our copy was split for is ours, not the primary's: a
        // crash before we split must leave it telling that we have not.
        for op in txn.ops.iter_mut() {
            if let Op::SetMeta { key, value, .. } = op {
                if key == "info" {
                    if let Ok(mut i) = PgInfo::from_bytes(value.clone()) {
                        i.pg_num = self.info.pg_num;
                        *value = i.to_bytes(0);
                    }
                }
            }
        }
        // Pipelined like the primary: the next repop may be submitted while
        // this one commits (the store keeps their order); the primary hears
        // back once it is on disk.
        let committed = match self.osd.commits.submit(txn.clone()) {
            Ok(f) => f,
            Err(e) => {
                warn!(pg = %self.pgid, "replica apply failed: {e}");
                let _ = conn.send(reply(-5).to_raw(0, 0));
                return;
            }
        };
        self.absorb_meta(&txn);
        let (ok, fail) = (reply(0).to_raw(0, 0), reply(-5).to_raw(0, 0));
        let pgid = self.pgid;
        let unsynced = self.replica_commits.clone();
        unsynced.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        tokio::spawn(async move {
            let r = committed.await;
            unsynced.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
            match r {
                Ok(()) => {
                    let _ = conn.send(ok);
                }
                Err(e) => {
                    tracing::error!(pg = %pgid, "replica commit failed: {e}");
                    let _ = conn.send(fail);
                }
            }
        });
    }

    /// Mirrors the PG metadata a transaction wrote (info, log) in memory.
    fn absorb_meta(&mut self, t: &Transaction) {
        for op in &t.ops {
            match op {
                Op::SetMeta { key, value, .. } if key == "info" => {
                    if let Ok(i) = PgInfo::from_bytes(value.clone()) {
                        // The primary's counts, should we lead next.
                        if i.pg_num != 0 {
                            (self.num_objects, self.num_bytes) = (i.num_objects, i.num_bytes);
                        }
                        self.info = i;
                    }
                }
                Op::SetMeta { key, value, .. } if key.starts_with("log/") => {
                    if let Ok(e) = LogEntry::from_bytes(value.clone()) {
                        self.dups.insert(e.reqid, (e.version, e.user_version, e.result));
                        self.log.push_back(e);
                    }
                }
                Op::RmMeta { key, .. } if key.starts_with("log/") => {
                    if let Some(e) = self.log.pop_front() {
                        self.dups.remove(&e.reqid);
                    }
                }
                _ => {}
            }
        }
    }

    fn on_repop_reply(&mut self, from: i32, m: RepOpReply) {
        if m.interval != self.interval {
            return;
        }
        if m.result != 0 {
            warn!(pg = %self.pgid, replica = from, result = m.result, "replica refused a write; re-peering");
            // Keep the op: it is answered once peering has caught the replica up.
            self.start_peering();
            return;
        }
        let k = ord(m.version);
        let done = match self.inflight.get_mut(&k) {
            Some(f) => {
                f.waiting.remove(&from);
                f.waiting.is_empty()
            }
            None => false,
        };
        if done {
            if let Some(f) = self.inflight.remove(&k) {
                if let Some(p) = f.reply {
                    let _ = p.conn.send(p.reply.to_raw(p.tid, PACIFIC_SUPPORTED));
                }
            }
        }
    }

    // ------------------------------------------------------------- clients

    /// A reply carrying only an error (each op echoed without its data).
    fn error_reply(&self, msg: &OsdOpMsg, result: i32) -> OsdOpReply {
        self.reply_for(msg, result, msg.ops.iter().map(|o| OsdOp { data: Bytes::new(), ..o.clone() }).collect(), EVersion::default(), 0)
    }

    fn reply_for(&self, msg: &OsdOpMsg, result: i32, ops: Vec<OsdOp>, version: EVersion, user_version: u64) -> OsdOpReply {
        let f = (msg.flags & !(flags::ONDISK | flags::ONNVRAM | flags::ACK)) | flags::ACK | flags::ONDISK;
        OsdOpReply {
            oid: msg.oid.clone(),
            pgid: msg.pgid.pgid,
            flags: f as i64,
            result,
            bad_replay_version: version,
            osdmap_epoch: self.map.epoch,
            ops,
            retry_attempt: msg.retry_attempt,
            replay_version: version,
            user_version,
            redirect: None,
        }
    }

    /// Runs the client ops that waited for the map this PG now has.
    async fn retry_ops_waiting_for_map(&mut self) {
        let epoch = self.map.epoch;
        let (ready, later): (Vec<QueuedOp>, Vec<QueuedOp>) = std::mem::take(&mut self.waiting_for_map).into_iter().partition(|q| q.msg.osdmap_epoch <= epoch);
        self.waiting_for_map = later;
        for q in ready {
            self.on_client_op(q).await;
        }
    }

    async fn on_client_op(&mut self, q: QueuedOp) {
        // Routed here under an older map: a split since moved its object.
        if let Some(n) = self.pool().map(|p| p.pg_num).filter(|n| !is_pg_op(&q.msg) && maps::pool::fold_seed(q.msg.hash, *n) != self.pgid.seed) {
            self.forward_op(q, n);
            return;
        }
        if !self.is_primary() {
            if q.msg.osdmap_epoch > self.map.epoch {
                self.waiting_for_map.push(q);
                return;
            }
            // Not ours (any more): the client resends when it sees the new map.
            debug!(pg = %self.pgid, "dropping op: not primary");
            return;
        }
        if !matches!(self.phase, Phase::Active) {
            self.waiting.push(q);
            return;
        }
        // A recovered peer's last push waits for the writes in flight to
        // land: new ops wait behind them, in order.
        if self.pushes.values().any(|p| p.finishing) {
            self.blocked.push_back(q);
            return;
        }
        let msg = &q.msg;
        let is_write = msg.flags & flags::WRITE != 0 || msg.ops.iter().any(|o| opcode::is_write(o.op) || crate::cls::call_writes(o));
        // Capabilities: pool, namespace, object; class calls need class caps.
        let pool_name = self.map.pool_name.get(&(self.pgid.pool as i64)).cloned().unwrap_or_default();
        if let Some(e) = q.session.check_caps(&pool_name, &msg.oloc.nspace, &msg.oid, &msg.ops, is_write) {
            let r = self.error_reply(msg, e);
            let _ = q.conn.send(r.to_raw(q.tid, PACIFIC_SUPPORTED));
            return;
        }
        if is_pg_op(msg) {
            self.do_pg_op(q);
            return;
        }
        // An object with a write still committing (or with ops already
        // waiting) is served in order once the write is on disk.
        let head = self.object_id(msg);
        if self.pending.contains_key(&head) || self.blocked.iter().any(|b| self.object_id(&b.msg) == head) {
            self.blocked.push_back(q);
            return;
        }
        let msg = &q.msg;
        if is_write {
            if let Some((v, uv, r)) = self.dups.get(&msg.reqid).copied() {
                debug!(pg = %self.pgid, reqid = ?msg.reqid, "resent write already applied");
                let reply = self.reply_for(msg, r, msg.ops.iter().map(|o| OsdOp { data: Bytes::new(), ..o.clone() }).collect(), v, uv);
                match self.inflight.get_mut(&ord(v)) {
                    Some(f) => f.reply = Some(PendingReply { conn: q.conn, tid: q.tid, reply }),
                    None => {
                        let _ = q.conn.send(reply.to_raw(q.tid, PACIFIC_SUPPORTED));
                    }
                }
                return;
            }
        }
        // A pool over its quota takes no write that can grow it, unless
        // forced: FULL_TRY ones get EDQUOT; others EAGAIN, so the client
        // resends and then holds them while the pool is full (Ceph drops
        // them and the client resends). Watches, deletes and shrinking ops
        // go through, as Ceph's check is on growth.
        let grows = || {
            use opcode::*;
            msg.ops.iter().any(|o| opcode::is_write(o.op) && !matches!(o.op, WATCH | NOTIFY | NOTIFY_ACK | DELETE | TRUNCATE | ZERO | RMXATTR | OMAPRMKEYS | OMAPCLEAR))
        };
        // The same for a pool whose OSDs are full (ENOSPC for FULL_TRY).
        // An OSD whose own disk is nearly out of space (failsafe) drops
        // every write, forced ones and deletes too, as Ceph's: the client
        // resends once the map says full (this OSD then reports itself
        // full). Only FULL_TRY ones are served: a delete frees space, a
        // write that grows gets ENOSPC.
        if is_write && self.osd.failsafe_full() {
            if msg.flags & flags::FULL_TRY == 0 {
                debug!(pg = %self.pgid, "failsafe full: dropping write");
                return;
            }
            if grows() {
                let r = self.error_reply(msg, -28);
                let _ = q.conn.send(r.to_raw(q.tid, PACIFIC_SUPPORTED));
                return;
            }
        }
        let pool_flags = self.pool().map(|p| p.flags).unwrap_or(0);
        if is_write && msg.flags & flags::FULL_FORCE == 0 && pool_flags & maps::pool::FLAG_FULL != 0 && grows() {
            let quota = pool_flags & maps::pool::FLAG_FULL_QUOTA != 0;
            let rc = if msg.flags & flags::FULL_TRY != 0 { if quota { -122 } else { -28 } } else { -11 };
            let r = self.error_reply(msg, rc);
            let _ = q.conn.send(r.to_raw(q.tid, PACIFIC_SUPPORTED));
            return;
        }
        self.do_op(q, is_write).await;
    }

    fn object_id(&self, msg: &OsdOpMsg) -> ObjectId {
        let key = if msg.oloc.key.is_empty() { "" } else { msg.oloc.key.as_str() };
        ObjectId::head(msg.hash, &msg.oloc.nspace, key, &msg.oid)
    }

    async fn do_op(&mut self, q: QueuedOp, is_write: bool) {
        let msg = &q.msg;
        let head = self.object_id(msg);
        let store = self.osd.store.clone();
        let mut ops = msg.ops.clone();
        // Which object the op addresses: the head, or at a snap id the clone
        // that covers it; LIST_SNAPS goes to the head at CEPH_SNAPDIR only.
        let list_snaps = ops.iter().any(|o| o.op == opcode::LIST_SNAPS);
        let bad_snapdir = (msg.snapid == snaps::SNAPDIR) != list_snaps || (list_snaps && ops.iter().any(|o| o.op != opcode::LIST_SNAPS));
        // Snap 0 names no object: an op resolved to it finds nothing (ENOENT).
        let nothing = ObjectId { snap: 0, ..head.clone() };
        let removed = self.map.osd.removed_snaps_queue.get(&(self.pgid.pool as i64));
        let oid = if bad_snapdir || (is_write && msg.snapid != snaps::NOSNAP) {
            Err(ops::EINVAL)
        } else if msg.snapid == snaps::NOSNAP || msg.snapid == snaps::SNAPDIR {
            Ok(head.clone())
        } else if removed.is_some_and(|r| snaps::in_set(r, msg.snapid)) {
            // A removed snapshot is gone even before it is trimmed.
            Ok(nothing)
        } else {
            match snaps::load(&store, &self.coll, &head) {
                Err(_) => Err(ops::EIO),
                Ok((ss, _)) => Ok(match ss.resolve(msg.snapid) {
                    snaps::Target::Head => head.clone(),
                    snaps::Target::Clone(c) => ObjectId { snap: c, ..head.clone() },
                    snaps::Target::Missing => nothing,
                }),
            }
        };
        let oid = match oid {
            Ok(o) => o,
            Err(e) => {
                let r = self.reply_for(msg, e, ops, EVersion::default(), 0);
                let _ = q.conn.send(r.to_raw(q.tid, PACIFIC_SUPPORTED));
                return;
            }
        };
        let (result, mut ctx_out) = {
            let mut ctx = match Ctx::new(&store, &self.coll, oid.clone()) {
                Ok(c) => c,
                Err(e) => {
                    warn!(pg = %self.pgid, "reading object state: {e}");
                    let r = self.reply_for(msg, ops::EIO, ops, EVersion::default(), 0);
                    let _ = q.conn.send(r.to_raw(q.tid, PACIFIC_SUPPORTED));
                    return;
                }
            };
            ctx.max_object_size = self.osd.conf().max_object_size;
            ctx.origin = crate::cls_lock::Origin {
                name: msg.reqid.name,
                addr: q.conn.info.peer_addrs.0.first().copied().unwrap_or_default(),
                features: q.conn.info.features,
            };
            let existed_size = ctx.exists.then_some(ctx.size);
            // Reads hit the disk (a 4 MiB read is milliseconds): let the
            // runtime move other tasks off this worker meanwhile.
            let r = tokio::task::block_in_place(|| ops::execute(&mut ctx, &mut ops));
            let out = CtxOut {
                txn: std::mem::take(&mut ctx.txn),
                modified: ctx.modified,
                exists: ctx.exists,
                size: ctx.size,
                oi: ctx.oi.clone(),
                effects: std::mem::take(&mut ctx.effects),
                existed_size,
                snapset: std::mem::take(&mut ctx.snapset),
                whiteout: ctx.whiteout,
            };
            (r, out)
        };
        // LIST_WATCHERS is answered from the PG's watch table.
        for o in ops.iter_mut() {
            if o.op == opcode::LIST_WATCHERS && o.rval == 0 {
                o.data = self.list_watchers(&oid);
            }
        }
        let rd_bytes: usize = ops.iter().filter(|o| !opcode::is_write(o.op)).map(|o| o.data.len()).sum();
        if result < 0 || !ctx_out.modified || !is_write {
            self.num_rd += 1;
            self.num_rd_kb += (rd_bytes as u64).div_ceil(1024);
            // WATCH is a write op that changes nothing in the store.
            if result >= 0 {
                let effects = std::mem::take(&mut ctx_out.effects);
                let notify_reply = self.apply_effects(&q, &oid, effects, ctx_out.oi.user_version);
                if let Some(d) = notify_reply {
                    if let Some(o) = ops.iter_mut().find(|o| o.op == opcode::NOTIFY) {
                        o.data = d;
                    }
                }
            }
            let r = self.reply_for(msg, result, ops, ctx_out.oi.version, ctx_out.oi.user_version);
            let _ = q.conn.send(r.to_raw(q.tid, PACIFIC_SUPPORTED));
            return;
        }
        // A write: clone the head first if a snapshot was taken since it was
        // last written (make_writeable), then version it, log it, replicate it.
        // Pool-snapshot pools use the pool's snap context, not the op's
        // (PrimaryLogPG::execute_ctx), unless the client enforces its own.
        let (snap_seq, snapc) = match self.map.pools.get(&(self.pgid.pool as i64)) {
            Some(p) if p.flags & maps::pool::FLAG_POOL_SNAPS != 0 && msg.flags & flags::ENFORCE_SNAPC == 0 => (p.snap_seq, p.snaps.keys().rev().copied().collect::<Vec<u64>>()),
            _ => (msg.snap_seq, msg.snaps.clone()),
        };
        if !snaps::snapc_valid(snap_seq, &snapc) {
            let r = self.reply_for(msg, ops::EINVAL, ops, EVersion::default(), 0);
            let _ = q.conn.send(r.to_raw(q.tid, PACIFIC_SUPPORTED));
            return;
        }
        let mut version = EVersion { epoch: self.map.epoch, version: self.info.last_update.version + 1 };
        let prev = self.info.last_update;
        let user_version = self.info.last_user_version.max(ctx_out.oi.user_version) + 1;
        let mut ss = std::mem::take(&mut ctx_out.snapset);
        let had_snapset = !ss.is_empty();
        let mut t = Transaction::new();
        // The primary serves this object's reads: keep what it writes cached
        // when the client asks (or the OSD is configured to), as BlueStore
        // buffers writes flagged WILLNEED.
        let flagged = |f: u32| msg.ops.iter().any(|o| o.flags & f != 0);
        t.cache = (self.osd.conf().cache_primary_writes || flagged(ops::OP_FLAG_FADVISE_WILLNEED))
            && !flagged(ops::OP_FLAG_FADVISE_DONTNEED | ops::OP_FLAG_FADVISE_NOCACHE);
        let mut entries = Vec::new();
        let head_existed = ctx_out.existed_size;
        if let (Some(old_size), Some(newest)) = (head_existed, snapc.first()) {
            if *newest > ss.seq {
                let cid = snap_seq;
                let clone = ObjectId { snap: cid, ..oid.clone() };
                t.push(Op::Clone { coll: self.coll.clone(), src: oid.clone(), dst: clone.clone() });
                t.push(Op::RmAttr { coll: self.coll.clone(), oid: clone.clone(), name: snaps::SS_ATTR.into() });
                ss.clones.push(cid);
                ss.clone_size.insert(cid, old_size);
                ss.clone_overlap.insert(cid, if old_size > 0 { vec![(0, old_size)] } else { vec![] });
                ss.clone_snaps.insert(cid, snapc.iter().copied().take_while(|s| *s > ss.seq).collect());
                entries.push(LogEntry { version, user_version, op: LOG_MODIFY, oid: clone.to_bytes(0), reqid: ReqId::default(), result: 0 });
                version.version += 1;
            }
        }
        if let Some(newest) = ss.clones.last().copied() {
            let cut = modified_ranges(&msg.ops, head_existed.unwrap_or(0));
            if let Some(ov) = ss.clone_overlap.get_mut(&newest) {
                *ov = snaps::subtract(ov, &cut);
            }
        }
        ss.seq = ss.seq.max(snap_seq);
        t.ops.extend(std::mem::take(&mut ctx_out.txn.ops));
        // A head deleted while clones exist stays as a whiteout holding the SnapSet.
        let whiteout = !ctx_out.exists && !ss.clones.is_empty();
        if whiteout && !ctx_out.whiteout {
            t.push(Op::Remove { coll: self.coll.clone(), oid: oid.clone() });
            t.push(Op::Touch { coll: self.coll.clone(), oid: oid.clone() });
            t.push(Op::SetAttr { coll: self.coll.clone(), oid: oid.clone(), name: snaps::WHITEOUT_ATTR.into(), value: Bytes::new() });
        } else if !whiteout && ctx_out.whiteout && ctx_out.exists {
            t.push(Op::RmAttr { coll: self.coll.clone(), oid: oid.clone(), name: snaps::WHITEOUT_ATTR.into() });
        }
        if ctx_out.exists || whiteout {
            let oi = ObjectInfo { version, user_version, mtime: if msg.mtime.sec == 0 { Utime::now() } else { msg.mtime } };
            t.push(Op::SetAttr { coll: self.coll.clone(), oid: oid.clone(), name: ops::OI_ATTR.into(), value: oi.to_bytes(0) });
            if had_snapset || !ss.is_empty() {
                t.push(Op::SetAttr { coll: self.coll.clone(), oid: oid.clone(), name: snaps::SS_ATTR.into(), value: ss.encode() });
            }
        }
        let entry = LogEntry {
            version,
            user_version,
            op: if ctx_out.exists || whiteout { LOG_MODIFY } else { LOG_DELETE },
            oid: oid.to_bytes(0),
            reqid: msg.reqid,
            result: 0,
        };
        entries.push(entry.clone());
        // Counted before the info is written, which carries the counts.
        let old_size = ctx_out.existed_size;
        match (old_size, ctx_out.exists) {
            (None, true) => {
                self.num_objects += 1;
                self.num_bytes += ctx_out.size;
            }
            (Some(s), false) => {
                self.num_objects = self.num_objects.saturating_sub(1);
                self.num_bytes = self.num_bytes.saturating_sub(s);
            }
            (Some(s), true) => self.num_bytes = (self.num_bytes + ctx_out.size).saturating_sub(s),
            (None, false) => {}
        }
        let replicas = match self.commit_replicated(t, entries, prev) {
            Ok(r) => r,
            Err(()) => {
                let r = self.reply_for(msg, ops::EIO, ops, version, user_version);
                let _ = q.conn.send(r.to_raw(q.tid, PACIFIC_SUPPORTED));
                return;
            }
        };
        self.num_wr += 1;
        self.num_wr_kb += (msg.ops.iter().map(|o| o.data.len()).sum::<usize>() as u64).div_ceil(1024);
        let effects = std::mem::take(&mut ctx_out.effects);
        self.apply_effects(&q, &oid, effects, user_version);
        let out_ops: Vec<OsdOp> = ops.into_iter().map(|o| OsdOp { data: if o.op == opcode::CALL { o.data } else { Bytes::new() }, ..o }).collect();
        let reply = self.reply_for(msg, 0, out_ops, version, user_version);
        // Answered once the local commit and every replica's are in.
        let mut waiting: HashSet<i32> = replicas.into_iter().collect();
        waiting.insert(self.whoami());
        self.inflight.insert(ord(version), InFlight { waiting, reply: Some(PendingReply { conn: q.conn, tid: q.tid, reply }), started: Instant::now(), hash: Some(q.msg.hash) });
    }

    /// A local commit landed: the write's ops may go on, and it is answered
    /// if the replicas are done too.
    async fn on_local_committed(&mut self, version: EVersion, ok: bool) {
        let k = ord(version);
        for o in self.local.remove(&k).unwrap_or_default() {
            if let Some(n) = self.pending.get_mut(&o) {
                *n -= 1;
                if *n == 0 {
                    self.pending.remove(&o);
                }
            }
        }
        if !ok {
            // Never acknowledge what is not on disk; the client resends.
            tracing::error!(pg = %self.pgid, ?version, "local commit failed");
            self.inflight.remove(&k);
        } else {
            let me = self.whoami();
            let done = self.inflight.get_mut(&k).map(|f| {
                f.waiting.remove(&me);
                f.waiting.is_empty()
            });
            if done == Some(true) {
                if let Some(p) = self.inflight.remove(&k).and_then(|f| f.reply) {
                    let _ = p.conn.send(p.reply.to_raw(p.tid, PACIFIC_SUPPORTED));
                }
            }
        }
        self.resume_stalled_pushes();
        if !self.blocked.is_empty() {
            for q in std::mem::take(&mut self.blocked) {
                self.on_client_op(q).await;
            }
        }
    }

    /// Waits until every write this PG submitted is on disk, as primary or
    /// replica (before reading many objects from the store at once, or
    /// telling a peer what we hold).
    async fn drain_local(&self) {
        if !self.local.is_empty() || self.replica_commits.load(std::sync::atomic::Ordering::SeqCst) > 0 {
            // commits keep their order: an empty one lands after all of them
            let _ = self.osd.commits.commit(Transaction::new()).await;
        }
    }

    /// Logs, replicates and commits a write transaction whose log `entries`
    /// (versions after `prev`) are already built: trims the log, updates the
    /// PG info, sends the transaction to every acting replica and commits it
    /// locally. Returns the replicas whose commits are still to come.
    fn commit_replicated(&mut self, mut t: Transaction, entries: Vec<LogEntry>, prev: EVersion) -> Result<Vec<i32>, ()> {
        let version = entries.last().map(|e| e.version).unwrap_or(prev);
        for e in &entries {
            t.push(Op::SetMeta { coll: self.coll.clone(), key: log_key(e.version), value: e.to_bytes(0) });
        }
        let mut info = self.info.clone();
        info.last_update = version;
        (info.num_objects, info.num_bytes) = (self.num_objects, self.num_bytes);
        info.last_user_version = info.last_user_version.max(entries.iter().map(|e| e.user_version).max().unwrap_or(0));
        // Trim the log to its bound.
        let max_log = self.osd.conf().max_pg_log_entries;
        let mut trimmed = 0;
        while self.log.len() + entries.len() - trimmed > max_log {
            let old = &self.log[trimmed];
            t.push(Op::RmMeta { coll: self.coll.clone(), key: log_key(old.version) });
            info.log_tail = old.version;
            trimmed += 1;
        }
        t.push(Op::SetMeta { coll: self.coll.clone(), key: "info".into(), value: info.to_bytes(0) });
        let replicas: Vec<i32> = self.acting.iter().copied().filter(|o| *o != self.whoami() && *o >= 0 && !self.recovering_peers.contains(o)).chain(self.backfill_done.iter().copied()).collect();
        self.requeue_for_recovery(&entries);
        let (txn, data) = t.to_wire();
        for r in &replicas {
            self.osd.send_osd(*r, RepOp { pgid: self.pgid, interval: self.interval, version, prev, txn: txn.clone(), data: data.clone() }.to_raw(0, 0));
        }
        let committed = match self.osd.commits.submit(t) {
            Ok(f) => f,
            Err(e) => {
                // The local store failed: do not acknowledge; Ceph would stop the OSD.
                tracing::error!(pg = %self.pgid, "local commit failed: {e}");
                return Err(());
            }
        };
        // The objects wait for this commit before their next op.
        let heads: Vec<ObjectId> = {
            let mut h: Vec<ObjectId> = entries.iter().filter_map(entry_oid).map(|o| ObjectId { snap: objectstore::NOSNAP, ..o }).collect();
            h.sort();
            h.dedup();
            h
        };
        for o in &heads {
            *self.pending.entry(o.clone()).or_default() += 1;
        }
        self.local.insert(ord(version), heads);
        let me = self.me.clone();
        tokio::spawn(async move {
            let ok = committed.await.is_ok();
            if let Some(tx) = me.upgrade() {
                let _ = tx.send(PgEvent::LocalCommitted { version, ok });
            }
        });
        // In-memory mirror of what was committed.
        for _ in 0..trimmed {
            if let Some(e) = self.log.pop_front() {
                self.dups.remove(&e.reqid);
            }
        }
        self.info = info;
        for e in &entries {
            if e.reqid != ReqId::default() {
                self.dups.insert(e.reqid, (e.version, e.user_version, e.result));
            }
        }
        self.log.extend(entries);
        Ok(replicas)
    }

    /// Snap trimming: drops removed snaps from every SnapSet in the PG,
    /// deleting clones no snapshot needs any more (their space comes back)
    /// and whiteouts with no clones left. Each object is one replicated write.
    async fn trim_snaps(&mut self) {
        let Some(removed) = self.map.osd.removed_snaps_queue.get(&(self.pgid.pool as i64)).cloned() else {
            self.trimmed_snaps = None;
            return;
        };
        // SnapSets are read from the store: let pipelined writes land first.
        self.drain_local().await;
        let mut heads = Vec::new();
        let mut start: Option<ObjectId> = None;
        loop {
            let Ok(batch) = self.osd.store.list(&self.coll, start.as_ref(), 1024) else { return };
            let full = batch.len() == 1024;
            for (o, _) in &batch {
                if o.snap == objectstore::NOSNAP {
                    heads.push(o.clone());
                }
            }
            match (full, batch.last()) {
                (true, Some((l, _))) => start = Some(ObjectId { snap: l.snap.saturating_add(1), ..l.clone() }),
                _ => break,
            }
        }
        for head in heads {
            let Ok((mut ss, whiteout)) = snaps::load(&self.osd.store, &self.coll, &head) else { continue };
            let before = ss.clone();
            let gone = snaps::trim(&mut ss, &removed);
            if ss == before {
                continue;
            }
            let prev = self.info.last_update;
            let mut v = prev;
            let mut t = Transaction::new();
            let mut entries = Vec::new();
            let uv = self.info.last_user_version;
            for c in gone {
                let clone = ObjectId { snap: c, ..head.clone() };
                t.push(Op::Remove { coll: self.coll.clone(), oid: clone.clone() });
                v = EVersion { epoch: self.map.epoch, version: v.version + 1 };
                entries.push(LogEntry { version: v, user_version: uv, op: LOG_DELETE, oid: clone.to_bytes(0), reqid: ReqId::default(), result: 0 });
                self.num_objects = self.num_objects.saturating_sub(1);
            }
            let head_gone = whiteout && ss.clones.is_empty();
            if head_gone {
                t.push(Op::Remove { coll: self.coll.clone(), oid: head.clone() });
            } else {
                t.push(Op::SetAttr { coll: self.coll.clone(), oid: head.clone(), name: snaps::SS_ATTR.into(), value: ss.encode() });
            }
            v = EVersion { epoch: self.map.epoch, version: v.version + 1 };
            entries.push(LogEntry { version: v, user_version: uv, op: if head_gone { LOG_DELETE } else { LOG_MODIFY }, oid: head.to_bytes(0), reqid: ReqId::default(), result: 0 });
            match self.commit_replicated(t, entries, prev) {
                Ok(replicas) => {
                    let mut waiting: HashSet<i32> = replicas.into_iter().collect();
                    waiting.insert(self.whoami());
                    self.inflight.insert(ord(v), InFlight { waiting, reply: None, started: Instant::now(), hash: None });
                }
                Err(()) => return,
            }
        }
        debug!(pg = %self.pgid, "snap trim pass done");
        self.trimmed_snaps = Some(removed);
    }

    /// PGNLS: list this PG's objects from the cursor (`pg_nls_response_t`).
    fn do_pg_op(&mut self, q: QueuedOp) {
        let msg = &q.msg;
        let mut ops = msg.ops.clone();
        let mut result = 0;
        for o in ops.iter_mut() {
            if o.op != opcode::PGNLS {
                o.rval = ops::EOPNOTSUPP;
                result = ops::EOPNOTSUPP;
                break;
            }
            let count = o.u64_at(0).clamp(1, 4096) as usize;
            let cursor = match types::osd::HObject::from_bytes(o.data.clone()) {
                Ok(c) => c,
                Err(_) => {
                    o.rval = ops::EINVAL;
                    result = ops::EINVAL;
                    break;
                }
            };
            if msg.snapid != objectstore::NOSNAP {
                o.rval = ops::EINVAL;
                result = ops::EINVAL;
                break;
            }
            let pg_num = self.pool().map(|p| p.pg_num).unwrap_or(1);
            let (pg_start, pg_end) = pg_bounds(self.pgid.seed, pg_num);
            let key = |h: u32| h.reverse_bits() as u64;
            // A cursor outside this PG is a client error (EINVAL), as in Ceph.
            if !cursor.max && !(cursor.pool == i64::MIN && cursor.oid.is_empty() && cursor.hash == 0) {
                let k = key(cursor.hash);
                if k < key(pg_start) as u64 || pg_end.map(|e| k >= key(e)).unwrap_or(false) {
                    o.rval = ops::EINVAL;
                    result = ops::EINVAL;
                    break;
                }
            }
            let start = if cursor.max {
                Some(ObjectId { hash: u32::MAX, nspace: "\u{10ffff}".into(), ..Default::default() })
            } else if cursor.pool == i64::MIN || (cursor.hash == 0 && cursor.oid.is_empty() && cursor.nspace.is_empty()) {
                None
            } else {
                Some(ObjectId { hash: cursor.hash, nspace: cursor.nspace.clone(), key: cursor.key.clone(), name: cursor.oid.clone(), snap: cursor.snap })
            };
            let all_ns = msg.oloc.nspace == "\u{1}";
            let mut entries = Vec::new();
            let mut next: Option<ObjectId> = None;
            let mut from = start;
            'outer: loop {
                let batch = match self.osd.store.list(&self.coll, from.as_ref(), 1024) {
                    Ok(b) => b,
                    Err(_) => break,
                };
                let full = batch.len() == 1024;
                let mut last = None;
                for (obj, _) in batch {
                    last = Some(obj.clone());
                    if obj.snap != objectstore::NOSNAP {
                        continue;
                    }
                    if !all_ns && obj.nspace != msg.oloc.nspace {
                        continue;
                    }
                    // Whiteout heads are listed too, as Ceph lists them.
                    if entries.len() >= count {
                        next = Some(obj);
                        break 'outer;
                    }
                    entries.push(obj);
                }
                if !full {
                    break;
                }
                // Resume after the last key seen.
                let mut l = last.expect("full batch");
                l.snap = l.snap.saturating_add(1);
                from = Some(l);
            }
            // At the end of the PG the cursor is where the next PG starts (or MAX).
            let handle = match (&next, pg_end) {
                (Some(n), _) => types::osd::HObject { key: n.key.clone(), oid: n.name.clone(), snap: n.snap, hash: n.hash, max: false, nspace: n.nspace.clone(), pool: self.pgid.pool as i64 },
                (None, Some(h)) => types::osd::HObject { snap: objectstore::NOSNAP, hash: h, pool: self.pgid.pool as i64, ..Default::default() },
                (None, None) => types::osd::HObject { max: true, pool: i64::MIN, ..Default::default() },
            };
            o.data = nls_response(&handle, &entries);
            if next.is_none() {
                result = 1;
            }
        }
        self.num_rd += 1;
        let r = self.reply_for(msg, result, ops, self.info.last_update, 0);
        let _ = q.conn.send(r.to_raw(q.tid, PACIFIC_SUPPORTED));
    }

    // -------------------------------------------------------- watch/notify

    fn list_watchers(&self, oid: &ObjectId) -> Bytes {
        // obj_list_watch_response_t: list<watch_item_t{entity_name_t, cookie, timeout, addr}>
        let mut e = Encoder::new(PACIFIC_SUPPORTED);
        let s = e.start(1, 1);
        let ws = self.watchers.get(oid);
        e.u32(ws.map(|w| w.len()).unwrap_or(0) as u32);
        if let Some(ws) = ws {
            for ((gid, cookie), w) in ws {
                let i = e.start(2, 1);
                types::EntityNameT::new(types::EntityType::CLIENT, *gid as i64).encode(&mut e);
                e.u64(*cookie);
                e.u32(w.timeout);
                let addr = w.conn.info.peer_addrs.0.first().copied().unwrap_or_default();
                addr.encode(&mut e);
                e.finish(i);
            }
        }
        e.finish(s);
        e.into_bytes()
    }

    /// Registers watches and starts notifies. Returns the NOTIFY op's reply
    /// data (the notify id) when there was one.
    fn apply_effects(&mut self, q: &QueuedOp, oid: &ObjectId, effects: Vec<Effect>, ver: u64) -> Option<Bytes> {
        let gid = q.msg.reqid.name.num as u64;
        let mut out = None;
        for ef in effects {
            match ef {
                Effect::Watch { cookie, timeout } => {
                    let t = if timeout == 0 { self.osd.conf().watch_timeout } else { timeout };
                    self.watchers.entry(oid.clone()).or_default().insert((gid, cookie), Watcher { conn: q.conn.clone(), timeout: t });
                }
                Effect::Unwatch { cookie } => {
                    if let Some(w) = self.watchers.get_mut(oid) {
                        w.remove(&(gid, cookie));
                    }
                }
                Effect::Ping { cookie } => {
                    if let Some(w) = self.watchers.get_mut(oid).and_then(|w| w.get_mut(&(gid, cookie))) {
                        w.conn = q.conn.clone();
                    }
                }
                Effect::Notify { cookie, timeout, payload } => {
                    let id = ((self.map.epoch as u64) << 32) | self.next_notify;
                    self.next_notify += 1;
                    let t = if timeout == 0 { self.osd.conf().notify_timeout } else { timeout };
                    let mut waiting = HashSet::new();
                    if let Some(ws) = self.watchers.get(oid) {
                        for ((wg, wc), w) in ws {
                            let n = WatchNotify { opcode: messages::osd::WATCH_NOTIFY, cookie: *wc, ver, notify_id: id, bl: payload.clone(), return_code: 0, notifier_gid: gid, data: Bytes::new() };
                            if w.conn.send(n.to_raw(0, PACIFIC_SUPPORTED)).is_ok() {
                                waiting.insert((*wg, *wc));
                            }
                        }
                    }
                    self.notifies.insert(
                        id,
                        PendingNotify { notifier: q.conn.clone(), notifier_cookie: cookie, waiting, acks: BTreeMap::new(), deadline: Instant::now() + Duration::from_secs(t as u64), ver },
                    );
                    let mut e = Encoder::new(0);
                    e.u64(id);
                    out = Some(e.into_bytes());
                    self.maybe_complete_notify(id, false);
                }
                Effect::NotifyAck { notify_id, cookie, payload } => {
                    if let Some(n) = self.notifies.get_mut(&notify_id) {
                        if n.waiting.remove(&(gid, cookie)) {
                            n.acks.insert((gid, cookie), payload);
                        }
                    }
                    self.maybe_complete_notify(notify_id, false);
                }
            }
        }
        out
    }

    fn maybe_complete_notify(&mut self, id: u64, timed_out: bool) {
        let Some(n) = self.notifies.get(&id) else { return };
        if !n.waiting.is_empty() && !timed_out {
            return;
        }
        let n = self.notifies.remove(&id).expect("present");
        let mut e = Encoder::new(0);
        e.u32(n.acks.len() as u32);
        for ((g, c), p) in &n.acks {
            e.u64(*g);
            e.u64(*c);
            e.bufferlist(p);
        }
        e.u32(n.waiting.len() as u32);
        for (g, c) in &n.waiting {
            e.u64(*g);
            e.u64(*c);
        }
        let m = WatchNotify {
            opcode: messages::osd::WATCH_NOTIFY_COMPLETE,
            cookie: n.notifier_cookie,
            ver: n.ver,
            notify_id: id,
            bl: Bytes::new(),
            return_code: if n.waiting.is_empty() { 0 } else { -110 },
            notifier_gid: 0,
            data: e.into_bytes(),
        };
        let _ = n.notifier.send(m.to_raw(0, PACIFIC_SUPPORTED));
    }

    fn on_session_reset(&mut self, gid: u64) {
        for ws in self.watchers.values_mut() {
            ws.retain(|(g, _), w| *g != gid || !w.conn.is_closed());
        }
    }

    // ---------------------------------------------------------------- tick

    fn on_tick(&mut self) {
        let stuck = Duration::from_secs(self.osd.conf().peering_retry_secs);
        if self.is_primary() {
            // Peering that waited for past maps goes on.
            if matches!(&self.phase, Phase::Peering { waiting, .. } if waiting.is_empty()) {
                self.maybe_finish_peering();
            }
            let restart = match &self.phase {
                Phase::Peering { started, .. } | Phase::Pulling { started, .. } | Phase::WaitPgTemp { started } => started.elapsed() > stuck,
                // Recovery is stuck when a push goes unanswered, however long it runs.
                Phase::Recovering { .. } => self.pushes_stuck(stuck),
                Phase::Active => self.inflight.values().any(|f| f.started.elapsed() > stuck) || self.pushes_stuck(stuck),
                Phase::WaitUpThru => {
                    self.osd.want_up_thru(self.interval);
                    self.pushes_stuck(stuck)
                }
                // Both wait for a map (an OSD back, or marked lost).
                Phase::Peered | Phase::Down { .. } => false,
                Phase::Follower => true,
            };
            if restart {
                info!(pg = %self.pgid, "peering or replication stalled; re-peering");
                self.start_peering();
            }
        }
        if !self.is_primary() && self.stray_notified.map_or(true, |t| t.elapsed() > Duration::from_secs(30)) {
            self.notify_if_stray();
        }
        let now = Instant::now();
        let expired: Vec<u64> = self.notifies.iter().filter(|(_, n)| n.deadline <= now).map(|(k, _)| *k).collect();
        for id in expired {
            self.maybe_complete_notify(id, true);
        }
        for ws in self.watchers.values_mut() {
            ws.retain(|_, w| !w.conn.is_closed());
        }
        // (Pushes of a pull we serve as a replica resume here too.)
        self.resume_paused_pushes();
        if self.is_primary() {
            self.report_state();
        }
        self.osd.set_map_need(self.pgid, self.map_need());
    }

    /// Publishes this PG's stat for the next report to the mon (primary
    /// only), noting when its state changed.
    fn report_state(&mut self) {
        use messages::osd_peer::pg_state::CLEAN;
        let st = self.state();
        if st != self.last_state {
            // Becoming clean moves last_epoch_clean up (Ceph's
            // try_mark_clean); the mon trims osdmaps up to the oldest.
            if st & CLEAN != 0 && self.last_state & CLEAN == 0 && self.map.epoch > self.last_epoch_clean {
                self.last_epoch_clean = self.map.epoch;
                let mut t = Transaction::new();
                t.push(Op::SetMeta { coll: self.coll.clone(), key: LEC_KEY.into(), value: Bytes::copy_from_slice(&self.map.epoch.to_le_bytes()) });
                if let Err(e) = self.osd.store.apply(&t) {
                    warn!(pg = %self.pgid, "saving last_epoch_clean: {e}");
                }
            }
            self.last_state = st;
            self.state_since = Utime::now();
        }
        self.osd.report_pg(self.stat(st));
    }

    fn pushes_stuck(&self, stuck: Duration) -> bool {
        self.pushes.values().any(|p| p.unacked > 0 && p.last_progress.elapsed() > stuck)
    }

    /// Fewer acting copies than the pool's size, or an acting one still
    /// catching up (also before activation).
    fn is_degraded(&self) -> bool {
        let size = self.pool().map(|p| p.size as usize).unwrap_or(0);
        self.acting.iter().filter(|o| **o >= 0).count() < size || self.recovering_peers.iter().any(|t| self.acting.contains(t))
    }

    fn state(&self) -> u64 {
        use messages::osd_peer::pg_state::*;
        let size = self.pool().map(|p| p.size as usize).unwrap_or(0);
        let acting = self.acting.iter().filter(|o| **o >= 0).count();
        let remapped = self.up != self.acting;
        match &self.phase {
            Phase::Active => {
                let mut s = ACTIVE;
                if self.is_degraded() {
                    s |= DEGRADED;
                }
                if acting < size {
                    s |= UNDERSIZED;
                }
                if remapped {
                    s |= REMAPPED;
                }
                if !self.recovering_peers.is_empty() {
                    let push = |t: &i32| self.pushes.get(t);
                    let backfilling = self.recovering_peers.iter().any(|t| push(t).is_some_and(|p| p.reset && !p.slot.waiting() && !p.paused));
                    let waiting = self.recovering_peers.iter().any(|t| push(t).is_some_and(|p| p.slot.waiting() || (p.reset && p.paused)));
                    let recovery_waiting = self.recovering_peers.iter().all(|t| push(t).is_some_and(|p| p.paused));
                    let toofull = |backfill: bool| self.recovering_peers.iter().any(|t| push(t).is_some_and(|p| p.paused && p.reset == backfill && self.target_too_full(*t, backfill)));
                    s |= if backfilling {
                        BACKFILLING
                    } else if toofull(true) {
                        BACKFILL_TOOFULL
                    } else if toofull(false) {
                        RECOVERY_TOOFULL
                    } else if waiting {
                        BACKFILL_WAIT
                    } else if recovery_waiting {
                        RECOVERY_WAIT
                    } else {
                        RECOVERING
                    };
                }
                if s == ACTIVE {
                    s |= CLEAN;
                }
                s
            }
            Phase::Recovering { .. } => PEERING | RECOVERING | DEGRADED,
            Phase::Pulling { .. } | Phase::Peering { .. } | Phase::WaitUpThru => PEERING,
            Phase::WaitPgTemp { .. } => PEERING | REMAPPED,
            Phase::Peered => PEERED | DEGRADED | if acting < size { UNDERSIZED } else { 0 },
            Phase::Down { .. } => DOWN,
            Phase::Follower => 0,
        }
    }

    fn stat(&self, state: u64) -> PgStat {
        let size = self.pool().map(|p| p.size as u64).unwrap_or(0);
        let acting = self.acting.iter().filter(|o| **o >= 0).count() as u64;
        let degraded = self.num_objects * size.saturating_sub(acting) + self.recovering_objects();
        PgStat {
            pgid: self.pgid,
            state,
            reported_epoch: self.map.epoch,
            version: self.info.last_update,
            up: self.up.clone(),
            acting: self.acting.clone(),
            num_objects: self.num_objects,
            num_bytes: self.num_bytes,
            num_objects_degraded: degraded,
            num_objects_misplaced: self.misplaced_objects(),
            num_rd: self.num_rd,
            num_rd_kb: self.num_rd_kb,
            num_wr: self.num_wr,
            num_wr_kb: self.num_wr_kb,
            log_size: self.log.len() as u64,
            last_change: self.state_since.sec as u64,
            // Trimmed once the trim pass's writes have all committed.
            purged_snaps: match (&self.trimmed_snaps, self.is_primary() && self.inflight.is_empty()) {
                (Some(t), true) => t.clone(),
                _ => BTreeMap::new(),
            },
            blocked_by: match &self.phase {
                Phase::Down { blocked_by } => blocked_by.clone(),
                _ => vec![],
            },
            last_epoch_clean: self.last_epoch_clean,
            ..Default::default()
        }
    }
}

struct CtxOut {
    txn: Transaction,
    modified: bool,
    exists: bool,
    size: u64,
    oi: ObjectInfo,
    effects: Vec<Effect>,
    existed_size: Option<u64>,
    snapset: snaps::SnapSet,
    /// The head is (still) a whiteout after the ops.
    whiteout: bool,
}

/// The byte ranges of the head a write op vector may change (for clone overlaps).
fn modified_ranges(ops: &[OsdOp], old_size: u64) -> Vec<(u64, u64)> {
    let all = (0, u64::MAX);
    let mut out = Vec::new();
    for o in ops {
        let arg = |at: usize| o.u64_at(at);
        match o.op {
            opcode::WRITE | opcode::ZERO => out.push((arg(0), arg(8))),
            opcode::APPEND => out.push((old_size, u64::MAX - old_size)),
            opcode::TRUNCATE => out.push((arg(0), u64::MAX - arg(0))),
            opcode::WRITEFULL | opcode::DELETE | opcode::ROLLBACK | opcode::CALL => out.push(all),
            _ => {}
        }
    }
    out
}

/// PGNLS and the like: about the PG, not one object.
fn is_pg_op(msg: &OsdOpMsg) -> bool {
    msg.ops.iter().any(|o| opcode::is_pg_op(o.op))
}

fn op_coll(op: &Op) -> Option<&str> {
    Some(match op {
        Op::MkColl { coll }
        | Op::RmColl { coll }
        | Op::SetMeta { coll, .. }
        | Op::RmMeta { coll, .. }
        | Op::Touch { coll, .. }
        | Op::Write { coll, .. }
        | Op::Zero { coll, .. }
        | Op::Truncate { coll, .. }
        | Op::Remove { coll, .. }
        | Op::SetAttr { coll, .. }
        | Op::RmAttr { coll, .. }
        | Op::RmAttrs { coll, .. }
        | Op::OmapSet { coll, .. }
        | Op::OmapRm { coll, .. }
        | Op::OmapRmRange { coll, .. }
        | Op::OmapClear { coll, .. }
        | Op::OmapHeader { coll, .. }
        | Op::Clone { coll, .. } => coll,
        // Splits are each OSD's own doing, never a peer's.
        Op::SetSuper { .. } | Op::SplitColl { .. } => return None,
    })
}

/// (first hash of the PG, first hash past it) in hobject order
/// (`pg_t::get_hobj_start/get_hobj_end`); None = the PG ends the pool.
pub fn pg_bounds(seed: u32, pg_num: u32) -> (u32, Option<u32>) {
    let bits = maps::pool::split_bits(seed, pg_num);
    let rev_end = (seed.reverse_bits() as u64 | (0xffff_ffffu64 >> bits)) + 1;
    let end = if rev_end >= 1 << 32 { None } else { Some((rev_end as u32).reverse_bits()) };
    (seed, end)
}


/// `pg_nls_response_t` v1: the cursor to continue from, and the entries
/// (`librados::ListObjectImpl`: nspace, oid, locator).
fn nls_response(handle: &types::osd::HObject, entries: &[ObjectId]) -> Bytes {
    let mut e = Encoder::new(0);
    let s = e.start(1, 1);
    handle.encode(&mut e);
    e.u32(entries.len() as u32);
    for o in entries {
        e.string(&o.nspace);
        e.string(&o.name);
        e.string(&o.key);
    }
    e.finish(s);
    e.into_bytes()
}
