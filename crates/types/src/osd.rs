//! OSD-side identifiers (`src/osd/osd_types.h`, `src/common/hobject.h`): pg_t,
//! spg_t, object_locator_t, hobject_t, eversion_t, osd_reqid_t, SnapContext.

use crate::entity::EntityNameT;
use denc::{Decode, Encode, Encoder, Reader, Result};
use std::fmt;

pub const CEPH_NOSNAP: u64 = u64::MAX - 1; // (u64)-2
pub const CEPH_SNAPDIR: u64 = u64::MAX; // (u64)-1

/// `pg_t`: pool and placement seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct PgId {
    pub pool: u64,
    pub seed: u32,
}

impl fmt::Display for PgId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:x}", self.pool, self.seed)
    }
}

impl Encode for PgId {
    fn encode(&self, e: &mut Encoder) {
        e.u8(1);
        e.u64(self.pool);
        e.u32(self.seed);
        e.i32(-1); // preferred, unused
    }
}
impl Decode for PgId {
    fn decode(r: &mut Reader) -> Result<Self> {
        let v = r.u8()?;
        if v != 1 {
            return denc::invalid("pg_t", format!("version {v}"));
        }
        let pool = r.u64()?;
        let seed = r.u32()?;
        r.i32()?;
        Ok(PgId { pool, seed })
    }
}

/// `spg_t`: a PG plus an erasure-code shard (-1 = none).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct SpgId {
    pub pgid: PgId,
    pub shard: i8,
}

impl Encode for SpgId {
    fn encode(&self, e: &mut Encoder) {
        let s = e.start(1, 1);
        self.pgid.encode(e);
        e.u8(self.shard as u8);
        e.finish(s);
    }
}
impl Decode for SpgId {
    fn decode(r: &mut Reader) -> Result<Self> {
        let (_, mut b) = r.versioned(1, "spg_t")?;
        Ok(SpgId { pgid: PgId::decode(&mut b)?, shard: b.i8()? })
    }
}

/// `object_locator_t`: pool, optional key, namespace, optional explicit hash.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ObjectLocator {
    pub pool: i64,
    pub key: String,
    pub nspace: String,
    pub hash: i64,
}

impl Default for ObjectLocator {
    fn default() -> Self {
        ObjectLocator::new(-1)
    }
}

impl ObjectLocator {
    pub fn new(pool: i64) -> Self {
        ObjectLocator { pool, key: String::new(), nspace: String::new(), hash: -1 }
    }
}

impl Encode for ObjectLocator {
    fn encode(&self, e: &mut Encoder) {
        let s = e.start(6, 3);
        e.i64(self.pool);
        e.i32(-1); // preferred
        e.string(&self.key);
        e.string(&self.nspace);
        e.i64(self.hash);
        e.finish(s);
    }
}
impl Decode for ObjectLocator {
    fn decode(r: &mut Reader) -> Result<Self> {
        let (v, mut b) = r.versioned_legacy(6, 3, 3, "object_locator_t")?;
        let pool = if v < 2 { b.i32()? as i64 } else { b.i64()? };
        let _preferred = b.i32()?;
        let key = b.string()?;
        let nspace = if v >= 5 { b.string()? } else { String::new() };
        let hash = if v >= 6 { b.i64()? } else { -1 };
        Ok(ObjectLocator { pool, key, nspace, hash })
    }
}

/// `eversion_t`: u64 version then u32 epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct EVersion {
    pub version: u64,
    pub epoch: u32,
}
impl Encode for EVersion {
    fn encode(&self, e: &mut Encoder) {
        e.u64(self.version);
        e.u32(self.epoch);
    }
}
impl Decode for EVersion {
    fn decode(r: &mut Reader) -> Result<Self> {
        Ok(EVersion { version: r.u64()?, epoch: r.u32()? })
    }
}

/// `osd_reqid_t`: who issued a request, and its tid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReqId {
    pub name: EntityNameT,
    pub tid: u64,
    pub inc: i32,
}
impl Default for ReqId {
    fn default() -> Self {
        ReqId { name: EntityNameT { ty: 8, num: -1 }, tid: 0, inc: 0 }
    }
}

impl Encode for ReqId {
    fn encode(&self, e: &mut Encoder) {
        let s = e.start(2, 2);
        self.name.encode(e);
        e.u64(self.tid);
        e.i32(self.inc);
        e.finish(s);
    }
}
impl Decode for ReqId {
    fn decode(r: &mut Reader) -> Result<Self> {
        let (_, mut b) = r.versioned(2, "osd_reqid_t")?;
        Ok(ReqId { name: EntityNameT::decode(&mut b)?, tid: b.u64()?, inc: b.i32()? })
    }
}

/// `hobject_t`: the full object identity used for listing cursors.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct HObject {
    pub key: String,
    pub oid: String,
    pub snap: u64,
    pub hash: u32,
    pub max: bool,
    pub nspace: String,
    pub pool: i64,
}

impl HObject {
    /// The "min" object (`hobject_t()`): pool INT64_MIN, everything else zero.
    /// Listing starts from it.
    pub fn min() -> Self {
        HObject { snap: 0, pool: i64::MIN, ..Default::default() }
    }
    pub fn is_max(&self) -> bool {
        self.max
    }
}

impl Encode for HObject {
    fn encode(&self, e: &mut Encoder) {
        let s = e.start(4, 3);
        e.string(&self.key);
        e.string(&self.oid);
        e.u64(self.snap);
        e.u32(self.hash);
        e.bool(self.max);
        e.string(&self.nspace);
        e.i64(self.pool);
        e.finish(s);
    }
}
impl Decode for HObject {
    fn decode(r: &mut Reader) -> Result<Self> {
        let (v, mut b) = r.versioned_legacy(4, 3, 3, "hobject_t")?;
        let key = if v >= 1 { b.string()? } else { String::new() };
        let oid = b.string()?;
        let snap = b.u64()?;
        let hash = b.u32()?;
        let max = if v >= 2 { b.bool()? } else { false };
        let (nspace, pool) = if v >= 4 { (b.string()?, b.i64()?) } else { (String::new(), -1) };
        Ok(HObject { key, oid, snap, hash, max, nspace, pool })
    }
}

/// `SnapContext`: the newest snap id and all existing snaps, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SnapContext {
    pub seq: u64,
    pub snaps: Vec<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    proptest::proptest! {
        #[test]
        fn decoders_never_panic(d in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..120)) {
            let _ = PgId::from_bytes(d.clone());
            let _ = SpgId::from_bytes(d.clone());
            let _ = ObjectLocator::from_bytes(d.clone());
            let _ = ReqId::from_bytes(d.clone());
            let _ = HObject::from_bytes(d);
        }
    }
    #[test]
    fn round_trips() {
        let h = HObject { key: "k".into(), oid: "o".into(), snap: CEPH_NOSNAP, hash: 7, max: false, nspace: "n".into(), pool: 3 };
        assert_eq!(HObject::from_bytes(h.to_bytes(0)).unwrap(), h);
        let l = ObjectLocator { pool: 1, key: String::new(), nspace: "ns".into(), hash: -1 };
        assert_eq!(ObjectLocator::from_bytes(l.to_bytes(0)).unwrap(), l);
        let s = SpgId { pgid: PgId { pool: 1, seed: 0x1f }, shard: -1 };
        assert_eq!(SpgId::from_bytes(s.to_bytes(0)).unwrap(), s);
        assert_eq!(s.pgid.to_string(), "1.1f");
    }
}
