//! Our rados crate (librados-like API) against a real cluster: pools created
//! and deleted through MPoolOp as the real tools see them, self-managed
//! snapshots with clone-on-write done by real OSDs, reads at a snapshot.

use bytes::Bytes;
use oxceph_tests::ref_cluster;
use std::path::Path;

async fn connect() -> rados::Rados {
    let _ = tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_env("OXCEPH_LOG")).with_test_writer().try_init();
    let conf = config::Config::load("ceph", "client.admin".parse().unwrap(), Some(&ref_cluster().conf())).unwrap();
    rados::Rados::connect(conf, rados::MonClientOptions::default()).await.unwrap()
}

use oxceph_tests::real_ceph;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pools_created_and_deleted_like_librados() {
    let r = connect().await;
    let name = format!("apipool{}", std::process::id());
    r.create_pool(&name, None).await.unwrap();
    assert!(r.pool_lookup(&name).is_some(), "our map has the pool right after the reply");
    assert!(real_ceph(&["osd", "pool", "ls"]).lines().any(|l| l == name));
    // creating it again: EEXIST, as librados returns
    assert_eq!(r.create_pool(&name, None).await.unwrap_err().errno, 17);
    let io = r.ioctx(&name).await.unwrap();
    io.write_full("x", Bytes::from_static(b"data")).await.unwrap();
    r.delete_pool(&name).await.unwrap();
    assert!(r.pool_lookup(&name).is_none());
    assert!(!real_ceph(&["osd", "pool", "ls"]).lines().any(|l| l == name));
    assert_eq!(r.delete_pool(&name).await.unwrap_err().errno, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn selfmanaged_snapshots_keep_old_data() {
    let r = connect().await;
    let name = format!("snappool{}", std::process::id());
    r.create_pool(&name, None).await.unwrap();
    let mut io = r.ioctx(&name).await.unwrap();
    io.write_full("obj", Bytes::from_static(b"version one")).await.unwrap();
    let s1 = io.selfmanaged_snap_create().await.unwrap();
    assert!(s1 > 0);
    io.set_write_snapc(s1, vec![s1]);
    io.write_full("obj", Bytes::from_static(b"version two!")).await.unwrap();
    // the head has the new data, the snapshot the old (the OSD cloned it)
    assert_eq!(&io.read("obj", 0, 0).await.unwrap()[..], b"version two!");
    io.set_read_snap(s1);
    assert_eq!(&io.read("obj", 0, 0).await.unwrap()[..], b"version one");
    io.set_read_snap(types::osd::CEPH_NOSNAP);
    io.selfmanaged_snap_remove(s1).await.unwrap();
    let m = r.objecter.map();
    assert!(m.pools[&io.pool].flags & maps::pool::FLAG_SELFMANAGED_SNAPS != 0);
    r.delete_pool(&name).await.unwrap();
    let _ = Path::new("/");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pool_snapshots_are_visible_to_the_real_tools() {
    let r = connect().await;
    let name = format!("psnap{}", std::process::id());
    r.create_pool(&name, None).await.unwrap();
    let io = r.ioctx(&name).await.unwrap();
    io.pool_snap_create("s1").await.unwrap();
    assert!(io.pool_snaps().iter().any(|(_, n, _)| n == "s1"));
    let conf = ref_cluster().conf();
    let o = std::process::Command::new("/usr/bin/rados").args(["-c", conf.to_str().unwrap(), "-p", &name, "lssnap"]).output().unwrap();
    assert!(String::from_utf8_lossy(&o.stdout).contains("s1"), "{}", String::from_utf8_lossy(&o.stdout));
    io.pool_snap_remove("s1").await.unwrap();
    assert!(io.pool_snaps().is_empty());
    r.delete_pool(&name).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_notify_with_the_real_rados_tool() {
    let r = connect().await;
    let io = r.ioctx("rbd").await.unwrap();
    let oid = format!("watched{}", std::process::id());
    io.write_full(&oid, Bytes::from_static(b"x")).await.unwrap();
    let conf = ref_cluster().conf();
    let c = conf.to_str().unwrap().to_string();

    // 1. our watch; the real `rados notify` reaches it and completes when we ack
    let mut w = io.watch(&oid, 30).await.unwrap();
    let lw = std::process::Command::new("/usr/bin/rados").args(["-c", &c, "-p", "rbd", "listwatchers", &oid]).output().unwrap();
    assert!(String::from_utf8_lossy(&lw.stdout).contains(&format!("cookie={}", w.cookie)), "{}", String::from_utf8_lossy(&lw.stdout));
    let (c2, oid2) = (c.clone(), oid.clone());
    let notifier = tokio::task::spawn_blocking(move || {
        std::process::Command::new("/usr/bin/rados").args(["-c", &c2, "-p", "rbd", "notify", &oid2, "hello-from-real"]).output().unwrap()
    });
    let ev = tokio::time::timeout(std::time::Duration::from_secs(20), w.next()).await.expect("notify delivered").expect("event");
    // the rados tool sends its message encoded as a string (u32 length + bytes)
    assert_eq!(&ev.payload[4..], b"hello-from-real");
    assert_eq!(&ev.payload[..4], &15u32.to_le_bytes());
    io.notify_ack(&oid, ev.notify_id, ev.cookie, b"ack-from-ox").await.unwrap();
    let out = notifier.await.unwrap();
    assert!(out.status.success(), "real notify: {}", String::from_utf8_lossy(&out.stderr));
    io.unwatch(w).await.unwrap();

    // 2. the real `rados watch` acks our notify
    let mut watcher = std::process::Command::new("/usr/bin/rados")
        .args(["-c", &c, "-p", "rbd", "watch", &oid])
        // it watches until enter is pressed: keep stdin open
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut res = None;
    for _ in 0..50 {
        let ws = io.list_watchers(&oid).await.unwrap();
        if !ws.is_empty() {
            res = Some(io.notify(&oid, b"hello-from-ox", 10).await.unwrap());
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let _ = watcher.kill();
    let _ = watcher.wait();
    let res = res.expect("the real watcher registered");
    assert_eq!(res.acks.len(), 1, "{res:?}");
    assert!(res.timeouts.is_empty());
    io.remove(&oid).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sparse_read_reports_the_written_extent() {
    let r = connect().await;
    let io = r.ioctx("rbd").await.unwrap();
    let oid = format!("sparse{}", std::process::id());
    io.write(&oid, Bytes::from_static(b"WXYZ"), 1 << 20).await.unwrap();
    let (extents, data) = io.sparse_read(&oid, 0, 2 << 20).await.unwrap();
    assert_eq!(extents.values().sum::<u64>(), data.len() as u64);
    // the extent holding our bytes, wherever the store rounds it to
    let (start, _) = extents.iter().find(|(s, l)| **s <= 1 << 20 && **s + **l >= (1 << 20) + 4).expect("extent with the data");
    let mut off = 0u64;
    for (s, l) in &extents {
        if s == start {
            break;
        }
        off += l;
    }
    let at = (off + (1 << 20) - start) as usize;
    assert_eq!(&data[at..at + 4], b"WXYZ");
    assert!(data.len() < 2 << 20, "a sparse read returns less than the range");
    io.remove(&oid).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ops_time_out_when_a_pg_has_no_osds() {
    // a pool whose rule draws from an empty root: its PGs have no primary
    let id = std::process::id();
    let (root, rule, pool) = (format!("emptyroot{id}"), format!("emptyrule{id}"), format!("nowhere{id}"));
    real_ceph(&["osd", "crush", "add-bucket", &root, "root"]);
    real_ceph(&["osd", "crush", "rule", "create-replicated", &rule, &root, "host"]);
    real_ceph(&["osd", "pool", "create", &pool, "4", "4", "replicated", &rule]);
    let mut conf = config::Config::load("ceph", "client.admin".parse().unwrap(), Some(&ref_cluster().conf())).unwrap();
    conf.set_override("rados_osd_op_timeout", "2");
    let r = rados::Rados::connect(conf, rados::MonClientOptions::default()).await.unwrap();
    let io = r.ioctx(&pool).await.unwrap();
    let t = std::time::Instant::now();
    let e = io.write_full("x", Bytes::from_static(b"x")).await.unwrap_err();
    assert_eq!(e.errno, 110, "{e}");
    assert!(t.elapsed() < std::time::Duration::from_secs(10));
    // The timed-out write was cancelled: once the pool can be placed, it must
    // not be applied behind the caller's back.
    real_ceph(&["osd", "pool", "set", &pool, "crush_rule", "replicated_rule"]);
    let probe = std::process::Command::new("timeout")
        .args(["120", "/usr/bin/rados", "-c", ref_cluster().conf().to_str().unwrap(), "-p", &pool, "put", "probe", "/etc/hostname"])
        .status()
        .unwrap();
    assert!(probe.success(), "the pool's PGs never became active");
    // past the objecter's tick, which retries ops that were waiting for a primary
    tokio::time::sleep(std::time::Duration::from_secs(6)).await;
    let e = io.stat("x").await.unwrap_err();
    assert_eq!(e.errno, 2, "the write that timed out was applied later: {e}");
    real_ceph(&["osd", "pool", "rm", &pool, &pool, "--yes-i-really-really-mean-it"]);
    real_ceph(&["osd", "crush", "rule", "rm", &rule]);
    real_ceph(&["osd", "crush", "rm", &root]);
}
