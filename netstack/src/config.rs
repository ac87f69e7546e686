// SPDX-License-Identifier: MIT OR Apache-2.0

//! The stack's limits and timers, with Linux's defaults where Linux has
//! one: what [`Builder`](crate::Builder) sets.

use std::time::Duration;

/// A connection's keepalive, as `SO_KEEPALIVE` with `TCP_KEEPIDLE`,
/// `TCP_KEEPINTVL` and `TCP_KEEPCNT`: after `idle` without a word from the
/// peer, probe every `interval`; after `count` probes unanswered the
/// connection fails with [`Error::TimedOut`](crate::Error::TimedOut) and its
/// fd shows `ERR|HUP`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keepalive {
    /// Silence before the first probe (Linux: 7200 s).
    pub idle: Duration,
    /// Between probes (Linux: 75 s).
    pub interval: Duration,
    /// Probes unanswered before the connection is given up (Linux: 9).
    pub count: u32,
}

impl Default for Keepalive {
    /// Linux's `tcp_keepalive_time`, `_intvl` and `_probes`.
    fn default() -> Keepalive {
        Keepalive {
            idle: Duration::from_secs(7200),
            interval: Duration::from_secs(75),
            count: 9,
        }
    }
}

/// A TCP socket's receive and send buffers, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Buffers {
    pub rx: usize,
    pub tx: usize,
}

/// The smallest and largest buffer a socket may ask for: a segment's worth
/// and, with window scaling, far beyond any window this stack will see.
pub(crate) const BUFFER_MIN: usize = 2 << 10;
pub(crate) const BUFFER_MAX: usize = 64 << 20;

#[derive(Debug, Clone, Copy)]
pub(crate) struct Config {
    pub tcp_rx: usize,
    pub tcp_tx: usize,
    pub udp_payload: usize,
    pub udp_packets: usize,
    /// smoltcp sockets at most (connections, handshakes, UDP sockets).
    pub max_sockets: usize,
    /// Handshakes in progress per listener at most (Linux's SYN queue).
    pub syn_backlog: usize,
    /// Answer SYNs beyond a full SYN queue with cookies (`tcp_syncookies`).
    pub syn_cookies: bool,
    /// How long a handshake may wait for the client's ACK (Linux: 5
    /// SYN-ACK retries, about 63 s).
    pub synack_timeout: Duration,
    /// FIN-WAIT-2 of a dropped connection, and the silence after which a
    /// dropped connection's peer counts as gone (`tcp_fin_timeout`).
    pub fin_timeout: Duration,
    pub time_wait: Duration,
    /// Dropped connections still closing, at most (`tcp_max_orphans`).
    pub max_orphans: usize,
}

impl Config {
    /// The buffers of a socket that asks for none of its own.
    pub fn buffers(&self) -> Buffers {
        Buffers {
            rx: self.tcp_rx,
            tx: self.tcp_tx,
        }
    }
}

impl Default for Config {
    fn default() -> Config {
        Config {
            tcp_rx: 64 << 10,
            tcp_tx: 64 << 10,
            udp_payload: 64 << 10,
            udp_packets: 64,
            max_sockets: 16_384,
            syn_backlog: 256,
            syn_cookies: true,
            synack_timeout: Duration::from_secs(63),
            fin_timeout: Duration::from_secs(60),
            time_wait: Duration::from_secs(60),
            max_orphans: 4096,
        }
    }
}
