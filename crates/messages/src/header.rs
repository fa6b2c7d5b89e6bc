use bytes::{BufMut, Bytes, BytesMut};
use denc::{Reader, Result};

/// `ceph_msg_header2` (`src/include/msgr.h`): 41 packed bytes at the start of
/// every msgr2 MESSAGE frame. The source entity comes from the session, not here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MsgHeader {
    pub seq: u64,
    pub tid: u64,
    pub ty: u16,
    pub priority: u16,
    pub version: u16,
    pub data_pre_padding_len: u32,
    pub data_off: u16,
    pub ack_seq: u64,
    pub flags: u8,
    pub compat_version: u16,
    pub reserved: u16,
}

impl Default for MsgHeader {
    fn default() -> Self {
        MsgHeader {
            seq: 0,
            tid: 0,
            ty: 0,
            priority: 127,
            version: 1,
            data_pre_padding_len: 0,
            data_off: 0,
            ack_seq: 0,
            // CEPH_MSG_FOOTER_COMPLETE | CEPH_MSG_FOOTER_NOCRC, as real peers send.
            flags: 3,
            compat_version: 1,
            reserved: 0,
        }
    }
}

impl MsgHeader {
    pub const LEN: usize = 41;

    pub fn encode(&self) -> Bytes {
        let mut b = BytesMut::with_capacity(Self::LEN);
        b.put_u64_le(self.seq);
        b.put_u64_le(self.tid);
        b.put_u16_le(self.ty);
        b.put_u16_le(self.priority);
        b.put_u16_le(self.version);
        b.put_u32_le(self.data_pre_padding_len);
        b.put_u16_le(self.data_off);
        b.put_u64_le(self.ack_seq);
        b.put_u8(self.flags);
        b.put_u16_le(self.compat_version);
        b.put_u16_le(self.reserved);
        b.freeze()
    }

    pub fn decode(b: Bytes) -> Result<MsgHeader> {
        let mut r = Reader::new(b);
        let h = MsgHeader {
            seq: r.u64()?,
            tid: r.u64()?,
            ty: r.u16()?,
            priority: r.u16()?,
            version: r.u16()?,
            data_pre_padding_len: r.u32()?,
            data_off: r.u16()?,
            ack_seq: r.u64()?,
            flags: r.u8()?,
            compat_version: r.u16()?,
            reserved: r.u16()?,
        };
        r.finish("ceph_msg_header2")?;
        Ok(h)
    }
}
