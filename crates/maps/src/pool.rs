//! `pg_pool_t` (`src/osd/osd_types.cc`), Pacific encoding v29 (v30 for stretch
//! pools), and placement helpers: object → raw pg → pg.

use bytes::Bytes;
use denc::{invalid, Decode, Encode, Encoder, Reader, Result, Utime};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use types::osd::{EVersion, PgId};

pub const TYPE_REPLICATED: u8 = 1;
pub const TYPE_ERASURE: u8 = 3;

pub const FLAG_HASHPSPOOL: u64 = 1 << 0;
pub const FLAG_FULL: u64 = 1 << 1;
pub const FLAG_EC_OVERWRITES: u64 = 1 << 2;
pub const FLAG_INCOMPLETE_CLONES: u64 = 1 << 3;
pub const FLAG_NODELETE: u64 = 1 << 4;
pub const FLAG_NOPGCHANGE: u64 = 1 << 5;
pub const FLAG_NOSIZECHANGE: u64 = 1 << 6;
pub const FLAG_WRITE_FADVISE_DONTNEED: u64 = 1 << 7;
pub const FLAG_NOSCRUB: u64 = 1 << 8;
pub const FLAG_NODEEP_SCRUB: u64 = 1 << 9;
pub const FLAG_FULL_QUOTA: u64 = 1 << 10;
pub const FLAG_NEARFULL: u64 = 1 << 11;
pub const FLAG_BACKFILLFULL: u64 = 1 << 12;
pub const FLAG_SELFMANAGED_SNAPS: u64 = 1 << 13;
pub const FLAG_POOL_SNAPS: u64 = 1 << 14;
pub const FLAG_CREATING: u64 = 1 << 15;
pub const FLAG_EIO: u64 = 1 << 16;
pub const FLAG_BULK: u64 = 1 << 17;

pub const HASH_LINUX: u8 = 0;
pub const HASH_RJENKINS: u8 = 2;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolSnapInfo {
    pub snapid: u64,
    pub stamp: Utime,
    pub name: String,
}
impl Encode for PoolSnapInfo {
    fn encode(&self, e: &mut Encoder) {
        let s = e.start(2, 2);
        e.u64(self.snapid);
        self.stamp.encode(e);
        e.string(&self.name);
        e.finish(s);
    }
}
impl Decode for PoolSnapInfo {
    fn decode(r: &mut Reader) -> Result<Self> {
        let (_, mut b) = r.versioned(2, "pool_snap_info_t")?;
        Ok(PoolSnapInfo { snapid: b.u64()?, stamp: Utime::decode(&mut b)?, name: b.string()? })
    }
}

/// A pool option value (`pool_opts_t`): string, integer or double.
#[derive(Debug, Clone, PartialEq)]
pub enum PoolOpt {
    Str(String),
    Int(i64),
    Double(f64),
}

/// `pg_merge_meta_t`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MergeMeta {
    pub source_pgid: PgId,
    pub ready_epoch: u32,
    pub last_epoch_started: u32,
    pub last_epoch_clean: u32,
    pub source_version: EVersion,
    pub target_version: EVersion,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PgPool {
    pub ty: u8,
    pub size: u8,
    pub crush_rule: u8,
    pub object_hash: u8,
    pub pg_num: u32,
    pub pgp_num: u32,
    pub last_change: u32,
    pub snap_seq: u64,
    pub snap_epoch: u32,
    pub snaps: BTreeMap<u64, PoolSnapInfo>,
    /// interval_set<snapid_t>: start → length
    pub removed_snaps: BTreeMap<u64, u64>,
    pub auid: u64,
    pub flags: u64,
    pub min_size: u8,
    pub quota_max_bytes: u64,
    pub quota_max_objects: u64,
    pub tiers: BTreeSet<u64>,
    pub tier_of: i64,
    pub cache_mode: u8,
    pub read_tier: i64,
    pub write_tier: i64,
    pub properties: BTreeMap<String, String>,
    /// Encoded HitSet::Params (kept whole).
    pub hit_set_params: Bytes,
    pub hit_set_period: u32,
    pub hit_set_count: u32,
    pub stripe_width: u32,
    pub target_max_bytes: u64,
    pub target_max_objects: u64,
    pub cache_target_dirty_ratio_micro: u32,
    pub cache_target_full_ratio_micro: u32,
    pub cache_min_flush_age: u32,
    pub cache_min_evict_age: u32,
    pub erasure_code_profile: String,
    pub last_force_op_resend_preluminous: u32,
    pub min_read_recency_for_promote: i32,
    pub expected_num_objects: u64,
    pub cache_target_dirty_high_ratio_micro: u32,
    pub min_write_recency_for_promote: i32,
    pub use_gmt_hitset: bool,
    pub fast_read: bool,
    pub hit_set_grade_decay_rate: i32,
    pub hit_set_search_last_n: u32,
    pub opts: BTreeMap<i32, PoolOpt>,
    pub last_force_op_resend_prenautilus: u32,
    pub application_metadata: BTreeMap<String, BTreeMap<String, String>>,
    pub create_time: Utime,
    pub pg_num_target: u32,
    pub pgp_num_target: u32,
    pub pg_num_pending: u32,
    pub last_force_op_resend: u32,
    pub pg_autoscale_mode: u8,
    pub last_pg_merge_meta: MergeMeta,
    /// Stretch pools only (v30).
    pub peering_crush: Option<(u32, u32, u32, i32)>,
}

impl Default for PgPool {
    fn default() -> Self {
        PgPool {
            ty: TYPE_REPLICATED,
            size: 3,
            crush_rule: 0,
            object_hash: HASH_RJENKINS,
            pg_num: 8,
            pgp_num: 8,
            last_change: 0,
            snap_seq: 0,
            snap_epoch: 0,
            snaps: BTreeMap::new(),
            removed_snaps: BTreeMap::new(),
            auid: 0,
            flags: FLAG_HASHPSPOOL,
            min_size: 2,
            quota_max_bytes: 0,
            quota_max_objects: 0,
            tiers: BTreeSet::new(),
            tier_of: -1,
            cache_mode: 0,
            read_tier: -1,
            write_tier: -1,
            properties: BTreeMap::new(),
            hit_set_params: Bytes::from_static(&[1, 1, 1, 0, 0, 0, 0]),
            hit_set_period: 0,
            hit_set_count: 0,
            stripe_width: 0,
            target_max_bytes: 0,
            target_max_objects: 0,
            cache_target_dirty_ratio_micro: 400_000,
            cache_target_full_ratio_micro: 800_000,
            cache_min_flush_age: 0,
            cache_min_evict_age: 0,
            erasure_code_profile: String::new(),
            last_force_op_resend_preluminous: 0,
            min_read_recency_for_promote: 0,
            expected_num_objects: 0,
            cache_target_dirty_high_ratio_micro: 600_000,
            min_write_recency_for_promote: 0,
            use_gmt_hitset: true,
            fast_read: false,
            hit_set_grade_decay_rate: 0,
            hit_set_search_last_n: 0,
            opts: BTreeMap::new(),
            last_force_op_resend_prenautilus: 0,
            application_metadata: BTreeMap::new(),
            create_time: Utime::default(),
            pg_num_target: 8,
            pgp_num_target: 8,
            pg_num_pending: 8,
            last_force_op_resend: 0,
            pg_autoscale_mode: 0,
            last_pg_merge_meta: MergeMeta::default(),
            peering_crush: None,
        }
    }
}

/// `ceph_stable_mod`: x mod b, stable as b grows (`bmask` = next power of two - 1).
pub fn stable_mod(x: u32, b: u32, bmask: u32) -> u32 {
    if x & bmask < b {
        x & bmask
    } else {
        x & (bmask >> 1)
    }
}

fn cbits(v: u32) -> u32 {
    32 - v.leading_zeros()
}

/// The mask `ceph_stable_mod` takes for `pg_num` PGs.
pub fn pg_num_mask_of(pg_num: u32) -> u32 {
    (1u32 << cbits(pg_num.saturating_sub(1))) - 1
}

/// The PG `seed` folds into with `pg_num` PGs: its parent (or itself)
/// before a split to more.
pub fn fold_seed(seed: u32, pg_num: u32) -> u32 {
    stable_mod(seed, pg_num, pg_num_mask_of(pg_num))
}

/// `pg_t::is_split`: the PGs that split off `seed` when pg_num grows from
/// `old` to `new` (every descendant, however many doublings apart).
pub fn split_children(seed: u32, old: u32, new: u32) -> Vec<u32> {
    if seed >= old || new <= old {
        return vec![];
    }
    (old..new).filter(|c| fold_seed(*c, old) == seed).collect()
}

/// `pg_t::get_split_bits`: how many low bits of an object's hash name
/// this PG with `pg_num` PGs (the hash's low bits equal the seed).
pub fn split_bits(seed: u32, pg_num: u32) -> u32 {
    if pg_num <= 1 {
        return 0;
    }
    let p = cbits(pg_num);
    let m = 1u32 << (p - 1);
    if seed % m < pg_num % m {
        p
    } else {
        p - 1
    }
}

impl PgPool {
    pub fn is_replicated(&self) -> bool {
        self.ty == TYPE_REPLICATED
    }
    pub fn is_erasure(&self) -> bool {
        self.ty == TYPE_ERASURE
    }
    pub fn pg_num_mask(&self) -> u32 {
        pg_num_mask_of(self.pg_num)
    }
    pub fn pgp_num_mask(&self) -> u32 {
        pg_num_mask_of(self.pgp_num)
    }
    /// `raw_pg_to_pg`: fold a raw seed into [0, pg_num).
    pub fn raw_pg_to_pg(&self, seed: u32) -> u32 {
        stable_mod(seed, self.pg_num, self.pg_num_mask())
    }
    /// `raw_pg_to_pps`: the CRUSH input for a PG.
    pub fn raw_pg_to_pps(&self, pool: u64, seed: u32) -> u32 {
        if self.flags & FLAG_HASHPSPOOL != 0 {
            crush::hash::hash2(stable_mod(seed, self.pgp_num, self.pgp_num_mask()), pool as u32)
        } else {
            stable_mod(seed, self.pgp_num, self.pgp_num_mask()).wrapping_add(pool as u32)
        }
    }
    /// `hash_key`: the object's placement hash (namespace and key folded in).
    pub fn hash_key(&self, key: &str, nspace: &str) -> u32 {
        let h = |b: &[u8]| match self.object_hash {
            HASH_LINUX => ceph_str_hash_linux(b),
            _ => ceph_str_hash_rjenkins(b),
        };
        if nspace.is_empty() {
            h(key.as_bytes())
        } else {
            let mut v = Vec::with_capacity(nspace.len() + 1 + key.len());
            v.extend_from_slice(nspace.as_bytes());
            v.push(0x1f);
            v.extend_from_slice(key.as_bytes());
            h(&v)
        }
    }
    pub fn type_name(&self) -> &'static str {
        match self.ty {
            TYPE_REPLICATED => "replicated",
            TYPE_ERASURE => "erasure",
            _ => "???",
        }
    }
}

/// `ceph_str_hash_rjenkins` (`src/common/ceph_hash.cc`): lookup2 over bytes.
pub fn ceph_str_hash_rjenkins(k: &[u8]) -> u32 {
    fn mix(a: &mut u32, b: &mut u32, c: &mut u32) {
        *a = a.wrapping_sub(*b).wrapping_sub(*c) ^ (*c >> 13);
        *b = b.wrapping_sub(*c).wrapping_sub(*a) ^ (*a << 8);
        *c = c.wrapping_sub(*a).wrapping_sub(*b) ^ (*b >> 13);
        *a = a.wrapping_sub(*b).wrapping_sub(*c) ^ (*c >> 12);
        *b = b.wrapping_sub(*c).wrapping_sub(*a) ^ (*a << 16);
        *c = c.wrapping_sub(*a).wrapping_sub(*b) ^ (*b >> 5);
        *a = a.wrapping_sub(*b).wrapping_sub(*c) ^ (*c >> 3);
        *b = b.wrapping_sub(*c).wrapping_sub(*a) ^ (*a << 10);
        *c = c.wrapping_sub(*a).wrapping_sub(*b) ^ (*b >> 15);
    }
    let w = |i: usize| k[i] as u32;
    let length = k.len();
    let (mut a, mut b, mut c) = (0x9e37_79b9u32, 0x9e37_79b9u32, 0u32);
    let mut i = 0;
    let mut len = length;
    while len >= 12 {
        a = a.wrapping_add(w(i) | w(i + 1) << 8 | w(i + 2) << 16 | w(i + 3) << 24);
        b = b.wrapping_add(w(i + 4) | w(i + 5) << 8 | w(i + 6) << 16 | w(i + 7) << 24);
        c = c.wrapping_add(w(i + 8) | w(i + 9) << 8 | w(i + 10) << 16 | w(i + 11) << 24);
        mix(&mut a, &mut b, &mut c);
        i += 12;
        len -= 12;
    }
    c = c.wrapping_add(length as u32);
    // the last 11 bytes; c's low byte is reserved for the length
    if len >= 11 { c = c.wrapping_add(w(i + 10) << 24); }
    if len >= 10 { c = c.wrapping_add(w(i + 9) << 16); }
    if len >= 9 { c = c.wrapping_add(w(i + 8) << 8); }
    if len >= 8 { b = b.wrapping_add(w(i + 7) << 24); }
    if len >= 7 { b = b.wrapping_add(w(i + 6) << 16); }
    if len >= 6 { b = b.wrapping_add(w(i + 5) << 8); }
    if len >= 5 { b = b.wrapping_add(w(i + 4)); }
    if len >= 4 { a = a.wrapping_add(w(i + 3) << 24); }
    if len >= 3 { a = a.wrapping_add(w(i + 2) << 16); }
    if len >= 2 { a = a.wrapping_add(w(i + 1) << 8); }
    if len >= 1 { a = a.wrapping_add(w(i)); }
    mix(&mut a, &mut b, &mut c);
    c
}

/// `ceph_str_hash_linux`: the Linux dcache hash.
pub fn ceph_str_hash_linux(s: &[u8]) -> u32 {
    let mut hash: u64 = 0;
    for &c in s {
        let c = c as u64;
        hash = (hash.wrapping_add(c << 4).wrapping_add(c >> 4)).wrapping_mul(11);
    }
    hash as u32
}

impl Encode for PgPool {
    fn encode(&self, e: &mut Encoder) {
        let v = if self.peering_crush.is_some() { 30 } else { 29 };
        let s = e.start(v, 5);
        e.u8(self.ty);
        e.u8(self.size);
        e.u8(self.crush_rule);
        e.u8(self.object_hash);
        e.u32(self.pg_num);
        e.u32(self.pgp_num);
        e.u32(0); // lpg_num
        e.u32(0); // lpgp_num
        e.u32(self.last_change);
        e.u64(self.snap_seq);
        e.u32(self.snap_epoch);
        self.snaps.encode(e);
        self.removed_snaps.encode(e);
        e.u64(self.auid);
        e.u64(self.flags);
        e.u32(0); // crash_replay_interval
        e.u8(self.min_size);
        e.u64(self.quota_max_bytes);
        e.u64(self.quota_max_objects);
        self.tiers.encode(e);
        e.i64(self.tier_of);
        e.u8(self.cache_mode);
        e.i64(self.read_tier);
        e.i64(self.write_tier);
        self.properties.encode(e);
        e.raw(&self.hit_set_params);
        e.u32(self.hit_set_period);
        e.u32(self.hit_set_count);
        e.u32(self.stripe_width);
        e.u64(self.target_max_bytes);
        e.u64(self.target_max_objects);
        e.u32(self.cache_target_dirty_ratio_micro);
        e.u32(self.cache_target_full_ratio_micro);
        e.u32(self.cache_min_flush_age);
        e.u32(self.cache_min_evict_age);
        e.string(&self.erasure_code_profile);
        e.u32(self.last_force_op_resend_preluminous);
        e.i32(self.min_read_recency_for_promote);
        e.u64(self.expected_num_objects);
        e.u32(self.cache_target_dirty_high_ratio_micro);
        e.i32(self.min_write_recency_for_promote);
        e.bool(self.use_gmt_hitset);
        e.bool(self.fast_read);
        e.i32(self.hit_set_grade_decay_rate);
        e.u32(self.hit_set_search_last_n);
        // pool_opts_t v2
        let o = e.start(2, 1);
        e.u32(self.opts.len() as u32);
        for (k, v) in &self.opts {
            e.i32(*k);
            match v {
                PoolOpt::Str(s) => {
                    e.i32(0);
                    e.string(s);
                }
                PoolOpt::Int(i) => {
                    e.i32(1);
                    e.i64(*i);
                }
                PoolOpt::Double(d) => {
                    e.i32(2);
                    e.u64(d.to_bits());
                }
            }
        }
        e.finish(o);
        e.u32(self.last_force_op_resend_prenautilus);
        self.application_metadata.encode(e);
        self.create_time.encode(e);
        e.u32(self.pg_num_target);
        e.u32(self.pgp_num_target);
        e.u32(self.pg_num_pending);
        e.u32(0); // pg_num_dec_last_epoch_started (14.1.x)
        e.u32(0); // pg_num_dec_last_epoch_clean (14.1.x)
        e.u32(self.last_force_op_resend);
        e.u8(self.pg_autoscale_mode);
        let m = e.start(1, 1);
        let mm = &self.last_pg_merge_meta;
        mm.source_pgid.encode(e);
        e.u32(mm.ready_epoch);
        e.u32(mm.last_epoch_started);
        e.u32(mm.last_epoch_clean);
        mm.source_version.encode(e);
        mm.target_version.encode(e);
        e.finish(m);
        if let Some((count, target, barrier, member)) = self.peering_crush {
            e.u32(count);
            e.u32(target);
            e.u32(barrier);
            e.i32(member);
        }
        e.finish(s);
    }
}

impl Decode for PgPool {
    fn decode(r: &mut Reader) -> Result<Self> {
        let (v, mut b) = r.versioned(30, "pg_pool_t")?;
        if v < 29 {
            return invalid("pg_pool_t", format!("version {v} (pre-Nautilus) is not supported"));
        }
        let b = &mut b;
        let mut p = PgPool {
            ty: b.u8()?,
            size: b.u8()?,
            crush_rule: b.u8()?,
            object_hash: b.u8()?,
            pg_num: b.u32()?,
            pgp_num: b.u32()?,
            ..Default::default()
        };
        b.u32()?;
        b.u32()?;
        p.last_change = b.u32()?;
        p.snap_seq = b.u64()?;
        p.snap_epoch = b.u32()?;
        p.snaps = Decode::decode(b)?;
        p.removed_snaps = Decode::decode(b)?;
        p.auid = b.u64()?;
        p.flags = b.u64()?;
        b.u32()?;
        p.min_size = b.u8()?;
        p.quota_max_bytes = b.u64()?;
        p.quota_max_objects = b.u64()?;
        p.tiers = Decode::decode(b)?;
        p.tier_of = b.i64()?;
        p.cache_mode = b.u8()?;
        p.read_tier = b.i64()?;
        p.write_tier = b.i64()?;
        p.properties = Decode::decode(b)?;
        {
            let rest = b.peek_rest().clone();
            let before = b.remaining();
            b.skip_versioned("HitSet::Params")?;
            p.hit_set_params = rest.slice(..before - b.remaining());
        }
        p.hit_set_period = b.u32()?;
        p.hit_set_count = b.u32()?;
        p.stripe_width = b.u32()?;
        p.target_max_bytes = b.u64()?;
        p.target_max_objects = b.u64()?;
        p.cache_target_dirty_ratio_micro = b.u32()?;
        p.cache_target_full_ratio_micro = b.u32()?;
        p.cache_min_flush_age = b.u32()?;
        p.cache_min_evict_age = b.u32()?;
        p.erasure_code_profile = b.string()?;
        p.last_force_op_resend_preluminous = b.u32()?;
        p.min_read_recency_for_promote = b.i32()?;
        p.expected_num_objects = b.u64()?;
        p.cache_target_dirty_high_ratio_micro = b.u32()?;
        p.min_write_recency_for_promote = b.i32()?;
        p.use_gmt_hitset = b.bool()?;
        p.fast_read = b.bool()?;
        p.hit_set_grade_decay_rate = b.i32()?;
        p.hit_set_search_last_n = b.u32()?;
        {
            let (ov, mut o) = b.versioned(2, "pool_opts_t")?;
            let n = o.count(8)?;
            for _ in 0..n {
                let k = o.i32()?;
                let t = o.i32()?;
                let val = match t {
                    0 => PoolOpt::Str(o.string()?),
                    1 => PoolOpt::Int(if ov >= 2 { o.i64()? } else { o.i32()? as i64 }),
                    2 => PoolOpt::Double(f64::from_bits(o.u64()?)),
                    t => return invalid("pool_opts_t", format!("unknown value type {t}")),
                };
                p.opts.insert(k, val);
            }
        }
        p.last_force_op_resend_prenautilus = b.u32()?;
        p.application_metadata = Decode::decode(b)?;
        p.create_time = Utime::decode(b)?;
        p.pg_num_target = b.u32()?;
        p.pgp_num_target = b.u32()?;
        p.pg_num_pending = b.u32()?;
        b.u32()?;
        b.u32()?;
        p.last_force_op_resend = b.u32()?;
        p.pg_autoscale_mode = b.u8()?;
        {
            let (_, mut m) = b.versioned(1, "pg_merge_meta_t")?;
            p.last_pg_merge_meta = MergeMeta {
                source_pgid: PgId::decode(&mut m)?,
                ready_epoch: m.u32()?,
                last_epoch_started: m.u32()?,
                last_epoch_clean: m.u32()?,
                source_version: EVersion::decode(&mut m)?,
                target_version: EVersion::decode(&mut m)?,
            };
        }
        if v >= 30 {
            p.peering_crush = Some((b.u32()?, b.u32()?, b.u32()?, b.i32()?));
        }
        Ok(p)
    }
}

/// Pool flag names in bit order, as `get_flags_string` prints them.
pub fn flag_names(flags: u64) -> String {
    const NAMES: [&str; 18] = [
        "hashpspool", "full", "ec_overwrites", "incomplete_clones", "nodelete", "nopgchange", "nosizechange",
        "write_fadvise_dontneed", "noscrub", "nodeep-scrub", "full_quota", "nearfull", "backfillfull",
        "selfmanaged_snaps", "pool_snaps", "creating", "eio", "bulk",
    ];
    NAMES.iter().enumerate().filter(|(i, _)| flags & (1 << i) != 0).map(|(_, n)| *n).collect::<Vec<_>>().join(",")
}

impl PgPool {
    /// A few of `pg_pool_t::dump`'s keys, for tools that print pools.
    pub fn summary_json(&self, id: i64, name: &str) -> Value {
        let mut m = Map::new();
        m.insert("pool_id".into(), json!(id));
        m.insert("pool_name".into(), json!(name));
        m.insert("type".into(), json!(self.ty));
        m.insert("size".into(), json!(self.size));
        m.insert("min_size".into(), json!(self.min_size));
        m.insert("pg_num".into(), json!(self.pg_num));
        Value::Object(m)
    }
}

#[cfg(test)]
mod lineage_tests {
    use super::*;

    /// Every object of a PG lands, after a split, in the PG itself or one
    /// of the children `split_children` names, and `split_bits` tells which
    /// by the hash's low bits, for every pg_num pair (powers of two or not).
    #[test]
    fn split_children_and_bits_agree_with_stable_mod() {
        for old in 1..40u32 {
            for new in old + 1..80 {
                for h in (0..4096u32).map(|i| i.wrapping_mul(0x9e37_79b9)) {
                    let before = fold_seed(h, old);
                    let after = fold_seed(h, new);
                    assert!(after == before || split_children(before, old, new).contains(&after), "hash {h:x}: {old}->{new} moves pg {before} to {after}");
                    let bits = split_bits(after, new);
                    let mask = if bits == 32 { u32::MAX } else { (1u32 << bits) - 1 };
                    assert_eq!(h & mask, after, "hash {h:x}, pg {after} of {new}, {bits} bits");
                }
            }
        }
        // Ceph's own example: with 12 PGs, 1.5 splits off 1.d (13) from 16 up.
        assert_eq!(split_children(5, 12, 16), vec![13]);
        assert_eq!(split_children(3, 8, 32), vec![11, 19, 27]);
        // With 12 PGs, 1.3 holds the hashes ending in 0b0011 (1.b holds
        // 0b1011), and 1.5 those ending in 0b101 (0b1101 folds back to 5).
        assert_eq!(split_bits(3, 12), 4);
        assert_eq!(split_bits(5, 12), 3);
    }
}
