//! MonClient (`src/mon/MonClient.cc`): finds a monitor among `mon_host`
//! (hunting), authenticates with cephx, keeps the maps it subscribed to, runs
//! mon commands and mgr commands, renews tickets, and re-hunts when its mon goes
//! away, resending what was in flight.
//!
//! One background task owns the mon session; callers talk to it through a
//! channel, and read maps from `watch` channels, so no lock is held across an
//! await.

mod client;
mod mgr;

pub use client::{secs, MonClient, MonClientOptions};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Could not reach or authenticate to any monitor in time.
    #[error("timed out")]
    TimedOut,
    /// The monitors refused our credentials.
    #[error("permission denied: {0}")]
    PermissionDenied(String),
    #[error("{0}")]
    Config(String),
    #[error("{0}")]
    Msgr(#[from] msgr::Error),
    #[error("{0}")]
    Decode(#[from] denc::Error),
    #[error("the MonClient is shut down")]
    Shutdown,
    #[error("{0}")]
    Other(String),
}

impl Error {
    /// The errno a librados caller would see (`rados_connect` and friends).
    pub fn errno(&self) -> i32 {
        match self {
            Error::TimedOut => 110,
            Error::PermissionDenied(_) => 13,
            Error::Config(_) => 2,
            _ => 5,
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;

/// The reply to a mon or mgr command.
#[derive(Debug, Clone, Default)]
pub struct CommandReply {
    pub r: i32,
    pub rs: String,
    pub outbl: bytes::Bytes,
}
