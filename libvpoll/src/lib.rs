// SPDX-License-Identifier: MIT OR Apache-2.0

//! Synthetic poll events for Linux.
//!
//! A vpoll file descriptor reports whatever poll events its owner sets, to
//! every way Linux waits on a file descriptor. This crate will grow the safe
//! `Vpoll` type; today it holds the kernel ABI shared by the device and the
//! `EFD_VPOLL` eventfd.

#![deny(missing_docs, unsafe_code)]

pub mod abi;
