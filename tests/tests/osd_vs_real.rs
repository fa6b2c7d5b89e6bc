//! ceph-osd: the real `rados` CLI, `rados bench` and python3-rados against our
//! mon + 3 OSDs, with results compared to the same runs against a real Ceph
//! cluster; OSD crashes during writes, recovery, and a whole-cluster crash.

use oxceph_tests::{bin, run, same_as_real, OurCluster, Run};
use std::path::Path;

fn data(n: usize, seed: u64) -> Vec<u8> {
    oxceph_tests::pattern_bytes(n, seed)
}

fn rados_at(tool: &Path, conf: &str, args: &[&str]) -> Run {
    let mut a = vec!["-c", conf];
    a.extend_from_slice(args);
    run(tool, &a)
}

const REAL_RADOS: &str = "/usr/bin/rados";

/// Runs the same workflow with a `rados` CLI (`tool`) against a cluster;
/// returns one line per step (exit code, output, error) with
/// cluster-specific values masked.
fn workflow(tool: &Path, conf: &str, pool: &str, dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let step = |args: &[&str]| -> String {
        let mut a = vec!["-p", pool];
        a.extend_from_slice(args);
        let r = rados_at(tool, conf, &a);
        let mask = |s: &str| {
            s.lines()
                .map(|l| match l.find(" mtime ") {
                    Some(i) => match l.find(", size") {
                        Some(j) => format!("{} mtime <t>{}", &l[..i], &l[j..]),
                        None => l.to_string(),
                    },
                    None => l.to_string(),
                })
                .collect::<Vec<_>>()
                .join("\n")
        };
        let d = dir.display().to_string();
        format!("{args:?} -> {} | {} | {}", r.code, mask(r.stdout.trim()), mask(r.stderr.trim())).replace(&d, "<dir>")
    };
    let sizes = [("o0", 0usize), ("o1", 1), ("o4m", (4 << 20) + 1), ("o64m", 64 << 20)];
    for (i, (name, size)) in sizes.iter().enumerate() {
        let f = dir.join(format!("{name}.in"));
        std::fs::write(&f, data(*size, i as u64 + 7)).unwrap();
        out.push(step(&["put", name, f.to_str().unwrap()]));
        let o = dir.join(format!("{name}.out"));
        out.push(step(&["get", name, o.to_str().unwrap()]));
        let same = std::fs::read(&f).unwrap() == std::fs::read(&o).unwrap_or_default();
        out.push(format!("{name} read back intact: {same}"));
        out.push(step(&["stat", name]));
    }
    let small = dir.join("small");
    std::fs::write(&small, b"xyz").unwrap();
    for args in [
        vec!["setxattr", "o1", "user.k", "v1"],
        vec!["getxattr", "o1", "user.k"],
        vec!["setxattr", "o1", "user.j", "v2"],
        vec!["listxattr", "o1"],
        vec!["rmxattr", "o1", "user.k"],
        vec!["getxattr", "o1", "user.k"],
        vec!["listxattr", "o1"],
        vec!["setomapval", "o1", "a", "1"],
        vec!["setomapval", "o1", "b", "22"],
        vec!["setomapval", "o1", "c", "333"],
        vec!["listomapvals", "o1"],
        vec!["listomapkeys", "o1"],
        vec!["rmomapkey", "o1", "a"],
        vec!["listomapkeys", "o1"],
        vec!["getomapval", "o1", "b"],
        vec!["getomapval", "o1", "zz"],
        vec!["setomapheader", "o1", "hdr"],
        vec!["getomapheader", "o1"],
        vec!["clearomap", "o1"],
        vec!["listomapkeys", "o1"],
        vec!["append", "o1", small.to_str().unwrap()],
        vec!["stat", "o1"],
        vec!["truncate", "o1", "2"],
        vec!["stat", "o1"],
        vec!["-N", "ns1", "put", "nsobj", small.to_str().unwrap()],
        vec!["-N", "ns1", "ls"],
        vec!["-N", "ns1", "stat", "o1"],
        vec!["rm", "o0"],
        vec!["stat", "o0"],
        vec!["rm", "o0"],
        vec!["get", "missing", "/dev/null"],
        vec!["create", "c1"],
        vec!["create", "c1"],
        vec!["stat", "c1"],
        vec!["listwatchers", "o1"],
        vec!["getxattr", "missing", "user.k"],
        vec!["listomapkeys", "missing"],
    ] {
        out.push(step(&args));
    }
    // Listings are unordered: compare sorted.
    for args in [vec!["ls"], vec!["ls", "--all"]] {
        let mut a = vec!["-p", pool];
        a.extend_from_slice(&args);
        let r = rados_at(tool, conf, &a);
        let mut l: Vec<&str> = r.stdout.lines().collect();
        l.sort();
        out.push(format!("{args:?} -> {} | {}", r.code, l.join(",")));
    }
    out
}

#[test]
fn real_rados_cli_gives_the_same_results_as_on_real_ceph() {
    let c = OurCluster::start(3, "");
    let ours = same_as_real(&c, "osdflow", 16, "rados", |conf, pool, dir, _| workflow(Path::new(REAL_RADOS), conf, pool, dir));
    let pool = format!("osdflow{}", std::process::id());
    let d = tempfile::tempdir().unwrap();
    assert!(ours.iter().filter(|l| l.ends_with("intact: true")).count() == 4, "{ours:#?}");
    // Our own rados CLI sees the same objects the real one wrote.
    let r = run(&bin("rados"), &["-c", &c.conf(), "-p", &pool, "stat", "o64m"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("size 67108864"), "{}", r.stdout);
    let out = d.path().join("o4m.ours");
    let r = run(&bin("rados"), &["-c", &c.conf(), "-p", &pool, "get", "o4m", out.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(std::fs::read(out).unwrap() == data((4 << 20) + 1, 9), "o4m differs");
}

/// `rados lock` (cls_lock in the OSD): shared and exclusive locks, tags,
/// expiry, break, locks on missing objects; each step against our cluster and
/// real Ceph, with lock holders' client ids and nonces masked.
fn lock_workflow(conf: &str, pool: &str, dir: &Path) -> Vec<String> {
    let f = dir.join("lo");
    std::fs::write(&f, b"lockme").unwrap();
    let mask = |s: &str| -> String {
        // "name":"client.4150" and "addr":"127.0.0.1:0/3906351406" differ per run.
        let mut out = String::new();
        for part in s.split('"') {
            let p = if part.starts_with("client.") && part[7..].chars().all(|c| c.is_ascii_digit()) {
                "client.N".to_string()
            } else if let Some(i) = part.find(":0/") {
                format!("{}:0/NONCE", &part[..i])
            } else {
                part.to_string()
            };
            out.push_str(&p);
            out.push('"');
        }
        out.pop();
        out
    };
    let steps: Vec<Vec<&str>> = vec![
        vec!["put", "lo", f.to_str().unwrap()],
        vec!["lock", "get", "lo", "L1", "--lock-cookie", "c1", "--lock-tag", "t", "--lock-type", "shared"],
        vec!["lock", "get", "lo", "L1", "--lock-cookie", "c1", "--lock-tag", "t", "--lock-type", "shared"],
        vec!["lock", "get", "lo", "L1", "--lock-cookie", "c2", "--lock-tag", "other", "--lock-type", "shared"],
        vec!["lock", "get", "lo", "L1", "--lock-cookie", "c2", "--lock-tag", "t", "--lock-type", "exclusive"],
        vec!["lock", "list", "lo"],
        vec!["lock", "info", "lo", "L1"],
        vec!["lock", "get", "lo", "L2", "--lock-cookie", "c1", "--lock-description", "short", "--lock-duration", "1"],
        vec!["lock", "info", "lo", "L2"],
        vec!["lock", "break", "lo", "L1", "client.1", "--lock-cookie", "c1"],
        vec!["lock", "list", "missing"],
        vec!["lock", "info", "missing", "L1"],
        vec!["lock", "get", "newobj", "L3"],
        vec!["lock", "get", "newobj", "L3"],
        vec!["stat", "newobj"],
        vec!["lock", "list", "newobj"],
    ];
    let mut out = Vec::new();
    for (i, args) in steps.iter().enumerate() {
        if i == 8 {
            // L2 was taken for one second: it must have expired.
            std::thread::sleep(std::time::Duration::from_millis(1500));
        }
        let mut a = vec!["-p", pool];
        a.extend_from_slice(args);
        let r = rados_at(Path::new(REAL_RADOS), conf, &a);
        let stdout = match r.stdout.find(" mtime ") {
            Some(i) => r.stdout[..i].to_string(),
            None => r.stdout.clone(),
        };
        out.push(format!("{args:?} -> {} | {} | {}", r.code, mask(stdout.trim()), r.stderr.trim()).replace(&dir.display().to_string(), "<dir>"));
    }
    out
}

#[test]
fn rados_lock_gives_the_same_results_as_on_real_ceph() {
    let c = OurCluster::start(3, "");
    let ours = same_as_real(&c, "lockflow", 8, "rados", |conf, pool, dir, _| lock_workflow(conf, pool, dir));
    // The shared lock really has two holders, and the exclusive attempt failed.
    assert!(ours[6].matches("\"cookie\":\"c1\"").count() == 2, "{}", ours[6]);
    assert!(ours[4].contains("-> 1 |"), "{}", ours[4]);
}

/// Pool snapshots with the real `rados`: clone-on-write, reads at a snap,
/// `listsnaps` (clones, sizes, overlaps), rollback, and a head deleted while a
/// snapshot holds it (a whiteout: gone from the head, still readable at the
/// snap, still listed as Ceph lists it).
fn snap_workflow(conf: &str, pool: &str, dir: &Path) -> Vec<String> {
    let v1 = dir.join("v1");
    let v2 = dir.join("v2");
    std::fs::write(&v1, b"v1\n").unwrap();
    std::fs::write(&v2, b"version-two-longer\n").unwrap();
    let (v1, v2) = (v1.to_str().unwrap(), v2.to_str().unwrap());
    let steps: Vec<Vec<&str>> = vec![
        vec!["put", "obj", v1],
        vec!["put", "gone", v1],
        vec!["mksnap", "s1"],
        vec!["put", "obj", v2],
        vec!["rm", "gone"],
        vec!["-s", "s1", "get", "obj", "/dev/stdout"],
        vec!["get", "obj", "/dev/stdout"],
        vec!["-s", "s1", "get", "gone", "/dev/stdout"],
        vec!["get", "gone", "/dev/stdout"],
        vec!["ls"],
        vec!["listsnaps", "obj"],
        vec!["listsnaps", "gone"],
        vec!["mksnap", "s2"],
        vec!["put", "obj", v1],
        vec!["listsnaps", "obj"],
        vec!["-s", "s2", "get", "obj", "/dev/stdout"],
        vec!["rollback", "obj", "s1"],
        vec!["get", "obj", "/dev/stdout"],
        vec!["-s", "s1", "stat", "obj"],
        vec!["put", "new", v1],
        vec!["-s", "s1", "get", "new", "/dev/stdout"],
        vec!["listsnaps", "new"],
    ];
    let mut out = Vec::new();
    for args in &steps {
        let mut a = vec!["-p", pool];
        a.extend_from_slice(args);
        let r = rados_at(Path::new(REAL_RADOS), conf, &a);
        let stdout = match r.stdout.find(" mtime ") {
            Some(i) => r.stdout[..i].to_string() + &r.stdout[r.stdout.find(", size").unwrap_or(i)..],
            None => r.stdout.clone(),
        };
        let mut ls: Vec<&str> = stdout.lines().collect();
        if args[0] == "ls" {
            ls.sort();
        }
        out.push(format!("{args:?} -> {} | {} | {}", r.code, ls.join("\n"), r.stderr.trim()).replace(&dir.display().to_string(), "<dir>"));
    }
    out
}

#[test]
fn pool_snapshots_clone_on_write_like_real_ceph() {
    let c = OurCluster::start(3, "");
    let ours = same_as_real(&c, "snapflow", 8, "rados", |conf, pool, dir, _| snap_workflow(conf, pool, dir));
    let pool = format!("snapflow{}", std::process::id());
    assert!(ours[5].contains("| selected snap 1 's1'\nv1 |"), "{}", ours[5]);
    assert!(ours[17].ends_with("-> 0 | v1 | "), "{}", ours[17]);
    // The clones are replicated: with the primary of `obj` killed, the
    // snapshot and the whiteout still read back from another copy.
    let mut c = c;
    let m = c.mon.ours(&["osd", "map", &pool, "obj", "-f", "json"]);
    let v: serde_json::Value = serde_json::from_str(&m.stdout).unwrap_or_default();
    let primary = v["acting_primary"].as_i64().unwrap_or_else(|| panic!("osd map: {}", m.stdout)) as usize;
    c.kill9_osd(primary);
    c.wait_for(60, "the killed primary marked down", |s| s["osdmap"]["num_up_osds"].as_u64() == Some(2));
    let r = c.rados(&["-p", &pool, "-s", "s1", "get", "obj", "/dev/stdout"]);
    assert!(r.code == 0 && r.stdout.ends_with("v1\n"), "{} {}", r.stdout, r.stderr);
    let r = c.rados(&["-p", &pool, "-s", "s2", "get", "obj", "/dev/stdout"]);
    assert!(r.code == 0 && r.stdout.ends_with("version-two-longer\n"), "{} {}", r.stdout, r.stderr);
    let r = c.rados(&["-p", &pool, "-s", "s1", "get", "gone", "/dev/stdout"]);
    assert!(r.code == 0 && r.stdout.ends_with("v1\n"), "{} {}", r.stdout, r.stderr);
}

/// Removing snapshots trims: clones no snapshot needs are deleted on every
/// copy, and a whiteout head with no clones left disappears from listings.
#[test]
fn removed_snapshots_are_trimmed() {
    let c = OurCluster::start(3, "");
    c.create_pool("trim", 8);
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("f");
    let ok = |args: &[&str]| {
        let mut a = vec!["-p", "trim"];
        a.extend_from_slice(args);
        let r = c.rados(&a);
        assert_eq!(r.code, 0, "rados {args:?}: {}", r.stderr);
        r.stdout
    };
    std::fs::write(&f, data(200_000, 1)).unwrap();
    ok(&["put", "obj", f.to_str().unwrap()]);
    ok(&["put", "gone", f.to_str().unwrap()]);
    ok(&["mksnap", "s1"]);
    std::fs::write(&f, data(100_000, 2)).unwrap();
    ok(&["put", "obj", f.to_str().unwrap()]);
    ok(&["rm", "gone"]);
    ok(&["mksnap", "s2"]);
    ok(&["put", "obj", f.to_str().unwrap()]);
    assert_eq!(ok(&["listsnaps", "obj"]).lines().filter(|l| l.starts_with(|c: char| c.is_ascii_digit())).count(), 2);
    ok(&["rmsnap", "s1"]);
    // Clone 1 and the whiteout go; clone 2 stays for s2.
    let t0 = std::time::Instant::now();
    loop {
        let clones = ok(&["listsnaps", "obj"]);
        let ls = ok(&["ls"]);
        if clones.lines().filter(|l| l.starts_with(|c: char| c.is_ascii_digit())).count() == 1 && !ls.lines().any(|l| l == "gone") {
            assert!(clones.contains("\n2\t2\t100000\t"), "{clones}");
            break;
        }
        assert!(t0.elapsed().as_secs() < 30, "not trimmed: {clones} / {ls}");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let r = c.rados(&["-p", "trim", "-s", "s2", "get", "obj", d.path().join("o").to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(std::fs::read(d.path().join("o")).unwrap() == data(100_000, 2));
    ok(&["rmsnap", "s2"]);
    let t0 = std::time::Instant::now();
    while ok(&["listsnaps", "obj"]).lines().any(|l| l.starts_with(|c: char| c.is_ascii_digit())) {
        assert!(t0.elapsed().as_secs() < 30, "clone 2 not trimmed");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    // Once every PG reports them trimmed, the mon takes the snaps out of
    // removed_snaps_queue (naming them in new_purged_snaps), as Ceph's does.
    let t0 = std::time::Instant::now();
    loop {
        let d = oxceph_tests::parse_json(&c.mon.real(&["osd", "dump", "--format", "json"]).stdout);
        if d["removed_snaps_queue"].as_array().is_some_and(|q| q.is_empty()) {
            break;
        }
        assert!(t0.elapsed().as_secs() < 30, "removed_snaps_queue never purged: {}", d["removed_snaps_queue"]);
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    // Every copy agrees: with any one OSD down the object has no clones.
    let mut c = c;
    c.kill9_osd(0);
    c.wait_for(60, "osd.0 marked down", |s| s["osdmap"]["num_up_osds"].as_u64() == Some(2));
    let r = c.rados(&["-p", "trim", "listsnaps", "obj"]);
    assert!(r.code == 0 && !r.stdout.lines().any(|l| l.starts_with(|c: char| c.is_ascii_digit())), "{}", r.stdout);
}

/// Self-managed snapshots as librbd drives them (python3-rados): snap ids
/// from the mon, the SnapContext on writes, rollback of an object.
#[test]
fn self_managed_snapshots_and_rollback_with_python3_rados() {
    let c = OurCluster::start(3, "");
    c.create_pool("smsnap", 8);
    let script = r#"
import rados, sys
c = rados.Rados(conffile=sys.argv[1]); c.connect()
io = c.open_ioctx("smsnap")
io.write_full("o", b"first")
s1 = io.create_self_managed_snap()
io.set_self_managed_snap_write([s1])
io.write_full("o", b"second!")
s2 = io.create_self_managed_snap()
io.set_self_managed_snap_write([s2, s1])
io.write("o", b"3", 0)
assert io.read("o") == b"3econd!", io.read("o")
io.rollback_self_managed_snap("o", s2)
assert io.read("o") == b"second!", io.read("o")
io.rollback_self_managed_snap("o", s1)
assert io.read("o") == b"first", io.read("o")
s3 = io.create_self_managed_snap()
io.set_self_managed_snap_write([s3, s2, s1])
io.remove_object("o")
try:
    io.read("o"); assert False, "head should be gone"
except rados.ObjectNotFound:
    pass
io.rollback_self_managed_snap("o", s3)
assert io.read("o") == b"first", io.read("o")
print("ok", s1, s2, s3)
"#;
    let r = run(Path::new("/usr/bin/python3"), &["-c", script, &c.conf()]);
    assert_eq!(r.code, 0, "python3-rados: {}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.starts_with("ok "), "{}", r.stdout);
}

/// Our `rados` against our cluster gives what the real `rados` gives against
/// real Ceph, step for step (so both our client and our OSDs match Ceph).
#[test]
fn our_rados_cli_on_our_cluster_matches_real_rados_on_real_ceph() {
    let c = OurCluster::start(3, "");
    let ours = same_as_real(&c, "ourflow", 16, "rados", |conf, pool, dir, is_ours| {
        let tool = if is_ours { bin("rados") } else { std::path::PathBuf::from(REAL_RADOS) };
        workflow(&tool, conf, pool, dir)
    });
    assert!(ours.iter().filter(|l| l.ends_with("intact: true")).count() == 4, "{ours:#?}");
}

#[test]
fn rados_bench_write_seq_rand_cleanup() {
    // Every primary write through the page cache: `rados bench` checks the
    // contents of what seq and rand read back.
    let c = OurCluster::start(3, "osd_cache_primary_writes = true\n");
    c.create_pool("bench", 32);
    // A first pass, removed again, so the measured pass rewrites block-file
    // space (fresh space is always written O_DIRECT).
    for args in [["-p", "bench", "bench", "2", "write", "--no-cleanup", "-t", "16"].as_slice(), &["-p", "bench", "cleanup"]] {
        let r = c.rados(args);
        assert_eq!(r.code, 0, "rados {args:?}: {}\n{}", r.stdout, r.stderr);
    }
    for args in [
        vec!["-p", "bench", "bench", "4", "write", "--no-cleanup", "-t", "16"],
        vec!["-p", "bench", "bench", "3", "seq", "-t", "16"],
        vec!["-p", "bench", "bench", "3", "rand", "-t", "16"],
    ] {
        let r = c.rados(&args);
        assert_eq!(r.code, 0, "rados {args:?}: {}\n{}", r.stdout, r.stderr);
        assert!(!r.stdout.to_lowercase().contains("error") && !r.stderr.to_lowercase().contains("error"), "{args:?}: {}{}", r.stdout, r.stderr);
        assert!(r.stdout.contains("Average IOPS"), "{}", r.stdout);
    }
    let ls = c.rados(&["-p", "bench", "ls"]);
    assert!(ls.stdout.lines().count() > 1, "bench wrote objects");
    let r = c.rados(&["-p", "bench", "cleanup"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let ls = c.rados(&["-p", "bench", "ls"]);
    assert_eq!(ls.stdout.trim(), "", "cleanup left objects");
    // ceph -s / pg stat / df show what happened.
    let s = c.mon.real(&["pg", "stat"]);
    assert!(s.stdout.contains("active+clean"), "{}", s.stdout);
}

const PY_API: &str = r#"
import rados, sys, threading
c = rados.Rados(conffile=sys.argv[1])
c.connect()
io = c.open_ioctx(sys.argv[2])
io.write_full("a", b"hello world")
io.write("a", b"HELLO", 0)
assert io.read("a") == b"HELLO world", io.read("a")
assert io.read("a", 5, 6) == b"world"
io.append("a", b"!")
size, _ = io.stat("a")
assert size == 12, size
io.set_xattr("a", "k", b"v")
assert io.get_xattr("a", "k") == b"v"
assert dict(io.get_xattrs("a")) == {"k": b"v"}
io.rm_xattr("a", "k")
with rados.WriteOpCtx() as op:
    io.set_omap(op, ("x", "y"), (b"1", b"2"))
    io.operate_write_op(op, "a")
with rados.ReadOpCtx() as op:
    it, r = io.get_omap_vals(op, "", "", 10)
    io.operate_read_op(op, "a")
    assert dict(it) == {"x": b"1", "y": b"2"}
# compound op: all or nothing
with rados.WriteOpCtx() as op:
    op.new(rados.LIBRADOS_CREATE_EXCLUSIVE)
    op.write_full(b"never")
    try:
        io.operate_write_op(op, "a")
        raise SystemExit("exclusive create of an existing object succeeded")
    except rados.ObjectExists:
        pass
assert io.read("a") == b"HELLO world!"
# fadvise hints: WILLNEED writes stay in the primary's page cache, DONTNEED
# ones go around it; reads see the newest bytes either way.
big = bytes(range(256)) * 4096
for i, hint in enumerate([rados.LIBRADOS_OP_FLAG_FADVISE_WILLNEED, rados.LIBRADOS_OP_FLAG_FADVISE_DONTNEED, rados.LIBRADOS_OP_FLAG_FADVISE_WILLNEED]):
    with rados.WriteOpCtx() as op:
        op.write(big[i:] + big[:i], 0)
        op.set_flags(hint)
        io.operate_write_op(op, "hinted")
    assert io.read("hinted", len(big)) == big[i:] + big[:i], i
io.remove_object("hinted")
io.set_namespace("ns")
io.write_full("b", b"in ns")
io.set_namespace("")
names = sorted(o.key for o in io.list_objects())
assert names == ["a"], names
io.set_namespace(rados.LIBRADOS_ALL_NSPACES)
names = sorted((o.nspace, o.key) for o in io.list_objects())
assert names == [("", "a"), ("ns", "b")], names
io.set_namespace("")
# aio
done = []
comps = [io.aio_write_full("aio%d" % i, b"x" * (i + 1), oncomplete=lambda c: done.append(1)) for i in range(20)]
for cpl in comps:
    cpl.wait_for_complete_and_cb()
assert len(done) == 20
r = io.aio_read("aio19", 100, 0, lambda c, d: None)
r.wait_for_complete()
assert r.get_return_value() == 20
# watch / notify
got = []
def cb(notify_id, notifier_id, watch_id, data):
    got.append(data)
    return b"pong"
w = io.watch("a", cb)
assert io.notify("a", "ping")
w.close()
assert got == [b"ping"], got
io.remove_object("a")
try:
    io.stat("a")
    raise SystemExit("removed object still there")
except rados.ObjectNotFound:
    pass
# object classes
assert io.execute("aio0", "hello", "say_hello", b"osd") == (0, b"Hello, osd!") or io.execute("aio0", "hello", "say_hello", b"osd")[1] == b"Hello, osd!"
print("OK")
"#;

#[test]
fn python3_rados_api_works_against_our_osds() {
    let c = OurCluster::start(3, "");
    c.create_pool("py", 16);
    let d = tempfile::tempdir().unwrap();
    let script = d.path().join("t.py");
    std::fs::write(&script, PY_API).unwrap();
    let r = run(Path::new("/usr/bin/python3"), &[script.to_str().unwrap(), &c.conf(), "py"]);
    assert_eq!(r.code, 0, "python3-rados: {}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("OK"));
}

#[test]
fn kill9_of_an_osd_during_writes_loses_nothing_and_recovers() {
    let mut c = OurCluster::start(3, "");
    c.create_pool("dur", 16);
    for victim in [1usize, 2] {
        let conf = c.conf();
        let bench = std::thread::spawn(move || rados_at(Path::new(REAL_RADOS), &conf, &["-p", "dur", "bench", "8", "write", "-b", "65536", "-t", "16", "--no-cleanup", "--run-name", &format!("run{victim}")]));
        std::thread::sleep(std::time::Duration::from_secs(3));
        c.kill9_osd(victim);
        c.wait_up(2);
        let r = bench.join().unwrap();
        assert_eq!(r.code, 0, "bench with osd.{victim} killed: {}\n{}", r.stdout, r.stderr);
        assert!(!r.stderr.to_lowercase().contains("error"), "{}", r.stderr);
        // Degraded but serving.
        c.wait_for(30, "degraded pgs reported", |s| s["health"]["checks"]["PG_DEGRADED"].is_object());
        c.start_osd(victim);
        c.wait_up(3);
        c.wait_clean(120);
        let r = c.rados(&["-p", "dur", "bench", "60", "seq", "-t", "16", "--run-name", &format!("run{victim}")]);
        assert_eq!(r.code, 0, "seq of run{victim}: {}\n{}", r.stdout, r.stderr);
        assert!(!r.stderr.to_lowercase().contains("error"), "{}", r.stderr);
    }
    // The recovered copies are whole: with only the recovered OSD and one
    // other up, every object still reads back intact.
    c.kill9_osd(0);
    c.wait_up(2);
    for run_name in ["run1", "run2"] {
        let r = c.rados(&["-p", "dur", "bench", "60", "seq", "-t", "16", "--run-name", run_name]);
        assert_eq!(r.code, 0, "seq without osd.0: {}\n{}", r.stdout, r.stderr);
    }
    c.start_osd(0);
    c.wait_clean(120);
}

#[test]
fn kill9_of_every_daemon_keeps_acknowledged_objects() {
    let mut c = OurCluster::start(3, "");
    c.create_pool("crash", 16);
    // Write objects one by one, noting each acknowledged one, while we kill everything.
    let conf = c.conf();
    let writer = std::thread::spawn(move || {
        let mut acked = Vec::new();
        for i in 0..100000 {
            let d = tempfile::NamedTempFile::new().unwrap();
            std::fs::write(d.path(), data(1000 + i, i as u64)).unwrap();
            // A put caught by the crash may hang in librados: bound it.
            let r = run(Path::new("/usr/bin/timeout"), &["10", "/usr/bin/rados", "-c", &conf, "-p", "crash", "put", &format!("obj{i}"), d.path().to_str().unwrap()]);
            if r.code != 0 {
                break;
            }
            acked.push(i);
        }
        acked
    });
    std::thread::sleep(std::time::Duration::from_secs(3));
    for i in 0..3 {
        c.kill9_osd(i);
    }
    c.mon.kill9();
    let acked = writer.join().unwrap();
    assert!(acked.len() > 5, "only {} writes before the crash", acked.len());
    c.mon.restart();
    for i in 0..3 {
        c.start_osd(i);
    }
    c.wait_up(3);
    c.wait_clean(120);
    let d = tempfile::tempdir().unwrap();
    for i in acked {
        let o = d.path().join("o");
        let r = c.rados(&["-p", "crash", "get", &format!("obj{i}"), o.to_str().unwrap()]);
        assert_eq!(r.code, 0, "acknowledged obj{i} lost: {}", r.stderr);
        assert_eq!(std::fs::read(&o).unwrap(), data(1000 + i, i as u64), "obj{i} corrupt");
    }
}

#[test]
fn osd_caps_and_limits_are_enforced() {
    let c = OurCluster::start(3, "osd_max_object_size = 1048576\n");
    c.create_pool("capped", 8);
    c.create_pool("other", 8);
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("f");
    std::fs::write(&f, b"data").unwrap();
    // A read-only client on one pool.
    let kr = d.path().join("ro.keyring");
    let r = c.mon.ours(&["auth", "get-or-create", "client.ro", "mon", "allow r", "osd", "allow r pool=capped", "-o", kr.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(c.rados(&["-p", "capped", "put", "x", f.to_str().unwrap()]).code, 0);
    let as_ro = |args: &[&str]| {
        let mut a = vec!["--id", "ro", "--keyring", kr.to_str().unwrap()];
        a.extend_from_slice(args);
        c.rados(&a)
    };
    let r = as_ro(&["-p", "capped", "stat", "x"]);
    assert_eq!(r.code, 0, "read with r caps: {}", r.stderr);
    let r = as_ro(&["-p", "capped", "put", "y", f.to_str().unwrap()]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("Operation not permitted"), "{}", r.stderr);
    let r = as_ro(&["-p", "other", "stat", "x"]);
    assert!(r.stderr.contains("Operation not permitted"), "{}", r.stderr);
    // Objects over osd_max_object_size are refused, as Ceph does (EFBIG).
    let big = d.path().join("big");
    std::fs::write(&big, vec![7u8; 2 << 20]).unwrap();
    let r = c.rados(&["-p", "capped", "put", "big", big.to_str().unwrap()]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("File too large"), "{}", r.stderr);
}

/// Hostile and misdirected MOSDOps straight over msgr2: a clear error (or a
/// drop that the client's resend logic covers), never a crash.
#[test]
fn hostile_and_misdirected_ops_get_errors_not_crashes() {
    use messages::osd::{opcode, OsdOp, OsdOpMsg, OsdOpReply};
    use messages::{Message, RawMessage};
    use types::osd::{ObjectLocator, PgId, SpgId};
    let c = OurCluster::start(3, "");
    c.create_pool("hostile", 8);
    let conf = config::Config::load("ceph", "client.admin".parse().unwrap(), Some(Path::new(&c.conf()))).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        let o = monc::MonClientOptions { subscribe: vec!["osdmap".into()], ..Default::default() };
        let mc = monc::MonClient::connect(conf, o).await.unwrap();
        let mut maps = mc.osdmap.clone();
        let msg = maps.wait_for(|m| m.is_some()).await.unwrap().clone().unwrap();
        let map = monc::advance_osdmap(None, &msg).0.unwrap();
        let pool = map.lookup_pool("hostile").unwrap();
        let oloc = ObjectLocator::new(pool);
        let raw = map.object_to_raw_pg("victim", &oloc).unwrap();
        let pg = map.raw_pg_to_pg(raw);
        let acting = map.pg_to_up_acting(pg);
        let primary = acting.acting_primary;
        let other = (0..3).find(|o| *o != primary).unwrap();
        let connect = |osd: i32| {
            let addr = *map.client_addrs[osd as usize].v2().unwrap();
            let opts = msgr::ConnectOptions {
                my_type: types::EntityType::CLIENT,
                my_addrs: None,
                auth: msgr::ClientAuth::Authorizer(mc.cephx.clone(), types::EntityType::OSD),
                modes: vec![auth::CON_MODE_CRC],
                lossy: true,
                nonce: 7,
                keepalive_secs: 0,
                gid: mc.global_id as i64,
            };
            msgr::connect(addr, opts)
        };
        let gid = mc.global_id as i64;
        let op = |tid: u64, epoch: u32, data: &'static [u8]| OsdOpMsg {
            pgid: SpgId { pgid: PgId { pool: pool as u64, seed: pg.seed }, shard: -1 },
            hash: raw.seed,
            osdmap_epoch: epoch,
            flags: messages::osd::flags::WRITE,
            reqid: types::osd::ReqId { name: types::EntityNameT::new(types::EntityType::CLIENT, gid), tid, inc: 0 },
            oloc: oloc.clone(),
            oid: "victim".into(),
            ops: vec![OsdOp::extent(opcode::WRITEFULL, 0, data.len() as u64, bytes::Bytes::from_static(data))],
            // Writes go to the head (a write at a snap id is EINVAL, as in Ceph).
            snapid: types::osd::CEPH_NOSNAP,
            ..Default::default()
        }
        .to_raw(tid, types::features::PACIFIC_SUPPORTED);
        let reply = |r: Option<RawMessage>| OsdOpReply::from_raw(&r.expect("a reply")).unwrap();
        let wait = std::time::Duration::from_secs(5);
        let (conn, mut inc) = connect(primary).await.unwrap();
        // Garbage and a truncated op: EINVAL, and the session goes on.
        let mut bad = op(1, map.epoch, b"x");
        bad.front = bytes::Bytes::from_static(b"\x01\x02garbage");
        conn.send(bad).unwrap();
        let r = reply(tokio::time::timeout(wait, inc.recv()).await.unwrap());
        assert_eq!(r.result, -22);
        let mut cut = op(2, map.epoch, b"x");
        cut.front = cut.front.slice(..cut.front.len() / 2);
        conn.send(cut).unwrap();
        assert_eq!(reply(tokio::time::timeout(wait, inc.recv()).await.unwrap()).result, -22);
        // A stale map epoch to the right primary is served, and the OSD
        // first sends the client the maps it lacks (Ceph's maybe_share_map).
        conn.send(op(3, 1, b"stale")).unwrap();
        let shared = tokio::time::timeout(wait, inc.recv()).await.unwrap().expect("a message");
        assert_eq!(shared.header.ty, messages::types::OSD_MAP, "the newer maps first");
        let maps = messages::mon::OsdMapMsg::from_raw(&shared).unwrap();
        assert_eq!((maps.newest_map, maps.maps.keys().last().copied()), (map.epoch, Some(map.epoch)));
        let r = tokio::time::timeout(wait, inc.recv()).await.unwrap();
        assert_eq!(reply(r).result, 0);
        // Once shared, not again.
        conn.send(op(30, 1, b"stale")).unwrap();
        assert_eq!(reply(tokio::time::timeout(wait, inc.recv()).await.unwrap()).result, 0);
        // A truncate to 0, then a read "to the end" (0~0) in the same op:
        // a read of nothing, not an OSD that computes a block before the
        // first; the object is truncated and the OSD serves on.
        let mut m = OsdOpMsg::from_raw(&op(31, map.epoch, b"")).unwrap();
        m.ops = vec![OsdOp::extent(opcode::TRUNCATE, 0, 0, bytes::Bytes::new()), OsdOp::extent(opcode::READ, 0, 0, bytes::Bytes::new())];
        conn.send(m.to_raw(31, types::features::PACIFIC_SUPPORTED)).unwrap();
        assert_eq!(reply(tokio::time::timeout(wait, inc.recv()).await.unwrap()).result, 0);
        conn.send(op(32, map.epoch, b"stale")).unwrap();
        assert_eq!(reply(tokio::time::timeout(wait, inc.recv()).await.unwrap()).result, 0);
        // An op for a PG this OSD does not lead is dropped (the client resends
        // on the next map, as with Ceph); the OSD stays up.
        let (conn2, mut inc2) = connect(other).await.unwrap();
        conn2.send(op(4, map.epoch, b"misdirected")).unwrap();
        assert!(tokio::time::timeout(std::time::Duration::from_secs(2), inc2.recv()).await.is_err(), "misdirected op answered");
        // Both OSDs still serve.
        conn.send(op(5, map.epoch, b"fine")).unwrap();
        assert_eq!(reply(tokio::time::timeout(wait, inc.recv()).await.unwrap()).result, 0);
        // Ops sent under a map the OSD has not seen (the client heard of it
        // first) wait for that map, neither dropped nor refused, and then run
        // in the order they came (Ceph's waiting_for_map).
        let now = c.status()["osdmap"]["epoch"].as_u64().unwrap() as u32;
        conn.send(op(6, now + 1, b"future one")).unwrap();
        conn.send(op(7, now + 1, b"future two")).unwrap();
        assert!(tokio::time::timeout(std::time::Duration::from_secs(2), inc.recv()).await.is_err(), "an op from a future epoch was answered before that epoch existed");
        let r = c.mon.ours(&["osd", "pool", "create", "mapbump", "8"]);
        assert_eq!(r.code, 0, "pool create: {}", r.stderr);
        let first = tokio::time::timeout(wait, inc.recv()).await.expect("the held op is served once its map exists").unwrap();
        let second = tokio::time::timeout(wait, inc.recv()).await.expect("the second held op is served").unwrap();
        let got = |m: &RawMessage| (m.header.tid, OsdOpReply::from_raw(m).unwrap().result);
        assert_eq!((got(&first), got(&second)), ((6, 0), (7, 0)), "held ops answered in order");
    });
    let r = c.rados(&["-p", "hostile", "get", "victim", "/dev/stdout"]);
    assert_eq!(r.stdout, "future two");
    c.wait_up(3);
}

/// Writes our OSDs pipeline (the next op runs while the previous commits)
/// still apply in the order they were sent: 300 appends to one object and
/// writes to 20 others, all started without waiting, then read back; the
/// same on real Ceph.
#[test]
fn pipelined_writes_apply_in_order_like_real_ceph() {
    let c = OurCluster::start(3, "");
    c.create_pool("pipe", 8);
    let pool = format!("pipe{}", std::process::id());
    oxceph_tests::real_ceph(&["osd", "pool", "create", &pool, "8"]);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    for (conf, pool) in [(c.conf(), "pipe".to_string()), (oxceph_tests::ref_cluster().conf().display().to_string(), pool.clone())] {
        rt.block_on(async {
            let cf = config::Config::load("ceph", "client.admin".parse().unwrap(), Some(std::path::Path::new(&conf))).unwrap();
            let r = rados::Rados::connect(cf, rados::MonClientOptions::default()).await.unwrap();
            let io = r.ioctx(&pool).await.unwrap();
            let mut started = Vec::new();
            for i in 0..300u32 {
                let op = messages::osd::OsdOp::extent(messages::osd::opcode::APPEND, 0, 4, bytes::Bytes::copy_from_slice(&i.to_le_bytes()));
                started.push(io.start_write("log", vec![op]).unwrap());
                if i % 15 == 0 {
                    let data = bytes::Bytes::from(vec![i as u8; 8192]);
                    let op = messages::osd::OsdOp::extent(messages::osd::opcode::WRITEFULL, 0, 8192, data);
                    started.push(io.start_write(&format!("obj{}", i / 15), vec![op]).unwrap());
                }
            }
            // a read sent after the writes sees all of them
            let early = io.read("log", 0, 4 * 300).await.unwrap();
            for f in started {
                f.await.unwrap();
            }
            let log = io.read("log", 0, 4 * 300).await.unwrap();
            let want: Vec<u8> = (0..300u32).flat_map(|i| i.to_le_bytes()).collect();
            assert!(log[..] == want[..], "appends out of order on {conf}");
            assert!(early[..] == want[..], "a read overtook earlier writes on {conf}");
            for j in 0..20u32 {
                assert_eq!(io.read(&format!("obj{j}"), 0, 8192).await.unwrap()[..], vec![(j * 15) as u8; 8192][..]);
            }
        });
    }
    let _ = oxceph_tests::real_ceph(&["osd", "pool", "rm", &pool, &pool, "--yes-i-really-really-mean-it"]);
}

/// Writes (`put`) or checks (`check`) objects NAME=SEED with python3-rados,
/// one client for all of them; contents are derived from name and seed.
const PY_OBJECTS: &str = r#"
import rados, sys
conf, pool, mode, specs = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
def content(name, seed):
    return (("%s:%s;" % (name, seed)) * 1000).encode()[: 6000 + len(name) * 100]
c = rados.Rados(conffile=conf)
c.connect()
io = c.open_ioctx(pool)
for spec in specs:
    name, seed = spec.split("=")
    if mode == "put":
        io.write_full(name, content(name, seed))
    else:
        got = io.read(name, 1 << 20)
        assert got == content(name, seed), "%s: %d bytes, not seed %s" % (name, len(got), seed)
print("OK")
"#;

fn py_objects(c: &OurCluster, pool: &str, mode: &str, specs: &[String]) {
    let d = tempfile::tempdir().unwrap();
    let script = d.path().join("objects.py");
    std::fs::write(&script, PY_OBJECTS).unwrap();
    let conf = c.conf();
    let mut args = vec![script.to_str().unwrap(), conf.as_str(), pool, mode];
    args.extend(specs.iter().map(|s| s.as_str()));
    let r = run(Path::new("/usr/bin/python3"), &args);
    assert!(r.code == 0 && r.stdout.contains("OK"), "python3-rados {mode}: {}\n{}", r.stdout, r.stderr);
}

/// PG states by pgid, from `ceph pg ls`.
fn pg_states(c: &OurCluster) -> std::collections::HashMap<String, String> {
    let r = c.mon.real(&["pg", "ls", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap_or_default();
    v["pg_stats"].as_array().map(|a| a.iter().map(|p| (p["pgid"].as_str().unwrap_or("").to_string(), p["state"].as_str().unwrap_or("").to_string())).collect()).unwrap_or_default()
}

/// While `pg` is still in a state containing `state`: overwrites half of its
/// objects (`in_pg`) with `seed` and reads the other half back (python3-rados).
fn ops_while(c: &OurCluster, pool: &str, pg: &str, in_pg: &[String], seeds: &mut std::collections::BTreeMap<String, u32>, seed: u32, state: &str) {
    assert!(in_pg.len() > 10, "only {} objects in {pg}", in_pg.len());
    let rewrite: Vec<String> = in_pg.iter().step_by(2).cloned().collect();
    let read: Vec<String> = in_pg.iter().skip(1).step_by(2).cloned().collect();
    for n in &rewrite {
        seeds.insert(n.clone(), seed);
    }
    let specs = |which: &[String]| -> Vec<String> { which.iter().map(|n| format!("{n}={}", seeds[n])).collect() };
    py_objects(c, pool, "put", &specs(&rewrite));
    py_objects(c, pool, "check", &specs(&read));
    let after = pg_states(c);
    assert!(after[pg].contains(state), "{pg} was no longer {state} when the ops were done ({}), so this shows nothing", after[pg]);
}

/// A PG whose replica is catching up serves reads and writes meanwhile, as
/// Ceph's active+recovering PGs do, and the replica ends up with every
/// write, including writes to objects it had not been sent yet.
#[test]
fn ops_are_served_while_a_replica_recovers() {
    // Each push carries one object and is followed by a 0.2 s pause, so
    // recovering ~50 objects per PG takes about ten seconds.
    let mut c = OurCluster::start(3, "osd_recovery_sleep = 0.2\n");
    c.create_pool("rec", 4);
    let m = c.mon.real(&["osd", "map", "rec", "probe", "--format", "json"]);
    let pool_id = serde_json::from_str::<serde_json::Value>(m.stdout.trim()).unwrap()["pool_id"].as_u64().expect("pool_id");
    let pg_of = |name: &str| format!("{pool_id}.{:x}", maps::pool::ceph_str_hash_rjenkins(name.as_bytes()) & 3);
    let names: Vec<String> = (0..200).map(|i| format!("o{i}")).collect();
    let mut seeds: std::collections::BTreeMap<String, u32> = names.iter().map(|n| (n.clone(), 1)).collect();
    let specs = |seeds: &std::collections::BTreeMap<String, u32>, which: &[String]| -> Vec<String> { which.iter().map(|n| format!("{n}={}", seeds[n])).collect() };
    py_objects(&c, "rec", "put", &specs(&seeds, &names));
    // osd.2 misses a new version of every object.
    c.kill9_osd(2);
    c.wait_up(2);
    for s in seeds.values_mut() {
        *s = 2;
    }
    py_objects(&c, "rec", "put", &specs(&seeds, &names));
    c.start_osd(2);
    let t0 = std::time::Instant::now();
    let pg = loop {
        let states = pg_states(&c);
        if let Some((pg, _)) = states.iter().find(|(_, s)| s.starts_with("active") && s.contains("recovering")) {
            break pg.clone();
        }
        if t0.elapsed().as_secs() >= 60 {
            let logs: String = (0..3).map(|i| c.log(&format!("osd.{i}")).lines().filter(|l| l.contains("recover") || l.contains("pull") || l.contains("peer")).map(|l| format!("osd.{i}: {l}\n")).collect::<String>()).collect();
            panic!("no pg became active+recovering: {states:?}\n{logs}");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    // In that PG, while it recovers: overwrite half its objects (most not
    // pushed yet) and read the other half back.
    let in_pg: Vec<String> = names.iter().filter(|n| pg_of(n) == pg).cloned().collect();
    ops_while(&c, "rec", &pg, &in_pg, &mut seeds, 3, "recovering");
    c.wait_clean(180);
    // osd.2's copies are whole: with the other two down, everything reads back.
    let r = c.mon.ours(&["osd", "pool", "set", "rec", "min_size", "1"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    c.kill9_osd(0);
    c.kill9_osd(1);
    c.wait_up(1);
    py_objects(&c, "rec", "check", &specs(&seeds, &names));
}

/// An OSD that stops sending beacons is marked down after
/// `mon_osd_report_timeout`, even with no peer to report it (one OSD here),
/// with Ceph's log line; once it runs again it sees itself down and boots.
#[test]
fn a_silent_osd_is_marked_down_after_the_report_timeout() {
    let c = OurCluster::start(1, "mon_osd_report_timeout = 4\nosd_beacon_report_interval = 1\n");
    // Beacons keep it up well past the timeout.
    std::thread::sleep(std::time::Duration::from_secs(7));
    assert_eq!(c.status()["osdmap"]["num_up_osds"], 1, "an osd sending beacons was marked down");
    c.signal_osd(0, "STOP");
    c.wait_for(30, "the silent osd marked down", |s| s["osdmap"]["num_up_osds"] == 0);
    let log = c.mon.real(&["log", "last", "20"]);
    c.signal_osd(0, "CONT");
    assert!(log.stdout.contains("osd.0 marked down after no beacon for"), "{}", log.stdout);
    c.wait_up(1);
}

/// The acting set of the PG that holds `obj` in `pool`.
fn acting_of(c: &OurCluster, pool: &str, obj: &str) -> (String, Vec<i32>) {
    let r = c.mon.real(&["osd", "map", pool, obj, "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap_or_else(|e| panic!("osd map: {e}: {}", r.stdout));
    let acting = v["acting"].as_array().expect("acting").iter().map(|o| o.as_i64().unwrap() as i32).collect();
    (v["pgid"].as_str().unwrap().to_string(), acting)
}

/// Writes `body` to pool/obj with the real `rados` (waits as long as the PG
/// needs to become active).
fn put(c: &OurCluster, pool: &str, obj: &str, body: &[u8]) {
    let f = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(f.path(), body).unwrap();
    let r = c.rados(&["-p", pool, "put", obj, &f.path().display().to_string()]);
    assert_eq!(r.code, 0, "put {obj}: {}", r.stderr);
}

/// Reads pool/obj with the real `rados`, giving up after `timeout` seconds.
fn get(c: &OurCluster, pool: &str, obj: &str, timeout: u32) -> Result<Vec<u8>, String> {
    let f = tempfile::NamedTempFile::new().unwrap();
    let t = timeout.to_string();
    let r = c.rados(&["--rados_osd_op_timeout", &t, "-p", pool, "get", obj, &f.path().display().to_string()]);
    if r.code != 0 {
        return Err(r.stderr);
    }
    Ok(std::fs::read(f.path()).unwrap())
}

/// Ceph's PriorSet rule: when the only OSD that may hold a PG's newest writes
/// is down, the PG is `down` (blocked by that OSD) and serves nothing rather
/// than the stale copy; it recovers the newest writes once that OSD is
/// back. `ceph osd lost` lets an admin give up on the OSD instead, after
/// which the surviving copy is authoritative, even when the lost OSD
/// returns (its newer writes are divergent), as in Ceph.
#[test]
fn a_pg_whose_newest_copy_is_down_waits_for_it_or_for_osd_lost() {
    let mut c = OurCluster::start(3, "");
    c.create_pool_with("pi", 1, &[("size", "2"), ("min_size", "1")]);
    let (pg, acting) = acting_of(&c, "pi", "obj");
    assert_eq!(acting.len(), 2, "{acting:?}");
    let (a, b) = (acting[0] as usize, acting[1] as usize);
    let dump = |c: &OurCluster| -> serde_json::Value {
        let r = c.mon.real(&["pg", "dump", "--format", "json"]);
        let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap_or_default();
        v["pg_map"]["pg_stats"].as_array().and_then(|a| a.iter().find(|p| p["pgid"] == pg.as_str()).cloned()).unwrap_or_default()
    };

    for (round, (v_old, v_new)) in [(b"one".as_slice(), b"two".as_slice()), (b"two", b"three")].into_iter().enumerate() {
        put(&c, "pi", "obj", v_old);
        // b misses the newest write, then a (the only copy of it) goes down.
        c.kill9_osd(b);
        c.wait_up(2);
        put(&c, "pi", "obj", v_new);
        c.kill9_osd(a);
        c.wait_up(1);
        c.start_osd(b);
        c.wait_up(2);
        c.wait_for(60, "the pg down, blocked by the osd with the newest writes", |_| {
            let p = dump(&c);
            p["state"] == "down" && p["blocked_by"] == serde_json::json!([a])
        });
        let h = c.mon.real(&["health", "detail"]);
        assert!(h.stdout.contains(&format!("pg {pg} is down")), "{}", h.stdout);
        assert!(h.stdout.contains("Reduced data availability: 1 pg inactive, 1 pg down"), "{}", h.stdout);
        // Nothing is served from b's stale copy.
        let e = get(&c, "pi", "obj", 5).expect_err("a read from a down pg must not succeed");
        assert!(e.contains("timed out"), "{e}");
        if round == 0 {
            // a comes back: its newest writes are recovered.
            c.start_osd(a);
            c.wait_clean(120);
            assert_eq!(get(&c, "pi", "obj", 30).unwrap(), v_new);
        } else {
            // The admin gives up on a: b's copy serves as it is.
            let r = c.mon.real(&["osd", "lost", &a.to_string()]);
            assert_ne!(r.code, 0);
            assert!(r.stderr.contains("are you SURE?"), "{}", r.stderr);
            let r = c.mon.real(&["osd", "lost", &b.to_string(), "--yes-i-really-mean-it"]);
            assert!(r.stderr.contains(&format!("osd.{b} is not down")), "{}", r.stderr);
            let r = c.mon.real(&["osd", "lost", &a.to_string(), "--yes-i-really-mean-it"]);
            assert_eq!(r.code, 0, "{}", r.stderr);
            assert!(r.stderr.contains("marked osd lost in epoch"), "{}", r.stderr);
            assert_eq!(get(&c, "pi", "obj", 60).unwrap(), v_old);
            // a returns with writes the cluster gave up on: b's history wins.
            c.start_osd(a);
            c.wait_clean(120);
            assert_eq!(get(&c, "pi", "obj", 30).unwrap(), v_old);
        }
    }
}

/// Copies left on an OSD that leaves a PG (here: marked out) are deleted once
/// the PG is clean without it, and the OSD gets them back by backfill when it
/// returns.
#[test]
fn stray_copies_are_deleted_once_the_pg_is_clean() {
    let mut c = OurCluster::start(3, "");
    c.create_pool_with("st", 8, &[("size", "2")]);
    let names: Vec<String> = (0..40).map(|i| format!("s{i}")).collect();
    for (i, n) in names.iter().enumerate() {
        put(&c, "st", n, &data(70_000, i as u64));
    }
    // Objects bigger than one recovery push (8 MiB) go in pieces.
    let big: Vec<String> = (0..3).map(|i| format!("big{i}")).collect();
    for (i, n) in big.iter().enumerate() {
        put(&c, "st", n, &data(12 << 20, 100 + i as u64));
    }
    let pool_id = {
        let m = c.mon.real(&["osd", "map", "st", "x", "--format", "json"]);
        serde_json::from_str::<serde_json::Value>(m.stdout.trim()).unwrap()["pool_id"].as_u64().unwrap()
    };
    let tool = |c: &OurCluster, i: usize, op: &str| -> Vec<String> {
        let r = run(&bin("ceph-objectstore-tool"), &["--data-path", &c.osd_dir(i).display().to_string(), "--op", op]);
        assert_eq!(r.code, 0, "ceph-objectstore-tool --op {op}: {}", r.stderr);
        r.stdout.lines().map(str::to_string).filter(|l| l.starts_with(&format!("{pool_id}.")) || l.starts_with(&format!("[\"{pool_id}."))).collect()
    };
    // osd.2 holds copies of this pool's PGs; while it runs, the tool is refused.
    let r = run(&bin("ceph-objectstore-tool"), &["--data-path", &c.osd_dir(2).display().to_string(), "--op", "list-pgs"]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("stop it first"), "{}", r.stderr);
    let held: std::collections::BTreeSet<String> = {
        let r = c.mon.real(&["pg", "ls", "--format", "json"]);
        let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap_or_else(|e| panic!("pg ls: {e}: {}", r.stdout));
        let ours = |p: &&serde_json::Value| p["pgid"].as_str().unwrap_or("").starts_with(&format!("{pool_id}."));
        v["pg_stats"].as_array().expect("pg_stats").iter().filter(ours).filter(|p| p["acting"].as_array().unwrap().iter().any(|o| o == 2)).map(|p| p["pgid"].as_str().unwrap().to_string()).collect()
    };
    assert!(!held.is_empty(), "osd.2 holds none of the pool's pgs");
    // (Copies left over from the pool's creation may be deleted before this.)
    let log_from = c.log("osd.2").len();
    let r = c.mon.ours(&["osd", "out", "2"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // Once clean, the primaries tell osd.2 to delete its copies.
    let t0 = std::time::Instant::now();
    loop {
        let log = c.log("osd.2");
        let deleted: std::collections::BTreeSet<String> = log[log_from.min(log.len())..]
            .lines()
            .filter(|l| l.contains("deleting stray copy"))
            .filter_map(|l| l.split("pg=").nth(1).and_then(|r| r.split_whitespace().next()).map(str::to_string))
            .collect();
        if held.is_subset(&deleted) {
            c.wait_clean(60);
            break;
        }
        assert!(t0.elapsed().as_secs() < 60, "osd.2 deleted {deleted:?}, not all of {held:?}:\n{log}");
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    c.kill9_osd(2);
    let left = tool(&c, 2, "list-pgs");
    if !left.is_empty() {
        let logs: String = (0..3)
            .map(|i| c.log(&format!("osd.{i}")).lines().filter(|l| left.iter().any(|pg| l.contains(&format!("pg={pg} ")) || l.contains(&format!("pg={pg}:")))).map(|l| format!("osd.{i}: {l}\n")).collect::<String>())
            .collect();
        panic!("stray pgs left on osd.2: {left:?}\n{logs}");
    }
    // Every object reads back from the copies that stayed.
    for (i, n) in names.iter().enumerate() {
        assert_eq!(get(&c, "st", n, 30).unwrap(), data(70_000, i as u64), "{n}");
    }
    for (i, n) in big.iter().enumerate() {
        assert!(get(&c, "st", n, 30).unwrap() == data(12 << 20, 100 + i as u64), "{n} differs");
    }
    // Back in: it is backfilled and holds objects of the pool again.
    c.start_osd(2);
    c.wait_up(3);
    let r = c.mon.ours(&["osd", "in", "2"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    c.wait_clean(120);
    let on_2: Vec<usize> = (0..big.len()).filter(|i| acting_of(&c, "st", &big[*i]).1.contains(&2)).collect();
    assert!(!on_2.is_empty(), "no big object maps to osd.2");
    c.kill9_osd(2);
    let objs = tool(&c, 2, "list");
    assert!(!objs.is_empty(), "osd.2 has no objects after backfill");
    assert!(objs.iter().all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()), "{objs:?}");
    // Its backfilled copies of the big objects are whole.
    for i in on_2 {
        let line = objs.iter().find(|l| l.contains(&format!("\"oid\":\"{}\"", big[i]))).unwrap_or_else(|| panic!("{} not on osd.2: {objs:?}", big[i]));
        let out = tempfile::NamedTempFile::new().unwrap();
        let r = run(&bin("ceph-objectstore-tool"), &["--data-path", &c.osd_dir(2).display().to_string(), line, "get-bytes", &out.path().display().to_string()]);
        assert_eq!(r.code, 0, "get-bytes: {}", r.stderr);
        assert!(std::fs::read(out.path()).unwrap() == data(12 << 20, 100 + i as u64), "osd.2's copy of {} differs", big[i]);
    }
}

/// The python helper's object content, for checking copies byte for byte.
fn py_content(name: &str, seed: u32) -> Vec<u8> {
    let mut b = format!("{name}:{seed};").repeat(1000).into_bytes();
    b.truncate(6000 + name.len() * 100);
    b
}

/// A new OSD that CRUSH puts in a PG gets its copy by backfill while the
/// OSDs with complete copies act for the PG through a pg_temp (Ceph's
/// `active+remapped+backfilling`): reads and writes go on meanwhile,
/// the pg_temp goes once the backfill is done, and the new OSD's copy holds
/// the writes made during it.
#[test]
fn a_new_osd_is_backfilled_while_complete_copies_serve_through_pg_temp() {
    let mut c = OurCluster::start(3, "osd_recovery_sleep = 0.1\n");
    c.create_pool_with("tmp", 8, &[("size", "2")]);
    let m = c.mon.real(&["osd", "map", "tmp", "probe", "--format", "json"]);
    let pool_id = serde_json::from_str::<serde_json::Value>(m.stdout.trim()).unwrap()["pool_id"].as_u64().expect("pool_id");
    let pg_of = |name: &str| format!("{pool_id}.{:x}", maps::pool::ceph_str_hash_rjenkins(name.as_bytes()) & 7);
    let names: Vec<String> = (0..240).map(|i| format!("t{i}")).collect();
    let mut seeds: std::collections::BTreeMap<String, u32> = names.iter().map(|n| (n.clone(), 1)).collect();
    let specs = |seeds: &std::collections::BTreeMap<String, u32>, which: &[String]| -> Vec<String> { which.iter().map(|n| format!("{n}={}", seeds[n])).collect() };
    py_objects(&c, "tmp", "put", &specs(&seeds, &names));
    let pg_temp = |c: &OurCluster| -> Vec<String> {
        let r = c.mon.real(&["osd", "dump", "--format", "json"]);
        let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap_or_default();
        v["pg_temp"].as_array().map(|a| a.iter().map(|p| p["pgid"].as_str().unwrap_or("").to_string()).collect()).unwrap_or_default()
    };
    c.add_osd(3);
    c.wait_up(4);
    let t0 = std::time::Instant::now();
    let pg = loop {
        let states = pg_states(&c);
        let temps = pg_temp(&c);
        let found = states.iter().find(|(pg, s)| s.starts_with("active") && s.contains("remapped") && s.contains("backfilling") && temps.contains(pg) && pg.starts_with(&format!("{pool_id}.")));
        if let Some((pg, _)) = found {
            break pg.clone();
        }
        assert!(t0.elapsed().as_secs() < 60, "no pg became active+remapped+backfilling with a pg_temp: {states:?} pg_temp {temps:?}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let in_pg: Vec<String> = names.iter().filter(|n| pg_of(n) == pg).cloned().collect();
    ops_while(&c, "tmp", &pg, &in_pg, &mut seeds, 2, "remapped");
    c.wait_clean(180);
    assert_eq!(pg_temp(&c), Vec::<String>::new(), "pg_temp left behind");
    py_objects(&c, "tmp", "check", &specs(&seeds, &names));
    // The new OSD's copy of that PG is whole, writes made during the backfill included.
    let (_, acting) = acting_of(&c, "tmp", &in_pg[0]);
    assert!(acting.contains(&3), "{pg} no longer maps to osd.3: {acting:?}");
    c.kill9_osd(3);
    for n in &in_pg {
        let out = tempfile::NamedTempFile::new().unwrap();
        let r = run(&bin("ceph-objectstore-tool"), &["--data-path", &c.osd_dir(3).display().to_string(), "--pgid", &pg, n, "get-bytes", &out.path().display().to_string()]);
        assert_eq!(r.code, 0, "get-bytes {n}: {}", r.stderr);
        assert!(std::fs::read(out.path()).unwrap() == py_content(n, seeds[n]), "osd.3's copy of {n} is not seed {}", seeds[n]);
    }
}

/// With fewer acting copies than min_size a PG is
/// `undersized+degraded+peered` and serves nothing, as in Ceph; lowering
/// min_size is a new interval, and the PG goes active on the copy it has.
#[test]
fn a_pg_below_min_size_is_peered_until_min_size_is_lowered() {
    let mut c = OurCluster::start(3, "");
    c.create_pool_with("ms", 1, &[("min_size", "2")]);
    put(&c, "ms", "obj", b"kept");
    let (pg, acting) = acting_of(&c, "ms", "obj");
    assert_eq!(acting.len(), 3, "{acting:?}");
    c.kill9_osd(acting[1] as usize);
    c.kill9_osd(acting[2] as usize);
    c.wait_up(1);
    c.wait_for(60, "the pg peered, not active", |_| pg_states(&c).get(&pg).map(String::as_str) == Some("undersized+degraded+peered"));
    let e = get(&c, "ms", "obj", 5).expect_err("a peered pg must not serve");
    assert!(e.contains("timed out"), "{e}");
    let r = c.mon.ours(&["osd", "pool", "set", "ms", "min_size", "1"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(get(&c, "ms", "obj", 60).unwrap(), b"kept");
    c.wait_for(60, "the pg active", |_| pg_states(&c).get(&pg).is_some_and(|s| s.starts_with("active+undersized+degraded")));
}

/// A new OSD takes over many PGs at once; each OSD backfills at most
/// `osd_max_backfills` (1, Ceph's default) of them at a time as primary, the
/// others show backfill_wait, and all end clean with their data.
#[test]
fn backfills_take_turns_per_osd_with_osd_max_backfills() {
    let mut c = OurCluster::start(3, "osd_recovery_sleep = 0.1\n");
    c.create_pool_with("bf", 16, &[("size", "2")]);
    let names: Vec<String> = (0..320).map(|i| format!("b{i}")).collect();
    let specs: Vec<String> = names.iter().map(|n| format!("{n}=1")).collect();
    py_objects(&c, "bf", "put", &specs);
    c.add_osd(3);
    c.wait_up(4);
    let t0 = std::time::Instant::now();
    let (mut saw_wait, mut saw_backfilling) = (false, false);
    loop {
        let r = c.mon.real(&["pg", "ls", "--format", "json"]);
        let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap_or_default();
        let pgs = v["pg_stats"].as_array().cloned().unwrap_or_default();
        let mut per_primary: std::collections::HashMap<i64, Vec<String>> = std::collections::HashMap::new();
        for p in &pgs {
            let state = p["state"].as_str().unwrap_or("");
            saw_wait |= state.contains("backfill_wait");
            // Only PGs still remapped: once a backfill ends and its pg_temp
            // goes, the mon lists the PG under its new primary while the
            // old one's last stat (backfilling) stands until the new one reports.
            if state.contains("backfilling") && p["up"] != p["acting"] {
                saw_backfilling = true;
                per_primary.entry(p["acting_primary"].as_i64().unwrap_or(-1)).or_default().push(p["pgid"].as_str().unwrap_or("").to_string());
            }
        }
        for (osd, pgs) in &per_primary {
            assert!(pgs.len() <= 1, "osd.{osd} backfills {pgs:?} at once with osd_max_backfills = 1");
        }
        let clean = !pgs.is_empty() && pgs.iter().all(|p| p["state"] == "active+clean");
        if clean && saw_backfilling {
            break;
        }
        assert!(t0.elapsed().as_secs() < 240, "backfill did not finish: {:?}", pgs.iter().map(|p| format!("{} {}", p["pgid"], p["state"])).collect::<Vec<_>>());
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert!(saw_wait, "no PG waited for a backfill slot, though more PGs moved than there are primaries");
    c.wait_clean(60);
    py_objects(&c, "bf", "check", &specs);
}

/// `ceph osd set|unset FLAG` says what the real one says, and the flag shows
/// in health and `osd stat` as there (checked with `notieragent`, which
/// changes nothing on the shared real cluster). Then on ours, each flag
/// holds back what Ceph's does until it is unset: noup a booting OSD,
/// nodown a dead one, noout marking it out, nobackfill the backfill that
/// follows.
#[test]
fn osd_flags_say_what_real_ceph_says_and_hold_the_cluster_back_until_unset() {
    let mut c = OurCluster::start(3, "mon_osd_down_out_interval = 2\n");
    let ref_conf = oxceph_tests::ref_cluster().conf();
    let real = |args: &[&str]| {
        let mut a = vec!["-c", ref_conf.to_str().unwrap()];
        a.extend_from_slice(args);
        run(Path::new("/usr/bin/ceph"), &a)
    };
    let conf = c.conf();
    let ours = |args: &[&str]| {
        let mut a = vec!["-c", conf.as_str()];
        a.extend_from_slice(args);
        run(Path::new("/usr/bin/ceph"), &a)
    };
    let flag_line = |r: &Run| r.stdout.lines().find(|l| l.starts_with("flags")).map(str::to_string);
    let health_flags = |r: &Run| -> serde_json::Value {
        let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap_or_default();
        let f = &v["checks"]["OSDMAP_FLAGS"];
        serde_json::json!([f["severity"], f["summary"]])
    };
    let _ = real(&["osd", "unset", "notieragent"]);
    let (r_set, o_set) = (real(&["osd", "set", "notieragent"]), ours(&["osd", "set", "notieragent"]));
    let (r_stat, o_stat) = (real(&["osd", "stat"]), ours(&["osd", "stat"]));
    let (r_health, o_health) = (real(&["health", "--format", "json"]), ours(&["health", "--format", "json"]));
    let (r_unset, o_unset) = (real(&["osd", "unset", "notieragent"]), ours(&["osd", "unset", "notieragent"]));
    let (r_full, o_full) = (real(&["osd", "set", "full"]), ours(&["osd", "set", "full"]));
    assert_eq!((o_set.code, o_set.stderr.trim()), (r_set.code, r_set.stderr.trim()));
    assert_eq!(flag_line(&o_stat), flag_line(&r_stat));
    assert_eq!(flag_line(&o_stat).as_deref(), Some("flags notieragent"));
    assert_eq!(health_flags(&o_health), health_flags(&r_health));
    assert_eq!((o_unset.code, o_unset.stderr.trim()), (r_unset.code, r_unset.stderr.trim()));
    assert_eq!((o_full.code, o_full.stderr.trim()), (r_full.code, r_full.stderr.trim()));
    assert!(ours(&["osd", "dump"]).stdout.lines().any(|l| l.starts_with("flags sortbitwise")), "no flag left set after unset");

    c.create_pool_with("fl", 8, &[("size", "2")]);
    let specs: Vec<String> = (0..40).map(|i| format!("f{i}=1")).collect();
    py_objects(&c, "fl", "put", &specs);
    c.wait_clean(60);
    let set = |f: &str| assert_eq!(ours(&["osd", "set", f]).code, 0);
    let unset = |f: &str| assert_eq!(ours(&["osd", "unset", f]).code, 0);
    let osd_state = |o: usize| {
        let r = ours(&["osd", "dump", "--format", "json"]);
        let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap_or_else(|e| panic!("osd dump: {e}: {}", r.stderr));
        let e = v["osds"].as_array().and_then(|a| a.iter().find(|x| x["osd"] == o).cloned()).unwrap_or_else(|| panic!("no osd.{o} in {v}"));
        (e["up"].as_i64() == Some(1), e["in"].as_i64() == Some(1))
    };
    let hold = |what: &str, secs: u64, ok: &dyn Fn() -> bool| {
        let t0 = std::time::Instant::now();
        while t0.elapsed().as_secs() < secs {
            assert!(ok(), "{what}");
            std::thread::sleep(std::time::Duration::from_millis(250));
        }
    };
    let wait = |what: &str, secs: u64, ok: &dyn Fn() -> bool| {
        let t0 = std::time::Instant::now();
        while !ok() {
            assert!(t0.elapsed().as_secs() < secs, "timed out waiting for {what}");
            std::thread::sleep(std::time::Duration::from_millis(250));
        }
    };

    // nodown: a dead OSD stays up in the map (its peers' reports are ignored).
    set("nodown");
    c.kill9_osd(2);
    hold("osd.2 marked down despite nodown", 8, &|| osd_state(2).0);
    // noout: once down, it is not marked out after mon_osd_down_out_interval.
    set("noout");
    unset("nodown");
    wait("osd.2 down once nodown is unset", 30, &|| !osd_state(2).0);
    hold("osd.2 marked out despite noout", 5, &|| osd_state(2).1);
    // nobackfill: once out, its PGs wait for backfill rather than move.
    set("nobackfill");
    unset("noout");
    wait("osd.2 out once noout is unset", 30, &|| !osd_state(2).1);
    wait("a pg in backfill_wait under nobackfill", 30, &|| pg_states(&c).values().any(|s| s.contains("backfill_wait")));
    hold("a pg backfilled despite nobackfill", 4, &|| !pg_states(&c).values().any(|s| s.contains("backfilling")) && pg_states(&c).values().any(|s| s.contains("backfill_wait")));
    unset("nobackfill");
    c.wait_clean(120);
    py_objects(&c, "fl", "check", &specs);
    // noup: a booting OSD stays down until unset.
    set("noup");
    c.start_osd(2);
    hold("osd.2 marked up despite noup", 6, &|| !osd_state(2).0);
    unset("noup");
    c.wait_up(3);
    assert_eq!(ours(&["osd", "in", "2"]).code, 0);
    c.wait_clean(120);
    py_objects(&c, "fl", "check", &specs);
    // pause: our client holds writes (as librados does) until unpause.
    assert_eq!(ours(&["osd", "pause"]).code, 0);
    let f = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(f.path(), b"written after unpause").unwrap();
    let mut put = std::process::Command::new(bin("rados"))
        .args(["-c", conf.as_str(), "-p", "fl", "put", "paused", &f.path().display().to_string()])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_secs(3));
    assert!(put.try_wait().unwrap().is_none(), "the write finished while the cluster was paused");
    assert_eq!(ours(&["osd", "unpause"]).code, 0);
    let t0 = std::time::Instant::now();
    let status = loop {
        if let Some(st) = put.try_wait().unwrap() {
            break st;
        }
        assert!(t0.elapsed().as_secs() < 30, "the paused write did not finish after unpause");
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert!(status.success());
    assert_eq!(get(&c, "fl", "paused", 30).unwrap(), b"written after unpause");
}

/// The mon keeps osdmaps only from the oldest epoch a PG may still need
/// (and `mon_min_osdmap_epochs` more), as Ceph's trimming does; the OSDs
/// drop their stored copies along. An OSD that was out while its epochs
/// were trimmed comes back, peers and serves its data; an OSD restarted
/// after trimming names its intervals as its peers do.
#[test]
fn osdmaps_are_trimmed_and_osds_from_before_the_trim_still_peer() {
    let mut c = OurCluster::start(3, "osd_beacon_report_interval = 1\nmon_min_osdmap_epochs = 10\npaxos_service_trim_min = 5\npaxos_service_trim_max = 40\n");
    c.create_pool_with("tr", 8, &[("size", "2")]);
    let specs: Vec<String> = (0..40).map(|i| format!("t{i}=1")).collect();
    py_objects(&c, "tr", "put", &specs);
    c.wait_clean(60);
    let conf = c.conf();
    let ceph = |args: &[&str]| {
        let mut a = vec!["-c", conf.as_str()];
        a.extend_from_slice(args);
        run(Path::new("/usr/bin/ceph"), &a)
    };
    let report = || -> serde_json::Value { serde_json::from_str(ceph(&["report"]).stdout.trim()).unwrap_or_default() };
    let r = report();
    assert!(r["osdmap_first_committed"].as_u64().is_some() && r["osdmap_clean_epochs"]["osd_epochs"].is_array(), "ceph report: {r}");
    // osd.2 leaves: down and out; its PGs move to the others.
    c.kill9_osd(2);
    assert_eq!(c.mon.real(&["osd", "down", "2"]).code, 0);
    assert_eq!(c.mon.real(&["osd", "out", "2"]).code, 0);
    c.wait_clean(120);
    let left_at = c.status()["osdmap"]["epoch"].as_u64().unwrap();
    // Epochs go by (flag changes: nothing moves), and are trimmed.
    let churn = |n: usize| {
        for i in 0..n {
            assert_eq!(ceph(&["osd", if i % 2 == 0 { "set" } else { "unset" }, "noscrub"]).code, 0);
        }
    };
    let t0 = std::time::Instant::now();
    loop {
        churn(10);
        let r = report();
        let first = r["osdmap_first_committed"].as_u64().unwrap_or(0);
        let last = r["osdmap_last_committed"].as_u64().unwrap_or(0);
        let lec = r["osdmap_clean_epochs"]["min_last_epoch_clean"].as_u64().unwrap_or(0);
        // Never past what a PG may need, nor within mon_min_osdmap_epochs of the newest.
        if first > 1 {
            assert!(first <= lec && first + 10 <= last, "trimmed to {first} with min_last_epoch_clean {lec}, newest {last}");
        }
        if first > left_at + 5 {
            break;
        }
        assert!(t0.elapsed().as_secs() < 120, "osdmaps not trimmed past {left_at}: {}", r["osdmap_clean_epochs"]);
    }
    // Settle: new epochs tell the OSDs the mon's oldest; once osd.0 has
    // them and the mon trimmed nothing meanwhile, osd.0 trimmed to it too.
    let t0 = std::time::Instant::now();
    let first = loop {
        let before = report()["osdmap_first_committed"].as_u64().unwrap();
        churn(2);
        let last = report()["osdmap_last_committed"].as_u64().unwrap();
        let osd0_epoch = |r: &serde_json::Value| {
            r["osdmap_clean_epochs"]["osd_epochs"].as_array().and_then(|a| a.iter().find(|x| x["id"] == 0)).and_then(|x| x["epoch"].as_u64()).unwrap_or(0)
        };
        while osd0_epoch(&report()) < last {
            assert!(t0.elapsed().as_secs() < 120, "osd.0 did not report epoch {last}");
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
        std::thread::sleep(std::time::Duration::from_millis(1500));
        if report()["osdmap_first_committed"].as_u64().unwrap() == before {
            break before;
        }
        assert!(t0.elapsed().as_secs() < 120, "the mon's oldest osdmap does not settle");
    };
    let e = (first - 1).to_string();
    let r = ceph(&["osd", "getmap", &e, "-o", "/dev/null"]);
    assert_ne!(r.code, 0, "epoch {e} should be gone");
    assert!(r.stderr.contains(&format!("there is no map for epoch {e}")), "{}", r.stderr);
    // osd.0 dropped its stored copies too; the oldest it keeps is a map the
    // real osdmaptool reads.
    c.kill9_osd(0);
    let osd0 = c.osd_dir(0).display().to_string();
    let tool = |args: &[&str]| {
        let d = osd0.clone();
        let mut a = vec!["--data-path", d.as_str()];
        a.extend_from_slice(args);
        run(&bin("ceph-objectstore-tool"), &a)
    };
    let r = tool(&["--op", "get-osdmap", "--epoch", &e, "--file", "/dev/null"]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains(&format!("Failed to get osdmap#{e}")), "{}", r.stderr);
    let f = tempfile::NamedTempFile::new().unwrap();
    let path = f.path().display().to_string();
    let r = tool(&["--op", "get-osdmap", "--epoch", &first.to_string(), "--file", &path]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run(Path::new("/usr/bin/osdmaptool"), &["--print", &path]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains(&format!("epoch {first}")), "{}", r.stdout);
    c.start_osd(0);
    c.wait_up(2);
    c.wait_clean(120);
    // osd.2 comes back in, from before every epoch the cluster kept.
    c.start_osd(2);
    c.wait_up(3);
    assert_eq!(c.mon.real(&["osd", "in", "2"]).code, 0);
    c.wait_clean(120);
    py_objects(&c, "tr", "check", &specs);
    // Its PGs went active with it: writes land on all copies.
    let more: Vec<String> = (0..20).map(|i| format!("t{i}=2")).collect();
    py_objects(&c, "tr", "put", &more);
    py_objects(&c, "tr", "check", &more);
}

/// PG split, as Ceph does it: `osd pool set POOL pg_num N` sets the target
/// (same reply as the real cluster), the PGs split once active, pgp_num
/// follows a step at a time and the children move to their own OSDs. A
/// `rados bench` writing through it finishes without errors and reads back
/// intact (its `seq` checks every object), python3-rados objects written
/// before all read back, and the pool's stats count every object. An OSD
/// killed before a split catches up when it restarts (it splits its stale
/// copies on startup, then recovers).
#[test]
fn pg_num_increases_split_pgs_under_load_and_every_object_survives() {
    let mut c = OurCluster::start(3, "");
    c.create_pool_with("pn", 8, &[("pg_autoscale_mode", "off")]);
    let specs: Vec<String> = (0..60).map(|i| format!("p{i}=1")).collect();
    py_objects(&c, "pn", "put", &specs);
    let bench = bench_in_background(&c, "pn", "12");
    std::thread::sleep(std::time::Duration::from_secs(3));
    let real_pool = set_pg_num_like_real(&c, "pn", 8, 32);
    let b = bench.join().unwrap();
    assert_eq!(b.code, 0, "rados bench through a split: {}\n{}", b.stdout, b.stderr);
    let pool_num = |c: &OurCluster, k: &str| c.mon.real(&["osd", "pool", "get", "pn", k]).stdout.trim().to_string();
    wait_for_pg_num(&c, "pn", 32, 120);
    seq_reads_intact(&c, "pn", "after the split");
    py_objects(&c, "pn", "check", &specs);
    every_object_counted(&c, "pn");
    // The real cluster got there too (its mgr splits the same way).
    let t0 = std::time::Instant::now();
    while oxceph_tests::real_ceph(&["osd", "pool", "get", &real_pool, "pg_num"]).trim() != "pg_num: 32" {
        assert!(t0.elapsed().as_secs() < 120, "the real cluster never split to 32");
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    // `pg ls-by-pool/-osd/-primary`, in the real cluster's table.
    let real_ls = oxceph_tests::real_ceph(&["pg", "ls-by-pool", &real_pool]);
    let ours_ls = c.mon.real(&["pg", "ls-by-pool", "pn"]).stdout;
    let header = |t: &str| t.lines().next().unwrap_or("").split_whitespace().map(str::to_string).collect::<Vec<_>>();
    let footer = |t: &str| t.lines().last().unwrap_or("").to_string();
    assert_eq!((header(&ours_ls), footer(&ours_ls)), (header(&real_ls), footer(&real_ls)));
    let rows: Vec<&str> = ours_ls.lines().filter(|l| l.starts_with("1.")).collect();
    assert_eq!(rows.len(), 32, "{ours_ls}");
    assert!(rows.iter().all(|r| r.split_whitespace().nth(9) == Some("active+clean") && r.contains("]p")), "{ours_ls}");
    let mut by_primary = 0;
    for o in 0..3 {
        let v: serde_json::Value = serde_json::from_str(c.mon.real(&["pg", "ls-by-primary", &format!("osd.{o}"), "--format", "json"]).stdout.trim()).unwrap();
        let pgs = v["pg_stats"].as_array().unwrap();
        assert!(pgs.iter().all(|p| p["acting_primary"] == o), "{v}");
        by_primary += pgs.iter().filter(|p| p["pgid"].as_str().unwrap_or("").starts_with("1.")).count();
        let v: serde_json::Value = serde_json::from_str(c.mon.real(&["pg", "ls-by-osd", &o.to_string(), "active", "--format", "json"]).stdout.trim()).unwrap();
        assert_eq!(v["pg_stats"].as_array().unwrap().iter().filter(|p| p["pgid"].as_str().unwrap_or("").starts_with("1.")).count(), 32, "size 3 on 3 OSDs: every PG on each");
    }
    assert_eq!(by_primary, 32);
    // Raw usage counts the data's three copies (block file and RocksDB).
    let df: serde_json::Value = serde_json::from_str(c.mon.real(&["df", "--format", "json"]).stdout.trim()).unwrap();
    let stored = df["pools"].as_array().unwrap().iter().find(|p| p["name"] == "pn").unwrap()["stats"]["stored"].as_u64().unwrap();
    assert!(df["stats"]["total_used_raw_bytes"].as_u64().unwrap() >= 3 * stored, "{df}");
    let _ = oxceph_tests::real_ceph(&["osd", "pool", "rm", &real_pool, &real_pool, "--yes-i-really-really-mean-it"]);

    // osd.2 dies; the pool splits again without it, takes writes, and
    // osd.2 comes back with copies from before the split.
    c.kill9_osd(2);
    c.wait_for(60, "osd.2 down", |s| s["osdmap"]["num_up_osds"].as_u64() == Some(2));
    let r = c.mon.real(&["osd", "pool", "set", "pn", "pg_num", "64"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    c.wait_for(120, "pg_num 64 with osd.2 down", |_| pool_num(&c, "pg_num") == "pg_num: 64" && pool_num(&c, "pgp_num") == "pgp_num: 64");
    let more: Vec<String> = (0..60).map(|i| format!("q{i}=2")).collect();
    py_objects(&c, "pn", "put", &more);
    c.start_osd(2);
    c.wait_up(3);
    c.wait_clean(180);
    assert!(c.log("osd.2").contains("split"), "osd.2 did not split its stale copies on startup");
    py_objects(&c, "pn", "check", &specs);
    py_objects(&c, "pn", "check", &more);
    seq_reads_intact(&c, "pn", "after osd.2 caught up");
    every_object_counted(&c, "pn");
}

/// PG merge, as Ceph does it: lowering pg_num moves pgp_num down first, so
/// that PGs about to merge share OSDs, then (once every PG is clean) each
/// OSD merges its copies. A `rados bench` writing through it finishes
/// without errors and reads back intact, python3-rados objects all read
/// back, every object is counted, and the real cluster answers the same.
#[test]
fn pg_num_decreases_merge_pgs_under_load_and_every_object_survives() {
    let c = OurCluster::start(3, "");
    c.create_pool_with("pm", 32, &[("pg_autoscale_mode", "off")]);
    let specs: Vec<String> = (0..80).map(|i| format!("m{i}=3")).collect();
    py_objects(&c, "pm", "put", &specs);
    let bench = bench_in_background(&c, "pm", "10");
    std::thread::sleep(std::time::Duration::from_secs(2));
    let real_pool = set_pg_num_like_real(&c, "pm", 32, 8);
    let _ = oxceph_tests::real_ceph(&["osd", "pool", "rm", &real_pool, &real_pool, "--yes-i-really-really-mean-it"]);
    let b = bench.join().unwrap();
    assert_eq!(b.code, 0, "rados bench through a merge: {}\n{}", b.stdout, b.stderr);
    wait_for_pg_num(&c, "pm", 8, 180);
    seq_reads_intact(&c, "pm", "after the merge");
    py_objects(&c, "pm", "check", &specs);
    every_object_counted(&c, "pm");
    // And back up: the merged PGs split again.
    let r = c.mon.real(&["osd", "pool", "set", "pm", "pg_num", "16"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    wait_for_pg_num(&c, "pm", 16, 120);
    py_objects(&c, "pm", "check", &specs);
}

/// The real `rados bench ... write` against `pool` for `secs`, in a thread.
fn bench_in_background(c: &OurCluster, pool: &str, secs: &str) -> std::thread::JoinHandle<oxceph_tests::Run> {
    let (conf, pool, secs) = (c.conf(), pool.to_string(), secs.to_string());
    std::thread::spawn(move || rados_at(Path::new(REAL_RADOS), &conf, &["-p", &pool, "bench", &secs, "write", "-b", "16384", "-t", "16", "--no-cleanup"]))
}

/// `osd pool set POOL pg_num TO` on our cluster and on a new pool of
/// `from` PGs on the real one: the same exit code and message (pool id
/// and name aside). Returns the real pool's name.
fn set_pg_num_like_real(c: &OurCluster, pool: &str, from: u32, to: u32) -> String {
    let real_pool = format!("pgnum{from}to{to}x{}", std::process::id());
    oxceph_tests::real_ceph(&["osd", "pool", "create", &real_pool, &from.to_string(), &from.to_string()]);
    oxceph_tests::real_ceph(&["osd", "pool", "set", &real_pool, "pg_autoscale_mode", "off"]);
    let real = run(Path::new("/usr/bin/ceph"), &["-c", &oxceph_tests::ref_cluster().conf().display().to_string(), "osd", "pool", "set", &real_pool, "pg_num", &to.to_string()]);
    let r = c.mon.real(&["osd", "pool", "set", pool, "pg_num", &to.to_string()]);
    let ours_id = c.mon.real(&["osd", "pool", "ls", "detail", "--format", "json"]).stdout;
    let ours_id: serde_json::Value = serde_json::from_str(ours_id.trim()).unwrap_or_default();
    let ours_id = ours_id.as_array().and_then(|a| a.iter().find(|p| p["pool_name"] == pool)).map(|p| p["pool_id"].to_string()).unwrap_or_default();
    let norm = |s: &str, id: &str, name: &str| s.replace(&format!("pool {id} "), "pool N ").replace(&format!("'{name}'"), "P");
    assert_eq!((r.code, norm(&r.stderr, &ours_id, pool)), (real.code, norm(&real.stderr, &real_pool_id(&real_pool), &real_pool)));
    real_pool
}

/// Waits until the pool's pg_num and pgp_num are both `n` and every PG is
/// active+clean, and checks `pg ls` shows `n` PGs of it.
fn wait_for_pg_num(c: &OurCluster, pool: &str, n: u32, secs: u64) {
    let get = |k: &str| c.mon.real(&["osd", "pool", "get", pool, k]).stdout.trim().to_string();
    c.wait_for(secs, &format!("pg_num and pgp_num {n}"), |_| get("pg_num") == format!("pg_num: {n}") && get("pgp_num") == format!("pgp_num: {n}"));
    c.wait_clean(120);
    let v: serde_json::Value = serde_json::from_str(c.mon.real(&["pg", "ls-by-pool", pool, "--format", "json"]).stdout.trim()).unwrap();
    assert_eq!(v["pg_stats"].as_array().map(|a| a.len()), Some(n as usize));
}

/// `rados bench seq` reads back every object a bench wrote, with its content checked.
fn seq_reads_intact(c: &OurCluster, pool: &str, when: &str) {
    let seq = c.rados(&["-p", pool, "bench", "60", "seq", "-t", "16"]);
    assert!(seq.code == 0 && !seq.stdout.contains("not correct") && !seq.stderr.contains("not correct"), "seq {when}: {}\n{}", seq.stdout, seq.stderr);
}

/// The cluster's object count (from the PGs' stats) comes to what `rados ls` lists.
fn every_object_counted(c: &OurCluster, pool: &str) {
    let listed = c.rados(&["-p", pool, "ls"]).stdout.lines().count() as u64;
    c.wait_for(30, "every object counted", |s| s["pgmap"]["num_objects"].as_u64() == Some(listed));
}

/// A pool's id on the reference cluster.
fn real_pool_id(name: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(oxceph_tests::real_ceph(&["osd", "pool", "ls", "detail", "--format", "json"]).trim()).unwrap_or_default();
    v.as_array().and_then(|a| a.iter().find(|p| p["pool_name"] == name)).map(|p| p["pool_id"].to_string()).unwrap_or_default()
}

/// Pool quotas are enforced as Ceph enforces them, compared step by step
/// with the real cluster: once the PGs report the pool at its quota it is
/// flagged `full,full_quota`, health says `POOL_FULL`, `get-quota` shows
/// the usage, the real `rados` holds the next write (here until its op
/// timeout); `rm --force-full` gets it under quota, which clears it all, and
/// the write goes through.
#[test]
fn pool_quotas_fill_a_pool_and_hold_writes_like_real_ceph() {
    let c = OurCluster::start(3, "");
    let pool = format!("quota{}", std::process::id());
    let real_conf = oxceph_tests::ref_cluster().conf().display().to_string();
    let confs = [c.conf(), real_conf];
    let ceph = |conf: &str, args: &[&str]| {
        let mut a = vec!["-c", conf];
        a.extend_from_slice(args);
        run(Path::new("/usr/bin/ceph"), &a)
    };
    let f = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(f.path(), b"x\n").unwrap();
    let file = f.path().display().to_string();
    let put = |conf: &str, name: &str, timeout: &str| rados_at(Path::new(REAL_RADOS), conf, &["--rados_osd_op_timeout", timeout, "-p", &pool, "put", name, &file]);
    let pool_full = |conf: &str| -> serde_json::Value {
        let r = ceph(conf, &["health", "detail", "--format", "json"]);
        let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap_or_default();
        v["checks"]["POOL_FULL"].clone()
    };
    let wait = |what: &str, ok: &dyn Fn() -> bool| {
        let t0 = std::time::Instant::now();
        while !ok() {
            assert!(t0.elapsed().as_secs() < 90, "timed out waiting for {what}");
            std::thread::sleep(std::time::Duration::from_millis(300));
        }
    };
    let mut seen: Vec<Vec<String>> = Vec::new();
    for conf in &confs {
        let conf = conf.as_str();
        let mut out = Vec::new();
        assert_eq!(ceph(conf, &["osd", "pool", "create", &pool, "8"]).code, 0);
        assert_eq!(ceph(conf, &["osd", "pool", "application", "enable", &pool, "rados"]).code, 0);
        let r = ceph(conf, &["osd", "pool", "set-quota", &pool, "max_objects", "3"]);
        out.push(format!("{} {}", r.code, r.stderr.trim()));
        for i in 0..3 {
            assert_eq!(put(conf, &format!("q{i}"), "30").code, 0);
        }
        wait("POOL_FULL", &|| pool_full(conf).is_object());
        out.push(pool_full(conf)["summary"].to_string());
        out.push(pool_full(conf)["detail"].to_string());
        out.push(ceph(conf, &["osd", "pool", "get-quota", &pool]).stdout);
        let detail = ceph(conf, &["osd", "pool", "ls", "detail"]).stdout;
        let line = detail.lines().find(|l| l.contains(&format!("'{pool}'"))).unwrap_or("").to_string();
        out.push(format!("full flags: {}", line.contains("flags hashpspool,full,full_quota")));
        let r = put(conf, "q3", "3");
        out.push(format!("held write: {} {}", r.code, r.stderr.trim().replace(&pool, "POOL")));
        // What gets a full pool under its quota: `rm --force-full` (our
        // rados on our cluster, the real one on Ceph).
        let tool = if conf == confs[0] { bin("rados") } else { Path::new(REAL_RADOS).to_path_buf() };
        let r = rados_at(&tool, conf, &["--rados_osd_op_timeout", "30", "-p", &pool, "rm", "--force-full", "q0"]);
        out.push(format!("forced rm: {} {}", r.code, r.stderr.trim()));
        wait("POOL_FULL to clear", &|| pool_full(conf).is_null());
        out.push(format!("under quota again: {}", put(conf, "q3", "30").code));
        let _ = ceph(conf, &["osd", "pool", "rm", &pool, &pool, "--yes-i-really-really-mean-it"]);
        seen.push(out);
    }
    assert_eq!(seen[0], seen[1], "ours (left) and real Ceph (right) differ");
    assert_eq!(seen[0][4], "full flags: true");
    assert!(seen[0][5].contains("Connection timed out"), "{}", seen[0][5]);
}

/// A pool line of `osd dump` reduced to its name and flags (ids, sizes and
/// PG counts differ between clusters).
fn pool_name_and_flags(line: &str) -> String {
    let name = line.split('\'').nth(1).unwrap_or("");
    let flags = line.split(" flags ").nth(1).and_then(|r| r.split(' ').next()).unwrap_or("");
    format!("pool '{name}' flags {flags}\n")
}

/// python3-rados writes an object into `pool` with FULL_TRY and prints
/// `errno True` when the OSD answers ENOSPC; `then` is more Python, run
/// with `io` open.
fn full_try_write(conf: &str, pool: &str, then: &str) -> Run {
    let script = format!(
        "import rados, errno\nc = rados.Rados(conffile='{conf}')\nc.connect()\nio = c.open_ioctx('{pool}')\nop = io.create_write_op()\nop.write_full(b'x')\ntry:\n    io.operate_write_op(op, 'try', flags=64)  # LIBRADOS_OPERATION_FULL_TRY (python3-rados has no name for it)\n    print('written')\nexcept rados.Error as e:\n    print('errno', e.errno == errno.ENOSPC)\n{then}"
    );
    run(Path::new("/usr/bin/python3"), &["-c", &script])
}

/// OSDs past the nearfull, backfillfull and full ratios, as real Ceph shows
/// and enforces them. The ratios are cluster-wide, so the shared reference
/// cluster is not touched here: `tests/golden/full-ratios/real-pacific.txt`
/// is what real Pacific printed for the same steps (its `capture.sh` made
/// it). Each step's reply, `health detail`, the ratios, each pool's flags
/// and each OSD's states must equal real Ceph's. While the OSDs are full,
/// the real `rados` holds a write (it times out), a FULL_TRY write gets
/// ENOSPC, and a write issued then completes once the full ratio is raised.
#[test]
fn full_osds_flag_their_pools_and_hold_writes_like_real_ceph() {
    let c = OurCluster::start(3, "");
    c.create_pool("rbd", 8);
    c.create_pool("fullpool", 8);
    // Enough data that every OSD is past the tiny ratios below on any disk.
    let f = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(f.path(), oxceph_tests::pattern_bytes(4 << 20, 7)).unwrap();
    let file = f.path().display().to_string();
    for pool in ["rbd", "fullpool"] {
        for i in 0..2 {
            assert_eq!(c.rados(&["-p", pool, "put", &format!("fill{i}"), &file]).code, 0);
        }
    }
    let golden = std::fs::read_to_string(oxceph_tests::workspace_root().join("tests/golden/full-ratios/real-pacific.txt")).unwrap();
    // Sections: "### ceph osd set-X-ratio V", then its reply, health detail and dump.
    let mut steps: Vec<(Vec<String>, String, String, String)> = Vec::new();
    for block in golden.split("### ceph osd set-").skip(1) {
        let mut parts = block.split("### ");
        let head = parts.next().unwrap();
        let mut lines = head.lines();
        let cmd: Vec<String> = std::iter::once("osd".to_string()).chain(lines.next().unwrap().split_whitespace().enumerate().map(|(i, w)| if i == 0 { format!("set-{w}") } else { w.to_string() })).collect();
        let reply = lines.collect::<Vec<_>>().join("\n");
        let health = parts.next().unwrap().trim_start_matches("ceph health detail\n").to_string();
        let dump = parts.next().unwrap().trim_start_matches("ceph osd dump (ratios, pools, osd states)\n").to_string();
        steps.push((cmd, reply, health, dump));
    }
    assert_eq!(steps.len(), 8, "golden file has every step");
    // What the capture prints of `osd dump`, with pools reduced to name and
    // flags (ids, sizes and PG counts differ between the two clusters).
    let dump = || {
        let out = c.mon.real(&["osd", "dump"]).stdout;
        let mut s = String::new();
        for l in out.lines() {
            if l.starts_with("full_ratio") || l.starts_with("backfillfull_ratio") || l.starts_with("nearfull_ratio") {
                s += &format!("{l}\n");
            }
        }
        for l in out.lines().filter(|l| l.starts_with("pool ")) {
            s += &pool_name_and_flags(l);
        }
        for l in out.lines().filter(|l| l.starts_with("osd.")) {
            let w: Vec<&str> = l.split_whitespace().collect();
            s += &format!("{} {}\n", w[0], w[w.len() - 2]);
        }
        s
    };
    let golden_dump = |d: &str| {
        d.lines()
            .map(|l| {
                if l.starts_with("pool ") {
                    pool_name_and_flags(l)
                } else {
                    format!("{l}\n")
                }
            })
            .collect::<String>()
    };
    let health = || c.mon.real(&["health", "detail"]).stdout;
    let wait_health = |want: &str| {
        let t0 = std::time::Instant::now();
        while health() != want {
            assert!(t0.elapsed().as_secs() < 60, "health detail never became\n{want}\nlast:\n{}", health());
            std::thread::sleep(std::time::Duration::from_millis(300));
        }
    };
    let mut blocked = None;
    for (i, (cmd, reply, want_health, want_dump)) in steps.iter().enumerate() {
        let args: Vec<&str> = cmd.iter().map(|s| s.as_str()).collect();
        let r = c.mon.real(&args);
        assert_eq!((r.code, r.stderr.trim()), (0, reply.trim()), "{cmd:?}");
        wait_health(want_health);
        assert_eq!(dump(), golden_dump(want_dump), "after {cmd:?}");
        if i == 2 {
            // Full: writes are held (here until the op timeout), FULL_TRY
            // ones fail with ENOSPC, and a write sent now waits.
            let r = c.rados(&["--rados_osd_op_timeout", "3", "-p", "fullpool", "put", "held", "/etc/hosts"]);
            assert_ne!(r.code, 0, "a write to a full pool went through");
            assert!(r.stderr.contains("Connection timed out"), "{}", r.stderr);
            let r = full_try_write(&c.conf(), "fullpool", "");
            assert_eq!(r.stdout.trim(), "errno True", "FULL_TRY write on a full pool: {} {}", r.stdout, r.stderr);
            let conf = c.conf();
            blocked = Some(std::thread::spawn(move || run(Path::new(REAL_RADOS), &["-c", &conf, "--rados_osd_op_timeout", "60", "-p", "fullpool", "put", "waited", "/etc/services"])));
            std::thread::sleep(std::time::Duration::from_secs(1));
            assert!(!blocked.as_ref().unwrap().is_finished(), "the write did not wait for the pool to have room");
        }
        if i == 3 {
            let r = blocked.take().unwrap().join().unwrap();
            assert_eq!(r.code, 0, "the held write failed: {}", r.stderr);
            let got = c.rados(&["-p", "fullpool", "get", "waited", "/dev/stdout"]);
            assert_eq!(got.stdout, std::fs::read_to_string("/etc/services").unwrap(), "the held write's data");
        }
    }
}

/// An OSD whose own filesystem is past its failsafe ratio (the larger of
/// `osd_failsafe_full_ratio` and the map's full ratio, as in Ceph) takes no
/// growing client writes whatever the map says, and reports itself full:
/// its own usage (the store's) is far below every ratio here, yet the mon
/// marks it full and the pool full, the real `rados` holds writes, FULL_TRY
/// ones get ENOSPC, and reads go on. Both ratios are set below this disk's
/// use, so the failsafe trips.
#[test]
fn an_osd_past_the_failsafe_ratio_refuses_writes_and_reports_itself_full() {
    let c = OurCluster::start(1, "osd_pool_default_size = 1\nmon_allow_pool_size_one = true\nosd_failsafe_full_ratio = 0.001\n");
    // Health is not OK here (the failsafe ratio is below the full ratio,
    // OSD_OUT_OF_ORDER_FULL): wait for the PGs only.
    assert_eq!(c.mon.real(&["osd", "pool", "create", "p", "4"]).code, 0);
    assert_eq!(c.mon.real(&["osd", "pool", "application", "enable", "p", "rados"]).code, 0);
    c.wait_for(60, "4 pgs active+clean", |s| s["pgmap"]["pgs_by_state"].as_array().is_some_and(|a| a.iter().any(|x| x["state_name"] == "active+clean" && x["count"] == 4)));
    for name in ["old", "old2"] {
        assert_eq!(c.rados(&["-p", "p", "put", name, "/etc/hosts"]).code, 0);
    }
    for (r, v) in [("set-nearfull-ratio", "0.0003"), ("set-backfillfull-ratio", "0.0004"), ("set-full-ratio", "0.0005")] {
        assert_eq!(c.mon.real(&["osd", r, v]).code, 0);
    }
    c.wait_for(60, "the osd to report itself full", |s| s["health"]["checks"]["OSD_FULL"].is_object() && s["health"]["checks"]["POOL_FULL"].is_object());
    assert!(c.log("osd.0").contains("past osd_failsafe_full_ratio"), "the osd did not log its failsafe");
    let r = c.rados(&["--rados_osd_op_timeout", "3", "-p", "p", "put", "x", "/etc/hosts"]);
    assert_ne!(r.code, 0, "a write past the failsafe ratio went through");
    assert!(r.stderr.contains("Connection timed out"), "{}", r.stderr);
    let r = full_try_write(&c.conf(), "p", "try:\n    io.stat('nothing')\nexcept rados.ObjectNotFound:\n    print('reads go on')\n");
    assert_eq!(r.stdout.trim(), "errno True\nreads go on", "{}", r.stderr);
    // FULL_FORCE passes a full pool, not the failsafe: this write is held
    // by the OSD itself (the client gives up after its op timeout).
    let forced = format!(
        "import rados\nc = rados.Rados(conffile='{}', conf={{'rados_osd_op_timeout': '3'}})\nc.connect()\nio = c.open_ioctx('p')\nop = io.create_write_op()\nop.write_full(b'x')\ntry:\n    io.operate_write_op(op, 'forced', flags=128)  # LIBRADOS_OPERATION_FULL_FORCE\n    print('written')\nexcept rados.Error as e:\n    print('held', e.errno)\n",
        c.conf()
    );
    let r = run(Path::new("/usr/bin/python3"), &["-c", &forced]);
    assert!(r.stdout.trim().starts_with("held"), "a FULL_FORCE write passed the failsafe: {} {}", r.stdout, r.stderr);
    // Deletes too, unless FULL_TRY (Ceph's way to free space there).
    let r = run(Path::new("/usr/bin/python3"), &["-c", &forced.replace("op.write_full(b'x')", "op.remove()").replace("'forced'", "'old'")]);
    assert!(r.stdout.trim().starts_with("held"), "a FULL_FORCE delete passed the failsafe: {} {}", r.stdout, r.stderr);
    let r = full_try_write(&c.conf(), "p", "rm = io.create_write_op()\nrm.remove()\nio.operate_write_op(rm, 'old2', flags=64)\nprint('removed')\n");
    assert_eq!(r.stdout.trim(), "errno True\nremoved", "{}", r.stderr);
    // Back to the default full ratio: the failsafe ratio is then 0.95, the
    // OSD is no longer full, and writes go through.
    assert_eq!(c.mon.real(&["osd", "set-full-ratio", "0.95"]).code, 0);
    c.wait_for(60, "OSD_FULL to clear", |s| s["health"]["checks"]["OSD_FULL"].is_null() && s["health"]["checks"]["POOL_FULL"].is_null());
    assert_eq!(c.rados(&["--rados_osd_op_timeout", "30", "-p", "p", "put", "after", "/etc/hosts"]).code, 0);
    let detail = c.mon.real(&["health", "detail"]).stdout;
    assert!(detail.contains("    osd_failsafe_full_ratio (0.001) < full_ratio (0.95), increased\n"), "{detail}");
}

/// A backfill onto an OSD past the backfillfull ratio waits, as Ceph's
/// does: the PGs show `backfill_toofull`, health says `PG_BACKFILL_FULL`
/// in Ceph's words, the data stays readable and writable, and once the
/// ratio is raised the backfill runs and every object is intact.
#[test]
fn backfill_onto_a_backfillfull_osd_waits_until_it_has_room() {
    // Retries every 2 s rather than Ceph's 30, to keep the test short.
    let c = OurCluster::start(3, "osd_backfill_retry_interval = 2\n");
    c.create_pool_with("bf", 8, &[("size", "2")]);
    let f = tempfile::NamedTempFile::new().unwrap();
    let mut objects = Vec::new();
    for i in 0..8u64 {
        let data = oxceph_tests::pattern_bytes(1 << 20, i);
        std::fs::write(f.path(), &data).unwrap();
        assert_eq!(c.rados(&["-p", "bf", "put", &format!("o{i}"), &f.path().display().to_string()]).code, 0);
        objects.push(data);
    }
    for (r, v) in [("set-nearfull-ratio", "0.0000001"), ("set-backfillfull-ratio", "0.0000002")] {
        assert_eq!(c.mon.real(&["osd", r, v]).code, 0);
    }
    c.wait_for(60, "backfillfull osds", |s| s["health"]["checks"]["OSD_BACKFILLFULL"].is_object());
    assert_eq!(c.mon.real(&["osd", "out", "0"]).code, 0);
    let toofull = |s: &serde_json::Value| s["pgmap"]["pgs_by_state"].as_array().is_some_and(|a| a.iter().any(|x| x["state_name"].as_str().is_some_and(|n| n.contains("backfill_toofull"))));
    c.wait_for(60, "pgs in backfill_toofull", toofull);
    let detail = c.mon.real(&["health", "detail"]).stdout;
    let line = detail.lines().find(|l| l.starts_with("[WRN] PG_BACKFILL_FULL: ")).unwrap_or_else(|| panic!("no PG_BACKFILL_FULL in\n{detail}"));
    let n: usize = line.trim_start_matches("[WRN] PG_BACKFILL_FULL: Low space hindering backfill (add storage if this doesn't resolve itself): ").split(' ').next().unwrap().parse().unwrap_or_else(|_| panic!("{line}"));
    assert!(line.ends_with(if n == 1 { " pg backfill_toofull" } else { " pgs backfill_toofull" }), "{line}");
    assert!(detail.lines().any(|l| l.starts_with("    pg ") && l.contains(" is active+") && l.contains("backfill_toofull, acting [")), "{detail}");
    // Still serving: reads of every object, and a new write.
    for (i, data) in objects.iter().enumerate() {
        let out = f.path().with_extension("got");
        assert_eq!(c.rados(&["-p", "bf", "get", &format!("o{i}"), &out.display().to_string()]).code, 0);
        assert!(std::fs::read(&out).unwrap() == *data, "o{i} while backfill waits");
    }
    assert_eq!(c.rados(&["-p", "bf", "put", "during", "/etc/hosts"]).code, 0);
    // Room again: the backfill runs to the end.
    for (r, v) in [("set-backfillfull-ratio", "0.9"), ("set-nearfull-ratio", "0.85")] {
        assert_eq!(c.mon.real(&["osd", r, v]).code, 0);
    }
    c.wait_clean(120);
    for (i, data) in objects.iter().enumerate() {
        let out = f.path().with_extension("got");
        assert_eq!(c.rados(&["-p", "bf", "get", &format!("o{i}"), &out.display().to_string()]).code, 0);
        assert!(std::fs::read(&out).unwrap() == *data, "o{i} after the backfill");
    }
}

/// `ceph tell osd.N injectfull full` (the real CLI, which first fetches the
/// OSD's command table) makes an OSD act full as Ceph's does: the mon marks
/// it full and its pools full. Log recovery then waits while any OSD of the
/// PG is full, the primary included, as Ceph's `recovery_toofull`: here
/// osd.0 is full and osd.2 comes back behind, so every PG osd.2 must catch
/// up waits, including those osd.0 leads and pushes from. `injectfull none`
/// lets recovery run to the end, and every object reads back.
#[test]
fn recovery_waits_while_any_osd_of_the_pg_is_full_and_runs_once_it_has_room() {
    let mut c = OurCluster::start(3, "osd_recovery_retry_interval = 2\n");
    c.create_pool_with("rf", 8, &[("size", "3"), ("min_size", "2")]);
    assert_eq!(c.mon.real(&["osd", "set", "noout"]).code, 0);
    c.kill9_osd(2);
    c.wait_up(2);
    let f = tempfile::NamedTempFile::new().unwrap();
    let mut objects = Vec::new();
    for i in 0..32u64 {
        let data = oxceph_tests::pattern_bytes(64 << 10, i);
        std::fs::write(f.path(), &data).unwrap();
        assert_eq!(c.rados(&["-p", "rf", "put", &format!("o{i}"), &f.path().display().to_string()]).code, 0);
        objects.push(data);
    }
    let r = c.mon.real(&["tell", "osd.0", "injectfull", "full"]);
    assert_eq!((r.code, r.stdout.as_str(), r.stderr.as_str()), (0, "", ""), "injectfull");
    c.wait_for(60, "osd.0 full", |s| s["health"]["checks"]["OSD_FULL"].is_object());
    c.start_osd(2);
    c.wait_up(3);
    // Every PG with objects osd.2 missed waits; none recovers meanwhile.
    let behind = |states: &std::collections::HashMap<String, String>| states.values().filter(|s| s.contains("degraded")).count();
    c.wait_for(60, "pgs in recovery_toofull", |_| {
        let st = pg_states(&c);
        let waiting = st.values().filter(|s| s.contains("recovery_toofull")).count();
        waiting > 0 && waiting == behind(&st)
    });
    let dump = c.mon.real(&["pg", "ls", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(dump.stdout.trim()).unwrap();
    let led_by_full = v["pg_stats"].as_array().unwrap().iter().filter(|p| p["acting_primary"] == 0 && p["state"].as_str().unwrap_or("").contains("recovery_toofull")).count();
    assert!(led_by_full > 0, "no PG led by the full osd.0 waits: {}", dump.stdout);
    std::thread::sleep(std::time::Duration::from_secs(3));
    let st = pg_states(&c);
    assert!(st.values().all(|s| !s.contains("recovering")) && behind(&st) > 0, "recovery ran while osd.0 was full: {st:?}");
    let detail = c.mon.real(&["health", "detail"]).stdout;
    assert!(detail.contains("[ERR] PG_RECOVERY_FULL: Full OSDs blocking recovery: "), "{detail}");
    // Reads go on meanwhile.
    for (i, data) in objects.iter().enumerate().step_by(4) {
        let got = get(&c, "rf", &format!("o{i}"), 10).unwrap_or_else(|e| panic!("o{i} while recovery waits: {e}"));
        assert!(got == *data, "o{i} while recovery waits");
    }
    // Room again.
    let r = c.mon.real(&["tell", "osd.0", "injectfull", "none"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(c.mon.real(&["osd", "unset", "noout"]).code, 0);
    c.wait_clean(120);
    for (i, data) in objects.iter().enumerate() {
        let out = f.path().with_extension("got");
        assert_eq!(c.rados(&["-p", "rf", "get", &format!("o{i}"), &out.display().to_string()]).code, 0);
        assert!(std::fs::read(&out).unwrap() == *data, "o{i} after recovery");
    }
}

/// The real `ceph tell` against our OSDs prints what it prints against real
/// ones (the command table it checks arguments against comes from our OSD),
/// and a client without `allow *` OSD caps is refused, as by Ceph.
#[test]
fn real_ceph_tell_gets_from_our_osds_what_real_osds_answer() {
    let c = OurCluster::start(3, "");
    c.create_pool("t", 8);
    let refconf = oxceph_tests::ref_cluster().conf().display().to_string();
    let ceph = |conf: &str, args: &[&str]| {
        let mut a = vec!["-c", conf];
        a.extend_from_slice(args);
        run(Path::new("/usr/bin/ceph"), &a)
    };
    let ours_conf = c.conf();
    let keys = |v: &serde_json::Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    for args in [
        &["tell", "osd.0", "version"][..],
        &["tell", "osd.1", "version", "--format", "json"],
        &["tell", "osd.0", "injectfull", "bogus"],
        &["tell", "osd.0", "injectfull", "nearfull", "x"],
        &["tell", "osd.9", "version"],
        &["tell", "osd.1", "nonsense"],
        &["tell", "osd.0", "bench", "1073741824", "134217728"],
        &["tell", "osd.0", "bench", "1073741824", "4096"],
    ] {
        let (ours, real) = (ceph(&ours_conf, args), ceph(&refconf, args));
        let real_err = oxceph_tests::split_logs(&real.stderr).0;
        if args[2] == "nonsense" {
            // The closest matches listed come from each OSD's own table.
            assert_eq!((ours.code, ours.stderr.lines().last()), (real.code, real_err.lines().last()), "{args:?}");
            continue;
        }
        assert_eq!((ours.code, ours.stdout.as_str(), ours.stderr.as_str()), (real.code, real.stdout.as_str(), real_err.as_str()), "{args:?}");
    }
    // A wildcard: every OSD (three in each cluster), each line prefixed.
    let (ours, real) = (ceph(&ours_conf, &["tell", "osd.*", "version"]), ceph(&refconf, &["tell", "osd.*", "version"]));
    assert!(real.stdout.contains("osd.2: "), "{}", real.stdout);
    assert_eq!((ours.code, ours.stdout.as_str()), (0, real.stdout.as_str()));
    let st = ceph(&ours_conf, &["tell", "osd.1", "status"]);
    let v: serde_json::Value = serde_json::from_str(&st.stdout).unwrap_or_else(|e| panic!("{e}: {}", st.stdout));
    let real_st: serde_json::Value = serde_json::from_str(&ceph(&refconf, &["tell", "osd.1", "status"]).stdout).unwrap();
    assert_eq!(keys(&v), keys(&real_st));
    assert_eq!((v["whoami"].as_i64(), v["state"].as_str()), (Some(1), Some("active")));
    assert!(v["num_pgs"].as_u64().unwrap() > 0 && v["newest_map"].as_u64() >= v["oldest_map"].as_u64(), "{v}");
    assert_eq!(v["cluster_fsid"].as_str().unwrap(), c.status()["fsid"].as_str().unwrap());
    // bench: the same fields, the bytes asked for, written and gone.
    let used = || c.status()["pgmap"]["bytes_used"].as_u64().unwrap_or(0);
    let before = used();
    for conf in [&ours_conf, &refconf] {
        let b = ceph(conf, &["tell", "osd.0", "bench", "12582912", "4194304"]);
        let v: serde_json::Value = serde_json::from_str(&b.stdout).unwrap_or_else(|e| panic!("{e}: {} {}", b.stdout, b.stderr));
        assert_eq!(keys(&v), ["bytes_written", "blocksize", "elapsed_sec", "bytes_per_sec", "iops"], "{}", b.stdout);
        assert_eq!((v["bytes_written"].as_u64(), v["blocksize"].as_u64()), (Some(12582912), Some(4194304)));
        assert!(v["elapsed_sec"].as_f64().unwrap() > 0.0 && v["bytes_per_sec"].as_f64().unwrap() > 0.0);
    }
    std::thread::sleep(std::time::Duration::from_secs(6));
    assert!(used() < before + (12 << 20), "bench objects left behind: {} -> {}", before, used());
    // Only `allow *` OSD caps may tell.
    let dir = tempfile::tempdir().unwrap();
    let kr = dir.path().join("limited.keyring").display().to_string();
    let r = ceph(&ours_conf, &["auth", "get-or-create", "client.limited", "mon", "allow r", "osd", "allow rwx", "-o", &kr]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = ceph(&ours_conf, &["-n", "client.limited", "-k", &kr, "tell", "osd.0", "injectfull", "full"]);
    assert_eq!((r.code, r.stderr.as_str()), (13, "Error EACCES: problem getting command descriptions from osd.0\n"));
    assert!(c.status()["health"]["checks"]["OSD_FULL"].is_null());
    // And our own `ceph` on our cluster says the same as the real one.
    let ours = run(&oxceph_tests::bin("ceph"), &["-c", &ours_conf, "tell", "osd.*", "version"]);
    assert_eq!((ours.code, ours.stdout.as_str()), (0, real.stdout.as_str()));
}

/// A replica holds a write in its log before the write is on disk (the
/// commit is pipelined); if its primary dies then, it must not lead, push
/// or serve before that write lands. Here osd.R's commits are held back
/// (`osd_debug_commit_delay`, a test hook) and the primary is killed -9
/// while a write sits in R's commit queue: the client's resent write finds
/// it in R's log (a duplicate, acknowledged without applying again), so
/// reading it back right away shows whether R served from its log or from
/// what its store really had.
#[test]
fn a_replica_leads_only_once_the_writes_in_its_log_are_on_disk() {
    let mut c = OurCluster::start(3, "");
    c.create_pool_with("lg", 8, &[("size", "2"), ("min_size", "1")]);
    // An object whose replica is osd.1.
    let (name, primary) = (0..200)
        .map(|i| format!("obj{i}"))
        .find_map(|n| {
            let (_, acting) = acting_of(&c, "lg", &n);
            (acting.len() == 2 && acting[1] == 1).then(|| (n, acting[0] as usize))
        })
        .expect("an object with osd.1 as its replica");
    let v1 = data(200_000, 1);
    put(&c, "lg", &name, &v1);
    c.kill9_osd(1);
    c.start_osd_with(1, &["--osd_debug_commit_delay", "12"]);
    c.wait_clean(180);
    let v2 = data(200_000, 2);
    let f = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(f.path(), &v2).unwrap();
    let (conf, path, n2) = (c.conf(), f.path().display().to_string(), name.clone());
    let writer = std::thread::spawn(move || run(Path::new(REAL_RADOS), &["-c", &conf, "--rados_osd_op_timeout", "120", "-p", "lg", "put", &n2, &path]));
    // The write reaches osd.1 and waits in its commit queue.
    std::thread::sleep(std::time::Duration::from_secs(2));
    assert!(!writer.is_finished(), "the write was acknowledged before osd.1 committed it");
    c.kill9_osd(primary);
    let w = writer.join().unwrap();
    assert_eq!(w.code, 0, "the resent write failed: {}", w.stderr);
    let got = get(&c, "lg", &name, 60).expect("read after failover");
    assert!(got == v2, "acknowledged write read back as {}", if got == v1 { "the old data".to_string() } else { format!("{} other bytes", got.len()) });
}

/// A recovery push lost on the way (here dropped by the test hook
/// `osd_debug_drop_push_seq`, as a session reset would lose it) must not
/// leave the recovered copy short: the receiver refuses the next push (out
/// of sequence) and the primary peers and pushes again. The recovered copy
/// alone then serves every object (its primary killed).
#[test]
fn a_lost_recovery_push_makes_recovery_start_over_rather_than_skip_objects() {
    let mut c = OurCluster::start(3, "osd_debug_drop_push_seq = 1\n");
    c.create_pool_with("pd", 1, &[("size", "2"), ("min_size", "1")]);
    let (_, acting) = acting_of(&c, "pd", "x");
    let (primary, replica) = (acting[0] as usize, acting[1] as usize);
    assert_eq!(c.mon.real(&["osd", "set", "noout"]).code, 0);
    c.kill9_osd(replica);
    c.wait_up(2);
    // 24 MiB in one PG: recovery takes several 8 MiB pushes.
    let objects: Vec<Vec<u8>> = (0..48u64).map(|i| data(512 << 10, 100 + i)).collect();
    for (i, d) in objects.iter().enumerate() {
        put(&c, "pd", &format!("o{i}"), d);
    }
    c.start_osd(replica);
    assert_eq!(c.mon.real(&["osd", "unset", "noout"]).code, 0);
    c.wait_clean(180);
    assert_eq!(c.mon.real(&["osd", "set", "noout"]).code, 0);
    assert!(c.log(&format!("osd.{primary}")).contains("osd_debug_drop_push_seq: dropping this push"), "the hook did not drop a push");
    // Only the recovered copy left.
    c.kill9_osd(primary);
    c.wait_up(2);
    for (i, d) in objects.iter().enumerate() {
        let got = get(&c, "pd", &format!("o{i}"), 60).unwrap_or_else(|e| panic!("o{i} from the recovered copy: {e}"));
        assert!(got == *d, "o{i} differs on the recovered copy");
    }
    assert!(c.log(&format!("osd.{replica}")).contains("push out of sequence"), "the receiver did not see the gap");
}

/// `ceph tell osd.N config get/set/unset` and `injectargs`, and the
/// monitors' config database (`ceph config set/rm`) reaching running OSDs:
/// the real `ceph` gets the same from our OSDs as from real ones, step for
/// step; the values take effect (a smaller `osd_max_object_size` refuses a
/// write); the command line beats the database, as in Ceph.
#[test]
fn osd_configuration_changes_at_run_time_as_on_real_ceph() {
    let mut c = OurCluster::start(3, "");
    c.create_pool("cf", 8);
    let refconf = oxceph_tests::ref_cluster().conf().display().to_string();
    let ours_conf = c.conf();
    let ceph = |conf: &str, args: &[&str]| {
        let mut a = vec!["-c", conf];
        a.extend_from_slice(args);
        run(Path::new("/usr/bin/ceph"), &a)
    };
    // osd.2 on each side: options neither conf file sets. Whatever happens,
    // the shared real cluster gets its defaults back.
    struct Restore(String);
    impl Restore {
        fn restore(&self) {
            for k in ["osd_max_backfills", "osd_recovery_sleep"] {
                run(Path::new("/usr/bin/ceph"), &["-c", &self.0, "tell", "osd.2", "config", "unset", k]);
                run(Path::new("/usr/bin/ceph"), &["-c", &self.0, "config", "rm", "osd.2", k]);
            }
        }
    }
    impl Drop for Restore {
        fn drop(&mut self) {
            self.restore();
        }
    }
    let _db = oxceph_tests::ref_cluster().config_db_lock();
    let restore = Restore(refconf.clone());
    // (An earlier run killed midway may have left its values.)
    restore.restore();
    let steps: &[&[&str]] = &[
        &["tell", "osd.2", "config", "get", "osd_max_backfills"],
        &["tell", "osd.2", "config", "get", "osd max backfills"],
        &["tell", "osd.2", "config", "get", "osd_recovery_sleep", "--format", "json"],
        &["tell", "osd.2", "config", "get", "foo"],
        &["tell", "osd.2", "config", "set", "osd_max_backfills", "1"],
        &["tell", "osd.2", "config", "set", "osd_max_backfills", "2"],
        &["tell", "osd.2", "config", "set", "osd_max_backfills", "2"],
        &["tell", "osd.2", "config", "get", "osd_max_backfills"],
        &["tell", "osd.2", "config", "set", "osd_recovery_sleep", "0.1"],
        &["tell", "osd.2", "config", "set", "osd_max_backfills", "notanint"],
        &["tell", "osd.2", "config", "set", "osd_max_backfills", "-5"],
        &["tell", "osd.2", "config", "set", "foo", "bar"],
        &["tell", "osd.2", "config", "set", "osd-max-backfills", "3"],
        &["tell", "osd.2", "config", "unset", "osd_max_backfills"],
        &["tell", "osd.2", "config", "unset", "foo"],
        &["tell", "osd.2", "config", "get", "osd_max_backfills"],
        &["tell", "osd.2", "injectargs", "--osd_max_backfills=4", "--osd_recovery_sleep=0.25"],
        &["tell", "osd.2", "injectargs", "--osd_recovery_sleep 0.1 --osd-max-backfills 3"],
        &["tell", "osd.2", "injectargs", "--foo 3"],
        &["tell", "osd.2", "injectargs", "--osd_max_backfills 5 --foo 1"],
        &["tell", "osd.2", "injectargs", "osd_max_backfills=3"],
        &["tell", "osd.2", "injectargs", "--osd_max_backfills notanint"],
        &["tell", "osd.2", "injectargs", "--osd_recovery_sleep abc"],
        &["tell", "osd.2", "config", "get", "osd_max_backfills"],
        &["tell", "osd.2", "config", "unset", "osd_max_backfills"],
        &["tell", "osd.2", "config", "unset", "osd_recovery_sleep"],
    ];
    for args in steps {
        let (ours, real) = (ceph(&ours_conf, args), ceph(&refconf, args));
        // (librados may log on stderr during its shutdown race)
        let (ours_err, real_err) = (oxceph_tests::split_logs(&ours.stderr).0, oxceph_tests::split_logs(&real.stderr).0);
        assert_eq!((ours.code, ours.stdout.as_str(), ours_err.as_str()), (real.code, real.stdout.as_str(), real_err.as_str()), "{args:?}");
    }
    // The same commands on the admin socket (`ceph daemon osd.N`): errors
    // come back as output, with exit code 0, as from a real OSD.
    let asok_steps: &[&[&str]] = &[
        &["daemon", "osd.2", "version"],
        &["daemon", "osd.2", "config", "get", "osd_max_backfills"],
        &["daemon", "osd.2", "config", "get", "foo"],
        &["daemon", "osd.2", "config", "set", "foo", "bar"],
        &["daemon", "osd.2", "config", "set", "osd_max_backfills", "3"],
        &["daemon", "osd.2", "config", "get", "osd_max_backfills", "--format", "json"],
        &["daemon", "osd.2", "injectargs", "--osd_max_backfills 4 --foo 1"],
        &["daemon", "osd.2", "config", "unset", "osd_max_backfills"],
        &["daemon", "osd.2", "config", "get", "osd_max_backfills"],
    ];
    for args in asok_steps {
        let (ours, real) = (ceph(&ours_conf, args), ceph(&refconf, args));
        assert_eq!((ours.code, ours.stdout.as_str(), ours.stderr.as_str()), (real.code, real.stdout.as_str(), real.stderr.as_str()), "{args:?}");
    }
    // `help` lists our commands with a real OSD's words for each.
    let help = |conf: &str| serde_json::from_str::<serde_json::Value>(&ceph(conf, &["daemon", "osd.2", "help"]).stdout).unwrap();
    let (ours_help, real_help) = (help(&ours_conf), help(&refconf));
    for k in ["config get", "config set", "injectargs", "help", "version", "bench"] {
        assert!(ours_help.get(k).is_some(), "{k} missing from {ours_help}");
    }
    for (k, v) in ours_help.as_object().unwrap() {
        assert_eq!(Some(v), real_help.get(k), "help for {k}");
    }
    // The monitors' database reaches running OSDs, and a value set there
    // and later removed falls back; a run-time value beats it meanwhile.
    let get = |conf: &str, k: &str| {
        let r = ceph(conf, &["tell", "osd.2", "config", "get", k, "--format", "json"]);
        serde_json::from_str::<serde_json::Value>(&r.stdout).map(|v| v[k].as_str().unwrap_or_default().to_string()).unwrap_or_else(|_| r.stderr)
    };
    let wait_for = |conf: &str, k: &str, want: &str| {
        let t0 = std::time::Instant::now();
        while get(conf, k) != want {
            assert!(t0.elapsed().as_secs() < 20, "{conf}: {k} is {:?}, not {want:?}", get(conf, k));
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    };
    for conf in [ours_conf.as_str(), refconf.as_str()] {
        assert_eq!(ceph(conf, &["config", "set", "osd.2", "osd_max_backfills", "5"]).code, 0);
        wait_for(conf, "osd_max_backfills", "5");
        assert_eq!(ceph(conf, &["tell", "osd.2", "config", "set", "osd_max_backfills", "6"]).code, 0);
        assert_eq!(ceph(conf, &["config", "set", "osd.2", "osd_max_backfills", "7"]).code, 0);
        wait_for_level(conf, 2, "osd_max_backfills", "mon", 7);
        assert_eq!(get(conf, "osd_max_backfills"), "6", "{conf}: the run-time value wins");
        let r = ceph(conf, &["tell", "osd.2", "config", "unset", "osd_max_backfills"]);
        assert_eq!((r.code, oxceph_tests::split_logs(&r.stderr).0.as_str()), (0, "osd_max_backfills = '7' \n"), "{conf}");
        assert_eq!(ceph(conf, &["config", "rm", "osd.2", "osd_max_backfills"]).code, 0);
        wait_for(conf, "osd_max_backfills", "1");
    }
    // Values take effect: a write over a smaller osd_max_object_size is refused.
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big");
    std::fs::write(&big, vec![7u8; 2 << 20]).unwrap();
    let big = big.display().to_string();
    assert_eq!(ceph(&ours_conf, &["config", "set", "osd", "osd_max_object_size", "1M"]).code, 0);
    for i in 0..3 {
        let conf = ours_conf.clone();
        let t0 = std::time::Instant::now();
        while get_osd(&conf, i, "osd_max_object_size") != "1048576" {
            assert!(t0.elapsed().as_secs() < 20, "osd.{i} did not take osd_max_object_size from the monitors");
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    }
    let r = c.rados(&["-p", "cf", "put", "big", &big]);
    assert_ne!(r.code, 0, "a 2 MiB write over a 1 MiB osd_max_object_size was taken");
    assert!(r.stderr.contains("File too large"), "{}", r.stderr);
    assert_eq!(ceph(&ours_conf, &["config", "rm", "osd", "osd_max_object_size"]).code, 0);
    for i in 0..3 {
        let t0 = std::time::Instant::now();
        while get_osd(&ours_conf, i, "osd_max_object_size") != "134217728" {
            assert!(t0.elapsed().as_secs() < 20, "osd.{i} kept osd_max_object_size after config rm");
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    }
    let r = c.rados(&["-p", "cf", "put", "big", &big]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // The command line beats the monitors' database (Ceph's levels), and
    // `config diff` shows each level.
    c.kill9_osd(0);
    c.start_osd_with(0, &["--osd_max_backfills", "3"]);
    c.wait_up(3);
    assert_eq!(ceph(&ours_conf, &["config", "set", "osd.0", "osd_max_backfills", "5"]).code, 0);
    wait_for_level(&ours_conf, 0, "osd_max_backfills", "mon", 5);
    assert_eq!(get_osd(&ours_conf, 0, "osd_max_backfills"), "3");
    let d = ceph(&ours_conf, &["tell", "osd.0", "config", "diff"]);
    let v: serde_json::Value = serde_json::from_str(&d.stdout).unwrap_or_else(|e| panic!("{e}: {}", d.stdout));
    assert_eq!(v["diff"]["osd_max_backfills"], serde_json::json!({"default": 1, "mon": 5, "cmdline": 3, "final": 3}), "{}", d.stdout);
    let s = ceph(&ours_conf, &["tell", "osd.0", "config", "show"]);
    let v: serde_json::Value = serde_json::from_str(&s.stdout).unwrap_or_else(|e| panic!("{e}: {}", s.stdout));
    assert_eq!((v["name"].as_str(), v["osd_max_backfills"].as_str(), v["osd_recovery_sleep"].as_str()), (Some("osd.0"), Some("3"), Some("0.000000")));
}

/// Waits until osd.i's `config diff` shows `want` for `k` at `level`.
fn wait_for_level(conf: &str, i: usize, k: &str, level: &str, want: u64) {
    let who = format!("osd.{i}");
    let t0 = std::time::Instant::now();
    loop {
        let r = run(Path::new("/usr/bin/ceph"), &["-c", conf, "tell", &who, "config", "diff", "--format", "json"]);
        let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap_or_default();
        if v["diff"][k][level].as_u64() == Some(want) {
            return;
        }
        assert!(t0.elapsed().as_secs() < 20, "{conf}: {who} never showed {k} = {want} at level {level}: {}", r.stdout);
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

fn get_osd(conf: &str, i: usize, k: &str) -> String {
    let who = format!("osd.{i}");
    let r = run(Path::new("/usr/bin/ceph"), &["-c", conf, "tell", &who, "config", "get", k, "--format", "json"]);
    serde_json::from_str::<serde_json::Value>(&r.stdout).map(|v| v[k].as_str().unwrap_or_default().to_string()).unwrap_or_else(|_| r.stderr)
}
