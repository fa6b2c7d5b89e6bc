//! The osdmap history this OSD keeps, and the past intervals of a PG read
//! from it.
//!
//! Ceph's OSDs keep every map epoch since the oldest one the cluster still
//! needs, and peering walks them: a primary may only go active once it has
//! heard from at least one OSD of every past interval that may have accepted
//! writes (`PastIntervals::PriorSet`). Otherwise a copy that missed writes
//! could become authoritative. An OSD keeps every epoch from the mon's
//! oldest (full maps, in the `meta` collection, with a small cache of
//! decoded ones). The mon trims up to the oldest last_epoch_clean of all PGs
//! (and keeps `mon_min_osdmap_epochs` more); we follow it, held back by the
//! oldest epoch one of our PGs may still walk ([`MapHistory::trim`]).

use bytes::Bytes;
use denc::{Decode, Encode};
use maps::OsdMap;
use objectstore::{Op, Store, Transaction};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Arc, Mutex};
use tracing::{debug, warn};
use types::features::PACIFIC_SUPPORTED;
use types::osd::PgId;

const COLL: &str = "meta";
const CACHE: usize = 128;
/// Stored maps removed per trim (Ceph removes `osd_target_transaction_size`
/// per transaction, then more with the next maps).
const TRIM_BATCH: usize = 500;

fn key(e: u32) -> String {
    format!("osdmap/{e:010}")
}

fn placement_digest(m: &OsdMap) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    m.max_osd.hash(&mut h);
    m.crush_raw.hash(&mut h);
    for s in &m.osd_state {
        (s & (maps::osdmap::OSD_EXISTS | maps::osdmap::OSD_UP)).hash(&mut h);
    }
    m.osd_weight.hash(&mut h);
    m.osd_primary_affinity.hash(&mut h);
    format!("{:?}", m.pools).hash(&mut h);
    m.pg_temp.hash(&mut h);
    m.primary_temp.hash(&mut h);
    m.pg_upmap.hash(&mut h);
    m.pg_upmap_items.hash(&mut h);
    h.finish()
}

pub struct MapHistory {
    store: Arc<Store>,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    have: BTreeSet<u32>,
    /// Per epoch, a digest of everything that places PGs (CRUSH, OSD up and
    /// in states, weights, pools, pg_temp, upmaps): walks skip the epochs
    /// that changed none of it without decoding their maps.
    placement: BTreeMap<u32, u64>,
    cache: BTreeMap<u32, Arc<OsdMap>>,
    order: VecDeque<u32>,
    /// The oldest epoch the mon still has: we want every epoch from it.
    floor: u32,
}

impl Inner {
    fn remember(&mut self, m: Arc<OsdMap>) {
        let e = m.epoch;
        if self.cache.insert(e, m).is_none() {
            self.order.push_back(e);
        }
        while self.order.len() > CACHE {
            if let Some(old) = self.order.pop_front() {
                self.cache.remove(&old);
            }
        }
    }
}

impl MapHistory {
    pub fn open(store: Arc<Store>) -> Result<MapHistory, String> {
        let mut inner = Inner { floor: 1, ..Default::default() };
        if store.collection_exists(COLL).map_err(|e| e.to_string())? {
            for (k, v) in store.scan_meta(COLL, "osdmap/").map_err(|e| e.to_string())? {
                let Some(e) = k.strip_prefix("osdmap/").and_then(|s| s.parse().ok()) else { continue };
                match OsdMap::from_bytes(Bytes::from(v)) {
                    Ok(m) => {
                        inner.have.insert(e);
                        inner.placement.insert(e, placement_digest(&m));
                    }
                    Err(err) => warn!(epoch = e, "stored osdmap does not decode (fetched again): {err}"),
                }
            }
        } else {
            let mut t = Transaction::new();
            t.push(Op::MkColl { coll: COLL.into() });
            store.apply(&t).map_err(|e| e.to_string())?;
        }
        Ok(MapHistory { store, inner: Mutex::new(inner) })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn get(&self, e: u32) -> Option<Arc<OsdMap>> {
        {
            let i = self.lock();
            if let Some(m) = i.cache.get(&e) {
                return Some(m.clone());
            }
            if !i.have.contains(&e) {
                return None;
            }
        }
        let b = self.store.get_meta(COLL, &key(e)).ok()??;
        match OsdMap::from_bytes(Bytes::from(b)) {
            Ok(m) => {
                let m = Arc::new(m);
                self.lock().remember(m.clone());
                Some(m)
            }
            Err(err) => {
                warn!(epoch = e, "stored osdmap does not decode: {err}");
                None
            }
        }
    }

    /// The stored (encoded, full) map of epoch `e`, to share with a peer.
    pub fn raw(&self, e: u32) -> Option<Bytes> {
        if !self.lock().have.contains(&e) {
            return None;
        }
        self.store.get_meta(COLL, &key(e)).ok()?.map(Bytes::from)
    }

    /// The oldest epoch we store.
    pub fn oldest(&self) -> u32 {
        self.lock().have.first().copied().unwrap_or(0)
    }

    /// Stores the epochs an MOSDMap carries: full maps as they are,
    /// incrementals applied to the epoch before (which we must have).
    pub fn absorb(&self, msg: &messages::mon::OsdMapMsg) {
        {
            let mut i = self.lock();
            if msg.oldest_map > 0 {
                i.floor = msg.oldest_map;
            }
        }
        let epochs: BTreeSet<u32> = msg.maps.keys().chain(msg.incremental_maps.keys()).copied().collect();
        let mut t = Transaction::new();
        let mut added = Vec::new();
        for e in epochs {
            if self.lock().have.contains(&e) {
                continue;
            }
            let map = if let Some(b) = msg.maps.get(&e) {
                match OsdMap::from_bytes(b.clone()) {
                    Ok(m) => Some((m, b.clone())),
                    Err(err) => {
                        warn!(epoch = e, "cannot decode osdmap: {err}");
                        None
                    }
                }
            } else {
                let (Some(prev), Some(ib)) = (self.get(e.wrapping_sub(1)), msg.incremental_maps.get(&e)) else { continue };
                let mut m = (*prev).clone();
                match maps::Incremental::from_bytes(ib.clone()).map_err(|x| x.to_string()).and_then(|inc| m.apply_incremental(&inc)) {
                    Ok(()) => {
                        let b = m.to_bytes(PACIFIC_SUPPORTED);
                        Some((m, b))
                    }
                    Err(err) => {
                        warn!(epoch = e, "cannot apply incremental osdmap: {err}");
                        None
                    }
                }
            };
            let Some((m, b)) = map else { continue };
            t.push(Op::SetMeta { coll: COLL.into(), key: key(e), value: b });
            let mut i = self.lock();
            i.have.insert(e);
            i.placement.insert(e, placement_digest(&m));
            i.remember(Arc::new(m));
            added.push(e);
        }
        if !t.ops.is_empty() {
            if let Err(err) = self.store.apply(&t) {
                warn!("cannot store osdmaps: {err}");
                let mut i = self.lock();
                for e in added {
                    i.have.remove(&e);
                    i.placement.remove(&e);
                }
            }
        }
    }

    /// Drops the stored maps older than `upto`, at most [`TRIM_BATCH`] a
    /// call (the rest go with the next maps), never the newest. Returns how
    /// many went.
    pub fn trim(&self, upto: u32) -> usize {
        let gone: Vec<u32> = {
            let i = self.lock();
            let newest = i.have.last().copied().unwrap_or(0);
            i.have.range(..upto.min(newest)).take(TRIM_BATCH).copied().collect()
        };
        if gone.is_empty() {
            return 0;
        }
        let mut t = Transaction::new();
        for e in &gone {
            t.push(Op::RmMeta { coll: COLL.into(), key: key(*e) });
        }
        if let Err(err) = self.store.apply(&t) {
            warn!("cannot trim stored osdmaps: {err}");
            return 0;
        }
        let mut i = self.lock();
        for e in &gone {
            i.have.remove(e);
            i.placement.remove(e);
            i.cache.remove(e);
        }
        let Inner { order, cache, .. } = &mut *i;
        order.retain(|e| cache.contains_key(e));
        debug!(from = gone[0], to = gone[gone.len() - 1], "trimmed stored osdmaps");
        gone.len()
    }

    /// The oldest epoch at or after the mon's oldest that we lack, up to `upto`.
    pub fn first_missing(&self, upto: u32) -> Option<u32> {
        let i = self.lock();
        let mut e = i.floor.max(1);
        if e > upto {
            return None;
        }
        for h in i.have.range(e..=upto) {
            if *h != e {
                return Some(e);
            }
            e += 1;
        }
        (e <= upto).then_some(e)
    }

    /// The intervals of `pg` before the one `now` is in that end at or
    /// after `since` (newest first), and the current interval's first
    /// epoch. Err(epoch) names a map we lack.
    pub fn past_intervals(&self, pg: PgId, now: u32, since: u32) -> Result<(Vec<Interval>, u32), u32> {
        self.walk(pg, now, since).map(|w| (w.intervals, w.current_first))
    }

    fn walk(&self, pg: PgId, now: u32, since: u32) -> Result<Walk, u32> {
        // The walk goes down one epoch at a time: an epoch that placed PGs
        // as the one after it did maps this PG the same (only the newest
        // epoch of an interval needs its own map, for up_thru).
        let mut next: Option<(u32, u64, Option<View>)> = None;
        past_intervals(now, since, |e| {
            let digest = {
                let i = self.lock();
                match i.placement.get(&e) {
                    Some(d) => *d,
                    // Older than the mon's oldest: gone for good.
                    None if e < i.floor => return Err(TRIMMED),
                    None => return Err(e),
                }
            };
            if let Some((ne, nd, v)) = &mut next {
                if *ne == e + 1 && *nd == digest {
                    *ne = e;
                    return Ok(v.clone());
                }
            }
            let m = self.get(e).ok_or(e)?;
            let v = view(&m, pg);
            next = Some((e, digest, v.clone()));
            Ok(v)
        })
    }

    /// The first epoch of the interval `pg` is in at `now` (Ceph's
    /// `same_interval_since`), the same on every OSD that has the maps.
    /// `activated`: the epoch our copy last went active in (its
    /// last_epoch_started), given only when we are in the PG's up or acting
    /// set. When the interval reaches back past the maps we kept, that names
    /// it: an OSD of the PG trims past its copy's activation epoch only while
    /// the copy is active in that interval (see the PG's map_need), and the
    /// mon trims no further than the PG's last clean epoch, where every
    /// member's copy went active in the interval it was in.
    pub fn interval_start(&self, pg: PgId, now: u32, activated: Option<u32>) -> Option<u32> {
        let w = self.walk(pg, now, now).ok()?;
        Some(match activated {
            Some(a) if w.trimmed && a > 0 && a <= w.current_first => a,
            _ => w.current_first,
        })
    }
}

/// The answer a map-history closure gives for an epoch whose map is gone
/// for good (trimmed; no map has epoch 0).
pub const TRIMMED: u32 = 0;

#[derive(Debug, PartialEq)]
pub struct Walk {
    /// Past intervals, newest first.
    pub intervals: Vec<Interval>,
    /// The current interval's first epoch (as far as the maps go).
    pub current_first: u32,
    /// The walk ended at trimmed maps, in the current interval or in the
    /// oldest one of `intervals` (which is then cut short, and counted as
    /// one that may have accepted writes).
    pub trimmed: bool,
}

/// What one epoch's map says about a PG.
#[derive(Debug, Clone, PartialEq)]
pub struct View {
    pub up: Vec<i32>,
    pub acting: Vec<i32>,
    pub primary: i32,
    pub size: usize,
    pub min_size: usize,
    /// The primary's (up_from, up_thru) in this map.
    pub primary_alive: (u32, u32),
    /// The PG this map has for ours: itself, or before it split off, its
    /// parent (whose history a split child inherits, as in Ceph).
    pub seed: u32,
    /// How many PGs split off it so far: a split starts an interval.
    pub family: u32,
}

/// How many PGs below `pg_num` split off `seed` directly: `seed + 2^k`
/// for each power of two above it (a PG's parent is itself less its
/// highest bit). The count changes exactly when `pg_t::is_split` holds.
pub fn children_below(seed: u32, pg_num: u32) -> u32 {
    let room = (pg_num as u64).saturating_sub(seed as u64 + 1);
    let first = 1u64 << (32 - seed.leading_zeros());
    if room < first {
        return 0;
    }
    (63 - room.leading_zeros()) - first.trailing_zeros() + 1
}

pub fn view(m: &OsdMap, pg: PgId) -> Option<View> {
    let pool = m.pools.get(&(pg.pool as i64))?;
    let seed = maps::pool::fold_seed(pg.seed, pool.pg_num);
    let pg = PgId { pool: pg.pool, seed };
    let mp = m.pg_to_up_acting(pg);
    let p = mp.acting_primary;
    let primary_alive = if p >= 0 { m.osd.osd_info.get(p as usize).map(|i| (i.up_from, i.up_thru)).unwrap_or((0, 0)) } else { (0, 0) };
    Some(View { up: mp.up, acting: mp.acting, primary: p, size: pool.size as usize, min_size: pool.min_size as usize, primary_alive, seed, family: children_below(seed, pool.pg_num) })
}

#[derive(Debug, Clone, PartialEq)]
pub struct Interval {
    pub first: u32,
    pub last: u32,
    pub acting: Vec<i32>,
    pub primary: i32,
    /// The primary was recorded alive in it with enough OSDs to serve
    /// writes (Ceph's `maybe_went_rw`).
    pub maybe_went_rw: bool,
}

/// Same interval (Ceph's `is_new_interval`, for what we track): same up
/// and acting sets, primary and pool sizes, and no split.
fn same(a: &View, b: &View) -> bool {
    a.up == b.up && a.acting == b.acting && a.primary == b.primary && a.size == b.size && a.min_size == b.min_size && a.seed == b.seed && a.family == b.family
}

/// Walks epochs down from `now` (see [`MapHistory::past_intervals`]); an
/// epoch whose map has no such PG ends the walk (the PG did not exist), as
/// does one whose map is gone for good (`Err(TRIMMED)`).
pub fn past_intervals(now: u32, since: u32, mut at: impl FnMut(u32) -> Result<Option<View>, u32>) -> Result<Walk, u32> {
    let Some(cur) = at(now)? else { return Ok(Walk { intervals: vec![], current_first: now, trimmed: false }) };
    let mut out = Vec::new();
    let mut current_first = now;
    let mut run: Option<(View, u32, View)> = None;
    let mut e = now;
    let mut trimmed = false;
    while e > 1 {
        let prev = e - 1;
        let v = match at(prev) {
            Ok(Some(v)) => v,
            Ok(None) => break,
            Err(TRIMMED) => {
                trimmed = true;
                break;
            }
            Err(x) => return Err(x),
        };
        // `run`: the interval being walked, its view and its last epoch
        // (with that epoch's view).
        run = match run.take() {
            None if same(&v, &cur) => {
                current_first = prev;
                None
            }
            Some(r) if same(&v, &r.0) => Some(r),
            done => {
                if let Some((rv, last, lastv)) = done {
                    out.push(close(rv, e, last, &lastv));
                }
                Some((v.clone(), prev, v))
            }
        };
        if run.as_ref().is_some_and(|(_, last, _)| *last < since) {
            run = None;
            break;
        }
        e = prev;
    }
    if let Some((rv, last, lastv)) = run {
        let mut iv = close(rv, e, last, &lastv);
        // Its start is gone with the maps: it may have gone active then.
        iv.maybe_went_rw |= trimmed;
        out.push(iv);
    }
    Ok(Walk { intervals: out, current_first, trimmed })
}

fn close(v: View, first: u32, last: u32, lastv: &View) -> Interval {
    let n = v.acting.iter().filter(|o| **o >= 0).count();
    let (up_from, up_thru) = lastv.primary_alive;
    let maybe_went_rw = v.primary >= 0 && n >= v.min_size.max(1) && up_thru >= first && up_from <= first;
    Interval { first, last, acting: v.acting, primary: v.primary, maybe_went_rw }
}

/// Whom peering must hear from, and whether it can (`PriorSet`).
#[derive(Debug, Default, PartialEq)]
pub struct Prior {
    /// Up OSDs of intervals that may have gone read-write.
    pub probe: BTreeSet<i32>,
    /// Down, not lost, OSDs an interval's writes may live only on.
    pub blocked_by: BTreeSet<i32>,
    /// Some interval that may have gone read-write has none of its OSDs up.
    pub pg_down: bool,
}

/// [`prior`] with what `map` says of each OSD.
pub fn prior_in(map: &OsdMap, intervals: &[Interval]) -> Prior {
    prior(intervals, |o| map.is_up(o), |o| map.exists(o).then(|| map.osd.osd_info.get(o as usize).map(|i| i.lost_at).unwrap_or(0)))
}

/// `is_up(o)`, `lost_at(o)` (None: the OSD no longer exists) from the current map.
pub fn prior(intervals: &[Interval], is_up: impl Fn(i32) -> bool, lost_at: impl Fn(i32) -> Option<u32>) -> Prior {
    let mut p = Prior::default();
    for i in intervals.iter().filter(|i| i.maybe_went_rw) {
        let mut up_now = false;
        let mut down = BTreeSet::new();
        for &o in i.acting.iter().filter(|o| **o >= 0) {
            if is_up(o) {
                p.probe.insert(o);
                up_now = true;
            } else if let Some(lost) = lost_at(o) {
                if lost <= i.first {
                    down.insert(o);
                }
            }
        }
        if !up_now && !down.is_empty() {
            p.pg_down = true;
            p.blocked_by.extend(down);
        }
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(acting: &[i32], thru: u32) -> View {
        View { up: acting.to_vec(), acting: acting.to_vec(), primary: acting.first().copied().unwrap_or(-1), size: 2, min_size: 1, primary_alive: (1, thru), seed: 0, family: 0 }
    }

    /// Epoch → view, from a list of (first epoch, acting, primary's up_thru).
    fn timeline<'a>(steps: &'a [(u32, &'a [i32], u32)]) -> impl FnMut(u32) -> Result<Option<View>, u32> + 'a {
        move |e| Ok(steps.iter().rev().find(|(f, _, _)| *f <= e).map(|(_, a, t)| v(a, *t)))
    }

    /// A real cluster's map (osdmaptool's golden bytes) as epochs `range`.
    fn maps(range: std::ops::RangeInclusive<u32>) -> BTreeMap<u32, Bytes> {
        let golden = include_bytes!("../../../tests/golden/osdmap/cluster-full-32.osdmap");
        let base = OsdMap::from_bytes(Bytes::from_static(golden)).unwrap();
        range
            .map(|e| {
                let mut m = base.clone();
                m.epoch = e;
                (e, m.to_bytes(PACIFIC_SUPPORTED))
            })
            .collect()
    }

    #[test]
    fn trimmed_maps_leave_the_store_and_the_newest_stays() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(dir.path(), true).unwrap());
        let h = MapHistory::open(store.clone()).unwrap();
        let msg = |range, oldest| messages::mon::OsdMapMsg { maps: maps(range), oldest_map: oldest, newest_map: 10, ..Default::default() };
        h.absorb(&msg(1..=10, 1));
        assert_eq!(h.first_missing(10), None);
        assert_eq!(h.trim(6), 5);
        assert!(h.get(5).is_none() && h.get(6).is_some_and(|m| m.epoch == 6));
        // Gone from the store, not just the cache.
        drop(h);
        let h = MapHistory::open(store.clone()).unwrap();
        assert!(h.get(1).is_none() && h.get(6).is_some());
        // The newest map is never trimmed, even past the mon's oldest.
        assert_eq!(h.trim(100), 4);
        assert!(h.get(10).is_some() && h.get(9).is_none());
        assert_eq!(h.trim(100), 0);
        // Once the mon's oldest is past them, trimmed epochs are not wanted again.
        h.absorb(&msg(11..=11, 10));
        assert_eq!(h.first_missing(11), None);
    }

    /// A split starts an interval for the parent (Ceph's is_new_interval
    /// checks is_split), and a child's history before it was born is its
    /// parent's, with its birth as one more boundary; PGs that did not
    /// split go on in their interval.
    #[test]
    fn a_split_starts_an_interval_and_children_inherit_the_parents_history() {
        let golden = include_bytes!("../../../tests/golden/osdmap/cluster-full-32.osdmap");
        let base = OsdMap::from_bytes(Bytes::from_static(golden)).unwrap();
        let (pool, _) = base.pools.iter().next().map(|(k, v)| (*k, v.clone())).unwrap();
        // e1-4: pg_num 8; e5-6: 12 (1.0-1.3 split); e7-: 16 (1.4-1.7 split).
        let at = |e: u32| {
            let mut m = base.clone();
            m.epoch = e;
            let p = m.pools.get_mut(&pool).unwrap();
            p.pg_num = if e < 5 { 8 } else if e < 7 { 12 } else { 16 };
            p.pgp_num = 8;
            m
        };
        let walk = |seed: u32| past_intervals(9, 1, |e| Ok(view(&at(e), PgId { pool: pool as u64, seed }))).unwrap();
        let firsts = |w: &Walk| (w.current_first, w.intervals.iter().map(|i| i.first).collect::<Vec<_>>());
        // 1.3 splits at e5 (off 1.b) and not at e7 (1.13 is past 16).
        assert_eq!(firsts(&walk(3)), (5, vec![1]));
        // 1.5 splits at e7 only (off 1.d).
        assert_eq!(firsts(&walk(5)), (7, vec![1]));
        // 1.d is born at e7 out of 1.5: before that, 1.5's single interval.
        assert_eq!(firsts(&walk(13)), (7, vec![1]));
        // 1.9, born at e5 out of 1.1: one interval of its own since, then 1.1's.
        assert_eq!(firsts(&walk(9)), (5, vec![1]));
        // Children map where their parent did (pgp_num stayed 8).
        assert_eq!(view(&at(9), PgId { pool: pool as u64, seed: 9 }).unwrap().acting, view(&at(9), PgId { pool: pool as u64, seed: 1 }).unwrap().acting);
        // Against pg_t::is_split, for every seed and pg_num pair.
        for old in 1..70u32 {
            for new in old + 1..140 {
                for seed in 0..old {
                    let split = !maps::pool::split_children(seed, old, new).is_empty();
                    assert_eq!(children_below(seed, old) != children_below(seed, new), split, "seed {seed}, {old} -> {new}");
                }
            }
        }
    }

    #[test]
    fn intervals_walk_back_to_since_with_rw_from_up_thru() {
        // e1-4 [0,1] (alive at 1), e5-7 [0] (alive at 6), e8-9 [1] (never alive), e10- [1,2]
        let steps: &[(u32, &[i32], u32)] = &[(1, &[0, 1], 1), (5, &[0], 6), (8, &[1], 1), (10, &[1, 2], 10)];
        let w = past_intervals(12, 1, timeline(steps)).unwrap();
        let (iv, first) = (w.intervals, w.current_first);
        assert_eq!(first, 10);
        let got: Vec<(u32, u32, Vec<i32>, bool)> = iv.iter().map(|i| (i.first, i.last, i.acting.clone(), i.maybe_went_rw)).collect();
        assert_eq!(got, vec![(8, 9, vec![1], false), (5, 7, vec![0], true), (1, 4, vec![0, 1], true)]);
        // Intervals that ended before `since` are left out.
        let iv = past_intervals(12, 6, timeline(steps)).unwrap().intervals;
        assert_eq!(iv.iter().map(|i| i.first).collect::<Vec<_>>(), vec![8, 5]);
        // A missing map is reported.
        assert_eq!(past_intervals(12, 1, |e| if e == 6 { Err(6) } else { timeline(steps)(e) }), Err(6));
        // Maps trimmed below 7: the walk ends there; the interval it was
        // in is cut short and may have accepted writes.
        let w = past_intervals(12, 1, |e| if e < 7 { Err(TRIMMED) } else { timeline(steps)(e) }).unwrap();
        assert!(w.trimmed);
        assert_eq!(w.intervals.iter().map(|i| (i.first, i.last, i.maybe_went_rw)).collect::<Vec<_>>(), vec![(8, 9, false), (7, 7, true)]);
        // Trimmed inside the current interval: it began at or before 11.
        let w = past_intervals(12, 12, |e| if e < 11 { Err(TRIMMED) } else { timeline(steps)(e) }).unwrap();
        assert_eq!((w.current_first, w.trimmed, w.intervals.len()), (11, true, 0));
    }

    #[test]
    fn a_pg_whose_only_rw_copy_is_down_is_down_until_that_osd_is_lost() {
        let iv = vec![
            Interval { first: 5, last: 7, acting: vec![0], primary: 0, maybe_went_rw: true },
            Interval { first: 1, last: 4, acting: vec![0, 1], primary: 0, maybe_went_rw: true },
        ];
        // osd.0 down, not lost: blocked by it.
        let p = prior(&iv, |o| o == 1, |_| Some(0));
        assert!(p.pg_down);
        assert_eq!(p.blocked_by, [0].into_iter().collect());
        assert_eq!(p.probe, [1].into_iter().collect());
        // Marked lost after those intervals: peering goes on without it.
        let p = prior(&iv, |o| o == 1, |o| Some(if o == 0 { 9 } else { 0 }));
        assert!(!p.pg_down);
        // osd.0 up again: probed.
        let p = prior(&iv, |_| true, |_| Some(0));
        assert!(!p.pg_down && p.probe.contains(&0));
        // An interval that never went read-write blocks nothing.
        let ro = vec![Interval { maybe_went_rw: false, ..iv[0].clone() }];
        assert!(!prior(&ro, |_| false, |_| Some(0)).pg_down);
    }
}
