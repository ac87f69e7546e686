// SPDX-License-Identifier: MIT OR Apache-2.0

//! Shared pieces of vpoll's tests: a thin `/dev/vpoll` handle, waiters that
//! prove they are blocked in the kernel, and the netstack's echo server.

pub mod command;
pub mod device;
pub mod echo;
pub mod kernel;
pub mod netem;
pub mod rng;

/// Waiters proven asleep: in `vpoll-testkit`, which every suite shares.
pub use vpoll_testkit::waiter;
