// SPDX-License-Identifier: MIT OR Apache-2.0

//! The user-level stack (`vpoll-netstack`) against the peer nobody here
//! wrote: the guest kernel's own TCP/IP, over a TAP interface. The stack is
//! 10.7.0.2 and fd07::2, the kernel 10.7.0.1 and fd07::1. Every test runs on
//! every backend this kernel has, and the emulation; fdinfo proves, for the
//! stack of every test (`stack_with`) and for accepted connections in
//! several, which one the sockets' fds really are.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::os::fd::{AsFd, AsRawFd};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::Duration;

use vpoll::{Backend, Events};
use vpoll_netstack::{Error, Link, Stack, TcpListener, TcpStream, UdpSocket};
use vpoll_tests::kernel;

const TAP: &str = "vpn0";
const KERNEL4: &str = "10.7.0.1";
const STACK4: &str = "10.7.0.2";
const KERNEL6: &str = "fd07::1";
const STACK6: &str = "fd07::2";

fn addr(ip: &str, port: u16) -> SocketAddr {
    SocketAddr::new(ip.parse().unwrap(), port)
}

/// The kernel's backends and the emulation.
fn backends() -> Vec<Backend> {
    let mut all = kernel::backends();
    all.push(Backend::Emulation);
    all
}

fn sh(script: &str) {
    let out = Command::new("sh").arg("-c").arg(script).output().unwrap();
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A stack on a fresh TAP interface whose kernel side has its addresses.
fn stack(backend: Backend) -> Stack {
    stack_with(backend, |b| b)
}

/// [`stack`], its builder through `f` first.
fn stack_with(
    backend: Backend,
    f: impl FnOnce(vpoll_netstack::Builder) -> vpoll_netstack::Builder,
) -> Stack {
    // Room for a thousand connections on the emulation (two fds each).
    kernel::raise_fd_limit();
    let link = Link::tap(TAP).unwrap();
    sh(&format!(
        // No duplicate address detection: the address is usable at once.
        "echo 0 >/proc/sys/net/ipv6/conf/{TAP}/accept_dad && ip link set {TAP} up && ip addr add {KERNEL4}/24 dev {TAP} && ip -6 addr add {KERNEL6}/64 dev {TAP} && ip link set lo up"
    ));
    let stack = f(Stack::builder(link)
        .address(STACK4.parse().unwrap(), 24)
        .address(STACK6.parse().unwrap(), 64)
        .backend(backend))
    .start()
    .unwrap();
    // Every test's sockets come from here: their backend is proven once by
    // fdinfo for each stack (the stack gives all its sockets the same).
    let probe = UdpSocket::bind(&stack, addr(STACK4, 0)).unwrap();
    assert_backend(&probe, backend);
    let probe = TcpListener::bind(&stack, addr(STACK4, 9)).unwrap();
    assert_backend(&probe, backend);
    drop(probe);
    stack
}

/// The fd is the backend's: by fdinfo for the kernel backends; a socket
/// (the emulation's pair) otherwise.
fn assert_backend(fd: &impl AsFd, backend: Backend) {
    let seen = vpoll::Backend::of_fd(fd.as_fd());
    match backend {
        Backend::Emulation => {
            assert_eq!(seen, None);
            let target =
                std::fs::read_link(format!("/proc/self/fd/{}", fd.as_fd().as_raw_fd())).unwrap();
            assert!(
                target.to_string_lossy().starts_with("socket:"),
                "{target:?}"
            );
        }
        kernel => assert_eq!(seen, Some(kernel), "fdinfo of a {kernel} socket"),
    }
}

/// What poll(2) on `fd` reports of the main events, at once (`timeout_ms`
/// 0) or once one of `ask` is reported.
fn poll_main(fd: &impl AsFd, ask: Events, timeout_ms: i32) -> Events {
    let main = Events::IN | Events::OUT | Events::ERR | Events::HUP | Events::RDHUP;
    let mut p = libc::pollfd {
        fd: fd.as_fd().as_raw_fd(),
        events: ask.bits() as i16,
        revents: 0,
    };
    // SAFETY: one valid pollfd for the call's duration.
    assert!(unsafe { libc::poll(&mut p, 1, timeout_ms) } >= 0);
    Events::from_bits_truncate(p.revents as u16 as u32) & main
}

/// Waits up to 10 s for `fd` to report all of `want`; returns what it
/// reported last.
fn wait_for(fd: &impl AsFd, want: Events) -> Events {
    let all = Events::IN | Events::OUT | Events::RDHUP;
    let mut now = Events::empty();
    for _ in 0..100 {
        now = poll_main(fd, all, 0);
        if now.contains(want) {
            break;
        }
        poll_main(fd, want, 100);
    }
    now
}

fn fnv(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 131 + i / 4099) as u8).collect()
}

/// Bytes each way in the echo tests: 4 MiB, and 1 MiB on the debug kernel,
/// whose KASAN-checked TCP is several times slower (the module's part is the
/// same per wakeup; the count of wakeups is what shrinks).
fn echo_bytes() -> usize {
    if kernel::is_debug() {
        1 << 20
    } else {
        4 << 20
    }
}

/// Sends `data` on one half while reading as much back on the other.
fn exchange(mut tx: impl Write + Send, mut rx: impl Read, data: &[u8]) -> Vec<u8> {
    thread::scope(|s| {
        s.spawn(move || tx.write_all(data).unwrap());
        let mut back = vec![0; data.len()];
        rx.read_exact(&mut back).unwrap();
        back
    })
}

#[test]
fn a_kernel_client_gets_mebibytes_echoed_by_the_user_level_server() {
    for backend in backends() {
        let stack = stack(backend);
        kernel_client_echo(&stack, backend, 7, echo_bytes());
    }
}

#[test]
fn a_user_level_client_gets_mebibytes_echoed_by_a_kernel_server() {
    for backend in backends() {
        let stack = stack(backend);
        user_level_client_echo(&stack, backend, 8, echo_bytes());
    }
}

/// How long a transfer may stall before the test fails instead of hanging.
const STALL: Duration = Duration::from_secs(120);

/// A kernel client sends `len` bytes to a user-level echo server on `port`
/// and reads them back whole.
fn kernel_client_echo(stack: &Stack, backend: Backend, port: u16, len: usize) {
    let listener = TcpListener::bind(stack, addr(STACK4, port)).unwrap();
    assert_backend(&listener, backend);
    thread::scope(|s| {
        s.spawn(move || {
            let (conn, peer) = listener.accept().unwrap();
            assert_eq!(peer.ip().to_string(), KERNEL4);
            conn.set_read_timeout(Some(STALL)).unwrap();
            conn.set_write_timeout(Some(STALL)).unwrap();
            let mut buf = vec![0; 16 << 10];
            loop {
                let n = conn.read(&mut buf).unwrap();
                if n == 0 {
                    break;
                }
                conn.write_all(&buf[..n]).unwrap();
            }
        });
        let client = std::net::TcpStream::connect(addr(STACK4, port)).unwrap();
        client.set_read_timeout(Some(STALL)).unwrap();
        client.set_write_timeout(Some(STALL)).unwrap();
        let data = pattern(len);
        let back = exchange(client.try_clone().unwrap(), &client, &data);
        assert_eq!(fnv(&back), fnv(&data), "{backend}");
        client.shutdown(Shutdown::Write).unwrap();
    });
}

/// A user-level client sends `len` bytes to a kernel echo server on `port`
/// (over IPv6) and reads them back whole.
fn user_level_client_echo(stack: &Stack, backend: Backend, port: u16, len: usize) {
    let listener = std::net::TcpListener::bind(addr(KERNEL6, port)).unwrap();
    thread::scope(|s| {
        s.spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            conn.set_read_timeout(Some(STALL)).unwrap();
            let mut rx = conn.try_clone().unwrap();
            std::io::copy(&mut rx, &mut conn).unwrap();
        });
        let client = TcpStream::connect(stack, addr(KERNEL6, port)).unwrap();
        assert_backend(&client, backend);
        client.set_read_timeout(Some(STALL)).unwrap();
        client.set_write_timeout(Some(STALL)).unwrap();
        let data = pattern(len);
        let back = exchange(&client, &client, &data);
        assert_eq!(fnv(&back), fnv(&data), "{backend}");
        client.shutdown(Shutdown::Write).unwrap();
    });
}

/// A bad network between the kernel and the stack: netem on the TAP loses,
/// delays (with jitter), reorders, duplicates and corrupts what the kernel
/// sends (its data, and its ACKs of the stack's). Echoes both ways arrive
/// whole, whoever connects. (The stack's own frames reach the kernel
/// unharmed here: the host suite's impaired link harms both directions.)
#[test]
fn echoes_both_ways_arrive_whole_through_netem() {
    use vpoll_tests::netem::{kernel_retransmissions, Netem};
    let len = if kernel::is_debug() {
        256 << 10
    } else {
        1 << 20
    };
    let bad = Netem {
        delay: Duration::from_millis(20),
        jitter: Duration::from_millis(5),
        loss: 0.02,
        reorder: 0.05,
        duplicate: 0.01,
        corrupt: 0.01,
        limit: 0,
    };
    for backend in backends() {
        let stack = stack(backend);
        bad.apply(TAP).unwrap();
        let (start, resent) = (std::time::Instant::now(), kernel_retransmissions());
        kernel_client_echo(&stack, backend, 17, len);
        user_level_client_echo(&stack, backend, 18, len);
        eprintln!(
            "{backend}: {len} bytes echoed each way, twice, through netem ({bad:?}) in {:.1?}; the kernel resent {} segments",
            start.elapsed(),
            kernel_retransmissions() - resent
        );
    }
}

/// busybox's httpd, serving a page on the kernel's side until dropped.
struct Httpd(Child);

impl Drop for Httpd {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts [`Httpd`] with `body` as /index.html.
fn httpd(body: &str) -> Httpd {
    sh(&format!(
        "mkdir -p /tmp/www && printf '%s' '{body}' >/tmp/www/index.html"
    ));
    let child = Command::new("httpd")
        .args(["-f", "-p", &format!("{KERNEL4}:8080"), "-h", "/tmp/www"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let child = Httpd(child);
    for _ in 0..50 {
        if std::net::TcpStream::connect(addr(KERNEL4, 8080)).is_ok() {
            break;
        }
        thread::sleep(Duration::from_millis(100));
    }
    child
}

#[test]
fn http_get_both_ways_with_busybox() {
    for backend in backends() {
        let stack = stack(backend);
        let _httpd = httpd("served by the kernel side");
        // The user-level stack fetches from busybox httpd.
        let s = TcpStream::connect(&stack, addr(KERNEL4, 8080)).unwrap();
        s.write_all(b"GET /index.html HTTP/1.0\r\nHost: k\r\n\r\n")
            .unwrap();
        let mut reply = String::new();
        (&s).read_to_string(&mut reply).unwrap();
        assert!(
            reply.starts_with("HTTP/1.") && reply.ends_with("served by the kernel side"),
            "{reply}"
        );

        // busybox wget fetches from a server on the user-level stack.
        let listener = TcpListener::bind(&stack, addr(STACK4, 80)).unwrap();
        let server = thread::spawn(move || {
            let (conn, _) = listener.accept().unwrap();
            let mut req = Vec::new();
            let mut buf = [0; 512];
            while !req.ends_with(b"\r\n\r\n") {
                let n = conn.read(&mut buf).unwrap();
                assert!(n > 0, "request cut short");
                req.extend_from_slice(&buf[..n]);
            }
            assert!(req.starts_with(b"GET /hello "));
            let body = "hello from the user-level stack\n";
            let head = format!("HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n", body.len());
            conn.write_all(head.as_bytes()).unwrap();
            conn.write_all(body.as_bytes()).unwrap();
            conn.shutdown(Shutdown::Write).unwrap();
        });
        let out = Command::new("wget")
            .args(["-q", "-O", "-", &format!("http://{STACK4}/hello")])
            .stderr(Stdio::inherit())
            .output()
            .unwrap();
        assert!(out.status.success(), "wget failed on {backend}");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "hello from the user-level stack\n"
        );
        server.join().unwrap();
    }
}

/// Connections at once in the many-clients tests: a thousand, and 200 on the
/// debug kernel (see [`echo_bytes`]).
fn many() -> usize {
    if kernel::is_debug() {
        200
    } else {
        1000
    }
}

/// [`many`] kernel clients at once, each sending its number and wanting it back.
fn kernel_clients(port: u16) {
    let many = many();
    thread::scope(|s| {
        for t in 0..4 {
            s.spawn(move || {
                let mine: Vec<_> = (t..many).step_by(4).collect();
                let conns: Vec<_> = mine
                    .iter()
                    .map(|_| {
                        let c = std::net::TcpStream::connect(addr(STACK4, port)).unwrap();
                        c.set_read_timeout(Some(STALL)).unwrap();
                        c
                    })
                    .collect();
                for (i, mut c) in mine.iter().zip(&conns) {
                    c.write_all(format!("<{i}>").as_bytes()).unwrap();
                }
                for (i, mut c) in mine.iter().zip(&conns) {
                    let want = format!("<{i}>");
                    let mut got = vec![0; want.len()];
                    c.read_exact(&mut got).unwrap();
                    assert_eq!(got, want.as_bytes());
                    c.shutdown(Shutdown::Write).unwrap();
                }
            });
        }
    });
}

#[test]
fn many_kernel_clients_served_by_one_epoll_loop_level_and_edge_triggered() {
    let many = many();
    for backend in backends() {
        let stack = stack(backend);
        for (edge, port) in [(false, 5001), (true, 5002)] {
            let start = std::time::Instant::now();
            let listener =
                TcpListener::bind_with_backlog(&stack, addr(STACK4, port), many).unwrap();
            thread::scope(|s| {
                s.spawn(|| kernel_clients(port));
                vpoll_tests::echo::epoll_echo_server(&listener, edge, many);
            });
            eprintln!(
                "{backend}, edge-triggered {edge}: {many} connections in {:.1?}",
                start.elapsed()
            );
        }
        // On the device, a round's mask changes go to the kernel together.
        let stats = stack.stats();
        eprintln!(
            "{backend}: {} mask changes, {} of them in batches",
            stats.mask_updates, stats.batched_updates
        );
        if backend == Backend::Device {
            assert!(
                stats.batched_updates > 0,
                "no batch on the device: {stats:?}"
            );
        } else {
            assert_eq!(stats.batched_updates, 0, "{backend} has no batch ioctl");
        }
    }
}

#[test]
fn many_kernel_clients_served_by_tokio() {
    let many = many();
    for backend in backends() {
        eprintln!("tokio, {backend} backend");
        let stack = stack(backend);
        let listener = TcpListener::bind_with_backlog(&stack, addr(STACK4, 5003), many).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .unwrap();
        thread::scope(|s| {
            s.spawn(|| kernel_clients(5003));
            rt.block_on(async {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let listener = vpoll_netstack::tokio::TcpListener::from_std(listener).unwrap();
                let mut tasks = Vec::new();
                for i in 0..many {
                    // A client that failed makes no more connections: fail
                    // with the stack's view rather than wait for ever.
                    let accepted = tokio::time::timeout(STALL, listener.accept()).await;
                    let (mut conn, _) = accepted
                        .unwrap_or_else(|_| {
                            panic!(
                                "{backend}: {i} of {many} accepted, then none in {STALL:?}: {:?}",
                                stack.stats()
                            )
                        })
                        .unwrap();
                    tasks.push(tokio::spawn(async move {
                        let mut buf = [0; 64];
                        loop {
                            let n = conn.read(&mut buf).await;
                            let peer = conn.peer_addr();
                            match n
                                .unwrap_or_else(|e| panic!("{backend}: reading from {peer:?}: {e}"))
                            {
                                0 => break,
                                n => conn.write_all(&buf[..n]).await.unwrap(),
                            }
                        }
                    }));
                }
                for t in tasks {
                    t.await.unwrap();
                }
            });
        });
    }
}

#[test]
fn endings_refused_closed_reset_and_under_a_waiter() {
    for backend in backends() {
        let stack = stack(backend);
        let shown = |mask: Events| mask & backend.deliverable();

        // Refused both ways.
        let err = TcpStream::connect(&stack, addr(KERNEL4, 9)).unwrap_err();
        assert!(matches!(err, Error::ConnectionRefused), "{backend}: {err}");
        let err = std::net::TcpStream::connect(addr(STACK4, 9)).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);

        let kernel = std::net::TcpListener::bind(addr(KERNEL4, 10)).unwrap();

        // The kernel closes: IN|RDHUP, then the read says 0.
        let s = TcpStream::connect(&stack, addr(KERNEL4, 10)).unwrap();
        let (k, _) = kernel.accept().unwrap();
        k.shutdown(Shutdown::Write).unwrap();
        let mask = wait_for(&s, Events::IN | Events::RDHUP);
        assert!(
            mask.contains(Events::IN | Events::RDHUP),
            "{backend}: {mask:?}"
        );
        assert_eq!(s.read(&mut [0; 8]).unwrap(), 0);
        drop(k);

        // The kernel resets (SO_LINGER 0): ERR|HUP, then ConnectionReset.
        let s = TcpStream::connect(&stack, addr(KERNEL4, 10)).unwrap();
        let (k, _) = kernel.accept().unwrap();
        let linger = libc::linger {
            l_onoff: 1,
            l_linger: 0,
        };
        // SAFETY: a valid option value for the socket's lifetime.
        let rc = unsafe {
            libc::setsockopt(
                k.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_LINGER,
                (&linger as *const libc::linger).cast(),
                std::mem::size_of::<libc::linger>() as libc::socklen_t,
            )
        };
        assert_eq!(rc, 0);
        drop(k);
        let mask = wait_for(&s, Events::HUP);
        assert_eq!(
            mask,
            shown(Events::ERR | Events::HUP | Events::IN | Events::RDHUP | Events::OUT),
            "{backend}"
        );
        assert!(matches!(s.read(&mut [0; 8]), Err(Error::ConnectionReset)));

        // A reader asleep when the kernel closes wakes with the end.
        let s = TcpStream::connect(&stack, addr(KERNEL4, 10)).unwrap();
        let (k, _) = kernel.accept().unwrap();
        let reader = vpoll_tests::waiter::Waiter::spawn(move || s.read(&mut [0; 8]));
        k.shutdown(Shutdown::Both).unwrap();
        assert_eq!(reader.finish().unwrap(), 0, "{backend}");
    }
}

#[test]
fn udp_crosses_to_the_kernel_and_back() {
    for backend in backends() {
        let stack = stack(backend);
        let ours = UdpSocket::bind(&stack, addr(STACK4, 5353)).unwrap();
        assert_backend(&ours, backend);
        let kernel = std::net::UdpSocket::bind(addr(KERNEL4, 5353)).unwrap();
        kernel
            .send_to(b"from the kernel", addr(STACK4, 5353))
            .unwrap();
        assert!(wait_for(&ours, Events::IN).contains(Events::IN));
        let mut buf = [0; 64];
        let (n, from) = ours.recv_from(&mut buf).unwrap();
        assert_eq!(
            (&buf[..n], from),
            (&b"from the kernel"[..], addr(KERNEL4, 5353))
        );
        ours.send_to(b"from the stack", from).unwrap();
        kernel
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let (n, from) = kernel.recv_from(&mut buf).unwrap();
        assert_eq!(
            (&buf[..n], from),
            (&b"from the stack"[..], addr(STACK4, 5353))
        );
    }
}

/// A kernel client bound to `port` (`SO_REUSEADDR`, as a client that keeps
/// its port does) and connected to `to`.
fn kernel_connect_from(port: u16, to: SocketAddr) -> std::net::TcpStream {
    use nix::sys::socket::{bind, connect, setsockopt, socket, sockopt};
    use nix::sys::socket::{AddressFamily, SockFlag, SockType, SockaddrIn};
    let SocketAddr::V4(to) = to else {
        panic!("IPv4 only")
    };
    let fd = socket(
        AddressFamily::Inet,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .unwrap();
    setsockopt(&fd, sockopt::ReuseAddr, &true).unwrap();
    bind(fd.as_raw_fd(), &SockaddrIn::new(10, 7, 0, 1, port)).unwrap();
    connect(fd.as_raw_fd(), &SockaddrIn::from(to)).unwrap();
    std::net::TcpStream::from(fd)
}

/// The stack closes first, so its side ends in TIME-WAIT; the kernel
/// client connects again at once from the same port, as `ab` and friends
/// do. Linux answers such a SYN (RFC 6191); so must the stack, and not
/// after TIME-WAIT ends (it used to drop it for smoltcp's 10 s).
#[test]
fn a_kernel_client_reconnecting_from_a_port_in_time_wait_is_answered_at_once() {
    for backend in backends() {
        let stack = stack(backend);
        let listener = TcpListener::bind(&stack, addr(STACK4, 5010)).unwrap();
        for round in 0..3 {
            let started = std::time::Instant::now();
            let mut client = kernel_connect_from(41000, addr(STACK4, 5010));
            let took = started.elapsed();
            let (server, peer) = listener.accept().unwrap();
            assert_backend(&server, backend);
            assert_eq!(peer, addr(KERNEL4, 41000));
            server.write_all(b"bye").unwrap();
            drop(server);
            let mut got = Vec::new();
            client.read_to_end(&mut got).unwrap();
            assert_eq!(got, b"bye");
            drop(client);
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            while stack.stats().time_wait == 0 && std::time::Instant::now() < deadline {
                thread::sleep(Duration::from_millis(10));
            }
            let stats = stack.stats();
            assert_eq!(stats.time_wait, 1, "{backend}: {stats:?}");
            assert_eq!(stats.sockets, 0, "{backend}: TIME-WAIT holds no socket");
            eprintln!("{backend}: connection {round} from port 41000 set up in {took:.1?}");
            assert!(
                round == 0 || took < Duration::from_secs(1),
                "{backend}: the SYN in TIME-WAIT was not answered at once ({took:?})"
            );
        }
    }
}

/// Kernel clients by the hundred, closed by either side, one after the
/// other: the stack's sockets and slots are afterwards what they were
/// before (TIME-WAIT kept without buffers), whatever the count.
#[test]
fn kernel_connections_closed_by_either_side_leave_the_stack_as_it_was() {
    let n = if kernel::is_debug() { 100 } else { 500 };
    for backend in backends() {
        let stack = stack(backend);
        let listener = TcpListener::bind(&stack, addr(STACK4, 5011)).unwrap();
        let start = std::time::Instant::now();
        for i in 0..2 * n {
            let server_closes = i % 2 == 0;
            let mut client = std::net::TcpStream::connect(addr(STACK4, 5011)).unwrap();
            let (server, _) = listener.accept().unwrap();
            if server_closes {
                drop(server);
                assert_eq!(client.read(&mut [0; 1]).unwrap(), 0);
                drop(client);
            } else {
                drop(client);
                assert_eq!(server.read(&mut [0; 1]).unwrap(), 0);
                drop(server);
            }
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while stack.stats().sockets > 0 && std::time::Instant::now() < deadline {
            thread::sleep(Duration::from_millis(10));
        }
        let stats = stack.stats();
        eprintln!(
            "{backend}: {} connections in {:.1?}; {stats:?}",
            2 * n,
            start.elapsed()
        );
        assert_eq!(stats.sockets, 0, "{backend}: {stats:?}");
        assert!(stats.socket_slots <= 4, "{backend}: {stats:?}");
        // Each server-closed one went to TIME-WAIT (60 s), where it stays
        // unless the kernel's next connection came from its port and took
        // its place (or the run was slow enough for the first to end).
        let (held, reused) = (stats.time_wait, stats.time_wait_reused);
        if start.elapsed() < Duration::from_secs(50) {
            assert_eq!(held + reused, n as u64, "{backend}: the server-closed ones");
        } else {
            assert!(held + reused <= n as u64, "{backend}: {stats:?}");
        }
    }
}

/// Kernel clients at once on a listener whose SYN queue holds one
/// handshake: the rest are answered with SYN cookies, and the kernel's TCP
/// (which offers window scaling, SACK and timestamps, all refused by a
/// cookie) carries 64 KiB each way on every connection, over IPv4 and IPv6.
#[test]
fn kernel_clients_beyond_a_full_syn_queue_get_in_on_cookies_and_carry_data() {
    const CLIENTS: usize = 48;
    const LEN: usize = 64 << 10;
    // Every wait is bounded: a connection that stalls fails the test (with
    // the stack's counters) instead of hanging the run.
    let patience = Duration::from_secs(if kernel::is_debug() { 180 } else { 60 });
    for backend in backends() {
        let stack = stack_with(backend, |b| b.syn_backlog(1));
        let stack = &stack;
        let listener = TcpListener::bind_with_backlog(stack, addr("::", 5012), CLIENTS).unwrap();
        thread::scope(|s| {
            s.spawn(|| {
                listener.set_nonblocking(true);
                let deadline = std::time::Instant::now() + patience;
                for accepted in 0..CLIENTS {
                    let conn = loop {
                        match listener.accept() {
                            Ok((conn, _)) => break conn,
                            Err(Error::WouldBlock) => {
                                assert!(
                                    std::time::Instant::now() < deadline,
                                    "{backend}: {accepted} of {CLIENTS} clients accepted; {:?}",
                                    stack.stats()
                                );
                                thread::sleep(Duration::from_millis(10));
                            }
                            Err(e) => panic!("{backend}: accept: {e}"),
                        }
                    };
                    conn.set_nonblocking(false);
                    conn.set_read_timeout(Some(patience)).unwrap();
                    conn.set_write_timeout(Some(patience)).unwrap();
                    s.spawn(move || {
                        let who = format!("{backend}: server {accepted}");
                        let failed = |e| stalled(&who, e, stack);
                        let mut buf = vec![0; 16 << 10];
                        loop {
                            match conn.read(&mut buf) {
                                Ok(0) => break,
                                Ok(n) => conn.write_all(&buf[..n]).unwrap_or_else(failed),
                                Err(e) => failed(e),
                            }
                        }
                        conn.shutdown(Shutdown::Write).unwrap_or_else(failed);
                    });
                }
            });
            for i in 0..CLIENTS {
                s.spawn(move || {
                    let who = format!("{backend}: client {i}");
                    let failed = |e| stalled(&who, e, stack);
                    let to = if i % 2 == 0 { STACK4 } else { STACK6 };
                    let mut c = std::net::TcpStream::connect(addr(to, 5012))
                        .unwrap_or_else(|e| stalled(&who, e, stack));
                    c.set_read_timeout(Some(patience)).unwrap();
                    c.set_write_timeout(Some(patience)).unwrap();
                    let data: Vec<u8> = pattern(LEN).iter().map(|b| b ^ i as u8).collect();
                    let mut back = c.try_clone().unwrap();
                    let got = thread::scope(|t| {
                        let reader = t.spawn(move || {
                            let mut got = Vec::new();
                            if let Err(e) = back.read_to_end(&mut got) {
                                failed(e);
                            }
                            got
                        });
                        c.write_all(&data).unwrap_or_else(failed);
                        c.shutdown(Shutdown::Write).unwrap_or_else(failed);
                        reader.join().unwrap()
                    });
                    assert_eq!((got.len(), fnv(&got)), (LEN, fnv(&data)), "client {i}");
                });
            }
        });
        let stats = stack.stats();
        eprintln!("{backend}: {stats:?}");
        // `syn_cookies_failed` may count strays: a client's late segment
        // after its connection closed meets the listener, as in Linux's
        // SyncookiesFailed. Every transfer above is whole.
        assert!(stats.syn_cookies_accepted > 0, "{backend}: {stats:?}");
    }
}

/// Fails a test's connection `who`, with the stack's counters.
fn stalled<T>(who: &str, e: impl std::fmt::Display, stack: &Stack) -> T {
    panic!("{who}: {e}; {:?}", stack.stats())
}

/// Waits up to `secs` for `cond`; says whether it held.
fn within(secs: u64, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    while !cond() {
        if std::time::Instant::now() > deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(20));
    }
    true
}

/// Kernel peers that stop taking part, as Linux's TCP would treat them: a
/// connection the program dropped, whose kernel peer never closes, ends
/// after the FIN-WAIT-2 timeout; data the kernel sends to one is answered
/// with a reset (ECONNRESET there); keepalive gives up on a kernel peer
/// that vanished (its address removed: nothing answers) with `TimedOut`,
/// the fd showing `ERR|HUP`.
#[test]
fn kernel_peers_that_stop_answering_are_given_up_as_linux_would() {
    use vpoll_netstack::Keepalive;
    for backend in backends() {
        let stack = stack_with(backend, |b| b.fin_timeout(Duration::from_secs(2)));
        let listener = TcpListener::bind(&stack, addr(STACK4, 5013)).unwrap();

        // FIN-WAIT-2 with a peer that never sends its FIN.
        let mut silent = std::net::TcpStream::connect(addr(STACK4, 5013)).unwrap();
        let (server, _) = listener.accept().unwrap();
        drop(server);
        assert_eq!(silent.read(&mut [0; 1]).unwrap(), 0);
        let started = std::time::Instant::now();
        assert!(
            within(10, || stack.stats().sockets == 0),
            "{backend}: the orphan is still there: {:?}",
            stack.stats()
        );
        let took = started.elapsed();
        let stats = stack.stats();
        assert!(
            stats.orphans == 0 && stats.timeouts >= 1,
            "{backend}: {stats:?}"
        );
        assert!(
            took >= Duration::from_millis(1500),
            "{backend}: gone too soon, {took:?}"
        );

        // Data for a connection the program dropped: a reset.
        let mut late = std::net::TcpStream::connect(addr(STACK4, 5013)).unwrap();
        let (server, _) = listener.accept().unwrap();
        drop(server);
        assert_eq!(late.read(&mut [0; 1]).unwrap(), 0);
        late.write_all(b"anyone there?").unwrap();
        assert!(
            within(10, || stack.stats().orphans_reset >= 1),
            "{backend}: no reset for data after close: {:?}",
            stack.stats()
        );
        // The kernel had the FIN: the reset makes its next writes fail
        // (EPIPE in CLOSE-WAIT, as tcp_reset sets it).
        let mut failed = None;
        within(10, || match late.write(b"!") {
            Ok(_) => false,
            Err(e) => {
                failed = Some(e.kind());
                true
            }
        });
        assert!(
            matches!(
                failed,
                Some(std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset)
            ),
            "{backend}: the kernel's writes after the reset: {failed:?}"
        );
        eprintln!("{backend}: orphan reset; FIN-WAIT-2 ended after {took:.1?}");

        // Keepalive against a peer that is gone.
        let _vanishing = std::net::TcpStream::connect(addr(STACK4, 5013)).unwrap();
        let (server, _) = listener.accept().unwrap();
        server
            .set_keepalive(Some(Keepalive {
                idle: Duration::from_secs(1),
                interval: Duration::from_secs(1),
                count: 2,
            }))
            .unwrap();
        sh(&format!("ip addr del {KERNEL4}/24 dev {TAP}"));
        let started = std::time::Instant::now();
        let shown = poll_main(&server, Events::IN, 15_000);
        let took = started.elapsed();
        // The emulation cannot show ERR (a socket pair has no way to), and
        // counts it; the error is there all the same.
        let want = match backend {
            Backend::Emulation => Events::HUP,
            _ => Events::ERR | Events::HUP,
        };
        assert!(
            shown.contains(want),
            "{backend}: after {took:?} the fd shows {shown:?}"
        );
        assert!(
            took < Duration::from_secs(8),
            "{backend}: keepalive took {took:?}"
        );
        assert!(
            matches!(server.take_error(), Ok(Some(Error::TimedOut))),
            "{backend}"
        );
        drop(silent);
        drop(late);
    }
}

/// `/bytes/N`: N bytes of [`pattern`]; anything else: "ok".
async fn hyper_answer(
    request: hyper::Request<hyper::body::Incoming>,
) -> Result<hyper::Response<http_body_util::Full<hyper::body::Bytes>>, std::convert::Infallible> {
    let body = match request.uri().path().strip_prefix("/bytes/") {
        Some(n) => pattern(n.parse().unwrap_or(0)),
        None => b"ok".to_vec(),
    };
    Ok(hyper::Response::new(http_body_util::Full::new(body.into())))
}

/// One HTTP/1.1 GET on a kernel connection: the response's body (by its
/// `content-length`).
fn kernel_get(conn: &mut std::net::TcpStream, path: &str) -> Vec<u8> {
    conn.write_all(format!("GET {path} HTTP/1.1\r\nhost: stack\r\n\r\n").as_bytes())
        .unwrap();
    let mut got = Vec::new();
    let mut buf = vec![0; 64 << 10];
    let (head, length) = loop {
        let n = conn.read(&mut buf).unwrap();
        assert!(n > 0, "the response ended early");
        got.extend_from_slice(&buf[..n]);
        if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&got[..end]).to_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length: "))
                .expect("a content-length")
                .trim()
                .parse()
                .unwrap();
            break (end + 4, length);
        }
    };
    while got.len() < head + length {
        let n = conn.read(&mut buf).unwrap();
        assert!(n > 0, "the body ended early");
        got.extend_from_slice(&buf[..n]);
    }
    assert_eq!(got.len(), head + length, "nothing after the body");
    got.split_off(head)
}

/// hyper 1.x serving on the stack over TAP, kernel clients: 200 keep-alive
/// connections at once (100 on the debug kernel), 10 requests each, then
/// a 4 MiB body; the clients reset half their idle connections (as wrk's
/// end of run) and close the rest: the server logs no error.
#[test]
fn hyper_serves_kernel_clients_keep_alive_a_large_body_and_resets() {
    let clients = if kernel::is_debug() { 100 } else { 200 };
    for backend in backends() {
        let stack = stack(backend);
        let listener = TcpListener::bind(&stack, addr(STACK4, 5014)).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .unwrap();
        let errors = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let served = clients + 1;
        thread::scope(|s| {
            s.spawn(|| {
                let mut conns: Vec<_> = (0..clients)
                    .map(|_| std::net::TcpStream::connect(addr(STACK4, 5014)).unwrap())
                    .collect();
                for _ in 0..10 {
                    for c in &mut conns {
                        assert_eq!(kernel_get(c, "/"), b"ok");
                    }
                }
                let mut big = std::net::TcpStream::connect(addr(STACK4, 5014)).unwrap();
                let body = kernel_get(&mut big, &format!("/bytes/{}", 4 << 20));
                assert_eq!((body.len(), fnv(&body)), (4 << 20, fnv(&pattern(4 << 20))));
                conns.push(big);
                for (i, c) in conns.into_iter().enumerate() {
                    if i % 2 == 0 {
                        let linger = nix::sys::socket::sockopt::Linger;
                        let zero = libc::linger {
                            l_onoff: 1,
                            l_linger: 0,
                        };
                        nix::sys::socket::setsockopt(&c, linger, &zero).unwrap();
                    }
                    drop(c);
                }
            });
            rt.block_on(async {
                let listener = vpoll_netstack::tokio::TcpListener::from_std(listener).unwrap();
                let mut tasks = Vec::new();
                for _ in 0..served {
                    let (conn, _) = listener.accept().await.unwrap();
                    let errors = std::sync::Arc::clone(&errors);
                    tasks.push(tokio::spawn(async move {
                        let done = hyper::server::conn::http1::Builder::new()
                            .serve_connection(
                                hyper_util::rt::TokioIo::new(conn),
                                hyper::service::service_fn(hyper_answer),
                            )
                            .await;
                        if let Err(e) = done {
                            errors.lock().unwrap().push(format!("{e:?}"));
                        }
                    }));
                }
                for t in tasks {
                    t.await.unwrap();
                }
            });
        });
        let errors = errors.lock().unwrap();
        assert!(
            errors.is_empty(),
            "{backend}: {} errors: {:?}",
            errors.len(),
            &errors[..errors.len().min(3)]
        );
        eprintln!("{backend}: {served} connections served, no error");
    }
}
