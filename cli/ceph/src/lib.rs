//! The pieces of our `ceph` command that do not need a cluster: command
//! matching (a faithful port of the real CLI's rules), help formatting, and
//! global option parsing.

pub mod argparse;
pub mod help;
pub mod options;
