// SPDX-License-Identifier: MIT OR Apache-2.0

//! The tokio types against `tokio::net`'s contract: readiness and the
//! `try_` calls, halves, vectored writes, peeking, options, shutdown after
//! a reset, `TcpSocket` and `UdpSocket`.

mod common;

use std::io::{ErrorKind, IoSlice};
use std::time::Duration;

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt, Interest};
use vpoll_netstack::tokio::{TcpListener, TcpSocket, TcpStream, UdpSocket};
use vpoll_netstack::{Error, Stack};

async fn connected(a: &Stack, b: &Stack, port: u16) -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind(a, addr(A4, port)).unwrap();
    let client = TcpStream::connect(b, addr(A4, port)).await.unwrap();
    let (server, peer) = listener.accept().await.unwrap();
    assert_eq!(peer, client.local_addr().unwrap());
    assert_eq!(server.local_addr().unwrap(), addr(A4, port));
    assert_eq!(client.peer_addr().unwrap(), addr(A4, port));
    (client, server)
}

/// The tokio idiom `readable().await` then `try_read`: a `try_read` that
/// would block clears the readiness, so the loop sleeps instead of spinning.
#[tokio::test(flavor = "current_thread")]
async fn readable_and_try_read_wait_without_spinning() {
    let (a, b) = pair();
    let (client, server) = connected(&a, &b, 20).await;
    let reader = tokio::spawn(async move {
        let (mut wakeups, mut got) = (0, Vec::new());
        let mut buf = [0; 64];
        loop {
            server.readable().await.unwrap();
            wakeups += 1;
            match server.try_read(&mut buf) {
                Ok(0) => return (wakeups, got),
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == ErrorKind::WouldBlock => continue,
                Err(e) => panic!("try_read: {e}"),
            }
        }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(client.try_write(b"hello").unwrap(), 5);
    tokio::time::sleep(Duration::from_millis(200)).await;
    client.writable().await.unwrap();
    drop(client);
    let (wakeups, got) = reader.await.unwrap();
    assert_eq!(got, b"hello");
    assert!(
        wakeups <= 6,
        "{wakeups} wakeups for one message and the end: it spins"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn try_read_with_nothing_there_would_block() {
    let (a, b) = pair();
    let (_client, server) = connected(&a, &b, 21).await;
    let e = server.try_read(&mut [0; 8]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::WouldBlock);
    let ready = server.ready(Interest::WRITABLE).await.unwrap();
    assert!(ready.is_writable() && !ready.is_readable());
}

/// Owned halves in two tasks; dropping the write half sends the FIN;
/// halves of one stream reunite, of two streams do not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owned_halves_work_from_two_tasks_and_reunite() {
    let (a, b) = pair();
    let (client, mut server) = connected(&a, &b, 22).await;
    let (mut rd, mut wr) = client.into_split();
    let writer = tokio::spawn(async move {
        wr.write_all(&pattern(256 << 10, 5)).await.unwrap();
        drop(wr);
    });
    // The server echoes until the end, then closes its side.
    let echo = tokio::spawn(async move {
        let (mut r, mut w) = server.split();
        tokio::io::copy(&mut r, &mut w).await.unwrap();
        w.shutdown().await.unwrap();
    });
    let mut back = Vec::new();
    rd.read_to_end(&mut back).await.unwrap();
    writer.await.unwrap();
    echo.await.unwrap();
    assert_eq!(fnv(&back), fnv(&pattern(256 << 10, 5)));

    let (c1, _s1) = connected(&a, &b, 23).await;
    let (c2, _s2) = connected(&a, &b, 24).await;
    let (r1, w1) = c1.into_split();
    let (r2, w2) = c2.into_split();
    let vpoll_netstack::tokio::ReuniteError(r1, w2) = r1.reunite(w2).unwrap_err();
    let c1 = r1.reunite(w1).expect("its own halves");
    let c2 = w2.reunite(r2).expect("its own halves");
    assert_ne!(c1.local_addr().unwrap(), c2.local_addr().unwrap());
}

/// Several buffers go in one call, in order.
#[tokio::test(flavor = "current_thread")]
async fn vectored_writes_take_every_buffer_in_one_call() {
    let (a, b) = pair();
    let (mut client, mut server) = connected(&a, &b, 25).await;
    assert!(tokio::io::AsyncWrite::is_write_vectored(&client));
    let parts: [&[u8]; 3] = [b"GET / HTTP/1.1\r\n", b"Host: x\r\n", b"\r\n"];
    let slices: Vec<IoSlice> = parts.iter().map(|p| IoSlice::new(p)).collect();
    let n = client.write_vectored(&slices).await.unwrap();
    assert_eq!(n, parts.iter().map(|p| p.len()).sum::<usize>());
    let mut got = vec![0; n];
    server.read_exact(&mut got).await.unwrap();
    assert_eq!(got, parts.concat());
}

#[tokio::test(flavor = "current_thread")]
async fn peek_leaves_the_data_for_the_next_read() {
    let (a, b) = pair();
    let (mut client, mut server) = connected(&a, &b, 26).await;
    client.write_all(b"peekaboo").await.unwrap();
    let mut buf = [0; 4];
    assert_eq!(server.peek(&mut buf).await.unwrap(), 4);
    assert_eq!(&buf, b"peek");
    let mut all = [0; 8];
    server.read_exact(&mut all).await.unwrap();
    assert_eq!(&all, b"peekaboo");
}

/// Options read back as set; a TTL out of range is refused; a zero
/// linger makes dropping the stream a reset the peer sees.
#[tokio::test(flavor = "current_thread")]
async fn options_read_back_and_a_zero_linger_resets() {
    let (a, b) = pair();
    let (client, mut server) = connected(&a, &b, 27).await;
    assert!(client.nodelay().unwrap(), "on by default");
    client.set_nodelay(false).unwrap();
    assert!(!client.nodelay().unwrap());
    assert_eq!(client.ttl().unwrap(), 64);
    client.set_ttl(5).unwrap();
    assert_eq!(client.ttl().unwrap(), 5);
    assert!(matches!(client.set_ttl(0), Err(Error::InvalidInput { .. })));
    assert!(matches!(
        client.set_ttl(256),
        Err(Error::InvalidInput { .. })
    ));
    assert_eq!(client.linger().unwrap(), None);
    client.set_linger(Some(Duration::ZERO)).unwrap();
    assert_eq!(client.linger().unwrap(), Some(Duration::ZERO));
    drop(client);
    let e = server.read(&mut [0; 8]).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ConnectionReset);
}

/// As `tokio::net`: shutting down a connection the peer has reset is not
/// an error (hyper shuts every connection it is done with).
#[tokio::test(flavor = "current_thread")]
async fn shutdown_after_a_reset_succeeds() {
    let (a, b) = pair();
    let (client, mut server) = connected(&a, &b, 28).await;
    client.set_linger(Some(Duration::ZERO)).unwrap();
    drop(client);
    server.readable().await.unwrap();
    assert!(matches!(
        server.take_error(),
        Ok(Some(Error::ConnectionReset))
    ));
    server.shutdown().await.expect("shutdown after a reset");
}

#[tokio::test(flavor = "current_thread")]
async fn a_tcp_socket_sets_buffers_then_listens_or_connects() {
    let (a, b) = pair();
    let socket = TcpSocket::new(&a);
    socket.set_recv_buffer_size(8 << 10).unwrap();
    assert_eq!(socket.recv_buffer_size().unwrap(), 8 << 10);
    socket.bind(addr(A4, 29)).unwrap();
    let listener = socket.listen(8).unwrap();
    let socket = TcpSocket::new(&b);
    socket.set_send_buffer_size(16 << 10).unwrap();
    let client = socket.connect(addr(A4, 29)).await.unwrap();
    let (_server, _) = listener.accept().await.unwrap();
    // What a peer that reads nothing lets it write: its send buffer and
    // the server's window. (Written past the readiness, which, as a kernel
    // socket's, comes back only once a third of the buffer is free.)
    let (mut total, mut idle) = (0, 0);
    let chunk = [1u8; 1024];
    while idle < 20 {
        match client.get_ref().write(&chunk) {
            Ok(n) => {
                total += n;
                idle = 0;
            }
            Err(Error::WouldBlock) => {
                idle += 1;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(total, (16 + 8) << 10);
}

#[tokio::test(flavor = "current_thread")]
async fn the_listener_polls_accepts_and_goes_back_to_std() {
    let (a, b) = pair();
    let listener = TcpListener::bind(&a, addr(A4, 30)).unwrap();
    let connect = tokio::spawn({
        let b = std::sync::Arc::new(b);
        async move { TcpStream::connect(&b, addr(A4, 30)).await.map(drop) }
    });
    let (stream, _) = std::future::poll_fn(|cx| listener.poll_accept(cx))
        .await
        .unwrap();
    connect.await.unwrap().unwrap();
    let std_listener = listener.into_std().unwrap();
    assert_eq!(std_listener.local_addr(), addr(A4, 30));
    let stream = stream.into_std().unwrap();
    assert!(matches!(
        stream.read(&mut [0; 1]),
        Ok(0) | Err(Error::WouldBlock)
    ));
}

#[tokio::test(flavor = "current_thread")]
async fn udp_datagrams_both_ways_and_too_large_is_emsgsize() {
    let (a, b) = pair();
    let server = UdpSocket::bind(&a, addr(A4, 53)).unwrap();
    let client = UdpSocket::bind(&b, addr(B4, 0)).unwrap();
    let e = server.try_recv_from(&mut [0; 8]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::WouldBlock);
    client.send_to(b"query", addr(A4, 53)).await.unwrap();
    let mut buf = [0; 64];
    let (n, from) = server.recv_from(&mut buf).await.unwrap();
    assert_eq!(
        (&buf[..n], from),
        (&b"query"[..], client.local_addr().unwrap())
    );
    server.send_to(b"answer", from).await.unwrap();
    client.readable().await.unwrap();
    let (n, _) = client.try_recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"answer");
    let big = vec![0; 2000];
    let e = client.send_to(&big, addr(A4, 53)).await.unwrap_err();
    assert!(matches!(e, Error::MessageTooLarge { len: 2000, .. }), "{e}");
    let emsgsize = std::io::Error::from_raw_os_error(libc::EMSGSIZE).kind();
    assert_eq!(std::io::Error::from(e).kind(), emsgsize);
}
