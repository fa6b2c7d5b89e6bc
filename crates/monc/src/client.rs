use crate::mgr::MgrClient;
use crate::{CommandReply, Error, Result};
use auth::{CephxClient, CryptoKey};
use bytes::Bytes;
use config::Config;
use maps::{MgrMap, MonMap};
use messages::mon::*;
use messages::{types as mt, Message, RawMessage};
use msgr::{ClientAuth, ConnectOptions, Connection, Incoming};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;
use tracing::{debug, info, warn};
use types::features::PACIFIC_SUPPORTED;
use types::{AddrType, EntityAddr, EntityType, Uuid};

#[derive(Debug, Clone)]
pub struct MonClientOptions {
    /// Services to get tickets for (`CEPH_ENTITY_TYPE_*` bits): MON|OSD|MGR for librados.
    pub want_keys: u32,
    /// Maps to subscribe to at start, besides monmap and config.
    pub subscribe: Vec<String>,
    /// Give up hunting after this long (`client_mount_timeout`, `--connect-timeout`).
    pub connect_timeout: Duration,
    /// Who we are to the mon (CLIENT; OSD for ceph-osd).
    pub my_type: EntityType,
    /// Addresses a daemon announces (its bound public addresses).
    pub my_addrs: Option<types::EntityAddrVec>,
    /// Daemons fetch their service's rotating secrets to check authorizers.
    pub want_rotating: bool,
}

impl Default for MonClientOptions {
    fn default() -> Self {
        MonClientOptions {
            my_type: EntityType::CLIENT,
            my_addrs: None,
            want_rotating: false,
            want_keys: EntityType::MON.0 | EntityType::OSD.0 | EntityType::MGR.0,
            subscribe: vec!["mgrmap".into()],
            connect_timeout: Duration::from_secs(300),
        }
    }
}

enum Req {
    Command { cmd: Vec<String>, inbl: Bytes, reply: oneshot::Sender<CommandReply> },
    GetVersion { what: String, reply: oneshot::Sender<(u64, u64)> },
    Subscribe { what: String, start: u64, onetime: bool },
    PoolOp { op: PoolOp, reply: oneshot::Sender<PoolOpReply> },
    /// MGetPoolStats or MStatfs: the raw reply, matched by tid.
    Stats { msg: RawStatsReq, reply: oneshot::Sender<RawMessage> },
    /// A message sent as is (daemon reports; resent after a re-hunt when `keep`).
    Raw { msg: RawMessage, keep: Option<String> },
}

/// A stats request to the mon (replies are matched by tid).
#[derive(Debug, Clone)]
pub enum RawStatsReq {
    Pools(GetPoolStats),
    Statfs(Statfs),
}

/// A connected MonClient. Cheap to clone.
#[derive(Clone)]
pub struct MonClient {
    req: mpsc::UnboundedSender<Req>,
    pub monmap: watch::Receiver<Option<Arc<MonMap>>>,
    pub mgrmap: watch::Receiver<Option<Arc<MgrMap>>>,
    pub config: watch::Receiver<Option<Arc<BTreeMap<String, String>>>>,
    pub osdmap: watch::Receiver<Option<Arc<OsdMapMsg>>>,
    /// Our service's rotating secrets (daemons that asked for them).
    pub rotating: watch::Receiver<Option<Arc<auth::server::RotatingSecrets>>>,
    pub cephx: Arc<Mutex<CephxClient>>,
    mgr: MgrClient,
    pub global_id: u64,
    nonce: u32,
}

pub(crate) struct Shared {
    pub nonce: u32,
}

fn modes(conf: &Config, key: &str) -> Vec<u32> {
    let m = auth::parse_con_modes(&conf.get(key).unwrap_or_default());
    if m.is_empty() {
        vec![auth::CON_MODE_SECURE, auth::CON_MODE_CRC]
    } else {
        m
    }
}

impl MonClient {
    /// Hunts for a monitor, authenticates, and waits for the MonMap and MConfig
    /// (as `MonClient::get_monmap_and_config` + `init` + `authenticate` do).
    pub async fn connect(conf: Config, opts: MonClientOptions) -> Result<MonClient> {
        let mon_host = conf
            .get("mon_host")
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| Error::Config("no mon_host in the configuration: set mon_host in ceph.conf or pass -m".into()))?;
        let addrs = config::parse_mon_host(&mon_host).map_err(Error::Config)?;
        let targets: Vec<EntityAddr> = addrs
            .iter()
            .filter_map(|av| av.v2().copied())
            .collect();
        if targets.is_empty() {
            return Err(Error::Config(format!("mon_host '{mon_host}' has no msgr2 (v2) address; we do not speak msgr1")));
        }
        let methods = conf.auth_methods();
        let name = conf.name.clone();
        let auth_none = !methods.iter().any(|m| m == "cephx") && methods.iter().any(|m| m == "none");
        // Without a key for us we still hunt, as librados does: an unreachable
        // cluster then times out, and a reachable one refuses us (EACCES).
        let secret = if auth_none {
            CryptoKey::generate()
        } else {
            match conf.load_keyring() {
                Ok(kr) => match kr.get(&name) {
                    Some(e) => CryptoKey::from_base64(&e.key).map_err(|e| Error::Config(e.to_string()))?,
                    None => {
                        warn!("no key for {name} in the keyring; the monitors will refuse us");
                        CryptoKey::generate()
                    }
                },
                // librados then disables cephx and finds no method the
                // monitors accept: ENOENT.
                Err(e) => {
                    eprintln!("auth: {e}");
                    return Err(Error::Config(format!("no keyring found for {name}")));
                }
            }
        };
        let cephx = Arc::new(Mutex::new(CephxClient::new(name.clone(), secret, opts.want_keys)));
        let shared = Arc::new(Shared { nonce: rand::random() });
        let auth = if auth_none { ClientAuth::None(name) } else { ClientAuth::MonCephx(cephx.clone()) };
        let copts = ConnectOptions {
            my_type: opts.my_type,
            my_addrs: opts.my_addrs.clone(),
            auth,
            modes: modes(&conf, "ms_mon_client_mode"),
            lossy: true,
            nonce: shared.nonce,
            keepalive_secs: conf.get_u64("mon_client_ping_interval").unwrap_or(10),
            gid: -1,
        };
        let deadline = Instant::now() + opts.connect_timeout;
        let hunt_interval = secs(conf.get_f64("mon_client_hunt_interval").unwrap_or(3.0), 3.0);
        let (conn, incoming) = hunt(&targets, &copts, Some(deadline), hunt_interval).await?;
        let global_id = conn.info.global_id;

        let (monmap_tx, monmap) = watch::channel(None);
        let (mgrmap_tx, mgrmap) = watch::channel(None);
        let (config_tx, config_rx) = watch::channel(None);
        let (osdmap_tx, osdmap) = watch::channel(None);
        let (rotating_tx, rotating) = watch::channel(None);
        let (req_tx, req_rx) = mpsc::unbounded_channel();
        let mut subs: BTreeMap<String, (u64, u8)> = BTreeMap::new();
        subs.insert("monmap".into(), (0, 0));
        subs.insert("config".into(), (0, 0));
        for s in &opts.subscribe {
            subs.insert(s.clone(), (0, 0));
        }
        let session = Session {
            conn,
            incoming,
            targets,
            copts,
            hunt_interval,
            ping_timeout: secs(conf.get_f64("mon_client_ping_timeout").unwrap_or(30.0), 30.0),
            cephx: cephx.clone(),
            subs,
            next_tid: 1,
            commands: HashMap::new(),
            versions: HashMap::new(),
            pool_ops: HashMap::new(),
            stats: HashMap::new(),
            fsid: Uuid::default(),
            monmap_tx,
            mgrmap_tx,
            config_tx,
            osdmap_tx,
            rotating_tx,
            want_rotating: opts.want_rotating,
            rotating_asked: Instant::now(),
            kept: BTreeMap::new(),
        };
        session.start();
        tokio::spawn(session.run(req_rx));

        let mgr = MgrClient::start(shared.clone(), cephx.clone(), mgrmap.clone(), modes(&conf, "ms_mon_client_mode"));
        let mc = MonClient { req: req_tx, monmap, mgrmap, config: config_rx, osdmap, rotating, cephx, mgr, global_id, nonce: shared.nonce };
        // librados waits for both the MonMap and MConfig before returning from connect.
        let mut mm = mc.monmap.clone();
        let mut cf = mc.config.clone();
        let wait = async {
            mm.wait_for(|m| m.is_some()).await.map_err(|_| Error::Shutdown)?;
            cf.wait_for(|c| c.is_some()).await.map_err(|_| Error::Shutdown)?;
            Ok::<_, Error>(())
        };
        tokio::time::timeout_at(deadline, wait).await.map_err(|_| Error::TimedOut)??;
        Ok(mc)
    }

    /// Our messenger nonce, shared by every session this client opens.
    pub fn nonce(&self) -> u32 {
        self.nonce
    }

    pub fn fsid(&self) -> Uuid {
        self.monmap.borrow().as_ref().map(|m| m.fsid).unwrap_or_default()
    }

    /// Sends a mon command (MMonCommand) and waits for its ack, across re-hunts.
    pub async fn command(&self, cmd: Vec<String>, inbl: Bytes) -> Result<CommandReply> {
        let (tx, rx) = oneshot::channel();
        self.req.send(Req::Command { cmd, inbl, reply: tx }).map_err(|_| Error::Shutdown)?;
        rx.await.map_err(|_| Error::Shutdown)
    }

    /// Sends a command to the active mgr (MMgrCommand), waiting for one to be available.
    pub async fn mgr_command(&self, cmd: Vec<String>, inbl: Bytes) -> Result<CommandReply> {
        self.mgr.command(cmd, inbl).await
    }

    /// MMonGetVersion: (newest, oldest) epoch of a map.
    pub async fn get_version(&self, what: &str) -> Result<(u64, u64)> {
        let (tx, rx) = oneshot::channel();
        self.req.send(Req::GetVersion { what: what.into(), reply: tx }).map_err(|_| Error::Shutdown)?;
        rx.await.map_err(|_| Error::Shutdown)
    }

    /// MPoolOp: pool create/delete and snapshots; the reply carries the
    /// OSDMap epoch that has the change.
    pub async fn pool_op(&self, op: PoolOp) -> Result<PoolOpReply> {
        let (tx, rx) = oneshot::channel();
        self.req.send(Req::PoolOp { op, reply: tx }).map_err(|_| Error::Shutdown)?;
        rx.await.map_err(|_| Error::Shutdown)
    }

    /// Per-pool statistics (MGetPoolStats).
    pub async fn pool_stats(&self, pools: Vec<String>) -> Result<GetPoolStatsReply> {
        let (tx, rx) = oneshot::channel();
        self.req
            .send(Req::Stats { msg: RawStatsReq::Pools(GetPoolStats { fsid: Uuid::default(), pools }), reply: tx })
            .map_err(|_| Error::Shutdown)?;
        let m = rx.await.map_err(|_| Error::Shutdown)?;
        Ok(GetPoolStatsReply::decode_msg(&m)?)
    }

    /// Cluster-wide usage (MStatfs).
    pub async fn statfs(&self) -> Result<StatfsReply> {
        let (tx, rx) = oneshot::channel();
        self.req
            .send(Req::Stats { msg: RawStatsReq::Statfs(Statfs::default()), reply: tx })
            .map_err(|_| Error::Shutdown)?;
        let m = rx.await.map_err(|_| Error::Shutdown)?;
        Ok(StatfsReply::decode_msg(&m)?)
    }

    /// Sends a message to the mon. With `keep`, it is also resent on every new
    /// mon session (the newest message under that name replaces older ones).
    pub fn send_raw(&self, msg: RawMessage, keep: Option<&str>) -> Result<()> {
        self.req.send(Req::Raw { msg, keep: keep.map(String::from) }).map_err(|_| Error::Shutdown)
    }

    pub fn subscribe(&self, what: &str, start: u64, onetime: bool) -> Result<()> {
        self.req.send(Req::Subscribe { what: what.into(), start, onetime }).map_err(|_| Error::Shutdown)
    }
}

/// A config value in seconds as a Duration; nonsense (negative, NaN, inf) falls back.
pub fn secs(v: f64, default: f64) -> Duration {
    Duration::try_from_secs_f64(v).or_else(|_| Duration::try_from_secs_f64(default)).unwrap_or(Duration::from_secs(3))
}

/// Tries the monitors, up to three at a time, until one lets us in.
async fn hunt(
    targets: &[EntityAddr],
    copts: &ConnectOptions,
    deadline: Option<Instant>,
    interval: Duration,
) -> Result<(Connection, Incoming)> {
    let mut last_err: Option<Error> = None;
    loop {
        let mut order: Vec<EntityAddr> = targets.to_vec();
        // Spread clients over monitors as Ceph does (random start).
        let k = rand::random::<usize>() % order.len().max(1);
        order.rotate_left(k);
        let mut set = tokio::task::JoinSet::new();
        for t in order.into_iter().take(3) {
            let mut o = copts.clone();
            // Parallel handshakes each get their own cephx state (challenge,
            // session key); the winner's is adopted below.
            if let ClientAuth::MonCephx(shared) = &copts.auth {
                let own = shared.lock().unwrap_or_else(|p| p.into_inner()).clone();
                o.auth = ClientAuth::MonCephx(Arc::new(Mutex::new(own)));
            }
            set.spawn(async move { (t, msgr::connect(t, o.clone()).await, o.auth) });
        }
        let round_end = Instant::now() + interval;
        let round_end = deadline.map(|d| d.min(round_end)).unwrap_or(round_end);
        loop {
            let next = tokio::time::timeout_at(round_end, set.join_next()).await;
            match next {
                Ok(Some(Ok((t, Ok(c), auth)))) => {
                    if let (ClientAuth::MonCephx(shared), ClientAuth::MonCephx(won)) = (&copts.auth, auth) {
                        let won = won.lock().unwrap_or_else(|p| p.into_inner()).clone();
                        *shared.lock().unwrap_or_else(|p| p.into_inner()) = won;
                    }
                    info!(mon = %t, "connected to mon");
                    return Ok(c);
                }
                Ok(Some(Ok((t, Err(e), _)))) => {
                    debug!(mon = %t, "mon connection failed: {e}");
                    if let msgr::Error::AuthRejected { reason, .. } = &e {
                        return Err(Error::PermissionDenied(reason.clone()));
                    }
                    if let msgr::Error::Auth(reason) = &e {
                        return Err(Error::PermissionDenied(reason.clone()));
                    }
                    last_err = Some(e.into());
                }
                Ok(Some(Err(join))) => last_err = Some(Error::Other(join.to_string())),
                Ok(None) => {
                    // every attempt failed quickly: wait out the hunt interval
                    tokio::time::sleep_until(round_end).await;
                    break;
                }
                Err(_) => break,
            }
        }
        if let Some(d) = deadline {
            if Instant::now() >= d {
                debug!("hunting timed out; last error: {:?}", last_err);
                return Err(Error::TimedOut);
            }
        }
    }
}

struct Session {
    conn: Connection,
    incoming: Incoming,
    targets: Vec<EntityAddr>,
    copts: ConnectOptions,
    hunt_interval: Duration,
    ping_timeout: Duration,
    cephx: Arc<Mutex<CephxClient>>,
    subs: BTreeMap<String, (u64, u8)>,
    next_tid: u64,
    commands: HashMap<u64, (MonCommand, oneshot::Sender<CommandReply>)>,
    versions: HashMap<u64, (String, oneshot::Sender<(u64, u64)>)>,
    pool_ops: HashMap<u64, (PoolOp, oneshot::Sender<PoolOpReply>)>,
    stats: HashMap<u64, (RawStatsReq, oneshot::Sender<RawMessage>)>,
    fsid: Uuid,
    monmap_tx: watch::Sender<Option<Arc<MonMap>>>,
    mgrmap_tx: watch::Sender<Option<Arc<MgrMap>>>,
    config_tx: watch::Sender<Option<Arc<BTreeMap<String, String>>>>,
    osdmap_tx: watch::Sender<Option<Arc<OsdMapMsg>>>,
    rotating_tx: watch::Sender<Option<Arc<auth::server::RotatingSecrets>>>,
    want_rotating: bool,
    rotating_asked: Instant,
    kept: BTreeMap<String, RawMessage>,
}

impl Session {
    fn send<M: Message>(&self, m: &M, tid: u64) {
        if self.conn.send(m.to_raw(tid, PACIFIC_SUPPORTED)).is_err() {
            debug!("send on a closed mon session; will resend after re-hunting");
        }
    }

    fn send_stats(&self, req: &RawStatsReq, tid: u64) {
        match req {
            RawStatsReq::Pools(m) => self.send(m, tid),
            RawStatsReq::Statfs(m) => self.send(m, tid),
        }
    }

    /// What a fresh session sends: MMonGetMap, the subscriptions, and whatever
    /// was in flight on the last one.
    fn start(&self) {
        self.send(&MonGetMap, 0);
        self.send_subs();
        for (tid, (m, _)) in &self.commands {
            self.send(m, *tid);
        }
        for (tid, (op, _)) in &self.pool_ops {
            self.send(op, *tid);
        }
        for (tid, (req, _)) in &self.stats {
            self.send_stats(req, *tid);
        }
        for (h, (what, _)) in &self.versions {
            self.send(&MonGetVersion { handle: *h, what: what.clone() }, *h);
        }
        self.request_rotating();
        for m in self.kept.values() {
            let _ = self.conn.send(m.clone());
        }
    }

    fn request_rotating(&self) {
        if self.want_rotating {
            let p = self.cephx.lock().unwrap_or_else(|p| p.into_inner()).rotating_request();
            self.send(&Auth { protocol: auth::AUTH_CEPHX, payload: p, monmap_epoch: 0 }, 0);
        }
    }

    fn send_subs(&self) {
        if self.subs.is_empty() {
            return;
        }
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
        let short = host.trim().split('.').next().unwrap_or("").to_string();
        self.send(&MonSubscribe { what: self.subs.clone(), hostname: short }, 0);
    }

    async fn run(mut self, mut req: mpsc::UnboundedReceiver<Req>) {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                m = self.incoming.recv() => match m {
                    Some(m) => self.handle(m),
                    None => {
                        warn!(mon = %self.conn.target, reason = ?self.conn.close_reason(), "lost mon session; hunting for a new mon");
                        if !self.rehunt().await {
                            return;
                        }
                    }
                },
                r = req.recv() => match r {
                    Some(r) => self.request(r),
                    None => return, // every MonClient handle dropped
                },
                _ = tick.tick() => {
                    let due = self.cephx.lock().map(|c| c.auth_ticket_due()).unwrap_or(false);
                    if due {
                        // A new AUTH ticket comes with a new handshake (our old ticket
                        // proves who we are and keeps our global_id).
                        debug!("auth ticket due for renewal; re-authenticating");
                        self.rehunt().await;
                        continue;
                    }
                    self.check_tickets();
                    self.refresh_rotating();
                    // mon_client_ping_timeout: a silent session is a dead one
                    if self.conn.idle() > self.ping_timeout {
                        warn!(mon = %self.conn.target, "no word from the mon for {:?}; hunting", self.conn.idle());
                        self.rehunt().await;
                    }
                }
            }
        }
    }

    /// Replaces the session with one to whichever mon answers first.
    async fn rehunt(&mut self) -> bool {
        match hunt(&self.targets, &self.copts, None, self.hunt_interval).await {
            Ok((c, i)) => {
                self.conn = c;
                self.incoming = i;
                self.start();
                true
            }
            Err(e) => {
                warn!("cannot re-establish a mon session: {e}");
                false
            }
        }
    }

    fn request(&mut self, r: Req) {
        let tid = self.next_tid;
        self.next_tid += 1;
        match r {
            Req::Command { cmd, inbl, reply } => {
                let m = MonCommand { fsid: self.fsid, cmd, inbl };
                self.send(&m, tid);
                self.commands.insert(tid, (m, reply));
            }
            Req::GetVersion { what, reply } => {
                self.send(&MonGetVersion { handle: tid, what: what.clone() }, tid);
                self.versions.insert(tid, (what, reply));
            }
            Req::Stats { mut msg, reply } => {
                match &mut msg {
                    RawStatsReq::Pools(m) => m.fsid = self.fsid,
                    RawStatsReq::Statfs(m) => m.fsid = self.fsid,
                }
                self.send_stats(&msg, tid);
                self.stats.insert(tid, (msg, reply));
            }
            Req::PoolOp { mut op, reply } => {
                op.fsid = self.fsid;
                self.send(&op, tid);
                self.pool_ops.insert(tid, (op, reply));
            }
            Req::Raw { msg, keep } => {
                let _ = self.conn.send(msg.clone());
                if let Some(k) = keep {
                    self.kept.insert(k, msg);
                }
            }
            Req::Subscribe { what, start, onetime } => {
                // An ongoing subscription stays ongoing (the mon would drop it
                // after serving a one-time request); only its start moves.
                let flags = match self.subs.get(&what) {
                    Some((_, f)) if *f & SUBSCRIBE_ONETIME == 0 => 0,
                    _ if onetime => SUBSCRIBE_ONETIME,
                    _ => 0,
                };
                self.subs.insert(what, (start, flags));
                self.send_subs();
            }
        }
    }

    /// Asks for fresh rotating secrets once the current one is past half its life.
    fn refresh_rotating(&mut self) {
        if !self.want_rotating {
            return;
        }
        let due = match self.rotating_tx.borrow().as_ref() {
            None => true,
            Some(r) => {
                // The middle secret is current; ask again once it nears expiry.
                let now = denc::Utime::now();
                r.secrets.values().nth(1).or_else(|| r.secrets.values().next()).map(|k| k.expiration.sec <= now.sec + 60).unwrap_or(true)
            }
        };
        if due && self.rotating_asked.elapsed() > Duration::from_secs(10) {
            self.rotating_asked = Instant::now();
            self.request_rotating();
        }
    }

    /// Renews service tickets over MAuth before they expire (MonClient::_check_auth_tickets).
    fn check_tickets(&mut self) {
        let (need, payload) = {
            let g = self.cephx.lock().unwrap_or_else(|p| p.into_inner());
            let need = g.needed();
            if need == 0 || need == EntityType::MGR.0 || g.ticket(EntityType::AUTH).is_none() {
                return;
            }
            (need, g.principal_request(need))
        };
        match payload {
            Ok(p) => {
                debug!(need, "renewing cephx tickets");
                self.send(&Auth { protocol: auth::AUTH_CEPHX, payload: p, monmap_epoch: 0 }, 0);
            }
            Err(e) => warn!("cannot build ticket renewal: {e}"),
        }
    }

    fn handle(&mut self, m: RawMessage) {
        let r = self.dispatch(&m);
        if let Err(e) = r {
            warn!(ty = m.header.ty, "bad message from mon: {e}");
        }
    }

    fn dispatch(&mut self, m: &RawMessage) -> Result<()> {
        match m.header.ty {
            mt::MON_MAP => {
                let mm = MonMapMsg::from_raw(m)?;
                let map = <MonMap as denc::Decode>::from_bytes(mm.monmap)?;
                self.fsid = map.fsid;
                let t: Vec<EntityAddr> = map
                    .mon_info
                    .values()
                    .filter_map(|i| i.public_addrs.0.iter().find(|a| a.ty == AddrType::Msgr2).copied())
                    .collect();
                if !t.is_empty() {
                    self.targets = t;
                }
                if let Some(s) = self.subs.get_mut("monmap") {
                    s.0 = map.epoch as u64 + 1;
                }
                self.monmap_tx.send_replace(Some(Arc::new(map)));
            }
            mt::CONFIG => {
                let c = ConfigMsg::from_raw(m)?;
                self.config_tx.send_replace(Some(Arc::new(c.config)));
            }
            mt::MGR_MAP => {
                let mm = MgrMapMsg::from_raw(m)?;
                let map = <MgrMap as denc::Decode>::from_bytes(mm.map)?;
                if let Some(s) = self.subs.get_mut("mgrmap") {
                    s.0 = map.epoch as u64 + 1;
                }
                self.mgrmap_tx.send_replace(Some(Arc::new(map)));
            }
            mt::OSD_MAP => {
                let om = OsdMapMsg::from_raw(m)?;
                if let Some(s) = self.subs.get_mut("osdmap") {
                    s.0 = om.newest_map as u64 + 1;
                }
                self.osdmap_tx.send_replace(Some(Arc::new(om)));
            }
            mt::MON_COMMAND_ACK => {
                let ack = MonCommandAck::from_raw(m)?;
                if let Some((_, tx)) = self.commands.remove(&m.header.tid) {
                    let _ = tx.send(CommandReply { r: ack.r, rs: ack.rs, outbl: ack.outbl });
                }
            }
            14 | 59 => {
                if let Some((_, tx)) = self.stats.remove(&m.header.tid) {
                    let _ = tx.send(m.clone());
                }
            }
            48 => {
                let r = PoolOpReply::from_raw(m)?;
                if let Some((_, tx)) = self.pool_ops.remove(&m.header.tid) {
                    let _ = tx.send(r);
                }
            }
            mt::MON_GET_VERSION_REPLY => {
                let v = MonGetVersionReply::from_raw(m)?;
                if let Some((_, tx)) = self.versions.remove(&v.handle) {
                    let _ = tx.send((v.version, v.oldest_version));
                }
            }
            mt::AUTH_REPLY => {
                let a = AuthReply::from_raw(m)?;
                if a.result != 0 {
                    warn!(result = a.result, "mon refused ticket renewal: {}", a.result_msg);
                } else if CephxClient::is_rotating_reply(&a.result_bl) {
                    let g = self.cephx.lock().unwrap_or_else(|p| p.into_inner());
                    match g.handle_rotating_reply(&a.result_bl) {
                        Ok(r) => {
                            self.rotating_tx.send_replace(Some(Arc::new(r)));
                        }
                        Err(e) => warn!("bad rotating keys reply: {e}"),
                    }
                } else {
                    let mut g = self.cephx.lock().unwrap_or_else(|p| p.into_inner());
                    if let Err(e) = g.handle_principal_reply(&a.result_bl) {
                        warn!("bad ticket renewal reply: {e}");
                    }
                }
            }
            mt::MON_SUBSCRIBE_ACK => {}
            other => debug!(ty = other, "ignoring message from mon"),
        }
        Ok(())
    }
}
