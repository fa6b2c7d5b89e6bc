//! `rbd import`, `export`, `cp`, `export-diff` and `import-diff`: images
//! to and from files (or `-`), object-sized chunks with up to 10 in flight
//! (`rbd_concurrent_management_ops`), zero runs skipped as the real tool
//! skips them (sparse, 4 KiB granularity).

use crate::args::Spec;
use crate::{conclude, fail, fail_e, Ctx};
use bytes::{Bytes, BytesMut};
use futures::stream::{StreamExt, TryStreamExt};
use rbd::{Image, Progress as _};
use std::io::{Read, Seek, SeekFrom, Write};
use std::sync::Arc;

const IN_FLIGHT: usize = 10;
const SPARSE: usize = 4096;

/// The non-zero runs of `b` (4 KiB granularity), as (offset, bytes).
pub fn data_runs(b: &Bytes) -> Vec<(usize, Bytes)> {
    let mut out: Vec<(usize, Bytes)> = Vec::new();
    let mut start: Option<usize> = None;
    let mut at = 0;
    while at < b.len() {
        let end = (at + SPARSE).min(b.len());
        let zero = b[at..end].iter().all(|x| *x == 0);
        match (zero, start) {
            (false, None) => start = Some(at),
            (true, Some(s)) => {
                out.push((s, b.slice(s..at)));
                start = None;
            }
            _ => {}
        }
        at = end;
    }
    if let Some(s) = start {
        out.push((s, b.slice(s..)));
    }
    out
}

fn read_full(r: &mut dyn Read, n: usize) -> std::io::Result<Bytes> {
    let mut buf = BytesMut::zeroed(n);
    let mut got = 0;
    while got < n {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(k) => got += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    buf.truncate(got);
    Ok(buf.freeze())
}

pub async fn import(c: &Ctx, at: usize) -> i32 {
    let a = &c.a;
    let path = a.words.get(at).cloned().or_else(|| a.opt("path").map(str::to_string)).unwrap_or_else(|| fail("rbd: path was not specified", 22));
    let default_name = if path == "-" { String::new() } else { std::path::Path::new(&path).file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default() };
    let mut d = Spec::parse(a.words.get(at + 1).map(String::as_str), a, true).unwrap_or_else(|m| fail(&m, 22));
    if a.words.get(at + 1).is_none() && a.opt("dest").is_none() {
        d = Spec::parse(Some(&default_name), a, true).unwrap_or_else(|m| fail(&m, 22));
        if let Some(p) = a.opt("pool").or(a.opt("dest-pool")) {
            d.pool = p.to_string();
        }
    }
    c.need_image(&d);
    let (mut input, size): (Box<dyn Read + Send>, Option<u64>) = if path == "-" {
        (Box::new(std::io::stdin()), None)
    } else {
        match std::fs::File::open(&path) {
            Ok(f) => {
                let len = f.metadata().map(|m| m.len()).unwrap_or(0);
                (Box::new(f), Some(len))
            }
            Err(e) => fail(&format!("rbd: error opening {path}: ({}) {}", e.raw_os_error().unwrap_or(5), strip(&e.to_string())), e.raw_os_error().unwrap_or(5)),
        }
    };
    let io = c.io(&d).await;
    let opts = c.create_options(size.unwrap_or(0));
    if let Err(e) = rbd::create(&io, &d.image, &opts).await {
        fail(&format!("rbd: image creation failed\nrbd: import failed: {}", e.ceph_str()), e.errno);
    }
    let p = c.progress("Importing image");
    let r = import_data(c, &io, &d.image, &mut input, size, &p).await;
    conclude(&p, r, "import failed")
}

async fn import_data(c: &Ctx, io: &rados::IoCtx, name: &str, input: &mut (dyn Read + Send), size: Option<u64>, p: &crate::progress::Progress) -> rbd::Result<()> {
    let mut img = Image::open(io, name, None).await?;
    img.set_write_cache(c.cache_max_dirty);
    img.acquire().await?;
    let img = Arc::new(tokio::sync::RwLock::new(img));
    let r = write_stream(img.clone(), input, size, p).await;
    // the lock and watch go whatever happened
    let _ = img.write().await.release().await;
    r
}

async fn write_stream(img_ref: Arc<tokio::sync::RwLock<Image>>, input: &mut (dyn Read + Send), size: Option<u64>, p: &crate::progress::Progress) -> rbd::Result<()> {
    let (chunk, mut img_size) = {
        let img = img_ref.read().await;
        (img.object_size().max(img.header.stripe_unit * img.header.stripe_count) as usize, img.header.size)
    };
    let mut off = 0u64;
    let mut pending = futures::stream::FuturesOrdered::new();
    loop {
        let b = read_full(input, chunk).map_err(|e| rados::Error::new(e.raw_os_error().unwrap_or(5), format!("read error: {e}")))?;
        if b.is_empty() {
            break;
        }
        let n = b.len() as u64;
        if size.is_none() && off + n > img_size {
            // from a pipe the size is learnt as the data comes
            while pending.next().await.transpose()?.is_some() {}
            let grow = (off + n).next_multiple_of(1 << 30);
            img_ref.write().await.resize(grow, &rbd::NoProgress).await?;
            img_size = grow;
        }
        let img = img_ref.clone();
        pending.push_back(async move {
            let img = img.read().await;
            for (o, run) in data_runs(&b) {
                img.write(off + o as u64, run).await?;
            }
            Ok::<_, rados::Error>(())
        });
        off += n;
        if pending.len() >= IN_FLIGHT {
            pending.next().await.transpose()?;
        }
        if let Some(s) = size {
            p.update(off, s);
        }
    }
    while pending.next().await.transpose()?.is_some() {}
    let mut img = img_ref.write().await;
    if size.is_none() && off != img_size {
        img.resize(off, &rbd::NoProgress).await?;
    }
    Ok(())
}

fn strip(s: &str) -> String {
    s.split(" (os error").next().unwrap_or(s).to_string()
}

/// Reads the image in order, `IN_FLIGHT` chunks at a time.
fn chunks<'a>(img: &'a Image, size: u64) -> impl futures::Stream<Item = rbd::Result<(u64, Bytes)>> + 'a {
    let chunk = img.object_size();
    futures::stream::iter((0..size.div_ceil(chunk)).map(move |i| i * chunk))
        .map(move |off| async move { img.read(off, chunk.min(size - off)).await.map(|b| (off, rbd::image::pad(b, chunk.min(size - off)))) })
        .buffered(IN_FLIGHT)
}

pub async fn export(c: &Ctx, at: usize) -> i32 {
    let s = c.spec(at);
    let path = c.a.words.get(at + 1).cloned().unwrap_or_else(|| s.image.clone());
    let img = c.open(&s).await;
    let size = img.size();
    let p = c.progress("Exporting image");
    let mut out: Box<dyn WriteSeek> = if path == "-" {
        Box::new(Stdout(std::io::stdout()))
    } else {
        if std::path::Path::new(&path).exists() {
            fail(&format!("rbd: export error: (17) File exists"), 17);
        }
        match std::fs::File::create(&path) {
            Ok(f) => Box::new(f),
            Err(e) => fail(&format!("rbd: error opening {path}: {e}"), e.raw_os_error().unwrap_or(5)),
        }
    };
    let sparse = path != "-";
    let r: rbd::Result<()> = async {
        let mut st = std::pin::pin!(chunks(&img, size));
        while let Some((off, b)) = st.try_next().await? {
            if sparse && b.iter().all(|x| *x == 0) {
                out.skip_to(off + b.len() as u64)?;
            } else {
                out.write_all(&b).map_err(io_err)?;
            }
            rbd::Progress::update(&p, off + b.len() as u64, size);
        }
        out.finish(size)?;
        Ok(())
    }
    .await;
    conclude(&p, r, "export error")
}

fn io_err(e: std::io::Error) -> rados::Error {
    rados::Error::new(e.raw_os_error().unwrap_or(5), e.to_string())
}

/// Output that may be a pipe (no holes) or a file (holes by seeking).
trait WriteSeek: Write {
    fn skip_to(&mut self, off: u64) -> rbd::Result<()>;
    fn finish(&mut self, size: u64) -> rbd::Result<()>;
}
impl WriteSeek for std::fs::File {
    fn skip_to(&mut self, off: u64) -> rbd::Result<()> {
        self.seek(SeekFrom::Start(off)).map(|_| ()).map_err(io_err)
    }
    fn finish(&mut self, size: u64) -> rbd::Result<()> {
        self.set_len(size).map_err(io_err)
    }
}
struct Stdout(std::io::Stdout);
impl Write for Stdout {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.write(b)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}
impl WriteSeek for Stdout {
    fn skip_to(&mut self, _: u64) -> rbd::Result<()> {
        Ok(())
    }
    fn finish(&mut self, _: u64) -> rbd::Result<()> {
        self.0.flush().map_err(io_err)
    }
}

pub async fn copy(c: &Ctx, at: usize) -> i32 {
    let s = c.spec(at);
    let d = Spec::parse(c.a.words.get(at + 1).map(String::as_str), &c.a, true).unwrap_or_else(|m| fail(&m, 22));
    c.need_image(&d);
    let src = c.open(&s).await;
    let size = src.size();
    let dio = c.io(&d).await;
    let mut o = c.create_options(size);
    if c.a.features.is_empty() {
        o.features = Some(src.header.features & !(rbd::features::DATA_POOL | rbd::features::OPERATIONS | rbd::features::STRIPINGV2));
    }
    if o.order.is_none() {
        o.order = Some(src.header.order);
    }
    if let Err(e) = rbd::create(&dio, &d.image, &o).await {
        fail_e("copy failed", &e);
    }
    let p = c.progress("Image copy");
    let r: rbd::Result<()> = async {
        let mut dst = Image::open(&dio, &d.image, None).await?;
        dst.set_write_cache(c.cache_max_dirty);
        dst.acquire().await?;
        let r = {
            let dst = &dst;
            let st = chunks(&src, size);
            st.try_for_each_concurrent(IN_FLIGHT, |(off, b)| async move {
                for (o, run) in data_runs(&b) {
                    dst.write(off + o as u64, run).await?;
                }
                Ok(())
            })
            .await
        };
        let released = dst.release().await;
        r.and(released)
    }
    .await;
    conclude(&p, r, "copy failed")
}

// ------------------------------------------------------------------ diffs

const DIFF_BANNER: &[u8] = b"rbd diff v1\n";

fn put_string(v: &mut Vec<u8>, s: &str) {
    v.extend_from_slice(&(s.len() as u32).to_le_bytes());
    v.extend_from_slice(s.as_bytes());
}

/// `rbd export-diff [--from-snap S] image[@snap] path`: the "rbd diff v1"
/// stream of what changed since S (or all data), as 'w' and 'z' records.
pub async fn export_diff(c: &Ctx, at: usize) -> i32 {
    let s = c.spec(at);
    let path = c.a.words.get(at + 1).cloned().unwrap_or_else(|| fail("rbd: path was not specified", 22));
    let img = c.open(&s).await;
    let from = match c.a.opt("from-snap") {
        Some(f) => {
            let mut base = c.open(&Spec { snap: None, ..s.clone() }).await;
            let id = base.snap_by_name(f).map(|x| x.id).unwrap_or_else(|| fail(&format!("rbd: error opening image {}: (2) No such file or directory", s.image), 2));
            if let Err(e) = base.set_snap(id).await {
                fail_e("export-diff error", &e);
            }
            Some(base)
        }
        None => None,
    };
    let size = img.size();
    let mut out: Box<dyn Write> = if path == "-" {
        Box::new(std::io::stdout())
    } else {
        match std::fs::File::create(&path) {
            Ok(f) => Box::new(std::io::BufWriter::new(f)),
            Err(e) => fail(&format!("rbd: error opening {path}: {e}"), e.raw_os_error().unwrap_or(5)),
        }
    };
    let p = c.progress("Exporting image");
    let r: rbd::Result<()> = async {
        let mut head = DIFF_BANNER.to_vec();
        if let Some(f) = c.a.opt("from-snap") {
            head.push(b'f');
            put_string(&mut head, f);
        }
        if let Some(t) = &s.snap {
            head.push(b't');
            put_string(&mut head, t);
        }
        head.push(b's');
        head.extend_from_slice(&size.to_le_bytes());
        out.write_all(&head).map_err(io_err)?;
        let mut st = std::pin::pin!(chunks(&img, size));
        while let Some((off, b)) = st.try_next().await? {
            let old = match &from {
                Some(f) => Some(rbd::image::pad(f.read(off, b.len() as u64).await?, b.len() as u64)),
                None => None,
            };
            let mut at = 0;
            while at < b.len() {
                let end = (at + SPARSE).min(b.len());
                let new = &b[at..end];
                let changed = match &old {
                    Some(o) => &o[at..end] != new,
                    None => new.iter().any(|x| *x != 0),
                };
                if changed {
                    let zero = new.iter().all(|x| *x == 0);
                    let mut rec = vec![if zero { b'z' } else { b'w' }];
                    rec.extend_from_slice(&(off + at as u64).to_le_bytes());
                    rec.extend_from_slice(&((end - at) as u64).to_le_bytes());
                    if !zero {
                        rec.extend_from_slice(new);
                    }
                    out.write_all(&rec).map_err(io_err)?;
                }
                at = end;
            }
            rbd::Progress::update(&p, off + b.len() as u64, size);
        }
        out.write_all(b"e").map_err(io_err)?;
        out.flush().map_err(io_err)
    }
    .await;
    conclude(&p, r, "export-diff error")
}

fn take<const N: usize>(r: &mut dyn Read) -> rbd::Result<[u8; N]> {
    let mut b = [0u8; N];
    r.read_exact(&mut b).map_err(|_| rados::Error::new(22, "truncated diff"))?;
    Ok(b)
}

fn take_string(r: &mut dyn Read) -> rbd::Result<String> {
    let n = u32::from_le_bytes(take::<4>(r)?) as usize;
    if n > 4096 {
        return Err(rados::Error::new(22, "bad string in diff"));
    }
    let mut v = vec![0u8; n];
    r.read_exact(&mut v).map_err(|_| rados::Error::new(22, "truncated diff"))?;
    String::from_utf8(v).map_err(|_| rados::Error::new(22, "bad string in diff"))
}

/// `rbd import-diff path image`: applies a "rbd diff v1" stream; the
/// start snapshot must exist and the end snapshot is created.
pub async fn import_diff(c: &Ctx, at: usize) -> i32 {
    let path = c.a.words.get(at).cloned().unwrap_or_else(|| fail("rbd: path was not specified", 22));
    let s = Spec::parse(c.a.words.get(at + 1).map(String::as_str), &c.a, false).unwrap_or_else(|m| fail(&m, 22));
    let mut input: Box<dyn Read + Send> = if path == "-" {
        Box::new(std::io::stdin())
    } else {
        match std::fs::File::open(&path) {
            Ok(f) => Box::new(std::io::BufReader::new(f)),
            Err(e) => fail(&format!("rbd: error opening {path}: {e}"), e.raw_os_error().unwrap_or(5)),
        }
    };
    let mut img = c.open_rw(&Spec { snap: None, ..s.clone() }).await;
    let p = c.progress("Importing image diff");
    let r: rbd::Result<()> = async {
        let mut banner = [0u8; 12];
        input.read_exact(&mut banner).map_err(|_| rados::Error::new(22, "truncated diff"))?;
        if banner != DIFF_BANNER {
            return Err(rados::Error::new(22, "invalid banner in the diff (only 'rbd diff v1' is supported)"));
        }
        let mut to_snap = None;
        loop {
            let tag = take::<1>(&mut input)?[0];
            match tag {
                b'f' => {
                    let f = take_string(&mut input)?;
                    if img.snap_by_name(&f).is_none() {
                        return Err(rados::Error::new(2, format!("start snapshot '{f}' does not exist in the image, aborting")));
                    }
                }
                b't' => {
                    let t = take_string(&mut input)?;
                    if img.snap_by_name(&t).is_some() {
                        return Err(rados::Error::new(17, format!("end snapshot '{t}' already exists, aborting")));
                    }
                    to_snap = Some(t);
                }
                b's' => {
                    let size = u64::from_le_bytes(take::<8>(&mut input)?);
                    if size != img.header.size {
                        img.resize(size, &rbd::NoProgress).await?;
                    }
                }
                b'w' | b'z' => {
                    let off = u64::from_le_bytes(take::<8>(&mut input)?);
                    let len = u64::from_le_bytes(take::<8>(&mut input)?);
                    if tag == b'w' {
                        if len > 1 << 30 {
                            return Err(rados::Error::new(22, "oversized data record in the diff"));
                        }
                        let b = read_full(&mut input, len as usize).map_err(io_err)?;
                        if b.len() as u64 != len {
                            return Err(rados::Error::new(22, "truncated diff"));
                        }
                        img.write(off, b).await?;
                    } else {
                        img.discard(off, len).await?;
                    }
                    rbd::Progress::update(&p, off + len, img.header.size);
                }
                b'e' => break,
                t => return Err(rados::Error::new(22, format!("unknown record '{}' in the diff", t as char))),
            }
        }
        if let Some(t) = to_snap {
            img.snap_create(&t).await?;
        }
        Ok(())
    }
    .await;
    let _ = img.release().await;
    match r {
        Ok(()) => {
            p.finish();
            0
        }
        Err(e) => {
            p.fail();
            eprintln!("rbd: {}", e.msg);
            fail_e("import-diff failed", &e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::data_runs;
    use bytes::Bytes;

    #[test]
    fn zero_runs_are_skipped_at_4k() {
        let mut v = vec![0u8; 16384];
        v[5000] = 1;
        v[16383] = 2;
        let runs = data_runs(&Bytes::from(v));
        assert_eq!(runs.iter().map(|(o, b)| (*o, b.len())).collect::<Vec<_>>(), vec![(4096, 4096), (12288, 4096)]);
        assert!(data_runs(&Bytes::from(vec![0u8; 100])).is_empty());
    }
}
