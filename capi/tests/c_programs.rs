// SPDX-License-Identifier: MIT OR Apache-2.0

//! C programs against the installed library, on this host (the emulation,
//! forced; the guest suite covers the device and the eventfd; Debian's
//! library picks its own backend): `capi/install` into a
//! staging root, `cc $(pkg-config --cflags --libs vpoll)`, run.
//!
//! - `capi_test.c` checks every function, op and error.
//! - `tests/clib/vpoll_client.c`, written for Debian's C libvpoll, runs
//!   linked once with ours and once with Debian's `libvpoll0`: each transcript
//!   must be exactly the expected one (`tests/expected/`), and they differ
//!   only where the C library is wrong.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The staging root (DESTDIR) with PREFIX=/usr, installed once per run.
fn root() -> &'static Path {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
        let root = tmp.join("capi-root");
        let _ = std::fs::remove_dir_all(&root);
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        // A target dir of its own: this test's cargo holds the workspace's lock.
        let out = Command::new(repo.join("capi/install"))
            .env("DESTDIR", &root)
            .env("PREFIX", "/usr")
            .env("CARGO_TARGET_DIR", tmp.join("capi-build"))
            .output()
            .expect("running capi/install");
        assert!(
            out.status.success(),
            "capi/install failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        root
    })
}

fn pkg_config(args: &[&str]) -> String {
    let out = Command::new("pkg-config")
        .args(args)
        .env("PKG_CONFIG_PATH", root().join("usr/lib/pkgconfig"))
        .env("PKG_CONFIG_SYSROOT_DIR", root())
        .output()
        .expect("pkg-config (apt-get install pkg-config)");
    assert!(
        out.status.success(),
        "pkg-config {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// Compiles `source` into `name`, with `flags` for the library.
fn compile(source: &str, name: &str, flags: &str) -> PathBuf {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let exe = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "cc -O2 -Wall -Wextra -Werror -pthread -o {} {} {flags}",
            exe.display(),
            repo.join(source).display()
        ))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cc {source}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    exe
}

fn ours(source: &str, name: &str) -> PathBuf {
    compile(source, name, &pkg_config(&["--cflags", "--libs", "vpoll"]))
}

/// `exe` with our library found first, on the emulation whatever the host
/// has (the guest suite runs them on the device and the eventfd).
fn ours_command(exe: &Path) -> Command {
    let mut command = Command::new(exe);
    command
        .env("LD_LIBRARY_PATH", root().join("usr/lib"))
        .env("VPOLL_BACKEND", "emulation");
    command
}

fn run_ours(exe: &Path) -> Output {
    ours_command(exe).output().unwrap()
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn installs_as_a_distribution_lays_out_a_c_library() {
    assert_eq!(
        pkg_config(&["--modversion", "vpoll"]),
        env!("CARGO_PKG_VERSION")
    );
    let lib = root().join("usr/lib");
    let version = env!("CARGO_PKG_VERSION");
    assert!(lib.join(format!("libvpoll.so.{version}")).is_file());
    assert_eq!(
        std::fs::read_link(lib.join("libvpoll.so.0")).unwrap(),
        Path::new(&format!("libvpoll.so.{version}"))
    );
    assert_eq!(
        std::fs::read_link(lib.join("libvpoll.so")).unwrap(),
        Path::new("libvpoll.so.0")
    );
    assert!(lib.join("libvpoll.a").is_file());
    assert!(root().join("usr/include/vpoll.h").is_file());
    let man3 = root().join("usr/share/man/man3");
    assert!(man3.join("vpoll.3").is_file());
    for page in [
        "vpoll_create",
        "vpoll_ctl",
        "vpoll_ctl_batch",
        "vpoll_close",
    ] {
        assert_eq!(
            std::fs::read_link(man3.join(format!("{page}.3"))).unwrap(),
            Path::new("vpoll.3"),
            "{page}.3"
        );
    }
    let soname = Command::new("readelf")
        .arg("-d")
        .arg(lib.join("libvpoll.so.0"))
        .output()
        .unwrap();
    assert!(
        text(&soname).contains("Library soname: [libvpoll.so.0]"),
        "{}",
        text(&soname)
    );
}

#[test]
fn every_function_op_and_error() {
    let exe = ours("capi/tests/capi_test.c", "capi_test");
    for (strict, count) in [("0", 69), ("1", 67)] {
        let out = ours_command(&exe)
            .env("VPOLL_STRICT", strict)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "VPOLL_STRICT={strict}: {}",
            text(&out)
        );
        let want = format!("emulation: {count} checks passed, 0 failed");
        assert!(
            text(&out).contains(&want),
            "VPOLL_STRICT={strict}: {}",
            text(&out)
        );
    }
}

/// An emulated fd closed with `close(2)`, 2,000 times under a limit of 64
/// fds: the library's leftovers go when the number is reused, even by the
/// library's own next socket pair (they used to leak two fds a round).
#[test]
fn fds_closed_with_close_leak_nothing() {
    let exe = ours("capi/tests/close_leak.c", "close_leak");
    let out = run_ours(&exe);
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn the_static_library_links_too() {
    let lib = root().join("usr/lib");
    let exe = compile(
        "capi/tests/capi_test.c",
        "capi_test_static",
        &format!(
            "-I{} {}/libvpoll.a -ldl",
            root().join("usr/include").display(),
            lib.display()
        ),
    );
    let out = Command::new(&exe)
        .env("VPOLL_BACKEND", "emulation")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn a_program_for_the_c_library_runs_unchanged_and_better() {
    let client = "tests/clib/vpoll_client.c";
    let with_ours = text(&run_ours(&ours(client, "vpoll_client_vpoll")));
    assert_eq!(with_ours, include_str!("expected/emulation-vpoll.txt"));
    // The same program with Debian's libvpoll0 (apt-get install libvpoll-dev).
    let with_debian = Command::new(compile(client, "vpoll_client_debian", "-lvpoll"))
        .output()
        .unwrap();
    assert!(with_debian.status.success());
    assert_eq!(
        text(&with_debian),
        include_str!("expected/emulation-debian.txt")
    );
}

/// The GOT lines of the man page example, each with the timeouts before it.
fn got_events(output: &str) -> Vec<(usize, String)> {
    let mut timeouts = 0;
    let mut got = Vec::new();
    for line in output.lines() {
        if line == "timeout" {
            timeouts += 1;
        } else if let Some(ev) = line.strip_prefix("GOT event ") {
            got.push((timeouts, ev.to_owned()));
            timeouts = 0;
        }
    }
    got
}

/// The C library's vpoll_create(3) example behaves as that man page says for
/// the emulation (a hang-up shows IN and RDHUP too), with ours as with
/// Debian's library.
#[test]
fn the_c_librarys_man_page_example_prints_what_that_man_page_says() {
    let source = "capi/tests/manpage_example.c";
    let with_ours = text(&run_ours(&ours(source, "manpage_vpoll")));
    let with_debian = text(
        &Command::new(compile(source, "manpage_debian", "-lvpoll"))
            .output()
            .unwrap(),
    );
    for output in [with_ours, with_debian] {
        let got = got_events(&output);
        let events: Vec<_> = got.iter().map(|(_, e)| e.as_str()).collect();
        assert_eq!(events, ["1", "1", "4", "2011"], "{output}");
        assert!(
            got.iter().all(|(timeouts, _)| *timeouts >= 1),
            "a timeout before each event:\n{output}"
        );
    }
}

/// `capi/man/example KIND`: our vpoll(3)'s example program or its output.
fn man_example(kind: &str) -> String {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let out = Command::new(repo.join("capi/man/example"))
        .arg(kind)
        .arg(repo.join("capi/man/vpoll.3"))
        .output()
        .expect("running capi/man/example");
    assert!(
        out.status.success(),
        "capi/man/example {kind}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    text(&out)
}

/// Our vpoll(3): its example, compiled as the page shows, prints exactly the
/// output the page shows (the emulation here; the guest suite runs it on the
/// kernel backends); the page names this version and has no roff warnings.
#[test]
fn our_man_page_example_prints_the_output_the_page_shows() {
    let source = Path::new(env!("CARGO_TARGET_TMPDIR")).join("vpoll-example.c");
    std::fs::write(&source, man_example("program")).unwrap();
    let exe = ours(source.to_str().unwrap(), "vpoll-example");
    let out = run_ours(&exe);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(text(&out), man_example("output"));

    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let page = std::fs::read_to_string(repo.join("capi/man/vpoll.3")).unwrap();
    let version = format!("\"vpoll {}\"", env!("CARGO_PKG_VERSION"));
    assert!(
        page.lines()
            .any(|l| l.starts_with(".TH VPOLL 3 ") && l.contains(&version)),
        "vpoll.3's .TH line names {version}"
    );
    let groff = Command::new("groff")
        .args(["-man", "-ww", "-Tutf8", "-z"])
        .arg(repo.join("capi/man/vpoll.3"))
        .output()
        .expect("groff (apt-get install groff-base)");
    assert!(
        groff.status.success() && groff.stderr.is_empty(),
        "groff: {}",
        String::from_utf8_lossy(&groff.stderr)
    );
}
