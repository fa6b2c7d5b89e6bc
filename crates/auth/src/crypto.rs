//! Keys and the symmetric envelope of cephx (`src/auth/Crypto.cc`, `CephxProtocol.h`).

use crate::{Error, Result};
use aes::cipher::{block_padding::Pkcs7, BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use base64::Engine;
use bytes::Bytes;
use denc::{Decode, Encode, Encoder, Reader, Utime};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// `CEPH_AES_IV`: cephx uses AES-128-CBC with this fixed IV.
const CEPH_AES_IV: &[u8; 16] = b"cephsageyudagreg";
/// `AUTH_ENC_MAGIC`: prefixes every encrypted cephx payload so a wrong key is detected.
pub const AUTH_ENC_MAGIC: u64 = 0xff00_9cad_8826_aa55;
pub const CRYPTO_AES: u16 = 1;

type Aes128CbcEnc = cbc::Encryptor<aes::Aes128>;
type Aes128CbcDec = cbc::Decryptor<aes::Aes128>;

/// `CryptoKey`: u16 type, utime created, u16 length, secret.
#[derive(Clone, PartialEq, Eq)]
pub struct CryptoKey {
    pub ty: u16,
    pub created: Utime,
    pub secret: Bytes,
}

impl std::fmt::Debug for CryptoKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print secrets.
        write!(f, "CryptoKey(type {}, {} bytes)", self.ty, self.secret.len())
    }
}

impl CryptoKey {
    pub fn new_aes(secret: [u8; 16], created: Utime) -> Self {
        CryptoKey { ty: CRYPTO_AES, created, secret: Bytes::copy_from_slice(&secret) }
    }
    pub fn generate() -> Self {
        Self::new_aes(rand::random(), Utime::now())
    }
    /// The keyring form: base64 of the encoded key.
    pub fn from_base64(s: &str) -> Result<Self> {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(s.trim())
            .map_err(|e| Error::BadKey(format!("'{s}' is not valid base64: {e}")))?;
        // Ceph's decode_base64 ignores bytes after the secret; so do we.
        let k = CryptoKey::decode(&mut Reader::new(raw)).map_err(|e| Error::BadKey(e.to_string()))?;
        if k.ty != CRYPTO_AES || k.secret.len() != 16 {
            return Err(Error::BadKey(format!("unsupported key type {} of {} bytes", k.ty, k.secret.len())));
        }
        Ok(k)
    }
    pub fn to_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.to_bytes(0))
    }
    fn aes_key(&self) -> Result<[u8; 16]> {
        self.secret[..].try_into().map_err(|_| Error::BadKey("secret is not 16 bytes".into()))
    }

    pub fn encrypt(&self, plain: &[u8]) -> Result<Vec<u8>> {
        let k = self.aes_key()?;
        Ok(Aes128CbcEnc::new(&k.into(), CEPH_AES_IV.into()).encrypt_padded_vec_mut::<Pkcs7>(plain))
    }
    pub fn decrypt(&self, cipher: &[u8]) -> Result<Vec<u8>> {
        let k = self.aes_key()?;
        if cipher.is_empty() || cipher.len() % 16 != 0 {
            return Err(Error::Decrypt);
        }
        Aes128CbcDec::new(&k.into(), CEPH_AES_IV.into())
            .decrypt_padded_vec_mut::<Pkcs7>(cipher)
            .map_err(|_| Error::Decrypt)
    }

    /// `encode_encrypt_enc_bl`: AES(u8 1, magic, encode(t)) without a length prefix.
    pub fn encrypt_struct<T: Encode + ?Sized>(&self, t: &T) -> Result<Vec<u8>> {
        let mut e = Encoder::new(u64::MAX);
        e.u8(1);
        e.u64(AUTH_ENC_MAGIC);
        t.encode(&mut e);
        self.encrypt(&e.buf)
    }
    /// `encode_encrypt`: the above as a bufferlist (u32 length + ciphertext).
    pub fn encode_encrypt<T: Encode + ?Sized>(&self, e: &mut Encoder, t: &T) -> Result<()> {
        let c = self.encrypt_struct(t)?;
        e.bufferlist(&c);
        Ok(())
    }
    /// `decode_decrypt_enc_bl`: checks the version byte and magic, returns a reader
    /// over the encoded struct.
    pub fn decrypt_struct(&self, cipher: &[u8]) -> Result<Reader> {
        let plain = self.decrypt(cipher)?;
        let mut r = Reader::new(plain);
        let _v = r.u8()?;
        if r.u64()? != AUTH_ENC_MAGIC {
            return Err(Error::Decrypt);
        }
        Ok(r)
    }
    /// `decode_decrypt`: reads a bufferlist from `r` and decrypts it.
    pub fn decode_decrypt(&self, r: &mut Reader) -> Result<Reader> {
        let bl = r.bufferlist()?;
        self.decrypt_struct(&bl)
    }

    /// HMAC-SHA256 keyed by the raw secret (msgr2 pre-auth signatures).
    pub fn hmac_sha256(&self, data: &[u8]) -> [u8; 32] {
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(&self.secret).expect("HMAC takes any key length");
        m.update(data);
        m.finalize().into_bytes().into()
    }
}

impl Encode for CryptoKey {
    fn encode(&self, e: &mut Encoder) {
        e.u16(self.ty);
        self.created.encode(e);
        e.u16(self.secret.len() as u16);
        e.raw(&self.secret);
    }
}
impl Decode for CryptoKey {
    fn decode(r: &mut Reader) -> denc::Result<Self> {
        let ty = r.u16()?;
        let created = Utime::decode(r)?;
        let len = r.u16()? as usize;
        let secret = r.bytes(len)?;
        Ok(CryptoKey { ty, created, secret })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyring_key_decodes_to_28_bytes() {
        let k = CryptoKey::generate();
        let b64 = k.to_base64();
        let raw = base64::engine::general_purpose::STANDARD.decode(&b64).unwrap();
        assert_eq!(raw.len(), 28);
        assert_eq!(&raw[..2], &[1, 0]);
        assert_eq!(&raw[10..12], &[16, 0]);
        assert_eq!(CryptoKey::from_base64(&b64).unwrap(), k);
        assert!(CryptoKey::from_base64("not base64!").is_err());
        assert!(CryptoKey::from_base64("AQAA").is_err());
    }

    #[test]
    fn envelope_round_trip_and_wrong_key() {
        let k = CryptoKey::generate();
        let c = k.encrypt_struct(&42u64).unwrap();
        assert_eq!(c.len(), 32); // 1 + 8 + 8 = 17 -> padded to 32
        let mut r = k.decrypt_struct(&c).unwrap();
        assert_eq!(r.u64().unwrap(), 42);
        let other = CryptoKey::generate();
        assert!(other.decrypt_struct(&c).is_err());
        assert!(k.decrypt_struct(&c[..15]).is_err());
    }
}
