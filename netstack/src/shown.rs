// SPDX-License-Identifier: MIT OR Apache-2.0

//! A socket's vpoll fd and the mask it should show.
//!
//! The mask wanted is decided under the stack's lock; the system call that
//! makes the fd show it may come after the lock is released (the stack's
//! thread does so, so that the program its change wakes does not find the
//! lock still held). Each fd's own small lock orders the calls: whoever
//! applies, applies the mask wanted *now*, so a late call never shows a stale
//! mask.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use vpoll::{Backend, Events, Op, Vpoll};

use crate::error::Result;

/// Counters a program (and the tests) can read: [`Stack::stats`](crate::Stack::stats).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Masks changed on vpoll fds.
    pub mask_updates: u64,
    /// Of those, the ones made together with others of the same round, in
    /// one system call (`VPOLL_IO_BATCH`, on the device backend).
    pub batched_updates: u64,
    /// Mask changes the vpoll fd refused (kept pending and retried).
    pub mask_failures: u64,
    /// Events a backend could not show (`ERR` on the emulation), summed over changes.
    pub events_not_shown: u64,
    /// Sockets whose readiness was recomputed after smoltcp woke them.
    pub sockets_settled: u64,
    /// smoltcp sockets now: connections (not in TIME-WAIT), handshakes in
    /// progress, UDP sockets. What a packet's cost grows with.
    pub sockets: u64,
    /// The slots smoltcp walks for every packet: the most sockets there
    /// were at once since the set was last made to fit (when fewer than
    /// half are in use).
    pub socket_slots: u64,
    /// Times the socket set was made to fit its sockets again.
    pub compactions: u64,
    /// Connections in TIME-WAIT now (kept without buffers).
    pub time_wait: u64,
    /// TIME-WAITs that gave way to a new connection from the same port
    /// (a SYN with a newer sequence, RFC 6191).
    pub time_wait_reused: u64,
    /// Connections the program dropped that are still closing, now.
    pub orphans: u64,
    /// SYNs dropped unanswered: the accept queue was full, or the socket
    /// limit reached.
    pub syns_dropped: u64,
    /// Handshakes dropped to make room in a full SYN queue (with SYN
    /// cookies off).
    pub handshakes_dropped: u64,
    /// SYNs beyond a full SYN queue answered with a cookie (Linux's
    /// `SyncookiesSent`).
    pub syn_cookies_sent: u64,
    /// Connections taken up from a returned cookie (`SyncookiesRecv`).
    pub syn_cookies_accepted: u64,
    /// ACKs to a listener that had sent cookies whose cookie was wrong or
    /// too old (`SyncookiesFailed`): reset, as any stray segment.
    pub syn_cookies_failed: u64,
    /// Orphans reset: beyond the orphan limit, or sent new data.
    pub orphans_reset: u64,
    /// Connections and handshakes ended by a timer (handshake, FIN-WAIT-2,
    /// keepalive, user timeout).
    pub timeouts: u64,
    /// Sockets refused at the socket limit.
    pub socket_limit_hits: u64,
}

/// [`Stats`], kept where the stack's thread updates them outside the lock.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    mask_updates: AtomicU64,
    batched_updates: AtomicU64,
    mask_failures: AtomicU64,
    events_not_shown: AtomicU64,
    pub sockets_settled: AtomicU64,
    pub time_wait: AtomicU64,
    pub time_wait_reused: AtomicU64,
    pub compactions: AtomicU64,
    pub syns_dropped: AtomicU64,
    pub handshakes_dropped: AtomicU64,
    pub syn_cookies_sent: AtomicU64,
    pub syn_cookies_accepted: AtomicU64,
    pub syn_cookies_failed: AtomicU64,
    pub orphans_reset: AtomicU64,
    pub timeouts: AtomicU64,
    pub socket_limit_hits: AtomicU64,
}

impl Counters {
    pub fn stats(&self) -> Stats {
        Stats {
            mask_updates: self.mask_updates.load(Ordering::Relaxed),
            batched_updates: self.batched_updates.load(Ordering::Relaxed),
            mask_failures: self.mask_failures.load(Ordering::Relaxed),
            events_not_shown: self.events_not_shown.load(Ordering::Relaxed),
            sockets_settled: self.sockets_settled.load(Ordering::Relaxed),
            sockets: 0,
            socket_slots: 0,
            compactions: self.compactions.load(Ordering::Relaxed),
            time_wait: self.time_wait.load(Ordering::Relaxed),
            time_wait_reused: self.time_wait_reused.load(Ordering::Relaxed),
            orphans: 0,
            syns_dropped: self.syns_dropped.load(Ordering::Relaxed),
            handshakes_dropped: self.handshakes_dropped.load(Ordering::Relaxed),
            syn_cookies_sent: self.syn_cookies_sent.load(Ordering::Relaxed),
            syn_cookies_accepted: self.syn_cookies_accepted.load(Ordering::Relaxed),
            syn_cookies_failed: self.syn_cookies_failed.load(Ordering::Relaxed),
            orphans_reset: self.orphans_reset.load(Ordering::Relaxed),
            timeouts: self.timeouts.load(Ordering::Relaxed),
            socket_limit_hits: self.socket_limit_hits.load(Ordering::Relaxed),
        }
    }
}

/// A vpoll fd and its masks.
///
/// The mask wanted is an atomic, so that recording it (under the stack's
/// lock, by any thread) does not wait for another thread's system call: a
/// program's thread woken by a mask used to find that fd's lock still held
/// by the thread whose call woke it. Whoever applies holds `applying`, says
/// so in `in_flight`, and after each call looks at the mask wanted again: a
/// mask recorded meanwhile is applied by it or by its recorder, never lost.
/// A recorder that finds a call in flight applies too (waiting for that call
/// first), so no program call returns while the fd may still change to a
/// mask older than the one that call left.
#[derive(Debug)]
pub(crate) struct Shown {
    pub vpoll: Vpoll,
    /// What the stack wants the fd to show.
    wanted: AtomicU32,
    /// What the fd shows: written only with `applying` held.
    applied: AtomicU32,
    /// Someone holds `applying` and may be in a system call.
    in_flight: AtomicBool,
    applying: Mutex<()>,
}

impl Shown {
    pub fn new(backend: Option<Backend>) -> Result<Shown> {
        let vpoll = match backend {
            Some(b) => Vpoll::builder().backend(b).build()?,
            None => Vpoll::new()?,
        };
        Ok(Shown {
            vpoll,
            wanted: AtomicU32::new(0),
            applied: AtomicU32::new(0),
            in_flight: AtomicBool::new(false),
            applying: Mutex::new(()),
        })
    }

    /// Records `mask` as wanted; says whether the fd must be changed (or a
    /// change in flight waited for: see the type's doc).
    pub fn want(&self, mask: Events) -> bool {
        // SeqCst with the applier's stores and loads: of a recorder and an
        // applier, one sees the other's write.
        self.wanted.store(mask.bits(), Ordering::SeqCst);
        self.in_flight.load(Ordering::SeqCst) || self.applied.load(Ordering::SeqCst) != mask.bits()
    }

    /// The mask wanted and the mask shown, when they differ.
    fn pending(&self) -> Option<(Events, Events)> {
        let wanted = self.wanted.load(Ordering::SeqCst);
        let applied = self.applied.load(Ordering::SeqCst);
        (wanted != applied).then(|| {
            (
                Events::from_bits_retain(wanted),
                Events::from_bits_retain(applied),
            )
        })
    }

    /// Makes the fd show the mask wanted now, with one system call if it
    /// differs from what it shows and none if not (another if the mask
    /// wanted changed during the call).
    pub fn apply(&self, counters: &Counters) {
        let _applying = self.applying.lock().unwrap_or_else(PoisonError::into_inner);
        self.in_flight.store(true, Ordering::SeqCst);
        while let Some((wanted, applied)) = self.pending() {
            let (op, events) = change(wanted, applied);
            let result = self
                .vpoll
                .apply_deliverable(op, events)
                .map(|done| done.dropped);
            if !self.record(wanted, result, counters) {
                break;
            }
        }
        self.in_flight.store(false, Ordering::SeqCst);
    }

    /// Records how the change to `wanted` went: on success (with the events
    /// the backend could not show) `wanted` is shown. Says which.
    fn record(&self, wanted: Events, result: vpoll::Result<Events>, counters: &Counters) -> bool {
        match result {
            Ok(dropped) => {
                self.applied.store(wanted.bits(), Ordering::SeqCst);
                counters.mask_updates.fetch_add(1, Ordering::Relaxed);
                counters
                    .events_not_shown
                    .fetch_add(u64::from(dropped.bits().count_ones()), Ordering::Relaxed);
                true
            }
            // Left as it was: the next change of this socket tries again.
            Err(_) => {
                counters.mask_failures.fetch_add(1, Ordering::Relaxed);
                false
            }
        }
    }

    /// [`apply`](Shown::apply) for many fds (the changes of one round of
    /// the stack's thread): on the device one system call for all of them
    /// (`VPOLL_IO_BATCH`), elsewhere one each. Empties `shown`.
    pub fn apply_all(shown: &mut Vec<Arc<Shown>>, counters: &Counters) {
        // A socket whose mask changed twice in the round is listed twice.
        shown.sort_unstable_by_key(Arc::as_ptr);
        shown.dedup_by(|a, b| Arc::ptr_eq(a, b));
        let batched = shown.len() > 1 && shown.iter().all(|s| s.vpoll.backend() == Backend::Device);
        if !batched {
            shown.drain(..).for_each(|s| s.apply(counters));
            return;
        }
        // Each fd's `applying` is held until its result is recorded, so
        // that a program's thread applying the same fd meanwhile waits, then
        // finds it done. Only this thread holds more than one at a time, so
        // none waits for another that waits for it.
        let mut locked = Vec::with_capacity(shown.len());
        let mut changes = Vec::with_capacity(shown.len());
        for s in shown.iter() {
            let guard = s.applying.lock().unwrap_or_else(PoisonError::into_inner);
            s.in_flight.store(true, Ordering::SeqCst);
            if let Some((wanted, applied)) = s.pending() {
                let (op, events) = change(wanted, applied);
                changes.push((&s.vpoll, op, events));
                locked.push((s, wanted, guard));
            } else {
                s.in_flight.store(false, Ordering::SeqCst);
            }
        }
        // The device shows every event: nothing is ever dropped.
        let results = Vpoll::apply_many(&changes);
        counters.batched_updates.fetch_add(
            results.iter().filter(|r| r.is_ok()).count() as u64,
            Ordering::Relaxed,
        );
        let mut again = Vec::new();
        for ((s, wanted, guard), result) in locked.into_iter().zip(results) {
            let done = s.record(wanted, result.map(|_| Events::empty()), counters);
            // A mask recorded during the batch: its own call, now (with
            // `in_flight` still set, so that its recorder waits for it).
            if done && s.pending().is_some() {
                again.push(Arc::clone(s));
            } else {
                s.in_flight.store(false, Ordering::SeqCst);
            }
            drop(guard);
        }
        drop(changes);
        again.iter().for_each(|s| s.apply(counters));
        shown.clear();
    }
}

/// The one change that makes an fd showing `have` show `want` (they differ).
fn change(want: Events, have: Events) -> (Op, Events) {
    let (raise, clear) = (want - have, have - want);
    match (raise.is_empty(), clear.is_empty()) {
        (false, true) => (Op::Add, raise),
        (true, false) => (Op::Del, clear),
        _ => (Op::Set, want),
    }
}
