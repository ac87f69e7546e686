# SPDX-License-Identifier: MIT OR Apache-2.0
# The parts of `qemu/vm test`: the lints, the host's tests, one kernel's
# guest suite, and which of them a run asks for.

# test_parts PART...: what `qemu/vm test` runs: TEST_HOST (yes or no) and
# TEST_KERNELS; everything when no part is named.
test_parts() {
    local all=("${DEBIAN_SERIES[@]/#/debian-}" test debug) p
    TEST_HOST=no TEST_KERNELS=()
    [ $# -gt 0 ] || { TEST_HOST=yes TEST_KERNELS=("${all[@]}"); return; }
    for p in "$@"; do
        case " host ${all[*]} " in
            *" $p "*) ;;
            *) die "no test part '$p'" "name host or a kernel: ${all[*]}" ;;
        esac
        if [ "$p" = host ]; then TEST_HOST=yes; else TEST_KERNELS+=("$p"); fi
    done
}

# host_tests: cargo test on the host and the crates check; sets HOST_STATUS.
host_tests() {
    step "host tests"
    log "cargo test --workspace --no-fail-fast --features vpoll/mio,vpoll-netstack/tokio (host; log: $RUN_DIR/host.log)"
    (cd "$REPO" && cargo test --workspace --no-fail-fast --features vpoll/mio,vpoll-netstack/tokio 2>&1) | tee "$RUN_DIR/host.log" &&
        HOST_STATUS=0 || HOST_STATUS=${PIPESTATUS[0]}
    step "crates"
    log "cargo package of ${CRATES[*]} (log: $RUN_DIR/crates.log)"
    if ! crates_check >"$RUN_DIR/crates.log" 2>&1; then
        tail -n 20 "$RUN_DIR/crates.log" >&2
        log "cargo package failed: read $RUN_DIR/crates.log"
        HOST_STATUS=1
    fi
}

# guest_tests KERNEL: the guest suite on KERNEL; its console is
# $RUN_DIR/console-KERNEL.log.
guest_tests() {
    local flavour=$1
    kernel_select "$flavour"
    # The job takes about 3 minutes on Debian's kernels on an idle machine,
    # 6.5 under KCSAN; KASAN and lockdep make the debug kernel several times
    # slower, about 10 minutes (the netstack suite runs there with smaller
    # loads: tests/src/kernel.rs, is_debug). A hung test is the guest's
    # stall guard's to stop (qemu/guest/suite.sh: a suite silent for `stall`
    # seconds, one test running that long, is dumped and stopped, and the
    # job goes on); the watchdog is for a guest that hangs whole. It leaves
    # room for one stall and a machine at a third of this one's speed: on
    # one host core for its two vCPUs the KCSAN job took 10 to 11 minutes (5.5 on
    # two), and a CI run lost it to a 10-minute watchdog.
    local limit=$((TIMEOUT * 4)) stall=240
    [ "$flavour" != debug ] || { limit=$((TIMEOUT * 6)); stall=600; }
    step "guest tests ($flavour kernel)"
    job_script "$RUN_DIR/run" env VPOLL_GUEST_CPUS="$GUEST_CPUS" LIB_SUITES="${LIB_SUITES[*]}" \
        VPOLL_TEST_BACKENDS="$KERNEL_BACKENDS,emulation" VPOLL_KERNEL_FLAVOUR="${flavour%%-*}" \
        VPOLL_STALL=$stall /job/test-job
    initramfs_build "$RUN_DIR/initramfs-$flavour.cpio.gz" "$RUN_DIR/run" \
        "$QEMU_DIR/guest/test-job" "$QEMU_DIR/guest/suite.sh" "$GUEST_DIR"/*
    vm_boot "$RUN_DIR/initramfs-$flavour.cpio.gz" "$RUN_DIR/console-$flavour.log" "$limit"
}

# lint: rustfmt and clippy (every crate, target and feature; warnings are
# errors), first, so that a style or lint failure fails in a minute.
lint() {
    step "lint"
    cargo fmt --version >/dev/null 2>&1 && cargo clippy --version >/dev/null 2>&1 ||
        die "cargo fmt or cargo clippy is missing" "rustup component add rustfmt clippy"
    log "cargo fmt --all --check"
    (cd "$REPO" && cargo fmt --all --check) ||
        die "the code is not formatted as rustfmt would" "run: cargo fmt --all"
    log "cargo clippy --workspace --all-targets --all-features -- -D warnings"
    (cd "$REPO" && cargo clippy --quiet --workspace --all-targets --all-features -- -D warnings) ||
        die "clippy found problems (above)" "fix them; the lint policy is [workspace.lints] in Cargo.toml"
}
