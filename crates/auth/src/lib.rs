//! cephx (`src/auth/cephx/`): keys, the AES-CBC envelope every cephx struct travels
//! in, tickets and authorizers, and the client's side of the protocol.
//! All cryptography comes from RustCrypto crates.

pub mod caps;
pub mod client;
pub mod crypto;
pub mod proto;
pub mod server;

pub use client::{CephxClient, ServiceTicket};
pub use crypto::CryptoKey;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Decode(#[from] denc::Error),
    #[error("bad key: {0}")]
    BadKey(String),
    #[error("decryption failed (wrong key?)")]
    Decrypt,
    #[error("cephx: {0}")]
    Protocol(String),
}

pub type Result<T> = std::result::Result<T, Error>;

/// Auth methods (`CEPH_AUTH_*`).
pub const AUTH_NONE: u32 = 1;
pub const AUTH_CEPHX: u32 = 2;

/// Connection modes offered in AUTH_REQUEST.
pub const CON_MODE_CRC: u32 = 1;
pub const CON_MODE_SECURE: u32 = 2;

/// `AUTH_MODE_*` first byte of an AUTH_REQUEST payload.
pub const AUTH_MODE_AUTHORIZER: u8 = 1;
pub const AUTH_MODE_MON: u8 = 10;

/// Parses `ms_*_mode` values ("secure crc") into con-mode numbers, in order.
pub fn parse_con_modes(v: &str) -> Vec<u32> {
    v.split([',', ' ', ';', '\t'])
        .filter_map(|m| match m {
            "crc" => Some(CON_MODE_CRC),
            "secure" => Some(CON_MODE_SECURE),
            _ => None,
        })
        .collect()
}
