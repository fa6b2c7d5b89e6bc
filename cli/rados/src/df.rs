//! `rados df`: per-pool usage (MGetPoolStats) and cluster totals (MStatfs),
//! printed as the real tool does.

use rados::{Error, Rados};

pub use types::units::byte_u;

/// With `-p`, only that pool is shown (as the real tool does).
pub async fn df(r: &Rados, only: Option<&str>, json: bool) -> Result<(), Error> {
    let pools = r.list_pools();
    let names: Vec<String> = pools.iter().map(|(_, n)| n.clone()).filter(|n| only.map(|o| o == n).unwrap_or(true)).collect();
    let stats = r.monc.pool_stats(names).await?;
    let totals = r.monc.statfs().await?;
    // librados: with per-pool store stats, usage is what the stores allocated
    let used = |s: &messages::mon::PoolStat| -> u64 {
        if stats.per_pool {
            (s.allocated + s.omap_allocated).max(0) as u64
        } else {
            s.num_bytes.max(0) as u64
        }
    };
    let id_of = |n: &str| pools.iter().find(|(_, x)| x == n).map(|(i, _)| *i).unwrap_or(-1);
    if json {
        let v: Vec<serde_json::Value> = stats
            .pool_stats
            .iter()
            .map(|(name, s)| {
                let u = used(s);
                serde_json::json!({
                    "name": name, "id": id_of(name), "size_bytes": u, "size_kb": u.div_ceil(1024),
                    "num_objects": s.num_objects, "num_object_clones": s.num_object_clones,
                    "num_object_copies": s.num_object_copies,
                    "num_objects_missing_on_primary": s.num_objects_missing_on_primary,
                    "num_objects_unfound": s.num_objects_unfound, "num_objects_degraded": s.num_objects_degraded,
                    "read_ops": s.num_rd, "read_bytes": s.num_rd_kb * 1024, "write_ops": s.num_wr,
                    "write_bytes": s.num_wr_kb * 1024, "compress_bytes_used": s.data_compressed_allocated,
                    "compress_under_bytes": s.data_compressed_original,
                })
            })
            .collect();
        let out = serde_json::json!({
            "pools": v, "total_objects": totals.num_objects, "total_used": totals.kb_used,
            "total_avail": totals.kb_avail, "total_space": totals.kb,
        });
        println!("{out}");
        return Ok(());
    }
    let header = [
        "POOL_NAME", "USED", "OBJECTS", "CLONES", "COPIES", "MISSING_ON_PRIMARY", "UNFOUND", "DEGRADED", "RD_OPS", "RD",
        "WR_OPS", "WR", "USED COMPR", "UNDER COMPR",
    ];
    let mut rows: Vec<Vec<String>> = vec![header.iter().map(|s| s.to_string()).collect()];
    for (name, s) in &stats.pool_stats {
        rows.push(vec![
            name.clone(),
            byte_u(used(s)),
            s.num_objects.to_string(),
            s.num_object_clones.to_string(),
            s.num_object_copies.to_string(),
            s.num_objects_missing_on_primary.to_string(),
            s.num_objects_unfound.to_string(),
            s.num_objects_degraded.to_string(),
            s.num_rd.to_string(),
            byte_u((s.num_rd_kb.max(0) as u64) << 10),
            s.num_wr.to_string(),
            byte_u((s.num_wr_kb.max(0) as u64) << 10),
            byte_u(s.data_compressed_allocated.max(0) as u64),
            byte_u(s.data_compressed_original.max(0) as u64),
        ]);
    }
    let widths: Vec<usize> = (0..header.len()).map(|c| rows.iter().map(|r| r[c].len()).max().unwrap_or(0)).collect();
    for r in &rows {
        let mut line = String::new();
        for (c, cell) in r.iter().enumerate() {
            if c == 0 {
                line.push_str(&format!("{cell:<w$}", w = widths[c]));
            } else {
                line.push_str(&format!("  {cell:>w$}", w = widths[c]));
            }
        }
        println!("{line}");
    }
    println!();
    println!("total_objects    {}", totals.num_objects);
    println!("total_used       {}", byte_u(totals.kb_used << 10));
    println!("total_avail      {}", byte_u(totals.kb_avail << 10));
    println!("total_space      {}", byte_u(totals.kb << 10));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::byte_u;
    #[test]
    fn units_like_ceph() {
        assert_eq!(byte_u(0), "0 B");
        assert_eq!(byte_u(73728), "72 KiB");
        assert_eq!(byte_u(2273274880), "2.1 GiB");
        assert_eq!(byte_u(867719168), "828 MiB");
        assert_eq!(byte_u(12582912 << 10), "12 GiB");
        assert_eq!(byte_u(3 * (1 << 30) + (1 << 29)), "3.5 GiB");
    }
}
