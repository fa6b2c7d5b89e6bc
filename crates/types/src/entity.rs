use denc::{invalid, Decode, Encode, Encoder, Reader, Result};
use std::fmt;
use std::str::FromStr;

/// `CEPH_ENTITY_TYPE_*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EntityType(pub u32);

impl EntityType {
    pub const MON: EntityType = EntityType(0x01);
    pub const MDS: EntityType = EntityType(0x02);
    pub const OSD: EntityType = EntityType(0x04);
    pub const CLIENT: EntityType = EntityType(0x08);
    pub const MGR: EntityType = EntityType(0x10);
    pub const AUTH: EntityType = EntityType(0x20);

    pub fn name(self) -> &'static str {
        match self.0 {
            0x01 => "mon",
            0x02 => "mds",
            0x04 => "osd",
            0x08 => "client",
            0x10 => "mgr",
            0x20 => "auth",
            _ => "unknown",
        }
    }
    pub fn from_name(s: &str) -> Option<EntityType> {
        Some(match s {
            "mon" => Self::MON,
            "mds" => Self::MDS,
            "osd" => Self::OSD,
            "client" => Self::CLIENT,
            "mgr" => Self::MGR,
            "auth" => Self::AUTH,
            _ => return None,
        })
    }
}

impl fmt::Display for EntityType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// `EntityName`: the cephx identity, e.g. `client.admin`. Encoded as u32 type + string.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EntityName {
    pub ty: EntityType,
    pub id: String,
}

impl EntityName {
    pub fn new(ty: EntityType, id: impl Into<String>) -> Self {
        EntityName { ty, id: id.into() }
    }
    pub fn client(id: impl Into<String>) -> Self {
        Self::new(EntityType::CLIENT, id)
    }
}

impl fmt::Display for EntityName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.ty, self.id)
    }
}

impl FromStr for EntityName {
    type Err = String;
    /// Parses `type.id` as Ceph's `EntityName::from_str` does.
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let (t, id) = s
            .split_once('.')
            .ok_or_else(|| format!("'{s}' is not a valid entity name: expected TYPE.ID, e.g. client.admin"))?;
        let ty = EntityType::from_name(t)
            .ok_or_else(|| format!("'{s}' is not a valid entity name: unknown type '{t}'"))?;
        Ok(EntityName::new(ty, id))
    }
}

impl Encode for EntityName {
    fn encode(&self, e: &mut Encoder) {
        e.u32(self.ty.0);
        e.string(&self.id);
    }
}
impl Decode for EntityName {
    fn decode(r: &mut Reader) -> Result<Self> {
        Ok(EntityName { ty: EntityType(r.u32()?), id: r.string()? })
    }
}

/// `entity_name_t` (`ceph_entity_name`): u8 type + i64 num, e.g. `client.4123`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EntityNameT {
    pub ty: u8,
    pub num: i64,
}

impl EntityNameT {
    pub const NEW: i64 = -1;
    pub fn new(ty: EntityType, num: i64) -> Self {
        EntityNameT { ty: ty.0 as u8, num }
    }
}

impl fmt::Display for EntityNameT {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = EntityType(self.ty as u32).name();
        if self.num < 0 {
            write!(f, "{t}.?")
        } else {
            write!(f, "{t}.{}", self.num)
        }
    }
}

impl Encode for EntityNameT {
    fn encode(&self, e: &mut Encoder) {
        e.u8(self.ty);
        e.i64(self.num);
    }
}
impl Decode for EntityNameT {
    fn decode(r: &mut Reader) -> Result<Self> {
        let ty = r.u8()?;
        if !matches!(ty, 0 | 1 | 2 | 4 | 8 | 0x10 | 0x20) {
            return invalid("entity_name_t", format!("unknown entity type {ty:#x}"));
        }
        Ok(EntityNameT { ty, num: r.i64()? })
    }
}
