//! MgrMap (`src/mon/MgrMap.h`), v12/compat 6 as 16.2.15 sends it. Clients need the active mgr's
//! addresses, gid, name and features; standbys and module details are kept raw.

use bytes::Bytes;
use denc::{Decode, Encode, Encoder, Reader, Result, Utime};
use std::collections::{BTreeMap, BTreeSet};
use types::EntityAddrVec;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MgrMap {
    pub epoch: u32,
    pub active_addrs: EntityAddrVec,
    pub active_gid: u64,
    pub available: bool,
    pub active_name: String,
    /// gid → encoded StandbyInfo (kept whole; we never need inside it as a client).
    pub standbys: BTreeMap<u64, Bytes>,
    pub modules: BTreeSet<String>,
    pub services: BTreeMap<String, String>,
    /// Encoded ModuleInfo structs.
    pub available_modules: Vec<Bytes>,
    pub active_change: Utime,
    pub always_on_modules: BTreeMap<u32, BTreeSet<String>>,
    pub active_mgr_features: u64,
    pub last_failure_osd_epoch: u32,
    pub clients: Vec<EntityAddrVec>,
    /// v12 (16.2.15): the names of the mgr modules owning `clients`.
    pub clients_names: Vec<String>,
    /// Fields of newer versions we do not know, kept so re-encoding is lossless.
    pub unknown_tail: Bytes,
}

/// Reads one ENCODE_START-framed struct and returns it whole (header included).
fn raw_versioned(r: &mut Reader, what: &'static str) -> Result<Bytes> {
    let rest = r.peek_rest().clone();
    let before = r.remaining();
    r.skip_versioned(what)?;
    Ok(rest.slice(..before - r.remaining()))
}

impl Decode for MgrMap {
    fn decode(r: &mut Reader) -> Result<Self> {
        let (v, mut b) = r.versioned(12, "MgrMap")?;
        let mut m = MgrMap {
            epoch: b.u32()?,
            active_addrs: if v >= 6 { Decode::decode(&mut b)? } else { EntityAddrVec::single(Decode::decode(&mut b)?) },
            active_gid: b.u64()?,
            available: b.bool()?,
            active_name: b.string()?,
            ..Default::default()
        };
        let n = b.count(8)?;
        for _ in 0..n {
            let gid = b.u64()?;
            m.standbys.insert(gid, raw_versioned(&mut b, "StandbyInfo")?);
        }
        if v >= 2 {
            m.modules = Decode::decode(&mut b)?;
        }
        if v < 6 {
            let _old: BTreeSet<String> = Decode::decode(&mut b)?;
        }
        if v >= 3 {
            m.services = Decode::decode(&mut b)?;
        }
        if v >= 4 {
            let n = b.count(6)?;
            for _ in 0..n {
                m.available_modules.push(raw_versioned(&mut b, "ModuleInfo")?);
            }
        }
        if v >= 7 {
            m.active_change = Utime::decode(&mut b)?;
        }
        if v >= 8 {
            m.always_on_modules = Decode::decode(&mut b)?;
        }
        if v >= 9 {
            m.active_mgr_features = b.u64()?;
        }
        if v >= 10 {
            m.last_failure_osd_epoch = b.u32()?;
        }
        if v >= 11 {
            m.clients = Decode::decode(&mut b)?;
        }
        if v >= 12 {
            m.clients_names = Decode::decode(&mut b)?;
        }
        m.unknown_tail = b.into_rest();
        Ok(m)
    }
}

impl Encode for MgrMap {
    fn encode(&self, e: &mut Encoder) {
        let s = e.start(12, 6);
        e.u32(self.epoch);
        self.active_addrs.encode(e);
        e.u64(self.active_gid);
        e.bool(self.available);
        e.string(&self.active_name);
        e.u32(self.standbys.len() as u32);
        for (gid, raw) in &self.standbys {
            e.u64(*gid);
            e.raw(raw);
        }
        self.modules.encode(e);
        self.services.encode(e);
        e.u32(self.available_modules.len() as u32);
        for raw in &self.available_modules {
            e.raw(raw);
        }
        self.active_change.encode(e);
        self.always_on_modules.encode(e);
        e.u64(self.active_mgr_features);
        e.u32(self.last_failure_osd_epoch);
        self.clients.encode(e);
        self.clients_names.encode(e);
        e.raw(&self.unknown_tail);
        e.finish(s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    proptest::proptest! {
        #[test]
        fn decoder_never_panics(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400)) {
            let _ = MgrMap::from_bytes(data);
        }
    }
}
