// SPDX-License-Identifier: MIT OR Apache-2.0

//! What a socket's fd reports: the mask Linux's own `tcp_poll`,
//! `datagram_poll` and `inet_csk_listen_poll` would give in the same state.
//! Pure functions of the socket, so that the rules are tested on their own.

use smoltcp::socket::{tcp, udp};
use vpoll::Events;

/// Readable, as the kernel says it.
pub(crate) const READ: Events = Events::IN.union(Events::RDNORM);
/// Writable, as the kernel says it.
pub(crate) const WRITE: Events = Events::OUT.union(Events::WRNORM);
/// What every socket of a stopped stack shows: dead, readable (reads end),
/// writable (writes fail at once).
pub(crate) const DEAD: Events = READ
    .union(WRITE)
    .union(Events::RDHUP)
    .union(Events::HUP)
    .union(Events::ERR);

/// Whether the peer's FIN (or a reset) ended the receive direction.
pub(crate) fn rx_closed(state: tcp::State) -> bool {
    use tcp::State::*;
    matches!(state, CloseWait | LastAck | Closing | TimeWait | Closed)
}

/// Whether this side's FIN (or a reset) ended the send direction.
pub(crate) fn tx_closed(state: tcp::State) -> bool {
    use tcp::State::*;
    matches!(
        state,
        FinWait1 | FinWait2 | Closing | LastAck | TimeWait | Closed
    )
}

/// What a stream's mask depends on: smoltcp's socket, or a closed one once
/// that is gone (TIME-WAIT is kept without it).
#[derive(Debug, Clone, Copy)]
pub(crate) struct StreamView {
    pub state: tcp::State,
    pub can_recv: bool,
    pub may_send: bool,
    pub send_queue: usize,
    pub send_capacity: usize,
}

impl StreamView {
    pub const CLOSED: StreamView = StreamView {
        state: tcp::State::Closed,
        can_recv: false,
        may_send: false,
        send_queue: 0,
        send_capacity: 0,
    };
}

/// A stream's mask. `pending_error`: a reset or refusal not yet taken
/// (`SO_ERROR`); `shut_rd`: the program shut its receive side.
pub(crate) fn stream(socket: &StreamView, pending_error: bool, shut_rd: bool) -> Events {
    let state = socket.state;
    let rx_done = rx_closed(state) || shut_rd;
    let tx_done = tx_closed(state);
    let mut mask = Events::empty();
    if (rx_done && tx_done) || state == tcp::State::Closed {
        mask |= Events::HUP;
    }
    if rx_done {
        mask |= READ | Events::RDHUP;
    }
    // Before the handshake ends a socket is neither readable nor writable.
    if !matches!(state, tcp::State::SynSent | tcp::State::SynReceived) {
        if socket.can_recv {
            mask |= READ;
        }
        if tx_done || writable(socket) {
            // A closed send side is "writable": a write fails at once.
            mask |= WRITE;
        }
    }
    if pending_error {
        mask |= Events::ERR;
    }
    mask
}

/// The kernel's `sk_stream_is_writable`: free space at least half of what is
/// queued, i.e. at most two thirds queued. The hysteresis keeps `OUT` from
/// flapping on every segment acknowledged.
fn writable(socket: &StreamView) -> bool {
    socket.may_send && socket.send_queue * 3 <= socket.send_capacity * 2
}

/// A listener's mask: readable when a connection waits to be accepted.
pub(crate) fn listener(queued: usize) -> Events {
    if queued > 0 {
        READ
    } else {
        Events::empty()
    }
}

/// A UDP socket's mask.
pub(crate) fn udp(socket: &udp::Socket<'_>) -> Events {
    let mut mask = Events::empty();
    if socket.can_recv() {
        mask |= READ;
    }
    if socket.can_send() {
        mask |= WRITE;
    }
    mask
}
