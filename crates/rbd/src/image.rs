//! An open image: its header state, data I/O through the striper (reading
//! through to the parent of a clone, copying up on first write), and the
//! exclusive lock and object map that writers keep as librbd does.

use crate::admin::image_id;
use crate::cls::{self, ParentSpec, NOSNAP};
use crate::features::*;
use crate::striper::{Extent, Layout};
use bytes::{Bytes, BytesMut};
use denc::Utime;
use messages::osd::{opcode, OsdOp};
use rados::{Error, IoCtx, Result};
use std::sync::{Arc, Mutex};
use types::bit_vector::BitVector;

pub const OBJECT_NONEXISTENT: u8 = 0;
pub const OBJECT_EXISTS: u8 = 1;
pub const OBJECT_PENDING: u8 = 2;
pub const OBJECT_EXISTS_CLEAN: u8 = 3;

/// `RBD_PROTECTION_STATUS_*`.
pub const PROTECTION_UNPROTECTED: u8 = 0;
pub const PROTECTION_UNPROTECTING: u8 = 1;
pub const PROTECTION_PROTECTED: u8 = 2;

/// The lock librbd takes on the header (`RBD_LOCK_NAME`).
pub const RBD_LOCK_NAME: &str = "rbd_lock";
/// The tag of librbd's managed exclusive lock.
const LOCK_TAG: &str = "internal";

pub fn header_oid(id: &str) -> String {
    format!("rbd_header.{id}")
}
pub fn id_oid(name: &str) -> String {
    format!("rbd_id.{name}")
}
pub fn object_map_oid(id: &str, snap: u64) -> String {
    if snap == NOSNAP {
        format!("rbd_object_map.{id}")
    } else {
        format!("rbd_object_map.{id}.{snap:016x}")
    }
}
pub const DIRECTORY: &str = "rbd_directory";
pub const CHILDREN: &str = "rbd_children";

#[derive(Debug, Clone)]
pub struct SnapInfo {
    pub id: u64,
    pub name: String,
    pub size: u64,
    pub timestamp: Utime,
    pub protected: bool,
    /// A user snapshot (not a group, trash or mirror one).
    pub user: bool,
}

#[derive(Debug, Clone)]
pub struct ParentInfo {
    pub spec: ParentSpec,
    pub overlap: u64,
}

/// Progress of a long operation, reported as (done, total).
pub trait Progress: Send + Sync {
    fn update(&self, done: u64, total: u64);
}

pub struct NoProgress;
impl Progress for NoProgress {
    fn update(&self, _: u64, _: u64) {}
}

/// The header fields an open image reads.
#[derive(Debug, Clone, Default)]
pub struct Header {
    pub size: u64,
    pub order: u8,
    pub features: u64,
    pub incompatible: u64,
    pub object_prefix: String,
    pub flags: u64,
    pub op_features: u64,
    pub data_pool: i64,
    pub stripe_unit: u64,
    pub stripe_count: u64,
    pub create_timestamp: Utime,
    pub access_timestamp: Utime,
    pub modify_timestamp: Utime,
    pub snap_seq: u64,
    /// Newest first, as in a SnapContext.
    pub snap_ids: Vec<u64>,
}

/// librbd's default `rbd_cache_policy = writearound`: a write is complete
/// once it is sent, up to `max_dirty` bytes not yet acknowledged by the
/// OSDs; `flush` waits for them (and reports a failed one). Ops on one object
/// still apply in order: they are sent in order on one session.
#[derive(Clone)]
struct WriteCache {
    max_dirty: u32,
    dirty: Arc<tokio::sync::Semaphore>,
    error: Arc<Mutex<Option<Error>>>,
}

impl WriteCache {
    async fn drain(&self) -> Result<()> {
        let all = self.dirty.acquire_many(self.max_dirty).await.map_err(|_| Error::new(108, "write cache closed"))?;
        drop(all);
        let failed = self.error.lock().unwrap().take();
        match failed {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// What a watch notify on the header asks of us, if anything, and for lock
/// messages the sender's ClientId (gid, watch handle).
fn notify_op(payload: &[u8]) -> Option<(u32, Option<(u64, u64)>)> {
    let mut r = denc::Reader::new(Bytes::copy_from_slice(payload));
    let (_, mut b) = r.versioned(7, "NotifyMessage").ok()?;
    let op = b.u32().ok()?;
    let client = if op <= 2 { b.u64().ok().zip(b.u64().ok()) } else { None };
    Some((op, client))
}

/// Tells the image's watchers the lock changed hands (ACQUIRED_LOCK = 0,
/// RELEASED_LOCK = 1, with our ClientId): librbd clients waiting for the lock
/// retry when they hear it. Sent in the background: our own watch acks it.
fn announce_lock(io: &IoCtx, header_oid: &str, op: u32, cookie: &str) {
    let handle = cookie.strip_prefix("auto ").and_then(|c| c.parse::<u64>().ok()).unwrap_or(0);
    let payload = cls::enc(|e| {
        let s = e.start(7, 1);
        e.u32(op);
        e.u64(io.rados.instance_id());
        e.u64(handle);
        e.finish(s);
    });
    let (io, oid) = (io.clone(), header_oid.to_string());
    tokio::spawn(async move {
        let _ = io.notify(&oid, &payload, 5).await;
    });
}

/// `WatchNotify::ResponseMessage`.
fn response(result: i32) -> Bytes {
    cls::enc(|e| {
        let s = e.start(1, 1);
        e.i32(result);
        e.finish(s);
    })
}

struct Held {
    cookie: String,
    watch_cookie: u64,
    acker: tokio::task::JoinHandle<()>,
}

pub struct Image {
    /// The pool of the header (and of the data without a data pool).
    pub io: IoCtx,
    /// The data objects' pool, reading at `snap_id`, writing under the image's SnapContext.
    pub data: IoCtx,
    pub name: String,
    pub id: String,
    pub header_oid: String,
    pub header: Header,
    pub snaps: Vec<SnapInfo>,
    pub parent: Option<ParentInfo>,
    /// The snapshot this handle reads (NOSNAP: the head).
    pub snap_id: u64,
    pub layout: Layout,
    parent_image: Option<Box<Image>>,
    held: Option<Held>,
    objmap: Option<Mutex<BitVector>>,
    cache: Option<WriteCache>,
    /// Whether we hold the exclusive lock now: writers hold it shared while
    /// they send; handing the lock to another client takes it exclusively.
    owner: Arc<tokio::sync::RwLock<bool>>,
    /// The SnapContext writes carry (re-read when the lock comes back: the
    /// client we handed it to may have taken snapshots).
    snapc: Mutex<types::osd::SnapContext>,
}

impl Image {
    /// Opens `name` (optionally at snapshot `snap`).
    pub async fn open(io: &IoCtx, name: &str, snap: Option<&str>) -> Result<Image> {
        let id = image_id(io, name).await?;
        let mut img = Image::open_by_id(io, name, &id, None).await?;
        if let Some(s) = snap {
            let sid = img.snap_by_name(s).ok_or_else(|| Error::new(2, format!("snapshot '{s}' does not exist")))?.id;
            img.set_snap(sid).await?;
        }
        Ok(img)
    }

    /// Opens image `id` at snapshot id `snap` (None: the head).
    pub async fn open_by_id(io: &IoCtx, name: &str, id: &str, snap: Option<u64>) -> Result<Image> {
        let mut io = io.clone();
        io.set_read_snap(NOSNAP);
        let mut img = Image {
            data: io.clone(),
            io,
            name: name.to_string(),
            id: id.to_string(),
            header_oid: header_oid(id),
            header: Header::default(),
            snaps: Vec::new(),
            parent: None,
            snap_id: NOSNAP,
            layout: Layout::simple(22),
            parent_image: None,
            held: None,
            objmap: None,
            cache: None,
            owner: Arc::new(tokio::sync::RwLock::new(false)),
            snapc: Mutex::new(Default::default()),
        };
        img.refresh().await?;
        if let Some(s) = snap {
            img.set_snap(s).await?;
        }
        Ok(img)
    }

    /// Re-reads the header, snapshots and parent link.
    pub async fn refresh(&mut self) -> Result<()> {
        let h = &self.header_oid;
        let ops = vec![
            cls::op("get_size", cls::snap_arg(NOSNAP)),
            cls::op("get_features", cls::enc(|e| {
                e.u64(NOSNAP);
                e.u8(0);
            })),
            cls::op("get_object_prefix", Bytes::new()),
            cls::op("get_snapcontext", Bytes::new()),
            cls::op("get_flags", cls::snap_arg(NOSNAP)),
            cls::op("get_data_pool", Bytes::new()),
        ];
        let r = self.io.operate(h, ops).await.map_err(|e| Error::new(e.errno, format!("error reading the image header: {}", e.ceph_str())))?;
        let mut o = r.ops.into_iter().map(|o| o.data);
        let mut next = || o.next().unwrap_or_default();
        let (order, size) = cls::dec_size(next())?;
        let (features, incompatible) = cls::dec_features(next())?;
        let object_prefix = cls::dec_string(next())?;
        let (snap_seq, snap_ids) = cls::dec_snapc(next())?;
        let flags = cls::dec_u64(next())?;
        let data_pool = cls::dec_i64(next())?;
        let mut hd = Header { size, order, features, incompatible, object_prefix, flags, data_pool, snap_seq, snap_ids, ..Default::default() };
        hd.op_features = if features & OPERATIONS != 0 { cls::dec_u64(cls::call(&self.io, h, "op_features_get", Bytes::new()).await?)? } else { 0 };
        let (mut su, mut sc) = (1u64 << order, 1u64);
        if features & STRIPINGV2 != 0 {
            let b = cls::call(&self.io, h, "get_stripe_unit_count", Bytes::new()).await?;
            (su, sc) = cls::dec_features(b)?;
        }
        hd.stripe_unit = su;
        hd.stripe_count = sc;
        let ts = self
            .io
            .operate(h, vec![cls::op("get_create_timestamp", Bytes::new()), cls::op("get_access_timestamp", Bytes::new()), cls::op("get_modify_timestamp", Bytes::new())])
            .await;
        if let Ok(ts) = ts {
            let v: Vec<Bytes> = ts.ops.into_iter().map(|o| o.data).collect();
            if v.len() == 3 {
                hd.create_timestamp = cls::dec_utime(v[0].clone())?;
                hd.access_timestamp = cls::dec_utime(v[1].clone())?;
                hd.modify_timestamp = cls::dec_utime(v[2].clone())?;
            }
        }
        let mut snaps = Vec::with_capacity(hd.snap_ids.len());
        for &sid in hd.snap_ids.iter().rev() {
            let r = self.io.operate(h, vec![cls::op("snapshot_get", cls::snap_arg(sid)), cls::op("get_protection_status", cls::snap_arg(sid))]).await;
            let r = match r {
                Ok(r) => r,
                // removed between the two reads
                Err(e) if e.errno == 2 => continue,
                Err(e) => return Err(e),
            };
            let v: Vec<Bytes> = r.ops.into_iter().map(|o| o.data).collect();
            let info = cls::dec_snapshot_info(v.first().cloned().unwrap_or_default())?;
            let protected = v.get(1).and_then(|b| b.first().copied()).unwrap_or(0) == PROTECTION_PROTECTED;
            snaps.push(SnapInfo { id: info.id, name: info.name, size: info.size, timestamp: info.timestamp, protected, user: info.ns_type == 0 });
        }
        self.layout = Layout { object_size: 1 << order, stripe_unit: su, stripe_count: sc };
        self.header = hd;
        self.snaps = snaps;
        self.data = if self.header.data_pool >= 0 { self.io.rados.ioctx_by_id(self.header.data_pool)? } else { self.io.clone() };
        self.data.set_namespace(&self.io.nspace);
        self.data.set_write_snapc(self.header.snap_seq, self.header.snap_ids.clone());
        *self.snapc.lock().unwrap() = types::osd::SnapContext { seq: self.header.snap_seq, snaps: self.header.snap_ids.clone() };
        self.data.set_read_snap(self.snap_id);
        self.load_parent().await
    }

    async fn load_parent(&mut self) -> Result<()> {
        self.parent = None;
        self.parent_image = None;
        if self.header.features & LAYERING == 0 {
            return Ok(());
        }
        let r = self.io.operate(&self.header_oid, vec![cls::op("parent_get", Bytes::new()), cls::op("parent_overlap_get", cls::snap_arg(self.snap_id))]).await?;
        let v: Vec<Bytes> = r.ops.into_iter().map(|o| o.data).collect();
        let spec = ParentSpec::decode(v.first().cloned().unwrap_or_default())?;
        let overlap = cls::dec_opt_u64(v.get(1).cloned().unwrap_or_default())?;
        if let (true, Some(overlap)) = (spec.exists(), overlap) {
            let pio = {
                let mut p = self.io.rados.ioctx_by_id(spec.pool)?;
                p.set_namespace(&spec.namespace);
                p
            };
            let pname = cls::call(&pio, DIRECTORY, "dir_get_name", cls::enc(|e| e.string(&spec.image_id))).await.and_then(cls::dec_string).unwrap_or_default();
            let parent = Box::pin(Image::open_by_id(&pio, &pname, &spec.image_id, Some(spec.snap))).await?;
            self.parent_image = Some(Box::new(parent));
            self.parent = Some(ParentInfo { spec, overlap });
        }
        Ok(())
    }

    /// Switches the handle to read snapshot `snap` (NOSNAP: the head).
    pub async fn set_snap(&mut self, snap: u64) -> Result<()> {
        self.snap_id = snap;
        self.data.set_read_snap(snap);
        self.load_parent().await
    }

    pub fn snap_by_name(&self, name: &str) -> Option<&SnapInfo> {
        self.snaps.iter().find(|s| s.name == name)
    }

    /// The size at the open snapshot.
    pub fn size(&self) -> u64 {
        if self.snap_id == NOSNAP {
            self.header.size
        } else {
            self.snaps.iter().find(|s| s.id == self.snap_id).map(|s| s.size).unwrap_or(0)
        }
    }

    pub fn object_size(&self) -> u64 {
        1 << self.header.order
    }

    pub fn object_count(&self) -> u64 {
        self.layout.object_count(self.size())
    }

    pub fn data_oid(&self, objno: u64) -> String {
        format!("{}.{objno:016x}", self.header.object_prefix)
    }

    pub fn parent_name(&self) -> Option<String> {
        let p = self.parent_image.as_ref()?;
        let pool = self.io.rados.pool_name(p.io.pool).unwrap_or_default();
        let snap = p.snaps.iter().find(|s| s.id == p.snap_id).map(|s| s.name.clone()).unwrap_or_default();
        let ns = if p.io.nspace.is_empty() { String::new() } else { format!("{}/", p.io.nspace) };
        Some(format!("{pool}/{ns}{}@{snap}", p.name))
    }

    // -------------------------------------------------------------- reads

    /// Reads [off, off+len) of the image (at the open snapshot); past the
    /// end reads short.
    pub async fn read(&self, off: u64, len: u64) -> Result<Bytes> {
        let size = self.size();
        if off >= size {
            return Ok(Bytes::new());
        }
        let len = len.min(size - off);
        let ex = self.layout.extents(off, len);
        if ex.len() == 1 {
            return self.read_extent(off, ex[0]).await;
        }
        let parts = futures::future::try_join_all(ex.iter().map(|e| self.read_extent(off, *e))).await?;
        let mut out = BytesMut::with_capacity(len as usize);
        for p in parts {
            out.extend_from_slice(&p);
        }
        Ok(out.freeze())
    }

    /// One object extent, zero-filled to its length; a missing object of a
    /// clone reads from the parent within the overlap.
    async fn read_extent(&self, off: u64, e: Extent) -> Result<Bytes> {
        let oid = self.data_oid(e.objno);
        let got = match self.data.read(&oid, e.obj_off, e.len).await {
            Ok(b) => Some(b),
            Err(err) if err.errno == 2 => None,
            Err(err) => return Err(err),
        };
        let data = match got {
            Some(b) => b,
            None => self.read_parent(off + e.buf_off, e.len).await?,
        };
        Ok(pad(data, e.len))
    }

    /// Image bytes from the parent, limited to the overlap.
    async fn read_parent(&self, image_off: u64, len: u64) -> Result<Bytes> {
        match (&self.parent_image, &self.parent) {
            (Some(p), Some(info)) if image_off < info.overlap => {
                let n = len.min(info.overlap - image_off);
                Box::pin(p.read(image_off, n)).await
            }
            _ => Ok(Bytes::new()),
        }
    }

    // ------------------------------------------------------------- writes

    /// Takes what writers need: the header watch, the exclusive lock and the
    /// object map (with the features that call for them).
    pub async fn acquire(&mut self) -> Result<()> {
        if self.snap_id != NOSNAP {
            return Err(Error::new(30, "the image is open at a snapshot (read-only)"));
        }
        if self.held.is_some() {
            return Ok(());
        }
        if self.header.incompatible & !SUPPORTED != 0 || self.header.features & JOURNALING != 0 {
            return Err(Error::new(38, format!("image uses unsupported features: {}", feature_names(self.header.features & !SUPPORTED).join(", "))));
        }
        let mut watch = self.io.watch(&self.header_oid, 30).await?;
        let watch_cookie = watch.cookie;
        // ack every notify (header updates, lock requests) so notifiers never wait
        let cookie = format!("auto {watch_cookie}");
        let handover = Handover {
            io: self.io.clone(),
            header_oid: self.header_oid.clone(),
            objmap_oid: (self.header.features & OBJECT_MAP != 0).then(|| object_map_oid(&self.id, NOSNAP)),
            cookie: cookie.clone(),
            owner: self.owner.clone(),
            cache: self.cache.clone(),
            exclusive: self.header.features & EXCLUSIVE_LOCK != 0,
        };
        let acker = tokio::spawn(async move {
            while let Some(ev) = watch.next().await {
                let reply = handover.on_notify(notify_op(&ev.payload)).await;
                let _ = handover.io.notify_ack(&handover.header_oid, ev.notify_id, ev.cookie, &reply).await;
            }
        });
        let held = Held { cookie, watch_cookie, acker };
        if self.header.features & EXCLUSIVE_LOCK != 0 {
            if let Err(e) = self.lock_header(&held.cookie).await {
                held.acker.abort();
                let _ = self.io.unwatch_cookie(&self.header_oid, held.watch_cookie).await;
                return Err(e);
            }
        }
        *self.owner.write().await = true;
        if self.header.features & OBJECT_MAP != 0 {
            let omap_oid = object_map_oid(&self.id, NOSNAP);
            let r = async {
                match cls::lock(&self.io, &omap_oid, RBD_LOCK_NAME, cls::LOCK_EXCLUSIVE, "", "", "").await {
                    Ok(()) => {}
                    // a stale lock of a dead writer (its header lock we broke)
                    Err(e) if e.errno == 16 || e.errno == 17 => {
                        if let Ok(info) = cls::get_lock_info(&self.io, &omap_oid, RBD_LOCK_NAME).await {
                            for l in info.lockers {
                                let _ = cls::break_lock(&self.io, &omap_oid, RBD_LOCK_NAME, &l.entity, &l.cookie).await;
                            }
                        }
                        cls::lock(&self.io, &omap_oid, RBD_LOCK_NAME, cls::LOCK_EXCLUSIVE, "", "", "").await?;
                    }
                    Err(e) => return Err(e),
                }
                let m = cls::dec_bit_vector(cls::call(&self.io, &omap_oid, "object_map_load", Bytes::new()).await?)?;
                Ok(m)
            }
            .await;
            match r {
                Ok(mut m) => {
                    let n = self.object_count();
                    if m.len != n {
                        cls::call(&self.io, &omap_oid, "object_map_resize", resize_args(n, OBJECT_NONEXISTENT)).await?;
                        m.resize(n);
                    }
                    self.objmap = Some(Mutex::new(m));
                }
                Err(e) => {
                    self.held = Some(held);
                    let _ = self.release().await;
                    return Err(e);
                }
            }
        }
        self.held = Some(held);
        Ok(())
    }

    /// librbd's exclusive lock: lock the header. A lock whose owner no
    /// longer watches the header belongs to a dead client and is broken; a
    /// live owner (qemu, another `rbd`) is asked to hand it over with a
    /// REQUEST_LOCK notify, as librbd asks, and we wait for it to let go.
    async fn lock_header(&self, cookie: &str) -> Result<()> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let mut last_request: Option<std::time::Instant> = None;
        loop {
            match cls::lock(&self.io, &self.header_oid, RBD_LOCK_NAME, cls::LOCK_EXCLUSIVE, cookie, LOCK_TAG, "").await {
                Ok(()) => return Ok(()),
                Err(e) if e.errno == 16 || e.errno == 17 => {}
                Err(e) => return Err(e),
            }
            let info = match cls::get_lock_info(&self.io, &self.header_oid, RBD_LOCK_NAME).await {
                Ok(i) => i,
                Err(e) if e.errno == 2 => continue,
                Err(e) => return Err(e),
            };
            let watchers = self.io.list_watchers(&self.header_oid).await?;
            let mut alive = None;
            for l in &info.lockers {
                let cookie_num = l.cookie.strip_prefix("auto ").and_then(|c| c.parse::<u64>().ok());
                if watchers.iter().any(|w| w.name_num == l.entity.num && Some(w.cookie) == cookie_num) {
                    alive = Some(l.clone());
                    continue;
                }
                tracing::info!(locker = %l.entity, "breaking the lock of a client that is gone");
                cls::break_lock(&self.io, &self.header_oid, RBD_LOCK_NAME, &l.entity, &l.cookie).await?;
            }
            let Some(owner) = alive else { continue };
            if std::time::Instant::now() > deadline {
                return Err(Error::new(16, format!("the image is locked by {} (cookie '{}'), which did not release it", owner.entity, owner.cookie)));
            }
            if last_request.map_or(true, |t| t.elapsed() > std::time::Duration::from_secs(5)) {
                let handle = cookie.strip_prefix("auto ").and_then(|c| c.parse::<u64>().ok()).unwrap_or(0);
                let payload = cls::enc(|e| {
                    let s = e.start(7, 1);
                    e.u32(2); // NOTIFY_OP_REQUEST_LOCK
                    e.u64(self.io.rados.instance_id());
                    e.u64(handle);
                    e.u8(0); // not forced
                    e.finish(s);
                });
                tracing::info!(owner = %owner.entity, "asking the lock owner to release the image");
                let io = self.io.clone();
                let oid = self.header_oid.clone();
                // the owner answers after releasing; do not wait for it here
                tokio::spawn(async move {
                    let _ = io.notify(&oid, &payload, 5).await;
                });
                last_request = Some(std::time::Instant::now());
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    /// Drops the lock, object map lock and watch (`close`).
    pub async fn release(&mut self) -> Result<()> {
        let flushed = self.flush().await;
        let Some(held) = self.held.take() else { return flushed };
        held.acker.abort();
        let mut owner = self.owner.write().await;
        let had = std::mem::replace(&mut *owner, false);
        if self.objmap.take().is_some() && had {
            let _ = cls::unlock(&self.io, &object_map_oid(&self.id, NOSNAP), RBD_LOCK_NAME, "").await;
        }
        if self.header.features & EXCLUSIVE_LOCK != 0 && had {
            let _ = cls::unlock(&self.io, &self.header_oid, RBD_LOCK_NAME, &held.cookie).await;
            announce_lock(&self.io, &self.header_oid, 1, &held.cookie);
        }
        drop(owner);
        let unwatched = self.io.unwatch_cookie(&self.header_oid, held.watch_cookie).await;
        flushed.and(unwatched)
    }

    pub fn is_held(&self) -> bool {
        self.held.is_some()
    }

    /// Tells watchers (other clients with the image open) to re-read the header.
    pub async fn notify_header_update(&self) {
        let payload = cls::enc(|e| {
            let s = e.start(7, 1);
            e.u32(3); // NOTIFY_OP_HEADER_UPDATE
            e.finish(s);
        });
        let _ = self.io.notify(&self.header_oid, &payload, 5).await;
    }

    fn objmap_state(&self, objno: u64) -> Option<u8> {
        let m = self.objmap.as_ref()?.lock().unwrap();
        Some(if objno < m.len { m.get(objno) } else { OBJECT_NONEXISTENT })
    }

    /// Marks objects [start, end) `state` in the object map, first on disk.
    async fn objmap_set(&self, start: u64, end: u64, state: u8, current: Option<u8>) -> Result<()> {
        let Some(m) = &self.objmap else { return Ok(()) };
        {
            let m = m.lock().unwrap();
            if (start..end.min(m.len)).all(|i| m.get(i) == state) {
                return Ok(());
            }
        }
        cls::call(&self.io, &object_map_oid(&self.id, NOSNAP), "object_map_update", cls::object_map_update(start, end, state, current)).await?;
        let mut m = m.lock().unwrap();
        for i in start..end.min(m.len) {
            if current.map(|c| m.get(i) == c).unwrap_or(true) {
                m.set(i, state);
            }
        }
        Ok(())
    }

    /// The data pool under the current SnapContext.
    fn writer_io(&self) -> IoCtx {
        let sc = self.snapc.lock().unwrap().clone();
        let mut io = self.data.clone();
        io.set_write_snapc(sc.seq, sc.snaps);
        io
    }

    /// Holds the exclusive lock for one write (shared with other writes);
    /// takes it back first if we handed it to another client.
    async fn hold_lock(&self) -> Result<Option<tokio::sync::RwLockReadGuard<'_, bool>>> {
        if self.header.features & EXCLUSIVE_LOCK == 0 || self.held.is_none() {
            return Ok(None);
        }
        loop {
            let g = self.owner.read().await;
            if *g {
                return Ok(Some(g));
            }
            drop(g);
            let mut w = self.owner.write().await;
            if *w {
                continue;
            }
            let cookie = self.held.as_ref().map(|h| h.cookie.clone()).unwrap_or_default();
            self.lock_header(&cookie).await?;
            if let Some(m) = &self.objmap {
                let omap_oid = object_map_oid(&self.id, NOSNAP);
                cls::lock(&self.io, &omap_oid, RBD_LOCK_NAME, cls::LOCK_EXCLUSIVE, "", "", "").await?;
                let fresh = cls::dec_bit_vector(cls::call(&self.io, &omap_oid, "object_map_load", Bytes::new()).await?)?;
                *m.lock().unwrap() = fresh;
            }
            let (seq, snaps) = cls::dec_snapc(cls::call(&self.io, &self.header_oid, "get_snapcontext", Bytes::new()).await?)?;
            *self.snapc.lock().unwrap() = types::osd::SnapContext { seq, snaps };
            tracing::info!(image = %self.name, "took the exclusive lock back");
            announce_lock(&self.io, &self.header_oid, 0, &cookie);
            *w = true;
        }
    }

    fn writable(&self) -> Result<()> {
        if self.snap_id != NOSNAP {
            return Err(Error::new(30, "the image is open at a snapshot (read-only)"));
        }
        if self.header.features & EXCLUSIVE_LOCK != 0 && self.held.is_none() {
            return Err(Error::new(30, "the exclusive lock is not held; acquire() first"));
        }
        Ok(())
    }

    /// Completes writes once sent, with up to `max_dirty` bytes in flight
    /// (librbd's writearound cache); 0 turns it off (writethrough).
    pub fn set_write_cache(&mut self, max_dirty: u64) {
        let max = max_dirty.min(u32::MAX as u64 >> 4) as u32;
        self.cache = (max > 0).then(|| WriteCache { max_dirty: max, dirty: Arc::new(tokio::sync::Semaphore::new(max as usize)), error: Arc::new(Mutex::new(None)) });
    }

    /// Waits until every write is acknowledged; a write that failed since
    /// the last flush is reported here.
    pub async fn flush(&self) -> Result<()> {
        match &self.cache {
            Some(c) => c.drain().await,
            None => Ok(()),
        }
    }

    /// Writes `data` at `off` (within the image size).
    pub async fn write(&self, off: u64, data: Bytes) -> Result<()> {
        self.writable()?;
        let len = data.len() as u64;
        if off + len > self.header.size {
            return Err(Error::new(22, format!("write of {len} bytes at {off} goes past the end of the image ({})", self.header.size)));
        }
        let ex = self.layout.extents(off, len);
        futures::future::try_join_all(ex.iter().map(|e| {
            let d = data.slice(e.buf_off as usize..(e.buf_off + e.len) as usize);
            self.write_extent(*e, off + e.buf_off, d)
        }))
        .await?;
        Ok(())
    }

    async fn write_extent(&self, e: Extent, _image_off: u64, data: Bytes) -> Result<()> {
        let oid = self.data_oid(e.objno);
        let mut ops = Vec::with_capacity(2);
        if let Some(copyup) = self.copyup_data(e.objno).await? {
            ops.push(cls::op("copyup", copyup));
        }
        if self.objmap_state(e.objno).is_some_and(|s| s != OBJECT_EXISTS) {
            self.objmap_set(e.objno, e.objno + 1, OBJECT_EXISTS, None).await?;
        }
        let len = data.len() as u64;
        let whole = e.obj_off == 0 && len == self.object_size();
        ops.push(OsdOp::extent(if whole && ops.is_empty() { opcode::WRITEFULL } else { opcode::WRITE }, e.obj_off, len, data));
        let _owner = self.hold_lock().await?;
        let data = self.writer_io();
        let Some(c) = &self.cache else {
            return data.operate_write(&oid, ops).await.map(|_| ());
        };
        let failed = c.error.lock().unwrap().take();
        if let Some(e) = failed {
            return Err(e);
        }
        let n = (len as u32).clamp(1, c.max_dirty);
        let permit = c.dirty.clone().acquire_many_owned(n).await.map_err(|_| Error::new(108, "write cache closed"))?;
        let sent = data.start_write(&oid, ops)?;
        let error = c.error.clone();
        tokio::spawn(async move {
            if let Err(e) = sent.await {
                tracing::warn!("write to {oid} failed: {}", e.msg);
                error.lock().unwrap().get_or_insert(e);
            }
            drop(permit);
        });
        Ok(())
    }

    /// For a clone whose object does not exist yet: the parent's bytes for
    /// the whole object (within the overlap), to copy up before the write.
    async fn copyup_data(&self, objno: u64) -> Result<Option<Bytes>> {
        let Some(info) = &self.parent else { return Ok(None) };
        let pieces = self.layout.object_to_image(objno, 0, self.object_size());
        if pieces.iter().all(|(io, _)| *io >= info.overlap) {
            return Ok(None);
        }
        if self.objmap_state(objno).is_some_and(|s| s != OBJECT_NONEXISTENT) {
            return Ok(None);
        }
        match self.data.stat(&self.data_oid(objno)).await {
            Ok(_) => return Ok(None),
            Err(e) if e.errno == 2 => {}
            Err(e) => return Err(e),
        }
        let mut buf = BytesMut::with_capacity(self.object_size() as usize);
        for (io, n) in pieces {
            buf.extend_from_slice(&pad(self.read_parent(io, n).await?, n));
        }
        // trailing zeros need not be stored
        let end = buf.iter().rposition(|b| *b != 0).map(|p| p + 1).unwrap_or(0);
        buf.truncate(end);
        Ok(Some(buf.freeze()))
    }

    /// Zeroes [off, off+len): whole objects are removed, parts zeroed (or,
    /// for a clone, written as zeros so the parent no longer shows through).
    pub async fn discard(&self, off: u64, len: u64) -> Result<()> {
        self.writable()?;
        self.flush().await?;
        let len = len.min(self.header.size.saturating_sub(off));
        let ex = self.layout.extents(off, len);
        futures::future::try_join_all(ex.iter().map(|e| async move {
            let oid = self.data_oid(e.objno);
            if self.parent.is_some() {
                return self.write_extent(*e, off + e.buf_off, Bytes::from(vec![0u8; e.len as usize])).await;
            }
            if self.objmap_state(e.objno) == Some(OBJECT_NONEXISTENT) {
                return Ok(());
            }
            let whole = e.obj_off == 0 && e.len == self.object_size();
            let op = if whole { OsdOp::new(opcode::DELETE) } else { OsdOp::extent(opcode::ZERO, e.obj_off, e.len, Bytes::new()) };
            // like writes: under the lock (taken back if handed over) and the current snap context
            let _owner = self.hold_lock().await?;
            match self.writer_io().operate_write(&oid, vec![op]).await {
                Ok(_) => {}
                Err(err) if err.errno == 2 => {}
                Err(err) => return Err(err),
            }
            if whole && self.header.snap_ids.is_empty() {
                self.objmap_set(e.objno, e.objno + 1, OBJECT_NONEXISTENT, None).await?;
            }
            Ok(())
        }))
        .await?;
        Ok(())
    }

    // ------------------------------------------------------- maintenance

    /// `rbd resize`: grows, or shrinks (removing and truncating objects).
    pub async fn resize(&mut self, size: u64, progress: &dyn Progress) -> Result<()> {
        self.writable()?;
        self.flush().await?;
        let old = self.header.size;
        let count = self.layout.object_count(size);
        let omap_oid = object_map_oid(&self.id, NOSNAP);
        if size < old {
            let old_count = self.layout.object_count(old);
            let done = std::sync::atomic::AtomicU64::new(0);
            // objects past the new end go; the last one is cut (plain layout)
            let this = &*self;
            let removals = (count..old_count).map(|objno| {
                let done = &done;
                async move {
                    if this.objmap_state(objno) != Some(OBJECT_NONEXISTENT) {
                        if this.objmap.is_some() {
                            this.objmap_set(objno, objno + 1, OBJECT_PENDING, None).await?;
                        }
                        match this.data.remove(&this.data_oid(objno)).await {
                            Ok(()) => {}
                            Err(e) if e.errno == 2 => {}
                            Err(e) => return Err(e),
                        }
                    }
                    // as librbd's trim: progress over the old object count
                    let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                    progress.update(count + n, old_count);
                    Ok::<_, Error>(())
                }
            });
            run_limited(removals, 16).await?;
            if self.layout.stripe_count == 1 && size % self.object_size() != 0 {
                let objno = size / self.object_size();
                match self.data.truncate(&self.data_oid(objno), size % self.object_size()).await {
                    Ok(()) => {}
                    Err(e) if e.errno == 2 => {}
                    Err(e) => return Err(e),
                }
            }
            if self.objmap.is_some() {
                cls::call(&self.io, &omap_oid, "object_map_resize", resize_args(count, OBJECT_NONEXISTENT)).await?;
            }
            if let Some(p) = &self.parent {
                if size < p.overlap {
                    let args = cls::enc(|e| {
                        p.spec.encode(e);
                        e.u64(size);
                        e.u8(1);
                    });
                    cls::call(&self.io, &self.header_oid, "parent_attach", args).await?;
                }
            }
        } else if self.objmap.is_some() {
            cls::call(&self.io, &omap_oid, "object_map_resize", resize_args(count, OBJECT_NONEXISTENT)).await?;
        }
        cls::call(&self.io, &self.header_oid, "set_size", cls::enc(|e| e.u64(size))).await?;
        if let Some(m) = &self.objmap {
            m.lock().unwrap().resize(count);
        }
        self.refresh().await?;
        self.notify_header_update().await;
        Ok(())
    }

    /// `rbd snap create`.
    pub async fn snap_create(&mut self, name: &str) -> Result<()> {
        self.writable()?;
        self.flush().await?;
        if self.snap_by_name(name).is_some() {
            return Err(Error::new(17, "snapshot already exists"));
        }
        let id = self.data.selfmanaged_snap_create().await?;
        let args = cls::enc(|e| {
            e.string(name);
            e.u64(id);
            cls::user_namespace(e);
        });
        if let Err(e) = cls::call(&self.io, &self.header_oid, "snapshot_add", args).await {
            let _ = self.data.selfmanaged_snap_remove(id).await;
            return Err(e);
        }
        if self.objmap.is_some() {
            // the snapshot's map is the head's as it is now; the head's
            // EXISTS become EXISTS_CLEAN (fast-diff's "unchanged since")
            let head = object_map_oid(&self.id, NOSNAP);
            let st = self.io.stat(&head).await?;
            let bytes = self.io.read(&head, 0, st.size).await?;
            self.io.write_full(&object_map_oid(&self.id, id), bytes).await?;
            cls::call(&self.io, &head, "object_map_snap_add", Bytes::new()).await?;
            let mut m = self.objmap.as_ref().unwrap().lock().unwrap();
            for i in 0..m.len {
                if m.get(i) == OBJECT_EXISTS {
                    m.set(i, OBJECT_EXISTS_CLEAN);
                }
            }
        }
        self.refresh().await?;
        self.notify_header_update().await;
        Ok(())
    }

    /// `rbd snap rm`.
    pub async fn snap_remove(&mut self, name: &str) -> Result<()> {
        self.writable()?;
        let s = self.snap_by_name(name).cloned().ok_or_else(|| Error::new(2, "snapshot does not exist"))?;
        if s.protected {
            return Err(Error::new(16, "snapshot is protected"));
        }
        if self.objmap.is_some() {
            let snap_oid = object_map_oid(&self.id, s.id);
            match self.io.stat(&snap_oid).await {
                Ok(st) => {
                    let b = self.io.read(&snap_oid, 0, st.size).await?;
                    cls::call(&self.io, &object_map_oid(&self.id, NOSNAP), "object_map_snap_remove", b.clone()).await?;
                    let snapmap = cls::dec_bit_vector(b)?;
                    let mut m = self.objmap.as_ref().unwrap().lock().unwrap();
                    for i in 0..m.len {
                        if m.get(i) == OBJECT_EXISTS_CLEAN && (i >= snapmap.len || snapmap.get(i) == OBJECT_EXISTS) {
                            m.set(i, OBJECT_EXISTS);
                        }
                    }
                }
                Err(e) if e.errno == 2 => {}
                Err(e) => return Err(e),
            }
            match self.io.remove(&snap_oid).await {
                Ok(()) => {}
                Err(e) if e.errno == 2 => {}
                Err(e) => return Err(e),
            }
        }
        // a clone's link to its parent may be held only by this snapshot
        cls::call(&self.io, &self.header_oid, "snapshot_remove", cls::snap_arg(s.id)).await?;
        self.data.selfmanaged_snap_remove(s.id).await?;
        self.refresh().await?;
        self.notify_header_update().await;
        Ok(())
    }

    pub async fn snap_rename(&mut self, from: &str, to: &str) -> Result<()> {
        let s = self.snap_by_name(from).cloned().ok_or_else(|| Error::new(2, "snapshot does not exist"))?;
        if self.snap_by_name(to).is_some() {
            return Err(Error::new(17, "snapshot already exists"));
        }
        cls::call(&self.io, &self.header_oid, "snapshot_rename", cls::enc(|e| {
            e.u64(s.id);
            e.string(to);
        }))
        .await?;
        self.refresh().await?;
        self.notify_header_update().await;
        Ok(())
    }

    /// `rbd snap protect`.
    pub async fn snap_protect(&mut self, name: &str) -> Result<()> {
        let s = self.snap_by_name(name).cloned().ok_or_else(|| Error::new(2, "snapshot does not exist"))?;
        if self.header.features & LAYERING == 0 {
            return Err(Error::new(38, "image must support layering"));
        }
        if s.protected {
            return Err(Error::new(16, "snapshot is already protected"));
        }
        self.set_protection(s.id, PROTECTION_PROTECTED).await?;
        self.refresh().await?;
        self.notify_header_update().await;
        Ok(())
    }

    async fn set_protection(&self, snap: u64, status: u8) -> Result<()> {
        cls::call(&self.io, &self.header_oid, "set_protection_status", cls::enc(|e| {
            e.u64(snap);
            e.u8(status);
        }))
        .await
        .map(|_| ())
    }

    /// `rbd snap unprotect`: refused while clones of it exist.
    pub async fn snap_unprotect(&mut self, name: &str) -> Result<()> {
        let s = self.snap_by_name(name).cloned().ok_or_else(|| Error::new(2, "snapshot does not exist"))?;
        if !s.protected {
            return Err(Error::new(22, "snapshot is already unprotected"));
        }
        self.set_protection(s.id, PROTECTION_UNPROTECTING).await?;
        let children = match crate::admin::children(self, s.id).await {
            Ok(c) => c,
            Err(e) => {
                let _ = self.set_protection(s.id, PROTECTION_PROTECTED).await;
                return Err(e);
            }
        };
        if !children.is_empty() {
            self.set_protection(s.id, PROTECTION_PROTECTED).await?;
            return Err(Error::new(16, format!("snap has {} child(ren)", children.len())));
        }
        self.set_protection(s.id, PROTECTION_UNPROTECTED).await?;
        self.refresh().await?;
        self.notify_header_update().await;
        Ok(())
    }

    /// `rbd snap rollback`: every object back to its state at the snapshot.
    pub async fn snap_rollback(&mut self, name: &str, progress: &dyn Progress) -> Result<()> {
        self.writable()?;
        self.flush().await?;
        let s = self.snap_by_name(name).cloned().ok_or_else(|| Error::new(2, "snapshot does not exist"))?;
        if self.header.size != s.size {
            let p = NoProgress;
            self.resize(s.size, &p).await?;
        }
        let total = self.layout.object_count(s.size.max(self.header.size));
        let done = std::sync::atomic::AtomicU64::new(0);
        let this = &*self;
        let jobs = (0..total).map(|objno| {
            let done = &done;
            async move {
                let mut op = OsdOp::new(opcode::ROLLBACK);
                op.args[0..8].copy_from_slice(&s.id.to_le_bytes());
                match this.data.operate(&this.data_oid(objno), vec![op]).await {
                    Ok(_) => {}
                    Err(e) if e.errno == 2 => {}
                    Err(e) => return Err(e),
                }
                let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                progress.update(n, total);
                Ok::<_, Error>(())
            }
        });
        run_limited(jobs, 16).await?;
        if self.objmap.is_some() {
            match self.io.stat(&object_map_oid(&self.id, s.id)).await {
                Ok(st) => {
                    let b = self.io.read(&object_map_oid(&self.id, s.id), 0, st.size).await?;
                    let m = cls::dec_bit_vector(b.clone())?;
                    cls::call(&self.io, &object_map_oid(&self.id, NOSNAP), "object_map_save", b).await?;
                    *self.objmap.as_ref().unwrap().lock().unwrap() = m;
                }
                Err(e) if e.errno == 2 => {}
                Err(e) => return Err(e),
            }
        }
        self.refresh().await?;
        self.notify_header_update().await;
        Ok(())
    }

    /// `rbd flatten`: copies up every object the parent still provides, then
    /// drops the parent link.
    pub async fn flatten(&mut self, progress: &dyn Progress) -> Result<()> {
        self.writable()?;
        self.flush().await?;
        let Some(info) = self.parent.clone() else {
            return Err(Error::new(22, "image has no parent"));
        };
        let objects = self.layout.object_count(info.overlap.min(self.header.size));
        let done = std::sync::atomic::AtomicU64::new(0);
        let this = &*self;
        let jobs = (0..objects).map(|objno| {
            let done = &done;
            async move {
                if let Some(data) = this.copyup_data(objno).await? {
                    if this.objmap_state(objno).is_some_and(|s| s != OBJECT_EXISTS) {
                        this.objmap_set(objno, objno + 1, OBJECT_EXISTS, None).await?;
                    }
                    this.data.operate(&this.data_oid(objno), vec![cls::op("copyup", data)]).await?;
                }
                let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                progress.update(n, objects);
                Ok::<_, Error>(())
            }
        });
        run_limited(jobs, 10).await?;
        crate::admin::detach_from_parent(self, &info.spec).await?;
        self.refresh().await?;
        self.notify_header_update().await;
        Ok(())
    }

    /// `rbd feature enable/disable`.
    pub async fn update_features(&mut self, features: u64, enable: bool) -> Result<()> {
        let cur = self.header.features;
        let mut new = if enable { cur | features } else { cur & !features };
        if !enable && features & EXCLUSIVE_LOCK != 0 && cur & OBJECT_MAP != 0 && features & OBJECT_MAP == 0 {
            return Err(Error::new(22, "cannot disable exclusive-lock: object-map depends on it"));
        }
        if !enable && features & OBJECT_MAP != 0 {
            new &= !FAST_DIFF;
        }
        if let Err(m) = check_dependencies(new) {
            return Err(Error::new(22, m));
        }
        if features & !(MUTABLE | DEEP_FLATTEN) != 0 || (enable && features & DEEP_FLATTEN != 0) {
            return Err(Error::new(22, "cannot update immutable features"));
        }
        if features & JOURNALING != 0 {
            return Err(Error::new(95, "journaling is not supported"));
        }
        let mask = cur ^ new;
        if mask == 0 {
            return Err(Error::new(22, if enable { "one or more requested features are already enabled" } else { "one or more requested features are already disabled" }));
        }
        cls::call(&self.io, &self.header_oid, "set_features", cls::enc(|e| {
            e.u64(new);
            e.u64(mask);
        }))
        .await?;
        let omap_oid = object_map_oid(&self.id, NOSNAP);
        if enable && mask & OBJECT_MAP != 0 {
            // build the map from the objects that exist
            let n = self.object_count();
            let mut m = BitVector { crcs: true, ..Default::default() };
            m.resize(n);
            for objno in 0..n {
                if self.data.stat(&self.data_oid(objno)).await.is_ok() {
                    m.set(objno, OBJECT_EXISTS);
                }
            }
            cls::call(&self.io, &omap_oid, "object_map_save", m.encode()).await?;
        }
        if !enable && mask & OBJECT_MAP != 0 {
            let _ = self.io.remove(&omap_oid).await;
            for s in &self.snaps {
                let _ = self.io.remove(&object_map_oid(&self.id, s.id)).await;
            }
        }
        self.refresh().await?;
        self.notify_header_update().await;
        Ok(())
    }
}

/// The lock owner's side of librbd's lock protocol, run by the header
/// watch: a client asking for the lock (REQUEST_LOCK) gets it once our
/// writes in flight are acknowledged; operations other clients ask the owner
/// to run for them (snap create, resize...) are refused with EOPNOTSUPP,
/// which makes librbd ask for the lock and run them itself.
struct Handover {
    io: IoCtx,
    header_oid: String,
    objmap_oid: Option<String>,
    cookie: String,
    owner: Arc<tokio::sync::RwLock<bool>>,
    cache: Option<WriteCache>,
    exclusive: bool,
}

impl Handover {
    async fn on_notify(&self, msg: Option<(u32, Option<(u64, u64)>)>) -> Bytes {
        let me = (self.io.rados.instance_id(), self.cookie.strip_prefix("auto ").and_then(|c| c.parse::<u64>().ok()).unwrap_or(0));
        let op = msg.map(|(op, _)| op);
        match msg {
            // our own request, while we take the lock back: not for us
            Some((2, Some(from))) if from == me => response(0),
            // REQUEST_LOCK
            Some((2, _)) if self.exclusive => {
                let mut owner = self.owner.write().await;
                if *owner {
                    if let Some(c) = &self.cache {
                        if let Err(e) = c.drain().await {
                            tracing::warn!("a write failed before handing the lock over: {}", e.msg);
                        }
                    }
                    if let Some(o) = &self.objmap_oid {
                        let _ = cls::unlock(&self.io, o, RBD_LOCK_NAME, "").await;
                    }
                    let _ = cls::unlock(&self.io, &self.header_oid, RBD_LOCK_NAME, &self.cookie).await;
                    *owner = false;
                    announce_lock(&self.io, &self.header_oid, 1, &self.cookie);
                    tracing::info!("handed the exclusive lock over on request");
                }
                response(0)
            }
            _ => match op {
                // QUIESCE, UNQUIESCE: nothing is cached that a snapshot would
                // miss once the lock was handed over (which drains our writes)
                Some(18) | Some(19) => response(0),
                // operations proxied to the lock owner
                Some(op) if (6..=17).contains(&op) || op == 20 => response(-95),
                _ => Bytes::new(),
            },
        }
    }
}

fn resize_args(count: u64, state: u8) -> Bytes {
    cls::enc(|e| {
        e.u64(count);
        e.u8(state);
    })
}

/// `b` zero-filled to `len` bytes.
pub fn pad(b: Bytes, len: u64) -> Bytes {
    if b.len() as u64 >= len {
        return b.slice(..len as usize);
    }
    let mut v = BytesMut::with_capacity(len as usize);
    v.extend_from_slice(&b);
    v.resize(len as usize, 0);
    v.freeze()
}

/// Runs `jobs` with at most `n` in flight, stopping at the first error.
pub async fn run_limited<F>(jobs: impl Iterator<Item = F>, n: usize) -> Result<()>
where
    F: std::future::Future<Output = Result<()>>,
{
    use futures::stream::TryStreamExt;
    futures::stream::iter(jobs.map(Ok::<F, Error>)).try_for_each_concurrent(n, |f| f).await
}
