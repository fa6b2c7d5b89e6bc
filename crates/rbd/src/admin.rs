//! Pool-level image management: list, create, remove, rename, clone and
//! the parent/child links, as librbd's `image/*Request`s do them.

use crate::cls::{self, ChildSpec, ParentSpec, NOSNAP};
use crate::features::*;
use crate::image::*;
use bytes::Bytes;
use messages::osd::{opcode, OsdOp};
use rados::{Error, IoCtx, Result};

/// The id of image `name` (`rbd_id.NAME`).
pub async fn image_id(io: &IoCtx, name: &str) -> Result<String> {
    let b = cls::call(io, &id_oid(name), "get_id", Bytes::new()).await?;
    cls::dec_string(b)
}

/// Every image in the pool: (name, id), by name.
pub async fn list(io: &IoCtx) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut start = String::new();
    loop {
        let args = cls::enc(|e| {
            e.string(&start);
            e.u64(1024);
        });
        let page = match cls::call(io, DIRECTORY, "dir_list", args).await {
            Ok(b) => cls::dec_dir_list(b)?,
            Err(e) if e.errno == 2 => break,
            Err(e) => return Err(e),
        };
        let n = page.len();
        if let Some(last) = page.keys().last() {
            start = last.clone();
        }
        out.extend(page);
        if n < 1024 {
            break;
        }
    }
    Ok(out)
}

#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    pub size: u64,
    pub order: Option<u8>,
    pub features: Option<u64>,
    pub stripe_unit: Option<u64>,
    pub stripe_count: Option<u64>,
    pub data_pool: Option<String>,
}

/// librbd's image ids: our client instance id and a random number, in hex.
fn new_image_id(io: &IoCtx) -> String {
    let mut id = format!("{:x}{:x}", io.rados.instance_id(), rand::random::<u32>());
    id.truncate(24);
    id
}

const RBD_INFO: &str = "rbd_info";

/// librbd's pool validation before the first image (`ValidatePoolRequest`):
/// a self-managed snapshot forces the pool into self-managed snapshot mode,
/// and a write under it proves the pool allows overwrites. Done once; the
/// result is kept in `rbd_info`.
async fn validate_pool(io: &IoCtx) -> Result<()> {
    let mut io = io.clone();
    io.set_namespace("");
    let state = match io.read(RBD_INFO, 0, 0).await {
        Ok(b) => b,
        Err(e) if e.errno == 2 => Bytes::new(),
        Err(e) => return Err(e),
    };
    if &state[..] == b"overwrite validated" {
        return Ok(());
    }
    if &state[..] != b"validate" {
        let snap = io.selfmanaged_snap_create().await.map_err(|e| match e.errno {
            22 => Error::new(22, "pool not configured for self-managed RBD snapshot support"),
            _ => e,
        })?;
        let mut w = io.clone();
        w.set_write_snapc(snap, vec![snap]);
        let mut create = OsdOp::new(opcode::CREATE);
        create.flags = 1;
        let data = Bytes::from_static(b"validate");
        let r = w.operate(RBD_INFO, vec![create, OsdOp::extent(opcode::WRITE, 0, data.len() as u64, data)]).await;
        let _ = io.selfmanaged_snap_remove(snap).await;
        match r {
            Ok(_) => {}
            Err(e) if e.errno == 17 => {}
            Err(e) if e.errno == 95 => return Err(Error::new(22, "pool missing required overwrite support")),
            Err(e) => return Err(e),
        }
    }
    io.write(RBD_INFO, Bytes::from_static(b"overwrite validated"), 0).await
}

/// `rbd create`: the id object, the directory entry, the header and (with
/// object-map) an empty object map. Returns the new image's id.
pub async fn create(io: &IoCtx, name: &str, o: &CreateOptions) -> Result<String> {
    let mut features = o.features.unwrap_or(DEFAULT);
    let order = o.order.unwrap_or(22);
    if !(12..=25).contains(&order) {
        return Err(Error::new(33, format!("order must be in the range [12, 25], not {order}")));
    }
    if let Err(m) = check_dependencies(features) {
        return Err(Error::new(22, m));
    }
    if features & JOURNALING != 0 {
        return Err(Error::new(95, "journaling is not supported by oxceph"));
    }
    let (su, sc) = (o.stripe_unit.unwrap_or(1 << order), o.stripe_count.unwrap_or(1));
    let fancy = su != 1 << order || sc != 1;
    if fancy {
        if su == 0 || sc == 0 || (1u64 << order) % su != 0 {
            return Err(Error::new(22, "stripe unit must divide the object size"));
        }
        features |= STRIPINGV2;
    }
    let data_pool = match &o.data_pool {
        Some(p) => {
            let id = io.rados.pool_lookup_latest(p).await.ok_or_else(|| Error::new(2, format!("data pool {p} does not exist")))?;
            (id != io.pool).then_some(id)
        }
        None => None,
    };
    if data_pool.is_some() {
        features |= DATA_POOL;
    }
    match io.stat(&id_oid(name)).await {
        Ok(_) => return Err(Error::new(17, format!("rbd image {name} already exists"))),
        Err(e) if e.errno == 2 => {}
        Err(e) => return Err(e),
    }
    validate_pool(&match data_pool {
        Some(p) => io.rados.ioctx_by_id(p)?,
        None => io.clone(),
    })
    .await?;
    let id = new_image_id(io);
    let set_id = cls::op("set_id", cls::enc(|e| e.string(&id)));
    let mut create = OsdOp::new(opcode::CREATE);
    create.flags = 1; // exclusive
    io.operate_write(&id_oid(name), vec![create, set_id]).await?;
    let undo_id = || async { let _ = io.remove(&id_oid(name)).await; };
    if let Err(e) = cls::call(io, DIRECTORY, "dir_add_image", cls::enc(|e| {
        e.string(name);
        e.string(&id);
    }))
    .await
    {
        undo_id().await;
        return Err(e);
    }
    let prefix = match data_pool {
        Some(p) => format!("rbd_data.{p}.{id}"),
        None => format!("rbd_data.{id}"),
    };
    let r = async {
        cls::call(io, &header_oid(&id), "create", cls::enc(|e| {
            e.u64(o.size);
            e.u8(order);
            e.u64(features);
            e.string(&prefix);
            e.i64(data_pool.unwrap_or(-1));
        }))
        .await?;
        if fancy {
            cls::call(io, &header_oid(&id), "set_stripe_unit_count", cls::enc(|e| {
                e.u64(su);
                e.u64(sc);
            }))
            .await?;
        }
        if features & OBJECT_MAP != 0 {
            let layout = crate::striper::Layout { object_size: 1 << order, stripe_unit: su, stripe_count: sc };
            let args = cls::enc(|e| {
                e.u64(layout.object_count(o.size));
                e.u8(OBJECT_NONEXISTENT);
            });
            cls::call(io, &object_map_oid(&id, NOSNAP), "object_map_resize", args).await?;
        }
        Ok::<_, Error>(())
    }
    .await;
    if let Err(e) = r {
        let _ = io.remove(&header_oid(&id)).await;
        let _ = cls::call(io, DIRECTORY, "dir_remove_image", cls::enc(|e| {
            e.string(name);
            e.string(&id);
        }))
        .await;
        undo_id().await;
        return Err(e);
    }
    Ok(id)
}

/// `rbd rm`: refused with snapshots or other clients watching; removes the
/// data objects (with progress), the parent link, the header, the id and the
/// directory entry.
pub async fn remove(io: &IoCtx, name: &str, progress: &dyn Progress) -> Result<()> {
    let id = image_id(io, name).await?;
    let mut img = match Image::open_by_id(io, name, &id, None).await {
        Ok(i) => i,
        // a half-created or half-removed image: drop what is left
        Err(e) if e.errno == 2 => {
            let _ = cls::call(io, DIRECTORY, "dir_remove_image", cls::enc(|e| {
                e.string(name);
                e.string(&id);
            }))
            .await;
            return io.remove(&id_oid(name)).await;
        }
        Err(e) => return Err(e),
    };
    if img.snaps.iter().any(|s| s.user) {
        return Err(Error::new(39, "image has snapshots - these must be deleted with 'rbd snap purge' before the image can be removed."));
    }
    if !io.list_watchers(&img.header_oid).await?.is_empty() {
        return Err(Error::new(16, "image still has watchers"));
    }
    img.acquire().await?;
    let count = img.object_count();
    let done = std::sync::atomic::AtomicU64::new(0);
    let img_ref = &img;
    let jobs = (0..count).map(|objno| {
        let done = &done;
        async move {
            match img_ref.data.remove(&img_ref.data_oid(objno)).await {
                Ok(()) => {}
                Err(e) if e.errno == 2 => {}
                Err(e) => return Err(e),
            }
            let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            progress.update(n, count);
            Ok(())
        }
    });
    run_limited(jobs, 16).await?;
    if let Some(p) = img.parent.clone() {
        detach_from_parent(&img, &p.spec).await?;
    }
    img.release().await?;
    for s in &img.snaps {
        let _ = io.remove(&object_map_oid(&id, s.id)).await;
    }
    let _ = io.remove(&object_map_oid(&id, NOSNAP)).await;
    match io.remove(&img.header_oid).await {
        Ok(()) => {}
        Err(e) if e.errno == 2 => {}
        Err(e) => return Err(e),
    }
    io.remove(&id_oid(name)).await?;
    cls::call(io, DIRECTORY, "dir_remove_image", cls::enc(|e| {
        e.string(name);
        e.string(&id);
    }))
    .await
    .map(|_| ())
}

/// `rbd rename` (same pool).
pub async fn rename(io: &IoCtx, from: &str, to: &str) -> Result<()> {
    let id = image_id(io, from).await?;
    match io.stat(&id_oid(to)).await {
        Ok(_) => return Err(Error::new(17, format!("rbd image {to} already exists"))),
        Err(e) if e.errno == 2 => {}
        Err(e) => return Err(e),
    }
    let mut create = OsdOp::new(opcode::CREATE);
    create.flags = 1;
    io.operate_write(&id_oid(to), vec![create, cls::op("set_id", cls::enc(|e| e.string(&id)))]).await?;
    if let Err(e) = cls::call(io, DIRECTORY, "dir_rename_image", cls::enc(|e| {
        e.string(from);
        e.string(to);
        e.string(&id);
    }))
    .await
    {
        let _ = io.remove(&id_oid(to)).await;
        return Err(e);
    }
    io.remove(&id_oid(from)).await
}

/// `rbd clone` (format 1 children: the parent snapshot must be protected,
/// and the child is recorded in the child pool's `rbd_children`).
pub async fn clone(pio: &IoCtx, parent: &str, snap: &str, cio: &IoCtx, child: &str, o: &CreateOptions) -> Result<()> {
    let p = Image::open(pio, parent, None).await?;
    let s = p.snap_by_name(snap).cloned().ok_or_else(|| Error::new(2, format!("snapshot '{snap}' does not exist")))?;
    if p.header.features & LAYERING == 0 {
        return Err(Error::new(22, "parent image must support layering"));
    }
    if !s.protected {
        return Err(Error::new(22, "parent snapshot must be protected"));
    }
    // without --image-feature a clone gets its parent's features (librbd)
    let features = o.features.unwrap_or(p.header.features & !(DATA_POOL | OPERATIONS | STRIPINGV2));
    if features & LAYERING == 0 {
        return Err(Error::new(22, "cloning requires the layering feature"));
    }
    let opts = CreateOptions { size: s.size, order: Some(o.order.unwrap_or(p.header.order)), features: Some(features), ..o.clone() };
    let id = create(cio, child, &opts).await?;
    let spec = ParentSpec { pool: pio.pool, namespace: pio.nspace.clone(), image_id: p.id.clone(), snap: s.id };
    let r = async {
        cls::call(cio, &header_oid(&id), "parent_attach", cls::enc(|e| {
            spec.encode(e);
            e.u64(s.size);
            e.u8(0);
        }))
        .await?;
        cls::call(cio, CHILDREN, "add_child", cls::enc(|e| {
            cls::children_key(e, spec.pool, &spec.image_id, spec.snap);
            e.string(&id);
        }))
        .await?;
        Ok::<_, Error>(())
    }
    .await;
    if let Err(e) = r {
        let _ = remove(cio, child, &NoProgress).await;
        return Err(e);
    }
    Ok(())
}

/// One clone of a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Child {
    pub pool: String,
    pub namespace: String,
    pub name: String,
    pub id: String,
}

/// The clones of snapshot `snap` of `img`: format 1 links in every pool's
/// `rbd_children`, format 2 links on the parent's header.
pub async fn children(img: &Image, snap: u64) -> Result<Vec<Child>> {
    let rados = &img.io.rados;
    let mut out = Vec::new();
    for (pool, pname) in rados.list_pools() {
        let mut io = rados.ioctx_by_id(pool)?;
        io.set_namespace(&img.io.nspace);
        let key = cls::enc(|e| cls::children_key(e, img.io.pool, &img.id, snap));
        let ids = match cls::call(&io, CHILDREN, "get_children", key).await {
            Ok(b) => cls::dec_string_set(b)?,
            Err(e) if e.errno == 2 || e.errno == 95 || e.errno == 1 => continue,
            Err(e) => return Err(e),
        };
        for id in ids {
            let name = cls::call(&io, DIRECTORY, "dir_get_name", cls::enc(|e| e.string(&id))).await.and_then(cls::dec_string).unwrap_or_default();
            out.push(Child { pool: pname.clone(), namespace: io.nspace.clone(), name, id });
        }
    }
    match cls::call(&img.io, &img.header_oid, "children_list", cls::snap_arg(snap)).await {
        Ok(b) => {
            for c in cls::dec_children(b)? {
                let mut io = rados.ioctx_by_id(c.pool)?;
                io.set_namespace(&c.namespace);
                let name = cls::call(&io, DIRECTORY, "dir_get_name", cls::enc(|e| e.string(&c.image_id))).await.and_then(cls::dec_string).unwrap_or_default();
                out.push(Child { pool: rados.pool_name(c.pool).unwrap_or_default(), namespace: c.namespace, name, id: c.image_id });
            }
        }
        Err(e) if e.errno == 2 || e.errno == 95 || e.errno == 38 => {}
        Err(e) => return Err(e),
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// Drops a clone's link to its parent: the child record (format 1 in
/// `rbd_children`, format 2 on the parent's header), then the header's link.
pub async fn detach_from_parent(img: &Image, spec: &ParentSpec) -> Result<()> {
    if img.header.op_features & OP_CLONE_CHILD != 0 {
        let mut pio = img.io.rados.ioctx_by_id(spec.pool)?;
        pio.set_namespace(&spec.namespace);
        let child = ChildSpec { pool: img.io.pool, namespace: img.io.nspace.clone(), image_id: img.id.clone() };
        match cls::call(&pio, &header_oid(&spec.image_id), "child_detach", cls::enc(|e| {
            e.u64(spec.snap);
            child.encode(e);
        }))
        .await
        {
            Ok(_) => {}
            Err(e) if e.errno == 2 => {}
            Err(e) => return Err(e),
        }
    } else {
        match cls::call(&img.io, CHILDREN, "remove_child", cls::enc(|e| {
            cls::children_key(e, spec.pool, &spec.image_id, spec.snap);
            e.string(&img.id);
        }))
        .await
        {
            Ok(_) => {}
            Err(e) if e.errno == 2 => {}
            Err(e) => return Err(e),
        }
    }
    match cls::call(&img.io, &img.header_oid, "parent_detach", Bytes::new()).await {
        Ok(_) => Ok(()),
        Err(e) if e.errno == 2 => Ok(()),
        Err(e) => Err(e),
    }
}
