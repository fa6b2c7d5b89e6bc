//! RBD: the real `rbd` CLI (librbd) against our mon + OSDs, every step
//! compared with the same run against a real Ceph cluster.

use oxceph_tests::{run, same_as_real, split_logs, OurCluster, Run};
use std::path::{Path, PathBuf};

const REAL_RBD: &str = "/usr/bin/rbd";

fn our_rbd() -> PathBuf {
    oxceph_tests::bin("rbd")
}

fn rbd_with(bin: &Path, conf: &str, args: &[&str]) -> Run {
    let mut a = vec!["-c", conf];
    a.extend_from_slice(args);
    run(bin, &a)
}

fn rbd_at(conf: &str, args: &[&str]) -> Run {
    rbd_with(Path::new(REAL_RBD), conf, args)
}

/// Masks what differs between clusters and runs: image ids, timestamps, and
/// the time and thread prefix of librbd log lines.
fn mask(s: &str, id: &str) -> String {
    let s = if id.is_empty() { s.to_string() } else { s.replace(id, "<id>") };
    let (rest, logs) = split_logs(&s);
    let lines: Vec<String> = rest
        .lines()
        .chain(logs.iter().map(|l| l.as_str()))
        .map(|l| match l.find("_timestamp") {
            Some(i) => format!("{}_timestamp: <t>", &l[..i]),
            None => l.to_string(),
        })
        .collect();
    lines.join("\n")
}

/// The image lifecycle sysadmins run: create, info (text and JSON), ls,
/// resize up and down, rm. One line per step.
fn image_workflow(bin: &Path, conf: &str, pool: &str) -> Vec<String> {
    let rbd_at = |conf: &str, args: &[&str]| rbd_with(bin, conf, args);
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
    let dflt = format!("{pool}/dflt");
    let dflt_snap = format!("{pool}/dflt@s1");
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
        // Default features: exclusive-lock, object-map, fast-diff, deep-flatten.
        vec!["create", &dflt, "--size", "1G"],
        vec!["info", &dflt],
        vec!["bench", &dflt, "--io-type", "write", "--io-size", "4M", "--io-total", "16M"],
        vec!["snap", "create", &dflt_snap],
        vec!["bench", &dflt, "--io-type", "write", "--io-size", "4M", "--io-total", "8M"],
        vec!["du", &dflt],
        vec!["snap", "rm", &dflt_snap],
        vec!["du", &dflt],
        vec!["rm", &dflt],
    ];
    for args in steps {
        let r = rbd_at(conf, &args);
        if args[0] == "bench" {
            // Rates differ; the op count must not.
            out.push(format!("{args:?} -> {} | {}", r.code, r.stdout.lines().last().unwrap_or_default().split("ops/sec").next().unwrap_or_default()));
            continue;
        }
        out.push(format!("{args:?} -> {} | {} | {}", r.code, mask_run(&mask(r.stdout.trim(), &id)), mask_run(r.stderr.trim())));
    }
    out
}

#[test]
fn real_rbd_image_lifecycle_matches_real_ceph() {
    let c = OurCluster::start(3, "");
    let ours = same_as_real(&c, "rbdflow", 8, "rbd", |conf, pool, _, _| image_workflow(Path::new(REAL_RBD), conf, pool));
    assert!(ours[2].contains("size 10 GiB in 2560 objects") && ours[2].contains("features: layering"), "{}", ours[2]);
}

/// Replaces ctime-style dates (`Thu Dec  3 07:01:07 2026`) with `<date>`.
fn mask_dates(l: &str) -> String {
    let b = l.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    while i < l.len() {
        let date = b.len() >= i + 24
            && b[i].is_ascii_uppercase()
            && b[i + 3] == b' '
            && b[i + 4].is_ascii_uppercase()
            && b[i + 7] == b' '
            && b[i + 13] == b':'
            && b[i + 16] == b':'
            && b[i + 19] == b' '
            && b[i + 20..i + 24].iter().all(|c| c.is_ascii_digit());
        if date {
            out.push_str("<date>");
            i += 24;
            continue;
        }
        let c = l[i..].chars().next().expect("char");
        out.push(c);
        i += c.len_utf8();
    }
    out
}

/// Set when our `rbd` is compared with the real one: librbd's own debug log
/// lines (timestamped, from inside the library) are not CLI output.
static DROP_LIBRBD_LOGS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Masks image ids, snapshot ids, timestamps and bench rates in a line.
fn mask_run(s: &str) -> String {
    let mut out = Vec::new();
    // Progress output rewrites its line with '\r': where that lands relative
    // to the log lines varies, so drop it.
    let (rest, mut logs) = split_logs(&s.replace('\r', ""));
    if DROP_LIBRBD_LOGS.load(std::sync::atomic::Ordering::Relaxed) {
        logs.clear();
    }
    for l in rest.trim().lines().chain(logs.iter().map(|l| l.as_str())) {
        if l.starts_with("elapsed:") {
            out.push("elapsed: <rate>".to_string());
            continue;
        }
        let mut w = String::new();
        for tok in l.split_inclusive(|c: char| !c.is_ascii_alphanumeric()) {
            let word = tok.trim_end_matches(|c: char| !c.is_ascii_alphanumeric());
            // Image ids are 10-14 hex digits.
            if (10..=14).contains(&word.len()) && word.chars().all(|c| c.is_ascii_hexdigit()) && word.chars().any(|c| c.is_ascii_digit()) {
                w.push_str("<id>");
                w.push_str(&tok[word.len()..]);
            } else {
                w.push_str(tok);
            }
        }
        let w = match w.find("timestamp") {
            Some(i) if w.contains(':') && !w.contains("TIMESTAMP") => format!("{}timestamp <t>", &w[..i]),
            _ => w,
        };
        out.push(mask_dates(&w));
    }
    out.join("\n")
}

/// Snapshots, protection, clone, children, copy-on-write into the clone,
/// flatten, rollback, unprotect, snap rm, with data checked at each step.
fn snapshot_workflow(bin: &Path, conf: &str, pool: &str, dir: &Path) -> Vec<String> {
    let rbd_at = |conf: &str, args: &[&str]| rbd_with(bin, conf, args);
    let parent = dir.join("parent.raw");
    std::fs::write(&parent, oxceph_tests::pattern_bytes(8 << 20, 5)).unwrap();
    let p = |n: &str| format!("{pool}/{n}");
    let (vm, snap, clone) = (p("vm1"), p("vm1@s1"), p("cl1"));
    let out_snap = dir.join("snap.out");
    let out_back = dir.join("back.out");
    let steps: Vec<Vec<String>> = vec![
        vec!["import".into(), "--image-feature".into(), "layering".into(), parent.display().to_string(), vm.clone()],
        vec!["snap".into(), "create".into(), snap.clone()],
        vec!["snap".into(), "ls".into(), vm.clone()],
        vec!["snap".into(), "protect".into(), snap.clone()],
        vec!["snap".into(), "rm".into(), snap.clone()],
        vec!["clone".into(), snap.clone(), clone.clone()],
        vec!["children".into(), snap.clone()],
        vec!["info".into(), clone.clone()],
        vec!["bench".into(), clone.clone(), "--io-type".into(), "write".into(), "--io-size".into(), "64K".into(), "--io-total".into(), "1M".into()],
        vec!["export".into(), snap.clone(), out_snap.display().to_string()],
        vec!["flatten".into(), clone.clone()],
        vec!["info".into(), clone.clone()],
        vec!["children".into(), snap.clone()],
        vec!["snap".into(), "unprotect".into(), snap.clone()],
        vec!["bench".into(), vm.clone(), "--io-type".into(), "write".into(), "--io-size".into(), "64K".into(), "--io-total".into(), "1M".into()],
        vec!["snap".into(), "rollback".into(), snap.clone()],
        vec!["export".into(), vm.clone(), out_back.display().to_string()],
        vec!["snap".into(), "rm".into(), snap.clone()],
        vec!["snap".into(), "ls".into(), vm.clone()],
        vec!["rm".into(), clone.clone()],
        vec!["rm".into(), vm.clone()],
        vec!["ls".into(), pool.into()],
    ];
    let want = std::fs::read(&parent).unwrap();
    let mut out = Vec::new();
    for args in &steps {
        let a: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
        let r = rbd_at(conf, &a);
        out.push(format!("{a:?} -> {} | {} | {}", r.code, mask_run(r.stdout.trim()), mask_run(r.stderr.trim())).replace(&dir.display().to_string(), "<dir>"));
        if args[0] == "export" {
            let f = std::path::PathBuf::from(&args[2]);
            // The parent snapshot is unchanged by writes to the clone, and a
            // rollback restores exactly the snapshot's bytes.
            out.push(format!("{} equals the imported bytes: {}", args[1], std::fs::read(&f).unwrap_or_default() == want));
        }
    }
    out
}

#[test]
fn real_rbd_snapshots_clones_flatten_and_rollback_match_real_ceph() {
    let c = OurCluster::start(3, "");
    let ours = same_as_real(&c, "rbdsnap", 8, "rbd", |conf, pool, dir, _| snapshot_workflow(Path::new(REAL_RBD), conf, pool, dir));
    assert_eq!(ours.iter().filter(|l| l.ends_with("equals the imported bytes: true")).count(), 2, "{ours:#?}");
    assert!(ours.iter().any(|l| l.contains("parent: ") && l.contains("overlap: 8 MiB")), "{ours:#?}");
}

/// qemu's librbd driver and python3-rbd against our cluster: a qcow2 disk
/// converted into RBD and back out is identical; `qemu-img create` makes an
/// image with the default features; python3-rbd creates, writes, snapshots,
/// clones and flattens.
#[test]
fn qemu_img_and_python3_rbd_work_against_our_cluster() {
    let c = OurCluster::start(3, "");
    c.create_pool("rbd", 8);
    let r = c.mon.ours(&["osd", "pool", "application", "enable", "rbd", "rbd", "--yes-i-really-mean-it"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let d = tempfile::tempdir().unwrap();
    let q = d.path().join("disk.qcow2");
    let q2 = d.path().join("back.qcow2");
    let (q, q2) = (q.to_str().unwrap(), q2.to_str().unwrap());
    let qemu = |bin: &str, args: &[&str]| {
        let r = run(Path::new(bin), args);
        assert_eq!(r.code, 0, "{bin} {args:?}: {}\n{}", r.stdout, r.stderr);
        r.stdout
    };
    let spec = |img: &str| format!("rbd:rbd/{img}:conf={}", c.conf());
    qemu("/usr/bin/qemu-img", &["create", "-f", "qcow2", q, "64M"]);
    qemu("/usr/bin/qemu-io", &["-c", "write -P 0x5a 0 8M", "-c", "write -P 0x33 20M 1M", q]);
    qemu("/usr/bin/qemu-img", &["convert", "-f", "qcow2", "-O", "raw", q, &spec("vm1")]);
    let info = qemu("/usr/bin/qemu-img", &["info", &spec("vm1")]);
    assert!(info.contains("virtual size: 64 MiB (67108864 bytes)"), "{info}");
    qemu("/usr/bin/qemu-img", &["convert", "-f", "raw", "-O", "qcow2", &spec("vm1"), q2]);
    let cmp = qemu("/usr/bin/qemu-img", &["compare", q, q2]);
    assert!(cmp.contains("Images are identical"), "{cmp}");
    qemu("/usr/bin/qemu-img", &["create", "-f", "raw", &spec("qnew"), "1G"]);
    let info = rbd_at(&c.conf(), &["info", "rbd/qnew"]);
    assert!(info.stdout.contains("size 1 GiB in 256 objects") && info.stdout.contains("object-map"), "{}", info.stdout);
    let script = r#"
import rados, rbd, sys
c = rados.Rados(conffile=sys.argv[1]); c.connect()
io = c.open_ioctx("rbd")
r = rbd.RBD()
r.create(io, "py", 8 << 20)
with rbd.Image(io, "py") as img:
    img.write(b"A" * 65536, 0)
    img.create_snap("s1")
    img.protect_snap("s1")
    img.write(b"B" * 65536, 0)
    assert img.read(0, 4) == b"BBBB"
r.clone(io, "py", "s1", io, "pyclone")
with rbd.Image(io, "pyclone") as cl:
    assert cl.read(0, 4) == b"AAAA", cl.read(0, 4)
    cl.write(b"C" * 4096, 4096)
    cl.flatten()
    assert cl.read(0, 8192) == b"A" * 4096 + b"C" * 4096
    try:
        cl.parent_info()
        assert False, "still has a parent after flatten"
    except rbd.ImageNotFound:
        pass
print("ok", sorted(r.list(io)))
"#;
    let r = run(Path::new("/usr/bin/python3"), &["-c", script, &c.conf()]);
    assert_eq!(r.code, 0, "python3-rbd: {}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("'py', 'pyclone'"), "{}", r.stdout);
}

/// `kill -9` of an OSD during the real `rbd import` and during `rbd flatten`:
/// both finish (librbd resends to the new primary), and the images read back
/// byte for byte; after the OSD returns the cluster is clean again.
#[test]
fn kill9_of_an_osd_during_import_and_flatten_keeps_images_intact() {
    kill9_during_import_and_flatten(Path::new(REAL_RBD));
}

/// The same with our `rbd`, whose writes complete early (writearound cache):
/// nothing is lost when an OSD dies under them.
#[test]
fn kill9_of_an_osd_during_our_rbd_import_and_flatten_keeps_images_intact() {
    kill9_during_import_and_flatten(&our_rbd());
}

fn kill9_during_import_and_flatten(bin: &Path) {
    let rbd_at = |conf: &str, args: &[&str]| rbd_with(bin, conf, args);
    let bin = bin.to_path_buf();
    let mut c = OurCluster::start(3, "");
    c.create_pool("rbd", 16);
    let r = c.mon.ours(&["osd", "pool", "application", "enable", "rbd", "rbd", "--yes-i-really-mean-it"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let d = tempfile::tempdir().unwrap();
    let src = d.path().join("src.raw");
    let want = oxceph_tests::pattern_bytes(256 << 20, 11);
    std::fs::write(&src, &want).unwrap();
    let conf = c.conf();
    let src_s = src.display().to_string();
    let ok = |args: &[&str]| {
        let r = rbd_at(&conf, args);
        assert_eq!(r.code, 0, "rbd {args:?}: {}", r.stderr);
    };
    // Import while osd.1 dies.
    let (c2, s2) = (conf.clone(), src_s.clone());
    let b2 = bin.clone();
    let import = std::thread::spawn(move || rbd_with(&b2, &c2, &["import", "--image-feature", "layering", &s2, "rbd/imp"]));
    // Kill once data is landing, and check the import was still running.
    let t0 = std::time::Instant::now();
    while !c.rados(&["-p", "rbd", "ls"]).stdout.contains("rbd_data.") {
        assert!(t0.elapsed().as_secs() < 30 && !import.is_finished(), "no data objects appeared");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    c.kill9_osd(1);
    assert!(!import.is_finished(), "the import finished before the OSD was killed");
    let r = import.join().unwrap();
    assert_eq!(r.code, 0, "import: {}", r.stderr);
    let out = d.path().join("imp.out");
    ok(&["export", "rbd/imp", out.to_str().unwrap()]);
    let got = std::fs::read(&out).unwrap();
    assert!(got == want, "imported image differs: {}", oxceph_tests::diff_report(&got, &want, 4 << 20));
    c.start_osd(1);
    c.wait_clean(120);
    // osd.1 is primary again for its PGs: what it recovered reads back whole.
    let out = d.path().join("imp.recovered");
    ok(&["export", "rbd/imp", out.to_str().unwrap()]);
    let got = std::fs::read(&out).unwrap();
    assert!(got == want, "imported image differs after osd.1 recovered: {}", oxceph_tests::diff_report(&got, &want, 4 << 20));
    // Flatten a clone while osd.2 dies.
    ok(&["snap", "create", "rbd/imp@s"]);
    ok(&["snap", "protect", "rbd/imp@s"]);
    ok(&["clone", "rbd/imp@s", "rbd/cl"]);
    let c2 = conf.clone();
    let b2 = bin.clone();
    let flatten = std::thread::spawn(move || rbd_with(&b2, &c2, &["flatten", "rbd/cl"]));
    std::thread::sleep(std::time::Duration::from_millis(300));
    c.kill9_osd(2);
    assert!(!flatten.is_finished(), "the flatten finished before the OSD was killed");
    let r = flatten.join().unwrap();
    assert_eq!(r.code, 0, "flatten: {}", r.stderr);
    let info = rbd_at(&conf, &["info", "rbd/cl"]);
    assert!(!info.stdout.contains("parent:"), "{}", info.stdout);
    let out = d.path().join("cl.out");
    ok(&["export", "rbd/cl", out.to_str().unwrap()]);
    let got = std::fs::read(&out).unwrap();
    assert!(got == want, "flattened clone differs: {}", oxceph_tests::diff_report(&got, &want, 4 << 20));
    c.start_osd(2);
    c.wait_clean(120);
    let out = d.path().join("cl.after-recovery");
    ok(&["export", "rbd/cl", out.to_str().unwrap()]);
    let got = std::fs::read(&out).unwrap();
    assert!(got == want, "flattened clone differs after recovery: {}", oxceph_tests::diff_report(&got, &want, 4 << 20));
}

/// Our `rbd` on our cluster against the real `rbd` on real Ceph: the image
/// lifecycle and the snapshot/clone workflow give the same output, exit
/// codes and data, step for step.
#[test]
fn our_rbd_matches_real_rbd_on_real_ceph() {
    DROP_LIBRBD_LOGS.store(true, std::sync::atomic::Ordering::Relaxed);
    let c = OurCluster::start(3, "");
    let ours = same_as_real(&c, "ourrbd", 8, "rbd", |conf, pool, dir, ours| {
        let bin = if ours { our_rbd() } else { PathBuf::from(REAL_RBD) };
        let mut v = image_workflow(&bin, conf, pool);
        v.extend(snapshot_workflow(&bin, conf, pool, dir));
        v
    });
    assert!(ours.iter().any(|l| l.contains("size 10 GiB in 2560 objects")), "{ours:#?}");
    assert_eq!(ours.iter().filter(|l| l.ends_with("equals the imported bytes: true")).count(), 2, "{ours:#?}");
}

/// Our `rbd` against real Ceph gives what the real `rbd` gives there; and
/// images move both ways: what the real `rbd` writes ours reads, what ours
/// writes (including clones of the real tool's snapshots) the real one reads,
/// on both clusters.
#[test]
fn our_rbd_against_real_ceph_and_images_shared_with_the_real_rbd() {
    DROP_LIBRBD_LOGS.store(true, std::sync::atomic::Ordering::Relaxed);
    let real_conf = oxceph_tests::ref_cluster().conf().display().to_string();
    let pid = std::process::id();
    let (p1, p2) = (format!("ourref{pid}"), format!("realref{pid}"));
    for p in [&p1, &p2] {
        oxceph_tests::real_ceph(&["osd", "pool", "create", p, "8"]);
        oxceph_tests::real_ceph(&["osd", "pool", "application", "enable", p, "rbd"]);
    }
    let d = tempfile::tempdir().unwrap();
    let (d1, d2) = (d.path().join("ours"), d.path().join("real"));
    std::fs::create_dir_all(&d1).unwrap();
    std::fs::create_dir_all(&d2).unwrap();
    let ours = snapshot_workflow(&our_rbd(), &real_conf, &p1, &d1);
    let real = snapshot_workflow(Path::new(REAL_RBD), &real_conf, &p2, &d2);
    for (o, r) in ours.iter().zip(&real) {
        assert_eq!(o.replace(&p1, "<pool>"), r.replace(&p2, "<pool>"), "our rbd vs the real rbd on real Ceph");
    }
    assert_eq!(ours.len(), real.len());

    let c = OurCluster::start(3, "");
    c.create_pool("rbd", 8);
    let r = c.mon.ours(&["osd", "pool", "application", "enable", "rbd", "rbd", "--yes-i-really-mean-it"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let src = d.path().join("src.raw");
    let want = oxceph_tests::pattern_bytes(20 << 20, 17);
    std::fs::write(&src, &want).unwrap();
    let our = our_rbd();
    let real = PathBuf::from(REAL_RBD);
    for (conf, pool) in [(c.conf(), "rbd".to_string()), (real_conf.clone(), p1.clone())] {
        let img = |n: &str| format!("{pool}/{n}");
        for (writer, reader, name) in [(&real, &our, "byreal"), (&our, &real, "byours")] {
            let ok = |bin: &PathBuf, args: &[&str]| {
                let r = rbd_with(bin, &conf, args);
                assert_eq!(r.code, 0, "{} {args:?} on {conf}: {}\n{}", bin.display(), r.stdout, r.stderr);
                r.stdout
            };
            // default features: the reader must honour the writer's object map and lock
            ok(writer, &["import", src.to_str().unwrap(), &img(name)]);
            ok(writer, &["snap", "create", &img(&format!("{name}@s"))]);
            ok(writer, &["snap", "protect", &img(&format!("{name}@s"))]);
            let out = d.path().join(format!("{name}.out"));
            let _ = std::fs::remove_file(&out);
            ok(reader, &["export", &img(name), out.to_str().unwrap()]);
            assert!(std::fs::read(&out).unwrap() == want, "{name} read back by the other rbd differs on {conf}");
            // the reader clones the writer's snapshot, writes into the clone, and
            // the writer sees the clone's data through its parent
            ok(reader, &["clone", &img(&format!("{name}@s")), &img(&format!("{name}-cl"))]);
            ok(reader, &["bench", &img(&format!("{name}-cl")), "--io-type", "write", "--io-size", "4K", "--io-total", "64K", "--io-pattern", "seq"]);
            let ch = ok(writer, &["children", &img(&format!("{name}@s"))]);
            assert_eq!(ch.trim(), img(&format!("{name}-cl")));
            let (a, b) = (d.path().join(format!("{name}-a")), d.path().join(format!("{name}-b")));
            let _ = std::fs::remove_file(&a);
            let _ = std::fs::remove_file(&b);
            ok(writer, &["export", &img(&format!("{name}-cl")), a.to_str().unwrap()]);
            ok(reader, &["export", &img(&format!("{name}-cl")), b.to_str().unwrap()]);
            let (a, b) = (std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
            assert!(a == b, "the clone reads differently through the two tools on {conf}");
            assert!(a.len() == want.len() && a != want, "the bench's writes are missing from the clone on {conf}");
            let snap = d.path().join(format!("{name}-snap"));
            let _ = std::fs::remove_file(&snap);
            ok(reader, &["export", &img(&format!("{name}@s")), snap.to_str().unwrap()]);
            assert!(std::fs::read(&snap).unwrap() == want, "writes into the clone changed its parent on {conf}");
            ok(writer, &["flatten", &img(&format!("{name}-cl"))]);
            ok(reader, &["rm", &img(&format!("{name}-cl"))]);
            ok(reader, &["snap", "unprotect", &img(&format!("{name}@s"))]);
            ok(reader, &["snap", "rm", &img(&format!("{name}@s"))]);
            ok(reader, &["rm", &img(name)]);
        }
    }
    for p in [&p1, &p2] {
        let _ = run(Path::new("/usr/bin/ceph"), &["-c", &real_conf, "osd", "pool", "rm", p, p, "--yes-i-really-really-mean-it"]);
    }
}

/// `rbd map` without kernel RBD/NBD: a loop device over the image served
/// through FUSE; mkfs.ext4, mount, files, unmount, unmap, map again and the
/// files are intact; `showmapped` lists it; a snapshot maps read-only.
#[test]
fn our_rbd_map_gives_a_block_device_for_mkfs_and_mount() {
    let c = OurCluster::start(3, "");
    c.create_pool("rbd", 8);
    let r = c.mon.ours(&["osd", "pool", "application", "enable", "rbd", "rbd", "--yes-i-really-mean-it"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let d = tempfile::tempdir().unwrap();
    let state = d.path().join("state");
    let env = [("OXCEPH_RBD_MAP_DIR", state.to_str().unwrap())];
    let conf = c.conf();
    let rbd = |args: &[&str]| {
        let mut a = vec!["-c", conf.as_str()];
        a.extend_from_slice(args);
        let r = oxceph_tests::run_env(&our_rbd(), &a, &env);
        assert_eq!(r.code, 0, "rbd {args:?}: {}\n{}", r.stdout, r.stderr);
        r.stdout
    };
    let sh = |cmd: &str, args: &[&str]| {
        let r = run(Path::new(cmd), args);
        assert_eq!(r.code, 0, "{cmd} {args:?}: {}\n{}", r.stdout, r.stderr);
        r.stdout
    };
    rbd(&["create", "rbd/vm1-image", "--size", "256M"]);
    let dev = rbd(&["map", "rbd/vm1-image"]).trim().to_string();
    assert!(dev.starts_with("/dev/"), "{dev}");
    let shown = rbd(&["showmapped"]);
    assert!(shown.starts_with("id  pool  namespace  image      snap  device"), "{shown}");
    assert!(shown.lines().nth(1).is_some_and(|l| l.contains("rbd") && l.contains("vm1-image") && l.contains(&dev)), "{shown}");
    let mnt = d.path().join("mnt");
    std::fs::create_dir_all(&mnt).unwrap();
    let mnt_s = mnt.to_str().unwrap();
    sh("/sbin/mkfs.ext4", &["-q", &dev]);
    sh("/bin/mount", &[&dev, mnt_s]);
    let data = oxceph_tests::pattern_bytes(8 << 20, 3);
    std::fs::write(mnt.join("data.bin"), &data).unwrap();
    std::fs::write(mnt.join("hello.txt"), b"hello from oxceph\n").unwrap();
    sh("/bin/umount", &[mnt_s]);
    rbd(&["unmap", &dev]);
    assert_eq!(rbd(&["showmapped"]).trim(), "");
    // again, from scratch: what is on the image is what was written
    let dev = rbd(&["map", "rbd/vm1-image"]).trim().to_string();
    sh("/bin/mount", &[&dev, mnt_s]);
    assert!(std::fs::read(mnt.join("data.bin")).unwrap() == data, "file differs after remap");
    assert_eq!(std::fs::read(mnt.join("hello.txt")).unwrap(), b"hello from oxceph\n");
    // the real `rbd` snapshots the image while we hold its lock: librbd asks
    // the owner (our map) to snapshot, we decline, it asks for the lock, we
    // hand it over, and take it back for the next write
    std::fs::write(mnt.join("before.txt"), b"before the snapshot\n").unwrap();
    sh("/bin/sync", &[]);
    let r = rbd_with(Path::new(REAL_RBD), &conf, &["snap", "create", "rbd/vm1-image@s1"]);
    assert_eq!(r.code, 0, "real rbd snap create of a mapped image: {}", r.stderr);
    std::fs::write(mnt.join("after.txt"), b"after the snapshot\n").unwrap();
    sh("/bin/sync", &[]);
    sh("/bin/umount", &[mnt_s]);
    rbd(&["unmap", "rbd/vm1-image"]);
    // a snapshot maps read-only
    let sdev = rbd(&["map", "rbd/vm1-image@s1"]).trim().to_string();
    assert_eq!(sh("/sbin/blockdev", &["--getro", &sdev]).trim(), "1");
    sh("/bin/mount", &["-o", "ro,noload", &sdev, mnt_s]);
    assert!(std::fs::read(mnt.join("data.bin")).unwrap() == data, "snapshot file differs");
    assert_eq!(std::fs::read(mnt.join("before.txt")).unwrap(), b"before the snapshot\n");
    assert!(!mnt.join("after.txt").exists(), "a write after the snapshot shows in it");
    sh("/bin/umount", &[mnt_s]);
    rbd(&["unmap", &sdev]);
    // Devices come from the kernel's nbd driver where it is loaded, else
    // from FUSE and a loop device; asking for nbd without it says so.
    let has_nbd = Path::new("/sys/module/nbd").exists();
    assert_eq!(sdev.starts_with("/dev/nbd"), has_nbd, "{sdev}");
    if !has_nbd {
        let mut a = vec!["-c", conf.as_str()];
        a.extend_from_slice(&["map", "-t", "nbd", "rbd/vm1-image"]);
        let r = oxceph_tests::run_env(&our_rbd(), &a, &env);
        assert_eq!(r.code, 2, "{}", r.stderr);
        assert!(r.stderr.contains("no nbd driver") && r.stderr.contains("modprobe nbd"), "{}", r.stderr);
        assert_eq!(rbd(&["showmapped"]).trim(), "");
    }
}

/// While a real librbd client (python3-rbd) has an image open and holds its
/// exclusive lock, our `rbd snap create` asks it for the lock (REQUEST_LOCK)
/// as librbd does: the owner lets go, the snapshot is taken with the data the
/// owner wrote, and the owner takes the lock back for its next write. On our
/// cluster and on real Ceph.
#[test]
fn our_rbd_gets_the_lock_from_a_live_librbd_owner() {
    let c = OurCluster::start(3, "");
    c.create_pool("rbd", 8);
    let r = c.mon.ours(&["osd", "pool", "application", "enable", "rbd", "rbd", "--yes-i-really-mean-it"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let pool = format!("lockreq{}", std::process::id());
    oxceph_tests::real_ceph(&["osd", "pool", "create", &pool, "8"]);
    oxceph_tests::real_ceph(&["osd", "pool", "application", "enable", &pool, "rbd"]);
    let real_conf = oxceph_tests::ref_cluster().conf().display().to_string();
    let holder = r#"
import rados, rbd, sys, time
c = rados.Rados(conffile=sys.argv[1]); c.connect()
io = c.open_ioctx(sys.argv[2])
with rbd.Image(io, "held") as img:
    img.write(b"A" * 4096, 0)
    print("locked", flush=True)
    time.sleep(6)
    img.write(b"B" * 4096, 0)
    print("wrote again", img.read(0, 4), flush=True)
"#;
    for (conf, pool) in [(c.conf(), "rbd".to_string()), (real_conf, pool.clone())] {
        let ok = |bin: &Path, args: &[&str]| {
            let r = rbd_with(bin, &conf, args);
            assert_eq!(r.code, 0, "{} {args:?}: {}\n{}", bin.display(), r.stdout, r.stderr);
            r.stdout
        };
        ok(Path::new(REAL_RBD), &["create", &format!("{pool}/held"), "--size", "64M"]);
        let (c2, p2, h) = (conf.clone(), pool.clone(), holder.to_string());
        let t = std::thread::spawn(move || run(Path::new("/usr/bin/python3"), &["-c", &h, &c2, &p2]));
        let t0 = std::time::Instant::now();
        while !ok(Path::new(REAL_RBD), &["lock", "ls", &format!("{pool}/held")]).contains("exclusive lock") {
            assert!(t0.elapsed().as_secs() < 20, "the python client never took the lock");
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        ok(&our_rbd(), &["snap", "create", &format!("{pool}/held@s1")]);
        assert!(!t.is_finished(), "the owner finished before the lock was requested");
        let r = t.join().unwrap();
        assert_eq!(r.code, 0, "holder: {}\n{}", r.stdout, r.stderr);
        assert!(r.stdout.contains("wrote again b'BBBB'"), "{}", r.stdout);
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("s1");
        ok(&our_rbd(), &["export", &format!("{pool}/held@s1"), out.to_str().unwrap()]);
        assert_eq!(&std::fs::read(&out).unwrap()[..4], b"AAAA");
    }
    let _ = oxceph_tests::real_ceph(&["osd", "pool", "rm", &pool, &pool, "--yes-i-really-really-mean-it"]);
}

/// `export-diff`/`import-diff` interoperate with the real `rbd`: the
/// changes since a snapshot exported by either tool and imported by the
/// other rebuild the same image.
#[test]
fn export_diff_and_import_diff_interoperate_with_the_real_rbd() {
    let c = OurCluster::start(3, "");
    c.create_pool("rbd", 8);
    let r = c.mon.ours(&["osd", "pool", "application", "enable", "rbd", "rbd", "--yes-i-really-mean-it"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let conf = c.conf();
    let d = tempfile::tempdir().unwrap();
    let p = |n: &str| d.path().join(n).display().to_string();
    let real = PathBuf::from(REAL_RBD);
    let ours = our_rbd();
    let ok = |bin: &PathBuf, args: &[&str]| {
        let r = rbd_with(bin, &conf, args);
        assert_eq!(r.code, 0, "{} {args:?}: {}\n{}", bin.display(), r.stdout, r.stderr);
    };
    std::fs::write(p("base"), oxceph_tests::pattern_bytes(8 << 20, 21)).unwrap();
    ok(&real, &["import", &p("base"), "rbd/src"]);
    ok(&real, &["snap", "create", "rbd/src@s1"]);
    ok(&ours, &["bench", "rbd/src", "--io-type", "write", "--io-size", "4K", "--io-total", "256K", "--io-pattern", "rand"]);
    ok(&ours, &["export-diff", "--from-snap", "s1", "rbd/src", &p("ours.diff")]);
    ok(&real, &["export-diff", "--from-snap", "s1", "rbd/src", &p("real.diff")]);
    ok(&real, &["export", "rbd/src", &p("want")]);
    assert!(std::fs::read(p("want")).unwrap() != std::fs::read(p("base")).unwrap(), "the bench changed nothing");
    // each diff applied by the other tool onto a copy of the base snapshot
    for (name, diff, applier) in [("a", "real.diff", &ours), ("b", "ours.diff", &real)] {
        ok(&real, &["import", &p("base"), &format!("rbd/{name}")]);
        ok(&real, &["snap", "create", &format!("rbd/{name}@s1")]);
        ok(applier, &["import-diff", &p(diff), &format!("rbd/{name}")]);
        ok(&real, &["export", &format!("rbd/{name}"), &p(name)]);
        assert!(std::fs::read(p(name)).unwrap() == std::fs::read(p("want")).unwrap(), "{diff} applied by the other rbd differs");
    }
    // and a full diff (no start snapshot) of a snapshot, into a new image
    ok(&ours, &["export-diff", "rbd/src@s1", &p("full.diff")]);
    ok(&real, &["create", "rbd/c", "--size", "8M"]);
    ok(&real, &["import-diff", &p("full.diff"), "rbd/c"]);
    ok(&real, &["export", "rbd/c@s1", &p("c")]);
    assert!(std::fs::read(p("c")).unwrap() == std::fs::read(p("base")).unwrap(), "full diff differs");
}
