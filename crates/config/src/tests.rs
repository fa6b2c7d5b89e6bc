use super::*;

fn v(av: &types::EntityAddrVec) -> String {
    av.to_string()
}

#[test]
fn mon_host_forms() {
    let m = parse_mon_host("[v2:127.0.0.2:3300,v1:127.0.0.2:6789]").unwrap();
    assert_eq!(m.len(), 1);
    assert_eq!(v(&m[0]), "[v2:127.0.0.2:3300/0,v1:127.0.0.2:6789/0]");
    let m = parse_mon_host("10.0.0.1, 10.0.0.2:6789 10.0.0.3:3300;10.0.0.4:7000").unwrap();
    let s: Vec<String> = m.iter().map(v).collect();
    assert_eq!(
        s,
        [
            "[v2:10.0.0.1:3300/0,v1:10.0.0.1:6789/0]",
            "v1:10.0.0.2:6789/0",
            "v2:10.0.0.3:3300/0",
            "[v2:10.0.0.4:7000/0,v1:10.0.0.4:7000/0]"
        ]
    );
    let m = parse_mon_host("v2:1.2.3.4,[v2:[::1]:3300,v1:[::1]:6789],[::1]").unwrap();
    assert_eq!(v(&m[0]), "v2:1.2.3.4:3300/0");
    assert_eq!(v(&m[1]), "[v2:[::1]:3300/0,v1:[::1]:6789/0]");
    assert_eq!(v(&m[2]), "[v2:[::1]:3300/0,v1:[::1]:6789/0]");
    assert!(parse_mon_host("").is_err());
    assert!(parse_mon_host("not a host!!").is_err());
}

#[test]
fn conf_sections_metavariables_and_lookup_order() {
    let text = "\
[global]
fsid = 1234
mon host = 127.0.0.1   # trailing comment
run-dir = /run/$cluster
admin_socket = $run_dir/$name.asok
keyring = /etc/ceph/$cluster.$name.keyring
[client]
log_file = \"/var/log/$cluster-$name.log\"
[client.admin]
debug_ms = 1 ; another comment
";
    let cf = ConfFile::parse(text).unwrap();
    let c = Config::from_conf("ceph", "client.admin".parse().unwrap(), cf);
    assert_eq!(c.get("mon_host").unwrap(), "127.0.0.1");
    assert_eq!(c.get("mon-host").unwrap(), "127.0.0.1");
    assert_eq!(c.get("admin_socket").unwrap(), "/run/ceph/client.admin.asok");
    assert_eq!(c.get("log_file").unwrap(), "/var/log/ceph-client.admin.log");
    assert_eq!(c.get("debug_ms").unwrap(), "1");
    assert_eq!(c.keyring_paths(), vec![std::path::PathBuf::from("/etc/ceph/ceph.client.admin.keyring")]);
    assert_eq!(c.get("ms_mon_client_mode").unwrap(), "secure crc");
    let mut c2 = c.clone();
    c2.set_override("ms-mon-client-mode", "crc");
    assert_eq!(c2.get("ms_mon_client_mode").unwrap(), "crc");
}

#[test]
fn conf_errors_name_the_line() {
    let e = ConfFile::parse("[global]\nfoo\n").unwrap_err();
    assert_eq!(e.0, 2);
    assert!(ConfFile::parse("[global\n").is_err());
    assert!(ConfFile::parse("a = \"unterminated\n").is_err());
}

#[test]
fn keyring_parse() {
    let text = "[client.admin]\n\tkey = AQBpbmFnZQAAAAAAAAAAAAAAAAAAAAAAAAAAAA==\n\tcaps mon = \"allow *\"\n\tcaps osd = \"allow *\"\n[mon.]\n\tkey = AQAA==\n";
    let kr = Keyring::parse(text).unwrap();
    let e = kr.get(&"client.admin".parse().unwrap()).unwrap();
    assert_eq!(e.key, "AQBpbmFnZQAAAAAAAAAAAAAAAAAAAAAAAAAAAA==");
    assert_eq!(e.caps.get("mon").unwrap(), "allow *");
    assert!(kr.get(&"mon.".parse().unwrap()).is_some());
}

proptest::proptest! {
    #[test]
    fn parsers_never_panic(s in "\\PC{0,200}") {
        let _ = ConfFile::parse(&s);
        let _ = Keyring::parse(&s);
        let _ = parse_mon_host(&s);
    }
}
