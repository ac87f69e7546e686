// SPDX-License-Identifier: MIT OR Apache-2.0

//! P6, natively on the host: our emulation backend against the emulation of
//! Debian's C `libvpoll0`, operation by operation, through our Rust API and
//! through our C ABI (`libvpoll.so.0` from `vpoll-capi`, next to this
//! program), with the bare `send`+`recv` floor of any socket-pair emulation.
//! Both C libraries are loaded at run time, each with its own symbols, so
//! building this needs neither.
//!
//! ```text
//! vpoll-bench-emulation [--runs N] MODE
//! ```
//!
//! Wall-clock time on a shared machine is noisy: N runs (default 7), each
//! in a process of its own (`--run`) measuring every subject in turn; each
//! row is the median of the runs' ratios, with their spread.
#![allow(unsafe_code)] // the C libraries are loaded and called through raw symbols

use libloading::{Library, Symbol};
use serde::{Deserialize, Serialize};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use vpoll::{Backend, Events, Vpoll};
use vpoll_bench::measure::{median, ns_per_op};
use vpoll_bench::record::{Ratio, Subject, Target};

const VPOLL_CTL_ADDEVENTS: libc::c_int = 1;
const VPOLL_CTL_DELEVENTS: libc::c_int = 2;
const VPOLL_CTL_SETEVENTS: libc::c_int = 3;
const IN: u32 = libc::EPOLLIN as u32;
const OUT: u32 = libc::EPOLLOUT as u32;
const HUP: u32 = libc::EPOLLHUP as u32;
const PRI: u32 = libc::EPOLLPRI as u32;

type Create = unsafe extern "C" fn(u32, libc::c_int) -> libc::c_int;
type Ctl = unsafe extern "C" fn(libc::c_int, libc::c_int, u32) -> libc::c_int;
type Close = unsafe extern "C" fn(libc::c_int) -> libc::c_int;

fn fail(msg: String) -> ! {
    eprintln!("vpoll-bench-emulation: {msg}");
    std::process::exit(1);
}

/// The operations measured: each is a pair of changes (or a whole life) that
/// ends where it started, so it can repeat.
#[derive(Clone, Copy)]
enum Operation {
    /// ADD IN, DEL IN: what a stack does most.
    AddDelIn,
    /// SET IN, SET 0.
    Set,
    /// DEL OUT, ADD OUT (a full send path and back).
    OutClearedRestored,
    /// Create, ADD HUP, close.
    HupLife,
    /// ADD PRI, DEL PRI (ours only: the C library ignores PRI).
    AddDelPri,
}

impl Operation {
    fn what(self) -> &'static str {
        match self {
            Operation::AddDelIn => "ADD+DEL IN",
            Operation::Set => "SET IN, SET 0",
            Operation::OutClearedRestored => "DEL OUT, ADD OUT",
            Operation::HupLife => "create, ADD HUP, close",
            Operation::AddDelPri => "ADD+DEL PRI",
        }
    }

    /// How many times one measurement repeats it.
    fn repeats(self) -> u64 {
        match self {
            Operation::HupLife => 50_000,
            _ => 200_000,
        }
    }

    /// The events its fd starts with.
    fn initial(self) -> u32 {
        match self {
            Operation::OutClearedRestored => OUT,
            _ => 0,
        }
    }

    /// Nanoseconds per repetition through the Rust API.
    fn rust(self) -> f64 {
        let make = |events: u32| {
            Vpoll::builder()
                .backend(Backend::Emulation)
                .events(Events::from_mask(events))
                .build()
                .unwrap_or_else(|e| fail(format!("our emulation: {e}")))
        };
        let vp = make(self.initial());
        let (inn, out, pri) = (Events::IN, Events::OUT, Events::PRI);
        match self {
            Operation::AddDelIn => ns_per_op(self.repeats(), || {
                vp.add(inn).unwrap();
                vp.del(inn).unwrap();
            }),
            Operation::Set => ns_per_op(self.repeats(), || {
                vp.set(inn).unwrap();
                vp.set(Events::empty()).unwrap();
            }),
            Operation::OutClearedRestored => ns_per_op(self.repeats(), || {
                vp.del(out).unwrap();
                vp.add(out).unwrap();
            }),
            Operation::HupLife => ns_per_op(self.repeats(), || {
                let vp = make(0);
                vp.add(Events::HUP).unwrap();
            }),
            Operation::AddDelPri => ns_per_op(self.repeats(), || {
                vp.add(pri).unwrap();
                vp.del(pri).unwrap();
            }),
        }
    }
}

/// A C library's vpoll functions, loaded from `path`.
struct CLib {
    name: &'static str,
    create: Create,
    ctl: Ctl,
    close: Close,
    _lib: Library,
}

impl CLib {
    fn load(name: &'static str, path: &Path, hint: &str) -> CLib {
        // SAFETY: loading a libvpoll runs its constructors, which only set
        // up its tables or probe for a backend; its symbols have the C
        // signatures of vpoll.h, declared above.
        let lib = unsafe { Library::new(path) }
            .unwrap_or_else(|e| fail(format!("{name} is needed: {e}; {hint}")));
        // SAFETY: as above; the pointers are used only while `_lib` lives.
        let (create, ctl, close) = unsafe {
            let create: Symbol<Create> = lib
                .get(b"vpoll_create\0")
                .unwrap_or_else(|e| fail(format!("{name}: {e}")));
            let ctl: Symbol<Ctl> = lib
                .get(b"vpoll_ctl\0")
                .unwrap_or_else(|e| fail(format!("{name}: {e}")));
            let close: Symbol<Close> = lib
                .get(b"vpoll_close\0")
                .unwrap_or_else(|e| fail(format!("{name}: {e}")));
            (*create, *ctl, *close)
        };
        CLib {
            name,
            create,
            ctl,
            close,
            _lib: lib,
        }
    }

    fn create(&self, events: u32) -> RawFd {
        // SAFETY: vpoll_create takes two integers.
        let fd = unsafe { (self.create)(events, libc::FD_CLOEXEC) };
        if fd < 0 {
            fail(format!(
                "{}: vpoll_create: {}",
                self.name,
                std::io::Error::last_os_error()
            ));
        }
        fd
    }

    fn ctl(&self, fd: RawFd, op: libc::c_int, events: u32) {
        // SAFETY: vpoll_ctl takes integers; `fd` is this library's own.
        let ret = unsafe { (self.ctl)(fd, op, events) };
        assert_eq!(ret, 0, "{}: vpoll_ctl({fd}, {op}, {events:#x})", self.name);
    }

    fn close(&self, fd: RawFd) {
        // SAFETY: `fd` is this library's own, closed once.
        unsafe { (self.close)(fd) };
    }

    /// Nanoseconds per repetition of `op`.
    fn run(&self, op: Operation) -> f64 {
        let fd = self.create(op.initial());
        let ns = match op {
            Operation::AddDelIn => ns_per_op(op.repeats(), || {
                self.ctl(fd, VPOLL_CTL_ADDEVENTS, IN);
                self.ctl(fd, VPOLL_CTL_DELEVENTS, IN);
            }),
            Operation::Set => ns_per_op(op.repeats(), || {
                self.ctl(fd, VPOLL_CTL_SETEVENTS, IN);
                self.ctl(fd, VPOLL_CTL_SETEVENTS, 0);
            }),
            Operation::OutClearedRestored => ns_per_op(op.repeats(), || {
                self.ctl(fd, VPOLL_CTL_DELEVENTS, OUT);
                self.ctl(fd, VPOLL_CTL_ADDEVENTS, OUT);
            }),
            Operation::HupLife => ns_per_op(op.repeats(), || {
                let fd = self.create(0);
                self.ctl(fd, VPOLL_CTL_ADDEVENTS, HUP);
                self.close(fd);
            }),
            Operation::AddDelPri => ns_per_op(op.repeats(), || {
                self.ctl(fd, VPOLL_CTL_ADDEVENTS, PRI);
                self.ctl(fd, VPOLL_CTL_DELEVENTS, PRI);
            }),
        };
        self.close(fd);
        ns
    }
}

/// What kind of fd `fd` is, from its /proc link.
fn link(fd: RawFd) -> String {
    std::fs::read_link(format!("/proc/self/fd/{fd}"))
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}

/// Our C ABI, built next to this program (`cargo build --release -p vpoll-capi`).
fn our_c_abi() -> PathBuf {
    std::env::current_exe()
        .map(|exe| exe.with_file_name("libvpoll_capi.so"))
        .unwrap_or_else(|e| fail(format!("where am I: {e}")))
}

/// The operations with a row each, and their goals: through the Rust API
/// every change at least as fast as the C library's (ADD+DEL IN: 1.10,
/// issue 14's goal, with the floor from the same runs beside it for how
/// close a socket pair lets any emulation come); through the C ABI, which
/// proves on every call that the program's fd number still names the fd it
/// made (one more system call than the C library, which does not), ADD+DEL
/// IN at 0.80 and the rest at 0.95.
const OPERATIONS: [(Operation, f64, f64); 4] = [
    (Operation::AddDelIn, 1.10, 0.80),
    (Operation::Set, 1.0, 0.95),
    (Operation::OutClearedRestored, 1.0, 0.95),
    (Operation::HupLife, 1.0, 0.95),
];

/// One run's nanoseconds per repetition, all measured in one process.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Run {
    /// Per operation of [`OPERATIONS`].
    ops: [Subjects; 4],
    /// ADD+DEL IN and ADD+DEL PRI, ours, where this kernel has urgent data.
    pri: Option<(f64, f64)>,
}

/// One operation's subjects in one run.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Subjects {
    /// Ours through the Rust API.
    rust: f64,
    /// Ours through the C ABI.
    ours_c: f64,
    /// Debian's C library.
    c: f64,
    /// The bare send+recv floor (ADD+DEL IN only).
    floor: Option<f64>,
}

/// Picks one subject's figure out of [`Subjects`].
type Of = fn(&Subjects) -> f64;

impl Run {
    /// Measures one run, alternating the subjects.
    fn measure() -> Run {
        let debian = CLib::load(
            "Debian's libvpoll0",
            Path::new("libvpoll.so.0"),
            "try: apt-get install libvpoll0",
        );
        let ours = CLib::load(
            "our libvpoll.so.0",
            &our_c_abi(),
            "try: cargo build --release -p vpoll-capi",
        );
        for lib in [&debian, &ours] {
            let fd = lib.create(0);
            if !link(fd).starts_with("socket:") {
                fail(format!(
                    "{} did not pick its emulation here (its fd is {})",
                    lib.name,
                    link(fd)
                ));
            }
            lib.close(fd);
        }
        let (a, b) = socket_pair();
        // The floor goes in ADD+DEL IN's alternation, against the same C
        // library run, so that its row and theirs are read side by side.
        let ops = OPERATIONS.map(|(op, _, _)| Subjects {
            rust: op.rust(),
            ours_c: ours.run(op),
            c: debian.run(op),
            floor: matches!(op, Operation::AddDelIn)
                .then(|| ns_per_op(op.repeats(), || send_recv(&a, &b))),
        });
        let with_pri = Vpoll::builder()
            .backend(Backend::Emulation)
            .build()
            .is_ok_and(|vp| vp.backend().deliverable().contains(Events::PRI));
        let pri = with_pri.then(|| (Operation::AddDelIn.rust(), Operation::AddDelPri.rust()));
        Run { ops, pri }
    }

    /// The run as one line for the parent.
    fn line(&self) -> String {
        let json = serde_json::to_string(self).expect("a Run serialises");
        format!("{RUN_MARKER} {json}")
    }

    /// Reads [`Run::line`] back.
    fn parse(line: &str) -> Option<Run> {
        serde_json::from_str(line.strip_prefix(RUN_MARKER)?.trim()).ok()
    }
}

/// What a run prints, before its numbers.
const RUN_MARKER: &str = "VPOLL-P6-RUN";

/// Runs one [`Run`] in a process of its own. Within one process every
/// subject kept its speed (spreads of 1–2%), but between processes ours
/// through the C ABI took about 2,300 or about 2,550 ns per ADD+DEL IN (1
/// process in 3 or 4, whatever the CPU and without ASLR), and the C library
/// 1,870 or 2,000–2,170: a run per process lets the median see that.
fn run_in_child() -> Run {
    let exe = std::env::current_exe().unwrap_or_else(|e| fail(format!("where am I: {e}")));
    let out = std::process::Command::new(&exe)
        .arg("--run")
        .stderr(std::process::Stdio::inherit())
        .output()
        .unwrap_or_else(|e| fail(format!("{}: {e}", exe.display())));
    if !out.status.success() {
        fail(format!("a run failed ({})", out.status));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(Run::parse)
        .unwrap_or_else(|| fail(format!("a run printed no result: {text}")))
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--run") {
        println!("{}", Run::measure().line());
        return;
    }
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

    let all: Vec<Run> = (0..runs).map(|_| run_in_child()).collect();
    for (i, (op, rust_goal, c_goal)) in OPERATIONS.into_iter().enumerate() {
        let unit = if matches!(op, Operation::HupLife) {
            "lives/s"
        } else {
            "pairs/s"
        };
        let runs = all.iter().map(|r| &r.ops[i]);
        let per_s =
            |of: fn(&Subjects) -> f64| -> Vec<f64> { runs.clone().map(|s| 1e9 / of(s)).collect() };
        let vs_c =
            |of: fn(&Subjects) -> f64| -> Vec<f64> { runs.clone().map(|s| s.c / of(s)).collect() };
        let c = Subject::new("C libvpoll emulation", median(&mut per_s(|s| s.c)), unit);
        let ours: [(&str, Of, f64); 2] = [
            ("Rust API", |s| s.rust, rust_goal),
            ("C ABI", |s| s.ours_c, c_goal),
        ];
        for (how, of, goal) in ours {
            print_row(
                &format!(
                    "emulation, {}: ours ({how}) vs Debian's C libvpoll",
                    op.what()
                ),
                Subject::new(
                    format!("vpoll emulation, {how}"),
                    median(&mut per_s(of)),
                    unit,
                ),
                c.clone(),
                Some(Target::AtLeast(goal)),
                &mut vs_c(of),
                &mode,
            );
        }
        if matches!(op, Operation::AddDelIn) {
            let floor = |s: &Subjects| s.floor.unwrap_or(f64::NAN);
            print_row(
                "context: bare send+recv of a byte on a socket pair (any emulation's floor) vs the C library's ADD+DEL IN, in ADD+DEL IN's runs",
                Subject::new("bare send+recv", median(&mut per_s(floor)), unit),
                c,
                None,
                &mut vs_c(floor),
                &mode,
            );
        }
    }

    // Context: PRI, which only ours shows (where the kernel has AF_UNIX
    // urgent data), against IN.
    let pri: Vec<(f64, f64)> = all.iter().filter_map(|r| r.pri).collect();
    if !pri.is_empty() {
        print_row(
            "context: ADD+DEL PRI (urgent data; the C library ignores PRI) vs ADD+DEL IN, ours",
            Subject::new(
                "vpoll emulation, PRI",
                median(&mut pri.iter().map(|p| 1e9 / p.1).collect::<Vec<_>>()),
                "pairs/s",
            ),
            Subject::new(
                "vpoll emulation, IN",
                median(&mut pri.iter().map(|p| 1e9 / p.0).collect::<Vec<_>>()),
                "pairs/s",
            ),
            None,
            &mut pri.iter().map(|p| p.0 / p.1).collect::<Vec<_>>(),
            &mode,
        );
    }
    n3(runs, &mode);
}

/// N3, churn (`vpoll_bench::churn`): a live connection's requests per
/// second after 100,000 connections accepted and closed, against a fresh
/// stack's; and what an idle connection and a TIME-WAIT one hold.
fn n3(runs: usize, mode: &str) {
    let c = vpoll_bench::churn::churn(100_000, 20_000, runs);
    let rows = [
        Ratio::of(
            "N3",
            "churn: requests/s (64 bytes) on a live connection after 100,000 connections accepted and closed vs on a fresh stack",
            Subject::new("after the churn", c.after, "req/s"),
            Subject::new("fresh", c.fresh, "req/s"),
            Some(Target::AtLeast(0.9)),
            mode,
        ),
        Ratio::of(
            "N3",
            "heap held by a connection in TIME-WAIT vs by an idle established one (64 + 64 KiB buffers)",
            Subject::new("TIME-WAIT", c.time_wait, "bytes"),
            Subject::new("idle established", c.established, "bytes"),
            None,
            mode,
        ),
    ];
    for row in rows {
        println!("{}", row.line());
    }
}

/// Prints one P6 row: the subjects' medians, and the median of the
/// per-run `ratios` with their spread.
fn print_row(
    what: &str,
    ours: Subject,
    peer: Subject,
    target: Option<Target>,
    ratios: &mut [f64],
    mode: &str,
) {
    let mut ratio = Ratio::of("P6", what, ours, peer, target, mode);
    ratio.ratio = median(ratios);
    ratio.spread = Some((ratios[0], ratios[ratios.len() - 1]));
    println!("{}", ratio.line());
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_crosses_to_the_parent_whole() {
        let subjects = |i: u32, floor| Subjects {
            rust: 1.5 + f64::from(i),
            ours_c: 2.25,
            c: 3.0,
            floor,
        };
        for pri in [Some((5.0, 6.5)), None] {
            let run = Run {
                ops: [
                    subjects(0, Some(4.0)),
                    subjects(1, None),
                    subjects(2, None),
                    subjects(3, None),
                ],
                pri,
            };
            assert_eq!(Run::parse(&run.line()), Some(run));
        }
        assert!(Run::parse("VPOLL-P6-RUN {}").is_none());
        assert!(Run::parse("something else").is_none());
    }
}
