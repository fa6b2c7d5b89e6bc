//! The OSD's object store on RocksDB.
//!
//! Objects live in collections (one per PG). Each object has a size, its data
//! in fixed-size blocks (so a small read or write touches only the blocks it
//! covers, never the whole object), xattrs, an omap and an omap header. A
//! collection also holds metadata (PG info, PG log entries) under its own keys.
//!
//! Every [`Transaction`] is applied as one synced RocksDB write batch: after a
//! crash the store holds either all of a transaction or none of it.
//!
//! Whole data blocks written in one piece (the bulk of big writes) do not go
//! through RocksDB: like BlueStore's big writes they land once in a block file
//! (`block`), always in freshly allocated slots (copy-on-write, never over
//! live data), which is synced before the batch that points at them commits.
//! Slots are freed only after the batch that drops them commits, and the free
//! list is rebuilt from the `E` keys when the store opens, so a crash at any
//! point leaks nothing and exposes no half-written data.
//!
//! Small writes are BlueStore's deferred writes: part of a block already in
//! the block file is committed as a `W` record (slot, offset, bytes) in the
//! batch and written in place once the batch is durable; a later batch that
//! syncs the block file deletes the records, and records found on open are
//! written again. A slot stays allocated while a record names it. A partial
//! block with no slot stays inline in RocksDB while it is small, and moves to
//! a slot once it grows, so a 4 KiB overwrite costs 4 KiB of WAL rather than
//! rewriting the block. Callers must
//! not read an object while a transaction on that same object is applying
//! (the OSD serializes each PG's ops).
//!
//! Key layout (all keys start with a one-byte kind, then the collection name
//! and the escaped object name, so that one object's keys are contiguous):
//! - `O` coll obj           → onode (size)
//! - `D` coll obj block(u64 BE) → up to [`BLOCK`] bytes of data, inline
//! - `E` coll obj block(u64 BE) → slot (u64 LE) in the block file holding the
//!   block, then optionally a u16 LE mask of the 4 KiB sub-blocks written so
//!   far (absent: all); the others read as zeros, so a first small write into
//!   a fresh slot writes 4 KiB, not 64. A block is in `D` or `E` or neither,
//!   which reads as zeros.
//! - `X` coll obj name      → xattr value
//! - `M` coll obj key       → omap value
//! - `H` coll obj           → omap header
//! - `P` coll key           → collection metadata
//! - `C` coll               → collection exists
//! - `S` key                → store-wide metadata (the OSD superblock)
//! - `W` seq(u64 BE)        → deferred write: slot (u64 LE), offset in the
//!   slot (u64 LE), bytes

mod txn;
mod uring;

pub use txn::{Op, Transaction};

use bytes::Bytes;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Mutex;

/// Data block size: big enough for few keys per 4 MiB object, small enough
/// that a 4 KiB overwrite rewrites little.
pub const BLOCK: u64 = 64 * 1024;

/// A partial block up to this size stays inline in RocksDB (small objects,
/// the start of an append); a bigger one moves to a block-file slot, where
/// later small writes go in place (deferred).
const INLINE_MAX: usize = 16 * 1024;

/// Deferred-write records are deleted in batches of about this many: each
/// deletion needs a block-file sync first.
const DEFERRED_BATCH: usize = 64;

static ZEROS: [u8; BLOCK as usize] = [0; BLOCK as usize];

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("object store: {0}")]
    Db(String),
    #[error("corrupt object store record: {0}")]
    Corrupt(String),
}

impl From<rocksdb::Error> for Error {
    fn from(e: rocksdb::Error) -> Self {
        Error::Db(e.to_string())
    }
}

pub type Result<T> = std::result::Result<T, Error>;

/// An object's name within a collection: what the OSD orders and lists by.
/// `hash` is the object's placement hash (`ceph_str_hash_rjenkins` of its
/// name or locator key); objects are kept in Ceph's order, by the hash's
/// reversed bits, so that a listing cursor can be a hash position.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct ObjectId {
    pub hash: u32,
    pub nspace: String,
    pub key: String,
    pub name: String,
    pub snap: u64,
}

pub const NOSNAP: u64 = u64::MAX - 1;

impl ObjectId {
    pub fn head(hash: u32, nspace: &str, key: &str, name: &str) -> Self {
        ObjectId { hash, nspace: nspace.into(), key: key.into(), name: name.into(), snap: NOSNAP }
    }

    /// The order-preserving encoding used inside keys.
    pub fn encode_key(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.hash.reverse_bits().to_be_bytes());
        escape(self.nspace.as_bytes(), out);
        escape(self.key.as_bytes(), out);
        escape(self.name.as_bytes(), out);
        out.extend_from_slice(&self.snap.to_be_bytes());
    }

    pub fn decode_key(b: &[u8]) -> Result<(ObjectId, usize)> {
        if b.len() < 4 {
            return Err(Error::Corrupt("object key too short".into()));
        }
        let hash = u32::from_be_bytes(b[..4].try_into().expect("4")).reverse_bits();
        let mut off = 4;
        let nspace = unescape(b, &mut off)?;
        let key = unescape(b, &mut off)?;
        let name = unescape(b, &mut off)?;
        if b.len() < off + 8 {
            return Err(Error::Corrupt("object key without snap".into()));
        }
        let snap = u64::from_be_bytes(b[off..off + 8].try_into().expect("8"));
        Ok((ObjectId { hash, nspace, key, name, snap }, off + 8))
    }
}

/// 0x00 ends a string; 0x01 escapes 0x00 and 0x01. Keeps byte order.
fn escape(s: &[u8], out: &mut Vec<u8>) {
    for &c in s {
        match c {
            0 => out.extend_from_slice(&[1, 1]),
            1 => out.extend_from_slice(&[1, 2]),
            c => out.push(c),
        }
    }
    out.push(0);
}

fn unescape(b: &[u8], off: &mut usize) -> Result<String> {
    let mut s = Vec::new();
    loop {
        let c = *b.get(*off).ok_or_else(|| Error::Corrupt("unterminated name in key".into()))?;
        *off += 1;
        match c {
            0 => break,
            1 => {
                let n = *b.get(*off).ok_or_else(|| Error::Corrupt("bad escape in key".into()))?;
                *off += 1;
                s.push(n - 1);
            }
            c => s.push(c),
        }
    }
    String::from_utf8(s).map_err(|_| Error::Corrupt("name is not utf-8".into()))
}

fn coll_prefix(kind: u8, coll: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(coll.len() + 40);
    k.push(kind);
    escape(coll.as_bytes(), &mut k);
    k
}

fn obj_prefix(kind: u8, coll: &str, o: &ObjectId) -> Vec<u8> {
    let mut k = coll_prefix(kind, coll);
    o.encode_key(&mut k);
    k
}

fn block_key(coll: &str, o: &ObjectId, block: u64) -> Vec<u8> {
    kblock_key(b'D', coll, o, block)
}

fn extent_key(coll: &str, o: &ObjectId, block: u64) -> Vec<u8> {
    kblock_key(b'E', coll, o, block)
}

fn kblock_key(kind: u8, coll: &str, o: &ObjectId, block: u64) -> Vec<u8> {
    let mut k = obj_prefix(kind, coll, o);
    k.extend_from_slice(&block.to_be_bytes());
    k
}

fn named_key(kind: u8, coll: &str, o: &ObjectId, name: &[u8]) -> Vec<u8> {
    let mut k = obj_prefix(kind, coll, o);
    k.extend_from_slice(name);
    k
}

fn meta_key(coll: &str, key: &str) -> Vec<u8> {
    let mut k = coll_prefix(b'P', coll);
    k.extend_from_slice(key.as_bytes());
    k
}

/// Keys from `from` up to (not including) `to`. The upper bound matters: it
/// stops RocksDB at `to` instead of stepping over every tombstone after it
/// (a removed 4 MiB object leaves 64 behind) to find the next live key.
fn bounded<'a>(db: &'a rocksdb::DB, from: &[u8], to: Vec<u8>) -> rocksdb::DBIteratorWithThreadMode<'a, rocksdb::DB> {
    let mut ro = rocksdb::ReadOptions::default();
    ro.set_iterate_upper_bound(to);
    db.iterator_opt(rocksdb::IteratorMode::From(from, rocksdb::Direction::Forward), ro)
}

/// The smallest key greater than every key that starts with `p`.
fn prefix_end(p: &[u8]) -> Vec<u8> {
    let mut e = p.to_vec();
    while let Some(last) = e.pop() {
        if last < 0xff {
            e.push(last + 1);
            return e;
        }
    }
    vec![0xff; p.len() + 1]
}

/// Hands transactions to a store's commit thread (see [`Store::commit_queue`]).
#[derive(Clone)]
pub struct CommitQueue {
    tx: std::sync::mpsc::Sender<(Transaction, tokio::sync::oneshot::Sender<Result<()>>)>,
}

impl CommitQueue {
    /// Commits `t` durably; resolves once it (and whatever it was grouped with) is on disk.
    pub async fn commit(&self, t: Transaction) -> Result<()> {
        self.submit(t)?.await
    }

    /// Queues `t` now and returns what resolves once it is on disk.
    /// Transactions commit in the order they were submitted, so a caller can
    /// go on submitting (pipelining) without waiting for each one.
    pub fn submit(&self, t: Transaction) -> Result<impl std::future::Future<Output = Result<()>> + Send + 'static> {
        let (done, wait) = tokio::sync::oneshot::channel();
        self.tx.send((t, done)).map_err(|_| Error::Db("the store commit thread has stopped".into()))?;
        Ok(async move { wait.await.map_err(|_| Error::Db("the store commit thread has stopped".into()))? })
    }
}

pub struct Store {
    db: rocksdb::DB,
    /// Whole blocks, addressed by slot (offset = slot * BLOCK); reads go
    /// through the page cache.
    blocks: File,
    /// The same file opened O_DIRECT for writes, as BlueStore writes: no page
    /// cache copy, which on a small machine costs more than the disk. None
    /// where the filesystem refuses O_DIRECT (tmpfs).
    blocks_direct: Option<File>,
    slots: Mutex<Slots>,
    /// Deferred writes done in place whose records are still in RocksDB:
    /// (record seq, slot).
    deferred_done: Mutex<Vec<(u64, u64)>>,
    next_deferred: std::sync::atomic::AtomicU64,
    /// Block-file bytes below this have been written before (on open: the
    /// file's size). Cached writes go only there: a buffered write into a
    /// hole makes the filesystem allocate at writeback, several times slower
    /// than O_DIRECT.
    written_end: std::sync::atomic::AtomicU64,
    /// Tests: leave deferred writes unapplied, as a crash right after the
    /// commit would.
    #[cfg(test)]
    pub(crate) skip_in_place: std::sync::atomic::AtomicBool,
}

/// A small write into a committed slot, written in place after its batch commits.
struct DeferredWrite {
    seq: u64,
    slot: u64,
    off: u64,
    data: Bytes,
}

fn deferred_key(seq: u64) -> Vec<u8> {
    let mut k = vec![b'W'];
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

/// (slot, offset in the slot, bytes) of a `W` record.
fn parse_deferred(v: &[u8]) -> Result<(u64, u64, &[u8])> {
    let bad = || Error::Corrupt("bad deferred write record".into());
    let slot = u64::from_le_bytes(v.get(..8).ok_or_else(bad)?.try_into().map_err(|_| bad())?);
    let off = u64::from_le_bytes(v.get(8..16).ok_or_else(bad)?.try_into().map_err(|_| bad())?);
    let data = &v[16..];
    if slot > MAX_SLOT || off.checked_add(data.len() as u64).is_none_or(|e| e > BLOCK) {
        return Err(bad());
    }
    Ok((slot, off, data))
}

/// The block file's allocator (in memory; rebuilt from the `E` keys on open).
#[derive(Default)]
struct Slots {
    free: BTreeSet<u64>,
    /// First slot never handed out.
    next: u64,
    /// Slots named by deferred-write records still in RocksDB (how many):
    /// replaying a record after a crash writes into its slot, so the slot is
    /// not reused until its records are gone.
    pinned: HashMap<u64, u32>,
    /// Unreferenced slots waiting for their records to go.
    held: HashSet<u64>,
}

impl Slots {
    fn take(&mut self) -> u64 {
        self.free.pop_first().unwrap_or_else(|| {
            self.next += 1;
            self.next - 1
        })
    }
    fn give_back(&mut self, slots: impl IntoIterator<Item = u64>) {
        for s in slots {
            debug_assert!(s < self.next && !self.free.contains(&s), "slot {s} freed twice");
            if self.pinned.contains_key(&s) {
                self.held.insert(s);
            } else {
                self.free.insert(s);
            }
        }
    }
    /// The first of `k` consecutive slots: the lowest free run of that
    /// length, else fresh ones at the end. Big writes then stay one
    /// sequential write instead of scattering over freed slots.
    fn take_run(&mut self, k: u64) -> u64 {
        if k <= 1 {
            return self.take();
        }
        let (mut start, mut len, mut prev) = (0, 0, None);
        // Bounded scan: a huge, fragmented free list is not worth walking.
        for &s in self.free.iter().take(1 << 16) {
            if prev.is_some_and(|p| p + 1 == s) {
                len += 1;
            } else {
                (start, len) = (s, 1);
            }
            prev = Some(s);
            if len == k {
                for x in start..start + k {
                    self.free.remove(&x);
                }
                return start;
            }
        }
        self.next += k;
        self.next - k
    }
    fn pin(&mut self, s: u64) {
        *self.pinned.entry(s).or_default() += 1;
    }
    fn unpin(&mut self, s: u64) {
        match self.pinned.get_mut(&s) {
            Some(n) if *n > 1 => *n -= 1,
            Some(_) => {
                self.pinned.remove(&s);
                if self.held.remove(&s) {
                    self.free.insert(s);
                }
            }
            None => {}
        }
    }
}

const DIRECT_ALIGN: usize = 4096;

/// A heap buffer aligned for O_DIRECT, always initialised (zeroed when first
/// allocated). Big buffers (up to [`POOLED`] bytes, a whole 4 MiB object read
/// or write) come from and go back to a small pool: fresh pages would otherwise
/// be faulted in and zeroed by the kernel on every op.
struct AlignedBuf {
    ptr: std::ptr::NonNull<u8>,
    len: usize,
    cap: usize,
}

/// A 4 MiB object's data, and a page before it for a reply header.
const POOLED: usize = (4 << 20) + DIRECT_ALIGN;
const POOL_MAX: usize = 4;
/// Smaller buffers are cheap to allocate and not worth a pooled 4 MiB one.
const POOL_MIN: usize = 512 << 10;

struct PoolEntry(std::ptr::NonNull<u8>);
// SAFETY: a pooled allocation is owned by the pool alone.
unsafe impl Send for PoolEntry {}
static POOL: Mutex<Vec<PoolEntry>> = Mutex::new(Vec::new());

// SAFETY: AlignedBuf owns its allocation exclusively, like a Box<[u8]>.
unsafe impl Send for AlignedBuf {}
// SAFETY: shared access only reads.
unsafe impl Sync for AlignedBuf {}

impl AlignedBuf {
    fn layout(cap: usize) -> std::alloc::Layout {
        std::alloc::Layout::from_size_align(cap, DIRECT_ALIGN).expect("layout")
    }
    fn zeroed(len: usize) -> AlignedBuf {
        Self::zeroed_with_cap(len, len.max(1).next_multiple_of(DIRECT_ALIGN))
    }
    fn zeroed_with_cap(len: usize, cap: usize) -> AlignedBuf {
        let layout = Self::layout(cap);
        // SAFETY: the layout has a non-zero size and a valid alignment.
        let p = unsafe { std::alloc::alloc_zeroed(layout) };
        let Some(ptr) = std::ptr::NonNull::new(p) else { std::alloc::handle_alloc_error(layout) };
        AlignedBuf { ptr, len, cap }
    }
    /// A buffer whose contents are arbitrary (old data): the caller overwrites every byte.
    fn to_fill(len: usize) -> AlignedBuf {
        if (POOL_MIN..=POOLED).contains(&len) {
            if let Some(PoolEntry(ptr)) = POOL.lock().expect("pool lock").pop() {
                return AlignedBuf { ptr, len, cap: POOLED };
            }
            return Self::zeroed_with_cap(len, POOLED);
        }
        Self::zeroed(len)
    }
}

/// Frees the pooled read buffers (an idle OSD returns them to the kernel).
pub fn release_pooled_buffers() {
    let pooled = std::mem::take(&mut *POOL.lock().expect("pool lock"));
    for PoolEntry(ptr) in pooled {
        // SAFETY: pooled buffers were allocated with the POOLED layout and
        // are owned by the pool alone.
        unsafe { std::alloc::dealloc(ptr.as_ptr(), AlignedBuf::layout(POOLED)) }
    }
}

impl std::ops::Deref for AlignedBuf {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        // SAFETY: ptr owns cap >= len initialised bytes.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl std::ops::DerefMut for AlignedBuf {
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as above, and &mut self is exclusive.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl AsRef<[u8]> for AlignedBuf {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl Drop for AlignedBuf {
    fn drop(&mut self) {
        if self.cap == POOLED {
            let mut pool = POOL.lock().expect("pool lock");
            if pool.len() < POOL_MAX {
                pool.push(PoolEntry(self.ptr));
                return;
            }
        }
        // SAFETY: allocated in zeroed() with this same layout.
        unsafe { std::alloc::dealloc(self.ptr.as_ptr(), Self::layout(self.cap)) }
    }
}

/// Reads `buf.len()` bytes at `at`; past the end of the file reads zeros (a
/// new last slot holds only the sub-blocks written so far).
fn read_to_fill(f: &File, buf: &mut [u8], at: u64) -> std::io::Result<()> {
    let mut done = 0;
    while done < buf.len() {
        match f.read_at(&mut buf[done..], at + done as u64) {
            Ok(0) => {
                buf[done..].fill(0);
                break;
            }
            Ok(n) => done += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// cachestat(2)'s number: the generic table's 451, which x86-64, arm64 and
/// riscv64 share.
#[cfg(all(target_os = "linux", any(target_arch = "x86_64", target_arch = "aarch64", target_arch = "riscv64")))]
const SYS_CACHESTAT: Option<libc::c_long> = Some(451);
#[cfg(not(all(target_os = "linux", any(target_arch = "x86_64", target_arch = "aarch64", target_arch = "riscv64"))))]
const SYS_CACHESTAT: Option<libc::c_long> = None;

fn page_size() -> u64 {
    static PAGE: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    // SAFETY: sysconf has no preconditions.
    *PAGE.get_or_init(|| match unsafe { libc::sysconf(libc::_SC_PAGESIZE) } {
        n if n > 0 => n as u64,
        _ => 4096,
    })
}

fn is_aligned(x: u64) -> bool {
    x % DIRECT_ALIGN as u64 == 0
}


/// Sub-block granularity of an extent's written mask.
const SUB: u64 = 4096;
/// Highest slot whose byte offset fits a u64 (a corrupt record must not overflow).
const MAX_SLOT: u64 = u64::MAX / BLOCK - 1;
const FULL: u16 = u16::MAX;

fn slot_of(v: &[u8]) -> Result<u64> {
    extent_of(v).map(|(slot, _)| slot)
}

/// (slot, mask of written sub-blocks) of an `E` value.
fn extent_of(v: &[u8]) -> Result<(u64, u16)> {
    let bad = || Error::Corrupt("bad extent record".into());
    let slot = u64::from_le_bytes(v.get(..8).ok_or_else(bad)?.try_into().map_err(|_| bad())?);
    if slot > MAX_SLOT {
        return Err(bad());
    }
    match v.len() {
        8 => Ok((slot, FULL)),
        10 => Ok((slot, u16::from_le_bytes([v[8], v[9]]))),
        _ => Err(bad()),
    }
}

fn extent_value(slot: u64, mask: u16) -> Vec<u8> {
    let mut v = slot.to_le_bytes().to_vec();
    if mask != FULL {
        v.extend_from_slice(&mask.to_le_bytes());
    }
    v
}

/// The mask bits of sub-blocks [from, to) (offsets within a block).
fn sub_bits(from: u64, to: u64) -> u16 {
    if from >= to {
        return 0;
    }
    let (a, b) = (from / SUB, (to - 1) / SUB);
    (a..=b).fold(0u16, |m, i| m | (1 << i))
}

/// Byte ranges (within a block) of the sub-blocks `mask` leaves unwritten.
fn unwritten(mask: u16) -> impl Iterator<Item = (u64, u64)> {
    (0..(BLOCK / SUB)).filter(move |i| mask & (1 << i) == 0).map(|i| (i * SUB, (i + 1) * SUB))
}

/// Where one block of an object's data lives.
enum Loc {
    Hole,
    /// In RocksDB (`D`): the block's first bytes; the rest reads as zeros.
    Inline(Vec<u8>),
    /// In a block-file slot (`E`), with its written sub-blocks.
    Slot(u64, u16),
}

impl Loc {
    /// The (offset, length) ranges holding data of the block at object
    /// offset `bs` (no allocation: this runs per block of every sparse read).
    fn data_ranges(&self, bs: u64) -> impl Iterator<Item = (u64, u64)> {
        // A whole range, or the written sub-blocks of a partial slot.
        let (whole, mask) = match *self {
            Loc::Hole => (None, 0),
            Loc::Inline(ref d) => (Some((bs, d.len() as u64)), 0),
            Loc::Slot(_, FULL) => (Some((bs, BLOCK)), 0),
            Loc::Slot(_, mask) => (None, mask),
        };
        whole.into_iter().chain((0..BLOCK / SUB).filter(move |i| mask & (1 << i) != 0).map(move |i| (bs + i * SUB, SUB)))
    }
}

/// Appends [s, s+n) clipped to [off, end) to sorted extents, merging it
/// into the last one where they touch.
fn push_clipped(exts: &mut Vec<(u64, u64)>, s: u64, n: u64, off: u64, end: u64) {
    let (s, e) = (s.max(off), (s + n).min(end));
    if s >= e {
        return;
    }
    match exts.last_mut() {
        Some(l) if l.0 + l.1 == s => l.1 += e - s,
        _ => exts.push((s, e - s)),
    }
}

/// A transaction's pending view of keys: what it wrote so far (None = deleted),
/// and the block-file slots it took and dropped.
struct Overlay<'a> {
    db: &'a rocksdb::DB,
    w: HashMap<Vec<u8>, Option<Vec<u8>>>,
    /// Slots taken by this transaction (unreferenced until it commits).
    taken: HashSet<u64>,
    /// Committed slots this transaction stops referencing: free once it commits.
    dropped: Vec<u64>,
    /// Slots taken and dropped again within this transaction: free either way.
    scratch: Vec<u64>,
    /// Block-file write not yet issued: `data[range]` goes to consecutive slots
    /// from the first; a slice of the op's buffer, never a copy.
    pending: Option<(u64, Bytes, std::ops::Range<usize>)>,
    /// Whether the transaction being applied writes through the page cache.
    cache: bool,
    wrote_blocks: bool,
    /// Small writes into committed slots, for after the commit.
    deferred: Vec<DeferredWrite>,
    /// Deferred-write records (seq, slot) this batch deletes.
    cleaned: Vec<(u64, u64)>,
}

impl Overlay<'_> {
    /// Whether the block-file write not yet issued covers `slot`.
    fn pending_covers(&self, slot: u64) -> bool {
        self.pending.as_ref().is_some_and(|(f, _, r)| slot >= *f && slot < f + (r.end - r.start) as u64 / BLOCK)
    }
}

impl<'a> Overlay<'a> {
    fn get(&self, k: &[u8]) -> Result<Option<Vec<u8>>> {
        if let Some(v) = self.w.get(k) {
            return Ok(v.clone());
        }
        Ok(self.db.get(k)?)
    }
    fn put(&mut self, k: Vec<u8>, v: Vec<u8>) {
        self.w.insert(k, Some(v));
    }
    fn del(&mut self, k: Vec<u8>) {
        self.w.insert(k, None);
    }
    /// Keys under `p` as the transaction sees them (db keys plus our writes).
    fn keys(&self, p: &[u8]) -> Result<Vec<Vec<u8>>> {
        let mut keys: std::collections::BTreeSet<Vec<u8>> = std::collections::BTreeSet::new();
        let it = bounded(&self.db, p, prefix_end(p));
        for item in it {
            let (k, _) = item?;
            if !k.starts_with(p) {
                break;
            }
            keys.insert(k.to_vec());
        }
        for (k, v) in &self.w {
            if k.starts_with(p) {
                if v.is_some() {
                    keys.insert(k.clone());
                } else {
                    keys.remove(k);
                }
            }
        }
        Ok(keys.into_iter().collect())
    }
    fn del_prefix(&mut self, p: &[u8]) -> Result<()> {
        for k in self.keys(p)? {
            self.del(k);
        }
        Ok(())
    }
    /// (key, value) pairs in [from, to) as the transaction sees them.
    fn entries_between(&self, from: &[u8], to: &[u8]) -> Result<BTreeMap<Vec<u8>, Vec<u8>>> {
        let mut out = BTreeMap::new();
        for item in bounded(&self.db, from, to.to_vec()) {
            let (k, v) = item?;
            if k.as_ref() >= to {
                break;
            }
            out.insert(k.to_vec(), v.to_vec());
        }
        for (k, v) in &self.w {
            if k.as_slice() >= from && k.as_slice() < to {
                match v {
                    Some(v) => out.insert(k.clone(), v.clone()),
                    None => out.remove(k),
                };
            }
        }
        Ok(out)
    }
    /// This transaction no longer references `slot`.
    fn drop_slot(&mut self, slot: u64) {
        if self.taken.remove(&slot) {
            self.scratch.push(slot);
        } else {
            self.dropped.push(slot);
        }
    }
}

fn onode_size(v: &[u8]) -> Result<u64> {
    let b: [u8; 8] = v.get(..8).and_then(|s| s.try_into().ok()).ok_or_else(|| Error::Corrupt("short onode".into()))?;
    Ok(u64::from_le_bytes(b))
}

impl Store {
    /// Opens (or with `create`, creates) the store at `dir`.
    pub fn open(dir: &Path, create: bool) -> Result<Store> {
        let mut o = rocksdb::Options::default();
        o.create_if_missing(create);
        o.set_max_background_jobs(2);
        // Data blocks are mostly incompressible payload; keep the CPU for ops.
        o.set_compression_type(rocksdb::DBCompressionType::None);
        // Most lookups while writing are for keys that do not exist yet.
        let mut bo = rocksdb::BlockBasedOptions::default();
        bo.set_bloom_filter(10.0, false);
        // Metadata and small inline data (bulk data is in the block file);
        // RocksDB's default 32 MiB cache would be most of the OSD's RSS.
        // Misses are served from the kernel's page cache of the table files.
        bo.set_block_cache(&rocksdb::Cache::new_lru_cache(8 << 20));
        o.set_block_based_table_factory(&bo);
        // Big data bypasses RocksDB (block file); its memtables hold small
        // writes and metadata, so they can stay small (they count in RSS).
        o.set_write_buffer_size(8 << 20);
        let path = dir.join("store.db");
        if !create && !path.exists() {
            return Err(Error::Db(format!("no object store at {} (run ceph-osd --mkfs first)", path.display())));
        }
        let db = rocksdb::DB::open(&o, &path)?;
        let blocks = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(create)
            .truncate(false)
            .open(dir.join("block"))
            .map_err(|e| Error::Db(format!("opening block file in {}: {e}", dir.display())))?;
        let blocks_direct = {
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new().read(true).write(true).custom_flags(libc::O_DIRECT).open(dir.join("block")).ok()
        };
        // Deferred writes whose in-place copy may not be on disk: write them
        // again (in order; doing so twice is harmless), then drop the records.
        let mut replayed = rocksdb::WriteBatch::default();
        for item in bounded(&db, b"W", b"X".to_vec()) {
            let (k, v) = item?;
            let (slot, off, data) = parse_deferred(&v)?;
            blocks.write_all_at(data, slot * BLOCK + off).map_err(|e| Error::Db(format!("replaying a deferred write: {e}")))?;
            replayed.delete(k);
        }
        if !replayed.is_empty() {
            blocks.sync_data().map_err(|e| Error::Db(format!("syncing block file: {e}")))?;
            let mut wo = rocksdb::WriteOptions::default();
            wo.set_sync(true);
            db.write_opt(replayed, &wo)?;
        }
        // Every slot an `E` key names is in use; the rest below the highest is free.
        let mut used = BTreeSet::new();
        for item in bounded(&db, b"E", b"F".to_vec()) {
            let (k, v) = item?;
            if k.first() != Some(&b'E') {
                break;
            }
            used.insert(slot_of(&v)?);
        }
        let next = used.last().map_or(0, |s| s + 1);
        let free = (0..next).filter(|s| !used.contains(s)).collect();
        let written_end = blocks.metadata().map(|m| m.len()).unwrap_or(0).min(next * BLOCK);
        Ok(Store {
            db,
            blocks,
            blocks_direct,
            written_end: std::sync::atomic::AtomicU64::new(written_end),
            slots: Mutex::new(Slots { free, next, ..Default::default() }),
            deferred_done: Mutex::new(Vec::new()),
            next_deferred: Default::default(),
            #[cfg(test)]
            skip_in_place: Default::default(),
        })
    }

    fn read_slot(&self, slot: u64, out: &mut [u8]) -> Result<()> {
        read_to_fill(&self.blocks, out, slot * BLOCK).map_err(|e| Error::Db(format!("reading block file slot {slot}: {e}")))
    }

    /// Block-file slots in use and free (for tests and `ceph osd df`-style
    /// accounting); slots waiting for deferred-write records count as neither.
    pub fn slot_usage(&self) -> (u64, u64) {
        let s = self.slots.lock().expect("slots lock");
        (s.next - s.free.len() as u64 - s.held.len() as u64, s.free.len() as u64)
    }

    pub fn get_super(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let mut k = vec![b'S'];
        k.extend_from_slice(key.as_bytes());
        Ok(self.db.get(k)?)
    }

    pub fn collection_exists(&self, coll: &str) -> Result<bool> {
        Ok(self.db.get(coll_prefix(b'C', coll))?.is_some())
    }

    /// All collections, in order.
    pub fn list_collections(&self) -> Result<Vec<String>> {
        let mut out = Vec::new();
        let it = bounded(&self.db, b"C", b"D".to_vec());
        for item in it {
            let (k, _) = item?;
            if k.first() != Some(&b'C') {
                break;
            }
            let mut off = 1;
            out.push(unescape(&k, &mut off)?);
        }
        Ok(out)
    }

    pub fn get_meta(&self, coll: &str, key: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.db.get(meta_key(coll, key))?)
    }

    /// Collection metadata keys starting with `prefix`, in order.
    pub fn scan_meta(&self, coll: &str, prefix: &str) -> Result<Vec<(String, Vec<u8>)>> {
        let p = meta_key(coll, prefix);
        let base = coll_prefix(b'P', coll).len();
        let mut out = Vec::new();
        for item in bounded(&self.db, &p, prefix_end(&p)) {
            let (k, v) = item?;
            if !k.starts_with(&p) {
                break;
            }
            out.push((String::from_utf8_lossy(&k[base..]).into_owned(), v.to_vec()));
        }
        Ok(out)
    }

    /// The object's size, or None when it does not exist.
    pub fn stat(&self, coll: &str, o: &ObjectId) -> Result<Option<u64>> {
        match self.db.get(obj_prefix(b'O', coll, o))? {
            Some(v) => Ok(Some(onode_size(&v)?)),
            None => Ok(None),
        }
    }

    /// Reads `len` bytes at `off` (clipped to the object's size). Holes read as zeros.
    pub fn read(&self, coll: &str, o: &ObjectId, off: u64, len: u64) -> Result<Bytes> {
        self.read_after(coll, o, off, len, &[])
    }

    /// [`Store::read`], returned with `head` in front of the data in the
    /// same buffer, so a reply that prefixes the data need not copy it.
    pub fn read_after(&self, coll: &str, o: &ObjectId, off: u64, len: u64, head: &[u8]) -> Result<Bytes> {
        let size = self.stat(coll, o)?.unwrap_or(0);
        let end = size.min(off.saturating_add(len));
        if off >= end {
            return Ok(Bytes::copy_from_slice(head));
        }
        let first = off / BLOCK;
        let locs = self.locate(coll, o, first, (end - 1) / BLOCK)?;
        self.fill_after(head, &[(off, end - off)], first, &locs)
    }

    /// Ceph's sparse read of [off, off+len): the extents that hold data
    /// (block-file blocks by written sub-block, inline blocks up to their
    /// length), and their bytes one after another behind `head(extents)` in
    /// one buffer, so that the reply's extent map and the data are not copied
    /// into each other.
    pub fn sparse_read<H: AsRef<[u8]>>(&self, coll: &str, o: &ObjectId, off: u64, len: u64, head: impl FnOnce(&[(u64, u64)]) -> H) -> Result<(Vec<(u64, u64)>, Bytes)> {
        let size = self.stat(coll, o)?.unwrap_or(0);
        let end = size.min(off.saturating_add(len));
        if off >= end {
            return Ok((Vec::new(), Bytes::copy_from_slice(head(&[]).as_ref())));
        }
        let first = off / BLOCK;
        let locs = self.locate(coll, o, first, (end - 1) / BLOCK)?;
        let mut exts = Vec::new();
        for (i, loc) in locs.iter().enumerate() {
            for (s, n) in loc.data_ranges((first + i as u64) * BLOCK) {
                push_clipped(&mut exts, s, n, off, end);
            }
        }
        let data = self.fill_after(head(&exts).as_ref(), &exts, first, &locs)?;
        Ok((exts, data))
    }

    /// Where each of blocks `first..=last` of an object lives.
    fn locate(&self, coll: &str, o: &ObjectId, first: u64, last: u64) -> Result<Vec<Loc>> {
        let dkeys: Vec<Vec<u8>> = (first..=last).map(|b| block_key(coll, o, b)).collect();
        let ekeys: Vec<Vec<u8>> = (first..=last).map(|b| extent_key(coll, o, b)).collect();
        let inline = self.db.multi_get(&dkeys);
        let extents = self.db.multi_get(&ekeys);
        let mut locs = Vec::with_capacity(dkeys.len());
        for (d, x) in inline.into_iter().zip(extents) {
            locs.push(match (x?, d?) {
                (Some(v), _) => {
                    let (slot, mask) = extent_of(&v)?;
                    Loc::Slot(slot, mask)
                }
                (None, Some(data)) => Loc::Inline(data),
                (None, None) => Loc::Hole,
            });
        }
        Ok(locs)
    }

    /// A buffer holding `head`, then the object bytes of `exts` one after
    /// another (holes and unwritten sub-blocks as zeros). `locs` are blocks
    /// `first..` and cover every extent.
    fn fill_after(&self, head: &[u8], exts: &[(u64, u64)], first: u64, locs: &[Loc]) -> Result<Bytes> {
        let total: u64 = exts.iter().map(|(_, n)| n).sum();
        // The data starts page-aligned (O_DIRECT reads go straight into it),
        // with the head just before it.
        let pad = head.len().next_multiple_of(DIRECT_ALIGN);
        let mut buf = AlignedBuf::to_fill(pad + total as usize);
        buf[pad - head.len()..pad].copy_from_slice(head);
        // Every byte of `out` is written below: data, or zeros.
        let out: &mut [u8] = &mut buf[pad..];
        // Block-file reads (file offset, offset in out, length), merged where
        // consecutive slots hold consecutive bytes.
        let mut runs: Vec<(u64, usize, usize)> = Vec::new();
        // Unwritten sub-blocks inside those reads, zeroed after them.
        let mut zero_after: Vec<(usize, usize)> = Vec::new();
        let mut pos = 0usize;
        for &(eo, el) in exts {
            let end = eo + el;
            let mut s = eo;
            while s < end {
                let b = s / BLOCK;
                let bs = b * BLOCK;
                let e = end.min(bs + BLOCK);
                let (dst, n) = (pos + (s - eo) as usize, (e - s) as usize);
                let loc = b.checked_sub(first).and_then(|i| locs.get(i as usize)).ok_or_else(|| Error::Db(format!("block {b} not looked up")))?;
                match loc {
                    Loc::Hole => out[dst..dst + n].fill(0),
                    Loc::Inline(data) => {
                        // Past what the block stores reads as zeros.
                        let src = data.get((s - bs) as usize..).unwrap_or_default();
                        let k = src.len().min(n);
                        out[dst..dst + k].copy_from_slice(&src[..k]);
                        out[dst + k..dst + n].fill(0);
                    }
                    Loc::Slot(slot, mask) => {
                        let at = slot * BLOCK + (s - bs);
                        match runs.last_mut() {
                            Some((ra, rd, rn)) if *ra + *rn as u64 == at && *rd + *rn == dst => *rn += n,
                            _ => runs.push((at, dst, n)),
                        }
                        for (us, ue) in unwritten(*mask) {
                            let (zs, ze) = ((bs + us).max(s), (bs + ue).min(e));
                            if zs < ze {
                                zero_after.push((dst + (zs - s) as usize, (ze - zs) as usize));
                            }
                        }
                    }
                }
                s = e;
            }
            pos += el as usize;
        }
        self.read_runs(out, &runs)?;
        for (z, n) in zero_after {
            out[z..z + n].fill(0);
        }
        Ok(Bytes::from_owner(buf).slice(pad - head.len()..))
    }

    /// Reads block-file runs (file offset, offset in `out`, length) into
    /// `out`: several at once through io_uring where the kernel has it,
    /// else one by one. Direct reads where aligned, like BlueStore's, unless
    /// the page cache holds the run (written by this OSD as primary), which
    /// is several times faster than the disk.
    fn read_runs(&self, out: &mut [u8], runs: &[(u64, usize, usize)]) -> Result<()> {
        let err = |e: std::io::Error| Error::Db(format!("reading block file: {e}"));
        let base = out.as_ptr() as usize;
        let file_for = |at: u64, dst: usize, n: usize| match &self.blocks_direct {
            Some(f) if is_aligned(at) && (base + dst) % DIRECT_ALIGN == 0 && is_aligned(n as u64) && !self.all_cached(at, n as u64) => f,
            _ => &self.blocks,
        };
        if runs.iter().any(|&(_, dst, n)| dst.checked_add(n).is_none_or(|e| e > out.len())) {
            return Err(Error::Db("block read outside its buffer".into()));
        }
        if runs.len() > 1 {
            let p = out.as_mut_ptr();
            let reads: Vec<uring::Read> = runs
                .iter()
                // SAFETY: dst + n <= out.len(), checked above.
                .map(|&(at, dst, n)| uring::Read { fd: file_for(at, dst, n).as_raw_fd(), at, buf: unsafe { p.add(dst) }, len: n })
                .collect();
            // SAFETY: the runs lie within `out` (checked above) and do not
            // overlap (each has its own range of the output), and `out` is
            // not touched until the batch returns.
            if let Some(got) = unsafe { uring::read_batch(&reads) } {
                // Short reads (the end of the file) and failed ones are
                // finished one by one: past the end reads as zeros, and an
                // error there is the disk's.
                for (&(at, dst, n), k) in runs.iter().zip(got) {
                    let k = k.unwrap_or(0).min(n);
                    if k < n {
                        read_to_fill(&self.blocks, &mut out[dst + k..dst + n], at + k as u64).map_err(err)?;
                    }
                }
                return Ok(());
            }
        }
        for &(at, dst, n) in runs {
            read_to_fill(file_for(at, dst, n), &mut out[dst..dst + n], at).map_err(err)?;
        }
        Ok(())
    }

    /// Whether every page of block-file bytes [at, at+len) is in the page
    /// cache (elsewhere than Linux 6.5+, nothing counts as cached).
    fn all_cached(&self, at: u64, len: u64) -> bool {
        let page = page_size();
        len > 0 && self.cached_pages(at, len).is_some_and(|n| n >= (at + len - 1) / page - at / page + 1)
    }

    /// How many pages of block-file bytes [at, at+len) the page cache holds
    /// (cachestat(2)), or None where the kernel cannot say.
    fn cached_pages(&self, at: u64, len: u64) -> Option<u64> {
        #[repr(C)]
        struct Range {
            off: u64,
            len: u64,
        }
        #[repr(C)]
        #[derive(Default)]
        struct Stat {
            nr_cache: u64,
            nr_dirty: u64,
            nr_writeback: u64,
            nr_evicted: u64,
            nr_recently_evicted: u64,
        }
        static UNSUPPORTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
        let nr = SYS_CACHESTAT?;
        if UNSUPPORTED.load(std::sync::atomic::Ordering::Relaxed) {
            return None;
        }
        let range = Range { off: at, len };
        let mut st = Stat::default();
        // SAFETY: both pointers are to live, properly laid out structs for the call's duration.
        let r = unsafe { libc::syscall(nr, self.blocks.as_raw_fd(), &range as *const Range, &mut st as *mut Stat, 0u32) };
        if r != 0 {
            // Not on this kernel, or refused (seccomp): do not ask again.
            if matches!(std::io::Error::last_os_error().raw_os_error(), Some(libc::ENOSYS | libc::EPERM)) {
                UNSUPPORTED.store(true, std::sync::atomic::Ordering::Relaxed);
            }
            return None;
        }
        Some(st.nr_cache)
    }

    /// Extents that hold data (block granularity, clipped to [off, off+len) and the size).
    pub fn data_extents(&self, coll: &str, o: &ObjectId, off: u64, len: u64) -> Result<Vec<(u64, u64)>> {
        let size = self.stat(coll, o)?.unwrap_or(0);
        let end = size.min(off.saturating_add(len));
        let mut out: Vec<(u64, u64)> = Vec::new();
        if off >= end {
            return Ok(out);
        }
        // Blocks in order: inline (`D`) and block-file (`E`) ones, which
        // are never both present for one block.
        let mut blocks: BTreeMap<u64, Loc> = BTreeMap::new();
        for kind in [b'D', b'E'] {
            let p = obj_prefix(kind, coll, o);
            let start = kblock_key(kind, coll, o, off / BLOCK);
            for item in bounded(&self.db, &start, prefix_end(&p)) {
                let (k, v) = item?;
                if !k.starts_with(&p) || k.len() != p.len() + 8 {
                    break;
                }
                let b = u64::from_be_bytes(k[p.len()..].try_into().expect("8"));
                if b * BLOCK >= end {
                    break;
                }
                let loc = if kind == b'E' {
                    let (slot, mask) = extent_of(&v)?;
                    Loc::Slot(slot, mask)
                } else {
                    Loc::Inline(v.to_vec())
                };
                blocks.insert(b, loc);
            }
        }
        for (b, loc) in blocks {
            for (s, n) in loc.data_ranges(b * BLOCK) {
                push_clipped(&mut out, s, n, off, end);
            }
        }
        Ok(out)
    }

    pub fn getattr(&self, coll: &str, o: &ObjectId, name: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.db.get(named_key(b'X', coll, o, name.as_bytes()))?)
    }

    pub fn getattrs(&self, coll: &str, o: &ObjectId) -> Result<BTreeMap<String, Bytes>> {
        let p = obj_prefix(b'X', coll, o);
        let mut out = BTreeMap::new();
        for (k, v) in self.scan(&p, &p, usize::MAX)? {
            out.insert(String::from_utf8_lossy(&k).into_owned(), v);
        }
        Ok(out)
    }

    pub fn omap_header(&self, coll: &str, o: &ObjectId) -> Result<Bytes> {
        Ok(self.db.get(obj_prefix(b'H', coll, o))?.map(Bytes::from).unwrap_or_default())
    }

    /// Omap entries with keys after `after` (or from `start` inclusive), at most `max`.
    pub fn omap_range(&self, coll: &str, o: &ObjectId, start: &[u8], after: bool, max: usize) -> Result<Vec<(Bytes, Bytes)>> {
        let p = obj_prefix(b'M', coll, o);
        let mut from = p.clone();
        from.extend_from_slice(start);
        if after {
            from.push(0);
        }
        Ok(self.scan(&p, &from, max)?.into_iter().map(|(k, v)| (Bytes::from(k), v)).collect())
    }

    pub fn omap_get(&self, coll: &str, o: &ObjectId, keys: &[Bytes]) -> Result<Vec<(Bytes, Bytes)>> {
        let ks: Vec<Vec<u8>> = keys.iter().map(|k| named_key(b'M', coll, o, k)).collect();
        let mut out = Vec::new();
        for (k, v) in keys.iter().zip(self.db.multi_get(&ks)) {
            if let Some(v) = v? {
                out.push((k.clone(), Bytes::from(v)));
            }
        }
        Ok(out)
    }

    /// (suffix after `prefix`, value) pairs from `from`, at most `max`.
    fn scan(&self, prefix: &[u8], from: &[u8], max: usize) -> Result<Vec<(Vec<u8>, Bytes)>> {
        let mut out = Vec::new();
        for item in bounded(&self.db, from, prefix_end(prefix)) {
            if out.len() >= max {
                break;
            }
            let (k, v) = item?;
            if !k.starts_with(prefix) {
                break;
            }
            out.push((k[prefix.len()..].to_vec(), Bytes::from(v.to_vec())));
        }
        Ok(out)
    }

    /// Objects of a collection from `start` (inclusive) in order, at most `max`,
    /// with their sizes.
    pub fn list(&self, coll: &str, start: Option<&ObjectId>, max: usize) -> Result<Vec<(ObjectId, u64)>> {
        let p = coll_prefix(b'O', coll);
        let from = match start {
            Some(o) => obj_prefix(b'O', coll, o),
            None => p.clone(),
        };
        let mut out = Vec::new();
        for item in bounded(&self.db, &from, prefix_end(&p)) {
            if out.len() >= max {
                break;
            }
            let (k, v) = item?;
            if !k.starts_with(&p) {
                break;
            }
            let (o, _) = ObjectId::decode_key(&k[p.len()..])?;
            out.push((o, onode_size(&v)?));
        }
        Ok(out)
    }

    /// Applies `t` atomically and durably (one synced write batch).
    pub fn apply(&self, t: &Transaction) -> Result<()> {
        self.apply_opts(t, true)
    }

    pub fn apply_opts(&self, t: &Transaction, sync: bool) -> Result<()> {
        self.apply_group(&[t], sync)
    }

    /// Applies several transactions, in order, as one atomic synced batch: one
    /// block-file sync and one WAL sync for all of them (group commit).
    pub fn apply_group(&self, ts: &[&Transaction], sync: bool) -> Result<()> {
        let mut ov = Overlay {
            db: &self.db,
            w: HashMap::new(),
            taken: HashSet::new(),
            dropped: Vec::new(),
            scratch: Vec::new(),
            pending: None,
            cache: false,
            wrote_blocks: false,
            deferred: Vec::new(),
            cleaned: Vec::new(),
        };
        let r = self.apply_in(&mut ov, ts, sync);
        let mut slots = self.slots.lock().expect("slots lock");
        if r.is_ok() {
            // Pins first: a slot this batch both writes deferred and drops waits for its record.
            for d in &ov.deferred {
                slots.pin(d.slot);
            }
            for (_, slot) in &ov.cleaned {
                slots.unpin(*slot);
            }
        }
        slots.give_back(std::mem::take(&mut ov.scratch));
        match r {
            Ok(()) => slots.give_back(std::mem::take(&mut ov.dropped)),
            // Nothing committed: what we took is unreferenced again, and the
            // records we meant to delete are still there.
            Err(_) => {
                slots.give_back(std::mem::take(&mut ov.taken));
                self.deferred_done.lock().expect("deferred lock").append(&mut ov.cleaned);
            }
        }
        drop(slots);
        if r.is_ok() && !ov.deferred.is_empty() {
            self.write_deferred(ov.deferred);
        }
        r
    }

    /// Writes committed deferred writes in place.
    fn write_deferred(&self, ds: Vec<DeferredWrite>) {
        #[cfg(test)]
        if self.skip_in_place.load(std::sync::atomic::Ordering::Relaxed) {
            return;
        }
        let mut done = Vec::with_capacity(ds.len());
        for d in ds {
            // Through the page cache: the record is the durable copy, and the
            // block-file sync before the records go flushes these writes, so
            // the commit thread need not wait for the disk here.
            if let Err(e) = self.blocks.write_all_at(&d.data, d.slot * BLOCK + d.off) {
                // The batch is committed but the block is stale, so reads
                // would return old data. Like BlueStore on an I/O error, stop;
                // the record is written again when the store next opens.
                eprintln!("object store: writing a committed deferred write in place failed: {e}; aborting");
                std::process::abort();
            }
            done.push((d.seq, d.slot));
        }
        self.deferred_done.lock().expect("deferred lock").extend(done);
    }

    /// Writes `buf` at block-file offset `at`: O_DIRECT where it is aligned
    /// (through a bounce buffer if only the memory is not), else, or when
    /// the data should stay cached for reads, buffered.
    fn write_at(&self, at: u64, buf: &[u8], cache: bool) -> Result<()> {
        let end = at + buf.len() as u64;
        let cache = cache && end <= self.written_end.load(std::sync::atomic::Ordering::Relaxed);
        let r = match &self.blocks_direct {
            Some(f) if !cache && is_aligned(at) && is_aligned(buf.len() as u64) => {
                if buf.as_ptr() as usize % DIRECT_ALIGN == 0 {
                    f.write_all_at(buf, at)
                } else {
                    let mut a = AlignedBuf::to_fill(buf.len());
                    a.copy_from_slice(buf);
                    f.write_all_at(&a, at)
                }
            }
            _ => self.blocks.write_all_at(buf, at).map(|()| {
                // Start the writeback now, so the disk works while the batch
                // goes on and the commit's sync finds it under way.
                // SAFETY: plain syscall on an open descriptor; a failure only
                // leaves the writeback to that sync.
                unsafe { libc::sync_file_range(self.blocks.as_raw_fd(), at as i64, buf.len() as i64, libc::SYNC_FILE_RANGE_WRITE) };
            }),
        };
        r.map_err(|e| Error::Db(format!("writing block file: {e}")))?;
        self.written_end.fetch_max(end, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }

    /// Starts a commit thread for this store: transactions handed to the
    /// returned queue while a commit is in progress are committed together.
    pub fn commit_queue(self: &std::sync::Arc<Self>) -> CommitQueue {
        self.commit_queue_delayed(std::time::Duration::ZERO)
    }

    /// [`Store::commit_queue`] whose every commit first waits `delay`: a test
    /// hook (`osd_debug_commit_delay`) to hold writes in flight, where
    /// ordering bugs between a write's log and its data would show.
    pub fn commit_queue_delayed(self: &std::sync::Arc<Self>, delay: std::time::Duration) -> CommitQueue {
        let (tx, rx) = std::sync::mpsc::channel::<(Transaction, tokio::sync::oneshot::Sender<Result<()>>)>();
        let store = self.clone();
        std::thread::Builder::new()
            .name("store-commit".into())
            .spawn(move || {
                while let Ok(first) = rx.recv() {
                    if !delay.is_zero() {
                        std::thread::sleep(delay);
                    }
                    let mut group = vec![first];
                    while group.len() < 256 {
                        match rx.try_recv() {
                            Ok(x) => group.push(x),
                            Err(_) => break,
                        }
                    }
                    let ts: Vec<&Transaction> = group.iter().map(|(t, _)| t).collect();
                    if store.apply_group(&ts, true).is_ok() {
                        for (_, done) in group {
                            let _ = done.send(Ok(()));
                        }
                        continue;
                    }
                    // One bad transaction must not fail the others: one by one.
                    for (t, done) in group {
                        let _ = done.send(store.apply(&t));
                    }
                }
            })
            .expect("spawning the store commit thread");
        CommitQueue { tx }
    }

    fn apply_in(&self, ov: &mut Overlay, ts: &[&Transaction], sync: bool) -> Result<()> {
        for t in ts {
            if t.cache != ov.cache {
                self.flush_pending(ov)?;
                ov.cache = t.cache;
            }
            for op in &t.ops {
                self.apply_op(ov, op)?;
            }
        }
        self.flush_pending(ov)?;
        // Records of deferred writes already in place go once the block-file
        // sync below has made those writes durable: with a sync we do anyway,
        // or when enough have gathered.
        {
            let mut done = self.deferred_done.lock().expect("deferred lock");
            if sync && (done.len() >= DEFERRED_BATCH || (ov.wrote_blocks && !done.is_empty())) {
                ov.cleaned = std::mem::take(&mut *done);
            }
        }
        for i in 0..ov.cleaned.len() {
            ov.del(deferred_key(ov.cleaned[i].0));
        }
        if (ov.wrote_blocks || !ov.cleaned.is_empty()) && sync {
            // The data must be durable before any key points at it.
            self.blocks.sync_data().map_err(|e| Error::Db(format!("syncing block file: {e}")))?;
        }
        let mut b = rocksdb::WriteBatch::default();
        for (k, v) in ov.w.drain() {
            match v {
                Some(v) => b.put(k, v),
                None => b.delete(k),
            }
        }
        let mut wo = rocksdb::WriteOptions::default();
        wo.set_sync(sync);
        self.db.write_opt(b, &wo)?;
        Ok(())
    }

    /// Queues `data[range]` (one whole block) for `slot`, merging runs of
    /// consecutive slots fed from consecutive bytes into one write.
    fn write_slot(&self, ov: &mut Overlay, slot: u64, data: &Bytes, range: std::ops::Range<usize>) -> Result<()> {
        if let Some((first, d, r)) = &mut ov.pending {
            let same_buf = d.as_ptr() == data.as_ptr() && d.len() == data.len();
            let fits = range.end - r.start <= POOLED;
            if same_buf && fits && r.end == range.start && *first + ((r.end - r.start) as u64 / BLOCK) == slot {
                r.end = range.end;
                return Ok(());
            }
        }
        self.flush_pending(ov)?;
        ov.pending = Some((slot, data.clone(), range));
        Ok(())
    }

    fn flush_pending(&self, ov: &mut Overlay) -> Result<()> {
        if let Some((first, d, r)) = ov.pending.take() {
            self.write_at(first * BLOCK, &d[r], ov.cache)?;
            ov.wrote_blocks = true;
        }
        Ok(())
    }

    /// The bytes of a block-file block, including writes this batch has not
    /// issued yet; unwritten sub-blocks read as zeros.
    fn slot_bytes(&self, ov: &mut Overlay, slot: u64, mask: u16) -> Result<Vec<u8>> {
        if ov.pending_covers(slot) {
            self.flush_pending(ov)?;
        }
        let mut v = vec![0u8; BLOCK as usize];
        self.read_slot(slot, &mut v)?;
        for d in ov.deferred.iter().filter(|d| d.slot == slot) {
            v[d.off as usize..d.off as usize + d.data.len()].copy_from_slice(&d.data);
        }
        for (s, e) in unwritten(mask) {
            v[s as usize..e as usize].fill(0);
        }
        Ok(v)
    }

    /// Writes `data` at `off` within block-file `slot`. A slot this batch
    /// took (no committed key names it yet) is written now; a committed one
    /// gets a deferred-write record in the batch and is written after it.
    fn write_in_slot(&self, ov: &mut Overlay, slot: u64, off: u64, data: Bytes) -> Result<()> {
        if ov.taken.contains(&slot) {
            if ov.pending_covers(slot) {
                self.flush_pending(ov)?;
            }
            self.write_at(slot * BLOCK + off, &data, ov.cache)?;
            ov.wrote_blocks = true;
            return Ok(());
        }
        let seq = self.next_deferred.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut rec = Vec::with_capacity(16 + data.len());
        rec.extend_from_slice(&slot.to_le_bytes());
        rec.extend_from_slice(&off.to_le_bytes());
        rec.extend_from_slice(&data);
        ov.put(deferred_key(seq), rec);
        ov.deferred.push(DeferredWrite { seq, slot, off, data });
        Ok(())
    }

    /// Drops all data blocks of `o` (inline and in the block file).
    fn drop_data(&self, ov: &mut Overlay, coll: &str, o: &ObjectId) -> Result<()> {
        ov.del_prefix(&obj_prefix(b'D', coll, o))?;
        let ep = obj_prefix(b'E', coll, o);
        for (k, v) in ov.entries_between(&ep, &prefix_end(&ep))? {
            ov.drop_slot(slot_of(&v)?);
            ov.del(k);
        }
        Ok(())
    }

    fn apply_op(&self, ov: &mut Overlay, op: &Op) -> Result<()> {
        match op {
            Op::MkColl { coll } => ov.put(coll_prefix(b'C', coll), Vec::new()),
            Op::RmColl { coll } => {
                // Block-file slots first: every extent the transaction sees goes.
                let ep = coll_prefix(b'E', coll);
                for (_, v) in ov.entries_between(&ep, &prefix_end(&ep))? {
                    ov.drop_slot(slot_of(&v)?);
                }
                for kind in [b'O', b'D', b'E', b'X', b'M', b'H', b'P', b'C'] {
                    let p = coll_prefix(kind, coll);
                    // Whole-collection removal can be big: a range delete in the batch.
                    ov.w.retain(|k, _| !k.starts_with(&p));
                    ov.w.insert(p.clone(), None);
                    self.delete_range_later(ov, &p)?;
                }
            }
            Op::SetMeta { coll, key, value } => ov.put(meta_key(coll, key), value.to_vec()),
            Op::RmMeta { coll, key } => ov.del(meta_key(coll, key)),
            Op::SetSuper { key, value } => {
                let mut k = vec![b'S'];
                k.extend_from_slice(key.as_bytes());
                ov.put(k, value.to_vec())
            }
            Op::Touch { coll, oid } => {
                let k = obj_prefix(b'O', coll, oid);
                if ov.get(&k)?.is_none() {
                    ov.put(k, 0u64.to_le_bytes().to_vec());
                }
            }
            Op::Write { coll, oid, off, data } => self.write(ov, coll, oid, *off, data)?,
            Op::Zero { coll, oid, off, len } => {
                let size = self.size_in(ov, coll, oid)?.unwrap_or(0);
                let end = off.saturating_add(*len);
                // Zeros inside the object: write zeros (holes read as zeros anyway,
                // but existing data must go). Past the end only extends.
                let inside_end = end.min(size);
                if *off < inside_end {
                    self.punch(ov, coll, oid, *off, inside_end)?;
                }
                if end > size {
                    self.set_size(ov, coll, oid, end);
                } else if self.size_in(ov, coll, oid)?.is_none() {
                    self.set_size(ov, coll, oid, size);
                }
            }
            Op::Truncate { coll, oid, size } => {
                let cur = self.size_in(ov, coll, oid)?.unwrap_or(0);
                if *size < cur {
                    self.punch(ov, coll, oid, *size, cur)?;
                }
                self.set_size(ov, coll, oid, *size);
            }
            Op::Remove { coll, oid } => {
                ov.del(obj_prefix(b'O', coll, oid));
                ov.del(obj_prefix(b'H', coll, oid));
                self.drop_data(ov, coll, oid)?;
                for kind in [b'X', b'M'] {
                    ov.del_prefix(&obj_prefix(kind, coll, oid))?;
                }
            }
            Op::SetAttr { coll, oid, name, value } => {
                self.touch(ov, coll, oid)?;
                ov.put(named_key(b'X', coll, oid, name.as_bytes()), value.to_vec())
            }
            Op::RmAttr { coll, oid, name } => ov.del(named_key(b'X', coll, oid, name.as_bytes())),
            Op::RmAttrs { coll, oid } => ov.del_prefix(&obj_prefix(b'X', coll, oid))?,
            Op::OmapSet { coll, oid, kv } => {
                self.touch(ov, coll, oid)?;
                for (k, v) in kv {
                    ov.put(named_key(b'M', coll, oid, k), v.to_vec());
                }
            }
            Op::OmapRm { coll, oid, keys } => {
                for k in keys {
                    ov.del(named_key(b'M', coll, oid, k));
                }
            }
            Op::OmapRmRange { coll, oid, first, last } => {
                let p = obj_prefix(b'M', coll, oid);
                for k in ov.keys(&p)? {
                    let s = &k[p.len()..];
                    if s >= &first[..] && s < &last[..] {
                        ov.del(k);
                    }
                }
            }
            Op::OmapClear { coll, oid } => {
                ov.del(obj_prefix(b'H', coll, oid));
                ov.del_prefix(&obj_prefix(b'M', coll, oid))?;
            }
            Op::OmapHeader { coll, oid, header } => {
                self.touch(ov, coll, oid)?;
                ov.put(obj_prefix(b'H', coll, oid), header.to_vec())
            }
            Op::Clone { coll, src, dst } => {
                // Copy data, xattrs, omap and header of `src` onto a fresh `dst`.
                if src == dst {
                    return Ok(());
                }
                ov.del(obj_prefix(b'H', coll, dst));
                self.drop_data(ov, coll, dst)?;
                for kind in [b'X', b'M'] {
                    ov.del_prefix(&obj_prefix(kind, coll, dst))?;
                }
                let size = self.size_in(ov, coll, src)?.unwrap_or(0);
                self.set_size(ov, coll, dst, size);
                if let Some(h) = ov.get(&obj_prefix(b'H', coll, src))? {
                    ov.put(obj_prefix(b'H', coll, dst), h);
                }
                // Blocks in the block file are copied into slots of their own.
                let sp = obj_prefix(b'E', coll, src);
                let dp = obj_prefix(b'E', coll, dst);
                for (k, v) in ov.entries_between(&sp, &prefix_end(&sp))? {
                    let (from, mask) = extent_of(&v)?;
                    let data = Bytes::from(self.slot_bytes(ov, from, mask)?);
                    let slot = self.take_slot(ov);
                    self.write_slot(ov, slot, &data, 0..data.len())?;
                    let mut nk = dp.clone();
                    nk.extend_from_slice(&k[sp.len()..]);
                    ov.put(nk, slot.to_le_bytes().to_vec());
                }
                for kind in [b'D', b'X', b'M'] {
                    let sp = obj_prefix(kind, coll, src);
                    let dp = obj_prefix(kind, coll, dst);
                    for k in ov.keys(&sp)? {
                        if let Some(v) = ov.get(&k)? {
                            let mut nk = dp.clone();
                            nk.extend_from_slice(&k[sp.len()..]);
                            ov.put(nk, v);
                        }
                    }
                }
            }
            Op::SplitColl { coll, to, bits, seed } => {
                // Objects sort by their hash's reversed bits, so those
                // whose hash ends in `seed` are one key range in each kind.
                let bits = (*bits).min(32);
                let first = seed.reverse_bits() as u64 & !(0xffff_ffffu64 >> bits);
                let last = first + (1u64 << (32 - bits));
                for kind in [b'O', b'D', b'E', b'X', b'M', b'H'] {
                    let (sp, dp) = (coll_prefix(kind, coll), coll_prefix(kind, to));
                    let mut from = sp.clone();
                    from.extend_from_slice(&(first as u32).to_be_bytes());
                    let end = if last >> 32 != 0 {
                        prefix_end(&sp)
                    } else {
                        let mut e = sp.clone();
                        e.extend_from_slice(&(last as u32).to_be_bytes());
                        e
                    };
                    for (k, v) in ov.entries_between(&from, &end)? {
                        let mut nk = dp.clone();
                        nk.extend_from_slice(&k[sp.len()..]);
                        ov.del(k);
                        ov.put(nk, v);
                    }
                }
            }
        }
        Ok(())
    }

    /// Marks every stored key under `p` deleted.
    fn delete_range_later(&self, ov: &mut Overlay, p: &[u8]) -> Result<()> {
        let end = prefix_end(p);
        for item in bounded(&self.db, p, end.clone()) {
            let (k, _) = item?;
            if k.as_ref() >= end.as_slice() {
                break;
            }
            ov.w.insert(k.to_vec(), None);
        }
        Ok(())
    }

    fn size_in(&self, ov: &Overlay, coll: &str, o: &ObjectId) -> Result<Option<u64>> {
        match ov.get(&obj_prefix(b'O', coll, o))? {
            Some(v) => Ok(Some(onode_size(&v)?)),
            None => Ok(None),
        }
    }

    fn set_size(&self, ov: &mut Overlay, coll: &str, o: &ObjectId, size: u64) {
        ov.put(obj_prefix(b'O', coll, o), size.to_le_bytes().to_vec());
    }

    fn touch(&self, ov: &mut Overlay, coll: &str, o: &ObjectId) -> Result<()> {
        if self.size_in(ov, coll, o)?.is_none() {
            self.set_size(ov, coll, o, 0);
        }
        Ok(())
    }

    /// `k` consecutive slots for this batch (see [`Slots::take_run`]).
    fn take_run(&self, ov: &mut Overlay, k: u64) -> std::ops::Range<u64> {
        let first = self.slots.lock().expect("slots lock").take_run(k);
        ov.taken.extend(first..first + k);
        first..first + k
    }

    fn take_slot(&self, ov: &mut Overlay) -> u64 {
        let slot = self.slots.lock().expect("slots lock").take();
        ov.taken.insert(slot);
        slot
    }

    fn write(&self, ov: &mut Overlay, coll: &str, o: &ObjectId, off: u64, data: &Bytes) -> Result<()> {
        let size = self.size_in(ov, coll, o)?.unwrap_or(0);
        let end = off + data.len() as u64;
        if !data.is_empty() {
            let first = off / BLOCK;
            let last = (end - 1) / BLOCK;
            // Slots for the whole blocks this write covers, in one run.
            let (wf, wl) = (off.div_ceil(BLOCK), end / BLOCK);
            let mut run = if wl > wf + 1 { self.take_run(ov, wl - wf) } else { 0..0 };
            for b in first..=last {
                let bs = b * BLOCK;
                let dk = block_key(coll, o, b);
                let ek = extent_key(coll, o, b);
                // Point lookups (bloom-filtered), cheaper than an iterator.
                let inline = ov.get(&dk)?;
                let old = ov.get(&ek)?.map(|v| extent_of(&v)).transpose()?;
                let old_slot = old.map(|(s, _)| s);
                let ws = off.max(bs);
                let we = end.min(bs + BLOCK);
                let src = &data[(ws - off) as usize..(we - off) as usize];
                if ws == bs && we == bs + BLOCK {
                    // A whole block: into the block file, never over committed data.
                    let slot = match old_slot {
                        Some(s) if ov.taken.contains(&s) => s,
                        Some(s) => {
                            ov.drop_slot(s);
                            run.next().unwrap_or_else(|| self.take_slot(ov))
                        }
                        None => run.next().unwrap_or_else(|| self.take_slot(ov)),
                    };
                    if ov.pending_covers(slot) {
                        self.flush_pending(ov)?;
                    }
                    self.write_slot(ov, slot, data, (ws - off) as usize..(we - off) as usize)?;
                    if old != Some((slot, FULL)) {
                        ov.put(ek, extent_value(slot, FULL));
                    }
                    if inline.is_some() {
                        ov.del(dk);
                    }
                    continue;
                }
                // Part of a block in the block file: in place (deferred). A
                // slot's bytes past the object's end are zeros, so a gap
                // this write leaves reads as zeros.
                if let Some((s, mask)) = old {
                    self.write_part(ov, &ek, s, mask, ws - bs, data.slice((ws - off) as usize..(we - off) as usize))?;
                    continue;
                }
                // Otherwise inline, merged with what the block holds.
                let had_inline = inline.is_some();
                let mut blk = if ws == bs && we >= size.max(bs) {
                    // The write covers the whole block as far as data exists.
                    Vec::new()
                } else {
                    inline.unwrap_or_default()
                };
                let need = (we - bs) as usize;
                if blk.len() < need {
                    blk.resize(need, 0);
                }
                blk[(ws - bs) as usize..need].copy_from_slice(src);
                if blk.len() <= INLINE_MAX {
                    ov.put(dk, blk);
                    continue;
                }
                // Grown past inline size: to a fresh slot, where the next
                // small writes go in place. Only the sub-blocks holding data
                // are written (zero-padded); the mask says which.
                let lo = if had_inline { 0 } else { (ws - bs) / SUB * SUB };
                let hi = (need as u64).div_ceil(SUB) * SUB;
                let mut win = AlignedBuf::zeroed((hi - lo) as usize);
                win[..need - lo as usize].copy_from_slice(&blk[lo as usize..]);
                let slot = self.take_slot(ov);
                self.write_in_slot(ov, slot, lo, Bytes::from_owner(win))?;
                ov.put(ek, extent_value(slot, sub_bits(lo, hi)));
                if had_inline {
                    ov.del(dk);
                }
            }
            // Run slots a block did not need (it had a fresh slot already).
            for s in run {
                ov.drop_slot(s);
            }
        }
        self.set_size(ov, coll, o, size.max(end));
        Ok(())
    }

    /// Writes `data` at `off` in the block whose extent key is `ek` (in
    /// `slot`, written sub-blocks `mask`). A sub-block written for the first
    /// time is written whole, zero-padded, since the slot may hold old bytes there.
    fn write_part(&self, ov: &mut Overlay, ek: &[u8], slot: u64, mask: u16, off: u64, data: Bytes) -> Result<()> {
        let end = off + data.len() as u64;
        let lo = if mask & sub_bits(off, off + 1) == 0 { off / SUB * SUB } else { off };
        let hi = if mask & sub_bits(end - 1, end) == 0 { end.div_ceil(SUB) * SUB } else { end };
        let data = if (lo, hi) == (off, end) {
            data
        } else {
            let mut v = AlignedBuf::zeroed((hi - lo) as usize);
            v[(off - lo) as usize..(end - lo) as usize].copy_from_slice(&data);
            Bytes::from_owner(v)
        };
        self.write_in_slot(ov, slot, lo, data)?;
        let new = mask | sub_bits(lo, hi);
        if new != mask {
            ov.put(ek.to_vec(), extent_value(slot, new));
        }
        Ok(())
    }

    /// Zeroes [from, to) of the data (the size is the caller's business).
    fn punch(&self, ov: &mut Overlay, coll: &str, o: &ObjectId, from: u64, to: u64) -> Result<()> {
        if from >= to {
            return Ok(());
        }
        let first = from / BLOCK;
        let last = (to - 1) / BLOCK;
        let extents = ov.entries_between(&extent_key(coll, o, first), &extent_key(coll, o, last + 1))?;
        let inline = ov.entries_between(&block_key(coll, o, first), &block_key(coll, o, last + 1))?;
        for b in first..=last {
            let bs = b * BLOCK;
            let k = block_key(coll, o, b);
            let ek = extent_key(coll, o, b);
            let s = from.max(bs);
            let e = to.min(bs + BLOCK);
            let old_slot = extents.get(&ek).map(|v| slot_of(v)).transpose()?;
            if s == bs && e == bs + BLOCK {
                if let Some(slot) = old_slot {
                    ov.drop_slot(slot);
                    ov.del(ek);
                }
                if inline.contains_key(&k) {
                    ov.del(k);
                }
                continue;
            }
            // Part of a block in the block file: zeros in place (deferred).
            if let Some(slot) = old_slot {
                self.write_in_slot(ov, slot, s - bs, Bytes::from_static(&ZEROS[..(e - s) as usize]))?;
                continue;
            }
            if let Some(mut blk) = inline.get(&k).cloned() {
                let ls = (s - bs) as usize;
                let le = ((e - bs) as usize).min(blk.len());
                if ls < le {
                    if le == blk.len() {
                        blk.truncate(ls);
                    } else {
                        blk[ls..le].fill(0);
                    }
                }
                if blk.is_empty() || blk.iter().all(|c| *c == 0) {
                    ov.del(k);
                } else {
                    ov.put(k, blk);
                }
            }
        }
        Ok(())
    }
}


#[cfg(test)]
mod tests;
