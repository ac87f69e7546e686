// SPDX-License-Identifier: MIT OR Apache-2.0

//! The `qemu/vm` harness's own code: reading what a run printed, to judge it.

pub mod cargo_log;
pub mod console;
