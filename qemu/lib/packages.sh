# SPDX-License-Identifier: MIT OR Apache-2.0
# vpoll as Debian software: our .debs built with Debian's tools in the trixie
# chroot (packaging/build-debs), installed there beside Debian's headers and
# source of every current kernel, DKMS building the module for each; then
# checked (lintian, the files, a C client of Debian's libvpoll0 on ours, the
# replacement of Debian's C packages) and purged, which must leave nothing
# behind. The modules DKMS installed are what
# the guest suite loads on Debian's images (debian_dkms_tree).

# Our binary packages, in the order apt-get is given them.
OUR_PACKAGES=(vpoll-rs-dkms libvpoll0-rs libvpoll-rs-dev vpollctl)

# Debian's own packages of the C vpoll that ours replace (debian/control):
# the library, installed before ours as an upgrading user has it; and the C
# module, which apt must never let sit beside ours (checked by its solver).
DEBIAN_C_LIBRARY=(libvpoll0 libvpoll-dev)
DEBIAN_C_PACKAGES=(vpoll-dkms "${DEBIAN_C_LIBRARY[@]}")

# What building, checking and installing them takes in the chroot, beyond
# what building the module takes (DEBIAN_CHROOT_PACKAGES; the demo needs no more).
PACKAGING_TOOLS=(build-essential fakeroot debhelper dh-dkms dkms cargo lintian pkgconf)

# packaging_tools: PACKAGING_TOOLS in the chroot, once per list.
packaging_tools() {
    local want stamp="$DEB_CHROOT/.vpoll-packaging-tools"
    want=$(hash_of "${PACKAGING_TOOLS[*]}")
    [ "$(cat "$stamp" 2>/dev/null)" = "$want" ] && return
    log "apt in the chroot: ${PACKAGING_TOOLS[*]}"
    run_logged "$CACHE/logs/packages-tools.log" in_chroot \
        env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${PACKAGING_TOOLS[@]}"
    echo "$want" >"$stamp"
}

# in_chroot_sh SCRIPT: a shell script in the chroot, failing on its first error.
in_chroot_sh() {
    in_chroot env DEBIAN_FRONTEND=noninteractive sh -euc "$1"
}

# dkms_installed ABI: whether DKMS in the chroot has vpoll installed for ABI.
# dkms itself failing is a failure, not a "no".
dkms_installed() {
    local out
    out=$(in_chroot dkms status -m vpoll -k "$1") ||
        die "dkms status failed in the chroot (for $1)" "run: chroot $DEB_CHROOT dkms status"
    grep -q ': installed' <<<"$out"
}

# packages_build: stage the repository with its crates vendored (on the host,
# from cargo's cache), then dpkg-buildpackage in the chroot; sets PKG_DIR to
# the directory holding the .debs. Reused while the staged files are unchanged.
packages_build() {
    step "Debian packages"
    packaging_tools
    local stage="$DEB_CHROOT/build/vpoll-rs"
    run_logged "$CACHE/logs/packages-stage.log" "$REPO/packaging/build-debs" --stage "$stage"
    local key
    key=$(cd "$stage" && find . -path ./vendor -prune -o -type f -print0 | sort -z |
        xargs -0 sha256sum | sha256sum | cut -c1-16)
    PKG_DIR="$CACHE/packages/$key"
    if [ -f "$PKG_DIR/.done" ]; then
        log "reusing the packages in $PKG_DIR (the sources are unchanged)"
        return
    fi
    log "packaging/build-debs: dpkg-buildpackage in the $DEBIAN_RELEASE chroot with Debian's cargo (about 2 minutes; log: $CACHE/logs/packages-build.log)"
    rm -rf "$DEB_CHROOT/build/debs"
    run_logged "$CACHE/logs/packages-build.log" in_chroot sh /build/vpoll-rs/packaging/build-debs \
        --build /build/vpoll-rs /build/debs
    rm -rf "$CACHE/packages"
    mkdir -p "$PKG_DIR"
    local p
    for p in "${OUR_PACKAGES[@]}"; do
        compgen -G "$DEB_CHROOT/build/debs/${p}_*.deb" >/dev/null ||
            die "dpkg-buildpackage made no $p package" "read $CACHE/logs/packages-build.log"
    done
    cp "$DEB_CHROOT"/build/debs/* "$PKG_DIR/"
    touch "$PKG_DIR/.done"
    log "packages: $(cd "$PKG_DIR" && echo *.deb)"
}

# packages_lintian: lintian on our packages; any error or warning it does not
# have an explained override for (debian/*.lintian-overrides) fails the run.
packages_lintian() {
    log "lintian on the packages"
    rm -rf "$DEB_CHROOT/build/debs-lintian"
    cp -r "$PKG_DIR" "$DEB_CHROOT/build/debs-lintian"
    run_logged "$CACHE/logs/packages-lintian.log" in_chroot sh -c \
        'cd /build/debs-lintian && lintian --fail-on error,warning --pedantic --info *.changes'
    local tags
    tags=$(grep -cE '^[EW]: ' "$CACHE/logs/packages-lintian.log" || true)
    [ "$tags" -eq 0 ] || die "lintian reported $tags error(s) or warning(s)" "read $CACHE/logs/packages-lintian.log"
}

# chroot_files: every path in the chroot that installing a package could
# leave behind (not dpkg's and apt's own records, logs or caches).
chroot_files() {
    in_chroot find / -xdev \( -path /proc -o -path /build -o -path /tmp -o -path /var/lib/dpkg \
        -o -path /var/lib/apt -o -path /var/cache/apt -o -path /var/cache/debconf -o -path /var/cache/man \
        -o -path /var/log -o -path /var/cache/ldconfig -o -path /etc/ld.so.cache \) -prune -o -print | sort
}

# chroot_packages: the packages installed in the chroot (or with their
# configuration left), sorted.
chroot_packages() {
    in_chroot dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' |
        awk '$1 != "un" && $1 != "pn" { print $2 }' | sort
}

# packages_dkms: install our packages in the chroot next to the headers of
# every kernel in DEBIAN_ABIS and of the release's own kernel (built without
# Rust), as the README has it on the newest kernel: with that kernel's source
# alone. DKMS must build for it and skip the others, saying why; the older
# series' sources then come, and the package's trigger builds for them. Check
# what DKMS built and what the packages hold, then purge them and check that
# nothing is left. The modules DKMS installed are kept in
# $CACHE/debian/ABI/dkms-root (debian_dkms_tree).
packages_dkms() {
    step "Debian packages: install, DKMS, purge"
    run_logged "$CACHE/logs/packages-kernels.log" in_chroot apt-get update
    # The release's own kernel (trixie: 6.12), which Debian builds without Rust.
    local norust
    norust=$(in_chroot apt-cache show "linux-headers-amd64/$DEBIAN_RELEASE" |
        sed -n 's/^Depends: linux-headers-\([^ ,]*-amd64\).*/\1/p' | head -n1)
    [ -n "$norust" ] || die "no linux-headers-amd64 in $DEBIAN_RELEASE to find its own kernel" \
        "read: chroot $DEB_CHROOT apt-cache show linux-headers-amd64/$DEBIAN_RELEASE"
    local key stamp="$CACHE/debian/dkms.done"
    key=$(hash_of "$PKG_DIR" "${DEBIAN_ABIS[*]}" "$norust")
    if [ "$(cat "$stamp" 2>/dev/null)" = "$key" ]; then
        log "reusing the modules DKMS built for ${DEBIAN_ABIS[*]} (packages and kernels unchanged)"
        return
    fi
    rm -f "$stamp"
    local abi series headers=() sources=()
    for abi in "${DEBIAN_ABIS[@]}"; do
        series=${abi%%+*}
        headers+=("linux-headers-$abi") sources+=("linux-source-${series%.*}")
    done
    local newest_source=${sources[-1]} older_sources=("${sources[@]:0:${#sources[@]}-1}")
    headers+=("linux-headers-$norust")
    # Shared with the steps below (bash's locals are visible to callees).
    local prepared="$CACHE/debian/dkms-prepared" debs=() install_log="$CACHE/logs/packages-install.log"
    local before="$CACHE/logs/packages-files-before.txt" after="$CACHE/logs/packages-files-after.txt"
    local installed_before="$CACHE/logs/packages-installed-before.txt"
    dkms_chroot_prepare
    dkms_install
    dkms_verify
    packages_check
    dkms_purge
    echo "$key" >"$stamp"
}

# dkms_chroot_prepare: the chroot as a user of these kernels has it, before
# our packages: their headers, build-for-debian's prepared trees, our .debs
# staged.
dkms_chroot_prepare() {
    # build-for-debian's prepared trees (one per kernel, minutes each) outlive
    # a purge only in the cache here, so that the next run reuses them.
    if [ -d "$DEB_CHROOT/var/cache/vpoll" ]; then
        rm -rf "$prepared"
        mkdir -p "$prepared"
        cp -al "$DEB_CHROOT/var/cache/vpoll/." "$prepared/"
    fi
    log "apt in the chroot: ${headers[*]} (the kernels' headers, as a user has them)"
    # Headers of kernels Debian no longer ships would make DKMS build for them
    # too; the sources come with our packages below.
    mkdir -p "$DEB_CHROOT/build"
    cp "$QEMU_DIR/chroot/kernel-headers" "$DEB_CHROOT/build/kernel-headers"
    run_logged "$CACHE/logs/packages-kernels.log" in_chroot /build/kernel-headers \
        "${headers[*]}" "${OUR_PACKAGES[*]}" "${DEBIAN_ABIS[*]}"
    ! grep -q '^CONFIG_RUST=y' "$DEB_CHROOT/usr/src/linux-headers-$norust/.config" ||
        die "$DEBIAN_RELEASE's own kernel $norust is built with Rust now, so it no longer shows a kernel DKMS must skip" \
            "choose another kernel without CONFIG_RUST for that check in packages_dkms (qemu/lib/packages.sh)"
    chroot_files >"$before"
    if [ -d "$prepared" ]; then
        mkdir -p "$DEB_CHROOT/var/cache/vpoll"
        cp -al "$prepared/." "$DEB_CHROOT/var/cache/vpoll/"
    fi
    rm -rf "$DEB_CHROOT/build/debs-install"
    mkdir -p "$DEB_CHROOT/build/debs-install"
    local p
    for p in "${OUR_PACKAGES[@]}"; do
        cp "$PKG_DIR/${p}"_*.deb "$DEB_CHROOT/build/debs-install/"
        debs+=("./$(basename "$PKG_DIR/${p}"_*.deb)")
    done
}

# dkms_install: the README's install, as a user upgrading from Debian's C
# library does it; DKMS must build for the newest kernel and skip the
# others, then build for each older one when its source arrives.
dkms_install() {
    local abi series
    # A user upgrading from Debian's C library has it installed: ours must
    # take its place in the same apt-get install.
    chroot_packages >"$installed_before"
    log "apt-get install ${DEBIAN_C_LIBRARY[*]} (Debian's C library, which ours replaces)"
    run_logged "$CACHE/logs/packages-install.log" in_chroot_sh \
        "apt-get install -y --no-install-recommends ${DEBIAN_C_LIBRARY[*]}"
    # The README's command on the newest kernel: our packages and its source.
    log "apt-get install ${debs[*]} $newest_source: DKMS builds vpoll.ko for ${DEBIAN_ABIS[-1]} (about 2 minutes the first time; log: $install_log)"
    run_logged "$install_log" in_chroot_sh \
        "cd /build/debs-install && apt-get install -y --no-install-recommends ${debs[*]} $newest_source"
    packages_skipped "$norust" "it is built without CONFIG_RUST"
    for abi in "${DEBIAN_ABIS[@]:0:${#DEBIAN_ABIS[@]}-1}"; do
        series=${abi%%+*}
        packages_skipped "$abi" "it needs linux-source-${series%.*} of version $series"
    done
    # Each older series' source, installed later: the package's trigger on
    # /usr/src builds for its kernel then.
    if [ ${#older_sources[@]} -gt 0 ]; then
        log "apt-get install ${older_sources[*]}: the package's trigger builds vpoll.ko for ${DEBIAN_ABIS[*]:0:${#DEBIAN_ABIS[@]}-1} (log: $CACHE/logs/packages-install-sources.log)"
        run_logged "$CACHE/logs/packages-install-sources.log" in_chroot_sh \
            "apt-get install -y --no-install-recommends ${older_sources[*]}"
    fi
}

# dkms_verify: DKMS built and installed for every kernel with Rust and none
# without; our packages replaced Debian's; the modules are kept for the guests.
dkms_verify() {
    local abi
    ! dkms_installed "$norust" ||
        die "DKMS installed vpoll for $norust, a kernel without Rust" "read $install_log and dkms.conf"
    # dpkg-query exits 1 for a package it never heard of (gone, too); any
    # other failure is the query's, and proves nothing.
    local gone status_out query_err="$CACHE/logs/packages-dpkg-query.err" rc=0
    status_out=$(in_chroot dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' "${DEBIAN_C_LIBRARY[@]}" 2>"$query_err") ||
        rc=$?
    if [ "$rc" -ne 0 ] && { [ "$rc" -ne 1 ] || grep -qv 'no packages found matching' "$query_err"; }; then
        die "dpkg-query failed in the chroot (exit $rc)" "read $query_err"
    fi
    gone=$(awk '$1 != "un" && $1 != "pn" { print $2 }' <<<"$status_out")
    [ -z "$gone" ] || die "installing our packages left Debian's $gone installed" \
        "check Conflicts/Replaces in debian/control; read $install_log"
    log "our packages replaced Debian's ${DEBIAN_C_LIBRARY[*]}"
    for abi in "${DEBIAN_ABIS[@]}"; do
        dkms_installed "$abi" ||
            die "DKMS did not install vpoll for $abi" "read $install_log and $CACHE/logs/packages-install-sources.log"
        [ -f "$DEB_CHROOT/lib/modules/$abi/updates/dkms/vpoll.ko" ] ||
            die "no /lib/modules/$abi/updates/dkms/vpoll.ko after the install" "read $install_log"
        grep -q '^updates/dkms/vpoll.ko:' "$DEB_CHROOT/lib/modules/$abi/modules.dep" ||
            die "depmod did not list vpoll.ko for $abi" "read $install_log"
        rm -rf "$CACHE/debian/$abi/dkms-root"
        mkdir -p "$CACHE/debian/$abi/dkms-root/lib/modules/$abi/updates/dkms"
        cp "$DEB_CHROOT/lib/modules/$abi"/modules.* "$CACHE/debian/$abi/dkms-root/lib/modules/$abi/"
        cp "$DEB_CHROOT/lib/modules/$abi/updates/dkms/vpoll.ko" "$CACHE/debian/$abi/dkms-root/lib/modules/$abi/updates/dkms/"
        log "DKMS installed /lib/modules/$abi/updates/dkms/vpoll.ko ($(modinfo -F vermagic "$DEB_CHROOT/lib/modules/$abi/updates/dkms/vpoll.ko"))"
    done
}

# dkms_purge: purge everything and check that nothing of the packages is left.
dkms_purge() {
    rm -rf "$prepared"
    mkdir -p "$prepared"
    cp -al "$DEB_CHROOT/var/cache/vpoll/." "$prepared/"
    log "apt-get purge ${OUR_PACKAGES[*]} ${sources[*]}"
    run_logged "$CACHE/logs/packages-purge.log" in_chroot_sh "apt-get purge -y ${OUR_PACKAGES[*]} ${sources[*]}"
    # What Debian's C library pulled in (libfduserdata0) is not ours to
    # leave behind either; a user's apt-get autoremove would take it.
    local extra
    extra=$(chroot_packages | comm -13 "$installed_before" -)
    if [ -n "$extra" ]; then
        log "apt-get purge $(echo $extra) (what Debian's C library brought)"
        run_logged "$CACHE/logs/packages-purge.log" in_chroot_sh "apt-get purge -y $(echo $extra)"
    fi
    chroot_files >"$after"
    # Two changes are DKMS's own, not the packages': it signs what it builds
    # with a key it makes once (/var/lib/dkms/mok.*, for the user to enroll,
    # kept by design); and removing the last module of a kernel whose modules
    # are not installed (here: headers only, so ours was the only one) makes
    # it delete that kernel's depmod files, which a real kernel never meets.
    local left
    left=$(diff "$before" "$after" | grep -E '^[<>]' |
        grep -vE '^> /var/lib/dkms(/mok\.(key|pub))?$|^< /usr/lib/modules/[^/]+/modules\.[a-z.]+$' || true)
    [ -z "$left" ] || die "purging the packages left or removed: $(echo $left | head -c 600)" \
        "see what the maintainer scripts do: diff $before $after"
    log "purged: nothing of the packages is left in the chroot"
}

# packages_skipped ABI WHY: the install went on without a module for ABI, and
# said why (dkms.conf's message) in the install log.
packages_skipped() {
    local install_log="$CACHE/logs/packages-install.log"
    ! dkms_installed "$1" ||
        die "DKMS installed vpoll for $1, which it should have skipped ($2)" "read $install_log and dkms.conf"
    grep -qF "vpoll: not building for $1: $2" "$install_log" ||
        die "the install did not say why it skipped $1 (\"vpoll: not building for $1: $2\")" \
            "read $install_log and dkms.conf"
    log "skipped $1 with a message: $(grep -m1 -F "vpoll: not building for $1:" "$install_log" | sed 's/^.*: not building for [^:]*: //')"
}

# packages_check: with our packages installed in the chroot, what a Debian
# user relies on is there and works.
packages_check() {
    log "checking the installed packages"
    # Programs linked against Debian's libvpoll0 load ours: the C client built
    # on the host against Debian's libvpoll (guest_programs), run in the chroot.
    cp "$GUEST_DIR/vpoll_client" "$DEB_CHROOT/build/vpoll_client"
    cp "$REPO/capi/tests/manpage_example.c" "$DEB_CHROOT/build/manpage_example.c"
    cp "$REPO/capi/man/example" "$DEB_CHROOT/build/man-example"
    run_logged "$CACHE/logs/packages-check.log" in_chroot_sh '
        set -x
        vpollctl --version
        test -s /usr/share/man/man1/vpollctl.1.gz
        test -s /usr/share/bash-completion/completions/vpollctl
        test -s /usr/share/zsh/vendor-completions/_vpollctl
        test -s /usr/share/fish/vendor_completions.d/vpollctl.fish
        test "$(pkg-config --modversion vpoll)" = "$(dpkg-query -W -f="\${Version}" libvpoll-rs-dev)"
        # The -dev package builds a C program: the header, the .pc, the link.
        cc -Wall -Werror -o /build/manpage_example /build/manpage_example.c $(pkg-config --cflags --libs vpoll)
        /build/manpage_example
        # vpoll(3) and its links; its example, from the installed page, prints
        # the output the page shows.
        for page in vpoll vpoll_create vpoll_ctl vpoll_ctl_batch vpoll_close; do
            test -s /usr/share/man/man3/$page.3.gz
        done
        zcat /usr/share/man/man3/vpoll.3.gz >/build/vpoll.3
        sh /build/man-example program /build/vpoll.3 >/build/vpoll_example.c
        sh /build/man-example output /build/vpoll.3 >/build/vpoll_example.want
        cc -Wall -Werror -pthread -o /build/vpoll_example /build/vpoll_example.c $(pkg-config --cflags --libs vpoll)
        /build/vpoll_example >/build/vpoll_example.got
        cmp /build/vpoll_example.want /build/vpoll_example.got
        dpkg-query -W -f="\${Provides}\n" libvpoll0-rs | grep -q "libvpoll0 (= "
        lib=$(ldd /build/vpoll_client | sed -n "s/.*libvpoll.so.0 => \([^ ]*\).*/\1/p")
        dpkg -S "$(readlink -f "$lib")" | grep -q "^libvpoll0-rs:"
        /build/vpoll_client'
    # Never both: asked for Debian's packages, apt's solver removes ours. A
    # simulation (apt-get -s), so that Debian's C module is not built here.
    local plan p
    plan=$(in_chroot apt-get install -s --no-install-recommends "${DEBIAN_C_PACKAGES[@]}" 2>&1) ||
        die "apt-get -s install ${DEBIAN_C_PACKAGES[*]} failed: $(echo "$plan" | tail -3)" \
            "check Conflicts/Replaces in debian/control"
    echo "$plan" >"$CACHE/logs/packages-conflicts.log"
    for p in vpoll-rs-dkms libvpoll0-rs libvpoll-rs-dev; do
        grep -q "^Remv $p " <<<"$plan" ||
            die "apt would install Debian's ${DEBIAN_C_PACKAGES[*]} beside our $p" \
                "check Conflicts in debian/control; read $CACHE/logs/packages-conflicts.log"
    done
    for p in "${DEBIAN_C_PACKAGES[@]}"; do
        grep -q "^Inst $p " <<<"$plan" ||
            die "apt's plan for Debian's packages does not install $p" "read $CACHE/logs/packages-conflicts.log"
    done
    log "apt never keeps ours and Debian's ${DEBIAN_C_PACKAGES[*]} together (checked with its solver)"
}

# debian_dkms_tree ABI: the module as DKMS installed it for ABI, for the
# guest: GUEST_MODULES_ROOT (laid over the guest's root: /lib/modules/ABI
# with modules.dep, so init loads it with modprobe) and KO.
debian_dkms_tree() {
    GUEST_MODULES_ROOT="$CACHE/debian/$1/dkms-root"
    KO="$GUEST_MODULES_ROOT/lib/modules/$1/updates/dkms/vpoll.ko"
    [ -f "$KO" ] || die "no module DKMS built for $1 in the cache" \
        "qemu/vm test builds and installs the packages, whose DKMS builds it"
}
