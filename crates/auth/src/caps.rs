//! Capability strings (`src/mon/MonCap.cc`, `src/mgr/MgrCap.cc`, `src/osd/OSDCap.cc`):
//! parsed with Ceph's grammar and checked the way the daemons check them.
//!
//! mon/mgr:  `allow *`, `allow rwx`, `allow service osd rw`, `allow command "osd tree"`,
//!           `allow command "auth get" with entity=client.x`, `allow profile rbd`, `profile osd`.
//! osd:      `allow rwx pool=rbd namespace=ns object_prefix rbd_data`, `allow class-read`,
//!           `profile rbd pool=images`, `allow pool foo rw`.

use std::collections::BTreeMap;
use std::fmt;

pub const R: u8 = 1;
pub const W: u8 = 2;
pub const X: u8 = 4;
pub const ALL: u8 = 0xff;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapError(pub String);
impl fmt::Display for CapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Splits a cap string into words, keeping quoted strings whole and treating
/// `,`/`;` as grant separators and `=` as its own token.
fn tokenize(s: &str) -> Result<Vec<String>, CapError> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = s.chars().peekable();
    let flush = |cur: &mut String, out: &mut Vec<String>| {
        if !cur.is_empty() {
            out.push(std::mem::take(cur));
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '"' | '\'' => {
                flush(&mut cur, &mut out);
                let mut q = String::new();
                loop {
                    match chars.next() {
                        Some(e) if e == c => break,
                        Some(e) => q.push(e),
                        None => return Err(CapError(format!("unterminated quote in '{s}'"))),
                    }
                }
                out.push(format!("\u{1}{q}"));
            }
            ',' | ';' => {
                flush(&mut cur, &mut out);
                out.push(",".into());
            }
            '=' => {
                flush(&mut cur, &mut out);
                out.push("=".into());
            }
            c if c.is_whitespace() => flush(&mut cur, &mut out),
            c => cur.push(c),
        }
    }
    flush(&mut cur, &mut out);
    Ok(out)
}

fn unquote(t: &str) -> &str {
    t.strip_prefix('\u{1}').unwrap_or(t)
}

fn parse_perm(t: &str) -> Option<u8> {
    if t == "*" || t == "all" {
        return Some(ALL);
    }
    let mut p = 0;
    for c in t.chars() {
        p |= match c {
            'r' => R,
            'w' => W,
            'x' => X,
            _ => return None,
        };
    }
    if p == 0 {
        None
    } else {
        Some(p)
    }
}

/// One grant of a mon or mgr cap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MonGrant {
    /// `allow rwx` / `allow *`
    Perm(u8),
    /// `allow service NAME rwx`
    Service(String, u8),
    /// `allow command "PREFIX" [with k=v | k prefix v ...]`
    Command(String, BTreeMap<String, ArgMatch>),
    /// `allow profile NAME` / `profile NAME`
    Profile(String),
}

/// How a `with` clause constrains one command argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArgMatch {
    Equals(String),
    Prefix(String),
}

impl ArgMatch {
    fn matches(&self, v: Option<&String>) -> bool {
        match (self, v) {
            (ArgMatch::Equals(w), Some(v)) => w == v,
            (ArgMatch::Prefix(p), Some(v)) => v.starts_with(p.as_str()),
            _ => false,
        }
    }
}

/// A parsed mon (or mgr) capability.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MonCap {
    pub grants: Vec<MonGrant>,
    pub text: String,
}

impl MonCap {
    pub fn parse(s: &str) -> Result<MonCap, CapError> {
        let toks = tokenize(s)?;
        let mut grants = Vec::new();
        let mut i = 0;
        let err = |why: &str| CapError(format!("parse error in mon cap '{s}': {why}"));
        while i < toks.len() {
            if toks[i] == "," {
                i += 1;
                continue;
            }
            let mut t = toks[i].as_str();
            if t == "allow" {
                i += 1;
                t = toks.get(i).map(|s| s.as_str()).ok_or_else(|| err("nothing after 'allow'"))?;
            } else if t != "profile" {
                return Err(err(&format!("expected 'allow' or 'profile', got '{t}'")));
            }
            match t {
                "service" => {
                    let name = toks.get(i + 1).ok_or_else(|| err("service needs a name"))?;
                    let perm = toks.get(i + 2).and_then(|p| parse_perm(p)).ok_or_else(|| err("service needs permissions"))?;
                    grants.push(MonGrant::Service(unquote(name).to_string(), perm));
                    i += 3;
                }
                "command" => {
                    let cmd = toks.get(i + 1).ok_or_else(|| err("command needs a name"))?;
                    i += 2;
                    let mut args = BTreeMap::new();
                    if toks.get(i).map(|s| s.as_str()) == Some("with") {
                        i += 1;
                        while i + 2 < toks.len() && matches!(toks.get(i + 1).map(|s| s.as_str()), Some("=") | Some("prefix")) {
                            let v = unquote(&toks[i + 2]).to_string();
                            let m = if toks[i + 1] == "=" { ArgMatch::Equals(v) } else { ArgMatch::Prefix(v) };
                            args.insert(unquote(&toks[i]).to_string(), m);
                            i += 3;
                        }
                        if args.is_empty() {
                            return Err(err("'with' needs key=value"));
                        }
                    }
                    grants.push(MonGrant::Command(unquote(cmd).to_string(), args));
                }
                "profile" => {
                    let name = toks.get(i + 1).ok_or_else(|| err("profile needs a name"))?;
                    grants.push(MonGrant::Profile(unquote(name).to_string()));
                    i += 2;
                }
                p => {
                    let perm = parse_perm(p).ok_or_else(|| err(&format!("unknown permission '{p}'")))?;
                    grants.push(MonGrant::Perm(perm));
                    i += 1;
                }
            }
            if i < toks.len() && toks[i] != "," {
                return Err(err(&format!("unexpected '{}'", unquote(&toks[i]))));
            }
        }
        Ok(MonCap { grants, text: s.to_string() })
    }

    pub fn allow_all(&self) -> bool {
        self.grants.iter().any(|g| matches!(g, MonGrant::Perm(p) if *p == ALL))
    }

    /// `MonCap::is_capable`: may this entity run `command` (in `service`, with
    /// `args`) needing permissions `need`? `command` is empty for messages.
    pub fn is_capable(&self, service: &str, command: &str, args: &BTreeMap<String, String>, need: u8) -> bool {
        self.grants.iter().any(|g| grant_allows(g, service, command, args, need))
    }
}

fn grant_allows(g: &MonGrant, service: &str, command: &str, args: &BTreeMap<String, String>, need: u8) -> bool {
    match g {
        MonGrant::Perm(p) => p & need == need,
        MonGrant::Service(s, p) => s == service && p & need == need,
        MonGrant::Command(c, want) => {
            !command.is_empty() && c == command && want.iter().all(|(k, m)| m.matches(args.get(k)))
        }
        MonGrant::Profile(name) => profile_grants(name).iter().any(|g| grant_allows(g, service, command, args, need)),
    }
}

/// What the mon profiles expand to (`MonCapGrant::expand_profile_mon`).
fn profile_grants(name: &str) -> Vec<MonGrant> {
    let svc = |s: &str, p: u8| MonGrant::Service(s.to_string(), p);
    let cmd = |c: &str| MonGrant::Command(c.to_string(), BTreeMap::new());
    let cmd_with = |c: &str, k: &str, m: ArgMatch| {
        let mut a = BTreeMap::new();
        a.insert(k.to_string(), m);
        MonGrant::Command(c.to_string(), a)
    };
    match name {
        "mon" => vec![MonGrant::Perm(ALL)],
        "osd" => vec![svc("osd", R | W | X), svc("log", W), svc("mon", R), svc("pg", R), svc("config", R), svc("auth", R)],
        "mds" => vec![svc("mds", ALL), svc("mon", R), svc("osd", R), svc("log", W), svc("config", R), svc("auth", R)],
        "mgr" => vec![svc("mgr", ALL), svc("log", W), svc("mon", R), svc("mds", R), svc("osd", R), svc("auth", R), svc("config", R)],
        "read-only" => vec![MonGrant::Perm(R)],
        "rbd" | "rbd-read-only" | "simple-rados-client" | "simple-rados-client-with-blocklist" => {
            let mut v = vec![svc("mon", R), svc("osd", R), svc("pg", R)];
            if name != "rbd-read-only" && name != "simple-rados-client" {
                v.push(cmd("osd blocklist"));
                v.push(cmd("osd blacklist"));
            }
            v
        }
        // As MonCap.cc: an OSD bootstrap key may only register OSDs.
        "bootstrap-osd" => vec![svc("mon", R), svc("osd", R), cmd("mon getmap"), cmd("osd new"), cmd("osd purge-new")],
        // The other bootstrap keys may only create keys for their own daemon type.
        "bootstrap-mds" => vec![svc("mon", R), svc("osd", R), cmd("mon getmap"), cmd_with("auth get-or-create", "entity", ArgMatch::Prefix("mds.".into()))],
        "bootstrap-mgr" => vec![svc("mon", R), svc("osd", R), cmd("mon getmap"), cmd_with("auth get-or-create", "entity", ArgMatch::Prefix("mgr.".into()))],
        "bootstrap-rgw" => vec![svc("mon", R), svc("osd", R), cmd("mon getmap"), cmd_with("auth get-or-create", "entity", ArgMatch::Prefix("client.rgw.".into()))],
        "bootstrap-rbd" | "bootstrap-rbd-mirror" => {
            vec![svc("mon", R), svc("osd", R), cmd("mon getmap"), cmd_with("auth get-or-create", "entity", ArgMatch::Prefix("client.".into()))]
        }
        "crash" => vec![svc("mon", R), cmd("crash post")],
        _ => Vec::new(),
    }
}

/// One OSD cap grant: permissions limited by a match (`OSDCapGrant`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OsdGrant {
    pub perm: u8,
    pub class_read: bool,
    pub class_write: bool,
    pub pool: Option<String>,
    pub namespace: Option<String>,
    pub object_prefix: Option<String>,
    pub profile: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OsdCap {
    pub grants: Vec<OsdGrant>,
}

impl OsdCap {
    pub fn parse(s: &str) -> Result<OsdCap, CapError> {
        let toks = tokenize(s)?;
        let err = |why: &str| CapError(format!("parse error in osd cap '{s}': {why}"));
        let mut grants = Vec::new();
        let mut i = 0;
        while i < toks.len() {
            if toks[i] == "," {
                i += 1;
                continue;
            }
            let mut g = OsdGrant::default();
            match toks[i].as_str() {
                "allow" => i += 1,
                "profile" => {}
                t => return Err(err(&format!("expected 'allow' or 'profile', got '{t}'"))),
            }
            let mut any = false;
            while i < toks.len() && toks[i] != "," {
                let t = toks[i].as_str();
                let kv = |i: usize| -> Option<String> {
                    if toks.get(i + 1).map(|s| s.as_str()) == Some("=") {
                        toks.get(i + 2).map(|v| unquote(v).to_string())
                    } else {
                        toks.get(i + 1).map(|v| unquote(v).to_string())
                    }
                };
                let step = |i: usize| if toks.get(i + 1).map(|s| s.as_str()) == Some("=") { 3 } else { 2 };
                match t {
                    "pool" | "namespace" | "object_prefix" | "tag" | "network" => {
                        let v = kv(i).ok_or_else(|| err(&format!("'{t}' needs a value")))?;
                        i += step(i);
                        match t {
                            "pool" => g.pool = Some(v),
                            "namespace" => g.namespace = Some(v),
                            "object_prefix" => g.object_prefix = Some(v),
                            "tag" => {
                                // tag APP KEY=VALUE
                                i += 3;
                            }
                            _ => {}
                        }
                    }
                    "profile" => {
                        g.profile = Some(kv(i).ok_or_else(|| err("profile needs a name"))?);
                        i += 2;
                        any = true;
                    }
                    "class-read" => {
                        g.class_read = true;
                        i += 1;
                        any = true;
                    }
                    "class-write" => {
                        g.class_write = true;
                        i += 1;
                        any = true;
                    }
                    "class" => {
                        i += 2;
                        while i < toks.len() && parse_perm(&toks[i]).is_some() {
                            i += 1;
                        }
                        any = true;
                    }
                    p => {
                        let perm = parse_perm(p).ok_or_else(|| err(&format!("unexpected '{}'", unquote(p))))?;
                        g.perm |= perm;
                        i += 1;
                        any = true;
                    }
                }
            }
            if !any {
                return Err(err("a grant needs permissions or a profile"));
            }
            grants.push(g);
        }
        Ok(OsdCap { grants })
    }

    /// `OSDCap::allow_all`: some grant is `allow *` (or `all`) on everything;
    /// what `ceph tell osd.N` needs.
    pub fn allow_all(&self) -> bool {
        self.grants.iter().any(|g| g.perm == ALL && g.pool.is_none() && g.namespace.is_none() && g.object_prefix.is_none() && g.profile.is_none())
    }

    /// `OSDCap::is_capable` for an op on `pool`/`namespace`/`object`.
    pub fn is_capable(&self, pool: &str, namespace: &str, object: &str, need: u8, class_read: bool, class_write: bool) -> bool {
        self.grants.iter().any(|g| {
            if let Some(p) = &g.pool {
                if p != pool && p != "*" {
                    return false;
                }
            }
            if let Some(n) = &g.namespace {
                let ok = if let Some(pre) = n.strip_suffix('*') { namespace.starts_with(pre) } else { n == namespace };
                if !ok {
                    return false;
                }
            }
            if let Some(o) = &g.object_prefix {
                if !object.starts_with(o.as_str()) {
                    return false;
                }
            }
            let (perm, cr, cw) = match g.profile.as_deref() {
                Some("rbd") | Some("osd") | Some("mds") | Some("mgr") | Some("simple-rados-client") => (R | W | X, true, true),
                Some("rbd-read-only") | Some("read-only") => (R, true, false),
                Some(_) => (0, false, false),
                None => (g.perm, g.class_read || g.perm & X != 0 && g.perm & R != 0, g.class_write || g.perm & X != 0 && g.perm & W != 0),
            };
            perm & need & (R | W) == need & (R | W) && (!class_read || cr) && (!class_write || cw) && (need & X == 0 || perm & X != 0 || cr || cw)
        })
    }
}

/// Validates a cap for `service` the way `auth add`/`caps` do before storing it.
pub fn validate(service: &str, cap: &str) -> Result<(), CapError> {
    match service {
        "mon" | "mgr" => MonCap::parse(cap).map(|_| ()),
        "osd" => OsdCap::parse(cap).map(|_| ()),
        "mds" => {
            // MDS caps: `allow`, `allow rw`, `allow rw path=/x`, `allow *`.
            let t = cap.trim();
            if t.starts_with("allow") || t.starts_with("profile") {
                Ok(())
            } else {
                Err(CapError(format!("parse error in mds cap '{cap}'")))
            }
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn none() -> BTreeMap<String, String> {
        BTreeMap::new()
    }

    #[test]
    fn mon_caps() {
        let c = MonCap::parse("allow *").unwrap();
        assert!(c.allow_all() && c.is_capable("osd", "osd pool create", &none(), W));
        let ro = MonCap::parse("allow r").unwrap();
        assert!(ro.is_capable("osd", "osd dump", &none(), R));
        assert!(!ro.is_capable("osd", "osd pool create", &none(), R | W));
        let svc = MonCap::parse("allow service osd rw, allow r").unwrap();
        assert!(svc.is_capable("osd", "osd pool create", &none(), R | W));
        assert!(!svc.is_capable("auth", "auth add", &none(), R | W));
        let cmd = MonCap::parse("allow command \"auth get\" with entity=client.x").unwrap();
        let mut a = none();
        a.insert("entity".into(), "client.x".into());
        assert!(cmd.is_capable("auth", "auth get", &a, R | X));
        a.insert("entity".into(), "client.y".into());
        assert!(!cmd.is_capable("auth", "auth get", &a, R | X));
        let b = MonCap::parse("allow profile bootstrap-mgr").unwrap();
        let mut e = none();
        e.insert("entity".into(), "mgr.x".into());
        assert!(b.is_capable("auth", "auth get-or-create", &e, R | W | X));
        e.insert("entity".into(), "client.admin".into());
        assert!(!b.is_capable("auth", "auth get-or-create", &e, R | W | X));
        assert!(!MonCap::parse("profile bootstrap-osd").unwrap().is_capable("auth", "auth get-or-create", &none(), R | W | X));
        assert!(MonCap::parse("allow command \"auth get\" with entity prefix client.").unwrap().is_capable("auth", "auth get", &e, R | X));
        let p = MonCap::parse("profile rbd").unwrap();
        assert!(p.is_capable("osd", "", &none(), R));
        assert!(!p.is_capable("osd", "osd pool create", &none(), W));
        assert!(MonCap::parse("allow q").is_err());
        assert!(MonCap::parse("deny r").is_err());
        assert!(MonCap::parse("allow command 'x").is_err());
        assert_eq!(MonCap::parse("allow rw; allow command foo").unwrap().grants.len(), 2);
    }

    #[test]
    fn osd_caps() {
        let c = OsdCap::parse("allow rwx pool=rbd namespace=ns").unwrap();
        assert!(c.is_capable("rbd", "ns", "obj", R | W, false, false));
        assert!(!c.is_capable("rbd", "", "obj", R, false, false));
        assert!(!c.is_capable("data", "ns", "obj", R, false, false));
        let r = OsdCap::parse("allow r").unwrap();
        assert!(r.is_capable("any", "", "o", R, false, false));
        assert!(!r.is_capable("any", "", "o", W, false, false));
        assert!(OsdCap::parse("profile rbd pool=images").unwrap().is_capable("images", "", "x", R | W, true, true));
        assert!(OsdCap::parse("allow class-read object_prefix rbd_children, allow rwx pool=rbd").is_ok());
        assert!(OsdCap::parse("allow pool foo rw").unwrap().is_capable("foo", "", "", W, false, false));
        assert!(OsdCap::parse("allow").is_err());
        // tell needs `allow *` (or all) on everything, not just rwx.
        assert!(OsdCap::parse("allow *").unwrap().allow_all());
        assert!(OsdCap::parse("allow r, allow all").unwrap().allow_all());
        assert!(!OsdCap::parse("allow rwx").unwrap().allow_all());
        assert!(!OsdCap::parse("allow * pool=rbd").unwrap().allow_all());
        assert!(!OsdCap::parse("profile rbd").unwrap().allow_all());
        assert!(OsdCap::parse("allow zz").is_err());
    }

    proptest::proptest! {
        #[test]
        fn parsers_are_total(s in ".{0,60}") {
            let _ = MonCap::parse(&s);
            let _ = OsdCap::parse(&s);
        }
    }
}
