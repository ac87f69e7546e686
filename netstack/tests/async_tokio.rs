// SPDX-License-Identifier: MIT OR Apache-2.0

//! The tokio sockets: a server task per connection, as with `tokio::net`.

mod common;

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use vpoll_netstack::tokio::{TcpListener, TcpStream};
use vpoll_netstack::Error;

#[tokio::test(flavor = "current_thread")]
async fn a_thousand_connections_echo_through_one_runtime() {
    const N: usize = 1000;
    let (a, b) = pair_with(|s| s.tcp_buffers(8 << 10, 8 << 10));
    let listener = vpoll_netstack::TcpListener::bind_with_backlog(&a, addr(A4, 7), N).unwrap();
    let listener = TcpListener::from_std(listener).unwrap();
    let server = tokio::spawn(async move {
        let mut tasks = Vec::new();
        for _ in 0..N {
            let (mut conn, _) = listener.accept().await.unwrap();
            tasks.push(tokio::spawn(async move {
                let mut buf = [0; 64];
                loop {
                    let n = conn.read(&mut buf).await.unwrap();
                    if n == 0 {
                        break;
                    }
                    conn.write_all(&buf[..n]).await.unwrap();
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
    });
    let mut clients = Vec::new();
    for i in 0..N {
        let b = &b;
        clients.push(async move {
            let mut s = TcpStream::connect(b, addr(A4, 7)).await.unwrap();
            let msg = format!("connection {i}");
            s.write_all(msg.as_bytes()).await.unwrap();
            let mut back = vec![0; msg.len()];
            s.read_exact(&mut back).await.unwrap();
            assert_eq!(back, msg.as_bytes());
            s.shutdown().await.unwrap();
            assert_eq!(s.read(&mut [0; 1]).await.unwrap(), 0);
        });
    }
    futures_join_all(clients).await;
    server.await.unwrap();
}

/// Runs the futures concurrently on this task.
async fn futures_join_all<F: std::future::Future<Output = ()>>(futures: Vec<F>) {
    let mut pinned: Vec<_> = futures.into_iter().map(Box::pin).collect();
    std::future::poll_fn(|cx| {
        pinned.retain_mut(|f| f.as_mut().poll(cx).is_pending());
        if pinned.is_empty() {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
}

#[tokio::test(flavor = "current_thread")]
async fn a_refused_connect_fails_the_future() {
    let (_a, b) = pair();
    let err = TcpStream::connect(&b, addr(A4, 9)).await.unwrap_err();
    assert!(matches!(err, Error::ConnectionRefused), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_mib_cross_between_runtime_threads() {
    const LEN: usize = 4 << 20;
    let (a, b) = pair();
    let listener = TcpListener::bind(&a, addr(A6, 80)).unwrap();
    let server = tokio::spawn(async move {
        let (mut conn, _) = listener.accept().await.unwrap();
        let mut all = Vec::new();
        conn.read_to_end(&mut all).await.unwrap();
        all
    });
    let mut s = TcpStream::connect(&b, addr(A6, 80)).await.unwrap();
    let data: Vec<u8> = (0..LEN).map(|i| (i * 7 % 251) as u8).collect();
    s.write_all(&data).await.unwrap();
    s.shutdown().await.unwrap();
    assert!(server.await.unwrap() == data);
}
