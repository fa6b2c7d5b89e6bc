//! The accepting side of a msgr2 session (`ProtocolV2` server states): banner,
//! HELLO, AUTH driven by an [`AuthServer`], pre-auth signatures, CLIENT_IDENT /
//! SERVER_IDENT, then the same MESSAGE/ACK/KEEPALIVE traffic as the client side.

use crate::conn::{enc, spawn_session, Handshake, PeerInfo};
use crate::frame::{RxCodec, Tag, TxCodec};
use crate::{Connection, Error, Incoming, Result};
use auth::CryptoKey;
use bytes::Bytes;
use denc::{Decode, Encode, Reader};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tracing::{debug, trace};
use types::features::{MSGR2_REQUIRED, PACIFIC_SUPPORTED};
use types::{AddrType, EntityAddr, EntityAddrVec, EntityType};

/// One step of the AUTH phase as the service decides it.
pub enum AuthStep<I> {
    /// AUTH_REPLY_MORE with this payload.
    More(Bytes),
    /// AUTH_DONE.
    Done(AuthAccepted<I>),
    /// AUTH_BAD_METHOD with this errno (negative) and what we would accept.
    Reject { errno: i32, reason: String, allowed_methods: Vec<u32>, allowed_modes: Vec<u32> },
}

pub struct AuthAccepted<I> {
    pub global_id: u64,
    pub con_mode: u32,
    pub reply: Bytes,
    /// Signs the handshake (None for auth none).
    pub session_key: Option<CryptoKey>,
    pub connection_secret: Bytes,
    /// Who the peer proved to be, as the service wants to remember it.
    pub identity: I,
}

/// The service's side of authentication. `State` lives for one handshake.
pub trait AuthServer: Send + Sync + 'static {
    type State: Default + Send;
    type Identity: Clone + Send + Sync + 'static;
    /// AUTH_REQUEST: method, the peer's preferred connection modes, payload.
    fn auth_request(&self, st: &mut Self::State, peer_type: EntityType, method: u32, modes: &[u32], payload: &Bytes) -> AuthStep<Self::Identity>;
    /// AUTH_REQUEST_MORE.
    fn auth_more(&self, st: &mut Self::State, payload: &Bytes) -> AuthStep<Self::Identity>;
    /// Whether to take new sessions now (a mon out of quorum hangs up, so
    /// clients hunt for another).
    fn accepting(&self) -> bool {
        true
    }
}

/// Picks the first of the peer's preferred modes that we allow (`AuthRegistry::pick_mode`).
pub fn pick_mode(preferred: &[u32], allowed: &[u32]) -> Option<u32> {
    preferred.iter().copied().find(|m| allowed.contains(m))
}

/// An accepted, established session.
pub struct Accepted<I> {
    pub conn: Connection,
    pub incoming: Incoming,
    pub identity: I,
}

/// What a listener says about itself in SERVER_IDENT.
#[derive(Clone)]
pub struct ServerOptions {
    pub my_type: EntityType,
    pub my_addrs: EntityAddrVec,
    /// Our global id (the mon's rank-based id, an OSD's number...).
    pub my_gid: i64,
    /// Whether sessions with clients are lossy (Ceph's policy for mons and OSDs).
    pub lossy_clients: bool,
    /// Abandon handshakes that take longer than this.
    pub handshake_timeout: Duration,
    pub keepalive_secs: u64,
}

/// Binds `addr` and runs `on_session` for every established session. The
/// listener runs until the returned task is aborted.
pub async fn listen<A, F, Fut>(addr: std::net::SocketAddr, opts: ServerOptions, auth: Arc<A>, on_session: F) -> Result<tokio::task::JoinHandle<()>>
where
    A: AuthServer,
    F: Fn(Accepted<A::Identity>) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let l = TcpListener::bind(addr).await?;
    let on_session = Arc::new(on_session);
    Ok(tokio::spawn(async move {
        loop {
            let (sock, peer) = match l.accept().await {
                Ok(x) => x,
                Err(e) => {
                    debug!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            if !auth.accepting() {
                debug!(%peer, "not taking sessions now");
                drop(sock);
                continue;
            }
            let opts = opts.clone();
            let auth = auth.clone();
            let on_session = on_session.clone();
            tokio::spawn(async move {
                let t = opts.handshake_timeout;
                match tokio::time::timeout(t, accept(sock, peer, &opts, &*auth)).await {
                    Ok(Ok(a)) => on_session(a).await,
                    Ok(Err(e)) => debug!(%peer, "handshake failed: {e}"),
                    Err(_) => debug!(%peer, "handshake timed out"),
                }
            });
        }
    }))
}

/// Runs the server side of the handshake on an accepted socket.
pub async fn accept<A: AuthServer>(sock: TcpStream, peer: std::net::SocketAddr, opts: &ServerOptions, auth: &A) -> Result<Accepted<A::Identity>> {
    sock.set_nodelay(true)?;
    let (rd, wr) = sock.into_split();
    let mut h = Handshake { rd, wr, rx: RxCodec::Crc, tx: TxCodec::Crc, sent: Vec::new(), recvd: Vec::new(), recording: true };
    h.exchange_banners(&peer.to_string()).await?;

    let f = h.recv().await?;
    if f.tag != Tag::Hello {
        return Err(Error::Protocol(format!("expected HELLO, got {:?}", f.tag)));
    }
    let mut r = Reader::new(f.payload().clone());
    let peer_type = EntityType(r.u8()? as u32);
    let _dialed = EntityAddr::decode(&mut r)?;
    let seen = EntityAddr::new(AddrType::Msgr2, peer, 0);
    h.send(Tag::Hello, enc(|e| {
        e.u8(opts.my_type.0 as u8);
        seen.encode(e);
    }))
    .await?;

    // AUTH
    let mut st = A::State::default();
    let f = h.recv().await?;
    if f.tag != Tag::AuthRequest {
        return Err(Error::Protocol(format!("expected AUTH_REQUEST, got {:?}", f.tag)));
    }
    let mut r = Reader::new(f.payload().clone());
    let method = r.u32()?;
    let modes: Vec<u32> = Decode::decode(&mut r)?;
    let payload = r.bufferlist()?;
    let mut step = auth.auth_request(&mut st, peer_type, method, &modes, &payload);
    let done = loop {
        match step {
            AuthStep::More(p) => {
                h.send(Tag::AuthReplyMore, enc(|e| e.bufferlist(&p))).await?;
                let f = h.recv().await?;
                if f.tag != Tag::AuthRequestMore {
                    return Err(Error::Protocol(format!("expected AUTH_REQUEST_MORE, got {:?}", f.tag)));
                }
                let p = Reader::new(f.payload().clone()).bufferlist()?;
                step = auth.auth_more(&mut st, &p);
            }
            AuthStep::Reject { errno, reason, allowed_methods, allowed_modes } => {
                debug!(%peer, errno, "refusing authentication: {reason}");
                h.send(Tag::AuthBadMethod, enc(|e| {
                    e.u32(method);
                    e.i32(errno);
                    allowed_methods.encode(e);
                    allowed_modes.encode(e);
                }))
                .await?;
                // Give the peer a moment to read the refusal before we hang up.
                let _ = tokio::time::timeout(Duration::from_secs(1), h.recv()).await;
                return Err(Error::AuthRejected { errno: -errno, reason });
            }
            AuthStep::Done(d) => break d,
        }
    };
    h.send(Tag::AuthDone, enc(|e| {
        e.u64(done.global_id);
        e.u32(done.con_mode);
        e.bufferlist(&done.reply);
    }))
    .await?;
    h.finish_auth(done.con_mode, &done.connection_secret, done.session_key.as_ref(), true).await?;

    // IDENT (a reconnect attempt is answered with a reset: we keep no session
    // state across connections, so the peer starts over).
    let (peer_addrs, peer_gid, features, flags, cookie) = loop {
        let f = h.recv().await?;
        match f.tag {
            Tag::ClientIdent => {
                let mut r = Reader::new(f.payload().clone());
                let addrs = EntityAddrVec::decode(&mut r)?;
                let _target = EntityAddr::decode(&mut r)?;
                let gid = r.i64()?;
                let _gseq = r.u64()?;
                let supported = r.u64()?;
                let required = r.u64()?;
                let flags = r.u64()?;
                let cookie = r.u64()?;
                let missing = required & !PACIFIC_SUPPORTED;
                if missing != 0 {
                    h.send(Tag::IdentMissingFeatures, enc(|e| e.u64(missing))).await?;
                    return Err(Error::Protocol(format!("{peer} requires features {missing:#x}")));
                }
                let missing = MSGR2_REQUIRED & !supported;
                if missing != 0 {
                    h.send(Tag::IdentMissingFeatures, enc(|e| e.u64(missing))).await?;
                    return Err(Error::Protocol(format!("{peer} lacks features {missing:#x}")));
                }
                break (addrs, gid, supported & PACIFIC_SUPPORTED, flags, cookie);
            }
            Tag::SessionReconnect => {
                trace!(%peer, "reconnect for a session we do not have: reset");
                h.send(Tag::SessionReset, enc(|e| e.bool(true))).await?;
            }
            t => return Err(Error::Protocol(format!("expected CLIENT_IDENT, got {t:?}"))),
        }
    };
    let lossy = opts.lossy_clients && peer_type == EntityType::CLIENT || flags & 1 != 0;
    h.send(Tag::ServerIdent, enc(|e| {
        opts.my_addrs.encode(e);
        e.i64(opts.my_gid);
        e.u64(1);
        e.u64(PACIFIC_SUPPORTED);
        e.u64(MSGR2_REQUIRED);
        e.u64(if lossy { 1 } else { 0 });
        e.u64(cookie);
    }))
    .await?;
    // Peers that bind no address (clients) are known by the one we saw plus their nonce.
    let mut peer_addrs = peer_addrs;
    for a in peer_addrs.0.iter_mut() {
        if a.is_blank_ip() {
            let nonce = a.nonce;
            *a = EntityAddr::new(AddrType::Any, peer, nonce);
        }
    }
    debug!(%peer, peer_type = %peer_type, gid = done.global_id, mode = done.con_mode, "accepted session");
    let my_addr = opts.my_addrs.0.first().cloned().unwrap_or_else(|| EntityAddr::new(AddrType::Msgr2, peer, 0));
    let info = Arc::new(PeerInfo {
        peer_type,
        peer_addrs: peer_addrs.clone(),
        peer_gid,
        features,
        my_addr,
        global_id: done.global_id,
        con_mode: done.con_mode,
    });
    let target = peer_addrs.0.first().cloned().unwrap_or(seen);
    let (conn, incoming) = spawn_session(h, info, target, opts.keepalive_secs);
    Ok(Accepted { conn, incoming, identity: done.identity })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{connect, ClientAuth, ConnectOptions};
    use auth::server::{handle_authenticate, new_challenge, verify_authorizer, AuthorizerOutcome, EntityAuth, KeyServer};
    use auth::CephxClient;
    use messages::RawMessage;
    use std::sync::Mutex;
    use tokio::io::AsyncWriteExt;
    use types::EntityName;

    /// A minimal cephx service: mon mode for AUTH_MODE_MON, authorizers otherwise.
    struct Svc(KeyServer);
    #[derive(Default)]
    struct St {
        name: Option<EntityName>,
        challenge: Option<u64>,
        authorizer_challenge: Option<u64>,
        modes: Vec<u32>,
    }
    impl AuthServer for Svc {
        type State = St;
        type Identity = EntityName;
        fn auth_request(&self, st: &mut St, _: EntityType, method: u32, modes: &[u32], payload: &Bytes) -> AuthStep<EntityName> {
            st.modes = modes.to_vec();
            let mut r = Reader::new(payload.clone());
            if method != auth::AUTH_CEPHX {
                return AuthStep::Reject { errno: -95, reason: "cephx only".into(), allowed_methods: vec![2], allowed_modes: vec![1, 2] };
            }
            match r.u8() {
                Ok(auth::AUTH_MODE_MON) => {
                    st.name = EntityName::decode(&mut r).ok();
                    let (c, p) = new_challenge();
                    st.challenge = Some(c);
                    AuthStep::More(p)
                }
                _ => self.auth_more(st, payload),
            }
        }
        fn auth_more(&self, st: &mut St, payload: &Bytes) -> AuthStep<EntityName> {
            let mode = pick_mode(&st.modes, &[1, 2]).unwrap_or(1);
            let len = if mode == 2 { 64 } else { 0 };
            if let (Some(n), Some(c)) = (st.name.clone(), st.challenge) {
                return match handle_authenticate(&self.0, &n, 4242, c, payload, len, auth::server::Ttls::both(600.0)) {
                    Ok(a) => AuthStep::Done(AuthAccepted { global_id: 4242, con_mode: mode, reply: a.reply, session_key: Some(a.session_key), connection_secret: a.connection_secret, identity: n }),
                    Err((errno, reason)) => AuthStep::Reject { errno, reason, allowed_methods: vec![2], allowed_modes: vec![1, 2] },
                };
            }
            match verify_authorizer(&self.0, 4, payload, &mut st.authorizer_challenge, len) {
                Ok(AuthorizerOutcome::Challenge(p)) => AuthStep::More(p),
                Ok(AuthorizerOutcome::Accepted { name, global_id, session_key, connection_secret, reply, .. }) => {
                    AuthStep::Done(AuthAccepted { global_id, con_mode: mode, reply, session_key: Some(session_key), connection_secret, identity: name })
                }
                Err(e) => AuthStep::Reject { errno: -13, reason: e.to_string(), allowed_methods: vec![2], allowed_modes: vec![1, 2] },
            }
        }
    }

    async fn echo_server(ks: KeyServer) -> std::net::SocketAddr {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let opts = ServerOptions {
            my_type: EntityType::OSD,
            my_addrs: EntityAddrVec::single(EntityAddr::v2(addr)),
            my_gid: 0,
            lossy_clients: true,
            handshake_timeout: Duration::from_secs(5),
            keepalive_secs: 0,
        };
        let svc = Arc::new(Svc(ks));
        tokio::spawn(async move {
            loop {
                let (s, p) = l.accept().await.unwrap();
                let (opts, svc) = (opts.clone(), svc.clone());
                tokio::spawn(async move {
                    if let Ok(mut a) = accept(s, p, &opts, &*svc).await {
                        while let Some(m) = a.incoming.recv().await {
                            let mut reply = RawMessage { header: m.header.clone(), front: m.front, middle: m.middle, data: Bytes::from(a.identity.to_string()) };
                            reply.header.ty = 99;
                            let _ = a.conn.send(reply);
                        }
                    }
                });
            }
        });
        addr
    }

    fn keys() -> (KeyServer, auth::CryptoKey) {
        let mut ks = KeyServer::default();
        let k = auth::CryptoKey::generate();
        ks.entities.insert(EntityName::client("admin"), EntityAuth { key: k.clone(), caps: Default::default() });
        ks.rotate(denc::Utime::now(), 3600.0);
        (ks, k)
    }

    #[tokio::test]
    async fn our_client_talks_to_our_server_in_both_modes_and_both_auth_kinds() {
        let (ks, k) = keys();
        let addr = echo_server(ks).await;
        let cx = Arc::new(Mutex::new(CephxClient::new(EntityName::client("admin"), k, 0x1 | 0x4)));
        for modes in [vec![auth::CON_MODE_CRC], vec![auth::CON_MODE_SECURE]] {
            let opts = ConnectOptions { my_type: EntityType::CLIENT, my_addrs: None, auth: ClientAuth::MonCephx(cx.clone()), modes: modes.clone(), lossy: true, nonce: 1, keepalive_secs: 0, gid: -1 };
            let (c, mut inc) = connect(EntityAddr::v2(addr), opts).await.unwrap();
            assert_eq!(c.info.global_id, 4242);
            assert_eq!(c.info.con_mode, modes[0]);
            let big = Bytes::from(vec![5u8; 3 << 20]);
            let mut m = RawMessage::default();
            m.header.ty = 1;
            m.front = big.clone();
            c.send(m).unwrap();
            let r = inc.recv().await.unwrap();
            assert_eq!(r.header.ty, 99);
            assert_eq!(r.front, big);
            assert_eq!(&r.data[..], b"client.admin");
            // Now as a service connection with the OSD ticket we were given.
            let opts = ConnectOptions { my_type: EntityType::CLIENT, my_addrs: None, auth: ClientAuth::Authorizer(cx.clone(), EntityType::OSD), modes, lossy: true, nonce: 2, keepalive_secs: 0, gid: 4242 };
            let (c, mut inc) = connect(EntityAddr::v2(addr), opts).await.unwrap();
            c.send(RawMessage::default()).unwrap();
            assert_eq!(&inc.recv().await.unwrap().data[..], b"client.admin");
        }
    }

    #[tokio::test]
    async fn wrong_keys_and_garbage_are_refused_and_the_server_keeps_serving() {
        let (ks, k) = keys();
        let addr = echo_server(ks).await;
        let bad = Arc::new(Mutex::new(CephxClient::new(EntityName::client("admin"), auth::CryptoKey::generate(), 0x1)));
        let opts = |c: &Arc<Mutex<CephxClient>>| ConnectOptions { my_type: EntityType::CLIENT, my_addrs: None, auth: ClientAuth::MonCephx(c.clone()), modes: vec![1], lossy: true, nonce: 1, keepalive_secs: 0, gid: -1 };
        match connect(EntityAddr::v2(addr), opts(&bad)).await {
            Err(Error::AuthRejected { errno, .. }) => assert_eq!(errno, 13),
            other => panic!("expected EACCES, got {:?}", other.map(|_| ())),
        }
        // Random bytes, a truncated frame, a huge length field.
        for junk in [b"GET / HTTP/1.1\r\n\r\n".to_vec(), b"ceph v2\n\x10".to_vec(), {
            let mut v = b"ceph v2\n\x10\x00".to_vec();
            v.extend_from_slice(&[1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
            v.extend_from_slice(&[1, 1, 0xff, 0xff, 0xff, 0x7f]);
            v
        }] {
            let mut s = TcpStream::connect(addr).await.unwrap();
            s.write_all(&junk).await.unwrap();
            drop(s);
        }
        let good = Arc::new(Mutex::new(CephxClient::new(EntityName::client("admin"), k, 0x1)));
        let (c, _) = connect(EntityAddr::v2(addr), opts(&good)).await.unwrap();
        assert_eq!(c.info.global_id, 4242);
    }
}
