//! `rados`: object-level access to a Ceph cluster, argument- and
//! output-compatible with Ceph Pacific's `rados` tool.

use bytes::Bytes;
use rados::{Error, IoCtx, Rados, ALL_NSPACES};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::process::exit;

mod bench;
mod df;

const USAGE: &str = "\
usage: rados [options] [commands]
POOL COMMANDS
   lspools                          list pools
   ls                               list objects in pool

OBJECT COMMANDS
   get <obj-name> <outfile>         fetch object
   put <obj-name> <infile> [--offset offset]
                                    write object with start offset (default:0)
   append <obj-name> <infile>       append object
   truncate <obj-name> length       truncate object
   create <obj-name>                create object
   rm <obj-name> ...                remove object(s)
   cp <obj-name> [target-obj]       copy object
   listxattr <obj-name>
   getxattr <obj-name> attr
   setxattr <obj-name> attr val
   rmxattr <obj-name> attr
   stat <obj-name>                  stat the named object
   listomapkeys <obj-name>          list the keys in the object map
   listomapvals <obj-name>          list the keys and vals in the object map
   getomapval <obj-name> <key> [file] show the value for the specified key
                                    in the object's object map
   setomapval <obj-name> <key> <val | --input-file file>
   rmomapkey <obj-name> <key>       Remove key from the object map of <obj-name>
   getomapheader <obj-name> [file]  Dump the hexadecimal value of the object map header
   setomapheader <obj-name> <val>   Set the value of the object map header
   listwatchers <obj-name>          list the watchers of this object

GLOBAL OPTIONS:
   -p pool
   --pool=pool
        select given pool by name
   -N namespace
   --namespace=namespace
        specify the namespace to use for the object
   --all
        Use with ls to list objects in all namespaces
   -f [--format plain|json|json-pretty]
   -c FILE, --conf FILE    read configuration from the given file
   -n TYPE.ID, --name TYPE.ID, --id ID, -k KEYRING, -m MONADDR
";

fn die(msg: &str) -> ! {
    let _ = std::io::stdout().flush();
    eprintln!("{msg}");
    exit(1)
}

struct Args {
    pool: Option<String>,
    nspace: String,
    all: bool,
    format: Option<String>,
    offset: u64,
    input_file: Option<String>,
    block_size: Option<usize>,
    object_size: Option<usize>,
    concurrent: usize,
    no_cleanup: bool,
    /// `--force-full`: removals go through to a full pool (FULL_FORCE).
    force_full: bool,
    run_name: Option<String>,
    words: Vec<String>,
    conf: Option<String>,
    cluster: String,
    name: String,
    overrides: Vec<(String, String)>,
}

fn parse_args() -> Args {
    let mut a = Args {
        pool: None,
        nspace: String::new(),
        all: false,
        format: None,
        offset: 0,
        input_file: None,
        block_size: None,
        object_size: None,
        concurrent: 16,
        no_cleanup: false,
        force_full: false,
        run_name: None,
        words: Vec::new(),
        conf: None,
        cluster: "ceph".into(),
        name: "client.admin".into(),
        overrides: Vec::new(),
    };
    let mut argv: Vec<String> = std::env::args().skip(1).collect();
    if let Ok(env) = std::env::var("CEPH_ARGS") {
        argv.extend(env.split_whitespace().map(str::to_string));
    }
    let mut i = 0;
    let val = |i: &mut usize, argv: &[String], name: &str| -> String {
        *i += 1;
        argv.get(*i).cloned().unwrap_or_else(|| die(&format!("Option {name} requires an argument.")))
    };
    while i < argv.len() {
        let w = argv[i].clone();
        let (k, attached) = match w.split_once('=') {
            Some((k, v)) if k.starts_with("--") => (k.to_string(), Some(v.to_string())),
            _ => (w.clone(), None),
        };
        let mut take = |name: &str| attached.clone().unwrap_or_else(|| val(&mut i, &argv, name));
        match k.as_str() {
            "-p" | "--pool" => a.pool = Some(take("--pool")),
            "-N" | "--namespace" => a.nspace = take("--namespace"),
            "--all" => a.all = true,
            "-f" | "--format" => a.format = Some(take("--format")),
            "--offset" => a.offset = take("--offset").parse().unwrap_or_else(|_| die("invalid --offset")),
            "--input-file" => a.input_file = Some(take("--input-file")),
            "-b" | "--block-size" => a.block_size = Some(parse_size(&take("-b"))),
            "-O" | "--object-size" => a.object_size = Some(parse_size(&take("-O"))),
            "-t" | "--concurrent-ios" => a.concurrent = take("-t").parse().unwrap_or_else(|_| die("invalid -t")),
            "--no-cleanup" => a.no_cleanup = true,
            // purge's confirmation
            "--yes-i-really-really-mean-it" => {}
            "--force-full" => a.force_full = true,
            "--run-name" => a.run_name = Some(take("--run-name")),
            "-c" | "--conf" => a.conf = Some(take("--conf")),
            "--cluster" => a.cluster = take("--cluster"),
            "-n" | "--name" => a.name = take("--name"),
            "-i" | "--id" => a.name = format!("client.{}", take("--id")),
            "-k" | "--keyring" => a.overrides.push(("keyring".into(), take("--keyring"))),
            "-m" | "--mon-host" | "--mon_host" => a.overrides.push(("mon_host".into(), take("-m"))),
            "-h" | "--help" => {
                print!("{USAGE}");
                exit(0);
            }
            s if s.starts_with("--") && s.len() > 2 => {
                let v = take(s);
                a.overrides.push((s[2..].replace('-', "_"), v));
            }
            _ => a.words.push(w),
        }
        i += 1;
    }
    a
}

/// Sizes as the real tool takes them: plain bytes or with K/M/G suffixes.
fn parse_size(s: &str) -> usize {
    let (num, mult) = match s.trim_end_matches(['B', 'b', 'i']).chars().last() {
        Some('K') | Some('k') => (&s[..s.find(['K', 'k']).unwrap_or(s.len())], 1usize << 10),
        Some('M') | Some('m') => (&s[..s.find(['M', 'm']).unwrap_or(s.len())], 1 << 20),
        Some('G') | Some('g') => (&s[..s.find(['G', 'g']).unwrap_or(s.len())], 1 << 30),
        _ => (s, 1),
    };
    num.parse::<usize>().map(|n| n * mult).unwrap_or_else(|_| die(&format!("invalid size '{s}'")))
}

/// `bufferlist::hexdump`.
fn hexdump(b: &[u8]) -> String {
    let mut s = String::new();
    for (n, chunk) in b.chunks(16).enumerate() {
        s.push_str(&format!("{:08x} ", n * 16));
        for i in 0..16 {
            if i == 8 {
                s.push(' ');
            }
            match chunk.get(i) {
                Some(c) => s.push_str(&format!(" {c:02x}")),
                None => s.push_str("   "),
            }
        }
        s.push_str("  |");
        for c in chunk {
            s.push(if (32..127).contains(c) { *c as char } else { '.' });
        }
        s.push_str("|\n");
    }
    s.push_str(&format!("{:08x}\n", b.len()));
    s
}

fn read_input(path: &str) -> Bytes {
    if path == "-" {
        let mut v = Vec::new();
        let _ = std::io::stdin().read_to_end(&mut v);
        return Bytes::from(v);
    }
    match std::fs::read(path) {
        Ok(v) => Bytes::from(v),
        Err(e) => die(&format!("error reading input file {path}: ({}) {}", e.raw_os_error().unwrap_or(5), strip(&e.to_string()))),
    }
}

fn strip(s: &str) -> String {
    s.split(" (os error").next().unwrap_or(s).to_string()
}

fn need(words: &[String], n: usize) {
    if words.len() < n {
        eprint!("{USAGE}");
        die("rados: missing required arguments");
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("OXCEPH_LOG").unwrap_or_else(|_| "off".into()))
        .with_writer(std::io::stderr)
        .init();
    let a = parse_args();
    if a.words.is_empty() {
        eprint!("{USAGE}");
        die("rados: you must give an action. Try --help");
    }
    let name = a.name.parse().unwrap_or_else(|e: String| die(&e));
    let mut conf = match config::Config::load(&a.cluster, name, a.conf.as_deref().map(std::path::Path::new)) {
        Ok(c) if c.conf_path.is_some() => c,
        _ => die("did not load config file, using default settings.\nerror initializing cluster: (2) No such file or directory"),
    };
    for (k, v) in &a.overrides {
        conf.set_override(k, v);
    }
    let mut opts = rados::MonClientOptions::default();
    if let Some(t) = conf.get_f64("client_mount_timeout").filter(|t| *t > 0.0) {
        opts.connect_timeout = monc::secs(t, 300.0);
    }
    let cluster = match Rados::connect(conf, opts).await {
        Ok(r) => r,
        // The real tool connects inside global_init, so every failure to
        // reach or authenticate to the monitors reads like this.
        Err(e) => {
            tracing::debug!("connect: {e}");
            die("failed to fetch mon config (--no-mon-config to skip)")
        }
    };
    let cmd = a.words[0].as_str();
    const KNOWN: &[&str] = &[
        "lspools", "df", "ls", "put", "append", "get", "truncate", "create", "rm", "cp", "stat", "setxattr", "getxattr",
        "rmxattr", "listxattr", "setomapval", "getomapval", "rmomapkey", "listomapkeys", "listomapvals", "getomapheader",
        "setomapheader", "clearomap", "listwatchers", "mksnap", "rmsnap", "lssnap", "bench", "cleanup",
    ];
    if !KNOWN.contains(&cmd) {
        eprintln!("unrecognized command {cmd}; -h or --help for usage");
        die("error 22: (22) Invalid argument");
    }
    let w = &a.words;
    let json = a.format.as_deref().map(|f| f.starts_with("json")).unwrap_or(false);
    if cmd == "df" {
        match df::df(&cluster, a.pool.as_deref(), json).await {
            Ok(()) => exit(0),
            Err(e) => die(&format!("error getting pool stats: {}", e.ceph_str())),
        }
    }
    if cmd == "lspools" {
        for (_, n) in cluster.list_pools() {
            println!("{n}");
        }
        return;
    }
    let pool_name = match &a.pool {
        Some(p) => p.clone(),
        None => die(&format!("pool name was not specified")),
    };
    let mut io: IoCtx = match cluster.ioctx(&pool_name).await {
        Ok(io) => io,
        Err(e) => die(&format!("error opening pool {pool_name}: {}", e.ceph_str())),
    };
    io.set_namespace(if a.all { ALL_NSPACES } else { &a.nspace });
    let p = &pool_name;
    let code = match cmd {
        "ls" => {
            let objs = match io.list_objects().await {
                Ok(o) => o,
                Err(e) => die(&format!("error listing objects: {}", e.ceph_str())),
            };
            let mut out = std::io::stdout().lock();
            if json {
                let v: Vec<serde_json::Value> = objs
                    .iter()
                    .map(|o| serde_json::json!({"namespace": o.nspace, "name": o.oid}))
                    .collect();
                let _ = writeln!(out, "{}", serde_json::to_string(&v).unwrap_or_default());
            } else {
                for o in &objs {
                    if a.all {
                        let _ = writeln!(out, "{}\t{}", o.nspace, o.oid);
                    } else {
                        let _ = writeln!(out, "{}", o.oid);
                    }
                }
            }
            0
        }
        "put" => {
            need(w, 3);
            let data = read_input(&w[2]);
            report(put(&io, &w[1], data, a.offset).await, &format!("error putting {p}/{}", w[1]))
        }
        "append" => {
            need(w, 3);
            let data = read_input(&w[2]);
            report(io.append(&w[1], data).await, &format!("error appending {p}/{}", w[1]))
        }
        "get" => {
            need(w, 3);
            match read_all(&io, &w[1]).await {
                Ok(d) => {
                    if w[2] == "-" {
                        let _ = std::io::stdout().write_all(&d);
                    } else if let Err(e) = std::fs::write(&w[2], &d) {
                        die(&format!("error writing {}: {}", w[2], strip(&e.to_string())));
                    }
                    0
                }
                Err(e) => fail(&format!("error getting {p}/{}: {}", w[1], e.ceph_str())),
            }
        }
        "truncate" => {
            need(w, 3);
            let size: u64 = w[2].parse().unwrap_or_else(|_| die("invalid length"));
            report(io.truncate(&w[1], size).await, &format!("error truncating oid {}", w[1]))
        }
        "create" => {
            need(w, 2);
            report(io.create(&w[1], true).await, &format!("error creating {p}/{}", w[1]))
        }
        "rm" => {
            need(w, 2);
            let mut rc = 0;
            for o in &w[1..] {
                let r = if a.force_full { io.remove_full_force(o).await } else { io.remove(o).await };
                if let Err(e) = r {
                    eprintln!("error removing {p}>{o}: {}", e.ceph_str());
                    rc = 1;
                }
            }
            rc
        }
        "cp" => {
            need(w, 3);
            match read_all(&io, &w[1]).await {
                Ok(d) => report(io.write_full(&w[2], d).await, &format!("error copying {p}/{} => {p}/{}", w[1], w[2])),
                Err(e) => fail(&format!("error copying {p}/{} => {p}/{}: {}", w[1], w[2], e.ceph_str())),
            }
        }
        "stat" => {
            need(w, 2);
            match io.stat(&w[1]).await {
                Ok(s) => {
                    // rados_stat gives whole seconds
                    let mtime = denc::Utime { sec: s.mtime.sec, nsec: 0 };
                    println!("{p}/{} mtime {}, size {}", w[1], mtime.to_iso8601(), s.size);
                    0
                }
                Err(e) => fail(&format!(" error stat-ing {p}/{}: {}", w[1], e.ceph_str())),
            }
        }
        "setxattr" => {
            need(w, 3);
            let v = match w.get(3) {
                Some(v) => Bytes::from(v.clone().into_bytes()),
                None => read_input(a.input_file.as_deref().unwrap_or("-")),
            };
            report(io.setxattr(&w[1], &w[2], &v).await, &format!("error setting xattr {p}/{}/{}", w[1], w[2]))
        }
        "getxattr" => {
            need(w, 3);
            match io.getxattr(&w[1], &w[2]).await {
                Ok(v) => {
                    let _ = std::io::stdout().write_all(&v);
                    0
                }
                Err(e) => fail(&format!("error getting xattr {p}/{}/{}: {}", w[1], w[2], e.ceph_str())),
            }
        }
        "rmxattr" => {
            need(w, 3);
            report(io.rmxattr(&w[1], &w[2]).await, &format!("error removing xattr {p}/{}/{}", w[1], w[2]))
        }
        "listxattr" => {
            need(w, 2);
            match io.getxattrs(&w[1]).await {
                Ok(m) => {
                    for k in m.keys() {
                        println!("{k}");
                    }
                    0
                }
                Err(e) => fail(&format!("error getting xattr set {p}/{}: {}", w[1], e.ceph_str())),
            }
        }
        "setomapval" => {
            need(w, 3);
            let v = match w.get(3) {
                Some(v) => Bytes::from(v.clone().into_bytes()),
                None => read_input(a.input_file.as_deref().unwrap_or("-")),
            };
            let mut m = BTreeMap::new();
            m.insert(w[2].clone(), v);
            report(io.omap_set(&w[1], &m).await, &format!("error setting omap value {p}/{}/{}", w[1], w[2]))
        }
        "getomapval" => {
            need(w, 3);
            match io.omap_get_vals_by_keys(&w[1], &[w[2].clone()]).await {
                Ok(m) => match m.get(&w[2]) {
                    Some(v) => {
                        if let Some(f) = w.get(3) {
                            if let Err(e) = std::fs::write(f, v) {
                                die(&format!("error writing {f}: {e}"));
                            }
                        } else {
                            print!("value ({} bytes) :\n{}\n", v.len(), hexdump(v));
                        }
                        0
                    }
                    None => {
                        // the real tool prints this one on stdout
                        println!("No such key: {p}/{}/{}", w[1], w[2]);
                        1
                    }
                },
                Err(e) => fail(&format!("error getting omap value {p}/{}/{}: {}", w[1], w[2], e.ceph_str())),
            }
        }
        "rmomapkey" => {
            need(w, 3);
            report(io.omap_rm_keys(&w[1], &[w[2].clone()]).await, &format!("error removing omap key {p}/{}/{}", w[1], w[2]))
        }
        "listomapkeys" => {
            need(w, 2);
            match io.omap_get_keys(&w[1]).await {
                Ok(k) => {
                    for k in k {
                        println!("{k}");
                    }
                    0
                }
                Err(e) => fail(&format!("error getting omap key set {p}/{}: {}", w[1], e.ceph_str())),
            }
        }
        "listomapvals" => {
            need(w, 2);
            match io.omap_get_vals(&w[1], "").await {
                Ok(m) => {
                    let mut out = String::new();
                    for (k, v) in m {
                        out.push_str(&format!("{k}\nvalue ({} bytes) :\n{}\n", v.len(), hexdump(&v)));
                    }
                    print!("{out}");
                    0
                }
                Err(e) => fail(&format!("error getting omap keys {p}/{}: {}", w[1], e.ceph_str())),
            }
        }
        "getomapheader" => {
            need(w, 2);
            match io.omap_get_header(&w[1]).await {
                Ok(h) => {
                    print!("header ({} bytes) :\n{}\n", h.len(), hexdump(&h));
                    0
                }
                Err(e) => fail(&format!("error getting omap header {p}/{}: {}", w[1], e.ceph_str())),
            }
        }
        "clearomap" => {
            need(w, 2);
            // Like rados.cc: every named object, stopping at the first failure.
            let mut rc = 0;
            for o in &w[1..] {
                if let Err(e) = io.omap_clear(o).await {
                    rc = fail(&format!("error clearing omap keys {p}/{o}/{}", e.ceph_str()));
                    break;
                }
            }
            rc
        }
        "setomapheader" => {
            need(w, 3);
            report(io.omap_set_header(&w[1], Bytes::from(w[2].clone().into_bytes())).await, &format!("error setting omap header {p}/{}", w[1]))
        }
        "bench" => {
            need(w, 3);
            let secs: u64 = w[1].parse().unwrap_or_else(|_| die(&format!("Invalid value for seconds: '{}'", w[1])));
            let op = a.block_size.unwrap_or(4 << 20);
            let o = bench::Opts {
                seconds: secs,
                op_size: op,
                object_size: a.object_size.unwrap_or(op),
                concurrent: a.concurrent.max(1),
                cleanup: !a.no_cleanup,
                run_name: a.run_name.clone(),
            };
            let r = match w[2].as_str() {
                "write" => bench::write(&io, &o).await,
                "seq" => bench::read(&io, &o, false).await,
                "rand" => bench::read(&io, &o, true).await,
                other => die(&format!("Unknown bench type: {other}")),
            };
            match r {
                Ok(()) => 0,
                Err(e) => fail(&format!("error during benchmark: {}", if e.errno == 2 { e.msg.clone() } else { e.ceph_str() })),
            }
        }
        "cleanup" => match bench::cleanup(&io, a.run_name.as_deref()).await {
            Ok(()) => 0,
            Err(e) => fail(&format!("error during cleanup: {}", e.ceph_str())),
        },
        "mksnap" => {
            need(w, 2);
            match io.pool_snap_create(&w[1]).await {
                Ok(()) => {
                    println!("created pool {p} snap {}", w[1]);
                    0
                }
                Err(e) => fail(&format!("error creating pool {p} snapshot {}: {}", w[1], e.ceph_str())),
            }
        }
        "rmsnap" => {
            need(w, 2);
            if !io.pool_snaps().iter().any(|(_, n, _)| n == &w[1]) {
                fail(&format!("error removing pool {p} snapshot {}: (2) No such file or directory", w[1]))
            } else {
                match io.pool_snap_remove(&w[1]).await {
                    Ok(()) => {
                        println!("removed pool {p} snap {}", w[1]);
                        0
                    }
                    Err(e) => fail(&format!("error removing pool {p} snapshot {}: {}", w[1], e.ceph_str())),
                }
            }
        }
        "lssnap" => {
            let snaps = io.pool_snaps();
            for (id, name, stamp) in &snaps {
                // "YYYY.MM.DD HH:MM:SS" in local time, as the real tool prints
                let iso = stamp.to_iso8601();
                let date = iso[..10].replace('-', ".");
                println!("{id}\t{name}\t{date} {}", &iso[11..19]);
            }
            println!("{} snaps", snaps.len());
            0
        }
        "listwatchers" => {
            need(w, 2);
            match io.list_watchers(&w[1]).await {
                Ok(ws) => {
                    for x in ws {
                        println!("watcher={} client.{} cookie={}", x.addr, x.name_num, x.cookie);
                    }
                    0
                }
                Err(e) => fail(&format!(" error listing watchers {p}/{}: {}", w[1], e.ceph_str())),
            }
        }
        _ => unreachable!("checked against KNOWN above"),
    };
    let _ = std::io::stdout().flush();
    exit(code);
}

async fn read_all(io: &IoCtx, oid: &str) -> Result<Bytes, Error> {
    // Read in 4 MiB pieces as the real tool does (op_size).
    const CHUNK: u64 = 4 << 20;
    let mut parts = Vec::new();
    let mut off = 0;
    loop {
        let d = io.read(oid, off, CHUNK).await?;
        let n = d.len() as u64;
        parts.push(d);
        off += n;
        if n < CHUNK {
            break;
        }
    }
    Ok(rados::concat(&parts))
}

/// As the real tool: the first 4 MiB with WRITEFULL (at offset 0), the rest
/// with WRITEs, so no single op carries more than `op_size`.
async fn put(io: &IoCtx, oid: &str, data: Bytes, offset: u64) -> Result<(), Error> {
    const OP_SIZE: usize = 4 << 20;
    if offset == 0 {
        let first = data.slice(..data.len().min(OP_SIZE));
        io.write_full(oid, first).await?;
    }
    let mut off = if offset == 0 { OP_SIZE.min(data.len()) } else { 0 };
    while off < data.len() {
        let end = (off + OP_SIZE).min(data.len());
        io.write(oid, data.slice(off..end), offset + off as u64).await?;
        off = end;
    }
    Ok(())
}

fn fail(msg: &str) -> i32 {
    eprintln!("{msg}");
    1
}

fn report(r: Result<(), Error>, what: &str) -> i32 {
    match r {
        Ok(()) => 0,
        Err(e) => fail(&format!("{what}: {}", e.ceph_str())),
    }
}
