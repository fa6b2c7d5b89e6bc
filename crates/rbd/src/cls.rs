//! The client side of the `rbd` and `lock` object classes
//! (`src/cls/rbd/cls_rbd_client.cc`, `src/cls/lock/cls_lock_client.cc`):
//! argument encodings and reply decodings.

use bytes::Bytes;
use denc::{Encoder, Reader, Utime};
use messages::osd::OsdOp;
use rados::{Error, IoCtx, Result};
use std::collections::BTreeMap;
use types::bit_vector::BitVector;
use types::EntityNameT;

pub const NOSNAP: u64 = types::osd::CEPH_NOSNAP;

pub fn enc(f: impl FnOnce(&mut Encoder)) -> Bytes {
    let mut e = Encoder::new(0);
    f(&mut e);
    e.into_bytes()
}

/// An `rbd` class method as one op of a compound request.
pub fn op(method: &str, input: Bytes) -> OsdOp {
    OsdOp::call("rbd", method, &input)
}

/// The `rbd` methods that write, sent as write operations.
const WRITERS: &[&str] = &[
    "create", "set_size", "set_features", "set_stripe_unit_count", "set_id", "dir_add_image", "dir_remove_image",
    "dir_rename_image", "snapshot_add", "snapshot_remove", "snapshot_rename", "set_protection_status", "parent_attach",
    "parent_detach", "add_child", "remove_child", "child_attach", "child_detach", "copyup", "sparse_copyup",
    "object_map_resize", "object_map_update", "object_map_snap_add", "object_map_snap_remove", "object_map_save",
    "op_features_set", "set_flags", "metadata_set", "metadata_remove",
];

pub fn is_writer(method: &str) -> bool {
    WRITERS.contains(&method)
}

pub async fn call(io: &IoCtx, oid: &str, method: &str, input: Bytes) -> Result<Bytes> {
    if is_writer(method) {
        io.exec_write(oid, "rbd", method, &input).await
    } else {
        io.exec(oid, "rbd", method, &input).await
    }
}

fn bad(e: denc::Error) -> Error {
    Error::new(5, format!("bad rbd class reply: {e}"))
}

pub fn snap_arg(snap: u64) -> Bytes {
    enc(|e| e.u64(snap))
}

// ------------------------------------------------------------------ replies

pub fn dec_size(b: Bytes) -> Result<(u8, u64)> {
    let mut r = Reader::new(b);
    Ok((r.u8().map_err(bad)?, r.u64().map_err(bad)?))
}
pub fn dec_u64(b: Bytes) -> Result<u64> {
    Reader::new(b).u64().map_err(bad)
}
pub fn dec_i64(b: Bytes) -> Result<i64> {
    Reader::new(b).i64().map_err(bad)
}
pub fn dec_string(b: Bytes) -> Result<String> {
    Reader::new(b).string().map_err(bad)
}
pub fn dec_utime(b: Bytes) -> Result<Utime> {
    Reader::new(b).decode().map_err(bad)
}
pub fn dec_opt_u64(b: Bytes) -> Result<Option<u64>> {
    let mut r = Reader::new(b);
    Ok(if r.u8().map_err(bad)? != 0 { Some(r.u64().map_err(bad)?) } else { None })
}
pub fn dec_features(b: Bytes) -> Result<(u64, u64)> {
    let mut r = Reader::new(b);
    Ok((r.u64().map_err(bad)?, r.u64().map_err(bad)?))
}
/// `get_snapcontext`: (seq, snaps newest first).
pub fn dec_snapc(b: Bytes) -> Result<(u64, Vec<u64>)> {
    let mut r = Reader::new(b);
    let seq = r.u64().map_err(bad)?;
    let n = r.count(8).map_err(bad)?;
    let snaps = (0..n).map(|_| r.u64().map_err(bad)).collect::<Result<_>>()?;
    Ok((seq, snaps))
}

/// `cls::rbd::ParentImageSpec`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParentSpec {
    pub pool: i64,
    pub namespace: String,
    pub image_id: String,
    pub snap: u64,
}

impl ParentSpec {
    pub fn exists(&self) -> bool {
        self.pool >= 0 && !self.image_id.is_empty() && self.snap != NOSNAP
    }
    pub fn encode(&self, e: &mut Encoder) {
        let s = e.start(1, 1);
        e.i64(self.pool);
        e.string(&self.namespace);
        e.string(&self.image_id);
        e.u64(self.snap);
        e.finish(s);
    }
    pub fn decode(b: Bytes) -> Result<ParentSpec> {
        let mut r = Reader::new(b);
        let (_, mut b) = r.versioned(1, "ParentImageSpec").map_err(bad)?;
        Ok(ParentSpec { pool: b.i64().map_err(bad)?, namespace: b.string().map_err(bad)?, image_id: b.string().map_err(bad)?, snap: b.u64().map_err(bad)? })
    }
}

/// `cls::rbd::SnapshotInfo` from `snapshot_get`.
#[derive(Debug, Clone)]
pub struct SnapshotInfo {
    pub id: u64,
    /// 0 user, 1 group, 2 trash, 3 mirror
    pub ns_type: u32,
    pub name: String,
    pub size: u64,
    pub timestamp: Utime,
    pub child_count: u32,
}

pub fn dec_snapshot_info(b: Bytes) -> Result<SnapshotInfo> {
    let mut r = Reader::new(b);
    let (_, mut b) = r.versioned(1, "SnapshotInfo").map_err(bad)?;
    let id = b.u64().map_err(bad)?;
    let (_, mut ns) = b.versioned(1, "SnapshotNamespace").map_err(bad)?;
    let ns_type = ns.u32().map_err(bad)?;
    Ok(SnapshotInfo {
        id,
        ns_type,
        name: b.string().map_err(bad)?,
        size: b.u64().map_err(bad)?,
        timestamp: b.decode().map_err(bad)?,
        child_count: b.u32().map_err(bad)?,
    })
}

pub fn user_namespace(e: &mut Encoder) {
    let s = e.start(1, 1);
    e.u32(0);
    e.finish(s);
}

/// `cls::rbd::ChildImageSpec`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ChildSpec {
    pub pool: i64,
    pub namespace: String,
    pub image_id: String,
}

impl ChildSpec {
    pub fn encode(&self, e: &mut Encoder) {
        let s = e.start(2, 1);
        e.i64(self.pool);
        e.string(&self.image_id);
        e.string(&self.namespace);
        e.finish(s);
    }
}

pub fn dec_children(b: Bytes) -> Result<Vec<ChildSpec>> {
    let mut r = Reader::new(b);
    let n = r.count(6).map_err(bad)?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let (v, mut c) = r.versioned(2, "ChildImageSpec").map_err(bad)?;
        let pool = c.i64().map_err(bad)?;
        let image_id = c.string().map_err(bad)?;
        let namespace = if v >= 2 { c.string().map_err(bad)? } else { String::new() };
        out.push(ChildSpec { pool, namespace, image_id });
    }
    Ok(out)
}

pub fn dec_string_set(b: Bytes) -> Result<Vec<String>> {
    let mut r = Reader::new(b);
    let n = r.count(4).map_err(bad)?;
    (0..n).map(|_| r.string().map_err(bad)).collect()
}

/// `dir_list`: name -> id.
pub fn dec_dir_list(b: Bytes) -> Result<BTreeMap<String, String>> {
    let mut r = Reader::new(b);
    let n = r.count(8).map_err(bad)?;
    (0..n).map(|_| Ok((r.string().map_err(bad)?, r.string().map_err(bad)?))).collect()
}

/// The key of a clone v1 child set in `rbd_children`: parent pool, image id, snap.
pub fn children_key(e: &mut Encoder, pool: i64, image_id: &str, snap: u64) {
    e.i64(pool);
    e.string(image_id);
    e.u64(snap);
}

pub fn dec_bit_vector(b: Bytes) -> Result<BitVector> {
    BitVector::decode(b).map_err(bad)
}

/// `object_map_update` arguments: [start, end) to `new`, only where the
/// current state is `current` (if given).
pub fn object_map_update(start: u64, end: u64, new: u8, current: Option<u8>) -> Bytes {
    enc(|e| {
        e.u64(start);
        e.u64(end);
        e.u8(new);
        match current {
            Some(c) => {
                e.u8(1);
                e.u8(c);
            }
            None => e.u8(0),
        }
    })
}

// ------------------------------------------------------------- lock class

pub const LOCK_EXCLUSIVE: u8 = 1;
pub const LOCK_SHARED: u8 = 2;

/// One holder of an advisory lock.
#[derive(Debug, Clone)]
pub struct Locker {
    pub entity: EntityNameT,
    pub cookie: String,
    pub addr: types::EntityAddr,
    pub description: String,
}

#[derive(Debug, Clone, Default)]
pub struct LockInfo {
    pub lockers: Vec<Locker>,
    pub lock_type: u8,
    pub tag: String,
}

fn lock_op(f: impl FnOnce(&mut Encoder)) -> Vec<u8> {
    enc(|e| {
        let s = e.start(1, 1);
        f(e);
        e.finish(s);
    })
    .to_vec()
}

pub async fn lock(io: &IoCtx, oid: &str, name: &str, ty: u8, cookie: &str, tag: &str, description: &str) -> Result<()> {
    let input = lock_op(|e| {
        e.string(name);
        e.u8(ty);
        e.string(cookie);
        e.string(tag);
        e.string(description);
        e.put(&Utime::default());
        e.u8(0);
    });
    io.exec_write(oid, "lock", "lock", &input).await.map(|_| ())
}

pub async fn unlock(io: &IoCtx, oid: &str, name: &str, cookie: &str) -> Result<()> {
    let input = lock_op(|e| {
        e.string(name);
        e.string(cookie);
    });
    io.exec_write(oid, "lock", "unlock", &input).await.map(|_| ())
}

pub async fn break_lock(io: &IoCtx, oid: &str, name: &str, locker: &EntityNameT, cookie: &str) -> Result<()> {
    let input = lock_op(|e| {
        e.string(name);
        e.put(locker);
        e.string(cookie);
    });
    io.exec_write(oid, "lock", "break_lock", &input).await.map(|_| ())
}

pub async fn list_locks(io: &IoCtx, oid: &str) -> Result<Vec<String>> {
    let b = io.exec(oid, "lock", "list_locks", &[]).await?;
    let mut r = Reader::new(b);
    let (_, mut b) = r.versioned(1, "cls_lock_list_locks_reply").map_err(bad)?;
    let n = b.count(4).map_err(bad)?;
    (0..n).map(|_| b.string().map_err(bad)).collect()
}

pub async fn get_lock_info(io: &IoCtx, oid: &str, name: &str) -> Result<LockInfo> {
    let input = lock_op(|e| e.string(name));
    let b = io.exec(oid, "lock", "get_info", &input).await?;
    let mut r = Reader::new(b);
    let (_, mut b) = r.versioned(1, "cls_lock_get_info_reply").map_err(bad)?;
    let n = b.count(2).map_err(bad)?;
    let mut lockers = Vec::with_capacity(n);
    for _ in 0..n {
        let (_, mut id) = b.versioned(1, "locker_id_t").map_err(bad)?;
        let entity: EntityNameT = id.decode().map_err(bad)?;
        let cookie = id.string().map_err(bad)?;
        let (_, mut info) = b.versioned(1, "locker_info_t").map_err(bad)?;
        let _expiration: Utime = info.decode().map_err(bad)?;
        let addr = info.decode().map_err(bad)?;
        let description = info.string().map_err(bad)?;
        lockers.push(Locker { entity, cookie, addr, description });
    }
    Ok(LockInfo { lockers, lock_type: b.u8().map_err(bad)?, tag: b.string().map_err(bad)? })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Every reply decoder is total: hostile bytes give an error, not a panic.
        #[test]
        fn hostile_replies_fail_cleanly(b in proptest::collection::vec(any::<u8>(), 0..128)) {
            let b = Bytes::from(b);
            let _ = dec_snapc(b.clone());
            let _ = dec_snapshot_info(b.clone());
            let _ = ParentSpec::decode(b.clone());
            let _ = dec_children(b.clone());
            let _ = dec_string_set(b.clone());
            let _ = dec_dir_list(b.clone());
            let _ = dec_opt_u64(b.clone());
            let _ = dec_bit_vector(b);
        }

        #[test]
        fn parent_spec_round_trips(pool in 0i64..100, ns in "[a-z]{0,4}", id in "[0-9a-f]{1,12}", snap in 0u64..1000) {
            let p = ParentSpec { pool, namespace: ns, image_id: id, snap };
            prop_assert_eq!(ParentSpec::decode(enc(|e| p.encode(e))).unwrap(), p);
        }
    }
}
