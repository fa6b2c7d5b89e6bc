//! Ceph's admin socket (`ceph daemon NAME ...`, `ceph --admin-daemon PATH
//! ...`): a Unix socket taking one JSON command per connection, ended by
//! `\0` or `\n`, answered with a big-endian u32 length and the output
//! (`AdminSocket::do_accept` in Ceph). A failed command's output starts
//! with `ERROR: (N) text\n` and its message: the wire has no return code.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};

/// A command's result: (r, message, output), as a tell reply.
pub type Reply = (i32, String, Vec<u8>);
pub type Handler = Arc<dyn Fn(String) -> Pin<Box<dyn Future<Output = Reply> + Send>> + Send + Sync>;

/// Ceph's request limit: longer requests are dropped unanswered.
const MAX_REQUEST: usize = 1024;
/// What `{"prefix": "0"}` answers (`CEPH_ADMIN_SOCK_VERSION`).
const VERSION: &[u8] = b"2";

/// The socket's path for a daemon: `admin_socket`, else Ceph's daemon
/// default `$run_dir/$cluster-$name.asok` (`run_dir` defaults to
/// /var/run/ceph). None when set to empty.
pub fn path(cfg: &config::Config) -> Option<PathBuf> {
    match cfg.get("admin_socket") {
        Some(p) if p.is_empty() => None,
        Some(p) => Some(PathBuf::from(p)),
        None => {
            let run_dir = cfg.get("run_dir").unwrap_or_else(|| "/var/run/ceph".into());
            Some(PathBuf::from(format!("{run_dir}/{}-{}.asok", cfg.cluster, cfg.name)))
        }
    }
}

/// Binds the socket at `path` and serves it until the process ends. A live
/// socket already there (another daemon's) is an error; a stale one is
/// replaced, as Ceph does.
pub async fn serve(path: &Path, handler: Handler) -> Result<(), String> {
    let refuse = |e: std::io::Error| format!("failed to bind the UNIX domain socket to '{}': {e}", path.display());
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let listener = match UnixListener::bind(path) {
        Ok(l) => l,
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
            if ping(path).await {
                return Err(refuse(std::io::Error::from_raw_os_error(EEXIST)));
            }
            std::fs::remove_file(path).map_err(refuse)?;
            UnixListener::bind(path).map_err(refuse)?
        }
        Err(e) => return Err(refuse(e)),
    };
    let busy = Arc::new(tokio::sync::Semaphore::new(MAX_CLIENTS));
    tokio::spawn(async move {
        loop {
            let s = match listener.accept().await {
                Ok((s, _)) => s,
                Err(e) => {
                    // Out of descriptors, say: wait rather than spin.
                    tracing::warn!("admin socket: accept failed: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            };
            let Ok(slot) = busy.clone().acquire_owned().await else { return };
            let h = handler.clone();
            tokio::spawn(async move {
                let _ = tokio::time::timeout(REQUEST_TIMEOUT, answer(s, h)).await;
                drop(slot);
            });
        }
    });
    Ok(())
}

/// Connections served at once; more wait to be accepted.
const MAX_CLIENTS: usize = 16;
/// A client must send its request within READ_TIMEOUT; the whole exchange,
/// running the command included (bench keeps to 30 s by its own limits),
/// within REQUEST_TIMEOUT.
const READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

const EEXIST: i32 = 17;

/// Whether a daemon answers on `path`.
async fn ping(path: &Path) -> bool {
    let t = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        let mut s = UnixStream::connect(path).await.ok()?;
        s.write_all(b"{\"prefix\": \"0\"}\0").await.ok()?;
        let mut out = Vec::new();
        s.read_to_end(&mut out).await.ok()?;
        Some(!out.is_empty())
    });
    matches!(t.await, Ok(Some(true)))
}

async fn answer(mut s: UnixStream, handler: Handler) -> std::io::Result<()> {
    let Ok(req) = tokio::time::timeout(READ_TIMEOUT, read_request(&mut s)).await else { return Ok(()) };
    let Some(req) = req? else { return Ok(()) };
    let out = run(&req, &handler).await;
    s.write_all(&(out.len() as u32).to_be_bytes()).await?;
    s.write_all(&out).await?;
    s.shutdown().await
}

/// One request, or None when the client closes early or sends too much.
async fn read_request(s: &mut UnixStream) -> std::io::Result<Option<Vec<u8>>> {
    let mut req = Vec::new();
    let mut b = [0u8; 1];
    loop {
        if s.read(&mut b).await? == 0 {
            return Ok(None);
        }
        // The old protocol: a NUL, then a big-endian u32 code (0: version).
        if req.is_empty() && b[0] == 0 {
            let mut code = [0u8; 4];
            s.read_exact(&mut code).await?;
            req = match u32::from_be_bytes(code) {
                0 => br#"{"prefix": "0"}"#.to_vec(),
                1 => br#"{"prefix": "perfcounters_dump"}"#.to_vec(),
                2 => br#"{"prefix": "perfcounters_schema"}"#.to_vec(),
                _ => br#"{"prefix": "foo"}"#.to_vec(),
            };
            break;
        }
        if b[0] == 0 || b[0] == b'\n' {
            break;
        }
        req.push(b[0]);
        if req.len() >= MAX_REQUEST {
            tracing::warn!("admin socket: request too long, dropped");
            return Ok(None);
        }
    }
    Ok(Some(req))
}

/// The bytes sent back for request `req`.
async fn run(req: &[u8], handler: &Handler) -> Vec<u8> {
    let parsed = std::str::from_utf8(req).ok().and_then(|t| serde_json::from_str::<serde_json::Value>(t).ok()).filter(|v| v.is_object());
    let (r, rs, out) = match parsed {
        None => (-22, "invalid json".to_string(), Vec::new()),
        Some(v) if v.get("prefix").and_then(|p| p.as_str()) == Some("0") => return VERSION.to_vec(),
        Some(v) => handler(v.to_string()).await,
    };
    if r >= 0 {
        return out;
    }
    let mut with_error = format!("ERROR: {}\n{rs}\n", strerror(r)).into_bytes();
    with_error.extend_from_slice(&out);
    with_error
}

/// `(N) text`, as Ceph's `cpp_strerror`.
pub fn strerror(r: i32) -> String {
    let n = r.saturating_neg();
    let text = std::io::Error::from_raw_os_error(n).to_string();
    format!("({n}) {}", text.split(" (os error").next().unwrap_or(&text))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handler() -> Handler {
        Arc::new(|cmd: String| {
            Box::pin(async move {
                let v: serde_json::Value = serde_json::from_str(&cmd).unwrap();
                match v["prefix"].as_str() {
                    Some("echo") => (0, "dropped on this path".to_string(), v["what"].as_str().unwrap_or("").as_bytes().to_vec()),
                    Some(p) => (-22, format!("unknown command prefix {p}"), Vec::new()),
                    None => (-22, "unknown command prefix ".to_string(), Vec::new()),
                }
            }) as Pin<Box<dyn Future<Output = Reply> + Send>>
        })
    }

    async fn ask(path: &Path, req: &[u8]) -> Vec<u8> {
        let mut s = UnixStream::connect(path).await.unwrap();
        s.write_all(req).await.unwrap();
        let mut out = Vec::new();
        // Closing with a request unread resets the connection (as Ceph's):
        // no answer either way.
        match s.read_to_end(&mut out).await {
            Ok(_) => out,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => Vec::new(),
            Err(e) => panic!("{e}"),
        }
    }

    fn framed(b: &[u8]) -> Vec<u8> {
        let mut v = (b.len() as u32).to_be_bytes().to_vec();
        v.extend_from_slice(b);
        v
    }

    #[tokio::test]
    async fn requests_are_answered_as_cephs_admin_socket_answers() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("run/ceph-osd.0.asok");
        serve(&p, handler()).await.unwrap();
        assert_eq!(ask(&p, b"{\"prefix\": \"echo\", \"what\": \"hi\"}\0").await, framed(b"hi"));
        assert_eq!(ask(&p, b"{\"prefix\": \"echo\", \"what\": \"nl\"}\n").await, framed(b"nl"));
        assert_eq!(ask(&p, b"{\"prefix\":\"0\"}\0").await, framed(b"2"));
        assert_eq!(ask(&p, &[0, 0, 0, 0, 0]).await, framed(b"2"));
        // Byte for byte what a real OSD sends (Pacific 16.2.15).
        assert_eq!(ask(&p, b"{\"prefix\":\"nonexistent\"}\0").await, framed(b"ERROR: (22) Invalid argument\nunknown command prefix nonexistent\n"));
        assert_eq!(ask(&p, b"notjson\0").await, framed(b"ERROR: (22) Invalid argument\ninvalid json\n"));
        // Too long, or no end: no answer.
        assert_eq!(ask(&p, &[b'x'; 1100]).await, b"");
        // A second daemon with the same socket path is refused while the
        // first lives; a stale file is replaced.
        let e = serve(&p, handler()).await.unwrap_err();
        assert!(e.ends_with("(os error 17)") || e.contains("File exists"), "{e}");
        let stale = dir.path().join("stale.asok");
        drop(std::os::unix::net::UnixListener::bind(&stale).unwrap());
        serve(&stale, handler()).await.unwrap();
        assert_eq!(ask(&stale, b"{\"prefix\":\"0\"}\0").await, framed(b"2"));
    }

    #[test]
    fn strerror_is_cephs() {
        assert_eq!(strerror(-22), "(22) Invalid argument");
        assert_eq!(strerror(-2), "(2) No such file or directory");
        assert_eq!(strerror(-1), "(1) Operation not permitted");
    }
}
