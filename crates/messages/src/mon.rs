//! Messages between clients and monitors/managers (`src/messages/M*.h`).

use crate::{types as t, Message};
use bytes::Bytes;
use denc::{Decode, Encode, Encoder, Reader, Result};
use std::collections::BTreeMap;
use types::Uuid;

fn front(features: u64, f: impl FnOnce(&mut Encoder)) -> Bytes {
    let mut e = Encoder::new(features);
    f(&mut e);
    e.into_bytes()
}

/// `PaxosServiceMessage` prefix: u64 version, i16 session_mon (-1), u64 session_mon_tid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PaxosHeader {
    pub version: u64,
}
impl Encode for PaxosHeader {
    fn encode(&self, e: &mut Encoder) {
        e.u64(self.version);
        e.i16(-1);
        e.u64(0);
    }
}
impl Decode for PaxosHeader {
    fn decode(r: &mut Reader) -> Result<Self> {
        let version = r.u64()?;
        r.i16()?;
        r.u64()?;
        Ok(PaxosHeader { version })
    }
}

/// MMonGetMap: empty; the mon answers with MMonMap.
#[derive(Debug, Clone, Default)]
pub struct MonGetMap;
impl Message for MonGetMap {
    const TYPE: u16 = t::MON_GET_MAP;
    const VERSION: u16 = 1;
    const COMPAT: u16 = 0;
    fn encode_payload(&self, _: u64) -> (Bytes, Bytes) {
        (Bytes::new(), Bytes::new())
    }
    fn decode_payload(_: u16, _: Bytes, _: Bytes) -> Result<Self> {
        Ok(MonGetMap)
    }
}

/// MMonMap: an encoded MonMap.
#[derive(Debug, Clone, Default)]
pub struct MonMapMsg {
    pub monmap: Bytes,
}
impl Message for MonMapMsg {
    const TYPE: u16 = t::MON_MAP;
    const VERSION: u16 = 1;
    const COMPAT: u16 = 0;
    fn encode_payload(&self, f: u64) -> (Bytes, Bytes) {
        (front(f, |e| e.bufferlist(&self.monmap)), Bytes::new())
    }
    fn decode_payload(_: u16, fr: Bytes, _: Bytes) -> Result<Self> {
        Ok(MonMapMsg { monmap: Reader::new(fr).bufferlist()? })
    }
}

pub const SUBSCRIBE_ONETIME: u8 = 1;

/// MMonSubscribe v3: what → (start epoch, flags), plus our hostname.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MonSubscribe {
    pub what: BTreeMap<String, (u64, u8)>,
    pub hostname: String,
}
impl Message for MonSubscribe {
    const TYPE: u16 = t::MON_SUBSCRIBE;
    const VERSION: u16 = 3;
    const COMPAT: u16 = 1;
    fn encode_payload(&self, f: u64) -> (Bytes, Bytes) {
        (
            front(f, |e| {
                e.u32(self.what.len() as u32);
                for (k, (start, flags)) in &self.what {
                    e.string(k);
                    e.u64(*start);
                    e.u8(*flags);
                }
                e.string(&self.hostname);
            }),
            Bytes::new(),
        )
    }
    fn decode_payload(v: u16, fr: Bytes, _: Bytes) -> Result<Self> {
        let mut r = Reader::new(fr);
        if v < 2 {
            return denc::invalid("MMonSubscribe", format!("version {v} (pre-SUBSCRIBE2) is not supported"));
        }
        let n = r.count(13)?;
        let mut what = BTreeMap::new();
        for _ in 0..n {
            let k = r.string()?;
            let start = r.u64()?;
            let flags = r.u8()?;
            what.insert(k, (start, flags));
        }
        let hostname = if v >= 3 { r.string()? } else { String::new() };
        Ok(MonSubscribe { what, hostname })
    }
}

/// MMonSubscribeAck (only for peers without MON_STATEFUL_SUB).
#[derive(Debug, Clone, Default)]
pub struct MonSubscribeAck {
    pub interval: u32,
    pub fsid: Uuid,
}
impl Message for MonSubscribeAck {
    const TYPE: u16 = t::MON_SUBSCRIBE_ACK;
    const VERSION: u16 = 1;
    const COMPAT: u16 = 0;
    fn encode_payload(&self, f: u64) -> (Bytes, Bytes) {
        (front(f, |e| {
            e.u32(self.interval);
            self.fsid.encode(e);
        }), Bytes::new())
    }
    fn decode_payload(_: u16, fr: Bytes, _: Bytes) -> Result<Self> {
        let mut r = Reader::new(fr);
        Ok(MonSubscribeAck { interval: r.u32()?, fsid: Uuid::decode(&mut r)? })
    }
}

/// MAuth: a cephx request on an established mon session (ticket renewal).
#[derive(Debug, Clone, Default)]
pub struct Auth {
    pub protocol: u32,
    pub payload: Bytes,
    pub monmap_epoch: u32,
}
impl Message for Auth {
    const TYPE: u16 = t::AUTH;
    const VERSION: u16 = 1;
    const COMPAT: u16 = 0;
    fn encode_payload(&self, f: u64) -> (Bytes, Bytes) {
        (front(f, |e| {
            PaxosHeader { version: 0 }.encode(e);
            e.u32(self.protocol);
            e.bufferlist(&self.payload);
            e.u32(self.monmap_epoch);
        }), Bytes::new())
    }
    fn decode_payload(_: u16, fr: Bytes, _: Bytes) -> Result<Self> {
        let mut r = Reader::new(fr);
        PaxosHeader::decode(&mut r)?;
        let protocol = r.u32()?;
        let payload = r.bufferlist()?;
        let monmap_epoch = if r.remaining() >= 4 { r.u32()? } else { 0 };
        Ok(Auth { protocol, payload, monmap_epoch })
    }
}

/// MAuthReply.
#[derive(Debug, Clone, Default)]
pub struct AuthReply {
    pub protocol: u32,
    pub result: i32,
    pub global_id: u64,
    pub result_bl: Bytes,
    pub result_msg: String,
}
impl Message for AuthReply {
    const TYPE: u16 = t::AUTH_REPLY;
    const VERSION: u16 = 1;
    const COMPAT: u16 = 0;
    fn encode_payload(&self, f: u64) -> (Bytes, Bytes) {
        (front(f, |e| {
            e.u32(self.protocol);
            e.i32(self.result);
            e.u64(self.global_id);
            e.bufferlist(&self.result_bl);
            e.string(&self.result_msg);
        }), Bytes::new())
    }
    fn decode_payload(_: u16, fr: Bytes, _: Bytes) -> Result<Self> {
        let mut r = Reader::new(fr);
        Ok(AuthReply {
            protocol: r.u32()?,
            result: r.i32()?,
            global_id: r.u64()?,
            result_bl: r.bufferlist()?,
            result_msg: r.string()?,
        })
    }
}

/// MMonGetVersion: the newest epoch of a map ("osdmap", "mdsmap", ...).
#[derive(Debug, Clone, Default)]
pub struct MonGetVersion {
    pub handle: u64,
    pub what: String,
}
impl Message for MonGetVersion {
    const TYPE: u16 = t::MON_GET_VERSION;
    const VERSION: u16 = 1;
    const COMPAT: u16 = 0;
    fn encode_payload(&self, f: u64) -> (Bytes, Bytes) {
        (front(f, |e| {
            e.u64(self.handle);
            e.string(&self.what);
        }), Bytes::new())
    }
    fn decode_payload(_: u16, fr: Bytes, _: Bytes) -> Result<Self> {
        let mut r = Reader::new(fr);
        Ok(MonGetVersion { handle: r.u64()?, what: r.string()? })
    }
}

/// MMonGetVersionReply v2.
#[derive(Debug, Clone, Default)]
pub struct MonGetVersionReply {
    pub handle: u64,
    pub version: u64,
    pub oldest_version: u64,
}
impl Message for MonGetVersionReply {
    const TYPE: u16 = t::MON_GET_VERSION_REPLY;
    const VERSION: u16 = 2;
    const COMPAT: u16 = 0;
    fn encode_payload(&self, f: u64) -> (Bytes, Bytes) {
        (front(f, |e| {
            e.u64(self.handle);
            e.u64(self.version);
            e.u64(self.oldest_version);
        }), Bytes::new())
    }
    fn decode_payload(v: u16, fr: Bytes, _: Bytes) -> Result<Self> {
        let mut r = Reader::new(fr);
        let handle = r.u64()?;
        let version = r.u64()?;
        let oldest_version = if v >= 2 { r.u64()? } else { 0 };
        Ok(MonGetVersionReply { handle, version, oldest_version })
    }
}

/// MMonCommand: JSON command strings; input in the data segment.
#[derive(Debug, Clone, Default)]
pub struct MonCommand {
    pub fsid: Uuid,
    pub cmd: Vec<String>,
    pub inbl: Bytes,
}
impl Message for MonCommand {
    const TYPE: u16 = t::MON_COMMAND;
    const VERSION: u16 = 1;
    const COMPAT: u16 = 0;
    fn encode_payload(&self, f: u64) -> (Bytes, Bytes) {
        (front(f, |e| {
            PaxosHeader { version: 0 }.encode(e);
            self.fsid.encode(e);
            self.cmd.encode(e);
        }), self.inbl.clone())
    }
    fn decode_payload(_: u16, fr: Bytes, data: Bytes) -> Result<Self> {
        let mut r = Reader::new(fr);
        PaxosHeader::decode(&mut r)?;
        Ok(MonCommand { fsid: Uuid::decode(&mut r)?, cmd: Decode::decode(&mut r)?, inbl: data })
    }
}

/// MMonCommandAck: result, status string, echoed command; output in the data segment.
#[derive(Debug, Clone, Default)]
pub struct MonCommandAck {
    pub version: u64,
    pub r: i32,
    pub rs: String,
    pub cmd: Vec<String>,
    pub outbl: Bytes,
}
impl Message for MonCommandAck {
    const TYPE: u16 = t::MON_COMMAND_ACK;
    const VERSION: u16 = 1;
    const COMPAT: u16 = 0;
    fn encode_payload(&self, f: u64) -> (Bytes, Bytes) {
        (front(f, |e| {
            PaxosHeader { version: self.version }.encode(e);
            e.i32(self.r);
            e.string(&self.rs);
            self.cmd.encode(e);
        }), self.outbl.clone())
    }
    fn decode_payload(_: u16, fr: Bytes, data: Bytes) -> Result<Self> {
        let mut r = Reader::new(fr);
        let h = PaxosHeader::decode(&mut r)?;
        Ok(MonCommandAck { version: h.version, r: r.i32()?, rs: r.string()?, cmd: Decode::decode(&mut r)?, outbl: data })
    }
}

/// MConfig: the centralized config for this entity (may be empty, must be sent).
#[derive(Debug, Clone, Default)]
pub struct ConfigMsg {
    pub config: BTreeMap<String, String>,
}
impl Message for ConfigMsg {
    const TYPE: u16 = t::CONFIG;
    const VERSION: u16 = 1;
    const COMPAT: u16 = 1;
    fn encode_payload(&self, f: u64) -> (Bytes, Bytes) {
        (front(f, |e| self.config.encode(e)), Bytes::new())
    }
    fn decode_payload(_: u16, fr: Bytes, _: Bytes) -> Result<Self> {
        Ok(ConfigMsg { config: Decode::decode(&mut Reader::new(fr))? })
    }
}

/// MMgrMap: an encoded MgrMap in the front.
#[derive(Debug, Clone, Default)]
pub struct MgrMapMsg {
    pub map: Bytes,
}
impl Message for MgrMapMsg {
    const TYPE: u16 = t::MGR_MAP;
    const VERSION: u16 = 1;
    const COMPAT: u16 = 0;
    fn encode_payload(&self, _: u64) -> (Bytes, Bytes) {
        (self.map.clone(), Bytes::new())
    }
    fn decode_payload(_: u16, fr: Bytes, _: Bytes) -> Result<Self> {
        Ok(MgrMapMsg { map: fr })
    }
}

/// MOSDMap header: fsid, incremental and full maps keyed by epoch, oldest/newest.
#[derive(Debug, Clone, Default)]
pub struct OsdMapMsg {
    pub fsid: Uuid,
    pub incremental_maps: BTreeMap<u32, Bytes>,
    pub maps: BTreeMap<u32, Bytes>,
    pub oldest_map: u32,
    pub newest_map: u32,
}
impl Message for OsdMapMsg {
    const TYPE: u16 = t::OSD_MAP;
    const VERSION: u16 = 4;
    const COMPAT: u16 = 3;
    fn encode_payload(&self, f: u64) -> (Bytes, Bytes) {
        (front(f, |e| {
            self.fsid.encode(e);
            self.incremental_maps.encode(e);
            self.maps.encode(e);
            e.u32(self.oldest_map);
            e.u32(self.newest_map);
            e.u32(0); // gap_removed_snaps: always empty
        }), Bytes::new())
    }
    fn decode_payload(v: u16, fr: Bytes, _: Bytes) -> Result<Self> {
        let mut r = Reader::new(fr);
        let fsid = Uuid::decode(&mut r)?;
        let incremental_maps = Decode::decode(&mut r)?;
        let maps = Decode::decode(&mut r)?;
        let (oldest_map, newest_map) = if v >= 2 { (r.u32()?, r.u32()?) } else { (0, 0) };
        Ok(OsdMapMsg { fsid, incremental_maps, maps, oldest_map, newest_map })
    }
}

macro_rules! command_msg {
    ($name:ident, $reply:ident, $ty:expr, $rty:expr, $doc:literal, $rdoc:literal) => {
        #[doc = $doc]
        #[derive(Debug, Clone, Default)]
        pub struct $name {
            pub fsid: Uuid,
            pub cmd: Vec<String>,
            pub inbl: Bytes,
        }
        impl Message for $name {
            const TYPE: u16 = $ty;
            const VERSION: u16 = 1;
            const COMPAT: u16 = 0;
            fn encode_payload(&self, f: u64) -> (Bytes, Bytes) {
                (front(f, |e| {
                    self.fsid.encode(e);
                    self.cmd.encode(e);
                }), self.inbl.clone())
            }
            fn decode_payload(_: u16, fr: Bytes, data: Bytes) -> Result<Self> {
                let mut r = Reader::new(fr);
                Ok($name { fsid: Uuid::decode(&mut r)?, cmd: Decode::decode(&mut r)?, inbl: data })
            }
        }

        #[doc = $rdoc]
        #[derive(Debug, Clone, Default)]
        pub struct $reply {
            pub r: i32,
            pub rs: String,
            pub outbl: Bytes,
        }
        impl Message for $reply {
            const TYPE: u16 = $rty;
            const VERSION: u16 = 1;
            const COMPAT: u16 = 0;
            fn encode_payload(&self, f: u64) -> (Bytes, Bytes) {
                (front(f, |e| {
                    e.i32(self.r);
                    e.string(&self.rs);
                }), self.outbl.clone())
            }
            fn decode_payload(_: u16, fr: Bytes, data: Bytes) -> Result<Self> {
                let mut r = Reader::new(fr);
                Ok($reply { r: r.i32()?, rs: r.string()?, outbl: data })
            }
        }
    };
}

command_msg!(MgrCommand, MgrCommandReply, t::MGR_COMMAND, t::MGR_COMMAND_REPLY,
    "MMgrCommand: a CLI command for the active mgr (all-zero fsid).", "MMgrCommandReply.");
command_msg!(Command, CommandReply, t::COMMAND, t::COMMAND_REPLY,
    "MCommand: `tell` commands and pre-Octopus mgr commands.", "MCommandReply.");

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn rt<M: Message + std::fmt::Debug>(m: &M) -> M {
        let raw = m.to_raw(9, u64::MAX);
        assert_eq!(raw.header.tid, 9);
        M::from_raw(&raw).unwrap()
    }

    #[test]
    fn round_trips() {
        let mut what = BTreeMap::new();
        what.insert("monmap".to_string(), (3u64, 0u8));
        what.insert("config".to_string(), (0, 0));
        let s = MonSubscribe { what, hostname: "h".into() };
        assert_eq!(rt(&s), s);
        let c = rt(&MonCommand { fsid: Uuid([1; 16]), cmd: vec!["{}".into()], inbl: Bytes::from_static(b"in") });
        assert_eq!(c.cmd, vec!["{}"]);
        assert_eq!(&c.inbl[..], b"in");
        let a = rt(&MonCommandAck { version: 5, r: -2, rs: "nope".into(), cmd: vec![], outbl: Bytes::from_static(b"out") });
        assert_eq!((a.version, a.r, a.rs.as_str(), &a.outbl[..]), (5, -2, "nope", &b"out"[..]));
        let m = rt(&MgrCommandReply { r: 0, rs: "ok".into(), outbl: Bytes::from_static(b"x") });
        assert_eq!(m.rs, "ok");
        let v = rt(&MonGetVersionReply { handle: 1, version: 7, oldest_version: 1 });
        assert_eq!(v.version, 7);
    }

    #[test]
    fn paxos_header_is_18_bytes() {
        let (f, _) = MonCommand::default().encode_payload(0);
        assert_eq!(f.len(), 18 + 16 + 4);
        assert_eq!(&f[8..10], &[0xff, 0xff]);
    }

    proptest! {
        #[test]
        fn decoders_never_panic(front in proptest::collection::vec(any::<u8>(), 0..200), v in 0u16..5) {
            let f = Bytes::from(front);
            let _ = MonSubscribe::decode_payload(v, f.clone(), Bytes::new());
            let _ = MonCommand::decode_payload(v, f.clone(), Bytes::new());
            let _ = MonCommandAck::decode_payload(v, f.clone(), Bytes::new());
            let _ = Auth::decode_payload(v, f.clone(), Bytes::new());
            let _ = AuthReply::decode_payload(v, f.clone(), Bytes::new());
            let _ = ConfigMsg::decode_payload(v, f.clone(), Bytes::new());
            let _ = OsdMapMsg::decode_payload(v, f.clone(), Bytes::new());
            let _ = MgrCommandReply::decode_payload(v, f.clone(), Bytes::new());
            let _ = MonGetVersionReply::decode_payload(v, f.clone(), Bytes::new());
            let _ = MonMapMsg::decode_payload(v, f.clone(), Bytes::new());
            let _ = crate::MsgHeader::decode(f);
        }
    }
}

pub const POOL_OP_CREATE: u32 = 0x01;
pub const POOL_OP_DELETE: u32 = 0x02;
pub const POOL_OP_CREATE_SNAP: u32 = 0x11;
pub const POOL_OP_DELETE_SNAP: u32 = 0x12;
pub const POOL_OP_CREATE_UNMANAGED_SNAP: u32 = 0x21;
pub const POOL_OP_DELETE_UNMANAGED_SNAP: u32 = 0x22;

/// MPoolOp v4: pool create/delete and pool or self-managed snapshots.
#[derive(Debug, Clone, Default)]
pub struct PoolOp {
    pub fsid: Uuid,
    pub pool: u32,
    pub op: u32,
    pub auid: u64,
    pub snapid: u64,
    pub name: String,
    pub crush_rule: i16,
}
impl Message for PoolOp {
    const TYPE: u16 = 49;
    const VERSION: u16 = 4;
    const COMPAT: u16 = 2;
    fn encode_payload(&self, f: u64) -> (Bytes, Bytes) {
        (front(f, |e| {
            PaxosHeader { version: 0 }.encode(e);
            self.fsid.encode(e);
            e.u32(self.pool);
            e.u32(self.op);
            e.u64(self.auid);
            e.u64(self.snapid);
            e.string(&self.name);
            e.u8(0); // pad (v3 -> v4)
            e.i16(self.crush_rule);
        }), Bytes::new())
    }
    fn decode_payload(v: u16, fr: Bytes, _: Bytes) -> Result<Self> {
        let mut r = Reader::new(fr);
        PaxosHeader::decode(&mut r)?;
        let fsid = Uuid::decode(&mut r)?;
        let pool = r.u32()?;
        let mut name = if v < 2 { r.string()? } else { String::new() };
        let op = r.u32()?;
        let auid = r.u64()?;
        let snapid = r.u64()?;
        if v >= 2 {
            name = r.string()?;
        }
        let crush_rule = if v >= 3 {
            let pad = r.u8()?;
            if v >= 4 { r.i16()? } else { pad as i16 }
        } else {
            -1
        };
        Ok(PoolOp { fsid, pool, op, auid, snapid, name, crush_rule })
    }
}

/// MPoolOpReply.
#[derive(Debug, Clone, Default)]
pub struct PoolOpReply {
    pub fsid: Uuid,
    pub reply_code: i32,
    pub epoch: u32,
    pub response_data: Bytes,
}
impl Message for PoolOpReply {
    const TYPE: u16 = 48;
    const VERSION: u16 = 1;
    const COMPAT: u16 = 0;
    fn encode_payload(&self, f: u64) -> (Bytes, Bytes) {
        (front(f, |e| {
            PaxosHeader { version: 0 }.encode(e);
            self.fsid.encode(e);
            e.i32(self.reply_code);
            e.u32(self.epoch);
            if self.response_data.is_empty() {
                e.bool(false);
            } else {
                e.bool(true);
                e.bufferlist(&self.response_data);
            }
        }), Bytes::new())
    }
    fn decode_payload(_: u16, fr: Bytes, _: Bytes) -> Result<Self> {
        let mut r = Reader::new(fr);
        PaxosHeader::decode(&mut r)?;
        let fsid = Uuid::decode(&mut r)?;
        let reply_code = r.i32()?;
        let epoch = r.u32()?;
        let response_data = if r.bool()? { r.bufferlist()? } else { Bytes::new() };
        Ok(PoolOpReply { fsid, reply_code, epoch, response_data })
    }
}

/// MGetPoolStats (58): per-pool statistics for `rados df`.
#[derive(Debug, Clone, Default)]
pub struct GetPoolStats {
    pub fsid: Uuid,
    pub pools: Vec<String>,
}
impl Message for GetPoolStats {
    const TYPE: u16 = 58;
    const VERSION: u16 = 1;
    const COMPAT: u16 = 0;
    fn encode_payload(&self, f: u64) -> (Bytes, Bytes) {
        (front(f, |e| {
            PaxosHeader { version: 0 }.encode(e);
            self.fsid.encode(e);
            self.pools.encode(e);
        }), Bytes::new())
    }
    fn decode_payload(_: u16, fr: Bytes, _: Bytes) -> Result<Self> {
        let mut r = Reader::new(fr);
        PaxosHeader::decode(&mut r)?;
        Ok(GetPoolStats { fsid: Uuid::decode(&mut r)?, pools: Decode::decode(&mut r)? })
    }
}

/// The parts of `pool_stat_t` clients show: the first object_stat_sum_t
/// counters and the store statistics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStat {
    pub num_bytes: i64,
    pub num_objects: i64,
    pub num_object_clones: i64,
    pub num_object_copies: i64,
    pub num_objects_missing_on_primary: i64,
    pub num_objects_degraded: i64,
    pub num_objects_unfound: i64,
    pub num_rd: i64,
    pub num_rd_kb: i64,
    pub num_wr: i64,
    pub num_wr_kb: i64,
    /// store_statfs_t: allocated, data_stored, compressed, compressed allocated, compressed original, omap allocated
    pub allocated: i64,
    pub data_stored: i64,
    pub data_compressed: i64,
    pub data_compressed_allocated: i64,
    pub data_compressed_original: i64,
    pub omap_allocated: i64,
}

impl Decode for PoolStat {
    fn decode(r: &mut Reader) -> Result<Self> {
        let (v, mut b) = r.versioned(7, "pool_stat_t")?;
        if v < 7 {
            return denc::invalid("pool_stat_t", format!("version {v} is not supported"));
        }
        let mut s = PoolStat::default();
        {
            let (_, mut coll) = b.versioned(2, "object_stat_collection_t")?;
            let (_, mut sum) = coll.versioned(20, "object_stat_sum_t")?;
            for f in [
                &mut s.num_bytes,
                &mut s.num_objects,
                &mut s.num_object_clones,
                &mut s.num_object_copies,
                &mut s.num_objects_missing_on_primary,
                &mut s.num_objects_degraded,
                &mut s.num_objects_unfound,
                &mut s.num_rd,
                &mut s.num_rd_kb,
                &mut s.num_wr,
                &mut s.num_wr_kb,
            ] {
                *f = sum.i64()?;
            }
        }
        let _log_size = b.i64()?;
        let _ondisk_log_size = b.i64()?;
        let _up = b.i32()?;
        let _acting = b.i32()?;
        let (_, mut st) = b.versioned(1, "store_statfs_t")?;
        let _total = st.i64()?;
        let _available = st.i64()?;
        let _reserved = st.i64()?;
        s.allocated = st.i64()?;
        s.data_stored = st.i64()?;
        s.data_compressed = st.i64()?;
        s.data_compressed_allocated = st.i64()?;
        s.data_compressed_original = st.i64()?;
        s.omap_allocated = st.i64()?;
        Ok(s)
    }
}

/// MGetPoolStatsReply (59).
#[derive(Debug, Clone, Default)]
pub struct GetPoolStatsReply {
    pub fsid: Uuid,
    pub pool_stats: BTreeMap<String, PoolStat>,
    pub per_pool: bool,
}
impl GetPoolStatsReply {
    pub fn decode_msg(m: &crate::RawMessage) -> Result<Self> {
        let mut r = Reader::new(m.front.clone());
        PaxosHeader::decode(&mut r)?;
        let fsid = Uuid::decode(&mut r)?;
        let pool_stats = Decode::decode(&mut r)?;
        let per_pool = if m.header.version >= 2 && !r.is_empty() { r.bool()? } else { false };
        Ok(GetPoolStatsReply { fsid, pool_stats, per_pool })
    }
}

/// MStatfs (13).
#[derive(Debug, Clone, Default)]
pub struct Statfs {
    pub fsid: Uuid,
    pub data_pool: Option<i64>,
}
impl Message for Statfs {
    const TYPE: u16 = 13;
    const VERSION: u16 = 2;
    const COMPAT: u16 = 1;
    fn encode_payload(&self, f: u64) -> (Bytes, Bytes) {
        (front(f, |e| {
            PaxosHeader { version: 0 }.encode(e);
            self.fsid.encode(e);
            self.data_pool.encode(e);
        }), Bytes::new())
    }
    fn decode_payload(v: u16, fr: Bytes, _: Bytes) -> Result<Self> {
        let mut r = Reader::new(fr);
        PaxosHeader::decode(&mut r)?;
        let fsid = Uuid::decode(&mut r)?;
        let data_pool = if v >= 2 { Decode::decode(&mut r)? } else { None };
        Ok(Statfs { fsid, data_pool })
    }
}

/// MStatfsReply (14): `ceph_mon_statfs_reply` — cluster totals in KiB.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatfsReply {
    pub kb: u64,
    pub kb_used: u64,
    pub kb_avail: u64,
    pub num_objects: u64,
}
impl StatfsReply {
    pub fn decode_msg(m: &crate::RawMessage) -> Result<Self> {
        let mut r = Reader::new(m.front.clone());
        r.skip(16 + 8)?; // fsid, version
        Ok(StatfsReply { kb: r.u64()?, kb_used: r.u64()?, kb_avail: r.u64()?, num_objects: r.u64()? })
    }
}
