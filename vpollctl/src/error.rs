// SPDX-License-Identifier: MIT OR Apache-2.0

//! One error type: a message with its context, and the exit code it means.

use crate::exit_code::ExitCode;
use std::fmt;

/// What failed, said once, with context.
#[derive(Debug)]
pub struct CliError {
    pub message: String,
    pub code: ExitCode,
}

pub type Result<T, E = CliError> = std::result::Result<T, E>;

impl CliError {
    /// An operation that failed: `context: cause`.
    pub fn failed(context: impl fmt::Display, cause: impl fmt::Display) -> CliError {
        CliError {
            message: format!("{context}: {cause}"),
            code: ExitCode::Failure,
        }
    }

    /// A command line that cannot be right.
    pub fn usage(message: impl fmt::Display) -> CliError {
        CliError {
            message: message.to_string(),
            code: ExitCode::Usage,
        }
    }
}

/// `result.context("doing X")?` turns any error into a failure that says what was being done.
pub trait Context<T> {
    fn context(self, what: impl fmt::Display) -> Result<T>;
}

impl<T, E: fmt::Display> Context<T> for std::result::Result<T, E> {
    fn context(self, what: impl fmt::Display) -> Result<T> {
        self.map_err(|e| CliError::failed(what, e))
    }
}
