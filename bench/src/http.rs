// SPDX-License-Identifier: MIT OR Apache-2.0

//! N3, HTTP: what a user of hyper gets from the user-level stack. The same
//! hyper 1.x server (one tokio runtime thread) serves HTTP/1.1 on
//! `vpoll_netstack::tokio` over TAP and on `tokio::net` over loopback; the
//! clients are the same kernel-TCP load generator: keep-alive connections,
//! one thread each, a 2-byte body per request. And bulk throughput: 64 MiB
//! each way on one connection, the same two servers.
//!
//! CPU is the whole process's (user and system: client, server, the
//! stack's thread, and the kernel's TCP work done on their behalf), per
//! request: the same client runs against both servers.
//!
//! N4 runs the same servers behind a bad network ([`Plan::bad_network`]):
//! netem on the TAP (what the kernel's client sends the user-level stack)
//! and on loopback (both ways, half the delay each, the MTU lowered to
//! the TAP's), so both paths have a 20 ms round trip and lose 1 % of the
//! client's packets. (On loopback the server's packets are lost too: the
//! kernel's side, if anything, has it harder.)

use std::convert::Infallible;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::{Arc, Barrier};
use std::time::Instant;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use vpoll_netstack::{Link, Stack};
use vpoll_tests::netem::{kernel_retransmissions, Netem};

use crate::netstack::ip;

/// Requests per second and CPU per request at some number of connections.
#[derive(Debug, Clone, Copy)]
pub struct Load {
    pub requests_per_second: f64,
    pub cpu_ns_per_request: f64,
}

/// Megabytes per second of a transfer, each way.
#[derive(Debug, Clone, Copy)]
pub struct Bulk {
    pub to_server: f64,
    pub from_server: f64,
    /// Segments the kernel's TCP sent again meanwhile (`RetransSegs`).
    pub kernel_retransmissions: u64,
}

/// One side's results.
#[derive(Debug, Clone)]
pub struct Http {
    /// At 1 and at 50 connections (`None`: not measured).
    pub one: Load,
    pub fifty: Option<Load>,
    pub bulk: Bulk,
}

/// What to measure, and on what network.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// Requests on one keep-alive connection.
    pub one: usize,
    /// Requests on each of 50 connections (0: not measured).
    pub fifty: usize,
    /// Bytes of the bulk transfer, each way.
    pub bulk: usize,
    /// netem on the client's path (see the module's docs).
    pub netem: Option<Netem>,
    /// The TAP's MTU: loopback's size on a perfect network, where the
    /// kernel's side has loopback's 65,536 bytes; Ethernet's on a bad one,
    /// where loopback is lowered to it too.
    pub mtu: usize,
    /// The TAP's subnet, 10.8.`net`.0/24: one per run, so that a TAP an
    /// earlier run left behind cannot take this one's traffic.
    pub net: u8,
}

/// The user-level stack's socket buffers in N3 and N4: what a user moving
/// bulk data sets (`Builder::tcp_buffers`; the default is 64 KiB each, a
/// window of 64 KiB), as Linux grows its own (to 6 MiB).
pub const BUFFERS: usize = 1 << 20;

impl Plan {
    /// N3: a perfect network.
    pub const N3: Plan = Plan {
        one: 3000,
        fifty: 100,
        bulk: 64 << 20,
        netem: None,
        mtu: 65_000,
        net: 1,
    };

    /// N4: a 20 ms round trip, 1 % of the client's packets lost; `net`
    /// picks the TAP's subnet.
    pub fn bad_network(net: u8) -> Plan {
        Plan {
            one: 200,
            fifty: 0,
            bulk: 4 << 20,
            netem: Some(Netem {
                delay: std::time::Duration::from_millis(20),
                loss: 0.01,
                ..Netem::default()
            }),
            mtu: vpoll_netstack::DEFAULT_MTU,
            net,
        }
    }
}

async fn answer(_: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from_static(b"ok"))))
}

/// Serves one connection with hyper, as any hyper server does.
async fn serve<S: AsyncRead + AsyncWrite + Unpin + Send + 'static>(stream: S) {
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(stream), hyper::service::service_fn(answer))
        .await;
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .expect("a tokio runtime")
}

/// The user-level side: a stack on TAP `tap` (10.8.N.2, the kernel's side
/// 10.8.N.1, N the plan's `net`), hyper on port 80, a bulk server on port 81.
pub fn user_level(tap: &str, plan: &Plan) -> Result<Http, String> {
    let net = plan.net;
    let link = Link::tap_with_mtu(tap, plan.mtu).map_err(|e| e.to_string())?;
    ip("link set lo up")?;
    ip(&format!("link set {tap} up"))?;
    ip(&format!("addr add 10.8.{net}.1/24 dev {tap}"))?;
    if let Some(netem) = plan.netem {
        netem
            .apply(tap)
            .map_err(|e| format!("netem on {tap}: {e}"))?;
    }
    let stack = Stack::builder(link)
        .address(format!("10.8.{net}.2").parse().expect("an address"), 24)
        .tcp_buffers(BUFFERS, BUFFERS)
        .start()
        .map_err(|e| e.to_string())?;
    let at: SocketAddr = format!("10.8.{net}.2:80").parse().expect("an address");
    let listener = vpoll_netstack::TcpListener::bind(&stack, at).map_err(|e| e.to_string())?;
    std::thread::spawn(move || {
        runtime().block_on(async move {
            let listener = vpoll_netstack::tokio::TcpListener::from_std(listener)
                .expect("registering the listener");
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream));
            }
        })
    });
    let bulk_at: SocketAddr = format!("10.8.{net}.2:81").parse().expect("an address");
    let bulk = vpoll_netstack::TcpListener::bind(&stack, bulk_at).map_err(|e| e.to_string())?;
    let size = plan.bulk;
    let sent = tap_bytes(tap)?;
    let result = measure(at, bulk_at, plan, move || {
        let (conn, _) = bulk.accept().expect("accept");
        bulk_server(&mut &conn, size);
    });
    // Proof that the traffic took this TAP (and its netem), not another
    // route to the same addresses.
    let crossed = tap_bytes(tap)? - sent;
    if crossed < size as u64 {
        return Err(format!(
            "only {crossed} bytes crossed {tap} for a {size}-byte upload: another interface took its traffic"
        ));
    }
    drop(stack);
    Ok(result)
}

/// The bytes interface `tap` has sent (to the user-level stack).
fn tap_bytes(tap: &str) -> Result<u64, String> {
    let path = format!("/sys/class/net/{tap}/statistics/tx_bytes");
    std::fs::read_to_string(&path)
        .map_err(|e| format!("{path}: {e}"))?
        .trim()
        .parse()
        .map_err(|e| format!("{path}: {e}"))
}

/// The kernel side: the same servers on `tokio::net` and `std::net` over
/// loopback.
pub fn kernel(plan: &Plan) -> Result<Http, String> {
    let Some(netem) = plan.netem else {
        return Ok(kernel_on_loopback(plan));
    };
    // Each packet crosses loopback once: half the delay each way, and the
    // TAP's MTU, so that segments are the same size as over the TAP.
    ip("link set lo mtu 1500")?;
    let half = Netem {
        delay: netem.delay / 2,
        jitter: netem.jitter / 2,
        ..netem
    };
    half.apply("lo").map_err(|e| format!("netem on lo: {e}"))?;
    let result = kernel_on_loopback(plan);
    Netem::clear("lo").map_err(|e| format!("netem off lo: {e}"))?;
    ip("link set lo mtu 65536")?;
    Ok(result)
}

fn kernel_on_loopback(plan: &Plan) -> Http {
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind on loopback");
    let at = std_listener.local_addr().expect("its address");
    std_listener.set_nonblocking(true).expect("non-blocking");
    std::thread::spawn(move || {
        runtime().block_on(async move {
            let listener =
                tokio::net::TcpListener::from_std(std_listener).expect("registering the listener");
            while let Ok((stream, _)) = listener.accept().await {
                let _ = stream.set_nodelay(true);
                tokio::spawn(serve(stream));
            }
        })
    });
    let bulk = std::net::TcpListener::bind("127.0.0.1:0").expect("bind on loopback");
    let bulk_at = bulk.local_addr().expect("its address");
    let size = plan.bulk;
    measure(at, bulk_at, plan, move || {
        let (mut conn, _) = bulk.accept().expect("accept");
        bulk_server(&mut conn, size);
    })
}

/// Reads `size` bytes, then writes as many.
fn bulk_server(conn: &mut (impl Read + Write), size: usize) {
    let mut buf = vec![0; 64 << 10];
    let mut left = size;
    while left > 0 {
        let n = conn.read(&mut buf).expect("bulk read");
        assert!(n > 0, "the bulk client ended early");
        left -= n.min(left);
    }
    let mut left = size;
    while left > 0 {
        let n = buf.len().min(left);
        conn.write_all(&buf[..n]).expect("bulk write");
        left -= n;
    }
}

fn measure(
    at: SocketAddr,
    bulk_at: SocketAddr,
    plan: &Plan,
    bulk_server: impl FnOnce() + Send + 'static,
) -> Http {
    // A warm-up: connections made, code paged in.
    load(at, 4, 50.min(plan.one));
    let one = load(at, 1, plan.one);
    let fifty = (plan.fifty > 0).then(|| load(at, 50, plan.fifty));
    let server = std::thread::spawn(bulk_server);
    let mut conn = std::net::TcpStream::connect(bulk_at).expect("bulk connect");
    let chunk = vec![7u8; 64 << 10];
    let resent = kernel_retransmissions();
    let started = Instant::now();
    let mut left = plan.bulk;
    while left > 0 {
        let n = chunk.len().min(left);
        conn.write_all(&chunk[..n]).expect("bulk write");
        left -= n;
    }
    let mut buf = vec![0; 64 << 10];
    // The first byte back marks the upload's end (the server reads it all
    // before it writes).
    let first = conn.read(&mut buf).expect("bulk read");
    let up = started.elapsed();
    let resent = kernel_retransmissions() - resent;
    let started = Instant::now();
    let mut got = first;
    while got < plan.bulk {
        let n = conn.read(&mut buf).expect("bulk read");
        assert!(n > 0, "the bulk server ended early");
        got += n;
    }
    let down = started.elapsed();
    server.join().expect("the bulk server");
    let mb = plan.bulk as f64 / 1e6;
    Http {
        one,
        fifty,
        bulk: Bulk {
            to_server: mb / up.as_secs_f64(),
            from_server: mb / down.as_secs_f64(),
            kernel_retransmissions: resent,
        },
    }
}

fn cpu_ns() -> f64 {
    let usage = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_SELF)
        .expect("getrusage");
    let ns = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 * 1e9 + t.tv_usec() as f64 * 1e3;
    ns(usage.user_time()) + ns(usage.system_time())
}

/// `conns` keep-alive connections, one thread each, `requests` GETs each,
/// all started together.
fn load(at: SocketAddr, conns: usize, requests: usize) -> Load {
    let start = Arc::new(Barrier::new(conns + 1));
    let threads: Vec<_> = (0..conns)
        .map(|_| {
            let start = Arc::clone(&start);
            std::thread::spawn(move || {
                let mut conn = std::net::TcpStream::connect(at).expect("connect");
                conn.set_nodelay(true).expect("TCP_NODELAY");
                start.wait();
                let mut buf = [0; 512];
                for _ in 0..requests {
                    conn.write_all(b"GET / HTTP/1.1\r\nhost: bench\r\n\r\n")
                        .expect("request");
                    let mut got = 0;
                    // The response ends with its 2-byte body, "ok".
                    while !buf[..got].ends_with(b"\r\n\r\nok") {
                        let n = conn.read(&mut buf[got..]).expect("response");
                        assert!(n > 0, "the server closed the connection");
                        got += n;
                    }
                }
            })
        })
        .collect();
    start.wait();
    let (cpu, started) = (cpu_ns(), Instant::now());
    for t in threads {
        t.join().expect("a client thread");
    }
    let elapsed = started.elapsed().as_secs_f64();
    let total = (conns * requests) as f64;
    Load {
        requests_per_second: total / elapsed,
        cpu_ns_per_request: (cpu_ns() - cpu) / total,
    }
}
