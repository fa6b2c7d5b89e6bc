use super::*;
use proptest::prelude::*;

fn oid(name: &str) -> ObjectId {
    ObjectId::head(0x1234, "", "", name)
}

/// Writes `data` at `off` of object `o` in its own synced transaction.
fn write_one(s: &Store, o: &str, off: u64, data: Vec<u8>) {
    let mut t = Transaction::new();
    t.push(Op::Write { coll: "1.0".into(), oid: oid(o), off, data: Bytes::from(data) });
    s.apply(&t).unwrap();
}

/// Applies each op to `o` in a transaction of its own; returns the model's result.
fn apply_each(s: &Store, o: &ObjectId, ops: &[M], sync: bool) -> Option<Vec<u8>> {
    let mut model = None;
    for op in ops {
        model_apply(&mut model, op);
        let mut t = Transaction::new();
        t.push(to_op(o, op));
        s.apply_opts(&t, sync).unwrap();
    }
    model
}

fn open() -> (tempfile::TempDir, Store) {
    let d = tempfile::tempdir().unwrap();
    let s = Store::open(d.path(), true).unwrap();
    (d, s)
}

#[derive(Debug, Clone)]
enum M {
    Write(u64, Vec<u8>),
    Zero(u64, u64),
    Truncate(u64),
    Remove,
}

fn model_apply(m: &mut Option<Vec<u8>>, op: &M) {
    match op {
        M::Write(off, d) => {
            let v = m.get_or_insert_with(Vec::new);
            let end = *off as usize + d.len();
            if v.len() < end {
                v.resize(end, 0);
            }
            v[*off as usize..end].copy_from_slice(d);
        }
        M::Zero(off, len) => {
            let v = m.get_or_insert_with(Vec::new);
            let end = (*off + *len) as usize;
            if v.len() < end {
                v.resize(end, 0);
            }
            v[*off as usize..end].fill(0);
        }
        M::Truncate(s) => m.get_or_insert_with(Vec::new).resize(*s as usize, 0),
        M::Remove => *m = None,
    }
}

fn to_op(o: &ObjectId, op: &M) -> Op {
    let coll = "1.0".to_string();
    let oid = o.clone();
    match op {
        M::Write(off, d) => Op::Write { coll, oid, off: *off, data: Bytes::from(d.clone()) },
        M::Zero(off, len) => Op::Zero { coll, oid, off: *off, len: *len },
        M::Truncate(size) => Op::Truncate { coll, oid, size: *size },
        M::Remove => Op::Remove { coll, oid },
    }
}

fn arb_op() -> impl Strategy<Value = M> {
    let span = 3 * BLOCK;
    prop_oneof![
        (0..span, proptest::collection::vec(any::<u8>(), 0..(BLOCK as usize + 100))).prop_map(|(o, d)| M::Write(o, d)),
        // Whole, aligned blocks: these go to the block file.
        (0..3u64, 1..3u64, any::<u8>()).prop_map(|(b, n, seed)| M::Write(b * BLOCK, (0..n * BLOCK).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) | 1).collect())),
        (0..3u64, any::<u8>()).prop_map(|(b, seed)| M::Write(b * BLOCK + 1, vec![seed; BLOCK as usize])),
        (0..span, 0..BLOCK * 2).prop_map(|(o, l)| M::Zero(o, l)),
        (0..span).prop_map(M::Truncate),
        Just(M::Remove),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    /// Any sequence of data ops, one or several per transaction, leaves the
    /// object exactly as a flat byte vector would be, and reads of any range
    /// (and the sparse map) agree with it.
    #[test]
    fn data_ops_match_a_byte_vector(ops in proptest::collection::vec(arb_op(), 1..12), group in 1usize..4, ro in 0..4*BLOCK, rl in 0..3*BLOCK, cached in any::<u8>(), head_len in 0usize..40) {
        let (_d, s) = open();
        let o = oid("obj");
        let mut model: Option<Vec<u8>> = None;
        // Transactions of `group` ops, committed two at a time as one group,
        // cached (page cache) and O_DIRECT ones mixed in any order.
        let ts: Vec<Transaction> = ops.chunks(group).enumerate().map(|(i, chunk)| {
            let mut t = Transaction::new();
            for op in chunk {
                model_apply(&mut model, op);
                t.push(to_op(&o, op));
            }
            t.cache = cached & (1 << (i % 8)) != 0;
            t
        }).collect();
        for pair in ts.chunks(2) {
            let refs: Vec<&Transaction> = pair.iter().collect();
            s.apply_group(&refs, true).unwrap();
        }
        let size = s.stat("1.0", &o).unwrap();
        prop_assert_eq!(size, model.as_ref().map(|v| v.len() as u64));
        let all = s.read("1.0", &o, 0, u64::MAX).unwrap();
        let want = model.clone().unwrap_or_default();
        prop_assert_eq!(&all[..], &want[..]);
        let part = s.read("1.0", &o, ro, rl).unwrap();
        let a = (ro as usize).min(want.len());
        let b = ((ro + rl) as usize).min(want.len());
        prop_assert_eq!(&part[..], &want[a..b]);
        // The same read behind a reply header, in one buffer.
        let head: Vec<u8> = (0..head_len as u8).collect();
        let with = s.read_after("1.0", &o, ro, rl, &head).unwrap();
        prop_assert_eq!(&with[..head_len], &head[..]);
        prop_assert_eq!(&with[head_len..], &want[a..b]);
        // A sparse read gives the extents holding data and their bytes, one
        // after another, behind its header.
        let (sext, sdata) = s.sparse_read("1.0", &o, ro, rl, |e| vec![e.len() as u8; head_len]).unwrap();
        prop_assert_eq!(&sext, &s.data_extents("1.0", &o, ro, rl).unwrap());
        let mut packed = vec![sext.len() as u8; head_len];
        for (eo, el) in &sext {
            packed.extend_from_slice(&want[*eo as usize..(eo + el) as usize]);
        }
        prop_assert_eq!(&sdata[..], &packed[..]);
        // Everything outside the reported extents is zero.
        let ext = s.data_extents("1.0", &o, 0, u64::MAX).unwrap();
        for (i, c) in want.iter().enumerate() {
            let inside = ext.iter().any(|(eo, el)| (i as u64) >= *eo && (i as u64) < eo + el);
            prop_assert!(inside || *c == 0);
        }
    }

    /// Objects whose blocks live in the block file survive a clone, a reopen
    /// (the allocator is rebuilt from the keys) and removal, and removal frees
    /// every slot: no leaks, no slot shared by two blocks.
    #[test]
    fn block_file_slots_are_never_leaked_or_shared(ops in proptest::collection::vec(arb_op(), 1..10)) {
        let (d, s) = open();
        let o = oid("obj");
        let copy = oid("copy");
        let model = apply_each(&s, &o, &ops, false);
        let mut t = Transaction::new();
        t.push(Op::Touch { coll: "1.0".into(), oid: o.clone() });
        t.push(Op::Clone { coll: "1.0".into(), src: o.clone(), dst: copy.clone() });
        t.push(Op::Write { coll: "1.0".into(), oid: o.clone(), off: 0, data: Bytes::from(vec![7u8; BLOCK as usize]) });
        s.apply(&t).unwrap();
        let want = model.clone().unwrap_or_default();
        let (used, _) = s.slot_usage();
        drop(s);
        let s = Store::open(d.path(), false).unwrap();
        prop_assert_eq!(s.slot_usage().0, used);
        prop_assert!(s.read("1.0", &copy, 0, u64::MAX).unwrap() == want);
        let mut t = Transaction::new();
        t.push(Op::Remove { coll: "1.0".into(), oid: o.clone() });
        t.push(Op::Remove { coll: "1.0".into(), oid: copy.clone() });
        s.apply(&t).unwrap();
        prop_assert_eq!(s.slot_usage().0, 0);
        drop(s);
        prop_assert_eq!(Store::open(d.path(), false).unwrap().slot_usage().0, 0);
    }

    /// A crash after a batch commits but before its deferred writes reach
    /// the block file (and before their records are deleted) loses nothing:
    /// opening the store writes them again.
    #[test]
    fn deferred_writes_survive_a_crash_before_they_are_in_place(ops in proptest::collection::vec(arb_op(), 1..10), last in proptest::collection::vec(arb_op(), 1..4)) {
        let (d, s) = open();
        let o = oid("obj");
        let mut model = apply_each(&s, &o, &ops, true);
        // The crash: committed, never written in place.
        s.skip_in_place.store(true, std::sync::atomic::Ordering::Relaxed);
        let mut t = Transaction::new();
        for op in &last {
            model_apply(&mut model, op);
            t.push(to_op(&o, op));
        }
        s.apply(&t).unwrap();
        drop(s);
        let s = Store::open(d.path(), false).unwrap();
        let want = model.unwrap_or_default();
        prop_assert!(s.read("1.0", &o, 0, u64::MAX).unwrap()[..] == want[..]);
        prop_assert!(s.db.prefix_iterator(b"W").next().is_none_or(|r| !r.unwrap().0.starts_with(b"W")), "records left after replay");
    }

    #[test]
    fn transactions_round_trip_and_hostile_bytes_fail_cleanly(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = ObjectId::decode_key(&bytes);
        let mut wire = bytes.clone();
        if let Some(v) = wire.first_mut() {
            *v = 2;
        }
        let _ = Transaction::from_wire(Bytes::from(wire), Bytes::from(bytes[..bytes.len() / 2].to_vec()));
    }

    #[test]
    fn wire_form_round_trips_with_aligned_write_bytes(lens in proptest::collection::vec(prop_oneof![0usize..5_000, 60_000usize..140_000], 0..4), truncate_area in any::<bool>()) {
        let o = ObjectId::head(1, "", "", "o");
        let mut t = Transaction::new();
        t.push(Op::SetAttr { coll: "1.0".into(), oid: o.clone(), name: "_".into(), value: Bytes::from_static(b"oi") });
        for (i, n) in lens.iter().enumerate() {
            let data = Bytes::from((0..*n).map(|j| (i * 31 + j) as u8).collect::<Vec<u8>>());
            t.push(Op::Write { coll: "1.0".into(), oid: o.clone(), off: (i as u64) << 20, data });
        }
        let (ops, area) = t.to_wire();
        let back = Transaction::from_wire(ops.clone(), area.clone()).unwrap();
        prop_assert_eq!(&back, &t);
        let big: Vec<&Bytes> = t.ops.iter().filter_map(|o| match o { Op::Write { data, .. } if data.len() >= 65536 => Some(data), _ => None }).collect();
        if let [one] = big[..] {
            prop_assert_eq!(area.as_ptr(), one.as_ptr(), "a lone write's bytes are not copied");
        }
        let padded: usize = big.iter().map(|d| d.len().next_multiple_of(4096)).sum();
        prop_assert!(area.len() <= padded, "only whole-block writes go to the data area");
        let mut used = 0;
        for op in &back.ops {
            if let Op::Write { data, .. } = op {
                if data.len() >= 65536 {
                    let at = data.as_ptr() as usize - area.as_ptr() as usize;
                    prop_assert_eq!(at % 4096, 0);
                    used = used.max(at + data.len());
                }
            }
        }
        if truncate_area && used > 0 {
            prop_assert!(Transaction::from_wire(ops, area.slice(..used - 1)).is_err(), "a short data area is refused");
        }
    }

    #[test]
    fn object_keys_keep_order_and_round_trip(a in any::<(u32, String, String)>(), b in any::<(u32, String, String)>()) {
        let x = ObjectId::head(a.0, &a.1, "", &a.2);
        let y = ObjectId::head(b.0, &b.1, "", &b.2);
        let (mut kx, mut ky) = (Vec::new(), Vec::new());
        x.encode_key(&mut kx);
        y.encode_key(&mut ky);
        prop_assert_eq!(ObjectId::decode_key(&kx).unwrap().0, x.clone());
        let ord_keys = kx.cmp(&ky);
        let ord_ids = (x.hash.reverse_bits(), x.nspace.as_bytes(), x.name.as_bytes()).cmp(&(y.hash.reverse_bits(), y.nspace.as_bytes(), y.name.as_bytes()));
        prop_assert_eq!(ord_keys, ord_ids);
    }
}

#[test]
fn xattrs_omap_clone_listing_and_collections() {
    let (d, s) = open();
    let c = "2.1".to_string();
    let a = ObjectId::head(7, "ns", "", "a\0b");
    let b = ObjectId::head(3, "", "", "b");
    let mut t = Transaction::new();
    t.push(Op::MkColl { coll: c.clone() });
    t.push(Op::Write { coll: c.clone(), oid: a.clone(), off: 0, data: Bytes::from_static(b"hello") });
    t.push(Op::SetAttr { coll: c.clone(), oid: a.clone(), name: "_x".into(), value: Bytes::from_static(b"1") });
    t.push(Op::OmapSet { coll: c.clone(), oid: a.clone(), kv: vec![(Bytes::from_static(b"k1"), Bytes::from_static(b"v1")), (Bytes::from_static(b"k2"), Bytes::from_static(b"v2")), (Bytes::from_static(b"k3"), Bytes::from_static(b"v3"))] });
    t.push(Op::OmapHeader { coll: c.clone(), oid: a.clone(), header: Bytes::from_static(b"hdr") });
    t.push(Op::Clone { coll: c.clone(), src: a.clone(), dst: b.clone() });
    t.push(Op::OmapRmRange { coll: c.clone(), oid: a.clone(), first: Bytes::from_static(b"k2"), last: Bytes::from_static(b"k3") });
    t.push(Op::SetMeta { coll: c.clone(), key: "info".into(), value: Bytes::from_static(b"I") });
    // Round trip through the wire form before applying, as a replica would.
    let (ops, area) = t.to_wire();
    let t = Transaction::from_wire(ops, area).unwrap();
    s.apply(&t).unwrap();
    drop(s);
    let s = Store::open(d.path(), false).unwrap();
    assert_eq!(s.list_collections().unwrap(), vec![c.clone()]);
    assert_eq!(&s.read(&c, &b, 0, 100).unwrap()[..], b"hello");
    assert_eq!(s.getattr(&c, &b, "_x").unwrap().unwrap(), b"1");
    assert_eq!(s.omap_header(&c, &b).unwrap(), Bytes::from_static(b"hdr"));
    let keys: Vec<Bytes> = s.omap_range(&c, &a, b"", false, 10).unwrap().into_iter().map(|(k, _)| k).collect();
    assert_eq!(keys, vec![Bytes::from_static(b"k1"), Bytes::from_static(b"k3")]);
    assert_eq!(s.omap_range(&c, &b, b"k1", true, 1).unwrap()[0].0, Bytes::from_static(b"k2"));
    assert_eq!(s.omap_get(&c, &b, &[Bytes::from_static(b"k3"), Bytes::from_static(b"zz")]).unwrap().len(), 1);
    // Listing follows the reversed hash: 3 (0b11) sorts after 7 (0b111)? No:
    // reverse_bits(7) = 0xe0000000 > reverse_bits(3) = 0xc0000000.
    let l = s.list(&c, None, 10).unwrap();
    assert_eq!(l.iter().map(|(o, _)| o.name.clone()).collect::<Vec<_>>(), vec!["b".to_string(), "a\0b".to_string()]);
    assert_eq!(s.list(&c, Some(&a), 10).unwrap().len(), 1);
    assert_eq!(s.get_meta(&c, "info").unwrap().unwrap(), b"I");
    let mut t = Transaction::new();
    t.push(Op::RmColl { coll: c.clone() });
    s.apply(&t).unwrap();
    assert!(s.list_collections().unwrap().is_empty());
    assert!(s.stat(&c, &a).unwrap().is_none());
    assert!(s.omap_range(&c, &a, b"", false, 10).unwrap().is_empty());
}

/// Cached writes go only where the block file was written before, stay in
/// the page cache and read back; an O_DIRECT write over cached pages is what
/// reads (and the file) hold next.
#[test]
fn cached_writes_are_read_back_and_direct_overwrites_win() {
    let (_d, s) = open();
    let o = oid("obj");
    let len = 4 * BLOCK;
    let put = |fill: u8, cache: bool| -> u64 {
        let mut t = Transaction::new();
        t.cache = cache;
        t.push(Op::Write { coll: "1.0".into(), oid: o.clone(), off: 0, data: Bytes::from(vec![fill; len as usize]) });
        s.apply(&t).unwrap();
        let extent = s.db.get(extent_key("1.0", &o, 0)).unwrap().unwrap();
        extent_of(&extent).unwrap().0
    };
    let check = |fill: u8, slot: u64| {
        assert_eq!(&s.read("1.0", &o, 0, u64::MAX).unwrap()[..], &vec![fill; len as usize][..]);
        let mut raw = vec![0u8; len as usize];
        s.read_slot(slot, &mut raw).unwrap();
        assert!(raw.iter().all(|b| *b == fill), "the block file holds {fill}");
    };
    // Where O_DIRECT works and cachestat(2) answers (Linux 6.5+).
    let probe = s.blocks_direct.is_some() && s.cached_pages(0, 4096).is_some();
    // Fresh space: O_DIRECT even when asked to cache.
    let a = put(1, true);
    if probe {
        assert!(!s.all_cached(a * BLOCK, len), "a write into fresh space is not cached");
    }
    check(1, a);
    // Copy-on-write: the next write takes fresh slots and frees these; the
    // one after reuses them, written before, so it goes through the cache.
    let b = put(2, false);
    assert_ne!(a, b);
    let c = put(3, true);
    assert_eq!(c, a, "freed slots are reused");
    if probe {
        assert!(s.all_cached(c * BLOCK, len), "a cached rewrite is in the page cache");
    }
    check(3, c);
    // Next: b again (O_DIRECT), then a again, O_DIRECT over the cached pages.
    assert_eq!(put(4, false), b);
    assert_eq!(put(5, false), a);
    check(5, a);
}

#[test]
fn removing_a_collection_frees_its_block_file_slots() {
    let (_d, s) = open();
    let c = "3.0".to_string();
    let mut t = Transaction::new();
    t.push(Op::MkColl { coll: c.clone() });
    t.push(Op::Write { coll: c.clone(), oid: oid("a"), off: 0, data: Bytes::from(vec![1u8; 4 * BLOCK as usize]) });
    t.push(Op::Write { coll: c.clone(), oid: oid("b"), off: BLOCK, data: Bytes::from(vec![2u8; BLOCK as usize]) });
    s.apply(&t).unwrap();
    assert_eq!(s.slot_usage(), (5, 0));
    assert_eq!(s.data_extents(&c, &oid("b"), 0, u64::MAX).unwrap(), vec![(BLOCK, BLOCK)]);
    let mut t = Transaction::new();
    t.push(Op::RmColl { coll: c.clone() });
    s.apply(&t).unwrap();
    assert_eq!(s.slot_usage(), (0, 5));
}

#[test]
fn reused_read_buffers_never_show_old_data_in_holes() {
    let (_d, s) = open();
    let full = oid("full");
    let sparse = oid("sparse");
    let mut t = Transaction::new();
    t.push(Op::Write { coll: "1.0".into(), oid: full.clone(), off: 0, data: Bytes::from(vec![0xab; 4 << 20]) });
    // Holes, a partial inline block and a whole block-file block.
    t.push(Op::Write { coll: "1.0".into(), oid: sparse.clone(), off: 100, data: Bytes::from_static(b"xyz") });
    t.push(Op::Write { coll: "1.0".into(), oid: sparse.clone(), off: 2 * BLOCK, data: Bytes::from(vec![7u8; BLOCK as usize]) });
    t.push(Op::Truncate { coll: "1.0".into(), oid: sparse.clone(), size: 4 << 20 });
    s.apply(&t).unwrap();
    for _ in 0..3 {
        assert!(s.read("1.0", &full, 0, 4 << 20).unwrap().iter().all(|c| *c == 0xab));
        let r = s.read("1.0", &sparse, 0, 4 << 20).unwrap();
        let mut want = vec![0u8; 4 << 20];
        want[100..103].copy_from_slice(b"xyz");
        want[2 * BLOCK as usize..3 * BLOCK as usize].fill(7);
        assert!(r[..] == want[..], "sparse object read back wrong");
    }
}

/// Small overwrites of a block in the block file go in place through
/// deferred-write records; a slot named by a record is not reused until the
/// record is gone, even after its object is removed.
#[test]
fn deferred_writes_go_in_place_and_pin_their_slot() {
    let (_d, s) = open();
    let w = |o: &str, off: u64, data: Vec<u8>| write_one(&s, o, off, data);
    let records = || s.db.prefix_iterator(b"W").filter(|r| r.as_ref().unwrap().0.starts_with(b"W")).count();
    w("a", 0, vec![1u8; BLOCK as usize]);
    assert_eq!(s.slot_usage(), (1, 0));
    w("a", 4096, vec![2u8; 4096]);
    w("a", 100, b"xyz".to_vec());
    // Still one slot (no copy-on-write for small writes), two records.
    assert_eq!(s.slot_usage(), (1, 0));
    assert_eq!(records(), 2);
    let mut want = vec![1u8; BLOCK as usize];
    want[4096..8192].fill(2);
    want[100..103].copy_from_slice(b"xyz");
    assert!(s.read("1.0", &oid("a"), 0, BLOCK).unwrap()[..] == want[..]);
    // Removed: the slot waits for its records, so the next block goes elsewhere.
    let mut t = Transaction::new();
    t.push(Op::Remove { coll: "1.0".into(), oid: oid("a") });
    s.apply(&t).unwrap();
    assert_eq!(s.slot_usage(), (0, 0));
    // This batch syncs the block file, so it also deletes the records.
    w("b", 0, vec![3u8; BLOCK as usize]);
    assert_eq!(records(), 0);
    assert_eq!(s.slot_usage(), (1, 1));
    assert!(s.read("1.0", &oid("b"), 0, BLOCK).unwrap().iter().all(|c| *c == 3));
}

/// A partial block stays inline while small and moves to the block file once
/// it grows, after which small writes no longer rewrite it.
#[test]
fn a_growing_partial_block_moves_to_the_block_file() {
    let (_d, s) = open();
    let mut t = Transaction::new();
    t.push(Op::Write { coll: "1.0".into(), oid: oid("a"), off: 0, data: Bytes::from(vec![5u8; 4096]) });
    s.apply(&t).unwrap();
    assert_eq!(s.slot_usage(), (0, 0));
    let mut t = Transaction::new();
    t.push(Op::Write { coll: "1.0".into(), oid: oid("a"), off: 40960, data: Bytes::from(vec![6u8; 4096]) });
    s.apply(&t).unwrap();
    assert_eq!(s.slot_usage(), (1, 0));
    let r = s.read("1.0", &oid("a"), 0, u64::MAX).unwrap();
    assert_eq!(r.len(), 45056);
    assert!(r[..4096].iter().all(|c| *c == 5) && r[4096..40960].iter().all(|c| *c == 0) && r[40960..].iter().all(|c| *c == 6));
    // Truncating into the block zeroes the cut bytes, so growing again shows zeros.
    let mut t = Transaction::new();
    t.push(Op::Truncate { coll: "1.0".into(), oid: oid("a"), size: 2048 });
    t.push(Op::Truncate { coll: "1.0".into(), oid: oid("a"), size: BLOCK });
    s.apply(&t).unwrap();
    let r = s.read("1.0", &oid("a"), 0, u64::MAX).unwrap();
    assert!(r[..2048].iter().all(|c| *c == 5) && r[2048..].iter().all(|c| *c == 0));
}

/// A reused slot may hold an old object's bytes: only the 4 KiB sub-blocks
/// written since are read (and reported by the sparse map); the rest read as
/// zeros, including the rest of a sub-block written for the first time.
#[test]
fn unwritten_sub_blocks_of_a_reused_slot_read_as_zeros() {
    let (_d, s) = open();
    let w = |o: &str, off: u64, data: Vec<u8>| write_one(&s, o, off, data);
    w("old", 0, vec![0xaa; BLOCK as usize]);
    let mut t = Transaction::new();
    t.push(Op::Remove { coll: "1.0".into(), oid: oid("old") });
    s.apply(&t).unwrap();
    assert_eq!(s.slot_usage(), (0, 1));
    // Past the inline limit: takes the old slot, writes one sub-block.
    w("new", 32768, vec![1u8; 4096]);
    assert_eq!(s.slot_usage(), (1, 0));
    assert_eq!(s.data_extents("1.0", &oid("new"), 0, u64::MAX).unwrap(), vec![(32768, 4096)]);
    // A small write into an unwritten sub-block, then one into a written one.
    w("new", 100, vec![2u8; 10]);
    w("new", 32768 + 50, vec![3u8; 10]);
    let r = s.read("1.0", &oid("new"), 0, u64::MAX).unwrap();
    let mut want = vec![0u8; 36864];
    want[100..110].fill(2);
    want[32768..36864].fill(1);
    want[32818..32828].fill(3);
    assert!(r[..] == want[..], "stale bytes or lost writes in a reused slot");
    assert_eq!(s.data_extents("1.0", &oid("new"), 0, u64::MAX).unwrap(), vec![(0, 4096), (32768, 4096)]);
    // Copies keep exactly those bytes.
    let mut t = Transaction::new();
    t.push(Op::Clone { coll: "1.0".into(), src: oid("new"), dst: oid("copy") });
    s.apply(&t).unwrap();
    assert!(s.read("1.0", &oid("copy"), 0, u64::MAX).unwrap()[..] == want[..]);
}

/// Big writes get runs of consecutive slots: the lowest free run long
/// enough, else fresh slots at the end, never a scatter of freed ones.
#[test]
fn slot_runs_come_from_the_lowest_long_enough_free_run() {
    let mut s = Slots { free: [1, 2, 5, 6, 7, 9].into_iter().collect(), next: 10, ..Default::default() };
    assert_eq!(s.take_run(3), 5);
    assert_eq!(s.take_run(3), 10);
    assert_eq!(s.next, 13);
    assert_eq!(s.take_run(2), 1);
    assert_eq!(s.take_run(1), 9);
    assert!(s.free.is_empty());
}

/// Corrupt extent and deferred-write records are errors, not panics or
/// overflowing offsets.
#[test]
fn corrupt_extent_and_deferred_records_are_errors() {
    assert!(extent_of(&[1; 9]).is_err());
    assert!(extent_of(&u64::MAX.to_le_bytes()).is_err());
    assert_eq!(extent_of(&extent_value(5, 0b101)).unwrap(), (5, 0b101));
    assert!(parse_deferred(&[0; 15]).is_err());
    let mut rec = u64::MAX.to_le_bytes().to_vec();
    rec.extend_from_slice(&0u64.to_le_bytes());
    assert!(parse_deferred(&rec).is_err(), "slot past any file offset");
    let mut rec = 1u64.to_le_bytes().to_vec();
    rec.extend_from_slice(&(BLOCK - 1).to_le_bytes());
    rec.extend_from_slice(b"ab");
    assert!(parse_deferred(&rec).is_err(), "write past the block");
}

#[test]
fn a_reply_header_goes_in_front_of_a_whole_object_read_in_a_reused_buffer() {
    let (_d, s) = open();
    let a: Vec<u8> = (0..4 << 20).map(|i: u32| (i % 251) as u8).collect();
    write_one(&s, "a", 0, a.clone());
    write_one(&s, "junk", 0, vec![0xaa; 4 << 20]);
    let head = b"a 24-byte sparse header.";
    for round in 0..3 {
        // A read of other bytes first, so the pooled buffer the next read
        // reuses holds them, in front of where the header goes too.
        let junk = s.read_after("1.0", &oid("junk"), 0, 4 << 20, &[0x55; 4096]).unwrap();
        assert!(junk[4096..].iter().all(|b| *b == 0xaa));
        drop(junk);
        let r = s.read_after("1.0", &oid("a"), 0, 4 << 20, head).unwrap();
        assert_eq!(r.len(), head.len() + a.len(), "round {round}");
        assert_eq!(&r[..head.len()], head);
        assert!(r[head.len()..] == a[..], "round {round}: data behind the header");
        // The data itself is page-aligned, where an O_DIRECT read can fill it.
        assert_eq!((r.as_ptr() as usize + head.len()) % 4096, 0);
    }
    // Reads past the end give the header alone.
    assert_eq!(&s.read_after("1.0", &oid("a"), 5 << 20, 10, head).unwrap()[..], head);
    release_pooled_buffers();
}

use maps::pool::{fold_seed as stable_mod, split_bits};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// A split moves exactly the objects whose PG under the new pg_num is
    /// the child (data in the block file and inline, xattrs, omap and its
    /// header alike), leaves the rest, shares or leaks no slot, and holds
    /// after a reopen.
    #[test]
    fn a_split_moves_exactly_the_childs_objects(hashes in proptest::collection::vec(any::<u32>(), 1..24), old in 1u32..9, grow in 1u32..9) {
        let new = old + grow;
        let (d, s) = open();
        // Every object of parent `p` under `old`, for the parent of the first hash.
        let p = stable_mod(hashes[0], old);
        let objs: Vec<ObjectId> = hashes.iter().enumerate().filter(|(_, h)| stable_mod(**h, old) == p).map(|(i, h)| ObjectId::head(*h, "", "", &format!("o{i}"))).collect();
        let parent = format!("1.{p:x}_head");
        let mut t = Transaction::new();
        t.push(Op::MkColl { coll: parent.clone() });
        for (i, o) in objs.iter().enumerate() {
            let len = if i % 2 == 0 { 2 * BLOCK as usize + 5 } else { 300 };
            t.push(Op::Write { coll: parent.clone(), oid: o.clone(), off: 0, data: Bytes::from(vec![i as u8 + 1; len]) });
            t.push(Op::SetAttr { coll: parent.clone(), oid: o.clone(), name: "_".into(), value: Bytes::from(vec![i as u8]) });
            t.push(Op::OmapSet { coll: parent.clone(), oid: o.clone(), kv: vec![(Bytes::from_static(b"k"), Bytes::from(vec![i as u8]))] });
            t.push(Op::OmapHeader { coll: parent.clone(), oid: o.clone(), header: Bytes::from(vec![i as u8; 3]) });
        }
        s.apply(&t).unwrap();
        let used = s.slot_usage().0;
        let children: Vec<u32> = (old..new).filter(|c| stable_mod(*c, old) == p).collect();
        let mut t = Transaction::new();
        for c in &children {
            let coll = format!("1.{c:x}_head");
            t.push(Op::MkColl { coll: coll.clone() });
            t.push(Op::SplitColl { coll: parent.clone(), to: coll, bits: split_bits(*c, new), seed: *c });
        }
        let (ops, area) = t.to_wire();
        s.apply(&Transaction::from_wire(ops, area).unwrap()).unwrap();
        drop(s);
        let s = Store::open(d.path(), false).unwrap();
        prop_assert_eq!(s.slot_usage().0, used);
        for (i, o) in objs.iter().enumerate() {
            let home = format!("1.{:x}_head", stable_mod(o.hash, new));
            let len = if i % 2 == 0 { 2 * BLOCK as usize + 5 } else { 300 };
            for c in std::iter::once(&parent).chain(children.iter().map(|c| format!("1.{c:x}_head")).collect::<Vec<_>>().iter()) {
                let here = *c == home;
                prop_assert_eq!(s.stat(c, o).unwrap().is_some(), here, "object {:x} in {} (belongs in {})", o.hash, c, home);
                if here {
                    prop_assert!(s.read(c, o, 0, u64::MAX).unwrap() == vec![i as u8 + 1; len]);
                    prop_assert_eq!(s.getattr(c, o, "_").unwrap(), Some(vec![i as u8]));
                    prop_assert_eq!(s.omap_get(c, o, &[Bytes::from_static(b"k")]).unwrap().len(), 1);
                    prop_assert_eq!(s.omap_header(c, o).unwrap(), Bytes::from(vec![i as u8; 3]));
                } else {
                    prop_assert!(s.getattr(c, o, "_").unwrap().is_none());
                    prop_assert!(s.omap_get(c, o, &[Bytes::from_static(b"k")]).unwrap().is_empty());
                }
            }
        }
        // Removing everything frees every slot: none was shared or lost.
        let mut t = Transaction::new();
        t.push(Op::RmColl { coll: parent.clone() });
        for c in &children {
            t.push(Op::RmColl { coll: format!("1.{c:x}_head") });
        }
        s.apply(&t).unwrap();
        prop_assert_eq!(s.slot_usage().0, 0);
    }
}

/// Checks a sparse read of [off, off+len) of `o` against the object's bytes
/// `model`: sorted extents inside the range, every non-zero byte in one, and
/// their bytes one after another behind the header.
fn check_sparse(s: &Store, o: &ObjectId, off: u64, len: u64, model: &[u8]) -> Vec<(u64, u64)> {
    let (ext, data) = s.sparse_read("1.0", o, off, len, |e| (e.len() as u32).to_le_bytes()).unwrap();
    assert_eq!(&data[..4], &(ext.len() as u32).to_le_bytes());
    let end = (off + len).min(model.len() as u64);
    assert!(ext.windows(2).all(|w| w[0].0 + w[0].1 < w[1].0), "{ext:?}");
    assert!(ext.iter().all(|&(eo, el)| eo >= off && el > 0 && eo + el <= end), "{ext:?}");
    let mut want = Vec::new();
    for (eo, el) in &ext {
        want.extend_from_slice(&model[*eo as usize..(eo + el) as usize]);
    }
    assert_eq!(&data[4..], &want[..]);
    for i in off..end {
        assert!(model[i as usize] == 0 || ext.iter().any(|&(eo, el)| i >= eo && i < eo + el), "byte {i} outside {ext:?}");
    }
    ext
}

/// An object written in scattered 4 KiB pieces (an RBD image's object after
/// random writes) has its blocks in slots out of order, each with a written
/// mask: a sparse read gives every written piece and its bytes, read as one
/// batch, and a plain read gives zeros between them.
#[test]
fn a_fragmented_object_reads_back_by_extent() {
    let (_d, s) = open();
    let mut model = vec![0u8; 8 * BLOCK as usize];
    for (n, b) in [5u64, 1, 7, 3, 0, 6, 2, 4].into_iter().enumerate() {
        for sub in [8u64, 0, 4, 2, 12] {
            let at = b * BLOCK + sub * SUB;
            let data: Vec<u8> = (0..SUB).map(|i| (i as u8) ^ (n as u8 * 16 + sub as u8) | 1).collect();
            model[at as usize..(at + SUB) as usize].copy_from_slice(&data);
            write_one(&s, "frag", at, data);
        }
    }
    // The size ends with the last block's last written piece.
    model.truncate((7 * BLOCK + 13 * SUB) as usize);
    let o = oid("frag");
    let ext = check_sparse(&s, &o, 0, 8 * BLOCK, &model);
    assert!(ext.len() >= 8 * 3, "fragmented: {ext:?}");
    assert_eq!(&s.read("1.0", &o, 0, u64::MAX).unwrap()[..], &model[..]);
    // From mid-piece, and past the end.
    let ext = check_sparse(&s, &o, 2 * SUB + 100, 3 * BLOCK, &model);
    assert_eq!(ext[0].0, 2 * SUB + 100);
    assert!(check_sparse(&s, &o, 9 * BLOCK, BLOCK, &model).is_empty());
    // Nothing, anywhere in the object: just the header.
    assert!(check_sparse(&s, &o, 0, 0, &model).is_empty());
    assert_eq!(&s.read_after("1.0", &o, 0, 0, b"hd").unwrap()[..], b"hd");
    assert!(s.read("1.0", &o, BLOCK, 0).unwrap().is_empty());
}

/// More pieces than one io_uring round holds (64): every one reads back.
#[test]
fn a_read_of_more_pieces_than_a_ring_round_reads_them_all() {
    let (_d, s) = open();
    // 40 blocks, each in a slot of its own out of order, with three
    // written pieces apiece: 120 extents.
    let mut model = vec![0u8; 40 * BLOCK as usize];
    for (n, b) in (0..40u64).map(|i| (i * 17) % 40).enumerate() {
        for sub in [1u64, 5, 9, 0, 2, 3, 4] {
            let at = b * BLOCK + sub * SUB;
            let data = vec![(n as u8).wrapping_mul(7) ^ sub as u8 | 1; SUB as usize];
            model[at as usize..(at + SUB) as usize].copy_from_slice(&data);
            write_one(&s, "many", at, data);
        }
    }
    model.truncate((39 * BLOCK + 10 * SUB) as usize);
    let o = oid("many");
    assert!(check_sparse(&s, &o, 0, 40 * BLOCK, &model).len() >= 40);
    assert_eq!(&s.read("1.0", &o, 0, u64::MAX).unwrap()[..], &model[..]);
}

/// io_uring batches read what preads would, short at the end of the file.
#[test]
fn batched_reads_match_single_reads() {
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("f");
    let bytes: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&path, &bytes).unwrap();
    let f = File::open(&path).unwrap();
    let mut out = vec![0u8; 3 * 4096];
    let p = out.as_mut_ptr();
    let reads: Vec<uring::Read> = [(8192u64, 0usize), (0, 4096), (98_304, 8192)]
        .into_iter()
        .map(|(at, dst)| uring::Read { fd: f.as_raw_fd(), at, buf: unsafe { p.add(dst) }, len: 4096 })
        .collect();
    // SAFETY: three disjoint 4 KiB ranges of `out`, untouched until it returns.
    let Some(got) = (unsafe { uring::read_batch(&reads) }) else {
        eprintln!("no io_uring here: the store reads one run at a time");
        return;
    };
    assert_eq!(got, vec![Some(4096), Some(4096), Some(100_000 - 98_304)]);
    assert_eq!(&out[..4096], &bytes[8192..12288]);
    assert_eq!(&out[4096..8192], &bytes[..4096]);
    assert_eq!(&out[8192..8192 + 1696], &bytes[98_304..]);
}
