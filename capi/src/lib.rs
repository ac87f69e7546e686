// SPDX-License-Identifier: MIT OR Apache-2.0

//! `libvpoll.so.0`: the C library's API (`vpoll_create`, `vpoll_ctl`,
//! `vpoll_close`, header `vpoll.h`) on top of the `vpoll` crate, so that C
//! programs written for the C `libvpoll` work unchanged and better:
//!
//! - backends in vpoll's order (`/dev/vpoll`, `EFD_VPOLL`, emulation), with
//!   the initial events honoured on each;
//! - an event the backend cannot deliver, or cannot clear, fails with
//!   `EOPNOTSUPP` instead of being ignored; an unknown op with `EINVAL`;
//! - `dup`ed and inherited device and `EFD_VPOLL` fds work with `vpoll_ctl`;
//! - no lock on the `vpoll_ctl` path: the fds made here are found in a
//!   lock-free table, and the device and eventfd need no state at all;
//! - thread-safe: any thread may call any function on any vpoll fd.
//!
//! No panic crosses into C: each call that panics returns -1 with `EIO`.

mod table;

use std::os::fd::{FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::panic::{catch_unwind, AssertUnwindSafe};
use vpoll::{Error, Events, Vpoll};

/// `VPOLL_CTL_ADDEVENTS`: the events are added to the pending ones.
pub const VPOLL_CTL_ADDEVENTS: libc::c_int = 1;
/// `VPOLL_CTL_DELEVENTS`: the events are cleared.
pub const VPOLL_CTL_DELEVENTS: libc::c_int = 2;
/// `VPOLL_CTL_SETEVENTS`: the events become exactly the pending ones.
pub const VPOLL_CTL_SETEVENTS: libc::c_int = 3;

/// The errno a C caller sees for `e`.
fn errno_of(e: &Error) -> libc::c_int {
    match e {
        Error::Unsupported { .. } | Error::Irreversible { .. } | Error::Inseparable { .. } => {
            libc::EOPNOTSUPP
        }
        Error::BadBackendVar { .. } => libc::EINVAL,
        Error::NoBackend { .. } => libc::ENODEV,
        other => other.raw_os_error().unwrap_or(libc::EIO),
    }
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

/// Creates a vpoll fd with `init_events` pending; `flags` may hold
/// `FD_CLOEXEC` (or `O_CLOEXEC`). Returns the fd, or -1 with errno.
#[no_mangle]
pub extern "C" fn vpoll_create(init_events: u32, flags: libc::c_int) -> libc::c_int {
    c_call(|| {
        // FD_CLOEXEC as documented; O_CLOEXEC, which callers also pass for
        // it, means the same. Anything else is a mistake worth reporting.
        let cloexec = libc::FD_CLOEXEC | libc::O_CLOEXEC;
        if flags & !cloexec != 0 {
            return Err(libc::EINVAL);
        }
        let vp = Vpoll::builder()
            .events(Events::from_bits_retain(init_events))
            .cloexec(flags & cloexec != 0)
            .build()
            .map_err(|e| errno_of(&e))?;
        let fd = std::os::fd::AsRawFd::as_raw_fd(&vp);
        match table::insert(fd as usize, vp) {
            Ok(()) => Ok(fd),
            // Beyond the table only fds that need no state can live.
            Err(vp) if vp.backend() == vpoll::Backend::Emulation => Err(libc::EMFILE),
            Err(vp) => Ok(OwnedFd::from(vp).into_raw_fd()),
        }
    })
}

/// Applies `op` (`VPOLL_CTL_*`) with `events` to vpoll fd `fd`. Returns 0,
/// or -1 with errno: `EBADF` (not an open fd), `EINVAL` (an unknown op, or an
/// fd that is no vpoll fd), `EOPNOTSUPP` (the backend cannot deliver or
/// clear those events; nothing changed).
#[no_mangle]
pub extern "C" fn vpoll_ctl(fd: libc::c_int, op: libc::c_int, events: u32) -> libc::c_int {
    c_call(|| {
        if fd < 0 {
            return Err(libc::EBADF);
        }
        let apply = |vp: &Vpoll| {
            let events = Events::from_bits_retain(events);
            match op {
                VPOLL_CTL_ADDEVENTS => vp.add(events),
                VPOLL_CTL_DELEVENTS => vp.del(events),
                VPOLL_CTL_SETEVENTS => vp.set(events),
                _ => return Err(libc::EINVAL),
            }
            .map(|_| 0)
            .map_err(|e| errno_of(&e))
        };
        match table::get(fd as usize) {
            Some(vp) => apply(&vp),
            None => apply(&adopt(fd)?),
        }
    })
}

/// A device or `EFD_VPOLL` fd made elsewhere (inherited, `dup`ed): taken
/// over through a duplicate, which is closed after the call.
fn adopt(fd: RawFd) -> Result<Vpoll, libc::c_int> {
    // SAFETY: `fd` is only borrowed for the dup; fcntl fails cleanly with
    // EBADF if it is not open.
    let dup = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) };
    if dup < 0 {
        return Err(std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EBADF));
    }
    // SAFETY: a new fd that nobody else owns.
    let owned = unsafe { OwnedFd::from_raw_fd(dup) };
    Vpoll::try_from(owned).map_err(|_| libc::EINVAL)
}

/// Closes vpoll fd `fd` and whatever this library keeps for it. Returns 0, or
/// -1 with errno (`EBADF`).
#[no_mangle]
pub extern "C" fn vpoll_close(fd: libc::c_int) -> libc::c_int {
    c_call(|| {
        if fd < 0 {
            return Err(libc::EBADF);
        }
        match table::remove(fd as usize) {
            // Dropping the last reference closes the fd (and the emulation's
            // control socket); a vpoll_ctl still running on another thread
            // holds one until it returns.
            Some(vp) => {
                drop(vp);
                Ok(0)
            }
            None => {
                // SAFETY: closing a number the caller says is theirs, as close(2) does.
                match unsafe { libc::close(fd) } {
                    0 => Ok(0),
                    _ => Err(std::io::Error::last_os_error()
                        .raw_os_error()
                        .unwrap_or(libc::EBADF)),
                }
            }
        }
    })
}
