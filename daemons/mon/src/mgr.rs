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

/// Ceph's `format_u` (`include/types.h`): a whole multiple of the unit
/// plainly, else the most decimals (2, 1, 0) that fit in 7 characters.
fn format_u(v: u64, n: u64, index: usize, mult: u64, unit: &str) -> String {
    if index == 0 || v % mult == 0 {
        return format!("{n}{unit}");
    }
    let x = v as f64 / mult as f64;
    let mut s = String::new();
    for p in (0..=2).rev() {
        s = format!("{x:.p$}{unit}");
        if s.len() <= 7 {
            break;
        }
    }
    s
}

/// Bytes as Ceph's `byte_u_t` prints them: `0 B`, `871 MiB`, `3.5 GiB`.
pub fn si_bytes(v: u64) -> String {
    const U: [&str; 7] = [" B", " KiB", " MiB", " GiB", " TiB", " PiB", " EiB"];
    let (mut n, mut i) = (v, 0);
    while n >= 1024 && i < U.len() - 1 {
        n /= 1024;
        i += 1;
    }
    format_u(v, n, i, 1u64 << (10 * i), U[i])
}

/// A count as Ceph's `si_u_t` prints it: `999`, `1.50k`, `1M`.
pub fn si_count(v: u64) -> String {
    const U: [&str; 7] = ["", "k", "M", "G", "T", "P", "E"];
    let (mut n, mut i, mut mult) = (v, 0, 1u64);
    while n >= 1000 && i < U.len() - 1 {
        n /= 1000;
        i += 1;
        mult *= 1000;
    }
    format_u(v, n, i, mult, U[i])
}

#[cfg(test)]
mod units_tests {
    /// What real Pacific printed (`ceph osd pool get-quota` after `set-quota`
    /// with these values, and `ceph df`).
    #[test]
    fn units_print_as_cephs_format_u() {
        for (v, want) in [(1500, "1.50k"), (1234567, "1.23M"), (999, "999"), (1000000, "1M"), (12345, "12.35k"), (0, "0")] {
            assert_eq!(super::si_count(v), want);
        }
        for (v, want) in [(1500, "1.5 KiB"), (3758096384, "3.5 GiB"), (1099511627776, "1 TiB"), (123456789, "118 MiB"), (0, "0 B"), (1023, "1023 B")] {
            assert_eq!(super::si_bytes(v), want);
        }
    }
}

/// Binds the mgr listener on `ip` (first free port of 6800-7300, as Ceph's
/// daemons pick theirs). The leader publishes a MgrMap naming its own active
/// ([`publish`]).
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
                info!(%addr, "mgr service listening");
                return Ok(addr);
            }
            Err(e) => last_err = e.to_string(),
        }
    }
    Err(format!("no free port for the mgr service in 6800-7300 on {ip}: {last_err}"))
}

pub fn publish(mon: &Mon, addr: EntityAddr) -> Result<(), String> {
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

/// One PG's `pg_stat_t` in `pg dump`/`pg ls` JSON, from its primary's
/// report (none yet: `unknown`). No scrubs: the scrub stamps are the last
/// state change.
fn pg_stat_json(pg: types::osd::PgId, mp: &maps::osdmap::PgMapping, st: Option<&messages::osd_peer::PgStat>) -> Value {
    let g = |f: fn(&messages::osd_peer::PgStat) -> u64| st.map(f).unwrap_or(0);
    let stamp = Utime { sec: g(|s| s.last_change) as u32, nsec: 0 }.to_iso8601();
    json!({
        "pgid": pg.to_string(),
        "version": st.map(|s| format!("{}'{}", s.version.epoch, s.version.version)).unwrap_or_else(|| "0'0".into()),
        "reported_seq": 0, "reported_epoch": st.map(|s| s.reported_epoch).unwrap_or(0),
        "state": messages::osd_peer::pg_state::to_string(st.map(|s| s.state).unwrap_or(0)),
        "last_change": stamp, "up": mp.up, "acting": mp.acting, "up_primary": mp.up_primary, "acting_primary": mp.acting_primary,
        "blocked_by": st.map(|s| s.blocked_by.clone()).unwrap_or_default(), "log_size": g(|s| s.log_size), "last_scrub_stamp": stamp, "last_deep_scrub_stamp": stamp,
        "stat_sum": {"num_bytes": g(|s| s.num_bytes), "num_objects": g(|s| s.num_objects), "num_objects_degraded": g(|s| s.num_objects_degraded), "num_objects_misplaced": g(|s| s.num_objects_misplaced), "num_objects_unfound": g(|s| s.num_objects_unfound), "num_omap_bytes": g(|s| s.num_omap_bytes), "num_omap_keys": g(|s| s.num_omap_keys), "num_read": g(|s| s.num_rd), "num_write": g(|s| s.num_wr)},
    })
}

/// Ceph's `timespan_str` (whole seconds): an age in its largest sensible unit.
fn timespan_str(secs: u64) -> String {
    let (min, hr, day) = (secs / 60, secs / 3600, secs / 86400);
    if secs < 120 {
        format!("{secs}s")
    } else if min < 120 {
        format!("{min}m")
    } else if hr < 48 {
        format!("{hr}h")
    } else if day < 14 {
        format!("{day}d")
    } else if day / 7 < 12 {
        format!("{}w", day / 7)
    } else if day / 30 < 24 {
        format!("{}M", day / 30)
    } else {
        format!("{}y", day / 365)
    }
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
    let sum = crate::osdmon::summary(&c.osdmap, &mon.osd_rt());
    let pct = |n: u64, d: u64| if d == 0 { 0.0 } else { n as f64 / d as f64 };
    match prefix.as_str() {
        "df" => {
            let pl: Vec<Value> = pools
                .iter()
                .map(|(id, p)| {
                    let (objects, stored) = sum.pools.get(id).copied().unwrap_or((0, 0));
                    let used = stored * p.size as u64;
                    let max_avail = sum.bytes_avail / (p.size as u64).max(1);
                    json!({"name": c.osdmap.pool_name.get(id), "id": id, "stats": {"stored": stored, "objects": objects, "kb_used": used.div_ceil(1024), "bytes_used": used, "percent_used": pct(used, used + max_avail), "max_avail": max_avail}})
                })
                .collect();
            let v = json!({
                "stats": {"total_bytes": sum.bytes_total, "total_avail_bytes": sum.bytes_avail, "total_used_bytes": sum.bytes_used, "total_used_raw_bytes": sum.bytes_used, "total_used_raw_ratio": pct(sum.bytes_used, sum.bytes_total), "num_osds": sum.osds.len(), "num_per_pool_osds": sum.osds.len(), "num_per_pool_omap_osds": sum.osds.len()},
                "stats_by_class": {},
                "pools": pl,
            });
            let (t, a, u) = (si_bytes(sum.bytes_total), si_bytes(sum.bytes_avail), si_bytes(sum.bytes_used));
            let mut s = String::from("--- RAW STORAGE ---\n");
            s += &format!("{:<5}  {:>8}  {:>8}  {:>8}  {:>8}  {:>9}\n", "CLASS", "SIZE", "AVAIL", "USED", "RAW USED", "%RAW USED");
            s += &format!("{:<5}  {:>8}  {:>8}  {:>8}  {:>8}  {:>9.2}\n", "TOTAL", t, a, u, u, pct(sum.bytes_used, sum.bytes_total) * 100.0);
            s += " \n--- POOLS ---\n";
            let w = pools.keys().filter_map(|id| c.osdmap.pool_name.get(id)).map(|n| n.len()).max().unwrap_or(4).max(4);
            s += &format!("{:<w$}  {:>2}  {:>3}  {:>8}  {:>7}  {:>8}  {:>5}  {:>9}\n", "POOL", "ID", "PGS", "STORED", "OBJECTS", "USED", "%USED", "MAX AVAIL");
            for (id, p) in pools {
                let (objects, stored) = sum.pools.get(id).copied().unwrap_or((0, 0));
                let used = stored * p.size as u64;
                let max_avail = sum.bytes_avail / (p.size as u64).max(1);
                s += &format!(
                    "{:<w$}  {:>2}  {:>3}  {:>8}  {:>7}  {:>8}  {:>5.2}  {:>9}\n",
                    c.osdmap.pool_name.get(id).cloned().unwrap_or_default(),
                    id,
                    p.pg_num,
                    si_bytes(stored),
                    si_count(objects),
                    si_bytes(used),
                    pct(used, used + max_avail) * 100.0,
                    si_bytes(max_avail)
                );
            }
            ok(out(&v, s))
        }
        "pg stat" => {
            let by_state: Vec<Value> = sum.by_state.iter().map(|(n, k)| json!({"name": n, "num": k})).collect();
            let v = json!({"pg_ready": true, "pg_summary": {"num_pg_by_state": by_state, "num_pgs": num_pgs, "num_bytes": sum.data_bytes, "total_bytes": sum.bytes_total, "total_avail_bytes": sum.bytes_avail, "total_used_bytes": sum.bytes_used, "total_used_raw_bytes": sum.bytes_used}});
            let states: Vec<String> = sum.by_state.iter().map(|(n, k)| format!("{k} {n}")).collect();
            let mut plain = format!("{num_pgs} pgs: {}; {} data, {} used, {} / {} avail", states.join(", "), si_bytes(sum.data_bytes), si_bytes(sum.bytes_used), si_bytes(sum.bytes_avail), si_bytes(sum.bytes_total));
            if sum.degraded > 0 {
                plain += &format!("; {}/{} objects degraded ({:.3}%)", sum.degraded, sum.degraded_total, pct(sum.degraded, sum.degraded_total) * 100.0);
            }
            plain += "\n";
            ok(out(&v, plain))
        }
        "pg ls" | "pg ls-by-pool" | "pg ls-by-osd" | "pg ls-by-primary" => {
            // PGMap::get_filtered_pg_stats: by pool, by OSD (up or acting) or
            // primary, and by state (any of the named bits).
            let pool = match (prefix.as_str(), args.get("poolstr").and_then(|v| v.as_str()), args.get("pool").and_then(|v| v.as_i64())) {
                ("pg ls-by-pool", Some(name), _) => match c.osdmap.lookup_pool(name) {
                    Some(id) => Some(id),
                    None => return err(-2, &format!("pool '{name}' does not exist")),
                },
                (_, _, Some(id)) if id >= 0 => Some(id),
                _ => None,
            };
            let osd = match args.get("osd") {
                Some(v) => {
                    let s = v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string());
                    match s.trim_start_matches("osd.").parse::<i32>() {
                        Ok(o) if c.osdmap.exists(o) => Some(o),
                        _ => return err(-2, &format!("osd {s} does not exist")),
                    }
                }
                None => None,
            };
            // Wanted states: any of these bits, or (`unknown`) no report yet.
            let mut states: Option<(u64, bool)> = None;
            for n in args.get("states").and_then(|v| v.as_array()).into_iter().flatten().filter_map(|n| n.as_str()) {
                let (mask, unknown) = states.get_or_insert((0, false));
                match messages::osd_peer::pg_state::from_name(n) {
                    Some(0) => *unknown = true,
                    Some(b) => *mask |= b,
                    None => return err(-22, &format!("'{n}' is not a valid pg state, available choices: active clean down scrubbing degraded inconsistent peering repair recovering backfill_wait incomplete stale remapped deep_scrub backfilling backfill_toofull recovery_wait undersized activating peered snaptrim snaptrim_wait snaptrim_error")),
                }
            }
            let now = Utime::now();
            let mut rows: Vec<Vec<String>> = Vec::new();
            let mut stats = Vec::new();
            for (id, p) in pools {
                if pool.is_some_and(|want| want != *id) {
                    continue;
                }
                for seed in 0..p.pg_num {
                    let pg = types::osd::PgId { pool: *id as u64, seed };
                    let mp = c.osdmap.pg_to_up_acting(pg);
                    if let Some(o) = osd {
                        let hit = if prefix == "pg ls-by-primary" { mp.acting_primary == o } else { mp.up.contains(&o) || mp.acting.contains(&o) };
                        if !hit {
                            continue;
                        }
                    }
                    let st = sum.stats.get(&pg);
                    let state = st.map(|s| s.state).unwrap_or(0);
                    if states.is_some_and(|(mask, unknown)| state & mask == 0 && !(state == 0 && unknown)) {
                        continue;
                    }
                    let g = |f: fn(&messages::osd_peer::PgStat) -> u64| st.map(f).unwrap_or(0);
                    let version = st.map(|s| format!("{}'{}", s.version.epoch, s.version.version)).unwrap_or_else(|| "0'0".into());
                    let reported = format!("{}:{}", st.map(|s| s.reported_epoch).unwrap_or(0), 0);
                    let since = Utime { sec: g(|s| s.last_change) as u32, nsec: 0 };
                    let stamp = since.to_iso8601();
                    let vec_p = |v: &[i32], p: i32| format!("[{}]p{p}", v.iter().map(|o| o.to_string()).collect::<Vec<_>>().join(","));
                    let state_s = messages::osd_peer::pg_state::to_string(state);
                    rows.push(vec![
                        pg.to_string(),
                        g(|s| s.num_objects).to_string(),
                        g(|s| s.num_objects_degraded).to_string(),
                        g(|s| s.num_objects_misplaced).to_string(),
                        g(|s| s.num_objects_unfound).to_string(),
                        g(|s| s.num_bytes).to_string(),
                        g(|s| s.num_omap_bytes).to_string(),
                        g(|s| s.num_omap_keys).to_string(),
                        g(|s| s.log_size).to_string(),
                        state_s,
                        timespan_str(now.sec.saturating_sub(since.sec) as u64),
                        version,
                        reported,
                        vec_p(&mp.up, mp.up_primary),
                        vec_p(&mp.acting, mp.acting_primary),
                        stamp.clone(),
                        stamp,
                    ]);
                    stats.push(pg_stat_json(pg, &mp, st));
                }
            }
            // Ceph's TextTable: headers left, numbers right, two spaces apart.
            const COLS: [(&str, bool); 17] = [
                ("PG", false), ("OBJECTS", true), ("DEGRADED", true), ("MISPLACED", true), ("UNFOUND", true), ("BYTES", true), ("OMAP_BYTES*", true), ("OMAP_KEYS*", true), ("LOG", true),
                ("STATE", false), ("SINCE", true), ("VERSION", true), ("REPORTED", true), ("UP", true), ("ACTING", true), ("SCRUB_STAMP", true), ("DEEP_SCRUB_STAMP", true),
            ];
            let widths: Vec<usize> = COLS.iter().enumerate().map(|(i, (h, _))| rows.iter().map(|r| r[i].len()).chain([h.len()]).max().unwrap_or(0)).collect();
            let line = |cells: Vec<String>, header: bool| -> String {
                let v: Vec<String> = cells.iter().enumerate().map(|(i, x)| if COLS[i].1 && !header { format!("{x:>w$}", w = widths[i]) } else { format!("{x:<w$}", w = widths[i]) }).collect();
                v.join("  ") + "\n"
            };
            let mut plain = line(COLS.iter().map(|(h, _)| h.to_string()).collect(), true);
            for r in rows {
                plain += &line(r, false);
            }
            plain += "\n* NOTE: Omap statistics are gathered during deep scrub and may be inaccurate soon afterwards depending on utilization. See http://docs.ceph.com/en/latest/dev/placement-group/#omap-statistics for further details.\n";
            let v = json!({"pg_ready": true, "pg_stats": stats});
            ok(out(&v, plain))
        }
        "pg dump" => {
            let mut stats = Vec::new();
            for (id, p) in pools {
                for seed in 0..p.pg_num {
                    let pg = types::osd::PgId { pool: *id as u64, seed };
                    stats.push(pg_stat_json(pg, &c.osdmap.pg_to_up_acting(pg), sum.stats.get(&pg)));
                }
            }
            let v = json!({"pg_ready": true, "pg_map": {"version": 1, "stamp": Utime::now().to_iso8601(), "last_osdmap_epoch": 0, "last_pg_scan": 0, "pg_stats_sum": {}, "osd_stats_sum": {}, "pg_stats_delta": {}, "pg_stats": stats, "pool_stats": [], "osd_stats": [], "pool_statfs": []}});
            ok(out(&v, format!("version 1\nstamp {}\n", Utime::now().to_iso8601())))
        }
        "osd df" => {
            let mut nodes = Vec::new();
            let mut plain = String::from("ID  CLASS  WEIGHT   REWEIGHT  SIZE     RAW USE  DATA     OMAP  META  AVAIL    %USE   VAR   PGS  STATUS\n");
            let (mut tk, mut tu, mut td) = (0u64, 0u64, 0u64);
            let avg = pct(sum.bytes_used, sum.bytes_total);
            for o in 0..c.osdmap.max_osd {
                if !c.osdmap.exists(o) {
                    continue;
                }
                let (kb, kb_used, kb_data, npgs) = sum.osds.get(&o).copied().unwrap_or((0, 0, 0, 0));
                let cw = c.osdmap.crush.weight_of(o).unwrap_or(0) as f64 / 65536.0;
                let rw = c.osdmap.osd_weight.get(o as usize).copied().unwrap_or(0) as f64 / 65536.0;
                let util = pct(kb_used, kb) * 100.0;
                let var = if avg > 0.0 { util / (avg * 100.0) } else { 0.0 };
                let status = if c.osdmap.is_up(o) { "up" } else { "down" };
                tk += kb;
                tu += kb_used;
                td += kb_data;
                nodes.push(json!({"id": o, "device_class": "", "name": format!("osd.{o}"), "type": "osd", "type_id": 0, "crush_weight": cw, "depth": 2, "pool_weights": {}, "reweight": rw, "kb": kb, "kb_used": kb_used, "kb_used_data": kb_data, "kb_used_omap": 0, "kb_used_meta": 0, "kb_avail": kb.saturating_sub(kb_used), "utilization": util, "var": var, "pgs": npgs, "status": status}));
                plain += &format!("{o:>2}         {cw:>7.5}   {rw:>7.5}  {:>7}  {:>7}  {:>7}   0 B   0 B  {:>7}  {util:>5.2}  {var:>4.2}  {npgs:>3}  {status:>6}\n", si_bytes(kb * 1024), si_bytes(kb_used * 1024), si_bytes(kb_data * 1024), si_bytes(kb.saturating_sub(kb_used) * 1024));
            }
            plain += &format!("                        TOTAL  {:>7}  {:>7}  {:>7}   0 B   0 B  {:>7}  {:>5.2}\nMIN/MAX VAR: -/-  STDDEV: 0\n", si_bytes(tk * 1024), si_bytes(tu * 1024), si_bytes(td * 1024), si_bytes(tk.saturating_sub(tu) * 1024), avg * 100.0);
            let v = json!({"nodes": nodes, "stray": [], "summary": {"total_kb": tk, "total_kb_used": tu, "total_kb_used_data": td, "total_kb_used_omap": 0, "total_kb_used_meta": 0, "total_kb_avail": tk.saturating_sub(tu), "average_utilization": avg * 100.0, "min_var": 1, "max_var": 1, "dev": 0}});
            ok(out(&v, plain))
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
