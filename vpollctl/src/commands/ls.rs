// SPDX-License-Identifier: MIT OR Apache-2.0

//! `ls`: the vpoll fds of processes, from /proc.

use crate::error::{Context, Result};
use crate::exit_code::ExitCode;
use crate::output;
use crate::proc::{all_pids, vpoll_fds, Listed};

pub fn run(json: bool, pids: &[i32]) -> Result<ExitCode> {
    let mut found: Vec<Listed> = Vec::new();
    if pids.is_empty() {
        // Every process we may look at; the others are not ours to list.
        for pid in all_pids() {
            found.extend(vpoll_fds(pid).unwrap_or_default());
        }
    } else {
        for &pid in pids {
            found.extend(vpoll_fds(pid).context(format!("reading /proc/{pid}/fd"))?);
        }
    }
    output::print(json, &found, || {
        let mut table = format!(
            "{:>7} {:>4}  {:<9} {:<16} EVENTS",
            "PID", "FD", "BACKEND", "COMMAND"
        );
        for l in &found {
            table += &format!(
                "\n{:>7} {:>4}  {:<9} {:<16} {}",
                l.pid, l.fd, l.backend, l.command, l.events
            );
        }
        table
    });
    Ok(ExitCode::Success)
}
