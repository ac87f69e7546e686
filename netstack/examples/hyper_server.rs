// SPDX-License-Identifier: MIT OR Apache-2.0

//! hyper 1.x serving HTTP/1.1 on a user-level TCP/IP stack that owns a TAP
//! interface: the same code as on `tokio::net`, with the listener taken
//! from `vpoll_netstack::tokio`.
//!
//! ```text
//! hyper_server [--requests N] [TAP]    (as root: it makes the TAP interface)
//! curl http://10.9.8.2/                (from the kernel's side)
//! curl http://10.9.8.2/bytes/4194304   (a 4 MiB body)
//! ```
//!
//! It brings the interface up with 10.9.8.1/24 on the kernel's side
//! (`ip`), serves on 10.9.8.2:80, and exits after N requests (default:
//! never).

use std::convert::Infallible;
use std::error::Error;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use vpoll_netstack::tokio::TcpListener;
use vpoll_netstack::{Link, Stack};

const KERNEL_SIDE: &str = "10.9.8.1/24";
const OURS: &str = "10.9.8.2";

/// `/bytes/N`: N bytes; anything else: a line of text.
async fn answer(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let body = match request.uri().path().strip_prefix("/bytes/") {
        Some(n) => Bytes::from(vec![b'x'; n.parse().unwrap_or(0).min(64 << 20)]),
        None => Bytes::from_static(b"hello from hyper on vpoll-netstack\n"),
    };
    Ok(Response::new(Full::new(body)))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn Error>> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut requests = usize::MAX;
    if args.first().map(String::as_str) == Some("--requests") {
        requests = args.get(1).ok_or("--requests N")?.parse()?;
        args.drain(..2);
    }
    let tap = args.first().map_or("vpollhyper0", String::as_str);
    let link = Link::tap(tap)?;
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ip link set {tap} up && ip addr add {KERNEL_SIDE} dev {tap}"
        ))
        .status()?;
    if !status.success() {
        return Err(format!("configuring {tap} with `ip` failed").into());
    }
    let stack = Stack::builder(link).address(OURS.parse()?, 24).start()?;
    let listener = TcpListener::bind(&stack, format!("{OURS}:80").parse()?)?;
    eprintln!("serving http://{OURS}/ on {tap}");
    let served = Arc::new(AtomicUsize::new(0));
    while served.load(Ordering::Relaxed) < requests {
        let (stream, _) = listener.accept().await?;
        let served = Arc::clone(&served);
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                served.fetch_add(1, Ordering::Relaxed);
                answer(request)
            });
            if let Err(e) = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                eprintln!("connection: {e}");
            }
        });
    }
    Ok(())
}
