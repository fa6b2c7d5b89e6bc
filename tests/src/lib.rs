//! Test harness: locating our binaries, starting (or reusing) a real Ceph
//! Pacific reference cluster from `../shared/ceph-ref`, running commands, and
//! comparing JSON outputs with volatile fields (times, ages, usage counters)
//! masked.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

pub fn workspace_root() -> PathBuf {
    Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap_or(env!("CARGO_MANIFEST_DIR").into())).parent().expect("workspace").to_path_buf()
}

/// Our built binary `name`: `$OXCEPH_BIN_DIR`, else `$CARGO_TARGET_DIR` or
/// `target/`, release before debug.
pub fn bin(name: &str) -> PathBuf {
    if let Ok(d) = std::env::var("OXCEPH_BIN_DIR") {
        return Path::new(&d).join(name);
    }
    let target = std::env::var("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|_| workspace_root().join("target"));
    for profile in ["release", "debug"] {
        let p = target.join(profile).join(name);
        if p.exists() {
            return p;
        }
    }
    panic!("{name} is not built: run `cargo build --release --bins` first (or set OXCEPH_BIN_DIR)");
}

/// A real Ceph cluster: reused from `$OXCEPH_REF_DIR` (started by scripts/test.sh)
/// or started here on 127.0.0.2 and stopped when the test process exits.
pub struct RefCluster {
    pub dir: PathBuf,
}

impl RefCluster {
    pub fn conf(&self) -> PathBuf {
        self.dir.join("ceph.conf")
    }
    pub fn keyring(&self) -> PathBuf {
        self.dir.join("keyring")
    }

    /// Held (across test processes) by tests that change the reference
    /// cluster's config database and by those that compare its `config
    /// dump`, so the one does not show up in the other.
    pub fn config_db_lock(&self) -> std::fs::File {
        let f = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(self.dir.join("oxceph-config-db.lock")).expect("open the config lock file");
        f.lock().expect("lock the config lock file");
        f
    }
}

static REF: OnceLock<RefCluster> = OnceLock::new();

extern "C" fn stop_ref_cluster() {
    if let Some(r) = REF.get() {
        let _ = Command::new(shared_dir().join("ceph-ref/down.sh")).arg(&r.dir).stdout(Stdio::null()).stderr(Stdio::null()).status();
    }
}

extern "C" {
    fn atexit(f: extern "C" fn()) -> i32;
}

pub fn shared_dir() -> PathBuf {
    std::env::var("OXCEPH_SHARED").map(PathBuf::from).unwrap_or_else(|_| workspace_root().join("../shared"))
}

pub fn ref_cluster() -> &'static RefCluster {
    REF.get_or_init(|| {
        if let Ok(d) = std::env::var("OXCEPH_REF_DIR") {
            let dir = PathBuf::from(d);
            assert!(dir.join("ceph.conf").exists(), "OXCEPH_REF_DIR has no ceph.conf");
            return RefCluster { dir };
        }
        let dir = std::env::temp_dir().join(format!("oxceph-ref-{}", std::process::id()));
        let ip = std::env::var("OXCEPH_REF_IP").unwrap_or_else(|_| "127.0.0.2".into());
        let st = Command::new(shared_dir().join("ceph-ref/up.sh")).arg(&dir).arg(&ip).status().expect("run up.sh");
        assert!(st.success(), "could not start the reference cluster");
        // SAFETY: registering a plain extern "C" function with atexit.
        unsafe { atexit(stop_ref_cluster) };
        RefCluster { dir }
    })
}

/// Runs the real `ceph` against the reference cluster; panics unless it succeeds.
/// Returns its stdout.
pub fn real_ceph(args: &[&str]) -> String {
    let conf = ref_cluster().conf();
    let mut a = vec!["-c", conf.to_str().unwrap()];
    a.extend_from_slice(args);
    let o = Command::new("/usr/bin/ceph").args(&a).output().unwrap();
    assert!(o.status.success(), "ceph {args:?}: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Kills a daemon of the reference cluster (`mon.a`, `osd.1`) with SIGKILL, as
/// a crash would, and returns its command line for [`start_ref_daemon`].
pub fn kill_ref_daemon(name: &str) -> Vec<String> {
    let pidfile = ref_cluster().dir.join("run").join(format!("{name}.pid"));
    let pid = std::fs::read_to_string(&pidfile).unwrap_or_else(|e| panic!("{}: {e}", pidfile.display())).trim().to_string();
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_else(|e| panic!("{name} (pid {pid}) is not running: {e}"));
    let args: Vec<String> =
        cmdline.split(|b| *b == 0).filter(|a| !a.is_empty()).map(|a| String::from_utf8_lossy(a).into_owned()).collect();
    assert!(Command::new("kill").args(["-9", &pid]).status().unwrap().success());
    while Path::new(&format!("/proc/{pid}")).exists() {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    args
}

/// Starts a daemon again with the command line [`kill_ref_daemon`] returned.
pub fn start_ref_daemon(args: &[String]) {
    let st = Command::new(&args[0]).args(&args[1..]).status().unwrap();
    assert!(st.success(), "could not restart {args:?}");
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn run(cmd: &Path, args: &[&str]) -> Run {
    run_env(cmd, args, &[])
}

pub fn run_env(cmd: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut c = Command::new(cmd);
    c.args(args).stdin(Stdio::null());
    for (k, v) in env {
        c.env(k, v);
    }
    let o: Output = c.output().unwrap_or_else(|e| panic!("cannot run {}: {e}", cmd.display()));
    Run {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

/// Keys whose values change from one call to the next on a live cluster.
const VOLATILE: &[&str] = &[
    "age", "stamp", "time", "modified", "created", "since", "uptime", "last_", "_ago", "rate", "_sec", "_bytes",
    "bytes_", "_kb", "kb_", "used", "avail", "utilization", "percent", "latency", "num_objects", "objects", "read_op",
    "write_op", "read_bytes", "write_bytes", "quorum_age", "checks", "progress_events", "beacon", "nonce",
];

fn volatile(k: &str) -> bool {
    VOLATILE.iter().any(|v| k.contains(v))
}

/// Masks volatile values (they keep their JSON type, so shapes still compare).
pub fn normalize(v: &Value) -> Value {
    match v {
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| {
                    let x = if volatile(k) { mask(x) } else { normalize(x) };
                    (k.clone(), x)
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(normalize).collect()),
        other => other.clone(),
    }
}

fn mask(v: &Value) -> Value {
    match v {
        Value::Number(_) => Value::from(0),
        Value::String(_) => Value::String("<masked>".into()),
        Value::Array(a) => Value::Array(a.iter().map(mask).collect()),
        Value::Object(o) => Value::Object(o.iter().map(|(k, x)| (k.clone(), mask(x))).collect()),
        other => other.clone(),
    }
}

pub fn parse_json(s: &str) -> Value {
    let t = s.trim();
    if t.is_empty() {
        return Value::Null;
    }
    serde_json::from_str(t).unwrap_or_else(|e| panic!("not JSON ({e}): {t:.300}"))
}

/// A monitor of ours (`ceph-mon`, with its built-in mgr) in a temp dir on a
/// loopback IP of its own, started with Ceph's flags and killed on drop.
pub struct OurMon {
    pub dir: tempfile::TempDir,
    pub ip: String,
    /// Mon names (a, b, c...), mon i on port 3300 + i.
    pub names: Vec<String>,
    children: Vec<Option<std::process::Child>>,
}

fn gen_key() -> String {
    auth::CryptoKey::generate().to_base64()
}

impl OurMon {
    /// A fresh single-mon cluster. `extra` lines go into `[global]`.
    pub fn start_with(extra: &str) -> OurMon {
        Self::start_mons(1, extra)
    }

    /// A fresh cluster of `n` mons (a quorum when n > 1).
    pub fn start_mons(n: usize, extra: &str) -> OurMon {
        let pid = std::process::id();
        let ip = format!("127.{}.{}.{}", 40 + (pid >> 16 & 0x7f), pid >> 8 & 0xff, (pid & 0xff).clamp(1, 254));
        let dir = tempfile::Builder::new().prefix("oxceph-mon-").tempdir().unwrap();
        let d = dir.path().display().to_string();
        let names: Vec<String> = (0..n).map(|i| ((b'a' + i as u8) as char).to_string()).collect();
        std::fs::write(
            dir.path().join("ceph.conf"),
            format!(
                "[global]\nfsid = {}\nmon_initial_members = {}\nmon_host = {}\npublic_addr = {ip}\n\
                 auth_cluster_required = cephx\nauth_service_required = cephx\nauth_client_required = cephx\n\
                 keyring = {d}/keyring\nrun_dir = {d}/run\nosd_pool_default_size = 3\nosd_pool_default_min_size = 1\n\
                 osd_crush_chooseleaf_type = 0\nosd_pool_default_pg_autoscale_mode = off\nmon_allow_pool_delete = true\n{extra}\n\
                 [mon]\nmon_data = {d}/mon.$id\nlog_file = {d}/mon.$id.log\n",
                std::fs::read_to_string("/proc/sys/kernel/random/uuid").unwrap().trim(),
                names.join(","),
                (0..n).map(|i| format!("[v2:{ip}:{}]", 3300 + i)).collect::<Vec<_>>().join(","),
            ),
        )
        .unwrap();
        std::fs::write(
            dir.path().join("keyring"),
            format!(
                "[mon.]\n\tkey = {}\n\tcaps mon = \"allow *\"\n[client.admin]\n\tkey = {}\n\tcaps mds = \"allow *\"\n\tcaps mgr = \"allow *\"\n\tcaps mon = \"allow *\"\n\tcaps osd = \"allow *\"\n",
                gen_key(),
                gen_key()
            ),
        )
        .unwrap();
        let conf = format!("{d}/ceph.conf");
        for name in &names {
            let r = run(&bin("ceph-mon"), &["-c", &conf, "--mkfs", "-i", name, "--keyring", &format!("{d}/keyring")]);
            assert_eq!(r.code, 0, "mkfs: {}", r.stderr);
        }
        let children = names.iter().map(|_| None).collect();
        let mut m = OurMon { dir, ip, names, children };
        m.restart();
        m
    }

    pub fn start() -> OurMon {
        Self::start_with("")
    }

    pub fn conf(&self) -> String {
        self.dir.path().join("ceph.conf").display().to_string()
    }

    /// Starts (again) `ceph-mon -f` and waits until it answers.
    pub fn restart(&mut self) {
        self.restart_with(&[]);
    }

    /// As [`OurMon::restart`] with extra daemon flags (every mon not running).
    pub fn restart_with(&mut self, extra: &[&str]) {
        for i in 0..self.names.len() {
            if self.children[i].is_none() {
                self.spawn_mon(i, extra);
            }
        }
        self.wait_health();
    }

    fn spawn_mon(&mut self, i: usize, extra: &[&str]) {
        let child = Command::new(bin("ceph-mon")).args(["-c", &self.conf(), "-i", &self.names[i], "-f"]).args(extra).stdin(Stdio::null()).spawn().unwrap();
        self.children[i] = Some(child);
    }

    /// Starts a mon that is not one of the founders (made with
    /// `ceph-mon --mkfs -i NAME --monmap ...`), as the next one: port 3300 + index.
    pub fn start_new_mon(&mut self, name: &str) {
        self.names.push(name.to_string());
        self.children.push(None);
        self.spawn_mon(self.names.len() - 1, &[]);
    }

    /// Whether mon `name`'s process has exited (and reaps it).
    pub fn mon_exited(&mut self, name: &str) -> bool {
        let i = self.names.iter().position(|n| n == name).expect("a mon of this cluster");
        match self.children[i].as_mut().map(|c| c.try_wait()) {
            Some(Ok(Some(_))) | None => {
                self.children[i] = None;
                true
            }
            _ => false,
        }
    }

    /// Starts mon `name` again (without waiting).
    pub fn start_mon(&mut self, name: &str) {
        let i = self.names.iter().position(|n| n == name).expect("a mon of this cluster");
        if self.children[i].is_none() {
            self.spawn_mon(i, &[]);
        }
    }

    /// SIGKILL one mon.
    pub fn kill9_mon(&mut self, name: &str) {
        let i = self.names.iter().position(|n| n == name).expect("a mon of this cluster");
        if let Some(mut c) = self.children[i].take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Waits until the mons answer `health`.
    pub fn wait_health(&self) {
        let t0 = std::time::Instant::now();
        loop {
            let r = self.ours(&["--connect-timeout", "2", "health"]);
            if r.code == 0 {
                return;
            }
            assert!(t0.elapsed().as_secs() < 30, "our mon did not come up: {}", r.stderr);
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// SIGKILL every mon, as a crash.
    pub fn kill9(&mut self) {
        for c in self.children.iter_mut() {
            if let Some(mut c) = c.take() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
    }

    /// The first mon's pid.
    pub fn pid(&self) -> u32 {
        self.children.first().and_then(|c| c.as_ref()).map(|c| c.id()).unwrap_or(0)
    }

    /// The real `ceph` CLI against this mon.
    pub fn real(&self, args: &[&str]) -> Run {
        let conf = self.conf();
        let mut a = vec!["-c", conf.as_str()];
        a.extend_from_slice(args);
        run(Path::new("/usr/bin/ceph"), &a)
    }

    /// Our `ceph` CLI against this mon.
    pub fn ours(&self, args: &[&str]) -> Run {
        let conf = self.conf();
        let mut a = vec!["-c", conf.as_str()];
        a.extend_from_slice(args);
        run(&bin("ceph"), &a)
    }
}

impl Drop for OurMon {
    fn drop(&mut self) {
        self.kill9();
        // OXCEPH_KEEP_FAILED=1 keeps a failed test's cluster directory (logs, stores).
        if std::thread::panicking() && std::env::var_os("OXCEPH_KEEP_FAILED").is_some() {
            let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().expect("tempdir"));
            eprintln!("kept the cluster directory: {}", dir.keep().display());
        }
    }
}

/// Our mon plus OSDs, each a real process with Ceph's flags, deployed as
/// Ceph deploys them (`osd new`, `ceph-osd --mkfs`, start).
pub struct OurCluster {
    pub mon: OurMon,
    osds: Vec<Option<std::process::Child>>,
}

/// Settings for a one-host test cluster: failure reports count per OSD, and
/// heartbeats, grace and stats are quick so tests do not wait on defaults.
pub const FAST_OSD_CONF: &str = "mon_osd_reporter_subtree_level = osd\nosd_heartbeat_interval = 1\nosd_heartbeat_grace = 4\nosd_mon_report_interval = 1\n";

impl OurCluster {
    /// Starts a mon and `n` OSDs and waits until all are up. `extra` goes into `[global]`.
    pub fn start(n: usize, extra: &str) -> OurCluster {
        Self::start_with_mons(1, n, extra)
    }

    /// As [`OurCluster::start`] with `mons` monitors.
    pub fn start_with_mons(mons: usize, n: usize, extra: &str) -> OurCluster {
        let mon = OurMon::start_mons(mons, &format!("{FAST_OSD_CONF}{extra}\n[osd]\nosd_data = {d}/osd.$id\nkeyring = {d}/osd.$id/keyring\nlog_file = {d}/osd.$id.log\n", d = "@DIR@"));
        // The data dir is only known once the mon exists: patch it in.
        let conf = std::fs::read_to_string(mon.conf()).unwrap().replace("@DIR@", &mon.dir.path().display().to_string());
        std::fs::write(mon.conf(), conf).unwrap();
        let mut c = OurCluster { mon, osds: Vec::new() };
        for i in 0..n {
            c.add_osd(i);
        }
        c.wait_up(n);
        c
    }

    pub fn conf(&self) -> String {
        self.mon.conf()
    }

    /// osd.i's data directory (`osd_data`).
    pub fn osd_dir(&self, i: usize) -> PathBuf {
        self.mon.dir.path().join(format!("osd.{i}"))
    }

    /// Registers, creates and starts osd.i.
    pub fn add_osd(&mut self, i: usize) {
        let dir = self.osd_dir(i);
        std::fs::create_dir_all(&dir).unwrap();
        let uuid = std::fs::read_to_string("/proc/sys/kernel/random/uuid").unwrap().trim().to_string();
        let key = gen_key();
        let secret = dir.join("secret.json");
        std::fs::write(&secret, format!("{{\"cephx_secret\": \"{key}\"}}")).unwrap();
        let r = self.mon.ours(&["osd", "new", &uuid, &i.to_string(), "-i", &secret.display().to_string()]);
        assert_eq!(r.code, 0, "osd new: {}", r.stderr);
        std::fs::write(dir.join("keyring"), format!("[osd.{i}]\n\tkey = {key}\n")).unwrap();
        let r = run(&bin("ceph-osd"), &["-c", &self.conf(), "--mkfs", "-i", &i.to_string(), "--osd-uuid", &uuid]);
        assert_eq!(r.code, 0, "ceph-osd --mkfs: {}", r.stderr);
        while self.osds.len() <= i {
            self.osds.push(None);
        }
        self.start_osd(i);
    }

    /// Starts `ceph-osd -f -i i` (again).
    pub fn start_osd(&mut self, i: usize) {
        self.start_osd_with(i, &[]);
    }

    /// [`OurCluster::start_osd`] with more arguments (`--option value`).
    pub fn start_osd_with(&mut self, i: usize, args: &[&str]) {
        let child = Command::new(bin("ceph-osd")).args(["-c", &self.conf(), "-i", &i.to_string(), "-f"]).args(args).stdin(Stdio::null()).spawn().unwrap();
        self.osds[i] = Some(child);
    }

    /// SIGKILL osd.i, as a crash.
    pub fn kill9_osd(&mut self, i: usize) {
        if let Some(mut c) = self.osds[i].take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Sends `signal` (e.g. "STOP", "CONT") to osd.i.
    pub fn signal_osd(&self, i: usize, signal: &str) {
        let pid = self.osds[i].as_ref().expect("osd running").id().to_string();
        let r = run(Path::new("/bin/kill"), &["-s", signal, &pid]);
        assert_eq!(r.code, 0, "kill -s {signal} {pid}: {}", r.stderr);
    }

    pub fn osd_count(&self) -> usize {
        self.osds.len()
    }

    /// `ceph -s --format json` from our mon, via the real CLI.
    pub fn status(&self) -> Value {
        let r = self.mon.real(&["-s", "--format", "json", "--connect-timeout", "10"]);
        if r.code != 0 {
            return Value::Null;
        }
        serde_json::from_str(r.stdout.trim()).unwrap_or(Value::Null)
    }

    /// Waits until `n` OSDs are up.
    pub fn wait_up(&self, n: usize) {
        self.wait_for(60, &format!("{n} osds up"), |s| s["osdmap"]["num_up_osds"].as_u64() == Some(n as u64));
    }

    /// Waits until every PG is active+clean and health is OK, as reported by
    /// primaries that have seen the osdmap of now (not stats from before a
    /// change the caller just made).
    pub fn wait_clean(&self, secs: u64) {
        let epoch = self.status()["osdmap"]["epoch"].as_u64().unwrap_or(0);
        let current = || {
            let r = self.mon.real(&["pg", "dump", "--format", "json"]);
            let v: Value = serde_json::from_str(r.stdout.trim()).unwrap_or(Value::Null);
            v["pg_map"]["pg_stats"].as_array().is_some_and(|a| a.iter().all(|p| p["reported_epoch"].as_u64().unwrap_or(0) >= epoch))
        };
        self.wait_for(secs, &format!("all pgs active+clean and HEALTH_OK as of epoch {epoch}"), |s| {
            let pg = &s["pgmap"];
            let total = pg["num_pgs"].as_u64().unwrap_or(0);
            let clean = pg["pgs_by_state"].as_array().map(|a| a.iter().filter(|x| x["state_name"] == "active+clean").map(|x| x["count"].as_u64().unwrap_or(0)).sum::<u64>()).unwrap_or(0);
            total > 0 && clean == total && s["health"]["status"] == "HEALTH_OK" && current()
        });
    }

    pub fn wait_for(&self, secs: u64, what: &str, f: impl Fn(&Value) -> bool) {
        let t0 = std::time::Instant::now();
        let mut last = Value::Null;
        while t0.elapsed().as_secs() < secs {
            last = self.status();
            if f(&last) {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(300));
        }
        panic!("timed out after {secs}s waiting for {what}; last status: {last}");
    }

    /// The real `rados` CLI against this cluster.
    pub fn rados(&self, args: &[&str]) -> Run {
        let conf = self.conf();
        let mut a = vec!["-c", conf.as_str()];
        a.extend_from_slice(args);
        run(Path::new("/usr/bin/rados"), &a)
    }

    /// Creates a replicated pool with `pg_num` PGs and an application, and waits until it is clean.
    pub fn create_pool(&self, name: &str, pg_num: u32) {
        self.create_pool_with(name, pg_num, &[]);
    }

    /// [`OurCluster::create_pool`], with `osd pool set` of each (key, value) first.
    pub fn create_pool_with(&self, name: &str, pg_num: u32, settings: &[(&str, &str)]) {
        let r = self.mon.ours(&["osd", "pool", "create", name, &pg_num.to_string()]);
        assert_eq!(r.code, 0, "pool create: {}", r.stderr);
        for (k, v) in settings {
            let r = self.mon.ours(&["osd", "pool", "set", name, k, v]);
            assert_eq!(r.code, 0, "pool set {k} {v}: {}", r.stderr);
        }
        let r = self.mon.ours(&["osd", "pool", "application", "enable", name, "rados"]);
        assert_eq!(r.code, 0, "application enable: {}", r.stderr);
        self.wait_clean(60);
    }

    pub fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.mon.dir.path().join(format!("{name}.log"))).unwrap_or_default()
    }
}

impl Drop for OurCluster {
    fn drop(&mut self) {
        for i in 0..self.osds.len() {
            self.kill9_osd(i);
        }
    }
}

/// Deterministic pseudo-random bytes (xorshift), for objects whose content a
/// test checks after the fact.
pub fn pattern_bytes(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Where `got` differs from `want`, by `chunk`-sized piece (an RBD image's
/// objects): which pieces, where in each the first difference is, and
/// whether the piece read back as zeros (a lost object) or other bytes.
pub fn diff_report(got: &[u8], want: &[u8], chunk: usize) -> String {
    let mut out = format!("{} bytes read back, {} expected", got.len(), want.len());
    let mut bad = 0;
    for (i, (g, w)) in got.chunks(chunk).zip(want.chunks(chunk)).enumerate() {
        if g == w {
            continue;
        }
        bad += 1;
        if bad <= 8 {
            let at = g.iter().zip(w).position(|(a, b)| a != b).unwrap_or(g.len().min(w.len()));
            let what = if g.iter().all(|b| *b == 0) { "all zeros" } else { "other bytes" };
            out += &format!("; piece {i} from byte {at}: {what}");
        }
    }
    out + &format!("; {bad} pieces differ")
}

/// Runs one workflow against a fresh pool (application `app`) on our cluster
/// and on the reference cluster, and asserts that every step line is the
/// same. `workflow(conf, pool, scratch_dir, ours)` returns one line per step,
/// with cluster-specific values masked. Returns our lines.
pub fn same_as_real(c: &OurCluster, prefix: &str, pg_num: u32, app: &str, workflow: impl Fn(&str, &str, &Path, bool) -> Vec<String>) -> Vec<String> {
    let pool = format!("{prefix}{}", std::process::id());
    c.create_pool(&pool, pg_num);
    if app != "rados" {
        let r = c.mon.ours(&["osd", "pool", "application", "enable", &pool, app, "--yes-i-really-mean-it"]);
        assert_eq!(r.code, 0, "application enable: {}", r.stderr);
    }
    real_ceph(&["osd", "pool", "create", &pool, &pg_num.to_string()]);
    real_ceph(&["osd", "pool", "application", "enable", &pool, app]);
    let d = tempfile::tempdir().unwrap();
    let (d1, d2) = (d.path().join("ours"), d.path().join("real"));
    std::fs::create_dir_all(&d1).unwrap();
    std::fs::create_dir_all(&d2).unwrap();
    let ours = workflow(&c.conf(), &pool, &d1, true);
    let real_conf = ref_cluster().conf();
    let real = workflow(real_conf.to_str().unwrap(), &pool, &d2, false);
    let _ = run(Path::new("/usr/bin/ceph"), &["-c", real_conf.to_str().unwrap(), "osd", "pool", "rm", &pool, &pool, "--yes-i-really-really-mean-it"]);
    for (o, r) in ours.iter().zip(&real) {
        // The real tools' librados may log a race on stderr in either run
        // (`monclient: handle_auth_reply_more no authorizer?`): not a step's result.
        assert_eq!(split_logs(o).0.trim_end(), split_logs(r).0.trim_end(), "ours vs real Ceph differ");
    }
    assert_eq!(ours.len(), real.len());
    ours
}

/// Ceph libraries' log lines (`2026-12-03T06:58:12.431+0000 7f1a28e98380 -1 msg`)
/// land in stderr at any point, even inside the CLI's own line: returns the
/// text without them, and their messages sorted.
pub fn split_logs(s: &str) -> (String, Vec<String>) {
    let mut rest = String::new();
    let mut logs = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < s.len() {
        let is_stamp = b.len() >= i + 29 && b[i..].starts_with(b"20") && b[i + 4] == b'-' && b[i + 10] == b'T' && s[i + 23..].starts_with("+0000 ");
        if is_stamp {
            if let Some(k) = s[i..].find(" -1 ") {
                let start = i + k + 4;
                let end = s[start..].find('\n').map_or(s.len(), |e| start + e + 1);
                logs.push(s[start..end].trim().to_string());
                i = end;
                continue;
            }
        }
        let c = s[i..].chars().next().expect("char");
        rest.push(c);
        i += c.len_utf8();
    }
    logs.sort();
    (rest, logs)
}
