// SPDX-License-Identifier: MIT OR Apache-2.0

//! Every argument vpollctl takes, in one place.

use clap::{Parser, Subcommand};
use std::time::Duration;
use vpoll::{Backend, Events};

/// A timeout in seconds: a finite, non-negative number (`0.5`, `30`).
pub fn seconds(arg: &str) -> Result<Duration, String> {
    let secs: f64 = arg
        .trim()
        .parse()
        .map_err(|_| format!("{arg:?} is not a number of seconds"))?;
    if !secs.is_finite() || secs < 0.0 {
        return Err(format!(
            "{arg:?} is not a finite, non-negative number of seconds"
        ));
    }
    Duration::try_from_secs_f64(secs).map_err(|_| format!("{arg:?} seconds is too long"))
}

/// Inspect vpoll file descriptors and inject poll events by hand.
///
/// EVENTS are names (in, out, pri, err, hup, rdhup, nval, rdnorm, rdband,
/// wrnorm, wrband, msg; any case, POLL/EPOLL prefix optional) separated by
/// `,` or `|`, or a number such as 0x2001.
///
/// Exit status: 0 success, 1 the operation failed, 2 usage error.
#[derive(Debug, Parser)]
#[command(name = "vpollctl", version, propagate_version = true)]
pub struct Cli {
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,

    #[command(subcommand)]
    pub command: Command,
}

/// Where a vpoll fd lives in another process.
#[derive(Debug, clap::Args)]
pub struct Target {
    /// The process that holds the fd.
    #[arg(long)]
    pub pid: i32,
    /// The fd's number in that process.
    #[arg(long)]
    pub fd: i32,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// What this system offers: the device, EFD_VPOLL, the emulation, and
    /// which backend the library would pick and why.
    Info,

    /// Run CMD with a fresh vpoll fd, then read commands from stdin
    /// (`add in,pri`, `del out`, `set hup`, `get`), apply each and print the
    /// resulting mask, until end of input; exit with CMD's status.
    Exec {
        /// Events pending from the start.
        #[arg(long, default_value = "0")]
        events: Events,
        /// The fd number CMD gets it as (also in its environment as VPOLL_FD).
        #[arg(long, default_value_t = 3)]
        fd: i32,
        /// Use this backend (default: as the library chooses).
        #[arg(long)]
        backend: Option<Backend>,
        /// The command to run, and its arguments.
        #[arg(required = true, trailing_var_arg = true, value_name = "CMD")]
        command: Vec<String>,
    },

    /// Add EVENTS to a vpoll fd of another process.
    Add {
        events: Events,
        #[command(flatten)]
        target: Target,
    },

    /// Delete EVENTS from a vpoll fd of another process.
    Del {
        events: Events,
        #[command(flatten)]
        target: Target,
    },

    /// Set the events of a vpoll fd of another process to EVENTS.
    Set {
        events: Events,
        #[command(flatten)]
        target: Target,
    },

    /// Print the events of a vpoll fd of another process.
    Get {
        #[command(flatten)]
        target: Target,
    },

    /// List the vpoll fds (device and eventfd) of processes: all visible ones,
    /// or the PIDs given.
    Ls { pids: Vec<i32> },

    /// Print each change of a vpoll fd's events as it happens, with a
    /// timestamp, until interrupted: every raise (ADD, SET) as the wakeup it
    /// sends, with the events it raised and the mask then. A DEL wakes
    /// nobody, so it shows only in the mask printed with the next raise;
    /// raises faster than vpollctl can print merge into one line.
    Watch {
        #[command(flatten)]
        target: Target,
        /// Stop after this many changes.
        #[arg(long)]
        count: Option<u64>,
        /// Stop after this many seconds.
        #[arg(long, value_parser = seconds, allow_negative_numbers = true)]
        timeout: Option<Duration>,
    },

    /// Wait until an fd of this process (e.g. one vpollctl exec passed on)
    /// reports any of EVENTS, and print what it reported; exit 1 on timeout.
    Wait {
        events: Events,
        /// The fd (default: $VPOLL_FD, else 3).
        #[arg(long)]
        fd: Option<i32>,
        /// Give up after this many seconds (default: wait for ever).
        #[arg(long, value_parser = seconds, allow_negative_numbers = true)]
        timeout: Option<Duration>,
    },

    /// Print a shell completion script.
    Completions { shell: clap_complete::Shell },

    /// Print the manual page (roff).
    Man,
}
