//! The transmission phase: requests in, replies out (simple replies only;
//! structured replies are never negotiated). Requests run concurrently, as
//! the kernel keeps many in flight; replies go out as they complete.

use bytes::{BufMut, Bytes, BytesMut};
use std::future::Future;
use std::io;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, Notify, OwnedSemaphorePermit, Semaphore};

pub const REQUEST_MAGIC: u32 = 0x2560_9513;
pub const SIMPLE_REPLY_MAGIC: u32 = 0x6744_6698;

pub mod cmd {
    pub const READ: u16 = 0;
    pub const WRITE: u16 = 1;
    pub const DISC: u16 = 2;
    pub const FLUSH: u16 = 3;
    pub const TRIM: u16 = 4;
    pub const WRITE_ZEROES: u16 = 6;
    /// Command flag: the write is durable before the reply.
    pub const FLAG_FUA: u16 = 1 << 0;
}

/// Error numbers NBD defines (Linux values).
mod errno {
    pub const EPERM: u32 = 1;
    pub const EIO: u32 = 5;
    pub const ENOMEM: u32 = 12;
    pub const EINVAL: u32 = 22;
    pub const ENOSPC: u32 = 28;
    pub const EOVERFLOW: u32 = 75;
    pub const ENOTSUP: u32 = 95;
}

/// Largest read or write payload accepted (qemu's own limit); a larger
/// write ends the connection since its payload cannot be skipped safely.
pub const MAX_PAYLOAD: u32 = 32 << 20;
/// Requests served at once (the kernel's default queue depth).
const MAX_IN_FLIGHT: usize = 128;

/// A block device served over NBD. Offsets and lengths are checked against
/// `size` before any call.
pub trait Export: Send + Sync + 'static {
    fn size(&self) -> u64;
    fn read_only(&self) -> bool;
    fn read(&self, off: u64, len: u32) -> impl Future<Output = io::Result<Bytes>> + Send;
    fn write(&self, off: u64, data: Bytes) -> impl Future<Output = io::Result<()>> + Send;
    /// Every write replied to so far is durable once this returns.
    fn flush(&self) -> impl Future<Output = io::Result<()>> + Send;
    fn trim(&self, off: u64, len: u32) -> impl Future<Output = io::Result<()>> + Send;
    fn write_zeroes(&self, off: u64, len: u32) -> impl Future<Output = io::Result<()>> + Send;
}

#[derive(Debug)]
pub enum ServeError {
    Io(io::Error),
    /// The peer broke the protocol; the connection is closed.
    Protocol(String),
}

impl std::fmt::Display for ServeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ServeError::Io(e) => write!(f, "nbd connection: {e}"),
            ServeError::Protocol(m) => write!(f, "nbd protocol error: {m}"),
        }
    }
}

impl std::error::Error for ServeError {}

impl From<io::Error> for ServeError {
    fn from(e: io::Error) -> Self {
        ServeError::Io(e)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request {
    pub flags: u16,
    pub kind: u16,
    pub handle: u64,
    pub offset: u64,
    pub length: u32,
}

impl Request {
    pub const LEN: usize = 28;

    pub fn parse(b: &[u8; Self::LEN]) -> Result<Request, ServeError> {
        let magic = u32::from_be_bytes(b[0..4].try_into().expect("4 bytes"));
        if magic != REQUEST_MAGIC {
            return Err(ServeError::Protocol(format!("bad request magic {magic:#x}")));
        }
        Ok(Request {
            flags: u16::from_be_bytes([b[4], b[5]]),
            kind: u16::from_be_bytes([b[6], b[7]]),
            handle: u64::from_be_bytes(b[8..16].try_into().expect("8 bytes")),
            offset: u64::from_be_bytes(b[16..24].try_into().expect("8 bytes")),
            length: u32::from_be_bytes(b[24..28].try_into().expect("4 bytes")),
        })
    }
}

struct Reply {
    handle: u64,
    error: u32,
    data: Bytes,
    _slot: OwnedSemaphorePermit,
}

fn errno_of(e: &io::Error) -> u32 {
    match e.raw_os_error().map(|n| n as u32) {
        Some(n @ (errno::EPERM | errno::EIO | errno::ENOMEM | errno::EINVAL | errno::ENOSPC | errno::EOVERFLOW | errno::ENOTSUP)) => n,
        _ => errno::EIO,
    }
}

/// Why a request cannot run, checked before the export sees it.
fn refuse(r: &Request, size: u64, read_only: bool) -> Option<u32> {
    let writes = matches!(r.kind, cmd::WRITE | cmd::TRIM | cmd::WRITE_ZEROES);
    if writes && read_only {
        return Some(errno::EPERM);
    }
    match r.kind {
        cmd::READ | cmd::WRITE | cmd::TRIM | cmd::WRITE_ZEROES => {
            if r.kind == cmd::READ && r.length > MAX_PAYLOAD {
                return Some(errno::EINVAL);
            }
            match r.offset.checked_add(r.length as u64) {
                Some(end) if end <= size => None,
                _ if matches!(r.kind, cmd::WRITE | cmd::WRITE_ZEROES) => Some(errno::ENOSPC),
                _ => Some(errno::EINVAL),
            }
        }
        cmd::FLUSH => None,
        _ => Some(errno::EINVAL),
    }
}

async fn run<E: Export>(export: &E, r: Request, payload: Bytes) -> io::Result<Bytes> {
    let fua = r.flags & cmd::FLAG_FUA != 0;
    match r.kind {
        cmd::READ => export.read(r.offset, r.length).await,
        cmd::WRITE => {
            export.write(r.offset, payload).await?;
            if fua {
                export.flush().await?;
            }
            Ok(Bytes::new())
        }
        cmd::WRITE_ZEROES => {
            export.write_zeroes(r.offset, r.length).await?;
            if fua {
                export.flush().await?;
            }
            Ok(Bytes::new())
        }
        cmd::TRIM => export.trim(r.offset, r.length).await.map(|_| Bytes::new()),
        cmd::FLUSH => export.flush().await.map(|_| Bytes::new()),
        _ => Err(io::Error::from_raw_os_error(errno::EINVAL as i32)),
    }
}

/// Serves `export` on a connection in the transmission phase (after the
/// handshake, or handed to the kernel) until the peer disconnects. Every
/// request in flight is answered before it returns.
pub async fn serve<S, E>(stream: S, export: Arc<E>) -> Result<(), ServeError>
where
    S: AsyncRead + AsyncWrite + Send + 'static,
    E: Export,
{
    serve_until(stream, export, std::future::pending()).await
}

/// As `serve`, but stops taking requests when `stop` completes (e.g. on
/// SIGTERM); what is in flight is still answered. On return no request
/// task holds `export` any more.
pub async fn serve_until<S, E>(stream: S, export: Arc<E>, stop: impl Future<Output = ()>) -> Result<(), ServeError>
where
    S: AsyncRead + AsyncWrite + Send + 'static,
    E: Export,
{
    let (mut rd, mut wr) = tokio::io::split(stream);
    let (tx, mut rx) = mpsc::unbounded_channel::<Reply>();
    let writer_gone = Arc::new(Notify::new());
    let gone = writer_gone.clone();
    let writer = tokio::spawn(async move {
        let r = async {
            while let Some(r) = rx.recv().await {
                let small = r.data.len() <= 64 << 10;
                let mut head = BytesMut::with_capacity(16 + if small { r.data.len() } else { 0 });
                head.put_u32(SIMPLE_REPLY_MAGIC);
                head.put_u32(r.error);
                head.put_u64(r.handle);
                if small {
                    head.put_slice(&r.data);
                    wr.write_all(&head).await?;
                } else {
                    wr.write_all(&head).await?;
                    wr.write_all(&r.data).await?;
                }
                // the request's slot is free once its reply is out
                drop(r);
            }
            wr.flush().await
        }
        .await;
        gone.notify_one();
        r
    });
    // Slots bound the requests between being read and their reply being
    // written, so a peer that does not read replies cannot make us queue
    // unbounded data.
    let slots = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let (size, read_only) = (export.size(), export.read_only());
    tokio::pin!(stop);
    let result = loop {
        let mut b = [0u8; Request::LEN];
        tokio::select! {
            r = rd.read_exact(&mut b) => match r {
                Ok(_) => {}
                // the peer went away without NBD_CMD_DISC
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => break Ok(()),
                Err(e) => break Err(e.into()),
            },
            _ = writer_gone.notified() => break Ok(()),
            _ = &mut stop => break Ok(()),
        }
        let r = match Request::parse(&b) {
            Ok(r) => r,
            Err(e) => break Err(e),
        };
        if r.kind == cmd::DISC {
            break Ok(());
        }
        let mut payload = Bytes::new();
        if r.kind == cmd::WRITE {
            if r.length > MAX_PAYLOAD {
                break Err(ServeError::Protocol(format!("write of {} bytes exceeds the {MAX_PAYLOAD}-byte limit", r.length)));
            }
            let mut buf = BytesMut::zeroed(r.length as usize);
            if let Err(e) = rd.read_exact(&mut buf).await {
                break Err(e.into());
            }
            payload = buf.freeze();
        }
        let slot = slots.clone().acquire_owned().await.expect("semaphore open");
        if let Some(error) = refuse(&r, size, read_only) {
            let _ = tx.send(Reply { handle: r.handle, error, data: Bytes::new(), _slot: slot });
            continue;
        }
        let (export, tx) = (export.clone(), tx.clone());
        tokio::spawn(async move {
            let (error, data) = match run(&*export, r, payload).await {
                // a read of another length would desynchronise the stream
                Ok(data) if r.kind == cmd::READ && data.len() != r.length as usize => {
                    tracing::error!(offset = r.offset, length = r.length, got = data.len(), "the export returned a read of the wrong length");
                    (errno::EIO, Bytes::new())
                }
                Ok(data) => (0, data),
                Err(e) => {
                    tracing::warn!(kind = r.kind, offset = r.offset, length = r.length, "nbd request failed: {e}");
                    (errno_of(&e), Bytes::new())
                }
            };
            // let go of the export before the slot: once every slot is back,
            // no task holds it
            drop(export);
            let _ = tx.send(Reply { handle: r.handle, error, data, _slot: slot });
        });
    };
    // Answer what is in flight (or drop it, if the writer is gone), then close.
    let _ = slots.acquire_many(MAX_IN_FLIGHT as u32).await;
    drop(tx);
    match writer.await {
        Ok(Ok(())) => result,
        Ok(Err(e)) => result.and(Err(e.into())),
        Err(e) => result.and(Err(ServeError::Protocol(format!("reply writer failed: {e}")))),
    }
}
