// SPDX-License-Identifier: MIT OR Apache-2.0

//! P6, natively on the host: our emulation backend against the emulation of
//! Debian's C `libvpoll0` (loaded at run time, so building this needs no C
//! library), both raising and clearing IN on a socket pair.
//!
//! ```text
//! vpoll-bench-emulation [--runs N] MODE
//! ```
//!
//! Wall-clock time on a shared machine is noisy: each side is measured N
//! times (default 7), alternating, and the median ratio is reported with its
//! spread.

use libloading::{Library, Symbol};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use vpoll::{Backend, Events, Vpoll};
use vpoll_bench::measure::{median, ns_per_op};
use vpoll_bench::record::{Ratio, Subject, Target};

const PAIRS: u64 = 200_000;
const VPOLL_CTL_ADDEVENTS: libc::c_int = 1;
const VPOLL_CTL_DELEVENTS: libc::c_int = 2;

type Create = unsafe extern "C" fn(u32, libc::c_int) -> libc::c_int;
type Ctl = unsafe extern "C" fn(libc::c_int, libc::c_int, u32) -> libc::c_int;

fn fail(msg: String) -> ! {
    eprintln!("vpoll-bench-emulation: {msg}");
    std::process::exit(1);
}

/// What kind of fd `fd` is, from its /proc link.
fn link(fd: RawFd) -> String {
    std::fs::read_link(format!("/proc/self/fd/{fd}"))
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut runs = 7;
    if args.first().map(String::as_str) == Some("--runs") {
        runs = args
            .get(1)
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| fail("--runs N".into()));
        args.drain(..2);
    }
    let mode = args
        .first()
        .cloned()
        .unwrap_or_else(|| fail("usage: vpoll-bench-emulation [--runs N] MODE".into()));

    // SAFETY: loading Debian's libvpoll runs its constructor, which only
    // probes for a backend; its symbols have the C signatures declared above
    // (vpoll.h).
    let lib = unsafe { Library::new("libvpoll.so.0") }.unwrap_or_else(|e| {
        fail(format!(
            "Debian's libvpoll0 is needed as the peer: {e}; try: apt-get install libvpoll0"
        ))
    });
    // SAFETY: as above.
    let (create, ctl): (Symbol<Create>, Symbol<Ctl>) = unsafe {
        (
            lib.get(b"vpoll_create\0")
                .unwrap_or_else(|e| fail(e.to_string())),
            lib.get(b"vpoll_ctl\0")
                .unwrap_or_else(|e| fail(e.to_string())),
        )
    };
    // SAFETY: vpoll_create takes two integers.
    let cfd = unsafe { create(0, libc::FD_CLOEXEC) };
    if cfd < 0 {
        fail(format!("vpoll_create: {}", std::io::Error::last_os_error()));
    }
    if !link(cfd).starts_with("socket:") {
        fail(format!(
            "the C library did not pick its emulation here (its fd is {})",
            link(cfd)
        ));
    }
    let ours = Vpoll::builder()
        .backend(Backend::Emulation)
        .build()
        .unwrap();

    let (mut o, mut c, mut r) = (Vec::new(), Vec::new(), Vec::new());
    let (mut floor, mut floor_r) = (Vec::new(), Vec::new());
    let (a, b) = socket_pair();
    for _ in 0..runs {
        let ours_ns = ns_per_op(PAIRS, || {
            ours.add(Events::IN).unwrap();
            ours.del(Events::IN).unwrap();
        });
        // SAFETY: cfd is the C library's own vpoll fd; ctl takes integers.
        let c_ns = ns_per_op(PAIRS, || unsafe {
            assert_eq!(ctl(cfd, VPOLL_CTL_ADDEVENTS, libc::EPOLLIN as u32), 0);
            assert_eq!(ctl(cfd, VPOLL_CTL_DELEVENTS, libc::EPOLLIN as u32), 0);
        });
        // The floor of any socket-pair emulation: one send and one recv.
        let floor_ns = ns_per_op(PAIRS, || {
            send_recv(&a, &b);
        });
        o.push(1e9 / ours_ns);
        c.push(1e9 / c_ns);
        r.push(c_ns / ours_ns);
        floor.push(1e9 / floor_ns);
        floor_r.push(c_ns / floor_ns);
    }
    let mut ratio = Ratio::of(
        "P6",
        "emulation: ADD+DEL IN pairs per second, ours vs Debian's C libvpoll",
        Subject::new("vpoll emulation", median(&mut o), "pairs/s"),
        Subject::new("C libvpoll emulation", median(&mut c), "pairs/s"),
        Some(Target::AtLeast(1.5)),
        &mode,
    );
    ratio.ratio = median(&mut r);
    ratio.spread = Some((r[0], r[r.len() - 1]));
    println!("{}", ratio.line());

    let c_median = ratio.peer.value;
    let mut context = Ratio::of(
        "P6",
        "context: bare send+recv of a byte on a socket pair (any emulation's floor) vs the C library",
        Subject::new("bare send+recv", median(&mut floor), "pairs/s"),
        Subject::new("C libvpoll emulation", c_median, "pairs/s"),
        None,
        &mode,
    );
    context.ratio = median(&mut floor_r);
    context.spread = Some((floor_r[0], floor_r[floor_r.len() - 1]));
    println!("{}", context.line());
}

fn socket_pair() -> (OwnedFd, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: room for two fds.
    let ret = unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    };
    assert_eq!(ret, 0, "socketpair");
    // SAFETY: two new fds that nobody else owns.
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

/// One byte from `from` to `to`, and read back: what raising and clearing IN
/// cost at least.
fn send_recv(from: &OwnedFd, to: &OwnedFd) {
    let mut byte = [0u8; 1];
    // SAFETY: one-byte buffers on open sockets.
    unsafe {
        assert_eq!(
            libc::send(
                from.as_raw_fd(),
                b"v".as_ptr().cast(),
                1,
                libc::MSG_DONTWAIT
            ),
            1
        );
        assert_eq!(
            libc::recv(
                to.as_raw_fd(),
                byte.as_mut_ptr().cast(),
                1,
                libc::MSG_DONTWAIT
            ),
            1
        );
    }
}
