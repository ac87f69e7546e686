// SPDX-License-Identifier: GPL-2.0

//! A wait queue whose wakeups carry a poll key.
//!
//! The kernel crate's `CondVar`/`PollCondVar` always wake with a NULL key. A
//! NULL key is correct but coarse: epoll re-polls every item, edge-triggered
//! waiters are re-signalled for bits they never asked for, and
//! `EPOLLEXCLUSIVE` wakes every exclusive waiter. [`PollWaitQueue`] wakes with
//! the changed events as key (what `wake_up_poll()` does in C). The state the
//! key describes lives outside the queue, changed without its lock: waker and
//! waiter order themselves with the barriers of `wq_has_sleeper()`, so a
//! change with nobody waiting costs no lock at all.

use crate::compat::smp_mb;
use core::marker::PhantomData;
use kernel::{
    bindings, fs::File, prelude::*, sync::LockClassKey, task::TASK_NORMAL, types::Opaque,
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
// SAFETY: See `Send`; `&PollWaitQueue` only exposes operations that take the
// lock, or (`wake_up`'s emptiness check) read one pointer as the C API does.
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

    /// The `wait_queue_head`, as `Opaque::get` gives it; that one is not
    /// inlined into modules, and this is vpoll's hottest path.
    #[inline]
    fn head(&self) -> *mut bindings::wait_queue_head {
        // `Opaque<T>` is `#[repr(transparent)]` over `UnsafeCell<MaybeUninit<T>>`:
        // a pointer to it is a pointer to the `T`, and `UnsafeCell` allows
        // writes through it.
        core::ptr::from_ref(&self.head).cast_mut().cast()
    }

    /// Whether nobody waits on the queue. Taken under the lock so that a waiter
    /// still unlinking itself is counted.
    fn is_idle(&self) -> bool {
        let head = self.head();
        // SAFETY: `head` is initialised (type invariant), so its lock is too.
        unsafe { bindings::spin_lock(&raw mut (*head).lock) };
        // SAFETY: we hold the lock, which guards the list.
        let idle = unsafe { (*head).head.next == &raw mut (*head).head };
        // SAFETY: taken above.
        unsafe { bindings::spin_unlock(&raw mut (*head).lock) };
        idle
    }

    /// Wakes the waiters interested in any of the events `key()` gives, at
    /// most one exclusive waiter among them (`wake_up_poll()`). With nobody
    /// waiting, as in most changes, it takes no lock, makes no call and does
    /// not compute the key.
    ///
    /// The caller publishes the change that `key` describes just before, with
    /// an atomic read-modify-write: that and the barrier here
    /// (`smp_mb__after_atomic()`) order it before the look at the queue, and
    /// pair with the full barrier in [`PollTable::register_wait`]
    /// (`wq_has_sleeper()`), so a waiter is either seen on the queue and
    /// woken, or joins it later and sees the change when it polls.
    #[inline]
    pub(crate) fn wake_up(&self, key: impl FnOnce() -> u32) {
        smp_mb_after_atomic();
        let head = self.head();
        // SAFETY: `head` is initialised (type invariant); a racy read of the list's
        // first pointer is `waitqueue_active()`, made exact by the barriers above.
        let next = unsafe { core::ptr::read_volatile(&raw const (*head).head.next) };
        // SAFETY: as above; only the address of the list head is taken.
        if next == unsafe { &raw mut (*head).head } {
            return;
        }
        // The poll key travels as the mask cast to a pointer (`poll_to_key()`).
        let key = key() as usize as *mut c_void;
        // SAFETY: the queue is initialised; `__wake_up` takes its lock itself.
        unsafe { bindings::__wake_up(head, TASK_NORMAL, 1, key) };
    }
}

/// `smp_mb__after_atomic()`: a full barrier after an atomic read-modify-write.
/// On x86 every such operation is a locked instruction, itself a full
/// barrier, so only the compiler must be kept from moving accesses across
/// (as the kernel's own x86 definition does); that spares the hottest path a
/// call. Elsewhere, `smp_mb()`.
#[inline(always)]
fn smp_mb_after_atomic() {
    #[cfg(target_arch = "x86_64")]
    core::sync::atomic::compiler_fence(core::sync::atomic::Ordering::SeqCst);
    #[cfg(not(target_arch = "x86_64"))]
    smp_mb();
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
        unsafe { bindings::__wake_up_pollfree(self.head()) };
        // SAFETY: Just an FFI call; waits until epoll's RCU readers are done with `head`.
        unsafe { bindings::synchronize_rcu() };
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
    /// Whatever the caller reads afterwards is read after the registration
    /// (the barrier pairs with [`PollWaitQueue::wake_up`]'s, as in
    /// `sock_poll_wait()`).
    pub(crate) fn register_wait(&self, file: &File, queue: &PollWaitQueue) {
        // SAFETY:
        // - `file` is valid for this call and `self.table` is null or valid (invariant).
        // - `queue.head` is initialised and pinned; its `PinnedDrop` detaches any
        //   waiter still registered before the memory goes away.
        unsafe { bindings::poll_wait(file.as_ptr(), queue.head(), self.table) }
        smp_mb();
    }
}
