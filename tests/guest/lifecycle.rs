// SPDX-License-Identifier: MIT OR Apache-2.0

//! The module's life: unloading under an open fd, the device node and its
//! permissions, and the `mode` parameter.

use nix::errno::Errno;
use nix::kmod::{delete_module, finit_module, DeleteModuleFlags, ModuleInitFlags};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, ForkResult};
use std::ffi::CString;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::Path;
use vpoll::abi;
use vpoll_tests::device::{Device, DEVICE};

/// Where the guest keeps the module; `VPOLL_KO` overrides.
fn module_path() -> String {
    std::env::var("VPOLL_KO").unwrap_or_else(|_| "/lib/modules/vpoll.ko".into())
}

fn unload() -> Result<(), Errno> {
    delete_module(c"vpoll", DeleteModuleFlags::O_NONBLOCK)
}

fn load(params: &str) -> Result<(), Errno> {
    let ko = std::fs::File::open(module_path()).expect("the module file");
    finit_module(
        &ko,
        &CString::new(params).unwrap(),
        ModuleInitFlags::empty(),
    )
}

/// Puts the default module back, whatever a test did to it.
struct RestoreModule;

impl Drop for RestoreModule {
    fn drop(&mut self) {
        let _ = unload();
        // Never panic here: during a failed test's unwinding that would abort.
        match load("") {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(e) => eprintln!("reloading the module with defaults failed: {e}"),
        }
    }
}

/// Runs `check` in a child process as user and group 65534 (nobody); returns
/// its exit code. The child makes only raw syscalls, as after fork in a
/// threaded process it must.
fn as_nobody(check: fn() -> i32) -> i32 {
    // SAFETY: the child only makes async-signal-safe calls and then `_exit`s.
    match unsafe { fork() }.expect("fork") {
        ForkResult::Child => {
            // SAFETY: raw syscalls in the child, then _exit.
            unsafe {
                let ok = libc::setgroups(0, std::ptr::null()) == 0
                    && libc::setresgid(65534, 65534, 65534) == 0
                    && libc::setresuid(65534, 65534, 65534) == 0;
                libc::_exit(if ok { check() } else { 120 })
            }
        }
        ForkResult::Parent { child } => match waitpid(child, None).expect("waitpid") {
            WaitStatus::Exited(_, code) => code,
            other => panic!("child ended with {other:?}"),
        },
    }
}

/// In the child: open the device and add IN. 0 on success, else the errno of
/// the open, or 100 if the ioctl misbehaved.
fn open_and_add_in() -> i32 {
    // SAFETY: raw syscalls with valid arguments.
    unsafe {
        let fd = libc::open(c"/dev/vpoll".as_ptr(), libc::O_RDWR);
        if fd < 0 {
            return *libc::__errno_location();
        }
        let mask = libc::ioctl(
            fd,
            abi::VPOLL_IO_ADDEVENTS as _,
            abi::events::IN as libc::c_ulong,
        );
        if mask == abi::events::IN as i32 {
            0
        } else {
            100
        }
    }
}

fn node_mode() -> u32 {
    let meta = std::fs::metadata(DEVICE).expect("stat /dev/vpoll");
    assert!(
        meta.file_type().is_char_device(),
        "/dev/vpoll is not a character device"
    );
    meta.permissions().mode() & 0o7777
}

#[test]
fn the_node_is_a_char_device_open_to_all() {
    assert_eq!(node_mode(), 0o666);
}

#[test]
fn a_non_root_user_can_open_and_use_it() {
    assert_eq!(as_nobody(open_and_add_in), 0);
}

#[test]
fn rmmod_is_refused_while_an_fd_is_open_and_clean_after() {
    let _restore = RestoreModule;
    let dev = Device::open().unwrap();
    dev.add(abi::events::IN);
    assert_eq!(unload(), Err(Errno::EWOULDBLOCK), "unload under an open fd");
    assert_eq!(
        dev.mask(),
        abi::events::IN,
        "the fd still works after the refusal"
    );
    drop(dev);
    assert_eq!(unload(), Ok(()));
    assert!(
        !Path::new(DEVICE).exists(),
        "/dev/vpoll outlived the module"
    );
    assert_eq!(load(""), Ok(()));
    assert_eq!(Device::open().unwrap().mask(), 0);
}

#[test]
fn an_epoll_set_does_not_keep_a_closed_fd_or_the_module() {
    let _restore = RestoreModule;
    let dev = Device::open().unwrap();
    let ep = nix::sys::epoll::Epoll::new(nix::sys::epoll::EpollCreateFlags::EPOLL_CLOEXEC).unwrap();
    ep.add(
        &dev,
        nix::sys::epoll::EpollEvent::new(nix::sys::epoll::EpollFlags::EPOLLIN, 0),
    )
    .unwrap();
    drop(dev); // the epoll set does not hold the file: closing it releases the object
    assert_eq!(unload(), Ok(()));
    drop(ep);
}

#[test]
fn the_mode_parameter_sets_the_node_mode() {
    let _restore = RestoreModule;
    unload().unwrap();
    load("mode=0600").unwrap();
    assert_eq!(node_mode(), 0o600);
    assert_eq!(as_nobody(open_and_add_in), libc::EACCES);
    assert_eq!(
        Device::open().unwrap().add(abi::events::OUT),
        abi::events::OUT,
        "root still can"
    );
}

#[test]
fn a_mode_outside_0777_is_refused() {
    let _restore = RestoreModule;
    unload().unwrap();
    assert_eq!(load("mode=01777"), Err(Errno::EINVAL));
    assert!(!Path::new(DEVICE).exists());
}

#[test]
fn ten_thousand_opens_and_closes() {
    // On the debug kernel, the kmemleak scan at the end of the run checks them.
    for i in 0..10_000u32 {
        let dev = Device::open().unwrap();
        if i % 1000 == 0 {
            dev.add(abi::events::IN);
        }
    }
}

#[test]
fn load_and_unload_a_hundred_times() {
    let _restore = RestoreModule;
    for round in 0..100 {
        assert_eq!(unload(), Ok(()), "unload {round}");
        assert_eq!(load(""), Ok(()), "load {round}");
        assert_eq!(
            Device::open().unwrap().add(abi::events::OUT),
            abi::events::OUT,
            "round {round}"
        );
    }
}

#[test]
#[ignore = "needs failslab: qemu/guest/test-job runs it on the debug kernel"]
fn open_fails_cleanly_under_failslab() {
    let _restore = RestoreModule;
    std::fs::write("/sys/kernel/debug/failslab/ignore-gfp-wait", "N").expect("failslab in debugfs");
    std::fs::write("/sys/kernel/debug/failslab/verbose", "0").unwrap();
    // Armed, read and disarmed with raw calls on one fd: they allocate
    // nothing, so an armed fault can only land in the open under test.
    let fail_nth = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/proc/thread-self/fail-nth")
        .unwrap();
    let ctl = fail_nth.as_raw_fd();
    let set = |n: &str| {
        // SAFETY: writes a few bytes from a valid buffer to our own fd.
        let ret = unsafe { libc::pwrite(ctl, n.as_ptr().cast(), n.len(), 0) };
        assert_eq!(ret, n.len() as isize);
    };
    let mut injected = 0;
    for nth in 1..=40 {
        set(&nth.to_string());
        // SAFETY: a static path and no other arguments.
        let fd = unsafe { libc::open(c"/dev/vpoll".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) };
        let errno = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
        let mut state = [0u8; 16];
        // SAFETY: reads into a valid 16-byte buffer from our own fd.
        let n = unsafe { libc::pread(ctl, state.as_mut_ptr().cast(), state.len(), 0) };
        set("0"); // disarm a fault the open did not reach
        let fired = std::str::from_utf8(&state[..n.max(0) as usize])
            .unwrap()
            .trim()
            == "0";
        if fd >= 0 {
            // SAFETY: we own the fd.
            unsafe { libc::close(fd) };
        } else {
            assert!(
                errno == libc::ENOMEM || errno == libc::ENFILE,
                "nth {nth}: open failed with errno {errno}"
            );
            assert!(fired, "nth {nth}: open failed without an injected fault");
            injected += 1;
        }
    }
    assert!(injected > 0, "no allocation on the open path was failed");
    let refcnt = std::fs::read_to_string("/sys/module/vpoll/refcnt").unwrap();
    assert_eq!(refcnt.trim(), "0", "failed opens left module references");
    assert_eq!(unload(), Ok(()), "the module still unloads");
    println!("failslab: {injected} opens failed by injected faults, each cleanly");
}

/// The module's text, as `[start, end)` from `/proc/kallsyms` (its text
/// symbols, the last one given a page to end in).
fn module_text() -> (u64, u64) {
    let kallsyms = std::fs::read_to_string("/proc/kallsyms").unwrap();
    let text: Vec<u64> = kallsyms
        .lines()
        .filter(|l| l.ends_with("[vpoll]"))
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (addr, kind) = (f.next()?, f.next()?);
            matches!(kind, "t" | "T").then(|| u64::from_str_radix(addr, 16).ok())?
        })
        .collect();
    let (start, last) = (*text.iter().min().unwrap(), *text.iter().max().unwrap());
    assert!(start != 0, "kallsyms hides addresses (kptr_restrict)");
    (start, last + 4096)
}

#[test]
#[ignore = "needs failslab's stack-trace filter: qemu/guest/test-job runs it on the debug kernel"]
fn the_allocation_failed_is_the_modules_own() {
    let _restore = RestoreModule;
    let (start, end) = module_text();
    let attr = |name: &str, value: &str| {
        std::fs::write(format!("/sys/kernel/debug/failslab/{name}"), value)
            .unwrap_or_else(|e| panic!("failslab/{name} = {value}: {e}"));
    };
    // Every slab allocation made with the module's code on the stack fails,
    // and only in this thread: nothing else on the open path can fail.
    attr("require-start", &start.to_string());
    attr("require-end", &end.to_string());
    attr("stacktrace-depth", "32");
    attr("ignore-gfp-wait", "N");
    attr("verbose", "0");
    attr("task-filter", "Y");
    attr("interval", "1");
    attr("probability", "100");
    attr("times", "-1");
    std::fs::write("/proc/thread-self/make-it-fail", "1").unwrap();
    // SAFETY: a static path and no other arguments.
    let fd = unsafe { libc::open(c"/dev/vpoll".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) };
    let errno = std::io::Error::last_os_error().raw_os_error();
    std::fs::write("/proc/thread-self/make-it-fail", "0").unwrap();
    attr("probability", "0");
    attr("times", "1");
    attr("task-filter", "N");
    attr("require-start", "0");
    attr("require-end", &u64::MAX.to_string());
    assert_eq!(
        fd, -1,
        "the open succeeded although its allocation was failed"
    );
    assert_eq!(errno, Some(libc::ENOMEM));
    // The same open, with nothing injected, works; nothing leaked or is held.
    assert!(Device::open().is_ok());
    let refcnt = std::fs::read_to_string("/sys/module/vpoll/refcnt").unwrap();
    assert_eq!(
        refcnt.trim(),
        "0",
        "the failed open left a module reference"
    );
    assert_eq!(unload(), Ok(()), "the module still unloads");
    println!("failslab: the module's own allocation ({start:#x}..{end:#x} on the stack) failed the open with ENOMEM");
}
