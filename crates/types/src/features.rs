//! `CEPH_FEATURE_*` bits (`src/include/ceph_features.h`), the ones we test for.

pub const SERVER_NAUTILUS: u64 = 1 << 2;
pub const SERVER_OCTOPUS: u64 = 1 << 16;
pub const SERVER_LUMINOUS: u64 = 1 << 21;
pub const MSG_ADDR2: u64 = 1 << 59;
pub const CEPHX_V2: u64 = 1 << 61;

/// What a Pacific 16.2 daemon or client advertises (observed in CLIENT_IDENT of
/// the real 16.2.15 client). We speak exactly the Pacific encodings, so we claim
/// exactly Pacific's bits.
pub const PACIFIC_SUPPORTED: u64 = 0x3f01_cfbd_fffd_ffff;
/// msgr2 requires only MSG_ADDR2 at the session level.
pub const MSGR2_REQUIRED: u64 = MSG_ADDR2;
