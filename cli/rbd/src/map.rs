//! `rbd map`, `showmapped` and `unmap`. An image is served by a background
//! `rbd` process, as Ceph's `rbd-nbd` serves it:
//! - where the kernel has the nbd driver, through `/dev/nbdN`: the process
//!   serves NBD on one end of a socket pair whose other end the kernel is
//!   given over netlink (crate `nbd`);
//! - elsewhere (no nbd module, as on this project's test machines), through
//!   FUSE and a loop device: the process serves the image as one file on a
//!   private FUSE mount, and `losetup` turns it into `/dev/loopN`.
//! Either way `mkfs` and `mount` take the device like any disk, and writes
//! reach the cluster before they are acknowledged (no page cache between).

use crate::args::Spec;
use crate::table::Table;
use crate::{fail, fail_e, print_json, Ctx};
use fuser::{FileAttr, FileType, Filesystem, MountOption, ReplyAttr, ReplyData, ReplyDirectory, ReplyEntry, ReplyOpen, ReplyWrite, Request};
use rbd::Image;
use serde_json::{json, Value};
use std::ffi::OsStr;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

const ROOT: u64 = 1;
const FILE: u64 = 2;
const FILE_NAME: &str = "image";
/// `FOPEN_DIRECT_IO`: bypass the page cache for the image file.
const FOPEN_DIRECT_IO: u32 = 1;

fn state_dir() -> PathBuf {
    PathBuf::from(std::env::var("OXCEPH_RBD_MAP_DIR").unwrap_or_else(|_| "/run/oxceph-rbd".into()))
}

/// One mapping, as recorded in `<state dir>/<id>.json`.
#[derive(Debug, Clone)]
struct Mapping {
    id: u32,
    pool: String,
    namespace: String,
    image: String,
    snap: String,
    device: String,
    pid: u32,
}

fn load_all() -> Vec<Mapping> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(state_dir()) else { return out };
    for e in rd.flatten() {
        let p = e.path();
        if p.extension().and_then(|x| x.to_str()) != Some("json") {
            continue;
        }
        let Ok(v) = std::fs::read(&p).map(|b| serde_json::from_slice::<Value>(&b).unwrap_or(Value::Null)) else { continue };
        let s = |k: &str| v[k].as_str().unwrap_or("").to_string();
        let pid = v["pid"].as_u64().unwrap_or(0) as u32;
        // a server that died leaves its record behind; it is not mapped
        if pid == 0 || !PathBuf::from(format!("/proc/{pid}")).exists() {
            continue;
        }
        if s("device").is_empty() {
            continue;
        }
        out.push(Mapping { id: v["id"].as_u64().unwrap_or(0) as u32, pool: s("pool"), namespace: s("namespace"), image: s("image"), snap: s("snap"), device: s("device"), pid });
    }
    out.sort_by_key(|m| m.id);
    out
}

fn record(id: u32, spec: &Spec, device: &str, pid: u32) {
    let v = json!({"id": id, "pool": spec.pool, "namespace": spec.namespace, "image": spec.image,
        "snap": spec.snap.clone().unwrap_or_else(|| "-".into()), "device": device, "pid": pid});
    let p = state_dir().join(format!("{id}.json"));
    let tmp = p.with_extension("tmp");
    if std::fs::write(&tmp, v.to_string()).and_then(|_| std::fs::rename(&tmp, &p)).is_err() {
        eprintln!("rbd: warning: could not record the mapping in {}", p.display());
    }
}

pub fn showmapped(a: &crate::args::Args) -> i32 {
    let maps = load_all();
    if a.json() {
        let v: Vec<Value> = maps
            .iter()
            .map(|m| json!({"id": m.id.to_string(), "pool": m.pool, "namespace": m.namespace, "name": m.image, "snap": m.snap, "device": m.device}))
            .collect();
        print_json(a, &Value::Array(v));
        return 0;
    }
    if maps.is_empty() {
        return 0;
    }
    let mut t = Table::new(&[("id", false), ("pool", false), ("namespace", false), ("image", false), ("snap", false), ("device", false)]);
    for m in maps {
        t.row(vec![m.id.to_string(), m.pool, m.namespace, m.image, m.snap, m.device]);
    }
    print!("{}", t.render());
    0
}

fn mounted(dev: &str) -> bool {
    std::fs::read_to_string("/proc/mounts").map(|m| m.lines().any(|l| l.split_whitespace().next() == Some(dev))).unwrap_or(false)
}

pub async fn unmap(a: &crate::args::Args) -> i32 {
    let at = if a.words[0] == "device" { 2 } else { 1 };
    let target = a.words.get(at).cloned().unwrap_or_else(|| fail("rbd: unmap requires either image name or device path", 22));
    let maps = load_all();
    let m = if target.starts_with("/dev/") {
        maps.into_iter().find(|m| m.device == target)
    } else {
        let s = Spec::parse(Some(&target), a, false).unwrap_or_else(|m| fail(&m, 22));
        let snap = s.snap.clone().unwrap_or_else(|| "-".into());
        maps.into_iter().find(|m| m.pool == s.pool && m.namespace == s.namespace && m.image == s.image && m.snap == snap)
    };
    let Some(m) = m else { fail(&format!("rbd: {target}: not a mapped image or snapshot"), 22) };
    if mounted(&m.device) {
        fail("rbd: sysfs write failed\nrbd: unmap failed: (16) Device or resource busy", 16);
    }
    if let Some(index) = m.device.strip_prefix("/dev/nbd").and_then(|n| n.parse::<u32>().ok()) {
        // the kernel sends NBD_CMD_DISC and closes its socket: the server exits
        if let Err(e) = nbd::netlink::disconnect(index) {
            fail(&format!("rbd: unmap failed: cannot disconnect {}: {e}", m.device), e.raw_os_error().unwrap_or(5));
        }
        if !wait_exit(m.pid, Instant::now() + Duration::from_secs(30)).await {
            // a server stuck on the cluster: stop it the hard way
            unsafe {
                libc::kill(m.pid as i32, libc::SIGTERM);
            }
            if !wait_exit(m.pid, Instant::now() + Duration::from_secs(30)).await {
                fail(&format!("rbd: unmap: {} is disconnected but its server (pid {}) does not exit", m.device, m.pid), 16);
            }
        }
        let _ = std::fs::remove_file(state_dir().join(format!("{}.json", m.id)));
        return 0;
    }
    match Command::new("losetup").arg("-d").arg(&m.device).status() {
        Ok(s) if s.success() => {}
        _ => fail(&format!("rbd: unmap failed: could not detach {}", m.device), 16),
    }
    // the loop device lets go of the image file asynchronously
    let loopname = m.device.trim_start_matches("/dev/");
    let backing = PathBuf::from(format!("/sys/block/{loopname}/loop/backing_file"));
    let deadline = Instant::now() + Duration::from_secs(30);
    while backing.exists() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // the server unmounts, releases the image and exits
    unsafe {
        libc::kill(m.pid as i32, libc::SIGTERM);
    }
    wait_exit(m.pid, deadline).await;
    let _ = std::fs::remove_file(state_dir().join(format!("{}.json", m.id)));
    0
}

/// Whether process `pid` exited (or is a zombie) before `deadline`.
async fn wait_exit(pid: u32, deadline: Instant) -> bool {
    loop {
        let gone = !PathBuf::from(format!("/proc/{pid}")).exists() || std::fs::read_to_string(format!("/proc/{pid}/stat")).map(|s| s.contains(") Z ")).unwrap_or(true);
        if gone {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `rbd map`: starts the server process, waits for its mount, attaches the
/// loop device and prints it.
pub async fn map(c: &Ctx, at: usize) -> i32 {
    let s = c.spec(at);
    c.need_image(&s);
    let read_only = c.a.flag("read-only") || s.snap.is_some();
    // krbd (the default) is not served here: the kernel's nbd driver stands
    // in for it where loaded, else FUSE and a loop device
    let use_nbd = match c.a.opt("device-type") {
        None | Some("krbd") => nbd::netlink::kernel_has_nbd(),
        Some("nbd") if nbd::netlink::kernel_has_nbd() => true,
        Some("nbd") => fail("rbd: map failed: this kernel has no nbd driver (load it with `modprobe nbd`, or map without -t nbd to use FUSE and a loop device)", 2),
        Some(t) => fail(&format!("rbd: unknown device type '{t}'"), 22),
    };
    // check the image opens before going to the background
    let img = c.open(&s).await;
    drop(img);
    let dir = state_dir();
    if let Err(e) = std::fs::create_dir_all(&dir) {
        fail(&format!("rbd: cannot create {}: {e}", dir.display()), 5);
    }
    let taken: Vec<u32> = std::fs::read_dir(&dir)
        .map(|rd| rd.flatten().filter_map(|e| e.path().file_stem().and_then(|x| x.to_str()).and_then(|x| x.parse().ok())).collect())
        .unwrap_or_default();
    let id = (0..).find(|i| !taken.contains(i) && !dir.join(i.to_string()).exists()).unwrap_or(0);
    let mnt = dir.join(id.to_string());
    let _ = std::fs::create_dir_all(&mnt);
    let log = std::fs::File::create(dir.join(format!("{id}.log"))).ok();
    let mut cmd = Command::new(std::env::current_exe().unwrap_or_else(|_| "rbd".into()));
    cmd.args(std::env::args().skip(1).filter(|w| w != "map" && w != "device"));
    if use_nbd {
        let _ = std::fs::remove_dir(&mnt);
        return map_nbd(cmd, id, &s, read_only, log).await;
    }
    cmd.env("OXCEPH_RBD_SERVE", format!("{id}:{}", mnt.display()));
    cmd.stdin(std::process::Stdio::null()).stdout(std::process::Stdio::null());
    if let Some(l) = log {
        cmd.stderr(l);
    }
    {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
    }
    let mut child = cmd.spawn().unwrap_or_else(|e| fail(&format!("rbd: cannot start the mapping process: {e}"), 5));
    let file = mnt.join(FILE_NAME);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(Some(st)) = child.try_wait() {
            let log = std::fs::read_to_string(dir.join(format!("{id}.log"))).unwrap_or_default();
            fail(&format!("rbd: map failed: the mapping process exited ({st})\n{log}"), 5);
        }
        if file.exists() && is_fuse(&mnt) {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            fail("rbd: map failed: timed out waiting for the image to be served", 110);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut l = Command::new("losetup");
    l.args(["--find", "--show", "--direct-io=off"]);
    if read_only {
        l.arg("--read-only");
    }
    let out = l.arg(&file).output();
    let device = match out {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).trim().to_string(),
        Ok(o) => {
            let _ = child.kill();
            fail(&format!("rbd: map failed: losetup: {}", String::from_utf8_lossy(&o.stderr).trim()), 5)
        }
        Err(e) => {
            let _ = child.kill();
            fail(&format!("rbd: map failed: cannot run losetup: {e}"), 5)
        }
    };
    record(id, &s, &device, child.id());
    println!("{device}");
    0
}

/// `rbd map` through the kernel's nbd driver: the server process gets one
/// end of a socket pair; once it has the image open (and its lock), the
/// kernel gets the other end and names the device.
async fn map_nbd(mut cmd: Command, id: u32, s: &Spec, read_only: bool, log: Option<std::fs::File>) -> i32 {
    use std::io::BufRead;
    use std::os::fd::AsRawFd;
    let (ours, kernels) = std::os::unix::net::UnixStream::pair().unwrap_or_else(|e| fail(&format!("rbd: map failed: socketpair: {e}"), 5));
    // the server inherits its end (and only that one)
    let fd = ours.as_raw_fd();
    cmd.env("OXCEPH_RBD_SERVE", format!("{id}:nbd-fd:{fd}"));
    {
        use std::os::unix::process::CommandExt;
        // SAFETY: only fcntl (async-signal-safe) between fork and exec; the
        // flag is cleared in the child alone, so nothing else inherits it.
        unsafe {
            cmd.pre_exec(move || if libc::fcntl(fd, libc::F_SETFD, 0) == 0 { Ok(()) } else { Err(std::io::Error::last_os_error()) });
        }
    }
    cmd.stdin(std::process::Stdio::null()).stdout(std::process::Stdio::piped());
    if let Some(l) = log {
        cmd.stderr(l);
    }
    {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
    }
    let mut child = cmd.spawn().unwrap_or_else(|e| fail(&format!("rbd: cannot start the mapping process: {e}"), 5));
    drop(ours);
    let mut line = String::new();
    let out = child.stdout.take().expect("piped stdout");
    let ready = tokio::time::timeout(Duration::from_secs(60), tokio::task::spawn_blocking(move || std::io::BufReader::new(out).read_line(&mut line).map(|_| line))).await;
    // "ready SIZE": the image is open, at the size it serves
    let size = match &ready {
        Ok(Ok(Ok(l))) => l.trim().strip_prefix("ready ").and_then(|n| n.parse::<u64>().ok()),
        _ => None,
    };
    let Some(size) = size else {
        let _ = child.kill();
        let log = std::fs::read_to_string(state_dir().join(format!("{id}.log"))).unwrap_or_default();
        fail(&format!("rbd: map failed: the mapping process did not start\n{log}"), 5)
    };
    let index = match nbd::netlink::connect(kernels.as_raw_fd(), size, nbd::transmission_flags(read_only), None) {
        Ok(i) => i,
        Err(e) => {
            // the server sees its socket close, releases the image and exits
            drop(kernels);
            wait_exit(child.id(), Instant::now() + Duration::from_secs(30)).await;
            fail(&format!("rbd: map failed: the kernel refused the nbd device: {e}"), e.raw_os_error().unwrap_or(5))
        }
    };
    drop(kernels);
    let device = format!("/dev/nbd{index}");
    record(id, s, &device, child.id());
    println!("{device}");
    0
}

fn is_fuse(p: &std::path::Path) -> bool {
    let p = p.to_string_lossy();
    std::fs::read_to_string("/proc/mounts").map(|m| m.lines().any(|l| l.split_whitespace().nth(1) == Some(&*p) && l.contains("fuse"))).unwrap_or(false)
}

/// The background half of `rbd map`: serves the image on the FUSE mount
/// until SIGTERM.
pub async fn serve(c: &Ctx, at: usize, id_mnt: &str) -> i32 {
    let (_, mnt) = id_mnt.split_once(':').unwrap_or(("0", id_mnt));
    if let Some(fd) = mnt.strip_prefix("nbd-fd:").and_then(|f| f.parse::<i32>().ok()) {
        return serve_nbd(c, at, fd).await;
    }
    let s = c.spec(at);
    let read_only = c.a.flag("read-only") || s.snap.is_some();
    let mut img = c.open(&s).await;
    img.set_write_cache(c.cache_max_dirty);
    if !read_only {
        if let Err(e) = img.acquire().await {
            fail_e("map failed", &e);
        }
    }
    let size = img.size();
    let img = Arc::new(img);
    let fs = ImageFs { img: img.clone(), rt: tokio::runtime::Handle::current(), size, read_only, uid: unsafe { libc::getuid() }, gid: unsafe { libc::getgid() } };
    let mut opts = vec![MountOption::FSName("oxceph-rbd".into()), MountOption::Subtype("rbd".into()), MountOption::NoExec, MountOption::NoSuid];
    if read_only {
        opts.push(MountOption::RO);
    }
    let session = match fuser::spawn_mount2(fs, mnt, &opts) {
        Ok(s) => s,
        Err(e) => fail(&format!("rbd: map failed: cannot mount FUSE at {mnt}: {e}"), e.raw_os_error().unwrap_or(5)),
    };
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("signal handler");
    term.recv().await;
    drop(session);
    let _ = std::fs::remove_dir(mnt);
    if let Ok(mut img) = Arc::try_unwrap(img) {
        let _ = img.release().await;
    }
    0
}

/// The background half of an nbd mapping: serves NBD on the inherited
/// socket until the kernel disconnects (or SIGTERM).
async fn serve_nbd(c: &Ctx, at: usize, fd: i32) -> i32 {
    use std::io::Write;
    use std::os::fd::FromRawFd;
    let s = c.spec(at);
    let read_only = c.a.flag("read-only") || s.snap.is_some();
    let mut img = c.open(&s).await;
    img.set_write_cache(c.cache_max_dirty);
    if !read_only {
        if let Err(e) = img.acquire().await {
            fail_e("map failed", &e);
        }
    }
    // SAFETY: the fd was left open for us by `rbd map` and nothing else owns it.
    let sock = unsafe { std::os::unix::net::UnixStream::from_raw_fd(fd) };
    let sock = sock.set_nonblocking(true).and_then(|_| tokio::net::UnixStream::from_std(sock)).unwrap_or_else(|e| fail(&format!("rbd: map failed: nbd socket: {e}"), 5));
    let export = Arc::new(ImageExport { size: img.size(), img: Arc::new(img), read_only });
    let mut out = std::io::stdout();
    let _ = writeln!(out, "ready {}", export.size).and_then(|_| out.flush());
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("signal handler");
    // SIGTERM stops taking requests; those in flight are answered
    if let Err(e) = nbd::serve_until(sock, export.clone(), async move { term.recv().await; }).await {
        tracing::error!("{e}");
    }
    let _ = export.img.flush().await;
    match Arc::try_unwrap(export).ok().and_then(|ex| Arc::try_unwrap(ex.img).ok()) {
        Some(mut img) => {
            let _ = img.release().await;
        }
        None => tracing::error!("the image is still in use at exit: its lock is left for the next owner to break"),
    }
    0
}

/// An image as an NBD export.
struct ImageExport {
    img: Arc<Image>,
    size: u64,
    read_only: bool,
}

fn io_err(e: rbd::Error) -> std::io::Error {
    tracing::error!("{}", e.msg);
    std::io::Error::from_raw_os_error(if e.errno > 0 { e.errno } else { libc::EIO })
}

impl nbd::Export for ImageExport {
    fn size(&self) -> u64 {
        self.size
    }
    fn read_only(&self) -> bool {
        self.read_only
    }
    async fn read(&self, off: u64, len: u32) -> std::io::Result<bytes::Bytes> {
        self.img.read(off, len as u64).await.map(|b| rbd::image::pad(b, len as u64)).map_err(io_err)
    }
    async fn write(&self, off: u64, data: bytes::Bytes) -> std::io::Result<()> {
        self.img.write(off, data).await.map_err(io_err)
    }
    async fn flush(&self) -> std::io::Result<()> {
        self.img.flush().await.map_err(io_err)
    }
    async fn trim(&self, off: u64, len: u32) -> std::io::Result<()> {
        self.zero(off, len).await
    }
    async fn write_zeroes(&self, off: u64, len: u32) -> std::io::Result<()> {
        self.zero(off, len).await
    }
}

/// Largest piece of a discard at once: the kernel sends up to 4 GiB, and a
/// clone's discard writes zeros it must hold in memory.
const DISCARD_PIECE: u64 = 64 << 20;

impl ImageExport {
    async fn zero(&self, off: u64, len: u32) -> std::io::Result<()> {
        let end = off + len as u64;
        let mut at = off;
        while at < end {
            let n = DISCARD_PIECE.min(end - at);
            self.img.discard(at, n).await.map_err(io_err)?;
            at += n;
        }
        Ok(())
    }
}

struct ImageFs {
    img: Arc<Image>,
    rt: tokio::runtime::Handle,
    size: u64,
    read_only: bool,
    uid: u32,
    gid: u32,
}

impl ImageFs {
    fn attr(&self, ino: u64) -> FileAttr {
        let now = SystemTime::now();
        let (kind, perm, size, nlink) = if ino == ROOT { (FileType::Directory, 0o755, 0, 2) } else { (FileType::RegularFile, if self.read_only { 0o400 } else { 0o600 }, self.size, 1) };
        FileAttr {
            ino,
            size,
            blocks: size.div_ceil(512),
            atime: now,
            mtime: now,
            ctime: now,
            crtime: now,
            kind,
            perm,
            nlink,
            uid: self.uid,
            gid: self.gid,
            rdev: 0,
            blksize: 4096,
            flags: 0,
        }
    }
}

const TTL: Duration = Duration::from_secs(3600);

impl ImageFs {
    fn sync(&self, reply: fuser::ReplyEmpty) {
        let img = self.img.clone();
        self.rt.spawn(async move {
            match img.flush().await {
                Ok(()) => reply.ok(),
                Err(e) => {
                    tracing::error!("flush: {}", e.msg);
                    reply.error(libc::EIO)
                }
            }
        });
    }
}

impl Filesystem for ImageFs {
    fn lookup(&mut self, _req: &Request<'_>, parent: u64, name: &OsStr, reply: ReplyEntry) {
        if parent == ROOT && name == FILE_NAME {
            reply.entry(&TTL, &self.attr(FILE), 0);
        } else {
            reply.error(libc::ENOENT);
        }
    }

    fn getattr(&mut self, _req: &Request<'_>, ino: u64, _fh: Option<u64>, reply: ReplyAttr) {
        match ino {
            ROOT | FILE => reply.attr(&TTL, &self.attr(ino)),
            _ => reply.error(libc::ENOENT),
        }
    }

    fn open(&mut self, _req: &Request<'_>, ino: u64, flags: i32, reply: ReplyOpen) {
        if ino != FILE {
            return reply.error(libc::EISDIR);
        }
        if self.read_only && flags & libc::O_ACCMODE != libc::O_RDONLY {
            return reply.error(libc::EROFS);
        }
        reply.opened(0, FOPEN_DIRECT_IO);
    }

    fn read(&mut self, _req: &Request<'_>, _ino: u64, _fh: u64, offset: i64, size: u32, _flags: i32, _lock: Option<u64>, reply: ReplyData) {
        let img = self.img.clone();
        self.rt.spawn(async move {
            match img.read(offset.max(0) as u64, size as u64).await {
                Ok(b) => reply.data(&b),
                Err(e) => {
                    tracing::error!("read at {offset}: {}", e.msg);
                    reply.error(libc::EIO)
                }
            }
        });
    }

    fn write(&mut self, _req: &Request<'_>, _ino: u64, _fh: u64, offset: i64, data: &[u8], _wf: u32, _flags: i32, _lock: Option<u64>, reply: ReplyWrite) {
        if self.read_only {
            return reply.error(libc::EROFS);
        }
        let off = offset.max(0) as u64;
        if off + data.len() as u64 > self.size {
            return reply.error(libc::ENOSPC);
        }
        let img = self.img.clone();
        let data = bytes::Bytes::copy_from_slice(data);
        self.rt.spawn(async move {
            let n = data.len() as u32;
            match img.write(off, data).await {
                Ok(()) => reply.written(n),
                Err(e) => {
                    tracing::error!("write at {off}: {}", e.msg);
                    reply.error(libc::EIO)
                }
            }
        });
    }

    fn flush(&mut self, _req: &Request<'_>, _ino: u64, _fh: u64, _lock: u64, reply: fuser::ReplyEmpty) {
        self.sync(reply);
    }

    fn fsync(&mut self, _req: &Request<'_>, _ino: u64, _fh: u64, _datasync: bool, reply: fuser::ReplyEmpty) {
        // the loop device turns the filesystem's flushes into fsync: every
        // write the cache completed early is acknowledged by the OSDs first
        self.sync(reply);
    }

    fn readdir(&mut self, _req: &Request<'_>, ino: u64, _fh: u64, offset: i64, mut reply: ReplyDirectory) {
        if ino != ROOT {
            return reply.error(libc::ENOTDIR);
        }
        let entries = [(ROOT, FileType::Directory, "."), (ROOT, FileType::Directory, ".."), (FILE, FileType::RegularFile, FILE_NAME)];
        for (i, (ino, kind, name)) in entries.iter().enumerate().skip(offset as usize) {
            if reply.add(*ino, (i + 1) as i64, *kind, name) {
                break;
            }
        }
        reply.ok();
    }
}
