//! Helpers shared by the test binaries that run the `facerec` command line on the fixtures
//! (`mod common;` in each). `tests/common/mod.rs`, not `tests/common.rs`: cargo would build the
//! latter as a test binary of its own. Each binary uses a subset, hence the dead-code allowance.
#![allow(dead_code)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code: a panic is a failure report

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A file under `tests/fixtures/faces`.
pub fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/faces")
        .join(rel)
}

/// A bag under `tests/fixtures/bags`, as a command-line argument.
pub fn bag(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/bags")
        .join(name)
        .display()
        .to_string()
}

/// Runs the CLI on the execution provider the suite runs on (`FACEREC_TEST_PROVIDER`, CPU when unset).
pub fn facerec(args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_facerec"));
    if let Ok(provider) = std::env::var("FACEREC_TEST_PROVIDER") {
        cmd.args(["--provider", provider.trim()]);
    }
    cmd.args(args).output().expect("facerec runs")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
