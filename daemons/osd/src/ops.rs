//! Executing a client's compound op on one object, with Ceph's semantics and
//! error codes (`PrimaryLogPG::do_osd_ops`). Reads come from the store; every
//! change goes into one transaction that is applied (and replicated) only if
//! the whole compound op succeeds.

use crate::cls;
use bytes::Bytes;
use denc::{Decode, Encode, Encoder, Reader, Utime};
use messages::osd::{opcode as op, OsdOp};
use objectstore::{ObjectId, Op, Store, Transaction};
use std::collections::BTreeMap;

pub const ENOENT: i32 = -2;
pub const EIO: i32 = -5;
pub const E2BIG: i32 = -7;
pub const EEXIST: i32 = -17;
pub const EBUSY: i32 = -16;
pub const ENOEXEC: i32 = -8;
pub const EBADF: i32 = -9;
pub const EXDEV: i32 = -18;
pub const ENOSYS: i32 = -38;
pub const ESTALE: i32 = -116;
pub const EDQUOT: i32 = -122;
pub const EINVAL: i32 = -22;
pub const EFBIG: i32 = -27;
pub const ERANGE: i32 = -34;
pub const ENODATA: i32 = -61;
pub const EOPNOTSUPP: i32 = -95;
pub const EOVERFLOW: i32 = -75;
pub const ECANCELED: i32 = -125;

/// `CEPH_OSD_OP_FLAG_EXCL` / `_FAILOK`.
const OP_FLAG_EXCL: u32 = 1;
const OP_FLAG_FAILOK: u32 = 2;
/// `CEPH_OSD_OP_FLAG_FADVISE_WILLNEED`: the client will read this data back
/// soon, so the primary keeps it in the page cache (BlueStore: buffered).
pub const OP_FLAG_FADVISE_WILLNEED: u32 = 0x10;
/// `CEPH_OSD_OP_FLAG_FADVISE_DONTNEED` / `_NOCACHE`: the client will not read
/// this data back soon, so the primary writes it around the page cache.
pub const OP_FLAG_FADVISE_DONTNEED: u32 = 0x20;
pub const OP_FLAG_FADVISE_NOCACHE: u32 = 0x40;

/// What we keep about an object besides its data (our `object_info_t`),
/// stored in the `_` xattr as Ceph does.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObjectInfo {
    pub version: types::osd::EVersion,
    pub user_version: u64,
    pub mtime: Utime,
}

pub const OI_ATTR: &str = "_";

use crate::snaps::{SnapSet, Target};

impl Encode for ObjectInfo {
    fn encode(&self, e: &mut Encoder) {
        e.u8(1);
        self.version.encode(e);
        e.u64(self.user_version);
        self.mtime.encode(e);
    }
}
impl Decode for ObjectInfo {
    fn decode(r: &mut Reader) -> denc::Result<Self> {
        r.u8()?;
        Ok(ObjectInfo { version: r.decode()?, user_version: r.u64()?, mtime: r.decode()? })
    }
}

/// The object an op works on, and what the op did to it so far.
pub struct Ctx<'a> {
    pub store: &'a Store,
    pub coll: &'a str,
    pub oid: ObjectId,
    pub exists: bool,
    pub size: u64,
    pub oi: ObjectInfo,
    pub txn: Transaction,
    pub modified: bool,
    pub deleted: bool,
    pub max_object_size: u64,
    /// Omap/xattr limits for reads (`osd_max_omap_entries_per_request`...).
    pub max_omap_entries: u64,
    /// Watch/notify work the PG does after the op (registered by WATCH/NOTIFY ops).
    pub effects: Vec<Effect>,
    /// Class methods called: (read, write) flags, for caps.
    pub cls_calls: Vec<(bool, bool)>,
    /// Who sent the op (`cls_get_request_origin`), for cls_lock.
    pub origin: crate::cls_lock::Origin,
    /// The head's clones (empty for a clone or an object never snapshotted).
    pub snapset: SnapSet,
    /// The head is a whiteout: deleted, kept only for its clones.
    pub whiteout: bool,
}

/// Follow-up actions that are not store changes.
#[derive(Debug, Clone)]
pub enum Effect {
    Watch { cookie: u64, timeout: u32 },
    Unwatch { cookie: u64 },
    Ping { cookie: u64 },
    Notify { cookie: u64, timeout: u32, payload: Bytes },
    NotifyAck { notify_id: u64, cookie: u64, payload: Bytes },
}

impl<'a> Ctx<'a> {
    pub fn new(store: &'a Store, coll: &'a str, oid: ObjectId) -> objectstore::Result<Self> {
        let mut size = store.stat(coll, &oid)?;
        let (snapset, whiteout) = if size.is_some() && oid.snap == objectstore::NOSNAP { crate::snaps::load(store, coll, &oid)? } else { (SnapSet::default(), false) };
        if whiteout {
            size = None;
        }
        let oi = match store.getattr(coll, &oid, OI_ATTR)? {
            Some(b) => ObjectInfo::from_bytes(Bytes::from(b)).unwrap_or_default(),
            None => ObjectInfo::default(),
        };
        Ok(Ctx {
            store,
            coll,
            exists: size.is_some(),
            size: size.unwrap_or(0),
            oid,
            oi,
            txn: Transaction::new(),
            modified: false,
            deleted: false,
            max_object_size: 128 << 20,
            max_omap_entries: 131072,
            effects: Vec::new(),
            cls_calls: Vec::new(),
            origin: crate::cls_lock::Origin { name: types::EntityNameT { ty: 0, num: 0 }, addr: types::EntityAddr::default(), features: 0 },
            snapset,
            whiteout,
        })
    }

    fn coll(&self) -> String {
        self.coll.to_string()
    }

    pub fn touch(&mut self) {
        if !self.exists {
            self.txn.push(Op::Touch { coll: self.coll(), oid: self.oid.clone() });
            self.exists = true;
            self.size = 0;
            self.deleted = false;
        }
        self.modified = true;
    }

    pub fn write(&mut self, off: u64, data: Bytes) -> i32 {
        let end = off.saturating_add(data.len() as u64);
        if end > self.max_object_size {
            return EFBIG;
        }
        self.touch();
        self.size = self.size.max(end);
        self.txn.push(Op::Write { coll: self.coll(), oid: self.oid.clone(), off, data });
        0
    }

    /// Replaces the whole object's data (`CEPH_OSD_OP_WRITEFULL`).
    pub fn write_full(&mut self, data: Bytes) -> i32 {
        if self.exists && self.size > 0 {
            let r = self.truncate(0);
            if r < 0 {
                return r;
            }
        }
        self.touch();
        self.write(0, data)
    }

    pub fn truncate(&mut self, size: u64) -> i32 {
        if size > self.max_object_size {
            return EFBIG;
        }
        self.touch();
        self.size = size;
        self.txn.push(Op::Truncate { coll: self.coll(), oid: self.oid.clone(), size });
        0
    }

    pub fn remove(&mut self) {
        self.txn.push(Op::Remove { coll: self.coll(), oid: self.oid.clone() });
        self.exists = false;
        self.deleted = true;
        self.modified = true;
        self.size = 0;
    }

    /// Reads of data written earlier in this same op are not visible (as in
    /// Ceph, reads see the object as it was).
    pub fn read(&self, off: u64, len: u64) -> Result<Bytes, i32> {
        self.store.read(self.coll, &self.oid, off, len).map_err(|_| EIO)
    }

    pub fn getattr(&self, name: &str) -> Result<Option<Vec<u8>>, i32> {
        self.store.getattr(self.coll, &self.oid, name).map_err(|_| EIO)
    }

    pub fn setattr(&mut self, name: String, value: Bytes) {
        self.touch();
        self.txn.push(Op::SetAttr { coll: self.coll(), oid: self.oid.clone(), name, value });
    }

    pub fn rmattr(&mut self, name: String) {
        self.modified = true;
        self.txn.push(Op::RmAttr { coll: self.coll(), oid: self.oid.clone(), name });
    }

    pub fn omap_set(&mut self, kv: Vec<(Bytes, Bytes)>) {
        self.touch();
        self.txn.push(Op::OmapSet { coll: self.coll(), oid: self.oid.clone(), kv });
    }

    pub fn omap_rm(&mut self, keys: Vec<Bytes>) {
        self.modified = true;
        self.txn.push(Op::OmapRm { coll: self.coll(), oid: self.oid.clone(), keys });
    }

    pub fn omap_vals(&self, start_after: &str, prefix: &str, max: u64) -> Result<(Vec<(Bytes, Bytes)>, bool), i32> {
        let max = max.min(self.max_omap_entries) as usize;
        let from = if start_after < prefix { prefix.as_bytes() } else { start_after.as_bytes() };
        let after = from == start_after.as_bytes() && !start_after.is_empty();
        let mut v = self.store.omap_range(self.coll, &self.oid, from, after, max + 1).map_err(|_| EIO)?;
        v.retain(|(k, _)| k.starts_with(prefix.as_bytes()));
        let more = v.len() > max;
        v.truncate(max);
        Ok((v, more))
    }
}

/// `map<string, bufferlist>` / `set<string>` as Ceph encodes them.
pub fn encode_kv(e: &mut Encoder, kv: &[(Bytes, Bytes)]) {
    e.u32(kv.len() as u32);
    for (k, v) in kv {
        e.bufferlist(k);
        e.bufferlist(v);
    }
}
pub fn decode_kv(r: &mut Reader) -> denc::Result<Vec<(Bytes, Bytes)>> {
    let n = r.count(8)?;
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        v.push((r.bufferlist()?, r.bufferlist()?));
    }
    Ok(v)
}
pub fn decode_keys(r: &mut Reader) -> denc::Result<Vec<Bytes>> {
    let n = r.count(4)?;
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        v.push(r.bufferlist()?);
    }
    Ok(v)
}

/// Runs every op in order. Returns the overall result; each op's rval and
/// output are set in place. Stops at the first failing op (unless it is
/// FAILOK), as Ceph does.
pub fn execute(ctx: &mut Ctx, ops: &mut [OsdOp]) -> i32 {
    let mut result = 0;
    for o in ops.iter_mut() {
        let input = std::mem::take(&mut o.data);
        let r = match do_op(ctx, o, input) {
            Ok(out) => {
                o.data = out;
                0
            }
            Err(e) => e,
        };
        o.rval = r;
        if r < 0 {
            if o.flags & OP_FLAG_FAILOK != 0 {
                continue;
            }
            result = r;
            break;
        }
    }
    result
}

fn u64_at(o: &OsdOp, off: usize) -> u64 {
    o.u64_at(off)
}

fn set_u64(o: &mut OsdOp, off: usize, v: u64) {
    o.args[off..off + 8].copy_from_slice(&v.to_le_bytes());
}

fn set_u32(o: &mut OsdOp, off: usize, v: u32) {
    o.args[off..off + 4].copy_from_slice(&v.to_le_bytes());
}

pub(crate) fn bad<T>(_: T) -> i32 {
    EINVAL
}

pub(crate) fn need_exists(ctx: &Ctx) -> Result<(), i32> {
    if ctx.exists {
        Ok(())
    } else {
        Err(ENOENT)
    }
}

fn do_op(ctx: &mut Ctx, o: &mut OsdOp, input: Bytes) -> Result<Bytes, i32> {
    match o.op {
        op::READ | op::SPARSE_READ => {
            need_exists(ctx)?;
            let off = u64_at(o, 0);
            let mut len = u64_at(o, 8);
            if len == 0 {
                len = ctx.size.saturating_sub(off);
            }
            if o.op == op::READ {
                let d = ctx.read(off, len)?;
                set_u64(o, 8, d.len() as u64);
                return Ok(d);
            }
            // Ceph's reply: the extent map, then the extents' bytes as one
            // bufferlist (its length, then the data), read in behind the map
            // in one buffer, uncopied.
            let (ext, data) = ctx
                .store
                .sparse_read(ctx.coll, &ctx.oid, off, len, |ext| {
                    let mut e = Encoder::new(0);
                    e.u32(ext.len() as u32);
                    for (eo, el) in ext {
                        e.u64(*eo);
                        e.u64(*el);
                    }
                    e.u32(ext.iter().map(|(_, l)| l).sum::<u64>() as u32);
                    e.into_bytes()
                })
                .map_err(|_| EIO)?;
            // The reply's op says how much was read, as Ceph's does.
            set_u64(o, 8, ext.iter().map(|(_, l)| l).sum());
            Ok(data)
        }
        op::STAT => {
            need_exists(ctx)?;
            let mut e = Encoder::new(0);
            e.u64(ctx.size);
            ctx.oi.mtime.encode(&mut e);
            Ok(e.into_bytes())
        }
        op::WRITE => {
            let off = u64_at(o, 0);
            let len = u64_at(o, 8);
            if len != input.len() as u64 {
                return Err(EINVAL);
            }
            res(ctx.write(off, input))
        }
        op::WRITEFULL => {
            let len = u64_at(o, 8);
            if len != input.len() as u64 {
                return Err(EINVAL);
            }
            if input.len() as u64 > ctx.max_object_size {
                return Err(EFBIG);
            }
            res(ctx.write_full(input))
        }
        op::APPEND => {
            let len = u64_at(o, 8);
            if len != input.len() as u64 {
                return Err(EINVAL);
            }
            let off = ctx.size;
            res(ctx.write(off, input))
        }
        op::TRUNCATE => {
            let size = u64_at(o, 0);
            res(ctx.truncate(size))
        }
        op::ZERO => {
            let off = u64_at(o, 0);
            let len = u64_at(o, 8);
            if off.saturating_add(len) > ctx.max_object_size {
                return Err(EFBIG);
            }
            if ctx.exists && len > 0 {
                // Zeroing past the end does not grow the object.
                let end = off.saturating_add(len).min(ctx.size);
                if off < end {
                    ctx.modified = true;
                    ctx.txn.push(Op::Zero { coll: ctx.coll(), oid: ctx.oid.clone(), off, len: end - off });
                }
            }
            Ok(Bytes::new())
        }
        op::CREATE => {
            if ctx.exists {
                if o.flags & OP_FLAG_EXCL != 0 {
                    return Err(EEXIST);
                }
            } else {
                ctx.touch();
            }
            Ok(Bytes::new())
        }
        op::DELETE => {
            need_exists(ctx)?;
            ctx.remove();
            Ok(Bytes::new())
        }
        op::SETALLOCHINT => {
            // A hint only (object and write sizes); creates the object as Ceph does.
            ctx.touch();
            Ok(Bytes::new())
        }
        op::GETXATTR => {
            need_exists(ctx)?;
            let (name, _) = xattr_args(o, &input)?;
            let v = ctx.getattr(&format!("_{name}"))?.ok_or(ENODATA)?;
            set_u32(o, 4, v.len() as u32);
            Ok(Bytes::from(v))
        }
        op::GETXATTRS => {
            need_exists(ctx)?;
            let attrs = ctx.store.getattrs(ctx.coll, &ctx.oid).map_err(|_| EIO)?;
            let user: Vec<(Bytes, Bytes)> = attrs
                .into_iter()
                .filter_map(|(k, v)| k.strip_prefix('_').filter(|n| !n.is_empty()).map(|n| (Bytes::from(n.to_string()), v)))
                .collect();
            let mut e = Encoder::new(0);
            encode_kv(&mut e, &user);
            Ok(e.into_bytes())
        }
        op::SETXATTR => {
            let (name, value) = xattr_args(o, &input)?;
            if value.len() > 65536 {
                return Err(E2BIG);
            }
            ctx.setattr(format!("_{name}"), value);
            Ok(Bytes::new())
        }
        op::RMXATTR => {
            need_exists(ctx)?;
            let (name, _) = xattr_args(o, &input)?;
            ctx.rmattr(format!("_{name}"));
            Ok(Bytes::new())
        }
        op::CMPXATTR => {
            need_exists(ctx)?;
            let (name, value) = xattr_args(o, &input)?;
            let cmp_op = o.args[8];
            let cmp_mode = o.args[9];
            let cur = ctx.getattr(&format!("_{name}"))?.unwrap_or_default();
            let ord = match cmp_mode {
                // CEPH_OSD_CMPXATTR_MODE_STRING
                1 => cur.as_slice().cmp(&value[..]),
                // CEPH_OSD_CMPXATTR_MODE_U64: both sides as decimal or binary u64
                2 => {
                    let parse = |b: &[u8]| -> Option<u64> {
                        if b.len() == 8 {
                            Some(u64::from_le_bytes(b.try_into().ok()?))
                        } else {
                            std::str::from_utf8(b).ok()?.trim().parse().ok()
                        }
                    };
                    let a = parse(&cur).unwrap_or(0);
                    let b = parse(&value).ok_or(EINVAL)?;
                    a.cmp(&b)
                }
                _ => return Err(EINVAL),
            };
            use std::cmp::Ordering::*;
            let ok = match cmp_op {
                1 => ord == Equal,
                2 => ord != Equal,
                3 => ord == Greater,
                4 => ord != Less,
                5 => ord == Less,
                6 => ord != Greater,
                _ => return Err(EINVAL),
            };
            if ok {
                Ok(Bytes::new())
            } else {
                Err(ECANCELED)
            }
        }
        op::OMAPGETKEYS | op::OMAPGETVALS => {
            need_exists(ctx)?;
            let mut r = Reader::new(input);
            let start_after = r.string().map_err(bad)?;
            let max = r.u64().map_err(bad)?;
            let prefix = if o.op == op::OMAPGETVALS { r.string().unwrap_or_default() } else { String::new() };
            let (kv, more) = ctx.omap_vals(&start_after, &prefix, max)?;
            let mut e = Encoder::new(0);
            if o.op == op::OMAPGETKEYS {
                e.u32(kv.len() as u32);
                for (k, _) in &kv {
                    e.bufferlist(k);
                }
            } else {
                encode_kv(&mut e, &kv);
            }
            e.bool(more);
            Ok(e.into_bytes())
        }
        op::OMAPGETHEADER => {
            need_exists(ctx)?;
            ctx.store.omap_header(ctx.coll, &ctx.oid).map_err(|_| EIO)
        }
        op::OMAPGETVALSBYKEYS => {
            need_exists(ctx)?;
            let keys = decode_keys(&mut Reader::new(input)).map_err(bad)?;
            let kv = ctx.store.omap_get(ctx.coll, &ctx.oid, &keys).map_err(|_| EIO)?;
            let mut e = Encoder::new(0);
            encode_kv(&mut e, &kv);
            Ok(e.into_bytes())
        }
        op::OMAP_CMP => {
            need_exists(ctx)?;
            // map<string, pair<bufferlist, int>>: key → (value, CEPH_OSD_CMPXATTR_OP_*)
            let mut r = Reader::new(input);
            let n = r.count(9).map_err(bad)?;
            let mut want = Vec::with_capacity(n);
            for _ in 0..n {
                let k = r.bufferlist().map_err(bad)?;
                let v = r.bufferlist().map_err(bad)?;
                let cmp = r.i32().map_err(bad)?;
                want.push((k, v, cmp));
            }
            let keys: Vec<Bytes> = want.iter().map(|w| w.0.clone()).collect();
            let have: BTreeMap<Bytes, Bytes> = ctx.store.omap_get(ctx.coll, &ctx.oid, &keys).map_err(|_| EIO)?.into_iter().collect();
            for (k, v, cmp) in want {
                let cur = have.get(&k).cloned().unwrap_or_default();
                let ord = cur.cmp(&v);
                use std::cmp::Ordering::*;
                let ok = match cmp {
                    1 => ord == Equal,
                    3 => ord == Greater,
                    5 => ord == Less,
                    _ => return Err(EINVAL),
                };
                if !ok {
                    return Err(ECANCELED);
                }
            }
            Ok(Bytes::new())
        }
        op::OMAPSETVALS => {
            let kv = decode_kv(&mut Reader::new(input)).map_err(bad)?;
            ctx.omap_set(kv);
            Ok(Bytes::new())
        }
        op::OMAPSETHEADER => {
            ctx.touch();
            ctx.txn.push(Op::OmapHeader { coll: ctx.coll(), oid: ctx.oid.clone(), header: input });
            Ok(Bytes::new())
        }
        op::OMAPCLEAR => {
            need_exists(ctx)?;
            ctx.modified = true;
            ctx.txn.push(Op::OmapClear { coll: ctx.coll(), oid: ctx.oid.clone() });
            Ok(Bytes::new())
        }
        op::OMAPRMKEYS => {
            need_exists(ctx)?;
            let keys = decode_keys(&mut Reader::new(input)).map_err(bad)?;
            ctx.omap_rm(keys);
            Ok(Bytes::new())
        }
        OMAP_RMKEYRANGE => {
            need_exists(ctx)?;
            let mut r = Reader::new(input);
            let first = r.bufferlist().map_err(bad)?;
            let last = r.bufferlist().map_err(bad)?;
            ctx.modified = true;
            ctx.txn.push(Op::OmapRmRange { coll: ctx.coll(), oid: ctx.oid.clone(), first, last });
            Ok(Bytes::new())
        }
        op::ASSERT_VER => {
            let ver = u64_at(o, 0);
            if ver == 0 {
                return Err(EINVAL);
            }
            if ver < ctx.oi.user_version {
                return Err(ERANGE);
            }
            if ver > ctx.oi.user_version {
                return Err(EOVERFLOW);
            }
            Ok(Bytes::new())
        }
        op::CALL => {
            let cl = o.args[0] as usize;
            let ml = o.args[1] as usize;
            let il = o.u32_at(3) as usize;
            if input.len() < cl + ml + il {
                return Err(EINVAL);
            }
            let class = std::str::from_utf8(&input[..cl]).map_err(bad)?.to_string();
            let method = std::str::from_utf8(&input[cl..cl + ml]).map_err(bad)?.to_string();
            let indata = input.slice(cl + ml..cl + ml + il);
            let out = cls::call(ctx, &class, &method, indata)?;
            set_u32(o, 3, out.len() as u32);
            Ok(out)
        }
        op::WATCH => {
            need_exists(ctx)?;
            let cookie = u64_at(o, 0);
            let wop = o.args[16];
            let timeout = o.u32_at(21);
            ctx.effects.push(match wop {
                messages::osd::WATCH_OP_UNWATCH => Effect::Unwatch { cookie },
                messages::osd::WATCH_OP_PING => Effect::Ping { cookie },
                _ => Effect::Watch { cookie, timeout },
            });
            Ok(Bytes::new())
        }
        op::NOTIFY => {
            need_exists(ctx)?;
            // indata: u32 ver, u32 timeout, bufferlist payload
            let mut r = Reader::new(input);
            let _ver = r.u32().map_err(bad)?;
            let timeout = r.u32().map_err(bad)?;
            let payload = r.bufferlist().map_err(bad)?;
            ctx.effects.push(Effect::Notify { cookie: u64_at(o, 0), timeout, payload });
            Ok(Bytes::new())
        }
        op::NOTIFY_ACK => {
            let mut r = Reader::new(input);
            let notify_id = r.u64().map_err(bad)?;
            let cookie = r.u64().map_err(bad)?;
            let payload = r.bufferlist().unwrap_or_default();
            ctx.effects.push(Effect::NotifyAck { notify_id, cookie, payload });
            Ok(Bytes::new())
        }
        op::LIST_WATCHERS => {
            need_exists(ctx)?;
            // Filled in by the PG, which knows the watchers.
            Ok(Bytes::new())
        }
        op::LIST_SNAPS => {
            // Sent at CEPH_SNAPDIR (checked by the PG): works on a whiteout too.
            if !ctx.exists && !ctx.whiteout {
                return Err(ENOENT);
            }
            ctx.snapset.list_snaps_reply(ctx.exists.then_some(ctx.size))
        }
        op::ROLLBACK => {
            let snap = u64_at(o, 0);
            let target = if ctx.whiteout && ctx.snapset.resolve(snap) == Target::Head { Target::Missing } else { ctx.snapset.resolve(snap) };
            match target {
                // The snapshot is the head as it is: only the version moves.
                Target::Head => ctx.modified = true,
                Target::Clone(c) => {
                    if ctx.exists {
                        ctx.remove();
                    }
                    let src = ObjectId { snap: c, ..ctx.oid.clone() };
                    ctx.txn.push(Op::Clone { coll: ctx.coll(), src, dst: ctx.oid.clone() });
                    ctx.exists = true;
                    ctx.deleted = false;
                    ctx.whiteout = false;
                    ctx.size = ctx.snapset.clone_size.get(&c).copied().unwrap_or(0);
                    ctx.modified = true;
                }
                // The object did not exist at that snapshot.
                Target::Missing => {
                    if ctx.exists {
                        ctx.remove();
                    }
                    ctx.modified = true;
                }
            }
            Ok(Bytes::new())
        }
        _ => Err(EOPNOTSUPP),
    }
}

/// `CEPH_OSD_OP_OMAPRMKEYRANGE`.
pub const OMAP_RMKEYRANGE: u16 = 0x2224;

fn res(r: i32) -> Result<Bytes, i32> {
    if r < 0 {
        Err(r)
    } else {
        Ok(Bytes::new())
    }
}

/// xattr op: name_len, value_len at args 0/4; data = name then value.
fn xattr_args(o: &OsdOp, input: &Bytes) -> Result<(String, Bytes), i32> {
    let nl = o.u32_at(0) as usize;
    let vl = o.u32_at(4) as usize;
    if input.len() < nl.saturating_add(vl) {
        return Err(EINVAL);
    }
    let name = std::str::from_utf8(&input[..nl]).map_err(bad)?.to_string();
    Ok((name, input.slice(nl..nl + vl)))
}
