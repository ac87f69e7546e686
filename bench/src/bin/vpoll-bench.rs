// SPDX-License-Identifier: MIT OR Apache-2.0

//! The guest benchmarks (run by `qemu/vm bench` with both modules loaded):
//!
//! ```text
//! vpoll-bench [--runs N] MODE [P1 P2 P3 P4 P5 P7 P8 P9 N1 N2 N3 N4]
//! ```
//!
//! MODE names where it runs (it is copied into every result); with no ids,
//! every guest metric runs. `--runs N` repeats each measurement N times and
//! reports the median ratio with its spread (for the noisy multi-vCPU mode).
#![allow(unsafe_code)] // the measured operations are raw system calls

use std::os::fd::{AsRawFd, RawFd};
use std::thread;
use vpoll::{Backend, Events, Vpoll};
use vpoll_bench::fd::{Kind, Signal};
use vpoll_bench::measure::{median, ns_per_op};
use vpoll_bench::netstack;
use vpoll_bench::record::{Ratio, Subject, Target};

/// Syscall pairs per measurement: enough to dwarf the timer's cost.
const PAIRS: u64 = 20_000;
/// Round trips per ping-pong measurement.
const ROUND_TRIPS: u64 = 5_000;
/// The fd counts of P4 and the batch size of P5.
const MANY: usize = 100_000;

struct Bench {
    mode: String,
    runs: usize,
}

impl Bench {
    /// Measures `ours` and `peer` `runs` times (alternating) and reports
    /// the median ratio, with the spread when there is more than one run.
    fn ratio(
        &self,
        (id, what): (&str, &str),
        (ours_name, ours): (&str, &mut dyn FnMut() -> f64),
        (peer_name, peer): (&str, &mut dyn FnMut() -> f64),
        unit: &str,
        target: Option<Target>,
    ) {
        let (mut o, mut p, mut r) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..self.runs {
            let (a, b) = (ours(), peer());
            o.push(a);
            p.push(b);
            r.push(a / b);
        }
        // Targets are judged on the repeatable (instruction-count) figures;
        // repeated real-time runs are reported with their spread only.
        let target = if self.runs > 1 { None } else { target };
        let mut ratio = Ratio::of(
            id,
            what,
            Subject::new(ours_name, median(&mut o), unit),
            Subject::new(peer_name, median(&mut p), unit),
            target,
            &self.mode,
        );
        if self.runs > 1 {
            ratio.ratio = median(&mut r);
            ratio.spread = Some((r[0], r[r.len() - 1]));
        }
        println!("{}", ratio.line());
    }
}

/// Nanoseconds per raise+clear pair on a fresh fd of `kind`.
fn pair(kind: Kind) -> impl FnMut() -> f64 {
    move || {
        let s = Signal::open(kind).unwrap_or_else(|e| panic!("opening {}: {e}", kind.label()));
        ns_per_op(PAIRS, || {
            s.raise();
            s.clear();
        })
    }
}

/// Nanoseconds per raise+clear of `event` on a device fd while `waiters`
/// threads sleep in epoll_wait for IN on it (which never comes until the end).
fn beside_waiters(event: Events, waiters: usize) -> impl FnMut() -> f64 {
    move || {
        let vp = Vpoll::builder().backend(Backend::Device).build().unwrap();
        let fd = vp.as_raw_fd();
        let eps: Vec<RawFd> = (0..waiters).map(|_| epoll_with([fd])).collect();
        let ns = thread::scope(|s| {
            for &ep in &eps {
                s.spawn(move || wait_one(ep));
            }
            // Every waiter asleep before the measurement.
            thread::sleep(std::time::Duration::from_millis(200));
            let ns = ns_per_op(PAIRS, || {
                vp.add(event).unwrap();
                vp.del(event).unwrap();
            });
            vp.add(Events::IN).unwrap();
            ns
        });
        eps.into_iter().for_each(close);
        ns
    }
}

fn epoll_with(fds: impl IntoIterator<Item = RawFd>) -> RawFd {
    // SAFETY: plain syscalls with valid arguments.
    unsafe {
        let ep = libc::epoll_create1(libc::EPOLL_CLOEXEC);
        assert!(ep >= 0, "epoll_create1");
        for fd in fds {
            let mut ev = libc::epoll_event {
                events: libc::EPOLLIN as u32,
                u64: fd as u64,
            };
            assert_eq!(libc::epoll_ctl(ep, libc::EPOLL_CTL_ADD, fd, &mut ev), 0);
        }
        ep
    }
}

/// Blocks until `ep` reports one event.
fn wait_one(ep: RawFd) {
    let mut ev = libc::epoll_event { events: 0, u64: 0 };
    // SAFETY: room for one event.
    let n = unsafe { libc::epoll_wait(ep, &mut ev, 1, -1) };
    assert_eq!(n, 1, "epoll_wait");
}

fn close(fd: RawFd) {
    // SAFETY: the caller owns fd and closes it once.
    unsafe { libc::close(fd) };
}

/// Nanoseconds per round trip of two threads that wake each other through
/// epoll: each raises the other's fd, waits on its own, and clears it.
fn ping_pong(kind: Kind) -> impl FnMut() -> f64 {
    move || {
        let ping = Signal::open(kind).unwrap();
        let pong = Signal::open(kind).unwrap();
        let (ping_ep, pong_ep) = (
            epoll_with([ping.as_raw_fd()]),
            epoll_with([pong.as_raw_fd()]),
        );
        let ns = thread::scope(|s| {
            // The echo side: as many rounds as ns_per_op makes, warm-up included.
            s.spawn(|| {
                for _ in 0..ROUND_TRIPS + ROUND_TRIPS / 10 {
                    wait_one(pong_ep);
                    pong.clear();
                    ping.raise();
                }
            });
            ns_per_op(ROUND_TRIPS, || {
                pong.raise();
                wait_one(ping_ep);
                ping.clear();
            })
        });
        close(ping_ep);
        close(pong_ep);
        ns
    }
}

/// Nanoseconds to raise and collect one event on one of `n` vpoll fds in
/// one epoll set, and to clear it again.
fn one_of_many(n: usize) -> impl FnMut() -> f64 {
    move || {
        let fds: Vec<Signal> = (0..n)
            .map(|_| Signal::open(Kind::Vpoll).expect("opening /dev/vpoll (RLIMIT_NOFILE?)"))
            .collect();
        let ep = epoll_with(fds.iter().map(|s| s.as_raw_fd()));
        let hot = &fds[n / 2];
        let ns = ns_per_op(PAIRS, || {
            hot.raise();
            wait_one(ep);
            hot.clear();
        });
        close(ep);
        ns
    }
}

/// The kernel's slab memory in bytes (`Slab` of /proc/meminfo): where both
/// modules' objects and the files that hold them live.
fn slab_bytes() -> f64 {
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap();
    let kb: f64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("Slab:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("Slab in /proc/meminfo");
    kb * 1024.0
}

/// Bytes of slab memory per open fd for our module and for the C module: the
/// `Slab` growth over batches of [`MANY`] fds, alternating (ours, the C
/// module's, ours, …) and all kept open, so that neither reuses memory the
/// other freed and both see the same drift; the median batch of each. The fd
/// table is grown to its final size first, so that no batch pays for that.
/// Run it in a fresh process on a quiet kernel (`qemu/vm bench` does).
fn memory_per_fd() -> (f64, f64) {
    const ROUNDS: usize = 3;
    let top = (2 * ROUNDS * MANY + 64) as RawFd;
    // SAFETY: dup2 of stdin to an unused number, closed at once.
    unsafe {
        assert_eq!(libc::dup2(0, top), top, "growing the fd table");
        libc::close(top);
    }
    let mut open = Vec::new();
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        for (kind, bytes) in [(Kind::Vpoll, &mut ours), (Kind::CModule, &mut theirs)] {
            let before = slab_bytes();
            open.extend((0..MANY).map(|_| Signal::open(kind).unwrap()));
            bytes.push((slab_bytes() - before) / MANY as f64);
        }
    }
    drop(open);
    (median(&mut ours), median(&mut theirs))
}

/// Nanoseconds per `Vpoll::add` + `Vpoll::del` (device backend).
fn library_pair() -> impl FnMut() -> f64 {
    || {
        let vp = Vpoll::builder().backend(Backend::Device).build().unwrap();
        ns_per_op(PAIRS, || {
            vp.add(Events::IN).unwrap();
            vp.del(Events::IN).unwrap();
        })
    }
}

fn raise_fd_limit() {
    let limit = libc::rlimit {
        rlim_cur: 8 * MANY as libc::rlim_t,
        rlim_max: 8 * MANY as libc::rlim_t,
    };
    // SAFETY: a valid rlimit; root may raise the hard limit up to fs.nr_open.
    let ret = unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) };
    assert_eq!(ret, 0, "raising RLIMIT_NOFILE (run as root)");
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut runs = 1;
    if args.first().map(String::as_str) == Some("--runs") {
        runs = args.get(1).and_then(|n| n.parse().ok()).expect("--runs N");
        args.drain(..2);
    }
    let Some(mode) = args.first().cloned() else {
        eprintln!("usage: vpoll-bench [--runs N] MODE [P1 P2 P3 P4 P5 P7 P8 P9 N1 N2 N3 N4]");
        std::process::exit(2);
    };
    let ids = &args[1..];
    let wanted = |id: &str| ids.is_empty() || ids.iter().any(|i| i == id);
    let b = Bench { mode, runs };
    // N1 alone raises what it needs itself, so it also runs unprivileged.
    if ids.is_empty() || ids.iter().any(|i| i != "N1" && i != "N2") {
        raise_fd_limit();
    }

    let ns = "ns/op";
    if wanted("P1") {
        b.ratio(
            (
                "P1",
                "raise+clear one event: ioctl ADD+DEL vs eventfd write+read",
            ),
            ("vpoll ioctl ADD+DEL", &mut pair(Kind::Vpoll)),
            ("eventfd write+read", &mut pair(Kind::EventFd)),
            ns,
            Some(Target::AtMost(0.70)),
        );
        b.ratio(
            (
                "P1",
                "context: the C module's ioctl ADD+DEL vs eventfd write+read",
            ),
            ("C module ioctl ADD+DEL", &mut pair(Kind::CModule)),
            ("eventfd write+read", &mut pair(Kind::EventFd)),
            ns,
            None,
        );
        b.ratio(
            (
                "P1",
                "context: EFD_VPOLL write ADD+DEL vs eventfd write+read",
            ),
            ("EFD_VPOLL write ADD+DEL", &mut pair(Kind::EfdVpoll)),
            ("eventfd write+read", &mut pair(Kind::EventFd)),
            ns,
            None,
        );
    }
    if wanted("P2") {
        b.ratio(
            ("P2", "raise+clear one event: our ioctls vs the C module's"),
            ("vpoll ioctl ADD+DEL", &mut pair(Kind::Vpoll)),
            ("C module ioctl ADD+DEL", &mut pair(Kind::CModule)),
            ns,
            Some(Target::AtMost(1.00)),
        );
    }
    if wanted("P3") {
        b.ratio(
            ("P3", "wake latency: two threads ping-pong through epoll"),
            ("vpoll", &mut ping_pong(Kind::Vpoll)),
            ("eventfd", &mut ping_pong(Kind::EventFd)),
            "ns/round trip",
            Some(Target::AtMost(0.94)),
        );
        b.ratio(
            ("P3", "context: the C module's ping-pong vs eventfd"),
            ("C module", &mut ping_pong(Kind::CModule)),
            ("eventfd", &mut ping_pong(Kind::EventFd)),
            "ns/round trip",
            None,
        );
    }
    if wanted("P9") {
        for waiters in [1, 8] {
            b.ratio(
                (
                    "P9",
                    &format!(
                        "PRI's keyless wakeup (for io_uring): raise+clear PRI vs OUT, {waiters} epoll waiter(s) for IN asleep on the fd"
                    ),
                ),
                ("ADD+DEL PRI", &mut beside_waiters(Events::PRI, waiters)),
                ("ADD+DEL OUT", &mut beside_waiters(Events::OUT, waiters)),
                ns,
                None,
            );
        }
    }
    if wanted("P7") {
        b.ratio(
            ("P7", "the library's overhead: Vpoll::add+del vs raw ioctls"),
            ("Vpoll::add+del", &mut library_pair()),
            ("raw ioctl ADD+DEL", &mut pair(Kind::Vpoll)),
            ns,
            Some(Target::AtMost(1.02)),
        );
    }
    if wanted("N1") {
        n1(&b);
    }
    if wanted("N2") {
        n2(&b);
    }
    // The harness asks for N2; N3's HTTP rows are the same comparison.
    if wanted("N2") || wanted("N3") {
        n3_http(&b);
    }
    if wanted("N4") {
        n4(&b);
    }
    // The many-fd measurements last: freeing hundreds of thousands of files
    // keeps the kernel busy for a while, which would count in a later figure.
    if wanted("P4") {
        let mut one = one_of_many(1);
        b.ratio(
            (
                "P4",
                "raise+collect one event with 100k vpoll fds in one epoll vs 1",
            ),
            ("100k fds", &mut one_of_many(MANY)),
            ("1 fd", &mut one),
            ns,
            Some(Target::AtMost(1.2)),
        );
        b.ratio(
            ("P4", "context: the same with 1k vpoll fds vs 1"),
            ("1k fds", &mut one_of_many(1000)),
            ("1 fd", &mut one),
            ns,
            None,
        );
    }
    if wanted("P8") {
        p8(&b);
    }
    if wanted("P5") {
        let (ours, theirs) = memory_per_fd();
        b.ratio(
            (
                "P5",
                "kernel memory per open fd (MemFree delta over 100k fds)",
            ),
            ("vpoll", &mut || ours),
            ("C module", &mut || theirs),
            "bytes/fd",
            Some(Target::AtMost(1.00)),
        );
    }
}

/// How P8 changes many vpoll fds.
#[derive(Clone, Copy)]
enum Route {
    /// One `VPOLL_IO_BATCH` for all of them.
    Batch,
    /// One ioctl each.
    Singles,
    /// One `io_uring_enter` submitting an 8-byte `EFD_VPOLL` write to each.
    IoUring,
}

/// Nanoseconds per update when `n` device fds are each raised (ADD IN) and
/// then cleared (DEL IN) by `route`.
fn updates(n: usize, route: Route) -> impl FnMut() -> f64 {
    use vpoll::abi::ctl::{ADDEVENTS, DELEVENTS};
    use vpoll::abi::events::IN;
    use vpoll::abi::{EFD_VPOLL_ADDEVENTS, EFD_VPOLL_DELEVENTS};
    use vpoll_tests::device::{entry, Device};
    move || {
        let fds: Vec<Device> = (0..n)
            .map(|_| {
                let d = Device::open().expect("opening /dev/vpoll");
                // Non-blocking, as io_uring needs to write inline.
                let flags = nix::fcntl::OFlag::O_RDWR | nix::fcntl::OFlag::O_NONBLOCK;
                nix::fcntl::fcntl(&d, nix::fcntl::FcntlArg::F_SETFL(flags)).expect("O_NONBLOCK");
                d
            })
            .collect();
        let rounds = (PAIRS / n as u64).max(200);
        let ns = match route {
            Route::Batch => {
                let mut add: Vec<_> = fds.iter().map(|d| entry(d, ADDEVENTS, IN)).collect();
                let mut del: Vec<_> = fds.iter().map(|d| entry(d, DELEVENTS, IN)).collect();
                ns_per_op(rounds, || {
                    fds[0].batch(&mut add).expect("VPOLL_IO_BATCH");
                    fds[0].batch(&mut del).expect("VPOLL_IO_BATCH");
                })
            }
            Route::Singles => ns_per_op(rounds, || {
                for d in &fds {
                    d.add(IN);
                }
                for d in &fds {
                    d.del(IN);
                }
            }),
            Route::IoUring => {
                use io_uring::{opcode, types, IoUring};
                let commands = [
                    EFD_VPOLL_ADDEVENTS | u64::from(IN),
                    EFD_VPOLL_DELEVENTS | u64::from(IN),
                ];
                let mut ring =
                    IoUring::new((n as u32).next_power_of_two()).expect("io_uring_setup");
                ns_per_op(rounds, || {
                    for command in &commands {
                        for d in &fds {
                            let write = opcode::Write::new(
                                types::Fd(d.as_raw_fd()),
                                std::ptr::from_ref(command).cast(),
                                8,
                            )
                            .build();
                            // SAFETY: the fd and the 8-byte command outlive the
                            // request, which completes before this closure returns.
                            unsafe { ring.submission().push(&write) }.expect("room in the ring");
                        }
                        ring.submit_and_wait(n).expect("io_uring_enter");
                        for cqe in ring.completion() {
                            assert_eq!(cqe.result(), 8, "an EFD_VPOLL write by io_uring");
                        }
                    }
                })
            }
        };
        ns / (2 * n) as f64
    }
}

/// P8: `n` updates to `n` vpoll fds by one `VPOLL_IO_BATCH`, against `n`
/// ioctls, and for 64 against one `io_uring_enter` of 64 writes.
fn p8(b: &Bench) {
    let unit = "ns/update";
    for n in [1, 4, 16, 64, 256] {
        b.ratio(
            (
                "P8",
                &format!("{n} updates on {n} fds: one VPOLL_IO_BATCH vs {n} ioctls"),
            ),
            ("batch ioctl", &mut updates(n, Route::Batch)),
            ("single ioctls", &mut updates(n, Route::Singles)),
            unit,
            (n == 64).then_some(Target::AtMost(0.125)),
        );
    }
    b.ratio(
        (
            "P8",
            "64 updates on 64 fds: one VPOLL_IO_BATCH vs one io_uring_enter of 64 EFD_VPOLL writes",
        ),
        ("batch ioctl", &mut updates(64, Route::Batch)),
        ("io_uring writes", &mut updates(64, Route::IoUring)),
        unit,
        Some(Target::AtMost(1.0)),
    );
}

/// N1: the program's cost per event with N connections on a user-level
/// stack, vpoll fds against one shared eventfd (see `vpoll_bench::netstack`).
fn n1(b: &Bench) {
    const ROUNDS: usize = 2000;
    // VPOLL_N1_SIZES=10,100,1000 for a machine without room for 40k fds
    // (the emulation takes two per socket).
    let sizes: Vec<usize> = std::env::var("VPOLL_N1_SIZES").map_or_else(
        |_| vec![10, 100, 1000, 10_000],
        |v| {
            v.split(',')
                .map(|n| n.parse().expect("VPOLL_N1_SIZES: numbers"))
                .collect()
        },
    );
    let costs: Vec<_> = sizes
        .iter()
        .map(|&n| {
            let c = netstack::readiness_at_scale(n, ROUNDS, None)
                .unwrap_or_else(|e| panic!("N1 with {n} connections: {e}"));
            (n, c)
        })
        .collect();
    let unit = "ns/event";
    for &(n, c) in &costs {
        let big = n == 10_000;
        b.ratio(
            (
                "N1",
                &format!(
                    "readiness at scale, {n} connections (user-level TCP), one active: the program's CPU per event"
                ),
            ),
            ("epoll on vpoll fds", &mut || c.vpoll),
            ("shared eventfd, ask each", &mut || c.shared),
            unit,
            big.then_some(Target::AtMost(0.02)),
        );
    }
    let (first, last) = (costs[0], costs[costs.len() - 1]);
    b.ratio(
        (
            "N1",
            &format!(
                "flat: vpoll's cost per event at {} vs {} connections",
                last.0, first.0
            ),
        ),
        (&format!("{} connections", last.0), &mut || last.1.vpoll),
        (&format!("{} connections", first.0), &mut || first.1.vpoll),
        unit,
        Some(Target::AtMost(1.2)),
    );
}

/// N2: what a user-level stack costs, and vpoll's share of it: a kernel
/// client's 64-byte echo round trips to a server on the user-level stack
/// (over TAP, waiting on vpoll fds) against the same server on the kernel's
/// TCP over loopback.
fn n2(b: &Bench) {
    const ROUNDS: usize = 2000;
    let ours = netstack::echo_user_level("vpbench0", ROUNDS).unwrap_or_else(|e| panic!("N2: {e}"));
    let kernel = netstack::echo_kernel(ROUNDS);
    b.ratio(
        ("N2", "echo round trip (64 bytes) from a kernel client: server on the user-level stack over TAP vs on kernel TCP over loopback"),
        ("user-level stack", &mut || ours.rtt),
        ("kernel TCP", &mut || kernel.rtt),
        "ns/round trip",
        None,
    );
    // One mask change costs what an ADD or DEL ioctl costs: measured here.
    let per_update = {
        let vp = Vpoll::new().expect("a vpoll fd");
        ns_per_op(PAIRS, || {
            vp.add(Events::IN).expect("ADD");
            vp.del(Events::IN).expect("DEL");
        }) / 2.0
    };
    let vpoll_ns = ours.mask_updates * per_update;
    b.ratio(
        (
            "N2",
            &format!(
                "vpoll's share of the user-level echo's CPU time ({:.1} mask changes per round trip at {per_update:.0} ns)",
                ours.mask_updates
            ),
        ),
        ("vpoll mask changes", &mut || vpoll_ns),
        ("the whole process", &mut || ours.cpu),
        "ns/round trip",
        Some(Target::AtMost(0.10)),
    );
}

/// N3, HTTP (`vpoll_bench::http`): the same hyper server on the user-level
/// stack over TAP and on kernel TCP over loopback, kernel-TCP clients.
fn n3_http(b: &Bench) {
    use vpoll_bench::http::Plan;
    let ours =
        vpoll_bench::http::user_level("vpbench1", &Plan::N3).unwrap_or_else(|e| panic!("N3: {e}"));
    let kernel = vpoll_bench::http::kernel(&Plan::N3).unwrap_or_else(|e| panic!("N3: {e}"));
    let rows: [HttpRow; 6] = [
        (
            "HTTP/1.1 requests/s, hyper, 1 keep-alive connection: on the user-level stack over TAP vs on kernel TCP over loopback",
            |h| h.one.requests_per_second,
            "req/s",
            None,
        ),
        (
            "HTTP/1.1 requests/s, hyper, 50 keep-alive connections: on the user-level stack over TAP vs on kernel TCP over loopback",
            |h| h.fifty.map_or(0.0, |l| l.requests_per_second),
            "req/s",
            Some(Target::AtLeast(0.8)),
        ),
        (
            "CPU per request (the whole process: clients, server, stack, kernel), 50 connections: user-level stack vs kernel TCP",
            |h| h.fifty.map_or(0.0, |l| l.cpu_ns_per_request),
            "ns/req",
            None,
        ),
        (
            "CPU per request, 1 connection: user-level stack vs kernel TCP",
            |h| h.one.cpu_ns_per_request,
            "ns/req",
            None,
        ),
        (
            "bulk: 64 MiB from a kernel client to the server: user-level stack over TAP (MTU 65,000 as loopback's, 1 MiB socket buffers) vs kernel TCP over loopback",
            |h| h.bulk.to_server,
            "MB/s",
            Some(Target::AtLeast(0.5)),
        ),
        (
            "bulk: 64 MiB from the server to a kernel client: user-level stack over TAP (MTU 65,000, 1 MiB socket buffers) vs kernel TCP over loopback",
            |h| h.bulk.from_server,
            "MB/s",
            Some(Target::AtLeast(0.5)),
        ),
    ];
    http_rows(b, "N3", &ours, &kernel, &rows);
}

/// One row of an HTTP comparison: what, the figure, its unit, the goal.
type HttpRow = (
    &'static str,
    fn(&vpoll_bench::http::Http) -> f64,
    &'static str,
    Option<Target>,
);

/// Reports `rows` of the user-level stack's results against the kernel's.
fn http_rows(
    b: &Bench,
    id: &'static str,
    ours: &vpoll_bench::http::Http,
    kernel: &vpoll_bench::http::Http,
    rows: &[HttpRow],
) {
    for &(what, get, unit, target) in rows {
        b.ratio(
            (id, what),
            ("user-level stack", &mut || get(ours)),
            ("kernel TCP", &mut || get(kernel)),
            unit,
            target,
        );
    }
}

/// How many times N4 runs each side: random loss makes one transfer's
/// time a draw (one retransmission timeout more or less is a factor of
/// ten on 4 MiB), so the rows are the medians, with the spread of the
/// per-draw ratios.
const N4_DRAWS: u8 = 5;

/// N4, a bad network (`vpoll_bench::http`, [`Plan::bad_network`]): the
/// same servers, a 20 ms round trip and 1 % of the client's packets lost,
/// by netem on both paths; [`N4_DRAWS`] draws of each, alternating.
fn n4(b: &Bench) {
    use vpoll_bench::http::Plan;
    let (mut ours, mut kernel) = (Vec::new(), Vec::new());
    for draw in 0..N4_DRAWS {
        // A TAP and a subnet of its own for each draw.
        let plan = Plan::bad_network(2 + draw);
        ours.push(
            vpoll_bench::http::user_level(&format!("vpbench{}", 2 + draw), &plan)
                .unwrap_or_else(|e| panic!("N4: {e}")),
        );
        kernel.push(vpoll_bench::http::kernel(&plan).unwrap_or_else(|e| panic!("N4: {e}")));
    }
    let rows: [HttpRow; 3] = [
        (
            "bad network (20 ms round trip, 1 % loss, MTU 1,500 both; on loopback the server's packets, ACKs included, are lost too): 4 MiB from a kernel client to the server, median of 5 draws: user-level stack over TAP (1 MiB socket buffers) vs kernel TCP over loopback",
            |h| h.bulk.to_server,
            "MB/s",
            Some(Target::AtLeast(0.5)),
        ),
        (
            "bad network: HTTP/1.1 requests/s, hyper, 1 keep-alive connection (the inverse of the request latency), median of 5 draws",
            |h| h.one.requests_per_second,
            "req/s",
            None,
        ),
        (
            "bad network: segments the kernel's client sent again during the 4 MiB upload, median of 5 draws",
            |h| h.bulk.kernel_retransmissions as f64,
            "segments",
            None,
        ),
    ];
    for &(what, get, unit, target) in &rows {
        let mut o: Vec<f64> = ours.iter().map(get).collect();
        let mut p: Vec<f64> = kernel.iter().map(get).collect();
        // A draw whose kernel side sent nothing again has no ratio.
        let mut draws: Vec<f64> = o
            .iter()
            .zip(&p)
            .map(|(a, b)| a / b)
            .filter(|r| r.is_finite())
            .collect();
        draws.sort_by(f64::total_cmp);
        let mut ratio = Ratio::of(
            "N4",
            what,
            Subject::new("user-level stack", median(&mut o), unit),
            Subject::new("kernel TCP", median(&mut p), unit),
            target,
            &b.mode,
        );
        ratio.spread = draws.first().zip(draws.last()).map(|(&lo, &hi)| (lo, hi));
        println!("{}", ratio.line());
    }
}
