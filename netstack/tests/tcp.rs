// SPDX-License-Identifier: MIT OR Apache-2.0

//! TCP between two stacks over a socket-pair link: data, masks, endings.

mod common;

use std::io::Read;
use std::net::Shutdown;
use std::thread;

use common::*;
use vpoll_netstack::{Error, Events, TcpListener, TcpSocket, TcpStream};

#[test]
fn a_small_exchange_echoes() {
    let (_a, _b, _l, mut client, mut server) = connected(7);
    client.write_all(b"hello").unwrap();
    let mut buf = [0; 5];
    server.read_exact(&mut buf).unwrap();
    server.write_all(&buf).unwrap();
    let mut back = [0; 5];
    client.read_exact(&mut back).unwrap();
    assert_eq!(&back, b"hello");
}

#[test]
fn four_mib_each_way_at_once_arrive_intact() {
    const LEN: usize = 4 << 20;
    let (_a, _b, _l, client, server) = connected(9);
    let (up, down) = (pattern(LEN, 1), pattern(LEN, 2));
    let (up_sum, down_sum) = (fnv(&up), fnv(&down));
    thread::scope(|s| {
        s.spawn(|| client.write_all(&up).unwrap());
        s.spawn(|| server.write_all(&down).unwrap());
        let got_up = s.spawn(|| {
            let mut all = Vec::new();
            (&server).take(LEN as u64).read_to_end(&mut all).unwrap();
            all
        });
        let mut got_down = Vec::new();
        (&client)
            .take(LEN as u64)
            .read_to_end(&mut got_down)
            .unwrap();
        let got_up = got_up.join().unwrap();
        assert_eq!((got_up.len(), fnv(&got_up)), (LEN, up_sum));
        assert_eq!((got_down.len(), fnv(&got_down)), (LEN, down_sum));
    });
}

#[test]
fn over_ipv6_too() {
    let (a, b) = pair();
    let listener = TcpListener::bind(&a, addr(A6, 80)).unwrap();
    let client = TcpStream::connect(&b, addr(A6, 80)).unwrap();
    let (server, peer) = listener.accept().unwrap();
    assert_eq!(peer.ip(), B6.parse::<std::net::IpAddr>().unwrap());
    client.write_all(b"six").unwrap();
    let mut buf = [0; 3];
    (&server).read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"six");
}

#[test]
fn the_listener_is_readable_exactly_while_a_connection_waits() {
    let (a, b) = pair();
    let listener = TcpListener::bind(&a, addr(A4, 22)).unwrap();
    assert_eq!(revents(&listener), Events::empty());
    let _c1 = TcpStream::connect(&b, addr(A4, 22)).unwrap();
    assert!(wait_for(&listener, Events::IN).contains(Events::IN));
    let (_s1, _) = listener.accept().unwrap();
    assert_eq!(revents(&listener), Events::empty());
    listener.set_nonblocking(true);
    assert!(matches!(listener.accept(), Err(Error::WouldBlock)));
}

#[test]
fn a_stream_shows_in_while_data_waits_and_out_while_there_is_room() {
    let (_a, _b, _l, client, server) = connected(23);
    assert_eq!(revents(&server), Events::OUT);
    client.write_all(b"x").unwrap();
    assert_eq!(wait_for(&server, Events::IN), Events::IN | Events::OUT);
    let mut buf = [0; 8];
    assert_eq!(server.read(&mut buf).unwrap(), 1);
    assert_eq!(revents(&server), Events::OUT);
    server.set_nonblocking(true);
    assert!(matches!(server.read(&mut buf), Err(Error::WouldBlock)));
}

#[test]
fn a_full_send_buffer_clears_out_until_the_peer_reads() {
    let (_a, _b, _l, client, server) = connected(24);
    client.set_nonblocking(true);
    let chunk = [7u8; 16 << 10];
    let mut sent = 0;
    // Fill our send buffer and the peer's receive buffer.
    loop {
        match client.write(&chunk) {
            Ok(n) => sent += n,
            Err(Error::WouldBlock) => {
                // The stack may still be draining into the link: wait for
                // OUT to come back or stay away.
                if !wait_for(&client, Events::OUT).contains(Events::OUT) {
                    break;
                }
                if revents(&client).contains(Events::OUT) && client.write(&chunk).is_err() {
                    break;
                }
            }
            Err(e) => panic!("{e}"),
        }
        if !revents(&client).contains(Events::OUT) && sent > 0 {
            // Stalled: the peer's window is shut.
            std::thread::sleep(std::time::Duration::from_millis(200));
            if !revents(&client).contains(Events::OUT) {
                break;
            }
        }
    }
    assert!(
        !revents(&client).contains(Events::OUT),
        "a full buffer must clear OUT"
    );
    let mut drained = 0;
    let mut buf = vec![0; 64 << 10];
    while drained < sent {
        drained += server.read(&mut buf).unwrap();
        if wait_for(&client, Events::OUT).contains(Events::OUT) {
            break;
        }
    }
    assert!(
        revents(&client).contains(Events::OUT),
        "room again must raise OUT"
    );
}

/// Both ends send 40 KiB and shut down without reading: they end in
/// TIME-WAIT or closed, without their sockets. What arrived
/// is still read, in full, then the end (the stack once freed it with
/// the socket).
#[test]
fn data_not_yet_read_when_the_connection_ends_is_still_read() {
    const LEN: usize = 40 << 10;
    let (a, b, _l, client, server) = connected(10);
    let (up, down) = (pattern(LEN, 3), pattern(LEN, 4));
    client.write_all(&up).unwrap();
    server.write_all(&down).unwrap();
    client.shutdown(Shutdown::Write).unwrap();
    server.shutdown(Shutdown::Write).unwrap();
    assert!(
        eventually(std::time::Duration::from_secs(10), || {
            a.stats().sockets == 0 && b.stats().sockets == 0
        }),
        "both connections ended: {:?} {:?}",
        a.stats(),
        b.stats()
    );
    // One ends in TIME-WAIT, or both (a simultaneous close).
    let time_wait = b.stats().time_wait + a.stats().time_wait;
    assert!((1..=2).contains(&time_wait), "{time_wait} in TIME-WAIT");
    for (stream, sent) in [(&server, &up), (&client, &down)] {
        assert!(shown(revents(stream)).contains(Events::IN | Events::HUP));
        let mut got = Vec::new();
        let mut reader = stream;
        reader.read_to_end(&mut got).unwrap();
        assert_eq!((got.len(), fnv(&got)), (LEN, fnv(sent)));
    }
}

#[test]
fn the_peers_fin_shows_in_rdhup_then_reads_end() {
    let (_a, _b, _l, client, server) = connected(25);
    client.write_all(b"last").unwrap();
    client.shutdown(Shutdown::Write).unwrap();
    let mask = wait_for(&server, Events::IN | Events::RDHUP);
    assert_eq!(mask & !Events::OUT, Events::IN | Events::RDHUP);
    let mut all = Vec::new();
    (&server).read_to_end(&mut all).unwrap();
    assert_eq!(all, b"last");
    assert_eq!(server.read(&mut [0; 4]).unwrap(), 0);
    // The server may still send: half-close.
    server.write_all(b"reply").unwrap();
    let mut reply = [0; 5];
    (&client).read_exact(&mut reply).unwrap();
    assert_eq!(&reply, b"reply");
    // Both directions closed: HUP on both sides.
    server.shutdown(Shutdown::Write).unwrap();
    assert!(wait_for(&client, Events::HUP).contains(Events::HUP | Events::IN | Events::RDHUP));
    assert!(wait_for(&server, Events::HUP).contains(Events::HUP));
    assert!(matches!(server.write(b"late"), Err(Error::BrokenPipe)));
}

#[test]
fn a_refused_connect_says_so() {
    let (_a, b) = pair();
    let err = TcpStream::connect(&b, addr(A4, 9999)).unwrap_err();
    assert!(matches!(err, Error::ConnectionRefused), "{err}");
    assert_eq!(
        std::io::Error::from(err).kind(),
        std::io::ErrorKind::ConnectionRefused
    );
}

#[test]
fn a_connect_in_progress_is_neither_readable_nor_writable() {
    let (_a, b) = pair();
    // No host answers 10.9.0.99 (its ARP request goes unanswered), so the
    // connection stays in progress for as long as the test looks.
    let s = TcpStream::connect_nonblocking(&b, addr("10.9.0.99", 80)).unwrap();
    assert!(poll_main(&s, Events::IN | Events::OUT, 200).is_empty());
}

#[test]
fn a_refused_nonblocking_connect_shows_err_hup_until_taken() {
    let (_a, b) = pair();
    let s = TcpStream::connect_nonblocking(&b, addr(A4, 9998)).unwrap();
    // The refusal may already be back: the other stack runs on its own thread.
    let mask = wait_for(&s, Events::HUP);
    assert_eq!(
        mask,
        shown(Events::ERR | Events::HUP | Events::IN | Events::RDHUP | Events::OUT)
    );
    assert!(matches!(
        s.take_error().unwrap(),
        Some(Error::ConnectionRefused)
    ));
    assert!(
        !revents(&s).contains(Events::ERR),
        "taking the error clears ERR"
    );
    assert!(s.take_error().unwrap().is_none());
}

#[test]
fn a_reset_shows_err_hup_and_the_next_read_says_reset() {
    let (_a, _b, _l, client, server) = connected(26);
    server.write_all(b"unread").unwrap();
    // The client never reads: dropping it resets the connection.
    assert!(wait_for(&client, Events::IN).contains(Events::IN));
    drop(client);
    let mask = wait_for(&server, Events::HUP);
    assert_eq!(
        mask,
        shown(Events::ERR | Events::HUP | Events::IN | Events::RDHUP | Events::OUT)
    );
    assert!(matches!(
        server.read(&mut [0; 8]),
        Err(Error::ConnectionReset)
    ));
    assert_eq!(server.read(&mut [0; 8]).unwrap(), 0);
    assert!(matches!(server.write(b"x"), Err(Error::BrokenPipe)));
}

#[test]
fn a_reader_blocked_when_the_peer_closes_wakes_with_eof() {
    let (_a, _b, _l, client, server) = connected(27);
    thread::scope(|s| {
        let reader = spawn_asleep(s, || server.read(&mut [0; 16]));
        client.shutdown(Shutdown::Both).unwrap();
        assert_eq!(reader.join().unwrap().unwrap(), 0);
    });
}

#[test]
fn a_reader_blocked_when_the_stack_stops_wakes_with_an_error() {
    let (a, _b, _l, _client, server) = connected(28);
    thread::scope(|s| {
        let reader = spawn_asleep(s, || server.read(&mut [0; 16]));
        drop(a);
        assert!(matches!(reader.join().unwrap(), Err(Error::StackClosed)));
    });
    assert!(revents(&server).contains(Events::HUP));
}

#[test]
fn read_timeouts_expire() {
    let (_a, _b, _l, _client, server) = connected(29);
    server
        .set_read_timeout(Some(std::time::Duration::from_millis(50)))
        .unwrap();
    assert!(matches!(server.read(&mut [0; 1]), Err(Error::TimedOut)));
    assert!(server
        .set_read_timeout(Some(std::time::Duration::ZERO))
        .is_err());
}

#[test]
fn an_idle_connection_costs_no_mask_updates() {
    let (a, b, _l, client, server) = connected(30);
    client.write_all(b"x").unwrap();
    let mut buf = [0; 1];
    (&server).read_exact(&mut buf).unwrap();
    // Some half second within ten has no update (the delayed ACK and such
    // settle first); a stack that updates idle masks has none.
    let counts = || (a.stats().mask_updates, b.stats().mask_updates);
    let quiet = (0..20).any(|_| {
        let before = counts();
        thread::sleep(std::time::Duration::from_millis(500));
        counts() == before
    });
    assert!(quiet, "mask updates on an idle connection: {:?}", counts());
}

#[test]
fn addresses_are_checked() {
    let (a, b) = pair();
    let e = TcpListener::bind(&a, addr("10.9.0.77", 80)).unwrap_err();
    assert!(matches!(e, Error::AddrNotAvailable { .. }), "{e}");
    let _l = TcpListener::bind(&a, addr("0.0.0.0", 80)).unwrap();
    let e = TcpListener::bind(&a, addr(A4, 80)).unwrap_err();
    assert!(matches!(e, Error::AddrInUse { .. }), "{e}");
    let e = TcpStream::connect(&b, addr("192.168.77.1", 80)).unwrap_err();
    assert!(matches!(e, Error::Unreachable { .. }), "{e}");
    let e = TcpStream::connect(&b, addr("0.0.0.0", 80)).unwrap_err();
    assert!(matches!(e, Error::InvalidAddress { .. }), "{e}");
    let (l, _) = vpoll_netstack::Link::pair().unwrap();
    let e = vpoll_netstack::Stack::builder(l)
        .address("10.0.0.1".parse().unwrap(), 33)
        .start()
        .unwrap_err();
    assert!(matches!(e, Error::InvalidAddress { .. }), "{e}");
    let (l, _) = vpoll_netstack::Link::pair().unwrap();
    let e = vpoll_netstack::Stack::builder(l)
        .address("10.0.0.1".parse().unwrap(), 24)
        .gateway("10.1.0.1".parse().unwrap())
        .start()
        .unwrap_err();
    assert!(matches!(e, Error::InvalidAddress { .. }), "{e}");
}

#[test]
fn what_was_written_before_the_stack_is_dropped_still_arrives() {
    let (a, b, _l, client, server) = connected(32);
    let data = pattern(256 << 10, 3);
    thread::scope(|s| {
        let reader = s.spawn(|| {
            let mut all = Vec::new();
            (&server).read_to_end(&mut all).unwrap();
            all
        });
        client.write_all(&data).unwrap();
        client.shutdown(Shutdown::Write).unwrap();
        drop(client);
        // The client's stack lingers until the data and FIN are acknowledged.
        drop(b);
        assert!(reader.join().unwrap() == data);
    });
    drop(a);
}

#[test]
fn a_tap_that_cannot_be_made_is_a_typed_error() {
    for name in ["", "a-name-longer-than-15", "nul\0name"] {
        let e = vpoll_netstack::Link::tap(name).unwrap_err();
        assert!(matches!(e, Error::Tap { .. }), "{name:?}: {e}");
        assert_eq!(
            std::io::Error::from(e).kind(),
            std::io::ErrorKind::InvalidInput
        );
    }
}

#[test]
fn a_reset_after_the_peers_fin_still_reads_as_the_end() {
    let (_a, _b, _l, client, server) = connected(34);
    server.write_all(b"never read").unwrap();
    assert!(wait_for(&client, Events::IN).contains(Events::IN));
    client.shutdown(Shutdown::Write).unwrap();
    assert!(wait_for(&server, Events::RDHUP).contains(Events::RDHUP));
    // Unread data: dropping the client resets the connection after its FIN.
    drop(client);
    let mask = wait_for(&server, Events::HUP);
    assert_eq!(
        mask,
        shown(Events::ERR | Events::HUP | Events::IN | Events::RDHUP | Events::OUT)
    );
    // As Linux (tcp_reset in CLOSE_WAIT: EPIPE; reads see the FIN first).
    assert_eq!(server.read(&mut [0; 8]).unwrap(), 0);
    assert!(matches!(server.write(b"x"), Err(Error::BrokenPipe)));
}

/// How much a program can write to a peer that reads nothing: the send
/// buffer plus the peer's receive window.
fn writable_until_blocked(stream: &TcpStream) -> usize {
    stream.set_nonblocking(true);
    let chunk = [7u8; 1024];
    let (mut total, mut idle) = (0, 0);
    while idle < 20 {
        match stream.write(&chunk) {
            Ok(n) => {
                total += n;
                idle = 0;
            }
            Err(Error::WouldBlock) => {
                idle += 1;
                thread::sleep(std::time::Duration::from_millis(10));
            }
            Err(e) => panic!("write: {e}"),
        }
    }
    total
}

/// A socket's own buffers: the client's send buffer and, through the
/// listener, the accepted connection's receive buffer, as `SO_SNDBUF` and
/// an inherited `SO_RCVBUF` would set them.
#[test]
fn a_sockets_own_buffers_bound_what_it_holds() {
    let (a, b) = pair();
    let socket = TcpSocket::new(&a);
    socket.set_recv_buffer_size(8 << 10).unwrap();
    socket.bind(addr(A4, 11)).unwrap();
    let listener = socket.listen(16).unwrap();
    let client = TcpSocket::new(&b);
    client.set_send_buffer_size(16 << 10).unwrap();
    assert_eq!(
        (client.send_buffer_size(), client.recv_buffer_size()),
        (16 << 10, 64 << 10),
        "the other one is the stack's"
    );
    let client = client.connect(addr(A4, 11)).unwrap();
    let (_server, _) = listener.accept().unwrap();
    let held = writable_until_blocked(&client);
    assert_eq!(held, (16 + 8) << 10, "send buffer and the peer's window");

    // The stack's own, for comparison: 64 KiB each (a window one byte
    // short of 64 KiB, 65,535, when it goes unscaled).
    let (_a, _b, _l, client, _server) = connected(12);
    let held = writable_until_blocked(&client);
    assert!(((128 << 10) - 1..=128 << 10).contains(&held), "{held}");
}

#[test]
fn socket_options_out_of_range_or_out_of_order_are_refused() {
    let (a, _b) = pair();
    let socket = TcpSocket::new(&a);
    for size in [0, 100, 65 << 20] {
        let e = socket.set_recv_buffer_size(size).unwrap_err();
        assert_eq!(
            std::io::Error::from(e).kind(),
            std::io::ErrorKind::InvalidInput
        );
        assert!(socket.set_send_buffer_size(size).is_err());
    }
    assert_eq!(socket.recv_buffer_size(), 64 << 10, "unchanged");
    assert!(matches!(socket.listen(1), Err(Error::InvalidInput { .. })));
    let socket = TcpSocket::new(&a);
    socket.bind(addr(A4, 13)).unwrap();
    assert!(matches!(
        socket.connect(addr(B4, 13)),
        Err(Error::InvalidInput { .. })
    ));
}
