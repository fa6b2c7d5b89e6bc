//! The deployment files: systemd units under Ceph's names, and the script that
//! runs a cluster as separate hosts in network namespaces, where a real
//! network partition cuts the leader's host off.

use oxceph_tests::{parse_json, run, workspace_root, Run};
use std::path::Path;
use std::time::{Duration, Instant};

#[test]
fn systemd_units_have_cephs_names_and_verify() {
    let dir = workspace_root().join("deploy/systemd");
    for unit in ["ceph-mon@.service", "ceph-osd@.service", "ceph-mon.target", "ceph-osd.target", "ceph.target"] {
        assert!(dir.join(unit).exists(), "{unit} missing");
    }
    let text = std::fs::read_to_string(dir.join("ceph-mon@.service")).unwrap();
    assert!(text.contains("ExecStart=/usr/bin/ceph-mon -f --cluster ${CLUSTER} --id %i --setuser ceph --setgroup ceph"), "{text}");
    if !Path::new("/usr/bin/systemd-analyze").exists() {
        eprintln!("systemd-analyze not installed: only the files were checked");
        return;
    }
    // systemd's own checker, on instances as systemctl would start them.
    let tmp = tempfile::tempdir().unwrap();
    for f in std::fs::read_dir(&dir).unwrap() {
        let f = f.unwrap();
        std::fs::copy(f.path(), tmp.path().join(f.file_name())).unwrap();
    }
    let units: Vec<String> = ["ceph-mon@a.service", "ceph-osd@0.service", "ceph-mon.target", "ceph-osd.target", "ceph.target"].iter().map(|u| tmp.path().join(u).display().to_string()).collect();
    let mut args = vec!["verify"];
    args.extend(units.iter().map(|s| s.as_str()));
    let r = run(Path::new("/usr/bin/systemd-analyze"), &args);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
}

struct NetnsCluster {
    dir: tempfile::TempDir,
}

impl NetnsCluster {
    fn script(&self, args: &[&str]) -> Run {
        let d = self.dir.path().display().to_string();
        let mut a = vec!["--dir", d.as_str()];
        a.extend_from_slice(args);
        run(&workspace_root().join("deploy/netns-cluster.sh"), &a)
    }
    fn conf(&self) -> String {
        self.dir.path().join("ceph.conf").display().to_string()
    }
    fn ceph(&self, args: &[&str]) -> Run {
        let conf = self.conf();
        let mut a = vec!["-c", conf.as_str(), "--connect-timeout", "30"];
        a.extend_from_slice(args);
        run(Path::new("/usr/bin/ceph"), &a)
    }
}

impl Drop for NetnsCluster {
    fn drop(&mut self) {
        self.script(&["--down"]);
    }
}

#[test]
fn a_network_partition_of_the_leaders_host_moves_the_quorum() {
    if run(Path::new("/usr/sbin/ip"), &["netns", "list"]).code != 0 {
        eprintln!("no network namespaces here: skipped");
        return;
    }
    let c = NetnsCluster { dir: tempfile::Builder::new().prefix("oxceph-netns-").tempdir().unwrap() };
    let up = c.script(&["--mons", "3", "--osds", "3", "--net", "10.78.0"]);
    assert_eq!(up.code, 0, "{}\n{}", up.stdout, up.stderr);
    let wait_quorum = |want: &[&str]| -> serde_json::Value {
        let t0 = Instant::now();
        loop {
            let r = c.ceph(&["quorum_status", "--format", "json"]);
            if r.code == 0 {
                let v = parse_json(&r.stdout);
                let names: Vec<&str> = v["quorum_names"].as_array().unwrap().iter().filter_map(|x| x.as_str()).collect();
                if names == want {
                    return v;
                }
            }
            assert!(t0.elapsed() < Duration::from_secs(60), "quorum never became {want:?}: {}", r.stdout);
            std::thread::sleep(Duration::from_millis(300));
        }
    };
    let v = wait_quorum(&["a", "b", "c"]);
    let leader = v["quorum_leader_name"].as_str().unwrap().to_string();
    let host = (leader.as_bytes()[0] - b'a' + 1).to_string();
    let r = c.ceph(&["osd", "pool", "create", "parted", "8"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = c.ceph(&["osd", "pool", "application", "enable", "parted", "rados"]);
    assert_eq!(r.code, 0, "{}", r.stderr);

    // Cut the leader's host off the network; its daemons keep running.
    let cut = c.script(&["--cut", &host]);
    assert_eq!(cut.code, 0, "{}", cut.stderr);
    let rest: Vec<&str> = ["a", "b", "c"].into_iter().filter(|n| *n != leader).collect();
    let v = wait_quorum(&rest);
    assert_ne!(v["quorum_leader_name"].as_str(), Some(leader.as_str()));
    // The majority side keeps taking writes: a pool, and objects (once the
    // cut-off OSD is marked down).
    let r = c.ceph(&["osd", "pool", "create", "during-partition", "8"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let conf = c.conf();
    let src = c.dir.path().join("payload");
    std::fs::write(&src, oxceph_tests::pattern_bytes(100_000, 7)).unwrap();
    let put = run(Path::new("/usr/bin/timeout"), &["120", "/usr/bin/rados", "-c", &conf, "-p", "parted", "put", "obj", src.to_str().unwrap()]);
    assert_eq!(put.code, 0, "{}", put.stderr);

    // Heal: the old leader's mon rejoins and the cluster is whole again.
    let heal = c.script(&["--heal", &host]);
    assert_eq!(heal.code, 0, "{}", heal.stderr);
    wait_quorum(&["a", "b", "c"]);
    let ls = c.ceph(&["osd", "pool", "ls"]);
    assert!(ls.stdout.lines().any(|l| l == "during-partition"), "{}", ls.stdout);
    let back = c.dir.path().join("back");
    let got = run(Path::new("/usr/bin/rados"), &["-c", &conf, "-p", "parted", "get", "obj", back.to_str().unwrap()]);
    assert_eq!(got.code, 0, "{}", got.stderr);
    assert!(std::fs::read(&back).unwrap() == oxceph_tests::pattern_bytes(100_000, 7), "the object written during the partition reads back");
}
