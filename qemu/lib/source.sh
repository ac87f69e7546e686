# SPDX-License-Identifier: MIT OR Apache-2.0
# Fetches Debian's linux-source-$KERNEL_SERIES from $DEBIAN_KERNEL_SUITE without
# touching the machine's apt sources: a one-off apt configuration of our own
# under the cache.

# apt_oneoff SUITE ARGS...: apt-get against one Debian suite only, with its own
# sources list, lists and cache dirs.
apt_oneoff() {
    local suite=$1
    shift
    local dir="$CACHE/apt/$suite"
    mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial"
    cat >"$dir/sources.list" <<SRC
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian $suite main
SRC
    apt-get -o Dir::Etc::SourceList="$dir/sources.list" -o Dir::Etc::SourceParts=- \
        -o Dir::State::Lists="$dir/lists" -o Dir::Cache="$dir/cache" \
        -o APT::Get::List-Cleanup=0 "$@"
}

# apt_cache_oneoff SUITE ARGS...: apt-cache against apt_oneoff's lists.
apt_cache_oneoff() {
    local dir="$CACHE/apt/$1"
    shift
    apt-cache -o Dir::Etc::SourceList="$dir/sources.list" -o Dir::Etc::SourceParts=- \
        -o Dir::State::Lists="$dir/lists" -o Dir::Cache="$dir/cache" "$@"
}

# apt_fetch_deb SUITE PACKAGE: download PACKAGE's current .deb into the cache;
# prints its path.
apt_fetch_deb() {
    local suite=$1 pkg=$2 out="$CACHE/debs"
    mkdir -p "$out"
    run_logged "$CACHE/logs/apt-$suite-update.log" apt_oneoff "$suite" update
    (cd "$out" && run_logged "$CACHE/logs/apt-$suite-$pkg.log" apt_oneoff "$suite" download "$pkg")
    local deb
    deb=$(find "$out" -maxdepth 1 -name "${pkg}_*.deb" -printf '%T@ %p\n' | sort -n | tail -n1 | cut -d' ' -f2-)
    [ -n "$deb" ] || die "no .deb for $pkg from $suite" "see $CACHE/logs/apt-$suite-$pkg.log"
    printf '%s\n' "$deb"
}

# kernel_source: make sure an unpacked tree exists; sets KSRC and KVERSION.
kernel_source() {
    step "kernel source"
    local stamp="$CACHE/src/linux-source-$KERNEL_SERIES.version" current
    # The archive's current build (debian_series updated the lists): a cached
    # tree of an older one is replaced, so our kernels follow Debian's.
    current=$(apt_cache_oneoff "$DEBIAN_KERNEL_SUITE" show "linux-source-$KERNEL_SERIES" |
        sed -n 's/^Version: //p' | sort -V | tail -n1)
    if [ "$(cat "$stamp" 2>/dev/null)" != "$current" ] || [ ! -f "$CACHE/src/linux-source-$KERNEL_SERIES/Makefile" ]; then
        log "fetching linux-source-$KERNEL_SERIES from $DEBIAN_KERNEL_SUITE (about 160 MB)"
        local deb
        deb=$(apt_fetch_deb "$DEBIAN_KERNEL_SUITE" "linux-source-$KERNEL_SERIES")
        rm -rf "$CACHE/src/unpack" "$CACHE/src/linux-source-$KERNEL_SERIES"
        mkdir -p "$CACHE/src/unpack"
        log "unpacking $(basename "$deb")"
        dpkg-deb -x "$deb" "$CACHE/src/unpack"
        tar -C "$CACHE/src" -xf "$CACHE/src/unpack/usr/src/linux-source-$KERNEL_SERIES.tar.xz" ||
            die "could not untar the kernel source" "delete $CACHE/src and run again"
        rm -rf "$CACHE/src/unpack"
        dpkg-deb -f "$deb" Version >"$stamp"
        rm -f "$deb" # the unpacked tree is what we keep
    fi
    KSRC="$CACHE/src/linux-source-$KERNEL_SERIES"
    KVERSION=$(make -s -C "$KSRC" kernelversion)
    # Trees of series our kernels no longer follow (1.5 GB each) go, with
    # their patched copies.
    local old
    for old in "$CACHE"/src/linux-source-* "$CACHE"/src/linux-*-patched-*; do
        case $old in
            "$KSRC" | "$KSRC.version" | "$CACHE/src/linux-$KVERSION-patched-"*) ;;
            *) rm -rf "$old" ;;
        esac
    done
    log "kernel source $KVERSION (Debian $(cat "$stamp")) at $KSRC"
}

# gen_init_cpio: the kernel's own initramfs writer (no root needed for device
# nodes), built from the source on its own, so that booting Debian's image
# needs no kernel build; sets GEN_INIT_CPIO.
gen_init_cpio() {
    GEN_INIT_CPIO="$CACHE/tools/gen_init_cpio-$KVERSION"
    [ -x "$GEN_INIT_CPIO" ] && return
    mkdir -p "$CACHE/tools"
    run_logged "$CACHE/logs/gen_init_cpio.log" gcc -O2 -o "$GEN_INIT_CPIO.tmp" "$KSRC/usr/gen_init_cpio.c"
    mv "$GEN_INIT_CPIO.tmp" "$GEN_INIT_CPIO"
}
