//! `ceph::BitVector<2>` (`src/common/bit_vector.hpp`): two bits per element,
//! with optional CRCs over the header and every 4 KiB of data. RBD object
//! maps are stored in it; the OSD's `rbd` class and the RBD client share it.

use bytes::Bytes;
use denc::{ceph_crc32c, Encoder, Reader};

const CRC_BLOCK: usize = 4096;

/// `ceph::BitVector<2>`: element i is byte i/4, bits (3 - i%4)*2.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BitVector {
    pub len: u64,
    pub data: Vec<u8>,
    pub crcs: bool,
}

impl BitVector {
    pub fn get(&self, i: u64) -> u8 {
        (self.data[(i / 4) as usize] >> ((3 - i % 4) * 2)) & 3
    }
    pub fn set(&mut self, i: u64, v: u8) {
        let b = &mut self.data[(i / 4) as usize];
        let shift = (3 - i % 4) * 2;
        *b = (*b & !(3 << shift)) | ((v & 3) << shift);
    }
    pub fn resize(&mut self, n: u64) {
        self.data.resize(n.div_ceil(4) as usize, 0);
        self.len = n;
    }

    fn header(&self) -> Vec<u8> {
        let mut e = Encoder::new(0);
        let s = e.start(1, 1);
        e.u64(self.len);
        e.finish(s);
        e.into_bytes().to_vec()
    }

    pub fn encode(&self) -> Bytes {
        let mut e = Encoder::new(0);
        let h = self.header();
        e.bufferlist(&h);
        e.raw(&self.data);
        if self.crcs {
            let blocks: Vec<u32> = self.data.chunks(CRC_BLOCK).map(|c| ceph_crc32c(0, c)).collect();
            e.u32(8 + 4 * blocks.len() as u32);
            e.u32(ceph_crc32c(0, &h));
            e.u32(blocks.len() as u32);
            for c in blocks {
                e.u32(c);
            }
        } else {
            e.u32(0);
        }
        e.into_bytes()
    }

    pub fn decode(b: Bytes) -> denc::Result<BitVector> {
        let mut r = Reader::new(b);
        let h = r.bufferlist()?;
        let (_, mut hr) = Reader::new(h.clone()).versioned(1, "BitVector header")?;
        let len = hr.u64()?;
        let d = usize::try_from(len.div_ceil(4)).map_err(|_| denc::Error::Invalid { what: "BitVector", detail: "too long".into() })?;
        let data = r.bytes(d)?.to_vec();
        let footer = r.bufferlist()?;
        if footer.is_empty() {
            return Ok(BitVector { len, data, crcs: false });
        }
        let mut f = Reader::new(footer);
        if f.u32()? != ceph_crc32c(0, &h) {
            return denc::invalid("BitVector", "incorrect header CRC");
        }
        let n = f.count(4)?;
        let blocks: Vec<&[u8]> = data.chunks(CRC_BLOCK).collect();
        if n != blocks.len() {
            return denc::invalid("BitVector", "wrong number of data CRCs");
        }
        for blk in blocks {
            if f.u32()? != ceph_crc32c(0, blk) {
                return denc::invalid("BitVector", "incorrect data CRC");
            }
        }
        Ok(BitVector { len, data, crcs: true })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Byte-exact against Ceph's encoding (example from `bit_vector.hpp`'s
    /// layout with Ceph's crc32c): states [1,0,0,3,2] with CRCs.
    #[test]
    fn bitvector_matches_cephs_bytes() {
        let mut m = BitVector { crcs: true, ..Default::default() };
        m.resize(5);
        for (i, s) in [1u8, 0, 0, 3, 2].into_iter().enumerate() {
            m.set(i as u64, s);
        }
        let want = "0e000000010108000000050000000000000043800c0000001845968201000000e5550649";
        let got: String = m.encode().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(got, want);
        assert_eq!(BitVector::decode(m.encode()).unwrap(), m);
        let empty = BitVector { crcs: true, ..Default::default() };
        let got: String = empty.encode().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(got, "0e000000010108000000000000000000000008000000".to_string() + "52bab7ea" + "00000000");
    }

    proptest! {
        #[test]
        fn hostile_object_maps_fail_cleanly(b in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = BitVector::decode(Bytes::from(b));
        }

        #[test]
        fn object_maps_round_trip(states in proptest::collection::vec(0u8..4, 0..20000), crcs in any::<bool>()) {
            let mut m = BitVector { crcs, ..Default::default() };
            m.resize(states.len() as u64);
            for (i, s) in states.iter().enumerate() {
                m.set(i as u64, *s);
            }
            let d = BitVector::decode(m.encode()).unwrap();
            prop_assert_eq!(&d, &m);
            for (i, s) in states.iter().enumerate() {
                prop_assert_eq!(d.get(i as u64), *s);
            }
        }
    }
}
