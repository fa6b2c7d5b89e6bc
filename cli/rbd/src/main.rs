//! `rbd`: manage RBD images, argument- and output-compatible with Ceph
//! Pacific's `rbd` tool, over our `rbd` crate.

mod args;
mod bench;
mod imex;
mod map;
mod progress;
mod table;

use args::{parse_size, Args, Spec};
use progress::Progress;
use rados::{Error, IoCtx, Rados};
use rbd::features::{self, feature_names, flag_names, op_feature_names};
use rbd::Image;
use serde_json::{json, Value};
use std::io::Write;
use std::process::exit;
use table::Table;
use types::units::byte_u;

const USAGE: &str = "\
usage: rbd <command> ...

Command-line interface for managing Ceph RBD images (oxceph).

Positional arguments:
  <command>
    bench                     Simple benchmark.
    children                  Display children of an image or its snapshot.
    clone                     Clone a snapshot into a CoW child image.
    copy (cp)                 Copy src image to dest.
    create                    Create an empty image.
    device list (showmapped)  List mapped rbd images.
    device map (map)          Map an image to a block device.
    device unmap (unmap)      Unmap a rbd device.
    disk-usage (du)           Show disk usage stats for pool, image or
                              snapshot.
    export                    Export image to file.
    export-diff               Export incremental diff to file.
    feature disable           Disable the specified image feature.
    feature enable            Enable the specified image feature.
    flatten                   Fill clone with parent data (make it
                              independent).
    import                    Import image from file.
    import-diff               Import an incremental diff.
    info                      Show information about image size, striping,
                              etc.
    list (ls)                 List rbd images.
    lock add                  Take a lock on an image.
    lock list (lock ls)       Show locks held on an image.
    lock remove (lock rm)     Release a lock on an image.
    remove (rm)               Delete an image.
    rename (mv)               Rename image within pool.
    resize                    Resize (expand or shrink) image.
    snap create (snap add)    Create a snapshot.
    snap list (snap ls)       Dump list of image snapshots.
    snap protect              Prevent a snapshot from being deleted.
    snap purge                Delete all unprotected snapshots.
    snap remove (snap rm)     Delete a snapshot.
    snap rename               Rename a snapshot.
    snap rollback (snap revert)
                              Rollback image to snapshot.
    snap unprotect            Allow a snapshot to be deleted.
    status                    Show the status of this image.
    watch                     Watch events on image.

Optional arguments:
  -c [ --conf ] arg     path to cluster configuration
  --cluster arg         cluster name
  --id arg              client id (without 'client.' prefix)
  -n [ --name ] arg     client name
  -m [ --mon_host ] arg monitor host
  -k [ --keyring ] arg  path to keyring
";

/// Exit with the errno as the real tool does.
fn fail(msg: &str, errno: i32) -> ! {
    let _ = std::io::stdout().flush();
    eprintln!("{msg}");
    exit(errno.clamp(1, 255))
}

fn fail_e(prefix: &str, e: &Error) -> ! {
    tracing::debug!("{prefix}: {}", e.msg);
    fail(&format!("rbd: {prefix}: {}", e.ceph_str()), e.errno)
}

/// The end of a long operation: its progress line, then exit status 0 or
/// the error as `rbd: WHAT: (errno) message`.
fn conclude(p: &Progress, r: rbd::Result<()>, what: &str) -> i32 {
    p.end(&r);
    match r {
        Ok(()) => 0,
        Err(e) => fail_e(what, &e),
    }
}

fn print_json(a: &Args, v: &Value) {
    if a.flag("pretty-format") {
        // four-space indents, as Ceph's JSONFormatter
        use serde::Serialize;
        let mut out = Vec::new();
        let mut ser = serde_json::Serializer::with_formatter(&mut out, serde_json::ser::PrettyFormatter::with_indent(b"    "));
        let _ = v.serialize(&mut ser);
        println!("{}", String::from_utf8_lossy(&out));
    } else {
        print!("{}", serde_json::to_string(v).unwrap_or_default());
        // the real tool ends JSON without a newline except on a terminal
        let _ = std::io::stdout().flush();
    }
}

struct Ctx {
    rados: Rados,
    a: Args,
    /// `rbd_default_features` from the configuration.
    default_features: Option<String>,
    /// Bytes of writes in flight before a write waits (librbd's writearound
    /// cache: `rbd_cache`, `rbd_cache_policy`, `rbd_cache_max_dirty`); 0 = off.
    cache_max_dirty: u64,
}

impl Ctx {
    fn spec(&self, i: usize) -> Spec {
        Spec::parse(self.a.words.get(i).map(String::as_str), &self.a, false).unwrap_or_else(|m| fail(&m, 22))
    }
    fn progress(&self, op: &'static str) -> Progress {
        Progress::new(op, !self.a.flag("no-progress"))
    }
    async fn io(&self, s: &Spec) -> IoCtx {
        let mut io = match self.rados.ioctx(&s.pool).await {
            Ok(io) => io,
            Err(_) => fail(&format!("rbd: error opening pool '{}': (2) No such file or directory", s.pool), 2),
        };
        io.set_namespace(&s.namespace);
        io
    }
    fn need_image(&self, s: &Spec) {
        if s.image.is_empty() {
            fail("rbd: image name was not specified", 22);
        }
    }
    async fn open(&self, s: &Spec) -> Image {
        self.need_image(s);
        let io = self.io(s).await;
        match Image::open(&io, &s.image, s.snap.as_deref()).await {
            Ok(i) => i,
            Err(e) => fail(&format!("rbd: error opening image {}: {}", s.image, e.ceph_str()), e.errno),
        }
    }
    async fn open_rw(&self, s: &Spec) -> Image {
        let mut img = self.open(s).await;
        img.set_write_cache(self.cache_max_dirty);
        if let Err(e) = img.acquire().await {
            fail(&format!("rbd: error opening image {}: {}\n{}", s.image, e.ceph_str(), e.msg), e.errno);
        }
        img
    }
    fn create_options(&self, size: u64) -> rbd::CreateOptions {
        let a = &self.a;
        let mut features = None;
        if !a.features.is_empty() {
            let mut f = 0;
            for n in a.features.iter().flat_map(|x| x.split(',')) {
                f |= features::parse_one(n.trim()).unwrap_or_else(|| fail(&format!("rbd: invalid image feature '{n}'"), 22));
            }
            features = Some(f);
        } else if let Some(d) = &self.default_features {
            features = Some(features::parse_list(d).unwrap_or_else(|| fail(&format!("rbd: invalid rbd_default_features '{d}'"), 22)));
        }
        let mut order = a.opt("order").map(|o| o.parse::<u8>().unwrap_or_else(|_| fail("rbd: invalid order", 22)));
        if let Some(os) = a.opt("object-size") {
            let os = parse_size(os, 1).unwrap_or_else(|m| fail(&m, 22));
            if !os.is_power_of_two() {
                fail("rbd: object size must be a power of two", 22);
            }
            order = Some(os.trailing_zeros() as u8);
        }
        rbd::CreateOptions {
            size,
            order,
            features,
            stripe_unit: a.opt("stripe-unit").map(|s| parse_size(s, 1).unwrap_or_else(|m| fail(&m, 22))),
            stripe_count: a.opt("stripe-count").map(|s| s.parse().unwrap_or_else(|_| fail("rbd: invalid stripe count", 22))),
            data_pool: a.opt("data-pool").map(str::to_string),
        }
    }
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("OXCEPH_LOG").unwrap_or_else(|_| "off".into()))
        .with_writer(std::io::stderr)
        .init();
    let mut argv: Vec<String> = std::env::args().skip(1).collect();
    if let Ok(env) = std::env::var("CEPH_ARGS") {
        argv.extend(env.split_whitespace().map(str::to_string));
    }
    let a = Args::parse(argv).unwrap_or_else(|m| fail(&m, 22));
    if a.flag("help") || a.words.is_empty() {
        print!("{USAGE}");
        exit(if a.words.is_empty() && !a.flag("help") { 1 } else { 0 });
    }
    // commands that need no cluster connection
    match a.words[0].as_str() {
        "showmapped" => exit(map::showmapped(&a)),
        "unmap" => exit(map::unmap(&a).await),
        "device" if matches!(a.words.get(1).map(String::as_str), Some("list") | Some("ls")) => exit(map::showmapped(&a)),
        "device" if a.words.get(1).map(String::as_str) == Some("unmap") => exit(map::unmap(&a).await),
        _ => {}
    }
    let name = a.name.parse().unwrap_or_else(|e: String| fail(&e, 22));
    let mut conf = match config::Config::load(&a.cluster, name, a.conf.as_deref().map(std::path::Path::new)) {
        Ok(c) if c.conf_path.is_some() => c,
        _ => fail("did not load config file, using default settings.\nrbd: couldn't connect to the cluster!", 2),
    };
    for (k, v) in &a.overrides {
        conf.set_override(k, v);
    }
    let default_features = conf.get("rbd_default_features");
    let cache_on = conf.get("rbd_cache").map(|v| !matches!(v.as_str(), "false" | "0" | "no")).unwrap_or(true);
    let writearound = conf.get("rbd_cache_policy").map(|p| p != "writethrough").unwrap_or(true);
    let max_dirty = conf.get("rbd_cache_max_dirty").and_then(|v| args::parse_size(&v, 1).ok()).unwrap_or(24 << 20);
    let cache_max_dirty = if cache_on && writearound { max_dirty } else { 0 };
    let mut opts = rados::MonClientOptions::default();
    if let Some(t) = conf.get_f64("client_mount_timeout").filter(|t| *t > 0.0) {
        opts.connect_timeout = monc::secs(t, 300.0);
    }
    let rados = match Rados::connect(conf, opts).await {
        Ok(r) => r,
        Err(e) => {
            tracing::debug!("connect: {e}");
            fail("rbd: couldn't connect to the cluster!", 1)
        }
    };
    let c = Ctx { rados, a, default_features, cache_max_dirty };
    let w: Vec<&str> = c.a.words.iter().map(String::as_str).collect();
    // (command words, index of the first spec)
    let (cmd, at): (String, usize) = match w.as_slice() {
        ["snap" | "lock" | "feature" | "device", sub, ..] => (format!("{} {sub}", w[0]), 2),
        [one, ..] => (one.to_string(), 1),
        [] => unreachable!(),
    };
    // the background half of `rbd map`
    if let Ok(id_mnt) = std::env::var("OXCEPH_RBD_SERVE") {
        exit(map::serve(&c, 0, &id_mnt).await);
    }
    let rc = run(&c, &cmd, at).await;
    exit(rc)
}

async fn run(c: &Ctx, cmd: &str, at: usize) -> i32 {
    let a = &c.a;
    match cmd {
        "ls" | "list" => ls(c, at).await,
        "create" => {
            let s = c.spec(at);
            c.need_image(&s);
            let size = a.opt("size").map(|v| parse_size(v, 1 << 20).unwrap_or_else(|m| fail(&m, 22))).unwrap_or_else(|| fail("rbd: must specify --size <M/G/T>", 22));
            let io = c.io(&s).await;
            if let Err(e) = rbd::create(&io, &s.image, &c.create_options(size)).await {
                tracing::info!("create: {}", e.msg);
                fail(&format!("rbd: create error: {}", e.ceph_str()), e.errno);
            }
            0
        }
        "info" => info(c, at).await,
        "resize" => {
            let s = c.spec(at);
            let size = a.opt("size").map(|v| parse_size(v, 1 << 20).unwrap_or_else(|m| fail(&m, 22))).unwrap_or_else(|| fail("rbd: must specify --size <M/G/T>", 22));
            let mut img = c.open_rw(&s).await;
            if size < img.header.size && !a.flag("allow-shrink") {
                fail("rbd: shrinking an image is only allowed with the --allow-shrink flag", 22);
            }
            let p = c.progress("Resizing image");
            let r = img.resize(size, &p).await;
            let _ = img.release().await;
            conclude(&p, r, "resize error")
        }
        "rm" | "remove" => {
            let s = c.spec(at);
            c.need_image(&s);
            let io = c.io(&s).await;
            let p = c.progress("Removing image");
            match rbd::remove(&io, &s.image, &p).await {
                Ok(()) => {
                    p.finish();
                    0
                }
                Err(e) => {
                    p.fail();
                    match e.errno {
                        39 => fail("rbd: image has snapshots - these must be deleted with 'rbd snap purge' before the image can be removed.", 39),
                        16 => fail("rbd: error: image still has watchers\nThis means the image is still open or the client using it crashed. Try again after closing/unmapping it or waiting 30s for the crashed client to timeout.", 16),
                        _ => fail_e("delete error", &e),
                    }
                }
            }
        }
        "mv" | "rename" => {
            let s = c.spec(at);
            let d = Spec::parse(a.words.get(at + 1).map(String::as_str), a, true).unwrap_or_else(|m| fail(&m, 22));
            if d.pool != s.pool && a.words.get(at + 1).is_some_and(|x| x.contains('/')) {
                fail(&format!("rbd: mv/rename across pools not supported\nsource pool: {} dest pool: {}", s.pool, d.pool), 22);
            }
            let io = c.io(&s).await;
            if let Err(e) = rbd::rename(&io, &s.image, &d.image).await {
                fail_e("rename error", &e);
            }
            0
        }
        "cp" | "copy" => imex::copy(c, at).await,
        "export" => imex::export(c, at).await,
        "import" => imex::import(c, at).await,
        "export-diff" => imex::export_diff(c, at).await,
        "import-diff" => imex::import_diff(c, at).await,
        "snap create" | "snap add" => snap_op(c, at, "create").await,
        "snap rm" | "snap remove" => snap_op(c, at, "rm").await,
        "snap protect" => snap_op(c, at, "protect").await,
        "snap unprotect" => snap_op(c, at, "unprotect").await,
        "snap rollback" | "snap revert" => snap_op(c, at, "rollback").await,
        "snap rename" => snap_op(c, at, "rename").await,
        "snap ls" | "snap list" => snap_ls(c, at).await,
        "snap purge" => snap_purge(c, at).await,
        "clone" => {
            let p = c.spec(at);
            let Some(psnap) = p.snap.clone() else { fail("rbd: snapshot name was not specified", 22) };
            let d = Spec::parse(a.words.get(at + 1).map(String::as_str), a, true).unwrap_or_else(|m| fail(&m, 22));
            c.need_image(&d);
            let pio = c.io(&p).await;
            let cio = c.io(&d).await;
            let mut o = c.create_options(0);
            if c.a.features.is_empty() {
                // the parent's, unless --image-feature says otherwise
                o.features = None;
            }
            if let Err(e) = rbd::clone(&pio, &p.image, &psnap, &cio, &d.image, &o).await {
                if e.errno == 22 {
                    eprintln!("rbd: {}", e.msg);
                }
                fail(&format!("rbd: clone error: {}", e.ceph_str()), e.errno);
            }
            0
        }
        "children" => children(c, at).await,
        "flatten" => {
            let s = c.spec(at);
            let mut img = c.open_rw(&s).await;
            let p = c.progress("Image flatten");
            let r = img.flatten(&p).await;
            let _ = img.release().await;
            conclude(&p, r, "flatten error")
        }
        "du" | "disk-usage" => du(c, at).await,
        "bench" => bench::bench(c, at).await,
        "status" => status(c, at).await,
        "watch" => watch(c, at).await,
        "lock ls" | "lock list" => lock_ls(c, at).await,
        "lock add" => {
            let s = c.spec(at);
            let id = a.words.get(at + 1).cloned().unwrap_or_else(|| fail("rbd: lock id was not specified", 22));
            let img = c.open(&s).await;
            let (ty, tag) = match a.opt("shared") {
                Some(t) => (rbd::cls::LOCK_SHARED, t.to_string()),
                None => (rbd::cls::LOCK_EXCLUSIVE, String::new()),
            };
            if let Err(e) = rbd::cls::lock(&img.io, &img.header_oid, rbd::image::RBD_LOCK_NAME, ty, &id, &tag, "").await {
                match e.errno {
                    16 => fail("rbd: lock is already held by someone else with a different tag", 16),
                    17 => fail("rbd: lock is already held by someone else", 17),
                    _ => fail_e("taking lock failed", &e),
                }
            }
            0
        }
        "lock rm" | "lock remove" => {
            let s = c.spec(at);
            let id = a.words.get(at + 1).cloned().unwrap_or_else(|| fail("rbd: lock id was not specified", 22));
            let locker = a.words.get(at + 2).cloned().unwrap_or_else(|| fail("rbd: locker was not specified", 22));
            let img = c.open(&s).await;
            let ent: types::EntityName = locker.parse().unwrap_or_else(|_| fail("rbd: locker was not specified", 22));
            let ent = types::EntityNameT { ty: ent.ty.0 as u8, num: ent.id.parse().unwrap_or(-1) };
            if let Err(e) = rbd::cls::break_lock(&img.io, &img.header_oid, rbd::image::RBD_LOCK_NAME, &ent, &id).await {
                fail_e("releasing lock failed", &e);
            }
            0
        }
        "feature enable" | "feature disable" => {
            let s = c.spec(at);
            let mut f = 0;
            for n in a.words.iter().skip(at + 1) {
                f |= features::parse_one(n).unwrap_or_else(|| fail(&format!("rbd: invalid feature '{n}'"), 22));
            }
            if f == 0 {
                fail("rbd: at least one feature name must be specified", 22);
            }
            let mut img = c.open(&s).await;
            let enable = cmd == "feature enable";
            let r = if img.header.features & features::EXCLUSIVE_LOCK != 0 { img.acquire().await } else { Ok(()) };
            let r = match r {
                Ok(()) => img.update_features(f, enable).await,
                Err(e) => Err(e),
            };
            let _ = img.release().await;
            if let Err(e) = r {
                fail_e("failed to update image features", &e);
            }
            0
        }
        "map" | "device map" => map::map(c, at).await,
        _ => {
            eprint!("{USAGE}");
            fail(&format!("rbd: error parsing command '{cmd}'; -h or --help for usage"), 22)
        }
    }
}

async fn ls(c: &Ctx, at: usize) -> i32 {
    let a = &c.a;
    let pool = a.words.get(at).cloned().or_else(|| a.opt("pool").map(str::to_string)).unwrap_or_else(|| "rbd".into());
    let (pool, ns) = match pool.split_once('/') {
        Some((p, n)) => (p.to_string(), n.to_string()),
        None => (pool, a.opt("namespace").unwrap_or("").to_string()),
    };
    let s = Spec { pool, namespace: ns, image: String::new(), snap: None };
    let io = c.io(&s).await;
    let images = rbd::list(&io).await.unwrap_or_else(|e| fail_e("error listing images", &e));
    if !a.flag("long") {
        if a.json() {
            print_json(a, &Value::Array(images.iter().map(|(n, _)| json!(n)).collect()));
        } else {
            for (n, _) in &images {
                println!("{n}");
            }
        }
        return 0;
    }
    let mut t = Table::new(&[("NAME", false), ("SIZE", true), ("PARENT", false), ("FMT", true), ("PROT", false), ("LOCK", false)]);
    let mut js = Vec::new();
    for (name, id) in &images {
        let Ok(img) = Image::open_by_id(&io, name, id, None).await else { continue };
        let lock = rbd::cls::get_lock_info(&io, &img.header_oid, rbd::image::RBD_LOCK_NAME).await.ok().filter(|l| !l.lockers.is_empty());
        let lock_s = match &lock {
            Some(l) if l.lock_type == rbd::cls::LOCK_SHARED => "shr",
            Some(_) => "excl",
            None => "",
        };
        let parent = img.parent_name().unwrap_or_default();
        t.row(vec![name.clone(), byte_u(img.header.size), parent.clone(), "2".into(), "".into(), lock_s.into()]);
        let mut o = json!({"image": name, "id": id, "size": img.header.size, "format": 2});
        if let Some(p) = parent_json(&img) {
            o["parent"] = p;
        }
        if !lock_s.is_empty() {
            o["lock_type"] = json!(if lock_s == "shr" { "shared" } else { "exclusive" });
        }
        js.push(o);
        for s in img.snaps.iter().filter(|s| s.user) {
            let mut snapimg = Image::open_by_id(&io, name, id, Some(s.id)).await.ok();
            let parent = snapimg.as_mut().and_then(|i| i.parent_name()).unwrap_or_default();
            t.row(vec![format!("{name}@{}", s.name), byte_u(s.size), parent, "2".into(), if s.protected { "yes".into() } else { "".into() }, "".into()]);
            let mut o = json!({"image": name, "id": id, "snapshot": s.name, "snapshot_id": s.id, "size": s.size});
            if let Some(p) = snapimg.as_ref().and_then(parent_json) {
                o["parent"] = p;
            }
            o["format"] = json!(2);
            o["protected"] = json!(if s.protected { "true" } else { "false" });
            js.push(o);
        }
    }
    if a.json() {
        print_json(a, &Value::Array(js));
    } else if !images.is_empty() {
        print!("{}", t.render());
    }
    0
}

fn parent_json(img: &Image) -> Option<Value> {
    let p = img.parent.as_ref()?;
    let name = img.parent_name()?;
    let (pool, rest) = name.split_once('/')?;
    let (image, snap) = rest.rsplit_once('@')?;
    let image = image.rsplit('/').next().unwrap_or(image);
    Some(json!({"pool": pool, "pool_namespace": p.spec.namespace, "image": image, "snapshot": snap}))
}

async fn info(c: &Ctx, at: usize) -> i32 {
    let s = c.spec(at);
    let img = c.open(&s).await;
    let h = &img.header;
    let size = img.size();
    let objects = img.object_count();
    let feats = feature_names(h.features);
    let ops = op_feature_names(h.op_features);
    let flags = flag_names(h.flags);
    let data_pool = (h.data_pool >= 0).then(|| c.rados.pool_name(h.data_pool).unwrap_or_default());
    if c.a.json() {
        let mut o = json!({
            "name": s.image, "id": img.id, "size": size, "objects": objects, "order": h.order,
            "object_size": img.object_size(), "snapshot_count": img.snaps.len(),
        });
        if let Some(dp) = &data_pool {
            o["data_pool"] = json!(dp);
        }
        o["block_name_prefix"] = json!(h.object_prefix);
        o["format"] = json!(2);
        o["features"] = json!(feats);
        o["op_features"] = json!(ops);
        o["flags"] = json!(flags);
        o["create_timestamp"] = json!(h.create_timestamp.to_ctime());
        o["access_timestamp"] = json!(h.access_timestamp.to_ctime());
        o["modify_timestamp"] = json!(h.modify_timestamp.to_ctime());
        if let Some(sn) = &s.snap {
            let prot = img.snap_by_name(sn).map(|x| x.protected).unwrap_or(false);
            o["protected"] = json!(if prot { "true" } else { "false" });
        }
        if let (Some(p), Some(mut pj)) = (&img.parent, parent_json(&img)) {
            pj["id"] = json!(p.spec.image_id);
            pj["trash"] = json!(false);
            pj["overlap"] = json!(p.overlap);
            // key order as the real tool prints it
            let mut po = serde_json::Map::new();
            for k in ["pool", "pool_namespace", "image", "id", "snapshot", "trash", "overlap"] {
                po.insert(k.into(), pj[k].clone());
            }
            o["parent"] = Value::Object(po);
        }
        if h.features & features::STRIPINGV2 != 0 {
            o["stripe_unit"] = json!(h.stripe_unit);
            o["stripe_count"] = json!(h.stripe_count);
        }
        print_json(&c.a, &o);
        return 0;
    }
    let mut out = format!("rbd image '{}':\n", s.image);
    out += &format!("\tsize {} in {objects} objects\n", byte_u(size));
    out += &format!("\torder {} ({} objects)\n", h.order, byte_u(img.object_size()));
    out += &format!("\tsnapshot_count: {}\n", img.snaps.len());
    out += &format!("\tid: {}\n", img.id);
    if let Some(dp) = &data_pool {
        out += &format!("\tdata_pool: {dp}\n");
    }
    out += &format!("\tblock_name_prefix: {}\n", h.object_prefix);
    out += "\tformat: 2\n";
    out += &format!("\tfeatures: {}\n", feats.join(", "));
    out += &format!("\top_features: {}\n", ops.join(", "));
    out += &format!("\tflags: {}\n", flags.join(", "));
    out += &format!("\tcreate_timestamp: {}\n", h.create_timestamp.to_ctime());
    out += &format!("\taccess_timestamp: {}\n", h.access_timestamp.to_ctime());
    out += &format!("\tmodify_timestamp: {}\n", h.modify_timestamp.to_ctime());
    if let Some(sn) = &s.snap {
        let prot = img.snap_by_name(sn).map(|x| x.protected).unwrap_or(false);
        out += &format!("\tprotected: {}\n", if prot { "True" } else { "False" });
    }
    if let (Some(p), Some(name)) = (&img.parent, img.parent_name()) {
        out += &format!("\tparent: {name}\n\toverlap: {}\n", byte_u(p.overlap));
    }
    if h.features & features::STRIPINGV2 != 0 {
        out += &format!("\tstripe unit: {}\n\tstripe count: {}\n", byte_u(h.stripe_unit), h.stripe_count);
    }
    print!("{out}");
    0
}

async fn snap_op(c: &Ctx, at: usize, op: &str) -> i32 {
    let s = c.spec(at);
    let Some(snap) = s.snap.clone() else { fail("rbd: snapshot name was not specified", 22) };
    let needs_lock = matches!(op, "create" | "rm" | "rollback");
    let mut img = if needs_lock { c.open_rw(&Spec { snap: None, ..s.clone() }).await } else { c.open(&Spec { snap: None, ..s.clone() }).await };
    let r = match op {
        "create" => {
            let p = c.progress("Creating snap");
            rbd::Progress::update(&p, 1, 10);
            let r = img.snap_create(&snap).await;
            p.end(&r);
            r.map_err(|e| ("failed to create snapshot", e))
        }
        "rm" => {
            let p = c.progress("Removing snap");
            let r = img.snap_remove(&snap).await;
            p.end(&r);
            if let Err(e) = &r {
                if e.errno == 16 {
                    let _ = img.release().await;
                    fail(&format!("rbd: snapshot '{snap}' is protected from removal."), 16);
                }
            }
            r.map_err(|e| ("failed to remove snapshot", e))
        }
        "protect" => img.snap_protect(&snap).await.map_err(|e| ("protecting snap failed", e)),
        "unprotect" => img.snap_unprotect(&snap).await.map_err(|e| ("unprotecting snap failed", e)),
        "rollback" => {
            let p = c.progress("Rolling back to snapshot");
            let r = img.snap_rollback(&snap, &p).await;
            p.end(&r);
            r.map_err(|e| ("rollback failed", e))
        }
        "rename" => {
            let d = c.a.words.get(at + 1).cloned().unwrap_or_else(|| fail("rbd: destination snapshot name was not specified", 22));
            let dsnap = d.rsplit_once('@').map(|(_, x)| x.to_string()).unwrap_or(d);
            img.snap_rename(&snap, &dsnap).await.map_err(|e| ("renaming snap failed", e))
        }
        _ => unreachable!(),
    };
    let _ = img.release().await;
    match r {
        Ok(()) => 0,
        Err((what, e)) => {
            if !e.msg.is_empty() && !e.msg.starts_with('(') {
                eprintln!("librbd: {}", e.msg);
            }
            fail(&format!("rbd: {what}: {}", e.ceph_str()), e.errno)
        }
    }
}

async fn snap_ls(c: &Ctx, at: usize) -> i32 {
    let s = c.spec(at);
    let img = c.open(&Spec { snap: None, ..s }).await;
    let snaps: Vec<_> = img.snaps.iter().filter(|s| s.user).collect();
    if c.a.json() {
        let v: Vec<Value> = snaps
            .iter()
            .map(|s| json!({"id": s.id, "name": s.name, "size": s.size, "protected": if s.protected { "true" } else { "false" }, "timestamp": s.timestamp.to_ctime()}))
            .collect();
        print_json(&c.a, &Value::Array(v));
        return 0;
    }
    if snaps.is_empty() {
        return 0;
    }
    let mut t = Table::new(&[("SNAPID", true), ("NAME", false), ("SIZE", true), ("PROTECTED", false), ("TIMESTAMP", false)]);
    for s in snaps {
        t.row(vec![s.id.to_string(), s.name.clone(), byte_u(s.size), if s.protected { "yes".into() } else { "".into() }, s.timestamp.to_ctime()]);
    }
    print!("{}", t.render());
    0
}

async fn snap_purge(c: &Ctx, at: usize) -> i32 {
    let s = c.spec(at);
    let mut img = c.open_rw(&Spec { snap: None, ..s }).await;
    let names: Vec<String> = img.snaps.iter().filter(|s| s.user && !s.protected).map(|s| s.name.clone()).collect();
    let protected = img.snaps.iter().any(|s| s.protected);
    let p = c.progress("Removing all snapshots");
    let total = names.len() as u64;
    for (i, n) in names.iter().enumerate() {
        if let Err(e) = img.snap_remove(n).await {
            p.fail();
            let _ = img.release().await;
            fail_e("removing snaps failed", &e);
        }
        rbd::Progress::update(&p, i as u64 + 1, total);
    }
    let _ = img.release().await;
    if total > 0 {
        p.finish();
    }
    if protected {
        fail("rbd: removing snaps failed: (16) Device or resource busy", 16);
    }
    0
}

async fn children(c: &Ctx, at: usize) -> i32 {
    let s = c.spec(at);
    let img = c.open(&Spec { snap: None, ..s.clone() }).await;
    let snaps: Vec<u64> = match &s.snap {
        Some(n) => vec![img.snap_by_name(n).map(|x| x.id).unwrap_or_else(|| fail(&format!("rbd: error opening image {}: (2) No such file or directory", s.image), 2))],
        None if c.a.flag("all") => img.snaps.iter().map(|x| x.id).collect(),
        None => img.snaps.iter().map(|x| x.id).collect(),
    };
    let mut all = Vec::new();
    for sid in snaps {
        match rbd::children(&img, sid).await {
            Ok(v) => all.extend(v),
            Err(e) => fail_e("listing children failed", &e),
        }
    }
    if c.a.json() {
        let v: Vec<Value> = all.iter().map(|ch| json!({"pool": ch.pool, "pool_namespace": ch.namespace, "image": ch.name})).collect();
        print_json(&c.a, &Value::Array(v));
    } else {
        for ch in all {
            if ch.namespace.is_empty() {
                println!("{}/{}", ch.pool, ch.name);
            } else {
                println!("{}/{}/{}", ch.pool, ch.namespace, ch.name);
            }
        }
    }
    0
}

/// Used bytes of an image or snapshot: whole objects that changed since the
/// previous snapshot (the object map's EXISTS), librbd's fast-diff answer.
async fn du(c: &Ctx, at: usize) -> i32 {
    let a = &c.a;
    let spec = a.words.get(at).map(|_| c.spec(at));
    let s = spec.clone().unwrap_or(Spec { pool: a.opt("pool").unwrap_or("rbd").into(), namespace: String::new(), image: String::new(), snap: None });
    let io = c.io(&s).await;
    let images: Vec<(String, String)> = if s.image.is_empty() {
        rbd::list(&io).await.unwrap_or_else(|e| fail_e("du failed", &e))
    } else {
        vec![(s.image.clone(), rbd::image_id(&io, &s.image).await.unwrap_or_else(|e| fail(&format!("rbd: error opening image {}: {}", s.image, e.ceph_str()), e.errno)))]
    };
    let mut t = Table::new(&[("NAME", false), ("PROVISIONED", true), ("USED", true)]);
    let mut js = Vec::new();
    let (mut tp, mut tu) = (0u64, 0u64);
    for (name, id) in &images {
        let Ok(img) = Image::open_by_id(&io, name, id, None).await else { continue };
        if img.header.features & features::FAST_DIFF == 0 {
            eprintln!("warning: fast-diff map is not enabled for {name}. operation may be slow.");
        }
        let mut rows = Vec::new();
        for sn in img.snaps.iter().filter(|x| x.user) {
            if s.snap.as_deref().is_some_and(|x| x != sn.name) {
                continue;
            }
            let used = used_bytes(&img, Some(sn.id), sn.size).await;
            rows.push((format!("{name}@{}", sn.name), Some(sn), sn.size, used));
        }
        if s.snap.is_none() {
            let used = used_bytes(&img, None, img.header.size).await;
            rows.push((name.clone(), None, img.header.size, used));
        }
        for (label, sn, prov, used) in rows {
            t.row(vec![label, byte_u(prov), byte_u(used)]);
            let mut o = json!({"name": name, "id": id});
            if let Some(sn) = sn {
                o["snapshot"] = json!(sn.name);
                o["snapshot_id"] = json!(sn.id);
            }
            o["provisioned_size"] = json!(prov);
            o["used_size"] = json!(used);
            js.push(o);
            // an image is provisioned once, whatever its snapshots
            if sn.is_none() {
                tp += prov;
            }
            tu += used;
        }
    }
    if a.json() {
        let mut o = json!({"images": js});
        if s.image.is_empty() || images.len() > 1 || js.len() > 1 {
            o["total_provisioned_size"] = json!(tp);
            o["total_used_size"] = json!(tu);
        }
        print_json(a, &o);
    } else {
        if js.len() > 1 {
            t.row(vec!["<TOTAL>".into(), byte_u(tp), byte_u(tu)]);
        }
        print!("{}", t.render());
    }
    0
}

async fn used_bytes(img: &Image, snap: Option<u64>, size: u64) -> u64 {
    use rbd::image::{object_map_oid, OBJECT_EXISTS};
    let os = img.object_size();
    let oid = object_map_oid(&img.id, snap.unwrap_or(rbd::cls::NOSNAP));
    let count_map = |m: types::bit_vector::BitVector, fast_diff: bool| -> u64 {
        let mut used = 0;
        for i in 0..m.len {
            let st = m.get(i);
            let counts = if fast_diff { st == OBJECT_EXISTS } else { st != 0 && st != 2 };
            if counts {
                used += os.min(size.saturating_sub(i * os));
            }
        }
        used
    };
    if img.header.features & features::OBJECT_MAP != 0 {
        if let Ok(b) = rbd::cls::call(&img.io, &oid, "object_map_load", bytes::Bytes::new()).await {
            if let Ok(m) = rbd::cls::dec_bit_vector(b) {
                return count_map(m, img.header.features & features::FAST_DIFF != 0);
            }
        }
    }
    // no map: whole objects that exist at that point
    let mut data = img.data.clone();
    data.set_read_snap(snap.unwrap_or(rbd::cls::NOSNAP));
    let mut used = 0;
    for i in 0..img.layout.object_count(size) {
        if data.stat(&img.data_oid(i)).await.is_ok() {
            used += os.min(size.saturating_sub(i * os));
        }
    }
    used
}

async fn status(c: &Ctx, at: usize) -> i32 {
    let s = c.spec(at);
    let img = c.open(&Spec { snap: None, ..s }).await;
    let ws = img.io.list_watchers(&img.header_oid).await.unwrap_or_else(|e| fail_e("show status failed", &e));
    if c.a.json() {
        let v: Vec<Value> = ws.iter().map(|w| json!({"address": w.addr.to_string(), "client": w.name_num, "cookie": w.cookie})).collect();
        print_json(&c.a, &json!({"watchers": v}));
        return 0;
    }
    if ws.is_empty() {
        println!("Watchers: none");
    } else {
        println!("Watchers:");
        for w in ws {
            println!("\twatcher={} client.{} cookie={}", w.addr, w.name_num, w.cookie);
        }
    }
    0
}

async fn watch(c: &Ctx, at: usize) -> i32 {
    let s = c.spec(at);
    let img = c.open(&Spec { snap: None, ..s.clone() }).await;
    let mut w = img.io.watch(&img.header_oid, 30).await.unwrap_or_else(|e| fail_e("watch failed", &e));
    println!("press enter to exit...");
    let io = img.io.clone();
    let oid = img.header_oid.clone();
    let image = s.image.clone();
    let events = tokio::spawn(async move {
        while let Some(ev) = w.next().await {
            println!("{image} received notification: notify_id={}, cookie={}, notifier_id={}, bl.length={}", ev.notify_id, ev.cookie, ev.notifier_gid, ev.payload.len());
            let _ = io.notify_ack(&oid, ev.notify_id, ev.cookie, &[]).await;
        }
    });
    let _ = tokio::task::spawn_blocking(|| {
        let mut l = String::new();
        let _ = std::io::stdin().read_line(&mut l);
    })
    .await;
    events.abort();
    0
}

async fn lock_ls(c: &Ctx, at: usize) -> i32 {
    let s = c.spec(at);
    let img = c.open(&Spec { snap: None, ..s }).await;
    let info = match rbd::cls::get_lock_info(&img.io, &img.header_oid, rbd::image::RBD_LOCK_NAME).await {
        Ok(i) => i,
        Err(e) if e.errno == 2 => Default::default(),
        Err(e) => fail_e("listing locks failed", &e),
    };
    if c.a.json() {
        let v: Vec<Value> = info.lockers.iter().map(|l| json!({"id": l.cookie, "locker": l.entity.to_string(), "address": l.addr.to_string()})).collect();
        print_json(&c.a, &Value::Array(v));
        return 0;
    }
    if info.lockers.is_empty() {
        return 0;
    }
    let n = info.lockers.len();
    let shared = info.lock_type == rbd::cls::LOCK_SHARED;
    println!("There {} {n} {} lock{} on this image.", if n == 1 { "is" } else { "are" }, if shared { "shared" } else { "exclusive" }, if n == 1 { "" } else { "s" });
    if shared {
        println!("Lock tag: {}", info.tag);
    }
    let mut t = Table::new(&[("Locker", false), ("ID", false), ("Address", false)]);
    for l in &info.lockers {
        t.row(vec![l.entity.to_string(), l.cookie.clone(), l.addr.to_string()]);
    }
    print!("{}", t.render());
    0
}
