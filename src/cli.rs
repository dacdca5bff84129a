//! The `facerec` command line: one file per subcommand, all thin over the library; the
//! benchmark commands (`bench`, `bench-node`) apart in [`bench`]. Binary-only: may use anything
//! of the library, and is the only place (with `src/bin/`) that prints or uses `anyhow`.

pub mod bench;
pub mod common;
pub mod crops;
pub mod eval;
pub mod faces;
pub mod play;
pub mod replay;
pub mod watch;
