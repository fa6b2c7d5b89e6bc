//! cephx client math against frames captured from a real Ceph 16.2.15 mon and mgr
//! (tests/golden/capture, made by tests/golden/regen.sh capture).

use auth::proto::{calc_challenge_key, Authenticate, ServerChallenge};
use auth::{CephxClient, CryptoKey};
use bytes::Bytes;
use denc::{Decode, Reader};
use std::path::{Path, PathBuf};
use types::{EntityName, EntityType};

fn golden() -> PathBuf {
    Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap_or(env!("CARGO_MANIFEST_DIR").into())).join("../../tests/golden/capture/status/frames")
}

fn frame(conn_port: &str, tag: &str, from_server: bool) -> Bytes {
    let dir = golden();
    for e in std::fs::read_dir(&dir).unwrap() {
        let name = e.unwrap().file_name().into_string().unwrap();
        let dir_ok = if from_server {
            name.contains(&format!("127.0.0.3:3300-127.0.0.1:{conn_port}-"))
        } else {
            name.contains(&format!("127.0.0.1:{conn_port}-127.0.0.3:3300-"))
        };
        if dir_ok && name.ends_with(&format!("-{tag}.bin")) {
            return Bytes::from(std::fs::read(dir.join(name)).unwrap());
        }
    }
    panic!("no {tag} frame for {conn_port}");
}

fn admin_key() -> CryptoKey {
    let kr = config::Keyring::read(&golden().join("../../keyring")).unwrap();
    CryptoKey::from_base64(&kr.get(&"client.admin".parse().unwrap()).unwrap().key).unwrap()
}

#[test]
fn challenge_proof_matches_the_real_client() {
    let more = frame("37912", "AUTH_REPLY_MORE", true);
    let ch = ServerChallenge::decode(&mut Reader::new(Reader::new(more).bufferlist().unwrap())).unwrap();
    let req = frame("37912", "AUTH_REQUEST_MORE", false);
    let mut r = Reader::new(Reader::new(req).bufferlist().unwrap());
    assert_eq!(r.u16().unwrap(), 0x0100);
    let auth = Authenticate::decode(&mut r).unwrap();
    assert_eq!(calc_challenge_key(&admin_key(), ch.server_challenge, auth.client_challenge).unwrap(), auth.key);
    // librados asks for AUTH|MON|OSD|MGR
    assert_eq!(auth.other_keys, 0x35);
}

#[test]
fn auth_done_yields_the_tickets_the_real_client_got() {
    let done = frame("37912", "AUTH_DONE", true);
    let mut r = Reader::new(done);
    let global_id = r.u64().unwrap();
    let _mode = r.u32().unwrap();
    let payload = r.bufferlist().unwrap();
    let mut c = CephxClient::new(EntityName::client("admin"), admin_key(), 0x15);
    let (session, secret) = c.handle_auth_done(global_id, &payload).unwrap();
    // values from tests/golden/capture/status/cephx.txt (computed independently)
    assert_eq!(hex::encode(&session.secret), "f845c821c0efbbe1f48924983786b289");
    assert!(secret.is_empty());
    assert_eq!(hex::encode(&c.ticket(EntityType::MGR).unwrap().session_key.secret), "3312edba2a9cd7aa48d197c227beed78");
    assert_eq!(hex::encode(&c.ticket(EntityType::OSD).unwrap().session_key.secret), "7ce0d52fc27db8d0140555caaf6deba4");
    assert_eq!(c.needed(), 0);
}
