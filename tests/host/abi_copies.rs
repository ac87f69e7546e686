// SPDX-License-Identifier: MIT OR Apache-2.0

//! The ABI has one source, `kmod/abi.rs`; every other copy must agree with
//! it: libvpoll's `abi` module, the C header of the tests' C clients
//! (`tests/clib/vpoll_dev.h`, compiled here), the C library's `vpoll.h`, the
//! `EFD_VPOLL` patch, and the table in `docs/abi.md`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use vpoll::abi;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// `0x0fff_ffff`, `1024`, `b'^'` → the number.
fn number(text: &str) -> Option<u64> {
    let t = text.trim().replace('_', "");
    if let Some(hex) = t.strip_prefix("0x") {
        return u64::from_str_radix(hex, 16).ok();
    }
    if let Some(c) = t.strip_prefix("b'").and_then(|r| r.strip_suffix('\'')) {
        return c.bytes().next().map(u64::from);
    }
    t.parse().ok()
}

/// The module's constants: `NAME` → value, with its `_IO`/`_IOWR` numbers
/// worked out as the kernel's macros do.
fn kernel_constants() -> HashMap<String, u64> {
    let source = read("kmod/abi.rs");
    let mut consts = HashMap::new();
    for line in source.lines() {
        let Some(rest) = line.trim().split("const ").nth(1) else {
            continue;
        };
        let Some((name, rest)) = rest.split_once(':') else {
            continue;
        };
        let Some((_, value)) = rest.split_once('=') else {
            continue;
        };
        let value = value.trim().trim_end_matches(';').trim();
        consts.insert(name.trim().to_owned(), value.to_owned());
    }
    let magic = number(consts["VPOLL_IOC_MAGIC"].trim_end_matches(" as u32")).unwrap();
    let mut values = HashMap::new();
    for (name, value) in &consts {
        let n = if let Some(args) = value.strip_prefix("kernel::ioctl::_IO(") {
            let nr = number(args.split(',').nth(1).unwrap().trim_end_matches(')')).unwrap();
            Some(magic << 8 | nr)
        } else if let Some(args) = value.strip_prefix("kernel::ioctl::_IOWR::<VpollBatch>(") {
            let nr = number(args.split(',').nth(1).unwrap().trim_end_matches(')')).unwrap();
            // _IOC_READ|_IOC_WRITE, the size of struct vpoll_batch (16).
            Some(3 << 30 | 16 << 16 | magic << 8 | nr)
        } else {
            number(value.trim_end_matches(" as u32"))
        };
        if let Some(n) = n {
            values.insert(name.clone(), n);
        }
    }
    values
}

#[test]
fn libvpoll_agrees_with_the_module() {
    let k = kernel_constants();
    assert_eq!(u64::from(abi::EPOLLALLMASK), k["EPOLLALLMASK"]);
    assert_eq!(u64::from(abi::VPOLL_IOC_MAGIC), k["VPOLL_IOC_MAGIC"]);
    assert_eq!(u64::from(abi::VPOLL_IO_ADDEVENTS), k["VPOLL_IO_ADDEVENTS"]);
    assert_eq!(u64::from(abi::VPOLL_IO_DELEVENTS), k["VPOLL_IO_DELEVENTS"]);
    assert_eq!(u64::from(abi::VPOLL_IO_SETEVENTS), k["VPOLL_IO_SETEVENTS"]);
    assert_eq!(u64::from(abi::VPOLL_IO_BATCH), k["VPOLL_IO_BATCH"]);
    assert_eq!(abi::VPOLL_BATCH_MAX as u64, k["VPOLL_BATCH_MAX"]);
    assert_eq!(size_of::<abi::BatchEntry>() as u64, k["BATCH_ENTRY_SIZE"]);
    assert_eq!(size_of::<abi::BatchHeader>(), 16);
    let shift = k["EFD_VPOLL_OP_SHIFT"];
    assert_eq!(abi::EFD_VPOLL_ADDEVENTS, k["EFD_VPOLL_ADDEVENTS"] << shift);
    assert_eq!(abi::EFD_VPOLL_DELEVENTS, k["EFD_VPOLL_DELEVENTS"] << shift);
    assert_eq!(abi::EFD_VPOLL_MODEVENTS, k["EFD_VPOLL_MODEVENTS"] << shift);
    assert_eq!(u64::from(abi::events::PRI), k["EPOLLPRI"]);
    // vpoll_ctl's ops are the write protocol's.
    assert_eq!(abi::ctl::ADDEVENTS as u64, k["EFD_VPOLL_ADDEVENTS"]);
    assert_eq!(abi::ctl::DELEVENTS as u64, k["EFD_VPOLL_DELEVENTS"]);
    assert_eq!(abi::ctl::SETEVENTS as u64, k["EFD_VPOLL_MODEVENTS"]);
}

/// Compiles a program that prints what the C headers define, and compares.
#[test]
fn the_c_headers_agree_with_the_module() {
    let k = kernel_constants();
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("abi_copies");
    std::fs::create_dir_all(&dir).unwrap();
    let program = dir.join("print_abi.c");
    std::fs::write(
        &program,
        r#"#include <stdio.h>
#include "vpoll_dev.h"
#include "vpoll.h"
int main(void)
{
	printf("VPOLL_IO_ADDEVENTS %lu\n", (unsigned long)VPOLL_IO_ADDEVENTS);
	printf("VPOLL_IO_DELEVENTS %lu\n", (unsigned long)VPOLL_IO_DELEVENTS);
	printf("VPOLL_IO_SETEVENTS %lu\n", (unsigned long)VPOLL_IO_SETEVENTS);
	printf("VPOLL_IO_BATCH %lu\n", (unsigned long)VPOLL_IO_BATCH);
	printf("VPOLL_BATCH_MAX %lu\n", (unsigned long)VPOLL_BATCH_MAX);
	printf("BATCH_ENTRY_SIZE %lu\n", (unsigned long)sizeof(struct vpoll_batch_entry));
	printf("EPOLLALLMASK %lu\n", (unsigned long)VPOLL_EVENTS_ALL);
	printf("EFD_VPOLL_ADDEVENTS %llu\n", EFD_VPOLL_ADDEVENTS >> 32);
	printf("EFD_VPOLL_DELEVENTS %llu\n", EFD_VPOLL_DELEVENTS >> 32);
	printf("EFD_VPOLL_MODEVENTS %llu\n", EFD_VPOLL_MODEVENTS >> 32);
	printf("CTL_ADDEVENTS %d\n", VPOLL_CTL_ADDEVENTS);
	printf("CTL_DELEVENTS %d\n", VPOLL_CTL_DELEVENTS);
	printf("CTL_SETEVENTS %d\n", VPOLL_CTL_SETEVENTS);
	return 0;
}
"#,
    )
    .unwrap();
    let exe = dir.join("print_abi");
    let cc = Command::new("cc")
        .arg("-I")
        .arg(repo().join("tests/clib"))
        .arg("-I")
        .arg(repo().join("capi/include"))
        .arg("-o")
        .arg(&exe)
        .arg(&program)
        .status()
        .expect("cc: a C compiler is needed to check the C headers");
    assert!(cc.success(), "cc failed on {}", program.display());
    let out = Command::new(&exe).output().unwrap();
    let printed = String::from_utf8(out.stdout).unwrap();
    let c: HashMap<&str, u64> = printed
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(name, v)| (name, v.parse().unwrap()))
        .collect();
    for name in [
        "VPOLL_IO_ADDEVENTS",
        "VPOLL_IO_DELEVENTS",
        "VPOLL_IO_SETEVENTS",
        "VPOLL_IO_BATCH",
        "VPOLL_BATCH_MAX",
        "BATCH_ENTRY_SIZE",
        "EPOLLALLMASK",
        "EFD_VPOLL_ADDEVENTS",
        "EFD_VPOLL_DELEVENTS",
        "EFD_VPOLL_MODEVENTS",
    ] {
        assert_eq!(
            c[name], k[name],
            "{name}: tests/clib/vpoll_dev.h against kmod/abi.rs"
        );
    }
    assert_eq!(c["CTL_ADDEVENTS"], k["EFD_VPOLL_ADDEVENTS"], "vpoll.h");
    assert_eq!(c["CTL_DELEVENTS"], k["EFD_VPOLL_DELEVENTS"], "vpoll.h");
    assert_eq!(c["CTL_SETEVENTS"], k["EFD_VPOLL_MODEVENTS"], "vpoll.h");
}

#[test]
fn the_eventfd_patch_and_the_docs_agree_with_the_module() {
    let k = kernel_constants();
    let patch = read("qemu/patches/0001-eventfd-add-EFD_VPOLL.patch");
    for (name, op) in [
        ("EFD_VPOLL_ADDEVENTS", k["EFD_VPOLL_ADDEVENTS"]),
        ("EFD_VPOLL_DELEVENTS", k["EFD_VPOLL_DELEVENTS"]),
        ("EFD_VPOLL_MODEVENTS", k["EFD_VPOLL_MODEVENTS"]),
    ] {
        let define = format!("+#define {name} ({op}ULL << 32)");
        assert!(patch.contains(&define), "the patch lacks `{define}`");
    }
    assert!(patch.contains(&format!(
        "+#define EFD_VPOLL (1 << {})",
        abi::EFD_VPOLL.trailing_zeros()
    )));
    let doc = read("docs/abi.md");
    let magic = char::from(k["VPOLL_IOC_MAGIC"] as u8);
    for (ioctl, nr) in [
        ("VPOLL_IO_ADDEVENTS", 1),
        ("VPOLL_IO_DELEVENTS", 2),
        ("VPOLL_IO_SETEVENTS", 3),
    ] {
        assert_eq!(k[ioctl] & 0xff, nr);
        let row = format!("`ioctl(fd, {ioctl}, ev)` — `_IO('{magic}', {nr})`");
        assert!(doc.contains(&row), "docs/abi.md lacks `{row}`");
    }
    assert!(doc.contains(&format!("`_IOWR('{magic}', 4, struct vpoll_batch)`")));
    assert!(doc.contains(&format!("`EPOLLALLMASK` (`{:#010x}`)", k["EPOLLALLMASK"])));
    assert!(doc.contains(&format!("over {}", k["VPOLL_BATCH_MAX"])));
    assert!(doc.contains("op 1/2/3 = add/del/set"));
}
