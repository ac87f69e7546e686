// SPDX-License-Identifier: MIT OR Apache-2.0

//! vpollctl: inspect vpoll fds and inject events by hand.
//!
//! The commands arrive with the library's `Vpoll` type; until then this
//! binary only says so, and exits with the usage-error code.

use std::process::ExitCode;

fn main() -> ExitCode {
    eprintln!(
        "vpollctl {}: no commands yet; /dev/vpoll's ioctls are {:#x}/{:#x}/{:#x}",
        env!("CARGO_PKG_VERSION"),
        vpoll::abi::VPOLL_IO_ADDEVENTS,
        vpoll::abi::VPOLL_IO_DELEVENTS,
        vpoll::abi::VPOLL_IO_SETEVENTS,
    );
    ExitCode::from(2)
}
