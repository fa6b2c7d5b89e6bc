//! Object classes (`cls_*`): methods clients run inside the OSD with
//! CEPH_OSD_OP_CALL. Each works on the op's object through the op context,
//! so its reads and writes are part of the same atomic transaction.

use crate::ops::{Ctx, EEXIST, EINVAL, ENOENT, EOPNOTSUPP};
use bytes::Bytes;

/// Method flags: (reads, writes), for capability checks.
pub fn flags(class: &str, method: &str) -> Option<(bool, bool)> {
    Some(match (class, method) {
        ("hello", "say_hello") | ("hello", "replay") => (true, false),
        ("hello", "record_hello") => (false, true),
        ("hello", "turn_it_to_11") | ("hello", "writes_dont_return_data") => (true, true),
        ("lock", "get_info") | ("lock", "list_locks") | ("lock", "assert_locked") => (true, false),
        ("lock", "lock") | ("lock", "unlock") | ("lock", "break_lock") | ("lock", "set_cookie") => (true, true),
        ("rbd", m) => return crate::cls_rbd::flags(m),
        _ => return None,
    })
}

pub fn call(ctx: &mut Ctx, class: &str, method: &str, input: Bytes) -> Result<Bytes, i32> {
    let Some(f) = flags(class, method) else {
        // Ceph: an unknown class is EOPNOTSUPP, an unknown method of a known one too.
        return Err(EOPNOTSUPP);
    };
    ctx.cls_calls.push(f);
    match class {
        "hello" => hello(ctx, method, input),
        "lock" => crate::cls_lock::call(ctx, method, input),
        "rbd" => crate::cls_rbd::call(ctx, method, input),
        _ => Err(EOPNOTSUPP),
    }
}

/// `src/cls/hello/cls_hello.cc`.
fn hello(ctx: &mut Ctx, method: &str, input: Bytes) -> Result<Bytes, i32> {
    match method {
        "say_hello" => {
            if input.len() > 100 {
                return Err(EINVAL);
            }
            let who = if input.is_empty() { "world".to_string() } else { String::from_utf8_lossy(&input).into_owned() };
            Ok(Bytes::from(format!("Hello, {who}!")))
        }
        "record_hello" => {
            if input.len() > 100 {
                return Err(EINVAL);
            }
            if ctx.exists {
                return Err(EEXIST);
            }
            let who = if input.is_empty() { "world".to_string() } else { String::from_utf8_lossy(&input).into_owned() };
            let r = ctx.write(0, Bytes::from(format!("Hello, {who}!")));
            if r < 0 {
                return Err(r);
            }
            Ok(Bytes::new())
        }
        "replay" => {
            if !ctx.exists {
                return Err(ENOENT);
            }
            ctx.read(0, ctx.size)
        }
        "turn_it_to_11" => {
            if !ctx.exists {
                return Err(ENOENT);
            }
            let d = ctx.read(0, ctx.size)?;
            let up = Bytes::from(d.to_ascii_uppercase());
            if ctx.size > 0 {
                let r = ctx.truncate(0);
                if r < 0 {
                    return Err(r);
                }
            }
            let r = ctx.write(0, up);
            if r < 0 {
                return Err(r);
            }
            Ok(Bytes::new())
        }
        "writes_dont_return_data" => {
            // Ceph refuses output data from a write method.
            Err(EINVAL)
        }
        _ => Err(EOPNOTSUPP),
    }
}

/// Whether a CALL op runs a method that writes (the OSD, as Ceph's
/// `OpRequest::set_from_op`, takes this from the method, not the client's flags).
pub fn call_writes(o: &messages::osd::OsdOp) -> bool {
    let (cl, ml) = (o.args[0] as usize, o.args[1] as usize);
    if o.op != messages::osd::opcode::CALL || o.data.len() < cl + ml {
        return false;
    }
    let class = String::from_utf8_lossy(&o.data[..cl]);
    let method = String::from_utf8_lossy(&o.data[cl..cl + ml]);
    flags(&class, &method).map(|(_, w)| w).unwrap_or(false)
}
