//! The `facerec` command line: one file per subcommand, all thin over the library.

pub mod bench;
pub mod bench_node;
pub mod common;
pub mod eval;
pub mod faces;
pub mod play;
pub mod replay;
