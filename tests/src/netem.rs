// SPDX-License-Identifier: MIT OR Apache-2.0

//! A bad network on a kernel interface: the `netem` queueing discipline,
//! as `tc qdisc replace dev IF root netem …` sets it, over rtnetlink (the
//! guest has no `tc`). It acts on what the interface sends: on a TAP, what
//! the kernel sends to the user-level stack.
#![allow(unsafe_code)] // netlink and ethtool structures read from raw bytes

use std::io;
use std::os::fd::AsRawFd;

use nix::sys::socket::{
    recv, send, socket, AddressFamily, MsgFlags, SockFlag, SockProtocol, SockType,
};
use std::time::Duration;

const RTM_NEWQDISC: u16 = 36;
const RTM_DELQDISC: u16 = 37;
const NLMSG_ERROR: u16 = 2;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_REPLACE: u16 = 0x100;
const NLM_F_CREATE: u16 = 0x400;
const TC_H_ROOT: u32 = 0xffff_ffff;
const TCA_KIND: u16 = 1;
const TCA_OPTIONS: u16 = 2;
const TCA_NETEM_REORDER: u16 = 3;
const TCA_NETEM_CORRUPT: u16 = 4;
const TCA_NETEM_LATENCY64: u16 = 10;
const TCA_NETEM_JITTER64: u16 = 11;

/// What netem does to each packet the interface sends.
#[derive(Clone, Copy, Debug, Default)]
pub struct Netem {
    pub delay: Duration,
    pub jitter: Duration,
    /// Chances, 0 to 1.
    pub loss: f64,
    pub duplicate: f64,
    /// Sent at once instead of delayed (so ahead of the ones before).
    pub reorder: f64,
    /// One bit flipped: a bad checksum.
    pub corrupt: f64,
    /// Packets queued at most (netem's default is 1000).
    pub limit: u32,
}

/// A chance as netem's 32-bit fraction.
fn fraction(p: f64) -> u32 {
    (p.clamp(0.0, 1.0) * f64::from(u32::MAX)) as u32
}

/// Appends attribute `kind` holding `payload` (padded to 4 bytes).
fn attr(buf: &mut Vec<u8>, kind: u16, payload: &[u8]) {
    let len = 4 + payload.len();
    buf.extend_from_slice(&(len as u16).to_ne_bytes());
    buf.extend_from_slice(&kind.to_ne_bytes());
    buf.extend_from_slice(payload);
    buf.resize(buf.len().next_multiple_of(4), 0);
}

fn words(values: &[u32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_ne_bytes()).collect()
}

/// Sends one rtnetlink request about interface `ifindex`'s root qdisc and
/// returns the kernel's answer (0 or its errno).
fn request(kind: u16, flags: u16, ifindex: u32, attrs: &[u8]) -> io::Result<()> {
    let fd = socket(
        AddressFamily::Netlink,
        SockType::Raw,
        SockFlag::SOCK_CLOEXEC,
        SockProtocol::NetlinkRoute,
    )?;
    let mut msg = Vec::new();
    // nlmsghdr: length (filled below), type, flags, sequence, port.
    msg.extend_from_slice(&0u32.to_ne_bytes());
    msg.extend_from_slice(&kind.to_ne_bytes());
    msg.extend_from_slice(&(flags | NLM_F_REQUEST | NLM_F_ACK).to_ne_bytes());
    msg.extend_from_slice(&1u32.to_ne_bytes());
    msg.extend_from_slice(&0u32.to_ne_bytes());
    // tcmsg: family and padding, ifindex, handle, parent, info.
    msg.extend_from_slice(&[0; 4]);
    msg.extend_from_slice(&ifindex.to_ne_bytes());
    msg.extend_from_slice(&words(&[0, TC_H_ROOT, 0]));
    msg.extend_from_slice(attrs);
    let len = msg.len() as u32;
    msg[..4].copy_from_slice(&len.to_ne_bytes());
    // The kernel is a netlink socket's default destination.
    send(fd.as_raw_fd(), &msg, MsgFlags::empty())?;
    let mut reply = [0u8; 4096];
    let n = recv(fd.as_raw_fd(), &mut reply, MsgFlags::empty())?;
    let kind = u16::from_ne_bytes([reply[4], reply[5]]);
    if n < 20 || kind != NLMSG_ERROR {
        return Err(io::Error::other(format!(
            "unexpected netlink reply (type {kind}, {n} bytes)"
        )));
    }
    match i32::from_ne_bytes([reply[16], reply[17], reply[18], reply[19]]) {
        0 => Ok(()),
        e => Err(io::Error::from_raw_os_error(-e)),
    }
}

/// ethtool's commands (linux/ethtool.h) for segmentation offload, and the
/// ioctl that carries them.
const ETHTOOL_GTSO: u32 = 0x1e;
const ETHTOOL_STSO: u32 = 0x1f;
const ETHTOOL_GGSO: u32 = 0x23;
const ETHTOOL_SGSO: u32 = 0x24;
const SIOCETHTOOL: libc::c_ulong = 0x8946;

/// One ethtool value command on interface `name`; the value it holds after.
fn ethtool(name: &str, cmd: u32, data: u32) -> io::Result<u32> {
    #[repr(C)]
    struct EthtoolValue {
        cmd: u32,
        data: u32,
    }
    #[repr(C)]
    struct IfReq {
        name: [u8; libc::IFNAMSIZ],
        data: *mut EthtoolValue,
        _pad: [u8; 16],
    }
    if name.len() >= libc::IFNAMSIZ {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    let fd = socket(
        AddressFamily::Inet,
        SockType::Datagram,
        SockFlag::SOCK_CLOEXEC,
        None,
    )?;
    let mut value = EthtoolValue { cmd, data };
    let mut req = IfReq {
        name: [0; libc::IFNAMSIZ],
        data: &mut value,
        _pad: [0; 16],
    };
    req.name[..name.len()].copy_from_slice(name.as_bytes());
    // SAFETY: SIOCETHTOOL reads and writes `req` and the value it points
    // at, both live for the call.
    if unsafe { libc::ioctl(fd.as_raw_fd(), SIOCETHTOOL, &mut req) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(value.data)
}

/// Turns segmentation offload (TSO, GSO) of interface `name` on or off, as
/// `ethtool -K NAME tso off gso off` does. With it on, TCP hands the
/// interface packets of up to 64 KiB that are cut into segments only after
/// the qdisc, so netem would lose or delay dozens of segments as one; off,
/// its chances are per segment, as on a real link. Fails if it stays on.
pub fn segmentation_offload(name: &str, on: bool) -> io::Result<()> {
    for (set, get, what) in [
        (ETHTOOL_STSO, ETHTOOL_GTSO, "TSO"),
        (ETHTOOL_SGSO, ETHTOOL_GGSO, "GSO"),
    ] {
        // A device that cannot change it (EOPNOTSUPP) may have it fixed off.
        match ethtool(name, set, u32::from(on)) {
            Ok(_) => {}
            Err(e) if e.raw_os_error() == Some(libc::EOPNOTSUPP) => {}
            Err(e) => return Err(e),
        }
        let now = ethtool(name, get, 0)? != 0;
        if !on && now {
            return Err(io::Error::other(format!("{what} of {name} stays on")));
        }
    }
    Ok(())
}

fn ifindex(name: &str) -> io::Result<u32> {
    nix::net::if_::if_nametoindex(name).map_err(io::Error::from)
}

impl Netem {
    /// Puts this netem at the root of interface `name` (replacing what was
    /// there), with segmentation offload off so that it acts on each
    /// segment ([`segmentation_offload`]). Reordering needs a delay to
    /// overtake, as in `tc`.
    pub fn apply(&self, name: &str) -> io::Result<()> {
        segmentation_offload(name, false)?;
        let gap = u32::from(self.reorder > 0.0);
        let limit = if self.limit == 0 { 10_000 } else { self.limit };
        // tc_netem_qopt (latency and jitter in ticks: 0, the 64-bit
        // attributes below give them), then netem's own attributes.
        let mut options = words(&[
            0,
            limit,
            fraction(self.loss),
            gap,
            fraction(self.duplicate),
            0,
        ]);
        attr(
            &mut options,
            TCA_NETEM_LATENCY64,
            &(self.delay.as_nanos() as i64).to_ne_bytes(),
        );
        attr(
            &mut options,
            TCA_NETEM_JITTER64,
            &(self.jitter.as_nanos() as i64).to_ne_bytes(),
        );
        if self.reorder > 0.0 {
            attr(
                &mut options,
                TCA_NETEM_REORDER,
                &words(&[fraction(self.reorder), 0]),
            );
        }
        if self.corrupt > 0.0 {
            attr(
                &mut options,
                TCA_NETEM_CORRUPT,
                &words(&[fraction(self.corrupt), 0]),
            );
        }
        let mut attrs = Vec::new();
        attr(&mut attrs, TCA_KIND, b"netem\0");
        attr(&mut attrs, TCA_OPTIONS, &options);
        request(
            RTM_NEWQDISC,
            NLM_F_CREATE | NLM_F_REPLACE,
            ifindex(name)?,
            &attrs,
        )
    }

    /// Takes interface `name`'s root qdisc back to the default, and its
    /// segmentation offload back on.
    pub fn clear(name: &str) -> io::Result<()> {
        match request(RTM_DELQDISC, 0, ifindex(name)?, &[]) {
            // Nothing there to delete: already the default.
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
            other => other?,
        }
        segmentation_offload(name, true)
    }
}

/// The kernel's count of TCP segments it sent again (`RetransSegs` of
/// `/proc/net/snmp`; 0 if it cannot be read).
pub fn kernel_retransmissions() -> u64 {
    let snmp = std::fs::read_to_string("/proc/net/snmp").unwrap_or_default();
    let mut tcp = snmp.lines().filter(|l| l.starts_with("Tcp:"));
    let (Some(names), Some(values)) = (tcp.next(), tcp.next()) else {
        return 0;
    };
    names
        .split_whitespace()
        .zip(values.split_whitespace())
        .find(|(name, _)| *name == "RetransSegs")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0)
}
