// SPDX-License-Identifier: MIT OR Apache-2.0

//! N1, readiness at scale: a server on a user-level stack holds N
//! established connections, one of them active. What does the program's
//! event loop pay per event it is handed?
//!
//! - **vpoll**: each socket is an fd; `epoll_wait` names the ready one, the
//!   program reads it.
//! - **shared eventfd**: what a stack without vpoll must do: one fd for "some
//!   socket changed" ([`Stack::activity_fd`]); the program wakes and asks
//!   every socket.
//!
//! Only the program's thread is measured (its CPU time,
//! `CLOCK_THREAD_CPUTIME_ID`): the stack's own work is the same in both.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::mpsc;
use std::thread;

use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use nix::sys::resource::{getrlimit, setrlimit, Resource};
use nix::time::{clock_gettime, ClockId};
use vpoll::Backend;
use vpoll_netstack::{Error, Link, Stack, TcpListener, TcpStream};
use vpoll_tests::waiter::thread_state;

/// The two loops' cost per delivered event.
#[derive(Debug, Clone, Copy)]
pub struct Costs {
    /// Nanoseconds of the program's CPU per event, waiting on vpoll fds.
    pub vpoll: f64,
    /// The same, waiting on one shared eventfd and asking every socket.
    pub shared: f64,
}

/// N established connections between two stacks joined by a link.
struct World {
    // Dropped in this order: streams before their stacks.
    servers: Vec<TcpStream>,
    clients: Vec<TcpStream>,
    _listener: TcpListener,
    server: Stack,
    _client: Stack,
}

fn thread_cpu_ns() -> u64 {
    let t = clock_gettime(ClockId::CLOCK_THREAD_CPUTIME_ID).expect("CLOCK_THREAD_CPUTIME_ID");
    t.tv_sec() as u64 * 1_000_000_000 + t.tv_nsec() as u64
}

/// Room for `fds` open files, raising the hard limit too where allowed.
pub fn want_fds(fds: u64) -> Result<(), String> {
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).map_err(|e| e.to_string())?;
    if soft >= fds {
        return Ok(());
    }
    let hard = hard.max(fds);
    setrlimit(Resource::RLIMIT_NOFILE, fds, hard)
        .or_else(|_| setrlimit(Resource::RLIMIT_NOFILE, soft.max(fds.min(hard)), hard))
        .map_err(|e| format!("RLIMIT_NOFILE to {fds}: {e}"))
}

impl World {
    fn new(n: usize, backend: Option<Backend>) -> Result<World, Error> {
        let (la, lb) = Link::pair()?;
        let build = |link, ip: &str| {
            let mut b = Stack::builder(link)
                .address(ip.parse().expect("an address"), 16)
                .tcp_buffers(2048, 2048)
                .activity_fd(true);
            if let Some(backend) = backend {
                b = b.backend(backend);
            }
            b.start()
        };
        let server = build(la, "10.1.0.1")?;
        let client = build(lb, "10.1.0.2")?;
        let at = "10.1.0.1:7".parse().expect("an address");
        let listener = TcpListener::bind_with_backlog(&server, at, n)?;
        let mut clients = Vec::with_capacity(n);
        let mut servers = Vec::with_capacity(n);
        // In batches, so that the backlog never overflows.
        for chunk in (0..n).collect::<Vec<_>>().chunks(256) {
            for _ in chunk {
                clients.push(TcpStream::connect_nonblocking(&client, at)?);
            }
            for _ in chunk {
                let (s, _) = listener.accept()?;
                s.set_nonblocking(true);
                servers.push(s);
            }
        }
        Ok(World {
            servers,
            clients,
            _listener: listener,
            server,
            _client: client,
        })
    }
}

/// Runs `rounds` events through connection `active`: a client thread writes
/// one byte, `receive` (the program's loop) must find and read it. Each byte
/// is written only once the program sleeps in its wait, so that every event
/// reaches a sleeping program, as on a server whose connections are idle:
/// whether the program would otherwise still be awake when the event came
/// depends on how long the stacks take, not on how it waits.
fn drive(world: &World, active: usize, rounds: usize, mut receive: impl FnMut() -> u64) -> f64 {
    let (go, ready) = mpsc::sync_channel::<()>(0);
    let sender = &world.clients[active];
    let program = nix::unistd::gettid().as_raw();
    thread::scope(|s| {
        s.spawn(move || {
            for _ in 0..rounds {
                while thread_state(program) != Some('S') {
                    thread::yield_now();
                }
                sender.write_all(b"!").expect("the client writes");
                // The next byte only after the program took this one.
                if ready.recv().is_err() {
                    return;
                }
            }
        });
        let mut total = 0;
        for _ in 0..rounds {
            total += receive();
            go.send(()).expect("the client waits");
        }
        total as f64 / rounds as f64
    })
}

fn vpoll_loop(world: &World, active: usize, rounds: usize) -> f64 {
    let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC).expect("epoll");
    for (i, s) in world.servers.iter().enumerate() {
        epoll
            .add(s.as_fd(), EpollEvent::new(EpollFlags::EPOLLIN, i as u64))
            .expect("EPOLL_CTL_ADD");
    }
    let mut events = [EpollEvent::empty(); 64];
    drive(world, active, rounds, || {
        let start = thread_cpu_ns();
        let mut got = 0;
        while got == 0 {
            let n = epoll
                .wait(&mut events, EpollTimeout::NONE)
                .expect("epoll_wait");
            for ev in &events[..n] {
                let mut b = [0; 1];
                got += world.servers[ev.data() as usize].read(&mut b).unwrap_or(0);
            }
        }
        thread_cpu_ns() - start
    })
}

fn shared_loop(world: &World, active: usize, rounds: usize, activity: &OwnedFd) -> f64 {
    drive(world, active, rounds, || {
        let start = thread_cpu_ns();
        let mut got = 0;
        while got == 0 {
            let mut fds = [nix::poll::PollFd::new(
                activity.as_fd(),
                nix::poll::PollFlags::POLLIN,
            )];
            nix::poll::poll(&mut fds, nix::poll::PollTimeout::NONE).expect("poll");
            let mut counter = [0u8; 8];
            let _ = nix::unistd::read(activity, &mut counter);
            for s in &world.servers {
                let mut b = [0; 1];
                got += s.read(&mut b).unwrap_or(0);
            }
        }
        thread_cpu_ns() - start
    })
}

/// N1 at `n` connections: each loop's cost per event over `rounds` events.
pub fn readiness_at_scale(
    n: usize,
    rounds: usize,
    backend: Option<Backend>,
) -> Result<Costs, String> {
    // Each socket's fd (two on the emulation) on both stacks, and room.
    want_fds(4 * n as u64 + 1024)?;
    let world = World::new(n, backend).map_err(|e| format!("{n} connections: {e}"))?;
    let activity = world.server.activity_fd().ok_or("no activity fd")?;
    let active = n / 2;
    // Warm up both paths, then measure.
    vpoll_loop(&world, active, rounds / 10 + 1);
    let vpoll = vpoll_loop(&world, active, rounds);
    shared_loop(&world, active, rounds / 10 + 1, &activity);
    let shared = shared_loop(&world, active, rounds, &activity);
    let _ = activity.as_raw_fd();
    Ok(Costs { vpoll, shared })
}

/// N2's figures for one echo server.
#[derive(Debug, Clone, Copy)]
pub struct Echo {
    /// Wall-clock nanoseconds per round trip of 64 bytes.
    pub rtt: f64,
    /// CPU nanoseconds of the whole process per round trip.
    pub cpu: f64,
    /// vpoll mask changes per round trip (zero on kernel sockets).
    pub mask_updates: f64,
}

const ECHO_BYTES: usize = 64;

fn process_cpu_ns() -> f64 {
    let t = clock_gettime(ClockId::CLOCK_PROCESS_CPUTIME_ID).expect("CLOCK_PROCESS_CPUTIME_ID");
    t.tv_sec() as f64 * 1e9 + t.tv_nsec() as f64
}

/// A kernel client's round trips of 64 bytes to `server`, which `serve`
/// echoes on another thread.
fn echo_rounds(
    server: std::net::SocketAddr,
    rounds: usize,
    serve: impl FnOnce() + Send,
    updates: impl Fn() -> u64,
) -> Echo {
    thread::scope(|s| {
        s.spawn(serve);
        let mut c = std::net::TcpStream::connect(server).expect("the kernel client connects");
        c.set_nodelay(true).expect("TCP_NODELAY");
        let msg = [7u8; ECHO_BYTES];
        let mut back = [0u8; ECHO_BYTES];
        let mut round = |c: &mut std::net::TcpStream| {
            use std::io::{Read, Write};
            c.write_all(&msg).expect("the client writes");
            c.read_exact(&mut back).expect("the echo comes back");
        };
        for _ in 0..rounds / 10 + 1 {
            round(&mut c);
        }
        let (u0, cpu0, t0) = (updates(), process_cpu_ns(), std::time::Instant::now());
        for _ in 0..rounds {
            round(&mut c);
        }
        let wall = t0.elapsed().as_nanos() as f64;
        let (cpu, u) = (process_cpu_ns() - cpu0, updates() - u0);
        let n = rounds as f64;
        Echo {
            rtt: wall / n,
            cpu: cpu / n,
            mask_updates: u as f64 / n,
        }
    })
}

/// Echoes one connection through an epoll loop until EOF; `read` says
/// `None` for "would block".
fn epoll_echo<S: AsFd>(
    conn: &S,
    mut read: impl FnMut(&mut [u8]) -> Option<usize>,
    mut write: impl FnMut(&[u8]),
) {
    let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC).expect("epoll");
    epoll
        .add(conn.as_fd(), EpollEvent::new(EpollFlags::EPOLLIN, 0))
        .expect("EPOLL_CTL_ADD");
    let mut events = [EpollEvent::empty(); 4];
    let mut buf = [0u8; 4096];
    loop {
        epoll
            .wait(&mut events, EpollTimeout::NONE)
            .expect("epoll_wait");
        match read(&mut buf) {
            Some(0) => return,
            Some(n) => write(&buf[..n]),
            None => {}
        }
    }
}

/// N2, ours: the echo server on a user-level stack that owns the TAP
/// interface `tap`, waiting on its vpoll fd; the client is the kernel's TCP.
pub fn echo_user_level(tap: &str, rounds: usize) -> Result<Echo, String> {
    let link = Link::tap(tap).map_err(|e| e.to_string())?;
    ip("link set lo up")?;
    ip(&format!("link set {tap} up"))?;
    ip(&format!("addr add 10.8.0.1/24 dev {tap}"))?;
    let stack = Stack::builder(link)
        .address("10.8.0.2".parse().expect("an address"), 24)
        .start()
        .map_err(|e| e.to_string())?;
    let at: std::net::SocketAddr = "10.8.0.2:7".parse().expect("an address");
    let listener = TcpListener::bind(&stack, at).map_err(|e| e.to_string())?;
    let serve = || {
        let (conn, _) = listener.accept().expect("accept");
        conn.set_nonblocking(true);
        epoll_echo(
            &conn,
            |buf| match conn.read(buf) {
                Ok(n) => Some(n),
                Err(Error::WouldBlock) => None,
                Err(e) => panic!("read: {e}"),
            },
            |data| conn.write_all(data).expect("write"),
        );
    };
    Ok(echo_rounds(at, rounds, serve, || {
        stack.stats().mask_updates
    }))
}

/// Runs `ip ARGS`.
pub(crate) fn ip(args: &str) -> Result<(), String> {
    let ok = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("ip {args}"))
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        Ok(())
    } else {
        Err(format!("ip {args} failed"))
    }
}

/// N2, the peer: the same server and client on the kernel's TCP over
/// loopback (which [`echo_user_level`] brought up).
pub fn echo_kernel(rounds: usize) -> Echo {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind on loopback");
    let at = listener.local_addr().expect("local address");
    let serve = || {
        use std::io::{Read, Write};
        let (conn, _) = listener.accept().expect("accept");
        conn.set_nodelay(true).expect("TCP_NODELAY");
        epoll_echo(
            &conn,
            |buf| Some((&conn).read(buf).expect("read")),
            |data| (&conn).write_all(data).expect("write"),
        );
    };
    echo_rounds(at, rounds, serve, || 0)
}
