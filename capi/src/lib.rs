// SPDX-License-Identifier: MIT OR Apache-2.0

//! `libvpoll.so.0`: the C library's API (`vpoll_create`, `vpoll_ctl`,
//! `vpoll_close`, header `vpoll.h`) on top of the `vpoll` crate, so that C
//! programs written for the C `libvpoll` work unchanged and better:
//!
//! - backends in vpoll's order (`/dev/vpoll`, `EFD_VPOLL`, emulation), with
//!   the initial events honoured on each;
//! - on the emulation, as the C library does, a change shows every event it
//!   can (a hang-up with the `IN|RDNORM|RDHUP` it implies) and leaves out the
//!   rest (`ERR`, …), and returns 0; with `VPOLL_STRICT=1` in the environment
//!   such a change fails with `EOPNOTSUPP` and changes nothing;
//! - an unknown op fails with `EINVAL`;
//! - `dup`ed and inherited device and `EFD_VPOLL` fds work with `vpoll_ctl`;
//! - an fd closed with `close(2)` and its number reused is never touched on
//!   the strength of what was there before: emulated fds are checked against
//!   the socket they were made with, and any other fd must prove itself a
//!   vpoll fd before it is changed or closed;
//! - no lock on the `vpoll_ctl` path: the emulated fds and eventfds made here
//!   are found in a lock-free table (with a copy of each, so that no call
//!   needs `/proc`), and device fds need no state at all;
//! - thread-safe: any thread may call any function on any vpoll fd.
//!
//! No panic crosses into C: each call that panics returns -1 with `EIO`.
#![allow(unsafe_code)] // the C ABI: every entry point takes raw pointers and fd numbers from C

mod table;

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::OnceLock;
use table::{Entry, Handed};
use vpoll::{Backend, Error, Events, Op, Vpoll};

/// `VPOLL_CTL_ADDEVENTS`: the events are added to the pending ones.
pub const VPOLL_CTL_ADDEVENTS: libc::c_int = vpoll::abi::ctl::ADDEVENTS;
/// `VPOLL_CTL_DELEVENTS`: the events are cleared.
pub const VPOLL_CTL_DELEVENTS: libc::c_int = vpoll::abi::ctl::DELEVENTS;
/// `VPOLL_CTL_SETEVENTS`: the events become exactly the pending ones.
pub const VPOLL_CTL_SETEVENTS: libc::c_int = vpoll::abi::ctl::SETEVENTS;

/// The environment variable that makes every change all or nothing.
pub const STRICT_VAR: &str = "VPOLL_STRICT";

/// Whether `VPOLL_STRICT=1` was set when the library was first used.
fn strict() -> bool {
    static STRICT: OnceLock<bool> = OnceLock::new();
    *STRICT.get_or_init(|| std::env::var_os(STRICT_VAR).is_some_and(|v| v == "1"))
}

/// The errno a C caller sees for `e`.
fn errno_of(e: &Error) -> libc::c_int {
    match e {
        Error::Unsupported { .. } | Error::Irreversible { .. } | Error::Inseparable { .. } => {
            libc::EOPNOTSUPP
        }
        Error::BadBackendVar { .. } | Error::NotVpoll { .. } => libc::EINVAL,
        Error::NoBackend { .. } => libc::ENODEV,
        other => other.raw_os_error().unwrap_or(libc::EIO),
    }
}

fn last_errno() -> libc::c_int {
    std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

fn set_errno(errno: libc::c_int) {
    // SAFETY: __errno_location returns this thread's errno slot.
    unsafe { *libc::__errno_location() = errno };
}

/// Runs `call`; -1 with errno for an error, and for a panic (EIO).
fn c_call(call: impl FnOnce() -> Result<libc::c_int, libc::c_int>) -> libc::c_int {
    match catch_unwind(AssertUnwindSafe(call)) {
        Ok(Ok(ret)) => ret,
        Ok(Err(errno)) => {
            set_errno(errno);
            -1
        }
        Err(_) => {
            set_errno(libc::EIO);
            -1
        }
    }
}

/// The C caller's `fd`, borrowed for the length of one call.
fn borrow(fd: RawFd) -> Result<BorrowedFd<'static>, libc::c_int> {
    if fd < 0 {
        return Err(libc::EBADF);
    }
    // SAFETY: the number is only handed to system calls during this call,
    // which fail with EBADF if it is not open; nothing is closed through it.
    Ok(unsafe { BorrowedFd::borrow_raw(fd) })
}

/// `fcntl(fd, F_DUPFD_QUERY, other)`: whether two descriptors are the same
/// open file (Linux 6.10 and later).
const F_DUPFD_QUERY: libc::c_int = 1024 + 3;

/// Whether this kernel has `F_DUPFD_QUERY`: unknown, yes, no.
static DUPFD_QUERY: AtomicU8 = AtomicU8::new(0);

/// The socket `fd` is, as `(st_dev, st_ino)`, or None for any other file.
fn socket_id(fd: BorrowedFd<'_>) -> Result<Option<(u64, u64)>, libc::c_int> {
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: fstat writes one struct stat to the pointer it is given.
    if unsafe { libc::fstat(fd.as_raw_fd(), st.as_mut_ptr()) } < 0 {
        return Err(last_errno());
    }
    // SAFETY: fstat succeeded, so it filled the struct.
    let st = unsafe { st.assume_init() };
    Ok((st.st_mode & libc::S_IFMT == libc::S_IFSOCK).then_some((st.st_dev, st.st_ino)))
}

/// Whether the program's `fd` still is the vpoll fd `handed` was made for:
/// the same open file as the entry's own copy (`F_DUPFD_QUERY`, one cheap
/// call), or on older kernels the same `(st_dev, st_ino)` socket.
fn still_ours(fd: BorrowedFd<'_>, handed: &Handed) -> Result<bool, libc::c_int> {
    if let Some(same) = same_file(fd, handed.vp.as_fd())? {
        return Ok(same);
    }
    match handed.id {
        Some(id) => Ok(socket_id(fd)? == Some(id)),
        None => Ok(false),
    }
}

/// Whether `a` and `b` are the same open file, by `F_DUPFD_QUERY`; None on a
/// kernel before 6.10, which does not have it.
fn same_file(a: BorrowedFd<'_>, b: BorrowedFd<'_>) -> Result<Option<bool>, libc::c_int> {
    if DUPFD_QUERY.load(Ordering::Relaxed) == 2 {
        return Ok(None);
    }
    // SAFETY: F_DUPFD_QUERY takes a descriptor number and touches no memory.
    match unsafe { libc::fcntl(a.as_raw_fd(), F_DUPFD_QUERY, b.as_raw_fd()) } {
        same @ (0 | 1) => {
            DUPFD_QUERY.store(1, Ordering::Relaxed);
            Ok(Some(same == 1))
        }
        _ => match last_errno() {
            // An unknown command: a kernel before 6.10.
            libc::EINVAL => {
                DUPFD_QUERY.store(2, Ordering::Relaxed);
                Ok(None)
            }
            errno => Err(errno),
        },
    }
}

/// What `entry_of` found: always a handed-out vpoll fd.
fn handed(entry: &Entry) -> Result<&Handed, libc::c_int> {
    match entry {
        Entry::Handed(handed) => Ok(handed),
        Entry::Ours => Err(libc::EINVAL),
    }
}

/// The vpoll fd made here that `fd` still is, if it is one. An entry whose
/// fd the number no longer names (closed with `close(2)`, the number reused)
/// is stale: it is dropped, which closes only its own descriptors. A number
/// that is one of the library's own is no vpoll fd of the caller's: EINVAL.
fn entry_of(fd: BorrowedFd<'_>) -> Result<Option<std::sync::Arc<Entry>>, libc::c_int> {
    let raw = fd.as_raw_fd() as usize;
    let Some(entry) = table::get(raw) else {
        return Ok(None);
    };
    match still_ours(fd, handed(&entry)?) {
        Ok(true) => Ok(Some(entry)),
        Ok(false) => {
            table::remove(raw, &entry);
            Ok(None)
        }
        Err(errno) => {
            table::remove(raw, &entry);
            Err(errno)
        }
    }
}

/// Applies `op`: strictly, or (the default) as much as the backend can show.
fn change(vp: &Vpoll, op: Op, events: Events) -> vpoll::Result<Events> {
    if strict() {
        vp.apply(op, events)
    } else {
        vp.apply_deliverable(op, events).map(|done| done.events)
    }
}

/// A new close-on-exec `Vpoll` with `init_events` pending, the unshowable
/// ones left out unless strict.
fn create(init_events: Events) -> vpoll::Result<Vpoll> {
    match Vpoll::builder().events(init_events).build() {
        Err(Error::Unsupported { .. } | Error::Inseparable { .. }) if !strict() => {
            let vp = Vpoll::new()?;
            change(&vp, Op::Set, init_events)?;
            Ok(vp)
        }
        made => made,
    }
}

/// Creates a vpoll fd with `init_events` pending; `flags` may hold
/// `FD_CLOEXEC` (or `O_CLOEXEC`). Returns the fd, or -1 with errno.
#[no_mangle]
pub extern "C" fn vpoll_create(init_events: u32, flags: libc::c_int) -> libc::c_int {
    c_call(|| {
        // FD_CLOEXEC as documented; O_CLOEXEC, which callers also pass for
        // it, means the same. Anything else is a mistake worth reporting.
        let cloexec_flags = libc::FD_CLOEXEC | libc::O_CLOEXEC;
        if flags & !cloexec_flags != 0 {
            return Err(libc::EINVAL);
        }
        let cloexec = flags & cloexec_flags != 0;
        // Made close-on-exec: what stays ours (the emulation's descriptors)
        // must not leak into programs the caller runs.
        let vp = create(Events::from_bits_retain(init_events)).map_err(|e| errno_of(&e))?;
        // The kernel just gave these numbers out, so what the table holds
        // under them is stale (its fd was closed with close(2)): dropped
        // now, or its descriptors would leak for as long as the library
        // holds the number itself.
        for fd in vp.held_fds() {
            table::clear(fd as usize);
        }
        match vp.backend() {
            Backend::Emulation => return hand_out(vp, cloexec),
            Backend::EventFd => return keep_eventfd(vp, cloexec),
            Backend::Device => {}
        }
        let fd = OwnedFd::from(vp);
        if !cloexec {
            fd_flags(fd.as_fd(), libc::F_SETFD, 0)?;
        }
        let fd = fd.into_raw_fd();
        table::clear(fd as usize);
        Ok(fd)
    })
}

/// `fcntl(fd, cmd, arg)` for the integer commands used here.
fn fd_flags(
    fd: BorrowedFd<'_>,
    cmd: libc::c_int,
    arg: libc::c_int,
) -> Result<libc::c_int, libc::c_int> {
    // SAFETY: F_SETFD and F_DUPFD(_CLOEXEC) take an integer and touch no memory.
    match unsafe { libc::fcntl(fd.as_raw_fd(), cmd, arg) } {
        ret if ret >= 0 => Ok(ret),
        _ => Err(last_errno()),
    }
}

/// Gives the program its own descriptor of emulated `vp`, recorded with the
/// socket it names.
fn hand_out(vp: Vpoll, cloexec: bool) -> Result<libc::c_int, libc::c_int> {
    let dup = if cloexec {
        libc::F_DUPFD_CLOEXEC
    } else {
        libc::F_DUPFD
    };
    let fd = fd_flags(vp.as_fd(), dup, 0)?;
    // SAFETY: a descriptor just made, owned by nobody else until handed out.
    let theirs = unsafe { OwnedFd::from_raw_fd(fd) };
    // The socket's name, for kernels without F_DUPFD_QUERY; where it is
    // known to be there, the proof never needs it and this saves an fstat.
    let id = if DUPFD_QUERY.load(Ordering::Relaxed) == 1 {
        None
    } else {
        Some(socket_id(theirs.as_fd())?.ok_or(libc::EIO)?)
    };
    table::clear(fd as usize);
    match Handed::insert(fd as usize, vp, id) {
        Ok(()) => Ok(theirs.into_raw_fd()),
        // Beyond the table no emulated fd can be followed.
        Err(_) => Err(libc::EMFILE),
    }
}

/// Gives the program `vp`'s own eventfd (the number it would get from
/// `eventfd(2)`) and keeps a copy in the table, so that no later call needs
/// `/proc` to prove what the fd is. Where the kernel cannot say that two
/// descriptors are the same file (no `F_DUPFD_QUERY`, before 6.10), or the
/// table cannot follow the numbers, the eventfd is handed out bare and
/// proves itself through `/proc` as any other eventfd does.
fn keep_eventfd(vp: Vpoll, cloexec: bool) -> Result<libc::c_int, libc::c_int> {
    let copy = vp.try_clone().map_err(|e| errno_of(&e))?;
    table::clear(copy.as_raw_fd() as usize);
    let theirs = OwnedFd::from(vp);
    if !cloexec {
        fd_flags(theirs.as_fd(), libc::F_SETFD, 0)?;
    }
    if same_file(theirs.as_fd(), copy.as_fd())? == Some(true) {
        // The copy goes (and closes) if the table cannot hold it.
        let _ = Handed::insert(theirs.as_raw_fd() as usize, copy, None);
    }
    Ok(theirs.into_raw_fd())
}

/// Applies `op` (`VPOLL_CTL_*`) with `events` to vpoll fd `fd`. Returns 0,
/// or -1 with errno: `EBADF` (not an open fd), `EINVAL` (an unknown op, or an
/// fd that is no vpoll fd: it is left untouched), and with `VPOLL_STRICT=1`
/// `EOPNOTSUPP` (the backend cannot deliver or clear those events; nothing
/// changed).
#[no_mangle]
pub extern "C" fn vpoll_ctl(fd: libc::c_int, op: libc::c_int, events: u32) -> libc::c_int {
    c_call(|| {
        let fd = borrow(fd)?;
        let op = Op::from_ctl(op).ok_or(libc::EINVAL)?;
        let events = Events::from_bits_retain(events);
        match entry_of(fd)? {
            Some(entry) => change(&handed(&entry)?.vp, op, events),
            // Device and eventfd fds: the kernel has every event.
            None => Vpoll::apply_to(fd, op, events),
        }
        .map(|_| 0)
        .map_err(|e| errno_of(&e))
    })
}

/// `struct vpoll_ctl_entry`: one change of [`vpoll_ctl_batch`].
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct VpollCtlEntry {
    /// The vpoll fd.
    pub fd: libc::c_int,
    /// `VPOLL_CTL_*`.
    pub op: libc::c_int,
    /// The events.
    pub events: u32,
    /// Set by the call: 0, or minus the errno `vpoll_ctl` would have set.
    pub result: libc::c_int,
}

/// Applies `n` changes, each as [`vpoll_ctl`] would, and sets each entry's
/// `result` (0, or minus the errno). Device fds go to the kernel together
/// (`VPOLL_IO_BATCH`), the others one by one. Returns `n`, or -1 with errno
/// `EINVAL` (`n` < 0, or `entries` NULL with `n` > 0).
///
/// # Safety
///
/// `entries` must point at `n` valid, writable entries (or be NULL with `n` 0).
#[no_mangle]
pub unsafe extern "C" fn vpoll_ctl_batch(
    entries: *mut VpollCtlEntry,
    n: libc::c_int,
) -> libc::c_int {
    c_call(|| {
        let Ok(len) = usize::try_from(n) else {
            return Err(libc::EINVAL);
        };
        if len == 0 {
            return Ok(0);
        }
        if entries.is_null() {
            return Err(libc::EINVAL);
        }
        // SAFETY: the caller passes `n` valid, writable entries, ours for the call.
        let entries = unsafe { std::slice::from_raw_parts_mut(entries, len) };
        // The emulated fds made here change one by one, as vpoll_ctl does;
        // every other fd goes to the kernel with the rest.
        let (mut kernel_at, mut kernel) = (Vec::new(), Vec::new());
        for (i, e) in entries.iter_mut().enumerate() {
            let checked = borrow(e.fd).and_then(|fd| {
                let op = Op::from_ctl(e.op).ok_or(libc::EINVAL)?;
                Ok((fd, op, Events::from_bits_retain(e.events), entry_of(fd)?))
            });
            e.result = match checked {
                Ok((_, op, events, Some(entry))) => match handed(&entry)
                    .and_then(|h| change(&h.vp, op, events).map_err(|err| errno_of(&err)))
                {
                    Ok(_) => 0,
                    Err(errno) => -errno,
                },
                Ok((fd, op, events, None)) => {
                    kernel_at.push(i);
                    kernel.push((fd, op, events));
                    0
                }
                Err(errno) => -errno,
            };
        }
        for (i, result) in kernel_at.into_iter().zip(Vpoll::apply_many_to(&kernel)) {
            entries[i].result = match result {
                Ok(_) => 0,
                Err(err) => -errno_of(&err),
            };
        }
        Ok(n)
    })
}

/// Closes vpoll fd `fd` and whatever this library keeps for it. Returns 0, or
/// -1 with errno: `EBADF` (not an open fd), `EINVAL` (no vpoll fd: it is left
/// open).
#[no_mangle]
pub extern "C" fn vpoll_close(fd: libc::c_int) -> libc::c_int {
    c_call(|| {
        let borrowed = borrow(fd)?;
        match entry_of(borrowed)? {
            // The program's descriptor goes now; ours, and the control end,
            // when the last reference does (a vpoll_ctl on another thread
            // may hold one until it returns).
            Some(entry) => table::remove(fd as usize, &entry),
            // A kernel vpoll fd answers a DEL of nothing, which changes nothing.
            None => {
                Vpoll::apply_to(borrowed, Op::Del, Events::empty()).map_err(|e| errno_of(&e))?;
            }
        }
        // SAFETY: closing a vpoll fd the caller says is theirs, as close(2) does.
        match unsafe { libc::close(fd) } {
            0 => Ok(0),
            _ => Err(last_errno()),
        }
    })
}
