//! The generic-netlink client against this kernel: the controller family
//! resolves (id 0x10, fixed by the kernel), nbd resolves exactly when the
//! nbd module is loaded, and the CONNECT request is laid out as the
//! kernel's nla_parse expects.

use nbd::netlink::{self, Genl};

#[test]
fn the_kernel_answers_our_family_lookups() {
    let mut g = Genl::open().expect("netlink socket");
    assert_eq!(g.family_id("nlctrl").unwrap(), 0x10);
    let e = g.family_id("oxceph-none").unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc_enoent()));
    let module = std::path::Path::new("/sys/module/nbd").exists();
    assert_eq!(netlink::kernel_has_nbd(), module);
}

fn libc_enoent() -> i32 {
    2
}

#[test]
fn the_connect_request_nests_the_socket_fd() {
    let m = netlink::connect_message(0x22, 7, 10 << 30, 0x6d, Some(30));
    let b = m.finish(5);
    assert_eq!(u32::from_ne_bytes(b[0..4].try_into().unwrap()) as usize, b.len());
    assert_eq!(u16::from_ne_bytes([b[4], b[5]]), 0x22);
    assert_eq!(u32::from_ne_bytes(b[8..12].try_into().unwrap()), 5);
    assert_eq!(&b[16..18], &[1, 1]); // NBD_CMD_CONNECT, version 1
    let attrs = netlink::parse_attrs(&b[20..]).unwrap();
    let get = |k: u16| attrs.iter().find(|(t, _)| *t == k).map(|(_, v)| *v).unwrap();
    assert_eq!(u64::from_ne_bytes(get(2).try_into().unwrap()), 10 << 30); // size
    assert_eq!(u64::from_ne_bytes(get(3).try_into().unwrap()), 512); // block size
    assert_eq!(u64::from_ne_bytes(get(4).try_into().unwrap()), 30); // timeout
    assert_eq!(u64::from_ne_bytes(get(5).try_into().unwrap()), 0x6d); // flags
    let sockets = netlink::parse_attrs(get(7)).unwrap();
    assert_eq!(sockets.len(), 1);
    let item = netlink::parse_attrs(sockets[0].1).unwrap();
    assert_eq!(item, vec![(1u16, &7u32.to_ne_bytes()[..])]);
    // truncated attributes are refused, not read past
    assert!(netlink::parse_attrs(&b[20..b.len() - 2]).is_err());
}
