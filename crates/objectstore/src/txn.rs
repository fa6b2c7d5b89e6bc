//! Transactions: what a client op (or a replica's copy of it, or recovery)
//! does to the store, in order. They encode so a primary can ship the very
//! same transaction to its replicas.

use crate::ObjectId;
use bytes::Bytes;
use denc::{Decode, Encode, Encoder, Reader};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    MkColl { coll: String },
    RmColl { coll: String },
    SetMeta { coll: String, key: String, value: Bytes },
    RmMeta { coll: String, key: String },
    SetSuper { key: String, value: Bytes },
    Touch { coll: String, oid: ObjectId },
    Write { coll: String, oid: ObjectId, off: u64, data: Bytes },
    Zero { coll: String, oid: ObjectId, off: u64, len: u64 },
    Truncate { coll: String, oid: ObjectId, size: u64 },
    Remove { coll: String, oid: ObjectId },
    SetAttr { coll: String, oid: ObjectId, name: String, value: Bytes },
    RmAttr { coll: String, oid: ObjectId, name: String },
    RmAttrs { coll: String, oid: ObjectId },
    OmapSet { coll: String, oid: ObjectId, kv: Vec<(Bytes, Bytes)> },
    OmapRm { coll: String, oid: ObjectId, keys: Vec<Bytes> },
    /// Keys in [first, last).
    OmapRmRange { coll: String, oid: ObjectId, first: Bytes, last: Bytes },
    OmapClear { coll: String, oid: ObjectId },
    OmapHeader { coll: String, oid: ObjectId, header: Bytes },
    Clone { coll: String, src: ObjectId, dst: ObjectId },
    /// Moves every object of `coll` whose hash has `seed` in its low `bits`
    /// bits (Ceph's `hobject_t::match`) to collection `to`, which must
    /// exist: a PG split (with `bits` 0, every object: a merge). Keys only;
    /// data stays where it is.
    SplitColl { coll: String, to: String, bits: u32, seed: u32 },
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Transaction {
    pub ops: Vec<Op>,
    /// Keep the data written in the page cache: set on the primary's copy,
    /// which serves the reads (BlueStore caches such writes when asked with
    /// FADVISE_WILLNEED). Local only: not encoded, so replicas write around
    /// the cache.
    pub cache: bool,
}

impl Transaction {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn push(&mut self, op: Op) {
        self.ops.push(op);
    }
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
    /// Bytes of payload carried (for throttling and stats).
    pub fn data_len(&self) -> usize {
        self.ops
            .iter()
            .map(|o| match o {
                Op::Write { data, .. } => data.len(),
                _ => 0,
            })
            .sum()
    }
}

impl Encode for ObjectId {
    fn encode(&self, e: &mut Encoder) {
        e.u32(self.hash);
        e.string(&self.nspace);
        e.string(&self.key);
        e.string(&self.name);
        e.u64(self.snap);
    }
}

impl Decode for ObjectId {
    fn decode(r: &mut Reader) -> denc::Result<Self> {
        Ok(ObjectId { hash: r.u32()?, nspace: r.string()?, key: r.string()?, name: r.string()?, snap: r.u64()? })
    }
}

fn kvs(e: &mut Encoder, kv: &[(Bytes, Bytes)]) {
    e.u32(kv.len() as u32);
    for (k, v) in kv {
        e.bufferlist(k);
        e.bufferlist(v);
    }
}

impl Encode for Op {
    fn encode(&self, e: &mut Encoder) {
        match self {
            Op::MkColl { coll } => {
                e.u8(1);
                e.string(coll);
            }
            Op::RmColl { coll } => {
                e.u8(2);
                e.string(coll);
            }
            Op::SetMeta { coll, key, value } => {
                e.u8(3);
                e.string(coll);
                e.string(key);
                e.bufferlist(value);
            }
            Op::RmMeta { coll, key } => {
                e.u8(4);
                e.string(coll);
                e.string(key);
            }
            Op::SetSuper { key, value } => {
                e.u8(5);
                e.string(key);
                e.bufferlist(value);
            }
            Op::Touch { coll, oid } => {
                e.u8(6);
                e.string(coll);
                oid.encode(e);
            }
            Op::Write { coll, oid, off, data } => {
                e.u8(7);
                e.string(coll);
                oid.encode(e);
                e.u64(*off);
                e.bufferlist(data);
            }
            Op::Zero { coll, oid, off, len } => {
                e.u8(8);
                e.string(coll);
                oid.encode(e);
                e.u64(*off);
                e.u64(*len);
            }
            Op::Truncate { coll, oid, size } => {
                e.u8(9);
                e.string(coll);
                oid.encode(e);
                e.u64(*size);
            }
            Op::Remove { coll, oid } => {
                e.u8(10);
                e.string(coll);
                oid.encode(e);
            }
            Op::SetAttr { coll, oid, name, value } => {
                e.u8(11);
                e.string(coll);
                oid.encode(e);
                e.string(name);
                e.bufferlist(value);
            }
            Op::RmAttr { coll, oid, name } => {
                e.u8(12);
                e.string(coll);
                oid.encode(e);
                e.string(name);
            }
            Op::RmAttrs { coll, oid } => {
                e.u8(13);
                e.string(coll);
                oid.encode(e);
            }
            Op::OmapSet { coll, oid, kv } => {
                e.u8(14);
                e.string(coll);
                oid.encode(e);
                kvs(e, kv);
            }
            Op::OmapRm { coll, oid, keys } => {
                e.u8(15);
                e.string(coll);
                oid.encode(e);
                e.u32(keys.len() as u32);
                for k in keys {
                    e.bufferlist(k);
                }
            }
            Op::OmapRmRange { coll, oid, first, last } => {
                e.u8(16);
                e.string(coll);
                oid.encode(e);
                e.bufferlist(first);
                e.bufferlist(last);
            }
            Op::OmapClear { coll, oid } => {
                e.u8(17);
                e.string(coll);
                oid.encode(e);
            }
            Op::OmapHeader { coll, oid, header } => {
                e.u8(18);
                e.string(coll);
                oid.encode(e);
                e.bufferlist(header);
            }
            Op::Clone { coll, src, dst } => {
                e.u8(19);
                e.string(coll);
                src.encode(e);
                dst.encode(e);
            }
            Op::SplitColl { coll, to, bits, seed } => {
                e.u8(21);
                e.string(coll);
                e.string(to);
                e.u32(*bits);
                e.u32(*seed);
            }
        }
    }
}

/// Tag of a write whose bytes are in the wire form's data area.
const WRITE_REF: u8 = 20;
/// Alignment of each write's bytes in the data area (O_DIRECT's).
const WIRE_ALIGN: usize = 4096;
/// Writes at least this long (a whole store block) go to the data area;
/// shorter ones stay inline, so padding never more than slightly inflates a
/// message (a push of many small objects would otherwise grow 4 KiB each).
const WIRE_MIN: usize = crate::BLOCK as usize;

fn in_data_area(data: &Bytes) -> bool {
    data.len() >= WIRE_MIN
}

/// One op of the wire form; `WRITE_REF` ops point into the data `area`.
fn decode_op(r: &mut Reader, area: &Bytes) -> denc::Result<Op> {
    let tag = r.u8()?;
    let coll = r.string()?;
    Ok(match tag {
        WRITE_REF => {
            let (oid, off, at, len) = (r.decode()?, r.u64()?, r.u64()?, r.u64()?);
            let end = at.checked_add(len).filter(|e| *e <= area.len() as u64);
            let Some(end) = end else { return denc::invalid("store transaction", format!("write of {len} at {at} past the {} byte data area", area.len())) };
            Op::Write { coll, oid, off, data: area.slice(at as usize..end as usize) }
        }
        1 => Op::MkColl { coll },
        2 => Op::RmColl { coll },
        3 => Op::SetMeta { coll, key: r.string()?, value: r.bufferlist()? },
        4 => Op::RmMeta { coll, key: r.string()? },
        5 => Op::SetSuper { key: coll, value: r.bufferlist()? },
        6 => Op::Touch { coll, oid: r.decode()? },
        7 => Op::Write { coll, oid: r.decode()?, off: r.u64()?, data: r.bufferlist()? },
        8 => Op::Zero { coll, oid: r.decode()?, off: r.u64()?, len: r.u64()? },
        9 => Op::Truncate { coll, oid: r.decode()?, size: r.u64()? },
        10 => Op::Remove { coll, oid: r.decode()? },
        11 => Op::SetAttr { coll, oid: r.decode()?, name: r.string()?, value: r.bufferlist()? },
        12 => Op::RmAttr { coll, oid: r.decode()?, name: r.string()? },
        13 => Op::RmAttrs { coll, oid: r.decode()? },
        14 => {
            let oid = r.decode()?;
            let n = r.count(8)?;
            let mut kv = Vec::with_capacity(n);
            for _ in 0..n {
                kv.push((r.bufferlist()?, r.bufferlist()?));
            }
            Op::OmapSet { coll, oid, kv }
        }
        15 => {
            let oid = r.decode()?;
            let n = r.count(4)?;
            let mut keys = Vec::with_capacity(n);
            for _ in 0..n {
                keys.push(r.bufferlist()?);
            }
            Op::OmapRm { coll, oid, keys }
        }
        16 => Op::OmapRmRange { coll, oid: r.decode()?, first: r.bufferlist()?, last: r.bufferlist()? },
        17 => Op::OmapClear { coll, oid: r.decode()? },
        18 => Op::OmapHeader { coll, oid: r.decode()?, header: r.bufferlist()? },
        19 => Op::Clone { coll, src: r.decode()?, dst: r.decode()? },
        21 => {
            let (to, bits, seed) = (r.string()?, r.u32()?, r.u32()?);
            if bits > 32 {
                return denc::invalid("store transaction", format!("split by {bits} bits"));
            }
            Op::SplitColl { coll, to, bits, seed }
        }
        t => return denc::invalid("store transaction", format!("unknown op {t}")),
    })
}

impl Transaction {
    /// The encoding, for OSD-to-OSD messages: the ops, with the bytes of
    /// each write of a whole block or more in a separate data area (a
    /// message's data segment) at a 4 KiB-aligned offset. The messenger
    /// receives large data segments page-aligned, so the receiver writes
    /// those bytes with O_DIRECT as they arrived; and the bytes of a lone
    /// write go out without a copy.
    pub fn to_wire(&self) -> (Bytes, Bytes) {
        let payloads: Vec<&Bytes> = self
            .ops
            .iter()
            .filter_map(|o| match o {
                Op::Write { data, .. } if in_data_area(data) => Some(data),
                _ => None,
            })
            .collect();
        let area = match payloads[..] {
            [] => Bytes::new(),
            [one] => one.clone(),
            _ => {
                let total = payloads.iter().map(|d| d.len().next_multiple_of(WIRE_ALIGN)).sum();
                let mut area = bytes::BytesMut::with_capacity(total);
                for d in &payloads {
                    area.extend_from_slice(d);
                    area.resize(area.len().next_multiple_of(WIRE_ALIGN), 0);
                }
                area.freeze()
            }
        };
        let mut e = Encoder::new(0);
        // Version 1 carried the write bytes inline in the ops.
        e.u8(2);
        e.u32(self.ops.len() as u32);
        let mut at = 0u64;
        for op in &self.ops {
            match op {
                Op::Write { coll, oid, off, data } if in_data_area(data) => {
                    e.u8(WRITE_REF);
                    e.string(coll);
                    oid.encode(&mut e);
                    e.u64(*off);
                    e.u64(at);
                    e.u64(data.len() as u64);
                    at += data.len().next_multiple_of(WIRE_ALIGN) as u64;
                }
                op => op.encode(&mut e),
            }
        }
        (e.into_bytes(), area)
    }

    /// Decodes the wire form; the writes' bytes are slices of `data`.
    pub fn from_wire(ops: Bytes, data: Bytes) -> denc::Result<Transaction> {
        let mut r = Reader::new(ops);
        let v = r.u8()?;
        if v != 2 {
            return denc::invalid("store transaction (wire form)", format!("version {v}"));
        }
        let n = r.count(5)?;
        let mut ops = Vec::with_capacity(n);
        for _ in 0..n {
            ops.push(decode_op(&mut r, &data)?);
        }
        r.finish("store transaction (wire form)")?;
        Ok(Transaction { ops, cache: false })
    }
}
