//! `entity_addr_t` and `entity_addrvec_t` (`src/msg/msg_types.h`).

use crate::features::MSG_ADDR2;
use denc::{invalid, Decode, Encode, Encoder, Reader, Result};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum AddrType {
    #[default]
    None = 0,
    Legacy = 1,
    Msgr2 = 2,
    Any = 3,
    Cidr = 4,
}

impl AddrType {
    pub fn from_u32(v: u32) -> Option<AddrType> {
        Some(match v {
            0 => AddrType::None,
            1 => AddrType::Legacy,
            2 => AddrType::Msgr2,
            3 => AddrType::Any,
            4 => AddrType::Cidr,
            _ => return None,
        })
    }
    pub fn name(self) -> &'static str {
        match self {
            AddrType::None => "none",
            AddrType::Legacy => "v1",
            AddrType::Msgr2 => "v2",
            AddrType::Any => "any",
            AddrType::Cidr => "cidr",
        }
    }
}

const AF_INET: u16 = 2;
const AF_INET6: u16 = 10;

/// One endpoint: protocol type, nonce and an optional socket address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct EntityAddr {
    pub ty: AddrType,
    pub nonce: u32,
    pub addr: Option<SocketAddr>,
}

impl EntityAddr {
    pub fn new(ty: AddrType, addr: SocketAddr, nonce: u32) -> Self {
        EntityAddr { ty, nonce, addr: Some(addr) }
    }
    pub fn v2(addr: SocketAddr) -> Self {
        Self::new(AddrType::Msgr2, addr, 0)
    }
    pub fn v1(addr: SocketAddr) -> Self {
        Self::new(AddrType::Legacy, addr, 0)
    }
    pub fn is_blank_ip(&self) -> bool {
        self.addr.map(|a| a.ip().is_unspecified()).unwrap_or(true)
    }
    pub fn port(&self) -> u16 {
        self.addr.map(|a| a.port()).unwrap_or(0)
    }
    /// `ip:port`, as Ceph prints a sockaddr (IPv6 in brackets).
    pub fn sockaddr_string(&self) -> String {
        match self.addr {
            Some(a) => a.to_string(),
            None => ":/0".into(), // unreachable in practice; kept total
        }
    }

    /// The JSON object Ceph's `entity_addr_t::dump` writes.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "type": self.ty.name(),
            "addr": self.addr.map(|a| a.to_string()).unwrap_or_else(|| "(unrecognized address family 0)".into()),
            "nonce": self.nonce,
        })
    }

    /// sockaddr bytes after the family: port (big-endian), address, padding.
    fn sockaddr_tail(&self) -> Vec<u8> {
        match self.addr {
            None => Vec::new(),
            Some(SocketAddr::V4(a)) => {
                let mut v = Vec::with_capacity(14);
                v.extend_from_slice(&a.port().to_be_bytes());
                v.extend_from_slice(&a.ip().octets());
                v.extend_from_slice(&[0; 8]);
                v
            }
            Some(SocketAddr::V6(a)) => {
                let mut v = Vec::with_capacity(26);
                v.extend_from_slice(&a.port().to_be_bytes());
                v.extend_from_slice(&a.flowinfo().to_be_bytes());
                v.extend_from_slice(&a.ip().octets());
                v.extend_from_slice(&a.scope_id().to_le_bytes());
                v
            }
        }
    }
    fn family(&self) -> u16 {
        match self.addr {
            None => 0,
            Some(SocketAddr::V4(_)) => AF_INET,
            Some(SocketAddr::V6(_)) => AF_INET6,
        }
    }

    fn parse_sockaddr(family: u16, tail: &[u8]) -> Result<Option<SocketAddr>> {
        match family {
            0 => Ok(None),
            AF_INET => {
                if tail.len() < 6 {
                    return invalid("entity_addr_t", "short AF_INET sockaddr");
                }
                let port = u16::from_be_bytes([tail[0], tail[1]]);
                let ip = Ipv4Addr::new(tail[2], tail[3], tail[4], tail[5]);
                Ok(Some(SocketAddr::new(IpAddr::V4(ip), port)))
            }
            AF_INET6 => {
                if tail.len() < 22 {
                    return invalid("entity_addr_t", "short AF_INET6 sockaddr");
                }
                let port = u16::from_be_bytes([tail[0], tail[1]]);
                let flow = u32::from_be_bytes(tail[2..6].try_into().expect("len"));
                let ip: [u8; 16] = tail[6..22].try_into().expect("len");
                let scope = if tail.len() >= 26 {
                    u32::from_le_bytes(tail[22..26].try_into().expect("len"))
                } else {
                    0
                };
                Ok(Some(SocketAddr::V6(std::net::SocketAddrV6::new(
                    Ipv6Addr::from(ip),
                    port,
                    flow,
                    scope,
                ))))
            }
            f => invalid("entity_addr_t", format!("unsupported address family {f}")),
        }
    }

    /// The pre-MSG_ADDR2 form: u32 0, u32 nonce, 128-byte sockaddr_storage whose
    /// family is big-endian.
    pub fn encode_legacy(&self, e: &mut Encoder) {
        e.u32(0);
        e.u32(self.nonce);
        let mut ss = [0u8; 128];
        ss[..2].copy_from_slice(&self.family().to_be_bytes());
        let tail = self.sockaddr_tail();
        ss[2..2 + tail.len()].copy_from_slice(&tail);
        e.raw(&ss);
    }

    fn decode_legacy_after_marker(r: &mut Reader) -> Result<Self> {
        let _marker = r.u8()?;
        let _rest = r.u16()?;
        let nonce = r.u32()?;
        let ss: [u8; 128] = r.array()?;
        let family = u16::from_be_bytes([ss[0], ss[1]]);
        let addr = Self::parse_sockaddr(family, &ss[2..])?;
        let ty = if addr.is_some() { AddrType::Legacy } else { AddrType::None };
        Ok(EntityAddr { ty, nonce, addr })
    }

    fn decode_after_marker(r: &mut Reader) -> Result<Self> {
        let (_, mut b) = r.versioned(1, "entity_addr_t")?;
        let ty = b.u32()?;
        let ty = AddrType::from_u32(ty)
            .ok_or_else(|| denc::Error::Invalid { what: "entity_addr_t", detail: format!("unknown type {ty}") })?;
        let nonce = b.u32()?;
        let elen = b.u32()? as usize;
        let addr = if elen == 0 {
            None
        } else {
            if elen < 2 || elen > 128 {
                return invalid("entity_addr_t", format!("sockaddr length {elen}"));
            }
            let family = b.u16()?;
            let tail = b.bytes(elen - 2)?;
            Self::parse_sockaddr(family, &tail)?
        };
        Ok(EntityAddr { ty, nonce, addr })
    }
}

impl Encode for EntityAddr {
    fn encode(&self, e: &mut Encoder) {
        if e.features & MSG_ADDR2 == 0 {
            return self.encode_legacy(e);
        }
        e.u8(1);
        let s = e.start(1, 1);
        e.u32(self.ty as u32);
        e.u32(self.nonce);
        let tail = self.sockaddr_tail();
        if self.addr.is_some() {
            e.u32(2 + tail.len() as u32);
            e.u16(self.family());
            e.raw(&tail);
        } else {
            e.u32(0);
        }
        e.finish(s);
    }
}

impl Decode for EntityAddr {
    fn decode(r: &mut Reader) -> Result<Self> {
        match r.u8()? {
            0 => Self::decode_legacy_after_marker(r),
            1 => Self::decode_after_marker(r),
            m => invalid("entity_addr_t", format!("marker {m} is not 0 or 1")),
        }
    }
}

impl fmt::Display for EntityAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.ty == AddrType::None {
            return f.write_str("-");
        }
        if self.ty != AddrType::Any {
            write!(f, "{}:", self.ty.name())?;
        }
        write!(f, "{}/{}", self.sockaddr_string(), self.nonce)
    }
}

impl FromStr for EntityAddr {
    type Err = String;
    /// Parses `v2:1.2.3.4:3300/0`, `v1:[::1]:6789`, `1.2.3.4:6789/123`, `any:...`.
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let (ty, rest) = if let Some(r) = s.strip_prefix("v2:") {
            (AddrType::Msgr2, r)
        } else if let Some(r) = s.strip_prefix("v1:") {
            (AddrType::Legacy, r)
        } else if let Some(r) = s.strip_prefix("any:") {
            (AddrType::Any, r)
        } else {
            (AddrType::Legacy, s)
        };
        let (hostport, nonce) = match rest.rsplit_once('/') {
            Some((h, n)) => (h, n.parse::<u32>().map_err(|_| format!("bad nonce in '{s}'"))?),
            None => (rest, 0),
        };
        let addr = parse_host_port(hostport, None).ok_or_else(|| format!("cannot parse address '{s}'"))?;
        Ok(EntityAddr { ty, nonce, addr: Some(addr) })
    }
}

/// Parses `ip`, `ip:port`, `[ipv6]`, `[ipv6]:port`; `default_port` fills a missing port.
pub fn parse_host_port(s: &str, default_port: Option<u16>) -> Option<SocketAddr> {
    if let Ok(sa) = s.parse::<SocketAddr>() {
        return Some(sa);
    }
    let host = s.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(s);
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Some(SocketAddr::new(ip, default_port.unwrap_or(0)));
    }
    None
}

/// `entity_addrvec_t`: the addresses of one entity (typically v2 then v1).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct EntityAddrVec(pub Vec<EntityAddr>);

impl EntityAddrVec {
    pub fn single(a: EntityAddr) -> Self {
        EntityAddrVec(vec![a])
    }
    pub fn v2(&self) -> Option<&EntityAddr> {
        self.0.iter().find(|a| a.ty == AddrType::Msgr2)
    }
    /// `legacy_addr()`: the v1 address, else the first one.
    pub fn legacy(&self) -> EntityAddr {
        self.0
            .iter()
            .find(|a| a.ty == AddrType::Legacy)
            .copied()
            .unwrap_or_default()
    }
    /// `get_legacy_str()`-like: what `ceph mon dump` prints in the `addr` field.
    pub fn legacy_or_front(&self) -> EntityAddr {
        self.0
            .iter()
            .find(|a| a.ty == AddrType::Legacy)
            .or_else(|| self.0.first())
            .copied()
            .unwrap_or_default()
    }
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({ "addrvec": self.0.iter().map(|a| a.to_json()).collect::<Vec<_>>() })
    }
}

impl fmt::Display for EntityAddrVec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.len() {
            0 => Ok(()),
            1 => write!(f, "{}", self.0[0]),
            _ => {
                f.write_str("[")?;
                for (i, a) in self.0.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{a}")?;
                }
                f.write_str("]")
            }
        }
    }
}

impl Encode for EntityAddrVec {
    fn encode(&self, e: &mut Encoder) {
        if e.features & MSG_ADDR2 == 0 {
            return self.legacy().encode_legacy(e);
        }
        e.u8(2);
        e.u32(self.0.len() as u32);
        for a in &self.0 {
            a.encode(e);
        }
    }
}

impl Decode for EntityAddrVec {
    fn decode(r: &mut Reader) -> Result<Self> {
        match r.u8()? {
            0 => Ok(EntityAddrVec(vec![EntityAddr::decode_legacy_after_marker(r)?])),
            1 => Ok(EntityAddrVec(vec![EntityAddr::decode_after_marker(r)?])),
            2 => {
                let n = r.count(1)?;
                let mut v = Vec::with_capacity(n);
                for _ in 0..n {
                    v.push(EntityAddr::decode(r)?);
                }
                Ok(EntityAddrVec(v))
            }
            m => invalid("entity_addrvec_t", format!("marker {m}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn v2_addr_matches_observed_bytes() {
        // v2:127.0.0.1:13300: marker 1, ENCODE_START(1,1), type 2, nonce 0, sockaddr_in
        let a: EntityAddr = "v2:127.0.0.1:13300/0".parse().unwrap();
        let b = a.to_bytes(MSG_ADDR2);
        let want = hex("0101011c000000020000000000000010000000020033f47f0000010000000000000000");
        assert_eq!(&b[..], &want[..]);
        assert_eq!(EntityAddr::from_bytes(b).unwrap(), a);
        assert_eq!(a.to_string(), "v2:127.0.0.1:13300/0");
    }

    #[test]
    fn legacy_round_trip() {
        let a: EntityAddr = "v1:10.1.2.3:6789/77".parse().unwrap();
        let b = a.to_bytes(0);
        assert_eq!(b.len(), 136);
        assert_eq!(EntityAddr::from_bytes(b).unwrap(), a);
    }

    #[test]
    fn addrvec_display() {
        let v = EntityAddrVec(vec![
            "v2:127.0.0.1:3300/0".parse().unwrap(),
            "v1:127.0.0.1:6789/0".parse().unwrap(),
        ]);
        assert_eq!(v.to_string(), "[v2:127.0.0.1:3300/0,v1:127.0.0.1:6789/0]");
        let ipv6: EntityAddr = "v2:[::1]:3300/0".parse().unwrap();
        assert_eq!(EntityAddr::from_bytes(ipv6.to_bytes(MSG_ADDR2)).unwrap(), ipv6);
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    proptest! {
        #[test]
        fn decoders_never_panic(data in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = EntityAddr::from_bytes(data.clone());
            let _ = EntityAddrVec::from_bytes(data.clone());
            let _ = crate::EntityName::from_bytes(data.clone());
            let _ = crate::EntityNameT::from_bytes(data);
        }
    }
}
