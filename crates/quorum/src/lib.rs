//! The monitors' replicated store.
//!
//! Ceph's mons agree on their store with Paxos: each Paxos value is a store
//! transaction. Ours do the same on Raft (openraft): each log entry is a
//! [`Write`], applied in log order to every mon's RocksDB. A write carries the
//! state version it was computed from and is refused ([`Applied::Conflict`]) if
//! the state changed since, so a write made from a stale view (a deposed
//! leader's) can never land. One mon is a one-node group.
//!
//! Raft runs on its own small runtime: a mon's request handlers block on
//! [`Quorum::propose`] (as they block on a synced write), and Raft must keep
//! running meanwhile.

mod net;
pub mod store;

use net::{Conn, Request, Response};
use openraft::error::{ClientWriteError, Fatal, NetworkError, RPCError, RaftError, RemoteError, ReplicationClosed, StreamingError, Unreachable};
use openraft::network::RPCOption;
use openraft::raft::{AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, VoteRequest, VoteResponse};
use openraft::{BasicNode, Raft, RaftNetwork, RaftNetworkFactory, ServerState, Snapshot, Vote};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Cursor;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::{Duration, Instant};
use tokio::io::AsyncReadExt;
use tracing::{debug, info, warn};

/// The key holding the replicated state's version.
pub const VERSION_KEY: &str = "sm/version";

openraft::declare_raft_types!(
    /// Raft types of the mon group.
    pub TypeConfig:
        D = Write,
        R = Applied,
        NodeId = u64,
        Node = BasicNode,
);

/// Bytes, carried as base64 in the JSON log and frames.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct B64(pub Vec<u8>);

impl Serialize for B64 {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use base64::Engine;
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(&self.0))
    }
}
impl<'de> Deserialize<'de> for B64 {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use base64::Engine;
        let s = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD.decode(s).map(B64).map_err(serde::de::Error::custom)
    }
}

/// One log entry's command.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub enum Write {
    /// Puts and deletes, applied only if the state is still at version `base`.
    Txn { base: u64, puts: Vec<(String, B64)>, dels: Vec<String> },
    /// Adds `count` to the counter at `key` and answers its old value (global
    /// id blocks): needs no version, so any mon may ask at any time.
    Reserve { key: String, count: u64 },
}

/// What applying a [`Write`] did.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub enum Applied {
    Done { version: u64 },
    Conflict { version: u64 },
    Reserved { start: u64 },
    Nothing,
}

/// A change to the state, as the mon must reload it: `keys` None means
/// everything (a snapshot was installed).
#[derive(Clone, Debug)]
pub struct Change {
    pub version: u64,
    pub keys: Option<Vec<String>>,
}

/// A mon of the group: its name and the address of its quorum port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    pub name: String,
    pub addr: SocketAddr,
}

/// A mon's Raft node id: stable across restarts and rank changes (FNV-1a of the name).
pub fn node_id(name: &str) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in name.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    h >> 1
}

/// How long a leader keeps calling itself in quorum without hearing from a
/// majority, and how long a peer counts as alive after its last answer.
const QUORUM_GRACE: Duration = Duration::from_secs(3);

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    pub me: String,
    pub leader: Option<String>,
    pub term: u64,
    /// This mon is in a quorum: it is the leader and a majority answers, or it
    /// follows a leader that answers.
    pub in_quorum: bool,
    /// The mons in the leader's quorum (the leader's view; empty elsewhere).
    pub quorum: Vec<String>,
}

type ForwardFn = Arc<dyn Fn(Vec<u8>) -> futures::future::BoxFuture<'static, Result<Vec<u8>, String>> + Send + Sync>;

struct Inner {
    raft: Raft<TypeConfig>,
    db: Arc<rocksdb::DB>,
    rt: tokio::runtime::Handle,
    me: u64,
    name: String,
    secret: Vec<u8>,
    members: Arc<RwLock<BTreeMap<u64, Member>>>,
    changes: Arc<Mutex<Vec<Change>>>,
    applied: tokio::sync::watch::Receiver<u64>,
    forward: OnceLock<ForwardFn>,
    /// Idle connections to peers for proposals, forwards and pings.
    pool: Mutex<BTreeMap<u64, Vec<Conn>>>,
    /// The leader removed this member from the group.
    retired: std::sync::atomic::AtomicBool,
    /// Last answer from each peer: when, and whom it follows.
    alive: Mutex<BTreeMap<u64, (Instant, Option<u64>)>>,
}

#[derive(Clone)]
pub struct Quorum {
    inner: Arc<Inner>,
    runtime: Arc<Mutex<Option<tokio::runtime::Runtime>>>,
}

/// How often the state is snapshotted and how much log is kept behind a
/// snapshot (a mon further behind gets the snapshot).
#[derive(Clone, Copy, Debug)]
pub struct Options {
    pub snapshot_every: u64,
    pub keep_logs: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options { snapshot_every: 2000, keep_logs: 500 }
    }
}

/// Raft timing: mons are few and talk over a LAN; a lost leader is replaced
/// within a couple of seconds.
pub fn raft_config(o: Options) -> openraft::Config {
    openraft::Config {
        cluster_name: "ceph-mon".into(),
        heartbeat_interval: 200,
        election_timeout_min: 1000,
        election_timeout_max: 2000,
        install_snapshot_timeout: 10_000,
        max_in_snapshot_log_to_keep: o.keep_logs,
        snapshot_policy: openraft::SnapshotPolicy::LogsSinceLast(o.snapshot_every.max(1)),
        ..Default::default()
    }
}

fn run_on<T: Send + 'static>(rt: &tokio::runtime::Handle, f: impl std::future::Future<Output = T> + Send + 'static) -> T {
    // From any thread, including a runtime's (the caller is blocked anyway).
    let (tx, rx) = std::sync::mpsc::channel();
    rt.spawn(async move {
        let _ = tx.send(f.await);
    });
    rx.recv().expect("quorum runtime is running")
}

impl Quorum {
    /// Opens the group member `me` on `db` and listens on its quorum port.
    /// `secret` is the `mon.` key every member shares.
    /// `initial`: this member founds the group with `members` (a new
    /// cluster's mons); otherwise it waits for the leader to add it.
    pub fn start(db: Arc<rocksdb::DB>, me: Member, members: Vec<Member>, secret: Vec<u8>, initial: bool, opts: Options) -> Result<Quorum, String> {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).thread_name("quorum").enable_all().build().map_err(|e| e.to_string())?;
        let handle = rt.handle().clone();
        let my_id = node_id(&me.name);
        let member_map: BTreeMap<u64, Member> = members.iter().map(|m| (node_id(&m.name), m.clone())).collect();
        let (notify, applied) = tokio::sync::watch::channel(store::state_version(&db));
        let changes = Arc::new(Mutex::new(Vec::new()));
        let listener = run_on(&handle, {
            let addr = me.addr;
            async move { tokio::net::TcpListener::bind(addr).await }
        })
        .map_err(|e| format!("cannot bind the quorum port {}: {e}", me.addr))?;
        let shared_members = Arc::new(RwLock::new(member_map.clone()));
        let net = NetFactory { me: my_id, secret: secret.clone(), members: shared_members.clone() };
        let log = store::LogStore { db: db.clone() };
        let sm = store::StateMachine { db: db.clone(), changes: changes.clone(), notify, snapshot_idx: 0 };
        let cfg = Arc::new(raft_config(opts).validate().map_err(|e| e.to_string())?);
        let raft = run_on(&handle, async move { Raft::new(my_id, cfg, net, log, sm).await }).map_err(|e| format!("starting raft: {e}"))?;
        let inner = Arc::new(Inner {
            raft,
            db,
            rt: handle.clone(),
            me: my_id,
            name: me.name.clone(),
            secret,
            members: shared_members,
            changes,
            applied,
            forward: OnceLock::new(),
            pool: Mutex::new(BTreeMap::new()),
            alive: Mutex::new(BTreeMap::new()),
            retired: Default::default(),
        });
        // A new group starts with the members it was made with (every member
        // may call this with the same set; Raft ignores all but the first).
        // A mon joining an existing group waits to be added instead.
        let init: BTreeMap<u64, BasicNode> = member_map.iter().map(|(id, m)| (*id, BasicNode { addr: m.addr.to_string() })).collect();
        let r2 = inner.raft.clone();
        let initialized = run_on(&handle, async move { r2.is_initialized().await }).map_err(|e| e.to_string())?;
        if !initialized && initial {
            let r2 = inner.raft.clone();
            if let Err(e) = run_on(&handle, async move { r2.initialize(init).await }) {
                debug!("raft initialize: {e}");
            }
        }
        // Alone in the group (a single-mon cluster), there is no one to wait
        // for: take office now rather than after an election timeout.
        let r2 = inner.raft.clone();
        let me_id = my_id;
        let _ = run_on(&handle, async move {
            let voters: Vec<u64> = r2.metrics().borrow().membership_config.membership().voter_ids().collect();
            if voters == [me_id] {
                let _ = r2.trigger().elect().await;
                let _ = tokio::time::timeout(Duration::from_secs(5), r2.metrics().wait_for(|m| m.state == ServerState::Leader)).await;
            }
        });
        handle.spawn(serve(inner.clone(), listener));
        handle.spawn(pinger(inner.clone()));
        info!(me = %me.name, members = member_map.len(), "quorum member started");
        Ok(Quorum { inner, runtime: Arc::new(Mutex::new(Some(rt))) })
    }

    /// Stops Raft and the runtime (a crash, in tests).
    pub fn shutdown(&self) {
        let r = self.inner.raft.clone();
        let _ = run_on(&self.inner.rt, async move { r.shutdown().await });
        if let Some(rt) = self.runtime.lock().unwrap_or_else(|p| p.into_inner()).take() {
            rt.shutdown_background();
        }
    }

    pub fn db(&self) -> &Arc<rocksdb::DB> {
        &self.inner.db
    }

    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The applied state version (bumped after each applied change).
    pub fn applied(&self) -> tokio::sync::watch::Receiver<u64> {
        self.inner.applied.clone()
    }

    /// Changes applied since the last call, oldest first.
    pub fn take_changes(&self) -> Vec<Change> {
        std::mem::take(&mut *self.inner.changes.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Sets what handles messages other mons forward to us as leader.
    pub fn set_forward_handler(&self, f: ForwardFn) {
        let _ = self.inner.forward.set(f);
    }

    pub fn status(&self) -> Status {
        status(&self.inner)
    }

    /// Commits `w` through the leader and waits until this mon has applied it.
    /// Blocks the calling thread (up to `timeout`: no quorum, no commit).
    pub fn propose(&self, w: Write, timeout: Duration) -> Result<Applied, String> {
        let inner = self.inner.clone();
        run_on(&self.inner.rt, async move { tokio::time::timeout(timeout, propose(&inner, w)).await.unwrap_or_else(|_| Err("no quorum: the write was not committed in time".into())) })
    }

    /// Hands a client message to the leader (this mon, if it leads) and
    /// returns its answer, once this mon has applied what the leader changed.
    pub async fn forward(&self, payload: Vec<u8>, timeout: Duration) -> Result<Vec<u8>, String> {
        let inner = self.inner.clone();
        let j = self.inner.rt.spawn(async move { tokio::time::timeout(timeout, forward(&inner, payload)).await.unwrap_or_else(|_| Err("no quorum: the leader did not answer in time".into())) });
        j.await.map_err(|e| e.to_string())?
    }

    /// As leader: confirms leadership with a majority and waits until every
    /// entry committed before now is applied here (so a new leader acts on the
    /// whole state).
    pub async fn linearize(&self) -> Result<(), String> {
        let r = self.inner.raft.clone();
        let j = self.inner.rt.spawn(async move { r.ensure_linearizable().await.map(|_| ()).map_err(|e| e.to_string()) });
        j.await.map_err(|e| e.to_string())?
    }

    /// Who the members are (as the monmap says): names and quorum addresses.
    pub fn set_members(&self, members: Vec<Member>) {
        let mut m = self.inner.members.write().unwrap_or_else(|p| p.into_inner());
        let me = m.get(&self.inner.me).cloned();
        *m = members.into_iter().map(|x| (node_id(&x.name), x)).collect();
        if let Some(me) = me {
            m.entry(self.inner.me).or_insert(me);
        }
    }

    /// As leader: lets `m` into the group as a learner (Raft sends it the
    /// state). It becomes a voter once it has caught up
    /// ([`Quorum::promote_caught_up`]), so a mon that is not running yet never
    /// counts toward (or against) a majority.
    pub fn add_member(&self, m: Member, timeout: Duration) -> Result<(), String> {
        let id = node_id(&m.name);
        self.inner.members.write().unwrap_or_else(|p| p.into_inner()).insert(id, m.clone());
        let r = self.inner.raft.clone();
        let node = BasicNode { addr: m.addr.to_string() };
        run_on(&self.inner.rt, async move {
            tokio::time::timeout(timeout, r.add_learner(id, node, false))
                .await
                .map_err(|_| "no quorum: the membership change did not commit in time".to_string())?
                .map(|_| ())
                .map_err(|e| e.to_string())
        })
    }

    /// As leader, now and then: makes learners that have caught up with the
    /// log voters (one joint-consensus change each).
    pub fn promote_caught_up(&self) {
        let m = self.inner.raft.metrics().borrow().clone();
        if m.state != ServerState::Leader {
            return;
        }
        let last = m.last_log_index.unwrap_or(0);
        let matched = m.replication.clone().unwrap_or_default();
        let ready: BTreeSet<u64> = m
            .membership_config
            .membership()
            .learner_ids()
            .filter(|id| matched.get(id).and_then(|l| l.map(|l| l.index)).is_some_and(|i| i + 5 >= last))
            .collect();
        if ready.is_empty() {
            return;
        }
        let r = self.inner.raft.clone();
        let _ = run_on(&self.inner.rt, async move {
            match tokio::time::timeout(Duration::from_secs(10), r.change_membership(openraft::ChangeMembers::AddVoterIds(ready.clone()), false)).await {
                Ok(Ok(_)) => info!(?ready, "caught-up members now vote"),
                Ok(Err(e)) => debug!("promoting members: {e}"),
                Err(_) => debug!("promoting members: timed out"),
            }
        });
    }

    /// Whether the leader removed this member from the group.
    pub fn retired(&self) -> bool {
        self.inner.retired.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// As leader: removes member `name` from the group, and tells it so (it
    /// no longer hears from the group otherwise).
    pub fn remove_member(&self, name: &str, timeout: Duration) -> Result<(), String> {
        let id = node_id(name);
        let inner = self.inner.clone();
        let r = self.inner.raft.clone();
        let voter = self.inner.raft.metrics().borrow().membership_config.membership().voter_ids().any(|v| v == id);
        let change = if voter { openraft::ChangeMembers::RemoveVoters([id].into_iter().collect()) } else { openraft::ChangeMembers::RemoveNodes([id].into_iter().collect()) };
        let res = run_on(&self.inner.rt, async move {
            tokio::time::timeout(timeout, r.change_membership(change, false))
                .await
                .map_err(|_| "no quorum: the membership change did not commit in time".to_string())?
                .map(|_| ())
                .map_err(|e| e.to_string())
        });
        if res.is_ok() {
            if id != self.inner.me {
                let _ = run_on(&self.inner.rt, async move { call(&inner, id, &Request::Retire, Duration::from_secs(2)).await });
            } else {
                self.inner.retired.store(true, std::sync::atomic::Ordering::SeqCst);
            }
            self.inner.members.write().unwrap_or_else(|p| p.into_inner()).remove(&id);
        }
        res
    }

    pub fn members(&self) -> Vec<Member> {
        self.inner.members.read().unwrap_or_else(|p| p.into_inner()).values().cloned().collect()
    }
}

fn status(inner: &Inner) -> Status {
    let m = inner.raft.metrics().borrow().clone();
    let members = inner.members.read().unwrap_or_else(|p| p.into_inner()).clone();
    let name_of = |id: u64| members.get(&id).map(|m| m.name.clone()).unwrap_or_else(|| format!("{id}"));
    let voters: BTreeSet<u64> = m.membership_config.membership().voter_ids().collect();
    let alive = inner.alive.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let fresh = |id: u64, leader: u64| alive.get(&id).map(|(t, l)| t.elapsed() < QUORUM_GRACE && *l == Some(leader)).unwrap_or(false);
    let mut st = Status { me: inner.name.clone(), leader: m.current_leader.map(name_of), term: m.current_term, in_quorum: false, quorum: vec![] };
    if m.state == ServerState::Leader {
        // A leader cut off from the others keeps its role in Raft until it
        // hears of a newer term; it is in quorum only while a majority of the
        // voters answers it as their leader.
        let mut q: Vec<u64> = voters.iter().copied().filter(|&id| id == inner.me || fresh(id, inner.me)).collect();
        if q.len() * 2 > voters.len() {
            st.in_quorum = true;
            q.sort_by_key(|&id| name_of(id));
            st.quorum = q.into_iter().map(name_of).collect();
        }
    } else if let Some(l) = m.current_leader {
        st.in_quorum = m.state == ServerState::Follower && fresh(l, l);
    }
    st
}

async fn propose(inner: &Arc<Inner>, w: Write) -> Result<Applied, String> {
    loop {
        let leader = inner.raft.metrics().borrow().current_leader;
        match leader {
            Some(l) if l == inner.me => match inner.raft.client_write(w.clone()).await {
                Ok(r) => return Ok(r.data),
                Err(RaftError::APIError(ClientWriteError::ForwardToLeader(_))) => {}
                Err(e) => return Err(e.to_string()),
            },
            Some(l) => match call(inner, l, &Request::Propose(w.clone()), Duration::from_secs(10)).await {
                Ok(Response::Proposed(Ok(a))) => {
                    if let Applied::Done { version } = a {
                        wait_applied(inner, version).await;
                    }
                    return Ok(a);
                }
                Ok(Response::Proposed(Err(e))) => debug!("proposal refused by the leader: {e}"),
                Ok(_) => return Err("unexpected reply to a proposal".into()),
                Err(e) => debug!("proposal to the leader failed: {e}"),
            },
            None => {}
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn wait_applied(inner: &Inner, version: u64) {
    let mut w = inner.applied.clone();
    let _ = w.wait_for(|v| *v >= version).await;
}

async fn forward(inner: &Arc<Inner>, payload: Vec<u8>) -> Result<Vec<u8>, String> {
    loop {
        let leader = inner.raft.metrics().borrow().current_leader;
        match leader {
            Some(l) if l == inner.me => {
                let f = inner.forward.get().cloned().ok_or("no forward handler")?;
                return f(payload).await;
            }
            Some(l) => match call(inner, l, &Request::Forward(B64(payload.clone())), Duration::from_secs(120)).await {
                Ok(Response::Forwarded(Ok(b), version)) => {
                    // The leader's reply may name what it just changed (a new map
                    // epoch): answer once this mon has it too.
                    let _ = tokio::time::timeout(Duration::from_secs(10), wait_applied(inner, version)).await;
                    return Ok(b.0);
                }
                Ok(Response::Forwarded(Err(e), _)) => debug!("leader could not handle a forwarded message: {e}"),
                Ok(_) => return Err("unexpected reply to a forward".into()),
                Err(e) => debug!("forward to the leader failed: {e}"),
            },
            None => {}
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn call(inner: &Arc<Inner>, peer: u64, req: &Request, timeout: Duration) -> Result<Response, String> {
    let addr = inner.members.read().unwrap_or_else(|p| p.into_inner()).get(&peer).map(|m| m.addr).ok_or("unknown peer")?;
    let pooled = inner.pool.lock().unwrap_or_else(|p| p.into_inner()).get_mut(&peer).and_then(|v| v.pop());
    let mut c = match pooled {
        Some(c) => c,
        None => Conn::connect(addr, inner.me, &inner.secret, Duration::from_secs(1)).await?,
    };
    let r = c.call(req, timeout).await?;
    inner.pool.lock().unwrap_or_else(|p| p.into_inner()).entry(peer).or_default().push(c);
    Ok(r)
}

/// Asks every peer whom it follows, twice a second: a mon is in the quorum
/// the leader reports while it keeps answering.
async fn pinger(inner: Arc<Inner>) {
    let mut t = tokio::time::interval(Duration::from_millis(500));
    loop {
        t.tick().await;
        let peers: Vec<u64> = inner.members.read().unwrap_or_else(|p| p.into_inner()).keys().copied().filter(|&id| id != inner.me).collect();
        for p in peers {
            let inner = inner.clone();
            tokio::spawn(async move {
                if let Ok(Response::Pong { leader, .. }) = call(&inner, p, &Request::Ping { from: inner.me }, Duration::from_secs(1)).await {
                    inner.alive.lock().unwrap_or_else(|p| p.into_inner()).insert(p, (Instant::now(), leader));
                }
            });
        }
    }
}

async fn serve(inner: Arc<Inner>, l: tokio::net::TcpListener) {
    loop {
        let Ok((mut s, peer)) = l.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let inner = inner.clone();
        tokio::spawn(async move {
            let mut b = vec![0u8; net::BANNER.len()];
            let hs = async {
                s.read_exact(&mut b).await.map_err(|e| e.to_string())?;
                if b != net::BANNER {
                    return Err("not a quorum peer".to_string());
                }
                Conn::accept(s, &inner.secret).await
            };
            let (mut c, from) = match tokio::time::timeout(Duration::from_secs(5), hs).await {
                Ok(Ok(x)) => x,
                Ok(Err(e)) => return warn!(%peer, "quorum peer refused: {e}"),
                Err(_) => return debug!(%peer, "quorum handshake timed out"),
            };
            while let Ok(req) = c.recv::<Request>().await {
                let resp = handle(&inner, from, req).await;
                if c.send(&resp).await.is_err() {
                    break;
                }
            }
        });
    }
}

async fn handle(inner: &Arc<Inner>, from: u64, req: Request) -> Response {
    match req {
        Request::Append(r) => Response::Append(inner.raft.append_entries(r).await),
        Request::Vote(r) => Response::Vote(inner.raft.vote(r).await),
        Request::Snapshot { vote, meta, data } => {
            let snap = Snapshot { meta, snapshot: Box::new(std::io::Cursor::new(data.0)) };
            Response::Snapshot(inner.raft.install_full_snapshot(vote, snap).await.map_err(|e| e.to_string()))
        }
        Request::Propose(w) => Response::Proposed(match inner.raft.client_write(w).await {
            Ok(r) => Ok(r.data),
            Err(e) => Err(e.to_string()),
        }),
        Request::Forward(b) => match inner.forward.get().cloned() {
            Some(f) => {
                let r = f(b.0).await.map(B64);
                Response::Forwarded(r, *inner.applied.borrow())
            }
            None => Response::Forwarded(Err("this mon does not take forwarded messages yet".into()), 0),
        },
        Request::Retire => {
            // Only from a peer holding the mon. key (the transport checks).
            let _ = from;
            warn!("the leader removed this mon from the quorum");
            inner.retired.store(true, std::sync::atomic::Ordering::SeqCst);
            Response::Retired
        }
        Request::Ping { .. } => {
            let _ = from;
            let m = inner.raft.metrics().borrow().clone();
            Response::Pong { leader: m.current_leader, term: m.current_term }
        }
    }
}

/// Raft's network: one connection per peer, opened on demand.
struct NetFactory {
    me: u64,
    secret: Vec<u8>,
    members: Arc<RwLock<BTreeMap<u64, Member>>>,
}

struct PeerNet {
    me: u64,
    secret: Vec<u8>,
    target: u64,
    addr: Option<SocketAddr>,
    conn: Option<Conn>,
}

impl RaftNetworkFactory<TypeConfig> for NetFactory {
    type Network = PeerNet;
    async fn new_client(&mut self, target: u64, node: &BasicNode) -> PeerNet {
        let addr = node.addr.parse().ok().or_else(|| self.members.read().ok()?.get(&target).map(|m| m.addr));
        PeerNet { me: self.me, secret: self.secret.clone(), target, addr, conn: None }
    }
}

impl PeerNet {
    async fn call(&mut self, req: &Request, timeout: Duration) -> Result<Response, Unreachable> {
        let addr = self.addr.ok_or_else(|| Unreachable::new(&std::io::Error::other("no address for this mon")))?;
        if self.conn.is_none() {
            let c = Conn::connect(addr, self.me, &self.secret, Duration::from_millis(500)).await.map_err(|e| Unreachable::new(&std::io::Error::other(e)))?;
            self.conn = Some(c);
        }
        let c = self.conn.as_mut().expect("connected");
        match c.call(req, timeout).await {
            Ok(r) => Ok(r),
            Err(e) => {
                self.conn = None;
                Err(Unreachable::new(&std::io::Error::other(e)))
            }
        }
    }
}

type RpcErr = RPCError<u64, BasicNode, RaftError<u64>>;

impl RaftNetwork<TypeConfig> for PeerNet {
    async fn append_entries(&mut self, rpc: AppendEntriesRequest<TypeConfig>, option: RPCOption) -> Result<AppendEntriesResponse<u64>, RpcErr> {
        match self.call(&Request::Append(rpc), option.hard_ttl()).await? {
            Response::Append(Ok(r)) => Ok(r),
            Response::Append(Err(e)) => Err(RPCError::RemoteError(RemoteError::new(self.target, e))),
            _ => Err(RPCError::Network(NetworkError::new(&std::io::Error::other("unexpected reply")))),
        }
    }

    async fn vote(&mut self, rpc: VoteRequest<u64>, option: RPCOption) -> Result<VoteResponse<u64>, RpcErr> {
        match self.call(&Request::Vote(rpc), option.hard_ttl()).await? {
            Response::Vote(Ok(r)) => Ok(r),
            Response::Vote(Err(e)) => Err(RPCError::RemoteError(RemoteError::new(self.target, e))),
            _ => Err(RPCError::Network(NetworkError::new(&std::io::Error::other("unexpected reply")))),
        }
    }

    async fn full_snapshot(
        &mut self,
        vote: Vote<u64>,
        snapshot: Snapshot<TypeConfig>,
        _cancel: impl std::future::Future<Output = ReplicationClosed> + openraft::OptionalSend + 'static,
        option: RPCOption,
    ) -> Result<SnapshotResponse<u64>, StreamingError<TypeConfig, Fatal<u64>>> {
        let req = Request::Snapshot { vote, meta: snapshot.meta.clone(), data: B64(snapshot.snapshot.into_inner()) };
        match self.call(&req, option.hard_ttl().max(Duration::from_secs(30))).await? {
            Response::Snapshot(Ok(r)) => Ok(r),
            Response::Snapshot(Err(e)) => Err(StreamingError::Network(NetworkError::new(&std::io::Error::other(e)))),
            _ => Err(StreamingError::Network(NetworkError::new(&std::io::Error::other("unexpected reply")))),
        }
    }
}
