//! The transmission phase byte by byte: refusals, hostile requests, and a
//! random mix of requests checked against a model of the device.

mod common;

use common::Mem;
use nbd::handshake;
use proptest::prelude::*;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

const READ: u16 = 0;
const WRITE: u16 = 1;
const DISC: u16 = 2;
const FLUSH: u16 = 3;
const TRIM: u16 = 4;

fn req(kind: u16, handle: u64, offset: u64, length: u32) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&0x2560_9513u32.to_be_bytes());
    b.extend_from_slice(&0u16.to_be_bytes());
    b.extend_from_slice(&kind.to_be_bytes());
    b.extend_from_slice(&handle.to_be_bytes());
    b.extend_from_slice(&offset.to_be_bytes());
    b.extend_from_slice(&length.to_be_bytes());
    b
}

/// (error, handle) of the next simple reply, and `data` bytes after it.
async fn reply(c: &mut DuplexStream, data: usize) -> (u32, u64, Vec<u8>) {
    let mut h = [0u8; 16];
    c.read_exact(&mut h).await.unwrap();
    assert_eq!(u32::from_be_bytes(h[0..4].try_into().unwrap()), 0x6744_6698);
    let err = u32::from_be_bytes(h[4..8].try_into().unwrap());
    let handle = u64::from_be_bytes(h[8..16].try_into().unwrap());
    let mut d = vec![0u8; if err == 0 { data } else { 0 }];
    c.read_exact(&mut d).await.unwrap();
    (err, handle, d)
}

fn served(mem: Arc<Mem>) -> (DuplexStream, tokio::task::JoinHandle<Result<(), nbd::ServeError>>) {
    let (client, server) = tokio::io::duplex(1 << 20);
    (client, tokio::spawn(nbd::serve(server, mem)))
}

#[tokio::test]
async fn requests_the_export_cannot_take_are_refused_with_nbd_errors() {
    let (mut c, task) = served(Arc::new(Mem::new(1 << 20, false)));
    // past the end: reads EINVAL, writes ENOSPC (payload consumed)
    c.write_all(&req(READ, 1, (1 << 20) - 4096, 8192)).await.unwrap();
    assert_eq!(reply(&mut c, 0).await, (22, 1, vec![]));
    let mut w = req(WRITE, 2, 1 << 20, 512);
    w.extend_from_slice(&[7u8; 512]);
    c.write_all(&w).await.unwrap();
    assert_eq!(reply(&mut c, 0).await, (28, 2, vec![]));
    // offset + length overflowing u64
    c.write_all(&req(TRIM, 3, u64::MAX - 10, 4096)).await.unwrap();
    assert_eq!(reply(&mut c, 0).await, (22, 3, vec![]));
    // an unknown command
    c.write_all(&req(99, 4, 0, 0)).await.unwrap();
    assert_eq!(reply(&mut c, 0).await, (22, 4, vec![]));
    // the stream is still in step: a good read after all that
    c.write_all(&req(READ, 5, 0, 16)).await.unwrap();
    assert_eq!(reply(&mut c, 16).await, (0, 5, vec![0u8; 16]));
    c.write_all(&req(DISC, 6, 0, 0)).await.unwrap();
    task.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_read_only_export_refuses_writes_with_eperm() {
    let mem = Arc::new(Mem::new(1 << 20, true));
    let (mut c, task) = served(mem.clone());
    let mut w = req(WRITE, 9, 0, 4);
    w.extend_from_slice(&[1, 2, 3, 4]);
    c.write_all(&w).await.unwrap();
    assert_eq!(reply(&mut c, 0).await, (1, 9, vec![]));
    c.write_all(&req(TRIM, 10, 0, 4096)).await.unwrap();
    assert_eq!(reply(&mut c, 0).await, (1, 10, vec![]));
    c.write_all(&req(FLUSH, 11, 0, 0)).await.unwrap();
    assert_eq!(reply(&mut c, 0).await, (0, 11, vec![]));
    drop(c);
    task.await.unwrap().unwrap();
    assert!(mem.data.lock().unwrap().iter().all(|b| *b == 0));
}

#[tokio::test]
async fn hostile_requests_end_the_connection_with_an_error() {
    // bad magic
    let (mut c, task) = served(Arc::new(Mem::new(4096, false)));
    let mut r = req(READ, 1, 0, 16);
    r[0] ^= 0xff;
    c.write_all(&r).await.unwrap();
    assert!(matches!(task.await.unwrap(), Err(nbd::ServeError::Protocol(_))));
    // a write longer than any payload accepted
    let (mut c, task) = served(Arc::new(Mem::new(4096, false)));
    c.write_all(&req(WRITE, 1, 0, u32::MAX)).await.unwrap();
    assert!(matches!(task.await.unwrap(), Err(nbd::ServeError::Protocol(_))));
    // a request cut short
    let (mut c, task) = served(Arc::new(Mem::new(4096, false)));
    c.write_all(&req(READ, 1, 0, 16)[..20]).await.unwrap();
    drop(c);
    assert!(task.await.unwrap().is_ok());
}

#[tokio::test]
async fn the_handshake_answers_options_and_refuses_garbage() {
    // a client that asks for structured replies (refused), lists, then GOes
    let (mut c, mut s) = tokio::io::duplex(1 << 16);
    let server = tokio::spawn(async move { handshake::negotiate(&mut s, 1 << 30, nbd::transmission_flags(false)).await.map(|_| s) });
    let mut hello = [0u8; 18];
    c.read_exact(&mut hello).await.unwrap();
    assert_eq!(&hello[..16], b"NBDMAGICIHAVEOPT");
    c.write_all(&3u32.to_be_bytes()).await.unwrap();
    let opt = |o: u32, d: &[u8]| {
        let mut b = handshake::IHAVEOPT.to_be_bytes().to_vec();
        b.extend_from_slice(&o.to_be_bytes());
        b.extend_from_slice(&(d.len() as u32).to_be_bytes());
        b.extend_from_slice(d);
        b
    };
    async fn rep(c: &mut DuplexStream) -> (u32, u32, Vec<u8>) {
        let mut h = [0u8; 20];
        c.read_exact(&mut h).await.unwrap();
        assert_eq!(u64::from_be_bytes(h[0..8].try_into().unwrap()), handshake::OPTION_REPLY_MAGIC);
        let mut d = vec![0u8; u32::from_be_bytes(h[16..20].try_into().unwrap()) as usize];
        c.read_exact(&mut d).await.unwrap();
        (u32::from_be_bytes(h[8..12].try_into().unwrap()), u32::from_be_bytes(h[12..16].try_into().unwrap()), d)
    }
    c.write_all(&opt(8, &[])).await.unwrap();
    assert_eq!(rep(&mut c).await.1, handshake::rep::ERR_UNSUP);
    c.write_all(&opt(handshake::opt::LIST, &[])).await.unwrap();
    assert_eq!(rep(&mut c).await, (3, handshake::rep::SERVER, vec![0, 0, 0, 0]));
    assert_eq!(rep(&mut c).await.1, handshake::rep::ACK);
    // a GO whose info count disagrees with its length
    c.write_all(&opt(handshake::opt::GO, &[0, 0, 0, 0, 0, 5])).await.unwrap();
    assert_eq!(rep(&mut c).await.1, handshake::rep::ERR_INVALID);
    c.write_all(&opt(handshake::opt::GO, &[0, 0, 0, 0, 0, 0])).await.unwrap();
    let (o, kind, d) = rep(&mut c).await;
    assert_eq!((o, kind), (7, handshake::rep::INFO));
    assert_eq!(&d[..2], &[0, 0]);
    assert_eq!(u64::from_be_bytes(d[2..10].try_into().unwrap()), 1 << 30);
    assert_eq!(u16::from_be_bytes([d[10], d[11]]), nbd::transmission_flags(false));
    assert_eq!(rep(&mut c).await.1, handshake::rep::INFO); // block sizes
    assert_eq!(rep(&mut c).await.1, handshake::rep::ACK);
    assert!(server.await.unwrap().is_ok());

    // garbage instead of an option
    let (mut c, mut s) = tokio::io::duplex(1 << 16);
    let server = tokio::spawn(async move { handshake::negotiate(&mut s, 4096, 1).await });
    let mut hello = [0u8; 18];
    c.read_exact(&mut hello).await.unwrap();
    c.write_all(&3u32.to_be_bytes()).await.unwrap();
    c.write_all(&[0x55u8; 16]).await.unwrap();
    assert!(matches!(server.await.unwrap(), Err(nbd::ServeError::Protocol(_))));
}

#[derive(Debug, Clone)]
enum Op {
    Read(u64, u32),
    Write(u64, u32, u8),
    Trim(u64, u32),
    Flush,
}

fn op() -> impl Strategy<Value = Op> {
    let span = (0u64..70_000, 0u32..9_000);
    prop_oneof![
        span.clone().prop_map(|(o, l)| Op::Read(o, l)),
        (span.clone(), any::<u8>()).prop_map(|((o, l), b)| Op::Write(o, l, b)),
        span.prop_map(|(o, l)| Op::Trim(o, l)),
        Just(Op::Flush),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    /// Every reply matches its handle, refusals match the device's bounds,
    /// and reads see the writes before them (each request waits for the
    /// previous reply: NBD does not order requests in flight).
    #[test]
    fn random_requests_match_a_model(ops in proptest::collection::vec(op(), 1..40)) {
        const SIZE: usize = 64 << 10;
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let mem = Arc::new(Mem::new(SIZE, false));
            let (mut c, task) = served(mem.clone());
            let mut model = vec![0u8; SIZE];
            for (h, o) in ops.iter().enumerate() {
                let h = h as u64 + 100;
                let in_range = |off: u64, len: u32| off + len as u64 <= SIZE as u64;
                match *o {
                    Op::Read(off, len) => {
                        c.write_all(&req(READ, h, off, len)).await.unwrap();
                        let (e, rh, d) = reply(&mut c, len as usize).await;
                        assert_eq!(rh, h);
                        if in_range(off, len) {
                            assert_eq!(e, 0);
                            assert!(d[..] == model[off as usize..off as usize + len as usize]);
                        } else {
                            assert_eq!(e, 22);
                        }
                    }
                    Op::Write(off, len, b) => {
                        let mut w = req(WRITE, h, off, len);
                        w.extend(std::iter::repeat(b).take(len as usize));
                        c.write_all(&w).await.unwrap();
                        let (e, rh, _) = reply(&mut c, 0).await;
                        assert_eq!(rh, h);
                        if in_range(off, len) {
                            assert_eq!(e, 0);
                            model[off as usize..off as usize + len as usize].fill(b);
                        } else {
                            assert_eq!(e, 28);
                        }
                    }
                    Op::Trim(off, len) => {
                        c.write_all(&req(TRIM, h, off, len)).await.unwrap();
                        let (e, rh, _) = reply(&mut c, 0).await;
                        assert_eq!(rh, h);
                        if in_range(off, len) {
                            assert_eq!(e, 0);
                            model[off as usize..off as usize + len as usize].fill(0);
                        } else {
                            assert_eq!(e, 22);
                        }
                    }
                    Op::Flush => {
                        c.write_all(&req(FLUSH, h, 0, 0)).await.unwrap();
                        assert_eq!(reply(&mut c, 0).await, (0, h, vec![]));
                    }
                }
            }
            c.write_all(&req(DISC, 1, 0, 0)).await.unwrap();
            task.await.unwrap().unwrap();
            assert!(*mem.data.lock().unwrap() == model);
        });
    }
}

/// Many reads in flight at once all come back, each under its handle.
#[tokio::test]
async fn pipelined_requests_are_all_answered() {
    let mem = Arc::new(Mem::new(1 << 20, false));
    for (i, b) in mem.data.lock().unwrap().chunks_mut(4096).enumerate() {
        b.fill(i as u8);
    }
    let (mut c, task) = served(mem);
    let mut all = Vec::new();
    for i in 0..256u64 {
        all.extend(req(READ, i, i * 4096, 4096));
    }
    c.write_all(&all).await.unwrap();
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..256 {
        let (e, h, d) = reply(&mut c, 4096).await;
        assert_eq!(e, 0);
        assert!(d.iter().all(|b| *b == h as u8));
        seen.insert(h);
    }
    assert_eq!(seen.len(), 256);
    c.write_all(&req(DISC, 0, 0, 0)).await.unwrap();
    task.await.unwrap().unwrap();
}

/// A peer that sends reads but never reads the replies is not buffered for
/// without bound: the server stops taking requests once its slots are full.
#[tokio::test]
async fn a_peer_that_does_not_read_replies_gets_backpressure() {
    let (mut c, server) = tokio::io::duplex(64 << 10);
    let mem = Arc::new(Mem::new(1 << 20, false));
    let task = tokio::spawn(nbd::serve(server, mem));
    let mut all = Vec::new();
    for i in 0..20_000u64 {
        all.extend(req(READ, i, 0, 1 << 20));
    }
    // 20000 x 1 MiB of replies would be 20 GiB: the writes must stall
    let r = tokio::time::timeout(std::time::Duration::from_millis(500), c.write_all(&all)).await;
    assert!(r.is_err(), "the server took every request without its replies being read");
    drop(c);
    assert!(tokio::time::timeout(std::time::Duration::from_secs(10), task).await.is_ok(), "the server did not end when the peer went away");
}

/// serve_until: once told to stop it returns, with what was written kept,
/// and no task holds the export afterwards.
#[tokio::test]
async fn stopping_ends_serving_and_lets_go_of_the_export() {
    let mem = Arc::new(Mem::new(1 << 20, false));
    let (mut c, server) = tokio::io::duplex(4 << 20);
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(nbd::serve_until(server, mem.clone(), async move {
        let _ = stop_rx.await;
    }));
    let mut w = req(WRITE, 1, 0, 4096);
    w.extend_from_slice(&[9u8; 4096]);
    c.write_all(&w).await.unwrap();
    assert_eq!(reply(&mut c, 0).await, (0, 1, vec![]));
    stop_tx.send(()).unwrap();
    task.await.unwrap().unwrap();
    assert_eq!(Arc::strong_count(&mem), 1);
    assert!(mem.data.lock().unwrap()[..4096].iter().all(|b| *b == 9));
}
