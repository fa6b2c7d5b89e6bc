//! Command matching as the real CLI does it (`ceph_argparse.py`): command
//! signatures from `get_command_descriptions`, argument types with their exact
//! acceptance rules and messages, `validate`, `matchnum` and `validate_command`.
//! Behaviour (including quirks) is kept identical because users and scripts
//! depend on which command a word list selects and on the messages printed.

use serde_json::{Map, Value};
use std::fmt;

pub const FLAG_OBSOLETE: u64 = 2;
pub const FLAG_DEPRECATED: u64 = 4;
pub const FLAG_MGR: u64 = 8;
pub const FLAG_POLL: u64 = 16;
pub const FLAG_HIDDEN: u64 = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrKind {
    Prefix,
    Valid,
    Format,
    Number,
    Missing,
    TooFew,
    Other,
}

#[derive(Debug, Clone)]
pub struct ArgError {
    pub kind: ErrKind,
    pub msg: String,
}

impl fmt::Display for ArgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.msg)
    }
}

fn err<T>(kind: ErrKind, msg: impl Into<String>) -> Result<T, ArgError> {
    Err(ArgError { kind, msg: msg.into() })
}

#[derive(Debug, Clone)]
pub enum ArgType {
    Prefix(String),
    Int(Vec<i128>),
    Float(Vec<f64>),
    Str(Option<Vec<char>>, String),
    Poolname,
    Objectname,
    Choices(Vec<String>),
    Bool,
    OsdName,
    Name,
    Pgid,
    Uuid,
    IpAddr,
    EntityAddr,
    Other(String),
}

#[derive(Debug, Clone)]
pub struct ArgDesc {
    pub name: String,
    pub t: ArgType,
    pub req: bool,
    pub n: usize,
    pub many: bool,
}

#[derive(Debug, Clone)]
pub struct Command {
    pub sig: Vec<ArgDesc>,
    pub help: String,
    pub flags: u64,
}

/// Parses the JSON of `get_command_descriptions` into commands, in its order.
pub fn parse_descriptions(json: &str) -> Result<Vec<Command>, String> {
    let v: Value = serde_json::from_str(json).map_err(|e| format!("bad command descriptions: {e}"))?;
    let obj = v.as_object().ok_or("command descriptions are not a JSON object")?;
    let mut out = Vec::with_capacity(obj.len());
    for (_, c) in obj {
        let sig = c.get("sig").and_then(Value::as_array).ok_or("command without sig")?;
        let mut descs = Vec::with_capacity(sig.len());
        for s in sig {
            descs.push(parse_desc(s)?);
        }
        out.push(Command {
            sig: descs,
            help: c.get("help").and_then(Value::as_str).unwrap_or("").to_string(),
            flags: c.get("flags").and_then(Value::as_u64).unwrap_or(0),
        });
    }
    Ok(out)
}

fn parse_desc(s: &Value) -> Result<ArgDesc, String> {
    if let Some(w) = s.as_str() {
        return Ok(ArgDesc { name: "prefix".into(), t: ArgType::Prefix(w.to_string()), req: true, n: 1, many: false });
    }
    let o = s.as_object().ok_or("bad signature element")?;
    let g = |k: &str| o.get(k).and_then(Value::as_str).map(str::to_string);
    let name = g("name").unwrap_or_default();
    let tname = g("type").unwrap_or_default();
    let range = g("range");
    let t = match tname.as_str() {
        "CephInt" => ArgType::Int(range.map(|r| r.split('|').filter_map(|x| x.trim().parse().ok()).collect()).unwrap_or_default()),
        "CephFloat" => ArgType::Float(range.map(|r| r.split('|').filter_map(|x| x.trim().parse().ok()).collect()).unwrap_or_default()),
        "CephString" => {
            let gc = g("goodchars");
            let set = gc.as_deref().map(goodchars_set);
            ArgType::Str(set, gc.unwrap_or_default())
        }
        "CephPoolname" => ArgType::Poolname,
        "CephObjectname" => ArgType::Objectname,
        "CephChoices" => ArgType::Choices(g("strings").unwrap_or_default().split('|').map(str::to_string).collect()),
        "CephBool" => ArgType::Bool,
        "CephOsdName" => ArgType::OsdName,
        "CephName" => ArgType::Name,
        "CephPgid" => ArgType::Pgid,
        "CephUUID" => ArgType::Uuid,
        "CephIPAddr" => ArgType::IpAddr,
        "CephEntityAddr" => ArgType::EntityAddr,
        other => ArgType::Other(other.to_string()),
    };
    let req = matches!(o.get("req"), None) || matches!(o.get("req").and_then(Value::as_str), Some("True" | "true")) || o.get("req") == Some(&Value::Bool(true));
    let nstr = g("n");
    let (n, many) = match nstr.as_deref() {
        Some("n") | Some("N") => (1, true),
        Some(x) => (x.parse().unwrap_or(1), false),
        None => (1, false),
    };
    Ok(ArgDesc { name, t, req, n, many })
}

/// The characters of Python's `string.printable` that match a goodchars regex
/// such as `[A-Za-z0-9-_.]` (a single bracket class).
fn goodchars_set(re: &str) -> Vec<char> {
    let printable: Vec<char> = (0x20u8..0x7f).map(char::from).chain("\t\n\r\x0b\x0c".chars()).collect();
    let inner = re.trim_start_matches('[').trim_end_matches(']');
    let chars: Vec<char> = inner.chars().collect();
    let ok = |c: char| -> bool {
        let mut i = 0;
        while i < chars.len() {
            if i + 2 < chars.len() && chars[i + 1] == '-' {
                if chars[i] <= c && c <= chars[i + 2] {
                    return true;
                }
                i += 3;
            } else {
                if chars[i] == c {
                    return true;
                }
                i += 1;
            }
        }
        false
    };
    printable.into_iter().filter(|c| ok(*c)).collect()
}

// ---------- Python-compatible scalar parsing ----------

/// Python `int(s, 0)`.
pub fn py_int(s: &str) -> Option<i128> {
    let t = s.trim_matches(|c: char| c.is_whitespace());
    let (neg, body) = match t.as_bytes().first()? {
        b'-' => (true, &t[1..]),
        b'+' => (false, &t[1..]),
        _ => (false, t),
    };
    let lower = body.to_ascii_lowercase();
    let (radix, digits) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d.to_string())
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d.to_string())
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d.to_string())
    } else {
        // base 0: a decimal with a leading zero is only valid if all zeros
        if lower.len() > 1 && lower.starts_with('0') && !lower.chars().all(|c| c == '0' || c == '_') {
            return None;
        }
        (10, lower.clone())
    };
    let digits = if radix != 10 { digits.strip_prefix('_').map(str::to_string).unwrap_or(digits) } else { digits };
    if digits.is_empty() || digits.starts_with('_') || digits.ends_with('_') || digits.contains("__") {
        return None;
    }
    let clean: String = digits.chars().filter(|c| *c != '_').collect();
    let v = i128::from_str_radix(&clean, radix).ok()?;
    Some(if neg { -v } else { v })
}

/// Python `float(s)`.
pub fn py_float(s: &str) -> Option<f64> {
    let t = s.trim();
    let l = t.to_ascii_lowercase();
    let (sign, body) = match l.as_bytes().first()? {
        b'-' => (-1.0, &l[1..]),
        b'+' => (1.0, &l[1..]),
        _ => (1.0, &l[..]),
    };
    match body {
        "inf" | "infinity" => return Some(sign * f64::INFINITY),
        "nan" => return Some(f64::NAN),
        _ => {}
    }
    if body.is_empty() || body.starts_with('_') || body.ends_with('_') || body.contains("__") || body.contains("_.") || body.contains("._") {
        return None;
    }
    if !body.chars().all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | '+' | '-' | '_')) {
        return None;
    }
    let clean: String = body.chars().filter(|c| *c != '_').collect();
    clean.parse::<f64>().ok().map(|v| sign * v)
}

/// Python `repr(float)`.
pub fn py_float_repr(v: f64) -> String {
    if v.is_nan() {
        return "nan".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf".into() } else { "-inf".into() };
    }
    let s = format!("{v:?}");
    if s.contains('e') {
        // Rust: 1e16 -> Python: 1e+16
        let (m, e) = s.split_once('e').expect("has e");
        let e: i32 = e.parse().unwrap_or(0);
        let m = m.trim_end_matches(".0");
        return format!("{m}e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs());
    }
    s
}

/// Python `repr(str)` with single quotes (as in list reprs).
pub fn py_str_repr(s: &str) -> String {
    let q = if s.contains('\'') && !s.contains('"') { '"' } else { '\'' };
    let mut out = String::new();
    out.push(q);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == q => {
                out.push('\\');
                out.push(c)
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push(q);
    out
}

fn py_list_repr(v: &[String]) -> String {
    format!("[{}]", v.iter().map(|s| py_str_repr(s)).collect::<Vec<_>>().join(", "))
}

// ---------- types ----------

impl ArgType {
    /// `str(type)` as used in messages.
    pub fn describe(&self) -> String {
        match self {
            ArgType::Prefix(p) => p.clone(),
            ArgType::Int(r) => match r.len() {
                0 => "<int>".into(),
                1 => format!("<int[{}-]>", r[0]),
                _ => format!("<int[{}-{}]>", r[0], r[1]),
            },
            ArgType::Float(r) => match r.len() {
                0 => "<float>".into(),
                1 => format!("<float[{}-]>", py_float_repr(r[0])),
                _ => format!("<float[{}-{}]>", py_float_repr(r[0]), py_float_repr(r[1])),
            },
            ArgType::Str(_, gc) if !gc.is_empty() => format!("<string(goodchars {gc})>"),
            ArgType::Str(..) => "<string>".into(),
            ArgType::Poolname => "<poolname>".into(),
            ArgType::Objectname => "<objectname>".into(),
            ArgType::Choices(s) => s.join("|"),
            ArgType::Bool => "<bool>".into(),
            ArgType::OsdName => "<osdname (id|osd.id)>".into(),
            ArgType::Name => "<name (type.id)>".into(),
            ArgType::Pgid => "<pgid>".into(),
            ArgType::Uuid => "<uuid>".into(),
            ArgType::IpAddr => "<IPaddr[:port]>".into(),
            ArgType::EntityAddr => "<EntityAddr>".into(),
            ArgType::Other(t) => format!("<{t}>"),
        }
    }

    /// `valid(s, partial)`: the value stored in the command dict.
    pub fn valid(&self, s: &str, partial: bool) -> Result<Value, ArgError> {
        match self {
            ArgType::Prefix(p) => {
                if s == p || (partial && p.starts_with(s)) {
                    Ok(Value::String(s.to_string()))
                } else {
                    err(ErrKind::Prefix, format!("no match for {s}"))
                }
            }
            ArgType::Int(r) => {
                let v = py_int(s).ok_or_else(|| ArgError { kind: ErrKind::Valid, msg: format!("{s} doesn't represent an int") })?;
                let out = |lo: Option<i128>, hi: Option<i128>| {
                    if lo.map(|l| v < l).unwrap_or(false) || hi.map(|h| v > h).unwrap_or(false) {
                        let list = r.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(", ");
                        return err(ErrKind::Valid, format!("{v} not in range [{list}]"));
                    }
                    Ok(Value::from(v as i64))
                };
                out(r.first().copied(), r.get(1).copied())
            }
            ArgType::Float(r) => {
                let v = py_float(s).ok_or_else(|| ArgError { kind: ErrKind::Valid, msg: format!("{s} doesn't represent a float") })?;
                if r.first().map(|l| v < *l).unwrap_or(false) || r.get(1).map(|h| v > *h).unwrap_or(false) {
                    let list = r.iter().map(|x| py_float_repr(*x)).collect::<Vec<_>>().join(", ");
                    return err(ErrKind::Valid, format!("{} not in range [{list}]", py_float_repr(v)));
                }
                Ok(serde_json::Number::from_f64(v).map(Value::Number).unwrap_or(Value::Null))
            }
            ArgType::Str(gc, _) => {
                if let Some(set) = gc {
                    let bad: Vec<char> = {
                        let mut b: Vec<char> = s.chars().filter(|c| !set.contains(c)).collect();
                        b.sort();
                        b.dedup();
                        b
                    };
                    if !bad.is_empty() {
                        return err(ErrKind::Format, format!("invalid chars {} in {s}", bad.iter().collect::<String>()));
                    }
                }
                Ok(Value::String(s.to_string()))
            }
            ArgType::Poolname | ArgType::Objectname | ArgType::Other(_) => Ok(Value::String(s.to_string())),
            ArgType::Choices(c) => {
                if c.iter().any(|x| x == s) || (partial && c.iter().any(|x| x.starts_with(s))) {
                    Ok(Value::String(s.to_string()))
                } else {
                    err(ErrKind::Valid, format!("{s} not in {}", c.join("|")))
                }
            }
            ArgType::Bool => match s.to_lowercase().as_str() {
                "true" | "1" => Ok(Value::Bool(true)),
                "false" | "0" => Ok(Value::Bool(false)),
                _ => err(ErrKind::Valid, format!("{s} not one of 'true', 'false'")),
            },
            ArgType::OsdName => {
                if s == "*" {
                    return Ok(Value::String("*".into()));
                }
                let i = if let Some((t, i)) = s.split_once('.') {
                    if t != "osd" {
                        return err(ErrKind::Valid, format!("unknown type {t}"));
                    }
                    i
                } else {
                    s
                };
                let v = py_int_plain(i).ok_or_else(|| ArgError { kind: ErrKind::Format, msg: format!("osd id {i} not integer") })?;
                if v < 0 {
                    return err(ErrKind::Format, format!("osd id {v} is less than 0"));
                }
                Ok(Value::from(v as i64))
            }
            ArgType::Name => {
                if matches!(s, "*" | "mgr" | "mon") {
                    return Ok(Value::String(s.into()));
                }
                let Some((t, i)) = s.split_once('.') else {
                    return err(ErrKind::Valid, format!("CephName: no . in {s}"));
                };
                if !matches!(t, "osd" | "mon" | "client" | "mds" | "mgr") {
                    return err(ErrKind::Valid, format!("unknown type {t}"));
                }
                if t == "osd" && i != "*" && py_int_plain(i).is_none() {
                    return err(ErrKind::Valid, format!("osd id {i} not integer"));
                }
                Ok(Value::String(s.into()))
            }
            ArgType::Pgid => {
                let Some((p, g)) = s.split_once('.') else {
                    return err(ErrKind::Valid, "pgid has no .");
                };
                let pool = py_int_plain(p).ok_or_else(|| ArgError { kind: ErrKind::Valid, msg: format!("pool {p} not integer") })?;
                if pool < 0 {
                    return err(ErrKind::Valid, format!("pool {pool} < 0"));
                }
                if py_int_radix(g, 16).is_none() {
                    return err(ErrKind::Valid, format!("pgnum {g} not hex integer"));
                }
                Ok(Value::String(s.into()))
            }
            ArgType::Uuid => {
                let h: String = s.trim_start_matches("urn:").trim_start_matches("uuid:").chars().filter(|c| !matches!(c, '{' | '}' | '-')).collect();
                if h.len() != 32 || !h.chars().all(|c| c.is_ascii_hexdigit()) {
                    return err(ErrKind::Valid, format!("invalid UUID {s}: badly formed hexadecimal UUID string"));
                }
                Ok(Value::String(s.into()))
            }
            ArgType::IpAddr => valid_ipaddr(s).map(Value::String),
            ArgType::EntityAddr => {
                let (ip, nonce) = match s.split_once('/') {
                    Some((a, n)) => (a, Some(n)),
                    None => (s, None),
                };
                if let Some(n) = nonce {
                    match py_int_plain(n) {
                        Some(v) if v >= 0 => {}
                        _ => return err(ErrKind::Valid, format!("{s}: invalid entity, nonce {n} not integer > 0")),
                    }
                }
                valid_ipaddr(ip)?;
                Ok(Value::String(s.into()))
            }
        }
    }
}

/// Python `int(s)` (base 10, with sign, underscores, whitespace).
fn py_int_plain(s: &str) -> Option<i128> {
    py_int_radix(s, 10)
}

fn py_int_radix(s: &str, radix: u32) -> Option<i128> {
    let t = s.trim();
    let (neg, b) = match t.as_bytes().first()? {
        b'-' => (true, &t[1..]),
        b'+' => (false, &t[1..]),
        _ => (false, t),
    };
    let b = if radix == 16 { b.strip_prefix("0x").or_else(|| b.strip_prefix("0X")).unwrap_or(b) } else { b };
    if b.is_empty() || b.starts_with('_') || b.ends_with('_') || b.contains("__") {
        return None;
    }
    let clean: String = b.chars().filter(|c| *c != '_').collect();
    let v = i128::from_str_radix(&clean, radix).ok()?;
    Some(if neg { -v } else { v })
}

fn valid_ipaddr(s: &str) -> Result<String, ArgError> {
    let a = s.strip_prefix("v1:").or_else(|| s.strip_prefix("v2:")).or_else(|| s.strip_prefix("any:")).unwrap_or(s);
    if a.contains('.') {
        let (ip, port) = match a.split_once(':') {
            Some((i, p)) => (i, Some(p)),
            None => (a, None),
        };
        if ip.parse::<std::net::Ipv4Addr>().is_err() {
            return err(ErrKind::Valid, format!("{ip}: invalid IPv4 address"));
        }
        if let Some(p) = port {
            match p.parse::<i64>() {
                Ok(v) if (0..=65535).contains(&v) => {}
                _ => return err(ErrKind::Valid, format!("{p}: invalid IPv4 port")),
            }
        }
    } else {
        let (ip, port) = if let Some(r) = a.strip_prefix('[') {
            match r.find(']') {
                Some(end) => (&r[..end], r[end + 1..].strip_prefix(':')),
                None => return err(ErrKind::Valid, format!("{s} missing terminating ]")),
            }
        } else {
            (a, None)
        };
        if ip.parse::<std::net::Ipv6Addr>().is_err() {
            return err(ErrKind::Valid, format!("{s} not valid IPv6 address"));
        }
        if let Some(p) = port {
            match p.parse::<i64>() {
                Ok(v) if (0..=65535).contains(&v) => {}
                _ => return err(ErrKind::Valid, format!("{p} not a valid port number")),
            }
        }
    }
    Ok(a.to_string())
}

impl ArgDesc {
    /// `str(argdesc)`.
    pub fn describe(&self) -> String {
        let single_choice = matches!(&self.t, ArgType::Choices(c) if c.len() == 1);
        let mut s = if matches!(self.t, ArgType::Prefix(_)) || single_choice {
            self.t.describe()
        } else {
            let mut x = format!("{}({})", self.name, self.t.describe());
            if self.many {
                x.push_str("...");
            }
            x
        };
        if !self.req {
            s = format!("[{s}]");
        }
        s
    }

    /// `helpstr()`: the concise form used in usage and help.
    pub fn helpstr(&self) -> String {
        let mut s = match &self.t {
            ArgType::Bool => format!("--{}", self.name.replace('_', "-")),
            ArgType::Prefix(p) => p.clone(),
            ArgType::Choices(c) if self.name == "format" => format!("--format {{{}}}", c.join("|")),
            ArgType::Choices(c) => c.join("|"),
            ArgType::OsdName => "<id|osd.id>".into(),
            ArgType::Name => "<type.id>".into(),
            ArgType::Int(_) => format!("<{}:int>", self.name),
            ArgType::Float(_) => format!("<{}:float>", self.name),
            _ => format!("<{}>", self.name),
        };
        if self.many {
            s.push_str("...");
        }
        if !self.req {
            s = format!("[{s}]");
        }
        s
    }
}

pub fn concise_sig(sig: &[ArgDesc]) -> String {
    sig.iter().map(ArgDesc::helpstr).collect::<Vec<_>>().join(" ")
}

fn validate_one(word: &str, d: &ArgDesc, is_kwarg: bool, partial: bool) -> Result<Vec<Value>, ArgError> {
    if d.many && (is_kwarg || !matches!(d.t, ArgType::Str(..))) {
        word.split(',').map(|w| d.t.valid(w, partial)).collect()
    } else {
        Ok(vec![d.t.valid(word, partial)?])
    }
}

fn store_arg(d: &ArgDesc, vals: Vec<Value>, out: &mut Map<String, Value>) {
    if d.many {
        match out.get_mut(&d.name) {
            Some(Value::Array(a)) => a.extend(vals),
            _ => {
                out.insert(d.name.clone(), Value::Array(vals));
            }
        }
    } else if matches!(d.t, ArgType::Prefix(_)) {
        let w = vals.into_iter().next().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
        match out.get_mut("prefix") {
            Some(Value::String(p)) => {
                p.push(' ');
                p.push_str(&w);
            }
            _ => {
                out.insert("prefix".into(), Value::String(w));
            }
        }
    } else if let Some(v) = vals.into_iter().next() {
        out.insert(d.name.clone(), v);
    }
}

const VALUE_FLAGS: [&str; 4] =
    ["--yes-i-really-mean-it", "--yes-i-really-really-mean-it", "--yes-i-really-really-mean-it-not-faking", "--force"];

/// `validate(args, sig, flags, partial)`. On success the ordered command dict.
/// Like the Python original, validating a word bumps the *matched* descriptor's
/// seen-count, which is also how a keyword argument can end its own descriptor.
pub fn validate(args: &[String], sig: &[ArgDesc], flags: u64, partial: bool, stderr: &mut String) -> Result<Map<String, Value>, ArgError> {
    let mut myargs: std::collections::VecDeque<String> = args.iter().cloned().collect();
    let mut mysig: Vec<ArgDesc> = sig.to_vec();
    let mut numseen: Vec<usize> = vec![0; mysig.len()];
    let reqsiglen = mysig.iter().filter(|d| d.req).count();
    let mut matchcnt = 0;
    let mut d = Map::new();
    let mut save_exception: Option<(String, ArgError)> = None;
    // name -> index; later duplicates win, as with a Python dict built in order
    let by_name = |name: &str, sig: &[ArgDesc]| -> Option<usize> {
        sig.iter().rposition(|x| !matches!(x.t, ArgType::Prefix(_)) && x.name == name)
    };
    let injectargs = myargs.front().map(|a| a == "injectargs").unwrap_or(false);
    // validate_one's bookkeeping on the descriptor it validated against
    fn seen(i: usize, mysig: &mut [ArgDesc], numseen: &mut [usize]) {
        numseen[i] += 1;
        if mysig[i].many {
            mysig[i].n = numseen[i] + 1;
        }
    }
    for i in 0..mysig.len() {
        numseen[i] = 0;
        while numseen[i] < mysig[i].n {
            let desc = mysig[i].clone();
            let myarg = myargs.pop_front().filter(|a| !a.is_empty());
            if myarg.is_none() {
                if !desc.req {
                    break;
                }
                if d.contains_key(&desc.name) {
                    break;
                }
            }
            if let Some(a) = &myarg {
                if let Some(rest) = a.strip_prefix("--") {
                    let mut kw: Option<(usize, String)> = None;
                    if let Some((k, v)) = rest.split_once('=').filter(|(k, v)| !k.is_empty() && !v.is_empty()) {
                        if let Some(ki) = by_name(&k.replace('-', "_"), &mysig) {
                            kw = Some((ki, v.to_string()));
                        }
                    } else if !rest.is_empty() && !rest.starts_with('=') {
                        let k = rest.split('=').next().unwrap_or("");
                        if let Some(ki) = by_name(&k.replace('-', "_"), &mysig) {
                            if matches!(mysig[ki].t, ArgType::Bool) {
                                kw = Some((ki, "true".into()));
                            } else if let Some(v) = myargs.pop_front() {
                                kw = Some((ki, v));
                            }
                        }
                    }
                    if let Some((ki, v)) = kw {
                        let vals = validate_one(&v, &mysig[ki], true, false)?;
                        seen(ki, &mut mysig, &mut numseen);
                        matchcnt += 1;
                        let kd = mysig[ki].clone();
                        store_arg(&kd, vals, &mut d);
                        continue;
                    }
                }
                if a.starts_with("--") {
                    let is_value = matches!(desc.t, ArgType::Choices(_)) || VALUE_FLAGS.contains(&a.as_str()) || injectargs;
                    if !is_value {
                        return err(ErrKind::Valid, format!("Unexpected argument '{a}'"));
                    }
                }
            }
            let Some(myarg) = myarg else {
                if desc.req {
                    if desc.many && numseen[i] < 1 {
                        if partial {
                            return Ok(d);
                        }
                        return err(ErrKind::Number, format!("saw {} of {}, expected at least 1", numseen[i], desc.describe()));
                    } else if !desc.many && numseen[i] < desc.n {
                        if partial {
                            return Ok(d);
                        }
                        if numseen[i] == 0 && desc.n == 1 {
                            return err(ErrKind::Missing, format!("missing required parameter {}", desc.describe()));
                        }
                        return err(ErrKind::Number, format!("saw {} of {}, expected {}", numseen[i], desc.describe(), desc.n));
                    }
                }
                break;
            };
            match validate_one(&myarg, &desc, false, false) {
                Ok(vals) => {
                    seen(i, &mut mysig, &mut numseen);
                    matchcnt += 1;
                    store_arg(&desc, vals, &mut d);
                    save_exception = None;
                }
                Err(e) => {
                    if !desc.req {
                        save_exception = Some((myarg.clone(), e));
                        myargs.push_front(myarg);
                        break;
                    }
                    if partial {
                        return Ok(d);
                    }
                    return Err(e);
                }
            }
        }
    }
    if matchcnt < reqsiglen {
        return err(ErrKind::TooFew, "not enough arguments given");
    }
    if !myargs.is_empty() && !partial {
        if let Some((a, e)) = save_exception {
            stderr.push_str(&format!("{a} not valid:  {e}\n"));
        }
        let rest: Vec<String> = myargs.into_iter().collect();
        return err(ErrKind::Other, format!("unused arguments: {}", py_list_repr(&rest)));
    }
    if flags & FLAG_MGR != 0 {
        d.insert("target".into(), serde_json::json!(["mon-mgr", ""]));
    }
    if flags & FLAG_POLL != 0 {
        d.insert("poll".into(), Value::Bool(true));
    }
    Ok(d)
}

/// `matchnum`: how many required descriptors the words satisfy positionally.
fn matchnum(args: &[String], sig: &[ArgDesc], partial: bool) -> usize {
    let mut words: std::collections::VecDeque<&String> = args.iter().collect();
    let mut matchcnt = 0;
    for desc in sig {
        let mut numseen = 0;
        let mut n = desc.n;
        while numseen < n {
            let Some(word) = words.pop_front() else { return matchcnt };
            let ok = validate_one(word, desc, false, partial && words.is_empty()).is_ok();
            if !ok {
                if !desc.req {
                    words.push_front(word);
                    break;
                }
                return matchcnt;
            }
            numseen += 1;
            if desc.many {
                n = numseen + 1;
            }
        }
        if desc.req {
            matchcnt += 1;
        }
    }
    matchcnt
}

/// `validate_command`: picks the command the words mean and validates it. On
/// failure returns None after writing what the real CLI writes to stderr.
pub fn validate_command(cmds: &[Command], args: &[String], stderr: &mut String) -> Option<Map<String, Value>> {
    let mut best = 0.0f64;
    let mut bestcmds: Vec<&Command> = Vec::new();
    for cmd in cmds {
        if cmd.flags & FLAG_OBSOLETE != 0 {
            continue;
        }
        let mut m = matchnum(args, &cmd.sig, true) as f64;
        if m >= best.floor() && m == matchnum(args, &cmd.sig, false) as f64 {
            m += 0.5;
        }
        if m < best {
            continue;
        }
        if m > best {
            best = m;
            bestcmds = vec![cmd];
        } else {
            bestcmds.push(cmd);
        }
    }
    let mut sorted = bestcmds.clone();
    sorted.sort_by_key(|c| c.sig.iter().filter(|d| d.req).count());
    let mut found: Option<&Command> = None;
    let mut valid: Option<Map<String, Value>> = None;
    let mut ex: Option<ArgError> = None;
    for cmd in &sorted {
        match validate(args, &cmd.sig, cmd.flags, false, stderr) {
            Ok(v) => {
                valid = Some(v);
                found = Some(cmd);
                break;
            }
            Err(e) => match e.kind {
                ErrKind::Prefix | ErrKind::TooFew => {}
                ErrKind::Missing => {
                    if bestcmds.len() == 1 {
                        found = Some(cmd);
                    }
                    ex = Some(e);
                    break;
                }
                _ => {
                    ex = Some(e);
                    found = Some(cmd);
                    break;
                }
            },
        }
    }
    match (found, valid) {
        (_, Some(v)) if !v.is_empty() => Some(v),
        (Some(cmd), _) => {
            stderr.push_str(&format!("Invalid command: {}\n", ex.map(|e| e.msg).unwrap_or_default()));
            stderr.push_str(&format!("{} :  {}\n", concise_sig(&cmd.sig), cmd.help));
            None
        }
        (None, _) => {
            let shown: Vec<&&Command> = bestcmds.iter().filter(|c| c.flags & (FLAG_DEPRECATED | FLAG_HIDDEN) == 0).take(10).collect();
            stderr.push_str(&format!("no valid command found; {} closest matches:\n", shown.len()));
            for c in shown {
                stderr.push_str(&concise_sig(&c.sig));
                stderr.push('\n');
            }
            None
        }
    }
}

/// Python `json.dumps` (default separators, ensure_ascii).
pub fn py_json_dumps(v: &Value) -> String {
    let mut s = String::new();
    dump(v, &mut s);
    s
}

fn dump(v: &Value, s: &mut String) {
    match v {
        Value::Null => s.push_str("null"),
        Value::Bool(b) => s.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            if let Some(f) = n.as_f64().filter(|_| n.is_f64()) {
                s.push_str(&match py_float_repr(f).as_str() {
                    "inf" => "Infinity".to_string(),
                    "-inf" => "-Infinity".to_string(),
                    "nan" => "NaN".to_string(),
                    r => r.to_string(),
                });
            } else {
                s.push_str(&n.to_string());
            }
        }
        Value::String(t) => {
            s.push('"');
            for c in t.chars() {
                match c {
                    '"' => s.push_str("\\\""),
                    '\\' => s.push_str("\\\\"),
                    '\n' => s.push_str("\\n"),
                    '\r' => s.push_str("\\r"),
                    '\t' => s.push_str("\\t"),
                    '\x08' => s.push_str("\\b"),
                    '\x0c' => s.push_str("\\f"),
                    c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                        let mut buf = [0u16; 2];
                        for u in c.encode_utf16(&mut buf) {
                            s.push_str(&format!("\\u{:04x}", u));
                        }
                    }
                    c => s.push(c),
                }
            }
            s.push('"');
        }
        Value::Array(a) => {
            s.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    s.push_str(", ");
                }
                dump(x, s);
            }
            s.push(']');
        }
        Value::Object(o) => {
            s.push('{');
            for (i, (k, x)) in o.iter().enumerate() {
                if i > 0 {
                    s.push_str(", ");
                }
                dump(&Value::String(k.clone()), s);
                s.push_str(": ");
                dump(x, s);
            }
            s.push('}');
        }
    }
}
