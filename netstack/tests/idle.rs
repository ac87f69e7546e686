// SPDX-License-Identifier: MIT OR Apache-2.0

//! No busy waiting: alone in its process, so that the CPU time it reads is
//! the stacks' own.

mod common;

use std::io::Read;
use std::thread;

use common::*;
use vpoll_netstack::Events;

fn cpu() -> std::time::Duration {
    let t = nix::time::clock_gettime(nix::time::ClockId::CLOCK_PROCESS_CPUTIME_ID).unwrap();
    std::time::Duration::new(t.tv_sec() as u64, t.tv_nsec() as u32)
}

/// The least CPU time the process used in a second of wall-clock time, over
/// up to five seconds, stopping at the first second under 20 ms: a loaded
/// machine (TCG, KASAN, a parallel build) may steal one second's quiet, but
/// a stack that spins or polls has none.
fn cpu_in_a_second() -> std::time::Duration {
    let mut least = std::time::Duration::MAX;
    for _ in 0..5 {
        let before = cpu();
        thread::sleep(std::time::Duration::from_secs(1));
        least = least.min(cpu() - before);
        if least < std::time::Duration::from_millis(20) {
            break;
        }
    }
    least
}

#[test]
fn an_idle_stack_sleeps() {
    let (a, b, listener, client, server) = connected(1);
    client.write_all(b"x").unwrap();
    (&server).read_exact(&mut [0; 1]).unwrap();
    // Let the delayed ACK and such go out.
    thread::sleep(std::time::Duration::from_millis(300));
    // Two stacks' threads with an established connection: no spinning, no
    // polling faster than smoltcp's timers ask.
    let used = cpu_in_a_second();
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
    let used = cpu_in_a_second();
    assert!(
        used < std::time::Duration::from_millis(20),
        "{used:?} of CPU in 1 s with the link's other end gone"
    );
    server.write_all(b"y").unwrap();
    drop((server, listener, a));
}
