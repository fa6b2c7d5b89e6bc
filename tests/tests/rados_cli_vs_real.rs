//! Interop: objects written by our `rados` are read back byte for byte by the
//! real `rados` and the other way round (0 B to 20 MiB, xattrs, omap,
//! namespaces); listings, stat and errors match.

use oxceph_tests::{bin, real_ceph, ref_cluster, run, split_logs, Run};
use std::path::Path;

const REAL: &str = "/usr/bin/rados";

/// Listings compare whole pools, so these tests run one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

fn rados(real: bool, args: &[&str]) -> Run {
    let conf = ref_cluster().conf();
    let mut a = vec!["-c", conf.to_str().unwrap(), "-p", "rbd"];
    a.extend_from_slice(args);
    if real {
        run(Path::new(REAL), &a)
    } else {
        run(&bin("rados"), &a)
    }
}

fn data(n: usize, seed: u64) -> Vec<u8> {
    oxceph_tests::pattern_bytes(n, seed)
}

#[test]
fn objects_cross_read_between_real_and_ours() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let id = std::process::id();
    for (i, size) in [0usize, 1, 4096, 4 << 20, (20 << 20) + 12345].into_iter().enumerate() {
        let content = data(size, i as u64 + 1);
        let src = dir.path().join(format!("in{i}"));
        std::fs::write(&src, &content).unwrap();
        for (writer_real, tag) in [(false, "ox"), (true, "real")] {
            let name = format!("xread-{tag}-{id}-{size}");
            let w = rados(writer_real, &["put", &name, src.to_str().unwrap()]);
            assert_eq!(w.code, 0, "put {name}: {}", w.stderr);
            let out = dir.path().join(format!("out-{name}"));
            let r = rados(!writer_real, &["get", &name, out.to_str().unwrap()]);
            assert_eq!(r.code, 0, "get {name}: {}", r.stderr);
            assert!(std::fs::read(&out).unwrap() == content, "{name}: content differs");
            // both report the same size
            let (s1, s2) = (rados(true, &["stat", &name]), rados(false, &["stat", &name]));
            assert_eq!(s1.code, 0);
            let size_of = |s: &str| s.rsplit("size ").next().unwrap().trim().to_string();
            assert_eq!(size_of(&s2.stdout), size.to_string());
            assert_eq!(size_of(&s1.stdout), size_of(&s2.stdout));
            assert_eq!(rados(writer_real, &["rm", &name]).code, 0);
        }
    }
}

#[test]
fn xattrs_omap_and_namespaces_interoperate() {
    let _g = serial();
    let id = std::process::id();
    let obj = format!("meta-{id}");
    let src = "/etc/hostname";
    assert_eq!(rados(false, &["put", &obj, src]).code, 0);
    assert_eq!(rados(false, &["setxattr", &obj, "user.a", "value-a"]).code, 0);
    assert_eq!(rados(true, &["setxattr", &obj, "user.b", "value-b"]).code, 0);
    for real in [true, false] {
        assert_eq!(rados(real, &["getxattr", &obj, "user.a"]).stdout, "value-a");
        assert_eq!(rados(real, &["getxattr", &obj, "user.b"]).stdout, "value-b");
    }
    assert_eq!(rados(false, &["listxattr", &obj]).stdout, rados(true, &["listxattr", &obj]).stdout);
    assert_eq!(rados(false, &["setomapval", &obj, "k1", "v1"]).code, 0);
    assert_eq!(rados(true, &["setomapval", &obj, "k2", "a longer value with spaces in it"]).code, 0);
    for args in [&["listomapkeys", obj.as_str()][..], &["listomapvals", &obj], &["getomapval", &obj, "k2"], &["getomapval", &obj, "nokey"]] {
        let (r, o) = (rados(true, args), rados(false, args));
        assert_eq!((o.code, &o.stdout, &o.stderr), (r.code, &r.stdout, &r.stderr), "{args:?}");
    }
    assert_eq!(rados(false, &["rmomapkey", &obj, "k1"]).code, 0);
    assert_eq!(rados(true, &["listomapkeys", &obj]).stdout, "k2\n");
    assert_eq!(rados(false, &["rmxattr", &obj, "user.a"]).code, 0);
    assert_eq!(rados(true, &["listxattr", &obj]).stdout, "user.b\n");
    // namespaces: written by one, listed and read by the other
    let ns = format!("ns{id}");
    assert_eq!(rados(false, &["-N", &ns, "put", &obj, src]).code, 0);
    let listed = rados(true, &["-N", &ns, "ls"]);
    assert_eq!(listed.stdout, format!("{obj}\n"));
    assert_eq!(rados(false, &["-N", &ns, "ls"]).stdout, listed.stdout);
    let (r, o) = (rados(true, &["ls", "--all"]), rados(false, &["ls", "--all"]));
    let set = |s: &str| {
        let mut v: Vec<String> = s.lines().map(str::to_string).collect();
        v.sort();
        v
    };
    assert_eq!(set(&o.stdout), set(&r.stdout));
    let (r, o) = (rados(true, &["ls", "--all", "-f", "json"]), rados(false, &["ls", "--all", "-f", "json"]));
    let js = |s: &str| {
        let mut v: Vec<serde_json::Value> = serde_json::from_str::<Vec<serde_json::Value>>(s.trim()).unwrap();
        v.sort_by_key(|x| x.to_string());
        v
    };
    assert_eq!(js(&o.stdout), js(&r.stdout));
    assert_eq!(rados(true, &["-N", &ns, "rm", &obj]).code, 0);
    assert_eq!(rados(false, &["rm", &obj]).code, 0);
}

#[test]
fn errors_match_the_real_rados() {
    let _g = serial();
    for args in [
        &["stat", "no-such-object"][..],
        &["rm", "no-such-object"],
        &["get", "no-such-object", "/dev/null"],
        &["getxattr", "no-such-object", "a"],
        // Pacific dropped mkpool/rmpool
        &["mkpool", "foo"],
        &["rmpool", "foo", "foo", "--yes-i-really-really-mean-it"],
    ] {
        let (r, o) = (rados(true, args), rados(false, args));
        assert_eq!(o.code, r.code, "{args:?}: {} / {}", o.stderr, r.stderr);
        // (librados may log on stderr, e.g. a monclient message during its shutdown race)
        assert_eq!(o.stderr.trim(), split_logs(&r.stderr).0.trim(), "{args:?}");
    }
    let conf = ref_cluster().conf();
    let c = conf.to_str().unwrap();
    let r = run(Path::new(REAL), &["-c", c, "-p", "no-such-pool", "ls"]);
    let o = run(&bin("rados"), &["-c", c, "-p", "no-such-pool", "ls"]);
    // (the real tool sometimes adds a log line from its shutdown race)
    let first = |s: &str| s.lines().next().unwrap_or("").to_string();
    assert_eq!((o.code, first(&o.stderr)), (r.code, first(&r.stderr)));
    let (r, o) = (run(Path::new(REAL), &["-c", c, "lspools"]), run(&bin("rados"), &["-c", c, "lspools"]));
    assert_eq!(o.stdout, r.stdout);
}

#[test]
fn capabilities_are_enforced_with_the_real_tools_errors() {
    let _g = serial();
    let conf = ref_cluster().conf();
    let c = conf.to_str().unwrap();
    let name = format!("client.ro{}", std::process::id());
    let dir = tempfile::tempdir().unwrap();
    let keyring = dir.path().join("keyring");
    let k = keyring.to_str().unwrap();
    let made = run(Path::new("/usr/bin/ceph"), &["-c", c, "auth", "get-or-create", &name, "mon", "allow r", "osd", "allow r", "-o", k]);
    assert_eq!(made.code, 0, "{}", made.stderr);
    let src = dir.path().join("in");
    std::fs::write(&src, b"x").unwrap();
    let s = src.to_str().unwrap();
    for args in [&["put", "rotest", s][..], &["rm", "rotest"], &["setxattr", "rotest", "a", "b"]] {
        let mut a = vec!["-c", c, "-n", &name, "-k", k, "-p", "rbd"];
        a.extend_from_slice(args);
        let (r, o) = (run(Path::new(REAL), &a), run(&bin("rados"), &a));
        assert_ne!(r.code, 0, "the real rados was allowed to {args:?}");
        assert_eq!((o.code, o.stderr.trim()), (r.code, r.stderr.trim()), "{args:?}");
    }
    // reads stay allowed
    let a = ["-c", c, "-n", &name, "-k", k, "-p", "rbd", "ls"];
    let o = run(&bin("rados"), &a);
    assert_eq!(o.code, 0, "{}", o.stderr);
    // A wrong key, a malformed one and a missing keyring are refused at
    // authentication, by both tools and by both `ceph`s, with the same words.
    let last = |s: &str| s.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").to_string();
    for key in ["AQBBAQdr4uufORAAsHSPnruwsrJ0OvkMz/oSyA==", "AQBkaW9gAAAAABAAbm90IHRoZSByaWdodCBrZXk=", ""] {
        if key.is_empty() {
            std::fs::remove_file(&keyring).unwrap();
        } else {
            std::fs::write(&keyring, format!("[{name}]\n\tkey = {key}\n")).unwrap();
        }
        for (real, ours, cmd) in [(REAL, bin("rados"), "lspools"), ("/usr/bin/ceph", bin("ceph"), "-s")] {
            let a = ["-c", c, "-n", &name, "-k", k, cmd];
            let (r, o) = (run(Path::new(real), &a), run(&ours, &a));
            assert_ne!(r.code, 0, "{real} authenticated with key '{key}'");
            assert_eq!((o.code, last(&o.stderr)), (r.code, last(&r.stderr)), "{real} {cmd} with key '{key}'");
        }
    }
    let del = run(Path::new("/usr/bin/ceph"), &["-c", c, "auth", "del", &name]);
    assert_eq!(del.code, 0, "{}", del.stderr);
}

#[test]
fn bench_objects_are_readable_by_the_other_tool() {
    let _g = serial();
    let no_bench = |r: &Run| !r.stdout.lines().any(|l| l.starts_with("benchmark_data_") || l == "benchmark_last_metadata");
    for writer_real in [false, true] {
        let w = rados(writer_real, &["bench", "2", "write", "-b", "16384", "-t", "4", "--no-cleanup"]);
        assert_eq!(w.code, 0, "bench write: {}", w.stderr);
        assert!(w.stdout.contains("Total writes made:"));
        // seq verifies every object's contents; rand verifies what it reads
        for mode in ["seq", "rand"] {
            let r = rados(!writer_real, &["bench", "1", mode, "-t", "4"]);
            assert_eq!(r.code, 0, "bench {mode} by the other tool: {} {}", r.stdout, r.stderr);
            assert!(r.stdout.contains("Total reads made:"), "{}", r.stdout);
        }
        let c = rados(!writer_real, &["cleanup"]);
        assert_eq!(c.code, 0, "{}", c.stderr);
        assert!(c.stdout.starts_with("Removed "), "{}", c.stdout);
        assert!(no_bench(&rados(true, &["ls"])), "bench objects left behind");
    }
}

#[test]
fn pool_snapshots_like_the_real_rados() {
    let _g = serial();
    let conf = ref_cluster().conf();
    let c = conf.to_str().unwrap();
    let pool = format!("snapcli{}", std::process::id());
    let ceph = |args: &[&str]| {
        let mut a = vec!["-c", c];
        a.extend_from_slice(args);
        run(Path::new("/usr/bin/ceph"), &a)
    };
    assert_eq!(ceph(&["osd", "pool", "create", &pool, "8"]).code, 0);
    let ours = |args: &[&str]| {
        let mut a = vec!["-c", c, "-p", pool.as_str()];
        a.extend_from_slice(args);
        run(&bin("rados"), &a)
    };
    let real = |args: &[&str]| {
        let mut a = vec!["-c", c, "-p", pool.as_str()];
        a.extend_from_slice(args);
        run(Path::new(REAL), &a)
    };
    let m = ours(&["mksnap", "s1"]);
    assert_eq!((m.code, m.stdout.clone()), (0, format!("created pool {pool} snap s1\n")));
    assert_eq!(ours(&["lssnap"]).stdout, real(&["lssnap"]).stdout);
    assert_eq!(real(&["mksnap", "s2"]).code, 0);
    assert_eq!(ours(&["lssnap"]).stdout, real(&["lssnap"]).stdout);
    let rm = ours(&["rmsnap", "s1"]);
    assert_eq!(rm.stdout, format!("removed pool {pool} snap s1\n"));
    let (o, r) = (ours(&["rmsnap", "s1"]), real(&["rmsnap", "s1"]));
    // (librados may log on stderr during its shutdown race)
    assert_eq!((o.code, o.stderr.trim()), (r.code, split_logs(&r.stderr).0.trim()));
    assert_eq!(ceph(&["osd", "pool", "rm", &pool, &pool, "--yes-i-really-really-mean-it"]).code, 0);
}

#[test]
fn df_matches_the_real_rados() {
    let _g = serial();
    // Usage numbers move when the mgr refreshes its digest: retry until two
    // back-to-back runs agree, and always require the same shape.
    let mut last = None;
    for _ in 0..10 {
        let (r, o) = (rados(true, &["df", "-f", "json"]), rados(false, &["df", "-f", "json"]));
        assert_eq!(o.code, 0, "{}", o.stderr);
        let (rv, ov): (serde_json::Value, serde_json::Value) = (serde_json::from_str(&r.stdout).unwrap(), serde_json::from_str(&o.stdout).unwrap());
        let names = |v: &serde_json::Value| v["pools"].as_array().unwrap().iter().map(|p| p["name"].clone()).collect::<Vec<_>>();
        assert_eq!(names(&ov), names(&rv));
        if ov == rv {
            let (rp, op) = (rados(true, &["df"]), rados(false, &["df"]));
            if rp.stdout == op.stdout {
                return;
            }
        }
        last = Some((rv, ov));
        std::thread::sleep(std::time::Duration::from_secs(1));
    }
    panic!("rados df never agreed with the real tool: {last:?}");
}

/// Waits until every OSD is up and every PG active (and clean, if asked).
fn wait_for_osds(clean: bool) {
    let conf = ref_cluster().conf();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(180);
    loop {
        let s = run(Path::new("/usr/bin/ceph"), &["-c", conf.to_str().unwrap(), "pg", "stat", "-f", "json"]);
        let o = run(Path::new("/usr/bin/ceph"), &["-c", conf.to_str().unwrap(), "osd", "stat", "-f", "json"]);
        let (pg, osd) = (oxceph_tests::parse_json(&s.stdout), oxceph_tests::parse_json(&o.stdout));
        let total = pg["pg_summary"]["num_pgs"].as_u64().unwrap_or(0);
        let ready: u64 = pg["pg_summary"]["num_pg_by_state"]
            .as_array()
            .map(|v| {
                v.iter()
                    .filter(|e| {
                        let st = e["name"].as_str().unwrap_or("");
                        let states: Vec<&str> = st.split('+').collect();
                        if clean {
                            st == "active+clean"
                        } else {
                            states.contains(&"active") && !states.iter().any(|s| ["peering", "down", "incomplete", "stale"].contains(s))
                        }
                    })
                    .filter_map(|e| e["num"].as_u64())
                    .sum()
            })
            .unwrap_or(0);
        if osd["num_up_osds"] == osd["num_osds"] && total > 0 && ready == total {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "cluster did not recover: {} / {}", s.stdout, o.stdout);
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
}

/// A count from `rados bench`'s summary, e.g. `Total writes made:`.
fn summary_count(out: &str, key: &str) -> u64 {
    out.lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no '{key}' in: {out}"))
}

#[test]
fn bench_write_survives_an_osd_killed_mid_run() {
    let _g = serial();
    let conf = ref_cluster().conf();
    let c = conf.to_str().unwrap();
    // Recovery on these sparse-file "hdd" OSDs sleeps between objects by default.
    real_ceph(&["config", "set", "osd", "osd_recovery_sleep_hdd", "0"]);
    wait_for_osds(true);
    let bench = std::process::Command::new(bin("rados"))
        .args(["-c", c, "-p", "rbd", "bench", "6", "write", "-b", "16384", "-t", "8", "--no-cleanup"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_secs(2));
    // osd.1 crashes; the monitor is told at once rather than after the
    // heartbeat grace, so PGs re-peer on the survivors while the bench runs.
    let osd = oxceph_tests::kill_ref_daemon("osd.1");
    real_ceph(&["osd", "down", "1"]);
    std::thread::sleep(std::time::Duration::from_secs(3));
    oxceph_tests::start_ref_daemon(&osd);
    let out = bench.wait_with_output().unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "bench write failed across the OSD crash: {stdout} {stderr}");
    let made = summary_count(&stdout, "Total writes made:");
    assert!(made > 0);
    // Every acknowledged object reads back with the right contents (the real
    // `rados bench seq` checks each one) once the OSD is back.
    wait_for_osds(false);
    let seq = rados(true, &["bench", "30", "seq", "-t", "8"]);
    assert_eq!(seq.code, 0, "real seq after the crash: {} {}", seq.stdout, seq.stderr);
    let read = summary_count(&seq.stdout, "Total reads made:");
    assert_eq!(read, made, "the real seq read a different number of objects");
    assert_eq!(rados(false, &["cleanup"]).code, 0);
    wait_for_osds(true);
    real_ceph(&["config", "rm", "osd", "osd_recovery_sleep_hdd"]);
}
