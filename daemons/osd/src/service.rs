//! The OSD's services: the msgr2 listener (clients and peer OSDs), sessions
//! to peer OSDs, the map, the PG tasks, heartbeats and reports to the mon.

use crate::pg::{self, PgEvent};
use auth::caps::{OsdCap, R, W, X};
use auth::server::{verify_authorizer, AuthorizerOutcome, KeyServer};
use bytes::Bytes;
use maps::OsdMap;
use messages::osd::{opcode, OsdOp, OsdOpMsg, OsdOpReply, MSG_OSD_OP};
use messages::osd_mon::*;
use messages::osd_peer::*;
use messages::{Message, RawMessage};
use monc::MonClient;
use msgr::server::{AuthAccepted, AuthServer, AuthStep};
use msgr::{ClientAuth, ConnectOptions, Connection};
use objectstore::Store;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};
use tracing::{debug, info, warn};
use types::features::PACIFIC_SUPPORTED;
use types::osd::PgId;
use types::{EntityAddrVec, EntityName, EntityType, Uuid};

#[derive(Debug, Clone)]
pub struct OsdConf {
    pub max_object_size: u64,
    pub max_pg_log_entries: usize,
    pub watch_timeout: u32,
    pub notify_timeout: u32,
    pub peering_retry_secs: u64,
    /// Pause between recovery pushes (`osd_recovery_sleep`); when set, each
    /// push carries one object, as Ceph's recovery ops do.
    pub recovery_sleep: Duration,
    /// Backfills run at once per OSD (`osd_max_backfills`, default 1, as in Ceph).
    pub max_backfills: usize,
    /// Test hook: every store commit waits this long (`osd_debug_commit_delay`, 0).
    pub debug_commit_delay: Duration,
    /// Test hook: the first recovery push with this sequence number is not
    /// sent, as if lost with its session (`osd_debug_drop_push_seq`, -1: none).
    pub debug_drop_push_seq: Option<u32>,
    /// A backfill or log recovery paused because an OSD is too full tries
    /// again after this long (`osd_backfill_retry_interval`,
    /// `osd_recovery_retry_interval`: 30 s each, as in Ceph).
    pub backfill_retry_interval: Duration,
    pub recovery_retry_interval: Duration,
    pub heartbeat_interval: Duration,
    pub heartbeat_grace: Duration,
    pub report_interval: Duration,
    pub auth_none: bool,
    pub con_modes: Vec<u32>,
    pub data_path: std::path::PathBuf,
    /// Every primary write goes through the page cache, so reads of recent
    /// data skip the disk (`osd_cache_primary_writes`, default false, like
    /// BlueStore's `bluestore_default_buffered_write`: it costs writes a
    /// quarter of their throughput here; see docs/performance.md).
    pub cache_primary_writes: bool,
    /// Past this share of its filesystem used, the OSD takes no more client
    /// writes whatever the map says (`osd_failsafe_full_ratio`, 0.97).
    pub failsafe_full_ratio: f64,
}

/// Who is on the other end of a session, and what they may do.
pub struct ClientSession {
    pub name: EntityName,
    pub global_id: u64,
    pub caps: OsdCap,
    pub allow_all: bool,
    /// Ops sent under a newer map than ours, in arrival order (Ceph's
    /// `Session::waiting_for_map`): later ops queue behind them.
    pub waiting_for_map: Mutex<std::collections::VecDeque<(Box<OsdOpMsg>, u64, Connection)>>,
    /// The newest osdmap epoch this client has or we sent it.
    pub map_shared: std::sync::atomic::AtomicU32,
}

impl ClientSession {
    /// `OSDCap::is_capable` for an op vector; Some(errno) when refused.
    pub fn check_caps(&self, pool: &str, nspace: &str, oid: &str, ops: &[OsdOp], is_write: bool) -> Option<i32> {
        if self.allow_all {
            return None;
        }
        let mut need = 0u8;
        let (mut cr, mut cw) = (false, false);
        for o in ops {
            if o.op == opcode::CALL {
                let cl = o.args[0] as usize;
                let ml = o.args[1] as usize;
                if o.data.len() >= cl + ml {
                    let class = String::from_utf8_lossy(&o.data[..cl]).into_owned();
                    let method = String::from_utf8_lossy(&o.data[cl..cl + ml]).into_owned();
                    if let Some((r, w)) = crate::cls::flags(&class, &method) {
                        cr |= r;
                        cw |= w;
                    }
                }
                need |= X;
            } else if opcode::is_write(o.op) {
                need |= W;
            } else {
                need |= R;
            }
        }
        if is_write {
            need |= W;
        }
        if self.caps.is_capable(pool, nspace, oid, need, cr, cw) {
            None
        } else {
            Some(-1) // EPERM, as Ceph's OSD answers
        }
    }
}

pub struct Osd {
    pub whoami: i32,
    pub fsid: Uuid,
    pub store: Arc<Store>,
    /// Group commit: PG writes, replica writes and recovery pushes.
    pub commits: objectstore::CommitQueue,
    /// The options in effect (rebuilt from `cfg` whenever it changes).
    conf: RwLock<Arc<OsdConf>>,
    /// Every level of configuration: ceph.conf, command line, the
    /// monitors' database, values set while running.
    pub cfg: Mutex<config::Config>,
    pub monc: MonClient,
    pub my_addrs: EntityAddrVec,
    map: RwLock<Arc<OsdMap>>,
    pub map_tx: watch::Sender<Arc<OsdMap>>,
    pgs: Mutex<HashMap<PgId, mpsc::UnboundedSender<PgEvent>>>,
    /// PGs a split of a local PG is about to make: their events queue here
    /// (their senders are in `pgs`) until the parent has split its copy
    /// and starts them ([`Osd::start_child`]).
    pending_children: Mutex<HashMap<PgId, mpsc::UnboundedReceiver<PgEvent>>>,
    /// The data filesystem is past `failsafe_full_ratio` (checked each second).
    failsafe_full: std::sync::atomic::AtomicBool,
    /// A full state `ceph tell osd.N injectfull` set.
    pub injected_full: crate::tell::InjectedFull,
    /// Stats reports sent since boot (`flush_pg_stats` answers with it).
    stat_seq: std::sync::atomic::AtomicU64,
    /// `osd_debug_drop_push_seq` has dropped its push.
    dropped_push: std::sync::atomic::AtomicBool,
    /// Events from peers for PGs our map does not have yet (a peer saw a
    /// split first): delivered once our map has them.
    held: Mutex<std::collections::VecDeque<(PgId, PgEvent)>>,
    /// Per PG, the oldest osdmap epoch it may still read from the map
    /// history (0 until its task has seen a map): stored maps are trimmed
    /// no further than the oldest of these.
    map_need: Mutex<HashMap<PgId, u32>>,
    peers: Mutex<HashMap<i32, mpsc::UnboundedSender<RawMessage>>>,
    keys: RwLock<KeyServer>,
    stats: Mutex<HashMap<PgId, PgStat>>,
    hb: Mutex<HashMap<i32, HbPeer>>,
    nonce: u32,
    /// Every osdmap epoch we have seen (peering reads past intervals from it).
    pub history: crate::history::MapHistory,
    /// The up_thru we asked the mon for, and when.
    alive: Mutex<(u32, Option<Instant>)>,
    /// The oldest epoch we asked the mon to send again, and when.
    maps_wanted: Mutex<Option<(u32, Instant)>>,
    /// Backfills this OSD may run at once as a primary (`osd_max_backfills`).
    pub backfill_slots: Arc<tokio::sync::Semaphore>,
}

struct HbPeer {
    last_rx: Instant,
    reported: bool,
}

impl Osd {
    pub fn new(whoami: i32, fsid: Uuid, store: Arc<Store>, cfg: config::Config, conf: OsdConf, monc: MonClient, my_addrs: EntityAddrVec, map: OsdMap, history: crate::history::MapHistory) -> Arc<Osd> {
        let map = Arc::new(map);
        let (map_tx, _) = watch::channel(map.clone());
        let backfill_slots = Arc::new(tokio::sync::Semaphore::new(conf.max_backfills));
        Arc::new(Osd {
            whoami,
            fsid,
            commits: store.commit_queue_delayed(conf.debug_commit_delay),
            store,
            cfg: Mutex::new(cfg),
            conf: RwLock::new(Arc::new(conf)),
            monc,
            nonce: my_addrs.0.first().map(|a| a.nonce).unwrap_or(0),
            my_addrs,
            map: RwLock::new(map),
            map_tx,
            pgs: Mutex::new(HashMap::new()),
            pending_children: Mutex::new(HashMap::new()),
            failsafe_full: std::sync::atomic::AtomicBool::new(false),
            injected_full: Default::default(),
            stat_seq: Default::default(),
            dropped_push: Default::default(),
            held: Mutex::new(Default::default()),
            map_need: Mutex::new(HashMap::new()),
            peers: Mutex::new(HashMap::new()),
            keys: RwLock::new(KeyServer::default()),
            stats: Mutex::new(HashMap::new()),
            hb: Mutex::new(HashMap::new()),
            history,
            alive: Mutex::new((0, None)),
            maps_wanted: Mutex::new(None),
            backfill_slots,
        })
    }

    /// A primary needs the map to show us alive in an interval starting at
    /// `epoch` before it goes active: MOSDAlive, once per wanted epoch
    /// (again after a few seconds if no map came of it).
    pub fn want_up_thru(&self, epoch: u32) {
        let map = self.map();
        let have = map.osd.osd_info.get(self.whoami as usize).map(|i| i.up_thru).unwrap_or(0);
        if have >= epoch || !map.is_up(self.whoami) {
            return;
        }
        let mut a = self.alive.lock().unwrap_or_else(|p| p.into_inner());
        let fresh = a.1.is_some_and(|t| t.elapsed() < Duration::from_secs(3));
        if a.0 >= epoch && fresh {
            return;
        }
        *a = (a.0.max(epoch), Some(Instant::now()));
        debug!(want = a.0, have, "asking the mon for up_thru");
        let m = OsdAlive { version: map.epoch as u64, want: a.0 };
        let _ = self.monc.send_raw(m.to_raw(0, PACIFIC_SUPPORTED), None);
    }

    /// Asks the mon for the maps from `from` on (a hole in our history).
    pub fn want_maps(&self, from: u32) {
        let mut w = self.maps_wanted.lock().unwrap_or_else(|p| p.into_inner());
        if w.is_some_and(|(e, t)| e == from && t.elapsed() < Duration::from_secs(3)) {
            return;
        }
        *w = Some((from, Instant::now()));
        debug!(from, "asking the mon for past osdmaps");
        let _ = self.monc.subscribe("osdmap", from as u64, false);
    }

    pub fn map(&self) -> Arc<OsdMap> {
        self.map.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn set_rotating(&self, r: auth::server::RotatingSecrets) {
        let mut k = self.keys.write().unwrap_or_else(|p| p.into_inner());
        k.rotating.insert(EntityType::OSD.0, r);
    }

    /// The PGs this OSD is primary for and the oldest osdmap epoch any of
    /// them may still need, for the beacon (Ceph's `min_last_epoch_clean`).
    pub fn min_last_epoch_clean(&self, now: u32) -> (Vec<types::osd::PgId>, u32) {
        let stats = self.stats.lock().unwrap_or_else(|p| p.into_inner());
        let min = stats.values().map(|s| s.effective_last_epoch_clean()).min().unwrap_or(now).min(now);
        (stats.keys().copied().collect(), min)
    }

    pub fn report_pg(&self, s: PgStat) {
        self.stats.lock().unwrap_or_else(|p| p.into_inner()).insert(s.pgid, s);
    }

    /// Queues a message for a peer OSD over our session to it (opened on demand).
    pub fn send_osd(self: &Arc<Self>, osd: i32, m: RawMessage) {
        let mut peers = self.peers.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(tx) = peers.get(&osd) {
            if tx.send(m.clone()).is_ok() {
                return;
            }
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let _ = tx.send(m);
        peers.insert(osd, tx);
        tokio::spawn(peer_task(self.clone(), osd, rx));
    }

    fn pg_tx(self: &Arc<Self>, pgid: PgId, create: bool) -> Option<mpsc::UnboundedSender<PgEvent>> {
        let mut pgs = self.pgs.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(tx) = pgs.get(&pgid) {
            if !tx.is_closed() {
                return Some(tx.clone());
            }
        }
        if !create {
            return None;
        }
        self.map_need.lock().unwrap_or_else(|p| p.into_inner()).insert(pgid, 0);
        let tx = pg::spawn(self.clone(), pgid, self.map());
        pgs.insert(pgid, tx.clone());
        Some(tx)
    }

    pub fn set_map_need(&self, pgid: PgId, epoch: u32) {
        self.map_need.lock().unwrap_or_else(|p| p.into_inner()).insert(pgid, epoch);
    }

    /// The oldest osdmap epoch a running PG of ours may still need.
    pub fn map_need(&self) -> u32 {
        let pgs = self.pgs.lock().unwrap_or_else(|p| p.into_inner());
        let mut need = self.map_need.lock().unwrap_or_else(|p| p.into_inner());
        need.retain(|pg, _| pgs.get(pg).is_some_and(|tx| !tx.is_closed()));
        need.values().copied().min().unwrap_or(u32::MAX)
    }

    fn to_pg(self: &Arc<Self>, pgid: PgId, ev: PgEvent, create: bool) -> bool {
        // A PG past our map's pg_num: the sender has a newer map (a split);
        // made by the split or the map, not here.
        if create && self.pg_tx(pgid, false).is_none() && self.past_pg_num(pgid) {
            debug!(pg = %pgid, "event for a pg our map does not have yet: held");
            let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
            // Or one merged away, which a slow peer may still name: bounded.
            if held.len() >= 4096 {
                held.pop_front();
            }
            held.push_back((pgid, ev));
            return true;
        }
        match self.pg_tx(pgid, create) {
            Some(tx) => tx.send(ev).is_ok(),
            None => false,
        }
    }

    /// Our map has no such PG (yet): its seed is past the pool's pg_num.
    fn past_pg_num(&self, pgid: PgId) -> bool {
        self.map().pools.get(&(pgid.pool as i64)).is_some_and(|p| pgid.seed >= p.pg_num)
    }

    /// Whether `pgid`'s task is running here (a merge source not yet done).
    pub fn pg_running(&self, pgid: PgId) -> bool {
        self.pgs.lock().unwrap_or_else(|p| p.into_inner()).get(&pgid).is_some_and(|tx| !tx.is_closed())
    }

    /// An event for a PG that may not have started yet (a split child):
    /// queued for it if we know it at all.
    pub fn forward_to_pg(self: &Arc<Self>, pgid: PgId, ev: PgEvent) -> bool {
        self.to_pg(pgid, ev, false)
    }

    /// A parent has split its copy: start the child it made.
    pub fn start_child(self: &Arc<Self>, child: PgId, map: Arc<OsdMap>) {
        let rx = self.pending_children.lock().unwrap_or_else(|p| p.into_inner()).remove(&child);
        let tx = self.pgs.lock().unwrap_or_else(|p| p.into_inner()).get(&child).cloned();
        if let (Some(rx), Some(tx)) = (rx, tx) {
            pg::spawn_with(self.clone(), child, map, &tx, rx);
        }
    }

    /// Starts PG tasks for every collection in the store, first splitting
    /// copies whose pool grew while we were away (Ceph's OSD advances each
    /// PG through the maps it missed, splitting on the way).
    pub fn load_pgs(self: &Arc<Self>) -> Result<(), String> {
        let map = self.map();
        let pgids = |store: &Store| -> Result<Vec<PgId>, String> {
            Ok(store.list_collections().map_err(|e| e.to_string())?.iter().filter_map(|c| c.strip_suffix("_head").and_then(parse_pgid)).collect())
        };
        // Merges first: copies of PGs past pg_num go into their targets.
        let mut merges: std::collections::BTreeMap<PgId, Vec<PgId>> = Default::default();
        for pgid in pgids(&self.store)? {
            let Some(pool) = map.pools.get(&(pgid.pool as i64)) else { continue };
            if pgid.seed >= pool.pg_num {
                merges.entry(PgId { pool: pgid.pool, seed: maps::pool::fold_seed(pgid.seed, pool.pg_num) }).or_default().push(pgid);
            }
        }
        for (target, sources) in merges {
            let n = map.pools.get(&(target.pool as i64)).map(|p| p.pg_num).unwrap_or(0);
            pg::merge_copies(&self.store, target, &sources, n).map_err(|e| format!("merging into pg {target}: {e}"))?;
        }
        for pgid in pgids(&self.store)? {
            let Some(pool) = map.pools.get(&(pgid.pool as i64)) else { continue };
            if pgid.seed < pool.pg_num {
                pg::split_copy(&self.store, pgid, pool.pg_num, pool.pg_num).map_err(|e| format!("splitting pg {pgid}: {e}"))?;
            }
        }
        for pgid in pgids(&self.store)? {
            self.pg_tx(pgid, true);
        }
        Ok(())
    }

    /// Adopts a new map: PG tasks for every PG we serve, then the map to all of them.
    pub fn set_map(self: &Arc<Self>, map: Arc<OsdMap>) {
        let prev = {
            let m = self.map.read().unwrap_or_else(|p| p.into_inner());
            if m.epoch >= map.epoch && m.epoch != 0 {
                return;
            }
            m.clone()
        };
        let me = self.whoami;
        // Children our PGs will split off: their events wait for the split.
        // Registered before the map is ours, so nothing routed under it
        // starts a child (empty) or finds it missing.
        {
            let mut pgs = self.pgs.lock().unwrap_or_else(|p| p.into_inner());
            let mut pending = self.pending_children.lock().unwrap_or_else(|p| p.into_inner());
            for (pool, p) in &map.pools {
                let Some(old) = prev.pools.get(pool).map(|o| o.pg_num).filter(|o| *o < p.pg_num) else { continue };
                for seed in old..p.pg_num {
                    let child = PgId { pool: *pool as u64, seed };
                    let parent = PgId { pool: *pool as u64, seed: maps::pool::fold_seed(seed, old) };
                    if pgs.get(&parent).is_some_and(|tx| !tx.is_closed()) && !pgs.get(&child).is_some_and(|tx| !tx.is_closed()) {
                        let (tx, rx) = mpsc::unbounded_channel();
                        pgs.insert(child, tx);
                        pending.insert(child, rx);
                    }
                }
            }
        }
        *self.map.write().unwrap_or_else(|p| p.into_inner()) = map.clone();
        for (pool, p) in &map.pools {
            for seed in 0..p.pg_num {
                let pgid = PgId { pool: *pool as u64, seed };
                let mp = map.pg_to_up_acting(pgid);
                if mp.up.contains(&me) || mp.acting.contains(&me) {
                    self.pg_tx(pgid, true);
                }
            }
        }
        let pgs: Vec<mpsc::UnboundedSender<PgEvent>> = self.pgs.lock().unwrap_or_else(|p| p.into_inner()).values().cloned().collect();
        for tx in pgs {
            let _ = tx.send(PgEvent::Map(map.clone()));
        }
        // Peer events for PGs this map has now.
        let held = std::mem::take(&mut *self.held.lock().unwrap_or_else(|p| p.into_inner()));
        for (pgid, ev) in held {
            self.to_pg(pgid, ev, true);
        }
        // Stats of PGs we no longer lead are not ours to report.
        self.stats.lock().unwrap_or_else(|p| p.into_inner()).retain(|pg, _| map.pools.get(&(pg.pool as i64)).is_some_and(|p| pg.seed < p.pg_num) && map.pg_to_up_acting(*pg).acting_primary == me);
        let _ = self.map_tx.send(map);
    }

    /// Routes one message from a session.
    fn dispatch(self: &Arc<Self>, m: RawMessage, conn: &Connection, session: &Arc<ClientSession>, peer_osd: Option<i32>) {
        let ty = m.header.ty;
        if ty != MSG_PING {
            crate::memory::note_activity();
        }
        if ty == MSG_OSD_OP {
            self.handle_op(m, conn, session);
            return;
        }
        if ty == messages::types::COMMAND {
            self.handle_command(m, conn, session);
            return;
        }
        // Everything else is between OSDs.
        let Some(from) = peer_osd else {
            debug!(ty, who = %session.name, "ignoring non-op message from a non-OSD");
            return;
        };
        let r = (|| -> denc::Result<()> {
            match ty {
                MSG_PING => {
                    let p = Ping::from_raw(&m)?;
                    if p.reply {
                        self.heard_from(from);
                    } else {
                        let _ = conn.send(Ping { from: self.whoami, epoch: self.map().epoch, reply: true, stamp_ms: p.stamp_ms }.to_raw(0, 0));
                    }
                }
                MSG_REPOP => {
                    let r = RepOp::from_raw(&m)?;
                    self.to_pg(r.pgid, PgEvent::RepOp { m: r, conn: conn.clone() }, true);
                }
                MSG_REPOP_REPLY => {
                    let r = RepOpReply::from_raw(&m)?;
                    self.to_pg(r.pgid, PgEvent::RepOpReply { from, m: r }, false);
                }
                MSG_PG_QUERY => {
                    let q = PgQuery::from_raw(&m)?;
                    let pgid = q.pgid;
                    let known = self.pg_tx(pgid, false).is_some();
                    let future = self.past_pg_num(pgid);
                    if known || future {
                        // (A PG our map does not have yet is held until it does.)
                        self.to_pg(pgid, PgEvent::Query { m: q, from, conn: conn.clone() }, future);
                    } else {
                        let n = PgNotify { pgid, interval: q.interval, from: self.whoami, exists: false, ..Default::default() };
                        let _ = conn.send(n.to_raw(0, 0));
                    }
                }
                MSG_PG_NOTIFY => {
                    let n = PgNotify::from_raw(&m)?;
                    self.to_pg(n.pgid, PgEvent::Notify(n), false);
                }
                MSG_PG_PULL => {
                    let p = PgPull::from_raw(&m)?;
                    self.to_pg(p.pgid, PgEvent::Pull { m: p, from }, false);
                }
                MSG_PG_PUSH => {
                    let p = PgPush::from_raw(&m)?;
                    self.to_pg(p.pgid, PgEvent::Push { m: p, from, conn: conn.clone() }, true);
                }
                MSG_PG_PUSH_ACK => {
                    let a = PgPushAck::from_raw(&m)?;
                    self.to_pg(a.pgid, PgEvent::PushAck(a), false);
                }
                MSG_PG_REMOVE => {
                    let r = PgRemove::from_raw(&m)?;
                    self.to_pg(r.pgid, PgEvent::Remove { m: r, from }, false);
                }
                other => debug!(ty = other, from, "ignoring message"),
            }
            Ok(())
        })();
        if let Err(e) = r {
            warn!(ty, from, "malformed message from osd.{from}: {e}");
        }
    }

    /// `ceph tell osd.N`: only for `allow *` (`OSD::handle_command`).
    fn handle_command(self: &Arc<Self>, m: RawMessage, conn: &Connection, session: &Arc<ClientSession>) {
        let tid = m.header.tid;
        let reply = match messages::mon::Command::from_raw(&m) {
            Err(e) => {
                warn!(who = %session.name, "malformed MCommand: {e}");
                messages::mon::CommandReply { r: -22, rs: format!("malformed command: {e}"), outbl: Bytes::new() }
            }
            // `allow *` OSD caps, as Ceph's check (daemons other than OSDs,
            // e.g. an MDS, hold narrower ones); anyone when auth is none.
            Ok(_) if !session.caps.allow_all() && !(session.name.ty == EntityType::OSD || self.conf().auth_none && session.global_id == 0) => {
                info!(who = %session.name, "tell refused: the client's osd caps are not 'allow *'");
                messages::mon::CommandReply { r: -13, rs: "access denied: tell needs osd 'allow *' caps".into(), outbl: Bytes::new() }
            }
            Ok(c) => {
                debug!(who = %session.name, cmd = ?c.cmd, "tell");
                match crate::tell::answer(self, &c.cmd) {
                    crate::tell::Answer::Now((r, rs, outbl)) => messages::mon::CommandReply { r, rs, outbl },
                    crate::tell::Answer::Later(f) => {
                        let conn = conn.clone();
                        tokio::spawn(async move {
                            let (r, rs, outbl) = f.await;
                            let _ = conn.send(messages::mon::CommandReply { r, rs, outbl }.to_raw(tid, PACIFIC_SUPPORTED));
                        });
                        return;
                    }
                }
            }
        };
        let _ = conn.send(reply.to_raw(tid, PACIFIC_SUPPORTED));
    }

    fn handle_op(self: &Arc<Self>, m: RawMessage, conn: &Connection, session: &Arc<ClientSession>) {
        let tid = m.header.tid;
        let mut msg = match OsdOpMsg::from_raw(&m) {
            Ok(x) => x,
            Err(e) => {
                // Tell the client rather than dropping it silently.
                warn!(who = %session.name, "malformed MOSDOp: {e}");
                let r = OsdOpReply { result: -22, osdmap_epoch: self.map().epoch, ..Default::default() };
                let _ = conn.send(r.to_raw(tid, PACIFIC_SUPPORTED));
                return;
            }
        };
        // Clients leave the reqid blank: it is (their name, inc, the message tid),
        // as MOSDOp::get_reqid makes it.
        if msg.reqid.tid == 0 && msg.reqid.name.num == 0 && msg.reqid.name.ty == 0 {
            let gid = if session.global_id != 0 { session.global_id as i64 } else { conn.info.peer_gid };
            msg.reqid = types::osd::ReqId { name: types::EntityNameT::new(session.name.ty, gid), tid, inc: msg.client_inc as i32 };
        }
        let map = self.map();
        if msg.osdmap_epoch < map.epoch {
            self.share_map(session, conn, msg.osdmap_epoch, map.epoch);
        }
        let mut q = session.waiting_for_map.lock().unwrap_or_else(|p| p.into_inner());
        if !q.is_empty() || msg.osdmap_epoch > map.epoch {
            // The client has a newer map than we do: the op (and any later
            // one of this session, to keep their order) waits for it.
            let first = q.is_empty();
            q.push_back((Box::new(msg), tid, conn.clone()));
            drop(q);
            if first {
                let _ = self.monc.subscribe("osdmap", map.epoch as u64 + 1, false);
                tokio::spawn(self.clone().route_when_mapped(session.clone()));
            }
            return;
        }
        drop(q);
        self.route_op(msg, tid, conn.clone(), session.clone());
    }

    /// A client sent an op under an older map than ours: send it the maps
    /// since (Ceph's `maybe_share_map`), at most `MAP_SHARE_MAX` of them.
    /// Clients only ask the mon for maps now and then (librados when an op
    /// is 10 s late), so one whose target moved (a new primary, a split)
    /// would wait that long for an op we drop as misdirected.
    fn share_map(&self, session: &ClientSession, conn: &Connection, client_epoch: u32, epoch: u32) {
        use std::sync::atomic::Ordering;
        const MAP_SHARE_MAX: u32 = 40; // osd_map_share_max_epochs
        let had = session.map_shared.fetch_max(epoch, Ordering::Relaxed).max(client_epoch);
        if had >= epoch {
            return;
        }
        let from = (had + 1).max(epoch.saturating_sub(MAP_SHARE_MAX - 1));
        let maps: std::collections::BTreeMap<u32, Bytes> = (from..=epoch).filter_map(|e| self.history.raw(e).map(|b| (e, b))).collect();
        if maps.is_empty() {
            return;
        }
        debug!(who = %session.name, from, to = epoch, "sharing newer osdmaps with a client");
        let m = messages::mon::OsdMapMsg { fsid: self.fsid, incremental_maps: Default::default(), maps, oldest_map: self.history.oldest(), newest_map: epoch };
        let _ = conn.send(m.to_raw(0, PACIFIC_SUPPORTED));
    }

    /// Routes a session's waiting ops, in order, as the maps they were sent
    /// under arrive; asks the mon again while none comes. Ends when the
    /// queue is empty or the client has gone.
    async fn route_when_mapped(self: Arc<Self>, session: Arc<ClientSession>) {
        let mut rx = self.map_tx.subscribe();
        loop {
            {
                let map = self.map();
                let mut q = session.waiting_for_map.lock().unwrap_or_else(|p| p.into_inner());
                // routed under the lock: a new op cannot overtake these
                while q.front().is_some_and(|(m, _, _)| m.osdmap_epoch <= map.epoch) {
                    let (m, tid, conn) = q.pop_front().expect("front");
                    self.route_op(*m, tid, conn, session.clone());
                }
                if q.front().is_some_and(|(_, _, c)| c.is_closed()) {
                    q.clear();
                }
                if q.is_empty() {
                    return;
                }
            }
            match tokio::time::timeout(Duration::from_secs(5), rx.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return, // shutting down
                Err(_) => {
                    let _ = self.monc.subscribe("osdmap", self.map().epoch as u64 + 1, false);
                }
            }
        }
    }

    fn route_op(self: &Arc<Self>, msg: OsdOpMsg, tid: u64, conn: Connection, session: Arc<ClientSession>) {
        let map = self.map();
        let Some(pool) = map.pools.get(&(msg.pgid.pgid.pool as i64)) else {
            let r = OsdOpReply { oid: msg.oid.clone(), pgid: msg.pgid.pgid, result: -2, osdmap_epoch: map.epoch, retry_attempt: msg.retry_attempt, ..Default::default() };
            let _ = conn.send(r.to_raw(tid, PACIFIC_SUPPORTED));
            return;
        };
        // By the object's hash under our map, not the PG the client named:
        // a client behind a split names the parent.
        let pgid = PgId { pool: msg.pgid.pgid.pool, seed: pool.raw_pg_to_pg(msg.hash) };
        let primary = map.pg_to_up_acting(pgid).acting_primary;
        if primary != self.whoami {
            // Misdirected (an older map on the client): it resends once it
            // has the new map, as with Ceph.
            debug!(pg = %pgid, primary, who = %session.name, "op for a pg we are not primary for; dropped");
            return;
        }
        self.to_pg(pgid, PgEvent::ClientOp { msg: Box::new(msg), tid, conn, session }, true);
    }

    fn heard_from(&self, osd: i32) {
        let mut hb = self.hb.lock().unwrap_or_else(|p| p.into_inner());
        let e = hb.entry(osd).or_insert(HbPeer { last_rx: Instant::now(), reported: false });
        e.last_rx = Instant::now();
        if e.reported {
            e.reported = false;
            let m = self.failure_msg(&self.map(), osd, FAILURE_FLAG_ALIVE, 0);
            let _ = self.monc.send_raw(m.to_raw(0, PACIFIC_SUPPORTED), None);
        }
    }

    /// MOSDFailure about `osd` at the addresses our map has for it (the mon
    /// ignores reports about other incarnations).
    fn failure_msg(&self, map: &OsdMap, osd: i32, flags: u8, failed_for: i32) -> OsdFailure {
        OsdFailure {
            version: map.epoch as u64,
            fsid: self.fsid,
            target_osd: osd,
            target_addrs: map.client_addrs.get(osd as usize).cloned().unwrap_or_default(),
            epoch: map.epoch,
            flags,
            failed_for,
        }
    }

    /// Reports `osd` failed to the mon (IMMEDIATE when its port refuses us).
    fn report_failure(&self, osd: i32, failed_for: Duration, immediate: bool) {
        let map = self.map();
        if !map.is_up(osd) {
            return;
        }
        info!(osd, ?failed_for, immediate, "reporting osd.{osd} failed");
        let flags = FAILURE_FLAG_FAILED | if immediate { FAILURE_FLAG_IMMEDIATE } else { 0 };
        let m = self.failure_msg(&map, osd, flags, failed_for.as_secs() as i32);
        let _ = self.monc.send_raw(m.to_raw(0, PACIFIC_SUPPORTED), None);
        if let Some(p) = self.hb.lock().unwrap_or_else(|p| p.into_inner()).get_mut(&osd) {
            p.reported = true;
        }
    }

    /// The options in effect now.
    pub fn conf(&self) -> Arc<OsdConf> {
        self.conf.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Changes the configuration (`config set`, `injectargs`, MConfig) and
    /// puts the result in effect; returns `change`'s result and Ceph's
    /// text of what changed.
    pub fn change_config<R>(&self, change: impl FnOnce(&mut config::Config) -> R) -> (R, String) {
        let mut cfg = self.cfg.lock().unwrap_or_else(|p| p.into_inner());
        let before = crate::options::values(&cfg);
        let r = change(&mut cfg);
        let after = crate::options::values(&cfg);
        let text = crate::options::change_text(&before, &after);
        if before != after {
            let old = self.conf();
            let new = OsdConf::build(&cfg, old.fixed());
            if new.max_backfills > old.max_backfills {
                self.backfill_slots.add_permits(new.max_backfills - old.max_backfills);
            } else if new.max_backfills < old.max_backfills {
                // Slots in use are taken back as their backfills end.
                // Both are at most MAX_BACKFILLS (options.rs), so this fits.
                let (slots, n) = (self.backfill_slots.clone(), u32::try_from(old.max_backfills - new.max_backfills).unwrap_or(u32::MAX));
                tokio::spawn(async move {
                    if let Ok(p) = slots.acquire_many_owned(n).await {
                        p.forget();
                    }
                });
            }
            *self.conf.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(new);
            if !text.is_empty() {
                tracing::info!("configuration changed: {}", text.trim_end());
            }
        }
        (r, text)
    }

    /// Heartbeats: ping every up OSD; report those silent for longer than the grace.
    pub async fn heartbeat_loop(self: Arc<Self>) {
        let mut every = self.conf().heartbeat_interval;
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            let now_every = self.conf().heartbeat_interval;
            if now_every != every {
                every = now_every;
                tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            }
            let map = self.map();
            let now = Instant::now();
            let mut silent = Vec::new();
            {
                let mut hb = self.hb.lock().unwrap_or_else(|p| p.into_inner());
                hb.retain(|o, _| map.is_up(*o));
                for o in 0..map.max_osd {
                    if o == self.whoami || !map.is_up(o) {
                        continue;
                    }
                    let p = hb.entry(o).or_insert(HbPeer { last_rx: now, reported: false });
                    let quiet = now.duration_since(p.last_rx);
                    if quiet > self.conf().heartbeat_grace {
                        silent.push((o, quiet));
                    }
                }
            }
            for o in 0..map.max_osd {
                if o != self.whoami && map.is_up(o) {
                    let stamp_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0);
                    self.send_osd(o, Ping { from: self.whoami, epoch: map.epoch, reply: false, stamp_ms }.to_raw(0, 0));
                }
            }
            for (o, quiet) in silent {
                self.report_failure(o, quiet, false);
            }
        }
    }

    /// Ticks every PG once a second; sends PG stats to the mon.
    pub async fn tick_loop(self: Arc<Self>) {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let mut last_report = Instant::now() - self.conf().report_interval;
        loop {
            tick.tick().await;
            let pgs: Vec<mpsc::UnboundedSender<PgEvent>> = self.pgs.lock().unwrap_or_else(|p| p.into_inner()).values().cloned().collect();
            for tx in pgs {
                let _ = tx.send(PgEvent::Tick);
            }
            if let Some(gap) = self.history.first_missing(self.map().epoch) {
                self.want_maps(gap);
            }
            self.check_failsafe();
            if last_report.elapsed() >= self.conf().report_interval {
                last_report = Instant::now();
                self.send_stats();
            }
        }
    }

    /// Whether the data filesystem is too full for client writes (Ceph's
    /// `check_failsafe_full`): the last line of defence, under the mon's
    /// full flags, so the store itself never runs out of space.
    pub fn failsafe_full(&self) -> bool {
        // The injection first, so it counts down as Ceph's `_check_full` does.
        self.injected_full.check(crate::tell::FullState::Failsafe) || self.failsafe_full.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// `injectfull`: act as this full; the mon hears of it now.
    pub fn inject_full(&self, state: crate::tell::FullState, count: i64) {
        self.injected_full.set(state, count);
        if state != crate::tell::FullState::None && count != 0 {
            tracing::warn!(?state, count, "full state injected (ceph tell osd.N injectfull)");
        }
        self.send_stats();
    }

    /// Whether the test hook drops this push (once per process).
    pub fn drop_push(&self, seq: u32) -> bool {
        self.conf().debug_drop_push_seq == Some(seq) && !self.dropped_push.swap(true, std::sync::atomic::Ordering::SeqCst)
    }

    pub fn pg_count(&self) -> usize {
        self.pgs.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// `flush_pg_stats`: reports now; returns the report's sequence number
    /// as Ceph's does (the epoch we came up in, high 32 bits; a count).
    pub fn flush_stats(&self) -> u64 {
        self.send_stats()
    }

    fn check_failsafe(&self) {
        let (total, avail) = fs_space(&self.store_path());
        // As Ceph's: never below the map's full ratio.
        let (.., failsafe) = self.map().full_ratios(self.conf().failsafe_full_ratio as f32);
        let full = total > 0 && (total - avail.min(total)) as f64 / total as f64 > failsafe as f64;
        if full != self.failsafe_full.swap(full, std::sync::atomic::Ordering::Relaxed) {
            if full {
                tracing::error!(ratio = failsafe, "data filesystem past osd_failsafe_full_ratio: refusing client writes; free space or add OSDs");
            } else {
                info!(ratio = failsafe, "data filesystem below osd_failsafe_full_ratio again: taking writes");
            }
            // Tell the mon now, not at the next report.
            self.send_stats();
        }
    }

    fn send_stats(&self) -> u64 {
        let map = self.map();
        let up_from = map.osd.osd_info.get(self.whoami as usize).map_or(0, |i| i.up_from);
        let seq = ((up_from as u64) << 32) | (self.stat_seq.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1);
        let pgs: Vec<PgStat> = self.stats.lock().unwrap_or_else(|p| p.into_inner()).values().cloned().collect();
        let (total, avail) = fs_space(&self.store_path());
        let used_data: u64 = pgs.iter().map(|p| p.num_bytes).sum();
        // Used is what our store occupies (the filesystem may be shared):
        // RocksDB's files and the block-file slots holding data (as
        // BlueStore reports what its allocator gave out).
        let (slots, _) = self.store.slot_usage();
        let mut used = dir_size(&self.store_path().join("store.db")) + slots * objectstore::BLOCK;
        // A filesystem past the full ratio is what counts, whoever filled
        // it (several OSDs or other data may share it): report its use, so
        // the mon marks us full until it is below that ratio again, as a
        // Ceph OSD measures its whole device.
        let fs_used = total.saturating_sub(avail);
        let (full, ..) = map.full_ratios(self.conf().failsafe_full_ratio as f32);
        if total > 0 && fs_used as f64 / total as f64 > full as f64 {
            used = used.max(fs_used);
        }
        let kb_total = total / 1024;
        let kb_used = used.min(used + avail) / 1024;
        let m = PgStats {
            osd: self.whoami,
            epoch: map.epoch,
            num_pgs: self.pgs.lock().unwrap_or_else(|p| p.into_inner()).len() as u32,
            pgs,
            kb_total,
            kb_used: kb_used.min(kb_total),
            kb_used_data: used_data / 1024,
            kb_used_omap: 0,
            kb_used_meta: 0,
            hb_peers: self.hb.lock().unwrap_or_else(|p| p.into_inner()).keys().copied().collect(),
            op_w: 0,
            op_r: 0,
            injected_full: self.injected_full.state().map_bit(),
        };
        let _ = self.monc.send_raw(m.to_raw(0, PACIFIC_SUPPORTED), None);
        seq
    }

    fn store_path(&self) -> std::path::PathBuf {
        self.conf().data_path.clone()
    }

    pub fn verify(&self, payload: &Bytes, challenge: &mut Option<u64>) -> Result<AuthorizerOutcome, String> {
        let ks = self.keys.read().unwrap_or_else(|p| p.into_inner());
        verify_authorizer(&ks, EntityType::OSD.0, payload, challenge, 64).map_err(|e| e.to_string())
    }
}

fn parse_pgid(s: &str) -> Option<PgId> {
    let (p, seed) = s.split_once('.')?;
    Some(PgId { pool: p.parse().ok()?, seed: u32::from_str_radix(seed, 16).ok()? })
}

/// Bytes of the files directly in `dir` (RocksDB keeps a flat directory).
fn dir_size(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir).map(|rd| rd.filter_map(|e| e.ok()).filter_map(|e| e.metadata().ok()).filter(|m| m.is_file()).map(|m| m.len()).sum()).unwrap_or(0)
}

/// (total, available) bytes of the filesystem holding `p`.
pub fn fs_space(p: &std::path::Path) -> (u64, u64) {
    match nix::sys::statvfs::statvfs(p) {
        Ok(s) => (s.blocks() as u64 * s.fragment_size() as u64, s.blocks_available() as u64 * s.fragment_size() as u64),
        Err(_) => (0, 0),
    }
}

/// Keeps a session to one peer OSD and sends its queue; what the peer sends
/// back goes through the normal dispatch.
async fn peer_task(osd: Arc<Osd>, peer: i32, mut rx: mpsc::UnboundedReceiver<RawMessage>) {
    let mut conn: Option<(Connection, types::EntityAddr)> = None;
    while let Some(m) = rx.recv().await {
        let map = osd.map();
        let addr = map.osd.cluster_addrs.get(peer as usize).and_then(|a| a.v2().copied()).or_else(|| map.client_addrs.get(peer as usize).and_then(|a| a.v2().copied()));
        // A peer that restarted has a new address (and nonce); its old port may
        // now belong to another OSD. Never keep talking to a stale address.
        let stale = match (&conn, addr) {
            (Some((c, a)), Some(now)) => c.is_closed() || *a != now,
            _ => true,
        };
        if stale {
            conn = None;
            if !map.is_up(peer) {
                continue;
            }
            let Some(addr) = addr else { continue };
            let auth = if osd.conf().auth_none { ClientAuth::None(EntityName::new(EntityType::OSD, osd.whoami.to_string())) } else { ClientAuth::Authorizer(osd.monc.cephx.clone(), EntityType::OSD) };
            let opts = ConnectOptions {
                my_type: EntityType::OSD,
                auth,
                modes: osd.conf().con_modes.clone(),
                lossy: true,
                nonce: osd.nonce,
                keepalive_secs: 10,
                gid: osd.whoami as i64,
                my_addrs: Some(osd.my_addrs.clone()),
            };
            match tokio::time::timeout(Duration::from_secs(5), msgr::connect(addr, opts)).await {
                Ok(Ok((c, mut incoming))) => {
                    // The OSD that answered must be the one we meant.
                    if c.info.peer_gid != peer as i64 || c.info.peer_type != EntityType::OSD {
                        warn!(peer, %addr, answered = c.info.peer_gid, "a different daemon answers at osd.{peer}'s address");
                        continue;
                    }
                    let o2 = osd.clone();
                    let c2 = c.clone();
                    let session = Arc::new(ClientSession { name: EntityName::new(EntityType::OSD, peer.to_string()), global_id: 0, caps: OsdCap::default(), allow_all: false, waiting_for_map: Default::default(), map_shared: Default::default() });
                    tokio::spawn(async move {
                        while let Some(m) = incoming.recv().await {
                            o2.dispatch(m, &c2, &session, Some(peer));
                        }
                    });
                    conn = Some((c, addr));
                }
                Ok(Err(e)) => {
                    debug!(peer, %addr, "cannot reach osd.{peer}: {e}");
                    if matches!(e, msgr::Error::Io(ref io) if io.kind() == std::io::ErrorKind::ConnectionRefused) {
                        osd.report_failure(peer, osd.conf().heartbeat_grace + Duration::from_secs(1), true);
                    }
                    continue;
                }
                Err(_) => continue,
            }
        }
        if let Some((c, _)) = &conn {
            let _ = c.send(m);
        }
    }
}

/// Accepts cephx authorizers for the OSD service (or auth none when configured).
pub struct OsdAuth {
    pub osd: Arc<Osd>,
}

#[derive(Default)]
pub struct AuthState {
    challenge: Option<u64>,
    mode: u32,
}

impl OsdAuth {
    fn outcome(&self, st: &mut AuthState, payload: &Bytes) -> AuthStep<Arc<ClientSession>> {
        match self.osd.verify(payload, &mut st.challenge) {
            Ok(AuthorizerOutcome::Challenge(p)) => AuthStep::More(p),
            Ok(AuthorizerOutcome::Accepted { name, global_id, caps, session_key, connection_secret, reply }) => {
                let (caps, allow_all) = if name.ty == EntityType::CLIENT {
                    (OsdCap::parse(&caps).unwrap_or_default(), false)
                } else {
                    // Daemons (osd, mgr, mds) hold osd caps for cluster work.
                    (OsdCap::parse(&caps).unwrap_or_default(), true)
                };
                AuthStep::Done(AuthAccepted {
                    global_id,
                    con_mode: 0,
                    reply,
                    session_key: Some(session_key),
                    connection_secret,
                    identity: Arc::new(ClientSession { name, global_id, caps, allow_all, waiting_for_map: Default::default(), map_shared: Default::default() }),
                })
            }
            Err(e) => {
                debug!("authorizer refused: {e}");
                AuthStep::Reject { errno: -13, reason: e, allowed_methods: vec![auth::AUTH_CEPHX], allowed_modes: self.osd.conf().con_modes.clone() }
            }
        }
    }
}

impl AuthServer for OsdAuth {
    type State = AuthState;
    type Identity = Arc<ClientSession>;
    fn auth_request(&self, st: &mut AuthState, peer_type: EntityType, method: u32, modes: &[u32], payload: &Bytes) -> AuthStep<Self::Identity> {
        let Some(mode) = msgr::server::pick_mode(modes, &self.osd.conf().con_modes) else {
            return AuthStep::Reject { errno: -13, reason: "no connection mode in common".into(), allowed_methods: vec![method], allowed_modes: self.osd.conf().con_modes.clone() };
        };
        if method == auth::AUTH_NONE && self.osd.conf().auth_none {
            let name = EntityName::new(peer_type, "?".to_string());
            return AuthStep::Done(AuthAccepted {
                global_id: 0,
                con_mode: mode,
                reply: Bytes::new(),
                session_key: None,
                connection_secret: Bytes::new(),
                identity: Arc::new(ClientSession { name, global_id: 0, caps: OsdCap::default(), allow_all: true, waiting_for_map: Default::default(), map_shared: Default::default() }),
            });
        }
        st.mode = mode;
        if method != auth::AUTH_CEPHX {
            return AuthStep::Reject { errno: -95, reason: "cephx required".into(), allowed_methods: vec![auth::AUTH_CEPHX], allowed_modes: self.osd.conf().con_modes.clone() };
        }
        match self.outcome(st, payload) {
            AuthStep::Done(mut a) => {
                a.con_mode = mode;
                AuthStep::Done(a)
            }
            other => other,
        }
    }
    fn auth_more(&self, st: &mut AuthState, payload: &Bytes) -> AuthStep<Self::Identity> {
        match self.outcome(st, payload) {
            AuthStep::Done(mut a) => {
                a.con_mode = st.mode;
                AuthStep::Done(a)
            }
            other => other,
        }
    }
}

/// Serves one accepted session until it closes.
pub async fn serve(osd: Arc<Osd>, conn: Connection, mut incoming: msgr::Incoming, who: Arc<ClientSession>) {
    let peer_osd = if who.name.ty == EntityType::OSD { who.name.id.parse::<i32>().ok() } else { None };
    while let Some(m) = incoming.recv().await {
        osd.dispatch(m, &conn, &who, peer_osd);
    }
    // Watches die with their session.
    if who.name.ty == EntityType::CLIENT {
        let pgs: Vec<mpsc::UnboundedSender<PgEvent>> = osd.pgs.lock().unwrap_or_else(|p| p.into_inner()).values().cloned().collect();
        for tx in pgs {
            let _ = tx.send(PgEvent::SessionReset { gid: who.global_id });
        }
    }
}
