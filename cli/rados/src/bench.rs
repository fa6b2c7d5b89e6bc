//! `rados bench`: the real tool's workload (write / seq / rand / cleanup),
//! objects and metadata object named the same, and its output format.

use bytes::Bytes;
use rados::{Error, IoCtx};
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

/// C++ ostream's default float output (`%g`, 6 significant digits).
pub fn fmt_g(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return if v.is_finite() { "0".into() } else { format!("{v}") };
    }
    let exp = v.abs().log10().floor() as i32;
    if !(-5..6).contains(&exp) {
        let s = format!("{:.5e}", v);
        let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
        let m = if m.contains('.') { m.trim_end_matches('0').trim_end_matches('.') } else { m };
        let e: i32 = e.parse().unwrap_or(0);
        return format!("{m}e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs());
    }
    let decimals = (5 - exp).max(0) as usize;
    let s = format!("{:.*}", decimals, v);
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

pub struct Opts {
    pub seconds: u64,
    pub op_size: usize,
    pub object_size: usize,
    pub concurrent: usize,
    pub cleanup: bool,
    pub run_name: Option<String>,
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").map(|s| s.trim().split('.').next().unwrap_or("").to_string()).unwrap_or_default()
}

fn prefix(pid: u32) -> String {
    format!("benchmark_data_{}_{}", hostname(), pid)
}

const META: &str = "benchmark_last_metadata";

/// What the real tool writes (and checks on read) for op `i`: 'z' bytes, with
/// `I'm the %16dth op!` and its NUL at the start.
fn op_contents(i: usize, op_size: usize) -> Bytes {
    let mut v = vec![b'z'; op_size];
    let tag = format!("I'm the {i:16}th op!");
    let n = tag.len().min(op_size.saturating_sub(1));
    v[..n].copy_from_slice(&tag.as_bytes()[..n]);
    if n < op_size {
        v[n] = 0; // snprintf's terminator
    }
    Bytes::from(v)
}

/// Whether `got` is exactly `op_contents(i, op_size)`, checked without building
/// the expected buffer (a read bench must not allocate an object per op).
fn is_op_contents(got: &[u8], i: usize, op_size: usize) -> bool {
    static Z: [u8; 4096] = [b'z'; 4096];
    if got.len() != op_size {
        return false;
    }
    let tag = format!("I'm the {i:16}th op!");
    let n = tag.len().min(op_size.saturating_sub(1));
    if got[..n] != tag.as_bytes()[..n] {
        return false;
    }
    let rest = if n < op_size {
        if got[n] != 0 {
            return false;
        }
        &got[n + 1..]
    } else {
        &got[n..]
    };
    rest.chunks(Z.len()).all(|c| c == &Z[..c.len()])
}

struct Stats {
    lat: Vec<f64>,
    per_sec_ops: Vec<f64>,
}

fn header() {
    println!("{:>5}{:>8}{:>10}{:>10}{:>10}{:>10}{:>12}{:>12}", "sec", "Cur ops", "started", "finished", "avg MB/s", "cur MB/s", "last lat(s)", "avg lat(s)");
}

fn row(sec: u64, inflight: usize, started: usize, finished: usize, avg_mb: f64, cur_mb: f64, last: Option<f64>, avg_lat: f64) {
    println!(
        "{:>5} {:>7} {:>9} {:>9} {:>9} {:>9} {:>11} {:>11}",
        sec,
        inflight,
        started,
        finished,
        fmt_g(avg_mb),
        fmt_g(cur_mb),
        last.map(fmt_g).unwrap_or_else(|| "-".into()),
        fmt_g(avg_lat)
    );
}

fn mean_sd(v: &[f64]) -> (f64, f64) {
    if v.is_empty() {
        return (0.0, 0.0);
    }
    let m = v.iter().sum::<f64>() / v.len() as f64;
    let var = if v.len() > 1 { v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len() - 1) as f64 } else { 0.0 };
    (m, var.sqrt())
}

fn line(label: &str, width: usize, value: String) {
    println!("{label:<width$}{value}");
}

/// Runs ops from `make(i)` with `concurrent` in flight until `deadline` (or
/// `limit` ops), printing the per-second table.
async fn drive<F, Fut>(concurrent: usize, secs: u64, limit: Option<usize>, bytes_per_op: usize, make: F) -> Result<(usize, f64, Stats), Error>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = Result<(), Error>> + Send + 'static,
{
    let start = Instant::now();
    let deadline = start + Duration::from_secs(secs);
    let mut set = JoinSet::new();
    let mut started = 0usize;
    let mut finished = 0usize;
    let mut stats = Stats { lat: Vec::new(), per_sec_ops: Vec::new() };
    let mut last_lat: Option<f64> = None;
    let mut next_report = 1u64;
    let mut finished_at_last = 0usize;
    header();
    row(0, 0, 0, 0, 0.0, 0.0, None, 0.0);
    loop {
        while set.len() < concurrent && Instant::now() < deadline && limit.map(|l| started < l).unwrap_or(true) {
            let fut = make(started);
            started += 1;
            set.spawn(async move {
                let t = Instant::now();
                fut.await.map(|_| t.elapsed().as_secs_f64())
            });
        }
        if set.is_empty() {
            break;
        }
        let tick = tokio::time::sleep_until((start + Duration::from_secs(next_report)).into());
        tokio::select! {
            r = set.join_next() => {
                if let Some(r) = r {
                    let l = r.map_err(|e| Error::new(5, e.to_string()))??;
                    finished += 1;
                    stats.lat.push(l);
                    last_lat = Some(l);
                }
            }
            _ = tick => {
                let el = start.elapsed().as_secs_f64();
                let cur = (finished - finished_at_last) as f64;
                stats.per_sec_ops.push(cur);
                finished_at_last = finished;
                let mb = |ops: f64, t: f64| ops * bytes_per_op as f64 / (1024.0 * 1024.0) / t;
                let (avg_lat, _) = mean_sd(&stats.lat);
                row(next_report, set.len(), started, finished, mb(finished as f64, el), mb(cur, 1.0), last_lat, avg_lat);
                next_report += 1;
            }
        }
    }
    Ok((finished, start.elapsed().as_secs_f64(), stats))
}

fn summary(kind: &str, total: f64, n: usize, op_size: usize, object_size: usize, st: &Stats, write: bool) {
    let w = if write { 24 } else { 22 };
    let mbps = n as f64 * op_size as f64 / (1024.0 * 1024.0) / total.max(1e-9);
    let (lat_mean, lat_sd) = mean_sd(&st.lat);
    let (iops_mean, iops_sd) = mean_sd(&st.per_sec_ops);
    let bw: Vec<f64> = st.per_sec_ops.iter().map(|o| o * op_size as f64 / (1024.0 * 1024.0)).collect();
    let (_, bw_sd) = mean_sd(&bw);
    let max_lat = st.lat.iter().cloned().fold(0.0, f64::max);
    let min_lat = st.lat.iter().cloned().fold(f64::INFINITY, f64::min);
    line("Total time run:", w, fmt_g(total));
    line(&format!("Total {kind}s made:"), w, n.to_string());
    line(&format!("{} size:", if write { "Write" } else { "Read" }), w, op_size.to_string());
    line("Object size:", w, object_size.to_string());
    line("Bandwidth (MB/sec):", w, fmt_g(mbps));
    if write {
        line("Stddev Bandwidth:", w, fmt_g(bw_sd));
        line("Max bandwidth (MB/sec):", w, fmt_g(bw.iter().cloned().fold(0.0, f64::max)));
        line("Min bandwidth (MB/sec):", w, fmt_g(bw.iter().cloned().fold(f64::INFINITY, f64::min).min(1e300)));
    }
    line("Average IOPS:", w, format!("{}", (n as f64 / total.max(1e-9)).round() as u64));
    line("Stddev IOPS:", w, fmt_g(iops_sd));
    line("Max IOPS:", w, format!("{}", st.per_sec_ops.iter().cloned().fold(0.0, f64::max) as u64));
    line("Min IOPS:", w, format!("{}", st.per_sec_ops.iter().cloned().fold(f64::INFINITY, f64::min).min(1e18) as u64));
    line("Average Latency(s):", w, fmt_g(lat_mean));
    if write {
        line("Stddev Latency(s):", w, fmt_g(lat_sd));
    }
    line("Max latency(s):", w, fmt_g(max_lat));
    line("Min latency(s):", w, fmt_g(if min_lat.is_finite() { min_lat } else { 0.0 }));
    let _ = iops_mean;
}

pub async fn write(io: &IoCtx, o: &Opts) -> Result<(), Error> {
    let pid = std::process::id();
    let pre = prefix(pid);
    println!("hints = 1");
    println!(
        "Maintaining {} concurrent writes of {} bytes to objects of size {} for up to {} seconds or 0 objects",
        o.concurrent, o.op_size, o.object_size, o.seconds
    );
    println!("Object prefix: {pre}");
    let op_size = o.op_size;
    let (n, total, st) = drive(o.concurrent, o.seconds, None, o.op_size, |i| {
        let io = io.clone();
        let name = format!("{pre}_object{i}");
        let data = op_contents(i, op_size);
        async move { io.write_full(&name, data).await }
    })
    .await?;
    summary("write", total, n, o.op_size, o.object_size, &st, true);
    // metadata for seq/rand/cleanup: object size, count, pid, op size
    let mut meta = Vec::with_capacity(24);
    meta.extend_from_slice(&(o.object_size as u64).to_le_bytes());
    meta.extend_from_slice(&(n as i32).to_le_bytes());
    meta.extend_from_slice(&(pid as i32).to_le_bytes());
    meta.extend_from_slice(&(o.op_size as u64).to_le_bytes());
    io.write_full(o.run_name.as_deref().unwrap_or(META), Bytes::from(meta)).await?;
    if o.cleanup {
        remove_objects(io, &pre, n).await?;
        io.remove(o.run_name.as_deref().unwrap_or(META)).await?;
    }
    Ok(())
}

async fn metadata(io: &IoCtx, run_name: Option<&str>) -> Result<(u64, usize, u32, u64), Error> {
    let d = io.read(run_name.unwrap_or(META), 0, 24).await.map_err(|e| {
        if e.errno == 2 {
            Error::new(2, "Must write data before running a read benchmark!")
        } else {
            e
        }
    })?;
    if d.len() < 16 {
        return Err(Error::new(22, "bad benchmark metadata"));
    }
    let object_size = u64::from_le_bytes(d[0..8].try_into().expect("8"));
    let n = i32::from_le_bytes(d[8..12].try_into().expect("4")).max(0) as usize;
    let pid = i32::from_le_bytes(d[12..16].try_into().expect("4")) as u32;
    let op = if d.len() >= 24 { u64::from_le_bytes(d[16..24].try_into().expect("8")) } else { object_size };
    Ok((object_size, n, pid, op))
}

pub async fn read(io: &IoCtx, o: &Opts, random: bool) -> Result<(), Error> {
    let (object_size, n, pid, op) = metadata(io, o.run_name.as_deref()).await?;
    let pre = prefix(pid);
    println!("hints = 1");
    let limit = if random { None } else { Some(n) };
    let seed = std::cell::Cell::new(0x9e37_79b9_7f4a_7c15u64 ^ std::process::id() as u64);
    let (done, total, st) = drive(o.concurrent, o.seconds, limit, op as usize, |i| {
        let io = io.clone();
        let idx = if random {
            let mut x = seed.get();
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            seed.set(x);
            (x % n.max(1) as u64) as usize
        } else {
            i
        };
        let name = format!("{pre}_object{idx}");
        async move {
            let got = io.read(&name, 0, op).await?;
            if !is_op_contents(&got, idx, op as usize) {
                return Err(Error::new(5, format!("{name}: data does not match what bench wrote")));
            }
            Ok(())
        }
    })
    .await?;
    summary("read", total, done, op as usize, object_size as usize, &st, false);
    Ok(())
}

async fn remove_objects(io: &IoCtx, pre: &str, n: usize) -> Result<usize, Error> {
    let mut set = JoinSet::new();
    let mut removed = 0;
    for i in 0..n {
        let io = io.clone();
        let name = format!("{pre}_object{i}");
        set.spawn(async move { io.remove(&name).await });
        if set.len() >= 16 {
            if let Some(Ok(Ok(()))) = set.join_next().await {
                removed += 1;
            }
        }
    }
    while let Some(r) = set.join_next().await {
        if let Ok(Ok(())) = r {
            removed += 1;
        }
    }
    Ok(removed)
}

/// `rados cleanup`: removes the objects of the last bench run and its metadata,
/// plus any `benchmark_data_*` objects left behind.
pub async fn cleanup(io: &IoCtx, run_name: Option<&str>) -> Result<(), Error> {
    let mut removed = 0;
    if let Ok((_, n, pid, _)) = metadata(io, run_name).await {
        removed += remove_objects(io, &prefix(pid), n).await?;
        let _ = io.remove(run_name.unwrap_or(META)).await;
    }
    for o in io.list_objects().await? {
        if o.oid.starts_with("benchmark_data_") && io.remove(&o.oid).await.is_ok() {
            removed += 1;
        }
    }
    println!("Removed {removed} objects");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contents_check_agrees_with_the_generator() {
        for size in [0usize, 1, 10, 25, 26, 27, 4096, 4097, 100_000] {
            for i in [0usize, 7, 123456] {
                let c = op_contents(i, size);
                assert!(is_op_contents(&c, i, size), "size {size} op {i}");
                if size >= 4096 {
                    assert!(!is_op_contents(&c, i + 1, size), "size {size} op {i}+1");
                }
                if size > 0 {
                    let mut bad = c.to_vec();
                    let last = bad.len() - 1;
                    bad[last] ^= 1;
                    assert!(!is_op_contents(&bad, i, size));
                }
                assert!(!is_op_contents(&c[..size.saturating_sub(1)], i, size) || size == 0);
            }
        }
    }
}
