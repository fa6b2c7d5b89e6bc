use denc::{Decode, Encode, Encoder, Reader, Result};
use std::fmt;
use std::str::FromStr;

/// `uuid_d`: 16 raw bytes on the wire, hyphenated lower-case hex in text.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Uuid(pub [u8; 16]);

impl Uuid {
    pub fn is_zero(&self) -> bool {
        self.0 == [0; 16]
    }
    pub fn random() -> Uuid {
        let mut b = [0u8; 16];
        // /dev/urandom is always present where Ceph runs; fall back to time if not.
        if std::fs::File::open("/dev/urandom")
            .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut b))
            .is_err()
        {
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_nanos();
            b.copy_from_slice(&t.to_le_bytes());
        }
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        Uuid(b)
    }
}

impl fmt::Display for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                f.write_str("-")?;
            }
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl FromStr for Uuid {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let hex: String = s.chars().filter(|c| *c != '-').collect();
        if hex.len() != 32 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(format!("'{s}' is not a valid uuid"));
        }
        let mut b = [0u8; 16];
        for (i, byte) in b.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|e| e.to_string())?;
        }
        Ok(Uuid(b))
    }
}

impl Encode for Uuid {
    fn encode(&self, e: &mut Encoder) {
        e.raw(&self.0)
    }
}
impl Decode for Uuid {
    fn decode(r: &mut Reader) -> Result<Self> {
        Ok(Uuid(r.array()?))
    }
}
