//! `ceph tell osd.0 ...` as the real CLI and a real OSD exchange it
//! (tests/golden/capture/tell; the command that made it is in COMMANDS.txt):
//! MCommand and MCommandReply decode, and encode back to the same bytes.

use bytes::Bytes;
use messages::mon::{Command, CommandReply};
use messages::{Message, MsgHeader, RawMessage};
use std::path::{Path, PathBuf};

fn dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/golden/capture/tell").join(name)
}

fn raw(name: &str) -> RawMessage {
    let d = dir(name);
    let read = |f: &str| Bytes::from(std::fs::read(d.join(f)).unwrap_or_else(|e| panic!("{}: {e}", d.join(f).display())));
    RawMessage { header: MsgHeader::decode(read("header.bin")).unwrap(), front: read("front.bin"), middle: Bytes::new(), data: read("data.bin") }
}

#[test]
fn a_real_clis_tell_command_decodes_and_encodes_back() {
    let m = raw("00067-type97-MCommand-v1");
    let c = Command::from_raw(&m).unwrap();
    assert_eq!(c.cmd, vec![r#"{"prefix": "injectfull", "type": "bogus"}"#.to_string()]);
    assert_eq!(c.fsid.to_string(), "68916a71-f576-48e5-a52e-6c49c9f31d31");
    assert!(c.inbl.is_empty());
    let back = c.to_raw(m.header.tid, 0);
    assert_eq!(back.front, m.front);
    assert_eq!((back.header.ty, back.header.version, back.header.priority, back.header.tid), (97, 1, 127, 2));
    assert_eq!(back.header.compat_version, m.header.compat_version);
}

#[test]
fn a_real_osds_replies_decode_and_encode_back() {
    let m = raw("00068-type98-MCommandReply-v1");
    let r = CommandReply::from_raw(&m).unwrap();
    // Pacific's injectfull answers a bad type with r = 0 and the error as output.
    assert_eq!((r.r, r.rs.as_str()), (0, ""));
    assert_eq!(&r.outbl[..], b"Invalid type use (none, nearfull, backfillfull, full, failsafe)\n");
    let back = r.to_raw(m.header.tid, 0);
    assert_eq!((back.front, back.data), (m.front.clone(), m.data.clone()));
    assert_eq!(back.header.compat_version, m.header.compat_version);

    // The command table: JSON, one "cmdNNN" per command with "sig" and "help".
    let m = raw("00066-type98-MCommandReply-v1");
    let r = CommandReply::from_raw(&m).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&r.outbl).unwrap();
    let inject = v.as_object().unwrap().values().find(|c| c["sig"][0] == "injectfull").unwrap();
    assert_eq!(inject["sig"][1]["name"], "type");
    assert_eq!(inject["sig"][2]["type"], "CephInt");
}

#[test]
fn truncated_tell_messages_are_errors() {
    for name in ["00065-type97-MCommand-v1", "00066-type98-MCommandReply-v1"] {
        let m = raw(name);
        for cut in 0..m.front.len() {
            let mut t = m.clone();
            t.front = m.front.slice(..cut);
            let ok = if m.header.ty == 97 { Command::from_raw(&t).is_ok() } else { CommandReply::from_raw(&t).is_ok() };
            assert!(!ok, "{name} cut at {cut} decoded");
        }
    }
}
