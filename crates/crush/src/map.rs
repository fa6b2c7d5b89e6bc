//! The CRUSH map and `CrushWrapper::encode/decode` (`src/crush/CrushWrapper.cc`).

use denc::{invalid, Decode, Encode, Encoder, Reader, Result};
use std::collections::BTreeMap;

pub const CRUSH_MAGIC: u32 = 0x0001_0000;

/// Rule step ops (`crush.h`).
pub mod op {
    pub const NOOP: u32 = 0;
    pub const TAKE: u32 = 1;
    pub const CHOOSE_FIRSTN: u32 = 2;
    pub const CHOOSE_INDEP: u32 = 3;
    pub const EMIT: u32 = 4;
    pub const CHOOSELEAF_FIRSTN: u32 = 6;
    pub const CHOOSELEAF_INDEP: u32 = 7;
    pub const SET_CHOOSE_TRIES: u32 = 8;
    pub const SET_CHOOSELEAF_TRIES: u32 = 9;
    pub const SET_CHOOSE_LOCAL_TRIES: u32 = 10;
    pub const SET_CHOOSE_LOCAL_FALLBACK_TRIES: u32 = 11;
    pub const SET_CHOOSELEAF_VARY_R: u32 = 12;
    pub const SET_CHOOSELEAF_STABLE: u32 = 13;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum BucketAlg {
    Uniform = 1,
    List = 2,
    Tree = 3,
    Straw = 4,
    Straw2 = 5,
}

impl BucketAlg {
    pub fn from_u8(v: u8) -> Option<BucketAlg> {
        Some(match v {
            1 => BucketAlg::Uniform,
            2 => BucketAlg::List,
            3 => BucketAlg::Tree,
            4 => BucketAlg::Straw,
            5 => BucketAlg::Straw2,
            _ => return None,
        })
    }
    pub fn name(self) -> &'static str {
        match self {
            BucketAlg::Uniform => "uniform",
            BucketAlg::List => "list",
            BucketAlg::Tree => "tree",
            BucketAlg::Straw => "straw",
            BucketAlg::Straw2 => "straw2",
        }
    }
}

/// Per-algorithm bucket data. Weights are 16.16 fixed point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BucketData {
    Uniform { item_weight: u32 },
    List { item_weights: Vec<u32>, sum_weights: Vec<u32> },
    Tree { node_weights: Vec<u32> },
    Straw { item_weights: Vec<u32>, straws: Vec<u32> },
    Straw2 { item_weights: Vec<u32> },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bucket {
    pub id: i32,
    pub ty: u16,
    pub alg: BucketAlg,
    pub hash: u8,
    pub weight: u32,
    pub items: Vec<i32>,
    pub data: BucketData,
}

impl Bucket {
    /// The weight of item `i` (16.16), as crushtool reports it.
    pub fn item_weight(&self, i: usize) -> u32 {
        match &self.data {
            BucketData::Uniform { item_weight } => *item_weight,
            BucketData::List { item_weights, .. }
            | BucketData::Straw { item_weights, .. }
            | BucketData::Straw2 { item_weights } => item_weights.get(i).copied().unwrap_or(0),
            BucketData::Tree { node_weights } => node_weights.get(2 * i + 1).copied().unwrap_or(0),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleStep {
    pub op: u32,
    pub arg1: i32,
    pub arg2: i32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub ruleset: u8,
    pub ty: u8,
    pub min_size: u8,
    pub max_size: u8,
    pub steps: Vec<RuleStep>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tunables {
    pub choose_local_tries: u32,
    pub choose_local_fallback_tries: u32,
    pub choose_total_tries: u32,
    pub chooseleaf_descend_once: u32,
    pub chooseleaf_vary_r: u8,
    pub straw_calc_version: u8,
    pub allowed_bucket_algs: u32,
    pub chooseleaf_stable: u8,
}

impl Tunables {
    /// What a map without tunables means (`set_tunables_legacy`).
    pub const LEGACY: Tunables = Tunables {
        choose_local_tries: 2,
        choose_local_fallback_tries: 5,
        choose_total_tries: 19,
        chooseleaf_descend_once: 0,
        chooseleaf_vary_r: 0,
        straw_calc_version: 0,
        allowed_bucket_algs: (1 << 1) | (1 << 2) | (1 << 4),
        chooseleaf_stable: 0,
    };
    /// Jewel and later ("optimal" in Pacific).
    pub const JEWEL: Tunables = Tunables {
        choose_local_tries: 0,
        choose_local_fallback_tries: 0,
        choose_total_tries: 50,
        chooseleaf_descend_once: 1,
        chooseleaf_vary_r: 1,
        straw_calc_version: 1,
        allowed_bucket_algs: (1 << 1) | (1 << 2) | (1 << 3) | (1 << 4) | (1 << 5),
        chooseleaf_stable: 1,
    };
}

/// A `crush_choose_arg` for one bucket: alternative weights per position and/or ids.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChooseArg {
    pub weight_set: Vec<Vec<u32>>,
    pub ids: Vec<i32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrushMap {
    pub max_devices: i32,
    /// Indexed by `-1 - id`.
    pub buckets: Vec<Option<Bucket>>,
    pub rules: Vec<Option<Rule>>,
    pub type_map: BTreeMap<i32, String>,
    pub name_map: BTreeMap<i32, String>,
    pub rule_name_map: BTreeMap<i32, String>,
    pub tunables: Tunables,
    pub class_map: BTreeMap<i32, i32>,
    pub class_name: BTreeMap<i32, String>,
    pub class_bucket: BTreeMap<i32, BTreeMap<i32, i32>>,
    /// choose_args id (pool id, or -1 for the default set) → bucket index → arg.
    pub choose_args: BTreeMap<i64, BTreeMap<u32, ChooseArg>>,
}

impl Default for CrushMap {
    fn default() -> Self {
        CrushMap {
            max_devices: 0,
            buckets: Vec::new(),
            rules: Vec::new(),
            type_map: BTreeMap::new(),
            name_map: BTreeMap::new(),
            rule_name_map: BTreeMap::new(),
            tunables: Tunables::JEWEL,
            class_map: BTreeMap::new(),
            class_name: BTreeMap::new(),
            class_bucket: BTreeMap::new(),
            choose_args: BTreeMap::new(),
        }
    }
}

impl CrushMap {
    pub fn bucket(&self, id: i32) -> Option<&Bucket> {
        if id >= 0 {
            return None;
        }
        self.buckets.get((-1 - id) as usize).and_then(Option::as_ref)
    }

    /// `CrushWrapper::find_rule`: Pacific uses the rule id directly when that
    /// rule exists and its ruleset matches; else it scans by ruleset, type and size.
    pub fn find_rule(&self, ruleset: i32, ty: i32, size: i32) -> Option<usize> {
        for (i, r) in self.rules.iter().enumerate() {
            if let Some(r) = r {
                if r.ruleset as i32 == ruleset && r.ty as i32 == ty && r.min_size as i32 <= size && r.max_size as i32 >= size {
                    return Some(i);
                }
            }
        }
        None
    }

    /// Whether `item` is `root` or below it.
    pub fn subtree_contains(&self, root: i32, item: i32) -> bool {
        if root == item {
            return true;
        }
        // Bounded by the bucket count, so a cyclic (hostile) map ends.
        let mut todo = vec![root];
        let mut seen = 0usize;
        while let Some(b) = todo.pop() {
            seen += 1;
            if seen > self.buckets.len() + 1 {
                return false;
            }
            let Some(bucket) = self.bucket(b) else { continue };
            for &i in &bucket.items {
                if i == item {
                    return true;
                }
                if i < 0 {
                    todo.push(i);
                }
            }
        }
        false
    }

    /// Whether rule `rule` can place data on `osd` (one of its `take`
    /// steps has it below: `CrushWrapper::get_rules_by_osd`).
    pub fn rule_reaches(&self, rule: usize, osd: i32) -> bool {
        let Some(Some(r)) = self.rules.get(rule) else { return false };
        r.steps.iter().any(|s| s.op == op::TAKE && self.subtree_contains(s.arg1, osd))
    }

    pub fn rule_id_by_name(&self, name: &str) -> Option<i32> {
        self.rule_name_map.iter().find(|(_, n)| *n == name).map(|(i, _)| *i)
    }
    pub fn item_id_by_name(&self, name: &str) -> Option<i32> {
        self.name_map.iter().find(|(_, n)| *n == name).map(|(i, _)| *i)
    }
}

fn u32s(r: &mut Reader, n: usize) -> Result<Vec<u32>> {
    if n.saturating_mul(4) > r.remaining() {
        return Err(denc::Error::Truncated { need: n * 4, have: r.remaining(), what: "crush weights" });
    }
    (0..n).map(|_| r.u32()).collect()
}

impl Decode for CrushMap {
    fn decode(r: &mut Reader) -> Result<Self> {
        let magic = r.u32()?;
        if magic != CRUSH_MAGIC {
            return invalid("crush map", format!("bad magic {magic:#x}"));
        }
        let max_buckets = r.i32()?;
        let max_rules = r.u32()?;
        let max_devices = r.i32()?;
        if max_buckets < 0 || max_devices < 0 {
            return invalid("crush map", "negative bucket or device count");
        }
        let mut m = CrushMap { max_devices, ..Default::default() };
        let nb = max_buckets as usize;
        if nb.saturating_mul(4) > r.remaining() {
            return invalid("crush map", format!("{nb} buckets cannot fit"));
        }
        for i in 0..nb {
            let alg = r.u32()?;
            if alg == 0 {
                m.buckets.push(None);
                continue;
            }
            let id = r.i32()?;
            let ty = r.u16()?;
            let alg8 = r.u8()?;
            let hash = r.u8()?;
            let weight = r.u32()?;
            let size = r.u32()? as usize;
            if id != -1 - i as i32 {
                return invalid("crush map", format!("bucket at index {i} has id {id}"));
            }
            let alg = BucketAlg::from_u8(alg8).ok_or_else(|| denc::Error::Invalid { what: "crush map", detail: format!("bucket {id}: unknown algorithm {alg8}") })?;
            if size.saturating_mul(4) > r.remaining() {
                return invalid("crush map", format!("bucket {id} claims {size} items"));
            }
            let items: Vec<i32> = (0..size).map(|_| r.i32()).collect::<Result<_>>()?;
            let data = match alg {
                BucketAlg::Uniform => BucketData::Uniform { item_weight: r.u32()? },
                BucketAlg::List => {
                    let mut iw = Vec::with_capacity(size);
                    let mut sw = Vec::with_capacity(size);
                    for _ in 0..size {
                        iw.push(r.u32()?);
                        sw.push(r.u32()?);
                    }
                    BucketData::List { item_weights: iw, sum_weights: sw }
                }
                BucketAlg::Tree => {
                    let n = r.u8()? as usize;
                    BucketData::Tree { node_weights: u32s(r, n)? }
                }
                BucketAlg::Straw => {
                    let mut iw = Vec::with_capacity(size);
                    let mut st = Vec::with_capacity(size);
                    for _ in 0..size {
                        iw.push(r.u32()?);
                        st.push(r.u32()?);
                    }
                    BucketData::Straw { item_weights: iw, straws: st }
                }
                BucketAlg::Straw2 => BucketData::Straw2 { item_weights: u32s(r, size)? },
            };
            if let BucketData::Tree { node_weights } = &data {
                // tree buckets index leaves as 2*i+1; they must all exist
                if size > 0 && node_weights.len() < 2 * size {
                    return invalid("crush map", format!("tree bucket {id} has too few nodes"));
                }
            }
            m.buckets.push(Some(Bucket { id, ty, alg, hash, weight, items, data }));
        }
        if (max_rules as usize).saturating_mul(4) > r.remaining() {
            return invalid("crush map", format!("{max_rules} rules cannot fit"));
        }
        for _ in 0..max_rules {
            if r.u32()? == 0 {
                m.rules.push(None);
                continue;
            }
            let len = r.u32()? as usize;
            let ruleset = r.u8()?;
            let ty = r.u8()?;
            let min_size = r.u8()?;
            let max_size = r.u8()?;
            if len.saturating_mul(12) > r.remaining() {
                return invalid("crush map", format!("rule claims {len} steps"));
            }
            let steps = (0..len)
                .map(|_| Ok(RuleStep { op: r.u32()?, arg1: r.i32()?, arg2: r.i32()? }))
                .collect::<Result<_>>()?;
            m.rules.push(Some(Rule { ruleset, ty, min_size, max_size, steps }));
        }
        m.type_map = Decode::decode(r)?;
        m.name_map = Decode::decode(r)?;
        m.rule_name_map = Decode::decode(r)?;
        // Tunables appeared over time; absent ones keep their legacy values.
        let mut t = Tunables::LEGACY;
        if !r.is_empty() {
            t.choose_local_tries = r.u32()?;
            t.choose_local_fallback_tries = r.u32()?;
            t.choose_total_tries = r.u32()?;
        }
        if !r.is_empty() {
            t.chooseleaf_descend_once = r.u32()?;
        }
        if !r.is_empty() {
            t.chooseleaf_vary_r = r.u8()?;
        }
        if !r.is_empty() {
            t.straw_calc_version = r.u8()?;
        }
        if !r.is_empty() {
            t.allowed_bucket_algs = r.u32()?;
        }
        if !r.is_empty() {
            t.chooseleaf_stable = r.u8()?;
        }
        m.tunables = t;
        if !r.is_empty() {
            m.class_map = Decode::decode(r)?;
            m.class_name = Decode::decode(r)?;
            m.class_bucket = Decode::decode(r)?;
        }
        if !r.is_empty() {
            let n = r.count(12)?;
            for _ in 0..n {
                let id = r.i64()?;
                let nargs = r.count(12)?;
                let mut args = BTreeMap::new();
                for _ in 0..nargs {
                    let bucket_index = r.u32()?;
                    let positions = r.count(4)?;
                    let mut weight_set = Vec::with_capacity(positions);
                    for _ in 0..positions {
                        let sz = r.u32()? as usize;
                        weight_set.push(u32s(r, sz)?);
                    }
                    let nids = r.count(4)?;
                    let ids = (0..nids).map(|_| r.i32()).collect::<Result<_>>()?;
                    if bucket_index as usize >= m.buckets.len() {
                        return invalid("crush map", format!("choose_args for missing bucket index {bucket_index}"));
                    }
                    args.insert(bucket_index, ChooseArg { weight_set, ids });
                }
                m.choose_args.insert(id, args);
            }
        }
        Ok(m)
    }
}

impl Encode for CrushMap {
    fn encode(&self, e: &mut Encoder) {
        e.u32(CRUSH_MAGIC);
        e.i32(self.buckets.len() as i32);
        e.u32(self.rules.len() as u32);
        e.i32(self.max_devices);
        for b in &self.buckets {
            let Some(b) = b else {
                e.u32(0);
                continue;
            };
            e.u32(b.alg as u32);
            e.i32(b.id);
            e.u16(b.ty);
            e.u8(b.alg as u8);
            e.u8(b.hash);
            e.u32(b.weight);
            e.u32(b.items.len() as u32);
            for it in &b.items {
                e.i32(*it);
            }
            match &b.data {
                BucketData::Uniform { item_weight } => e.u32(*item_weight),
                BucketData::List { item_weights, sum_weights } => {
                    for (w, s) in item_weights.iter().zip(sum_weights) {
                        e.u32(*w);
                        e.u32(*s);
                    }
                }
                BucketData::Tree { node_weights } => {
                    e.u8(node_weights.len() as u8);
                    for w in node_weights {
                        e.u32(*w);
                    }
                }
                BucketData::Straw { item_weights, straws } => {
                    for (w, s) in item_weights.iter().zip(straws) {
                        e.u32(*w);
                        e.u32(*s);
                    }
                }
                BucketData::Straw2 { item_weights } => {
                    for w in item_weights {
                        e.u32(*w);
                    }
                }
            }
        }
        for r in &self.rules {
            let Some(r) = r else {
                e.u32(0);
                continue;
            };
            e.u32(1);
            e.u32(r.steps.len() as u32);
            e.u8(r.ruleset);
            e.u8(r.ty);
            e.u8(r.min_size);
            e.u8(r.max_size);
            for s in &r.steps {
                e.u32(s.op);
                e.i32(s.arg1);
                e.i32(s.arg2);
            }
        }
        self.type_map.encode(e);
        self.name_map.encode(e);
        self.rule_name_map.encode(e);
        let t = &self.tunables;
        e.u32(t.choose_local_tries);
        e.u32(t.choose_local_fallback_tries);
        e.u32(t.choose_total_tries);
        e.u32(t.chooseleaf_descend_once);
        e.u8(t.chooseleaf_vary_r);
        e.u8(t.straw_calc_version);
        e.u32(t.allowed_bucket_algs);
        e.u8(t.chooseleaf_stable);
        self.class_map.encode(e);
        self.class_name.encode(e);
        self.class_bucket.encode(e);
        e.u32(self.choose_args.len() as u32);
        for (id, args) in &self.choose_args {
            e.i64(*id);
            let kept: Vec<_> = args.iter().filter(|(_, a)| !(a.weight_set.is_empty() && a.ids.is_empty())).collect();
            e.u32(kept.len() as u32);
            for (idx, a) in kept {
                e.u32(*idx);
                e.u32(a.weight_set.len() as u32);
                for ws in &a.weight_set {
                    e.u32(ws.len() as u32);
                    for w in ws {
                        e.u32(*w);
                    }
                }
                e.u32(a.ids.len() as u32);
                for i in &a.ids {
                    e.i32(*i);
                }
            }
        }
    }
}
