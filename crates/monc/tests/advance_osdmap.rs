//! `advance_osdmap_each` walks a batch of real incrementals (captured from a
//! real cluster, tests/golden/osdmap/inc) one epoch at a time.

use bytes::Bytes;
use denc::{Decode, Encode};
use maps::OsdMap;
use messages::mon::OsdMapMsg;
use std::collections::BTreeMap;
use std::path::PathBuf;

fn dir() -> PathBuf {
    PathBuf::from(&std::env::var("CARGO_MANIFEST_DIR").unwrap_or(env!("CARGO_MANIFEST_DIR").into())).join("../../tests/golden/osdmap/inc")
}

fn full(e: u32) -> Vec<u8> {
    std::fs::read(dir().join(format!("full-{e}.osdmap"))).unwrap()
}

#[test]
fn every_epoch_of_a_batch_is_seen_in_order() {
    let start = OsdMap::from_bytes(Bytes::from(full(35))).unwrap();
    let incs: BTreeMap<u32, Bytes> = (36..=45).map(|e| (e, Bytes::from(std::fs::read(dir().join(format!("inc-{e}.bin"))).unwrap()))).collect();
    let msg = OsdMapMsg { fsid: start.fsid, incremental_maps: incs, maps: BTreeMap::new(), oldest_map: 1, newest_map: 45 };
    let mut seen = Vec::new();
    let (new, behind) = monc::advance_osdmap_each(Some(&start), &msg, |m, skipped| {
        assert!(!skipped);
        // each intermediate map is the mon's full map of that epoch
        assert!(m.to_bytes(u64::MAX)[..] == full(m.epoch)[..], "epoch {}", m.epoch);
        seen.push(m.epoch);
    });
    assert_eq!(seen, (36..=45).collect::<Vec<_>>());
    assert_eq!(new.unwrap().epoch, 45);
    assert!(!behind);

    // A batch that stops short of newest_map reports the gap.
    let mut short = msg.clone();
    short.newest_map = 47;
    let mut n = 0;
    let (new, behind) = monc::advance_osdmap_each(Some(&start), &short, |_, _| n += 1);
    assert_eq!((new.unwrap().epoch, behind, n), (45, true, 10));

    // A full map in the batch is passed through too, flagged when it skips epochs.
    let only_full = OsdMapMsg { fsid: start.fsid, incremental_maps: BTreeMap::new(), maps: [(40, Bytes::from(full(40)))].into(), oldest_map: 1, newest_map: 40 };
    let mut seen = Vec::new();
    let (new, _) = monc::advance_osdmap_each(Some(&start), &only_full, |m, skipped| seen.push((m.epoch, skipped)));
    assert_eq!((seen, new.unwrap().epoch), (vec![(40, true)], 40));
    let next_full = OsdMapMsg { maps: [(36, Bytes::from(full(36)))].into(), newest_map: 36, ..only_full };
    let mut seen = Vec::new();
    monc::advance_osdmap_each(Some(&start), &next_full, |m, skipped| seen.push((m.epoch, skipped)));
    assert_eq!(seen, vec![(36, false)]);
}
