// SPDX-License-Identifier: MIT OR Apache-2.0

//! Running a program under test with some stdin and capturing all it says.

use std::io::Write;
use std::process::{Command, Output, Stdio};

/// Runs `program` with `args`, feeds it `stdin`, and collects its output.
pub fn run(program: &str, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("running {program}: {e}"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}
