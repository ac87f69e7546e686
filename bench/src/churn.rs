// SPDX-License-Identifier: MIT OR Apache-2.0

//! N3, churn: what a user-level stack owes a server after its first hour.
//! Two stacks over a socket-pair link in this process: requests per second
//! on one live connection, on a fresh stack and after `churn` connections
//! were accepted and closed by their clients; and the heap one idle
//! established connection holds, against one in TIME-WAIT.
#![allow(unsafe_code)] // raw system calls on the fds it measures

use std::io::Read;
use std::time::Instant;

use vpoll_netstack::{Link, Stack, TcpListener, TcpStream};

/// N3's figures.
#[derive(Debug, Clone, Copy)]
pub struct Churn {
    /// Requests per second on the live connection, fresh.
    pub fresh: f64,
    /// The same after the churn.
    pub after: f64,
    /// Heap bytes per idle established connection (one end).
    pub established: f64,
    /// Heap bytes per connection in TIME-WAIT.
    pub time_wait: f64,
}

/// Heap bytes in use (glibc's `mallinfo2`): what the program holds, not
/// what the allocator keeps for later.
fn heap() -> f64 {
    // SAFETY: mallinfo2 only reads the allocator's counters.
    let info = unsafe { libc::mallinfo2() };
    (info.uordblks + info.hblkhd) as f64
}

fn requests_per_second(client: &TcpStream, server: &TcpStream, rounds: usize) -> f64 {
    let (mut c, mut s) = (client, server);
    let (mut req, mut resp) = ([1u8; 64], [0u8; 64]);
    let started = Instant::now();
    for _ in 0..rounds {
        c.write_all(&req).expect("request");
        s.read_exact(&mut resp).expect("request in");
        s.write_all(&resp).expect("response");
        c.read_exact(&mut req).expect("response in");
    }
    rounds as f64 / started.elapsed().as_secs_f64()
}

/// Connects refused and tried again (an open bug: a connect from a port
/// whose earlier connection the server still holds in TIME-WAIT is
/// sometimes refused); printed with the result.
static REFUSED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

fn open(listener: &TcpListener, stack: &Stack, at: std::net::SocketAddr) -> (TcpStream, TcpStream) {
    let client = loop {
        match TcpStream::connect(stack, at) {
            Err(vpoll_netstack::Error::ConnectionRefused) => {
                REFUSED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            other => break other.expect("connect"),
        }
    };
    let (server, _) = listener.accept().expect("accept");
    (client, server)
}

/// Measures N3 with `churn` connections, `rounds` requests per measure,
/// the median of `runs` measures each.
pub fn churn(churn: usize, rounds: usize, runs: usize) -> Churn {
    let (la, lb) = Link::pair().expect("a link pair");
    let server = Stack::builder(la)
        .address("10.3.0.1".parse().expect("an address"), 24)
        .start()
        .expect("the server's stack");
    // The client's TIME-WAIT holds its port: short, or a hundred thousand
    // connections to one server port would use up the ephemeral ports, as
    // they would on Linux.
    let client = Stack::builder(lb)
        .address("10.3.0.2".parse().expect("an address"), 24)
        .time_wait(std::time::Duration::from_secs(1))
        .start()
        .expect("the client's stack");
    let at: std::net::SocketAddr = "10.3.0.1:80".parse().expect("an address");
    let listener = TcpListener::bind(&server, at).expect("listen");
    let (live_client, live_server) = open(&listener, &client, at);
    let median = |f: &mut dyn FnMut() -> f64| {
        let mut v: Vec<f64> = (0..runs).map(|_| f()).collect();
        crate::measure::median(&mut v)
    };
    // Idle established connections: the heap they hold, per end.
    const IDLE: usize = 1000;
    let before = heap();
    let idle: Vec<_> = (0..IDLE).map(|_| open(&listener, &client, at)).collect();
    let established = (heap() - before) / (2 * IDLE) as f64;
    drop(idle);

    // TIME-WAIT: the server closes first, the client then; what is left
    // once the client's side is gone is the server's TIME-WAIT.
    let settle = |want: &dyn Fn() -> bool| {
        let deadline = Instant::now() + std::time::Duration::from_secs(30);
        while !want() && Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    };
    settle(&|| server.stats().sockets == 1 && client.stats().sockets == 1);
    const TW: usize = 1000;
    let before = heap();
    for _ in 0..TW {
        let (c, s) = open(&listener, &client, at);
        drop(s);
        assert_eq!(c.read(&mut [0; 1]).expect("the end"), 0);
    }
    settle(&|| server.stats().time_wait == TW as u64 && client.stats().sockets == 1);
    let time_wait = (heap() - before) / TW as f64;

    // Fresh: a stack that has served no more than a thousand connections.
    requests_per_second(&live_client, &live_server, rounds / 10 + 1);
    let fresh = median(&mut || requests_per_second(&live_client, &live_server, rounds));

    // The churn: connections accepted and closed by their clients.
    for _ in 0..churn {
        let (c, s) = open(&listener, &client, at);
        drop(c);
        assert_eq!(s.read(&mut [0; 1]).expect("the end"), 0);
    }
    settle(&|| server.stats().sockets == 1);
    let after = median(&mut || requests_per_second(&live_client, &live_server, rounds));
    eprintln!(
        "N3: {} of {} connects refused and tried again",
        REFUSED.load(std::sync::atomic::Ordering::Relaxed),
        churn + IDLE + TW
    );
    Churn {
        fresh,
        after,
        established,
        time_wait,
    }
}
