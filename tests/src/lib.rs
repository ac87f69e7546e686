// SPDX-License-Identifier: MIT OR Apache-2.0

//! Shared pieces of vpoll's tests: a thin `/dev/vpoll` handle, and waiters
//! that prove they are blocked in the kernel.

pub mod command;
pub mod device;
pub mod kernel;
pub mod rng;
pub mod waiter;
