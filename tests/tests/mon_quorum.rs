//! Monitor quorums of our mons, driven by the real `ceph` and `rados`: a lost
//! leader is replaced within seconds while clients write, a minority refuses
//! writes (clients wait) until the majority is back, and five mons stay
//! writable after losing two.

use oxceph_tests::{parse_json, run, OurCluster, OurMon, Run};
use serde_json::Value;
use std::path::Path;
use std::time::{Duration, Instant};

fn real_ceph(conf: &str, args: &[&str]) -> Run {
    let mut a = vec!["-c", conf, "--connect-timeout", "30"];
    a.extend_from_slice(args);
    run(Path::new("/usr/bin/ceph"), &a)
}

fn quorum_status(conf: &str) -> Option<Value> {
    let r = real_ceph(conf, &["quorum_status", "--format", "json"]);
    (r.code == 0).then(|| parse_json(&r.stdout))
}

fn names(v: &Value) -> Vec<String> {
    v["quorum_names"].as_array().map(|a| a.iter().filter_map(|x| x.as_str().map(String::from)).collect()).unwrap_or_default()
}

/// Waits until the quorum is exactly `want` (sorted names); returns the status.
fn wait_quorum(conf: &str, want: &[&str], secs: u64) -> Value {
    let t0 = Instant::now();
    let mut last = Value::Null;
    while t0.elapsed() < Duration::from_secs(secs) {
        if let Some(v) = quorum_status(conf) {
            if names(&v) == want {
                return v;
            }
            last = v;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("quorum never became {want:?}; last: {last}");
}

/// A ceph.conf that names only mon `name`, to ask that mon itself.
fn conf_for_one(m: &OurMon, name: &str) -> String {
    let i = m.names.iter().position(|n| n == name).unwrap();
    let text = std::fs::read_to_string(m.conf()).unwrap();
    let mut out = String::new();
    for l in text.lines() {
        if l.starts_with("mon_host") {
            out += &format!("mon_host = [v2:{}:{}]\n", m.ip, 3300 + i);
        } else if l.starts_with("mon_initial_members") {
            out += &format!("mon_initial_members = {name}\n");
        } else {
            out += l;
            out += "\n";
        }
    }
    let p = m.dir.path().join(format!("ceph.{name}.conf"));
    std::fs::write(&p, out).unwrap();
    p.display().to_string()
}

fn pools(conf: &str) -> Vec<String> {
    let r = real_ceph(conf, &["osd", "pool", "ls"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    r.stdout.lines().map(String::from).collect()
}

#[test]
fn leader_killed_during_rados_bench_and_pool_creates_loses_nothing() {
    let mut c = OurCluster::start_with_mons(3, 3, "");
    let conf = c.conf();
    let v = wait_quorum(&conf, &["a", "b", "c"], 30);
    let leader = v["quorum_leader_name"].as_str().unwrap().to_string();
    let s = real_ceph(&conf, &["-s"]);
    assert!(s.stdout.contains("mon: 3 daemons, quorum a,b,c"), "{}", s.stdout);
    c.create_pool("qbench", 16);

    let conf2 = conf.clone();
    let bench = std::thread::spawn(move || run(Path::new("/usr/bin/rados"), &["-c", &conf2, "-p", "qbench", "bench", "12", "write", "--no-cleanup", "-t", "8"]));
    let conf3 = conf.clone();
    let creator = std::thread::spawn(move || {
        let mut made = Vec::new();
        for i in 0..6 {
            let name = format!("qpool{i}");
            let r = real_ceph(&conf3, &["osd", "pool", "create", &name, "8"]);
            if r.code == 0 {
                made.push(name);
            }
            std::thread::sleep(Duration::from_millis(700));
        }
        made
    });
    std::thread::sleep(Duration::from_secs(3));
    c.mon.kill9_mon(&leader);
    let killed = Instant::now();
    let rest: Vec<&str> = c.mon.names.iter().map(|s| s.as_str()).filter(|n| *n != leader).collect();
    let v = wait_quorum(&conf, &rest, 30);
    let new_leader = v["quorum_leader_name"].as_str().unwrap().to_string();
    assert_ne!(new_leader, leader);
    let took = killed.elapsed();
    assert!(took < Duration::from_secs(15), "a new leader took {took:?}");
    let s = real_ceph(&conf, &["health"]);
    assert!(s.stdout.contains(&format!("1/3 mons down, quorum {}", rest.join(","))), "{}", s.stdout);

    let b = bench.join().unwrap();
    assert_eq!(b.code, 0, "rados bench failed across the leader change: {}\n{}", b.stdout, b.stderr);
    let made = creator.join().unwrap();
    assert_eq!(made.len(), 6, "every pool create eventually succeeds: {made:?}");
    // Every acknowledged write is there and reads back (bench seq checks contents).
    let total: u64 = b.stdout.lines().find_map(|l| l.strip_prefix("Total writes made:")).map(|v| v.trim().parse().unwrap()).expect("bench summary");
    let ls = c.rados(&["-p", "qbench", "ls"]);
    let objects = ls.stdout.lines().filter(|l| l.starts_with("benchmark_data")).count() as u64;
    assert!(objects >= total, "{objects} objects listed, {total} acknowledged");
    let seq = c.rados(&["-p", "qbench", "bench", "5", "seq", "-t", "8"]);
    assert_eq!(seq.code, 0, "{}\n{}", seq.stdout, seq.stderr);
    assert!(!seq.stderr.contains("ERROR") && !seq.stdout.contains("ERROR"), "{}", seq.stderr);
    for p in &made {
        assert!(pools(&conf).contains(p), "acknowledged pool {p} missing");
    }

    // The old leader comes back, rejoins and catches up.
    c.mon.start_mon(&leader);
    wait_quorum(&conf, &["a", "b", "c"], 30);
    let only_old = conf_for_one(&c.mon, &leader);
    let t0 = Instant::now();
    loop {
        let theirs = real_ceph(&only_old, &["osd", "pool", "ls"]);
        if theirs.code == 0 && made.iter().all(|p| theirs.stdout.lines().any(|l| l == p)) {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(30), "mon.{leader} did not catch up: {}", theirs.stdout);
        std::thread::sleep(Duration::from_millis(200));
    }
    for p in &made {
        let r = real_ceph(&conf, &["osd", "pool", "application", "enable", p, "rados"]);
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    c.wait_clean(90);
    // The real rbd sees nothing different on a quorum.
    let rbd = |args: &[&str]| {
        let mut a = vec!["-c", conf.as_str()];
        a.extend_from_slice(args);
        run(Path::new("/usr/bin/rbd"), &a)
    };
    let r = rbd(&["create", "--size", "16", "qbench/img"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = rbd(&["info", "qbench/img"]);
    assert!(r.stdout.contains("size 16 MiB in 4 objects"), "{}", r.stdout);
    let r = rbd(&["snap", "create", "qbench/img@s1"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = rbd(&["rm", "--no-progress", "qbench/img"]);
    assert_ne!(r.code, 0, "an image with snapshots is not removed");
    let r = rbd(&["snap", "purge", "--no-progress", "qbench/img"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = rbd(&["rm", "--no-progress", "qbench/img"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[test]
fn a_minority_refuses_writes_until_the_majority_returns() {
    let mut m = OurMon::start_mons(3, "");
    let conf = m.conf();
    wait_quorum(&conf, &["a", "b", "c"], 30);
    let r = real_ceph(&conf, &["osd", "pool", "create", "before", "8"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    m.kill9_mon("a");
    m.kill9_mon("b");
    // mon.c alone is not a quorum: once it notices (a few seconds), it takes
    // no clients and commits nothing.
    let lone = conf_for_one(&m, "c");
    let t0 = Instant::now();
    while run(Path::new("/usr/bin/timeout"), &["4", "/usr/bin/ceph", "-c", &lone, "--connect-timeout", "2", "health"]).code == 0 {
        assert!(t0.elapsed() < Duration::from_secs(20), "mon.c kept serving without a quorum");
        std::thread::sleep(Duration::from_millis(200));
    }
    let r = run(Path::new("/usr/bin/timeout"), &["8", "/usr/bin/ceph", "-c", &lone, "--connect-timeout", "5", "osd", "pool", "create", "refused", "8"]);
    assert_ne!(r.code, 0, "a lone mon accepted a write: {}", r.stdout);
    assert!(!r.stdout.contains("created") && !r.stderr.contains("created"), "{}", r.stderr);
    // A client asking meanwhile waits, and succeeds once the majority is back.
    let conf2 = conf.clone();
    let waiting = std::thread::spawn(move || run(Path::new("/usr/bin/ceph"), &["-c", &conf2, "--connect-timeout", "120", "osd", "pool", "create", "during", "8"]));
    std::thread::sleep(Duration::from_secs(3));
    assert!(!waiting.is_finished(), "the client should wait while there is no quorum");
    m.start_mon("a");
    m.start_mon("b");
    let r = waiting.join().unwrap();
    assert_eq!(r.code, 0, "{}", r.stderr);
    wait_quorum(&conf, &["a", "b", "c"], 30);
    let ls = pools(&conf);
    assert!(ls.contains(&"before".to_string()) && ls.contains(&"during".to_string()), "{ls:?}");
    assert!(!ls.contains(&"refused".to_string()), "{ls:?}");
}

#[test]
fn five_mons_stay_writable_after_losing_two() {
    let mut m = OurMon::start_mons(5, "");
    let conf = m.conf();
    let v = wait_quorum(&conf, &["a", "b", "c", "d", "e"], 30);
    let leader = v["quorum_leader_name"].as_str().unwrap().to_string();
    // Lose the leader and one more.
    let other = if leader == "a" { "b" } else { "a" };
    m.kill9_mon(&leader);
    m.kill9_mon(other);
    let mut rest: Vec<&str> = m.names.iter().map(|s| s.as_str()).filter(|n| *n != leader && *n != other).collect();
    rest.sort();
    wait_quorum(&conf, &rest, 30);
    let r = real_ceph(&conf, &["osd", "pool", "create", "five", "8"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let stat = real_ceph(&conf, &["mon", "stat"]);
    assert!(stat.stdout.starts_with("e1: 5 mons at {"), "{}", stat.stdout);
    assert!(stat.stdout.trim_end().ends_with(&rest.join(",")), "{}", stat.stdout);
    let h = real_ceph(&conf, &["health", "detail"]);
    assert!(h.stdout.contains(&format!("2/5 mons down, quorum {}", rest.join(","))), "{}", h.stdout);
    assert!(h.stdout.contains(&format!("mon.{leader} (rank ")) && h.stdout.contains("is down (out of quorum)"), "{}", h.stdout);
    let dump = parse_json(&real_ceph(&conf, &["mon", "dump", "--format", "json"]).stdout);
    assert_eq!(dump["mons"].as_array().map(|a| a.len()), Some(5));
    m.start_mon(&leader);
    m.start_mon(other);
    wait_quorum(&conf, &["a", "b", "c", "d", "e"], 30);
    assert!(pools(&conf).contains(&"five".to_string()));
    let h = real_ceph(&conf, &["health"]);
    assert!(!h.stdout.contains("MON_DOWN") && !h.stdout.contains("mons down"), "{}", h.stdout);
}

#[test]
fn mon_add_then_a_new_mon_joins_and_mon_remove_retires_one() {
    // Snapshots every few entries and a short log: the new mon gets the state
    // as a snapshot, as one joining a long-lived cluster would.
    let mut m = OurMon::start_mons(3, "mon_quorum_snapshot_every = 5\nmon_quorum_keep_logs = 2");
    let conf = m.conf();
    wait_quorum(&conf, &["a", "b", "c"], 30);
    let addr = format!("{}:3303", m.ip);
    let r = real_ceph(&conf, &["mon", "add", "d", &addr]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // Ceph's message, and the new mon counts as down until it runs.
    assert_eq!(r.stderr.trim(), format!("adding mon.d at v2:{addr}/0"));
    let h = real_ceph(&conf, &["health"]);
    assert!(h.stdout.contains("1/4 mons down, quorum a,b,c"), "{}", h.stdout);
    let again = real_ceph(&conf, &["mon", "add", "d", &format!("{}:3304", m.ip)]);
    assert_eq!(again.code, 17, "{}", again.stderr);
    assert!(again.stderr.contains(&format!("mon.d already exists at address v2:{addr}/0")), "{}", again.stderr);
    join_new_mon(&mut m, "d");
    let v = wait_quorum(&conf, &["a", "b", "c", "d"], 60);
    assert_eq!(v["monmap"]["epoch"], 2);
    // mon.d has the whole state.
    let r = real_ceph(&conf, &["osd", "pool", "create", "withd", "8"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let only_d = conf_for_one(&m, "d");
    let t0 = Instant::now();
    while !pools(&only_d).contains(&"withd".to_string()) {
        assert!(t0.elapsed() < Duration::from_secs(20), "mon.d did not catch up");
        std::thread::sleep(Duration::from_millis(200));
    }

    let log = std::fs::read_to_string(m.dir.path().join("mon.d.log")).unwrap_or_default();
    assert!(log.contains("installed a snapshot of the state"), "mon.d did not start from a snapshot:\n{log}");

    // Remove the leader itself (the hardest case: it answers, then leaves).
    let v = quorum_status(&conf).unwrap();
    let leader = v["quorum_leader_name"].as_str().unwrap().to_string();
    let li = m.names.iter().position(|n| *n == leader).unwrap();
    let r = real_ceph(&conf, &["mon", "remove", &leader]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains(&format!("removing mon.{leader} at v2:{}:{}/0, there will be 3 monitors", m.ip, 3300 + li)), "{}", r.stderr);
    let rest: Vec<&str> = ["a", "b", "c", "d"].into_iter().filter(|n| *n != leader).collect();
    let v = wait_quorum(&conf, &rest, 30);
    assert_eq!(v["monmap"]["epoch"], 3);
    let t0 = Instant::now();
    while !m.mon_exited(&leader) {
        assert!(t0.elapsed() < Duration::from_secs(20), "mon.{leader} kept running after its removal");
        std::thread::sleep(Duration::from_millis(200));
    }
    let h = real_ceph(&conf, &["health"]);
    assert!(!h.stdout.contains("mons down"), "{}", h.stdout);
    let gone = real_ceph(&conf, &["mon", "remove", &leader]);
    assert_eq!(gone.code, 0);
    assert!(gone.stderr.contains(&format!("mon.{leader} does not exist or has already been removed")), "{}", gone.stderr);
}

/// A one-mon cluster stays writable while a mon added to it is not running
/// yet: the newcomer only votes once it has caught up.
#[test]
fn a_single_mon_stays_writable_while_its_new_peer_starts() {
    let mut m = OurMon::start_mons(1, "");
    let conf = m.conf();
    let addr = format!("{}:3301", m.ip);
    let r = real_ceph(&conf, &["mon", "add", "b", &addr]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = real_ceph(&conf, &["osd", "pool", "create", "still-writable", "8"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    join_new_mon(&mut m, "b");
    wait_quorum(&conf, &["a", "b"], 60);
    let r = real_ceph(&conf, &["osd", "pool", "create", "with-b", "8"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let only_b = conf_for_one(&m, "b");
    let ls = pools(&only_b);
    assert!(ls.contains(&"still-writable".to_string()) && ls.contains(&"with-b".to_string()), "{ls:?}");
}

/// Makes and starts mon `name` from the cluster's map, as Ceph's docs say:
/// `ceph mon getmap`, then `ceph-mon --mkfs --monmap`.
fn join_new_mon(m: &mut OurMon, name: &str) {
    let conf = m.conf();
    let map = m.dir.path().join("monmap");
    let r = real_ceph(&conf, &["mon", "getmap", "-o", map.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let keyring = m.dir.path().join("keyring");
    let r = run(&oxceph_tests::bin("ceph-mon"), &["-c", &conf, "--mkfs", "-i", name, "--monmap", map.to_str().unwrap(), "--keyring", keyring.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    m.start_new_mon(name);
}
