//! CRUSH maps made by Ceph's `crushtool` (tests/golden/crush, see its README
//! and tests/golden/regen-crush-osdmap.sh): decode and re-encode byte for byte,
//! and map every input exactly as `crushtool --test --show-mappings` did.

use crush::{do_rule, CrushMap};
use denc::{Decode, Encode};
use std::io::Read;
use std::path::{Path, PathBuf};

fn dir() -> PathBuf {
    Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap_or(env!("CARGO_MANIFEST_DIR").into())).join("../../tests/golden/crush")
}

fn maps() -> Vec<(String, PathBuf)> {
    let mut v: Vec<(String, PathBuf)> = std::fs::read_dir(dir())
        .unwrap()
        .filter_map(|e| {
            let p = e.unwrap().path();
            let n = p.file_name()?.to_str()?.to_string();
            let stem = n.strip_suffix(".bin")?;
            if stem.contains('.') {
                return None; // *.recompiled.bin
            }
            Some((stem.to_string(), p))
        })
        .collect();
    v.sort();
    assert!(v.len() >= 10, "golden crush maps missing");
    v
}

#[test]
fn decode_reencode_is_byte_identical() {
    for (name, p) in maps() {
        let raw = std::fs::read(&p).unwrap();
        let m = CrushMap::from_bytes(raw.clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(&m.to_bytes(u64::MAX)[..], &raw[..], "{name}");
        for n in [0, 4, raw.len() / 3, raw.len() - 1] {
            assert!(CrushMap::from_bytes(raw[..n].to_vec()).is_err() || n == raw.len());
        }
    }
}

/// `NAME[.wD-W...].ruleR.repK.xA-B.mappings.txt.gz`
fn parse_name(file: &str) -> Option<(String, Vec<(usize, f64)>, usize, usize)> {
    let base = file.strip_suffix(".mappings.txt.gz")?;
    let parts: Vec<&str> = base.split('.').collect();
    let map = parts[0].to_string();
    let mut weights = Vec::new();
    let mut rule = None;
    let mut rep = None;
    let mut i = 1;
    while i < parts.len() {
        let p = parts[i];
        if let Some(r) = p.strip_prefix("rule") {
            rule = r.parse().ok();
        } else if let Some(r) = p.strip_prefix("rep") {
            rep = r.parse().ok();
        } else if let Some(w) = p.strip_prefix('w') {
            // "w7-0" or "w7-0" + "5" (the dot of 0.5 split it)
            let (dev, val) = w.split_once('-')?;
            let mut val = val.to_string();
            if parts.get(i + 1).map(|n| n.chars().all(|c| c.is_ascii_digit())).unwrap_or(false) {
                val = format!("{val}.{}", parts[i + 1]);
                i += 1;
            }
            weights.push((dev.parse().ok()?, val.parse().ok()?));
        }
        i += 1;
    }
    Some((map, weights, rule?, rep?))
}

#[test]
fn mappings_match_crushtool() {
    let mut files = 0;
    let mut lines = 0;
    for e in std::fs::read_dir(dir()).unwrap() {
        let p = e.unwrap().path();
        let fname = p.file_name().unwrap().to_str().unwrap().to_string();
        let Some((map, weights, rule, rep)) = parse_name(&fname) else { continue };
        let m = CrushMap::from_bytes(std::fs::read(dir().join(format!("{map}.bin"))).unwrap()).unwrap();
        let mut w = vec![0x10000u32; m.max_devices as usize];
        for (dev, val) in &weights {
            w[*dev] = (val * 65536.0) as u32;
        }
        let args = if m.choose_args.contains_key(&0) {
            Some(0)
        } else if m.choose_args.contains_key(&-1) {
            Some(-1)
        } else {
            None
        };
        let mut text = String::new();
        flate2::read::GzDecoder::new(std::fs::File::open(&p).unwrap()).read_to_string(&mut text).unwrap();
        let mut bad = Vec::new();
        for line in text.lines() {
            // CRUSH rule R x X [a,b,c]
            let Some(rest) = line.strip_prefix("CRUSH rule ") else { continue };
            let mut it = rest.splitn(4, ' ');
            let _r = it.next();
            let _x = it.next();
            let x: i32 = it.next().unwrap().parse().unwrap();
            let want = it.next().unwrap();
            let got = do_rule(&m, rule, x, rep, &w, args);
            let got = format!("[{}]", got.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(","));
            lines += 1;
            if got != want && bad.len() < 5 {
                bad.push(format!("x {x}: want {want} got {got}"));
            }
        }
        assert!(bad.is_empty(), "{fname}:\n{}", bad.join("\n"));
        files += 1;
    }
    assert!(files >= 20, "only {files} mapping files");
    assert!(lines >= 100_000, "only {lines} mappings checked");
}
