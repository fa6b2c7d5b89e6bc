//! Editing a CRUSH map the way the monitor's `osd crush ...` commands do
//! (`CrushWrapper::insert_item`, `remove_item`, `adjust_item_weight`,
//! `add_bucket`): new buckets are straw2 with rjenkins hashing, and every
//! ancestor's weight is the sum of its items'.

use crate::map::{Bucket, BucketAlg, BucketData, CrushMap};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EditError(pub i32, pub String);

impl CrushMap {
    pub fn type_id(&self, name: &str) -> Option<i32> {
        self.type_map.iter().find(|(_, n)| *n == name).map(|(i, _)| *i)
    }

    fn bucket_mut(&mut self, id: i32) -> Option<&mut Bucket> {
        let idx = (-1 - id) as usize;
        if id >= 0 {
            return None;
        }
        self.buckets.get_mut(idx).and_then(|b| b.as_mut())
    }

    /// A new, empty straw2 bucket; returns its id (the first free negative id).
    pub fn add_bucket(&mut self, name: &str, ty: i32) -> Result<i32, EditError> {
        if self.item_id_by_name(name).is_some() {
            return Err(EditError(-17, format!("item {name} already exists")));
        }
        let idx = self.buckets.iter().position(|b| b.is_none()).unwrap_or(self.buckets.len());
        if idx == self.buckets.len() {
            self.buckets.push(None);
        }
        let id = -1 - idx as i32;
        self.buckets[idx] = Some(Bucket { id, ty: ty as u16, alg: BucketAlg::Straw2, hash: 0, weight: 0, items: vec![], data: BucketData::Straw2 { item_weights: vec![] } });
        self.name_map.insert(id, name.to_string());
        Ok(id)
    }

    /// The bucket that holds `item`, if any.
    pub fn parent_of(&self, item: i32) -> Option<i32> {
        self.buckets.iter().flatten().find(|b| b.items.contains(&item)).map(|b| b.id)
    }

    /// Puts `item` into bucket `parent` with `weight` (16.16); only straw2 buckets.
    pub fn link(&mut self, parent: i32, item: i32, weight: u32) -> Result<(), EditError> {
        let b = self.bucket_mut(parent).ok_or_else(|| EditError(-2, format!("bucket {parent} does not exist")))?;
        let BucketData::Straw2 { item_weights } = &mut b.data else {
            return Err(EditError(-95, format!("bucket {parent} is not straw2; only straw2 buckets can be edited")));
        };
        if b.items.contains(&item) {
            return Err(EditError(-17, format!("item {item} is already in bucket {parent}")));
        }
        b.items.push(item);
        item_weights.push(weight);
        if item >= 0 && item >= self.max_devices {
            self.max_devices = item + 1;
        }
        self.reweight_all();
        Ok(())
    }

    /// Removes `item` from every bucket that holds it; returns whether it was anywhere.
    pub fn unlink_everywhere(&mut self, item: i32) -> bool {
        let mut found = false;
        for b in self.buckets.iter_mut().flatten() {
            if let Some(pos) = b.items.iter().position(|i| *i == item) {
                b.items.remove(pos);
                if let BucketData::Straw2 { item_weights } = &mut b.data {
                    item_weights.remove(pos);
                }
                found = true;
            }
        }
        if found {
            self.reweight_all();
        }
        found
    }

    /// Sets a device's weight wherever it is placed.
    pub fn set_item_weight(&mut self, item: i32, weight: u32) -> bool {
        let mut found = false;
        for b in self.buckets.iter_mut().flatten() {
            if let Some(pos) = b.items.iter().position(|i| *i == item) {
                if let BucketData::Straw2 { item_weights } = &mut b.data {
                    item_weights[pos] = weight;
                    found = true;
                }
            }
        }
        if found {
            self.reweight_all();
        }
        found
    }

    /// The weight `item` has in its parent (16.16).
    pub fn weight_of(&self, item: i32) -> Option<u32> {
        let b = self.buckets.iter().flatten().find(|b| b.items.contains(&item))?;
        let pos = b.items.iter().position(|i| *i == item)?;
        Some(b.item_weight(pos))
    }

    /// Recomputes bucket weights bottom-up: a bucket item weighs what the bucket holds.
    pub fn reweight_all(&mut self) {
        // Bucket depth is small; repeat until nothing changes.
        for _ in 0..16 {
            let totals: BTreeMap<i32, u32> = self
                .buckets
                .iter()
                .flatten()
                .map(|b| (b.id, match &b.data {
                    BucketData::Straw2 { item_weights } => item_weights.iter().fold(0u32, |a, w| a.saturating_add(*w)),
                    _ => b.weight,
                }))
                .collect();
            let mut changed = false;
            for b in self.buckets.iter_mut().flatten() {
                if let BucketData::Straw2 { item_weights } = &mut b.data {
                    for (i, it) in b.items.iter().enumerate() {
                        if *it < 0 {
                            if let Some(w) = totals.get(it) {
                                if item_weights[i] != *w {
                                    item_weights[i] = *w;
                                    changed = true;
                                }
                            }
                        }
                    }
                    let sum = item_weights.iter().fold(0u32, |a, w| a.saturating_add(*w));
                    if b.weight != sum {
                        b.weight = sum;
                        changed = true;
                    }
                }
            }
            if !changed {
                break;
            }
        }
    }

    /// Makes sure the buckets named in `loc` (type → name, e.g. host=a root=default)
    /// exist and are linked child-to-parent; returns the lowest one, where an item goes.
    pub fn ensure_location(&mut self, loc: &BTreeMap<String, String>) -> Result<i32, EditError> {
        let mut levels: Vec<(i32, String)> = Vec::new();
        for (ty, name) in loc {
            let t = self.type_id(ty).ok_or_else(|| EditError(-22, format!("unknown crush type '{ty}'")))?;
            if t == 0 {
                return Err(EditError(-22, format!("location type '{ty}' is the device type")));
            }
            levels.push((t, name.clone()));
        }
        if levels.is_empty() {
            return Err(EditError(-22, "no location given (e.g. host=NAME root=default)".into()));
        }
        levels.sort();
        let mut child: Option<i32> = None;
        let mut lowest = None;
        for (t, name) in &levels {
            let id = match self.item_id_by_name(name) {
                Some(id) if id < 0 => id,
                Some(_) => return Err(EditError(-22, format!("{name} is a device, not a bucket"))),
                None => self.add_bucket(name, *t)?,
            };
            if lowest.is_none() {
                lowest = Some(id);
            }
            if let Some(c) = child {
                if self.parent_of(c).is_none() {
                    self.link(id, c, 0)?;
                }
            }
            child = Some(id);
        }
        Ok(lowest.expect("at least one level"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_link_reweight_remove() {
        let mut m = crate::text::compile(
            "type 0 osd\ntype 1 host\ntype 11 root\nroot default {\n\tid -1\n\talg straw2\n\thash 0\n}\n\
             rule r {\n\tid 0\n\ttype replicated\n\tmin_size 1\n\tmax_size 10\n\tstep take default\n\tstep chooseleaf firstn 0 type host\n\tstep emit\n}\n",
        )
        .unwrap();
        let mut loc = BTreeMap::new();
        loc.insert("host".to_string(), "h1".to_string());
        loc.insert("root".to_string(), "default".to_string());
        let h = m.ensure_location(&loc).unwrap();
        m.name_map.insert(0, "osd.0".into());
        m.link(h, 0, 0x10000).unwrap();
        m.name_map.insert(1, "osd.1".into());
        m.link(h, 1, 0x8000).unwrap();
        assert_eq!(m.bucket(-1).unwrap().weight, 0x18000);
        assert_eq!(m.max_devices, 2);
        m.set_item_weight(1, 0x20000);
        assert_eq!(m.bucket(-1).unwrap().weight, 0x30000);
        // The edited map still maps, and to both OSDs.
        let w = vec![0x10000u32; 2];
        let mut seen = std::collections::BTreeSet::new();
        for x in 0..200 {
            let out = crate::do_rule(&m, 0, x, 3, &w, None);
            assert_eq!(out.len(), 1, "one host, so chooseleaf by host gives one OSD per pg");
            seen.extend(out);
        }
        assert_eq!(seen.len(), 2, "both OSDs in the new host take PGs");
        assert!(m.unlink_everywhere(0));
        assert_eq!(m.bucket(-1).unwrap().weight, 0x20000);
        // It round-trips through the text format.
        let t = crate::text::decompile(&m);
        assert_eq!(crate::text::compile(&t).unwrap().bucket(-2).unwrap().items, vec![1]);
    }
}
