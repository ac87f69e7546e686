# SPDX-License-Identifier: MIT OR Apache-2.0
# The guest: statically linked user programs, the initramfs, and booting it.

GUEST_TARGET=x86_64-unknown-linux-gnu
# Host cargo builds share a target dir in the cache, so a fresh clone reuses them.
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$CACHE/cargo-target}
GUEST_CPUS=2

# cargo_guest ARGS...: cargo for the guest, statically linked (the initramfs
# has no libc), with the tests that need a kernel backend switched on
# (`vpoll_kernel_tests`: on the host they are ignored, and say why); prints "KIND NAME PATH" for each executable it built, KIND
# being "test" for a test target and "bin" (or "example") for the others.
cargo_guest() {
    RUSTFLAGS="-C target-feature=+crt-static --cfg vpoll_kernel_tests" cargo "$@" --target "$GUEST_TARGET" \
        --message-format=json-render-diagnostics |
        python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable"):
        kind = "test" if m["profile"]["test"] else m["target"]["kind"][0]
        print(kind, m["target"]["name"], m["executable"])'
}

# guest_copy BUILT NAME...: copy the executables named NAME from cargo_guest's
# output into $GUEST_DIR.
guest_copy() {
    local built=$1 name path
    shift
    for name in "$@"; do
        path=$(awk -v n="$name" '$2 == n { print $3; exit }' <<<"$built")
        [ -n "$path" ] && [ -x "$path" ] ||
            die "cargo built no executable '$name'" "rerun with CARGO_TERM_VERBOSE=true"
        cp "$path" "$GUEST_DIR/$name"
    done
}

# guest_tools: the demo and vpollctl (what the demo, run and shell need), into
# $GUEST_DIR.
guest_tools() {
    step "guest programs"
    GUEST_DIR="$CACHE/guest-tools"
    mkdir -p "$GUEST_DIR"
    log "cargo: building the demo and vpollctl (static, $GUEST_TARGET)"
    local built
    built=$(cd "$REPO" && cargo_guest build -p vpoll-harness -p vpollctl --bin vpoll-demo --bin vpollctl) ||
        die "cargo could not build the demo and vpollctl" \
            "cd $REPO && cargo build -p vpoll-harness --bin vpoll-demo -p vpollctl"
    guest_copy "$built" vpoll-demo vpollctl
}

# guest_programs: build every program the guest suite runs into $GUEST_DIR;
# sets LIB_SUITES to the library's test targets, as cargo lists them, so a new
# test file runs in the guest without a change here.
guest_programs() {
    step "guest programs"
    GUEST_DIR="$CACHE/guest"
    rm -rf "$GUEST_DIR"
    mkdir -p "$GUEST_DIR"
    log "cargo: building the guest suites, the demo and the example (static, $GUEST_TARGET)"
    local built lib_tests
    built=$(cd "$REPO" && cargo_guest test -p vpoll-tests --features guest --test guest --no-run &&
        cargo_guest build -p vpoll-harness --bin vpoll-demo &&
        cargo_guest build -p vpoll --example userstack &&
        cargo_guest build -p vpollctl) ||
        die "cargo could not build the guest programs" \
            "cd $REPO && cargo test --workspace --all-features --features vpoll-tests/guest --no-run"
    lib_tests=$(cd "$REPO" && cargo_guest test -p vpoll --all-features --tests --no-run) ||
        die "cargo could not build the library's tests" "cd $REPO && cargo test -p vpoll --all-features --no-run"
    # The library's integration tests (its unit tests run on the host).
    mapfile -t LIB_SUITES < <(awk '$1 == "test" && $2 != "vpoll" { print $2 }' <<<"$lib_tests")
    [ ${#LIB_SUITES[@]} -gt 0 ] || die "cargo listed no test target of the vpoll crate" "cargo test -p vpoll --no-run"
    log "the library's guest suites: ${LIB_SUITES[*]}"
    guest_copy "$built" guest vpoll-demo userstack vpollctl
    guest_copy "$lib_tests" "${LIB_SUITES[@]}"
    log "gcc -m32: building the 32-bit client"
    run_logged "$CACHE/logs/vpoll32.log" gcc -m32 -static -O2 -Wall -Wextra -Werror \
        -o "$GUEST_DIR/vpoll32" "$REPO/tests/compat32/vpoll32.c"
    # An existing C client as users have it: linked against Debian's libvpoll0
    # and run with the host's shared libraries.
    log "gcc: building the C client against Debian's libvpoll (dynamically linked)"
    run_logged "$CACHE/logs/vpoll_client.log" gcc -O2 -Wall -Wextra -Werror -pthread \
        -o "$GUEST_DIR/vpoll_client" "$REPO/tests/clib/vpoll_client.c" -lvpoll
    # Our libvpoll.so.0 in /opt/vpoll/lib, and the same C programs linked
    # against it through its pkg-config file, finding it by their run path.
    log "capi/install: our libvpoll for the guest, and C programs linked against it"
    local stage="$CACHE/capi-stage"
    rm -rf "$stage"
    run_logged "$CACHE/logs/capi-install.log" env DESTDIR="$stage" PREFIX=/opt/vpoll "$REPO/capi/install"
    local flags
    flags=$(PKG_CONFIG_PATH="$stage/opt/vpoll/lib/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$stage" \
        pkg-config --cflags --libs vpoll) || die "pkg-config cannot find our vpoll.pc" "ls $stage/opt/vpoll/lib/pkgconfig"
    run_logged "$CACHE/logs/vpoll_client.log" gcc -O2 -Wall -Wextra -Werror -pthread \
        -o "$GUEST_DIR/vpoll_client_vpoll" "$REPO/tests/clib/vpoll_client.c" $flags -Wl,-rpath,/opt/vpoll/lib
    local c
    for c in capi_test close_leak manpage_example; do
        run_logged "$CACHE/logs/$c.log" gcc -O2 -Wall -Wextra -Werror -pthread \
            -o "$GUEST_DIR/$c" "$REPO/capi/tests/$c.c" $flags -Wl,-rpath,/opt/vpoll/lib
    done
    # Our vpoll(3)'s example as the page shows it, and the output it shows.
    "$REPO/capi/man/example" program "$REPO/capi/man/vpoll.3" >"$stage/vpoll_example.c"
    "$REPO/capi/man/example" output "$REPO/capi/man/vpoll.3" >"$GUEST_DIR/vpoll_example.out"
    run_logged "$CACHE/logs/vpoll_example.log" gcc -O2 -Wall -Wextra -Werror -pthread \
        -o "$GUEST_DIR/vpoll_example" "$stage/vpoll_example.c" $flags -Wl,-rpath,/opt/vpoll/lib
    rm -rf "$GUEST_ROOT"
    guest_shared_libs "$GUEST_DIR/vpoll_client" "$stage/opt/vpoll/lib/libvpoll.so.0"
    mkdir -p "$GUEST_ROOT/opt/vpoll/lib"
    cp -L "$stage/opt/vpoll/lib/libvpoll.so.0" "$GUEST_ROOT/opt/vpoll/lib/"
    GUEST_OVERLAY=$GUEST_ROOT
}

# guest_shared_libs FILE...: copy the shared libraries (and the loader) that
# programs or libraries need into $GUEST_ROOT, at the paths the loader looks
# for them; initramfs_build lays $GUEST_OVERLAY (set to it by guest_programs)
# over the guest's root.
GUEST_ROOT="$CACHE/guest-root"
GUEST_OVERLAY=
guest_shared_libs() {
    local lib
    for lib in $(ldd "$@" | grep -oE '=> /[^ ]+|^[[:space:]]+/[^ ]+' | grep -oE '/[^ ]+' | sort -u); do
        mkdir -p "$GUEST_ROOT$(dirname "$lib")"
        cp -L "$lib" "$GUEST_ROOT$lib"
    done
    [ -d "$GUEST_ROOT" ] || die "ldd found no shared libraries for $*" "run: ldd $*"
    log "shared libraries for the guest: $(cd "$GUEST_ROOT" && find . -type f | sed 's|^\.||' | tr '\n' ' ')"
}

# initramfs_build OUT JOBSCRIPT [FILE...]: busybox, init, the module (and the
# kernel's own modules in EXTRA_KOS, loaded first; and, for a module DKMS
# installed, GUEST_MODULES_ROOT's /lib/modules tree, from which init loads it
# with modprobe), and a job directory with JOBSCRIPT as /job/run (empty for a
# shell) and FILEs beside it.
EXTRA_KOS=()
initramfs_build() {
    local out=$1 job=$2
    shift 2
    local list="$out.list" f
    {
        printf '%s\n' "dir /dev 0755 0 0" "nod /dev/console 0600 0 0 c 5 1" \
            "dir /bin 0755 0 0" "dir /proc 0555 0 0" "dir /sys 0555 0 0" \
            "dir /tmp 01777 0 0" "dir /root 0700 0 0" "dir /lib 0755 0 0" \
            "dir /lib/modules 0755 0 0" "dir /job 0755 0 0" \
            "file /bin/busybox /bin/busybox 0755 0 0" \
            "file /init $QEMU_DIR/guest/init 0755 0 0" \
            "file /lib/modules/vpoll.ko $KO 0644 0 0" "dir /lib/modules/extra 0755 0 0"
        for f in "${EXTRA_KOS[@]}"; do
            echo "file /lib/modules/extra/$(basename "$f") $f 0644 0 0"
        done
        [ -z "$job" ] || echo "file /job/run $job 0755 0 0"
        local overlay
        for overlay in $GUEST_OVERLAY ${GUEST_MODULES_ROOT:-}; do
            # Directories the fixed list above does not make yet, then files.
            (cd "$overlay" && find . -mindepth 1 -type d | sed 's|^\.||' | sort) |
                { grep -vxE '/(bin|lib|lib/modules|lib/modules/extra|job|tmp|root|dev|proc|sys)' || true; } |
                sed 's|.*|dir & 0755 0 0|'
            (cd "$overlay" && find . -type f | sed 's|^\.||' | sort) |
                sed "s|.*|file & $overlay& 0755 0 0|"
        done
        for f in "$@"; do
            [ -e "$f" ] || die "no such file to copy into the guest: $f" "check the path"
            echo "file /job/$(basename "$f") $(realpath "$f") 0755 0 0"
        done
    } >"$list"
    "$GEN_INIT_CPIO" "$list" | gzip -1 >"$out" ||
        die "gen_init_cpio failed" "check $list"
}

# What a kernel prints as it panics.
PANIC_LINE="Kernel panic - not syncing:"

# vm_boot INITRD CONSOLE_LOG TIMEOUT [interactive]: boot $BZIMAGE (the kernel
# kernel_select chose); the console goes to the terminal and to CONSOLE_LOG.
vm_boot() {
    local initrd=$1 logf=$2 limit=$3 mode=${4:-batch}
    # BOOT_CPUS overrides the vCPU count; BOOT_ICOUNT (e.g. shift=0) makes
    # guest time count instructions, which needs single-threaded TCG.
    local cpus=${BOOT_CPUS:-$GUEST_CPUS}
    local -a accel=(-accel tcg,thread=multi)
    [ -z "${BOOT_ICOUNT:-}" ] || accel=(-accel tcg,thread=single -icount "$BOOT_ICOUNT")
    # Any oops, and an RCU stall (a CPU wedged with interrupts off: the
    # kernel no longer runs the job), panic, and the guest powers off with
    # the report on its console, instead of waiting for the watchdog.
    local -a qemu=(qemu-system-x86_64 "${accel[@]}" -cpu max -smp "$cpus"
        -m 1G -no-reboot -kernel "$BZIMAGE" -initrd "$initrd"
        -append "console=ttyS0 loglevel=5 oops=panic sysctl.kernel.panic_on_rcu_stall=1 panic=-1 rdinit=/init")
    if [ "$mode" = interactive ]; then
        "${qemu[@]}" -nographic | tee "$logf"
        return
    fi
    log "booting $KERNEL_NAME ($cpus vCPUs, TCG${BOOT_ICOUNT:+, -icount $BOOT_ICOUNT}; watchdog ${limit}s; console log: $logf)"
    vm_boot_once "$logf" "$limit" "${qemu[@]}"
    # A distribution's kernel that panicked before the guest's init said a
    # word ran nothing of ours, not even vpoll.ko: a boot-time race of the
    # kernel under TCG (Debian's 7.2 took an int3 Oops in a static key's
    # patching once in some 60 boots). It boots once more; the first console
    # is kept and named on the second's last line, which the verdict prints.
    # Our own kernels get no second boot: their patches did run.
    if [ "${KERNEL_STOCK:-no}" = yes ] && ! grep -q "vpoll guest: " "$logf" &&
        grep -q "$PANIC_LINE" "$logf"; then
        local first="$logf.first-boot" reason
        reason=$(grep -o "$PANIC_LINE.*" "$logf" | head -n1 | tr -d '\r')
        mv "$logf" "$first"
        log "$KERNEL_NAME panicked before the guest's init ran (${reason#"$PANIC_LINE" }): nothing of vpoll ran; booting it once more (the first console: $first)"
        vm_boot_once "$logf" "$limit" "${qemu[@]}"
        echo "VPOLL-REBOOTED: the first boot panicked before the guest's init ran (${reason#"$PANIC_LINE" }); its console: $first" >>"$logf"
    fi
}

# vm_boot_once CONSOLE_LOG TIMEOUT QEMU_COMMAND...: one batch boot.
vm_boot_once() {
    local logf=$1 limit=$2 rc=0
    shift 2
    timeout --kill-after=10 "$limit" "$@" -display none -monitor none -serial stdio \
        </dev/null 2>"$logf.qemu" | tee "$logf" || rc=$?
    if [ "$rc" -eq 124 ]; then
        # For the verdict, which names the test it stopped in.
        echo "VPOLL-WATCHDOG: $limit" >>"$logf"
        log "watchdog: the guest did not finish within ${limit}s"
    fi
    [ "$rc" -eq 0 ] || [ "$rc" -eq 124 ] || { cat "$logf.qemu" >&2; die "qemu exited with status $rc" "see $logf.qemu"; }
}
