# SPDX-License-Identifier: MIT OR Apache-2.0
# vpoll on Debian's own kernel: the newest trixie-backports build of our kernel
# series, vpoll.ko built from the unchanged kmod/ against a tree prepared with
# Debian's config, Module.symvers and compilers (in a trixie chroot), and
# Debian's unmodified kernel image booted with our initramfs.

# What the chroot needs to prepare a kernel tree and build a Rust module.
DEBIAN_CHROOT_PACKAGES=(
    rustc rust-src bindgen libclang-dev clang gcc-14 make flex bison bc
    libelf-dev libssl-dev dwarves python3 cpio kmod xz-utils
)

# apt_cache_oneoff SUITE ARGS...: apt-cache against apt_oneoff's lists.
apt_cache_oneoff() {
    local dir="$CACHE/apt/$1"
    shift
    apt-cache -o Dir::Etc::SourceList="$dir/sources.list" -o Dir::Etc::SourceParts=- \
        -o Dir::State::Lists="$dir/lists" -o Dir::Cache="$dir/cache" "$@"
}

# in_chroot CMD...: CMD in the chroot, with a /proc (objtool reads it) that
# lives only in a mount namespace of its own, so nothing stays mounted.
in_chroot() {
    unshare --mount sh -c 'mount -t proc proc "$0/proc" && exec chroot "$0" "$@"' "$DEB_CHROOT" "$@"
}

# debian_version: the newest Debian build of our series (linux-binary-*),
# which must be the version of the source we build from; sets DEB_ABI
# (e.g. 7.2.12+deb13-amd64) and DEB_DIR.
debian_version() {
    # A build fetched earlier for this source version stays the one we test,
    # even once the archive has moved on (and dropped it).
    local cached
    cached=$(find "$CACHE/debian" -mindepth 1 -maxdepth 1 -type d -name "$KVERSION+*-amd64" 2>/dev/null |
        sort -V | tail -n1 || true)
    if [ -n "$cached" ] && [ -f "$cached/vmlinuz" ]; then
        DEB_DIR=$cached DEB_ABI=$(basename "$cached")
        log "Debian kernel $DEB_ABI (in the cache, for the source $KVERSION)"
        return
    fi
    run_logged "$CACHE/logs/apt-$DEBIAN_KERNEL_SUITE-update.log" apt_oneoff "$DEBIAN_KERNEL_SUITE" update
    DEB_ABI=$(apt_cache_oneoff "$DEBIAN_KERNEL_SUITE" search --names-only \
        "^linux-binary-${KERNEL_SERIES//./\\.}\.[0-9]+\+deb[0-9]+-amd64$" |
        awk '{ sub(/^linux-binary-/, "", $1); print $1 }' | sort -V | tail -n1)
    [ -n "$DEB_ABI" ] ||
        die "Debian's $DEBIAN_KERNEL_SUITE has no linux-binary-$KERNEL_SERIES.*-amd64 any more" \
            "set KERNEL_SERIES in qemu/lib/versions.sh to a series the archive still has"
    local deb_kver=${DEB_ABI%%+*}
    [ "$deb_kver" = "$KVERSION" ] ||
        die "Debian's newest $KERNEL_SERIES kernel is $deb_kver but the source here is $KVERSION" \
            "refetch the source (rm -rf $CACHE/src) so that both are the archive's current build"
    DEB_DIR="$CACHE/debian/$DEB_ABI"
    log "Debian's current $KERNEL_SERIES kernel: $DEB_ABI"
}

# debian_chroot: a trixie chroot with Debian's compilers; sets DEB_CHROOT.
debian_chroot() {
    DEB_CHROOT="$CACHE/debian/chroot-$DEBIAN_RELEASE"
    local want
    want=$(hash_of "${DEBIAN_CHROOT_PACKAGES[*]}")
    [ "$(cat "$DEB_CHROOT.done" 2>/dev/null)" = "$want" ] && return
    command -v debootstrap >/dev/null || die "debootstrap is missing" "apt-get install debootstrap"
    rm -rf "$DEB_CHROOT" "$DEB_CHROOT.done"
    log "debootstrap: a minimal $DEBIAN_RELEASE chroot (about half a minute)"
    run_logged "$CACHE/logs/debootstrap.log" debootstrap --variant=minbase \
        --keyring=/usr/share/keyrings/debian-archive-keyring.gpg \
        "$DEBIAN_RELEASE" "$DEB_CHROOT" http://deb.debian.org/debian
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

# debian_fetch: Debian's image, its tun.ko (debian_tun), and the config and
# Module.symvers of its headers package; sets DEB_ABI, DEB_DIR, DEB_VMLINUZ
# and DEB_TUN.
debian_fetch() {
    debian_version
    DEB_VMLINUZ="$DEB_DIR/vmlinuz"
    DEB_TUN="$DEB_DIR/tun.ko"
    [ -f "$DEB_VMLINUZ" ] && debian_tun && return
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
    debian_tun
}

# debian_tun: Debian builds TUN as a module (in linux-modules-ABI, compressed);
# the netstack suite needs it, and busybox's insmod wants it plain.
debian_tun() {
    [ -f "$DEB_TUN" ] && return
    log "fetching linux-modules-$DEB_ABI for its tun.ko (the netstack suite's TAP interface)"
    local deb
    deb=$(apt_fetch_deb "$DEBIAN_KERNEL_SUITE" "linux-modules-$DEB_ABI")
    rm -rf "$DEB_DIR/unpack"
    mkdir -p "$DEB_DIR/unpack"
    dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$DEB_DIR/unpack" --wildcards '*/drivers/net/tun.ko*'
    rm -f "$deb"
    local tun
    tun=$(find "$DEB_DIR/unpack" -path '*/drivers/net/tun.ko*' -type f | head -n1)
    [ -n "$tun" ] || die "no drivers/net/tun.ko* in linux-modules-$DEB_ABI" "dpkg-deb -c it"
    case $tun in
        *.xz) xz -dc "$tun" >"$DEB_TUN.tmp" ;;
        *.zst) zstd -dcq "$tun" >"$DEB_TUN.tmp" ;;
        *) cp "$tun" "$DEB_TUN.tmp" ;;
    esac
    mv "$DEB_TUN.tmp" "$DEB_TUN"
    rm -rf "$DEB_DIR/unpack"
}

# debian_module: vpoll.ko from kmod/ for Debian's kernel, built the way a
# user builds it (kmod/build-for-debian, in the chroot); sets DEB_KO. Needs
# debian_fetch and debian_chroot first.
debian_module() {
    step "module (Debian kernel)"
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
    [ -f "$DEB_CHROOT/build/src/Makefile" ] || cp -al "$KSRC" "$DEB_CHROOT/build/src"
    rm -rf "$DEB_CHROOT/build/vpoll"
    mkdir -p "$DEB_CHROOT/build/vpoll"
    cp -r "$REPO/Kbuild" "$REPO/kmod" "$DEB_CHROOT/build/vpoll/"
    [ -f "$DEB_CHROOT/build/cache/kbuild/.vpoll-prepared" ] ||
        log "the first build prepares a tree for $DEB_ABI (olddefconfig modules_prepare; about 2 minutes)"
    log "kmod/build-for-debian $DEB_ABI (in the $DEBIAN_RELEASE chroot; log: $CACHE/logs/debian-module.log)"
    run_logged "$CACHE/logs/debian-module.log" in_chroot env VPOLL_HEADERS=/build/headers \
        VPOLL_SOURCE=/build/src VPOLL_BUILD_CACHE=/build/cache VPOLL_OUT=/build/out \
        sh /build/vpoll/kmod/build-for-debian "$DEB_ABI"
    if grep -q warning "$CACHE/logs/debian-module.log"; then
        grep -A5 warning "$CACHE/logs/debian-module.log" >&2
        die "the module build for $DEB_ABI has warnings" "fix them; the log is $CACHE/logs/debian-module.log"
    fi
    cp "$DEB_CHROOT/build/out/kmod/vpoll.ko" "$DEB_KO"
    echo "$key" >"$DEB_KO.key"
    log "vpoll.ko for $DEB_ABI: $(stat -c %s "$DEB_KO") bytes, vermagic $(modinfo -F vermagic "$DEB_KO")"
}
