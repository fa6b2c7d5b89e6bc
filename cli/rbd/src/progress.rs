//! `rbd`'s progress lines on stderr (`tools/rbd/Utils.cc` ProgressContext):
//! `\rImporting image: 42% complete...`, then `...done.` or `...failed.`.

use std::io::Write;
use std::sync::atomic::{AtomicI64, Ordering};

pub struct Progress {
    op: &'static str,
    on: bool,
    last: AtomicI64,
}

impl Progress {
    pub fn new(op: &'static str, on: bool) -> Progress {
        // like the real tool, 0% is never printed by an update
        Progress { op, on, last: AtomicI64::new(0) }
    }
    pub fn finish(&self) {
        if self.on {
            eprintln!("\r{}: 100% complete...done.", self.op);
        }
    }
    /// Ends the line for an operation's outcome: "done." or "failed.".
    pub fn end<T, E>(&self, r: &Result<T, E>) {
        match r {
            Ok(_) => self.finish(),
            Err(_) => self.fail(),
        }
    }

    pub fn fail(&self) {
        if self.on {
            eprintln!("\r{}: {}% complete...failed.", self.op, self.last.load(Ordering::Relaxed).max(0));
        }
    }
}

impl rbd::Progress for Progress {
    fn update(&self, done: u64, total: u64) {
        if !self.on || total == 0 {
            return;
        }
        let pc = (done as f64 * 100.0 / total as f64) as i64;
        // 100% is printed by finish(), with "done."
        if pc >= 100 {
            return;
        }
        if self.last.fetch_max(pc, Ordering::Relaxed) < pc {
            eprint!("\r{}: {pc}% complete...", self.op);
            let _ = std::io::stderr().flush();
        }
    }
}
