// SPDX-License-Identifier: MIT OR Apache-2.0

//! The harness's shell library never fails silently: a command that fails
//! inside a step names the step, the file, the line and the command, also
//! inside a command substitution or a background job.

use std::path::PathBuf;
use std::process::Command;

fn qemu_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Runs `script` after sourcing qemu/lib/common.sh (and any other `libs`)
/// with an empty cache of its own; returns (status, stderr).
fn harness(libs: &[&str], script: &str) -> (i32, String) {
    let cache = std::env::temp_dir().join(format!(
        "vpoll-shell-{}-{}",
        std::process::id(),
        script.len()
    ));
    let _ = std::fs::remove_dir_all(&cache);
    let mut text = String::new();
    for lib in ["common.sh"].iter().chain(libs) {
        text += &format!("source {}/lib/{lib}\n", qemu_dir().display());
    }
    text += script;
    let path = cache.with_extension("sh");
    std::fs::write(&path, &text).unwrap();
    let out = Command::new("bash")
        .arg(&path)
        .env("VPOLL_CACHE", &cache)
        .env_remove("VPOLL_FAILED_MARK")
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&cache);
    let _ = std::fs::remove_file(&path);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The line of `script` (counted after the `source` lines) where `needle` is.
fn line_of(libs: &[&str], script: &str, needle: &str) -> usize {
    1 + libs.len() + 1 + script.lines().position(|l| l.contains(needle)).unwrap()
}

#[test]
fn a_failing_command_names_step_file_line_and_command() {
    let script = "step \"unpack\"\nfalse_here() { false; }\ntrue\nfalse_here\necho unreachable\n";
    let (status, err) = harness(&[], script);
    assert_ne!(status, 0);
    assert!(err.contains("step \"unpack\" failed"), "{err}");
    let line = line_of(&[], script, "false_here() {");
    assert!(
        err.contains(&format!(".sh:{line}: `false` exited with status 1")),
        "{err}"
    );
    assert!(!err.contains("unreachable"));
}

#[test]
fn an_unmatched_glob_in_an_assignment_is_named() {
    // The shape of the bug that once ended `qemu/vm test` silently on a cold cache.
    let script = "step \"Debian kernel\"\nx=$(ls -d \"$CACHE/none/\"* 2>/dev/null | sort -V | tail -n1)\necho \"x=$x\"\n";
    let (status, err) = harness(&[], script);
    assert_eq!(status, 2, "{err}");
    let line = line_of(&[], script, "x=$(ls");
    assert!(err.contains("step \"Debian kernel\" failed"), "{err}");
    assert!(err.contains(&format!(".sh:{line}: `x=$(ls -d")), "{err}");
}

#[test]
fn die_in_a_command_substitution_is_said_once_with_where() {
    let script =
        "step \"fetch\"\nf() { die \"no .deb\" \"look at the log\"; }\ny=$(f)\necho never\n";
    let (status, err) = harness(&[], script);
    assert_eq!(status, 1);
    assert_eq!(err.matches("failed").count(), 1, "{err}");
    assert!(err.contains("step \"fetch\" failed: no .deb"), "{err}");
    assert!(err.contains("vpoll: try: look at the log"), "{err}");
    let line = line_of(&[], script, "y=$(f)");
    assert!(err.contains("(from "), "{err}");
    assert!(err.contains(&format!(".sh:{line}: y=$(f))")), "{err}");
}

#[test]
fn a_failed_background_job_fails_the_step_that_awaits_it() {
    let script = "step \"prefetch\"\njob() { echo working; false; }\nbackground fetch job\nstep \"kernel\"\nawait fetch\necho never\n";
    let (status, err) = harness(&[], script);
    assert_eq!(status, 1, "{err}");
    assert!(
        err.contains("step \"kernel\" failed: the background job 'fetch' failed"),
        "{err}"
    );
    // Its own log's tail is shown, naming where it failed.
    assert!(
        err.contains("step \"fetch (in the background)\" failed"),
        "{err}"
    );
    assert!(err.contains("`false` exited with status 1"), "{err}");
}

#[test]
fn every_kernel_series_the_archive_carries_is_found() {
    // debian_series against a stand-in for the archive's package lists: 7.2
    // and 7.3 have a source, an image and headers of one version; 7.1 has a
    // source but no image of its version, so it is skipped, and saying so.
    let script = r#"run_logged() { :; }
apt_cache_oneoff() {
    shift
    case "$1 ${3:-}" in
        "search ^linux-source-"*) printf '%s\n' 'linux-source-7.3 - x' 'linux-source-7.1 - x' 'linux-source-7.2 - x' ;;
        "search "*12*) printf '%s\n' 'linux-binary-7.2.9+deb13-amd64 - x' 'linux-binary-7.2.12+deb13-amd64 - x' ;;
        "search "*13*) ;;
        "search "*) echo 'linux-binary-7.3.4+deb13-amd64 - x' ;;
        "show ") case $2 in
            linux-source-7.1) echo 'Version: 7.1.13-1~bpo13+1' ;;
            linux-source-7.2) printf '%s\n' 'Version: 7.2.12-1~bpo13+1' 'Version: 7.2.9-1~bpo13+1' ;;
            linux-source-7.3) echo 'Version: 7.3.4-1~bpo13+1' ;;
            linux-headers-*) ;;
            *) return 100 ;;
        esac ;;
        *) return 100 ;;
    esac
}
debian_series
echo "series=${DEBIAN_SERIES[*]} abis=${DEBIAN_ABIS[*]} ours=$KERNEL_SERIES" >&2
"#;
    let (status, err) = harness(&["source.sh", "debian.sh"], script);
    assert_eq!(status, 0, "{err}");
    assert!(
        err.contains("series=7.2 7.3 abis=7.2.12+deb13-amd64 7.3.4+deb13-amd64 ours=7.3"),
        "{err}"
    );
    assert!(
        err.contains(
            "linux-source-7.1 is 7.1.13, but there is no image and headers of that version"
        ),
        "{err}"
    );
}

#[test]
fn no_kernel_series_in_the_archive_is_a_clear_failure() {
    let script = "run_logged() { :; }\napt_cache_oneoff() { :; }\ndebian_series\n";
    let (status, err) = harness(&["source.sh", "debian.sh"], script);
    assert_ne!(status, 0, "{err}");
    assert!(
        err.contains("has no kernel series with its source, image and headers"),
        "{err}"
    );
}

#[test]
fn a_failure_stops_the_background_jobs_and_their_children() {
    // The job starts a process whose parent has already exited (as a
    // daemonising tool does): no walk of the job's process tree finds it,
    // only its process group does. The step fails once it surely runs (it
    // wrote its pid); the job itself runs on.
    let pidfile = std::env::temp_dir().join(format!("vpoll-orphan-{}", std::process::id()));
    let _ = std::fs::remove_file(&pidfile);
    let script = format!(
        "step \"prefetch\"\n\
         job() {{ sh -c 'sh -c \"echo \\$\\$ >{p}.tmp && mv {p}.tmp {p}; exec sleep 60\" &'; sleep 60; }}\n\
         background fetch job\nwhile [ ! -s {p} ]; do sleep 0.05; done\nfalse\n",
        p = pidfile.display()
    );
    let (status, err) = harness(&[], &script);
    assert_eq!(status, 1, "{err}");
    let pid = std::fs::read_to_string(&pidfile).unwrap();
    let _ = std::fs::remove_file(&pidfile);
    let proc = std::path::PathBuf::from(format!("/proc/{}", pid.trim()));
    // Signals take effect at once; a little patience for a loaded machine.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while proc.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(
        !proc.exists(),
        "a background job's child (pid {}) lived on after the failure",
        pid.trim()
    );
}

/// A `dkms status` that fails is a failure, not "vpoll is not installed"
/// (which the check for a kernel DKMS must skip would have taken as a pass).
#[test]
fn a_failing_dkms_status_is_not_a_no() {
    let fake = |dkms: &str| {
        format!(
            "step \"packages\"\nDEB_CHROOT=/nonexistent\nin_chroot() {{ {dkms}; }}\n\
             if ! dkms_installed 7.2.12+deb13-amd64; then echo 'said no' >&2; fi\n"
        )
    };
    let (status, err) = harness(
        &["packages.sh"],
        &fake("echo 'vpoll/0.1.0, 7.2: installed'"),
    );
    assert_eq!(status, 0, "{err}");
    assert!(!err.contains("said no"), "{err}");
    let (status, err) = harness(&["packages.sh"], &fake("echo 'vpoll/0.1.0: added'"));
    assert_eq!(status, 0, "{err}");
    assert!(err.contains("said no"), "{err}");
    let (status, err) = harness(
        &["packages.sh"],
        &fake("echo 'dkms: command not found' >&2; return 127"),
    );
    assert_ne!(status, 0, "{err}");
    assert!(err.contains("dkms status failed in the chroot"), "{err}");
    assert!(!err.contains("said no"), "{err}");
}

#[test]
fn a_disk_too_small_for_the_run_stops_it_at_once_with_what_to_do() {
    // 1 PiB: no disk here has it, so the check must refuse before any work.
    let script = "disk_check 1048576\necho unreachable\n";
    let (status, err) = harness(&[], script);
    assert_eq!(status, 1, "{err}");
    assert!(err.contains("step \"disk space\" failed"), "{err}");
    assert!(err.contains("needs about 1048576 GiB more"), "{err}");
    assert!(err.contains("try: free space on that disk"), "{err}");
    assert!(!err.contains("unreachable"));
}
