//! CRUSH (`src/crush/`): the map (buckets, rules, tunables, device classes,
//! choose_args), its binary encoding as `CrushWrapper` writes it, and the
//! mapper (`crush_do_rule`), bit-exact with Ceph's so that every client and
//! daemon agrees on where data lives.

pub mod hash;
mod ln;
pub mod map;
pub mod mapper;
pub mod edit;
pub mod text;

pub use map::{Bucket, BucketAlg, BucketData, ChooseArg, CrushMap, Rule, RuleStep, Tunables};
pub use mapper::{do_rule, ITEM_NONE};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Decode(#[from] denc::Error),
    #[error("invalid crush map: {0}")]
    Invalid(String),
}
