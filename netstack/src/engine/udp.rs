// SPDX-License-Identifier: MIT OR Apache-2.0

//! UDP sockets. Every method ends in [`Engine::refresh`].

use std::net::SocketAddr;
use std::sync::Arc;

use smoltcp::socket::udp;
use smoltcp::wire::{IpEndpoint, IpListenEndpoint};

use super::{socket_addr, Engine, Key, ReadInto, Role};
use crate::error::{Error, Result};
use crate::shown::Shown;

/// IPv4's header and UDP's: what an IP MTU leaves for a datagram.
const V4_OVERHEAD: usize = 20 + 8;
const V6_OVERHEAD: usize = 40 + 8;

impl Engine {
    /// Binds a UDP socket to `addr` (port 0: a free one); its fd is
    /// `shown`. Returns its key and port.
    pub fn bind_udp(&mut self, addr: SocketAddr, shown: Arc<Shown>) -> Result<(Key, u16)> {
        self.check_running()?;
        self.check_local(addr)?;
        self.check_room()?;
        let port = match addr.port() {
            0 => self
                .ports
                .udp_ephemeral()
                .ok_or(Error::PortsExhausted { addr })?,
            p if !self.ports.udp.insert(p) => return Err(Error::AddrInUse { addr }),
            p => p,
        };
        let c = self.config;
        let buffer = || {
            udp::PacketBuffer::new(
                vec![udp::PacketMetadata::EMPTY; c.udp_packets],
                vec![0; c.udp_payload],
            )
        };
        let mut socket = udp::Socket::new(buffer(), buffer());
        let endpoint = IpListenEndpoint {
            addr: (!addr.ip().is_unspecified()).then(|| addr.ip().into()),
            port,
        };
        if socket.bind(endpoint).is_err() {
            self.ports.udp.remove(&port);
            return Err(Error::InvalidAddress {
                addr: addr.to_string(),
                why: "smoltcp refused the binding",
            });
        }
        let key = self.add(
            self.now,
            Some(smoltcp::socket::Socket::Udp(socket)),
            Role::Udp(shown),
            None,
        );
        if let Some(sock) = self.socks.get_mut(&key) {
            sock.port = Some(port);
        }
        self.refresh(key);
        Ok((key, port))
    }

    fn udp(&mut self, key: Key) -> Result<&mut udp::Socket<'static>> {
        self.check_running()?;
        let handle = self
            .socks
            .get(&key)
            .and_then(|s| s.handle)
            .ok_or(Error::NotConnected)?;
        Ok(self.sockets.get_mut::<udp::Socket>(handle))
    }

    /// Queues `buf` as one datagram to `to`. The link does not fragment: a
    /// datagram larger than its MTU allows is refused (`EMSGSIZE`).
    pub fn send_to(&mut self, key: Key, buf: &[u8], to: SocketAddr) -> Result<usize> {
        let overhead = if to.is_ipv4() {
            V4_OVERHEAD
        } else {
            V6_OVERHEAD
        };
        let max = self.link.mtu().saturating_sub(overhead);
        let socket = self.udp(key)?;
        if buf.len() > max || buf.len() > socket.payload_send_capacity() {
            return Err(Error::MessageTooLarge {
                len: buf.len(),
                max: max.min(socket.payload_send_capacity()),
            });
        }
        let sent = match socket.send_slice(buf, IpEndpoint::from(to)) {
            Ok(()) => Ok(buf.len()),
            Err(udp::SendError::BufferFull) => Err(Error::WouldBlock),
            Err(udp::SendError::Unaddressable) => Err(Error::Unreachable { addr: to }),
        };
        self.refresh(key);
        self.outbox.kick |= sent.is_ok();
        sent
    }

    /// Takes one datagram: its length (cut to `buf`'s, as the kernel does)
    /// and its sender.
    pub fn recv_from(&mut self, key: Key, dest: &mut dyn ReadInto) -> Result<(usize, SocketAddr)> {
        let socket = self.udp(key)?;
        let got = match socket.recv() {
            Ok((data, meta)) => {
                // As recv(2): what does not fit is dropped with the datagram.
                let n = data.len().min(dest.room());
                dest.put(&data[..n]);
                Ok((n, socket_addr(meta.endpoint)))
            }
            Err(_) => Err(Error::WouldBlock),
        };
        self.refresh(key);
        got
    }

    pub fn release_udp(&mut self, key: Key) {
        self.forget(key);
    }
}
