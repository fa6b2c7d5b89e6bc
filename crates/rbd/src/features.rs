//! Image features, op features and flags (`include/rbd/features.h`), with
//! the names `rbd info` prints and `--image-feature` takes.

pub const LAYERING: u64 = 1 << 0;
pub const STRIPINGV2: u64 = 1 << 1;
pub const EXCLUSIVE_LOCK: u64 = 1 << 2;
pub const OBJECT_MAP: u64 = 1 << 3;
pub const FAST_DIFF: u64 = 1 << 4;
pub const DEEP_FLATTEN: u64 = 1 << 5;
pub const JOURNALING: u64 = 1 << 6;
pub const DATA_POOL: u64 = 1 << 7;
pub const OPERATIONS: u64 = 1 << 8;

/// `rbd_default_features`: layering, exclusive-lock, object-map, fast-diff,
/// deep-flatten.
pub const DEFAULT: u64 = 61;
/// What this client implements for writing (journaling is not).
pub const SUPPORTED: u64 = LAYERING | STRIPINGV2 | EXCLUSIVE_LOCK | OBJECT_MAP | FAST_DIFF | DEEP_FLATTEN | DATA_POOL | OPERATIONS;
/// Features `rbd feature enable/disable` may change (`RBD_FEATURES_MUTABLE`).
pub const MUTABLE: u64 = EXCLUSIVE_LOCK | OBJECT_MAP | FAST_DIFF | JOURNALING;

const NAMES: [(u64, &str); 11] = [
    (LAYERING, "layering"),
    (STRIPINGV2, "striping"),
    (EXCLUSIVE_LOCK, "exclusive-lock"),
    (OBJECT_MAP, "object-map"),
    (FAST_DIFF, "fast-diff"),
    (DEEP_FLATTEN, "deep-flatten"),
    (JOURNALING, "journaling"),
    (DATA_POOL, "data-pool"),
    (OPERATIONS, "operations"),
    (1 << 9, "migrating"),
    (1 << 10, "non-primary"),
];

pub const OP_CLONE_PARENT: u64 = 1;
pub const OP_CLONE_CHILD: u64 = 2;
const OP_NAMES: [(u64, &str); 4] = [(1, "clone-parent"), (2, "clone-child"), (4, "group"), (8, "snap-trash")];
const FLAG_NAMES: [(u64, &str); 2] = [(1, "object map invalid"), (2, "fast diff invalid")];

fn names(bits: u64, table: &[(u64, &'static str)]) -> Vec<&'static str> {
    table.iter().filter(|(b, _)| bits & b != 0).map(|(_, n)| *n).collect()
}

pub fn feature_names(f: u64) -> Vec<&'static str> {
    names(f, &NAMES)
}
pub fn op_feature_names(f: u64) -> Vec<&'static str> {
    names(f, &OP_NAMES)
}
pub fn flag_names(f: u64) -> Vec<&'static str> {
    names(f, &FLAG_NAMES)
}

/// One feature by name (`--image-feature NAME`) or a number.
pub fn parse_one(s: &str) -> Option<u64> {
    s.parse().ok().or_else(|| NAMES.iter().find(|(_, n)| *n == s).map(|(b, _)| *b))
}

/// `rbd_default_features` as a number or a comma-separated list of names.
pub fn parse_list(s: &str) -> Option<u64> {
    s.split(',').map(str::trim).filter(|s| !s.is_empty()).try_fold(0, |acc, f| parse_one(f).map(|b| acc | b))
}

/// librbd's dependency rules: fast-diff needs object-map, which needs
/// exclusive-lock; journaling needs exclusive-lock.
pub fn check_dependencies(f: u64) -> Result<(), &'static str> {
    if f & FAST_DIFF != 0 && f & OBJECT_MAP == 0 {
        return Err("fast-diff requires object-map");
    }
    if f & OBJECT_MAP != 0 && f & EXCLUSIVE_LOCK == 0 {
        return Err("object-map requires exclusive-lock");
    }
    if f & JOURNALING != 0 && f & EXCLUSIVE_LOCK == 0 {
        return Err("journaling requires exclusive-lock");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_in_rbd_info_order() {
        assert_eq!(feature_names(DEFAULT).join(", "), "layering, exclusive-lock, object-map, fast-diff, deep-flatten");
        assert_eq!(parse_list("layering,exclusive-lock,object-map,fast-diff,deep-flatten"), Some(DEFAULT));
        assert_eq!(parse_list("61"), Some(61));
        assert_eq!(parse_list("layering,bogus"), None);
        assert!(check_dependencies(LAYERING | OBJECT_MAP).is_err());
        assert!(check_dependencies(DEFAULT).is_ok());
    }
}
