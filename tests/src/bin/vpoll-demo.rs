// SPDX-License-Identifier: MIT OR Apache-2.0

//! Shows synthetic events arriving: a thread waits in `epoll_wait` on a
//! `/dev/vpoll` fd while the main thread injects events by ioctl and write;
//! then plain `poll()` and `select()` see the final mask. Run in the test
//! kernel by `qemu/vm demo`.

use std::os::fd::{AsFd, AsRawFd};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use vpoll::abi::{events::*, EFD_VPOLL_DELEVENTS};
use vpoll_tests::device::Device;

const NAMES: &[(u32, &str)] = &[
    (IN, "IN"),
    (PRI, "PRI"),
    (OUT, "OUT"),
    (ERR, "ERR"),
    (HUP, "HUP"),
    (NVAL, "NVAL"),
    (RDNORM, "RDNORM"),
    (RDBAND, "RDBAND"),
    (WRNORM, "WRNORM"),
    (WRBAND, "WRBAND"),
    (MSG, "MSG"),
    (RDHUP, "RDHUP"),
];

fn names(mask: u32) -> String {
    let parts: Vec<_> = NAMES
        .iter()
        .filter(|(b, _)| mask & b != 0)
        .map(|(_, n)| *n)
        .collect();
    if parts.is_empty() {
        "-".into()
    } else {
        parts.join("|")
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let start = Instant::now();
    let stamp = move || format!("[{:7.3}s]", start.elapsed().as_secs_f64());
    let dev = Device::open().map_err(|e| format!("open /dev/vpoll: {e} (is vpoll.ko loaded?)"))?;
    let fd = dev.as_raw_fd();
    println!(
        "{} opened /dev/vpoll as fd {fd}; its mask is {}",
        stamp(),
        names(dev.mask())
    );

    let epoll = nix::sys::epoll::Epoll::new(nix::sys::epoll::EpollCreateFlags::EPOLL_CLOEXEC)?;
    let interest = nix::sys::epoll::EpollFlags::from_bits_retain((IN | PRI | RDHUP) as i32)
        | nix::sys::epoll::EpollFlags::EPOLLET;
    epoll.add(dev.as_fd(), nix::sys::epoll::EpollEvent::new(interest, 0))?;
    println!(
        "{} waiter thread: epoll_wait, edge-triggered, for IN|PRI|RDHUP",
        stamp()
    );

    type Step = (&'static str, fn(&Device) -> u32);
    let steps: &[Step] = &[
        ("ioctl(VPOLL_IO_ADDEVENTS, IN)", |d| d.add(IN)),
        (
            "ioctl(VPOLL_IO_ADDEVENTS, OUT)   (not awaited: no wakeup)",
            |d| d.add(OUT),
        ),
        ("ioctl(VPOLL_IO_ADDEVENTS, PRI)", |d| d.add(PRI)),
        ("write(EFD_VPOLL_DELEVENTS | IN)  (DEL never wakes)", |d| {
            d.command(EFD_VPOLL_DELEVENTS | u64::from(IN))
                .expect("write");
            d.mask()
        }),
        ("ioctl(VPOLL_IO_SETEVENTS, RDHUP|HUP)", |d| {
            d.set(RDHUP | HUP)
        }),
    ];
    let expected_wakeups = 3;

    let (tx, rx) = mpsc::channel();
    std::thread::scope(|s| {
        s.spawn(|| {
            for _ in 0..expected_wakeups {
                let mut ev = [nix::sys::epoll::EpollEvent::empty()];
                let n = epoll.wait(&mut ev, 10_000u16).expect("epoll_wait");
                let got = if n == 1 {
                    ev[0].events().bits() as u32
                } else {
                    0
                };
                println!("{} waiter thread: woke with {}", stamp(), names(got));
                tx.send(got).unwrap();
            }
        });
        for (what, step) in steps {
            std::thread::sleep(Duration::from_millis(200));
            let mask = step(&dev);
            println!("{} main thread: {what} -> mask {}", stamp(), names(mask));
        }
    });
    let woke: Vec<u32> = rx.try_iter().collect();

    let mut p = libc::pollfd {
        fd,
        events: IN as i16,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    let n = unsafe { libc::poll(&mut p, 1, 0) };
    println!(
        "{} poll(fd, POLLIN, 0) -> {n}, revents {} (HUP is always reported)",
        stamp(),
        names(p.revents as u16 as u32)
    );
    let fdinfo = std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}"))?;
    let line = fdinfo
        .lines()
        .find(|l| l.starts_with("vpoll-events:"))
        .unwrap_or("(none)");
    println!("{} /proc/self/fdinfo/{fd}: {line}", stamp());

    let want = [IN, IN | PRI, RDHUP | HUP];
    if woke == want {
        println!("vpoll demo: all {expected_wakeups} wakeups arrived exactly as injected");
        Ok(())
    } else {
        let got: Vec<_> = woke.iter().map(|m| names(*m)).collect();
        Err(format!("vpoll demo: wakeups were {got:?}, expected IN, IN|PRI, HUP|RDHUP").into())
    }
}
