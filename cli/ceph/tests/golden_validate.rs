//! Command matching against the real CLI: 3979 word lists run through the real
//! `ceph_argparse.validate_command` (tests/golden/tools/gen_cli_vectors.py) over the
//! real mon's `get_command_descriptions` (tests/golden/cli/cmddesc.json). For each,
//! the JSON we would send and what we print on stderr must be identical.

use ceph_cli::argparse::{parse_descriptions, py_json_dumps, validate_command};
use serde_json::Value;
use std::path::Path;

#[test]
fn validate_command_matches_real_cli() {
    let dir = Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap_or(env!("CARGO_MANIFEST_DIR").into())).join("../../tests/golden/cli");
    let cmds = parse_descriptions(&std::fs::read_to_string(dir.join("cmddesc.json")).unwrap()).unwrap();
    assert_eq!(cmds.len(), 584);
    let text = std::fs::read_to_string(dir.join("validate_vectors.jsonl")).unwrap();
    let mut failures = Vec::new();
    let mut n = 0;
    for line in text.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        let args: Vec<String> = v["args"].as_array().unwrap().iter().map(|a| a.as_str().unwrap().to_string()).collect();
        let want_sent = v["sent"].as_str().map(str::to_string);
        let want_err = v["stderr"].as_str().unwrap();
        let mut err = String::new();
        let got = validate_command(&cmds, &args, &mut err).map(|d| py_json_dumps(&Value::Object(d)));
        n += 1;
        if got != want_sent || err != want_err {
            failures.push(format!("args {args:?}\n  want {want_sent:?}\n  got  {got:?}\n  want stderr {want_err:?}\n  got stderr  {err:?}"));
        }
    }
    assert!(failures.is_empty(), "{} of {n} differ; first:\n{}", failures.len(), failures.iter().take(5).cloned().collect::<Vec<_>>().join("\n"));
}
