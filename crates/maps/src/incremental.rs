//! `OSDMap::Incremental` (Pacific: wrapper v8, client section v8, osd section
//! v9) and `apply_incremental`, in Ceph's exact order so that the resulting map
//! re-encodes to the mon's full map (its crc equals the incremental's full_crc).

use crate::osdmap::{addr_sort_key, OsdInfo, OsdMap, OsdXInfo, Stretch, OSD_AUTOOUT, OSD_EXISTS, OSD_NEW, OSD_STOP, OSD_UP};
use crate::pool::PgPool;
use bytes::Bytes;
use crush::CrushMap;
use denc::{ceph_crc32c, invalid, Decode, Encode, Encoder, Reader, Result, Utime};
use std::collections::{BTreeMap, BTreeSet};
use types::osd::PgId;
use types::{EntityAddr, EntityAddrVec, Uuid};

const RELEASE_LUMINOUS: u8 = 12;
const RELEASE_NAUTILUS: u8 = 14;
const FLAG_RECOVERY_DELETES: u32 = 1 << 19;
const FLAG_PGLOG_HARDLIMIT: u32 = 1 << 22;
/// REQUIRE_JEWEL | REQUIRE_KRAKEN | REQUIRE_LUMINOUS
const LEGACY_REQUIRE_FLAGS: u32 = (1 << 16) | (1 << 17) | (1 << 18);

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Incremental {
    pub fsid: Uuid,
    pub epoch: u32,
    pub modified: Utime,
    pub new_pool_max: i64,
    pub new_flags: i32,
    pub fullmap: Bytes,
    pub crush: Bytes,
    pub new_max_osd: i32,
    pub new_pools: BTreeMap<i64, PgPool>,
    pub new_pool_names: BTreeMap<i64, String>,
    pub old_pools: BTreeSet<i64>,
    pub new_up_client: BTreeMap<i32, EntityAddrVec>,
    pub new_state: BTreeMap<i32, u32>,
    pub new_weight: BTreeMap<i32, u32>,
    pub new_pg_temp: BTreeMap<PgId, Vec<i32>>,
    pub new_primary_temp: BTreeMap<PgId, i32>,
    pub new_primary_affinity: BTreeMap<i32, u32>,
    pub new_erasure_code_profiles: BTreeMap<String, BTreeMap<String, String>>,
    pub old_erasure_code_profiles: Vec<String>,
    pub new_pg_upmap: BTreeMap<PgId, Vec<i32>>,
    pub old_pg_upmap: BTreeSet<PgId>,
    pub new_pg_upmap_items: BTreeMap<PgId, Vec<(i32, i32)>>,
    pub old_pg_upmap_items: BTreeSet<PgId>,
    pub new_removed_snaps: BTreeMap<i64, BTreeMap<u64, u64>>,
    pub new_purged_snaps: BTreeMap<i64, BTreeMap<u64, u64>>,
    pub new_last_up_change: Utime,
    pub new_last_in_change: Utime,
    // osd section
    pub new_hb_back_up: BTreeMap<i32, EntityAddrVec>,
    pub new_up_thru: BTreeMap<i32, u32>,
    pub new_last_clean_interval: BTreeMap<i32, (u32, u32)>,
    pub new_lost: BTreeMap<i32, u32>,
    pub new_blocklist: Vec<(EntityAddr, Utime)>,
    pub old_blocklist: Vec<EntityAddr>,
    pub new_up_cluster: BTreeMap<i32, EntityAddrVec>,
    pub cluster_snapshot: String,
    pub new_uuid: BTreeMap<i32, Uuid>,
    pub new_xinfo: BTreeMap<i32, OsdXInfo>,
    pub new_hb_front_up: BTreeMap<i32, EntityAddrVec>,
    pub encode_features: u64,
    pub new_nearfull_ratio: f32,
    pub new_full_ratio: f32,
    pub new_backfillfull_ratio: f32,
    pub new_require_min_compat_client: u8,
    pub new_require_osd_release: u8,
    pub new_crush_node_flags: BTreeMap<i32, u32>,
    pub new_device_class_flags: BTreeMap<i32, u32>,
    pub change_stretch_mode: Option<(u32, u32, u32, i32, bool)>,
    pub inc_crc: u32,
    pub full_crc: u32,
}

fn decode_addr_time_map(r: &mut Reader) -> Result<Vec<(EntityAddr, Utime)>> {
    let n = r.count(9)?;
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        v.push((EntityAddr::decode(r)?, Utime::decode(r)?));
    }
    Ok(v)
}

impl Decode for Incremental {
    fn decode(r: &mut Reader) -> Result<Self> {
        let whole = r.peek_rest().clone();
        let (v, mut w) = r.versioned(8, "OSDMap::Incremental")?;
        if v < 8 {
            return invalid("OSDMap::Incremental", format!("encoding v{v} is not supported"));
        }
        let (cv, mut c) = w.versioned(8, "Incremental client data")?;
        if cv < 8 {
            return invalid("OSDMap::Incremental", format!("client data v{cv} is not supported"));
        }
        let c = &mut c;
        let mut i = Incremental {
            fsid: Uuid::decode(c)?,
            epoch: c.u32()?,
            modified: Utime::decode(c)?,
            new_pool_max: c.i64()?,
            new_flags: c.i32()?,
            fullmap: c.bufferlist()?,
            crush: c.bufferlist()?,
            new_max_osd: c.i32()?,
            new_pools: Decode::decode(c)?,
            new_pool_names: Decode::decode(c)?,
            old_pools: Decode::decode(c)?,
            new_up_client: Decode::decode(c)?,
            new_state: Decode::decode(c)?,
            new_weight: Decode::decode(c)?,
            new_pg_temp: Decode::decode(c)?,
            new_primary_temp: Decode::decode(c)?,
            new_primary_affinity: Decode::decode(c)?,
            new_erasure_code_profiles: Decode::decode(c)?,
            old_erasure_code_profiles: Decode::decode(c)?,
            new_pg_upmap: Decode::decode(c)?,
            old_pg_upmap: Decode::decode(c)?,
            new_pg_upmap_items: Decode::decode(c)?,
            old_pg_upmap_items: Decode::decode(c)?,
            new_removed_snaps: Decode::decode(c)?,
            new_purged_snaps: Decode::decode(c)?,
            new_last_up_change: Utime::decode(c)?,
            new_last_in_change: Utime::decode(c)?,
            ..Default::default()
        };
        let (ov, mut o) = w.versioned(10, "Incremental osd data")?;
        if ov < 9 {
            return invalid("OSDMap::Incremental", format!("osd data v{ov} is not supported"));
        }
        let o = &mut o;
        i.new_hb_back_up = Decode::decode(o)?;
        i.new_up_thru = Decode::decode(o)?;
        i.new_last_clean_interval = Decode::decode(o)?;
        i.new_lost = Decode::decode(o)?;
        i.new_blocklist = decode_addr_time_map(o)?;
        i.old_blocklist = Decode::decode(o)?;
        i.new_up_cluster = Decode::decode(o)?;
        i.cluster_snapshot = o.string()?;
        i.new_uuid = Decode::decode(o)?;
        i.new_xinfo = Decode::decode(o)?;
        i.new_hb_front_up = Decode::decode(o)?;
        i.encode_features = o.u64()?;
        i.new_nearfull_ratio = f32::from_bits(o.u32()?);
        i.new_full_ratio = f32::from_bits(o.u32()?);
        i.new_backfillfull_ratio = f32::from_bits(o.u32()?);
        i.new_require_min_compat_client = o.u8()?;
        i.new_require_osd_release = o.u8()?;
        i.new_crush_node_flags = Decode::decode(o)?;
        i.new_device_class_flags = Decode::decode(o)?;
        if ov >= 10 {
            let change = o.bool()?;
            let t = (o.u32()?, o.u32()?, o.u32()?, o.i32()?, o.bool()?);
            if change {
                i.change_stretch_mode = Some(t);
            }
        }
        // inc_crc covers everything but itself (the trailing full_crc included)
        let crc_offset = whole.len() - r.remaining() - w.remaining();
        i.inc_crc = w.u32()?;
        i.full_crc = w.u32()?;
        let end = whole.len() - r.remaining();
        let crc = ceph_crc32c(ceph_crc32c(0xffff_ffff, &whole[..crc_offset]), &whole[crc_offset + 4..end]);
        if crc != i.inc_crc {
            return invalid("OSDMap::Incremental", format!("crc mismatch: says {:#x}, contents give {crc:#x}", i.inc_crc));
        }
        Ok(i)
    }
}

impl Encode for Incremental {
    fn encode(&self, e: &mut Encoder) {
        let start = e.len();
        let s = e.start(8, 7);
        let c = e.start(8, 1);
        self.fsid.encode(e);
        e.u32(self.epoch);
        self.modified.encode(e);
        e.i64(self.new_pool_max);
        e.i32(self.new_flags);
        e.bufferlist(&self.fullmap);
        e.bufferlist(&self.crush);
        e.i32(self.new_max_osd);
        self.new_pools.encode(e);
        self.new_pool_names.encode(e);
        self.old_pools.encode(e);
        self.new_up_client.encode(e);
        self.new_state.encode(e);
        self.new_weight.encode(e);
        self.new_pg_temp.encode(e);
        self.new_primary_temp.encode(e);
        self.new_primary_affinity.encode(e);
        self.new_erasure_code_profiles.encode(e);
        self.old_erasure_code_profiles.encode(e);
        self.new_pg_upmap.encode(e);
        self.old_pg_upmap.encode(e);
        self.new_pg_upmap_items.encode(e);
        self.old_pg_upmap_items.encode(e);
        self.new_removed_snaps.encode(e);
        self.new_purged_snaps.encode(e);
        self.new_last_up_change.encode(e);
        self.new_last_in_change.encode(e);
        e.finish(c);
        let o = e.start(if self.change_stretch_mode.is_some() { 10 } else { 9 }, 1);
        self.new_hb_back_up.encode(e);
        self.new_up_thru.encode(e);
        self.new_last_clean_interval.encode(e);
        self.new_lost.encode(e);
        e.u32(self.new_blocklist.len() as u32);
        for (a, t) in &self.new_blocklist {
            a.encode(e);
            t.encode(e);
        }
        self.old_blocklist.encode(e);
        self.new_up_cluster.encode(e);
        e.string(&self.cluster_snapshot);
        self.new_uuid.encode(e);
        self.new_xinfo.encode(e);
        self.new_hb_front_up.encode(e);
        e.u64(self.encode_features);
        e.u32(self.new_nearfull_ratio.to_bits());
        e.u32(self.new_full_ratio.to_bits());
        e.u32(self.new_backfillfull_ratio.to_bits());
        e.u8(self.new_require_min_compat_client);
        e.u8(self.new_require_osd_release);
        self.new_crush_node_flags.encode(e);
        self.new_device_class_flags.encode(e);
        if let Some((count, degraded, recovering, bucket, enabled)) = self.change_stretch_mode {
            e.bool(true);
            e.u32(count);
            e.u32(degraded);
            e.u32(recovering);
            e.i32(bucket);
            e.bool(enabled);
        }
        e.finish(o);
        let crc_at = e.len();
        e.u32(0);
        e.u32(self.full_crc);
        e.finish(s);
        let crc = ceph_crc32c(ceph_crc32c(0xffff_ffff, &e.buf[start..crc_at]), &e.buf[crc_at + 4..]);
        e.buf[crc_at..crc_at + 4].copy_from_slice(&crc.to_le_bytes());
    }
}

/// ceph_release_t comparison: values with the top bit set ("unset") are below all.
fn release_ge(a: u8, b: u8) -> bool {
    if (a as i8) < 0 {
        return (b as i8) < 0 && a >= b;
    }
    if (b as i8) < 0 {
        return true;
    }
    a >= b
}

fn union_into(dst: &mut BTreeMap<u64, u64>, src: &BTreeMap<u64, u64>) {
    // interval_set union over (start, len) runs
    let mut all: Vec<(u64, u64)> = dst.iter().map(|(s, l)| (*s, s + l)).chain(src.iter().map(|(s, l)| (*s, s + l))).collect();
    all.sort();
    dst.clear();
    let mut cur: Option<(u64, u64)> = None;
    for (s, e) in all {
        cur = match cur {
            Some((cs, ce)) if s <= ce => Some((cs, ce.max(e))),
            Some((cs, ce)) => {
                dst.insert(cs, ce - cs);
                Some((s, e))
            }
            None => Some((s, e)),
        };
    }
    if let Some((cs, ce)) = cur {
        dst.insert(cs, ce - cs);
    }
}

pub fn subtract_from(dst: &mut BTreeMap<u64, u64>, sub: &BTreeMap<u64, u64>) {
    let mut out = BTreeMap::new();
    for (s, l) in dst.iter() {
        let mut pieces = vec![(*s, s + l)];
        for (ss, sl) in sub {
            let (a, b) = (*ss, ss + sl);
            pieces = pieces
                .into_iter()
                .flat_map(|(x, y)| {
                    let mut v = Vec::new();
                    if a > x {
                        v.push((x, a.min(y)));
                    }
                    if b < y {
                        v.push((b.max(x), y));
                    }
                    if b <= x || a >= y {
                        v = vec![(x, y)];
                    }
                    v
                })
                .filter(|(x, y)| y > x)
                .collect();
        }
        for (x, y) in pieces {
            out.insert(x, y - x);
        }
    }
    *dst = out;
}

impl OsdMap {
    /// Grows or shrinks every per-OSD vector to `n` entries (`OSDMap::set_max_osd`).
    pub fn set_max_osd(&mut self, n: i32) {
        let n = n.max(0) as usize;
        self.osd_state.resize(n, 0);
        self.osd_weight.resize(n, 0);
        self.client_addrs.resize(n, EntityAddrVec::default());
        if !self.osd_primary_affinity.is_empty() {
            self.osd_primary_affinity.resize(n, 0x10000);
        }
        let o = &mut self.osd;
        o.hb_back_addrs.resize(n, EntityAddrVec::default());
        o.hb_front_addrs.resize(n, EntityAddrVec::default());
        o.cluster_addrs.resize(n, EntityAddrVec::default());
        o.osd_info.resize(n, OsdInfo::default());
        o.osd_xinfo.resize(n, OsdXInfo::default());
        o.osd_uuid.resize(n, Uuid::default());
        self.max_osd = n as i32;
    }

    fn set_primary_affinity(&mut self, o: usize, a: u32) {
        if self.osd_primary_affinity.is_empty() {
            self.osd_primary_affinity = vec![0x10000; self.max_osd.max(0) as usize];
        }
        if let Some(x) = self.osd_primary_affinity.get_mut(o) {
            *x = a;
        }
    }

    /// `apply_incremental`: moves this map to `inc.epoch`.
    pub fn apply_incremental(&mut self, inc: &Incremental) -> std::result::Result<(), String> {
        if inc.epoch == 1 {
            self.fsid = inc.fsid;
        } else if inc.fsid != self.fsid {
            return Err(format!("incremental for cluster {} applied to cluster {}", inc.fsid, self.fsid));
        }
        if inc.epoch != self.epoch + 1 {
            return Err(format!("incremental for epoch {} applied to epoch {}", inc.epoch, self.epoch));
        }
        if !inc.fullmap.is_empty() {
            *self = OsdMap::from_bytes(inc.fullmap.clone()).map_err(|e| e.to_string())?;
            return Ok(());
        }
        self.epoch += 1;
        self.modified = inc.modified;
        if inc.new_flags >= 0 {
            self.flags = inc.new_flags as u32;
        }
        if inc.new_max_osd >= 0 {
            self.set_max_osd(inc.new_max_osd);
        }
        if inc.new_pool_max != -1 {
            self.pool_max = inc.new_pool_max as i32;
        }
        for (id, p) in &inc.new_pools {
            let mut p = p.clone();
            p.last_change = self.epoch;
            self.pools.insert(*id, p);
        }
        self.new_removed_snaps = inc.new_removed_snaps.clone();
        self.new_purged_snaps = inc.new_purged_snaps.clone();
        for (pool, s) in &inc.new_removed_snaps {
            union_into(self.osd.removed_snaps_queue.entry(*pool).or_default(), s);
        }
        for (pool, s) in &inc.new_purged_snaps {
            if let Some(q) = self.osd.removed_snaps_queue.get_mut(pool) {
                subtract_from(q, s);
                if q.is_empty() {
                    self.osd.removed_snaps_queue.remove(pool);
                }
            }
        }
        if inc.new_last_up_change != Utime::default() {
            self.last_up_change = inc.new_last_up_change;
        }
        if inc.new_last_in_change != Utime::default() {
            self.last_in_change = inc.new_last_in_change;
        }
        for (id, name) in &inc.new_pool_names {
            self.pool_name.insert(*id, name.clone());
        }
        for id in &inc.old_pools {
            self.pools.remove(id);
            self.pool_name.remove(id);
        }
        let max = self.max_osd.max(0) as usize;
        let idx = |o: i32| -> Option<usize> { (o >= 0 && (o as usize) < max).then_some(o as usize) };
        for (o, w) in &inc.new_weight {
            let Some(i) = idx(*o) else { continue };
            self.osd_weight[i] = *w;
            if *w != 0 {
                self.osd_state[i] |= OSD_EXISTS;
                self.osd_state[i] &= !(OSD_AUTOOUT | OSD_NEW);
                self.osd.osd_xinfo[i].old_weight = 0;
            }
        }
        for (o, a) in &inc.new_primary_affinity {
            if let Some(i) = idx(*o) {
                self.set_primary_affinity(i, *a);
            }
        }
        for name in &inc.old_erasure_code_profiles {
            self.erasure_code_profiles.remove(name);
        }
        for (n, p) in &inc.new_erasure_code_profiles {
            self.erasure_code_profiles.insert(n.clone(), p.clone());
        }
        for (o, x) in &inc.new_state {
            let Some(i) = idx(*o) else { continue };
            let s = if *x != 0 { *x } else { OSD_UP };
            if self.osd_state[i] & OSD_UP != 0 && s & OSD_UP != 0 {
                self.osd.osd_info[i].down_at = self.epoch;
                self.osd.osd_xinfo[i].down_stamp = self.modified;
            }
            if self.osd_state[i] & OSD_EXISTS != 0 && s & OSD_EXISTS != 0 {
                self.osd.osd_uuid[i] = Uuid::default();
                self.osd.osd_info[i] = OsdInfo::default();
                self.osd.osd_xinfo[i] = OsdXInfo::default();
                self.set_primary_affinity(i, 0x10000);
                self.client_addrs[i] = EntityAddrVec::default();
                self.osd.cluster_addrs[i] = EntityAddrVec::default();
                self.osd.hb_front_addrs[i] = EntityAddrVec::default();
                self.osd.hb_back_addrs[i] = EntityAddrVec::default();
                self.osd_state[i] = 0;
            } else {
                self.osd_state[i] ^= s;
            }
        }
        for (o, av) in &inc.new_up_client {
            let Some(i) = idx(*o) else { continue };
            self.osd_state[i] |= OSD_EXISTS | OSD_UP;
            self.osd_state[i] &= !OSD_STOP;
            self.client_addrs[i] = av.clone();
            self.osd.hb_back_addrs[i] = inc.new_hb_back_up.get(o).cloned().unwrap_or_default();
            self.osd.hb_front_addrs[i] = inc.new_hb_front_up.get(o).cloned().unwrap_or_default();
            self.osd.osd_info[i].up_from = self.epoch;
        }
        for (o, av) in &inc.new_up_cluster {
            if let Some(i) = idx(*o) {
                self.osd.cluster_addrs[i] = av.clone();
            }
        }
        for (o, e) in &inc.new_up_thru {
            if let Some(i) = idx(*o) {
                self.osd.osd_info[i].up_thru = *e;
            }
        }
        for (o, (b, e)) in &inc.new_last_clean_interval {
            if let Some(i) = idx(*o) {
                self.osd.osd_info[i].last_clean_begin = *b;
                self.osd.osd_info[i].last_clean_end = *e;
            }
        }
        for (o, e) in &inc.new_lost {
            if let Some(i) = idx(*o) {
                self.osd.osd_info[i].lost_at = *e;
            }
        }
        for (o, x) in &inc.new_xinfo {
            if let Some(i) = idx(*o) {
                self.osd.osd_xinfo[i] = *x;
            }
        }
        for (o, u) in &inc.new_uuid {
            if let Some(i) = idx(*o) {
                self.osd.osd_uuid[i] = *u;
            }
        }
        for (pg, v) in &inc.new_pg_temp {
            if v.is_empty() {
                self.pg_temp.remove(pg);
            } else {
                self.pg_temp.insert(*pg, v.clone());
            }
        }
        for (pg, p) in &inc.new_primary_temp {
            if *p == -1 {
                self.primary_temp.remove(pg);
            } else {
                self.primary_temp.insert(*pg, *p);
            }
        }
        for (pg, v) in &inc.new_pg_upmap {
            self.pg_upmap.insert(*pg, v.clone());
        }
        for pg in &inc.old_pg_upmap {
            self.pg_upmap.remove(pg);
        }
        for (pg, v) in &inc.new_pg_upmap_items {
            self.pg_upmap_items.insert(*pg, v.clone());
        }
        for pg in &inc.old_pg_upmap_items {
            self.pg_upmap_items.remove(pg);
        }
        // Existing entries keep their expiry (unordered_map::insert).
        for (a, t) in &inc.new_blocklist {
            if !self.osd.blocklist.iter().any(|(x, _)| x == a) {
                self.osd.blocklist.push((*a, *t));
            }
        }
        self.osd.blocklist.retain(|(a, _)| !inc.old_blocklist.contains(a));
        self.osd.blocklist.sort_by_key(|(a, _)| addr_sort_key(a));
        for (id, f) in &inc.new_crush_node_flags {
            if *f != 0 {
                self.osd.crush_node_flags.insert(*id, *f);
            } else {
                self.osd.crush_node_flags.remove(id);
            }
        }
        for (id, f) in &inc.new_device_class_flags {
            if *f != 0 {
                self.osd.device_class_flags.insert(*id, *f);
            } else {
                self.osd.device_class_flags.remove(id);
            }
        }
        if !inc.cluster_snapshot.is_empty() {
            self.osd.cluster_snapshot = inc.cluster_snapshot.clone();
            self.osd.cluster_snapshot_epoch = inc.epoch;
        } else {
            self.osd.cluster_snapshot.clear();
            self.osd.cluster_snapshot_epoch = 0;
        }
        if inc.new_nearfull_ratio >= 0.0 {
            self.osd.nearfull_ratio = inc.new_nearfull_ratio;
        }
        if inc.new_backfillfull_ratio >= 0.0 {
            self.osd.backfillfull_ratio = inc.new_backfillfull_ratio;
        }
        if inc.new_full_ratio >= 0.0 {
            self.osd.full_ratio = inc.new_full_ratio;
        }
        if (1..0x80).contains(&inc.new_require_min_compat_client) {
            self.osd.require_min_compat_client = inc.new_require_min_compat_client;
        }
        if (inc.new_require_osd_release as i8) >= 0 {
            self.osd.require_osd_release = inc.new_require_osd_release;
            if release_ge(inc.new_require_osd_release, RELEASE_LUMINOUS) {
                self.flags &= !LEGACY_REQUIRE_FLAGS;
                self.flags |= FLAG_RECOVERY_DELETES;
            }
            if release_ge(inc.new_require_osd_release, RELEASE_NAUTILUS) {
                self.flags |= FLAG_PGLOG_HARDLIMIT;
            }
        }
        if !inc.crush.is_empty() {
            self.crush = CrushMap::from_bytes(inc.crush.clone()).map_err(|e| e.to_string())?;
            self.crush_raw = inc.crush.clone();
            if release_ge(self.osd.require_osd_release, RELEASE_LUMINOUS) {
                self.crush_version += 1;
            }
            let names = &self.crush.class_name;
            self.osd.device_class_flags.retain(|id, _| names.contains_key(id));
        }
        if let Some((count, degraded, recovering, bucket, enabled)) = inc.change_stretch_mode {
            self.osd.stretch = Some(Stretch { enabled, bucket_count: count, degraded, recovering, mode_bucket: bucket });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::OsdMap;
    proptest::proptest! {
        #[test]
        fn decoders_never_panic(d in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600)) {
            let _ = Incremental::from_bytes(d.clone());
            let _ = OsdMap::from_bytes(d.clone());
            let _ = PgPool::from_bytes(d.clone());
            let mut v = d;
            // valid-looking headers so the inner decoders are reached
            if v.len() > 12 {
                v[0] = 8; v[1] = 7; let l = (v.len() - 6) as u32; v[2..6].copy_from_slice(&l.to_le_bytes());
                v[6] = 9; v[7] = 1; let l2 = (v.len() - 12) as u32; v[8..12].copy_from_slice(&l2.to_le_bytes());
                let _ = OsdMap::from_bytes(v.clone());
                v[6] = 8;
                let _ = Incremental::from_bytes(v);
            }
        }
    }
}

impl Incremental {
    /// The incremental that takes `old` to `new` (`new.epoch == old.epoch + 1`),
    /// for a monitor that edits full maps. Callers must check it: apply it to
    /// `old` and compare with `new` ([`Incremental::diff_checked`]); changes this
    /// does not describe (OSD boot details, blocklists...) make that check fail.
    pub fn diff(old: &OsdMap, new: &OsdMap) -> Incremental {
        let mut inc = Incremental {
            fsid: new.fsid,
            epoch: new.epoch,
            modified: new.modified,
            new_pool_max: if new.pool_max != old.pool_max { new.pool_max as i64 } else { -1 },
            new_flags: if new.flags != old.flags { new.flags as i32 } else { -1 },
            new_max_osd: if new.max_osd != old.max_osd { new.max_osd } else { -1 },
            new_nearfull_ratio: if new.osd.nearfull_ratio != old.osd.nearfull_ratio { new.osd.nearfull_ratio } else { -1.0 },
            new_full_ratio: if new.osd.full_ratio != old.osd.full_ratio { new.osd.full_ratio } else { -1.0 },
            new_backfillfull_ratio: if new.osd.backfillfull_ratio != old.osd.backfillfull_ratio { new.osd.backfillfull_ratio } else { -1.0 },
            new_require_min_compat_client: if new.osd.require_min_compat_client != old.osd.require_min_compat_client { new.osd.require_min_compat_client } else { 0 },
            new_require_osd_release: if new.osd.require_osd_release != old.osd.require_osd_release { new.osd.require_osd_release } else { 0xff },
            encode_features: u64::MAX,
            full_crc: new.crc,
            ..Default::default()
        };
        if new.crush_raw != old.crush_raw {
            inc.crush = new.crush_raw.clone();
        }
        for (id, p) in &new.pools {
            if old.pools.get(id) != Some(p) {
                inc.new_pools.insert(*id, p.clone());
            }
        }
        for (id, n) in &new.pool_name {
            if old.pool_name.get(id) != Some(n) {
                inc.new_pool_names.insert(*id, n.clone());
            }
        }
        inc.old_pools = old.pools.keys().filter(|id| !new.pools.contains_key(id)).copied().collect();
        for (n, p) in &new.erasure_code_profiles {
            if old.erasure_code_profiles.get(n) != Some(p) {
                inc.new_erasure_code_profiles.insert(n.clone(), p.clone());
            }
        }
        inc.old_erasure_code_profiles = old.erasure_code_profiles.keys().filter(|n| !new.erasure_code_profiles.contains_key(*n)).cloned().collect();
        inc.new_removed_snaps = new.new_removed_snaps.clone();
        inc.new_purged_snaps = new.new_purged_snaps.clone();
        if new.last_up_change != old.last_up_change {
            inc.new_last_up_change = new.last_up_change;
        }
        if new.last_in_change != old.last_in_change {
            inc.new_last_in_change = new.last_in_change;
        }
        for i in 0..new.max_osd.max(0) as usize {
            let o = i as i32;
            let os = old.osd_state.get(i).copied().unwrap_or(0);
            let ns = new.osd_state[i];
            let ow = old.osd_weight.get(i).copied().unwrap_or(0);
            if ow != new.osd_weight[i] {
                inc.new_weight.insert(o, new.osd_weight[i]);
            }
            // Weight changes may set EXISTS themselves when applied.
            // (and a mark-in clears AUTOOUT and NEW).
            let after_weight = if new.osd_weight[i] != 0 && ow != new.osd_weight[i] { (os | OSD_EXISTS) & !(OSD_AUTOOUT | OSD_NEW) } else { os };
            if os & OSD_EXISTS != 0 && ns & OSD_EXISTS == 0 {
                inc.new_state.insert(o, OSD_EXISTS);
            } else if after_weight != ns {
                inc.new_state.insert(o, after_weight ^ ns);
            }
            if old.osd.osd_uuid.get(i) != Some(&new.osd.osd_uuid[i]) && !new.osd.osd_uuid[i].is_zero() {
                inc.new_uuid.insert(o, new.osd.osd_uuid[i]);
            }
            if old.osd.osd_xinfo.get(i) != Some(&new.osd.osd_xinfo[i]) {
                inc.new_xinfo.insert(o, new.osd.osd_xinfo[i]);
            }
            let (oi, ni) = (old.osd.osd_info.get(i).cloned().unwrap_or_default(), new.osd.osd_info.get(i).cloned().unwrap_or_default());
            if oi.up_thru != ni.up_thru {
                inc.new_up_thru.insert(o, ni.up_thru);
            }
            if oi.lost_at != ni.lost_at {
                inc.new_lost.insert(o, ni.lost_at);
            }
        }
        for (pg, v) in &new.pg_temp {
            if old.pg_temp.get(pg) != Some(v) {
                inc.new_pg_temp.insert(*pg, v.clone());
            }
        }
        for pg in old.pg_temp.keys().filter(|pg| !new.pg_temp.contains_key(pg)) {
            inc.new_pg_temp.insert(*pg, Vec::new());
        }
        for (pg, p) in &new.primary_temp {
            if old.primary_temp.get(pg) != Some(p) {
                inc.new_primary_temp.insert(*pg, *p);
            }
        }
        for pg in old.primary_temp.keys().filter(|pg| !new.primary_temp.contains_key(pg)) {
            inc.new_primary_temp.insert(*pg, -1);
        }
        inc
    }

    /// [`Incremental::diff`], returned only if applying it to `old` gives exactly
    /// `new` (same encoding, so the same crc).
    pub fn diff_checked(old: &OsdMap, new: &OsdMap, features: u64) -> Option<Incremental> {
        let inc = Incremental::diff(old, new);
        let mut t = old.clone();
        t.apply_incremental(&inc).ok()?;
        (t.to_bytes(features) == new.to_bytes(features)).then_some(inc)
    }
}
