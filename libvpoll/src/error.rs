// SPDX-License-Identifier: MIT OR Apache-2.0

//! [`Error`]: what went wrong, and on which backend.

use crate::backend::Backend;
use crate::events::Events;
use std::io;

/// The result of a vpoll operation.
///
/// ```
/// fn make() -> vpoll::Result<vpoll::Vpoll> {
///     vpoll::Vpoll::new()
/// }
/// # make().unwrap();
/// ```
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a vpoll operation failed. Every variant names the backend involved.
///
/// ```
/// use vpoll::{Backend, Error, Events, Vpoll};
/// let vp = Vpoll::builder().backend(Backend::Emulation).build()?;
/// match vp.add(Events::ERR) {
///     Err(Error::Unsupported { backend, events }) => {
///         assert_eq!((backend, events), (Backend::Emulation, Events::ERR));
///     }
///     other => panic!("a socket cannot show ERR: {other:?}"),
/// }
/// # Ok::<(), vpoll::Error>(())
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The backend cannot be used on this system (no `/dev/vpoll`, an
    /// eventfd without `EFD_VPOLL`, no AF_UNIX sockets).
    #[error("the {backend} backend is not available: {source}")]
    Unavailable {
        /// The backend that was tried.
        backend: Backend,
        /// What the system answered.
        #[source]
        source: io::Error,
    },
    /// No backend could be used; each one's reason, in the order tried.
    #[error("no vpoll backend is available ({})", list(.tried))]
    NoBackend {
        /// Each backend tried and why it was refused.
        tried: Vec<(Backend, io::Error)>,
    },
    /// The backend cannot make the fd report these events (nothing was changed).
    #[error("the {backend} backend cannot deliver {events}")]
    Unsupported {
        /// The backend in use.
        backend: Backend,
        /// The events it cannot deliver.
        events: Events,
    },
    /// These events, once raised, cannot be cleared on this backend (the
    /// emulation's hang-ups are socket shutdowns); nothing was changed.
    #[error("the {backend} backend cannot clear {events} once raised")]
    Irreversible {
        /// The backend in use.
        backend: Backend,
        /// The events that would have to be cleared.
        events: Events,
    },
    /// On this backend some events can only be shown together with others
    /// (a socket with urgent data is also readable), and the operation asked
    /// for one without the other; nothing was changed.
    #[error("the {backend} backend cannot show {with} without {events}")]
    Inseparable {
        /// The backend in use.
        backend: Backend,
        /// The events that were to be cleared but must stay.
        events: Events,
        /// The events that require them.
        with: Events,
    },
    /// A system call failed.
    #[error("{operation} on the {backend} backend failed: {source}")]
    Io {
        /// The backend in use.
        backend: Backend,
        /// What was being done, e.g. `"ioctl(VPOLL_IO_ADDEVENTS)"`.
        operation: &'static str,
        /// The error the system returned.
        #[source]
        source: io::Error,
    },
    /// The fd is no vpoll fd that this process can drive without the `Vpoll`
    /// that made it (an emulated one is a plain socket); nothing was done.
    #[error("the fd is not a vpoll fd this process can control (it is {what})")]
    NotVpoll {
        /// What it is instead, as `/proc/self/fd` names it.
        what: String,
    },
    /// `VPOLL_BACKEND` names no backend.
    #[error("VPOLL_BACKEND={value:?} names no backend; use device, eventfd or emulation")]
    BadBackendVar {
        /// The variable's value.
        value: String,
    },
}

/// The error for a failed create: running out of descriptors or memory is an
/// `Io` error (it stops automatic selection, since no other backend would do
/// better); anything else means the backend is not there.
pub(crate) fn create_error(backend: Backend, operation: &'static str, source: io::Error) -> Error {
    match source.raw_os_error() {
        Some(libc::EMFILE | libc::ENFILE | libc::ENOMEM | libc::ENOBUFS) => Error::Io {
            backend,
            operation,
            source,
        },
        _ => Error::Unavailable { backend, source },
    }
}

fn list(tried: &[(Backend, io::Error)]) -> String {
    let parts: Vec<_> = tried.iter().map(|(b, e)| format!("{b}: {e}")).collect();
    parts.join("; ")
}

impl Error {
    /// The closest `io::ErrorKind`, for callers that speak `io::Error`.
    ///
    /// ```
    /// # use vpoll::{Backend, Vpoll, Events};
    /// let vp = Vpoll::builder().backend(Backend::Emulation).build()?;
    /// let err = vp.add(Events::MSG).unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::Unsupported);
    /// let io: std::io::Error = err.into(); // keeps the message
    /// assert!(io.to_string().contains("cannot deliver MSG"));
    /// # Ok::<(), vpoll::Error>(())
    /// ```
    pub fn kind(&self) -> io::ErrorKind {
        match self {
            Error::Unavailable { source, .. } | Error::Io { source, .. } => source.kind(),
            Error::NoBackend { .. } => io::ErrorKind::NotFound,
            Error::Unsupported { .. } | Error::Irreversible { .. } | Error::Inseparable { .. } => {
                io::ErrorKind::Unsupported
            }
            Error::BadBackendVar { .. } | Error::NotVpoll { .. } => io::ErrorKind::InvalidInput,
        }
    }

    /// The OS error number underneath, if a system call failed.
    ///
    /// ```
    /// # use vpoll::{Backend, Vpoll};
    /// if let Err(e) = Vpoll::builder().backend(Backend::Device).build() {
    ///     // ENOENT without the module, EACCES if the node's mode refuses us.
    ///     println!("no /dev/vpoll: errno {:?}", e.raw_os_error());
    /// }
    /// ```
    pub fn raw_os_error(&self) -> Option<i32> {
        match self {
            Error::Unavailable { source, .. } | Error::Io { source, .. } => source.raw_os_error(),
            _ => None,
        }
    }
}

impl From<Error> for io::Error {
    /// Keeps the whole error, with its context, behind the closest kind.
    fn from(e: Error) -> io::Error {
        io::Error::new(e.kind(), e)
    }
}
