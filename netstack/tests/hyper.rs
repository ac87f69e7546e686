// SPDX-License-Identifier: MIT OR Apache-2.0

//! hyper 1.x, server and client, on two stacks: the code a `tokio::net`
//! user runs, unchanged but for where the sockets come from.

mod common;

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use vpoll_netstack::tokio::{TcpListener, TcpStream};
use vpoll_netstack::Stack;

/// `/bytes/N`: N bytes of [`pattern`]; anything else: "ok".
async fn answer(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let body = match request.uri().path().strip_prefix("/bytes/") {
        Some(n) => Bytes::from(pattern(n.parse().unwrap_or(0), 9)),
        None => Bytes::from_static(b"ok"),
    };
    Ok(Response::new(Full::new(body)))
}

/// A hyper server on `stack`:`port`; what its connections ended with
/// (errors as text) goes into the list it returns.
fn serve(stack: &Stack, port: u16) -> Arc<Mutex<Vec<String>>> {
    let listener = TcpListener::bind(stack, addr(A4, port)).unwrap();
    let errors = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&errors);
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let log = Arc::clone(&log);
            tokio::spawn(async move {
                let served = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), hyper::service::service_fn(answer))
                    .await;
                if let Err(e) = served {
                    log.lock().unwrap().push(format!("{e:?}"));
                }
            });
        }
    });
    errors
}

async fn client(stack: &Stack, port: u16) -> hyper::client::conn::http1::SendRequest<Empty<Bytes>> {
    let stream = TcpStream::connect(stack, addr(A4, port)).await.unwrap();
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    sender
}

async fn get(
    sender: &mut hyper::client::conn::http1::SendRequest<Empty<Bytes>>,
    path: &str,
) -> Bytes {
    let request = Request::get(path)
        .header("host", "test")
        .body(Empty::new())
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert!(response.status().is_success());
    response.into_body().collect().await.unwrap().to_bytes()
}

/// 50 keep-alive connections at once, 20 requests each, and a 4 MiB body:
/// every answer whole, no connection error on either side.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hyper_serves_keep_alive_connections_and_a_large_body() {
    let (a, b) = pair();
    let errors = serve(&a, 80);
    let b = Arc::new(b);
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let b = Arc::clone(&b);
        tasks.push(tokio::spawn(async move {
            let mut sender = client(&b, 80).await;
            for _ in 0..20 {
                assert_eq!(&get(&mut sender, "/").await[..], b"ok");
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let mut sender = client(&b, 80).await;
    let body = get(&mut sender, &format!("/bytes/{}", 4 << 20)).await;
    assert_eq!(
        (body.len(), fnv(&body)),
        (4 << 20, fnv(&pattern(4 << 20, 9)))
    );
    drop(sender);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        errors.lock().unwrap().is_empty(),
        "{:?}",
        errors.lock().unwrap()
    );
}

/// Clients that reset their idle keep-alive connections (as wrk does at
/// the end of a run) or just close them: the server sees no error, as on
/// kernel sockets (a reset connection's shutdown is not an error).
#[tokio::test(flavor = "current_thread")]
async fn clients_resetting_idle_connections_cause_no_server_error() {
    let (a, b) = pair();
    let errors = serve(&a, 81);
    for i in 0..20 {
        let mut stream = TcpStream::connect(&b, addr(A4, 81)).await.unwrap();
        stream
            .write_all(b"GET / HTTP/1.1\r\nhost: test\r\n\r\n")
            .await
            .unwrap();
        let mut response = Vec::new();
        while !response.ends_with(b"\r\n\r\nok") {
            let mut buf = [0; 256];
            let n = stream.read(&mut buf).await.unwrap();
            assert!(n > 0, "the response ended early: {response:?}");
            response.extend_from_slice(&buf[..n]);
        }
        if i % 2 == 0 {
            stream.set_linger(Some(Duration::ZERO)).unwrap();
        }
        drop(stream);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        errors.lock().unwrap().is_empty(),
        "{:?}",
        errors.lock().unwrap()
    );
}
