//! MOSDOp / MOSDOpReply (Pacific, v8) and the packed `ceph_osd_op`.

use crate::Message;
use bytes::{BufMut, Bytes, BytesMut};
use denc::{Decode, Encode, Encoder, Reader, Result, Utime};
use types::osd::{EVersion, ObjectLocator, PgId, ReqId, SpgId};

pub const MSG_OSD_OP: u16 = 42;
pub const MSG_OSD_OPREPLY: u16 = 43;
pub const MSG_WATCH_NOTIFY: u16 = 44;

/// Op codes (`src/include/rados.h`): mode | type | n.
pub mod opcode {
    pub const READ: u16 = 0x1201;
    pub const STAT: u16 = 0x1202;
    pub const SPARSE_READ: u16 = 0x1205;
    pub const NOTIFY: u16 = 0x1206;
    pub const NOTIFY_ACK: u16 = 0x1207;
    pub const ASSERT_VER: u16 = 0x1208;
    pub const LIST_WATCHERS: u16 = 0x1209;
    pub const LIST_SNAPS: u16 = 0x120a;
    pub const WRITE: u16 = 0x2201;
    pub const WRITEFULL: u16 = 0x2202;
    pub const TRUNCATE: u16 = 0x2203;
    pub const ZERO: u16 = 0x2204;
    pub const DELETE: u16 = 0x2205;
    pub const APPEND: u16 = 0x2206;
    pub const CREATE: u16 = 0x220d;
    pub const ROLLBACK: u16 = 0x220e;
    pub const WATCH: u16 = 0x220f;
    pub const OMAPGETKEYS: u16 = 0x1211;
    pub const OMAPGETVALS: u16 = 0x1212;
    pub const OMAPGETHEADER: u16 = 0x1213;
    pub const OMAPGETVALSBYKEYS: u16 = 0x1214;
    pub const OMAPSETVALS: u16 = 0x2215;
    pub const OMAPSETHEADER: u16 = 0x2216;
    pub const OMAPCLEAR: u16 = 0x2217;
    pub const OMAPRMKEYS: u16 = 0x2218;
    pub const OMAP_CMP: u16 = 0x1219;
    pub const SETALLOCHINT: u16 = 0x2223;
    pub const GETXATTR: u16 = 0x1301;
    pub const GETXATTRS: u16 = 0x1302;
    pub const CMPXATTR: u16 = 0x1303;
    pub const SETXATTR: u16 = 0x2301;
    pub const RMXATTR: u16 = 0x2304;
    pub const CALL: u16 = 0x1401;
    pub const PGLS: u16 = 0x1501;
    pub const PGNLS: u16 = 0x1505;

    pub fn is_write(op: u16) -> bool {
        op & 0x2000 != 0
    }
    pub fn is_read(op: u16) -> bool {
        op & 0x1000 != 0
    }
    pub fn is_pg_op(op: u16) -> bool {
        op & 0x0f00 == 0x0500
    }
}

/// MOSDOp flags (`CEPH_OSD_FLAG_*`).
pub mod flags {
    pub const ACK: u32 = 0x0001;
    pub const ONNVRAM: u32 = 0x0002;
    pub const ONDISK: u32 = 0x0004;
    pub const RETRY: u32 = 0x0008;
    pub const READ: u32 = 0x0010;
    pub const WRITE: u32 = 0x0020;
    pub const ORDERSNAP: u32 = 0x0040;
    /// Use the op's SnapContext even in a pool-snapshot pool.
    pub const ENFORCE_SNAPC: u32 = 0x100000;
    pub const PEERSTAT_OLD: u32 = 0x0080;
    pub const BALANCE_READS: u32 = 0x0100;
    pub const PARALLELEXEC: u32 = 0x0200;
    pub const PGOP: u32 = 0x0400;
    pub const EXEC: u32 = 0x0800;
    pub const KNOWN_REDIR: u32 = 0x400000;
    pub const FULL_TRY: u32 = 0x800000;
    pub const FULL_FORCE: u32 = 0x1000000;
    pub const IGNORE_OVERLAY: u32 = 0x20000;
    pub const REDIRECTED: u32 = 0x40000;
}

/// One `ceph_osd_op`: 38 packed bytes on the wire, plus its input (request)
/// or output (reply) data carried in the message's data segment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OsdOp {
    pub op: u16,
    pub flags: u32,
    /// The 28-byte union (extent, xattr, cls, pgls, watch, ...), little-endian.
    pub args: [u8; 28],
    pub data: Bytes,
    /// Reply only: this op's return value.
    pub rval: i32,
}

impl OsdOp {
    pub fn new(op: u16) -> Self {
        OsdOp { op, ..Default::default() }
    }
    fn put(&mut self, off: usize, b: &[u8]) {
        self.args[off..off + b.len()].copy_from_slice(b);
    }
    pub fn u64_at(&self, off: usize) -> u64 {
        u64::from_le_bytes(self.args[off..off + 8].try_into().expect("8"))
    }
    pub fn u32_at(&self, off: usize) -> u32 {
        u32::from_le_bytes(self.args[off..off + 4].try_into().expect("4"))
    }
    /// extent: offset, length, truncate_size, truncate_seq.
    pub fn extent(op: u16, offset: u64, length: u64, data: Bytes) -> Self {
        let mut o = OsdOp::new(op);
        o.put(0, &offset.to_le_bytes());
        o.put(8, &length.to_le_bytes());
        o.data = data;
        o
    }
    /// xattr: name_len, value_len, cmp_op, cmp_mode; data = name + value.
    pub fn xattr(op: u16, name: &str, value: &[u8]) -> Self {
        let mut o = OsdOp::new(op);
        o.put(0, &(name.len() as u32).to_le_bytes());
        o.put(4, &(value.len() as u32).to_le_bytes());
        let mut d = BytesMut::with_capacity(name.len() + value.len());
        d.put_slice(name.as_bytes());
        d.put_slice(value);
        o.data = d.freeze();
        o
    }
    /// cls call: class_len, method_len, argc, indata_len; data = class + method + input.
    pub fn call(class: &str, method: &str, input: &[u8]) -> Self {
        let mut o = OsdOp::new(opcode::CALL);
        o.args[0] = class.len() as u8;
        o.args[1] = method.len() as u8;
        o.put(3, &(input.len() as u32).to_le_bytes());
        let mut d = BytesMut::new();
        d.put_slice(class.as_bytes());
        d.put_slice(method.as_bytes());
        d.put_slice(input);
        o.data = d.freeze();
        o
    }
    /// pgls: count, start_epoch; data = the hobject_t cursor.
    pub fn pgls(op: u16, count: u64, start_epoch: u32, cursor: Bytes) -> Self {
        let mut o = OsdOp::new(op);
        o.put(0, &count.to_le_bytes());
        o.put(8, &start_epoch.to_le_bytes());
        o.data = cursor;
        o
    }
    /// Generic op with raw input data.
    pub fn with_data(op: u16, data: Bytes) -> Self {
        let mut o = OsdOp::new(op);
        o.data = data;
        o
    }

    fn encode_head(&self, e: &mut Encoder, payload_len: u32) {
        e.u16(self.op);
        e.u32(self.flags);
        e.raw(&self.args);
        e.u32(payload_len);
    }
    fn decode_head(r: &mut Reader) -> Result<(OsdOp, u32)> {
        let op = r.u16()?;
        let flags = r.u32()?;
        let args = r.array::<28>()?;
        let len = r.u32()?;
        Ok((OsdOp { op, flags, args, ..Default::default() }, len))
    }
}

/// Splits a data segment into each op's share by their payload lengths.
fn split_data(ops: &mut [OsdOp], lens: &[u32], data: &Bytes) -> Result<()> {
    let mut off = 0usize;
    for (op, len) in ops.iter_mut().zip(lens) {
        let l = *len as usize;
        if off + l > data.len() {
            return denc::invalid("osd op data", format!("op wants {l} bytes at {off}, data has {}", data.len()));
        }
        op.data = data.slice(off..off + l);
        off += l;
    }
    Ok(())
}

fn join_data(ops: &[OsdOp]) -> Bytes {
    match ops.iter().filter(|o| !o.data.is_empty()).count() {
        0 => Bytes::new(),
        1 => ops.iter().find(|o| !o.data.is_empty()).map(|o| o.data.clone()).unwrap_or_default(),
        _ => {
            let mut b = BytesMut::with_capacity(ops.iter().map(|o| o.data.len()).sum());
            for o in ops {
                b.put_slice(&o.data);
            }
            b.freeze()
        }
    }
}

/// MOSDOp v8.
#[derive(Debug, Clone, Default)]
pub struct OsdOpMsg {
    pub pgid: SpgId,
    pub hash: u32,
    pub osdmap_epoch: u32,
    pub flags: u32,
    pub reqid: ReqId,
    pub client_inc: u32,
    pub mtime: Utime,
    pub oloc: ObjectLocator,
    pub oid: String,
    pub ops: Vec<OsdOp>,
    pub snapid: u64,
    pub snap_seq: u64,
    pub snaps: Vec<u64>,
    pub retry_attempt: i32,
    pub features: u64,
}

impl Message for OsdOpMsg {
    const TYPE: u16 = MSG_OSD_OP;
    const VERSION: u16 = 8;
    const COMPAT: u16 = 3;
    const PRIORITY: u16 = 63; // CEPH_MSG_PRIO_DEFAULT for client ops is 63 in Objecter

    fn encode_payload(&self, features: u64) -> (Bytes, Bytes) {
        let mut e = Encoder::new(features);
        self.pgid.encode(&mut e);
        e.u32(self.hash);
        e.u32(self.osdmap_epoch);
        e.u32(self.flags);
        self.reqid.encode(&mut e);
        e.raw(&[0u8; 24]); // blkin trace: trace_id, span_id, parent_span_id
        e.u32(self.client_inc);
        self.mtime.encode(&mut e);
        self.oloc.encode(&mut e);
        e.string(&self.oid);
        e.u16(self.ops.len() as u16);
        for op in &self.ops {
            op.encode_head(&mut e, op.data.len() as u32);
        }
        e.u64(self.snapid);
        e.u64(self.snap_seq);
        self.snaps.encode(&mut e);
        e.i32(self.retry_attempt);
        e.u64(self.features);
        (e.into_bytes(), join_data(&self.ops))
    }

    fn decode_payload(v: u16, front: Bytes, data: Bytes) -> Result<Self> {
        if v < 8 {
            return denc::invalid("MOSDOp", format!("version {v} (pre-Nautilus) is not supported"));
        }
        let mut r = Reader::new(front);
        let pgid = SpgId::decode(&mut r)?;
        let hash = r.u32()?;
        let osdmap_epoch = r.u32()?;
        let flags = r.u32()?;
        let reqid = ReqId::decode(&mut r)?;
        r.skip(24)?;
        let client_inc = r.u32()?;
        let mtime = Utime::decode(&mut r)?;
        let oloc = ObjectLocator::decode(&mut r)?;
        let oid = r.string()?;
        let n = r.u16()? as usize;
        if n * 38 > r.remaining() {
            return denc::invalid("MOSDOp", format!("{n} ops cannot fit"));
        }
        let mut ops = Vec::with_capacity(n);
        let mut lens = Vec::with_capacity(n);
        for _ in 0..n {
            let (op, len) = OsdOp::decode_head(&mut r)?;
            ops.push(op);
            lens.push(len);
        }
        split_data(&mut ops, &lens, &data)?;
        Ok(OsdOpMsg {
            pgid,
            hash,
            osdmap_epoch,
            flags,
            reqid,
            client_inc,
            mtime,
            oloc,
            oid,
            ops,
            snapid: r.u64()?,
            snap_seq: r.u64()?,
            snaps: Decode::decode(&mut r)?,
            retry_attempt: r.i32()?,
            features: r.u64()?,
        })
    }
}

/// MOSDOpReply v8.
#[derive(Debug, Clone, Default)]
pub struct OsdOpReply {
    pub oid: String,
    pub pgid: PgId,
    pub flags: i64,
    pub result: i32,
    pub bad_replay_version: EVersion,
    pub osdmap_epoch: u32,
    pub ops: Vec<OsdOp>,
    pub retry_attempt: i32,
    pub replay_version: EVersion,
    pub user_version: u64,
    /// Encoded `request_redirect_t`, when the OSD redirects us.
    pub redirect: Option<Bytes>,
}

impl Message for OsdOpReply {
    const TYPE: u16 = MSG_OSD_OPREPLY;
    const VERSION: u16 = 8;
    const COMPAT: u16 = 2;

    fn encode_payload(&self, features: u64) -> (Bytes, Bytes) {
        let mut e = Encoder::new(features);
        e.string(&self.oid);
        self.pgid.encode(&mut e);
        e.i64(self.flags);
        e.i32(self.result);
        self.bad_replay_version.encode(&mut e);
        e.u32(self.osdmap_epoch);
        e.u32(self.ops.len() as u32);
        for op in &self.ops {
            op.encode_head(&mut e, op.data.len() as u32);
        }
        e.i32(self.retry_attempt);
        for op in &self.ops {
            e.i32(op.rval);
        }
        self.replay_version.encode(&mut e);
        e.u64(self.user_version);
        match &self.redirect {
            Some(r) => {
                e.bool(true);
                e.raw(r);
            }
            None => e.bool(false),
        }
        e.raw(&[0u8; 24]);
        (e.into_bytes(), join_data(&self.ops))
    }

    fn decode_payload(v: u16, front: Bytes, data: Bytes) -> Result<Self> {
        if v < 7 {
            return denc::invalid("MOSDOpReply", format!("version {v} is not supported"));
        }
        let mut r = Reader::new(front);
        let oid = r.string()?;
        let pgid = PgId::decode(&mut r)?;
        let flags = r.i64()?;
        let result = r.i32()?;
        let bad_replay_version = EVersion::decode(&mut r)?;
        let osdmap_epoch = r.u32()?;
        let n = r.count(38)?;
        let mut ops = Vec::with_capacity(n);
        let mut lens = Vec::with_capacity(n);
        for _ in 0..n {
            let (op, len) = OsdOp::decode_head(&mut r)?;
            ops.push(op);
            lens.push(len);
        }
        let retry_attempt = r.i32()?;
        for op in ops.iter_mut() {
            op.rval = r.i32()?;
        }
        split_data(&mut ops, &lens, &data)?;
        let replay_version = EVersion::decode(&mut r)?;
        let user_version = r.u64()?;
        let redirect = if r.bool()? {
            let rest = r.peek_rest().clone();
            let before = r.remaining();
            r.skip_versioned("request_redirect_t")?;
            Some(rest.slice(..before - r.remaining()))
        } else {
            None
        };
        Ok(OsdOpReply { oid, pgid, flags, result, bad_replay_version, osdmap_epoch, ops, retry_attempt, replay_version, user_version, redirect })
    }
}

pub const WATCH_NOTIFY: u8 = 1;
pub const WATCH_NOTIFY_COMPLETE: u8 = 2;
pub const WATCH_DISCONNECT: u8 = 3;

pub const WATCH_OP_UNWATCH: u8 = 0;
pub const WATCH_OP_WATCH: u8 = 3;
pub const WATCH_OP_RECONNECT: u8 = 5;
pub const WATCH_OP_PING: u8 = 7;

/// MWatchNotify v3: a notify for a watcher, or a notify's completion for the
/// notifier.
#[derive(Debug, Clone, Default)]
pub struct WatchNotify {
    pub opcode: u8,
    pub cookie: u64,
    pub ver: u64,
    pub notify_id: u64,
    pub bl: Bytes,
    pub return_code: i32,
    pub notifier_gid: u64,
    /// NOTIFY_COMPLETE carries the watchers' replies here, in the data segment.
    pub data: Bytes,
}

impl Message for WatchNotify {
    const TYPE: u16 = MSG_WATCH_NOTIFY;
    const VERSION: u16 = 3;
    const COMPAT: u16 = 1;
    fn encode_payload(&self, features: u64) -> (Bytes, Bytes) {
        let mut e = Encoder::new(features);
        e.u8(1);
        e.u8(self.opcode);
        e.u64(self.cookie);
        e.u64(self.ver);
        e.u64(self.notify_id);
        e.bufferlist(&self.bl);
        e.i32(self.return_code);
        e.u64(self.notifier_gid);
        (e.into_bytes(), self.data.clone())
    }
    fn decode_payload(v: u16, front: Bytes, data: Bytes) -> Result<Self> {
        let mut r = Reader::new(front);
        r.u8()?;
        let opcode = r.u8()?;
        let cookie = r.u64()?;
        let ver = r.u64()?;
        let notify_id = r.u64()?;
        let bl = if v >= 1 { r.bufferlist()? } else { Bytes::new() };
        let return_code = if v >= 2 { r.i32()? } else { 0 };
        let notifier_gid = if v >= 3 { r.u64()? } else { 0 };
        Ok(WatchNotify { opcode, cookie, ver, notify_id, bl, return_code, notifier_gid, data })
    }
}

impl OsdOp {
    /// watch: cookie, ver (unused), op, gen, timeout.
    pub fn watch(cookie: u64, op: u8, timeout: u32) -> Self {
        let mut o = OsdOp::new(opcode::WATCH);
        o.put(0, &cookie.to_le_bytes());
        o.args[16] = op;
        o.put(21, &timeout.to_le_bytes());
        o
    }
}

pub const MSG_OSD_BACKOFF: u16 = 127;
pub const BACKOFF_OP_BLOCK: u8 = 1;
pub const BACKOFF_OP_ACK_BLOCK: u8 = 2;
pub const BACKOFF_OP_UNBLOCK: u8 = 3;

/// MOSDBackoff: an OSD asks the client to hold ops for a range of a PG
/// (while it peers) and tells it when to send them again.
#[derive(Debug, Clone, Default)]
pub struct OsdBackoff {
    pub pgid: SpgId,
    pub map_epoch: u32,
    pub op: u8,
    pub id: u64,
    /// Encoded hobject_t bounds, passed back unchanged in the ack.
    pub begin: Bytes,
    pub end: Bytes,
}

impl Message for OsdBackoff {
    const TYPE: u16 = MSG_OSD_BACKOFF;
    const VERSION: u16 = 1;
    const COMPAT: u16 = 1;
    fn encode_payload(&self, features: u64) -> (Bytes, Bytes) {
        let mut e = Encoder::new(features);
        self.pgid.encode(&mut e);
        e.u32(self.map_epoch);
        e.u8(self.op);
        e.u64(self.id);
        e.raw(&self.begin);
        e.raw(&self.end);
        (e.into_bytes(), Bytes::new())
    }
    fn decode_payload(_: u16, front: Bytes, _: Bytes) -> Result<Self> {
        let mut r = Reader::new(front);
        let pgid = SpgId::decode(&mut r)?;
        let map_epoch = r.u32()?;
        let op = r.u8()?;
        let id = r.u64()?;
        let raw = |r: &mut Reader| -> Result<Bytes> {
            let rest = r.peek_rest().clone();
            let before = r.remaining();
            r.skip_versioned("hobject_t")?;
            Ok(rest.slice(..before - r.remaining()))
        };
        let begin = raw(&mut r)?;
        let end = raw(&mut r)?;
        Ok(OsdBackoff { pgid, map_epoch, op, id, begin, end })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn osd_op_round_trip() {
        let m = OsdOpMsg {
            oid: "obj".into(),
            ops: vec![OsdOp::extent(opcode::WRITE, 4, 3, Bytes::from_static(b"abc")), OsdOp::call("rbd", "get_size", b"xy")],
            ..Default::default()
        };
        let raw = m.to_raw(7, u64::MAX);
        let back = OsdOpMsg::from_raw(&raw).unwrap();
        assert_eq!(back.ops.len(), 2);
        assert_eq!(&back.ops[0].data[..], b"abc");
        assert_eq!(&back.ops[1].data[..], b"rbdget_sizexy");
        assert_eq!(back.ops[1].args[0], 3);
        assert_eq!(back.oid, "obj");
    }

    proptest! {
        #[test]
        fn decoders_never_panic(front in proptest::collection::vec(any::<u8>(), 0..300), data in proptest::collection::vec(any::<u8>(), 0..64), v in 0u16..10) {
            let f = Bytes::from(front);
            let d = Bytes::from(data);
            let _ = OsdOpMsg::decode_payload(v, f.clone(), d.clone());
            let _ = OsdOpReply::decode_payload(v, f.clone(), d.clone());
            let _ = WatchNotify::decode_payload(v, f.clone(), d.clone());
            let _ = OsdBackoff::decode_payload(v, f, d);
        }
    }
}
