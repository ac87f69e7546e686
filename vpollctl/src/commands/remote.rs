// SPDX-License-Identifier: MIT OR Apache-2.0

//! `add`, `del`, `set`, `get` on a vpoll fd of another process.

use crate::cli::Target;
use crate::error::{CliError, Context, Result};
use crate::exit_code::ExitCode;
use crate::output::{self, Mask};
use vpoll::{Events, Op, Vpoll};

/// Takes the fd over from `target` as a `Vpoll`, refusing anything else.
/// What `/proc` says of the fd is looked at first: taking a duplicate of a
/// file is not free of side effects (`pidfd_getfd` tags a socket with the
/// taker's cgroup), so nothing that is not a vpoll fd is taken.
pub fn open(target: &Target) -> Result<Vpoll> {
    if let Some(what) = crate::proc::not_vpoll(target.pid, target.fd)? {
        return Err(refusal(target, &what));
    }
    let fd = crate::proc::take_fd(target.pid, target.fd)?;
    Vpoll::try_from(fd).map_err(|not| refusal(target, &not.what))
}

fn refusal(target: &Target, what: &str) -> CliError {
    let hint = if what.starts_with("socket:") {
        " (an emulated vpoll fd is a socket that only the process that made it can drive)"
    } else {
        ""
    };
    CliError::failed(
        format!("fd {} of process {}", target.fd, target.pid),
        format!("not a vpoll fd, it is {what}; left untouched{hint}"),
    )
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
