// SPDX-License-Identifier: MIT OR Apache-2.0

//! `exec`: run a command with a vpoll fd, and drive it from stdin.
#![allow(unsafe_code)] // borrowing and placing fds by number, as exec requires

use crate::error::{CliError, Context, Result};
use crate::exit_code::ExitCode;
use crate::output::{self, Mask};
use nix::fcntl::{fcntl, FcntlArg, FdFlag, OFlag};
use nix::unistd::{dup2, dup3_raw};
use std::io::BufRead;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use vpoll::{Backend, Events, Op, ParseEventsError, Vpoll};

pub fn run(
    json: bool,
    events: Events,
    fd: i32,
    backend: Option<Backend>,
    command: &[String],
) -> Result<ExitCode> {
    if fd < 3 {
        return Err(CliError::usage(format!(
            "--fd {fd} would replace stdin, stdout or stderr; use 3 or more"
        )));
    }
    // Hold the number first, so that the vpoll fd itself cannot land on it.
    let slot = reserve(fd)?;
    let mut builder = Vpoll::builder().events(events);
    if let Some(b) = backend {
        builder = builder.backend(b);
    }
    let vp = builder.build().context("creating the vpoll fd")?;
    // The child inherits `fd` without close-on-exec; here it is only a copy,
    // closed once the child runs.
    let inherited = place(&vp, slot)?;
    let mut child = Command::new(&command[0])
        .args(&command[1..])
        .env("VPOLL_FD", fd.to_string())
        .stdin(Stdio::null())
        .spawn()
        .context(format!("running {}", command[0]))?;
    drop(inherited);
    eprintln!(
        "vpollctl: {} runs with a vpoll fd ({} backend) at fd {fd}",
        command[0],
        vp.backend()
    );

    for line in std::io::stdin().lock().lines() {
        let line = line.context("reading commands from stdin")?;
        match apply(&vp, line.trim()) {
            Ok(Some(now)) => output::print(json, &Mask::from(now), || now.to_string()),
            Ok(None) => {}
            Err(e) => eprintln!("vpollctl: {e}"),
        }
    }
    let status = child
        .wait()
        .context(format!("waiting for {}", command[0]))?;
    // A status is 0–255 and a signal number below 128, as a shell has them.
    let code = status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
    Ok(ExitCode::Command(code as u8))
}

/// One stdin command; `None` for a blank line or a comment.
fn apply(vp: &Vpoll, line: &str) -> Result<Option<Events>, String> {
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let (verb, arg) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
    let result = if verb == "get" {
        vp.events()
    } else {
        let op: Op = verb.parse().map_err(|_| {
            format!("unknown command {verb:?}; use add EVENTS, del EVENTS, set EVENTS or get")
        })?;
        let events: Events = arg
            .trim()
            .parse()
            .map_err(|e: ParseEventsError| e.to_string())?;
        vp.apply(op, events)
    };
    result.map(Some).map_err(|e| e.to_string())
}

/// Takes fd number `fd` with a close-on-exec placeholder; refuses a number
/// that is already open here, rather than closing whatever it is.
fn reserve(fd: i32) -> Result<OwnedFd> {
    // SAFETY: the borrow lives for this one F_GETFD, which only asks whether
    // `fd` is open (EBADF if not).
    if fcntl(unsafe { BorrowedFd::borrow_raw(fd) }, FcntlArg::F_GETFD).is_ok() {
        return Err(CliError::usage(format!(
            "fd {fd} is already open in vpollctl; choose another with --fd"
        )));
    }
    let null = std::fs::File::open("/dev/null").context("opening /dev/null")?;
    if null.as_raw_fd() == fd {
        return Ok(null.into()); // the lowest free number was the one asked for
    }
    // SAFETY: `fd` is not open (checked above, and this process opens
    // nothing in between), so the new descriptor has no other owner.
    unsafe { dup3_raw(&null, fd, OFlag::O_CLOEXEC) }.context(format!("dup3 to fd {fd}"))
}

/// Puts a copy of `vp`'s fd in the reserved `slot`, inheritable.
fn place(vp: &Vpoll, mut slot: OwnedFd) -> Result<OwnedFd> {
    // Atomically replaces the placeholder that `slot` owns.
    dup2(vp, &mut slot).context("dup2")?;
    fcntl(&slot, FcntlArg::F_SETFD(FdFlag::empty())).context("clearing close-on-exec")?;
    Ok(slot)
}
