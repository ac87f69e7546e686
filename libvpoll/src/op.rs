// SPDX-License-Identifier: MIT OR Apache-2.0

//! [`Op`]: the three ways to change a vpoll fd's pending events.

use crate::abi::ctl;
use std::fmt;
use std::str::FromStr;

/// How a change treats the pending events: the vpoll ABI's three operations
/// (`VPOLL_IO_ADDEVENTS`/`DELEVENTS`/`SETEVENTS`, `VPOLL_CTL_*` in C).
///
/// ```
/// use vpoll::{Events, Op, Vpoll};
/// let op: Op = "add".parse()?;
/// let vp = Vpoll::new()?;
/// assert!(vp.apply(op, Events::IN)?.contains(Events::IN));
/// assert_eq!(op.to_string(), "add");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// The events are raised, the others stay.
    Add,
    /// The events are cleared, the others stay.
    Del,
    /// The events become exactly the pending ones.
    Set,
}

impl Op {
    /// Every operation, in ABI order (1, 2, 3).
    pub const ALL: [Op; 3] = [Op::Add, Op::Del, Op::Set];

    /// The operation's name: `add`, `del` or `set`.
    pub fn name(self) -> &'static str {
        match self {
            Op::Add => "add",
            Op::Del => "del",
            Op::Set => "set",
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Op {
    /// The operation a C `vpoll_ctl` call names ([`abi::ctl`](crate::abi::ctl)).
    ///
    /// ```
    /// use vpoll::{abi, Op};
    /// assert_eq!(Op::from_ctl(abi::ctl::DELEVENTS), Some(Op::Del));
    /// assert_eq!(Op::from_ctl(0), None);
    /// ```
    pub fn from_ctl(op: i32) -> Option<Op> {
        match op {
            ctl::ADDEVENTS => Some(Op::Add),
            ctl::DELEVENTS => Some(Op::Del),
            ctl::SETEVENTS => Some(Op::Set),
            _ => None,
        }
    }

    /// The number C's `vpoll_ctl` and `VPOLL_IO_BATCH` give this operation.
    ///
    /// ```
    /// use vpoll::{abi, Op};
    /// assert_eq!(Op::Set.to_ctl(), abi::ctl::SETEVENTS);
    /// ```
    pub fn to_ctl(self) -> i32 {
        match self {
            Op::Add => ctl::ADDEVENTS,
            Op::Del => ctl::DELEVENTS,
            Op::Set => ctl::SETEVENTS,
        }
    }
}

/// An operation name that is none of `add`, `del`, `set`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown operation {0:?}: use add, del or set")]
pub struct ParseOpError(pub String);

impl FromStr for Op {
    type Err = ParseOpError;

    /// `add`, `del` or `set`, in any case.
    fn from_str(s: &str) -> Result<Op, ParseOpError> {
        Op::ALL
            .into_iter()
            .find(|op| op.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| ParseOpError(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for op in Op::ALL {
            assert_eq!(op.to_string().parse::<Op>(), Ok(op));
        }
        assert_eq!("SET".parse::<Op>(), Ok(Op::Set));
        assert!("mod"
            .parse::<Op>()
            .unwrap_err()
            .to_string()
            .contains("add, del or set"));
    }
}
