// SPDX-License-Identifier: MIT OR Apache-2.0

//! A socket's vpoll fd and the mask it should show.
//!
//! The mask wanted is decided under the stack's lock; the system call that
//! makes the fd show it may come after the lock is released (the stack's
//! thread does so, so that the program its change wakes does not find the
//! lock still held). Each fd's own small lock orders the calls: whoever
//! applies, applies the mask wanted *now*, so a late call never shows a stale
//! mask.

use std::sync::atomic::{AtomicU64, Ordering};
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

#[derive(Debug, Default)]
struct Masks {
    wanted: Events,
    applied: Events,
}

/// A vpoll fd and its masks.
#[derive(Debug)]
pub(crate) struct Shown {
    pub vpoll: Vpoll,
    masks: Mutex<Masks>,
}

impl Shown {
    pub fn new(backend: Option<Backend>) -> Result<Shown> {
        let vpoll = match backend {
            Some(b) => Vpoll::builder().backend(b).build()?,
            None => Vpoll::new()?,
        };
        Ok(Shown {
            vpoll,
            masks: Mutex::new(Masks::default()),
        })
    }

    /// Records `mask` as wanted; says whether the fd must be changed.
    pub fn want(&self, mask: Events) -> bool {
        let mut m = self.masks.lock().unwrap_or_else(PoisonError::into_inner);
        m.wanted = mask;
        m.applied != mask
    }

    /// Makes the fd show the mask wanted now, with one system call if it
    /// differs from what it shows and none if not.
    pub fn apply(&self, counters: &Counters) {
        let mut m = self.masks.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((op, events)) = change(&m) {
            let result = self
                .vpoll
                .apply_deliverable(op, events)
                .map(|done| done.dropped);
            record(&mut m, result, counters);
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
        // Each fd's lock is held until its result is recorded, so that a
        // program's thread applying the same fd meanwhile waits, then finds
        // it done. Only this thread holds more than one at a time, so none
        // waits for another that waits for it.
        let mut locked = Vec::with_capacity(shown.len());
        let mut changes = Vec::with_capacity(shown.len());
        for s in shown.iter() {
            let m = s.masks.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some((op, events)) = change(&m) {
                changes.push((&s.vpoll, op, events));
                locked.push(m);
            }
        }
        // The device shows every event: nothing is ever dropped.
        let results = Vpoll::apply_many(&changes);
        counters.batched_updates.fetch_add(
            results.iter().filter(|r| r.is_ok()).count() as u64,
            Ordering::Relaxed,
        );
        for (mut m, result) in locked.into_iter().zip(results) {
            record(&mut m, result.map(|_| Events::empty()), counters);
        }
        drop(changes);
        shown.clear();
    }
}

/// The one change that makes an fd showing `applied` show `wanted`, if any.
fn change(m: &Masks) -> Option<(Op, Events)> {
    let (want, have) = (m.wanted, m.applied);
    if want == have {
        return None;
    }
    let (raise, clear) = (want - have, have - want);
    Some(match (raise.is_empty(), clear.is_empty()) {
        (false, true) => (Op::Add, raise),
        (true, false) => (Op::Del, clear),
        _ => (Op::Set, want),
    })
}

/// Records how the change [`change`] chose went: on success (with the
/// events the backend could not show) the wanted mask is applied.
fn record(m: &mut Masks, result: vpoll::Result<Events>, counters: &Counters) {
    match result {
        Ok(dropped) => {
            m.applied = m.wanted;
            counters.mask_updates.fetch_add(1, Ordering::Relaxed);
            counters
                .events_not_shown
                .fetch_add(u64::from(dropped.bits().count_ones()), Ordering::Relaxed);
        }
        // Left as it was: the next change of this socket tries again.
        Err(_) => {
            counters.mask_failures.fetch_add(1, Ordering::Relaxed);
        }
    }
}
