// SPDX-License-Identifier: MIT OR Apache-2.0

//! A million mutated frames at a stack with a listener, a connection and a
//! UDP socket: no panic, nothing held, and it still serves afterwards.
//! `VPOLL_FUZZ_SEED` replays a run (each run prints its seed);
//! `VPOLL_FUZZ_FRAMES` sets how many frames.

mod common;

use std::io::Read;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use common::raw::RawConn;
use common::*;
use smoltcp::wire::TcpControl;
use vpoll_netstack::{TcpListener, UdpSocket};

const STACK: Ipv4Addr = Ipv4Addr::new(10, 9, 0, 1);
const PEER: Ipv4Addr = Ipv4Addr::new(10, 9, 0, 2);

#[test]
fn a_million_mutated_frames_leave_the_stack_serving() {
    let frames: u64 = std::env::var("VPOLL_FUZZ_FRAMES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000);
    let seed = seed_from("VPOLL_FUZZ_SEED");
    eprintln!("fuzz: {frames} frames, VPOLL_FUZZ_SEED={seed}");
    let mut rng = Rng(seed);

    let (stack, mut peer) = raw_pair(|b| {
        b.synack_timeout(Duration::from_secs(1))
            .fin_timeout(Duration::from_secs(2))
    });
    let listener = TcpListener::bind(&stack, addr(A4, 80)).unwrap();
    let udp = UdpSocket::bind(&stack, addr(A4, 53)).unwrap();
    udp.set_nonblocking(true);
    let (conn, _) = RawConn::open(
        &mut peer,
        PEER,
        40000,
        STACK,
        80,
        1,
        Duration::from_secs(1),
        Duration::from_secs(5),
    )
    .expect("a connection to fuzz");
    let (server, _) = listener.accept().unwrap();
    server.set_nonblocking(true);

    // Frames the stack understands, to mutate: a SYN, the connection's
    // data, ACK, FIN and RST, a UDP datagram, an ARP request.
    let mut templates = vec![
        peer.tcp_frame(PEER, 41000, STACK, 80, TcpControl::Syn, 77, None, &[]),
        peer.tcp_frame(
            PEER,
            40000,
            STACK,
            80,
            TcpControl::Psh,
            conn.snd,
            Some(conn.rcv),
            b"data!",
        ),
        peer.tcp_frame(
            PEER,
            40000,
            STACK,
            80,
            TcpControl::None,
            conn.snd,
            Some(conn.rcv),
            &[],
        ),
        peer.tcp_frame(
            PEER,
            40000,
            STACK,
            80,
            TcpControl::Fin,
            conn.snd,
            Some(conn.rcv),
            &[],
        ),
        peer.tcp_frame(PEER, 40000, STACK, 80, TcpControl::Rst, conn.snd, None, &[]),
    ];
    let mut udp_frame = templates[2].clone();
    udp_frame[23] = 17; // IP protocol: UDP (the checksums are mutated anyway)
    templates.push(udp_frame);
    let started = Instant::now();
    for i in 0..frames {
        let mut frame = templates[rng.below(templates.len())].clone();
        for _ in 0..1 + rng.below(4) {
            let at = rng.below(frame.len());
            frame[at] = rng.next() as u8;
        }
        match rng.below(8) {
            0 => frame.truncate(rng.below(frame.len()).max(1)),
            1 => frame.extend((0..rng.below(64)).map(|_| rng.next() as u8)),
            _ => {}
        }
        peer.send(&frame);
        if i % 256 == 0 {
            peer.drain();
            // What the mutations delivered is read, as a program would.
            let _ = server.read(&mut [0; 512]);
            let _ = udp.recv_from(&mut [0; 512]);
        }
    }
    eprintln!("fuzz: sent in {:?}; {:?}", started.elapsed(), stack.stats());

    // Still serving: a new connection carries data both ways.
    let (fresh, _) = RawConn::open(
        &mut peer,
        PEER,
        45000,
        STACK,
        80,
        9,
        Duration::from_secs(1),
        Duration::from_secs(10),
    )
    .expect("the stack still answers a SYN");
    let accepted = loop {
        match listener.accept() {
            Ok((s, from)) if from.port() == 45000 => break s,
            Ok(_) => continue,
            Err(e) => panic!("accept: {e}"),
        }
    };
    fresh.send(&mut peer, TcpControl::Psh, b"alive");
    let mut buf = [0; 5];
    accepted
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    (&accepted).read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"alive");
    // Nothing the fuzzing opened is held once its timers pass (the peer
    // reads what the stack sends meanwhile, as a live link does).
    drop(accepted);
    drop(server);
    assert!(
        eventually(Duration::from_secs(30), || {
            peer.drain();
            stack.stats().sockets == 1
        }),
        "left: {:?}",
        stack.stats()
    );
}
