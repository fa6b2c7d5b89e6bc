//! Our monitor (`ceph-mon` with its built-in mgr) against the real Ceph tools:
//! the real `ceph` CLI gets the same JSON shapes from our mon as from a real
//! Pacific cluster, python3-rados manages pools through it, cephx refuses what
//! it must, and the mon survives hostile peers and kill -9.

use oxceph_tests::*;
use serde_json::Value;
use std::io::Write;

/// Differences in shape: keys present on one side only, or different JSON types.
/// Arrays are compared by their first elements when both have some.
fn shape_diff(ours: &Value, real: &Value, path: &str, out: &mut Vec<String>) {
    match (ours, real) {
        (Value::Object(a), Value::Object(b)) => {
            for k in b.keys() {
                if !a.contains_key(k) {
                    out.push(format!("{path}.{k}: missing in ours"));
                }
            }
            for (k, v) in a {
                match b.get(k) {
                    Some(w) => shape_diff(v, w, &format!("{path}.{k}"), out),
                    None => out.push(format!("{path}.{k}: not in Ceph's output")),
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            if let (Some(x), Some(y)) = (a.first(), b.first()) {
                shape_diff(x, y, &format!("{path}[0]"), out);
            }
        }
        (Value::Number(_), Value::Number(_)) | (Value::String(_), Value::String(_)) | (Value::Bool(_), Value::Bool(_)) | (Value::Null, Value::Null) => {}
        (a, b) => out.push(format!("{path}: ours is {a} but Ceph's is {b}")),
    }
}

/// Keys whose contents describe daemons we do not run yet (OSDs, standbys,
/// mgr module internals): only their presence and type are compared.
const OPAQUE: &[&str] = &["stats_by_class", "available_modules", "disabled_modules", "checks", "services", "always_on_modules", "client", "caps"];

fn strip_opaque(v: &mut Value) {
    match v {
        Value::Object(o) => {
            for (k, x) in o.iter_mut() {
                if OPAQUE.contains(&k.as_str()) {
                    *x = match x {
                        Value::Object(_) => Value::Object(Default::default()),
                        Value::Array(_) => Value::Array(vec![]),
                        _ => x.clone(),
                    };
                } else {
                    strip_opaque(x);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(strip_opaque),
        _ => {}
    }
}

#[test]
fn real_ceph_cli_gets_cephs_json_shapes_from_our_mon() {
    let mon = OurMon::start();
    let r = mon.real(&["osd", "pool", "create", "rbd", "32"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("pool 'rbd' created"), "{}", r.stderr);
    assert_eq!(mon.real(&["osd", "pool", "application", "enable", "rbd", "rbd"]).code, 0);
    let cmds: &[&[&str]] = &[
        &["status"],
        &["health"],
        &["health", "detail"],
        &["mon", "dump"],
        &["mon", "stat"],
        &["quorum_status"],
        &["versions"],
        &["features"],
        &["osd", "dump"],
        &["osd", "ls"],
        &["osd", "stat"],
        &["osd", "tree"],
        &["osd", "pool", "ls"],
        &["osd", "pool", "ls", "detail"],
        &["osd", "pool", "get", "rbd", "all"],
        &["osd", "pool", "get", "rbd", "size"],
        &["osd", "pool", "get-quota", "rbd"],
        &["osd", "pool", "application", "get", "rbd"],
        &["osd", "crush", "rule", "ls"],
        &["osd", "crush", "rule", "dump"],
        &["osd", "erasure-code-profile", "ls"],
        &["osd", "erasure-code-profile", "get", "default"],
        &["osd", "map", "rbd", "someobject"],
        &["auth", "get", "client.admin"],
        &["auth", "ls"],
        &["config", "dump"],
        &["config-key", "ls"],
        &["fs", "ls"],
        &["mgr", "dump"],
        &["mgr", "services"],
        &["mgr", "module", "ls"],
        &["df"],
        &["pg", "stat"],
        &["osd", "df"],
        &["balancer", "status"],
        &["log", "last", "5"],
        &["config", "show", "mon.a"],
        &["fs", "status"],
    ];
    let mut problems = Vec::new();
    for c in cmds {
        let mut args = c.to_vec();
        args.extend(["-f", "json"]);
        let ours = mon.real(&args);
        assert_eq!(ours.code, 0, "ceph {c:?} against our mon: {}", ours.stderr);
        let real = real_ceph(&args);
        let (mut o, mut r) = (parse_json(&ours.stdout), parse_json(&real));
        strip_opaque(&mut o);
        strip_opaque(&mut r);
        if c[0] == "versions" {
            // Keyed by each daemon's version string: compare the counts only.
            for v in [&mut o, &mut r] {
                for (_, m) in v.as_object_mut().unwrap().iter_mut() {
                    *m = Value::Array(m.as_object().unwrap().values().cloned().collect());
                }
            }
        }
        if c[0] == "features" {
            // Groups appear per connected daemon type; we run no OSDs yet.
            r.as_object_mut().unwrap().remove("osd");
        }
        let mut d = Vec::new();
        shape_diff(&o, &r, "", &mut d);
        if !d.is_empty() {
            problems.push(format!("ceph {}: {}", c.join(" "), d.join("; ")));
        }
    }
    assert!(problems.is_empty(), "JSON shapes differ from Ceph's:\n{}", problems.join("\n"));
    // Deterministic values agree too.
    let ours = parse_json(&mon.real(&["osd", "pool", "get", "rbd", "all", "-f", "json"]).stdout);
    let real = parse_json(&real_ceph(&["osd", "pool", "get", "rbd", "all", "-f", "json"]));
    for k in ["size", "min_size", "pg_num", "pgp_num", "crush_rule", "hashpspool", "pg_autoscale_mode"] {
        assert_eq!(ours[k], real[k], "osd pool get rbd {k}");
    }
    let ours = parse_json(&mon.real(&["osd", "crush", "rule", "dump", "-f", "json"]).stdout);
    let real = parse_json(&real_ceph(&["osd", "crush", "rule", "dump", "-f", "json"]));
    assert_eq!(ours, real, "the initial crush rule matches a real cluster's");
}

#[test]
fn ceph_s_text_looks_like_cephs() {
    let mon = OurMon::start();
    assert_eq!(mon.real(&["osd", "pool", "create", "p", "8"]).code, 0);
    let s = mon.real(&["-s"]);
    assert_eq!(s.code, 0, "{}", s.stderr);
    let lines: Vec<&str> = s.stdout.lines().collect();
    let real = real_ceph(&["-s"]);
    let real_lines: Vec<&str> = real.lines().collect();
    // Same section headers, in the same places relative to each other.
    let heads = |l: &[&str]| l.iter().filter(|x| x.starts_with("  ") && !x.starts_with("   ") && x.ends_with(':')).map(|x| x.to_string()).collect::<Vec<_>>();
    assert_eq!(heads(&lines), heads(&real_lines));
    assert!(lines[1].starts_with("    id:     ") && lines[1].len() == real_lines[1].len(), "{}", s.stdout);
    assert!(s.stdout.contains("    mon: 1 daemons, quorum a (age "), "{}", s.stdout);
    assert!(s.stdout.contains("    mgr: a(active, since "), "{}", s.stdout);
    assert!(s.stdout.contains("    pools:   1 pools, 8 pgs\n"), "{}", s.stdout);
    // Our own ceph CLI prints the same text from our mon.
    let o = mon.ours(&["-s"]);
    assert_eq!(heads(&o.stdout.lines().collect::<Vec<_>>()), heads(&lines));
}

#[test]
fn python_rados_creates_lists_and_deletes_pools() {
    let mon = OurMon::start();
    let script = format!(
        "import rados\nc = rados.Rados(conffile='{}')\nc.connect()\nassert c.get_fsid()\n\
         before = c.list_pools()\nc.create_pool('pyp')\nassert c.pool_exists('pyp')\nmid = c.list_pools()\n\
         c.delete_pool('pyp')\nafter = c.list_pools()\nprint(before, mid, after)\n\
         ret, out, err = c.mon_command('{{\"prefix\": \"osd pool ls\", \"format\": \"json\"}}', b'')\nprint(ret, out.decode())\nc.shutdown()\n",
        mon.conf()
    );
    let r = run(std::path::Path::new("/usr/bin/python3"), &["-c", &script]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout.lines().next().unwrap(), "[] ['pyp'] []");
    assert_eq!(r.stdout.lines().nth(1).unwrap().trim(), "0 []");

    // librados takes the new epochs as incrementals, and their crcs check out.
    let log = mon.dir.path().join("client.log");
    let script = format!(
        "import rados\nc = rados.Rados(conffile='{}', conf={{'debug_objecter': '20', 'log_file': '{}'}})\nc.connect()\n\
         for i in range(3):\n    c.create_pool('inc%d' % i)\nprint(c.list_pools())\nc.shutdown()\n",
        mon.conf(),
        log.display()
    );
    let r = run(std::path::Path::new("/usr/bin/python3"), &["-c", &script]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let l = std::fs::read_to_string(&log).unwrap();
    assert!(l.matches("decoding incremental epoch").count() >= 3, "no incrementals applied:\n{}", l.lines().filter(|x| x.contains("handle_osd_map")).collect::<Vec<_>>().join("\n"));
    assert!(!l.contains("crc"), "a crc mismatch was reported");
}

#[test]
fn cephx_refuses_wrong_keys_unknown_entities_and_missing_caps() {
    let mon = OurMon::start();
    let d = mon.dir.path();
    // client.ro: mon 'allow r' reads but cannot create pools.
    let r = mon.real(&["auth", "get-or-create", "client.ro", "mon", "allow r", "-o", &d.join("ro.keyring").display().to_string()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let ro = |args: &[&str]| {
        let conf = mon.conf();
        let kr = d.join("ro.keyring").display().to_string();
        let mut a = vec!["-c", conf.as_str(), "-n", "client.ro", "-k", kr.as_str()];
        a.extend_from_slice(args);
        run(std::path::Path::new("/usr/bin/ceph"), &a)
    };
    assert_eq!(ro(&["osd", "pool", "ls"]).code, 0);
    let denied = ro(&["osd", "pool", "create", "nope"]);
    assert_eq!(denied.code, 13, "{} {}", denied.stdout, denied.stderr);
    assert!(denied.stderr.contains("EACCES"), "{}", denied.stderr);
    assert!(!mon.real(&["osd", "pool", "ls"]).stdout.contains("nope"));
    // A wrong key for a known entity, and an entity the mon never heard of.
    let mut f = std::fs::File::create(d.join("bad.keyring")).unwrap();
    writeln!(f, "[client.admin]\n\tkey = AQBu0nBlAAAAABAA1aXwDf4ItrEhWjLrMnxCCA==\n[client.ghost]\n\tkey = AQBu0nBlAAAAABAA1aXwDf4ItrEhWjLrMnxCCA==").unwrap();
    for who in ["client.admin", "client.ghost"] {
        let conf = mon.conf();
        let kr = d.join("bad.keyring").display().to_string();
        let r = run(std::path::Path::new("/usr/bin/ceph"), &["-c", &conf, "-n", who, "-k", &kr, "--connect-timeout", "5", "-s"]);
        assert_ne!(r.code, 0, "{who} with a wrong key got in");
        assert!(r.stderr.contains("permission denied") || r.stderr.contains("Permission denied"), "{who}: {}", r.stderr);
    }
    // No command works without authenticating when cephx is required.
    let conf = mon.conf();
    let r = run(std::path::Path::new("/usr/bin/ceph"), &["-c", &conf, "--auth-client-required", "none", "--connect-timeout", "5", "-s"]);
    assert_ne!(r.code, 0, "auth none was accepted: {}", r.stdout);
}

fn rss_kb(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)).and_then(|v| v.parse().ok()).unwrap()
}

#[test]
fn hostile_peers_are_dropped_and_many_clients_are_served() {
    use std::net::TcpStream;
    let mon = OurMon::start();
    let addr = format!("{}:3300", mon.ip);
    let before = rss_kb(mon.pid());
    // A stalled handshake stays open the whole time.
    let stalled = TcpStream::connect(&addr).unwrap();
    let mut junk_conns = Vec::new();
    for i in 0..50 {
        let mut s = TcpStream::connect(&addr).unwrap();
        let mut v: Vec<u8> = match i % 3 {
            0 => (0..4096).map(|j| (j * 7 + i) as u8).collect(),
            // banner then a truncated preamble
            1 => [&b"ceph v2\n\x10\x00"[..], &[1u8, 0, 0, 0, 0, 0, 0, 0], &[0u8; 8], &[1, 1, 0x10]].concat(),
            // banner then a preamble claiming a 2 GiB segment
            _ => [&b"ceph v2\n\x10\x00"[..], &[1u8, 0, 0, 0, 0, 0, 0, 0], &[0u8; 8]].concat(),
        };
        if i % 3 == 2 {
            let mut p = vec![1u8, 1, 0xff, 0xff, 0xff, 0x7f, 8, 0];
            p.resize(28, 0);
            let crc = crc32c_ceph(&p);
            p.extend_from_slice(&crc.to_le_bytes());
            v.extend_from_slice(&p);
        }
        let _ = s.write_all(&v);
        junk_conns.push(s);
    }
    // 200 concurrent `ceph -s` (our CLI: cheap processes) all get answers.
    let kids: Vec<_> = (0..200)
        .map(|_| std::process::Command::new(bin("ceph")).args(["-c", &mon.conf(), "-s", "-f", "json"]).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap())
        .collect();
    let mut okays = 0;
    for k in kids {
        let o = k.wait_with_output().unwrap();
        if o.status.success() && parse_json(&String::from_utf8_lossy(&o.stdout))["fsid"].is_string() {
            okays += 1;
        }
    }
    assert_eq!(okays, 200);
    assert_eq!(mon.real(&["health"]).code, 0);
    drop(junk_conns);
    drop(stalled);
    let after = rss_kb(mon.pid());
    assert!(after < before + 128 * 1024, "mon RSS grew from {before} kB to {after} kB");
}

/// crc32c as Ceph's frame preambles use it (seed 0, no final xor).
fn crc32c_ceph(data: &[u8]) -> u32 {
    let mut crc: u32 = 0;
    for &b in data {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0x82f6_3b78 } else { crc >> 1 };
        }
    }
    crc
}

#[test]
fn kill_9_during_a_pool_create_loop_loses_no_acknowledged_pool() {
    let mut mon = OurMon::start();
    let conf = mon.conf();
    // python3-rados creates pools as fast as the mon acknowledges them.
    let script = format!(
        "import rados, sys\nc = rados.Rados(conffile='{conf}')\nc.conf_set('rados_mon_op_timeout', '3')\nc.connect()\n\
         i = 0\nwhile True:\n    try:\n        c.create_pool('loop%d' % i)\n    except Exception as e:\n        break\n    print('loop%d' % i, flush=True)\n    i += 1\n"
    );
    let mut child = std::process::Command::new("/usr/bin/python3").args(["-c", &script]).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::null()).spawn().unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut acked = Vec::new();
    let reader = std::thread::spawn(move || {
        use std::io::Read;
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    // Let it acknowledge some pools, then crash the mon.
    let t0 = std::time::Instant::now();
    loop {
        let n = mon.real(&["osd", "pool", "ls"]).stdout.lines().count();
        if n >= 20 || t0.elapsed().as_secs() > 60 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    mon.kill9();
    let _ = child.kill();
    let _ = child.wait();
    for l in reader.join().unwrap().lines() {
        acked.push(l.to_string());
    }
    assert!(acked.len() >= 20, "only {} pools were acknowledged before the crash", acked.len());
    mon.restart();
    let pools: Vec<String> = mon.real(&["osd", "pool", "ls"]).stdout.lines().map(str::to_string).collect();
    for p in &acked {
        assert!(pools.contains(p), "acknowledged pool {p} is gone after kill -9 (have {})", pools.len());
    }
    // Pool ids and epochs keep going up after the restart.
    assert_eq!(mon.real(&["osd", "pool", "create", "after-restart"]).code, 0);
    let dump = parse_json(&mon.real(&["osd", "dump", "-f", "json"]).stdout);
    assert_eq!(dump["pool_max"].as_u64().unwrap() as usize, pools.len() + 1);
}

#[test]
fn osd_registration_state_changes_and_crush_rules() {
    let mon = OurMon::start();
    let uuid = std::fs::read_to_string("/proc/sys/kernel/random/uuid").unwrap().trim().to_string();
    let secret = mon.dir.path().join("secret.json");
    // A key the way ceph-volume generates one.
    let key = run(std::path::Path::new("/usr/bin/ceph-authtool"), &["--gen-print-key"]).stdout.trim().to_string();
    std::fs::write(&secret, format!("{{\"cephx_secret\": \"{key}\"}}")).unwrap();
    let r = mon.real(&["osd", "new", &uuid, "-i", &secret.display().to_string()]);
    assert_eq!((r.code, r.stdout.trim()), (0, "0"), "{}", r.stderr);
    // The same uuid again gets the same id; `osd create` takes the next one.
    assert_eq!(mon.real(&["osd", "new", &uuid, "-i", &secret.display().to_string()]).stdout.trim(), "0");
    assert_eq!(mon.real(&["osd", "create"]).stdout.trim(), "1");
    let got = mon.real(&["auth", "get", "osd.0", "-f", "json"]);
    let e = &parse_json(&got.stdout)[0];
    assert_eq!(e["key"], key.as_str());
    assert_eq!(e["caps"]["mon"], "allow profile osd");
    let dump = parse_json(&mon.real(&["osd", "dump", "-f", "json"]).stdout);
    assert_eq!(dump["max_osd"], 2);
    assert_eq!(dump["osds"][0]["uuid"], uuid.as_str());
    assert_eq!(dump["osds"][0]["state"], serde_json::json!(["exists"]));
    // Same shapes as a real cluster's OSD entries.
    let real = parse_json(&real_ceph(&["osd", "dump", "-f", "json"]));
    let mut d = Vec::new();
    shape_diff(&dump["osds"][0], &real["osds"][0], "osds[0]", &mut d);
    shape_diff(&dump["osd_xinfo"][0], &real["osd_xinfo"][0], "osd_xinfo[0]", &mut d);
    assert!(d.is_empty(), "{d:?}");
    let tree = parse_json(&mon.real(&["osd", "tree", "-f", "json"]).stdout);
    assert_eq!(tree["stray"].as_array().unwrap().len(), 2);
    let r = mon.real(&["osd", "in", "0"]);
    assert!(r.stderr.contains("marked in osd.0."), "{}", r.stderr);
    assert_eq!(parse_json(&mon.real(&["osd", "stat", "-f", "json"]).stdout)["num_in_osds"], 1);
    assert!(mon.real(&["osd", "out", "0"]).stderr.contains("marked out osd.0."));
    assert!(mon.real(&["osd", "down", "0"]).stderr.contains("osd.0 is already down."));
    // Placement in CRUSH, as `osd_crush_update_on_start` and operators do it.
    let r = mon.real(&["osd", "crush", "add", "osd.0", "0.5", "host=h1", "root=default"]);
    assert!(r.stderr.contains("add item id 0 name 'osd.0' weight 0.5 at location {host=h1,root=default} to crush map"), "{}", r.stderr);
    let tree = parse_json(&mon.real(&["osd", "tree", "-f", "json"]).stdout);
    let node = |name: &str| tree["nodes"].as_array().unwrap().iter().find(|n| n["name"] == name).cloned().unwrap();
    assert_eq!(node("h1")["type"], "host");
    assert_eq!(node("default")["children"], serde_json::json!([node("h1")["id"]]));
    assert_eq!(node("osd.0")["crush_weight"], 0.5);
    let real_tree = parse_json(&real_ceph(&["osd", "tree", "-f", "json"]));
    let real_osd = real_tree["nodes"].as_array().unwrap().iter().find(|n| n["type"] == "osd").cloned().unwrap();
    let mut d = Vec::new();
    let mut ours = node("osd.0");
    ours.as_object_mut().unwrap().insert("device_class".into(), serde_json::json!("hdd"));
    shape_diff(&ours, &real_osd, "osd node", &mut d);
    assert!(d.is_empty(), "{d:?}");
    assert!(mon.real(&["osd", "crush", "reweight", "osd.0", "2"]).stderr.contains("reweighted item id 0 name 'osd.0' to 2 in crush map"));
    assert_eq!(mon.real(&["osd", "crush", "create-or-move", "osd.0", "1", "host=h2", "root=default"]).code, 0, "already placed: left where it is");
    assert!(mon.real(&["osd", "crush", "add-bucket", "rack1", "rack"]).stderr.contains("added bucket rack1 type rack to crush map"));
    assert!(mon.real(&["osd", "crush", "rm", "osd.0"]).stderr.contains("removed item id 0 name 'osd.0' from crush map"));
    assert_eq!(mon.real(&["osd", "crush", "rm", "h1"]).code, 0, "an emptied bucket can go");
    assert!(mon.real(&["osd", "rm", "1"]).stderr.contains("removed osd.1"));
    assert_eq!(mon.real(&["osd", "new", &std::fs::read_to_string("/proc/sys/kernel/random/uuid").unwrap().trim(), "999999999"]).code, 22, "ids beyond mon_max_osd are refused");
    assert_eq!(mon.real(&["osd", "ls"]).stdout, "0\n");
    assert_eq!(mon.real(&["osd", "rm", "7"]).code, 2, "ENOENT for a missing osd");
    // Hostile numbers are refused, not wrapped.
    assert_eq!(mon.real(&["osd", "pool", "create", "huge", "4294967296"]).code, 34);
    assert_eq!(mon.real(&["osd", "pool", "create", "big", "8", "--size", "257"]).code, 22);
    assert_eq!(mon.real(&["osd", "pool", "ls"]).stdout, "");
    // Rules: create-replicated, then the compiled map round-trips through crushtool and setcrushmap.
    assert_eq!(mon.real(&["osd", "crush", "rule", "create-replicated", "fast", "default", "host"]).code, 0);
    assert_eq!(mon.real(&["osd", "crush", "rule", "ls"]).stdout, "replicated_rule\nfast\n");
    let cm = mon.dir.path().join("crush.bin");
    assert_eq!(mon.real(&["osd", "getcrushmap", "-o", &cm.display().to_string()]).code, 0);
    let text = run(std::path::Path::new("/usr/bin/crushtool"), &["-d", &cm.display().to_string()]);
    assert!(text.stdout.contains("rule fast {") && text.stdout.contains("step chooseleaf firstn 0 type host"), "{}", text.stdout);
    assert_eq!(mon.real(&["osd", "setcrushmap", "-i", &cm.display().to_string()]).code, 0);
    assert_eq!(mon.real(&["osd", "crush", "rule", "rm", "fast"]).code, 0);
    assert_eq!(mon.real(&["osd", "crush", "rule", "ls"]).stdout, "replicated_rule\n");
}

#[test]
fn setuser_and_setgroup_drop_privileges_like_ceph_daemons() {
    let mut mon = OurMon::start();
    mon.kill9();
    // The data and the log must be writable by the target user, as with Ceph's `ceph` user.
    let d = mon.dir.path().display().to_string();
    assert!(std::process::Command::new("chown").args(["-R", "nobody:nogroup", &d]).status().unwrap().success());
    mon.restart_with(&["--setuser", "nobody", "--setgroup", "nogroup"]);
    let status = std::fs::read_to_string(format!("/proc/{}/status", mon.pid())).unwrap();
    let uid_line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    assert!(uid_line.split_whitespace().skip(1).all(|u| u == "65534"), "{uid_line}");
    assert_eq!(mon.real(&["osd", "pool", "create", "asnobody", "8"]).code, 0);
}

#[test]
fn mutating_commands_take_effect_and_persist_across_a_restart() {
    let mut mon = OurMon::start();
    fn must(mon: &OurMon, args: &[&str]) {
        let r = mon.real(args);
        assert_eq!(r.code, 0, "ceph {args:?}: {}", r.stderr);
    }
    let ok = |args: &[&str]| must(&mon, args);
    ok(&["osd", "pool", "create", "a", "16"]);
    ok(&["osd", "pool", "rename", "a", "b"]);
    ok(&["osd", "pool", "set", "b", "size", "2"]);
    ok(&["osd", "pool", "set-quota", "b", "max_objects", "100"]);
    ok(&["osd", "pool", "application", "enable", "b", "rgw"]);
    ok(&["osd", "pool", "mksnap", "b", "s1"]);
    ok(&["osd", "erasure-code-profile", "set", "ec1", "k=3", "m=1"]);
    let kr = mon.dir.path().join("imp.keyring");
    std::fs::write(&kr, format!("[client.imp]\n\tkey = {}\n\tcaps mon = \"allow r\"\n", auth::CryptoKey::generate().to_base64())).unwrap();
    ok(&["auth", "import", "-i", &kr.display().to_string()]);
    ok(&["auth", "get-or-create", "client.c", "mon", "allow r"]);
    ok(&["auth", "caps", "client.c", "mon", "allow rw"]);
    ok(&["auth", "del", "client.imp"]);
    ok(&["config", "set", "global", "osd_pool_default_size", "2"]);
    ok(&["config-key", "set", "k1", "v1"]);
    ok(&["log", "persisted entry"]);
    let check = |mon: &OurMon| {
        let get = |args: &[&str]| parse_json(&mon.real(args).stdout);
        let b = get(&["osd", "pool", "get", "b", "size", "-f", "json"]);
        assert_eq!(b["size"], 2);
        assert_eq!(get(&["osd", "pool", "get-quota", "b", "-f", "json"])["quota_max_objects"], 100);
        assert_eq!(get(&["osd", "pool", "application", "get", "b", "-f", "json"]), serde_json::json!({"rgw": {}}));
        let detail = get(&["osd", "pool", "ls", "detail", "-f", "json"]);
        assert_eq!(detail[0]["pool_snaps"][0]["name"], "s1");
        assert_eq!(get(&["osd", "erasure-code-profile", "get", "ec1", "-f", "json"])["k"], "3");
        assert_eq!(get(&["auth", "get", "client.c", "-f", "json"])[0]["caps"]["mon"], "allow rw");
        assert_eq!(mon.real(&["auth", "get", "client.imp"]).code, 2);
        assert_eq!(mon.real(&["config", "get", "global", "osd_pool_default_size"]).stdout.trim(), "2");
        assert_eq!(mon.real(&["config-key", "get", "k1"]).stdout, "v1");
        assert!(mon.real(&["log", "last", "20"]).stdout.contains("persisted entry"));
    };
    check(&mon);
    mon.kill9();
    mon.restart();
    check(&mon);
    // And the removals.
    let ok = |args: &[&str]| must(&mon, args);
    ok(&["osd", "pool", "rmsnap", "b", "s1"]);
    ok(&["osd", "pool", "application", "disable", "b", "rgw", "--yes-i-really-mean-it"]);
    ok(&["config", "rm", "global", "osd_pool_default_size"]);
    ok(&["config-key", "rm", "k1"]);
    ok(&["osd", "erasure-code-profile", "rm", "ec1"]);
    ok(&["osd", "pool", "rm", "b", "b", "--yes-i-really-really-mean-it"]);
    mon.kill9();
    mon.restart();
    assert_eq!(mon.real(&["osd", "pool", "ls"]).stdout, "");
    assert_eq!(mon.real(&["config-key", "exists", "k1"]).code, 2);
    assert_eq!(mon.real(&["osd", "erasure-code-profile", "ls"]).stdout, "default\n");
    assert_eq!(mon.real(&["config", "dump", "-f", "json"]).stdout.trim(), "[]");
}
