//! Interop: our `ceph` and the real `/usr/bin/ceph` on the same real Pacific
//! cluster give the same JSON (volatile fields masked), the same stderr
//! messages and the same exit codes.

use oxceph_tests::{bin, normalize, parse_json, ref_cluster, run, run_env, split_logs, Run};
use std::path::Path;

const REAL: &str = "/usr/bin/ceph";

/// Tests here share one cluster and compare whole listings, so they run one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

fn both(args: &[&str]) -> (Run, Run) {
    let conf = ref_cluster().conf();
    let conf = conf.to_str().unwrap();
    let mut a = vec!["-c", conf];
    a.extend_from_slice(args);
    (run(Path::new(REAL), &a), run(&bin("ceph"), &a))
}

fn assert_same_json(args: &[&str]) {
    let (real, ours) = both(args);
    assert_eq!(real.code, ours.code, "exit code of {args:?}: real stderr {} / ours {}", real.stderr, ours.stderr);
    assert_eq!(real.code, 0, "{args:?} failed on the real CLI: {}", real.stderr);
    // The real CLI prints a blank line before JSON output.
    assert!(ours.stdout.starts_with('\n'), "{args:?}: missing leading newline");
    let (r, o) = (normalize(&parse_json(&real.stdout)), normalize(&parse_json(&ours.stdout)));
    assert_eq!(o, r, "{args:?}: JSON differs");
    assert_eq!(ours.stderr, real.stderr, "{args:?}: stderr differs");
}

#[test]
fn read_commands_give_the_same_json() {
    let _g = serial();
    let _db = ref_cluster().config_db_lock();
    for args in [
        &["-s", "-f", "json"][..],
        &["status", "-f", "json-pretty"],
        &["health", "detail", "-f", "json"],
        &["mon", "dump", "-f", "json"],
        &["quorum_status", "-f", "json"],
        &["osd", "tree", "-f", "json"],
        &["osd", "dump", "-f", "json"],
        &["osd", "pool", "ls", "detail", "-f", "json"],
        &["auth", "ls", "-f", "json"],
        &["df", "-f", "json"],
        &["pg", "stat", "-f", "json"],
        &["config", "dump", "-f", "json"],
        &["versions", "-f", "json"],
        &["mgr", "services", "-f", "json"],
    ] {
        assert_same_json(args);
    }
}

#[test]
fn plain_output_is_identical_where_deterministic() {
    let _g = serial();
    let _db = ref_cluster().config_db_lock();
    for args in [&["mon", "dump"][..], &["osd", "pool", "ls"], &["config", "dump"], &["osd", "ls"]] {
        let (real, ours) = both(args);
        // (librados may log on stderr during its shutdown race)
        assert_eq!((ours.code, &ours.stdout, &ours.stderr), (real.code, &real.stdout, &split_logs(&real.stderr).0), "{args:?}");
    }
    // `ceph -s` text: same sections and lines, values may move.
    let (real, ours) = both(&["-s"]);
    let heads = |s: &str| s.lines().map(|l| l.split(':').next().unwrap_or("").to_string()).collect::<Vec<_>>();
    assert_eq!(heads(&ours.stdout), heads(&real.stdout));
}

#[test]
fn secure_and_crc_modes_both_work() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let src = std::fs::read_to_string(ref_cluster().conf()).unwrap();
    for mode in ["secure", "crc"] {
        let conf = dir.path().join(format!("{mode}.conf"));
        let text = src.replacen("[global]", &format!("[global]\nms_mon_client_mode = {mode}\nms_client_mode = {mode}"), 1);
        std::fs::write(&conf, text).unwrap();
        let c = conf.to_str().unwrap();
        for args in [&["-c", c, "mon", "dump", "-f", "json"][..], &["-c", c, "pg", "stat", "-f", "json"]] {
            let real = run(Path::new(REAL), args);
            let ours = run(&bin("ceph"), args);
            assert_eq!(ours.code, 0, "{mode}: {}", ours.stderr);
            assert_eq!(normalize(&parse_json(&ours.stdout)), normalize(&parse_json(&real.stdout)), "{mode} {args:?}");
        }
    }
}

#[test]
fn pool_create_and_remove_like_the_real_cli() {
    let _g = serial();
    let id = std::process::id();
    let (rp, op) = (format!("refpool{id}"), format!("oxpool{id}"));
    let conf = ref_cluster().conf();
    let c = conf.to_str().unwrap();
    let real = run(Path::new(REAL), &["-c", c, "osd", "pool", "create", &rp, "8"]);
    let ours = run(&bin("ceph"), &["-c", c, "osd", "pool", "create", &op, "8"]);
    assert_eq!(real.stderr, format!("pool '{rp}' created\n"));
    assert_eq!(ours.stderr, format!("pool '{op}' created\n"));
    assert_eq!((ours.code, ours.stdout.as_str()), (0, ""));
    let again = run(&bin("ceph"), &["-c", c, "osd", "pool", "create", &op, "8"]);
    assert_eq!((again.code, again.stderr.as_str()), (0, format!("pool '{op}' already exists\n").as_str()));
    let r = run(Path::new(REAL), &["-c", c, "osd", "pool", "get", &rp, "all", "-f", "json"]);
    let o = run(&bin("ceph"), &["-c", c, "osd", "pool", "get", &op, "all", "-f", "json"]);
    let strip = |s: &str, name: &str| {
        let mut v = parse_json(s);
        v.as_object_mut().unwrap().remove("pool_id");
        v["pool"] = name.into();
        v
    };
    assert_eq!(strip(&o.stdout, "p"), strip(&r.stdout, "p"));
    // Removal needs the name twice and the flag, with the same refusal text otherwise.
    let (real, ours) = both(&["osd", "pool", "rm", &rp]);
    assert_eq!(ours.code, real.code);
    assert_eq!(ours.stderr.replace(&rp, "P"), real.stderr.replace(&rp, "P"));
    for p in [&rp, &op] {
        let r = run(&bin("ceph"), &["-c", c, "osd", "pool", "rm", p, p, "--yes-i-really-really-mean-it"]);
        assert_eq!((r.code, r.stderr), (0, format!("pool '{p}' removed\n")));
    }
}

#[test]
fn auth_get_or_create_prints_a_keyring() {
    let _g = serial();
    let id = std::process::id();
    let conf = ref_cluster().conf();
    let c = conf.to_str().unwrap();
    let who = format!("client.ox{id}");
    let o = run(&bin("ceph"), &["-c", c, "auth", "get-or-create", &who, "mon", "allow r"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let lines: Vec<&str> = o.stdout.lines().collect();
    assert_eq!(lines[0], format!("[{who}]"));
    let key = lines[1].strip_prefix("\tkey = ").expect("key line");
    assert_eq!(key.len(), 40);
    // The real CLI sees the same entity and key.
    let r = run(Path::new(REAL), &["-c", c, "auth", "get", &who, "-f", "json"]);
    let v = parse_json(&r.stdout);
    assert_eq!(v[0]["key"], key);
    assert_eq!(v[0]["caps"]["mon"], "allow r");
    let (real_ls, ours_ls) = both(&["auth", "get", &who, "-f", "json"]);
    assert_eq!(ours_ls.stdout, real_ls.stdout);
    let d = run(&bin("ceph"), &["-c", c, "auth", "del", &who]);
    assert_eq!((d.code, d.stderr.as_str()), (0, "updated\n"));
}

fn last_line(s: &str) -> &str {
    s.trim_end().lines().last().unwrap_or("")
}

#[test]
fn failures_match_the_real_cli() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let conf = ref_cluster().conf();
    let c = conf.to_str().unwrap();
    let wrong = dir.path().join("wrong.keyring");
    // a valid key that is not client.admin's
    std::fs::write(&wrong, "[client.admin]\n\tkey = AQBD6wZrEvmWBRAALAFQ530nZY0LFnwEnTqUiw==\n").unwrap();
    let nobody = dir.path().join("nobody.keyring");
    std::fs::write(&nobody, "[client.nobody]\n\tkey = AQBD6wZrEvmWBRAALAFQ530nZY0LFnwEnTqUiw==\n").unwrap();
    let unreach = dir.path().join("unreach.conf");
    std::fs::write(&unreach, "[global]\nmon_host = 127.0.0.9\nkeyring = /dev/null\n").unwrap();
    let (w, n, u) = (wrong.to_str().unwrap(), nobody.to_str().unwrap(), unreach.to_str().unwrap());
    let cases: Vec<Vec<&str>> = vec![
        vec!["-c", c, "-k", w, "-s"],
        vec!["-c", c, "-n", "client.nobody", "-k", n, "-s"],
        vec!["-c", u, "--connect-timeout", "2", "-s"],
        vec!["-c", c, "foo", "bar"],
        vec!["-c", c, "osd", "pool", "create"],
        vec!["-c", c, "osd", "pool", "get", "nosuchpool", "size"],
        vec!["-c", c, "auth", "get", "client.nosuch"],
        vec!["-c", c, "-f", "bogus", "-s"],
        vec!["-c", "/nonexistent.conf", "-s"],
        vec!["-c", c, "-n", "nodot", "-s"],
    ];
    for a in cases {
        let real = run(Path::new(REAL), &a);
        let ours = run(&bin("ceph"), &a);
        assert_ne!(real.code, 0);
        assert_eq!(ours.code, real.code, "{a:?}: ours {} / real {}", ours.stderr, real.stderr);
        assert_eq!(last_line(&ours.stderr), last_line(&split_logs(&real.stderr).0), "{a:?}");
        assert!(!ours.stderr.contains("panicked"), "{a:?}: {}", ours.stderr);
    }
    // Invalid commands print exactly what the real CLI prints.
    let (real, ours) = both(&["osd", "pool", "create"]);
    assert_eq!(ours.stderr, split_logs(&real.stderr).0);
    let (real, ours) = both(&["foo", "bar"]);
    assert_eq!(ours.stderr, split_logs(&real.stderr).0);
}

#[test]
fn help_lists_the_clusters_commands() {
    let _g = serial();
    let (real, ours) = both(&["--help"]);
    assert_eq!(ours.code, 0);
    let table = |s: &str| s[s.find(" Monitor commands:").expect("table")..].to_string();
    assert_eq!(table(&ours.stdout), table(&real.stdout));
    assert!(real.stdout.starts_with(ours.stdout.split(" Local commands").next().unwrap().split("\n Monitor").next().unwrap()));
}

#[test]
fn ceph_args_environment_is_honoured() {
    let _g = serial();
    let conf = ref_cluster().conf();
    let env = format!("-c {}", conf.display());
    let ours = run_env(&bin("ceph"), &["mon", "dump", "-f", "json"], &[("CEPH_ARGS", &env)]);
    assert_eq!(ours.code, 0, "{}", ours.stderr);
    assert!(parse_json(&ours.stdout)["mons"].is_array());
}

#[test]
fn commands_piped_on_stdin_run_like_the_real_cli() {
    let _g = serial();
    let conf = ref_cluster().conf();
    let feed = |cmd: &Path| {
        use std::io::Write;
        let mut c = std::process::Command::new(cmd)
            .args(["-c", conf.to_str().unwrap()])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        c.stdin.take().unwrap().write_all(b"mon stat\n\nosd stat\nosd pool ls\n").unwrap();
        let o = c.wait_with_output().unwrap();
        (o.status.code(), String::from_utf8_lossy(&o.stdout).into_owned())
    };
    let (real, ours) = (feed(Path::new(REAL)), feed(&bin("ceph")));
    // `osd stat` carries an uptime ("since 28m"); compare the rest
    let mask = |s: &str| s.lines().map(|l| l.split(" (since").next().unwrap_or("").to_string()).collect::<Vec<_>>();
    assert_eq!(ours.0, real.0);
    assert!(real.1.contains("osds:"), "{}", real.1);
    assert_eq!(mask(&ours.1), mask(&real.1));
}

/// `ceph tell osd.N ...` from our CLI and the real one against real OSDs:
/// each OSD's command table is fetched from it and the command checked
/// against it; outputs (a wildcard prefixes each OSD's), messages and exit
/// codes are the real CLI's. Commands only a real OSD knows are refused by
/// our CLI's check only if the OSD's table lacks them, so use common ones.
#[test]
fn tell_osd_gives_what_the_real_cli_gives() {
    let _g = serial();
    let cases: &[&[&str]] = &[
        &["tell", "osd.0", "version"],
        &["tell", "osd.*", "version"],
        &["tell", "osd.1", "version", "--format", "json"],
        &["tell", "osd.0", "injectfull", "bogus"],
        &["tell", "osd.0", "injectfull", "nearfull", "x"],
        &["tell", "osd.9", "version"],
        &["tell", "osd.x", "version"],
        &["tell", "osd.0"],
        &["tell", "osd", "version"],
        &["tell", "foo.1", "version"],
        &["tell", "osd.0", "injectfull", "bogus", "0"],
        &["tell", "osd.0", "version", "-o", "/nonexistent/dir/out"],
        // Config commands that change nothing (each runs twice on one OSD).
        &["tell", "osd.1", "config", "get", "osd_max_backfills"],
        &["tell", "osd.1", "config", "get", "foo"],
        &["tell", "osd.1", "config", "set", "osd_max_backfills", "notanint"],
        &["tell", "osd.1", "injectargs", "--foo 3"],
        &["tell", "osd.1", "config", "set"],
    ];
    // The usage message names the program as invoked.
    let ours_bin = bin("ceph").display().to_string();
    for args in cases {
        let (real, ours) = both(args);
        let ours_err = ours.stderr.replace(&ours_bin, REAL);
        assert_eq!((ours.code, ours.stdout.as_str(), ours_err.as_str()), (real.code, real.stdout.as_str(), split_logs(&real.stderr).0.as_str()), "{args:?}");
    }
    // -o: every OSD's output in the one file.
    let dir = tempfile::tempdir().unwrap();
    let (rf, of) = (dir.path().join("real"), dir.path().join("ours"));
    let conf = ref_cluster().conf();
    let c = conf.to_str().unwrap();
    let real = run(Path::new(REAL), &["-c", c, "tell", "osd.*", "version", "-o", rf.to_str().unwrap()]);
    let ours = run(&bin("ceph"), &["-c", c, "tell", "osd.*", "version", "-o", of.to_str().unwrap()]);
    assert_eq!((real.code, ours.code), (0, 0), "{} / {}", real.stderr, ours.stderr);
    let (rf, of) = (std::fs::read_to_string(&rf).unwrap(), std::fs::read_to_string(&of).unwrap());
    assert_eq!(of, rf);
    assert_eq!(rf.matches("\"version\"").count(), 3, "{rf}");
    let (real, ours) = both(&["tell", "osd.2", "status"]);
    assert_eq!((real.code, ours.code), (0, 0), "{} / {}", real.stderr, ours.stderr);
    assert_eq!(ours.stdout, real.stdout, "status");
}
