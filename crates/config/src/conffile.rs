use crate::{Error, Result};
use std::collections::BTreeMap;
use std::path::Path;

/// Ceph option names are the same with spaces, dashes or underscores:
/// `mon host`, `mon-host` and `mon_host` are one key.
pub fn normalize_key(k: &str) -> String {
    let mut out = String::with_capacity(k.len());
    let mut last_us = false;
    for c in k.trim().chars() {
        let c = if c == ' ' || c == '-' || c == '\t' { '_' } else { c };
        // Runs of separators collapse, as in ConfFile::normalize_key_name.
        if c == '_' && last_us {
            continue;
        }
        last_us = c == '_';
        out.push(c);
    }
    out
}

/// A parsed `ceph.conf`: sections of key/value pairs.
#[derive(Debug, Clone, Default)]
pub struct ConfFile {
    sections: BTreeMap<String, BTreeMap<String, String>>,
}

impl ConfFile {
    pub fn read(path: &Path) -> Result<ConfFile> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Io { path: path.display().to_string(), source: e })?;
        Self::parse(&text).map_err(|(line, msg)| Error::Parse { path: path.display().to_string(), line, msg })
    }

    /// Parses Ceph's INI dialect: `[section]`, `key = value`, `#` and `;` comments
    /// (also after values), double-quoted values, and `\` line continuations.
    pub fn parse(text: &str) -> std::result::Result<ConfFile, (usize, String)> {
        let mut cf = ConfFile::default();
        let mut section: Option<String> = None;
        let mut pending = String::new();
        let mut start_line = 0;
        for (i, raw) in text.lines().enumerate() {
            if pending.is_empty() {
                start_line = i + 1;
            }
            if let Some(stripped) = raw.strip_suffix('\\') {
                pending.push_str(stripped);
                continue;
            }
            pending.push_str(raw);
            let line = std::mem::take(&mut pending);
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            if let Some(rest) = line.strip_prefix('[') {
                let end = rest.find(']').ok_or((start_line, "unterminated section header".to_string()))?;
                let name = rest[..end].trim().to_string();
                cf.sections.entry(name.clone()).or_default();
                section = Some(name);
                continue;
            }
            let (k, v) = line
                .split_once('=')
                .ok_or((start_line, format!("expected 'key = value', got '{line}'")))?;
            let value = parse_value(v.trim()).map_err(|m| (start_line, m))?;
            let sect = section.clone().unwrap_or_else(|| "global".to_string());
            cf.sections.entry(sect).or_default().insert(normalize_key(k), value);
        }
        Ok(cf)
    }

    pub fn get(&self, section: &str, key: &str) -> Option<&str> {
        self.sections.get(section)?.get(key).map(String::as_str)
    }

    pub fn set(&mut self, section: &str, key: &str, value: &str) {
        self.sections.entry(section.to_string()).or_default().insert(normalize_key(key), value.to_string());
    }

    pub fn sections(&self) -> impl Iterator<Item = (&String, &BTreeMap<String, String>)> {
        self.sections.iter()
    }
}

fn parse_value(v: &str) -> std::result::Result<String, String> {
    if let Some(rest) = v.strip_prefix('"') {
        let mut out = String::new();
        let mut chars = rest.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => {
                    if let Some(n) = chars.next() {
                        out.push(n)
                    }
                }
                '"' => {
                    let tail = chars.as_str().trim();
                    if !(tail.is_empty() || tail.starts_with('#') || tail.starts_with(';')) {
                        return Err(format!("unexpected text after quoted value: '{tail}'"));
                    }
                    return Ok(out);
                }
                c => out.push(c),
            }
        }
        return Err("unterminated quoted value".into());
    }
    let cut = v.find(['#', ';']).unwrap_or(v.len());
    Ok(v[..cut].trim().to_string())
}
