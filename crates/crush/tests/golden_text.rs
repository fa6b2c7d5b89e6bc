//! `crushtool -d` / `crushtool -c` compatibility (tests/golden/crush, see its
//! README): decompiling every golden map gives crushtool's text byte for
//! byte, and compiling every decompiled text gives crushtool's recompiled
//! binary byte for byte.

use crush::text::{compile, decompile};
use crush::CrushMap;
use denc::{Decode, Encode};
use std::path::{Path, PathBuf};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/golden/crush")
}

/// Map names that have NAME.bin (not *.recompiled.bin).
fn names() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir())
        .unwrap()
        .filter_map(|e| {
            let n = e.ok()?.file_name().into_string().ok()?;
            let stem = n.strip_suffix(".bin")?;
            (!stem.contains('.')).then(|| stem.to_string())
        })
        .collect();
    v.sort();
    assert!(v.len() >= 10, "golden crush maps missing");
    v
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn first_diff(a: &[u8], b: &[u8]) -> String {
    let i = a.iter().zip(b).position(|(x, y)| x != y).unwrap_or(a.len().min(b.len()));
    format!("first difference at byte {i} (lengths {} vs {})", a.len(), b.len())
}

#[test]
fn decompile_matches_crushtool() {
    let mut bad = Vec::new();
    for name in names() {
        let m = CrushMap::from_bytes(read(&format!("{name}.bin"))).unwrap();
        let want = String::from_utf8(read(&format!("{name}.txt"))).unwrap();
        let got = decompile(&m);
        if got != want {
            let line = got.lines().zip(want.lines()).position(|(a, b)| a != b).unwrap_or(0);
            bad.push(format!(
                "{name}: line {}: got {:?} want {:?}",
                line + 1,
                got.lines().nth(line),
                want.lines().nth(line)
            ));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn compile_matches_crushtool() {
    let mut bad = Vec::new();
    for name in names() {
        let text = String::from_utf8(read(&format!("{name}.txt"))).unwrap();
        let want = read(&format!("{name}.recompiled.bin"));
        match compile(&text) {
            Ok(m) => {
                let got = m.to_bytes(u64::MAX);
                if got[..] != want[..] {
                    bad.push(format!("{name}: {}", first_diff(&got, &want)));
                }
            }
            Err(e) => bad.push(format!("{name}: {e}")),
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

/// The hand-written sources compile to what crushtool made of them.
#[test]
fn compile_sources_matches_crushtool() {
    let mut n = 0;
    for name in names() {
        let Ok(src) = std::fs::read_to_string(dir().join(format!("{name}.src.txt"))) else { continue };
        let want = read(&format!("{name}.bin"));
        let got = compile(&src).unwrap_or_else(|e| panic!("{name}.src.txt: {e}")).to_bytes(u64::MAX);
        assert!(got[..] == want[..], "{name}.src.txt: {}", first_diff(&got, &want));
        n += 1;
    }
    assert!(n >= 5, "only {n} sources");
}

/// decompile(compile(decompile(m))) == decompile(m): the text is a fixed point.
#[test]
fn text_round_trip_is_stable() {
    for name in names() {
        let m = CrushMap::from_bytes(read(&format!("{name}.bin"))).unwrap();
        let t1 = decompile(&m);
        let m2 = compile(&t1).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(decompile(&m2), t1, "{name}");
        // and the recompiled binary decodes to the same map
        let raw = m2.to_bytes(u64::MAX);
        assert_eq!(CrushMap::from_bytes(raw.to_vec()).unwrap(), m2, "{name}");
    }
}

#[test]
fn tmp_spec_fixtures() {
    let d = Path::new("/tmp/spec/crush_fixtures");
    let mut out = Vec::new();
    for e in std::fs::read_dir(d).unwrap() {
        let p = e.unwrap().path();
        let n = p.file_name().unwrap().to_str().unwrap().to_string();
        if let Some(stem) = n.strip_suffix(".bin") {
            let raw = std::fs::read(&p).unwrap();
            let m = CrushMap::from_bytes(raw.clone()).unwrap();
            let want = std::fs::read_to_string(d.join(format!("{stem}.decompiled.txt"))).unwrap();
            out.push(format!("{stem}: decompile {}", if decompile(&m) == want { "OK" } else { "DIFF" }));
            if let Ok(src) = std::fs::read_to_string(d.join(format!("{stem}.txt"))) {
                match compile(&src) {
                    Ok(m2) => {
                        let got = m2.to_bytes(u64::MAX);
                        out.push(format!("{stem}: compile {}", if got[..] == raw[..] { "OK".to_string() } else { first_diff(&got, &raw) }));
                        if got[..] != raw[..] { eprintln!("{:#?}\n{:#?}", m2, m); }
                    }
                    Err(e) => out.push(format!("{stem}: compile ERR {e}")),
                }
            }
        } else if n.ends_with(".txt") && !n.contains('.') == false && !d.join(format!("{}.bin", n.trim_end_matches(".txt"))).exists() && !n.contains("mappings") && !n.contains("decompiled") {
            let src = std::fs::read_to_string(&p).unwrap();
            out.push(format!("{n} (no bin): {:?}", compile(&src).map(|m| decompile(&m))));
        }
    }
    out.sort();
    panic!("{}", out.join("\n"));
}
