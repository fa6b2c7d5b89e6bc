//! Process plumbing every oxceph daemon shares, as Ceph's `global_init` does
//! it: the common command-line flags, `--setuser/--setgroup`, forking into
//! the background unless `-f`/`-d`, logging to `log_file` or stderr, and
//! the admin socket.

pub mod admin_socket;

use std::path::PathBuf;

/// The flags all Ceph daemons take.
#[derive(Debug, Clone, Default)]
pub struct CommonArgs {
    pub id: Option<String>,
    pub conf: Option<PathBuf>,
    pub keyring: Option<PathBuf>,
    pub cluster: String,
    pub foreground: bool,
    pub debug_stderr: bool,
    pub setuser: Option<String>,
    pub setgroup: Option<String>,
    /// `--some_option value`: configuration overrides.
    pub overrides: Vec<(String, String)>,
}

/// Parses `argv` (without the program name). `ty` is the daemon's entity
/// type ("mon", "osd") for `--name TYPE.ID`. `extra` sees each flag first:
/// it returns Ok(true) when it took the flag, calling `value()` for its
/// argument if it has one.
pub fn parse_args(
    argv: &[String],
    ty: &str,
    usage: &str,
    mut extra: impl FnMut(&str, &mut dyn FnMut() -> Result<String, String>) -> Result<bool, String>,
) -> Result<CommonArgs, String> {
    let mut a = CommonArgs { cluster: "ceph".into(), ..Default::default() };
    let mut i = 0;
    while i < argv.len() {
        let arg = argv[i].clone();
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut idx = i;
        let mut take = || -> Result<String, String> {
            if let Some(v) = inline.clone() {
                return Ok(v);
            }
            idx += 1;
            argv.get(idx).cloned().ok_or_else(|| format!("{flag} needs a value"))
        };
        if extra(&flag, &mut take)? {
            i = idx + 1;
            continue;
        }
        match flag.as_str() {
            "-i" | "--id" => a.id = Some(take()?),
            "-n" | "--name" => {
                let n = take()?;
                let id = n.strip_prefix(&format!("{ty}.")).ok_or_else(|| format!("--name {n}: this daemon runs as {ty}.ID"))?;
                a.id = Some(id.to_string());
            }
            "--keyring" | "-k" => a.keyring = Some(take()?.into()),
            "-c" | "--conf" => a.conf = Some(take()?.into()),
            "--cluster" => a.cluster = take()?,
            "-f" | "--foreground" => a.foreground = true,
            "-d" => {
                a.foreground = true;
                a.debug_stderr = true;
            }
            "--setuser" => a.setuser = Some(take()?),
            "--setgroup" => a.setgroup = Some(take()?),
            "-h" | "--help" => {
                print!("{usage}");
                std::process::exit(0);
            }
            f if f.starts_with("--") => {
                let k = f.trim_start_matches("--").to_string();
                let v = take()?;
                a.overrides.push((k, v));
            }
            f => return Err(format!("unrecognized argument '{f}'")),
        }
        i = idx + 1;
    }
    Ok(a)
}

/// Prints `prog: msg` and exits 1.
pub fn die(prog: &str, msg: impl std::fmt::Display) -> ! {
    eprintln!("{prog}: {msg}");
    std::process::exit(1);
}

/// `--setuser/--setgroup` as Ceph's `global_init`: switch to that user (and its
/// group unless one is given) before touching any data. Names or numeric ids.
pub fn drop_privileges(args: &CommonArgs) -> Result<(), String> {
    use nix::unistd::{setgid, setgroups, setuid, Gid, Group, Uid, User};
    if args.setuser.is_none() && args.setgroup.is_none() {
        return Ok(());
    }
    let user = match &args.setuser {
        None => None,
        Some(u) => Some(match u.parse::<u32>() {
            Ok(n) => User::from_uid(Uid::from_raw(n)).ok().flatten().ok_or_else(|| format!("unknown uid {n}"))?,
            Err(_) => User::from_name(u).ok().flatten().ok_or_else(|| format!("unable to look up user '{u}'"))?,
        }),
    };
    let gid = match &args.setgroup {
        Some(g) => match g.parse::<u32>() {
            Ok(n) => Gid::from_raw(n),
            Err(_) => Group::from_name(g).ok().flatten().map(|g| g.gid).ok_or_else(|| format!("unable to look up group '{g}'"))?,
        },
        None => user.as_ref().map(|u| u.gid).unwrap_or_else(nix::unistd::getgid),
    };
    if nix::unistd::getuid().is_root() {
        let _ = setgroups(&[gid]);
    }
    setgid(gid).map_err(|e| format!("setgid {gid}: {e}"))?;
    if let Some(u) = user {
        setuid(u.uid).map_err(|e| format!("setuid {} ({}): {e}", u.name, u.uid))?;
    }
    Ok(())
}

/// Ceph daemons fork into the background unless -f/-d: re-run ourselves with
/// -f, detached, and return to the shell.
pub fn daemonize() -> Result<(), String> {
    use std::os::unix::process::CommandExt;
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut cmd = std::process::Command::new(exe);
    cmd.args(std::env::args().skip(1)).arg("-f");
    cmd.stdin(std::process::Stdio::null()).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null());
    cmd.process_group(0);
    match cmd.spawn() {
        Ok(_) => std::process::exit(0),
        Err(e) => Err(format!("cannot start in the background: {e}")),
    }
}

/// Logs (via `tracing`, filter from `OXCEPH_LOG`) to `log_file`, or to stderr
/// with `-d` or when there is none.
pub fn init_logging(args: &CommonArgs, cfg: &config::Config) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("OXCEPH_LOG").unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,openraft=error"));
    let b = tracing_subscriber::fmt().with_env_filter(filter).with_ansi(false);
    match cfg.get("log_file").filter(|_| !args.debug_stderr).filter(|f| !f.is_empty()) {
        Some(path) => match std::fs::OpenOptions::new().create(true).append(true).open(&path) {
            Ok(f) => b.with_writer(std::sync::Mutex::new(f)).init(),
            Err(_) => b.with_writer(std::io::stderr).init(),
        },
        None => b.with_writer(std::io::stderr).init(),
    }
}

/// Writes `pid_file` if configured.
pub fn write_pid_file(cfg: &config::Config) {
    if let Some(p) = cfg.get("pid_file").filter(|p| !p.is_empty()) {
        let _ = std::fs::write(&p, format!("{}\n", std::process::id()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_and_daemon_flags() {
        let argv: Vec<String> = ["-i", "3", "--mkfs", "--osd-uuid", "u-1", "-c", "/x.conf", "--osd_data=/d", "-f", "--debug_osd", "20"].iter().map(|s| s.to_string()).collect();
        let mut mkfs = false;
        let mut uuid = None;
        let a = parse_args(&argv, "osd", "", |f, v| {
            Ok(match f {
                "--mkfs" => {
                    mkfs = true;
                    true
                }
                "--osd-uuid" => {
                    uuid = Some(v()?);
                    true
                }
                _ => false,
            })
        })
        .unwrap();
        assert!(mkfs);
        assert_eq!(uuid.as_deref(), Some("u-1"));
        assert_eq!(a.id.as_deref(), Some("3"));
        assert!(a.foreground);
        assert_eq!(a.conf, Some(PathBuf::from("/x.conf")));
        assert_eq!(a.overrides, vec![("osd_data".to_string(), "/d".to_string()), ("debug_osd".to_string(), "20".to_string())]);
        let bad: Vec<String> = vec!["--name".into(), "mon.a".into()];
        assert!(parse_args(&bad, "osd", "", |_, _| Ok(false)).is_err());
        assert!(parse_args(&["-c".to_string()], "osd", "", |_, _| Ok(false)).is_err());
    }
}
