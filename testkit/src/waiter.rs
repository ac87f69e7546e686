// SPDX-License-Identifier: MIT OR Apache-2.0

//! A thread blocked in a poll-like call, observed from outside.
//!
//! A wakeup test is only meaningful if the waiter was really asleep in the
//! kernel when the event was raised; [`Waiter::spawn`] returns once the thread
//! is in state `S` (interruptible sleep), read from `/proc/self/task/<tid>/stat`.
#![allow(unsafe_code)] // reading a thread's state by its raw tid

use std::sync::mpsc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// How long any waiter may block before a test calls it lost.
pub const WAIT_LIMIT: Duration = Duration::from_secs(20);

/// A thread running one blocking call whose result is a `T`.
pub struct Waiter<T> {
    tid: libc::pid_t,
    done: mpsc::Receiver<T>,
    handle: JoinHandle<()>,
}

impl<T: Send + 'static> Waiter<T> {
    /// Starts `call` on a new thread and returns once the thread sleeps.
    pub fn spawn(call: impl FnOnce() -> T + Send + 'static) -> Self {
        let (tid_tx, tid_rx) = mpsc::channel();
        let (done_tx, done) = mpsc::channel();
        let handle = thread::spawn(move || {
            // SAFETY: gettid has no preconditions.
            tid_tx.send(unsafe { libc::gettid() }).unwrap();
            let _ = done_tx.send(call());
        });
        let tid = tid_rx.recv().expect("waiter thread started");
        let waiter = Self { tid, done, handle };
        waiter.wait_until_asleep();
        waiter
    }

    fn wait_until_asleep(&self) {
        wait_asleep(self.tid);
    }

    /// The waiting thread's id, e.g. to signal it.
    pub fn tid(&self) -> libc::pid_t {
        self.tid
    }

    /// Asserts that the waiter is still blocked after `grace`.
    pub fn assert_still_blocked(&self, grace: Duration) {
        match self.done.recv_timeout(grace) {
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Ok(_) => panic!("waiter woke although none of its events was raised"),
            Err(e) => panic!("waiter thread died: {e}"),
        }
        assert_eq!(
            thread_state(self.tid),
            Some('S'),
            "waiter is no longer asleep"
        );
    }

    /// Waits for the call to return and gives its result.
    pub fn finish(self) -> T {
        let result = self
            .done
            .recv_timeout(WAIT_LIMIT)
            .expect("waiter was not woken within the limit");
        self.handle.join().expect("waiter thread panicked");
        result
    }
}

/// The scheduler state letter of thread `tid` of this process.
pub fn thread_state(tid: libc::pid_t) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: the state follows the last ')'.
    stat.rsplit_once(')')?.1.trim_start().chars().next()
}

/// Waits until thread `tid` of this process sleeps (state `S`), so that an
/// event raised next really wakes it; fails after [`WAIT_LIMIT`].
pub fn wait_asleep(tid: libc::pid_t) {
    let deadline = Instant::now() + WAIT_LIMIT;
    while thread_state(tid) != Some('S') {
        assert!(Instant::now() < deadline, "thread {tid} never blocked");
        thread::sleep(Duration::from_millis(2));
    }
}
