// SPDX-License-Identifier: MIT OR Apache-2.0

//! `info`: what this system offers, and which backend the library would pick.

use crate::error::Result;
use crate::exit_code::ExitCode;
use crate::output::{self, Mask};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use vpoll::{Backend, Events, Vpoll};

#[derive(serde::Serialize)]
struct Info {
    device: Device,
    eventfd: Probe,
    emulation: Emulation,
    choice: Choice,
}

#[derive(serde::Serialize)]
struct Device {
    node: Option<String>,
    module_loaded: bool,
    module_version: Option<String>,
    module_refcount: Option<u32>,
    usable: Probe,
}

#[derive(serde::Serialize)]
struct Probe {
    available: bool,
    reason: Option<String>,
}

#[derive(serde::Serialize)]
struct Emulation {
    available: bool,
    deliverable: Mask,
}

#[derive(serde::Serialize)]
struct Choice {
    backend: Option<String>,
    why: String,
}

fn probe(backend: Backend) -> Probe {
    match Vpoll::builder().backend(backend).build() {
        Ok(_) => Probe {
            available: true,
            reason: None,
        },
        Err(e) => Probe {
            available: false,
            reason: Some(e.to_string()),
        },
    }
}

fn node() -> Option<String> {
    let meta = std::fs::metadata(vpoll::abi::DEVICE_PATH).ok()?;
    let kind = if meta.file_type().is_char_device() {
        "character device"
    } else {
        "not a character device!"
    };
    Some(format!(
        "/dev/vpoll, {kind}, mode {:04o}",
        meta.permissions().mode() & 0o7777
    ))
}

fn choice(probes: &[(Backend, &Probe)]) -> Choice {
    match Backend::from_env() {
        Err(e) => {
            return Choice {
                backend: None,
                why: e.to_string(),
            }
        }
        Ok(Some(b)) => {
            let ok = probes.iter().any(|(p, probe)| *p == b && probe.available);
            let why = format!(
                "VPOLL_BACKEND={b} forces it{}",
                if ok { "" } else { ", but it is not available" }
            );
            return Choice {
                backend: ok.then(|| b.to_string()),
                why,
            };
        }
        Ok(None) => {}
    }
    let mut skipped = Vec::new();
    for (b, probe) in probes {
        if probe.available {
            let why = if skipped.is_empty() {
                format!("{b} is the first choice and works")
            } else {
                format!("{} not available", skipped.join(", "))
            };
            return Choice {
                backend: Some(b.to_string()),
                why,
            };
        }
        skipped.push(b.to_string());
    }
    Choice {
        backend: None,
        why: "no backend works here".into(),
    }
}

pub fn run(json: bool) -> Result<ExitCode> {
    let device_probe = probe(Backend::Device);
    let eventfd = probe(Backend::EventFd);
    let emulation_probe = probe(Backend::Emulation);
    let choice = choice(&[
        (Backend::Device, &device_probe),
        (Backend::EventFd, &eventfd),
        (Backend::Emulation, &emulation_probe),
    ]);
    let info = Info {
        device: Device {
            node: node(),
            module_loaded: std::path::Path::new(vpoll::abi::MODULE_SYSFS).exists(),
            module_version: std::fs::read_to_string(format!(
                "{}/version",
                vpoll::abi::MODULE_SYSFS
            ))
            .ok()
            .map(|v| v.trim().to_owned()),
            module_refcount: std::fs::read_to_string(format!(
                "{}/refcnt",
                vpoll::abi::MODULE_SYSFS
            ))
            .ok()
            .and_then(|s| s.trim().parse().ok()),
            usable: device_probe,
        },
        eventfd,
        emulation: Emulation {
            available: emulation_probe.available,
            deliverable: Mask::from(Backend::Emulation.deliverable()),
        },
        choice,
    };
    output::print(json, &info, || text(&info));
    Ok(ExitCode::Success)
}

/// What `info` says to people.
fn text(info: &Info) -> String {
    let state = |p: &Probe| match &p.reason {
        None => "works".to_owned(),
        Some(r) => format!("not available ({r})"),
    };
    let d = &info.device;
    let module = if d.module_loaded {
        let version = d
            .module_version
            .as_deref()
            .map_or(String::new(), |v| format!(" {v}"));
        let pins = d
            .module_refcount
            .map_or(String::new(), |n| format!(", {n} open fds pin it"));
        format!("module vpoll{version} loaded{pins}")
    } else {
        "module vpoll not loaded (sudo insmod vpoll.ko)".to_owned()
    };
    let emulation = if info.emulation.available {
        "works"
    } else {
        "not available"
    };
    let choice = match &info.choice.backend {
        Some(b) => b.to_string(),
        None => "none".to_owned(),
    };
    [
        format!("device:    {}", state(&d.usable)),
        format!("           node: {}", d.node.as_deref().unwrap_or("none")),
        format!("           {module}"),
        format!("eventfd:   {}", state(&info.eventfd)),
        format!(
            "           delivers every event ({:#x}) where available",
            Events::ALL
        ),
        format!("emulation: {emulation}"),
        format!(
            "           delivers {} only",
            Backend::Emulation.deliverable()
        ),
        format!("choice:    {choice} ({})", info.choice.why),
    ]
    .join("\n")
}
