//! The client side of cephx: authenticating to a mon inside msgr2's AUTH frames,
//! keeping service tickets, and building authorizers for OSD/MGR/MDS connections.

use crate::crypto::CryptoKey;
use crate::proto::*;
use crate::{Error, Result, AUTH_MODE_AUTHORIZER, AUTH_MODE_MON};
use bytes::Bytes;
use denc::{Decode, Encode, Encoder, Reader};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use types::{EntityName, EntityType};

/// A ticket for one service (mon, osd, mgr, mds, or auth itself).
#[derive(Debug, Clone)]
pub struct ServiceTicket {
    pub session_key: CryptoKey,
    pub ticket: TicketBlob,
    pub expires: Instant,
    /// When to ask for a new one (3/4 of the validity, as Ceph's `renew_after`).
    pub renew_after: Instant,
}

/// An authorizer built for one connection; kept to check the service's reply.
#[derive(Debug, Clone)]
pub struct Authorizer {
    pub service_id: u32,
    pub nonce: u64,
    pub session_key: CryptoKey,
    /// The AUTH_REQUEST payload.
    pub payload: Bytes,
}

#[derive(Debug, Clone)]
pub struct CephxClient {
    pub name: EntityName,
    secret: CryptoKey,
    pub global_id: u64,
    /// Services we want tickets for (`CEPH_ENTITY_TYPE_*` bits).
    pub want: u32,
    tickets: BTreeMap<u32, ServiceTicket>,
}

impl CephxClient {
    pub fn new(name: EntityName, secret: CryptoKey, want: u32) -> Self {
        CephxClient { name, secret, global_id: 0, want, tickets: BTreeMap::new() }
    }

    pub fn ticket(&self, service: EntityType) -> Option<&ServiceTicket> {
        self.tickets.get(&service.0)
    }

    /// AUTH_REQUEST payload to a mon: AUTH_MODE_MON, our name, our global_id.
    pub fn mon_request(&self) -> Bytes {
        let mut e = Encoder::new(0);
        e.u8(AUTH_MODE_MON);
        self.name.encode(&mut e);
        e.u64(self.global_id);
        e.into_bytes()
    }

    /// Answers the mon's challenge (AUTH_REPLY_MORE) with CEPHX_GET_AUTH_SESSION_KEY.
    pub fn handle_server_challenge(&self, payload: &Bytes) -> Result<Bytes> {
        let ch = ServerChallenge::from_bytes(payload.clone())?;
        let client_challenge: u64 = rand::random();
        let key = calc_challenge_key(&self.secret, ch.server_challenge, client_challenge)?;
        let old_ticket = self
            .tickets
            .get(&EntityType::AUTH.0)
            .map(|t| t.ticket.clone())
            .unwrap_or_default();
        let mut e = Encoder::new(0);
        e.u16(CEPHX_GET_AUTH_SESSION_KEY);
        Authenticate { client_challenge, key, old_ticket, other_keys: self.want | EntityType::AUTH.0 }.encode(&mut e);
        Ok(e.into_bytes())
    }

    /// AUTH_DONE from a mon: stores the tickets and returns the AUTH session key
    /// (which signs the msgr2 handshake) and the connection secret.
    pub fn handle_auth_done(&mut self, global_id: u64, payload: &Bytes) -> Result<(CryptoKey, Bytes)> {
        let mut r = Reader::new(payload.clone());
        let hdr = ResponseHeader::decode(&mut r)?;
        if hdr.request_type != CEPHX_GET_AUTH_SESSION_KEY {
            return Err(Error::Protocol(format!("unexpected response type {:#x}", hdr.request_type)));
        }
        if hdr.status != 0 {
            return Err(Error::Protocol(format!("mon refused authentication: status {}", hdr.status)));
        }
        let secret = self.secret.clone();
        self.absorb_ticket_reply(&secret, &mut r)?;
        let session = self
            .tickets
            .get(&EntityType::AUTH.0)
            .ok_or_else(|| Error::Protocol("no auth ticket in reply".into()))?
            .session_key
            .clone();
        let mut connection_secret = Bytes::new();
        if !r.is_empty() {
            let cbl = r.bufferlist()?;
            let extra = r.bufferlist()?;
            if !cbl.is_empty() {
                let mut cr = Reader::new(cbl);
                // A std::string on the wire, but raw random bytes: keep them as bytes.
                connection_secret = session.decode_decrypt(&mut cr)?.bufferlist()?;
            }
            if !extra.is_empty() {
                self.absorb_ticket_reply(&session, &mut Reader::new(extra))?;
            }
        }
        self.global_id = global_id;
        Ok((session, connection_secret))
    }

    fn absorb_ticket_reply(&mut self, key: &CryptoKey, r: &mut Reader) -> Result<()> {
        for ent in decode_ticket_reply(r)? {
            let mut tr = key.decrypt_struct(&ent.enc_ticket)?;
            let plain = ServiceTicketPlain::decode(&mut tr)?;
            let blob_bl = if ent.ticket_enc {
                let old = self
                    .tickets
                    .get(&ent.service_id)
                    .ok_or_else(|| Error::Protocol("encrypted ticket without an old session key".into()))?;
                // The plaintext is itself a bufferlist holding the TicketBlob.
                old.session_key.decrypt_struct(&ent.blob_bl)?.bufferlist()?
            } else {
                ent.blob_bl.clone()
            };
            let ticket = TicketBlob::decode(&mut Reader::new(blob_bl))?;
            let validity = Duration::from_secs_f64(plain.validity.as_secs_f64());
            let now = Instant::now();
            self.tickets.insert(
                ent.service_id,
                ServiceTicket {
                    session_key: plain.session_key,
                    ticket,
                    expires: now + validity,
                    renew_after: now + validity.mul_f64(0.75),
                },
            );
        }
        Ok(())
    }

    /// Whether the AUTH ticket itself is past 3/4 of its validity: renewing it
    /// needs a fresh challenge, i.e. authenticating again to a mon.
    pub fn auth_ticket_due(&self) -> bool {
        self.tickets.get(&EntityType::AUTH.0).map(|t| t.renew_after <= Instant::now()).unwrap_or(false)
    }

    /// Services whose tickets are missing or due for renewal.
    pub fn needed(&self) -> u32 {
        let now = Instant::now();
        let mut need = 0;
        for bit in [1u32, 2, 4, 0x10] {
            if self.want & bit != 0 && self.tickets.get(&bit).map(|t| t.renew_after <= now).unwrap_or(true) {
                need |= bit;
            }
        }
        need
    }

    /// The authorizer for a service connection (`CephXTicketHandler::build_authorizer`).
    pub fn build_authorizer(&self, service: EntityType, challenge: Option<u64>) -> Result<Authorizer> {
        let t = self
            .tickets
            .get(&service.0)
            .ok_or_else(|| Error::Protocol(format!("no ticket for service {service}")))?;
        self.authorizer_from(service.0, t, rand::random(), challenge)
    }

    fn authorizer_from(&self, service_id: u32, t: &ServiceTicket, nonce: u64, challenge: Option<u64>) -> Result<Authorizer> {
        let mut e = Encoder::new(0);
        e.u8(AUTH_MODE_AUTHORIZER);
        e.u64(self.global_id);
        e.u32(service_id);
        t.ticket.encode(&mut e);
        let msg = Authorize {
            nonce,
            have_challenge: challenge.is_some(),
            server_challenge_plus_one: challenge.map(|c| c.wrapping_add(1)).unwrap_or(0),
        };
        t.session_key.encode_encrypt(&mut e, &msg)?;
        Ok(Authorizer { service_id, nonce, session_key: t.session_key.clone(), payload: e.into_bytes() })
    }

    /// The service sent a CephXAuthorizeChallenge (AUTH_REPLY_MORE): rebuild the
    /// authorizer with the same nonce and the challenge answered.
    pub fn answer_authorizer_challenge(&self, a: &Authorizer, payload: &Bytes) -> Result<Authorizer> {
        let mut r = a.session_key.decrypt_struct(payload)?;
        let ch = AuthorizeChallenge::decode(&mut r)?;
        let t = self
            .tickets
            .get(&a.service_id)
            .ok_or_else(|| Error::Protocol("ticket vanished".into()))?;
        self.authorizer_from(a.service_id, t, a.nonce, Some(ch.server_challenge))
    }

    /// Checks the service's AUTH_DONE payload and returns the connection secret.
    pub fn verify_authorizer_reply(a: &Authorizer, payload: &Bytes) -> Result<Bytes> {
        let mut r = a.session_key.decode_decrypt(&mut Reader::new(payload.clone()))?;
        let reply = AuthorizeReply::decode(&mut r)?;
        if reply.nonce_plus_one != a.nonce.wrapping_add(1) {
            return Err(Error::Protocol("authorizer reply nonce mismatch: the service is not who it claims".into()));
        }
        Ok(reply.connection_secret.unwrap_or_default())
    }

    /// MAuth payload asking for (renewed) service tickets: CEPHX_GET_PRINCIPAL_SESSION_KEY.
    pub fn principal_request(&self, keys: u32) -> Result<Bytes> {
        let t = self
            .tickets
            .get(&EntityType::AUTH.0)
            .ok_or_else(|| Error::Protocol("not authenticated".into()))?;
        let a = self.authorizer_from(EntityType::AUTH.0, t, rand::random(), None)?;
        let mut e = Encoder::new(0);
        e.u16(CEPHX_GET_PRINCIPAL_SESSION_KEY);
        // The whole authorizer: its leading u8 1 is the authorizer version (the
        // same byte msgr2 reads as AUTH_MODE_AUTHORIZER).
        e.raw(&a.payload);
        ServiceTicketRequest { keys }.encode(&mut e);
        Ok(e.into_bytes())
    }

    /// MAuth payload asking for our service's rotating secrets (daemons only):
    /// CEPHX_GET_ROTATING_KEY.
    pub fn rotating_request(&self) -> Bytes {
        let mut e = Encoder::new(0);
        e.u16(CEPHX_GET_ROTATING_KEY);
        e.into_bytes()
    }

    /// Whether an MAuthReply result answers CEPHX_GET_ROTATING_KEY.
    pub fn is_rotating_reply(result: &Bytes) -> bool {
        result.len() >= 2 && u16::from_le_bytes([result[0], result[1]]) == CEPHX_GET_ROTATING_KEY
    }

    /// Our service's rotating secrets, sealed with our own key by the mon.
    pub fn handle_rotating_reply(&self, result: &Bytes) -> Result<crate::server::RotatingSecrets> {
        let mut r = Reader::new(result.clone());
        let hdr = ResponseHeader::decode(&mut r)?;
        if hdr.status != 0 {
            return Err(Error::Protocol(format!("rotating keys refused: status {}", hdr.status)));
        }
        let mut inner = self.secret.decode_decrypt(&mut r)?;
        Ok(crate::server::RotatingSecrets::decode(&mut inner)?)
    }

    /// MAuthReply result for CEPHX_GET_PRINCIPAL_SESSION_KEY.
    pub fn handle_principal_reply(&mut self, result: &Bytes) -> Result<()> {
        let mut r = Reader::new(result.clone());
        let hdr = ResponseHeader::decode(&mut r)?;
        if hdr.status != 0 {
            return Err(Error::Protocol(format!("ticket renewal refused: status {}", hdr.status)));
        }
        let key = self
            .tickets
            .get(&EntityType::AUTH.0)
            .ok_or_else(|| Error::Protocol("not authenticated".into()))?
            .session_key
            .clone();
        self.absorb_ticket_reply(&key, &mut r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Plays the mon's part with the same structs to check that the client reads
    /// what a cephx server writes (the byte layout itself is checked against real
    /// captures in the interop tests).
    #[test]
    fn client_reads_a_server_reply() {
        let secret = CryptoKey::generate();
        let mut c = CephxClient::new(EntityName::client("admin"), secret.clone(), 0x1 | 0x4 | 0x10);
        let req = c.handle_server_challenge(&ServerChallenge { server_challenge: 77 }.to_bytes(0)).unwrap();
        assert_eq!(req.len(), 36);
        let mut r = Reader::new(req.slice(2..));
        let auth = Authenticate::decode(&mut r).unwrap();
        assert_eq!(auth.key, calc_challenge_key(&secret, 77, auth.client_challenge).unwrap());

        let session = CryptoKey::generate();
        let entry = |svc: u32, key: &CryptoKey, sess: &CryptoKey| TicketReplyEntry {
            service_id: svc,
            enc_ticket: key
                .encrypt_struct(&ServiceTicketPlain { session_key: sess.clone(), validity: denc::Utime { sec: 3600, nsec: 0 } })
                .unwrap()
                .into(),
            ticket_enc: false,
            blob_bl: TicketBlob { secret_id: 5, blob: Bytes::from_static(b"opaque") }.to_bytes(0),
        };
        let mut e = Encoder::new(0);
        ResponseHeader { request_type: CEPHX_GET_AUTH_SESSION_KEY, status: 0 }.encode(&mut e);
        encode_ticket_reply(&mut e, &[entry(0x20, &secret, &session)]);
        let mut cbl = Encoder::new(0);
        session.encode_encrypt(&mut cbl, &"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef".to_string()).unwrap();
        e.bufferlist(&cbl.buf);
        let osd_key = CryptoKey::generate();
        let mut extra = Encoder::new(0);
        encode_ticket_reply(&mut extra, &[entry(4, &session, &osd_key)]);
        e.bufferlist(&extra.buf);
        let (sk, conn) = c.handle_auth_done(4242, &e.into_bytes()).unwrap();
        assert_eq!(sk, session);
        assert_eq!(conn.len(), 64);
        assert_eq!(c.global_id, 4242);
        assert_eq!(c.ticket(EntityType::OSD).unwrap().session_key, osd_key);
        assert_eq!(c.needed(), 0x1 | 0x10);

        let a = c.build_authorizer(EntityType::OSD, None).unwrap();
        let reply = AuthorizeReply { nonce_plus_one: a.nonce + 1, connection_secret: Some(Bytes::from_static(b"s")) };
        let mut re = Encoder::new(0);
        osd_key.encode_encrypt(&mut re, &reply).unwrap();
        assert_eq!(&CephxClient::verify_authorizer_reply(&a, &re.into_bytes()).unwrap()[..], b"s");
        let bad = AuthorizeReply { nonce_plus_one: a.nonce, connection_secret: None };
        let mut re = Encoder::new(0);
        osd_key.encode_encrypt(&mut re, &bad).unwrap();
        assert!(CephxClient::verify_authorizer_reply(&a, &re.into_bytes()).is_err());
    }

    proptest::proptest! {
        #[test]
        fn hostile_replies_do_not_panic(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            let mut c = CephxClient::new(EntityName::client("admin"), CryptoKey::generate(), 0x15);
            let b = Bytes::from(data);
            let _ = c.handle_server_challenge(&b);
            let _ = c.handle_auth_done(1, &b);
            let _ = c.handle_principal_reply(&b);
            let _ = decode_ticket_reply(&mut Reader::new(b));
        }
    }
}
