//! `ceph --help`: the general usage, then the table of the cluster's commands
//! formatted exactly as the real CLI does (`format_help` and `wrap`).

use crate::argparse::{concise_sig, Command, FLAG_DEPRECATED, FLAG_HIDDEN, FLAG_OBSOLETE};

/// `hdr(s)`: Python's `print('\n', s, '\n', '=' * len(s))`.
pub fn hdr(s: &str) -> String {
    format!("\n {s} \n {}\n", "=".repeat(s.len()))
}

pub fn general_usage() -> String {
    let mut s = hdr("General usage:");
    s.push_str(crate::options::USAGE);
    s.push_str(OPTIONS_HELP);
    s
}

const OPTIONS_HELP: &str = r#"
Ceph administration tool

options:
  -h, --help            request mon help
  -c CEPHCONF, --conf CEPHCONF
                        ceph configuration file
  -i INPUT_FILE, --in-file INPUT_FILE
                        input file, or "-" for stdin
  -o OUTPUT_FILE, --out-file OUTPUT_FILE
                        output file, or "-" for stdout
  --setuser SETUSER     set user file permission
  --setgroup SETGROUP   set group file permission
  --id CLIENT_ID, --user CLIENT_ID
                        client id for authentication
  --name CLIENT_NAME, -n CLIENT_NAME
                        client name for authentication
  --cluster CLUSTER     cluster name
  --admin-daemon ADMIN_SOCKET
                        submit admin-socket commands ("help" for help)
  -s, --status          show cluster status
  -w, --watch           watch live cluster changes
  --watch-debug         watch debug events
  --watch-info          watch info events
  --watch-sec           watch security events
  --watch-warn          watch warn events
  --watch-error         watch error events
  -W WATCH_CHANNEL, --watch-channel WATCH_CHANNEL
                        watch live cluster changes on a specific channel
                        (e.g., cluster, audit, cephadm, or '*' for all)
  --version, -v         display version
  --verbose             make verbose
  --concise             make less verbose
  -f {json,json-pretty,xml,xml-pretty,plain,yaml}, --format {json,json-pretty,xml,xml-pretty,plain,yaml}
  --connect-timeout CLUSTER_TIMEOUT
                        set a timeout for connecting to the cluster
  --block               block until completion (scrub and deep-scrub only)
  --period PERIOD, -p PERIOD
                        polling period, default 1.0 second (for polling
                        commands only)
"#;

const DONTSPLIT: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ{[<>]}";

/// `wrap(s, width, indent)`: breaks after any character that is not a letter or
/// bracket; continuation lines get `indent` spaces.
pub fn wrap(s: &str, width: usize, indent: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut s: Vec<char> = s.chars().collect();
    let mut width = width;
    let mut first = true;
    let mut leader = String::new();
    while !s.is_empty() {
        if s.len() <= width {
            out.push(format!("{leader}{}", s.iter().collect::<String>()));
            break;
        }
        let mut sp = width;
        while sp > 0 && DONTSPLIT.contains(s[sp - 1]) {
            sp -= 1;
        }
        if sp == 0 {
            sp = width;
        }
        let chunk: String = s[..sp].iter().collect();
        if first {
            leader = " ".repeat(indent);
            width -= 1;
            out.push(chunk.trim_start().to_string());
            first = false;
        } else {
            out.push(format!("{leader}{}", chunk.trim_start()));
        }
        s.drain(..sp);
    }
    out
}

/// `format_help(sigdict, partial)` for a terminal `cols` wide.
pub fn format_help(cmds: &[Command], partial: &str, cols: usize) -> String {
    let mut rows: Vec<(String, &Command)> = cmds.iter().map(|c| (concise_sig(&c.sig), c)).collect();
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    let width = cols - 1;
    let sig_width = width / 2;
    let help_width = width / 2 + width % 2;
    let mut out = String::new();
    for (concise, cmd) in rows {
        if cmd.help.is_empty() || cmd.flags & (FLAG_OBSOLETE | FLAG_DEPRECATED | FLAG_HIDDEN) != 0 {
            continue;
        }
        if !partial.is_empty() && !concise.starts_with(partial) {
            continue;
        }
        let mut sl = wrap(&concise, sig_width, 1);
        let mut hl = wrap(&cmd.help, help_width, 1);
        let n = sl.len().max(hl.len());
        sl.resize(n, String::new());
        hl.resize(n, String::new());
        for (a, b) in sl.iter().zip(hl.iter()) {
            out.push_str(&format!("{a:<sig_width$} {b}\n"));
        }
    }
    out
}

/// The terminal width the real CLI uses: stdin's, else 80.
pub fn terminal_cols() -> usize {
    let mut ws: libc_winsize = libc_winsize::default();
    // SAFETY: TIOCGWINSZ writes a winsize struct into the pointer we pass.
    let r = unsafe { ioctl(0, 0x5413, &mut ws as *mut libc_winsize) };
    if r == 0 && ws.cols > 0 {
        ws.cols as usize
    } else {
        80
    }
}

#[repr(C)]
#[derive(Default)]
struct libc_winsize {
    rows: u16,
    cols: u16,
    x: u16,
    y: u16,
}

extern "C" {
    fn ioctl(fd: i32, req: u64, ...) -> i32;
}
