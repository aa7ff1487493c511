//! What the binary's tests share: the `steward` binary run in a directory
//! with a clean environment, and its JSON output.

#![allow(dead_code)]

use std::path::Path;

use assert_cmd::Command;
use serde_json::Value;

/// The `steward` binary, run in `dir`, with no `STEWARD_*` variable or
/// `DATABASE_URL` from the test's own environment.
pub(crate) fn steward(dir: &Path) -> Command {
    let mut command = Command::cargo_bin("steward").expect("binary built");
    command
        .current_dir(dir)
        .env_remove("DATABASE_URL")
        .env_remove("STEWARD_MASTER_KEY");
    for (key, _) in std::env::vars() {
        if key.starts_with("STEWARD_") {
            command.env_remove(key);
        }
    }
    command
}

/// One JSON value per line of output.
pub(crate) fn json_lines(output: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(output)
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON value per line"))
        .collect()
}
