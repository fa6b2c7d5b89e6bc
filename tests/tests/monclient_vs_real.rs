//! Our MonClient against a real Pacific mon: re-hunting when the mon dies and
//! comes back (in-flight commands are resent), and cephx ticket renewal.

use bytes::Bytes;
use oxceph_tests::{real_ceph, ref_cluster};
use std::time::Duration;
use types::EntityType;

fn conf() -> config::Config {
    let _ = tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_env("OXCEPH_LOG")).with_test_writer().try_init();
    config::Config::load("ceph", "client.admin".parse().unwrap(), Some(&ref_cluster().conf())).unwrap()
}

async fn mon_dump(mc: &monc::MonClient) -> i32 {
    mc.command(vec![r#"{"prefix": "mon dump", "format": "json"}"#.into()], Bytes::new()).await.unwrap().r
}

/// Kills the reference mon (as a crash would) and starts it again with the same
/// command line, `down_for` later.
fn restart_ref_mon(down_for: Duration) {
    let args = oxceph_tests::kill_ref_daemon("mon.a");
    std::thread::sleep(down_for);
    oxceph_tests::start_ref_daemon(&args);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rehunts_and_resends_when_the_mon_goes_away() {
    let mc = monc::MonClient::connect(conf(), monc::MonClientOptions::default()).await.unwrap();
    assert_eq!(mon_dump(&mc).await, 0);
    // The mon dies; a command issued meanwhile waits, and is resent once the
    // client has hunted its way back to a mon.
    tokio::task::spawn_blocking(|| restart_ref_mon(Duration::from_secs(1))).await.unwrap();
    let r = tokio::time::timeout(Duration::from_secs(60), mon_dump(&mc)).await.expect("command after re-hunt");
    assert_eq!(r, 0);
    let pg = mc.mgr_command(vec![r#"{"prefix": "pg stat", "target": ["mon-mgr", ""], "format": "json"}"#.into()], Bytes::new()).await.unwrap();
    assert_eq!(pg.r, 0);
}

#[tokio::test]
async fn service_tickets_are_renewed_before_they_expire() {
    // Short-lived service tickets from the real mon (default 1 h).
    let _db = oxceph_tests::ref_cluster().config_db_lock();
    real_ceph(&["config", "set", "mon", "auth_service_ticket_ttl", "6"]);
    let mc = monc::MonClient::connect(conf(), monc::MonClientOptions::default()).await.unwrap();
    let first = mc.cephx.lock().unwrap().ticket(EntityType::OSD).unwrap().expires;
    // Renewal happens at 3/4 of the validity; wait past the first expiry.
    tokio::time::sleep(Duration::from_secs(8)).await;
    let later = mc.cephx.lock().unwrap().ticket(EntityType::OSD).unwrap().expires;
    real_ceph(&["config", "rm", "mon", "auth_service_ticket_ttl"]);
    assert!(later > first, "the OSD ticket was not renewed");
    assert!(later > tokio::time::Instant::now().into_std(), "the renewed ticket is already expired");
    assert_eq!(mon_dump(&mc).await, 0);
}

#[tokio::test]
async fn map_versions_and_osdmap_subscription() {
    let mc = monc::MonClient::connect(conf(), monc::MonClientOptions::default()).await.unwrap();
    let (newest, oldest) = mc.get_version("osdmap").await.unwrap();
    assert!(newest >= 1 && oldest >= 1 && oldest <= newest, "{newest} {oldest}");
    // A subscription from 0 gets the newest full map.
    mc.subscribe("osdmap", 0, false).unwrap();
    let mut rx = mc.osdmap.clone();
    let m = tokio::time::timeout(Duration::from_secs(10), rx.wait_for(|m| m.is_some())).await.unwrap().unwrap().clone().unwrap();
    assert_eq!(m.newest_map as u64, newest);
    assert!(m.maps.contains_key(&m.newest_map), "a full map for the newest epoch");
    assert_eq!(m.fsid, mc.fsid());
}

#[tokio::test]
async fn the_auth_ticket_is_renewed_by_authenticating_again() {
    real_ceph(&["config", "set", "mon", "auth_mon_ticket_ttl", "8"]);
    let mc = monc::MonClient::connect(conf(), monc::MonClientOptions::default()).await.unwrap();
    let gid = mc.cephx.lock().unwrap().global_id;
    let first = mc.cephx.lock().unwrap().ticket(EntityType::AUTH).unwrap().expires;
    tokio::time::sleep(Duration::from_secs(10)).await;
    let later = mc.cephx.lock().unwrap().ticket(EntityType::AUTH).unwrap().expires;
    real_ceph(&["config", "rm", "mon", "auth_mon_ticket_ttl"]);
    assert!(later > first, "the AUTH ticket was not renewed");
    assert_eq!(mc.cephx.lock().unwrap().global_id, gid, "the global_id is kept across re-authentication");
    assert_eq!(mon_dump(&mc).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_hunts_each_authenticate_on_their_own() {
    // Three addresses for the one real mon: three handshakes race, each with its
    // own challenge and session key; the winner's tickets must be usable.
    let mut c = conf();
    let mon = c.get("mon_host").unwrap();
    let v2 = mon.trim_matches(['[', ']']).split(',').find(|a| a.starts_with("v2:")).unwrap().to_string();
    c.set_override("mon_host", &format!("[{v2}] [{v2}] [{v2}]"));
    for _ in 0..5 {
        let mc = monc::MonClient::connect(c.clone(), monc::MonClientOptions::default()).await.unwrap();
        assert_eq!(mon_dump(&mc).await, 0);
        let osd = mc.cephx.lock().unwrap().ticket(EntityType::OSD).map(|t| t.expires);
        assert!(osd.is_some(), "no OSD ticket after a parallel hunt");
    }
}
