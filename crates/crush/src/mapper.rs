//! `crush_do_rule` and the choose functions (`src/crush/mapper.c`), kept
//! structurally identical to Ceph's so results match bit for bit.

use crate::hash::{hash2, hash3, hash4};
use crate::ln::crush_ln;
use crate::map::{op, Bucket, BucketAlg, BucketData, ChooseArg, CrushMap};
use std::collections::BTreeMap;

pub const ITEM_UNDEF: i32 = 0x7fff_fffe;
pub const ITEM_NONE: i32 = 0x7fff_ffff;

/// Per-call scratch state of uniform buckets' permutations (`crush_work_bucket`).
#[derive(Clone, Default)]
struct Perm {
    x: u32,
    n: u32,
    perm: Vec<u32>,
}

struct Work {
    perms: Vec<Perm>,
}

fn perm_choose(b: &Bucket, w: &mut Perm, x: i32, r: i32) -> i32 {
    let size = b.items.len() as u32;
    let pr = (r as u32) % size;
    if w.perm.len() != size as usize {
        w.perm = vec![0; size as usize];
    }
    let s;
    if w.x != x as u32 || w.n == 0 {
        w.x = x as u32;
        if pr == 0 {
            s = hash3(x as u32, b.id as u32, 0) % size;
            w.perm[0] = s;
            w.n = 0xffff;
            return b.items[s as usize];
        }
        for i in 0..size {
            w.perm[i as usize] = i;
        }
        w.n = 0;
    } else if w.n == 0xffff {
        for i in 1..size {
            w.perm[i as usize] = i;
        }
        let p0 = w.perm[0] as usize;
        w.perm[p0] = 0;
        w.n = 1;
    }
    while w.n <= pr {
        let p = w.n;
        if p < size - 1 {
            let i = hash3(x as u32, b.id as u32, p) % (size - p);
            if i != 0 {
                w.perm.swap((p + i) as usize, p as usize);
            }
        }
        w.n += 1;
    }
    s = w.perm[pr as usize];
    b.items[s as usize]
}

fn list_choose(b: &Bucket, item_weights: &[u32], sum_weights: &[u32], x: i32, r: i32) -> i32 {
    for i in (0..b.items.len()).rev() {
        let mut w = hash4(x as u32, b.items[i] as u32, r as u32, b.id as u32) as u64;
        w &= 0xffff;
        w *= sum_weights[i] as u64;
        w >>= 16;
        if w < item_weights[i] as u64 {
            return b.items[i];
        }
    }
    b.items[0]
}

fn tree_choose(b: &Bucket, node_weights: &[u32], x: i32, r: i32) -> i32 {
    fn height(mut n: i32) -> i32 {
        let mut h = 0;
        while n & 1 == 0 {
            h += 1;
            n >>= 1;
        }
        h
    }
    let num_nodes = node_weights.len() as i32;
    let mut n = num_nodes >> 1;
    while n & 1 == 0 {
        let w = node_weights.get(n as usize).copied().unwrap_or(0);
        let t = ((hash4(x as u32, n as u32, r as u32, b.id as u32) as u64) * w as u64) >> 32;
        let h = height(n);
        let l = n - (1 << (h - 1));
        if t < node_weights.get(l as usize).copied().unwrap_or(0) as u64 {
            n = l;
        } else {
            n += 1 << (h - 1);
        }
        if n < 0 || n >= num_nodes {
            return b.items[0];
        }
    }
    b.items.get((n >> 1) as usize).copied().unwrap_or(b.items[0])
}

fn straw_choose(b: &Bucket, straws: &[u32], x: i32, r: i32) -> i32 {
    let mut high = 0;
    let mut high_draw = 0u64;
    for (i, item) in b.items.iter().enumerate() {
        let mut draw = (hash3(x as u32, *item as u32, r as u32) & 0xffff) as u64;
        draw *= straws[i] as u64;
        if i == 0 || draw > high_draw {
            high = i;
            high_draw = draw;
        }
    }
    b.items[high]
}

fn straw2_choose(b: &Bucket, item_weights: &[u32], x: i32, r: i32, arg: Option<&ChooseArg>, position: usize) -> i32 {
    let weights: &[u32] = match arg {
        Some(a) if !a.weight_set.is_empty() => {
            let p = position.min(a.weight_set.len() - 1);
            &a.weight_set[p]
        }
        _ => item_weights,
    };
    let ids: &[i32] = match arg {
        Some(a) if !a.ids.is_empty() => &a.ids,
        _ => &b.items,
    };
    let mut high = 0;
    let mut high_draw = 0i64;
    for i in 0..b.items.len() {
        let w = weights.get(i).copied().unwrap_or(0);
        let draw = if w != 0 {
            let id = ids.get(i).copied().unwrap_or(b.items[i]);
            let u = hash3(x as u32, id as u32, r as u32) & 0xffff;
            let ln = crush_ln(u) as i64 - 0x1_0000_0000_0000i64;
            ln / w as i64
        } else {
            i64::MIN
        };
        if i == 0 || draw > high_draw {
            high = i;
            high_draw = draw;
        }
    }
    b.items[high]
}

struct Ctx<'a> {
    map: &'a CrushMap,
    weight: &'a [u32],
    choose_args: Option<&'a BTreeMap<u32, ChooseArg>>,
}

impl Ctx<'_> {
    fn bucket(&self, item: i32) -> Option<&Bucket> {
        self.map.bucket(item)
    }
    fn arg(&self, b: &Bucket) -> Option<&ChooseArg> {
        self.choose_args.and_then(|a| a.get(&((-1 - b.id) as u32)))
    }

    fn bucket_choose(&self, b: &Bucket, work: &mut Work, x: i32, r: i32, position: usize) -> i32 {
        match &b.data {
            BucketData::Uniform { .. } => perm_choose(b, &mut work.perms[(-1 - b.id) as usize], x, r),
            BucketData::List { item_weights, sum_weights } => list_choose(b, item_weights, sum_weights, x, r),
            BucketData::Tree { node_weights } => tree_choose(b, node_weights, x, r),
            BucketData::Straw { straws, .. } => straw_choose(b, straws, x, r),
            BucketData::Straw2 { item_weights } => straw2_choose(b, item_weights, x, r, self.arg(b), position),
        }
    }

    fn is_out(&self, item: i32, x: i32) -> bool {
        if item as usize >= self.weight.len() {
            return true;
        }
        let w = self.weight[item as usize];
        if w >= 0x10000 {
            return false;
        }
        if w == 0 {
            return true;
        }
        (hash2(x as u32, item as u32) & 0xffff) >= w
    }

    fn item_type(&self, item: i32) -> Option<i32> {
        if item < 0 {
            self.bucket(item).map(|b| b.ty as i32)
        } else {
            Some(0)
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn choose_firstn(
        &self,
        work: &mut Work,
        bucket: &Bucket,
        x: i32,
        numrep: i32,
        ty: i32,
        out: &mut [i32],
        mut outpos: usize,
        out_size: usize,
        tries: u32,
        recurse_tries: u32,
        local_retries: u32,
        local_fallback_retries: u32,
        recurse_to_leaf: bool,
        vary_r: u32,
        stable: u32,
        mut out2: Option<&mut [i32]>,
        parent_r: i32,
    ) -> usize {
        let mut count = out_size as i64;
        let start = if stable != 0 { 0 } else { outpos as i32 };
        let mut rep = start;
        while rep < numrep && count > 0 {
            let mut ftotal: u32 = 0;
            let mut skip_rep = false;
            let mut item = 0;
            loop {
                // retry_descent
                let mut retry_descent = false;
                let mut inb = bucket;
                let mut flocal: u32 = 0;
                loop {
                    // retry_bucket
                    let mut collide = false;
                    let mut retry_bucket = false;
                    let r = rep + parent_r + ftotal as i32;
                    let reject;
                    if inb.items.is_empty() {
                        reject = true;
                    } else {
                        item = if local_fallback_retries > 0
                            && flocal >= (inb.items.len() as u32 >> 1)
                            && flocal > local_fallback_retries
                        {
                            perm_choose(inb, &mut work.perms[(-1 - inb.id) as usize], x, r)
                        } else {
                            self.bucket_choose(inb, work, x, r, outpos)
                        };
                        if item >= self.map.max_devices {
                            skip_rep = true;
                            break;
                        }
                        let Some(itemtype) = self.item_type(item) else {
                            skip_rep = true;
                            break;
                        };
                        if itemtype != ty {
                            match self.bucket(item) {
                                Some(b) if item < 0 => {
                                    inb = b;
                                    continue;
                                }
                                _ => {
                                    skip_rep = true;
                                    break;
                                }
                            }
                        }
                        collide = out[..outpos].contains(&item);
                        let mut rj = false;
                        if !collide && recurse_to_leaf {
                            if item < 0 {
                                let sub_r = if vary_r != 0 { r >> (vary_r - 1) } else { 0 };
                                let sub = self.bucket(item).expect("checked above");
                                let o2 = out2.as_deref_mut().expect("leaf output");
                                let got = self.choose_firstn(
                                    work,
                                    sub,
                                    x,
                                    if stable != 0 { 1 } else { outpos as i32 + 1 },
                                    0,
                                    o2,
                                    outpos,
                                    count as usize,
                                    recurse_tries,
                                    0,
                                    local_retries,
                                    local_fallback_retries,
                                    false,
                                    vary_r,
                                    stable,
                                    None,
                                    sub_r,
                                );
                                if got <= outpos {
                                    rj = true;
                                }
                            } else if let Some(o2) = out2.as_deref_mut() {
                                o2[outpos] = item;
                            }
                        }
                        if !rj && !collide && itemtype == 0 {
                            rj = self.is_out(item, x);
                        }
                        reject = rj;
                    }
                    if reject || collide {
                        ftotal += 1;
                        flocal += 1;
                        if collide && flocal <= local_retries {
                            retry_bucket = true;
                        } else if local_fallback_retries > 0 && flocal <= inb.items.len() as u32 + local_fallback_retries {
                            retry_bucket = true;
                        } else if ftotal < tries {
                            retry_descent = true;
                        } else {
                            skip_rep = true;
                        }
                    }
                    if !retry_bucket {
                        break;
                    }
                }
                if !retry_descent {
                    break;
                }
            }
            if !skip_rep {
                out[outpos] = item;
                outpos += 1;
                count -= 1;
            }
            rep += 1;
        }
        outpos
    }

    #[allow(clippy::too_many_arguments)]
    fn choose_indep(
        &self,
        work: &mut Work,
        bucket: &Bucket,
        x: i32,
        mut left: i32,
        numrep: i32,
        ty: i32,
        out: &mut [i32],
        outpos: usize,
        tries: u32,
        recurse_tries: u32,
        recurse_to_leaf: bool,
        mut out2: Option<&mut [i32]>,
        parent_r: i32,
    ) {
        let endpos = outpos + left.max(0) as usize;
        for rep in outpos..endpos {
            out[rep] = ITEM_UNDEF;
            if let Some(o2) = out2.as_deref_mut() {
                o2[rep] = ITEM_UNDEF;
            }
        }
        let mut ftotal: u32 = 0;
        while left > 0 && ftotal < tries {
            for rep in outpos..endpos {
                if out[rep] != ITEM_UNDEF {
                    continue;
                }
                let mut inb = bucket;
                loop {
                    let mut r = rep as i32 + parent_r;
                    if inb.alg == BucketAlg::Uniform && (inb.items.len() as i32) % numrep == 0 {
                        r += (numrep + 1) * ftotal as i32;
                    } else {
                        r += numrep * ftotal as i32;
                    }
                    if inb.items.is_empty() {
                        break;
                    }
                    let item = self.bucket_choose(inb, work, x, r, outpos);
                    if item >= self.map.max_devices {
                        out[rep] = ITEM_NONE;
                        if let Some(o2) = out2.as_deref_mut() {
                            o2[rep] = ITEM_NONE;
                        }
                        left -= 1;
                        break;
                    }
                    let itemtype = self.item_type(item);
                    if itemtype != Some(ty) {
                        match self.bucket(item) {
                            Some(b) if item < 0 => {
                                inb = b;
                                continue;
                            }
                            _ => {
                                out[rep] = ITEM_NONE;
                                if let Some(o2) = out2.as_deref_mut() {
                                    o2[rep] = ITEM_NONE;
                                }
                                left -= 1;
                                break;
                            }
                        }
                    }
                    if out[outpos..endpos].contains(&item) {
                        break;
                    }
                    if recurse_to_leaf {
                        if item < 0 {
                            let sub = self.bucket(item).expect("checked above");
                            let o2 = out2.as_deref_mut().expect("leaf output");
                            self.choose_indep(work, sub, x, 1, numrep, 0, o2, rep, recurse_tries, 0, false, None, r);
                            if o2[rep] == ITEM_NONE {
                                break;
                            }
                        } else if let Some(o2) = out2.as_deref_mut() {
                            o2[rep] = item;
                        }
                    }
                    if itemtype == Some(0) && self.is_out(item, x) {
                        break;
                    }
                    out[rep] = item;
                    left -= 1;
                    break;
                }
            }
            ftotal += 1;
        }
        for rep in outpos..endpos {
            if out[rep] == ITEM_UNDEF {
                out[rep] = ITEM_NONE;
            }
            if let Some(o2) = out2.as_deref_mut() {
                if o2[rep] == ITEM_UNDEF {
                    o2[rep] = ITEM_NONE;
                }
            }
        }
    }
}

/// `crush_do_rule`: maps input `x` through rule `ruleno` to up to `result_max`
/// items. `weight` is indexed by device id (0x10000 = fully in). `choose_args`
/// names a choose_args set of the map (pool id or -1), if any.
pub fn do_rule(map: &CrushMap, ruleno: usize, x: i32, result_max: usize, weight: &[u32], choose_args: Option<i64>) -> Vec<i32> {
    let Some(Some(rule)) = map.rules.get(ruleno) else {
        return Vec::new();
    };
    let ctx = Ctx { map, weight, choose_args: choose_args.and_then(|id| map.choose_args.get(&id)) };
    let mut work = Work { perms: vec![Perm::default(); map.buckets.len()] };
    let t = &map.tunables;
    let mut choose_tries = t.choose_total_tries + 1;
    let mut choose_leaf_tries = 0u32;
    let mut local_retries = t.choose_local_tries;
    let mut local_fallback_retries = t.choose_local_fallback_tries;
    let mut vary_r = t.chooseleaf_vary_r as u32;
    let mut stable = t.chooseleaf_stable as u32;

    let mut w: Vec<i32> = vec![0; result_max];
    let mut o: Vec<i32> = vec![0; result_max];
    let mut c: Vec<i32> = vec![0; result_max];
    let mut wsize = 0usize;
    let mut result = Vec::with_capacity(result_max);

    for step in &rule.steps {
        match step.op {
            op::TAKE => {
                let a = step.arg1;
                if (a >= 0 && a < map.max_devices) || map.bucket(a).is_some() {
                    if result_max > 0 {
                        w[0] = a;
                        wsize = 1;
                    }
                }
            }
            op::SET_CHOOSE_TRIES => {
                if step.arg1 > 0 {
                    choose_tries = step.arg1 as u32;
                }
            }
            op::SET_CHOOSELEAF_TRIES => {
                if step.arg1 > 0 {
                    choose_leaf_tries = step.arg1 as u32;
                }
            }
            op::SET_CHOOSE_LOCAL_TRIES => {
                if step.arg1 >= 0 {
                    local_retries = step.arg1 as u32;
                }
            }
            op::SET_CHOOSE_LOCAL_FALLBACK_TRIES => {
                if step.arg1 >= 0 {
                    local_fallback_retries = step.arg1 as u32;
                }
            }
            op::SET_CHOOSELEAF_VARY_R => {
                if step.arg1 >= 0 {
                    vary_r = step.arg1 as u32;
                }
            }
            op::SET_CHOOSELEAF_STABLE => {
                if step.arg1 >= 0 {
                    stable = step.arg1 as u32;
                }
            }
            op::CHOOSE_FIRSTN | op::CHOOSELEAF_FIRSTN | op::CHOOSE_INDEP | op::CHOOSELEAF_INDEP => {
                if wsize == 0 {
                    continue;
                }
                let firstn = matches!(step.op, op::CHOOSE_FIRSTN | op::CHOOSELEAF_FIRSTN);
                let recurse_to_leaf = matches!(step.op, op::CHOOSELEAF_FIRSTN | op::CHOOSELEAF_INDEP);
                let mut osize = 0usize;
                for i in 0..wsize {
                    let mut numrep = step.arg1;
                    if numrep <= 0 {
                        numrep += result_max as i32;
                        if numrep <= 0 {
                            continue;
                        }
                    }
                    let Some(b) = map.bucket(w[i]) else { continue };
                    if firstn {
                        let recurse_tries = if choose_leaf_tries != 0 {
                            choose_leaf_tries
                        } else if t.chooseleaf_descend_once != 0 {
                            1
                        } else {
                            choose_tries
                        };
                        let got = ctx.choose_firstn(
                            &mut work,
                            b,
                            x,
                            numrep,
                            step.arg2,
                            &mut o[osize..],
                            0,
                            result_max - osize,
                            choose_tries,
                            recurse_tries,
                            local_retries,
                            local_fallback_retries,
                            recurse_to_leaf,
                            vary_r,
                            stable,
                            Some(&mut c[osize..]),
                            0,
                        );
                        osize += got;
                    } else {
                        let out_size = (numrep as usize).min(result_max - osize);
                        ctx.choose_indep(
                            &mut work,
                            b,
                            x,
                            out_size as i32,
                            numrep,
                            step.arg2,
                            &mut o[osize..],
                            0,
                            choose_tries,
                            if choose_leaf_tries != 0 { choose_leaf_tries } else { 1 },
                            recurse_to_leaf,
                            Some(&mut c[osize..]),
                            0,
                        );
                        osize += out_size;
                    }
                }
                if recurse_to_leaf {
                    o[..osize].copy_from_slice(&c[..osize]);
                }
                std::mem::swap(&mut o, &mut w);
                wsize = osize;
            }
            op::EMIT => {
                for item in w.iter().take(wsize) {
                    if result.len() >= result_max {
                        break;
                    }
                    result.push(*item);
                }
                wsize = 0;
            }
            _ => {}
        }
    }
    result
}
