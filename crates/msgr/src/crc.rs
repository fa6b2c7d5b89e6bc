pub use denc::ceph_crc32c;

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn matches_ceph_convention() {
        // Standard CRC-32C("123456789") = 0xe3069283 = ~raw(~0, data).
        assert_eq!(!ceph_crc32c(0xffff_ffff, b"123456789"), 0xe306_9283);
        assert_eq!(ceph_crc32c(0xffff_ffff, b""), 0xffff_ffff);
        assert_eq!(ceph_crc32c(0, b""), 0);
    }
}
