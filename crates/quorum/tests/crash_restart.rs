//! Seeded crash/restart schedules against a three-member group in one process:
//! members propose map epochs computed from their own view (as mons do) while
//! others are killed and restarted. Afterwards every member holds the same
//! epochs with the same bytes, the epochs have no gaps, and every acknowledged
//! epoch is there with what was acknowledged.

use quorum::{store::state_version, Applied, Member, Options, Quorum, Write, B64};
use rand::{rngs::StdRng, Rng, SeedableRng};
use std::sync::Arc;
use std::time::{Duration, Instant};

// Snapshots every few entries and a short log, so members that were down
// catch up from snapshots and logs are purged under the schedule too.
const OPTS: Options = Options { snapshot_every: 4, keep_logs: 2 };
const SECRET: &[u8] = b"AQBsimulationkeyAAAAAAAAAAAAAAAAAAAAAA==";

fn free_port(ip: &str) -> u16 {
    std::net::TcpListener::bind(format!("{ip}:0")).unwrap().local_addr().unwrap().port()
}

fn open_db(dir: &std::path::Path) -> Arc<rocksdb::DB> {
    let mut o = rocksdb::Options::default();
    o.create_if_missing(true);
    Arc::new(rocksdb::DB::open(&o, dir).unwrap())
}

struct Sim {
    members: Vec<Member>,
    dbs: Vec<Arc<rocksdb::DB>>,
    nodes: Vec<Option<Quorum>>,
}

impl Sim {
    fn start(&mut self, i: usize) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            // The port may still be held for a moment by the member just killed.
            match Quorum::start(self.dbs[i].clone(), self.members[i].clone(), self.members.clone(), SECRET.to_vec(), true, OPTS) {
                Ok(q) => {
                    self.nodes[i] = Some(q);
                    return;
                }
                Err(e) if Instant::now() < deadline => {
                    eprintln!("restart {i}: {e}");
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(e) => panic!("member {i} does not start: {e}"),
            }
        }
    }
    fn kill(&mut self, i: usize) {
        if let Some(q) = self.nodes[i].take() {
            q.shutdown();
        }
    }
    fn last_epoch(&self, i: usize) -> u64 {
        self.dbs[i].get(b"osdmap/last").unwrap().map(|v| String::from_utf8_lossy(&v).parse().unwrap()).unwrap_or(0)
    }
}

fn run(seed: u64, steps: usize) {
    let mut rng = StdRng::seed_from_u64(seed);
    let dir = tempfile::tempdir().unwrap();
    let members: Vec<Member> = ["a", "b", "c"].iter().map(|n| Member { name: n.to_string(), addr: format!("127.0.0.1:{}", free_port("127.0.0.1")).parse().unwrap() }).collect();
    let dbs = (0..3).map(|i| open_db(&dir.path().join(format!("m{i}")))).collect();
    let mut sim = Sim { members, dbs, nodes: vec![None, None, None] };
    for i in 0..3 {
        sim.start(i);
    }
    let mut acked: Vec<(u64, Vec<u8>)> = Vec::new();
    for step in 0..steps {
        let live: Vec<usize> = (0..3).filter(|&i| sim.nodes[i].is_some()).collect();
        let roll = rng.gen_range(0..10);
        if roll < 6 && !live.is_empty() {
            // A member writes the next epoch from its own view of the state.
            let i = live[rng.gen_range(0..live.len())];
            let base = state_version(&sim.dbs[i]);
            let e = sim.last_epoch(i) + 1;
            let body = format!("seed {seed} step {step} by {i}").into_bytes();
            let w = Write::Txn { base, puts: vec![("osdmap/last".into(), B64(e.to_string().into_bytes())), (format!("osdmap/full/{e:010}"), B64(body.clone()))], dels: vec![] };
            let q = sim.nodes[i].as_ref().unwrap();
            match q.propose(w, Duration::from_secs(if live.len() >= 2 { 8 } else { 1 })) {
                Ok(Applied::Done { .. }) => acked.push((e, body)),
                Ok(Applied::Conflict { .. }) => {}
                Ok(other) => panic!("unexpected {other:?}"),
                Err(_) => {}
            }
        } else if roll < 8 && live.len() >= 2 {
            let i = live[rng.gen_range(0..live.len())];
            sim.kill(i);
        } else {
            let dead: Vec<usize> = (0..3).filter(|&i| sim.nodes[i].is_none()).collect();
            if let Some(&i) = dead.get(rng.gen_range(0..dead.len().max(1))) {
                sim.start(i);
            }
        }
    }
    for i in 0..3 {
        if sim.nodes[i].is_none() {
            sim.start(i);
        }
    }
    // One more write through whoever leads: it commits only once every earlier
    // entry is committed, then all members converge on it.
    let deadline = Instant::now() + Duration::from_secs(60);
    let final_version = loop {
        let q = sim.nodes[0].as_ref().unwrap();
        let e = sim.last_epoch(0) + 1;
        let w = Write::Txn { base: state_version(&sim.dbs[0]), puts: vec![("osdmap/last".into(), B64(e.to_string().into_bytes())), (format!("osdmap/full/{e:010}"), B64(b"final".to_vec()))], dels: vec![] };
        if let Ok(Applied::Done { version }) = q.propose(w, Duration::from_secs(10)) {
            acked.push((e, b"final".to_vec()));
            break version;
        }
        assert!(Instant::now() < deadline, "seed {seed}: the group never recovered");
    };
    while (0..3).any(|i| state_version(&sim.dbs[i]) < final_version) {
        assert!(Instant::now() < deadline, "seed {seed}: members did not converge: {:?}", (0..3).map(|i| state_version(&sim.dbs[i])).collect::<Vec<_>>());
        std::thread::sleep(Duration::from_millis(50));
    }
    let last = sim.last_epoch(0);
    for i in 0..3 {
        assert_eq!(sim.last_epoch(i), last, "seed {seed}: member {i} ends at another epoch");
    }
    for e in 1..=last {
        let k = format!("osdmap/full/{e:010}");
        let v0 = sim.dbs[0].get(k.as_bytes()).unwrap();
        assert!(v0.is_some(), "seed {seed}: epoch {e} missing (epochs must have no gaps)");
        for i in 1..3 {
            assert_eq!(sim.dbs[i].get(k.as_bytes()).unwrap(), v0, "seed {seed}: epoch {e} differs on member {i}");
        }
    }
    for (e, body) in &acked {
        let k = format!("osdmap/full/{e:010}");
        assert_eq!(sim.dbs[0].get(k.as_bytes()).unwrap().as_deref(), Some(&body[..]), "seed {seed}: acknowledged epoch {e} lost or replaced");
    }
    assert!(acked.len() > 1, "seed {seed}: nothing was acknowledged");
    assert!((0..3).any(|i| sim.dbs[i].get(b"raft/purged").unwrap().is_some()), "seed {seed}: no log was ever purged behind a snapshot");
    eprintln!("seed {seed}: {} epochs, {} acknowledged", last, acked.len());
    for i in 0..3 {
        sim.kill(i);
    }
}

#[test]
fn no_divergent_epochs_under_random_crashes() {
    let seeds: Vec<u64> = match std::env::var("QUORUM_SIM_SEED") {
        Ok(s) => vec![s.parse().expect("QUORUM_SIM_SEED is a number")],
        Err(_) => vec![1, 2, 3],
    };
    for seed in seeds {
        run(seed, 40);
    }
    eprintln!("snapshots installed: {}", quorum::store::snapshots_installed());
}
