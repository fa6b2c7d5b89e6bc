//! Our NBD server against a real NBD client: qemu (qemu-io, qemu-img) over
//! a unix socket, through the fixed-newstyle handshake into the same
//! transmission code the kernel is handed.

mod common;

use common::Mem;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

fn start(mem: Arc<Mem>) -> (tempdir::Dir, PathBuf, tokio::runtime::Runtime) {
    let dir = tempdir::Dir::new();
    let sock = dir.0.join("nbd.sock");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let listener = rt.block_on(async { tokio::net::UnixListener::bind(&sock) }).unwrap();
    rt.spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else { return };
            let mem = mem.clone();
            tokio::spawn(async move {
                let flags = nbd::transmission_flags(nbd::Export::read_only(&*mem));
                let size = nbd::Export::size(&*mem);
                if nbd::handshake::negotiate(&mut s, size, flags).await.is_ok() {
                    nbd::serve(s, mem).await.expect("serve");
                }
            });
        }
    });
    (dir, sock, rt)
}

mod tempdir {
    pub struct Dir(pub std::path::PathBuf);
    impl Dir {
        pub fn new() -> Dir {
            let p = std::env::temp_dir().join(format!("nbd-test-{}-{}", std::process::id(), rand_suffix()));
            std::fs::create_dir_all(&p).unwrap();
            Dir(p)
        }
    }
    fn rand_suffix() -> u64 {
        use std::sync::atomic::{AtomicU64, Ordering};
        static N: AtomicU64 = AtomicU64::new(0);
        N.fetch_add(1, Ordering::Relaxed)
    }
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn url(sock: &Path) -> String {
    format!("nbd+unix:///?socket={}", sock.display())
}

fn qemu_io(sock: &Path, cmds: &[&str]) -> String {
    let mut c = Command::new("qemu-io");
    c.args(["-f", "raw"]);
    for x in cmds {
        c.args(["-c", x]);
    }
    let out = c.arg(url(sock)).output().expect("qemu-io (apt-get install qemu-utils)");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "qemu-io {cmds:?}: {text}");
    assert!(!text.contains("failed") && !text.contains("error"), "qemu-io {cmds:?}: {text}");
    text
}

#[test]
fn qemu_io_writes_reads_flushes_and_discards() {
    let mem = Arc::new(Mem::new(8 << 20, false));
    let (_d, sock, _rt) = start(mem.clone());
    qemu_io(&sock, &["write -P 0xab 0 1M", "write -f -P 0xcd 512k 4k", "write -z 2M 64k", "discard 4M 1M", "flush"]);
    {
        let d = mem.data.lock().unwrap();
        assert!(d[..512 << 10].iter().all(|b| *b == 0xab));
        assert!(d[512 << 10..(512 << 10) + 4096].iter().all(|b| *b == 0xcd));
        assert!(d[(512 << 10) + 4096..1 << 20].iter().all(|b| *b == 0xab));
    }
    // FUA and flush both reached the export
    assert!(*mem.flushes.lock().unwrap() >= 2);
    // bytes written through NBD read back through NBD, in a new connection
    mem.data.lock().unwrap()[4 << 20..5 << 20].fill(0x11);
    qemu_io(&sock, &["read -P 0xab 0 512k", "read -P 0xcd 512k 4k", "read -P 0x11 4M 1M", "read -P 0 6M 2M"]);
    qemu_io(&sock, &["discard 4M 1M"]);
    qemu_io(&sock, &["read -P 0 4M 1M"]);
}

#[test]
fn qemu_img_copies_the_whole_export_out_and_in() {
    let size = 12 << 20;
    let mem = Arc::new(Mem::new(size, false));
    // a pattern no two 4 KiB blocks share
    let src: Vec<u8> = (0..size).map(|i| ((i / 4096) as u8).wrapping_mul(31) ^ (i as u8)).collect();
    let dir = tempdir::Dir::new();
    let file = dir.0.join("in.raw");
    std::fs::write(&file, &src).unwrap();
    let (_d, sock, _rt) = start(mem.clone());
    let info = Command::new("qemu-img").args(["info", "-f", "raw", &url(&sock)]).output().unwrap();
    assert!(String::from_utf8_lossy(&info.stdout).contains(&format!("({size} bytes)")), "{}", String::from_utf8_lossy(&info.stdout));
    let put = Command::new("qemu-img").args(["convert", "-n", "-f", "raw", "-O", "raw"]).arg(&file).arg(url(&sock)).output().unwrap();
    assert!(put.status.success(), "{}", String::from_utf8_lossy(&put.stderr));
    assert!(*mem.data.lock().unwrap() == src, "the export differs from the file qemu-img wrote");
    let out = dir.0.join("out.raw");
    let get = Command::new("qemu-img").args(["convert", "-f", "raw", "-O", "raw", &url(&sock)]).arg(&out).output().unwrap();
    assert!(get.status.success(), "{}", String::from_utf8_lossy(&get.stderr));
    assert!(std::fs::read(&out).unwrap() == src, "qemu-img read back other bytes");
}

#[test]
fn a_read_only_export_refuses_writes_to_qemu() {
    let mem = Arc::new(Mem::new(1 << 20, true));
    let (_d, sock, _rt) = start(mem.clone());
    let out = Command::new("qemu-io").args(["-f", "raw", "-c", "write -P 1 0 4k", &url(&sock)]).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    // qemu sees the read-only flag and will not open the export for writing
    assert!(!out.status.success() && text.contains("Permission denied"), "{text}");
    // read-only, it reads
    let out = Command::new("qemu-io").args(["-r", "-f", "raw", "-c", "read -P 0 0 4k", &url(&sock)]).output().unwrap();
    assert!(out.status.success() && String::from_utf8_lossy(&out.stdout).contains("read 4096/4096 bytes"), "{}", String::from_utf8_lossy(&out.stdout));
    assert!(mem.data.lock().unwrap().iter().all(|b| *b == 0));
}
