//! The OSD's memory policy. jemalloc, because 4 MiB op buffers freed on many
//! threads fragment glibc's per-thread arenas into gigabytes of RSS (Ceph
//! uses tcmalloc for the same reason). Op buffers (4 MiB a piece under a `rados bench`
//! of big objects) are freed and allocated again hundreds of times a second;
//! if the allocator gives their pages back to the kernel in between, every
//! new buffer is page-faulted and zeroed again, which cost a fifth of the
//! 4 MiB write throughput. So jemalloc keeps freed pages for reuse while the
//! OSD is busy (a ten-second decay), and gives them all back as soon as it
//! falls idle, so the footprint at rest is the live data alone.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Freed pages return to the kernel ten seconds after use, gradually, on a
/// background thread (without it jemalloc only purges on later allocations);
/// `purge_when_idle` returns them at once when the ops stop.
#[allow(non_upper_case_globals)]
#[export_name = "_rjem_malloc_conf"]
pub static malloc_conf: &[u8] = b"background_thread:true,dirty_decay_ms:10000,muzzy_decay_ms:0\0";

/// Messages other than heartbeats (client ops, replication, recovery, peering) seen so far.
static MESSAGES: AtomicU64 = AtomicU64::new(0);

/// Counts one message other than a heartbeat: the OSD is busy.
pub fn note_activity() {
    MESSAGES.fetch_add(1, Ordering::Relaxed);
}

/// Decides, one period at a time, when the OSD has fallen idle.
struct IdleWatch {
    seen: u64,
    purged: bool,
}

impl IdleWatch {
    fn new(count: u64) -> IdleWatch {
        IdleWatch { seen: count, purged: true }
    }
    /// Given the message count at the end of a period: whether to purge now
    /// (no message in this period, some since the last purge).
    fn period_ended(&mut self, count: u64) -> bool {
        if count != self.seen {
            self.seen = count;
            self.purged = false;
            false
        } else {
            !std::mem::replace(&mut self.purged, true)
        }
    }
}

/// Starts a thread that returns the OSD's spare memory to the kernel once
/// no message has arrived for a whole `idle` period after some did.
pub fn purge_when_idle(idle: Duration) {
    let spawned = std::thread::Builder::new().name("mem-purge".into()).spawn(move || {
        let mut watch = IdleWatch::new(MESSAGES.load(Ordering::Relaxed));
        loop {
            std::thread::sleep(idle);
            if watch.period_ended(MESSAGES.load(Ordering::Relaxed)) {
                objectstore::release_pooled_buffers();
                purge();
            }
        }
    });
    if let Err(e) = spawned {
        tracing::warn!("cannot start the memory purge thread ({e}); freed memory returns to the kernel within ten seconds instead");
    }
}

/// Returns every arena's unused dirty pages to the kernel.
fn purge() {
    // "arena.<MALLCTL_ARENAS_ALL>.purge", MALLCTL_ARENAS_ALL = 4096.
    let name = b"arena.4096.purge\0";
    // SAFETY: a void mallctl: the name is NUL-terminated and no old or new
    // value is read or written.
    let r = unsafe { tikv_jemalloc_sys::mallctl(name.as_ptr().cast(), std::ptr::null_mut(), std::ptr::null_mut(), std::ptr::null_mut(), 0) };
    if r != 0 {
        tracing::debug!(errno = r, "jemalloc purge failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Dirty pages jemalloc holds for reuse, over all arenas (bytes).
    fn dirty_bytes() -> usize {
        // SAFETY: mallctl with NUL-terminated names and correctly sized
        // out-values ("epoch" refreshes the stats; the others are size_t).
        unsafe {
            let mut epoch: u64 = 1;
            let mut len = std::mem::size_of::<u64>();
            tikv_jemalloc_sys::mallctl(b"epoch\0".as_ptr().cast(), (&mut epoch as *mut u64).cast(), &mut len, (&mut epoch as *mut u64).cast(), len);
            let mut page: usize = 0;
            let mut len = std::mem::size_of::<usize>();
            let r = tikv_jemalloc_sys::mallctl(b"arenas.page\0".as_ptr().cast(), (&mut page as *mut usize).cast(), &mut len, std::ptr::null_mut(), 0);
            assert_eq!(r, 0, "reading jemalloc's page size");
            let mut pages: usize = 0;
            let mut len = std::mem::size_of::<usize>();
            let r = tikv_jemalloc_sys::mallctl(b"stats.arenas.4096.pdirty\0".as_ptr().cast(), (&mut pages as *mut usize).cast(), &mut len, std::ptr::null_mut(), 0);
            assert_eq!(r, 0, "reading jemalloc's pdirty");
            pages * page
        }
    }

    #[test]
    fn freed_op_buffers_are_kept_while_busy_and_given_back_by_purge() {
        // Sixteen 4 MiB buffers, touched and freed, as a burst of big ops.
        let bufs: Vec<Vec<u8>> = (0..16).map(|i| vec![i as u8; 4 << 20]).collect();
        assert_eq!(bufs.iter().map(|b| b[4095] as usize).sum::<usize>(), (0..16usize).sum::<usize>());
        drop(bufs);
        let before = dirty_bytes();
        assert!(before >= 16 << 20, "freed buffers stay mapped for reuse: {before} bytes dirty");
        purge();
        let after = dirty_bytes();
        // Other tests of this binary may free memory meanwhile: compare.
        assert!(after + (16 << 20) <= before, "purge gives them back: {after} bytes dirty after, {before} before");
    }

    #[test]
    fn purges_once_per_idle_spell_and_only_after_activity() {
        let mut w = IdleWatch::new(5);
        // Idle from the start: nothing to give back.
        assert!(!w.period_ended(5));
        // Busy periods never purge; the first quiet one after them does, once.
        assert!(!w.period_ended(9));
        assert!(!w.period_ended(12));
        assert!(w.period_ended(12));
        assert!(!w.period_ended(12));
        assert!(!w.period_ended(12));
        // The next burst, then quiet again.
        assert!(!w.period_ended(13));
        assert!(w.period_ended(13));
    }
}
