//! The server side of NBD, as `rbd-nbd` uses it to give an image a
//! `/dev/nbdN`: our process serves the transmission protocol on one end of
//! a socket pair and hands the other end to the kernel's nbd driver through
//! its generic-netlink family (`netlink`). The same server also speaks the
//! fixed-newstyle handshake (`handshake`) so that a user-space client such
//! as qemu can connect over a socket; that is how the protocol is tested on
//! hosts without the nbd module.
//!
//! Facts from the NBD protocol specification (nbd/doc/proto.md) and
//! linux/nbd.h, linux/nbd-netlink.h.

pub mod handshake;
pub mod netlink;
mod server;

pub use server::{serve, serve_until, Export, ServeError};

/// Transmission flags (the export's features), sent in the handshake or
/// given to the kernel.
pub mod flags {
    pub const HAS_FLAGS: u16 = 1 << 0;
    pub const READ_ONLY: u16 = 1 << 1;
    pub const SEND_FLUSH: u16 = 1 << 2;
    pub const SEND_FUA: u16 = 1 << 3;
    pub const SEND_TRIM: u16 = 1 << 5;
    pub const SEND_WRITE_ZEROES: u16 = 1 << 6;
    pub const CAN_MULTI_CONN: u16 = 1 << 8;
}

/// The transmission flags an export with these properties announces.
pub fn transmission_flags(read_only: bool) -> u16 {
    let mut f = flags::HAS_FLAGS | flags::SEND_FLUSH | flags::SEND_FUA | flags::SEND_TRIM | flags::SEND_WRITE_ZEROES;
    if read_only {
        f |= flags::READ_ONLY;
    }
    f
}
