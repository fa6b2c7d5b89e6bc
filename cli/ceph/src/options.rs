//! Global options of the `ceph` command, parsed as the real one does: first the
//! Python-argparse options (recognised anywhere, unique prefixes of long options,
//! attached values, combined short flags), then the config layer's options
//! (`-k`, `-m`, `--<any config option> value`), stopping at `--`.

use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Flag,
    Value,
}

struct Opt {
    strings: &'static [&'static str],
    dest: &'static str,
    kind: Kind,
}

/// In declaration order (messages name options by their strings joined with `/`).
const OPTS: &[Opt] = &[
    Opt { strings: &["--completion"], dest: "completion", kind: Kind::Flag },
    Opt { strings: &["-h", "--help"], dest: "help", kind: Kind::Flag },
    Opt { strings: &["-c", "--conf"], dest: "cephconf", kind: Kind::Value },
    Opt { strings: &["-i", "--in-file"], dest: "input_file", kind: Kind::Value },
    Opt { strings: &["-o", "--out-file"], dest: "output_file", kind: Kind::Value },
    Opt { strings: &["--setuser"], dest: "setuser", kind: Kind::Value },
    Opt { strings: &["--setgroup"], dest: "setgroup", kind: Kind::Value },
    Opt { strings: &["--id", "--user"], dest: "client_id", kind: Kind::Value },
    Opt { strings: &["--name", "-n"], dest: "client_name", kind: Kind::Value },
    Opt { strings: &["--cluster"], dest: "cluster", kind: Kind::Value },
    Opt { strings: &["--admin-daemon"], dest: "admin_socket", kind: Kind::Value },
    Opt { strings: &["-s", "--status"], dest: "status", kind: Kind::Flag },
    Opt { strings: &["-w", "--watch"], dest: "watch", kind: Kind::Flag },
    Opt { strings: &["--watch-debug"], dest: "watch_debug", kind: Kind::Flag },
    Opt { strings: &["--watch-info"], dest: "watch_info", kind: Kind::Flag },
    Opt { strings: &["--watch-sec"], dest: "watch_sec", kind: Kind::Flag },
    Opt { strings: &["--watch-warn"], dest: "watch_warn", kind: Kind::Flag },
    Opt { strings: &["--watch-error"], dest: "watch_error", kind: Kind::Flag },
    Opt { strings: &["-W", "--watch-channel"], dest: "watch_channel", kind: Kind::Value },
    Opt { strings: &["--version", "-v"], dest: "version", kind: Kind::Flag },
    Opt { strings: &["--verbose"], dest: "verbose", kind: Kind::Flag },
    Opt { strings: &["--concise"], dest: "concise", kind: Kind::Flag },
    Opt { strings: &["-f", "--format"], dest: "output_format", kind: Kind::Value },
    Opt { strings: &["--connect-timeout"], dest: "cluster_timeout", kind: Kind::Value },
    Opt { strings: &["--block"], dest: "block", kind: Kind::Flag },
    Opt { strings: &["--period", "-p"], dest: "period", kind: Kind::Value },
];

pub const FORMATS: [&str; 6] = ["json", "json-pretty", "xml", "xml-pretty", "plain", "yaml"];

pub const USAGE: &str = "\
usage: ceph [-h] [-c CEPHCONF] [-i INPUT_FILE] [-o OUTPUT_FILE]
            [--setuser SETUSER] [--setgroup SETGROUP] [--id CLIENT_ID]
            [--name CLIENT_NAME] [--cluster CLUSTER]
            [--admin-daemon ADMIN_SOCKET] [-s] [-w] [--watch-debug]
            [--watch-info] [--watch-sec] [--watch-warn] [--watch-error]
            [-W WATCH_CHANNEL] [--version] [--verbose] [--concise]
            [-f {json,json-pretty,xml,xml-pretty,plain,yaml}]
            [--connect-timeout CLUSTER_TIMEOUT] [--block] [--period PERIOD]
";

/// What argparse produced.
#[derive(Debug, Default, Clone)]
pub struct Parsed {
    pub flags: BTreeMap<&'static str, bool>,
    pub values: BTreeMap<&'static str, String>,
    pub extras: Vec<String>,
}

impl Parsed {
    pub fn flag(&self, d: &str) -> bool {
        self.flags.get(d).copied().unwrap_or(false)
    }
    pub fn value(&self, d: &str) -> Option<&str> {
        self.values.get(d).map(String::as_str)
    }
}

fn opt_label(o: &Opt) -> String {
    o.strings.join("/")
}

fn looks_negative_number(s: &str) -> bool {
    s.len() > 1 && s.starts_with('-') && s[1..].parse::<f64>().is_ok()
}

fn set_value(p: &mut Parsed, o: &Opt, v: String) -> Result<(), String> {
    match o.dest {
        "output_format" if !FORMATS.contains(&v.as_str()) => {
            return Err(format!(
                "argument {}: invalid choice: '{v}' (choose from {})",
                opt_label(o),
                FORMATS.iter().map(|f| format!("'{f}'")).collect::<Vec<_>>().join(", ")
            ))
        }
        "cluster_timeout" if crate::argparse::py_int(&v).is_none() || v.trim().starts_with("0x") => {
            return Err(format!("argument {}: invalid int value: '{v}'", opt_label(o)))
        }
        "period" if crate::argparse::py_float(&v).is_none() => {
            return Err(format!("argument {}: invalid float value: '{v}'", opt_label(o)))
        }
        _ => {}
    }
    p.values.insert(o.dest, v);
    Ok(())
}

/// argparse `parse_known_args`. Errors are argparse's message (printed after
/// the usage with `ceph: error: `, exit 2).
pub fn parse_known(argv: &[String]) -> Result<Parsed, String> {
    let mut p = Parsed::default();
    let mut i = 0;
    while i < argv.len() {
        let w = &argv[i];
        i += 1;
        if w == "--" {
            p.extras.extend(argv[i - 1..].iter().cloned());
            break;
        }
        if let Some(body) = w.strip_prefix("--") {
            let (name, attached) = match body.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (body, None),
            };
            let full = format!("--{name}");
            let exact = OPTS.iter().find(|o| o.strings.contains(&full.as_str()));
            let o = match exact {
                Some(o) => o,
                None => {
                    let cands: Vec<(&Opt, &str)> = OPTS
                        .iter()
                        .flat_map(|o| o.strings.iter().filter(|s| s.starts_with("--") && s.starts_with(&full)).map(move |s| (o, *s)))
                        .collect();
                    match cands.len() {
                        0 => {
                            p.extras.push(w.clone());
                            continue;
                        }
                        1 => cands[0].0,
                        _ => {
                            return Err(format!(
                                "ambiguous option: {full} could match {}",
                                cands.iter().map(|c| c.1).collect::<Vec<_>>().join(", ")
                            ))
                        }
                    }
                }
            };
            match o.kind {
                Kind::Flag => {
                    if let Some(v) = attached {
                        return Err(format!("argument {}: ignored explicit argument '{v}'", opt_label(o)));
                    }
                    p.flags.insert(o.dest, true);
                }
                Kind::Value => {
                    let v = match attached {
                        Some(v) => v,
                        None => match argv.get(i) {
                            Some(n) if !n.starts_with('-') || looks_negative_number(n) => {
                                i += 1;
                                n.clone()
                            }
                            _ => return Err(format!("argument {}: expected one argument", opt_label(o))),
                        },
                    };
                    set_value(&mut p, o, v)?;
                }
            }
            continue;
        }
        if w.len() > 1 && w.starts_with('-') && !looks_negative_number(w) {
            // short option(s)
            let chars: Vec<char> = w[1..].chars().collect();
            let first = format!("-{}", chars[0]);
            let Some(o) = OPTS.iter().find(|o| o.strings.contains(&first.as_str())) else {
                p.extras.push(w.clone());
                continue;
            };
            let mut o = o;
            let mut k = 0;
            loop {
                match o.kind {
                    Kind::Flag => {
                        p.flags.insert(o.dest, true);
                        k += 1;
                        if k >= chars.len() {
                            break;
                        }
                        let next = format!("-{}", chars[k]);
                        match OPTS.iter().find(|x| x.strings.contains(&next.as_str())) {
                            Some(n) => o = n,
                            None => {
                                let rest: String = chars[k..].iter().collect();
                                return Err(format!("argument {}: ignored explicit argument '{rest}'", opt_label(o)));
                            }
                        }
                    }
                    Kind::Value => {
                        let rest: String = chars[k + 1..].iter().collect();
                        let v = if !rest.is_empty() {
                            rest.strip_prefix('=').map(str::to_string).unwrap_or(rest)
                        } else {
                            match argv.get(i) {
                                Some(n) if !n.starts_with('-') || looks_negative_number(n) => {
                                    i += 1;
                                    n.clone()
                                }
                                _ => return Err(format!("argument {}: expected one argument", opt_label(o))),
                            }
                        };
                        set_value(&mut p, o, v)?;
                        break;
                    }
                }
            }
            continue;
        }
        p.extras.push(w.clone());
    }
    Ok(p)
}

/// Ceph config option names (from `ceph-conf -D`), with whether each is a boolean.
fn config_options() -> &'static BTreeMap<String, bool> {
    static OPTS: std::sync::OnceLock<BTreeMap<String, bool>> = std::sync::OnceLock::new();
    OPTS.get_or_init(|| {
        include_str!("config_options.txt")
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.split_once(' ').map(|(n, k)| (n.to_string(), k == "bool")))
            .collect()
    })
}

/// The config layer's pass (`md_config_t::parse_argv`): consumes config options
/// and returns (settings, remaining words). Stops at the first `--`.
pub fn conf_parse_argv(words: &[String]) -> Result<(Vec<(String, String)>, Vec<String>), String> {
    let mut set = Vec::new();
    let mut rest = Vec::new();
    let mut i = 0;
    let known = config_options();
    while i < words.len() {
        let w = &words[i];
        i += 1;
        if w == "--" {
            rest.extend(words[i - 1..].iter().cloned());
            break;
        }
        let short = |name: &str| -> Option<&'static str> {
            match name {
                "-k" => Some("keyring"),
                "-m" => Some("mon_host"),
                "-K" => Some("keyfile"),
                "-M" => Some("monmap"),
                "-r" => Some("client_mountpoint"),
                _ => None,
            }
        };
        if w == "-d" {
            set.push(("log_to_stderr".into(), "true".into()));
            continue;
        }
        if let Some(opt) = short(w) {
            match words.get(i) {
                Some(v) => {
                    set.push((opt.into(), v.clone()));
                    i += 1;
                }
                None => return Err(format!("Option {w} requires an argument.")),
            }
            continue;
        }
        if let Some(body) = w.strip_prefix("--") {
            let (raw_name, attached) = match body.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (body, None),
            };
            let name = raw_name.replace('-', "_");
            if matches!(name.as_str(), "no_mon_config" | "mon_config") {
                continue;
            }
            let (name, negated) = match name.strip_prefix("no_") {
                Some(n) if known.get(n) == Some(&true) => (n.to_string(), true),
                _ => (name, false),
            };
            let name = name.strip_prefix("default_").filter(|n| known.contains_key(*n)).map(str::to_string).unwrap_or(name);
            if let Some(&is_bool) = known.get(&name) {
                let v = if negated {
                    "false".to_string()
                } else if let Some(v) = attached {
                    v
                } else if is_bool {
                    "true".to_string()
                } else {
                    match words.get(i) {
                        Some(v) => {
                            i += 1;
                            v.clone()
                        }
                        None => return Err(format!("Option --{raw_name} requires an argument.")),
                    }
                };
                set.push((name, v));
                continue;
            }
        }
        rest.push(w.clone());
    }
    Ok((set, rest))
}

/// CEPH_ARGS: split on whitespace; inserted before `injectargs` if present,
/// else appended (minus `--admin-socket` words).
pub fn apply_ceph_args(argv: &mut Vec<String>, env: &str) {
    let words: Vec<String> = env.split_whitespace().map(str::to_string).collect();
    if words.is_empty() {
        return;
    }
    if let Some(pos) = argv.iter().position(|a| a == "injectargs") {
        for (k, w) in words.into_iter().enumerate() {
            argv.insert(pos + k, w);
        }
    } else {
        argv.extend(words.into_iter().filter(|w| !w.contains("--admin-socket")));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn argparse_like_parsing() {
        let p = parse_known(&s(&["-sf", "json", "--form=json-pretty", "osd", "-c/x.conf", "--st", "-1"])).unwrap();
        assert!(p.flag("status"));
        assert_eq!(p.value("output_format"), Some("json-pretty"));
        assert_eq!(p.value("cephconf"), Some("/x.conf"));
        assert_eq!(p.extras, s(&["osd", "-1"]));
        assert_eq!(
            parse_known(&s(&["--co", "x"])).unwrap_err(),
            "ambiguous option: --co could match --completion, --conf, --concise, --connect-timeout"
        );
        assert!(parse_known(&s(&["-f", "foo"])).unwrap_err().starts_with("argument -f/--format: invalid choice: 'foo'"));
        assert_eq!(parse_known(&s(&["-c"])).unwrap_err(), "argument -c/--conf: expected one argument");
        assert_eq!(parse_known(&s(&["-s1"])).unwrap_err(), "argument -s/--status: ignored explicit argument '1'");
        let p = parse_known(&s(&["--", "-s"])).unwrap();
        assert_eq!(p.extras, s(&["--", "-s"]));
    }

    #[test]
    fn config_pass() {
        let (set, rest) = conf_parse_argv(&s(&[
            "-k", "/x", "health", "--debug-ms", "1", "--keyring=/y", "-m", "1.2.3.4", "--key", "abc",
            "--yes-i-really-mean-it", "--", "--debug_ms=1",
        ]))
        .unwrap();
        assert_eq!(rest, s(&["health", "--yes-i-really-mean-it", "--", "--debug_ms=1"]));
        assert_eq!(set.len(), 5);
        assert_eq!(set[1], ("debug_ms".to_string(), "1".to_string()));
    }
}
