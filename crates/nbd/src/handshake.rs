//! The server's side of the fixed-newstyle handshake, for clients that
//! connect over a socket (qemu, nbd-client). The kernel, given a socket
//! through netlink, skips it.

use crate::server::ServeError;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

pub const NBDMAGIC: u64 = 0x4e42_444d_4147_4943; // "NBDMAGIC"
pub const IHAVEOPT: u64 = 0x4948_4156_454f_5054; // "IHAVEOPT"
pub const OPTION_REPLY_MAGIC: u64 = 0x0003_e889_0455_65a9;

pub const FLAG_FIXED_NEWSTYLE: u16 = 1 << 0;
pub const FLAG_NO_ZEROES: u16 = 1 << 1;

pub mod opt {
    pub const EXPORT_NAME: u32 = 1;
    pub const ABORT: u32 = 2;
    pub const LIST: u32 = 3;
    pub const INFO: u32 = 6;
    pub const GO: u32 = 7;
}

pub mod rep {
    pub const ACK: u32 = 1;
    pub const SERVER: u32 = 2;
    pub const INFO: u32 = 3;
    pub const ERR_UNSUP: u32 = (1 << 31) + 1;
    pub const ERR_INVALID: u32 = (1 << 31) + 3;
}

const INFO_EXPORT: u16 = 0;
const INFO_BLOCK_SIZE: u16 = 3;
/// Longest option payload read (names are at most 4 KiB by the spec).
const MAX_OPTION: u32 = 64 << 10;

async fn option_reply<S: AsyncWrite + Unpin>(s: &mut S, option: u32, kind: u32, data: &[u8]) -> Result<(), ServeError> {
    let mut b = Vec::with_capacity(20 + data.len());
    b.extend_from_slice(&OPTION_REPLY_MAGIC.to_be_bytes());
    b.extend_from_slice(&option.to_be_bytes());
    b.extend_from_slice(&kind.to_be_bytes());
    b.extend_from_slice(&(data.len() as u32).to_be_bytes());
    b.extend_from_slice(data);
    s.write_all(&b).await?;
    Ok(())
}

/// Parses an INFO/GO payload: the export name (u32 length, bytes), then a
/// u16 count of info requests. Returns the name, or None when malformed.
fn parse_info_request(d: &[u8]) -> Option<String> {
    let n = u32::from_be_bytes(d.get(0..4)?.try_into().ok()?) as usize;
    let name = d.get(4..4usize.checked_add(n)?)?;
    let rest = &d[4 + n..];
    let count = u16::from_be_bytes(rest.get(0..2)?.try_into().ok()?) as usize;
    if rest.len() != 2 + 2 * count {
        return None;
    }
    Some(String::from_utf8_lossy(name).into_owned())
}

/// Runs the handshake for the one export this server has (any name is
/// taken). Returns once the client enters the transmission phase; an
/// aborted or broken handshake is an error.
pub async fn negotiate<S>(s: &mut S, size: u64, transmission_flags: u16) -> Result<(), ServeError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut hello = Vec::with_capacity(18);
    hello.extend_from_slice(&NBDMAGIC.to_be_bytes());
    hello.extend_from_slice(&IHAVEOPT.to_be_bytes());
    hello.extend_from_slice(&(FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES).to_be_bytes());
    s.write_all(&hello).await?;
    let client = s.read_u32().await?;
    if client & !((FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES) as u32) != 0 {
        return Err(ServeError::Protocol(format!("unknown client flags {client:#x}")));
    }
    let no_zeroes = client & FLAG_NO_ZEROES as u32 != 0;
    loop {
        let magic = s.read_u64().await?;
        if magic != IHAVEOPT {
            return Err(ServeError::Protocol(format!("bad option magic {magic:#x}")));
        }
        let option = s.read_u32().await?;
        let len = s.read_u32().await?;
        if len > MAX_OPTION {
            return Err(ServeError::Protocol(format!("option {option} of {len} bytes")));
        }
        let mut data = vec![0u8; len as usize];
        s.read_exact(&mut data).await?;
        match option {
            opt::EXPORT_NAME => {
                let mut b = Vec::with_capacity(10 + 124);
                b.extend_from_slice(&size.to_be_bytes());
                b.extend_from_slice(&transmission_flags.to_be_bytes());
                if !no_zeroes {
                    b.extend_from_slice(&[0u8; 124]);
                }
                s.write_all(&b).await?;
                return Ok(());
            }
            opt::ABORT => {
                let _ = option_reply(s, option, rep::ACK, &[]).await;
                return Err(ServeError::Protocol("the client aborted the handshake".into()));
            }
            opt::LIST => {
                if !data.is_empty() {
                    option_reply(s, option, rep::ERR_INVALID, &[]).await?;
                    continue;
                }
                // the one export, named ""
                option_reply(s, option, rep::SERVER, &0u32.to_be_bytes()).await?;
                option_reply(s, option, rep::ACK, &[]).await?;
            }
            opt::INFO | opt::GO => {
                if parse_info_request(&data).is_none() {
                    option_reply(s, option, rep::ERR_INVALID, &[]).await?;
                    continue;
                }
                let mut export = Vec::with_capacity(12);
                export.extend_from_slice(&INFO_EXPORT.to_be_bytes());
                export.extend_from_slice(&size.to_be_bytes());
                export.extend_from_slice(&transmission_flags.to_be_bytes());
                option_reply(s, option, rep::INFO, &export).await?;
                let mut bs = Vec::with_capacity(14);
                bs.extend_from_slice(&INFO_BLOCK_SIZE.to_be_bytes());
                bs.extend_from_slice(&1u32.to_be_bytes()); // minimum
                bs.extend_from_slice(&4096u32.to_be_bytes()); // preferred
                bs.extend_from_slice(&crate::server::MAX_PAYLOAD.to_be_bytes()); // maximum
                option_reply(s, option, rep::INFO, &bs).await?;
                option_reply(s, option, rep::ACK, &[]).await?;
                if option == opt::GO {
                    return Ok(());
                }
            }
            // STARTTLS, structured replies, metadata contexts, ...: not offered
            _ => option_reply(s, option, rep::ERR_UNSUP, &[]).await?,
        }
    }
}
