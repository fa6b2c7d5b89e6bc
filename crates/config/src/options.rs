//! Typed options: what a daemon knows of each option it reads (Ceph's
//! `Option` schema in `src/common/options.cc`), so that values set at run
//! time are checked and shown as Ceph shows them (`Option::to_str`).

/// An option's type, as Ceph's `Option::type_t` (the ones we use).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptType {
    Int,
    Uint,
    Float,
    Bool,
    /// Bytes; `64M` means 64 MiB.
    Size,
    Str,
    /// `debug_<subsys>`: `"N/M"` log and memory levels.
    Debug,
}

#[derive(Debug, Clone, Copy)]
pub struct OptSpec {
    pub name: &'static str,
    pub ty: OptType,
    pub default: &'static str,
    pub min: Option<i64>,
    pub max: Option<i64>,
    /// Whether the daemon may change it while running. Ceph's rule
    /// (`Option::can_update_at_runtime`): numbers and bools may, unless
    /// flagged startup-only; strings only where the daemon watches them.
    pub runtime: bool,
    /// Whether a change takes effect at once (Ceph: an observer tracks it);
    /// otherwise `config set` adds "(not observed, change may require restart)".
    pub observed: bool,
}

impl OptSpec {
    pub const fn new(name: &'static str, ty: OptType, default: &'static str) -> OptSpec {
        let runtime = !matches!(ty, OptType::Str);
        OptSpec { name, ty, default, min: None, max: None, runtime, observed: runtime }
    }
    pub const fn range(mut self, min: i64, max: i64) -> OptSpec {
        self.min = Some(min);
        self.max = Some(max);
        self
    }
    /// Read once at start: refused at run time unless unchanged.
    pub const fn startup(mut self) -> OptSpec {
        self.runtime = false;
        self.observed = false;
        self
    }
    /// May be set at run time, but the daemon reads it only at start.
    pub const fn unobserved(mut self) -> OptSpec {
        self.observed = false;
        self
    }

    /// `v` in Ceph's shown form (`Option::to_str` of the parsed value), or
    /// the reason it does not parse, in the words of Ceph's parsers.
    pub fn canonical(&self, v: &str) -> Result<String, String> {
        let s = v.trim();
        let out = match self.ty {
            OptType::Str => return Ok(v.to_string()),
            // `strict_strtob`: true/false in any case, or an integer (non-zero is true).
            OptType::Bool => match s.to_ascii_lowercase().as_str() {
                "true" => "true".to_string(),
                "false" => "false".to_string(),
                _ => match s.parse::<i64>() {
                    Ok(n) => (n != 0).to_string(),
                    Err(_) => return Err(format!("Expected option value to be integer, got '{s}'")),
                },
            },
            OptType::Float => match s.parse::<f64>() {
                Ok(f) if f.is_finite() => format!("{f:.6}"),
                _ => return Err(format!("strict_strtod: expected double, got: '{s}'")),
            },
            OptType::Int | OptType::Uint => {
                let n = si_int(s)?;
                if self.ty == OptType::Uint && n < 0 {
                    return Err("strict_sistrtoll: value should not be negative".into());
                }
                self.check_range(n, s)?;
                n.to_string()
            }
            OptType::Size => {
                let n = iec_size(s)?;
                self.check_range(i64::try_from(n).unwrap_or(i64::MAX), s)?;
                n.to_string()
            }
            OptType::Debug => {
                let level = |x: &str| x.trim().parse::<u8>().ok().filter(|n| *n <= 99);
                match s.split_once('/') {
                    Some((a, b)) => match (level(a), level(b)) {
                        (Some(a), Some(b)) => format!("{a}/{b}"),
                        _ => return Err(format!("Invalid debug level, expected N or N/M, got '{s}'")),
                    },
                    None => match level(s) {
                        Some(a) => format!("{a}/{a}"),
                        None => return Err(format!("Invalid debug level, expected N or N/M, got '{s}'")),
                    },
                }
            }
        };
        Ok(out)
    }

    fn check_range(&self, n: i64, s: &str) -> Result<(), String> {
        if let Some(max) = self.max.filter(|m| n > *m) {
            return Err(format!("Value '{s}' exceeds maximum {max}"));
        }
        if let Some(min) = self.min.filter(|m| n < *m) {
            return Err(format!("Value '{s}' is below minimum {min}"));
        }
        Ok(())
    }
}

/// An integer with an optional SI unit (`2K` = 2000), as `strict_si_cast`.
fn si_int(s: &str) -> Result<i64, String> {
    let bad = || "strict_si_cast: unit prefix not recognized".to_string();
    let (num, mult) = match s.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let m: i64 = match c {
                'K' => 1_000,
                'M' => 1_000_000,
                'G' => 1_000_000_000,
                'T' => 1_000_000_000_000,
                'P' => 1_000_000_000_000_000,
                'E' => 1_000_000_000_000_000_000,
                _ => return Err(bad()),
            };
            (&s[..i], m)
        }
        _ => (s, 1),
    };
    let n: i64 = num.parse().map_err(|_| bad())?;
    n.checked_mul(mult).ok_or_else(|| "strict_si_cast: the integer value is out of range".to_string())
}

/// Bytes with an optional IEC unit (`64M`, `1Gi`), as `strict_iec_cast`.
fn iec_size(s: &str) -> Result<u64, String> {
    let bad = || "strict_iecstrtoll: unit prefix not recognized".to_string();
    let t = s.strip_suffix('i').unwrap_or(s);
    let (num, shift) = match t.chars().last() {
        Some(c) if c.is_ascii_alphabetic() => {
            let sh = match c {
                'K' => 10,
                'M' => 20,
                'G' => 30,
                'T' => 40,
                'P' => 50,
                'E' => 60,
                _ => return Err(bad()),
            };
            (&t[..t.len() - 1], sh)
        }
        _ if t.len() != s.len() => return Err(bad()),
        _ => (t, 0),
    };
    if num.starts_with('-') {
        return Err("strict_iecstrtoll: value should not be negative".into());
    }
    let n: u64 = num.parse().map_err(|_| bad())?;
    n.checked_mul(1u64 << shift).ok_or_else(|| "strict_iecstrtoll: the value is out of range".to_string())
}
