// SPDX-License-Identifier: MIT OR Apache-2.0

//! A peer that writes and reads raw Ethernet frames on one end of a
//! `Link::pair`: SYNs from addresses that never answer, segments in any
//! order, mutated frames. It answers ARP for every address, so the stack
//! can reach whatever address a test sends from.

use std::net::Ipv4Addr;
use std::os::fd::{AsFd, OwnedFd};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use smoltcp::phy::ChecksumCapabilities;
use smoltcp::wire::{
    ArpOperation, ArpPacket, ArpRepr, EthernetAddress, EthernetFrame, EthernetProtocol,
    EthernetRepr, IpAddress, IpProtocol, Ipv4Packet, Ipv4Repr, TcpControl, TcpPacket, TcpRepr,
    TcpSeqNumber,
};
use vpoll_netstack::Link;

pub const PEER_MAC: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0xee, 0x01]);

/// A TCP segment as the peer saw it arrive.
#[derive(Debug, Clone, Copy)]
pub struct Seg {
    pub src_port: u16,
    pub dst_port: u16,
    pub dst: Ipv4Addr,
    pub control: TcpControl,
    pub seq: TcpSeqNumber,
    pub ack: Option<TcpSeqNumber>,
    pub len: usize,
}

pub struct RawPeer {
    fd: OwnedFd,
    stack_mac: Option<EthernetAddress>,
    buf: Vec<u8>,
}

impl RawPeer {
    /// The peer on `link` (the end the stack does not have).
    pub fn new(link: Link) -> RawPeer {
        let fd = link.as_fd().try_clone_to_owned().unwrap();
        drop(link);
        RawPeer {
            fd,
            stack_mac: None,
            buf: vec![0; 2048],
        }
    }

    /// Sends a frame, waiting for room.
    pub fn send(&mut self, frame: &[u8]) {
        loop {
            match nix::unistd::write(&self.fd, frame) {
                Ok(_) => return,
                Err(Errno::EAGAIN) => {
                    self.drain();
                    let mut fds = [PollFd::new(self.fd.as_fd(), PollFlags::POLLOUT)];
                    let _ = poll(&mut fds, PollTimeout::from(10u8));
                }
                Err(e) => panic!("raw peer write: {e}"),
            }
        }
    }

    /// Reads one frame within `timeout`, answering ARP on the way; TCP
    /// segments are returned.
    pub fn recv(&mut self, timeout: Duration) -> Option<Seg> {
        let deadline = Instant::now() + timeout;
        loop {
            match nix::unistd::read(&self.fd, &mut self.buf) {
                Ok(n) => {
                    let frame = self.buf[..n].to_vec();
                    if let Some(seg) = self.handle(&frame) {
                        return Some(seg);
                    }
                }
                Err(Errno::EAGAIN) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return None;
                    }
                    let ms = left.as_millis().clamp(1, 100) as u16;
                    let mut fds = [PollFd::new(self.fd.as_fd(), PollFlags::POLLIN)];
                    let _ = poll(&mut fds, PollTimeout::from(ms));
                }
                Err(e) => panic!("raw peer read: {e}"),
            }
        }
    }

    /// Reads until a segment matching `want` arrives (within `timeout`).
    pub fn expect(&mut self, timeout: Duration, want: impl Fn(&Seg) -> bool) -> Option<Seg> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let seg = self.recv(left)?;
            if want(&seg) {
                return Some(seg);
            }
        }
    }

    /// Reads (and answers ARP for) whatever waits, without waiting.
    pub fn drain(&mut self) -> Vec<Seg> {
        let mut got = Vec::new();
        while let Ok(n) = nix::unistd::read(&self.fd, &mut self.buf) {
            let frame = self.buf[..n].to_vec();
            got.extend(self.handle(&frame));
        }
        got
    }

    fn handle(&mut self, frame: &[u8]) -> Option<Seg> {
        let eth = EthernetFrame::new_checked(frame).ok()?;
        self.stack_mac = Some(eth.src_addr());
        match eth.ethertype() {
            EthernetProtocol::Arp => {
                let arp = ArpRepr::parse(&ArpPacket::new_checked(eth.payload()).ok()?).ok()?;
                if let ArpRepr::EthernetIpv4 {
                    operation: ArpOperation::Request,
                    source_hardware_addr,
                    source_protocol_addr,
                    target_protocol_addr,
                    ..
                } = arp
                {
                    let reply = ArpRepr::EthernetIpv4 {
                        operation: ArpOperation::Reply,
                        source_hardware_addr: PEER_MAC,
                        source_protocol_addr: target_protocol_addr,
                        target_hardware_addr: source_hardware_addr,
                        target_protocol_addr: source_protocol_addr,
                    };
                    let mut buf = vec![0; 14 + reply.buffer_len()];
                    let mut f = EthernetFrame::new_unchecked(&mut buf[..]);
                    EthernetRepr {
                        src_addr: PEER_MAC,
                        dst_addr: source_hardware_addr,
                        ethertype: EthernetProtocol::Arp,
                    }
                    .emit(&mut f);
                    reply.emit(&mut ArpPacket::new_unchecked(f.payload_mut()));
                    self.send(&buf);
                }
                None
            }
            EthernetProtocol::Ipv4 => {
                let ip = Ipv4Packet::new_checked(eth.payload()).ok()?;
                if ip.next_header() != IpProtocol::Tcp {
                    return None;
                }
                let tcp = TcpPacket::new_checked(ip.payload()).ok()?;
                let control = match (tcp.syn(), tcp.fin(), tcp.rst()) {
                    (true, _, _) => TcpControl::Syn,
                    (_, true, _) => TcpControl::Fin,
                    (_, _, true) => TcpControl::Rst,
                    _ => TcpControl::None,
                };
                Some(Seg {
                    src_port: tcp.src_port(),
                    dst_port: tcp.dst_port(),
                    dst: ip.dst_addr(),
                    control,
                    seq: tcp.seq_number(),
                    ack: tcp.ack().then(|| tcp.ack_number()),
                    len: tcp.payload().len(),
                })
            }
            _ => None,
        }
    }

    /// Asks who has `to`, from `from`: as a host does before its first
    /// packet, which also tells the stack where `from` is.
    pub fn announce(&mut self, from: Ipv4Addr, to: Ipv4Addr) {
        let request = ArpRepr::EthernetIpv4 {
            operation: ArpOperation::Request,
            source_hardware_addr: PEER_MAC,
            source_protocol_addr: from,
            target_hardware_addr: EthernetAddress([0; 6]),
            target_protocol_addr: to,
        };
        let mut buf = vec![0; 14 + request.buffer_len()];
        let mut f = EthernetFrame::new_unchecked(&mut buf[..]);
        EthernetRepr {
            src_addr: PEER_MAC,
            dst_addr: EthernetAddress::BROADCAST,
            ethertype: EthernetProtocol::Arp,
        }
        .emit(&mut f);
        request.emit(&mut ArpPacket::new_unchecked(f.payload_mut()));
        self.send(&buf);
    }

    /// A TCP segment from `from:sport` to `to:dport`, as a frame.
    #[allow(clippy::too_many_arguments)]
    pub fn tcp_frame(
        &self,
        from: Ipv4Addr,
        sport: u16,
        to: Ipv4Addr,
        dport: u16,
        control: TcpControl,
        seq: u32,
        ack: Option<u32>,
        payload: &[u8],
    ) -> Vec<u8> {
        let tcp = TcpRepr {
            src_port: sport,
            dst_port: dport,
            control,
            seq_number: TcpSeqNumber(seq as i32),
            ack_number: ack.map(|a| TcpSeqNumber(a as i32)),
            window_len: 64000,
            window_scale: None,
            max_seg_size: (control == TcpControl::Syn).then_some(1460),
            sack_permitted: false,
            sack_ranges: [None; 3],
            timestamp: None,
            payload,
        };
        let ip = Ipv4Repr {
            src_addr: from,
            dst_addr: to,
            next_header: IpProtocol::Tcp,
            payload_len: tcp.buffer_len(),
            hop_limit: 64,
        };
        let mut buf = vec![0; 14 + ip.buffer_len() + tcp.buffer_len()];
        let mut f = EthernetFrame::new_unchecked(&mut buf[..]);
        EthernetRepr {
            src_addr: PEER_MAC,
            dst_addr: self.stack_mac.unwrap_or(EthernetAddress::BROADCAST),
            ethertype: EthernetProtocol::Ipv4,
        }
        .emit(&mut f);
        let caps = ChecksumCapabilities::default();
        let mut p = Ipv4Packet::new_unchecked(f.payload_mut());
        ip.emit(&mut p, &caps);
        let mut t = TcpPacket::new_unchecked(p.payload_mut());
        tcp.emit(&mut t, &IpAddress::Ipv4(from), &IpAddress::Ipv4(to), &caps);
        buf
    }
}

/// One connection the raw peer holds with the stack: it does the
/// handshake by hand and keeps its sequence numbers.
pub struct RawConn {
    pub from: Ipv4Addr,
    pub sport: u16,
    pub to: Ipv4Addr,
    pub dport: u16,
    /// Our next sequence number, and the stack's next.
    pub snd: u32,
    pub rcv: u32,
}

impl RawConn {
    #[allow(clippy::too_many_arguments)]
    /// Sends a SYN from `from:sport` with sequence `isn` (and again every
    /// `retry` until answered, for up to `within`); completes the handshake.
    /// Returns the connection and how long it took.
    pub fn open(
        peer: &mut RawPeer,
        from: Ipv4Addr,
        sport: u16,
        to: Ipv4Addr,
        dport: u16,
        isn: u32,
        retry: Duration,
        within: Duration,
    ) -> Option<(RawConn, Duration)> {
        let start = Instant::now();
        peer.announce(from, to);
        while start.elapsed() < within {
            let syn = peer.tcp_frame(from, sport, to, dport, TcpControl::Syn, isn, None, &[]);
            peer.send(&syn);
            let synack = peer.expect(retry, |s| {
                s.dst == from
                    && s.dst_port == sport
                    && s.control == TcpControl::Syn
                    && s.ack == Some(TcpSeqNumber(isn.wrapping_add(1) as i32))
            });
            if let Some(s) = synack {
                let conn = RawConn {
                    from,
                    sport,
                    to,
                    dport,
                    snd: isn.wrapping_add(1),
                    rcv: (s.seq.0 as u32).wrapping_add(1),
                };
                conn.send(peer, TcpControl::None, &[]);
                return Some((conn, start.elapsed()));
            }
        }
        None
    }

    /// Sends a segment on the connection (ACKing all the stack sent).
    pub fn send(&self, peer: &mut RawPeer, control: TcpControl, payload: &[u8]) {
        let frame = peer.tcp_frame(
            self.from,
            self.sport,
            self.to,
            self.dport,
            control,
            self.snd,
            Some(self.rcv),
            payload,
        );
        peer.send(&frame);
    }
}
