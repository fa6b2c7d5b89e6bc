//! `ceph-osd`: the oxceph object storage daemon. Takes Ceph's flags and reads
//! `ceph.conf`:
//!
//!   ceph-osd --mkfs -i N --osd-uuid UUID [-c ceph.conf] [--osd-data DIR]
//!   ceph-osd -i N [-f | -d] [-c ceph.conf] [--cluster NAME] [--setuser U]

mod cls;
mod cls_lock;
mod cls_rbd;
mod cls_rbd_dir;
mod cls_rbd_objmap;
mod cls_rbd_snap;
mod history;
mod memory;
mod ops;
mod options;
mod pg;
mod service;
mod snaps;
mod tell;

use messages::osd_mon::{OsdBeacon, OsdBoot, OsdMarkMeDown, OsdSuperblock};
use messages::Message;
use objectstore::{Op, Store, Transaction};
use service::{Osd, OsdAuth, OsdConf};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tracing::{info, warn};
use types::features::PACIFIC_SUPPORTED;
use types::{EntityAddr, EntityAddrVec, EntityName, EntityType, Uuid};

const USAGE: &str = "usage: ceph-osd -i <ID> [flags]
  --osd-data PATH data directory
  --osd-journal PATH
                    journal file or block device
  --mkfs            create a [new] data directory
  --mkkey           generate a new secret key. This is normally used in combination with --mkfs
  --osd-uuid UUID   the osd's uuid (with --mkfs)
  --conf/-c FILE    read configuration from the given configuration file
  --id/-i ID        set ID portion of my name
  --name/-n TYPE.ID set name
  --cluster NAME    set cluster name (default: ceph)
  --setuser USER    set uid to user or uid (and gid to user's gid)
  --setgroup GROUP  set gid to group or gid
  -d                run in foreground, log to stderr
  -f                run in foreground, log to usual location
";

struct Args {
    common: daemon::CommonArgs,
    mkfs: bool,
    osd_uuid: Option<String>,
}

fn die(msg: impl std::fmt::Display) -> ! {
    daemon::die("ceph-osd", msg)
}

fn parse_args() -> Result<Args, String> {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let (mut mkfs, mut osd_uuid) = (false, None);
    let mut common = daemon::parse_args(&argv, "osd", USAGE, |flag, value| {
        match flag {
            "--mkfs" => mkfs = true,
            "--mkkey" | "--mkjournal" | "--no-mon-config" => {}
            "--osd-uuid" | "--osd_uuid" => osd_uuid = Some(value()?),
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    // --osd-data and friends are plain config overrides.
    for (k, _) in common.overrides.iter_mut() {
        *k = config::normalize_key(k);
    }
    Ok(Args { common, mkfs, osd_uuid })
}

fn main() {
    let args = parse_args().unwrap_or_else(|e| {
        eprint!("{USAGE}");
        die(e)
    });
    let Some(id) = args.common.id.clone() else {
        eprint!("{USAGE}");
        die("must specify '-i #' where # is the osd number")
    };
    let whoami: i32 = id.parse().unwrap_or_else(|_| die(format!("'{id}' is not a valid osd id")));
    let name = EntityName::new(EntityType::OSD, id.clone());
    let mut cfg = config::Config::load(&args.common.cluster, name, args.common.conf.as_deref()).unwrap_or_else(|e| die(e));
    for (k, v) in &args.common.overrides {
        cfg.set_override(k, v);
    }
    daemon::drop_privileges(&args.common).unwrap_or_else(|e| die(e));
    let data = PathBuf::from(cfg.get("osd_data").unwrap_or_else(|| format!("/var/lib/ceph/osd/{}-{id}", args.common.cluster)));
    if let Some(k) = &args.common.keyring {
        cfg.set_override("keyring", &k.display().to_string());
    }
    if args.mkfs {
        mkfs(&args, &cfg, whoami, &data);
        return;
    }
    if !args.common.foreground {
        daemon::daemonize().unwrap_or_else(|e| die(e));
    }
    daemon::init_logging(&args.common, &cfg);
    daemon::write_pid_file(&cfg);
    // Store commits run on blocking threads, each with its own O_DIRECT bounce
    // buffer: a bound keeps that memory bounded under a burst of big writes.
    let rt = tokio::runtime::Builder::new_multi_thread().max_blocking_threads(64).enable_all().build().unwrap_or_else(|e| die(e));
    if let Err(e) = rt.block_on(run(cfg, whoami, data)) {
        tracing::error!("{e}");
        die(e);
    }
}

fn mkfs(args: &Args, cfg: &config::Config, whoami: i32, data: &Path) {
    if data.join("store.db").exists() {
        die(format!("{} already holds an object store (osd.{whoami} may already exist)", data.display()));
    }
    std::fs::create_dir_all(data).unwrap_or_else(|e| die(format!("{}: {e}", data.display())));
    let osd_uuid: Uuid = match &args.osd_uuid {
        Some(u) => u.parse().unwrap_or_else(|_| die(format!("bad --osd-uuid '{u}'"))),
        None => Uuid::random(),
    };
    let fsid: Uuid = match cfg.get("fsid") {
        Some(f) => f.parse().unwrap_or_else(|_| die(format!("bad fsid '{f}' in the configuration"))),
        None => {
            // As ceph-osd --mkfs: ask the monitors for the cluster's fsid.
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap_or_else(|e| die(e));
            rt.block_on(async {
                let o = monc::MonClientOptions { my_type: EntityType::OSD, connect_timeout: Duration::from_secs(30), ..Default::default() };
                let mc = monc::MonClient::connect(cfg.clone(), o).await.unwrap_or_else(|e| die(format!("cannot reach the monitors for the cluster fsid: {e}")));
                mc.fsid()
            })
        }
    };
    let store = Store::open(data, true).unwrap_or_else(|e| die(e));
    let mut t = Transaction::new();
    t.push(Op::SetSuper { key: "whoami".into(), value: whoami.to_string().into() });
    t.push(Op::SetSuper { key: "osd_fsid".into(), value: osd_uuid.to_string().into() });
    t.push(Op::SetSuper { key: "cluster_fsid".into(), value: fsid.to_string().into() });
    store.apply(&t).unwrap_or_else(|e| die(e));
    // The files Ceph's OSDs keep beside their store.
    for (f, v) in [("whoami", whoami.to_string()), ("fsid", osd_uuid.to_string()), ("ceph_fsid", fsid.to_string()), ("type", "oxceph-rocksdb".into()), ("ready", "ready".into())] {
        let _ = std::fs::write(data.join(f), format!("{v}\n"));
    }
    println!("created object store {} for osd.{whoami} fsid {fsid}", data.display());
}


async fn run(cfg: config::Config, whoami: i32, data: PathBuf) -> Result<(), String> {
    let store = Arc::new(Store::open(&data, false).map_err(|e| e.to_string())?);
    let sget = |k: &str| -> Result<String, String> {
        let v = store.get_super(k).map_err(|e| e.to_string())?.ok_or_else(|| format!("object store at {} has no {k}; run ceph-osd --mkfs", data.display()))?;
        Ok(String::from_utf8_lossy(&v).into_owned())
    };
    let stored_id: i32 = sget("whoami")?.parse().map_err(|_| "bad whoami in the store".to_string())?;
    if stored_id != whoami {
        return Err(format!("{} belongs to osd.{stored_id}, not osd.{whoami}", data.display()));
    }
    let fsid: Uuid = sget("cluster_fsid")?.parse().map_err(|_| "bad cluster fsid in the store".to_string())?;
    let osd_uuid: Uuid = sget("osd_fsid")?.parse().map_err(|_| "bad osd fsid in the store".to_string())?;

    // Our public address: public_addr, else the IP the monitors are on.
    let mon_host = cfg.get("mon_host").unwrap_or_default();
    let mon_ip = config::parse_mon_host(&mon_host).ok().and_then(|v| v.iter().find_map(|av| av.v2().and_then(|a| a.addr.map(|s| s.ip()))));
    let ip: std::net::IpAddr = match cfg.get("public_addr").filter(|s| !s.is_empty()) {
        Some(a) => a.split(':').next().unwrap_or("").trim_matches(['[', ']']).parse().map_err(|_| format!("bad public_addr '{a}'"))?,
        None => mon_ip.ok_or("no public_addr and no mon_host to derive one from")?,
    };
    let pmin = cfg.get_u64("ms_bind_port_min").unwrap_or(6800) as u16;
    let pmax = cfg.get_u64("ms_bind_port_max").unwrap_or(7300) as u16;
    // Hold the port from here on, so OSDs starting together cannot pick the same one.
    let held = (pmin..=pmax).find_map(|p| std::net::TcpListener::bind((ip, p)).ok()).ok_or(format!("no free port in {pmin}-{pmax} on {ip}"))?;
    let port = held.local_addr().map_err(|e| e.to_string())?.port();
    let sa = std::net::SocketAddr::new(ip, port);
    let nonce: u32 = rand::random::<u32>() & 0x7fff_ffff;
    let my_addr = EntityAddr { nonce, ..EntityAddr::v2(sa) };
    let my_addrs = EntityAddrVec::single(my_addr);

    let methods = config::split_list(&cfg.get("auth_cluster_required").unwrap_or_else(|| "cephx".into()));
    let auth_none = methods.iter().any(|m| m == "none") && !methods.iter().any(|m| m == "cephx");
    let con_modes = {
        let m = auth::parse_con_modes(&cfg.get("ms_service_mode").unwrap_or_else(|| "secure crc".into()));
        if m.is_empty() { vec![auth::CON_MODE_SECURE, auth::CON_MODE_CRC] } else { m }
    };
    let fixed = options::FixedConf { auth_none, con_modes, data_path: data.clone() };

    let o = monc::MonClientOptions {
        my_type: EntityType::OSD,
        my_addrs: Some(my_addrs.clone()),
        want_rotating: !auth_none,
        subscribe: vec!["osdmap".into(), "mgrmap".into()],
        ..Default::default()
    };
    let mc = monc::MonClient::connect(cfg.clone(), o).await.map_err(|e| format!("cannot reach the monitors: {e}"))?;
    if mc.fsid() != fsid {
        return Err(format!("this osd belongs to cluster {fsid}, the monitors run {}", mc.fsid()));
    }
    // The monitors' config database counts from the start, as in Ceph,
    // below ceph.conf and the command line.
    let mut cfg = cfg;
    if let Some(m) = mc.config.borrow().clone() {
        cfg.set_mon_values(&options::mon_values_at_start(&m));
    }
    let conf = OsdConf::build(&cfg, fixed);
    let mut rot = mc.rotating.clone();
    if !auth_none {
        tokio::time::timeout(Duration::from_secs(30), rot.wait_for(|r| r.is_some()))
            .await
            .map_err(|_| "the monitors sent no rotating keys for the osd service in 30 s (check osd caps: mon 'allow profile osd')".to_string())?
            .map_err(|_| "mon session closed".to_string())?;
    }

    // osd_crush_update_on_start: place ourselves in CRUSH (host=<short hostname>).
    if options::value(&cfg, options::spec("osd_crush_update_on_start").expect("known")) == "true" {
        let (total, _) = service::fs_space(&data);
        let w = cfg.get_f64("osd_crush_initial_weight").filter(|w| *w >= 0.0).unwrap_or_else(|| (total as f64 / (1u64 << 40) as f64).max(0.00001));
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_else(|_| "localhost".into());
        let host = host.trim().split('.').next().unwrap_or("localhost").to_string();
        let loc = cfg.get("crush_location").filter(|s| !s.trim().is_empty()).map(|s| s.split_whitespace().map(|kv| format!("\"{kv}\"")).collect::<Vec<_>>().join(", ")).unwrap_or_else(|| format!("\"host={host}\", \"root=default\""));
        let cmd = format!("{{\"prefix\": \"osd crush create-or-move\", \"id\": {whoami}, \"weight\":{w:.4}, \"args\": [{loc}]}}");
        match mc.command(vec![cmd], bytes::Bytes::new()).await {
            Ok(r) if r.r == 0 => info!("crush location updated: {}", r.rs),
            Ok(r) => warn!("osd crush create-or-move: {} {}", r.r, r.rs),
            Err(e) => warn!("osd crush create-or-move: {e}"),
        }
    }

    let history = history::MapHistory::open(store.clone())?;
    // The first map (a full one: ask again if what we hold is only incrementals).
    let mut maps = mc.osdmap.clone();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let m0 = loop {
        let cur = maps.borrow_and_update().clone();
        if let Some(msg) = cur {
            history.absorb(&msg);
            if let (Some(m), _) = monc::advance_osdmap(None, &msg) {
                break m;
            }
            let _ = mc.subscribe("osdmap", 0, false);
        }
        match tokio::time::timeout_at(deadline, maps.changed()).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => return Err("mon session closed".into()),
            Err(_) => return Err("no osdmap from the monitors in 60 s".into()),
        }
    };
    let osd = Osd::new(whoami, fsid, store.clone(), cfg.clone(), conf, mc.clone(), my_addrs.clone(), m0.clone(), history);
    // `ceph daemon osd.N ...`: the tell commands, on a local socket.
    if let Some(path) = daemon::admin_socket::path(&cfg) {
        let o = osd.clone();
        let h: daemon::admin_socket::Handler = Arc::new(move |cmd: String| {
            let o = o.clone();
            Box::pin(async move {
                let (r, rs, out) = match tell::answer(&o, &[cmd]) {
                    tell::Answer::Now(r) => r,
                    tell::Answer::Later(f) => f.await,
                };
                (r, rs, out.to_vec())
            })
        });
        if let Err(e) = daemon::admin_socket::serve(&path, h).await {
            tracing::error!("admin socket: {e}");
        }
    }
    // Later changes to the monitors' database (`ceph config set/rm`).
    {
        let (osd, mut from_mon) = (osd.clone(), mc.config.clone());
        tokio::spawn(async move {
            while from_mon.changed().await.is_ok() {
                let Some(m) = from_mon.borrow_and_update().clone() else { continue };
                osd.change_config(|c| {
                    let apply = options::mon_values_to_apply(c, &m);
                    c.set_mon_values(&apply);
                });
            }
        });
    }
    if let Some(r) = rot.borrow().clone() {
        osd.set_rotating((*r).clone());
    }
    osd.load_pgs()?;
    osd.set_map(Arc::new(m0));

    let opts = msgr::server::ServerOptions {
        my_type: EntityType::OSD,
        my_addrs: my_addrs.clone(),
        my_gid: whoami as i64,
        lossy_clients: true,
        handshake_timeout: Duration::from_secs(30),
        keepalive_secs: 0,
    };
    let o2 = osd.clone();
    drop(held);
    let _listener = msgr::server::listen(sa, opts, Arc::new(OsdAuth { osd: osd.clone() }), move |a| service::serve(o2.clone(), a.conn, a.incoming, a.identity))
        .await
        .map_err(|e| format!("cannot bind {sa}: {e}"))?;
    info!(%sa, "osd.{whoami} listening (cluster {fsid})");

    // Follow maps and rotating keys; (re)boot whenever the map has us down.
    let boot = {
        let osd = osd.clone();
        let my_addrs = my_addrs.clone();
        move |epoch: u32, boot_epoch: u32| {
            let mut md = std::collections::BTreeMap::new();
            md.insert("osd_data".to_string(), osd.conf().data_path.display().to_string());
            md.insert("osd_objectstore".to_string(), "oxceph-rocksdb".to_string());
            md.insert("ceph_version".to_string(), "ceph version 16.2.15 (oxceph-0.1.0) pacific (stable)".to_string());
            md.insert("ceph_release".to_string(), "pacific".to_string());
            md.insert("hostname".to_string(), std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default().trim().to_string());
            md.insert("front_addr".to_string(), my_addrs.to_string());
            md.insert("back_addr".to_string(), my_addrs.to_string());
            let b = OsdBoot {
                version: epoch as u64,
                sb: OsdSuperblock { cluster_fsid: fsid, whoami, current_epoch: epoch, oldest_map: 1, newest_map: epoch, osd_fsid: osd_uuid, mounted: boot_epoch, ..Default::default() },
                hb_back_addrs: my_addrs.clone(),
                cluster_addrs: my_addrs.clone(),
                boot_epoch,
                hb_front_addrs: my_addrs.clone(),
                metadata: md,
                osd_features: PACIFIC_SUPPORTED,
            };
            info!(epoch, "sending boot to the monitors");
            let _ = osd.monc.send_raw(b.to_raw(0, PACIFIC_SUPPORTED), Some("boot"));
        }
    };
    boot(osd.map().epoch, 0);
    {
        let osd = osd.clone();
        let mut maps = mc.osdmap.clone();
        let mut rot = mc.rotating.clone();
        tokio::spawn(async move {
            let mut was_up = false;
            // A boot sent while the map has noup is ignored: wait for it to clear.
            let mut waiting_noup = osd.map().flags & maps::osdmap::flags::NOUP != 0;
            let mut last_boot = std::time::Instant::now();
            loop {
                tokio::select! {
                    r = maps.changed() => {
                        if r.is_err() { return }
                        let msg = maps.borrow_and_update().clone();
                        let Some(msg) = msg else { continue };
                        osd.history.absorb(&msg);
                        // Maps the mon no longer has, and none of our PGs
                        // may still walk, go (Ceph's trim_maps).
                        if msg.oldest_map > 0 {
                            osd.history.trim(msg.oldest_map.min(osd.map_need()));
                        }
                        let cur = osd.map();
                        let (new, behind) = monc::advance_osdmap(Some(&cur), &msg);
                        if let Some(m) = new {
                            let up = m.is_up(whoami) && m.client_addrs.get(whoami as usize).map(|a| *a == osd.my_addrs).unwrap_or(false);
                            let epoch = m.epoch;
                            let noup = m.flags & maps::osdmap::flags::NOUP != 0;
                            osd.set_map(Arc::new(m));
                            if up && !was_up {
                                info!(epoch, "osd.{whoami} is up");
                            }
                            // The mon ignores boots while the map has noup
                            // (Ceph's _preboot waits for it to clear): boot
                            // with the first map without it.
                            if !up && noup {
                                if !waiting_noup {
                                    info!(epoch, "the osdmap has the noup flag: waiting for it to clear");
                                }
                                waiting_noup = true;
                            } else if !up && (was_up || waiting_noup || last_boot.elapsed() > Duration::from_secs(10)) {
                                waiting_noup = false;
                                warn!(epoch, "the map has us down; booting again");
                                boot(epoch, epoch);
                                last_boot = std::time::Instant::now();
                            }
                            was_up = up;
                        }
                        if behind {
                            let _ = osd.monc.subscribe("osdmap", osd.map().epoch as u64 + 1, false);
                        } else if let Some(gap) = osd.history.first_missing(osd.map().epoch) {
                            // Epochs we skipped (a restart, or maps that came
                            // faster than we read them): peering needs them.
                            osd.want_maps(gap);
                        }
                    }
                    r = rot.changed() => {
                        if r.is_err() { return }
                        if let Some(r) = rot.borrow_and_update().clone() {
                            osd.set_rotating((*r).clone());
                        }
                    }
                }
            }
        });
    }
    // MOSDBeacon every osd_beacon_report_interval while up: the mon marks
    // down an OSD silent for mon_osd_report_timeout, even with no peers to
    // report it.
    {
        let osd = osd.clone();
        let every = options::secs(&cfg, "osd_beacon_report_interval").max(Duration::from_millis(100));
        tokio::spawn(async move {
            let mut t = tokio::time::interval(every);
            t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                t.tick().await;
                let map = osd.map();
                if !map.is_up(whoami) {
                    continue;
                }
                // The PGs we are primary for and the oldest epoch they may
                // still need: the mon trims osdmaps up to the oldest of all.
                let (pgs, min_last_epoch_clean) = osd.min_last_epoch_clean(map.epoch);
                let b = OsdBeacon { version: map.epoch as u64, pgs, min_last_epoch_clean, report_interval: every.as_secs() as i32, ..Default::default() };
                let _ = osd.monc.send_raw(b.to_raw(0, PACIFIC_SUPPORTED), None);
            }
        });
    }
    tokio::spawn(osd.clone().heartbeat_loop());
    tokio::spawn(osd.clone().tick_loop());
    memory::purge_when_idle(Duration::from_secs(1));

    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).map_err(|e| e.to_string())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    info!("osd.{whoami} shutting down: asking to be marked down");
    let map = osd.map();
    let m = OsdMarkMeDown { version: map.epoch as u64, fsid, target_osd: whoami, target_addrs: my_addrs, epoch: map.epoch, request_ack: false, down_and_dead: false };
    let _ = osd.monc.send_raw(m.to_raw(0, PACIFIC_SUPPORTED), None);
    tokio::time::sleep(Duration::from_millis(200)).await;
    Ok(())
}
