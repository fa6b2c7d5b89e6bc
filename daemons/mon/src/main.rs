//! `ceph-mon`: the oxceph monitor. Takes Ceph's flags and reads `ceph.conf`:
//!
//!   ceph-mon --mkfs -i a [--monmap FILE] [--keyring FILE] [-c ceph.conf]
//!   ceph-mon -i a [-f | -d] [-c ceph.conf] [--cluster NAME] [--public-addr IP]

mod commands;
mod mgr;
mod osdmon;
mod service;
mod state;
mod store;

use auth::server::{EntityAuth, KeyServer};
use auth::CryptoKey;
use denc::{Decode, Utime};
use maps::monmap::{MonInfo, MonMap};
use service::{Mon, MonAuth, MonSettings};
use state::Cluster;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use store::Store;
use types::{EntityAddr, EntityAddrVec, EntityName, EntityType, Uuid};

struct Args {
    common: daemon::CommonArgs,
    mkfs: bool,
    monmap: Option<PathBuf>,
    public_addr: Option<String>,
}

const USAGE: &str = "usage: ceph-mon -i <monitorid> [flags]
  --debug_mon n
        debug monitor level (e.g. 10)
  --mkfs
        build fresh monitor fs
  --force-sync
        force a sync from another mon by wiping local data (BE CAREFUL)
  --yes-i-really-mean-it
        mandatory safeguard for --force-sync
  --compact
        compact the monitor store
  --osdmap <filename>
        only used when --mkfs is provided: load the osdmap from <filename>
  --inject-monmap <filename>
        write the <filename> monmap to the local monitor store and exit
  --extract-monmap <filename>
        extract the monmap from the local monitor store and exit
  --mon-data <directory>
        where the mon store and keyring are located
  --set-crush-location <bucket>=<foo>
        sets monitor's crush bucket location (only for stretch mode)
  --conf/-c FILE    read configuration from the given configuration file
  --id/-i ID        set ID portion of my name
  --name/-n TYPE.ID set name
  --cluster NAME    set cluster name (default: ceph)
  --setuser USER    set uid to user or uid (and gid to user's gid)
  --setgroup GROUP  set gid to group or gid
  -d                run in foreground, log to stderr
  -f                run in foreground, log to usual location
";

fn parse_args() -> Result<Args, String> {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let (mut mkfs, mut monmap, mut public_addr) = (false, None, None);
    let common = daemon::parse_args(&argv, "mon", USAGE, |flag, value| {
        match flag {
            "--mkfs" => mkfs = true,
            "--monmap" => monmap = Some(PathBuf::from(value()?)),
            "--public-addr" | "--public_addr" => public_addr = Some(value()?),
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    Ok(Args { common, mkfs, monmap, public_addr })
}

fn die(msg: impl std::fmt::Display) -> ! {
    daemon::die("ceph-mon", msg)
}

const CONF_KEYS: [&str; 25] = [
    "mon_min_osdmap_epochs",
    "mon_osd_force_trim_to",
    "paxos_service_trim_min",
    "paxos_service_trim_max",
    "mon_quorum_port_offset",
    "mon_osd_min_down_reporters",
    "mon_osd_reporter_subtree_level",
    "osd_heartbeat_grace",
    "mon_osd_down_out_interval",
    "mon_osd_report_timeout",
    "mon_max_osd",
    "osd_pool_default_size",
    "osd_pool_default_min_size",
    "osd_pool_default_pg_num",
    "osd_pool_default_pg_autoscale_mode",
    "mon_allow_pool_delete",
    "mon_allow_pool_size_one",
    "mon_max_pool_pg_num",
    "target_max_misplaced_ratio",
    "osd_crush_chooseleaf_type",
    "auth_service_required",
    "auth_cluster_required",
    "ms_mon_service_mode",
    "auth_service_ticket_ttl",
    "osd_failsafe_full_ratio",
];

fn main() {
    let args = parse_args().unwrap_or_else(|e| {
        eprint!("{USAGE}");
        die(e)
    });
    let Some(id) = args.common.id.clone() else {
        eprint!("{USAGE}");
        die("must specify '-i name' with the ceph-mon instance name")
    };
    let name = EntityName::new(EntityType::MON, id.clone());
    let mut cfg = config::Config::load(&args.common.cluster, name.clone(), args.common.conf.as_deref()).unwrap_or_else(|e| die(e));
    for (k, v) in &args.common.overrides {
        cfg.set_override(k, v);
    }
    daemon::drop_privileges(&args.common).unwrap_or_else(|e| die(e));
    let mon_data = PathBuf::from(cfg.get("mon_data").unwrap_or_else(|| format!("/var/lib/ceph/mon/{}-{id}", args.common.cluster)));

    if args.mkfs {
        mkfs(&args, &cfg, &id, &mon_data);
        return;
    }
    if !args.common.foreground {
        daemon::daemonize().unwrap_or_else(|e| die(e));
    }
    daemon::init_logging(&args.common, &cfg);
    daemon::write_pid_file(&cfg);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap_or_else(|e| die(e));
    if let Err(e) = rt.block_on(run(&args, &cfg, &id, &mon_data)) {
        tracing::error!("{e}");
        die(e);
    }
}

fn mkfs(args: &Args, cfg: &config::Config, id: &str, mon_data: &std::path::Path) {
    if mon_data.join("store.db").exists() {
        die(format!("'{}' already exists and is not empty: monitor may already exist", mon_data.display()));
    }
    std::fs::create_dir_all(mon_data).unwrap_or_else(|e| die(format!("{}: {e}", mon_data.display())));
    let mut monmap = match &args.monmap {
        Some(p) => {
            let b = std::fs::read(p).unwrap_or_else(|e| die(format!("{}: {e}", p.display())));
            MonMap::decode(&mut denc::Reader::new(b)).unwrap_or_else(|e| die(format!("{}: not a monmap: {e}", p.display())))
        }
        None => monmap_from_conf(cfg),
    };
    if let Some(f) = cfg.get("fsid") {
        if monmap.fsid.is_zero() {
            monmap.fsid = f.parse().unwrap_or_else(|_| die(format!("bad fsid '{f}'")));
        }
    }
    if monmap.fsid.is_zero() {
        monmap.fsid = Uuid::random();
    }
    // A monmap of a new cluster (from mon_host, or monmaptool: epoch 0) makes
    // a founding mon; one fetched from a running cluster makes a joining one.
    let initial_members = cfg.get("mon_initial_members").map(|m| config::split_list(&m)).unwrap_or_default();
    let initial = monmap.epoch == 0 || initial_members.iter().any(|m| m == id);
    if monmap.epoch == 0 {
        monmap.epoch = 1;
    }
    if monmap.min_mon_release < 16 {
        monmap.min_mon_release = 16;
    }
    monmap.persistent_features |= 0xff;
    if monmap.strategy == 0 {
        monmap.strategy = 1;
    }
    if !monmap.mon_info.contains_key(id) {
        die(format!(
            "mon.{id} is not in the monmap (names: {:?}); check mon_initial_members/mon_host, or add it to the running cluster first (ceph mon add {id} ADDR) and use its map (ceph mon getmap -o FILE; --monmap FILE)",
            monmap.mon_info.keys().collect::<Vec<_>>()
        ));
    }
    let kpath = args.common.keyring.clone().or_else(|| cfg.keyring_paths().into_iter().find(|p| p.exists()));
    let Some(kpath) = kpath else { die("no keyring given (--keyring FILE): it must hold the mon. key") };
    let kr = config::Keyring::read(&kpath).unwrap_or_else(|e| die(e));
    let mut ks = KeyServer::default();
    for (n, e) in &kr.entries {
        let key = CryptoKey::from_base64(&e.key).unwrap_or_else(|err| die(format!("{n}: bad key: {err}")));
        let mut caps: BTreeMap<String, String> = e.caps.clone();
        if n.ty == EntityType::MON && n.id.is_empty() {
            caps.entry("mon".into()).or_insert_with(|| "allow *".into());
        }
        ks.entities.insert(n.clone(), EntityAuth { key, caps });
    }
    if !ks.entities.keys().any(|n| n.ty == EntityType::MON) {
        die(format!("{} has no mon. key", kpath.display()));
    }
    ks.rotate_with(
        Utime::now(),
        auth::server::Ttls { auth: cfg.get_f64("auth_mon_ticket_ttl").unwrap_or(43200.0), service: cfg.get_f64("auth_service_ticket_ttl").unwrap_or(3600.0) },
    );
    let store = Store::open(mon_data, true).unwrap_or_else(|e| die(e));
    let chooseleaf = cfg.get_u64("osd_crush_chooseleaf_type").unwrap_or(1) as u32;
    Cluster::mkfs(&store, &monmap, &ks, chooseleaf).unwrap_or_else(|e| die(e));
    store.put_local("local/mkfs/initial", if initial { b"1" } else { b"0" }).unwrap_or_else(|e| die(e));
    let _ = std::fs::write(mon_data.join("keyring"), kr.to_text());
    println!("ceph-mon: created monfs at {} for mon.{id}", mon_data.display());
}

fn monmap_from_conf(cfg: &config::Config) -> MonMap {
    let host = cfg.get("mon_host").unwrap_or_else(|| die("no --monmap and no mon_host in the configuration"));
    let addrs = config::parse_mon_host(&host).unwrap_or_else(|e| die(e));
    let names: Vec<String> = cfg.get("mon_initial_members").map(|m| config::split_list(&m)).unwrap_or_default();
    let now = Utime::now();
    let mut mm = MonMap { epoch: 0, created: now, last_changed: now, ..Default::default() };
    for (i, av) in addrs.into_iter().enumerate() {
        let name = names.get(i).cloned().unwrap_or_else(|| format!("noname-{}", (b'a' + i as u8) as char));
        mm.mon_info.insert(name.clone(), MonInfo { name, public_addrs: av, ..Default::default() });
    }
    mm.calc_ranks();
    mm
}

/// What `config show mon.ID` reports: options set in ceph.conf sections that
/// apply to us, and command-line overrides, with metavariables expanded.
fn running_config(args: &Args, cfg: &config::Config, id: &str) -> BTreeMap<String, (String, &'static str)> {
    let mut out = BTreeMap::new();
    if let Some(p) = &cfg.conf_path {
        if let Ok(f) = config::ConfFile::read(p) {
            for (sect, kv) in f.sections() {
                if sect == "global" || sect == "mon" || *sect == format!("mon.{id}") {
                    for k in kv.keys() {
                        if let Some(v) = cfg.get(k) {
                            out.insert(k.clone(), (v, "file"));
                        }
                    }
                }
            }
        }
    }
    for (k, _) in &args.common.overrides {
        let k = config::normalize_key(k);
        if let Some(v) = cfg.get(&k) {
            out.insert(k, (v, "cmdline"));
        }
    }
    out
}

async fn run(args: &Args, cfg: &config::Config, id: &str, mon_data: &std::path::Path) -> Result<(), String> {
    let store = Store::open(mon_data, false)?;
    let monmap = match store.get("monmap") {
        Some(b) => MonMap::from_bytes(bytes::Bytes::from(b)).map_err(|e| format!("monmap: {e}"))?,
        None => Cluster::mkfs_monmap(&store)?,
    };
    let ttls = auth::server::Ttls {
        auth: cfg.get_f64("auth_mon_ticket_ttl").unwrap_or(43200.0),
        service: cfg.get_f64("auth_service_ticket_ttl").unwrap_or(3600.0),
    };
    // Mons prove themselves to each other with the mon. key they all share.
    let keyring = config::Keyring::read(&mon_data.join("keyring")).map_err(|e| e.to_string())?;
    let secret = keyring
        .entries
        .iter()
        .find(|(n, _)| n.ty == EntityType::MON)
        .map(|(_, e)| e.key.clone().into_bytes())
        .ok_or_else(|| format!("{} has no mon. key", mon_data.join("keyring").display()))?;
    let offset = cfg.get_u64("mon_quorum_port_offset").unwrap_or(1000) as u16;
    let members = service::quorum_members(&monmap, offset);
    let me = members.iter().find(|m| m.name == id).cloned().ok_or_else(|| format!("mon.{id} is not in the monmap (or has no v2 address)"))?;
    // The mons of a new cluster found the group; a mon added later waits to
    // be let in by the leader (`ceph mon add`).
    let initial = store.get("local/mkfs/initial").map(|v| v == b"1").unwrap_or(true);
    let opts = quorum::Options {
        snapshot_every: cfg.get_u64("mon_quorum_snapshot_every").unwrap_or(2000),
        keep_logs: cfg.get_u64("mon_quorum_keep_logs").unwrap_or(500),
    };
    let q = quorum::Quorum::start(store.db(), me, members, secret, initial, opts)?;
    store.attach(q.clone());
    // A new cluster's first leader creates its state; the others receive it.
    while !Cluster::initialized(&store) {
        let st = q.status();
        if st.leader.as_deref() == Some(id) && st.in_quorum {
            let t = Cluster::initial_txn(&store, ttls)?;
            match store.commit(t) {
                Ok(()) => tracing::info!("created the cluster's initial state"),
                Err(e) => tracing::debug!("initial state: {e}"),
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    store.set_version(quorum::store::state_version(&store.db()));
    let cluster = Cluster::load(store)?;
    let fsid = cluster.monmap.fsid;
    let Some(rank) = cluster.monmap.rank_of(id) else {
        return Err(format!("mon.{id} is not in the stored monmap"));
    };
    let mut my_addrs = cluster.monmap.mon_info.get(id).map(|m| m.public_addrs.clone()).unwrap_or_default();
    if let Some(pa) = args.public_addr.clone().or_else(|| cfg.get("public_addr")) {
        if let Ok(ip) = pa.split(':').next().unwrap_or("").parse::<std::net::IpAddr>() {
            for a in my_addrs.0.iter_mut() {
                if let Some(sa) = a.addr.as_mut() {
                    sa.set_ip(ip);
                }
            }
        }
    }
    let v2: EntityAddr = my_addrs.v2().cloned().ok_or_else(|| format!("mon.{id} has no v2 address in the monmap (oxceph speaks msgr2 only)"))?;
    let sa = v2.addr.ok_or("mon address has no IP")?;
    let mut conf = BTreeMap::new();
    for k in CONF_KEYS {
        if let Some(v) = cfg.get(k) {
            conf.insert(k.to_string(), v);
        }
    }
    let methods = |v: &str| -> Vec<u32> {
        config::split_list(v).iter().filter_map(|m| match m.as_str() { "cephx" => Some(auth::AUTH_CEPHX), "none" => Some(auth::AUTH_NONE), _ => None }).collect()
    };
    let settings = MonSettings {
        name: id.to_string(),
        ttls,
        auth_methods: methods(&cfg.get("auth_service_required").unwrap_or_else(|| "cephx".into())),
        con_modes: {
            let m = auth::parse_con_modes(&cfg.get("ms_mon_service_mode").unwrap_or_else(|| "secure crc".into()));
            if m.is_empty() { vec![auth::CON_MODE_SECURE, auth::CON_MODE_CRC] } else { m }
        },
        conf,
        running: running_config(args, cfg, id),
    };
    let (tx, _) = tokio::sync::watch::channel(0u64);
    let mon = Arc::new(Mon {
        cluster: std::sync::Mutex::new(cluster),
        settings,
        fsid,
        changed: tx,
        sessions: Default::default(),
        osd_runtime: Default::default(),
        quorum: q.clone(),
        quorum_since: std::sync::Mutex::new((vec![], std::time::Instant::now())),
    });
    let main_rt = tokio::runtime::Handle::current();
    let m5 = mon.clone();
    q.set_forward_handler(Arc::new(move |payload| {
        let (m, h) = (m5.clone(), main_rt.clone());
        Box::pin(async move { h.spawn(service::handle_forwarded(m, payload)).await.map_err(|e| e.to_string())? })
    }));
    // What other mons commit reaches our sessions' subscriptions.
    let m6 = mon.clone();
    tokio::spawn(async move {
        let mut applied = m6.quorum.applied();
        let mut monmap_epoch = 0;
        while applied.changed().await.is_ok() {
            let mm = {
                let c = m6.lock();
                (c.monmap.epoch != monmap_epoch).then(|| c.monmap.clone())
            };
            if let Some(mm) = mm {
                if !mm.mon_info.contains_key(&m6.settings.name) {
                    leave(&format!("mon.{} is no longer in the monmap (epoch {})", m6.settings.name, mm.epoch));
                }
                // Mons added or removed: whom to ask and name in quorum reports.
                monmap_epoch = mm.epoch;
                m6.quorum.set_members(service::quorum_members(&mm, offset));
            }
            m6.notify();
        }
    });
    let opts = msgr::server::ServerOptions {
        my_type: EntityType::MON,
        my_addrs: EntityAddrVec::single(EntityAddr { nonce: 0, ..v2 }),
        my_gid: rank as i64,
        lossy_clients: true,
        handshake_timeout: std::time::Duration::from_secs(30),
        keepalive_secs: 0,
    };
    let auth = Arc::new(MonAuth { mon: mon.clone(), service: None });
    let m2 = mon.clone();
    let _listener = msgr::server::listen(sa, opts, auth, move |a| service::serve_session(m2.clone(), a.conn, a.incoming, a.identity))
        .await
        .map_err(|e| format!("cannot bind {sa}: {e}"))?;
    tracing::info!(%sa, "mon.{id} listening (fsid {fsid})");
    let mgr_addr = mgr::start(mon.clone(), sa.ip()).await?;
    tokio::spawn(leader_duties(mon.clone(), mgr_addr));
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).map_err(|e| e.to_string())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    tracing::info!("mon.{id} shutting down");
    Ok(())
}

/// What only the leader does, once a second: publish its mgr as active,
/// rotate service secrets, and run the OSD failure and down → out timers.
async fn leader_duties(mon: Arc<Mon>, mgr_addr: EntityAddr) {
    let mut t = tokio::time::interval(std::time::Duration::from_secs(1));
    let mut was_leader = false;
    let mut last_rotation: Option<std::time::Instant> = None;
    let id = mon.settings.name.clone();
    loop {
        t.tick().await;
        if mon.quorum.retired() {
            leave(&format!("mon.{id} was removed from the monmap"));
        }
        let leader = mon.is_leader();
        if !leader {
            was_leader = false;
            continue;
        }
        if !was_leader {
            if let Err(e) = mon.quorum.linearize().await {
                tracing::debug!("linearize: {e}");
                continue;
            }
            let st = mon.quorum.status();
            let mut c = mon.lock();
            let ranks: Vec<String> = st.quorum.iter().filter_map(|n| c.monmap.rank_of(n)).map(|r| r.to_string()).collect();
            c.clog(&format!("mon.{id}"), "[INF]", format!("mon.{id} is new leader, mons {} in quorum (ranks {})", st.quorum.join(","), ranks.join(",")));
            tracing::info!(term = st.term, "mon.{id} is the leader");
            was_leader = true;
        }
        let (active, addrs) = {
            let c = mon.lock();
            (c.mgrmap.active_name.clone(), c.mgrmap.active_addrs.clone())
        };
        if active != id || addrs != EntityAddrVec::single(mgr_addr) {
            if let Err(e) = mgr::publish(&mon, mgr_addr) {
                tracing::warn!("publishing the mgr: {e}");
            }
        }
        let ttls = mon.settings.ttls;
        if last_rotation.map(|l| l.elapsed().as_secs_f64() >= (ttls.service / 4.0).max(1.0)).unwrap_or(true) {
            let mut c = mon.lock();
            let mut ks = c.keys.clone();
            if ks.rotate_with(Utime::now(), ttls) {
                if let Err(e) = c.commit_keys(ks, store::Txn::default()) {
                    tracing::warn!("rotating keys: {e}");
                }
            }
            last_rotation = Some(std::time::Instant::now());
        }
        if osdmon::tick(&mon) {
            mon.notify();
        }
        // Mons added with `mon add` vote once they have caught up.
        mon.quorum.promote_caught_up();
    }
}

/// As a Ceph mon removed from the monmap: leave, after a moment so the answer
/// to the `mon remove` (perhaps handled here) reaches its client.
fn leave(why: &str) {
    static LEAVING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if LEAVING.swap(true, std::sync::atomic::Ordering::SeqCst) {
        return;
    }
    tracing::warn!("{why}: shutting down");
    tokio::spawn(async {
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        std::process::exit(0);
    });
}
