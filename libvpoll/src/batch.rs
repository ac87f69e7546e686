// SPDX-License-Identifier: MIT OR Apache-2.0

//! Many changes at once: [`Vpoll::apply_many`] and [`Vpoll::apply_many_to`].
//!
//! On the device backend the changes go to the kernel together, up to
//! [`VPOLL_BATCH_MAX`] in one system call (`VPOLL_IO_BATCH`), each with
//! exactly the effect and the wakeups of its own ioctl. Every other change
//! (an eventfd, the emulation, a module without that ioctl) is made on its
//! own. Each fd's changes are applied in the order given; changes to
//! different fds are independent.

use crate::abi::{BatchEntry, VPOLL_BATCH_MAX};
use crate::backend::Backend;
use crate::device;
use crate::error::{Error, Result};
use crate::events::Events;
use crate::op::Op;
use crate::sys;
use crate::vpoll::Vpoll;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once a `/dev/vpoll` fd refused `VPOLL_IO_BATCH` (the C module, or
/// ours from before it had it): from then on every change goes alone.
static NO_BATCH: AtomicBool = AtomicBool::new(false);

impl Vpoll {
    /// Applies many changes, to any number of vpoll fds, and returns each
    /// one's result, in order: what [`apply`](Vpoll::apply) would have
    /// returned for it. On the device backend they cost one system call per
    /// [`VPOLL_BATCH_MAX`] changes, instead of one each.
    ///
    /// ```
    /// use vpoll::{Events, Op, Vpoll};
    /// let (a, b) = (Vpoll::new()?, Vpoll::new()?);
    /// let results = Vpoll::apply_many(&[
    ///     (&a, Op::Add, Events::IN),
    ///     (&b, Op::Add, Events::OUT),
    ///     (&a, Op::Del, Events::IN),
    /// ]);
    /// assert!(results[0].as_ref().unwrap().contains(Events::IN));
    /// assert!(results[1].as_ref().unwrap().contains(Events::OUT));
    /// assert!(!results[2].as_ref().unwrap().contains(Events::IN));
    /// # Ok::<(), vpoll::Error>(())
    /// ```
    pub fn apply_many(changes: &[(&Vpoll, Op, Events)]) -> Vec<Result<Events>> {
        let mut results: Vec<Option<Result<Events>>> = Vec::with_capacity(changes.len());
        let mut batch = Batch::default();
        let batching = !NO_BATCH.load(Ordering::Relaxed);
        for (i, &(vp, op, events)) in changes.iter().enumerate() {
            match vp.device_fd() {
                Some(fd) if batching => {
                    batch.push(i, fd, op, events);
                    results.push(None);
                }
                _ => results.push(Some(vp.apply(op, events))),
            }
        }
        batch.run(&mut results, true, |i| {
            let (vp, op, events) = changes[i];
            vp.apply(op, events)
        });
        results
            .into_iter()
            .map(|r| r.expect("every change has a result"))
            .collect()
    }

    /// [`apply_many`](Vpoll::apply_many) for vpoll fds that no `Vpoll` of
    /// this process owns, each as [`apply_to`](Vpoll::apply_to) would: a fd
    /// that is no vpoll fd is [`Error::NotVpoll`] and untouched. The changes
    /// go to the kernel together when the first fd of each
    /// [`VPOLL_BATCH_MAX`] is a `/dev/vpoll` fd of this project's module;
    /// otherwise each goes alone.
    ///
    /// ```
    /// use std::os::fd::AsFd;
    /// use vpoll::{Error, Events, Op, Vpoll};
    /// let vp = Vpoll::new()?;
    /// let null = std::fs::File::open("/dev/null").unwrap();
    /// let results = Vpoll::apply_many_to(&[
    ///     (vp.as_fd(), Op::Add, Events::IN),
    ///     (null.as_fd(), Op::Add, Events::IN),
    /// ]);
    /// # if vp.backend() != vpoll::Backend::Emulation {
    /// assert!(results[0].as_ref().unwrap().contains(Events::IN));
    /// # }
    /// assert!(matches!(results[1], Err(Error::NotVpoll { .. })));
    /// # Ok::<(), vpoll::Error>(())
    /// ```
    pub fn apply_many_to(changes: &[(BorrowedFd<'_>, Op, Events)]) -> Vec<Result<Events>> {
        let mut results: Vec<Option<Result<Events>>> = Vec::with_capacity(changes.len());
        let mut batch = Batch::default();
        let batching = !NO_BATCH.load(Ordering::Relaxed);
        for (i, &(fd, op, events)) in changes.iter().enumerate() {
            if !batching {
                results.push(Some(Vpoll::apply_to(fd, op, events)));
            } else {
                batch.push(i, fd, op, events);
                results.push(None);
            }
        }
        batch.run(&mut results, false, |i| {
            let (fd, op, events) = changes[i];
            Vpoll::apply_to(fd, op, events)
        });
        results
            .into_iter()
            .map(|r| r.expect("every change has a result"))
            .collect()
    }
}

/// Changes bound for `VPOLL_IO_BATCH`, with the index of each in the
/// caller's list and the fd it names.
#[derive(Default)]
struct Batch<'fd> {
    entries: Vec<BatchEntry>,
    slots: Vec<(usize, BorrowedFd<'fd>)>,
}

impl<'fd> Batch<'fd> {
    fn push(&mut self, i: usize, fd: BorrowedFd<'fd>, op: Op, events: Events) {
        self.entries.push(BatchEntry {
            fd: fd.as_raw_fd(),
            op: op.to_ctl() as u32,
            events: events.bits(),
            result: 0,
        });
        self.slots.push((i, fd));
    }

    /// Sends the changes, [`VPOLL_BATCH_MAX`] at a time, through the first
    /// fd of each group, and fills in `results`. A group the kernel does not
    /// take is made one change at a time by `alone`, which also makes the
    /// entries the kernel refused as no `/dev/vpoll` file (an eventfd, or
    /// something else `alone` must refuse). `devices`: every fd is known to
    /// be a `/dev/vpoll` fd, so a refusal means the module has no batch.
    fn run(
        mut self,
        results: &mut [Option<Result<Events>>],
        devices: bool,
        alone: impl Fn(usize) -> Result<Events>,
    ) {
        let groups = self
            .entries
            .chunks_mut(VPOLL_BATCH_MAX)
            .zip(self.slots.chunks(VPOLL_BATCH_MAX));
        for (entries, slots) in groups {
            match sys::ioctl_batch(slots[0].1, entries) {
                Ok(_) => {
                    for (entry, &(i, _)) in entries.iter().zip(slots) {
                        results[i] = Some(match entry.result {
                            mask if mask >= 0 => Ok(Events::from_bits_retain(mask as u32)),
                            e if e == -libc::EINVAL && !devices => alone(i),
                            e => Err(Error::Io {
                                backend: Backend::Device,
                                operation: "ioctl(VPOLL_IO_BATCH)",
                                source: io::Error::from_raw_os_error(-e),
                            }),
                        });
                    }
                }
                // Refused before any entry was applied: each goes alone.
                Err(e) => {
                    if devices && device::refuses(&e) {
                        NO_BATCH.store(true, Ordering::Relaxed);
                    }
                    for &(i, _) in slots {
                        results[i] = Some(alone(i));
                    }
                }
            }
        }
    }
}
