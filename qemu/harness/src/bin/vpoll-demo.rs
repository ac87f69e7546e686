// SPDX-License-Identifier: MIT OR Apache-2.0

//! Shows synthetic events arriving: a thread waits in `epoll_wait` on a
//! `/dev/vpoll` fd (through the `vpoll` crate) while the main thread injects
//! events by ioctl and by the `EFD_VPOLL` write protocol; then plain `poll()`
//! sees the final mask and fdinfo shows it. Run in the guest by `qemu/vm demo`.

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags};
use std::os::fd::{AsFd, AsRawFd};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use vpoll::abi::EFD_VPOLL_DELEVENTS;
use vpoll::{Backend, Events, Vpoll};

type Step = (&'static str, fn(&Vpoll) -> vpoll::Result<Events>);

const STEPS: &[Step] = &[
    ("ioctl(VPOLL_IO_ADDEVENTS, IN)", |v| v.add(Events::IN)),
    (
        "ioctl(VPOLL_IO_ADDEVENTS, OUT)   (not awaited: no wakeup)",
        |v| v.add(Events::OUT),
    ),
    ("ioctl(VPOLL_IO_ADDEVENTS, PRI)", |v| v.add(Events::PRI)),
    ("write(EFD_VPOLL_DELEVENTS | IN)  (DEL never wakes)", |v| {
        let command = EFD_VPOLL_DELEVENTS | u64::from(Events::IN.bits());
        nix::unistd::write(v.as_fd(), &command.to_ne_bytes()).expect("write");
        v.events()
    }),
    ("ioctl(VPOLL_IO_SETEVENTS, RDHUP|HUP)", |v| {
        v.set(Events::RDHUP | Events::HUP)
    }),
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let start = Instant::now();
    let stamp = move || format!("[{:7.3}s]", start.elapsed().as_secs_f64());
    let vp = Vpoll::builder()
        .backend(Backend::Device)
        .build()
        .map_err(|e| format!("{e} (is vpoll.ko loaded?)"))?;
    let fd = vp.as_raw_fd();
    println!(
        "{} opened /dev/vpoll as fd {fd}; its mask is {}",
        stamp(),
        vp.events()?
    );

    let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)?;
    let interest = EpollFlags::from(Events::IN | Events::PRI | Events::RDHUP) | EpollFlags::EPOLLET;
    epoll.add(vp.as_fd(), EpollEvent::new(interest, 0))?;
    println!(
        "{} waiter thread: epoll_wait, edge-triggered, for IN|PRI|RDHUP",
        stamp()
    );

    let want = [
        Events::IN,
        Events::IN | Events::PRI,
        Events::RDHUP | Events::HUP,
    ];
    let (tx, rx) = mpsc::channel();
    std::thread::scope(|s| -> Result<(), vpoll::Error> {
        s.spawn(|| {
            for _ in 0..want.len() {
                let mut ev = [EpollEvent::empty()];
                let n = epoll.wait(&mut ev, 10_000u16).expect("epoll_wait");
                let got = if n == 1 {
                    Events::from(ev[0].events())
                } else {
                    Events::empty()
                };
                println!("{} waiter thread: woke with {got}", stamp());
                tx.send(got).expect("the main thread waits for this");
            }
        });
        for (what, step) in STEPS {
            std::thread::sleep(Duration::from_millis(200));
            println!("{} main thread: {what} -> mask {}", stamp(), step(&vp)?);
        }
        Ok(())
    })?;
    let woke: Vec<Events> = rx.try_iter().collect();

    let mut fds = [PollFd::new(vp.as_fd(), PollFlags::POLLIN)];
    let n = poll(&mut fds, PollTimeout::ZERO)?;
    let revents = fds[0]
        .revents()
        .map(Events::from)
        .unwrap_or_else(Events::empty);
    println!(
        "{} poll(fd, POLLIN, 0) -> {n}, revents {revents} (HUP is always reported)",
        stamp()
    );
    let fdinfo = std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}"))?;
    let line = fdinfo
        .lines()
        .find(|l| l.starts_with(vpoll::abi::FDINFO_KEY))
        .unwrap_or("(none)");
    println!("{} /proc/self/fdinfo/{fd}: {line}", stamp());

    if woke == want {
        println!(
            "vpoll demo: all {} wakeups arrived exactly as injected",
            want.len()
        );
        Ok(())
    } else {
        let got: Vec<_> = woke.iter().map(ToString::to_string).collect();
        Err(format!("vpoll demo: wakeups were {got:?}, expected IN, IN|PRI, HUP|RDHUP").into())
    }
}
