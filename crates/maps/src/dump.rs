//! JSON dumps with the keys, order and value types of Ceph's `Formatter` output
//! (`pg_pool_t::dump`, `OSDMap::dump`): what `ceph osd dump -f json` and
//! `ceph osd pool ls detail -f json` print.

use crate::osdmap::{OsdMap, OSD_EXISTS, OSD_UP};
use crate::pool::{flag_names, PgPool, PoolOpt, FLAG_POOL_SNAPS};
use serde_json::{json, Map, Value};

/// `pool_opts_t` key names by id (`src/osd/osd_types.cc` opt_mapping).
pub const POOL_OPT_NAMES: [&str; 24] = [
    "scrub_min_interval",
    "scrub_max_interval",
    "deep_scrub_interval",
    "recovery_priority",
    "recovery_op_priority",
    "scrub_priority",
    "compression_mode",
    "compression_algorithm",
    "compression_required_ratio",
    "compression_max_blob_size",
    "compression_min_blob_size",
    "csum_type",
    "csum_max_block",
    "csum_min_block",
    "fingerprint_algorithm",
    "pg_num_min",
    "target_size_bytes",
    "target_size_ratio",
    "pg_autoscale_bias",
    "read_lease_interval",
    "dedup_tier",
    "dedup_chunk_algorithm",
    "dedup_cdc_chunk_size",
    "pg_num_max",
];

pub fn autoscale_mode_name(m: u8) -> &'static str {
    match m {
        0 => "off",
        1 => "warn",
        2 => "on",
        _ => "unknown",
    }
}

/// Ceph prints floats as doubles from a float (e.g. 0.949999988079071 for 0.95f).
pub fn f32_json(v: f32) -> Value {
    json!(v as f64)
}

fn interval_set(m: &std::collections::BTreeMap<u64, u64>) -> String {
    let parts: Vec<String> = m.iter().map(|(s, l)| format!("{:x}~{:x}", s, l)).collect();
    format!("[{}]", parts.join(","))
}

impl PgPool {
    /// `pg_pool_t::dump`, preceded by the id under `id_key` ("pool" in `osd dump`,
    /// "pool_id" in `osd pool ls detail`) and the name.
    pub fn dump_json(&self, id_key: &str, id: i64, name: &str) -> Value {
        let mut m = Map::new();
        m.insert(id_key.into(), json!(id));
        m.insert("pool_name".into(), json!(name));
        m.insert("create_time".into(), json!(self.create_time.to_iso8601()));
        m.insert("flags".into(), json!(self.flags));
        m.insert("flags_names".into(), json!(flag_names(self.flags)));
        m.insert("type".into(), json!(self.ty));
        m.insert("size".into(), json!(self.size));
        m.insert("min_size".into(), json!(self.min_size));
        m.insert("crush_rule".into(), json!(self.crush_rule));
        let (count, target, barrier, member) = self.peering_crush.unwrap_or((0, 0, 0, i32::MAX));
        m.insert("peering_crush_bucket_count".into(), json!(count));
        m.insert("peering_crush_bucket_target".into(), json!(target));
        m.insert("peering_crush_bucket_barrier".into(), json!(barrier));
        m.insert("peering_crush_bucket_mandatory_member".into(), json!(member));
        m.insert("object_hash".into(), json!(self.object_hash));
        m.insert("pg_autoscale_mode".into(), json!(autoscale_mode_name(self.pg_autoscale_mode)));
        m.insert("pg_num".into(), json!(self.pg_num));
        m.insert("pg_placement_num".into(), json!(self.pgp_num));
        m.insert("pg_placement_num_target".into(), json!(self.pgp_num_target));
        m.insert("pg_num_target".into(), json!(self.pg_num_target));
        m.insert("pg_num_pending".into(), json!(self.pg_num_pending));
        let mm = &self.last_pg_merge_meta;
        m.insert(
            "last_pg_merge_meta".into(),
            json!({
                "source_pgid": mm.source_pgid.to_string(),
                "ready_epoch": mm.ready_epoch,
                "last_epoch_started": mm.last_epoch_started,
                "last_epoch_clean": mm.last_epoch_clean,
                "source_version": format!("{}'{}", mm.source_version.epoch, mm.source_version.version),
                "target_version": format!("{}'{}", mm.target_version.epoch, mm.target_version.version),
            }),
        );
        m.insert("last_change".into(), json!(self.last_change.to_string()));
        m.insert("last_force_op_resend".into(), json!(self.last_force_op_resend.to_string()));
        m.insert("last_force_op_resend_prenautilus".into(), json!(self.last_force_op_resend_prenautilus.to_string()));
        m.insert("last_force_op_resend_preluminous".into(), json!(self.last_force_op_resend_preluminous.to_string()));
        m.insert("auid".into(), json!(0));
        m.insert("snap_mode".into(), json!(if self.flags & FLAG_POOL_SNAPS != 0 { "pool" } else { "selfmanaged" }));
        m.insert("snap_seq".into(), json!(self.snap_seq));
        m.insert("snap_epoch".into(), json!(self.snap_epoch));
        let snaps: Vec<Value> = self
            .snaps
            .values()
            .map(|s| json!({"snapid": s.snapid, "stamp": s.stamp.to_iso8601(), "name": s.name}))
            .collect();
        m.insert("pool_snaps".into(), Value::Array(snaps));
        m.insert("removed_snaps".into(), json!(interval_set(&self.removed_snaps)));
        m.insert("quota_max_bytes".into(), json!(self.quota_max_bytes));
        m.insert("quota_max_objects".into(), json!(self.quota_max_objects));
        m.insert("tiers".into(), json!(self.tiers.iter().collect::<Vec<_>>()));
        m.insert("tier_of".into(), json!(self.tier_of));
        m.insert("read_tier".into(), json!(self.read_tier));
        m.insert("write_tier".into(), json!(self.write_tier));
        m.insert("cache_mode".into(), json!(["none", "writeback", "forward", "readonly", "readforward", "readproxy", "proxy"].get(self.cache_mode as usize).copied().unwrap_or("unknown")));
        m.insert("target_max_bytes".into(), json!(self.target_max_bytes));
        m.insert("target_max_objects".into(), json!(self.target_max_objects));
        m.insert("cache_target_dirty_ratio_micro".into(), json!(self.cache_target_dirty_ratio_micro));
        m.insert("cache_target_dirty_high_ratio_micro".into(), json!(self.cache_target_dirty_high_ratio_micro));
        m.insert("cache_target_full_ratio_micro".into(), json!(self.cache_target_full_ratio_micro));
        m.insert("cache_min_flush_age".into(), json!(self.cache_min_flush_age));
        m.insert("cache_min_evict_age".into(), json!(self.cache_min_evict_age));
        m.insert("erasure_code_profile".into(), json!(self.erasure_code_profile));
        m.insert("hit_set_params".into(), json!({"type": "none"}));
        m.insert("hit_set_period".into(), json!(self.hit_set_period));
        m.insert("hit_set_count".into(), json!(self.hit_set_count));
        m.insert("use_gmt_hitset".into(), json!(self.use_gmt_hitset));
        m.insert("min_read_recency_for_promote".into(), json!(self.min_read_recency_for_promote));
        m.insert("min_write_recency_for_promote".into(), json!(self.min_write_recency_for_promote));
        m.insert("hit_set_grade_decay_rate".into(), json!(self.hit_set_grade_decay_rate));
        m.insert("hit_set_search_last_n".into(), json!(self.hit_set_search_last_n));
        m.insert("grade_table".into(), json!([]));
        m.insert("stripe_width".into(), json!(self.stripe_width));
        m.insert("expected_num_objects".into(), json!(self.expected_num_objects));
        m.insert("fast_read".into(), json!(self.fast_read));
        let mut opts = Map::new();
        for (k, v) in &self.opts {
            let name = POOL_OPT_NAMES.get(*k as usize).copied().unwrap_or("unknown");
            opts.insert(
                name.into(),
                match v {
                    PoolOpt::Str(s) => json!(s),
                    PoolOpt::Int(i) => json!(i),
                    PoolOpt::Double(d) => json!(d),
                },
            );
        }
        m.insert("options".into(), Value::Object(opts));
        m.insert("application_metadata".into(), json!(self.application_metadata));
        Value::Object(m)
    }
}

/// A float as a C++ ostream prints it by default (`%g`, six significant
/// digits): `0.95`, `3e-05`, `1`.
pub fn cpp_float(f: f64) -> String {
    if f == 0.0 || !f.is_finite() {
        return if f.is_nan() { "nan".into() } else if f.is_infinite() { (if f > 0.0 { "inf" } else { "-inf" }).into() } else { "0".into() };
    }
    let sci = format!("{f:.5e}");
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let trim = |s: &str| -> String {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s.to_string()
        }
    };
    if !(-4..6).contains(&exp) {
        format!("{}e{}{:02}", trim(mant), if exp < 0 { '-' } else { '+' }, exp.abs())
    } else {
        trim(&format!("{f:.*}", (5 - exp) as usize))
    }
}

/// `OSDMap::get_flag_string`: the set flags in Ceph's fixed order.
pub fn osdmap_flag_names(flags: u32) -> Vec<&'static str> {
    // Ceph's order (OSDMap::calc_state_set / get_flag_string).
    const ORDER: [(u32, &str); 22] = [
        (1 << 1, "full"),
        (1 << 2, "pauserd"),
        (1 << 3, "pausewr"),
        (1 << 4, "pauserec"),
        (1 << 5, "noup"),
        (1 << 6, "nodown"),
        (1 << 7, "noout"),
        (1 << 8, "noin"),
        (1 << 9, "nobackfill"),
        (1 << 14, "norebalance"),
        (1 << 10, "norecover"),
        (1 << 11, "noscrub"),
        (1 << 12, "nodeep-scrub"),
        (1 << 13, "notieragent"),
        (1 << 21, "nosnaptrim"),
        (1 << 15, "sortbitwise"),
        (1 << 16, "require_jewel_osds"),
        (1 << 17, "require_kraken_osds"),
        (1 << 18, "require_luminous_osds"),
        (1 << 19, "recovery_deletes"),
        (1 << 20, "purged_snapdirs"),
        (1 << 22, "pglog_hardlimit"),
    ];
    ORDER.iter().filter(|(b, _)| flags & b != 0).map(|(_, n)| *n).collect()
}

pub fn release_name(r: u8) -> &'static str {
    crate::monmap::release_name(r)
}

impl OsdMap {
    /// `OSDMap::dump`.
    pub fn dump_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("epoch".into(), json!(self.epoch));
        m.insert("fsid".into(), json!(self.fsid.to_string()));
        m.insert("created".into(), json!(self.created.to_iso8601()));
        m.insert("modified".into(), json!(self.modified.to_iso8601()));
        m.insert("last_up_change".into(), json!(self.last_up_change.to_iso8601()));
        m.insert("last_in_change".into(), json!(self.last_in_change.to_iso8601()));
        let names = osdmap_flag_names(self.flags);
        m.insert("flags".into(), json!(names.join(",")));
        m.insert("flags_num".into(), json!(self.flags));
        let mut set: Vec<&str> = names.clone();
        set.sort();
        m.insert("flags_set".into(), json!(set));
        m.insert("crush_version".into(), json!(self.crush_version));
        m.insert("full_ratio".into(), f32_json(self.osd.full_ratio));
        m.insert("backfillfull_ratio".into(), f32_json(self.osd.backfillfull_ratio));
        m.insert("nearfull_ratio".into(), f32_json(self.osd.nearfull_ratio));
        m.insert("cluster_snapshot".into(), json!(self.osd.cluster_snapshot));
        m.insert("pool_max".into(), json!(self.pool_max));
        m.insert("max_osd".into(), json!(self.max_osd));
        m.insert("require_min_compat_client".into(), json!(release_name(self.osd.require_min_compat_client)));
        m.insert("min_compat_client".into(), json!("jewel"));
        m.insert("require_osd_release".into(), json!(release_name(self.osd.require_osd_release)));
        let pools: Vec<Value> = self
            .pools
            .iter()
            .map(|(id, p)| p.dump_json("pool", *id, self.pool_name.get(id).map(|s| s.as_str()).unwrap_or("")))
            .collect();
        m.insert("pools".into(), Value::Array(pools));
        let mut osds = Vec::new();
        let mut xinfo = Vec::new();
        for i in 0..self.max_osd.max(0) as usize {
            let st = self.osd_state.get(i).copied().unwrap_or(0);
            if st & OSD_EXISTS == 0 {
                continue;
            }
            let addrs = |v: &Vec<types::EntityAddrVec>| v.get(i).cloned().unwrap_or_default();
            let info = self.osd.osd_info.get(i).copied().unwrap_or_default();
            let weight = self.osd_weight.get(i).copied().unwrap_or(0);
            let aff = self.osd_primary_affinity.get(i).copied().unwrap_or(0x10000);
            let state = crate::osdmap::osd_state_names(st);
            let (p, c, hb, hf) = (addrs(&self.client_addrs), addrs(&self.osd.cluster_addrs), addrs(&self.osd.hb_back_addrs), addrs(&self.osd.hb_front_addrs));
            osds.push(json!({
                "osd": i,
                "uuid": self.osd.osd_uuid.get(i).map(|u| u.to_string()).unwrap_or_default(),
                "up": if st & OSD_UP != 0 { 1 } else { 0 },
                "in": if weight > 0 { 1 } else { 0 },
                "weight": weight as f64 / 65536.0,
                "primary_affinity": aff as f64 / 65536.0,
                "last_clean_begin": info.last_clean_begin,
                "last_clean_end": info.last_clean_end,
                "up_from": info.up_from,
                "up_thru": info.up_thru,
                "down_at": info.down_at,
                "lost_at": info.lost_at,
                "public_addrs": p.to_json(),
                "cluster_addrs": c.to_json(),
                "heartbeat_back_addrs": hb.to_json(),
                "heartbeat_front_addrs": hf.to_json(),
                "public_addr": p.legacy_or_front().to_string(),
                "cluster_addr": c.legacy_or_front().to_string(),
                "heartbeat_back_addr": hb.legacy_or_front().to_string(),
                "heartbeat_front_addr": hf.legacy_or_front().to_string(),
                "state": state,
            }));
            let x = self.osd.osd_xinfo.get(i).copied().unwrap_or_default();
            xinfo.push(json!({
                "osd": i,
                "down_stamp": format!("{}.{:06}", x.down_stamp.sec, x.down_stamp.nsec / 1000),
                "laggy_probability": x.laggy_probability_raw as f64 / u32::MAX as f64,
                "laggy_interval": x.laggy_interval,
                "features": x.features,
                "old_weight": x.old_weight,
                "last_purged_snaps_scrub": x.last_purged_snaps_scrub.to_iso8601(),
                "dead_epoch": x.dead_epoch,
            }));
        }
        m.insert("osds".into(), Value::Array(osds));
        m.insert("osd_xinfo".into(), Value::Array(xinfo));
        m.insert("pg_upmap".into(), json!([]));
        m.insert("pg_upmap_items".into(), json!([]));
        let pg_temp: Vec<Value> = self.pg_temp.iter().map(|(pg, osds)| json!({"pgid": pg.to_string(), "osds": osds})).collect();
        m.insert("pg_temp".into(), Value::Array(pg_temp));
        let primary_temp: Vec<Value> = self.primary_temp.iter().map(|(pg, o)| json!({"pgid": pg.to_string(), "osd": o})).collect();
        m.insert("primary_temp".into(), Value::Array(primary_temp));
        let mut bl = Map::new();
        for (a, t) in &self.osd.blocklist {
            bl.insert(a.to_string(), json!(t.to_iso8601()));
        }
        m.insert("blocklist".into(), Value::Object(bl));
        m.insert("range_blocklist".into(), json!({}));
        m.insert("erasure_code_profiles".into(), json!(self.erasure_code_profiles));
        // Ceph's OSDMap::dump: [{"pool": N, "snaps": [{"begin", "length"}]}].
        let snap_sets = |sets: &std::collections::BTreeMap<i64, std::collections::BTreeMap<u64, u64>>| -> Value {
            Value::Array(
                sets.iter()
                    .map(|(pool, s)| json!({"pool": pool, "snaps": s.iter().map(|(b, l)| json!({"begin": b, "length": l})).collect::<Vec<_>>()}))
                    .collect(),
            )
        };
        m.insert("removed_snaps_queue".into(), snap_sets(&self.osd.removed_snaps_queue));
        m.insert("new_removed_snaps".into(), snap_sets(&self.new_removed_snaps));
        m.insert("new_purged_snaps".into(), snap_sets(&self.new_purged_snaps));
        m.insert("crush_node_flags".into(), json!({}));
        m.insert("device_class_flags".into(), json!({}));
        let s = self.osd.stretch.unwrap_or_default();
        m.insert(
            "stretch_mode".into(),
            json!({
                "stretch_mode_enabled": s.enabled,
                "stretch_bucket_count": s.bucket_count,
                "degraded_stretch_mode": s.degraded,
                "recovering_stretch_mode": s.recovering,
                "stretch_mode_bucket": s.mode_bucket,
            }),
        );
        Value::Object(m)
    }
}

#[cfg(test)]
mod tests {
    use super::cpp_float;

    /// What `ceph osd dump` and Ceph's health details print for these
    /// (f32 ratios, as the map holds them).
    #[test]
    fn floats_print_as_cpp_ostreams_do() {
        let cases: [(f32, &str); 9] = [(0.95, "0.95"), (0.85, "0.85"), (3e-5, "3e-05"), (1e-5, "1e-05"), (1.0, "1"), (0.5, "0.5"), (0.0, "0"), (1234567.0, "1.23457e+06"), (0.0001, "0.0001")];
        for (f, want) in cases {
            assert_eq!(cpp_float(f as f64), want, "{f}");
        }
        assert_eq!(cpp_float(0.97), "0.97");
    }
}
