// SPDX-License-Identifier: MIT OR Apache-2.0

//! No busy waiting: alone in its process, so that the CPU time it reads is
//! the stacks' own.

mod common;

use std::io::Read;
use std::thread;

use common::*;
use vpoll_netstack::{Events, TcpListener, TcpStream};

fn cpu() -> std::time::Duration {
    let t = nix::time::clock_gettime(nix::time::ClockId::CLOCK_PROCESS_CPUTIME_ID).unwrap();
    std::time::Duration::new(t.tv_sec() as u64, t.tv_nsec() as u32)
}

#[test]
fn an_idle_stack_sleeps() {
    let (a, b) = pair();
    let listener = TcpListener::bind(&a, addr(A4, 1)).unwrap();
    let client = TcpStream::connect(&b, addr(A4, 1)).unwrap();
    let (server, _) = listener.accept().unwrap();
    client.write_all(b"x").unwrap();
    (&server).read_exact(&mut [0; 1]).unwrap();
    // Let the delayed ACK and such go out.
    thread::sleep(std::time::Duration::from_millis(300));
    let before = cpu();
    thread::sleep(std::time::Duration::from_secs(1));
    // Two stacks' threads with an established connection: no spinning, no
    // polling faster than smoltcp's timers ask.
    let used = cpu() - before;
    assert!(
        used < std::time::Duration::from_millis(20),
        "{used:?} of CPU in 1 s idle"
    );

    // The other stack goes (its end of the link closes, which the link's fd
    // reports for good): the one left sleeps on, its connection intact, as
    // a host whose cable was pulled.
    drop(client);
    drop(b);
    assert!(wait_for(&server, Events::RDHUP).contains(Events::RDHUP));
    thread::sleep(std::time::Duration::from_millis(100));
    let before = cpu();
    thread::sleep(std::time::Duration::from_secs(1));
    let used = cpu() - before;
    assert!(
        used < std::time::Duration::from_millis(20),
        "{used:?} of CPU in 1 s with the link's other end gone"
    );
    server.write_all(b"y").unwrap();
    drop((server, listener, a));
}
