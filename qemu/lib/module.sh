# SPDX-License-Identifier: MIT OR Apache-2.0
# Builds kmod/ against the test kernel through the top-level Kbuild.

# module_build: sets KO to the built vpoll.ko.
module_build() {
    step "module"
    local want have
    want=$(sed -n 's/^CONFIG_RUSTC_VERSION_TEXT="\(.*\)"$/\1/p' "$KBUILD/.config")
    have=$($RUSTC_KERNEL --version)
    [ "$want" = "$have" ] ||
        die "the kernel was built by '$want' but the module would be by '$have'; mixing them fails with E0514" \
            "rebuild the kernel (rm -rf $KBUILD) or set RUSTC to the kernel's compiler"
    local out="$CACHE/module/$(basename "$KBUILD")"
    local -a vars
    mapfile -t vars < <(kbuild_make_vars)
    mkdir -p "$out"
    log "building vpoll.ko (kmod/) against $(basename "$KBUILD")"
    run_logged "$CACHE/logs/module.log" make -C "$KBUILD" M="$REPO" MO="$out" "${vars[@]}" modules
    KO="$out/kmod/vpoll.ko"
    [ -f "$KO" ] || die "make succeeded but $KO is missing" "read $CACHE/logs/module.log"
    if grep -q warning "$CACHE/logs/module.log"; then
        grep -A5 warning "$CACHE/logs/module.log" >&2
        die "the module build has warnings" "fix them; the log is $CACHE/logs/module.log"
    fi
    log "vpoll.ko: $(stat -c %s "$KO") bytes"
}
