//! A librados-like API over the MonClient and the Objecter: connect to a
//! cluster, look up and manage pools, and operate on objects in an `IoCtx`
//! (pool + namespace): data, xattrs, omap, class calls, listing.
//! Errors carry Ceph's errno (as librados returns `-errno`).

use bytes::{BufMut, Bytes, BytesMut};
use denc::{Decode, Encode, Encoder, Reader, Utime};
use messages::osd::{opcode, OsdOp};
use objecter::{Objecter, Request, Target};
use std::collections::BTreeMap;
use std::time::Duration;
use types::osd::{HObject, ObjectLocator};

pub use monc::MonClientOptions;
pub use objecter::Reply;

/// An error with the errno librados would give.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{msg}")]
pub struct Error {
    pub errno: i32,
    pub msg: String,
}

impl Error {
    pub fn new(errno: i32, msg: impl Into<String>) -> Self {
        Error { errno, msg: msg.into() }
    }
    pub fn from_errno(errno: i32) -> Self {
        Error { errno, msg: std::io::Error::from_raw_os_error(errno).to_string() }
    }
    /// `(2) No such file or directory`, as Ceph tools print errors.
    pub fn ceph_str(&self) -> String {
        let s = std::io::Error::from_raw_os_error(self.errno).to_string();
        format!("({}) {}", self.errno, s.split(" (os error").next().unwrap_or(&s))
    }
}

pub type Result<T> = std::result::Result<T, Error>;

impl From<monc::Error> for Error {
    fn from(e: monc::Error) -> Self {
        Error::new(e.errno(), e.to_string())
    }
}
impl From<objecter::Error> for Error {
    fn from(e: objecter::Error) -> Self {
        Error::new(e.errno(), e.to_string())
    }
}
impl From<denc::Error> for Error {
    fn from(e: denc::Error) -> Self {
        Error::new(5, format!("bad reply: {e}"))
    }
}

/// A connected cluster handle (`rados_t`).
#[derive(Clone)]
pub struct Rados {
    pub monc: monc::MonClient,
    pub objecter: Objecter,
}

impl Rados {
    pub async fn connect(conf: config::Config, opts: MonClientOptions) -> Result<Rados> {
        let modes = objecter::client_modes(&conf.get("ms_client_mode").unwrap_or_default());
        let op_timeout = conf.get_f64("rados_osd_op_timeout").unwrap_or(0.0);
        let monc = monc::MonClient::connect(conf, opts).await?;
        let objecter = Objecter::start(monc.clone(), modes).await?.with_op_timeout(op_timeout);
        Ok(Rados { monc, objecter })
    }

    pub fn pool_lookup(&self, name: &str) -> Option<i64> {
        self.objecter.map().lookup_pool(name)
    }

    /// Looks a pool up, refreshing the map first if it is not known yet.
    pub async fn pool_lookup_latest(&self, name: &str) -> Option<i64> {
        if let Some(p) = self.pool_lookup(name) {
            return Some(p);
        }
        if let Ok((newest, _)) = self.monc.get_version("osdmap").await {
            let _ = self.monc.subscribe("osdmap", self.objecter.map().epoch as u64 + 1, false);
            let _ = tokio::time::timeout(Duration::from_secs(10), self.objecter.wait_for_epoch(newest as u32)).await;
        }
        self.pool_lookup(name)
    }

    pub fn list_pools(&self) -> Vec<(i64, String)> {
        self.objecter.map().pool_name.iter().map(|(id, n)| (*id, n.clone())).collect()
    }

    /// A mon command with JSON output; returns (outbuf, status string).
    pub async fn mon_command(&self, cmd: serde_json::Value) -> Result<(Bytes, String)> {
        let r = self.monc.command(vec![cmd.to_string()], Bytes::new()).await?;
        if r.r < 0 {
            return Err(Error::new(-r.r, r.rs));
        }
        Ok((r.outbl, r.rs))
    }

    pub async fn ioctx(&self, pool: &str) -> Result<IoCtx> {
        let id = self
            .pool_lookup_latest(pool)
            .await
            .ok_or_else(|| Error::new(2, format!("pool {pool} does not exist")))?;
        self.ioctx_by_id(id)
    }

    /// The name of a pool id in our current map.
    pub fn pool_name(&self, id: i64) -> Option<String> {
        self.objecter.map().pool_name.get(&id).cloned()
    }

    /// The global id the mons gave this client (`rados_get_instance_id`).
    pub fn instance_id(&self) -> u64 {
        self.monc.global_id
    }

    pub fn ioctx_by_id(&self, id: i64) -> Result<IoCtx> {
        if !self.objecter.map().pools.contains_key(&id) {
            return Err(Error::new(2, format!("pool {id} does not exist")));
        }
        Ok(IoCtx {
            rados: self.clone(),
            pool: id,
            nspace: String::new(),
            locator_key: String::new(),
            read_snap: types::osd::CEPH_NOSNAP,
            write_snapc: types::osd::SnapContext::default(),
        })
    }

    /// Sends an MPoolOp and waits until our OSDMap has the result.
    async fn pool_op(&self, op: messages::mon::PoolOp) -> Result<Bytes> {
        let r = self.monc.pool_op(op).await?;
        tracing::debug!(code = r.reply_code, epoch = r.epoch, have = self.objecter.map().epoch, "pool op reply");
        if r.reply_code < 0 {
            return Err(Error::from_errno(-r.reply_code));
        }
        // The client waits for the epoch that has the change (Objecter::handle_pool_op_reply).
        if self.objecter.map().epoch < r.epoch {
            let _ = self.monc.subscribe("osdmap", self.objecter.map().epoch as u64 + 1, false);
            tokio::time::timeout(Duration::from_secs(30), self.objecter.wait_for_epoch(r.epoch))
                .await
                .map_err(|_| Error::new(110, "timed out waiting for the new osdmap"))??;
        }
        Ok(r.response_data)
    }

    /// `rados_pool_create` (optionally with a crush rule id).
    pub async fn create_pool(&self, name: &str, crush_rule: Option<i16>) -> Result<()> {
        use messages::mon::*;
        // librados refuses an existing name itself (the mon would just succeed)
        if self.pool_lookup_latest(name).await.is_some() {
            return Err(Error::from_errno(17));
        }
        let op = PoolOp { op: POOL_OP_CREATE, name: name.into(), crush_rule: crush_rule.unwrap_or(-1), ..Default::default() };
        self.pool_op(op).await.map(|_| ())
    }

    /// `rados_pool_delete`: as librados does, through the mon's `osd pool rm`
    /// (the mon acknowledges MPoolOp deletes without acting on them), then waits
    /// for the map without the pool.
    pub async fn delete_pool(&self, name: &str) -> Result<()> {
        if self.pool_lookup_latest(name).await.is_none() {
            return Err(Error::from_errno(2));
        }
        let cmd = serde_json::json!({
            "prefix": "osd pool rm", "pool": name, "pool2": name, "yes_i_really_really_mean_it": true,
        });
        self.mon_command(cmd).await?;
        self.wait_for_latest_osdmap().await
    }

    /// `wait_for_latest_osdmap`: asks the mon for the newest epoch and waits for it.
    pub async fn wait_for_latest_osdmap(&self) -> Result<()> {
        let (newest, _) = self.monc.get_version("osdmap").await?;
        if (self.objecter.map().epoch as u64) < newest {
            let _ = self.monc.subscribe("osdmap", self.objecter.map().epoch as u64 + 1, false);
            tokio::time::timeout(Duration::from_secs(30), self.objecter.wait_for_epoch(newest as u32))
                .await
                .map_err(|_| Error::new(110, "timed out waiting for the newest osdmap"))??;
        }
        Ok(())
    }
}

/// Object metadata from STAT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    pub size: u64,
    pub mtime: Utime,
}

/// One listed object.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ListEntry {
    pub nspace: String,
    pub oid: String,
    pub locator: String,
}

/// `LIBRADOS_ALL_NSPACES`: list every namespace.
pub const ALL_NSPACES: &str = "\u{1}";

/// A pool + namespace to operate in (`rados_ioctx_t`).
#[derive(Clone)]
pub struct IoCtx {
    pub rados: Rados,
    pub pool: i64,
    pub nspace: String,
    pub locator_key: String,
    /// Snapshot reads are served from (`CEPH_NOSNAP` = the head).
    pub read_snap: u64,
    /// The SnapContext sent with writes (self-managed snapshots).
    pub write_snapc: types::osd::SnapContext,
}

fn check(r: &Reply) -> Result<()> {
    if r.result < 0 {
        Err(Error::from_errno(-r.result))
    } else {
        Ok(())
    }
}

impl IoCtx {
    pub fn set_namespace(&mut self, ns: &str) {
        self.nspace = ns.to_string();
    }

    fn oloc(&self) -> ObjectLocator {
        ObjectLocator { pool: self.pool, key: self.locator_key.clone(), nspace: self.nspace.clone(), hash: -1 }
    }

    /// Runs a compound op on one object.
    pub async fn operate(&self, oid: &str, ops: Vec<OsdOp>) -> Result<Reply> {
        self.submit(Request::object(oid, self.oloc(), ops)).await
    }

    /// Runs a compound op as a write (`ObjectWriteOperation`), as class
    /// methods that write must be sent.
    pub async fn operate_write(&self, oid: &str, ops: Vec<OsdOp>) -> Result<Reply> {
        let mut req = Request::object(oid, self.oloc(), ops);
        req.flags = messages::osd::flags::WRITE | messages::osd::flags::ONDISK;
        self.submit(req).await
    }

    /// A class method that writes (`rados_exec` on a write operation).
    pub async fn exec_write(&self, oid: &str, class: &str, method: &str, input: &[u8]) -> Result<Bytes> {
        let r = self.operate_write(oid, vec![OsdOp::call(class, method, input)]).await?;
        Ok(r.ops.into_iter().next().map(|o| o.data).unwrap_or_default())
    }

    /// Starts a write now (ops on one object apply in the order they were
    /// started) and returns what resolves when it is acknowledged.
    pub fn start_write(&self, oid: &str, ops: Vec<OsdOp>) -> Result<impl std::future::Future<Output = Result<Reply>> + Send + 'static> {
        let mut req = Request::object(oid, self.oloc(), ops);
        req.flags = messages::osd::flags::WRITE | messages::osd::flags::ONDISK;
        req.snapc = self.write_snapc.clone();
        let f = self.rados.objecter.start_op(req)?;
        Ok(async move {
            let r = f.await?;
            check(&r)?;
            Ok(r)
        })
    }

    async fn submit(&self, mut req: Request) -> Result<Reply> {
        if req.flags & messages::osd::flags::WRITE != 0 {
            req.snapc = self.write_snapc.clone();
        } else {
            req.snapid = self.read_snap;
        }
        let r = self.rados.objecter.submit(req).await?;
        check(&r)?;
        Ok(r)
    }

    pub async fn write_full(&self, oid: &str, data: Bytes) -> Result<()> {
        let len = data.len() as u64;
        self.operate(oid, vec![OsdOp::extent(opcode::WRITEFULL, 0, len, data)]).await.map(|_| ())
    }
    pub async fn write(&self, oid: &str, data: Bytes, off: u64) -> Result<()> {
        let len = data.len() as u64;
        self.operate(oid, vec![OsdOp::extent(opcode::WRITE, off, len, data)]).await.map(|_| ())
    }
    pub async fn append(&self, oid: &str, data: Bytes) -> Result<()> {
        let len = data.len() as u64;
        self.operate(oid, vec![OsdOp::extent(opcode::APPEND, 0, len, data)]).await.map(|_| ())
    }
    pub async fn read(&self, oid: &str, off: u64, len: u64) -> Result<Bytes> {
        let r = self.operate(oid, vec![OsdOp::extent(opcode::READ, off, len, Bytes::new())]).await?;
        Ok(r.ops.into_iter().next().map(|o| o.data).unwrap_or_default())
    }
    /// SPARSE_READ: the allocated extents in [off, off+len) and their data.
    pub async fn sparse_read(&self, oid: &str, off: u64, len: u64) -> Result<(BTreeMap<u64, u64>, Bytes)> {
        let r = self.operate(oid, vec![OsdOp::extent(opcode::SPARSE_READ, off, len, Bytes::new())]).await?;
        let d = r.ops.into_iter().next().map(|o| o.data).unwrap_or_default();
        let mut rd = Reader::new(d);
        let extents: BTreeMap<u64, u64> = Decode::decode(&mut rd)?;
        let data = rd.bufferlist()?;
        Ok((extents, data))
    }

    pub async fn truncate(&self, oid: &str, size: u64) -> Result<()> {
        let mut op = OsdOp::extent(opcode::TRUNCATE, size, 0, Bytes::new());
        // truncate_size and truncate_seq stay 0; offset is the new size
        op.args[16..24].copy_from_slice(&0u64.to_le_bytes());
        self.operate(oid, vec![op]).await.map(|_| ())
    }
    pub async fn zero(&self, oid: &str, off: u64, len: u64) -> Result<()> {
        self.operate(oid, vec![OsdOp::extent(opcode::ZERO, off, len, Bytes::new())]).await.map(|_| ())
    }
    pub async fn create(&self, oid: &str, exclusive: bool) -> Result<()> {
        let mut op = OsdOp::new(opcode::CREATE);
        op.flags = if exclusive { 1 } else { 0 };
        self.operate(oid, vec![op]).await.map(|_| ())
    }
    pub async fn remove(&self, oid: &str) -> Result<()> {
        self.operate(oid, vec![OsdOp::new(opcode::DELETE)]).await.map(|_| ())
    }
    /// Removes even from a full pool (FULL_FORCE, as `rados rm --force-full`):
    /// how a pool over its quota gets under it again.
    pub async fn remove_full_force(&self, oid: &str) -> Result<()> {
        let mut req = Request::object(oid, self.oloc(), vec![OsdOp::new(opcode::DELETE)]);
        req.flags = messages::osd::flags::WRITE | messages::osd::flags::ONDISK | messages::osd::flags::FULL_FORCE;
        self.submit(req).await.map(|_| ())
    }
    pub async fn stat(&self, oid: &str) -> Result<Stat> {
        let r = self.operate(oid, vec![OsdOp::new(opcode::STAT)]).await?;
        let mut rd = Reader::new(r.ops.into_iter().next().map(|o| o.data).unwrap_or_default());
        Ok(Stat { size: rd.u64()?, mtime: Utime::decode(&mut rd)? })
    }

    pub async fn setxattr(&self, oid: &str, name: &str, value: &[u8]) -> Result<()> {
        self.operate(oid, vec![OsdOp::xattr(opcode::SETXATTR, name, value)]).await.map(|_| ())
    }
    pub async fn getxattr(&self, oid: &str, name: &str) -> Result<Bytes> {
        let r = self.operate(oid, vec![OsdOp::xattr(opcode::GETXATTR, name, &[])]).await?;
        Ok(r.ops.into_iter().next().map(|o| o.data).unwrap_or_default())
    }
    pub async fn rmxattr(&self, oid: &str, name: &str) -> Result<()> {
        self.operate(oid, vec![OsdOp::xattr(opcode::RMXATTR, name, &[])]).await.map(|_| ())
    }
    pub async fn getxattrs(&self, oid: &str) -> Result<BTreeMap<String, Bytes>> {
        let r = self.operate(oid, vec![OsdOp::new(opcode::GETXATTRS)]).await?;
        let d = r.ops.into_iter().next().map(|o| o.data).unwrap_or_default();
        Ok(Decode::decode(&mut Reader::new(d))?)
    }

    pub async fn omap_set(&self, oid: &str, kv: &BTreeMap<String, Bytes>) -> Result<()> {
        let mut e = Encoder::new(0);
        kv.encode(&mut e);
        self.operate(oid, vec![OsdOp::with_data(opcode::OMAPSETVALS, e.into_bytes())]).await.map(|_| ())
    }
    pub async fn omap_rm_keys(&self, oid: &str, keys: &[String]) -> Result<()> {
        let set: std::collections::BTreeSet<String> = keys.iter().cloned().collect();
        let mut e = Encoder::new(0);
        set.encode(&mut e);
        self.operate(oid, vec![OsdOp::with_data(opcode::OMAPRMKEYS, e.into_bytes())]).await.map(|_| ())
    }
    pub async fn omap_clear(&self, oid: &str) -> Result<()> {
        self.operate(oid, vec![OsdOp::new(opcode::OMAPCLEAR)]).await.map(|_| ())
    }
    pub async fn omap_set_header(&self, oid: &str, h: Bytes) -> Result<()> {
        self.operate(oid, vec![OsdOp::with_data(opcode::OMAPSETHEADER, h)]).await.map(|_| ())
    }
    pub async fn omap_get_header(&self, oid: &str) -> Result<Bytes> {
        let r = self.operate(oid, vec![OsdOp::new(opcode::OMAPGETHEADER)]).await?;
        Ok(r.ops.into_iter().next().map(|o| o.data).unwrap_or_default())
    }
    /// All omap values (paged as librados does, 512 at a time).
    pub async fn omap_get_vals(&self, oid: &str, prefix: &str) -> Result<BTreeMap<String, Bytes>> {
        let mut out = BTreeMap::new();
        let mut after = String::new();
        loop {
            let mut e = Encoder::new(0);
            e.string(&after);
            e.u64(512);
            e.string(prefix);
            let r = self.operate(oid, vec![OsdOp::with_data(opcode::OMAPGETVALS, e.into_bytes())]).await?;
            let d = r.ops.into_iter().next().map(|o| o.data).unwrap_or_default();
            let mut rd = Reader::new(d);
            let page: BTreeMap<String, Bytes> = Decode::decode(&mut rd)?;
            let more = if rd.is_empty() { false } else { rd.bool()? };
            if let Some(k) = page.keys().next_back() {
                after = k.clone();
            }
            let empty = page.is_empty();
            out.extend(page);
            if !more || empty {
                return Ok(out);
            }
        }
    }
    pub async fn omap_get_keys(&self, oid: &str) -> Result<Vec<String>> {
        let mut out = Vec::new();
        let mut after = String::new();
        loop {
            let mut e = Encoder::new(0);
            e.string(&after);
            e.u64(512);
            let r = self.operate(oid, vec![OsdOp::with_data(opcode::OMAPGETKEYS, e.into_bytes())]).await?;
            let d = r.ops.into_iter().next().map(|o| o.data).unwrap_or_default();
            let mut rd = Reader::new(d);
            let page: std::collections::BTreeSet<String> = Decode::decode(&mut rd)?;
            let more = if rd.is_empty() { false } else { rd.bool()? };
            if let Some(k) = page.iter().next_back() {
                after = k.clone();
            }
            let empty = page.is_empty();
            out.extend(page);
            if !more || empty {
                return Ok(out);
            }
        }
    }
    pub async fn omap_get_vals_by_keys(&self, oid: &str, keys: &[String]) -> Result<BTreeMap<String, Bytes>> {
        let set: std::collections::BTreeSet<String> = keys.iter().cloned().collect();
        let mut e = Encoder::new(0);
        set.encode(&mut e);
        let r = self.operate(oid, vec![OsdOp::with_data(opcode::OMAPGETVALSBYKEYS, e.into_bytes())]).await?;
        let d = r.ops.into_iter().next().map(|o| o.data).unwrap_or_default();
        Ok(Decode::decode(&mut Reader::new(d))?)
    }

    /// `rados_ioctx_selfmanaged_snap_create`: a new snap id from the mon.
    pub async fn selfmanaged_snap_create(&self) -> Result<u64> {
        use messages::mon::*;
        let op = PoolOp { op: POOL_OP_CREATE_UNMANAGED_SNAP, pool: self.pool as u32, ..Default::default() };
        let d = self.rados.pool_op(op).await?;
        Ok(Reader::new(d).u64()?)
    }
    /// `rados_ioctx_selfmanaged_snap_remove`.
    pub async fn selfmanaged_snap_remove(&self, snapid: u64) -> Result<()> {
        use messages::mon::*;
        let op = PoolOp { op: POOL_OP_DELETE_UNMANAGED_SNAP, pool: self.pool as u32, snapid, ..Default::default() };
        self.rados.pool_op(op).await.map(|_| ())
    }
    /// `rados_ioctx_selfmanaged_snap_set_write_ctx`: snaps newest first.
    pub fn set_write_snapc(&mut self, seq: u64, snaps: Vec<u64>) {
        self.write_snapc = types::osd::SnapContext { seq, snaps };
    }
    /// `rados_ioctx_snap_set_read`.
    pub fn set_read_snap(&mut self, snap: u64) {
        self.read_snap = snap;
    }
    /// Pool snapshot create (`rados mksnap`).
    pub async fn pool_snap_create(&self, name: &str) -> Result<()> {
        use messages::mon::*;
        let op = PoolOp { op: POOL_OP_CREATE_SNAP, pool: self.pool as u32, name: name.into(), ..Default::default() };
        self.rados.pool_op(op).await.map(|_| ())
    }
    /// Pool snapshot remove (`rados rmsnap`).
    pub async fn pool_snap_remove(&self, name: &str) -> Result<()> {
        use messages::mon::*;
        let op = PoolOp { op: POOL_OP_DELETE_SNAP, pool: self.pool as u32, name: name.into(), ..Default::default() };
        self.rados.pool_op(op).await.map(|_| ())
    }
    /// Pool snapshots: (id, name, stamp).
    pub fn pool_snaps(&self) -> Vec<(u64, String, Utime)> {
        let m = self.rados.objecter.map();
        m.pools.get(&self.pool).map(|p| p.snaps.values().map(|s| (s.snapid, s.name.clone(), s.stamp)).collect()).unwrap_or_default()
    }

    /// An object class method call (`rados_exec`).
    pub async fn exec(&self, oid: &str, class: &str, method: &str, input: &[u8]) -> Result<Bytes> {
        let r = self.operate(oid, vec![OsdOp::call(class, method, input)]).await?;
        Ok(r.ops.into_iter().next().map(|o| o.data).unwrap_or_default())
    }

    /// Every object in the pool (and namespace, or all with [`ALL_NSPACES`]),
    /// walking each PG with PGNLS as librados' object iterator does.
    /// A listing that a PG split overtook (pg_num changed meanwhile, so
    /// objects may have moved to PGs already walked) starts over, as
    /// librados' does.
    pub async fn list_objects(&self) -> Result<Vec<ListEntry>> {
        let pg_num = |io: &Self| io.rados.objecter.map().pools.get(&io.pool).map(|p| p.pg_num);
        let mut tries = 0;
        loop {
            let before = pg_num(self);
            let out = self.list_objects_once().await?;
            tries += 1;
            if pg_num(self) == before || tries == 5 {
                return Ok(out);
            }
        }
    }

    async fn list_objects_once(&self) -> Result<Vec<ListEntry>> {
        let map = self.rados.objecter.map();
        let pool = map.pools.get(&self.pool).ok_or_else(|| Error::new(2, "pool does not exist"))?;
        let pg_num = pool.pg_num;
        let mut out = Vec::new();
        for seed in 0..pg_num {
            let mut cursor = HObject::min();
            loop {
                let mut e = Encoder::new(0);
                cursor.encode(&mut e);
                let op = OsdOp::pgls(opcode::PGNLS, 1024, map.epoch, e.into_bytes());
                let mut req = Request::object("", self.oloc(), vec![op]);
                req.target = Target::Pg { pool: self.pool, seed, nspace: self.nspace.clone() };
                req.flags = messages::osd::flags::READ | messages::osd::flags::PGOP;
                let r = self.rados.objecter.submit(req).await?;
                if r.result == -1 * 2 {
                    break;
                }
                check(&r)?;
                let d = r.ops.into_iter().next().map(|o| o.data).unwrap_or_default();
                let mut rd = Reader::new(d);
                let (_, mut b) = rd.versioned(1, "pg_nls_response_t")?;
                let handle = HObject::decode(&mut b)?;
                let n = b.count(12)?;
                for _ in 0..n {
                    out.push(ListEntry { nspace: b.string()?, oid: b.string()?, locator: b.string()? });
                }
                // result 1: the PG has nothing past this page
                if r.result == 1 || handle.is_max() || n == 0 && handle == cursor {
                    break;
                }
                cursor = handle;
            }
        }
        Ok(out)
    }
}

/// Builds a buffer from parts without extra copies of the first.
pub fn concat(parts: &[Bytes]) -> Bytes {
    if parts.len() == 1 {
        return parts[0].clone();
    }
    let mut b = BytesMut::with_capacity(parts.iter().map(|p| p.len()).sum());
    for p in parts {
        b.put_slice(p);
    }
    b.freeze()
}

/// One watcher of an object (`obj_list_watch_response_t` entry).
#[derive(Debug, Clone)]
pub struct Watcher {
    pub name_num: i64,
    pub cookie: u64,
    pub timeout: u32,
    pub addr: types::EntityAddr,
}

impl IoCtx {
    /// LIST_WATCHERS.
    pub async fn list_watchers(&self, oid: &str) -> Result<Vec<Watcher>> {
        let r = self.operate(oid, vec![OsdOp::new(opcode::LIST_WATCHERS)]).await?;
        let d = r.ops.into_iter().next().map(|o| o.data).unwrap_or_default();
        let mut rd = Reader::new(d);
        let (_, mut b) = rd.versioned(1, "obj_list_watch_response_t")?;
        let n = b.count(1)?;
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            let (_, mut w) = b.versioned(2, "watch_item_t")?;
            let name = types::EntityNameT::decode(&mut w)?;
            let cookie = w.u64()?;
            let timeout = w.u32()?;
            let addr = if !w.is_empty() { types::EntityAddr::decode(&mut w)? } else { types::EntityAddr::default() };
            out.push(Watcher { name_num: name.num, cookie, timeout, addr });
        }
        Ok(out)
    }
}

/// A notify delivered to one of our watches.
#[derive(Debug, Clone)]
pub struct WatchEvent {
    pub notify_id: u64,
    pub cookie: u64,
    pub notifier_gid: u64,
    pub payload: Bytes,
}

/// A registered watch (`rados_watch2`); events arrive through [`Watch::next`].
pub struct Watch {
    pub cookie: u64,
    pub oid: String,
    events: tokio::sync::mpsc::UnboundedReceiver<messages::osd::WatchNotify>,
}

impl Watch {
    /// The next notify (disconnects end the stream).
    pub async fn next(&mut self) -> Option<WatchEvent> {
        loop {
            let n = self.events.recv().await?;
            match n.opcode {
                messages::osd::WATCH_NOTIFY => {
                    return Some(WatchEvent { notify_id: n.notify_id, cookie: n.cookie, notifier_gid: n.notifier_gid, payload: n.bl })
                }
                messages::osd::WATCH_DISCONNECT => return None,
                _ => continue,
            }
        }
    }
}

/// The outcome of a notify: replies by (watcher gid, cookie), and who timed out.
#[derive(Debug, Clone, Default)]
pub struct NotifyResult {
    pub acks: BTreeMap<(u64, u64), Bytes>,
    pub timeouts: Vec<(u64, u64)>,
}

fn new_cookie() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    // unique per process and distinguishable across processes
    ((std::process::id() as u64) << 32) | NEXT.fetch_add(1, Ordering::Relaxed)
}

impl IoCtx {
    /// Registers a watch on `oid` (`rados_watch2`); kept alive and re-registered
    /// by the objecter until [`IoCtx::unwatch`].
    pub async fn watch(&self, oid: &str, timeout_secs: u32) -> Result<Watch> {
        let cookie = new_cookie();
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let objecter = &self.rados.objecter;
        objecter.listen(cookie, tx);
        let op = OsdOp::watch(cookie, messages::osd::WATCH_OP_WATCH, timeout_secs);
        let req = Request::object(oid, self.oloc(), vec![op]);
        match objecter.submit(req.clone()).await {
            Ok(r) if r.result >= 0 => {
                objecter.linger(cookie, req);
                Ok(Watch { cookie, oid: oid.to_string(), events: rx })
            }
            Ok(r) => {
                objecter.unlisten(cookie);
                Err(Error::from_errno(-r.result))
            }
            Err(e) => {
                objecter.unlisten(cookie);
                Err(e.into())
            }
        }
    }

    pub async fn unwatch(&self, w: Watch) -> Result<()> {
        self.unwatch_cookie(&w.oid, w.cookie).await
    }

    /// Unwatch by cookie, for a watch whose event stream was handed to a task.
    pub async fn unwatch_cookie(&self, oid: &str, cookie: u64) -> Result<()> {
        let objecter = &self.rados.objecter;
        objecter.unlinger(cookie);
        objecter.unlisten(cookie);
        self.operate(oid, vec![OsdOp::watch(cookie, messages::osd::WATCH_OP_UNWATCH, 0)]).await.map(|_| ())
    }

    /// Acknowledges a notify, optionally with a reply for the notifier.
    pub async fn notify_ack(&self, oid: &str, notify_id: u64, cookie: u64, reply: &[u8]) -> Result<()> {
        let mut e = Encoder::new(0);
        e.u64(notify_id);
        e.u64(cookie);
        e.bufferlist(reply);
        self.operate(oid, vec![OsdOp::with_data(opcode::NOTIFY_ACK, e.into_bytes())]).await.map(|_| ())
    }

    /// `rados_notify2`: notifies every watcher of `oid` and waits for their acks
    /// (or the timeout, 0 = the OSD's default).
    pub async fn notify(&self, oid: &str, payload: &[u8], timeout_secs: u32) -> Result<NotifyResult> {
        let cookie = new_cookie();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let objecter = &self.rados.objecter;
        objecter.listen(cookie, tx);
        let mut e = Encoder::new(0);
        e.u32(1); // protocol version
        e.u32(timeout_secs);
        e.bufferlist(payload);
        let mut op = OsdOp::with_data(opcode::NOTIFY, e.into_bytes());
        op.args[0..8].copy_from_slice(&cookie.to_le_bytes());
        let r = self.operate(oid, vec![op]).await;
        if let Err(e) = r {
            objecter.unlisten(cookie);
            return Err(e);
        }
        let wait = if timeout_secs == 0 { 30 } else { timeout_secs as u64 } + 10;
        let done = tokio::time::timeout(Duration::from_secs(wait), async {
            while let Some(n) = rx.recv().await {
                if n.opcode == messages::osd::WATCH_NOTIFY_COMPLETE {
                    return Some(n);
                }
            }
            None
        })
        .await;
        objecter.unlisten(cookie);
        let n = done.map_err(|_| Error::new(110, "notify timed out"))?.ok_or_else(|| Error::new(108, "objecter shut down"))?;
        let mut res = NotifyResult::default();
        // replies travel in the data segment (Notify::maybe_complete_notify)
        let mut rd = Reader::new(if n.data.is_empty() { n.bl.clone() } else { n.data.clone() });
        if !rd.is_empty() {
            res.acks = Decode::decode(&mut rd)?;
            if !rd.is_empty() {
                res.timeouts = Decode::decode(&mut rd)?;
            }
        }
        if n.return_code < 0 {
            return Err(Error::new(-n.return_code, format!("notify completed with {}", n.return_code)));
        }
        Ok(res)
    }
}
