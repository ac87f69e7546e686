// SPDX-License-Identifier: MIT OR Apache-2.0

//! A tokio web server on a user-level TCP/IP stack that owns a TAP
//! interface: the kernel's side of the interface is a network with a web
//! server on it, as far as any program of the machine can tell.
//!
//! ```text
//! tokio_httpd [--requests N] [TAP]     (as root: it makes the TAP interface)
//! wget -O - http://10.9.9.2/           (from the kernel's side)
//! ```
//!
//! It brings the interface up with 10.9.9.1/24 on the kernel's side
//! (`ip`), serves a page on 10.9.9.2:80 that tells how the answering socket
//! is waited on, and exits after N requests (default: never).

use std::error::Error;
use std::os::fd::{AsFd, AsRawFd};
use std::process::Command;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use vpoll_netstack::tokio::TcpListener;
use vpoll_netstack::{Link, Stack};

const KERNEL_SIDE: &str = "10.9.9.1/24";
const OURS: &str = "10.9.9.2";

fn ip(args: &str) -> Result<(), Box<dyn Error>> {
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!("ip {args}"))
        .status()?;
    if !status.success() {
        return Err(format!("`ip {args}` failed").into());
    }
    Ok(())
}

/// What the page says about the socket that serves it.
fn describe(fd: impl AsFd) -> String {
    let raw = fd.as_fd().as_raw_fd();
    let backend = vpoll::Backend::of_fd(fd.as_fd()).map_or_else(
        || "the emulation (a socket pair)".to_owned(),
        |b| format!("the {b}"),
    );
    let fdinfo = std::fs::read_to_string(format!("/proc/self/fdinfo/{raw}")).unwrap_or_default();
    let mask = fdinfo
        .lines()
        .find(|l| l.starts_with("vpoll-events:") || l.starts_with("eventfd-count:"))
        .map_or_else(String::new, |line| {
            format!(" (fdinfo: {})", line.replace('\t', " "))
        });
    format!("fd {raw}, a vpoll fd on {backend} backend{mask}")
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn Error>> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut requests = usize::MAX;
    if args.first().map(String::as_str) == Some("--requests") {
        requests = args.get(1).ok_or("--requests N")?.parse()?;
        args.drain(..2);
    }
    let tap = args.first().map_or("vp0", String::as_str).to_owned();

    let link = Link::tap(&tap)?;
    ip(&format!("link set {tap} up"))?;
    ip(&format!("addr add {KERNEL_SIDE} dev {tap}"))?;
    let stack = Stack::builder(link).address(OURS.parse()?, 24).start()?;
    let listener = TcpListener::bind(&stack, format!("{OURS}:80").parse()?)?;
    println!("tokio_httpd: serving http://{OURS}/ on a user-level stack behind {tap}");

    for served in 1..=requests {
        let (mut conn, peer) = listener.accept().await?;
        let mut request = Vec::new();
        let mut buf = [0; 1024];
        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = conn.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            request.extend_from_slice(&buf[..n]);
        }
        let line = String::from_utf8_lossy(&request);
        let line = line.lines().next().unwrap_or("");
        let body = format!(
            "Hello from a user-level TCP/IP stack (smoltcp), request {served}: {line}\n\
             You are {peer}. This connection is {}.\n",
            describe(conn.get_ref())
        );
        let head = format!(
            "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        conn.write_all(head.as_bytes()).await?;
        conn.write_all(body.as_bytes()).await?;
        conn.shutdown().await?;
        println!("tokio_httpd: {peer}: {line}");
    }
    Ok(())
}
