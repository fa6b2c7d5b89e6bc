//! The server side of cephx (`CephxServiceHandler`, `KeyServer`, `cephx_verify_authorizer`):
//! the auth database (entity keys and caps), rotating service secrets, tickets
//! for clients, and checking the authorizers clients show to services.

use crate::crypto::CryptoKey;
use crate::proto::*;
use crate::{Error, Result};
use bytes::Bytes;
use denc::{Decode, Encode, Encoder, Reader, Utime};
use std::collections::BTreeMap;
use types::{EntityName, EntityType};

/// `CEPH_AUTH_UID_DEFAULT`.
const AUID_DEFAULT: u64 = u64::MAX;

/// One entity's secret and capabilities (`EntityAuth`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityAuth {
    pub key: CryptoKey,
    /// service ("mon", "osd", "mgr", "mds") → capability string.
    pub caps: BTreeMap<String, String>,
}

/// `ExpiringCryptoKey`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpiringKey {
    pub key: CryptoKey,
    pub expiration: Utime,
}
impl Encode for ExpiringKey {
    fn encode(&self, e: &mut Encoder) {
        e.u8(1);
        self.key.encode(e);
        self.expiration.encode(e);
    }
}
impl Decode for ExpiringKey {
    fn decode(r: &mut Reader) -> denc::Result<Self> {
        r.u8()?;
        Ok(ExpiringKey { key: CryptoKey::decode(r)?, expiration: Utime::decode(r)? })
    }
}

/// `RotatingSecrets`: a service's secrets by id; the newest are used for new tickets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RotatingSecrets {
    pub secrets: BTreeMap<u64, ExpiringKey>,
    pub max_ver: u64,
}
impl Encode for RotatingSecrets {
    fn encode(&self, e: &mut Encoder) {
        e.u8(1);
        e.u32(self.secrets.len() as u32);
        for (id, k) in &self.secrets {
            e.u64(*id);
            k.encode(e);
        }
        e.u64(self.max_ver);
    }
}
impl Decode for RotatingSecrets {
    fn decode(r: &mut Reader) -> denc::Result<Self> {
        r.u8()?;
        let n = r.count(8)?;
        let mut secrets = BTreeMap::new();
        for _ in 0..n {
            let id = r.u64()?;
            secrets.insert(id, ExpiringKey::decode(r)?);
        }
        Ok(RotatingSecrets { secrets, max_ver: r.u64()? })
    }
}

impl RotatingSecrets {
    /// The secret new tickets are sealed with: the middle one of (previous,
    /// current, next), as Ceph's `get_current`.
    fn current(&self) -> Option<(u64, &ExpiringKey)> {
        let mut it = self.secrets.iter();
        let first = it.next()?;
        Some(it.next().map(|(i, k)| (*i, k)).unwrap_or((*first.0, first.1)))
    }
}

/// `AuthTicket` v2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthTicket {
    pub name: EntityName,
    pub global_id: u64,
    pub created: Utime,
    pub expires: Utime,
    pub allow_all: bool,
    /// encode(string) of the capability for the ticket's service.
    pub caps: Bytes,
}
impl Encode for AuthTicket {
    fn encode(&self, e: &mut Encoder) {
        e.u8(2);
        self.name.encode(e);
        e.u64(self.global_id);
        e.u64(AUID_DEFAULT);
        self.created.encode(e);
        self.expires.encode(e);
        e.u8(1);
        e.bool(self.allow_all);
        e.bufferlist(&self.caps);
        e.u32(0);
    }
}
impl Decode for AuthTicket {
    fn decode(r: &mut Reader) -> denc::Result<Self> {
        let v = r.u8()?;
        let name = EntityName::decode(r)?;
        let global_id = r.u64()?;
        if v >= 2 {
            r.u64()?;
        }
        let created = Utime::decode(r)?;
        let expires = Utime::decode(r)?;
        r.u8()?;
        let allow_all = r.bool()?;
        let caps = r.bufferlist()?;
        r.u32()?;
        Ok(AuthTicket { name, global_id, created, expires, allow_all, caps })
    }
}
impl AuthTicket {
    /// The capability string carried in the ticket.
    pub fn cap_string(&self) -> String {
        Reader::new(self.caps.clone()).string().unwrap_or_default()
    }
}

/// `CephXServiceTicketInfo`: what the opaque ticket blob decrypts to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceTicketInfo {
    pub ticket: AuthTicket,
    pub session_key: CryptoKey,
}
impl Encode for ServiceTicketInfo {
    fn encode(&self, e: &mut Encoder) {
        e.u8(1);
        self.ticket.encode(e);
        self.session_key.encode(e);
    }
}
impl Decode for ServiceTicketInfo {
    fn decode(r: &mut Reader) -> denc::Result<Self> {
        r.u8()?;
        Ok(ServiceTicketInfo { ticket: AuthTicket::decode(r)?, session_key: CryptoKey::decode(r)? })
    }
}

fn service_name(id: u32) -> &'static str {
    EntityType(id).name()
}

/// The mon's auth database: entities and rotating service secrets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyServer {
    pub entities: BTreeMap<EntityName, EntityAuth>,
    pub rotating: BTreeMap<u32, RotatingSecrets>,
}

/// Services that get rotating secrets (`KeyServer::_check_rotating_secrets`).
pub const ROTATING_SERVICES: [u32; 5] = [1, 2, 4, 0x10, 0x20];

impl Encode for KeyServer {
    fn encode(&self, e: &mut Encoder) {
        e.u8(1);
        e.u32(self.entities.len() as u32);
        for (n, a) in &self.entities {
            n.encode(e);
            a.key.encode(e);
            a.caps.encode(e);
        }
        e.u32(self.rotating.len() as u32);
        for (s, r) in &self.rotating {
            e.u32(*s);
            r.encode(e);
        }
    }
}
impl Decode for KeyServer {
    fn decode(r: &mut Reader) -> denc::Result<Self> {
        let v = r.u8()?;
        if v != 1 {
            return denc::invalid("auth database", format!("version {v}"));
        }
        let n = r.count(8)?;
        let mut entities = BTreeMap::new();
        for _ in 0..n {
            let name = EntityName::decode(r)?;
            let key = CryptoKey::decode(r)?;
            let caps = Decode::decode(r)?;
            entities.insert(name, EntityAuth { key, caps });
        }
        let n = r.count(8)?;
        let mut rotating = BTreeMap::new();
        for _ in 0..n {
            let s = r.u32()?;
            rotating.insert(s, RotatingSecrets::decode(r)?);
        }
        Ok(KeyServer { entities, rotating })
    }
}

fn add_secs(t: Utime, secs: f64) -> Utime {
    let total = t.as_secs_f64() + secs;
    Utime { sec: total as u32, nsec: ((total.fract()) * 1e9) as u32 }
}

impl KeyServer {
    /// Keeps three secrets per service (previous, current, next), each valid for
    /// `ttl` seconds after its predecessor, as Ceph's `_rotate_secret`. Returns
    /// whether anything changed (the caller persists it).
    pub fn rotate(&mut self, now: Utime, ttl: f64) -> bool {
        self.rotate_with(now, Ttls::both(ttl))
    }

    /// As [`KeyServer::rotate`], with the AUTH service's secrets living as long
    /// as AUTH tickets (`auth_mon_ticket_ttl`), as Ceph's `_rotate_secret` does.
    pub fn rotate_with(&mut self, now: Utime, ttls: Ttls) -> bool {
        let mut changed = false;
        for s in ROTATING_SERVICES {
            let ttl = if s == EntityType::AUTH.0 { ttls.auth } else { ttls.service };
            let r = self.rotating.entry(s).or_default();
            // Drop secrets that expired, then top up to three.
            let before = r.secrets.len();
            r.secrets.retain(|_, k| k.expiration > now);
            changed |= r.secrets.len() != before;
            while r.secrets.len() < 3 {
                let last_exp = r.secrets.values().last().map(|k| k.expiration).unwrap_or(now);
                r.max_ver += 1;
                let exp = add_secs(if last_exp > now { last_exp } else { now }, ttl);
                r.secrets.insert(r.max_ver, ExpiringKey { key: CryptoKey::generate(), expiration: exp });
                changed = true;
            }
        }
        changed
    }

    pub fn get(&self, name: &EntityName) -> Option<&EntityAuth> {
        self.entities.get(name)
    }

    fn service_secret(&self, service: u32, secret_id: u64) -> Option<&CryptoKey> {
        self.rotating.get(&service)?.secrets.get(&secret_id).map(|k| &k.key)
    }

    /// `get_rotating_encrypted`: a daemon's service secrets sealed with its own key.
    pub fn rotating_for(&self, name: &EntityName) -> Result<Bytes> {
        let ea = self.get(name).ok_or_else(|| Error::Protocol(format!("unknown entity {name}")))?;
        let r = self.rotating.get(&name.ty.0).cloned().unwrap_or_default();
        let mut e = Encoder::new(0);
        ea.key.encode_encrypt(&mut e, &r)?;
        Ok(e.into_bytes())
    }

    /// Builds a ticket reply entry for `service` (`cephx_build_service_ticket_reply`).
    fn ticket_entry(
        &self,
        name: &EntityName,
        global_id: u64,
        service: u32,
        ttl: f64,
        principal_key: &CryptoKey,
        enc_with: Option<&CryptoKey>,
    ) -> Result<(TicketReplyEntry, CryptoKey)> {
        let (secret_id, skey) = self
            .rotating
            .get(&service)
            .and_then(|r| r.current())
            .map(|(id, k)| (id, k.key.clone()))
            .ok_or_else(|| Error::Protocol(format!("no rotating secret for service {}", service_name(service))))?;
        let now = Utime::now();
        let caps_str = self
            .get(name)
            .and_then(|a| a.caps.get(service_name(service)))
            .cloned()
            .unwrap_or_default();
        let mut ce = Encoder::new(0);
        ce.string(&caps_str);
        let session_key = CryptoKey::generate();
        let info = ServiceTicketInfo {
            ticket: AuthTicket {
                name: name.clone(),
                global_id,
                created: now,
                expires: add_secs(now, ttl),
                allow_all: false,
                caps: ce.into_bytes(),
            },
            session_key: session_key.clone(),
        };
        let blob = TicketBlob { secret_id, blob: skey.encrypt_struct(&info)?.into() };
        let enc_ticket = principal_key
            .encrypt_struct(&ServiceTicketPlain { session_key: session_key.clone(), validity: Utime { sec: ttl as u32, nsec: 0 } })?
            .into();
        let blob_bl = blob.to_bytes(0);
        let (ticket_enc, blob_bl) = match enc_with {
            Some(k) => (true, Bytes::from(k.encrypt_struct(&blob_bl)?)),
            None => (false, blob_bl),
        };
        Ok((TicketReplyEntry { service_id: service, enc_ticket, ticket_enc, blob_bl }, session_key))
    }

    /// Decrypts and checks a ticket blob shown for `service`.
    pub fn open_ticket(&self, service: u32, blob: &TicketBlob) -> Result<ServiceTicketInfo> {
        let key = self
            .service_secret(service, blob.secret_id)
            .ok_or_else(|| Error::Protocol(format!("ticket sealed with unknown or expired {} secret {}", service_name(service), blob.secret_id)))?;
        let mut r = key.decrypt_struct(&blob.blob)?;
        let info = ServiceTicketInfo::decode(&mut r)?;
        if info.ticket.expires < Utime::now() {
            return Err(Error::Protocol(format!("ticket for {} expired", info.ticket.name)));
        }
        Ok(info)
    }
}

/// Result of the mon-mode handshake (`CEPHX_GET_AUTH_SESSION_KEY`).
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub name: EntityName,
    pub global_id: u64,
    pub session_key: CryptoKey,
    pub connection_secret: Bytes,
    /// AUTH_DONE payload.
    pub reply: Bytes,
}

/// Ticket lifetimes: `auth_mon_ticket_ttl` (the AUTH ticket, 12 h in Ceph) and
/// `auth_service_ticket_ttl` (service tickets, 1 h).
#[derive(Debug, Clone, Copy)]
pub struct Ttls {
    pub auth: f64,
    pub service: f64,
}

impl Ttls {
    pub fn both(t: f64) -> Ttls {
        Ttls { auth: t, service: t }
    }
}

/// The mon's challenge for a new cephx session.
pub fn new_challenge() -> (u64, Bytes) {
    let c: u64 = rand::random();
    (c, ServerChallenge { server_challenge: c }.to_bytes(0))
}

/// Checks only the proof in a `CEPHX_GET_AUTH_SESSION_KEY` request, so the mon
/// can refuse impostors before spending a global id on them.
/// The global id a client reconnecting to another mon may keep: the one in
/// the still-valid AUTH ticket it presents (`old_ticket`), if that ticket is
/// `name`'s and names the id it claims (Ceph's global id reclaim).
pub fn reclaimable_global_id(ks: &KeyServer, name: &EntityName, claimed: u64, payload: &Bytes) -> Option<u64> {
    if claimed == 0 {
        return None;
    }
    let mut r = Reader::new(payload.clone());
    if r.u16().ok()? != CEPHX_GET_AUTH_SESSION_KEY {
        return None;
    }
    let req = Authenticate::decode(&mut r).ok()?;
    if req.old_ticket.blob.is_empty() {
        return None;
    }
    let info = ks.open_ticket(EntityType::AUTH.0, &req.old_ticket).ok()?;
    (&info.ticket.name == name && info.ticket.global_id == claimed).then_some(claimed)
}

pub fn check_authenticate_proof(ks: &KeyServer, name: &EntityName, server_challenge: u64, payload: &Bytes) -> std::result::Result<(), (i32, String)> {
    let mut r = Reader::new(payload.clone());
    if r.u16().map_err(|e| (-22, e.to_string()))? != CEPHX_GET_AUTH_SESSION_KEY {
        return Err((-22, "not an authentication request".into()));
    }
    let req = Authenticate::decode(&mut r).map_err(|e| (-22, e.to_string()))?;
    let ea = ks.get(name).ok_or_else(|| (-13, format!("unknown entity {name}")))?;
    let expect = calc_challenge_key(&ea.key, server_challenge, req.client_challenge).map_err(|e| (-13, e.to_string()))?;
    if expect != req.key {
        return Err((-13, format!("{name} proved the wrong key")));
    }
    Ok(())
}

/// Handles the client's `CEPHX_GET_AUTH_SESSION_KEY` request. `global_id` is the
/// one the mon assigned this session. errno-style errors: EACCES for unknown
/// entities or wrong keys.
pub fn handle_authenticate(
    ks: &KeyServer,
    name: &EntityName,
    global_id: u64,
    server_challenge: u64,
    payload: &Bytes,
    conn_secret_len: usize,
    ttl: Ttls,
) -> std::result::Result<Authenticated, (i32, String)> {
    let deny = |why: String| (-13, why);
    let mut r = Reader::new(payload.clone());
    let rt = r.u16().map_err(|e| (-22, e.to_string()))?;
    if rt != CEPHX_GET_AUTH_SESSION_KEY {
        return Err((-22, format!("unexpected cephx request {rt:#x} during authentication")));
    }
    let req = Authenticate::decode(&mut r).map_err(|e| (-22, e.to_string()))?;
    let ea = ks.get(name).ok_or_else(|| deny(format!("unknown entity {name}")))?;
    let expect = calc_challenge_key(&ea.key, server_challenge, req.client_challenge).map_err(|e| deny(e.to_string()))?;
    if expect != req.key {
        return Err(deny(format!("{name} proved the wrong key")));
    }
    // A still-valid old AUTH ticket for the same entity: the new ticket blob is
    // sealed with the old session key so only its holder can use it.
    let mut old_key = None;
    if !req.old_ticket.blob.is_empty() {
        if let Ok(info) = ks.open_ticket(EntityType::AUTH.0, &req.old_ticket) {
            if &info.ticket.name == name {
                old_key = Some(info.session_key);
            }
        }
    }
    let (entry, session_key) = ks
        .ticket_entry(name, global_id, EntityType::AUTH.0, ttl.auth, &ea.key, old_key.as_ref())
        .map_err(|e| (-5, e.to_string()))?;
    let mut e = Encoder::new(0);
    ResponseHeader { request_type: CEPHX_GET_AUTH_SESSION_KEY, status: 0 }.encode(&mut e);
    encode_ticket_reply(&mut e, &[entry]);
    let connection_secret: Bytes = (0..conn_secret_len).map(|_| rand::random::<u8>()).collect::<Vec<u8>>().into();
    let mut cbl = Encoder::new(0);
    if conn_secret_len > 0 {
        // A std::string on the wire.
        session_key.encode_encrypt(&mut cbl, &RawString(&connection_secret)).map_err(|e| (-5, e.to_string()))?;
    }
    e.bufferlist(&cbl.buf);
    let mut extra = Encoder::new(0);
    let wanted: Vec<u32> = [1u32, 2, 4, 0x10].into_iter().filter(|b| req.other_keys & b != 0).collect();
    if !wanted.is_empty() {
        let mut entries = Vec::new();
        for s in wanted {
            let (ent, _) = ks.ticket_entry(name, global_id, s, ttl.service, &session_key, None).map_err(|e| (-5, e.to_string()))?;
            entries.push(ent);
        }
        encode_ticket_reply(&mut extra, &entries);
    }
    e.bufferlist(&extra.buf);
    Ok(Authenticated { name: name.clone(), global_id, session_key, connection_secret, reply: e.into_bytes() })
}

struct RawString<'a>(&'a [u8]);
impl Encode for RawString<'_> {
    fn encode(&self, e: &mut Encoder) {
        e.bufferlist(self.0);
    }
}

/// A decoded authorizer (`AUTH_MODE_AUTHORIZER` payload).
struct AuthorizerMsg {
    global_id: u64,
    service_id: u32,
    ticket: TicketBlob,
    sealed: Bytes,
}

fn decode_authorizer(r: &mut Reader) -> denc::Result<AuthorizerMsg> {
    let _v = r.u8()?;
    let global_id = r.u64()?;
    let service_id = r.u32()?;
    let ticket = TicketBlob::decode(r)?;
    let sealed = r.bufferlist()?;
    Ok(AuthorizerMsg { global_id, service_id, ticket, sealed })
}

/// What checking an authorizer gave.
#[derive(Debug, Clone)]
pub enum AuthorizerOutcome {
    /// Send this (AUTH_REPLY_MORE) and wait for the answer.
    Challenge(Bytes),
    Accepted {
        name: EntityName,
        global_id: u64,
        /// The capability string for this service carried in the ticket.
        caps: String,
        session_key: CryptoKey,
        connection_secret: Bytes,
        /// AUTH_DONE payload.
        reply: Bytes,
    },
}

/// `cephx_verify_authorizer` for `service`. `challenge` holds the challenge we
/// issued on this connection, if any; a fresh one is issued when missing
/// (Ceph always challenges with CEPHX_V2 peers).
pub fn verify_authorizer(
    ks: &KeyServer,
    service: u32,
    payload: &Bytes,
    challenge: &mut Option<u64>,
    conn_secret_len: usize,
) -> Result<AuthorizerOutcome> {
    let mut r = Reader::new(payload.clone());
    let a = decode_authorizer(&mut r)?;
    if a.service_id != service {
        return Err(Error::Protocol(format!("authorizer is for service {}, not {}", service_name(a.service_id), service_name(service))));
    }
    let info = ks.open_ticket(service, &a.ticket)?;
    if info.ticket.global_id != a.global_id {
        return Err(Error::Protocol("authorizer global_id does not match its ticket".into()));
    }
    let mut ar = info.session_key.decrypt_struct(&a.sealed)?;
    let msg = Authorize::decode(&mut ar)?;
    match *challenge {
        None => {
            let c: u64 = rand::random();
            *challenge = Some(c);
            // encode_encrypt_enc_bl: no length prefix, unlike the reply below.
            let sealed = info.session_key.encrypt_struct(&AuthorizeChallenge { server_challenge: c })?;
            Ok(AuthorizerOutcome::Challenge(Bytes::from(sealed)))
        }
        Some(c) => {
            if !msg.have_challenge || msg.server_challenge_plus_one != c.wrapping_add(1) {
                return Err(Error::Protocol("authorizer did not answer our challenge".into()));
            }
            let connection_secret: Bytes = (0..conn_secret_len).map(|_| rand::random::<u8>()).collect::<Vec<u8>>().into();
            let reply = AuthorizeReply {
                nonce_plus_one: msg.nonce.wrapping_add(1),
                connection_secret: Some(connection_secret.clone()),
            };
            let mut e = Encoder::new(0);
            info.session_key.encode_encrypt(&mut e, &reply)?;
            Ok(AuthorizerOutcome::Accepted {
                caps: info.ticket.cap_string(),
                name: info.ticket.name,
                global_id: info.ticket.global_id,
                session_key: info.session_key,
                connection_secret,
                reply: e.into_bytes(),
            })
        }
    }
}

/// Handles an MAuth payload on an authenticated mon session:
/// `CEPHX_GET_PRINCIPAL_SESSION_KEY` (service tickets) and
/// `CEPHX_GET_ROTATING_KEY` (a daemon's service secrets). Returns the result
/// bufferlist for MAuthReply.
/// `server_challenge` is the one this session's handshake used: Ceph clients
/// renew their AUTH ticket with CEPHX_GET_AUTH_SESSION_KEY answering it again.
pub fn handle_session_request(
    ks: &KeyServer,
    name: &EntityName,
    global_id: u64,
    server_challenge: Option<u64>,
    payload: &Bytes,
    ttl: Ttls,
) -> std::result::Result<Bytes, (i32, String)> {
    let mut r = Reader::new(payload.clone());
    let rt = r.u16().map_err(|e| (-22, e.to_string()))?;
    let mut e = Encoder::new(0);
    match rt {
        CEPHX_GET_AUTH_SESSION_KEY => {
            let ch = server_challenge.ok_or((-13, "this session has no cephx challenge to answer".to_string()))?;
            return handle_authenticate(ks, name, global_id, ch, payload, 0, ttl).map(|a| a.reply);
        }
        CEPHX_GET_PRINCIPAL_SESSION_KEY => {
            let a = decode_authorizer(&mut r).map_err(|e| (-22, e.to_string()))?;
            let req = ServiceTicketRequest::decode(&mut r).map_err(|e| (-22, e.to_string()))?;
            let info = ks.open_ticket(EntityType::AUTH.0, &a.ticket).map_err(|e| (-13, e.to_string()))?;
            if &info.ticket.name != name || info.ticket.global_id != global_id {
                return Err((-13, "auth ticket belongs to someone else".into()));
            }
            info.session_key.decrypt_struct(&a.sealed).map_err(|e| (-13, e.to_string()))?;
            let mut entries = Vec::new();
            for s in [1u32, 2, 4, 0x10] {
                if req.keys & s != 0 {
                    let (ent, _) = ks.ticket_entry(name, global_id, s, ttl.service, &info.session_key, None).map_err(|e| (-5, e.to_string()))?;
                    entries.push(ent);
                }
            }
            ResponseHeader { request_type: rt, status: 0 }.encode(&mut e);
            encode_ticket_reply(&mut e, &entries);
        }
        CEPHX_GET_ROTATING_KEY => {
            if name.ty == EntityType::CLIENT {
                return Err((-13, "clients do not get rotating secrets".into()));
            }
            ResponseHeader { request_type: rt, status: 0 }.encode(&mut e);
            e.raw(&ks.rotating_for(name).map_err(|e| (-13, e.to_string()))?);
        }
        _ => return Err((-22, format!("unknown cephx request {rt:#x}"))),
    }
    Ok(e.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CephxClient;

    fn db() -> (KeyServer, CryptoKey) {
        let mut ks = KeyServer::default();
        let k = CryptoKey::generate();
        let mut caps = BTreeMap::new();
        caps.insert("mon".to_string(), "allow r".to_string());
        ks.entities.insert(EntityName::client("admin"), EntityAuth { key: k.clone(), caps });
        ks.rotate(Utime::now(), 3600.0);
        (ks, k)
    }

    #[test]
    fn our_client_authenticates_and_gets_service_tickets() {
        let (ks, k) = db();
        let mut c = CephxClient::new(EntityName::client("admin"), k, 0x1 | 0x4 | 0x10);
        let (sc, chal) = new_challenge();
        let req = c.handle_server_challenge(&chal).unwrap();
        let done = handle_authenticate(&ks, &EntityName::client("admin"), 4100, sc, &req, 64, Ttls::both(3600.0)).unwrap();
        let (sk, secret) = c.handle_auth_done(4100, &done.reply).unwrap();
        assert_eq!(sk, done.session_key);
        assert_eq!(secret, done.connection_secret);
        assert_eq!(c.needed(), 0);

        // The OSD ticket opens a service connection: challenge, then accept.
        let a = c.build_authorizer(EntityType::OSD, None).unwrap();
        let mut ch = None;
        let AuthorizerOutcome::Challenge(p) = verify_authorizer(&ks, 4, &a.payload, &mut ch, 64).unwrap() else { panic!() };
        let a2 = c.answer_authorizer_challenge(&a, &p).unwrap();
        let AuthorizerOutcome::Accepted { name, global_id, caps, reply, connection_secret, .. } = verify_authorizer(&ks, 4, &a2.payload, &mut ch, 64).unwrap() else { panic!() };
        assert_eq!(name, EntityName::client("admin"));
        assert_eq!(global_id, 4100);
        assert_eq!(caps, "");
        assert_eq!(CephxClient::verify_authorizer_reply(&a2, &reply).unwrap(), connection_secret);

        // Renewal through MAuth, and a second authentication with the old ticket.
        let p = c.principal_request(0x10).unwrap();
        let rep = handle_session_request(&ks, &EntityName::client("admin"), 4100, None, &p, Ttls::both(3600.0)).unwrap();
        c.handle_principal_reply(&rep).unwrap();
        let (sc, chal) = new_challenge();
        let req = c.handle_server_challenge(&chal).unwrap();
        let done = handle_authenticate(&ks, &EntityName::client("admin"), 4100, sc, &req, 0, Ttls::both(3600.0)).unwrap();
        c.handle_auth_done(4100, &done.reply).unwrap();
        // Renewal on the open session (MAuth), answering the handshake's challenge again.
        let req = c.handle_server_challenge(&chal).unwrap();
        let rep = handle_session_request(&ks, &EntityName::client("admin"), 4100, Some(sc), &req, Ttls::both(3600.0)).unwrap();
        c.handle_auth_done(4100, &rep).unwrap();
        assert!(handle_session_request(&ks, &EntityName::client("admin"), 4100, None, &req, Ttls::both(3600.0)).is_err());
    }

    #[test]
    fn wrong_key_unknown_entity_and_forged_tickets_are_refused() {
        let (ks, _) = db();
        let bad = CephxClient::new(EntityName::client("admin"), CryptoKey::generate(), 0x1);
        let (sc, chal) = new_challenge();
        let req = bad.handle_server_challenge(&chal).unwrap();
        assert_eq!(handle_authenticate(&ks, &EntityName::client("admin"), 1, sc, &req, 0, Ttls::both(60.0)).unwrap_err().0, -13);
        assert_eq!(handle_authenticate(&ks, &EntityName::client("nobody"), 1, sc, &req, 0, Ttls::both(60.0)).unwrap_err().0, -13);
        // A ticket sealed with a key the server never issued.
        let mut forged = KeyServer::default();
        forged.entities = ks.entities.clone();
        forged.rotate(Utime::now(), 3600.0);
        let k = ks.entities[&EntityName::client("admin")].key.clone();
        let mut c = CephxClient::new(EntityName::client("admin"), k, 0x4);
        let (sc, chal) = new_challenge();
        let req = c.handle_server_challenge(&chal).unwrap();
        let done = handle_authenticate(&forged, &EntityName::client("admin"), 7, sc, &req, 0, Ttls::both(3600.0)).unwrap();
        c.handle_auth_done(7, &done.reply).unwrap();
        let a = c.build_authorizer(EntityType::OSD, None).unwrap();
        assert!(verify_authorizer(&ks, 4, &a.payload, &mut None, 0).is_err());
    }

    #[test]
    fn expired_tickets_are_refused() {
        let (ks, k) = db();
        let mut c = CephxClient::new(EntityName::client("admin"), k, 0x4);
        let (sc, chal) = new_challenge();
        let req = c.handle_server_challenge(&chal).unwrap();
        // A ticket whose validity is already over.
        let done = handle_authenticate(&ks, &EntityName::client("admin"), 9, sc, &req, 0, Ttls::both(-10.0)).unwrap();
        c.handle_auth_done(9, &done.reply).unwrap();
        let a = c.build_authorizer(EntityType::OSD, None).unwrap();
        let e = verify_authorizer(&ks, 4, &a.payload, &mut None, 0).unwrap_err();
        assert!(e.to_string().contains("expired"), "{e}");
    }

    #[test]
    fn keyserver_roundtrips() {
        let (ks, _) = db();
        let b = ks.to_bytes(0);
        assert_eq!(KeyServer::from_bytes(b).unwrap(), ks);
    }

    proptest::proptest! {
        #[test]
        fn hostile_requests_do_not_panic(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            let (ks, _) = db();
            let b = Bytes::from(data);
            let _ = handle_authenticate(&ks, &EntityName::client("admin"), 1, 5, &b, 64, Ttls::both(60.0));
            let _ = verify_authorizer(&ks, 4, &b, &mut None, 64);
            let _ = verify_authorizer(&ks, 4, &b, &mut Some(3), 64);
            let _ = handle_session_request(&ks, &EntityName::client("admin"), 1, Some(5), &b, Ttls::both(60.0));
            let _ = KeyServer::from_bytes(b);
        }
    }
}
