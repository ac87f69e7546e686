// SPDX-License-Identifier: MIT OR Apache-2.0

//! What this library keeps by fd number, read without a lock: the vpoll fds
//! it handed out that need more than the kernel knows (emulated ones, and
//! eventfds, which prove themselves only through `/proc`), and which numbers
//! are its own. Device fds need nothing kept: they answer vpoll's ioctl.
//!
//! A two-level array of `ArcSwapOption` slots, like the kernel's own fd table:
//! a lookup is two atomic loads and no lock; only the first fd in a block of
//! [`BLOCK`] allocates the block. `arc-swap` keeps an entry alive for a
//! `vpoll_ctl` that loaded it while another thread closes the fd.

use arc_swap::ArcSwapOption;
use std::sync::{Arc, OnceLock};
use vpoll::Vpoll;

const BLOCK: usize = 1024;
const BLOCKS: usize = 1024;
/// fds below this are tracked: the kernel's default `fs.nr_open` (1 << 20).
pub(crate) const LIMIT: usize = BLOCK * BLOCKS;

/// What the table knows of a number.
#[derive(Debug)]
pub(crate) enum Entry {
    /// A vpoll fd this library made and handed to the program.
    Handed(Handed),
    /// One of this library's own descriptors (an emulated pair's ends, the
    /// copy a handed entry keeps): never the program's, so a call naming it
    /// (a stale number, a guess) acts on nothing.
    Ours,
}

/// A vpoll fd handed to the program: emulated ones, and `EFD_VPOLL`
/// eventfds where the kernel has `F_DUPFD_QUERY` (so that no call on them
/// needs `/proc` to prove what they are).
///
/// The program owns its fd and may close it behind our back (`close(2)`,
/// `dup2` onto it), so the entry owns none of the program's descriptors: its
/// `Vpoll` is a copy of its own (a clone: the same open file).
#[derive(Debug)]
pub(crate) struct Handed {
    /// The vpoll fd, through our own descriptors.
    pub(crate) vp: Vpoll,
    /// The emulated socket's `(st_dev, st_ino)`, which names it where
    /// `F_DUPFD_QUERY` cannot (before Linux 6.10): unique among live files,
    /// and ours stays alive as long as the entry. None for an eventfd (every
    /// eventfd shares one inode), and where the kernel is known to have
    /// `F_DUPFD_QUERY`.
    pub(crate) id: Option<(u64, u64)>,
}

impl Handed {
    /// Records `vp` for the program's `fd`, with each of `vp`'s own numbers
    /// marked as ours; gives `vp` back if a number is beyond the table.
    pub(crate) fn insert(fd: usize, vp: Vpoll, id: Option<(u64, u64)>) -> Result<(), Vpoll> {
        let ours = vp.held_fds();
        if std::iter::once(fd)
            .chain(ours.iter().map(|&n| n as usize))
            .any(|n| n >= LIMIT)
        {
            return Err(vp);
        }
        for n in ours {
            if let Some(slot) = slot(n as usize) {
                slot.store(Some(Arc::clone(ours_mark())));
            }
        }
        store(fd, Some(Entry::Handed(Handed { vp, id })));
        Ok(())
    }
}

/// The one [`Entry::Ours`] every number of ours points at: marking a number
/// costs a reference count, not an allocation.
fn ours_mark() -> &'static Arc<Entry> {
    static OURS: OnceLock<Arc<Entry>> = OnceLock::new();
    OURS.get_or_init(|| Arc::new(Entry::Ours))
}

impl Drop for Handed {
    /// Unmarks our numbers before `vp` closes them, so that a number the
    /// kernel hands out again is never taken for ours.
    fn drop(&mut self) {
        for n in self.vp.held_fds() {
            if let Some(slot) = existing_slot(n as usize) {
                slot.compare_and_swap(ours_mark(), None::<Arc<Entry>>);
            }
        }
    }
}

type Block = [ArcSwapOption<Entry>; BLOCK];

static TABLE: [OnceLock<Box<Block>>; BLOCKS] = [const { OnceLock::new() }; BLOCKS];

fn slot(fd: usize) -> Option<&'static ArcSwapOption<Entry>> {
    (fd < LIMIT).then(|| {
        let block = TABLE[fd / BLOCK]
            .get_or_init(|| Box::new(std::array::from_fn(|_| ArcSwapOption::empty())));
        &block[fd % BLOCK]
    })
}

fn existing_slot(fd: usize) -> Option<&'static ArcSwapOption<Entry>> {
    Some(&TABLE.get(fd / BLOCK)?.get()?[fd % BLOCK])
}

/// Records `entry` under `fd` (below [`LIMIT`]), dropping what was there.
fn store(fd: usize, entry: Option<Entry>) {
    if let Some(slot) = slot(fd) {
        slot.store(entry.map(Arc::new));
    }
}

/// The entry recorded under `fd`, if any (it may be stale: check it).
pub(crate) fn get(fd: usize) -> Option<Arc<Entry>> {
    existing_slot(fd)?.load_full()
}

/// Takes `entry` out from under `fd`, unless another thread has already
/// replaced it.
pub(crate) fn remove(fd: usize, entry: &Arc<Entry>) {
    if let Some(slot) = existing_slot(fd) {
        slot.compare_and_swap(entry, None::<Arc<Entry>>);
    }
}

/// Takes whatever is recorded under `fd` out (a new kernel-backed fd got the
/// number: any entry there is stale).
pub(crate) fn clear(fd: usize) {
    if let Some(slot) = existing_slot(fd) {
        slot.store(None);
    }
}
