//! cephx wire structs (`src/auth/cephx/CephxProtocol.h`). Most carry a bare u8
//! struct_v rather than an ENCODE_START header.

use crate::crypto::CryptoKey;
use bytes::Bytes;
use denc::{invalid, Decode, Encode, Encoder, Reader, Result, Utime};

pub const CEPHX_GET_AUTH_SESSION_KEY: u16 = 0x0100;
pub const CEPHX_GET_PRINCIPAL_SESSION_KEY: u16 = 0x0200;
pub const CEPHX_GET_ROTATING_KEY: u16 = 0x0400;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerChallenge {
    pub server_challenge: u64,
}
impl Encode for ServerChallenge {
    fn encode(&self, e: &mut Encoder) {
        e.u8(1);
        e.u64(self.server_challenge);
    }
}
impl Decode for ServerChallenge {
    fn decode(r: &mut Reader) -> Result<Self> {
        r.u8()?;
        Ok(ServerChallenge { server_challenge: r.u64()? })
    }
}

/// The opaque ticket a client shows to a service.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TicketBlob {
    pub secret_id: u64,
    pub blob: Bytes,
}
impl Encode for TicketBlob {
    fn encode(&self, e: &mut Encoder) {
        e.u8(1);
        e.u64(self.secret_id);
        e.bufferlist(&self.blob);
    }
}
impl Decode for TicketBlob {
    fn decode(r: &mut Reader) -> Result<Self> {
        r.u8()?;
        Ok(TicketBlob { secret_id: r.u64()?, blob: r.bufferlist()? })
    }
}

/// `CephXAuthenticate` v3 (after the u16 request type 0x0100).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticate {
    pub client_challenge: u64,
    pub key: u64,
    pub old_ticket: TicketBlob,
    pub other_keys: u32,
}
impl Encode for Authenticate {
    fn encode(&self, e: &mut Encoder) {
        e.u8(3);
        e.u64(self.client_challenge);
        e.u64(self.key);
        self.old_ticket.encode(e);
        e.u32(self.other_keys);
    }
}
impl Decode for Authenticate {
    fn decode(r: &mut Reader) -> Result<Self> {
        let v = r.u8()?;
        let client_challenge = r.u64()?;
        let key = r.u64()?;
        let old_ticket = TicketBlob::decode(r)?;
        let other_keys = if v >= 2 { r.u32()? } else { 0 };
        Ok(Authenticate { client_challenge, key, old_ticket, other_keys })
    }
}

/// `CephXResponseHeader`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseHeader {
    pub request_type: u16,
    pub status: i32,
}
impl Encode for ResponseHeader {
    fn encode(&self, e: &mut Encoder) {
        e.u16(self.request_type);
        e.i32(self.status);
    }
}
impl Decode for ResponseHeader {
    fn decode(r: &mut Reader) -> Result<Self> {
        Ok(ResponseHeader { request_type: r.u16()?, status: r.i32()? })
    }
}

/// `CephXServiceTicket`: what the client decrypts: the session key and how long it is valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceTicketPlain {
    pub session_key: CryptoKey,
    pub validity: Utime,
}
impl Encode for ServiceTicketPlain {
    fn encode(&self, e: &mut Encoder) {
        e.u8(1);
        self.session_key.encode(e);
        self.validity.encode(e);
    }
}
impl Decode for ServiceTicketPlain {
    fn decode(r: &mut Reader) -> Result<Self> {
        r.u8()?;
        Ok(ServiceTicketPlain { session_key: CryptoKey::decode(r)?, validity: Utime::decode(r)? })
    }
}

/// `CephXAuthorize` (v2): proof of the ticket's session key, sent encrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Authorize {
    pub nonce: u64,
    pub have_challenge: bool,
    pub server_challenge_plus_one: u64,
}
impl Encode for Authorize {
    fn encode(&self, e: &mut Encoder) {
        e.u8(2);
        e.u64(self.nonce);
        e.bool(self.have_challenge);
        e.u64(self.server_challenge_plus_one);
    }
}
impl Decode for Authorize {
    fn decode(r: &mut Reader) -> Result<Self> {
        let v = r.u8()?;
        let nonce = r.u64()?;
        let (have_challenge, server_challenge_plus_one) = if v >= 2 { (r.bool()?, r.u64()?) } else { (false, 0) };
        Ok(Authorize { nonce, have_challenge, server_challenge_plus_one })
    }
}

/// `CephXAuthorizeReply`: the service's proof plus the connection secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizeReply {
    pub nonce_plus_one: u64,
    pub connection_secret: Option<Bytes>,
}
impl Encode for AuthorizeReply {
    fn encode(&self, e: &mut Encoder) {
        e.u8(if self.connection_secret.is_some() { 2 } else { 1 });
        e.u64(self.nonce_plus_one);
        if let Some(s) = &self.connection_secret {
            e.bufferlist(s);
        }
    }
}
impl Decode for AuthorizeReply {
    fn decode(r: &mut Reader) -> Result<Self> {
        let v = r.u8()?;
        let nonce_plus_one = r.u64()?;
        let connection_secret = if v >= 2 { Some(r.bufferlist()?) } else { None };
        Ok(AuthorizeReply { nonce_plus_one, connection_secret })
    }
}

/// `CephXAuthorizeChallenge`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthorizeChallenge {
    pub server_challenge: u64,
}
impl Encode for AuthorizeChallenge {
    fn encode(&self, e: &mut Encoder) {
        e.u8(1);
        e.u64(self.server_challenge);
    }
}
impl Decode for AuthorizeChallenge {
    fn decode(r: &mut Reader) -> Result<Self> {
        r.u8()?;
        Ok(AuthorizeChallenge { server_challenge: r.u64()? })
    }
}

/// `CephXServiceTicketRequest`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceTicketRequest {
    pub keys: u32,
}
impl Encode for ServiceTicketRequest {
    fn encode(&self, e: &mut Encoder) {
        e.u8(1);
        e.u32(self.keys);
    }
}
impl Decode for ServiceTicketRequest {
    fn decode(r: &mut Reader) -> Result<Self> {
        r.u8()?;
        Ok(ServiceTicketRequest { keys: r.u32()? })
    }
}

/// One entry of a service-ticket reply, still encrypted.
#[derive(Debug, Clone)]
pub struct TicketReplyEntry {
    pub service_id: u32,
    /// encode_encrypt(ServiceTicketPlain) under the principal secret or session key.
    pub enc_ticket: Bytes,
    /// true when the blob itself is encrypted with the old session key.
    pub ticket_enc: bool,
    /// bufferlist holding a TicketBlob (or its ciphertext when `ticket_enc`).
    pub blob_bl: Bytes,
}

/// A service-ticket reply: u8 1, u32 count, entries.
pub fn decode_ticket_reply(r: &mut Reader) -> Result<Vec<TicketReplyEntry>> {
    let v = r.u8()?;
    if v != 1 {
        return invalid("cephx ticket reply", format!("version {v}"));
    }
    let n = r.count(1)?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let service_id = r.u32()?;
        let _sv = r.u8()?;
        let enc_ticket = r.bufferlist()?;
        let ticket_enc = r.bool()?;
        let blob_bl = r.bufferlist()?;
        out.push(TicketReplyEntry { service_id, enc_ticket, ticket_enc, blob_bl });
    }
    Ok(out)
}

pub fn encode_ticket_reply(e: &mut Encoder, entries: &[TicketReplyEntry]) {
    e.u8(1);
    e.u32(entries.len() as u32);
    for t in entries {
        e.u32(t.service_id);
        e.u8(1);
        e.bufferlist(&t.enc_ticket);
        e.bool(t.ticket_enc);
        e.bufferlist(&t.blob_bl);
    }
}

/// `cephx_calc_client_server_challenge`: XOR of the little-endian u64 words of
/// encode_encrypt({server_challenge, client_challenge}) *including* its u32 length.
pub fn calc_challenge_key(secret: &CryptoKey, server_challenge: u64, client_challenge: u64) -> crate::Result<u64> {
    let mut e = Encoder::new(0);
    secret.encode_encrypt(&mut e, &(server_challenge, client_challenge))?;
    Ok(e.buf.chunks_exact(8).fold(0u64, |k, w| k ^ u64::from_le_bytes(w.try_into().expect("8 bytes"))))
}
