//! Ceph's encoding ("denc"): little-endian primitives, length-prefixed strings and
//! containers, bufferlists, `utime_t`, and the versioned struct header written by
//! `ENCODE_START(v, compat, bl)`.
//!
//! Decoding is total: every read is bounds-checked, and every length read from the
//! input is capped by the bytes that remain, so hostile input yields an [`Error`]
//! and never a panic or an unbounded allocation.

use bytes::{BufMut, Bytes, BytesMut};
use std::collections::{BTreeMap, BTreeSet};

mod time;
pub use time::Utime;

/// Ceph's `ceph_crc32c(seed, data)`: CRC-32C (Castagnoli) with the seed as the
/// initial register and no final inversion. The `crc32c` crate inverts on the
/// way in and out, so invert around it.
#[inline]
pub fn ceph_crc32c(seed: u32, data: &[u8]) -> u32 {
    !crc32c::crc32c_append(!seed, data)
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("truncated input: needed {need} bytes, {have} left (while decoding {what})")]
    Truncated { need: usize, have: usize, what: &'static str },
    #[error("{what}: struct compat version {compat} is newer than the {understood} we understand")]
    Incompatible { what: &'static str, compat: u8, understood: u8 },
    #[error("{what}: struct version {version} is older than the oldest we decode ({oldest})")]
    TooOld { what: &'static str, version: u8, oldest: u8 },
    #[error("invalid {what}: {detail}")]
    Invalid { what: &'static str, detail: String },
}

pub type Result<T> = std::result::Result<T, Error>;

pub fn invalid<T>(what: &'static str, detail: impl Into<String>) -> Result<T> {
    Err(Error::Invalid { what, detail: detail.into() })
}

/// A read cursor over a `Bytes`. Sub-slices (`bytes`, `bufferlist`) share the
/// underlying buffer instead of copying it.
#[derive(Debug, Clone, Default)]
pub struct Reader {
    buf: Bytes,
}

macro_rules! read_le {
    ($name:ident, $t:ty) => {
        #[inline]
        pub fn $name(&mut self) -> Result<$t> {
            const N: usize = std::mem::size_of::<$t>();
            let b = self.take(N, stringify!($t))?;
            Ok(<$t>::from_le_bytes(b[..N].try_into().expect("length checked")))
        }
    };
}

impl Reader {
    pub fn new(buf: impl Into<Bytes>) -> Self {
        Reader { buf: buf.into() }
    }
    pub fn remaining(&self) -> usize {
        self.buf.len()
    }
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
    /// What is left, without consuming it.
    pub fn peek_rest(&self) -> &Bytes {
        &self.buf
    }
    pub fn into_rest(self) -> Bytes {
        self.buf
    }

    fn take(&mut self, n: usize, what: &'static str) -> Result<Bytes> {
        if n > self.buf.len() {
            return Err(Error::Truncated { need: n, have: self.buf.len(), what });
        }
        Ok(self.buf.split_to(n))
    }

    /// `n` raw bytes, zero-copy.
    pub fn bytes(&mut self, n: usize) -> Result<Bytes> {
        self.take(n, "raw bytes")
    }
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let b = self.take(N, "fixed array")?;
        Ok(b[..].try_into().expect("length checked"))
    }
    pub fn skip(&mut self, n: usize) -> Result<()> {
        self.take(n, "skipped bytes").map(|_| ())
    }

    read_le!(u8, u8);
    read_le!(u16, u16);
    read_le!(u32, u32);
    read_le!(u64, u64);
    read_le!(i8, i8);
    read_le!(i16, i16);
    read_le!(i32, i32);
    read_le!(i64, i64);

    pub fn bool(&mut self) -> Result<bool> {
        Ok(self.u8()? != 0)
    }

    /// A u32 length-prefixed buffer (`bufferlist`), zero-copy.
    pub fn bufferlist(&mut self) -> Result<Bytes> {
        let n = self.u32()? as usize;
        self.take(n, "bufferlist")
    }

    /// A u32 length-prefixed string. Ceph strings are byte strings; invalid UTF-8 is
    /// replaced rather than refused so that odd names still decode.
    pub fn string(&mut self) -> Result<String> {
        let b = self.bufferlist()?;
        Ok(match std::str::from_utf8(&b) {
            Ok(s) => s.to_owned(),
            Err(_) => String::from_utf8_lossy(&b).into_owned(),
        })
    }

    /// A u32 element count, checked against the bytes left (`min_elem` bytes per
    /// element at least) so that a hostile count cannot drive a huge allocation.
    pub fn count(&mut self, min_elem: usize) -> Result<usize> {
        let n = self.u32()? as usize;
        let need = n.saturating_mul(min_elem.max(1));
        if need > self.buf.len() {
            return Err(Error::Truncated { need, have: self.buf.len(), what: "container count" });
        }
        Ok(n)
    }

    /// `DECODE_START(understood, p)`: reads struct_v, struct_compat and struct_len,
    /// refuses a compat newer than `understood`, and returns the version and a reader
    /// bounded to the struct body; the caller's reader skips the whole body, so
    /// unknown trailing fields of newer versions are ignored.
    pub fn versioned(&mut self, understood: u8, what: &'static str) -> Result<(u8, Reader)> {
        let v = self.u8()?;
        let compat = self.u8()?;
        if compat > understood {
            return Err(Error::Incompatible { what, compat, understood });
        }
        let len = self.u32()? as usize;
        let body = self.take(len, what)?;
        Ok((v, Reader { buf: body }))
    }

    /// `DECODE_START_LEGACY_COMPAT_LEN(v, compatv, lenv, p)`: before `compatv` there
    /// is no compat byte, before `lenv` no length. Without a length the body runs to
    /// the end of this reader.
    pub fn versioned_legacy(
        &mut self,
        understood: u8,
        compatv: u8,
        lenv: u8,
        what: &'static str,
    ) -> Result<(u8, Reader)> {
        let v = self.u8()?;
        if v >= compatv {
            let compat = self.u8()?;
            if compat > understood {
                return Err(Error::Incompatible { what, compat, understood });
            }
        }
        if v >= lenv {
            let len = self.u32()? as usize;
            let body = self.take(len, what)?;
            Ok((v, Reader { buf: body }))
        } else {
            let rest = std::mem::take(&mut self.buf);
            Ok((v, Reader { buf: rest }))
        }
    }

    /// Skips one `ENCODE_START`-framed struct without understanding it.
    pub fn skip_versioned(&mut self, what: &'static str) -> Result<()> {
        self.versioned(u8::MAX, what).map(|_| ())
    }

    pub fn decode<T: Decode>(&mut self) -> Result<T> {
        T::decode(self)
    }

    /// Fails if anything is left: for top-level buffers that must be consumed whole.
    pub fn finish(&self, what: &'static str) -> Result<()> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            invalid(what, format!("{} unexpected trailing bytes", self.buf.len()))
        }
    }
}

/// A write buffer that carries the peer's feature bits, because several Ceph
/// encodings (entity_addr_t, maps) depend on them.
#[derive(Debug, Default)]
pub struct Encoder {
    pub buf: BytesMut,
    pub features: u64,
}

/// Marks the start of a versioned struct; pass to [`Encoder::finish`].
#[must_use]
pub struct StructStart(usize);

impl Encoder {
    pub fn new(features: u64) -> Self {
        Encoder { buf: BytesMut::new(), features }
    }
    pub fn with_capacity(features: u64, cap: usize) -> Self {
        Encoder { buf: BytesMut::with_capacity(cap), features }
    }
    pub fn len(&self) -> usize {
        self.buf.len()
    }
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
    pub fn into_bytes(self) -> Bytes {
        self.buf.freeze()
    }
    pub fn u8(&mut self, v: u8) {
        self.buf.put_u8(v)
    }
    pub fn u16(&mut self, v: u16) {
        self.buf.put_u16_le(v)
    }
    pub fn u32(&mut self, v: u32) {
        self.buf.put_u32_le(v)
    }
    pub fn u64(&mut self, v: u64) {
        self.buf.put_u64_le(v)
    }
    pub fn i16(&mut self, v: i16) {
        self.buf.put_i16_le(v)
    }
    pub fn i32(&mut self, v: i32) {
        self.buf.put_i32_le(v)
    }
    pub fn i64(&mut self, v: i64) {
        self.buf.put_i64_le(v)
    }
    pub fn bool(&mut self, v: bool) {
        self.u8(v as u8)
    }
    pub fn raw(&mut self, b: &[u8]) {
        self.buf.put_slice(b)
    }
    pub fn bufferlist(&mut self, b: &[u8]) {
        self.u32(b.len() as u32);
        self.raw(b);
    }
    pub fn string(&mut self, s: &str) {
        self.bufferlist(s.as_bytes())
    }
    pub fn put<T: Encode + ?Sized>(&mut self, v: &T) {
        v.encode(self)
    }

    /// `ENCODE_START(v, compat, bl)`; the length is patched by [`Encoder::finish`].
    pub fn start(&mut self, v: u8, compat: u8) -> StructStart {
        self.u8(v);
        self.u8(compat);
        let at = self.buf.len();
        self.u32(0);
        StructStart(at)
    }
    /// `ENCODE_FINISH(bl)`.
    pub fn finish(&mut self, s: StructStart) {
        let len = (self.buf.len() - s.0 - 4) as u32;
        self.buf[s.0..s.0 + 4].copy_from_slice(&len.to_le_bytes());
    }

    /// Encodes `f`'s output as a length-prefixed bufferlist in place.
    pub fn nested(&mut self, f: impl FnOnce(&mut Encoder)) {
        let at = self.buf.len();
        self.u32(0);
        f(self);
        let len = (self.buf.len() - at - 4) as u32;
        self.buf[at..at + 4].copy_from_slice(&len.to_le_bytes());
    }
}

pub trait Encode {
    fn encode(&self, e: &mut Encoder);

    fn to_bytes(&self, features: u64) -> Bytes {
        let mut e = Encoder::new(features);
        self.encode(&mut e);
        e.into_bytes()
    }
}

pub trait Decode: Sized {
    fn decode(r: &mut Reader) -> Result<Self>;

    /// Decodes a whole buffer; trailing bytes are an error.
    fn from_bytes(b: impl Into<Bytes>) -> Result<Self> {
        let mut r = Reader::new(b);
        let v = Self::decode(&mut r)?;
        r.finish(std::any::type_name::<Self>())?;
        Ok(v)
    }
}

macro_rules! prim {
    ($t:ty, $r:ident, $w:ident) => {
        impl Encode for $t {
            fn encode(&self, e: &mut Encoder) {
                e.$w(*self)
            }
        }
        impl Decode for $t {
            fn decode(r: &mut Reader) -> Result<Self> {
                r.$r()
            }
        }
    };
}
prim!(u8, u8, u8);
prim!(u16, u16, u16);
prim!(u32, u32, u32);
prim!(u64, u64, u64);
prim!(i16, i16, i16);
prim!(i32, i32, i32);
prim!(i64, i64, i64);
prim!(bool, bool, bool);

impl Encode for i8 {
    fn encode(&self, e: &mut Encoder) {
        e.u8(*self as u8)
    }
}
impl Decode for i8 {
    fn decode(r: &mut Reader) -> Result<Self> {
        r.i8()
    }
}

impl Encode for str {
    fn encode(&self, e: &mut Encoder) {
        e.string(self)
    }
}
impl Encode for String {
    fn encode(&self, e: &mut Encoder) {
        e.string(self)
    }
}
impl Decode for String {
    fn decode(r: &mut Reader) -> Result<Self> {
        r.string()
    }
}

/// `bufferlist`: u32 length + bytes.
impl Encode for Bytes {
    fn encode(&self, e: &mut Encoder) {
        e.bufferlist(self)
    }
}
impl Decode for Bytes {
    fn decode(r: &mut Reader) -> Result<Self> {
        r.bufferlist()
    }
}

impl<const N: usize> Encode for [u8; N] {
    fn encode(&self, e: &mut Encoder) {
        e.raw(self)
    }
}
impl<const N: usize> Decode for [u8; N] {
    fn decode(r: &mut Reader) -> Result<Self> {
        r.array()
    }
}

impl<T: Encode> Encode for Vec<T> {
    fn encode(&self, e: &mut Encoder) {
        e.u32(self.len() as u32);
        for x in self {
            x.encode(e);
        }
    }
}
impl<T: Decode> Decode for Vec<T> {
    fn decode(r: &mut Reader) -> Result<Self> {
        let n = r.count(1)?;
        let mut v = Vec::with_capacity(n);
        for _ in 0..n {
            v.push(T::decode(r)?);
        }
        Ok(v)
    }
}

impl<T: Encode + Ord> Encode for BTreeSet<T> {
    fn encode(&self, e: &mut Encoder) {
        e.u32(self.len() as u32);
        for x in self {
            x.encode(e);
        }
    }
}
impl<T: Decode + Ord> Decode for BTreeSet<T> {
    fn decode(r: &mut Reader) -> Result<Self> {
        let n = r.count(1)?;
        let mut s = BTreeSet::new();
        for _ in 0..n {
            s.insert(T::decode(r)?);
        }
        Ok(s)
    }
}

impl<K: Encode + Ord, V: Encode> Encode for BTreeMap<K, V> {
    fn encode(&self, e: &mut Encoder) {
        e.u32(self.len() as u32);
        for (k, v) in self {
            k.encode(e);
            v.encode(e);
        }
    }
}
impl<K: Decode + Ord, V: Decode> Decode for BTreeMap<K, V> {
    fn decode(r: &mut Reader) -> Result<Self> {
        let n = r.count(1)?;
        let mut m = BTreeMap::new();
        for _ in 0..n {
            let k = K::decode(r)?;
            let v = V::decode(r)?;
            m.insert(k, v);
        }
        Ok(m)
    }
}

/// `std::optional<T>`: u8 present flag, then the value.
impl<T: Encode> Encode for Option<T> {
    fn encode(&self, e: &mut Encoder) {
        match self {
            Some(v) => {
                e.u8(1);
                v.encode(e);
            }
            None => e.u8(0),
        }
    }
}
impl<T: Decode> Decode for Option<T> {
    fn decode(r: &mut Reader) -> Result<Self> {
        Ok(if r.bool()? { Some(T::decode(r)?) } else { None })
    }
}

impl<A: Encode, B: Encode> Encode for (A, B) {
    fn encode(&self, e: &mut Encoder) {
        self.0.encode(e);
        self.1.encode(e);
    }
}
impl<A: Decode, B: Decode> Decode for (A, B) {
    fn decode(r: &mut Reader) -> Result<Self> {
        Ok((A::decode(r)?, B::decode(r)?))
    }
}

#[cfg(test)]
mod tests;
