//! Ceph's messenger v2 (msgr2.1) on tokio.
//!
//! * [`frame`]: frame layout in crc and secure (AES-128-GCM) modes.
//! * [`conn`]: the client side of a session: banner, HELLO, cephx inside AUTH
//!   frames, the pre-auth signatures, IDENT, then MESSAGE/ACK/KEEPALIVE traffic.
//!
//! A session runs as two tasks (reader, writer) joined by channels, so no lock
//! is ever held across an await and payloads move as `Bytes` without copies.

pub mod conn;
pub mod crc;
pub mod frame;
pub mod server;

pub use conn::{connect, ClientAuth, ConnectOptions, Connection, Incoming};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("protocol error: {0}")]
    Protocol(String),
    #[error("{0}")]
    Decode(#[from] denc::Error),
    #[error("authentication failed: {0}")]
    Auth(String),
    /// The server refused our credentials (AUTH_BAD_METHOD or a failed cephx step).
    #[error("{reason}")]
    AuthRejected { errno: i32, reason: String },
    #[error("connection closed")]
    Closed,
}

impl From<auth::Error> for Error {
    fn from(e: auth::Error) -> Self {
        Error::Auth(e.to_string())
    }
}

pub type Result<T> = std::result::Result<T, Error>;

/// msgr2 banner feature bits (separate from CEPH_FEATURE_*).
pub const MSGR2_FEATURE_REVISION_1: u64 = 1;
pub const BANNER_MAGIC: &[u8; 8] = b"ceph v2\n";
