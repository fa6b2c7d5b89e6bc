//! The Objecter (`src/osdc/Objecter.cc`): turns an object operation into an
//! MOSDOp to the acting primary of the object's PG under the current OSDMap,
//! and keeps it alive until it completes: it is resent when the map moves the
//! PG, when the OSD session breaks, or when the OSD asks us to retry.
//!
//! One task owns the OSDMap, the OSD sessions and the in-flight ops; callers
//! talk to it through a channel (no lock is held across an await).

use bytes::Bytes;
use denc::Utime;
use maps::OsdMap;
use messages::osd::{flags, OsdOp, OsdOpMsg, OsdOpReply, WatchNotify, MSG_OSD_OPREPLY};
use messages::Message;
use monc::MonClient;
use msgr::{ClientAuth, ConnectOptions, Connection};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};
use tracing::{debug, warn};
use types::features::PACIFIC_SUPPORTED;
use types::osd::{ObjectLocator, PgId, ReqId, SnapContext, SpgId, CEPH_NOSNAP};
use types::{EntityNameT, EntityType};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("pool {0} does not exist")]
    NoPool(i64),
    #[error("the objecter is shut down")]
    Shutdown,
    #[error("timed out")]
    TimedOut,
    #[error("osd.{0} does not exist")]
    NoOsd(i32),
    #[error("osd.{0} is down")]
    OsdDown(i32),
    #[error("cannot reach osd.{0}: {1}")]
    Connect(i32, String),
}

impl Error {
    /// The errno librados gives for it.
    pub fn errno(&self) -> i32 {
        match self {
            Error::NoPool(_) | Error::NoOsd(_) => 2,
            Error::Shutdown => 108,
            Error::TimedOut => 110,
            Error::OsdDown(_) => 6,
            Error::Connect(..) => 107,
        }
    }
}

/// Where an op goes: an object (by name, locator) or a whole PG (listing).
#[derive(Debug, Clone)]
pub enum Target {
    Object { oid: String, oloc: ObjectLocator },
    Pg { pool: i64, seed: u32, nspace: String },
}

/// One RADOS operation: a compound of ops applied atomically to one object.
#[derive(Debug, Clone)]
pub struct Request {
    pub target: Target,
    pub ops: Vec<OsdOp>,
    /// READ/WRITE/PGOP flags; ONDISK and the like are added here.
    pub flags: u32,
    pub snapid: u64,
    pub snapc: SnapContext,
    pub mtime: Option<Utime>,
}

impl Request {
    pub fn object(oid: &str, oloc: ObjectLocator, ops: Vec<OsdOp>) -> Self {
        let write = ops.iter().any(|o| messages::osd::opcode::is_write(o.op));
        let f = if write { flags::WRITE | flags::ONDISK } else { flags::READ };
        Request {
            target: Target::Object { oid: oid.to_string(), oloc },
            ops,
            flags: f,
            snapid: CEPH_NOSNAP,
            snapc: SnapContext::default(),
            mtime: None,
        }
    }
}

/// The OSD's answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub result: i32,
    pub ops: Vec<OsdOp>,
    pub version: u64,
    pub epoch: u32,
}

struct Pending {
    req: Request,
    osd: i32,
    /// The PG and map epoch of the last send.
    spg: SpgId,
    sent_epoch: u32,
    attempts: i32,
    reply: oneshot::Sender<Result<Reply, Error>>,
}

enum Cmd {
    Submit(Request, oneshot::Sender<Result<Reply, Error>>),
    /// Deliver MWatchNotify for this cookie to the sender (watch events, or a
    /// notify's completion).
    Listen(u64, mpsc::UnboundedSender<WatchNotify>),
    Unlisten(u64),
    /// Keep a watch registered: re-sent (RECONNECT) when its PG moves, pinged.
    Linger(u64, Request),
    Unlinger(u64),
}

#[derive(Clone)]
pub struct Objecter {
    tx: mpsc::UnboundedSender<Cmd>,
    pub osdmap: watch::Receiver<Option<Arc<OsdMap>>>,
    /// `rados_osd_op_timeout`: ops give up with ETIMEDOUT after this (None = never).
    op_timeout: Option<Duration>,
    /// For connections of their own (`osd_command`).
    monc: MonClient,
    modes: Vec<u32>,
}

impl Objecter {
    /// Starts the objecter on a connected MonClient and waits for a first OSDMap.
    pub async fn start(monc: MonClient, ms_client_mode: Vec<u32>) -> Result<Objecter, Error> {
        let (map_tx, map_rx) = watch::channel(None);
        let (tx, rx) = mpsc::unbounded_channel();
        monc.subscribe("osdmap", 0, false).map_err(|_| Error::Shutdown)?;
        let task = Task {
            monc: monc.clone(),
            modes: ms_client_mode.clone(),
            map: None,
            map_tx,
            sessions: HashMap::new(),
            pending: HashMap::new(),
            waiting: Vec::new(),
            next_tid: 1,
            in_tx: None,
            listeners: HashMap::new(),
            lingers: HashMap::new(),
        };
        tokio::spawn(task.run(rx));
        let mut m = map_rx.clone();
        tokio::time::timeout(Duration::from_secs(60), m.wait_for(|m| m.is_some()))
            .await
            .map_err(|_| Error::TimedOut)?
            .map_err(|_| Error::Shutdown)?;
        Ok(Objecter { tx, osdmap: map_rx, op_timeout: None, monc, modes: ms_client_mode })
    }

    /// `ceph tell osd.N` (`Objecter::osd_command`): one MCommand to one OSD,
    /// on a connection of its own; its reply. The OSD must be up.
    pub async fn osd_command(&self, osd: i32, cmd: Vec<String>, inbl: Bytes) -> Result<messages::mon::CommandReply, Error> {
        let map = self.map();
        if !map.exists(osd) {
            return Err(Error::NoOsd(osd));
        }
        let addr = map.client_addrs.get(osd as usize).and_then(|a| a.v2().copied());
        let Some(addr) = addr.filter(|_| map.is_up(osd)) else {
            return Err(Error::OsdDown(osd));
        };
        let opts = osd_session_options(&self.monc, &self.modes);
        let talk = async {
            // Bounded as op sessions' connects are: an OSD that accepts but
            // never finishes the handshake must not hang the command.
            let (conn, mut incoming) = match tokio::time::timeout(OSD_CONNECT_TIMEOUT, msgr::connect(addr, opts)).await {
                Ok(r) => r.map_err(|e| Error::Connect(osd, e.to_string()))?,
                Err(_) => return Err(Error::Connect(osd, "timed out connecting".into())),
            };
            let tid = 1;
            let m = messages::mon::Command { fsid: self.monc.fsid(), cmd, inbl };
            conn.send(m.to_raw(tid, PACIFIC_SUPPORTED)).map_err(|e| Error::Connect(osd, e.to_string()))?;
            while let Some(m) = incoming.recv().await {
                if m.header.ty == messages::types::COMMAND_REPLY && m.header.tid == tid {
                    return messages::mon::CommandReply::from_raw(&m).map_err(|e| Error::Connect(osd, format!("bad reply: {e}")));
                }
            }
            Err(Error::Connect(osd, "connection closed".into()))
        };
        match self.op_timeout {
            Some(t) => tokio::time::timeout(t, talk).await.map_err(|_| Error::TimedOut)?,
            None => talk.await,
        }
    }

    /// Sets `rados_osd_op_timeout` (0 = wait forever, as Ceph's default).
    pub fn with_op_timeout(mut self, secs: f64) -> Self {
        self.op_timeout = (secs > 0.0).then(|| Duration::try_from_secs_f64(secs).ok()).flatten();
        self
    }

    pub fn map(&self) -> Arc<OsdMap> {
        self.osdmap.borrow().clone().expect("started with a map")
    }

    /// Routes MWatchNotify messages with `cookie` to `tx`.
    pub fn listen(&self, cookie: u64, tx: mpsc::UnboundedSender<WatchNotify>) {
        let _ = self.tx.send(Cmd::Listen(cookie, tx));
    }
    pub fn unlisten(&self, cookie: u64) {
        let _ = self.tx.send(Cmd::Unlisten(cookie));
    }
    /// Keeps the watch `req` (a WATCH op) alive until [`Objecter::unlinger`].
    pub fn linger(&self, cookie: u64, req: Request) {
        let _ = self.tx.send(Cmd::Linger(cookie, req));
    }
    pub fn unlinger(&self, cookie: u64) {
        let _ = self.tx.send(Cmd::Unlinger(cookie));
    }

    pub async fn submit(&self, req: Request) -> Result<Reply, Error> {
        self.start_op(req)?.await
    }

    /// Queues `req` now, so ops keep the order they were started in, and
    /// returns what resolves with the reply.
    pub fn start_op(&self, req: Request) -> Result<impl std::future::Future<Output = Result<Reply, Error>> + Send + 'static, Error> {
        let (tx, rx) = oneshot::channel();
        self.tx.send(Cmd::Submit(req, tx)).map_err(|_| Error::Shutdown)?;
        let timeout = self.op_timeout;
        Ok(async move {
            match timeout {
                // Dropping `rx` cancels the op inside (see Task::send and the tick).
                Some(t) => tokio::time::timeout(t, rx).await.map_err(|_| Error::TimedOut)?.map_err(|_| Error::Shutdown)?,
                None => rx.await.map_err(|_| Error::Shutdown)?,
            }
        })
    }

    /// Waits until our map is at least `epoch` (after pool changes at the mon).
    pub async fn wait_for_epoch(&self, epoch: u32) -> Result<(), Error> {
        let mut m = self.osdmap.clone();
        m.wait_for(|m| m.as_ref().map(|m| m.epoch >= epoch).unwrap_or(false)).await.map_err(|_| Error::Shutdown)?;
        Ok(())
    }
}

struct Session {
    conn: Connection,
}

struct Task {
    monc: MonClient,
    modes: Vec<u32>,
    map: Option<Arc<OsdMap>>,
    map_tx: watch::Sender<Option<Arc<OsdMap>>>,
    sessions: HashMap<i32, Session>,
    pending: HashMap<u64, Pending>,
    /// Ops with no usable primary yet; retried on the next map.
    waiting: Vec<u64>,
    next_tid: u64,
    in_tx: Option<mpsc::UnboundedSender<(i32, Option<messages::RawMessage>)>>,
    listeners: HashMap<u64, mpsc::UnboundedSender<WatchNotify>>,
    /// cookie -> (the WATCH request, the OSD it is registered with)
    lingers: HashMap<u64, (Request, i32)>,
}

impl Task {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Cmd>) {
        let (in_tx, mut in_rx) = mpsc::unbounded_channel();
        self.in_tx = Some(in_tx);
        let mut maps = self.monc.osdmap.clone();
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        loop {
            tokio::select! {
                c = rx.recv() => match c {
                    Some(Cmd::Submit(req, reply)) => self.submit(req, reply).await,
                    Some(Cmd::Listen(cookie, tx)) => { self.listeners.insert(cookie, tx); }
                    Some(Cmd::Unlisten(cookie)) => { self.listeners.remove(&cookie); }
                    Some(Cmd::Linger(cookie, req)) => {
                        let osd = self.target(&req).map(|t| t.0).unwrap_or(-1);
                        self.lingers.insert(cookie, (req, osd));
                    }
                    Some(Cmd::Unlinger(cookie)) => { self.lingers.remove(&cookie); }
                    None => return,
                },
                r = maps.changed() => {
                    if r.is_err() { return }
                    let msg = maps.borrow_and_update().clone();
                    if let Some(msg) = msg {
                        self.handle_map_msg(&msg).await;
                    }
                }
                m = in_rx.recv() => match m {
                    Some((osd, Some(m))) => self.handle_osd_msg(osd, m).await,
                    Some((osd, None)) => self.session_closed(osd).await,
                    None => return,
                },
                _ = tick.tick() => {
                    self.ping_watches().await;
                    self.pending.retain(|_, p| !p.reply.is_closed());
                    let pending = &self.pending;
                    self.waiting.retain(|t| pending.contains_key(t));
                    // Ops stuck without a primary: ask for a newer map.
                    if !self.waiting.is_empty() {
                        let e = self.map.as_ref().map(|m| m.epoch as u64 + 1).unwrap_or(0);
                        let _ = self.monc.subscribe("osdmap", e, false);
                        // and retry them: an OSD may be back under the same id
                        for tid in std::mem::take(&mut self.waiting) {
                            self.send(tid).await;
                        }
                    }
                }
            }
        }
    }

    async fn handle_map_msg(&mut self, msg: &messages::mon::OsdMapMsg) {
        // An op whose primary or PG changed at any epoch of the batch is
        // resent, even when the last map moves it back: its OSD saw a new
        // interval and may have dropped it (Ceph's objecter scans each map).
        // Epochs skipped (a jump to a full map) may hide any change: then
        // everything is resent, as Ceph's objecter does.
        let mut moved = std::collections::HashSet::new();
        let mut moved_watches = std::collections::HashSet::new();
        let (pending, lingers) = (&self.pending, &self.lingers);
        let (new, behind) = monc::advance_osdmap_each(self.map.as_deref(), msg, |m, skipped| {
            if m.epoch == msg.newest_map && !skipped {
                return; // rescan looks at the newest
            }
            for (tid, p) in pending {
                if p.osd >= 0 && !moved.contains(tid) && (skipped || Self::target_in(m, &p.req).map_or(true, |(osd, (spg, _))| osd != p.osd || spg != p.spg)) {
                    moved.insert(*tid);
                }
            }
            for (cookie, (req, osd)) in lingers {
                if *osd >= 0 && (skipped || Self::target_in(m, req).map_or(true, |t| t.0 != *osd)) {
                    moved_watches.insert(*cookie);
                }
            }
        });
        if let Some(m) = new {
            debug!(epoch = m.epoch, "new osdmap");
            let m = Arc::new(m);
            self.map = Some(m.clone());
            self.map_tx.send_replace(Some(m));
            self.rescan(moved, moved_watches).await;
        }
        if behind {
            // a gap we could not bridge: ask for what follows our map
            let now = self.map.as_ref().map(|m| m.epoch).unwrap_or(0);
            let _ = self.monc.subscribe("osdmap", now as u64 + 1, false);
        }
    }

    /// Fire-and-forget op (watch pings and reconnects).
    async fn send_background(&mut self, req: Request) {
        let (tx, _rx) = oneshot::channel();
        self.submit(req, tx).await;
    }

    fn watch_req(req: &Request, op: u8) -> Request {
        let mut r = req.clone();
        if let Some(o) = r.ops.first_mut() {
            let cookie = o.u64_at(0);
            *o = OsdOp::watch(cookie, op, o.u32_at(21));
        }
        r
    }

    async fn ping_watches(&mut self) {
        let reqs: Vec<Request> = self.lingers.values().map(|(r, _)| Self::watch_req(r, messages::osd::WATCH_OP_PING)).collect();
        for r in reqs {
            self.send_background(r).await;
        }
    }

    /// Watches whose PG moved (for good, or and back within one batch of
    /// maps: the OSD dropped them at the interval change) are registered
    /// again with the primary.
    async fn relinger(&mut self, moved_between: std::collections::HashSet<u64>) {
        let moved: Vec<(u64, Request, i32)> = self
            .lingers
            .iter()
            .filter_map(|(c, (r, osd))| match self.target(r) {
                Ok((now, _)) if (now != *osd || moved_between.contains(c)) && now >= 0 => Some((*c, r.clone(), now)),
                _ => None,
            })
            .collect();
        for (cookie, req, osd) in moved {
            debug!(cookie, osd, "re-registering watch");
            self.lingers.insert(cookie, (req.clone(), osd));
            self.send_background(Self::watch_req(&req, messages::osd::WATCH_OP_RECONNECT)).await;
        }
    }

    /// After a map change: resend every op whose target moved.
    async fn rescan(&mut self, moved: std::collections::HashSet<u64>, moved_watches: std::collections::HashSet<u64>) {
        self.relinger(moved_watches).await;
        let waiting: std::collections::HashSet<u64> = std::mem::take(&mut self.waiting).into_iter().collect();
        let tids: Vec<u64> = self.pending.keys().copied().collect();
        let map = self.map.clone().expect("map present");
        for tid in tids {
            let Some(p) = self.pending.get(&tid) else { continue };
            let (osd, (spg, _)) = match self.target(&p.req) {
                Ok(t) => t,
                Err(e) => {
                    if let Some(p) = self.pending.remove(&tid) {
                        let _ = p.reply.send(Err(e));
                    }
                    continue;
                }
            };
            // Resend when the primary or the PG (split/merge) changed, when the
            // pool forces a resend (last_force_op_resend), or when it was parked.
            let forced = map.pools.get(&(spg.pgid.pool as i64)).map(|pl| pl.last_force_op_resend > p.sent_epoch).unwrap_or(false);
            if osd != p.osd || osd < 0 || spg != p.spg || forced || waiting.contains(&tid) || moved.contains(&tid) {
                self.send(tid).await;
            }
        }
    }

    /// Also writes to a full pool (over its quota), unless sent with
    /// FULL_TRY or FULL_FORCE (`respects_full`).
    fn paused(map: &OsdMap, req: &Request) -> bool {
        use maps::osdmap::flags::{PAUSERD, PAUSEWR};
        let f = req.flags;
        let pool = match &req.target {
            Target::Object { oloc, .. } => oloc.pool,
            Target::Pg { pool, .. } => *pool,
        };
        // Watches (registration, pings) are never held: a held ping would
        // let the OSD time the watch out.
        let watch = req.ops.iter().any(|o| o.op == messages::osd::opcode::WATCH);
        let full = !watch && f & (flags::FULL_TRY | flags::FULL_FORCE) == 0 && map.pools.get(&pool).is_some_and(|p| p.flags & maps::pool::FLAG_FULL != 0);
        (f & flags::READ != 0 && map.flags & PAUSERD != 0) || (f & flags::WRITE != 0 && ((map.flags & PAUSEWR != 0 && !watch) || full))
    }

    /// (primary osd, pg) for a request under the current map; -1 when none.
    fn target(&self, req: &Request) -> Result<(i32, (SpgId, u32)), Error> {
        Self::target_in(self.map.as_ref().expect("map present"), req)
    }

    fn target_in(map: &OsdMap, req: &Request) -> Result<(i32, (SpgId, u32)), Error> {
        let (raw, pool) = match &req.target {
            Target::Object { oid, oloc } => {
                let raw = map.object_to_raw_pg(oid, oloc).ok_or(Error::NoPool(oloc.pool))?;
                (raw, oloc.pool)
            }
            Target::Pg { pool, seed, .. } => {
                if !map.pools.contains_key(pool) {
                    return Err(Error::NoPool(*pool));
                }
                (PgId { pool: *pool as u64, seed: *seed }, *pool)
            }
        };
        let pg = map.raw_pg_to_pg(raw);
        let m = map.pg_to_up_acting(pg);
        // Erasure-coded PGs are addressed by the primary's shard (its position).
        let shard = match map.pools.get(&pool) {
            Some(p) if p.is_erasure() => m.acting.iter().position(|o| *o == m.acting_primary).map(|i| i as i8).unwrap_or(-1),
            _ => -1,
        };
        Ok((m.acting_primary, (SpgId { pgid: pg, shard }, raw.seed)))
    }

    async fn submit(&mut self, req: Request, reply: oneshot::Sender<Result<Reply, Error>>) {
        let tid = self.next_tid;
        self.next_tid += 1;
        self.pending.insert(tid, Pending { req, osd: -1, spg: SpgId::default(), sent_epoch: 0, attempts: -1, reply });
        self.send(tid).await;
    }

    async fn session(&mut self, osd: i32) -> Option<Connection> {
        if let Some(s) = self.sessions.get(&osd) {
            if !s.conn.is_closed() {
                return Some(s.conn.clone());
            }
        }
        let map = self.map.clone()?;
        let addr = map.client_addrs.get(osd as usize)?.v2().copied()?;
        let opts = osd_session_options(&self.monc, &self.modes);
        // Bounded, so that a silent OSD cannot stall every other op for long.
        let attempt = tokio::time::timeout(OSD_CONNECT_TIMEOUT, msgr::connect(addr, opts)).await;
        match attempt.unwrap_or_else(|_| Err(msgr::Error::Protocol("connect timed out".into()))) {
            Ok((conn, mut inc)) => {
                let tx = self.in_tx.clone()?;
                tokio::spawn(async move {
                    while let Some(m) = inc.recv().await {
                        if tx.send((osd, Some(m))).is_err() {
                            return;
                        }
                    }
                    let _ = tx.send((osd, None));
                });
                self.sessions.insert(osd, Session { conn: conn.clone() });
                Some(conn)
            }
            Err(e) => {
                warn!(osd, %addr, "cannot connect to osd: {e}");
                None
            }
        }
    }

    async fn send(&mut self, tid: u64) {
        let Some(p) = self.pending.get(&tid) else { return };
        // The caller gave up (op timeout or dropped future): cancel, as
        // Ceph's op_cancel does, rather than resend.
        if p.reply.is_closed() {
            self.pending.remove(&tid);
            return;
        }
        let (osd, (spg, hash)) = match self.target(&p.req) {
            Ok(t) => t,
            Err(e) => {
                if let Some(p) = self.pending.remove(&tid) {
                    let _ = p.reply.send(Err(e));
                }
                return;
            }
        };
        // `ceph osd pause` (pauserd/pausewr): held until a map lifts it
        // (Ceph's target_should_be_paused).
        if osd < 0 || Self::paused(self.map.as_deref().expect("map"), &p.req) {
            self.waiting.push(tid);
            return;
        }
        let Some(conn) = self.session(osd).await else {
            self.waiting.push(tid);
            return;
        };
        let map = self.map.clone().expect("map");
        let global_id = self.monc.cephx.lock().map(|c| c.global_id).unwrap_or(0);
        let Some(p) = self.pending.get_mut(&tid) else { return };
        p.attempts += 1;
        p.osd = osd;
        p.spg = spg;
        p.sent_epoch = map.epoch;
        let (oid, oloc) = match &p.req.target {
            Target::Object { oid, oloc } => (oid.clone(), oloc.clone()),
            Target::Pg { pool, nspace, .. } => {
                let mut l = ObjectLocator::new(*pool);
                l.nspace = nspace.clone();
                (String::new(), l)
            }
        };
        let mut f = p.req.flags | flags::KNOWN_REDIR;
        if p.attempts > 0 {
            f |= flags::RETRY;
        }
        let msg = OsdOpMsg {
            pgid: spg,
            hash,
            osdmap_epoch: map.epoch,
            flags: f,
            reqid: ReqId { name: EntityNameT::new(EntityType::CLIENT, global_id as i64), tid, inc: 0 },
            client_inc: 0,
            mtime: p.req.mtime.unwrap_or_else(Utime::now),
            oloc,
            oid,
            ops: p.req.ops.clone(),
            snapid: p.req.snapid,
            snap_seq: p.req.snapc.seq,
            snaps: p.req.snapc.snaps.clone(),
            retry_attempt: p.attempts,
            features: PACIFIC_SUPPORTED,
        };
        let _ = conn.send(msg.to_raw(tid, PACIFIC_SUPPORTED));
    }

    async fn handle_osd_msg(&mut self, osd: i32, m: messages::RawMessage) {
        if m.header.ty == messages::osd::MSG_WATCH_NOTIFY {
            match WatchNotify::from_raw(&m) {
                Ok(n) => {
                    if let Some(tx) = self.listeners.get(&n.cookie) {
                        let _ = tx.send(n);
                    } else {
                        debug!(cookie = n.cookie, "MWatchNotify for nobody");
                    }
                }
                Err(e) => warn!(osd, "bad MWatchNotify: {e}"),
            }
            return;
        }
        if m.header.ty == messages::types::OSD_MAP {
            match messages::mon::OsdMapMsg::from_raw(&m) {
                Ok(msg) => self.handle_map_msg(&msg).await,
                Err(e) => warn!(osd, "bad MOSDMap from osd: {e}"),
            }
            return;
        }
        if m.header.ty == messages::osd::MSG_OSD_BACKOFF {
            self.handle_backoff(osd, &m).await;
            return;
        }
        if m.header.ty != MSG_OSD_OPREPLY {
            debug!(osd, ty = m.header.ty, "ignoring message from osd");
            return;
        }
        let tid = m.header.tid;
        let r = match OsdOpReply::from_raw(&m) {
            Ok(r) => r,
            Err(e) => {
                warn!(osd, "bad MOSDOpReply: {e}");
                return;
            }
        };
        let Some(p) = self.pending.get(&tid) else { return };
        if p.attempts != r.retry_attempt {
            return; // a reply to an earlier attempt
        }
        // -EAGAIN: not the primary (yet); retry after the map catches up.
        if r.result == -11 || r.redirect.is_some() {
            let e = self.map.as_ref().map(|m| m.epoch as u64 + 1).unwrap_or(0);
            let _ = self.monc.subscribe("osdmap", e.max(r.osdmap_epoch as u64), false);
            self.waiting.push(tid);
            return;
        }
        if let Some(p) = self.pending.remove(&tid) {
            let _ = p.reply.send(Ok(Reply { result: r.result, ops: r.ops, version: r.user_version, epoch: r.osdmap_epoch }));
        }
    }

    /// MOSDBackoff: acknowledge a block; on unblock resend what we have in
    /// flight to that PG (the OSD dropped ops that arrived while blocked).
    async fn handle_backoff(&mut self, osd: i32, m: &messages::RawMessage) {
        use messages::osd::*;
        let b = match OsdBackoff::from_raw(m) {
            Ok(b) => b,
            Err(e) => {
                warn!(osd, "bad MOSDBackoff: {e}");
                return;
            }
        };
        match b.op {
            BACKOFF_OP_BLOCK => {
                debug!(osd, pg = %b.pgid.pgid, id = b.id, "backoff block");
                if let Some(s) = self.sessions.get(&osd) {
                    let epoch = self.map.as_ref().map(|m| m.epoch).unwrap_or(0);
                    let ack = OsdBackoff { op: BACKOFF_OP_ACK_BLOCK, map_epoch: epoch, ..b };
                    let _ = s.conn.send(ack.to_raw(0, PACIFIC_SUPPORTED));
                }
            }
            BACKOFF_OP_UNBLOCK => {
                debug!(osd, pg = %b.pgid.pgid, id = b.id, "backoff unblock");
                let tids: Vec<u64> = self
                    .pending
                    .iter()
                    .filter(|(_, p)| p.osd == osd)
                    .filter(|(_, p)| self.target(&p.req).map(|(_, (spg, _))| spg.pgid == b.pgid.pgid).unwrap_or(false))
                    .map(|(t, _)| *t)
                    .collect();
                for tid in tids {
                    self.send(tid).await;
                }
            }
            _ => {}
        }
    }

    async fn session_closed(&mut self, osd: i32) {
        self.sessions.remove(&osd);
        // watches on that OSD reconnect over a new session
        let on_it: Vec<u64> = self.lingers.iter().filter(|(_, (_, o))| *o == osd).map(|(c, _)| *c).collect();
        for c in on_it {
            if let Some((r, _)) = self.lingers.get(&c).cloned() {
                self.send_background(Self::watch_req(&r, messages::osd::WATCH_OP_RECONNECT)).await;
            }
        }
        let tids: Vec<u64> = self.pending.iter().filter(|(_, p)| p.osd == osd).map(|(t, _)| *t).collect();
        for tid in tids {
            self.send(tid).await;
        }
    }
}

/// Parses `ms_client_mode` into connection modes (crc first by default).
/// How a client dials an OSD: cephx authorizer, our modes, lossy.
/// How long one connection attempt to an OSD may take.
const OSD_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

fn osd_session_options(monc: &MonClient, modes: &[u32]) -> ConnectOptions {
    ConnectOptions {
        my_type: EntityType::CLIENT,
        my_addrs: None,
        auth: ClientAuth::Authorizer(monc.cephx.clone(), EntityType::OSD),
        modes: modes.to_vec(),
        lossy: true,
        nonce: monc.nonce(),
        keepalive_secs: 10,
        gid: monc.cephx.lock().map(|c| c.global_id as i64).unwrap_or(-1),
    }
}

pub fn client_modes(conf: &str) -> Vec<u32> {
    let m = auth::parse_con_modes(conf);
    if m.is_empty() {
        vec![auth::CON_MODE_CRC, auth::CON_MODE_SECURE]
    } else {
        m
    }
}

pub fn pg_target(pool: i64, seed: u32) -> Target {
    Target::Pg { pool, seed, nspace: String::new() }
}

pub use messages::osd::opcode;
pub type Data = Bytes;
