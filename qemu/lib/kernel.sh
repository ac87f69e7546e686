# SPDX-License-Identifier: MIT OR Apache-2.0
# Configures and builds the test kernel into a cache dir keyed by everything
# that changes the result; a second run with the same inputs reuses it.

# Bump when the build steps below change what they produce.
KERNEL_RECIPE=3

# kernel_make_vars: the make variables that build our kernels, and every
# module for them. Every flavour is built with LLVM: Rust with KASAN needs
# clang, and with gcc bookworm's GNU ld leaves a Rust module two .modinfo
# sections, which the kernel refuses ("Only one .modinfo section must exist").
kernel_make_vars() {
    printf '%s\n' ARCH=x86_64 LLVM="-$LLVM_VERSION" RUSTC="$RUSTC_KERNEL" \
        HOSTRUSTC="$RUSTC_KERNEL" RUSTDOC=/usr/bin/rustdoc BINDGEN="$BINDGEN"
}

# kbuild_make_vars: the make variables $KBUILD was built with (modules must
# use the same compilers).
kbuild_make_vars() {
    cat "$KBUILD/.vpoll-make-vars"
}

# kernel_patched_source: the source with qemu/patches/*.patch applied, as a
# hard-linked copy (patch replaces the files it changes, so the pristine tree
# stays as it was); sets KSRC_PATCHED.
kernel_patched_source() {
    local patches=("$QEMU_DIR"/patches/*.patch)
    local key
    key=$(hash_of "$CACHE/src/linux-source-$KERNEL_SERIES.version" "${patches[@]}")
    KSRC_PATCHED="$CACHE/src/linux-$KVERSION-patched-$key"
    [ -f "$KSRC_PATCHED/.vpoll-patched" ] && return
    log "applying ${#patches[@]} patch(es) from qemu/patches to a copy of the source"
    rm -rf "$KSRC_PATCHED"
    cp -al "$KSRC" "$KSRC_PATCHED"
    local p
    for p in "${patches[@]}"; do
        run_logged "$CACHE/logs/patch-$(basename "$p").log" patch -d "$KSRC_PATCHED" -p1 --forward -i "$p"
    done
    touch "$KSRC_PATCHED/.vpoll-patched"
    for p in "$CACHE/src/linux-$KVERSION-patched-"*; do
        [ "$p" = "$KSRC_PATCHED" ] || rm -rf "$p"
    done
}

# kernel_build FLAVOUR: build tinyconfig + base.config, + FLAVOUR.config
# for test (KCSAN) and debug (KASAN, lockdep, UBSAN, ...); plain is
# base.config alone. Sets KBUILD and BZIMAGE.
kernel_build() {
    local flavour=${1:-test}
    local fragments=("$QEMU_DIR/config/base.config")
    [ "$flavour" = plain ] || fragments+=("$QEMU_DIR/config/$flavour.config")
    local fragment
    for fragment in "${fragments[@]}"; do
        [ -f "$fragment" ] || die "no config fragment $fragment" "ls $QEMU_DIR/config"
    done
    step "kernel ($flavour)"
    kernel_patched_source
    local -a vars
    mapfile -t vars < <(kernel_make_vars)
    local compiler
    compiler=$(clang-"$LLVM_VERSION" --version | head -n1)
    # The key is every input of the build (not this script: its messages may
    # change without a rebuild); KERNEL_RECIPE counts changes to how we build.
    local key
    key=$(hash_of "$KERNEL_RECIPE" "$CACHE/src/linux-source-$KERNEL_SERIES.version" "${fragments[@]}" \
        "$QEMU_DIR"/patches/*.patch "${vars[*]}" "$compiler" "$($RUSTC_KERNEL --version)" \
        "$($BINDGEN --version)")
    KBUILD="$CACHE/kernel/$flavour-$KVERSION-$key"
    BZIMAGE="$KBUILD/arch/x86/boot/bzImage"
    if [ -f "$KBUILD/.vpoll-built" ]; then
        log "reusing $KBUILD"
        return
    fi
    rm -rf "$KBUILD"
    mkdir -p "$KBUILD"
    local logf="$CACHE/logs/kernel-$flavour.log"
    log "configuring (tinyconfig + ${fragments[*]##*/}) in $KBUILD"
    run_logged "$logf" make -C "$KSRC_PATCHED" O="$KBUILD" "${vars[@]}" tinyconfig
    run_logged "$logf.merge" "$KSRC_PATCHED/scripts/kconfig/merge_config.sh" -m -O "$KBUILD" \
        "$KBUILD/.config" "${fragments[@]}"
    run_logged "$logf.olddefconfig" make -C "$KSRC_PATCHED" O="$KBUILD" "${vars[@]}" olddefconfig
    for fragment in "${fragments[@]}"; do
        config_check "$fragment" "$KBUILD/.config"
    done
    log "building bzImage and modules with $JOBS jobs (log: $logf)"
    build_with_progress "$logf" make -C "$KSRC_PATCHED" O="$KBUILD" "${vars[@]}" -j"$JOBS" bzImage modules
    printf '%s\n' "${vars[@]}" >"$KBUILD/.vpoll-make-vars"
    touch "$KBUILD/.vpoll-built"
    log "bzImage $(stat -c %s "$BZIMAGE") bytes"
    # Builds of this flavour with other inputs are stale now; each is ~0.5 GB.
    local old
    for old in "$CACHE/kernel/$flavour"-*; do
        [ "$old" = "$KBUILD" ] || rm -rf "$old" "$CACHE/module/$(basename "$old")"
    done
}

# config_check FRAGMENT CONFIG: every option the fragment asks for must have
# survived olddefconfig; a dropped one (e.g. RUST when bindgen is missing) is
# named rather than silently built without.
config_check() {
    local line want dropped=()
    while read -r line; do
        case $line in CONFIG_*) ;; *) continue ;; esac
        grep -qxF "$line" "$2" || dropped+=("$line")
    done <"$1"
    [ ${#dropped[@]} -eq 0 ] ||
        die "olddefconfig dropped: ${dropped[*]}" "check their dependencies in $2 (make menuconfig, '/' to search)"
}

# build_with_progress LOG CMD...: run a kernel build, printing a line every
# 30 s with how many objects it has compiled so far.
build_with_progress() {
    local logf=$1
    shift
    # The previous build's object count says how far this one is; the first
    # guess is what the flavours counted here (test 1,990; debug 2,046).
    local total_file="$CACHE/kernel/.objects-$(basename "$logf" .log)"
    local total
    total=$(cat "$total_file" 2>/dev/null || echo 2000)
    "$@" >"$logf" 2>&1 &
    local pid=$! n=0
    while kill -0 "$pid" 2>/dev/null; do
        sleep 3
        n=$((n + 3))
        if [ $((n % 30)) -eq 0 ]; then
            log "  ... $(count_objects "$logf") of about $total objects; now: $(grep -E '^ +[A-Z]' "$logf" | tail -n1 | tr -s ' ' || true)"
        fi
    done
    if ! wait "$pid"; then
        grep -E 'error|Error' "$logf" | head -n 20 >&2
        die "kernel build failed" "read $logf; rebuild from scratch with: rm -rf $KBUILD"
    fi
    count_objects "$logf" >"$total_file"
}

count_objects() {
    grep -cE '^ +(CC|RUSTC|AS|LD|AR)' "$1" || true
}
