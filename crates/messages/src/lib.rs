//! Ceph messages. [`RawMessage`] is what travels in a msgr2 MESSAGE frame
//! (header, front, middle, data); each typed message implements [`Message`] to
//! turn itself into and out of a raw one.

pub mod mon;
pub mod osd;
pub mod osd_peer;
pub mod osd_mon;
pub mod header;

pub use header::MsgHeader;

use bytes::Bytes;
use denc::Result;

/// A message as framed on the wire: `ceph_msg_header2` plus three payloads.
#[derive(Debug, Clone, Default)]
pub struct RawMessage {
    pub header: MsgHeader,
    pub front: Bytes,
    pub middle: Bytes,
    pub data: Bytes,
}

/// A typed Ceph message (`src/messages/M*.h`).
pub trait Message: Sized {
    /// `CEPH_MSG_*` / `MSG_*` type number.
    const TYPE: u16;
    /// HEAD_VERSION and COMPAT_VERSION of the encoding we write.
    const VERSION: u16;
    const COMPAT: u16;
    /// Default priority (`CEPH_MSG_PRIO_DEFAULT` = 127).
    const PRIORITY: u16 = 127;

    /// `encode_payload(features)`: front, and data when the message has one.
    fn encode_payload(&self, features: u64) -> (Bytes, Bytes);
    /// `decode_payload()` given the header version.
    fn decode_payload(version: u16, front: Bytes, data: Bytes) -> Result<Self>;

    fn to_raw(&self, tid: u64, features: u64) -> RawMessage {
        let (front, data) = self.encode_payload(features);
        RawMessage {
            header: MsgHeader {
                tid,
                ty: Self::TYPE,
                priority: Self::PRIORITY,
                version: Self::VERSION,
                // Message::encode: an unset compat_version goes out as the version.
                compat_version: if Self::COMPAT == 0 { Self::VERSION } else { Self::COMPAT },
                ..Default::default()
            },
            front,
            middle: Bytes::new(),
            data,
        }
    }

    fn from_raw(m: &RawMessage) -> Result<Self> {
        if m.header.ty != Self::TYPE {
            return denc::invalid("message", format!("type {} is not {}", m.header.ty, Self::TYPE));
        }
        Self::decode_payload(m.header.version, m.front.clone(), m.data.clone())
    }
}

/// `CEPH_MSG_*` numbers we route on.
pub mod types {
    pub const MON_MAP: u16 = 4;
    pub const MON_GET_MAP: u16 = 5;
    pub const STATFS: u16 = 13;
    pub const MON_SUBSCRIBE: u16 = 15;
    pub const MON_SUBSCRIBE_ACK: u16 = 16;
    pub const AUTH: u16 = 17;
    pub const AUTH_REPLY: u16 = 18;
    pub const MON_GET_VERSION: u16 = 19;
    pub const MON_GET_VERSION_REPLY: u16 = 20;
    pub const OSD_MAP: u16 = 41;
    pub const MON_COMMAND: u16 = 50;
    pub const MON_COMMAND_ACK: u16 = 51;
    pub const LOG: u16 = 52;
    pub const CONFIG: u16 = 62;
    pub const COMMAND: u16 = 97;
    pub const COMMAND_REPLY: u16 = 98;
    pub const MGR_MAP: u16 = 0x704;
    pub const MGR_COMMAND: u16 = 0x709;
    pub const MGR_COMMAND_REPLY: u16 = 0x70a;
}
