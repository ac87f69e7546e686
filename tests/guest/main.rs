// SPDX-License-Identifier: MIT OR Apache-2.0

//! The guest suite: run inside the test kernel with our `vpoll.ko` loaded
//! (`qemu/vm test`). Every test talks to the real `/dev/vpoll`.
//!
//! Run with `--test-threads=1`: the lifecycle tests unload and reload the module.

// The module's suite calls the kernel as C clients do: raw ioctls, reads,
// writes, polls and io_uring on buffers it lays out itself.
#![allow(unsafe_code)]

mod abi;
mod batch;
mod c_clients;
mod eventfd;
mod fuzz;
mod lifecycle;
mod matrix;
mod memcg;
mod netstack;
mod protocol;
mod stress;
mod system;
mod vpollctl;
mod wakeup;
