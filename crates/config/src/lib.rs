//! Ceph configuration: `ceph.conf` (INI with Ceph's rules), keyrings, `mon_host`
//! address forms, and the lookup order Ceph uses (`$name`, `$type`, `global`).

mod conffile;
mod keyring;
mod monhost;
mod options;

pub use conffile::{normalize_key, ConfFile};
pub use options::{OptSpec, OptType};
pub use keyring::{Keyring, KeyringEntry};
pub use monhost::parse_mon_host;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use types::EntityName;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{path}:{line}: {msg}")]
    Parse { path: String, line: usize, msg: String },
    #[error("{0}")]
    Invalid(String),
}

pub type Result<T> = std::result::Result<T, Error>;

/// Built-in defaults for the options we read (Pacific's values).
const DEFAULTS: &[(&str, &str)] = &[
    ("keyring", "/etc/ceph/$cluster.$name.keyring,/etc/ceph/$cluster.keyring,/etc/ceph/keyring,/etc/ceph/keyring.bin"),
    ("ms_mon_client_mode", "secure crc"),
    ("ms_client_mode", "crc secure"),
    ("ms_mon_cluster_mode", "secure crc"),
    ("ms_mon_service_mode", "secure crc"),
    ("ms_cluster_mode", "crc secure"),
    ("ms_service_mode", "crc secure"),
    ("auth_client_required", "cephx, none"),
    ("auth_cluster_required", "cephx"),
    ("auth_service_required", "cephx"),
    ("auth_supported", ""),
    ("client_mount_timeout", "300"),
    ("rados_mon_op_timeout", "0"),
    ("rados_osd_op_timeout", "0"),
    ("mon_client_hunt_interval", "3"),
    ("mon_client_ping_interval", "10"),
    ("auth_service_ticket_ttl", "3600"),
    ("log_to_stderr", "true"),
];

/// Where a value comes from, lowest first: Ceph's levels `CONF_DEFAULT` ..
/// `CONF_OVERRIDE`. The highest level that has a value wins, so ceph.conf
/// beats the monitors' config database, as in Ceph.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Default,
    /// The monitors' config database (MConfig).
    Mon,
    File,
    Env,
    Cmdline,
    /// Set while running: `config set`, `injectargs`.
    Override,
}

impl Level {
    /// Ceph's name (`ceph_conf_level_name`).
    pub fn name(self) -> &'static str {
        match self {
            Level::Default => "default",
            Level::Mon => "mon",
            Level::File => "file",
            Level::Env => "env",
            Level::Cmdline => "cmdline",
            Level::Override => "override",
        }
    }
}

/// The effective configuration of one entity (e.g. `client.admin` of cluster `ceph`):
/// values set while running, command-line overrides, then `[client.admin]`,
/// `[client]`, `[global]`, then the monitors' database, then defaults.
#[derive(Debug, Clone)]
pub struct Config {
    pub cluster: String,
    pub name: EntityName,
    pub conf_path: Option<PathBuf>,
    file: ConfFile,
    overrides: BTreeMap<String, String>,
    mon: BTreeMap<String, String>,
    runtime: BTreeMap<String, String>,
}

impl Config {
    /// Locates and reads the conf file as Ceph does: an explicit path (`-c`), else
    /// `$CEPH_CONF`, else `/etc/ceph/$cluster.conf`, `~/.ceph/$cluster.conf`,
    /// `./$cluster.conf`. A missing default file is not an error; a missing explicit one is.
    pub fn load(cluster: &str, name: EntityName, explicit: Option<&Path>) -> Result<Config> {
        let explicit = explicit
            .map(Path::to_path_buf)
            .or_else(|| std::env::var_os("CEPH_CONF").map(PathBuf::from));
        let (file, conf_path) = match explicit {
            Some(p) => (ConfFile::read(&p)?, Some(p)),
            None => {
                let mut found = (ConfFile::default(), None);
                let home = std::env::var("HOME").unwrap_or_default();
                for cand in [
                    format!("/etc/ceph/{cluster}.conf"),
                    format!("{home}/.ceph/{cluster}.conf"),
                    format!("{cluster}.conf"),
                ] {
                    let p = PathBuf::from(&cand);
                    if p.exists() {
                        found = (ConfFile::read(&p)?, Some(p));
                        break;
                    }
                }
                found
            }
        };
        Ok(Config { conf_path, ..Config::from_conf(cluster, name, file) })
    }

    pub fn from_conf(cluster: &str, name: EntityName, file: ConfFile) -> Config {
        Config { cluster: cluster.to_string(), name, conf_path: None, file, overrides: BTreeMap::new(), mon: BTreeMap::new(), runtime: BTreeMap::new() }
    }

    /// Replaces the monitors' values (an MConfig holds them all each time):
    /// a key the monitors no longer send falls back to the level below.
    pub fn set_mon_values(&mut self, values: &BTreeMap<String, String>) {
        self.mon = values.iter().map(|(k, v)| (normalize_key(k), v.clone())).collect();
    }

    pub fn mon_values(&self) -> &BTreeMap<String, String> {
        &self.mon
    }

    /// A value set while running (`config set`, `injectargs`): above every other level.
    pub fn set_runtime(&mut self, key: &str, value: &str) {
        self.runtime.insert(normalize_key(key), value.to_string());
    }

    /// Drops a value set while running; whether there was one.
    pub fn unset_runtime(&mut self, key: &str) -> bool {
        self.runtime.remove(&normalize_key(key)).is_some()
    }

    /// The value of `key` at each level that has one, lowest first (defaults
    /// only from the built-in table; a daemon adds its own).
    pub fn levels(&self, key: &str) -> Vec<(Level, String)> {
        let key = normalize_key(key);
        let mut out = Vec::new();
        if let Some((_, v)) = DEFAULTS.iter().find(|(k, _)| *k == key) {
            out.push((Level::Default, v.to_string()));
        }
        if let Some(v) = self.mon.get(&key) {
            out.push((Level::Mon, v.clone()));
        }
        if let Some(v) = self.file_value(&key) {
            out.push((Level::File, v.to_string()));
        }
        if let Some(v) = self.overrides.get(&key) {
            out.push((Level::Cmdline, v.clone()));
        }
        if let Some(v) = self.runtime.get(&key) {
            out.push((Level::Override, v.clone()));
        }
        out
    }

    /// Every key some level above the defaults sets for this entity.
    pub fn keys_set(&self) -> std::collections::BTreeSet<String> {
        let full = self.name.to_string();
        let ty = self.name.ty.name();
        let mut keys: std::collections::BTreeSet<String> = self.mon.keys().chain(self.overrides.keys()).chain(self.runtime.keys()).cloned().collect();
        for (sect, kv) in self.file.sections() {
            if sect == &full || sect == ty || sect == "global" {
                keys.extend(kv.keys().cloned());
            }
        }
        keys
    }

    fn file_value(&self, key: &str) -> Option<&str> {
        let full = self.name.to_string();
        let ty = self.name.ty.name();
        let found = [full.as_str(), ty, "global"].into_iter().find_map(|sect| self.file.get(sect, key));
        found
    }

    /// `--key value` or `--key=value` on the command line (or in CEPH_ARGS) wins over the file.
    pub fn set_override(&mut self, key: &str, value: &str) {
        self.overrides.insert(normalize_key(key), value.to_string());
    }

    /// The raw value before metavariable expansion.
    pub fn get_raw(&self, key: &str) -> Option<String> {
        let key = normalize_key(key);
        if let Some(v) = self.runtime.get(&key).or_else(|| self.overrides.get(&key)) {
            return Some(v.clone());
        }
        if let Some(v) = self.file_value(&key) {
            return Some(v.to_string());
        }
        if let Some(v) = self.mon.get(&key) {
            return Some(v.clone());
        }
        DEFAULTS.iter().find(|(k, _)| *k == key).map(|(_, v)| v.to_string())
    }

    /// The value with `$cluster`, `$type`, `$id`, `$name`, `$host` and other options
    /// (`$run_dir`, ...) expanded.
    pub fn get(&self, key: &str) -> Option<String> {
        self.get_raw(key).map(|v| self.expand(&v, 0))
    }

    pub fn get_u64(&self, key: &str) -> Option<u64> {
        self.get(key).and_then(|v| v.trim().parse().ok())
    }
    pub fn get_f64(&self, key: &str) -> Option<f64> {
        self.get(key).and_then(|v| v.trim().parse().ok())
    }
    pub fn get_bool(&self, key: &str) -> Option<bool> {
        self.get(key).map(|v| matches!(v.trim(), "true" | "1" | "yes" | "on"))
    }

    fn expand(&self, v: &str, depth: usize) -> String {
        // Values may name each other (from the monitors too): a cap keeps
        // `$a$a$a...` chains from growing without bound.
        const MAX_EXPANDED: usize = 64 << 10;
        let mut out = String::with_capacity(v.len());
        let mut rest = v;
        while let Some(i) = rest.find('$') {
            if out.len() > MAX_EXPANDED {
                break;
            }
            out.push_str(&rest[..i]);
            let after = &rest[i + 1..];
            let braced = after.starts_with('{');
            let body = if braced { &after[1..] } else { after };
            let len = body.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(body.len());
            let var = &body[..len];
            let consumed = if braced && body[len..].starts_with('}') { len + 2 } else { len };
            let val = match var {
                "cluster" => Some(self.cluster.clone()),
                "type" => Some(self.name.ty.name().to_string()),
                "id" => Some(self.name.id.clone()),
                "name" => Some(self.name.to_string()),
                "host" => Some(hostname()),
                "pid" => Some(std::process::id().to_string()),
                "" => None,
                other if depth < 8 => self.get_raw(other).map(|x| self.expand(&x, depth + 1)),
                _ => None,
            };
            match val {
                Some(x) => out.push_str(&x),
                None => {
                    out.push('$');
                    out.push_str(&after[..consumed]);
                }
            }
            rest = &after[consumed..];
        }
        out.push_str(rest);
        out
    }

    /// Every keyring file candidate from the `keyring` option, expanded.
    pub fn keyring_paths(&self) -> Vec<PathBuf> {
        self.get("keyring")
            .unwrap_or_default()
            .split([',', ';', ' ', '\t'])
            .filter(|s| !s.is_empty())
            .map(PathBuf::from)
            .collect()
    }

    /// The first keyring that exists and parses, the way `KeyRing::from_ceph_context`
    /// searches; also honours `key` and `keyfile`.
    pub fn load_keyring(&self) -> Result<Keyring> {
        if let Some(k) = self.get("key").filter(|k| !k.is_empty()) {
            let mut kr = Keyring::default();
            kr.insert(self.name.clone(), k.trim().to_string());
            return Ok(kr);
        }
        if let Some(f) = self.get("keyfile").filter(|k| !k.is_empty()) {
            let s = std::fs::read_to_string(&f).map_err(|e| Error::Io { path: f.clone(), source: e })?;
            let mut kr = Keyring::default();
            kr.insert(self.name.clone(), s.trim().to_string());
            return Ok(kr);
        }
        let paths = self.keyring_paths();
        for p in &paths {
            if p.exists() {
                return Keyring::read(p);
            }
        }
        Err(Error::Invalid(format!(
            "unable to find a keyring on {}: (2) No such file or directory",
            paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(",")
        )))
    }

    /// The cephx/none auth methods this client accepts, in order.
    pub fn auth_methods(&self) -> Vec<String> {
        let v = self
            .get("auth_supported")
            .filter(|s| !s.trim().is_empty())
            .or_else(|| self.get("auth_client_required"))
            .unwrap_or_default();
        split_list(&v)
    }
}

/// Splits Ceph list values: commas, semicolons, spaces or tabs.
pub fn split_list(v: &str) -> Vec<String> {
    v.split([',', ';', ' ', '\t']).filter(|s| !s.is_empty()).map(str::to_string).collect()
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "localhost".into())
}

#[cfg(test)]
mod tests;
