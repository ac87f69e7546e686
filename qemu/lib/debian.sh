# SPDX-License-Identifier: MIT OR Apache-2.0
# vpoll on Debian's own kernels: every series trixie-backports carries (its
# newest build of each), vpoll.ko built from the unchanged kmod/ against a tree
# prepared with Debian's config, Module.symvers and compilers (in a trixie
# chroot), and Debian's unmodified kernel images booted with our initramfs.

# What the chroot needs to prepare a kernel tree and build a Rust module.
DEBIAN_CHROOT_PACKAGES=(
    rustc rust-src bindgen libclang-dev clang gcc-14 make flex bison bc
    libelf-dev libssl-dev dwarves python3 cpio kmod xz-utils
)

# in_chroot CMD...: CMD in the chroot, with a /proc (objtool reads it) that
# lives only in a mount namespace of its own, so nothing stays mounted.
in_chroot() {
    unshare --mount sh -c 'mount -t proc proc "$0/proc" && exec chroot "$0" "$@"' "$DEB_CHROOT" "$@"
}

# debian_series: every Rust-enabled kernel series Debian ships in
# $DEBIAN_KERNEL_SUITE, found in the archive on every run (never pinned): a
# series counts when it has a linux-source-X.Y and, of that source's version,
# an image (linux-binary-*) and headers. Sets DEBIAN_SERIES (e.g. 7.2 7.3),
# DEBIAN_ABIS (7.2.12+deb13-amd64 7.3.4+deb13-amd64, in the same order) and
# KERNEL_SERIES, the newest, which our own test and debug kernels follow.
debian_series() {
    run_logged "$CACHE/logs/apt-$DEBIAN_KERNEL_SUITE-update.log" apt_oneoff "$DEBIAN_KERNEL_SUITE" update
    DEBIAN_SERIES=() DEBIAN_ABIS=()
    local series version abi
    for series in $(apt_cache_oneoff "$DEBIAN_KERNEL_SUITE" search --names-only '^linux-source-[0-9]+\.[0-9]+$' |
        awk '{ sub(/^linux-source-/, "", $1); print $1 }' | sort -V); do
        version=$(apt_cache_oneoff "$DEBIAN_KERNEL_SUITE" show "linux-source-$series" |
            sed -n 's/^Version: \([0-9.]*\)-.*/\1/p' | sort -V | tail -n1)
        abi=$(apt_cache_oneoff "$DEBIAN_KERNEL_SUITE" search --names-only \
            "^linux-binary-${version//./\\.}\+deb[0-9]+-amd64$" |
            awk '{ sub(/^linux-binary-/, "", $1); print $1 }' | sort -V | tail -n1)
        if [ -z "$abi" ] || ! apt_cache_oneoff "$DEBIAN_KERNEL_SUITE" show "linux-headers-$abi" >/dev/null 2>&1; then
            log "Debian's linux-source-$series is $version, but there is no image and headers of that version: series skipped"
            continue
        fi
        DEBIAN_SERIES+=("$series") DEBIAN_ABIS+=("$abi")
    done
    [ ${#DEBIAN_SERIES[@]} -gt 0 ] ||
        die "Debian's $DEBIAN_KERNEL_SUITE has no kernel series with its source, image and headers" \
            "check DEBIAN_KERNEL_SUITE in qemu/lib/versions.sh against https://packages.debian.org"
    KERNEL_SERIES=${DEBIAN_SERIES[-1]}
    log "Debian's kernels: ${DEBIAN_ABIS[*]} (our kernels follow $KERNEL_SERIES)"
}

# debian_abi SERIES: the ABI of Debian's current build of SERIES; dies naming
# the series there are.
debian_abi() {
    local i
    for i in "${!DEBIAN_SERIES[@]}"; do
        [ "${DEBIAN_SERIES[i]}" != "$1" ] || { printf '%s\n' "${DEBIAN_ABIS[i]}"; return; }
    done
    die "Debian ships no $1 kernel in $DEBIAN_KERNEL_SUITE now" "use one of: ${DEBIAN_SERIES[*]/#/debian-}"
}

# debian_chroot: a trixie chroot with Debian's compilers; sets DEB_CHROOT.
debian_chroot() {
    DEB_CHROOT="$CACHE/debian/chroot-$DEBIAN_RELEASE"
    local want
    want=$(hash_of "${DEBIAN_CHROOT_PACKAGES[*]}")
    [ "$(cat "$DEB_CHROOT.done" 2>/dev/null)" = "$want" ] && return
    if [ -f "$DEB_CHROOT.done" ]; then
        # A chroot made for another package list only needs what is new.
        log "apt in the chroot: ${DEBIAN_CHROOT_PACKAGES[*]} (the list changed)"
        run_logged "$CACHE/logs/debian-chroot-apt.log" in_chroot \
            env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
            "${DEBIAN_CHROOT_PACKAGES[@]}"
        echo "$want" >"$DEB_CHROOT.done"
        return
    fi
    command -v debootstrap >/dev/null || die "debootstrap is missing" "apt-get install debootstrap"
    rm -rf "$DEB_CHROOT" "$DEB_CHROOT.done"
    log "debootstrap: a minimal $DEBIAN_RELEASE chroot (about half a minute)"
    run_logged "$CACHE/logs/debootstrap.log" debootstrap --variant=minbase \
        --keyring=/usr/share/keyrings/debian-archive-keyring.gpg \
        "$DEBIAN_RELEASE" "$DEB_CHROOT" http://deb.debian.org/debian
    # Debian's kernels (headers, source) come from the backports suite.
    echo "deb http://deb.debian.org/debian $DEBIAN_KERNEL_SUITE main" \
        >"$DEB_CHROOT/etc/apt/sources.list.d/$DEBIAN_KERNEL_SUITE.list"
    run_logged "$CACHE/logs/debian-chroot-apt.log" in_chroot apt-get update
    log "apt in the chroot: ${DEBIAN_CHROOT_PACKAGES[*]}"
    run_logged "$CACHE/logs/debian-chroot-apt.log" in_chroot \
        env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        "${DEBIAN_CHROOT_PACKAGES[@]}"
    echo "$want" >"$DEB_CHROOT.done"
}

# debian_unpack PACKAGE DIR: the current .deb of PACKAGE, unpacked into DIR.
debian_unpack() {
    local deb
    deb=$(apt_fetch_deb "$DEBIAN_KERNEL_SUITE" "$1")
    mkdir -p "$2"
    dpkg-deb -x "$deb" "$2"
    rm -f "$deb"
}

# debian_fetch ABI: Debian's image of that build, the modules of its own the
# suites need (debian_extra_modules), and the config and Module.symvers of
# its headers package; sets DEB_ABI, DEB_DIR, DEB_VMLINUZ and DEB_EXTRA_KOS.
debian_fetch() {
    DEB_ABI=$1 DEB_DIR="$CACHE/debian/$1"
    DEB_VMLINUZ="$DEB_DIR/vmlinuz"
    [ -f "$DEB_VMLINUZ" ] && debian_extra_modules && return
    log "fetching linux-binary-$DEB_ABI (the image) and linux-headers-$DEB_ABI (config, Module.symvers)"
    rm -rf "$DEB_DIR/unpack"
    debian_unpack "linux-binary-$DEB_ABI" "$DEB_DIR/unpack"
    debian_unpack "linux-headers-$DEB_ABI" "$DEB_DIR/unpack"
    local headers="$DEB_DIR/unpack/usr/src/linux-headers-$DEB_ABI"
    [ -f "$headers/.config" ] && [ -f "$headers/Module.symvers" ] ||
        die "linux-headers-$DEB_ABI has no .config or Module.symvers" "dpkg-deb -c it"
    cp "$headers/.config" "$DEB_DIR/config"
    cp "$headers/Module.symvers" "$DEB_DIR/Module.symvers"
    local image
    image=$(find "$DEB_DIR/unpack" -name 'vmlinuz*' -type f | head -n1)
    [ -n "$image" ] || die "no vmlinuz in linux-binary-$DEB_ABI" "dpkg-deb -c it"
    cp "$image" "$DEB_VMLINUZ.tmp"
    mv "$DEB_VMLINUZ.tmp" "$DEB_VMLINUZ"
    rm -rf "$DEB_DIR/unpack"
    debian_extra_modules
}

# The modules of Debian's kernel the suites load (from linux-modules-ABI):
# TUN for the netstack suite's TAP interface, netem for its bad networks.
DEB_MODULE_PATHS=(drivers/net/tun.ko net/sched/sch_netem.ko)

# debian_extra_modules: those modules, plain (Debian compresses them; busybox's
# insmod wants them plain), each without dependencies (insmod loads one file);
# sets DEB_EXTRA_KOS.
debian_extra_modules() {
    local path ko
    DEB_EXTRA_KOS=()
    for path in "${DEB_MODULE_PATHS[@]}"; do
        DEB_EXTRA_KOS+=("$DEB_DIR/$(basename "$path")")
    done
    for ko in "${DEB_EXTRA_KOS[@]}"; do
        [ -f "$ko" ] || break
    done
    [ -f "$ko" ] && return
    log "fetching linux-modules-$DEB_ABI for ${DEB_MODULE_PATHS[*]##*/} (the netstack suite's TAP and netem)"
    local deb
    deb=$(apt_fetch_deb "$DEBIAN_KERNEL_SUITE" "linux-modules-$DEB_ABI")
    rm -rf "$DEB_DIR/unpack"
    mkdir -p "$DEB_DIR/unpack"
    local patterns=()
    for path in "${DEB_MODULE_PATHS[@]}"; do
        patterns+=("*/$path*")
    done
    dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$DEB_DIR/unpack" --wildcards "${patterns[@]}"
    rm -f "$deb"
    # Made plain beside the others first (modinfo wants a name ending in
    # .ko), then moved into place.
    local found plain out depends
    mkdir -p "$DEB_DIR/unpack/plain"
    for path in "${DEB_MODULE_PATHS[@]}"; do
        found=$(find "$DEB_DIR/unpack" -path "*/$path*" -type f | head -n1)
        [ -n "$found" ] || die "no $path* in linux-modules-$DEB_ABI" "dpkg-deb -c it"
        plain="$DEB_DIR/unpack/plain/$(basename "$path")"
        case $found in
            *.xz) xz -dc "$found" >"$plain" ;;
            *.zst) zstd -dcq "$found" >"$plain" ;;
            *) cp "$found" "$plain" ;;
        esac
        depends=$(modinfo -F depends "$plain")
        [ -z "$depends" ] || die "$path of $DEB_ABI needs $depends, which the guest does not load" \
            "add them to DEB_MODULE_PATHS in qemu/lib/debian.sh, in load order"
    done
    for path in "${DEB_MODULE_PATHS[@]}"; do
        out="$DEB_DIR/$(basename "$path")"
        mv "$DEB_DIR/unpack/plain/$(basename "$path")" "$out"
    done
    rm -rf "$DEB_DIR/unpack"
}

# debian_module: vpoll.ko from kmod/ for Debian's kernel, built the way a
# user builds it (kmod/build-for-debian, in the chroot); sets DEB_KO. Needs
# debian_fetch and debian_chroot first.
debian_module() {
    step "module (Debian kernel)"
    [ "${DEB_ABI%%+*}" = "$KVERSION" ] ||
        die "Debian's kernel $DEB_ABI is not of the source here ($KVERSION)" \
            "use the newest series (--kernel debian); qemu/vm test builds the others through DKMS"
    DEB_KO="$DEB_DIR/vpoll.ko"
    local key
    key=$(hash_of "$DEB_ABI" "$REPO/Kbuild" "$REPO"/kmod/*)
    if [ -f "$DEB_KO" ] && [ "$(cat "$DEB_KO.key" 2>/dev/null)" = "$key" ]; then
        log "reusing vpoll.ko for $DEB_ABI (kmod/ unchanged)"
        return
    fi
    # What kmod/build-for-debian finds on a Debian system, placed in the chroot:
    # the headers package's .config and Module.symvers, and the same-version
    # source (hard-linked, the pristine tree).
    mkdir -p "$DEB_CHROOT/build/headers"
    cp "$DEB_DIR/config" "$DEB_CHROOT/build/headers/.config"
    cp "$DEB_DIR/Module.symvers" "$DEB_CHROOT/build/headers/Module.symvers"
    local src="/build/src-$KVERSION" cache="/build/cache-$DEB_ABI" old
    for old in "$DEB_CHROOT"/build/src-* "$DEB_CHROOT"/build/cache-*; do
        [ "$old" = "$DEB_CHROOT$src" ] || [ "$old" = "$DEB_CHROOT$cache" ] || rm -rf "$old"
    done
    [ -f "$DEB_CHROOT$src/Makefile" ] || cp -al "$KSRC" "$DEB_CHROOT$src"
    rm -rf "$DEB_CHROOT/build/vpoll"
    mkdir -p "$DEB_CHROOT/build/vpoll"
    cp -r "$REPO/Kbuild" "$REPO/kmod" "$DEB_CHROOT/build/vpoll/"
    [ -f "$DEB_CHROOT$cache/kbuild/.vpoll-prepared" ] ||
        log "the first build prepares a tree for $DEB_ABI (olddefconfig modules_prepare; about 2 minutes)"
    log "kmod/build-for-debian $DEB_ABI (in the $DEBIAN_RELEASE chroot; log: $CACHE/logs/debian-module.log)"
    run_logged "$CACHE/logs/debian-module.log" in_chroot env VPOLL_HEADERS=/build/headers \
        VPOLL_SOURCE="$src" VPOLL_BUILD_CACHE="$cache" VPOLL_OUT=/build/out \
        sh /build/vpoll/kmod/build-for-debian "$DEB_ABI"
    if grep -q warning "$CACHE/logs/debian-module.log"; then
        grep -A5 warning "$CACHE/logs/debian-module.log" >&2
        die "the module build for $DEB_ABI has warnings" "fix them; the log is $CACHE/logs/debian-module.log"
    fi
    cp "$DEB_CHROOT/build/out/kmod/vpoll.ko" "$DEB_KO"
    echo "$key" >"$DEB_KO.key"
    log "vpoll.ko for $DEB_ABI: $(stat -c %s "$DEB_KO") bytes, vermagic $(modinfo -F vermagic "$DEB_KO")"
}
