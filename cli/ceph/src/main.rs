//! `ceph`: the cluster administration command, argument- and output-compatible
//! with Ceph Pacific's. See `docs/ceph-cli.md`.

use bytes::Bytes;
use ceph_cli::argparse::{self, parse_descriptions, py_json_dumps, validate_command, Command};
use ceph_cli::{help, options};
use serde_json::Value;
use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::exit;
use std::time::Duration;
use types::EntityName;

const VERSION_LINE: &str = concat!("ceph version 16.2.15 (oxceph ", env!("CARGO_PKG_VERSION"), ") pacific (stable)");

fn errno_name(e: i32) -> String {
    static NAMES: std::sync::OnceLock<serde_json::Map<String, Value>> = std::sync::OnceLock::new();
    let names = NAMES.get_or_init(|| serde_json::from_str(include_str!("errno_names.json")).unwrap_or_default());
    names.get(&e.to_string()).and_then(Value::as_str).unwrap_or("Unknown").to_string()
}

fn die(code: i32, msg: &str) -> ! {
    let _ = std::io::stdout().flush();
    eprintln!("{msg}");
    exit(code)
}

fn init_error(what: &str) -> ! {
    die(1, &format!("Error initializing cluster client: {what}"))
}

/// librados' `[errno N] <desc> (error connecting to the cluster)`.
fn connect_error(e: &monc::Error) -> ! {
    let errno = e.errno();
    let desc = match errno {
        1 => "RADOS permission error",
        2 => "RADOS object not found",
        5 => "RADOS I/O error",
        13 => "RADOS permission denied",
        22 => "RADOS invalid argument",
        110 => "RADOS timed out",
        _ => "",
    };
    tracing::debug!("connect failed: {e}");
    if let monc::Error::Config(m) = e {
        eprintln!("{m}");
    }
    let line = if desc.is_empty() {
        format!("[errno {errno}] error connecting to the cluster")
    } else {
        format!("[errno {errno}] {desc} (error connecting to the cluster)")
    };
    die(if errno == 13 { 13 } else { 1 }, &line)
}

struct Ctx {
    mc: monc::MonClient,
    cmds: Vec<Command>,
    format: Option<String>,
    out_file: Option<String>,
    inbuf: Bytes,
    verbose: bool,
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("OXCEPH_LOG").unwrap_or_else(|_| "off".into()))
        .with_writer(std::io::stderr)
        .init();
    let mut argv: Vec<String> = std::env::args().skip(1).collect();
    if let Ok(env) = std::env::var("CEPH_ARGS") {
        options::apply_ceph_args(&mut argv, &env);
    }
    let parsed = match options::parse_known(&argv) {
        Ok(p) => p,
        Err(e) => {
            eprint!("{}", options::USAGE);
            die(2, &format!("ceph: error: {e}"));
        }
    };
    if parsed.flag("version") {
        println!("{VERSION_LINE}");
        exit(0);
    }
    let name_str = match (parsed.value("client_name"), parsed.value("client_id")) {
        (Some(n), _) => n.to_string(),
        (None, Some(id)) => format!("client.{id}"),
        (None, None) => "client.admin".to_string(),
    };
    let name: EntityName = match name_str.parse() {
        Ok(n) => n,
        Err(_) => init_error("Error('rados_initialize failed with error code: -22')"),
    };
    let help_mode = parsed.flag("help");
    if help_mode {
        print!("{}", help::general_usage());
    }
    let cluster = parsed.value("cluster").unwrap_or("ceph").to_string();
    let conf_path = parsed.value("cephconf").map(PathBuf::from);
    let mut conf = match config::Config::load(&cluster, name, conf_path.as_deref()) {
        Ok(c) if c.conf_path.is_some() => c,
        Ok(_) | Err(_) => init_error("ObjectNotFound('RADOS object not found (error calling conf_read_file)')"),
    };
    let (settings, mut childargs) = match options::conf_parse_argv(&parsed.extras) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("{e}");
            init_error("InvalidArgumentError('RADOS invalid argument (error calling conf_parse_argv_remainder)')")
        }
    };
    for (k, v) in settings {
        conf.set_override(&k, &v);
    }
    if let Some(pos) = childargs.iter().position(|a| a == "--") {
        childargs.remove(pos);
    }
    let mut timeout: Option<i64> = parsed.value("cluster_timeout").and_then(argparse::py_int).map(|v| v as i64).filter(|v| *v != 0);
    if help_mode && timeout.is_none() {
        timeout = Some(5);
    }

    // Connect, as rados_connect does, bounded by --connect-timeout if given.
    let mut opts = monc::MonClientOptions::default();
    if let Some(t) = conf.get_f64("client_mount_timeout").filter(|t| *t > 0.0) {
        opts.connect_timeout = monc::secs(t, 300.0);
    }
    let osd_modes = objecter::client_modes(&conf.get("ms_client_mode").unwrap_or_default());
    let connect = monc::MonClient::connect(conf, opts);
    let mc = match timeout {
        Some(t) if t > 0 => match tokio::time::timeout(Duration::from_secs(t as u64), connect).await {
            Ok(r) => r,
            Err(_) => die(1, "timed out"),
        },
        Some(_) => die(1, "timed out"),
        None => connect.await,
    };
    let mc = match mc {
        Ok(m) => m,
        Err(e) => connect_error(&e),
    };

    let is_tell = childargs.first().is_some_and(|a| a == "tell") && !help_mode;
    // `tell osd.N`: the command table comes from each OSD.
    if is_tell {
        let tell = Tell { format: parsed.value("output_format").map(str::to_string), out_file: parsed.value("output_file").map(str::to_string), verbose: parsed.flag("verbose") };
        let code = tell.run(mc, osd_modes, &childargs, read_input(parsed.value("input_file"))).await;
        let _ = std::io::stdout().flush();
        exit(code);
    }

    // The command table comes from the mon (mgr commands included, flagged).
    let desc = get_command_descriptions(&mc).await;
    let cmds = match parse_descriptions(&desc) {
        Ok(c) => c,
        Err(e) => die(22, &format!("Error EINVAL: {e}")),
    };
    if help_mode {
        print!("{}", help::hdr("Monitor commands:"));
        print!("{}", help::format_help(&cmds, &childargs.join(" "), help::terminal_cols()));
        exit(0);
    }

    let inbuf = read_input(parsed.value("input_file"));
    if parsed.flag("status") {
        childargs.insert(0, "status".into());
    }
    let ctx = Ctx {
        mc,
        cmds,
        format: parsed.value("output_format").map(str::to_string),
        out_file: parsed.value("output_file").map(str::to_string),
        inbuf,
        verbose: parsed.flag("verbose"),
    };
    if childargs.is_empty() {
        interactive(&ctx).await;
        exit(0);
    }
    let code = run_command(&ctx, &childargs, false).await;
    let _ = std::io::stdout().flush();
    exit(code);
}

/// `-i FILE` (`-` for stdin): the command's input.
fn read_input(path: Option<&str>) -> Bytes {
    match path {
        None => Bytes::new(),
        Some("-") => {
            let mut v = Vec::new();
            let _ = std::io::stdin().read_to_end(&mut v);
            Bytes::from(v)
        }
        Some(f) => match std::fs::read(f) {
            Ok(v) => Bytes::from(v),
            Err(e) => die(1, &format!("Can't open input file {f}: [Errno {}] {}: '{f}'", e.raw_os_error().unwrap_or(0), io_err_text(&e))),
        },
    }
}

/// `ceph tell TARGET COMMAND...`, as ceph.in runs it: each target's command
/// table is fetched from it, the command validated against it and sent; with
/// a wildcard (`osd.*`) every output line is prefixed with its target.
struct Tell {
    format: Option<String>,
    out_file: Option<String>,
    verbose: bool,
}

impl Tell {
    async fn run(&self, mc: monc::MonClient, modes: Vec<u32>, childargs: &[String], inbuf: Bytes) -> i32 {
        let argv0 = std::env::args().next().unwrap_or_else(|| "ceph".into());
        let Some(target) = childargs.get(1) else {
            die(22, &format!("\"{argv0} tell\" requires additional arguments. Try \"{argv0} tell <name> <command> [options...]\" instead."));
        };
        // A PG id (`1.0`) is a PG target, as ceph.in tries it first.
        let is_pgid = target.split_once('.').is_some_and(|(p, s)| p.parse::<u64>().is_ok() && !s.is_empty() && u32::from_str_radix(s, 16).is_ok());
        if is_pgid {
            die(95, &format!("Error ENOTSUP: 'tell' to a pg ({target}) is not supported by this ceph client yet; 'tell osd.N' is"));
        }
        // CephName: TYPE.ID (`mgr`, `mon` and `*` alone too), where an osd's id is a number or `*`.
        let (ty, id) = match target.split_once('.') {
            Some(x) => x,
            None if matches!(target.as_str(), "mgr" | "mon" | "*") => (target.as_str(), ""),
            None => die(1, &format!("error handling command target: CephName: no . in {target}")),
        };
        if !matches!(ty, "osd" | "mon" | "mds" | "mgr" | "client" | "*") {
            die(1, &format!("error handling command target: unknown type {ty}"));
        }
        if ty != "osd" {
            die(95, &format!("Error ENOTSUP: 'tell' to {ty} daemons is not supported by this ceph client yet; 'tell osd.N' is"));
        }
        if id != "*" && id.parse::<i32>().is_err() {
            die(1, &format!("error handling command target: osd id {id} not integer"));
        }
        let args = &childargs[2..];
        if args.is_empty() {
            die(22, &format!("\"{argv0} tell\" requires additional arguments. Try \"{argv0} tell <name> <command> [options...]\" instead."));
        }
        let objecter = match objecter::Objecter::start(mc.clone(), modes).await {
            Ok(o) => o,
            Err(e) => die(1, &format!("error getting the osdmap: {e}")),
        };
        let ids: Vec<i32> = if id == "*" {
            let m = objecter.map();
            (0..m.max_osd).filter(|o| m.exists(*o)).collect()
        } else {
            vec![id.parse().unwrap_or(-1)]
        };
        let wildcard = ids.len() > 1 && self.out_file.is_none();
        // One output file for every target, as ceph.in opens it once.
        let mut file = match self.out_file.as_deref() {
            Some(path) if path != "-" => match std::fs::File::create(path) {
                Ok(f) => Some(f),
                Err(e) => die(1, &format!("Can't open output file {path}: [Errno {}] {}: '{path}'", e.raw_os_error().unwrap_or(0), io_err_text(&e))),
            },
            _ => None,
        };
        let mut final_ret = 0;
        for osd in ids {
            let (prefix, suffix) = if wildcard { (format!("osd.{osd}: "), "\n") } else { (String::new(), "") };
            let desc = objecter.osd_command(osd, vec![r#"{"prefix": "get_command_descriptions"}"#.into()], Bytes::new()).await;
            let (ret, outbuf, outs) = match desc {
                Ok(r) if r.r == 0 => match parse_descriptions(&String::from_utf8_lossy(&r.outbl)) {
                    Ok(cmds) => self.send(&objecter, osd, &cmds, args, inbuf.clone()).await,
                    Err(e) => (-22, Bytes::new(), e),
                },
                Ok(r) => (if r.r < 0 { r.r } else { -5 }, Bytes::new(), format!("problem getting command descriptions from osd.{osd}")),
                Err(e) => {
                    tracing::debug!("osd.{osd}: {e}");
                    (-e.errno(), Bytes::new(), format!("problem getting command descriptions from osd.{osd}"))
                }
            };
            let mut out = std::io::stdout().lock();
            match self.out_file.as_deref() {
                Some("-") => {
                    let _ = out.write_all(&outbuf);
                }
                Some(path) => {
                    if let Some(Err(e)) = file.as_mut().map(|f| f.write_all(&outbuf)) {
                        eprintln!("Can't write output file {path}: {e}");
                        return 1;
                    }
                }
                None => {
                    if self.format.as_deref().is_some_and(|f| f.starts_with("json")) {
                        let _ = writeln!(out);
                    }
                    let body: &[u8] = if wildcard { trim_end_ascii(&outbuf) } else { &outbuf };
                    if !body.is_empty() {
                        let _ = write!(out, "{prefix}");
                        let _ = out.write_all(body);
                        let _ = write!(out, "{suffix}");
                    }
                }
            }
            let _ = out.flush();
            if ret < 0 {
                eprintln!("Error {}: {outs}", errno_name(-ret));
                final_ret = -ret;
            } else if !outs.is_empty() {
                eprintln!("{prefix}{outs}");
            }
        }
        final_ret
    }

    /// Validates `args` against one OSD's table and sends them: (r, output, status).
    async fn send(&self, objecter: &objecter::Objecter, osd: i32, cmds: &[Command], args: &[String], inbuf: Bytes) -> (i32, Bytes, String) {
        let mut err = String::new();
        let valid = validate_command(cmds, args, &mut err);
        eprint!("{err}");
        let Some(mut dict) = valid else {
            return (-22, Bytes::new(), "invalid command".into());
        };
        if let Some(f) = &self.format {
            dict.insert("format".into(), Value::String(f.clone()));
        }
        let cmd = py_json_dumps(&Value::Object(dict));
        if self.verbose {
            eprintln!("submit {cmd} to osd.{osd}");
        }
        match objecter.osd_command(osd, vec![cmd], inbuf).await {
            Ok(r) => (r.r, r.outbl, r.rs),
            Err(e) => (-e.errno(), Bytes::new(), e.to_string()),
        }
    }
}

fn trim_end_ascii(b: &[u8]) -> &[u8] {
    let n = b.iter().rposition(|c| !c.is_ascii_whitespace()).map_or(0, |i| i + 1);
    &b[..n]
}

fn io_err_text(e: &std::io::Error) -> String {
    let s = e.to_string();
    s.split(" (os error").next().unwrap_or(&s).to_string()
}

async fn get_command_descriptions(mc: &monc::MonClient) -> String {
    let cmd = r#"{"prefix": "get_command_descriptions"}"#.to_string();
    match mc.command(vec![cmd], Bytes::new()).await {
        Ok(r) if r.r >= 0 => String::from_utf8_lossy(&r.outbl).into_owned(),
        Ok(r) => die(-r.r, &format!("Error {}: problem getting command descriptions from mon.", errno_name(-r.r))),
        Err(e) => die(1, &format!("problem getting command descriptions from mon.: {e}")),
    }
}

/// Validates and sends one command; prints as the real CLI does; returns the exit code.
async fn run_command(ctx: &Ctx, args: &[String], interactive: bool) -> i32 {
    let json_fmt = ctx.format.as_deref().map(|f| f.starts_with("json")).unwrap_or(false);
    let mut err = String::new();
    let valid = validate_command(&ctx.cmds, args, &mut err);
    eprint!("{err}");
    let Some(mut dict) = valid else {
        if json_fmt && ctx.out_file.is_none() {
            println!();
        }
        eprintln!("Error EINVAL: invalid command");
        return 22;
    };
    if let Some(f) = &ctx.format {
        dict.insert("format".into(), Value::String(f.clone()));
    }
    let to_mgr = dict.contains_key("target");
    let cmd = py_json_dumps(&Value::Object(dict));
    if ctx.verbose {
        eprintln!("Submitting command:  {cmd}");
    }
    let reply = if to_mgr {
        ctx.mc.mgr_command(vec![cmd], ctx.inbuf.clone()).await
    } else {
        ctx.mc.command(vec![cmd], ctx.inbuf.clone()).await
    };
    let reply = match reply {
        Ok(r) => r,
        Err(e) => {
            eprintln!("Error EIO: {e}");
            return 5;
        }
    };
    let mut out = std::io::stdout().lock();
    if interactive {
        if reply.r < 0 {
            eprintln!("Error {}: {}", errno_name(-reply.r), reply.rs);
        } else {
            if !reply.rs.is_empty() {
                eprintln!("{}", reply.rs);
            }
            let _ = writeln!(out, "{}", String::from_utf8_lossy(&reply.outbl));
        }
        return 0;
    }
    match ctx.out_file.as_deref() {
        Some("-") => {
            let _ = out.write_all(&reply.outbl);
        }
        Some(path) => {
            if let Err(e) = std::fs::write(path, &reply.outbl) {
                eprintln!("Can't open output file {path}: {e}");
                return 1;
            }
        }
        None => {
            if json_fmt {
                let _ = writeln!(out);
            }
            let _ = out.write_all(&reply.outbl);
        }
    }
    let _ = out.flush();
    if reply.r < 0 {
        eprintln!("Error {}: {}", errno_name(-reply.r), reply.rs);
        -reply.r
    } else {
        if !reply.rs.is_empty() {
            eprintln!("{}", reply.rs);
        }
        0
    }
}

/// No command words: read commands from stdin, one per line.
async fn interactive(ctx: &Ctx) {
    let stdin = std::io::stdin();
    let tty = stdin.is_terminal();
    let json_fmt = ctx.format.as_deref().map(|f| f.starts_with("json")).unwrap_or(false);
    if json_fmt && !tty {
        println!();
    }
    loop {
        if tty {
            print!("ceph> ");
            let _ = std::io::stdout().flush();
        }
        // Off the runtime's one thread, so the MonClient keeps its session
        // alive (keepalives, ticket renewal) while the prompt waits.
        let read = tokio::task::spawn_blocking(|| {
            let mut line = String::new();
            std::io::stdin().read_line(&mut line).map(|n| (n, line))
        })
        .await;
        let line = match read {
            Ok(Ok((n, line))) if n > 0 => line,
            _ => return,
        };
        let line = line.trim_end();
        if line.is_empty() {
            continue;
        }
        if tty && matches!(line, "q" | "quit" | "Q" | "exit") {
            return;
        }
        let words = shell_split(line);
        let parsed = options::parse_known(&words).map(|p| p.extras).unwrap_or_default();
        if parsed.first().map(|w| w == "tell").unwrap_or(false) {
            eprintln!("Can not use 'tell' in interactive mode.");
            continue;
        }
        run_command(ctx, &parsed, true).await;
    }
}

/// A small `shlex.split`: whitespace, single and double quotes, backslashes.
fn shell_split(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut have = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                have = true;
                for d in chars.by_ref() {
                    if d == '\'' {
                        break;
                    }
                    cur.push(d);
                }
            }
            '"' => {
                have = true;
                while let Some(d) = chars.next() {
                    match d {
                        '"' => break,
                        '\\' => {
                            if let Some(e) = chars.next() {
                                cur.push(e)
                            }
                        }
                        d => cur.push(d),
                    }
                }
            }
            '\\' => {
                have = true;
                if let Some(e) = chars.next() {
                    cur.push(e)
                }
            }
            c if c.is_whitespace() => {
                if have {
                    out.push(std::mem::take(&mut cur));
                    have = false;
                }
            }
            c => {
                have = true;
                cur.push(c)
            }
        }
    }
    if have {
        out.push(cur);
    }
    out
}
