// SPDX-License-Identifier: MIT OR Apache-2.0

//! The guest suite: run inside the test kernel with our `vpoll.ko` loaded
//! (`qemu/vm test`). Every test talks to the real `/dev/vpoll`.
//!
//! Run with `--test-threads=1`: the lifecycle tests unload and reload the module.

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
