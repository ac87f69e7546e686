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
    // Output into a closed pipe (`vpollctl watch … | head -1`) ends the
    // program quietly, as it does coreutils, instead of failing every write.
    #[allow(unsafe_code)] // the one signal disposition the program sets
    // SAFETY: SIG_DFL for SIGPIPE, before any thread starts; no handler runs.
    let _ = unsafe {
        nix::sys::signal::signal(
            nix::sys::signal::SIGPIPE,
            nix::sys::signal::SigHandler::SigDfl,
        )
    };
    let cli = cli::Cli::parse();
    match commands::run(cli) {
        Ok(code) => code.into(),
        Err(e) => {
            eprintln!("vpollctl: {}", e.message);
            e.code.into()
        }
    }
}
