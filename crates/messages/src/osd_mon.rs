//! OSD → monitor messages (Pacific encodings): MOSDBoot, MOSDFailure,
//! MOSDMarkMeDown, MOSDBeacon, MOSDAlive, MOSDPGTemp. Layouts from `src/messages/MOSD*.h`.

use crate::mon::PaxosHeader;
use crate::Message;
use bytes::Bytes;
use denc::{Decode, Encode, Encoder, Reader, Result, Utime};
use std::collections::BTreeMap;
use types::{EntityAddrVec, Uuid};

pub const MSG_OSD_BOOT: u16 = 71;
pub const MSG_OSD_FAILURE: u16 = 72;
pub const MSG_OSD_ALIVE: u16 = 73;
pub const MSG_OSD_MARK_ME_DOWN: u16 = 74;
pub const MSG_OSD_PGTEMP: u16 = 78;
pub const MSG_OSD_BEACON: u16 = 79;

/// `OSDSuperblock` v9 (compat 5).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OsdSuperblock {
    pub cluster_fsid: Uuid,
    pub whoami: i32,
    pub current_epoch: u32,
    pub oldest_map: u32,
    pub newest_map: u32,
    pub weight: f64,
    pub clean_thru: u32,
    pub mounted: u32,
    pub osd_fsid: Uuid,
    pub purged_snaps_last: u32,
    pub last_purged_snaps_scrub: Utime,
}

/// The OSD's initial incompat features (`OSD::get_osd_initial_compat_set`).
const INCOMPAT: [(u64, &str); 16] = [
    (1, "initial feature set(~v.18)"),
    (2, "pginfo object"),
    (3, "object locator"),
    (4, "last_epoch_clean"),
    (5, "categories"),
    (6, "hobjectpool"),
    (7, "biginfo"),
    (8, "leveldbinfo"),
    (9, "leveldblog"),
    (10, "snapmapper"),
    (12, "transaction hints"),
    (13, "pg meta object"),
    (14, "explicit missing set"),
    (15, "fastinfo pg attr"),
    (16, "deletes in missing set"),
    (17, "new snapmapper key structure"),
];

impl Encode for OsdSuperblock {
    fn encode(&self, e: &mut Encoder) {
        let s = e.start(9, 5);
        self.cluster_fsid.encode(e);
        e.i32(self.whoami);
        e.u32(self.current_epoch);
        e.u32(self.oldest_map);
        e.u32(self.newest_map);
        e.u64(self.weight.to_bits());
        // CompatSet: compat, ro_compat (empty), incompat.
        for _ in 0..2 {
            e.u64(0);
            e.u32(0);
        }
        let mask: u64 = INCOMPAT.iter().map(|(b, _)| 1u64 << b).sum();
        e.u64(mask);
        e.u32(INCOMPAT.len() as u32);
        for (b, n) in INCOMPAT {
            e.u64(b);
            e.string(n);
        }
        e.u32(self.clean_thru);
        e.u32(self.mounted);
        self.osd_fsid.encode(e);
        e.u32(0);
        e.u32(0);
        e.u32(self.purged_snaps_last);
        self.last_purged_snaps_scrub.encode(e);
        e.finish(s);
    }
}

fn skip_featureset(r: &mut Reader) -> Result<()> {
    r.u64()?;
    let n = r.count(12)?;
    for _ in 0..n {
        r.u64()?;
        r.string()?;
    }
    Ok(())
}

impl Decode for OsdSuperblock {
    fn decode(r: &mut Reader) -> Result<Self> {
        let (v, mut b) = r.versioned(9, "OSDSuperblock")?;
        let cluster_fsid = Uuid::decode(&mut b)?;
        let whoami = b.i32()?;
        let current_epoch = b.u32()?;
        let oldest_map = b.u32()?;
        let newest_map = b.u32()?;
        let weight = f64::from_bits(b.u64()?);
        for _ in 0..3 {
            skip_featureset(&mut b)?;
        }
        let clean_thru = b.u32()?;
        let mounted = b.u32()?;
        let osd_fsid = Uuid::decode(&mut b)?;
        b.u32()?;
        let n = b.count(12)?;
        for _ in 0..n {
            b.i64()?;
            b.u32()?;
        }
        let (purged_snaps_last, last_purged_snaps_scrub) = if v >= 9 { (b.u32()?, Utime::decode(&mut b)?) } else { (0, Utime::default()) };
        Ok(OsdSuperblock { cluster_fsid, whoami, current_epoch, oldest_map, newest_map, weight, clean_thru, mounted, osd_fsid, purged_snaps_last, last_purged_snaps_scrub })
    }
}

/// MOSDBoot v7. The OSD's public addresses are not in it: the mon takes them
/// from the session (what the OSD announced in its msgr2 CLIENT_IDENT).
#[derive(Debug, Clone, Default)]
pub struct OsdBoot {
    /// The OSD's current map epoch (paxos "version").
    pub version: u64,
    pub sb: OsdSuperblock,
    pub hb_back_addrs: EntityAddrVec,
    pub cluster_addrs: EntityAddrVec,
    pub boot_epoch: u32,
    pub hb_front_addrs: EntityAddrVec,
    pub metadata: BTreeMap<String, String>,
    pub osd_features: u64,
}

impl Message for OsdBoot {
    const TYPE: u16 = MSG_OSD_BOOT;
    const VERSION: u16 = 7;
    const COMPAT: u16 = 7;
    fn encode_payload(&self, f: u64) -> (Bytes, Bytes) {
        let mut e = Encoder::new(f);
        PaxosHeader { version: self.version }.encode(&mut e);
        self.sb.encode(&mut e);
        self.hb_back_addrs.encode(&mut e);
        self.cluster_addrs.encode(&mut e);
        e.u32(self.boot_epoch);
        self.hb_front_addrs.encode(&mut e);
        self.metadata.encode(&mut e);
        e.u64(self.osd_features);
        (e.into_bytes(), Bytes::new())
    }
    fn decode_payload(v: u16, front: Bytes, _: Bytes) -> Result<Self> {
        if v < 7 {
            return denc::invalid("MOSDBoot", format!("version {v} is pre-Nautilus"));
        }
        let mut r = Reader::new(front);
        let version = PaxosHeader::decode(&mut r)?.version;
        Ok(OsdBoot {
            version,
            sb: r.decode()?,
            hb_back_addrs: r.decode()?,
            cluster_addrs: r.decode()?,
            boot_epoch: r.u32()?,
            hb_front_addrs: r.decode()?,
            metadata: r.decode()?,
            osd_features: r.u64()?,
        })
    }
}

pub const FAILURE_FLAG_ALIVE: u8 = 0;
pub const FAILURE_FLAG_FAILED: u8 = 1;
pub const FAILURE_FLAG_IMMEDIATE: u8 = 2;

/// MOSDFailure v4: `target_osd` has not answered heartbeats for `failed_for`
/// seconds (FLAG_FAILED), or is alive after all (FLAG_ALIVE).
#[derive(Debug, Clone, Default)]
pub struct OsdFailure {
    pub version: u64,
    pub fsid: Uuid,
    pub target_osd: i32,
    pub target_addrs: EntityAddrVec,
    pub epoch: u32,
    pub flags: u8,
    pub failed_for: i32,
}

impl Message for OsdFailure {
    const TYPE: u16 = MSG_OSD_FAILURE;
    const VERSION: u16 = 4;
    const COMPAT: u16 = 4;
    fn encode_payload(&self, f: u64) -> (Bytes, Bytes) {
        let mut e = Encoder::new(f);
        PaxosHeader { version: self.version }.encode(&mut e);
        self.fsid.encode(&mut e);
        e.i32(self.target_osd);
        self.target_addrs.encode(&mut e);
        e.u32(self.epoch);
        e.u8(self.flags);
        e.i32(self.failed_for);
        (e.into_bytes(), Bytes::new())
    }
    fn decode_payload(v: u16, front: Bytes, _: Bytes) -> Result<Self> {
        if v < 4 {
            return denc::invalid("MOSDFailure", format!("version {v} is pre-Nautilus"));
        }
        let mut r = Reader::new(front);
        let version = PaxosHeader::decode(&mut r)?.version;
        Ok(OsdFailure { version, fsid: r.decode()?, target_osd: r.i32()?, target_addrs: r.decode()?, epoch: r.u32()?, flags: r.u8()?, failed_for: r.i32()? })
    }
}

/// MOSDMarkMeDown v4: an OSD shutting down cleanly asks to be marked down.
#[derive(Debug, Clone, Default)]
pub struct OsdMarkMeDown {
    pub version: u64,
    pub fsid: Uuid,
    pub target_osd: i32,
    pub target_addrs: EntityAddrVec,
    pub epoch: u32,
    pub request_ack: bool,
    pub down_and_dead: bool,
}

impl Message for OsdMarkMeDown {
    const TYPE: u16 = MSG_OSD_MARK_ME_DOWN;
    const VERSION: u16 = 4;
    const COMPAT: u16 = 3;
    fn encode_payload(&self, f: u64) -> (Bytes, Bytes) {
        let mut e = Encoder::new(f);
        PaxosHeader { version: self.version }.encode(&mut e);
        self.fsid.encode(&mut e);
        e.i32(self.target_osd);
        self.target_addrs.encode(&mut e);
        e.u32(self.epoch);
        e.bool(self.request_ack);
        e.bool(self.down_and_dead);
        (e.into_bytes(), Bytes::new())
    }
    fn decode_payload(v: u16, front: Bytes, _: Bytes) -> Result<Self> {
        if v < 3 {
            return denc::invalid("MOSDMarkMeDown", format!("version {v} is pre-Nautilus"));
        }
        let mut r = Reader::new(front);
        let version = PaxosHeader::decode(&mut r)?.version;
        let fsid = r.decode()?;
        let target_osd = r.i32()?;
        let target_addrs = r.decode()?;
        let epoch = r.u32()?;
        let request_ack = r.bool()?;
        let down_and_dead = if v >= 4 { r.bool()? } else { false };
        Ok(OsdMarkMeDown { version, fsid, target_osd, target_addrs, epoch, request_ack, down_and_dead })
    }
}

/// MOSDBeacon (v3, compat 1): an up OSD's periodic "still here", with the
/// PGs it leads; the mon marks down OSDs silent for `mon_osd_report_timeout`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OsdBeacon {
    pub version: u64,
    pub pgs: Vec<types::osd::PgId>,
    pub min_last_epoch_clean: u32,
    pub last_purged_snaps_scrub: Utime,
    pub report_interval: i32,
}

impl Message for OsdBeacon {
    const TYPE: u16 = MSG_OSD_BEACON;
    const VERSION: u16 = 3;
    const COMPAT: u16 = 1;
    fn encode_payload(&self, f: u64) -> (Bytes, Bytes) {
        let mut e = Encoder::new(f);
        PaxosHeader { version: self.version }.encode(&mut e);
        e.u32(self.pgs.len() as u32);
        for pg in &self.pgs {
            pg.encode(&mut e);
        }
        e.u32(self.min_last_epoch_clean);
        self.last_purged_snaps_scrub.encode(&mut e);
        e.i32(self.report_interval);
        (e.into_bytes(), Bytes::new())
    }
    fn decode_payload(v: u16, front: Bytes, _: Bytes) -> Result<Self> {
        let mut r = Reader::new(front);
        let version = PaxosHeader::decode(&mut r)?.version;
        let pgs = r.decode()?;
        let min_last_epoch_clean = r.u32()?;
        let last_purged_snaps_scrub = if v >= 2 { r.decode()? } else { Utime::default() };
        let report_interval = if v >= 3 { r.i32()? } else { 0 };
        Ok(OsdBeacon { version, pgs, min_last_epoch_clean, last_purged_snaps_scrub, report_interval })
    }
}

/// MOSDAlive (v1): a primary about to go active asks the mon to record
/// that it was alive in the current interval (`up_thru >= want`), so later
/// peering knows that interval may have accepted writes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OsdAlive {
    /// The sender's osdmap epoch (the paxos version).
    pub version: u64,
    pub want: u32,
}

impl Message for OsdAlive {
    const TYPE: u16 = MSG_OSD_ALIVE;
    const VERSION: u16 = 1;
    const COMPAT: u16 = 1;
    fn encode_payload(&self, f: u64) -> (Bytes, Bytes) {
        let mut e = Encoder::new(f);
        PaxosHeader { version: self.version }.encode(&mut e);
        e.u32(self.want);
        (e.into_bytes(), Bytes::new())
    }
    fn decode_payload(_: u16, front: Bytes, _: Bytes) -> Result<Self> {
        let mut r = Reader::new(front);
        let version = PaxosHeader::decode(&mut r)?.version;
        Ok(OsdAlive { version, want: r.u32()? })
    }
}

/// MOSDPGTemp (v2, compat 1): a primary asks the mon for a temporary
/// acting set (`pg_temp`) for PGs whose CRUSH mapping names OSDs without a
/// complete copy, so complete copies serve while the new ones backfill; an
/// empty list removes the entry.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OsdPgTemp {
    pub version: u64,
    pub map_epoch: u32,
    pub pg_temp: BTreeMap<types::osd::PgId, Vec<i32>>,
    pub forced: bool,
}

impl Message for OsdPgTemp {
    const TYPE: u16 = MSG_OSD_PGTEMP;
    const VERSION: u16 = 2;
    const COMPAT: u16 = 1;
    fn encode_payload(&self, f: u64) -> (Bytes, Bytes) {
        let mut e = Encoder::new(f);
        PaxosHeader { version: self.version }.encode(&mut e);
        e.u32(self.map_epoch);
        self.pg_temp.encode(&mut e);
        e.bool(self.forced);
        (e.into_bytes(), Bytes::new())
    }
    fn decode_payload(v: u16, front: Bytes, _: Bytes) -> Result<Self> {
        let mut r = Reader::new(front);
        let version = PaxosHeader::decode(&mut r)?.version;
        let map_epoch = r.u32()?;
        let pg_temp = r.decode()?;
        let forced = if v >= 2 { r.bool()? } else { false };
        Ok(OsdPgTemp { version, map_epoch, pg_temp, forced })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn beacon_round_trips_in_cephs_layout() {
        let b = OsdBeacon { version: 9, pgs: vec![types::osd::PgId { pool: 1, seed: 3 }], min_last_epoch_clean: 7, last_purged_snaps_scrub: Utime { sec: 5, nsec: 6 }, report_interval: 300 };
        let raw = b.to_raw(1, u64::MAX);
        assert_eq!(OsdBeacon::from_raw(&raw).unwrap(), b);
        // paxos header (8 + 2 + 8), one pg_t (count 4 + 17), lec, utime, interval
        assert_eq!(raw.front.len(), 18 + 4 + 17 + 4 + 8 + 4);
        assert!(OsdBeacon::decode_payload(3, raw.front.slice(..raw.front.len() - 1), Bytes::new()).is_err());
    }

    #[test]
    fn alive_round_trips_in_cephs_layout() {
        let a = OsdAlive { version: 12, want: 11 };
        let raw = a.to_raw(1, u64::MAX);
        assert_eq!(raw.header.ty, 73);
        // paxos header (version 8, deprecated session mon 2, tid 8), want
        assert_eq!(&raw.front[..], &[12, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 11, 0, 0, 0][..]);
        assert_eq!(OsdAlive::from_raw(&raw).unwrap(), a);
        assert!(OsdAlive::decode_payload(1, raw.front.slice(..20), Bytes::new()).is_err());
    }

    #[test]
    fn pg_temp_round_trips_in_cephs_layout() {
        let m = OsdPgTemp { version: 20, map_epoch: 20, pg_temp: [(types::osd::PgId { pool: 2, seed: 5 }, vec![1, 0])].into_iter().collect(), forced: false };
        let raw = m.to_raw(1, u64::MAX);
        assert_eq!(raw.header.ty, 78);
        // paxos header 18, epoch 4, map count 4, pg_t 17, vector 4 + 2 * 4, forced 1
        assert_eq!(raw.front.len(), 18 + 4 + 4 + 17 + 12 + 1);
        assert_eq!(&raw.front[raw.front.len() - 9..raw.front.len() - 1], &[1, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(OsdPgTemp::from_raw(&raw).unwrap(), m);
        assert!(OsdPgTemp::decode_payload(2, raw.front.slice(..30), Bytes::new()).is_err());
    }

    #[test]
    fn boot_round_trips() {
        let b = OsdBoot {
            version: 5,
            sb: OsdSuperblock { whoami: 2, osd_fsid: Uuid([7; 16]), current_epoch: 5, ..Default::default() },
            boot_epoch: 3,
            metadata: [("hostname".to_string(), "h".to_string())].into_iter().collect(),
            osd_features: u64::MAX,
            ..Default::default()
        };
        let back = OsdBoot::from_raw(&b.to_raw(1, u64::MAX)).unwrap();
        assert_eq!(back.sb, b.sb);
        assert_eq!(back.metadata, b.metadata);
        assert_eq!(back.boot_epoch, 3);
        // The incompat mask Ceph writes for a new OSD.
        let enc = b.sb.to_bytes(0);
        let mask_at = 6 + 16 + 4 + 12 + 8 + 24;
        assert_eq!(u64::from_le_bytes(enc[mask_at..mask_at + 8].try_into().unwrap()), 0x3F7FE);
    }

    proptest! {
        #[test]
        fn decoders_never_panic(front in proptest::collection::vec(any::<u8>(), 0..200), v in 0u16..6) {
            let f = Bytes::from(front);
            let _ = OsdBoot::decode_payload(v + 3, f.clone(), Bytes::new());
            let _ = OsdFailure::decode_payload(v + 2, f.clone(), Bytes::new());
            let _ = OsdMarkMeDown::decode_payload(v + 2, f.clone(), Bytes::new());
            let _ = OsdAlive::decode_payload(v, f.clone(), Bytes::new());
            let _ = OsdPgTemp::decode_payload(v, f.clone(), Bytes::new());
            let _ = OsdBeacon::decode_payload(v, f, Bytes::new());
        }
    }
}
