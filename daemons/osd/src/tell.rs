//! `ceph tell osd.N ...`: MCommand from a client, answered with
//! MCommandReply, as a Ceph OSD answers it from its admin-socket command
//! table (`OSD::handle_command`, `OSD::asok_command`). Only clients with
//! `allow *` OSD caps may send these, as in Ceph.

use crate::service::Osd;
use bytes::Bytes;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// Ceph's `OSDService::s_names`, in its order: a state includes those below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FullState {
    None,
    Nearfull,
    Backfillfull,
    Full,
    Failsafe,
}

impl FullState {
    fn parse(s: &str) -> Option<FullState> {
        Some(match s {
            "none" => FullState::None,
            "nearfull" => FullState::Nearfull,
            "backfillfull" => FullState::Backfillfull,
            "full" => FullState::Full,
            "failsafe" => FullState::Failsafe,
            _ => return None,
        })
    }

    /// The OSD state bit the mon puts in the map for it.
    pub fn map_bit(self) -> u32 {
        use maps::osdmap::{OSD_BACKFILLFULL, OSD_FULL, OSD_NEARFULL};
        match self {
            FullState::None => 0,
            FullState::Nearfull => OSD_NEARFULL,
            FullState::Backfillfull => OSD_BACKFILLFULL,
            FullState::Full | FullState::Failsafe => OSD_FULL,
        }
    }
}

/// `injectfull TYPE COUNT`: the OSD acts as if that full for COUNT checks
/// (-1: until `injectfull none`), for testing what a full disk does.
#[derive(Default)]
pub struct InjectedFull {
    /// Set while something is injected: writes check this, not the lock.
    active: AtomicBool,
    state: Mutex<Option<(FullState, i64)>>,
}

impl InjectedFull {
    pub fn set(&self, state: FullState, count: i64) {
        let mut g = self.state.lock().unwrap_or_else(|p| p.into_inner());
        *g = (state != FullState::None && count != 0).then_some((state, count));
        self.active.store(g.is_some(), Ordering::Relaxed);
    }

    /// The injected state, while it lasts.
    pub fn state(&self) -> FullState {
        if !self.active.load(Ordering::Relaxed) {
            return FullState::None;
        }
        self.state.lock().unwrap_or_else(|p| p.into_inner()).map_or(FullState::None, |(s, _)| s)
    }

    /// Whether a check for `at_least` is answered by the injection; counts
    /// it down (Ceph's `_check_inject_full`).
    pub fn check(&self, at_least: FullState) -> bool {
        if !self.active.load(Ordering::Relaxed) {
            return false;
        }
        let mut g = self.state.lock().unwrap_or_else(|p| p.into_inner());
        match g.as_mut() {
            Some((s, n)) if *s >= at_least => {
                if *n > 0 {
                    *n -= 1;
                }
                if *n == 0 {
                    *g = None;
                    self.active.store(false, Ordering::Relaxed);
                }
                true
            }
            _ => false,
        }
    }
}

/// One command we answer: its signature as `get_command_descriptions` gives
/// it (Ceph's asok form: words and argument descriptors), and its help.
struct Desc {
    sig: fn() -> Value,
    help: &'static str,
}

fn arg(name: &str, ty: &str, req: bool) -> Value {
    let mut v = json!({"name": name, "type": ty});
    if !req {
        v["req"] = json!("false");
    }
    v
}

const COMMANDS: &[Desc] = &[
    Desc { sig: || json!(["flush_pg_stats"]), help: "flush pg stats" },
    Desc { sig: || json!(["get_command_descriptions"]), help: "list available commands" },
    Desc { sig: || json!(["injectfull", arg("type", "CephString", false), arg("count", "CephInt", false)]), help: "Inject a full disk (optional count times)" },
    Desc { sig: || json!(["status"]), help: "high-level status of OSD" },
    Desc { sig: || json!(["version"]), help: "get ceph version" },
];

/// The reply to one command: (r, rs, output).
pub fn handle(osd: &Osd, cmd: &[String]) -> (i32, String, Bytes) {
    // The CLI sends one JSON object; Ceph joins the vector first.
    let joined = cmd.concat();
    let args: serde_json::Map<String, Value> = match serde_json::from_str::<Value>(&joined) {
        Ok(Value::Object(m)) => m,
        _ => return (-22, format!("failed to parse command '{joined}'"), Bytes::new()),
    };
    let prefix = args.get("prefix").and_then(Value::as_str).unwrap_or("");
    let format = args.get("format").and_then(Value::as_str).unwrap_or("json-pretty");
    let out = |v: Value| Bytes::from(formatted(format, &v));
    match prefix {
        "get_command_descriptions" => {
            let mut m = serde_json::Map::new();
            for (i, d) in COMMANDS.iter().enumerate() {
                m.insert(format!("cmd{i:03}"), json!({"sig": (d.sig)(), "help": d.help}));
            }
            (0, String::new(), Bytes::from(formatted("json-pretty", &Value::Object(m))))
        }
        "version" => (0, String::new(), out(json!({"version": "16.2.15", "release": "pacific", "release_type": "stable"}))),
        "status" => {
            let map = osd.map();
            let osd_fsid = osd.store.get_super("osd_fsid").ok().flatten().map(|v| String::from_utf8_lossy(&v).into_owned()).unwrap_or_default();
            let v = json!({
                "cluster_fsid": osd.fsid.to_string(),
                "osd_fsid": osd_fsid,
                "whoami": osd.whoami,
                "state": if map.is_up(osd.whoami) { "active" } else { "booting" },
                "oldest_map": osd.history.oldest(),
                "cluster_osdmap_trim_lower_bound": osd.history.oldest(),
                "newest_map": map.epoch,
                "num_pgs": osd.pg_count(),
            });
            (0, String::new(), out(v))
        }
        "injectfull" => {
            let ty = args.get("type").and_then(Value::as_str).unwrap_or("full");
            let count = args.get("count").and_then(Value::as_i64).unwrap_or(-1);
            match FullState::parse(ty) {
                // As Pacific: the complaint is the output, and r is 0.
                None => (0, String::new(), Bytes::from_static(b"Invalid type use (none, nearfull, backfillfull, full, failsafe)\n")),
                Some(state) => {
                    osd.inject_full(state, count);
                    (0, String::new(), Bytes::new())
                }
            }
        }
        "flush_pg_stats" => {
            let seq = osd.flush_stats();
            (0, String::new(), Bytes::from(seq.to_string()))
        }
        _ => (-22, "unknown command prefix ".to_string() + prefix, Bytes::new()),
    }
}

/// As the OSD's formatters: `json` compact; the rest (json-pretty, and the
/// xml and plain Ceph also knows) as json-pretty.
fn formatted(format: &str, v: &Value) -> Vec<u8> {
    if format == "json" {
        return serde_json::to_vec(v).unwrap_or_default();
    }
    // Ceph's json-pretty: four spaces, and a newline at the end.
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut out, serde_json::ser::PrettyFormatter::with_indent(b"    "));
    let _ = serde::Serialize::serialize(v, &mut ser);
    out.push(b'\n');
    out
}
