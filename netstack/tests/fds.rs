// SPDX-License-Identifier: MIT OR Apache-2.0

//! No leaked file descriptor: alone in its process, so that the fds it
//! counts are the stacks' own and no other test's.

mod common;

use std::io::Read;

use common::*;
use vpoll_netstack::UdpSocket;

#[test]
fn nothing_leaks_an_fd() {
    let before = open_fds();
    {
        let (a, _b, _listener, client, server) = connected(31);
        client.write_all(b"x").unwrap();
        (&server).read_exact(&mut [0; 1]).unwrap();
        let _u = UdpSocket::bind(&a, addr(A4, 0)).unwrap();
        // The stack dropped before its sockets: what is left goes with the
        // last of them.
        drop(a);
    }
    assert_eq!(open_fds(), before);
}
