//! What the mon does for OSDs (`OSDMonitor`): boot (mark up, record
//! addresses), failure reports and clean shutdowns (mark down), down → out
//! after `mon_osd_down_out_interval`, and the PG statistics OSDs report,
//! which feed `status`, `pg stat`, `df` and `osd df`.

use crate::service::Mon;
use crate::store::Txn;
use denc::Utime;
use maps::osdmap::{OSD_EXISTS, OSD_UP};
use messages::osd_mon::*;
use messages::osd_peer::{pg_state, PgStat, PgStats};
use messages::{Message, RawMessage};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};
use tracing::{debug, info, warn};
use types::osd::PgId;
use types::{EntityName, EntityType};


/// `CEPH_OSD_IN`.
const OSD_IN: u32 = 0x10000;

/// Mon-side OSD state that is not in the map (kept in memory, as Ceph's
/// failure_info and pending-out timers are).
#[derive(Default)]
pub struct OsdRuntime {
    /// target → reporter → failed since
    failures: HashMap<i32, HashMap<i32, Instant>>,
    /// down and in OSDs → since when
    down_since: HashMap<i32, Instant>,
    /// OSDs we marked out ourselves (they come back in on boot)
    auto_out: HashSet<i32>,
    /// Latest report of each OSD.
    pub reports: HashMap<i32, (Instant, PgStats)>,
    /// Last beacon (or boot) of each up OSD, as this leader saw it.
    beacons: HashMap<i32, Instant>,
    /// Per pool, per PG seed, the newest last_epoch_clean its primary's
    /// beacon reported (Ceph's `LastEpochClean`; in memory, rebuilt from
    /// beacons after a leader change, as Ceph's is).
    last_epoch_clean: HashMap<i64, HashMap<u32, u32>>,
    /// The osdmap epoch each in OSD last reported having (Ceph's `osd_epochs`).
    osd_epochs: BTreeMap<i32, u32>,
}

fn osd_of(name: &EntityName) -> Option<i32> {
    if name.ty == EntityType::OSD {
        name.id.parse().ok()
    } else {
        None
    }
}

/// MOSDBoot: the OSD is up at the addresses its session announced.
pub fn handle_boot(mon: &Mon, conn: &msgr::Connection, who: &EntityName, m: &RawMessage) -> Result<bool, String> {
    let b = OsdBoot::from_raw(m).map_err(|e| e.to_string())?;
    let id = b.sb.whoami;
    if osd_of(who) != Some(id) {
        warn!(%who, id, "boot for another osd refused");
        return Ok(false);
    }
    if b.sb.cluster_fsid != mon.fsid {
        warn!(id, "boot with a foreign cluster fsid ignored");
        return Ok(false);
    }
    let addrs = conn.info.peer_addrs.clone();
    if addrs.0.iter().any(|a| a.addr.map(|s| s.ip().is_unspecified()).unwrap_or(true)) {
        warn!(id, "boot from an osd with a blank address ignored");
        return Ok(false);
    }
    let mut c = mon.lock();
    let map = &c.osdmap;
    if id < 0 || id >= map.max_osd || !map.exists(id) {
        warn!(id, "boot from an osd that does not exist (run 'ceph osd new' first)");
        return Ok(false);
    }
    let stored_uuid = map.osd.osd_uuid.get(id as usize).copied().unwrap_or_default();
    if !stored_uuid.is_zero() && stored_uuid != b.sb.osd_fsid {
        warn!(id, "boot with uuid {} but osd.{id} is {}", b.sb.osd_fsid, stored_uuid);
        return Ok(false);
    }
    if map.is_up(id) && map.client_addrs.get(id as usize) == Some(&addrs) {
        debug!(id, "duplicate boot");
        return Ok(false);
    }
    if map.flags & maps::osdmap::flags::NOUP != 0 {
        // Ceph's preprocess_boot ignores it; the OSD keeps asking.
        debug!(id, "noup flag set: boot ignored");
        return Ok(false);
    }
    if map.is_up(id) {
        // Up at other addresses (a quick restart): down in one epoch, up in
        // the next, as Ceph does, so the restart ends the OSD's intervals
        // (an interval's primary must have been up all through it).
        drop(c);
        mark_down(mon, &[id], "restarted: marked down before its new boot")?;
        c = mon.lock();
    }
    let map = &c.osdmap;
    let auto_in = {
        let rt = mon.osd_rt();
        let weight = map.osd_weight.get(id as usize).copied().unwrap_or(0);
        let new = map.osd.osd_info.get(id as usize).map(|i| i.up_from == 0).unwrap_or(true);
        weight == 0 && (rt.auto_out.contains(&id) || new) && map.flags & maps::osdmap::flags::NOIN == 0
    };
    let was_up = map.is_up(id);
    let next = c.next_osdmap(|m| {
        let e = m.epoch;
        let i = id as usize;
        grow(&mut m.client_addrs, i);
        grow(&mut m.osd.cluster_addrs, i);
        grow(&mut m.osd.hb_back_addrs, i);
        grow(&mut m.osd.hb_front_addrs, i);
        grow(&mut m.osd.osd_info, i);
        grow(&mut m.osd.osd_xinfo, i);
        grow(&mut m.osd.osd_uuid, i);
        m.client_addrs[i] = addrs.clone();
        m.osd.cluster_addrs[i] = b.cluster_addrs.clone();
        m.osd.hb_back_addrs[i] = b.hb_back_addrs.clone();
        m.osd.hb_front_addrs[i] = b.hb_front_addrs.clone();
        if was_up {
            // Up at other addresses: down and up again in one epoch.
            m.osd.osd_info[i].down_at = e;
        }
        m.osd_state[i] |= OSD_EXISTS | OSD_UP;
        m.osd.osd_info[i].up_from = e;
        m.osd.osd_info[i].up_thru = e;
        m.osd.osd_xinfo[i].features = b.osd_features;
        if m.osd.osd_uuid[i].is_zero() {
            m.osd.osd_uuid[i] = b.sb.osd_fsid;
        }
        if auto_in {
            let old = m.osd.osd_xinfo[i].old_weight;
            m.osd_weight[i] = if old > 0 { old } else { OSD_IN };
            m.last_in_change = m.modified;
        }
        m.last_up_change = m.modified;
    });
    let epoch = next.epoch;
    c.commit_osdmap(next, Txn::default())?;
    c.clog("mon", "[INF]", format!("osd.{id} {addrs} boot"));
    drop(c);
    let mut rt = mon.osd_rt();
    rt.down_since.remove(&id);
    rt.failures.remove(&id);
    if auto_in {
        rt.auto_out.remove(&id);
    }
    info!(id, epoch, "osd.{id} booted");
    Ok(true)
}

fn grow<T: Default + Clone>(v: &mut Vec<T>, i: usize) {
    if v.len() <= i {
        v.resize(i + 1, T::default());
    }
}

/// Marks `ids` down in one new epoch; false when none was up. Failures,
/// silence and an OSD's own shutdown do not mark it down while the map has
/// `nodown` (Ceph's `can_mark_down`); a restarted OSD still goes down and up.
fn mark_down(mon: &Mon, ids: &[i32], why: &str) -> Result<bool, String> {
    let mut c = mon.lock();
    if c.osdmap.flags & maps::osdmap::flags::NODOWN != 0 && !why.starts_with("restarted") {
        debug!(?ids, "nodown flag set: not marking down ({why})");
        return Ok(false);
    }
    let ids: Vec<i32> = ids.iter().copied().filter(|i| c.osdmap.is_up(*i)).collect();
    if ids.is_empty() {
        return Ok(false);
    }
    let now = Utime::now();
    let next = c.next_osdmap(|m| {
        for &id in &ids {
            let i = id as usize;
            m.osd_state[i] &= !OSD_UP;
            grow(&mut m.osd.osd_info, i);
            grow(&mut m.osd.osd_xinfo, i);
            m.osd.osd_info[i].down_at = m.epoch;
            m.osd.osd_xinfo[i].down_stamp = now;
        }
        m.last_up_change = m.modified;
    });
    c.commit_osdmap(next, Txn::default())?;
    for id in &ids {
        c.clog("mon", "[INF]", format!("osd.{id} {why}"));
    }
    drop(c);
    let mut rt = mon.osd_rt();
    for id in ids {
        rt.failures.remove(&id);
        rt.down_since.insert(id, Instant::now());
        info!(id, "marked osd.{id} down: {why}");
    }
    Ok(true)
}

/// MOSDFailure from a peer OSD.
pub fn handle_failure(mon: &Mon, who: &EntityName, m: &RawMessage) -> Result<bool, String> {
    let f = OsdFailure::from_raw(m).map_err(|e| e.to_string())?;
    let Some(reporter) = osd_of(who) else { return Ok(false) };
    {
        let c = mon.lock();
        let map = &c.osdmap;
        if f.fsid != mon.fsid || !map.is_up(reporter) || !map.is_up(f.target_osd) {
            return Ok(false);
        }
        if map.client_addrs.get(f.target_osd as usize) != Some(&f.target_addrs) {
            return Ok(false);
        }
        if map.osd.osd_info.get(f.target_osd as usize).map(|i| i.up_from > f.epoch).unwrap_or(false) {
            return Ok(false);
        }
    }
    if f.flags & FAILURE_FLAG_FAILED == 0 {
        if let Some(r) = mon.osd_rt().failures.get_mut(&f.target_osd) {
            r.remove(&reporter);
        }
        return Ok(false);
    }
    if f.flags & FAILURE_FLAG_IMMEDIATE != 0 {
        return mark_down(mon, &[f.target_osd], &format!("failed (osd.{reporter} could not connect to it)"));
    }
    let since = Instant::now().checked_sub(Duration::from_secs(f.failed_for.max(0) as u64)).unwrap_or_else(Instant::now);
    mon.osd_rt().failures.entry(f.target_osd).or_default().insert(reporter, since);
    check_failures(mon)
}

/// Marks down targets with enough reporters (from distinct subtrees at
/// `mon_osd_reporter_subtree_level`) failing them for at least the grace.
pub fn check_failures(mon: &Mon) -> Result<bool, String> {
    let min_reporters = mon.settings.get_u64("mon_osd_min_down_reporters", 2).max(1) as usize;
    let level = mon.settings.get("mon_osd_reporter_subtree_level").unwrap_or("host").to_string();
    let grace = Duration::from_secs_f64(mon.settings.get("osd_heartbeat_grace").and_then(|v| v.parse::<f64>().ok()).unwrap_or(20.0).max(0.0));
    let candidates: Vec<(i32, Vec<(i32, Instant)>)> = mon.osd_rt().failures.iter().map(|(t, r)| (*t, r.iter().map(|(a, b)| (*a, *b)).collect())).collect();
    let mut down = Vec::new();
    {
        let c = mon.lock();
        let cm = &c.osdmap.crush;
        for (target, reports) in candidates {
            let subtrees: HashSet<String> = reports
                .iter()
                .map(|(r, _)| if level == "osd" { format!("osd.{r}") } else { ancestor(cm, *r, &level).unwrap_or_else(|| format!("osd.{r}")) })
                .collect();
            if subtrees.len() < min_reporters {
                continue;
            }
            let latest = reports.iter().map(|(_, s)| *s).max().unwrap_or_else(Instant::now);
            if latest.elapsed() >= grace {
                down.push(target);
            }
        }
    }
    if down.is_empty() {
        return Ok(false);
    }
    mark_down(mon, &down, "failed (reported by its peers)")
}

/// The name of `osd`'s CRUSH ancestor of type `level`.
fn ancestor(cm: &crush::CrushMap, osd: i32, level: &str) -> Option<String> {
    let ty = cm.type_map.iter().find(|(_, n)| n.as_str() == level).map(|(t, _)| *t)?;
    let mut item = osd;
    for _ in 0..64 {
        let parent = cm.buckets.iter().flatten().find(|b| b.items.contains(&item))?;
        if parent.ty as i32 == ty {
            return cm.name_map.get(&parent.id).cloned();
        }
        item = parent.id;
    }
    None
}

/// MOSDMarkMeDown: a clean shutdown.
pub fn handle_mark_me_down(mon: &Mon, who: &EntityName, m: &RawMessage) -> Result<bool, String> {
    let d = OsdMarkMeDown::from_raw(m).map_err(|e| e.to_string())?;
    if osd_of(who) != Some(d.target_osd) || d.fsid != mon.fsid {
        return Ok(false);
    }
    if mon.lock().osdmap.client_addrs.get(d.target_osd as usize) != Some(&d.target_addrs) {
        return Ok(false);
    }
    mark_down(mon, &[d.target_osd], "marked itself down")
}

/// The map has osd.`id` up at the address of this session (not an older
/// incarnation's).
fn up_at_session(map: &maps::OsdMap, id: i32, conn: &msgr::Connection) -> bool {
    map.is_up(id) && map.client_addrs.get(id as usize) == Some(&conn.info.peer_addrs)
}

/// MOSDAlive: a primary needs the map to show it alive in its current
/// interval before it goes active (Ceph's `prepare_alive` records the
/// OSD's map epoch as its `up_thru`).
pub fn handle_alive(mon: &Mon, conn: &msgr::Connection, who: &EntityName, m: &RawMessage) -> Result<bool, String> {
    let a = OsdAlive::from_raw(m).map_err(|e| e.to_string())?;
    let Some(id) = osd_of(who) else { return Ok(false) };
    let mut c = mon.lock();
    let map = &c.osdmap;
    if !up_at_session(map, id, conn) {
        debug!(id, "alive from an osd the map has down ignored");
        return Ok(false);
    }
    let have = map.osd.osd_info.get(id as usize).map(|i| i.up_thru).unwrap_or(0);
    if have >= a.want {
        return Ok(false);
    }
    // The OSD's map epoch, as Ceph records it (never past ours).
    let thru = (a.version.min(map.epoch as u64) as u32).max(a.want.min(map.epoch));
    let next = c.next_osdmap(|m| {
        if let Some(i) = m.osd.osd_info.get_mut(id as usize) {
            i.up_thru = thru;
        }
    });
    let epoch = next.epoch;
    c.commit_osdmap(next, Txn::default())?;
    debug!(id, want = a.want, thru, epoch, "up_thru");
    Ok(true)
}

/// MOSDPGTemp: set or clear temporary acting sets (Ceph's `prepare_pgtemp`;
/// entries naming a down OSD, or for PGs that do not exist, are ignored).
/// Also records the sender alive, so it need not ask for up_thru again.
pub fn handle_pg_temp(mon: &Mon, conn: &msgr::Connection, who: &EntityName, m: &RawMessage) -> Result<bool, String> {
    let t = OsdPgTemp::from_raw(m).map_err(|e| e.to_string())?;
    let Some(id) = osd_of(who) else { return Ok(false) };
    let mut c = mon.lock();
    let map = &c.osdmap;
    if !up_at_session(map, id, conn) {
        debug!(id, "pg_temp from an osd the map has down ignored");
        return Ok(false);
    }
    let mut changes = Vec::new();
    for (pg, osds) in &t.pg_temp {
        let Some(pool) = map.pools.get(&(pg.pool as i64)) else { continue };
        if pg.seed >= pool.pg_num {
            continue;
        }
        if let Some(o) = osds.iter().find(|o| !map.is_up(**o)) {
            debug!(%pg, osd = *o, "pg_temp naming a down osd ignored");
            continue;
        }
        let distinct: std::collections::BTreeSet<&i32> = osds.iter().collect();
        if osds.len() > pool.size as usize || distinct.len() != osds.len() {
            debug!(%pg, ?osds, "pg_temp larger than the pool or naming an osd twice ignored");
            continue;
        }
        let cur = map.pg_temp.get(pg);
        if cur.map(|v| v == osds).unwrap_or(osds.is_empty()) {
            continue;
        }
        changes.push((*pg, osds.clone()));
    }
    if changes.is_empty() {
        return Ok(false);
    }
    let thru = t.map_epoch.min(map.epoch);
    let next = c.next_osdmap(|m| {
        for (pg, osds) in &changes {
            if osds.is_empty() {
                m.pg_temp.remove(pg);
            } else {
                m.pg_temp.insert(*pg, osds.clone());
            }
            m.primary_temp.remove(pg);
        }
        if let Some(i) = m.osd.osd_info.get_mut(id as usize) {
            i.up_thru = i.up_thru.max(thru);
        }
    });
    let epoch = next.epoch;
    c.commit_osdmap(next, Txn::default())?;
    info!(id, epoch, ?changes, "pg_temp");
    Ok(true)
}

/// MOSDBeacon: an up OSD is still there (beacons from OSDs the map has down
/// are ignored, as Ceph's `prepare_beacon` does).
pub fn handle_beacon(mon: &Mon, who: &EntityName, m: &RawMessage) -> Result<(), String> {
    let b = OsdBeacon::from_raw(m).map_err(|e| e.to_string())?;
    let Some(osd) = osd_of(who) else { return Ok(()) };
    if mon.lock().osdmap.is_up(osd) {
        let mut rt = mon.osd_rt();
        rt.beacons.insert(osd, Instant::now());
        rt.osd_epochs.insert(osd, b.version.min(u32::MAX as u64) as u32);
        // Every PG the OSD leads gets the OSD's minimum (as Ceph's
        // prepare_beacon); a report older than what we have is stale.
        for pg in &b.pgs {
            let e = rt.last_epoch_clean.entry(pg.pool as i64).or_default().entry(pg.seed).or_insert(0);
            if b.min_last_epoch_clean > *e {
                *e = b.min_last_epoch_clean;
            }
        }
    }
    Ok(())
}

/// The oldest osdmap epoch any PG may still need (Ceph's
/// `get_min_last_epoch_clean`): the oldest last_epoch_clean over every PG
/// of every pool, and no newer than an in OSD's map; 0 while some PG has
/// not been reported.
fn min_last_epoch_clean(map: &maps::OsdMap, rt: &OsdRuntime) -> u32 {
    let mut floor = map.epoch;
    for (id, pool) in &map.pools {
        let Some(per_pg) = rt.last_epoch_clean.get(id) else { return 0 };
        for seed in 0..pool.pg_num {
            match per_pg.get(&seed) {
                Some(e) => floor = floor.min(*e),
                None => return 0,
            }
        }
    }
    rt.osd_epochs.values().fold(floor, |f, e| f.min(*e))
}

/// The epoch to trim osdmaps up to, or 0 (Ceph's `OSDMonitor::get_trim_to`):
/// the oldest epoch a PG may need, at most `mon_min_osdmap_epochs` before
/// the newest; `mon_osd_force_trim_to` overrides the PGs (for a cluster
/// with a PG that never comes back).
fn trim_to(mon: &Mon, map: &maps::OsdMap, first: u32, rt: &OsdRuntime) -> u32 {
    let num = |k: &str, d: u32| mon.settings.get_u64(k, d as u64).min(u32::MAX as u64) as u32;
    let last = map.epoch;
    let mut floor = min_last_epoch_clean(map, rt);
    let force = num("mon_osd_force_trim_to", 0);
    if force > 0 && force < last {
        floor = force;
    }
    let keep = num("mon_min_osdmap_epochs", 500);
    if floor.saturating_add(keep) > last {
        floor = last.saturating_sub(keep);
    }
    if floor > first {
        floor
    } else {
        0
    }
}

/// Trims old osdmaps when enough may go (Ceph's `PaxosService::maybe_trim`:
/// at least `paxos_service_trim_min` epochs, at most `paxos_service_trim_max`
/// a round).
fn maybe_trim(mon: &Mon) -> Result<bool, String> {
    let num = |k: &str, d: u32| mon.settings.get_u64(k, d as u64).min(u32::MAX as u64) as u32;
    let (first, to) = {
        let c = mon.lock();
        let rt = mon.osd_rt();
        (c.osdmap_first, trim_to(mon, &c.osdmap, c.osdmap_first, &rt))
    };
    if to == 0 || to - first < num("paxos_service_trim_min", 250) {
        return Ok(false);
    }
    let to = to.min(first.saturating_add(num("paxos_service_trim_max", 500).max(1)));
    mon.lock().trim_osdmaps(to)?;
    info!(from = first, to, "trimmed osdmaps");
    Ok(true)
}

/// A pool's objects and bytes as its PGs last reported them, if every PG
/// reported and is active (an inactive primary may not hold the PG's
/// objects yet); with `clean`, only if every PG is also clean.
pub fn pool_usage(sum: &PgSummary, map: &maps::OsdMap, pool: i64, clean: bool) -> Option<(u64, u64)> {
    pool_usage_since(sum, map, pool, clean, 0)
}

/// [`pool_usage`] from reports made with a map at least of epoch `since`
/// (after a change the caller made: older reports describe PGs before it).
pub fn pool_usage_since(sum: &PgSummary, map: &maps::OsdMap, pool: i64, clean: bool, since: u32) -> Option<(u64, u64)> {
    let stats: Vec<&PgStat> = sum.stats.values().filter(|s| s.pgid.pool as i64 == pool && s.reported_epoch >= since).collect();
    let pg_num = map.pools.get(&pool)?.pg_num as usize;
    let want = if clean { pg_state::ACTIVE | pg_state::CLEAN } else { pg_state::ACTIVE };
    (stats.len() >= pg_num && stats.iter().all(|s| s.state & want == want)).then(|| (stats.iter().map(|s| s.num_objects).sum(), stats.iter().map(|s| s.num_bytes).sum()))
}

/// Which count of a pool [`adjust_pgs`] moves.
#[derive(Debug, Clone, Copy)]
enum PgCount {
    PgNum,
    PgpNum,
}

/// Moves each pool's pg_num and pgp_num toward their targets, as Ceph's
/// mgr does (`DaemonServer::adjust_pgs`). A split: pg_num in one step once
/// every PG of the pool has reported active (the OSDs split their PGs with
/// that map; children stay where their parent is, since pgp_num has not
/// moved), then pgp_num. A merge: pgp_num first, down to the target, so
/// that PGs about to merge share OSDs, then pg_num once every PG is
/// active+clean (Ceph merges one PG at a time; we merge all at once).
/// pgp_num moves a step at a time, each once the cluster has fewer
/// misplaced objects than `target_max_misplaced_ratio`, so that data moves
/// a little at a time. An (almost) empty pool jumps straight there. Every
/// decision waits for every PG of the pool to report under the pool's last
/// change: stats from before it describe PGs that have moved since.
fn adjust_pgs(mon: &Mon) -> Result<bool, String> {
    let mut c = mon.lock();
    if !c.osdmap.pools.values().any(|p| p.pg_num != p.pg_num_target || p.pgp_num != p.pgp_num_target) {
        return Ok(false);
    }
    let max_misplaced = mon.settings.get("target_max_misplaced_ratio").and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.05);
    let sum = summary(&c.osdmap, &mon.osd_rt());
    let misplaced: u64 = sum.stats.values().map(|s| s.num_objects_misplaced).sum();
    let misplaced_ratio = if sum.degraded_total == 0 { 0.0 } else { misplaced as f64 / sum.degraded_total as f64 };
    let mut changes: Vec<(i64, PgCount, u32)> = Vec::new();
    for (id, p) in &c.osdmap.pools {
        if p.pg_num < p.pg_num_target {
            if pool_usage_since(&sum, &c.osdmap, *id, false, p.last_change).is_some() {
                changes.push((*id, PgCount::PgNum, p.pg_num_target));
            }
            continue;
        }
        if p.pg_num > p.pg_num_target && p.pgp_num <= p.pg_num_target {
            // A merge: sources and targets share OSDs now; merge once every
            // copy is clean (each OSD then merges alike).
            if pool_usage_since(&sum, &c.osdmap, *id, true, p.last_change).is_some() {
                changes.push((*id, PgCount::PgNum, p.pg_num_target));
            }
            continue;
        }
        if p.pgp_num == p.pgp_num_target.min(p.pg_num_target) {
            continue;
        }
        let Some((objects, _)) = pool_usage_since(&sum, &c.osdmap, *id, false, p.last_change) else { continue };
        let target = p.pgp_num_target.min(p.pg_num).min(p.pg_num_target);
        let next = if objects <= target as u64 {
            target
        } else {
            if misplaced_ratio >= max_misplaced {
                continue;
            }
            let room = (max_misplaced - misplaced_ratio).min(max_misplaced / 2.0);
            let estmax = ((p.pg_num as f64 * room) as u32).max(1);
            target.clamp(p.pgp_num.saturating_sub(estmax), p.pgp_num + estmax)
        };
        if next != p.pgp_num {
            changes.push((*id, PgCount::PgpNum, next));
        }
    }
    if changes.is_empty() {
        return Ok(false);
    }
    let next = c.next_osdmap(|m| {
        for (id, what, n) in &changes {
            if let Some(p) = m.pools.get_mut(id) {
                match what {
                    PgCount::PgNum => (p.pg_num, p.pg_num_pending) = (*n, *n),
                    PgCount::PgpNum => p.pgp_num = *n,
                }
                p.last_change = m.epoch;
            }
        }
    });
    c.commit_osdmap(next, Txn::default())?;
    for (id, what, n) in changes {
        let name = c.osdmap.pool_name.get(&id).cloned().unwrap_or_default();
        info!(pool = %name, "{what:?} now {n}");
    }
    Ok(true)
}

/// Pools at or over their quota get the `full` and `full_quota` flags, and
/// lose them once under it again (Ceph's `OSDMonitor::update_pools_status`):
/// clients hold writes to a full pool, and OSDs refuse them.
fn update_pool_quota_flags(mon: &Mon) -> Result<bool, String> {
    use maps::pool::{FLAG_FULL, FLAG_FULL_QUOTA};
    // One lock from the decision to the commit: a set-quota in between
    // would otherwise get a stale flag.
    let mut c = mon.lock();
    let changes: Vec<(i64, bool, String)> = {
        let quota_pools = c.osdmap.pools.values().any(|p| p.quota_max_objects > 0 || p.quota_max_bytes > 0 || p.flags & FLAG_FULL_QUOTA != 0);
        if !quota_pools {
            return Ok(false);
        }
        let sum = summary(&c.osdmap, &mon.osd_rt());
        c.osdmap
            .pools
            .iter()
            .filter_map(|(id, p)| {
                let flagged = p.flags & FLAG_FULL_QUOTA != 0;
                if p.quota_max_objects == 0 && p.quota_max_bytes == 0 {
                    return flagged.then(|| (*id, false, String::new()));
                }
                let (objects, bytes) = pool_usage(&sum, &c.osdmap, *id, false)?;
                let why = if p.quota_max_objects > 0 && objects >= p.quota_max_objects {
                    Some(format!("max_objects: {}", p.quota_max_objects))
                } else if p.quota_max_bytes > 0 && bytes >= p.quota_max_bytes {
                    Some(format!("max_bytes: {}", crate::mgr::si_bytes(p.quota_max_bytes)))
                } else {
                    None
                };
                (why.is_some() != flagged).then(|| (*id, why.is_some(), why.unwrap_or_default()))
            })
            .collect()
    };
    if changes.is_empty() {
        return Ok(false);
    }
    let usage = usage_osds(&c.osdmap, |o| usage_in_map(&c.osdmap, o));
    let held_full: HashSet<i64> = changes.iter().filter(|(id, full, _)| !*full && c.osdmap.pools.get(id).is_some_and(|p| pool_reaches(&c.osdmap, p, &usage, maps::osdmap::OSD_FULL))).map(|(id, _, _)| *id).collect();
    let next = c.next_osdmap(|m| {
        for (id, full, _) in &changes {
            if let Some(p) = m.pools.get_mut(id) {
                if *full {
                    p.flags |= FLAG_FULL | FLAG_FULL_QUOTA;
                    p.flags &= !(maps::pool::FLAG_NEARFULL | maps::pool::FLAG_BACKFILLFULL);
                } else {
                    p.flags &= !FLAG_FULL_QUOTA;
                    // Still full if a full OSD holds it (no writable epoch between).
                    if !held_full.contains(id) {
                        p.flags &= !FLAG_FULL;
                    }
                }
                p.last_change = m.epoch;
            }
        }
    });
    c.commit_osdmap(next, Txn::default())?;
    // Ceph's cluster log lines.
    for (id, full, why) in changes {
        let name = c.osdmap.pool_name.get(&id).cloned().unwrap_or_default();
        if full {
            c.clog("mon", "[WRN]", format!("pool '{name}' is full (reached quota's {why})"));
        } else {
            c.clog("mon", "[INF]", format!("pool '{name}' no longer out of quota; removing NO_QUOTA flag"));
        }
    }
    Ok(true)
}

/// Which usage state an OSD this full is in (one of them, or none), as
/// Ceph's OSDs decide it (strictly past a ratio; past the failsafe is full).
fn usage_state(m: &maps::OsdMap, failsafe: f32, used: u64, total: u64) -> u32 {
    use maps::osdmap::{OSD_BACKFILLFULL, OSD_FULL, OSD_NEARFULL};
    if total == 0 {
        return 0;
    }
    let ratio = used as f64 / total as f64;
    let (full, backfillfull, nearfull, _) = m.full_ratios(failsafe);
    if ratio > full as f64 {
        OSD_FULL
    } else if ratio > backfillfull as f64 {
        OSD_BACKFILLFULL
    } else if ratio > nearfull as f64 {
        OSD_NEARFULL
    } else {
        0
    }
}

/// `osd_failsafe_full_ratio` as set (Ceph takes a percent, too).
pub fn failsafe_ratio(mon: &Mon) -> f32 {
    let r = mon.settings.get("osd_failsafe_full_ratio").and_then(|v| v.parse::<f32>().ok()).unwrap_or(0.97);
    if r > 1.0 { r / 100.0 } else { r }
}

/// Up and in OSDs with a usage state, and that state, as `state_of`
/// gives it (Ceph's `get_full_osd_counts` counts only these).
pub fn usage_osds(m: &maps::OsdMap, state_of: impl Fn(i32) -> u32) -> Vec<(i32, u32)> {
    (0..m.max_osd).filter(|o| m.exists(*o) && m.is_up(*o) && m.is_in(*o)).map(|o| (o, state_of(o))).filter(|(_, s)| *s != 0).collect()
}

/// An OSD's usage state in the map.
pub fn usage_in_map(m: &maps::OsdMap, o: i32) -> u32 {
    m.osd_state.get(o as usize).copied().unwrap_or(0) & maps::osdmap::OSD_USAGE_STATES
}

/// Whether `pool`'s CRUSH rule reaches one of `osds` in usage state `bit`.
pub fn pool_reaches(m: &maps::OsdMap, pool: &maps::PgPool, osds: &[(i32, u32)], bit: u32) -> bool {
    osds.iter().any(|(o, s)| *s == bit && m.crush.rule_reaches(pool.crush_rule as usize, *o))
}

/// Up OSDs past the full, backfillfull or nearfull ratio get that state in
/// the map, and every pool whose CRUSH rule reaches such an (in) OSD the
/// matching flag (`OSDMonitor::encode_pending`, `OSDMap::get_full_pools`).
/// Clients hold writes to a full pool and OSDs refuse them, so a disk
/// never fills up under the cluster. Ceph's OSDs report their own state
/// (MOSDFull); ours is derived from the usage they report with their PG
/// stats, against the same ratios.
fn update_full_flags(mon: &Mon) -> Result<bool, String> {
    use maps::osdmap::{OSD_BACKFILLFULL, OSD_FULL, OSD_NEARFULL, OSD_USAGE_STATES};
    use maps::pool::{FLAG_BACKFILLFULL, FLAG_FULL, FLAG_FULL_QUOTA, FLAG_NEARFULL};
    let mut c = mon.lock();
    // Each tick: only the OSDs' own reports, not the PG summary.
    let states: BTreeMap<i32, u32> = {
        let m = &c.osdmap;
        let failsafe = failsafe_ratio(mon);
        // A state injected with `injectfull` stands for the usage, as a
        // Ceph OSD's injected state goes out in its MOSDFull.
        let state = |rep: &PgStats| if rep.injected_full != 0 { rep.injected_full & OSD_USAGE_STATES } else { usage_state(m, failsafe, rep.kb_used, rep.kb_total) };
        mon.osd_rt().reports.iter().filter(|(o, _)| m.is_up(**o)).map(|(o, (_, rep))| (*o, state(rep))).collect()
    };
    let m = &c.osdmap;
    let osd_changes: Vec<(i32, u32)> = states.iter().filter(|(o, st)| usage_in_map(m, **o) != **st).map(|(o, st)| (*o, *st)).collect();
    // The pools each usage state reaches, from the states as they will be.
    let counted = usage_osds(m, |o| states.get(&o).copied().unwrap_or_else(|| usage_in_map(m, o)));
    let pool_changes: Vec<(i64, u64)> = m
        .pools
        .iter()
        // A pool full by its quota stays as the quota check left it, as in Ceph.
        .filter(|(_, p)| p.flags & FLAG_FULL_QUOTA == 0)
        .filter_map(|(id, p)| {
            let reached = |bit: u32| pool_reaches(m, p, &counted, bit);
            let mut want = p.flags & !(FLAG_NEARFULL | FLAG_BACKFILLFULL | FLAG_FULL);
            if reached(OSD_FULL) {
                want |= FLAG_FULL;
            } else if reached(OSD_BACKFILLFULL) {
                want |= FLAG_BACKFILLFULL;
            } else if reached(OSD_NEARFULL) {
                want |= FLAG_NEARFULL;
            }
            (want != p.flags).then_some((*id, want))
        })
        .collect();
    if osd_changes.is_empty() && pool_changes.is_empty() {
        return Ok(false);
    }
    let next = c.next_osdmap(|m| {
        for (o, st) in &osd_changes {
            if let Some(s) = m.osd_state.get_mut(*o as usize) {
                *s = (*s & !OSD_USAGE_STATES) | st;
            }
        }
        for (id, flags) in &pool_changes {
            if let Some(p) = m.pools.get_mut(id) {
                p.flags = *flags;
                p.last_change = m.epoch;
            }
        }
    });
    c.commit_osdmap(next, Txn::default())?;
    for (o, st) in osd_changes {
        let what = match st {
            OSD_FULL => "full",
            OSD_BACKFILLFULL => "backfillfull",
            OSD_NEARFULL => "nearfull",
            _ => "no longer full",
        };
        info!(osd = o, "osd is {what}");
    }
    Ok(true)
}

/// `ceph report`'s `osdmap_clean_epochs`.
pub fn clean_epochs_json(map: &maps::OsdMap, rt: &OsdRuntime) -> serde_json::Value {
    let mut per_pool = Vec::new();
    for (id, pool) in &map.pools {
        let floor = rt.last_epoch_clean.get(id).filter(|p| (0..pool.pg_num).all(|s| p.contains_key(&s))).map(|p| (0..pool.pg_num).filter_map(|s| p.get(&s)).min().copied().unwrap_or(0));
        if let Some(f) = floor {
            per_pool.push(serde_json::json!({"poolid": id, "floor": f}));
        }
    }
    let osd_epochs: Vec<serde_json::Value> = rt.osd_epochs.iter().map(|(id, e)| serde_json::json!({"id": id, "epoch": e})).collect();
    serde_json::json!({
        "min_last_epoch_clean": min_last_epoch_clean(map, rt),
        "last_epoch_clean": {"per_pool": per_pool},
        "osd_epochs": osd_epochs,
    })
}

/// Up OSDs with no beacon for `mon_osd_report_timeout` (Ceph's
/// `handle_osd_timeouts`); an OSD first seen up starts its clock then.
fn check_beacons(mon: &Mon) -> Result<bool, String> {
    let timeout = mon.settings.get("mon_osd_report_timeout").and_then(|v| v.parse::<f64>().ok()).unwrap_or(900.0);
    let silent: Vec<(i32, f64)> = {
        let c = mon.lock();
        let mut rt = mon.osd_rt();
        let now = Instant::now();
        rt.beacons.retain(|o, _| c.osdmap.is_up(*o));
        (0..c.osdmap.max_osd)
            .filter(|o| c.osdmap.is_up(*o))
            .filter_map(|o| {
                let age = now.duration_since(*rt.beacons.entry(o).or_insert(now)).as_secs_f64();
                (timeout > 0.0 && age > timeout).then_some((o, age))
            })
            .collect()
    };
    let mut changed = false;
    for (o, age) in silent {
        changed |= mark_down(mon, &[o], &format!("marked down after no beacon for {age:.6} seconds"))?;
    }
    Ok(changed)
}

pub fn handle_pg_stats(mon: &Mon, who: &EntityName, m: &RawMessage) -> Result<(), String> {
    let s = PgStats::from_raw(m).map_err(|e| e.to_string())?;
    if osd_of(who) != Some(s.osd) {
        return Ok(());
    }
    mon.osd_rt().reports.insert(s.osd, (Instant::now(), s));
    Ok(())
}

/// Once a second: failure grace, and down → out after `mon_osd_down_out_interval`.
pub fn tick(mon: &Mon) -> bool {
    let mut changed = check_failures(mon).unwrap_or_else(|e| {
        warn!("checking failures: {e}");
        false
    });
    changed |= check_beacons(mon).unwrap_or_else(|e| {
        warn!("checking beacons: {e}");
        false
    });
    let interval = mon.settings.get("mon_osd_down_out_interval").and_then(|v| v.parse::<f64>().ok()).unwrap_or(600.0);
    let mut out = Vec::new();
    {
        let c = mon.lock();
        let map = &c.osdmap;
        let mut rt = mon.osd_rt();
        // Down and in OSDs start their timer when we first see them so
        // (after a mon restart too).
        for o in 0..map.max_osd {
            let down_in = map.exists(o) && !map.is_up(o) && map.is_in(o);
            if down_in {
                rt.down_since.entry(o).or_insert_with(Instant::now);
            } else {
                rt.down_since.remove(&o);
            }
        }
        if interval > 0.0 && map.flags & maps::osdmap::flags::NOOUT == 0 {
            for (o, since) in &rt.down_since {
                if since.elapsed().as_secs_f64() >= interval {
                    out.push(*o);
                }
            }
        }
    }
    if !out.is_empty() {
        let mut c = mon.lock();
        let next = c.next_osdmap(|m| {
            for &o in &out {
                let i = o as usize;
                grow(&mut m.osd.osd_xinfo, i);
                m.osd.osd_xinfo[i].old_weight = m.osd_weight[i];
                m.osd_weight[i] = 0;
            }
            m.last_in_change = m.modified;
        });
        match c.commit_osdmap(next, Txn::default()) {
            Ok(()) => {
                for o in &out {
                    c.clog("mon", "[INF]", format!("Marking osd.{o} out (has been down for {interval} seconds)"));
                }
                drop(c);
                let mut rt = mon.osd_rt();
                for o in out {
                    rt.down_since.remove(&o);
                    rt.auto_out.insert(o);
                }
                changed = true;
            }
            Err(e) => warn!("marking out: {e}"),
        }
    }
    {
        // Pools gone, and OSDs out, hold nothing back (Ceph drops an OSD's
        // epoch when it is marked out).
        let c = mon.lock();
        let mut rt = mon.osd_rt();
        rt.last_epoch_clean.retain(|id, _| c.osdmap.pools.contains_key(id));
        rt.osd_epochs.retain(|o, _| c.osdmap.exists(*o) && c.osdmap.is_in(*o));
    }
    if let Err(e) = maybe_trim(mon) {
        warn!("trimming osdmaps: {e}");
    }
    changed |= adjust_pgs(mon).unwrap_or_else(|e| {
        warn!("adjusting pg_num/pgp_num: {e}");
        false
    });
    changed |= update_pool_quota_flags(mon).unwrap_or_else(|e| {
        warn!("pool quotas: {e}");
        false
    });
    changed |= update_full_flags(mon).unwrap_or_else(|e| {
        warn!("full flags: {e}");
        false
    });
    let purged = {
        let c = mon.lock();
        let p = purged_snaps(&c.osdmap, &mon.osd_rt());
        p
    };
    if !purged.is_empty() {
        let mut c = mon.lock();
        let next = c.next_osdmap(|m| m.new_purged_snaps = purged.clone());
        match c.commit_osdmap(next, Txn::default()) {
            Ok(()) => changed = true,
            Err(e) => warn!("pruning purged snaps: {e}"),
        }
    }
    changed
}

/// Snaps every PG of a pool has trimmed, by pool (Ceph's
/// `try_prune_purged_snaps`): each PG's primary must report them, active, and
/// every PG of the pool must have reported.
pub fn purged_snaps(map: &maps::OsdMap, rt: &OsdRuntime) -> BTreeMap<i64, BTreeMap<u64, u64>> {
    let mut out = BTreeMap::new();
    for (pool, queue) in &map.osd.removed_snaps_queue {
        let Some(p) = map.pools.get(pool) else { continue };
        let mut best: BTreeMap<u32, &messages::osd_peer::PgStat> = BTreeMap::new();
        for (osd, (_, rep)) in &rt.reports {
            if !map.is_up(*osd) {
                continue;
            }
            for st in &rep.pgs {
                if st.pgid.pool as i64 != *pool || st.pgid.seed >= p.pg_num || st.acting.first() != Some(osd) {
                    continue;
                }
                if best.get(&st.pgid.seed).map(|b| st.reported_epoch > b.reported_epoch).unwrap_or(true) {
                    best.insert(st.pgid.seed, st);
                }
            }
        }
        if best.len() != p.pg_num as usize || best.values().any(|st| st.state & pg_state::ACTIVE == 0) {
            continue;
        }
        let inside = |set: &BTreeMap<u64, u64>, id: u64| set.range(..=id).next_back().is_some_and(|(s, l)| id < s + l);
        let mut ids = BTreeMap::new();
        for (&start, &len) in queue {
            for id in start..start.saturating_add(len) {
                if best.values().all(|st| inside(&st.purged_snaps, id)) {
                    crate::commands::add_removed(&mut ids, id);
                }
            }
        }
        if !ids.is_empty() {
            out.insert(*pool, ids);
        }
    }
    out
}

/// The PG map as the mgr would digest it from OSD reports.
#[derive(Debug, Default)]
pub struct PgSummary {
    pub num_pgs: u64,
    /// (state, count), most common first; unreported PGs are "unknown".
    pub by_state: Vec<(String, u64)>,
    pub stats: BTreeMap<PgId, PgStat>,
    pub num_objects: u64,
    pub data_bytes: u64,
    pub degraded: u64,
    /// Object copies the pools want (objects x size).
    pub degraded_total: u64,
    pub bytes_total: u64,
    pub bytes_used: u64,
    pub bytes_avail: u64,
    pub unknown: u64,
    pub inactive: u64,
    /// pool → (objects, bytes stored)
    pub pools: BTreeMap<i64, (u64, u64)>,
    /// osd → (kb_total, kb_used, kb_used_data, num_pgs)
    pub osds: BTreeMap<i32, (u64, u64, u64, u32)>,
}

/// The newest stat of every PG of the current map (from up OSDs), and the
/// totals `status`, `pg stat` and `df` print.
pub fn summary(map: &maps::OsdMap, rt: &OsdRuntime) -> PgSummary {
    let mut s = PgSummary { num_pgs: map.pools.values().map(|p| p.pg_num as u64).sum(), ..Default::default() };
    for (osd, (_, rep)) in &rt.reports {
        if !map.is_up(*osd) {
            continue;
        }
        s.osds.insert(*osd, (rep.kb_total, rep.kb_used, rep.kb_used_data, rep.num_pgs));
        for st in &rep.pgs {
            let Some(pool) = map.pools.get(&(st.pgid.pool as i64)) else { continue };
            if st.pgid.seed >= pool.pg_num {
                continue;
            }
            let newer = s.stats.get(&st.pgid).map(|o| st.reported_epoch > o.reported_epoch).unwrap_or(true);
            if newer {
                s.stats.insert(st.pgid, st.clone());
            }
        }
    }
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    for st in s.stats.values() {
        *counts.entry(pg_state::to_string(st.state)).or_default() += 1;
        if st.state & pg_state::ACTIVE == 0 {
            s.inactive += 1;
        }
        let size = map.pools.get(&(st.pgid.pool as i64)).map(|p| p.size as u64).unwrap_or(1);
        s.num_objects += st.num_objects;
        s.data_bytes += st.num_bytes;
        s.degraded += st.num_objects_degraded;
        s.degraded_total += st.num_objects * size;
        let p = s.pools.entry(st.pgid.pool as i64).or_default();
        p.0 += st.num_objects;
        p.1 += st.num_bytes;
    }
    s.unknown = s.num_pgs.saturating_sub(s.stats.len() as u64);
    if s.unknown > 0 {
        *counts.entry("unknown".into()).or_default() += s.unknown;
    }
    let mut v: Vec<(String, u64)> = counts.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    s.by_state = v;
    for (t, u, _, _) in s.osds.values() {
        s.bytes_total += t * 1024;
        s.bytes_used += u * 1024;
    }
    s.bytes_avail = s.bytes_total.saturating_sub(s.bytes_used);
    s
}

impl PgSummary {
    /// The lines after `pgs:` in `ceph -s` (`PGMap::print_summary`).
    pub fn status_lines(&self) -> Vec<String> {
        let mut l = Vec::new();
        let pct = |n: u64, d: u64| if d == 0 { 0.0 } else { n as f64 * 100.0 / d as f64 };
        if self.unknown > 0 {
            l.push(format!("{:.3}% pgs unknown", pct(self.unknown, self.num_pgs)));
        }
        if self.inactive > 0 {
            l.push(format!("{:.3}% pgs not active", pct(self.inactive, self.num_pgs)));
        }
        if self.degraded > 0 {
            l.push(format!("{}/{} objects degraded ({:.3}%)", self.degraded, self.degraded_total, pct(self.degraded, self.degraded_total)));
        }
        for (st, n) in &self.by_state {
            l.push(format!("{n} {st}"));
        }
        l
    }
}
