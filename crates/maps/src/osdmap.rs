//! OSDMap (`src/osd/OSDMap.cc`): the Pacific encoding (wrapper v8, client
//! section v9, then the OSD-only section and a crc), and placement of objects
//! to PGs and PGs to OSDs exactly as Ceph computes it.

use crate::pool::PgPool;
use bytes::Bytes;
use crush::CrushMap;
use denc::{ceph_crc32c, invalid, Decode, Encode, Encoder, Reader, Result, Utime};
use std::collections::BTreeMap;
use types::osd::{ObjectLocator, PgId};
use types::{EntityAddrVec, Uuid};

pub const OSD_EXISTS: u32 = 1;
pub const OSD_UP: u32 = 2;
pub const OSD_DEFAULT_PRIMARY_AFFINITY: u32 = 0x10000;
pub const ITEM_NONE: i32 = crush::ITEM_NONE;

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
    /// The OSD-only section (ENCODE_START header included), kept whole.
    pub osd_section: Bytes,
    pub crc: u32,
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
            osd_section: Bytes::new(),
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
        // OSD-only section: kept whole.
        let rest = w.peek_rest().clone();
        let before = w.remaining();
        w.skip_versioned("OSDMap osd data")?;
        m.osd_section = rest.slice(..before - w.remaining());
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
        e.raw(&self.osd_section);
        let crc_at = e.len();
        e.u32(0);
        e.finish(s);
        let crc = ceph_crc32c(0xffff_ffff, &e.buf[start..crc_at]);
        e.buf[crc_at..crc_at + 4].copy_from_slice(&crc.to_le_bytes());
    }
}
