//! `ceph-objectstore-tool`: looks inside a stopped OSD's object store, with
//! the real tool's arguments and output for the operations we support:
//! `--op list-pgs` (one PG id per line), `--op list [--pgid PG]` (one JSON
//! array per object: `["1.0",{"oid":...}]`) and `[--pgid PG] OBJECT
//! get-bytes [FILE]` (OBJECT: a line of `--op list`, its JSON object, or a
//! name), and `--op get-osdmap [--epoch N] --file FILE` (a stored osdmap,
//! the newest by default).

use clap::Parser;
use objectstore::{Store, NOSNAP};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "ceph-objectstore-tool", about = "Inspect a stopped OSD's object store")]
struct Args {
    /// The OSD's data directory (osd_data).
    #[arg(long = "data-path")]
    data_path: PathBuf,
    /// list-pgs or list.
    #[arg(long)]
    op: Option<String>,
    /// Only this PG (for --op list).
    #[arg(long)]
    pgid: Option<String>,
    /// The osdmap epoch (for --op get-osdmap; the newest stored by default).
    #[arg(long)]
    epoch: Option<u32>,
    /// Where --op get-osdmap writes the map ("-": standard output).
    #[arg(long)]
    file: Option<String>,
    /// Accepted for compatibility (the store type is ours).
    #[arg(long = "type")]
    ty: Option<String>,
    /// Accepted for compatibility.
    #[arg(long)]
    no_mon_config: bool,
    /// OBJECT COMMAND [FILE]: `get-bytes` writes the object's data to FILE
    /// (or standard output).
    rest: Vec<String>,
}

/// The object an argument names: `["1.0",{...}]`, `{...}` or a plain name.
fn parse_object(s: &str) -> (Option<String>, serde_json::Value) {
    match serde_json::from_str::<serde_json::Value>(s) {
        Ok(serde_json::Value::Array(a)) if a.len() == 2 => (a[0].as_str().map(str::to_string), a[1].clone()),
        Ok(v @ serde_json::Value::Object(_)) => (None, v),
        _ => (None, serde_json::json!({ "oid": s })),
    }
}

fn get_bytes(store: &Store, a: &Args, obj: &str, file: Option<&String>) -> Result<(), String> {
    use std::io::Write;
    let (pg_in_json, spec) = parse_object(obj);
    let want_pg = a.pgid.clone().or(pg_in_json);
    let name = spec["oid"].as_str().unwrap_or_default();
    let nspace = spec["namespace"].as_str().unwrap_or_default();
    let snap = spec["snapid"].as_i64().map(|s| if s == -2 { NOSNAP } else { s as u64 }).unwrap_or(NOSNAP);
    let mut found = None;
    for pg in pgids(store)? {
        if want_pg.as_ref().is_some_and(|p| *p != pg) {
            continue;
        }
        let coll = format!("{pg}_head");
        let mut start = None;
        'scan: loop {
            let batch = store.list(&coll, start.as_ref(), 1025).map_err(|e| e.to_string())?;
            let more = batch.len() == 1025;
            for (i, (o, size)) in batch.into_iter().enumerate() {
                if more && i == 1024 {
                    start = Some(o);
                    continue 'scan;
                }
                if o.name == name && o.nspace == nspace && o.snap == snap {
                    found = Some((coll.clone(), o, size));
                    break 'scan;
                }
            }
            break;
        }
        if found.is_some() {
            break;
        }
    }
    let Some((coll, o, size)) = found else { return Err(format!("No object id '{obj}' found")) };
    let mut out: Box<dyn Write> = match file.map(String::as_str) {
        None | Some("-") => Box::new(std::io::stdout().lock()),
        Some(f) => Box::new(std::fs::File::create(f).map_err(|e| format!("{f}: {e}"))?),
    };
    let mut off = 0;
    while off < size {
        let n = (size - off).min(4 << 20);
        let d = store.read(&coll, &o, off, n).map_err(|e| e.to_string())?;
        out.write_all(&d).map_err(|e| e.to_string())?;
        off += n;
    }
    out.flush().map_err(|e| e.to_string())
}

/// The OSD keeps each epoch's full map under `osdmap/EPOCH` in its `meta`
/// collection (see the OSD's map history).
fn get_osdmap(store: &Store, a: &Args) -> Result<(), String> {
    use std::io::Write;
    let Some(file) = a.file.as_deref() else { return Err("Must provide --file (\"-\" for standard output)".into()) };
    // One map by key; only the newest needs a scan.
    let epoch = match a.epoch.filter(|e| *e > 0) {
        Some(e) => e,
        None => store.scan_meta("meta", "osdmap/").map_err(|e| e.to_string())?.iter().filter_map(|(k, _)| k.strip_prefix("osdmap/")?.parse::<u32>().ok()).max().unwrap_or(0),
    };
    let Some(map) = store.get_meta("meta", &format!("osdmap/{epoch:010}")).map_err(|e| e.to_string())? else {
        return Err(format!("Failed to get osdmap#{epoch}: (2) No such file or directory"));
    };
    // The real tool says so on standard output, unless the map went there.
    match file {
        "-" => {
            std::io::stdout().lock().write_all(&map).map_err(|e| e.to_string())?;
            eprintln!("osdmap#{epoch} exported.");
        }
        f => {
            std::fs::write(f, &map).map_err(|e| format!("Failed to write to {f}: {e}"))?;
            println!("osdmap#{epoch} exported.");
        }
    }
    Ok(())
}

fn pgids(store: &Store) -> Result<Vec<String>, String> {
    let colls = store.list_collections().map_err(|e| e.to_string())?;
    Ok(colls.iter().filter_map(|c| c.strip_suffix("_head")).map(str::to_string).collect())
}

fn run(a: &Args) -> Result<(), String> {
    if !a.data_path.join("store.db").exists() {
        return Err(format!("no object store at {} (is --data-path the OSD's data directory?)", a.data_path.display()));
    }
    // RocksDB holds a lock: as with Ceph's tool, the OSD must be stopped.
    let store = Store::open(&a.data_path, false).map_err(|e| format!("cannot open the object store (is the OSD still running? stop it first): {e}"))?;
    if let [obj, cmd, rest @ ..] = a.rest.as_slice() {
        return match cmd.as_str() {
            "get-bytes" => get_bytes(&store, a, obj, rest.first()),
            other => Err(format!("object command '{other}' is not supported (supported: get-bytes)")),
        };
    }
    let Some(op) = a.op.as_deref() else { return Err("Must provide --op or object command...".into()) };
    match op {
        "list-pgs" => {
            for pg in pgids(&store)? {
                println!("{pg}");
            }
        }
        "list" => {
            for pg in pgids(&store)? {
                if a.pgid.as_ref().is_some_and(|p| *p != pg) {
                    continue;
                }
                let pool: i64 = pg.split('.').next().and_then(|p| p.parse().ok()).unwrap_or(-1);
                let coll = format!("{pg}_head");
                let mut start = None;
                loop {
                    let batch = store.list(&coll, start.as_ref(), 1025).map_err(|e| e.to_string())?;
                    let more = batch.len() == 1025;
                    for (i, (o, _)) in batch.into_iter().enumerate() {
                        if more && i == 1024 {
                            start = Some(o);
                            break;
                        }
                        let snapid: i64 = if o.snap == NOSNAP { -2 } else { o.snap as i64 };
                        let v = serde_json::json!([pg, {"oid": o.name, "key": o.key, "snapid": snapid, "hash": o.hash, "max": 0, "pool": pool, "namespace": o.nspace, "max": 0}]);
                        println!("{v}");
                    }
                    if !more {
                        break;
                    }
                }
            }
        }
        "get-osdmap" => get_osdmap(&store, a)?,
        other => return Err(format!("operation '{other}' is not supported (supported: list-pgs, list, get-osdmap)")),
    }
    Ok(())
}

fn main() -> ExitCode {
    let a = Args::parse();
    match run(&a) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}
