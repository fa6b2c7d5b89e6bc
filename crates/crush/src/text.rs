//! The CRUSH map text format of `crushtool -d` / `crushtool -c` (Ceph
//! Pacific's `CrushCompiler`).
//!
//! [`decompile`] prints a map exactly as `crushtool -d` does; [`compile`]
//! builds the map `crushtool -c` builds from a text, so that the binary
//! encoding (`denc::Encode`) is byte-identical to crushtool's output. That
//! includes crushtool's quirks: weights are parsed as `float` and scaled
//! in single precision, buckets are reordered so that children come before
//! parents, implicit bucket ids are picked the way the compiler picks them,
//! device-class shadow trees (`default~ssd`) are built when the first rule
//! is seen (and a failure there is ignored, leaving a partial shadow tree,
//! exactly like Pacific), the bucket array grows by doubling, and so on.
//!
//! Where crushtool would crash or corrupt memory (a uniform bucket whose
//! size times weight overflows, a tree bucket with more than 64 items whose
//! node count overflows its `u8`, bucket/rule ids so large that crushtool
//! would allocate gigabytes, …) [`compile`] returns an error instead.

use crate::map::{op, Bucket, BucketAlg, BucketData, ChooseArg, CrushMap, Rule, RuleStep, Tunables};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt::{self, Write as _};

/// `CEPH_PG_TYPE_REPLICATED` / `CEPH_PG_TYPE_ERASURE`.
const PG_TYPE_REPLICATED: u8 = 1;
const PG_TYPE_ERASURE: u8 = 3;
/// `CRUSH_MAX_DEVICE_WEIGHT` / `CRUSH_MAX_BUCKET_WEIGHT` (16.16).
const MAX_DEVICE_WEIGHT: u32 = 100 * 0x10000;
const MAX_BUCKET_WEIGHT: u32 = 65535 * 0x10000;
/// `CRUSH_MAX_RULES`.
const MAX_RULES: u32 = 256;
/// Limits where crushtool would allocate absurd amounts of memory.
const MAX_BUCKET_INDEX: i64 = 1 << 18;
const MAX_RULE_ID: i64 = 1 << 16;
const MAX_TREE_ITEMS: usize = 64;
const MAX_DEPTH: usize = 1000;

// ====================================================================
// decompile
// ====================================================================

/// `print_fixedpoint`: `snprintf("%.3f", (float)i / (float)0x10000)`.
/// The quotient is exact (a power-of-two scaling of a float), so it is
/// printed from the exact rational value with glibc's round-half-even.
fn fixed3(i: i32) -> String {
    let n = (i as f32) as i64; // an integer: f32 rounding of i
    let neg = n < 0;
    let num = n.unsigned_abs() as u128 * 1000;
    let mut q = num >> 16;
    let r = num & 0xffff;
    if r > 0x8000 || (r == 0x8000 && q & 1 == 1) {
        q += 1;
    }
    format!("{}{}.{:03}", if neg { "-" } else { "" }, q / 1000, q % 1000)
}

/// crushtool's `is_valid_crush_name`.
fn valid_crush_name(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_' || c == b'.')
}

fn type_name(m: &CrushMap, t: i32) -> String {
    match m.type_map.get(&t) {
        Some(n) => n.clone(),
        None if t == 0 => "device".into(),
        None => format!("type{t}"),
    }
}

fn item_name(m: &CrushMap, t: i32) -> String {
    match m.name_map.get(&t) {
        Some(n) => n.clone(),
        None if t >= 0 => format!("device{t}"),
        None => format!("bucket{}", -1i64 - t as i64),
    }
}

fn alg_name(a: BucketAlg) -> &'static str {
    a.name()
}

fn decompile_bucket_impl(m: &CrushMap, b: &Bucket, out: &mut String) {
    if let Some(n) = m.name_map.get(&b.id) {
        if !valid_crush_name(n) {
            return; // shadow buckets (`default~ssd`) are not printed
        }
    }
    let _ = writeln!(out, "{} {} {{", type_name(m, b.ty as i32), item_name(m, b.id));
    let _ = writeln!(out, "\tid {}\t\t# do not change unnecessarily", b.id);
    if let Some(classes) = m.class_bucket.get(&b.id) {
        for (c, cid) in classes {
            let cname = m.class_name.get(c).cloned().unwrap_or_else(|| format!("{c}"));
            let _ = writeln!(out, "\tid {cid} class {cname}\t\t# do not change unnecessarily");
        }
    }
    let _ = writeln!(out, "\t# weight {}", fixed3(b.weight as i32));
    let n = b.items.len();
    out.push_str("\talg ");
    out.push_str(alg_name(b.alg));
    let dopos = match b.alg {
        BucketAlg::Uniform => {
            let _ = write!(out, "\t# do not change bucket size ({n}) unnecessarily");
            true
        }
        BucketAlg::List => {
            out.push_str("\t# add new items at the end; do not change order unnecessarily");
            false
        }
        BucketAlg::Tree => {
            out.push_str("\t# do not change pos for existing items unnecessarily");
            true
        }
        _ => false,
    };
    out.push('\n');
    let hname = if b.hash == 0 { "rjenkins1" } else { "unknown" };
    let _ = writeln!(out, "\thash {}\t# {}", b.hash, hname);
    for (j, &item) in b.items.iter().enumerate() {
        let _ = write!(out, "\titem {} weight {}", item_name(m, item), fixed3(b.item_weight(j) as i32));
        if dopos {
            let _ = write!(out, " pos {j}");
        }
        out.push('\n');
    }
    out.push_str("}\n");
}

/// Children before parents, starting from bucket -1 downwards
/// (`CrushCompiler::decompile_bucket`, without recursion).
fn decompile_buckets(m: &CrushMap, out: &mut String) {
    #[derive(PartialEq)]
    enum St {
        InProgress,
        Done,
    }
    let mut state: HashMap<i32, St> = HashMap::new();
    for idx in 0..m.buckets.len() {
        let root = -1 - idx as i32;
        if m.bucket(root).is_none() || state.contains_key(&root) {
            continue;
        }
        state.insert(root, St::InProgress);
        let mut stack: Vec<(i32, usize)> = vec![(root, 0)];
        while let Some(&mut (cur, ref mut next)) = stack.last_mut() {
            let b = m.bucket(cur).expect("bucket on stack exists");
            if *next < b.items.len() {
                let item = b.items[*next];
                *next += 1;
                if item == 0 || m.bucket(item).is_none() || state.contains_key(&item) {
                    // devices, missing buckets, buckets already printed; a
                    // bucket in progress is a cycle (crushtool fails): skip
                    continue;
                }
                state.insert(item, St::InProgress);
                stack.push((item, 0));
            } else {
                decompile_bucket_impl(m, b, out);
                state.insert(cur, St::Done);
                stack.pop();
            }
        }
    }
    debug_assert!(state.values().all(|s| *s == St::Done));
}

/// `CrushWrapper::split_id_class`: `default~ssd` → (default's id, ssd's class id).
fn split_id_class(m: &CrushMap, id: i32) -> Option<(i32, Option<i32>)> {
    let name = m.name_map.get(&id)?;
    let Some((base, class)) = name.split_once('~') else {
        return Some((id, None));
    };
    let base_id = m.item_id_by_name(base)?;
    let class_id = m.class_name.iter().find(|(_, n)| *n == class).map(|(i, _)| *i)?;
    Some((base_id, Some(class_id)))
}

/// The text `crushtool -d` prints for `map`.
pub fn decompile(m: &CrushMap) -> String {
    let mut out = String::new();
    out.push_str("# begin crush map\n");
    let t = &m.tunables;
    let l = Tunables::LEGACY;
    if t.choose_local_tries != l.choose_local_tries {
        let _ = writeln!(out, "tunable choose_local_tries {}", t.choose_local_tries);
    }
    if t.choose_local_fallback_tries != l.choose_local_fallback_tries {
        let _ = writeln!(out, "tunable choose_local_fallback_tries {}", t.choose_local_fallback_tries);
    }
    if t.choose_total_tries != l.choose_total_tries {
        let _ = writeln!(out, "tunable choose_total_tries {}", t.choose_total_tries);
    }
    if t.chooseleaf_descend_once != l.chooseleaf_descend_once {
        let _ = writeln!(out, "tunable chooseleaf_descend_once {}", t.chooseleaf_descend_once);
    }
    if t.chooseleaf_vary_r != l.chooseleaf_vary_r {
        let _ = writeln!(out, "tunable chooseleaf_vary_r {}", t.chooseleaf_vary_r);
    }
    if t.chooseleaf_stable != l.chooseleaf_stable {
        let _ = writeln!(out, "tunable chooseleaf_stable {}", t.chooseleaf_stable);
    }
    if t.straw_calc_version != l.straw_calc_version {
        let _ = writeln!(out, "tunable straw_calc_version {}", t.straw_calc_version);
    }
    if t.allowed_bucket_algs != l.allowed_bucket_algs {
        let _ = writeln!(out, "tunable allowed_bucket_algs {}", t.allowed_bucket_algs);
    }

    out.push_str("\n# devices\n");
    for (&id, name) in m.name_map.range(0..m.max_devices.max(0)) {
        let _ = write!(out, "device {id} {name}");
        if let Some(c) = m.class_map.get(&id).and_then(|c| m.class_name.get(c)) {
            let _ = write!(out, " class {c}");
        }
        out.push('\n');
    }

    out.push_str("\n# types\n");
    if !m.type_map.is_empty() && !m.type_map.contains_key(&0) && m.type_map.keys().any(|&k| k > 0) {
        out.push_str("type 0 osd\n");
    }
    for (id, name) in m.type_map.range(0..) {
        let _ = writeln!(out, "type {id} {name}");
    }

    out.push_str("\n# buckets\n");
    decompile_buckets(m, &mut out);

    out.push_str("\n# rules\n");
    for (i, r) in m.rules.iter().enumerate() {
        let Some(r) = r else { continue };
        let i = i as i32;
        out.push_str("rule ");
        if let Some(n) = m.rule_name_map.get(&i) {
            out.push_str(n);
        }
        out.push_str(" {\n");
        let _ = writeln!(out, "\tid {i}");
        if i != r.ruleset as i32 {
            let _ = writeln!(
                out,
                "\t# WARNING: ruleset {} != id {i}; this will not recompile to the same map",
                r.ruleset
            );
        }
        match r.ty {
            PG_TYPE_REPLICATED => out.push_str("\ttype replicated\n"),
            PG_TYPE_ERASURE => out.push_str("\ttype erasure\n"),
            t => {
                let _ = writeln!(out, "\ttype {t}");
            }
        }
        let _ = writeln!(out, "\tmin_size {}", r.min_size);
        let _ = writeln!(out, "\tmax_size {}", r.max_size);
        for s in &r.steps {
            match s.op {
                op::NOOP => out.push_str("\tstep noop\n"),
                op::TAKE => {
                    out.push_str("\tstep take ");
                    match split_id_class(m, s.arg1) {
                        Some((base, Some(c))) => {
                            out.push_str(&item_name(m, base));
                            match m.class_name.get(&c) {
                                Some(cn) => {
                                    let _ = write!(out, " class {cn}");
                                }
                                None => {
                                    let _ = write!(out, " # unexpected class {c}");
                                }
                            }
                        }
                        _ => out.push_str(&item_name(m, s.arg1)),
                    }
                    out.push('\n');
                }
                op::EMIT => out.push_str("\tstep emit\n"),
                op::SET_CHOOSE_TRIES => {
                    let _ = writeln!(out, "\tstep set_choose_tries {}", s.arg1);
                }
                op::SET_CHOOSE_LOCAL_TRIES => {
                    let _ = writeln!(out, "\tstep set_choose_local_tries {}", s.arg1);
                }
                op::SET_CHOOSE_LOCAL_FALLBACK_TRIES => {
                    let _ = writeln!(out, "\tstep set_choose_local_fallback_tries {}", s.arg1);
                }
                op::SET_CHOOSELEAF_TRIES => {
                    let _ = writeln!(out, "\tstep set_chooseleaf_tries {}", s.arg1);
                }
                op::SET_CHOOSELEAF_VARY_R => {
                    let _ = writeln!(out, "\tstep set_chooseleaf_vary_r {}", s.arg1);
                }
                op::SET_CHOOSELEAF_STABLE => {
                    let _ = writeln!(out, "\tstep set_chooseleaf_stable {}", s.arg1);
                }
                op::CHOOSE_FIRSTN | op::CHOOSE_INDEP | op::CHOOSELEAF_FIRSTN | op::CHOOSELEAF_INDEP => {
                    let what = match s.op {
                        op::CHOOSE_FIRSTN => "choose firstn",
                        op::CHOOSE_INDEP => "choose indep",
                        op::CHOOSELEAF_FIRSTN => "chooseleaf firstn",
                        _ => "chooseleaf indep",
                    };
                    let _ = writeln!(out, "\tstep {what} {} type {}", s.arg1, type_name(m, s.arg2));
                }
                _ => {} // crushtool prints nothing for unknown ops
            }
        }
        out.push_str("}\n");
    }

    if !m.choose_args.is_empty() {
        out.push_str("\n# choose_args\n");
        for (&id, args) in &m.choose_args {
            let _ = writeln!(out, "choose_args {} {{", id as u64);
            for (&idx, a) in args {
                if a.weight_set.is_empty() && a.ids.is_empty() {
                    continue;
                }
                out.push_str("  {\n");
                let _ = writeln!(out, "    bucket_id {}", -1i64 - idx as i64);
                if !a.weight_set.is_empty() {
                    out.push_str("    weight_set [\n");
                    for ws in &a.weight_set {
                        out.push_str("      [ ");
                        for &w in ws {
                            out.push_str(&fixed3(w as i32));
                            out.push(' ');
                        }
                        out.push_str("]\n");
                    }
                    out.push_str("    ]\n");
                }
                if !a.ids.is_empty() {
                    out.push_str("    ids [ ");
                    for id in &a.ids {
                        let _ = write!(out, "{id} ");
                    }
                    out.push_str("]\n");
                }
                out.push_str("  }\n");
            }
            out.push_str("}\n");
        }
    }
    out.push_str("\n# end crush map\n");
    out
}

// ====================================================================
// compile: errors
// ====================================================================

/// Why a text did not compile. `line` is 1-based (0 when no line applies).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileError {
    pub line: usize,
    pub message: String,
}

impl fmt::Display for CompileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(f, "line {}: {}", self.line, self.message)
        } else {
            f.write_str(&self.message)
        }
    }
}

impl std::error::Error for CompileError {}

// ====================================================================
// compile: preprocessing (CrushCompiler::compile)
// ====================================================================

/// The whole text as crushtool feeds it to its parser: comments stripped,
/// runs of whitespace squashed, lines joined with single spaces.
struct Source {
    big: Vec<u8>,
    /// (offset in `big`, line number): a line's stripped text starts there.
    line_pos: Vec<(usize, usize)>,
    /// Original lines, for messages.
    lines: Vec<String>,
}

fn is_c_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r')
}

impl Source {
    fn new(text: &str) -> Source {
        let mut big: Vec<u8> = Vec::with_capacity(text.len());
        let mut line_pos: Vec<(usize, usize)> = Vec::new();
        let mut lines = Vec::new();
        // getline: a final newline does not start another line
        let body = text.strip_suffix('\n').unwrap_or(text);
        for (i, raw) in body.split('\n').enumerate() {
            let line = i + 1;
            lines.push(raw.to_string());
            let code = match raw.find('#') {
                Some(n) => &raw[..n],
                None => raw,
            };
            // consolidate_whitespace
            let mut stripped: Vec<u8> = Vec::with_capacity(code.len());
            let mut white = false;
            for &c in code.as_bytes() {
                if is_c_space(c) {
                    white = true;
                } else {
                    if white && !stripped.is_empty() {
                        stripped.push(b' ');
                    }
                    white = false;
                    stripped.push(c);
                }
            }
            if !stripped.is_empty() && !big.is_empty() && *big.last().unwrap() != b' ' {
                big.push(b' ');
            }
            match line_pos.last_mut() {
                Some(last) if last.0 == big.len() => last.1 = line,
                _ => line_pos.push((big.len(), line)),
            }
            big.extend_from_slice(&stripped);
        }
        // the parser sees a C string: it ends at the first NUL
        if let Some(n) = big.iter().position(|&c| c == 0) {
            big.truncate(n);
        }
        Source { big, line_pos, lines }
    }

    /// The line an offset of `big` came from.
    fn line_of(&self, off: usize) -> usize {
        let i = self.line_pos.partition_point(|&(o, _)| o <= off);
        if i == 0 {
            1
        } else {
            self.line_pos[i - 1].1
        }
    }

    /// The rest of the (stripped) text of the line at `off`, for messages.
    fn context(&self, off: usize) -> String {
        let off = off.min(self.big.len());
        let i = self.line_pos.partition_point(|&(o, _)| o <= off);
        let end = self.line_pos.get(i).map(|&(o, _)| o).unwrap_or(self.big.len()).clamp(off, self.big.len());
        let s = String::from_utf8_lossy(&self.big[off..end]);
        let s = s.trim();
        if s.is_empty() {
            return "end of input".into();
        }
        let mut t: String = s.chars().take(60).collect();
        if s.chars().count() > 60 {
            t.push_str("...");
        }
        format!("'{t}'")
    }
}

// ====================================================================
// compile: the grammar (crush/grammar.h), as a PEG over the joined text
// ====================================================================

/// A token: where it starts in `big`, and its text.
#[derive(Debug, Clone)]
struct Tok {
    at: usize,
    s: String,
}

#[derive(Debug)]
struct IdLine {
    at: usize,
    id: Tok,
    class: Option<Tok>,
}

#[derive(Debug)]
struct ItemLine {
    at: usize,
    name: Tok,
    weight: Option<Tok>,
    pos: Option<Tok>,
}

#[derive(Debug)]
struct BucketAst {
    at: usize,
    ty: Tok,
    name: Tok,
    ids: Vec<IdLine>,
    alg: Tok,
    hashes: Vec<Tok>,
    items: Vec<ItemLine>,
}

#[derive(Debug)]
enum StepAst {
    Take { at: usize, item: Tok, class: Option<Tok> },
    Set { op: u32, val: Tok },
    Choose { at: usize, leaf: bool, indep: bool, n: Tok, ty: Tok },
    Emit,
}

#[derive(Debug)]
struct RuleAst {
    at: usize,
    name: Option<Tok>,
    id: Tok,
    ty: Tok,
    min_size: Tok,
    max_size: Tok,
    steps: Vec<StepAst>,
}

#[derive(Debug)]
struct ChooseArgAst {
    bucket_id: Tok,
    weight_set: Option<Vec<(usize, Vec<Tok>)>>,
    ids: Option<(usize, Vec<Tok>)>,
}

#[derive(Debug)]
struct ChooseArgsAst {
    id: Tok,
    args: Vec<ChooseArgAst>,
}

#[derive(Debug)]
enum Stmt {
    Tunable { at: usize, name: Tok, val: Tok },
    Device { at: usize, id: Tok, name: Tok, class: Option<Tok> },
    Type { id: Tok, name: Tok },
    Bucket(BucketAst),
    Rule(RuleAst),
    ChooseArgs(ChooseArgsAst),
}

struct Parser<'a> {
    s: &'a [u8],
    pos: usize,
    /// The farthest offset where something failed to match, and what was
    /// expected there (for the error message).
    far: usize,
    expected: Vec<&'static str>,
}

impl<'a> Parser<'a> {
    fn skip_ws(&mut self) {
        while self.pos < self.s.len() && is_c_space(self.s[self.pos]) {
            self.pos += 1;
        }
    }

    fn expect(&mut self, at: usize, what: &'static str) {
        if at > self.far {
            self.far = at;
            self.expected.clear();
        }
        if at == self.far && !self.expected.contains(&what) {
            self.expected.push(what);
        }
    }

    /// `str_p` / `ch_p`: skip spaces, then the literal (no word boundary).
    fn lit(&mut self, l: &'static str) -> bool {
        let save = self.pos;
        self.skip_ws();
        if self.s[self.pos..].starts_with(l.as_bytes()) {
            self.pos += l.len();
            true
        } else {
            self.expect(self.pos, l);
            self.pos = save;
            false
        }
    }

    /// A lexeme after spaces: an optional (or, if `need_prefix`, required)
    /// `prefix` byte, then at least one byte accepted by `ok`.
    fn lexeme(&mut self, what: &'static str, prefix: Option<u8>, need_prefix: bool, ok: fn(u8) -> bool) -> Option<Tok> {
        let save = self.pos;
        self.skip_ws();
        let at = self.pos;
        let mut p = self.pos;
        if let Some(c) = prefix {
            if p < self.s.len() && self.s[p] == c {
                p += 1;
            } else if need_prefix {
                self.expect(at, what);
                self.pos = save;
                return None;
            }
        }
        let body = p;
        while p < self.s.len() && ok(self.s[p]) {
            p += 1;
        }
        if p == body {
            self.expect(at, what);
            self.pos = save;
            return None;
        }
        self.pos = p;
        Some(Tok { at, s: String::from_utf8_lossy(&self.s[at..p]).into_owned() })
    }

    fn name(&mut self) -> Option<Tok> {
        self.lexeme("a name", None, false, |c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_' || c == b'.')
    }
    fn posint(&mut self) -> Option<Tok> {
        self.lexeme("a non-negative integer", None, false, |c| c.is_ascii_digit())
    }
    fn negint(&mut self) -> Option<Tok> {
        self.lexeme("a negative integer", Some(b'-'), true, |c| c.is_ascii_digit())
    }
    fn integer(&mut self) -> Option<Tok> {
        self.lexeme("an integer", Some(b'-'), false, |c| c.is_ascii_digit())
    }

    /// spirit's `real_p`: `[+-]? (d+ (. d*)? | . d+) ([eE] [+-]? d+)?`;
    /// an exponent marker without digits fails the whole number.
    fn real(&mut self) -> Option<Tok> {
        let save = self.pos;
        self.skip_ws();
        let at = self.pos;
        let s = self.s;
        let mut p = at;
        let digits = |p: &mut usize| {
            let b = *p;
            while *p < s.len() && s[*p].is_ascii_digit() {
                *p += 1;
            }
            *p - b
        };
        if p < s.len() && (s[p] == b'+' || s[p] == b'-') {
            p += 1;
        }
        let int_digits = digits(&mut p);
        let mut ok = int_digits > 0;
        if p < s.len() && s[p] == b'.' {
            let mut q = p + 1;
            let frac = digits(&mut q);
            if int_digits > 0 || frac > 0 {
                p = q;
                ok = true;
            }
        }
        if ok && p < s.len() && (s[p] == b'e' || s[p] == b'E') {
            let mut q = p + 1;
            if q < s.len() && (s[q] == b'+' || s[q] == b'-') {
                q += 1;
            }
            if digits(&mut q) > 0 {
                p = q;
            } else {
                ok = false;
            }
        }
        if !ok {
            self.expect(at, "a number");
            self.pos = save;
            return None;
        }
        self.pos = p;
        Some(Tok { at, s: String::from_utf8_lossy(&s[at..p]).into_owned() })
    }

    /// Runs `f`; on failure restores the position.
    fn attempt<T>(&mut self, f: impl FnOnce(&mut Self) -> Option<T>) -> Option<T> {
        let save = self.pos;
        let r = f(self);
        if r.is_none() {
            self.pos = save;
        }
        r
    }

    fn at(&mut self) -> usize {
        let save = self.pos;
        self.skip_ws();
        let at = self.pos;
        self.pos = save;
        at
    }

    fn tunable(&mut self) -> Option<Stmt> {
        self.attempt(|p| {
            let at = p.at();
            p.lit("tunable").then_some(())?;
            let name = p.name()?;
            let val = p.posint()?;
            Some(Stmt::Tunable { at, name, val })
        })
    }

    fn device(&mut self) -> Option<Stmt> {
        self.attempt(|p| {
            let at = p.at();
            p.lit("device").then_some(())?;
            let id = p.posint()?;
            let name = p.name()?;
            let class = p.attempt(|p| {
                p.lit("class").then_some(())?;
                p.name()
            });
            Some(Stmt::Device { at, id, name, class })
        })
    }

    fn bucket_type(&mut self) -> Option<Stmt> {
        self.attempt(|p| {
            p.lit("type").then_some(())?;
            let id = p.posint()?;
            let name = p.name()?;
            Some(Stmt::Type { id, name })
        })
    }

    fn bucket(&mut self) -> Option<Stmt> {
        self.attempt(|p| {
            let at = p.at();
            let ty = p.name()?;
            let name = p.name()?;
            p.lit("{").then_some(())?;
            let mut ids = Vec::new();
            while let Some(l) = p.attempt(|p| {
                let at = p.at();
                p.lit("id").then_some(())?;
                let id = p.negint()?;
                let class = p.attempt(|p| {
                    p.lit("class").then_some(())?;
                    p.name()
                });
                Some(IdLine { at, id, class })
            }) {
                ids.push(l);
            }
            let alg = p.attempt(|p| {
                p.lit("alg").then_some(())?;
                p.name()
            })?;
            let mut hashes = Vec::new();
            while let Some(h) = p.attempt(|p| {
                p.lit("hash").then_some(())?;
                // `integer | "rjenkins1"`
                p.integer().or_else(|| {
                    let at = p.at();
                    p.lit("rjenkins1").then(|| Tok { at, s: "rjenkins1".into() })
                })
            }) {
                hashes.push(h);
            }
            let mut items = Vec::new();
            while let Some(it) = p.attempt(|p| {
                let at = p.at();
                p.lit("item").then_some(())?;
                let name = p.name()?;
                let weight = p.attempt(|p| {
                    p.lit("weight").then_some(())?;
                    p.real()
                });
                let pos = p.attempt(|p| {
                    p.lit("pos").then_some(())?;
                    p.posint()
                });
                Some(ItemLine { at, name, weight, pos })
            }) {
                items.push(it);
            }
            p.lit("}").then_some(())?;
            Some(Stmt::Bucket(BucketAst { at, ty, name, ids, alg, hashes, items }))
        })
    }

    fn step(&mut self) -> Option<StepAst> {
        self.attempt(|p| {
            p.lit("step").then_some(())?;
            if let Some(s) = p.attempt(|p| {
                let at = p.at();
                p.lit("take").then_some(())?;
                let item = p.name()?;
                let class = p.attempt(|p| {
                    p.lit("class").then_some(())?;
                    p.name()
                });
                Some(StepAst::Take { at, item, class })
            }) {
                return Some(s);
            }
            const SETS: [(&str, u32); 6] = [
                ("set_choose_tries", op::SET_CHOOSE_TRIES),
                ("set_choose_local_tries", op::SET_CHOOSE_LOCAL_TRIES),
                ("set_choose_local_fallback_tries", op::SET_CHOOSE_LOCAL_FALLBACK_TRIES),
                ("set_chooseleaf_tries", op::SET_CHOOSELEAF_TRIES),
                ("set_chooseleaf_vary_r", op::SET_CHOOSELEAF_VARY_R),
                ("set_chooseleaf_stable", op::SET_CHOOSELEAF_STABLE),
            ];
            for (kw, o) in SETS {
                if let Some(s) = p.attempt(|p| {
                    p.lit(kw).then_some(())?;
                    let val = p.posint()?;
                    Some(StepAst::Set { op: o, val })
                }) {
                    return Some(s);
                }
            }
            for (kw, leaf) in [("choose", false), ("chooseleaf", true)] {
                if let Some(s) = p.attempt(|p| {
                    let at = p.at();
                    p.lit(kw).then_some(())?;
                    let indep = if p.lit("indep") {
                        true
                    } else if p.lit("firstn") {
                        false
                    } else {
                        return None;
                    };
                    let n = p.integer()?;
                    p.lit("type").then_some(())?;
                    let ty = p.name()?;
                    Some(StepAst::Choose { at, leaf, indep, n, ty })
                }) {
                    return Some(s);
                }
            }
            p.lit("emit").then_some(StepAst::Emit)
        })
    }

    fn rule(&mut self) -> Option<Stmt> {
        self.attempt(|p| {
            let at = p.at();
            p.lit("rule").then_some(())?;
            let name = p.name();
            p.lit("{").then_some(())?;
            if !p.lit("id") && !p.lit("ruleset") {
                return None;
            }
            let id = p.posint()?;
            p.lit("type").then_some(())?;
            let tat = p.at();
            let ty = if p.lit("replicated") {
                Tok { at: tat, s: "replicated".into() }
            } else if p.lit("erasure") {
                Tok { at: tat, s: "erasure".into() }
            } else {
                return None;
            };
            p.lit("min_size").then_some(())?;
            let min_size = p.posint()?;
            p.lit("max_size").then_some(())?;
            let max_size = p.posint()?;
            let mut steps = vec![p.step()?];
            while let Some(s) = p.step() {
                steps.push(s);
            }
            p.lit("}").then_some(())?;
            Some(Stmt::Rule(RuleAst { at, name, id, ty, min_size, max_size, steps }))
        })
    }

    fn choose_args(&mut self) -> Option<Stmt> {
        self.attempt(|p| {
            p.lit("choose_args").then_some(())?;
            let id = p.posint()?;
            p.lit("{").then_some(())?;
            let mut args = Vec::new();
            while let Some(a) = p.attempt(|p| {
                p.lit("{").then_some(())?;
                p.lit("bucket_id").then_some(())?;
                let bucket_id = p.negint()?;
                let weight_set = p.attempt(|p| {
                    p.lit("weight_set").then_some(())?;
                    p.lit("[").then_some(())?;
                    let mut sets = Vec::new();
                    while let Some(ws) = p.attempt(|p| {
                        let at = p.at();
                        p.lit("[").then_some(())?;
                        let mut v = Vec::new();
                        while let Some(r) = p.real() {
                            v.push(r);
                        }
                        p.lit("]").then_some(())?;
                        Some((at, v))
                    }) {
                        sets.push(ws);
                    }
                    p.lit("]").then_some(())?;
                    Some(sets)
                });
                let ids = p.attempt(|p| {
                    let at = p.at();
                    p.lit("ids").then_some(())?;
                    p.lit("[").then_some(())?;
                    let mut v = Vec::new();
                    while let Some(r) = p.integer() {
                        v.push(r);
                    }
                    p.lit("]").then_some(())?;
                    Some((at, v))
                });
                p.lit("}").then_some(())?;
                Some(ChooseArgAst { bucket_id, weight_set, ids })
            }) {
                args.push(a);
            }
            p.lit("}").then_some(())?;
            Some(Stmt::ChooseArgs(ChooseArgsAst { id, args }))
        })
    }

    /// `crushmap = *(tunable | device | bucket_type) >> *(bucket | crushrule) >> *choose_args`
    fn crushmap(&mut self) -> (Vec<Stmt>, usize) {
        let mut v = Vec::new();
        loop {
            if let Some(s) = self.tunable().or_else(|| self.device()).or_else(|| self.bucket_type()) {
                v.push(s);
            } else {
                break;
            }
        }
        loop {
            if let Some(s) = self.bucket().or_else(|| self.rule()) {
                v.push(s);
            } else {
                break;
            }
        }
        while let Some(s) = self.choose_args() {
            v.push(s);
        }
        let stop = self.pos;
        (v, stop)
    }
}

// ====================================================================
// compile: number conversions as the C++ code does them
// ====================================================================

/// `strtol(s, 0, 10)` (saturating) converted to `int` (truncating).
fn int_node(s: &str) -> i32 {
    let b = s.trim().as_bytes();
    let (neg, digits) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        Some(b'+') => (false, &b[1..]),
        _ => (false, b),
    };
    let mut v: i128 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            break;
        }
        v = (v * 10 + (c - b'0') as i128).min(i64::MAX as i128 + 1);
    }
    let v = if neg { -v } else { v };
    let v = v.clamp(i64::MIN as i128, i64::MAX as i128) as i64;
    v as i32
}

/// `strtof`.
fn float_node(s: &str) -> f32 {
    let t = s.trim();
    let t = t.strip_prefix('+').unwrap_or(t);
    t.parse::<f32>().unwrap_or(0.0)
}

/// C's float → `unsigned` conversion as gcc does it on x86-64 (through a
/// 64-bit signed conversion; out-of-range gives 0x8000000000000000).
fn f32_to_u32(v: f32) -> u32 {
    if v.is_nan() || v >= 9.223_372e18 || v < -9.223_372e18 {
        0
    } else {
        (v as i64) as u32
    }
}

/// `float_node(x) * (float)0x10000` stored into an unsigned.
fn weight_of(s: &str) -> u32 {
    f32_to_u32(float_node(s) * 65536.0f32)
}

/// Same for a double (`straw * 0x10000`).
fn f64_to_u32(v: f64) -> u32 {
    if v.is_nan() || v >= 9.223_372_036_854_775e18 || v < -9.223_372_036_854_775e18 {
        0
    } else {
        (v as i64) as u32
    }
}

fn addition_is_unsafe(a: u32, b: u32) -> bool {
    u32::MAX - b < a
}

fn multiplication_is_unsafe(a: u32, b: u32) -> bool {
    if a == 0 {
        return false;
    }
    if b == 0 {
        return true;
    }
    u32::MAX / b < a
}

// ====================================================================
// compile: bucket construction (crush/builder.c)
// ====================================================================

/// `crush_calc_straw`.
fn calc_straw(weights: &[u32], version: u8) -> Vec<u32> {
    let size = weights.len();
    let mut straws = vec![0u32; size];
    // insertion sort of indices by weight, ascending, stable
    let mut reverse: Vec<usize> = Vec::with_capacity(size);
    for i in 0..size {
        let j = reverse.iter().position(|&r| weights[i] < weights[r]).unwrap_or(reverse.len());
        reverse.insert(j, i);
    }
    let mut numleft = size as i64;
    let mut straw = 1.0f64;
    let mut wbelow = 0.0f64;
    let mut lastw = 0.0f64;
    let mut i = 0;
    while i < size {
        if version == 0 {
            if weights[reverse[i]] == 0 {
                straws[reverse[i]] = 0;
                i += 1;
                continue;
            }
            straws[reverse[i]] = f64_to_u32(straw * 65536.0);
            i += 1;
            if i == size {
                break;
            }
            if weights[reverse[i]] == weights[reverse[i - 1]] {
                continue;
            }
            wbelow += (weights[reverse[i - 1]] as f64 - lastw) * numleft as f64;
            for j in i..size {
                if weights[reverse[j]] == weights[reverse[i]] {
                    numleft -= 1;
                } else {
                    break;
                }
            }
            let wnext = (numleft as u32).wrapping_mul(weights[reverse[i]].wrapping_sub(weights[reverse[i - 1]])) as f64;
            let pbelow = wbelow / (wbelow + wnext);
            straw *= (1.0 / pbelow).powf(1.0 / numleft as f64);
            lastw = weights[reverse[i - 1]] as f64;
        } else {
            if weights[reverse[i]] == 0 {
                straws[reverse[i]] = 0;
                i += 1;
                numleft -= 1;
                continue;
            }
            straws[reverse[i]] = f64_to_u32(straw * 65536.0);
            i += 1;
            if i == size {
                break;
            }
            wbelow += (weights[reverse[i - 1]] as f64 - lastw) * numleft as f64;
            numleft -= 1;
            let wnext = (numleft as u32).wrapping_mul(weights[reverse[i]].wrapping_sub(weights[reverse[i - 1]])) as f64;
            let pbelow = wbelow / (wbelow + wnext);
            straw *= (1.0 / pbelow).powf(1.0 / numleft as f64);
            lastw = weights[reverse[i - 1]] as f64;
        }
    }
    straws
}

fn tree_depth(size: usize) -> u32 {
    if size == 0 {
        return 0;
    }
    let mut depth = 1;
    let mut t = size - 1;
    while t != 0 {
        t >>= 1;
        depth += 1;
    }
    depth
}

fn tree_node(i: usize) -> usize {
    ((i + 1) << 1) - 1
}

fn tree_parent(n: usize) -> usize {
    let h = n.trailing_zeros();
    if n & (1 << (h + 1)) != 0 {
        n - (1 << h)
    } else {
        n + (1 << h)
    }
}

/// Why building a bucket failed (crushtool asserts or returns an errno).
#[derive(Debug)]
enum BuildErr {
    /// `-EINVAL`: a uniform bucket item with another weight.
    Inval,
    /// `-ERANGE`: a weight sum overflows.
    Range,
    /// crushtool would crash or corrupt memory.
    Fatal(String),
}

/// `crush_make_bucket`.
fn make_bucket(alg: BucketAlg, hash: u8, ty: u16, items: &[i32], weights: &[u32], straw_calc_version: u8) -> Result<Bucket, BuildErr> {
    let size = items.len();
    let data;
    let mut weight: u32 = 0;
    match alg {
        BucketAlg::Uniform => {
            let iw = if size > 0 { weights[0] } else { 0 };
            if multiplication_is_unsafe(size as u32, iw) {
                return Err(BuildErr::Fatal(format!(
                    "uniform bucket of {size} items of weight {iw:#x}: zero weight or the total overflows (crushtool would crash)"
                )));
            }
            weight = (size as u32).wrapping_mul(iw);
            data = BucketData::Uniform { item_weight: iw };
        }
        BucketAlg::List => {
            let mut sums = Vec::with_capacity(size);
            for &w in weights {
                if addition_is_unsafe(weight, w) {
                    return Err(BuildErr::Fatal("list bucket weight overflows (crushtool would crash)".into()));
                }
                weight += w;
                sums.push(weight);
            }
            data = BucketData::List { item_weights: weights.to_vec(), sum_weights: sums };
        }
        BucketAlg::Tree => {
            if size > MAX_TREE_ITEMS {
                return Err(BuildErr::Fatal(format!(
                    "tree bucket with {size} items: at most {MAX_TREE_ITEMS} fit (its node count is a u8; crushtool would corrupt memory)"
                )));
            }
            let depth = tree_depth(size);
            let mut nw = vec![0u32; if size == 0 { 0 } else { 1 << depth }];
            for (i, &w) in weights.iter().enumerate() {
                let mut node = tree_node(i);
                nw[node] = w;
                if addition_is_unsafe(weight, w) {
                    return Err(BuildErr::Fatal("tree bucket weight overflows (crushtool would crash)".into()));
                }
                weight += w;
                for _ in 1..depth {
                    node = tree_parent(node);
                    if addition_is_unsafe(nw[node], w) {
                        return Err(BuildErr::Fatal("tree bucket weight overflows (crushtool would crash)".into()));
                    }
                    nw[node] += w;
                }
            }
            data = BucketData::Tree { node_weights: nw };
        }
        BucketAlg::Straw => {
            for &w in weights {
                weight = weight.wrapping_add(w);
            }
            data = BucketData::Straw { item_weights: weights.to_vec(), straws: calc_straw(weights, straw_calc_version) };
        }
        BucketAlg::Straw2 => {
            for &w in weights {
                weight = weight.wrapping_add(w);
            }
            data = BucketData::Straw2 { item_weights: weights.to_vec() };
        }
    }
    Ok(Bucket { id: 0, ty, alg, hash, weight, items: items.to_vec(), data })
}

/// `crush_bucket_add_item`.
fn bucket_add_item(b: &mut Bucket, item: i32, w: u32, straw_calc_version: u8) -> Result<(), BuildErr> {
    match &mut b.data {
        BucketData::Uniform { item_weight } => {
            if *item_weight != w {
                return Err(BuildErr::Inval);
            }
            if addition_is_unsafe(b.weight, w) {
                return Err(BuildErr::Range);
            }
            b.items.push(item);
            b.weight += w;
        }
        BucketData::List { item_weights, sum_weights } => {
            let sum = match sum_weights.last() {
                Some(&prev) => {
                    if addition_is_unsafe(prev, w) {
                        return Err(BuildErr::Range);
                    }
                    prev + w
                }
                None => w,
            };
            b.items.push(item);
            item_weights.push(w);
            sum_weights.push(sum);
            b.weight = b.weight.wrapping_add(w);
        }
        BucketData::Tree { node_weights } => {
            let newsize = b.items.len() + 1;
            if newsize > MAX_TREE_ITEMS {
                return Err(BuildErr::Fatal(format!(
                    "tree bucket with {newsize} items: at most {MAX_TREE_ITEMS} fit (crushtool would corrupt memory)"
                )));
            }
            let depth = tree_depth(newsize);
            let num_nodes = 1usize << depth;
            // realloc leaves new nodes uninitialized in crushtool; assume 0
            node_weights.resize(num_nodes, 0);
            let mut node = tree_node(newsize - 1);
            node_weights[node] = w;
            let root = num_nodes / 2;
            if depth >= 2 && node - 1 == root {
                node_weights[root] = node_weights[root / 2];
            }
            for _ in 1..depth {
                node = tree_parent(node);
                if addition_is_unsafe(node_weights[node], w) {
                    return Err(BuildErr::Range);
                }
                node_weights[node] += w;
            }
            if addition_is_unsafe(b.weight, w) {
                return Err(BuildErr::Range);
            }
            b.items.push(item);
            b.weight += w;
        }
        BucketData::Straw { item_weights, straws } => {
            if addition_is_unsafe(b.weight, w) {
                return Err(BuildErr::Range);
            }
            b.items.push(item);
            item_weights.push(w);
            b.weight += w;
            *straws = calc_straw(item_weights, straw_calc_version);
        }
        BucketData::Straw2 { item_weights } => {
            if addition_is_unsafe(b.weight, w) {
                return Err(BuildErr::Range);
            }
            b.items.push(item);
            item_weights.push(w);
            b.weight += w;
        }
    }
    Ok(())
}

// ====================================================================
// compile: the map under construction (CrushWrapper + CrushCompiler state)
// ====================================================================

struct Builder<'s> {
    src: &'s Source,
    // CrushWrapper
    buckets: Vec<Option<Bucket>>,
    rules: Vec<Option<Rule>>,
    type_map: BTreeMap<i32, String>,
    name_map: BTreeMap<i32, String>,
    name_rmap: HashMap<String, i32>,
    rule_name_map: BTreeMap<i32, String>,
    tunables: Tunables,
    class_map: BTreeMap<i32, i32>,
    class_name: BTreeMap<i32, String>,
    class_rname: HashMap<String, i32>,
    class_bucket: BTreeMap<i32, BTreeMap<i32, i32>>,
    choose_args: BTreeMap<i64, BTreeMap<u32, ChooseArg>>,
    // CrushCompiler
    item_id: HashMap<String, i32>,
    id_item: BTreeSet<i32>,
    item_weight: HashMap<i32, u32>,
    type_id: HashMap<String, i32>,
    rule_id: HashMap<String, i32>,
    old_class_bucket: BTreeMap<i32, BTreeMap<i32, i32>>,
}

type CResult<T> = Result<T, CompileError>;

impl<'s> Builder<'s> {
    fn err<T>(&self, at: usize, msg: impl Into<String>) -> CResult<T> {
        Err(CompileError { line: self.src.line_of(at), message: msg.into() })
    }

    fn bucket_exists(&self, id: i32) -> bool {
        id < 0 && ((-1 - id as i64) as usize) < self.buckets.len() && self.buckets[(-1 - id as i64) as usize].is_some()
    }

    fn set_item_name(&mut self, id: i32, name: &str) {
        if let Some(old) = self.name_map.insert(id, name.to_string()) {
            if self.name_rmap.get(&old) == Some(&id) {
                self.name_rmap.remove(&old);
            }
        }
        self.name_rmap.insert(name.to_string(), id);
    }

    fn get_or_create_class_id(&mut self, name: &str) -> i32 {
        if let Some(&c) = self.class_rname.get(name) {
            return c;
        }
        let c = match self.class_name.keys().next_back() {
            None => 0,
            Some(&last) => last.wrapping_add(1).max(0),
        };
        self.class_name.insert(c, name.to_string());
        self.class_rname.insert(name.to_string(), c);
        c
    }

    /// `crush_add_bucket`: `id` 0 means the first free slot; the array grows
    /// by doubling from 8.
    fn add_bucket(&mut self, mut id: i32, mut b: Bucket) -> Result<i32, String> {
        if id == 0 {
            id = -1 - self.buckets.iter().position(Option::is_none).unwrap_or(self.buckets.len()) as i32;
        }
        if id > 0 {
            return Err(format!("bucket id {id} is not negative"));
        }
        let pos = -1 - id as i64;
        if pos >= MAX_BUCKET_INDEX {
            return Err(format!("bucket id {id} is too small (at most {MAX_BUCKET_INDEX} buckets are supported)"));
        }
        let pos = pos as usize;
        while pos >= self.buckets.len() {
            let n = if self.buckets.is_empty() { 8 } else { self.buckets.len() * 2 };
            self.buckets.resize(n, None);
        }
        if self.buckets[pos].is_some() {
            return Err(format!("Duplicate bucket id {id}"));
        }
        b.id = id;
        self.buckets[pos] = Some(b);
        Ok(id)
    }

    fn tunable(&mut self, at: usize, name: &Tok, val: &Tok) -> CResult<()> {
        let v = int_node(&val.s);
        let t = &mut self.tunables;
        match name.s.as_str() {
            "choose_local_tries" => t.choose_local_tries = v as u32,
            "choose_local_fallback_tries" => t.choose_local_fallback_tries = v as u32,
            "choose_total_tries" => t.choose_total_tries = v as u32,
            "chooseleaf_descend_once" => t.chooseleaf_descend_once = v as u32,
            "chooseleaf_vary_r" => t.chooseleaf_vary_r = v as u8,
            "chooseleaf_stable" => t.chooseleaf_stable = v as u8,
            "straw_calc_version" => t.straw_calc_version = v as u8,
            "allowed_bucket_algs" => t.allowed_bucket_algs = v as u32,
            _ => return self.err(at, format!("tunable {} not recognized", name.s)),
        }
        Ok(())
    }

    fn device(&mut self, at: usize, id: &Tok, name: &Tok, class: Option<&Tok>) -> CResult<()> {
        let id = int_node(&id.s);
        self.set_item_name(id, &name.s);
        if self.item_id.contains_key(&name.s) {
            return self.err(at, format!("item {} defined twice", name.s));
        }
        self.item_id.insert(name.s.clone(), id);
        self.id_item.insert(id);
        if let Some(c) = class {
            let c = self.get_or_create_class_id(&c.s);
            self.class_map.insert(id, c);
        }
        Ok(())
    }

    fn bucket(&mut self, b: &BucketAst) -> CResult<()> {
        let Some(&ty) = self.type_id.get(&b.ty.s) else {
            return self.err(b.ty.at, format!("bucket type '{}' is not defined", b.ty.s));
        };
        let name = &b.name.s;
        if self.item_id.contains_key(name) {
            return self.err(b.name.at, format!("bucket or device '{name}' is already defined"));
        }
        let mut id = 0i32;
        let mut class_id: BTreeMap<i32, i32> = BTreeMap::new();
        for l in &b.ids {
            let maybe = int_node(&l.id.s);
            match &l.class {
                Some(c) => {
                    let cid = self.get_or_create_class_id(&c.s);
                    if class_id.contains_key(&cid) {
                        return self.err(l.at, format!("duplicate device class {} for bucket {name}", c.s));
                    }
                    class_id.insert(cid, maybe);
                }
                None => id = maybe,
            }
        }
        let alg = match b.alg.s.as_str() {
            "uniform" => BucketAlg::Uniform,
            "list" => BucketAlg::List,
            "tree" => BucketAlg::Tree,
            "straw" => BucketAlg::Straw,
            "straw2" => BucketAlg::Straw2,
            a => return self.err(b.alg.at, format!("unknown bucket alg '{a}'")),
        };
        let mut hash: i32 = 0;
        for h in &b.hashes {
            hash = if h.s == "rjenkins1" { 0 } else { int_node(&h.s) };
        }
        // first pass: positions already taken
        let mut used: BTreeSet<i64> = BTreeSet::new();
        for it in &b.items {
            if let Some(p) = &it.pos {
                let p = int_node(&p.s) as i64;
                if !used.insert(p) {
                    return self.err(
                        it.at,
                        format!("item '{}' in bucket '{name}' has explicit pos {p}, which is occupied", it.name.s),
                    );
                }
            }
        }
        let mut size = b.items.len() as i64;
        if let Some(&last) = used.iter().next_back() {
            size = size.max(last);
        }
        // size > number of items only when some explicit pos is out of
        // range, which fails below: never allocate more than the items
        let n = b.items.len();
        let mut items = vec![0i32; n];
        let mut weights = vec![0u32; n];
        let mut curpos: i64 = 0;
        let mut bucketweight: u32 = 0;
        let mut uniform_weight: Option<u32> = None;
        for it in &b.items {
            let iname = &it.name.s;
            let Some(&itemid) = self.item_id.get(iname) else {
                return self.err(it.name.at, format!("item '{iname}' in bucket '{name}' is not defined"));
            };
            let mut weight = self.item_weight.get(&itemid).copied().unwrap_or(0x10000);
            if let Some(w) = &it.weight {
                weight = weight_of(&w.s);
                if weight > MAX_DEVICE_WEIGHT && itemid >= 0 {
                    return self.err(
                        w.at,
                        format!("item '{iname}': weight {} too large: device weight limited to {}", w.s, MAX_DEVICE_WEIGHT / 0x10000),
                    );
                } else if weight > MAX_BUCKET_WEIGHT && itemid < 0 {
                    return self.err(
                        w.at,
                        format!(
                            "item '{iname}': weight {} too large: bucket weight limited to {} to prevent overflow",
                            w.s,
                            MAX_BUCKET_WEIGHT / 0x10000
                        ),
                    );
                }
            }
            let mut pos: i64 = it.pos.as_ref().map(|p| int_node(&p.s) as i64).unwrap_or(-1);
            if alg == BucketAlg::Uniform {
                match uniform_weight {
                    None => uniform_weight = Some(weight),
                    Some(u) if u != weight => {
                        return self.err(
                            it.at,
                            format!(
                                "item '{iname}' in uniform bucket '{name}' has weight {} but previous item(s) have weight {}; uniform bucket items must all have identical weights",
                                fixed3(weight as i32),
                                fixed3(u as i32)
                            ),
                        );
                    }
                    Some(_) => {}
                }
            }
            if pos >= size {
                return self.err(it.at, format!("item '{iname}' in bucket '{name}' has pos {pos} >= size {size}"));
            }
            if pos < 0 {
                while used.contains(&curpos) {
                    curpos += 1;
                }
                pos = curpos;
                curpos += 1;
            }
            if (pos as usize) < n {
                items[pos as usize] = itemid;
                weights[pos as usize] = weight;
            }
            if addition_is_unsafe(bucketweight, weight) {
                return self.err(
                    it.at,
                    format!("bucket '{name}': the sum of its item weights overflows; lower the item weights"),
                );
            }
            bucketweight += weight;
        }
        if id == 0 {
            id = -1;
            while self.id_item.contains(&id) {
                id -= 1;
            }
        }
        for (c, cid) in class_id {
            self.old_class_bucket.entry(id).or_default().insert(c, cid);
        }
        self.id_item.insert(id);
        self.item_id.insert(name.clone(), id);
        self.item_weight.insert(id, bucketweight);
        let bucket = match make_bucket(alg, hash as u8, ty as u16, &items, &weights, self.tunables.straw_calc_version) {
            Ok(bk) => bk,
            Err(BuildErr::Fatal(m)) => return self.err(b.at, format!("bucket '{name}': {m}")),
            Err(e) => return self.err(b.at, format!("bucket '{name}': cannot build it ({e:?})")),
        };
        if let Err(m) = self.add_bucket(id, bucket) {
            return self.err(b.at, format!("bucket '{name}': {m}"));
        }
        self.set_item_name(id, name);
        Ok(())
    }

    // ---------------- device classes (CrushWrapper::populate_classes) ----

    fn search_item_exists(&self, item: i32) -> bool {
        self.buckets.iter().flatten().any(|b| b.items.contains(&item))
    }

    /// Returns Err(Ok(())) for an error crushtool ignores (it stops building
    /// shadow trees), Err(Err(e)) for a state where crushtool would crash.
    fn populate_classes(&mut self) -> Result<(), Result<(), CompileError>> {
        let used_ids: HashSet<i32> = self.old_class_bucket.values().flat_map(|m| m.values().copied()).collect();
        let mut roots: BTreeSet<i32> = BTreeSet::new();
        for b in self.buckets.iter().flatten() {
            if self.search_item_exists(b.id) {
                continue;
            }
            if let Some(n) = self.name_map.get(&b.id) {
                if !valid_crush_name(n) {
                    continue;
                }
            }
            roots.insert(b.id);
        }
        let classes: Vec<i32> = self.class_name.keys().copied().collect();
        for &r in &roots {
            if r >= 0 {
                continue;
            }
            for &c in &classes {
                self.device_class_clone(r, c, &used_ids, 0)?;
            }
        }
        Ok(())
    }

    fn device_class_clone(&mut self, original_id: i32, class: i32, used_ids: &HashSet<i32>, depth: usize) -> Result<i32, Result<(), CompileError>> {
        let fatal = |m: String| Err(Err(CompileError { line: 0, message: m }));
        if depth > MAX_DEPTH {
            return fatal(format!("bucket hierarchy deeper than {MAX_DEPTH} levels"));
        }
        let Some(item_name) = self.name_map.get(&original_id).cloned() else {
            return Err(Ok(())); // -ECHILD
        };
        let Some(class_name) = self.class_name.get(&class).cloned() else {
            return Err(Ok(())); // -EBADF
        };
        let copy_name = format!("{item_name}~{class_name}");
        if let Some(&id) = self.name_rmap.get(&copy_name) {
            return Ok(id);
        }
        let Some(original) = self.buckets.get((-1 - original_id as i64) as usize).and_then(Option::as_ref).filter(|_| original_id < 0).cloned() else {
            return fatal(format!(
                "item '{item_name}' ({original_id}) is used as a bucket but no such bucket exists (crushtool would crash)"
            ));
        };
        let scv = self.tunables.straw_calc_version;
        let mut copy = match make_bucket(original.alg, original.hash, original.ty, &[], &[], scv) {
            Ok(b) => b,
            Err(_) => return Err(Ok(())),
        };
        for (i, &item) in original.items.iter().enumerate() {
            let weight = original.item_weight(i);
            if item >= 0 {
                if self.class_map.get(&item) == Some(&class) {
                    if bucket_add_item(&mut copy, item, weight, scv).is_err() {
                        return Err(Ok(()));
                    }
                }
            } else {
                let child = self.device_class_clone(item, class, used_ids, depth + 1)?;
                let Some(cw) = self.buckets.get((-1 - child as i64) as usize).and_then(Option::as_ref).map(|b| b.weight) else {
                    return fatal(format!("shadow bucket {child} vanished"));
                };
                match bucket_add_item(&mut copy, child, cw, scv) {
                    Ok(()) => {}
                    Err(BuildErr::Fatal(m)) => return fatal(m),
                    Err(_) => return Err(Ok(())),
                }
            }
        }
        let bno = match self.old_class_bucket.get(&original_id).and_then(|m| m.get(&class)) {
            Some(&b) => b,
            None => {
                let mut bno = -1i32;
                while self.bucket_exists(bno) || used_ids.contains(&bno) {
                    bno -= 1;
                }
                bno
            }
        };
        let clone = match self.add_bucket(bno, copy) {
            Ok(id) => id,
            Err(_) => return Err(Ok(())),
        };
        self.class_map.insert(clone, class);
        self.name_map.insert(clone, copy_name.clone());
        self.name_rmap.insert(copy_name, clone);
        self.class_bucket.entry(original_id).or_default().insert(class, clone);
        Ok(clone)
    }

    // ---------------- rules ----------------

    fn rule(&mut self, r: &RuleAst) -> CResult<()> {
        let rname = r.name.as_ref().map(|t| t.s.clone()).unwrap_or_default();
        if let Some(n) = &r.name {
            if self.rule_id.contains_key(&n.s) {
                return self.err(n.at, format!("rule name '{}' already defined", n.s));
            }
        }
        let ruleno = int_node(&r.id.s);
        let ty = if r.ty.s == "replicated" { PG_TYPE_REPLICATED } else { PG_TYPE_ERASURE };
        let minsize = int_node(&r.min_size.s);
        let maxsize = int_node(&r.max_size.s);
        if ruleno >= 0 && (ruleno as usize) < self.rules.len() && self.rules[ruleno as usize].is_some() {
            return self.err(r.id.at, format!("rule {ruleno} already exists"));
        }
        // crush_add_rule
        let unable = || format!("unable to add rule id {ruleno} for rule '{rname}'");
        if ruleno < 0 {
            return self.err(r.id.at, unable());
        }
        if ruleno as i64 >= MAX_RULE_ID {
            return self.err(r.id.at, format!("rule id {ruleno} is too large (at most {} supported)", MAX_RULE_ID - 1));
        }
        let slot = ruleno as usize;
        if slot >= self.rules.len() {
            if self.rules.len() as u32 + 1 > MAX_RULES {
                return self.err(r.id.at, unable());
            }
            self.rules.resize(slot + 1, None);
        }
        let mut steps = Vec::with_capacity(r.steps.len());
        for s in &r.steps {
            let st = match s {
                StepAst::Take { at, item, class } => {
                    let Some(&mut_id) = self.item_id.get(&item.s) else {
                        return self.err(*at, format!("in rule '{rname}' item '{}' not defined", item.s));
                    };
                    let mut id = mut_id;
                    if let Some(c) = class {
                        let Some(&cid) = self.class_rname.get(&c.s) else {
                            return self.err(c.at, format!("in rule '{rname}' step take {}: device class '{}' does not exist", item.s, c.s));
                        };
                        let Some(cb) = self.class_bucket.get(&id) else {
                            return self.err(*at, format!("in rule '{rname}' step take {} has no class information", item.s));
                        };
                        let Some(&shadow) = cb.get(&cid) else {
                            return self.err(*at, format!("in rule '{rname}' step take {} no matching bucket for class {}", item.s, c.s));
                        };
                        id = shadow;
                    }
                    RuleStep { op: op::TAKE, arg1: id, arg2: 0 }
                }
                StepAst::Set { op, val } => RuleStep { op: *op, arg1: int_node(&val.s), arg2: 0 },
                StepAst::Choose { at, leaf, indep, n, ty } => {
                    let Some(&t) = self.type_id.get(&ty.s) else {
                        return self.err(*at, format!("in rule '{rname}' type '{}' not defined", ty.s));
                    };
                    let o = match (leaf, indep) {
                        (false, false) => op::CHOOSE_FIRSTN,
                        (false, true) => op::CHOOSE_INDEP,
                        (true, false) => op::CHOOSELEAF_FIRSTN,
                        (true, true) => op::CHOOSELEAF_INDEP,
                    };
                    RuleStep { op: o, arg1: int_node(&n.s), arg2: t }
                }
                StepAst::Emit => RuleStep { op: op::EMIT, arg1: 0, arg2: 0 },
            };
            steps.push(st);
        }
        self.rules[slot] = Some(Rule { ruleset: ruleno as u8, ty, min_size: minsize as u8, max_size: maxsize as u8, steps });
        if !rname.is_empty() {
            self.rule_name_map.insert(ruleno, rname.clone());
            self.rule_id.insert(rname, ruleno);
        }
        Ok(())
    }

    // ---------------- choose_args ----------------

    fn choose_args(&mut self, c: &ChooseArgsAst) -> CResult<()> {
        let index = int_node(&c.id.s) as i64;
        if self.choose_args.contains_key(&index) {
            return self.err(c.id.at, format!("choose_args {} duplicated", c.id.s));
        }
        let mut args: BTreeMap<u32, ChooseArg> = BTreeMap::new();
        for a in &c.args {
            let bucket_id = int_node(&a.bucket_id.s);
            let idx = -1 - bucket_id as i64;
            if idx < 0 || idx >= self.buckets.len() as i64 {
                return self.err(a.bucket_id.at, format!("choose_args: bucket_id {bucket_id} is out of range"));
            }
            let Some(b) = self.buckets[idx as usize].as_ref() else {
                return self.err(a.bucket_id.at, format!("choose_args: bucket_id {bucket_id} does not exist"));
            };
            let bsize = b.items.len();
            let entry = args.entry(idx as u32).or_default();
            if let Some(sets) = &a.weight_set {
                let mut ws = Vec::with_capacity(sets.len());
                for (at, v) in sets {
                    if v.len() != bsize {
                        return self.err(*at, format!("choose_args: bucket {bucket_id} needs exactly {bsize} weights but got {}", v.len()));
                    }
                    ws.push(v.iter().map(|t| weight_of(&t.s)).collect());
                }
                entry.weight_set = ws;
            }
            if let Some((at, v)) = &a.ids {
                if v.len() != bsize {
                    return self.err(*at, format!("choose_args: bucket {bucket_id} needs exactly {bsize} ids but got {}", v.len()));
                }
                entry.ids = v.iter().map(|t| int_node(&t.s)).collect();
            }
        }
        args.retain(|_, a| !(a.weight_set.is_empty() && a.ids.is_empty()));
        self.choose_args.insert(index, args);
        Ok(())
    }
}

/// `CrushCompiler::adjust_bucket_item_place`: a bucket that uses a bucket
/// defined after it swaps places with it (crushtool's exact algorithm,
/// which swaps parse-tree slots without tracking where buckets moved).
fn adjust_bucket_item_place(src: &Source, stmts: &mut [Stmt]) -> CResult<()> {
    let mut names: Vec<String> = Vec::new();
    let mut slot_of: HashMap<String, usize> = HashMap::new();
    let mut items_of: HashMap<String, HashSet<String>> = HashMap::new();
    for (i, s) in stmts.iter().enumerate() {
        if let Stmt::Bucket(b) = s {
            names.push(b.name.s.clone());
            slot_of.insert(b.name.s.clone(), i);
            let set = items_of.entry(b.name.s.clone()).or_default();
            for it in &b.items {
                set.insert(it.name.s.clone());
            }
        }
    }
    let empty = HashSet::new();
    for i in 0..names.len() {
        for j in i + 1..names.len() {
            let ii = items_of.get(&names[i]).unwrap_or(&empty);
            if ii.contains(&names[j]) {
                if items_of.get(&names[j]).unwrap_or(&empty).contains(&names[i]) {
                    let at = match &stmts[slot_of[&names[i]]] {
                        Stmt::Bucket(b) => b.at,
                        _ => 0,
                    };
                    return Err(CompileError {
                        line: src.line_of(at),
                        message: format!("bucket '{}' and bucket '{}' are included each other", names[i], names[j]),
                    });
                }
                stmts.swap(slot_of[&names[i]], slot_of[&names[j]]);
            }
        }
    }
    Ok(())
}

/// Builds the map `crushtool -c` builds from `text`.
pub fn compile(text: &str) -> Result<CrushMap, CompileError> {
    let src = Source::new(text);
    let mut p = Parser { s: &src.big, pos: 0, far: 0, expected: Vec::new() };
    let (mut stmts, stop) = p.crushmap();
    let mut end = stop;
    while end < src.big.len() && is_c_space(src.big[end]) {
        end += 1;
    }
    if end < src.big.len() {
        // report the farthest point the parser reached (usually the real
        // culprit), and the statement that could not be parsed
        let far = p.far.max(end);
        let mut msg = format!("parse error at {}", src.context(far));
        if !p.expected.is_empty() && p.far >= end {
            msg.push_str(&format!(" (expected {})", p.expected.join(" or ")));
        }
        let sline = src.line_of(end);
        let fline = src.line_of(far);
        if sline != fline {
            msg.push_str(&format!(
                "; in the statement starting at line {sline}: '{}'",
                src.lines.get(sline - 1).map(|l| l.trim()).unwrap_or("")
            ));
        }
        return Err(CompileError { line: fline, message: msg });
    }

    adjust_bucket_item_place(&src, &mut stmts)?;

    let mut b = Builder {
        src: &src,
        buckets: Vec::new(),
        rules: Vec::new(),
        type_map: BTreeMap::new(),
        name_map: BTreeMap::new(),
        name_rmap: HashMap::new(),
        rule_name_map: BTreeMap::new(),
        tunables: Tunables::LEGACY,
        class_map: BTreeMap::new(),
        class_name: BTreeMap::new(),
        class_rname: HashMap::new(),
        class_bucket: BTreeMap::new(),
        choose_args: BTreeMap::new(),
        item_id: HashMap::new(),
        id_item: BTreeSet::new(),
        item_weight: HashMap::new(),
        type_id: HashMap::new(),
        rule_id: HashMap::new(),
        old_class_bucket: BTreeMap::new(),
    };

    // find_used_bucket_ids: the first `id` line of each bucket
    for s in &stmts {
        if let Stmt::Bucket(bk) = s {
            if let Some(first) = bk.ids.first() {
                b.id_item.insert(int_node(&first.id.s));
            }
        }
    }

    let mut saw_rule = false;
    for s in &stmts {
        match s {
            Stmt::Tunable { at, name, val } => b.tunable(*at, name, val)?,
            Stmt::Device { at, id, name, class } => b.device(*at, id, name, class.as_ref())?,
            Stmt::Type { id, name } => {
                let id = int_node(&id.s);
                b.type_id.insert(name.s.clone(), id);
                b.type_map.insert(id, name.s.clone());
            }
            Stmt::Bucket(bk) => {
                if saw_rule {
                    return b.err(bk.at, "buckets must be defined before rules");
                }
                b.bucket(bk)?;
            }
            Stmt::Rule(r) => {
                if !saw_rule {
                    saw_rule = true;
                    // crushtool ignores a failure here (a partial shadow
                    // tree remains); only states where it would crash fail
                    if let Err(Err(e)) = b.populate_classes() {
                        return Err(CompileError { line: src.line_of(r.at), message: e.message });
                    }
                }
                b.rule(r)?;
            }
            Stmt::ChooseArgs(c) => b.choose_args(c)?,
        }
    }

    // finalize
    let mut max_devices: i32 = 0;
    for bk in b.buckets.iter().flatten() {
        for &it in &bk.items {
            if it >= max_devices {
                max_devices = it.wrapping_add(1);
            }
        }
    }
    if let Some((&last, _)) = b.name_map.iter().next_back() {
        if last >= max_devices {
            max_devices = last.wrapping_add(1);
        }
    }

    Ok(CrushMap {
        max_devices,
        buckets: b.buckets,
        rules: b.rules,
        type_map: b.type_map,
        name_map: b.name_map,
        rule_name_map: b.rule_name_map,
        tunables: b.tunables,
        class_map: b.class_map,
        class_name: b.class_name,
        class_bucket: b.class_bucket,
        choose_args: b.choose_args,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed3_rounds_like_glibc() {
        assert_eq!(fixed3(0x10000), "1.000");
        assert_eq!(fixed3(0x1000), "0.062"); // 0.0625: tie to even
        assert_eq!(fixed3(0x3000), "0.188"); // 0.1875: tie to even
        assert_eq!(fixed3(0), "0.000");
        assert_eq!(fixed3(-1), "-0.000");
        assert_eq!(fixed3(-0x18000), "-1.500");
        assert_eq!(fixed3(1837034), "28.031");
    }

    #[test]
    fn int_node_is_strtol_then_int() {
        assert_eq!(int_node("18446744073709551615"), -1);
        assert_eq!(int_node("4294967296"), 0);
        assert_eq!(int_node("-5"), -5);
        assert_eq!(int_node("12"), 12);
    }

    #[test]
    fn weights_are_scaled_in_single_precision() {
        assert_eq!(weight_of("3.638"), 238419);
        assert_eq!(weight_of("1.0"), 0x10000);
        assert_eq!(weight_of("1e30"), 0);
        assert_eq!(weight_of("-1"), 0xffff_0000);
        assert_eq!(weight_of("1."), 0x10000);
        assert_eq!(weight_of(".5"), 0x8000);
        assert_eq!(weight_of("+2"), 0x20000);
        assert_eq!(weight_of("-.5"), 0xffff_8000);
        assert_eq!(weight_of("1e-2"), 655);
        assert_eq!(weight_of("99.99999"), 6553599);
    }

    #[test]
    fn tree_parent_labels() {
        assert_eq!(tree_parent(1), 2);
        assert_eq!(tree_parent(3), 2);
        assert_eq!(tree_parent(2), 4);
        assert_eq!(tree_parent(5), 6);
        assert_eq!(tree_parent(6), 4);
    }
}
