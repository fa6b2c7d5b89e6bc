//! Monitor commands (`MMonCommand`): the JSON command dicts the real `ceph` CLI
//! sends, checked against the caller's mon caps, answered with Ceph's output
//! shapes. Mutations are committed to the store before the reply goes out.

use crate::service::{Identity, Mon};
use crate::state::{Cluster, LogEntry};
use crate::store::Txn;
use auth::caps::{self, MonCap};
use auth::server::EntityAuth;
use auth::CryptoKey;
use bytes::Bytes;
use denc::{Decode, Encode, Encoder, Reader, Utime};
use messages::mon::{GetPoolStats, PoolOp, POOL_OP_CREATE, POOL_OP_CREATE_SNAP, POOL_OP_CREATE_UNMANAGED_SNAP, POOL_OP_DELETE, POOL_OP_DELETE_SNAP, POOL_OP_DELETE_UNMANAGED_SNAP};
use messages::RawMessage;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::sync::OnceLock;
use types::features::PACIFIC_SUPPORTED;
use types::{EntityName, EntityType};

pub const VERSION_STRING: &str = "ceph version 16.2.15 (oxceph-0.1.0) pacific (stable)";

const EPERM: i32 = -1;
const FLAG_MGR: u64 = 8;
const ENOENT: i32 = -2;
const EIO: i32 = -5;
const EACCES: i32 = -13;
const EEXIST: i32 = -17;
const EINVAL: i32 = -22;
const ERANGE: i32 = -34;
const EOPNOTSUPP: i32 = -95;

#[derive(Debug, Default)]
pub struct CmdReply {
    pub r: i32,
    pub rs: String,
    pub out: Bytes,
    /// A map or the config changed: sessions must re-check subscriptions.
    pub changed: bool,
}

fn ok(rs: impl Into<String>, out: impl Into<Bytes>) -> CmdReply {
    CmdReply { r: 0, rs: rs.into(), out: out.into(), changed: false }
}
fn err(r: i32, rs: impl Into<String>) -> CmdReply {
    CmdReply { r, rs: rs.into(), out: Bytes::new(), changed: false }
}
fn changed(mut c: CmdReply) -> CmdReply {
    c.changed = c.r == 0;
    c
}

/// The command table the mon answers `get_command_descriptions` with: Ceph
/// Pacific's own (`MonCommands.h` + `MgrCommands.h` + mgr modules), captured
/// from a real mon by `data/capture-command-descriptions.py`.
pub fn descriptions() -> &'static (Bytes, BTreeMap<String, (String, String, u64)>) {
    static D: OnceLock<(Bytes, BTreeMap<String, (String, String, u64)>)> = OnceLock::new();
    D.get_or_init(|| {
        let text = include_str!("../data/command_descriptions.json");
        let v: Value = serde_json::from_str(text).expect("bundled command table is JSON");
        let compact = Bytes::from(serde_json::to_vec(&v).expect("re-encode"));
        let mut by_prefix = BTreeMap::new();
        if let Some(m) = v.as_object() {
            for d in m.values() {
                let words: Vec<&str> = d["sig"].as_array().map(|a| a.iter().filter_map(|w| w.as_str()).collect()).unwrap_or_default();
                let prefix = words.join(" ");
                let module = d["module"].as_str().unwrap_or("").to_string();
                let perm = d["perm"].as_str().unwrap_or("").to_string();
                let flags = d["flags"].as_u64().unwrap_or(0);
                by_prefix.entry(prefix).or_insert((module, perm, flags));
            }
        }
        (compact, by_prefix)
    })
}

pub fn perm_bits(p: &str) -> u8 {
    p.chars().fold(0, |b, c| b | match c {
        'r' => caps::R,
        'w' => caps::W,
        'x' => caps::X,
        _ => 0,
    })
}

/// String forms of the arguments, for `allow command ... with k=v` caps.
pub fn arg_strings(args: &Map<String, Value>) -> BTreeMap<String, String> {
    args.iter()
        .filter(|(k, _)| *k != "prefix")
        .map(|(k, v)| (k.clone(), match v {
            Value::String(s) => s.clone(),
            Value::Array(a) => a.iter().map(|x| x.as_str().map(str::to_string).unwrap_or_else(|| x.to_string())).collect::<Vec<_>>().join(" "),
            o => o.to_string(),
        }))
        .collect()
}

/// Output in the requested format: `json`, `json-pretty`, or the plain text.
pub fn formatted(format: Option<&str>, v: &Value, plain: impl FnOnce() -> String) -> Bytes {
    match format {
        Some("json") => Bytes::from(serde_json::to_vec(v).unwrap_or_default()),
        Some("json-pretty") | Some("xml") | Some("xml-pretty") => Bytes::from(pretty(v)),
        _ => Bytes::from(plain()),
    }
}

/// Ceph's json-pretty: four-space indentation and a trailing newline.
pub fn pretty(v: &Value) -> String {
    use serde::Serialize;
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    let _ = v.serialize(&mut ser);
    buf.push(b'\n');
    String::from_utf8(buf).unwrap_or_default()
}

struct Ctx<'a> {
    mon: &'a Mon,
    who: &'a EntityName,
    args: Map<String, Value>,
    format: Option<String>,
    inbl: &'a Bytes,
}

impl Ctx<'_> {
    fn s(&self, k: &str) -> Option<String> {
        match self.args.get(k)? {
            Value::String(s) => Some(s.clone()),
            Value::Null => None,
            v => Some(v.to_string()),
        }
    }
    fn i(&self, k: &str) -> Option<i64> {
        match self.args.get(k)? {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.parse().ok(),
            _ => None,
        }
    }
    fn b(&self, k: &str) -> bool {
        match self.args.get(k) {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => s == "true" || s == "--yes-i-really-mean-it" || s == "--yes-i-really-really-mean-it",
            _ => false,
        }
    }
    fn strs(&self, k: &str) -> Vec<String> {
        match self.args.get(k) {
            Some(Value::Array(a)) => a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect(),
            Some(Value::String(s)) => vec![s.clone()],
            _ => vec![],
        }
    }
    fn out(&self, v: &Value, plain: impl FnOnce() -> String) -> Bytes {
        formatted(self.format.as_deref(), v, plain)
    }
    /// Commands whose only output is JSON print it pretty when no format is asked.
    fn out_json(&self, v: &Value) -> Bytes {
        let f = self.format.clone().unwrap_or_else(|| "json-pretty".into());
        formatted(Some(&f), v, String::new)
    }
}

/// Parses and runs one command.
pub fn handle(mon: &Mon, who: &EntityName, caps: &MonCap, cmd: &[String], inbl: &Bytes) -> CmdReply {
    let Some(first) = cmd.first() else { return err(EINVAL, "empty command") };
    let args: Map<String, Value> = match serde_json::from_str(first) {
        Ok(Value::Object(m)) => m,
        _ => return err(EINVAL, "command must be a JSON object"),
    };
    let prefix = args.get("prefix").and_then(|v| v.as_str()).unwrap_or("").to_string();
    if prefix == "get_command_descriptions" {
        return ok("", descriptions().0.clone());
    }
    let Some((module, perm, flags)) = descriptions().1.get(&prefix).cloned() else {
        return err(EINVAL, "command not known");
    };
    let need = perm_bits(&perm);
    if !caps.is_capable(&module, &prefix, &arg_strings(&args), need) {
        return err(EACCES, "access denied");
    }
    // Mgr commands reach the mon first and are proxied to the active mgr, which
    // runs them on the mon's behalf (the caller's mon caps were checked above).
    if flags & FLAG_MGR != 0 {
        return crate::mgr::run_command(mon, &args);
    }
    let format = args.get("format").and_then(|v| v.as_str()).map(str::to_string);
    let ctx = Ctx { mon, who, args, format, inbl };
    run(&ctx, &prefix)
}

fn run(c: &Ctx, prefix: &str) -> CmdReply {
    match prefix {
        "status" => status(c),
        "report" => report(c),
        "health" => health_cmd(c),
        "mon dump" => mon_dump(c),
        "mon add" => changed(mon_add(c)),
        "mon remove" | "mon rm" => changed(mon_remove(c)),
        "mon stat" => mon_stat(c),
        "mon getmap" => {
            let cl = c.mon.lock();
            ok(format!("got monmap epoch {}", cl.monmap.epoch), cl.monmap.to_bytes(PACIFIC_SUPPORTED))
        }
        "quorum_status" => quorum_status(c),
        "versions" => c_versions(c),
        "features" => features(c),
        "fs ls" => ok("", c.out(&json!([]), || "No filesystems enabled\n".into())),
        "fs dump" => {
            let e = c.mon.lock().fsmap_epoch;
            ok(format!("dumped fsmap epoch {e}"), c.out(&fsmap_json(e), || format!("e{e}\nenable_multiple, ever_enabled_multiple: 1,1\ndefault compat: compat={{}},rocompat={{}},incompat={{}}\nlegacy client fscid: -1\n \nNo filesystems configured\n")))
        }
        "mgr dump" => mgr_dump(c),
        "mgr services" => ok("", c.out_json(&json!({}))),
        "mgr module ls" => mgr_module_ls(c),
        "mgr stat" => {
            let cl = c.mon.lock();
            let v = json!({"epoch": cl.mgrmap.epoch, "available": cl.mgrmap.available, "active_name": cl.mgrmap.active_name, "num_standby": 0});
            ok("", c.out_json(&v))
        }
        "log last" => log_last(c),
        "log" => {
            let msg = c.strs("logtext").join(" ");
            c.mon.lock().clog(&c.who.to_string(), "[INF]", msg);
            ok("", Bytes::new())
        }
        "osd dump" => osd_dump(c),
        "osd ls" => osd_ls(c),
        "osd set" | "osd unset" | "osd pause" | "osd unpause" => changed(osd_flag(c, prefix)),
        "osd set-full-ratio" | "osd set-backfillfull-ratio" | "osd set-nearfull-ratio" => changed(osd_set_ratio(c, prefix)),
        "osd stat" => osd_stat(c),
        "osd tree" => osd_tree(c),
        "osd getmap" => {
            let mut cl = c.mon.lock();
            let e = c.i("epoch").map(|e| e as u32).unwrap_or(cl.osdmap.epoch);
            match cl.osdmap_bytes(e) {
                Some(b) => ok(format!("got osdmap epoch {e}"), b),
                None => err(ENOENT, format!("there is no map for epoch {e}")),
            }
        }
        "osd getcrushmap" => {
            let cl = c.mon.lock();
            ok(format!("{}", cl.osdmap.crush_version), cl.osdmap.crush.to_bytes(PACIFIC_SUPPORTED))
        }
        "osd crush rule ls" => {
            let cl = c.mon.lock();
            let names: Vec<String> = cl.osdmap.crush.rule_name_map.values().cloned().collect();
            ok("", c.out(&json!(names), || names.iter().map(|n| format!("{n}\n")).collect()))
        }
        "osd crush rule dump" => crush_rule_dump(c),
        "osd map" => osd_map(c),
        "osd erasure-code-profile ls" => {
            let cl = c.mon.lock();
            let names: Vec<&String> = cl.osdmap.erasure_code_profiles.keys().collect();
            ok("", c.out(&json!(names), || names.iter().map(|n| format!("{n}\n")).collect()))
        }
        "osd erasure-code-profile get" => {
            let cl = c.mon.lock();
            let name = c.s("name").unwrap_or_default();
            match cl.osdmap.erasure_code_profiles.get(&name) {
                Some(p) => ok("", c.out(&json!(p), || p.iter().map(|(k, v)| format!("{k}={v}\n")).collect())),
                None => err(ENOENT, format!("unknown erasure code profile '{name}'")),
            }
        }
        "osd erasure-code-profile set" => ec_profile_set(c),
        "osd erasure-code-profile rm" => {
            let name = c.s("name").unwrap_or_default();
            let mut cl = c.mon.lock();
            if !cl.osdmap.erasure_code_profiles.contains_key(&name) {
                return ok(format!("erasure-code-profile {name} does not exist"), Bytes::new());
            }
            if cl.osdmap.pools.values().any(|p| p.erasure_code_profile == name) {
                return err(-16, format!("{name}: (16) Device or resource busy"));
            }
            let m = cl.next_osdmap(|m| {
                m.erasure_code_profiles.remove(&name);
            });
            commit_osd(&mut cl, m, ok("", Bytes::new()))
        }
        "osd new" | "osd create" => osd_new(c, prefix == "osd new"),
        "osd rm" | "osd in" | "osd out" | "osd down" => osd_state_change(c, prefix),
        "osd lost" => osd_lost(c),
        "osd crush rule create-replicated" => crush_rule_create(c),
        "osd crush rule rm" => crush_rule_rm(c),
        "osd setcrushmap" => set_crushmap(c),
        "osd crush set" if c.args.get("id").is_none() => set_crushmap(c),
        "osd crush add" | "osd crush set" | "osd crush create-or-move" => crush_place(c, prefix),
        "osd crush rm" | "osd crush remove" | "osd crush unlink" => crush_rm(c),
        "osd crush reweight" => crush_reweight(c),
        "osd crush add-bucket" => crush_add_bucket(c),
        "osd pool create" => pool_create(c),
        "osd pool ls" => pool_ls(c),
        "osd pool rm" | "osd pool delete" => pool_rm(c),
        "osd pool rename" => pool_rename(c),
        "osd pool get" => pool_get(c),
        "osd pool set" => pool_set(c),
        "osd pool get-quota" => pool_get_quota(c),
        "osd pool set-quota" => pool_set_quota(c),
        "osd pool application enable" | "osd pool application disable" | "osd pool application set" | "osd pool application rm" => pool_application(c, prefix),
        "osd pool application get" => pool_application_get(c),
        "osd pool mksnap" | "osd pool rmsnap" => pool_snap(c, prefix == "osd pool mksnap"),
        "auth get-or-create" | "auth get-or-create-key" | "auth add" => auth_add(c, prefix),
        "auth get" | "auth export" => auth_get(c, prefix),
        "auth ls" | "auth list" => auth_ls(c),
        "auth del" | "auth rm" => auth_del(c),
        "auth caps" => auth_caps(c),
        "auth print-key" | "auth print_key" | "auth get-key" => auth_print_key(c),
        "auth import" => auth_import(c),
        "config set" => config_set(c),
        "config get" => config_get(c),
        "config rm" => config_rm(c),
        "config dump" => config_dump(c),
        "config-key set" | "config-key put" => {
            let key = c.s("key").unwrap_or_default();
            let val = match c.s("val") {
                Some(v) => Bytes::from(v),
                None => c.inbl.clone(),
            };
            let mut t = Txn::default();
            t.put(format!("config-key/{key}"), val.to_vec());
            let mut cl = c.mon.lock();
            if let Err(e) = cl.store.commit(t) {
                return err(EIO, e);
            }
            cl.config_key.insert(key.clone(), val);
            ok(format!("set {key}"), Bytes::new())
        }
        "config-key get" => {
            let key = c.s("key").unwrap_or_default();
            match c.mon.lock().config_key.get(&key) {
                Some(v) => ok(format!("obtained '{key}'"), v.clone()),
                None => err(ENOENT, format!("error obtaining '{key}': (2) No such file or directory")),
            }
        }
        "config-key rm" | "config-key del" => {
            let key = c.s("key").unwrap_or_default();
            let mut t = Txn::default();
            t.del(format!("config-key/{key}"));
            let mut cl = c.mon.lock();
            if let Err(e) = cl.store.commit(t) {
                return err(EIO, e);
            }
            cl.config_key.remove(&key);
            ok("key deleted", Bytes::new())
        }
        "config-key exists" => {
            let key = c.s("key").unwrap_or_default();
            if c.mon.lock().config_key.contains_key(&key) {
                ok(format!("key '{key}' exists"), Bytes::new())
            } else {
                err(ENOENT, format!("key '{key}' doesn't exist"))
            }
        }
        "config-key ls" | "config-key list" => {
            let keys: Vec<String> = c.mon.lock().config_key.keys().cloned().collect();
            ok("", c.out_json(&json!(keys)))
        }
        "config-key dump" => {
            let m: Map<String, Value> = c.mon.lock().config_key.iter().map(|(k, v)| (k.clone(), json!(String::from_utf8_lossy(v)))).collect();
            ok("", c.out_json(&Value::Object(m)))
        }
        "pg map" => pg_map(c),
        // Served from the mgr's stats (MgrStatMonitor in Ceph).
        "df" | "osd df" | "pg stat" | "pg dump" | "pg ls" | "pg ls-by-pool" | "pg ls-by-osd" | "pg ls-by-primary" => crate::mgr::run_command(c.mon, &c.args),
        _ => err(EOPNOTSUPP, format!("command '{prefix}' is not supported by this monitor yet")),
    }
}

fn commit_osd(cl: &mut Cluster, m: maps::osdmap::OsdMap, reply: CmdReply) -> CmdReply {
    match cl.commit_osdmap(m, Txn::default()) {
        Ok(()) => changed(reply),
        Err(e) => err(EIO, e),
    }
}

// ---------------------------------------------------------------- status/health

pub struct HealthCheck {
    pub code: &'static str,
    pub severity: &'static str,
    pub summary: String,
    pub count: u64,
    pub detail: Vec<String>,
}

pub fn health_checks(cl: &Cluster, mon: &Mon) -> Vec<HealthCheck> {
    let mut out = Vec::new();
    let qv = quorum_view(mon, cl);
    let down: Vec<(usize, &maps::monmap::MonInfo)> = cl.monmap.by_rank().filter(|(_, m)| !qv.names().contains(&m.name)).collect();
    if !down.is_empty() {
        out.push(HealthCheck {
            code: "MON_DOWN",
            severity: "HEALTH_WARN",
            summary: format!("{}/{} mons down, quorum {}", down.len(), cl.monmap.mon_info.len(), qv.names().join(",")),
            count: down.len() as u64,
            detail: down.iter().map(|(r, m)| format!("mon.{} (rank {r}) addr {} is down (out of quorum)", m.name, m.public_addrs)).collect(),
        });
    }
    let num_osds = cl.osdmap.osd_state.iter().filter(|s| *s & maps::osdmap::OSD_EXISTS != 0).count() as u64;
    let def_size = mon.settings.get_u64("osd_pool_default_size", 3);
    if num_osds < def_size {
        out.push(HealthCheck {
            code: "TOO_FEW_OSDS",
            severity: "HEALTH_WARN",
            summary: format!("OSD count {num_osds} < osd_pool_default_size {def_size}"),
            count: 0,
            detail: vec![],
        });
    }
    let m = &cl.osdmap;
    if let Some(f) = warn_flag_names(m) {
        // Ceph counts the characters of the flag list.
        out.push(HealthCheck { code: "OSDMAP_FLAGS", severity: "HEALTH_WARN", summary: format!("{f} flag(s) set"), count: f.len() as u64, detail: vec![] });
    }
    let down: Vec<i32> = (0..m.max_osd).filter(|o| m.exists(*o) && !m.is_up(*o) && m.is_in(*o)).collect();
    if !down.is_empty() {
        out.push(HealthCheck {
            code: "OSD_DOWN",
            severity: "HEALTH_WARN",
            summary: format!("{} osds down", down.len()),
            count: down.len() as u64,
            detail: down.iter().map(|o| format!("osd.{o} is down")).collect(),
        });
    }
    let sum = crate::osdmon::summary(m, &mon.osd_rt());
    let peering = sum.stats.values().filter(|s| s.state & messages::osd_peer::pg_state::PEERING != 0).count() as u64;
    let down = sum.stats.values().filter(|s| s.state & messages::osd_peer::pg_state::DOWN != 0).count() as u64;
    let inactive = sum.inactive + sum.unknown;
    if inactive > 0 {
        let pgs = |n: u64| if n == 1 { "pg" } else { "pgs" };
        let mut msg = format!("Reduced data availability: {inactive} {} inactive", pgs(inactive));
        if down > 0 {
            msg += &format!(", {down} {} down", pgs(down));
        }
        if peering > 0 {
            msg += &format!(", {peering} {} peering", pgs(peering));
        }
        // As Ceph's PGMap: "pg 2.0 is down, acting [1]".
        let detail = sum
            .stats
            .values()
            .filter(|s| s.state & messages::osd_peer::pg_state::DOWN != 0)
            .map(|s| format!("pg {} is {}, acting [{}]", s.pgid, messages::osd_peer::pg_state::to_string(s.state), s.acting.iter().map(|o| o.to_string()).collect::<Vec<_>>().join(",")))
            .collect();
        out.push(HealthCheck { code: "PG_AVAILABILITY", severity: "HEALTH_WARN", summary: msg, count: inactive, detail });
    }
    // PGs whose backfill or recovery waits for a full OSD (PGMap's
    // BACKFILL_FULL and RECOVERY_FULL).
    for (bit, code, severity, summary, word) in [
        (messages::osd_peer::pg_state::BACKFILL_TOOFULL, "PG_BACKFILL_FULL", "HEALTH_WARN", "Low space hindering backfill (add storage if this doesn't resolve itself)", "backfill_toofull"),
        (messages::osd_peer::pg_state::RECOVERY_TOOFULL, "PG_RECOVERY_FULL", "HEALTH_ERR", "Full OSDs blocking recovery", "recovery_toofull"),
    ] {
        let pgs: Vec<&messages::osd_peer::PgStat> = sum.stats.values().filter(|s| s.state & bit != 0).collect();
        if !pgs.is_empty() {
            let n = pgs.len() as u64;
            out.push(HealthCheck {
                code,
                severity,
                summary: format!("{summary}: {n} {} {word}", if n == 1 { "pg" } else { "pgs" }),
                count: n,
                detail: pgs.iter().map(|s| format!("pg {} is {}, acting [{}]", s.pgid, messages::osd_peer::pg_state::to_string(s.state), s.acting.iter().map(|o| o.to_string()).collect::<Vec<_>>().join(","))).collect(),
            });
        }
    }
    let degraded_pgs = sum.stats.values().filter(|s| s.state & messages::osd_peer::pg_state::DEGRADED != 0).count() as u64;
    let undersized = sum.stats.values().filter(|s| s.state & messages::osd_peer::pg_state::UNDERSIZED != 0).count() as u64;
    if sum.degraded > 0 || degraded_pgs > 0 {
        let pct = if sum.degraded_total == 0 { 0.0 } else { sum.degraded as f64 * 100.0 / sum.degraded_total as f64 };
        let mut msg = format!("Degraded data redundancy: {}/{} objects degraded ({pct:.3}%), {degraded_pgs} pgs degraded", sum.degraded, sum.degraded_total);
        if undersized > 0 {
            msg += &format!(", {undersized} pgs undersized");
        }
        out.push(HealthCheck { code: "PG_DEGRADED", severity: "HEALTH_WARN", summary: msg, count: degraded_pgs + undersized, detail: vec![] });
    }
    let no_app: Vec<&String> = cl.osdmap.pools.iter().filter(|(_, p)| p.application_metadata.is_empty()).filter_map(|(id, _)| cl.osdmap.pool_name.get(id)).collect();
    if !no_app.is_empty() {
        out.push(HealthCheck {
            code: "POOL_APP_NOT_ENABLED",
            severity: "HEALTH_WARN",
            summary: format!("{} pool(s) do not have an application enabled", no_app.len()),
            count: no_app.len() as u64,
            detail: no_app.iter().map(|n| format!("application not enabled on pool '{n}'")).chain(std::iter::once("use 'ceph osd pool application enable <pool-name> <app-name>', where <app-name> is 'cephfs', 'rbd', 'rgw', or freeform for custom applications.".to_string())).collect(),
        });
    }
    // Full and nearly full OSDs, and the pools they hold (OSDMap::check_health).
    let in_usage = crate::osdmon::usage_osds(m, |o| crate::osdmon::usage_in_map(m, o));
    let usage = |bit: u32| -> Vec<i32> { in_usage.iter().filter(|(_, s)| *s == bit).map(|(o, _)| *o).collect() };
    for (bit, code, severity, word, what) in [
        (maps::osdmap::OSD_FULL, "OSD_FULL", "HEALTH_ERR", "full", "full"),
        (maps::osdmap::OSD_BACKFILLFULL, "OSD_BACKFILLFULL", "HEALTH_WARN", "backfillfull", "backfill full"),
        (maps::osdmap::OSD_NEARFULL, "OSD_NEARFULL", "HEALTH_WARN", "nearfull", "near full"),
    ] {
        let osds = usage(bit);
        if !osds.is_empty() {
            out.push(HealthCheck { code, severity, summary: format!("{} {word} osd(s)", osds.len()), count: osds.len() as u64, detail: osds.iter().map(|o| format!("osd.{o} is {what}")).collect() });
        }
    }
    let pools_with = |flag: u64, unless: u64| -> Vec<(&String, u64)> { m.pools.iter().filter(|(_, p)| p.flags & flag != 0 && p.flags & unless == 0).filter_map(|(id, p)| m.pool_name.get(id).map(|n| (n, p.flags))).collect() };
    let full = pools_with(maps::pool::FLAG_FULL, 0);
    if !full.is_empty() {
        let why = |f: u64| if f & maps::pool::FLAG_FULL_QUOTA != 0 { "running out of quota" } else { "no space" };
        out.push(HealthCheck {
            code: "POOL_FULL",
            severity: "HEALTH_WARN",
            summary: format!("{} pool(s) full", full.len()),
            count: full.len() as u64,
            detail: full.iter().map(|(n, f)| format!("pool '{n}' is full ({})", why(*f))).collect(),
        });
    }
    for (flag, code, word) in [(maps::pool::FLAG_BACKFILLFULL, "POOL_BACKFILLFULL", "backfillfull"), (maps::pool::FLAG_NEARFULL, "POOL_NEARFULL", "nearfull")] {
        let pools = pools_with(flag, maps::pool::FLAG_FULL);
        if !pools.is_empty() {
            out.push(HealthCheck { code, severity: "HEALTH_WARN", summary: format!("{} pool(s) {word}", pools.len()), count: pools.len() as u64, detail: pools.iter().map(|(n, _)| format!("pool '{n}' is {word}")).collect() });
        }
    }
    // Ratios set out of order: the OSDs raise each to the one below.
    {
        let f = |x: f32| maps::dump::cpp_float(x as f64);
        let (nr, mut br, mut fr) = (m.osd.nearfull_ratio, m.osd.backfillfull_ratio, m.osd.full_ratio);
        let fsr = crate::osdmon::failsafe_ratio(mon);
        let mut detail = Vec::new();
        if br < nr {
            detail.push(format!("backfillfull_ratio ({}) < nearfull_ratio ({}), increased", f(br), f(nr)));
            br = nr;
        }
        if fr < br {
            detail.push(format!("full_ratio ({}) < backfillfull_ratio ({}), increased", f(fr), f(br)));
            fr = br;
        }
        if fsr < fr {
            detail.push(format!("osd_failsafe_full_ratio ({}) < full_ratio ({}), increased", f(fsr), f(fr)));
        }
        if !detail.is_empty() {
            out.push(HealthCheck { code: "OSD_OUT_OF_ORDER_FULL", severity: "HEALTH_ERR", summary: "full ratio(s) out of order".into(), count: 0, detail });
        }
    }
    // Ceph keeps its checks in a map by code.
    out.sort_by_key(|c| c.code);
    out
}

fn health_json(checks: &[HealthCheck], detail: bool) -> Value {
    let status = if checks.iter().any(|c| c.severity == "HEALTH_ERR") {
        "HEALTH_ERR"
    } else if checks.is_empty() {
        "HEALTH_OK"
    } else {
        "HEALTH_WARN"
    };
    let mut m = Map::new();
    for c in checks {
        let mut v = json!({"severity": c.severity, "summary": {"message": c.summary, "count": c.count}, "muted": false});
        if detail {
            v["detail"] = json!(c.detail.iter().map(|d| json!({"message": d})).collect::<Vec<_>>());
        }
        m.insert(c.code.to_string(), v);
    }
    json!({"status": status, "checks": m, "mutes": []})
}

fn health_cmd(c: &Ctx) -> CmdReply {
    let cl = c.mon.lock();
    let checks = health_checks(&cl, c.mon);
    drop(cl);
    let detail = c.s("detail").as_deref() == Some("detail");
    let v = health_json(&checks, detail);
    ok("", c.out(&v, || {
        let status = v["status"].as_str().unwrap_or("").to_string();
        if checks.is_empty() {
            return format!("{status}\n");
        }
        let mut s = format!("{status} {}\n", checks.iter().map(|c| c.summary.clone()).collect::<Vec<_>>().join("; "));
        if detail {
            for ch in &checks {
                s += &format!("[{}] {}: {}\n", if ch.severity == "HEALTH_ERR" { "ERR" } else { "WRN" }, ch.code, ch.summary);
                for d in &ch.detail {
                    s += &format!("    {d}\n");
                }
            }
        }
        s
    }))
}

fn age(secs: u64) -> String {
    // `utimespan_str`: 45s, 3m, 2h, 4d...
    if secs < 60 {
        format!("{secs}s")
    } else if secs < 3600 {
        format!("{}m", secs / 60)
    } else if secs < 86400 * 2 {
        format!("{}h", secs / 3600)
    } else {
        format!("{}d", secs / 86400)
    }
}

fn osd_counts(cl: &Cluster) -> (usize, usize, usize) {
    let m = &cl.osdmap;
    let exists = m.osd_state.iter().filter(|s| *s & maps::osdmap::OSD_EXISTS != 0).count();
    let up = m.osd_state.iter().filter(|s| *s & maps::osdmap::OSD_UP != 0).count();
    let inn = m.osd_weight.iter().zip(&m.osd_state).filter(|(w, s)| **w > 0 && *s & maps::osdmap::OSD_EXISTS != 0).count();
    (exists, up, inn)
}

/// The quorum as the leader sees it, in Ceph's terms.
pub struct QuorumView {
    /// (rank, name) of the mons in quorum, by rank.
    pub members: Vec<(usize, String)>,
    pub leader: String,
    pub leader_rank: usize,
    /// Ceph's election epoch is odd while electing and even once done: twice
    /// the Raft term.
    pub election_epoch: u64,
    pub age: u64,
}

impl QuorumView {
    pub fn ranks(&self) -> Vec<usize> {
        self.members.iter().map(|(r, _)| *r).collect()
    }
    pub fn names(&self) -> Vec<String> {
        self.members.iter().map(|(_, n)| n.clone()).collect()
    }
}

pub fn quorum_view(mon: &Mon, cl: &Cluster) -> QuorumView {
    let st = mon.quorum.status();
    let mut names = st.quorum.clone();
    if names.is_empty() {
        names.push(mon.settings.name.clone());
    }
    let mut members: Vec<(usize, String)> = names.iter().filter_map(|n| cl.monmap.rank_of(n).map(|r| (r, n.clone()))).collect();
    members.sort();
    let leader = st.leader.unwrap_or_else(|| mon.settings.name.clone());
    let leader_rank = cl.monmap.rank_of(&leader).unwrap_or(0);
    let age = {
        let mut q = mon.quorum_since.lock().unwrap_or_else(|p| p.into_inner());
        let now: Vec<String> = members.iter().map(|(_, n)| n.clone()).collect();
        if q.0 != now {
            *q = (now, std::time::Instant::now());
        }
        q.1.elapsed().as_secs()
    };
    QuorumView { members, leader, leader_rank, election_epoch: st.term.max(1) * 2, age }
}

fn status(c: &Ctx) -> CmdReply {
    let cl = c.mon.lock();
    let checks = health_checks(&cl, c.mon);
    let health = health_json(&checks, false);
    let (n, up, inn) = osd_counts(&cl);
    let pgs: u64 = cl.osdmap.pools.values().map(|p| p.pg_num as u64).sum();
    let qv = quorum_view(c.mon, &cl);
    let quorum_age = qv.age;
    let sum = crate::osdmon::summary(&cl.osdmap, &c.mon.osd_rt());
    let pgs_by_state: Vec<Value> = sum.by_state.iter().map(|(st, n)| json!({"state_name": st, "count": n})).collect();
    let v = json!({
        "fsid": c.mon.fsid.to_string(),
        "health": health,
        "election_epoch": qv.election_epoch,
        "quorum": qv.ranks(),
        "quorum_names": qv.names(),
        "quorum_age": quorum_age,
        "monmap": {"epoch": cl.monmap.epoch, "min_mon_release_name": maps::monmap::release_name(cl.monmap.min_mon_release), "num_mons": cl.monmap.mon_info.len()},
        "osdmap": {"epoch": cl.osdmap.epoch, "num_osds": n, "num_up_osds": up, "osd_up_since": cl.osdmap.last_up_change.sec, "num_in_osds": inn, "osd_in_since": cl.osdmap.last_in_change.sec, "num_remapped_pgs": 0},
        "pgmap": {"pgs_by_state": pgs_by_state, "num_pgs": pgs, "num_pools": cl.osdmap.pools.len(), "num_objects": sum.num_objects, "data_bytes": sum.data_bytes, "bytes_used": sum.bytes_used, "bytes_avail": sum.bytes_avail, "bytes_total": sum.bytes_total},
        "fsmap": {"epoch": cl.fsmap_epoch, "by_rank": [], "up:standby": 0},
        "mgrmap": {"available": cl.mgrmap.available, "num_standbys": 0, "modules": cl.mgrmap.modules.iter().collect::<Vec<_>>(), "services": {}},
        "servicemap": {"epoch": 1, "modified": Utime::default().to_iso8601(), "services": {}},
        "progress_events": {},
    });
    let mgr_since = cl.mgrmap.active_change;
    let text = || {
        let mut s = String::new();
        s += "  cluster:\n";
        s += &format!("    id:     {}\n", c.mon.fsid);
        let hs = v["health"]["status"].as_str().unwrap_or("");
        s += &format!("    health: {hs}\n");
        for ch in &checks {
            s += &format!("            {}\n", ch.summary);
        }
        s += " \n  services:\n";
        let out: Vec<String> = cl.monmap.by_rank().map(|(_, m)| m.name.clone()).filter(|n| !qv.names().contains(n)).collect();
        s += &format!("    mon: {} daemons, quorum {} (age {})", cl.monmap.mon_info.len(), qv.names().join(","), age(quorum_age));
        if !out.is_empty() {
            s += &format!(", out of quorum: {}", out.join(", "));
        }
        s += "\n";
        if cl.mgrmap.available {
            let since = Utime::now().sec.saturating_sub(mgr_since.sec) as u64;
            s += &format!("    mgr: {}(active, since {})\n", cl.mgrmap.active_name, age(since));
        } else {
            s += "    mgr: no daemons active\n";
        }
        if n == 0 {
            s += "    osd: 0 osds: 0 up, 0 in\n";
        } else {
            let now = Utime::now().sec as u64;
            s += &format!(
                "    osd: {n} osds: {up} up (since {}), {inn} in (since {})\n",
                age(now.saturating_sub(cl.osdmap.last_up_change.sec as u64)),
                age(now.saturating_sub(cl.osdmap.last_in_change.sec as u64))
            );
            if let Some(f) = warn_flag_names(&cl.osdmap) {
                s += &format!("         flags {f}\n");
            }
        }
        s += " \n  data:\n";
        s += &format!("    pools:   {} pools, {} pgs\n", cl.osdmap.pools.len(), pgs);
        s += &format!("    objects: {} objects, {}\n", crate::mgr::si_count(sum.num_objects), crate::mgr::si_bytes(sum.data_bytes));
        s += &format!("    usage:   {} used, {} / {} avail\n", crate::mgr::si_bytes(sum.bytes_used), crate::mgr::si_bytes(sum.bytes_avail), crate::mgr::si_bytes(sum.bytes_total));
        let lines = sum.status_lines();
        if lines.is_empty() {
            s += "    pgs:     \n";
        }
        for (i, l) in lines.iter().enumerate() {
            s += &format!("{}{l}\n", if i == 0 { "    pgs:     " } else { "             " });
        }
        s += " \n";
        s
    };
    let out = c.out(&v, text);
    ok("", out)
}

// ---------------------------------------------------------------- mon

/// `ceph report`: the cluster's state in one JSON document, as Ceph's
/// (`Monitor::handle_command`, "report"); ours has the maps, health, quorum
/// and the osdmap trimming state, not Ceph's PG and OSD statistics.
fn report(c: &Ctx) -> CmdReply {
    let cl = c.mon.lock();
    let qv = quorum_view(c.mon, &cl);
    let checks = health_checks(&cl, c.mon);
    let (n, _, _) = osd_counts(&cl);
    let pgs: u64 = cl.osdmap.pools.values().map(|p| p.pg_num as u64).sum();
    let v = json!({
        "cluster_fingerprint": c.mon.fsid.to_string(),
        "version": "16.2.15",
        "commit": "oxceph-0.1.0",
        "timestamp": Utime::now().to_iso8601(),
        "tag": c.strs("tags").join(" "),
        "health": health_json(&checks, false),
        "monmap_first_committed": 1,
        "monmap_last_committed": cl.monmap.epoch,
        "monmap": cl.monmap.to_json(&qv.ranks()),
        "quorum": qv.ranks(),
        "osdmap": cl.osdmap.dump_json(),
        "osdmap_clean_epochs": crate::osdmon::clean_epochs_json(&cl.osdmap, &c.mon.osd_rt()),
        "osdmap_first_committed": cl.osdmap_first,
        "osdmap_last_committed": cl.osdmap.epoch,
        "num_pg": pgs,
        "num_osd": n,
    });
    let f = c.format.clone().unwrap_or_else(|| "json-pretty".into());
    let out = formatted(Some(&f), &v, String::new);
    ok(format!("report {}", crc32c::crc32c(&out)), out)
}

fn mon_dump(c: &Ctx) -> CmdReply {
    let cl = c.mon.lock();
    let qv = quorum_view(c.mon, &cl);
    let v = cl.monmap.to_json(&qv.ranks());
    ok(format!("dumped monmap epoch {}", cl.monmap.epoch), c.out(&v, || cl.monmap.print()))
}

const MEMBERSHIP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// `mon add NAME ADDR` (`MonmapMonitor::prepare_command`): the mon joins the
/// quorum's Raft group as a voter, then the monmap names it.
fn mon_add(c: &Ctx) -> CmdReply {
    let name = c.s("name").unwrap_or_default();
    let addrstr = c.s("addr").unwrap_or_default();
    let bare = addrstr.trim_start_matches("v2:");
    let Some(mut sa) = types::addr::parse_host_port(bare, Some(0)) else {
        return err(EINVAL, format!("addr {addrstr}does not parse"));
    };
    use types::{AddrType, EntityAddr, EntityAddrVec};
    // As Ceph: no port (or the old 6789) means both default ports.
    let addrs = if sa.port() == 0 || sa.port() == 6789 {
        sa.set_port(3300);
        let mut v1 = sa;
        v1.set_port(6789);
        EntityAddrVec(vec![EntityAddr::new(AddrType::Msgr2, sa, 0), EntityAddr::new(AddrType::Legacy, v1, 0)])
    } else {
        EntityAddrVec::single(EntityAddr::new(AddrType::Msgr2, sa, 0))
    };
    let mut cl = c.mon.lock();
    if let Some(m) = cl.monmap.mon_info.get(&name) {
        if m.public_addrs == addrs {
            return ok(format!("mon.{name} at {addrs} already exists"), Bytes::new());
        }
        return err(EEXIST, format!("mon.{name} already exists at address {}", m.public_addrs));
    }
    if let Some(m) = cl.monmap.mon_info.values().find(|m| m.public_addrs == addrs) {
        return err(EEXIST, format!("mon.{} already exists at address {}", m.name, sa));
    }
    let info = maps::monmap::MonInfo { name: name.clone(), public_addrs: addrs.clone(), ..Default::default() };
    let offset = c.mon.settings.get_u64("mon_quorum_port_offset", 1000) as u16;
    let Some(member) = crate::service::quorum_member(&info, offset) else {
        return err(EINVAL, format!("addr {addrstr}does not parse"));
    };
    if let Err(e) = c.mon.quorum.add_member(member, MEMBERSHIP_TIMEOUT) {
        return err(-11, format!("adding mon.{name} to the quorum: {e}"));
    }
    let mut mm = cl.monmap.clone();
    mm.mon_info.insert(name.clone(), info.clone());
    mm.epoch += 1;
    mm.last_changed = Utime::now();
    mm.calc_ranks();
    let mut t = Txn::default();
    t.put("monmap", denc::Encode::to_bytes(&mm, PACIFIC_SUPPORTED).to_vec());
    if let Err(e) = cl.store.commit(t) {
        return err(-5, e);
    }
    cl.monmap = mm;
    ok(format!("adding mon.{name} at {addrs}"), Bytes::new())
}

/// `mon remove NAME` / `mon rm NAME`.
fn mon_remove(c: &Ctx) -> CmdReply {
    let name = c.s("name").unwrap_or_default();
    let mut cl = c.mon.lock();
    let Some(info) = cl.monmap.mon_info.get(&name).cloned() else {
        return ok(format!("mon.{name} does not exist or has already been removed"), Bytes::new());
    };
    if cl.monmap.mon_info.len() == 1 {
        return err(EINVAL, format!("error: refusing removal of last monitor {name}"));
    }
    // The monmap first: the mon removed may be this one, the leader, which
    // commits nothing once out of the group.
    let mut mm = cl.monmap.clone();
    mm.mon_info.remove(&name);
    mm.epoch += 1;
    mm.last_changed = Utime::now();
    mm.calc_ranks();
    let n = mm.mon_info.len();
    let mut t = Txn::default();
    t.put("monmap", denc::Encode::to_bytes(&mm, PACIFIC_SUPPORTED).to_vec());
    if let Err(e) = cl.store.commit(t) {
        return err(-5, e);
    }
    cl.monmap = mm;
    if let Err(e) = c.mon.quorum.remove_member(&name, MEMBERSHIP_TIMEOUT) {
        return err(-11, format!("removing mon.{name} from the quorum: {e}"));
    }
    ok(format!("removing mon.{name} at {}, there will be {n} monitors", info.public_addrs), Bytes::new())
}

fn mon_stat(c: &Ctx) -> CmdReply {
    let cl = c.mon.lock();
    let qv = quorum_view(c.mon, &cl);
    let quorum: Vec<Value> = qv.members.iter().map(|(r, n)| json!({"rank": r, "name": n})).collect();
    let v = json!({"epoch": cl.monmap.epoch, "min_mon_release_name": maps::monmap::release_name(cl.monmap.min_mon_release), "num_mons": cl.monmap.mon_info.len(), "leader": qv.leader, "quorum": quorum});
    let mons: Vec<String> = cl.monmap.by_rank().map(|(_, m)| format!("{}={}", m.name, m.public_addrs)).collect();
    let ranks: Vec<String> = qv.ranks().iter().map(|r| r.to_string()).collect();
    ok("", c.out(&v, || {
        format!(
            "e{}: {} mons at {{{}}} removed_ranks: {{}}, election epoch {}, leader {} {}, quorum {} {}\n",
            cl.monmap.epoch,
            cl.monmap.mon_info.len(),
            mons.join(","),
            qv.election_epoch,
            qv.leader_rank,
            qv.leader,
            ranks.join(","),
            qv.names().join(",")
        )
    }))
}

fn quorum_status(c: &Ctx) -> CmdReply {
    let cl = c.mon.lock();
    let qv = quorum_view(c.mon, &cl);
    let mut mm = cl.monmap.to_json(&[]);
    if let Some(o) = mm.as_object_mut() {
        o.remove("quorum");
    }
    let persistent = mm["features"]["persistent"].clone();
    let v = json!({
        "election_epoch": qv.election_epoch,
        "quorum": qv.ranks(),
        "quorum_names": qv.names(),
        "quorum_leader_name": qv.leader,
        "quorum_age": qv.age,
        "features": {"quorum_con": PACIFIC_SUPPORTED.to_string(), "quorum_mon": persistent},
        "monmap": mm,
    });
    ok("", c.out_json(&v))
}

fn c_versions(c: &Ctx) -> CmdReply {
    let cl = c.mon.lock();
    let (n, _, _) = osd_counts(&cl);
    let one = |k: usize| if k > 0 { json!({VERSION_STRING: k}) } else { json!({}) };
    let mgr = if cl.mgrmap.available { 1 } else { 0 };
    let v = json!({"mon": one(1), "mgr": one(mgr), "osd": one(n), "mds": {}, "overall": one(1 + mgr + n)});
    ok("", c.out_json(&v))
}

fn features(c: &Ctx) -> CmdReply {
    let f = json!([{"features": format!("{:#x}", PACIFIC_SUPPORTED), "release": "luminous", "num": 1}]);
    let sessions = c.mon.sessions.load(std::sync::atomic::Ordering::Relaxed).max(1);
    let v = json!({"mon": f, "client": [{"features": format!("{:#x}", PACIFIC_SUPPORTED), "release": "luminous", "num": sessions}], "mgr": f});
    ok("", c.out_json(&v))
}

fn fsmap_json(e: u32) -> Value {
    json!({"epoch": e, "default_fscid": -1, "compat": {"compat": {}, "ro_compat": {}, "incompat": {}}, "feature_flags": {"enable_multiple": true, "ever_enabled_multiple": true}, "standbys": [], "filesystems": []})
}

fn mgr_dump(c: &Ctx) -> CmdReply {
    let cl = c.mon.lock();
    let m = &cl.mgrmap;
    let v = json!({
        "epoch": m.epoch,
        "active_gid": m.active_gid,
        "active_name": m.active_name,
        "active_addrs": m.active_addrs.to_json(),
        "active_addr": m.active_addrs.legacy_or_front().to_string(),
        "active_change": m.active_change.to_iso8601(),
        "active_mgr_features": m.active_mgr_features,
        "available": m.available,
        "standbys": [],
        "modules": m.modules.iter().collect::<Vec<_>>(),
        "available_modules": [],
        "services": m.services,
        "always_on_modules": {"pacific": crate::mgr::ALWAYS_ON},
        "last_failure_osd_epoch": m.last_failure_osd_epoch,
        "active_clients": [],
    });
    ok(format!("dumped mgrmap epoch {}", m.epoch), c.out_json(&v))
}

fn mgr_module_ls(c: &Ctx) -> CmdReply {
    let cl = c.mon.lock();
    let v = json!({"always_on_modules": crate::mgr::ALWAYS_ON, "enabled_modules": cl.mgrmap.modules.iter().collect::<Vec<_>>(), "disabled_modules": []});
    ok("", c.out_json(&v))
}

fn log_last(c: &Ctx) -> CmdReply {
    let n = c.i("num").unwrap_or(20).max(0) as usize;
    let channel = c.s("channel").unwrap_or_else(|| "cluster".into());
    let cl = c.mon.lock();
    let entries: Vec<&LogEntry> = cl.log.iter().filter(|e| channel == "*" || e.channel == channel).collect();
    let tail: Vec<&LogEntry> = entries[entries.len().saturating_sub(n)..].to_vec();
    let v = json!(tail.iter().map(|e| e.to_json()).collect::<Vec<_>>());
    ok("", c.out(&v, || tail.iter().map(|e| format!("{}\n", e.to_text())).collect()))
}

// ---------------------------------------------------------------- osd

fn osd_dump(c: &Ctx) -> CmdReply {
    let mut cl = c.mon.lock();
    let e = c.i("epoch").map(|e| e as u32).unwrap_or(cl.osdmap.epoch);
    let m = if e == cl.osdmap.epoch {
        cl.osdmap.clone()
    } else {
        match cl.osdmap_bytes(e).and_then(|b| maps::osdmap::OsdMap::from_bytes(b).ok()) {
            Some(m) => m,
            None => return err(ENOENT, format!("there is no map for epoch {e}")),
        }
    };
    let v = m.dump_json();
    ok(format!("dumped osdmap epoch {}", m.epoch), c.out(&v, || osd_dump_text(&m)))
}

/// A pool's id by name, or Ceph's ENOENT message.
fn pool_id(cl: &Cluster, name: &str) -> Result<i64, CmdReply> {
    cl.osdmap.lookup_pool(name).ok_or_else(|| err(ENOENT, format!("unrecognized pool '{name}'")))
}

fn pool_line(id: i64, name: &str, p: &maps::pool::PgPool) -> String {
    let mut s = format!(
        "pool {id} '{name}' {} size {} min_size {} crush_rule {} object_hash rjenkins pg_num {} pgp_num {}{} autoscale_mode {} last_change {} flags {} stripe_width {}",
        if p.is_erasure() { "erasure" } else { "replicated" },
        p.size,
        p.min_size,
        p.crush_rule,
        p.pg_num,
        p.pgp_num,
        // Transitions under way, as Ceph's pg_pool_t printer shows them.
        [("pg_num_target", p.pg_num_target, p.pg_num), ("pgp_num_target", p.pgp_num_target, p.pgp_num), ("pg_num_pending", p.pg_num_pending, p.pg_num)]
            .iter()
            .filter(|(_, v, actual)| v != actual)
            .map(|(k, v, _)| format!(" {k} {v}"))
            .collect::<String>(),
        maps::dump::autoscale_mode_name(p.pg_autoscale_mode),
        p.last_change,
        maps::pool::flag_names(p.flags),
        p.stripe_width
    );
    if !p.application_metadata.is_empty() {
        s += &format!(" application {}", p.application_metadata.keys().cloned().collect::<Vec<_>>().join(","));
    }
    s
}

fn osd_dump_text(m: &maps::osdmap::OsdMap) -> String {
    let mut s = format!("epoch {}\nfsid {}\ncreated {}\nmodified {}\n", m.epoch, m.fsid, m.created.to_iso8601(), m.modified.to_iso8601());
    s += &format!("flags {}\ncrush_version {}\n", maps::dump::osdmap_flag_names(m.flags).join(","), m.crush_version);
    let f = |x: f32| maps::dump::cpp_float(x as f64);
    s += &format!("full_ratio {}\nbackfillfull_ratio {}\nnearfull_ratio {}\n", f(m.osd.full_ratio), f(m.osd.backfillfull_ratio), f(m.osd.nearfull_ratio));
    s += &format!("require_min_compat_client {}\nmin_compat_client jewel\nrequire_osd_release {}\nstretch_mode_enabled false\n", maps::monmap::release_name(m.osd.require_min_compat_client), maps::monmap::release_name(m.osd.require_osd_release));
    for (id, p) in &m.pools {
        s += &format!("{}\n", pool_line(*id, m.pool_name.get(id).map(|s| s.as_str()).unwrap_or(""), p));
    }
    s += &format!("\nmax_osd {}\n", m.max_osd);
    // One line per OSD (OSDMap::print).
    for i in 0..m.max_osd.max(0) {
        let st = m.osd_state.get(i as usize).copied().unwrap_or(0);
        if st & maps::osdmap::OSD_EXISTS == 0 {
            continue;
        }
        let info = m.osd.osd_info.get(i as usize).copied().unwrap_or_default();
        let weight = m.osd_weight.get(i as usize).copied().unwrap_or(0);
        s += &format!("osd.{i}{}{} weight {}", if m.is_up(i) { " up  " } else { " down" }, if weight > 0 { " in " } else { " out" }, maps::dump::cpp_float(weight as f64 / 65536.0));
        let aff = m.osd_primary_affinity.get(i as usize).copied().unwrap_or(maps::osdmap::OSD_DEFAULT_PRIMARY_AFFINITY);
        if aff != maps::osdmap::OSD_DEFAULT_PRIMARY_AFFINITY {
            s += &format!(" primary_affinity {}", maps::dump::cpp_float(aff as f64 / 65536.0));
        }
        s += &format!(" up_from {} up_thru {} down_at {} last_clean_interval [{},{})", info.up_from, info.up_thru, info.down_at, info.last_clean_begin, info.last_clean_end);
        if info.lost_at != 0 {
            s += &format!(" lost_at {}", info.lost_at);
        }
        let addrs = |v: &Vec<types::EntityAddrVec>| v.get(i as usize).cloned().unwrap_or_default();
        s += &format!(" {} {} {}", addrs(&m.client_addrs), addrs(&m.osd.cluster_addrs), maps::osdmap::osd_state_names(st).join(","));
        if let Some(u) = m.osd.osd_uuid.get(i as usize).filter(|u| !u.is_zero()) {
            s += &format!(" {u}");
        }
        s += "\n";
    }
    s
}

fn osd_ls(c: &Ctx) -> CmdReply {
    let cl = c.mon.lock();
    let ids: Vec<usize> = cl.osdmap.osd_state.iter().enumerate().filter(|(_, s)| *s & maps::osdmap::OSD_EXISTS != 0).map(|(i, _)| i).collect();
    ok("", c.out(&json!(ids), || ids.iter().map(|i| format!("{i}\n")).collect()))
}

/// `osd set|unset KEY`, `osd pause|unpause` (`OSDMonitor::prepare_set_flag`):
/// a new epoch with the flag changed, even when it already was.
fn osd_flag(c: &Ctx, prefix: &str) -> CmdReply {
    use maps::osdmap::flags::*;
    let key = match prefix {
        "osd pause" | "osd unpause" => "pause".to_string(),
        _ => c.s("key").unwrap_or_default(),
    };
    let flag = match key.as_str() {
        "pause" => PAUSERD | PAUSEWR,
        "noup" => NOUP,
        "nodown" => NODOWN,
        "noout" => NOOUT,
        "noin" => NOIN,
        "nobackfill" => NOBACKFILL,
        "norebalance" => NOREBALANCE,
        "norecover" => NORECOVER,
        "noscrub" => NOSCRUB,
        "nodeep-scrub" => NODEEP_SCRUB,
        "notieragent" => NOTIERAGENT,
        "nosnaptrim" => NOSNAPTRIM,
        // Set on every Pacific cluster already (Ceph checks the OSDs first).
        "pglog_hardlimit" if prefix == "osd set" => PGLOG_HARDLIMIT,
        other => return err(EINVAL, format!("unrecognized flag '{other}'")),
    };
    let set = prefix == "osd set" || prefix == "osd pause";
    let mut cl = c.mon.lock();
    let next = cl.next_osdmap(|m| if set { m.flags |= flag } else { m.flags &= !flag });
    if let Err(e) = cl.commit_osdmap(next, Txn::default()) {
        return err(EIO, e);
    }
    ok(format!("{} is {}", maps::dump::osdmap_flag_names(flag).join(","), if set { "set" } else { "unset" }), Bytes::new())
}

/// `osd set-full-ratio|set-backfillfull-ratio|set-nearfull-ratio R`
/// (`OSDMonitor::prepare_command`): the ratio goes into the map; the
/// leader's full check then applies it.
fn osd_set_ratio(c: &Ctx, prefix: &str) -> CmdReply {
    let Some(r) = c.args.get("ratio").and_then(|v| v.as_f64().or_else(|| v.as_str().and_then(|s| s.parse().ok()))) else {
        return err(EINVAL, "need a ratio between 0.0 and 1.0");
    };
    if !(0.0..=1.0).contains(&r) {
        return err(EINVAL, format!("{r} not in range [0.0, 1.0]"));
    }
    let r = r as f32;
    let mut cl = c.mon.lock();
    let next = cl.next_osdmap(|m| match prefix {
        "osd set-full-ratio" => m.osd.full_ratio = r,
        "osd set-backfillfull-ratio" => m.osd.backfillfull_ratio = r,
        _ => m.osd.nearfull_ratio = r,
    });
    if let Err(e) = cl.commit_osdmap(next, Txn::default()) {
        return err(EIO, e);
    }
    ok(format!("{prefix} {}", maps::dump::cpp_float(r as f64)), Bytes::new())
}

/// The map flags `ceph -s`, `osd stat` and health show (Ceph's
/// `OSDMap::check_health` list).
fn warn_flag_names(m: &maps::osdmap::OsdMap) -> Option<String> {
    use maps::osdmap::flags::*;
    const WARN: u32 = PAUSERD | PAUSEWR | PAUSEREC | NOUP | NODOWN | NOIN | NOOUT | NOBACKFILL | NORECOVER | NOSCRUB | NODEEP_SCRUB | NOTIERAGENT | NOSNAPTRIM | NOREBALANCE;
    (m.flags & WARN != 0).then(|| maps::dump::osdmap_flag_names(m.flags & WARN).join(","))
}

fn osd_stat(c: &Ctx) -> CmdReply {
    let cl = c.mon.lock();
    let (n, up, inn) = osd_counts(&cl);
    let v = json!({"epoch": cl.osdmap.epoch, "num_osds": n, "num_up_osds": up, "osd_up_since": cl.osdmap.last_up_change.sec, "num_in_osds": inn, "osd_in_since": cl.osdmap.last_in_change.sec, "num_remapped_pgs": 0});
    let flags = warn_flag_names(&cl.osdmap).map(|f| format!("flags {f}\n")).unwrap_or_default();
    ok("", c.out(&v, || format!("{n} osds: {up} up (since 0s), {inn} in (since 0s); epoch: e{}\n{flags}", cl.osdmap.epoch)))
}

fn type_name(m: &crush::CrushMap, t: i32) -> String {
    m.type_map.get(&t).cloned().unwrap_or_else(|| t.to_string())
}

fn osd_tree(c: &Ctx) -> CmdReply {
    let cl = c.mon.lock();
    let m = &cl.osdmap;
    let cm = &m.crush;
    let mut nodes = Vec::new();
    let mut lines = vec!["ID  CLASS  WEIGHT  TYPE NAME     STATUS  REWEIGHT  PRI-AFF".to_string()];
    // Roots first, depth-first like CrushTreeDumper.
    let mut roots: Vec<i32> = cm.buckets.iter().flatten().map(|b| b.id).filter(|id| !cm.buckets.iter().flatten().any(|b| b.items.contains(id))).collect();
    roots.sort_by(|a, b| b.cmp(a));
    fn walk(m: &maps::osdmap::OsdMap, id: i32, depth: usize, nodes: &mut Vec<Value>, lines: &mut Vec<String>) {
        let cm = &m.crush;
        if id < 0 {
            let Some(b) = cm.bucket(id) else { return };
            let name = cm.name_map.get(&id).cloned().unwrap_or_default();
            let ty = type_name(cm, b.ty as i32);
            let w = b.weight as f64 / 65536.0;
            let mut node = json!({"id": id, "name": name, "type": ty, "type_id": b.ty, "children": b.items.iter().rev().collect::<Vec<_>>()});
            if depth > 0 {
                node["pool_weights"] = json!({});
            }
            nodes.push(node);
            lines.push(format!("{:>3}         {:>7.5}  {}{} {}", id, w, "    ".repeat(depth), ty, name));
            for it in &b.items {
                walk(m, *it, depth + 1, nodes, lines);
            }
        } else {
            let st = m.osd_state.get(id as usize).copied().unwrap_or(0);
            let up = st & maps::osdmap::OSD_UP != 0;
            let rw = m.osd_weight.get(id as usize).copied().unwrap_or(0) as f64 / 65536.0;
            let cw = cm.weight_of(id).unwrap_or(0) as f64 / 65536.0;
            nodes.push(json!({"id": id, "name": format!("osd.{id}"), "type": "osd", "type_id": 0, "crush_weight": cw, "depth": depth, "pool_weights": {}, "exists": 1, "status": if up {"up"} else {"down"}, "reweight": rw, "primary_affinity": 1}));
            lines.push(format!("{:>3}         {:>7.5}  {}osd.{id}  {}  {:.5}  1.00000", id, cw, "    ".repeat(depth), if up { "up" } else { "down" }, rw));
        }
    }
    for r in roots {
        walk(m, r, 0, &mut nodes, &mut lines);
    }
    // OSDs that exist but sit in no bucket are listed as strays.
    let placed = |id: i32| cm.buckets.iter().flatten().any(|b| b.items.contains(&id));
    let mut stray = Vec::new();
    for i in 0..m.max_osd.max(0) {
        let st = m.osd_state[i as usize];
        if st & maps::osdmap::OSD_EXISTS == 0 || placed(i) {
            continue;
        }
        let up = st & maps::osdmap::OSD_UP != 0;
        let rw = m.osd_weight[i as usize] as f64 / 65536.0;
        stray.push(json!({"id": i, "name": format!("osd.{i}"), "type": "osd", "type_id": 0, "crush_weight": 0, "depth": 0, "exists": 1, "status": if up {"up"} else {"down"}, "reweight": rw, "primary_affinity": 1}));
        lines.push(format!("{:>3}               0  osd.{i}  {:>12}  {:.5}  1.00000", i, if up { "up" } else { "down" }, rw));
    }
    let v = json!({"nodes": nodes, "stray": stray});
    ok("", c.out(&v, || lines.join("\n") + "\n"))
}

fn crush_rule_dump(c: &Ctx) -> CmdReply {
    let cl = c.mon.lock();
    let cm = &cl.osdmap.crush;
    let want = c.s("name");
    let mut out = Vec::new();
    for (i, r) in cm.rules.iter().enumerate() {
        let Some(r) = r else { continue };
        let name = cm.rule_name_map.get(&(i as i32)).cloned().unwrap_or_default();
        if want.as_ref().is_some_and(|w| *w != name) {
            continue;
        }
        let steps: Vec<Value> = r
            .steps
            .iter()
            .map(|s| match s.op {
                1 => json!({"op": "take", "item": s.arg1, "item_name": cm.name_map.get(&s.arg1).cloned().unwrap_or_default()}),
                2 => json!({"op": "choose_firstn", "num": s.arg1, "type": type_name(cm, s.arg2)}),
                3 => json!({"op": "choose_indep", "num": s.arg1, "type": type_name(cm, s.arg2)}),
                4 => json!({"op": "emit"}),
                6 => json!({"op": "chooseleaf_firstn", "num": s.arg1, "type": type_name(cm, s.arg2)}),
                7 => json!({"op": "chooseleaf_indep", "num": s.arg1, "type": type_name(cm, s.arg2)}),
                op => json!({"opcode": op, "arg1": s.arg1, "arg2": s.arg2}),
            })
            .collect();
        out.push(json!({"rule_id": i, "rule_name": name, "ruleset": r.ruleset, "type": r.ty, "min_size": r.min_size, "max_size": r.max_size, "steps": steps}));
    }
    if let Some(w) = want {
        return match out.into_iter().next() {
            Some(v) => ok("", c.out_json(&v)),
            None => err(ENOENT, format!("unknown crush rule '{w}'")),
        };
    }
    ok("", c.out_json(&json!(out)))
}

fn osd_map(c: &Ctx) -> CmdReply {
    let cl = c.mon.lock();
    let pool = c.s("pool").unwrap_or_default();
    let obj = c.s("object").unwrap_or_default();
    let ns = c.s("nspace").unwrap_or_default();
    let Some(pid) = cl.osdmap.lookup_pool(&pool) else {
        return err(ENOENT, format!("pool {pool} does not exist"));
    };
    let loc = types::osd::ObjectLocator { pool: pid, key: String::new(), nspace: ns.clone(), hash: -1 };
    let Some(raw) = cl.osdmap.object_to_raw_pg(&obj, &loc) else { return err(ENOENT, "no such pool") };
    let pg = cl.osdmap.raw_pg_to_pg(raw);
    let mp = cl.osdmap.pg_to_up_acting(pg);
    let v = json!({"epoch": cl.osdmap.epoch, "pool": pool, "pool_id": pid, "objname": obj, "raw_pgid": raw.to_string(), "pgid": pg.to_string(), "up": mp.up, "up_primary": mp.up_primary, "acting": mp.acting, "acting_primary": mp.acting_primary});
    let fullobj = if ns.is_empty() { obj.clone() } else { format!("{ns}/{obj}") };
    ok("", c.out(&v, || format!("osdmap e{} pool '{pool}' ({pid}) object '{fullobj}' -> pg {} ({}) -> up ({:?}, p{}) acting ({:?}, p{})\n", cl.osdmap.epoch, raw, pg, mp.up, mp.up_primary, mp.acting, mp.acting_primary)))
}

fn pg_map(c: &Ctx) -> CmdReply {
    let cl = c.mon.lock();
    let s = c.s("pgid").unwrap_or_default();
    let Some(pg) = s.split_once('.').and_then(|(p, h)| Some(types::osd::PgId { pool: p.parse().ok()?, seed: u32::from_str_radix(h, 16).ok()? })) else {
        return err(EINVAL, format!("invalid pgid '{s}'"));
    };
    if !cl.osdmap.pools.contains_key(&(pg.pool as i64)) {
        return err(ENOENT, format!("pg '{s}' does not exist"));
    }
    let mp = cl.osdmap.pg_to_up_acting(pg);
    let v = json!({"epoch": cl.osdmap.epoch, "raw_pgid": pg.to_string(), "pgid": pg.to_string(), "up": mp.up, "acting": mp.acting});
    ok("", c.out(&v, || format!("osdmap e{} pg {} ({}) -> up {:?} acting {:?}\n", cl.osdmap.epoch, pg, pg, mp.up, mp.acting)))
}

fn ec_profile_set(c: &Ctx) -> CmdReply {
    let name = c.s("name").unwrap_or_default();
    let mut prof: BTreeMap<String, String> = BTreeMap::new();
    for kv in c.strs("profile") {
        let (k, v) = kv.split_once('=').unwrap_or((kv.as_str(), ""));
        prof.insert(k.to_string(), v.to_string());
    }
    prof.entry("plugin".into()).or_insert_with(|| "jerasure".into());
    prof.entry("technique".into()).or_insert_with(|| "reed_sol_van".into());
    prof.entry("k".into()).or_insert_with(|| "2".into());
    prof.entry("m".into()).or_insert_with(|| "2".into());
    let mut cl = c.mon.lock();
    if let Some(old) = cl.osdmap.erasure_code_profiles.get(&name) {
        if *old == prof {
            return ok("", Bytes::new());
        }
        if !c.b("force") {
            return err(EPERM, format!("will not override erasure code profile {name} because the existing profile {old:?} is different from the proposed profile {prof:?}"));
        }
    }
    let m = cl.next_osdmap(|m| {
        m.erasure_code_profiles.insert(name, prof);
    });
    commit_osd(&mut cl, m, ok("", Bytes::new()))
}

/// `osd new UUID [ID] [-i secret.json]` and `osd create [UUID] [ID]`: allocate an
/// id (the one this uuid already has, the given one, or the lowest free), mark it
/// existing, down and out; `osd new` also records the daemon's cephx key.
fn osd_new(c: &Ctx, new: bool) -> CmdReply {
    let uuid_s = c.s("uuid");
    let uuid: Option<types::Uuid> = match &uuid_s {
        Some(u) => match u.parse() {
            Ok(u) => Some(u),
            Err(_) => return err(EINVAL, format!("invalid uuid {u}")),
        },
        None if new => return err(EINVAL, "osd new requires a uuid"),
        None => None,
    };
    let want_id = c.i("id");
    let mut secret: Option<CryptoKey> = None;
    if new && !c.inbl.is_empty() {
        let v: Value = match serde_json::from_slice(c.inbl) {
            Ok(v) => v,
            Err(e) => return err(EINVAL, format!("unable to parse input json: {e}")),
        };
        if let Some(k) = v.get("cephx_secret").and_then(|k| k.as_str()) {
            match CryptoKey::from_base64(k) {
                Ok(k) => secret = Some(k),
                Err(_) => return err(EINVAL, "invalid cephx_secret"),
            }
        }
    }
    let mut cl = c.mon.lock();
    let existing = uuid.and_then(|u| (0..cl.osdmap.max_osd as usize).find(|&i| cl.osdmap.osd_state[i] & maps::osdmap::OSD_EXISTS != 0 && cl.osdmap.osd.osd_uuid.get(i) == Some(&u)));
    if let Some(i) = existing {
        if want_id.is_some_and(|w| w != i as i64) {
            return err(EEXIST, format!("uuid {} already in use for different id {i}", uuid_s.unwrap_or_default()));
        }
        return ok("", c.out(&json!({"osdid": i}), || format!("{i}\n")));
    }
    let max_osd = c.mon.settings.get_u64("mon_max_osd", 10000) as usize;
    let id = match want_id {
        Some(w) if w < 0 || w as u64 >= max_osd as u64 => return err(EINVAL, format!("osd id {w} is out of range (mon_max_osd is {max_osd})")),
        Some(w) => {
            if (w as usize) < cl.osdmap.osd_state.len() && cl.osdmap.osd_state[w as usize] & maps::osdmap::OSD_EXISTS != 0 {
                return err(EEXIST, format!("osd.{w} already exists"));
            }
            w as usize
        }
        None => (0..).find(|&i| i >= cl.osdmap.osd_state.len() || cl.osdmap.osd_state[i] & maps::osdmap::OSD_EXISTS == 0).unwrap_or(0),
    };
    if id >= max_osd {
        return err(ERANGE, format!("cannot create more than mon_max_osd ({max_osd}) OSDs"));
    }
    // The OSD's key and its map entry land in one commit.
    let mut t = Txn::default();
    let mut new_keys = None;
    if let Some(k) = secret {
        let name = EntityName::new(EntityType::OSD, id.to_string());
        let mut ks = cl.keys.clone();
        let mut caps = BTreeMap::new();
        caps.insert("mon".to_string(), "allow profile osd".to_string());
        caps.insert("mgr".to_string(), "allow profile osd".to_string());
        caps.insert("osd".to_string(), "allow *".to_string());
        ks.entities.insert(name, EntityAuth { key: k, caps });
        t.put("auth", ks.to_bytes(0).to_vec());
        new_keys = Some(ks);
    }
    let m = cl.next_osdmap(|m| {
        if id as i32 >= m.max_osd {
            m.set_max_osd(id as i32 + 1);
        }
        m.osd_state[id] = maps::osdmap::OSD_EXISTS;
        m.osd_weight[id] = 0;
        if let Some(u) = uuid {
            m.osd.osd_uuid[id] = u;
        }
    });
    if let Err(e) = cl.commit_osdmap(m, t) {
        return err(EIO, e);
    }
    if let Some(ks) = new_keys {
        cl.keys = ks;
    }
    changed(ok("", c.out(&json!({"osdid": id}), || format!("{id}\n"))))
}

fn osd_state_change(c: &Ctx, prefix: &str) -> CmdReply {
    let ids: Vec<String> = c.strs("ids");
    let mut cl = c.mon.lock();
    let n = cl.osdmap.max_osd as usize;
    let exists = |m: &maps::osdmap::OsdMap, i: usize| i < n && m.osd_state[i] & maps::osdmap::OSD_EXISTS != 0;
    let mut targets = Vec::new();
    for s in &ids {
        if s == "any" || s == "all" || s == "*" {
            targets.extend((0..n).filter(|&i| exists(&cl.osdmap, i)));
            continue;
        }
        let Some(i) = s.strip_prefix("osd.").unwrap_or(s).parse::<usize>().ok() else { return err(EINVAL, format!("invalid osd id '{s}'")) };
        if !exists(&cl.osdmap, i) {
            return err(ENOENT, format!("osd.{i} does not exist"));
        }
        targets.push(i);
    }
    let mut msgs = Vec::new();
    for &i in &targets {
        let up = cl.osdmap.osd_state[i] & maps::osdmap::OSD_UP != 0;
        let inn = cl.osdmap.osd_weight[i] > 0;
        msgs.push(match prefix {
            "osd rm" if up => return err(-16, format!("osd.{i} is still up; must be down before removal. ")),
            "osd rm" => format!("removed osd.{i}"),
            "osd in" if inn => format!("osd.{i} is already in. "),
            "osd in" => format!("marked in osd.{i}. "),
            "osd out" if !inn => format!("osd.{i} is already out. "),
            "osd out" => format!("marked out osd.{i}. "),
            _ if !up => format!("osd.{i} is already down. "),
            _ => format!("marked down osd.{i}. "),
        });
    }
    let now = Utime::now();
    let m = cl.next_osdmap(|m| {
        for &i in &targets {
            match prefix {
                "osd rm" => {
                    m.osd_state[i] = 0;
                    m.osd_weight[i] = 0;
                    m.osd.osd_uuid[i] = Default::default();
                    m.client_addrs[i] = Default::default();
                }
                "osd in" => {
                    m.osd_weight[i] = 0x10000;
                    m.last_in_change = now;
                }
                "osd out" => {
                    m.osd_weight[i] = 0;
                    m.last_in_change = now;
                }
                _ => {
                    if m.osd_state[i] & maps::osdmap::OSD_UP != 0 {
                        m.osd_state[i] &= !maps::osdmap::OSD_UP;
                        m.osd.osd_info[i].down_at = m.epoch;
                        m.osd.osd_xinfo[i].down_stamp = m.modified;
                        m.last_up_change = now;
                    }
                }
            }
        }
    });
    let rs = msgs.concat();
    let rs = if prefix == "osd rm" { rs } else { rs.trim_end().to_string() };
    commit_osd(&mut cl, m, ok(rs, Bytes::new()))
}

/// `osd lost ID --yes-i-really-mean-it`: peering stops waiting for a down
/// OSD's copies (Ceph records `lost_at` = the epoch it went down).
fn osd_lost(c: &Ctx) -> CmdReply {
    let Some(id) = c.args.get("id").and_then(|v| v.as_i64().or_else(|| v.as_str().and_then(|s| s.trim_start_matches("osd.").parse().ok()))) else {
        return err(EINVAL, "unable to parse osd id value".to_string());
    };
    if !c.b("yes_i_really_mean_it") {
        return err(EPERM, "are you SURE?  this might mean real, permanent data loss.  pass --yes-i-really-mean-it if you really do.".to_string());
    }
    let mut cl = c.mon.lock();
    if id < 0 || !cl.osdmap.exists(id as i32) {
        return err(ENOENT, format!("osd.{id} does not exist"));
    }
    if cl.osdmap.is_up(id as i32) {
        return err(-16, format!("osd.{id} is not down"));
    }
    let e = cl.osdmap.osd.osd_info.get(id as usize).map(|i| i.down_at).unwrap_or(0);
    let m = cl.next_osdmap(|m| {
        if let Some(i) = m.osd.osd_info.get_mut(id as usize) {
            i.lost_at = e;
        }
    });
    commit_osd(&mut cl, m, ok(format!("marked osd lost in epoch {e}"), Bytes::new()))
}

fn crush_rule_create(c: &Ctx) -> CmdReply {
    let name = c.s("name").unwrap_or_default();
    let root = c.s("root").unwrap_or_default();
    let ty = c.s("type").unwrap_or_default();
    if let Some(class) = c.s("class") {
        return err(EOPNOTSUPP, format!("device class '{class}' rules are not supported by this monitor yet"));
    }
    let mut cl = c.mon.lock();
    let cm = &cl.osdmap.crush;
    if cm.rule_id_by_name(&name).is_some() {
        return ok(format!("rule {name} already exists"), Bytes::new());
    }
    let Some(root_id) = cm.item_id_by_name(&root) else { return err(ENOENT, format!("root item {root} does not exist")) };
    let Some((&type_id, _)) = cm.type_map.iter().find(|(_, n)| **n == ty) else { return err(EINVAL, format!("unknown type {ty}")) };
    let id = (0..).find(|i| cm.rules.get(*i as usize).map(|r| r.is_some()).unwrap_or(false) == false).unwrap_or(0);
    let step = if type_id == 0 { RuleStepMk::choose(type_id) } else { RuleStepMk::chooseleaf(type_id) };
    let m = cl.next_osdmap(|m| {
        let rule = crush::map::Rule { ruleset: id as u8, ty: 1, min_size: 1, max_size: 10, steps: vec![
            crush::map::RuleStep { op: 1, arg1: root_id, arg2: 0 },
            step,
            crush::map::RuleStep { op: 4, arg1: 0, arg2: 0 },
        ] };
        let cm = &mut m.crush;
        if cm.rules.len() <= id as usize {
            cm.rules.resize(id as usize + 1, None);
        }
        cm.rules[id as usize] = Some(rule);
        cm.rule_name_map.insert(id, name.clone());
        m.crush_version += 1;
    });
    commit_osd(&mut cl, m, ok("", Bytes::new()))
}

/// Replaces the CRUSH map in a new epoch (crush_version goes up, as in Ceph).
fn commit_crush(cl: &mut Cluster, cm: crush::CrushMap, reply: CmdReply) -> CmdReply {
    let m = cl.next_osdmap(|m| {
        m.crush = cm;
        m.crush_version += 1;
    });
    commit_osd(cl, m, reply)
}

/// A CephFloat argument (a JSON number, or a string from older clients).
fn weight_arg(c: &Ctx) -> Result<f64, CmdReply> {
    let w = c.args.get("weight").and_then(|v| v.as_f64().or_else(|| v.as_str().and_then(|s| s.parse().ok()))).unwrap_or(-1.0);
    if (0.0..=1e6).contains(&w) {
        Ok(w)
    } else {
        Err(err(EINVAL, "weight must be a number >= 0"))
    }
}

fn weight_16(w: f64) -> u32 {
    (w * 65536.0).round().clamp(0.0, u32::MAX as f64) as u32
}

fn loc_string(loc: &BTreeMap<String, String>) -> String {
    format!("{{{}}}", loc.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(","))
}

/// `osd crush add|set|create-or-move osd.N WEIGHT k=v...`: place a device.
fn crush_place(c: &Ctx, prefix: &str) -> CmdReply {
    // The CLI sends a CephOsdName as the bare id.
    let raw = c.s("id").unwrap_or_default();
    let Some(id) = raw.strip_prefix("osd.").unwrap_or(&raw).parse::<i32>().ok().filter(|i| *i >= 0) else {
        return err(EINVAL, format!("invalid osd name '{raw}'"));
    };
    let name = format!("osd.{id}");
    let w = match weight_arg(c) {
        Ok(w) => w,
        Err(e) => return e,
    };
    let mut loc = BTreeMap::new();
    for kv in c.strs("args") {
        let Some((k, v)) = kv.split_once('=') else { return err(EINVAL, format!("location '{kv}' is not type=name")) };
        loc.insert(k.to_string(), v.to_string());
    }
    let mut cl = c.mon.lock();
    if id >= cl.osdmap.max_osd || cl.osdmap.osd_state[id as usize] & maps::osdmap::OSD_EXISTS == 0 {
        return err(ENOENT, format!("osd.{id} does not exist.  create it before updating the crush map"));
    }
    let mut cm = cl.osdmap.crush.clone();
    let placed = cm.parent_of(id);
    if prefix == "osd crush create-or-move" && placed.is_some() {
        return ok(format!("create-or-move updated item name '{name}' weight {w} at location {} to crush map", loc_string(&loc)), Bytes::new());
    }
    if prefix == "osd crush add" && placed.is_some() {
        return ok(format!("add item id {id} name '{name}' weight {w} at location {} to crush map", loc_string(&loc)), Bytes::new());
    }
    let parent = match cm.ensure_location(&loc) {
        Ok(p) => p,
        Err(crush::edit::EditError(r, m)) => return err(r, m),
    };
    cm.unlink_everywhere(id);
    cm.name_map.insert(id, name.clone());
    if let Err(crush::edit::EditError(r, m)) = cm.link(parent, id, weight_16(w)) {
        return err(r, m);
    }
    let m = cl.next_osdmap(|m| {
        m.crush = cm;
        m.crush_version += 1;
    });
    let rs = match prefix {
        "osd crush add" => format!("add item id {id} name '{name}' weight {w} at location {} to crush map", loc_string(&loc)),
        "osd crush set" => format!("set item id {id} name '{name}' weight {w} at location {} to crush map", loc_string(&loc)),
        _ => format!("create-or-move updating item name '{name}' weight {w} at location {} to crush map", loc_string(&loc)),
    };
    commit_osd(&mut cl, m, ok(rs, Bytes::new()))
}

fn crush_rm(c: &Ctx) -> CmdReply {
    let name = c.s("name").unwrap_or_default();
    let mut cl = c.mon.lock();
    let mut cm = cl.osdmap.crush.clone();
    let Some(id) = cm.item_id_by_name(&name) else { return ok(format!("device '{name}' does not appear in the crush map"), Bytes::new()) };
    if id < 0 && cm.bucket(id).is_some_and(|b| !b.items.is_empty()) {
        return err(-39, format!("Error ENOTEMPTY: bucket '{name}' is not empty"));
    }
    cm.unlink_everywhere(id);
    if id < 0 {
        if let Some(b) = cm.buckets.get_mut((-1 - id) as usize) {
            *b = None;
        }
    }
    cm.name_map.remove(&id);
    commit_crush(&mut cl, cm, ok(format!("removed item id {id} name '{name}' from crush map"), Bytes::new()))
}

fn crush_reweight(c: &Ctx) -> CmdReply {
    let name = c.s("name").unwrap_or_default();
    let w = match weight_arg(c) {
        Ok(w) => w,
        Err(e) => return e,
    };
    let mut cl = c.mon.lock();
    let mut cm = cl.osdmap.crush.clone();
    let Some(id) = cm.item_id_by_name(&name).filter(|i| *i >= 0) else { return err(ENOENT, format!("device '{name}' does not appear in the crush map")) };
    if !cm.set_item_weight(id, weight_16(w)) {
        return err(ENOENT, format!("device '{name}' is not placed in any bucket"));
    }
    commit_crush(&mut cl, cm, ok(format!("reweighted item id {id} name '{name}' to {w} in crush map"), Bytes::new()))
}

fn crush_add_bucket(c: &Ctx) -> CmdReply {
    let name = c.s("name").unwrap_or_default();
    let ty = c.s("type").unwrap_or_default();
    let mut cl = c.mon.lock();
    let mut cm = cl.osdmap.crush.clone();
    if cm.item_id_by_name(&name).is_some() {
        return ok(format!("bucket '{name}' already exists"), Bytes::new());
    }
    let Some(t) = cm.type_id(&ty).filter(|t| *t > 0) else { return err(EINVAL, format!("type '{ty}' does not exist")) };
    if let Err(crush::edit::EditError(r, m)) = cm.add_bucket(&name, t) {
        return err(r, m);
    }
    let mut loc = BTreeMap::new();
    for kv in c.strs("args") {
        if let Some((k, v)) = kv.split_once('=') {
            loc.insert(k.to_string(), v.to_string());
        }
    }
    if !loc.is_empty() {
        let id = cm.item_id_by_name(&name).unwrap_or(0);
        match cm.ensure_location(&loc) {
            Ok(p) => {
                if let Err(crush::edit::EditError(r, m)) = cm.link(p, id, 0) {
                    return err(r, m);
                }
            }
            Err(crush::edit::EditError(r, m)) => return err(r, m),
        }
    }
    commit_crush(&mut cl, cm, ok(format!("added bucket {name} type {ty} to crush map"), Bytes::new()))
}

/// Refuses maps the mapper or `osd tree` could not walk: cycles, dangling
/// bucket references, absurd depth.
fn check_crush(m: &crush::CrushMap) -> Result<(), String> {
    fn depth(m: &crush::CrushMap, id: i32, seen: &mut Vec<i32>) -> Result<(), String> {
        if id >= 0 {
            return if id < m.max_devices { Ok(()) } else { Err(format!("device {id} is beyond max_devices {}", m.max_devices)) };
        }
        if seen.contains(&id) {
            return Err(format!("bucket {id} contains itself"));
        }
        if seen.len() > 32 {
            return Err("buckets nest deeper than 32 levels".into());
        }
        let b = m.bucket(id).ok_or_else(|| format!("bucket {id} is referenced but does not exist"))?;
        seen.push(id);
        for it in &b.items {
            depth(m, *it, seen)?;
        }
        seen.pop();
        Ok(())
    }
    for b in m.buckets.iter().flatten() {
        depth(m, b.id, &mut Vec::new())?;
    }
    for r in m.rules.iter().flatten() {
        for s in &r.steps {
            if s.op == 1 && m.bucket(s.arg1).is_none() && !(0..m.max_devices).contains(&s.arg1) {
                return Err(format!("rule takes item {} which does not exist", s.arg1));
            }
        }
    }
    Ok(())
}

struct RuleStepMk;
impl RuleStepMk {
    fn choose(t: i32) -> crush::map::RuleStep {
        crush::map::RuleStep { op: 2, arg1: 0, arg2: t }
    }
    fn chooseleaf(t: i32) -> crush::map::RuleStep {
        crush::map::RuleStep { op: 6, arg1: 0, arg2: t }
    }
}

fn crush_rule_rm(c: &Ctx) -> CmdReply {
    let name = c.s("name").unwrap_or_default();
    let mut cl = c.mon.lock();
    let Some(id) = cl.osdmap.crush.rule_id_by_name(&name) else { return ok(format!("rule {name} does not exist"), Bytes::new()) };
    if cl.osdmap.pools.values().any(|p| p.crush_rule as i32 == id) {
        return err(-16, format!("crush rule {name} ({id}) is in use by pools"));
    }
    let m = cl.next_osdmap(|m| {
        if let Some(r) = m.crush.rules.get_mut(id as usize) {
            *r = None;
        }
        m.crush.rule_name_map.remove(&id);
        m.crush_version += 1;
    });
    commit_osd(&mut cl, m, ok("", Bytes::new()))
}

/// `osd setcrushmap -i FILE`: a compiled map (crushtool -c) replaces the current one.
fn set_crushmap(c: &Ctx) -> CmdReply {
    let new = match crush::CrushMap::from_bytes(c.inbl.clone()) {
        Ok(m) => m,
        Err(e) => return err(EINVAL, format!("Failed crushmap test: {e}")),
    };
    if let Err(e) = check_crush(&new) {
        return err(EINVAL, format!("Failed crushmap test: {e}"));
    }
    let mut cl = c.mon.lock();
    // Every pool must still have its rule.
    for (id, p) in &cl.osdmap.pools {
        if new.rules.get(p.crush_rule as usize).map(|r| r.is_none()).unwrap_or(true) {
            return err(EINVAL, format!("pool {id} uses crush rule {} which the new map lacks", p.crush_rule));
        }
    }
    let m = cl.next_osdmap(|m| {
        m.crush = new;
        m.crush_version += 1;
    });
    let v = m.crush_version;
    commit_osd(&mut cl, m, ok(format!("{v}"), Bytes::new()))
}

// ---------------------------------------------------------------- pools

fn pool_create(c: &Ctx) -> CmdReply {
    let name = c.s("pool").unwrap_or_default();
    if name.is_empty() {
        return err(EINVAL, "pool name is required");
    }
    let s = &c.mon.settings;
    let max_pg = s.get_u64("mon_max_pool_pg_num", 65536) as i64;
    let pg_num_i = c.i("pg_num").filter(|v| *v != 0).unwrap_or(s.get_u64("osd_pool_default_pg_num", 32) as i64);
    let pgp_num_i = c.i("pgp_num").filter(|v| *v != 0).unwrap_or(pg_num_i);
    if pg_num_i < 1 || pg_num_i > max_pg || pgp_num_i < 1 {
        return err(ERANGE, format!("'pg_num' must be greater than 0 and less than or equal to {max_pg} (you may adjust 'mon max pool pg num' for higher values)"));
    }
    let size_i = c.i("size").filter(|v| *v != 0).unwrap_or(s.get_u64("osd_pool_default_size", 3) as i64);
    if !(1..=10).contains(&size_i) {
        return err(EINVAL, format!("pool size {size_i} must be between 1 and 10"));
    }
    if size_i == 1 && !s.get_bool("mon_allow_pool_size_one", false) {
        return err(EPERM, "pool size 1 is not allowed (set mon_allow_pool_size_one to true to allow it)");
    }
    let (pg_num, pgp_num) = (pg_num_i as u32, pgp_num_i as u32);
    if pg_num as i64 > max_pg {
        return err(ERANGE, format!("'pg_num' must be greater than 0 and less than or equal to {} (you may adjust 'mon max pool pg num' for higher values)", s.get_u64("mon_max_pool_pg_num", 65536)));
    }
    if pgp_num > pg_num {
        return err(EINVAL, format!("'pgp_num' must be greater than 0 and lower or equal than 'pg_num', which in this case is {pg_num}"));
    }
    let pool_type = c.s("pool_type").unwrap_or_else(|| "replicated".into());
    if pool_type == "erasure" {
        return err(EOPNOTSUPP, "erasure-coded pools are not supported by this monitor yet");
    }
    let size = size_i as u8;
    let mut min_size = s.get_u64("osd_pool_default_min_size", 0) as u8;
    if min_size == 0 {
        min_size = size - size / 2;
    }
    let min_size = min_size.min(size);
    let autoscale = match c.s("autoscale_mode").or_else(|| s.get("osd_pool_default_pg_autoscale_mode").map(str::to_string)).as_deref() {
        Some("off") => 0,
        Some("warn") => 1,
        _ => 2,
    };
    let mut cl = c.mon.lock();
    if cl.osdmap.lookup_pool(&name).is_some() {
        return ok(format!("pool '{name}' already exists"), Bytes::new());
    }
    let rule = match c.s("rule") {
        Some(r) => match cl.osdmap.crush.rule_id_by_name(&r) {
            Some(id) => id,
            None => return err(ENOENT, format!("specified rule {r} doesn't exist")),
        },
        None => 0,
    };
    let mut pool = cl.new_pool(pg_num, pgp_num, size, min_size, rule as u8, autoscale);
    if let Some(n) = c.i("expected_num_objects") {
        pool.expected_num_objects = n as u64;
    }
    if let Some(n) = c.i("pg_num_min") {
        pool.opts.insert(15, maps::pool::PoolOpt::Int(n));
    }
    let m = cl.next_osdmap(|m| {
        let id = m.pool_max as i64 + 1;
        m.pool_max = id as i32;
        m.pools.insert(id, pool);
        m.pool_name.insert(id, name.clone());
    });
    let pid = m.pool_max;
    let r = commit_osd(&mut cl, m, ok(format!("pool '{name}' created"), Bytes::new()));
    if r.r == 0 {
        cl.clog(&format!("mon.{}", c.mon.settings.name), "[INF]", format!("pool '{name}' created (id {pid})"));
    }
    r
}

fn pool_ls(c: &Ctx) -> CmdReply {
    let cl = c.mon.lock();
    let m = &cl.osdmap;
    if c.s("detail").as_deref() == Some("detail") {
        let v: Vec<Value> = m.pools.iter().map(|(id, p)| p.dump_json("pool_id", *id, m.pool_name.get(id).map(|s| s.as_str()).unwrap_or(""))).collect();
        return ok("", c.out(&json!(v), || m.pools.iter().map(|(id, p)| format!("{}\n\n", pool_line(*id, m.pool_name.get(id).map(|s| s.as_str()).unwrap_or(""), p))).collect()));
    }
    let names: Vec<&String> = m.pools.keys().filter_map(|id| m.pool_name.get(id)).collect();
    ok("", c.out(&json!(names), || names.iter().map(|n| format!("{n}\n")).collect()))
}

fn pool_rm(c: &Ctx) -> CmdReply {
    let name = c.s("pool").unwrap_or_default();
    let name2 = c.s("pool2").unwrap_or_default();
    let mut cl = c.mon.lock();
    let Some(id) = cl.osdmap.lookup_pool(&name) else {
        return ok(format!("pool '{name}' does not exist"), Bytes::new());
    };
    if name2 != name || !(c.b("yes_i_really_really_mean_it") || c.b("yes_i_really_really_mean_it_not_faking")) {
        return err(EPERM, format!("WARNING: this will *PERMANENTLY DESTROY* all data stored in pool {name}.  If you are *ABSOLUTELY CERTAIN* that is what you want, pass the pool name *twice*, followed by --yes-i-really-really-mean-it."));
    }
    if !c.mon.settings.get_bool("mon_allow_pool_delete", false) {
        return err(EPERM, "pool deletion is disabled; you must first set the mon_allow_pool_delete config option to true before you can destroy a pool");
    }
    if cl.osdmap.pools.get(&id).is_some_and(|p| p.flags & maps::pool::FLAG_NODELETE != 0) {
        return err(EPERM, "pool deletion is disabled; you must unset nodelete flag for the pool first");
    }
    let m = cl.next_osdmap(|m| m.remove_pool(id));
    let r = commit_osd(&mut cl, m, ok(format!("pool '{name}' removed"), Bytes::new()));
    if r.r == 0 {
        cl.clog(&format!("mon.{}", c.mon.settings.name), "[INF]", format!("pool '{name}' removed"));
    }
    r
}

fn pool_rename(c: &Ctx) -> CmdReply {
    let src = c.s("srcpool").unwrap_or_default();
    let dst = c.s("destpool").unwrap_or_default();
    let mut cl = c.mon.lock();
    let Some(id) = cl.osdmap.lookup_pool(&src) else {
        if cl.osdmap.lookup_pool(&dst).is_some() {
            return ok(format!("pool '{src}' does not exist; pool '{dst}' does -- assuming successful rename"), Bytes::new());
        }
        return err(ENOENT, format!("unrecognized pool '{src}'"));
    };
    if cl.osdmap.lookup_pool(&dst).is_some() {
        return err(EEXIST, format!("pool '{dst}' already exists"));
    }
    let m = cl.next_osdmap(|m| {
        m.pool_name.insert(id, dst.clone());
        if let Some(p) = m.pools.get_mut(&id) {
            p.last_change = m.epoch;
        }
    });
    commit_osd(&mut cl, m, ok(format!("pool '{src}' renamed to '{dst}'"), Bytes::new()))
}

const BOOL_FLAGS: [(&str, u64); 8] = [
    ("hashpspool", 1),
    ("nodelete", 1 << 4),
    ("nopgchange", 1 << 5),
    ("nosizechange", 1 << 6),
    ("write_fadvise_dontneed", 1 << 7),
    ("noscrub", 1 << 8),
    ("nodeep-scrub", 1 << 9),
    ("bulk", 1 << 17),
];

fn pool_var(cl: &Cluster, p: &maps::pool::PgPool, var: &str) -> Option<Value> {
    Some(match var {
        "size" => json!(p.size),
        "min_size" => json!(p.min_size),
        "pg_num" => json!(p.pg_num),
        "pgp_num" => json!(p.pgp_num),
        "crush_rule" => json!(cl.osdmap.crush.rule_name_map.get(&(p.crush_rule as i32)).cloned().unwrap_or_default()),
        "use_gmt_hitset" => json!(p.use_gmt_hitset),
        "fast_read" => json!(if p.fast_read { 1 } else { 0 }),
        "pg_autoscale_mode" => json!(maps::dump::autoscale_mode_name(p.pg_autoscale_mode)),
        v => {
            if let Some((_, bit)) = BOOL_FLAGS.iter().find(|(n, _)| *n == v) {
                json!(p.flags & bit != 0)
            } else if let Some(i) = maps::dump::POOL_OPT_NAMES.iter().position(|n| *n == v) {
                match p.opts.get(&(i as i32))? {
                    maps::pool::PoolOpt::Int(x) => json!(x),
                    maps::pool::PoolOpt::Double(x) => json!(x),
                    maps::pool::PoolOpt::Str(x) => json!(x),
                }
            } else {
                return None;
            }
        }
    })
}

fn pool_get(c: &Ctx) -> CmdReply {
    let name = c.s("pool").unwrap_or_default();
    let var = c.s("var").unwrap_or_default();
    let cl = c.mon.lock();
    let id = match pool_id(&cl, &name) {
        Ok(id) => id,
        Err(e) => return e,
    };
    let p = &cl.osdmap.pools[&id];
    let mut m = Map::new();
    m.insert("pool".into(), json!(name));
    m.insert("pool_id".into(), json!(id));
    let vars: Vec<&str> = if var == "all" {
        let mut v = vec!["size", "min_size", "pg_num", "pgp_num", "crush_rule"];
        v.extend(BOOL_FLAGS.iter().filter(|(n, _)| *n != "bulk").map(|(n, _)| *n));
        v.extend(["use_gmt_hitset", "fast_read", "pg_autoscale_mode", "bulk"]);
        v
    } else {
        vec![var.as_str()]
    };
    let mut plain = String::new();
    for v in vars {
        match pool_var(&cl, p, v) {
            Some(val) => {
                plain += &format!("{v}: {}\n", match &val {
                    Value::String(s) => s.clone(),
                    o => o.to_string(),
                });
                m.insert(v.to_string(), val);
            }
            None if var == "all" => {}
            None => return err(ENOENT, format!("option '{v}' is not set on pool '{name}'")),
        }
    }
    ok("", c.out(&Value::Object(m), || plain))
}

fn pool_set(c: &Ctx) -> CmdReply {
    let name = c.s("pool").unwrap_or_default();
    let var = c.s("var").unwrap_or_default();
    let val = c.s("val").unwrap_or_default();
    let mut cl = c.mon.lock();
    let id = match pool_id(&cl, &name) {
        Ok(id) => id,
        Err(e) => return e,
    };
    let mut p = cl.osdmap.pools[&id].clone();
    let n: Option<i64> = val.parse().ok();
    let bad_int = || err(EINVAL, format!("error parsing integer value '{val}': (22) Invalid argument"));
    match var.as_str() {
        "size" => {
            let Some(n) = n else { return bad_int() };
            if !(1..=10).contains(&n) {
                return err(EINVAL, format!("pool size must be between 1 and 10"));
            }
            if n == 1 && (!c.b("yes_i_really_mean_it") || !c.mon.settings.get_bool("mon_allow_pool_size_one", false)) {
                return err(EPERM, "configuring pool size as 1 is disabled by default.");
            }
            if p.flags & (1 << 6) != 0 {
                return err(EPERM, "pool size change is disabled; you must unset nosizechange flag for the pool first");
            }
            p.size = n as u8;
            if p.min_size > p.size {
                p.min_size = p.size;
            }
        }
        "min_size" => {
            let Some(n) = n else { return bad_int() };
            if n < 1 || n > p.size as i64 {
                return err(EINVAL, format!("pool min_size must be between 1 and size, which is set to {}", p.size));
            }
            p.min_size = n as u8;
        }
        "pg_num" | "pg_num_actual" => {
            let Some(n) = n.filter(|n| *n > 0) else { return bad_int() };
            let max_pg = c.mon.settings.get_u64("mon_max_pool_pg_num", 65536) as i64;
            if n > max_pg {
                return err(ERANGE, format!("'pg_num' must be greater than 0 and less than or equal to {max_pg} (you may adjust 'mon max pool pg num' for higher values)"));
            }
            if p.flags & (1 << 5) != 0 {
                return err(EPERM, "pool pg_num change is disabled; you must unset nopgchange flag for the pool first");
            }
            let n = n as u32;
            if var == "pg_num_actual" && n > p.pg_num {
                // Ceph's escape hatch: the actual value, now (splits happen
                // on the OSDs with this map; merges always go through the
                // target, which moves pgp_num first).
                p.pg_num = n;
                p.pg_num_pending = n;
            }
            // As Ceph from Nautilus on: set the target; the leader moves
            // toward it (the mgr's adjust_pgs): a split once every PG of the
            // pool is active, a merge once pgp_num is down to the target
            // (merging PGs must share OSDs) and every PG is active+clean;
            // pgp_num follows pg_num when it was tracking it, a step at a time.
            if p.pgp_num_target == p.pg_num_target || p.pgp_num_target > n {
                p.pgp_num_target = n;
            }
            p.pg_num_target = n;
        }
        "pgp_num" | "pgp_num_actual" => {
            let Some(n) = n.filter(|n| *n > 0) else { return bad_int() };
            // Ceph checks pgp_num against pg_num's target, and the actual
            // value against the actual pg_num.
            let limit = if var == "pgp_num" { p.pg_num_target } else { p.pg_num };
            if n as u32 > limit {
                return err(EINVAL, format!("specified pgp_num {n} > pg_num {limit}"));
            }
            if var == "pgp_num_actual" || n as u32 <= p.pgp_num {
                p.pgp_num = n as u32;
            }
            p.pgp_num_target = n as u32;
        }
        "crush_rule" => match cl.osdmap.crush.rule_id_by_name(&val) {
            Some(r) => p.crush_rule = r as u8,
            None => return err(ENOENT, format!("crush rule {val} does not exist")),
        },
        "pg_autoscale_mode" => {
            p.pg_autoscale_mode = match val.as_str() {
                "off" => 0,
                "warn" => 1,
                "on" => 2,
                _ => return err(EINVAL, format!("specified invalid mode {val}")),
            }
        }
        v => {
            if let Some((_, bit)) = BOOL_FLAGS.iter().find(|(n, _)| *n == v) {
                match val.as_str() {
                    "true" | "1" => p.flags |= bit,
                    "false" | "0" => p.flags &= !bit,
                    _ => return err(EINVAL, format!("expecting value 'true', 'false', '0', or '1'")),
                }
            } else if let Some(i) = maps::dump::POOL_OPT_NAMES.iter().position(|n| *n == v) {
                let o = match (val.parse::<i64>(), val.parse::<f64>()) {
                    (Ok(x), _) => maps::pool::PoolOpt::Int(x),
                    (_, Ok(x)) => maps::pool::PoolOpt::Double(x),
                    _ => maps::pool::PoolOpt::Str(val.clone()),
                };
                p.opts.insert(i as i32, o);
            } else {
                return err(EINVAL, format!("unrecognized variable '{v}'"));
            }
        }
    }
    let m = cl.next_osdmap(|m| {
        p.last_change = m.epoch;
        m.pools.insert(id, p);
    });
    commit_osd(&mut cl, m, ok(format!("set pool {id} {var} to {val}"), Bytes::new()))
}

fn pool_get_quota(c: &Ctx) -> CmdReply {
    let name = c.s("pool").unwrap_or_default();
    let cl = c.mon.lock();
    let id = match pool_id(&cl, &name) {
        Ok(id) => id,
        Err(e) => return e,
    };
    let p = &cl.osdmap.pools[&id];
    let sum = crate::osdmon::summary(&cl.osdmap, &c.mon.osd_rt());
    let (objects, bytes) = crate::osdmon::pool_usage(&sum, &cl.osdmap, id, false).unwrap_or((0, 0));
    let v = json!({"pool_name": name, "pool_id": id, "quota_max_objects": p.quota_max_objects, "current_num_objects": objects, "quota_max_bytes": p.quota_max_bytes, "current_num_bytes": bytes});
    let objs = if p.quota_max_objects == 0 { "N/A".to_string() } else { format!("{} objects  (current num objects: {objects} objects)", crate::mgr::si_count(p.quota_max_objects)) };
    let byts = if p.quota_max_bytes == 0 { "N/A".to_string() } else { format!("{}  (current num bytes: {bytes} bytes)", crate::mgr::si_bytes(p.quota_max_bytes)) };
    ok("", c.out(&v, || format!("quotas for pool '{name}':\n  max objects: {objs}\n  max bytes  : {byts}\n")))
}

fn pool_set_quota(c: &Ctx) -> CmdReply {
    let name = c.s("pool").unwrap_or_default();
    let field = c.s("field").unwrap_or_default();
    let val = c.s("val").unwrap_or_default();
    if field != "max_objects" && field != "max_bytes" {
        return err(EINVAL, format!("unrecognized field '{field}'"));
    }
    let Ok(n) = val.parse::<u64>() else { return err(EINVAL, format!("error parsing value '{val}'")) };
    let mut cl = c.mon.lock();
    let id = match pool_id(&cl, &name) {
        Ok(id) => id,
        Err(e) => return e,
    };
    let m = cl.next_osdmap(|m| {
        if let Some(p) = m.pools.get_mut(&id) {
            if field == "max_objects" {
                p.quota_max_objects = n;
            } else {
                p.quota_max_bytes = n;
            }
            p.last_change = m.epoch;
        }
    });
    commit_osd(&mut cl, m, ok(format!("set-quota {field} = {n} for pool {name}"), Bytes::new()))
}

fn pool_application(c: &Ctx, prefix: &str) -> CmdReply {
    let name = c.s("pool").unwrap_or_default();
    let app = c.s("app").unwrap_or_default();
    let mut cl = c.mon.lock();
    let id = match pool_id(&cl, &name) {
        Ok(id) => id,
        Err(e) => return e,
    };
    let mut p = cl.osdmap.pools[&id].clone();
    let rs;
    match prefix {
        "osd pool application enable" => {
            if p.application_metadata.contains_key(&app) {
                return ok(format!("application '{app}' already enabled on pool '{name}'"), Bytes::new());
            }
            if !p.application_metadata.is_empty() && !c.b("yes_i_really_mean_it") {
                return err(EPERM, format!("Are you SURE? Pool '{name}' already has an enabled application; pass --yes-i-really-mean-it to proceed anyway"));
            }
            p.application_metadata.insert(app.clone(), BTreeMap::new());
            rs = format!("enabled application '{app}' on pool '{name}'");
        }
        "osd pool application disable" => {
            if !c.b("yes_i_really_mean_it") {
                return err(EPERM, format!("Are you SURE? Disabling an application within a pool might result in loss of application functionality; pass --yes-i-really-mean-it to proceed anyway"));
            }
            if p.application_metadata.remove(&app).is_none() {
                return ok(format!("application '{app}' is not enabled on pool '{name}'"), Bytes::new());
            }
            rs = format!("disable application '{app}' on pool '{name}'");
        }
        "osd pool application set" => {
            let (k, v) = (c.s("key").unwrap_or_default(), c.s("value").unwrap_or_default());
            let Some(md) = p.application_metadata.get_mut(&app) else { return err(ENOENT, format!("application '{app}' is not enabled on pool '{name}'")) };
            md.insert(k.clone(), v.clone());
            rs = format!("set application '{app}' key '{k}' to '{v}' on pool '{name}'");
        }
        _ => {
            let k = c.s("key").unwrap_or_default();
            let Some(md) = p.application_metadata.get_mut(&app) else { return err(ENOENT, format!("application '{app}' is not enabled on pool '{name}'")) };
            if md.remove(&k).is_none() {
                return ok(format!("application '{app}' on pool '{name}' does not have key '{k}'"), Bytes::new());
            }
            rs = format!("removed application '{app}' key '{k}' on pool '{name}'");
        }
    }
    let m = cl.next_osdmap(|m| {
        p.last_change = m.epoch;
        m.pools.insert(id, p);
    });
    commit_osd(&mut cl, m, ok(rs, Bytes::new()))
}

fn pool_application_get(c: &Ctx) -> CmdReply {
    let cl = c.mon.lock();
    let v = match c.s("pool") {
        Some(name) => {
            let id = match pool_id(&cl, &name) {
        Ok(id) => id,
        Err(e) => return e,
    };
            let md = &cl.osdmap.pools[&id].application_metadata;
            match c.s("app") {
                Some(app) => match md.get(&app) {
                    Some(kv) => match c.s("key") {
                        Some(k) => match kv.get(&k) {
                            Some(v) => return ok("", Bytes::from(format!("{v}\n"))),
                            None => return err(ENOENT, format!("application '{app}' on pool '{name}' does not have key '{k}'")),
                        },
                        None => json!(kv),
                    },
                    None => return err(ENOENT, format!("pool '{name}' does not have application '{app}'")),
                },
                None => json!(md),
            }
        }
        None => {
            let m: Map<String, Value> = cl.osdmap.pools.iter().map(|(id, p)| (cl.osdmap.pool_name.get(id).cloned().unwrap_or_default(), json!(p.application_metadata))).collect();
            Value::Object(m)
        }
    };
    ok("", c.out_json(&v))
}

fn pool_snap(c: &Ctx, create: bool) -> CmdReply {
    let name = c.s("pool").unwrap_or_default();
    let snap = c.s("snap").unwrap_or_default();
    let mut cl = c.mon.lock();
    let id = match pool_id(&cl, &name) {
        Ok(id) => id,
        Err(e) => return e,
    };
    let p = cl.osdmap.pools[&id].clone();
    match pool_snap_change(&mut cl, id, p, create, &snap) {
        Ok(_) => changed(ok(format!("{} pool {name} snap {snap}", if create { "created" } else { "removed" }), Bytes::new())),
        Err((r, rs)) if r == 0 => ok(rs, Bytes::new()),
        Err((r, rs)) => err(r, rs),
    }
}

/// Adds or removes a pool snapshot; returns the new map epoch.
fn pool_snap_change(cl: &mut Cluster, id: i64, mut p: maps::pool::PgPool, create: bool, snap: &str) -> Result<u32, (i32, String)> {
    let existing = p.snaps.iter().find(|(_, s)| s.name == snap).map(|(k, _)| *k);
    if create {
        if p.flags & maps::pool::FLAG_SELFMANAGED_SNAPS != 0 {
            return Err((EINVAL, "pool is in unmanaged snaps mode".into()));
        }
        if existing.is_some() {
            return Err((0, format!("pool {} snap {snap} already exists", cl.osdmap.pool_name.get(&id).cloned().unwrap_or_default())));
        }
        p.snap_seq += 1;
        p.flags |= maps::pool::FLAG_POOL_SNAPS;
        let sid = p.snap_seq;
        p.snaps.insert(sid, maps::pool::PoolSnapInfo { snapid: sid, stamp: Utime::now(), name: snap.to_string() });
    } else {
        let Some(sid) = existing else {
            return Err((0, format!("pool {} snap {snap} does not exist", cl.osdmap.pool_name.get(&id).cloned().unwrap_or_default())));
        };
        p.snaps.remove(&sid);
        p.snap_seq += 1;
        add_removed(&mut p.removed_snaps, sid);
    }
    let removed_now = if create { None } else { existing };
    let m = cl.next_osdmap(|m| {
        p.snap_epoch = m.epoch;
        p.last_change = m.epoch;
        if let Some(sid) = removed_now {
            add_removed(m.new_removed_snaps.entry(id).or_default(), sid);
        }
        m.pools.insert(id, p);
    });
    let e = m.epoch;
    cl.commit_osdmap(m, Txn::default()).map_err(|e| (EIO, e))?;
    Ok(e)
}

pub fn add_removed(set: &mut BTreeMap<u64, u64>, s: u64) {
    // interval_set insert of a single id, merging neighbours.
    let mut start = s;
    let mut len = 1;
    if let Some((&ps, &pl)) = set.range(..s).next_back() {
        if ps + pl == s {
            start = ps;
            len += pl;
            set.remove(&ps);
        } else if ps + pl > s {
            return;
        }
    }
    if let Some(&nl) = set.get(&(s + 1)) {
        len += nl;
        set.remove(&(s + 1));
    }
    set.insert(start, len);
}

/// MPoolOp: create/delete pools and pool or self-managed snapshots.
/// Returns (reply code, epoch, response data, changed).
pub fn pool_op(mon: &Mon, who: &EntityName, caps: &MonCap, op: &PoolOp) -> (i32, u32, Bytes, bool) {
    if !caps.is_capable("osd", "", &BTreeMap::new(), caps::R | caps::W) {
        return (EPERM, 0, Bytes::new(), false);
    }
    let mut cl = mon.lock();
    let epoch = cl.osdmap.epoch;
    match op.op {
        POOL_OP_CREATE => {
            drop(cl);
            let mut args = Map::new();
            args.insert("pool".into(), json!(op.name));
            let ctx = Ctx { mon, who, args, format: None, inbl: &Bytes::new() };
            let r = pool_create(&ctx);
            let e = mon.lock().osdmap.epoch;
            let code = if r.rs.ends_with("already exists") { EEXIST } else { r.r };
            (code, e, Bytes::new(), r.changed)
        }
        POOL_OP_DELETE => {
            let id = op.pool as i64;
            let Some(name) = cl.osdmap.pool_name.get(&id).cloned() else { return (0, epoch, Bytes::new(), false) };
            if !mon.settings.get_bool("mon_allow_pool_delete", false) || cl.osdmap.pools.get(&id).is_some_and(|p| p.flags & maps::pool::FLAG_NODELETE != 0) {
                return (EPERM, epoch, Bytes::new(), false);
            }
            let m = cl.next_osdmap(|m| {
                m.pools.remove(&id);
                m.pool_name.remove(&id);
            });
            let e = m.epoch;
            match cl.commit_osdmap(m, Txn::default()) {
                Ok(()) => {
                    cl.clog(&format!("mon.{}", mon.settings.name), "[INF]", format!("pool '{name}' removed"));
                    (0, e, Bytes::new(), true)
                }
                Err(_) => (EIO, epoch, Bytes::new(), false),
            }
        }
        POOL_OP_CREATE_SNAP | POOL_OP_DELETE_SNAP => {
            let id = op.pool as i64;
            let Some(p) = cl.osdmap.pools.get(&id).cloned() else { return (ENOENT, epoch, Bytes::new(), false) };
            match pool_snap_change(&mut cl, id, p, op.op == POOL_OP_CREATE_SNAP, &op.name) {
                Ok(e) => (0, e, Bytes::new(), true),
                Err((0, _)) => (if op.op == POOL_OP_CREATE_SNAP { EEXIST } else { ENOENT }, epoch, Bytes::new(), false),
                Err((r, _)) => (r, epoch, Bytes::new(), false),
            }
        }
        POOL_OP_CREATE_UNMANAGED_SNAP | POOL_OP_DELETE_UNMANAGED_SNAP => {
            let id = op.pool as i64;
            let Some(mut p) = cl.osdmap.pools.get(&id).cloned() else { return (ENOENT, epoch, Bytes::new(), false) };
            if p.flags & maps::pool::FLAG_POOL_SNAPS != 0 {
                return (EINVAL, epoch, Bytes::new(), false);
            }
            p.flags |= maps::pool::FLAG_SELFMANAGED_SNAPS;
            let mut data = Bytes::new();
            if op.op == POOL_OP_CREATE_UNMANAGED_SNAP {
                // pg_pool_t::add_unmanaged_snap: the first id handed out is 2.
                p.snap_seq = p.snap_seq.max(1) + 1;
                let mut e = Encoder::new(0);
                e.u64(p.snap_seq);
                data = e.into_bytes();
            } else {
                if op.snapid == 0 || op.snapid > p.snap_seq {
                    return (ENOENT, epoch, Bytes::new(), false);
                }
                add_removed(&mut p.removed_snaps, op.snapid);
                // pg_pool_t::remove_unmanaged_snap: removal bumps the seq too.
                p.snap_seq += 1;
            }
            let m = cl.next_osdmap(|m| {
                p.snap_epoch = m.epoch;
                p.last_change = m.epoch;
                if op.op == POOL_OP_DELETE_UNMANAGED_SNAP {
                    add_removed(m.new_removed_snaps.entry(id).or_default(), op.snapid);
                }
                m.pools.insert(id, p);
            });
            let e = m.epoch;
            match cl.commit_osdmap(m, Txn::default()) {
                Ok(()) => (0, e, data, true),
                Err(_) => (EIO, epoch, Bytes::new(), false),
            }
        }
        _ => (EINVAL, epoch, Bytes::new(), false),
    }
}

/// MGetPoolStatsReply with zeroed stats (no OSDs report yet): PaxosHeader, fsid,
/// empty map, per_pool flag.
pub fn pool_stats_reply(mon: &Mon, _q: &GetPoolStats) -> Bytes {
    let mut e = Encoder::new(PACIFIC_SUPPORTED);
    e.u64(mon.lock().osdmap.epoch as u64);
    e.i16(-1);
    e.u64(0);
    mon.fsid.encode(&mut e);
    e.u32(0);
    e.into_bytes()
}

/// MStatfsReply: PaxosHeader then `ceph_mon_statfs_reply` (fsid, version, statfs).
pub fn statfs_reply(mon: &Mon, _m: &RawMessage) -> Bytes {
    let mut e = Encoder::new(PACIFIC_SUPPORTED);
    let ep = mon.lock().osdmap.epoch as u64;
    e.u64(ep);
    e.i16(-1);
    e.u64(0);
    mon.fsid.encode(&mut e);
    e.u64(ep);
    for _ in 0..4 {
        e.u64(0);
    }
    e.into_bytes()
}

/// MLog: store the entries (callers need `log w`), answer with MLogAck(fsid, last seq, channel).
pub fn handle_log(mon: &Mon, who: &Identity, caps: &MonCap, m: &RawMessage, conn: &msgr::Connection, _features: u64) {
    let mut r = Reader::new(m.front.clone());
    let parse = |r: &mut Reader| -> Result<(Vec<(String, u16)>, u64), denc::Error> {
        r.u64()?;
        r.i16()?;
        r.u64()?;
        let _fsid = types::Uuid::decode(r)?;
        let n = r.count(20)?;
        let mut out = Vec::new();
        let mut last = 0;
        for _ in 0..n {
            // LogEntry v5: EntityName, entity_name_t, addrs, stamp, seq, prio, msg, channel
            let (_, mut b) = r.versioned(5, "LogEntry")?;
            let _name = EntityName::decode(&mut b)?;
            b.u8()?;
            b.i64()?;
            let _addrs: types::EntityAddrVec = denc::Decode::decode(&mut b)?;
            let _stamp = Utime::decode(&mut b)?;
            let seq = b.u64()?;
            let prio = b.u16()?;
            let msg = b.string()?;
            last = seq;
            out.push((msg, prio));
        }
        Ok((out, last))
    };
    let Ok((entries, last)) = parse(&mut r) else {
        tracing::debug!(name = %who.name, "malformed MLog dropped");
        return;
    };
    if caps.is_capable("log", "", &BTreeMap::new(), caps::W) {
        let mut cl = mon.lock();
        for (msg, prio) in entries {
            let p = match prio {
                0 => "[DBG]",
                1 => "[INF]",
                2 => "[SEC]",
                3 => "[WRN]",
                _ => "[ERR]",
            };
            cl.clog(&who.name.to_string(), p, msg);
        }
    }
    let mut e = Encoder::new(PACIFIC_SUPPORTED);
    mon.fsid.encode(&mut e);
    e.u64(last);
    e.string("cluster");
    let _ = conn.send(RawMessage { header: crate::service::reply_header(53, m.header.tid, 2), front: e.into_bytes(), ..Default::default() });
}

// ---------------------------------------------------------------- auth

fn parse_entity(s: &str) -> Result<EntityName, CmdReply> {
    s.parse::<EntityName>().map_err(|_| err(EINVAL, format!("bad entity name '{s}'")))
}

fn caps_from_args(c: &Ctx) -> Result<BTreeMap<String, String>, CmdReply> {
    let v = c.strs("caps");
    if v.len() % 2 != 0 {
        return Err(err(EINVAL, "caps must be given as pairs of service and capability"));
    }
    let mut out = BTreeMap::new();
    for p in v.chunks(2) {
        if let Err(e) = caps::validate(&p[0], &p[1]) {
            return Err(err(EINVAL, format!("Error EINVAL: {e}")));
        }
        out.insert(p[0].clone(), p[1].clone());
    }
    Ok(out)
}

fn keyring_text(entries: &[(EntityName, &EntityAuth)], with_caps: bool) -> String {
    let mut s = String::new();
    for (n, a) in entries {
        s += &format!("[{n}]\n\tkey = {}\n", a.key.to_base64());
        if with_caps {
            for (svc, cap) in &a.caps {
                s += &format!("\tcaps {svc} = \"{cap}\"\n");
            }
        }
    }
    s
}

fn entity_json(n: &EntityName, a: &EntityAuth) -> Value {
    json!({"entity": n.to_string(), "key": a.key.to_base64(), "caps": a.caps})
}

fn auth_add(c: &Ctx, prefix: &str) -> CmdReply {
    let ename = match parse_entity(&c.s("entity").unwrap_or_default()) {
        Ok(n) => n,
        Err(e) => return e,
    };
    let wanted = match caps_from_args(c) {
        Ok(v) => v,
        Err(e) => return e,
    };
    let mut cl = c.mon.lock();
    // `auth add -i keyring`: the key (and caps) may come in the input.
    let mut key_in: Option<CryptoKey> = None;
    let mut caps_in = BTreeMap::new();
    if prefix == "auth add" && !c.inbl.is_empty() {
        match config::Keyring::parse(&String::from_utf8_lossy(c.inbl)) {
            Ok(kr) => {
                if let Some(ent) = kr.get(&ename) {
                    key_in = CryptoKey::from_base64(&ent.key).ok();
                    caps_in = ent.caps.clone();
                }
            }
            Err(e) => return err(EINVAL, format!("unable to load keyring: {e}")),
        }
    }
    let caps = if wanted.is_empty() { caps_in } else { wanted };
    if let Some(existing) = cl.keys.get(&ename).cloned() {
        if prefix == "auth add" {
            if key_in.as_ref().map(|k| k.secret == existing.key.secret).unwrap_or(true) && (caps.is_empty() || caps == existing.caps) {
                // Adding an identical entity again is a no-op success, as in Ceph.
                return ok(format!("added key for {ename}"), Bytes::new());
            }
            return err(EINVAL, format!("entity {ename} exists but key does not match"));
        }
        for (svc, cap) in &caps {
            if existing.caps.get(svc) != Some(cap) {
                return err(EINVAL, format!("key for {ename} exists but cap {svc} does not match"));
            }
        }
        return ok("", entity_out(c, &ename, &existing, prefix));
    }
    let ea = EntityAuth { key: key_in.unwrap_or_else(CryptoKey::generate), caps };
    let mut ks = cl.keys.clone();
    ks.entities.insert(ename.clone(), ea.clone());
    if let Err(e) = cl.commit_keys(ks, Txn::default()) {
        return err(EIO, e);
    }
    if prefix == "auth add" {
        return ok(format!("added key for {ename}"), Bytes::new());
    }
    ok("", entity_out(c, &ename, &ea, prefix))
}

fn entity_out(c: &Ctx, n: &EntityName, a: &EntityAuth, prefix: &str) -> Bytes {
    if prefix == "auth get-or-create-key" {
        return c.out(&json!({"key": a.key.to_base64()}), || format!("{}\n", a.key.to_base64()));
    }
    c.out(&json!([entity_json(n, a)]), || keyring_text(&[(n.clone(), a)], false))
}

fn auth_get(c: &Ctx, prefix: &str) -> CmdReply {
    let cl = c.mon.lock();
    let list: Vec<(EntityName, &EntityAuth)> = match c.s("entity") {
        Some(e) => {
            let n = match parse_entity(&e) {
                Ok(n) => n,
                Err(r) => return r,
            };
            match cl.keys.get(&n) {
                Some(a) => vec![(n, a)],
                None => return err(ENOENT, format!("failed to find {e} in keyring")),
            }
        }
        None => cl.keys.entities.iter().map(|(n, a)| (n.clone(), a)).collect(),
    };
    let v = json!(list.iter().map(|(n, a)| entity_json(n, a)).collect::<Vec<_>>());
    let rs = match (prefix, list.first()) {
        ("auth get", Some((n, _))) => format!("exported keyring for {n}"),
        _ => "exported master keyring".to_string(),
    };
    ok(rs, c.out(&v, || keyring_text(&list, true)))
}

fn auth_ls(c: &Ctx) -> CmdReply {
    let cl = c.mon.lock();
    let v = json!({"auth_dump": cl.keys.entities.iter().map(|(n, a)| entity_json(n, a)).collect::<Vec<_>>()});
    ok("installed auth entries:\n", c.out(&v, || {
        let mut s = String::new();
        for (n, a) in &cl.keys.entities {
            s += &format!("{n}\n\tkey: {}\n", a.key.to_base64());
            for (svc, cap) in &a.caps {
                s += &format!("\tcaps: [{svc}] {cap}\n");
            }
        }
        s
    }))
}

fn auth_del(c: &Ctx) -> CmdReply {
    let e = c.s("entity").unwrap_or_default();
    let n = match parse_entity(&e) {
        Ok(n) => n,
        Err(r) => return r,
    };
    let mut cl = c.mon.lock();
    if cl.keys.get(&n).is_none() {
        return err(ENOENT, format!("failed to find {e} in keyring"));
    }
    let mut ks = cl.keys.clone();
    ks.entities.remove(&n);
    match cl.commit_keys(ks, Txn::default()) {
        Ok(()) => ok("updated", Bytes::new()),
        Err(x) => err(EIO, x),
    }
}

fn auth_caps(c: &Ctx) -> CmdReply {
    let e = c.s("entity").unwrap_or_default();
    let n = match parse_entity(&e) {
        Ok(n) => n,
        Err(r) => return r,
    };
    let caps = match caps_from_args(c) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let mut cl = c.mon.lock();
    let Some(mut a) = cl.keys.get(&n).cloned() else { return err(ENOENT, format!("couldn't find entry {e}")) };
    a.caps = caps;
    let mut ks = cl.keys.clone();
    ks.entities.insert(n.clone(), a);
    match cl.commit_keys(ks, Txn::default()) {
        Ok(()) => ok(format!("updated caps for {n}"), Bytes::new()),
        Err(x) => err(EIO, x),
    }
}

fn auth_print_key(c: &Ctx) -> CmdReply {
    let e = c.s("entity").unwrap_or_default();
    let n = match parse_entity(&e) {
        Ok(n) => n,
        Err(r) => return r,
    };
    let cl = c.mon.lock();
    match cl.keys.get(&n) {
        Some(a) => ok("", c.out(&json!({"key": a.key.to_base64()}), || format!("{}\n", a.key.to_base64()))),
        None => err(ENOENT, format!("don't have {e}")),
    }
}

fn auth_import(c: &Ctx) -> CmdReply {
    let kr = match config::Keyring::parse(&String::from_utf8_lossy(c.inbl)) {
        Ok(k) => k,
        Err(e) => return err(EINVAL, format!("could not parse keyring: {e}")),
    };
    let mut cl = c.mon.lock();
    let mut ks = cl.keys.clone();
    for (ename, ent) in &kr.entries {
        let Ok(key) = CryptoKey::from_base64(&ent.key) else { return err(EINVAL, format!("bad key for {ename}")) };
        for (svc, cap) in &ent.caps {
            if let Err(e) = caps::validate(svc, cap) {
                return err(EINVAL, e.to_string());
            }
        }
        ks.entities.insert(ename.clone(), EntityAuth { key, caps: ent.caps.clone() });
    }
    match cl.commit_keys(ks, Txn::default()) {
        Ok(()) => ok("imported keyring", Bytes::new()),
        Err(x) => err(EIO, x),
    }
}

// ---------------------------------------------------------------- config

fn valid_who(who: &str) -> bool {
    who == "global" || EntityType::from_name(who).is_some() || who.parse::<EntityName>().is_ok() || who.contains('/')
}

fn config_set(c: &Ctx) -> CmdReply {
    let who = c.s("who").unwrap_or_default();
    let name = config::normalize_key(&c.s("name").unwrap_or_default());
    let value = c.s("value").unwrap_or_default();
    if !valid_who(&who) {
        return err(EINVAL, format!("unrecognized config target '{who}'"));
    }
    if who.contains('/') {
        return err(EOPNOTSUPP, format!("config masks ('{who}') are not supported by this monitor yet"));
    }
    let mut t = Txn::default();
    t.put(format!("config/{who}/{name}"), value.clone().into_bytes());
    let mut cl = c.mon.lock();
    if let Err(e) = cl.store.commit(t) {
        return err(EIO, e);
    }
    cl.config.insert((who, name), value);
    changed(ok("", Bytes::new()))
}

fn config_rm(c: &Ctx) -> CmdReply {
    let who = c.s("who").unwrap_or_default();
    let name = config::normalize_key(&c.s("name").unwrap_or_default());
    let mut t = Txn::default();
    t.del(format!("config/{who}/{name}"));
    let mut cl = c.mon.lock();
    if let Err(e) = cl.store.commit(t) {
        return err(EIO, e);
    }
    cl.config.remove(&(who, name));
    changed(ok("", Bytes::new()))
}

fn config_get(c: &Ctx) -> CmdReply {
    let who = c.s("who").unwrap_or_default();
    let cl = c.mon.lock();
    let (ty, full) = match who.parse::<EntityName>() {
        Ok(n) => (n.ty.name().to_string(), n.to_string()),
        Err(_) => (who.clone(), who.clone()),
    };
    let eff = cl.config_for(&ty, &full);
    match c.s("key") {
        Some(k) => {
            let k = config::normalize_key(&k);
            let v = eff.get(&k).cloned().or_else(|| c.mon.settings.get(&k).map(str::to_string));
            match v {
                Some(v) => ok("", c.out(&json!(v), || format!("{v}\n"))),
                None => err(ENOENT, format!("unrecognized key '{k}'")),
            }
        }
        None => {
            let m: Map<String, Value> = eff.iter().map(|(k, v)| (k.clone(), json!({"value": v, "section": who, "mask": "", "can_update_at_runtime": true}))).collect();
            ok("", c.out(&Value::Object(m), || {
                let mut s = format!("{:<8}{:<6}{:<12}{:<30}{}\n", "WHO", "MASK", "LEVEL", "OPTION", "VALUE");
                for (k, v) in &eff {
                    s += &format!("{:<8}{:<6}{:<12}{:<30}{}\n", who, "", "advanced", k, v);
                }
                s
            }))
        }
    }
}

fn config_dump(c: &Ctx) -> CmdReply {
    let cl = c.mon.lock();
    let rows: Vec<Value> = cl
        .config
        .iter()
        .map(|((who, k), v)| json!({"section": who, "name": k, "value": v, "level": "advanced", "can_update_at_runtime": true, "mask": ""}))
        .collect();
    ok("", c.out(&json!(rows), || {
        let mut s = format!("{:<7}{:<6}{:<10}{:<40}{:<20}{}\n", "WHO", "MASK", "LEVEL", "OPTION", "VALUE", "RO");
        for ((who, k), v) in &cl.config {
            s += &format!("{:<7}{:<6}{:<10}{:<40}{:<20}\n", who, "", "advanced", k, v);
        }
        s
    }))
}
