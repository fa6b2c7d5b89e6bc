//! Ceph's human-readable units (`include/types.h`).

/// `byte_u_t`: binary units, exact values without decimals, otherwise as
/// many decimals (2, 1, 0) as fit in 7 characters: `8 MiB`, `9.4 MiB`,
/// `1.1 GiB`.
pub fn byte_u(v: u64) -> String {
    const U: [&str; 7] = [" B", " KiB", " MiB", " GiB", " TiB", " PiB", " EiB"];
    let mut n = v;
    let mut i = 0;
    while n >= 1024 && i < 6 {
        n /= 1024;
        i += 1;
    }
    if i == 0 || v & ((1u64 << (10 * i)) - 1) == 0 {
        return format!("{n}{}", U[i]);
    }
    let x = v as f64 / (1u64 << (10 * i)) as f64;
    for prec in (0..=2).rev() {
        let s = format!("{x:.prec$}{}", U[i]);
        if s.len() <= 7 {
            return s;
        }
    }
    format!("{x:.0}{}", U[i])
}

#[cfg(test)]
mod tests {
    use super::byte_u;

    /// Values seen in the real `rbd du`, `rbd ls -l` and `rbd bench` output.
    #[test]
    fn like_ceph() {
        assert_eq!(byte_u(0), "0 B");
        assert_eq!(byte_u(8 << 20), "8 MiB");
        assert_eq!(byte_u(100 << 20), "100 MiB");
        assert_eq!(byte_u(1195376640), "1.1 GiB");
        assert_eq!(byte_u(9_856_000), "9.4 MiB");
        assert_eq!(byte_u(12 * 1048576 + 1000), "12 MiB");
    }
}
