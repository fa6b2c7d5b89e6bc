//! OSDMap (`src/osd/OSDMap.cc`): the Pacific encoding (wrapper v8, client
//! section v9, then the OSD-only section and a crc), and placement of objects
//! to PGs and PGs to OSDs exactly as Ceph computes it.

use crate::pool::PgPool;
use bytes::Bytes;
use crush::CrushMap;
use denc::{ceph_crc32c, invalid, Decode, Encode, Encoder, Reader, Result, Utime};
use std::collections::BTreeMap;
use types::osd::{ObjectLocator, PgId};
use types::{EntityAddr, EntityAddrVec, Uuid};

/// OSD state bits (`CEPH_OSD_*`, `src/include/rados.h`).
pub const OSD_EXISTS: u32 = 1;
pub const OSD_UP: u32 = 2;
pub const OSD_AUTOOUT: u32 = 1 << 2;
pub const OSD_NEW: u32 = 1 << 3;
pub const OSD_FULL: u32 = 1 << 4;
pub const OSD_NEARFULL: u32 = 1 << 5;
pub const OSD_BACKFILLFULL: u32 = 1 << 6;
pub const OSD_DESTROYED: u32 = 1 << 7;
pub const OSD_NOUP: u32 = 1 << 8;
pub const OSD_NODOWN: u32 = 1 << 9;
pub const OSD_NOIN: u32 = 1 << 10;
pub const OSD_NOOUT: u32 = 1 << 11;
pub const OSD_STOP: u32 = 1 << 12;
/// The usage states, one at a time (an OSD past full is only full).
pub const OSD_USAGE_STATES: u32 = OSD_FULL | OSD_NEARFULL | OSD_BACKFILLFULL;

/// An OSD's state names as Ceph prints them (`OSDMap::calc_state_set`:
/// a `std::set<string>`, so sorted).
pub fn osd_state_names(state: u32) -> Vec<&'static str> {
    const NAMES: [(u32, &str); 13] = [
        (OSD_EXISTS, "exists"),
        (OSD_UP, "up"),
        (OSD_AUTOOUT, "autoout"),
        (OSD_NEW, "new"),
        (OSD_FULL, "full"),
        (OSD_NEARFULL, "nearfull"),
        (OSD_BACKFILLFULL, "backfillfull"),
        (OSD_DESTROYED, "destroyed"),
        (OSD_NOUP, "noup"),
        (OSD_NODOWN, "nodown"),
        (OSD_NOIN, "noin"),
        (OSD_NOOUT, "noout"),
        (OSD_STOP, "stop"),
    ];
    let mut v: Vec<&str> = NAMES.iter().filter(|(b, _)| state & b != 0).map(|(_, n)| *n).collect();
    v.sort_unstable();
    v
}
pub const OSD_DEFAULT_PRIMARY_AFFINITY: u32 = 0x10000;
pub const ITEM_NONE: i32 = crush::ITEM_NONE;

/// The map's flags (`CEPH_OSDMAP_*`, `src/include/rados.h`).
pub mod flags {
    pub const NEARFULL: u32 = 1 << 0;
    pub const FULL: u32 = 1 << 1;
    pub const PAUSERD: u32 = 1 << 2;
    pub const PAUSEWR: u32 = 1 << 3;
    pub const PAUSEREC: u32 = 1 << 4;
    pub const NOUP: u32 = 1 << 5;
    pub const NODOWN: u32 = 1 << 6;
    pub const NOOUT: u32 = 1 << 7;
    pub const NOIN: u32 = 1 << 8;
    pub const NOBACKFILL: u32 = 1 << 9;
    pub const NORECOVER: u32 = 1 << 10;
    pub const NOSCRUB: u32 = 1 << 11;
    pub const NODEEP_SCRUB: u32 = 1 << 12;
    pub const NOTIERAGENT: u32 = 1 << 13;
    pub const NOREBALANCE: u32 = 1 << 14;
    pub const SORTBITWISE: u32 = 1 << 15;
    pub const RECOVERY_DELETES: u32 = 1 << 19;
    pub const PURGED_SNAPDIRS: u32 = 1 << 20;
    pub const NOSNAPTRIM: u32 = 1 << 21;
    pub const PGLOG_HARDLIMIT: u32 = 1 << 22;
}

#[derive(Debug, Clone, PartialEq)]
pub struct OsdMap {
    pub fsid: Uuid,
    pub epoch: u32,
    pub created: Utime,
    pub modified: Utime,
    pub pools: BTreeMap<i64, PgPool>,
    pub pool_name: BTreeMap<i64, String>,
    pub pool_max: i32,
    pub flags: u32,
    pub max_osd: i32,
    pub osd_state: Vec<u32>,
    pub osd_weight: Vec<u32>,
    pub client_addrs: Vec<EntityAddrVec>,
    pub pg_temp: BTreeMap<PgId, Vec<i32>>,
    pub primary_temp: BTreeMap<PgId, i32>,
    pub osd_primary_affinity: Vec<u32>,
    pub crush: CrushMap,
    /// The crush map bytes as received (re-encoding keeps them exact).
    pub crush_raw: Bytes,
    pub erasure_code_profiles: BTreeMap<String, BTreeMap<String, String>>,
    pub pg_upmap: BTreeMap<PgId, Vec<i32>>,
    pub pg_upmap_items: BTreeMap<PgId, Vec<(i32, i32)>>,
    pub crush_version: i32,
    pub new_removed_snaps: BTreeMap<i64, BTreeMap<u64, u64>>,
    pub new_purged_snaps: BTreeMap<i64, BTreeMap<u64, u64>>,
    pub last_up_change: Utime,
    pub last_in_change: Utime,
    pub osd: OsdSection,
    pub crc: u32,
}

/// `osd_info_t` (bare u8 version 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OsdInfo {
    pub last_clean_begin: u32,
    pub last_clean_end: u32,
    pub up_from: u32,
    pub up_thru: u32,
    pub down_at: u32,
    pub lost_at: u32,
}
impl Encode for OsdInfo {
    fn encode(&self, e: &mut Encoder) {
        e.u8(1);
        for v in [self.last_clean_begin, self.last_clean_end, self.up_from, self.up_thru, self.down_at, self.lost_at] {
            e.u32(v);
        }
    }
}
impl Decode for OsdInfo {
    fn decode(r: &mut Reader) -> Result<Self> {
        r.u8()?;
        Ok(OsdInfo {
            last_clean_begin: r.u32()?,
            last_clean_end: r.u32()?,
            up_from: r.u32()?,
            up_thru: r.u32()?,
            down_at: r.u32()?,
            lost_at: r.u32()?,
        })
    }
}

/// `osd_xinfo_t` v4. The laggy probability is kept in its wire form
/// (probability * 0xffffffff) so maps re-encode exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OsdXInfo {
    pub down_stamp: Utime,
    pub laggy_probability_raw: u32,
    pub laggy_interval: u32,
    pub features: u64,
    pub old_weight: u32,
    pub last_purged_snaps_scrub: Utime,
    pub dead_epoch: u32,
}
impl Encode for OsdXInfo {
    fn encode(&self, e: &mut Encoder) {
        let s = e.start(4, 1);
        self.down_stamp.encode(e);
        e.u32(self.laggy_probability_raw);
        e.u32(self.laggy_interval);
        e.u64(self.features);
        e.u32(self.old_weight);
        self.last_purged_snaps_scrub.encode(e);
        e.u32(self.dead_epoch);
        e.finish(s);
    }
}
impl Decode for OsdXInfo {
    fn decode(r: &mut Reader) -> Result<Self> {
        let (v, mut b) = r.versioned(4, "osd_xinfo_t")?;
        let mut x = OsdXInfo { down_stamp: Utime::decode(&mut b)?, laggy_probability_raw: b.u32()?, laggy_interval: b.u32()?, ..Default::default() };
        if v >= 2 {
            x.features = b.u64()?;
        }
        if v >= 3 {
            x.old_weight = b.u32()?;
        }
        if v >= 4 {
            x.last_purged_snaps_scrub = Utime::decode(&mut b)?;
            x.dead_epoch = b.u32()?;
        }
        Ok(x)
    }
}

/// Stretch-mode state (osd section v10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stretch {
    pub enabled: bool,
    pub bucket_count: u32,
    pub degraded: u32,
    pub recovering: u32,
    pub mode_bucket: i32,
}

/// The OSD-only section of the map.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OsdSection {
    pub hb_back_addrs: Vec<EntityAddrVec>,
    pub osd_info: Vec<OsdInfo>,
    /// Kept in Ceph's encoding order (a memcmp of the in-memory address).
    pub blocklist: Vec<(EntityAddr, Utime)>,
    pub cluster_addrs: Vec<EntityAddrVec>,
    pub cluster_snapshot_epoch: u32,
    pub cluster_snapshot: String,
    pub osd_uuid: Vec<Uuid>,
    pub osd_xinfo: Vec<OsdXInfo>,
    pub hb_front_addrs: Vec<EntityAddrVec>,
    pub nearfull_ratio: f32,
    pub full_ratio: f32,
    pub backfillfull_ratio: f32,
    pub require_min_compat_client: u8,
    pub require_osd_release: u8,
    pub removed_snaps_queue: BTreeMap<i64, BTreeMap<u64, u64>>,
    pub crush_node_flags: BTreeMap<i32, u32>,
    pub device_class_flags: BTreeMap<i32, u32>,
    pub stretch: Option<Stretch>,
}

/// The 36-byte key Ceph sorts blocklisted addresses by (memcmp of `entity_addr_t`).
pub fn addr_sort_key(a: &EntityAddr) -> [u8; 36] {
    let mut k = [0u8; 36];
    k[0..4].copy_from_slice(&(a.ty as u32).to_le_bytes());
    k[4..8].copy_from_slice(&a.nonce.to_le_bytes());
    let enc = a.to_bytes(types::features::MSG_ADDR2);
    // marker(1) + header(6) + type(4) + nonce(4) + elen(4) + family(2) + data
    if enc.len() > 21 {
        let fam_and_data = &enc[19..];
        let n = fam_and_data.len().min(28);
        k[8..8 + n].copy_from_slice(&fam_and_data[..n]);
    }
    k
}

impl Encode for OsdSection {
    fn encode(&self, e: &mut Encoder) {
        let v = if self.stretch.is_some() { 10 } else { 9 };
        let s = e.start(v, 1);
        self.hb_back_addrs.encode(e);
        self.osd_info.encode(e);
        e.u32(self.blocklist.len() as u32);
        for (a, t) in &self.blocklist {
            a.encode(e);
            t.encode(e);
        }
        self.cluster_addrs.encode(e);
        e.u32(self.cluster_snapshot_epoch);
        e.string(&self.cluster_snapshot);
        self.osd_uuid.encode(e);
        self.osd_xinfo.encode(e);
        self.hb_front_addrs.encode(e);
        e.u32(self.nearfull_ratio.to_bits());
        e.u32(self.full_ratio.to_bits());
        e.u32(self.backfillfull_ratio.to_bits());
        e.u8(self.require_min_compat_client);
        e.u8(self.require_osd_release);
        self.removed_snaps_queue.encode(e);
        self.crush_node_flags.encode(e);
        self.device_class_flags.encode(e);
        if let Some(st) = &self.stretch {
            e.bool(st.enabled);
            e.u32(st.bucket_count);
            e.u32(st.degraded);
            e.u32(st.recovering);
            e.i32(st.mode_bucket);
        }
        e.finish(s);
    }
}

impl Decode for OsdSection {
    fn decode(r: &mut Reader) -> Result<Self> {
        let (v, mut b) = r.versioned(10, "OSDMap osd data")?;
        if v < 9 {
            return invalid("OSDMap", format!("osd data v{v} (pre-Nautilus) is not supported"));
        }
        let b = &mut b;
        let mut o = OsdSection {
            hb_back_addrs: Decode::decode(b)?,
            osd_info: Decode::decode(b)?,
            ..Default::default()
        };
        let n = b.count(9)?;
        for _ in 0..n {
            let a = EntityAddr::decode(b)?;
            let t = Utime::decode(b)?;
            o.blocklist.push((a, t));
        }
        o.cluster_addrs = Decode::decode(b)?;
        o.cluster_snapshot_epoch = b.u32()?;
        o.cluster_snapshot = b.string()?;
        o.osd_uuid = Decode::decode(b)?;
        o.osd_xinfo = Decode::decode(b)?;
        o.hb_front_addrs = Decode::decode(b)?;
        o.nearfull_ratio = f32::from_bits(b.u32()?);
        o.full_ratio = f32::from_bits(b.u32()?);
        o.backfillfull_ratio = f32::from_bits(b.u32()?);
        o.require_min_compat_client = b.u8()?;
        o.require_osd_release = b.u8()?;
        o.removed_snaps_queue = Decode::decode(b)?;
        o.crush_node_flags = Decode::decode(b)?;
        o.device_class_flags = Decode::decode(b)?;
        if v >= 10 {
            o.stretch = Some(Stretch { enabled: b.bool()?, bucket_count: b.u32()?, degraded: b.u32()?, recovering: b.u32()?, mode_bucket: b.i32()? });
        }
        Ok(o)
    }
}

/// Result of mapping a PG.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PgMapping {
    pub up: Vec<i32>,
    pub up_primary: i32,
    pub acting: Vec<i32>,
    pub acting_primary: i32,
}

impl OsdMap {
    /// (full, backfillfull, nearfull, failsafe) as OSDs apply them
    /// (`OSDService::check_full_status`): each at least the one below it,
    /// and all the failsafe ratio when any is zero or less.
    pub fn full_ratios(&self, failsafe: f32) -> (f32, f32, f32, f32) {
        let nearfull = self.osd.nearfull_ratio;
        let backfillfull = self.osd.backfillfull_ratio.max(nearfull);
        let full = self.osd.full_ratio.max(backfillfull);
        let failsafe = failsafe.max(full);
        if full <= 0.0 || backfillfull <= 0.0 || nearfull <= 0.0 {
            return (failsafe, failsafe, failsafe, failsafe);
        }
        (full, backfillfull, nearfull, failsafe)
    }

    /// Drops pool `id` with its pg_temp and primary_temp entries, as Ceph's
    /// `_prepare_remove_pool` does: they would otherwise stay in `osd dump`
    /// and be reused by a later pool that gets the same id.
    pub fn remove_pool(&mut self, id: i64) {
        self.pools.remove(&id);
        self.pool_name.remove(&id);
        let keep = |pg: &PgId| pg.pool as i64 != id;
        self.pg_temp.retain(|pg, _| keep(pg));
        self.primary_temp.retain(|pg, _| keep(pg));
    }

    pub fn exists(&self, osd: i32) -> bool {
        osd >= 0 && osd < self.max_osd && self.osd_state.get(osd as usize).map(|s| s & OSD_EXISTS != 0).unwrap_or(false)
    }
    pub fn is_up(&self, osd: i32) -> bool {
        self.exists(osd) && self.osd_state[osd as usize] & OSD_UP != 0
    }
    pub fn is_in(&self, osd: i32) -> bool {
        self.exists(osd) && self.osd_weight.get(osd as usize).map(|w| *w != 0).unwrap_or(false)
    }
    pub fn lookup_pool(&self, name: &str) -> Option<i64> {
        self.pool_name.iter().find(|(_, n)| *n == name).map(|(id, _)| *id)
    }

    /// `object_locator_to_pg`: the raw PG (full 32-bit seed) of an object.
    pub fn object_to_raw_pg(&self, oid: &str, loc: &ObjectLocator) -> Option<PgId> {
        let pool = self.pools.get(&loc.pool)?;
        let seed = if loc.hash >= 0 {
            loc.hash as u32
        } else if !loc.key.is_empty() {
            pool.hash_key(&loc.key, &loc.nspace)
        } else {
            pool.hash_key(oid, &loc.nspace)
        };
        Some(PgId { pool: loc.pool as u64, seed })
    }

    /// `raw_pg_to_pg`.
    pub fn raw_pg_to_pg(&self, pg: PgId) -> PgId {
        match self.pools.get(&(pg.pool as i64)) {
            Some(p) => PgId { pool: pg.pool, seed: p.raw_pg_to_pg(pg.seed) },
            None => pg,
        }
    }

    /// `pg_to_raw_osds`: CRUSH's answer (nonexistent OSDs removed) and its primary.
    pub fn pg_to_raw(&self, pg: PgId) -> (Vec<i32>, i32) {
        match self.pools.get(&(pg.pool as i64)) {
            Some(pool) => {
                let (raw, _) = self.pg_to_raw_osds(pool, pg);
                let p = raw.iter().copied().find(|o| *o != ITEM_NONE).unwrap_or(-1);
                (raw, p)
            }
            None => (Vec::new(), -1),
        }
    }

    /// `osdmaptool --mark-up-in`: every OSD slot exists, is up and fully in.
    pub fn mark_all_up_in(&mut self) {
        for i in 0..self.max_osd.max(0) as usize {
            self.osd_state[i] |= OSD_EXISTS | OSD_UP;
            self.osd_weight[i] = 0x10000;
        }
    }

    fn pg_to_raw_osds(&self, pool: &PgPool, pg: PgId) -> (Vec<i32>, u32) {
        let pps = pool.raw_pg_to_pps(pg.pool, pg.seed);
        let size = pool.size as i32;
        let mut osds = Vec::new();
        if let Some(rule) = self.crush.find_rule(pool.crush_rule as i32, pool.ty as i32, size) {
            let args = if self.crush.choose_args.contains_key(&(pg.pool as i64)) {
                Some(pg.pool as i64)
            } else if self.crush.choose_args.contains_key(&-1) {
                Some(-1)
            } else {
                None
            };
            osds = crush::do_rule(&self.crush, rule, pps as i32, size as usize, &self.osd_weight, args);
        }
        // _remove_nonexistent_osds
        if pool.is_replicated() {
            osds.retain(|o| self.exists(*o));
        } else {
            for o in osds.iter_mut() {
                if !self.exists(*o) {
                    *o = ITEM_NONE;
                }
            }
        }
        (osds, pps)
    }

    fn weight_of(&self, osd: i32) -> u32 {
        self.osd_weight.get(osd as usize).copied().unwrap_or(0)
    }

    fn apply_upmap(&self, pg: PgId, raw: &mut Vec<i32>) {
        let marked_out = |o: i32| o != ITEM_NONE && o < self.max_osd && o >= 0 && self.weight_of(o) == 0;
        if let Some(v) = self.pg_upmap.get(&pg) {
            if v.iter().any(|o| marked_out(*o)) {
                return;
            }
            *raw = v.clone();
        }
        if let Some(items) = self.pg_upmap_items.get(&pg) {
            for (from, to) in items {
                let mut exists = false;
                let mut pos: Option<usize> = None;
                for (i, osd) in raw.iter().enumerate() {
                    if osd == to {
                        exists = true;
                        break;
                    }
                    if osd == from && pos.is_none() && !marked_out(*to) {
                        pos = Some(i);
                    }
                }
                if !exists {
                    if let Some(p) = pos {
                        raw[p] = *to;
                    }
                }
            }
        }
    }

    fn raw_to_up(&self, pool: &PgPool, raw: &[i32]) -> Vec<i32> {
        if pool.is_replicated() {
            raw.iter().copied().filter(|o| self.exists(*o) && self.is_up(*o)).collect()
        } else {
            raw.iter().map(|o| if self.exists(*o) && self.is_up(*o) { *o } else { ITEM_NONE }).collect()
        }
    }

    fn apply_primary_affinity(&self, seed: u32, pool: &PgPool, osds: &mut [i32], primary: &mut i32) {
        if self.osd_primary_affinity.is_empty() {
            return;
        }
        let aff = |o: i32| self.osd_primary_affinity.get(o as usize).copied().unwrap_or(OSD_DEFAULT_PRIMARY_AFFINITY);
        if !osds.iter().any(|o| *o != ITEM_NONE && aff(*o) != OSD_DEFAULT_PRIMARY_AFFINITY) {
            return;
        }
        let mut pos: Option<usize> = None;
        for (i, o) in osds.iter().enumerate() {
            if *o == ITEM_NONE {
                continue;
            }
            let a = aff(*o);
            if a < OSD_DEFAULT_PRIMARY_AFFINITY && (crush::hash::hash2(seed, *o as u32) >> 16) >= a {
                if pos.is_none() {
                    pos = Some(i);
                }
            } else {
                pos = Some(i);
                break;
            }
        }
        let Some(pos) = pos else { return };
        *primary = osds[pos];
        if pool.is_replicated() && pos > 0 {
            for i in (1..=pos).rev() {
                osds[i] = osds[i - 1];
            }
            osds[0] = *primary;
        }
    }

    fn temp_osds(&self, pool: &PgPool, pg: PgId) -> (Vec<i32>, i32) {
        let pg = PgId { pool: pg.pool, seed: pool.raw_pg_to_pg(pg.seed) };
        let mut temp = Vec::new();
        if let Some(v) = self.pg_temp.get(&pg) {
            for o in v {
                if !self.exists(*o) || !self.is_up(*o) {
                    if !pool.is_replicated() {
                        temp.push(ITEM_NONE);
                    }
                } else {
                    temp.push(*o);
                }
            }
        }
        let primary = match self.primary_temp.get(&pg) {
            Some(p) => *p,
            None => temp.iter().copied().find(|o| *o != ITEM_NONE).unwrap_or(-1),
        };
        (temp, primary)
    }

    /// `pg_to_up_acting_osds`.
    pub fn pg_to_up_acting(&self, pg: PgId) -> PgMapping {
        let Some(pool) = self.pools.get(&(pg.pool as i64)) else {
            return PgMapping { up_primary: -1, acting_primary: -1, ..Default::default() };
        };
        let (mut acting, mut acting_primary) = self.temp_osds(pool, pg);
        let (mut raw, pps) = self.pg_to_raw_osds(pool, pg);
        self.apply_upmap(pg, &mut raw);
        let mut up = self.raw_to_up(pool, &raw);
        let mut up_primary = up.iter().copied().find(|o| *o != ITEM_NONE).unwrap_or(-1);
        self.apply_primary_affinity(pps, pool, &mut up, &mut up_primary);
        if acting.is_empty() {
            acting = up.clone();
            if acting_primary == -1 {
                acting_primary = up_primary;
            }
        }
        PgMapping { up, up_primary, acting, acting_primary }
    }
}

fn decode_pg_vec_map(r: &mut Reader) -> Result<BTreeMap<PgId, Vec<i32>>> {
    Decode::decode(r)
}

impl Decode for OsdMap {
    fn decode(r: &mut Reader) -> Result<Self> {
        let whole = r.peek_rest().clone();
        let (v, mut w) = r.versioned(8, "OSDMap")?;
        if v < 7 {
            return invalid("OSDMap", format!("pre-Luminous encoding v{v} is not supported"));
        }
        let (cv, mut c) = w.versioned(9, "OSDMap client data")?;
        let mut m = OsdMap {
            fsid: Uuid::decode(&mut c)?,
            epoch: c.u32()?,
            created: Utime::decode(&mut c)?,
            modified: Utime::decode(&mut c)?,
            pools: Decode::decode(&mut c)?,
            pool_name: Decode::decode(&mut c)?,
            pool_max: c.i32()?,
            flags: c.u32()?,
            max_osd: c.i32()?,
            osd_state: Vec::new(),
            osd_weight: Vec::new(),
            client_addrs: Vec::new(),
            pg_temp: BTreeMap::new(),
            primary_temp: BTreeMap::new(),
            osd_primary_affinity: Vec::new(),
            crush: CrushMap::default(),
            crush_raw: Bytes::new(),
            erasure_code_profiles: BTreeMap::new(),
            pg_upmap: BTreeMap::new(),
            pg_upmap_items: BTreeMap::new(),
            crush_version: 0,
            new_removed_snaps: BTreeMap::new(),
            new_purged_snaps: BTreeMap::new(),
            last_up_change: Utime::default(),
            last_in_change: Utime::default(),
            osd: OsdSection::default(),
            crc: 0,
        };
        if cv < 5 {
            return invalid("OSDMap", format!("client data v{cv} is not supported"));
        }
        m.osd_state = Decode::decode(&mut c)?;
        m.osd_weight = Decode::decode(&mut c)?;
        m.client_addrs = Decode::decode(&mut c)?;
        m.pg_temp = decode_pg_vec_map(&mut c)?;
        m.primary_temp = Decode::decode(&mut c)?;
        m.osd_primary_affinity = Decode::decode(&mut c)?;
        m.crush_raw = c.bufferlist()?;
        m.crush = CrushMap::from_bytes(m.crush_raw.clone())?;
        m.erasure_code_profiles = Decode::decode(&mut c)?;
        if cv >= 4 {
            m.pg_upmap = Decode::decode(&mut c)?;
            m.pg_upmap_items = Decode::decode(&mut c)?;
        }
        if cv >= 6 {
            m.crush_version = c.i32()?;
        }
        if cv >= 7 {
            m.new_removed_snaps = Decode::decode(&mut c)?;
            m.new_purged_snaps = Decode::decode(&mut c)?;
        }
        if cv >= 9 {
            m.last_up_change = Utime::decode(&mut c)?;
            m.last_in_change = Utime::decode(&mut c)?;
        }
        let n = m.max_osd.max(0) as usize;
        if m.osd_state.len() != n || m.osd_weight.len() != n {
            return invalid("OSDMap", "osd_state/osd_weight do not match max_osd");
        }
        m.osd = OsdSection::decode(&mut w)?;
        let n = m.max_osd.max(0) as usize;
        let o = &m.osd;
        let lens = [
            m.client_addrs.len(),
            o.osd_info.len(),
            o.osd_xinfo.len(),
            o.osd_uuid.len(),
            o.hb_back_addrs.len(),
            o.hb_front_addrs.len(),
            o.cluster_addrs.len(),
        ];
        if lens.iter().any(|l| *l != n) || (!m.osd_primary_affinity.is_empty() && m.osd_primary_affinity.len() != n) {
            return invalid("OSDMap", "per-osd vectors do not match max_osd");
        }
        // The crc covers everything before it, wrapper header included.
        m.crc = w.u32()?;
        let crc_offset = whole.len() - r.remaining() - w.remaining() - 4;
        let calc = ceph_crc32c(0xffff_ffff, &whole[..crc_offset]);
        if calc != m.crc {
            return invalid("OSDMap", format!("crc mismatch: map says {:#x}, contents give {calc:#x}", m.crc));
        }
        Ok(m)
    }
}

impl Encode for OsdMap {
    fn encode(&self, e: &mut Encoder) {
        let start = e.len();
        let s = e.start(8, 7);
        let c = e.start(9, 1);
        self.fsid.encode(e);
        e.u32(self.epoch);
        self.created.encode(e);
        self.modified.encode(e);
        self.pools.encode(e);
        self.pool_name.encode(e);
        e.i32(self.pool_max);
        e.u32(self.flags);
        e.i32(self.max_osd);
        self.osd_state.encode(e);
        self.osd_weight.encode(e);
        self.client_addrs.encode(e);
        self.pg_temp.encode(e);
        self.primary_temp.encode(e);
        self.osd_primary_affinity.encode(e);
        e.bufferlist(&self.crush_raw);
        self.erasure_code_profiles.encode(e);
        self.pg_upmap.encode(e);
        self.pg_upmap_items.encode(e);
        e.i32(self.crush_version);
        self.new_removed_snaps.encode(e);
        self.new_purged_snaps.encode(e);
        self.last_up_change.encode(e);
        self.last_in_change.encode(e);
        e.finish(c);
        self.osd.encode(e);
        let crc_at = e.len();
        e.u32(0);
        e.finish(s);
        let crc = ceph_crc32c(0xffff_ffff, &e.buf[start..crc_at]);
        e.buf[crc_at..crc_at + 4].copy_from_slice(&crc.to_le_bytes());
    }
}
