// SPDX-License-Identifier: MIT OR Apache-2.0

//! One epoll loop serving a thousand connections, level- and edge-triggered,
//! as a server written for kernel sockets does.

mod common;

use common::*;
use vpoll_netstack::{TcpListener, TcpStream};

const N: usize = 1000;

/// `N` clients on the other stack, each sending its number and expecting it back.
fn clients(stack: &vpoll_netstack::Stack, port: u16) {
    std::thread::scope(|s| {
        for t in 0..4 {
            s.spawn(move || {
                let mine: Vec<_> = (t..N).step_by(4).collect();
                let streams: Vec<_> = mine
                    .iter()
                    .map(|_| TcpStream::connect(stack, addr(A4, port)).unwrap())
                    .collect();
                for (i, s) in mine.iter().zip(&streams) {
                    s.write_all(format!("<{i}>").as_bytes()).unwrap();
                }
                for (i, s) in mine.iter().zip(&streams) {
                    let want = format!("<{i}>");
                    let mut got = vec![0; want.len()];
                    std::io::Read::read_exact(&mut &*s, &mut got).unwrap();
                    assert_eq!(got, want.as_bytes());
                    s.shutdown(std::net::Shutdown::Write).unwrap();
                }
            });
        }
    });
}

fn run(edge: bool, port: u16) {
    let (a, b) = pair_with(|s| s.tcp_buffers(4 << 10, 4 << 10));
    let listener = TcpListener::bind_with_backlog(&a, addr(A4, port), N).unwrap();
    std::thread::scope(|s| {
        s.spawn(|| clients(&b, port));
        vpoll_tests::echo::epoll_echo_server(&listener, edge, N);
    });
}

#[test]
fn a_thousand_connections_level_triggered() {
    run(false, 5001);
}

#[test]
fn a_thousand_connections_edge_triggered() {
    run(true, 5002);
}
