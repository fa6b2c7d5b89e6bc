//! Cluster maps with Ceph's encodings: [`MonMap`], [`MgrMap`].

pub mod mgrmap;
pub mod monmap;

pub use mgrmap::MgrMap;
pub use monmap::{MonInfo, MonMap};
