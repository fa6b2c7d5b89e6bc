//! `cls_lock` (`src/cls/lock/cls_lock.cc`): advisory locks kept in the
//! object's `lock.<name>` xattr (an encoded `lock_info_t`). librbd's
//! exclusive-lock and `rbd lock` use it; lockers are identified by the
//! caller's entity name and a cookie.

use crate::ops::{bad, Ctx, EBUSY, EEXIST, EINVAL, EIO, ENOENT};
use bytes::Bytes;
use denc::{Encoder, Reader, Utime};
use std::collections::BTreeMap;
use types::{AddrType, EntityAddr, EntityNameT};

const XATTR_PREFIX: &str = "lock.";

pub const LOCK_EXCLUSIVE: u8 = 1;
pub const LOCK_SHARED: u8 = 2;
pub const LOCK_EXCLUSIVE_EPHEMERAL: u8 = 3;

const FLAG_MAY_RENEW: u8 = 1;
const FLAG_MUST_RENEW: u8 = 2;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockerInfo {
    pub expiration: Utime,
    pub addr: EntityAddr,
    pub description: String,
}

/// `lock_info_t`: who holds the lock, how, and under which tag.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LockInfo {
    pub lockers: BTreeMap<(EntityNameT, String), LockerInfo>,
    pub lock_type: u8,
    pub tag: String,
}

fn encode_lockers(e: &mut Encoder, lockers: &BTreeMap<(EntityNameT, String), LockerInfo>) {
    e.u32(lockers.len() as u32);
    for ((name, cookie), info) in lockers {
        let s = e.start(1, 1); // locker_id_t
        e.put(name);
        e.string(cookie);
        e.finish(s);
        let s = e.start(1, 1); // locker_info_t
        e.put(&info.expiration);
        e.put(&info.addr);
        e.string(&info.description);
        e.finish(s);
    }
}

fn decode_lockers(r: &mut Reader) -> denc::Result<BTreeMap<(EntityNameT, String), LockerInfo>> {
    let n = r.count(2)?;
    let mut out = BTreeMap::new();
    for _ in 0..n {
        let (_, mut id) = r.versioned_legacy(1, 1, 1, "locker_id_t")?;
        let name: EntityNameT = id.decode()?;
        let cookie = id.string()?;
        let (_, mut info) = r.versioned_legacy(1, 1, 1, "locker_info_t")?;
        let expiration = info.decode()?;
        let addr = info.decode()?;
        let description = info.string()?;
        out.insert((name, cookie), LockerInfo { expiration, addr, description });
    }
    Ok(out)
}

impl LockInfo {
    /// `lock_info_t` and `cls_lock_get_info_reply` share this layout.
    pub fn encode(&self, features: u64) -> Bytes {
        let mut e = Encoder::new(features);
        let s = e.start(1, 1);
        encode_lockers(&mut e, &self.lockers);
        e.u8(self.lock_type);
        e.string(&self.tag);
        e.finish(s);
        e.into_bytes()
    }

    pub fn decode(b: Bytes) -> denc::Result<LockInfo> {
        let mut r = Reader::new(b);
        let (_, mut b) = r.versioned_legacy(1, 1, 1, "lock_info_t")?;
        let lockers = decode_lockers(&mut b)?;
        Ok(LockInfo { lockers, lock_type: b.u8()?, tag: b.string()? })
    }
}

/// The caller of a class method: entity name, address and features.
pub struct Origin {
    pub name: EntityNameT,
    pub addr: EntityAddr,
    pub features: u64,
}

fn valid_type(t: u8) -> bool {
    matches!(t, LOCK_EXCLUSIVE | LOCK_SHARED | LOCK_EXCLUSIVE_EPHEMERAL)
}

fn add_secs(now: Utime, d: Utime) -> Utime {
    let nsec = now.nsec as u64 + d.nsec as u64;
    let sec = now.sec as u64 + d.sec as u64 + nsec / 1_000_000_000;
    Utime { sec: sec.min(u32::MAX as u64) as u32, nsec: (nsec % 1_000_000_000) as u32 }
}

/// `read_lock`: the lock with expired lockers dropped. An expired ephemeral
/// lock takes its object with it.
fn read_lock(ctx: &mut Ctx, name: &str) -> Result<LockInfo, i32> {
    if !ctx.exists {
        return Err(ENOENT);
    }
    let mut info = match ctx.getattr(&format!("{XATTR_PREFIX}{name}"))? {
        None => return Ok(LockInfo::default()),
        Some(v) => LockInfo::decode(Bytes::from(v)).map_err(|_| EIO)?,
    };
    let now = Utime::now();
    info.lockers.retain(|_, l| l.expiration == Utime::default() || l.expiration >= now);
    if info.lockers.is_empty() && info.lock_type == LOCK_EXCLUSIVE_EPHEMERAL {
        ctx.remove();
    }
    Ok(info)
}

fn write_lock(ctx: &mut Ctx, name: &str, info: &LockInfo) {
    let v = info.encode(ctx.origin.features);
    ctx.setattr(format!("{XATTR_PREFIX}{name}"), v);
}

fn versioned(input: Bytes) -> Result<Reader, i32> {
    let mut r = Reader::new(input);
    let (_, body) = r.versioned_legacy(1, 1, 1, "cls_lock op").map_err(|_| EINVAL)?;
    Ok(body)
}

pub fn call(ctx: &mut Ctx, method: &str, input: Bytes) -> Result<Bytes, i32> {
    match method {
        "lock" => lock(ctx, input).map(|_| Bytes::new()),
        "unlock" => {
            let mut r = versioned(input)?;
            let (name, cookie) = (r.string().map_err(bad)?, r.string().map_err(bad)?);
            let me = ctx.origin.name;
            remove_locker(ctx, &name, me, cookie).map(|_| Bytes::new())
        }
        "break_lock" => {
            let mut r = versioned(input)?;
            let name = r.string().map_err(bad)?;
            let locker: EntityNameT = r.decode().map_err(bad)?;
            let cookie = r.string().map_err(bad)?;
            remove_locker(ctx, &name, locker, cookie).map(|_| Bytes::new())
        }
        "get_info" => {
            let mut r = versioned(input)?;
            let name = r.string().map_err(bad)?;
            let info = read_lock(ctx, &name)?;
            Ok(info.encode(ctx.origin.features))
        }
        "list_locks" => {
            if !ctx.exists {
                return Err(ENOENT);
            }
            let attrs = ctx.store.getattrs(ctx.coll, &ctx.oid).map_err(|_| EIO)?;
            let names: Vec<&str> = attrs.keys().filter_map(|k| k.strip_prefix(XATTR_PREFIX)).collect();
            let mut e = Encoder::new(0);
            let s = e.start(1, 1);
            e.u32(names.len() as u32);
            for n in names {
                e.string(n);
            }
            e.finish(s);
            Ok(e.into_bytes())
        }
        "assert_locked" => {
            let mut r = versioned(input)?;
            let (name, ty, cookie, tag) = (r.string().map_err(bad)?, r.u8().map_err(bad)?, r.string().map_err(bad)?, r.string().map_err(bad)?);
            assert_locked(ctx, &name, ty, &cookie, &tag).map(|_| Bytes::new())
        }
        "set_cookie" => {
            let mut r = versioned(input)?;
            let (name, ty, cookie, tag, new_cookie) =
                (r.string().map_err(bad)?, r.u8().map_err(bad)?, r.string().map_err(bad)?, r.string().map_err(bad)?, r.string().map_err(bad)?);
            let mut info = assert_locked(ctx, &name, ty, &cookie, &tag)?;
            let me = ctx.origin.name;
            if info.lockers.contains_key(&(me, new_cookie.clone())) {
                return Err(EBUSY);
            }
            let l = info.lockers.remove(&(me, cookie)).ok_or(EBUSY)?;
            info.lockers.insert((me, new_cookie), l);
            write_lock(ctx, &name, &info);
            Ok(Bytes::new())
        }
        _ => Err(crate::ops::EOPNOTSUPP),
    }
}

fn lock(ctx: &mut Ctx, input: Bytes) -> Result<(), i32> {
    let mut r = versioned(input)?;
    let name = r.string().map_err(bad)?;
    let ty = r.u8().map_err(bad)?;
    let cookie = r.string().map_err(bad)?;
    let tag = r.string().map_err(bad)?;
    let description = r.string().map_err(bad)?;
    let duration: Utime = r.decode().map_err(bad)?;
    let flags = r.u8().map_err(bad)?;
    if !valid_type(ty) || name.is_empty() || flags & (FLAG_MAY_RENEW | FLAG_MUST_RENEW) == FLAG_MAY_RENEW | FLAG_MUST_RENEW {
        return Err(EINVAL);
    }
    // Taking a lock on a missing object creates it.
    let mut info = match read_lock(ctx, &name) {
        Ok(i) => i,
        Err(e) if e == ENOENT => LockInfo::default(),
        Err(e) => return Err(e),
    };
    let id = (ctx.origin.name, cookie);
    if !info.lockers.is_empty() && info.tag != tag {
        return Err(EBUSY);
    }
    if info.lockers.contains_key(&id) {
        if flags & (FLAG_MAY_RENEW | FLAG_MUST_RENEW) == 0 {
            return Err(EEXIST);
        }
        info.lockers.remove(&id);
    } else if flags & FLAG_MUST_RENEW != 0 {
        return Err(ENOENT);
    }
    if !info.lockers.is_empty() && (ty != LOCK_SHARED || info.lock_type != ty) {
        return Err(EBUSY);
    }
    info.lock_type = ty;
    info.tag = tag;
    let expiration = if duration == Utime::default() { Utime::default() } else { add_secs(Utime::now(), duration) };
    let mut addr = ctx.origin.addr;
    addr.ty = AddrType::Legacy;
    info.lockers.insert(id, LockerInfo { expiration, addr, description });
    write_lock(ctx, &name, &info);
    Ok(())
}

fn remove_locker(ctx: &mut Ctx, name: &str, locker: EntityNameT, cookie: String) -> Result<(), i32> {
    let mut info = read_lock(ctx, name)?;
    if info.lockers.remove(&(locker, cookie)).is_none() {
        return Err(ENOENT);
    }
    if info.lock_type == LOCK_EXCLUSIVE_EPHEMERAL {
        ctx.remove();
    } else {
        write_lock(ctx, name, &info);
    }
    Ok(())
}

fn assert_locked(ctx: &mut Ctx, name: &str, ty: u8, cookie: &str, tag: &str) -> Result<LockInfo, i32> {
    if !valid_type(ty) || name.is_empty() {
        return Err(EINVAL);
    }
    let info = read_lock(ctx, name)?;
    if info.lockers.is_empty() || info.lock_type != ty || info.tag != tag || !info.lockers.contains_key(&(ctx.origin.name, cookie.to_string())) {
        return Err(EBUSY);
    }
    Ok(info)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn lock_info_round_trips() {
        let mut info = LockInfo { lock_type: LOCK_SHARED, tag: "t".into(), ..Default::default() };
        info.lockers.insert(
            (EntityNameT { ty: 8, num: 4123 }, "auto 1".into()),
            LockerInfo { expiration: Utime { sec: 5, nsec: 6 }, addr: EntityAddr::default(), description: "d".into() },
        );
        let b = info.encode(u64::MAX);
        assert_eq!(LockInfo::decode(b).unwrap(), info);
    }

    proptest! {
        #[test]
        fn hostile_lock_info_fails_cleanly(b in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = LockInfo::decode(Bytes::from(b));
        }
    }
}
