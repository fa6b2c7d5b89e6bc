//! Messages between our OSDs (replication, peering, recovery, heartbeats) and
//! the per-PG statistics OSDs report to the monitor.
//!
//! These are oxceph's own, carried over msgr2 like any Ceph message but with
//! type numbers in a range Ceph does not use (0x7e00..). Ceph's own
//! (MOSDRepOp, MOSDPGQuery, MOSDPGLog, MOSDPGPush, MOSDPing, MPGStats) carry
//! a great deal of state our simpler peering does not have; clients never see
//! any of these, so nothing a real client does depends on them.

use crate::Message;
use bytes::Bytes;
use denc::{Decode, Encode, Encoder, Reader, Result};
use std::collections::BTreeMap;
use types::osd::{EVersion, PgId, ReqId};

pub const MSG_REPOP: u16 = 0x7e01;
pub const MSG_REPOP_REPLY: u16 = 0x7e02;
pub const MSG_PG_QUERY: u16 = 0x7e03;
pub const MSG_PG_NOTIFY: u16 = 0x7e04;
pub const MSG_PG_PULL: u16 = 0x7e05;
pub const MSG_PG_PUSH: u16 = 0x7e06;
pub const MSG_PG_PUSH_ACK: u16 = 0x7e07;
pub const MSG_PING: u16 = 0x7e08;
pub const MSG_PG_STATS: u16 = 0x7e09;
pub const MSG_PG_REMOVE: u16 = 0x7e0a;

/// One PG log entry: which object a write changed, at which version, for which request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LogEntry {
    pub version: EVersion,
    pub user_version: u64,
    /// 1 = modify, 2 = delete.
    pub op: u8,
    /// Encoded object id (the store's ObjectId encoding).
    pub oid: Bytes,
    pub reqid: ReqId,
    /// What the write returned (for replies to resent requests).
    pub result: i32,
}

pub const LOG_MODIFY: u8 = 1;
pub const LOG_DELETE: u8 = 2;

impl Encode for LogEntry {
    fn encode(&self, e: &mut Encoder) {
        e.u8(1);
        self.version.encode(e);
        e.u64(self.user_version);
        e.u8(self.op);
        e.bufferlist(&self.oid);
        self.reqid.encode(e);
        e.i32(self.result);
    }
}
impl Decode for LogEntry {
    fn decode(r: &mut Reader) -> Result<Self> {
        r.u8()?;
        let (version, user_version, op) = (r.decode()?, r.u64()?, r.u8()?);
        // Log entries live as long as the PG log: own the name instead of
        // pinning the (possibly 4 MiB) message it arrived in.
        let oid = Bytes::copy_from_slice(&r.bufferlist()?);
        Ok(LogEntry { version, user_version, op, oid, reqid: r.decode()?, result: r.i32()? })
    }
}

/// What a PG copy knows about its own history.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PgInfo {
    pub pgid: PgId,
    /// Newest write this copy holds.
    pub last_update: EVersion,
    /// Oldest entry still in the log (entries after it are kept).
    pub log_tail: EVersion,
    /// Epoch in which this copy last became active.
    pub last_epoch_started: u32,
    /// Highest user version handed out in this PG.
    pub last_user_version: u64,
    /// The pool's pg_num this copy was split for (or created under); 0
    /// when unknown (written before v2). A copy behind the map splits.
    pub pg_num: u32,
    /// The copy's object count and bytes as of `last_update` (the
    /// primary's, which replicas take with each write, as Ceph's
    /// info.stats: a replica that becomes primary reports them).
    pub num_objects: u64,
    pub num_bytes: u64,
}
impl Encode for PgInfo {
    fn encode(&self, e: &mut Encoder) {
        e.u8(2);
        self.pgid.encode(e);
        self.last_update.encode(e);
        self.log_tail.encode(e);
        e.u32(self.last_epoch_started);
        e.u64(self.last_user_version);
        e.u32(self.pg_num);
        e.u64(self.num_objects);
        e.u64(self.num_bytes);
    }
}
impl Decode for PgInfo {
    fn decode(r: &mut Reader) -> Result<Self> {
        let v = r.u8()?;
        let mut i = PgInfo { pgid: r.decode()?, last_update: r.decode()?, log_tail: r.decode()?, last_epoch_started: r.u32()?, last_user_version: r.u64()?, ..Default::default() };
        if v >= 2 {
            i.pg_num = r.u32()?;
            i.num_objects = r.u64()?;
            i.num_bytes = r.u64()?;
        }
        Ok(i)
    }
}

fn list<T: Encode>(e: &mut Encoder, v: &[T]) {
    e.u32(v.len() as u32);
    for x in v {
        x.encode(e);
    }
}
fn read_list<T: Decode>(r: &mut Reader, min: usize) -> Result<Vec<T>> {
    let n = r.count(min)?;
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        v.push(T::decode(r)?);
    }
    Ok(v)
}

fn front(f: impl FnOnce(&mut Encoder)) -> Bytes {
    let mut e = Encoder::new(0);
    f(&mut e);
    e.into_bytes()
}

/// Primary → replica: apply this transaction (the client write, its log
/// entry and the PG info) for `version`.
#[derive(Debug, Clone, Default)]
pub struct RepOp {
    pub pgid: PgId,
    /// The map epoch the primary's interval started in; stale ones are refused.
    pub interval: u32,
    pub version: EVersion,
    /// The primary's last_update before this write: a replica that is not
    /// exactly there refuses, and the primary re-peers.
    pub prev: EVersion,
    /// The objectstore Transaction's ops, in its wire form.
    pub txn: Bytes,
    /// The transaction's write bytes (its wire form's data area), carried
    /// in the data segment so that they arrive page-aligned.
    pub data: Bytes,
}
impl Message for RepOp {
    const TYPE: u16 = MSG_REPOP;
    const VERSION: u16 = 2;
    const COMPAT: u16 = 2;
    fn encode_payload(&self, _: u64) -> (Bytes, Bytes) {
        (
            front(|e| {
                self.pgid.encode(e);
                e.u32(self.interval);
                self.version.encode(e);
                self.prev.encode(e);
                e.bufferlist(&self.txn);
            }),
            self.data.clone(),
        )
    }
    fn decode_payload(v: u16, f: Bytes, data: Bytes) -> Result<Self> {
        // Version 1 carried the whole transaction in the data segment.
        if v < Self::COMPAT {
            return denc::invalid("RepOp", format!("version {v} (older OSDs cannot replicate to this one)"));
        }
        let mut r = Reader::new(f);
        Ok(RepOp { pgid: r.decode()?, interval: r.u32()?, version: r.decode()?, prev: r.decode()?, txn: r.bufferlist()?, data })
    }
}

/// Replica → primary: committed (result 0) or refused.
#[derive(Debug, Clone, Default)]
pub struct RepOpReply {
    pub pgid: PgId,
    pub interval: u32,
    pub version: EVersion,
    pub result: i32,
}
impl Message for RepOpReply {
    const TYPE: u16 = MSG_REPOP_REPLY;
    const VERSION: u16 = 1;
    const COMPAT: u16 = 1;
    fn encode_payload(&self, _: u64) -> (Bytes, Bytes) {
        (
            front(|e| {
                self.pgid.encode(e);
                e.u32(self.interval);
                self.version.encode(e);
                e.i32(self.result);
            }),
            Bytes::new(),
        )
    }
    fn decode_payload(_: u16, f: Bytes, _: Bytes) -> Result<Self> {
        let mut r = Reader::new(f);
        Ok(RepOpReply { pgid: r.decode()?, interval: r.u32()?, version: r.decode()?, result: r.i32()? })
    }
}

/// Primary → any OSD: what do you hold of this PG? (answered by PgNotify)
#[derive(Debug, Clone, Default)]
pub struct PgQuery {
    pub pgid: PgId,
    pub interval: u32,
}
impl Message for PgQuery {
    const TYPE: u16 = MSG_PG_QUERY;
    const VERSION: u16 = 1;
    const COMPAT: u16 = 1;
    fn encode_payload(&self, _: u64) -> (Bytes, Bytes) {
        (
            front(|e| {
                self.pgid.encode(e);
                e.u32(self.interval);
            }),
            Bytes::new(),
        )
    }
    fn decode_payload(_: u16, f: Bytes, _: Bytes) -> Result<Self> {
        let mut r = Reader::new(f);
        Ok(PgQuery { pgid: r.decode()?, interval: r.u32()? })
    }
}

/// An OSD's answer to PgQuery: its info and log, or that it has no copy.
#[derive(Debug, Clone, Default)]
pub struct PgNotify {
    pub pgid: PgId,
    pub interval: u32,
    pub from: i32,
    pub exists: bool,
    pub info: PgInfo,
    pub log: Vec<LogEntry>,
}
impl Message for PgNotify {
    const TYPE: u16 = MSG_PG_NOTIFY;
    const VERSION: u16 = 1;
    const COMPAT: u16 = 1;
    fn encode_payload(&self, _: u64) -> (Bytes, Bytes) {
        (
            front(|e| {
                self.pgid.encode(e);
                e.u32(self.interval);
                e.i32(self.from);
                e.bool(self.exists);
                self.info.encode(e);
                list(e, &self.log);
            }),
            Bytes::new(),
        )
    }
    fn decode_payload(_: u16, f: Bytes, _: Bytes) -> Result<Self> {
        let mut r = Reader::new(f);
        Ok(PgNotify { pgid: r.decode()?, interval: r.u32()?, from: r.i32()?, exists: r.bool()?, info: r.decode()?, log: read_list(&mut r, 20)? })
    }
}

/// Primary → a stray (an OSD outside the PG's up and acting sets that
/// still holds a copy): the PG is clean without you, delete your copy.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PgRemove {
    pub pgid: PgId,
    /// The primary's map epoch when it sent this.
    pub epoch: u32,
}
impl Message for PgRemove {
    const TYPE: u16 = MSG_PG_REMOVE;
    const VERSION: u16 = 1;
    const COMPAT: u16 = 1;
    fn encode_payload(&self, _: u64) -> (Bytes, Bytes) {
        (
            front(|e| {
                self.pgid.encode(e);
                e.u32(self.epoch);
            }),
            Bytes::new(),
        )
    }
    fn decode_payload(_: u16, f: Bytes, _: Bytes) -> Result<Self> {
        let mut r = Reader::new(f);
        Ok(PgRemove { pgid: r.decode()?, epoch: r.u32()? })
    }
}

/// Primary → the OSD with the newest copy: send me what I miss. With
/// `since` None, everything (backfill); otherwise the objects the log
/// changed after `since`.
#[derive(Debug, Clone, Default)]
pub struct PgPull {
    pub pgid: PgId,
    pub interval: u32,
    pub since: Option<EVersion>,
}
impl Message for PgPull {
    const TYPE: u16 = MSG_PG_PULL;
    const VERSION: u16 = 1;
    const COMPAT: u16 = 1;
    fn encode_payload(&self, _: u64) -> (Bytes, Bytes) {
        (
            front(|e| {
                self.pgid.encode(e);
                e.u32(self.interval);
                e.bool(self.since.is_some());
                self.since.unwrap_or_default().encode(e);
            }),
            Bytes::new(),
        )
    }
    fn decode_payload(_: u16, f: Bytes, _: Bytes) -> Result<Self> {
        let mut r = Reader::new(f);
        let pgid = r.decode()?;
        let interval = r.u32()?;
        let has = r.bool()?;
        let v: EVersion = r.decode()?;
        Ok(PgPull { pgid, interval, since: has.then_some(v) })
    }
}

/// Recovery data: a batch of whole objects (as a store transaction that
/// recreates them), and on the last batch the sender's info and log, which
/// the receiver adopts. `reset` on the first batch of a backfill empties the
/// receiver's copy first.
#[derive(Debug, Clone, Default)]
pub struct PgPush {
    pub pgid: PgId,
    pub interval: u32,
    pub seq: u32,
    pub reset: bool,
    pub last: bool,
    pub info: PgInfo,
    pub log: Vec<LogEntry>,
    pub objects: u32,
    pub bytes: u64,
    /// The objectstore Transaction's ops, in its wire form.
    pub txn: Bytes,
    /// Its wire form's data area (the data segment).
    pub data: Bytes,
}
impl Message for PgPush {
    const TYPE: u16 = MSG_PG_PUSH;
    const VERSION: u16 = 2;
    const COMPAT: u16 = 2;
    fn encode_payload(&self, _: u64) -> (Bytes, Bytes) {
        (
            front(|e| {
                self.pgid.encode(e);
                e.u32(self.interval);
                e.u32(self.seq);
                e.bool(self.reset);
                e.bool(self.last);
                self.info.encode(e);
                list(e, &self.log);
                e.u32(self.objects);
                e.u64(self.bytes);
                e.bufferlist(&self.txn);
            }),
            self.data.clone(),
        )
    }
    fn decode_payload(v: u16, f: Bytes, data: Bytes) -> Result<Self> {
        if v < Self::COMPAT {
            return denc::invalid("PgPush", format!("version {v} (older OSDs cannot push to this one)"));
        }
        let mut r = Reader::new(f);
        Ok(PgPush {
            pgid: r.decode()?,
            interval: r.u32()?,
            seq: r.u32()?,
            reset: r.bool()?,
            last: r.bool()?,
            info: r.decode()?,
            log: read_list(&mut r, 20)?,
            objects: r.u32()?,
            bytes: r.u64()?,
            txn: r.bufferlist()?,
            data,
        })
    }
}

#[derive(Debug, Clone, Default)]
pub struct PgPushAck {
    pub pgid: PgId,
    pub interval: u32,
    pub seq: u32,
    pub from: i32,
    pub result: i32,
}
impl Message for PgPushAck {
    const TYPE: u16 = MSG_PG_PUSH_ACK;
    const VERSION: u16 = 1;
    const COMPAT: u16 = 1;
    fn encode_payload(&self, _: u64) -> (Bytes, Bytes) {
        (
            front(|e| {
                self.pgid.encode(e);
                e.u32(self.interval);
                e.u32(self.seq);
                e.i32(self.from);
                e.i32(self.result);
            }),
            Bytes::new(),
        )
    }
    fn decode_payload(_: u16, f: Bytes, _: Bytes) -> Result<Self> {
        let mut r = Reader::new(f);
        Ok(PgPushAck { pgid: r.decode()?, interval: r.u32()?, seq: r.u32()?, from: r.i32()?, result: r.i32()? })
    }
}

/// Heartbeat between OSDs: a ping, or (reply) its echo.
#[derive(Debug, Clone, Default)]
pub struct Ping {
    pub from: i32,
    pub epoch: u32,
    pub reply: bool,
    /// Sender's clock when the ping left (echoed back).
    pub stamp_ms: u64,
}
impl Message for Ping {
    const TYPE: u16 = MSG_PING;
    const VERSION: u16 = 1;
    const COMPAT: u16 = 1;
    fn encode_payload(&self, _: u64) -> (Bytes, Bytes) {
        (
            front(|e| {
                e.i32(self.from);
                e.u32(self.epoch);
                e.bool(self.reply);
                e.u64(self.stamp_ms);
            }),
            Bytes::new(),
        )
    }
    fn decode_payload(_: u16, f: Bytes, _: Bytes) -> Result<Self> {
        let mut r = Reader::new(f);
        Ok(Ping { from: r.i32()?, epoch: r.u32()?, reply: r.bool()?, stamp_ms: r.u64()? })
    }
}

/// PG state bits, as Ceph's `PG_STATE_*` (`src/osd/osd_types.h`).
pub mod pg_state {
    pub const ACTIVE: u64 = 1 << 1;
    pub const CLEAN: u64 = 1 << 2;
    pub const DOWN: u64 = 1 << 4;
    pub const RECOVERY_UNFOUND: u64 = 1 << 5;
    pub const BACKFILL_UNFOUND: u64 = 1 << 6;
    pub const PREMERGE: u64 = 1 << 7;
    pub const SCRUBBING: u64 = 1 << 8;
    pub const DEGRADED: u64 = 1 << 10;
    pub const INCONSISTENT: u64 = 1 << 11;
    pub const PEERING: u64 = 1 << 12;
    pub const REPAIR: u64 = 1 << 13;
    pub const RECOVERING: u64 = 1 << 14;
    pub const BACKFILL_WAIT: u64 = 1 << 15;
    pub const INCOMPLETE: u64 = 1 << 16;
    pub const STALE: u64 = 1 << 17;
    pub const REMAPPED: u64 = 1 << 18;
    pub const DEEP_SCRUB: u64 = 1 << 19;
    pub const BACKFILLING: u64 = 1 << 20;
    pub const BACKFILL_TOOFULL: u64 = 1 << 21;
    pub const RECOVERY_WAIT: u64 = 1 << 22;
    pub const UNDERSIZED: u64 = 1 << 23;
    pub const ACTIVATING: u64 = 1 << 24;
    pub const PEERED: u64 = 1 << 25;
    pub const SNAPTRIM: u64 = 1 << 26;
    pub const SNAPTRIM_WAIT: u64 = 1 << 27;
    pub const RECOVERY_TOOFULL: u64 = 1 << 28;
    pub const SNAPTRIM_ERROR: u64 = 1 << 29;
    pub const FORCED_RECOVERY: u64 = 1 << 30;
    pub const FORCED_BACKFILL: u64 = 1 << 31;
    pub const FAILED_REPAIR: u64 = 1 << 32;
    pub const LAGGY: u64 = 1 << 33;
    pub const WAIT: u64 = 1 << 34;

    /// A state's bit by its name (`pg_string_state`), as `pg ls` filters take them.
    pub fn from_name(name: &str) -> Option<u64> {
        match name {
            "scrubq" | "deep_scrub" => Some(DEEP_SCRUB),
            "backfill" => Some(BACKFILLING),
            "creating" | "unknown" => Some(0),
            n => NAMES.iter().find(|(_, x)| *x == n).map(|(b, _)| *b),
        }
    }

    /// `pg_state_string`: names joined with '+', in Ceph's order.
    pub fn to_string(s: u64) -> String {
        let v: Vec<&str> = NAMES.iter().filter(|(b, _)| s & b != 0).map(|(_, n)| *n).collect();
        if v.is_empty() {
            "unknown".into()
        } else {
            v.join("+")
        }
    }

    const NAMES: [(u64, &str); 30] = [
        (STALE, "stale"),
        (ACTIVE, "active"),
        (ACTIVATING, "activating"),
        (CLEAN, "clean"),
        (RECOVERY_WAIT, "recovery_wait"),
        (RECOVERY_TOOFULL, "recovery_toofull"),
        (RECOVERING, "recovering"),
        (FORCED_RECOVERY, "forced_recovery"),
        (DOWN, "down"),
        (RECOVERY_UNFOUND, "recovery_unfound"),
        (BACKFILL_UNFOUND, "backfill_unfound"),
        (UNDERSIZED, "undersized"),
        (DEGRADED, "degraded"),
        (REMAPPED, "remapped"),
        (PREMERGE, "premerge"),
        (SCRUBBING, "scrubbing"),
        (DEEP_SCRUB, "deep"),
        (INCONSISTENT, "inconsistent"),
        (PEERING, "peering"),
        (REPAIR, "repair"),
        (BACKFILL_WAIT, "backfill_wait"),
        (BACKFILLING, "backfilling"),
        (FORCED_BACKFILL, "forced_backfill"),
        (BACKFILL_TOOFULL, "backfill_toofull"),
        (INCOMPLETE, "incomplete"),
        (PEERED, "peered"),
        (SNAPTRIM, "snaptrim"),
        (SNAPTRIM_WAIT, "snaptrim_wait"),
        (SNAPTRIM_ERROR, "snaptrim_error"),
        (LAGGY, "laggy"),
    ];
}

/// One PG's numbers, as its primary reports them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PgStat {
    pub pgid: PgId,
    pub state: u64,
    pub reported_epoch: u32,
    pub version: EVersion,
    pub up: Vec<i32>,
    pub acting: Vec<i32>,
    pub num_objects: u64,
    pub num_bytes: u64,
    pub num_omap_bytes: u64,
    pub num_omap_keys: u64,
    pub num_objects_degraded: u64,
    pub num_objects_misplaced: u64,
    pub num_objects_unfound: u64,
    pub num_rd: u64,
    pub num_rd_kb: u64,
    pub num_wr: u64,
    pub num_wr_kb: u64,
    pub log_size: u64,
    /// Seconds since the epoch of the last state change.
    pub last_change: u64,
    /// Snaps of `removed_snaps_queue` this PG has trimmed (start → length),
    /// as the primary reports them (Ceph's `pg_stat_t::purged_snaps`).
    pub purged_snaps: BTreeMap<u64, u64>,
    /// Down OSDs a `down` PG waits for (Ceph's `pg_stat_t::blocked_by`).
    pub blocked_by: Vec<i32>,
    /// Epoch in which the primary last saw the PG clean (0: never). The
    /// mon keeps every osdmap since the oldest of these, so peering always
    /// finds the maps it walks.
    pub last_epoch_clean: u32,
}
impl PgStat {
    /// The oldest osdmap epoch this PG may still need (Ceph's
    /// `get_effective_last_epoch_clean`): the epoch of this report if the
    /// PG is clean, else the last epoch it was.
    pub fn effective_last_epoch_clean(&self) -> u32 {
        if self.state & pg_state::CLEAN != 0 {
            self.reported_epoch
        } else {
            self.last_epoch_clean
        }
    }
}
impl Encode for PgStat {
    fn encode(&self, e: &mut Encoder) {
        e.u8(4);
        self.pgid.encode(e);
        e.u64(self.state);
        e.u32(self.reported_epoch);
        self.version.encode(e);
        self.up.encode(e);
        self.acting.encode(e);
        for v in [
            self.num_objects,
            self.num_bytes,
            self.num_omap_bytes,
            self.num_omap_keys,
            self.num_objects_degraded,
            self.num_objects_misplaced,
            self.num_objects_unfound,
            self.num_rd,
            self.num_rd_kb,
            self.num_wr,
            self.num_wr_kb,
            self.log_size,
            self.last_change,
        ] {
            e.u64(v);
        }
        self.purged_snaps.encode(e);
        self.blocked_by.encode(e);
        e.u32(self.last_epoch_clean);
    }
}
impl Decode for PgStat {
    fn decode(r: &mut Reader) -> Result<Self> {
        let v = r.u8()?;
        Ok(PgStat {
            pgid: r.decode()?,
            state: r.u64()?,
            reported_epoch: r.u32()?,
            version: r.decode()?,
            up: r.decode()?,
            acting: r.decode()?,
            num_objects: r.u64()?,
            num_bytes: r.u64()?,
            num_omap_bytes: r.u64()?,
            num_omap_keys: r.u64()?,
            num_objects_degraded: r.u64()?,
            num_objects_misplaced: r.u64()?,
            num_objects_unfound: r.u64()?,
            num_rd: r.u64()?,
            num_rd_kb: r.u64()?,
            num_wr: r.u64()?,
            num_wr_kb: r.u64()?,
            log_size: r.u64()?,
            last_change: r.u64()?,
            purged_snaps: if v >= 2 { r.decode()? } else { BTreeMap::new() },
            blocked_by: if v >= 3 { r.decode()? } else { Vec::new() },
            last_epoch_clean: if v >= 4 { r.u32()? } else { 0 },
        })
    }
}

/// OSD → mon: its PGs (those it is primary for) and its store usage.
#[derive(Debug, Clone, Default)]
pub struct PgStats {
    pub osd: i32,
    pub epoch: u32,
    pub pgs: Vec<PgStat>,
    pub kb_total: u64,
    pub kb_used: u64,
    pub kb_used_data: u64,
    pub kb_used_omap: u64,
    pub kb_used_meta: u64,
    pub num_pgs: u32,
    /// Heartbeat peers (up OSDs it talks to).
    pub hb_peers: Vec<i32>,
    pub op_w: u64,
    pub op_r: u64,
    /// A usage state injected by `ceph tell osd.N injectfull` (the map's
    /// OSD_FULL / OSD_BACKFILLFULL / OSD_NEARFULL bit, or 0 for none): the
    /// mon takes it instead of the one the usage gives (version 2).
    pub injected_full: u32,
}
impl Message for PgStats {
    const TYPE: u16 = MSG_PG_STATS;
    const VERSION: u16 = 2;
    const COMPAT: u16 = 1;
    fn encode_payload(&self, _: u64) -> (Bytes, Bytes) {
        (
            front(|e| {
                e.i32(self.osd);
                e.u32(self.epoch);
                list(e, &self.pgs);
                for v in [self.kb_total, self.kb_used, self.kb_used_data, self.kb_used_omap, self.kb_used_meta] {
                    e.u64(v);
                }
                e.u32(self.num_pgs);
                self.hb_peers.encode(e);
                e.u64(self.op_w);
                e.u64(self.op_r);
                e.u32(self.injected_full);
            }),
            Bytes::new(),
        )
    }
    fn decode_payload(version: u16, f: Bytes, _: Bytes) -> Result<Self> {
        let mut r = Reader::new(f);
        Ok(PgStats {
            osd: r.i32()?,
            epoch: r.u32()?,
            pgs: read_list(&mut r, 40)?,
            kb_total: r.u64()?,
            kb_used: r.u64()?,
            kb_used_data: r.u64()?,
            kb_used_omap: r.u64()?,
            kb_used_meta: r.u64()?,
            num_pgs: r.u32()?,
            hb_peers: r.decode()?,
            op_w: r.u64()?,
            op_r: r.u64()?,
            injected_full: if version >= 2 { r.u32()? } else { 0 },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn round_trips() {
        let n = PgNotify {
            pgid: PgId { pool: 1, seed: 3 },
            interval: 9,
            from: 2,
            exists: true,
            info: PgInfo { last_update: EVersion { version: 5, epoch: 7 }, ..Default::default() },
            log: vec![LogEntry { version: EVersion { version: 5, epoch: 7 }, op: LOG_DELETE, oid: Bytes::from_static(b"x"), ..Default::default() }],
        };
        let b = PgNotify::from_raw(&n.to_raw(1, 0)).unwrap();
        assert_eq!(b.log, n.log);
        assert_eq!(b.info, n.info);
        let s = PgStats { osd: 1, pgs: vec![PgStat { state: pg_state::ACTIVE | pg_state::CLEAN, num_objects: 4, blocked_by: vec![2], ..Default::default() }], ..Default::default() };
        let b = PgStats::from_raw(&s.to_raw(1, 0)).unwrap();
        assert_eq!(b.pgs, s.pgs);
        assert_eq!(pg_state::to_string(b.pgs[0].state), "active+clean");
        // An injected full state rides at the end (version 2); a version 1
        // sender has none.
        let s2 = PgStats { injected_full: 1 << 4, ..s.clone() };
        let raw = s2.to_raw(1, 0);
        assert_eq!(PgStats::from_raw(&raw).unwrap().injected_full, 1 << 4);
        let v1 = PgStats::decode_payload(1, raw.front.slice(..raw.front.len() - 4), Bytes::new()).unwrap();
        assert_eq!((v1.injected_full, v1.pgs), (0, s.pgs.clone()));
        assert_eq!(pg_state::to_string(pg_state::ACTIVE | pg_state::UNDERSIZED | pg_state::DEGRADED), "active+undersized+degraded");
        assert_eq!(pg_state::to_string(pg_state::PEERED | pg_state::UNDERSIZED | pg_state::DEGRADED), "undersized+degraded+peered");
        let r = PgRemove { pgid: PgId { pool: 2, seed: 1 }, epoch: 40 };
        assert_eq!(PgRemove::from_raw(&r.to_raw(1, 0)).unwrap(), r);
        // The transaction's ops travel in the front, its write bytes in the data segment.
        let (txn, data) = (Bytes::from_static(b"ops"), Bytes::from(vec![7u8; 70000]));
        let m = RepOp { pgid: PgId { pool: 1, seed: 2 }, interval: 3, version: EVersion { version: 9, epoch: 3 }, prev: EVersion { version: 8, epoch: 3 }, txn: txn.clone(), data: data.clone() };
        let raw = m.to_raw(1, 0);
        assert_eq!(raw.data, data);
        let b = RepOp::from_raw(&raw).unwrap();
        assert_eq!((b.pgid, b.interval, b.version, b.prev, b.txn, b.data), (m.pgid, 3, m.version, m.prev, txn.clone(), data.clone()));
        let p = PgPush { pgid: PgId { pool: 1, seed: 2 }, seq: 4, last: true, objects: 1, bytes: 70000, txn: txn.clone(), data: data.clone(), ..Default::default() };
        let b = PgPush::from_raw(&p.to_raw(1, 0)).unwrap();
        assert_eq!((b.seq, b.last, b.objects, b.bytes, b.txn, b.data), (4, true, 1, 70000, txn, data));
    }

    proptest! {
        #[test]
        fn decoders_never_panic(front in proptest::collection::vec(any::<u8>(), 0..200)) {
            let f = Bytes::from(front);
            let _ = RepOp::decode_payload(RepOp::VERSION, f.clone(), Bytes::new());
            let _ = RepOpReply::decode_payload(1, f.clone(), Bytes::new());
            let _ = PgQuery::decode_payload(1, f.clone(), Bytes::new());
            let _ = PgNotify::decode_payload(1, f.clone(), Bytes::new());
            let _ = PgPull::decode_payload(1, f.clone(), Bytes::new());
            let _ = PgPush::decode_payload(PgPush::VERSION, f.clone(), Bytes::new());
            let _ = PgPushAck::decode_payload(1, f.clone(), Bytes::new());
            let _ = Ping::decode_payload(1, f.clone(), Bytes::new());
            let _ = PgRemove::decode_payload(1, f.clone(), Bytes::new());
            let _ = PgStats::decode_payload(1, f.clone(), Bytes::new());
            let _ = PgStats::decode_payload(2, f, Bytes::new());
        }
    }
}
