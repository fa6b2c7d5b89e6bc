//! `cls_rbd` (`src/cls/rbd/cls_rbd.cc`): the methods librbd calls to create,
//! open, resize, list and remove format-2 images. Image metadata lives in the
//! omap of `rbd_header.<id>`; the pool's image list in the omap of
//! `rbd_directory`; `rbd_id.<name>` holds the image id as its data; images
//! being removed pass through the omap of `rbd_trash`.

pub(crate) use crate::ops::bad;
use crate::ops::{Ctx, EEXIST, EINVAL, EIO, ENOENT, ENOEXEC, ENOSYS};
use crate::snaps::NOSNAP;
use bytes::Bytes;
use denc::{Encoder, Reader, Utime};


const FEATURE_STRIPINGV2: u64 = 1 << 1;
const FEATURE_DATA_POOL: u64 = 1 << 7;
const FEATURE_OPERATIONS: u64 = 1 << 8;
use crate::cls_rbd_snap::FEATURES_ALL;
const FEATURES_INCOMPATIBLE: u64 = 0x883;
const FEATURES_RW_INCOMPATIBLE: u64 = 0xfff;
/// exclusive-lock, object-map, fast-diff, journaling, non-primary
const FEATURES_MUTABLE: u64 = 0x4 | 0x8 | 0x10 | 0x40 | 0x400;
/// deep-flatten can be turned off, never on
const FEATURES_DISABLE_ONLY: u64 = 0x20;

/// Method flags (reads, writes), for capability checks.
pub fn flags(method: &str) -> Option<(bool, bool)> {
    Some(match method {
        "create" | "set_size" | "set_features" | "set_stripe_unit_count" | "set_id" | "dir_add_image" | "dir_remove_image" | "dir_rename_image" | "trash_add" | "trash_remove" | "trash_state_set" | "mirror_image_remove" => {
            (true, true)
        }
        "get_size" | "get_features" | "get_object_prefix" | "get_data_pool" | "get_flags" | "get_snapcontext" | "get_create_timestamp"
        | "get_access_timestamp" | "get_modify_timestamp" | "op_features_get" | "get_stripe_unit_count" | "snapshot_get_limit"
        | "metadata_list" | "image_group_get" | "get_id" | "mirror_image_get" | "dir_get_id"
        | "dir_get_name" | "dir_list" | "trash_list" | "trash_get" | "mirror_mode_get" => (true, false),
        m => return crate::cls_rbd_snap::flags(m).or_else(|| crate::cls_rbd_objmap::flags(m)),
    })
}

pub(crate) fn enc(f: impl FnOnce(&mut Encoder)) -> Bytes {
    let mut e = Encoder::new(0);
    f(&mut e);
    e.into_bytes()
}

pub(crate) fn string_bytes(s: &str) -> Bytes {
    enc(|e| e.string(s))
}

/// One omap value, or ENOENT (also for a missing object).
pub(crate) fn get_key(ctx: &Ctx, key: &str) -> Result<Bytes, i32> {
    if !ctx.exists {
        return Err(ENOENT);
    }
    let v = ctx.store.omap_get(ctx.coll, &ctx.oid, &[Bytes::copy_from_slice(key.as_bytes())]).map_err(|_| EIO)?;
    v.into_iter().next().map(|(_, v)| v).ok_or(ENOENT)
}

pub(crate) fn get_u64(ctx: &Ctx, key: &str) -> Result<u64, i32> {
    let v = get_key(ctx, key)?;
    Reader::new(v).u64().map_err(|_| EIO)
}

pub(crate) fn get_string(ctx: &Ctx, key: &str) -> Result<String, i32> {
    let v = get_key(ctx, key)?;
    Reader::new(v).string().map_err(|_| EIO)
}

/// A u64 key, or `default` when absent.
pub(crate) fn or_default_u64(ctx: &Ctx, key: &str, default: u64) -> Result<u64, i32> {
    or_default(get_u64(ctx, key), default)
}

/// An absent key reads as `default`.
fn or_default<T>(r: Result<T, i32>, default: T) -> Result<T, i32> {
    match r {
        Err(e) if e == ENOENT => Ok(default),
        r => r,
    }
}

pub(crate) fn set_keys(ctx: &mut Ctx, kv: Vec<(String, Bytes)>) {
    ctx.omap_set(kv.into_iter().map(|(k, v)| (Bytes::from(k.into_bytes()), v)).collect());
}

/// All omap entries whose keys start with `prefix`, from after `start` (full key).
pub(crate) fn scan(ctx: &Ctx, prefix: &str, start_after: &str, max: u64) -> Result<Vec<(String, Bytes)>, i32> {
    if !ctx.exists {
        return Err(ENOENT);
    }
    let (v, _) = ctx.omap_vals(start_after, prefix, max)?;
    Ok(v.into_iter().map(|(k, v)| (String::from_utf8_lossy(&k).into_owned(), v)).collect())
}


/// The head's snapshot ids, ascending (`snapshot_%016llx` keys).
fn snap_ids(ctx: &Ctx) -> Result<Vec<u64>, i32> {
    Ok(scan(ctx, "snapshot_", "", u64::MAX)?.into_iter().filter_map(|(k, _)| u64::from_str_radix(&k["snapshot_".len()..], 16).ok()).collect())
}

pub fn call(ctx: &mut Ctx, method: &str, input: Bytes) -> Result<Bytes, i32> {
    let mut r = Reader::new(input.clone());
    match method {
        // ------------------------------------------------------------ header
        "create" => {
            let size = r.u64().map_err(bad)?;
            let order = r.u8().map_err(bad)?;
            let features = r.u64().map_err(bad)?;
            let prefix = r.string().map_err(bad)?;
            let data_pool = if r.is_empty() { -1 } else { r.i64().map_err(bad)? };
            if features & !FEATURES_ALL != 0 {
                return Err(ENOSYS);
            }
            if prefix.is_empty() {
                return Err(EINVAL);
            }
            if ctx.exists && get_key(ctx, "object_prefix").is_ok() {
                return Err(EEXIST);
            }
            if features & FEATURE_OPERATIONS != 0 || (features & FEATURE_DATA_POOL != 0) != (data_pool != -1) {
                return Err(EINVAL);
            }
            let now = enc(|e| e.put(&Utime::now()));
            let mut kv = vec![
                ("size".to_string(), enc(|e| e.u64(size))),
                ("order".to_string(), enc(|e| e.u8(order))),
                ("features".to_string(), enc(|e| e.u64(features))),
                ("object_prefix".to_string(), string_bytes(&prefix)),
                ("snap_seq".to_string(), enc(|e| e.u64(0))),
                ("create_timestamp".to_string(), now.clone()),
                ("access_timestamp".to_string(), now.clone()),
                ("modify_timestamp".to_string(), now),
            ];
            if features & FEATURE_DATA_POOL != 0 {
                kv.push(("data_pool_id".to_string(), enc(|e| e.i64(data_pool))));
            }
            set_keys(ctx, kv);
            Ok(Bytes::new())
        }
        "get_size" => {
            let snap = r.u64().map_err(bad)?;
            let order = get_key(ctx, "order")?.first().copied().ok_or(EIO)?;
            let size = if snap == NOSNAP { get_u64(ctx, "size")? } else { crate::cls_rbd_snap::read_snap(ctx, snap)?.image_size };
            Ok(enc(|e| {
                e.u8(order);
                e.u64(size);
            }))
        }
        "set_size" => {
            let size = r.u64().map_err(bad)?;
            get_u64(ctx, "size")?;
            set_keys(ctx, vec![("size".into(), enc(|e| e.u64(size)))]);
            Ok(Bytes::new())
        }
        "get_features" => {
            let _snap = r.u64().map_err(bad)?;
            let read_only = !r.is_empty() && r.u8().map_err(bad)? != 0;
            let features = get_u64(ctx, "features")?;
            let incompat = features & if read_only { FEATURES_INCOMPATIBLE } else { FEATURES_RW_INCOMPATIBLE };
            Ok(enc(|e| {
                e.u64(features);
                e.u64(incompat);
            }))
        }
        "set_features" => {
            let features = r.u64().map_err(bad)?;
            let mask = r.u64().map_err(bad)?;
            let orig = get_u64(ctx, "features")?;
            if features & mask & !FEATURES_MUTABLE != 0 || !features & mask & !(FEATURES_MUTABLE | FEATURES_DISABLE_ONLY) != 0 {
                return Err(EINVAL);
            }
            let new = (orig & !mask) | (features & mask);
            set_keys(ctx, vec![("features".into(), enc(|e| e.u64(new)))]);
            Ok(Bytes::new())
        }
        "get_object_prefix" => Ok(string_bytes(&get_string(ctx, "object_prefix")?)),
        "get_data_pool" => {
            let p = or_default(get_key(ctx, "data_pool_id").and_then(|v| Reader::new(v).i64().map_err(|_| EIO)), -1)?;
            Ok(enc(|e| e.i64(p)))
        }
        "get_flags" => {
            let snap = r.u64().map_err(bad)?;
            let f = if snap == NOSNAP { or_default(get_u64(ctx, "flags"), 0)? } else { crate::cls_rbd_snap::read_snap(ctx, snap)?.flags };
            Ok(enc(|e| e.u64(f)))
        }
        "get_snapcontext" => {
            let mut ids = snap_ids(ctx)?;
            let seq = get_u64(ctx, "snap_seq")?;
            ids.reverse();
            Ok(enc(|e| {
                e.u64(seq);
                e.u32(ids.len() as u32);
                for i in &ids {
                    e.u64(*i);
                }
            }))
        }
        "get_create_timestamp" | "get_access_timestamp" | "get_modify_timestamp" => {
            let key = &method["get_".len()..];
            let t = match get_key(ctx, key) {
                Ok(v) => Reader::new(v).decode::<Utime>().map_err(|_| EIO)?,
                Err(e) if e == ENOENT => Utime::default(),
                Err(e) => return Err(e),
            };
            Ok(enc(|e| e.put(&t)))
        }
        "op_features_get" => {
            let f = or_default_u64(ctx, "op_features", 0)?;
            Ok(enc(|e| e.u64(f)))
        }
        "get_stripe_unit_count" => {
            if !ctx.exists {
                return Err(ENOENT);
            }
            let features = get_u64(ctx, "features").map_err(|_| ENOEXEC)?;
            if features & FEATURE_STRIPINGV2 == 0 {
                return Err(ENOEXEC);
            }
            let order = get_key(ctx, "order").map_err(|_| EIO)?.first().copied().ok_or(EIO)?;
            let unit = or_default(get_u64(ctx, "stripe_unit"), 1 << order)?;
            let count = or_default(get_u64(ctx, "stripe_count"), 1)?;
            Ok(enc(|e| {
                e.u64(unit);
                e.u64(count);
            }))
        }
        "set_stripe_unit_count" => {
            let unit = r.u64().map_err(bad)?;
            let count = r.u64().map_err(bad)?;
            let features = get_u64(ctx, "features")?;
            if features & FEATURE_STRIPINGV2 == 0 {
                return Err(ENOEXEC);
            }
            let order = get_key(ctx, "order")?.first().copied().ok_or(EIO)?;
            if unit == 0 || count == 0 || unit > 1 << order || (1u64 << order) % unit != 0 {
                return Err(EINVAL);
            }
            set_keys(ctx, vec![("stripe_unit".into(), enc(|e| e.u64(unit))), ("stripe_count".into(), enc(|e| e.u64(count)))]);
            Ok(Bytes::new())
        }
        "snapshot_get_limit" => {
            let l = or_default_u64(ctx, "snap_limit", u64::MAX)?;
            Ok(enc(|e| e.u64(l)))
        }
        "metadata_list" => {
            let start = r.string().map_err(bad)?;
            let max = match r.u64().map_err(bad)? {
                0 => 64,
                m => m,
            };
            let v = scan(ctx, "metadata_", &format!("metadata_{start}"), max)?;
            Ok(enc(|e| {
                e.u32(v.len() as u32);
                for (k, val) in &v {
                    e.string(&k["metadata_".len()..]);
                    e.bufferlist(val);
                }
            }))
        }
        "image_group_get" => match get_key(ctx, "rbd_group_ref") {
            Ok(v) => Ok(v),
            Err(e) if e == ENOENT => Ok(enc(|e| {
                let s = e.start(1, 1);
                e.i64(-1);
                e.string("");
                e.finish(s);
            })),
            Err(e) => Err(e),
        },
        // --------------------------------------------------------- rbd_id.NAME
        "get_id" => {
            if !ctx.exists || ctx.size == 0 {
                return Err(ENOENT);
            }
            let d = ctx.read(0, ctx.size)?;
            let id = Reader::new(d).string().map_err(|_| EIO)?;
            Ok(string_bytes(&id))
        }
        "set_id" => {
            if !ctx.exists {
                return Err(ENOENT);
            }
            let id = r.string().map_err(bad)?;
            if id.is_empty() || !id.bytes().all(|c| c.is_ascii_alphanumeric()) {
                return Err(EINVAL);
            }
            if ctx.size != 0 {
                return Err(EEXIST);
            }
            let r = ctx.write(0, string_bytes(&id));
            if r < 0 {
                return Err(r);
            }
            Ok(Bytes::new())
        }
        m if crate::cls_rbd_snap::flags(m).is_some() => crate::cls_rbd_snap::call(ctx, m, input),
        m if crate::cls_rbd_objmap::flags(m).is_some() => crate::cls_rbd_objmap::call(ctx, m, input),
        _ => crate::cls_rbd_dir::call(ctx, method, input),
    }
}
