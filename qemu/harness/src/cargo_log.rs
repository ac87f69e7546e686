// SPDX-License-Identifier: MIT OR Apache-2.0

//! Reading `cargo test`'s own output: which test binaries ran and whether
//! each printed its summary. A binary that crashes (abort, signal, a panic
//! outside a test) prints none, and its tests would otherwise go uncounted.

/// The test binaries (cargo's `Running …` and `Doc-tests …` lines) that
/// started but printed no `test result:` line before the next one started or
/// the log ended.
pub fn binaries_without_summary(log: &str) -> Vec<String> {
    let mut missing = Vec::new();
    let mut current: Option<&str> = None;
    for line in log.lines() {
        let line = line.trim();
        if line.starts_with("Running ") || line.starts_with("Doc-tests ") {
            missing.extend(current.replace(line).map(str::to_owned));
        } else if line.starts_with("test result: ") {
            current = None;
        }
    }
    missing.extend(current.map(str::to_owned));
    missing
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_binary_with_a_summary_is_complete() {
        let log = "     Running unittests src/lib.rs (target/debug/deps/vpoll-1)\n\
                   running 1 test\n\
                   test result: ok. 1 passed; 0 failed; 0 ignored\n\
                   \x20  Doc-tests vpoll\n\
                   running 2 tests\n\
                   test result: ok. 2 passed; 0 failed; 0 ignored\n";
        assert!(binaries_without_summary(log).is_empty());
    }

    #[test]
    fn a_binary_that_died_is_named() {
        let log = "     Running tests/a.rs (target/debug/deps/a-1)\n\
                   running 3 tests\n\
                   error: test failed, to rerun pass `--test a`\n\
                   \x20    Running tests/b.rs (target/debug/deps/b-1)\n\
                   test result: ok. 1 passed; 0 failed; 0 ignored\n\
                   \x20    Running tests/c.rs (target/debug/deps/c-1)\n";
        assert_eq!(
            binaries_without_summary(log),
            [
                "Running tests/a.rs (target/debug/deps/a-1)",
                "Running tests/c.rs (target/debug/deps/c-1)"
            ]
        );
    }
}
