// SPDX-License-Identifier: MIT OR Apache-2.0

//! A connection's whole life against peers that are slow, gone or hostile:
//! TIME-WAIT, SYN floods, orphans, keepalive and the user timeout, a FIN
//! and a reset in one burst. Most tests speak raw frames to the stack.

mod common;

use std::net::{Ipv4Addr, Shutdown};
use std::time::{Duration, Instant};

use common::raw::{RawConn, RawPeer};
use common::*;
use smoltcp::wire::{TcpControl, TcpSeqNumber};
use vpoll_netstack::{Error, Events, Keepalive, Stack, TcpListener, TcpStream};

const STACK: Ipv4Addr = Ipv4Addr::new(10, 9, 0, 1);
const PEER: Ipv4Addr = Ipv4Addr::new(10, 9, 0, 2);
const SECOND: Duration = Duration::from_secs(1);

fn open(peer: &mut RawPeer, sport: u16, isn: u32) -> RawConn {
    RawConn::open(peer, PEER, sport, STACK, 80, isn, SECOND, 5 * SECOND)
        .expect("the stack answers a SYN")
        .0
}

/// The server closes first: it ends in TIME-WAIT, which holds no socket
/// (no buffers); a retransmitted FIN is answered with the right ACK; a new
/// SYN from the same port, with a later sequence, opens a new connection
/// at once (RFC 6191), where smoltcp alone would drop it until TIME-WAIT
/// ended.
#[test]
fn time_wait_holds_no_buffers_and_a_new_syn_from_its_port_is_answered_at_once() {
    let (stack, mut peer) = raw_pair(|b| b);
    let listener = TcpListener::bind(&stack, addr(A4, 80)).unwrap();
    let mut conn = open(&mut peer, 40000, 1000);
    let (server, _) = listener.accept().unwrap();
    assert_eq!(stack.stats().sockets, 1);
    server.shutdown(Shutdown::Write).unwrap();
    let fin = peer
        .expect(SECOND, |s| s.control == TcpControl::Fin)
        .expect("the server's FIN");
    conn.rcv = (fin.seq.0 as u32).wrapping_add(1);
    conn.send(&mut peer, TcpControl::Fin, &[]);
    conn.snd = conn.snd.wrapping_add(1);
    assert!(
        eventually(SECOND, || stack.stats().time_wait == 1),
        "{:?}",
        stack.stats()
    );
    assert_eq!(stack.stats().sockets, 0, "TIME-WAIT keeps no socket");
    // The held stream shows a closed socket, as Linux's does.
    assert!(wait_for(&server, Events::HUP).contains(Events::HUP | Events::IN));
    assert_eq!(server.read(&mut [0; 4]).unwrap(), 0);

    // Our last ACK was lost: the FIN comes again, and is answered.
    let fin_again = peer.tcp_frame(
        PEER,
        40000,
        STACK,
        80,
        TcpControl::Fin,
        conn.snd.wrapping_sub(1),
        Some(conn.rcv),
        &[],
    );
    peer.send(&fin_again);
    let ack = peer
        .expect(SECOND, |s| s.src_port == 80 && s.dst_port == 40000)
        .expect("TIME-WAIT answers a retransmitted FIN");
    assert_eq!(ack.control, TcpControl::None);
    assert_eq!(ack.ack, Some(TcpSeqNumber(conn.snd as i32)));
    assert_eq!(ack.seq, TcpSeqNumber(conn.rcv as i32));

    // A new connection from the same port, while TIME-WAIT lasts (60 s).
    let (again, took) = RawConn::open(
        &mut peer,
        PEER,
        40000,
        STACK,
        80,
        conn.snd.wrapping_add(100_000),
        SECOND,
        5 * SECOND,
    )
    .expect("a SYN in TIME-WAIT opens a connection");
    assert!(
        took < SECOND,
        "answered after {took:?}: the SYN was dropped"
    );
    let (second, peer_addr) = listener.accept().unwrap();
    assert_eq!(peer_addr, addr("10.9.0.2", 40000));
    again.send(&mut peer, TcpControl::Psh, b"hi");
    let mut buf = [0; 2];
    second.set_read_timeout(Some(5 * SECOND)).unwrap();
    std::io::Read::read_exact(&mut &second, &mut buf).unwrap();
    assert_eq!(&buf, b"hi");
    assert_eq!(stack.stats().time_wait, 0);
    assert_eq!(stack.stats().time_wait_reused, 1);
}

/// 10,000 SYNs from addresses that never answer: a real client still gets
/// in at once (the SYN queue is full: its SYN is answered with a cookie),
/// the handshakes are gone once the SYN-ACK timeout passes, and the memory
/// they held with them.
#[test]
fn a_syn_flood_neither_starves_a_real_client_nor_leaves_anything_behind() {
    let stats = syn_flood(true, SECOND);
    assert!(
        stats.syn_cookies_sent > 0 && stats.syn_cookies_accepted == 1,
        "{stats:?}"
    );
}

/// The same with SYN cookies off: the real client's first SYN finds the
/// SYN queue full of young handshakes; its retry a second later takes the
/// place of the oldest.
#[test]
fn without_cookies_a_syn_flood_delays_a_real_client_by_one_retry() {
    let stats = syn_flood(false, 2 * SECOND);
    assert!(
        stats.syn_cookies_sent == 0 && stats.handshakes_dropped > 0,
        "{stats:?}"
    );
}

fn syn_flood(cookies: bool, within: Duration) -> vpoll_netstack::Stats {
    let (stack, mut peer) = raw_pair(|b| {
        b.synack_timeout(Duration::from_secs(2))
            .syn_cookies(cookies)
    });
    let listener = TcpListener::bind(&stack, addr(A4, 80)).unwrap();
    let started = Instant::now();
    // From few addresses: smoltcp's neighbour cache has eight entries and
    // asks at most once a second, so a flood from many addresses on the
    // link would delay the stack's answers to everyone by ARP alone.
    for i in 0..10_000u32 {
        let from = Ipv4Addr::new(10, 9, 0, 10 + (i % 4) as u8);
        let syn = peer.tcp_frame(
            from,
            1024 + (i / 4) as u16,
            STACK,
            80,
            TcpControl::Syn,
            i,
            None,
            &[],
        );
        peer.send(&syn);
        if i % 64 == 0 {
            peer.drain();
        }
    }
    let flood = started.elapsed();
    let (client, took) = RawConn::open(&mut peer, PEER, 50000, STACK, 80, 7, SECOND, 10 * SECOND)
        .expect("a real client connects during the flood");
    let (conn, _) = listener.accept().unwrap();
    let stats = stack.stats();
    eprintln!("flood of 10,000 SYNs sent in {flood:?}; the real client took {took:?}; {stats:?}");
    assert!(took < within, "the real client took {took:?}");
    assert!(
        stats.sockets <= 256 + 1,
        "the SYN queue is bounded (syn_backlog, 256): {stats:?}"
    );
    // The flood's handshakes time out; the real connection stays.
    assert!(
        eventually(10 * SECOND, || stack.stats().sockets == 1),
        "half-open connections left: {:?}",
        stack.stats()
    );
    client.send(&mut peer, TcpControl::Psh, b"ok");
    let mut buf = [0; 2];
    conn.set_read_timeout(Some(5 * SECOND)).unwrap();
    std::io::Read::read_exact(&mut &conn, &mut buf).unwrap();
    assert_eq!(&buf, b"ok");
    stats
}

/// A FIN and a reset that arrive together read as the end first, then the
/// reset (Linux checks `SOCK_DONE` before the socket's error).
#[test]
fn a_fin_then_a_reset_in_one_burst_reads_the_end_first() {
    let (stack, mut peer) = raw_pair(|b| b);
    let listener = TcpListener::bind(&stack, addr(A4, 80)).unwrap();
    let conn = open(&mut peer, 40001, 5000);
    let (server, _) = listener.accept().unwrap();
    let fin = peer.tcp_frame(
        PEER,
        40001,
        STACK,
        80,
        TcpControl::Fin,
        conn.snd,
        Some(conn.rcv),
        &[],
    );
    let rst = peer.tcp_frame(
        PEER,
        40001,
        STACK,
        80,
        TcpControl::Rst,
        conn.snd.wrapping_add(1),
        None,
        &[],
    );
    peer.send(&fin);
    peer.send(&rst);
    assert!(wait_for(&server, Events::HUP).contains(Events::HUP));
    assert_eq!(server.read(&mut [0; 4]).unwrap(), 0, "the end first");
    assert!(matches!(server.write(b"x"), Err(Error::BrokenPipe)));
}

/// New data for a connection the program dropped gets a reset (Linux's
/// TCPAbortOnData): nobody will ever read it.
#[test]
fn data_sent_to_a_dropped_connection_gets_a_reset() {
    let (stack, mut peer) = raw_pair(|b| b);
    let listener = TcpListener::bind(&stack, addr(A4, 80)).unwrap();
    let mut conn = open(&mut peer, 40002, 9000);
    let (server, _) = listener.accept().unwrap();
    drop(server);
    let fin = peer
        .expect(SECOND, |s| s.control == TcpControl::Fin)
        .expect("the FIN of the dropped stream");
    conn.rcv = (fin.seq.0 as u32).wrapping_add(1);
    conn.send(&mut peer, TcpControl::Psh, b"anyone?");
    let rst = peer.expect(SECOND, |s| s.control == TcpControl::Rst);
    assert!(rst.is_some(), "no reset for data after close");
    assert!(eventually(SECOND, || stack.stats().sockets == 0));
    assert_eq!(stack.stats().orphans, 0);
}

/// 1,000 connections dropped while their peers never send their FIN: all
/// gone once the FIN-WAIT-2 timeout passes.
#[test]
fn orphans_whose_peer_never_fins_are_gone_after_the_fin_timeout() {
    const N: usize = 1000;
    let (a, b) = pair_with(|s| {
        s.fin_timeout(Duration::from_millis(500))
            .tcp_buffers(4 << 10, 4 << 10)
    });
    let listener = TcpListener::bind_with_backlog(&a, addr(A4, 81), N).unwrap();
    let clients: Vec<TcpStream> = (0..N)
        .map(|_| TcpStream::connect(&b, addr(A4, 81)).unwrap())
        .collect();
    let servers: Vec<TcpStream> = (0..N).map(|_| listener.accept().unwrap().0).collect();
    drop(servers);
    assert!(
        eventually(5 * SECOND, || clients
            .iter()
            .all(|c| revents(c).contains(Events::RDHUP))),
        "every client got its FIN"
    );
    assert_eq!(a.stats().orphans, N as u64);
    assert!(
        eventually(10 * SECOND, || a.stats().orphans == 0
            && a.stats().sockets == 0),
        "{:?}",
        a.stats()
    );
    assert!(a.stats().timeouts >= N as u64);
}

/// Beyond `max_orphans`, the oldest orphan is reset.
#[test]
fn beyond_the_orphan_limit_the_oldest_is_reset() {
    let (a, b) = pair_with(|s| s.max_orphans(10));
    let listener = TcpListener::bind(&a, addr(A4, 82)).unwrap();
    let clients: Vec<TcpStream> = (0..20)
        .map(|_| TcpStream::connect(&b, addr(A4, 82)).unwrap())
        .collect();
    for _ in 0..20 {
        drop(listener.accept().unwrap().0);
    }
    assert!(a.stats().orphans <= 10, "{:?}", a.stats());
    assert!(a.stats().orphans_reset >= 10, "{:?}", a.stats());
    let reset = |c: &TcpStream| {
        eventually(5 * SECOND, || revents(c).contains(Events::HUP))
            && matches!(
                c.take_error(),
                Ok(Some(Error::ConnectionReset | Error::BrokenPipe))
            )
    };
    assert!(clients[..10].iter().all(reset), "the oldest ten were reset");
    assert!(
        clients[10..]
            .iter()
            .all(|c| c.take_error().unwrap().is_none()),
        "the newest ten were not"
    );
}

/// Drops `b`: its link goes silent, as a peer that vanished.
fn vanish(b: Stack) {
    drop(b);
}

/// Keepalive ends a connection to a peer that vanished with `TimedOut`,
/// and the fd shows `ERR|HUP` as a kernel socket's does.
#[test]
fn keepalive_ends_a_connection_to_a_vanished_peer() {
    let (_a, b, _l, client, server) = connected(83);
    server
        .set_keepalive(Some(Keepalive {
            idle: Duration::from_millis(200),
            interval: Duration::from_millis(100),
            count: 3,
        }))
        .unwrap();
    // Alive: the peer answers the probes.
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(server.take_error().unwrap().map(|e| e.to_string()), None);
    vanish(b);
    drop(client);
    let started = Instant::now();
    let mask = wait_for(&server, Events::HUP);
    let took = started.elapsed();
    assert_eq!(
        mask,
        shown(Events::ERR | Events::HUP | Events::IN | Events::RDHUP | Events::OUT)
    );
    assert!(took < 3 * SECOND, "{took:?}");
    assert!(matches!(server.read(&mut [0; 1]), Err(Error::TimedOut)));
}

/// The user timeout ends a connection whose data goes unacknowledged.
#[test]
fn the_user_timeout_ends_a_connection_whose_data_goes_unacknowledged() {
    let (_a, b, _l, client, server) = connected(84);
    server
        .set_user_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    vanish(b);
    drop(client);
    server.write_all(b"into the void").unwrap();
    let started = Instant::now();
    assert!(wait_for(&server, Events::HUP).contains(Events::HUP));
    assert!(started.elapsed() < 3 * SECOND);
    assert!(matches!(server.take_error(), Ok(Some(Error::TimedOut))));
}

/// After a burst, the socket set is made to fit again: smoltcp walks every
/// slot for every packet, so the cost would otherwise stay at the burst's.
#[test]
fn after_a_burst_the_socket_set_shrinks_back() {
    const N: usize = 500;
    let (a, b) = pair_with(|s| s.tcp_buffers(4 << 10, 4 << 10));
    let listener = TcpListener::bind_with_backlog(&a, addr(A4, 85), N).unwrap();
    let clients: Vec<TcpStream> = (0..N)
        .map(|_| TcpStream::connect(&b, addr(A4, 85)).unwrap())
        .collect();
    let servers: Vec<TcpStream> = (0..N).map(|_| listener.accept().unwrap().0).collect();
    assert!(a.stats().socket_slots >= N as u64);
    drop(clients);
    drop(servers);
    assert!(
        eventually(10 * SECOND, || {
            let s = a.stats();
            s.sockets == 0 && s.socket_slots < 64
        }),
        "{:?}",
        a.stats()
    );
    assert!(a.stats().compactions >= 1);
    // And it still serves.
    let c = TcpStream::connect(&b, addr(A4, 85)).unwrap();
    let (s, _) = listener.accept().unwrap();
    c.write_all(b"k").unwrap();
    let mut buf = [0; 1];
    std::io::Read::read_exact(&mut &s, &mut buf).unwrap();
}
