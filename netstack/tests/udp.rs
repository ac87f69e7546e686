// SPDX-License-Identifier: MIT OR Apache-2.0

//! UDP between two stacks.

mod common;

use common::*;
use vpoll_netstack::{Error, Events, UdpSocket};

#[test]
fn datagrams_cross_and_the_fd_tells_when_one_waits() {
    let (a, b) = pair();
    let server = UdpSocket::bind(&a, addr(A4, 53)).unwrap();
    let client = UdpSocket::bind(&b, addr("0.0.0.0", 0)).unwrap();
    assert_eq!(revents(&server), Events::OUT);
    client.send_to(b"query", addr(A4, 53)).unwrap();
    assert_eq!(wait_for(&server, Events::IN), Events::IN | Events::OUT);
    let mut buf = [0; 64];
    let (n, from) = server.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"query");
    assert_eq!(from.port(), client.local_addr().port());
    assert_eq!(revents(&server), Events::OUT);
    server.send_to(b"answer", from).unwrap();
    let (n, _) = client.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"answer");
}

#[test]
fn over_ipv6_and_cut_to_the_buffer() {
    let (a, b) = pair();
    let server = UdpSocket::bind(&a, addr(A6, 5353)).unwrap();
    let client = UdpSocket::bind(&b, addr(B6, 0)).unwrap();
    client.send_to(b"0123456789", addr(A6, 5353)).unwrap();
    let mut small = [0; 4];
    let (n, _) = server.recv_from(&mut small).unwrap();
    assert_eq!(&small[..n], b"0123");
    server.set_nonblocking(true);
    assert!(matches!(
        server.recv_from(&mut small),
        Err(Error::WouldBlock)
    ));
}

#[test]
fn ports_and_sizes_are_checked() {
    let (a, _b) = pair();
    let _s = UdpSocket::bind(&a, addr(A4, 99)).unwrap();
    assert!(matches!(
        UdpSocket::bind(&a, addr(A4, 99)),
        Err(Error::AddrInUse { .. })
    ));
    assert!(matches!(
        UdpSocket::bind(&a, addr("10.9.9.9", 1)),
        Err(Error::AddrNotAvailable { .. })
    ));
    let s = UdpSocket::bind(&a, addr(A4, 0)).unwrap();
    let huge = vec![0; 1 << 20];
    assert!(matches!(
        s.send_to(&huge, addr(B4, 9)),
        Err(Error::MessageTooLarge { .. })
    ));
    assert!(matches!(
        s.send_to(b"x", addr("0.0.0.0", 9)),
        Err(Error::InvalidAddress { .. })
    ));
}

/// A datagram larger than the link's MTU allows is `EMSGSIZE`, as a kernel
/// socket's (the stack does not fragment); one that fits goes.
#[test]
fn a_datagram_above_the_mtu_is_refused_with_emsgsize() {
    let (a, _b) = pair();
    let socket = UdpSocket::bind(&a, addr(A4, 0)).unwrap();
    let to = addr(B4, 9);
    let err = socket.send_to(&[0; 1473], to).unwrap_err();
    assert!(
        matches!(
            err,
            Error::MessageTooLarge {
                len: 1473,
                max: 1472
            }
        ),
        "{err}"
    );
    assert_eq!(
        std::io::Error::from(err).kind(),
        std::io::Error::from_raw_os_error(libc::EMSGSIZE).kind()
    );
    assert_eq!(socket.send_to(&[0; 1472], to).unwrap(), 1472);
    let six = UdpSocket::bind(&a, addr(A6, 0)).unwrap();
    assert!(six.send_to(&[0; 1453], addr(B6, 9)).is_err());
    assert_eq!(six.send_to(&[0; 1452], addr(B6, 9)).unwrap(), 1452);
}

/// A port bound explicitly is never handed out as an ephemeral one.
#[test]
fn an_ephemeral_port_never_collides_with_a_bound_one() {
    let (a, _b) = pair();
    let first = UdpSocket::bind(&a, addr(A4, 0)).unwrap();
    let p = first.local_addr().port();
    let next = if p == 60999 { 32768 } else { p + 1 };
    let bound = UdpSocket::bind(&a, addr(A4, next)).unwrap();
    let second = UdpSocket::bind(&a, addr(A4, 0)).unwrap();
    assert_ne!(second.local_addr().port(), bound.local_addr().port());
    assert_ne!(second.local_addr().port(), p);
}
