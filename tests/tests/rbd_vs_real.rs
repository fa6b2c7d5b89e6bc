//! RBD: the real `rbd` CLI (librbd) against our mon + OSDs, every step
//! compared with the same run against a real Ceph cluster.

use oxceph_tests::{real_ceph, ref_cluster, run, OurCluster, Run};
use std::path::Path;

fn rbd_at(conf: &str, args: &[&str]) -> Run {
    let mut a = vec!["-c", conf];
    a.extend_from_slice(args);
    run(Path::new("/usr/bin/rbd"), &a)
}

/// Masks what differs between clusters and runs: image ids, timestamps, and
/// the time and thread prefix of librbd log lines (which interleave with the
/// CLI's own stderr in either order, so lines are sorted).
fn mask(s: &str, id: &str) -> String {
    let s = if id.is_empty() { s.to_string() } else { s.replace(id, "<id>") };
    let mut lines: Vec<String> = s
        .lines()
        .map(|l| match l.find("_timestamp") {
            Some(i) => format!("{}_timestamp: <t>", &l[..i]),
            None => match l.find(" -1 librbd") {
                Some(i) if l.starts_with("20") => l[i + 1..].to_string(),
                _ => l.to_string(),
            },
        })
        .collect();
    if lines.iter().any(|l| l.starts_with("-1 librbd")) {
        lines.sort();
    }
    lines.join("\n")
}

/// The image lifecycle sysadmins run: create, info (text and JSON), ls,
/// resize up and down, rm. One line per step.
fn image_workflow(conf: &str, pool: &str) -> Vec<String> {
    let mut out = Vec::new();
    let img = format!("{pool}/vm1-image");
    let create = rbd_at(conf, &["create", &img, "--image-feature", "layering", "--size", "10G"]);
    out.push(format!("create -> {} | {} | {}", create.code, create.stdout.trim(), create.stderr.trim()));
    let info = rbd_at(conf, &["info", &img, "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&info.stdout).unwrap_or_default();
    let id = v["id"].as_str().unwrap_or_default().to_string();
    // JSON timestamps are strings too: mask them field by field.
    let mut vm = v.clone();
    for k in ["create_timestamp", "access_timestamp", "modify_timestamp", "id", "block_name_prefix"] {
        if vm.get(k).is_some() {
            vm[k] = serde_json::json!("<masked>");
        }
    }
    out.push(format!("info json -> {} | {}", info.code, vm));
    let missing = format!("{pool}/missing");
    let steps: Vec<Vec<&str>> = vec![
        vec!["info", &img],
        vec!["ls", pool],
        vec!["ls", "-l", pool],
        vec!["resize", &img, "--size", "15G"],
        vec!["info", &img],
        vec!["resize", &img, "--size", "5G"],
        vec!["resize", &img, "--size", "5G", "--allow-shrink"],
        vec!["info", &img],
        vec!["create", &img, "--size", "1G"],
        vec!["info", &missing],
        vec!["rm", &img],
        vec!["ls", pool],
        vec!["info", &img],
    ];
    for args in steps {
        let r = rbd_at(conf, &args);
        out.push(format!("{args:?} -> {} | {} | {}", r.code, mask(r.stdout.trim(), &id), mask(r.stderr.trim(), &id)));
    }
    out
}

#[test]
fn real_rbd_image_lifecycle_matches_real_ceph() {
    let c = OurCluster::start(3, "");
    let pool = format!("rbdflow{}", std::process::id());
    c.create_pool(&pool, 8);
    let r = c.mon.ours(&["osd", "pool", "application", "enable", &pool, "rbd", "--yes-i-really-mean-it"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    real_ceph(&["osd", "pool", "create", &pool, "8"]);
    real_ceph(&["osd", "pool", "application", "enable", &pool, "rbd"]);
    let ours = image_workflow(&c.conf(), &pool);
    let real = image_workflow(ref_cluster().conf().to_str().unwrap(), &pool);
    let _ = run(Path::new("/usr/bin/ceph"), &["-c", ref_cluster().conf().to_str().unwrap(), "osd", "pool", "rm", &pool, &pool, "--yes-i-really-really-mean-it"]);
    for (o, r) in ours.iter().zip(&real) {
        assert_eq!(o, r, "ours vs real Ceph differ");
    }
    assert_eq!(ours.len(), real.len());
    assert!(ours[2].contains("size 10 GiB in 2560 objects") && ours[2].contains("features: layering"), "{}", ours[2]);
}
