//! The monitor service: cephx on accepted connections, and one task per client
//! session answering map requests, subscriptions, commands, pool ops and
//! ticket renewals.

use crate::commands::{self, CmdReply};
use crate::state::Cluster;
use auth::caps::MonCap;
use auth::server::{handle_authenticate, handle_session_request, new_challenge, verify_authorizer, AuthorizerOutcome};
use bytes::Bytes;
use denc::{Decode, Reader};
use messages::mon::*;
use messages::{Message, RawMessage};
use msgr::server::{pick_mode, AuthAccepted, AuthServer, AuthStep};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::watch;
use tracing::{debug, info, warn};
use types::features::PACIFIC_SUPPORTED;
use types::{EntityName, EntityType, Uuid};

/// Settings read once at start.
#[derive(Clone)]
pub struct MonSettings {
    pub name: String,
    /// `auth_mon_ticket_ttl` / `auth_service_ticket_ttl`.
    pub ttls: auth::server::Ttls,
    /// Methods we accept from clients (`auth_service_required`), as AUTH_* numbers.
    pub auth_methods: Vec<u32>,
    pub con_modes: Vec<u32>,
    pub conf: BTreeMap<String, String>,
    /// The options this daemon runs with that did not come from defaults:
    /// name → (value, source), for `config show`.
    pub running: BTreeMap<String, (String, &'static str)>,
}

impl MonSettings {
    pub fn get(&self, k: &str) -> Option<&str> {
        self.conf.get(k).map(|s| s.as_str())
    }
    pub fn get_u64(&self, k: &str, def: u64) -> u64 {
        self.get(k).and_then(|v| v.trim().parse().ok()).unwrap_or(def)
    }
    pub fn get_bool(&self, k: &str, def: bool) -> bool {
        self.get(k).map(|v| matches!(v.trim(), "true" | "1" | "yes" | "on")).unwrap_or(def)
    }
}

pub struct Mon {
    pub cluster: Mutex<Cluster>,
    pub settings: MonSettings,
    pub fsid: Uuid,
    /// Bumped whenever a map or the config changes; sessions re-check their subscriptions.
    pub changed: watch::Sender<u64>,
    pub sessions: std::sync::atomic::AtomicUsize,
    /// OSD failure reports, down/out timers and PG stats (not persisted; the
    /// leader's count, as OSD messages are forwarded there).
    pub osd_runtime: Mutex<crate::osdmon::OsdRuntime>,
    pub quorum: quorum::Quorum,
    /// The quorum as last reported, and since when (`quorum_age`).
    pub quorum_since: Mutex<(Vec<String>, std::time::Instant)>,
}

impl Mon {
    /// The cluster state, brought up to date with what the quorum applied.
    pub fn lock(&self) -> MutexGuard<'_, Cluster> {
        // State is only replaced whole after a successful commit, so a panic
        // elsewhere cannot leave it half-written: keep serving.
        let mut c = self.cluster.lock().unwrap_or_else(|p| p.into_inner());
        c.refresh();
        c
    }
    pub fn is_leader(&self) -> bool {
        let st = self.quorum.status();
        st.in_quorum && st.leader.as_deref() == Some(self.settings.name.as_str())
    }
    pub fn osd_rt(&self) -> MutexGuard<'_, crate::osdmon::OsdRuntime> {
        self.osd_runtime.lock().unwrap_or_else(|p| p.into_inner())
    }
    pub fn notify(&self) {
        self.changed.send_modify(|v| *v += 1);
    }
}

/// Who a session authenticated as.
#[derive(Clone, Debug)]
pub struct Identity {
    pub name: EntityName,
    pub global_id: u64,
    /// The cephx challenge of this session's handshake (AUTH ticket renewals answer it).
    pub challenge: Option<u64>,
}

#[derive(Default)]
pub struct HandshakeState {
    name: Option<EntityName>,
    challenge: Option<u64>,
    /// The global id the client had with another mon (0 for a new client).
    claimed_gid: u64,
    authorizer_challenge: Option<u64>,
    modes: Vec<u32>,
}

/// cephx (or none) for the mon's and the built-in mgr's listeners.
pub struct MonAuth {
    pub mon: Arc<Mon>,
    /// `None` for the mon port (clients authenticate with AUTH_MODE_MON);
    /// `Some(MGR)` for the mgr port (clients show an authorizer).
    pub service: Option<EntityType>,
}

impl MonAuth {
    fn reject(&self, errno: i32, reason: String) -> AuthStep<Identity> {
        AuthStep::Reject { errno, reason, allowed_methods: self.mon.settings.auth_methods.clone(), allowed_modes: self.mon.settings.con_modes.clone() }
    }
}

impl AuthServer for MonAuth {
    type State = HandshakeState;
    type Identity = Identity;

    fn accepting(&self) -> bool {
        // Out of quorum, a mon serves no one (clients hunt for another mon).
        self.mon.quorum.status().in_quorum
    }

    fn auth_request(&self, st: &mut HandshakeState, _peer: EntityType, method: u32, modes: &[u32], payload: &Bytes) -> AuthStep<Identity> {
        st.modes = modes.to_vec();
        if !self.mon.settings.auth_methods.contains(&method) {
            return self.reject(-95, format!("auth method {method} is not allowed here"));
        }
        let Some(mode) = pick_mode(modes, &self.mon.settings.con_modes) else {
            return self.reject(-95, "no connection mode in common".into());
        };
        let mut r = Reader::new(payload.clone());
        if method == auth::AUTH_NONE {
            let (Ok(_), Ok(name)) = (r.u8(), EntityName::decode(&mut r)) else {
                return self.reject(-22, "malformed auth none request".into());
            };
            let gid = match self.mon.lock().alloc_global_id() {
                Ok(g) => g,
                Err(e) => return self.reject(-5, e),
            };
            return AuthStep::Done(AuthAccepted { global_id: gid, con_mode: auth::CON_MODE_CRC, reply: Bytes::new(), session_key: None, connection_secret: Bytes::new(), identity: Identity { name, global_id: gid, challenge: None } });
        }
        match (self.service, r.u8()) {
            (None, Ok(auth::AUTH_MODE_MON)) => {
                let Ok(name) = EntityName::decode(&mut r) else {
                    return self.reject(-22, "malformed cephx request".into());
                };
                st.name = Some(name);
                st.claimed_gid = r.u64().unwrap_or(0);
                let (c, p) = new_challenge();
                st.challenge = Some(c);
                let _ = mode;
                AuthStep::More(p)
            }
            (Some(_), Ok(auth::AUTH_MODE_AUTHORIZER)) => self.auth_more(st, payload),
            _ => self.reject(-95, "unexpected cephx mode for this service".into()),
        }
    }

    fn auth_more(&self, st: &mut HandshakeState, payload: &Bytes) -> AuthStep<Identity> {
        let mode = pick_mode(&st.modes, &self.mon.settings.con_modes).unwrap_or(auth::CON_MODE_CRC);
        let secret_len = if mode == auth::CON_MODE_SECURE { 64 } else { 0 };
        let ttl = self.mon.settings.ttls;
        if let Some(svc) = self.service {
            let ks = self.mon.lock().keys.clone();
            return match verify_authorizer(&ks, svc.0, payload, &mut st.authorizer_challenge, secret_len) {
                Ok(AuthorizerOutcome::Challenge(p)) => AuthStep::More(p),
                Ok(AuthorizerOutcome::Accepted { name, global_id, session_key, connection_secret, reply, .. }) => AuthStep::Done(AuthAccepted {
                    global_id,
                    con_mode: mode,
                    reply,
                    session_key: Some(session_key),
                    connection_secret,
                    identity: Identity { name, global_id, challenge: None },
                }),
                Err(e) => self.reject(-13, e.to_string()),
            };
        }
        let (Some(name), Some(ch)) = (st.name.clone(), st.challenge.take()) else {
            return self.reject(-22, "cephx request without a challenge".into());
        };
        let mut c = self.mon.lock();
        if let Err((errno, why)) = auth::server::check_authenticate_proof(&c.keys, &name, ch, payload) {
            info!("refused authentication of {name}: {why}");
            return self.reject(errno, why);
        }
        // A client moving between mons keeps its id when its ticket proves it.
        let reclaimed = auth::server::reclaimable_global_id(&c.keys, &name, st.claimed_gid, payload);
        let gid = match reclaimed.map(Ok).unwrap_or_else(|| c.alloc_global_id()) {
            Ok(g) => g,
            Err(e) => return self.reject(-5, e),
        };
        match handle_authenticate(&c.keys, &name, gid, ch, payload, secret_len, ttl) {
            Ok(a) => AuthStep::Done(AuthAccepted {
                global_id: gid,
                con_mode: mode,
                reply: a.reply,
                session_key: Some(a.session_key),
                connection_secret: a.connection_secret,
                identity: Identity { name, global_id: gid, challenge: Some(ch) },
            }),
            Err((errno, why)) => {
                info!("refused authentication of {name}: {why}");
                self.reject(errno, why)
            }
        }
    }
}

/// Per-session subscription state.
struct Subs {
    /// name → (next epoch wanted, onetime)
    what: BTreeMap<String, (u64, bool)>,
    config_sent: Option<BTreeMap<String, String>>,
}

/// Serves one client session until it closes.
pub async fn serve_session(mon: Arc<Mon>, conn: msgr::Connection, mut incoming: msgr::Incoming, who: Identity) {
    mon.sessions.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut changes = mon.changed.subscribe();
    let mut subs = Subs { what: BTreeMap::new(), config_sent: None };
    let features = conn.info.features;
    let peer_type = conn.info.peer_type;
    debug!(name = %who.name, gid = who.global_id, "session open");
    let mut quorum_check = tokio::time::interval(std::time::Duration::from_secs(1));
    loop {
        tokio::select! {
            m = incoming.recv() => {
                let Some(m) = m else { break };
                if leader_bound(m.header.ty) {
                    tokio::select! {
                        replies = on_leader(&mon, &who, &conn.info, m) => {
                            let Some(replies) = replies else {
                                // Not handled: the client resends to the mon it hunts next.
                                debug!(name = %who.name, "no leader handled a message: closing session");
                                break;
                            };
                            for r in replies {
                                let _ = conn.send(r);
                            }
                        }
                        _ = lost_quorum(&mon) => {
                            // The client resends to the mon it hunts next.
                            debug!(name = %who.name, "out of quorum while waiting for the leader: closing session");
                            break;
                        }
                    }
                    continue;
                }
                if let Err(e) = handle(&mon, &conn, &who, peer_type, features, &mut subs, m) {
                    debug!(name = %who.name, "dropping session: {e}");
                    break;
                }
            }
            _ = quorum_check.tick() => {
                if !mon.quorum.status().in_quorum {
                    // As a Ceph mon leaving quorum: drop clients so they hunt.
                    debug!(name = %who.name, "out of quorum: closing session");
                    break;
                }
            }
            r = changes.changed() => {
                if r.is_err() { break }
                push_subscriptions(&mon, &conn, &who, features, &mut subs);
            }
        }
    }
    mon.sessions.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    debug!(name = %who.name, "session closed");
}

fn mon_caps(mon: &Mon, who: &EntityName) -> MonCap {
    let c = mon.lock();
    c.keys
        .get(who)
        .and_then(|e| e.caps.get("mon"))
        .and_then(|s| MonCap::parse(s).ok())
        .unwrap_or_default()
}

fn send<M: Message>(conn: &msgr::Connection, m: &M, tid: u64, features: u64) {
    let _ = conn.send(m.to_raw(tid, features));
}

fn handle(mon: &Arc<Mon>, conn: &msgr::Connection, who: &Identity, peer_type: EntityType, features: u64, subs: &mut Subs, m: RawMessage) -> Result<(), String> {
    let tid = m.header.tid;
    let ty = m.header.ty;
    let bad = |e: denc::Error| format!("malformed message type {ty}: {e}");
    match ty {
        messages::types::MON_GET_MAP => {
            let raw = denc::Encode::to_bytes(&mon.lock().monmap, PACIFIC_SUPPORTED);
            send(conn, &MonMapMsg { monmap: raw }, 0, features);
        }
        messages::types::MON_SUBSCRIBE => {
            let s = MonSubscribe::from_raw(&m).map_err(bad)?;
            // As Monitor::handle_subscribe: monmap and config need no caps, the rest mon r.
            let caps = mon_caps(mon, &who.name);
            let none = BTreeMap::new();
            for (k, (start, flags)) in s.what {
                let free = k == "monmap" || k == "config";
                if !free && !caps.is_capable("mon", "", &none, auth::caps::R) {
                    debug!(name = %who.name, sub = %k, "subscription refused: not enough caps");
                    continue;
                }
                subs.what.insert(k, (start, flags & SUBSCRIBE_ONETIME != 0));
            }
            push_subscriptions(mon, conn, who, features, subs);
        }
        messages::types::MON_GET_VERSION => {
            let q = MonGetVersion::from_raw(&m).map_err(bad)?;
            let c = mon.lock();
            let (v, o) = match q.what.as_str() {
                "osdmap" => (c.osdmap.epoch as u64, c.osdmap_first as u64),
                "monmap" => (c.monmap.epoch as u64, 1),
                "mgrmap" => (c.mgrmap.epoch as u64, 1),
                "fsmap" | "mdsmap" => (c.fsmap_epoch as u64, 1),
                _ => (0, 0),
            };
            drop(c);
            send(conn, &MonGetVersionReply { handle: q.handle, version: v, oldest_version: o }, tid, features);
        }
        messages::types::AUTH => {
            let a = Auth::from_raw(&m).map_err(bad)?;
            let ks = mon.lock().keys.clone();
            let reply = match handle_session_request(&ks, &who.name, who.global_id, who.challenge, &a.payload, mon.settings.ttls) {
                Ok(bl) => AuthReply { protocol: a.protocol, result: 0, global_id: who.global_id, result_bl: bl, result_msg: String::new() },
                Err((r, msg)) => AuthReply { protocol: a.protocol, result: r, global_id: who.global_id, result_bl: Bytes::new(), result_msg: msg },
            };
            send(conn, &reply, tid, features);
        }
        messages::types::MON_COMMAND => {
            let c = MonCommand::from_raw(&m).map_err(bad)?;
            let caps = mon_caps(mon, &who.name);
            let rep: CmdReply = commands::handle(mon, &who.name, &caps, &c.cmd, &c.inbl);
            send(conn, &MonCommandAck { version: 0, r: rep.r, rs: rep.rs, cmd: c.cmd, outbl: rep.out }, tid, features);
            if rep.changed {
                mon.notify();
            }
        }
        49 => {
            let op = PoolOp::from_raw(&m).map_err(bad)?;
            let caps = mon_caps(mon, &who.name);
            let (code, epoch, data, changed) = commands::pool_op(mon, &who.name, &caps, &op);
            send(conn, &PoolOpReply { fsid: mon.fsid, reply_code: code, epoch, response_data: data }, tid, features);
            if changed {
                mon.notify();
            }
        }
        58 => {
            let q = GetPoolStats::from_raw(&m).map_err(bad)?;
            let out = commands::pool_stats_reply(mon, &q);
            let _ = conn.send(RawMessage { header: reply_header(59, tid, 1), front: out, ..Default::default() });
        }
        messages::types::STATFS => {
            let out = commands::statfs_reply(mon, &m);
            let _ = conn.send(RawMessage { header: reply_header(14, tid, 2), front: out, ..Default::default() });
        }
        messages::types::LOG => {
            let caps = mon_caps(mon, &who.name);
            commands::handle_log(mon, who, &caps, &m, conn, features);
        }
        messages::osd_mon::MSG_OSD_BOOT | messages::osd_mon::MSG_OSD_FAILURE | messages::osd_mon::MSG_OSD_MARK_ME_DOWN | messages::osd_mon::MSG_OSD_BEACON | messages::osd_mon::MSG_OSD_ALIVE | messages::osd_mon::MSG_OSD_PGTEMP | messages::osd_peer::MSG_PG_STATS => {
            // OSD traffic needs the osd profile (or equivalent) on the mon.
            let caps = mon_caps(mon, &who.name);
            if who.name.ty != EntityType::OSD || !caps.is_capable("osd", "", &BTreeMap::new(), auth::caps::R | auth::caps::W | auth::caps::X) {
                debug!(name = %who.name, ty, "osd message from a session without osd caps ignored");
                return Ok(());
            }
            let r = match ty {
                messages::osd_mon::MSG_OSD_BOOT => crate::osdmon::handle_boot(mon, conn, &who.name, &m),
                messages::osd_mon::MSG_OSD_FAILURE => crate::osdmon::handle_failure(mon, &who.name, &m),
                messages::osd_mon::MSG_OSD_MARK_ME_DOWN => crate::osdmon::handle_mark_me_down(mon, &who.name, &m),
                messages::osd_mon::MSG_OSD_BEACON => crate::osdmon::handle_beacon(mon, &who.name, &m).map(|_| false),
                messages::osd_mon::MSG_OSD_ALIVE => crate::osdmon::handle_alive(mon, conn, &who.name, &m),
                messages::osd_mon::MSG_OSD_PGTEMP => crate::osdmon::handle_pg_temp(mon, conn, &who.name, &m),
                _ => crate::osdmon::handle_pg_stats(mon, &who.name, &m).map(|_| false),
            };
            match r {
                Ok(true) => mon.notify(),
                Ok(false) => {}
                Err(e) => warn!(name = %who.name, ty, "bad osd message: {e}"),
            }
        }
        other => {
            debug!(name = %who.name, peer = %peer_type, ty = other, "ignoring message");
        }
    }
    Ok(())
}

/// The quorum port of each mon: its v2 address with the port moved by
/// `mon_quorum_port_offset` (default 1000: 3300 → 4300).
pub fn quorum_members(monmap: &maps::monmap::MonMap, offset: u16) -> Vec<quorum::Member> {
    monmap.mon_info.values().filter_map(|m| quorum_member(m, offset)).collect()
}

pub fn quorum_member(m: &maps::monmap::MonInfo, offset: u16) -> Option<quorum::Member> {
    let mut sa = m.public_addrs.v2()?.addr?;
    sa.set_port(sa.port().wrapping_add(offset));
    Some(quorum::Member { name: m.name.clone(), addr: sa })
}

/// Returns once this mon is out of quorum.
async fn lost_quorum(mon: &Mon) {
    loop {
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        if !mon.quorum.status().in_quorum {
            return;
        }
    }
}

/// Messages that change the cluster or need the leader's counts (PG stats,
/// failure reports): the leader handles them; other mons forward them there,
/// as Ceph's peons do with MForward.
fn leader_bound(ty: u16) -> bool {
    matches!(
        ty,
        messages::types::MON_COMMAND
            | 49
            | 58
            | messages::types::STATFS
            | messages::types::LOG
            | messages::osd_mon::MSG_OSD_BOOT
            | messages::osd_mon::MSG_OSD_FAILURE
            | messages::osd_mon::MSG_OSD_MARK_ME_DOWN
            | messages::osd_mon::MSG_OSD_BEACON
            | messages::osd_mon::MSG_OSD_ALIVE
            | messages::osd_mon::MSG_OSD_PGTEMP
            | messages::osd_peer::MSG_PG_STATS
    )
}

/// A client message as one mon forwards it to the leader.
#[derive(serde::Serialize, serde::Deserialize)]
struct ForwardedMsg {
    name: String,
    global_id: u64,
    challenge: Option<u64>,
    peer_type: u32,
    peer_addrs: quorum::B64,
    peer_gid: i64,
    features: u64,
    msg: WireMsg,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct WireMsg {
    ty: u16,
    tid: u64,
    version: u16,
    compat_version: u16,
    priority: u16,
    front: quorum::B64,
    middle: quorum::B64,
    data: quorum::B64,
}

impl WireMsg {
    fn from_raw(m: &RawMessage) -> WireMsg {
        let h = &m.header;
        WireMsg {
            ty: h.ty,
            tid: h.tid,
            version: h.version,
            compat_version: h.compat_version,
            priority: h.priority,
            front: quorum::B64(m.front.to_vec()),
            middle: quorum::B64(m.middle.to_vec()),
            data: quorum::B64(m.data.to_vec()),
        }
    }
    fn into_raw(self) -> RawMessage {
        let header = messages::MsgHeader { ty: self.ty, tid: self.tid, version: self.version, compat_version: self.compat_version, priority: self.priority, ..Default::default() };
        RawMessage { header, front: Bytes::from(self.front.0), middle: Bytes::from(self.middle.0), data: Bytes::from(self.data.0) }
    }
}

/// Runs a leader-bound message: here if this mon leads, else on the leader.
/// Returns the replies for the client.
async fn on_leader(mon: &Arc<Mon>, who: &Identity, info: &msgr::conn::PeerInfo, m: RawMessage) -> Option<Vec<RawMessage>> {
    if mon.is_leader() {
        return run_as_leader(mon, who, info.clone(), m).await;
    }
    let fwd = ForwardedMsg {
        name: who.name.to_string(),
        global_id: who.global_id,
        challenge: who.challenge,
        peer_type: info.peer_type.0,
        peer_addrs: quorum::B64(denc::Encode::to_bytes(&info.peer_addrs, PACIFIC_SUPPORTED).to_vec()),
        peer_gid: info.peer_gid,
        features: info.features,
        msg: WireMsg::from_raw(&m),
    };
    let payload = match serde_json::to_vec(&fwd) {
        Ok(p) => p,
        Err(e) => {
            warn!("cannot forward a message: {e}");
            return None;
        }
    };
    // Clients wait while there is no leader (as with Ceph's elections).
    match mon.quorum.forward(payload, std::time::Duration::from_secs(120)).await {
        Ok(b) => match serde_json::from_slice::<Vec<WireMsg>>(&b) {
            Ok(v) => Some(v.into_iter().map(WireMsg::into_raw).collect()),
            Err(e) => {
                warn!("bad answer from the leader: {e}");
                None
            }
        },
        Err(e) => {
            warn!(name = %who.name, ty = m.header.ty, "forwarding to the leader failed: {e}");
            None
        }
    }
}

/// The leader's side of a forwarded message (Ceph's `Monitor::handle_forward`).
pub async fn handle_forwarded(mon: Arc<Mon>, payload: Vec<u8>) -> Result<Vec<u8>, String> {
    let f: ForwardedMsg = serde_json::from_slice(&payload).map_err(|e| format!("bad forwarded message: {e}"))?;
    let name: EntityName = f.name.parse().map_err(|_| format!("bad entity name '{}'", f.name))?;
    let addrs = <types::EntityAddrVec as Decode>::decode(&mut Reader::new(Bytes::from(f.peer_addrs.0))).map_err(|e| format!("bad addrs: {e}"))?;
    let who = Identity { name, global_id: f.global_id, challenge: f.challenge };
    let info = msgr::conn::PeerInfo {
        peer_type: EntityType(f.peer_type),
        peer_addrs: addrs,
        peer_gid: f.peer_gid,
        features: f.features,
        my_addr: Default::default(),
        global_id: f.global_id,
        con_mode: 0,
    };
    if !mon.is_leader() {
        return Err("not the leader".into());
    }
    let replies = run_as_leader(&mon, &who, info, f.msg.into_raw()).await.ok_or("leadership not confirmed")?;
    serde_json::to_vec(&replies.iter().map(WireMsg::from_raw).collect::<Vec<_>>()).map_err(|e| e.to_string())
}

/// Runs a leader-bound message here, as the leader; None if it could not
/// be run (leadership not confirmed), so the sender tries again elsewhere.
async fn run_as_leader(mon: &Arc<Mon>, who: &Identity, info: msgr::conn::PeerInfo, m: RawMessage) -> Option<Vec<RawMessage>> {
    if m.header.ty != messages::osd_peer::MSG_PG_STATS {
        // A new leader first catches up with everything committed before it;
        // a leader a majority no longer answers starts no write.
        match tokio::time::timeout(std::time::Duration::from_secs(5), mon.quorum.linearize()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                debug!("not handling a message: cannot confirm leadership: {e}");
                return None;
            }
            Err(_) => {
                debug!("not handling a message: no majority answered in time");
                return None;
            }
        }
    }
    let mut attempt = 0;
    loop {
        let (conn, mut captured) = msgr::Connection::capture(info.clone(), Default::default());
        let mut subs = Subs { what: BTreeMap::new(), config_sent: None };
        // Synchronous on this thread, so the conflict flag is this request's.
        crate::store::Store::take_conflicted();
        if let Err(e) = handle(mon, &conn, who, info.peer_type, info.features, &mut subs, m.clone()) {
            debug!(name = %who.name, "bad message: {e}");
        }
        attempt += 1;
        // A write computed from a stale view was refused: run it again on the
        // state as it is now.
        if crate::store::Store::take_conflicted() && attempt < 3 {
            continue;
        }
        return Some(captured.drain());
    }
}

pub fn reply_header(ty: u16, tid: u64, version: u16) -> messages::MsgHeader {
    messages::MsgHeader { ty, tid, priority: 127, version, compat_version: 1, ..Default::default() }
}

/// Sends whatever the session's subscriptions are owed.
fn push_subscriptions(mon: &Arc<Mon>, conn: &msgr::Connection, who: &Identity, features: u64, subs: &mut Subs) {
    let mut done = Vec::new();
    let keys: Vec<String> = subs.what.keys().cloned().collect();
    for k in keys {
        let (next, onetime) = subs.what[&k];
        let sent_to = match k.as_str() {
            "monmap" => {
                let c = mon.lock();
                if (c.monmap.epoch as u64) >= next {
                    send(conn, &MonMapMsg { monmap: denc::Encode::to_bytes(&c.monmap, PACIFIC_SUPPORTED) }, 0, features);
                    Some(c.monmap.epoch as u64)
                } else {
                    None
                }
            }
            "mgrmap" => {
                let c = mon.lock();
                if (c.mgrmap.epoch as u64) >= next {
                    send(conn, &MgrMapMsg { map: denc::Encode::to_bytes(&c.mgrmap, features) }, 0, features);
                    Some(c.mgrmap.epoch as u64)
                } else {
                    None
                }
            }
            "osdmap" => {
                let mut c = mon.lock();
                let last = c.osdmap.epoch;
                if (last as u64) >= next {
                    let mut maps = BTreeMap::new();
                    let mut incs = BTreeMap::new();
                    // A new subscriber gets the newest full map; one asking
                    // from an epoch gets every epoch from there, at most
                    // `osd_map_message_max` (40) per message, and asks again
                    // while `newest_map` is ahead (OSDs keep every epoch:
                    // peering reads past intervals from them).
                    let first = if next == 0 { last } else { (next as u32).max(c.osdmap_first) };
                    let upto = if next == 0 { last } else { last.min(first.saturating_add(39)) };
                    // Incrementals when the client has the previous epoch and every
                    // step has one (as OSDMonitor::send_incremental); else full maps.
                    if next > 0 && first == next as u32 {
                        for e in first..=upto {
                            match c.osdmap_inc_bytes(e) {
                                Some(b) => {
                                    incs.insert(e, b);
                                }
                                None => {
                                    incs.clear();
                                    break;
                                }
                            }
                        }
                    }
                    if incs.is_empty() {
                        for e in first..=upto {
                            if let Some(b) = c.osdmap_bytes(e) {
                                maps.insert(e, b);
                            }
                        }
                    }
                    let msg = OsdMapMsg { fsid: mon.fsid, incremental_maps: incs, maps, oldest_map: c.osdmap_first, newest_map: last };
                    drop(c);
                    send(conn, &msg, 0, features);
                    Some(upto as u64)
                } else {
                    None
                }
            }
            "config" => {
                let c = mon.lock();
                let cfg = c.config_for(who.name.ty.name(), &who.name.to_string());
                drop(c);
                if subs.config_sent.as_ref() != Some(&cfg) {
                    send(conn, &ConfigMsg { config: cfg.clone() }, 0, features);
                    subs.config_sent = Some(cfg);
                }
                // Config is pushed on every change; the epoch is not used.
                None
            }
            _ => None,
        };
        if let Some(e) = sent_to {
            if onetime {
                done.push(k.clone());
            } else if let Some(s) = subs.what.get_mut(&k) {
                s.0 = e + 1;
            }
        }
    }
    for k in done {
        subs.what.remove(&k);
    }
}

