use crate::{Decode, Encode, Encoder, Reader, Result};

/// `utime_t` / `ceph_timespec`: u32 seconds, u32 nanoseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Utime {
    pub sec: u32,
    pub nsec: u32,
}

impl Utime {
    pub fn now() -> Self {
        let d = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Utime { sec: d.as_secs() as u32, nsec: d.subsec_nanos() }
    }
    pub fn as_secs_f64(&self) -> f64 {
        self.sec as f64 + self.nsec as f64 * 1e-9
    }
    /// `ctime(3)` without the newline, in UTC: `Thu Dec  3 08:22:20 2026`
    /// (librbd prints image timestamps this way; Ceph uses local time).
    pub fn to_ctime(&self) -> String {
        const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
        const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
        let (y, mo, d, h, mi, s) = civil_from_unix(self.sec as i64);
        let wd = DAYS[(self.sec as i64 / 86400).rem_euclid(7) as usize];
        format!("{wd} {} {d:2} {h:02}:{mi:02}:{s:02} {y}", MONTHS[mo as usize - 1])
    }
    /// Ceph's `utime_t` output format as used in JSON dumps:
    /// `2024-01-02T03:04:05.123456+0000` (microseconds, UTC).
    pub fn to_iso8601(&self) -> String {
        let (y, mo, d, h, mi, s) = civil_from_unix(self.sec as i64);
        format!(
            "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{:06}+0000",
            self.nsec / 1000
        )
    }
}

/// Days-from-civil inverse (Howard Hinnant's algorithm), UTC.
fn civil_from_unix(t: i64) -> (i64, u32, u32, u32, u32, u32) {
    let days = t.div_euclid(86400);
    let secs = t.rem_euclid(86400);
    let z = days + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = if m <= 2 { y + 1 } else { y };
    (y, m, d, (secs / 3600) as u32, ((secs % 3600) / 60) as u32, (secs % 60) as u32)
}

impl Encode for Utime {
    fn encode(&self, e: &mut Encoder) {
        e.u32(self.sec);
        e.u32(self.nsec);
    }
}
impl Decode for Utime {
    fn decode(r: &mut Reader) -> Result<Self> {
        Ok(Utime { sec: r.u32()?, nsec: r.u32()? })
    }
}

#[cfg(test)]
mod ctime_tests {
    use super::Utime;

    /// Against `date -u -d @SECS` (C locale), as `rbd info` prints them.
    #[test]
    fn ctime_like_libc() {
        assert_eq!(Utime { sec: 1796286140, nsec: 0 }.to_ctime(), "Thu Dec  3 08:22:20 2026");
        assert_eq!(Utime { sec: 1000000000, nsec: 0 }.to_ctime(), "Sun Sep  9 01:46:40 2001");
        assert_eq!(Utime { sec: 0, nsec: 0 }.to_ctime(), "Thu Jan  1 00:00:00 1970");
    }
}
