//! The manager built into the monitor: it binds its own msgr2 address, names
//! itself the active mgr in the MgrMap, and answers the mgr commands the real
//! CLI sends there (`df`, `pg stat`, `osd df`, ...). Clients reach it with a
//! cephx authorizer for the MGR service, as they would a real ceph-mgr.

use crate::commands::{self, arg_strings, formatted, perm_bits, CmdReply};
use crate::service::{Identity, Mon, MonAuth};
use crate::store::Txn;
use auth::caps::MonCap;
use bytes::Bytes;
use denc::Utime;
use messages::mon::{Command, CommandReply, MgrCommand, MgrCommandReply};
use messages::Message;
use serde_json::{json, Map, Value};
use std::sync::Arc;
use std::time::Duration;
use tracing::{debug, info};
use types::features::PACIFIC_SUPPORTED;
use types::{AddrType, EntityAddr, EntityAddrVec, EntityType};

pub const ALWAYS_ON: [&str; 10] = ["balancer", "crash", "devicehealth", "orchestrator", "pg_autoscaler", "progress", "rbd_support", "status", "telemetry", "volumes"];
const DEFAULT_MODULES: [&str; 3] = ["iostat", "nfs", "restful"];

/// Bytes as Ceph's `byte_u_t` prints them: `0 B`, `871 MiB`, `3.5 GiB`.
pub fn si_bytes(n: u64) -> String {
    const U: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut i = 0;
    let mut v = n as f64;
    while v >= 1024.0 && i < U.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 || (v - v.round()).abs() < 0.05 && v >= 10.0 || v >= 100.0 {
        format!("{} {}", v.round() as u64, U[i])
    } else {
        format!("{:.1} {}", v, U[i])
    }
}

/// Binds the mgr listener on `ip` (first free port of 6800-7300, as Ceph's
/// daemons pick theirs), then publishes a MgrMap naming it active.
pub async fn start(mon: Arc<Mon>, ip: std::net::IpAddr) -> Result<EntityAddr, String> {
    let nonce: u32 = rand::random::<u32>() & 0x7fff_ffff;
    let auth = Arc::new(MonAuth { mon: mon.clone(), service: Some(EntityType::MGR) });
    let mut last_err = String::new();
    for port in 6800..7300u16 {
        let sa = std::net::SocketAddr::new(ip, port);
        let addr = EntityAddr::new(AddrType::Msgr2, sa, nonce);
        let opts = msgr::server::ServerOptions {
            my_type: EntityType::MGR,
            my_addrs: EntityAddrVec::single(addr),
            my_gid: 0,
            lossy_clients: true,
            handshake_timeout: Duration::from_secs(30),
            keepalive_secs: 0,
        };
        let m2 = mon.clone();
        match msgr::server::listen(sa, opts, auth.clone(), move |a| serve(m2.clone(), a.conn, a.incoming, a.identity)).await {
            Ok(_task) => {
                publish(&mon, addr)?;
                info!(%addr, "mgr service listening");
                return Ok(addr);
            }
            Err(e) => last_err = e.to_string(),
        }
    }
    Err(format!("no free port for the mgr service in 6800-7300 on {ip}: {last_err}"))
}

fn publish(mon: &Mon, addr: EntityAddr) -> Result<(), String> {
    let mut c = mon.lock();
    let gid = c.alloc_global_id()?;
    let mut m = c.mgrmap.clone();
    m.epoch += 1;
    m.active_gid = gid;
    m.active_name = mon.settings.name.clone();
    m.active_addrs = EntityAddrVec::single(addr);
    m.available = true;
    m.active_change = Utime::now();
    m.active_mgr_features = PACIFIC_SUPPORTED;
    m.modules = DEFAULT_MODULES.iter().map(|s| s.to_string()).collect();
    m.always_on_modules.insert(16, ALWAYS_ON.iter().map(|s| s.to_string()).collect());
    c.commit_mgrmap(m, Txn::default())?;
    drop(c);
    mon.notify();
    Ok(())
}

async fn serve(mon: Arc<Mon>, conn: msgr::Connection, mut incoming: msgr::Incoming, who: Identity) {
    let features = conn.info.features;
    while let Some(m) = incoming.recv().await {
        let tid = m.header.tid;
        let (cmd, inbl, mgr_cmd) = match m.header.ty {
            messages::types::MGR_COMMAND => match MgrCommand::from_raw(&m) {
                Ok(c) => (c.cmd, c.inbl, true),
                Err(e) => {
                    debug!("bad MMgrCommand: {e}");
                    break;
                }
            },
            messages::types::COMMAND => match Command::from_raw(&m) {
                Ok(c) => (c.cmd, c.inbl, false),
                Err(e) => {
                    debug!("bad MCommand: {e}");
                    break;
                }
            },
            other => {
                debug!(ty = other, "mgr ignores message");
                continue;
            }
        };
        let rep = handle(&mon, &who, &cmd, &inbl);
        let raw = if mgr_cmd {
            MgrCommandReply { r: rep.r, rs: rep.rs, outbl: rep.out }.to_raw(tid, features)
        } else {
            CommandReply { r: rep.r, rs: rep.rs, outbl: rep.out }.to_raw(tid, features)
        };
        let _ = conn.send(raw);
    }
}

fn handle(mon: &Mon, who: &Identity, cmd: &[String], _inbl: &Bytes) -> CmdReply {
    let err = |r: i32, rs: &str| CmdReply { r, rs: rs.to_string(), ..Default::default() };
    let Some(first) = cmd.first() else { return err(-22, "empty command") };
    let Ok(Value::Object(args)) = serde_json::from_str::<Value>(first) else { return err(-22, "command must be a JSON object") };
    let prefix = args.get("prefix").and_then(|v| v.as_str()).unwrap_or("").to_string();
    let Some((module, perm, _)) = commands::descriptions().1.get(&prefix).cloned() else {
        return err(-22, "command not known");
    };
    // The mgr checks the entity's mgr caps (MgrCap), not its mon caps.
    let caps = {
        let c = mon.lock();
        c.keys.get(&who.name).and_then(|e| e.caps.get("mgr")).and_then(|s| MonCap::parse(s).ok()).unwrap_or_default()
    };
    if !caps.is_capable(&module, &prefix, &arg_strings(&args), perm_bits(&perm)) {
        return err(-13, "access denied: does your client key have mgr caps? See http://docs.ceph.com/en/latest/mgr/administrator/#client-authentication");
    }
    run_command(mon, &args)
}

/// Runs a mgr command whose caller has already been authorized.
pub fn run_command(mon: &Mon, args: &Map<String, Value>) -> CmdReply {
    let err = |r: i32, rs: &str| CmdReply { r, rs: rs.to_string(), ..Default::default() };
    let prefix = args.get("prefix").and_then(|v| v.as_str()).unwrap_or("").to_string();
    let format = args.get("format").and_then(|v| v.as_str()).map(str::to_string);
    let out = |v: &Value, plain: String| formatted(format.as_deref(), v, || plain);
    let c = mon.lock();
    let pools = &c.osdmap.pools;
    let num_pgs: u64 = pools.values().map(|p| p.pg_num as u64).sum();
    let ok = |out: Bytes| CmdReply { r: 0, rs: String::new(), out, changed: false };
    match prefix.as_str() {
        "df" => {
            let pl: Vec<Value> = pools
                .iter()
                .map(|(id, _)| json!({"name": c.osdmap.pool_name.get(id), "id": id, "stats": {"stored": 0, "objects": 0, "kb_used": 0, "bytes_used": 0, "percent_used": 0, "max_avail": 0}}))
                .collect();
            let v = json!({
                "stats": {"total_bytes": 0, "total_avail_bytes": 0, "total_used_bytes": 0, "total_used_raw_bytes": 0, "total_used_raw_ratio": 0, "num_osds": 0, "num_per_pool_osds": 0, "num_per_pool_omap_osds": 0},
                "stats_by_class": {},
                "pools": pl,
            });
            let mut s = String::from("--- RAW STORAGE ---\nCLASS  SIZE  AVAIL  USED  RAW USED  %RAW USED\nTOTAL   0 B    0 B   0 B       0 B          0\n \n--- POOLS ---\n");
            let w = pools.keys().filter_map(|id| c.osdmap.pool_name.get(id)).map(|n| n.len()).max().unwrap_or(4).max(4);
            s += &format!("{:<w$}  ID  PGS  STORED  OBJECTS  USED  %USED  MAX AVAIL\n", "POOL");
            for (id, p) in pools {
                s += &format!("{:<w$}  {:>2}  {:>3}     0 B        0   0 B      0        0 B\n", c.osdmap.pool_name.get(id).cloned().unwrap_or_default(), id, p.pg_num);
            }
            ok(out(&v, s))
        }
        "pg stat" => {
            let by_state: Vec<Value> = if num_pgs > 0 { vec![json!({"name": "unknown", "num": num_pgs})] } else { vec![] };
            let v = json!({"pg_ready": true, "pg_summary": {"num_pg_by_state": by_state, "num_pgs": num_pgs, "num_bytes": 0, "total_bytes": 0, "total_avail_bytes": 0, "total_used_bytes": 0, "total_used_raw_bytes": 0}});
            let plain = if num_pgs > 0 { format!("{num_pgs} pgs: {num_pgs} unknown; 0 B data, 0 B used, 0 B / 0 B avail\n") } else { "0 pgs: ; 0 B data, 0 B used, 0 B / 0 B avail\n".to_string() };
            ok(out(&v, plain))
        }
        "pg dump" | "pg ls" => {
            let mut stats = Vec::new();
            for (id, p) in pools {
                for seed in 0..p.pg_num {
                    let pg = types::osd::PgId { pool: *id as u64, seed };
                    let mp = c.osdmap.pg_to_up_acting(pg);
                    stats.push(json!({"pgid": pg.to_string(), "version": "0'0", "reported_seq": 0, "reported_epoch": 0, "state": "unknown", "up": mp.up, "acting": mp.acting, "up_primary": mp.up_primary, "acting_primary": mp.acting_primary, "stat_sum": {"num_bytes": 0, "num_objects": 0}}));
                }
            }
            if prefix == "pg ls" {
                let v = json!({"pg_ready": true, "pg_stats": stats});
                return ok(out(&v, "PG  OBJECTS  DEGRADED  MISPLACED  UNFOUND  BYTES  OMAP_BYTES*  OMAP_KEYS*  LOG  STATE  SINCE  VERSION  REPORTED  UP  ACTING  SCRUB_STAMP  DEEP_SCRUB_STAMP\n".into()));
            }
            let v = json!({"pg_ready": true, "pg_map": {"version": 1, "stamp": Utime::now().to_iso8601(), "last_osdmap_epoch": 0, "last_pg_scan": 0, "pg_stats_sum": {}, "osd_stats_sum": {}, "pg_stats_delta": {}, "pg_stats": stats, "pool_stats": [], "osd_stats": [], "pool_statfs": []}});
            ok(out(&v, format!("version 1\nstamp {}\n", Utime::now().to_iso8601())))
        }
        "osd df" => {
            let v = json!({"nodes": [], "stray": [], "summary": {"total_kb": 0, "total_kb_used": 0, "total_kb_used_data": 0, "total_kb_used_omap": 0, "total_kb_used_meta": 0, "total_kb_avail": 0, "average_utilization": 0, "min_var": 1, "max_var": 1, "dev": 0}});
            ok(out(&v, "ID  CLASS  WEIGHT  REWEIGHT  SIZE  RAW USE  DATA  OMAP  META  AVAIL  %USE  VAR  PGS  STATUS\n                       TOTAL   0 B      0 B   0 B   0 B   0 B   0 B     0\nMIN/MAX VAR: -/-  STDDEV: 0\n".into()))
        }
        "balancer status" => {
            let v = json!({"active": true, "last_optimize_duration": "", "last_optimize_started": "", "mode": "upmap", "no_optimization_needed": false, "optimize_result": "", "plans": []});
            ok(formatted(Some(format.as_deref().unwrap_or("json-pretty")), &v, String::new))
        }
        "osd pool stats" => {
            let v: Vec<Value> = pools.keys().map(|id| json!({"pool_name": c.osdmap.pool_name.get(id), "pool_id": id, "recovery": {}, "recovery_rate": {}, "client_io_rate": {}})).collect();
            let plain: String = pools.keys().map(|id| format!("pool {} id {id}\n  nothing is going on\n\n", c.osdmap.pool_name.get(id).cloned().unwrap_or_default())).collect();
            ok(out(&json!(v), plain))
        }
        "fs status" => ok(out(&json!({}), String::new())),
        "config show" | "config show-with-defaults" => {
            let who = args.get("who").and_then(|v| v.as_str()).unwrap_or("");
            let me = [format!("mon.{}", mon.settings.name), format!("mgr.{}", mon.settings.name)];
            if !me.iter().any(|m| m == who) {
                return err(-2, &format!("no config state for daemon {who}"));
            }
            let run = &mon.settings.running;
            if let Some(k) = args.get("key").and_then(|v| v.as_str()) {
                let k = config::normalize_key(k);
                return match run.get(&k) {
                    Some((v, _)) => ok(Bytes::from(format!("{v}\n"))),
                    None => err(-2, &format!("no config for key {k}")),
                };
            }
            let v: Vec<Value> = run.iter().map(|(k, (v, src))| json!({"name": k, "value": v, "source": src})).collect();
            let w = run.keys().map(|k| k.len()).max().unwrap_or(4).max(4) + 2;
            let mut plain = format!("{:<w$}{:<40}{}\n", "NAME", "VALUE", "SOURCE");
            for (k, (v, src)) in run {
                plain += &format!("{:<w$}{:<40}{}\n", k, v, src);
            }
            ok(out(&json!(v), plain))
        }
        "osd perf" => ok(out(&json!({"osdstats": {"osd_perf_infos": []}}), "osd  commit_latency(ms)  apply_latency(ms)\n".into())),
        "crash ls" | "crash ls-new" => ok(out(&json!([]), String::new())),
        "mgr module ls" | "mgr services" => {
            let v = if prefix == "mgr services" { json!({}) } else { json!({"always_on_modules": ALWAYS_ON, "enabled_modules": DEFAULT_MODULES, "disabled_modules": []}) };
            ok(formatted(Some(format.as_deref().unwrap_or("json-pretty")), &v, String::new))
        }
        _ => {
            err(-95, &format!("mgr command '{prefix}' is not supported by this manager yet"))
        }
    }
}
