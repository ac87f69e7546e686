// SPDX-License-Identifier: MIT OR Apache-2.0

//! SYN cookies: a listener whose SYN queue is full still takes every
//! client, and a connection that started from a cookie carries its data
//! with the numbers the client was given, whatever smoltcp picked.

mod common;

use std::io::Read;
use std::net::{Ipv4Addr, Shutdown};
use std::time::Duration;

use common::raw::{RawConn, RawPeer};
use common::*;
use smoltcp::wire::{TcpControl, TcpSeqNumber};
use vpoll_netstack::{Error, Events, TcpListener, TcpStream};

const STACK: Ipv4Addr = Ipv4Addr::new(10, 9, 0, 1);
const PEER: Ipv4Addr = Ipv4Addr::new(10, 9, 0, 2);
const SECOND: Duration = Duration::from_secs(1);

/// A SYN from `sport` (sequence 99) that is not answered: it fills a SYN
/// queue of one. Returns the stack's SYN-ACK.
fn half_open(peer: &mut RawPeer, sport: u16) -> common::raw::Seg {
    peer.announce(PEER, STACK);
    let syn = peer.tcp_frame(PEER, sport, STACK, 80, TcpControl::Syn, 99, None, &[]);
    peer.send(&syn);
    peer.expect(5 * SECOND, |s| {
        s.dst_port == sport && s.control == TcpControl::Syn
    })
    .expect("the first SYN is answered from the SYN queue")
}

fn seq(n: u32) -> TcpSeqNumber {
    TcpSeqNumber(n as i32)
}

/// With the SYN queue full, a client is answered with a cookie and gets
/// in; everything the stack sends it after (data, its FIN, the reset for
/// data sent to a closed socket) is numbered from the cookie, and what the
/// client sends reaches the program.
#[test]
fn a_connection_from_a_cookie_keeps_the_clients_numbers() {
    let (stack, mut peer) = raw_pair(|b| b.syn_backlog(1));
    let listener = TcpListener::bind(&stack, addr(A4, 80)).unwrap();
    half_open(&mut peer, 1000);
    let (mut conn, _) = RawConn::open(&mut peer, PEER, 40000, STACK, 80, 7, SECOND, 5 * SECOND)
        .expect("a client is answered while the SYN queue is full");
    let stats = stack.stats();
    assert_eq!(stats.syn_cookies_sent, 1, "{stats:?}");
    let (server, _) = listener.accept().unwrap();
    assert_eq!(stack.stats().syn_cookies_accepted, 1);

    server.write_all(b"hello").unwrap();
    let data = peer
        .expect(5 * SECOND, |s| s.dst_port == 40000 && s.len > 0)
        .expect("the server's data");
    assert_eq!(
        (data.seq, data.len),
        (seq(conn.rcv), 5),
        "numbered from the cookie"
    );
    conn.rcv = conn.rcv.wrapping_add(5);

    conn.send(&mut peer, TcpControl::Psh, b"ping");
    conn.snd = conn.snd.wrapping_add(4);
    let mut buf = [0; 4];
    server.set_read_timeout(Some(5 * SECOND)).unwrap();
    (&server).read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"ping");

    drop(server);
    let fin = peer
        .expect(5 * SECOND, |s| {
            s.dst_port == 40000 && s.control == TcpControl::Fin
        })
        .expect("the server's FIN");
    assert_eq!(fin.seq, seq(conn.rcv), "the FIN follows the data");
    // New data for a socket nobody holds: reset (Linux's TCPAbortOnData),
    // numbered as the client knows the connection.
    conn.send(&mut peer, TcpControl::Psh, b"more");
    let rst = peer
        .expect(5 * SECOND, |s| {
            s.dst_port == 40000 && s.control == TcpControl::Rst
        })
        .expect("a reset for data after close");
    let fin_end = seq(conn.rcv.wrapping_add(1));
    assert!(
        rst.seq == seq(conn.rcv) || rst.seq == fin_end,
        "the reset's sequence {:?} is the connection's ({:?})",
        rst.seq,
        fin_end
    );
    assert!(
        eventually(5 * SECOND, || stack.stats().sockets == 1),
        "only the half-open handshake is left: {:?}",
        stack.stats()
    );
}

/// A client whose SYN was sent again while its cookie SYN-ACK was on the
/// way (a slow server): the copy finds room in the SYN queue and makes a
/// handshake of its own, but the client took the cookie. Its ACK for the
/// cookie takes that handshake's place instead of being reset (smoltcp
/// resets an ACK for another SYN-ACK), whichever of the two it got first.
#[test]
fn a_syn_sent_again_after_its_cookie_does_not_reset_the_client() {
    let (stack, mut peer) = raw_pair(|b| b.syn_backlog(1));
    let listener = TcpListener::bind(&stack, addr(A4, 80)).unwrap();
    listener.set_nonblocking(true);
    let first = half_open(&mut peer, 1000);
    let syn = peer.tcp_frame(PEER, 40000, STACK, 80, TcpControl::Syn, 7, None, &[]);
    peer.send(&syn);
    let cookie = peer
        .expect(5 * SECOND, |s| {
            s.dst_port == 40000 && s.control == TcpControl::Syn
        })
        .expect("a cookie");
    assert_eq!(stack.stats().syn_cookies_sent, 1);
    // The first handshake completes: the SYN queue has room again.
    let ack = (first.seq.0 as u32).wrapping_add(1);
    let done = peer.tcp_frame(PEER, 1000, STACK, 80, TcpControl::None, 100, Some(ack), &[]);
    peer.send(&done);
    let mut held = None;
    assert!(eventually(5 * SECOND, || {
        held = listener.accept().ok();
        held.is_some()
    }));
    // The client's SYN again, then its ACK of the cookie (with data).
    peer.send(&syn);
    let other = peer
        .expect(5 * SECOND, |s| {
            s.dst_port == 40000 && s.control == TcpControl::Syn
        })
        .expect("the copy of the SYN makes a handshake");
    assert_ne!(other.seq, cookie.seq, "smoltcp's own SYN-ACK");
    let conn = RawConn {
        from: PEER,
        sport: 40000,
        to: STACK,
        dport: 80,
        snd: 8,
        rcv: (cookie.seq.0 as u32).wrapping_add(1),
    };
    conn.send(&mut peer, TcpControl::Psh, b"ping");
    let server = loop {
        match listener.accept() {
            Ok((server, _)) => break server,
            Err(Error::WouldBlock) => {
                if let Some(s) = peer.recv(Duration::from_millis(10)) {
                    let reset = s.dst_port == 40000 && s.control == TcpControl::Rst;
                    assert!(!reset, "the client was reset");
                }
            }
            Err(e) => panic!("accept: {e}"),
        }
    };
    let mut buf = [0; 4];
    server.set_read_timeout(Some(5 * SECOND)).unwrap();
    (&server).read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"ping");
    server.write_all(b"pong").unwrap();
    let data = peer
        .expect(5 * SECOND, |s| s.dst_port == 40000 && s.len > 0)
        .expect("the server's data");
    assert_eq!(data.seq, seq(conn.rcv), "numbered from the cookie");
    let stats = stack.stats();
    assert_eq!(stats.syn_cookies_accepted, 1, "{stats:?}");
}

/// An ACK that returns no cookie of this listener is reset and makes no
/// connection, even while the listener is sending cookies.
#[test]
fn a_forged_cookie_makes_no_connection() {
    let (stack, mut peer) = raw_pair(|b| b.syn_backlog(1));
    let listener = TcpListener::bind(&stack, addr(A4, 80)).unwrap();
    listener.set_nonblocking(true);
    half_open(&mut peer, 1000);
    // A second SYN, answered with a cookie, whose ACK never comes.
    let syn = peer.tcp_frame(PEER, 2000, STACK, 80, TcpControl::Syn, 5, None, &[]);
    peer.send(&syn);
    let cookie = peer
        .expect(5 * SECOND, |s| {
            s.dst_port == 2000 && s.control == TcpControl::Syn
        })
        .expect("a cookie");
    assert_eq!(stack.stats().syn_cookies_sent, 1);
    for (port, ack) in [
        (3000, 12345u32),
        (2000, (cookie.seq.0 as u32).wrapping_add(2)),
    ] {
        let forged = peer.tcp_frame(PEER, port, STACK, 80, TcpControl::None, 6, Some(ack), &[]);
        peer.send(&forged);
        let rst = peer
            .expect(5 * SECOND, |s| {
                s.dst_port == port && s.control == TcpControl::Rst
            })
            .expect("a forged cookie is reset");
        assert_eq!(rst.seq, seq(ack));
    }
    let stats = stack.stats();
    assert_eq!(
        (stats.syn_cookies_failed, stats.syn_cookies_accepted),
        (2, 0),
        "{stats:?}"
    );
    assert_eq!(stats.sockets, 1, "{stats:?}");
    assert!(matches!(listener.accept(), Err(Error::WouldBlock)));
}

/// Many smoltcp clients at once on a SYN queue of one: all but the first
/// few get in on a cookie, and every byte arrives both ways, over IPv4 and
/// IPv6 (no window scaling: 64 KiB windows).
#[test]
fn a_burst_of_clients_beyond_the_syn_queue_all_get_in_and_carry_data() {
    const CLIENTS: usize = 32;
    const LEN: usize = 200 << 10;
    let (a, b) = pair_with(|b| b.syn_backlog(1));
    let listener = TcpListener::bind(&a, addr("::", 80)).unwrap();
    let clients: Vec<TcpStream> = (0..CLIENTS)
        .map(|i| {
            let to = if i % 2 == 0 {
                addr(A4, 80)
            } else {
                addr(A6, 80)
            };
            TcpStream::connect_nonblocking(&b, to).unwrap()
        })
        .collect();
    std::thread::scope(|s| {
        s.spawn(|| {
            for _ in 0..CLIENTS {
                let (conn, _) = listener.accept().unwrap();
                s.spawn(move || {
                    // Echo until the client's end.
                    let mut buf = vec![0; 16 << 10];
                    loop {
                        let n = conn.read(&mut buf).unwrap();
                        if n == 0 {
                            break;
                        }
                        conn.write_all(&buf[..n]).unwrap();
                    }
                    conn.shutdown(Shutdown::Write).unwrap();
                });
            }
        });
        for (i, client) in clients.iter().enumerate() {
            s.spawn(move || {
                wait_for(client, Events::OUT);
                client.connected().expect("connected");
                client.set_nonblocking(false);
                let data = pattern(LEN, i as u8);
                let reader = client;
                let echoed = std::thread::scope(|t| {
                    let back = t.spawn(move || {
                        let mut got = Vec::new();
                        let mut reader = reader;
                        reader.read_to_end(&mut got).unwrap();
                        got
                    });
                    client.write_all(&data).unwrap();
                    client.shutdown(Shutdown::Write).unwrap();
                    back.join().unwrap()
                });
                assert_eq!(echoed.len(), LEN, "client {i}");
                assert_eq!(fnv(&echoed), fnv(&data), "client {i}");
            });
        }
    });
    let stats = a.stats();
    eprintln!("{stats:?}");
    assert!(
        stats.syn_cookies_accepted >= CLIENTS as u64 / 2,
        "most clients came in on a cookie: {stats:?}"
    );
    assert_eq!(stats.syn_cookies_failed, 0, "{stats:?}");
}

/// A cookie's ACK from a host smoltcp has no Ethernet address for: its
/// SYN-ACK (the stack's key to the connection's numbers) waits for ARP, and
/// what the client sends meanwhile is dropped, not reset; its retransmission
/// gets through.
#[test]
fn a_cookie_client_smoltcp_must_first_ask_for_is_not_reset() {
    let (stack, mut peer) = raw_pair(|b| b.syn_backlog(1));
    let listener = TcpListener::bind(&stack, addr(A4, 80)).unwrap();
    half_open(&mut peer, 1000);
    // Never announced: the stack knows its MAC from the frames only.
    let stranger = Ipv4Addr::new(10, 9, 0, 77);
    let syn = peer.tcp_frame(stranger, 3000, STACK, 80, TcpControl::Syn, 41, None, &[]);
    peer.send(&syn);
    let cookie = peer
        .expect(5 * SECOND, |s| {
            s.dst == stranger && s.control == TcpControl::Syn
        })
        .expect("a cookie, sent without ARP");
    let ack = (cookie.seq.0 as u32).wrapping_add(1);
    let data = peer.tcp_frame(
        stranger,
        3000,
        STACK,
        80,
        TcpControl::Psh,
        42,
        Some(ack),
        b"hi",
    );
    peer.send(&data);
    // Sent again before the stack's ARP request is answered: it arrives
    // while the connection's numbers are unknown.
    peer.send(&data);
    // The stack asks who the stranger is (the peer answers as it reads);
    // meanwhile no reset.
    let rst = peer.expect(SECOND, |s| {
        s.dst == stranger && s.control == TcpControl::Rst
    });
    assert!(
        rst.is_none(),
        "reset while smoltcp asked for the address: {rst:?}"
    );
    peer.send(&data);
    let (server, _) = listener.accept().unwrap();
    server.set_read_timeout(Some(5 * SECOND)).unwrap();
    let mut buf = [0; 2];
    (&server).read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"hi");
}
