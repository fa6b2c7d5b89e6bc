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

#[test]
fn levels_win_as_in_ceph_and_mon_values_fall_back_when_removed() {
    let cf = ConfFile::parse("[global]\nosd_memory_target = 1073741824\n[osd]\nosd_recovery_sleep = 0.5\n").unwrap();
    let mut c = Config::from_conf("ceph", "osd.0".parse().unwrap(), cf);
    let mon = |kv: &[(&str, &str)]| kv.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<BTreeMap<_, _>>();
    c.set_mon_values(&mon(&[("osd_memory_target", "2147483648"), ("osd_max_backfills", "5")]));
    // ceph.conf beats the monitors' database; the database beats defaults.
    assert_eq!(c.get("osd_memory_target").unwrap(), "1073741824");
    assert_eq!(c.get("osd_max_backfills").unwrap(), "5");
    assert_eq!(c.levels("osd_memory_target"), vec![(Level::Mon, "2147483648".into()), (Level::File, "1073741824".into())]);
    // Run-time values beat everything, command line included; unset falls back.
    c.set_override("osd_max_backfills", "3");
    assert_eq!(c.get("osd_max_backfills").unwrap(), "3");
    c.set_runtime("osd-max-backfills", "7");
    assert_eq!(c.get("osd_max_backfills").unwrap(), "7");
    assert!(c.unset_runtime("osd_max_backfills"));
    assert!(!c.unset_runtime("osd_max_backfills"));
    assert_eq!(c.get("osd_max_backfills").unwrap(), "3");
    // An MConfig without a key drops the monitors' value for it.
    c.set_mon_values(&mon(&[("osd_memory_target", "2147483648")]));
    assert_eq!(c.levels("osd_max_backfills"), vec![(Level::Cmdline, "3".into())]);
    assert!(c.keys_set().contains("osd_recovery_sleep"));
    assert!(c.keys_set().contains("osd_max_backfills"));
    assert!(!c.keys_set().contains("osd_heartbeat_grace"));
}

#[test]
fn option_values_show_as_ceph_shows_them_and_bad_ones_get_cephs_words() {
    let float = OptSpec::new("osd_recovery_sleep", OptType::Float, "0");
    assert_eq!(float.canonical("0.1").unwrap(), "0.100000");
    assert_eq!(float.canonical("0.97").unwrap(), "0.970000");
    assert_eq!(float.canonical("abc").unwrap_err(), "strict_strtod: expected double, got: 'abc'");
    let uint = OptSpec::new("osd_max_backfills", OptType::Uint, "1");
    assert_eq!(uint.canonical("4").unwrap(), "4");
    assert_eq!(uint.canonical("2K").unwrap(), "2000");
    assert_eq!(uint.canonical("-1").unwrap_err(), "strict_sistrtoll: value should not be negative");
    assert_eq!(uint.canonical("notanint").unwrap_err(), "strict_si_cast: unit prefix not recognized");
    let hb = OptSpec::new("osd_heartbeat_interval", OptType::Int, "6").range(1, 60);
    assert_eq!(hb.canonical("100").unwrap_err(), "Value '100' exceeds maximum 60");
    let size = OptSpec::new("osd_max_object_size", OptType::Size, "134217728");
    assert_eq!(size.canonical("64M").unwrap(), "67108864");
    assert_eq!(size.canonical("4Ki").unwrap(), "4096");
    assert!(size.canonical("4KiB").is_err());
    assert_eq!(size.canonical("1048576").unwrap(), "1048576");
    assert!(size.canonical("12X").is_err());
    let b = OptSpec::new("osd_cache_primary_writes", OptType::Bool, "false");
    assert_eq!(b.canonical("1").unwrap(), "true");
    assert_eq!(b.canonical("TRUE").unwrap(), "true");
    assert_eq!(b.canonical("0").unwrap(), "false");
    assert!(b.canonical("maybe").is_err());
    assert!(b.canonical("yes").is_err());
    let d = OptSpec::new("debug_osd", OptType::Debug, "1/5");
    assert_eq!(d.canonical("20").unwrap(), "20/20");
    assert_eq!(d.canonical("5/10").unwrap(), "5/10");
    assert!(d.canonical("x").is_err());
    assert!(OptSpec::new("keyring", OptType::Str, "").startup().canonical("any thing").is_ok());
}

#[test]
fn self_referring_values_expand_to_a_bounded_length() {
    let mut c = Config::from_conf("ceph", "osd.0".parse().unwrap(), ConfFile::default());
    let mon: BTreeMap<String, String> = [("a".to_string(), "$a".repeat(200)), ("b".to_string(), "x$b$b".to_string())].into_iter().collect();
    c.set_mon_values(&mon);
    assert!(c.get("a").unwrap().len() < 1 << 20);
    assert!(c.get("b").unwrap().len() < 1 << 20);
}
