//! Basic Ceph types shared by every layer: entity names, entity addresses,
//! uuids and feature bits.

pub mod addr;
pub mod bit_vector;
pub mod entity;
pub mod features;
pub mod osd;
pub mod units;
pub mod uuid;

pub use addr::{AddrType, EntityAddr, EntityAddrVec};
pub use entity::{EntityName, EntityNameT, EntityType};
pub use uuid::Uuid;
