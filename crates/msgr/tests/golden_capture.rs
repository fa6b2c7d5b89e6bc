//! Every frame and message the real Ceph 16.2.15 CLI, mon and mgr exchanged in
//! tests/golden/capture (crc mode; made by tests/golden/regen.sh capture):
//! our frame reader yields the captured segments, our frame writer reproduces
//! the wire bytes, and our types decode and re-encode each payload byte for byte.

use bytes::Bytes;
use denc::{Decode, Encode, Encoder, Reader};
use maps::{MgrMap, MonMap};
use messages::mon::*;
use messages::{Message, MsgHeader, RawMessage};
use msgr::frame::{RxCodec, Tag, TxCodec};
use std::path::{Path, PathBuf};
use types::features::PACIFIC_SUPPORTED;
use types::{EntityAddr, EntityAddrVec, EntityName};

fn root() -> PathBuf {
    Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap_or(env!("CARGO_MANIFEST_DIR").into())).join("../../tests/golden/capture")
}

fn captures() -> Vec<PathBuf> {
    let v: Vec<PathBuf> = ["status", "mon-dump", "pg-stat"].iter().map(|c| root().join(c)).collect();
    assert!(v.iter().all(|p| p.exists()), "golden captures missing");
    v
}

fn read(p: &Path) -> Bytes {
    Bytes::from(std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
}

fn wire_frames(tag: Tag, wire: &Bytes, segments: &[Bytes]) {
    let mut rx = RxCodec::Crc;
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let f = rt.block_on(rx.read(&mut &wire[..], None)).unwrap();
    assert_eq!(f.tag, tag);
    for (i, s) in segments.iter().enumerate() {
        assert_eq!(&f.segments[i], s, "segment {i}");
    }
    let ours: Vec<u8> = TxCodec::Crc.encode(tag, segments).concat();
    assert_eq!(&ours[..], &wire[..], "re-encoded frame differs");
}

fn enc(f: impl FnOnce(&mut Encoder)) -> Bytes {
    let mut e = Encoder::new(PACIFIC_SUPPORTED);
    f(&mut e);
    e.into_bytes()
}

/// Decodes a typed message and checks our encoding of it equals the capture.
fn roundtrip<M: Message>(m: &RawMessage) -> M {
    let t = M::from_raw(m).unwrap();
    let (front, data) = t.encode_payload(PACIFIC_SUPPORTED);
    assert_eq!(front, m.front, "front of type {}", m.header.ty);
    assert_eq!(data, m.data, "data of type {}", m.header.ty);
    let wire_compat = if M::COMPAT == 0 { M::VERSION } else { M::COMPAT };
    assert_eq!((m.header.version, m.header.compat_version), (M::VERSION, wire_compat));
    t
}

#[test]
fn messages_match_the_capture() {
    let mut seen = std::collections::BTreeSet::new();
    for cap in captures() {
        for e in std::fs::read_dir(&cap).unwrap() {
            let dir = e.unwrap().path();
            if !dir.is_dir() || dir.file_name().unwrap() == "frames" {
                continue;
            }
            let header = MsgHeader::decode(read(&dir.join("header.bin"))).unwrap();
            assert_eq!(header.encode(), read(&dir.join("header.bin")));
            let m = RawMessage { header, front: read(&dir.join("front.bin")), middle: read(&dir.join("middle.bin")), data: read(&dir.join("data.bin")) };
            wire_frames(Tag::Message, &read(&dir.join("wire.bin")), &[m.header.encode(), m.front.clone(), m.middle.clone(), m.data.clone()]);
            seen.insert(header.ty);
            match header.ty {
                4 => {
                    let mm: MonMapMsg = roundtrip(&m);
                    let map = MonMap::from_bytes(mm.monmap.clone()).unwrap();
                    assert_eq!(map.encode_bytes(), mm.monmap);
                }
                5 => {
                    roundtrip::<MonGetMap>(&m);
                }
                15 => {
                    let s: MonSubscribe = roundtrip(&m);
                    assert!(s.what.contains_key("monmap") || s.what.contains_key("mgrmap") || s.what.contains_key("osdmap"));
                }
                41 => {
                    let o: OsdMapMsg = roundtrip(&m);
                    assert!(o.newest_map >= 1 && !o.maps.is_empty());
                }
                50 => {
                    let c: MonCommand = roundtrip(&m);
                    assert!(c.cmd[0].starts_with("{\"prefix\": "));
                }
                51 => {
                    let a: MonCommandAck = roundtrip(&m);
                    assert_eq!(a.r, 0);
                }
                62 => {
                    roundtrip::<ConfigMsg>(&m);
                }
                0x704 => {
                    let mm: MgrMapMsg = roundtrip(&m);
                    let map = MgrMap::from_bytes(mm.map.clone()).unwrap();
                    assert!(map.available && map.active_addrs.v2().is_some());
                    assert_ne!(map.active_mgr_features & types::features::SERVER_OCTOPUS, 0);
                    assert_eq!(map.to_bytes(PACIFIC_SUPPORTED), mm.map);
                }
                0x709 => {
                    let c: MgrCommand = roundtrip(&m);
                    assert!(c.fsid.is_zero());
                }
                0x70a => {
                    let r: MgrCommandReply = roundtrip(&m);
                    assert_eq!(r.r, 0);
                }
                t => panic!("unexpected message type {t} in {}", dir.display()),
            }
        }
    }
    for t in [4u16, 5, 15, 41, 50, 51, 62, 0x704, 0x709, 0x70a] {
        assert!(seen.contains(&t), "no captured message of type {t}");
    }
}

#[test]
fn handshake_frames_match_the_capture() {
    let mut n = 0;
    for cap in captures() {
        for e in std::fs::read_dir(cap.join("frames")).unwrap() {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_str().unwrap().to_string();
            if !name.ends_with(".bin") || name.ends_with(".wire.bin") || name.contains("BANNER") {
                continue;
            }
            let payload = read(&p);
            let wire = read(&p.with_extension("wire.bin"));
            let tag_name = name.rsplit('-').next().unwrap().trim_end_matches(".bin");
            let tag = match tag_name {
                "HELLO" => Tag::Hello,
                "AUTH_REQUEST" => Tag::AuthRequest,
                "AUTH_REPLY_MORE" => Tag::AuthReplyMore,
                "AUTH_REQUEST_MORE" => Tag::AuthRequestMore,
                "AUTH_DONE" => Tag::AuthDone,
                "AUTH_SIGNATURE" => Tag::AuthSignature,
                "CLIENT_IDENT" => Tag::ClientIdent,
                "SERVER_IDENT" => Tag::ServerIdent,
                "KEEPALIVE2" => Tag::Keepalive2,
                "KEEPALIVE2_ACK" => Tag::Keepalive2Ack,
                "ACK" => Tag::Ack,
                other => panic!("unknown frame {other}"),
            };
            wire_frames(tag, &wire, &[payload.clone()]);
            let mut r = Reader::new(payload.clone());
            let again = match tag {
                Tag::Hello => {
                    let ty = r.u8().unwrap();
                    let a = EntityAddr::decode(&mut r).unwrap();
                    enc(|e| {
                        e.u8(ty);
                        a.encode(e)
                    })
                }
                Tag::ClientIdent | Tag::ServerIdent => {
                    let addrs = EntityAddrVec::decode(&mut r).unwrap();
                    let target = if tag == Tag::ClientIdent { Some(EntityAddr::decode(&mut r).unwrap()) } else { None };
                    let rest = r.into_rest();
                    enc(|e| {
                        addrs.encode(e);
                        if let Some(t) = target {
                            t.encode(e)
                        }
                        e.raw(&rest)
                    })
                }
                Tag::AuthRequest => {
                    let method = r.u32().unwrap();
                    let modes: Vec<u32> = Decode::decode(&mut r).unwrap();
                    let inner = r.bufferlist().unwrap();
                    let mut ir = Reader::new(inner.clone());
                    let inner2 = if ir.u8().unwrap() == 10 {
                        let who = EntityName::decode(&mut ir).unwrap();
                        assert_eq!(who.to_string(), "client.admin");
                        let gid = ir.u64().unwrap();
                        enc(|e| {
                            e.u8(10);
                            who.encode(e);
                            e.u64(gid)
                        })
                    } else {
                        inner.clone()
                    };
                    enc(|e| {
                        e.u32(method);
                        modes.encode(e);
                        e.bufferlist(&inner2)
                    })
                }
                _ => payload.clone(),
            };
            assert_eq!(again, payload, "{name}");
            n += 1;
        }
    }
    assert!(n > 30, "only {n} frames checked");
}
