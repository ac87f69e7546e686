// SPDX-License-Identifier: MIT OR Apache-2.0

//! What can go wrong, typed; each converts into the `io::Error` a `std::net`
//! program expects, with this error inside.

use std::io;
use std::net::SocketAddr;

/// Errors of the stack and its sockets.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The TAP interface could not be opened or configured.
    #[error("cannot open TAP interface {name:?}: {source} (needs CAP_NET_ADMIN and /dev/net/tun: `modprobe tun`)")]
    Tap {
        /// The interface name asked for.
        name: String,
        /// What the kernel said.
        source: io::Error,
    },
    /// A link's file descriptor failed.
    #[error("link: {what}: {source}")]
    Link {
        /// The operation.
        what: &'static str,
        /// What the kernel said.
        source: io::Error,
    },
    /// An address or prefix the stack cannot use.
    #[error("invalid address {addr:?}: {why}")]
    InvalidAddress {
        /// The address as given.
        addr: String,
        /// Why it is refused.
        why: &'static str,
    },
    /// An argument out of range, or a call out of order.
    #[error("invalid argument: {why}")]
    InvalidInput {
        /// What is wrong.
        why: &'static str,
    },
    /// The local address is not one of the stack's.
    #[error("{addr} is not an address of this stack")]
    AddrNotAvailable {
        /// The address asked for.
        addr: SocketAddr,
    },
    /// Another socket of the stack is bound to the address.
    #[error("{addr} is in use")]
    AddrInUse {
        /// The address asked for.
        addr: SocketAddr,
    },
    /// The stack has no route to the address.
    #[error("no route to {addr}")]
    Unreachable {
        /// The destination.
        addr: SocketAddr,
    },
    /// Every ephemeral port is taken.
    #[error("no free local port for a connection to {addr}")]
    PortsExhausted {
        /// The destination.
        addr: SocketAddr,
    },
    /// The peer refused the connection (it answered the SYN with a reset).
    #[error("connection refused")]
    ConnectionRefused,
    /// The peer reset the connection.
    #[error("connection reset by peer")]
    ConnectionReset,
    /// The operation needs an established connection.
    #[error("not connected")]
    NotConnected,
    /// Writing after this side or the connection was shut down.
    #[error("broken pipe: the connection is closed for writing")]
    BrokenPipe,
    /// The datagram does not fit the link's MTU or the socket's buffer
    /// (`EMSGSIZE`: the stack does not fragment).
    #[error("datagram of {len} bytes is larger than the {max} bytes a datagram may have here")]
    MessageTooLarge {
        /// The datagram's size.
        len: usize,
        /// The largest datagram the socket sends.
        max: usize,
    },
    /// The stack holds as many sockets as it may
    /// ([`Builder::max_sockets`](crate::Builder::max_sockets); `ENOBUFS`).
    #[error("the stack's limit of {max} sockets is reached")]
    SocketLimit {
        /// The limit.
        max: usize,
    },
    /// The operation would block and the socket is non-blocking.
    #[error("operation would block")]
    WouldBlock,
    /// A blocking operation's timeout passed.
    #[error("timed out")]
    TimedOut,
    /// The stack was dropped; its sockets are dead.
    #[error("the stack has stopped")]
    StackClosed,
    /// The socket's vpoll fd failed.
    #[error(transparent)]
    Vpoll(#[from] vpoll::Error),
    /// A system call failed.
    #[error("{what}: {source}")]
    Io {
        /// The operation.
        what: &'static str,
        /// What the kernel said.
        source: io::Error,
    },
}

impl Error {
    /// The `io::ErrorKind` a `std::net` socket reports for this error.
    pub fn kind(&self) -> io::ErrorKind {
        use io::ErrorKind as K;
        match self {
            Error::Tap { source, .. } | Error::Link { source, .. } | Error::Io { source, .. } => {
                source.kind()
            }
            Error::InvalidAddress { .. } | Error::InvalidInput { .. } => K::InvalidInput,
            Error::AddrNotAvailable { .. } => K::AddrNotAvailable,
            Error::AddrInUse { .. } => K::AddrInUse,
            Error::Unreachable { .. } => K::HostUnreachable,
            Error::PortsExhausted { .. } => K::AddrNotAvailable,
            Error::ConnectionRefused => K::ConnectionRefused,
            Error::ConnectionReset => K::ConnectionReset,
            Error::NotConnected => K::NotConnected,
            Error::BrokenPipe => K::BrokenPipe,
            // As std maps the errno a kernel socket gives.
            Error::MessageTooLarge { .. } => io::Error::from_raw_os_error(libc::EMSGSIZE).kind(),
            Error::SocketLimit { .. } => io::Error::from_raw_os_error(libc::ENOBUFS).kind(),
            Error::WouldBlock => K::WouldBlock,
            Error::TimedOut => K::TimedOut,
            Error::StackClosed => K::NotConnected,
            Error::Vpoll(e) => e.kind(),
        }
    }
}

impl From<Error> for io::Error {
    fn from(err: Error) -> io::Error {
        match err {
            Error::WouldBlock => io::ErrorKind::WouldBlock.into(),
            err => io::Error::new(err.kind(), err),
        }
    }
}

/// Results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
