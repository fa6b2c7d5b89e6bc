/// Ceph's `ceph_crc32c(seed, data)`: CRC-32C (Castagnoli) with the seed as the
/// initial register and no final inversion. The `crc32c` crate inverts on the way
/// in and out, so invert around it.
#[inline]
pub fn ceph_crc32c(seed: u32, data: &[u8]) -> u32 {
    !crc32c::crc32c_append(!seed, data)
}

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
