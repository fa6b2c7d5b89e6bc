//! `cls_rbd` object-map methods: the per-image map of which data objects
//! exist (`rbd_object_map.<id>`, and `.<snap>` copies), two bits per object,
//! stored as a `ceph::BitVector<2>`. The default image features
//! (object-map, fast-diff) need them.

use crate::cls_rbd::bad;
use crate::ops::{Ctx, EINVAL, ENOENT, EOPNOTSUPP, ERANGE, ESTALE};
use bytes::Bytes;
use denc::Reader;
use types::bit_vector::BitVector;

const EXISTS: u8 = 1;
const EXISTS_CLEAN: u8 = 3;

const MAX_OBJECTS: u64 = 256_000_000;
/// `object_map_read`: the object's map, ENOENT for a missing or empty object.
fn read_map(ctx: &Ctx) -> Result<BitVector, i32> {
    if !ctx.exists || ctx.size == 0 {
        return Err(ENOENT);
    }
    let b = ctx.read(0, ctx.size)?;
    BitVector::decode(b).map_err(|_| EINVAL)
}

fn write_map(ctx: &mut Ctx, m: &BitVector) -> Result<(), i32> {
    let r = ctx.write_full(m.encode());
    if r < 0 {
        return Err(r);
    }
    Ok(())
}

pub fn flags(method: &str) -> Option<(bool, bool)> {
    Some(match method {
        "object_map_load" => (true, false),
        "object_map_save" | "object_map_resize" | "object_map_update" | "object_map_snap_add" | "object_map_snap_remove" => (true, true),
        _ => return None,
    })
}

pub fn call(ctx: &mut Ctx, method: &str, input: Bytes) -> Result<Bytes, i32> {
    let mut r = Reader::new(input.clone());
    match method {
        "object_map_load" => {
            let mut m = read_map(ctx)?;
            m.crcs = false;
            Ok(m.encode())
        }
        "object_map_save" => {
            let mut m = BitVector::decode(input).map_err(bad)?;
            m.crcs = true;
            write_map(ctx, &m).map(|_| Bytes::new())
        }
        "object_map_resize" => {
            let count = r.u64().map_err(bad)?;
            let default = r.u8().map_err(bad)?;
            if count > MAX_OBJECTS {
                return Err(EINVAL);
            }
            let mut m = match read_map(ctx) {
                Ok(m) => m,
                Err(e) if e == ENOENT => BitVector { crcs: true, ..Default::default() },
                Err(e) => return Err(e),
            };
            let old = m.len;
            if count < old {
                if (count..old).any(|i| m.get(i) != default) {
                    return Err(ESTALE);
                }
                m.resize(count);
            } else {
                m.resize(count);
                for i in old..count {
                    m.set(i, default);
                }
            }
            write_map(ctx, &m).map(|_| Bytes::new())
        }
        "object_map_update" => {
            let start = r.u64().map_err(bad)?;
            let end = r.u64().map_err(bad)?;
            let new = r.u8().map_err(bad)?;
            let current = if !r.is_empty() && r.u8().map_err(bad)? != 0 { Some(r.u8().map_err(bad)?) } else { None };
            if !ctx.exists {
                return Err(ENOENT);
            }
            let mut m = read_map(ctx)?;
            if start >= end || end > m.len {
                return Err(ERANGE);
            }
            let mut changed = false;
            for i in start..end {
                let s = m.get(i);
                let matches = match current {
                    None => true,
                    Some(c) => s == c || (c == EXISTS && s == EXISTS_CLEAN),
                };
                if matches && s != new {
                    m.set(i, new);
                    changed = true;
                }
            }
            if changed {
                write_map(ctx, &m)?;
            }
            Ok(Bytes::new())
        }
        "object_map_snap_add" => {
            let mut m = read_map(ctx)?;
            let mut changed = false;
            for i in 0..m.len {
                if m.get(i) == EXISTS {
                    m.set(i, EXISTS_CLEAN);
                    changed = true;
                }
            }
            if changed {
                write_map(ctx, &m)?;
            }
            Ok(Bytes::new())
        }
        "object_map_snap_remove" => {
            let snap = BitVector::decode(input).map_err(bad)?;
            let mut m = read_map(ctx)?;
            let mut changed = false;
            for i in 0..m.len {
                if m.get(i) == EXISTS_CLEAN && (i >= snap.len || snap.get(i) == EXISTS) {
                    m.set(i, EXISTS);
                    changed = true;
                }
            }
            if changed {
                write_map(ctx, &m)?;
            }
            Ok(Bytes::new())
        }
        _ => Err(EOPNOTSUPP),
    }
}
