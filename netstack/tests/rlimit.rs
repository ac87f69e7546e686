// SPDX-License-Identifier: MIT OR Apache-2.0

//! At the fd limit (`EMFILE`) accept and connect fail cleanly and leave
//! nothing behind: the connection waits to be accepted later, and no local
//! port is lost. Alone in its binary: the limit is the whole process's.

mod common;

use std::io::Read;

use common::*;
use nix::sys::resource::{getrlimit, setrlimit, Resource};
use vpoll_netstack::{TcpListener, TcpStream};

#[test]
fn at_the_fd_limit_accept_and_connect_fail_and_lose_nothing() {
    let (a, b) = pair();
    let listener = TcpListener::bind(&a, addr(A4, 90)).unwrap();
    let client = TcpStream::connect(&b, addr(A4, 90)).unwrap();
    assert!(eventually(std::time::Duration::from_secs(5), || revents(
        &listener
    )
    .contains(vpoll_netstack::Events::IN)));

    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    // Every fd number up to the limit taken: no new fd can be had.
    setrlimit(Resource::RLIMIT_NOFILE, open_fds() as u64 + 16, hard).unwrap();
    let mut hogs = Vec::new();
    while let Ok(f) = std::fs::File::open("/dev/null") {
        hogs.push(f);
    }
    let refused = listener.accept();
    assert!(refused.is_err(), "accept without an fd to give");
    assert_ne!(
        refused.as_ref().err().map(|e| e.kind()),
        Some(std::io::ErrorKind::WouldBlock)
    );
    // More failed connects than there are ephemeral ports (28,232).
    for _ in 0..30_000 {
        assert!(TcpStream::connect_nonblocking(&b, addr(A4, 90)).is_err());
    }
    drop(hogs);
    setrlimit(Resource::RLIMIT_NOFILE, soft, hard).unwrap();

    // The connection waited in the queue, whole.
    let (mut server, peer) = listener.accept().expect("still there to accept");
    assert_eq!(peer, client.local_addr().unwrap());
    client.write_all(b"still here").unwrap();
    let mut buf = [0; 10];
    server.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"still here");
    // And the ports are free.
    let again = TcpStream::connect(&b, addr(A4, 90)).expect("no port was lost");
    drop(again);
}
