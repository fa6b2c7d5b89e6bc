use crush::{do_rule, CrushMap};
use denc::Decode;
#[test]
fn quick() {
    let raw = std::fs::read("/tmp/c1").unwrap();
    let m = CrushMap::from_bytes(raw.clone()).unwrap();
    assert_eq!(&denc::Encode::to_bytes(&m, u64::MAX)[..], &raw[..]);
    let w = vec![0x10000u32; 12];
    for x in 0..5 {
        println!("CRUSH rule 0 x {x} {:?}", do_rule(&m, 0, x, 3, &w, None));
    }
}
