//! The kernel's nbd driver configured through its generic-netlink family
//! ("nbd", linux/nbd-netlink.h), as rbd-nbd does: CONNECT hands the kernel
//! our end of a socket pair and returns the device index (`/dev/nbdN`),
//! DISCONNECT lets it go. Only the few messages nbd needs are built here.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

const NETLINK_GENERIC: i32 = 16;
const GENL_ID_CTRL: u16 = 0x10;
const CTRL_CMD_GETFAMILY: u8 = 3;
const CTRL_ATTR_FAMILY_ID: u16 = 1;
const CTRL_ATTR_FAMILY_NAME: u16 = 2;
const NLMSG_ERROR: u16 = 2;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_ACK: u16 = 4;
const NLA_F_NESTED: u16 = 1 << 15;
const NLA_TYPE_MASK: u16 = !(3 << 14);
const NLMSG_HDRLEN: usize = 16;
const GENL_HDRLEN: usize = 4;

const NBD_GENL_VERSION: u8 = 1;
const NBD_CMD_CONNECT: u8 = 1;
const NBD_CMD_DISCONNECT: u8 = 2;
const NBD_ATTR_INDEX: u16 = 1;
const NBD_ATTR_SIZE_BYTES: u16 = 2;
const NBD_ATTR_BLOCK_SIZE_BYTES: u16 = 3;
const NBD_ATTR_TIMEOUT: u16 = 4;
const NBD_ATTR_SERVER_FLAGS: u16 = 5;
const NBD_ATTR_SOCKETS: u16 = 7;
const NBD_SOCK_ITEM: u16 = 1;
const NBD_SOCK_FD: u16 = 1;

/// The block size rbd-nbd gives the kernel.
pub const BLOCK_SIZE: u64 = 512;

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// One generic-netlink request being built.
pub struct Message {
    buf: Vec<u8>,
    nests: Vec<usize>,
}

impl Message {
    pub fn new(family: u16, cmd: u8, version: u8) -> Message {
        let mut buf = vec![0u8; NLMSG_HDRLEN];
        buf[4..6].copy_from_slice(&family.to_ne_bytes());
        buf[6..8].copy_from_slice(&(NLM_F_REQUEST | NLM_F_ACK).to_ne_bytes());
        buf.extend_from_slice(&[cmd, version, 0, 0]);
        Message { buf, nests: Vec::new() }
    }

    pub fn attr(&mut self, kind: u16, payload: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(&((4 + payload.len()) as u16).to_ne_bytes());
        self.buf.extend_from_slice(&kind.to_ne_bytes());
        self.buf.extend_from_slice(payload);
        self.buf.resize(align4(self.buf.len()), 0);
        self
    }

    pub fn u32(&mut self, kind: u16, v: u32) -> &mut Self {
        self.attr(kind, &v.to_ne_bytes())
    }

    pub fn u64(&mut self, kind: u16, v: u64) -> &mut Self {
        self.attr(kind, &v.to_ne_bytes())
    }

    pub fn nest(&mut self, kind: u16) -> &mut Self {
        self.nests.push(self.buf.len());
        self.buf.extend_from_slice(&[0, 0]);
        self.buf.extend_from_slice(&(kind | NLA_F_NESTED).to_ne_bytes());
        self
    }

    pub fn end_nest(&mut self) -> &mut Self {
        let at = self.nests.pop().expect("an open nest");
        let len = (self.buf.len() - at) as u16;
        self.buf[at..at + 2].copy_from_slice(&len.to_ne_bytes());
        self
    }

    /// The message with its length and sequence number filled in.
    pub fn finish(&self, seq: u32) -> Vec<u8> {
        assert!(self.nests.is_empty(), "unclosed nest");
        let mut b = self.buf.clone();
        let len = b.len() as u32;
        b[0..4].copy_from_slice(&len.to_ne_bytes());
        b[8..12].copy_from_slice(&seq.to_ne_bytes());
        b
    }
}

/// The attributes in `b` as (type, payload); malformed tails are an error.
pub fn parse_attrs(mut b: &[u8]) -> io::Result<Vec<(u16, &[u8])>> {
    let bad = || io::Error::new(io::ErrorKind::InvalidData, "malformed netlink attribute");
    let mut out = Vec::new();
    while b.len() >= 4 {
        let len = u16::from_ne_bytes([b[0], b[1]]) as usize;
        let kind = u16::from_ne_bytes([b[2], b[3]]) & NLA_TYPE_MASK;
        if len < 4 || len > b.len() {
            return Err(bad());
        }
        out.push((kind, &b[4..len]));
        b = &b[align4(len).min(b.len())..];
    }
    if !b.is_empty() {
        return Err(bad());
    }
    Ok(out)
}

/// A generic-netlink socket to the kernel.
pub struct Genl {
    fd: OwnedFd,
    seq: u32,
}

impl Genl {
    pub fn open() -> io::Result<Genl> {
        // SAFETY: plain socket/bind calls; the fd is owned from here on.
        unsafe {
            let fd = libc::socket(libc::AF_NETLINK, libc::SOCK_RAW | libc::SOCK_CLOEXEC, NETLINK_GENERIC);
            if fd < 0 {
                return Err(io::Error::last_os_error());
            }
            let fd = OwnedFd::from_raw_fd(fd);
            let mut sa: libc::sockaddr_nl = std::mem::zeroed();
            sa.nl_family = libc::AF_NETLINK as u16;
            if libc::bind(fd.as_raw_fd(), &sa as *const _ as *const libc::sockaddr, std::mem::size_of::<libc::sockaddr_nl>() as u32) != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(Genl { fd, seq: std::process::id() })
        }
    }

    /// Sends `m` and collects the attributes of every reply until the
    /// kernel's acknowledgement; a negative ack is the error it carries.
    pub fn request(&mut self, m: &Message) -> io::Result<Vec<Vec<(u16, Vec<u8>)>>> {
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        let out = m.finish(seq);
        // SAFETY: `out` and `sa` live across the call.
        let sent = unsafe {
            let mut sa: libc::sockaddr_nl = std::mem::zeroed();
            sa.nl_family = libc::AF_NETLINK as u16;
            libc::sendto(self.fd.as_raw_fd(), out.as_ptr().cast(), out.len(), 0, &sa as *const _ as *const libc::sockaddr, std::mem::size_of::<libc::sockaddr_nl>() as u32)
        };
        if sent < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut replies = Vec::new();
        let mut buf = vec![0u8; 64 << 10];
        loop {
            // SAFETY: `buf` is writable for its length.
            let n = unsafe { libc::recv(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
            if n < 0 {
                return Err(io::Error::last_os_error());
            }
            let mut b = &buf[..n as usize];
            while b.len() >= NLMSG_HDRLEN {
                let len = u32::from_ne_bytes(b[0..4].try_into().expect("4 bytes")) as usize;
                let kind = u16::from_ne_bytes([b[4], b[5]]);
                let rseq = u32::from_ne_bytes(b[8..12].try_into().expect("4 bytes"));
                if len < NLMSG_HDRLEN || len > b.len() {
                    return Err(io::Error::new(io::ErrorKind::InvalidData, "malformed netlink message"));
                }
                let body = &b[NLMSG_HDRLEN..len];
                b = &b[align4(len).min(b.len())..];
                if rseq != seq {
                    continue;
                }
                if kind == NLMSG_ERROR {
                    let code = body.get(0..4).map(|c| i32::from_ne_bytes(c.try_into().expect("4 bytes"))).unwrap_or(-libc::EPROTO);
                    return if code == 0 { Ok(replies) } else { Err(io::Error::from_raw_os_error(-code)) };
                }
                let attrs = parse_attrs(body.get(GENL_HDRLEN..).unwrap_or_default())?;
                replies.push(attrs.into_iter().map(|(k, v)| (k, v.to_vec())).collect());
            }
        }
    }

    /// The id of a generic-netlink family; ENOENT when the kernel has none
    /// by that name (e.g. "nbd" without the nbd module).
    pub fn family_id(&mut self, name: &str) -> io::Result<u16> {
        let mut m = Message::new(GENL_ID_CTRL, CTRL_CMD_GETFAMILY, 1);
        let mut z = name.as_bytes().to_vec();
        z.push(0);
        m.attr(CTRL_ATTR_FAMILY_NAME, &z);
        for attrs in self.request(&m)? {
            if let Some((_, v)) = attrs.iter().find(|(k, _)| *k == CTRL_ATTR_FAMILY_ID) {
                if v.len() >= 2 {
                    return Ok(u16::from_ne_bytes([v[0], v[1]]));
                }
            }
        }
        Err(io::Error::new(io::ErrorKind::InvalidData, format!("no id in the kernel's answer for family {name}")))
    }
}

/// Whether this kernel has the nbd driver (its netlink family resolves).
pub fn kernel_has_nbd() -> bool {
    Genl::open().and_then(|mut g| g.family_id("nbd")).is_ok()
}

/// The CONNECT request rbd-nbd sends: size, block size, flags, optional
/// I/O timeout (seconds), and the socket the kernel sends requests on.
pub fn connect_message(family: u16, sock: RawFd, size: u64, flags: u16, io_timeout: Option<u64>) -> Message {
    let mut m = Message::new(family, NBD_CMD_CONNECT, NBD_GENL_VERSION);
    m.u64(NBD_ATTR_SIZE_BYTES, size).u64(NBD_ATTR_BLOCK_SIZE_BYTES, BLOCK_SIZE).u64(NBD_ATTR_SERVER_FLAGS, flags as u64);
    if let Some(t) = io_timeout {
        m.u64(NBD_ATTR_TIMEOUT, t);
    }
    m.nest(NBD_ATTR_SOCKETS).nest(NBD_SOCK_ITEM).u32(NBD_SOCK_FD, sock as u32).end_nest().end_nest();
    m
}

/// Gives `sock` to the kernel as a new nbd device; returns its index N
/// (`/dev/nbdN`). The kernel takes its own reference to the socket.
pub fn connect(sock: RawFd, size: u64, flags: u16, io_timeout: Option<u64>) -> io::Result<u32> {
    let mut g = Genl::open()?;
    let family = g.family_id("nbd")?;
    for attrs in g.request(&connect_message(family, sock, size, flags, io_timeout))? {
        if let Some((_, v)) = attrs.iter().find(|(k, _)| *k == NBD_ATTR_INDEX) {
            if v.len() >= 4 {
                return Ok(u32::from_ne_bytes(v[0..4].try_into().expect("4 bytes")));
            }
        }
    }
    Err(io::Error::new(io::ErrorKind::InvalidData, "the kernel did not name the nbd device it connected"))
}

/// Disconnects `/dev/nbd<index>`: the kernel fails what is queued, sends
/// NBD_CMD_DISC and closes its socket, so the server returns.
pub fn disconnect(index: u32) -> io::Result<()> {
    let mut g = Genl::open()?;
    let family = g.family_id("nbd")?;
    let mut m = Message::new(family, NBD_CMD_DISCONNECT, NBD_GENL_VERSION);
    m.u32(NBD_ATTR_INDEX, index);
    g.request(&m).map(|_| ())
}
