//! The mon-to-mon transport: one TCP connection per request stream, opened with
//! a mutual challenge on the `mon.` secret every mon shares (as Ceph's mons
//! authenticate each other with it), then frames signed with a session key.
//!
//! ```text
//! client → "oxceph quorum v1\n", [len][{"from","nonce"}]
//! server → [len][{"nonce","proof"}]          proof = HMAC(secret, "s"|nc|ns)
//! client → [len][{"proof"}]                  proof = HMAC(secret, "c"|nc|ns)
//! then    [len][mac][json]  each way, mac = HMAC(HMAC(secret,"k"|nc|ns), dir|seq|json)
//! ```

use crate::{Applied, TypeConfig, Write, B64};
use hmac::{Hmac, Mac};
use openraft::error::RaftError;
use openraft::raft::{AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, VoteRequest, VoteResponse};
use openraft::{BasicNode, SnapshotMeta, Vote};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub const BANNER: &[u8] = b"oxceph quorum v1\n";
const MAX_FRAME: usize = 256 << 20;

#[derive(Serialize, Deserialize)]
pub enum Request {
    Append(AppendEntriesRequest<TypeConfig>),
    Vote(VoteRequest<u64>),
    Snapshot { vote: Vote<u64>, meta: SnapshotMeta<u64, BasicNode>, data: B64 },
    /// A write from a mon that is not the leader.
    Propose(Write),
    /// A client message another mon received, for the leader to handle (Ceph's MForward).
    Forward(B64),
    Ping { from: u64 },
    /// The leader to a mon it removed from the group: stop serving.
    Retire,
}

#[derive(Serialize, Deserialize)]
pub enum Response {
    Append(Result<AppendEntriesResponse<u64>, RaftError<u64>>),
    Vote(Result<VoteResponse<u64>, RaftError<u64>>),
    Snapshot(Result<SnapshotResponse<u64>, String>),
    Proposed(Result<Applied, String>),
    /// The leader's answer, and its state version after handling the message.
    Forwarded(Result<B64, String>, u64),
    Pong { leader: Option<u64>, term: u64 },
    Retired,
}

#[derive(Serialize, Deserialize)]
struct Hello {
    from: u64,
    nonce: u64,
}
#[derive(Serialize, Deserialize)]
struct Challenge {
    nonce: u64,
    proof: String,
}
#[derive(Serialize, Deserialize)]
struct Proof {
    proof: String,
}

fn mac(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("hmac takes any key length");
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().to_vec()
}

fn hexs(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn same(a: &[u8], b: &[u8]) -> bool {
    // Constant time, so a forger learns nothing from timing.
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// An authenticated connection to a peer mon (either end).
pub struct Conn {
    sock: TcpStream,
    key: Vec<u8>,
    tx_seq: u64,
    rx_seq: u64,
    /// 0 on the connecting side, 1 on the accepting side (signs the direction).
    side: u8,
}

async fn write_plain(s: &mut TcpStream, b: &[u8]) -> Result<(), String> {
    s.write_all(&(b.len() as u32).to_le_bytes()).await.map_err(|e| e.to_string())?;
    s.write_all(b).await.map_err(|e| e.to_string())
}

async fn read_plain(s: &mut TcpStream, max: usize) -> Result<Vec<u8>, String> {
    let mut l = [0u8; 4];
    s.read_exact(&mut l).await.map_err(|e| e.to_string())?;
    let n = u32::from_le_bytes(l) as usize;
    if n > max {
        return Err(format!("frame of {n} bytes is too big"));
    }
    let mut b = vec![0u8; n];
    s.read_exact(&mut b).await.map_err(|e| e.to_string())?;
    Ok(b)
}

impl Conn {
    pub async fn connect(addr: SocketAddr, me: u64, secret: &[u8], timeout: Duration) -> Result<Conn, String> {
        let fut = async {
            let mut s = TcpStream::connect(addr).await.map_err(|e| format!("{addr}: {e}"))?;
            s.set_nodelay(true).ok();
            s.write_all(BANNER).await.map_err(|e| e.to_string())?;
            let nc: u64 = rand::random();
            write_plain(&mut s, &serde_json::to_vec(&Hello { from: me, nonce: nc }).map_err(|e| e.to_string())?).await?;
            let ch: Challenge = serde_json::from_slice(&read_plain(&mut s, 4096).await?).map_err(|e| format!("bad challenge: {e}"))?;
            let (ncb, nsb) = (nc.to_le_bytes(), ch.nonce.to_le_bytes());
            if !same(hexs(&mac(secret, &[b"s", &ncb, &nsb])).as_bytes(), ch.proof.as_bytes()) {
                return Err(format!("{addr} does not hold the mon. key"));
            }
            let proof = hexs(&mac(secret, &[b"c", &ncb, &nsb]));
            write_plain(&mut s, &serde_json::to_vec(&Proof { proof }).map_err(|e| e.to_string())?).await?;
            Ok(Conn { sock: s, key: mac(secret, &[b"k", &ncb, &nsb]), tx_seq: 0, rx_seq: 0, side: 0 })
        };
        tokio::time::timeout(timeout, fut).await.map_err(|_| format!("{addr}: connect timed out"))?
    }

    /// The accepting side, after the banner has been read.
    pub async fn accept(mut s: TcpStream, secret: &[u8]) -> Result<(Conn, u64), String> {
        let h: Hello = serde_json::from_slice(&read_plain(&mut s, 4096).await?).map_err(|e| format!("bad hello: {e}"))?;
        let ns: u64 = rand::random();
        let (ncb, nsb) = (h.nonce.to_le_bytes(), ns.to_le_bytes());
        let proof = hexs(&mac(secret, &[b"s", &ncb, &nsb]));
        write_plain(&mut s, &serde_json::to_vec(&Challenge { nonce: ns, proof }).map_err(|e| e.to_string())?).await?;
        let p: Proof = serde_json::from_slice(&read_plain(&mut s, 4096).await?).map_err(|e| format!("bad proof: {e}"))?;
        if !same(hexs(&mac(secret, &[b"c", &ncb, &nsb])).as_bytes(), p.proof.as_bytes()) {
            return Err("peer does not hold the mon. key".into());
        }
        Ok((Conn { sock: s, key: mac(secret, &[b"k", &ncb, &nsb]), tx_seq: 0, rx_seq: 0, side: 1 }, h.from))
    }

    pub async fn send<T: Serialize>(&mut self, m: &T) -> Result<(), String> {
        let body = serde_json::to_vec(m).map_err(|e| e.to_string())?;
        let sig = mac(&self.key, &[&[self.side], &self.tx_seq.to_le_bytes(), &body]);
        self.tx_seq += 1;
        let mut out = Vec::with_capacity(4 + 32 + body.len());
        out.extend_from_slice(&((32 + body.len()) as u32).to_le_bytes());
        out.extend_from_slice(&sig);
        out.extend_from_slice(&body);
        self.sock.write_all(&out).await.map_err(|e| e.to_string())
    }

    pub async fn recv<T: for<'de> Deserialize<'de>>(&mut self) -> Result<T, String> {
        let b = read_plain(&mut self.sock, MAX_FRAME).await?;
        if b.len() < 32 {
            return Err("short frame".into());
        }
        let want = mac(&self.key, &[&[1 - self.side], &self.rx_seq.to_le_bytes(), &b[32..]]);
        if !same(&want, &b[..32]) {
            return Err("frame signature mismatch".into());
        }
        self.rx_seq += 1;
        serde_json::from_slice(&b[32..]).map_err(|e| format!("bad frame: {e}"))
    }

    pub async fn call(&mut self, req: &Request, timeout: Duration) -> Result<Response, String> {
        tokio::time::timeout(timeout, async {
            self.send(req).await?;
            self.recv().await
        })
        .await
        .map_err(|_| "timed out".to_string())?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn peers_need_the_shared_key_and_signed_frames() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let mut results = Vec::new();
            for _ in 0..2 {
                let (mut s, _) = l.accept().await.unwrap();
                let mut b = vec![0u8; BANNER.len()];
                s.read_exact(&mut b).await.unwrap();
                match Conn::accept(s, b"secret").await {
                    Ok((mut c, from)) => {
                        let r: Request = c.recv().await.unwrap();
                        assert!(matches!(r, Request::Ping { from: 7 }));
                        c.send(&Response::Pong { leader: Some(from), term: 3 }).await.unwrap();
                        results.push(true);
                    }
                    Err(_) => results.push(false),
                }
            }
            results
        });
        let mut c = Conn::connect(addr, 7, b"secret", Duration::from_secs(5)).await.unwrap();
        match c.call(&Request::Ping { from: 7 }, Duration::from_secs(5)).await.unwrap() {
            Response::Pong { leader, term } => assert_eq!((leader, term), (Some(7), 3)),
            _ => panic!("wrong reply"),
        }
        let bad = Conn::connect(addr, 8, b"wrong", Duration::from_secs(5)).await;
        assert!(bad.is_err());
        assert_eq!(server.await.unwrap(), vec![true, false]);
    }
}
