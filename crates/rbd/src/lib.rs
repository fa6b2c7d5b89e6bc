//! RBD block images on RADOS, laid out as librbd (Pacific) lays out format 2
//! images, so that images are shared with the real `rbd`, librbd in qemu and
//! python3-rbd: `rbd_directory`, `rbd_id.NAME`, `rbd_header.ID` (the `rbd`
//! object class keeps the metadata), data in `rbd_data.ID.%016x` objects,
//! and the object map in `rbd_object_map.ID`.

pub mod admin;
pub mod cls;
pub mod features;
pub mod image;
pub mod striper;

pub use admin::{children, clone, create, image_id, list, remove, rename, Child, CreateOptions};
pub use image::{Image, NoProgress, ParentInfo, Progress, SnapInfo};
pub use rados::{Error, Result};
