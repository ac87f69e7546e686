// SPDX-License-Identifier: MIT OR Apache-2.0

//! The exit codes vpollctl promises.

/// How vpollctl ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    /// It did what was asked.
    Success,
    /// The operation failed (the message says why).
    Failure,
    /// The command line was wrong (clap uses 2 for its own errors too).
    Usage,
    /// `exec`: the command's own status (128 + N if signal N ended it).
    Command(u8),
}

impl From<ExitCode> for std::process::ExitCode {
    fn from(code: ExitCode) -> Self {
        std::process::ExitCode::from(match code {
            ExitCode::Success => 0,
            ExitCode::Failure => 1,
            ExitCode::Usage => 2,
            ExitCode::Command(status) => status,
        })
    }
}
