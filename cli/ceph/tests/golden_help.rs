//! `ceph --help` command tables against the real CLI's output on the same
//! command descriptions (tests/golden/cli/help_*.out, stdin not a tty: 80 columns).

use ceph_cli::argparse::parse_descriptions;
use ceph_cli::help::{format_help, hdr};
use std::path::Path;

fn dir() -> std::path::PathBuf {
    Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap_or(env!("CARGO_MANIFEST_DIR").into())).join("../../tests/golden/cli")
}

fn table(out: &str) -> &str {
    let h = hdr("Monitor commands:");
    &out[out.find(&h).expect("monitor header") + h.len()..]
}

#[test]
fn help_tables_match_real_cli() {
    let cmds = parse_descriptions(&std::fs::read_to_string(dir().join("cmddesc.json")).unwrap()).unwrap();
    for (file, partial) in [("help_full.out", ""), ("help_osd.out", "osd"), ("help_osd_pool.out", "osd pool")] {
        let real = std::fs::read_to_string(dir().join(file)).unwrap();
        assert_eq!(format_help(&cmds, partial, 80), table(&real), "{file}");
    }
}

#[test]
fn general_usage_matches_real_cli() {
    let real = std::fs::read_to_string(dir().join("help_full.out")).unwrap();
    let ours = ceph_cli::help::general_usage();
    assert!(real.starts_with(&ours), "general usage differs");
}
