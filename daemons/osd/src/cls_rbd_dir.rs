//! `cls_rbd` methods on the pool-wide objects: `rbd_directory` (image names
//! and ids), `rbd_trash` (images being removed or deferred) and
//! `rbd_mirroring` (mirroring is not supported: nothing is ever mirrored).

use crate::cls_rbd::{bad, get_key, get_string, scan, set_keys, string_bytes};
use crate::ops::{Ctx, EBADF, EEXIST, EINVAL, EIO, ENOENT, EOPNOTSUPP, ESTALE};
use bytes::Bytes;
use denc::{Encoder, Reader};

fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.bytes().all(|c| c.is_ascii_alphanumeric())
}

fn rm_keys(ctx: &mut Ctx, keys: &[String]) {
    ctx.omap_rm(keys.iter().map(|k| Bytes::copy_from_slice(k.as_bytes())).collect());
}

/// `cls::rbd::TrashImageSpec` (v2): source, name, deletion and deferment
/// times, and the state, which is the only field methods change.
struct TrashSpec {
    body: Bytes,
    state: u8,
}

impl TrashSpec {
    fn decode(b: Bytes) -> Result<TrashSpec, i32> {
        let mut r = Reader::new(b);
        let (v, mut s) = r.versioned(2, "TrashImageSpec").map_err(|_| EIO)?;
        let start = s.peek_rest().clone();
        s.u8().map_err(|_| EIO)?;
        s.string().map_err(|_| EIO)?;
        s.skip(16).map_err(|_| EIO)?;
        let fixed = start.len() - s.remaining();
        let state = if v >= 2 { s.u8().map_err(|_| EIO)? } else { 0 };
        Ok(TrashSpec { body: start.slice(..fixed), state })
    }
    fn encode(&self) -> Bytes {
        let mut e = Encoder::new(0);
        let st = e.start(2, 1);
        e.raw(&self.body);
        e.u8(self.state);
        e.finish(st);
        e.into_bytes()
    }
}

pub fn call(ctx: &mut Ctx, method: &str, input: Bytes) -> Result<Bytes, i32> {
    let mut r = Reader::new(input);
    match method {
        // ------------------------------------------------------ rbd_directory
        "dir_add_image" => {
            let name = r.string().map_err(bad)?;
            let id = r.string().map_err(bad)?;
            if name.is_empty() || !valid_id(&id) {
                return Err(EINVAL);
            }
            match get_key(ctx, &format!("name_{name}")) {
                Err(e) if e == ENOENT => {}
                _ => return Err(EEXIST),
            }
            if get_key(ctx, &format!("id_{id}")).is_ok() {
                return Err(EBADF);
            }
            set_keys(ctx, vec![(format!("name_{name}"), string_bytes(&id)), (format!("id_{id}"), string_bytes(&name))]);
            Ok(Bytes::new())
        }
        "dir_remove_image" => {
            let name = r.string().map_err(bad)?;
            let id = r.string().map_err(bad)?;
            let stored_id = get_string(ctx, &format!("name_{name}"))?;
            let stored_name = get_string(ctx, &format!("id_{id}"))?;
            if stored_id != id || stored_name != name {
                return Err(ESTALE);
            }
            rm_keys(ctx, &[format!("name_{name}"), format!("id_{id}")]);
            Ok(Bytes::new())
        }
        "dir_rename_image" => {
            let src = r.string().map_err(bad)?;
            let dest = r.string().map_err(bad)?;
            let id = r.string().map_err(bad)?;
            if dest.is_empty() || !valid_id(&id) {
                return Err(EINVAL);
            }
            let stored_id = get_string(ctx, &format!("name_{src}"))?;
            if stored_id != id {
                return Err(ESTALE);
            }
            match get_key(ctx, &format!("name_{dest}")) {
                Err(e) if e == ENOENT => {}
                Err(e) => return Err(e),
                Ok(_) => return Err(EEXIST),
            }
            rm_keys(ctx, &[format!("name_{src}")]);
            set_keys(ctx, vec![(format!("name_{dest}"), string_bytes(&id)), (format!("id_{id}"), string_bytes(&dest))]);
            Ok(Bytes::new())
        }
        "dir_get_id" => {
            let name = r.string().map_err(bad)?;
            Ok(string_bytes(&get_string(ctx, &format!("name_{name}"))?))
        }
        "dir_get_name" => {
            let id = r.string().map_err(bad)?;
            Ok(string_bytes(&get_string(ctx, &format!("id_{id}"))?))
        }
        "dir_list" => {
            let start = r.string().map_err(bad)?;
            let max = r.u64().map_err(bad)?;
            let v = if max == 0 { Vec::new() } else { scan(ctx, "name_", &format!("name_{start}"), max)? };
            let mut e = Encoder::new(0);
            e.u32(v.len() as u32);
            for (k, id) in &v {
                e.string(&k["name_".len()..]);
                e.string(&Reader::new(id.clone()).string().map_err(|_| EIO)?);
            }
            Ok(e.into_bytes())
        }
        // ---------------------------------------------------------- rbd_trash
        "trash_add" => {
            let id = r.string().map_err(bad)?;
            let spec_bytes = r.peek_rest().clone();
            let spec = TrashSpec::decode(spec_bytes).map_err(|_| EINVAL)?;
            if !valid_id(&id) {
                return Err(EINVAL);
            }
            match get_key(ctx, &format!("id_{id}")) {
                Ok(_) => return Err(EEXIST),
                Err(e) if e == ENOENT => {}
                Err(e) => return Err(e),
            }
            set_keys(ctx, vec![(format!("id_{id}"), spec.encode())]);
            Ok(Bytes::new())
        }
        "trash_remove" => {
            let id = r.string().map_err(bad)?;
            get_key(ctx, &format!("id_{id}"))?;
            rm_keys(ctx, &[format!("id_{id}")]);
            Ok(Bytes::new())
        }
        "trash_list" => {
            let start = r.string().map_err(bad)?;
            let max = r.u64().map_err(bad)?;
            let v = if max == 0 { Vec::new() } else { scan(ctx, "id_", &format!("id_{start}"), max)? };
            let mut e = Encoder::new(0);
            e.u32(v.len() as u32);
            for (k, spec) in &v {
                e.string(&k["id_".len()..]);
                e.raw(spec);
            }
            Ok(e.into_bytes())
        }
        "trash_get" => {
            let id = r.string().map_err(bad)?;
            get_key(ctx, &format!("id_{id}"))
        }
        "trash_state_set" => {
            let id = r.string().map_err(bad)?;
            let state = r.u8().map_err(bad)?;
            let expect = r.u8().map_err(bad)?;
            let mut spec = TrashSpec::decode(get_key(ctx, &format!("id_{id}"))?)?;
            if spec.state == expect {
                spec.state = state;
                set_keys(ctx, vec![(format!("id_{id}"), spec.encode())]);
                Ok(Bytes::new())
            } else if spec.state == state {
                Ok(Bytes::new())
            } else {
                Err(ESTALE)
            }
        }
        // ------------------------------------------------------ rbd_mirroring
        "mirror_image_get" | "mirror_image_remove" | "mirror_mode_get" => Err(ENOENT),
        _ => Err(EOPNOTSUPP),
    }
}
