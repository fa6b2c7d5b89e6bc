//! `crush_ln`: a fixed-point log2 used by straw2, with its lookup tables.
//!
//! RH[k] = ceil(2^48 / (1 + k/128)) and LH[k] = floor(2^48 * log2(1 + k/128)) are
//! computed here exactly (integer and 128-bit arithmetic); Ceph's table has one
//! irregular entry, LH[128] = 0xffff00000000, kept as is. LL is not reproducible from
//! its stated formula (2^48 * log2(1 + k/2^15)): most entries differ slightly, so the
//! values Ceph uses are listed as constants below. Placement must be bit-exact,
//! so these are facts of the format, like a magic number.

use std::sync::OnceLock;

/// `__LL_tbl` (`src/crush/crush_ln_table.h`).
const LL: [u64; 256] = [
    0x0000000000000000, 0x00000002e2a60a00, 0x000000070cb64ec5, 0x00000009ef50ce67,
    0x0000000cd1e588fd, 0x0000000fb4747e9c, 0x0000001296fdaf5e, 0x0000001579811b58,
    0x000000185bfec2a1, 0x0000001b3e76a552, 0x0000001e20e8c380, 0x0000002103551d43,
    0x00000023e5bbb2b2, 0x00000026c81c83e4, 0x00000029aa7790f0, 0x0000002c8cccd9ed,
    0x0000002f6f1c5ef2, 0x0000003251662017, 0x0000003533aa1d71, 0x0000003815e8571a,
    0x0000003af820cd26, 0x0000003dda537fae, 0x00000040bc806ec8, 0x000000439ea79a8c,
    0x0000004680c90310, 0x0000004962e4a86c, 0x0000004c44fa8ab6, 0x0000004f270aaa06,
    0x0000005209150672, 0x00000054eb19a013, 0x00000057cd1876fd, 0x0000005aaf118b4a,
    0x0000005d9104dd0f, 0x0000006072f26c64, 0x0000006354da3960, 0x0000006636bc441a,
    0x0000006918988ca8, 0x0000006bfa6f1322, 0x0000006edc3fd79f, 0x00000071be0ada35,
    0x000000749fd01afd, 0x00000077818f9a0c, 0x0000007a6349577a, 0x0000007d44fd535e,
    0x0000008026ab8dce, 0x00000083085406e3, 0x00000085e9f6beb2, 0x00000088cb93b552,
    0x0000008bad2aeadc, 0x0000008e8ebc5f65, 0x0000009170481305, 0x0000009451ce05d3,
    0x00000097334e37e5, 0x0000009a14c8a953, 0x0000009cf63d5a33, 0x0000009fd7ac4a9d,
    0x000000a2b07f3458, 0x000000a59a78ea6a, 0x000000a87bd699fb, 0x000000ab5d2e8970,
    0x000000ae3e80b8e3, 0x000000b11fcd2869, 0x000000b40113d818, 0x000000b6e254c80a,
    0x000000b9c38ff853, 0x000000bca4c5690c, 0x000000bf85f51a4a, 0x000000c2671f0c26,
    0x000000c548433eb6, 0x000000c82961b211, 0x000000cb0a7a664d, 0x000000cdeb8d5b82,
    0x000000d0cc9a91c8, 0x000000d3ada20933, 0x000000d68ea3c1dd, 0x000000d96f9fbbdb,
    0x000000dc5095f744, 0x000000df31867430, 0x000000e2127132b5, 0x000000e4f35632ea,
    0x000000e7d43574e6, 0x000000eab50ef8c1, 0x000000ed95e2be90, 0x000000f076b0c66c,
    0x000000f35779106a, 0x000000f6383b9ca2, 0x000000f918f86b2a, 0x000000fbf9af7c1a,
    0x000000feda60cf88, 0x00000101bb0c658c, 0x000001049bb23e3c, 0x000001077c5259af,
    0x0000010a5cecb7fc, 0x0000010d3d81593a, 0x000001101e103d7f, 0x00000112fe9964e4,
    0x00000115df1ccf7e, 0x00000118bf9a7d64, 0x0000011ba0126ead, 0x0000011e8084a371,
    0x0000012160f11bc6, 0x000001244157d7c3, 0x0000012721b8d77f, 0x0000012a02141b10,
    0x0000012ce269a28e, 0x0000012fc2b96e0f, 0x00000132a3037daa, 0x000001358347d177,
    0x000001386386698c, 0x0000013b43bf45ff, 0x0000013e23f266e9, 0x00000141041fcc5e,
    0x00000143e4477678, 0x00000146c469654b, 0x00000149a48598f0, 0x0000014c849c117c,
    0x0000014f64accf08, 0x0000015244b7d1a9, 0x0000015524bd1976, 0x0000015804bca687,
    0x0000015ae4b678f2, 0x0000015dc4aa90ce, 0x00000160a498ee31, 0x0000016384819134,
    0x00000166646479ec, 0x000001694441a870, 0x0000016c24191cd7, 0x0000016df6ca19bd,
    0x00000171e3b6d7aa, 0x00000174c37d1e44, 0x00000177a33dab1c, 0x0000017a82f87e49,
    0x0000017d62ad97e2, 0x00000180425cf7fe, 0x00000182b07f3458, 0x0000018601aa8c19,
    0x00000188e148c046, 0x0000018bc0e13b52, 0x0000018ea073fd52, 0x000001918001065d,
    0x000001945f88568b, 0x000001973f09edf2, 0x0000019a1e85ccaa, 0x0000019cfdfbf2c8,
    0x0000019fdd6c6063, 0x000001a2bcd71593, 0x000001a59c3c126e, 0x000001a87b9b570b,
    0x000001ab5af4e380, 0x000001ae3a48b7e5, 0x000001b11996d450, 0x000001b3f8df38d9,
    0x000001b6d821e595, 0x000001b9b75eda9b, 0x000001bc96961803, 0x000001bf75c79de3,
    0x000001c254f36c51, 0x000001c534198365, 0x000001c81339e336, 0x000001caf2548bd9,
    0x000001cdd1697d67, 0x000001d0b078b7f5, 0x000001d38f823b9a, 0x000001d66e86086d,
    0x000001d94d841e86, 0x000001dc2c7c7df9, 0x000001df0b6f26df, 0x000001e1ea5c194e,
    0x000001e4c943555d, 0x000001e7a824db23, 0x000001ea8700aab5, 0x000001ed65d6c42b,
    0x000001f044a7279d, 0x000001f32371d51f, 0x000001f60236ccca, 0x000001f8e0f60eb3,
    0x000001fbbfaf9af3, 0x000001fe9e63719e, 0x000002017d1192cc, 0x000002045bb9fe94,
    0x000002073a5cb50d, 0x00000209c06e6212, 0x0000020cf791026a, 0x0000020fd622997c,
    0x00000212b07f3458, 0x000002159334a8d8, 0x0000021871b52150, 0x0000021b502fe517,
    0x0000021d6a73a78f, 0x000002210d144eee, 0x00000223eb7df52c, 0x00000226c9e1e713,
    0x00000229a84024bb, 0x0000022c23679b4e, 0x0000022f64eb83a8, 0x000002324338a51b,
    0x00000235218012a9, 0x00000237ffc1cc69, 0x0000023a2c3b0ea4, 0x0000023d13ee805b,
    0x0000024035e9221f, 0x00000243788faf25, 0x0000024656b4e735, 0x00000247ed646bfe,
    0x0000024c12ee3d98, 0x0000024ef1025c1a, 0x00000251cf10c799, 0x0000025492644d65,
    0x000002578b1c85ee, 0x0000025a6919d8f0, 0x0000025d13ee805b, 0x0000026025036716,
    0x0000026296453882, 0x00000265e0d62b53, 0x00000268beb701f3, 0x0000026b9c92265e,
    0x0000026d32f798a9, 0x00000271583758eb, 0x000002743601673b, 0x0000027713c5c3b0,
    0x00000279f1846e5f, 0x0000027ccf3d6761, 0x0000027e6580aecb, 0x000002828a9e44b3,
    0x0000028568462932, 0x00000287bdbf5255, 0x0000028b2384de4a, 0x0000028d13ee805b,
    0x0000029035e9221f, 0x0000029296453882, 0x0000029699bdfb61, 0x0000029902a37aab,
    0x0000029c54b864c9, 0x0000029deabd1083, 0x000002a20f9c0bb5, 0x000002a4c7605d61,
    0x000002a7bdbf5255, 0x000002a96056dafc, 0x000002ac3daf14ef, 0x000002af1b019eca,
    0x000002b296453882, 0x000002b5d022d80f, 0x000002b8fa471cb3, 0x000002ba9012e713,
    0x000002bd6d4901cc, 0x000002c04a796cf6, 0x000002c327a428a6, 0x000002c61a5e8f4c,
    0x000002c8e1e891f6, 0x000002cbbf023fc2, 0x000002ce9c163e6e, 0x000002d179248e13,
    0x000002d4562d2ec6, 0x000002d73330209d, 0x000002da102d63b0, 0x000002dced24f814,
];

struct Tables {
    rh_lh: [u64; 258],
}

fn tables() -> &'static Tables {
    static T: OnceLock<Tables> = OnceLock::new();
    T.get_or_init(|| {
        let mut rh_lh = [0u64; 258];
        for k in 0..=128u64 {
            let den = (128 + k) as u128;
            rh_lh[2 * k as usize] = (((1u128 << 55) + den - 1) / den) as u64;
            rh_lh[2 * k as usize + 1] = if k == 128 { 0xffff_0000_0000 } else { log2_frac_floor48(128 + k) };
        }
        Tables { rh_lh }
    })
}

/// floor(2^48 * log2(n / 128)) for 128 <= n < 256, by exact binary long
/// division of the logarithm: each step squares the running ratio and emits
/// a bit when it passes 2. Fixed point with 124 fractional bits keeps it exact.
fn log2_frac_floor48(n: u64) -> u64 {
    const F: u32 = 120;
    // x in [1, 2) as fixed point with F fractional bits
    let mut x: u128 = ((n as u128) << F) / 128;
    let two: u128 = 2u128 << F;
    let mut bits = 0u64;
    for _ in 0..48 {
        // square: (x * x) >> F without overflow, by splitting x
        let hi = x >> 60;
        let lo = x & ((1u128 << 60) - 1);
        let sq = ((hi * hi) << (120 - F)) + ((2 * hi * lo) >> (F - 60)) + ((lo * lo) >> F);
        x = sq;
        bits <<= 1;
        if x >= two {
            bits |= 1;
            x >>= 1;
        }
    }
    bits
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
    let ll = LL[index2];
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
        assert_eq!(t.rh_lh[255], 0x0000_fe8d_f263_f957);
        assert_eq!(t.rh_lh[256], 0x0000_8000_0000_0000);
    }
}
