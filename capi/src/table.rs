// SPDX-License-Identifier: MIT OR Apache-2.0

//! The vpoll fds this library made, by fd number, read without a lock.
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

type Block = [ArcSwapOption<Vpoll>; BLOCK];

static TABLE: [OnceLock<Box<Block>>; BLOCKS] = [const { OnceLock::new() }; BLOCKS];

fn slot(fd: usize) -> Option<&'static ArcSwapOption<Vpoll>> {
    (fd < LIMIT).then(|| {
        let block = TABLE[fd / BLOCK]
            .get_or_init(|| Box::new(std::array::from_fn(|_| ArcSwapOption::empty())));
        &block[fd % BLOCK]
    })
}

/// Records `vp` under its fd; gives it back if the fd is beyond the table.
pub(crate) fn insert(fd: usize, vp: Vpoll) -> Result<(), Vpoll> {
    match slot(fd) {
        Some(slot) => {
            slot.store(Some(Arc::new(vp)));
            Ok(())
        }
        None => Err(vp),
    }
}

/// The `Vpoll` made for `fd`, if this library made one.
pub(crate) fn get(fd: usize) -> Option<Arc<Vpoll>> {
    let block = TABLE.get(fd / BLOCK)?.get()?;
    block[fd % BLOCK].load_full()
}

/// Takes `fd`'s `Vpoll` out of the table.
pub(crate) fn remove(fd: usize) -> Option<Arc<Vpoll>> {
    let block = TABLE.get(fd / BLOCK)?.get()?;
    block[fd % BLOCK].swap(None)
}
