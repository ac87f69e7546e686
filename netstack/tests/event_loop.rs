// SPDX-License-Identifier: MIT OR Apache-2.0

//! One epoll loop serving a thousand connections, level- and edge-triggered,
//! as a server written for kernel sockets does.

mod common;

use std::collections::HashMap;
use std::os::fd::{AsFd, AsRawFd};

use common::*;
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use vpoll_netstack::{Error, TcpListener, TcpStream};

const N: usize = 1000;

/// Echoes on `port` until `N` connections have come and gone.
fn serve(listener: &TcpListener, edge: bool) {
    let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC).unwrap();
    let mode = if edge {
        EpollFlags::EPOLLET
    } else {
        EpollFlags::empty()
    };
    listener.set_nonblocking(true);
    epoll
        .add(
            listener.as_fd(),
            EpollEvent::new(EpollFlags::EPOLLIN | mode, u64::MAX),
        )
        .unwrap();
    let mut conns: HashMap<u64, TcpStream> = HashMap::new();
    let (mut accepted, mut closed) = (0, 0);
    let mut events = vec![EpollEvent::empty(); 256];
    while closed < N {
        let n = epoll
            .wait(&mut events, EpollTimeout::try_from(10_000).unwrap())
            .unwrap();
        assert!(
            n > 0,
            "no event in 10 s: {accepted} accepted, {closed} closed"
        );
        for ev in &events[..n] {
            if ev.data() == u64::MAX {
                // Edge-triggered: accept until the queue is empty.
                loop {
                    match listener.accept() {
                        Ok((s, _)) => {
                            s.set_nonblocking(true);
                            let key = s.as_raw_fd() as u64;
                            let flags = EpollFlags::EPOLLIN | EpollFlags::EPOLLRDHUP | mode;
                            epoll.add(s.as_fd(), EpollEvent::new(flags, key)).unwrap();
                            conns.insert(key, s);
                            accepted += 1;
                        }
                        Err(Error::WouldBlock) => break,
                        Err(e) => panic!("accept: {e}"),
                    }
                    if !edge {
                        break;
                    }
                }
                continue;
            }
            let conn = &conns[&ev.data()];
            let mut buf = [0; 256];
            let mut eof = false;
            loop {
                match conn.read(&mut buf) {
                    Ok(0) => {
                        eof = true;
                        break;
                    }
                    Ok(n) => conn.write_all(&buf[..n]).unwrap(),
                    Err(Error::WouldBlock) => break,
                    Err(e) => panic!("read: {e}"),
                }
                if !edge {
                    break;
                }
            }
            if eof {
                let conn = conns.remove(&ev.data()).unwrap();
                epoll.delete(conn.as_fd()).unwrap();
                closed += 1;
            }
        }
    }
    assert_eq!(accepted, N);
}

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
        serve(&listener, edge);
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
