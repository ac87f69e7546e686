// SPDX-License-Identifier: MIT OR Apache-2.0

//! The exit codes vpollctl promises.

/// How vpollctl ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    /// It did what was asked.
    Success = 0,
    /// The operation failed (the message says why).
    Failure = 1,
    /// The command line was wrong (clap uses 2 for its own errors too).
    Usage = 2,
}

impl From<ExitCode> for std::process::ExitCode {
    fn from(code: ExitCode) -> Self {
        std::process::ExitCode::from(code as u8)
    }
}
