// SPDX-License-Identifier: MIT OR Apache-2.0

//! A server's first hour: 100,000 connections accepted and closed, by the
//! client and by the server. What the stack holds afterwards must not grow
//! with the connections it has had: its socket slots (which every packet
//! walks), its sockets, its memory once TIME-WAIT is over, and the work a
//! live connection's exchange costs.
//!
//! The tests read the process's memory, so they take turns.

mod common;

use std::io::Read;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::*;
use vpoll_netstack::{Stack, TcpListener, TcpStream};

const CONNECTIONS: usize = 100_000;
/// Connections before the baseline is taken: what the churn keeps in
/// TIME-WAIT at once (about TIME_WAIT times the rate) and more.
const WARM_UP: usize = 10_000;
/// Connections open at once while churning.
const AT_ONCE: usize = 8;
const TIME_WAIT: Duration = Duration::from_millis(300);

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Resident memory of this process, in bytes.
fn rss() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

/// Round trips of one byte on a live connection: how long 2,000 take.
fn ping(client: &TcpStream, server: &TcpStream) -> Duration {
    let started = Instant::now();
    let mut buf = [0; 1];
    for _ in 0..2000 {
        client.write_all(b"p").unwrap();
        (&*server).read_exact(&mut buf).unwrap();
        server.write_all(b"q").unwrap();
        (&*client).read_exact(&mut buf).unwrap();
    }
    started.elapsed()
}

/// Opens and closes `count` connections, `AT_ONCE` at a time.
fn open_and_close(listener: &TcpListener, client_stack: &Stack, count: usize, server_closes: bool) {
    let mut done = 0;
    while done < count {
        let n = AT_ONCE.min(count - done);
        let clients: Vec<TcpStream> = (0..n)
            .map(|_| TcpStream::connect(client_stack, addr(A4, 80)).unwrap())
            .collect();
        for client in clients {
            let (server, _) = listener.accept().unwrap();
            let (first, second) = if server_closes {
                (server, client)
            } else {
                (client, server)
            };
            drop(first);
            // The other side sees the end, then closes too.
            assert_eq!(second.read(&mut [0; 1]).unwrap(), 0);
            drop(second);
        }
        done += n;
    }
}

fn churn(server_closes: bool) {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let (a, b) = pair_with(|s| s.time_wait(TIME_WAIT).tcp_buffers(16 << 10, 16 << 10));
    let listener = TcpListener::bind_with_backlog(&a, addr(A4, 80), AT_ONCE * 2).unwrap();
    // The live connection, and the stack as it is once it has served as
    // many connections at once as the churn will (its working set, which
    // the allocator keeps), and as many in TIME-WAIT.
    let live_client = TcpStream::connect(&b, addr(A4, 80)).unwrap();
    let (live_server, _) = listener.accept().unwrap();
    ping(&live_client, &live_server);
    open_and_close(&listener, &b, WARM_UP, server_closes);
    assert!(eventually(Duration::from_secs(10), || a.stats().time_wait
        + b.stats().time_wait
        == 0));
    let fresh = (
        a.stats(),
        b.stats(),
        rss(),
        ping(&live_client, &live_server),
    );

    let started = Instant::now();
    open_and_close(&listener, &b, CONNECTIONS, server_closes);
    let took = started.elapsed();
    let after_tw = eventually(Duration::from_secs(10), || {
        let (sa, sb) = (a.stats(), b.stats());
        sa.time_wait == 0 && sb.time_wait == 0 && sa.orphans == 0 && sb.orphans == 0
    });
    assert!(
        after_tw,
        "TIME-WAIT and orphans end: {:?} {:?}",
        a.stats(),
        b.stats()
    );
    let (sa, sb, memory, rtt) = (
        a.stats(),
        b.stats(),
        rss(),
        ping(&live_client, &live_server),
    );
    eprintln!(
        "{CONNECTIONS} connections closed by the {} in {took:?}; \
         server slots {} -> {}, client slots {} -> {}; \
         RSS {} -> {} KiB; 2,000 round trips {:?} -> {rtt:?}",
        if server_closes { "server" } else { "client" },
        fresh.0.socket_slots,
        sa.socket_slots,
        fresh.1.socket_slots,
        sb.socket_slots,
        fresh.2 >> 10,
        memory >> 10,
        fresh.3,
    );
    // What every packet walks: the connections open at once, not ever.
    for (before, after) in [(&fresh.0, &sa), (&fresh.1, &sb)] {
        assert_eq!(after.sockets, before.sockets, "{after:?}");
        assert!(
            after.socket_slots <= before.socket_slots + 2 * AT_ONCE as u64 + 2,
            "slots grew from {} to {}",
            before.socket_slots,
            after.socket_slots
        );
    }
    assert!(
        memory <= fresh.2 + (2 << 20),
        "RSS grew from {} to {} KiB",
        fresh.2 >> 10,
        memory >> 10
    );
    drop((a, b));
}

#[test]
fn a_hundred_thousand_client_closed_connections_leave_nothing_behind() {
    churn(false);
}

#[test]
fn a_hundred_thousand_server_closed_connections_leave_nothing_behind() {
    churn(true);
}
