//! `ceph tell osd.N ...`: MCommand from a client, answered with
//! MCommandReply, as a Ceph OSD answers it from its admin-socket command
//! table (`OSD::handle_command`, `OSD::asok_command`). Only clients with
//! `allow *` OSD caps may send these, as in Ceph.

use crate::options;
use daemon::admin_socket::strerror;
use crate::service::Osd;
use bytes::Bytes;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Ceph's `OSDService::s_names`, in its order: a state includes those below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FullState {
    None,
    Nearfull,
    Backfillfull,
    Full,
    Failsafe,
}

impl FullState {
    fn parse(s: &str) -> Option<FullState> {
        Some(match s {
            "none" => FullState::None,
            "nearfull" => FullState::Nearfull,
            "backfillfull" => FullState::Backfillfull,
            "full" => FullState::Full,
            "failsafe" => FullState::Failsafe,
            _ => return None,
        })
    }

    /// The OSD state bit the mon puts in the map for it.
    pub fn map_bit(self) -> u32 {
        use maps::osdmap::{OSD_BACKFILLFULL, OSD_FULL, OSD_NEARFULL};
        match self {
            FullState::None => 0,
            FullState::Nearfull => OSD_NEARFULL,
            FullState::Backfillfull => OSD_BACKFILLFULL,
            FullState::Full | FullState::Failsafe => OSD_FULL,
        }
    }
}

/// `injectfull TYPE COUNT`: the OSD acts as if that full for COUNT checks
/// (-1: until `injectfull none`), for testing what a full disk does.
#[derive(Default)]
pub struct InjectedFull {
    /// Set while something is injected: writes check this, not the lock.
    active: AtomicBool,
    state: Mutex<Option<(FullState, i64)>>,
}

impl InjectedFull {
    pub fn set(&self, state: FullState, count: i64) {
        let mut g = self.state.lock().unwrap_or_else(|p| p.into_inner());
        *g = (state != FullState::None && count != 0).then_some((state, count));
        self.active.store(g.is_some(), Ordering::Relaxed);
    }

    /// The injected state, while it lasts.
    pub fn state(&self) -> FullState {
        if !self.active.load(Ordering::Relaxed) {
            return FullState::None;
        }
        self.state.lock().unwrap_or_else(|p| p.into_inner()).map_or(FullState::None, |(s, _)| s)
    }

    /// Whether a check for `at_least` is answered by the injection; counts
    /// it down (Ceph's `_check_inject_full`).
    pub fn check(&self, at_least: FullState) -> bool {
        if !self.active.load(Ordering::Relaxed) {
            return false;
        }
        let mut g = self.state.lock().unwrap_or_else(|p| p.into_inner());
        match g.as_mut() {
            Some((s, n)) if *s >= at_least => {
                if *n > 0 {
                    *n -= 1;
                }
                if *n == 0 {
                    *g = None;
                    self.active.store(false, Ordering::Relaxed);
                }
                true
            }
            _ => false,
        }
    }
}

/// One command we answer: its signature as `get_command_descriptions` gives
/// it (Ceph's asok form: words and argument descriptors), and its help.
struct Desc {
    sig: fn() -> Value,
    help: &'static str,
}

fn arg(name: &str, ty: &str, req: bool) -> Value {
    let mut v = json!({"name": name, "type": ty});
    if !req {
        v["req"] = json!("false");
    }
    v
}

/// A repeated argument (`n=N`).
fn many(mut a: Value) -> Value {
    a["n"] = json!("N");
    a
}

const COMMANDS: &[Desc] = &[
    Desc {
        sig: || json!(["bench", arg("count", "CephInt", false), arg("size", "CephInt", false), arg("object_size", "CephInt", false), arg("object_num", "CephInt", false)]),
        help: "OSD benchmark: write <count> <size>-byte objects(with <obj_size> <obj_num>), (default count=1G default size=4MB). Results in log.",
    },
    Desc { sig: || json!(["config", "diff"]), help: "dump diff of current config and default config" },
    Desc { sig: || json!(["config", "diff", "get", arg("var", "CephString", true)]), help: "dump diff get <field>: dump diff of current and default config setting <field>" },
    Desc { sig: || json!(["config", "get", arg("var", "CephString", true)]), help: "config get <field>: get the config value" },
    Desc { sig: || json!(["config", "set", arg("var", "CephString", true), many(arg("val", "CephString", true))]), help: "config set <field> <val> [<val> ...]: set a config variable" },
    Desc { sig: || json!(["config", "show"]), help: "dump current config settings" },
    Desc { sig: || json!(["config", "unset", arg("var", "CephString", true)]), help: "config unset <field>: unset a config variable" },
    Desc { sig: || json!(["flush_pg_stats"]), help: "flush pg stats" },
    Desc { sig: || json!(["get_command_descriptions"]), help: "list available commands" },
    Desc { sig: || json!(["help"]), help: "list available commands" },
    Desc { sig: || json!(["injectargs", many(arg("injected_args", "CephString", true))]), help: "inject configuration arguments into running daemon" },
    Desc { sig: || json!(["injectfull", arg("type", "CephString", false), arg("count", "CephInt", false)]), help: "Inject a full disk (optional count times)" },
    Desc { sig: || json!(["status"]), help: "high-level status of OSD" },
    Desc { sig: || json!(["version"]), help: "get ceph version" },
];

/// The reply to a command: (r, rs, output).
pub type Reply = (i32, String, Bytes);

/// A reply now, or one that takes a while (bench) to send when ready.
pub enum Answer {
    Now(Reply),
    Later(std::pin::Pin<Box<dyn std::future::Future<Output = Reply> + Send>>),
}

/// Answers one command.
pub fn answer(osd: &Arc<Osd>, cmd: &[String]) -> Answer {
    let joined = cmd.concat();
    if let Ok(Value::Object(args)) = serde_json::from_str::<Value>(&joined) {
        if args.get("prefix").and_then(Value::as_str) == Some("bench") {
            let int = |k: &str, def: i64| match args.get(k) {
                None => Some(def),
                Some(v) => v.as_i64(),
            };
            let (Some(count), Some(size), Some(object_size), Some(object_num)) = (int("count", 1 << 30), int("size", 4 << 20), int("object_size", 0), int("object_num", 0)) else {
                return Answer::Now((-22, "bench: count, size, object_size and object_num are integers".into(), Bytes::new()));
            };
            let b = Bench { count, size, object_size, object_num };
            let format = args.get("format").and_then(Value::as_str).unwrap_or("json-pretty").to_string();
            return Answer::Later(Box::pin(bench(osd.clone(), b, format)));
        }
    }
    Answer::Now(handle(osd, cmd))
}

/// The reply to one command: (r, rs, output).
fn handle(osd: &Osd, cmd: &[String]) -> Reply {
    // The CLI sends one JSON object; Ceph joins the vector first.
    let joined = cmd.concat();
    let args: serde_json::Map<String, Value> = match serde_json::from_str::<Value>(&joined) {
        Ok(Value::Object(m)) => m,
        _ => return (-22, format!("failed to parse command '{joined}'"), Bytes::new()),
    };
    let prefix = args.get("prefix").and_then(Value::as_str).unwrap_or("");
    let format = args.get("format").and_then(Value::as_str).unwrap_or("json-pretty");
    let out = |v: Value| Bytes::from(formatted(format, &v));
    match prefix {
        "get_command_descriptions" => {
            let mut m = serde_json::Map::new();
            for (i, d) in COMMANDS.iter().enumerate() {
                m.insert(format!("cmd{i:03}"), json!({"sig": (d.sig)(), "help": d.help}));
            }
            (0, String::new(), Bytes::from(formatted("json-pretty", &Value::Object(m))))
        }
        "version" => (0, String::new(), out(json!({"version": "16.2.15", "release": "pacific", "release_type": "stable"}))),
        // What `ceph daemon osd.N help` prints: each command's words and help.
        "help" => {
            let mut m = std::collections::BTreeMap::new();
            for d in COMMANDS {
                let sig = (d.sig)();
                let words: Vec<&str> = sig.as_array().into_iter().flatten().filter_map(Value::as_str).collect();
                m.insert(words.join(" "), d.help);
            }
            (0, String::new(), out(json!(m)))
        }
        "status" => {
            let map = osd.map();
            let osd_fsid = osd.store.get_super("osd_fsid").ok().flatten().map(|v| String::from_utf8_lossy(&v).into_owned()).unwrap_or_default();
            let v = json!({
                "cluster_fsid": osd.fsid.to_string(),
                "osd_fsid": osd_fsid,
                "whoami": osd.whoami,
                "state": if map.is_up(osd.whoami) { "active" } else { "booting" },
                "oldest_map": osd.history.oldest(),
                "cluster_osdmap_trim_lower_bound": osd.history.oldest(),
                "newest_map": map.epoch,
                "num_pgs": osd.pg_count(),
            });
            (0, String::new(), out(v))
        }
        "injectfull" => {
            let mut ty = args.get("type").and_then(Value::as_str).unwrap_or("full");
            let mut count = args.get("count").and_then(Value::as_i64).unwrap_or(-1);
            // As Ceph: a count of 0 means none, whatever the type.
            if ty == "none" || count == 0 {
                (ty, count) = ("none", 0);
            }
            match FullState::parse(ty) {
                // As Pacific: the complaint is the output, and r is 0.
                None => (0, String::new(), Bytes::from_static(b"Invalid type use (none, nearfull, backfillfull, full, failsafe)\n")),
                Some(state) => {
                    osd.inject_full(state, count);
                    (0, String::new(), Bytes::new())
                }
            }
        }
        "flush_pg_stats" => {
            let seq = osd.flush_stats();
            (0, String::new(), Bytes::from(seq.to_string()))
        }
        "config get" => {
            let var = str_arg(&args, "var");
            match options::spec(&var) {
                Some(o) => {
                    let v = options::value(&osd.cfg.lock().unwrap_or_else(|p| p.into_inner()), o);
                    (0, String::new(), out(json!({ var: v })))
                }
                None => (-2, format!("error getting '{var}': {}", strerror(-2)), Bytes::new()),
            }
        }
        "config set" => {
            let var = str_arg(&args, "var");
            let val = strs(&args, "val").join(" ");
            let Some(o) = options::spec(&var) else {
                return (-2, format!("error setting '{var}' to '{val}': {}", strerror(-2)), Bytes::new());
            };
            match osd.change_config(|c| options::set_checked(c, o, &val)) {
                (Ok(()), text) => (0, String::new(), out(json!({ "success": text }))),
                // As Ceph: the parser's reason is not given here, only the errno.
                (Err((e, _)), _) => (e, format!("error setting '{var}' to '{val}': {}", strerror(e)), Bytes::new()),
            }
        }
        "config unset" => {
            let var = str_arg(&args, "var");
            let Some(o) = options::spec(&var) else {
                return (-22, format!("error unsetting '{var}': {}", strerror(-22)), Bytes::new());
            };
            let (_, text) = osd.change_config(|c| c.unset_runtime(o.name));
            (0, text, out(json!({})))
        }
        "injectargs" => {
            let joined = strs(&args, "injected_args").join(" ");
            let words: Vec<&str> = joined.split_whitespace().collect();
            let ((errs, r), text) = osd.change_config(|c| options::injectargs(c, &words));
            // A failed injectargs has no output, as a real OSD's reply.
            (r, errs + &text, if r < 0 { Bytes::new() } else { out(json!({})) })
        }
        "config show" => {
            let cfg = osd.cfg.lock().unwrap_or_else(|p| p.into_inner());
            let mut all: std::collections::BTreeMap<String, String> = cfg.keys_set().into_iter().filter_map(|k| cfg.get(&k).map(|v| (k, v))).collect();
            all.extend(options::values(&cfg).into_iter().map(|(k, (_, v))| (k.to_string(), v)));
            let mut m = serde_json::Map::new();
            m.insert("name".into(), json!(cfg.name.to_string()));
            m.insert("cluster".into(), json!(cfg.cluster));
            m.extend(all.into_iter().map(|(k, v)| (k, json!(v))));
            (0, String::new(), out(Value::Object(m)))
        }
        // Pacific's `config diff get` ignores its argument and gives the whole diff.
        "config diff" | "config diff get" => {
            let cfg = osd.cfg.lock().unwrap_or_else(|p| p.into_inner());
            let mut keys = cfg.keys_set();
            keys.extend(options::OPTIONS.iter().map(|o| o.name.to_string()));
            let mut diff = serde_json::Map::new();
            for k in keys {
                let o = options::spec(&k);
                let mut levels = cfg.levels(&k);
                if let Some(o) = o {
                    levels.retain(|(l, _)| *l != config::Level::Default);
                    levels.insert(0, (config::Level::Default, o.default.to_string()));
                }
                if levels.iter().all(|(l, _)| *l == config::Level::Default) {
                    continue;
                }
                let typed = |v: &str| typed_value(o, v);
                let mut e = serde_json::Map::new();
                for (l, v) in &levels {
                    e.insert(l.name().into(), typed(v));
                }
                let fin = match o {
                    Some(o) => options::value(&cfg, o),
                    None => cfg.get(&k).unwrap_or_default(),
                };
                e.insert("final".into(), typed(&fin));
                diff.insert(k, Value::Object(e));
            }
            (0, String::new(), out(json!({ "diff": diff })))
        }
        _ => (-22, "unknown command prefix ".to_string() + prefix, Bytes::new()),
    }
}

fn str_arg(args: &serde_json::Map<String, Value>, k: &str) -> String {
    args.get(k).and_then(Value::as_str).unwrap_or("").to_string()
}

/// A repeated (`n=N`) string argument: an array, or one string.
fn strs(args: &serde_json::Map<String, Value>, k: &str) -> Vec<String> {
    match args.get(k) {
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).map(str::to_string).collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    }
}

/// A value as `config diff` shows it: typed where the option's type says.
fn typed_value(o: Option<&config::OptSpec>, v: &str) -> Value {
    use config::OptType;
    let Some(o) = o else { return json!(v) };
    let canon = o.canonical(v).unwrap_or_else(|_| v.to_string());
    match o.ty {
        OptType::Bool => json!(canon == "true"),
        OptType::Int => canon.parse::<i64>().map(|n| json!(n)).unwrap_or_else(|_| json!(v)),
        OptType::Uint => canon.parse::<u64>().map(|n| json!(n)).unwrap_or_else(|_| json!(v)),
        OptType::Float => canon.parse::<f64>().map(|n| json!(n)).unwrap_or_else(|_| json!(v)),
        OptType::Size | OptType::Str | OptType::Debug => json!(canon),
    }
}

/// `bench COUNT SIZE OBJECT_SIZE OBJECT_NUM` (Ceph's `run_osd_bench_test`):
/// writes COUNT bytes in SIZE writes straight to the store (not through a
/// PG: no replication), one object per write, or at random offsets of
/// OBJECT_NUM objects of OBJECT_SIZE made first; times them to the last
/// commit, then removes them.
struct Bench {
    count: i64,
    size: i64,
    object_size: i64,
    object_num: i64,
}

/// Ceph's limits for `bench`: `osd_bench_max_block_size`,
/// `osd_bench_small_size_max_iops`, `osd_bench_large_size_max_throughput`,
/// `osd_bench_duration` (defaults).
const BENCH_MAX_BLOCK: i64 = 64 << 20;
const BENCH_SMALL_IOPS: i64 = 100;
const BENCH_LARGE_THROUGHPUT: i64 = 100 << 20;
const BENCH_DURATION: i64 = 30;
/// Ours: objects made first for a bench at random offsets (each one commit).
const BENCH_MAX_OBJECTS: i64 = 1 << 16;

fn bench_limits(b: &Bench) -> Result<(), String> {
    use types::units::byte_u;
    if b.count < 0 || b.size <= 0 || b.object_size < 0 || b.object_num < 0 {
        return Err("count, size, object_size and object_num must not be negative, and size not 0".into());
    }
    if b.size > BENCH_MAX_BLOCK {
        return Err(format!("block 'size' values are capped at {}. If you wish to use a higher value, please adjust 'osd_bench_max_block_size'", byte_u(BENCH_MAX_BLOCK as u64)));
    }
    if b.size < 1 << 20 {
        let max = b.size * BENCH_DURATION * BENCH_SMALL_IOPS;
        if b.count > max {
            return Err(format!(
                "'count' values greater than {max} for a block size of {}, assuming {BENCH_SMALL_IOPS} IOPS, for {BENCH_DURATION} seconds, can cause ill effects on osd.  Please adjust 'osd_bench_small_size_max_iops' with a higher value if you wish to use a higher 'count'.",
                byte_u(b.size as u64)
            ));
        }
    } else {
        let max = BENCH_LARGE_THROUGHPUT * BENCH_DURATION;
        if b.count > max {
            return Err(format!(
                "'count' values greater than {max} for a block size of {}, assuming {}/s, for {BENCH_DURATION} seconds, can cause ill effects on osd.  Please adjust 'osd_bench_large_size_max_throughput' with a higher value if you wish to use a higher 'count'.",
                byte_u(b.size as u64),
                byte_u(BENCH_LARGE_THROUGHPUT as u64)
            ));
        }
    }
    // Ours: the objects written first are bounded as the count is.
    if b.object_size > 0 && b.object_num > 0 && (b.object_size > BENCH_MAX_BLOCK * 16 || b.object_num > BENCH_MAX_OBJECTS || b.object_size.saturating_mul(b.object_num) > BENCH_LARGE_THROUGHPUT * BENCH_DURATION) {
        return Err(format!(
            "'object_size' ({}) times 'object_num' ({}) is capped at {} in all, 1 GiB per object and {BENCH_MAX_OBJECTS} objects",
            b.object_size,
            b.object_num,
            byte_u((BENCH_LARGE_THROUGHPUT * BENCH_DURATION) as u64)
        ));
    }
    Ok(())
}

/// One bench at a time per OSD (they share a collection), as Ceph runs
/// its tell commands one by one.
static BENCH_RUNNING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Bench writes in flight at once: client writes, replication and peering
/// share the commit queue and go between them, not after a whole gigabyte.
const BENCH_WINDOW_BYTES: i64 = 32 << 20;
const BENCH_WINDOW_OPS: usize = 64;

async fn bench(osd: Arc<Osd>, mut b: Bench, format: String) -> Reply {
    use objectstore::{ObjectId, Op, Transaction};
    if let Err(e) = bench_limits(&b) {
        return (-22, e, Bytes::new());
    }
    let _one = BENCH_RUNNING.lock().await;
    if b.object_size > 0 && b.size > b.object_size {
        b.size = b.object_size;
    }
    let coll = "oxceph_bench".to_string();
    let oid = |n: i64| ObjectId::head(0, "", "", &format!("disk_bw_test_{n}"));
    let shared = b.object_size > 0 && b.object_num > 0;
    let fail = |e: objectstore::Error| (-5, format!("bench: the store failed: {e}"), Bytes::new());
    let mut setup = Transaction::new();
    setup.push(Op::RmColl { coll: coll.clone() });
    setup.push(Op::MkColl { coll: coll.clone() });
    if let Err(e) = osd.commits.commit(setup).await {
        return fail(e);
    }
    if shared {
        let zeros = Bytes::from(vec![0u8; b.object_size as usize]);
        for n in 0..b.object_num {
            let mut t = Transaction::new();
            t.push(Op::Write { coll: coll.clone(), oid: oid(n), off: 0, data: zeros.clone() });
            if let Err(e) = osd.commits.commit(t).await {
                return fail(e);
            }
        }
    }
    // One buffer, shared by every write (as Ceph's bench writes one bufferlist).
    let data = Bytes::from((0..b.size).map(|i| (i as u8).wrapping_mul(31).wrapping_add(7)).collect::<Vec<u8>>());
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut rand = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let start = std::time::Instant::now();
    let mut inflight = std::collections::VecDeque::new();
    let window = ((BENCH_WINDOW_BYTES / b.size).max(1) as usize).min(BENCH_WINDOW_OPS);
    let mut pos = 0;
    let mut r = Ok(());
    while pos < b.count && r.is_ok() {
        if inflight.len() >= window {
            if let Some(f) = inflight.pop_front() {
                if let Err(e) = f.await {
                    r = Err(e);
                    break;
                }
            }
        }
        let (o, off) = if shared {
            let slots = (b.object_size / b.size).max(1) as u64;
            (oid((rand() % b.object_num as u64) as i64), (rand() % slots) * b.size as u64)
        } else {
            (oid(pos), 0)
        };
        let mut t = Transaction::new();
        t.push(Op::Write { coll: coll.clone(), oid: o, off, data: data.clone() });
        match osd.commits.submit(t) {
            Ok(f) => inflight.push_back(f),
            Err(e) => {
                r = Err(e);
                break;
            }
        }
        pos += b.size;
    }
    for f in inflight {
        if let (Err(e), true) = (f.await, r.is_ok()) {
            r = Err(e);
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    let mut cleanup = Transaction::new();
    cleanup.push(Op::RmColl { coll });
    let cleaned = osd.commits.commit(cleanup).await;
    if let Err(e) = r.and(cleaned) {
        return fail(e);
    }
    let rate = if elapsed > 0.0 { b.count as f64 / elapsed } else { 0.0 };
    let iops = rate / b.size as f64;
    tracing::info!(bytes = b.count, blocksize = b.size, elapsed, rate, "osd bench");
    let body = if format == "json" {
        format!("{{\"bytes_written\":{},\"blocksize\":{},\"elapsed_sec\":{},\"bytes_per_sec\":{},\"iops\":{}}}", b.count, b.size, g17(elapsed), g17(rate), g17(iops))
    } else {
        format!(
            "{{\n    \"bytes_written\": {},\n    \"blocksize\": {},\n    \"elapsed_sec\": {},\n    \"bytes_per_sec\": {},\n    \"iops\": {}\n}}\n",
            b.count,
            b.size,
            g17(elapsed),
            g17(rate),
            g17(iops)
        )
    };
    (0, String::new(), Bytes::from(body))
}

/// A double as Ceph's JSON formatter prints it (`%.17g`).
fn g17(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return if v.is_finite() { "0".into() } else { v.to_string() };
    }
    let sci = format!("{v:.16e}");
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let trim = |s: String| if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_string() } else { s };
    if !(-4..17).contains(&exp) {
        let m = trim(mant.to_string());
        format!("{m}e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs())
    } else {
        let decimals = (16 - exp).max(0) as usize;
        trim(format!("{v:.decimals$}"))
    }
}

/// As the OSD's formatters: `json` compact; the rest (json-pretty, and the
/// xml and plain Ceph also knows) as json-pretty.
fn formatted(format: &str, v: &Value) -> Vec<u8> {
    if format == "json" {
        return serde_json::to_vec(v).unwrap_or_default();
    }
    // Ceph's json-pretty: four spaces, and a newline at the end.
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut out, serde_json::ser::PrettyFormatter::with_indent(b"    "));
    let _ = serde::Serialize::serialize(v, &mut ser);
    out.push(b'\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_injected_state_answers_checks_at_or_below_it_and_counts_down() {
        let f = InjectedFull::default();
        assert!(!f.check(FullState::Failsafe));
        f.set(FullState::Full, 2);
        assert_eq!((f.state(), f.state().map_bit()), (FullState::Full, maps::osdmap::OSD_FULL));
        // A failsafe check is above full: not answered, not counted.
        assert!(!f.check(FullState::Failsafe));
        assert!(f.check(FullState::Backfillfull));
        assert!(f.check(FullState::Full));
        // Two checks used it up.
        assert!(!f.check(FullState::Nearfull));
        assert_eq!(f.state(), FullState::None);
    }

    #[test]
    fn count_minus_one_lasts_until_none_and_count_zero_clears() {
        let f = InjectedFull::default();
        f.set(FullState::Failsafe, -1);
        for _ in 0..100 {
            assert!(f.check(FullState::Failsafe));
        }
        assert_eq!(f.state().map_bit(), maps::osdmap::OSD_FULL);
        f.set(FullState::Nearfull, 0);
        assert_eq!(f.state(), FullState::None);
        f.set(FullState::Backfillfull, -1);
        f.set(FullState::None, -1);
        assert!(!f.check(FullState::Nearfull));
    }

    #[test]
    fn every_type_ceph_names_parses_and_others_do_not() {
        for (s, st) in [("none", FullState::None), ("nearfull", FullState::Nearfull), ("backfillfull", FullState::Backfillfull), ("full", FullState::Full), ("failsafe", FullState::Failsafe)] {
            assert_eq!(FullState::parse(s), Some(st));
        }
        assert_eq!(FullState::parse("FULL"), None);
        assert_eq!(FullState::parse(""), None);
    }

    #[test]
    fn doubles_print_as_ceph_prints_them() {
        // Values from a real OSD's `bench` output.
        for v in ["0.014848626", "847412548.47418201", "202.03889572004843", "3.6899999999999998e-07", "0.011465380000000001", "35724938.903028071", "0.0018267789999999999"] {
            assert_eq!(g17(v.parse().unwrap()), v);
        }
        assert_eq!(g17(0.0), "0");
        assert_eq!(g17(1e20), "1e+20");
    }

    #[test]
    fn bench_limits_are_cephs() {
        let b = |count, size| Bench { count, size, object_size: 0, object_num: 0 };
        assert_eq!(bench_limits(&b(1 << 30, 128 << 20)).unwrap_err(), "block 'size' values are capped at 64 MiB. If you wish to use a higher value, please adjust 'osd_bench_max_block_size'");
        assert_eq!(
            bench_limits(&b(1 << 30, 4096)).unwrap_err(),
            "'count' values greater than 12288000 for a block size of 4 KiB, assuming 100 IOPS, for 30 seconds, can cause ill effects on osd.  Please adjust 'osd_bench_small_size_max_iops' with a higher value if you wish to use a higher 'count'."
        );
        assert!(bench_limits(&b(1 << 30, 4 << 20)).is_ok());
        assert_eq!(
            bench_limits(&b(4 << 30, 4 << 20)).unwrap_err(),
            "'count' values greater than 3145728000 for a block size of 4 MiB, assuming 100 MiB/s, for 30 seconds, can cause ill effects on osd.  Please adjust 'osd_bench_large_size_max_throughput' with a higher value if you wish to use a higher 'count'."
        );
        let shared = |object_size, object_num| Bench { count: 1 << 20, size: 4096, object_size, object_num };
        assert!(bench_limits(&shared(4 << 20, 16)).is_ok());
        assert!(bench_limits(&shared(1 << 40, 1)).is_err());
        assert!(bench_limits(&shared(1 << 30, 1 << 20)).is_err());
        assert!(bench_limits(&shared(1, 3_000_000_000)).is_err());
        assert!(bench_limits(&b(0, 4096)).is_ok());
        assert!(bench_limits(&b(-1, 4096)).is_err());
        assert!(bench_limits(&b(10, 0)).is_err());
    }

    #[test]
    fn formats_are_the_osds() {
        let v = json!({"a": 1});
        assert_eq!(formatted("json", &v), b"{\"a\":1}");
        assert_eq!(formatted("json-pretty", &v), b"{\n    \"a\": 1\n}\n");
    }
}
