//! The cluster state the monitor owns, kept in memory and persisted in the
//! store: monmap, osdmap history, mgrmap, auth database, config, config-key,
//! cluster log and global-id allocation.

use crate::store::{Store, Txn};
use auth::server::KeyServer;
use bytes::Bytes;
use denc::{Decode, Encode, Utime};
use maps::mgrmap::MgrMap;
use maps::monmap::MonMap;
use maps::incremental::Incremental;
use maps::osdmap::OsdMap;
use maps::pool::PgPool;
use serde_json::{json, Value};
use std::collections::{BTreeMap, VecDeque};
use types::features::PACIFIC_SUPPORTED;
use types::Uuid;

/// Ceph release numbers (`ceph_release_t`).
pub const RELEASE_LUMINOUS: u8 = 12;
pub const RELEASE_PACIFIC: u8 = 16;

/// OSDMap flags a fresh Pacific cluster starts with.
pub const INITIAL_OSDMAP_FLAGS: u32 = (1 << 15) | (1 << 19) | (1 << 20) | (1 << 22);

/// Full maps kept in memory for subscribers; older ones are read from the store.
const CACHED_MAPS: usize = 50;

#[derive(Debug, Clone)]
pub struct LogEntry {
    pub seq: u64,
    pub stamp: Utime,
    pub name: String,
    pub channel: String,
    pub priority: String,
    pub message: String,
}

impl LogEntry {
    pub fn to_json(&self) -> Value {
        json!({
            "name": self.name,
            "rank": self.name,
            "addrs": {"addrvec": []},
            "stamp": self.stamp.to_iso8601(),
            "seq": self.seq,
            "channel": self.channel,
            "priority": self.priority,
            "message": self.message,
        })
    }
    /// `LogEntry` as `ceph log last` prints it.
    pub fn to_text(&self) -> String {
        format!("{} {} ({}) {} : {} {} {}", self.stamp.to_iso8601(), self.name, self.name, self.seq, self.channel, self.priority, self.message)
    }
}

pub struct Cluster {
    pub store: Store,
    pub monmap: MonMap,
    pub osdmap: OsdMap,
    pub osdmap_first: u32,
    /// Recent full maps by epoch, encoded.
    pub osdmap_cache: BTreeMap<u32, Bytes>,
    /// Recent incrementals by epoch, encoded (absent where only a full map describes the change).
    pub inc_cache: BTreeMap<u32, Bytes>,
    pub mgrmap: MgrMap,
    pub keys: KeyServer,
    /// (who, option) → value, as `ceph config set WHO OPTION VALUE`.
    pub config: BTreeMap<(String, String), String>,
    pub config_key: BTreeMap<String, Bytes>,
    pub log: VecDeque<LogEntry>,
    pub log_seq: u64,
    next_global_id: u64,
    global_id_reserved: u64,
    pub fsmap_epoch: u32,
}

fn osdmap_key(e: u32) -> String {
    format!("osdmap/full/{e:010}")
}

fn inc_key(e: u32) -> String {
    format!("osdmap/inc/{e:010}")
}

/// The CRUSH map Ceph builds for a new cluster (`CrushWrapper::build_simple`-style
/// with `osd_crush_chooseleaf_type`): root `default` and `replicated_rule`.
pub fn initial_crush(chooseleaf_type: u32) -> crush::CrushMap {
    let step = if chooseleaf_type == 0 { "step choose firstn 0 type osd" } else { "step chooseleaf firstn 0 type host" };
    let text = format!(
        "tunable choose_local_tries 0\ntunable choose_local_fallback_tries 0\ntunable choose_total_tries 50\n\
         tunable chooseleaf_descend_once 1\ntunable chooseleaf_vary_r 1\ntunable chooseleaf_stable 1\n\
         tunable straw_calc_version 1\n\
         type 0 osd\ntype 1 host\ntype 2 chassis\ntype 3 rack\ntype 4 row\ntype 5 pdu\ntype 6 pod\n\
         type 7 room\ntype 8 datacenter\ntype 9 zone\ntype 10 region\ntype 11 root\n\
         root default {{\n\tid -1\n\talg straw2\n\thash 0\n}}\n\
         rule replicated_rule {{\n\tid 0\n\ttype replicated\n\tmin_size 1\n\tmax_size 10\n\tstep take default\n\t{step}\n\tstep emit\n}}\n"
    );
    crush::text::compile(&text).expect("the built-in crush map compiles")
}

/// Epoch 1 of a new cluster's OSDMap (`OSDMonitor::create_initial`).
pub fn initial_osdmap(fsid: Uuid, chooseleaf_type: u32) -> OsdMap {
    let now = Utime::now();
    let crush = initial_crush(chooseleaf_type);
    let crush_raw = crush.to_bytes(PACIFIC_SUPPORTED);
    let mut ec = BTreeMap::new();
    let mut def = BTreeMap::new();
    for (k, v) in [("k", "2"), ("m", "2"), ("plugin", "jerasure"), ("technique", "reed_sol_van")] {
        def.insert(k.to_string(), v.to_string());
    }
    ec.insert("default".to_string(), def);
    OsdMap {
        fsid,
        epoch: 1,
        created: now,
        modified: now,
        pools: BTreeMap::new(),
        pool_name: BTreeMap::new(),
        pool_max: 0,
        flags: INITIAL_OSDMAP_FLAGS,
        max_osd: 0,
        osd_state: vec![],
        osd_weight: vec![],
        client_addrs: vec![],
        pg_temp: BTreeMap::new(),
        primary_temp: BTreeMap::new(),
        osd_primary_affinity: vec![],
        crush,
        crush_raw,
        erasure_code_profiles: ec,
        pg_upmap: BTreeMap::new(),
        pg_upmap_items: BTreeMap::new(),
        crush_version: 1,
        new_removed_snaps: BTreeMap::new(),
        new_purged_snaps: BTreeMap::new(),
        last_up_change: Utime::default(),
        last_in_change: Utime::default(),
        osd: maps::osdmap::OsdSection {
            nearfull_ratio: 0.85,
            full_ratio: 0.95,
            backfillfull_ratio: 0.90,
            require_min_compat_client: RELEASE_LUMINOUS,
            require_osd_release: RELEASE_PACIFIC,
            ..Default::default()
        },
        crc: 0,
    }
}

impl Cluster {
    /// Writes what `ceph-mon --mkfs` was given into this mon's own keys; the
    /// first leader builds the cluster's initial state from it.
    pub fn mkfs(store: &Store, monmap: &MonMap, keys: &KeyServer, chooseleaf_type: u32) -> Result<(), String> {
        store.put_local("local/mkfs/monmap", &monmap.to_bytes(PACIFIC_SUPPORTED))?;
        store.put_local("local/mkfs/auth", &keys.to_bytes(0))?;
        store.put_local("local/mkfs/chooseleaf_type", chooseleaf_type.to_string().as_bytes())
    }

    /// The monmap this mon was made with.
    pub fn mkfs_monmap(store: &Store) -> Result<MonMap, String> {
        let b = store.get("local/mkfs/monmap").ok_or("store has no mkfs monmap (incomplete --mkfs?)")?;
        MonMap::from_bytes(Bytes::from(b)).map_err(|e| format!("mkfs monmap: {e}"))
    }

    /// Whether the replicated state exists yet (a new cluster's first leader creates it).
    pub fn initialized(store: &Store) -> bool {
        store.get("monmap").is_some()
    }

    /// A new cluster's state, as its first leader creates it
    /// (`Monitor::create_initial` of each service).
    pub fn initial_txn(store: &Store, ttls: auth::server::Ttls) -> Result<Txn, String> {
        let monmap = Self::mkfs_monmap(store)?;
        let mut keys = KeyServer::from_bytes(Bytes::from(store.get("local/mkfs/auth").ok_or("store has no mkfs keyring")?)).map_err(|e| format!("mkfs keyring: {e}"))?;
        keys.rotate_with(Utime::now(), ttls);
        let chooseleaf_type = store.get("local/mkfs/chooseleaf_type").and_then(|v| String::from_utf8_lossy(&v).parse().ok()).unwrap_or(1);
        let mut t = Txn::default();
        t.put("monmap", monmap.to_bytes(PACIFIC_SUPPORTED).to_vec());
        let om = initial_osdmap(monmap.fsid, chooseleaf_type);
        t.put(osdmap_key(1), om.to_bytes(PACIFIC_SUPPORTED).to_vec());
        t.put("osdmap/first", b"1".to_vec());
        t.put("osdmap/last", b"1".to_vec());
        let mgr = MgrMap { epoch: 1, ..Default::default() };
        t.put("mgrmap", mgr.to_bytes(PACIFIC_SUPPORTED).to_vec());
        t.put("auth", keys.to_bytes(0).to_vec());
        t.put("global_id", b"4100".to_vec());
        t.put("fsmap_epoch", b"1".to_vec());
        t.put("created", format!("{}", Utime::now().sec).into_bytes());
        Ok(t)
    }

    pub fn load(store: Store) -> Result<Cluster, String> {
        let mut c = Cluster {
            store,
            monmap: MonMap::default(),
            osdmap: initial_osdmap(Uuid::default(), 0),
            osdmap_first: 1,
            osdmap_cache: BTreeMap::new(),
            inc_cache: BTreeMap::new(),
            mgrmap: MgrMap::default(),
            keys: KeyServer::default(),
            config: BTreeMap::new(),
            config_key: BTreeMap::new(),
            log: VecDeque::new(),
            log_seq: 0,
            next_global_id: 0,
            global_id_reserved: 0,
            fsmap_epoch: 1,
        };
        c.reload(None)?;
        Ok(c)
    }

    /// Brings the in-memory state up to what the quorum has applied here
    /// (changes other mons made, or this one made through another path).
    pub fn refresh(&mut self) {
        let Some(q) = self.store.quorum() else { return };
        for ch in q.take_changes() {
            if ch.version <= self.store.version() {
                continue;
            }
            if let Err(e) = self.reload(ch.keys.as_deref()).or_else(|_| self.reload(None)) {
                // Keep the older version: writes from this view conflict
                // rather than land on stale state.
                tracing::error!("reloading state at version {}: {e}", ch.version);
                continue;
            }
            self.store.set_version(ch.version);
        }
    }

    /// Reloads the parts of the state `keys` touch (all of it for None).
    fn reload(&mut self, keys: Option<&[String]>) -> Result<(), String> {
        let touched = |p: &str| keys.map(|ks| ks.iter().any(|k| k == p || (p.ends_with('/') && k.starts_with(p)))).unwrap_or(true);
        let store = &self.store;
        let get = |k: &str| store.get(k).ok_or_else(|| format!("store is missing '{k}' (incomplete --mkfs?)"));
        let num = |k: &str| -> Result<u64, String> {
            String::from_utf8_lossy(&get(k)?).trim().parse::<u64>().map_err(|e| format!("store key '{k}': {e}"))
        };
        if touched("monmap") {
            self.monmap = MonMap::from_bytes(Bytes::from(get("monmap")?)).map_err(|e| format!("monmap: {e}"))?;
        }
        if touched("osdmap/last") || touched("osdmap/first") {
            let last = num("osdmap/last")? as u32;
            self.osdmap_first = num("osdmap/first")? as u32;
            if last != self.osdmap.epoch || keys.is_none() {
                let raw = Bytes::from(get(&osdmap_key(last))?);
                self.osdmap = OsdMap::from_bytes(raw.clone()).map_err(|e| format!("osdmap {last}: {e}"))?;
                self.osdmap_cache.insert(last, raw);
            }
            self.osdmap_cache.retain(|e, _| *e >= self.osdmap_first && *e <= last);
            self.inc_cache.retain(|e, _| *e > self.osdmap_first && *e <= last);
        }
        if touched("mgrmap") {
            self.mgrmap = MgrMap::from_bytes(Bytes::from(get("mgrmap")?)).map_err(|e| format!("mgrmap: {e}"))?;
        }
        if touched("auth") {
            self.keys = KeyServer::from_bytes(Bytes::from(get("auth")?)).map_err(|e| format!("auth database: {e}"))?;
        }
        if touched("config/") {
            self.config.clear();
            for (k, v) in self.store.scan("config/") {
                let rest = &k["config/".len()..];
                if let Some((who, name)) = rest.split_once('/') {
                    self.config.insert((who.to_string(), name.to_string()), String::from_utf8_lossy(&v).into_owned());
                }
            }
        }
        if touched("config-key/") {
            self.config_key.clear();
            for (k, v) in self.store.scan("config-key/") {
                self.config_key.insert(k["config-key/".len()..].to_string(), Bytes::from(v));
            }
        }
        if touched("log/") {
            let from = format!("log/{:016}", self.log_seq + 1);
            for (k, v) in self.store.scan("log/") {
                if k < from {
                    continue;
                }
                if let Ok(j) = serde_json::from_slice::<Value>(&v) {
                    let e = LogEntry {
                        seq: j["seq"].as_u64().unwrap_or(0),
                        stamp: Utime { sec: j["sec"].as_u64().unwrap_or(0) as u32, nsec: j["nsec"].as_u64().unwrap_or(0) as u32 },
                        name: j["name"].as_str().unwrap_or("").into(),
                        channel: j["channel"].as_str().unwrap_or("cluster").into(),
                        priority: j["priority"].as_str().unwrap_or("[INF]").into(),
                        message: j["message"].as_str().unwrap_or("").into(),
                    };
                    self.log_seq = self.log_seq.max(e.seq);
                    self.log.push_back(e);
                }
            }
            while self.log.len() > 10_000 {
                self.log.pop_front();
            }
        }
        if touched("fsmap_epoch") {
            self.fsmap_epoch = num("fsmap_epoch").unwrap_or(1) as u32;
        }
        Ok(())
    }

    /// A new global id for a session. Each mon reserves blocks of ids from a
    /// counter the quorum keeps, so no id is handed out twice by any mon,
    /// across restarts too.
    pub fn alloc_global_id(&mut self) -> Result<u64, String> {
        if self.next_global_id >= self.global_id_reserved {
            let start = self.store.reserve("global_id", 100)?;
            self.next_global_id = start;
            self.global_id_reserved = start + 100;
        }
        let id = self.next_global_id;
        self.next_global_id += 1;
        Ok(id)
    }

    /// A full OSDMap by epoch, if we still have it.
    pub fn osdmap_bytes(&mut self, e: u32) -> Option<Bytes> {
        if let Some(b) = self.osdmap_cache.get(&e) {
            return Some(b.clone());
        }
        if e < self.osdmap_first || e > self.osdmap.epoch {
            return None;
        }
        self.store.get(&osdmap_key(e)).map(Bytes::from)
    }

    /// The incremental that produced epoch `e`, if there is one.
    pub fn osdmap_inc_bytes(&mut self, e: u32) -> Option<Bytes> {
        if let Some(b) = self.inc_cache.get(&e) {
            return Some(b.clone());
        }
        if e <= self.osdmap_first || e > self.osdmap.epoch {
            return None;
        }
        self.store.get(&inc_key(e)).map(Bytes::from)
    }

    /// Builds the next OSDMap epoch with `f` applied and adds it to `t`.
    /// The caller commits `t` and then calls [`Cluster::publish_osdmap`].
    pub fn next_osdmap(&self, f: impl FnOnce(&mut OsdMap)) -> OsdMap {
        let mut m = self.osdmap.clone();
        m.epoch += 1;
        m.modified = Utime::now();
        // These describe only what this epoch removed or purged.
        m.new_removed_snaps.clear();
        m.new_purged_snaps.clear();
        f(&mut m);
        // Snaps removed in this epoch join the queue the OSDs trim from.
        let removed = m.new_removed_snaps.clone();
        for (pool, s) in removed {
            let q = m.osd.removed_snaps_queue.entry(pool).or_default();
            for (start, len) in s {
                for id in start..start + len {
                    crate::commands::add_removed(q, id);
                }
            }
        }
        // Snaps every PG trimmed leave the queue (as `apply_incremental` does).
        for (pool, s) in m.new_purged_snaps.clone() {
            if let Some(q) = m.osd.removed_snaps_queue.get_mut(&pool) {
                maps::incremental::subtract_from(q, &s);
                if q.is_empty() {
                    m.osd.removed_snaps_queue.remove(&pool);
                }
            }
        }
        m
    }

    /// Commits a new OSDMap epoch and makes it current.
    pub fn commit_osdmap(&mut self, mut m: OsdMap, mut t: Txn) -> Result<(), String> {
        let crush_now = m.crush.to_bytes(PACIFIC_SUPPORTED);
        if crush_now != m.crush_raw {
            m.crush_raw = crush_now;
        }
        let raw = m.to_bytes(PACIFIC_SUPPORTED);
        // Re-decode so the map carries the crc it was encoded with.
        let decoded = OsdMap::from_bytes(raw.clone()).map_err(|e| format!("re-reading osdmap {}: {e}", m.epoch))?;
        t.put(osdmap_key(m.epoch), raw.to_vec());
        t.put("osdmap/last", m.epoch.to_string().into_bytes());
        // The incremental subscribers get, when it reproduces the full map exactly.
        let inc = Incremental::diff_checked(&self.osdmap, &decoded, PACIFIC_SUPPORTED).map(|i| i.to_bytes(PACIFIC_SUPPORTED));
        if let Some(b) = &inc {
            t.put(inc_key(m.epoch), b.to_vec());
        }
        self.store.commit(t)?;
        self.osdmap = decoded;
        if let Some(b) = inc {
            self.inc_cache.insert(m.epoch, b);
            while self.inc_cache.len() > CACHED_MAPS {
                let first = *self.inc_cache.keys().next().expect("non-empty");
                self.inc_cache.remove(&first);
            }
        }
        self.osdmap_cache.insert(m.epoch, raw);
        while self.osdmap_cache.len() > CACHED_MAPS {
            let first = *self.osdmap_cache.keys().next().expect("non-empty");
            self.osdmap_cache.remove(&first);
        }
        Ok(())
    }

    /// Removes the osdmaps before epoch `to` (full maps, and the
    /// incrementals up to it: `to` becomes the first, a full map).
    pub fn trim_osdmaps(&mut self, to: u32) -> Result<(), String> {
        let first = self.osdmap_first;
        if to <= first || to > self.osdmap.epoch {
            return Ok(());
        }
        if self.osdmap_bytes(to).is_none() {
            return Err(format!("no full osdmap at epoch {to} to keep as the first"));
        }
        let mut t = Txn::default();
        for e in first..to {
            t.del(osdmap_key(e));
            t.del(inc_key(e + 1));
        }
        t.put("osdmap/first", to.to_string().into_bytes());
        self.store.commit(t)?;
        self.osdmap_first = to;
        self.osdmap_cache.retain(|e, _| *e >= to);
        self.inc_cache.retain(|e, _| *e > to);
        Ok(())
    }

    pub fn commit_mgrmap(&mut self, m: MgrMap, mut t: Txn) -> Result<(), String> {
        t.put("mgrmap", m.to_bytes(PACIFIC_SUPPORTED).to_vec());
        self.store.commit(t)?;
        self.mgrmap = m;
        Ok(())
    }

    pub fn commit_keys(&mut self, keys: KeyServer, mut t: Txn) -> Result<(), String> {
        t.put("auth", keys.to_bytes(0).to_vec());
        self.store.commit(t)?;
        self.keys = keys;
        Ok(())
    }

    /// Appends to the cluster log (and persists it).
    pub fn clog(&mut self, name: &str, priority: &str, message: String) {
        self.log_seq += 1;
        let e = LogEntry { seq: self.log_seq, stamp: Utime::now(), name: name.into(), channel: "cluster".into(), priority: priority.into(), message };
        let mut t = Txn::default();
        t.put(
            format!("log/{:016}", e.seq),
            serde_json::to_vec(&json!({"seq": e.seq, "sec": e.stamp.sec, "nsec": e.stamp.nsec, "name": e.name, "channel": e.channel, "priority": e.priority, "message": e.message})).unwrap_or_default(),
        );
        if self.log.len() >= 10_000 {
            if let Some(old) = self.log.pop_front() {
                t.del(format!("log/{:016}", old.seq));
            }
        }
        if let Err(err) = self.store.commit(t) {
            // Not logged: the sequence number stays free.
            tracing::warn!("cluster log write failed: {err}");
            self.log_seq -= 1;
            return;
        }
        self.log.push_back(e);
    }

    /// A pool as `osd pool create` makes it with the config defaults.
    pub fn new_pool(&self, pg_num: u32, pgp_num: u32, size: u8, min_size: u8, rule: u8, autoscale: u8) -> PgPool {
        let now = Utime::now();
        PgPool {
            size,
            min_size,
            crush_rule: rule,
            pg_num,
            pgp_num,
            pg_num_target: pg_num,
            pgp_num_target: pgp_num,
            pg_num_pending: pg_num,
            last_change: self.osdmap.epoch + 1,
            create_time: now,
            pg_autoscale_mode: autoscale,
            ..PgPool::default()
        }
    }

    /// Config values that apply to `who` (e.g. `client.admin`): global, then
    /// type, then the full name, later ones winning (`ConfigMap::generate_entity_map`).
    pub fn config_for(&self, ty: &str, name: &str) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for who in ["global", ty, name] {
            for ((w, k), v) in &self.config {
                if w == who {
                    out.insert(k.clone(), v.clone());
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reencode(m: &OsdMap) -> OsdMap {
        OsdMap::from_bytes(m.to_bytes(PACIFIC_SUPPORTED)).unwrap()
    }

    /// The edits the mon makes are described exactly by incrementals, so clients
    /// get Ceph's incremental maps with matching crcs.
    #[test]
    fn mon_edits_have_exact_incrementals() {
        let mut cur = reencode(&initial_osdmap(Uuid::random(), 0));
        let step = |cur: &OsdMap, f: &dyn Fn(&mut OsdMap)| -> OsdMap {
            let mut m = cur.clone();
            m.epoch += 1;
            m.modified = Utime::now();
            m.new_removed_snaps.clear();
            f(&mut m);
            reencode(&m)
        };
        let edits: Vec<(&str, Box<dyn Fn(&mut OsdMap)>)> = vec![
            ("pool create", Box::new(|m: &mut OsdMap| {
                m.pool_max = 1;
                m.pools.insert(1, PgPool { last_change: m.epoch, pg_num: 32, pgp_num: 32, ..PgPool::default() });
                m.pool_name.insert(1, "rbd".into());
            })),
            ("pool set size", Box::new(|m: &mut OsdMap| {
                let e = m.epoch;
                let p = m.pools.get_mut(&1).unwrap();
                p.size = 2;
                p.last_change = e;
            })),
            ("osd new", Box::new(|m: &mut OsdMap| {
                m.set_max_osd(1);
                m.osd_state[0] = maps::osdmap::OSD_EXISTS;
                m.osd.osd_uuid[0] = Uuid::random();
            })),
            ("osd in", Box::new(|m: &mut OsdMap| m.osd_weight[0] = 0x10000)),
            ("up_thru", Box::new(|m: &mut OsdMap| m.osd.osd_info[0].up_thru = m.epoch)),
            ("osd lost", Box::new(|m: &mut OsdMap| m.osd.osd_info[0].lost_at = m.epoch - 1)),
            ("pg_temp set", Box::new(|m: &mut OsdMap| {
                m.pg_temp.insert(types::osd::PgId { pool: 1, seed: 3 }, vec![0]);
            })),
            ("pg_temp clear", Box::new(|m: &mut OsdMap| {
                m.pg_temp.clear();
            })),
            ("osd out", Box::new(|m: &mut OsdMap| m.osd_weight[0] = 0)),
            ("ec profile", Box::new(|m: &mut OsdMap| {
                m.erasure_code_profiles.insert("p".into(), Default::default());
            })),
            ("crush rule", Box::new(|m: &mut OsdMap| {
                m.crush.rule_name_map.insert(5, "x".into());
                m.crush_raw = m.crush.to_bytes(PACIFIC_SUPPORTED);
                m.crush_version += 1;
            })),
            ("pg_temp and primary_temp set", Box::new(|m: &mut OsdMap| {
                m.pg_temp.insert(types::osd::PgId { pool: 1, seed: 3 }, vec![0]);
                m.primary_temp.insert(types::osd::PgId { pool: 1, seed: 4 }, 0);
            })),
            ("pool rm", Box::new(|m: &mut OsdMap| {
                m.remove_pool(1);
                assert!(m.pg_temp.is_empty() && m.primary_temp.is_empty(), "the pool's temp mappings go with it");
            })),
        ];
        for (what, f) in edits {
            let next = step(&cur, &*f);
            let inc = Incremental::diff_checked(&cur, &next, PACIFIC_SUPPORTED);
            assert!(inc.is_some(), "{what}: no exact incremental");
            // And it survives its own encoding, as clients receive it.
            let b = inc.unwrap().to_bytes(PACIFIC_SUPPORTED);
            let back = Incremental::from_bytes(b).unwrap();
            let mut t = cur.clone();
            t.apply_incremental(&back).unwrap();
            assert_eq!(t.to_bytes(PACIFIC_SUPPORTED), next.to_bytes(PACIFIC_SUPPORTED), "{what}");
            cur = next;
        }
    }
}
