//! The client side of mgr commands (`MgrClient`): a session to the active mgr
//! named in the MgrMap, MMgrCommand out, MMgrCommandReply back by tid.

use crate::client::Shared;
use crate::{CommandReply, Error, Result};
use auth::CephxClient;
use bytes::Bytes;
use maps::MgrMap;
use messages::mon::{Command, CommandReply as MCommandReply, MgrCommand, MgrCommandReply};
use messages::{types as mt, Message};
use msgr::{ClientAuth, ConnectOptions, Connection, Incoming};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot, watch};
use tracing::{debug, warn};
use types::features::{PACIFIC_SUPPORTED, SERVER_OCTOPUS};
use types::{EntityType, Uuid};

struct Req {
    cmd: Vec<String>,
    inbl: Bytes,
    reply: oneshot::Sender<CommandReply>,
}

#[derive(Clone)]
pub(crate) struct MgrClient {
    tx: mpsc::UnboundedSender<Req>,
}

impl MgrClient {
    pub(crate) fn start(
        shared: Arc<Shared>,
        cephx: Arc<Mutex<CephxClient>>,
        mgrmap: watch::Receiver<Option<Arc<MgrMap>>>,
        modes: Vec<u32>,
    ) -> MgrClient {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(shared, cephx, mgrmap, modes, rx));
        MgrClient { tx }
    }

    pub(crate) async fn command(&self, cmd: Vec<String>, inbl: Bytes) -> Result<CommandReply> {
        let (tx, rx) = oneshot::channel();
        self.tx.send(Req { cmd, inbl, reply: tx }).map_err(|_| Error::Shutdown)?;
        rx.await.map_err(|_| Error::Shutdown)
    }
}

async fn run(
    shared: Arc<Shared>,
    cephx: Arc<Mutex<CephxClient>>,
    mut mgrmap: watch::Receiver<Option<Arc<MgrMap>>>,
    modes: Vec<u32>,
    mut rx: mpsc::UnboundedReceiver<Req>,
) {
    let mut pending: HashMap<u64, (Vec<String>, Bytes, oneshot::Sender<CommandReply>)> = HashMap::new();
    let mut next_tid = 0u64;
    let mut session: Option<(Connection, Incoming, u64)> = None;
    loop {
        // Connect when there is work and an available mgr.
        if session.is_none() && !pending.is_empty() {
            let map = mgrmap.borrow().clone();
            if let Some(map) = map.filter(|m| m.available) {
                if let Some(addr) = map.active_addrs.v2().copied() {
                    let opts = ConnectOptions {
                        my_type: EntityType::CLIENT,
                        my_addrs: None,
                        auth: ClientAuth::Authorizer(cephx.clone(), EntityType::MGR),
                        modes: modes.clone(),
                        lossy: true,
                        nonce: shared.nonce,
                        keepalive_secs: 0,
                        gid: cephx.lock().map(|c| c.global_id as i64).unwrap_or(-1),
                    };
                    // bounded: a silent mgr must not stall commands forever
                    let attempt = tokio::time::timeout(std::time::Duration::from_secs(10), msgr::connect(addr, opts)).await;
                    match attempt.unwrap_or_else(|_| Err(msgr::Error::Protocol("connect timed out".into()))) {
                        Ok((c, inc)) => {
                            let use_mgr_cmd = map.active_mgr_features & SERVER_OCTOPUS != 0;
                            for (tid, (cmd, inbl, _)) in &pending {
                                send(&c, *tid, cmd, inbl, use_mgr_cmd);
                            }
                            session = Some((c, inc, map.active_gid));
                        }
                        Err(e) => {
                            warn!(mgr = %addr, "cannot connect to the active mgr: {e}");
                            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                            continue;
                        }
                    }
                }
            }
        }
        let use_mgr_cmd = mgrmap
            .borrow()
            .as_ref()
            .map(|m| m.active_mgr_features & SERVER_OCTOPUS != 0)
            .unwrap_or(true);
        tokio::select! {
            r = rx.recv() => {
                let Some(r) = r else { return };
                let tid = next_tid;
                next_tid += 1;
                if let Some((c, _, _)) = &session {
                    send(c, tid, &r.cmd, &r.inbl, use_mgr_cmd);
                }
                pending.insert(tid, (r.cmd, r.inbl, r.reply));
            }
            changed = mgrmap.changed() => {
                if changed.is_err() { return }
                let gid = mgrmap.borrow().as_ref().map(|m| m.active_gid);
                if session.as_ref().map(|s| Some(s.2) != gid).unwrap_or(false) {
                    debug!("active mgr changed; reconnecting");
                    session = None;
                }
            }
            m = async {
                match session.as_mut() {
                    Some((_, inc, _)) => inc.recv().await,
                    None => std::future::pending().await,
                }
            } => {
                match m {
                    None => { session = None; }
                    Some(m) => {
                        let reply = match m.header.ty {
                            mt::MGR_COMMAND_REPLY => MgrCommandReply::from_raw(&m).map(|r| CommandReply { r: r.r, rs: r.rs, outbl: r.outbl }),
                            mt::COMMAND_REPLY => MCommandReply::from_raw(&m).map(|r| CommandReply { r: r.r, rs: r.rs, outbl: r.outbl }),
                            _ => continue,
                        };
                        match reply {
                            Ok(r) => {
                                if let Some((_, _, tx)) = pending.remove(&m.header.tid) {
                                    let _ = tx.send(r);
                                }
                            }
                            Err(e) => warn!("bad reply from mgr: {e}"),
                        }
                    }
                }
            }
        }
    }
}

fn send(c: &Connection, tid: u64, cmd: &[String], inbl: &Bytes, mgr_cmd: bool) {
    // The all-zero fsid marks a CLI command rather than a `tell`.
    let raw = if mgr_cmd {
        MgrCommand { fsid: Uuid::default(), cmd: cmd.to_vec(), inbl: inbl.clone() }.to_raw(tid, PACIFIC_SUPPORTED)
    } else {
        Command { fsid: Uuid::default(), cmd: cmd.to_vec(), inbl: inbl.clone() }.to_raw(tid, PACIFIC_SUPPORTED)
    };
    let _ = c.send(raw);
}
