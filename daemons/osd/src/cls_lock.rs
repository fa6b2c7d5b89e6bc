//! `cls_lock` (`src/cls/lock/cls_lock.cc`): advisory locks kept in the
//! object's `lock.<name>` xattr.

use crate::ops::{Ctx, EOPNOTSUPP};
use bytes::Bytes;

pub fn call(_ctx: &mut Ctx, _method: &str, _input: Bytes) -> Result<Bytes, i32> {
    Err(EOPNOTSUPP)
}
