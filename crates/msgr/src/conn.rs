//! The client side of a msgr2 session (`ProtocolV2::start_client_banner_exchange`
//! and onwards).

use crate::frame::{secure_pair, RxCodec, Tag, TxCodec};
use crate::{Error, Result, BANNER_MAGIC, MSGR2_FEATURE_REVISION_1};
use auth::client::Authorizer;
use auth::{CephxClient, CryptoKey};
use bytes::{BufMut, Bytes, BytesMut};
use denc::{Decode, Encode, Encoder, Reader, Utime};
use messages::{MsgHeader, RawMessage};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tracing::{debug, trace, warn};
use types::features::{MSGR2_REQUIRED, PACIFIC_SUPPORTED};
use types::{AddrType, EntityAddr, EntityAddrVec, EntityType};

/// How to authenticate on this connection.
#[derive(Clone)]
pub enum ClientAuth {
    /// cephx to a monitor: challenge, session key and tickets.
    MonCephx(Arc<Mutex<CephxClient>>),
    /// cephx authorizer for a service (OSD, MGR, MDS) using a ticket we hold.
    Authorizer(Arc<Mutex<CephxClient>>, EntityType),
    /// `auth_client_required = none`.
    None(types::EntityName),
}

#[derive(Clone)]
pub struct ConnectOptions {
    pub my_type: EntityType,
    pub auth: ClientAuth,
    /// Preferred connection modes in order (`CON_MODE_SECURE`, `CON_MODE_CRC`).
    pub modes: Vec<u32>,
    pub lossy: bool,
    /// Our messenger nonce (random per process, like Ceph's).
    pub nonce: u32,
    /// Seconds between KEEPALIVE2 frames; 0 disables them.
    pub keepalive_secs: u64,
    /// Our global id once authenticated (-1 before): sent in CLIENT_IDENT so
    /// OSDs and mgrs know us as `client.<gid>`.
    pub gid: i64,
    /// Addresses to announce in CLIENT_IDENT (a daemon's bound public
    /// addresses); None announces the address the peer saw us connect from.
    pub my_addrs: Option<EntityAddrVec>,
}

/// What the session learned about its peer.
#[derive(Debug, Clone)]
pub struct PeerInfo {
    pub peer_type: EntityType,
    pub peer_addrs: EntityAddrVec,
    pub peer_gid: i64,
    pub features: u64,
    /// Our address as the peer sees it (from its HELLO).
    pub my_addr: EntityAddr,
    pub global_id: u64,
    pub con_mode: u32,
}

enum Out {
    Msg(RawMessage),
    KeepaliveAck(Utime),
    Ack,
}

/// A live session. Cloning shares it; dropping every clone (and the receiver)
/// closes it.
#[derive(Clone)]
pub struct Connection {
    tx: mpsc::UnboundedSender<Out>,
    pub info: Arc<PeerInfo>,
    pub target: EntityAddr,
    closed_reason: Arc<Mutex<Option<String>>>,
    /// When we last heard anything from the peer (ms since the session began).
    last_rx_ms: Arc<AtomicU64>,
    started: std::time::Instant,
}

/// Messages arriving on a session; `None` from `recv` means it closed.
pub type Incoming = mpsc::UnboundedReceiver<RawMessage>;

/// What was sent on a [`Connection::capture`] connection.
pub struct Captured(mpsc::UnboundedReceiver<Out>);

impl Captured {
    pub fn drain(&mut self) -> Vec<RawMessage> {
        let mut out = Vec::new();
        while let Ok(o) = self.0.try_recv() {
            if let Out::Msg(m) = o {
                out.push(m);
            }
        }
        out
    }
}

impl Connection {
    /// A connection that goes nowhere: what is sent on it is kept for
    /// [`Captured::drain`]. A mon runs a message another mon forwarded on one
    /// and sends back what it answered.
    pub fn capture(info: PeerInfo, target: EntityAddr) -> (Connection, Captured) {
        let (tx, rx) = mpsc::unbounded_channel();
        let conn = Connection { tx, info: Arc::new(info), target, closed_reason: Arc::new(Mutex::new(None)), last_rx_ms: Arc::new(AtomicU64::new(0)), started: std::time::Instant::now() };
        (conn, Captured(rx))
    }

    /// Queues a message. Sequence numbers and acks are filled in by the writer.
    pub fn send(&self, m: RawMessage) -> Result<()> {
        self.tx.send(Out::Msg(m)).map_err(|_| Error::Closed)
    }
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed() || self.closed_reason.lock().map(|g| g.is_some()).unwrap_or(true)
    }
    /// Time since the peer last sent anything (frames, keepalive acks).
    pub fn idle(&self) -> std::time::Duration {
        let now = self.started.elapsed().as_millis() as u64;
        std::time::Duration::from_millis(now.saturating_sub(self.last_rx_ms.load(Ordering::Relaxed)))
    }
    pub fn close_reason(&self) -> Option<String> {
        self.closed_reason.lock().ok().and_then(|g| g.clone())
    }
}

pub(crate) struct Handshake {
    pub(crate) rd: OwnedReadHalf,
    pub(crate) wr: OwnedWriteHalf,
    pub(crate) rx: RxCodec,
    pub(crate) tx: TxCodec,
    /// Every byte sent and received up to AUTH_DONE, for the pre-auth signatures.
    pub(crate) sent: Vec<u8>,
    pub(crate) recvd: Vec<u8>,
    pub(crate) recording: bool,
}

impl Handshake {
    pub(crate) async fn send(&mut self, tag: Tag, payload: Bytes) -> Result<()> {
        let parts = self.tx.encode(tag, &[payload]);
        for p in &parts {
            if self.recording {
                self.sent.extend_from_slice(p);
            }
            self.wr.write_all(p).await?;
        }
        Ok(())
    }
    pub(crate) async fn recv(&mut self) -> Result<crate::frame::Frame> {
        let rec = if self.recording { Some(&mut self.recvd) } else { None };
        self.rx.read(&mut self.rd, rec).await
    }

    /// Both sides send the banner (magic, le16 length, le64 supported, le64
    /// required) and check the peer's: msgr2.1 only, nothing required we lack.
    pub(crate) async fn exchange_banners(&mut self, peer: &str) -> Result<()> {
        let mut banner = BytesMut::with_capacity(26);
        banner.put_slice(BANNER_MAGIC);
        banner.put_u16_le(16);
        banner.put_u64_le(MSGR2_FEATURE_REVISION_1);
        banner.put_u64_le(0);
        self.sent.extend_from_slice(&banner);
        self.wr.write_all(&banner).await?;
        let mut magic = [0u8; 8];
        self.rd.read_exact(&mut magic).await?;
        self.recvd.extend_from_slice(&magic);
        if &magic != BANNER_MAGIC {
            if magic.starts_with(b"ceph v0") {
                return Err(Error::Protocol(format!("{peer} speaks msgr1 only; use its v2 address")));
            }
            return Err(Error::Protocol(format!("{peer} is not a Ceph msgr2 endpoint")));
        }
        let mut lenb = [0u8; 2];
        self.rd.read_exact(&mut lenb).await?;
        self.recvd.extend_from_slice(&lenb);
        let blen = u16::from_le_bytes(lenb) as usize;
        if !(16..=4096).contains(&blen) {
            return Err(Error::Protocol(format!("bad msgr2 banner length {blen} from {peer}")));
        }
        let mut bp = vec![0u8; blen];
        self.rd.read_exact(&mut bp).await?;
        self.recvd.extend_from_slice(&bp);
        let peer_supported = u64::from_le_bytes(bp[0..8].try_into().expect("8"));
        let peer_required = u64::from_le_bytes(bp[8..16].try_into().expect("8"));
        if peer_required & !MSGR2_FEATURE_REVISION_1 != 0 {
            return Err(Error::Protocol(format!("{peer} requires msgr2 features {peer_required:#x} we lack")));
        }
        if peer_supported & MSGR2_FEATURE_REVISION_1 == 0 {
            return Err(Error::Protocol(format!("{peer} only speaks msgr2.0 (pre-Octopus); not supported")));
        }
        Ok(())
    }

    /// After AUTH_DONE: stop recording, switch to secure mode if chosen, then
    /// the pre-auth signatures: each side signs what it received and checks the
    /// peer signed what it sent.
    pub(crate) async fn finish_auth(&mut self, con_mode: u32, secret: &[u8], key: Option<&CryptoKey>, is_server: bool) -> Result<()> {
        self.recording = false;
        if con_mode == auth::CON_MODE_SECURE {
            let (tx, rx) = secure_pair(secret, is_server)?;
            self.tx = TxCodec::Secure(tx);
            self.rx = RxCodec::Secure(rx);
        }
        let sign = |data: &[u8]| key.map(|k| k.hmac_sha256(data)).unwrap_or([0u8; 32]);
        let sig = sign(&self.recvd);
        self.send(Tag::AuthSignature, Bytes::copy_from_slice(&sig)).await?;
        let f = self.recv().await?;
        if f.tag != Tag::AuthSignature {
            return Err(Error::Protocol(format!("expected AUTH_SIGNATURE, got {:?}", f.tag)));
        }
        if f.payload()[..] != sign(&self.sent)[..] {
            return Err(Error::Auth("pre-auth signature mismatch: someone altered the handshake".into()));
        }
        self.sent = Vec::new();
        self.recvd = Vec::new();
        Ok(())
    }
}

pub(crate) fn enc(f: impl FnOnce(&mut Encoder)) -> Bytes {
    let mut e = Encoder::new(PACIFIC_SUPPORTED);
    f(&mut e);
    e.into_bytes()
}

/// Opens a session to `target` (a v2 address) and runs the handshake.
pub async fn connect(target: EntityAddr, opts: ConnectOptions) -> Result<(Connection, Incoming)> {
    let sa: SocketAddr = target.addr.ok_or_else(|| Error::Protocol("target address has no IP".into()))?;
    if target.ty != AddrType::Msgr2 && target.ty != AddrType::Any {
        return Err(Error::Protocol(format!("{target} is not a msgr2 address")));
    }
    let sock = TcpStream::connect(sa).await?;
    sock.set_nodelay(true)?;
    let (rd, wr) = sock.into_split();
    let mut h = Handshake { rd, wr, rx: RxCodec::Crc, tx: TxCodec::Crc, sent: Vec::new(), recvd: Vec::new(), recording: true };

    h.exchange_banners(&target.to_string()).await?;

    // HELLO: our type and the address we dialed.
    h.send(Tag::Hello, enc(|e| {
        e.u8(opts.my_type.0 as u8);
        target.encode(e);
    }))
    .await?;
    let f = h.recv().await?;
    if f.tag != Tag::Hello {
        return Err(Error::Protocol(format!("expected HELLO, got {:?}", f.tag)));
    }
    let mut r = Reader::new(f.payload().clone());
    let peer_type = EntityType(r.u8()? as u32);
    let mut my_addr = EntityAddr::decode(&mut r)?;
    trace!(%target, peer = %peer_type, %my_addr, "hello");

    // AUTH
    let (global_id, con_mode, session_key, conn_secret) = authenticate(&mut h, &opts).await?;
    h.finish_auth(con_mode, &conn_secret, session_key.as_ref(), false).await?;

    // IDENT
    my_addr.ty = AddrType::Any;
    my_addr.nonce = opts.nonce;
    if let Some(a) = my_addr.addr.as_mut() {
        a.set_port(0);
    }
    let client_cookie: u64 = rand::random::<u64>() | 1;
    let announce = opts.my_addrs.clone().unwrap_or_else(|| EntityAddrVec::single(my_addr));
    h.send(Tag::ClientIdent, enc(|e| {
        announce.encode(e);
        target.encode(e);
        e.i64(opts.gid);
        e.u64(1); // global_seq
        e.u64(PACIFIC_SUPPORTED);
        e.u64(MSGR2_REQUIRED);
        e.u64(if opts.lossy { 1 } else { 0 });
        e.u64(client_cookie);
    }))
    .await?;
    let f = h.recv().await?;
    let (peer_addrs, peer_gid, features) = match f.tag {
        Tag::ServerIdent => {
            let mut r = Reader::new(f.payload().clone());
            let addrs = EntityAddrVec::decode(&mut r)?;
            let gid = r.i64()?;
            let _gseq = r.u64()?;
            let supported = r.u64()?;
            let required = r.u64()?;
            let _flags = r.u64()?;
            let _cookie = r.u64()?;
            if required & !PACIFIC_SUPPORTED != 0 {
                return Err(Error::Protocol(format!("peer requires features {:#x} we lack", required & !PACIFIC_SUPPORTED)));
            }
            if !addrs.0.iter().any(|a| a.addr == target.addr) {
                warn!(%target, %addrs, "peer identifies with addresses that do not include the one we dialed");
            }
            (addrs, gid, supported & PACIFIC_SUPPORTED)
        }
        Tag::IdentMissingFeatures => {
            let missing = Reader::new(f.payload().clone()).u64()?;
            return Err(Error::Protocol(format!("peer says we lack required features {missing:#x}")));
        }
        Tag::Wait => return Err(Error::Protocol("peer asked us to wait (connection race)".into())),
        t => return Err(Error::Protocol(format!("expected SERVER_IDENT, got {t:?}"))),
    };
    debug!(%target, peer = %peer_type, gid = peer_gid, global_id, mode = con_mode, "session established");

    let info = Arc::new(PeerInfo { peer_type, peer_addrs, peer_gid, features, my_addr, global_id, con_mode });
    Ok(spawn_session(h, info, target, opts.keepalive_secs))
}

/// Starts the reader and writer tasks of an established session.
pub(crate) fn spawn_session(h: Handshake, info: Arc<PeerInfo>, target: EntityAddr, keepalive_secs: u64) -> (Connection, Incoming) {
    let (out_tx, out_rx) = mpsc::unbounded_channel();
    let (in_tx, in_rx) = mpsc::unbounded_channel();
    let in_seq = Arc::new(AtomicU64::new(0));
    let closed_reason = Arc::new(Mutex::new(None));
    let last_rx_ms = Arc::new(AtomicU64::new(0));
    let started = std::time::Instant::now();
    let conn = Connection { tx: out_tx.clone(), info, target, closed_reason: closed_reason.clone(), last_rx_ms: last_rx_ms.clone(), started };
    tokio::spawn(writer(h.wr, h.tx, out_rx, in_seq.clone(), keepalive_secs));
    // The reader only holds a weak sender to the writer: when every Connection
    // handle is gone the writer ends, shuts the socket, and the reader follows.
    let weak = out_tx.downgrade();
    drop(out_tx);
    tokio::spawn(reader(h.rd, h.rx, in_tx, weak, in_seq, closed_reason, last_rx_ms, started));
    (conn, in_rx)
}

/// Runs the AUTH phase; returns (global_id, con_mode, session key, connection secret).
async fn authenticate(h: &mut Handshake, opts: &ConnectOptions) -> Result<(u64, u32, Option<CryptoKey>, Bytes)> {
    let modes = opts.modes.clone();
    // For service connections the authorizer's nonce must survive a challenge round.
    let mut authorizer: Option<Authorizer> = match &opts.auth {
        ClientAuth::Authorizer(c, svc) => Some(lock(c).build_authorizer(*svc, None)?),
        _ => None,
    };
    let (method, first_payload) = match &opts.auth {
        ClientAuth::MonCephx(c) => (auth::AUTH_CEPHX, lock(c).mon_request()),
        ClientAuth::Authorizer(..) => (auth::AUTH_CEPHX, authorizer.as_ref().map(|a| a.payload.clone()).unwrap_or_default()),
        ClientAuth::None(name) => (
            auth::AUTH_NONE,
            enc(|e| {
                e.u8(auth::AUTH_MODE_MON);
                name.encode(e);
                e.u64(0);
            }),
        ),
    };
    h.send(Tag::AuthRequest, enc(|e| {
        e.u32(method);
        modes.encode(e);
        e.bufferlist(&first_payload);
    }))
    .await?;
    loop {
        let f = h.recv().await?;
        let mut r = Reader::new(f.payload().clone());
        match f.tag {
            Tag::AuthReplyMore => {
                let more = r.bufferlist()?;
                let reply = match &opts.auth {
                    ClientAuth::MonCephx(c) => lock(c).handle_server_challenge(&more)?,
                    ClientAuth::Authorizer(c, _) => {
                        let a = authorizer.as_ref().ok_or_else(|| Error::Protocol("no authorizer".into()))?;
                        let na = lock(c).answer_authorizer_challenge(a, &more)?;
                        let p = na.payload.clone();
                        authorizer = Some(na);
                        p
                    }
                    ClientAuth::None(_) => return Err(Error::Protocol("unexpected AUTH_REPLY_MORE for auth none".into())),
                };
                h.send(Tag::AuthRequestMore, enc(|e| e.bufferlist(&reply))).await?;
            }
            Tag::AuthDone => {
                let global_id = r.u64()?;
                let con_mode = r.u32()?;
                let payload = r.bufferlist()?;
                if !modes.contains(&con_mode) {
                    return Err(Error::Protocol(format!("server chose connection mode {con_mode} we did not offer")));
                }
                tracing::trace!(payload = ?payload, "AUTH_DONE payload");
                let (key, secret) = match &opts.auth {
                    ClientAuth::MonCephx(c) => {
                        let (k, s) = lock(c).handle_auth_done(global_id, &payload)?;
                        (Some(k), s)
                    }
                    ClientAuth::Authorizer(_, _) => {
                        let a = authorizer.as_ref().ok_or_else(|| Error::Protocol("no authorizer".into()))?;
                        let s = CephxClient::verify_authorizer_reply(a, &payload)?;
                        (Some(a.session_key.clone()), s)
                    }
                    ClientAuth::None(_) => (None, Bytes::new()),
                };
                return Ok((global_id, con_mode, key, secret));
            }
            Tag::AuthBadMethod => {
                let method = r.u32()?;
                let result = r.i32()?;
                let allowed: Vec<u32> = Decode::decode(&mut r)?;
                let allowed_modes: Vec<u32> = Decode::decode(&mut r)?;
                debug!(method, result, ?allowed, ?allowed_modes, "AUTH_BAD_METHOD");
                let errno = if result < 0 { -result } else { 13 };
                let reason = if errno == 1 || errno == 13 {
                    "Permission denied".to_string()
                } else {
                    std::io::Error::from_raw_os_error(errno).to_string()
                };
                return Err(Error::AuthRejected { errno, reason: format!("server refused auth method {method} (allowed methods {allowed:?}, modes {allowed_modes:?}): {reason}") });
            }
            t => return Err(Error::Protocol(format!("unexpected {t:?} during authentication"))),
        }
    }
}

fn lock(c: &Arc<Mutex<CephxClient>>) -> std::sync::MutexGuard<'_, CephxClient> {
    // A panic while holding this lock cannot leave cephx state half-written in a
    // way that matters more than losing the connection, so recover the guard.
    c.lock().unwrap_or_else(|p| p.into_inner())
}

/// Writes a frame's parts with vectored writes: one syscall for the common case
/// (no tiny writes on a TCP_NODELAY socket) and no copy of the payloads.
async fn write_parts(wr: &mut OwnedWriteHalf, mut parts: Vec<Bytes>) -> std::io::Result<()> {
    use bytes::Buf;
    let mut first = 0;
    while first < parts.len() {
        let slices: Vec<std::io::IoSlice<'_>> = parts[first..].iter().map(|p| std::io::IoSlice::new(p)).collect();
        let mut n = wr.write_vectored(&slices).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        while n > 0 && first < parts.len() {
            let len = parts[first].len();
            if n >= len {
                n -= len;
                first += 1;
            } else {
                parts[first].advance(n);
                n = 0;
            }
        }
        while first < parts.len() && parts[first].is_empty() {
            first += 1;
        }
    }
    Ok(())
}

async fn writer(
    mut wr: OwnedWriteHalf,
    mut tx: TxCodec,
    mut out: mpsc::UnboundedReceiver<Out>,
    in_seq: Arc<AtomicU64>,
    keepalive_secs: u64,
) {
    let mut out_seq = 0u64;
    let mut acked = 0u64;
    let period = std::time::Duration::from_secs(keepalive_secs.max(1));
    let mut ka = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    loop {
        let item = tokio::select! {
            m = out.recv() => match m { Some(m) => m, None => break },
            _ = ka.tick(), if keepalive_secs > 0 => {
                let stamp = Utime::now();
                let parts = tx.encode(Tag::Keepalive2, &[enc(|e| stamp.encode(e))]);
                if write_parts(&mut wr, parts).await.is_err() { break }
                continue;
            }
        };
        let parts = match item {
            Out::Msg(mut m) => {
                out_seq += 1;
                let ack = in_seq.load(Ordering::Acquire);
                m.header.seq = out_seq;
                m.header.ack_seq = ack;
                acked = ack;
                let hdr = m.header.encode();
                tx.encode(Tag::Message, &[hdr, m.front, m.middle, m.data])
            }
            Out::KeepaliveAck(stamp) => tx.encode(Tag::Keepalive2Ack, &[enc(|e| stamp.encode(e))]),
            Out::Ack => {
                let seq = in_seq.load(Ordering::Acquire);
                if seq <= acked {
                    continue;
                }
                acked = seq;
                tx.encode(Tag::Ack, &[enc(|e| e.u64(seq))])
            }
        };
        if let Err(e) = write_parts(&mut wr, parts).await {
            debug!("write failed: {e}");
            break;
        }
    }
    let _ = wr.shutdown().await;
}

#[allow(clippy::too_many_arguments)]
async fn reader(
    mut rd: OwnedReadHalf,
    mut rx: RxCodec,
    deliver: mpsc::UnboundedSender<RawMessage>,
    out: mpsc::WeakUnboundedSender<Out>,
    in_seq: Arc<AtomicU64>,
    closed_reason: Arc<Mutex<Option<String>>>,
    last_rx_ms: Arc<AtomicU64>,
    started: std::time::Instant,
) {
    let reason = loop {
        let f = match rx.read(&mut rd, None).await {
            Ok(f) => f,
            Err(Error::Io(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => break "peer closed the connection".to_string(),
            Err(e) => break e.to_string(),
        };
        last_rx_ms.store(started.elapsed().as_millis() as u64, Ordering::Relaxed);
        let Some(out) = out.upgrade() else { break "connection dropped".to_string() };
        match f.tag {
            Tag::Message => {
                let [h, front, middle, data] = f.segments;
                let header = match MsgHeader::decode(h) {
                    Ok(h) => h,
                    Err(e) => break format!("bad message header: {e}"),
                };
                let last = in_seq.load(Ordering::Acquire);
                if header.seq <= last {
                    trace!(seq = header.seq, last, "dropping old message");
                    continue;
                }
                in_seq.store(header.seq, Ordering::Release);
                trace!(ty = header.ty, seq = header.seq, tid = header.tid, "recv message");
                if deliver.send(RawMessage { header, front, middle, data }).is_err() {
                    break "receiver dropped".to_string();
                }
                let _ = out.send(Out::Ack);
            }
            Tag::Keepalive2 => {
                let stamp = Utime::decode(&mut Reader::new(f.payload().clone())).unwrap_or_default();
                let _ = out.send(Out::KeepaliveAck(stamp));
            }
            Tag::Keepalive2Ack | Tag::Ack => {}
            Tag::SessionReset | Tag::SessionRetry | Tag::SessionRetryGlobal => {
                break format!("peer sent {:?}", f.tag);
            }
            t => break format!("unexpected frame {t:?} in an established session"),
        }
    };
    debug!("session reader ends: {reason}");
    if let Ok(mut g) = closed_reason.lock() {
        *g = Some(reason);
    }
}
