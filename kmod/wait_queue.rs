// SPDX-License-Identifier: GPL-2.0

//! A wait queue whose wakeups carry a poll key.
//!
//! The kernel crate's `CondVar`/`PollCondVar` always wake with a NULL key. A
//! NULL key is correct but coarse: epoll re-polls every item, edge-triggered
//! waiters are re-signalled for bits they never asked for, and
//! `EPOLLEXCLUSIVE` wakes every exclusive waiter. [`PollWaitQueue`] wakes with
//! the changed events as key (what `wake_up_locked_poll()` does in C), and lets
//! the caller hold the queue's own lock while changing the state that the key
//! describes, so a change and its wakeup are one atomic step.

use core::marker::PhantomData;
use kernel::{
    bindings,
    fs::File,
    prelude::*,
    sync::LockClassKey,
    task::TASK_NORMAL,
    types::{
        NotThreadSafe,
        Opaque, //
    },
};

/// A pinned `struct wait_queue_head` that is woken with a poll key.
///
/// # Invariants
///
/// `head` is initialised by `__init_waitqueue_head` and stays pinned until
/// [`PinnedDrop::drop`] has made sure that no waiter can still reach it.
#[pin_data(PinnedDrop)]
pub(crate) struct PollWaitQueue {
    #[pin]
    head: Opaque<bindings::wait_queue_head>,
}

// SAFETY: A wait queue head is designed to be used from any thread: all access
// goes through its spinlock.
unsafe impl Send for PollWaitQueue {}
// SAFETY: See `Send`; `&PollWaitQueue` only exposes lock-protected operations.
unsafe impl Sync for PollWaitQueue {}

impl PollWaitQueue {
    /// Creates an initialiser for an empty queue with the given lockdep name and class.
    pub(crate) fn new(name: &'static CStr, key: Pin<&'static LockClassKey>) -> impl PinInit<Self> {
        pin_init!(Self {
            // INVARIANT: `__init_waitqueue_head` initialises the head in place.
            head <- Opaque::ffi_init(|slot: *mut bindings::wait_queue_head| {
                // SAFETY: `slot` is valid for writes and pinned; `name` and `key` are
                // `'static`, as lockdep requires.
                unsafe { bindings::__init_waitqueue_head(slot, name.as_char_ptr(), key.as_ptr()) }
            }),
        })
    }

    /// Takes the queue's spinlock.
    ///
    /// Only this module wakes the queue, always from process context, so the
    /// lock is never taken from an interrupt and needs no IRQ disabling.
    pub(crate) fn lock(&self) -> PollWaitQueueGuard<'_> {
        // `Opaque::get` is not inlined across crates: fetched once per lock,
        // the pointer serves the guard's unlock and wakeup too.
        let head = self.head.get();
        // SAFETY: `head` is initialised (type invariant), so its lock is too.
        unsafe { bindings::spin_lock(&raw mut (*head).lock) };
        // INVARIANT: the lock of `self`'s queue, at `head`, was just taken.
        PollWaitQueueGuard {
            head,
            _queue: PhantomData,
            _not_send: NotThreadSafe,
        }
    }

    /// Whether nobody waits on the queue. Taken under the lock so that a waiter
    /// still unlinking itself is counted.
    fn is_idle(&self) -> bool {
        self.lock().is_idle()
    }
}

#[pinned_drop]
impl PinnedDrop for PollWaitQueue {
    fn drop(self: Pin<&mut Self>) {
        // A queue owned by a file has no waiters left at release: poll and
        // select hold a file reference while they wait, epoll unhooks in
        // `eventpoll_release()` before `->release`. Only an unusual owner pays
        // for the slow, general teardown below.
        if self.is_idle() {
            return;
        }
        // SAFETY: `head` is initialised; `__wake_up_pollfree` detaches every waiter.
        unsafe { bindings::__wake_up_pollfree(self.head.get()) };
        // SAFETY: Just an FFI call; waits until epoll's RCU readers are done with `head`.
        unsafe { bindings::synchronize_rcu() };
    }
}

/// Proof that a [`PollWaitQueue`]'s lock is held; dropping it unlocks.
///
/// # Invariants
///
/// `head` is the initialised wait queue of a [`PollWaitQueue`] that outlives
/// the guard (`'a`), and its lock is held by this thread for the guard's lifetime.
pub(crate) struct PollWaitQueueGuard<'a> {
    head: *mut bindings::wait_queue_head,
    _queue: PhantomData<&'a PollWaitQueue>,
    _not_send: NotThreadSafe,
}

impl PollWaitQueueGuard<'_> {
    /// Whether nobody waits on the queue (`waitqueue_active()`, exact here:
    /// waiters join and leave under the lock we hold).
    fn is_idle(&self) -> bool {
        let head = self.head;
        // SAFETY: `head` is initialised and we hold its lock, which guards the list
        // (type invariant).
        unsafe { (*head).head.next == &raw mut (*head).head }
    }

    /// Wakes the waiters interested in any of `events`, at most one exclusive
    /// waiter among them (`wake_up_locked_poll()`). With nobody waiting, as
    /// in most changes, it costs no call.
    pub(crate) fn wake_up(&self, events: u32) {
        if self.is_idle() {
            return;
        }
        // The poll key travels as the mask cast to a pointer (`poll_to_key()`).
        let key = events as usize as *mut c_void;
        // SAFETY: the queue is initialised and its lock is held (type invariant), as
        // `__wake_up_locked_key` requires.
        unsafe { bindings::__wake_up_locked_key(self.head, TASK_NORMAL, key) };
    }
}

impl Drop for PollWaitQueueGuard<'_> {
    fn drop(&mut self) {
        // SAFETY: the lock is held by this guard (type invariant).
        unsafe { bindings::spin_unlock(&raw mut (*self.head).lock) };
    }
}

/// Wraps the kernel's `poll_table` handed to a file's `poll`.
///
/// # Invariants
///
/// `table` is null or points to a valid `poll_table` for `'a`.
pub(crate) struct PollTable<'a> {
    table: *mut bindings::poll_table,
    _lifetime: PhantomData<&'a bindings::poll_table>,
}

impl PollTable<'_> {
    /// # Safety
    ///
    /// `table` must be null or point to a valid `poll_table` for the lifetime of the result.
    pub(crate) unsafe fn from_raw(table: *mut bindings::poll_table) -> Self {
        // INVARIANT: the caller guarantees it.
        Self {
            table,
            _lifetime: PhantomData,
        }
    }

    /// Registers the poller with `queue`, so that a keyed wake-up reaches it.
    pub(crate) fn register_wait(&self, file: &File, queue: &PollWaitQueue) {
        // SAFETY:
        // - `file` is valid for this call and `self.table` is null or valid (invariant).
        // - `queue.head` is initialised and pinned; its `PinnedDrop` detaches any
        //   waiter still registered before the memory goes away.
        unsafe { bindings::poll_wait(file.as_ptr(), queue.head.get(), self.table) }
    }
}
