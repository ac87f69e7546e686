// SPDX-License-Identifier: MIT OR Apache-2.0

//! `add`, `del`, `set`, `get` on a vpoll fd of another process.

use crate::cli::Target;
use crate::error::{CliError, Context, Result};
use crate::exit_code::ExitCode;
use crate::output::{self, Mask};
use vpoll::{Events, Op, Vpoll};

/// Takes the fd over from `target` as a `Vpoll`, refusing anything else.
pub fn open(target: &Target) -> Result<Vpoll> {
    let fd = crate::proc::take_fd(target.pid, target.fd)?;
    Vpoll::try_from(fd).map_err(|not| {
        let hint = if not.what.starts_with("socket:") {
            " (an emulated vpoll fd is a socket that only the process that made it can drive)"
        } else {
            ""
        };
        CliError::failed(
            format!("fd {} of process {}", target.fd, target.pid),
            format!("not a vpoll fd, it is {}; left untouched{hint}", not.what),
        )
    })
}

/// Applies `change` to the target's vpoll fd (`None`: only reads it) and
/// prints the mask then.
pub fn apply(json: bool, target: &Target, change: Option<(Op, Events)>) -> Result<ExitCode> {
    let vp = open(target)?;
    let what = format!("fd {} of process {}", target.fd, target.pid);
    let events = match change {
        Some((op, events)) => vp.apply(op, events),
        None => vp.events(),
    }
    .context(&what)?;
    output::print(json, &Mask::from(events), || events.to_string());
    Ok(ExitCode::Success)
}
