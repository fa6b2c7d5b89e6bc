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

/// Messages that move data (client ops, replication, recovery) seen so far.
static DATA_MESSAGES: AtomicU64 = AtomicU64::new(0);

/// Counts one data-moving message: the OSD is busy.
pub fn note_activity() {
    DATA_MESSAGES.fetch_add(1, Ordering::Relaxed);
}

/// Starts a thread that purges jemalloc's retained pages once no data
/// message has arrived for a whole `idle` period after some did.
pub fn purge_when_idle(idle: Duration) {
    let spawned = std::thread::Builder::new().name("mem-purge".into()).spawn(move || {
        let mut seen = DATA_MESSAGES.load(Ordering::Relaxed);
        let mut purged = true;
        loop {
            std::thread::sleep(idle);
            let now = DATA_MESSAGES.load(Ordering::Relaxed);
            if now != seen {
                seen = now;
                purged = false;
            } else if !purged {
                purge();
                purged = true;
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
        // out-values ("epoch" refreshes the stats; "pdirty" is a size_t).
        unsafe {
            let mut epoch: u64 = 1;
            let mut len = std::mem::size_of::<u64>();
            tikv_jemalloc_sys::mallctl(b"epoch\0".as_ptr().cast(), (&mut epoch as *mut u64).cast(), &mut len, (&mut epoch as *mut u64).cast(), len);
            let mut pages: usize = 0;
            let mut len = std::mem::size_of::<usize>();
            let r = tikv_jemalloc_sys::mallctl(b"stats.arenas.4096.pdirty\0".as_ptr().cast(), (&mut pages as *mut usize).cast(), &mut len, std::ptr::null_mut(), 0);
            assert_eq!(r, 0, "reading jemalloc's pdirty");
            pages * 4096
        }
    }

    #[test]
    fn freed_op_buffers_are_kept_while_busy_and_given_back_by_purge() {
        // Sixteen 4 MiB buffers, touched and freed, as a burst of big ops.
        let bufs: Vec<Vec<u8>> = (0..16).map(|i| vec![i as u8; 4 << 20]).collect();
        assert_eq!(bufs.iter().map(|b| b[4095] as usize).sum::<usize>(), (0..16usize).sum::<usize>());
        drop(bufs);
        assert!(dirty_bytes() >= 16 << 20, "freed buffers stay mapped for reuse: {} bytes dirty", dirty_bytes());
        purge();
        assert!(dirty_bytes() < 4 << 20, "purge gives them back: {} bytes still dirty", dirty_bytes());
    }
}
