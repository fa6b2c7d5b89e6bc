//! Self-managed snapshots at the OSD (`PrimaryLogPG::make_writeable`,
//! `find_object_context`): a write carrying a SnapContext newer than the
//! head's SnapSet first clones the head; reads at a snap id are served from
//! the clone that covers it; a head deleted while clones exist stays as a
//! whiteout that holds the SnapSet.

use bytes::Bytes;
use denc::{Encoder, Reader};
use std::collections::BTreeMap;

/// Head xattr holding the encoded [`SnapSet`] (Ceph's `SS_ATTR`).
pub const SS_ATTR: &str = "snapset";
/// Head xattr marking a whiteout: the head is gone but its clones live on.
pub const WHITEOUT_ATTR: &str = "whiteout";

pub use objectstore::NOSNAP;
pub const SNAPDIR: u64 = u64::MAX;
pub const MAXSNAP: u64 = u64::MAX - 2;

/// `SnapSet` (struct v3): the head's record of its clones.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SnapSet {
    pub seq: u64,
    /// Ascending.
    pub clones: Vec<u64>,
    /// Per clone: ranges (offset, length) it still shares with the next newer object.
    pub clone_overlap: BTreeMap<u64, Vec<(u64, u64)>>,
    pub clone_size: BTreeMap<u64, u64>,
    /// Per clone: the snaps it stands for, descending.
    pub clone_snaps: BTreeMap<u64, Vec<u64>>,
}

impl SnapSet {
    pub fn is_empty(&self) -> bool {
        self.seq == 0 && self.clones.is_empty()
    }

    pub fn encode(&self) -> Bytes {
        let mut e = Encoder::new(0);
        let s = e.start(3, 2);
        e.u64(self.seq);
        e.bool(true); // head_exists (legacy)
        e.u32(0); // snaps: empty since Octopus
        e.u32(self.clones.len() as u32);
        for c in &self.clones {
            e.u64(*c);
        }
        e.u32(self.clone_overlap.len() as u32);
        for (c, iv) in &self.clone_overlap {
            e.u64(*c);
            e.u32(iv.len() as u32);
            for (o, l) in iv {
                e.u64(*o);
                e.u64(*l);
            }
        }
        e.u32(self.clone_size.len() as u32);
        for (c, sz) in &self.clone_size {
            e.u64(*c);
            e.u64(*sz);
        }
        e.u32(self.clone_snaps.len() as u32);
        for (c, snaps) in &self.clone_snaps {
            e.u64(*c);
            e.u32(snaps.len() as u32);
            for s in snaps {
                e.u64(*s);
            }
        }
        e.finish(s);
        e.into_bytes()
    }

    pub fn decode(b: Bytes) -> denc::Result<SnapSet> {
        let mut r = Reader::new(b);
        let (v, mut r) = r.versioned(3, "SnapSet")?;
        let seq = r.u64()?;
        r.bool()?;
        let n = r.count(8)?;
        for _ in 0..n {
            r.u64()?;
        }
        let mut ss = SnapSet { seq, ..Default::default() };
        let n = r.count(8)?;
        for _ in 0..n {
            ss.clones.push(r.u64()?);
        }
        let n = r.count(12)?;
        for _ in 0..n {
            let c = r.u64()?;
            let m = r.count(16)?;
            let mut iv = Vec::with_capacity(m);
            for _ in 0..m {
                iv.push((r.u64()?, r.u64()?));
            }
            ss.clone_overlap.insert(c, iv);
        }
        let n = r.count(16)?;
        for _ in 0..n {
            let c = r.u64()?;
            ss.clone_size.insert(c, r.u64()?);
        }
        if v >= 3 {
            let n = r.count(12)?;
            for _ in 0..n {
                let c = r.u64()?;
                let m = r.count(8)?;
                let mut snaps = Vec::with_capacity(m);
                for _ in 0..m {
                    snaps.push(r.u64()?);
                }
                ss.clone_snaps.insert(c, snaps);
            }
        }
        Ok(ss)
    }

    /// Which object a read at `snap` sees: the head, a clone, or nothing (ENOENT).
    pub fn resolve(&self, snap: u64) -> Target {
        if snap > self.seq {
            return Target::Head;
        }
        match self.clones.iter().find(|c| **c >= snap) {
            Some(c) if self.clone_snaps.get(c).is_some_and(|s| s.contains(&snap)) => Target::Clone(*c),
            _ => Target::Missing,
        }
    }

    /// `obj_list_snap_response_t`: clones ascending, then the head unless it is a whiteout.
    pub fn list_snaps_reply(&self, head_size: Option<u64>) -> Result<Bytes, i32> {
        let mut e = Encoder::new(0);
        let s = e.start(2, 1);
        e.u32((self.clones.len() + head_size.is_some() as usize) as u32);
        for c in &self.clones {
            let (Some(snaps), Some(overlap), Some(size)) = (self.clone_snaps.get(c), self.clone_overlap.get(c), self.clone_size.get(c)) else {
                return Err(crate::ops::EINVAL);
            };
            let ci = e.start(1, 1);
            e.u64(*c);
            e.u32(snaps.len() as u32);
            for s in snaps.iter().rev() {
                e.u64(*s);
            }
            e.u32(overlap.len() as u32);
            for (o, l) in overlap {
                e.u64(*o);
                e.u64(*l);
            }
            e.u64(*size);
            e.finish(ci);
        }
        if let Some(size) = head_size {
            let ci = e.start(1, 1);
            e.u64(NOSNAP);
            e.u32(0);
            e.u32(0);
            e.u64(size);
            e.finish(ci);
        }
        e.u64(self.seq);
        e.finish(s);
        Ok(e.into_bytes())
    }
}

/// A head's SnapSet (empty when it has none) and whether it is a whiteout.
pub fn load(store: &objectstore::Store, coll: &str, head: &objectstore::ObjectId) -> objectstore::Result<(SnapSet, bool)> {
    let ss = match store.getattr(coll, head, SS_ATTR)? {
        Some(b) => SnapSet::decode(Bytes::from(b)).map_err(|e| objectstore::Error::Corrupt(format!("snapset: {e}")))?,
        None => SnapSet::default(),
    };
    Ok((ss, store.getattr(coll, head, WHITEOUT_ATTR)?.is_some()))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Head,
    Clone(u64),
    Missing,
}

/// `SnapContext::is_valid`: seq within range, snaps strictly descending, none above seq.
pub fn snapc_valid(seq: u64, snaps: &[u64]) -> bool {
    seq <= MAXSNAP && snaps.first().is_none_or(|s| *s <= seq) && snaps.windows(2).all(|w| w[0] > w[1]) && snaps.last().is_none_or(|s| *s > 0)
}

/// The ranges present in both lists (each a sorted list of (offset, length)).
pub fn intersect(a: &[(u64, u64)], b: &[(u64, u64)]) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    for &(ao, al) in a {
        for &(bo, bl) in b {
            let s = ao.max(bo);
            let e = (ao + al).min(bo + bl);
            if s < e {
                out.push((s, e - s));
            }
        }
    }
    out.sort_unstable();
    out
}

/// Whether `snap` is in an interval set (start → length).
pub fn in_set(set: &BTreeMap<u64, u64>, snap: u64) -> bool {
    set.range(..=snap).next_back().is_some_and(|(s, l)| snap < s + l)
}

/// Drops `removed` snaps from the SnapSet (`PrimaryLogPG::trim_object`):
/// clones left with no snaps go, returned so the caller removes them.
pub fn trim(ss: &mut SnapSet, removed: &BTreeMap<u64, u64>) -> Vec<u64> {
    let mut gone = Vec::new();
    for c in ss.clones.clone() {
        let snaps: Vec<u64> = ss.clone_snaps.get(&c).map(|v| v.iter().copied().filter(|s| !in_set(removed, *s)).collect()).unwrap_or_default();
        if !snaps.is_empty() {
            ss.clone_snaps.insert(c, snaps);
            continue;
        }
        // The next older clone now shares with the next newer object only
        // what it shared with this one too.
        let i = ss.clones.iter().position(|x| *x == c).expect("clone listed");
        if i > 0 {
            let older = ss.clones[i - 1];
            let mine = ss.clone_overlap.get(&c).cloned().unwrap_or_default();
            if let Some(o) = ss.clone_overlap.get_mut(&older) {
                *o = intersect(o, &mine);
            }
        }
        ss.clones.remove(i);
        ss.clone_overlap.remove(&c);
        ss.clone_size.remove(&c);
        ss.clone_snaps.remove(&c);
        gone.push(c);
    }
    gone
}

/// `ranges` minus `cut` (both lists of (offset, length)).
pub fn subtract(ranges: &[(u64, u64)], cut: &[(u64, u64)]) -> Vec<(u64, u64)> {
    let mut out: Vec<(u64, u64)> = ranges.to_vec();
    for &(co, cl) in cut {
        let ce = co.saturating_add(cl);
        let mut next = Vec::with_capacity(out.len() + 1);
        for (o, l) in out {
            let e = o + l;
            if ce <= o || co >= e {
                next.push((o, l));
                continue;
            }
            if co > o {
                next.push((o, co - o));
            }
            if ce < e {
                next.push((ce, e - ce));
            }
        }
        out = next;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn snapset_round_trips_and_resolves() {
        let mut ss = SnapSet { seq: 7, clones: vec![3, 6], ..Default::default() };
        ss.clone_snaps.insert(3, vec![3, 2]);
        ss.clone_snaps.insert(6, vec![6, 5]);
        ss.clone_size.insert(3, 10);
        ss.clone_size.insert(6, 20);
        ss.clone_overlap.insert(3, vec![(0, 4)]);
        ss.clone_overlap.insert(6, vec![]);
        assert_eq!(SnapSet::decode(ss.encode()).unwrap(), ss);
        assert_eq!(ss.resolve(8), Target::Head);
        assert_eq!(ss.resolve(2), Target::Clone(3));
        assert_eq!(ss.resolve(5), Target::Clone(6));
        assert_eq!(ss.resolve(4), Target::Missing);
        assert_eq!(ss.resolve(1), Target::Missing);
        assert!(snapc_valid(7, &[7, 3]) && !snapc_valid(7, &[3, 7]) && !snapc_valid(2, &[3]));
        assert_eq!(subtract(&[(0, 100)], &[(10, 10), (50, 100)]), vec![(0, 10), (20, 30)]);
        assert_eq!(intersect(&[(0, 10), (20, 10)], &[(5, 20)]), vec![(5, 5), (20, 5)]);
        // Removing snap 6 and 5 drops clone 6; removing 2 shrinks clone 3.
        let mut t = ss.clone();
        let removed: BTreeMap<u64, u64> = [(5, 2), (2, 1)].into_iter().collect();
        assert_eq!(trim(&mut t, &removed), vec![6]);
        assert_eq!(t.clones, vec![3]);
        assert_eq!(t.clone_snaps[&3], vec![3]);
        assert_eq!(t.clone_overlap[&3], Vec::<(u64, u64)>::new());
    }

    proptest! {
        #[test]
        fn hostile_snapsets_fail_cleanly(b in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = SnapSet::decode(Bytes::from(b));
        }
    }
}
