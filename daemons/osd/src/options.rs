//! The options this OSD reads, typed as Ceph types them, and how their
//! values reach [`OsdConf`]: from ceph.conf and the command line at start,
//! from the monitors' config database (MConfig) at start and whenever it
//! changes, and from `ceph tell osd.N config set` / `injectargs`.

use crate::service::OsdConf;
use config::{Config, Level, OptSpec, OptType::*};
use std::time::Duration;

/// Ceph's types and defaults, except `osd_max_pg_log_entries` (ours: 3000,
/// Ceph: 10000) and `osd_cache_primary_writes` (ours only).
pub const OPTIONS: &[OptSpec] = &[
    OptSpec::new("auth_cluster_required", Str, "cephx").startup(),
    OptSpec::new("debug_ms", Debug, "0/0"),
    OptSpec::new("debug_osd", Debug, "1/5"),
    OptSpec::new("keyring", Str, "/etc/ceph/$cluster.$name.keyring,/etc/ceph/$cluster.keyring,/etc/ceph/keyring,/etc/ceph/keyring.bin").startup(),
    OptSpec::new("ms_service_mode", Str, "crc secure").startup(),
    OptSpec::new("osd_backfill_retry_interval", Float, "30"),
    // Read once: a beacon loop's period (Ceph does not watch it either).
    OptSpec::new("osd_beacon_report_interval", Int, "300").unobserved(),
    OptSpec::new("osd_cache_primary_writes", Bool, "false"),
    OptSpec::new("osd_client_watch_timeout", Int, "30"),
    OptSpec::new("osd_crush_initial_weight", Float, "-1").unobserved(),
    OptSpec::new("osd_crush_update_on_start", Bool, "true").unobserved(),
    OptSpec::new("osd_data", Str, "/var/lib/ceph/osd/$cluster-$id").startup(),
    // Test hooks: the commit thread and push numbering are set up at start.
    OptSpec::new("osd_debug_commit_delay", Float, "0").startup(),
    OptSpec::new("osd_debug_drop_push_seq", Int, "-1").startup(),
    OptSpec::new("osd_default_notify_timeout", Uint, "30"),
    OptSpec::new("osd_failsafe_full_ratio", Float, "0.97"),
    OptSpec::new("osd_heartbeat_grace", Int, "20"),
    OptSpec::new("osd_heartbeat_interval", Int, "6").range(1, 60),
    OptSpec::new("osd_max_backfills", Uint, "1"),
    OptSpec::new("osd_max_object_size", Size, "134217728"),
    OptSpec::new("osd_max_pg_log_entries", Uint, "3000"),
    OptSpec::new("osd_mon_report_interval", Int, "5"),
    OptSpec::new("osd_recovery_retry_interval", Float, "30"),
    OptSpec::new("osd_recovery_sleep", Float, "0"),
];

/// The option named exactly `name` (after Ceph's key normalisation for
/// `config get/set`: spaces become underscores, dashes stay).
pub fn spec(name: &str) -> Option<&'static OptSpec> {
    let name = name.trim().replace(' ', "_");
    OPTIONS.iter().find(|o| o.name == name)
}

/// The value in effect, in Ceph's shown form. A value that does not parse
/// (a typo in ceph.conf) leaves the default in effect, as Ceph does.
pub fn value(cfg: &Config, o: &OptSpec) -> String {
    let set = cfg.levels(o.name).into_iter().rev().filter(|(l, _)| *l != Level::Default).find_map(|(_, v)| o.canonical(&v).ok());
    match set {
        // Strings may name other options ($cluster, $id, ...).
        Some(_) if o.ty == Str => cfg.get(o.name).unwrap_or_default(),
        Some(v) => v,
        None => o.canonical(&expand_default(cfg, o)).unwrap_or_else(|_| o.default.to_string()),
    }
}

fn expand_default(cfg: &Config, o: &OptSpec) -> String {
    o.default.replace("$cluster", &cfg.cluster).replace("$id", &cfg.name.id).replace("$name", &cfg.name.to_string())
}

/// Every option's value in effect and the level it comes from, by name.
/// Ceph counts an option as changed when this pair changes: setting the
/// default's value at run time is a change, setting a value again is not,
/// and a monitors' value under a ceph.conf one has no effect.
pub fn values(cfg: &Config) -> std::collections::BTreeMap<&'static str, (Level, String)> {
    OPTIONS
        .iter()
        .map(|o| {
            let top = cfg.levels(o.name).into_iter().rev().find(|(l, v)| *l != Level::Default && o.canonical(v).is_ok());
            let level = top.map(|(l, _)| l).unwrap_or(Level::Default);
            (o.name, (level, value(cfg, o)))
        })
        .collect()
}

fn num<T: std::str::FromStr>(cfg: &Config, name: &str) -> T {
    let o = spec(name).expect("a known option");
    value(cfg, o).parse().ok().or_else(|| o.default.parse().ok()).unwrap_or_else(|| panic!("option {name} has a bad built-in default"))
}

/// At most a year: deadlines computed from these must not overflow.
pub fn secs(cfg: &Config, name: &str) -> Duration {
    let v: f64 = num(cfg, name);
    Duration::try_from_secs_f64(v.clamp(0.0, 365.0 * 86400.0)).unwrap_or(Duration::ZERO)
}

/// The most backfills an OSD runs at once, whatever `osd_max_backfills` says.
pub const MAX_BACKFILLS: usize = 1024;

impl OsdConf {
    /// The options' values in `cfg`. What is fixed at start (addresses,
    /// modes, the data path) comes from `fixed`.
    pub fn build(cfg: &Config, fixed: FixedConf) -> OsdConf {
        let drop_seq: i64 = num(cfg, "osd_debug_drop_push_seq");
        let full: f64 = num(cfg, "osd_failsafe_full_ratio");
        OsdConf {
            max_object_size: num(cfg, "osd_max_object_size"),
            max_pg_log_entries: num::<usize>(cfg, "osd_max_pg_log_entries").max(10),
            watch_timeout: num::<i64>(cfg, "osd_client_watch_timeout").clamp(0, u32::MAX as i64) as u32,
            notify_timeout: num::<u64>(cfg, "osd_default_notify_timeout").min(u32::MAX as u64) as u32,
            peering_retry_secs: 10,
            recovery_sleep: secs(cfg, "osd_recovery_sleep"),
            // A semaphore's permits: bounded, so a huge value cannot panic it.
            max_backfills: num::<usize>(cfg, "osd_max_backfills").clamp(1, MAX_BACKFILLS),
            backfill_retry_interval: secs(cfg, "osd_backfill_retry_interval"),
            debug_commit_delay: secs(cfg, "osd_debug_commit_delay"),
            debug_drop_push_seq: u32::try_from(drop_seq).ok(),
            recovery_retry_interval: secs(cfg, "osd_recovery_retry_interval"),
            heartbeat_interval: Duration::from_secs(num::<u64>(cfg, "osd_heartbeat_interval").max(1)),
            heartbeat_grace: secs(cfg, "osd_heartbeat_grace"),
            report_interval: secs(cfg, "osd_mon_report_interval"),
            auth_none: fixed.auth_none,
            con_modes: fixed.con_modes,
            data_path: fixed.data_path,
            cache_primary_writes: value(cfg, spec("osd_cache_primary_writes").expect("known")) == "true",
            // Ceph takes 97 as 97%.
            failsafe_full_ratio: if full > 1.0 { full / 100.0 } else { full },
        }
    }

    pub fn fixed(&self) -> FixedConf {
        FixedConf { auth_none: self.auth_none, con_modes: self.con_modes.clone(), data_path: self.data_path.clone() }
    }
}

/// What the OSD settles at start and never changes.
pub struct FixedConf {
    pub auth_none: bool,
    pub con_modes: Vec<u32>,
    pub data_path: std::path::PathBuf,
}

/// How `ceph tell osd.N config set`, `config unset`, `injectargs` and
/// MConfig report what changed: `name = 'value' ` per changed option in
/// name order, flagged when the OSD reads it only at start (Ceph's
/// `ObserverMgr::for_each_change`). Debug levels are not listed, as in Ceph.
pub fn change_text(before: &std::collections::BTreeMap<&'static str, (Level, String)>, after: &std::collections::BTreeMap<&'static str, (Level, String)>) -> String {
    let mut out = String::new();
    for (k, lv) in after {
        let v = &lv.1;
        if before.get(k) == Some(lv) || k.starts_with("debug_") {
            continue;
        }
        out += &format!("{k} = '{v}' ");
        if !spec(k).is_some_and(|o| o.observed) {
            out += "(not observed, change may require restart) ";
        }
    }
    out
}

/// Applies `injectargs` words (`--name value`, `--name=value`, `--flag`,
/// `--no-flag`) at the override level. Returns Ceph's error text (parse
/// errors, then the words it did not understand) and errno; what did parse
/// is applied even when something else did not.
pub fn injectargs(cfg: &mut Config, words: &[&str]) -> (String, i32) {
    let mut errs = String::new();
    let mut r = 0;
    let mut left: Vec<&str> = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let w = words[i];
        i += 1;
        let Some(body) = w.strip_prefix("--") else {
            left.push(w);
            continue;
        };
        let (name, inline) = match body.split_once('=') {
            Some((n, v)) => (config::normalize_key(n), Some(v.to_string())),
            None => (config::normalize_key(body), None),
        };
        let (o, val) = match (spec(&name), inline) {
            (Some(o), Some(v)) => (o, v),
            // A bare flag is true; a word after it is not its value (as
            // Ceph's `ceph_argparse_binary_flag`).
            (Some(o), None) if o.ty == Bool => (o, "true".to_string()),
            (Some(o), None) => match words.get(i) {
                Some(n) => {
                    i += 1;
                    (o, n.to_string())
                }
                None => {
                    left.push(w);
                    continue;
                }
            },
            (None, None) => match name.strip_prefix("no_").and_then(spec).filter(|o| o.ty == Bool) {
                Some(o) => (o, "false".to_string()),
                None => {
                    left.push(w);
                    continue;
                }
            },
            (None, Some(_)) => {
                left.push(w);
                continue;
            }
        };
        if let Err((e, msg)) = set_checked(cfg, o, &val) {
            errs += &format!("Parse error setting {} to '{val}' using injectargs ({msg}).\n", o.name);
            r = e;
        }
    }
    if !left.is_empty() {
        errs += &format!(" failed to parse arguments: {}\n", left.join(","));
        r = -22;
    }
    (errs, r)
}

/// Sets `o` to `v` at the override level if `v` parses and the option may
/// change now: Err((errno, Ceph's reason)) otherwise.
pub fn set_checked(cfg: &mut Config, o: &OptSpec, v: &str) -> Result<(), (i32, String)> {
    let canon = o.canonical(v).map_err(|m| (-22, m))?;
    if !o.runtime && canon != value(cfg, o) {
        return Err((-1, format!("Configuration option '{}' may not be modified at runtime", o.name)));
    }
    cfg.set_runtime(o.name, &canon);
    Ok(())
}

/// Options the OSD reads before it reaches the monitors: their values in
/// the monitors' database are never taken (Ceph's `ignored_mon_values`; it
/// flags `osd_data` and `keyring` `no_mon_update`).
pub const READ_BEFORE_MON: &[&str] = &["auth_cluster_required", "keyring", "ms_service_mode", "osd_data"];

/// The monitors' values to take at start: all but [`READ_BEFORE_MON`].
pub fn mon_values_at_start(incoming: &std::collections::BTreeMap<String, String>) -> std::collections::BTreeMap<String, String> {
    incoming.iter().filter(|(k, _)| !READ_BEFORE_MON.contains(&config::normalize_key(k).as_str())).map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// The monitors' values to take now: those of startup-only options keep
/// what was in effect at start (Ceph's `ignored_mon_values`).
pub fn mon_values_to_apply(cfg: &Config, incoming: &std::collections::BTreeMap<String, String>) -> std::collections::BTreeMap<String, String> {
    let mut out = incoming.clone();
    for o in OPTIONS.iter().filter(|o| !o.runtime) {
        match cfg.mon_values().get(o.name) {
            Some(v) => out.insert(o.name.to_string(), v.clone()),
            None => out.remove(o.name),
        };
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> Config {
        Config::from_conf("ceph", "osd.0".parse().unwrap(), config::ConfFile::parse("[osd]\nosd_heartbeat_grace = 25\n").unwrap())
    }

    #[test]
    fn injectargs_applies_what_parses_and_names_the_rest_in_cephs_words() {
        let mut c = cfg();
        let before = values(&c);
        let (errs, r) = injectargs(&mut c, &["--osd_recovery_sleep", "0.1", "--osd-max-backfills=4", "--osd_heartbeat_grace", "30"]);
        assert_eq!((errs.as_str(), r), ("", 0));
        assert_eq!(change_text(&before, &values(&c)), "osd_heartbeat_grace = '30' osd_max_backfills = '4' osd_recovery_sleep = '0.100000' ");
        let before = values(&c);
        let (errs, r) = injectargs(&mut c, &["--osd_max_backfills", "3", "--foo", "1"]);
        assert_eq!((errs.as_str(), r), (" failed to parse arguments: --foo,1\n", -22));
        assert_eq!(change_text(&before, &values(&c)), "osd_max_backfills = '3' ");
        assert_eq!(injectargs(&mut c, &["osd_max_backfills=3"]).0, " failed to parse arguments: osd_max_backfills=3\n");
        let (errs, r) = injectargs(&mut c, &["--osd_max_backfills", "notanint"]);
        assert_eq!(errs, "Parse error setting osd_max_backfills to 'notanint' using injectargs (strict_si_cast: unit prefix not recognized).\n");
        assert_eq!(r, -22);
        let (errs, r) = injectargs(&mut c, &["--osd_data", "/tmp/x"]);
        assert_eq!(errs, "Parse error setting osd_data to '/tmp/x' using injectargs (Configuration option 'osd_data' may not be modified at runtime).\n");
        assert_eq!(r, -1);
        // Bools: bare, negated, `=`; a word after a bare flag is left over.
        injectargs(&mut c, &["--osd_cache_primary_writes"]);
        assert_eq!(value(&c, spec("osd_cache_primary_writes").unwrap()), "true");
        injectargs(&mut c, &["--no-osd_cache_primary_writes"]);
        assert_eq!(value(&c, spec("osd_cache_primary_writes").unwrap()), "false");
        let (errs, r) = injectargs(&mut c, &["--osd_cache_primary_writes", "false", "--osd_max_backfills", "2"]);
        assert_eq!((errs.as_str(), r), (" failed to parse arguments: false\n", -22));
        assert_eq!(value(&c, spec("osd_cache_primary_writes").unwrap()), "true");
        assert_eq!(value(&c, spec("osd_max_backfills").unwrap()), "2");
        injectargs(&mut c, &["--osd_cache_primary_writes=false"]);
        assert_eq!(value(&c, spec("osd_cache_primary_writes").unwrap()), "false");
        // Huge values are taken as Ceph takes them, and bounded where used.
        injectargs(&mut c, &["--osd_max_backfills", "3E", "--osd_recovery_retry_interval", "1e300"]);
        let conf = OsdConf::build(&c, FixedConf { auth_none: false, con_modes: vec![], data_path: "/x".into() });
        assert_eq!(conf.max_backfills, MAX_BACKFILLS);
        assert_eq!(conf.recovery_retry_interval, Duration::from_secs(365 * 86400));
    }

    #[test]
    fn setting_the_value_in_effect_counts_as_a_change_only_the_first_time() {
        let mut c = cfg();
        let before = values(&c);
        set_checked(&mut c, spec("osd_max_backfills").unwrap(), "1").unwrap();
        let once = values(&c);
        assert_eq!(change_text(&before, &once), "osd_max_backfills = '1' ");
        set_checked(&mut c, spec("osd_max_backfills").unwrap(), "1").unwrap();
        assert_eq!(change_text(&once, &values(&c)), "");
        // Under a run-time value, the monitors' value has no effect.
        let before = values(&c);
        c.set_mon_values(&[("osd_max_backfills".to_string(), "5".to_string())].into_iter().collect());
        assert_eq!(change_text(&before, &values(&c)), "");
        let before = values(&c);
        c.unset_runtime("osd_max_backfills");
        assert_eq!(change_text(&before, &values(&c)), "osd_max_backfills = '5' ");
    }

    #[test]
    fn unobserved_options_are_flagged_and_debug_levels_are_not_listed() {
        let mut c = cfg();
        let before = values(&c);
        injectargs(&mut c, &["--osd_beacon_report_interval", "10", "--debug_osd", "20"]);
        assert_eq!(change_text(&before, &values(&c)), "osd_beacon_report_interval = '10' (not observed, change may require restart) ");
        assert_eq!(value(&c, spec("debug_osd").unwrap()), "20/20");
    }

    #[test]
    fn conf_values_reach_the_osd_and_mon_values_for_startup_options_wait_for_a_restart() {
        let mut c = cfg();
        let fixed = || FixedConf { auth_none: false, con_modes: vec![], data_path: "/x".into() };
        let mon = |kv: &[(&str, &str)]| kv.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<std::collections::BTreeMap<String, String>>();
        // At start the monitors' values apply, but for those read before.
        c.set_mon_values(&mon_values_at_start(&mon(&[("osd_max_backfills", "5"), ("osd_heartbeat_grace", "40"), ("osd_debug_commit_delay", "3"), ("osd_data", "/elsewhere")])));
        assert_eq!(value(&c, spec("osd_data").unwrap()), "/var/lib/ceph/osd/ceph-0");
        let conf = OsdConf::build(&c, fixed());
        assert_eq!(conf.max_backfills, 5);
        // ceph.conf's [osd] beats the monitors.
        assert_eq!(conf.heartbeat_grace, Duration::from_secs(25));
        assert_eq!(conf.debug_commit_delay, Duration::from_secs(3));
        assert_eq!(conf.max_object_size, 128 << 20);
        assert_eq!(conf.failsafe_full_ratio, 0.97);
        assert_eq!(value(&c, spec("osd_data").unwrap()), "/var/lib/ceph/osd/ceph-0");
        // Later, a startup-only option keeps its value; a dropped key falls back.
        let later = mon_values_to_apply(&c, &mon(&[("osd_debug_commit_delay", "9"), ("osd_max_object_size", "1M")]));
        c.set_mon_values(&later);
        let conf = OsdConf::build(&c, fixed());
        assert_eq!(conf.debug_commit_delay, Duration::from_secs(3));
        assert_eq!(conf.max_backfills, 1);
        assert_eq!(conf.max_object_size, 1 << 20);
    }
}
