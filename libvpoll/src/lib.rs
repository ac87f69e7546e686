// SPDX-License-Identifier: MIT OR Apache-2.0

//! Synthetic poll events for Linux: file descriptors that report the poll
//! events you set.
//!
//! A user-level network stack, a virtual device or any library that emulates
//! something in user space can hand out a [`Vpoll`] file descriptor and decide
//! what `poll`, `select`, `epoll` or `io_uring` see on it: `IN` when its queue
//! has data, `PRI` for urgent data, `HUP` when the peer is gone.
//!
//! ```
//! use vpoll::{Events, Vpoll};
//! use std::os::fd::AsRawFd;
//!
//! let vp = Vpoll::new()?;
//! vp.add(Events::IN)?;
//! let mut p = libc::pollfd { fd: vp.as_raw_fd(), events: libc::POLLIN, revents: 0 };
//! assert_eq!(unsafe { libc::poll(&mut p, 1, 0) }, 1);
//! assert_eq!(p.revents, libc::POLLIN);
//! # Ok::<(), vpoll::Error>(())
//! ```
//!
//! # Backends
//!
//! Tried in this order (the first that works is used from then on), or the
//! one named by `VPOLL_BACKEND` (`device`, `eventfd`, `emulation`) or
//! [`Builder::backend`]:
//!
//! | backend | needs | events |
//! |---|---|---|
//! | [`Backend::Device`] | the vpoll module (`/dev/vpoll`) | all |
//! | [`Backend::EventFd`] | a kernel with the `EFD_VPOLL` eventfd patch | all |
//! | [`Backend::Emulation`] | nothing | `IN`, `OUT`, `PRI`, `RDHUP`, `HUP` and their companions; see [`Backend::deliverable`] |
//!
//! An event a backend cannot deliver is an error ([`Error::Unsupported`],
//! [`Error::Irreversible`], [`Error::Inseparable`]), never silently dropped.
//!
//! # Event loops
//!
//! `Vpoll` implements `AsFd` and `AsRawFd` and owns its fd, which stays the
//! same until it is dropped: it meets the contract of tokio's
//! `AsyncFd::register_with_interest`, so `AsyncFd<Vpoll>` needs no glue. With
//! the `mio` feature it is a `mio::event::Source`.

#![deny(missing_docs, unsafe_op_in_unsafe_fn, unsafe_code)]

pub mod abi;
mod backend;
mod batch;
mod choice;
mod device;
mod emulation;
mod error;
mod eventfd;
mod events;
#[cfg(feature = "mio")]
mod mio_source;
mod op;
mod sys;
mod unix_oob;
mod vpoll;

pub use backend::{Backend, ParseBackendError, BACKEND_VAR};
pub use error::{Error, Result};
pub use events::{Events, ParseEventsError};
pub use op::{Op, ParseOpError};
pub use vpoll::{Applied, Builder, RefusedFd, Vpoll};
