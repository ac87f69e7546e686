// SPDX-License-Identifier: MIT OR Apache-2.0

//! Whether the running kernel gives AF_UNIX stream sockets urgent data
//! (`MSG_OOB`), which the emulation shows as `PRI`: probed once.

use crate::events::Events;
use nix::sys::socket::{send, socketpair, AddressFamily, MsgFlags, SockFlag, SockType};
use std::os::fd::{AsFd, AsRawFd};
use std::sync::OnceLock;

/// Whether AF_UNIX stream sockets take urgent data (`MSG_OOB`, Linux ≥ 5.15
/// with `CONFIG_AF_UNIX_OOB`), which their receiving end reports as `PRI`.
pub(crate) fn available() -> bool {
    static OOB: OnceLock<bool> = OnceLock::new();
    *OOB.get_or_init(|| {
        let flags = SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC;
        socketpair(AddressFamily::Unix, SockType::Stream, None, flags).is_ok_and(|(a, b)| {
            let oob = MsgFlags::MSG_OOB | MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_NOSIGNAL;
            send(b.as_raw_fd(), b"v", oob).is_ok()
                && crate::sys::poll_now(a.as_fd())
                    .is_ok_and(|mask| Events::from_mask(mask).contains(Events::PRI))
        })
    })
}
