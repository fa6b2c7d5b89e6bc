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

/// Walks a map forward with an MOSDMap, epoch by epoch: an incremental
/// applies to the map we have, a full map replaces it, and a gap we cannot
/// bridge jumps to the newest full map the message has. Returns the new map
/// if it changed, and whether the message left us behind its newest epoch
/// (the caller then asks for what follows).
pub fn advance_osdmap(current: Option<&maps::OsdMap>, msg: &messages::mon::OsdMapMsg) -> (Option<maps::OsdMap>, bool) {
    advance_osdmap_each(current, msg, |_, _| {})
}

/// As `advance_osdmap`, calling `each` with every map it passes through on
/// the way to the newest (the newest included), so that a change undone
/// within one batch of maps is still seen; its flag says epochs before that
/// map were skipped (a jump to a full map), so anything may have changed.
pub fn advance_osdmap_each(current: Option<&maps::OsdMap>, msg: &messages::mon::OsdMapMsg, mut each: impl FnMut(&maps::OsdMap, bool)) -> (Option<maps::OsdMap>, bool) {
    use denc::Decode;
    let mut map: Option<maps::OsdMap> = current.cloned();
    let cur = map.as_ref().map(|m| m.epoch).unwrap_or(0);
    let first = msg.incremental_maps.keys().chain(msg.maps.keys()).min().copied().unwrap_or(0);
    let mut e = if cur == 0 { first } else { cur + 1 };
    let mut changed = false;
    while e <= msg.newest_map {
        if let (Some(m), Some(bl)) = (map.as_mut(), msg.incremental_maps.get(&e)) {
            match maps::Incremental::from_bytes(bl.clone()).map_err(|x| x.to_string()).and_then(|inc| m.apply_incremental(&inc)) {
                Ok(()) => {
                    changed = true;
                    each(m, false);
                    e += 1;
                    continue;
                }
                Err(err) => tracing::warn!(epoch = e, "cannot apply incremental osdmap: {err}"),
            }
        }
        let full = msg.maps.get(&e).map(|bl| (e, bl)).or_else(|| msg.maps.range(e..).next_back().map(|(k, v)| (*k, v)));
        match full.map(|(k, bl)| (k, maps::OsdMap::from_bytes(bl.clone()))) {
            Some((k, Ok(m))) => {
                each(&m, cur != 0 && k > e);
                map = Some(m);
                changed = true;
                e = k;
            }
            Some((k, Err(err))) => {
                tracing::warn!(epoch = k, "cannot decode osdmap: {err}");
                break;
            }
            None => break,
        }
        e += 1;
    }
    let now = map.as_ref().map(|m| m.epoch).unwrap_or(0);
    (if changed { map } else { None }, msg.newest_map > now)
}
