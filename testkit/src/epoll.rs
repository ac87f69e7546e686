// SPDX-License-Identifier: MIT OR Apache-2.0

//! What an epoll set reports now.

use nix::sys::epoll::{Epoll, EpollEvent};

/// The data (tokens) of the items `ep` reports ready now, sorted; waits for
/// nothing. For edge-triggered sets: which items a change woke.
pub fn ready_now(ep: &Epoll) -> Vec<u64> {
    let mut out = [EpollEvent::empty(); 64];
    let n = ep.wait(&mut out, 0u16).expect("epoll_wait");
    let mut who: Vec<u64> = out[..n].iter().map(|e| e.data()).collect();
    who.sort_unstable();
    who
}
