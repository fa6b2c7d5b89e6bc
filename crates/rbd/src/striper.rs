//! Image offsets to object extents (`osdc/Striper.cc` `file_to_extents`):
//! stripe units are dealt round-robin over `stripe_count` objects, and a set
//! of objects fills up before the next set starts.

/// How an image is laid out over its objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    pub object_size: u64,
    pub stripe_unit: u64,
    pub stripe_count: u64,
}

/// One contiguous piece of an I/O: `len` bytes at `obj_off` in object
/// `objno`, which are bytes [`buf_off`, `buf_off + len`) of the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extent {
    pub objno: u64,
    pub obj_off: u64,
    pub len: u64,
    pub buf_off: u64,
}

impl Layout {
    pub fn simple(order: u8) -> Layout {
        Layout { object_size: 1 << order, stripe_unit: 1 << order, stripe_count: 1 }
    }

    /// The pieces of [off, off+len), in request order; pieces that are
    /// adjacent in one object are merged.
    pub fn extents(&self, off: u64, len: u64) -> Vec<Extent> {
        let su = self.stripe_unit;
        let sc = self.stripe_count.max(1);
        let per_object = (self.object_size / su).max(1);
        let mut out: Vec<Extent> = Vec::new();
        let (mut cur, end) = (off, off + len);
        while cur < end {
            let blockno = cur / su;
            let stripeno = blockno / sc;
            let stripepos = blockno % sc;
            let objectsetno = stripeno / per_object;
            let objno = objectsetno * sc + stripepos;
            let block_start = (stripeno % per_object) * su;
            let block_off = cur % su;
            let n = (su - block_off).min(end - cur);
            let obj_off = block_start + block_off;
            match out.last_mut() {
                Some(l) if l.objno == objno && l.obj_off + l.len == obj_off && l.buf_off + l.len == cur - off => l.len += n,
                _ => out.push(Extent { objno, obj_off, len: n, buf_off: cur - off }),
            }
            cur += n;
        }
        out
    }

    /// Objects an image of `size` bytes spans.
    pub fn object_count(&self, size: u64) -> u64 {
        let period = self.object_size * self.stripe_count.max(1);
        let sets = size / period;
        let rest = size % period;
        let last = if rest == 0 { 0 } else { (rest.div_ceil(self.stripe_unit)).min(self.stripe_count.max(1)) };
        sets * self.stripe_count.max(1) + last
    }

    /// The image offsets object `objno`'s bytes [obj_off, obj_off+len) hold,
    /// as (image offset, length) pieces (`extent_to_file`).
    pub fn object_to_image(&self, objno: u64, obj_off: u64, len: u64) -> Vec<(u64, u64)> {
        let su = self.stripe_unit;
        let sc = self.stripe_count.max(1);
        let per_object = (self.object_size / su).max(1);
        let objectsetno = objno / sc;
        let stripepos = objno % sc;
        let mut out = Vec::new();
        let (mut cur, end) = (obj_off, obj_off + len);
        while cur < end {
            let stripe_in_obj = cur / su;
            let block_off = cur % su;
            let stripeno = objectsetno * per_object + stripe_in_obj;
            let blockno = stripeno * sc + stripepos;
            let n = (su - block_off).min(end - cur);
            out.push((blockno * su + block_off, n));
            cur += n;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn default_layout_is_one_object_per_4mib() {
        let l = Layout::simple(22);
        let e = l.extents((4 << 20) - 10, 20);
        assert_eq!(e, vec![Extent { objno: 0, obj_off: (4 << 20) - 10, len: 10, buf_off: 0 }, Extent { objno: 1, obj_off: 0, len: 10, buf_off: 10 }]);
        assert_eq!(l.object_count(10 << 30), 2560);
        assert_eq!(l.object_count((4 << 20) + 1), 2);
    }

    #[test]
    fn fancy_striping_goes_round_robin() {
        // su 64K, count 4, objects 1M: the first 256K go to objects 0..3
        let l = Layout { object_size: 1 << 20, stripe_unit: 64 << 10, stripe_count: 4 };
        let e = l.extents(0, 256 << 10);
        assert_eq!(e.iter().map(|x| (x.objno, x.obj_off)).collect::<Vec<_>>(), vec![(0, 0), (1, 0), (2, 0), (3, 0)]);
        // the second stripe lands at 64K in the same objects
        assert_eq!(l.extents(256 << 10, 1)[0], Extent { objno: 0, obj_off: 64 << 10, len: 1, buf_off: 0 });
        // after 4 MiB (one object set) the next set starts at object 4
        assert_eq!(l.extents(4 << 20, 1)[0].objno, 4);
    }

    proptest! {
        /// Every image byte maps to one object byte and back.
        #[test]
        fn extents_invert(su_shift in 12u32..16, count in 1u64..5, per in 1u64..4, off in 0u64..(1<<22), len in 1u64..(1<<18)) {
            let su = 1u64 << su_shift;
            let l = Layout { object_size: su * per, stripe_unit: su, stripe_count: count };
            let ex = l.extents(off, len);
            prop_assert_eq!(ex.iter().map(|e| e.len).sum::<u64>(), len);
            for e in ex {
                let back = l.object_to_image(e.objno, e.obj_off, e.len);
                let mut at = off + e.buf_off;
                for (io, n) in back {
                    prop_assert_eq!(io, at);
                    at += n;
                }
            }
        }
    }
}
