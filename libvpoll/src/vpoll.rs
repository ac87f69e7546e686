// SPDX-License-Identifier: MIT OR Apache-2.0

//! [`Vpoll`]: one vpoll file descriptor, whatever the backend.

use crate::backend::Backend;
use crate::choice;
use crate::device::{self, Device};
use crate::emulation::Emulation;
use crate::error::{Error, Result};
use crate::eventfd::{self, EventFd};
use crate::events::Events;
use crate::op::Op;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, IntoRawFd, OwnedFd, RawFd};

/// A file descriptor that reports the poll events you set.
///
/// Hand [`Vpoll::as_fd`] to anything that waits on file descriptors — `poll`,
/// `select`, `epoll`, `io_uring`, an event loop — and change what it reports
/// with [`add`](Vpoll::add), [`del`](Vpoll::del) and [`set`](Vpoll::set).
/// Dropping it closes everything it owns.
///
/// ```
/// use vpoll::{Events, Vpoll};
/// let vp = Vpoll::new()?;
/// vp.add(Events::IN)?;
/// // poll(vp.as_raw_fd(), POLLIN) now returns at once with POLLIN.
/// assert!(vp.events()?.contains(Events::IN));
/// vp.del(Events::IN)?;
/// assert!(!vp.events()?.contains(Events::IN));
/// # Ok::<(), vpoll::Error>(())
/// ```
#[derive(Debug)]
pub struct Vpoll {
    imp: Imp,
}

#[derive(Debug)]
enum Imp {
    Device(Device),
    EventFd(EventFd),
    Emulation(Emulation),
}

/// Options for a new [`Vpoll`]; [`Vpoll::builder`] makes one.
///
/// ```
/// use vpoll::{Events, Vpoll};
/// let vp = Vpoll::builder().events(Events::OUT).cloexec(false).build()?;
/// # Ok::<(), vpoll::Error>(())
/// ```
#[derive(Debug, Clone)]
#[must_use = "a Builder does nothing until .build()"]
pub struct Builder {
    events: Events,
    cloexec: bool,
    backend: Option<Backend>,
}

impl Builder {
    /// The events pending from the start (default: none).
    ///
    /// ```
    /// # use vpoll::{Events, Vpoll};
    /// let vp = Vpoll::builder().events(Events::IN).build()?;
    /// assert!(vp.events()?.contains(Events::IN));
    /// # Ok::<(), vpoll::Error>(())
    /// ```
    pub fn events(mut self, events: Events) -> Builder {
        self.events = events;
        self
    }

    /// Whether the fd closes on `exec` (default: yes).
    ///
    /// ```
    /// # use vpoll::Vpoll;
    /// // To hand the fd to a child process:
    /// let inherited = Vpoll::builder().cloexec(false).build()?;
    /// # Ok::<(), vpoll::Error>(())
    /// ```
    pub fn cloexec(mut self, cloexec: bool) -> Builder {
        self.cloexec = cloexec;
        self
    }

    /// Use this backend only (default: `VPOLL_BACKEND` if set, else the first
    /// that works of device, eventfd, emulation).
    ///
    /// ```
    /// # use vpoll::{Backend, Vpoll};
    /// let vp = Vpoll::builder().backend(Backend::Emulation).build()?;
    /// assert_eq!(vp.backend(), Backend::Emulation);
    /// # Ok::<(), vpoll::Error>(())
    /// ```
    pub fn backend(mut self, backend: Backend) -> Builder {
        self.backend = Some(backend);
        self
    }

    /// Creates the vpoll fd.
    ///
    /// ```
    /// use vpoll::{Backend, Events, Vpoll};
    /// let vp = Vpoll::builder().events(Events::OUT).backend(Backend::Emulation).build()?;
    /// assert_eq!(vp.backend(), Backend::Emulation);
    /// assert_eq!(vp.events()?, Events::OUT | Events::WRNORM | Events::WRBAND);
    /// # Ok::<(), vpoll::Error>(())
    /// ```
    pub fn build(self) -> Result<Vpoll> {
        let imp = choice::select(self.backend, |backend| {
            Ok(match backend {
                Backend::Device => Imp::Device(Device::create(self.events, self.cloexec)?),
                Backend::EventFd => Imp::EventFd(EventFd::create(self.events, self.cloexec)?),
                Backend::Emulation => Imp::Emulation(Emulation::create(self.events, self.cloexec)?),
            })
        })?;
        Ok(Vpoll { imp })
    }
}

impl Vpoll {
    /// A vpoll fd with no events pending, on the automatically chosen backend.
    ///
    /// ```
    /// # use vpoll::Vpoll;
    /// let vp = Vpoll::new()?;
    /// assert!(vp.events()?.is_empty());
    /// # Ok::<(), vpoll::Error>(())
    /// ```
    pub fn new() -> Result<Vpoll> {
        Vpoll::builder().build()
    }

    /// A vpoll fd with `events` pending, on the automatically chosen backend.
    ///
    /// ```
    /// # use vpoll::{Events, Vpoll};
    /// let vp = Vpoll::with_events(Events::IN)?;
    /// assert!(vp.events()?.contains(Events::IN));
    /// # Ok::<(), vpoll::Error>(())
    /// ```
    pub fn with_events(events: Events) -> Result<Vpoll> {
        Vpoll::builder().events(events).build()
    }

    /// Options for a new vpoll fd: initial events, close-on-exec, backend.
    ///
    /// ```
    /// # use vpoll::{Events, Vpoll};
    /// let vp = Vpoll::builder().events(Events::OUT).build()?;
    /// # Ok::<(), vpoll::Error>(())
    /// ```
    pub fn builder() -> Builder {
        Builder {
            events: Events::empty(),
            cloexec: true,
            backend: None,
        }
    }

    /// Raises `events` (waking the waiters interested in them); returns the
    /// events now pending.
    ///
    /// ```
    /// # use vpoll::{Events, Vpoll};
    /// let vp = Vpoll::new()?;
    /// assert!(vp.add(Events::IN)?.contains(Events::IN));
    /// # Ok::<(), vpoll::Error>(())
    /// ```
    #[inline]
    pub fn add(&self, events: Events) -> Result<Events> {
        self.apply(Op::Add, events)
    }

    /// Clears `events`; returns the events now pending.
    ///
    /// ```
    /// # use vpoll::{Events, Vpoll};
    /// let vp = Vpoll::with_events(Events::IN)?;
    /// assert!(!vp.del(Events::IN)?.contains(Events::IN));
    /// # Ok::<(), vpoll::Error>(())
    /// ```
    #[inline]
    pub fn del(&self, events: Events) -> Result<Events> {
        self.apply(Op::Del, events)
    }

    /// Makes `events` exactly the pending events (on the emulation, with the
    /// events they imply); returns the events now pending.
    ///
    /// ```
    /// # use vpoll::{Events, Vpoll};
    /// let vp = Vpoll::new()?;
    /// assert!(vp.set(Events::IN | Events::OUT)?.contains(Events::IN | Events::OUT));
    /// # Ok::<(), vpoll::Error>(())
    /// ```
    #[inline]
    pub fn set(&self, events: Events) -> Result<Events> {
        self.apply(Op::Set, events)
    }

    /// The events pending now.
    ///
    /// ```
    /// # use vpoll::{Events, Vpoll};
    /// assert_eq!(Vpoll::new()?.events()?, vpoll::Events::empty());
    /// # Ok::<(), vpoll::Error>(())
    /// ```
    pub fn events(&self) -> Result<Events> {
        match &self.imp {
            Imp::Device(d) => d.events(),
            Imp::EventFd(e) => e.events(),
            Imp::Emulation(e) => e.events(),
        }
    }

    /// The backend this fd is made with.
    ///
    /// ```
    /// # use vpoll::Vpoll;
    /// println!("vpoll backend: {}", Vpoll::new()?.backend());
    /// # Ok::<(), vpoll::Error>(())
    /// ```
    pub fn backend(&self) -> Backend {
        match &self.imp {
            Imp::Device(_) => Backend::Device,
            Imp::EventFd(_) => Backend::EventFd,
            Imp::Emulation(_) => Backend::Emulation,
        }
    }

    /// Every descriptor this `Vpoll` holds: the fd to wait on and, on the
    /// emulation, its private control end. A program that closes
    /// descriptors wholesale (before `exec`, say) keeps these; a library
    /// that keeps a table by fd number knows these numbers are taken.
    ///
    /// ```
    /// # use std::os::fd::AsRawFd;
    /// let vp = vpoll::Vpoll::new()?;
    /// assert!(vp.held_fds().contains(&vp.as_raw_fd()));
    /// # Ok::<(), vpoll::Error>(())
    /// ```
    pub fn held_fds(&self) -> Vec<RawFd> {
        match &self.imp {
            Imp::Emulation(e) => e.held_fds().to_vec(),
            _ => vec![self.as_raw_fd()],
        }
    }

    /// Another `Vpoll` for the same vpoll fd, as `File::try_clone` is for a
    /// file: a new close-on-exec descriptor of the same open file, so a
    /// change through either shows through both, and the fd lives until the
    /// last of them is dropped (on the emulation the clones share the
    /// control end). The new descriptor takes the lowest free number.
    ///
    /// ```
    /// # use std::os::fd::AsRawFd;
    /// # use vpoll::{Events, Vpoll};
    /// let vp = Vpoll::new()?;
    /// let other = vp.try_clone()?;
    /// assert_ne!(other.as_raw_fd(), vp.as_raw_fd());
    /// other.add(Events::IN)?;
    /// assert!(vp.events()?.contains(Events::IN));
    /// drop(vp);
    /// assert!(other.events()?.contains(Events::IN));
    /// # Ok::<(), vpoll::Error>(())
    /// ```
    pub fn try_clone(&self) -> Result<Vpoll> {
        let dup = |fd: BorrowedFd<'_>, backend| {
            fd.try_clone_to_owned().map_err(|source| Error::Io {
                backend,
                operation: "fcntl(F_DUPFD_CLOEXEC)",
                source,
            })
        };
        let imp = match &self.imp {
            Imp::Device(d) => Imp::Device(Device::from_fd(dup(d.fd(), Backend::Device)?)),
            Imp::EventFd(e) => Imp::EventFd(EventFd::from_fd(dup(e.fd(), Backend::EventFd)?)),
            Imp::Emulation(e) => Imp::Emulation(e.try_clone()?),
        };
        Ok(Vpoll { imp })
    }

    /// Applies `op` with `events`: [`add`](Vpoll::add), [`del`](Vpoll::del)
    /// or [`set`](Vpoll::set), chosen at run time. All or nothing: if the
    /// backend cannot do the whole change, it fails and nothing changes.
    ///
    /// ```
    /// # use vpoll::{Events, Op, Vpoll};
    /// let vp = Vpoll::new()?;
    /// assert!(vp.apply(Op::Set, Events::OUT)?.contains(Events::OUT));
    /// # Ok::<(), vpoll::Error>(())
    /// ```
    #[inline]
    pub fn apply(&self, op: Op, events: Events) -> Result<Events> {
        match &self.imp {
            Imp::Device(d) => d.apply(op, events),
            Imp::EventFd(e) => e.apply(op, events),
            Imp::Emulation(e) => e.apply(op, events),
        }
    }

    /// The fd, if it is a `/dev/vpoll` fd (for [`Vpoll::apply_many`]).
    pub(crate) fn device_fd(&self) -> Option<BorrowedFd<'_>> {
        match &self.imp {
            Imp::Device(d) => Some(d.fd()),
            _ => None,
        }
    }

    /// Applies as much of `op` with `events` as the backend can show, the way
    /// programs written for the C library expect: on the emulation an event
    /// it cannot deliver (`ERR`, …) is left out, a hang-up it cannot clear
    /// stays, and an event another one implies (`IN` with `PRI`) stays with
    /// it; the rest is done. A hang-up asked for together with `ERR` is
    /// therefore shown, never lost with it. [`Applied::dropped`] says what
    /// was not done; on the device and the eventfd it is always empty.
    ///
    /// ```
    /// use vpoll::{Backend, Events, Op, Vpoll};
    /// let vp = Vpoll::builder().backend(Backend::Emulation).build()?;
    /// // A connection ends: the stack says ERR|HUP; a socket pair shows the HUP.
    /// let done = vp.apply_deliverable(Op::Set, Events::ERR | Events::HUP)?;
    /// assert!(done.events.contains(Events::HUP));
    /// assert_eq!(done.dropped, Events::ERR);
    /// # Ok::<(), vpoll::Error>(())
    /// ```
    pub fn apply_deliverable(&self, op: Op, events: Events) -> Result<Applied> {
        // The strict operation says exactly what stands in the way, before it
        // changes anything; each answer narrows the request: events that
        // cannot be shown leave it, events that cannot go join a SET (or
        // leave a DEL). That ends within a few rounds.
        let mut ask = events;
        loop {
            let err = match self.apply(op, ask) {
                Ok(now) => {
                    return Ok(Applied {
                        events: now,
                        dropped: events ^ ask,
                    })
                }
                Err(err) => err,
            };
            let next = match (&err, op) {
                (Error::Unsupported { events, .. }, _) => ask - *events,
                (
                    Error::Irreversible { events, .. } | Error::Inseparable { events, .. },
                    Op::Del,
                ) => ask - *events,
                (
                    Error::Irreversible { events, .. } | Error::Inseparable { events, .. },
                    Op::Set,
                ) => ask | *events,
                _ => return Err(err),
            };
            if next == ask {
                return Err(err);
            }
            ask = next;
        }
    }

    /// Applies `op` to a vpoll fd that no `Vpoll` of this process owns: a
    /// `/dev/vpoll` fd (ours or the C module's) or an `EFD_VPOLL` eventfd
    /// that was inherited, passed over a socket or made by C code. The fd is
    /// only borrowed. Anything else is [`Error::NotVpoll`], and untouched: a
    /// device is proven by answering its ioctl (nothing else answers vpoll's
    /// ioctl numbers), an eventfd by its fdinfo before anything is written.
    ///
    /// ```
    /// use std::os::fd::AsFd;
    /// use vpoll::{Error, Events, Op, Vpoll};
    /// let null = std::fs::File::open("/dev/null")?;
    /// let err = Vpoll::apply_to(null.as_fd(), Op::Add, Events::IN).unwrap_err();
    /// assert!(matches!(err, Error::NotVpoll { .. }));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn apply_to(fd: BorrowedFd<'_>, op: Op, events: Events) -> Result<Events> {
        match device::apply(fd, op, events) {
            Err(Error::Io { source, .. }) if device::refuses(&source) => {}
            done => return done,
        }
        // Proven and written through one private duplicate: another thread
        // that closes the number and opens another file there meanwhile
        // gets no 8-byte write into it.
        let own = fd.try_clone_to_owned().map_err(|source| Error::Io {
            backend: Backend::EventFd,
            operation: "fcntl(F_DUPFD_CLOEXEC)",
            source,
        })?;
        match Backend::of_fd(own.as_fd()) {
            Some(Backend::EventFd) => eventfd::apply(own.as_fd(), op, events),
            _ => Err(Error::NotVpoll {
                what: describe_fd(own.as_fd()),
            }),
        }
    }
}

/// What a best-effort change did ([`Vpoll::apply_deliverable`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "dropped says what was not done"]
pub struct Applied {
    /// The events pending now.
    pub events: Events,
    /// What was asked but not done: events the backend cannot show (left
    /// out), and events that were to be cleared but stay (a hang-up, or an
    /// event that one which stays implies).
    pub dropped: Events,
}

/// What `/proc/thread-self/fd` says `fd` is (`socket:[…]`, `/dev/null`, …).
fn describe_fd(fd: BorrowedFd<'_>) -> String {
    std::fs::read_link(format!("/proc/thread-self/fd/{}", fd.as_raw_fd()))
        .map_or_else(|e| format!("unknown: {e}"), |p| p.display().to_string())
}

impl AsFd for Vpoll {
    /// The fd to wait on.
    fn as_fd(&self) -> BorrowedFd<'_> {
        match &self.imp {
            Imp::Device(d) => d.fd(),
            Imp::EventFd(e) => e.fd(),
            Imp::Emulation(e) => e.fd(),
        }
    }
}

impl AsRawFd for Vpoll {
    fn as_raw_fd(&self) -> RawFd {
        self.as_fd().as_raw_fd()
    }
}

impl From<Vpoll> for OwnedFd {
    /// Gives up control: the fd keeps its events from now on. (On the
    /// emulation, the control socket stays open, unowned, for the process's
    /// life, so that the fd shows no hang-up; while clones of this `Vpoll`
    /// live, they keep control, and the last one dropped hangs up.)
    fn from(vp: Vpoll) -> OwnedFd {
        match vp.imp {
            Imp::Device(d) => d.into_fd(),
            Imp::EventFd(e) => e.into_fd(),
            Imp::Emulation(e) => e.into_fd(),
        }
    }
}

/// A file descriptor that [`Vpoll::try_from`] found not to be a vpoll fd it
/// can drive; it gives the fd back.
#[derive(Debug, thiserror::Error)]
#[error("fd {} is not a vpoll fd this process can control (it is {what})", fd.as_raw_fd())]
pub struct RefusedFd {
    /// The fd, returned unchanged.
    pub fd: OwnedFd,
    /// What it is instead, as `/proc/self/fd` names it (`socket:[…]`, `/dev/null`, …).
    pub what: String,
}

impl TryFrom<OwnedFd> for Vpoll {
    type Error = RefusedFd;

    /// Takes over a vpoll fd made elsewhere — inherited, received over a
    /// socket, or taken from another process with `pidfd_getfd` — if it is a
    /// `/dev/vpoll` fd or an `EFD_VPOLL` eventfd (told apart by their fdinfo).
    /// An emulated vpoll fd is a plain socket: only the `Vpoll` that made it
    /// holds its control end, so it is refused.
    ///
    /// ```
    /// use std::os::fd::OwnedFd;
    /// use vpoll::Vpoll;
    /// let null: OwnedFd = std::fs::File::open("/dev/null")?.into();
    /// let err = Vpoll::try_from(null).unwrap_err();
    /// assert_eq!(err.what, "/dev/null");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    fn try_from(fd: OwnedFd) -> std::result::Result<Vpoll, RefusedFd> {
        let imp = match Backend::of_fd(fd.as_fd()) {
            Some(Backend::Device) => Imp::Device(Device::from_fd(fd)),
            Some(Backend::EventFd) => Imp::EventFd(EventFd::from_fd(fd)),
            _ => {
                let what = describe_fd(fd.as_fd());
                return Err(RefusedFd { fd, what });
            }
        };
        Ok(Vpoll { imp })
    }
}

impl IntoRawFd for Vpoll {
    /// As `OwnedFd::from`, then the raw number.
    fn into_raw_fd(self) -> RawFd {
        OwnedFd::from(self).into_raw_fd()
    }
}
