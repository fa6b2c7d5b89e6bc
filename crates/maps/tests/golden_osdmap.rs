//! OSDMaps from Ceph's own `osdmaptool` and from a real cluster
//! (tests/golden/osdmap, made by tests/golden/regen-crush-osdmap.sh): decode,
//! re-encode byte for byte (crc included), and place PGs and objects exactly as
//! `osdmaptool --test-map-pgs-dump-all` / `--test-map-object` and the mon's
//! `ceph osd map` did.

use denc::{Decode, Encode};
use maps::OsdMap;
use std::path::{Path, PathBuf};
use types::osd::{ObjectLocator, PgId};

fn dir() -> PathBuf {
    Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap_or(env!("CARGO_MANIFEST_DIR").into())).join("../../tests/golden/osdmap")
}

fn all_maps() -> Vec<PathBuf> {
    let mut v = Vec::new();
    for d in [dir(), dir().join("cluster-seq"), dir().join("inc")] {
        let Ok(rd) = std::fs::read_dir(&d) else { continue };
        for e in rd {
            let p = e.unwrap().path();
            if p.extension().map(|e| e == "osdmap").unwrap_or(false) {
                v.push(p);
            }
        }
    }
    v.sort();
    assert!(v.len() >= 8, "golden osdmaps missing");
    v
}

fn load(p: &Path) -> OsdMap {
    OsdMap::from_bytes(std::fs::read(p).unwrap()).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn decode_reencode_is_byte_identical() {
    for p in all_maps() {
        let raw = std::fs::read(&p).unwrap();
        let m = load(&p);
        assert_eq!(&m.to_bytes(u64::MAX)[..], &raw[..], "{}", p.display());
        // a flipped byte in the body is caught by the crc
        let mut bad = raw.clone();
        let i = bad.len() / 2;
        bad[i] ^= 0x40;
        assert!(OsdMap::from_bytes(bad).is_err(), "{}: corruption not detected", p.display());
    }
}

fn parse_set(s: &str) -> (Vec<i32>, i32) {
    // "([1,2,5], p1)"
    let s = s.trim().trim_start_matches('(').trim_end_matches(')');
    let (list, p) = s.rsplit_once(", p").unwrap();
    let list = list.trim_start_matches('[').trim_end_matches(']');
    let v = if list.is_empty() { vec![] } else { list.split(',').map(|x| x.parse().unwrap()).collect() };
    (v, p.parse().unwrap())
}

fn pg(s: &str) -> PgId {
    let (p, h) = s.split_once('.').unwrap();
    PgId { pool: p.parse().unwrap(), seed: u32::from_str_radix(h, 16).unwrap() }
}

fn check_pgs_dump_all(m: &OsdMap, file: &Path) -> usize {
    let text = std::fs::read_to_string(file).unwrap();
    let mut n = 0;
    for line in text.lines() {
        // "1.0 raw ([1,2,5], p1) up ([1,2,5], p1) acting ([1,2,5], p1)"
        let Some((pgs, rest)) = line.split_once(" raw ") else { continue };
        let (raw, rest) = rest.split_once(" up ").unwrap();
        let (up, acting) = rest.split_once(" acting ").unwrap();
        let id = pg(pgs);
        let got_raw = m.pg_to_raw(id);
        let got = m.pg_to_up_acting(id);
        assert_eq!(got_raw, parse_set(raw), "{} {pgs} raw", file.display());
        assert_eq!((got.up.clone(), got.up_primary), parse_set(up), "{} {pgs} up", file.display());
        assert_eq!((got.acting.clone(), got.acting_primary), parse_set(acting), "{} {pgs} acting", file.display());
        n += 1;
    }
    n
}

#[test]
fn pg_mappings_match_osdmaptool() {
    let mut checked = 0;
    for e in std::fs::read_dir(dir()).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_str().unwrap().to_string();
        let Some(base) = name.strip_suffix(".pgs-dump-all.txt") else { continue };
        let (mapname, mode) = match base.split_once('.') {
            Some((m, mode)) => (m.to_string(), mode.to_string()),
            None => (base.to_string(), String::new()),
        };
        let mut m = load(&dir().join(format!("{mapname}.osdmap")));
        if mode.starts_with("upin") {
            m.mark_all_up_in();
        }
        if mode == "upin-out1" {
            m.osd_weight[1] = 0;
        }
        checked += check_pgs_dump_all(&m, &p);
    }
    assert!(checked > 1000, "only {checked} PGs checked");
}

#[test]
fn objects_map_like_osdmaptool() {
    let mut n = 0;
    for e in std::fs::read_dir(dir()).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_str().unwrap().to_string();
        let Some(mapname) = name.strip_suffix(".upin.objects.txt") else { continue };
        let mut m = load(&dir().join(format!("{mapname}.osdmap")));
        m.mark_all_up_in();
        for line in std::fs::read_to_string(&p).unwrap().lines() {
            // " object 'foo' -> 1.6 -> [5,0,4]"
            let Some(rest) = line.trim().strip_prefix("object '") else { continue };
            let (obj, rest) = rest.split_once("' -> ").unwrap();
            let (pgs, set) = rest.split_once(" -> ").unwrap();
            let want_pg = pg(pgs);
            let raw = m.object_to_raw_pg(obj, &ObjectLocator::new(want_pg.pool as i64)).unwrap();
            let got_pg = m.raw_pg_to_pg(raw);
            assert_eq!(got_pg, want_pg, "{mapname} {obj}");
            let set: Vec<i32> = set.trim_matches(|c| c == '[' || c == ']').split(',').filter(|s| !s.is_empty()).map(|x| x.parse().unwrap()).collect();
            assert_eq!(m.pg_to_up_acting(got_pg).acting, set, "{mapname} {obj}");
            n += 1;
        }
    }
    assert!(n >= 10, "only {n} objects");
}

#[test]
fn objects_map_like_the_real_mon() {
    let m = load(&dir().join("cluster-map.osdmap"));
    let text = std::fs::read_to_string(dir().join("cluster-map.jsonl")).unwrap();
    let mut n = 0;
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["epoch"], m.epoch);
        let mut loc = ObjectLocator::new(v["pool_id"].as_i64().unwrap());
        // The mon prints namespaced objects as "nspace/name", which is ambiguous for
        // names containing '/': the line is either.
        let full = v["objname"].as_str().unwrap();
        let want_raw = v["raw_pgid"].as_str().unwrap();
        let mut raw = m.object_to_raw_pg(full, &loc).unwrap();
        if format!("{}.{:x}", raw.pool, raw.seed) != want_raw {
            if let Some((ns, n)) = full.split_once('/') {
                loc.nspace = ns.to_string();
                raw = m.object_to_raw_pg(n, &loc).unwrap();
            }
        }
        assert_eq!(format!("{}.{:x}", raw.pool, raw.seed), v["raw_pgid"].as_str().unwrap());
        let pgid = m.raw_pg_to_pg(raw);
        assert_eq!(pgid.to_string(), v["pgid"].as_str().unwrap());
        let got = m.pg_to_up_acting(pgid);
        let ints = |k: &str| v[k].as_array().unwrap().iter().map(|x| x.as_i64().unwrap() as i32).collect::<Vec<_>>();
        assert_eq!(got.up, ints("up"), "{line}");
        assert_eq!(got.acting, ints("acting"), "{line}");
        assert_eq!(got.up_primary as i64, v["up_primary"].as_i64().unwrap());
        assert_eq!(got.acting_primary as i64, v["acting_primary"].as_i64().unwrap());
        n += 1;
    }
    assert!(n >= 2000, "only {n} objects");
}

/// 47 real incrementals (tests/golden/osdmap/inc, captured from MOSDMap traffic of
/// a real cluster while it was changed: pools, out/in, flags, affinity, crush,
/// upmaps, temp, snaps, EC, blocklist, down/boot, pg split).
#[test]
fn incrementals_apply_to_the_next_full_map() {
    use maps::Incremental;
    let d = dir().join("inc");
    let mut n = 0;
    for e in 36..=200u32 {
        let incp = d.join(format!("inc-{e}.bin"));
        if !incp.exists() {
            break;
        }
        let raw_inc = std::fs::read(&incp).unwrap();
        let inc = Incremental::from_bytes(raw_inc.clone()).unwrap_or_else(|err| panic!("inc {e}: {err}"));
        assert_eq!(&inc.to_bytes(u64::MAX)[..], &raw_inc[..], "inc {e} re-encode");
        let mut m = load(&d.join(format!("full-{}.osdmap", e - 1)));
        m.apply_incremental(&inc).unwrap();
        let want = std::fs::read(d.join(format!("full-{e}.osdmap"))).unwrap();
        let got = m.to_bytes(u64::MAX);
        let next = OsdMap::from_bytes(got.clone()).unwrap();
        assert_eq!(next.crc, inc.full_crc, "epoch {e}: full_crc");
        assert!(&got[..] == &want[..], "epoch {e}: applied map differs from the mon's full map");
        n += 1;
    }
    assert!(n >= 40, "only {n} incrementals");
    // corrupt incrementals are refused by their crc
    let mut raw = std::fs::read(d.join("inc-37.bin")).unwrap();
    let i = raw.len() / 2;
    raw[i] ^= 1;
    assert!(Incremental::from_bytes(raw).is_err());
}
