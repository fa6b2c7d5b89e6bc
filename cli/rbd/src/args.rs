//! The real `rbd`'s command line: global options anywhere, a command of one
//! or two words, image specs `[pool/[namespace/]]image[@snap]`.

use std::collections::BTreeMap;

#[derive(Debug, Default)]
pub struct Args {
    pub words: Vec<String>,
    /// Options with values, by long name without dashes (last one wins).
    pub opts: BTreeMap<String, String>,
    /// Repeatable options (`--image-feature`).
    pub features: Vec<String>,
    pub flags: Vec<String>,
    pub conf: Option<String>,
    pub cluster: String,
    pub name: String,
    pub overrides: Vec<(String, String)>,
}

const FLAGS: &[&str] = &[
    "allow-shrink", "long", "pretty-format", "no-progress", "whole-object", "force", "read-only", "exclusive", "all",
    "no-error", "sparse-size", "show-mapped", "help",
];
const VALUED: &[&str] = &[
    "pool", "namespace", "image", "snap", "dest", "dest-pool", "dest-namespace", "size", "order", "object-size", "stripe-unit",
    "stripe-count", "data-pool", "format", "io-type", "io-size", "io-threads", "io-total", "io-pattern", "rw-mix-read",
    "from-snap", "image-format", "export-format", "device-type", "options", "shared", "limit", "image-shared",
    "image-id", "snap-id", "path",
];

fn short(s: &str) -> Option<&'static str> {
    Some(match s {
        "-p" => "pool",
        "-s" => "size",
        "-l" => "long",
        "-t" => "device-type",
        "-o" => "options",
        "-h" => "help",
        _ => return None,
    })
}

impl Args {
    pub fn parse(argv: Vec<String>) -> Result<Args, String> {
        let mut a = Args { cluster: "ceph".into(), name: "client.admin".into(), ..Default::default() };
        let mut i = 0;
        while i < argv.len() {
            let w = argv[i].clone();
            i += 1;
            if w == "-" || !w.starts_with('-') || w.parse::<f64>().is_ok() {
                a.words.push(w);
                continue;
            }
            let (key, attached) = match w.split_once('=') {
                Some((k, v)) if k.starts_with("--") => (k.to_string(), Some(v.to_string())),
                _ => (w.clone(), None),
            };
            let value = |i: &mut usize| -> Result<String, String> {
                if let Some(v) = &attached {
                    return Ok(v.clone());
                }
                let v = argv.get(*i).cloned().ok_or_else(|| format!("rbd: the required argument for option '{key}' is missing"))?;
                *i += 1;
                Ok(v)
            };
            let long = match short(&key) {
                Some(l) => l.to_string(),
                None => key.trim_start_matches('-').replace('_', "-"),
            };
            match long.as_str() {
                "c" | "conf" => a.conf = Some(value(&mut i)?),
                "cluster" => a.cluster = value(&mut i)?,
                "n" | "name" => a.name = value(&mut i)?,
                "id" | "user" => a.name = format!("client.{}", value(&mut i)?),
                "k" | "keyring" => a.overrides.push(("keyring".into(), value(&mut i)?)),
                "m" | "mon-host" => a.overrides.push(("mon_host".into(), value(&mut i)?)),
                "image-feature" => a.features.push(value(&mut i)?),
                l if FLAGS.contains(&l) => a.flags.push(l.to_string()),
                l if VALUED.contains(&l) => {
                    let v = value(&mut i)?;
                    a.opts.insert(l.to_string(), v);
                }
                // any other --option is a config setting (--debug-ms 1, --rbd-default-features 1)
                l => {
                    let v = value(&mut i)?;
                    a.overrides.push((l.replace('-', "_"), v));
                }
            }
        }
        Ok(a)
    }

    pub fn flag(&self, f: &str) -> bool {
        self.flags.iter().any(|x| x == f)
    }
    pub fn opt(&self, k: &str) -> Option<&str> {
        self.opts.get(k).map(String::as_str)
    }
    pub fn json(&self) -> bool {
        matches!(self.opt("format"), Some("json") | Some("xml"))
    }
}

/// `[pool/[namespace/]]image[@snap]`, with `--pool`, `--namespace`,
/// `--image` and `--snap` as defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    pub pool: String,
    pub namespace: String,
    pub image: String,
    pub snap: Option<String>,
}

impl Spec {
    pub fn parse(s: Option<&str>, a: &Args, dest: bool) -> Result<Spec, String> {
        let pool_opt = if dest { a.opt("dest-pool") } else { a.opt("pool") };
        let mut spec = Spec {
            pool: pool_opt.unwrap_or("rbd").to_string(),
            namespace: a.opt(if dest { "dest-namespace" } else { "namespace" }).unwrap_or("").to_string(),
            image: a.opt(if dest { "dest" } else { "image" }).unwrap_or("").to_string(),
            snap: if dest { None } else { a.opt("snap").map(str::to_string) },
        };
        if let Some(s) = s {
            let (rest, snap) = match s.split_once('@') {
                Some((r, sn)) => (r, Some(sn.to_string())),
                None => (s, None),
            };
            let parts: Vec<&str> = rest.split('/').collect();
            match parts.as_slice() {
                [img] => spec.image = img.to_string(),
                [pool, img] => {
                    spec.pool = pool.to_string();
                    spec.image = img.to_string();
                }
                [pool, ns, img] => {
                    spec.pool = pool.to_string();
                    spec.namespace = ns.to_string();
                    spec.image = img.to_string();
                }
                _ => return Err(format!("rbd: invalid spec '{s}'")),
            }
            if snap.is_some() {
                spec.snap = snap;
            }
        }
        Ok(spec)
    }
}

/// Sizes as `rbd` takes them: a number with an optional K/M/G/T/P suffix
/// (binary), `default_unit` when there is none (`--size` is in MiB).
pub fn parse_size(s: &str, default_unit: u64) -> Result<u64, String> {
    let t = s.trim();
    let t2 = t.strip_suffix('B').unwrap_or(t);
    let t2 = t2.strip_suffix('i').unwrap_or(t2);
    let (num, mult) = match t2.chars().last() {
        Some(c) if c.is_ascii_alphabetic() => {
            let m = match c.to_ascii_uppercase() {
                'K' => 1u64 << 10,
                'M' => 1 << 20,
                'G' => 1 << 30,
                'T' => 1 << 40,
                'P' => 1 << 50,
                _ => return Err(format!("rbd: invalid size '{s}'")),
            };
            (&t2[..t2.len() - 1], m)
        }
        _ if t != t2 => (t2, 1),
        _ => (t, default_unit),
    };
    num.parse::<u64>().ok().and_then(|n| n.checked_mul(mult)).ok_or_else(|| format!("rbd: invalid size '{s}'"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: &[&str]) -> Args {
        Args::parse(v.iter().map(|s| s.to_string()).collect()).unwrap()
    }

    #[test]
    fn specs_and_options() {
        let a = args(&["snap", "create", "-p", "p1", "img@s1", "--image-feature", "layering", "--image-feature=exclusive-lock", "--debug-ms", "1"]);
        assert_eq!(a.words, vec!["snap", "create", "img@s1"]);
        assert_eq!(a.features, vec!["layering", "exclusive-lock"]);
        assert_eq!(a.overrides, vec![("debug_ms".to_string(), "1".to_string())]);
        let s = Spec::parse(Some("img@s1"), &a, false).unwrap();
        assert_eq!((s.pool.as_str(), s.image.as_str(), s.snap.as_deref()), ("p1", "img", Some("s1")));
        let s = Spec::parse(Some("p2/ns/img"), &a, false).unwrap();
        assert_eq!((s.pool.as_str(), s.namespace.as_str(), s.image.as_str()), ("p2", "ns", "img"));
    }

    #[test]
    fn sizes_like_rbd() {
        assert_eq!(parse_size("10G", 1 << 20), Ok(10 << 30));
        assert_eq!(parse_size("1024", 1 << 20), Ok(1 << 30));
        assert_eq!(parse_size("4K", 1), Ok(4096));
        assert_eq!(parse_size("4096B", 1 << 20), Ok(4096));
        assert!(parse_size("ten", 1).is_err());
    }
}
