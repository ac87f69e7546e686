// SPDX-License-Identifier: GPL-2.0

//! The three ways to change a pending mask, and the numbers that name them.

use crate::abi::*;

/// How an operation changes the pending mask.
#[derive(Clone, Copy)]
pub(crate) enum Op {
    /// mask |= events
    Add,
    /// mask &= !events
    Del,
    /// mask = events
    Set,
}

impl Op {
    /// The operation a C-module ioctl command names.
    pub(crate) fn from_ioctl(cmd: u32) -> Option<Op> {
        match cmd {
            VPOLL_IO_ADDEVENTS => Some(Op::Add),
            VPOLL_IO_DELEVENTS => Some(Op::Del),
            VPOLL_IO_SETEVENTS => Some(Op::Set),
            _ => None,
        }
    }

    /// The operation numbered 1, 2 or 3, as in an `EFD_VPOLL` command's high
    /// half and a batch entry's `op`.
    pub(crate) fn from_number(op: u64) -> Option<Op> {
        match op {
            EFD_VPOLL_ADDEVENTS => Some(Op::Add),
            EFD_VPOLL_DELEVENTS => Some(Op::Del),
            EFD_VPOLL_MODEVENTS => Some(Op::Set),
            _ => None,
        }
    }
}
