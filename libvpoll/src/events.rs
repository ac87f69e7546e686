// SPDX-License-Identifier: MIT OR Apache-2.0

//! [`Events`]: a set of poll events, with the kernel's numeric values.

use crate::abi::events as abi;
use std::fmt;
use std::str::FromStr;

bitflags::bitflags! {
    /// A set of poll events, as `poll(2)` and `epoll(7)` report them (the
    /// x86_64 Linux values, where `EPOLL*` equals `POLL*`).
    ///
    /// Formats and parses as names joined by `|`:
    ///
    /// ```
    /// use vpoll::Events;
    /// let ev = Events::IN | Events::PRI;
    /// assert_eq!(ev.to_string(), "IN|PRI");
    /// assert_eq!("pollin, EPOLLPRI".parse::<Events>().unwrap(), ev);
    /// assert_eq!("0x3".parse::<Events>().unwrap(), ev);
    /// ```
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
    pub struct Events: u32 {
        // The numbers live once, in `abi::events`.
        /// Data to read (`POLLIN`).
        const IN = abi::IN;
        /// Urgent data or an exceptional condition (`POLLPRI`).
        const PRI = abi::PRI;
        /// Writing will not block (`POLLOUT`).
        const OUT = abi::OUT;
        /// An error; always reported, even when not asked for (`POLLERR`).
        const ERR = abi::ERR;
        /// Hang-up; always reported, even when not asked for (`POLLHUP`).
        const HUP = abi::HUP;
        /// Invalid request (`POLLNVAL`).
        const NVAL = abi::NVAL;
        /// Normal data to read (`POLLRDNORM`).
        const RDNORM = abi::RDNORM;
        /// Priority-band data to read (`POLLRDBAND`).
        const RDBAND = abi::RDBAND;
        /// Normal data may be written (`POLLWRNORM`).
        const WRNORM = abi::WRNORM;
        /// Priority-band data may be written (`POLLWRBAND`).
        const WRBAND = abi::WRBAND;
        /// Unused by Linux itself (`POLLMSG`).
        const MSG = abi::MSG;
        /// The peer closed its writing side (`POLLRDHUP`).
        const RDHUP = abi::RDHUP;
        // Every other bit below bit 28 is a valid mask bit too (EPOLLALLMASK).
        const _ = crate::abi::EPOLLALLMASK;
    }
}

/// The named events, in the order they format.
const NAMES: &[(&str, Events)] = &[
    ("IN", Events::IN),
    ("PRI", Events::PRI),
    ("OUT", Events::OUT),
    ("ERR", Events::ERR),
    ("HUP", Events::HUP),
    ("NVAL", Events::NVAL),
    ("RDNORM", Events::RDNORM),
    ("RDBAND", Events::RDBAND),
    ("WRNORM", Events::WRNORM),
    ("WRBAND", Events::WRBAND),
    ("MSG", Events::MSG),
    ("RDHUP", Events::RDHUP),
];

impl Events {
    /// Every bit a pending mask may hold (`EPOLLALLMASK`).
    ///
    /// ```
    /// # use vpoll::Events;
    /// assert_eq!(Events::ALL.bits(), 0x0fff_ffff);
    /// ```
    pub const ALL: Events = Events::from_bits_retain(crate::abi::EPOLLALLMASK);

    /// The named events: all that `poll(2)` and `select(2)` can report (they
    /// pass only these through). epoll and `read` see every bit of [`ALL`](Events::ALL).
    ///
    /// ```
    /// # use vpoll::Events;
    /// assert!(Events::NAMED.contains(Events::RDHUP));
    /// assert!(!Events::NAMED.contains(Events::from_mask(0x800)));
    /// ```
    pub const NAMED: Events = {
        let mut named = Events::empty();
        let mut i = 0;
        while i < NAMES.len() {
            named = named.union(NAMES[i].1);
            i += 1;
        }
        named
    };

    /// The events of a raw mask, keeping only the bits a mask may hold.
    ///
    /// ```
    /// # use vpoll::Events;
    /// assert_eq!(Events::from_mask(0x8000_0001), Events::IN);
    /// ```
    pub const fn from_mask(mask: u32) -> Events {
        Events::from_bits_retain(mask & crate::abi::EPOLLALLMASK)
    }
}

impl fmt::Display for Events {
    /// Names joined by `|`; unnamed bits as one hex number; `0` when empty.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.bits();
        let mut first = true;
        for (name, ev) in NAMES {
            if self.contains(*ev) {
                f.write_str(if first { "" } else { "|" })?;
                f.write_str(name)?;
                rest &= !ev.bits();
                first = false;
            }
        }
        match (rest, first) {
            (0, true) => f.write_str("0"),
            (0, false) => Ok(()),
            (n, true) => write!(f, "{n:#x}"),
            (n, false) => write!(f, "|{n:#x}"),
        }
    }
}

/// An events string that [`Events::from_str`] could not read.
///
/// ```
/// let err = "in|bogus".parse::<vpoll::Events>().unwrap_err();
/// assert_eq!(err.word, "bogus");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown event {word:?}; valid names: in, out, pri, err, hup, rdhup, nval, rdnorm, rdband, wrnorm, wrband, msg (any case, POLL/EPOLL prefix optional), or a number such as 0x2001")]
pub struct ParseEventsError {
    /// The word that is neither an event name nor a number.
    pub word: String,
}

impl FromStr for Events {
    type Err = ParseEventsError;

    /// Reads names (any case, with or without a `POLL`/`EPOLL` prefix) and
    /// numbers (`0x…`, `0o…`, decimal), separated by `|` or `,`; an empty
    /// string is the empty set. Bits above `EPOLLALLMASK` are an error.
    fn from_str(s: &str) -> Result<Events, ParseEventsError> {
        let mut events = Events::empty();
        for word in s.split(['|', ',']).map(str::trim).filter(|w| !w.is_empty()) {
            events |= parse_word(word).ok_or_else(|| ParseEventsError { word: word.into() })?;
        }
        Ok(events)
    }
}

fn parse_word(word: &str) -> Option<Events> {
    let number = if let Some(hex) = word.strip_prefix("0x").or_else(|| word.strip_prefix("0X")) {
        u32::from_str_radix(hex, 16).ok()
    } else if let Some(oct) = word.strip_prefix("0o") {
        u32::from_str_radix(oct, 8).ok()
    } else if word.starts_with(|c: char| c.is_ascii_digit()) {
        word.parse().ok()
    } else {
        let upper = word.to_ascii_uppercase();
        let name = upper
            .strip_prefix("EPOLL")
            .or_else(|| upper.strip_prefix("POLL"))
            .unwrap_or(&upper);
        return NAMES.iter().find(|(n, _)| *n == name).map(|(_, ev)| *ev);
    };
    number
        .filter(|n| n & !crate::abi::EPOLLALLMASK == 0)
        .map(Events::from_bits_retain)
}

impl From<Events> for nix::sys::epoll::EpollFlags {
    /// The same bits as epoll flags.
    fn from(ev: Events) -> Self {
        nix::sys::epoll::EpollFlags::from_bits_retain(ev.bits() as i32)
    }
}

impl From<nix::sys::epoll::EpollFlags> for Events {
    /// The event bits of epoll flags; the input flags (`EPOLLET`, …) are dropped.
    fn from(flags: nix::sys::epoll::EpollFlags) -> Self {
        Events::from_mask(flags.bits() as u32)
    }
}

impl From<nix::poll::PollFlags> for Events {
    /// The same bits as poll flags.
    fn from(flags: nix::poll::PollFlags) -> Self {
        Events::from_mask(flags.bits() as u16 as u32)
    }
}

impl TryFrom<Events> for nix::poll::PollFlags {
    type Error = Events;

    /// The poll flags for `ev`; fails with the events `poll(2)`'s 16-bit
    /// `events` field cannot hold or nix does not name.
    fn try_from(ev: Events) -> Result<Self, Events> {
        let flags = nix::poll::PollFlags::from_bits_truncate(ev.bits() as u16 as i16);
        let lost = ev - Events::from(flags);
        if lost.is_empty() {
            Ok(flags)
        } else {
            Err(lost)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_unnamed_bits_and_empty() {
        assert_eq!(Events::empty().to_string(), "0");
        assert_eq!(
            (Events::HUP | Events::RDHUP | Events::IN).to_string(),
            "IN|HUP|RDHUP"
        );
        assert_eq!(Events::from_mask(0x4000).to_string(), "0x4000");
        assert_eq!(Events::from_mask(0x4001).to_string(), "IN|0x4000");
    }

    #[test]
    fn parse_accepts_every_spelling() {
        let want = Events::IN | Events::RDHUP;
        for s in [
            "in|rdhup",
            "IN,RDHUP",
            "POLLIN | POLLRDHUP",
            "epollin,0x2000",
            "0x2001",
            "8193",
            " in , rdhup ",
        ] {
            assert_eq!(s.parse::<Events>(), Ok(want), "{s:?}");
        }
        assert_eq!("".parse::<Events>(), Ok(Events::empty()));
    }

    #[test]
    fn parse_rejects_unknown_names_and_flag_bits() {
        let err = "in|bogus".parse::<Events>().unwrap_err();
        assert_eq!(err.word, "bogus");
        assert!(err.to_string().contains("valid names"));
        assert!(
            "0x10000000".parse::<Events>().is_err(),
            "EPOLLEXCLUSIVE is not an event"
        );
        assert!("EPOLLET".parse::<Events>().is_err());
    }

    #[test]
    fn round_trips_through_display() {
        for bits in [0, 1, 0x2011, 0x3ff, 0x0fff_ffff] {
            let ev = Events::from_mask(bits);
            assert_eq!(ev.to_string().parse::<Events>(), Ok(ev), "{ev}");
        }
    }

    #[test]
    fn converts_to_and_from_nix() {
        use nix::poll::PollFlags;
        use nix::sys::epoll::EpollFlags;
        let ev = Events::IN | Events::PRI | Events::RDHUP;
        assert_eq!(
            EpollFlags::from(ev),
            EpollFlags::EPOLLIN | EpollFlags::EPOLLPRI | EpollFlags::EPOLLRDHUP
        );
        assert_eq!(
            Events::from(EpollFlags::EPOLLIN | EpollFlags::EPOLLET),
            Events::IN
        );
        assert_eq!(
            PollFlags::try_from(Events::IN | Events::OUT),
            Ok(PollFlags::POLLIN | PollFlags::POLLOUT)
        );
        assert_eq!(Events::from(PollFlags::POLLHUP), Events::HUP);
        assert_eq!(
            PollFlags::try_from(Events::from_mask(1 << 20)),
            Err(Events::from_mask(1 << 20))
        );
    }
}
