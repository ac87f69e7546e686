// SPDX-License-Identifier: MIT OR Apache-2.0

//! Local ports, one space per protocol as in Linux: ephemeral ports are
//! handed out as Linux's default `ip_local_port_range` does, and never one
//! that a socket of the same protocol holds.

use std::collections::HashSet;
use std::ops::RangeInclusive;

const EPHEMERAL: RangeInclusive<u16> = 32768..=60999;

pub(super) struct Ports {
    /// TCP ports of listeners and of connections this stack opened.
    pub tcp: HashSet<u16>,
    pub udp: HashSet<u16>,
    next: u16,
}

impl Ports {
    pub fn new(seed: u64) -> Ports {
        let span = u64::from(EPHEMERAL.end() - EPHEMERAL.start()) + 1;
        Ports {
            tcp: HashSet::new(),
            udp: HashSet::new(),
            next: EPHEMERAL.start() + (seed % span) as u16,
        }
    }

    /// A free ephemeral port of `taken`'s protocol, taken.
    pub fn ephemeral(next: &mut u16, taken: &mut HashSet<u16>) -> Option<u16> {
        let span = usize::from(EPHEMERAL.end() - EPHEMERAL.start()) + 1;
        for _ in 0..span {
            let port = *next;
            *next = if port == *EPHEMERAL.end() {
                *EPHEMERAL.start()
            } else {
                port + 1
            };
            if taken.insert(port) {
                return Some(port);
            }
        }
        None
    }

    pub fn tcp_ephemeral(&mut self) -> Option<u16> {
        Ports::ephemeral(&mut self.next, &mut self.tcp)
    }

    pub fn udp_ephemeral(&mut self) -> Option<u16> {
        Ports::ephemeral(&mut self.next, &mut self.udp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A port bound explicitly is never handed out, in its own protocol;
    /// the other protocol's space is apart.
    #[test]
    fn ephemeral_ports_skip_taken_ones_per_protocol() {
        let mut ports = Ports::new(0);
        let first = *EPHEMERAL.start();
        ports.udp.insert(first);
        assert_eq!(ports.udp_ephemeral(), Some(first + 1));
        let mut ports = Ports::new(0);
        ports.udp.insert(first);
        assert_eq!(ports.tcp_ephemeral(), Some(first));
    }

    #[test]
    fn when_all_are_taken_there_is_none() {
        let mut ports = Ports::new(7);
        ports.tcp.extend(EPHEMERAL);
        assert_eq!(ports.tcp_ephemeral(), None);
        ports.tcp.remove(&40000);
        assert_eq!(ports.tcp_ephemeral(), Some(40000));
    }
}
