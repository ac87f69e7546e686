# SPDX-License-Identifier: MIT OR Apache-2.0
# The benchmark's peers and programs: Debian's C vpoll module built against
# the plain kernel beside ours, the benchmark binaries, and BENCHMARKS.md's head.

# cmodule_build: build vpoll-dkms' vpoll.c ($VPOLL_C_SUITE) against $KBUILD as
# vpoll_c.ko, with its module and node renamed vpoll_c so that it loads beside
# ours; sets CKO.
cmodule_build() {
    step "C module (peer)"
    local src="$CACHE/src/vpoll-dkms"
    if [ ! -f "$src/vpoll.c" ]; then
        log "fetching vpoll-dkms from $VPOLL_C_SUITE"
        local deb unpack="$CACHE/src/unpack-vpoll-dkms"
        deb=$(apt_fetch_deb "$VPOLL_C_SUITE" vpoll-dkms)
        rm -rf "$src" "$unpack"
        mkdir -p "$src" "$unpack"
        dpkg-deb -x "$deb" "$unpack"
        cp "$unpack"/usr/src/vpoll-*/vpoll.c "$src/vpoll.c" ||
            die "no usr/src/vpoll-*/vpoll.c in $(basename "$deb")" "dpkg-deb -c $deb"
        dpkg-deb -f "$deb" Version >"$src/version"
        rm -rf "$unpack"
    fi
    local out="$CACHE/cmodule/$(basename "$KBUILD")"
    rm -rf "$out"
    mkdir -p "$out"
    sed 's/^#define NAME "vpoll"$/#define NAME "vpoll_c"/' "$src/vpoll.c" >"$out/vpoll_c.c"
    grep -q '^#define NAME "vpoll_c"$' "$out/vpoll_c.c" ||
        die "vpoll-dkms' vpoll.c no longer names its device with '#define NAME \"vpoll\"'" \
            "look at $src/vpoll.c and adapt cmodule_build in qemu/lib/bench.sh"
    echo 'obj-m += vpoll_c.o' >"$out/Kbuild"
    local -a vars
    mapfile -t vars < <(kbuild_make_vars)
    log "building vpoll-dkms $(cat "$src/version") as vpoll_c.ko against $(basename "$KBUILD")"
    run_logged "$CACHE/logs/cmodule.log" make -C "$KBUILD" M="$out" "${vars[@]}" modules
    CKO="$out/vpoll_c.ko"
    [ -f "$CKO" ] || die "make succeeded but $CKO is missing" "read $CACHE/logs/cmodule.log"
}

# bench_programs: the guest benchmark (static, optimised) into $BENCH_DIR, and
# the host's (emulation benchmark, report) built for the host.
bench_programs() {
    step "benchmark programs"
    BENCH_DIR="$CACHE/bench-guest"
    rm -rf "$BENCH_DIR"
    mkdir -p "$BENCH_DIR"
    log "cargo: building vpoll-bench (static, release) and the host tools"
    local built path
    built=$(cd "$REPO" && cargo_guest build --release -p vpoll-bench --bin vpoll-bench) ||
        die "cargo could not build vpoll-bench" "cd $REPO && cargo build --release -p vpoll-bench"
    path=$(awk '$2 == "vpoll-bench" { print $3; exit }' <<<"$built")
    [ -x "$path" ] || die "cargo built no vpoll-bench" "rerun with CARGO_TERM_VERBOSE=true"
    cp "$path" "$BENCH_DIR/vpoll-bench"
    # vpoll-bench-emulation loads our C ABI (libvpoll_capi.so) from beside it.
    (cd "$REPO" && cargo build -q --release -p vpoll-bench --bin vpoll-bench-emulation --bin vpoll-bench-report &&
        cargo build -q --release -p vpoll-capi) ||
        die "cargo could not build the host benchmark tools" "cd $REPO && cargo build --release -p vpoll-bench -p vpoll-capi"
    BENCH_HOST="$CARGO_TARGET_DIR/release"
}

# bench_header: the head of BENCHMARKS.md: when, on what, and how to read it.
bench_header() {
    local qemu_version
    qemu_version=$(qemu-system-x86_64 --version | head -n1 | awk '{print $4}')
    cat <<EOF
# vpoll benchmarks

Measured $(date -u +%Y-%m-%d) with \`qemu/vm bench\` on Linux $KVERSION (the plain kernel: the EFD_VPOLL patch and no bug finder, qemu/config/base.config) under QEMU $qemu_version, on a $(nproc)-core host. Every ratio compares two subjects measured in the same run; the mode column says where. Under \`-icount shift=0\` guest time counts instructions, so those figures repeat exactly; the others are wall-clock time and come with their spread.

![ratios](bench/ratios.svg)
EOF
}
