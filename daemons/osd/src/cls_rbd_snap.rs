//! `cls_rbd` snapshot, protection and layering methods: image snapshots
//! (`snapshot_<id>` records in the header's omap), the parent link of a
//! clone (`parent`), the children of a snapshot (clone v1 in `rbd_children`,
//! clone v2 in the parent's header), and copy-up of a parent's data into a
//! clone's object.

use crate::cls_rbd::{bad, enc, get_key, get_u64, or_default_u64, scan, set_keys};
use crate::ops::{need_exists, Ctx, EBUSY, EDQUOT, EEXIST, EINVAL, EIO, ENOENT, ENOEXEC, EOPNOTSUPP, ESTALE, EXDEV};
use crate::snaps::{MAXSNAP, NOSNAP};
use bytes::Bytes;
use denc::{Encoder, Reader, Utime};
use std::collections::BTreeSet;

const FEATURE_LAYERING: u64 = 1;
const FEATURE_DEEP_FLATTEN: u64 = 1 << 5;
const FEATURE_OPERATIONS: u64 = 1 << 8;
pub const FEATURES_ALL: u64 = 0xfff;

const OP_CLONE_PARENT: u64 = 1;
const OP_CLONE_CHILD: u64 = 2;
const OP_SNAP_TRASH: u64 = 8;
const OP_ALL: u64 = 0xf;

const NS_TRASH: u32 = 2;

pub fn snap_key(id: u64) -> String {
    format!("snapshot_{id:016x}")
}

fn children_key(id: u64) -> String {
    format!("snap_children_{id:016x}")
}

/// `cls_rbd_parent` (v2): the parent snapshot a clone reads through, and
/// how much of it (None while only snapshots still need the link).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parent {
    pub pool: i64,
    pub namespace: String,
    pub image_id: String,
    pub snap: u64,
    pub head_overlap: Option<u64>,
}

impl Parent {
    fn none() -> Parent {
        Parent { pool: -1, snap: NOSNAP, ..Default::default() }
    }
    fn exists(&self) -> bool {
        self.pool >= 0 && !self.image_id.is_empty() && self.snap != NOSNAP
    }
    fn encode(&self) -> Bytes {
        enc(|e| {
            let s = e.start(2, 2);
            e.i64(self.pool);
            e.string(&self.namespace);
            e.string(&self.image_id);
            e.u64(self.snap);
            put_opt(e, self.head_overlap);
            e.finish(s);
        })
    }
    fn decode_from(r: &mut Reader) -> denc::Result<Parent> {
        let (v, mut b) = r.versioned_legacy(2, 1, 1, "cls_rbd_parent")?;
        let pool = b.i64()?;
        if v >= 2 {
            Ok(Parent { pool, namespace: b.string()?, image_id: b.string()?, snap: b.u64()?, head_overlap: get_opt(&mut b)? })
        } else {
            let image_id = b.string()?;
            let snap = b.u64()?;
            let overlap = b.u64()?;
            Ok(Parent { pool, namespace: String::new(), image_id, snap, head_overlap: Some(overlap) })
        }
    }
    /// ParentImageSpec (v1): the spec without the overlap.
    fn spec(&self) -> Bytes {
        enc(|e| {
            let s = e.start(1, 1);
            e.i64(self.pool);
            e.string(&self.namespace);
            e.string(&self.image_id);
            e.u64(self.snap);
            e.finish(s);
        })
    }
}

fn put_opt(e: &mut Encoder, v: Option<u64>) {
    match v {
        Some(x) => {
            e.u8(1);
            e.u64(x);
        }
        None => e.u8(0),
    }
}

fn get_opt(r: &mut Reader) -> denc::Result<Option<u64>> {
    Ok(if r.u8()? != 0 { Some(r.u64()?) } else { None })
}

fn read_parent(ctx: &Ctx) -> Result<Option<Parent>, i32> {
    match get_key(ctx, "parent") {
        Ok(v) => Parent::decode_from(&mut Reader::new(v)).map(Some).map_err(|_| EIO),
        Err(e) if e == ENOENT => Ok(None),
        Err(e) => Err(e),
    }
}

/// `cls_rbd_snap` (v8).
#[derive(Debug, Clone)]
pub struct SnapRec {
    pub id: u64,
    pub name: String,
    pub image_size: u64,
    pub protection: u8,
    pub flags: u64,
    /// Encoded `SnapshotNamespace`, kept as is.
    pub namespace: Bytes,
    pub ns_type: u32,
    pub timestamp: Utime,
    pub child_count: u32,
    pub parent_overlap: Option<u64>,
    /// A legacy (pre-v8) per-snapshot parent.
    pub parent: Option<Parent>,
}

fn user_namespace() -> Bytes {
    enc(|e| {
        let s = e.start(1, 1);
        e.u32(0);
        e.finish(s);
    })
}

fn ns_type(ns: &Bytes) -> Result<u32, i32> {
    let mut r = Reader::new(ns.clone());
    let (_, mut b) = r.versioned(1, "SnapshotNamespace").map_err(|_| EINVAL)?;
    b.u32().map_err(|_| EINVAL)
}

/// The next `SnapshotNamespace` in `r`, as its raw bytes.
fn take_namespace(r: &mut Reader) -> denc::Result<Bytes> {
    let all = r.peek_rest().clone();
    r.skip_versioned("SnapshotNamespace")?;
    Ok(all.slice(..all.len() - r.remaining()))
}

impl SnapRec {
    pub fn decode(b: Bytes) -> Result<SnapRec, i32> {
        let mut r = Reader::new(b);
        let (v, mut b) = r.versioned_legacy(8, 1, 1, "cls_rbd_snap").map_err(|_| EIO)?;
        let io = |_| EIO;
        let id = b.u64().map_err(io)?;
        let name = b.string().map_err(io)?;
        let image_size = b.u64().map_err(io)?;
        let mut parent = None;
        if v < 8 {
            b.u64().map_err(io)?; // features
            if v >= 2 {
                let p = Parent::decode_from(&mut b).map_err(io)?;
                parent = p.exists().then_some(p);
            }
        }
        let protection = if v >= 3 { b.u8().map_err(io)? } else { 0 };
        let flags = if v >= 4 { b.u64().map_err(io)? } else { 0 };
        let namespace = if v >= 5 { take_namespace(&mut b).map_err(io)? } else { user_namespace() };
        let timestamp = if v >= 6 { b.decode().map_err(io)? } else { Utime::default() };
        let child_count = if v >= 7 { b.u32().map_err(io)? } else { 0 };
        let parent_overlap = if v >= 8 { get_opt(&mut b).map_err(io)? } else { None };
        let ns_type = ns_type(&namespace).unwrap_or(u32::MAX);
        Ok(SnapRec { id, name, image_size, protection, flags, namespace, ns_type, timestamp, child_count, parent_overlap, parent })
    }

    pub fn encode(&self) -> Bytes {
        enc(|e| {
            let s = e.start(8, 8);
            e.u64(self.id);
            e.string(&self.name);
            e.u64(self.image_size);
            e.u8(self.protection);
            e.u64(self.flags);
            e.raw(&self.namespace);
            e.put(&self.timestamp);
            e.u32(self.child_count);
            put_opt(e, self.parent_overlap);
            e.finish(s);
        })
    }
}

pub fn read_snap(ctx: &Ctx, id: u64) -> Result<SnapRec, i32> {
    SnapRec::decode(get_key(ctx, &snap_key(id))?)
}

fn all_snaps(ctx: &Ctx) -> Result<Vec<SnapRec>, i32> {
    scan(ctx, "snapshot_", "", u64::MAX)?.into_iter().map(|(_, v)| SnapRec::decode(v)).collect()
}

/// `snapshot::write`: a snapshot that still names a legacy parent moves it to
/// the head's `parent` key (if there is none) and keeps only its overlap.
fn write_snap(ctx: &mut Ctx, mut s: SnapRec) -> Result<(), i32> {
    if let Some(p) = s.parent.take() {
        if read_parent(ctx)?.is_none() {
            set_keys(ctx, vec![("parent".into(), Parent { head_overlap: None, ..p.clone() }.encode())]);
        }
        s.parent_overlap = p.head_overlap;
    }
    set_keys(ctx, vec![(snap_key(s.id), s.encode())]);
    Ok(())
}

fn require_feature(ctx: &Ctx, f: u64) -> Result<(), i32> {
    match get_u64(ctx, "features") {
        Ok(x) if x & f != 0 => Ok(()),
        _ => Err(ENOEXEC),
    }
}

/// `set_op_features`: op features live in `op_features`, flagged by the
/// OPERATIONS image feature.
fn set_op_features(ctx: &mut Ctx, op: u64, mask: u64) -> Result<(), i32> {
    let features = get_u64(ctx, "features")?;
    let old = or_default_u64(ctx, "op_features", 0)?;
    let new = (old & !mask) | (op & mask);
    if new == old {
        return Ok(());
    }
    if new == 0 {
        ctx.omap_rm(vec![Bytes::from_static(b"op_features")]);
        set_keys(ctx, vec![("features".into(), enc(|e| e.u64(features & !FEATURE_OPERATIONS)))]);
    } else {
        set_keys(ctx, vec![("op_features".into(), enc(|e| e.u64(new))), ("features".into(), enc(|e| e.u64(features | FEATURE_OPERATIONS)))]);
    }
    Ok(())
}

/// `map<key, set<string>>` value of `rbd_children`.
fn decode_set(b: Bytes) -> Result<BTreeSet<String>, i32> {
    let mut r = Reader::new(b);
    let n = r.count(4).map_err(|_| EIO)?;
    (0..n).map(|_| r.string().map_err(|_| EIO)).collect()
}

fn encode_set(s: &BTreeSet<String>) -> Bytes {
    enc(|e| {
        e.u32(s.len() as u32);
        for x in s {
            e.string(x);
        }
    })
}

/// `ChildImageSpec` (v2): pool, image id, namespace; ordered by pool, namespace, id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Child {
    pool: i64,
    namespace: String,
    image_id: String,
}

fn decode_child(r: &mut Reader) -> denc::Result<Child> {
    let (v, mut b) = r.versioned(2, "ChildImageSpec")?;
    let pool = b.i64()?;
    let image_id = b.string()?;
    let namespace = if v >= 2 { b.string()? } else { String::new() };
    Ok(Child { pool, namespace, image_id })
}

fn encode_children(e: &mut Encoder, set: &BTreeSet<Child>) {
    e.u32(set.len() as u32);
    for c in set {
        let s = e.start(2, 1);
        e.i64(c.pool);
        e.string(&c.image_id);
        e.string(&c.namespace);
        e.finish(s);
    }
}

fn read_children(ctx: &Ctx, snap: u64) -> Result<BTreeSet<Child>, i32> {
    let v = get_key(ctx, &children_key(snap))?;
    let mut r = Reader::new(v);
    let n = r.count(6).map_err(|_| EIO)?;
    (0..n).map(|_| decode_child(&mut r).map_err(|_| EIO)).collect()
}

pub fn call(ctx: &mut Ctx, method: &str, input: Bytes) -> Result<Bytes, i32> {
    let mut r = Reader::new(input.clone());
    match method {
        "get_all_features" => Ok(enc(|e| e.u64(FEATURES_ALL))),
        // Image or snapshot flags (object map / fast-diff invalid).
        "set_flags" => {
            let flags = r.u64().map_err(bad)?;
            let mask = r.u64().map_err(bad)?;
            let snap = if r.is_empty() { NOSNAP } else { r.u64().map_err(bad)? };
            if snap == NOSNAP {
                let orig = or_default_u64(ctx, "flags", 0)?;
                set_keys(ctx, vec![("flags".into(), enc(|e| e.u64((orig & !mask) | (flags & mask))))]);
            } else {
                let mut s = read_snap(ctx, snap)?;
                s.flags = (s.flags & !mask) | (flags & mask);
                write_snap(ctx, s)?;
            }
            Ok(Bytes::new())
        }
        "op_features_set" => {
            let op = r.u64().map_err(bad)?;
            let mask = r.u64().map_err(bad)?;
            if mask & !OP_ALL != 0 {
                return Err(EINVAL);
            }
            set_op_features(ctx, op, mask).map(|_| Bytes::new())
        }
        // ------------------------------------------------------- snapshots
        "snapshot_add" => {
            let name = r.string().map_err(bad)?;
            let id = r.u64().map_err(bad)?;
            let namespace = if r.is_empty() { user_namespace() } else { take_namespace(&mut r).map_err(bad)? };
            let nst = ns_type(&namespace)?;
            if nst > 3 || id > MAXSNAP {
                return Err(EINVAL);
            }
            let seq = get_u64(ctx, "snap_seq")?;
            if id < seq {
                return Err(ESTALE);
            }
            let size = get_u64(ctx, "size")?;
            let flags = or_default_u64(ctx, "flags", 0)?;
            let limit = or_default_u64(ctx, "snap_limit", u64::MAX)?;
            for (n, s) in all_snaps(ctx)?.iter().enumerate() {
                if n as u64 + 1 > limit {
                    return Err(EDQUOT);
                }
                if (s.name == name && s.namespace == namespace) || s.id == id {
                    return Err(EEXIST);
                }
            }
            let parent = read_parent(ctx)?;
            let rec = SnapRec {
                id,
                name,
                image_size: size,
                protection: 0,
                flags,
                namespace,
                ns_type: nst,
                timestamp: Utime::now(),
                child_count: 0,
                parent_overlap: parent.as_ref().and_then(|p| p.head_overlap),
                parent: None,
            };
            if nst == NS_TRASH {
                let cur = or_default_u64(ctx, "op_features", 0)?;
                set_op_features(ctx, cur | OP_SNAP_TRASH, OP_SNAP_TRASH)?;
            }
            set_keys(ctx, vec![("snap_seq".into(), enc(|e| e.u64(id)))]);
            write_snap(ctx, rec)?;
            Ok(Bytes::new())
        }
        "snapshot_remove" => {
            let id = r.u64().map_err(bad)?;
            let s = read_snap(ctx, id)?;
            if s.protection != 0 || s.child_count > 0 {
                return Err(EBUSY);
            }
            ctx.omap_rm(vec![Bytes::from(snap_key(id).into_bytes())]);
            let others: Vec<SnapRec> = all_snaps(ctx)?.into_iter().filter(|x| x.id != id).collect();
            let has_child_snaps = others.iter().any(|x| x.parent.is_some() || x.parent_overlap.is_some());
            let has_trash = others.iter().any(|x| x.ns_type == NS_TRASH);
            let parent = read_parent(ctx)?;
            if let Some(p) = &parent {
                if p.head_overlap.is_none() && !has_child_snaps {
                    ctx.omap_rm(vec![Bytes::from_static(b"parent")]);
                }
            }
            let head_child = parent.as_ref().is_some_and(|p| p.head_overlap.is_some());
            let mut mask = 0;
            if !has_child_snaps && !head_child {
                mask |= OP_CLONE_CHILD;
            }
            if !has_trash {
                mask |= OP_SNAP_TRASH;
            }
            if mask != 0 && get_u64(ctx, "features").is_ok() {
                set_op_features(ctx, 0, mask)?;
            }
            Ok(Bytes::new())
        }
        "snapshot_rename" => {
            let id = r.u64().map_err(bad)?;
            let name = r.string().map_err(bad)?;
            if all_snaps(ctx)?.iter().any(|s| s.ns_type == 0 && s.name == name) {
                return Err(EEXIST);
            }
            let mut s = read_snap(ctx, id)?;
            if s.ns_type != 0 {
                return Err(EINVAL);
            }
            s.name = name;
            write_snap(ctx, s).map(|_| Bytes::new())
        }
        "snapshot_get" | "get_snapshot_name" | "get_snapshot_timestamp" | "get_protection_status" => {
            if method == "get_protection_status" {
                need_exists(ctx)?;
            }
            let id = r.u64().map_err(bad)?;
            if id == NOSNAP {
                return Err(EINVAL);
            }
            let s = read_snap(ctx, id)?;
            Ok(match method {
                "snapshot_get" => enc(|e| {
                    let st = e.start(1, 1);
                    e.u64(s.id);
                    e.raw(&s.namespace);
                    e.string(&s.name);
                    e.u64(s.image_size);
                    e.put(&s.timestamp);
                    e.u32(s.child_count);
                    e.finish(st);
                }),
                "get_snapshot_name" => enc(|e| e.string(&s.name)),
                "get_snapshot_timestamp" => enc(|e| e.put(&s.timestamp)),
                _ => {
                    if s.protection >= 3 {
                        return Err(EIO);
                    }
                    enc(|e| e.u8(s.protection))
                }
            })
        }
        "set_protection_status" => {
            need_exists(ctx)?;
            let id = r.u64().map_err(bad)?;
            let status = r.u8().map_err(bad)?;
            require_feature(ctx, FEATURE_LAYERING)?;
            if id == NOSNAP || status >= 3 {
                return Err(EINVAL);
            }
            let mut s = read_snap(ctx, id)?;
            s.protection = status;
            write_snap(ctx, s).map(|_| Bytes::new())
        }
        // --------------------------------------------------------- parent link
        "parent_get" => {
            need_exists(ctx)?;
            if require_feature(ctx, FEATURE_LAYERING).is_err() {
                return Ok(Parent::none().spec());
            }
            let p = match read_parent(ctx)? {
                Some(p) => p,
                None => all_snaps(ctx)?.into_iter().filter_map(|s| s.parent).last().unwrap_or_else(Parent::none),
            };
            Ok(p.spec())
        }
        "parent_overlap_get" => {
            let snap = r.u64().map_err(bad)?;
            let overlap = if require_feature(ctx, FEATURE_LAYERING).is_err() {
                None
            } else if snap == NOSNAP {
                read_parent(ctx)?.and_then(|p| p.head_overlap)
            } else {
                let s = read_snap(ctx, snap)?;
                s.parent_overlap.or(s.parent.and_then(|p| p.head_overlap))
            };
            Ok(enc(|e| put_opt(e, overlap)))
        }
        "get_parent" => {
            let snap = r.u64().map_err(bad)?;
            let (p, overlap) = if require_feature(ctx, FEATURE_LAYERING).is_err() {
                (Parent::none(), 0)
            } else if snap == NOSNAP {
                let p = read_parent(ctx)?.unwrap_or_else(Parent::none);
                let o = p.head_overlap.unwrap_or(0);
                (p, o)
            } else {
                let s = read_snap(ctx, snap)?;
                let p = s.parent.clone().or(read_parent(ctx)?).unwrap_or_else(Parent::none);
                (p, s.parent_overlap.unwrap_or(0))
            };
            if !p.namespace.is_empty() {
                return Err(EXDEV);
            }
            Ok(enc(|e| {
                e.i64(p.pool);
                e.string(&p.image_id);
                e.u64(p.snap);
                e.u64(overlap);
            }))
        }
        "parent_attach" | "set_parent" => {
            need_exists(ctx)?;
            let (spec, overlap, reattach) = if method == "parent_attach" {
                let (_, mut b) = r.versioned(1, "ParentImageSpec").map_err(bad)?;
                let spec = Parent { pool: b.i64().map_err(bad)?, namespace: b.string().map_err(bad)?, image_id: b.string().map_err(bad)?, snap: b.u64().map_err(bad)?, head_overlap: None };
                let overlap = r.u64().map_err(bad)?;
                let reattach = !r.is_empty() && r.u8().map_err(bad)? != 0;
                (spec, overlap, reattach)
            } else {
                let spec = Parent { pool: r.i64().map_err(bad)?, namespace: String::new(), image_id: r.string().map_err(bad)?, snap: r.u64().map_err(bad)?, head_overlap: None };
                (spec, r.u64().map_err(bad)?, false)
            };
            require_feature(ctx, FEATURE_LAYERING)?;
            if !spec.exists() || overlap == 0 {
                return Err(EINVAL);
            }
            if let Some(old) = read_parent(ctx)? {
                let same = old.pool == spec.pool && old.namespace == spec.namespace && old.image_id == spec.image_id && old.snap == spec.snap;
                if (old.head_overlap.is_some() || !same) && !reattach {
                    return Err(EEXIST);
                }
            }
            let size = get_u64(ctx, "size")?;
            set_keys(ctx, vec![("parent".into(), Parent { head_overlap: Some(overlap.min(size)), ..spec }.encode())]);
            Ok(Bytes::new())
        }
        "parent_detach" | "remove_parent" => {
            need_exists(ctx)?;
            let features = get_u64(ctx, "features").map_err(|_| ENOEXEC)?;
            if features & FEATURE_LAYERING == 0 {
                return Err(ENOEXEC);
            }
            let p = read_parent(ctx)?.ok_or(ENOENT)?;
            if method == "remove_parent" && !p.namespace.is_empty() {
                return Err(EXDEV);
            }
            if p.head_overlap.is_none() {
                return Err(ENOENT);
            }
            let mut has_child_snaps = false;
            for mut s in all_snaps(ctx)? {
                if s.parent.is_none() && s.parent_overlap.is_none() {
                    continue;
                }
                if features & FEATURE_DEEP_FLATTEN != 0 {
                    s.parent = None;
                    s.parent_overlap = None;
                    set_keys(ctx, vec![(snap_key(s.id), s.encode())]);
                } else {
                    has_child_snaps = true;
                    break;
                }
            }
            if has_child_snaps {
                set_keys(ctx, vec![("parent".into(), Parent { head_overlap: None, ..p }.encode())]);
            } else {
                ctx.omap_rm(vec![Bytes::from_static(b"parent")]);
                set_op_features(ctx, 0, OP_CLONE_CHILD)?;
            }
            Ok(Bytes::new())
        }
        // ------------------------------------------------ children, clone v1
        "add_child" | "remove_child" | "get_children" => {
            let key_start = r.peek_rest().clone();
            r.u64().map_err(bad)?;
            r.string().map_err(bad)?;
            r.u64().map_err(bad)?;
            let key = key_start.slice(..key_start.len() - r.remaining());
            let get = |ctx: &Ctx| -> Result<BTreeSet<String>, i32> {
                let v = ctx.store.omap_get(ctx.coll, &ctx.oid, std::slice::from_ref(&key)).map_err(|_| EIO)?;
                match v.into_iter().next() {
                    Some((_, v)) if ctx.exists => decode_set(v),
                    _ => Err(ENOENT),
                }
            };
            if method == "get_children" {
                return Ok(encode_set(&get(ctx)?));
            }
            let child = r.string().map_err(bad)?;
            let mut set = match get(ctx) {
                Ok(s) => s,
                Err(e) if e == ENOENT && method == "add_child" => BTreeSet::new(),
                Err(e) => return Err(e),
            };
            if method == "add_child" {
                if !set.insert(child) {
                    return Err(EEXIST);
                }
            } else if !set.remove(&child) {
                return Err(ENOENT);
            }
            if set.is_empty() {
                ctx.omap_rm(vec![key]);
            } else {
                ctx.omap_set(vec![(key, encode_set(&set))]);
            }
            Ok(Bytes::new())
        }
        // ------------------------------------------------ children, clone v2
        "child_attach" | "child_detach" => {
            let snap = r.u64().map_err(bad)?;
            let child = decode_child(&mut r).map_err(bad)?;
            let mut s = read_snap(ctx, snap)?;
            let mut set = match read_children(ctx, snap) {
                Ok(x) => x,
                Err(e) if e == ENOENT => BTreeSet::new(),
                Err(e) => return Err(e),
            };
            if method == "child_attach" {
                if s.ns_type == NS_TRASH {
                    return Err(ENOENT);
                }
                if !set.insert(child) {
                    return Err(EEXIST);
                }
                s.child_count += 1;
            } else {
                if s.child_count as usize != set.len() {
                    return Err(EINVAL);
                }
                if !set.remove(&child) {
                    return Err(ENOENT);
                }
                s.child_count -= 1;
            }
            if set.is_empty() {
                ctx.omap_rm(vec![Bytes::from(children_key(snap).into_bytes())]);
            } else {
                set_keys(ctx, vec![(children_key(snap), enc(|e| encode_children(e, &set)))]);
            }
            let count = s.child_count;
            write_snap(ctx, s)?;
            if method == "child_attach" {
                let cur = or_default_u64(ctx, "op_features", 0)?;
                set_op_features(ctx, cur | OP_CLONE_PARENT, OP_CLONE_PARENT)?;
            } else if count == 0 && !all_snaps(ctx)?.iter().any(|x| x.id != snap && x.child_count > 0) {
                set_op_features(ctx, 0, OP_CLONE_PARENT)?;
            }
            Ok(Bytes::new())
        }
        "children_list" => {
            let snap = r.u64().map_err(bad)?;
            read_snap(ctx, snap)?;
            let set = read_children(ctx, snap)?;
            Ok(enc(|e| encode_children(e, &set)))
        }
        // ------------------------------------------------------------ copy-up
        "copyup" => {
            if ctx.exists {
                return Ok(Bytes::new());
            }
            let w = ctx.write(0, input);
            if w < 0 {
                return Err(w);
            }
            Ok(Bytes::new())
        }
        "sparse_copyup" => {
            let n = r.count(16).map_err(bad)?;
            let mut extents = Vec::with_capacity(n);
            for _ in 0..n {
                extents.push((r.u64().map_err(bad)?, r.u64().map_err(bad)?));
            }
            let data = r.bufferlist().map_err(bad)?;
            if ctx.exists {
                return Ok(Bytes::new());
            }
            if extents.is_empty() {
                let w = ctx.write(0, Bytes::new());
                return if w < 0 { Err(w) } else { Ok(Bytes::new()) };
            }
            let mut at = 0usize;
            for (off, len) in extents {
                let len = len as usize;
                if at + len > data.len() {
                    return Err(EINVAL);
                }
                let w = ctx.write(off, data.slice(at..at + len));
                if w < 0 {
                    return Err(w);
                }
                at += len;
            }
            Ok(Bytes::new())
        }
        _ => Err(EOPNOTSUPP),
    }
}

pub fn flags(method: &str) -> Option<(bool, bool)> {
    Some(match method {
        "get_all_features" | "snapshot_get" | "get_snapshot_name" | "get_snapshot_timestamp" | "get_protection_status" | "parent_get"
        | "parent_overlap_get" | "get_parent" | "get_children" | "children_list" => (true, false),
        "set_flags" | "op_features_set" | "snapshot_add" | "snapshot_remove" | "snapshot_rename" | "set_protection_status" | "parent_attach" | "set_parent"
        | "parent_detach" | "remove_parent" | "add_child" | "remove_child" | "child_attach" | "child_detach" | "copyup" | "sparse_copyup" => {
            (true, true)
        }
        _ => return None,
    })
}
