//! Cluster maps with Ceph's encodings: [`MonMap`], [`MgrMap`].

pub mod dump;
pub mod mgrmap;
pub mod incremental;
pub mod monmap;
pub mod osdmap;
pub mod pool;

pub use mgrmap::MgrMap;
pub use monmap::{MonInfo, MonMap};
pub use incremental::Incremental;
pub use osdmap::OsdMap;
pub use pool::PgPool;
