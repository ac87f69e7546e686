// SPDX-License-Identifier: MIT OR Apache-2.0

//! One module per command; `run` dispatches.

mod exec;
mod info;
mod ls;
mod remote;
mod wait;
mod watch;

use crate::cli::{Cli, Command};
use crate::error::{Context, Result};
use crate::exit_code::ExitCode;
use clap::CommandFactory;
use vpoll::Op;

pub fn run(cli: Cli) -> Result<ExitCode> {
    let json = cli.json;
    match cli.command {
        Command::Info => info::run(json),
        Command::Exec {
            events,
            fd,
            backend,
            command,
        } => exec::run(json, events, fd, backend, &command),
        Command::Add { events, target } => remote::apply(json, &target, Some((Op::Add, events))),
        Command::Del { events, target } => remote::apply(json, &target, Some((Op::Del, events))),
        Command::Set { events, target } => remote::apply(json, &target, Some((Op::Set, events))),
        Command::Get { target } => remote::apply(json, &target, None),
        Command::Ls { pids } => ls::run(json, &pids),
        Command::Watch {
            target,
            count,
            timeout,
        } => watch::run(json, &target, count, timeout),
        Command::Wait {
            events,
            fd,
            timeout,
        } => wait::run(json, events, fd, timeout),
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "vpollctl",
                &mut std::io::stdout(),
            );
            Ok(ExitCode::Success)
        }
        Command::Man => {
            clap_mangen::Man::new(Cli::command())
                .render(&mut std::io::stdout())
                .context("writing the manual page")?;
            Ok(ExitCode::Success)
        }
    }
}
