//! MonMap (`src/mon/MonMap.{h,cc}`), Pacific encoding v9/compat 6.

use bytes::Bytes;
use denc::{invalid, Decode, Encode, Encoder, Reader, Result, Utime};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;
use types::features::SERVER_NAUTILUS;
use types::{EntityAddrVec, Uuid};

/// Mon feature names by bit (`ceph::features::mon`).
pub const MON_FEATURE_NAMES: [&str; 8] =
    ["kraken", "luminous", "mimic", "osdmap-prune", "nautilus", "octopus", "pacific", "elector-pinging"];
/// Every mon feature a Pacific mon has (bits 0..7).
pub const MON_FEATURES_PACIFIC: u64 = 0xff;

/// `ceph_release_t` names, indexed by number.
pub fn release_name(r: u8) -> &'static str {
    match r {
        1 => "argonaut",
        2 => "bobtail",
        3 => "cuttlefish",
        4 => "dumpling",
        5 => "emperor",
        6 => "firefly",
        7 => "giant",
        8 => "hammer",
        9 => "infernalis",
        10 => "jewel",
        11 => "kraken",
        12 => "luminous",
        13 => "mimic",
        14 => "nautilus",
        15 => "octopus",
        16 => "pacific",
        17 => "quincy",
        18 => "reef",
        _ => "unknown",
    }
}

/// `mon_feature_t`: ENCODE_START(1,1) + u64.
fn encode_mon_features(e: &mut Encoder, f: u64) {
    let s = e.start(1, 1);
    e.u64(f);
    e.finish(s);
}
fn decode_mon_features(r: &mut Reader) -> Result<u64> {
    let (_, mut b) = r.versioned(1, "mon_feature_t")?;
    b.u64()
}
fn mon_feature_list(f: u64) -> Vec<&'static str> {
    (0..64)
        .filter(|b| f & (1u64 << b) != 0)
        .map(|b| match b {
            0..=7 => MON_FEATURE_NAMES[b],
            63 => "reserved",
            _ => "unknown",
        })
        .collect()
}

/// `mon_info_t` (v5): one monitor's name, addresses, priority, weight, crush location.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MonInfo {
    pub name: String,
    pub public_addrs: EntityAddrVec,
    pub priority: u16,
    pub weight: u16,
    pub crush_loc: BTreeMap<String, String>,
}

impl Encode for MonInfo {
    fn encode(&self, e: &mut Encoder) {
        let s = e.start(5, 1);
        e.string(&self.name);
        self.public_addrs.encode(e);
        e.u16(self.priority);
        e.u16(self.weight);
        self.crush_loc.encode(e);
        e.finish(s);
    }
}
impl Decode for MonInfo {
    fn decode(r: &mut Reader) -> Result<Self> {
        let (v, mut b) = r.versioned(5, "mon_info_t")?;
        let name = b.string()?;
        let public_addrs = if v < 3 {
            EntityAddrVec::single(Decode::decode(&mut b)?)
        } else {
            Decode::decode(&mut b)?
        };
        let priority = if v >= 2 { b.u16()? } else { 0 };
        let weight = if v >= 4 { b.u16()? } else { 0 };
        let crush_loc = if v >= 5 { Decode::decode(&mut b)? } else { BTreeMap::new() };
        Ok(MonInfo { name, public_addrs, priority, weight, crush_loc })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MonMap {
    pub fsid: Uuid,
    pub epoch: u32,
    pub last_changed: Utime,
    pub created: Utime,
    pub persistent_features: u64,
    pub optional_features: u64,
    pub mon_info: BTreeMap<String, MonInfo>,
    /// rank → name
    pub ranks: Vec<String>,
    pub min_mon_release: u8,
    pub removed_ranks: BTreeSet<i32>,
    pub strategy: u8,
    pub disallowed_leaders: BTreeSet<String>,
    pub stretch_mode_enabled: bool,
    pub tiebreaker_mon: String,
    pub stretch_marked_down_mons: BTreeSet<String>,
}

impl MonMap {
    pub fn rank_of(&self, name: &str) -> Option<usize> {
        self.ranks.iter().position(|n| n == name)
    }
    pub fn by_rank(&self) -> impl Iterator<Item = (usize, &MonInfo)> {
        self.ranks.iter().enumerate().filter_map(|(i, n)| self.mon_info.get(n).map(|m| (i, m)))
    }

    /// Ranks in the order Ceph computes them when a map has none: by address, then name.
    pub fn calc_ranks(&mut self) {
        let mut v: Vec<(_, _)> = self.mon_info.values().map(|m| (m.public_addrs.legacy_or_front(), m.name.clone())).collect();
        v.sort();
        self.ranks = v.into_iter().map(|(_, n)| n).collect();
    }

    /// `MonMap::dump` plus the `quorum` array the `mon dump` command adds.
    pub fn to_json(&self, quorum: &[usize]) -> Value {
        let mons: Vec<Value> = self
            .by_rank()
            .map(|(rank, m)| {
                let legacy = m.public_addrs.legacy_or_front();
                let legacy_str = format!("{}/{}", legacy.sockaddr_string(), legacy.nonce);
                json!({
                    "rank": rank,
                    "name": m.name,
                    "public_addrs": m.public_addrs.to_json(),
                    "addr": legacy_str,
                    "public_addr": legacy_str,
                    "priority": m.priority,
                    "weight": m.weight,
                    "crush_location": crush_loc_str(&m.crush_loc),
                })
            })
            .collect();
        json!({
            "epoch": self.epoch,
            "fsid": self.fsid.to_string(),
            "modified": gmtime(self.last_changed),
            "created": gmtime(self.created),
            "min_mon_release": self.min_mon_release,
            "min_mon_release_name": release_name(self.min_mon_release),
            "election_strategy": self.strategy,
            "disallowed_leaders: ": self.disallowed_leaders.iter().cloned().collect::<Vec<_>>().join(","),
            "stretch_mode": self.stretch_mode_enabled,
            "tiebreaker_mon": self.tiebreaker_mon,
            // 16.2.15 dumps these with the same stray ": " in the key.
            "removed_ranks: ": self.removed_ranks.iter().map(|r| r.to_string()).collect::<Vec<_>>().join(","),
            "features": {
                "persistent": mon_feature_list(self.persistent_features),
                "optional": mon_feature_list(self.optional_features),
            },
            "mons": mons,
            "quorum": quorum,
        })
    }

    /// `MonMap::print` (the text of `ceph mon dump` and `monmaptool --print`).
    pub fn print(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "epoch {}", self.epoch);
        let _ = writeln!(s, "fsid {}", self.fsid);
        let _ = writeln!(s, "last_changed {}", self.last_changed.to_iso8601());
        let _ = writeln!(s, "created {}", self.created.to_iso8601());
        let _ = writeln!(s, "min_mon_release {} ({})", self.min_mon_release, release_name(self.min_mon_release));
        let _ = writeln!(s, "election_strategy: {}", self.strategy);
        if self.stretch_mode_enabled {
            let _ = writeln!(s, "stretch_mode_enabled 1");
            let _ = writeln!(s, "tiebreaker_mon {}", self.tiebreaker_mon);
        }
        if self.stretch_mode_enabled || !self.disallowed_leaders.is_empty() {
            let _ = writeln!(s, "disallowed_leaders {}", self.disallowed_leaders.iter().cloned().collect::<Vec<_>>().join(","));
        }
        for (rank, m) in self.by_rank() {
            let _ = write!(s, "{rank}: {} mon.{}", m.public_addrs, m.name);
            if !m.crush_loc.is_empty() {
                let _ = write!(s, "; crush_location {}", crush_loc_str(&m.crush_loc));
            }
            s.push('\n');
        }
        s
    }
}

fn crush_loc_str(m: &BTreeMap<String, String>) -> String {
    let inner: Vec<String> = m.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{{{}}}", inner.join(","))
}

/// `utime_t::gmtime` as used in JSON dumps: `2021-05-04T12:34:56.123456Z`.
pub fn gmtime(t: Utime) -> String {
    if t.sec < 315_360_000 {
        return format!("{}.{:06}", t.sec, t.nsec / 1000);
    }
    let s = t.to_iso8601();
    format!("{}Z", s.trim_end_matches("+0000"))
}

impl Encode for MonMap {
    fn encode(&self, e: &mut Encoder) {
        // Only the Nautilus+ form; older peers are not supported.
        debug_assert!(e.features & SERVER_NAUTILUS != 0 || e.features == 0);
        let s = e.start(9, 6);
        self.fsid.encode(e);
        e.u32(self.epoch);
        self.last_changed.encode(e);
        self.created.encode(e);
        encode_mon_features(e, self.persistent_features);
        encode_mon_features(e, self.optional_features);
        self.mon_info.encode(e);
        self.ranks.encode(e);
        e.u8(self.min_mon_release);
        self.removed_ranks.encode(e);
        e.u8(self.strategy);
        self.disallowed_leaders.encode(e);
        e.bool(self.stretch_mode_enabled);
        e.string(&self.tiebreaker_mon);
        self.stretch_marked_down_mons.encode(e);
        e.finish(s);
    }
}

impl Decode for MonMap {
    fn decode(r: &mut Reader) -> Result<Self> {
        // DECODE_START_LEGACY_COMPAT_LEN_16(9, 3, 3): versions 1 and 2 were a bare u16.
        let first = *r.peek_rest().first().ok_or(denc::Error::Truncated { need: 1, have: 0, what: "MonMap" })?;
        if first < 3 {
            return invalid("MonMap", format!("pre-Kraken encoding v{first} is not supported"));
        }
        let (v, mut b) = r.versioned(9, "MonMap")?;
        let mut m = MonMap { fsid: Uuid::decode(&mut b)?, epoch: b.u32()?, ..Default::default() };
        let mut legacy_addrs: BTreeMap<String, types::EntityAddr> = BTreeMap::new();
        if v < 6 {
            legacy_addrs = Decode::decode(&mut b)?;
        }
        m.last_changed = Utime::decode(&mut b)?;
        m.created = Utime::decode(&mut b)?;
        if v >= 4 {
            m.persistent_features = decode_mon_features(&mut b)?;
            m.optional_features = decode_mon_features(&mut b)?;
        }
        if v >= 5 {
            m.mon_info = Decode::decode(&mut b)?;
        } else {
            for (name, a) in legacy_addrs {
                m.mon_info.insert(name.clone(), MonInfo { name, public_addrs: EntityAddrVec::single(a), ..Default::default() });
            }
        }
        if v >= 6 {
            m.ranks = Decode::decode(&mut b)?;
        } else {
            m.calc_ranks();
        }
        if v >= 7 {
            m.min_mon_release = b.u8()?;
        }
        if v >= 8 {
            m.removed_ranks = Decode::decode(&mut b)?;
            m.strategy = b.u8()?;
            m.disallowed_leaders = Decode::decode(&mut b)?;
        }
        if v >= 9 {
            m.stretch_mode_enabled = b.bool()?;
            m.tiebreaker_mon = b.string()?;
            m.stretch_marked_down_mons = Decode::decode(&mut b)?;
        }
        for n in &m.ranks {
            if !m.mon_info.contains_key(n) {
                return invalid("MonMap", format!("rank names unknown mon '{n}'"));
            }
        }
        Ok(m)
    }
}

impl MonMap {
    pub fn encode_bytes(&self) -> Bytes {
        self.to_bytes(types::features::PACIFIC_SUPPORTED)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    proptest::proptest! {
        #[test]
        fn decoder_never_panics(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400)) {
            let _ = MonMap::from_bytes(data.clone());
            let mut d = data;
            if d.len() > 6 { d[0] = 9; d[1] = 6; let l = (d.len() - 6) as u32; d[2..6].copy_from_slice(&l.to_le_bytes()); }
            let _ = MonMap::from_bytes(d);
        }
    }
}
