use crate::{conffile::ConfFile, Error, Result};
use std::collections::BTreeMap;
use std::path::Path;
use types::EntityName;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyringEntry {
    /// base64 of the encoded CryptoKey, as written in the file.
    pub key: String,
    /// `caps mon = "allow *"` lines: service → cap string.
    pub caps: BTreeMap<String, String>,
}

/// A Ceph keyring file: `[client.admin]` sections with `key = ...` and `caps X = ...`.
#[derive(Debug, Clone, Default)]
pub struct Keyring {
    pub entries: BTreeMap<EntityName, KeyringEntry>,
}

impl Keyring {
    pub fn read(path: &Path) -> Result<Keyring> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Io { path: path.display().to_string(), source: e })?;
        Self::parse(&text).map_err(|m| Error::Parse { path: path.display().to_string(), line: 0, msg: m })
    }

    pub fn parse(text: &str) -> std::result::Result<Keyring, String> {
        let cf = ConfFile::parse(text).map_err(|(l, m)| format!("line {l}: {m}"))?;
        let mut kr = Keyring::default();
        for (sect, kv) in cf.sections() {
            let Ok(name) = sect.parse::<EntityName>() else { continue };
            let Some(key) = kv.get("key") else { continue };
            let caps = kv
                .iter()
                .filter_map(|(k, v)| k.strip_prefix("caps_").map(|s| (s.to_string(), v.clone())))
                .collect();
            kr.entries.insert(name, KeyringEntry { key: key.clone(), caps });
        }
        Ok(kr)
    }

    pub fn insert(&mut self, name: EntityName, key: String) {
        self.entries.insert(name, KeyringEntry { key, caps: BTreeMap::new() });
    }

    pub fn get(&self, name: &EntityName) -> Option<&KeyringEntry> {
        self.entries.get(name)
    }

    /// The text form `ceph auth get` and `ceph-authtool` write.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        for (name, e) in &self.entries {
            s.push_str(&format!("[{name}]\n\tkey = {}\n", e.key));
            for (svc, cap) in &e.caps {
                s.push_str(&format!("\tcaps {svc} = \"{cap}\"\n"));
            }
        }
        s
    }
}
