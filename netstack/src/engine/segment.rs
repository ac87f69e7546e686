// SPDX-License-Identifier: MIT OR Apache-2.0

//! What the stack reads of a TCP frame before smoltcp does (which
//! connection it belongs to, its flags and sequence numbers), the frames it
//! writes itself (a TIME-WAIT connection's ACK, since TIME-WAIT is kept
//! without a smoltcp socket; a SYN cookie's SYN-ACK; the handshake a cookie
//! stands for, replayed to smoltcp), and the rewriting of a segment's
//! sequence numbers in place.

use smoltcp::phy::ChecksumCapabilities;
use smoltcp::wire::{
    EthernetAddress, EthernetFrame, EthernetProtocol, EthernetRepr, IpAddress, IpEndpoint,
    IpProtocol, Ipv4Packet, Ipv4Repr, Ipv6Packet, Ipv6Repr, TcpControl, TcpPacket, TcpRepr,
    TcpSeqNumber,
};

/// A connection's two ends, as this stack sees them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Tuple {
    pub local: IpEndpoint,
    pub remote: IpEndpoint,
}

/// The parts of an incoming TCP segment the stack decides by.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Segment {
    pub tuple: Tuple,
    /// The sender's Ethernet address: where a reply goes.
    pub mac: EthernetAddress,
    pub syn: bool,
    pub ack: Option<TcpSeqNumber>,
    pub rst: bool,
    pub fin: bool,
    pub seq: TcpSeqNumber,
    /// Payload bytes.
    pub len: usize,
    /// The window field, as sent (unscaled).
    pub window: u16,
    /// A SYN's maximum segment size option.
    pub mss: Option<u16>,
    /// The checksum is right: only such a segment may change state that
    /// smoltcp does not hold (TIME-WAIT, the SYN queue).
    pub valid: bool,
}

impl Segment {
    /// The TCP segment in an Ethernet frame, if it is one (IPv4 unfragmented,
    /// or IPv6 with TCP as its first header); anything else is smoltcp's.
    pub fn parse(frame: &[u8]) -> Option<Segment> {
        let eth = EthernetFrame::new_checked(frame).ok()?;
        let mac = eth.src_addr();
        let (src, dst, payload) = match eth.ethertype() {
            EthernetProtocol::Ipv4 => {
                let ip = Ipv4Packet::new_checked(eth.payload()).ok()?;
                if ip.next_header() != IpProtocol::Tcp || ip.more_frags() || ip.frag_offset() != 0 {
                    return None;
                }
                let src = IpAddress::Ipv4(ip.src_addr());
                let dst = IpAddress::Ipv4(ip.dst_addr());
                let len = usize::from(ip.total_len()).checked_sub(usize::from(ip.header_len()))?;
                (src, dst, ip.payload().get(..len)?)
            }
            EthernetProtocol::Ipv6 => {
                let ip = Ipv6Packet::new_checked(eth.payload()).ok()?;
                if ip.next_header() != IpProtocol::Tcp {
                    return None;
                }
                let src = IpAddress::Ipv6(ip.src_addr());
                let dst = IpAddress::Ipv6(ip.dst_addr());
                (src, dst, ip.payload())
            }
            _ => return None,
        };
        let tcp = TcpPacket::new_checked(payload).ok()?;
        let mss = if tcp.syn() {
            tcp.options_summary().ok().and_then(|o| o.max_segment_size)
        } else {
            None
        };
        Some(Segment {
            tuple: Tuple {
                local: IpEndpoint::new(dst, tcp.dst_port()),
                remote: IpEndpoint::new(src, tcp.src_port()),
            },
            mac,
            syn: tcp.syn(),
            ack: tcp.ack().then(|| tcp.ack_number()),
            rst: tcp.rst(),
            fin: tcp.fin(),
            seq: tcp.seq_number(),
            len: tcp.payload().len(),
            window: tcp.window_len(),
            mss,
            valid: tcp.verify_checksum(&src, &dst),
        })
    }

    /// A SYN that opens a connection (no ACK, no RST).
    pub fn is_open(&self) -> bool {
        self.syn && self.ack.is_none() && !self.rst
    }

    /// The sequence number just after this segment: what acknowledges it.
    pub fn end(&self) -> TcpSeqNumber {
        self.seq + self.len + usize::from(self.syn) + usize::from(self.fin)
    }
}

/// A segment without payload, options but the MSS, SACK or timestamps:
/// what the stack writes itself.
pub(crate) fn bare(
    (src_port, dst_port): (u16, u16),
    control: TcpControl,
    seq_number: TcpSeqNumber,
    ack_number: Option<TcpSeqNumber>,
    window_len: u16,
    max_seg_size: Option<u16>,
) -> TcpRepr<'static> {
    TcpRepr {
        src_port,
        dst_port,
        control,
        seq_number,
        ack_number,
        window_len,
        window_scale: None,
        max_seg_size,
        sack_permitted: false,
        sack_ranges: [None; 3],
        timestamp: None,
        payload: &[],
    }
}

/// Writes into `buf` the frame of a bare ACK on `tuple` (from its local end
/// to its remote one) and returns its length.
pub(crate) fn ack_frame(
    buf: &mut Vec<u8>,
    from: EthernetAddress,
    to: EthernetAddress,
    tuple: Tuple,
    seq: TcpSeqNumber,
    ack: TcpSeqNumber,
) -> usize {
    let ports = (tuple.local.port, tuple.remote.port);
    let tcp = bare(ports, TcpControl::None, seq, Some(ack), 0, None);
    tcp_frame(buf, from, to, tuple.local.addr, tuple.remote.addr, &tcp)
}

/// Writes into `buf` the frame of segment `tcp` from `src` (at Ethernet
/// address `from`) to `dst` (at `to`) and returns its length: 0 if the two
/// addresses are not of one family (a tuple never mixes them).
pub(crate) fn tcp_frame(
    buf: &mut Vec<u8>,
    from: EthernetAddress,
    to: EthernetAddress,
    src: IpAddress,
    dst: IpAddress,
    tcp: &TcpRepr,
) -> usize {
    let caps = ChecksumCapabilities::default();
    let (ethertype, ip_len) = match (src, dst) {
        (IpAddress::Ipv4(_), IpAddress::Ipv4(_)) => (EthernetProtocol::Ipv4, 20),
        (IpAddress::Ipv6(_), IpAddress::Ipv6(_)) => (EthernetProtocol::Ipv6, 40),
        _ => return 0,
    };
    let len = 14 + ip_len + tcp.buffer_len();
    buf.clear();
    buf.resize(len, 0);
    let mut eth = EthernetFrame::new_unchecked(&mut buf[..]);
    EthernetRepr {
        src_addr: from,
        dst_addr: to,
        ethertype,
    }
    .emit(&mut eth);
    match (src, dst) {
        (IpAddress::Ipv4(src), IpAddress::Ipv4(dst)) => Ipv4Repr {
            src_addr: src,
            dst_addr: dst,
            next_header: IpProtocol::Tcp,
            payload_len: tcp.buffer_len(),
            hop_limit: 64,
        }
        .emit(&mut Ipv4Packet::new_unchecked(eth.payload_mut()), &caps),
        (IpAddress::Ipv6(src), IpAddress::Ipv6(dst)) => Ipv6Repr {
            src_addr: src,
            dst_addr: dst,
            next_header: IpProtocol::Tcp,
            payload_len: tcp.buffer_len(),
            hop_limit: 64,
        }
        .emit(&mut Ipv6Packet::new_unchecked(eth.payload_mut())),
        _ => return 0,
    }
    let mut packet = TcpPacket::new_unchecked(&mut buf[14 + ip_len..]);
    tcp.emit(&mut packet, &src, &dst, &caps);
    len
}

/// Lets `change` rewrite the TCP header of the segment in `frame` (which
/// this parses as [`Segment::parse`] does), then makes its checksum right
/// again. The frame's two addresses are given to `change` as the segment's
/// source and destination. Returns what `change` did, `None` if the frame
/// is not a TCP segment.
pub(crate) fn rewrite<R>(
    frame: &mut [u8],
    change: impl FnOnce(IpEndpoint, IpEndpoint, &mut TcpPacket<&mut [u8]>) -> R,
) -> Option<R> {
    let eth = EthernetFrame::new_checked(&*frame).ok()?;
    // Where the TCP segment is in the frame, and its length.
    let (src, dst, at, len) = match eth.ethertype() {
        EthernetProtocol::Ipv4 => {
            let ip = Ipv4Packet::new_checked(eth.payload()).ok()?;
            if ip.next_header() != IpProtocol::Tcp || ip.more_frags() || ip.frag_offset() != 0 {
                return None;
            }
            let header = usize::from(ip.header_len());
            let len = usize::from(ip.total_len()).checked_sub(header)?;
            (
                IpAddress::Ipv4(ip.src_addr()),
                IpAddress::Ipv4(ip.dst_addr()),
                14 + header,
                len,
            )
        }
        EthernetProtocol::Ipv6 => {
            let ip = Ipv6Packet::new_checked(eth.payload()).ok()?;
            if ip.next_header() != IpProtocol::Tcp {
                return None;
            }
            (
                IpAddress::Ipv6(ip.src_addr()),
                IpAddress::Ipv6(ip.dst_addr()),
                14 + 40,
                usize::from(ip.payload_len()),
            )
        }
        _ => return None,
    };
    let payload = frame.get_mut(at..at.checked_add(len)?)?;
    let mut tcp = TcpPacket::new_checked(payload).ok()?;
    let r = change(
        IpEndpoint::new(src, tcp.src_port()),
        IpEndpoint::new(dst, tcp.dst_port()),
        &mut tcp,
    );
    tcp.fill_checksum(&src, &dst);
    Some(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tuple(v6: bool) -> Tuple {
        let (l, r): (IpAddress, IpAddress) = if v6 {
            ("fd00::1".parse().unwrap(), "fd00::2".parse().unwrap())
        } else {
            ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap())
        };
        Tuple {
            local: IpEndpoint::new(l, 80),
            remote: IpEndpoint::new(r, 40000),
        }
    }

    /// The ACK the stack writes reads back, as the peer sees it, with the
    /// ends swapped, the numbers given and a right checksum.
    #[test]
    fn an_ack_frame_parses_back_as_sent() {
        for v6 in [false, true] {
            let t = tuple(v6);
            let (me, peer) = (
                EthernetAddress([2, 0, 0, 0, 0, 1]),
                EthernetAddress([2, 0, 0, 0, 0, 2]),
            );
            let mut buf = Vec::new();
            let n = ack_frame(&mut buf, me, peer, t, TcpSeqNumber(7), TcpSeqNumber(9));
            let seg = Segment::parse(&buf[..n]).expect("a TCP segment");
            assert_eq!(seg.tuple.local, t.remote);
            assert_eq!(seg.tuple.remote, t.local);
            assert_eq!(seg.mac, me);
            assert_eq!((seg.seq, seg.ack), (TcpSeqNumber(7), Some(TcpSeqNumber(9))));
            assert!(!seg.syn && !seg.fin && !seg.rst && seg.len == 0);
            assert!(seg.valid, "checksum (v6: {v6})");
            buf[n - 1] ^= 1;
            assert!(!Segment::parse(&buf[..n]).unwrap().valid);
        }
    }

    #[test]
    fn what_is_not_tcp_is_left_to_smoltcp() {
        assert!(Segment::parse(&[]).is_none());
        assert!(Segment::parse(&[0; 60]).is_none());
    }
}
