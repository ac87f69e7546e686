// SPDX-License-Identifier: MIT OR Apache-2.0

//! The stack's Ethernet link: a file descriptor that carries one frame per
//! read and write. A Linux TAP interface (the kernel on the other side) and a
//! socket pair between two stacks of one process (no root, no kernel support:
//! what host tests use) are both such an fd.

use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use nix::errno::Errno;
use nix::fcntl::{open, OFlag};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::socket::{
    send, setsockopt, socketpair, sockopt, AddressFamily, MsgFlags, SockFlag, SockType,
};
use nix::sys::stat::Mode;
use smoltcp::phy::{self, DeviceCapabilities, Medium, TxToken as _};
use smoltcp::time::Instant;

use crate::error::{Error, Result};

/// Ethernet's header, which smoltcp counts in the MTU of an Ethernet device.
const ETHERNET_HEADER: usize = 14;

/// The default IP MTU of a link, Ethernet's.
pub const DEFAULT_MTU: usize = 1500;

/// How many refused frames a link holds. Only replies to received frames
/// (ACKs, mostly) join a non-empty queue, so it stays short; beyond this a
/// frame is dropped, as by a NIC whose queue is full, and TCP resends it.
const HELD_MAX: usize = 256;

/// Sees each frame the stack sends through smoltcp before it goes, and may
/// rewrite it or keep it back (returns whether it goes): what lets the stack
/// carry connections whose sequence numbers smoltcp does not know (SYN
/// cookies).
pub(crate) trait Outgoing {
    fn outgoing(&mut self, frame: &mut [u8]) -> bool;
}

/// An Ethernet link for a [`Stack`](crate::Stack).
///
/// ```
/// use vpoll_netstack::Link;
/// let (a, b) = Link::pair()?;
/// assert_eq!(a.mtu(), 1500);
/// # drop(b);
/// # Ok::<(), vpoll_netstack::Error>(())
/// ```
#[derive(Debug)]
pub struct Link {
    fd: OwnedFd,
    mtu: usize,
    rx: Vec<u8>,
    tx: Vec<u8>,
    /// Frames the fd refused (`EAGAIN`), oldest first: sent before any
    /// other, so that a full link slows the stack down instead of losing or
    /// reordering frames.
    held: VecDeque<Vec<u8>>,
    name: Option<String>,
    /// The other end is gone for good (a pair's other stack dropped, the TAP
    /// interface deleted): the link is a pulled cable from now on.
    gone: bool,
}

impl Link {
    /// Two links joined back to back, for two stacks in one process: an
    /// `AF_UNIX` `SOCK_SEQPACKET` pair, one frame per message.
    pub fn pair() -> Result<(Link, Link)> {
        Link::pair_with_mtu(DEFAULT_MTU)
    }

    /// [`pair`](Link::pair) with an IP MTU of `mtu` bytes (at least 1280,
    /// IPv6's minimum; at most 65,000).
    pub fn pair_with_mtu(mtu: usize) -> Result<(Link, Link)> {
        check_mtu(mtu)?;
        let (a, b) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
        )
        .map_err(|e| link_err("socketpair", e))?;
        for fd in [&a, &b] {
            // Room for a window's worth of frames in flight; the kernel
            // clamps what it does not allow.
            setsockopt(fd, sockopt::SndBuf, &(4 << 20)).map_err(|e| link_err("SO_SNDBUF", e))?;
        }
        Ok((Link::from_fd(a, mtu, None), Link::from_fd(b, mtu, None)))
    }

    /// Opens the TAP interface `name` (made if it does not exist; needs
    /// `CAP_NET_ADMIN`), with its MTU as the kernel reports it. Bring the
    /// kernel's side up and give it an address (`ip link set NAME up`,
    /// `ip addr add …`) to talk to the kernel's stack.
    pub fn tap(name: &str) -> Result<Link> {
        let fd = Link::open_tap(name)?;
        let mtu = std::fs::read_to_string(format!("/sys/class/net/{name}/mtu"))
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(DEFAULT_MTU);
        Ok(Link::from_fd(fd, mtu, Some(name.to_owned())))
    }

    /// [`tap`](Link::tap), with the interface's MTU set to `mtu` bytes first
    /// (1280 to 65,000): jumbo frames to the kernel on the same machine (its
    /// loopback's MTU is 65,536) cut the frames, and the system calls, per
    /// byte by up to 40 times.
    ///
    /// ```no_run
    /// let link = vpoll_netstack::Link::tap_with_mtu("vp0", 65_000)?;
    /// assert_eq!(link.mtu(), 65_000);
    /// # Ok::<(), vpoll_netstack::Error>(())
    /// ```
    pub fn tap_with_mtu(name: &str, mtu: usize) -> Result<Link> {
        check_mtu(mtu)?;
        let fd = Link::open_tap(name)?;
        crate::sys::set_mtu(name, mtu).map_err(|source| Error::Tap {
            name: name.to_owned(),
            source,
        })?;
        Ok(Link::from_fd(fd, mtu, Some(name.to_owned())))
    }

    /// `/dev/net/tun` attached to TAP interface `name`.
    fn open_tap(name: &str) -> Result<OwnedFd> {
        let tap_err = |source: io::Error| Error::Tap {
            name: name.to_owned(),
            source,
        };
        let fd = open(
            "/dev/net/tun",
            OFlag::O_RDWR | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| tap_err(e.into()))?;
        crate::sys::tun_set_iff(fd.as_fd(), name).map_err(tap_err)?;
        Ok(fd)
    }

    fn from_fd(fd: OwnedFd, mtu: usize, name: Option<String>) -> Link {
        let frame = mtu + ETHERNET_HEADER;
        Link {
            fd,
            mtu,
            rx: vec![0; frame],
            tx: vec![0; frame],
            held: VecDeque::new(),
            name,
            gone: false,
        }
    }

    /// The IP MTU.
    pub fn mtu(&self) -> usize {
        self.mtu
    }

    /// The TAP interface's name, `None` for a pair.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// Whether a frame waits for room on the fd (then the stack waits for
    /// `POLLOUT` too).
    pub(crate) fn is_blocked(&self) -> bool {
        !self.held.is_empty()
    }

    /// Whether the other end is gone for good: the fd would report it at
    /// every poll, so the stack stops polling it.
    pub(crate) fn is_gone(&self) -> bool {
        self.gone
    }

    /// Reads the next frame into the link's receive buffer: its length, or
    /// `None` when nothing waits (or the other end is gone for good).
    pub(crate) fn recv_frame(&mut self) -> Option<usize> {
        self.flush();
        if self.gone {
            return None;
        }
        loop {
            return match nix::unistd::read(&self.fd, &mut self.rx) {
                Ok(n) if n > 0 => Some(n),
                // An empty message on a pair (no frame at all), unless the
                // other end is gone, which also reads as 0: only a hang-up
                // says which.
                Ok(_) if !self.hung_up() => continue,
                // A pair's other end closed, or the TAP interface was deleted.
                Ok(_) | Err(Errno::EBADFD | Errno::EBADF | Errno::ENODEV | Errno::ENXIO) => {
                    self.gone = true;
                    None
                }
                // Nothing waiting (EAGAIN), or an error a wire would show as
                // silence. Frames sent from now on fail and are lost, as on a
                // wire without its other end; TCP's timers back off.
                Err(_) => None,
            };
        }
    }

    /// Whether the fd reports that its other end hung up.
    fn hung_up(&self) -> bool {
        // A closed AF_UNIX peer shuts both directions: POLLHUP.
        let mut fds = [PollFd::new(self.fd.as_fd(), PollFlags::POLLIN)];
        matches!(poll(&mut fds, PollTimeout::ZERO), Ok(1))
            && fds[0]
                .revents()
                .is_some_and(|r| r.contains(PollFlags::POLLHUP))
    }

    /// The frame [`recv_frame`](Link::recv_frame) read.
    pub(crate) fn frame(&self, len: usize) -> &[u8] {
        &self.rx[..len]
    }

    /// The frame [`recv_frame`](Link::recv_frame) read, to change in place
    /// before smoltcp has it.
    pub(crate) fn frame_mut(&mut self, len: usize) -> &mut [u8] {
        &mut self.rx[..len]
    }

    /// Puts `frame` where a received frame goes, as if the link had read it
    /// (one the stack made for smoltcp); its length, 0 if it does not fit.
    pub(crate) fn load(&mut self, frame: &[u8]) -> usize {
        match self.rx.get_mut(..frame.len()) {
            Some(rx) => {
                rx.copy_from_slice(frame);
                frame.len()
            }
            None => 0,
        }
    }

    /// The link as a smoltcp device that sends through `hook` and receives
    /// just the frame [`recv_frame`](Link::recv_frame) read (`len` bytes),
    /// once.
    pub(crate) fn one_frame<'a>(&'a mut self, len: usize, hook: &'a mut dyn Outgoing) -> Wire<'a> {
        Wire {
            link: self,
            hook,
            given: Some(Some(len)),
        }
    }

    /// The link as a smoltcp device that sends through `hook`.
    pub(crate) fn wire<'a>(&'a mut self, hook: &'a mut dyn Outgoing) -> Wire<'a> {
        Wire {
            link: self,
            hook,
            given: None,
        }
    }

    /// Sends a frame the stack made itself (not through smoltcp), in order
    /// behind any held ones.
    pub(crate) fn send_frame(&mut self, frame: &[u8]) {
        TxToken {
            fd: &self.fd,
            pair: self.name.is_none(),
            buf: &mut self.tx,
            held: &mut self.held,
            hook: None,
        }
        .consume(frame.len(), |f| f.copy_from_slice(frame));
    }

    /// Sends held frames, oldest first, while the fd takes them.
    fn flush(&mut self) {
        while let Some(frame) = self.held.front() {
            match write_frame(&self.fd, self.name.is_none(), frame) {
                Err(Errno::EAGAIN) => return,
                // Sent, or lost the way a wire loses it (the interface went
                // down): TCP retransmits either way.
                _ => self.held.pop_front(),
            };
        }
    }
}

fn check_mtu(mtu: usize) -> Result<()> {
    if (1280..=65_000).contains(&mtu) {
        Ok(())
    } else {
        Err(Error::InvalidAddress {
            addr: format!("mtu {mtu}"),
            why: "a link's MTU is 1280 to 65000 bytes",
        })
    }
}

/// Writes one frame. A pair's other end may be gone: `MSG_NOSIGNAL`, so that
/// this is `EPIPE` and not a `SIGPIPE` that ends the program.
fn write_frame(fd: &OwnedFd, pair: bool, frame: &[u8]) -> nix::Result<usize> {
    if pair {
        send(fd.as_raw_fd(), frame, MsgFlags::MSG_NOSIGNAL)
    } else {
        nix::unistd::write(fd, frame)
    }
}

fn link_err(what: &'static str, e: Errno) -> Error {
    Error::Link {
        what,
        source: e.into(),
    }
}

impl AsFd for Link {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for Link {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.fd.as_raw_fd()
    }
}

/// A received frame.
pub struct RxToken<'a> {
    frame: &'a [u8],
}

/// Room for one frame to send.
pub struct TxToken<'a> {
    fd: &'a OwnedFd,
    pair: bool,
    buf: &'a mut Vec<u8>,
    held: &'a mut VecDeque<Vec<u8>>,
    hook: Option<&'a mut dyn Outgoing>,
}

impl phy::RxToken for RxToken<'_> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(self.frame)
    }
}

impl phy::TxToken for TxToken<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let frame = &mut self.buf[..len];
        let r = f(frame);
        if let Some(hook) = self.hook {
            if !hook.outgoing(frame) {
                return r;
            }
        }
        // Behind held frames a frame waits its turn: sent now, it would
        // overtake them.
        let refused = !self.held.is_empty()
            || matches!(write_frame(self.fd, self.pair, frame), Err(Errno::EAGAIN));
        if refused && self.held.len() < HELD_MAX {
            self.held.push_back(frame.to_vec());
        }
        r
    }
}

impl Link {
    fn tokens<'a>(
        &'a mut self,
        len: usize,
        hook: Option<&'a mut dyn Outgoing>,
    ) -> (RxToken<'a>, TxToken<'a>) {
        (
            RxToken {
                frame: &self.rx[..len],
            },
            TxToken {
                fd: &self.fd,
                pair: self.name.is_none(),
                buf: &mut self.tx,
                held: &mut self.held,
                hook,
            },
        )
    }

    fn tx_token<'a>(&'a mut self, hook: Option<&'a mut dyn Outgoing>) -> Option<TxToken<'a>> {
        self.flush();
        if self.is_blocked() {
            return None;
        }
        Some(TxToken {
            fd: &self.fd,
            pair: self.name.is_none(),
            buf: &mut self.tx,
            held: &mut self.held,
            hook,
        })
    }
}

/// A [`Link`] as smoltcp's device, its frames passing a hook on their way
/// out. It receives from the fd, or just the one frame the stack already
/// read and looked at.
pub(crate) struct Wire<'a> {
    link: &'a mut Link,
    hook: &'a mut dyn Outgoing,
    /// `Some`: only this frame (its length), once; `None`: from the fd.
    given: Option<Option<usize>>,
}

impl phy::Device for Wire<'_> {
    type RxToken<'a>
        = RxToken<'a>
    where
        Self: 'a;
    type TxToken<'a>
        = TxToken<'a>
    where
        Self: 'a;

    fn receive(&mut self, _: Instant) -> Option<(RxToken<'_>, TxToken<'_>)> {
        let n = match &mut self.given {
            Some(len) => len.take()?,
            None => self.link.recv_frame()?,
        };
        Some(self.link.tokens(n, Some(&mut *self.hook)))
    }

    fn transmit(&mut self, _: Instant) -> Option<TxToken<'_>> {
        self.link.tx_token(Some(&mut *self.hook))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        self.link.capabilities()
    }
}

impl phy::Device for Link {
    type RxToken<'a> = RxToken<'a>;
    type TxToken<'a> = TxToken<'a>;

    fn receive(&mut self, _: Instant) -> Option<(RxToken<'_>, TxToken<'_>)> {
        let n = self.recv_frame()?;
        Some(self.tokens(n, None))
    }

    fn transmit(&mut self, _: Instant) -> Option<TxToken<'_>> {
        self.tx_token(None)
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = self.mtu + ETHERNET_HEADER;
        caps
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use phy::{Device, RxToken as _};

    const LEN: usize = 1000;

    fn send(token: impl phy::TxToken, seq: u32) {
        token.consume(LEN, |f| f[..4].copy_from_slice(&seq.to_be_bytes()));
    }

    /// Every frame a stack sends arrives once and in order, even when the
    /// fd refuses some and a reply to a received frame is sent meanwhile.
    #[test]
    fn refused_frames_arrive_in_order_behind_the_held_ones() {
        let (mut a, mut b) = Link::pair().unwrap();
        let now = Instant::from_millis(0);
        let mut seq = 0;
        while !a.is_blocked() {
            send(a.transmit(now).unwrap(), seq);
            seq += 1;
        }
        assert!(
            a.transmit(now).is_none(),
            "a blocked link takes no new frame"
        );
        // A frame arrives; the reply goes out with the token receive() gave.
        nix::unistd::write(&b.fd, &[0; LEN]).unwrap();
        let (rx, tx) = a.receive(now).unwrap();
        rx.consume(|f| assert_eq!(f.len(), LEN));
        send(tx, seq);
        let mut got = Vec::new();
        loop {
            match nix::unistd::read(&b.fd, &mut b.rx) {
                Ok(_) => got.push(u32::from_be_bytes(b.rx[..4].try_into().unwrap())),
                Err(Errno::EAGAIN) if a.is_blocked() => a.flush(),
                Err(Errno::EAGAIN) => break,
                Err(e) => panic!("read: {e}"),
            }
        }
        let sent: Vec<u32> = (0..=seq).collect();
        let first_difference = sent.iter().zip(&got).position(|(s, g)| s != g);
        assert!(
            got == sent,
            "{} frames sent, {} arrived, first difference at {first_difference:?}",
            sent.len(),
            got.len()
        );
        assert!(!a.is_blocked());
    }
}
