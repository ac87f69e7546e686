// SPDX-License-Identifier: MIT OR Apache-2.0

//! Memory accounting: the module allocates each fd's object with
//! `GFP_KERNEL_ACCOUNT`, so it is charged to the memory cgroup of the
//! process that opened it. A cgroup's `memory.current` grows with its vpoll
//! fds by more than with as many fds of `/dev/null` (the `struct file`
//! alone), and its `memory.max` makes further opens there fail with ENOMEM,
//! cleanly: the charges go when the fds do, and the module unloads.

use std::ffi::CString;
use std::fs;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::sys::wait::waitpid;
use nix::unistd::{fork, pipe, read, write, ForkResult, Pid};
use vpoll_tests::device::{Device, DEVICE};
use vpoll_tests::kernel;

const ROOT: &str = "/sys/fs/cgroup";

/// What the test writes to the kernel log around the memory cgroup's OOM
/// report it causes on purpose; the verdict (`qemu/harness`, console.rs)
/// accepts that report's stack dump between them, and nothing else.
const EXPECTED_OOM_BEGIN: &str = "vpoll-test: an expected memory cgroup OOM report follows";
const EXPECTED_OOM_END: &str = "vpoll-test: end of the expected memory cgroup OOM report";

/// A cgroup below the root with the memory controller; removed on drop.
struct Cgroup(PathBuf);

impl Cgroup {
    fn new(name: &str) -> Self {
        if !Path::new(ROOT).join("cgroup.controllers").exists() {
            let status = Command::new("mount")
                .args(["-t", "cgroup2", "none", ROOT])
                .status()
                .unwrap();
            assert!(status.success(), "mount -t cgroup2 none {ROOT}");
        }
        let controllers = fs::read_to_string(format!("{ROOT}/cgroup.controllers")).unwrap();
        assert!(
            controllers.split_whitespace().any(|c| c == "memory"),
            "this kernel has no memory controller (CONFIG_MEMCG); controllers: {controllers}"
        );
        fs::write(format!("{ROOT}/cgroup.subtree_control"), "+memory").unwrap();
        let path = Path::new(ROOT).join(name);
        let _ = fs::remove_dir(&path);
        fs::create_dir(&path).unwrap();
        Cgroup(path)
    }

    fn write(&self, file: &str, value: &str) {
        fs::write(self.0.join(file), value)
            .unwrap_or_else(|e| panic!("{}/{file} = {value}: {e}", self.0.display()));
    }

    /// `memory.current`, in bytes.
    fn current(&self) -> u64 {
        let text = fs::read_to_string(self.0.join("memory.current")).unwrap();
        text.trim().parse().unwrap()
    }

    /// A counter of `memory.events` (`max`, `oom`, `oom_kill`, …).
    fn event(&self, name: &str) -> u64 {
        let text = fs::read_to_string(self.0.join("memory.events")).unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in memory.events: {text}"))
    }

    /// Moves `pid` into this cgroup.
    fn adopt(&self, pid: Pid) {
        self.write("cgroup.procs", &pid.to_string());
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        let _ = fs::remove_dir(&self.0);
    }
}

/// A child process that, when told to, opens `path` until it holds `limit`
/// fds or an open fails, reports, and then holds its fds until killed. It
/// makes only raw system calls after the fork, as a child of a threaded
/// process must. Its fd table is grown to the fd limit first, before it
/// joins a cgroup, so that what it charges there is its files alone.
struct Opener {
    pid: Pid,
    go: OwnedFd,
    report: OwnedFd,
}

impl Opener {
    fn spawn(path: &str, limit: u32) -> Self {
        let path = CString::new(path).unwrap();
        let (go_r, go_w) = pipe().unwrap();
        let (report_r, report_w) = pipe().unwrap();
        // SAFETY: the child only makes async-signal-safe raw system calls on
        // memory prepared before the fork, then `_exit`s.
        match unsafe { fork() }.expect("fork") {
            // SAFETY: as above, the child's raw calls on prepared memory.
            ForkResult::Child => unsafe {
                let mut byte = 0u8;
                // The fd table at its full size now, charged where we are.
                let mut limit_now = std::mem::zeroed::<libc::rlimit>();
                libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit_now);
                let top = limit_now.rlim_cur.min(1 << 20) as i32 - 1;
                if libc::dup2(go_r.as_raw_fd(), top) == top {
                    libc::close(top);
                }
                libc::write(report_w.as_raw_fd(), (&raw const byte).cast(), 1);
                libc::read(go_r.as_raw_fd(), (&raw mut byte).cast(), 1);
                let mut result = [0i32; 2];
                while (result[0] as u32) < limit {
                    if libc::open(path.as_ptr(), libc::O_RDWR) < 0 {
                        result[1] = *libc::__errno_location();
                        break;
                    }
                    result[0] += 1;
                }
                libc::write(report_w.as_raw_fd(), result.as_ptr().cast(), 8);
                // The parent never writes again: this waits to be killed.
                libc::read(go_r.as_raw_fd(), (&raw mut byte).cast(), 1);
                libc::_exit(0)
            },
            ForkResult::Parent { child } => {
                let mut ready = [0u8; 1];
                assert_eq!(read(&report_r, &mut ready), Ok(1), "the child's fd table");
                Opener {
                    pid: child,
                    go: go_w,
                    report: report_r,
                }
            }
        }
    }

    /// Lets the child open; returns how many fds it opened and the errno of
    /// the open that failed (0 if none did).
    fn run(&self) -> (u32, i32) {
        write(&self.go, b"g").unwrap();
        let mut buf = [0u8; 8];
        assert_eq!(read(&self.report, &mut buf), Ok(8), "the child's report");
        let opened = i32::from_ne_bytes(buf[..4].try_into().unwrap());
        let errno = i32::from_ne_bytes(buf[4..].try_into().unwrap());
        (opened as u32, errno)
    }
}

impl Drop for Opener {
    fn drop(&mut self) {
        let _ = kill(self.pid, Signal::SIGKILL);
        let _ = waitpid(self.pid, None);
    }
}

/// Bytes charged to a fresh cgroup by a child that opens `count` fds of
/// `path` there.
fn charged_by(path: &str, count: u32) -> u64 {
    let cgroup = Cgroup::new("vpoll-memcg-growth");
    let child = Opener::spawn(path, count);
    cgroup.adopt(child.pid);
    let before = cgroup.current();
    assert_eq!(child.run(), (count, 0), "opening {count} × {path}");
    let after = cgroup.current();
    drop(child);
    after.saturating_sub(before)
}

fn module_refcnt() -> String {
    fs::read_to_string("/sys/module/vpoll/refcnt")
        .unwrap()
        .trim()
        .to_owned()
}

/// Writes `line` to the kernel log, at a level the console prints.
fn kmsg(line: &str) {
    fs::write("/dev/kmsg", format!("<4>{line}\n")).unwrap();
}

// Enough fds that our objects' charge stands well clear of what the
// per-CPU charge caches can hide (64 pages per CPU).
const GROWTH_FDS: u32 = 30_000;

#[test]
fn a_cgroups_memory_grows_with_its_vpoll_fds() {
    kernel::raise_fd_limit();
    let null = charged_by("/dev/null", GROWTH_FDS);
    let vpoll = charged_by(DEVICE, GROWTH_FDS);
    let per_fd = |bytes: u64| bytes as f64 / f64::from(GROWTH_FDS);
    println!(
        "memcg: {GROWTH_FDS} fds charged {null} bytes for /dev/null ({:.0} per fd), {vpoll} for /dev/vpoll ({:.0} per fd)",
        per_fd(null),
        per_fd(vpoll)
    );
    // The object (a wait queue head and the mask) is charged at 40 bytes or
    // more; a charge to anyone else would leave the two equal. The bound
    // leaves room for what the per-CPU caches of charges hide.
    assert!(
        vpoll >= null + 16 * u64::from(GROWTH_FDS),
        "a vpoll fd costs its cgroup no more than /dev/null's: {vpoll} vs {null} bytes for {GROWTH_FDS} fds"
    );
    assert_eq!(module_refcnt(), "0", "the fds' references went with them");
}

#[test]
fn a_cgroups_memory_max_makes_further_opens_fail_with_enomem() {
    kernel::raise_fd_limit();
    const BUDGET: u64 = 4 << 20;
    let cgroup = Cgroup::new("vpoll-memcg-max");
    let child = Opener::spawn(DEVICE, 1_000_000);
    // No process of the cgroup may be killed, so the breach has to be
    // answered with ENOMEM (after the kernel's "no killable processes"
    // report, which the markers tell the verdict to expect).
    fs::write(format!("/proc/{}/oom_score_adj", child.pid), "-1000").unwrap();
    cgroup.adopt(child.pid);
    let baseline = cgroup.current();
    cgroup.write("memory.max", &(baseline + BUDGET).to_string());
    kmsg(EXPECTED_OOM_BEGIN);
    let (opened, errno) = child.run();
    kmsg(EXPECTED_OOM_END);
    println!(
        "memcg: memory.max {} KiB above the start: {opened} opens, then errno {errno}",
        BUDGET >> 10
    );
    assert_eq!(errno, libc::ENOMEM, "the open past memory.max");
    assert!(opened > 0, "no open fitted in {BUDGET} bytes");
    assert!(
        cgroup.event("max") > 0,
        "the cgroup never reached memory.max"
    );
    assert_eq!(cgroup.event("oom_kill"), 0, "a process was killed");
    // Outside the cgroup, opens go on.
    assert!(Device::open().is_ok());

    // The charges go with the fds: what remains is at most the per-CPU
    // charge caches (64 pages per CPU), far below the budget that was full.
    drop(child);
    let mut left = cgroup.current();
    for _ in 0..50 {
        if left <= baseline + (1 << 20) {
            break;
        }
        // `struct file`s are freed after an RCU grace period.
        thread::sleep(Duration::from_millis(100));
        left = cgroup.current();
    }
    assert!(
        left <= baseline + (1 << 20),
        "{} KiB still charged after the fds were closed",
        (left - baseline) >> 10
    );
    assert_eq!(module_refcnt(), "0", "the fds' references went with them");
}
