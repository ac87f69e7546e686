// SPDX-License-Identifier: MIT OR Apache-2.0

//! vpollctl: inspect vpoll fds and inject poll events by hand.

mod cli;
mod commands;
mod error;
mod exit_code;
mod output;
mod proc;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    match commands::run(cli) {
        Ok(code) => code.into(),
        Err(e) => {
            eprintln!("vpollctl: {}", e.message);
            e.code.into()
        }
    }
}
