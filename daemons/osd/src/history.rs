//! The osdmap history this OSD keeps, and the past intervals of a PG read
//! from it.
//!
//! Ceph's OSDs keep every map epoch since the oldest one the cluster still
//! needs, and peering walks them: a primary may only go active once it has
//! heard from at least one OSD of every past interval that may have accepted
//! writes (`PastIntervals::PriorSet`). Otherwise a copy that missed writes
//! could become authoritative. Our mon never trims osdmaps, so an OSD keeps
//! every epoch from the mon's oldest: full maps, in the `meta` collection,
//! with a small cache of decoded ones.

use bytes::Bytes;
use denc::{Decode, Encode};
use maps::OsdMap;
use objectstore::{Op, Store, Transaction};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Arc, Mutex};
use tracing::warn;
use types::features::PACIFIC_SUPPORTED;
use types::osd::PgId;

const COLL: &str = "meta";
const CACHE: usize = 128;

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
        // The walk goes down one epoch at a time: an epoch that placed PGs
        // as the one after it did maps this PG the same (only the newest
        // epoch of an interval needs its own map, for up_thru).
        let mut next: Option<(u32, u64, Option<View>)> = None;
        past_intervals(now, since, |e| {
            let digest = self.lock().placement.get(&e).copied().ok_or(e)?;
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
    pub fn interval_start(&self, pg: PgId, now: u32) -> Option<u32> {
        self.past_intervals(pg, now, now).ok().map(|(_, first)| first)
    }
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
}

pub fn view(m: &OsdMap, pg: PgId) -> Option<View> {
    let pool = m.pools.get(&(pg.pool as i64))?;
    if pg.seed >= pool.pg_num {
        return None;
    }
    let mp = m.pg_to_up_acting(pg);
    let p = mp.acting_primary;
    let primary_alive = if p >= 0 { m.osd.osd_info.get(p as usize).map(|i| (i.up_from, i.up_thru)).unwrap_or((0, 0)) } else { (0, 0) };
    Some(View { up: mp.up, acting: mp.acting, primary: p, size: pool.size as usize, min_size: pool.min_size as usize, primary_alive })
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
/// and acting sets, primary and pool sizes.
fn same(a: &View, b: &View) -> bool {
    a.up == b.up && a.acting == b.acting && a.primary == b.primary && a.size == b.size && a.min_size == b.min_size
}

/// Walks epochs down from `now` (see [`MapHistory::past_intervals`]); an
/// epoch whose map has no such PG ends the walk (the PG did not exist).
pub fn past_intervals(now: u32, since: u32, mut at: impl FnMut(u32) -> Result<Option<View>, u32>) -> Result<(Vec<Interval>, u32), u32> {
    let Some(cur) = at(now)? else { return Ok((vec![], now)) };
    let mut out = Vec::new();
    let mut current_first = now;
    let mut run: Option<(View, u32, View)> = None;
    let mut e = now;
    while e > 1 {
        let prev = e - 1;
        let Some(v) = at(prev)? else { break };
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
        out.push(close(rv, e, last, &lastv));
    }
    Ok((out, current_first))
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
        View { up: acting.to_vec(), acting: acting.to_vec(), primary: acting.first().copied().unwrap_or(-1), size: 2, min_size: 1, primary_alive: (1, thru) }
    }

    /// Epoch → view, from a list of (first epoch, acting, primary's up_thru).
    fn timeline<'a>(steps: &'a [(u32, &'a [i32], u32)]) -> impl FnMut(u32) -> Result<Option<View>, u32> + 'a {
        move |e| Ok(steps.iter().rev().find(|(f, _, _)| *f <= e).map(|(_, a, t)| v(a, *t)))
    }

    #[test]
    fn intervals_walk_back_to_since_with_rw_from_up_thru() {
        // e1-4 [0,1] (alive at 1), e5-7 [0] (alive at 6), e8-9 [1] (never alive), e10- [1,2]
        let steps: &[(u32, &[i32], u32)] = &[(1, &[0, 1], 1), (5, &[0], 6), (8, &[1], 1), (10, &[1, 2], 10)];
        let (iv, first) = past_intervals(12, 1, timeline(steps)).unwrap();
        assert_eq!(first, 10);
        let got: Vec<(u32, u32, Vec<i32>, bool)> = iv.iter().map(|i| (i.first, i.last, i.acting.clone(), i.maybe_went_rw)).collect();
        assert_eq!(got, vec![(8, 9, vec![1], false), (5, 7, vec![0], true), (1, 4, vec![0, 1], true)]);
        // Intervals that ended before `since` are left out.
        let (iv, _) = past_intervals(12, 6, timeline(steps)).unwrap();
        assert_eq!(iv.iter().map(|i| i.first).collect::<Vec<_>>(), vec![8, 5]);
        // A missing map is reported.
        assert_eq!(past_intervals(12, 1, |e| if e == 6 { Err(6) } else { timeline(steps)(e) }), Err(6));
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
