//! `crushtool -d` / `crushtool -c` compatibility (tests/golden/crush, see its
//! README): decompiling every golden map gives crushtool's text byte for
//! byte, and compiling every decompiled text gives crushtool's recompiled
//! binary byte for byte.

use crush::text::{compile, decompile};
use crush::CrushMap;
use denc::{Decode, Encode};
use std::path::{Path, PathBuf};

fn dir() -> PathBuf {
    Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap_or(env!("CARGO_MANIFEST_DIR").into())).join("../../tests/golden/crush")
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


// ---------------------------------------------------------------------------
// More crushtool 16.2.15 fixtures (from the CRUSH spec work): `*_SRC` compiled
// with `crushtool -c` gave `*_BIN`, and `crushtool -d` of that gave
// `*_DECOMPILED`.
//   C:  classes hdd/ssd/nvme + a classless device, explicit ids out of order,
//       one bucket without an id (the compiler picks -3), three class rules
//   W:  odd weights (0.0625, 0.1875, 0.3, 0.0001, 99.99999, 3.14159), a device
//       id gap, no tunables (legacy: straw_calc_version 0), a straw root
//   S0/S1: straw buckets with equal and zero weights, straw_calc_version 0/1,
//       and a tree bucket
//   U4: uniform, tree and straw hosts under a classed root: the uniform
//       host's shadow copy fails (crush_add_uniform_bucket_item: -EINVAL),
//       crushtool ignores that and keeps the partial shadow tree
//   b2: decompile only (uniform racks in a list row)
// ---------------------------------------------------------------------------

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

fn check_fixture(name: &str, src: Option<&str>, bin: &str, decompiled: &str, masked: std::ops::Range<usize>) {
    let raw = unhex(bin);
    let m = CrushMap::from_bytes(raw.clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(decompile(&m), decompiled, "{name}: decompile");
    if let Some(src) = src {
        let got = compile(src).unwrap_or_else(|e| panic!("{name}: {e}")).to_bytes(u64::MAX);
        assert_eq!(got.len(), raw.len(), "{name}: compile");
        for (i, (a, b)) in got.iter().zip(&raw).enumerate() {
            assert!(a == b || masked.contains(&i), "{name}: compile: {}", first_diff(&got, &raw));
        }
    }
    // the decompiled text recompiles to a map that decompiles the same
    let m2 = compile(decompiled).unwrap_or_else(|e| panic!("{name} decompiled: {e}"));
    assert_eq!(decompile(&m2), decompiled, "{name}: recompile");
}

#[test]
fn more_crushtool_fixtures() {
    check_fixture("C", C_SRC, C_BIN, C_DECOMPILED, 0..0);
    check_fixture("W", W_SRC, W_BIN, W_DECOMPILED, 0..0);
    check_fixture("S0", S0_SRC, S0_BIN, S0_DECOMPILED, 0..0);
    check_fixture("S1", S1_SRC, S1_BIN, S1_DECOMPILED, 0..0);
    // bytes 186..190: node 0 of the shadow tree bucket -5, which crushtool
    // leaves uninitialized (realloc); oxceph writes 0 there
    check_fixture("U4", U4_SRC, U4_BIN, U4_DECOMPILED, 186..190);
    check_fixture("b2", B2_SRC, B2_BIN, B2_DECOMPILED, 0..0);
}

// ---------------------------------------------------------------------------
// errors
// ---------------------------------------------------------------------------

const SMALL: &str = "tunable straw_calc_version 1
device 0 osd.0 class ssd
device 1 osd.1
type 0 osd
type 1 host
type 2 root
host h0 {
	id -2
	alg straw2
	hash 0
	item osd.0 weight 1.000
	item osd.1 weight 2.000
}
root default {
	id -1
	alg straw2
	hash 0	# rjenkins1
	item h0
}
rule r {
	id 0
	type replicated
	min_size 1
	max_size 10
	step take default
	step chooseleaf firstn 0 type host
	step emit
}
";

fn err_of(text: &str) -> crush::text::CompileError {
    match compile(text) {
        Ok(_) => panic!("compiled:\n{text}"),
        Err(e) => e,
    }
}

#[test]
fn small_map_compiles() {
    let m = compile(SMALL).unwrap();
    assert_eq!(m.max_devices, 2);
    assert_eq!(m.bucket(-1).unwrap().weight, 3 * 0x10000);
    // shadow tree for class ssd: h0~ssd gets -3, default~ssd -4
    assert_eq!(m.class_bucket[&-2][&0], -3);
    assert_eq!(m.class_bucket[&-1][&0], -4);
    assert_eq!(m.name_map[&-4], "default~ssd");
    assert_eq!(m.bucket(-4).unwrap().weight, 0x10000);
    let t = decompile(&m);
    assert!(t.contains("\tid -4 class ssd\t\t# do not change unnecessarily\n"), "{t}");
    assert!(!t.contains("~"), "{t}");
}

#[test]
fn semantic_errors_name_the_line() {
    let cases: &[(&str, &str, usize, &str)] = &[
        ("item osd.1 weight 2.000", "item osd.9 weight 2.000", 12, "item 'osd.9' in bucket 'h0' is not defined"),
        ("host h0 {", "rack h0 {", 7, "bucket type 'rack' is not defined"),
        ("alg straw2\n\thash 0\n\titem osd.0", "alg straw3\n\thash 0\n\titem osd.0", 9, "unknown bucket alg 'straw3'"),
        ("step chooseleaf firstn 0 type host", "step chooseleaf firstn 0 type rack", 26, "type 'rack' not defined"),
        ("step take default", "step take nowhere", 25, "item 'nowhere' not defined"),
        ("step take default", "step take default class nvme", 25, "class 'nvme' does not exist"),
        ("tunable straw_calc_version 1", "tunable straw_calc_versio 1", 1, "tunable straw_calc_versio not recognized"),
        ("device 1 osd.1\n", "device 1 osd.1\ndevice 2 osd.1\n", 4, "item osd.1 defined twice"),
        ("item osd.1 weight 2.000", "item osd.1 weight 200", 12, "device weight limited to 100"),
        ("item osd.0 weight 1.000\n\titem osd.1 weight 2.000", "item osd.0 weight 1.000 pos 1\n\titem osd.1 weight 2.000 pos 1", 12, "has explicit pos 1, which is occupied"),
        ("item osd.0 weight 1.000", "item osd.0 weight 1.000 pos 5", 11, "has pos 5 >= size 5"),
        ("root default {\n\tid -1", "root default {\n\tid -2", 14, "Duplicate bucket id -2"),
    ];
    for (from, to, line, msg) in cases {
        assert!(SMALL.contains(from), "{from}");
        let text = SMALL.replacen(from, to, 1);
        let e = err_of(&text);
        assert_eq!(e.line, *line, "{to}: {e}");
        assert!(e.message.contains(msg), "{to}: {e}");
    }
    // a rule id twice, and a bucket after a rule
    let e = err_of(&format!("{SMALL}rule r2 {{\n id 0\n type replicated\n min_size 1\n max_size 10\n step emit\n}}\n"));
    assert!(e.message.contains("rule 0 already exists") && e.line == 30, "{e}");
    let e = err_of(&format!("{SMALL}host h9 {{\n alg straw2\n}}\n"));
    assert!(e.message.contains("buckets must be defined before rules") && e.line == 29, "{e}");
    // two buckets containing each other
    let e = err_of("type 0 osd\ntype 1 host\nhost a {\n alg straw2\n item b\n}\nhost b {\n alg straw2\n item a\n}\n");
    assert!(e.message.contains("included each other") && e.line == 3, "{e}");
    // choose_args of the wrong size
    let e = err_of(&format!("{SMALL}choose_args 0 {{\n  {{\n    bucket_id -2\n    weight_set [\n      [ 1.0 ]\n    ]\n  }}\n}}\n"));
    assert!(e.message.contains("needs exactly 2 weights but got 1") && e.line == 33, "{e}");
    let e = err_of(&format!("{SMALL}choose_args 0 {{\n  {{\n    bucket_id -7\n  }}\n}}\n"));
    assert!(e.message.contains("bucket_id -7 does not exist") && e.line == 31, "{e}");
}

#[test]
fn syntax_errors_name_the_line() {
    // a weight that is not a number
    let e = err_of(&SMALL.replacen("weight 2.000", "weight two", 1));
    assert_eq!(e.line, 12, "{e}");
    assert!(e.message.contains("parse error at 'two'"), "{e}");
    // a missing closing brace: the next bucket is where it fails
    let e = err_of(&SMALL.replacen("item osd.1 weight 2.000\n}", "item osd.1 weight 2.000\n", 1));
    assert!(e.line == 13 || e.line == 14, "{e}");
    assert!(e.message.starts_with("parse error"), "{e}");
    // rule without steps
    let e = err_of("type 0 osd\nrule x {\n id 0\n type replicated\n min_size 1\n max_size 2\n}\n");
    assert_eq!(e.line, 7, "{e}");
    assert!(e.message.contains("expected step"), "{e}");
    // a statement crushtool does not know
    let e = err_of("type 0 osd\nfrobnicate 7\n");
    assert_eq!(e.line, 2, "{e}");
    assert!(e.to_string().starts_with("line 2: parse error"), "{e}");
    // empty and comment-only texts are valid (an empty map)
    let m = compile("# nothing\n\n").unwrap();
    assert!(m.buckets.is_empty() && m.rules.is_empty());
    assert_eq!(m.tunables, crush::Tunables::LEGACY);
}

// ---------------------------------------------------------------------------
// garbled input never panics
// ---------------------------------------------------------------------------

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn garble(rng: &mut Rng, text: &str) -> String {
    let mut b: Vec<u8> = text.as_bytes().to_vec();
    const JUNK: &[&[u8]] = &[b"{", b"}", b"[", b"]", b"-", b"#", b" ", b"\n", b"0", b"9", b"-99999999999", b"4294967295", b"item", b"id -1", b"class ssd", b"weight", b"pos 3", b".", b"e", b"~", b"\t", b"\0", b"1e99", b"step emit", b"choose_args 0 {"];
    for _ in 0..1 + rng.below(4) {
        if b.is_empty() {
            break;
        }
        let i = rng.below(b.len());
        match rng.below(6) {
            0 => b.truncate(i),
            1 => {
                let n = 1 + rng.below(8);
                b.drain(i..(i + n).min(b.len()));
            }
            2 => {
                let j = JUNK[rng.below(JUNK.len())];
                b.splice(i..i, j.iter().copied());
            }
            3 => {
                let j = rng.below(b.len());
                b.swap(i, j);
            }
            4 => {
                // duplicate a span (e.g. a line or a bucket)
                let n = rng.below(200);
                let span: Vec<u8> = b[i..(i + n).min(b.len())].to_vec();
                let k = rng.below(b.len());
                b.splice(k..k, span);
            }
            _ => b[i] = b"0123456789-abcxyz"[rng.below(17)],
        }
    }
    String::from_utf8_lossy(&b).into_owned()
}

#[test]
fn garbled_texts_fail_cleanly() {
    let mut texts: Vec<String> = vec![SMALL.to_string()];
    for name in names() {
        texts.push(String::from_utf8(read(&format!("{name}.txt"))).unwrap());
        if let Ok(s) = std::fs::read_to_string(dir().join(format!("{name}.src.txt"))) {
            texts.push(s);
        }
    }
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let (mut ok, mut err) = (0, 0);
    for t in &texts {
        let nlines = t.lines().count() + 2;
        // every truncation point of the small map, a sample of the others
        let step = if t.len() < 1000 { 1 } else { t.len() / 150 };
        for cut in (0..t.len()).step_by(step) {
            let cut = (0..=cut).rev().find(|&c| t.is_char_boundary(c)).unwrap();
            match compile(&t[..cut]) {
                Ok(m) => {
                    let _ = decompile(&m);
                    ok += 1;
                }
                Err(e) => {
                    assert!(e.line >= 1 && e.line <= nlines, "{e}");
                    assert!(!e.message.is_empty());
                    err += 1;
                }
            }
        }
        for _ in 0..300 {
            let g = garble(&mut rng, t);
            match compile(&g) {
                Ok(m) => {
                    // whatever compiles must decompile, encode and decode
                    let text = decompile(&m);
                    let raw = m.to_bytes(u64::MAX);
                    let back = CrushMap::from_bytes(raw.to_vec()).expect("compiled map decodes");
                    assert_eq!(decompile(&back), text);
                    ok += 1;
                }
                Err(e) => {
                    assert!(e.line <= g.split('\n').count() + 1, "{e}");
                    assert!(!e.message.is_empty());
                    err += 1;
                }
            }
        }
    }
    assert!(err > 1000, "only {err} errors ({ok} compiled)");
}

/// `C`
const C_SRC: Option<&str> = Some(r#"device 0 osd.0 class hdd
device 1 osd.1 class ssd
device 2 osd.2 class hdd
device 3 osd.3 class ssd
device 4 osd.4 class hdd
device 5 osd.5 class nvme
device 6 osd.6
type 0 osd
type 1 host
type 10 root
host a {
	id -5
	alg straw2
	hash 0
	item osd.0 weight 1.0
	item osd.1 weight 2.0
	item osd.6 weight 1.0
}
host b {
	id -2
	alg straw2
	hash 0
	item osd.2 weight 1.0
	item osd.3 weight 2.0
	item osd.5 weight 0.5
}
host c {
	alg straw2
	hash 0
	item osd.4 weight 1.0
}
root default {
	id -1
	alg straw2
	hash 0
	item a weight 4.0
	item b weight 3.5
	item c weight 1.0
}
rule rep_ssd {
	id 0
	type replicated
	min_size 1
	max_size 10
	step take default class ssd
	step chooseleaf firstn 0 type host
	step emit
}
rule rep_hdd {
	id 1
	type replicated
	min_size 1
	max_size 10
	step take default class hdd
	step chooseleaf firstn 0 type host
	step emit
}
rule rep_all {
	id 2
	type replicated
	min_size 1
	max_size 10
	step take default
	step chooseleaf firstn 0 type host
	step emit
}
"#);
const C_BIN: &str = concat!(
    "0000010010000000030000000700000005000000ffffffff0a0005000080080003000000fbfffffffefffffffdffffff",
    "00000400008003000000010005000000feffffff01000500008003000300000002000000030000000500000000000100",
    "000002000080000005000000fdffffff010005000000010001000000040000000000010005000000fcffffff01000500",
    "0000010001000000000000000000010005000000fbffffff010005000000040003000000000000000100000006000000",
    "00000100000002000000010005000000faffffff010005000000010001000000020000000000010005000000f9ffffff",
    "010005000000010001000000040000000000010005000000f8ffffff0a0005000000030003000000fcfffffffaffffff",
    "f9ffffff00000100000001000000010005000000f7ffffff010005000000020001000000010000000000020005000000",
    "f6ffffff010005000000020001000000030000000000020005000000f5ffffff01000500000000000000000005000000",
    "f4ffffff0a0005000000040003000000f7fffffff6fffffff5ffffff00000200000002000000000005000000f3ffffff",
    "01000500000000000000000005000000f2ffffff010005000080000001000000050000000080000005000000f1ffffff",
    "01000500000000000000000005000000f0ffffff0a0005000080000003000000f3fffffff2fffffff1ffffff00000000",
    "008000000000000001000000030000000001010a01000000f4ffffff0000000006000000000000000100000004000000",
    "000000000000000001000000030000000101010a01000000f8ffffff0000000006000000000000000100000004000000",
    "000000000000000001000000030000000201010a01000000ffffffff0000000006000000000000000100000004000000",
    "00000000000000000300000000000000030000006f73640100000004000000686f73740a00000004000000726f6f7417",
    "000000f0ffffff0c00000064656661756c747e6e766d65f1ffffff06000000637e6e766d65f2ffffff06000000627e6e",
    "766d65f3ffffff06000000617e6e766d65f4ffffff0b00000064656661756c747e737364f5ffffff05000000637e7373",
    "64f6ffffff05000000627e737364f7ffffff05000000617e737364f8ffffff0b00000064656661756c747e686464f9ff",
    "ffff05000000637e686464faffffff05000000627e686464fbffffff0100000061fcffffff05000000617e686464fdff",
    "ffff0100000063feffffff0100000062ffffffff0700000064656661756c7400000000050000006f73642e3001000000",
    "050000006f73642e3102000000050000006f73642e3203000000050000006f73642e3304000000050000006f73642e34",
    "05000000050000006f73642e3506000000050000006f73642e360300000000000000070000007265705f737364010000",
    "00070000007265705f68646402000000070000007265705f616c6c020000000500000013000000000000000000160000",
    "000012000000f0ffffff02000000f1ffffff02000000f2ffffff02000000f3ffffff02000000f4ffffff01000000f5ff",
    "ffff01000000f6ffffff01000000f7ffffff01000000f8ffffff00000000f9ffffff00000000faffffff00000000fcff",
    "ffff00000000000000000000000001000000010000000200000000000000030000000100000004000000000000000500",
    "000002000000030000000000000003000000686464010000000300000073736402000000040000006e766d6504000000",
    "fbffffff0300000000000000fcffffff01000000f7ffffff02000000f3fffffffdffffff0300000000000000f9ffffff",
    "01000000f5ffffff02000000f1fffffffeffffff0300000000000000faffffff01000000f6ffffff02000000f2ffffff",
    "ffffffff0300000000000000f8ffffff01000000f4ffffff02000000f0ffffff00000000",
);
const C_DECOMPILED: &str = r#"# begin crush map

# devices
device 0 osd.0 class hdd
device 1 osd.1 class ssd
device 2 osd.2 class hdd
device 3 osd.3 class ssd
device 4 osd.4 class hdd
device 5 osd.5 class nvme
device 6 osd.6

# types
type 0 osd
type 1 host
type 10 root

# buckets
host a {
	id -5		# do not change unnecessarily
	id -4 class hdd		# do not change unnecessarily
	id -9 class ssd		# do not change unnecessarily
	id -13 class nvme		# do not change unnecessarily
	# weight 4.000
	alg straw2
	hash 0	# rjenkins1
	item osd.0 weight 1.000
	item osd.1 weight 2.000
	item osd.6 weight 1.000
}
host b {
	id -2		# do not change unnecessarily
	id -6 class hdd		# do not change unnecessarily
	id -10 class ssd		# do not change unnecessarily
	id -14 class nvme		# do not change unnecessarily
	# weight 3.500
	alg straw2
	hash 0	# rjenkins1
	item osd.2 weight 1.000
	item osd.3 weight 2.000
	item osd.5 weight 0.500
}
host c {
	id -3		# do not change unnecessarily
	id -7 class hdd		# do not change unnecessarily
	id -11 class ssd		# do not change unnecessarily
	id -15 class nvme		# do not change unnecessarily
	# weight 1.000
	alg straw2
	hash 0	# rjenkins1
	item osd.4 weight 1.000
}
root default {
	id -1		# do not change unnecessarily
	id -8 class hdd		# do not change unnecessarily
	id -12 class ssd		# do not change unnecessarily
	id -16 class nvme		# do not change unnecessarily
	# weight 8.500
	alg straw2
	hash 0	# rjenkins1
	item a weight 4.000
	item b weight 3.500
	item c weight 1.000
}

# rules
rule rep_ssd {
	id 0
	type replicated
	min_size 1
	max_size 10
	step take default class ssd
	step chooseleaf firstn 0 type host
	step emit
}
rule rep_hdd {
	id 1
	type replicated
	min_size 1
	max_size 10
	step take default class hdd
	step chooseleaf firstn 0 type host
	step emit
}
rule rep_all {
	id 2
	type replicated
	min_size 1
	max_size 10
	step take default
	step chooseleaf firstn 0 type host
	step emit
}

# end crush map
"#;

/// `W`
const W_SRC: Option<&str> = Some(r#"device 0 osd.0
device 1 osd.1
device 2 osd.2
device 3 osd.3
device 4 osd.4
device 5 osd.5
device 7 osd.7
type 0 osd
type 1 root
root default {
	id -1
	alg straw2
	hash 0
	item osd.0 weight 0.0625
	item osd.1 weight 0.1875
	item osd.2 weight 0.3
	item osd.3 weight 0.0001
	item osd.4 weight 99.99999
	item osd.5 weight 1.0
}
root other {
	id -3
	alg straw
	hash 0
	item osd.7 weight 3.14159
}
rule x {
	id 0
	type erasure
	min_size 3
	max_size 20
	step take default
	step choose indep 0 type osd
	step emit
}
"#);
const W_BIN: &str = concat!(
    "0000010008000000010000000800000005000000ffffffff01000500d18c650006000000000000000100000002000000",
    "0300000004000000050000000010000000300000cc4c000006000000ffff6300000001000000000004000000fdffffff",
    "010004003f24030001000000070000003f24030000000100000000000000000000000000000000000000000001000000",
    "030000000003031401000000ffffffff0000000003000000000000000000000004000000000000000000000002000000",
    "00000000030000006f73640100000004000000726f6f7409000000fdffffff050000006f74686572ffffffff07000000",
    "64656661756c7400000000050000006f73642e3001000000050000006f73642e3102000000050000006f73642e320300",
    "0000050000006f73642e3304000000050000006f73642e3405000000050000006f73642e3507000000050000006f7364",
    "2e3701000000000000000100000078020000000500000013000000000000000000160000000000000000000000000000",
    "000000000000",
);
const W_DECOMPILED: &str = r#"# begin crush map

# devices
device 0 osd.0
device 1 osd.1
device 2 osd.2
device 3 osd.3
device 4 osd.4
device 5 osd.5
device 7 osd.7

# types
type 0 osd
type 1 root

# buckets
root default {
	id -1		# do not change unnecessarily
	# weight 101.550
	alg straw2
	hash 0	# rjenkins1
	item osd.0 weight 0.062
	item osd.1 weight 0.188
	item osd.2 weight 0.300
	item osd.3 weight 0.000
	item osd.4 weight 100.000
	item osd.5 weight 1.000
}
root other {
	id -3		# do not change unnecessarily
	# weight 3.142
	alg straw
	hash 0	# rjenkins1
	item osd.7 weight 3.142
}

# rules
rule x {
	id 0
	type erasure
	min_size 3
	max_size 20
	step take default
	step choose indep 0 type osd
	step emit
}

# end crush map
"#;

/// `S0`
const S0_SRC: Option<&str> = Some(r#"tunable straw_calc_version 0
device 0 osd.0
device 1 osd.1
device 2 osd.2
device 3 osd.3
device 4 osd.4
device 5 osd.5
device 6 osd.6
type 0 osd
type 1 root
root s1 {
	id -1
	alg straw
	hash 0
	item osd.0 weight 9.3
	item osd.1 weight 2.2
	item osd.2 weight 7.4
	item osd.3 weight 4.3
	item osd.4 weight 4.3
	item osd.5 weight 0
	item osd.6 weight 1.0
}
root s2 {
	id -2
	alg straw
	hash 0
	item osd.0 weight 1.0
	item osd.1 weight 1.0
	item osd.2 weight 3.0
}
root t {
	id -3
	alg tree
	hash 0
	item osd.0 weight 1.0
	item osd.1 weight 2.0
	item osd.2 weight 3.0
	item osd.3 weight 4.0
	item osd.4 weight 5.0
}
"#);
const S0_BIN: &str = concat!(
    "0000010008000000000000000700000004000000ffffffff01000400fd7f1c0007000000000000000100000002000000",
    "03000000040000000500000006000000cc4c0900e87f0100333302000720010066660700e66a0100cc4c040083430100",
    "cc4c0400834301000000000000000000000001000000010004000000feffffff01000400000005000300000000000000",
    "010000000200000000000100000001000000010000000100000003000b87010003000000fdffffff0100030000000f00",
    "050000000000000001000000020000000300000004000000100000000000000100000003000000020000000a00000003",
    "00000007000000040000000f000000050000000500000000000000050000000000000000000000000000000000000000",
    "000000000000000000000000000200000000000000030000006f73640100000004000000726f6f740a000000fdffffff",
    "0100000074feffffff020000007332ffffffff02000000733100000000050000006f73642e3001000000050000006f73",
    "642e3102000000050000006f73642e3203000000050000006f73642e3304000000050000006f73642e34050000000500",
    "00006f73642e3506000000050000006f73642e3600000000020000000500000013000000000000000000160000000000",
    "000000000000000000000000000000",
);
const S0_DECOMPILED: &str = r#"# begin crush map

# devices
device 0 osd.0
device 1 osd.1
device 2 osd.2
device 3 osd.3
device 4 osd.4
device 5 osd.5
device 6 osd.6

# types
type 0 osd
type 1 root

# buckets
root s1 {
	id -1		# do not change unnecessarily
	# weight 28.500
	alg straw
	hash 0	# rjenkins1
	item osd.0 weight 9.300
	item osd.1 weight 2.200
	item osd.2 weight 7.400
	item osd.3 weight 4.300
	item osd.4 weight 4.300
	item osd.5 weight 0.000
	item osd.6 weight 1.000
}
root s2 {
	id -2		# do not change unnecessarily
	# weight 5.000
	alg straw
	hash 0	# rjenkins1
	item osd.0 weight 1.000
	item osd.1 weight 1.000
	item osd.2 weight 3.000
}
root t {
	id -3		# do not change unnecessarily
	# weight 15.000
	alg tree	# do not change pos for existing items unnecessarily
	hash 0	# rjenkins1
	item osd.0 weight 1.000 pos 0
	item osd.1 weight 2.000 pos 1
	item osd.2 weight 3.000 pos 2
	item osd.3 weight 4.000 pos 3
	item osd.4 weight 5.000 pos 4
}

# rules

# end crush map
"#;

/// `S1`
const S1_SRC: Option<&str> = Some(r#"tunable straw_calc_version 1
device 0 osd.0
device 1 osd.1
device 2 osd.2
device 3 osd.3
device 4 osd.4
device 5 osd.5
device 6 osd.6
type 0 osd
type 1 root
root s1 {
	id -1
	alg straw
	hash 0
	item osd.0 weight 9.3
	item osd.1 weight 2.2
	item osd.2 weight 7.4
	item osd.3 weight 4.3
	item osd.4 weight 4.3
	item osd.5 weight 0
	item osd.6 weight 1.0
}
root s2 {
	id -2
	alg straw
	hash 0
	item osd.0 weight 1.0
	item osd.1 weight 1.0
	item osd.2 weight 3.0
}
root t {
	id -3
	alg tree
	hash 0
	item osd.0 weight 1.0
	item osd.1 weight 2.0
	item osd.2 weight 3.0
	item osd.3 weight 4.0
	item osd.4 weight 5.0
}
"#);
const S1_BIN: &str = concat!(
    "0000010008000000000000000700000004000000ffffffff01000400fd7f1c0007000000000000000100000002000000",
    "03000000040000000500000006000000cc4c0900d09a01003333020011260100666607006d7f0100cc4c0400c84f0100",
    "cc4c0400c84f01000000000000000000000001000000010004000000feffffff01000400000005000300000000000000",
    "01000000020000000000010000000100000001000000010000000300aaaa010003000000fdffffff0100030000000f00",
    "050000000000000001000000020000000300000004000000100000000000000100000003000000020000000a00000003",
    "00000007000000040000000f000000050000000500000000000000050000000000000000000000000000000000000000",
    "000000000000000000000000000200000000000000030000006f73640100000004000000726f6f740a000000fdffffff",
    "0100000074feffffff020000007332ffffffff02000000733100000000050000006f73642e3001000000050000006f73",
    "642e3102000000050000006f73642e3203000000050000006f73642e3304000000050000006f73642e34050000000500",
    "00006f73642e3506000000050000006f73642e3600000000020000000500000013000000000000000001160000000000",
    "000000000000000000000000000000",
);
const S1_DECOMPILED: &str = r#"# begin crush map
tunable straw_calc_version 1

# devices
device 0 osd.0
device 1 osd.1
device 2 osd.2
device 3 osd.3
device 4 osd.4
device 5 osd.5
device 6 osd.6

# types
type 0 osd
type 1 root

# buckets
root s1 {
	id -1		# do not change unnecessarily
	# weight 28.500
	alg straw
	hash 0	# rjenkins1
	item osd.0 weight 9.300
	item osd.1 weight 2.200
	item osd.2 weight 7.400
	item osd.3 weight 4.300
	item osd.4 weight 4.300
	item osd.5 weight 0.000
	item osd.6 weight 1.000
}
root s2 {
	id -2		# do not change unnecessarily
	# weight 5.000
	alg straw
	hash 0	# rjenkins1
	item osd.0 weight 1.000
	item osd.1 weight 1.000
	item osd.2 weight 3.000
}
root t {
	id -3		# do not change unnecessarily
	# weight 15.000
	alg tree	# do not change pos for existing items unnecessarily
	hash 0	# rjenkins1
	item osd.0 weight 1.000 pos 0
	item osd.1 weight 2.000 pos 1
	item osd.2 weight 3.000 pos 2
	item osd.3 weight 4.000 pos 3
	item osd.4 weight 5.000 pos 4
}

# rules

# end crush map
"#;

/// `U4`
const U4_SRC: Option<&str> = Some(r#"device 0 osd.0 class hdd
device 1 osd.1 class hdd
device 2 osd.2 class ssd
device 3 osd.3 class hdd
type 0 osd
type 1 host
type 2 root
host hu {
	id -2
	alg uniform
	hash 0
	item osd.0 weight 1.0
	item osd.1 weight 1.0
	item osd.2 weight 1.0
}
host ht {
	id -3
	alg tree
	hash 0
	item osd.3 weight 2.0
}
host hs {
	id -4
	alg straw
	hash 0
	item osd.3 weight 2.0
}
root default {
	id -1
	alg straw2
	hash 0
	item ht
	item hs
	item hu
}
rule r {
	id 0
	type replicated
	min_size 1
	max_size 10
	step take default
	step chooseleaf firstn 0 type host
	step emit
}
"#);
const U4_BIN: &str = concat!(
    "0000010008000000010000000400000005000000ffffffff020005000000070003000000fdfffffffcfffffffeffffff",
    "00000200000002000000030001000000feffffff01000100000003000300000000000000010000000200000000000100",
    "03000000fdffffff0100030000000200010000000300000002000000000000020004000000fcffffff01000400000002",
    "000100000003000000000002000000010003000000fbffffff0100030000000200010000000300000002dbe47b600000",
    "020004000000faffffff0100040000000200010000000300000000000200000001000000000000000000010000000300",
    "00000001010a01000000ffffffff00000000060000000000000001000000040000000000000000000000030000000000",
    "0000030000006f73640100000004000000686f73740200000004000000726f6f740a000000faffffff0600000068737e",
    "686464fbffffff0600000068747e686464fcffffff020000006873fdffffff020000006874feffffff020000006875ff",
    "ffffff0700000064656661756c7400000000050000006f73642e3001000000050000006f73642e310200000005000000",
    "6f73642e3203000000050000006f73642e33010000000000000001000000720200000005000000130000000000000000",
    "00160000000006000000faffffff00000000fbffffff0000000000000000000000000100000000000000020000000100",
    "00000300000000000000020000000000000003000000686464010000000300000073736402000000fcffffff01000000",
    "00000000fafffffffdffffff0100000000000000fbffffff00000000",
);
const U4_DECOMPILED: &str = r#"# begin crush map

# devices
device 0 osd.0 class hdd
device 1 osd.1 class hdd
device 2 osd.2 class ssd
device 3 osd.3 class hdd

# types
type 0 osd
type 1 host
type 2 root

# buckets
host ht {
	id -3		# do not change unnecessarily
	id -5 class hdd		# do not change unnecessarily
	# weight 2.000
	alg tree	# do not change pos for existing items unnecessarily
	hash 0	# rjenkins1
	item osd.3 weight 2.000 pos 0
}
host hs {
	id -4		# do not change unnecessarily
	id -6 class hdd		# do not change unnecessarily
	# weight 2.000
	alg straw
	hash 0	# rjenkins1
	item osd.3 weight 2.000
}
host hu {
	id -2		# do not change unnecessarily
	# weight 3.000
	alg uniform	# do not change bucket size (3) unnecessarily
	hash 0	# rjenkins1
	item osd.0 weight 1.000 pos 0
	item osd.1 weight 1.000 pos 1
	item osd.2 weight 1.000 pos 2
}
root default {
	id -1		# do not change unnecessarily
	# weight 7.000
	alg straw2
	hash 0	# rjenkins1
	item ht weight 2.000
	item hs weight 2.000
	item hu weight 3.000
}

# rules
rule r {
	id 0
	type replicated
	min_size 1
	max_size 10
	step take default
	step chooseleaf firstn 0 type host
	step emit
}

# end crush map
"#;

/// `b2`
const B2_SRC: Option<&str> = None;
const B2_BIN: &str = concat!(
    "0000010008000000010000000500000001000000ffffffff010001000000020002000000000000000100000000000100",
    "01000000feffffff01000100000002000200000002000000030000000000010001000000fdffffff0100010000000100",
    "01000000040000000000010002000000fcffffff020002000000050003000000fffffffffefffffffdffffff00000200",
    "00000200000002000000040000000100000005000000000000000000000000000000000001000000030000000001010a",
    "01000000fcffffff00000000060000000000000001000000040000000000000000000000030000000000000003000000",
    "6f736401000000040000007261636b0200000003000000726f7709000000fcffffff03000000726f77fdffffff050000",
    "007261636b32feffffff050000007261636b31ffffffff050000007261636b3000000000050000006f73642e30010000",
    "00050000006f73642e3102000000050000006f73642e3203000000050000006f73642e3304000000050000006f73642e",
    "3401000000000000000f0000007265706c6963617465645f72756c650000000000000000320000000100000001013600",
    "00000100000000000000000000000000000000",
);
const B2_DECOMPILED: &str = r#"# begin crush map
tunable choose_local_tries 0
tunable choose_local_fallback_tries 0
tunable choose_total_tries 50
tunable chooseleaf_descend_once 1
tunable chooseleaf_vary_r 1
tunable chooseleaf_stable 1
tunable straw_calc_version 1
tunable allowed_bucket_algs 54

# devices
device 0 osd.0
device 1 osd.1
device 2 osd.2
device 3 osd.3
device 4 osd.4

# types
type 0 osd
type 1 rack
type 2 row

# buckets
rack rack0 {
	id -1		# do not change unnecessarily
	# weight 2.000
	alg uniform	# do not change bucket size (2) unnecessarily
	hash 0	# rjenkins1
	item osd.0 weight 1.000 pos 0
	item osd.1 weight 1.000 pos 1
}
rack rack1 {
	id -2		# do not change unnecessarily
	# weight 2.000
	alg uniform	# do not change bucket size (2) unnecessarily
	hash 0	# rjenkins1
	item osd.2 weight 1.000 pos 0
	item osd.3 weight 1.000 pos 1
}
rack rack2 {
	id -3		# do not change unnecessarily
	# weight 1.000
	alg uniform	# do not change bucket size (1) unnecessarily
	hash 0	# rjenkins1
	item osd.4 weight 1.000 pos 0
}
row row {
	id -4		# do not change unnecessarily
	# weight 5.000
	alg list	# add new items at the end; do not change order unnecessarily
	hash 0	# rjenkins1
	item rack0 weight 2.000
	item rack1 weight 2.000
	item rack2 weight 1.000
}

# rules
rule replicated_rule {
	id 0
	type replicated
	min_size 1
	max_size 10
	step take row
	step chooseleaf firstn 0 type rack
	step emit
}

# end crush map
"#;

