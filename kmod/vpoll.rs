// SPDX-License-Identifier: GPL-2.0

//! vpoll: file descriptors that report whatever poll events user space sets.
//!
//! Every `open("/dev/vpoll")` creates an independent object holding a pending
//! event mask. `poll`, `select`, `epoll` and `io_uring` see that mask; the
//! owner changes it with the C vpoll module's ioctls or with 8-byte
//! `EFD_VPOLL`-style writes, and reads it back with `read`:
//!
//! ```c
//! int fd = open("/dev/vpoll", O_RDWR | O_CLOEXEC);
//! ioctl(fd, VPOLL_IO_ADDEVENTS, EPOLLIN | EPOLLPRI); // returns the new mask
//! // ... a thread blocked in poll(fd, POLLPRI) wakes with POLLIN|POLLPRI ...
//! uint64_t cmd = (2ULL << 32) | EPOLLIN;             // EFD_VPOLL_DELEVENTS
//! write(fd, &cmd, 8);
//! uint64_t mask; read(fd, &mask, 8);                 // mask == EPOLLPRI
//! ```
//!
//! The wakeup rules are in [`object`]; the ABI numbers in [`abi`].

use kernel::prelude::*;

mod abi;
mod batch;
mod compat;
mod object;
mod op;
mod poll_misc;
mod wait_queue;

use object::Vpoll;
use poll_misc::{
    FileOperations,
    Registration, //
};

module! {
    type: VpollModule,
    name: "vpoll",
    authors: ["The vpoll developers"],
    description: "Synthetic poll events: /dev/vpoll file descriptors with a user-set event mask",
    license: "GPL",
    params: {
        mode: u16 {
            default: 0o666,
            description: "Permission bits of /dev/vpoll (default 0666: any user may create vpoll fds)",
        },
    },
}

static VPOLL_FOPS: FileOperations<Vpoll> = FileOperations::new(compat::this_module());

/// `MODULE_VERSION`: `modinfo` and `/sys/module/vpoll/version` show it. The
/// `module!` macro of 7.2 has no key for it; this is the entry C emits.
#[cfg(MODULE)]
#[link_section = ".modinfo"]
#[used]
static VERSION: [u8; 14] = *b"version=0.1.0\0";

struct VpollModule {
    _device: Pin<KBox<Registration<Vpoll>>>,
}

impl kernel::Module for VpollModule {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let mode = compat::param(&module_parameters::mode);
        if mode & !0o777 != 0 {
            pr_err!("mode={:#o} has bits outside 0777\n", mode);
            return Err(EINVAL);
        }
        let device = KBox::pin_init(
            Registration::register(c"vpoll", mode, &VPOLL_FOPS),
            GFP_KERNEL,
        )?;
        pr_info!("/dev/vpoll ready (mode {:#o})\n", mode);
        Ok(Self { _device: device })
    }
}
