use std::net::{SocketAddr, ToSocketAddrs};
use types::addr::parse_host_port;
use types::{AddrType, EntityAddr, EntityAddrVec};

const MON_PORT_V2: u16 = 3300;
const MON_PORT_V1: u16 = 6789;

/// Parses `mon_host` the way `MonMap::init_with_ips`/`init_with_hosts` do.
/// Entries are separated by commas, semicolons or whitespace (but not inside
/// brackets). Each entry is one of:
/// - `[v2:IP:3300,v1:IP:6789]`: taken as written;
/// - `v2:IP[:port]` / `v1:IP[:port]`: that protocol, its default port if none;
/// - `IP` or `host`: v2 on 3300 plus v1 on 6789;
/// - `IP:6789`: v1 only; `IP:3300`: v2 only; `IP:other`: v2 and v1 on that port.
pub fn parse_mon_host(s: &str) -> Result<Vec<EntityAddrVec>, String> {
    let mut out = Vec::new();
    for entry in split_top(s) {
        if let Some(inner) = entry.strip_prefix('[').filter(|_| entry.ends_with(']') && entry.contains(':')) {
            let inner = &inner[..inner.len() - 1];
            // `[::1]` alone is an IPv6 address, not an addrvec.
            if inner.starts_with("v1:") || inner.starts_with("v2:") || inner.starts_with("any:") {
                let mut v = Vec::new();
                for a in split_top(inner) {
                    v.extend(parse_one(&a)?.0);
                }
                out.push(EntityAddrVec(v));
                continue;
            }
        }
        out.push(parse_one(&entry)?);
    }
    if out.is_empty() {
        return Err("mon_host is empty: set mon_host in ceph.conf or pass -m".into());
    }
    Ok(out)
}

fn parse_one(e: &str) -> Result<EntityAddrVec, String> {
    let (ty, rest) = if let Some(r) = e.strip_prefix("v2:") {
        (Some(AddrType::Msgr2), r)
    } else if let Some(r) = e.strip_prefix("v1:") {
        (Some(AddrType::Legacy), r)
    } else {
        (None, e)
    };
    let rest = rest.split('/').next().unwrap_or(rest);
    let sa = resolve(rest)?;
    let explicit_port = sa.port() != 0;
    let mk = |t: AddrType, port: u16| EntityAddr::new(t, SocketAddr::new(sa.ip(), port), 0);
    Ok(EntityAddrVec(match ty {
        Some(AddrType::Msgr2) => vec![mk(AddrType::Msgr2, if explicit_port { sa.port() } else { MON_PORT_V2 })],
        Some(_) => vec![mk(AddrType::Legacy, if explicit_port { sa.port() } else { MON_PORT_V1 })],
        None if !explicit_port => vec![mk(AddrType::Msgr2, MON_PORT_V2), mk(AddrType::Legacy, MON_PORT_V1)],
        None if sa.port() == MON_PORT_V1 => vec![mk(AddrType::Legacy, MON_PORT_V1)],
        None if sa.port() == MON_PORT_V2 => vec![mk(AddrType::Msgr2, MON_PORT_V2)],
        None => vec![mk(AddrType::Msgr2, sa.port()), mk(AddrType::Legacy, sa.port())],
    }))
}

/// An IP literal, or a host name resolved through the system resolver.
fn resolve(s: &str) -> Result<SocketAddr, String> {
    if let Some(sa) = parse_host_port(s, None) {
        return Ok(sa);
    }
    let (host, port) = match s.rsplit_once(':') {
        Some((h, p)) if p.chars().all(|c| c.is_ascii_digit()) && !p.is_empty() => {
            (h, p.parse::<u16>().map_err(|_| format!("bad port in mon_host entry '{s}'"))?)
        }
        _ => (s, 0),
    };
    (host, port)
        .to_socket_addrs()
        .ok()
        .and_then(|mut it| it.next())
        .ok_or_else(|| format!("unable to parse or resolve mon_host entry '{s}'"))
}

/// Splits on separators that are not inside brackets.
fn split_top(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut depth = 0i32;
    for c in s.chars() {
        match c {
            '[' => {
                depth += 1;
                cur.push(c)
            }
            ']' => {
                depth -= 1;
                cur.push(c)
            }
            ',' | ';' | ' ' | '\t' if depth <= 0 => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}
