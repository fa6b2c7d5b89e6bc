use super::*;
use proptest::prelude::*;

#[test]
fn primitives_are_little_endian() {
    let mut e = Encoder::new(0);
    e.u16(0x0102);
    e.u32(0x03040506);
    e.u64(0x0708090a0b0c0d0e);
    assert_eq!(
        &e.buf[..],
        &[2, 1, 6, 5, 4, 3, 0x0e, 0x0d, 0x0c, 0x0b, 0x0a, 9, 8, 7]
    );
}

#[test]
fn containers_round_trip() {
    let mut m = BTreeMap::new();
    m.insert("b".to_string(), vec![1u32, 2]);
    m.insert("a".to_string(), vec![]);
    let b = m.to_bytes(0);
    // count, then key-sorted pairs
    assert_eq!(&b[..4], &[2, 0, 0, 0]);
    assert_eq!(&b[4..9], &[1, 0, 0, 0, b'a']);
    let back: BTreeMap<String, Vec<u32>> = Decode::from_bytes(b).unwrap();
    assert_eq!(back, m);
    let o: Option<u64> = Some(7);
    assert_eq!(&o.to_bytes(0)[..], &[1, 7, 0, 0, 0, 0, 0, 0, 0]);
}

#[test]
fn versioned_struct_skips_unknown_tail() {
    let mut e = Encoder::new(0);
    let s = e.start(5, 2);
    e.u32(42);
    e.u64(99); // a field a newer minor version added
    e.finish(s);
    e.u8(0xee); // next field after the struct
    let mut r = Reader::new(e.into_bytes());
    let (v, mut body) = r.versioned(3, "test").unwrap();
    assert_eq!(v, 5);
    assert_eq!(body.u32().unwrap(), 42);
    assert_eq!(r.u8().unwrap(), 0xee);
}

#[test]
fn versioned_struct_refuses_incompatible() {
    let mut e = Encoder::new(0);
    let s = e.start(9, 7);
    e.finish(s);
    let err = Reader::new(e.into_bytes()).versioned(6, "MonMap").unwrap_err();
    assert!(matches!(err, Error::Incompatible { compat: 7, understood: 6, .. }));
}

#[test]
fn hostile_count_is_refused_without_allocating() {
    let b = Bytes::from_static(&[0xff, 0xff, 0xff, 0xff, 1, 2]);
    assert!(Vec::<u64>::from_bytes(b.clone()).is_err());
    assert!(String::from_bytes(b).is_err());
}

#[test]
fn utime_formats_like_ceph() {
    let t = Utime { sec: 1_700_000_000, nsec: 123_456_789 };
    assert_eq!(t.to_iso8601(), "2023-11-14T22:13:20.123456+0000");
}

proptest! {
    #[test]
    fn decoders_never_panic(data in proptest::collection::vec(any::<u8>(), 0..256)) {
        let b = Bytes::from(data);
        let _ = Vec::<String>::from_bytes(b.clone());
        let _ = BTreeMap::<u32, Bytes>::from_bytes(b.clone());
        let _ = Option::<(u64, String)>::from_bytes(b.clone());
        let _ = Reader::new(b.clone()).versioned(3, "x");
        let _ = Reader::new(b).versioned_legacy(3, 2, 3, "x");
    }

    #[test]
    fn round_trip(v in proptest::collection::vec((any::<u64>(), ".{0,8}"), 0..16)) {
        let b = v.to_bytes(0);
        let back: Vec<(u64, String)> = Decode::from_bytes(b).unwrap();
        prop_assert_eq!(back, v);
    }
}
