// SPDX-License-Identifier: MIT OR Apache-2.0

//! The user-level stack's echo server for the netstack suites (host and
//! guest): what a server written for kernel sockets does, on vpoll fds.

use std::collections::HashMap;
use std::os::fd::{AsFd, AsRawFd};

use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use vpoll_netstack::{Error, TcpListener, TcpStream};

/// Echoes every connection of `listener` through one epoll loop, level- or
/// edge-triggered as a server for kernel sockets would, until `n` have come
/// and gone; panics if 30 s pass without an event.
pub fn epoll_echo_server(listener: &TcpListener, edge: bool, n: usize) {
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
    while closed < n {
        let n = epoll
            .wait(&mut events, EpollTimeout::try_from(30_000).unwrap())
            .unwrap();
        assert!(
            n > 0,
            "no event in 30 s: {accepted} accepted, {closed} closed"
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
    assert_eq!(accepted, n);
}
