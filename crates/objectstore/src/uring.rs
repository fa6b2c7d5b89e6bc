//! Batched block-file reads through io_uring. The pieces of a fragmented
//! object (an RBD image's objects after random small writes) go to the disk
//! together, as BlueStore's aio batch sends them, instead of one `pread` at a
//! time: a disk serves a deep queue of small reads several times faster than
//! the same reads one by one.

use std::cell::RefCell;
use std::io;
use std::os::fd::RawFd;

/// Ring size; longer batches go in several rounds.
const ENTRIES: usize = 64;

thread_local! {
    /// This thread's ring, made on first use; `Some(None)` where the kernel
    /// refuses io_uring (old kernel, seccomp, `kernel.io_uring_disabled`).
    static RING: RefCell<Option<Option<io_uring::IoUring>>> = const { RefCell::new(None) };
}

/// One read: `len` bytes at offset `at` of `fd` into `buf`.
pub(crate) struct Read {
    pub fd: RawFd,
    pub at: u64,
    pub buf: *mut u8,
    pub len: usize,
}

/// Issues `reads` together and returns, once every one has finished, how
/// many bytes each read (short at the end of the file; None if it failed
/// or was not issued, for the caller to redo on its own). None where
/// io_uring is unavailable: the caller reads them itself.
///
/// # Safety
/// Every `buf` must be valid for writes of its `len` bytes, and not read or
/// written by anything else, until this returns.
pub(crate) unsafe fn read_batch(reads: &[Read]) -> Option<Vec<Option<usize>>> {
    RING.with(|cell| {
        let mut cell = cell.borrow_mut();
        let ring = cell.get_or_insert_with(new_ring).as_mut()?;
        let mut got: Vec<Option<usize>> = vec![None; reads.len()];
        for (round, chunk) in reads.chunks(ENTRIES).enumerate() {
            let mut pending = 0usize;
            for (i, r) in chunk.iter().enumerate() {
                let len = u32::try_from(r.len).unwrap_or(u32::MAX);
                let entry = io_uring::opcode::Read::new(io_uring::types::Fd(r.fd), r.buf, len)
                    .offset(r.at)
                    .build()
                    .user_data((round * ENTRIES + i) as u64);
                // SAFETY: the caller keeps the buffer valid and exclusive
                // until we return, and we return only after reaping every
                // completion of this round.
                if unsafe { ring.submission().push(&entry) }.is_err() {
                    // Cannot happen (the queue is empty and a round fits it);
                    // the read stays undone and the caller does it.
                    break;
                }
                pending += 1;
            }
            while pending > 0 {
                match ring.submit_and_wait(1) {
                    Ok(_) => {}
                    // Interrupted, or the kernel was short of memory or
                    // completion space: nothing lost, ask again.
                    Err(e) if matches!(e.raw_os_error(), Some(libc::EINTR | libc::EAGAIN | libc::EBUSY | libc::ENOMEM)) => {}
                    Err(e) => {
                        // Reads may still be landing in the caller's buffers,
                        // which we cannot hand back; stop, as Ceph's OSD does
                        // on an I/O path failure.
                        use std::io::Write;
                        let _ = writeln!(io::stderr(), "objectstore: io_uring failed with reads in flight: {e}");
                        std::process::abort();
                    }
                }
                for cqe in ring.completion() {
                    pending = pending.saturating_sub(1);
                    let res = cqe.result();
                    if let (Ok(n), Some(g)) = (usize::try_from(res), got.get_mut(cqe.user_data() as usize)) {
                        *g = Some(n);
                    }
                }
            }
        }
        Some(got)
    })
}

/// A ring, if this kernel has io_uring and its read op (Linux 5.6+; 5.1-5.5
/// make rings that refuse it).
fn new_ring() -> Option<io_uring::IoUring> {
    let ring = io_uring::IoUring::new(ENTRIES as u32).ok()?;
    let mut probe = io_uring::Probe::new();
    ring.submitter().register_probe(&mut probe).ok()?;
    probe.is_supported(io_uring::opcode::Read::CODE).then_some(ring)
}
