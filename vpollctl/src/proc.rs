// SPDX-License-Identifier: MIT OR Apache-2.0

//! Other processes' fds: taking a duplicate with `pidfd_getfd`, and reading
//! what `/proc/<pid>/fdinfo` says about vpoll fds.

use crate::error::{CliError, Result};
use rustix::io::Errno;
use rustix::process::{pidfd_getfd, pidfd_open, Pid, PidfdFlags, PidfdGetfdFlags};
use std::os::fd::OwnedFd;
use vpoll::{Backend, Events};

/// A duplicate of fd `fd` of process `pid`. Needs the rights ptrace needs.
pub fn take_fd(pid: i32, fd: i32) -> Result<OwnedFd> {
    let p =
        Pid::from_raw(pid).ok_or_else(|| CliError::usage(format!("{pid} is not a process id")))?;
    let pidfd = pidfd_open(p, PidfdFlags::empty()).map_err(|e| match e {
        Errno::SRCH => CliError::failed(format!("process {pid}"), "no such process"),
        e => CliError::failed(format!("pidfd_open({pid})"), e),
    })?;
    pidfd_getfd(&pidfd, fd, PidfdGetfdFlags::empty()).map_err(|e| match e {
        Errno::PERM | Errno::ACCESS => CliError::failed(
            format!("taking fd {fd} of process {pid}"),
            "not permitted: this needs the same rights as ptrace (the same user and a \
             kernel.yama.ptrace_scope that allows it, or CAP_SYS_PTRACE)",
        ),
        Errno::BADF => CliError::failed(format!("process {pid}"), format!("it has no fd {fd}")),
        e => CliError::failed(format!("pidfd_getfd({pid}, {fd})"), e),
    })
}

/// What fd `fd` of `pid` is, if `/proc/<pid>/fdinfo` shows it is no vpoll
/// fd (`None`: a vpoll fd, or /proc cannot tell: the take decides).
pub fn not_vpoll(pid: i32, fd: i32) -> Result<Option<String>> {
    match std::fs::read_to_string(format!("/proc/{pid}/fdinfo/{fd}")) {
        Ok(fdinfo) if Backend::from_fdinfo(&fdinfo).is_none() => {
            let what = std::fs::read_link(format!("/proc/{pid}/fd/{fd}"))
                .map_or_else(|_| "unknown".to_owned(), |p| p.display().to_string());
            Ok(Some(what))
        }
        // Without /proc mounted nothing can be told here.
        Err(e)
            if e.kind() == std::io::ErrorKind::NotFound
                && std::path::Path::new("/proc/self").exists() =>
        {
            if std::path::Path::new(&format!("/proc/{pid}")).exists() {
                Err(CliError::failed(
                    format!("process {pid}"),
                    format!("it has no fd {fd}"),
                ))
            } else {
                Err(CliError::failed(
                    format!("process {pid}"),
                    "no such process",
                ))
            }
        }
        _ => Ok(None),
    }
}

/// A vpoll fd seen in `/proc`.
#[derive(Debug, serde::Serialize)]
pub struct Listed {
    pub pid: i32,
    pub fd: i32,
    pub command: String,
    #[serde(serialize_with = "crate::output::backend")]
    pub backend: Backend,
    #[serde(serialize_with = "crate::output::events")]
    pub events: Events,
}

/// The vpoll fds of `pid`, from its fdinfo; an error if /proc refuses us.
pub fn vpoll_fds(pid: i32) -> std::io::Result<Vec<Listed>> {
    let command = std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .unwrap_or_default()
        .trim()
        .to_owned();
    let mut found = Vec::new();
    for entry in std::fs::read_dir(format!("/proc/{pid}/fd"))? {
        let entry = entry?;
        let Ok(fd) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(fdinfo) = std::fs::read_to_string(format!("/proc/{pid}/fdinfo/{fd}")) else {
            continue;
        };
        if let Some((backend, events)) = Backend::from_fdinfo(&fdinfo) {
            found.push(Listed {
                pid,
                fd,
                command: command.clone(),
                backend,
                events,
            });
        }
    }
    found.sort_by_key(|l| l.fd);
    Ok(found)
}

/// Every process id in /proc.
pub fn all_pids() -> Vec<i32> {
    let mut pids: Vec<i32> = std::fs::read_dir("/proc")
        .map(|dir| {
            dir.flatten()
                .filter_map(|e| e.file_name().to_string_lossy().parse().ok())
                .collect()
        })
        .unwrap_or_default();
    pids.sort_unstable();
    pids
}
