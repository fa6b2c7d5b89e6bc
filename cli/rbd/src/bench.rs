//! `rbd bench`: the real tool's workload and output (`tools/rbd/action/Bench.cc`).

use crate::{fail, fail_e, Ctx};
use crate::args::parse_size;
use bytes::Bytes;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use types::units::byte_u;

/// C++ `ostream << double` (6 significant digits, no trailing zeros).
pub fn fmt_g(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return "0".into();
    }
    let exp = x.abs().log10().floor() as i32;
    if !(-5..6).contains(&exp) {
        return format!("{x:e}");
    }
    let dec = (5 - exp).max(0) as usize;
    let s = format!("{x:.dec$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

pub async fn bench(c: &Ctx, at: usize) -> i32 {
    let a = &c.a;
    let s = c.spec(at);
    let ty = a.opt("io-type").unwrap_or_else(|| fail("rbd: --io-type must be specified", 22)).to_string();
    let (reads_pct, label) = match ty.as_str() {
        "read" => (100, "read".to_string()),
        "write" => (0, "write".to_string()),
        "readwrite" | "rw" => {
            let m: u64 = a.opt("rw-mix-read").map(|v| v.parse().unwrap_or(50)).unwrap_or(50);
            (m, format!("readwrite read:write={m}:{}", 100 - m))
        }
        _ => fail("rbd: invalid io-type", 22),
    };
    let io_size = a.opt("io-size").map(|v| parse_size(v, 1).unwrap_or_else(|m| fail(&m, 22))).unwrap_or(4096);
    let threads: u64 = a.opt("io-threads").map(|v| v.parse().unwrap_or(16)).unwrap_or(16);
    let total = a.opt("io-total").map(|v| parse_size(v, 1).unwrap_or_else(|m| fail(&m, 22))).unwrap_or(1 << 30);
    let rand = match a.opt("io-pattern").unwrap_or("seq") {
        "rand" => true,
        "seq" => false,
        _ => fail("rbd: invalid io-pattern", 22),
    };
    if io_size == 0 || io_size > 1 << 30 {
        fail("rbd: io-size should be less than 1G", 22);
    }
    let mut img = c.open(&s).await;
    img.set_write_cache(c.cache_max_dirty);
    if reads_pct < 100 {
        if let Err(e) = img.acquire().await {
            fail_e("failed to acquire the image", &e);
        }
    }
    let size = img.size();
    if io_size > size {
        fail("rbd: io-size should be less than image size", 22);
    }
    println!("bench  type {label} io_size {io_size} io_threads {threads} bytes {total} pattern {}", if rand { "random" } else { "sequential" });
    println!("  SEC       OPS   OPS/SEC   BYTES/SEC");
    let img = Arc::new(img);
    let ops_total = total / io_size;
    let done = Arc::new(AtomicU64::new(0));
    // one buffer of a single random byte, as the real bench writes
    let data = Bytes::from(vec![rand::random::<u8>(); io_size as usize]);
    let start = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    // as the real bench: thread t starts at t * (size / threads), sequential
    // ops go on from there (wrapping at the end), and ops go round-robin
    let slots = size / io_size;
    let unit = slots / threads.max(1);
    for t in 0..threads.min(ops_total.max(1)) {
        let (img, done, data) = (img.clone(), done.clone(), data.clone());
        let mine = ops_total / threads + u64::from(t < ops_total % threads);
        workers.spawn(async move {
            let mut off = unit * t * io_size;
            for _ in 0..mine {
                let at = if rand { rand::random::<u64>() % slots * io_size } else { off };
                let read = reads_pct == 100 || (reads_pct > 0 && rand::random::<u64>() % 100 < reads_pct);
                if read {
                    img.read(at, io_size).await?;
                } else {
                    img.write(at, data.clone()).await?;
                }
                done.fetch_add(1, Ordering::Relaxed);
                off += io_size;
                if off + io_size > size {
                    off = 0;
                }
            }
            Ok::<_, rados::Error>(())
        });
    }
    // one line a second: ops so far and the rate over the last 5 seconds
    let mut window: std::collections::VecDeque<(Instant, u64)> = [(start, 0)].into();
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + Duration::from_secs(1), Duration::from_secs(1));
    let mut secs = 0;
    let mut failed = None;
    loop {
        tokio::select! {
            r = workers.join_next() => match r {
                None => break,
                Some(Ok(Ok(()))) => {}
                Some(Ok(Err(e))) => { failed = Some(e); workers.abort_all(); }
                Some(Err(_)) => {}
            },
            _ = tick.tick() => {
                secs += 1;
                let now = Instant::now();
                let d = done.load(Ordering::Relaxed);
                window.push_back((now, d));
                if window.len() > 6 { window.pop_front(); }
                let (t0, d0) = window[0];
                let rate = (d - d0) as f64 / now.duration_since(t0).as_secs_f64();
                println!("{secs:5}{d:10}{:>10}{:>10}/s", fmt_g(rate), byte_u((rate * io_size as f64) as u64));
            }
        }
    }
    // what the cache still holds counts (the real bench flushes before its summary too)
    if let Err(e) = img.flush().await {
        failed.get_or_insert(e);
    }
    if let Some(e) = failed {
        fail_e("bench failed", &e);
    }
    let elapsed = start.elapsed().as_secs_f64();
    let d = done.load(Ordering::Relaxed);
    let rate = d as f64 / elapsed;
    println!("elapsed: {}   ops: {d}   ops/sec: {}   bytes/sec: {}/s", elapsed as u64, fmt_g(rate), byte_u((rate * io_size as f64) as u64));
    if let Ok(mut img) = Arc::try_unwrap(img) {
        let _ = img.release().await;
    }
    0
}

#[cfg(test)]
mod tests {
    use super::fmt_g;

    #[test]
    fn like_cxx_ostream() {
        assert_eq!(fmt_g(3047.6190), "3047.62");
        assert_eq!(fmt_g(500.0), "500");
        assert_eq!(fmt_g(3015.9), "3015.9");
        assert_eq!(fmt_g(12.5), "12.5");
    }
}
